//! A magic-id login body without `session` → `ERR_LOGIN_MISSING_SESSION` with the
//! server's error and message in the text; nothing stored.
mod common;

use common::session_harness::*;
use wafer_core::session::{ErrorKind, LoginResponse};

fn magic_error(error: Option<&str>, message: Option<&str>) -> LoginResponse<V> {
    LoginResponse {
        magic: true,
        error: error.map(str::to_owned),
        message: message.map(str::to_owned),
        ..login_body("raw-magic-error")
    }
}

#[test]
fn server_error_and_message_in_the_text() {
    let mut h = Harness::new();
    h.login(1, opts());
    h.wx_login(0, Ok("c"));
    h.user_info_ok(0);
    let outs = h.login_response(0, Ok(magic_error(Some("ERR_DECRYPT"), Some("解密失败"))));
    let error = err(ErrorKind::LoginMissingSession, "登录失败(ERR_DECRYPT)：解密失败", Some("raw-magic-error"));
    assert_eq!(outs, vec![login_err(1, error.clone())]);
    assert_eq!(error.kind.type_str(), "ERR_LOGIN_MISSING_SESSION");
    assert_eq!(h.svc.session(), None);
}

#[test]
fn missing_message_reads_unknown_error() {
    let mut h = Harness::new();
    h.login(1, opts());
    h.wx_login(0, Ok("c"));
    h.user_info_ok(0);
    let outs = h.login_response(0, Ok(magic_error(None, None)));
    let error = err(ErrorKind::LoginMissingSession, "登录失败(OTHER)：未知错误", Some("raw-magic-error"));
    assert_eq!(outs, vec![login_err(1, error)]);
}

#[test]
fn session_with_id_but_no_skey_is_missing_too() {
    let mut h = Harness::new();
    h.login(1, opts());
    h.wx_login(0, Ok("c"));
    h.user_info_ok(0);
    let body = LoginResponse { session_id: Some("sid".to_owned()), ..magic_error(Some("E"), Some("m")) };
    let outs = h.login_response(0, Ok(body));
    assert_eq!(
        outs,
        vec![login_err(1, err(ErrorKind::LoginMissingSession, "登录失败(E)：m", Some("raw-magic-error")))]
    );
    assert_eq!(h.svc.session(), None);
}
