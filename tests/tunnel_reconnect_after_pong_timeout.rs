//! A `ping` without `pong` within the interval starts a reconnect sequence: the old
//! socket is closed, a new URL is fetched after 1 s, and `reconnect` follows its open.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, TunnelStatus};

#[test]
fn missed_pong_reconnects_with_a_new_url() {
    let mut h = TunnelHarness::new();
    let c1 = h.open_active();
    h.advance(PING);
    assert_eq!(h.take(), vec![ping(c1)]);

    h.advance(PING - 1);
    assert_eq!(h.take(), vec![], "pong deadline not yet passed");
    h.advance(1);
    assert_eq!(h.take_timed(), vec![(2 * PING, event(Event::Reconnecting)), (2 * PING, close_socket(c1))]);
    assert_eq!(h.status(), TunnelStatus::Reconnecting);
    assert!(!h.tunnel.is_current(c1));
    assert_eq!(h.tunnel.poll_timeout(), Some(2 * PING + 1000), "heartbeat stopped");

    h.advance(999);
    assert_eq!(h.take(), vec![]);
    h.advance(1);
    let attempt = h.expect_request_url();
    h.url_ok(attempt);
    let c2 = h.expect_connect(attempt);
    assert!(c2 > c1, "connection ids increase");
    h.socket_open(c2);
    assert_eq!(h.take(), vec![event(Event::Reconnect)]);
    assert_eq!(h.status(), TunnelStatus::Active);
    assert_eq!(h.tunnel.socket_url(), Some(url_for(attempt).as_str()));
    assert_eq!(h.tunnel.poll_timeout(), Some(h.now + PING), "heartbeat restarted");
}
