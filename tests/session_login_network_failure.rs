//! The login request fails on the network → `ERR_LOGIN_FAILED` (detail = the wx error).
mod common;

use common::session_harness::*;
use wafer_core::session::ErrorKind;

#[test]
fn network_failure_of_the_login_request() {
    let mut h = Harness::new();
    h.login(1, opts());
    h.wx_login(0, Ok("c"));
    h.user_info_ok(0);
    let outs = h.login_response(0, Err("request:fail timeout"));
    assert_eq!(outs, vec![login_err(1, err(ErrorKind::LoginFailed, MSG_LOGIN_FAILED, Some("request:fail timeout")))]);
    assert_eq!(h.svc.session(), None);
    // A new login starts a new flow.
    assert_eq!(h.login(2, opts()), vec![wx_login(1)]);
}
