//! The current socket closing or failing while active starts a reconnect sequence.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, TunnelStatus};

#[test]
fn socket_close_while_active_reconnects() {
    let mut h = TunnelHarness::new();
    let c1 = h.open_active();
    h.advance(500);
    h.socket_close(c1);
    assert_eq!(h.take(), vec![event(Event::Reconnecting), close_socket(c1)]);
    assert_eq!(h.status(), TunnelStatus::Reconnecting);
    assert_eq!(h.tunnel.poll_timeout(), Some(1500));
}

#[test]
fn socket_error_while_active_reconnects() {
    let mut h = TunnelHarness::new();
    let c1 = h.open_active();
    h.socket_error(c1, "reset");
    assert_eq!(h.take(), vec![event(Event::Reconnecting), close_socket(c1)]);
    assert_eq!(h.status(), TunnelStatus::Reconnecting);
    h.advance(1000);
    let c2 = h.answer_url();
    h.socket_open(c2);
    assert_eq!(h.take(), vec![event(Event::Reconnect)]);
}
