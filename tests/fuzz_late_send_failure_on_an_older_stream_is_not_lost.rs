//! Fuzz finding (client target, resume extension): a send failure reported late, for a
//! socket of an older stream, after the tunnel's current stream got a token, was dropped.
//! `Tunnel::handle_send_failed` asks whether the *current* stream keeps its messages (it
//! then leaves the packet to the replay of its kept messages), but a packet written on an
//! earlier socket of another stream is not among them: with the token the packet was
//! neither written again nor reported. Without the extension (or before the token) the
//! same failure requeues the packet or writes it on the open socket.
//!
//! The same cause the other way round: after a refused resume the kept packets are already
//! back in the queue, and a late failure of one of them on the lost socket queues it a
//! second time (written twice on the new tunnel, or reported twice in `Unsent`).
//! Fixed in 7b00e13: a late failure is judged by the stream its socket belonged to.
mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, Outbound, Output};

/// Whether `p` was written (on any socket) or handed back in `Unsent` in `outs`.
fn delivered_or_reported(outs: &[Out], p: &str) -> bool {
    outs.iter().any(|o| match o {
        Output::Send { frame: Outbound::Packet(q), .. } => q == p,
        Output::Event(Event::Unsent(ps)) => ps.iter().any(|q| q == p),
        _ => false,
    })
}

#[test]
fn a_late_send_failure_of_an_older_stream_is_written_again_or_reported() {
    let mut h = TunnelHarness::with_config(resumable());
    h.open();
    let c1 = h.answer_url();
    h.socket_open(c1);
    h.emit("a");
    assert_eq!(h.take(), vec![control(c1, "resumable:1"), event(Event::Connect), send(c1, "a")]);
    // No token on this stream: the loss is a full reconnect that writes nothing twice.
    h.lose_connection(c1);
    h.advance(1000);
    let c2 = h.answer_url();
    h.socket_open(c2);
    assert_eq!(h.take(), vec![control(c2, "resumable:1"), event(Event::Reconnect)]);
    // The new stream is resumable.
    h.frame(c2, "resume-token:30:tok");
    assert_eq!(h.take(), vec![]);

    // The host reports now that `a` never left the first socket.
    h.send_failed(c1, "a");
    let mut outs = h.take();
    h.close();
    outs.extend(h.take());
    assert!(delivered_or_reported(&outs, "a"), "`a` was lost: {outs:?}");
}

#[test]
fn a_late_send_failure_after_a_refused_resume_writes_the_packet_once() {
    let mut h = TunnelHarness::with_config(resumable());
    h.open();
    let c1 = h.answer_url();
    h.socket_open(c1);
    h.frame(c1, "resume-token:30:tok");
    h.emit("a");
    assert_eq!(h.take(), vec![control(c1, "resumable:1"), event(Event::Connect), send(c1, "a")]);
    h.lose_connection(c1);
    h.advance(1000);
    let c2 = match h.take().as_slice() {
        [Output::Connect { conn, resume: true, .. }] => *conn,
        other => panic!("expected a resume socket, got {other:?}"),
    };
    h.socket_open(c2);
    h.frame(c2, "resume-refused");
    assert_eq!(h.take(), vec![control(c2, "resume:0:tok"), close_socket(c2), request_url(2)]);
    // `a` is back in the queue (kept, unacknowledged); the host reports now that it never
    // left the first socket.
    h.send_failed(c1, "a");
    h.url_ok(2);
    let c3 = h.expect_connect(2);
    h.socket_open(c3);
    let outs = h.take();
    let written = outs.iter().filter(|o| **o == send(c3, "a")).count();
    assert_eq!(written, 1, "`a` written {written} times on the new tunnel: {outs:?}");
}
