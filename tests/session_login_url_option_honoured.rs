//! `options.loginUrl` is honoured (the original ignored it), and wins over `setLoginUrl`.
mod common;

use common::session_harness::*;
use wafer_core::session::{FlowId, LoginOptions, Output};

fn request_url(outs: &[Out]) -> Option<String> {
    outs.iter().find_map(|o| match o {
        Output::LoginRequest { url, .. } => Some(url.clone()),
        _ => None,
    })
}

#[test]
fn option_url_used_when_no_url_is_set() {
    let mut h = Harness::without_url();
    let options = LoginOptions { login_url: Some("https://other.example.com/login".to_owned()), ..opts() };
    assert_eq!(h.login(1, options), vec![wx_login(0)]);
    assert_eq!(h.wx_login(0, Ok("c")), vec![Output::GetUserInfo { flow: FlowId(0) }]);
    let outs = h.user_info_ok(0);
    assert_eq!(request_url(&outs).as_deref(), Some("https://other.example.com/login"));
}

#[test]
fn option_url_wins_over_set_url() {
    let mut h = Harness::new();
    let options = LoginOptions { login_url: Some("https://other.example.com/login".to_owned()), ..opts() };
    h.login(1, options);
    h.wx_login(0, Ok("c"));
    let outs = h.user_info_ok(0);
    assert_eq!(request_url(&outs).as_deref(), Some("https://other.example.com/login"));
}

#[test]
fn set_url_used_when_option_absent() {
    let mut h = Harness::new();
    h.login(1, opts());
    h.wx_login(0, Ok("c"));
    let outs = h.user_info_ok(0);
    assert_eq!(request_url(&outs).as_deref(), Some(LOGIN_URL));
}
