//! Bug 3 of the original: after giving up, a spurious `reconnecting` followed `close` and
//! `error`. Here giving up ends with exactly `close`, `error` 2001, and then silence.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, Output, TunnelError, TunnelStatus};

#[test]
fn nothing_follows_giving_up() {
    let mut h = TunnelHarness::with_config(linear(1000, 2));
    let c1 = h.open_active();
    h.emit("x");
    assert_eq!(h.take(), vec![send(c1, "x")]);
    h.lose_connection(c1);
    h.emit("queued");

    h.advance(1000);
    let a1 = h.expect_request_url();
    h.url_err(a1, "503");
    assert_eq!(h.take(), vec![]);
    h.advance(2000);
    let a2 = h.expect_request_url();
    h.url_err(a2, "504");
    assert_eq!(h.take(), vec![unsent(&["queued"]), event(Event::Close), error(TunnelError::Reconnect, Some("504")),]);
    assert_eq!(h.status(), TunnelStatus::Closed);
    assert_eq!(h.tunnel.poll_timeout(), None);

    // Late and stale inputs of every kind: nothing at all comes out.
    h.advance(3_600_000);
    h.url_ok(a1);
    h.url_ok(a2);
    h.socket_open(c1);
    h.socket_close(c1);
    h.socket_error(c1, "late");
    h.frame(c1, "pong");
    h.frame(c1, "close");
    h.network(false);
    h.network(true);
    h.close();
    let rest = h.take();
    assert!(
        !rest.iter().any(|o| matches!(o, Output::Event(Event::Reconnecting))),
        "no reconnecting after giving up: {rest:?}"
    );
    assert_eq!(rest, vec![]);
    assert_eq!(h.status(), TunnelStatus::Closed);
}

#[test]
fn zero_tries_gives_up_at_once() {
    let mut h = TunnelHarness::with_config(linear(1000, 0));
    let c1 = h.open_active();
    h.socket_close(c1);
    assert_eq!(
        h.take(),
        vec![event(Event::Reconnecting), close_socket(c1), event(Event::Close), error(TunnelError::Reconnect, None),]
    );
    assert_eq!(h.status(), TunnelStatus::Closed);
    assert_eq!(h.tunnel.poll_timeout(), None);
}
