//! `timeout:N` sets the heartbeat interval (and pong deadline) to N seconds and pings at
//! once; an unusable `timeout` frame is ignored.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, TunnelStatus};

#[test]
fn timeout_frame_pings_at_once_and_sets_the_interval() {
    let mut h = TunnelHarness::new();
    let conn = h.open_active();
    h.advance(1000);
    h.frame(conn, "timeout:5");
    assert_eq!(h.take_timed(), vec![(1000, ping(conn))]);
    assert_eq!(h.tunnel.poll_timeout(), Some(6000));

    h.frame(conn, "pong");
    h.advance(5000);
    assert_eq!(h.take_timed(), vec![(6000, ping(conn))]);

    h.advance(5000);
    assert_eq!(
        h.take_timed(),
        vec![(11_000, event(Event::Reconnecting)), (11_000, close_socket(conn))],
        "no pong within the new interval"
    );
}

#[test]
fn unusable_timeout_frames_are_ignored() {
    let mut h = TunnelHarness::new();
    let conn = h.open_active();
    h.frame(conn, "timeout:abc");
    h.frame(conn, "timeout:0");
    h.frame(conn, "timeout");
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.tunnel.poll_timeout(), Some(PING));
}

#[test]
fn interval_survives_reconnect_and_resets_on_reopen() {
    let mut h = TunnelHarness::new();
    let c1 = h.open_active();
    h.frame(c1, "timeout:5");
    h.take();
    h.lose_connection(c1);
    h.advance(1000);
    let c2 = h.answer_url();
    h.socket_open(c2);
    h.take();
    assert_eq!(h.tunnel.poll_timeout(), Some(h.now + 5000), "same tunnel, same interval");

    h.close();
    h.take();
    h.open_active();
    assert_eq!(h.tunnel.poll_timeout(), Some(h.now + PING), "a new open starts from the config");
    assert_eq!(h.status(), TunnelStatus::Active);
}
