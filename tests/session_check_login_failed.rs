//! Any other magic-id error → session cleared, `ERR_CHECK_LOGIN_FAILED` with the server's
//! error and message in the original's text; no retry.
mod common;

use common::session_harness::*;
use wafer_core::session::{ErrorKind, Output, RequestResponse};

#[test]
fn other_magic_error_fails_with_the_server_text() {
    let mut h = Harness::with_session(v1_session("sid", "skey", "u"));
    h.request(1, false);
    let outs = h.request_response(1, 0, Ok(magic_response("ERR_SKEY_INVALID", "skey 不合法")));
    let text = "鉴权服务器检查登录态发生错误(ERR_SKEY_INVALID)：skey 不合法";
    assert_eq!(
        outs,
        vec![
            Output::RemoveSession,
            request_err(1, err(ErrorKind::CheckLoginFailed, text, Some("magic:ERR_SKEY_INVALID")))
        ]
    );
    assert_eq!(h.svc.session(), None);
}

#[test]
fn missing_error_and_message_use_the_original_fallbacks() {
    let mut h = Harness::new();
    h.request(1, false);
    let resp = RequestResponse { magic: true, ..ok_response("bare magic") };
    let outs = h.request_response(1, 0, Ok(resp));
    let text = "鉴权服务器检查登录态发生错误(OTHER)：未知错误";
    assert_eq!(
        outs,
        vec![request_err(1, err(ErrorKind::CheckLoginFailed, text, Some("bare magic")))],
        "no session, no RemoveSession"
    );
}
