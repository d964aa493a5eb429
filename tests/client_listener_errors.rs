//! A listener that throws is reported as `error` 5001 naming its event; one that throws in
//! an `error` listener is not reported again (no loop).
mod common;

use common::client_harness::*;
use wafer_core::client::{listener_error_message, Output};
use wafer_core::tunnel::TunnelError;
use wafer_core::value::Value;

#[test]
fn listener_errors_become_5001() {
    let mut h = ClientHarness::new();
    let t = h.create(Value::Undefined);
    h.client.handle_listener_error(t, "speak", Value::str("boom"));
    assert_eq!(h.drain(), vec![Output::ListenerError { tunnel: t, name: "speak".into(), detail: Value::str("boom") }]);
    h.client.handle_listener_error(t, "error", Value::str("again"));
    assert_eq!(h.drain(), vec![]);
    assert_eq!(TunnelError::ListenerThrew.code(), 5001);
    assert_eq!(listener_error_message("speak"), "信道事件监听函数抛出异常：speak");
}
