//! Fixture shared by the field-client benches: a data directory holding a
//! signed trust list, a 1,000,000-entry status list and an enrollment, and
//! certificates signed by the listed issuer key.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, dead_code)]

use std::path::Path;

use field_client::db::{Db, Enrollment, StatusWrite, SyncData};
use shared::cose;
use shared::crypto::{Alg, SigningKey};
use shared::domain::validate::{sample_record, validate};
use shared::domain::CertType;
use shared::qrtext::{self, Kind};
use shared::status::{Status, StatusList, StatusSnapshot};
use shared::trust::{IssuerKey, KeyState, Manifest, SignedStatus, StatusUpdate, TrustList};
use shared::wire::Claims;

pub const NOW: i64 = 1_780_279_200; // 2026-06-01T10:00:00+08:00
pub const ENTRIES: usize = 1_000_000;

/// Builds the data directory; returns QR texts of a certificate of each type.
pub fn fixture(dir: &Path) -> Vec<String> {
    let root = SigningKey::from_secret_bytes(Alg::EdDSA, &[0x01; 32]).unwrap();
    let issuer = SigningKey::from_secret_bytes(Alg::EdDSA, &[0x11; 32]).unwrap();
    let manifest = Manifest {
        issued_at: NOW - 60,
        ttl: 2 * 86_400,
        max_age: 7 * 86_400,
    };
    let trust = TrustList {
        seq: 1,
        manifest,
        keys: vec![IssuerKey {
            public_key: issuer.public_key(),
            not_before: 0,
            not_after: None,
            state: KeyState::Active,
        }],
        authorities: Vec::new(),
    };
    let trust_bytes = trust.sign(&root);
    // One certificate in a hundred revoked, spread over the list.
    let mut list = StatusList::new(ENTRIES).unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..ENTRIES / 100 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        list.set((x % ENTRIES as u64) as u32 | 1, Status::Revoked)
            .unwrap();
    }
    let snapshot = SignedStatus::sign(
        manifest,
        &StatusUpdate::Snapshot(StatusSnapshot { seq: 7, list }),
        &issuer,
    )
    .unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let mut db = Db::open(dir).unwrap();
    db.set_enrollment(
        &Enrollment {
            server: "http://127.0.0.1:9".into(),
            token: "bench".into(),
            device_id: 1,
            kid: "0000000000000000".into(),
            division: 210100,
            root: root.public_key(),
            ca_pem: None,
            national_root: None,
        },
        NOW,
    )
    .unwrap();
    db.apply_sync(&SyncData {
        trust_bytes: &trust_bytes,
        trust: &trust,
        status: StatusWrite::Snapshot(&snapshot),
        status_seq: 7,
        status_manifest: manifest,
        catalogue: b"{}",
        now: NOW,
        national: None,
    })
    .unwrap();
    CertType::ALL
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let data = validate(&sample_record(t), time::macros::date!(2026 - 06 - 01)).unwrap();
            // Even indices: valid in the list above.
            let claims =
                Claims::from_certificate(&data, 2 * (4242 + i as u32 * 1000), NOW - 86_400, None);
            qrtext::encode(
                Kind::Certificate,
                &cose::sign(claims.to_cbor(), &issuer, true),
            )
        })
        .collect()
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Peak resident set (VmHWM) of this process, KiB.
pub fn vm_hwm_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Peak resident set of one run of the field-client binary, KiB, through
/// `/usr/bin/time -f %M`.
pub fn child_peak_kib(args: &[&str]) -> Option<(u64, i32)> {
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg(env!("CARGO_BIN_EXE_field-client"))
        .args(args)
        .env("FIELD_CLIENT_NOW", NOW.to_string())
        .output()
        .ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    let kib = err.lines().last()?.trim().parse().ok()?;
    Some((kib, out.status.code().unwrap_or(-1)))
}
