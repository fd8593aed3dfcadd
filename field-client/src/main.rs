//! field-client: the officer's offline verifier. See the crate library for
//! the parts; this file is the command line.
#![forbid(unsafe_code)]

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{ArgGroup, Parser, Subcommand};
use serde_json::json;
use shared::checklog::{Event, LookupBy};
use shared::crypto::Alg;
use shared::qr::{decode_image, DecodeLimits, QrError};
use shared::verify::Verdict;

use field_client::check::{self, Outcome};
use field_client::db::{alg_from_name, Db};
use field_client::{card, device, lookup, net, serve, sync};

/// Exit status: valid.
const EXIT_VALID: u8 = 0;
/// Exit status: invalid.
const EXIT_INVALID: u8 = 1;
/// Exit status: usage or other error.
const EXIT_ERROR: u8 = 2;
/// Exit status: cannot confirm.
const EXIT_CANNOT_CONFIRM: u8 = 3;

/// Offline roadside verifier for road-transport e-certificates.
///
/// Exit status: 0 valid, 1 invalid, 3 cannot confirm, 2 usage or other
/// error. `FIELD_CLIENT_NOW=<unix seconds>` overrides the device clock.
#[derive(Parser, Debug)]
#[command(name = "field-client", version)]
struct Cli {
    /// The device's data directory (key, database).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Machine-readable output: one JSON object per line.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Generate the device key, register it with the server, store the
    /// trust anchor.
    Enroll {
        /// Server base URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        server: String,
        /// The officer's bearer token.
        #[arg(long)]
        token: String,
        /// Expected root key id (16 hex), checked out of band.
        #[arg(long, value_name = "HEX")]
        root_kid: Option<String>,
        /// Expected national root key id (16 hex), checked out of band
        /// (mutual recognition).
        #[arg(long, value_name = "HEX")]
        national_root_kid: Option<String>,
        /// Device key algorithm: EdDSA or SM2-SM3.
        #[arg(long, default_value = "EdDSA")]
        alg: String,
        /// A label for the device.
        #[arg(long, default_value = "field-client")]
        label: String,
        /// PEM file of the CA that signed the server's TLS certificate: it
        /// is stored and from then on the only CA trusted (default: the
        /// web's roots).
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
    },
    /// Fetch and verify the lists, apply them, upload pending checks.
    Sync {
        /// Use this server URL instead of the enrolled one.
        #[arg(long)]
        server: Option<String>,
    },
    /// Verify certificates offline and log every check.
    #[command(group(ArgGroup::new("input").required(true).args(["image", "text", "stdin"])))]
    Verify {
        /// PNG or JPEG photos (several codes per image are read).
        #[arg(long, num_args = 1.., value_name = "FILE")]
        image: Vec<PathBuf>,
        /// Scanned QR text.
        #[arg(long, value_name = "QRTEXT")]
        text: Vec<String>,
        /// `-`: read standard input (an image, or QR texts one per line).
        #[arg(value_name = "-", value_parser = clap::builder::PossibleValuesParser::new(["-"]))]
        stdin: Option<String>,
    },
    /// Record whether the certificate of a check was accepted.
    #[command(group(ArgGroup::new("decision").required(true).args(["accepted", "refused"])))]
    Dispose {
        /// The check id printed with the verdict.
        check_id: u64,
        /// The certificate was accepted.
        #[arg(long)]
        accepted: bool,
        /// The certificate was refused.
        #[arg(long)]
        refused: bool,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Look a certificate up online (the holder cannot show a code): by
    /// plate, ID number or certificate number. Logged like a check; needs a
    /// connection (exit 3 without one).
    #[command(group(ArgGroup::new("key").required(true).args(["plate", "id", "number"])))]
    Lookup {
        /// Plate number, e.g. 辽A5K823.
        #[arg(long)]
        plate: Option<String>,
        /// Citizen ID number.
        #[arg(long)]
        id: Option<String>,
        /// Certificate number.
        #[arg(long)]
        number: Option<String>,
    },
    /// Data age, last sync, sequences, key ids, pending and uploaded checks.
    Status,
    /// Serve the officer's scanner page (camera, keyboard wedge, result
    /// screen) on this device; loopback only unless --listen says otherwise.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8765")]
        listen: std::net::SocketAddr,
    },
    /// The check log.
    Logs {
        /// Show only the last N records.
        #[arg(long)]
        last: Option<usize>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { 0 });
        }
    };
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if cli.json {
                println!("{}", json!({"error": "error", "message": format!("{e:#}")}));
            }
            eprintln!("field-client: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<u8> {
    let dir = cli.data.as_path();
    match &cli.cmd {
        Cmd::Enroll {
            server,
            token,
            root_kid,
            national_root_kid,
            alg,
            label,
            ca_file,
        } => enroll(
            cli,
            dir,
            server,
            token,
            (root_kid.as_deref(), national_root_kid.as_deref()),
            alg,
            label,
            ca_file.as_deref(),
        ),
        Cmd::Sync { server } => run_sync(cli, dir, server.as_deref()),
        Cmd::Verify { image, text, stdin } => verify(cli, dir, image, text, stdin.is_some()),
        Cmd::Dispose {
            check_id,
            accepted,
            refused,
            reason,
        } => {
            debug_assert!(accepted ^ refused);
            dispose(cli, dir, *check_id, *accepted && !refused, reason)
        }
        Cmd::Lookup { plate, id, number } => {
            let (by, value) = match (plate, id, number) {
                (Some(p), _, _) => (LookupBy::Plate, p),
                (_, Some(i), _) => (LookupBy::IdNumber, i),
                (_, _, Some(n)) => (LookupBy::Number, n),
                _ => bail!("give --plate, --id or --number"),
            };
            run_lookup(cli, dir, by, value)
        }
        Cmd::Status => status(cli, dir),
        Cmd::Logs { last } => logs(cli, dir, *last),
        Cmd::Serve { listen } => serve(dir, *listen),
    }
}

fn serve(dir: &Path, listen: std::net::SocketAddr) -> anyhow::Result<u8> {
    let state = serve::AppState::open(serve::Config {
        dir: dir.to_path_buf(),
        listen,
    })?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        if !addr.ip().is_loopback() {
            eprintln!("field-client: WARNING listening on {addr}, not loopback: other devices can reach the scanner 注意：非本机地址");
        }
        eprintln!("field-client: scanner at http://{addr}/ 查验页面");
        serve::run(listener, state, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")
    })?;
    Ok(EXIT_VALID)
}

fn open(dir: &Path) -> anyhow::Result<Db> {
    if !dir.is_dir() {
        bail!(
            "data directory {} does not exist: enroll first",
            dir.display()
        );
    }
    Db::open(dir)
}

#[allow(clippy::too_many_arguments)] // one per command-line option
fn enroll(
    cli: &Cli,
    dir: &Path,
    server: &str,
    token: &str,
    (root_kid, national_root_kid): (Option<&str>, Option<&str>),
    alg: &str,
    label: &str,
    ca_file: Option<&Path>,
) -> anyhow::Result<u8> {
    let ca_pem = ca_file
        .map(|f| {
            let pem = std::fs::read_to_string(f)
                .with_context(|| format!("--ca-file {}: cannot read it", f.display()))?;
            net::parse_ca(pem.as_bytes()).with_context(|| format!("--ca-file {}", f.display()))?;
            anyhow::Ok(pem)
        })
        .transpose()?;
    let alg: Alg =
        alg_from_name(alg).with_context(|| format!("--alg {alg:?}: use EdDSA or SM2-SM3"))?;
    device::create_dir(dir)?;
    let key = match device::load(dir)? {
        Some(k) => k,
        None => device::generate(dir, alg)?,
    };
    let e = sync::enroll(server, token, &key, label, root_kid, ca_pem.as_deref())?;
    if let Some(expected) = national_root_kid {
        match &e.national_root {
            Some(k) if k.kid().to_hex().eq_ignore_ascii_case(expected.trim()) => {}
            Some(k) => bail!(
                "national root key mismatch: the server's national root key is {} but --national-root-kid says {}; refusing to trust it",
                k.kid(),
                expected.trim()
            ),
            None => bail!(
                "--national-root-kid was given but the server names no national root key (mutual recognition not configured there)"
            ),
        }
    }
    let mut db = Db::open(dir)?;
    if let Ok(Some((old, marks))) = db.sealed()? {
        if old.root != e.root && marks.trust_seq > 0 {
            bail!(
                "this device already trusts root key {}; the server names {}: refusing to switch trust anchors",
                old.root.kid(),
                e.root.kid()
            );
        }
    }
    if let Some(t) = db.set_enrollment(&e, device::now()?)? {
        eprintln!(
            "field-client: the previous store failed its checks ({}): its lists were dropped and root key {} pinned anew 原有数据已作废; run sync",
            t.0,
            e.root.kid()
        );
    }
    if cli.json {
        println!(
            "{}",
            json!({"device_id": e.device_id, "kid": e.kid, "division": e.division,
                   "root_kid": e.root.kid().to_hex(), "server": e.server,
                   "national_root_kid": e.national_root.as_ref().map(|k| k.kid().to_hex())})
        );
    } else {
        println!(
            "enrolled: device {} (key {}), division {}, root key {} pinned. Run `sync` next.",
            e.device_id,
            e.kid,
            e.division,
            e.root.kid()
        );
        if let Some(n) = &e.national_root {
            println!("national root key {} pinned (mutual recognition).", n.kid());
        }
    }
    Ok(EXIT_VALID)
}

fn run_sync(cli: &Cli, dir: &Path, server: Option<&str>) -> anyhow::Result<u8> {
    let mut db = open(dir)?;
    let key = device::load(dir)?.context("no device key: enroll first")?;
    let now = device::now()?;
    let report = sync::sync(&mut db, &key, server, now, &mut |m| eprintln!("sync: {m}"))?;
    if cli.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "synced: trust list seq {}, status list seq {} ({:?}, {} changes)",
            report.trust_seq, report.status_seq, report.status_step, report.status_changes
        );
        match &report.upload {
            Ok(u) => println!(
                "upload: {} accepted, {} already held, {} pending",
                u.accepted, u.duplicates, u.pending
            ),
            Err(e) => println!("upload failed (lists were applied): {e}"),
        }
        if let Some(n) = &report.national {
            println!(
                "national list seq {}: lists of provinces {:?} held{}",
                n.seq,
                n.provinces,
                if n.failed.is_empty() {
                    String::new()
                } else {
                    format!(", failed: {:?}", n.failed)
                }
            );
        }
    }
    Ok(if report.upload.is_ok() {
        EXIT_VALID
    } else {
        EXIT_ERROR
    })
}

/// One scanned input: a label and the QR text, or why nothing was read.
enum Scan {
    Text(String, String),
    Failed(String, &'static str, String),
}

fn image_scans(label: &str, bytes: &[u8], out: &mut Vec<Scan>) {
    match decode_image(bytes, &DecodeLimits::default()) {
        Ok(texts) => {
            for (i, t) in texts.into_iter().enumerate() {
                out.push(Scan::Text(format!("{label}#{}", i + 1), t));
            }
        }
        Err(QrError::NotAnImage) => out.push(Scan::Failed(
            label.to_string(),
            "not_an_image",
            "not a PNG or JPEG image / 不是图片文件".into(),
        )),
        Err(QrError::NoCodeFound) => out.push(Scan::Failed(
            label.to_string(),
            "no_qr_code",
            "no QR code found in the image / 图片中未找到二维码".into(),
        )),
        Err(e) => out.push(Scan::Failed(
            label.to_string(),
            "image_error",
            format!("the image could not be read: {e} / 图片无法识别"),
        )),
    }
}

fn verify(
    cli: &Cli,
    dir: &Path,
    images: &[PathBuf],
    texts: &[String],
    stdin: bool,
) -> anyhow::Result<u8> {
    let mut db = open(dir)?;
    if !db.is_enrolled()? {
        db.require_enrollment()?;
    }
    // Verified again from the stored signed bytes; a store that fails its
    // checks gives `cannot_confirm` / `store_tampered` for every input.
    let held = db.lists()?;
    if let Err(t) = &held {
        eprintln!("field-client: {t}");
    }
    let mut scans = Vec::new();
    for t in texts {
        scans.push(Scan::Text("text".into(), t.clone()));
    }
    for path in images {
        let label = path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => image_scans(&label, &bytes, &mut scans),
            Err(err) => scans.push(Scan::Failed(
                label,
                "unreadable_file",
                format!("cannot read the file: {err}"),
            )),
        }
    }
    if stdin {
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(DecodeLimits::default().max_input_bytes as u64 + 1)
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
        if bytes.starts_with(b"\x89PNG") || bytes.starts_with(&[0xFF, 0xD8]) {
            image_scans("stdin", &bytes, &mut scans);
        } else {
            let text = String::from_utf8_lossy(&bytes);
            for (i, line) in text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .enumerate()
            {
                scans.push(Scan::Text(format!("stdin:{}", i + 1), line.to_string()));
            }
        }
    }
    let mut worst: Option<Verdict> = None;
    let mut failed = false;
    for scan in scans {
        match scan {
            Scan::Failed(label, code, message) => {
                failed = true;
                if cli.json {
                    println!(
                        "{}",
                        json!({"input": label, "error": code, "message": message})
                    );
                } else {
                    eprintln!("field-client: {label}: {message}");
                }
            }
            Scan::Text(label, text) => {
                let now = device::now()?;
                // Logged (durably) before anything is printed.
                let o: Outcome = check::check(&mut db, &held, &text, now)?;
                if cli.json {
                    println!("{}", o.to_json(&label));
                } else {
                    println!("{}", card::render(&o, &label));
                }
                worst = Some(match (worst, o.verdict) {
                    (Some(Verdict::Invalid), _) | (_, Verdict::Invalid) => Verdict::Invalid,
                    (Some(Verdict::CannotConfirm), _) | (_, Verdict::CannotConfirm) => {
                        Verdict::CannotConfirm
                    }
                    _ => Verdict::Valid,
                });
            }
        }
    }
    Ok(if failed {
        EXIT_ERROR
    } else {
        match worst {
            Some(Verdict::Valid) => EXIT_VALID,
            Some(Verdict::Invalid) => EXIT_INVALID,
            Some(Verdict::CannotConfirm) => EXIT_CANNOT_CONFIRM,
            None => {
                eprintln!("field-client: no input to verify");
                EXIT_ERROR
            }
        }
    })
}

fn run_lookup(cli: &Cli, dir: &Path, by: LookupBy, value: &str) -> anyhow::Result<u8> {
    let mut db = open(dir)?;
    match lookup::lookup(&mut db, by, value, device::now()?) {
        Ok(o) => {
            if cli.json {
                println!(
                    "{}",
                    json!({
                        "kind": "lookup",
                        "check_id": o.check_id,
                        "by": by.as_str(),
                        "verdict": o.verdict.as_str(),
                        "reason": o.reason.map(|r| r.code()),
                        "reason_zh": o.reason.map(|r| r.message_zh()),
                        "reason_en": o.reason.map(|r| r.message_en()),
                        "checked_at": o.answer.checked_at,
                        "results": o.answer.results.iter().map(|f| json!({
                            "verdict": f.verdict,
                            "reason": f.reason,
                            "status": f.status,
                            "face": f.face,
                        })).collect::<Vec<_>>(),
                    })
                );
            } else {
                println!("{}", card::render_lookup(&o));
            }
            Ok(match o.verdict {
                Verdict::Valid => EXIT_VALID,
                Verdict::Invalid => EXIT_INVALID,
                Verdict::CannotConfirm => EXIT_CANNOT_CONFIRM,
            })
        }
        Err(lookup::LookupError::Offline(e)) => {
            if cli.json {
                println!(
                    "{}",
                    json!({"error": "offline", "message": "lookup needs a connection / 查询需要联网", "detail": format!("{e:#}")})
                );
            }
            eprintln!("field-client: 查询需要联网 / lookup needs a connection: {e:#}");
            Ok(EXIT_CANNOT_CONFIRM)
        }
        Err(e) => Err(e.into()),
    }
}

fn dispose(cli: &Cli, dir: &Path, check_id: u64, accepted: bool, note: &str) -> anyhow::Result<u8> {
    let mut db = open(dir)?;
    // The log alone is needed: a decision is recorded even when the lists
    // failed their checks.
    if !db.is_enrolled()? {
        db.require_enrollment()?;
    }
    let d = serve::record_disposition(&mut db, check_id, accepted, note, device::now()?)?;
    let incident = d.valid_refused_incident;
    if cli.json {
        println!(
            "{}",
            json!({"record": d.record, "check_id": check_id, "accepted": accepted,
                   "verdict": d.verdict, "valid_refused_incident": incident})
        );
    } else {
        println!(
            "recorded: check {check_id} {} (record {})",
            if accepted {
                "accepted 已接受"
            } else {
                "refused 已拒绝"
            },
            d.record
        );
        if incident {
            println!("note: a VALID certificate was refused — this counts as a display-and-verification incident (Annex A item 4) / 有效证照被拒绝，将计入亮证查验事件");
        }
    }
    Ok(EXIT_VALID)
}

fn status(cli: &Cli, dir: &Path) -> anyhow::Result<u8> {
    let db = open(dir)?;
    let e = db.require_enrollment()?;
    let now = device::now()?;
    let lists = db.lists()?.map_err(anyhow::Error::new)?;
    let counts = db.counts()?;
    let last_sync = db.int("last_sync")?;
    let last_upload = db.int("last_upload")?;
    let key = device::load(dir)?;
    let status = lists.as_ref().and_then(|l| l.status.as_ref());
    let newest = lists.as_ref().map_or(0, |l| l.newest_seen);
    let clock_behind = newest > now;
    let v = json!({
        "server": e.server,
        "device_id": e.device_id,
        "device_kid": key.map(|k| k.kid().to_hex()),
        "root_kid": e.root.kid().to_hex(),
        "issuer_kids": lists.as_ref().map(|l| l.trust.keys.iter().map(|k| k.kid().to_hex()).collect::<Vec<_>>()),
        "trust_seq": lists.as_ref().map(|l| l.trust.seq),
        "status_seq": status.map(|(c, _)| c.seq()),
        "status_entries": status.map(|(c, _)| c.list().len()),
        "status_issued_at": status.map(|(_, m)| m.issued_at),
        "data_age_seconds": status.map(|(_, m)| m.age(now.max(newest))),
        "ttl": status.map(|(_, m)| m.ttl),
        "max_age": status.map(|(_, m)| m.max_age),
        "last_sync": last_sync,
        "last_upload": last_upload,
        "newest_seen": newest,
        "clock_behind_seconds": if clock_behind { Some(newest - now) } else { None },
        "checks_total": counts.total,
        "checks_uploaded": counts.uploaded,
        "checks_pending": counts.total - counts.uploaded,
    });
    if cli.json {
        println!("{v}");
        return Ok(EXIT_VALID);
    }
    println!("server 服务器:        {}", e.server);
    println!(
        "device 设备:          {} (key {})",
        e.device_id,
        v["device_kid"].as_str().unwrap_or("-")
    );
    println!("root key 根密钥:      {}", e.root.kid());
    match (&lists, status) {
        (Some(l), Some((c, m))) => {
            let age = m.age(now.max(newest));
            let state = if age > i64::try_from(m.max_age).unwrap_or(i64::MAX) {
                "TOO OLD: cannot confirm 过旧，无法确认"
            } else if age > i64::try_from(m.ttl).unwrap_or(i64::MAX) {
                "older than ttl: sync soon 请尽快同步"
            } else {
                "fresh 有效"
            };
            println!(
                "trust list 信任列表:  seq {}, issuer keys {}",
                l.trust.seq,
                l.trust
                    .keys
                    .iter()
                    .map(|k| k.kid().to_hex())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!(
                "status list 状态列表: seq {}, {} entries",
                c.seq(),
                c.list().len()
            );
            println!("data age 数据时效:    {} ({state})", card::human_age(age));
        }
        _ => println!("lists 列表:           none yet: run sync 尚未同步"),
    }
    println!(
        "last sync 上次同步:   {}",
        last_sync.map_or_else(
            || "never".into(),
            |t| format!("{} ago", card::human_age(now - t))
        )
    );
    if clock_behind {
        println!(
            "WARNING 警告: the device clock is {} s behind the newest signed list 设备时钟落后",
            newest - now
        );
    }
    println!(
        "checks 查验记录:      {} total, {} uploaded, {} pending",
        counts.total,
        counts.uploaded,
        counts.total - counts.uploaded
    );
    Ok(EXIT_VALID)
}

fn logs(cli: &Cli, dir: &Path, last: Option<usize>) -> anyhow::Result<u8> {
    let db = open(dir)?;
    let total = db.counts()?.total;
    let chain = db.verify_chain();
    let from = last.map_or(0, |n| total.saturating_sub(n as u64));
    let rows = db.records_from(from, usize::MAX >> 1)?;
    for r in &rows {
        let mut v = json!({
            "seq": r.record.seq,
            "at": r.record.at,
            "at_cst": card::cst(r.record.at),
            "hash": hex::encode(r.hash),
            "uploaded": r.uploaded,
        });
        match &r.record.event {
            Event::Check(c) => {
                v["kind"] = json!("check");
                v["verdict"] = json!(c.verdict.as_str());
                v["reason"] = json!(c.reason.map(|x| x.code()));
                v["cert"] = json!(c.cert.as_ref().map(|x| format!(
                    "{}/{}/{}",
                    x.cert_type.code(),
                    x.number,
                    x.version
                )));
                v["status_seq"] = json!(c.status_seq);
                v["warnings"] = json!(c.warnings);
                v["presentation"] = json!(c.scanned.as_deref().is_some_and(|s| s
                    .trim_start()
                    .starts_with(shared::qrtext::PRESENTATION_PREFIX)));
            }
            Event::Lookup(l) => {
                v["kind"] = json!("lookup");
                v["verdict"] = json!(l.verdict.as_str());
                v["reason"] = json!(l.reason.map(|x| x.code()));
                v["cert"] = json!(l.cert.as_ref().map(|x| format!(
                    "{}/{}/{}",
                    x.cert_type.code(),
                    x.number,
                    x.version
                )));
                v["by"] = json!(l.by.as_str());
            }
            Event::Disposition(d) => {
                v["kind"] = json!("disposition");
                v["check_seq"] = json!(d.check_seq);
                v["accepted"] = json!(d.accepted);
                v["note"] = json!(d.note);
            }
        }
        if cli.json {
            println!("{v}");
        } else {
            let what = match &r.record.event {
                Event::Check(c) => format!(
                    "check {:<14} {:<26} {}",
                    c.verdict.as_str(),
                    c.reason.map_or("", |x| x.code()),
                    v["cert"].as_str().unwrap_or("-")
                ),
                Event::Lookup(l) => format!(
                    "lookup {:<13} {:<26} {} (by {})",
                    l.verdict.as_str(),
                    l.reason.map_or("", |x| x.code()),
                    v["cert"].as_str().unwrap_or("-"),
                    l.by.as_str()
                ),
                Event::Disposition(d) => format!(
                    "disposition of check {}: {} ({})",
                    d.check_seq,
                    if d.accepted { "accepted" } else { "refused" },
                    d.note
                ),
            };
            println!(
                "{:>6} {} {} {what}",
                r.record.seq,
                card::cst(r.record.at),
                if r.uploaded { "uploaded" } else { "pending " }
            );
        }
    }
    match chain {
        Ok(n) => {
            if cli.json {
                println!("{}", json!({"chain": "ok", "records": n}));
            } else {
                println!("chain 记录链: ok, {n} records");
            }
            Ok(EXIT_VALID)
        }
        Err(err) => {
            if cli.json {
                println!(
                    "{}",
                    json!({"chain": "broken", "message": format!("{err:#}")})
                );
            }
            eprintln!("field-client: the check log chain is BROKEN: {err:#}");
            Ok(EXIT_ERROR)
        }
    }
}
