//! `wx.getUserInfo` fails → `ERR_WX_GET_USER_INFO` with the wx error as detail; no request.
mod common;

use common::session_harness::*;
use wafer_core::session::ErrorKind;

#[test]
fn get_user_info_failure_fails_the_login() {
    let mut h = Harness::new();
    h.login(1, opts());
    h.wx_login(0, Ok("c"));
    let error = err(ErrorKind::WxGetUserInfo, MSG_WX_GET_USER_INFO, Some("getUserInfo:fail auth deny"));
    assert_eq!(h.user_info(0, Err("getUserInfo:fail auth deny")), vec![login_err(1, error)]);
    assert_eq!(h.login_response(0, Ok(v1_login_ok("s", "k"))), vec![], "the flow is over");
    assert_eq!(h.svc.session(), None);
}
