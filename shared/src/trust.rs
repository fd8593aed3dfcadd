//! The signed trust list, the freshness manifest, and the signed envelopes
//! of status snapshots and deltas.
//!
//! - The trust list is signed by the province's root key, which verifiers
//!   pin (the trust anchor). It names the issuer keys with their algorithm,
//!   the period in which each may sign, and its state: active, retired (signs
//!   nothing new; what it signed still verifies) or compromised (nothing it
//!   signed verifies: the issue time in a certificate is chosen by whoever
//!   holds the key, so it cannot prove a signature predates the compromise).
//! - Every signed list carries a [`Manifest`]: when it was issued, after how
//!   long a verifier should warn (`ttl`) and after how long its data can no
//!   longer confirm anything (`max_age`).
//! - Status snapshots and deltas are signed by an issuer key named in the
//!   trust list and carry their manifest beside the status payload.

use ciborium::value::Value;

use crate::cbor::{
    self, as_array, as_bytes, as_i64, as_text, as_u64, bad, int, map, uint, CborError, MapReader,
};
use crate::cose::{self, CoseError, Sign1};
use crate::crypto::{Alg, Kid, PublicKey, SigningKey};
use crate::domain::{DivisionCode, Uscc};
use crate::status::{StatusDelta, StatusError, StatusSnapshot};

/// Largest trust list accepted, in bytes.
pub const MAX_TRUST_LIST_LEN: usize = 64 * 1024;
/// Largest signed status object accepted, in bytes.
pub const MAX_STATUS_LEN: usize = 16 * 1024 * 1024;
/// Largest status list length (entries) a verifier accepts.
pub const MAX_STATUS_ENTRIES: usize = 1 << 26;

/// Freshness of a signed list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Manifest {
    /// When the list was signed, Unix seconds.
    pub issued_at: i64,
    /// Seconds after `issued_at` when verifiers start warning.
    pub ttl: u64,
    /// Seconds after `issued_at` when the data can no longer confirm status.
    pub max_age: u64,
}

impl Manifest {
    fn entries(&self) -> [(Value, Option<Value>); 3] {
        [
            (uint(2), Some(int(self.issued_at))),
            (uint(3), Some(uint(self.ttl))),
            (uint(4), Some(uint(self.max_age))),
        ]
    }

    fn read(m: &mut MapReader) -> Result<Manifest, CborError> {
        let manifest = Manifest {
            issued_at: as_i64(m.required(2, "issued_at")?, "issued_at")?,
            ttl: as_u64(m.required(3, "ttl")?, "ttl")?,
            max_age: as_u64(m.required(4, "max_age")?, "max_age")?,
        };
        if manifest.ttl > manifest.max_age {
            return Err(bad("ttl", "longer than max_age"));
        }
        Ok(manifest)
    }

    /// Age of the data at `now`, in seconds (negative if issued in the
    /// future of `now`).
    pub fn age(&self, now: i64) -> i64 {
        now.saturating_sub(self.issued_at)
    }
}

/// The state of an issuer key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Signing now.
    Active,
    /// No longer signing; what it signed still verifies.
    Retired,
    /// Compromised, reported from the given Unix time; nothing it signed
    /// verifies.
    Compromised {
        /// When the compromise was established.
        since: i64,
    },
}

/// An issuer key in the trust list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerKey {
    /// The public key (its algorithm is the only one it may be used with).
    pub public_key: PublicKey,
    /// Start of the period in which the key may sign, Unix seconds.
    pub not_before: i64,
    /// End of that period; `None` while open.
    pub not_after: Option<i64>,
    /// Its state.
    pub state: KeyState,
}

impl IssuerKey {
    /// The key identifier.
    pub fn kid(&self) -> Kid {
        self.public_key.kid()
    }

    /// Whether a signature made at `issued_at` falls in the key's period.
    pub fn covers(&self, issued_at: i64) -> bool {
        issued_at >= self.not_before && self.not_after.is_none_or(|end| issued_at <= end)
    }
}

/// Why a signed list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListError {
    /// The envelope is not an acceptable COSE_Sign1, or its signature fails.
    #[error("{0}")]
    Cose(#[from] CoseError),
    /// The payload is not valid.
    #[error("{0}")]
    Cbor(#[from] CborError),
    /// The status payload is not valid.
    #[error("{0}")]
    Status(#[from] StatusError),
    /// Signed by a key the verifier does not trust for this.
    #[error("signed by unknown key {0}")]
    UnknownKey(String),
    /// Signed by a compromised key.
    #[error("signed by compromised key {0}")]
    CompromisedKey(Kid),
    /// An older list than the one already held.
    #[error("list sequence {found} is not newer than {held}")]
    Rollback {
        /// Held.
        held: u64,
        /// Offered.
        found: u64,
    },
    /// The payload's kind is not the one expected.
    #[error("expected a {expected}, found a {found}")]
    WrongKind {
        /// Expected.
        expected: &'static str,
        /// Found.
        found: &'static str,
    },
}

/// An issuing authority, published once in the trust list instead of in
/// every QR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// Its administrative division: certificates name this.
    pub division: DivisionCode,
    /// Its unified social credit code: the issuer code of the GB/T 36904
    /// identifier.
    pub uscc: Uscc,
    /// Its name, e.g. 沈阳市交通运输局.
    pub name: String,
}

/// The trust list: issuer keys and issuing authorities, signed by the root
/// key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustList {
    /// Increases with every new trust list.
    pub seq: u64,
    /// Freshness.
    pub manifest: Manifest,
    /// Issuer keys, unique by kid.
    pub keys: Vec<IssuerKey>,
    /// Issuing authorities, unique by division.
    pub authorities: Vec<Authority>,
}

const KIND_TRUST_LIST: u64 = 1;
const KIND_SNAPSHOT: u64 = 2;
const KIND_DELTA: u64 = 3;

fn kind_name(kind: u64) -> &'static str {
    match kind {
        KIND_TRUST_LIST => "trust list",
        KIND_SNAPSHOT => "status snapshot",
        KIND_DELTA => "status delta",
        _ => "unknown object",
    }
}

impl TrustList {
    /// The key with this identifier.
    pub fn key(&self, kid: &Kid) -> Option<&IssuerKey> {
        self.keys.iter().find(|k| &k.kid() == kid)
    }

    /// The authority of this division.
    pub fn authority(&self, division: DivisionCode) -> Option<&Authority> {
        self.authorities.iter().find(|a| a.division == division)
    }

    /// Canonical CBOR payload.
    pub fn to_cbor(&self) -> Vec<u8> {
        let keys = self
            .keys
            .iter()
            .map(|k| {
                let (state, since) = match k.state {
                    KeyState::Active => (0, None),
                    KeyState::Retired => (1, None),
                    KeyState::Compromised { since } => (2, Some(int(since))),
                };
                map(vec![
                    (uint(1), Some(int(k.public_key.alg().cose_id()))),
                    (uint(2), Some(cbor::bytes(&k.public_key.to_bytes()))),
                    (uint(3), Some(int(k.not_before))),
                    (uint(4), k.not_after.map(int)),
                    (uint(5), Some(uint(state))),
                    (uint(6), since),
                ])
            })
            .collect();
        let authorities = self
            .authorities
            .iter()
            .map(|a| {
                map(vec![
                    (uint(1), Some(uint(u64::from(a.division.code())))),
                    (uint(2), Some(cbor::text(a.uscc.as_str()))),
                    (uint(3), Some(cbor::text(&a.name))),
                ])
            })
            .collect();
        let mut entries = vec![
            (uint(0), Some(uint(KIND_TRUST_LIST))),
            (uint(1), Some(uint(self.seq))),
            (uint(5), Some(Value::Array(keys))),
            (uint(6), Some(Value::Array(authorities))),
        ];
        entries.extend(self.manifest.entries());
        cbor::encode(&map(entries))
    }

    /// Strict decoding of the payload.
    pub fn from_cbor(bytes: &[u8]) -> Result<TrustList, ListError> {
        let value = cbor::decode_strict(bytes, MAX_TRUST_LIST_LEN)?;
        let mut m = MapReader::new("trust list", value)?;
        expect_kind(&mut m, KIND_TRUST_LIST)?;
        let seq = as_u64(m.required(1, "seq")?, "seq")?;
        let manifest = Manifest::read(&mut m)?;
        let mut keys: Vec<IssuerKey> = Vec::new();
        for item in as_array(m.required(5, "keys")?, "keys")? {
            let mut k = MapReader::new("issuer key", item)?;
            let alg_id = as_i64(k.required(1, "alg")?, "alg")?;
            let alg = Alg::from_cose_id(alg_id)
                .ok_or_else(|| bad("alg", format!("algorithm {alg_id} not supported")))?;
            let public_key = PublicKey::from_bytes(alg, &as_bytes(k.required(2, "key")?, "key")?)
                .map_err(|e| bad("key", e.to_string()))?;
            let not_before = as_i64(k.required(3, "not_before")?, "not_before")?;
            let not_after = k.take(4).map(|v| as_i64(v, "not_after")).transpose()?;
            let state = match as_u64(k.required(5, "state")?, "state")? {
                0 => KeyState::Active,
                1 => KeyState::Retired,
                2 => KeyState::Compromised {
                    since: as_i64(k.required(6, "compromised_since")?, "compromised_since")?,
                },
                other => return Err(bad("state", format!("unknown key state {other}")).into()),
            };
            k.finish()?;
            let key = IssuerKey {
                public_key,
                not_before,
                not_after,
                state,
            };
            if keys.iter().any(|other| other.kid() == key.kid()) {
                return Err(bad("keys", format!("key {} listed twice", key.kid())).into());
            }
            keys.push(key);
        }
        let mut authorities: Vec<Authority> = Vec::new();
        for item in as_array(m.required(6, "authorities")?, "authorities")? {
            let mut a = MapReader::new("authority", item)?;
            let division = u32::try_from(as_u64(a.required(1, "division")?, "division")?)
                .map_err(|_| bad("division", "out of range"))
                .and_then(|d| {
                    DivisionCode::from_u32_national(d).map_err(|e| bad("division", e.to_string()))
                })?;
            let uscc = Uscc::parse(&as_text(a.required(2, "uscc")?, "uscc")?)
                .map_err(|e| bad("uscc", e.to_string()))?;
            let name = as_text(a.required(3, "name")?, "name")?;
            a.finish()?;
            if authorities.iter().any(|other| other.division == division) {
                return Err(bad(
                    "authorities",
                    format!("division {} listed twice", division.code()),
                )
                .into());
            }
            authorities.push(Authority {
                division,
                uscc,
                name,
            });
        }
        m.finish()?;
        Ok(TrustList {
            seq,
            manifest,
            keys,
            authorities,
        })
    }

    /// Signs the trust list with the root key.
    pub fn sign(&self, root: &SigningKey) -> Vec<u8> {
        cose::sign(self.to_cbor(), root, true)
    }

    /// Verifies a signed trust list against the pinned root key.
    pub fn verify(bytes: &[u8], root: &PublicKey) -> Result<TrustList, ListError> {
        let envelope = Sign1::parse(bytes, MAX_TRUST_LIST_LEN)?;
        if envelope.kid() != Some(root.kid()) {
            return Err(ListError::UnknownKey(
                envelope
                    .kid()
                    .map_or_else(|| "(none)".to_string(), |k| k.to_hex()),
            ));
        }
        envelope.verify(root)?;
        TrustList::from_cbor(envelope.payload())
    }

    /// Verifies a newer trust list: like [`TrustList::verify`], and refuses
    /// one whose sequence is not greater than this one's.
    pub fn verify_update(&self, bytes: &[u8], root: &PublicKey) -> Result<TrustList, ListError> {
        let next = TrustList::verify(bytes, root)?;
        if next.seq <= self.seq {
            return Err(ListError::Rollback {
                held: self.seq,
                found: next.seq,
            });
        }
        Ok(next)
    }
}

fn expect_kind(m: &mut MapReader, expected: u64) -> Result<(), ListError> {
    let kind = as_u64(m.required(0, "kind")?, "kind")?;
    if kind != expected {
        return Err(ListError::WrongKind {
            expected: kind_name(expected),
            found: kind_name(kind),
        });
    }
    Ok(())
}

/// A status snapshot or delta with its manifest, as signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusUpdate {
    /// A whole list.
    Snapshot(StatusSnapshot),
    /// Changes since a sequence.
    Delta(StatusDelta),
}

/// A verified signed status object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedStatus {
    /// Freshness.
    pub manifest: Manifest,
    /// The content.
    pub update: StatusUpdate,
}

impl SignedStatus {
    /// Signs a status snapshot or delta with an issuer key; fails only for
    /// a delta whose changes are not sorted and unique.
    pub fn sign(
        manifest: Manifest,
        update: &StatusUpdate,
        key: &SigningKey,
    ) -> Result<Vec<u8>, StatusError> {
        let (kind, body) = match update {
            StatusUpdate::Snapshot(s) => (KIND_SNAPSHOT, s.to_cbor()),
            StatusUpdate::Delta(d) => (KIND_DELTA, d.to_cbor()?),
        };
        let mut entries = vec![
            (uint(0), Some(uint(kind))),
            (uint(1), Some(cbor::bytes(&body))),
        ];
        entries.extend(manifest.entries());
        Ok(cose::sign(cbor::encode(&map(entries)), key, true))
    }

    /// Verifies a signed status object with the trust list: the signer must
    /// be a listed key that is not compromised.
    pub fn verify(bytes: &[u8], trust: &TrustList) -> Result<SignedStatus, ListError> {
        let envelope = Sign1::parse(bytes, MAX_STATUS_LEN)?;
        let kid = envelope
            .kid()
            .ok_or_else(|| ListError::UnknownKey("(none)".to_string()))?;
        let key = trust
            .key(&kid)
            .ok_or_else(|| ListError::UnknownKey(kid.to_hex()))?;
        if let KeyState::Compromised { .. } = key.state {
            return Err(ListError::CompromisedKey(kid));
        }
        envelope.verify(&key.public_key)?;
        let value = cbor::decode_strict(envelope.payload(), MAX_STATUS_LEN)?;
        let mut m = MapReader::new("status", value)?;
        let kind = as_u64(m.required(0, "kind")?, "kind")?;
        let body = as_bytes(m.required(1, "body")?, "body")?;
        let manifest = Manifest::read(&mut m)?;
        m.finish()?;
        let update = match kind {
            KIND_SNAPSHOT => {
                StatusUpdate::Snapshot(StatusSnapshot::from_cbor(&body, MAX_STATUS_ENTRIES)?)
            }
            KIND_DELTA => StatusUpdate::Delta(StatusDelta::from_cbor(&body, MAX_STATUS_ENTRIES)?),
            other => {
                return Err(ListError::WrongKind {
                    expected: "status snapshot or delta",
                    found: kind_name(other),
                })
            }
        };
        if !key.covers(manifest.issued_at) {
            return Err(ListError::UnknownKey(format!(
                "{} (outside its signing period)",
                kid.to_hex()
            )));
        }
        Ok(SignedStatus { manifest, update })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn root() -> SigningKey {
        SigningKey::from_secret_bytes(Alg::EdDSA, &[1u8; 32]).unwrap()
    }

    fn sample(seq: u64) -> TrustList {
        let issuer = SigningKey::from_secret_bytes(Alg::Sm2Sm3, &[2u8; 32]).unwrap();
        TrustList {
            seq,
            manifest: Manifest {
                issued_at: 1_700_000_000,
                ttl: 86_400,
                max_age: 7 * 86_400,
            },
            keys: vec![
                IssuerKey {
                    public_key: issuer.public_key(),
                    not_before: 1_600_000_000,
                    not_after: None,
                    state: KeyState::Active,
                },
                IssuerKey {
                    public_key: SigningKey::from_secret_bytes(Alg::EdDSA, &[3u8; 32])
                        .unwrap()
                        .public_key(),
                    not_before: 1_500_000_000,
                    not_after: Some(1_600_000_000),
                    state: KeyState::Compromised {
                        since: 1_650_000_000,
                    },
                },
            ],
            authorities: vec![Authority {
                division: DivisionCode::from_u32(210100).unwrap(),
                uscc: Uscc::parse("112101000011843370").unwrap(),
                name: "沈阳市交通运输局".to_string(),
            }],
        }
    }

    #[test]
    fn trust_list_round_trip_and_rollback() {
        let list = sample(5);
        let signed = list.sign(&root());
        let back = TrustList::verify(&signed, &root().public_key()).unwrap();
        assert_eq!(back, list);
        let other_root = SigningKey::from_secret_bytes(Alg::EdDSA, &[9u8; 32]).unwrap();
        assert!(matches!(
            TrustList::verify(&signed, &other_root.public_key()),
            Err(ListError::UnknownKey(_))
        ));
        assert!(matches!(
            back.verify_update(&sample(5).sign(&root()), &root().public_key()),
            Err(ListError::Rollback { .. })
        ));
        assert!(back
            .verify_update(&sample(6).sign(&root()), &root().public_key())
            .is_ok());
    }

    #[test]
    fn trust_list_refuses_duplicate_keys() {
        let mut list = sample(1);
        list.keys.push(list.keys[0].clone());
        assert!(TrustList::from_cbor(&list.to_cbor()).is_err());
    }
}
