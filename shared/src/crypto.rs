//! Signature algorithms, keys and key identifiers.
//!
//! Two algorithms, each key bound to exactly one:
//! - EdDSA over Ed25519 (COSE alg −8), verified with `verify_strict`; weak
//!   (small-order) public keys are refused when a key is loaded.
//! - SM2 signatures with SM3 (GM/T 0003, GM/T 0009 default user ID
//!   `1234567812345678`). COSE has no registered identifier for it, so this
//!   project uses [`SM2_SM3_COSE_ALG`] from the private-use range (below
//!   −65536, RFC 9053 §16.4). Signatures are `r ‖ s`, 32 bytes each.
//!
//! A key identifier ([`Kid`]) is the first 8 bytes of SHA-256 over the public
//! key bytes (raw 32 bytes for Ed25519, SEC1 uncompressed 65 bytes for SM2),
//! as the EU Digital COVID Certificate does.
//!
//! Randomness comes in as an argument: this module never reaches for the OS.

use ed25519_dalek::Signer as _;
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The private-use COSE algorithm identifier for SM2 with SM3 and the
/// GM/T 0009 default user ID.
pub const SM2_SM3_COSE_ALG: i64 = -70_000;
/// The COSE identifier of EdDSA (RFC 9053).
pub const EDDSA_COSE_ALG: i64 = -8;
/// The GM/T 0009 default distinguishing identifier for SM2 signatures.
pub const SM2_DEFAULT_DISTID: &str = "1234567812345678";

/// A signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alg {
    /// EdDSA with Ed25519.
    EdDSA,
    /// SM2 with SM3.
    #[serde(rename = "SM2")]
    Sm2Sm3,
}

impl Alg {
    /// The COSE algorithm identifier.
    pub fn cose_id(self) -> i64 {
        match self {
            Alg::EdDSA => EDDSA_COSE_ALG,
            Alg::Sm2Sm3 => SM2_SM3_COSE_ALG,
        }
    }

    /// The algorithm for a COSE identifier, if it is one we support.
    pub fn from_cose_id(id: i64) -> Option<Alg> {
        match id {
            EDDSA_COSE_ALG => Some(Alg::EdDSA),
            SM2_SM3_COSE_ALG => Some(Alg::Sm2Sm3),
            _ => None,
        }
    }

    /// The name used in documents and test vectors: `EdDSA` or `SM2`.
    pub fn name(self) -> &'static str {
        match self {
            Alg::EdDSA => "EdDSA",
            Alg::Sm2Sm3 => "SM2",
        }
    }

    /// The algorithm for a name as given by [`Alg::name`].
    pub fn from_name(name: &str) -> Option<Alg> {
        match name {
            "EdDSA" => Some(Alg::EdDSA),
            "SM2" => Some(Alg::Sm2Sm3),
            _ => None,
        }
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An 8-byte key identifier derived from the public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kid(pub [u8; 8]);

impl Kid {
    /// The identifier from its 8 bytes; `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<Kid> {
        <[u8; 8]>::try_from(bytes).ok().map(Kid)
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Display for Kid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Kid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Kid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(&text)
            .ok()
            .and_then(|b| Kid::from_slice(&b))
            .ok_or_else(|| serde::de::Error::custom("kid must be 16 hex digits"))
    }
}

/// Why a key could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The bytes are not a key of this algorithm.
    #[error("{alg} key: {detail}")]
    Malformed {
        /// The algorithm the bytes were read as.
        alg: Alg,
        /// What was wrong.
        detail: &'static str,
    },
    /// An Ed25519 key of small order, which would let signatures verify for
    /// many messages.
    #[error("EdDSA key is weak (small order)")]
    WeakKey,
}

/// A signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signature does not verify")]
pub struct SignatureError;

/// A public key bound to its algorithm, with its key identifier computed
/// once (verifiers look keys up by kid on every check).
#[derive(Clone)]
pub struct PublicKey {
    inner: PublicKeyInner,
    kid: Kid,
}

#[derive(Clone)]
enum PublicKeyInner {
    Ed25519(ed25519_dalek::VerifyingKey),
    Sm2(sm2::dsa::VerifyingKey),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({}, {})", self.alg(), self.kid())
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.alg() == other.alg() && self.to_bytes() == other.to_bytes()
    }
}

impl Eq for PublicKey {}

impl PublicKey {
    /// Loads a public key: raw 32 bytes for Ed25519 (weak keys refused), SEC1
    /// (uncompressed or compressed) for SM2.
    pub fn from_bytes(alg: Alg, bytes: &[u8]) -> Result<PublicKey, KeyError> {
        match alg {
            Alg::EdDSA => {
                let raw: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Malformed {
                    alg,
                    detail: "must be 32 bytes",
                })?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(&raw).map_err(|_| {
                    KeyError::Malformed {
                        alg,
                        detail: "not a point on the curve",
                    }
                })?;
                if key.is_weak() {
                    return Err(KeyError::WeakKey);
                }
                Ok(PublicKey::new(PublicKeyInner::Ed25519(key)))
            }
            Alg::Sm2Sm3 => sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DEFAULT_DISTID, bytes)
                .map(|k| PublicKey::new(PublicKeyInner::Sm2(k)))
                .map_err(|_| KeyError::Malformed {
                    alg,
                    detail: "not a SEC1-encoded point on the SM2 curve",
                }),
        }
    }

    fn new(inner: PublicKeyInner) -> PublicKey {
        let mut key = PublicKey {
            inner,
            kid: Kid([0; 8]),
        };
        let digest = Sha256::digest(key.to_bytes());
        key.kid.0.copy_from_slice(&digest[..8]);
        key
    }

    /// The algorithm this key is bound to.
    pub fn alg(&self) -> Alg {
        match self.inner {
            PublicKeyInner::Ed25519(_) => Alg::EdDSA,
            PublicKeyInner::Sm2(_) => Alg::Sm2Sm3,
        }
    }

    /// Canonical bytes: raw 32 for Ed25519, SEC1 uncompressed 65 for SM2.
    pub fn to_bytes(&self) -> Vec<u8> {
        match &self.inner {
            PublicKeyInner::Ed25519(k) => k.as_bytes().to_vec(),
            PublicKeyInner::Sm2(k) => {
                use sm2::elliptic_curve::sec1::ToEncodedPoint;
                k.as_affine().to_encoded_point(false).as_bytes().to_vec()
            }
        }
    }

    /// The key identifier: first 8 bytes of SHA-256 over [`Self::to_bytes`].
    pub fn kid(&self) -> Kid {
        self.kid
    }

    /// Verifies `signature` over `message`. Ed25519 uses `verify_strict`
    /// (rejects non-canonical and small-order components); SM2 requires a
    /// 64-byte `r ‖ s` with both scalars in range.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        match &self.inner {
            PublicKeyInner::Ed25519(key) => {
                let sig =
                    ed25519_dalek::Signature::from_slice(signature).map_err(|_| SignatureError)?;
                key.verify_strict(message, &sig).map_err(|_| SignatureError)
            }
            PublicKeyInner::Sm2(key) => {
                use sm2::dsa::signature::Verifier as _;
                if signature.len() != 64 {
                    return Err(SignatureError);
                }
                let sig = sm2::dsa::Signature::from_slice(signature).map_err(|_| SignatureError)?;
                key.verify(message, &sig).map_err(|_| SignatureError)
            }
        }
    }
}

/// A private signing key bound to its algorithm.
#[derive(Clone)]
pub enum SigningKey {
    /// Ed25519.
    Ed25519(Box<ed25519_dalek::SigningKey>),
    /// SM2 with the default distinguishing identifier.
    Sm2(Box<sm2::dsa::SigningKey>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({}, {}, <secret>)", self.alg(), self.kid())
    }
}

impl SigningKey {
    /// A fresh key from the caller's cryptographic random source.
    pub fn generate(alg: Alg, rng: &mut impl CryptoRngCore) -> SigningKey {
        match alg {
            Alg::EdDSA => SigningKey::Ed25519(Box::new(ed25519_dalek::SigningKey::generate(rng))),
            Alg::Sm2Sm3 => loop {
                let mut seed = Zeroizing::new([0u8; 32]);
                rng.fill_bytes(seed.as_mut());
                // A random 32-byte string is a valid scalar with overwhelming
                // probability; retry on the rare zero or out-of-range value.
                if let Ok(key) = SigningKey::from_secret_bytes(alg, seed.as_ref()) {
                    break key;
                }
            },
        }
    }

    /// Loads a secret key: the 32-byte seed for Ed25519, the 32-byte scalar
    /// for SM2.
    pub fn from_secret_bytes(alg: Alg, bytes: &[u8]) -> Result<SigningKey, KeyError> {
        match alg {
            Alg::EdDSA => {
                let raw: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Malformed {
                    alg,
                    detail: "secret must be 32 bytes",
                })?;
                Ok(SigningKey::Ed25519(Box::new(
                    ed25519_dalek::SigningKey::from_bytes(&raw),
                )))
            }
            Alg::Sm2Sm3 => {
                if bytes.len() != 32 {
                    return Err(KeyError::Malformed {
                        alg,
                        detail: "secret must be 32 bytes",
                    });
                }
                sm2::dsa::SigningKey::from_slice(SM2_DEFAULT_DISTID, bytes)
                    .map(|k| SigningKey::Sm2(Box::new(k)))
                    .map_err(|_| KeyError::Malformed {
                        alg,
                        detail: "secret scalar out of range",
                    })
            }
        }
    }

    /// The secret bytes, for storing the key; zeroed when dropped.
    pub fn secret_bytes(&self) -> Zeroizing<Vec<u8>> {
        match self {
            SigningKey::Ed25519(k) => Zeroizing::new(k.to_bytes().to_vec()),
            SigningKey::Sm2(k) => Zeroizing::new(k.to_bytes().to_vec()),
        }
    }

    /// The algorithm this key is bound to.
    pub fn alg(&self) -> Alg {
        match self {
            SigningKey::Ed25519(_) => Alg::EdDSA,
            SigningKey::Sm2(_) => Alg::Sm2Sm3,
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        match self {
            SigningKey::Ed25519(k) => PublicKey::new(PublicKeyInner::Ed25519(k.verifying_key())),
            SigningKey::Sm2(k) => PublicKey::new(PublicKeyInner::Sm2(k.verifying_key().clone())),
        }
    }

    /// The key identifier of the public key.
    pub fn kid(&self) -> Kid {
        self.public_key().kid()
    }

    /// Signs `message`. Both algorithms are deterministic (Ed25519 by
    /// construction, SM2 with RFC 6979 nonces), so the same input gives the
    /// same bytes.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            SigningKey::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
            SigningKey::Sm2(k) => {
                use sm2::dsa::signature::Signer as _;
                let sig: sm2::dsa::Signature = k.sign(message);
                sig.to_bytes().to_vec()
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    struct Counter(u8);
    impl rand_core::RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            rand_core::impls::next_u32_via_fill(self)
        }
        fn next_u64(&mut self) -> u64 {
            rand_core::impls::next_u64_via_fill(self)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                self.0 = self.0.wrapping_mul(31).wrapping_add(7);
                *b = self.0;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl rand_core::CryptoRng for Counter {}

    #[test]
    fn sign_verify_both_algorithms() {
        for alg in [Alg::EdDSA, Alg::Sm2Sm3] {
            let key = SigningKey::generate(alg, &mut Counter(1));
            let sig = key.sign(b"hello");
            let pk = key.public_key();
            assert_eq!(pk.alg(), alg);
            pk.verify(b"hello", &sig).unwrap();
            assert!(pk.verify(b"hellp", &sig).is_err());
            let mut bad = sig.clone();
            bad[10] ^= 1;
            assert!(pk.verify(b"hello", &bad).is_err());
            assert!(pk.verify(b"hello", &sig[..63]).is_err());
            // round trip of both key halves
            let again = PublicKey::from_bytes(alg, &pk.to_bytes()).unwrap();
            assert_eq!(again.kid(), pk.kid());
            let sk = SigningKey::from_secret_bytes(alg, &key.secret_bytes()).unwrap();
            assert_eq!(sk.kid(), key.kid());
            assert_eq!(sk.sign(b"x"), key.sign(b"x"), "deterministic signatures");
        }
    }

    #[test]
    fn weak_and_malformed_keys_are_refused() {
        // The identity point: small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            PublicKey::from_bytes(Alg::EdDSA, &identity),
            Err(KeyError::WeakKey)
        );
        assert!(PublicKey::from_bytes(Alg::EdDSA, &[1u8; 31]).is_err());
        assert!(PublicKey::from_bytes(Alg::Sm2Sm3, &[4u8; 65]).is_err());
        assert!(SigningKey::from_secret_bytes(Alg::Sm2Sm3, &[0u8; 32]).is_err());
    }

    #[test]
    fn kid_is_sha256_prefix() {
        let key = SigningKey::from_secret_bytes(Alg::EdDSA, &[7u8; 32]).unwrap();
        let pk = key.public_key();
        let digest = Sha256::digest(pk.to_bytes());
        assert_eq!(pk.kid().0, digest[..8]);
        assert_eq!(
            Alg::from_cose_id(SM2_SM3_COSE_ALG),
            Some(Alg::Sm2Sm3),
            "private-use id maps back"
        );
        const { assert!(SM2_SM3_COSE_ALG < -65536) };
    }
}
