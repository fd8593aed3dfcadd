//! Cross-province forwarding of check records (互认互通, issue 14 item 4):
//! the batch one province's server sends to the province that issued the
//! certificates its officers checked.
//!
//! A batch is a COSE_Sign1 by the **sending province's root key** (with its
//! `kid`) over this canonical CBOR map:
//!
//! | key | field | |
//! |---|---|---|
//! | 1 | id | bstr 16: the batch id, chosen once by the sender; a re-send carries the same id and bytes |
//! | 2 | from | uint: the sending province's GB/T 2260 code, e.g. 220000 |
//! | 3 | to | uint: the receiving (issuing) province's code, e.g. 210000 |
//! | 4 | created | int: when the sender made the batch, Unix seconds |
//! | 5 | entries | array of entry maps, 1 to [`MAX_ENTRIES`] |
//!
//! An entry (one device check record, as the sender accepted it):
//!
//! | key | field | |
//! |---|---|---|
//! | 1 | device | uint: the device's id at the sender (stable) |
//! | 2 | division | uint: the device's enrollment division at the sender |
//! | 3 | not_before | int: the sender's lower bound of the record's time (the device's enrollment) |
//! | 4 | received | int: when the sender received the device batch carrying it (upper bound) |
//! | 5 | record | bstr: the device's [`crate::checklog`] record, byte for byte |
//!
//! The records keep their scanned QR text, so the receiver re-verifies each
//! certificate itself; the sending province vouches only for what it saw:
//! which of its devices uploaded the record and when.
//!
//! Which province issued a scanned certificate is read from its claims
//! ([`claimed_issuer`]) before any signature is checked: the sender cannot
//! verify another province's signature and only routes by it; the receiver
//! checks the signature against its own keys.

use ciborium::value::Value;

use crate::cbor::{self, as_array, as_bytes, as_i64, as_u64, bad, CborError, MapReader};
use crate::cose::{self, CoseError, Sign1};
use crate::crypto::{Kid, PublicKey, SigningKey};
use crate::presentation::Presentation;
use crate::qrtext::{self, Kind};
use crate::wire;

/// Most entries in one batch.
pub const MAX_ENTRIES: usize = 1_000;
/// Largest signed batch, bytes.
pub const MAX_BATCH_LEN: usize = MAX_ENTRIES * (crate::checklog::MAX_RECORD_LEN + 64) + 1024;

/// A GB/T 2260 province-level code (`xx0000`), e.g. 210000 辽宁, 220000 吉林.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProvinceCode(u32);

impl ProvinceCode {
    /// Liaoning, 210000.
    pub const LIAONING: ProvinceCode = ProvinceCode(210_000);

    /// Checks that `code` is a province-level code (11xxxx–82xxxx, ending in
    /// `0000`).
    pub fn new(code: u32) -> Result<ProvinceCode, CborError> {
        if (110_000..=829_999).contains(&code) && code % 10_000 == 0 {
            Ok(ProvinceCode(code))
        } else {
            Err(bad(
                "province",
                format!("{code} is not a province-level division code (xx0000)"),
            ))
        }
    }

    /// The province a division code (province, city or county) lies in.
    pub fn of_division(code: u32) -> Option<ProvinceCode> {
        ProvinceCode::new(code / 10_000 * 10_000).ok()
    }

    /// The 6-digit code.
    pub fn code(self) -> u32 {
        self.0
    }
}

impl std::fmt::Display for ProvinceCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

/// One forwarded check record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The device's id at the sender.
    pub device: u64,
    /// The device's enrollment division at the sender.
    pub division: u32,
    /// The sender's lower bound of the record's time.
    pub not_before: i64,
    /// When the sender received the record (upper bound).
    pub received: i64,
    /// The device's record bytes.
    pub record: Vec<u8>,
}

/// A batch of forwarded records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Its id (a re-send keeps it).
    pub id: [u8; 16],
    /// The sending province.
    pub from: ProvinceCode,
    /// The receiving province.
    pub to: ProvinceCode,
    /// When it was made, Unix seconds.
    pub created: i64,
    /// The records.
    pub entries: Vec<Entry>,
}

/// Why a forwarded batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardError {
    /// Not a well-formed batch.
    #[error("{0}")]
    Cbor(#[from] CborError),
    /// Not an acceptable COSE_Sign1, or its signature does not verify.
    #[error("batch signature: {0}")]
    Cose(#[from] CoseError),
    /// The envelope names no key.
    #[error("batch signature: the protected header has no kid")]
    NoKid,
    /// Signed by a key that is not one of the sending province's root keys.
    #[error("batch signed by key {0}, which is not a root key of the sending province")]
    WrongKey(Kid),
    /// No entries, or too many.
    #[error("the batch holds {0} entries; 1 to {MAX_ENTRIES} are allowed")]
    Size(usize),
}

impl Batch {
    /// The canonical payload bytes.
    pub fn to_cbor(&self) -> Vec<u8> {
        let entries = self
            .entries
            .iter()
            .map(|e| {
                cbor::map(vec![
                    (cbor::int(1), Some(cbor::uint(e.device))),
                    (cbor::int(2), Some(cbor::uint(u64::from(e.division)))),
                    (cbor::int(3), Some(cbor::int(e.not_before))),
                    (cbor::int(4), Some(cbor::int(e.received))),
                    (cbor::int(5), Some(cbor::bytes(&e.record))),
                ])
            })
            .collect();
        cbor::encode(&cbor::map(vec![
            (cbor::int(1), Some(cbor::bytes(&self.id))),
            (cbor::int(2), Some(cbor::uint(u64::from(self.from.code())))),
            (cbor::int(3), Some(cbor::uint(u64::from(self.to.code())))),
            (cbor::int(4), Some(cbor::int(self.created))),
            (cbor::int(5), Some(Value::Array(entries))),
        ]))
    }

    /// Reads the canonical payload bytes.
    pub fn from_cbor(bytes: &[u8]) -> Result<Batch, ForwardError> {
        let mut m = MapReader::new("forward batch", cbor::decode_strict(bytes, MAX_BATCH_LEN)?)?;
        let id: [u8; 16] = as_bytes(m.required(1, "id")?, "id")?
            .try_into()
            .map_err(|_| bad("id", "expected 16 bytes"))?;
        let from = province(m.required(2, "from")?, "from")?;
        let to = province(m.required(3, "to")?, "to")?;
        let created = as_i64(m.required(4, "created")?, "created")?;
        let items = as_array(m.required(5, "entries")?, "entries")?;
        m.finish()?;
        if items.is_empty() || items.len() > MAX_ENTRIES {
            return Err(ForwardError::Size(items.len()));
        }
        let entries = items
            .into_iter()
            .map(|item| {
                let mut e = MapReader::new("forward entry", item)?;
                let entry = Entry {
                    device: as_u64(e.required(1, "device")?, "device")?,
                    division: u32::try_from(as_u64(e.required(2, "division")?, "division")?)
                        .map_err(|_| bad("division", "out of range"))?,
                    not_before: as_i64(e.required(3, "not_before")?, "not_before")?,
                    received: as_i64(e.required(4, "received")?, "received")?,
                    record: as_bytes(e.required(5, "record")?, "record")?,
                };
                e.finish()?;
                Ok(entry)
            })
            .collect::<Result<Vec<_>, CborError>>()?;
        Ok(Batch {
            id,
            from,
            to,
            created,
            entries,
        })
    }

    /// Signs the batch with the sending province's root key.
    pub fn sign(&self, root: &SigningKey) -> Vec<u8> {
        cose::sign(self.to_cbor(), root, true)
    }
}

fn province(v: Value, field: &'static str) -> Result<ProvinceCode, CborError> {
    let code = u32::try_from(as_u64(v, field)?).map_err(|_| bad(field, "out of range"))?;
    ProvinceCode::new(code).map_err(|_| bad(field, format!("{code} is not a province code")))
}

/// What a signed batch claims before its signature is checked: the key and
/// the payload, to look the sending province up.
#[derive(Debug, Clone)]
pub struct Unverified {
    envelope: Sign1,
    /// The signing key's id.
    pub kid: Kid,
    /// The payload as read (not yet authentic).
    pub batch: Batch,
}

/// Parses a signed batch without checking its signature (step one: the
/// receiver then looks up `batch.from` and calls [`Unverified::verify`]).
pub fn parse(bytes: &[u8]) -> Result<Unverified, ForwardError> {
    let envelope = Sign1::parse(bytes, MAX_BATCH_LEN)?;
    let kid = envelope.kid().ok_or(ForwardError::NoKid)?;
    let batch = Batch::from_cbor(envelope.payload())?;
    Ok(Unverified {
        envelope,
        kid,
        batch,
    })
}

impl Unverified {
    /// Checks the signature against the sending province's root keys
    /// (one of them must have the batch's kid).
    pub fn verify(self, roots: &[PublicKey]) -> Result<Batch, ForwardError> {
        let key = roots
            .iter()
            .find(|k| k.kid() == self.kid)
            .ok_or(ForwardError::WrongKey(self.kid))?;
        self.envelope.verify(key)?;
        Ok(self.batch)
    }
}

/// The issuing division a scanned certificate or presentation text claims
/// (claim 3), read **without** checking any signature: for routing a check
/// to the province that can verify it. `None` when the text is not a
/// readable `LC1:`/`LP1:` code.
pub fn claimed_issuer(text: &str) -> Option<u32> {
    let (kind, envelope) = qrtext::decode(text).ok()?;
    let certificate = match kind {
        Kind::Certificate => envelope,
        Kind::Presentation => Presentation::parse(&envelope).ok()?.certificate().to_vec(),
    };
    let sign1 = Sign1::parse(&certificate, qrtext::MAX_ENVELOPE_LEN).ok()?;
    let Value::Map(entries) = cbor::decode_strict(sign1.payload(), wire::MAX_CLAIMS_LEN).ok()?
    else {
        return None;
    };
    entries.into_iter().find_map(|(k, v)| {
        (k == cbor::int(wire::key::ISSUER_DIVISION))
            .then(|| as_u64(v, "issuer_division").ok())
            .flatten()
            .and_then(|c| u32::try_from(c).ok())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::crypto::Alg;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_secret_bytes(Alg::EdDSA, &[seed; 32]).unwrap()
    }

    fn batch() -> Batch {
        Batch {
            id: [7; 16],
            from: ProvinceCode::new(220_000).unwrap(),
            to: ProvinceCode::new(210_000).unwrap(),
            created: 1_800_000_000,
            entries: vec![Entry {
                device: 3,
                division: 220_100,
                not_before: 1_799_000_000,
                received: 1_800_000_000,
                record: vec![0xa0],
            }],
        }
    }

    #[test]
    fn batches_round_trip_and_verify_with_the_named_root_only() {
        let root = key(1);
        let signed = batch().sign(&root);
        let u = parse(&signed).unwrap();
        assert_eq!(u.kid, root.kid());
        assert_eq!(u.batch, batch());
        assert_eq!(
            parse(&signed)
                .unwrap()
                .verify(&[key(2).public_key(), root.public_key()])
                .unwrap(),
            batch()
        );
        assert!(matches!(
            parse(&signed).unwrap().verify(&[key(2).public_key()]),
            Err(ForwardError::WrongKey(_))
        ));
        // Signed by another key that claims the root's kid: the kid matches,
        // the signature does not.
        let mut forged = batch().sign(&key(2));
        let good = batch().sign(&root);
        let kid_at = good.windows(8).position(|w| w == root.kid().0).unwrap();
        forged[kid_at..kid_at + 8].copy_from_slice(&root.kid().0);
        assert!(matches!(
            parse(&forged).and_then(|u| u.verify(&[root.public_key()])),
            Err(ForwardError::Cose(_))
        ));
    }

    #[test]
    fn malformed_batches_are_refused() {
        let mut empty = batch();
        empty.entries.clear();
        assert!(matches!(
            parse(&empty.sign(&key(1))),
            Err(ForwardError::Size(0))
        ));
        assert!(ProvinceCode::new(220_100).is_err());
        assert!(ProvinceCode::new(0).is_err());
        assert_eq!(ProvinceCode::of_division(210_102).unwrap().code(), 210_000);
        assert!(claimed_issuer("not a code").is_none());
    }
}
