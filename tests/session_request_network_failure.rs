//! A session request failing on the network → `ERR_REQUEST_FAILED` with the wx error as
//! detail; the session is kept and nothing is retried.
mod common;

use common::session_harness::*;
use wafer_core::session::ErrorKind;

#[test]
fn network_failure_fails_the_request() {
    let mut h = Harness::with_session(v1_session("sid", "skey", "u"));
    h.request(1, false);
    let error = err(ErrorKind::RequestFailed, MSG_REQUEST_FAILED, Some("request:fail"));
    assert_eq!(h.request_response(1, 0, Err("request:fail")), vec![request_err(1, error.clone())]);
    assert_eq!(error.kind.type_str(), "ERR_REQUEST_FAILED");
    assert_eq!(h.svc.session(), Some(&v1_session("sid", "skey", "u")));
    assert_eq!(h.request_response(1, 0, Ok(ok_response("late"))), vec![]);
}

#[test]
fn network_failure_of_the_retry_fails_the_request() {
    let mut h = Harness::with_session(v1_session("sid", "skey", "u"));
    h.request(1, false);
    h.request_response(1, 0, Ok(invalid_session()));
    h.finish_v1_login(0, "c", "sid2", "skey2");
    let error = err(ErrorKind::RequestFailed, MSG_REQUEST_FAILED, Some("timeout"));
    assert_eq!(h.request_response(1, 1, Err("timeout")), vec![request_err(1, error)]);
}
