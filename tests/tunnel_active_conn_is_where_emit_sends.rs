//! `active_conn()` names the connection an `emit` would send on at once (the driver's
//! fast path sends there itself): only while active with nothing queued.

mod common;

use common::tunnel_harness::*;

#[test]
fn active_conn_only_when_emit_would_send_at_once() {
    let mut h = TunnelHarness::new();
    assert_eq!(h.tunnel.active_conn(), None, "closed");
    h.emit("early");
    h.open();
    let attempt = h.expect_request_url();
    assert_eq!(h.tunnel.active_conn(), None, "connecting");
    h.url_ok(attempt);
    let conn = h.expect_connect(attempt);
    assert_eq!(h.tunnel.active_conn(), None, "socket not open yet");
    h.socket_open(conn);
    h.take();
    assert_eq!(h.tunnel.active_conn(), Some(conn));
    h.emit("now");
    assert_eq!(h.take(), vec![send(conn, "now")], "emit sends on that connection");

    // A failed send puts the packet back in the queue and starts a reconnect: no
    // shortcut may jump ahead of it.
    h.send_failed(conn, "now");
    assert_eq!(h.tunnel.active_conn(), None);
    h.close();
    assert_eq!(h.tunnel.active_conn(), None, "closed again");
}
