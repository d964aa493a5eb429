//! During a reconnect, a failed URL request is a failed try: the next try follows after
//! the next backoff delay, and the last one gives up.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, TunnelError, TunnelStatus};

#[test]
fn url_failures_use_up_the_tries() {
    let mut h = TunnelHarness::with_config(linear(1000, 2));
    let c1 = h.open_active();
    h.lose_connection(c1);
    h.advance(1000);
    let a1 = h.expect_request_url();
    h.url_err(a1, "503");
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.status(), TunnelStatus::Reconnecting);
    assert_eq!(h.tunnel.poll_timeout(), Some(h.now + 2000));

    h.advance(2000);
    let a2 = h.expect_request_url();
    assert_ne!(a1, a2, "a new URL for every try");
    h.url_err(a2, "503");
    assert_eq!(h.take(), vec![event(Event::Close), error(TunnelError::Reconnect, Some("503"))]);
}
