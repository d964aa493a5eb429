//! Fuzz finding (classify target): a login answer whose session has an empty `skey` (v1
//! `session.skey: ""`, v2 `data.skey: ""`) was taken as a success, stored, and dropped
//! again by the next storage read (a stored value is a session only with a non-empty
//! `skey`, docs/PROTOCOL.md §4): `login` said yes and the next `request` went without a
//! session. It is a missing session (`ERR_LOGIN_MISSING_SESSION`), nothing stored.
mod common;

use common::client_harness::*;
use wafer_core::client::Output;
use wafer_core::session::{ErrorKind, MAGIC_ID};
use wafer_core::value::Value;

fn login_with(body: Value) -> (ClientHarness, Vec<Out>) {
    let mut h = ClientHarness::new();
    let (op, first) = h.login();
    let flow = wx_login_flow(&first).expect("wx.login");
    h.wx_login(flow, "code");
    h.user_info(flow);
    let res = Value::response(200.0, body);
    h.client.handle_login_response(flow, true, res, h.storage.at(h.now));
    let outs = h.drain();
    assert!(
        matches!(outs.as_slice(), [Output::LoginDone { op: o, result: Err(e) }]
            if *o == op && e.kind == ErrorKind::LoginMissingSession),
        "{outs:?}"
    );
    (h, outs)
}

#[test]
fn v1_session_with_empty_skey_is_missing() {
    let session = Value::object([("id", Value::str("sid")), ("skey", Value::str(""))]);
    let (mut h, _) = login_with(Value::object([(MAGIC_ID, Value::Number(1.0)), ("session", session)]));
    assert_eq!(h.storage.value, None);
    assert!(h.client.session_headers(h.storage.at(0)).is_empty());
}

#[test]
fn v2_data_with_empty_skey_is_missing() {
    let data = Value::object([("skey", Value::str("")), ("userinfo", Value::object([]))]);
    let (mut h, _) = login_with(Value::object([("code", Value::Number(0.0)), ("data", data)]));
    assert_eq!(h.storage.value, None);
    assert!(h.client.session_headers(h.storage.at(0)).is_empty());
}

#[test]
fn a_non_empty_skey_still_logs_in() {
    let mut h = ClientHarness::new();
    let (op, first) = h.login();
    let outs = h.complete_login(&first, "sid", "k");
    assert!(outs.iter().any(|o| matches!(o, Output::LoginDone { op: o, result: Ok(_) } if *o == op)), "{outs:?}");
    assert_eq!(h.client.session_headers(h.storage.at(0)), headers("sid", "k"));
}
