//! `close()` while active sends a `close` frame, then closes the socket, stops the
//! heartbeat and emits `close`.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, TunnelStatus};

#[test]
fn close_when_active() {
    let mut h = TunnelHarness::new();
    let conn = h.open_active();
    h.advance(PING);
    assert_eq!(h.take(), vec![ping(conn)]);
    h.close();
    assert_eq!(h.take(), vec![close_frame(conn), close_socket(conn), event(Event::Close)]);
    assert_eq!(h.status(), TunnelStatus::Closed);
    assert_eq!(h.tunnel.poll_timeout(), None);
    assert!(!h.tunnel.is_current(conn));
    h.advance(10 * PING);
    assert_eq!(h.take(), vec![], "no heartbeat after close");
}

#[test]
fn close_during_a_reconnect_try_closes_its_socket_only() {
    let mut h = TunnelHarness::new();
    let c1 = h.open_active();
    h.lose_connection(c1);
    h.advance(1000);
    let c2 = h.answer_url();
    h.close();
    assert_eq!(h.take(), vec![close_socket(c2), event(Event::Close)]);
    h.socket_open(c2);
    assert_eq!(h.take(), vec![], "the try's socket opening late is stale");
    assert_eq!(h.status(), TunnelStatus::Closed);
}
