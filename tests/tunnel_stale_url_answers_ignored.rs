//! Only the answer to the outstanding URL request counts: answers to other attempts,
//! repeated answers, and answers after `close()` are ignored.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, TunnelStatus};

#[test]
fn answers_for_other_attempts_are_ignored() {
    let mut h = TunnelHarness::new();
    h.open();
    let a = h.expect_request_url();
    h.url_ok(a + 1);
    h.url_err(a.wrapping_sub(1), "old");
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.status(), TunnelStatus::Connecting);

    h.url_ok(a);
    h.expect_connect(a);
    h.url_ok(a);
    h.url_err(a, "again");
    assert_eq!(h.take(), vec![], "an attempt is answered once");
}

#[test]
fn answers_after_close_are_ignored() {
    let mut h = TunnelHarness::new();
    h.open();
    let a = h.expect_request_url();
    h.close();
    assert_eq!(h.take(), vec![event(Event::Close)]);
    h.url_ok(a);
    h.url_err(a, "late");
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.status(), TunnelStatus::Closed);
    assert_eq!(h.tunnel.socket_url(), None);
}

#[test]
fn an_earlier_try_answer_is_ignored_during_reconnect() {
    let mut h = TunnelHarness::new();
    let c1 = h.open_active();
    h.lose_connection(c1);
    h.advance(1000);
    let first = h.expect_request_url();
    h.url_err(first, "down");
    h.advance(2000);
    let second = h.expect_request_url();
    h.url_ok(first);
    assert_eq!(h.take(), vec![]);
    h.url_ok(second);
    h.expect_connect(second);
}
