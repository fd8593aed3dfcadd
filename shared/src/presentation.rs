//! Holder-bound presentations: the holder's phone signs (certificate, time
//! slot), so a screenshot of the QR stops verifying within a minute or two.
//!
//! A presentation is a COSE_Sign1 made by the holder's device key (EdDSA;
//! the key is the certificate's `cnf` claim, so the header has `alg` only and
//! no `kid`). Its payload is the CBOR array `[slot, certificate]`: the time
//! slot (Unix seconds / [`SLOT_SECONDS`]) and the province-signed
//! certificate's COSE_Sign1 bytes as a byte string. Any COSE library can make
//! one, e.g. WebCrypto's Ed25519 in the holder's wallet.

use ciborium::value::Value;

use crate::cbor::{self, as_array, as_bytes, as_u64, bad};
use crate::cose::{self, CoseError, Sign1};
use crate::crypto::{PublicKey, SigningKey};

/// Length of one presentation time slot, in seconds.
pub const SLOT_SECONDS: i64 = 30;
/// Largest presentation accepted, in bytes.
pub const MAX_PRESENTATION_LEN: usize = 4096;

/// The slot a Unix time falls in.
pub fn slot_of(unix_seconds: i64) -> u64 {
    u64::try_from(unix_seconds.div_euclid(SLOT_SECONDS)).unwrap_or(0)
}

/// Makes a presentation of `certificate` (COSE_Sign1 bytes) for the slot of
/// `now`, signed by the holder's device key.
pub fn present(certificate: &[u8], holder: &SigningKey, now: i64) -> Vec<u8> {
    let payload = cbor::encode(&Value::Array(vec![
        cbor::uint(slot_of(now)),
        cbor::bytes(certificate),
    ]));
    cose::sign(payload, holder, false)
}

/// A parsed presentation whose holder signature is not yet checked.
#[derive(Debug, Clone)]
pub struct Presentation {
    envelope: Sign1,
    slot: u64,
    certificate: Vec<u8>,
}

impl Presentation {
    /// Parses the device envelope and its `[slot, certificate]` payload.
    pub fn parse(bytes: &[u8]) -> Result<Presentation, CoseError> {
        let envelope = Sign1::parse(bytes, MAX_PRESENTATION_LEN)?;
        if envelope.kid().is_some() {
            return Err(CoseError::Header("a presentation carries no kid"));
        }
        let value = cbor::decode_strict(envelope.payload(), MAX_PRESENTATION_LEN)?;
        let items = as_array(value, "presentation")?;
        let [slot, certificate]: [Value; 2] = items
            .try_into()
            .map_err(|_| bad("presentation", "expected [slot, certificate]"))?;
        let slot = as_u64(slot, "slot")?;
        let certificate = as_bytes(certificate, "certificate")?;
        Ok(Presentation {
            envelope,
            slot,
            certificate,
        })
    }

    /// The time slot the holder's device signed for.
    pub fn slot(&self) -> u64 {
        self.slot
    }

    /// Unix time at which the slot starts.
    pub fn slot_start(&self) -> i64 {
        i64::try_from(self.slot)
            .unwrap_or(i64::MAX / SLOT_SECONDS)
            .saturating_mul(SLOT_SECONDS)
    }

    /// The embedded certificate's COSE_Sign1 bytes.
    pub fn certificate(&self) -> &[u8] {
        &self.certificate
    }

    /// Checks the holder's signature with the certificate's `cnf` key.
    pub fn verify_holder(&self, holder_key: &PublicKey) -> Result<(), CoseError> {
        self.envelope.verify(holder_key)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::crypto::Alg;

    #[test]
    fn round_trip() {
        let holder = SigningKey::from_secret_bytes(Alg::EdDSA, &[3u8; 32]).unwrap();
        let cert = vec![0xd2, 0x84, 1, 2, 3];
        let p = present(&cert, &holder, 1_700_000_015);
        let parsed = Presentation::parse(&p).unwrap();
        assert_eq!(parsed.certificate(), cert.as_slice());
        assert_eq!(parsed.slot(), 1_700_000_015 / 30);
        assert_eq!(parsed.slot_start(), 1_700_000_010);
        parsed.verify_holder(&holder.public_key()).unwrap();
        let other = SigningKey::from_secret_bytes(Alg::EdDSA, &[4u8; 32]).unwrap();
        assert!(parsed.verify_holder(&other.public_key()).is_err());
    }

    #[test]
    fn slots() {
        assert_eq!(slot_of(0), 0);
        assert_eq!(slot_of(29), 0);
        assert_eq!(slot_of(30), 1);
        assert_eq!(slot_of(-1), 0);
    }
}
