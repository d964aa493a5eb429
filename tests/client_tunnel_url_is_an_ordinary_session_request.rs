//! A tunnel's service-URL request is an ordinary session request: it carries the stored
//! session (even one the SDK did not write), logs in nowhere first, and on
//! `ERR_INVALID_SESSION` re-logs in once and retries once with the new session.
mod common;

use common::client_harness::*;
use wafer_core::client::Output;
use wafer_core::value::Value;

#[test]
fn a_session_written_by_the_page_is_used_and_replaced_with_one_login() {
    let mut h = ClientHarness::new();
    h.storage.value = Some(stored("page-id", "page-skey"));
    let t = h.create(Value::Undefined);
    let out = h.open(t);
    assert_eq!(wx_login_flow(&out), None, "no login before the URL request");
    assert_eq!(tunnel_url_headers(&out), Some(headers("page-id", "page-skey")));
    let (op, attempt) = tunnel_url_request(&out).unwrap();

    // The server refuses the page's session: one login, then the retry with its session.
    let out = h.answer(op, attempt, magic_error("ERR_INVALID_SESSION"));
    assert_eq!(h.storage.value, None, "the refused session is removed");
    let out = h.complete_login(&out, "new-id", "new-skey");
    assert_eq!(tunnel_url_headers(&out), Some(headers("new-id", "new-skey")));
    let (op, attempt) = tunnel_url_request(&out).unwrap();
    let out = h.answer(op, attempt, url_response(1));
    assert!(connect_of(&out).is_some(), "{out:?}");
    let logins = out.iter().filter(|o| matches!(o, Output::WxLogin { .. })).count();
    assert_eq!(logins, 0);
}

#[test]
fn no_session_means_no_headers_and_no_login() {
    let mut h = ClientHarness::new();
    let t = h.create(Value::Undefined);
    let out = h.open(t);
    assert_eq!(wx_login_flow(&out), None);
    assert_eq!(tunnel_url_headers(&out), Some(vec![]));
}

#[test]
fn a_second_invalid_session_fails_the_first_connection_with_1001() {
    let mut h = ClientHarness::new();
    h.storage.value = Some(stored("a", "b"));
    let t = h.create(Value::Undefined);
    let out = h.open(t);
    let (op, attempt) = tunnel_url_request(&out).unwrap();
    let out = h.answer(op, attempt, magic_error("ERR_INVALID_SESSION"));
    let out = h.complete_login(&out, "c", "d");
    let (op, attempt) = tunnel_url_request(&out).unwrap();
    let out = h.answer(op, attempt, magic_error("ERR_INVALID_SESSION"));
    let codes: Vec<u32> = out
        .iter()
        .filter_map(|o| match o {
            Output::Event { event: wafer_core::tunnel::Event::Error { error, .. }, .. } => Some(error.code()),
            _ => None,
        })
        .collect();
    assert_eq!(codes, [1001]);
    assert!(wx_login_flow(&out).is_none(), "no second login");
}
