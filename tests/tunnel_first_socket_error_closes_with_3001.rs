//! Bug 2 of the original: a socket error on the first connection left the status
//! CONNECTING. Here the socket is closed, the tunnel is Closed and `error` 3001 follows.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{TunnelError, TunnelStatus};

#[test]
fn first_socket_error_closes_with_3001() {
    let mut h = TunnelHarness::new();
    h.open();
    let conn = h.answer_url();
    h.socket_error(conn, "boom");
    assert_eq!(h.take(), vec![close_socket(conn), error(TunnelError::SocketError, Some("boom"))]);
    assert_eq!(h.status(), TunnelStatus::Closed);
    assert_eq!(h.tunnel.poll_timeout(), None);
    assert!(!h.tunnel.is_current(conn));

    h.open();
    h.expect_request_url();
    assert_eq!(h.status(), TunnelStatus::Connecting);
}

#[test]
fn first_socket_close_closes_with_3001() {
    let mut h = TunnelHarness::new();
    h.open();
    let conn = h.answer_url();
    h.socket_close(conn);
    assert_eq!(h.take(), vec![close_socket(conn), error(TunnelError::SocketError, None)]);
    assert_eq!(h.status(), TunnelStatus::Closed);
}

#[test]
fn queued_packets_are_reported_after_the_error() {
    let mut h = TunnelHarness::new();
    h.emit("a");
    h.open();
    let conn = h.answer_url();
    h.emit("b");
    h.socket_error(conn, "boom");
    assert_eq!(h.take(), vec![close_socket(conn), error(TunnelError::SocketError, Some("boom")), unsent(&["a", "b"]),]);
    assert_eq!(h.tunnel.queued(), 0);
}
