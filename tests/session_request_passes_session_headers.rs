//! `request` sends at once with `buildSessionHeader()`: v1 id + skey, v2 skey only, or
//! nothing without a session; `login: true` with a session checks it with
//! `wx.checkSession` first (as the original's `login()` does), then sends.
mod common;

use common::session_harness::*;
use wafer_core::session::{FlowId, Output, StoredSession};

#[test]
fn v1_session_headers() {
    let mut h = Harness::with_session(v1_session("sid", "skey", "u"));
    assert_eq!(h.request(1, false), vec![send(1, 0, v1_headers("sid", "skey"))]);
    assert_eq!(h.request(2, true), vec![Output::CheckSession { flow: FlowId(0) }]);
    assert_eq!(h.check_session(0, true), vec![send(2, 0, v1_headers("sid", "skey"))]);
}

#[test]
fn v2_session_sends_skey_only() {
    let mut h = Harness::new();
    h.svc.set_session(StoredSession {
        id: None,
        skey: "k".to_owned(),
        user_info: None,
        stored: Some("data".to_owned()),
    });
    assert_eq!(h.drain(), vec![], "set_session has no output");
    assert_eq!(h.request(1, false), vec![send(1, 0, vec![("X-WX-Skey", "k".to_owned())])]);
}

#[test]
fn no_session_no_login_sends_without_headers() {
    let mut h = Harness::new();
    assert_eq!(h.svc.session_headers(), vec![]);
    assert_eq!(h.request(1, false), vec![send(1, 0, vec![])]);
}

#[test]
fn request_after_clear_session_has_no_headers() {
    let mut h = Harness::with_session(v1_session("sid", "skey", "u"));
    h.svc.clear_session();
    assert_eq!(h.drain(), vec![], "the driver removes storage itself");
    assert_eq!(h.request(1, false), vec![send(1, 0, vec![])]);
}
