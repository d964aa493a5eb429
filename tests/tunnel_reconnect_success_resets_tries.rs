//! A successful reconnect resets the try counter: the next sequence starts from the
//! first delay with every try available again.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, TunnelStatus};

#[test]
fn next_sequence_starts_afresh() {
    let mut h = TunnelHarness::with_config(linear(1000, 2));
    let c1 = h.open_active();
    h.lose_connection(c1);
    h.advance(1000);
    let a = h.expect_request_url();
    h.url_err(a, "down");
    h.advance(2000);
    let c2 = h.answer_url();
    h.socket_open(c2);
    assert_eq!(h.take(), vec![event(Event::Reconnect)]);

    h.lose_connection(c2);
    assert_eq!(h.tunnel.poll_timeout(), Some(h.now + 1000), "first delay again");
    h.advance(1000);
    let a = h.expect_request_url();
    h.url_err(a, "down");
    assert_eq!(h.take(), vec![], "one failure does not use up two tries");
    assert_eq!(h.status(), TunnelStatus::Reconnecting);
}
