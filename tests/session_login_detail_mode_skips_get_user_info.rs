//! Mode `Detail` (data from a getUserInfo button / getUserProfile event): no
//! `wx.getUserInfo`, no check-session short-cut; the handed-in data is sent and stored.
mod common;

use common::session_harness::*;
use wafer_core::session::{FlowId, LoginMode, LoginOptions, Output, UserDetail};

fn detail_opts() -> LoginOptions<V> {
    let detail = UserDetail {
        user_info: Some("user:profile".to_owned()),
        encrypted_data: Some("BUTTON-ENC".to_owned()),
        iv: Some("BUTTON-IV".to_owned()),
    };
    LoginOptions { mode: LoginMode::Detail(detail), ..opts() }
}

fn detail_request(flow: u32) -> Out {
    Output::LoginRequest {
        flow: FlowId(flow),
        url: LOGIN_URL.to_owned(),
        method: "GET".to_owned(),
        headers: vec![
            ("X-WX-Code", "c".to_owned()),
            ("X-WX-Encrypted-Data", "BUTTON-ENC".to_owned()),
            ("X-WX-IV", "BUTTON-IV".to_owned()),
        ],
        data: None,
    }
}

#[test]
fn detail_goes_from_wx_login_straight_to_the_request() {
    let mut h = Harness::new();
    assert_eq!(h.login(1, detail_opts()), vec![wx_login(0)]);
    assert_eq!(h.wx_login(0, Ok("c")), vec![detail_request(0)]);
    assert_eq!(
        h.login_response(0, Ok(v1_login_ok("sid", "skey"))),
        vec![Output::StoreSession(v1_session("sid", "skey", "user:profile")), login_ok(1, Some("user:profile"))]
    );
}

#[test]
fn detail_skips_the_check_session_shortcut() {
    let mut h = Harness::with_session(v1_session("old", "old-skey", "user:anon"));
    assert_eq!(h.login(1, detail_opts()), vec![wx_login(0)], "no CheckSession");
    assert_eq!(h.wx_login(0, Ok("c")), vec![detail_request(0)]);
    // The old session stays usable until the new one arrives.
    assert_eq!(h.svc.session_headers(), v1_headers("old", "old-skey"));
    let outs = h.login_response(0, Ok(v1_login_ok("new", "new-skey")));
    assert_eq!(
        outs,
        vec![Output::StoreSession(v1_session("new", "new-skey", "user:profile")), login_ok(1, Some("user:profile"))]
    );
}
