//! Check-log ingestion throughput (target ≥ 20,000 records/s, durable).
//!
//! On every engine of the run: a file-backed `SqliteStore` (WAL,
//! `synchronous=FULL`), then PostgreSQL (a fresh database, durable
//! commits) when `LNEC_TEST_POSTGRES` names a server. Officer devices
//! uploading signed batches through the router (`POST
//! /api/v1/verification-logs`, bearer authentication included), each batch
//! opened (device signature, strict records, chain), its scanned texts
//! re-verified against the server's trust list, and committed with the
//! audit row before the answer. The records are realistic checks: the QR
//! texts of real certificates issued by the server (`CERTS` distinct ones,
//! re-signed at several versions), one in `PRESENT_EVERY` a live
//! holder-signed presentation (never cached: each is new), one in ten a
//! disposition.
//!
//! Run: `cargo bench -p verifier-server --bench ingest` (prints figures;
//! SQLite only), or `scripts/bench-engines` (both engines in one run).
//! Environment: `INGEST_CASES` (comma-separated `BATCHxDEVICES`, default
//! `500x1,1000x1,2000x1,500x4,1000x4,2000x4`), `INGEST_RECORDS` (records
//! per device, default 20000).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use shared::checklog::{self, CertRef, ChainHead, Check, Disposition, Event, Sealed};
use shared::cose::{self, Sign1};
use shared::crypto::{Alg, SigningKey};
use shared::domain::{sample_record, CertType, DivisionCode};
use shared::presentation;
use shared::qrtext::{self, Kind};
use shared::verify::{Verdict, MAX_CERTIFICATE_LEN};
use shared::wire::Claims;
use testkit::Engine;
use tower::ServiceExt as _;
use verifier_server::auth::{self, Role};
use verifier_server::{app, AppState, Config};

// 2026-06-01 10:00 China Standard Time: every sample record is valid.
use testkit::T0;
/// Distinct certificates checked.
const CERTS: usize = 900;
/// One check in this many is a live holder presentation.
const PRESENT_EVERY: usize = 20;
/// Records per device per run, unless `INGEST_RECORDS` says otherwise.
const RECORDS_PER_DEVICE: usize = 20_000;

async fn call(
    state: &AppState,
    method: Method,
    uri: &str,
    token: &str,
    ct: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .unwrap();
    let response = app(state.clone()).oneshot(req).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

struct Texts {
    certificates: Vec<String>,
    /// Holder-bound certificates and their holders' keys.
    bound: Vec<(Vec<u8>, SigningKey)>,
}

async fn issue(state: &AppState, admin: &str) -> Texts {
    let records: Vec<_> = CertType::ALL.into_iter().map(sample_record).collect();
    let body = serde_json::to_vec(&json!({ "records": records })).unwrap();
    let (status, v) = call(
        state,
        Method::POST,
        "/api/v1/records",
        admin,
        "application/json",
        body,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let mut claims = Vec::new();
    for r in &records {
        let uri = format!(
            "/api/v1/certificates/{}/{}",
            r.cert_type.as_deref().unwrap(),
            r.number.as_deref().unwrap()
        );
        let (status, v) = call(
            state,
            Method::GET,
            &uri,
            admin,
            "application/json",
            Vec::new(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let (_, envelope) = qrtext::decode(v["qr"].as_str().unwrap()).unwrap();
        let sign1 = Sign1::parse(&envelope, MAX_CERTIFICATE_LEN).unwrap();
        claims.push(Claims::from_cbor(sign1.payload()).unwrap());
    }
    // Distinct genuine certificates: the issued claims at other versions,
    // signed by the server's issuer key.
    let issuer = &state.keys().issuer;
    let certificates = (0..CERTS)
        .map(|i| {
            let mut c = claims[i % claims.len()].clone();
            c.version = u16::try_from(1 + i / claims.len()).unwrap();
            qrtext::encode(Kind::Certificate, &cose::sign(c.to_cbor(), issuer, true))
        })
        .collect();
    let bound = (0..claims.len())
        .map(|i| {
            let holder = SigningKey::from_secret_bytes(Alg::EdDSA, &[100 + i as u8; 32]).unwrap();
            let mut c = claims[i].clone();
            c.holder_key = Some(holder.public_key());
            (cose::sign(c.to_cbor(), issuer, true), holder)
        })
        .collect();
    Texts {
        certificates,
        bound,
    }
}

fn records(texts: &Texts, n: usize, salt: usize) -> Vec<Sealed> {
    let mut head = ChainHead::default();
    (0..n)
        .map(|i| {
            let at = T0 + i as i64;
            let event = if i % 10 == 9 {
                Event::Disposition(Disposition {
                    check_seq: head.next_seq - 1,
                    accepted: true,
                    note: String::new(),
                })
            } else {
                let scanned = if i % PRESENT_EVERY == 0 {
                    let (cert, holder) = &texts.bound[(i / PRESENT_EVERY) % texts.bound.len()];
                    qrtext::encode(Kind::Presentation, &presentation::present(cert, holder, at))
                } else {
                    let k = (i.wrapping_mul(7919) + salt) % texts.certificates.len();
                    texts.certificates[k].clone()
                };
                Event::Check(Check {
                    verdict: Verdict::Valid,
                    reason: None,
                    scanned: Some(scanned),
                    cert: Some(CertRef {
                        cert_type: CertType::QC,
                        number: "210102198503122434".into(),
                        version: 1,
                    }),
                    status_seq: Some(12),
                    trust_seq: Some(1),
                    warnings: Vec::new(),
                    data_age: Some(3_600),
                })
            };
            let (sealed, next) = head.append(at, event);
            head = next;
            sealed
        })
        .collect()
}

fn sign(records: &[Sealed], device: &SigningKey) -> Vec<u8> {
    let refs: Vec<&[u8]> = records.iter().map(|s| s.bytes.as_slice()).collect();
    checklog::sign_batch(&refs, device)
}

async fn run(engine: &Engine, batch_size: usize, devices: usize, per_device_records: usize) {
    let dir = tempfile::tempdir().unwrap();
    let state = engine
        .open_state(dir.path(), Alg::EdDSA, Config::default(), Arc::new(|| T0))
        .unwrap();
    // The store is called off the runtime's threads (the PostgreSQL client
    // blocks on a runtime of its own), as the server does.
    let token = |role, division| {
        testkit::blocking(|| auth::create_token(state.store(), role, division, "bench", T0))
            .unwrap()
            .0
    };
    let admin = token(Role::Admin, None);
    let texts = issue(&state, &admin).await;
    let division = DivisionCode::from_u32(210100).unwrap();
    let mut uploads = Vec::new();
    let mut total_records = 0;
    let mut total_bytes = 0;
    for d in 0..devices {
        let officer = token(Role::Officer, Some(division));
        let device = SigningKey::from_secret_bytes(Alg::EdDSA, &[d as u8 + 1; 32]).unwrap();
        let body = serde_json::to_vec(&json!({
            "alg": "EdDSA",
            "public_key": URL_SAFE_NO_PAD.encode(device.public_key().to_bytes()),
        }))
        .unwrap();
        let (status, v) = call(
            &state,
            Method::POST,
            "/api/v1/devices",
            &officer,
            "application/json",
            body,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        let chain = records(&texts, per_device_records, d * 31);
        for part in chain.chunks(batch_size) {
            let batch = sign(part, &device);
            total_records += part.len();
            total_bytes += batch.len();
            uploads.push((officer.clone(), batch));
        }
    }
    // Devices upload concurrently (phones syncing at the end of a shift),
    // each its own batches in order; one device gives the sequential figure.
    let per_device = uploads.len() / devices;
    let mut lanes: Vec<Vec<(String, Vec<u8>)>> = Vec::new();
    let mut all = uploads.into_iter();
    for _ in 0..devices {
        lanes.push(all.by_ref().take(per_device).collect());
    }
    let batches = per_device * devices;
    let start = Instant::now();
    let tasks: Vec<_> = lanes
        .into_iter()
        .map(|lane| {
            let state = state.clone();
            tokio::spawn(async move {
                for (officer, batch) in lane {
                    let (status, v) = call(
                        &state,
                        Method::POST,
                        "/api/v1/verification-logs",
                        &officer,
                        "application/cose",
                        batch,
                    )
                    .await;
                    assert_eq!(status, StatusCode::OK, "{v}");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    testkit::blocking(move || drop(state));
    println!(
        "{:<8} {devices} device(s), batches of {batch_size:>5}: {total_records} records ({:.0} bytes each signed) in {elapsed:.2} s: {:>7.0} records/s, {:.1} ms per batch",
        engine.name(),
        total_bytes as f64 / total_records as f64,
        total_records as f64 / elapsed,
        elapsed * 1e3 / batches as f64,
    );
}

/// `BATCHxDEVICES,…` → (batch size, devices) pairs.
fn cases(text: &str) -> Vec<(usize, usize)> {
    text.split(',')
        .map(|case| {
            let (batch, devices) = case
                .trim()
                .split_once('x')
                .unwrap_or_else(|| panic!("INGEST_CASES: {case:?} is not BATCHxDEVICES"));
            (batch.parse().unwrap(), devices.parse().unwrap())
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // A refused request logs why (a 500 says only that it was logged).
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::ERROR)
        .try_init();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // then one small round checks that the benchmark still runs.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (cases, per_device) = if quick {
        (vec![(500, 2)], 1_000)
    } else {
        (
            cases(
                &std::env::var("INGEST_CASES")
                    .unwrap_or_else(|_| "500x1,1000x1,2000x1,500x4,1000x4,2000x4".into()),
            ),
            std::env::var("INGEST_RECORDS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(RECORDS_PER_DEVICE),
        )
    };
    println!(
        "check-log ingestion, durable commits, {CERTS} distinct certificates, 1 in {PRESENT_EVERY} a live presentation, {per_device} records per device, {} cores, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
    );
    for engine in testkit::engines() {
        for &(batch_size, devices) in &cases {
            run(&engine, batch_size, devices, per_device).await;
        }
    }
}
