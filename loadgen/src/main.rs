//! Load generator of the sync-storm benchmark (`scripts/bench-sync-storm`).
//!
//! Simulated field devices talk HTTP/1.1 to a verifier-server on loopback,
//! each on its own connection bound to a source address in 127.0.0.0/8
//! (several devices per address, as behind a carrier's NAT):
//!
//! - `sync`: each device fetches the trust list and the status list with
//!   `If-None-Match`, then the status deltas since the sequence it holds;
//! - `upload`: each device is enrolled with its officer's token and uploads
//!   one device-signed, hash-chained batch of check records.
//!
//! Every answer's status is counted; anything but the expected ones is an
//! error. Latency is per request, first byte sent to last byte received.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use clap::{Args, Parser, Subcommand};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use shared::checklog::{self, CertRef, ChainHead, Check, Event};
use shared::crypto::{Alg, SigningKey};
use shared::domain::CertType;
use shared::verify::Verdict;
use tokio::net::TcpSocket;
use tokio::sync::{Mutex, Semaphore};

#[derive(Debug, Parser)]
#[command(about = "Simulated field devices against a verifier-server on loopback")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Devices sync the trust list, status list and deltas.
    Sync(SyncArgs),
    /// Devices enroll and upload one check-log batch each.
    Upload(UploadArgs),
}

#[derive(Debug, Args)]
struct Common {
    /// The server, e.g. 127.0.0.1:8080.
    #[arg(long)]
    server: SocketAddr,
    /// Devices sharing one source address.
    #[arg(long, default_value_t = 8)]
    per_address: usize,
    /// Devices running at once.
    #[arg(long, default_value_t = 1000)]
    concurrency: usize,
}

#[derive(Debug, Args)]
struct SyncArgs {
    #[command(flatten)]
    common: Common,
    /// Simulated devices.
    #[arg(long, default_value_t = 10_000)]
    devices: usize,
    /// One device in this many holds outdated copies (gets 200 and a
    /// delta); the others are current (304, 204).
    #[arg(long, default_value_t = 4)]
    stale_every: usize,
}

#[derive(Debug, Args)]
struct UploadArgs {
    #[command(flatten)]
    common: Common,
    /// File of officer tokens, one a line: one device per token.
    #[arg(long)]
    tokens: PathBuf,
    /// Check records per device.
    #[arg(long, default_value_t = 100)]
    records: usize,
    /// The demo's `index.json`: its sample QR texts are the scanned texts.
    #[arg(long)]
    index: PathBuf,
    /// Device label (to count the rows afterwards).
    #[arg(long, default_value = "sync-storm")]
    label: String,
}

/// Counts and latencies of one run.
#[derive(Debug, Default)]
struct Tally {
    /// `"GET /api/v1/trust-list 304"` → count.
    answers: BTreeMap<String, u64>,
    errors: Vec<String>,
    latencies_us: Vec<u64>,
    accepted: u64,
    duplicates: u64,
}

impl Tally {
    fn error(&mut self, e: String) {
        if self.errors.len() < 20 {
            self.errors.push(e.clone());
        }
        *self.answers.entry("error".into()).or_default() += 1;
    }
}

/// The `i`-th device's source address: `per_address` devices per address,
/// addresses 127.1.0.1 upwards (never 127.0.0.1, the server's own).
fn source_address(i: usize, per_address: usize) -> IpAddr {
    let a = i / per_address.max(1);
    let (hi, lo) = (a / 250, a % 250);
    IpAddr::V4(Ipv4Addr::new(
        127,
        u8::try_from(1 + hi % 250).unwrap_or(1),
        u8::try_from(lo).unwrap_or(0),
        1,
    ))
}

/// A connection of one device.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

impl Conn {
    async fn open(server: SocketAddr, from: IpAddr) -> anyhow::Result<Conn> {
        let socket = TcpSocket::new_v4()?;
        socket
            .bind(SocketAddr::new(from, 0))
            .with_context(|| format!("binding {from}"))?;
        let stream = socket
            .connect(server)
            .await
            .with_context(|| format!("connecting {server} from {from}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // The connection ends when the device drops its sender.
            let _ = conn.await;
        });
        Ok(Conn {
            sender,
            host: HeaderValue::from_str(&server.to_string())?,
        })
    }

    /// One request: status, headers of interest, body, latency.
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(header::HeaderName, String)],
        body: Vec<u8>,
    ) -> anyhow::Result<Answer> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.host.clone());
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let req = req.body(Full::new(Bytes::from(body)))?;
        self.sender.ready().await?;
        let start = Instant::now();
        let response = self.sender.send_request(req).await?;
        let status = response.status();
        let etag = response
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Answer {
            status,
            etag,
            body,
            latency: start.elapsed(),
        })
    }
}

struct Answer {
    status: StatusCode,
    etag: Option<String>,
    body: Bytes,
    latency: Duration,
}

/// What a current device holds, learnt from the server first.
#[derive(Debug, Clone)]
struct Current {
    trust_etag: String,
    status_etag: String,
    status_seq: u64,
}

async fn learn(server: SocketAddr) -> anyhow::Result<Current> {
    let mut conn = Conn::open(server, IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
    let trust = conn
        .call(Method::GET, "/api/v1/trust-list", &[], Vec::new())
        .await?;
    let status = conn
        .call(Method::GET, "/api/v1/status-list", &[], Vec::new())
        .await?;
    if trust.status != StatusCode::OK || status.status != StatusCode::OK {
        bail!(
            "lists answered {} and {}, not 200",
            trust.status,
            status.status
        );
    }
    let update = snapshot_seq(&status.body).context("reading the status list's sequence")?;
    Ok(Current {
        trust_etag: trust.etag.context("trust list without ETag")?,
        status_etag: status.etag.context("status list without ETag")?,
        status_seq: update,
    })
}

/// The sequence of a signed status snapshot, read without verifying it
/// (the load generator pins no key; devices verify, the benchmark counts).
fn snapshot_seq(bytes: &[u8]) -> anyhow::Result<u64> {
    let envelope = shared::cose::Sign1::parse(bytes, shared::trust::MAX_STATUS_LEN)?;
    let payload: ciborium::value::Value = ciborium::de::from_reader(envelope.payload())?;
    let body = payload
        .as_map()
        .and_then(|m| {
            m.iter()
                .find(|(k, _)| k.as_integer() == Some(1.into()))
                .and_then(|(_, v)| v.as_bytes())
        })
        .context("no body (key 1) in the status payload")?;
    Ok(shared::status::StatusSnapshot::from_cbor(body, shared::trust::MAX_STATUS_ENTRIES)?.seq)
}

/// One device's sync: trust list, status list, deltas.
async fn sync_device(
    server: SocketAddr,
    from: IpAddr,
    current: &Current,
    stale: bool,
    tally: &Mutex<Tally>,
) {
    let result = async {
        let mut conn = Conn::open(server, from).await?;
        let old = "\"00000000000000000000000000000000\"".to_string();
        let (trust_tag, status_tag, since) = if stale {
            (
                old.clone(),
                old.clone(),
                current.status_seq.saturating_sub(1),
            )
        } else {
            (
                current.trust_etag.clone(),
                current.status_etag.clone(),
                current.status_seq,
            )
        };
        let steps = [
            ("/api/v1/trust-list".to_string(), Some(trust_tag)),
            ("/api/v1/status-list".to_string(), Some(status_tag)),
            (format!("/api/v1/status-list/deltas?since={since}"), None),
        ];
        let mut answers = Vec::new();
        for (path, tag) in steps {
            let headers: Vec<_> = tag
                .into_iter()
                .map(|t| (header::IF_NONE_MATCH, t))
                .collect();
            let a = conn.call(Method::GET, &path, &headers, Vec::new()).await?;
            let ok = matches!(
                a.status,
                StatusCode::OK | StatusCode::NOT_MODIFIED | StatusCode::NO_CONTENT
            );
            let route = path.split('?').next().unwrap_or(&path).to_string();
            answers.push((route, a.status, a.latency, ok));
        }
        anyhow::Ok(answers)
    }
    .await;
    let mut t = tally.lock().await;
    match result {
        Ok(answers) => {
            for (route, status, latency, ok) in answers {
                *t.answers
                    .entry(format!("GET {route} {}", status.as_u16()))
                    .or_default() += 1;
                t.latencies_us
                    .push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
                if !ok {
                    t.error(format!("GET {route} from {from}: {status}"));
                }
            }
        }
        Err(e) => t.error(format!("device at {from}: {e:#}")),
    }
}

/// The check records of one device: `n` checks of the scanned `texts`.
fn batch(device: &SigningKey, n: usize, texts: &[String], salt: usize, t0: i64) -> Vec<u8> {
    let mut head = ChainHead::default();
    let sealed: Vec<_> = (0..n)
        .map(|i| {
            let scanned = texts.get((i + salt) % texts.len().max(1)).cloned();
            let (s, next) = head.append(
                t0 + i64::try_from(i).unwrap_or(0),
                Event::Check(Check {
                    verdict: Verdict::Valid,
                    reason: None,
                    scanned,
                    cert: Some(CertRef {
                        cert_type: CertType::QC,
                        number: "210102198503122434".into(),
                        version: 1,
                    }),
                    status_seq: Some(1),
                    trust_seq: Some(1),
                    warnings: Vec::new(),
                    data_age: Some(600),
                }),
            );
            head = next;
            s
        })
        .collect();
    let refs: Vec<&[u8]> = sealed.iter().map(|s| s.bytes.as_slice()).collect();
    checklog::sign_batch(&refs, device)
}

/// One device's enrollment and upload.
#[allow(clippy::too_many_arguments)]
async fn upload_device(
    server: SocketAddr,
    from: IpAddr,
    token: &str,
    device: &SigningKey,
    label: &str,
    body: Vec<u8>,
    tally: &Mutex<Tally>,
) {
    let result = async {
        let mut conn = Conn::open(server, from).await?;
        let auth = (header::AUTHORIZATION, format!("Bearer {token}"));
        let enroll = serde_json::json!({
            "alg": "EdDSA",
            "public_key": URL_SAFE_NO_PAD.encode(device.public_key().to_bytes()),
            "label": label,
        });
        let e = conn
            .call(
                Method::POST,
                "/api/v1/devices",
                &[
                    auth.clone(),
                    (header::CONTENT_TYPE, "application/json".into()),
                ],
                serde_json::to_vec(&enroll)?,
            )
            .await?;
        let u = conn
            .call(
                Method::POST,
                "/api/v1/verification-logs",
                &[auth, (header::CONTENT_TYPE, "application/cose".into())],
                body,
            )
            .await?;
        anyhow::Ok((e, u))
    }
    .await;
    let mut t = tally.lock().await;
    match result {
        Ok((e, u)) => {
            for (route, a, ok) in [
                (
                    "POST /api/v1/devices",
                    &e,
                    matches!(e.status, StatusCode::CREATED | StatusCode::OK),
                ),
                (
                    "POST /api/v1/verification-logs",
                    &u,
                    u.status == StatusCode::OK,
                ),
            ] {
                *t.answers
                    .entry(format!("{route} {}", a.status.as_u16()))
                    .or_default() += 1;
                t.latencies_us
                    .push(u64::try_from(a.latency.as_micros()).unwrap_or(u64::MAX));
                if !ok {
                    t.error(format!(
                        "{route} from {from}: {} {}",
                        a.status,
                        String::from_utf8_lossy(&a.body)
                    ));
                }
            }
            if u.status == StatusCode::OK {
                match serde_json::from_slice::<serde_json::Value>(&u.body) {
                    Ok(v) => {
                        t.accepted += v["accepted"].as_u64().unwrap_or(0);
                        t.duplicates += v["duplicates"].as_u64().unwrap_or(0);
                    }
                    Err(err) => t.error(format!("upload answer is not JSON: {err}")),
                }
            }
        }
        Err(e) => t.error(format!("device at {from}: {e:#}")),
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn report(name: &str, devices: usize, addresses: usize, mut t: Tally, elapsed: Duration) -> bool {
    t.latencies_us.sort_unstable();
    let requests = t.latencies_us.len();
    println!(
        "{name}: {devices} devices from {addresses} addresses, {requests} requests in {:.2} s ({:.0} req/s)",
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64()
    );
    for (answer, n) in &t.answers {
        println!("  {answer}: {n}");
    }
    println!(
        "  latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&t.latencies_us, 50.0),
        percentile(&t.latencies_us, 99.0),
        percentile(&t.latencies_us, 100.0)
    );
    if name == "upload" {
        println!(
            "  records accepted {}, duplicates {}",
            t.accepted, t.duplicates
        );
    }
    let errors = t.answers.get("error").copied().unwrap_or(0);
    let too_many: u64 = t
        .answers
        .iter()
        .filter(|(k, _)| k.ends_with(" 429"))
        .map(|(_, n)| n)
        .sum();
    println!("  errors {errors}, 429 {too_many}");
    for e in &t.errors {
        println!("  error: {e}");
    }
    errors == 0 && too_many == 0
}

fn addresses(devices: usize, per_address: usize) -> usize {
    devices.div_ceil(per_address.max(1))
}

async fn sync(a: SyncArgs) -> anyhow::Result<bool> {
    let current = learn(a.common.server).await?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let gate = Arc::new(Semaphore::new(a.common.concurrency.max(1)));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(a.devices);
    for i in 0..a.devices {
        let permit = gate.clone().acquire_owned().await?;
        let (tally, current) = (tally.clone(), current.clone());
        let from = source_address(i, a.common.per_address);
        let stale = a.stale_every > 0 && i % a.stale_every == 0;
        let server = a.common.server;
        tasks.push(tokio::spawn(async move {
            sync_device(server, from, &current, stale, &tally).await;
            drop(permit);
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = start.elapsed();
    let tally = std::mem::take(&mut *tally.lock().await);
    Ok(report(
        "sync",
        a.devices,
        addresses(a.devices, a.common.per_address),
        tally,
        elapsed,
    ))
}

/// The `qr_text` strings anywhere in the demo's `index.json`.
fn qr_texts(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("qr_text", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => qr_texts(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| qr_texts(v, out)),
        _ => {}
    }
}

async fn upload(a: UploadArgs) -> anyhow::Result<bool> {
    let tokens: Vec<String> = std::fs::read_to_string(&a.tokens)
        .with_context(|| format!("reading {}", a.tokens.display()))?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let index: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&a.index).with_context(|| format!("reading {}", a.index.display()))?,
    )
    .with_context(|| format!("{} is not JSON", a.index.display()))?;
    let mut texts = Vec::new();
    qr_texts(&index, &mut texts);
    if texts.is_empty() {
        bail!("{} has no qr_text", a.index.display());
    }
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
        - 3_600;
    // Batches are made and signed before the clock starts.
    let mut devices = Vec::with_capacity(tokens.len());
    for (i, token) in tokens.into_iter().enumerate() {
        let mut secret = [0u8; 32];
        secret[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
        secret[8..16].copy_from_slice(&t0.to_le_bytes());
        let key = SigningKey::from_secret_bytes(Alg::EdDSA, &secret)?;
        let body = batch(&key, a.records, &texts, i, t0);
        devices.push((token, key, body));
    }
    let n = devices.len();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let gate = Arc::new(Semaphore::new(a.common.concurrency.max(1)));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for (i, (token, key, body)) in devices.into_iter().enumerate() {
        let permit = gate.clone().acquire_owned().await?;
        let tally = tally.clone();
        let from = source_address(i, a.common.per_address);
        let (server, label) = (a.common.server, a.label.clone());
        tasks.push(tokio::spawn(async move {
            upload_device(server, from, &token, &key, &label, body, &tally).await;
            drop(permit);
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = start.elapsed();
    let tally = std::mem::take(&mut *tally.lock().await);
    let expected = (n * a.records) as u64;
    let all_in = tally.accepted == expected && tally.duplicates == 0;
    let ok = report(
        "upload",
        n,
        addresses(n, a.common.per_address),
        tally,
        elapsed,
    );
    if !all_in {
        println!("  expected {expected} records accepted and 0 duplicates");
    }
    Ok(ok && all_in)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loadgen: starting the runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.mode {
            Mode::Sync(a) => sync(a).await,
            Mode::Upload(a) => upload(a).await,
        }
    });
    match result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
