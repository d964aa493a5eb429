//! A stored session + `wx.checkSession` success → `success(session.userInfo)`, no network.
mod common;

use common::session_harness::*;
use wafer_core::session::{FlowId, Output};

#[test]
fn stored_session_checked_then_reused_without_network() {
    let mut h = Harness::with_session(v1_session("sid", "skey", "user:bob"));
    assert_eq!(h.login(1, opts()), vec![Output::CheckSession { flow: FlowId(0) }]);
    assert_eq!(h.check_session(0, true), vec![login_ok(1, Some("user:bob"))]);
    assert_eq!(h.svc.session(), Some(&v1_session("sid", "skey", "user:bob")));
    assert_eq!(h.svc.poll_timeout(), None);
    // The flow is over: a second answer is stale.
    assert_eq!(h.check_session(0, false), vec![]);
    assert_eq!(h.svc.session(), Some(&v1_session("sid", "skey", "user:bob")));
}

#[test]
fn logins_joining_the_check_share_it() {
    let mut h = Harness::with_session(v1_session("sid", "skey", "user:bob"));
    assert_eq!(h.login(1, opts()), vec![Output::CheckSession { flow: FlowId(0) }]);
    assert_eq!(h.login(2, opts()), vec![], "joins the running check");
    assert_eq!(h.check_session(0, true), vec![login_ok(1, Some("user:bob")), login_ok(2, Some("user:bob"))]);
}

#[test]
fn session_cleared_during_the_check_forces_a_fresh_login() {
    let mut h = Harness::with_session(v1_session("sid", "skey", "user:bob"));
    h.login(1, opts());
    h.svc.clear_session();
    assert_eq!(h.drain(), vec![], "clear_session has no output");
    assert_eq!(h.check_session(0, true), vec![wx_login(0)]);
}
