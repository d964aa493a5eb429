//! A magic-id `ERR_INVALID_SESSION` answer clears the session, logs in again and retries
//! the request once with the new session.
mod common;

use common::session_harness::*;
use wafer_core::session::{LoginOptions, Output};

#[test]
fn invalid_session_relogs_and_retries_once() {
    let mut h = Harness::with_session(v1_session("old", "old-skey", "u"));
    assert_eq!(h.request(1, false), vec![send(1, 0, v1_headers("old", "old-skey"))]);
    assert_eq!(h.request_response(1, 0, Ok(invalid_session())), vec![Output::RemoveSession, wx_login(0)]);
    assert_eq!(h.svc.session(), None);

    let outs = h.finish_v1_login(0, "c", "new", "new-skey");
    assert_eq!(
        outs,
        vec![Output::StoreSession(v1_session("new", "new-skey", USER)), send(1, 1, v1_headers("new", "new-skey"))]
    );
    assert_eq!(h.request_response(1, 0, Ok(ok_response("dup of attempt 0"))), vec![], "old attempt is stale");
    assert_eq!(h.request_response(1, 1, Ok(ok_response("body"))), vec![request_ok(1, "body")]);
}

#[test]
fn relogin_uses_the_requests_login_options() {
    let mut h = Harness::with_session(v1_session("old", "old-skey", "u"));
    let options = LoginOptions { login_url: Some("https://x.example.com/l".to_owned()), ..opts() };
    h.request_with(1, false, options);
    h.request_response(1, 0, Ok(invalid_session()));
    h.wx_login(0, Ok("c"));
    let outs = h.user_info_ok(0);
    assert!(
        matches!(outs.as_slice(), [Output::LoginRequest { url, .. }] if url == "https://x.example.com/l"),
        "{outs:?}"
    );
}

#[test]
fn relogin_failure_fails_the_request_with_the_login_error() {
    let mut h = Harness::with_session(v1_session("old", "old-skey", "u"));
    h.request(1, false);
    h.request_response(1, 0, Ok(invalid_session()));
    let error = err(wafer_core::session::ErrorKind::WxLoginFailed, MSG_WX_LOGIN_FAILED, Some("no"));
    assert_eq!(h.wx_login(0, Err("no")), vec![request_err(1, error)]);
}
