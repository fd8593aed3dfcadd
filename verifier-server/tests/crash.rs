//! Crash tests of the real binary over 127.0.0.1: the server is killed
//! with SIGKILL while records are being pushed, restarted on the same data
//! directory, and every acknowledged record must be there, signed and
//! verifying with `shared` against the lists the restarted server serves;
//! the import CLI is killed, and loses its server, mid-file and must
//! finish with every record stored exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::{agent, records, ChildServer, Verifier};
use verifier_server::Config;

const BIN: &str = env!("CARGO_BIN_EXE_verifier-server");

/// `verifier-server serve` on `data`, on a port of its own, with `extra`
/// options.
fn serve(data: &Path, extra: &[&str]) -> ChildServer {
    ChildServer::start(Path::new(BIN), "serve", data, extra).unwrap()
}

fn create_token(data: &Path, args: &[&str]) -> String {
    let args: Vec<&str> = std::iter::once("create-token")
        .chain(args.iter().copied())
        .collect();
    testkit::server_admin_with(Path::new(BIN), data, &args).unwrap()
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

/// What the data directory holds, read through the service's own store.
fn counts(data: &Path) -> verifier_server::store::Counts {
    let state = testkit::open_at(data, Config::default());
    let mut tx = state.store().begin().unwrap();
    tx.counts().unwrap()
}

#[test]
fn sigkill_during_pushes_loses_no_acknowledged_record() {
    const BATCH: usize = 100;
    let dir = testkit::tempdir();
    let data = dir.path().join("data");
    // Every acknowledged record is read back one request at a time, as
    // many as the pusher got in before the kill (hundreds, more on a fast
    // machine): more than the per-caller burst. The rate limit is not
    // what this test is about, so it is off.
    let mut server = serve(&data, &["--rate-per-second", "0"]);
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
    server.kill().unwrap();
    let in_flight = client.join().unwrap();
    let acked = acked.load(Ordering::SeqCst);
    assert_eq!(
        in_flight, acked,
        "the client stops at the first unanswered push"
    );

    // The database opens after the crash; the keys are the same.
    let root = testkit::open_at(&data, Config::default()).root_public_key();
    let stored = counts(&data);
    let n = acked * BATCH;
    assert!(
        stored.certificates == n as u64 || stored.certificates == (n + BATCH) as u64,
        "a push is stored whole or not at all: {stored:?} after {acked} acknowledged batches"
    );
    assert_eq!(stored.versions, stored.certificates);

    server.restart().unwrap();
    let agent = agent();
    let (status, trust) = get(&agent, &format!("{}/api/v1/trust-list", server.url), None);
    assert_eq!(status, 200);
    let (status, body) = get(&agent, &format!("{}/api/v1/status-list", server.url), None);
    assert_eq!(status, 200);
    let verifier = Verifier::from_served(&trust, &root, &body);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
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
        let ok = verifier
            .check(view["qr"].as_str().unwrap(), now)
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
    server.kill().unwrap();
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
    let dir = testkit::tempdir();
    let data = dir.path().join("data");
    let mut server = serve(&data, &[]);
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
    server.kill().unwrap();
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
    server.restart().unwrap();
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
    server.kill().unwrap();

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
