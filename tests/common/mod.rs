//! Shared harness of the native scenario tests: a simulated clock driving the core.
#![allow(dead_code)]

pub mod client_harness;
pub mod session_harness;
pub mod tunnel_harness;
