//! N concurrent logins and N `request({login: true})` on a cold start share ONE flow:
//! one `wx.login`, one login request, and every caller gets its result (bug 8.4).
mod common;

use common::session_harness::*;
use wafer_core::session::{ErrorKind, LoginMode, LoginOptions, Output};

const N: u32 = 5;

#[test]
fn all_callers_share_one_wx_login_and_one_request() {
    let mut h = Harness::new();
    let mut starts = Vec::new();
    for i in 0..N {
        starts.extend(h.login(i, opts()));
        starts.extend(h.request(100 + i, true));
    }
    assert_eq!(starts, vec![wx_login(0)], "only the first call starts a flow");
    assert_eq!(h.wx_login(0, Ok("c")), vec![Output::GetUserInfo { flow: wafer_core::session::FlowId(0) }]);
    assert_eq!(h.user_info_ok(0), vec![login_request(0, "c")]);

    let outs = h.login_response(0, Ok(v1_login_ok("sid", "skey")));
    let mut expected = vec![Output::StoreSession(v1_session("sid", "skey", USER))];
    for i in 0..N {
        expected.push(login_ok(i, Some(USER)));
        expected.push(send(100 + i, 0, v1_headers("sid", "skey")));
    }
    assert_eq!(outs, expected, "joining order is kept");
}

#[test]
fn joiners_share_the_failure_too() {
    let mut h = Harness::new();
    h.login(1, opts());
    h.request(2, true);
    h.login(3, opts());
    let error = err(ErrorKind::WxLoginFailed, MSG_WX_LOGIN_FAILED, Some("fail"));
    assert_eq!(
        h.wx_login(0, Err("fail")),
        vec![login_err(1, error.clone()), request_err(2, error.clone()), login_err(3, error)]
    );
}

#[test]
fn a_joiner_follows_the_running_flow_not_its_own_options() {
    let mut h = Harness::new();
    h.login(1, opts());
    let code_only = LoginOptions { mode: LoginMode::CodeOnly, method: Some("PUT".to_owned()), ..opts() };
    assert_eq!(h.login(2, code_only), vec![]);
    assert_eq!(h.wx_login(0, Ok("c")), vec![Output::GetUserInfo { flow: wafer_core::session::FlowId(0) }]);
    assert_eq!(h.user_info_ok(0), vec![login_request(0, "c")]);
}

#[test]
fn login_requests_with_a_session_join_the_running_check() {
    let mut h = Harness::with_session(v1_session("sid", "skey", "u"));
    assert_eq!(h.login(1, opts()), vec![Output::CheckSession { flow: wafer_core::session::FlowId(0) }]);
    assert_eq!(h.request(2, true), vec![], "joins the running wx.checkSession");
    assert_eq!(h.request(3, false), vec![send(3, 0, v1_headers("sid", "skey"))], "no login: sent at once");
    assert_eq!(h.check_session(0, true), vec![login_ok(1, Some("u")), send(2, 0, v1_headers("sid", "skey"))]);
}
