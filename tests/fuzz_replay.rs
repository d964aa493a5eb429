//! Replays every saved fuzz input (`fuzz/regressions/<target>/*`: the inputs of past
//! findings) through the same checks the cargo-fuzz targets run (`fuzz/src/lib.rs`), so
//! `cargo test` keeps them fixed without libFuzzer. Each finding also has a named test
//! (`tests/fuzz_*.rs`) that states it in the harness's terms.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod fuzz_checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions").join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        let data = std::fs::read(&path).expect("input");
        eprintln!("replaying {}", path.display());
        check(&data);
        n += 1;
    }
    n
}

#[test]
fn frame_inputs() {
    replay("frame", fuzz_checks::frame::check);
}

#[test]
fn classify_inputs() {
    assert!(replay("classify", fuzz_checks::classify::check) > 0);
}

#[test]
fn client_inputs() {
    assert!(replay("client", fuzz_checks::client::check) > 0);
}

#[test]
fn empty_and_short_inputs() {
    for data in [&b""[..], b"\0", b"\xff\xff\xff\xff", b"0123456789abcdef"] {
        fuzz_checks::frame::check(data);
        fuzz_checks::classify::check(data);
        fuzz_checks::client::check(data);
    }
}
