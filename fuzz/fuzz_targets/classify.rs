#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wafer_core_fuzz::classify::check(data);
});
