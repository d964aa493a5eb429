//! Fuzz finding (client target): a tunnel closed and opened again while its service-URL
//! request was still out superseded that request, and the client then let it surface as
//! a user operation: its late answer came out as a `RequestDone` for an op id the host
//! never issued, and, when it was waiting for a re-login, it came out as a user `Send`.
//! A superseded URL request now ends inside the client: no output, and the session
//! service forgets it.
mod common;

use common::client_harness::*;
use wafer_core::client::{Output, INTERNAL_OP_BASE};
use wafer_core::value::Value;

fn user_facing(outs: &[Out]) -> Vec<&Out> {
    outs.iter().filter(|o| matches!(o, Output::Send { .. } | Output::RequestDone { .. })).collect()
}

#[test]
fn late_answer_of_a_superseded_url_request_completes_nothing() {
    let mut h = ClientHarness::new();
    let t = h.create(Value::Undefined);
    let (old, old_attempt) = tunnel_url_request(&h.open(t)).expect("URL request");
    h.close(t);
    let (new, attempt) = tunnel_url_request(&h.open(t)).expect("a new URL request");
    assert_ne!(old, new);
    assert!(old.0 > INTERNAL_OP_BASE && new.0 > INTERNAL_OP_BASE);

    let outs = h.answer(old, old_attempt, url_response(1));
    assert_eq!(outs, vec![], "the superseded answer is nobody's");

    // The current request still connects.
    let outs = h.answer(new, attempt, url_response(2));
    assert!(connect_of(&outs).is_some(), "{outs:?}");
}

#[test]
fn superseded_url_request_waiting_for_a_relogin_is_not_sent_as_a_user_request() {
    let mut h = ClientHarness::new();
    h.storage.value = Some(stored("i", "old-skey"));
    let t = h.create(Value::Undefined);
    let (old, attempt) = tunnel_url_request(&h.open(t)).expect("URL request");
    // The session is invalid: the URL request waits for a re-login.
    let outs = h.answer(old, attempt, magic_error("ERR_INVALID_SESSION"));
    let login = outs.clone();
    assert!(wx_login_flow(&login).is_some(), "{outs:?}");
    // Closed and opened again meanwhile: a new URL request supersedes the waiting one.
    h.close(t);
    let (new, new_attempt) = tunnel_url_request(&h.open(t)).expect("a new URL request");

    let outs = h.complete_login(&login, "i", "new-skey");
    assert_eq!(user_facing(&outs), Vec::<&Out>::new(), "{outs:?}");
    assert!(!outs.iter().any(|o| matches!(o, Output::SendTunnelUrl { op, .. } if *op == old)), "{outs:?}");

    // The current one goes on as usual.
    let outs = h.answer(new, new_attempt, url_response(3));
    assert!(connect_of(&outs).is_some(), "{outs:?}");
}
