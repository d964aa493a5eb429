//! `wx.login` fails → `ERR_WX_LOGIN_FAILED` with the wx error as detail; no request.
mod common;

use common::session_harness::*;
use wafer_core::session::ErrorKind;

#[test]
fn wx_login_failure_fails_every_waiter() {
    let mut h = Harness::new();
    h.login(1, opts());
    h.login(2, opts());
    let error = err(ErrorKind::WxLoginFailed, MSG_WX_LOGIN_FAILED, Some("login:fail"));
    assert_eq!(h.wx_login(0, Err("login:fail")), vec![login_err(1, error.clone()), login_err(2, error)]);
    assert_eq!(h.svc.poll_timeout(), None);
    assert_eq!(h.user_info_ok(0), vec![], "the flow is over");
}
