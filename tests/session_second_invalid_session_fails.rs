//! A second invalid session for the same request → `ERR_INVALID_SESSION` ("登录态已过期"),
//! no third attempt.
mod common;

use common::session_harness::*;
use wafer_core::session::{ErrorKind, Output};

#[test]
fn second_invalid_session_is_an_error() {
    let mut h = Harness::with_session(v1_session("old", "old-skey", "u"));
    h.request(1, false);
    h.request_response(1, 0, Ok(invalid_session()));
    h.finish_v1_login(0, "c", "new", "new-skey");
    let outs = h.request_response(1, 1, Ok(invalid_session()));
    assert_eq!(
        outs,
        vec![
            Output::RemoveSession,
            request_err(1, err(ErrorKind::InvalidSession, MSG_SESSION_EXPIRED, Some("magic:ERR_INVALID_SESSION"))),
        ]
    );
    assert_eq!(h.svc.session(), None);
    assert_eq!(h.svc.poll_timeout(), None, "no new login");
}
