//! `close()` hands back every queued packet, in order, in one `Unsent` event before
//! `close`; with an empty queue there is no `Unsent`.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, TunnelStatus};

#[test]
fn close_while_connecting_reports_queued_packets() {
    let mut h = TunnelHarness::new();
    h.emit("a");
    h.open();
    let conn = h.answer_url();
    h.emit("b");
    h.close();
    assert_eq!(h.take(), vec![close_socket(conn), unsent(&["a", "b"]), event(Event::Close)]);
    assert_eq!(h.status(), TunnelStatus::Closed);
    assert_eq!(h.tunnel.queued(), 0);
    assert_eq!(h.tunnel.poll_timeout(), None);
}

#[test]
fn close_while_waiting_to_reconnect_reports_queued_packets() {
    let mut h = TunnelHarness::new();
    let c1 = h.open_active();
    h.lose_connection(c1);
    h.emit("a");
    h.close();
    assert_eq!(h.take(), vec![unsent(&["a"]), event(Event::Close)]);
    assert_eq!(h.tunnel.poll_timeout(), None, "the reconnect try is cancelled");
    h.advance(60_000);
    assert_eq!(h.take(), vec![]);
}

#[test]
fn close_with_empty_queue_has_no_unsent() {
    let mut h = TunnelHarness::new();
    h.open();
    let attempt = h.expect_request_url();
    h.close();
    assert_eq!(h.take(), vec![event(Event::Close)]);
    h.url_ok(attempt);
    assert_eq!(h.take(), vec![], "the late URL answer is stale");
}
