//! Fuzz QR decoding from image bytes (PNG/JPEG parsers, both decoders).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limits = shared::qr::DecodeLimits::default();
    let _ = shared::qr::decode_image(data, &limits);
});
