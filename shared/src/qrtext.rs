//! QR text: a short versioned prefix and base45.
//!
//! `LC1:` + base45(COSE_Sign1) is a certificate; `LP1:` + base45(COSE_Sign1)
//! is a holder presentation. All characters are in the QR alphanumeric set,
//! so the QR uses alphanumeric mode (5.5 bits per byte of payload). The
//! payload is zlib-compressed only when that makes it strictly shorter; a
//! decoder tells the two apart by the first byte (`0xD2`, CBOR tag 18, for a
//! raw COSE_Sign1; `0x78`, a zlib header, for a compressed one), and
//! decompression is bounded.

use std::io::{Read, Write};

/// Prefix of a certificate QR.
pub const CERT_PREFIX: &str = "LC1:";
/// Prefix of a holder-presentation QR.
pub const PRESENTATION_PREFIX: &str = "LP1:";
/// Largest QR text accepted (a version-40 QR holds 4,296 alphanumerics).
pub const MAX_TEXT_LEN: usize = 4296;
/// Largest envelope accepted after base45 decoding and decompression.
pub const MAX_ENVELOPE_LEN: usize = 4096;

/// What a QR text carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A province-signed certificate.
    Certificate,
    /// A holder's device-signed presentation of a certificate.
    Presentation,
}

/// Why a QR text is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrTextError {
    /// Longer than any QR code can hold.
    #[error("text of {0} characters is longer than any QR code holds")]
    TooLong(usize),
    /// No known prefix: some other QR code.
    #[error("not a road-transport e-certificate (no LC1:/LP1: prefix)")]
    UnknownPrefix,
    /// The part after the prefix is not base45.
    #[error("bad base45 after the prefix")]
    BadBase45,
    /// Compressed data that does not inflate, or inflates too far.
    #[error("bad compressed payload: {0}")]
    BadCompression(&'static str),
    /// Neither a COSE_Sign1 nor zlib data.
    #[error("payload is not a COSE_Sign1 (first byte {0:#04x})")]
    NotCose(u8),
    /// Nothing after the prefix.
    #[error("empty payload")]
    Empty,
}

/// Encodes a signed envelope as QR text, compressing only if it helps.
pub fn encode(kind: Kind, envelope: &[u8]) -> String {
    let prefix = match kind {
        Kind::Certificate => CERT_PREFIX,
        Kind::Presentation => PRESENTATION_PREFIX,
    };
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let compressed = z.write_all(envelope).ok().and_then(|_| z.finish().ok());
    let body = match compressed {
        Some(c) if c.len() < envelope.len() => base45::encode(c),
        _ => base45::encode(envelope),
    };
    format!("{prefix}{body}")
}

/// Whether the text (surrounding ASCII whitespace ignored) starts with one
/// of this system's prefixes. Text without one is some other system's code
/// and is never judged a forgery.
pub fn has_known_prefix(text: &str) -> bool {
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    text.starts_with(CERT_PREFIX) || text.starts_with(PRESENTATION_PREFIX)
}

/// Decodes QR text into its kind and the signed envelope bytes. Surrounding
/// ASCII whitespace (a scanner's trailing newline) is ignored.
pub fn decode(text: &str) -> Result<(Kind, Vec<u8>), QrTextError> {
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if text.len() > MAX_TEXT_LEN {
        return Err(QrTextError::TooLong(text.len()));
    }
    let (kind, body) = if let Some(rest) = text.strip_prefix(CERT_PREFIX) {
        (Kind::Certificate, rest)
    } else if let Some(rest) = text.strip_prefix(PRESENTATION_PREFIX) {
        (Kind::Presentation, rest)
    } else {
        return Err(QrTextError::UnknownPrefix);
    };
    let raw = base45::decode(body).map_err(|_| QrTextError::BadBase45)?;
    let envelope = match raw.first() {
        None => return Err(QrTextError::Empty),
        Some(0xd2) => raw,
        Some(0x78) => {
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(raw.as_slice())
                .take(MAX_ENVELOPE_LEN as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|_| QrTextError::BadCompression("does not inflate"))?;
            if out.len() > MAX_ENVELOPE_LEN {
                return Err(QrTextError::BadCompression("inflates past the size limit"));
            }
            match out.first() {
                Some(0xd2) => out,
                Some(b) => return Err(QrTextError::NotCose(*b)),
                None => return Err(QrTextError::Empty),
            }
        }
        Some(b) => return Err(QrTextError::NotCose(*b)),
    };
    Ok((kind, envelope))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_compression_only_when_shorter() {
        let incompressible: Vec<u8> = std::iter::once(0xd2)
            .chain((0..200u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8))
            .collect();
        let t = encode(Kind::Certificate, &incompressible);
        assert!(t.starts_with("LC1:"));
        assert_eq!(
            base45::decode(&t[4..]).unwrap(),
            incompressible,
            "stored raw"
        );
        assert_eq!(decode(&t).unwrap(), (Kind::Certificate, incompressible));

        let compressible: Vec<u8> = std::iter::once(0xd2).chain([7u8; 300]).collect();
        let t = encode(Kind::Presentation, &compressible);
        assert!(t.len() < 100, "compressed: {}", t.len());
        assert_eq!(decode(&t).unwrap(), (Kind::Presentation, compressible));
        assert_eq!(
            decode(&format!("{t}\r\n")).unwrap().0,
            Kind::Presentation,
            "scanner newline ignored"
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(decode("HC1:ABC"), Err(QrTextError::UnknownPrefix));
        assert_eq!(
            decode("https://example.org"),
            Err(QrTextError::UnknownPrefix)
        );
        assert_eq!(decode("LC1:"), Err(QrTextError::Empty));
        assert_eq!(decode("LC1:abc"), Err(QrTextError::BadBase45));
        assert_eq!(decode("LC1:GGW"), Err(QrTextError::BadBase45)); // > 65535
        let not_cose = format!("LC1:{}", base45::encode([0xa0, 1, 2]));
        assert_eq!(decode(&not_cose), Err(QrTextError::NotCose(0xa0)));
        let long = format!("LC1:{}", "0".repeat(MAX_TEXT_LEN));
        assert!(matches!(decode(&long), Err(QrTextError::TooLong(_))));
        // a zlib bomb: 1 MB of zeros compresses to about 1 KB
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&[0xd2]).unwrap();
        z.write_all(&vec![0u8; 1 << 20]).unwrap();
        let bomb = format!("LC1:{}", base45::encode(z.finish().unwrap()));
        assert!(bomb.len() < MAX_TEXT_LEN);
        assert!(matches!(decode(&bomb), Err(QrTextError::BadCompression(_))));
    }
}
