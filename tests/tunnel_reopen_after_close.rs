//! After any way of becoming Closed, `open()` starts a fresh first connection
//! (new attempt, new connection, `connect` rather than `reconnect`).

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{ConnId, Event, TunnelConfig, TunnelStatus};

fn reopen(h: &mut TunnelHarness, old: ConnId) {
    assert_eq!(h.status(), TunnelStatus::Closed);
    h.take();
    h.emit("after");
    h.open();
    let conn = h.answer_url();
    assert!(conn > old);
    h.socket_open(conn);
    assert_eq!(h.take(), vec![send(conn, "after"), event(Event::Connect)]);
    assert_eq!(h.status(), TunnelStatus::Active);
}

#[test]
fn reopen_after_user_close() {
    let mut h = TunnelHarness::new();
    let conn = h.open_active();
    h.close();
    reopen(&mut h, conn);
}

#[test]
fn reopen_after_first_connection_failure() {
    let mut h = TunnelHarness::new();
    h.open();
    let conn = h.answer_url();
    h.socket_error(conn, "boom");
    reopen(&mut h, conn);
}

#[test]
fn reopen_after_giving_up() {
    let mut h = TunnelHarness::with_config(TunnelConfig { max_reconnect_tries: 1, ..TunnelConfig::default() });
    let c1 = h.open_active();
    h.lose_connection(c1);
    h.advance(1000);
    let c2 = h.answer_url();
    h.socket_close(c2);
    reopen(&mut h, c2);
}

#[test]
fn reopen_after_server_close() {
    let mut h = TunnelHarness::new();
    let conn = h.open_active();
    h.frame(conn, "close");
    reopen(&mut h, conn);
}
