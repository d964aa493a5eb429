//! A v2 login body `{"code":0,"data":{"skey","userinfo"}}` stores `{id: None, skey,
//! userinfo, stored: data}`; session headers are then `X-WX-Skey` only.
mod common;

use common::session_harness::*;
use wafer_core::session::{Output, StoredSession};

#[test]
fn v2_body_stores_the_data_object() {
    let mut h = Harness::new();
    h.login(1, opts());
    h.wx_login(0, Ok("c"));
    h.user_info_ok(0);
    let stored = StoredSession {
        id: None,
        skey: "v2-skey".to_owned(),
        user_info: Some("user:v2".to_owned()),
        stored: Some("data:v2-skey:user:v2".to_owned()),
    };
    assert_eq!(
        h.login_response(0, Ok(v2_login_ok("v2-skey", "user:v2"))),
        vec![Output::StoreSession(stored.clone()), login_ok(1, Some("user:v2"))]
    );
    assert_eq!(h.svc.session(), Some(&stored));
    assert_eq!(h.svc.session_headers(), vec![("X-WX-Skey", "v2-skey".to_owned())]);
}
