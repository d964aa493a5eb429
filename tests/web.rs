//! The bindings' wasm-bindgen tests in headless Chromium:
//! `wasm-pack test --headless --chrome -- --test web` (script/test).
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

include!("bindings/mod.rs");
