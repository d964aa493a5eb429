//! Wasm driver of the Wafer client SDK (placeholder until the driver lands).
pub use wafer_core as core;
