//! Shared harness of the native scenario tests: a simulated clock driving the core.
#![allow(dead_code)]

pub mod session_harness;
pub mod tunnel_harness;
