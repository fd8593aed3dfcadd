//! Fuzz the holder presentation parser.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = shared::presentation::Presentation::parse(data);
});
