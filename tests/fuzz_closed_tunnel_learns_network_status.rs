//! Fuzz finding (client target): network changes reached only tunnels that were not
//! closed. A tunnel closed while the device was offline never heard that it came back;
//! opened again later, it connected (opening does not wait for the network), and on its
//! first dropped socket it went RECONNECTING and waited for "online" forever: every try
//! re-armed its wait without asking for a URL, and nothing else ever happened. A closed
//! tunnel now learns the network status too (without any output).
mod common;

use common::client_harness::*;
use wafer_core::client::Output;
use wafer_core::tunnel::{Event, TunnelStatus};
use wafer_core::value::Value;

#[test]
fn a_tunnel_closed_while_offline_reconnects_once_back_online() {
    let mut h = ClientHarness::new();
    let t = h.create(Value::Undefined);
    h.connect(t, 1);
    h.client.handle_network(false, h.storage.at(h.now));
    h.drain();
    h.close(t);
    // Back online while the tunnel is closed: nothing to say, but the tunnel must know.
    h.client.handle_network(true, h.storage.at(h.now));
    assert_eq!(h.drain(), vec![]);

    let conn = h.connect(t, 2);
    assert_eq!(h.client.tunnel_status(t), TunnelStatus::Active);
    h.client.handle_socket_close(t, conn, h.storage.at(h.now));
    let outs = h.drain();
    assert!(outs.iter().any(|o| matches!(o, Output::Event { event: Event::Reconnecting, .. })), "{outs:?}");

    // The first try (after RECONNECT_TIME_INCREASE, 1 s) asks for a socket URL.
    let log = h.advance_to(h.now + 1_000);
    assert!(log.iter().any(|(_, o)| matches!(o, Output::SendTunnelUrl { .. })), "no try in {log:?}");
}

#[test]
fn a_closed_tunnel_outputs_nothing_for_network_changes() {
    let mut h = ClientHarness::new();
    let t = h.create(Value::Undefined);
    h.open(t);
    h.close(t);
    for online in [false, true, false] {
        h.client.handle_network(online, h.storage.at(h.now));
        assert_eq!(h.drain(), vec![]);
    }
    assert_eq!(h.client.tunnel_status(t), TunnelStatus::Closed);
    assert_eq!(h.client.poll_timeout(), None);
}
