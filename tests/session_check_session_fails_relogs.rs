//! `wx.checkSession` fails → the session is cleared (`RemoveSession`) and a fresh login runs.
mod common;

use common::session_harness::*;
use wafer_core::session::{FlowId, Output};

#[test]
fn failed_check_clears_the_session_and_logs_in() {
    let mut h = Harness::with_session(v1_session("old-sid", "old-skey", "user:bob"));
    assert_eq!(h.login(1, opts()), vec![Output::CheckSession { flow: FlowId(0) }]);
    assert_eq!(h.check_session(0, false), vec![Output::RemoveSession, wx_login(0)]);
    assert_eq!(h.svc.session(), None);
    assert_eq!(h.svc.session_headers(), vec![]);

    let outs = h.finish_v1_login(0, "code", "new-sid", "new-skey");
    assert_eq!(outs, vec![Output::StoreSession(v1_session("new-sid", "new-skey", USER)), login_ok(1, Some(USER))]);
    assert_eq!(h.svc.session_headers(), v1_headers("new-sid", "new-skey"));
}
