//! Fuzz finding (client target, resume extension): over `maxUnacked` the client drops the
//! oldest kept message (docs/RESUME.md rule 2). When the send of that message then fails,
//! `Tunnel::handle_send_failed` sees a stream that keeps its messages and leaves the packet
//! to the replay of the kept ones, but it is no longer among them: it is neither written
//! again (after a resume or on a new tunnel) nor reported in `Unsent`. Without the
//! extension a failed send is requeued and never lost. Fixed in 7b00e13: over
//! `maxUnacked` the stream is spent again (nothing kept, a failure is requeued).
mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, Outbound, Output, TunnelConfig};

/// Whether `p` was written (on any socket) or handed back in `Unsent` in `outs`.
fn delivered_or_reported(outs: &[Out], p: &str) -> bool {
    outs.iter().any(|o| match o {
        Output::Send { frame: Outbound::Packet(q), .. } => q == p,
        Output::Event(Event::Unsent(ps)) => ps.iter().any(|q| q == p),
        _ => false,
    })
}

#[test]
fn a_failed_send_of_a_message_no_longer_kept_is_written_again_or_reported() {
    let mut h = TunnelHarness::with_config(TunnelConfig { max_unacked: 2, ..resumable() });
    h.open();
    let c1 = h.answer_url();
    h.socket_open(c1);
    h.frame(c1, "resume-token:30:tok");
    for p in ["a", "b", "c"] {
        h.emit(p);
    }
    assert_eq!(
        h.take(),
        vec![control(c1, "resumable:1"), event(Event::Connect), send(c1, "a"), send(c1, "b"), send(c1, "c")]
    );
    // Only b and c are kept now; the host reports that `a` never left.
    h.send_failed(c1, "a");
    let mut outs = h.take();
    h.close();
    outs.extend(h.take());
    assert!(delivered_or_reported(&outs, "a"), "`a` was lost: {outs:?}");
}
