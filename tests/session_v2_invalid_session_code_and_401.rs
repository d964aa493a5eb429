//! v2: `code: -1` in the body or HTTP 401 means the session is invalid: clear, log in
//! again, retry once; a second time → `ERR_INVALID_SESSION`.
mod common;

use common::session_harness::*;
use wafer_core::session::{ErrorKind, Output, RequestResponse, StoredSession};

fn v2_session(skey: &str) -> StoredSession<V> {
    StoredSession { id: None, skey: skey.to_owned(), user_info: Some("u".to_owned()), stored: Some("d".to_owned()) }
}

fn code_minus_one() -> RequestResponse<V> {
    RequestResponse { code: Some(-1.0), ..ok_response("code -1") }
}

fn status_401() -> RequestResponse<V> {
    RequestResponse { status: Some(401.0), ..ok_response("401") }
}

fn run(first: RequestResponse<V>, second: RequestResponse<V>, raw: &str) {
    let mut h = Harness::with_session(v2_session("k1"));
    assert_eq!(h.request(1, false), vec![send(1, 0, vec![("X-WX-Skey", "k1".to_owned())])]);
    assert_eq!(h.request_response(1, 0, Ok(first)), vec![Output::RemoveSession, wx_login(0)]);
    h.wx_login(0, Ok("c"));
    h.user_info_ok(0);
    assert_eq!(
        h.login_response(0, Ok(v2_login_ok("k2", "u2"))),
        vec![
            Output::StoreSession(StoredSession {
                id: None,
                skey: "k2".to_owned(),
                user_info: Some("u2".to_owned()),
                stored: Some("data:k2:u2".to_owned())
            }),
            send(1, 1, vec![("X-WX-Skey", "k2".to_owned())]),
        ]
    );
    assert_eq!(
        h.request_response(1, 1, Ok(second)),
        vec![Output::RemoveSession, request_err(1, err(ErrorKind::InvalidSession, MSG_SESSION_EXPIRED, Some(raw)))]
    );
}

#[test]
fn code_minus_one_then_code_minus_one() {
    run(code_minus_one(), code_minus_one(), "code -1");
}

#[test]
fn status_401_then_status_401() {
    run(status_401(), status_401(), "401");
}

#[test]
fn code_minus_one_then_401() {
    run(code_minus_one(), status_401(), "401");
}

#[test]
fn retry_success_after_401() {
    let mut h = Harness::with_session(v2_session("k1"));
    h.request(1, false);
    h.request_response(1, 0, Ok(status_401()));
    h.wx_login(0, Ok("c"));
    h.user_info_ok(0);
    h.login_response(0, Ok(v2_login_ok("k2", "u2")));
    assert_eq!(h.request_response(1, 1, Ok(ok_response("fine"))), vec![request_ok(1, "fine")]);
}
