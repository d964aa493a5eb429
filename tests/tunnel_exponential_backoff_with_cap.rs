//! Exponential backoff waits `min(cap, base * 2^(n-1))` before try `n`, without
//! overflowing however many tries are allowed.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Backoff, TunnelConfig, TunnelStatus};
use wafer_core::Millis;

/// Delays before each try of one reconnect sequence where every try fails at once.
fn delays(config: TunnelConfig, tries: u32, fire_by_timer: bool) -> Vec<Millis> {
    let mut h = TunnelHarness::with_config(config);
    let c1 = h.open_active();
    h.lose_connection(c1);
    let mut out = Vec::new();
    for _ in 0..tries {
        let due = h.tunnel.poll_timeout().expect("a try is scheduled");
        out.push(due - h.now);
        if fire_by_timer {
            h.advance(due - h.now);
        } else {
            h.network(true);
        }
        let attempt = h.expect_request_url();
        h.url_err(attempt, "down");
    }
    assert_eq!(h.status(), TunnelStatus::Closed, "gave up after {tries} tries");
    out
}

#[test]
fn doubles_up_to_the_cap() {
    let config = TunnelConfig {
        max_reconnect_tries: 6,
        backoff: Backoff::Exponential { base: 1000, cap: 5000, jitter: false },
        ..TunnelConfig::default()
    };
    assert_eq!(delays(config, 6, true), vec![1000, 2000, 4000, 5000, 5000, 5000]);
}

#[test]
fn saturates_instead_of_overflowing() {
    let config = TunnelConfig {
        max_reconnect_tries: 100,
        backoff: Backoff::Exponential { base: 1000, cap: Millis::MAX, jitter: false },
        ..TunnelConfig::default()
    };
    let got = delays(config, 100, false);
    for (i, d) in got.iter().enumerate() {
        let exact = 1000u128 << i;
        let want = exact.min(u128::from(Millis::MAX)) as Millis;
        // Every try runs at time 0 (fired by `online`), so the delay is the deadline.
        assert_eq!(*d, want, "try {}", i + 1);
    }
    assert_eq!(got[0..4], [1000, 2000, 4000, 8000]);
    assert!(got.windows(2).all(|w| w[0] <= w[1]), "never shrinks");
}
