//! While the network is offline, reconnect tries wait instead of running, and a try that
//! fails while offline is not counted; coming back online tries at once.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, TunnelError, TunnelStatus};

#[test]
fn tries_wait_while_offline() {
    let mut h = TunnelHarness::with_config(linear(1000, 2));
    let c1 = h.open_active();
    h.network(false);
    h.lose_connection(c1);
    h.advance(600_000);
    assert_eq!(h.take(), vec![], "no try runs while offline");
    assert_eq!(h.status(), TunnelStatus::Reconnecting);
    assert!(h.tunnel.poll_timeout().is_some(), "still waiting, not stuck");

    h.advance(123);
    h.network(true);
    assert_eq!(h.take_timed(), vec![(h.now, request_url(2))], "online: try at once");

    // Both tries are still available.
    h.url_err(2, "first counted failure");
    assert_eq!(h.take(), vec![]);
    h.advance(2000);
    let attempt = h.expect_request_url();
    h.url_err(attempt, "second");
    assert_eq!(h.take(), vec![event(Event::Close), error(TunnelError::Reconnect, Some("second"))]);
}

#[test]
fn failures_while_offline_do_not_count() {
    let mut h = TunnelHarness::with_config(linear(1000, 1));
    let c1 = h.open_active();
    h.lose_connection(c1);
    h.advance(1000);
    let a = h.expect_request_url();
    h.network(false);
    h.url_err(a, "no network");
    assert_eq!(h.take(), vec![], "with one try allowed, a counted failure would give up");
    assert_eq!(h.status(), TunnelStatus::Reconnecting);

    h.network(true);
    let c2 = h.answer_url();
    h.network(false);
    h.socket_error(c2, "no network");
    assert_eq!(h.take(), vec![close_socket(c2)]);
    assert_eq!(h.status(), TunnelStatus::Reconnecting);

    h.network(true);
    let c3 = h.answer_url();
    h.socket_open(c3);
    assert_eq!(h.take(), vec![event(Event::Reconnect)]);
}
