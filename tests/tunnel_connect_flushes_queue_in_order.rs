//! Packets emitted before the socket opens (even before `open()`) are sent in order,
//! all of them before the `connect` event; later packets go out at once.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, TunnelStatus};

#[test]
fn queued_packets_flush_in_order_before_connect() {
    let mut h = TunnelHarness::new();
    h.emit("a");
    assert_eq!(h.take(), vec![], "emit while closed only queues");
    h.open();
    let attempt = h.expect_request_url();
    h.emit("b");
    h.url_ok(attempt);
    let conn = h.expect_connect(attempt);
    h.emit("c");
    assert_eq!(h.tunnel.queued(), 3);
    assert_eq!(h.status(), TunnelStatus::Connecting);

    h.socket_open(conn);
    assert_eq!(h.take(), vec![send(conn, "a"), send(conn, "b"), send(conn, "c"), event(Event::Connect)]);
    assert_eq!(h.tunnel.queued(), 0);
    assert_eq!(h.status(), TunnelStatus::Active);

    h.emit("d");
    assert_eq!(h.take(), vec![send(conn, "d")]);
}
