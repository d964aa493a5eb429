//! A failed packet is never dropped: it is requeued past the queue bound, resent at
//! once when another socket is already open, and reported as unsent when closed.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, TunnelConfig, TunnelStatus};

#[test]
fn requeue_bypasses_the_queue_bound() {
    let mut h = TunnelHarness::with_config(TunnelConfig { max_queue: 1, ..TunnelConfig::default() });
    let c1 = h.open_active();
    h.emit("a");
    h.emit("b");
    h.take();
    h.send_failed(c1, "a");
    h.send_failed(c1, "b");
    assert_eq!(h.tunnel.queued(), 2);
    h.emit("c");
    assert_eq!(h.take(), vec![event(Event::Reconnecting), close_socket(c1), overflow("c")]);
    assert_eq!(h.tunnel.queued(), 2);
}

#[test]
fn late_failure_of_an_old_socket_is_resent_on_the_current_one() {
    let mut h = TunnelHarness::new();
    let c1 = h.open_active();
    h.emit("a");
    h.take();
    h.lose_connection(c1);
    h.advance(1000);
    let c2 = h.answer_url();
    h.socket_open(c2);
    h.take();

    h.send_failed(c1, "a");
    assert_eq!(h.take(), vec![send(c2, "a")]);
    assert_eq!(h.status(), TunnelStatus::Active);
    assert_eq!(h.tunnel.queued(), 0);
}

#[test]
fn failure_after_close_is_reported_as_unsent_at_once() {
    let mut h = TunnelHarness::new();
    let c1 = h.open_active();
    h.emit("a");
    h.close();
    h.take();
    h.send_failed(c1, "a");
    assert_eq!(h.take(), vec![unsent(&["a"])]);
    assert_eq!(h.tunnel.queued(), 0);
}

#[test]
fn failure_while_connecting_waits_in_the_queue() {
    let mut h = TunnelHarness::new();
    let c1 = h.open_active();
    h.emit("a");
    h.take();
    h.lose_connection(c1);
    h.send_failed(c1, "a");
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.tunnel.queued(), 1);
    h.close();
    assert_eq!(h.take(), vec![unsent(&["a"]), event(Event::Close)]);
}
