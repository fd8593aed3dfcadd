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

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::checklog::{self, Event, LogError, Sealed};
use shared::cose::CoseError;
use shared::crypto::{Kid, PublicKey};
use shared::domain::{CertType, DivisionCode};
use shared::qrtext;
use shared::trust::TrustList;
use shared::verify::{self, Context, Policy, Reason, CST_OFFSET_SECONDS};

use crate::api::{audited, blocking, query, require};
use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::store::{DeviceRow, LogRecordRow, StoreError};
use crate::AppState;

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
    etag: String,
    trust: Option<Arc<TrustList>>,
    /// `(SHA-256 of a certificate text, CST day) → result`. Presentations
    /// depend on the exact time and are not cached.
    results: HashMap<([u8; 32], i64), Derived>,
}

/// Re-verifies scanned texts for the check log, caching certificate
/// results per trust list and day (one per service, in `AppState`).
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
    at.max(0)
        .saturating_add(CST_OFFSET_SECONDS)
        .div_euclid(86_400)
}

impl Reverifier {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Cache>, StoreError> {
        self.cache.lock().map_err(|_| StoreError::Poisoned)
    }

    /// The server's current trust list, prepared for re-verification
    /// (re-read when its ETag changes, which also empties the cache).
    fn trust(&self, state: &AppState) -> anyhow::Result<Arc<TrustList>> {
        let signed = state.lists().trust_list(
            state.store(),
            &state.keys(),
            state.list_config(),
            state.now(),
        )?;
        let mut cache = self.lock()?;
        if let Some(trust) = cache.trust.as_ref().filter(|_| cache.etag == signed.etag) {
            return Ok(trust.clone());
        }
        let mut trust = TrustList::verify(&signed.bytes, &state.root_public_key())?;
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
        state: &AppState,
        records: &[&Sealed],
    ) -> anyhow::Result<Vec<Option<Derived>>> {
        let trust = self.trust(state)?;
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

/// The answer to an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IngestResponse {
    /// Records stored by this upload.
    pub accepted: u64,
    /// Records of the batch the server held already (a retry).
    pub duplicates: u64,
    /// The next sequence number the server expects from the device.
    pub next_seq: u64,
    /// Hash of the device's last accepted record, 64 hex digits.
    pub head: String,
}

/// A device's chain head as held by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HeadResponse {
    /// The next sequence number the server expects.
    pub next_seq: u64,
    /// Hash of the last accepted record (64 zeros before the first).
    pub head: String,
}

fn log_error(e: LogError, kid: Kid) -> ApiError {
    match e {
        LogError::Cose(CoseError::Signature(_) | CoseError::AlgMismatch { .. })
        | LogError::UnknownDevice(_) => ApiError::Forbidden(format!(
            "batch signature does not verify with the enrolled key of device {kid}: \
             the batch was not signed by that device"
        )),
        e @ (LogError::Cbor(_) | LogError::Cose(_) | LogError::NoKid) => {
            ApiError::BadRequest(format!("batch: {e}"))
        }
        e => ApiError::Unprocessable(format!("batch: {e}")),
    }
}

/// The device `kid` if the officer `caller` enrolled it and it is not
/// revoked.
fn own_device(device: Option<DeviceRow>, caller: &Caller, kid: Kid) -> Result<DeviceRow, ApiError> {
    match device {
        None => Err(ApiError::Forbidden(format!(
            "device key {kid} is not enrolled; enroll it with POST /api/v1/devices"
        ))),
        Some(d) if d.token_id != caller.token_id => Err(ApiError::Forbidden(format!(
            "device {kid} is enrolled under another officer token"
        ))),
        Some(d) if d.revoked_at.is_some() => Err(ApiError::Forbidden(format!(
            "device {kid} has been revoked"
        ))),
        Some(d) => Ok(d),
    }
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
pub fn ingest(state: &AppState, caller: &Caller, batch: &[u8]) -> Result<IngestResponse, ApiError> {
    let kid =
        checklog::batch_kid(batch).map_err(|e| ApiError::BadRequest(format!("batch: {e}")))?;
    let device = {
        let mut tx = state.store().begin()?;
        let d = tx.device_by_kid(&kid)?;
        tx.commit()?;
        own_device(d, caller, kid)?
    };
    let key = PublicKey::from_bytes(device.alg, &device.public_key)
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("stored device key")))?;
    let sealed = checklog::open_batch(batch, &key).map_err(|e| log_error(e, kid))?;
    // Re-verify only what may be new (outside the transaction: it is the
    // expensive part). A concurrent upload can only make fewer records new.
    let candidates: Vec<&Sealed> = sealed
        .iter()
        .filter(|s| s.record.seq >= device.next_seq)
        .collect();
    let mut derived = state
        .reverifier()
        .derive_all(state, &candidates)?
        .into_iter();
    let mut by_seq: HashMap<u64, Option<Derived>> = candidates
        .iter()
        .map(|s| (s.record.seq, derived.next().flatten()))
        .collect();

    let (Some(first), Some(last)) = (sealed.first(), sealed.last()) else {
        return Err(ApiError::Unprocessable(
            "batch: the batch holds no records".into(),
        ));
    };
    let (first, last) = (first.record.seq, last.record.seq);
    let now = state.now();
    let mut tx = state.store().begin()?;
    let device = own_device(tx.device_by_kid(&kid)?, caller, kid)?;
    let next = device.next_seq;
    if first > next {
        return Err(ApiError::Conflict(format!(
            "expected seq {next}: the batch starts at seq {first}, so records {next}..{} are missing",
            first - 1
        )));
    }
    let upto = last.min(next.saturating_sub(1));
    let duplicates = if first < next { upto - first + 1 } else { 0 };
    if duplicates > 0 {
        let stored = tx.log_hashes(device.id, first, upto)?;
        if stored.len() as u64 != duplicates {
            return Err(ApiError::Internal(anyhow::anyhow!(
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
                return Err(ApiError::Conflict(format!(
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
            return Err(ApiError::Conflict(format!(
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
        for s in new {
            let mut row = row_of(s, device.id, by_seq.remove(&s.record.seq).flatten());
            if row.kind == 0 && row.srv_signature.is_none() {
                row.srv_signature = Some(false);
            }
            row.batch_id = batch_id;
            tx.insert_log_record(&row)?;
        }
        head = nl.hash;
        tx.set_device_head(device.id, nl.record.seq + 1, &head)?;
    }
    let accepted = new.len() as u64;
    let next_seq = next.max(last.saturating_add(1));
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        "POST /api/v1/verification-logs",
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

/// `POST /api/v1/verification-logs`: upload a signed batch of check
/// records (`application/cose`, made by `checklog::sign_batch`).
#[utoipa::path(post, path = "/api/v1/verification-logs", tag = "verification logs",
    request_body(content = Vec<u8>, content_type = "application/cose",
        description = "COSE_Sign1 by the device key over the CBOR array of record bytes"),
    responses(
        (status = 200, description = "Stored (or already held)", body = IngestResponse),
        (status = 400, description = "Not a COSE_Sign1 batch with a kid"),
        (status = 403, description = "Not an officer, device not enrolled under this token, revoked, or the signature does not verify"),
        (status = 409, description = "A record differs from the accepted one at its seq, a gap, or prev does not continue the accepted chain; nothing stored"),
        (status = 422, description = "A record is malformed or the batch's own chain is broken; the detail names the record"),
    ),
    security(("bearer" = [])))]
pub async fn post_logs(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let result = upload(&state, &caller, body).await;
    audited(
        &state,
        &caller,
        "POST /api/v1/verification-logs",
        &uri,
        result,
    )
    .await
}

async fn upload(
    state: &AppState,
    caller: &Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require(caller, &[Role::Officer])?;
    let body = crate::api::body_bytes(body, state.limits().max_body)?;
    let s = state.clone();
    let caller = caller.clone();
    let answer = blocking(move || ingest(&s, &caller, &body)).await?;
    Ok(Json(answer).into_response())
}

/// Query of the head endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HeadQuery {
    /// The device key's identifier, 16 hex digits.
    kid: Option<String>,
}

fn parse_kid(text: &str) -> Result<Kid, ApiError> {
    hex::decode(text.trim())
        .ok()
        .and_then(|b| Kid::from_slice(&b))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "query parameter kid: {:?} is not 16 hex digits",
                text.chars().take(40).collect::<String>()
            ))
        })
}

/// `GET /api/v1/verification-logs/head?kid=`: what the server holds of one
/// of the caller's devices.
#[utoipa::path(get, path = "/api/v1/verification-logs/head", tag = "verification logs",
    params(HeadQuery),
    responses(
        (status = 200, description = "The device's chain head", body = HeadResponse),
        (status = 400, description = "kid missing or malformed"),
        (status = 403, description = "Not an officer, or the device is another token's"),
        (status = 404, description = "No device with this kid"),
    ),
    security(("bearer" = [])))]
pub async fn get_head(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    q: Result<Query<HeadQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let action = "GET /api/v1/verification-logs/head";
    let result = match query(q) {
        Ok(q) => read_head(&state, &caller, action, q).await,
        Err(e) => Err(e),
    };
    audited(&state, &caller, action, &uri, result).await
}

async fn read_head(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    q: HeadQuery,
) -> Result<Response, ApiError> {
    require(caller, &[Role::Officer])?;
    let text = q
        .kid
        .ok_or_else(|| ApiError::BadRequest("query parameter kid is required".into()))?;
    let kid = parse_kid(&text)?;
    let s = state.clone();
    let caller = caller.clone();
    blocking(move || {
        let mut tx = s.store().begin()?;
        let device = match tx.device_by_kid(&kid)? {
            None => {
                return Err(ApiError::NotFound(format!(
                    "no device is enrolled with kid {kid}"
                )))
            }
            d => own_device(d, &caller, kid)?,
        };
        tx.append_audit(&Caller::audit_entry(
            Some(&caller),
            s.now(),
            action,
            format!("device {} kid {kid}", device.id),
            "ok",
        ))?;
        tx.commit()?;
        Ok(Json(HeadResponse {
            next_seq: device.next_seq,
            head: hex::encode(device.head),
        })
        .into_response())
    })
    .await
}

/// Query of the record listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LogsQuery {
    /// The device's id (required).
    device_id: Option<i64>,
    /// Only records with a greater seq.
    after: Option<u64>,
    /// At most this many records (default 100, at most 1,000).
    limit: Option<u32>,
}

/// Default page size of the record listing.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page size of the record listing.
pub const MAX_LIMIT: u32 = 1_000;

/// A device as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceView {
    device_id: i64,
    kid: String,
    alg: String,
    division: u32,
    label: String,
    enrolled_at: i64,
    revoked_at: Option<i64>,
    next_seq: u64,
    head: String,
}

/// A stored record as listed: the device's claims, then the server's.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordView {
    seq: u64,
    hash: String,
    prev: String,
    /// Device time, Unix seconds.
    at: i64,
    /// `check`, `disposition` or `lookup` (an online lookup: `note` says
    /// what it searched by).
    kind: &'static str,
    verdict: Option<String>,
    reason: Option<String>,
    cert_type: Option<String>,
    cert_number: Option<String>,
    cert_version: Option<u16>,
    scanned: Option<String>,
    status_seq: Option<u64>,
    trust_seq: Option<u64>,
    warnings: Vec<String>,
    data_age: Option<u64>,
    check_seq: Option<u64>,
    accepted: Option<bool>,
    note: Option<String>,
    /// Server: the province's signature verified.
    signature_verified: Option<bool>,
    /// Server: a holder-signed presentation verified.
    presentation_verified: Option<bool>,
    server_cert_type: Option<String>,
    server_cert_number: Option<String>,
    server_cert_version: Option<u16>,
    /// Server: the certificate's issuing division.
    server_division: Option<u32>,
    /// Server: the first problem found short of status.
    server_reason: Option<String>,
    batch_id: i64,
}

/// A page of records.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogsResponse {
    device: DeviceView,
    records: Vec<RecordView>,
    /// The `after` of the next page, when this one is full.
    next_after: Option<u64>,
}

fn record_view(r: LogRecordRow) -> RecordView {
    RecordView {
        seq: r.seq,
        hash: hex::encode(r.hash),
        prev: hex::encode(r.prev),
        at: r.at,
        kind: match r.kind {
            0 => "check",
            2 => "lookup",
            _ => "disposition",
        },
        verdict: r.verdict,
        reason: r.reason,
        cert_type: r.cert_type,
        cert_number: r.cert_number,
        cert_version: r.cert_version,
        scanned: r.scanned,
        status_seq: r.status_seq,
        trust_seq: r.trust_seq,
        warnings: r
            .warnings
            .and_then(|w| serde_json::from_str(&w).ok())
            .unwrap_or_default(),
        data_age: r.data_age,
        check_seq: r.check_seq,
        accepted: r.accepted,
        note: r.note,
        signature_verified: r.srv_signature,
        presentation_verified: r.srv_presentation,
        server_cert_type: r.srv_cert_type,
        server_cert_number: r.srv_cert_number,
        server_cert_version: r.srv_cert_version,
        server_division: r.srv_division.map(DivisionCode::code),
        server_reason: r.srv_reason,
        batch_id: r.batch_id,
    }
}

/// `GET /api/v1/verification-logs?device_id=&after=&limit=`: a device's
/// stored records with the server-derived fields (administrators and
/// auditors).
#[utoipa::path(get, path = "/api/v1/verification-logs", tag = "verification logs",
    params(LogsQuery),
    responses(
        (status = 200, description = "A page of records", body = LogsResponse),
        (status = 400, description = "device_id missing, or a parameter malformed"),
        (status = 403, description = "Not an administrator or auditor"),
        (status = 404, description = "No such device"),
    ),
    security(("bearer" = [])))]
pub async fn get_logs(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    q: Result<Query<LogsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let action = "GET /api/v1/verification-logs";
    let result = match query(q) {
        Ok(q) => read_logs(&state, &caller, action, q).await,
        Err(e) => Err(e),
    };
    audited(&state, &caller, action, &uri, result).await
}

async fn read_logs(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    q: LogsQuery,
) -> Result<Response, ApiError> {
    require(caller, &[Role::Admin, Role::Auditor])?;
    let device_id = q
        .device_id
        .ok_or_else(|| ApiError::BadRequest("query parameter device_id is required".into()))?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "query parameter limit: {limit} is not between 1 and {MAX_LIMIT}"
        )));
    }
    let s = state.clone();
    let caller = caller.clone();
    blocking(move || {
        let mut tx = s.store().begin()?;
        let device = tx
            .device(device_id)?
            .ok_or_else(|| ApiError::NotFound(format!("no device {device_id}")))?;
        let rows = tx.log_records(device_id, q.after, limit)?;
        tx.append_audit(&Caller::audit_entry(
            Some(&caller),
            s.now(),
            action,
            format!(
                "device {device_id} after {} ({} records)",
                q.after.map_or_else(|| "-".into(), |a| a.to_string()),
                rows.len()
            ),
            "ok",
        ))?;
        tx.commit()?;
        let next_after = (rows.len() == limit as usize)
            .then(|| rows.last().map(|r| r.seq))
            .flatten();
        Ok(Json(LogsResponse {
            device: DeviceView {
                device_id: device.id,
                kid: device.kid.to_hex(),
                alg: crate::devices::alg_api_name(device.alg).into(),
                division: device.division.code(),
                label: device.label,
                enrolled_at: device.enrolled_at,
                revoked_at: device.revoked_at,
                next_seq: device.next_seq,
                head: hex::encode(device.head),
            },
            records: rows.into_iter().map(record_view).collect(),
            next_after,
        })
        .into_response())
    })
    .await
}
