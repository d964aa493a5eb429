//! `timeout:N` is the server's to decide, fractions included: `timeout:0.04` pings at once
//! and then every 40 ms, and a pong missing for 40 ms starts a reconnect.
mod common;

use common::client_harness::*;
use wafer_core::client::Output;
use wafer_core::frame;
use wafer_core::tunnel::{Event, Outbound};
use wafer_core::value::Value;

#[test]
fn fractional_timeout_frames() {
    let mut h = ClientHarness::new();
    let t = h.create(Value::Undefined);
    let conn = h.connect(t, 1);
    h.drain();
    h.client.handle_frame(t, conn, frame::parse("timeout:0.04"), h.storage.at(h.now));
    assert_eq!(h.drain(), vec![Output::SendFrame { tunnel: t, conn, frame: Outbound::Ping }]);
    h.client.handle_frame(t, conn, frame::Frame::Pong, h.storage.at(h.now));
    let log = h.advance_to(40);
    assert_eq!(log, vec![(40, Output::SendFrame { tunnel: t, conn, frame: Outbound::Ping })]);
    // No pong this time: 40 ms later the tunnel reconnects.
    let log = h.advance_to(80);
    assert!(
        log.iter().any(|(at, o)| *at == 80 && matches!(o, Output::Event { event: Event::Reconnecting, .. })),
        "{log:?}"
    );

    let mut h = ClientHarness::new();
    let t = h.create(Value::Undefined);
    let conn = h.connect(t, 1);
    h.client.handle_frame(t, conn, frame::parse("timeout:0.5"), h.storage.at(h.now));
    h.drain();
    h.client.handle_frame(t, conn, frame::Frame::Pong, h.storage.at(h.now));
    assert_eq!(h.advance_to(500), vec![(500, Output::SendFrame { tunnel: t, conn, frame: Outbound::Ping })]);
}
