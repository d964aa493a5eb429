//! Each login caller has its own deadline (`options.timeout`, default 30 s) from when it
//! called; at the deadline it gets `ERR_LOGIN_TIMEOUT` (the original never timed out).
mod common;

use common::session_harness::*;
use wafer_core::session::{ErrorKind, DEFAULT_LOGIN_TIMEOUT};

fn timeout() -> wafer_core::session::Error<V> {
    err(ErrorKind::LoginTimeout, MSG_LOGIN_TIMEOUT, None)
}

#[test]
fn default_deadline_is_thirty_seconds() {
    let mut h = Harness::new();
    h.login(1, opts());
    assert_eq!(h.svc.poll_timeout(), Some(DEFAULT_LOGIN_TIMEOUT));
    assert_eq!(h.advance(DEFAULT_LOGIN_TIMEOUT - 1), vec![]);
    assert_eq!(h.advance(1), vec![login_err(1, timeout())]);
    assert_eq!(h.svc.poll_timeout(), None);
}

#[test]
fn each_waiter_has_its_own_deadline() {
    let mut h = Harness::new();
    h.login(1, opts_timeout(10_000));
    h.advance(4_000);
    h.login(2, opts_timeout(3_000)); // deadline 7_000
    h.request_with(3, true, opts_timeout(6_000)); // deadline 10_000, same as op 1
    assert_eq!(h.svc.poll_timeout(), Some(7_000));

    assert_eq!(h.advance(3_000), vec![login_err(2, timeout())]);
    assert_eq!(h.now, 7_000);
    assert_eq!(h.svc.poll_timeout(), Some(10_000));
    // The flow still runs for the others.
    assert_eq!(
        h.wx_login(0, Ok("c")),
        vec![wafer_core::session::Output::GetUserInfo { flow: wafer_core::session::FlowId(0) }]
    );
    assert_eq!(h.advance(3_000), vec![login_err(1, timeout()), request_err(3, timeout())]);
    assert_eq!(h.svc.poll_timeout(), None);
}

#[test]
fn a_late_timer_handles_every_passed_deadline_in_order() {
    let mut h = Harness::new();
    h.login(1, opts_timeout(500));
    h.login(2, opts_timeout(100));
    h.login(3, opts_timeout(900));
    h.svc.handle_timeout(600);
    assert_eq!(h.drain(), vec![login_err(2, timeout()), login_err(1, timeout())]);
    assert_eq!(h.svc.poll_timeout(), Some(900));
}

#[test]
fn survivors_still_get_the_result() {
    let mut h = Harness::new();
    h.login(1, opts_timeout(1_000));
    h.login(2, opts());
    assert_eq!(h.advance(1_000), vec![login_err(1, timeout())]);
    let outs = h.finish_v1_login(0, "c", "sid", "skey");
    assert_eq!(
        outs,
        vec![wafer_core::session::Output::StoreSession(v1_session("sid", "skey", USER)), login_ok(2, Some(USER))]
    );
}

#[test]
fn a_timer_firing_early_changes_nothing() {
    let mut h = Harness::new();
    h.login(1, opts_timeout(1_000));
    h.svc.handle_timeout(999);
    assert_eq!(h.drain(), vec![]);
    assert_eq!(h.svc.poll_timeout(), Some(1_000));
}

#[test]
fn zero_timeout_expires_at_the_next_timer() {
    let mut h = Harness::new();
    assert_eq!(h.login(1, opts_timeout(0)), vec![wx_login(0)]);
    assert_eq!(h.svc.poll_timeout(), Some(0));
    assert_eq!(h.advance(0), vec![login_err(1, timeout())]);
}
