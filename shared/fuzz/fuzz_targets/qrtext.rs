//! Fuzz the QR text decoder (prefix, base45, bounded inflate).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok((kind, envelope)) = shared::qrtext::decode(text) {
            // What decodes must re-encode to something that decodes the same.
            let again = shared::qrtext::encode(kind, &envelope);
            assert_eq!(shared::qrtext::decode(&again).ok(), Some((kind, envelope)));
        }
    }
});
