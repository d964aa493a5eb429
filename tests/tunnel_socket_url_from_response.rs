//! The socket URL is taken from a 200 response only: v1 `{url}` (preferred) or v2
//! `{code:0, data:{connectUrl}}`, never an empty string.

mod common;

use wafer_core::tunnel::socket_url_from_response as pick;

#[test]
fn v1_and_v2_responses() {
    assert_eq!(pick(Some(200.0), Some("wss://a"), None, None), Some("wss://a"));
    assert_eq!(pick(Some(200.0), None, Some(0.0), Some("wss://b")), Some("wss://b"));
    assert_eq!(pick(Some(200.0), Some("wss://a"), Some(0.0), Some("wss://b")), Some("wss://a"));
    assert_eq!(pick(Some(200.0), Some(""), Some(0.0), Some("wss://b")), Some("wss://b"));
}

#[test]
fn anything_else_is_no_url() {
    assert_eq!(pick(Some(500.0), Some("wss://a"), Some(0.0), Some("wss://b")), None);
    assert_eq!(pick(None, Some("wss://a"), None, None), None);
    assert_eq!(pick(Some(200.5), Some("wss://a"), None, None), None);
    assert_eq!(pick(Some(200.0), Some(""), None, None), None);
    assert_eq!(pick(Some(200.0), None, Some(-1.0), Some("wss://b")), None);
    assert_eq!(pick(Some(200.0), None, None, Some("wss://b")), None);
    assert_eq!(pick(Some(200.0), None, Some(0.0), Some("")), None);
    assert_eq!(pick(Some(f64::NAN), Some("wss://a"), None, None), None);
}
