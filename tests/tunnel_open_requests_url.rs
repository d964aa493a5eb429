//! `open()` from Closed asks for a URL, connects a socket to the answer, and a second
//! `open()` while opening or active does nothing.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, Output, TunnelStatus};

#[test]
fn open_requests_url_then_connects_socket() {
    let mut h = TunnelHarness::new();
    assert_eq!(h.status(), TunnelStatus::Closed);
    assert_eq!(h.tunnel.socket_url(), None);
    assert_eq!(h.tunnel.poll_timeout(), None);

    h.open();
    let attempt = h.expect_request_url();
    assert_eq!(h.status(), TunnelStatus::Connecting);
    h.open();
    assert_eq!(h.take(), vec![], "second open while waiting for the URL");

    h.url_ok(attempt);
    let out = h.take();
    let conn = match out.as_slice() {
        [Output::Connect { conn, url, .. }] => {
            assert_eq!(*url, url_for(attempt));
            *conn
        }
        other => panic!("expected Connect, got {other:?}"),
    };
    assert!(h.tunnel.is_current(conn));
    assert_eq!(h.tunnel.socket_url(), Some(url_for(attempt).as_str()));
    assert_eq!(h.status(), TunnelStatus::Connecting);
    h.open();
    assert_eq!(h.take(), vec![], "second open while the socket opens");

    h.socket_open(conn);
    assert_eq!(h.take(), vec![event(Event::Connect)]);
    assert_eq!(h.status(), TunnelStatus::Active);
    h.open();
    assert_eq!(h.take(), vec![], "open while active");
    assert_eq!(h.status(), TunnelStatus::Active);
}
