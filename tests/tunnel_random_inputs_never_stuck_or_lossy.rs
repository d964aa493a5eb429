//! Property test: random input sequences (seeded, reproducible) never panic, never leave
//! an open tunnel without a way forward, and never lose a packet.
//!
//! After every input the outputs are drained and checked against a model of the driver:
//! - a tunnel that is not Closed has an armed deadline, an unanswered URL request, or a
//!   socket that is neither closed by the core nor reported dead by the host;
//! - no deadline is in the past, and a Closed tunnel has none;
//! - every packet is in exactly one place: in the core's queue, handed to the driver in a
//!   `Send`, or handed back in `Overflow`/`Unsent` (counted against `queued()`);
//! - attempts and connection ids only increase; frames go to the newest connection;
//! - `connect`, `reconnecting`, `reconnect` only come from Connecting, Active and
//!   Reconnecting respectively; only `error` 2001 may follow a `close` event.

mod common;

use std::collections::BTreeMap;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Backoff, ConnId, Event, Outbound, Output, TunnelConfig, TunnelError, TunnelStatus};

const RUNS: u64 = 3_000;
const STEPS: usize = 200;

/// xorshift64 (test-side randomness, seeded per run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Where a packet is.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fate {
    /// In the core's queue.
    InCore,
    /// Given to the driver in a `Send` on this connection.
    WithDriver(ConnId),
    /// Handed back to the user (`Overflow` or `Unsent`).
    Returned,
}

/// What the simulated driver knows.
#[derive(Default)]
struct Model {
    fates: BTreeMap<String, Fate>,
    next_packet: u64,
    last_attempt: Option<u32>,
    attempt_answered: bool,
    last_conn: Option<ConnId>,
    conn_live: bool,
    conns: Vec<ConnId>,
}

impl Model {
    fn in_core(&self) -> usize {
        self.fates.values().filter(|f| **f == Fate::InCore).count()
    }

    fn move_packet(&mut self, p: &str, from_core_to: Fate, ctx: &str) {
        let fate = self.fates.get_mut(p).unwrap_or_else(|| panic!("{ctx}: unknown packet {p}"));
        assert_eq!(*fate, Fate::InCore, "{ctx}: packet {p} was not in the core");
        *fate = from_core_to;
    }

    /// Applies one batch of outputs to the model, checking each.
    fn apply(&mut self, before: TunnelStatus, outs: &[Out], ctx: &str) {
        let mut closed_event = false;
        for out in outs {
            if closed_event {
                assert!(
                    matches!(out, Output::Event(Event::Error { error: TunnelError::Reconnect, .. })),
                    "{ctx}: {out:?} after the close event in {outs:?}"
                );
            }
            match out {
                Output::RequestUrl { attempt } => {
                    if let Some(last) = self.last_attempt {
                        assert!(*attempt > last, "{ctx}: attempt {attempt} after {last}");
                    }
                    self.last_attempt = Some(*attempt);
                    self.attempt_answered = false;
                }
                Output::Connect { conn, url, .. } => {
                    assert!(!url.is_empty());
                    if let Some(last) = self.last_conn {
                        assert!(*conn > last, "{ctx}: conn {conn:?} after {last:?}");
                        assert!(!self.conn_live, "{ctx}: {conn:?} opened while {last:?} is live");
                    }
                    self.last_conn = Some(*conn);
                    self.conn_live = true;
                    self.conns.push(*conn);
                }
                Output::Send { conn, frame } => {
                    assert_eq!(Some(*conn), self.last_conn, "{ctx}: send on an old connection");
                    assert!(self.conn_live, "{ctx}: send on a closed connection");
                    if let Outbound::Packet(p) = frame {
                        self.move_packet(p, Fate::WithDriver(*conn), ctx);
                    }
                }
                Output::CloseSocket { conn } => {
                    assert!(self.conns.contains(conn), "{ctx}: close of unknown {conn:?}");
                    if Some(*conn) == self.last_conn {
                        self.conn_live = false;
                    }
                }
                Output::Event(Event::Overflow(p)) => self.move_packet(p, Fate::Returned, ctx),
                Output::Event(Event::Unsent(ps)) => {
                    assert!(!ps.is_empty(), "{ctx}: empty Unsent");
                    for p in ps {
                        self.move_packet(p, Fate::Returned, ctx);
                    }
                }
                Output::Event(Event::Close) => closed_event = true,
                Output::Event(Event::Connect) => {
                    assert_eq!(before, TunnelStatus::Connecting, "{ctx}: connect");
                }
                Output::Event(Event::Reconnecting) => {
                    assert_eq!(before, TunnelStatus::Active, "{ctx}: reconnecting");
                }
                Output::Event(Event::Reconnect) => {
                    assert_eq!(before, TunnelStatus::Reconnecting, "{ctx}: reconnect");
                }
                Output::Event(Event::Error { .. }) => {}
            }
        }
    }
}

fn random_config(rng: &mut Rng) -> TunnelConfig {
    let backoff = if rng.chance(50) {
        Backoff::Linear { step: rng.below(3000) }
    } else {
        Backoff::Exponential { base: rng.below(2000), cap: rng.below(10_000), jitter: rng.chance(50) }
    };
    TunnelConfig {
        max_reconnect_tries: rng.below(5) as u32,
        backoff,
        ping_interval: rng.below(20_000),
        max_queue: rng.below(6) as usize,
        open_timeout: 1 + rng.below(20_000),
        seed: rng.next(),
        ..TunnelConfig::default()
    }
}

/// A connection id the driver might report on: usually the newest, sometimes an old or
/// unknown one.
fn some_conn(rng: &mut Rng, m: &Model) -> ConnId {
    match (rng.below(10), m.last_conn) {
        (0, _) | (_, None) => ConnId(rng.below(5) as u32),
        (1, Some(_)) if !m.conns.is_empty() => m.conns[rng.below(m.conns.len() as u64) as usize],
        (_, Some(last)) => last,
    }
}

/// Feeds one random input; a description for failure messages.
fn step(rng: &mut Rng, h: &mut TunnelHarness, m: &mut Model) -> String {
    match rng.below(15) {
        0 | 1 => {
            m.next_packet += 1;
            let p = format!("p{}", m.next_packet);
            m.fates.insert(p.clone(), Fate::InCore);
            h.emit(&p);
            format!("emit {p}")
        }
        2 => {
            h.open();
            "open".into()
        }
        3 => {
            h.close();
            "close".into()
        }
        4 | 5 => match m.last_attempt {
            Some(a) if !m.attempt_answered => {
                m.attempt_answered = true;
                if rng.chance(70) {
                    h.url_ok(a);
                    format!("url ok {a}")
                } else {
                    h.url_err(a, "down");
                    format!("url err {a}")
                }
            }
            _ => {
                let a = rng.below(u64::from(m.last_attempt.unwrap_or(0)) + 2) as u32;
                h.url_ok(a);
                format!("stale url {a}")
            }
        },
        6 | 7 => {
            let conn = some_conn(rng, m);
            if Some(conn) == m.last_conn && !m.conn_live {
                // A closed socket never opens.
                return "nothing".into();
            }
            h.socket_open(conn);
            format!("socket open {conn:?}")
        }
        8 | 9 => {
            let conn = some_conn(rng, m);
            if Some(conn) == m.last_conn {
                m.conn_live = false;
            }
            if rng.chance(50) {
                h.socket_close(conn);
                format!("socket close {conn:?}")
            } else {
                h.socket_error(conn, "err");
                format!("socket error {conn:?}")
            }
        }
        10 => {
            let conn = some_conn(rng, m);
            let text = match rng.below(8) {
                0..=2 => "pong".to_string(),
                3 => format!("timeout:{}", rng.below(30)),
                4 => "timeout:x".into(),
                5 => "close".into(),
                6 => r#"message:{"type":"t"}"#.into(),
                _ => "ping".into(),
            };
            h.frame(conn, &text);
            format!("frame {conn:?} {text}")
        }
        11 => {
            let with_driver: Vec<(String, ConnId)> = m
                .fates
                .iter()
                .filter_map(|(p, f)| match f {
                    Fate::WithDriver(c) => Some((p.clone(), *c)),
                    _ => None,
                })
                .collect();
            if with_driver.is_empty() {
                return "nothing".into();
            }
            let (p, conn) = with_driver[rng.below(with_driver.len() as u64) as usize].clone();
            m.fates.insert(p.clone(), Fate::InCore);
            h.send_failed(conn, &p);
            format!("send failed {conn:?} {p}")
        }
        12 => {
            let online = rng.chance(60);
            h.network(online);
            format!("network {online}")
        }
        13 => {
            let now = h.now;
            h.tunnel.handle_timeout(now);
            "early timeout".into()
        }
        _ => {
            let ms = rng.below(25_000);
            h.advance(ms);
            format!("advance {ms}")
        }
    }
}

fn check_state(h: &TunnelHarness, m: &Model, ctx: &str) {
    let status = h.status();
    assert_eq!(m.in_core(), h.tunnel.queued(), "{ctx}: packets in the core vs queued()");
    if let Some(t) = h.tunnel.poll_timeout() {
        assert!(t > h.now, "{ctx}: deadline {t} not after now {}", h.now);
    }
    match status {
        TunnelStatus::Closed => {
            assert_eq!(h.tunnel.poll_timeout(), None, "{ctx}: timer armed while closed");
            if let Some(conn) = m.last_conn {
                assert!(!h.tunnel.is_current(conn), "{ctx}: closed with a current conn");
            }
        }
        TunnelStatus::Active => {
            let conn = m.last_conn.unwrap_or(ConnId(u32::MAX));
            assert!(h.tunnel.is_current(conn) && m.conn_live, "{ctx}: active without its socket");
            assert!(h.tunnel.poll_timeout().is_some(), "{ctx}: active without heartbeat");
        }
        TunnelStatus::Connecting | TunnelStatus::Reconnecting => {
            let waiting_url = m.last_attempt.is_some() && !m.attempt_answered;
            let waiting_socket = m.conn_live && m.last_conn.is_some_and(|c| h.tunnel.is_current(c));
            assert!(
                h.tunnel.poll_timeout().is_some() || waiting_url || waiting_socket,
                "{ctx}: {status:?} is stuck (no deadline, no URL request, no socket)"
            );
        }
    }
}

#[test]
fn random_inputs_keep_the_invariants() {
    for run in 0..RUNS {
        let mut rng = Rng(0x5EED_0000 + run * 0x9E37_79B9);
        let mut h = TunnelHarness::with_config(random_config(&mut rng));
        let mut m = Model::default();
        let mut history: Vec<String> = Vec::new();
        for _ in 0..STEPS {
            let before = h.status();
            history.push(step(&mut rng, &mut h, &mut m));
            let ctx = format!("run {run}, after {:?}", &history[history.len().saturating_sub(8)..]);
            let outs = h.take();
            m.apply(before, &outs, &ctx);
            check_state(&h, &m, &ctx);
        }
        // Close, and fail every packet still with the driver: all must come back.
        let before = h.status();
        h.close();
        let ctx = format!("run {run}, final close");
        let outs = h.take();
        m.apply(before, &outs, &ctx);
        check_state(&h, &m, &ctx);
        let pending: Vec<(String, ConnId)> = m
            .fates
            .iter()
            .filter_map(|(p, f)| match f {
                Fate::WithDriver(c) => Some((p.clone(), *c)),
                _ => None,
            })
            .collect();
        for (p, conn) in pending {
            m.fates.insert(p.clone(), Fate::InCore);
            h.send_failed(conn, &p);
            let outs = h.take();
            assert_eq!(outs, vec![unsent(&[&p])], "{ctx}: late failure after close");
            m.apply(TunnelStatus::Closed, &outs, &ctx);
        }
        assert_eq!(h.status(), TunnelStatus::Closed);
        // Only packets emitted while closed (waiting for the next open) may remain.
        assert_eq!(m.in_core(), h.tunnel.queued(), "{ctx}");
        assert!(m.fates.values().all(|f| !matches!(f, Fate::WithDriver(_))), "{ctx}");
    }
}
