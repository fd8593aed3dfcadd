//! Ingestion of officer devices' check logs (R10, R12).
//!
//! A device uploads batches made by `shared::checklog::sign_batch`. The
//! server looks the batch's kid up among the devices enrolled under the
//! caller's token, opens it with `checklog::open_batch` (device signature,
//! strict records, internal chain), then checks it against what it holds
//! for that device: records below the device's next seq must be the ones
//! already accepted (a retry: duplicates), and the first new record must
//! continue the stored chain. A batch that fails any check stores nothing;
//! what was accepted before stays. One transaction per batch holds the
//! records, the signed batch bytes (the evidence), the new chain head and
//! the audit row.
//!
//! The device's verdict is stored as the device claimed it, and beside it
//! what the server derives by verifying the scanned text itself with
//! `shared::verify` against its own trust list ([`Derived`]): whether the
//! province's signature verified, whether a holder-signed presentation
//! verified within its window, and which certificate (and issuing
//! division) it is. Those fields are what the evaluation may count; the
//! device's own verdict is not proof. Results for a certificate text are
//! cached per trust list and China Standard Time day ([`Reverifier`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use shared::api::{HeadResponse, IngestResponse};
use shared::checklog::{self, Event, LogError, Sealed};
use shared::cose::CoseError;
use shared::crypto::{Kid, PublicKey};
use shared::domain::{CertType, DivisionCode};
use shared::forward::ProvinceCode;
use shared::qrtext;
use shared::trust::TrustList;
use shared::verify::{self, Context, Policy, Reason};

use super::action::Action;
use super::auth::Caller;
use super::lists::Signed;
use crate::store::{DeviceRow, LogRecordRow, OutboxRow, Store, StoreError};

/// Why a batch or a read was refused; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// Not a COSE_Sign1 batch with a kid, or a malformed query value.
    #[error("{0}")]
    Malformed(String),
    /// The device is not the caller's, is revoked, or did not sign it.
    #[error("{0}")]
    NotYours(String),
    /// No such device.
    #[error("{0}")]
    NotFound(String),
    /// A gap, or a record that differs from the accepted one.
    #[error("{0}")]
    Conflict(String),
    /// A record is malformed or the batch's own chain is broken.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something else on our side.
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

/// What the server concluded from a check's scanned text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Derived {
    /// The province's signature verified against the server's trust list
    /// (by a key that was not compromised and covered the issue time).
    pub signature: bool,
    /// The text is a holder-signed presentation whose holder signature
    /// verified and whose slot was within its window at the record's time.
    pub presentation: bool,
    /// The certificate, when its signature verified.
    pub cert: Option<DerivedCert>,
    /// The first problem found other than status (the server does not judge
    /// status at the device's time); `None` when none.
    pub reason: Option<Reason>,
}

/// The certificate named by verified claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedCert {
    /// Type.
    pub cert_type: CertType,
    /// Number.
    pub number: String,
    /// Version.
    pub version: u16,
    /// Issuing authority's division.
    pub division: DivisionCode,
}

/// Reasons `verify` reaches only after the holder binding (step 3 of its
/// documented order): dates and status. A presentation rejected for one of
/// these had its holder signature and window accepted.
const AFTER_HOLDER_BINDING: [Reason; 8] = [
    Reason::NotYetValid,
    Reason::Expired,
    Reason::NoStatusData,
    Reason::StatusDataTooOld,
    Reason::NotCoveredByStatusList,
    Reason::Revoked,
    Reason::Suspended,
    Reason::Superseded,
];

/// Verifies `text` as scanned at `at` (device time) against `trust`,
/// without status data: the server records signature, holder binding and
/// dates; status is judged later from its own history.
///
/// `trust` should carry `manifest.issued_at = 0` so that dates are judged
/// at the record's time, not at the trust list's signing time.
pub fn derive(text: &str, at: i64, trust: &TrustList) -> Derived {
    let ctx = Context {
        trust,
        status: None,
        now: at,
        newest_seen: 0,
        policy: Policy::default(),
        national: None,
    };
    let presented = is_presentation(text);
    let cert_of = |c: &shared::wire::Claims| DerivedCert {
        cert_type: c.cert_type,
        number: c.number.clone(),
        version: c.version,
        division: c.issuer_division,
    };
    match verify::verify(text, &ctx) {
        Ok(v) => Derived {
            signature: true,
            presentation: v.holder().is_some(),
            cert: Some(cert_of(v.claims())),
            reason: None,
        },
        Err(r) => {
            let signature = r.claims.is_some() && r.reason != Reason::KeyNotValidAtIssue;
            Derived {
                signature,
                presentation: presented && signature && AFTER_HOLDER_BINDING.contains(&r.reason),
                cert: r.claims.as_deref().filter(|_| signature).map(cert_of),
                reason: (r.reason != Reason::NoStatusData).then_some(r.reason),
            }
        }
    }
}

fn is_presentation(text: &str) -> bool {
    text.trim_matches(|c: char| c.is_ascii_whitespace())
        .starts_with(qrtext::PRESENTATION_PREFIX)
}

/// Most cached results before the cache is emptied.
const MAX_CACHED: usize = 65_536;

#[derive(Default)]
struct Cache {
    /// ETag of the trust list these results were computed with.
    etag: bytes::Bytes,
    trust: Option<Arc<TrustList>>,
    /// `(SHA-256 of a certificate text, CST day) → result`. Presentations
    /// depend on the exact time and are not cached.
    results: HashMap<([u8; 32], i64), Derived>,
}

/// Re-verifies scanned texts for the check log, caching certificate
/// results per trust list and day (one per service, held by the state).
#[derive(Default)]
pub struct Reverifier {
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for Reverifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reverifier")
    }
}

fn cst_day(at: i64) -> i64 {
    shared::cst::day_number(at.max(0))
}

impl Reverifier {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Cache>, StoreError> {
        self.cache.lock().map_err(|_| StoreError::Poisoned)
    }

    /// The server's current trust list, prepared for re-verification
    /// (re-read when its ETag changes, which also empties the cache).
    pub fn trust(&self, signed: &Signed, root: &PublicKey) -> anyhow::Result<Arc<TrustList>> {
        let mut cache = self.lock()?;
        if let Some(trust) = cache.trust.as_ref().filter(|_| cache.etag == signed.etag) {
            return Ok(trust.clone());
        }
        let mut trust = TrustList::verify(&signed.bytes, root)?;
        trust.manifest.issued_at = 0;
        let trust = Arc::new(trust);
        *cache = Cache {
            etag: signed.etag.clone(),
            trust: Some(trust.clone()),
            results: HashMap::new(),
        };
        Ok(trust)
    }

    /// What the server derives for each record (`None` for dispositions and
    /// checks without scanned text). Must not be called inside a store
    /// transaction (it may read the trust list from the store).
    pub fn derive_all(
        &self,
        signed: &Signed,
        root: &PublicKey,
        records: &[&Sealed],
    ) -> anyhow::Result<Vec<Option<Derived>>> {
        let trust = self.trust(signed, root)?;
        let texts: Vec<Option<(&str, i64)>> = records
            .iter()
            .map(|s| match &s.record.event {
                Event::Check(c) => c.scanned.as_deref().map(|t| (t, s.record.at)),
                Event::Disposition(_) | Event::Lookup(_) => None,
            })
            .collect();
        let keys: Vec<Option<([u8; 32], i64)>> = texts
            .iter()
            .map(|t| {
                t.filter(|(text, _)| !is_presentation(text))
                    .map(|(text, at)| (Sha256::digest(text.as_bytes()).into(), cst_day(at)))
            })
            .collect();
        let mut out: Vec<Option<Derived>> = {
            let cache = self.lock()?;
            keys.iter()
                .map(|k| k.and_then(|k| cache.results.get(&k).cloned()))
                .collect()
        };
        let mut fresh = Vec::new();
        for (i, slot) in out.iter_mut().enumerate() {
            if let (None, Some((text, at))) = (&slot, texts[i]) {
                let d = derive(text, at, &trust);
                if let Some(k) = keys[i] {
                    fresh.push((k, d.clone()));
                }
                *slot = Some(d);
            }
        }
        if !fresh.is_empty() {
            let mut cache = self.lock()?;
            // Another thread may have switched trust lists meanwhile: keep
            // only results of the list they were computed with.
            if cache.trust.as_ref().is_some_and(|t| Arc::ptr_eq(t, &trust)) {
                if cache.results.len() + fresh.len() > MAX_CACHED {
                    cache.results.clear();
                }
                cache.results.extend(fresh);
            }
        }
        Ok(out)
    }
}

fn log_error(e: LogError, kid: Kid) -> LogsError {
    match e {
        LogError::Cose(CoseError::Signature(_) | CoseError::AlgMismatch { .. })
        | LogError::UnknownDevice(_) => LogsError::NotYours(format!(
            "batch signature does not verify with the enrolled key of device {kid}: \
             the batch was not signed by that device"
        )),
        e @ (LogError::Cbor(_) | LogError::Cose(_) | LogError::NoKid) => {
            LogsError::Malformed(format!("batch: {e}"))
        }
        e => LogsError::Invalid(format!("batch: {e}")),
    }
}

/// The device `kid` if the officer `caller` enrolled it and it is not
/// revoked.
pub fn own_device(
    device: Option<DeviceRow>,
    caller: &Caller,
    kid: Kid,
) -> Result<DeviceRow, LogsError> {
    match device {
        // Another token's device reads as one never enrolled, so that a
        // refusal does not tell that the key exists.
        Some(d) if d.token_id != caller.token_id => Err(not_enrolled(kid)),
        None => Err(not_enrolled(kid)),
        Some(d) if d.revoked_at.is_some() => Err(LogsError::NotYours(format!(
            "device {kid} has been revoked"
        ))),
        Some(d) => Ok(d),
    }
}

/// What the server holds of one of the caller's devices, with the read's
/// audit row in the same transaction. A device never enrolled and another
/// token's are answered alike ([`LogsError::NotFound`]).
pub fn head(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    kid: Kid,
) -> Result<HeadResponse, LogsError> {
    let mut tx = store.begin()?;
    let device = match tx.device_by_kid(&kid)? {
        Some(d) if d.token_id == caller.token_id => d,
        Some(_) | None => {
            return Err(LogsError::NotFound(format!(
                "no device is enrolled with kid {kid} under this token"
            )))
        }
    };
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::ReadLogHead,
        format!("device {} kid {kid}", device.id),
        "ok",
    ))?;
    tx.commit()?;
    Ok(HeadResponse {
        next_seq: device.next_seq,
        head: hex::encode(device.head),
    })
}

/// A device's stored records after `after` (at most `limit`), with the
/// read's audit row in the same transaction (administrators and auditors).
pub fn records(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    device_id: i64,
    after: Option<u64>,
    limit: u32,
) -> Result<(DeviceRow, Vec<LogRecordRow>), LogsError> {
    let mut tx = store.begin()?;
    let device = tx
        .device(device_id)?
        .ok_or_else(|| LogsError::NotFound(format!("no device {device_id}")))?;
    let rows = tx.log_records(device_id, after, limit)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::ReadLogs,
        format!(
            "device {device_id} after {} ({} records)",
            after.map_or_else(|| "-".into(), |a| a.to_string()),
            rows.len()
        ),
        "ok",
    ))?;
    tx.commit()?;
    Ok((device, rows))
}

/// The refusal of a device key that is not enrolled under the caller's
/// token (never enrolled, or another token's).
pub fn not_enrolled(kid: Kid) -> LogsError {
    LogsError::NotYours(format!(
        "device key {kid} is not enrolled under this token; enroll it with POST /api/v1/devices"
    ))
}

fn row_of(s: &Sealed, device_id: i64, derived: Option<Derived>) -> LogRecordRow {
    let mut row = LogRecordRow {
        device_id,
        seq: s.record.seq,
        hash: s.hash,
        prev: s.record.prev,
        at: s.record.at,
        kind: 0,
        verdict: None,
        reason: None,
        cert_type: None,
        cert_number: None,
        cert_version: None,
        scanned: None,
        status_seq: None,
        trust_seq: None,
        warnings: None,
        data_age: None,
        check_seq: None,
        accepted: None,
        note: None,
        srv_signature: None,
        srv_presentation: None,
        srv_cert_type: None,
        srv_cert_number: None,
        srv_cert_version: None,
        srv_division: None,
        srv_reason: None,
        batch_id: 0,
    };
    match &s.record.event {
        Event::Check(c) => {
            row.verdict = Some(c.verdict.as_str().into());
            row.reason = c.reason.map(|r| r.code().into());
            if let Some(cert) = &c.cert {
                row.cert_type = Some(cert.cert_type.code().into());
                row.cert_number = Some(cert.number.clone());
                row.cert_version = Some(cert.version);
            }
            row.scanned = c.scanned.clone();
            row.status_seq = c.status_seq;
            row.trust_seq = c.trust_seq;
            row.warnings = (!c.warnings.is_empty())
                .then(|| serde_json::to_string(&c.warnings).unwrap_or_default());
            row.data_age = c.data_age;
            let d = derived.unwrap_or_default();
            row.srv_signature = Some(d.signature);
            row.srv_presentation = Some(d.presentation);
            row.srv_reason = d.reason.map(|r| r.code().into());
            if let Some(cert) = d.cert {
                row.srv_cert_type = Some(cert.cert_type.code().into());
                row.srv_cert_number = Some(cert.number);
                row.srv_cert_version = Some(cert.version);
                row.srv_division = Some(cert.division);
            }
        }
        Event::Lookup(l) => {
            // An online lookup: the server's verdict as the officer saw it.
            // Nothing to re-verify (no scanned text); `note` holds what it
            // searched by. Not counted by the evaluation (kind 0 only): a
            // lookup proves no certificate was shown.
            row.kind = 2;
            row.verdict = Some(l.verdict.as_str().into());
            row.reason = l.reason.map(|r| r.code().into());
            if let Some(cert) = &l.cert {
                row.cert_type = Some(cert.cert_type.code().into());
                row.cert_number = Some(cert.number.clone());
                row.cert_version = Some(cert.version);
            }
            row.note = Some(l.by.as_str().into());
        }
        Event::Disposition(d) => {
            row.kind = 1;
            row.check_seq = Some(d.check_seq);
            row.accepted = Some(d.accepted);
            row.note = Some(d.note.clone());
        }
    }
    row
}

/// Ingests one signed batch from the officer `caller` (see the module
/// documentation); stores nothing unless every check passes.
///
/// `trust` is the server's signed trust list now and `root` the key it is
/// signed with: the scanned texts are re-verified against them. A check
/// whose text claims an issuer outside `own` (this server's province) and
/// does not verify here is queued for forwarding to that province
/// (`service::forward`).
pub fn ingest(
    store: &dyn Store,
    reverifier: &Reverifier,
    (trust, root): (&Signed, &PublicKey),
    own: ProvinceCode,
    caller: &Caller,
    now: i64,
    batch: &[u8],
) -> Result<IngestResponse, LogsError> {
    let kid =
        checklog::batch_kid(batch).map_err(|e| LogsError::Malformed(format!("batch: {e}")))?;
    let device = {
        let mut tx = store.begin()?;
        let d = tx.device_by_kid(&kid)?;
        tx.commit()?;
        own_device(d, caller, kid)?
    };
    let key = PublicKey::from_bytes(device.alg, &device.public_key)
        .map_err(|e| LogsError::Internal(anyhow::Error::new(e).context("stored device key")))?;
    let sealed = checklog::open_batch(batch, &key).map_err(|e| log_error(e, kid))?;
    // Re-verify only what may be new (outside the transaction: it is the
    // expensive part). A concurrent upload can only make fewer records new.
    let candidates: Vec<&Sealed> = sealed
        .iter()
        .filter(|s| s.record.seq >= device.next_seq)
        .collect();
    let mut derived = reverifier
        .derive_all(trust, root, &candidates)
        .map_err(LogsError::Internal)?
        .into_iter();
    let mut by_seq: HashMap<u64, Option<Derived>> = candidates
        .iter()
        .map(|s| (s.record.seq, derived.next().flatten()))
        .collect();

    let (Some(first), Some(last)) = (sealed.first(), sealed.last()) else {
        return Err(LogsError::Invalid(
            "batch: the batch holds no records".into(),
        ));
    };
    let (first, last) = (first.record.seq, last.record.seq);
    let mut tx = store.begin()?;
    let device = own_device(tx.device_by_kid(&kid)?, caller, kid)?;
    let next = device.next_seq;
    if first > next {
        return Err(LogsError::Conflict(format!(
            "expected seq {next}: the batch starts at seq {first}, so records {next}..{} are missing",
            first - 1
        )));
    }
    let upto = last.min(next.saturating_sub(1));
    let duplicates = if first < next { upto - first + 1 } else { 0 };
    if duplicates > 0 {
        let stored = tx.log_hashes(device.id, first, upto)?;
        if stored.len() as u64 != duplicates {
            return Err(LogsError::Internal(anyhow::anyhow!(
                "device {} holds {} records in {first}..={upto}, below next seq {next}",
                device.id,
                stored.len()
            )));
        }
        for (seq, hash) in stored {
            let ours = usize::try_from(seq - first)
                .ok()
                .and_then(|i| sealed.get(i))
                .map(|s| s.hash);
            if ours != Some(hash) {
                return Err(LogsError::Conflict(format!(
                    "record seq {seq} differs from the record already accepted at seq {seq}: \
                     the log was altered; nothing from this batch was stored"
                )));
            }
        }
    }
    let new: &[Sealed] = usize::try_from(duplicates)
        .ok()
        .and_then(|d| sealed.get(d..))
        .unwrap_or(&[]);
    if let Some(n0) = new.first() {
        if n0.record.prev != device.head {
            return Err(LogsError::Conflict(format!(
                "record seq {}: prev does not match the accepted record {}",
                n0.record.seq,
                n0.record.seq.saturating_sub(1)
            )));
        }
    }
    let mut head = device.head;
    if let (Some(n0), Some(nl)) = (new.first(), new.last()) {
        let batch_id =
            tx.insert_log_batch(device.id, now, (n0.record.seq, nl.record.seq), batch)?;
        let rows: Vec<LogRecordRow> = new
            .iter()
            .map(|s| {
                let mut row = row_of(s, device.id, by_seq.remove(&s.record.seq).flatten());
                if row.kind == 0 && row.srv_signature.is_none() {
                    row.srv_signature = Some(false);
                }
                row.batch_id = batch_id;
                row
            })
            .collect();
        // One bulk insert (PostgreSQL: one COPY and one INSERT … SELECT)
        // instead of a statement per record. The device row is locked and
        // its head checked above, so every record is new: one already
        // stored means the store and the head disagree, and nothing of the
        // batch is kept.
        let stored = tx.insert_log_records(&rows)?;
        if stored != rows.len() {
            return Err(LogsError::Internal(anyhow::anyhow!(
                "device {}: {} of {} new records were already stored below its head",
                device.id,
                rows.len() - stored,
                rows.len()
            )));
        }
        // A check of another province's certificate (its signature cannot
        // verify here): queued for its issuer in the same transaction, left
        // out of this province's evaluation.
        for (s, row) in new.iter().zip(&rows) {
            if row.kind == 0 && row.srv_signature == Some(false) {
                if let Some(p) = row
                    .scanned
                    .as_deref()
                    .and_then(|t| foreign_province(t, own))
                {
                    tx.queue_forward(&outbox_row(&device, s, p, now))?;
                }
            }
        }
        head = nl.hash;
        tx.set_device_head(device.id, nl.record.seq + 1, &head)?;
    }
    let accepted = new.len() as u64;
    let next_seq = next.max(last.saturating_add(1));
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::UploadLogs.as_str(),
        format!("device {} kid {kid} seq {first}..={last}", device.id),
        format!("ok: {accepted} accepted, {duplicates} duplicates"),
    ))?;
    tx.commit()?;
    Ok(IngestResponse {
        accepted,
        duplicates,
        next_seq,
        head: hex::encode(head),
    })
}

/// The province a scanned text claims as issuer, when it is not `own`
/// (read without verifying: routing only; the issuer verifies).
pub fn foreign_province(scanned: &str, own: ProvinceCode) -> Option<ProvinceCode> {
    shared::forward::claimed_issuer(scanned)
        .and_then(ProvinceCode::of_division)
        .filter(|p| *p != own)
}

/// A queued record for the cross-province outbox (made by [`ingest`]
/// inside its transaction; sent by `service::forward`).
pub fn outbox_row(
    device: &DeviceRow,
    sealed: &Sealed,
    province: ProvinceCode,
    received_at: i64,
) -> OutboxRow {
    OutboxRow {
        device_id: device.id,
        seq: sealed.record.seq,
        province: province.code(),
        division: device.division.code(),
        not_before: device.enrolled_at,
        received_at,
        record: sealed.bytes.clone(),
    }
}
