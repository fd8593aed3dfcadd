//! Fuzz the whole offline verification from QR text.
#![no_main]
use shared::crypto::{Alg, SigningKey};
use shared::status::{StatusCache, StatusList, StatusSnapshot};
use shared::trust::{IssuerKey, KeyState, Manifest, TrustList};
use shared::verify::{verify, Context, Policy, StatusData};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(key) = SigningKey::from_secret_bytes(Alg::EdDSA, &[0x11; 32]) else {
        return;
    };
    let trust = TrustList {
        seq: 1,
        manifest: Manifest { issued_at: 1_780_000_000, ttl: 86_400, max_age: 604_800 },
        keys: vec![IssuerKey {
            public_key: key.public_key(),
            not_before: 0,
            not_after: None,
            state: KeyState::Active,
        }],
        authorities: Vec::new(),
    };
    let Ok(list) = StatusList::new(131_072) else {
        return;
    };
    let cache = StatusCache::from_snapshot(StatusSnapshot { seq: 1, list });
    let ctx = Context {
        trust: &trust,
        status: Some(StatusData { cache: &cache, manifest: trust.manifest }),
        now: 1_780_000_100,
        newest_seen: 0,
        policy: Policy::default(),
        national: None,
    };
    let _ = verify(text, &ctx);
});
