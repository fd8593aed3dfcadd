//! The attacks of issue 12 (findings 3, 4 and 7) performed against the
//! real server over 127.0.0.1 — the `verifier-server` binary as a child
//! process, or `verifier_server::run` on a socket where the test must move
//! the clock — each asserting that the attack fails:
//!
//! - 1,500 requests with made-up bearer tokens are rate-limited like the
//!   address they come from, while a valid token from that address and
//!   the public lists keep answering;
//! - 300 refused requests with 8,000-character paths add a bounded number
//!   of short audit rows, and one row counts the rest;
//! - connections that never finish their headers, or trickle a body a byte
//!   a second, are closed after the timeouts, while `/healthz` and other
//!   callers are answered throughout;
//! - another city's certificate is answered exactly like a missing one.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use shared::domain::{sample_record, CertType};
use testkit::records::number;
use testkit::{server_admin_with, ChildServer, SocketServer, TestServer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use verifier_server::auth::Role;

const BIN: &str = env!("CARGO_BIN_EXE_verifier-server");

/// A connection to `server` from the loopback address `from`.
async fn connect(server: SocketAddr, from: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    let from: IpAddr = from.parse().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(server).await.unwrap()
}

/// One answer: status and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends one request (`Connection: close`) and reads the whole answer.
async fn send(
    server: SocketAddr,
    from: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Answer {
    let mut stream = connect(server, from).await;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw))
        .await
        .expect("an answer within 20 s")
        .unwrap();
    parse(&raw)
}

fn parse(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |p| p + 4);
    let head = text.get(..at).unwrap_or_default().to_ascii_lowercase();
    let mut body = raw[at..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = unchunk(&body);
    }
    Answer { status, body }
}

fn unchunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..eol]).unwrap().trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 2 + size + 2..];
    }
    out
}

/// The real binary, `serve` with `extra` arguments, on a fresh directory.
fn child(dir: &Path, extra: &[&str]) -> ChildServer {
    ChildServer::start(Path::new(BIN), "serve", &dir.join("data"), extra).unwrap()
}

fn admin_token(server: &ChildServer, args: &[&str]) -> String {
    let mut all = vec!["create-token"];
    all.extend_from_slice(args);
    server_admin_with(Path::new(BIN), &server.data, &all).unwrap()
}

fn addr(server: &ChildServer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port()))
}

/// The audit rows after row `after`, read through the API as an auditor.
async fn audit_rows(server: SocketAddr, auditor: &str, after: i64) -> Vec<Value> {
    let a = send(
        server,
        "127.0.0.9",
        "GET",
        &format!("/api/v1/audit?after={after}&limit=1000"),
        Some(auditor),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    a.json()["entries"].as_array().unwrap().clone()
}

fn last_id(rows: &[Value]) -> i64 {
    rows.last().map_or(0, |r| r["id"].as_i64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_tokens_share_their_address_limit() {
    // A low rate, so that the result does not depend on how fast this
    // loaded machine sends the flood: at most the burst and 5 a second
    // pass. Keyed by the presented token, every one of them would.
    let dir = testkit::tempdir();
    let server = child(
        dir.path(),
        &["--rate-per-second", "5", "--rate-burst", "200"],
    );
    let at = addr(&server);
    let agency = admin_token(&server, &["--role", "agency", "--division", "210100"]);
    let auditor = admin_token(&server, &["--role", "auditor"]);
    // The valid token is seen once before the flood.
    let a = send(
        at,
        "127.0.0.1",
        "GET",
        "/api/v1/nonconforming",
        Some(&agency),
        None,
    )
    .await;
    assert_eq!(a.status, 200);
    let before = last_id(&audit_rows(at, &auditor, 0).await);

    // 1,500 requests, each with a token of its own, from one address,
    // 10 connections at once.
    let start = Instant::now();
    let mut tasks = Vec::new();
    for lane in 0..10 {
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for i in 0..150 {
                let token = format!("lnv1_made_up_{lane}_{i}_{}", i * 7919 + lane);
                let a = send(
                    at,
                    "127.0.0.1",
                    "GET",
                    "/api/v1/nonconforming",
                    Some(&token),
                    None,
                )
                .await;
                statuses.push(a.status);
            }
            statuses
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.extend(t.await.unwrap());
    }
    let seconds = start.elapsed().as_secs() + 1;
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    let unauthenticated = statuses.iter().filter(|&&s| s == 401).count();
    assert_eq!(refused + unauthenticated, 1500, "{statuses:?}");
    let most_passed = 200 + 5 * seconds as usize;
    assert!(
        unauthenticated <= most_passed,
        "{unauthenticated} of 1,500 passed in {seconds} s: more than the address's {most_passed}"
    );
    assert!(refused >= 500, "{refused} of 1,500 refused in {seconds} s");

    // The valid token from the same address, the public lists and the
    // health check still answer.
    let a = send(
        at,
        "127.0.0.1",
        "GET",
        "/api/v1/nonconforming",
        Some(&agency),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    for path in [
        "/api/v1/trust-list",
        "/api/v1/status-list",
        "/api/v1/catalogue",
        "/healthz",
    ] {
        for _ in 0..3 {
            assert_eq!(
                send(at, "127.0.0.1", "GET", path, None, None).await.status,
                200,
                "{path}"
            );
        }
    }
    // The 401s were audited one by one up to the address's share of each
    // minute (20), never one row per request.
    let rows = audit_rows(at, &auditor, before).await;
    let refusals = rows
        .iter()
        .filter(|r| r["outcome"] == "unauthenticated: unknown token")
        .count();
    let minutes = seconds as usize / 60 + 2;
    assert!(
        refusals <= 20 * minutes,
        "{refusals} refusal rows in {seconds} s"
    );
    assert!(
        rows.len() <= 22 * minutes,
        "{} rows in {seconds} s",
        rows.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_paths_add_a_bounded_number_of_short_audit_rows() {
    let env = TestServer::new();
    let auditor = env.token(Role::Auditor, None, "auditor");
    let server = SocketServer::start(env.state.clone()).await;
    let at = server.addr;
    let before = last_id(&audit_rows(at, &auditor, 0).await);

    let long = format!("/api/v1/certificates/QC/{}", "A".repeat(8000));
    for _ in 0..300 {
        let a = send(at, "127.0.0.1", "GET", &long, None, None).await;
        assert_eq!(a.status, 401);
    }
    let rows = audit_rows(at, &auditor, before).await;
    let bytes: usize = rows
        .iter()
        .map(|r| {
            ["action", "target", "outcome"]
                .iter()
                .map(|k| r[k].as_str().unwrap_or_default().len())
                .sum::<usize>()
        })
        .sum();
    // 20 rows for the minute (the address's share) and the auditor's read.
    assert!(rows.len() <= 21, "{} rows", rows.len());
    assert!(
        rows.len() >= 20,
        "{} rows: refusals not audited",
        rows.len()
    );
    assert!(bytes < 20 * 400, "{bytes} bytes of audit rows");
    let refusal = rows
        .iter()
        .find(|r| r["outcome"] == "unauthenticated: no token")
        .unwrap();
    assert_eq!(
        refusal["action"],
        "GET /api/v1/certificates/{cert_type}/{number}"
    );
    assert!(
        refusal["target"]
            .as_str()
            .unwrap()
            .ends_with("(8024 bytes)"),
        "{refusal}"
    );

    // When the minute is over, one row counts the rest.
    env.advance(60);
    let a = send(at, "127.0.0.1", "GET", &long, None, None).await;
    assert_eq!(a.status, 401);
    let rows = audit_rows(at, &auditor, last_id(&rows)).await;
    let counted: Vec<&Value> = rows
        .iter()
        .filter(|r| r["action"] == "refused requests counted")
        .collect();
    assert_eq!(counted.len(), 1, "{rows:?}");
    assert_eq!(counted[0]["outcome"], "280 further refused requests");
    assert!(counted[0]["target"]
        .as_str()
        .unwrap()
        .starts_with("from 127.0.0.1,"));
    server.shutdown().await.unwrap();
}

/// Opens `n` connections from `from` that send part of a request head and
/// then a byte a second, never finishing it.
async fn partial_heads(
    at: SocketAddr,
    from: &'static str,
    n: usize,
) -> Vec<tokio::task::JoinHandle<Duration>> {
    (0..n)
        .map(|_| {
            tokio::spawn(async move {
                let start = Instant::now();
                let mut s = connect(at, from).await;
                let _ = s
                    .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                    .await;
                closed_while_trickling(&mut s, start).await
            })
        })
        .collect()
}

/// Writes a byte a second until the server closes the connection; how
/// long that took. Gives up after 20 s.
async fn closed_while_trickling(s: &mut TcpStream, start: Instant) -> Duration {
    let mut buf = [0u8; 4096];
    let mut answer = Vec::new();
    while start.elapsed() < Duration::from_secs(20) {
        if s.write_all(b"a").await.is_err() {
            return start.elapsed();
        }
        match tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return start.elapsed(),
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    panic!(
        "still open after 20 s; read {:?}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_health_answers_throughout() {
    let dir = testkit::tempdir();
    let server = child(
        dir.path(),
        &[
            "--header-timeout",
            "2",
            "--body-timeout",
            "3",
            "--max-in-flight-per-caller",
            "8",
        ],
    );
    let at = addr(&server);
    let agency = admin_token(&server, &["--role", "agency", "--division", "210100"]);
    let auditor = admin_token(&server, &["--role", "auditor"]);
    let a = send(
        at,
        "127.0.0.2",
        "GET",
        "/api/v1/nonconforming",
        Some(&agency),
        None,
    )
    .await;
    assert_eq!(a.status, 200);

    // 60 connections that never finish their headers, 10 that send
    // nothing, and 40 pushes that promise 1 MiB and send a byte a second.
    let heads = partial_heads(at, "127.0.0.3", 60).await;
    let silent: Vec<_> = (0..10)
        .map(|_| {
            tokio::spawn(async move {
                let start = Instant::now();
                let mut s = connect(at, "127.0.0.4").await;
                let mut buf = [0u8; 64];
                let n = tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf)).await;
                assert!(matches!(n, Ok(Ok(0) | Err(_))), "{n:?}");
                start.elapsed()
            })
        })
        .collect();
    let bodies: Vec<_> = (0..40)
        .map(|_| {
            let agency = agency.clone();
            tokio::spawn(async move {
                let start = Instant::now();
                let mut s = connect(at, "127.0.0.2").await;
                let head = format!(
                    "POST /api/v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {agency}\r\n\
                     Content-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{{"
                );
                s.write_all(head.as_bytes()).await.unwrap();
                let mut answer = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    assert!(
                        start.elapsed() < Duration::from_secs(20),
                        "still open after 20 s"
                    );
                    if s.write_all(b" ").await.is_err() {
                        break;
                    }
                    match tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
                        Ok(Ok(0) | Err(_)) => break,
                        Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
                        Err(_) => {}
                    }
                }
                (parse(&answer).status, start.elapsed())
            })
        })
        .collect();

    // Meanwhile the health check and another caller are answered at once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..4 {
        let start = Instant::now();
        assert_eq!(
            send(at, "127.0.0.1", "GET", "/healthz", None, None)
                .await
                .status,
            200
        );
        let a = send(
            at,
            "127.0.0.5",
            "GET",
            "/api/v1/audit?limit=1",
            Some(&auditor),
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Every slow connection was closed after its timeout.
    for h in heads {
        let took = h.await.unwrap();
        assert!(
            took < Duration::from_secs(8),
            "a partial head stayed open {took:?}"
        );
    }
    for h in silent {
        let took = h.await.unwrap();
        assert!(
            took < Duration::from_secs(8),
            "a silent connection stayed open {took:?}"
        );
    }
    let mut timed_out = 0;
    for h in bodies {
        let (status, took) = h.await.unwrap();
        assert!(
            took < Duration::from_secs(10),
            "a slow body stayed open {took:?}"
        );
        match status {
            408 => timed_out += 1,
            429 => {}
            other => panic!("a slow body was answered {other}"),
        }
    }
    // The caller's 8 slots took the slow bodies until they timed out; the
    // rest were refused at once.
    assert!((1..=8).contains(&timed_out), "{timed_out} timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_citys_certificate_reads_like_a_missing_one() {
    let dir = testkit::tempdir();
    let server = child(dir.path(), &[]);
    let at = addr(&server);
    let shenyang = admin_token(&server, &["--role", "agency", "--division", "210100"]);
    let dalian = admin_token(&server, &["--role", "agency", "--division", "210200"]);
    let record = sample_record(CertType::QC);
    let n = number(&record);
    let push = serde_json::to_vec(&serde_json::json!({ "records": [record] })).unwrap();
    let a = send(
        at,
        "127.0.0.1",
        "POST",
        "/api/v1/records",
        Some(&shenyang),
        Some(&push),
    )
    .await;
    assert_eq!(a.json()["results"][0]["result"], "issued", "{:?}", a.json());
    let own = send(
        at,
        "127.0.0.1",
        "GET",
        &format!("/api/v1/certificates/QC/{n}"),
        Some(&shenyang),
        None,
    )
    .await;
    assert_eq!(own.status, 200);

    let last = if n.ends_with('1') { '2' } else { '1' };
    let missing = format!("{}{last}", &n[..n.len() - 1]);
    assert_ne!(missing, n);
    let status_body = br#"{"status": "revoked"}"#;
    for (method, suffix, body) in [
        ("GET", "", None),
        ("POST", "/status", Some(&status_body[..])),
    ] {
        let theirs = send(
            at,
            "127.0.0.1",
            method,
            &format!("/api/v1/certificates/QC/{n}{suffix}"),
            Some(&dalian),
            body,
        )
        .await;
        let absent = send(
            at,
            "127.0.0.1",
            method,
            &format!("/api/v1/certificates/QC/{missing}{suffix}"),
            Some(&dalian),
            body,
        )
        .await;
        assert_eq!(theirs.status, 404, "{method}: {:?}", theirs.json());
        assert_eq!(absent.status, theirs.status, "{method}");
        let same = String::from_utf8_lossy(&theirs.body).replace(&n, "N");
        let also = String::from_utf8_lossy(&absent.body).replace(&missing, "N");
        assert_eq!(same, also, "{method}");
    }
    // Nothing was revoked.
    let own = send(
        at,
        "127.0.0.1",
        "GET",
        &format!("/api/v1/certificates/QC/{n}"),
        Some(&shenyang),
        None,
    )
    .await;
    assert_eq!(own.json()["status"], "valid", "{:?}", own.json());
}
