//! When every waiter timed out the flow is abandoned: its late answers store nothing and
//! output nothing; the next login starts a new flow.
mod common;

use common::session_harness::*;
use wafer_core::session::{ErrorKind, FlowId, Output};

#[test]
fn late_login_response_is_ignored() {
    let mut h = Harness::new();
    h.login(1, opts_timeout(5_000));
    h.wx_login(0, Ok("c"));
    h.user_info_ok(0);
    assert_eq!(h.advance(5_000), vec![login_err(1, err(ErrorKind::LoginTimeout, MSG_LOGIN_TIMEOUT, None))]);

    assert_eq!(h.login_response(0, Ok(v1_login_ok("sid", "skey"))), vec![]);
    assert_eq!(h.svc.session(), None);
    assert_eq!(h.svc.poll_timeout(), None);

    assert_eq!(h.login(2, opts()), vec![wx_login(1)], "a new flow");
    assert_eq!(h.login_response(0, Ok(v1_login_ok("sid", "skey"))), vec![], "old flow still stale");
    let outs = h.finish_v1_login(1, "c2", "sid2", "skey2");
    assert_eq!(outs, vec![Output::StoreSession(v1_session("sid2", "skey2", USER)), login_ok(2, Some(USER))]);
}

#[test]
fn late_answers_at_every_stage_are_ignored() {
    let mut h = Harness::with_session(v1_session("sid", "skey", "u"));
    h.login(1, opts_timeout(10));
    assert_eq!(h.advance(10).len(), 1);
    assert_eq!(h.check_session(0, false), vec![], "no RemoveSession from an abandoned flow");
    assert_eq!(h.svc.session(), Some(&v1_session("sid", "skey", "u")));
    assert_eq!(h.wx_login(0, Ok("c")), vec![]);
    assert_eq!(h.user_info_ok(0), vec![]);
    assert_eq!(h.login_response(0, Err("net")), vec![]);
    assert_eq!(h.login(2, opts()), vec![Output::CheckSession { flow: FlowId(1) }]);
}

#[test]
fn request_waiting_for_a_login_times_out_and_ignores_the_late_login() {
    let mut h = Harness::new();
    assert_eq!(h.request_with(1, true, opts_timeout(100)), vec![wx_login(0)]);
    assert_eq!(h.advance(100), vec![request_err(1, err(ErrorKind::LoginTimeout, MSG_LOGIN_TIMEOUT, None))]);
    assert_eq!(h.wx_login(0, Ok("c")), vec![]);
    assert_eq!(h.request_response(1, 0, Ok(ok_response("x"))), vec![]);
}
