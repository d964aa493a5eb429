//! Bug 6 of the original: send failures while active were lost. Here a failed packet
//! goes back to the front of the queue (failed packets keep their relative order), the
//! tunnel reconnects, and the packets go out first on the new socket.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, TunnelStatus};

#[test]
fn failed_sends_are_requeued_in_order_and_resent_after_reconnect() {
    let mut h = TunnelHarness::new();
    let c1 = h.open_active();
    h.emit("a");
    h.emit("b");
    h.emit("c");
    assert_eq!(h.take(), vec![send(c1, "a"), send(c1, "b"), send(c1, "c")]);

    h.send_failed(c1, "a");
    assert_eq!(h.take(), vec![event(Event::Reconnecting), close_socket(c1)]);
    assert_eq!(h.status(), TunnelStatus::Reconnecting);
    h.send_failed(c1, "b");
    h.emit("d");
    h.send_failed(c1, "c");
    assert_eq!(h.take(), vec![], "one reconnect sequence only");
    assert_eq!(h.tunnel.queued(), 4);

    h.advance(1000);
    let c2 = h.answer_url();
    h.socket_open(c2);
    assert_eq!(h.take(), vec![send(c2, "a"), send(c2, "b"), send(c2, "c"), send(c2, "d"), event(Event::Reconnect),]);
}
