//! `poll_timeout` is the earliest armed deadline (none while closed or waiting on the
//! URL request; a socket has an open deadline), and `handle_timeout` before a deadline does nothing.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::TunnelStatus;

#[test]
fn deadlines_per_status() {
    let mut h = TunnelHarness::new();
    assert_eq!(h.tunnel.poll_timeout(), None);
    h.open();
    let a = h.expect_request_url();
    assert_eq!(h.tunnel.poll_timeout(), None, "waiting on the URL request");
    h.url_ok(a);
    let conn = h.expect_connect(a);
    assert_eq!(h.tunnel.poll_timeout(), Some(15_000), "the socket must open by the open deadline");
    h.advance(200);
    h.socket_open(conn);
    h.take();
    assert_eq!(h.tunnel.poll_timeout(), Some(200 + PING), "next ping");
    h.advance(PING);
    h.take();
    assert_eq!(h.tunnel.poll_timeout(), Some(200 + 2 * PING), "pong deadline = next ping");
    h.lose_connection(conn);
    assert_eq!(h.tunnel.poll_timeout(), Some(h.now + 1000), "reconnect try");
}

#[test]
fn early_timeouts_are_harmless() {
    let mut h = TunnelHarness::new();
    let conn = h.open_active();
    for t in [0, 1, PING - 1] {
        h.tunnel.handle_timeout(t);
    }
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.tunnel.poll_timeout(), Some(PING));
    h.lose_connection(conn);
    h.tunnel.handle_timeout(h.now + 999);
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.status(), TunnelStatus::Reconnecting);
}
