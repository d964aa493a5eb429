//! The login request: `X-WX-Code`, `X-WX-Encrypted-Data`, `X-WX-IV`; method (default
//! `GET`, upper-cased) and `data` from the options.
mod common;

use common::session_harness::*;
use wafer_core::session::{FlowId, LoginOptions, Output, UserDetail};

#[test]
fn default_request_is_get_with_the_three_headers() {
    let mut h = Harness::new();
    h.login(1, opts());
    h.wx_login(0, Ok("the-code"));
    assert_eq!(h.user_info_ok(0), vec![login_request(0, "the-code")]);
}

#[test]
fn method_is_upper_cased_and_data_passed_through() {
    let mut h = Harness::new();
    let options = LoginOptions { method: Some("post".to_owned()), data: Some("payload".to_owned()), ..opts() };
    h.login(1, options);
    h.wx_login(0, Ok("c"));
    assert_eq!(
        h.user_info_ok(0),
        vec![Output::LoginRequest {
            flow: FlowId(0),
            url: LOGIN_URL.to_owned(),
            method: "POST".to_owned(),
            headers: vec![
                ("X-WX-Code", "c".to_owned()),
                ("X-WX-Encrypted-Data", ENCRYPTED.to_owned()),
                ("X-WX-IV", IV.to_owned()),
            ],
            data: Some("payload".to_owned()),
        }]
    );
}

#[test]
fn absent_user_data_headers_are_left_out() {
    let mut h = Harness::new();
    let options = LoginOptions { method: Some(String::new()), ..opts() };
    h.login(1, options);
    h.wx_login(0, Ok("c"));
    let detail = UserDetail { user_info: None, encrypted_data: Some(String::new()), iv: Some(String::new()) };
    assert_eq!(
        h.user_info(0, Ok(detail)),
        vec![Output::LoginRequest {
            flow: FlowId(0),
            url: LOGIN_URL.to_owned(),
            method: "GET".to_owned(),
            headers: vec![("X-WX-Code", "c".to_owned())],
            data: None,
        }]
    );
}
