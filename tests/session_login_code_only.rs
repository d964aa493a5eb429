//! Mode `CodeOnly` (`loginWithCode`): the login request carries `X-WX-Code` only.
mod common;

use common::session_harness::*;
use wafer_core::session::{FlowId, LoginMode, LoginOptions, Output, StoredSession};

#[test]
fn code_only_sends_just_the_code() {
    let mut h = Harness::new();
    let options = LoginOptions { mode: LoginMode::CodeOnly, ..opts() };
    assert_eq!(h.login(1, options), vec![wx_login(0)]);
    assert_eq!(
        h.wx_login(0, Ok("c")),
        vec![Output::LoginRequest {
            flow: FlowId(0),
            url: LOGIN_URL.to_owned(),
            method: "GET".to_owned(),
            headers: vec![("X-WX-Code", "c".to_owned())],
            data: None,
        }]
    );
    let stored = StoredSession {
        id: None,
        skey: "k2".to_owned(),
        user_info: Some("user:known".to_owned()),
        stored: Some("data:k2:user:known".to_owned()),
    };
    assert_eq!(
        h.login_response(0, Ok(v2_login_ok("k2", "user:known"))),
        vec![Output::StoreSession(stored), login_ok(1, Some("user:known"))]
    );
}

#[test]
fn code_only_v1_session_has_no_user_info() {
    let mut h = Harness::new();
    h.login(1, LoginOptions { mode: LoginMode::CodeOnly, ..opts() });
    h.wx_login(0, Ok("c"));
    let stored = StoredSession { id: Some("sid".to_owned()), skey: "skey".to_owned(), user_info: None, stored: None };
    assert_eq!(
        h.login_response(0, Ok(v1_login_ok("sid", "skey"))),
        vec![Output::StoreSession(stored), login_ok(1, None)]
    );
}
