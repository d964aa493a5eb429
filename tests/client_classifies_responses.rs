//! The core reads responses itself: v1/v2 login bodies, request verdicts (magic id,
//! v2 `code: -1`, HTTP 401, Android's string status), tunnel URL bodies.
mod common;

use common::client_harness::*;
use wafer_core::client::{read_login_response, read_request_response, socket_url_of, Output};
use wafer_core::session::{ErrorKind, MAGIC_ID};
use wafer_core::value::Value;

#[test]
fn tunnel_url_bodies() {
    let v2 = Value::object([
        ("code", Value::Number(0.0)),
        ("data", Value::object([("tunnelId", Value::str("t")), ("connectUrl", Value::str("wss://v2"))])),
    ]);
    assert_eq!(socket_url_of(&Value::response(200.0, v2.clone())).as_deref(), Some("wss://v2"));
    assert_eq!(socket_url_of(&url_response(7)).as_deref(), Some("wss://ws.example.com/7"));
    let string_status = Value::object([("statusCode", Value::str("200")), ("data", v2)]);
    assert_eq!(socket_url_of(&string_status).as_deref(), Some("wss://v2"));
    let not_ok = Value::response(500.0, Value::object([("url", Value::str("wss://x"))]));
    assert_eq!(socket_url_of(&not_ok), None);
    assert_eq!(socket_url_of(&Value::response(200.0, Value::str("garbage"))), None);
    assert_eq!(socket_url_of(&Value::Null), None);
}

#[test]
fn login_bodies() {
    let v1 = Value::response(
        200.0,
        Value::object([
            (MAGIC_ID, Value::Number(1.0)),
            ("session", Value::object([("id", Value::str("i")), ("skey", Value::str("s"))])),
        ]),
    );
    let r = read_login_response(v1);
    assert!(r.magic);
    assert_eq!((r.session_id.as_deref(), r.session_skey.as_deref()), (Some("i"), Some("s")));
    let v2 = Value::response(
        200.0,
        Value::object([
            ("code", Value::Number(0.0)),
            ("data", Value::object([("skey", Value::str("k")), ("userinfo", Value::str("u"))])),
        ]),
    );
    let r = read_login_response(v2);
    assert_eq!((r.code, r.v2_skey.as_deref(), r.v2_user_info), (Some(0.0), Some("k"), Some(Value::str("u"))));
}

#[test]
fn request_verdicts() {
    let r = read_request_response(magic_error("ERR_INVALID_SESSION"));
    assert!(r.magic);
    assert_eq!(r.error.as_deref(), Some("ERR_INVALID_SESSION"));
    let r = read_request_response(Value::response(401.0, Value::object([])));
    assert_eq!(r.status, Some(401.0));
    let r = read_request_response(Value::response(200.0, Value::object([("code", Value::Number(-1.0))])));
    assert_eq!(r.code, Some(-1.0));
    let r = read_request_response(Value::object([("statusCode", Value::str("200")), ("data", Value::Null)]));
    assert_eq!((r.status, r.magic, r.code), (Some(200.0), false, None));
}

#[test]
fn bad_request_options_fail_as_request_errors() {
    let mut h = ClientHarness::new();
    let cases = [
        (Value::Undefined, "请求参数错误：options 必须是对象"),
        (Value::object([]), "请求参数错误：缺少 url"),
        (Value::object([("url", Value::str("u")), ("header", Value::str("h"))]), "请求参数错误：header 必须是对象"),
        (
            Value::object([("url", Value::str("u")), ("header", Value::object([("REFERER", Value::str("x"))]))]),
            "请求参数错误：不能设置 Referer 请求头",
        ),
    ];
    for (options, message) in cases {
        let (_, out) = h.request(options);
        match out.as_slice() {
            [Output::RequestDone { result: Err(e), request_error: true, .. }] => {
                assert_eq!((e.kind, e.message.as_str()), (ErrorKind::InvalidParams, message));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_login_failure_of_a_request_is_a_login_error() {
    let mut h = ClientHarness::new();
    let options = Value::object([("url", Value::str("https://app.example.com/api")), ("login", Value::Bool(true))]);
    let (_, out) = h.request(options);
    let flow = wx_login_flow(&out).unwrap();
    h.client.handle_wx_login(flow, false, Value::str("fail"), h.storage.at(h.now));
    match h.drain().as_slice() {
        [Output::RequestDone { result: Err(e), request_error: false, .. }] => {
            assert_eq!(e.kind, ErrorKind::WxLoginFailed)
        }
        other => panic!("{other:?}"),
    }
}
