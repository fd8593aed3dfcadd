//! Cross-province check records (互认互通, issue 14 item 4): checks of
//! another province's certificates go to that province, signed by this
//! province's root key, and count there, never here.
//!
//! Sender: [`logs::ingest`](super::logs::ingest) stores every record as
//! today and queues a check whose scanned text claims another province's
//! issuer ([`logs::foreign_province`](super::logs::foreign_province)) in the outbox in the same transaction; the
//! evaluation leaves queued records out. [`make_batches`] groups queued
//! records per province into signed [`shared::forward`] batches (stored
//! with their bytes, so every re-send is byte-identical and carries the
//! same id); the forwarder (`crate::forwarder`, in `serve`) delivers the
//! batch [`due`] and records each attempt ([`attempted`]) with exponential
//! back-off ([`backoff`]).
//!
//! Receiver: [`receive`] checks the batch (known sending province, signed
//! by one of its root keys, addressed to this province, every record a
//! check of a certificate this province issued), re-verifies each scanned
//! text against this server's own trust list, and stores the batch once
//! (by sending province and id) and each record once (by sending province,
//! device and seq), with its audit row, in one transaction. The evaluation
//! counts stored records under the same evidence rules as local checks
//! ([`eval_checks`]).

use rand_core::{OsRng, RngCore as _};
use shared::api::ForwardAnswer;
use shared::checklog::{self, Event, Record, Sealed};
use shared::crypto::{PublicKey, SigningKey};
use shared::domain::DivisionCode;
use shared::forward::{self, Batch, Entry, ForwardError, ProvinceCode};

use super::action::Action;
use super::lists::Signed;
use super::logs::Reverifier;
use super::peers::PeerProvinces;
use crate::store::evaluation::EvalCheck;
use crate::store::{AuditEntry, ForwardBatchRow, PeerCheckRow, Store, StoreError};

/// First retry after this many seconds; doubled per failed attempt ...
pub const BACKOFF_FIRST: i64 = 30;
/// ... up to this many.
pub const BACKOFF_MAX: i64 = 3_600;

/// Seconds to wait after the `attempts`-th failed attempt (1, 2, …):
/// 30 s, 60 s, 120 s, … at most an hour.
pub fn backoff(attempts: u32) -> i64 {
    super::retry::backoff(attempts, BACKOFF_FIRST, BACKOFF_MAX)
}

/// Why a forwarded batch was refused; nothing was stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardRefusal {
    /// Not a well-formed signed batch.
    #[error("{0}")]
    Malformed(String),
    /// The sending province is not one this server knows.
    #[error("{0}")]
    UnknownProvince(String),
    /// Signed by a key that is not a root key of the sending province.
    #[error("{0}")]
    WrongKey(String),
    /// The signature does not verify.
    #[error("{0}")]
    BadSignature(String),
    /// Addressed to another province.
    #[error("{0}")]
    WrongDestination(String),
    /// A record is malformed or not a check with scanned text.
    #[error("{0}")]
    BadRecord(String),
    /// A record is about a certificate another province issued.
    #[error("{0}")]
    NotOurCertificate(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something else on our side.
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

/// Receives one signed batch from another province (see the module
/// documentation); stores nothing unless every check passes.
#[allow(clippy::too_many_arguments)]
pub fn receive(
    store: &dyn Store,
    reverifier: &Reverifier,
    (trust, root): (&Signed, &PublicKey),
    peers: &PeerProvinces,
    now: i64,
    client_addr: Option<std::net::IpAddr>,
    bytes: &[u8],
) -> Result<ForwardAnswer, ForwardRefusal> {
    let unverified =
        forward::parse(bytes).map_err(|e| ForwardRefusal::Malformed(format!("batch: {e}")))?;
    let from = unverified.batch.from;
    let peer = peers.get(from).ok_or_else(|| {
        ForwardRefusal::UnknownProvince(format!(
            "province {from} is not a known peer of this server; nothing was stored"
        ))
    })?;
    let batch = unverified.verify(&peer.root_keys).map_err(|e| match e {
        ForwardError::WrongKey(kid) => ForwardRefusal::WrongKey(format!(
            "batch signed by key {kid}, which is not a root key of {from} ({})",
            peer.name
        )),
        e => ForwardRefusal::BadSignature(format!(
            "batch signature does not verify with the root key of {from}: {e}"
        )),
    })?;
    let own = peers.own();
    if batch.to != own {
        return Err(ForwardRefusal::WrongDestination(format!(
            "the batch is addressed to province {}; this is {own}",
            batch.to
        )));
    }
    let mut sealed = Vec::with_capacity(batch.entries.len());
    for (index, e) in batch.entries.iter().enumerate() {
        let record = Record::from_cbor(&e.record)
            .map_err(|err| ForwardRefusal::BadRecord(format!("entry {index}: {err}")))?;
        let Event::Check(check) = &record.event else {
            return Err(ForwardRefusal::BadRecord(format!(
                "entry {index}: only check records are forwarded"
            )));
        };
        let Some(text) = check.scanned.as_deref() else {
            return Err(ForwardRefusal::BadRecord(format!(
                "entry {index}: a check without scanned text names no certificate"
            )));
        };
        let issuer = forward::claimed_issuer(text).and_then(ProvinceCode::of_division);
        if issuer != Some(own) {
            return Err(ForwardRefusal::NotOurCertificate(format!(
                "entry {index}: the certificate was not issued by province {own} (it names {}); \
                 send it to its issuer",
                issuer.map_or_else(|| "no readable issuer".into(), |p| p.to_string())
            )));
        }
        let hash = checklog::record_hash(&e.record);
        sealed.push(Sealed {
            record,
            bytes: e.record.clone(),
            hash,
        });
    }
    let refs: Vec<&Sealed> = sealed.iter().collect();
    let derived = reverifier
        .derive_all(trust, root, &refs)
        .map_err(ForwardRefusal::Internal)?;
    let id = hex::encode(batch.id);
    let mut tx = store.begin()?;
    tx.insert_peer_batch(from.code(), &id, now, bytes)?;
    let (mut accepted, mut duplicates) = (0_u64, 0_u64);
    for ((entry, s), d) in batch.entries.iter().zip(&sealed).zip(derived) {
        let d = d.unwrap_or_default();
        let scanned = match &s.record.event {
            Event::Check(c) => c.scanned.clone(),
            Event::Disposition(_) | Event::Lookup(_) => None,
        };
        let presented = scanned.as_deref().is_some_and(|t| {
            t.trim_matches(|c: char| c.is_ascii_whitespace())
                .starts_with(shared::qrtext::PRESENTATION_PREFIX)
        });
        let row = PeerCheckRow {
            province: from.code(),
            device: entry.device,
            seq: s.record.seq,
            batch: id.clone(),
            division: entry.division,
            not_before: entry.not_before,
            sent_received_at: entry.received,
            received_at: now,
            at: s.record.at,
            scanned,
            srv_signature: d.signature,
            srv_presentation: d.presentation,
            presented,
            srv_cert_type: d.cert.as_ref().map(|c| c.cert_type.code().to_string()),
            srv_cert_number: d.cert.as_ref().map(|c| c.number.clone()),
            srv_division: d.cert.as_ref().map(|c| c.division),
            srv_reason: d.reason.map(|r| r.code().to_string()),
        };
        if tx.insert_peer_check(&row)? {
            accepted += 1;
        } else {
            duplicates += 1;
        }
    }
    tx.append_audit(&AuditEntry {
        ts: now,
        token_id: None,
        role: Some(format!("peer {from}")),
        action: Action::ReceiveForwarded.as_str().into(),
        target: format!("province {from} batch {id}"),
        outcome: format!("ok: {accepted} accepted, {duplicates} duplicates"),
        client_addr: client_addr.map(|a| a.to_string()),
    })?;
    tx.commit()?;
    Ok(ForwardAnswer {
        batch: id,
        from: from.code(),
        accepted,
        duplicates,
    })
}

/// Groups queued records of every province that has a peer into signed
/// batches of at most [`forward::MAX_ENTRIES`], due now; returns how many
/// batches were made. Records for a province without a peer stay queued.
pub fn make_batches(
    store: &dyn Store,
    root: &SigningKey,
    peers: &PeerProvinces,
    now: i64,
) -> Result<usize, StoreError> {
    let mut made = 0;
    let mut tx = store.begin()?;
    for code in tx.forward_pending_provinces()? {
        let Some(to) = ProvinceCode::new(code)
            .ok()
            .filter(|p| peers.get(*p).is_some())
        else {
            continue;
        };
        loop {
            let rows = tx.forward_unbatched(code, forward::MAX_ENTRIES as u32)?;
            if rows.is_empty() {
                break;
            }
            let mut id = [0_u8; 16];
            OsRng.fill_bytes(&mut id);
            let batch = Batch {
                id,
                from: peers.own(),
                to,
                created: now,
                entries: rows
                    .iter()
                    .map(|r| Entry {
                        device: u64::try_from(r.device_id).unwrap_or_default(),
                        division: r.division,
                        not_before: r.not_before,
                        received: r.received_at,
                        record: r.record.clone(),
                    })
                    .collect(),
            };
            let keys: Vec<(i64, u64)> = rows.iter().map(|r| (r.device_id, r.seq)).collect();
            tx.insert_forward_batch(
                &ForwardBatchRow {
                    id: hex::encode(id),
                    province: code,
                    created_at: now,
                    bytes: batch.sign(root),
                    records: rows.len() as u64,
                    attempts: 0,
                    next_attempt_at: now,
                    last_error: None,
                    sent_at: None,
                },
                &keys,
            )?;
            made += 1;
        }
    }
    tx.commit()?;
    Ok(made)
}

/// The undelivered batch due soonest at `now`, if any.
pub fn due(store: &dyn Store, now: i64) -> Result<Option<ForwardBatchRow>, StoreError> {
    let mut tx = store.begin()?;
    let b = tx.forward_due(now)?;
    tx.commit()?;
    Ok(b)
}

/// Records a delivery attempt of `batch`: delivered, or failed with
/// `error` and retried after [`backoff`].
pub fn attempted(
    store: &dyn Store,
    batch: &ForwardBatchRow,
    error: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = store.begin()?;
    match error {
        None => tx.forward_attempted(&batch.id, Some(now), None, batch.next_attempt_at)?,
        Some(e) => {
            let next = now.saturating_add(backoff(batch.attempts.saturating_add(1)));
            let e: String = e.chars().take(500).collect();
            tx.forward_attempted(&batch.id, None, Some(&e), next)?
        }
    }
    tx.commit()
}

/// Received records as the evaluation's checks: each sending device gets
/// its own (negative) device id, the sending province's bounds are the
/// record's time bounds (its arrival here at the latest), and the device
/// counts as one outside every city of this province (its static QR checks
/// are independent evidence, docs/evaluation.md).
pub fn eval_checks(rows: &[PeerCheckRow], province: DivisionCode) -> Vec<EvalCheck> {
    let mut devices: std::collections::HashMap<(u32, u64), i64> = Default::default();
    let mut batches: std::collections::HashMap<&str, i64> = Default::default();
    rows.iter()
        .map(|r| {
            let next = -(devices.len() as i64) - 1;
            let device_id = *devices.entry((r.province, r.device)).or_insert(next);
            let next_batch = -(batches.len() as i64) - 1;
            let batch_id = *batches.entry(r.batch.as_str()).or_insert(next_batch);
            EvalCheck {
                device_id,
                seq: r.seq,
                at: r.at,
                device_division: province,
                signature: r.srv_signature,
                presented: r.presented,
                presentation: r.srv_presentation,
                cert: r.srv_cert_type.clone().zip(r.srv_cert_number.clone()),
                cert_division: r.srv_division,
                reason: r.srv_reason.clone(),
                token_id: device_id,
                enrolled_at: r.not_before,
                revoked_at: None,
                batch_id,
                received_at: r.sent_received_at.min(r.received_at),
                status_seq: None,
                status_signed_at: None,
            }
        })
        .collect()
}
