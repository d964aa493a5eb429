//! `request({login: true})` without a session logs in first, then sends with the new
//! session headers; a failed login fails the request with that login error unchanged.
mod common;

use common::session_harness::*;
use wafer_core::session::{ErrorKind, Output};

#[test]
fn login_then_send() {
    let mut h = Harness::new();
    assert_eq!(h.request(1, true), vec![wx_login(0)]);
    let outs = h.finish_v1_login(0, "c", "sid", "skey");
    assert_eq!(
        outs,
        vec![Output::StoreSession(v1_session("sid", "skey", USER)), send(1, 0, v1_headers("sid", "skey"))]
    );
    assert_eq!(h.request_response(1, 0, Ok(ok_response("body"))), vec![request_ok(1, "body")]);
}

#[test]
fn login_failure_fails_the_request_unchanged() {
    let mut h = Harness::new();
    h.request(1, true);
    h.wx_login(0, Ok("c"));
    h.user_info_ok(0);
    assert_eq!(
        h.login_response(0, Err("net down")),
        vec![request_err(1, err(ErrorKind::LoginFailed, MSG_LOGIN_FAILED, Some("net down")))]
    );
}

#[test]
fn answers_before_the_send_are_stale() {
    let mut h = Harness::new();
    h.request(1, true);
    assert_eq!(h.request_response(1, 0, Ok(ok_response("too early"))), vec![]);
    let outs = h.finish_v1_login(0, "c", "sid", "skey");
    assert_eq!(outs.last(), Some(&send(1, 0, v1_headers("sid", "skey"))));
}
