//! A response without the magic id and without a v2 invalid-session mark is handed to
//! `success` raw, whatever its status.
mod common;

use common::session_harness::*;
use wafer_core::session::RequestResponse;

#[test]
fn plain_response_succeeds_raw() {
    let mut h = Harness::with_session(v1_session("sid", "skey", "u"));
    h.request(1, false);
    assert_eq!(h.request_response(1, 0, Ok(ok_response("{\"ok\":1}"))), vec![request_ok(1, "{\"ok\":1}")]);
    assert!(h.svc.session().is_some(), "session kept");
    assert_eq!(h.request_response(1, 0, Ok(ok_response("again"))), vec![], "finished op is stale");
}

#[test]
fn http_errors_other_than_401_pass_through() {
    let mut h = Harness::new();
    h.request(1, false);
    let resp = RequestResponse { status: Some(500.0), code: Some(1.0), ..ok_response("500 page") };
    assert_eq!(h.request_response(1, 0, Ok(resp)), vec![request_ok(1, "500 page")]);
}
