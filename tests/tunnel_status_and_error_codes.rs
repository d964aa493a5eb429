//! Status strings and error codes are the original's `Tunnel.STATUS_*` / `ERR_*` values.

mod common;

use wafer_core::tunnel::{TunnelError, TunnelStatus};

#[test]
fn status_strings() {
    assert_eq!(TunnelStatus::Closed.as_str(), "CLOSED");
    assert_eq!(TunnelStatus::Connecting.as_str(), "CONNECTING");
    assert_eq!(TunnelStatus::Active.as_str(), "ACTIVE");
    assert_eq!(TunnelStatus::Reconnecting.as_str(), "RECONNECTING");
}

#[test]
fn error_codes() {
    assert_eq!(TunnelError::ConnectService.code(), 1001);
    assert_eq!(TunnelError::ConnectSocket.code(), 1002);
    assert_eq!(TunnelError::Reconnect.code(), 2001);
    assert_eq!(TunnelError::SocketError.code(), 3001);
    assert_eq!(TunnelError::QueueFull.code(), 4001);
    assert_eq!(TunnelError::Unsent.code(), 4002);
    assert!(!TunnelError::Reconnect.message().is_empty());
}
