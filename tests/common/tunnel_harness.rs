//! Tunnel test harness (filled by the tunnel work).
