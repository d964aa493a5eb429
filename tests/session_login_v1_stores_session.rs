//! A v1 login: wx.login → wx.getUserInfo → login request → `{magic, session}` stores
//! `{id, skey, userInfo}` and hands the user info to `success`.
mod common;

use common::session_harness::*;
use wafer_core::session::{Output, StoredSession};

#[test]
fn v1_login_stores_the_session_then_succeeds() {
    let mut h = Harness::new();
    assert_eq!(h.login(1, opts()), vec![wx_login(0)]);
    let outs = h.finish_v1_login(0, "code-1", "sid-1", "skey-1");

    let stored = StoredSession {
        id: Some("sid-1".to_owned()),
        skey: "skey-1".to_owned(),
        user_info: Some(USER.to_owned()),
        stored: None,
    };
    assert_eq!(outs, vec![Output::StoreSession(stored.clone()), login_ok(1, Some(USER))]);
    assert_eq!(h.svc.session(), Some(&stored));
    assert_eq!(h.svc.session_headers(), v1_headers("sid-1", "skey-1"));
    assert_eq!(h.svc.poll_timeout(), None, "nothing waits any more");
}

#[test]
fn a_finished_login_starts_no_new_flow_until_called_again() {
    let mut h = Harness::new();
    h.login(1, opts());
    h.finish_v1_login(0, "code-1", "sid-1", "skey-1");
    // Answers for the finished flow are stale.
    assert_eq!(h.login_response(0, Ok(v1_login_ok("sid-2", "skey-2"))), vec![]);
    assert_eq!(h.wx_login(0, Ok("again")), vec![]);
    assert_eq!(h.svc.session_headers(), v1_headers("sid-1", "skey-1"));
}
