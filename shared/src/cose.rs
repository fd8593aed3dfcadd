//! COSE_Sign1 (RFC 9052) envelopes: signing and strict parsing.
//!
//! The profile used for every signed object of this project:
//! - tagged (CBOR tag 18), the whole message in deterministic encoding;
//! - the protected header holds `alg` (label 1) and, for issuer-signed
//!   objects, `kid` (label 4, 8 bytes); nothing else, and no `crit`;
//! - the unprotected header is empty (so `alg` and `kid` cannot be swapped
//!   without breaking the signature);
//! - the payload is attached; external AAD is empty.
//!
//! Parsing keeps the protected header's bytes as received, and the signature
//! is checked over the `Sig_structure` built from those bytes.

use coset::{
    iana, AsCborValue, CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable,
};

use crate::cbor::{self, CborError};
use crate::crypto::{Alg, Kid, PublicKey, SignatureError, SigningKey};

/// Why a COSE_Sign1 was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoseError {
    /// The bytes are not strict CBOR.
    #[error("{0}")]
    Cbor(#[from] CborError),
    /// Well-formed CBOR but not a tagged COSE_Sign1.
    #[error("not a COSE_Sign1 message: {0}")]
    NotSign1(String),
    /// A header this profile does not allow.
    #[error("header not allowed: {0}")]
    Header(&'static str),
    /// A `crit` header was present; this profile understands no critical
    /// extension.
    #[error("unknown critical header")]
    UnknownCritical,
    /// No `alg` in the protected header.
    #[error("protected header has no alg")]
    MissingAlg,
    /// An `alg` this project does not implement.
    #[error("algorithm {0} not supported")]
    UnsupportedAlg(i64),
    /// A `kid` of the wrong length or none where one is required.
    #[error("protected header kid missing or not 8 bytes")]
    BadKid,
    /// A detached payload.
    #[error("payload is missing (detached payloads are not used)")]
    MissingPayload,
    /// The header's algorithm differs from the key's.
    #[error("header alg {header} does not match the key's algorithm {key}")]
    AlgMismatch {
        /// From the header.
        header: Alg,
        /// The key's.
        key: Alg,
    },
    /// The signature did not verify.
    #[error("{0}")]
    Signature(#[from] SignatureError),
}

/// Signs `payload` as a tagged COSE_Sign1 with `alg` and, when `with_kid`,
/// the key's `kid` in the protected header.
pub fn sign(payload: Vec<u8>, key: &SigningKey, with_kid: bool) -> Vec<u8> {
    let mut header = HeaderBuilder::new();
    header = match key.alg() {
        Alg::EdDSA => header.algorithm(iana::Algorithm::EdDSA),
        Alg::Sm2Sm3 => header,
    };
    if with_kid {
        header = header.key_id(key.kid().0.to_vec());
    }
    let mut protected = header.build();
    if key.alg() == Alg::Sm2Sm3 {
        protected.alg = Some(coset::Algorithm::PrivateUse(key.alg().cose_id()));
    }
    let msg = CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(b"", |tbs| key.sign(tbs))
        .build();
    // Serialising a message we just built cannot fail.
    msg.to_tagged_vec().unwrap_or_default()
}

/// A parsed COSE_Sign1 whose signature has not been checked yet.
#[derive(Debug, Clone)]
pub struct Sign1 {
    alg: Alg,
    kid: Option<Kid>,
    payload: Vec<u8>,
    signature: Vec<u8>,
    tbs: Vec<u8>,
}

impl Sign1 {
    /// Parses and checks the profile. `max_len` bounds the whole message.
    pub fn parse(bytes: &[u8], max_len: usize) -> Result<Sign1, CoseError> {
        // Whole-message strictness first: size, trailing bytes, duplicate
        // keys, deterministic encoding.
        let value = cbor::decode_strict(bytes, max_len)?;
        let ciborium::value::Value::Tag(18, inner) = value else {
            return Err(CoseError::NotSign1(
                "not tagged as COSE_Sign1 (tag 18)".to_string(),
            ));
        };
        // The protected header's bytes are decoded once, strictly, here;
        // coset is handed an empty bstr in their place (which it reads as
        // an empty header without decoding) and the header is put back
        // afterwards. Left to coset, they were decoded a second time, with
        // a 4 KiB scratch buffer zeroed per message.
        let mut inner = *inner;
        let mut protected = None;
        if let ciborium::value::Value::Array(items) = &mut inner {
            if let (4, Some(ciborium::value::Value::Bytes(data))) = (items.len(), items.first_mut())
            {
                let data = std::mem::take(data);
                let header = if data.is_empty() {
                    coset::Header::default()
                } else {
                    coset::Header::from_cbor_value(cbor::decode_strict(&data, max_len)?)
                        .map_err(|e| CoseError::NotSign1(format!("{e:?}")))?
                };
                protected = Some(coset::ProtectedHeader {
                    original_data: Some(data),
                    header,
                });
            }
        }
        let mut msg =
            CoseSign1::from_cbor_value(inner).map_err(|e| CoseError::NotSign1(format!("{e:?}")))?;
        msg.protected = protected.ok_or(CoseError::Header("protected header bytes missing"))?;
        if !msg.unprotected.is_empty() {
            return Err(CoseError::Header("unprotected header must be empty"));
        }
        let h = &msg.protected.header;
        if !h.crit.is_empty() {
            return Err(CoseError::UnknownCritical);
        }
        if h.content_type.is_some()
            || !h.iv.is_empty()
            || !h.partial_iv.is_empty()
            || !h.counter_signatures.is_empty()
            || !h.rest.is_empty()
        {
            return Err(CoseError::Header("only alg and kid are allowed"));
        }
        let alg_id = match &h.alg {
            None => return Err(CoseError::MissingAlg),
            Some(coset::Algorithm::Assigned(a)) => *a as i64,
            Some(coset::Algorithm::PrivateUse(p)) => *p,
            Some(coset::Algorithm::Text(_)) => return Err(CoseError::UnsupportedAlg(0)),
        };
        let alg = Alg::from_cose_id(alg_id).ok_or(CoseError::UnsupportedAlg(alg_id))?;
        let kid = if h.key_id.is_empty() {
            None
        } else {
            Some(Kid::from_slice(&h.key_id).ok_or(CoseError::BadKid)?)
        };
        let tbs = msg.tbs_data(b"");
        let payload = msg.payload.ok_or(CoseError::MissingPayload)?;
        Ok(Sign1 {
            alg,
            kid,
            payload,
            signature: msg.signature,
            tbs,
        })
    }

    /// The algorithm named in the protected header.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The key identifier in the protected header, if any.
    pub fn kid(&self) -> Option<Kid> {
        self.kid
    }

    /// The payload bytes (unverified until [`Sign1::verify`] succeeds).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The bytes that were signed (the `Sig_structure`).
    pub fn to_be_signed(&self) -> &[u8] {
        &self.tbs
    }

    /// The raw signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Checks the signature with `key`; the key's algorithm must be the one
    /// in the header.
    pub fn verify(&self, key: &PublicKey) -> Result<(), CoseError> {
        if key.alg() != self.alg {
            return Err(CoseError::AlgMismatch {
                header: self.alg,
                key: key.alg(),
            });
        }
        key.verify(&self.tbs, &self.signature)?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use coset::CborSerializable;

    fn key(alg: Alg) -> SigningKey {
        SigningKey::from_secret_bytes(alg, &[9u8; 32]).unwrap()
    }

    #[test]
    fn round_trip_both_algorithms() {
        for alg in [Alg::EdDSA, Alg::Sm2Sm3] {
            let k = key(alg);
            let msg = sign(b"payload".to_vec(), &k, true);
            assert_eq!(msg[0], 0xd2, "tag 18");
            let parsed = Sign1::parse(&msg, 1000).unwrap();
            assert_eq!(parsed.alg(), alg);
            assert_eq!(parsed.kid(), Some(k.kid()));
            assert_eq!(parsed.payload(), b"payload");
            parsed.verify(&k.public_key()).unwrap();
        }
    }

    #[test]
    fn refusals() {
        let k = key(Alg::EdDSA);
        let msg = sign(b"payload".to_vec(), &k, true);
        // untagged
        let bare = CoseSign1::from_tagged_slice(&msg)
            .unwrap()
            .to_vec()
            .unwrap();
        assert!(matches!(
            Sign1::parse(&bare, 1000),
            Err(CoseError::NotSign1(_))
        ));
        // trailing byte
        let mut trailing = msg.clone();
        trailing.push(0);
        assert!(Sign1::parse(&trailing, 1000).is_err());
        // too large
        assert!(Sign1::parse(&msg, 10).is_err());
        // flipped payload byte: parses, fails to verify
        let mut flipped = msg.clone();
        let pos = msg.windows(7).position(|w| w == b"payload").unwrap();
        flipped[pos] ^= 1;
        let parsed = Sign1::parse(&flipped, 1000).unwrap();
        assert!(matches!(
            parsed.verify(&k.public_key()),
            Err(CoseError::Signature(_))
        ));
        // wrong key algorithm
        let sm2 = key(Alg::Sm2Sm3).public_key();
        assert!(matches!(
            Sign1::parse(&msg, 1000).unwrap().verify(&sm2),
            Err(CoseError::AlgMismatch { .. })
        ));
    }

    /// The protected header, decoded once by this module: its bytes must
    /// be one canonical map of `alg` (and `kid`), and they are what the
    /// signature covers.
    #[test]
    fn protected_header_refusals() {
        use ciborium::value::Value;
        let k = key(Alg::EdDSA);
        let msg = sign(b"payload".to_vec(), &k, true);
        let with_protected = |protected: Vec<u8>| {
            let Ok(Value::Tag(18, inner)) = crate::cbor::decode_strict(&msg, 1000) else {
                panic!("a COSE_Sign1");
            };
            let Value::Array(mut items) = *inner else {
                panic!("an array");
            };
            items[0] = Value::Bytes(protected);
            crate::cbor::encode(&Value::Tag(18, Box::new(Value::Array(items))))
        };
        let alg = Alg::EdDSA.cose_id();
        let header = |entries: Vec<(Value, Value)>| crate::cbor::encode(&Value::Map(entries));
        // As signed: parses, and the signature covers the same bytes.
        let good = header(vec![(Value::from(1), Value::from(alg))]);
        let parsed = Sign1::parse(&with_protected(good.clone()), 1000).unwrap();
        assert_eq!(parsed.alg(), Alg::EdDSA);
        // Empty: no alg.
        assert!(matches!(
            Sign1::parse(&with_protected(Vec::new()), 1000),
            Err(CoseError::MissingAlg)
        ));
        // Not canonical: alg written in two bytes where one will do.
        let non_canonical = vec![0xa1, 0x01, 0x38, u8::try_from(-1 - alg).unwrap()];
        assert!(matches!(
            Sign1::parse(&with_protected(non_canonical), 1000),
            Err(CoseError::Cbor(_))
        ));
        // Not a map, and trailing bytes after the map.
        assert!(Sign1::parse(&with_protected(crate::cbor::encode(&Value::from(1))), 1000).is_err());
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            Sign1::parse(&with_protected(trailing), 1000),
            Err(CoseError::Cbor(_))
        ));
        // A header parameter other than alg and kid.
        let extra = header(vec![
            (Value::from(1), Value::from(alg)),
            (Value::from(3), Value::from(0)),
        ]);
        assert!(matches!(
            Sign1::parse(&with_protected(extra), 1000),
            Err(CoseError::Header(_))
        ));
        // A different (valid) header than the one signed: parses, and the
        // signature no longer verifies.
        let kid = header(vec![
            (Value::from(1), Value::from(alg)),
            (Value::from(4), Value::Bytes(vec![1, 2, 3, 4, 5, 6, 7, 8])),
        ]);
        let changed = Sign1::parse(&with_protected(kid), 1000).unwrap();
        assert!(changed.verify(&k.public_key()).is_err());
    }
}
