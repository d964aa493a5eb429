//! End-to-end tests of the dev server over real loopback HTTP and WebSocket.

mod common;
mod http;
mod tunnel;
