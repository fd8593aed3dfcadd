//! The field client end to end: the real binary against an in-process
//! `verifier-server` on 127.0.0.1 (device enrollment and check-log upload
//! included), with a layer that can drop one upload reply after the server
//! committed it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use shared::domain::{sample_record, CertType, DivisionCode, RawRecord};
use testkit::{SocketServer, TestServer};
use verifier_server::auth::Role;
use verifier_server::AppState;

const BIN: &str = env!("CARGO_BIN_EXE_field-client");

/// Drops the reply of the next verification-log upload after the server
/// committed it: a reply lost on the way back.
async fn lose_reply(
    State(flag): State<Arc<AtomicBool>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let upload =
        req.method() == axum::http::Method::POST && req.uri().path() == "/api/v1/verification-logs";
    let response = next.run(req).await;
    if upload && flag.swap(false, Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    response
}

/// The kit's server on a socket of its own runtime, with the reply-losing
/// layer and an officer token.
struct Server {
    kit: TestServer,
    state: AppState,
    url: String,
    admin: String,
    officer: String,
    lose_reply: Arc<AtomicBool>,
    /// Keeps the socket served until the test ends.
    _socket: SocketServer,
}

/// Serves `router` on 127.0.0.1 until the returned server is dropped.
fn serve(router: Router) -> SocketServer {
    SocketServer::start_router_blocking(router)
}

impl Server {
    fn start() -> Server {
        let kit = TestServer::new();
        let officer = kit.token(Role::Officer, Some(210100), "officer");
        let lose: Arc<AtomicBool> = Arc::default();
        let router = kit.app().layer(axum::middleware::from_fn_with_state(
            lose.clone(),
            lose_reply,
        ));
        let socket = serve(router);
        Server {
            state: kit.state.clone(),
            url: socket.url.clone(),
            admin: kit.admin.clone(),
            kit,
            officer,
            lose_reply: lose,
            _socket: socket,
        }
    }

    fn advance(&self, s: i64) {
        self.kit.advance(s);
    }

    fn now(&self) -> i64 {
        self.kit.now()
    }

    fn http(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.http_as(&self.admin, method, path, body)
    }

    fn http_as(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .build()
            .into();
        let url = format!("{}{path}", self.url);
        let auth = format!("Bearer {token}");
        let mut r = match (method, body) {
            ("GET", _) => agent
                .get(&url)
                .header("Authorization", &auth)
                .call()
                .unwrap(),
            (_, b) => agent
                .post(&url)
                .header("Authorization", &auth)
                .content_type("application/json")
                .send(
                    serde_json::to_vec(&b.unwrap_or(json!({})))
                        .unwrap()
                        .as_slice(),
                )
                .unwrap(),
        };
        let status = r.status();
        let text = r.body_mut().read_to_string().unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    fn push_samples(&self) -> Vec<RawRecord> {
        let records: Vec<RawRecord> = CertType::ALL.into_iter().map(sample_record).collect();
        let answer = self.http("POST", "/api/v1/records", Some(json!({"records": records})));
        assert_eq!(answer["summary"]["issued"], 9, "{answer}");
        records
    }

    fn qr(&self, t: CertType) -> String {
        let n = sample_record(t).number.unwrap();
        self.http(
            "GET",
            &format!("/api/v1/certificates/{}/{n}", t.code()),
            None,
        )["qr"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn revoke(&self, t: CertType) {
        let n = sample_record(t).number.unwrap();
        self.http(
            "POST",
            &format!("/api/v1/certificates/{}/{n}/status", t.code()),
            Some(json!({"status": "revoked"})),
        );
    }

    fn server_records(&self, dir: &Path) -> u64 {
        let st = fc(dir, self.now(), &["--json", "status"]).json()[0].clone();
        let kid = st["device_kid"].as_str().unwrap().to_string();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .build()
            .into();
        let mut r = agent
            .get(&format!(
                "{}/api/v1/verification-logs/head?kid={kid}",
                self.url
            ))
            .header("Authorization", &format!("Bearer {}", self.officer))
            .call()
            .unwrap();
        let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        v["next_seq"].as_u64().unwrap()
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn fc(dir: &Path, now: i64, args: &[&str]) -> Run {
    let out: Output = Command::new(BIN)
        .arg("--data")
        .arg(dir)
        .args(args)
        .env("FIELD_CLIENT_NOW", now.to_string())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn enrolled(s: &Server) -> tempfile::TempDir {
    let dir = testkit::tempdir();
    let data = dir.path().join("dev");
    let r = fc(
        &data,
        s.now(),
        &[
            "enroll",
            "--server",
            &s.url,
            "--token",
            &s.officer,
            "--root-kid",
            &s.state.root_public_key().kid().to_hex(),
        ],
    );
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    dir
}

fn data(d: &tempfile::TempDir) -> std::path::PathBuf {
    d.path().join("dev")
}

fn verify_text(dir: &Path, now: i64, qr: &str) -> (i32, Value) {
    let r = fc(dir, now, &["--json", "verify", "--text", qr]);
    let v = r.json();
    assert_eq!(v.len(), 1, "{} {}", r.stdout, r.stderr);
    (r.code, v[0].clone())
}

#[test]
fn enroll_pins_the_root_and_refuses_a_mismatch() {
    use std::os::unix::fs::PermissionsExt as _;
    let s = Server::start();
    let d = enrolled(&s);
    let mode = std::fs::metadata(data(&d).join("device.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let mode = std::fs::metadata(data(&d)).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    // Re-enrolling the same key is fine.
    let r = fc(
        &data(&d),
        s.now(),
        &["enroll", "--server", &s.url, "--token", &s.officer],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let other = testkit::tempdir();
    let r = fc(
        other.path(),
        s.now(),
        &[
            "enroll",
            "--server",
            &s.url,
            "--token",
            &s.officer,
            "--root-kid",
            "0011223344556677",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("root key mismatch"), "{}", r.stderr);
    let r = fc(
        other.path(),
        s.now(),
        &["enroll", "--server", &s.url, "--token", "wrong"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("refused the enrollment"), "{}", r.stderr);
}

#[test]
fn sync_verify_revoke_delta_dispose_upload() {
    let s = Server::start();
    s.push_samples();
    let d = enrolled(&s);
    let dir = data(&d);
    // Before any sync nothing can be confirmed.
    let qr = s.qr(CertType::YSZ);
    let (code, v) = verify_text(&dir, s.now(), &qr);
    assert_eq!((code, v["verdict"].as_str()), (3, Some("cannot_confirm")));

    let r = fc(&dir, s.now(), &["--json", "sync"]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let rep = &r.json()[0];
    assert_eq!(rep["status_step"], "snapshot");
    assert!(
        r.stderr.contains("sync: trust list"),
        "progress: {}",
        r.stderr
    );
    for t in CertType::ALL {
        let (code, v) = verify_text(&dir, s.now(), &s.qr(t));
        assert_eq!(code, 0, "{t}: {v}");
        assert_eq!(v["verdict"], "valid");
        assert_eq!(v["certificate"]["cert_type"], json!(t));
        assert!(v["reason"].is_null());
        assert!(v["data_age_seconds"].as_i64().unwrap() >= 0);
        assert!(v["warnings"].as_array().unwrap().is_empty());
    }
    // The human card.
    let r = fc(&dir, s.now(), &["verify", "--text", &qr]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("有效  VALID") && r.stdout.contains("车牌 Plate"),
        "{}",
        r.stdout
    );

    // Revoked after one sync: the delta brings it.
    s.advance(600);
    s.revoke(CertType::YSZ);
    let r = fc(&dir, s.now(), &["--json", "sync"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()[0]["status_step"], "delta", "{}", r.stdout);
    let (code, v) = verify_text(&dir, s.now(), &qr);
    assert_eq!(
        (code, v["verdict"].as_str(), v["reason"].as_str()),
        (1, Some("invalid"), Some("revoked"))
    );
    assert_eq!(v["certificate"]["cert_type"], "YSZ");
    let (code, _) = verify_text(&dir, s.now(), &s.qr(CertType::QC));
    assert_eq!(code, 0);

    // Worst verdict decides with several codes.
    let qc = s.qr(CertType::QC);
    let r = fc(
        &dir,
        s.now(),
        &["--json", "verify", "--text", &qc, "--text", &qr],
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.json().len(), 2);

    // Dispose: a valid certificate refused is an incident.
    let (_, v) = verify_text(&dir, s.now(), &qc);
    let id = v["check_id"].as_u64().unwrap().to_string();
    let r = fc(
        &dir,
        s.now(),
        &[
            "--json",
            "dispose",
            &id,
            "--refused",
            "--reason",
            "不认可电子证照",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()[0]["valid_refused_incident"], true);
    let r = fc(
        &dir,
        s.now(),
        &["dispose", "999", "--accepted", "--reason", "x"],
    );
    assert_eq!(r.code, 2);
    let r = fc(&dir, s.now(), &["dispose", &id, "--reason", "x"]);
    assert_eq!(r.code, 2, "neither accepted nor refused is a usage error");

    // Logs: chained, everything pending until the next sync uploads it.
    let r = fc(&dir, s.now(), &["--json", "logs"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows = r.json();
    let last = rows.last().unwrap();
    assert_eq!(last["chain"], "ok");
    let total = last["records"].as_u64().unwrap();
    assert!(rows
        .iter()
        .any(|r| r["kind"] == "disposition" && r["accepted"] == false));
    let st = fc(&dir, s.now(), &["--json", "status"]).json()[0].clone();
    assert_eq!(st["checks_total"], total);
    assert!(st["device_kid"].as_str().unwrap().len() == 16);
    let uploaded_before = st["checks_uploaded"].as_u64().unwrap();
    assert!(uploaded_before < total);

    // Upload; a lost reply and a retry duplicate nothing.
    s.lose_reply.store(true, Ordering::SeqCst);
    let r = fc(&dir, s.now(), &["--json", "sync"]);
    assert_eq!(r.code, 2, "a lost reply is reported: {}", r.stdout);
    assert_eq!(s.server_records(&dir), total);
    let r = fc(&dir, s.now(), &["--json", "sync"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let up = &r.json()[0]["upload"]["Ok"];
    assert_eq!(up["accepted"], 0, "{}", r.stdout);
    assert_eq!(up["pending"], 0);
    assert_eq!(s.server_records(&dir), total);
    let st = fc(&dir, s.now(), &["--json", "status"]).json()[0].clone();
    assert_eq!(
        (
            st["checks_pending"].as_u64(),
            st["checks_uploaded"].as_u64()
        ),
        (Some(0), Some(total))
    );
    // New checks continue the chain on the server.
    verify_text(&dir, s.now(), &qc);
    let r = fc(&dir, s.now(), &["--json", "sync"]);
    assert_eq!(r.json()[0]["upload"]["Ok"]["accepted"], 1, "{}", r.stdout);
    assert_eq!(s.server_records(&dir), total + 1);
}

#[test]
fn a_garbled_or_broken_sync_leaves_the_local_data_untouched() {
    let s = Server::start();
    s.push_samples();
    let d = enrolled(&s);
    let dir = data(&d);
    assert_eq!(fc(&dir, s.now(), &["sync"]).code, 0);
    let before = fc(&dir, s.now(), &["--json", "status"]).json()[0].clone();
    s.advance(600);
    s.revoke(CertType::QC);
    // An evil mirror: the real trust list, a garbled delta and snapshot.
    let real = s.url.clone();
    let agent: ureq::Agent = ureq::Agent::config_builder().proxy(None).build().into();
    let fetch = |p: &str| {
        agent
            .get(&format!("{real}{p}"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_vec()
            .unwrap()
    };
    let trust = fetch("/api/v1/trust-list");
    let mut snapshot = fetch("/api/v1/status-list");
    let mid = snapshot.len() / 2;
    snapshot[mid] ^= 0x40;
    let seq = before["status_seq"].as_u64().unwrap();
    let mut delta = fetch(&format!("/api/v1/status-list/deltas?since={seq}"));
    let last = delta.len() - 1;
    delta[last] ^= 1;
    let catalogue = fetch("/api/v1/catalogue");
    let evil = Router::new()
        .route(
            "/api/v1/trust-list",
            get(move || async move { trust.clone() }),
        )
        .route(
            "/api/v1/status-list",
            get(move || async move { snapshot.clone() }),
        )
        .route(
            "/api/v1/status-list/deltas",
            get(move || async move { delta.clone() }),
        )
        .route(
            "/api/v1/catalogue",
            get(move || async move { catalogue.clone() }),
        );
    let evil_server = serve(evil);
    let evil_url = evil_server.url.clone();
    let r = fc(&dir, s.now(), &["sync", "--server", &evil_url]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("refused"), "{}", r.stderr);
    // A server that is gone.
    let r = fc(&dir, s.now(), &["sync", "--server", "http://127.0.0.1:9"]);
    assert_eq!(r.code, 2);
    let after = fc(&dir, s.now(), &["--json", "status"]).json()[0].clone();
    for k in ["trust_seq", "status_seq", "status_issued_at", "last_sync"] {
        assert_eq!(before[k], after[k], "{k}");
    }
    // The revocation is not known yet; the next good sync brings it.
    assert_eq!(verify_text(&dir, s.now(), &s.qr(CertType::QC)).0, 0);
    assert_eq!(fc(&dir, s.now(), &["sync"]).code, 0);
    assert_eq!(
        verify_text(&dir, s.now(), &s.qr(CertType::QC)).1["reason"],
        "revoked"
    );
}

#[test]
fn images_non_images_and_non_certificates() {
    let s = Server::start();
    s.push_samples();
    let d = enrolled(&s);
    let dir = data(&d);
    assert_eq!(fc(&dir, s.now(), &["sync"]).code, 0);
    let files = testkit::tempdir();
    let png = files.path().join("two.png");
    // Two codes side by side in one image.
    let a = image::load_from_memory(
        &shared::qr::render_png(&s.qr(CertType::QC), &Default::default()).unwrap(),
    )
    .unwrap()
    .to_luma8();
    let b = image::load_from_memory(
        &shared::qr::render_png(&s.qr(CertType::WYY), &Default::default()).unwrap(),
    )
    .unwrap()
    .to_luma8();
    let mut both = image::GrayImage::from_pixel(
        a.width() + b.width(),
        a.height().max(b.height()),
        image::Luma([255]),
    );
    image::imageops::replace(&mut both, &a, 0, 0);
    image::imageops::replace(&mut both, &b, i64::from(a.width()), 0);
    both.save(&png).unwrap();
    let r = fc(
        &dir,
        s.now(),
        &["--json", "verify", "--image", png.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v.len(), 2, "{}", r.stdout);
    assert!(v.iter().all(|x| x["verdict"] == "valid"));

    let text = files.path().join("notes.txt");
    std::fs::write(&text, "not an image").unwrap();
    let r = fc(
        &dir,
        s.now(),
        &["verify", "--image", text.to_str().unwrap()],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not a PNG or JPEG image"), "{}", r.stderr);
    let blank = files.path().join("blank.png");
    image::GrayImage::from_pixel(300, 200, image::Luma([255]))
        .save(&blank)
        .unwrap();
    let r = fc(
        &dir,
        s.now(),
        &["--json", "verify", "--image", blank.to_str().unwrap()],
    );
    assert_eq!(r.code, 2);
    assert_eq!(r.json()[0]["error"], "no_qr_code");
    let r = fc(&dir, s.now(), &["verify", "--image", "/nonexistent.png"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot read the file"), "{}", r.stderr);

    // A QR in another format may be a genuine certificate from elsewhere:
    // a logged cannot-confirm check that points to lookup, never invalid.
    let (code, v) = verify_text(&dir, s.now(), "HTTPS://EXAMPLE.COM");
    assert_eq!((code, v["reason"].as_str()), (3, Some("unrecognised_code")));
    assert_eq!(v["verdict"], "cannot_confirm");
    assert!(v["reason_zh"].as_str().unwrap().contains("联网查询"), "{v}");
    let logs = fc(&dir, s.now(), &["--json", "logs", "--last", "2"]).json();
    assert_eq!(logs[1]["reason"], "unrecognised_code");
    // Our prefix with a body that is not a certificate is proven bad.
    let (code, v) = verify_text(&dir, s.now(), "LC1:GGW");
    assert_eq!((code, v["reason"].as_str()), (1, Some("not_a_certificate")));
    // Standard input: QR texts, one per line.
    let mut child = Command::new(BIN)
        .args(["--data", dir.to_str().unwrap(), "--json", "verify", "-"])
        .env("FIELD_CLIENT_NOW", s.now().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(
        child.stdin.take().unwrap(),
        "{}\n\n{}",
        s.qr(CertType::FSX),
        s.qr(CertType::XYJ)
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    // No input at all is a usage error.
    assert_eq!(fc(&dir, s.now(), &["verify"]).code, 2);
}

#[test]
fn staleness_and_a_clock_set_back() {
    let s = Server::start();
    s.push_samples();
    let d = enrolled(&s);
    let dir = data(&d);
    assert_eq!(fc(&dir, s.now(), &["sync"]).code, 0);
    let qr = s.qr(CertType::JYXK);
    let st = fc(&dir, s.now(), &["--json", "status"]).json()[0].clone();
    let issued = st["status_issued_at"].as_i64().unwrap();
    let ttl = st["ttl"].as_i64().unwrap();
    let max_age = st["max_age"].as_i64().unwrap();

    let (code, v) = verify_text(&dir, issued + ttl + 60, &qr);
    assert_eq!(code, 0, "{v}");
    let codes = |v: &Value| -> Vec<String> {
        v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["code"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        codes(&v).contains(&"status_older_than_ttl".to_string()),
        "{v}"
    );
    let (code, v) = verify_text(&dir, issued + max_age + 60, &qr);
    assert_eq!(
        (code, v["reason"].as_str()),
        (3, Some("status_data_too_old")),
        "{v}"
    );
    let r = fc(&dir, issued + max_age + 60, &["verify", "--text", &qr]);
    assert!(
        r.stdout.contains("无法确认  CANNOT CONFIRM"),
        "{}",
        r.stdout
    );

    // The clock set a day earlier than the newest list: reported.
    let (_, v) = verify_text(&dir, issued - 86_400, &qr);
    assert!(
        codes(&v).contains(&"clock_behind_newest_list".to_string()),
        "{v}"
    );
    let st = fc(&dir, issued - 86_400, &["--json", "status"]).json()[0].clone();
    assert_eq!(st["clock_behind_seconds"], 86_400);
}

#[test]
fn sigkill_during_a_burst_loses_no_printed_check() {
    let s = Server::start();
    s.push_samples();
    let d = enrolled(&s);
    let dir = data(&d);
    assert_eq!(fc(&dir, s.now(), &["sync"]).code, 0);
    let qr = s.qr(CertType::WYJ);
    let mut child = Command::new(BIN)
        .args(["--data", dir.to_str().unwrap(), "--json", "verify", "-"])
        .env("FIELD_CLIENT_NOW", s.now().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = format!("{qr}\n").repeat(3000);
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let mut printed = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Only stdin's end starts the checks (it is read whole); wait for output.
    while printed.len() < 3000 {
        let Some(Ok(line)) = lines.next() else { break };
        let v: Value = serde_json::from_str(&line).unwrap();
        printed.push(v["check_id"].as_u64().unwrap());
        if printed.len() == 40 {
            child.kill().unwrap(); // SIGKILL
            break;
        }
    }
    child.wait().unwrap();
    let _ = writer.join();
    assert_eq!(printed.len(), 40);
    let logs = fc(&dir, s.now(), &["--json", "logs"]).json();
    assert_eq!(logs.last().unwrap()["chain"], "ok");
    let logged: std::collections::HashSet<u64> =
        logs.iter().filter_map(|r| r["seq"].as_u64()).collect();
    for id in &printed {
        assert!(
            logged.contains(id),
            "check {id} was printed but is not in the log"
        );
    }
    // The log continues after the crash.
    let (code, v) = verify_text(&dir, s.now(), &qr);
    assert_eq!(code, 0);
    assert!(v["check_id"].as_u64().unwrap() > *printed.last().unwrap());
}

#[test]
fn card_json_and_logs_name_everything() {
    use shared::domain::render_number;
    let s = Server::start();
    s.push_samples();
    // A vehicle whose inspection (审验) lapsed, issued by a county bureau.
    let mut lapsed = sample_record(CertType::YSZ);
    lapsed.number = Some("210112165716".into());
    lapsed.plate = Some("辽A5K824".into());
    lapsed.issuer_division = Some("210112".into());
    lapsed.inspection_valid_until = Some("20260501".into());
    let answer = s.http(
        "POST",
        "/api/v1/records",
        Some(json!({"records": [lapsed]})),
    );
    assert_eq!(answer["summary"]["issued"], 1, "{answer}");
    let d = enrolled(&s);
    let dir = data(&d);
    assert_eq!(fc(&dir, s.now(), &["sync"]).code, 0);
    for t in CertType::ALL {
        let (code, v) = verify_text(&dir, s.now(), &s.qr(t));
        assert_eq!(code, 0, "{t}: {v}");
        let face = &v["face"];
        let r = sample_record(t);
        let division = DivisionCode::parse(r.issuer_division.as_deref().unwrap()).unwrap();
        assert_eq!(face["cert_type"]["code"], t.code());
        assert_eq!(face["cert_type"]["name"], t.name_zh());
        assert_eq!(
            face["number_printed"],
            render_number(t, r.number.as_deref().unwrap(), division),
            "{t}"
        );
        // The authority as the trust list names it (the city bureau).
        assert_eq!(face["issuer_name"], division.authority_name_zh(), "{t}");
        assert_eq!(face["issuer_from_trust_list"], true);
        assert!(face["valid_from"].is_string() && face.get("valid_until").is_some());
        let lines = face["lines"].as_array().unwrap();
        let line = |k: &str| {
            lines
                .iter()
                .find(|l| l["key"] == k)
                .map(|l| l["value"].as_str().unwrap().to_string())
        };
        match t {
            CertType::QC => assert_eq!(
                line("qualification_classes").as_deref(),
                Some("经营性道路货物运输驾驶员（2）")
            ),
            CertType::YSZ => {
                assert_eq!(line("plate").as_deref(), Some("辽A5K823（黄色）"));
                assert_eq!(v["plate_colour"], json!({"code": "2", "name": "黄色"}));
                assert!(
                    line("business_scope")
                        .unwrap()
                        .contains("道路普通货物运输（021）"),
                    "{face}"
                );
                assert_eq!(face["inspection"]["lapsed"], false);
                assert_eq!(face["inspection"]["due"], "2026-09-30");
            }
            _ => {}
        }
    }
    // The human card: names, the printed number, the authority.
    let r = fc(&dir, s.now(), &["verify", "--text", &s.qr(CertType::YSZ)]);
    assert_eq!(r.code, 0);
    for needle in [
        "辽交运管沈字210100165715号",
        "沈阳市交通运输局",
        "辽A5K823（黄色）",
        "审验有效期至 Inspection due: 2026-09-30",
        "道路运输证",
    ] {
        assert!(r.stdout.contains(needle), "{needle}: {}", r.stdout);
    }
    assert!(!r.stdout.contains("逾期"), "{}", r.stdout);

    // The lapsed inspection: still valid, with a warning; a county issuer
    // is never named as its city's bureau.
    let n = "210112165716";
    let qr = s.http("GET", &format!("/api/v1/certificates/YSZ/{n}"), None)["qr"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, v) = verify_text(&dir, s.now(), &qr);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["face"]["inspection"]["lapsed"], true);
    assert_eq!(v["face"]["warnings"][0]["code"], "inspection_lapsed");
    assert_ne!(v["face"]["issuer_name"], "沈阳市交通运输局");
    assert_eq!(v["face"]["issuer_name"], "沈阳市浑南区交通运输局", "{v}");
    let r = fc(&dir, s.now(), &["verify", "--text", &qr]);
    assert!(r.stdout.contains("车辆审验已逾期"), "{}", r.stdout);

    // Logs in China Standard Time, not Unix seconds.
    let r = fc(&dir, s.now(), &["logs", "--last", "1"]);
    assert_eq!(r.code, 0);
    // T0 is 2026-06-01 10:00:00 China Standard Time.
    assert!(r.stdout.contains("2026-06-01 10:00:00"), "{}", r.stdout);
    assert!(!r.stdout.contains(&s.now().to_string()), "{}", r.stdout);
    let j = fc(&dir, s.now(), &["--json", "logs", "--last", "1"]).json();
    assert_eq!(j[0]["at_cst"], "2026-06-01 10:00:00");
}

#[test]
fn lookup_online_is_logged_and_uploaded_offline_needs_a_connection() {
    let s = Server::start();
    s.push_samples();
    let d = enrolled(&s);
    let dir = data(&d);
    // By plate: the card names everything, and it is a logged check.
    let r = fc(&dir, s.now(), &["lookup", "--plate", "辽A5K823"]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    for needle in [
        "有效  VALID",
        "联网查询",
        "辽交运管沈字210100165715号",
        "沈阳市交通运输局",
        "辽A5K823（黄色）",
        "2026-06-01 10:00:00",
    ] {
        assert!(r.stdout.contains(needle), "{needle}: {}", r.stdout);
    }
    assert!(!r.stdout.contains("LC1:"), "{}", r.stdout);
    // By ID number, JSON: the ID number masked.
    let r = fc(
        &dir,
        s.now(),
        &["--json", "lookup", "--id", "210102198503122434"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = &r.json()[0];
    assert_eq!(v["kind"], "lookup");
    assert_eq!(
        v["results"][0]["face"]["cert_type"]["name"],
        "道路运输从业人员从业资格证"
    );
    assert!(v.to_string().contains("210102********2434"), "{v}");
    // Revoked, by number: invalid (exit 1); unknown: cannot confirm (3).
    s.revoke(CertType::YSZ);
    let r = fc(
        &dir,
        s.now(),
        &["--json", "lookup", "--number", "210100165715"],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(r.json()[0]["reason"], "revoked");
    let r = fc(
        &dir,
        s.now(),
        &["--json", "lookup", "--number", "999999999999"],
    );
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert_eq!(r.json()[0]["reason"], "no_match");
    // A malformed plate is refused by the server: an error (2), not a verdict.
    let r = fc(&dir, s.now(), &["lookup", "--plate", "ABC"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("plate"), "{}", r.stderr);
    let r = fc(&dir, s.now(), &["lookup"]);
    assert_eq!(r.code, 2, "a key is required");

    // The device's log holds four lookups; a sync uploads them.
    let logs = fc(&dir, s.now(), &["--json", "logs"]).json();
    let lookups: Vec<_> = logs.iter().filter(|l| l["kind"] == "lookup").collect();
    assert_eq!(lookups.len(), 4, "{logs:?}");
    assert_eq!(lookups[0]["by"], "plate");
    assert_eq!(lookups[2]["verdict"], "invalid");
    let r = fc(&dir, s.now(), &["logs"]);
    assert!(r.stdout.contains("lookup valid"), "{}", r.stdout);
    let r = fc(&dir, s.now(), &["--json", "sync"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.server_records(&dir), 4);

    // Offline: lookup needs a connection; nothing is logged.
    let now = s.now();
    drop(s);
    let r = fc(&dir, now, &["--json", "lookup", "--plate", "辽A5K823"]);
    assert_eq!(r.code, 3, "{} {}", r.stdout, r.stderr);
    assert_eq!(r.json()[0]["error"], "offline");
    assert!(r.stderr.contains("查询需要联网"), "{}", r.stderr);
    let logs = fc(&dir, now, &["--json", "logs"]).json();
    assert_eq!(logs.iter().filter(|l| l["kind"] == "lookup").count(), 4);
}

/// Copies the list rows (and the root key rows) of `from`'s client.db into
/// `to`'s, as an attacker with file access would with sqlite3.
fn copy_list_rows(from: &Path, to: &Path, keys: &[&str]) {
    let src = rusqlite::Connection::open(from.join("client.db")).unwrap();
    let dst = rusqlite::Connection::open(to.join("client.db")).unwrap();
    for key in keys {
        let v: rusqlite::types::Value = src
            .query_row("SELECT value FROM state WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .unwrap();
        dst.execute(
            "INSERT INTO state (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            rusqlite::params![key, v],
        )
        .unwrap();
    }
    dst.execute("DELETE FROM status_delta", []).unwrap();
    let mut stmt = src.prepare("SELECT seq, bytes FROM status_delta").unwrap();
    let rows: Vec<(i64, Vec<u8>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (seq, bytes) in rows {
        dst.execute(
            "INSERT INTO status_delta (seq, bytes) VALUES (?1, ?2)",
            rusqlite::params![seq, bytes],
        )
        .unwrap();
    }
}

fn assert_tampered(dir: &Path, now: i64, qr: &str) {
    let r = fc(dir, now, &["--json", "verify", "--text", qr]);
    let v = r.json();
    assert_eq!(v.len(), 1, "{} {}", r.stdout, r.stderr);
    assert_eq!(
        (r.code, v[0]["verdict"].as_str(), v[0]["reason"].as_str()),
        (3, Some("cannot_confirm"), Some("store_tampered")),
        "{} {}",
        r.stdout,
        r.stderr
    );
    assert!(
        r.stderr.contains("field-client sync") && r.stderr.contains("re-enroll"),
        "the officer is told what to do: {}",
        r.stderr
    );
}

/// Issue 12 finding 5: another server's root key and lists copied into
/// client.db (with sqlite, and with that device's seal too) never make
/// the client answer `valid` for that server's certificates.
#[test]
fn another_servers_root_and_lists_copied_into_the_store_are_refused() {
    let a = Server::start();
    let b = Server::start();
    a.push_samples();
    b.push_samples();
    let da = enrolled(&a);
    let db_ = enrolled(&b);
    for (s, d) in [(&a, &da), (&b, &db_)] {
        let r = fc(&data(d), s.now(), &["sync"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let foreign = b.qr(CertType::YSZ);
    let own = a.qr(CertType::YSZ);
    let (code, v) = verify_text(&data(&db_), b.now(), &foreign);
    assert_eq!((code, v["verdict"].as_str()), (0, Some("valid")));
    let (code, v) = verify_text(&data(&da), a.now(), &foreign);
    assert_ne!(v["verdict"], "valid", "{v}");
    assert_ne!(code, 0);

    // The attack: B's root key and lists into A's database.
    copy_list_rows(
        &data(&db_),
        &data(&da),
        &[
            "root_alg",
            "root_key",
            "trust",
            "trust_seq",
            "status_snapshot",
            "status_seq",
        ],
    );
    assert_tampered(&data(&da), a.now(), &foreign);
    assert_tampered(&data(&da), a.now(), &own);
    // ... and B's seal file copied too: it is keyed by B's store.key.
    std::fs::copy(data(&db_).join("store.seal"), data(&da).join("store.seal")).unwrap();
    assert_tampered(&data(&da), a.now(), &foreign);
    // `status` and `sync` refuse with the same message instead of
    // trusting the swapped root.
    let r = fc(&data(&da), a.now(), &["sync"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("re-enroll"), "{}", r.stderr);
    let r = fc(&data(&da), a.now(), &["status"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("altered"), "{}", r.stderr);

    // Re-enrolling with A pins A's root again and drops the foreign lists.
    let r = fc(
        &data(&da),
        a.now(),
        &["enroll", "--server", &a.url, "--token", &a.officer],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("failed its checks"), "{}", r.stderr);
    let r = fc(&data(&da), a.now(), &["sync"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (code, v) = verify_text(&data(&da), a.now(), &own);
    assert_eq!((code, v["verdict"].as_str()), (0, Some("valid")), "{v}");
    let (_, v) = verify_text(&data(&da), a.now(), &foreign);
    assert_ne!(v["verdict"], "valid", "{v}");

    // Only the root key row swapped (lists left alone): refused too.
    copy_list_rows(&data(&db_), &data(&da), &["root_alg", "root_key"]);
    assert_tampered(&data(&da), a.now(), &own);
}

/// Issue 12 finding 5: an older status list restored into client.db (the
/// rows, or the whole database file) does not make a revoked certificate
/// valid; a sync repairs the rows.
#[test]
fn an_older_status_list_restored_into_the_store_is_refused() {
    let s = Server::start();
    s.push_samples();
    let d = enrolled(&s);
    let dir = data(&d);
    let r = fc(&dir, s.now(), &["sync"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let qr = s.qr(CertType::YSZ);
    assert_eq!(verify_text(&dir, s.now(), &qr).0, 0);
    // A copy of the whole store before the revocation.
    let old = testkit::tempdir();
    {
        let c = rusqlite::Connection::open(dir.join("client.db")).unwrap();
        c.execute(
            "VACUUM INTO ?1",
            [old.path().join("client.db").to_str().unwrap()],
        )
        .unwrap();
    }
    let backup = old.path().to_path_buf();

    s.advance(600);
    s.revoke(CertType::YSZ);
    let r = fc(&dir, s.now(), &["--json", "sync"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()[0]["status_step"], "delta", "{}", r.stdout);
    let (code, v) = verify_text(&dir, s.now(), &qr);
    assert_eq!((code, v["reason"].as_str()), (1, Some("revoked")), "{v}");

    // The attack: the old status rows back (the delta dropped).
    copy_list_rows(&backup, &dir, &["status_snapshot", "status_seq"]);
    assert_tampered(&dir, s.now(), &qr);
    // The scanner page answers the same, and its status says why.
    {
        let port = testkit::free_port().unwrap();
        let mut child = Command::new(BIN)
            .arg("--data")
            .arg(&dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("FIELD_CLIENT_NOW", s.now().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        for line in lines.by_ref() {
            if line.unwrap().contains("scanner at") {
                break;
            }
        }
        let agent: ureq::Agent = ureq::Agent::config_builder().proxy(None).build().into();
        let origin = format!("http://127.0.0.1:{port}");
        let v: Value = agent
            .post(&format!("{origin}/api/check"))
            .header("Origin", &origin)
            .send_json(json!({"text": qr}))
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap();
        assert_eq!(
            (v["verdict"].as_str(), v["reason"].as_str()),
            (Some("cannot_confirm"), Some("store_tampered")),
            "{v}"
        );
        let st: Value = agent
            .get(&format!("{origin}/api/status"))
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap();
        assert_eq!(st["stale"], "store_tampered", "{st}");
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let r = fc(&dir, s.now(), &["status"]);
    assert_eq!(r.code, 2, "{}", r.stdout);

    // A sync repairs the rows (the seal is intact): revoked again.
    let r = fc(&dir, s.now(), &["sync"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (code, v) = verify_text(&dir, s.now(), &qr);
    assert_eq!((code, v["reason"].as_str()), (1, Some("revoked")), "{v}");

    // The whole old database file put back (WAL and SHM removed).
    for f in ["client.db-wal", "client.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    std::fs::copy(backup.join("client.db"), dir.join("client.db")).unwrap();
    assert_tampered(&dir, s.now(), &qr);

    // A sync fetches fresh lists; the upload part fails: the server holds
    // check records this restored database lacks (the rollback shows).
    let r = fc(&dir, s.now(), &["sync"]);
    assert!(
        r.stdout.contains("upload failed"),
        "{} {}",
        r.stdout,
        r.stderr
    );
    let (code, v) = verify_text(&dir, s.now(), &qr);
    assert_eq!((code, v["reason"].as_str()), (1, Some("revoked")), "{v}");

    // The seal and its key deleted: not a fresh store, a tampered one.
    std::fs::remove_file(dir.join("store.seal")).unwrap();
    std::fs::remove_file(dir.join("store.key")).unwrap();
    assert_tampered(&dir, s.now(), &qr);

    // The check log is intact and says what was answered.
    let r = fc(&dir, s.now(), &["--json", "logs"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows = r.json();
    assert!(rows
        .iter()
        .any(|v| v["reason"] == "store_tampered" && v["verdict"] == "cannot_confirm"));
}

/// Issue 12 finding 6: the data directory is 0700 and every file in it
/// 0600 (database, WAL, SHM, device key, seal, seal key), also after an
/// older version or a user left them 0755/0644.
#[test]
fn data_directory_and_files_are_owner_only_and_tightened_at_start() {
    use std::os::unix::fs::PermissionsExt as _;
    let s = Server::start();
    s.push_samples();
    let d = enrolled(&s);
    let dir = data(&d);
    let r = fc(&dir, s.now(), &["sync"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let qr = s.qr(CertType::QC);
    assert_eq!(verify_text(&dir, s.now(), &qr).0, 0);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let check_all = || {
        assert_eq!(mode(&dir), 0o700);
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        for must in [
            "client.db",
            "client.db-wal",
            "client.db-shm",
            "device.key",
            "store.key",
            "store.seal",
        ] {
            assert!(names.iter().any(|n| n == must), "{must} in {names:?}");
        }
        for n in &names {
            assert_eq!(mode(&dir.join(n)), 0o600, "{n}");
        }
    };
    // The -wal and -shm files exist while a connection is open: look at
    // them while `serve` runs and has answered a check.
    let with_serve = |check: &dyn Fn()| {
        let port = testkit::free_port().unwrap();
        let mut child = Command::new(BIN)
            .arg("--data")
            .arg(&dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("FIELD_CLIENT_NOW", s.now().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        for line in lines.by_ref() {
            if line.unwrap().contains("scanner at") {
                break;
            }
        }
        let agent: ureq::Agent = ureq::Agent::config_builder().proxy(None).build().into();
        let origin = format!("http://127.0.0.1:{port}");
        let mut r = agent
            .post(&format!("{origin}/api/check"))
            .header("Origin", &origin)
            .send_json(json!({"text": qr}))
            .unwrap();
        let v: Value = r.body_mut().read_json().unwrap();
        assert_eq!(v["verdict"], "valid", "{v}");
        check();
        child.kill().unwrap();
        child.wait().unwrap();
    };
    with_serve(&check_all);
    // Loosened by hand: the next command tightens them and says so.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for f in ["client.db", "client.db-wal", "device.key", "store.seal"] {
        std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let r = fc(&dir, s.now(), &["--json", "verify", "--text", &qr]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("restricted to its owner"), "{}", r.stderr);
    let r = fc(&dir, s.now(), &["sync"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    with_serve(&check_all);
    // A new data directory under a loose umask-made parent: still 0700.
    let fresh = testkit::tempdir();
    let nested = fresh.path().join("a").join("dev");
    let r = fc(
        &nested,
        s.now(),
        &["enroll", "--server", &s.url, "--token", &s.officer],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(mode(&nested), 0o700);
    assert_eq!(mode(&nested.join("client.db")), 0o600);
}

/// A vehicle certificate its owner lent to a driver: the driver's live
/// presentation verifies offline, and the card, `--json` and the scanner's
/// answer say who presented it (issue 13 item 6).
#[test]
fn a_delegated_certificate_says_who_presented_it() {
    use base64::Engine as _;
    use shared::crypto::{Alg, SigningKey};
    let s = Server::start();
    let mut ysz = sample_record(CertType::YSZ);
    ysz.uscc = Some("91210106MA0XN3K249".into());
    let answer = s.http("POST", "/api/v1/records", Some(json!({"records": [ysz]})));
    assert_eq!(answer["summary"]["issued"], 1, "{answer}");
    let owner = s.kit.token(Role::Holder, None, "91210106MA0XN3K249");
    let driver = s.kit.token(Role::Holder, None, "210102199001011237");
    let phone = SigningKey::from_secret_bytes(Alg::EdDSA, &[5; 32]).unwrap();
    let public =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(phone.public_key().to_bytes());
    s.http_as(
        &driver,
        "POST",
        "/api/v1/holder/devices",
        Some(json!({ "public_key": public })),
    );
    let d = s.http_as(
        &owner,
        "POST",
        "/api/v1/holder/delegations",
        Some(json!({"cert_type": "YSZ", "number": ysz.number, "driver_id_number": "210102199001011237",
                    "driver_name": "李四", "valid_until": "2026-12-31"})),
    );
    assert_eq!(d["state"], "active", "{d}");
    let list = s.http_as(&driver, "GET", "/api/v1/holder/certificates", None);
    let copy = list["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| !c["delegation"].is_null())
        .unwrap()
        .clone();
    let (_, cert) = shared::qrtext::decode(copy["qr"].as_str().unwrap()).unwrap();
    let text = shared::qrtext::encode(
        shared::qrtext::Kind::Presentation,
        &shared::presentation::present(&cert, &phone, s.now()),
    );
    let dev = enrolled(&s);
    let dir = data(&dev);
    assert_eq!(fc(&dir, s.now(), &["sync"]).code, 0);
    let (code, v) = verify_text(&dir, s.now(), &text);
    assert_eq!(code, 0, "{v}");
    let expected =
        "由驾驶员 李四（**************1237）出示（所有人 沈阳顺达物流有限公司 授权，至 2026-12-31）";
    assert_eq!(v["presented_by"]["message_zh"], expected, "{v}");
    assert_eq!(v["presented_by"]["driver_name"], "李四");
    assert_eq!(v["face"]["delegated"]["owner"], "沈阳顺达物流有限公司");
    let card = fc(&dir, s.now(), &["verify", "--text", &text]);
    assert_eq!(card.code, 0, "{} {}", card.stdout, card.stderr);
    assert!(
        card.stdout
            .contains(&format!("驾驶员亮证 Driver presentation: {expected}")),
        "{}",
        card.stdout
    );
    assert!(
        card.stdout.contains("出示人 Presented by:"),
        "{}",
        card.stdout
    );
    // The owner's own certificate is presented by nobody else.
    let (_, own) = verify_text(&dir, s.now(), &s.qr(CertType::YSZ));
    assert!(own["presented_by"].is_null(), "{own}");
}
