//! Wasm driver of the Wafer client SDK.
//!
//! The protocol lives in [`wafer_core`] (pure Rust, no IO, no clock). This crate is the
//! driver that runs it inside a JS runtime:
//!
//! ```text
//! JS shim (js/) ──exports──> driver: feed the input to the core with `now()`,
//!                              move the core's outputs to one FIFO of effects,
//!                              release the state, perform the effects (host calls),
//!                              re-arm the timers of the machines that moved.
//! ```
//!
//! Effects may call back into the driver synchronously (a fake `wx` answering at once,
//! a listener calling `emit`): the state is never borrowed while JS runs, and every
//! export drains the shared FIFO, so effects always run in the order they were made.

pub use wafer_core as core;

#[cfg(target_arch = "wasm32")]
mod driver;
#[cfg(target_arch = "wasm32")]
mod js;
#[cfg(target_arch = "wasm32")]
mod session;
#[cfg(target_arch = "wasm32")]
mod tunnel;
