//! A login body without the magic id (and not a v2 success) → `ERR_LOGIN_MISSING_SESSION`
//! with the original's text naming the URL; detail = raw response.
mod common;

use common::session_harness::*;
use wafer_core::session::{ErrorKind, LoginResponse};

#[test]
fn body_without_magic_fails_with_the_original_text() {
    let mut h = Harness::new();
    h.login(1, opts());
    h.wx_login(0, Ok("c"));
    h.user_info_ok(0);
    let outs = h.login_response(0, Ok(login_body("<html>502</html>")));
    let text = format!("登录请求没有包含会话响应，请确保服务器处理 `{LOGIN_URL}` 的时候正确使用了 SDK 输出登录结果");
    assert_eq!(outs, vec![login_err(1, err(ErrorKind::LoginMissingSession, &text, Some("<html>502</html>")))]);
    assert_eq!(h.svc.session(), None);
}

#[test]
fn v1_session_fields_without_magic_are_not_trusted() {
    let mut h = Harness::new();
    h.login(1, opts());
    h.wx_login(0, Ok("c"));
    h.user_info_ok(0);
    let body = LoginResponse { magic: false, ..v1_login_ok("sid", "skey") };
    let outs = h.login_response(0, Ok(body));
    assert!(matches!(
        outs.as_slice(),
        [wafer_core::session::Output::LoginDone { result: Err(e), .. }] if e.kind == ErrorKind::LoginMissingSession
    ));
    assert_eq!(h.svc.session(), None);
}

#[test]
fn v2_body_with_a_non_zero_code_fails() {
    let mut h = Harness::new();
    h.login(1, opts());
    h.wx_login(0, Ok("c"));
    h.user_info_ok(0);
    let body = LoginResponse { code: Some(-1.0), ..v2_login_ok("k", "u") };
    let outs = h.login_response(0, Ok(body));
    assert!(matches!(
        outs.as_slice(),
        [wafer_core::session::Output::LoginDone { result: Err(e), .. }] if e.kind == ErrorKind::LoginMissingSession
            && e.detail.as_deref() == Some("v2-login-ok")
    ));
    assert_eq!(h.svc.session(), None);
}
