//! bytes→verdict against one raw `verify_strict` of the same message, in the
//! same run. Target: the whole verification at most 1.2× the raw signature
//! check. Prints the ratio at the end.
//!
//! With `VERIFY_LOOP=full|raw|none` (and optionally `VERIFY_ALG=sm2`,
//! `VERIFY_N`), it instead runs a fixed number of full checks, raw checks or
//! only the setup and exits, for instruction counting with callgrind
//! (`scripts/verify-instructions`), which is repeatable on a busy machine
//! where wall-clock ratios are not.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, Criterion};
use shared::cose::{self, Sign1};
use shared::crypto::{Alg, PublicKey, SigningKey};
use shared::domain::validate::{sample_record, validate};
use shared::domain::CertType;
use shared::qrtext::{self, Kind};
use shared::status::{StatusCache, StatusList, StatusSnapshot};
use shared::trust::{IssuerKey, KeyState, Manifest, TrustList};
use shared::verify::{verify, Context, Policy, StatusData};
use shared::wire::Claims;

const NOW: i64 = 1_780_279_200; // 2026-06-01T10:00:00+08:00

struct Fixture {
    text: String,
    tbs: Vec<u8>,
    signature: Vec<u8>,
    public: PublicKey,
    trust: TrustList,
    cache: StatusCache,
}

fn fixture(alg: Alg) -> Fixture {
    let key = SigningKey::from_secret_bytes(alg, &[0x11; 32]).unwrap();
    let data = validate(
        &sample_record(CertType::YSZ),
        time::macros::date!(2026 - 06 - 01),
    )
    .unwrap();
    let claims = Claims::from_certificate(&data, 4242, NOW - 86_400, None);
    let cert = cose::sign(claims.to_cbor(), &key, true);
    let parsed = Sign1::parse(&cert, 4096).unwrap();
    let trust = TrustList {
        seq: 1,
        manifest: Manifest {
            issued_at: NOW - 60,
            ttl: 86_400,
            max_age: 7 * 86_400,
        },
        keys: vec![IssuerKey {
            public_key: key.public_key(),
            not_before: 0,
            not_after: None,
            state: KeyState::Active,
        }],
        authorities: Vec::new(),
    };
    Fixture {
        text: qrtext::encode(Kind::Certificate, &cert),
        tbs: parsed.to_be_signed().to_vec(),
        signature: parsed.signature().to_vec(),
        public: key.public_key(),
        trust,
        cache: StatusCache::from_snapshot(StatusSnapshot {
            seq: 7,
            list: StatusList::new(1_000_000).unwrap(),
        }),
    }
}

fn run_verify(f: &Fixture) -> bool {
    let ctx = Context {
        trust: &f.trust,
        status: Some(StatusData {
            cache: &f.cache,
            manifest: f.trust.manifest,
        }),
        now: NOW,
        newest_seen: NOW - 60,
        policy: Policy::default(),
        national: None,
    };
    verify(black_box(&f.text), &ctx).is_ok()
}

fn bench(c: &mut Criterion) {
    for alg in [Alg::EdDSA, Alg::Sm2Sm3] {
        let f = fixture(alg);
        assert!(run_verify(&f), "fixture verifies");
        let mut group = c.benchmark_group(format!("verify_{}", alg.name()));
        group.bench_function("raw_signature_check", |b| {
            b.iter(|| {
                f.public
                    .verify(black_box(&f.tbs), black_box(&f.signature))
                    .is_ok()
            })
        });
        group.bench_function("qr_text_to_verdict", |b| b.iter(|| run_verify(&f)));
        group.finish();

        // The ratio, measured here in the same run with interleaved rounds so
        // that frequency changes hit both sides alike.
        let rounds = 20;
        let per_round = if alg == Alg::EdDSA { 2000 } else { 300 };
        let (mut raw, mut full) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let t = Instant::now();
            for _ in 0..per_round {
                black_box(
                    f.public
                        .verify(black_box(&f.tbs), black_box(&f.signature))
                        .is_ok(),
                );
            }
            raw.push(t.elapsed().as_secs_f64() / per_round as f64);
            let t = Instant::now();
            for _ in 0..per_round {
                black_box(run_verify(&f));
            }
            full.push(t.elapsed().as_secs_f64() / per_round as f64);
        }
        raw.sort_by(f64::total_cmp);
        full.sort_by(f64::total_cmp);
        let (raw_med, full_med) = (raw[rounds / 2], full[rounds / 2]);
        eprintln!(
            "RATIO {}: raw signature check {:.1} µs, QR text→verdict {:.1} µs, ratio {:.3} (target ≤ 1.2)",
            alg.name(),
            raw_med * 1e6,
            full_med * 1e6,
            full_med / raw_med
        );
    }
}

criterion_group!(benches, bench);

/// A fixed number of checks for callgrind; see the crate doc.
fn counted_loop(mode: &str) {
    let alg = match std::env::var("VERIFY_ALG").as_deref() {
        Ok("sm2") => Alg::Sm2Sm3,
        _ => Alg::EdDSA,
    };
    let n: usize = std::env::var("VERIFY_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let f = fixture(alg);
    let mut ok = 0;
    for _ in 0..n {
        ok += usize::from(match mode {
            "full" => run_verify(&f),
            "raw" => f
                .public
                .verify(black_box(&f.tbs), black_box(&f.signature))
                .is_ok(),
            _ => true,
        });
    }
    assert_eq!(ok, n);
}

fn main() {
    if let Ok(mode) = std::env::var("VERIFY_LOOP") {
        counted_loop(&mode);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
