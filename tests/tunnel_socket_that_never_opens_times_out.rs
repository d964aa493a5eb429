//! A socket that never opens (a `wx.connectSocket` that answers nothing) counts as a
//! failed socket after `open_timeout`: the first connection closes with 3001, a
//! reconnect try counts as failed. No tunnel stays connecting forever.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, TunnelConfig, TunnelError, TunnelStatus};

#[test]
fn first_connection_gives_up_with_3001() {
    let mut h = TunnelHarness::with_config(TunnelConfig { open_timeout: 5_000, ..TunnelConfig::default() });
    h.open();
    let attempt = h.expect_request_url();
    h.url_ok(attempt);
    let conn = h.expect_connect(attempt);
    assert_eq!(h.tunnel.poll_timeout(), Some(5_000));
    h.advance(4_999);
    assert_eq!(h.status(), TunnelStatus::Connecting);
    h.advance(1);
    assert_eq!(h.status(), TunnelStatus::Closed);
    assert_eq!(h.take(), vec![close_socket(conn), error(TunnelError::SocketError, None)]);
}

#[test]
fn a_reconnect_try_whose_socket_never_opens_is_a_failed_try() {
    let mut h = TunnelHarness::with_config(TunnelConfig { open_timeout: 3_000, ..linear(1_000, 2) });
    let conn = h.open_active();
    h.lose_connection(conn);
    h.take();
    h.advance(1_000);
    let attempt = h.expect_request_url();
    h.url_ok(attempt);
    let try1 = h.expect_connect(attempt);
    h.advance(3_000);
    assert_eq!(h.status(), TunnelStatus::Reconnecting);
    assert_eq!(h.take(), vec![close_socket(try1)], "the try's socket is closed, the next try waits");
    h.advance(2_000);
    let attempt = h.expect_request_url();
    h.url_ok(attempt);
    let try2 = h.expect_connect(attempt);
    h.socket_open(try2);
    assert_eq!(h.take(), vec![event(Event::Reconnect)]);
    assert_eq!(h.status(), TunnelStatus::Active);
    // Once open, no open deadline remains: only the heartbeat.
    assert_eq!(h.tunnel.poll_timeout(), Some(h.now + PING));
}
