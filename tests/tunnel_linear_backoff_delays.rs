//! Linear backoff (the original's): try `n` runs `n * step` after the previous failure,
//! and the tunnel gives up after `max_reconnect_tries` failed tries.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, Output, TunnelConfig, TunnelError, TunnelStatus};

#[test]
fn default_config_waits_1_to_5_seconds_then_gives_up() {
    let mut h = TunnelHarness::with_config(TunnelConfig::default());
    let c1 = h.open_active();
    h.advance(500);
    h.lose_connection(c1);
    let mut failed_at = h.now;
    let mut waits = Vec::new();
    for _ in 0..5 {
        let due = h.tunnel.poll_timeout().expect("a try is scheduled");
        h.advance(due - h.now - 1);
        assert_eq!(h.take(), vec![], "not before its time");
        h.advance(1);
        let attempt = match h.take_timed().as_slice() {
            [(at, Output::RequestUrl { attempt })] if *at == due => *attempt,
            other => panic!("expected one RequestUrl at {due}, got {other:?}"),
        };
        waits.push(due - failed_at);
        h.url_err(attempt, "down");
        failed_at = h.now;
    }
    assert_eq!(waits, vec![1000, 2000, 3000, 4000, 5000]);
    assert_eq!(h.take(), vec![event(Event::Close), error(TunnelError::Reconnect, Some("down"))]);
    assert_eq!(h.status(), TunnelStatus::Closed);
}

#[test]
fn zero_step_still_waits_one_millisecond() {
    let mut h = TunnelHarness::with_config(linear(0, 3));
    let c1 = h.open_active();
    h.lose_connection(c1);
    assert_eq!(h.tunnel.poll_timeout(), Some(h.now + 1));
}
