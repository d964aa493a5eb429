//! Concurrent requests that all hit an invalid session share ONE re-login flow.
mod common;

use common::session_harness::*;
use wafer_core::session::Output;

#[test]
fn invalid_answers_during_the_relogin_join_it() {
    let mut h = Harness::with_session(v1_session("old", "old-skey", "u"));
    for op in 1..=3 {
        assert_eq!(h.request(op, false), vec![send(op, 0, v1_headers("old", "old-skey"))]);
    }
    assert_eq!(h.request_response(1, 0, Ok(invalid_session())), vec![Output::RemoveSession, wx_login(0)]);
    assert_eq!(h.request_response(2, 0, Ok(invalid_session())), vec![], "joins the re-login");
    assert_eq!(h.request_response(3, 0, Ok(invalid_session())), vec![], "joins the re-login");

    let outs = h.finish_v1_login(0, "c", "new", "new-skey");
    assert_eq!(
        outs,
        vec![
            Output::StoreSession(v1_session("new", "new-skey", USER)),
            send(1, 1, v1_headers("new", "new-skey")),
            send(2, 1, v1_headers("new", "new-skey")),
            send(3, 1, v1_headers("new", "new-skey")),
        ]
    );
}

#[test]
fn invalid_answer_for_an_old_session_after_the_relogin_keeps_the_new_one() {
    let mut h = Harness::with_session(v1_session("old", "old-skey", "u"));
    h.request(1, false);
    h.request(2, false);
    h.request_response(1, 0, Ok(invalid_session()));
    let outs = h.finish_v1_login(0, "c", "new", "new-skey");
    assert_eq!(outs.last(), Some(&send(1, 1, v1_headers("new", "new-skey"))));

    // Op 2 was sent with the old session: its verdict does not touch the new session; it
    // is retried at once with the new one, with no second login.
    assert_eq!(h.request_response(2, 0, Ok(invalid_session())), vec![send(2, 1, v1_headers("new", "new-skey"))]);
    assert_eq!(h.svc.session(), Some(&v1_session("new", "new-skey", USER)));
    assert_eq!(h.svc.poll_timeout(), None);
}

#[test]
fn other_magic_error_for_an_old_session_keeps_the_new_one() {
    let mut h = Harness::with_session(v1_session("old", "old-skey", "u"));
    h.request(1, false);
    h.svc.set_session(v1_session("new", "new-skey", "u"));
    let outs = h.request_response(1, 0, Ok(magic_response("ERR_X", "m")));
    assert_eq!(outs.len(), 1, "only the RequestDone: {outs:?}");
    assert!(h.svc.session().is_some());
}
