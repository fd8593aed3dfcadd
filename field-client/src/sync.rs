//! Enrollment, list sync and log upload: everything that needs the network.
//!
//! A sync fetches the trust list, the status update and the catalogue,
//! verifies every signature and sequence, and only then writes them in one
//! transaction: a broken connection or a refused list leaves the local data
//! as it was. Pending log records are uploaded afterwards in batches signed
//! by the device key, starting where the server's chain ends, so a retry
//! after a lost reply sends nothing twice.

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use shared::api::{EnrollRequest, EnrollResponse, HeadResponse, IngestResponse};
use shared::checklog::sign_batch;
use shared::crypto::{PublicKey, SigningKey};
use shared::status::StatusCache;
use shared::trust::{SignedStatus, StatusUpdate, TrustList};

use crate::db::{
    alg_from_name, alg_to_name, Db, Enrollment, NationalWrite, ProvinceRow, StatusWrite, SyncData,
    MAX_DELTAS,
};
use crate::net::Client;
use shared::national::NationalList;

/// Records per uploaded batch.
pub const BATCH: usize = 500;

/// Registers the device key with the server and returns the enrollment to
/// store. `root_kid`, when given, must match the root key the server names.
pub fn enroll(
    server: &str,
    token: &str,
    key: &SigningKey,
    label: &str,
    root_kid: Option<&str>,
    ca_pem: Option<&str>,
) -> anyhow::Result<Enrollment> {
    let client = Client::with_ca(server, Some(token.to_string()), ca_pem)?;
    let body = serde_json::to_vec(&EnrollRequest {
        alg: alg_to_name(key.alg()).into(),
        public_key: URL_SAFE_NO_PAD.encode(key.public_key().to_bytes()),
        label: Some(label.into()),
    })?;
    let a = client.post("/api/v1/devices", "application/json", &body)?;
    if a.status != 200 && a.status != 201 {
        bail!(
            "the server refused the enrollment (HTTP {}): {}",
            a.status,
            a.text()
        );
    }
    let answer: EnrollResponse = serde_json::from_slice(&a.body)
        .context("the enrollment answer is not the expected JSON")?;
    if !answer.kid.eq_ignore_ascii_case(&key.kid().to_hex()) {
        bail!(
            "the server registered kid {} but this device key is {}",
            answer.kid,
            key.kid()
        );
    }
    let alg = alg_from_name(&answer.root.alg)
        .with_context(|| format!("root key algorithm {:?} unknown", answer.root.alg))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(answer.root.public_key.trim_end_matches('='))
        .context("root public_key is not base64url")?;
    let root = PublicKey::from_bytes(alg, &bytes).context("root public key")?;
    if !root.kid().to_hex().eq_ignore_ascii_case(&answer.root.kid) {
        bail!(
            "the server's root key hashes to kid {} but it says {}",
            root.kid(),
            answer.root.kid
        );
    }
    if let Some(expected) = root_kid {
        if !root.kid().to_hex().eq_ignore_ascii_case(expected.trim()) {
            bail!(
                "root key mismatch: the server's root key is {} but --root-kid says {}; refusing to trust it",
                root.kid(),
                expected.trim()
            );
        }
    }
    let national_root = match &answer.national_root {
        Some(view) => {
            let alg = alg_from_name(&view.alg)
                .with_context(|| format!("national root algorithm {:?} unknown", view.alg))?;
            let bytes = URL_SAFE_NO_PAD
                .decode(view.public_key.trim_end_matches('='))
                .context("national root public_key is not base64url")?;
            let key = PublicKey::from_bytes(alg, &bytes).context("national root public key")?;
            if !key.kid().to_hex().eq_ignore_ascii_case(&view.kid) {
                bail!(
                    "the server's national root key hashes to kid {} but it says {}",
                    key.kid(),
                    view.kid
                );
            }
            Some(key)
        }
        None => None,
    };
    Ok(Enrollment {
        national_root,
        server: server.trim_end_matches('/').to_string(),
        token: token.to_string(),
        device_id: answer.device_id,
        kid: answer.kid.to_ascii_lowercase(),
        division: i64::from(answer.division),
        root,
        ca_pem: ca_pem.map(str::to_string),
    })
}

/// How the status list was brought up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusStep {
    /// A whole snapshot (first sync, or too far behind).
    Snapshot,
    /// A delta.
    Delta,
    /// Already current.
    UpToDate,
}

/// What a sync did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncReport {
    /// The trust list sequence now held.
    pub trust_seq: u64,
    /// The status list sequence now held.
    pub status_seq: u64,
    /// How the status list was updated.
    pub status_step: StatusStep,
    /// Status entries changed by the applied delta.
    pub status_changes: usize,
    /// Upload result (records accepted, duplicates, still pending), or the
    /// error that stopped it.
    pub upload: Result<UploadReport, String>,
    /// Mutual recognition: what the national part of the sync did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub national: Option<NationalReport>,
}

/// What a sync did about the national list and the other provinces.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NationalReport {
    /// The national list sequence now held.
    pub seq: u64,
    /// Provinces whose lists are now held.
    pub provinces: Vec<u32>,
    /// Provinces listed whose lists could not be brought in, with why.
    pub failed: Vec<(u32, String)>,
}

/// What an upload did.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct UploadReport {
    /// Records the server accepted now.
    pub accepted: u64,
    /// Records the server already held.
    pub duplicates: u64,
    /// Records still not acknowledged.
    pub pending: u64,
}

fn require_ok(a: &crate::net::Answer, what: &str) -> anyhow::Result<()> {
    if a.status != 200 {
        bail!("fetching the {what}: HTTP {}: {}", a.status, a.text());
    }
    Ok(())
}

/// Fetches, verifies and applies the lists, then uploads pending records.
/// `server` overrides the enrolled URL.
pub fn sync(
    db: &mut Db,
    key: &SigningKey,
    server: Option<&str>,
    now: i64,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<SyncReport> {
    // The root key and the high-water marks come from the seal: a store
    // whose seal fails cannot be repaired by a sync (re-enroll).
    let e = db.require_enrollment()?;
    let marks = db.marks()?;
    let client = Client::with_ca(
        server.unwrap_or(&e.server),
        Some(e.token.clone()),
        e.ca_pem.as_deref(),
    )?;
    let held = match db.lists()? {
        Ok(h) => h,
        Err(t) => {
            progress(&format!(
                "local lists refused ({}); fetching fresh ones",
                t.0
            ));
            None
        }
    };

    progress("trust list: fetching");
    let a = client.get("/api/v1/trust-list")?;
    require_ok(&a, "trust list")?;
    let trust = match &held {
        Some(h) if h.trust.seq > 0 => match TrustList::verify(&a.body, &e.root) {
            Ok(t) if t.seq == h.trust.seq => t,
            Ok(_) => h.trust.verify_update(&a.body, &e.root)?,
            Err(err) => return Err(err).context("the trust list was refused"),
        },
        _ => TrustList::verify(&a.body, &e.root).context("the trust list was refused")?,
    };
    if trust.seq < marks.trust_seq {
        bail!(
            "the trust list offered (seq {}) is older than one this device accepted before (seq {}); refused",
            trust.seq,
            marks.trust_seq
        );
    }
    progress(&format!(
        "trust list: seq {} verified ({} bytes, {} issuer keys)",
        trust.seq,
        a.body.len(),
        trust.keys.len()
    ));
    let trust_bytes = a.body;

    // A new trust list, a store that failed its checks or a long chain of
    // deltas: start again from a snapshot (every held status object must
    // verify under the trust list held with it).
    let held_status = held
        .as_ref()
        .filter(|h| h.trust.seq == trust.seq)
        .and_then(|h| h.status.clone())
        .filter(|_| db.delta_count().is_ok_and(|n| n < MAX_DELTAS));
    let held_seq = held
        .as_ref()
        .and_then(|h| h.status.as_ref())
        .map_or(0, |(c, _)| c.seq())
        .max(marks.status_seq);
    let mut received = Vec::new();
    let (cache, manifest, step, changes, write) = match held_status {
        Some((cache, manifest)) => {
            progress(&format!("status list: deltas since seq {}", cache.seq()));
            let a = client.get(&format!("/api/v1/status-list/deltas?since={}", cache.seq()))?;
            match a.status {
                204 => (cache, manifest, StatusStep::UpToDate, 0, None),
                200 => {
                    let signed = SignedStatus::verify(&a.body, &trust)
                        .context("the status delta was refused")?;
                    let StatusUpdate::Delta(delta) = signed.update else {
                        bail!("the delta endpoint answered with a snapshot; refused");
                    };
                    if signed.manifest.issued_at < manifest.issued_at {
                        bail!("the status delta is older than the list held; refused");
                    }
                    let mut next = cache.clone();
                    next.apply(&delta)
                        .context("the status delta does not apply to the list held")?;
                    received = a.body;
                    (
                        next,
                        signed.manifest,
                        StatusStep::Delta,
                        delta.changes.len(),
                        Some(false),
                    )
                }
                400 | 410 => {
                    let (snapshot, m, bytes) = fetch_snapshot(&client, &trust, held_seq, progress)?;
                    received = bytes;
                    (
                        StatusCache::from_snapshot(snapshot),
                        m,
                        StatusStep::Snapshot,
                        0,
                        Some(true),
                    )
                }
                s => bail!("fetching the status delta: HTTP {s}: {}", a.text()),
            }
        }
        None => {
            let (snapshot, m, bytes) = fetch_snapshot(&client, &trust, held_seq, progress)?;
            received = bytes;
            (
                StatusCache::from_snapshot(snapshot),
                m,
                StatusStep::Snapshot,
                0,
                Some(true),
            )
        }
    };
    if manifest.issued_at < marks.status_issued_at {
        bail!("the status list offered is older than one this device accepted before; refused");
    }
    progress(&format!(
        "status list: seq {} ({} entries) verified",
        cache.seq(),
        cache.list().len()
    ));

    progress("catalogue: fetching");
    let a = client.get("/api/v1/catalogue")?;
    require_ok(&a, "catalogue")?;
    serde_json::from_slice::<serde_json::Value>(&a.body)
        .context("the catalogue is not JSON; refused")?;

    let national = match (
        &e.national_root,
        national_sync(
            &client,
            &e,
            held.as_ref(),
            &marks,
            &db.province_rows()?,
            progress,
        )?,
    ) {
        (Some(_), Some(n)) => Some(n),
        _ => None,
    };
    let national_report = national
        .as_ref()
        .map(|(list, _, provinces, failed)| NationalReport {
            seq: list.seq,
            provinces: provinces.iter().map(|(c, _, _)| *c).collect(),
            failed: failed.clone(),
        });
    db.apply_sync(&SyncData {
        national: national
            .as_ref()
            .map(|(list, bytes, provinces, _)| NationalWrite {
                bytes,
                list,
                provinces: provinces.clone(),
            }),
        trust_bytes: &trust_bytes,
        trust: &trust,
        status: match write {
            Some(true) => StatusWrite::Snapshot(&received),
            Some(false) => StatusWrite::Delta(&received),
            None => StatusWrite::Keep,
        },
        status_seq: cache.seq(),
        status_manifest: manifest,
        catalogue: &a.body,
        now,
    })?;
    progress("lists applied");

    let upload = upload(db, &client, key, progress).map_err(|err| format!("{err:#}"));
    Ok(SyncReport {
        trust_seq: trust.seq,
        status_seq: cache.seq(),
        status_step: step,
        status_changes: changes,
        upload,
        national: national_report,
    })
}

/// The verified national list, its bytes, each other province's signed
/// trust list and status snapshot, and the provinces that failed.
type NationalSync = (
    NationalList,
    Vec<u8>,
    Vec<(u32, Vec<u8>, Vec<u8>)>,
    Vec<(u32, String)>,
);

/// Fetches the national list from the own server and, for every province it
/// names but the own, that province's lists as the own server mirrors them.
/// A forged or rolled-back national list fails the whole sync (nothing is
/// written); a province whose lists fail keeps its previous lists when they
/// still verify under the new national list, else has none (its
/// certificates are then `cannot_confirm`). `None` when no national root is
/// pinned or the server has no national list.
fn national_sync(
    client: &Client,
    e: &Enrollment,
    held: Option<&crate::db::Lists>,
    marks: &crate::seal::SealBody,
    stored: &[ProvinceRow],
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Option<NationalSync>> {
    let Some(root) = &e.national_root else {
        return Ok(None);
    };
    progress("national list: fetching");
    let a = client.get("/api/v1/national-list")?;
    if a.status == 404 {
        progress("national list: the server holds none");
        return Ok(None);
    }
    require_ok(&a, "national list")?;
    let held_national = held.and_then(|h| h.national.as_ref());
    let list = match held_national {
        Some(h) => h.list.verify_update(&a.body, root),
        None => NationalList::verify(&a.body, root),
    }
    .context("the national list was refused")?;
    if list.seq < marks.national_seq {
        bail!(
            "the national list offered (seq {}) is older than one this device accepted before (seq {}); refused",
            list.seq,
            marks.national_seq
        );
    }
    progress(&format!(
        "national list: seq {} verified ({} provinces)",
        list.seq,
        list.provinces.len()
    ));
    let own = e.own_province();
    let mut provinces = Vec::new();
    let mut failed = Vec::new();
    for p in &list.provinces {
        let code = p.division.code();
        if code == own {
            continue;
        }
        let previous = held_national.and_then(|h| h.province(code));
        match fetch_province(client, p, previous) {
            Ok((trust, status)) => {
                progress(&format!("province {code}: lists verified"));
                provinces.push((code, trust, status));
            }
            Err(err) => {
                progress(&format!("province {code}: {err:#}"));
                failed.push((code, format!("{err:#}")));
                if let Some(row) = stored
                    .iter()
                    .find(|(c, t, _)| *c == code && p.verify_trust_list(t).is_ok())
                {
                    provinces.push(row.clone());
                }
            }
        }
    }
    Ok(Some((list, a.body, provinces, failed)))
}

fn fetch_province(
    client: &Client,
    p: &shared::national::Province,
    previous: Option<&crate::db::ProvinceHeld>,
) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let code = p.division.code();
    let a = client.get(&format!("/api/v1/provinces/{code}/trust-list"))?;
    require_ok(&a, "province trust list")?;
    let trust = p.verify_trust_list(&a.body)?;
    if let Some(prev) = previous {
        if trust.seq < prev.trust.seq {
            bail!(
                "trust list seq {} below the held {}: refused",
                trust.seq,
                prev.trust.seq
            );
        }
    }
    let s = client.get(&format!("/api/v1/provinces/{code}/status-list"))?;
    require_ok(&s, "province status list")?;
    let signed = SignedStatus::verify(&s.body, &trust).context("status list refused")?;
    let StatusUpdate::Snapshot(snapshot) = signed.update else {
        bail!("a delta where a status snapshot was expected");
    };
    if let Some(prev) = previous {
        if snapshot.seq < prev.status.0.seq() || signed.manifest.issued_at < prev.status.1.issued_at
        {
            bail!("status list older than the one held: refused");
        }
    }
    Ok((a.body, s.body))
}

fn fetch_snapshot(
    client: &Client,
    trust: &TrustList,
    at_least: u64,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<(
    shared::status::StatusSnapshot,
    shared::trust::Manifest,
    Vec<u8>,
)> {
    progress("status list: fetching snapshot");
    let a = client.get("/api/v1/status-list")?;
    require_ok(&a, "status list")?;
    progress(&format!("status list: {} bytes received", a.body.len()));
    let signed = SignedStatus::verify(&a.body, trust).context("the status list was refused")?;
    let StatusUpdate::Snapshot(snapshot) = signed.update else {
        bail!("the status-list endpoint answered with a delta; refused");
    };
    if snapshot.seq < at_least {
        bail!(
            "the status snapshot offered (seq {}) is older than the list this device holds or held (seq {at_least}); refused",
            snapshot.seq
        );
    }
    Ok((snapshot, signed.manifest, a.body))
}

/// Uploads every record the server does not hold yet, in signed batches.
pub fn upload(
    db: &mut Db,
    client: &Client,
    key: &SigningKey,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<UploadReport> {
    let mut report = UploadReport::default();
    let kid = key.kid().to_hex();
    let mut attempts = 0;
    loop {
        let a = client.get(&format!("/api/v1/verification-logs/head?kid={kid}"))?;
        if a.status != 200 {
            bail!(
                "reading the server's log head: HTTP {}: {}",
                a.status,
                a.text()
            );
        }
        let head: HeadResponse =
            serde_json::from_slice(&a.body).context("the log head answer is not JSON")?;
        if head.next_seq > 0 {
            let Some(ours) = db.record(head.next_seq - 1)? else {
                bail!(
                    "the server holds {} records of this device but this device has fewer: wrong data directory?",
                    head.next_seq
                );
            };
            if !head.head.eq_ignore_ascii_case(&hex::encode(ours.hash)) {
                bail!(
                    "the server's chain head for this device differs from the local record {}: refusing to upload",
                    head.next_seq - 1
                );
            }
        }
        db.mark_uploaded_below(head.next_seq)?;
        let mut from = head.next_seq;
        let total = db.counts()?.total;
        let mut conflict = false;
        loop {
            let rows = db.records_from(from, BATCH)?;
            if rows.is_empty() {
                break;
            }
            let refs: Vec<&[u8]> = rows.iter().map(|r| r.bytes.as_slice()).collect();
            let batch = sign_batch(&refs, key);
            let a = client.post("/api/v1/verification-logs", "application/cose", &batch)?;
            match a.status {
                200 => {
                    let v: IngestResponse = serde_json::from_slice(&a.body)
                        .context("the upload answer is not the expected JSON")?;
                    report.accepted += v.accepted;
                    report.duplicates += v.duplicates;
                    let next = v.next_seq;
                    db.mark_uploaded_below(next)?;
                    progress(&format!("upload: {next}/{total} records acknowledged"));
                    if next <= from {
                        bail!("the server acknowledged nothing of records from {from}");
                    }
                    from = next;
                }
                409 => {
                    progress(&format!(
                        "upload: conflict ({}); re-reading the head",
                        a.text()
                    ));
                    conflict = true;
                    break;
                }
                s => bail!("uploading records from {from}: HTTP {s}: {}", a.text()),
            }
        }
        if !conflict {
            break;
        }
        attempts += 1;
        if attempts >= 3 {
            bail!("the server keeps answering 409 to the upload");
        }
    }
    let c = db.counts()?;
    report.pending = c.total - c.uploaded;
    db.set_int("last_upload", crate::device::now()?)?;
    Ok(report)
}
