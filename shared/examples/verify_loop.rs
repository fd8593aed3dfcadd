//! `verify_loop ALG MODE N`: N bytes→verdict checks (`full`) or N raw
//! signature checks of the same message (`raw`), or only the setup
//! (`none`), for instruction counting with callgrind
//! (`scripts/verify-instructions`), which is repeatable on a busy machine
//! where wall-clock ratios are not.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use shared::cose::{self, Sign1};
use shared::crypto::{Alg, SigningKey};
use shared::domain::validate::{sample_record, validate};
use shared::domain::CertType;
use shared::qrtext::{self, Kind};
use shared::status::{StatusCache, StatusList, StatusSnapshot};
use shared::trust::{IssuerKey, KeyState, Manifest, TrustList};
use shared::verify::{verify, Context, Policy, StatusData};
use shared::wire::Claims;

const NOW: i64 = 1_780_279_200;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let alg = match args.get(1).map(String::as_str) {
        Some("sm2") => Alg::Sm2Sm3,
        _ => Alg::EdDSA,
    };
    let mode = args.get(2).map_or("full", String::as_str);
    let n: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(100);
    let key = SigningKey::from_secret_bytes(alg, &[0x11; 32]).unwrap();
    let data = validate(
        &sample_record(CertType::YSZ),
        time::macros::date!(2026 - 06 - 01),
    )
    .unwrap();
    let claims = Claims::from_certificate(&data, 4242, NOW - 86_400, None);
    let cert = cose::sign(claims.to_cbor(), &key, true);
    let parsed = Sign1::parse(&cert, 4096).unwrap();
    let text = qrtext::encode(Kind::Certificate, &cert);
    let trust = TrustList {
        seq: 1,
        manifest: Manifest {
            issued_at: NOW - 60,
            ttl: 86_400,
            max_age: 604_800,
        },
        keys: vec![IssuerKey {
            public_key: key.public_key(),
            not_before: 0,
            not_after: None,
            state: KeyState::Active,
        }],
        authorities: Vec::new(),
    };
    let cache = StatusCache::from_snapshot(StatusSnapshot {
        seq: 1,
        list: StatusList::new(1_000_000).unwrap(),
    });
    let ctx = Context {
        trust: &trust,
        status: Some(StatusData {
            cache: &cache,
            manifest: trust.manifest,
        }),
        now: NOW,
        newest_seen: 0,
        policy: Policy::default(),
    };
    let public = key.public_key();
    let mut ok = 0;
    for _ in 0..n {
        ok += usize::from(match mode {
            "full" => verify(black_box(&text), &ctx).is_ok(),
            "raw" => public
                .verify(black_box(parsed.to_be_signed()), parsed.signature())
                .is_ok(),
            _ => true,
        });
    }
    assert_eq!(ok, n);
}
