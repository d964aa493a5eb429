//! No login URL (neither `setLoginUrl` nor `options.loginUrl`) → `ERR_INVALID_PARAMS` at once.
mod common;

use common::session_harness::*;
use wafer_core::session::{ErrorKind, LoginOptions};

fn no_url() -> wafer_core::session::Error<V> {
    err(ErrorKind::InvalidParams, MSG_NO_LOGIN_URL, None)
}

#[test]
fn login_without_any_url_fails_at_once() {
    let mut h = Harness::without_url();
    assert_eq!(h.login(1, opts()), vec![login_err(1, no_url())]);
    assert_eq!(h.svc.poll_timeout(), None, "no flow was started");
}

#[test]
fn empty_urls_count_as_missing() {
    let mut h = Harness::without_url();
    h.svc.set_login_url(String::new());
    let options = LoginOptions { login_url: Some(String::new()), ..opts() };
    assert_eq!(h.login(1, options), vec![login_err(1, no_url())]);
}

#[test]
fn request_needing_a_login_without_url_fails_with_the_login_error() {
    let mut h = Harness::without_url();
    assert_eq!(h.request(7, true), vec![request_err(7, no_url())]);
    // The op is finished: a late answer for it is ignored.
    assert_eq!(h.request_response(7, 0, Ok(ok_response("late"))), vec![]);
}
