//! The national issuer list (全国签发方列表) for mutual recognition
//! (互认互通): which provinces issue road-transport e-certificates, with
//! their provincial root keys, the certificate types each may issue, when,
//! and where each publishes its trust and status lists.
//!
//! Shaped after ISO/IEC 18013-5's VICAL (a signed list of issuing
//! authorities' certificates with a version, a date and a next-update date)
//! and the EU Digital COVID Certificate trust list (one entry per country
//! with its signing keys): a COSE_Sign1 of this project's profile, signed by
//! the national root key, which every verifier pins beside its own
//! province's root. A verifier holding it trusts another province's trust
//! list only when that list is signed by the root key the national list
//! names for that province; sequence numbers only go up.

use ciborium::value::Value;

use crate::cbor::{self, as_array, as_bytes, as_i64, as_text, as_u64, bad, int, map, uint};
use crate::cbor::{CborError, MapReader};
use crate::cose::{self, CoseError, Sign1};
use crate::crypto::{Alg, Kid, PublicKey, SigningKey};
use crate::domain::{province_name_zh, CertType, DivisionCode};
use crate::trust::{ListError, TrustList, MAX_TRUST_LIST_LEN};

/// Largest national list accepted, in bytes.
pub const MAX_NATIONAL_LIST_LEN: usize = 64 * 1024;
/// Longest URL accepted in an entry.
pub const MAX_URL_LEN: usize = 512;
/// The payload's kind (trust list 1, status snapshot 2, delta 3).
pub const KIND_NATIONAL_LIST: u64 = 4;

/// Why a national list, or a province's list checked against it, was
/// refused. Each refusal has its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NationalError {
    /// Not an acceptable COSE_Sign1 of this profile.
    #[error("national list envelope: {0}")]
    Envelope(CoseError),
    /// Signed by another key than the pinned national root, or the
    /// signature does not verify: a forged or altered list.
    #[error("forged national list: {0}")]
    Forged(String),
    /// The payload is not a valid national list.
    #[error("national list payload: {0}")]
    Malformed(#[from] CborError),
    /// An older (or the same) sequence than one already accepted.
    #[error("national list sequence {found} is not newer than {held}: rolled back")]
    Rollback {
        /// Held.
        held: u64,
        /// Offered.
        found: u64,
    },
    /// A province the national list does not name.
    #[error("province {0} is not in the national list")]
    UnknownProvince(u32),
    /// A province's trust list signed by a key the national list does not
    /// name for that province.
    #[error("trust list of province {province} signed by {kid}, not the root the national list names ({named})")]
    UnnamedRoot {
        /// The province.
        province: u32,
        /// The signer found.
        kid: String,
        /// The root the national list names.
        named: Kid,
    },
    /// The province's trust list itself is not acceptable.
    #[error("trust list of province {province}: {error}")]
    ProvinceList {
        /// The province.
        province: u32,
        /// Why.
        error: ListError,
    },
}

/// One provincial issuer of the national list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Province {
    /// The province-level division code (GB/T 2260), e.g. 220000.
    pub division: DivisionCode,
    /// Its name, e.g. 吉林省交通运输厅.
    pub name: String,
    /// The provincial root key: it signs the province's trust list.
    pub root: PublicKey,
    /// The certificate types it may issue (never empty).
    pub cert_types: Vec<CertType>,
    /// Start of its participation, Unix seconds: certificates issued earlier
    /// are not recognised.
    pub not_before: i64,
    /// End of its participation; `None` while open.
    pub not_after: Option<i64>,
    /// Where its signed trust list is published (HTTPS URL).
    pub trust_list_url: String,
    /// Where its signed status snapshot is published (HTTPS URL).
    pub status_list_url: String,
}

impl Province {
    /// The province's GB/T 2260 name, e.g. 吉林省.
    pub fn province_name(&self) -> &'static str {
        province_name_zh(self.division.code()).unwrap_or("外省")
    }

    /// Whether the province may issue this type.
    pub fn allows(&self, t: CertType) -> bool {
        self.cert_types.contains(&t)
    }

    /// Whether a certificate issued at `issued_at` falls in the province's
    /// participation period.
    pub fn covers(&self, issued_at: i64) -> bool {
        issued_at >= self.not_before && self.not_after.is_none_or(|end| issued_at <= end)
    }

    /// Verifies the province's signed trust list with the root key named
    /// here: a list signed by any other key is refused
    /// ([`NationalError::UnnamedRoot`]).
    pub fn verify_trust_list(&self, bytes: &[u8]) -> Result<TrustList, NationalError> {
        let province = self.division.code();
        let envelope =
            Sign1::parse(bytes, MAX_TRUST_LIST_LEN).map_err(|e| NationalError::ProvinceList {
                province,
                error: ListError::Cose(e),
            })?;
        if envelope.kid() != Some(self.root.kid()) {
            return Err(NationalError::UnnamedRoot {
                province,
                kid: envelope
                    .kid()
                    .map_or_else(|| "(none)".to_string(), |k| k.to_hex()),
                named: self.root.kid(),
            });
        }
        TrustList::verify(bytes, &self.root)
            .map_err(|error| NationalError::ProvinceList { province, error })
    }
}

/// The national issuer list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NationalList {
    /// Increases with every new list; verifiers refuse a lower one.
    pub seq: u64,
    /// When it was signed, Unix seconds.
    pub issued_at: i64,
    /// When the next list is due, Unix seconds (after it verifiers warn).
    pub next_update: i64,
    /// Who publishes it, e.g. 交通运输部.
    pub provider: String,
    /// The provincial issuers, unique by division, in division order.
    pub provinces: Vec<Province>,
}

impl NationalList {
    /// The entry of a province-level code (e.g. 220000).
    pub fn province(&self, province: u32) -> Option<&Province> {
        self.provinces
            .iter()
            .find(|p| p.division.code() == province)
    }

    /// Canonical CBOR payload.
    pub fn to_cbor(&self) -> Vec<u8> {
        let provinces = self
            .provinces
            .iter()
            .map(|p| {
                let root = map(vec![
                    (uint(1), Some(int(p.root.alg().cose_id()))),
                    (uint(2), Some(cbor::bytes(&p.root.to_bytes()))),
                    (uint(3), Some(cbor::bytes(&p.root.kid().0))),
                ]);
                map(vec![
                    (uint(1), Some(uint(u64::from(p.division.code())))),
                    (uint(2), Some(cbor::text(&p.name))),
                    (uint(3), Some(root)),
                    (
                        uint(4),
                        Some(Value::Array(
                            p.cert_types
                                .iter()
                                .map(|t| uint(u64::from(t.wire_code())))
                                .collect(),
                        )),
                    ),
                    (uint(5), Some(int(p.not_before))),
                    (uint(6), p.not_after.map(int)),
                    (uint(7), Some(cbor::text(&p.trust_list_url))),
                    (uint(8), Some(cbor::text(&p.status_list_url))),
                ])
            })
            .collect();
        cbor::encode(&map(vec![
            (uint(0), Some(uint(KIND_NATIONAL_LIST))),
            (uint(1), Some(uint(self.seq))),
            (uint(2), Some(int(self.issued_at))),
            (uint(3), Some(int(self.next_update))),
            (uint(4), Some(cbor::text(&self.provider))),
            (uint(5), Some(Value::Array(provinces))),
        ]))
    }

    /// Strict decoding of the payload.
    pub fn from_cbor(bytes: &[u8]) -> Result<NationalList, CborError> {
        let value = cbor::decode_strict(bytes, MAX_NATIONAL_LIST_LEN)?;
        let mut m = MapReader::new("national list", value)?;
        let kind = as_u64(m.required(0, "kind")?, "kind")?;
        if kind != KIND_NATIONAL_LIST {
            return Err(bad("kind", format!("{kind} is not a national list (4)")));
        }
        let seq = as_u64(m.required(1, "seq")?, "seq")?;
        let issued_at = as_i64(m.required(2, "issued_at")?, "issued_at")?;
        let next_update = as_i64(m.required(3, "next_update")?, "next_update")?;
        if next_update <= issued_at {
            return Err(bad("next_update", "not after issued_at"));
        }
        let provider = as_text(m.required(4, "provider")?, "provider")?;
        let mut provinces: Vec<Province> = Vec::new();
        for item in as_array(m.required(5, "provinces")?, "provinces")? {
            let p = read_province(item)?;
            if let Some(last) = provinces.last() {
                if last.division >= p.division {
                    return Err(bad(
                        "provinces",
                        format!("not in ascending division order at {}", p.division),
                    ));
                }
            }
            provinces.push(p);
        }
        m.finish()?;
        Ok(NationalList {
            seq,
            issued_at,
            next_update,
            provider,
            provinces,
        })
    }

    /// Signs the list with the national root key (its kid in the protected
    /// header).
    pub fn sign(&self, root: &SigningKey) -> Vec<u8> {
        cose::sign(self.to_cbor(), root, true)
    }

    /// Verifies a signed national list against the pinned national root.
    pub fn verify(bytes: &[u8], root: &PublicKey) -> Result<NationalList, NationalError> {
        let envelope =
            Sign1::parse(bytes, MAX_NATIONAL_LIST_LEN).map_err(NationalError::Envelope)?;
        if envelope.kid() != Some(root.kid()) {
            return Err(NationalError::Forged(format!(
                "signed by {}, not the national root {}",
                envelope
                    .kid()
                    .map_or_else(|| "(no kid)".to_string(), |k| k.to_hex()),
                root.kid()
            )));
        }
        envelope
            .verify(root)
            .map_err(|e| NationalError::Forged(e.to_string()))?;
        Ok(NationalList::from_cbor(envelope.payload())?)
    }

    /// Verifies an offered list against the one held: like
    /// [`NationalList::verify`]; the same sequence is accepted only when the
    /// content is the same, a lower one never.
    pub fn verify_update(
        &self,
        bytes: &[u8],
        root: &PublicKey,
    ) -> Result<NationalList, NationalError> {
        let next = NationalList::verify(bytes, root)?;
        if next.seq < self.seq || (next.seq == self.seq && next != *self) {
            return Err(NationalError::Rollback {
                held: self.seq,
                found: next.seq,
            });
        }
        Ok(next)
    }
}

fn read_province(item: Value) -> Result<Province, CborError> {
    let mut p = MapReader::new("province", item)?;
    let code = u32::try_from(as_u64(p.required(1, "division")?, "division")?)
        .map_err(|_| bad("division", "out of range"))?;
    let division =
        DivisionCode::from_u32_national(code).map_err(|e| bad("division", e.to_string()))?;
    if !division.is_province() {
        return Err(bad(
            "division",
            format!("{code} is not a province-level code"),
        ));
    }
    let name = as_text(p.required(2, "name")?, "name")?;
    let mut r = MapReader::new("root", p.required(3, "root")?)?;
    let alg_id = as_i64(r.required(1, "alg")?, "alg")?;
    let alg = Alg::from_cose_id(alg_id)
        .ok_or_else(|| bad("alg", format!("algorithm {alg_id} not supported")))?;
    let root = PublicKey::from_bytes(alg, &as_bytes(r.required(2, "key")?, "key")?)
        .map_err(|e| bad("key", e.to_string()))?;
    let kid = Kid::from_slice(&as_bytes(r.required(3, "kid")?, "kid")?)
        .ok_or_else(|| bad("kid", "not 8 bytes"))?;
    if kid != root.kid() {
        return Err(bad(
            "kid",
            format!("{kid} is not the key's kid {}", root.kid()),
        ));
    }
    r.finish()?;
    let mut cert_types: Vec<CertType> = Vec::new();
    for t in as_array(p.required(4, "cert_types")?, "cert_types")? {
        let code = as_u64(t, "cert_types")?;
        let t = CertType::from_wire_code(code)
            .ok_or_else(|| bad("cert_types", format!("unknown type {code}")))?;
        if cert_types.contains(&t) {
            return Err(bad("cert_types", format!("{} listed twice", t.code())));
        }
        cert_types.push(t);
    }
    if cert_types.is_empty() {
        return Err(bad("cert_types", "empty"));
    }
    let not_before = as_i64(p.required(5, "not_before")?, "not_before")?;
    let not_after = p.take(6).map(|v| as_i64(v, "not_after")).transpose()?;
    if not_after.is_some_and(|end| end < not_before) {
        return Err(bad("not_after", "before not_before"));
    }
    let trust_list_url = url(p.required(7, "trust_list_url")?, "trust_list_url")?;
    let status_list_url = url(p.required(8, "status_list_url")?, "status_list_url")?;
    p.finish()?;
    Ok(Province {
        division,
        name,
        root,
        cert_types,
        not_before,
        not_after,
        trust_list_url,
        status_list_url,
    })
}

fn url(v: Value, field: &'static str) -> Result<String, CborError> {
    let s = as_text(v, field)?;
    if s.len() > MAX_URL_LEN || !(s.starts_with("https://") || s.starts_with("http://")) {
        return Err(bad(field, "not an http(s) URL of at most 512 bytes"));
    }
    Ok(s)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::trust::Manifest;

    fn key(alg: Alg, seed: u8) -> SigningKey {
        SigningKey::from_secret_bytes(alg, &[seed; 32]).unwrap()
    }

    fn province(code: u32, root: &SigningKey) -> Province {
        Province {
            division: DivisionCode::from_u32_national(code).unwrap(),
            name: format!("{}交通运输厅", province_name_zh(code).unwrap()),
            root: root.public_key(),
            cert_types: vec![CertType::YSZ, CertType::QC],
            not_before: 1_700_000_000,
            not_after: None,
            trust_list_url: format!("https://lists.example/{code}/trust-list"),
            status_list_url: format!("https://lists.example/{code}/status-list"),
        }
    }

    fn sample(seq: u64) -> NationalList {
        NationalList {
            seq,
            issued_at: 1_780_000_000,
            next_update: 1_780_000_000 + 7 * 86_400,
            provider: "交通运输部".to_string(),
            provinces: vec![
                province(210000, &key(Alg::EdDSA, 21)),
                province(220000, &key(Alg::Sm2Sm3, 22)),
            ],
        }
    }

    #[test]
    fn round_trip_both_algorithms_and_refusals() {
        for alg in [Alg::EdDSA, Alg::Sm2Sm3] {
            let root = key(alg, 1);
            let signed = sample(3).sign(&root);
            let list = NationalList::verify(&signed, &root.public_key()).unwrap();
            assert_eq!(list, sample(3));
            // Another root: forged.
            assert!(matches!(
                NationalList::verify(&signed, &key(alg, 2).public_key()),
                Err(NationalError::Forged(_))
            ));
            // Same kid, altered byte: forged.
            let mut altered = signed.clone();
            let at = altered.windows(6).position(|w| w == b"lists.").unwrap();
            altered[at] ^= 1;
            assert!(matches!(
                NationalList::verify(&altered, &root.public_key()),
                Err(NationalError::Forged(_))
            ));
            // Rollback and replay of another list under the same sequence.
            assert!(matches!(
                list.verify_update(&sample(2).sign(&root), &root.public_key()),
                Err(NationalError::Rollback { held: 3, found: 2 })
            ));
            let mut other = sample(3);
            other.provinces.pop();
            assert!(matches!(
                list.verify_update(&other.sign(&root), &root.public_key()),
                Err(NationalError::Rollback { .. })
            ));
            assert!(list.verify_update(&signed, &root.public_key()).is_ok());
            assert!(list
                .verify_update(&sample(4).sign(&root), &root.public_key())
                .is_ok());
        }
    }

    #[test]
    fn payload_rules() {
        let mut unordered = sample(1);
        unordered.provinces.reverse();
        assert!(NationalList::from_cbor(&unordered.to_cbor()).is_err());
        let mut city = sample(1);
        city.provinces[1].division = DivisionCode::from_u32_national(220100).unwrap();
        assert!(NationalList::from_cbor(&city.to_cbor()).is_err());
        let mut no_types = sample(1);
        no_types.provinces[0].cert_types.clear();
        assert!(NationalList::from_cbor(&no_types.to_cbor()).is_err());
        let mut bad_url = sample(1);
        bad_url.provinces[0].trust_list_url = "file:///etc/passwd".into();
        assert!(NationalList::from_cbor(&bad_url.to_cbor()).is_err());
        let mut stale = sample(1);
        stale.next_update = stale.issued_at;
        assert!(NationalList::from_cbor(&stale.to_cbor()).is_err());
    }

    #[test]
    fn provincial_trust_list_must_be_signed_by_the_named_root() {
        let jilin_root = key(Alg::Sm2Sm3, 22);
        let list = sample(1);
        let jilin = list.province(220000).unwrap();
        let trust = TrustList {
            seq: 1,
            manifest: Manifest {
                issued_at: 1_780_000_000,
                ttl: 86_400,
                max_age: 7 * 86_400,
            },
            keys: Vec::new(),
            authorities: Vec::new(),
        };
        assert_eq!(
            jilin.verify_trust_list(&trust.sign(&jilin_root)).unwrap(),
            trust
        );
        // Signed by Liaoning's root: not the key named for Jilin.
        assert!(matches!(
            jilin.verify_trust_list(&trust.sign(&key(Alg::EdDSA, 21))),
            Err(NationalError::UnnamedRoot {
                province: 220000,
                ..
            })
        ));
        assert!(list.province(230000).is_none());
    }
}
