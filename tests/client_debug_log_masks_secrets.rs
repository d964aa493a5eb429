//! The debug log: off by default (no line is made), on with `set_debug`; each step is a
//! line, and the session key, the wx.login code and the encrypted data never appear.
mod common;

use common::client_harness::*;
use wafer_core::client::Output;
use wafer_core::value::Value;

fn lines(out: &[Out]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Log(l) => Some(l.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn off_by_default_on_when_asked_and_secrets_masked() {
    let mut h = ClientHarness::new();
    let (_, out) = h.login();
    assert!(lines(&out).is_empty(), "off by default");

    let mut h = ClientHarness::new();
    h.client.set_debug(true);
    let (_, out) = h.login();
    let mut all = lines(&out);
    let flow = wx_login_flow(&out).unwrap();
    all.extend(lines(&h.wx_login(flow, "SECRET-CODE")));
    all.extend(lines(&h.user_info(flow)));
    all.extend(lines(&h.login_ok(flow, "sid", "SECRET-SKEY")));
    let options = Value::object([("url", Value::str("https://app.example.com/api"))]);
    let (_, out) = h.request(options);
    all.extend(lines(&out));
    let t = h.create(Value::Undefined);
    h.connect(t, 1);
    let text = all.join("\n");
    assert!(text.contains("login #0: wx.login"), "{text}");
    assert!(text.contains("X-WX-Code: ***"), "{text}");
    assert!(text.contains("request 2: send {X-WX-Id: sid, X-WX-Skey: ***}"), "{text}");
    assert!(text.contains("X-WX-IV: ***"), "{text}");
    for secret in ["SECRET-SKEY", "SECRET-CODE", "ENC"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}
