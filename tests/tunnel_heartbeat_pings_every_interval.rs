//! While active, `ping` goes out every interval; a `pong` in time keeps the tunnel up.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::TunnelStatus;

#[test]
fn pings_every_interval_while_pongs_arrive() {
    let mut h = TunnelHarness::new();
    let conn = h.open_active();
    assert_eq!(h.tunnel.poll_timeout(), Some(PING));

    h.advance(PING - 1);
    assert_eq!(h.take(), vec![]);
    h.advance(1);
    assert_eq!(h.take_timed(), vec![(PING, ping(conn))]);

    h.advance(100);
    h.frame(conn, "pong");
    assert_eq!(h.take(), vec![]);
    h.advance(PING - 100);
    assert_eq!(h.take_timed(), vec![(2 * PING, ping(conn))]);

    h.frame(conn, "pong");
    h.advance(PING);
    assert_eq!(h.take_timed(), vec![(3 * PING, ping(conn))]);
    assert_eq!(h.status(), TunnelStatus::Active);
}

#[test]
fn message_ping_and_unknown_frames_are_left_to_the_driver() {
    let mut h = TunnelHarness::new();
    let conn = h.open_active();
    h.frame(conn, r#"message:{"type":"speak","content":"hi"}"#);
    h.frame(conn, "ping");
    h.frame(conn, "hello:1");
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.tunnel.poll_timeout(), Some(PING));
    assert_eq!(h.status(), TunnelStatus::Active);
}
