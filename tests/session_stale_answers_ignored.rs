//! Answers for unknown flows, unknown ops or the wrong stage are ignored.
mod common;

use common::session_harness::*;
use wafer_core::session::{FlowId, Output};

#[test]
fn answers_out_of_place_change_nothing() {
    let mut h = Harness::new();
    // Nothing runs.
    assert_eq!(h.check_session(0, true), vec![]);
    assert_eq!(h.wx_login(0, Ok("c")), vec![]);
    assert_eq!(h.user_info_ok(0), vec![]);
    assert_eq!(h.login_response(0, Ok(v1_login_ok("s", "k"))), vec![]);
    assert_eq!(h.request_response(9, 0, Ok(ok_response("x"))), vec![]);

    h.login(1, opts());
    // Flow 0 waits for wx.login: answers of other stages or flows are ignored.
    assert_eq!(h.check_session(0, false), vec![]);
    assert_eq!(h.user_info_ok(0), vec![]);
    assert_eq!(h.login_response(0, Ok(v1_login_ok("s", "k"))), vec![]);
    assert_eq!(h.wx_login(1, Ok("c")), vec![]);
    assert_eq!(h.svc.session(), None);
    // The right answer still works.
    assert_eq!(h.wx_login(0, Ok("c")), vec![Output::GetUserInfo { flow: FlowId(0) }]);
    assert_eq!(h.wx_login(0, Ok("c")), vec![], "a duplicate answer is ignored");

    h.request(2, false);
    assert_eq!(h.request_response(2, 1, Ok(ok_response("x"))), vec![], "wrong attempt");
    assert_eq!(h.request_response(2, 0, Ok(ok_response("x"))), vec![request_ok(2, "x")]);
}
