//! An `online` report while a reconnect try is waiting for its timer runs it at once;
//! while a try is in flight it changes nothing.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::TunnelStatus;

#[test]
fn online_runs_the_waiting_try_now() {
    let mut h = TunnelHarness::new();
    let c1 = h.open_active();
    h.lose_connection(c1);
    h.advance(100);
    h.network(true);
    assert_eq!(h.take_timed(), vec![(100, request_url(2))]);
    assert_eq!(h.tunnel.poll_timeout(), None, "the try's timer is consumed");

    h.network(true);
    assert_eq!(h.take(), vec![], "a try is already in flight");
    h.url_ok(2);
    let c2 = h.expect_connect(2);
    h.network(true);
    assert_eq!(h.take(), vec![], "the try's socket is opening");
    assert!(h.tunnel.is_current(c2));
}

#[test]
fn online_outside_reconnect_does_nothing() {
    let mut h = TunnelHarness::new();
    h.network(true);
    h.open();
    h.expect_request_url();
    h.network(false);
    h.network(true);
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.status(), TunnelStatus::Connecting);
}
