//! Bug 5 of the original: a stale socket's events reached the new tunnel. Here every
//! event of a connection that is not the current one is ignored.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{ConnId, Event, TunnelStatus};

/// Feeds every kind of socket event for `conn`.
fn poke(h: &mut TunnelHarness, conn: ConnId) {
    h.socket_open(conn);
    h.frame(conn, "pong");
    h.frame(conn, "timeout:1");
    h.frame(conn, "close");
    h.socket_error(conn, "stale");
    h.socket_close(conn);
}

#[test]
fn old_connection_events_are_ignored_during_and_after_reconnect() {
    let mut h = TunnelHarness::new();
    let c1 = h.open_active();
    h.lose_connection(c1);

    poke(&mut h, c1);
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.status(), TunnelStatus::Reconnecting);
    assert_eq!(h.tunnel.poll_timeout(), Some(h.now + 1000));

    h.advance(1000);
    let c2 = h.answer_url();
    poke(&mut h, c1);
    poke(&mut h, ConnId(999));
    assert_eq!(h.take(), vec![]);
    h.socket_open(c2);
    assert_eq!(h.take(), vec![event(Event::Reconnect)]);

    poke(&mut h, c1);
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.status(), TunnelStatus::Active);
    assert!(!h.tunnel.is_current(c1));
    assert!(h.tunnel.is_current(c2));
}

#[test]
fn a_stale_pong_does_not_answer_the_current_ping() {
    let mut h = TunnelHarness::new();
    let c1 = h.open_active();
    h.lose_connection(c1);
    h.advance(1000);
    let c2 = h.answer_url();
    h.socket_open(c2);
    h.take();

    h.advance(PING);
    assert_eq!(h.take(), vec![ping(c2)]);
    h.frame(c1, "pong");
    h.advance(PING);
    assert_eq!(h.take(), vec![event(Event::Reconnecting), close_socket(c2)]);
}

#[test]
fn closing_our_own_socket_reports_nothing() {
    let mut h = TunnelHarness::new();
    let conn = h.open_active();
    h.close();
    h.take();
    h.socket_close(conn);
    h.socket_error(conn, "after close");
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.status(), TunnelStatus::Closed);
}
