//! Crash tests of the real binary over 127.0.0.1: the server is killed
//! with SIGKILL while records are being pushed, restarted on the same data
//! directory, and every acknowledged record must be there, signed and
//! verifying with `shared` against the lists the restarted server serves;
//! the import CLI is killed, and loses its server, mid-file and must
//! finish with every record stored exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/records.rs"]
mod records;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shared::crypto::Alg;
use shared::status::StatusCache;
use shared::trust::{SignedStatus, StatusUpdate, TrustList};
use shared::verify::{self, Context, Policy, StatusData};
use verifier_server::store::{SqliteStore, Store as _};
use verifier_server::{AppState, Config};

const BIN: &str = env!("CARGO_BIN_EXE_verifier-server");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A running `verifier-server serve`.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(data: &Path, port: u16) -> Server {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.with_extension("log"))
            .unwrap();
        let child = Command::new(BIN)
            .args(["serve", "--data"])
            .arg(data)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let agent = agent();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = agent.get(format!("{}/healthz", server.url)).call() {
                if r.status() == 200 {
                    return server;
                }
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(data.with_extension("log")).unwrap_or_default();
                panic!("the server exited with {status} while starting:\n{log}");
            }
            assert!(Instant::now() < deadline, "the server did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL (`Child::kill` sends SIGKILL on Unix): no shutdown code runs.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn create_token(data: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["admin", "create-token", "--data"])
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn push(agent: &ureq::Agent, url: &str, token: &str, records: &[Value]) -> Result<Value, String> {
    let body = serde_json::to_vec(&json!({ "records": records })).unwrap();
    let mut r = agent
        .post(format!("{url}/api/v1/records"))
        .header("Authorization", format!("Bearer {token}"))
        .content_type("application/json")
        .send(&body[..])
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("HTTP {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

fn get(agent: &ureq::Agent, url: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    let mut req = agent.get(url);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let mut r = req.call().unwrap();
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_vec().unwrap())
}

fn counts(data: &Path) -> verifier_server::store::Counts {
    let store = SqliteStore::open(&data.join("verifier.db")).unwrap();
    let mut tx = store.begin().unwrap();
    tx.counts().unwrap()
}

/// 2026-06-01 10:00 China Standard Time: every generated record is valid.
const T0: i64 = 1_780_279_200;

#[test]
fn sigkill_during_pushes_loses_no_acknowledged_record() {
    const BATCH: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let server = Server::start(&data, port);
    let agency = create_token(&data, &["--role", "agency", "--division", "210100"]);
    let admin = create_token(&data, &["--role", "admin"]);

    // A client pushing batches as fast as the server takes them.
    let acked = Arc::new(AtomicUsize::new(0));
    let client = {
        let (acked, url, token) = (acked.clone(), server.url.clone(), agency.clone());
        std::thread::spawn(move || {
            let agent = agent();
            for b in 0.. {
                let batch = records::values(b * BATCH, (b + 1) * BATCH);
                match push(&agent, &url, &token, &batch) {
                    Ok(answer) => {
                        assert_eq!(answer["summary"]["issued"], BATCH, "{answer}");
                        acked.store(b + 1, Ordering::SeqCst);
                    }
                    // The server died: batch `b` was in flight.
                    Err(_) => return b,
                }
            }
            unreachable!()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.load(Ordering::SeqCst) < 5 {
        assert!(Instant::now() < deadline, "no pushes acknowledged");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Land the kill at a varying point of the next push.
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        % 20_000_000;
    std::thread::sleep(Duration::from_nanos(u64::from(jitter)));
    server.kill();
    let in_flight = client.join().unwrap();
    let acked = acked.load(Ordering::SeqCst);
    assert_eq!(
        in_flight, acked,
        "the client stops at the first unanswered push"
    );

    // The database opens after the crash; the keys are the same.
    let root = AppState::open(&data, Alg::EdDSA, Config::default(), Arc::new(|| T0))
        .unwrap()
        .root_public_key();
    let stored = counts(&data);
    let n = acked * BATCH;
    assert!(
        stored.certificates == n as u64 || stored.certificates == (n + BATCH) as u64,
        "a push is stored whole or not at all: {stored:?} after {acked} acknowledged batches"
    );
    assert_eq!(stored.versions, stored.certificates);

    let server = Server::start(&data, port);
    let agent = agent();
    let (status, body) = get(&agent, &format!("{}/api/v1/trust-list", server.url), None);
    assert_eq!(status, 200);
    let trust = TrustList::verify(&body, &root).unwrap();
    let (status, body) = get(&agent, &format!("{}/api/v1/status-list", server.url), None);
    assert_eq!(status, 200);
    let signed = SignedStatus::verify(&body, &trust).unwrap();
    let StatusUpdate::Snapshot(snapshot) = signed.update else {
        panic!("status-list served a delta")
    };
    let cache = StatusCache::from_snapshot(snapshot);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let context = Context {
        trust: &trust,
        status: Some(StatusData {
            cache: &cache,
            manifest: signed.manifest,
        }),
        now,
        newest_seen: 0,
        policy: Policy::default(),
    };
    // Every acknowledged record is there, signed, and verifies as valid.
    for i in 0..n {
        let r = records::record(i);
        let (t, number) = (r.cert_type.unwrap(), r.number.unwrap());
        let (status, body) = get(
            &agent,
            &format!("{}/api/v1/certificates/{t}/{number}", server.url),
            Some(&admin),
        );
        assert_eq!(
            status, 200,
            "record {i} ({t} {number}) acknowledged but lost"
        );
        let view: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(view["version"], 1);
        let ok = verify::verify(view["qr"].as_str().unwrap(), &context)
            .unwrap_or_else(|e| panic!("record {i} ({t} {number}): {e:?}"));
        assert_eq!(ok.claims().number, number);
    }
    // Re-pushing everything since the last acknowledged batch duplicates
    // nothing: the acknowledged batches are unchanged, the one in flight
    // is stored whole now (or was, before the kill).
    for b in 0..=acked {
        let answer = push(
            &agent,
            &server.url,
            &agency,
            &records::values(b * BATCH, (b + 1) * BATCH),
        )
        .unwrap();
        let s = &answer["summary"];
        if b < acked {
            assert_eq!(s["unchanged"], BATCH, "batch {b}: {s}");
        } else {
            let whole = s["issued"] == BATCH || s["unchanged"] == BATCH;
            assert!(whole, "the batch in flight was half stored: {s}");
        }
    }
    server.kill();
    let after = counts(&data);
    assert_eq!(after.certificates, (n + BATCH) as u64);
    assert_eq!(after.versions, after.certificates);
}

/// A running `verifier-server import`.
fn import(server: &str, token: &str, file: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args([
        "import", "--server", server, "--token", token, "--batch", "10",
    ])
    .args(extra)
    .arg(file)
    .env("RUST_LOG", "error");
    c
}

fn records_done(state: &Path) -> u64 {
    std::fs::read(state)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["records_done"].as_u64())
        .unwrap_or(0)
}

/// Waits until the import's state says at least `n` records are done.
fn wait_for(state: &Path, n: u64, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while records_done(state) < n {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended early"
        );
        assert!(Instant::now() < deadline, "the import made no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn import_cli_resumes_after_being_killed_and_after_a_server_crash() {
    const N: usize = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let server = Server::start(&data, port);
    let token = create_token(&data, &["--role", "agency", "--division", "210100"]);

    // 2,000 records, a line that is not JSON (line 51) and a
    // non-conforming record (line 122: ID number check digit).
    let mut lines: Vec<String> = records::values(0, N)
        .iter()
        .map(|v| serde_json::to_string(v).unwrap())
        .collect();
    lines.insert(50, "{\"cert_type\": \"QC\", oops".into());
    let mut bad = records::record(9 * (N / 9 + 1)); // a QC record
    let id = bad.number.clone().unwrap();
    let wrong = format!("{}{}", &id[..17], if &id[17..] == "0" { "1" } else { "0" });
    bad.number = Some(wrong.clone());
    bad.id_number = Some(wrong);
    lines.insert(121, serde_json::to_string(&bad).unwrap());
    let file: PathBuf = dir.path().join("records.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let state = dir.path().join("records.jsonl.import-state");

    // 1. The import itself is killed.
    let mut run = import(&server.url, &token, &file, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&state, 200, &mut run);
    run.kill().unwrap();
    run.wait().unwrap();
    let first = records_done(&state);
    assert!(first < (N + 2) as u64, "killed too late to test anything");

    // 2. It resumes, and the server is killed under it: it stops, saying
    // how to resume.
    let mut run = import(&server.url, &token, &file, &["--retries", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&state, first + 200, &mut run);
    server.kill();
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("run the same command again to resume"),
        "{stderr}"
    );
    let second = records_done(&state);
    assert!(second > first && second < (N + 2) as u64);

    // 3. The server is back; the import finishes.
    let server = Server::start(&data, port);
    let out = import(&server.url, &token, &file, &["--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a malformed line makes exit status 2: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outcome: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(outcome["resumed_at_record"], second + 1);
    assert_eq!(outcome["records"], N + 2);
    let s = &outcome["summary"];
    assert_eq!(
        s["issued"].as_u64().unwrap() + s["unchanged"].as_u64().unwrap(),
        N as u64,
        "{s}"
    );
    assert_eq!(
        (s["updated"].clone(), s["refused"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(
        (s["non_conforming"].clone(), s["malformed"].clone()),
        (json!(1), json!(1))
    );
    // Run again: already complete, nothing pushed.
    let again = import(&server.url, &token, &file, &["--json"])
        .output()
        .unwrap();
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["already_complete"], true);
    server.kill();

    // Every record exactly once: one certificate, one version each.
    let stored = counts(&data);
    assert_eq!((stored.certificates, stored.versions), (N as u64, N as u64));
    assert_eq!(stored.nonconforming_open, 1);
    // The report names the two bad lines once each, whatever was re-sent.
    let report =
        std::fs::read_to_string(dir.path().join("records.jsonl.import-report.csv")).unwrap();
    let rows: Vec<&str> = report.lines().skip(1).collect();
    assert!(rows
        .iter()
        .any(|r| r.starts_with("51,,,malformed,,line.malformed")));
    assert!(rows
        .iter()
        .all(|r| r.starts_with("51,") || r.starts_with("122,")));
    assert!(rows
        .iter()
        .any(|r| r.starts_with("122,QC,") && r.contains("non_conforming")));
    let line_122: Vec<&&str> = rows.iter().filter(|r| r.starts_with("122,")).collect();
    let mut dedup = line_122.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), line_122.len(), "a reason reported twice");
    assert_eq!(rows.iter().filter(|r| r.starts_with("51,")).count(), 1);
}
