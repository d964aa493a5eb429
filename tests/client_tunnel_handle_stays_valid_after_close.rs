//! A tunnel handle stays valid after `close` and after another tunnel is created: `emit`
//! queues for its next `open`, `open` while another tunnel is open reports `error` 1001,
//! and once that one is closed the old handle reconnects and sends what was queued.
mod common;

use common::client_harness::*;
use wafer_core::client::{Emitted, Output, TunnelId};
use wafer_core::tunnel::{Event, Outbound, TunnelError, TunnelStatus};
use wafer_core::value::Value;

fn errors(out: &[Out], id: TunnelId) -> Vec<TunnelError> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event { tunnel, event: Event::Error { error, .. } } if *tunnel == id => Some(*error),
            _ => None,
        })
        .collect()
}

#[test]
fn closed_handle_queues_then_reopens() {
    let mut h = ClientHarness::new();
    let a = h.create(Value::Undefined);
    h.connect(a, 1);
    h.close(a);
    let b = h.create(Value::Undefined);
    assert_eq!(h.drain(), vec![Output::Release { tunnel: a }]);
    let b_conn = h.connect(b, 2);
    assert_eq!(h.client.tunnel_status(b), TunnelStatus::Active);

    let (emitted, out) = h.emit(a, "hi");
    assert_eq!(emitted, Emitted::Done);
    assert!(out.is_empty(), "queued for a's next open: {out:?}");

    let out = h.open(a);
    assert_eq!(errors(&out, a), [TunnelError::AnotherTunnelOpen]);
    assert_eq!(TunnelError::AnotherTunnelOpen.code(), 1001);
    assert_eq!(h.client.tunnel_status(a), TunnelStatus::Closed);

    let out = h.close(b);
    assert!(out.iter().any(|o| matches!(o, Output::SendFrame { conn, frame: Outbound::Close, .. } if *conn == b_conn)));
    let out = h.open(a);
    let (op, attempt) = tunnel_url_request(&out).unwrap();
    let out = h.answer(op, attempt, url_response(3));
    let conn = connect_of(&out).unwrap();
    let out = h.socket_open(a, conn);
    // The resume announce first (docs/RESUME.md), then the queued packet.
    assert!(matches!(&out[0], Output::SendFrame { frame: Outbound::Control(c), .. } if c == "resumable:1"), "{out:?}");
    assert!(
        matches!(&out[1], Output::SendFrame { frame: Outbound::Packet(Value::String(p)), .. } if p == "hi"),
        "{out:?}"
    );
}

#[test]
fn superseded_closed_tunnels_are_released_and_then_reattached_by_use() {
    let mut h = ClientHarness::new();
    let a = h.create(Value::Undefined);
    h.drain();
    let b = h.create(Value::Undefined);
    assert_eq!(h.drain(), vec![Output::Release { tunnel: a }]);
    // A closed tunnel with packets waiting is not released.
    h.emit(b, "x");
    h.create(Value::Undefined);
    assert_eq!(h.drain(), vec![], "a is released already, b has a queued packet");
    // Using a released handle re-attaches it (the host keeps its listeners again): it is
    // released again when the next tunnel supersedes it.
    h.close(a);
    let d = h.create(Value::Undefined);
    assert_eq!(h.drain(), vec![Output::Release { tunnel: a }, Output::Release { tunnel: TunnelId(d.0 - 1) }]);
}

#[test]
fn one_open_tunnel_and_deferred_creation() {
    let mut h = ClientHarness::new();
    let a = h.create(Value::Undefined);
    h.open(a);
    let url = Value::str(SERVICE_URL);
    assert!(h.client.create_tunnel(&url, &Value::Undefined, false, h.storage.at(0)).is_err());
    let late =
        h.client.create_tunnel(&url, &Value::Undefined, true, h.storage.at(0)).expect("deferred creation never fails");
    let out = h.drain();
    assert_eq!(errors(&out, late), [TunnelError::AnotherTunnelOpen]);
    assert_eq!(h.client.tunnel_status(late), TunnelStatus::Closed);
}
