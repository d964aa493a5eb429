//! With jitter, each delay is a draw in `[d/2, d]` from the config's seed: reproducible
//! for one seed, different across seeds.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Backoff, TunnelConfig};
use wafer_core::Millis;

const BASE: Millis = 1000;
const CAP: Millis = 8000;
const TRIES: u32 = 20;

fn jittered(seed: u64) -> Vec<Millis> {
    let mut h = TunnelHarness::with_config(TunnelConfig {
        max_reconnect_tries: TRIES,
        backoff: Backoff::Exponential { base: BASE, cap: CAP, jitter: true },
        seed,
        ..TunnelConfig::default()
    });
    let c1 = h.open_active();
    h.lose_connection(c1);
    let mut out = Vec::new();
    for _ in 0..TRIES {
        let due = h.tunnel.poll_timeout().expect("a try is scheduled");
        out.push(due - h.now);
        h.advance(due - h.now);
        let attempt = h.expect_request_url();
        h.url_err(attempt, "down");
    }
    out
}

fn full(n: u32) -> Millis {
    (BASE << (n - 1).min(20)).min(CAP)
}

#[test]
fn delays_stay_in_half_to_full_range() {
    for seed in [0, 1, 42, u64::MAX] {
        for (i, d) in jittered(seed).into_iter().enumerate() {
            let full = full(i as u32 + 1);
            assert!(full / 2 <= d && d <= full, "seed {seed}, try {}: {d} not in [{}, {full}]", i + 1, full / 2);
        }
    }
}

#[test]
fn same_seed_same_delays_other_seed_other_delays() {
    assert_eq!(jittered(7), jittered(7));
    assert_ne!(jittered(7), jittered(8));
}

#[test]
fn seed_zero_still_jitters() {
    let got = jittered(0);
    let lows = got.iter().enumerate().filter(|(i, d)| **d == full(*i as u32 + 1) / 2).count();
    assert!(lows < got.len(), "a zero seed must not pin every delay to d/2: {got:?}");
}
