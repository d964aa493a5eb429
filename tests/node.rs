//! The bindings' wasm-bindgen tests under Node: `wasm-pack test --node -- --test node`
//! (script/test).
#![cfg(target_arch = "wasm32")]

include!("bindings/mod.rs");
