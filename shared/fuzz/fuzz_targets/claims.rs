//! Fuzz the claims decoder: whatever decodes must re-encode byte for byte.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(c) = shared::wire::Claims::from_cbor(data) {
        assert_eq!(c.to_cbor(), data, "claims round trip");
    }
});
