//! Issuing throughput: distinct realistic records pushed in batches through
//! `issuing::push`, one durable commit per batch, for Ed25519 and SM2, on
//! every engine of the run: a file-backed `SqliteStore` (WAL,
//! `synchronous=FULL`) in a temporary directory, then PostgreSQL (a fresh
//! database) when `LNEC_TEST_POSTGRES` names a server. Prints certificates
//! per second and timing splits (parse + validate, sign, the rest: store
//! and commit).
//!
//! `cargo bench -p verifier-server --bench issuing` (SQLite only), or
//! `scripts/bench-engines` (both engines in one run); environment:
//! `ISSUING_N` (records, default 50000), `ISSUING_BATCH` (default 2000),
//! `ISSUING_SM2_N` (default 10000; 0 skips SM2), `ISSUING_PUSHERS` (pushes
//! at once in the second Ed25519 run, default 2; 1 skips it).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use testkit::{records, Engine};

use std::sync::Arc;
use std::time::{Duration, Instant};

use shared::crypto::Alg;
use shared::domain::validate::validate;
use shared::domain::{DivisionCode, RawRecord};
use shared::wire::Claims;
use verifier_server::auth::{self, Caller, Role};
use verifier_server::issuing;
use verifier_server::{AppState, Config};

// 2026-06-01 10:00 China Standard Time: every sample record is valid.
use testkit::T0;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn per_second(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// A fresh server state on `engine` and a Shenyang agency caller.
fn fresh(engine: &Engine, alg: Alg, dir: &std::path::Path) -> (AppState, Caller) {
    let state = engine
        .open_state(dir, alg, Config::default(), Arc::new(|| T0))
        .unwrap();
    let division = DivisionCode::from_u32(records::DIVISION).unwrap();
    let (_, token_id) =
        auth::create_token(state.store(), Role::Agency, Some(division), "bench", T0).unwrap();
    let caller = Caller {
        client_addr: None,
        token_id,
        role: Role::Agency,
        division: Some(division),
        province: shared::domain::DivisionCode::PROVINCE,
        subject: "bench".into(),
    };
    (state, caller)
}

/// Pushers at once (`ISSUING_PUSHERS`, default 2): an agency's system (or
/// two agencies) sending batches on two connections, as the server takes
/// them. Each pushes its own half of the records, batch after batch.
fn concurrent(engine: &Engine, alg: Alg, n: usize, batch: usize, pushers: usize) {
    if n == 0 || pushers < 2 {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (state, caller) = fresh(engine, alg, dir.path());
    let values = records::values(0, n);
    let share = n.div_ceil(pushers);
    let start = Instant::now();
    let issued: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = values
            .chunks(share)
            .map(|part| {
                let (state, caller) = (&state, &caller);
                scope.spawn(move || {
                    let mut issued = 0;
                    for chunk in part.chunks(batch) {
                        let answer = issuing::push(
                            state.store(),
                            &state.keys(),
                            caller,
                            T0,
                            chunk.to_vec(),
                            None,
                        )
                        .unwrap();
                        assert_eq!(answer.summary.issued, chunk.len());
                        issued += answer.summary.issued;
                    }
                    issued
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let elapsed = start.elapsed();
    assert_eq!(issued, n);
    let counts = state.store().begin().unwrap().counts().unwrap();
    assert_eq!(counts.versions, n as u64);
    println!(
        "{} {alg:?}: {n} records, {pushers} pushers at once, batches of {batch}: \
         {:.0} certificates/s issued ({:.2} s)",
        engine.name(),
        per_second(n, elapsed),
        elapsed.as_secs_f64(),
    );
}

fn bench(engine: &Engine, alg: Alg, n: usize, batch: usize) {
    if n == 0 {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (state, caller) = fresh(engine, alg, dir.path());
    // What the client sends, prepared before the clock starts.
    let values = records::values(0, n);
    let today = shared::cst::date(T0);

    // Split 1: JSON → RawRecord → validate.
    let start = Instant::now();
    let mut data = Vec::with_capacity(n);
    for v in &values {
        let raw: RawRecord = serde_json::from_value(v.clone()).unwrap();
        data.push(validate(&raw, today).unwrap());
    }
    let t_validate = start.elapsed();
    // Split 2: sign (one core).
    let start = Instant::now();
    for (i, d) in data.iter().enumerate() {
        let claims = Claims::from_certificate(d, i as u32, T0, None);
        std::hint::black_box(shared::cose::sign(
            claims.to_cbor(),
            &state.keys().issuer,
            true,
        ));
    }
    let t_sign = start.elapsed();

    // The whole push, batch by batch, each committed durably.
    let start = Instant::now();
    let mut issued = 0;
    let mut slowest = Duration::ZERO;
    for chunk in values.chunks(batch) {
        let t = Instant::now();
        let answer = issuing::push(
            state.store(),
            &state.keys(),
            &caller,
            T0,
            chunk.to_vec(),
            None,
        )
        .unwrap();
        slowest = slowest.max(t.elapsed());
        assert_eq!(answer.summary.issued, chunk.len(), "{:?}", answer.summary);
        issued += answer.summary.issued;
    }
    let t_push = start.elapsed();
    assert_eq!(issued, n);

    // An identical re-push (after an outage): nothing is written.
    let start = Instant::now();
    for chunk in values.chunks(batch) {
        let answer = issuing::push(
            state.store(),
            &state.keys(),
            &caller,
            T0,
            chunk.to_vec(),
            None,
        )
        .unwrap();
        assert_eq!(answer.summary.unchanged, chunk.len());
    }
    let t_repush = start.elapsed();
    let counts = state.store().begin().unwrap().counts().unwrap();
    assert_eq!(counts.versions, n as u64);
    let db = std::fs::metadata(dir.path().join("verifier.db"))
        .map(|m| m.len())
        .unwrap_or(0);

    println!(
        "{} {alg:?}: {n} records in batches of {batch}: {:.0} certificates/s issued \
         ({:.2} s, slowest batch {:.0} ms); re-push {:.0} records/s",
        engine.name(),
        per_second(n, t_push),
        t_push.as_secs_f64(),
        slowest.as_secs_f64() * 1e3,
        per_second(n, t_repush),
    );
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "  per record: {:.1} µs total = parse+validate {:.1} µs, sign {:.1} µs, \
         store+rest {:.1} µs; SQLite file {:.1} MB",
        us(t_push),
        us(t_validate),
        us(t_sign),
        us(t_push) - us(t_validate) - us(t_sign),
        db as f64 / 1e6
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // then one small round checks that the benchmark still runs.
    let quick = !std::env::args().any(|a| a == "--bench");
    let batch = env_usize("ISSUING_BATCH", 2_000);
    let (n, n_sm2) = if quick {
        (500, 200)
    } else {
        (
            env_usize("ISSUING_N", 50_000),
            env_usize("ISSUING_SM2_N", 10_000),
        )
    };
    println!(
        "issuing, durable commits, batches of {batch}, {} cores, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let pushers = env_usize("ISSUING_PUSHERS", 2);
    for engine in testkit::engines() {
        bench(&engine, Alg::EdDSA, n, batch);
        concurrent(&engine, Alg::EdDSA, n, batch, pushers);
        bench(&engine, Alg::Sm2Sm3, n_sm2, batch);
    }
}
