//! The send queue is bounded: `emit` on a full queue hands the packet back in an
//! `Overflow` event instead of queueing it or dropping it silently.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, TunnelConfig};

#[test]
fn full_queue_reports_overflow() {
    let mut h = TunnelHarness::with_config(TunnelConfig { max_queue: 2, ..TunnelConfig::default() });
    h.emit("a");
    h.emit("b");
    assert_eq!(h.take(), vec![]);
    h.emit("c");
    assert_eq!(h.take(), vec![overflow("c")]);
    assert_eq!(h.tunnel.queued(), 2);

    h.open();
    let conn = h.answer_url();
    h.socket_open(conn);
    assert_eq!(h.take(), vec![send(conn, "a"), send(conn, "b"), event(Event::Connect)]);

    // Active: no bound applies, packets go straight out.
    h.emit("d");
    h.emit("e");
    h.emit("f");
    assert_eq!(h.take(), vec![send(conn, "d"), send(conn, "e"), send(conn, "f")]);
}

#[test]
fn zero_bound_refuses_every_queued_packet() {
    let mut h = TunnelHarness::with_config(TunnelConfig { max_queue: 0, ..TunnelConfig::default() });
    h.emit("a");
    assert_eq!(h.take(), vec![overflow("a")]);
    assert_eq!(h.tunnel.queued(), 0);
}
