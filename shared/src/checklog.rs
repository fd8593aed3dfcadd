//! The field device's check log: one record per check (and per officer
//! disposition), hash-chained, uploaded in batches signed by the device key.
//!
//! Each record is a canonical CBOR map carrying the device's sequence number
//! and the SHA-256 of the previous record's bytes ([`GENESIS`] for the
//! first), so the log is an append-only chain: a record cannot be removed,
//! reordered or altered without breaking every later link. A batch is a
//! COSE_Sign1 by the device key (with its `kid`) over the CBOR array of the
//! records' bytes, so the server learns which enrolled device produced it
//! and that nobody on the way changed it. Records keep the QR text exactly as
//! scanned, so the server can re-verify the certificate (and a holder's
//! signed presentation) itself instead of trusting the device's verdict.
//!
//! Keys of a record map:
//!
//! | key | field | |
//! |---|---|---|
//! | 1 | seq | uint, from 0, no gaps |
//! | 2 | prev | bstr 32: hash of record `seq - 1`, [`GENESIS`] for 0 |
//! | 3 | at | int: device time, Unix seconds |
//! | 4 | kind | 0 check, 1 disposition, 2 lookup (online, by plate, ID or number) |
//! | 5 | verdict | text: `valid`, `invalid`, `cannot_confirm` (check) |
//! | 6 | reason | text: a [`crate::verify::Reason`] code; absent when valid |
//! | 7 | scanned | text: the QR text as scanned (at most [`MAX_SCANNED`] bytes) |
//! | 8 | cert | `[type code, number, version]` when the claims were read |
//! | 9 | status_seq | uint: status list sequence used |
//! | 10 | trust_seq | uint: trust list sequence used |
//! | 11 | warnings | array of text; absent when none |
//! | 12 | data_age | uint: seconds since the status list was issued |
//! | 13 | check_seq | uint: the check a disposition is about |
//! | 14 | accepted | bool: the officer accepted the certificate shown |
//! | 15 | note | text: the officer's reason |
//! | 16 | by | text: what a lookup searched by: `plate`, `id_number`, `number` |
//!
//! A lookup record (kind 2) carries keys 5, 6 and 8 like a check (the
//! server's verdict and the certificate it named) and key 16; it has no
//! scanned text. The looked-up value itself is not kept on the device (the
//! server's audit holds it).

use ciborium::value::Value;
use sha2::{Digest, Sha256};

use crate::cbor::{self, as_array, as_bytes, as_i64, as_text, as_u64, bad, CborError, MapReader};
use crate::cose::{self, CoseError, Sign1};
use crate::crypto::{Kid, PublicKey, SigningKey};
use crate::domain::CertType;
use crate::verify::{Reason, Verdict};

/// The `prev` of the first record.
pub const GENESIS: [u8; 32] = [0; 32];
/// Largest scanned text kept in a record, bytes.
pub const MAX_SCANNED: usize = 4096;
/// Largest record, bytes.
pub const MAX_RECORD_LEN: usize = 8 * 1024;
/// Most records in one batch.
pub const MAX_BATCH_RECORDS: usize = 5_000;
/// Largest signed batch, bytes.
pub const MAX_BATCH_LEN: usize = MAX_BATCH_RECORDS * 1_024 + 64 * 1024;

/// SHA-256 of a record's bytes: the next record's `prev`.
pub fn record_hash(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The certificate a check was about, as the device read it from the claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRef {
    /// Its type.
    pub cert_type: CertType,
    /// Its number.
    pub number: String,
    /// Its version.
    pub version: u16,
}

/// A check: what was scanned and what the device concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The verdict shown.
    pub verdict: Verdict,
    /// Why, when not valid.
    pub reason: Option<Reason>,
    /// The QR text exactly as scanned (cut to [`MAX_SCANNED`] bytes).
    pub scanned: Option<String>,
    /// The certificate, when its claims could be read.
    pub cert: Option<CertRef>,
    /// Status list sequence the device used.
    pub status_seq: Option<u64>,
    /// Trust list sequence the device used.
    pub trust_seq: Option<u64>,
    /// Warnings shown with the verdict (codes).
    pub warnings: Vec<String>,
    /// Age of the status data at the check, seconds.
    pub data_age: Option<u64>,
}

/// The officer's decision on a check: was the certificate shown accepted?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition {
    /// The check's sequence number.
    pub check_seq: u64,
    /// Accepted (true) or refused.
    pub accepted: bool,
    /// The officer's reason.
    pub note: String,
}

/// What an online lookup searched by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LookupBy {
    /// Plate number.
    Plate,
    /// Citizen ID number.
    IdNumber,
    /// Certificate number.
    Number,
}

impl LookupBy {
    /// The stable name: `plate`, `id_number`, `number`.
    pub fn as_str(self) -> &'static str {
        match self {
            LookupBy::Plate => "plate",
            LookupBy::IdNumber => "id_number",
            LookupBy::Number => "number",
        }
    }

    /// The key of this name.
    pub fn from_name(s: &str) -> Option<LookupBy> {
        [LookupBy::Plate, LookupBy::IdNumber, LookupBy::Number]
            .into_iter()
            .find(|b| b.as_str() == s)
    }
}

/// An online lookup (the holder could not show a code): the server's
/// verdict as the officer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The verdict shown.
    pub verdict: Verdict,
    /// Why, when not valid.
    pub reason: Option<Reason>,
    /// The certificate the verdict is about, when one was found.
    pub cert: Option<CertRef>,
    /// What was searched by.
    pub by: LookupBy,
}

/// What a record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A verification.
    Check(Check),
    /// A decision on an earlier check (or lookup).
    Disposition(Disposition),
    /// An online lookup.
    Lookup(Lookup),
}

/// One log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The device's sequence number, from 0.
    pub seq: u64,
    /// Hash of the previous record's bytes.
    pub prev: [u8; 32],
    /// Device time, Unix seconds.
    pub at: i64,
    /// What happened.
    pub event: Event,
}

/// Why log input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A record or the batch is not well-formed.
    #[error("{0}")]
    Cbor(#[from] CborError),
    /// The batch envelope is not an acceptable COSE_Sign1, or its signature
    /// does not verify.
    #[error("batch signature: {0}")]
    Cose(#[from] CoseError),
    /// The batch names no device key.
    #[error("batch signature: the protected header has no kid")]
    NoKid,
    /// The batch is signed by a key that is not an enrolled device.
    #[error("batch signed by unknown device key {0}")]
    UnknownDevice(Kid),
    /// A batch with no records.
    #[error("the batch holds no records")]
    Empty,
    /// Too many records.
    #[error("the batch holds {found} records; at most {limit} are allowed")]
    TooMany {
        /// The limit.
        limit: usize,
        /// How many were sent.
        found: usize,
    },
    /// Record `index` of the batch does not follow the one before it.
    #[error("record {index} of the batch (seq {seq}): {detail}")]
    Chain {
        /// Position in the batch, from 0.
        index: usize,
        /// Its sequence number.
        seq: u64,
        /// What is wrong.
        detail: String,
    },
    /// Record `index` of the batch is malformed.
    #[error("record {index} of the batch: {source}")]
    Record {
        /// Position in the batch, from 0.
        index: usize,
        /// What is wrong.
        source: CborError,
    },
}

fn cert_value(r: &CertRef) -> Value {
    Value::Array(vec![
        cbor::text(r.cert_type.code()),
        cbor::text(&r.number),
        cbor::uint(u64::from(r.version)),
    ])
}

fn opt(key: i64, v: Option<Value>) -> (Value, Option<Value>) {
    (cbor::int(key), v)
}

impl Record {
    /// The record's canonical bytes.
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut e = vec![
            opt(1, Some(cbor::uint(self.seq))),
            opt(2, Some(cbor::bytes(&self.prev))),
            opt(3, Some(cbor::int(self.at))),
        ];
        match &self.event {
            Event::Check(c) => {
                e.push(opt(4, Some(cbor::uint(0))));
                e.push(opt(5, Some(cbor::text(c.verdict.as_str()))));
                e.push(opt(6, c.reason.map(|r| cbor::text(r.code()))));
                e.push(opt(7, c.scanned.as_deref().map(cbor::text)));
                e.push(opt(8, c.cert.as_ref().map(cert_value)));
                e.push(opt(9, c.status_seq.map(cbor::uint)));
                e.push(opt(10, c.trust_seq.map(cbor::uint)));
                e.push(opt(
                    11,
                    (!c.warnings.is_empty())
                        .then(|| Value::Array(c.warnings.iter().map(|w| cbor::text(w)).collect())),
                ));
                e.push(opt(12, c.data_age.map(cbor::uint)));
            }
            Event::Lookup(l) => {
                e.push(opt(4, Some(cbor::uint(2))));
                e.push(opt(5, Some(cbor::text(l.verdict.as_str()))));
                e.push(opt(6, l.reason.map(|r| cbor::text(r.code()))));
                e.push(opt(8, l.cert.as_ref().map(cert_value)));
                e.push(opt(16, Some(cbor::text(l.by.as_str()))));
            }
            Event::Disposition(d) => {
                e.push(opt(4, Some(cbor::uint(1))));
                e.push(opt(13, Some(cbor::uint(d.check_seq))));
                e.push(opt(14, Some(Value::Bool(d.accepted))));
                e.push(opt(15, Some(cbor::text(&d.note))));
            }
        }
        cbor::encode(&cbor::map(e))
    }

    /// Reads a record's canonical bytes.
    pub fn from_cbor(bytes: &[u8]) -> Result<Record, CborError> {
        let mut m = MapReader::new("record", cbor::decode_strict(bytes, MAX_RECORD_LEN)?)?;
        let seq = as_u64(m.required(1, "seq")?, "seq")?;
        let prev: [u8; 32] = as_bytes(m.required(2, "prev")?, "prev")?
            .try_into()
            .map_err(|_| bad("prev", "expected 32 bytes"))?;
        let at = as_i64(m.required(3, "at")?, "at")?;
        let event = match as_u64(m.required(4, "kind")?, "kind")? {
            0 => Event::Check(read_check(&mut m)?),
            1 => Event::Disposition(Disposition {
                check_seq: as_u64(m.required(13, "check_seq")?, "check_seq")?,
                accepted: match m.required(14, "accepted")? {
                    Value::Bool(b) => b,
                    _ => return Err(bad("accepted", "expected a boolean")),
                },
                note: as_text(m.required(15, "note")?, "note")?,
            }),
            2 => Event::Lookup(read_lookup(&mut m)?),
            k => return Err(bad("kind", format!("unknown record kind {k}"))),
        };
        m.finish()?;
        if let Event::Disposition(d) = &event {
            if d.check_seq >= seq {
                return Err(bad("check_seq", "a disposition must follow its check"));
            }
        }
        Ok(Record {
            seq,
            prev,
            at,
            event,
        })
    }
}

fn verdict_of(s: &str) -> Option<Verdict> {
    [Verdict::Valid, Verdict::Invalid, Verdict::CannotConfirm]
        .into_iter()
        .find(|v| v.as_str() == s)
}

fn read_verdict(m: &mut MapReader) -> Result<(Verdict, Option<Reason>), CborError> {
    let verdict_text = as_text(m.required(5, "verdict")?, "verdict")?;
    let verdict = verdict_of(&verdict_text)
        .ok_or_else(|| bad("verdict", format!("unknown verdict {verdict_text:?}")))?;
    let reason = match m.take(6) {
        None => None,
        Some(v) => {
            let code = as_text(v, "reason")?;
            Some(
                Reason::from_code(&code)
                    .ok_or_else(|| bad("reason", format!("unknown reason {code:?}")))?,
            )
        }
    };
    match (verdict, reason) {
        (Verdict::Valid, Some(_)) => return Err(bad("reason", "a valid check has no reason")),
        (Verdict::Invalid | Verdict::CannotConfirm, None) => {
            return Err(bad("reason", "a check that is not valid needs a reason"))
        }
        (_, Some(r)) if r.verdict() != verdict => {
            return Err(bad(
                "reason",
                format!(
                    "reason {} does not give verdict {}",
                    r.code(),
                    verdict.as_str()
                ),
            ))
        }
        _ => {}
    }
    Ok((verdict, reason))
}

fn read_cert(m: &mut MapReader) -> Result<Option<CertRef>, CborError> {
    Ok(match m.take(8) {
        None => None,
        Some(v) => {
            let [t, n, ver]: [Value; 3] = as_array(v, "cert")?
                .try_into()
                .map_err(|_| bad("cert", "expected [type, number, version]"))?;
            let code = as_text(t, "cert")?;
            Some(CertRef {
                cert_type: CertType::from_code(&code)
                    .ok_or_else(|| bad("cert", format!("unknown certificate type {code:?}")))?,
                number: as_text(n, "cert")?,
                version: u16::try_from(as_u64(ver, "cert")?)
                    .map_err(|_| bad("cert", "version out of range"))?,
            })
        }
    })
}

fn read_lookup(m: &mut MapReader) -> Result<Lookup, CborError> {
    let (verdict, reason) = read_verdict(m)?;
    let cert = read_cert(m)?;
    let by_text = as_text(m.required(16, "by")?, "by")?;
    let by = LookupBy::from_name(&by_text)
        .ok_or_else(|| bad("by", format!("unknown lookup key {by_text:?}")))?;
    Ok(Lookup {
        verdict,
        reason,
        cert,
        by,
    })
}

fn read_check(m: &mut MapReader) -> Result<Check, CborError> {
    let (verdict, reason) = read_verdict(m)?;
    let scanned = m.take(7).map(|v| as_text(v, "scanned")).transpose()?;
    if scanned.as_ref().is_some_and(|s| s.len() > MAX_SCANNED) {
        return Err(bad("scanned", format!("longer than {MAX_SCANNED} bytes")));
    }
    let cert = read_cert(m)?;
    let status_seq = m.take(9).map(|v| as_u64(v, "status_seq")).transpose()?;
    let trust_seq = m.take(10).map(|v| as_u64(v, "trust_seq")).transpose()?;
    let warnings = match m.take(11) {
        None => Vec::new(),
        Some(v) => {
            let items = as_array(v, "warnings")?;
            if items.is_empty() {
                return Err(bad("warnings", "an empty list is written as absent"));
            }
            items
                .into_iter()
                .map(|w| as_text(w, "warnings"))
                .collect::<Result<_, _>>()?
        }
    };
    let data_age = m.take(12).map(|v| as_u64(v, "data_age")).transpose()?;
    Ok(Check {
        verdict,
        reason,
        scanned,
        cert,
        status_seq,
        trust_seq,
        warnings,
        data_age,
    })
}

/// The device side of the chain: the next sequence number and the hash of
/// the last record. Persist both with each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// The next record's sequence number.
    pub next_seq: u64,
    /// The hash of the last record ([`GENESIS`] before the first).
    pub head: [u8; 32],
}

impl Default for ChainHead {
    fn default() -> ChainHead {
        ChainHead {
            next_seq: 0,
            head: GENESIS,
        }
    }
}

/// A record with its bytes and hash, as stored and uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The record.
    pub record: Record,
    /// Its canonical bytes.
    pub bytes: Vec<u8>,
    /// Their SHA-256.
    pub hash: [u8; 32],
}

impl ChainHead {
    /// Appends an event: the record that follows this head, and the new head.
    pub fn append(&self, at: i64, event: Event) -> (Sealed, ChainHead) {
        let record = Record {
            seq: self.next_seq,
            prev: self.head,
            at,
            event,
        };
        let bytes = record.to_cbor();
        let hash = record_hash(&bytes);
        let next = ChainHead {
            next_seq: self.next_seq.saturating_add(1),
            head: hash,
        };
        (
            Sealed {
                record,
                bytes,
                hash,
            },
            next,
        )
    }
}

/// Signs a batch of records' bytes (consecutive, in order) with the device
/// key.
pub fn sign_batch(records: &[&[u8]], device: &SigningKey) -> Vec<u8> {
    let payload = cbor::encode(&Value::Array(
        records.iter().map(|r| cbor::bytes(r)).collect(),
    ));
    cose::sign(payload, device, true)
}

/// The kid a batch claims to be signed by, before anything is verified (to
/// look the device up).
pub fn batch_kid(batch: &[u8]) -> Result<Kid, LogError> {
    Sign1::parse(batch, MAX_BATCH_LEN)?
        .kid()
        .ok_or(LogError::NoKid)
}

/// Opens a signed batch: checks the device signature with `device` (the
/// enrolled key for [`batch_kid`]), decodes every record strictly and checks
/// that they are consecutive and chained among themselves. Whether the first
/// record continues what the server already holds is the caller's check.
pub fn open_batch(batch: &[u8], device: &PublicKey) -> Result<Vec<Sealed>, LogError> {
    let envelope = Sign1::parse(batch, MAX_BATCH_LEN)?;
    match envelope.kid() {
        None => return Err(LogError::NoKid),
        Some(kid) if kid != device.kid() => return Err(LogError::UnknownDevice(kid)),
        Some(_) => {}
    }
    envelope.verify(device)?;
    let items = as_array(
        cbor::decode_strict(envelope.payload(), MAX_BATCH_LEN)?,
        "batch",
    )?;
    if items.is_empty() {
        return Err(LogError::Empty);
    }
    if items.len() > MAX_BATCH_RECORDS {
        return Err(LogError::TooMany {
            limit: MAX_BATCH_RECORDS,
            found: items.len(),
        });
    }
    let mut out: Vec<Sealed> = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let bytes = as_bytes(item, "batch").map_err(|source| LogError::Record { index, source })?;
        let record =
            Record::from_cbor(&bytes).map_err(|source| LogError::Record { index, source })?;
        if let Some(before) = out.last() {
            if record.seq != before.record.seq.saturating_add(1) {
                return Err(LogError::Chain {
                    index,
                    seq: record.seq,
                    detail: format!(
                        "expected seq {} after {}: records are missing or out of order",
                        before.record.seq.saturating_add(1),
                        before.record.seq
                    ),
                });
            }
            if record.prev != before.hash {
                return Err(LogError::Chain {
                    index,
                    seq: record.seq,
                    detail: "prev is not the hash of the record before it: altered or reordered"
                        .into(),
                });
            }
        } else if record.seq == 0 && record.prev != GENESIS {
            return Err(LogError::Chain {
                index,
                seq: 0,
                detail: "the first record's prev must be all zeros".into(),
            });
        }
        let hash = record_hash(&bytes);
        out.push(Sealed {
            record,
            bytes,
            hash,
        });
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::crypto::Alg;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_secret_bytes(Alg::EdDSA, &[seed; 32]).unwrap()
    }

    fn check(verdict: Verdict, reason: Option<Reason>) -> Event {
        Event::Check(Check {
            verdict,
            reason,
            scanned: Some("LC1:ABC".into()),
            cert: Some(CertRef {
                cert_type: CertType::ALL[0],
                number: "210100123456".into(),
                version: 2,
            }),
            status_seq: Some(7),
            trust_seq: Some(3),
            warnings: vec!["clock_behind".into()],
            data_age: Some(120),
        })
    }

    fn chain(n: u64) -> Vec<Sealed> {
        let mut head = ChainHead::default();
        let mut out = Vec::new();
        for i in 0..n {
            let event = if i % 5 == 4 {
                Event::Lookup(Lookup {
                    verdict: Verdict::CannotConfirm,
                    reason: Some(Reason::NoMatch),
                    cert: None,
                    by: LookupBy::Plate,
                })
            } else if i % 3 == 2 {
                Event::Disposition(Disposition {
                    check_seq: i - 1,
                    accepted: false,
                    note: "拒绝".into(),
                })
            } else if i % 2 == 0 {
                check(Verdict::Valid, None)
            } else {
                check(Verdict::Invalid, Some(Reason::Revoked))
            };
            let (sealed, next) = head.append(1_800_000_000 + i as i64, event);
            head = next;
            out.push(sealed);
        }
        out
    }

    fn sign(records: &[Sealed], k: &SigningKey) -> Vec<u8> {
        let refs: Vec<&[u8]> = records.iter().map(|s| s.bytes.as_slice()).collect();
        sign_batch(&refs, k)
    }

    #[test]
    fn records_round_trip_and_chain() {
        let records = chain(10);
        for s in &records {
            assert_eq!(Record::from_cbor(&s.bytes).unwrap(), s.record);
        }
        assert_eq!(records[0].record.prev, GENESIS);
        let k = key(1);
        let opened = open_batch(&sign(&records, &k), &k.public_key()).unwrap();
        assert_eq!(opened, records);
        assert_eq!(batch_kid(&sign(&records, &k)).unwrap(), k.kid());
        // A batch may start anywhere in the chain.
        assert_eq!(
            open_batch(&sign(&records[4..], &k), &k.public_key()).unwrap(),
            records[4..]
        );
    }

    #[test]
    fn lookups_round_trip_and_are_checked() {
        let lookup = Lookup {
            verdict: Verdict::Valid,
            reason: None,
            cert: Some(CertRef {
                cert_type: CertType::YSZ,
                number: "210100165715".into(),
                version: 2,
            }),
            by: LookupBy::Number,
        };
        let (sealed, _) = ChainHead::default().append(5, Event::Lookup(lookup.clone()));
        assert_eq!(
            Record::from_cbor(&sealed.bytes).unwrap().event,
            Event::Lookup(lookup)
        );
        // A lookup whose reason does not give its verdict is refused.
        let bad_lookup = Event::Lookup(Lookup {
            verdict: Verdict::Invalid,
            reason: Some(Reason::NoMatch),
            cert: None,
            by: LookupBy::IdNumber,
        });
        let (sealed, _) = ChainHead::default().append(5, bad_lookup);
        assert!(Record::from_cbor(&sealed.bytes).is_err());
    }

    #[test]
    fn forged_reordered_and_foreign_batches_are_refused() {
        let records = chain(6);
        let k = key(1);
        let other = key(2);
        assert!(matches!(
            open_batch(&sign(&records, &other), &k.public_key()),
            Err(LogError::UnknownDevice(_))
        ));
        let mut swapped = records.clone();
        swapped.swap(2, 3);
        assert!(matches!(
            open_batch(&sign(&swapped, &k), &k.public_key()),
            Err(LogError::Chain { index: 2, .. })
        ));
        let mut gap = records.clone();
        gap.remove(3);
        assert!(matches!(
            open_batch(&sign(&gap, &k), &k.public_key()),
            Err(LogError::Chain { index: 3, .. })
        ));
        // Altering a record's content (even re-signed by the device) breaks
        // the link to the next one.
        let mut altered = records.clone();
        if let Event::Check(c) = &mut altered[1].record.event {
            c.verdict = Verdict::Valid;
            c.reason = None;
        }
        altered[1].bytes = altered[1].record.to_cbor();
        altered[1].hash = record_hash(&altered[1].bytes);
        assert!(matches!(
            open_batch(&sign(&altered, &k), &k.public_key()),
            Err(LogError::Chain { index: 2, .. })
        ));
        // A flipped byte in the envelope's signature.
        let mut bytes = sign(&records, &k);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(matches!(
            open_batch(&bytes, &k.public_key()),
            Err(LogError::Cose(_))
        ));
        assert!(matches!(
            open_batch(&sign(&[], &k), &k.public_key()),
            Err(LogError::Empty)
        ));
    }

    #[test]
    fn inconsistent_records_are_refused() {
        let bad_events = [
            check(Verdict::Valid, Some(Reason::Revoked)),
            check(Verdict::Invalid, None),
            check(Verdict::CannotConfirm, Some(Reason::Revoked)),
            Event::Disposition(Disposition {
                check_seq: 5,
                accepted: true,
                note: String::new(),
            }),
        ];
        for event in bad_events {
            let (sealed, _) = ChainHead {
                next_seq: 5,
                head: [1; 32],
            }
            .append(0, event);
            assert!(
                Record::from_cbor(&sealed.bytes).is_err(),
                "{:?}",
                sealed.record
            );
        }
        let mut m = cbor::decode_strict(&chain(1)[0].bytes, MAX_RECORD_LEN).unwrap();
        if let Value::Map(entries) = &mut m {
            entries.push((cbor::int(99), cbor::uint(1)));
        }
        assert!(Record::from_cbor(&cbor::encode(&m)).is_err());
    }
}
