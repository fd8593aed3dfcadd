//! Fuzz QR decoding from image bytes (PNG/JPEG parsers, the decoder passes).
//!
//! Images are capped at 1280×1280 so one input decodes in well under the
//! (generous) time bound: a decode that timed out would leave its detached
//! worker thread running past the input, which the leak checker reports.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limits = shared::qr::DecodeLimits {
        max_width: 1280,
        max_height: 1280,
        max_alloc: 64 * 1024 * 1024,
        max_input_bytes: 1 << 20,
        timeout: std::time::Duration::from_secs(60),
    };
    let _ = shared::qr::decode_image(data, &limits);
});
