//! Found while extending the fuzz model (client target, "a reconnecting tunnel never gives
//! up while the device is offline"): a tunnel made after the host reported the device
//! offline believed it was online (only tunnels that existed heard the change). Its
//! reconnect tries then ran and were counted while offline, and it gave up (`close`, 2001)
//! although docs/PROTOCOL.md §5 says tries wait while offline. A new tunnel now starts
//! from the last network status the client was told.
mod common;

use common::client_harness::*;
use wafer_core::client::Output;
use wafer_core::tunnel::{Event, TunnelError, TunnelStatus};
use wafer_core::value::Value;

#[test]
fn a_tunnel_made_while_offline_does_not_try_until_online() {
    let mut h = ClientHarness::new();
    // A first tunnel makes the host follow the network; the device then goes offline.
    let first = h.create(Value::Undefined);
    let out = h.open(first);
    assert!(out.iter().any(|o| matches!(o, Output::WatchNetwork)), "{out:?}");
    h.close(first);
    h.client.handle_network(false, h.storage.at(h.now));
    h.drain();

    // A tunnel made now (opening does not wait for the network) connects, then drops.
    let t = h.create(Value::Undefined);
    let conn = h.connect(t, 1);
    h.client.handle_socket_close(t, conn, h.storage.at(h.now));
    h.drain();
    assert_eq!(h.client.tunnel_status(t), TunnelStatus::Reconnecting);

    // Offline: no try for a minute, so nothing to fail and no giving up.
    let log = h.advance_to(h.now + 60_000);
    assert!(!log.iter().any(|(_, o)| matches!(o, Output::SendTunnelUrl { .. })), "tried while offline: {log:?}");
    assert!(
        !log.iter()
            .any(|(_, o)| matches!(o, Output::Event { event: Event::Error { error: TunnelError::Reconnect, .. }, .. })),
        "{log:?}"
    );
    assert_eq!(h.client.tunnel_status(t), TunnelStatus::Reconnecting);

    // Online: the waiting try runs at once.
    h.client.handle_network(true, h.storage.at(h.now));
    let out = h.drain();
    assert!(out.iter().any(|o| matches!(o, Output::SendTunnelUrl { .. })), "{out:?}");
}
