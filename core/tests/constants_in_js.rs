//! The generated block of `js/host.js` equals what the core defines (error types, tunnel
//! statuses and codes, messages, summary bits). `UPDATE_CONSTANTS=1` rewrites it.

use std::path::PathBuf;

use wafer_core::constants::{js_block, BEGIN, END};

#[test]
fn host_js_constants_match_the_core() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../js/host.js");
    let text = std::fs::read_to_string(&path).expect("js/host.js is readable");
    let start = text.find(BEGIN).expect("js/host.js has the generated block's first line");
    let end = text[start..].find(END).map(|i| start + i + END.len() + 1).expect("and its last line");
    let expected = js_block();
    if std::env::var_os("UPDATE_CONSTANTS").is_some() {
        let updated = format!("{}{}{}", &text[..start], expected, &text[end.min(text.len())..]);
        std::fs::write(&path, updated).expect("js/host.js is writable");
        return;
    }
    assert_eq!(
        &text[start..end.min(text.len())],
        expected,
        "js/host.js drifted from the core: run UPDATE_CONSTANTS=1 cargo test -p wafer-core --test constants_in_js"
    );
}
