//! A `close` frame from the server on the current connection closes the tunnel like
//! `close()`: a `close` frame back (as the original answers), the socket closed, `close`.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, TunnelStatus};

#[test]
fn server_close_frame_closes_the_tunnel() {
    let mut h = TunnelHarness::new();
    let conn = h.open_active();
    h.advance(1000);
    h.frame(conn, "close");
    assert_eq!(h.take(), vec![close_frame(conn), close_socket(conn), event(Event::Close)]);
    assert_eq!(h.status(), TunnelStatus::Closed);
    assert_eq!(h.tunnel.poll_timeout(), None);

    h.socket_close(conn);
    h.advance(10 * PING);
    assert_eq!(h.take(), vec![], "no reconnect, no heartbeat");
}

#[test]
fn server_close_frame_with_a_body_closes_too() {
    let mut h = TunnelHarness::new();
    let conn = h.open_active();
    h.frame(conn, "close:bye");
    assert_eq!(h.take(), vec![close_frame(conn), close_socket(conn), event(Event::Close)]);
}
