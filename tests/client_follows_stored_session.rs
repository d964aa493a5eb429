//! The stored session is the source of truth: a page that removes or replaces it is
//! followed by the next request; after a failed write (storage full) memory is.
mod common;

use common::client_harness::*;
use wafer_core::client::Output;
use wafer_core::value::Value;

fn sent_headers(out: &[Out]) -> Vec<(&'static str, String)> {
    out.iter()
        .find_map(|o| match o {
            Output::Send { headers, .. } => Some(headers.to_vec()),
            _ => None,
        })
        .expect("a Send output")
}

fn api() -> Value {
    Value::object([("url", Value::str("https://app.example.com/api"))])
}

#[test]
fn storage_is_followed_on_every_request() {
    let mut h = ClientHarness::new();
    h.storage.value = Some(stored("1", "one"));
    let (_, out) = h.request(api());
    assert_eq!(sent_headers(&out), headers("1", "one"), "restored on first use");
    h.storage.value = Some(stored("2", "two"));
    let (_, out) = h.request(api());
    assert_eq!(sent_headers(&out), headers("2", "two"), "replaced by the page");
    h.storage.value = None;
    let (_, out) = h.request(api());
    assert_eq!(sent_headers(&out), vec![], "removed by the page: logged out");
}

#[test]
fn storage_full_keeps_the_session_in_memory() {
    let mut h = ClientHarness::new();
    h.storage.full = true;
    let (_, out) = h.login();
    let out = h.complete_login(&out, "m", "mem");
    assert!(out.iter().any(|o| matches!(o, Output::LoginDone { result: Ok(_), .. })));
    assert_eq!(h.storage.value, None);
    let (_, out) = h.request(api());
    assert_eq!(sent_headers(&out), headers("m", "mem"));
}
