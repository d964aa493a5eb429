//! Bug 1 of the original: a reconnect try whose URL request succeeds but whose socket
//! fails before opening left the tunnel RECONNECTING forever. Here it is a failed try:
//! the socket is closed, the next try is scheduled, and the tunnel gives up in the end.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, TunnelError, TunnelStatus};

#[test]
fn socket_failure_before_open_is_a_failed_try() {
    let mut h = TunnelHarness::with_config(linear(1000, 3));
    let c1 = h.open_active();
    h.lose_connection(c1);

    h.advance(1000);
    let c2 = h.answer_url();
    h.socket_error(c2, "refused");
    assert_eq!(h.take(), vec![close_socket(c2)]);
    assert_eq!(h.status(), TunnelStatus::Reconnecting);
    assert_eq!(h.tunnel.poll_timeout(), Some(h.now + 2000), "try 2 after 2 s");

    h.advance(2000);
    let c3 = h.answer_url();
    h.socket_close(c3);
    assert_eq!(h.take(), vec![close_socket(c3)]);
    assert_eq!(h.tunnel.poll_timeout(), Some(h.now + 3000), "try 3 after 3 s");

    h.advance(3000);
    let c4 = h.answer_url();
    h.socket_error(c4, "refused again");
    assert_eq!(
        h.take(),
        vec![close_socket(c4), event(Event::Close), error(TunnelError::Reconnect, Some("refused again")),]
    );
    assert_eq!(h.status(), TunnelStatus::Closed);

    h.open();
    h.expect_request_url();
    assert_eq!(h.status(), TunnelStatus::Connecting, "a new open works");
}
