//! Fuzz the strict CBOR decoder and the COSE_Sign1 profile parser.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(v) = shared::cbor::decode_strict(data, 1 << 16) {
        assert_eq!(shared::cbor::encode(&v), data, "strict decode is canonical");
    }
    let _ = shared::cose::Sign1::parse(data, 1 << 16);
});
