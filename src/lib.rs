//! Wasm driver of the Wafer client SDK.
//!
//! The protocol lives in [`wafer_core`] (pure Rust, no IO, no clock). This crate is the
//! driver that runs it inside a JS runtime:
//!
//! ```text
//! JS shim (js/) ──exports──> driver: feed the input to the core's `Client` with `now()`,
//!                              release the state, perform its outputs in order (host
//!                              calls), re-arm the one timer.
//! ```
//!
//! Outputs may call back into the driver synchronously (a fake `wx` answering at once,
//! a listener calling `emit`): the state is never borrowed while JS runs, and every
//! export drains the client's output queue, so outputs always run in the order they
//! were made.

pub use wafer_core as core;

/// The allocator: talc instead of std's dlmalloc on wasm (smaller and faster there).
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[cfg(target_arch = "wasm32")]
mod driver;
#[cfg(target_arch = "wasm32")]
mod exports;
#[cfg(target_arch = "wasm32")]
mod js;

/// The exported bindings as Rust functions, for the wasm-bindgen tests (`tests/web.rs`),
/// which run them in a browser and in Node without the package's loader.
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod bindings {
    pub use crate::driver::on_timer;
    pub use crate::exports::{
        on_check_session, on_listener_error, on_login_response, on_network, on_request_response, on_send_failed,
        on_socket_close, on_socket_error, on_socket_message, on_socket_open, on_user_info, on_wx_login, session_clear,
        session_get, session_header, session_login, session_request, session_set, session_set_login_url, set_debug,
        tunnel_close, tunnel_create, tunnel_emit, tunnel_open, tunnel_socket_url, tunnel_status,
    };
    use wasm_bindgen::JsValue;

    /// Points the host module at `exports` (an object of the functions above).
    pub fn bind_host(exports: &JsValue) {
        crate::js::bind(exports);
    }

    /// The host module's state (`ops`, `listeners`, `tasks`, …).
    pub fn host_state() -> JsValue {
        crate::js::host_state()
    }
}
