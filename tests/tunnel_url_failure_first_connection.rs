//! A failed service-URL request on the first connection closes the tunnel with
//! `error` 1001 carrying the detail, then hands back the queued packets.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{TunnelError, TunnelStatus};

#[test]
fn url_failure_closes_with_1001() {
    let mut h = TunnelHarness::new();
    h.emit("a");
    h.open();
    let attempt = h.expect_request_url();
    h.emit("b");
    h.url_err(attempt, "HTTP 500");
    assert_eq!(h.take(), vec![error(TunnelError::ConnectService, Some("HTTP 500")), unsent(&["a", "b"])]);
    assert_eq!(h.status(), TunnelStatus::Closed);
    assert_eq!(h.tunnel.poll_timeout(), None);
    assert_eq!(h.tunnel.socket_url(), None);
}

#[test]
fn url_failure_without_detail() {
    let mut h = TunnelHarness::new();
    h.open();
    let attempt = h.expect_request_url();
    h.tunnel.handle_url(h.now, attempt, Err(None));
    assert_eq!(h.take(), vec![error(TunnelError::ConnectService, None)]);
    assert_eq!(h.status(), TunnelStatus::Closed);
}
