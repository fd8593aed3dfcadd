//! Fuzz the trust list and status snapshot/delta decoders.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 3 {
        0 => {
            if let Ok(t) = shared::trust::TrustList::from_cbor(rest) {
                assert_eq!(t.to_cbor(), rest, "trust list round trip");
            }
        }
        1 => {
            let _ = shared::status::StatusSnapshot::from_cbor(rest, 1 << 22);
        }
        _ => {
            let _ = shared::status::StatusDelta::from_cbor(rest, 1 << 22);
        }
    }
});
