//! Strict CBOR: canonical encoding and a decoder that refuses anything
//! ambiguous.
//!
//! Everything this project signs is encoded with RFC 8949 §4.2.1 core
//! deterministic encoding (shortest integers and lengths, definite lengths,
//! map keys sorted by their encoded bytes). [`decode_strict`] accepts only
//! such input: it rejects inputs over a size bound, trailing bytes, duplicate
//! map keys and any non-canonical form, by decoding and re-encoding and
//! requiring the same bytes, and by requiring every map's keys to be
//! strictly increasing. [`MapReader`] then reads a map with small
//! integer keys and refuses keys it does not know.

use ciborium::value::{Integer, Value};

/// Why CBOR input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CborError {
    /// Larger than the caller's bound.
    #[error("input of {found} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// The limit.
        limit: usize,
        /// The input's length.
        found: usize,
    },
    /// Not well-formed CBOR, or truncated.
    #[error("malformed CBOR: {0}")]
    Malformed(String),
    /// Bytes after the one data item.
    #[error("{0} trailing bytes after the CBOR item")]
    TrailingBytes(usize),
    /// A map holds the same key twice.
    #[error("duplicate map key {0}")]
    DuplicateKey(String),
    /// Well-formed but not in deterministic encoding.
    #[error("not in canonical (deterministic) encoding")]
    NonCanonical,
    /// A required field is absent.
    #[error("missing field {0}")]
    Missing(&'static str),
    /// A field has the wrong type or an impossible value.
    #[error("field {field}: {detail}")]
    BadField {
        /// The field's name.
        field: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A map key that this version does not define.
    #[error("unknown key {key} in {map}")]
    UnknownKey {
        /// Which map.
        map: &'static str,
        /// The key as text.
        key: String,
    },
}

/// Encodes a value. Values built with [`map`] are canonical.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and every Value is serialisable.
    if ciborium::into_writer(value, &mut out).is_err() {
        out.clear();
    }
    out
}

/// Whether `value` encodes to exactly `bytes`: the encoder's output is
/// compared as it is written, never kept, and the first byte that differs
/// stops it.
fn encodes_to(value: &Value, bytes: &[u8]) -> bool {
    /// The part of the expected bytes not yet matched.
    struct SameAs<'a>(&'a [u8]);
    impl std::io::Write for SameAs<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            match self.0.strip_prefix(buf) {
                Some(rest) => {
                    self.0 = rest;
                    Ok(buf.len())
                }
                None => Err(std::io::ErrorKind::InvalidData.into()),
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut rest = SameAs(bytes);
    ciborium::into_writer(value, &mut rest).is_ok() && rest.0.is_empty()
}

/// Decodes exactly one canonical CBOR item of at most `max_len` bytes.
pub fn decode_strict(bytes: &[u8], max_len: usize) -> Result<Value, CborError> {
    if bytes.len() > max_len {
        return Err(CborError::TooLarge {
            limit: max_len,
            found: bytes.len(),
        });
    }
    let mut cursor = std::io::Cursor::new(bytes);
    // A small scratch buffer: ciborium's default zeroes 4 KiB per call, which
    // showed up as the largest single cost of verifying a certificate. Longer
    // strings are read in chunks; nesting stays bounded by ciborium's default
    // recursion limit (256).
    let mut scratch = [0u8; 256];
    let value: Value = ciborium::de::from_reader_with_buffer(&mut cursor, &mut scratch)
        .map_err(|e| CborError::Malformed(short_error(&e)))?;
    let used = usize::try_from(cursor.position()).unwrap_or(usize::MAX);
    if used < bytes.len() {
        return Err(CborError::TrailingBytes(bytes.len() - used));
    }
    check_map_keys(&value)?;
    if !encodes_to(&value, bytes) {
        return Err(CborError::NonCanonical);
    }
    Ok(value)
}

fn short_error<T: std::fmt::Debug>(e: &ciborium::de::Error<T>) -> String {
    match e {
        ciborium::de::Error::Io(_) => "truncated input".to_string(),
        ciborium::de::Error::Syntax(at) => format!("syntax error at byte {at}"),
        ciborium::de::Error::Semantic(at, msg) => match at {
            Some(at) => format!("{msg} at byte {at}"),
            None => msg.clone(),
        },
        ciborium::de::Error::RecursionLimitExceeded => "nested too deeply".to_string(),
    }
}

/// Compares two map keys in deterministic-encoding order (bytewise order of
/// their encodings). Integer keys, the only kind this project writes, are
/// compared without encoding them: every unsigned integer sorts before every
/// negative one, and within each, a shorter encoding sorts first and equal
/// lengths compare big-endian, so the order is by magnitude.
fn key_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => {
            let (x, y) = (i128::from(*x), i128::from(*y));
            let rank = |n: i128| if n >= 0 { (0, n) } else { (1, -1 - n) };
            rank(x).cmp(&rank(y))
        }
        _ => encode(a).cmp(&encode(b)),
    }
}

fn check_map_keys(value: &Value) -> Result<(), CborError> {
    match value {
        Value::Map(entries) => {
            let mut previous: Option<&Value> = None;
            for (k, v) in entries {
                if let Some(prev) = previous {
                    match key_order(prev, k) {
                        std::cmp::Ordering::Less => {}
                        std::cmp::Ordering::Equal => {
                            return Err(CborError::DuplicateKey(describe(k)))
                        }
                        std::cmp::Ordering::Greater => {
                            // A duplicate may hide further back in unsorted
                            // input; name it as such when it does.
                            if entries.iter().filter(|(other, _)| other == k).count() > 1 {
                                return Err(CborError::DuplicateKey(describe(k)));
                            }
                            return Err(CborError::NonCanonical);
                        }
                    }
                }
                check_map_keys(k)?;
                check_map_keys(v)?;
                previous = Some(k);
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(check_map_keys),
        Value::Tag(_, inner) => check_map_keys(inner),
        _ => Ok(()),
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Integer(i) => i128::from(*i).to_string(),
        Value::Text(t) => format!("{t:?}"),
        _ => "(non-scalar)".to_string(),
    }
}

/// Builds a canonical map: entries are sorted by the encoded bytes of their
/// keys, as RFC 8949 §4.2.1 requires. `None` values are left out.
pub fn map(entries: Vec<(Value, Option<Value>)>) -> Value {
    let mut present: Vec<(Vec<u8>, Value, Value)> = entries
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (encode(&k), k, v)))
        .collect();
    present.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Map(present.into_iter().map(|(_, k, v)| (k, v)).collect())
}

/// An unsigned integer value.
pub fn uint(n: u64) -> Value {
    Value::Integer(Integer::from(n))
}

/// A signed integer value.
pub fn int(n: i64) -> Value {
    Value::Integer(Integer::from(n))
}

/// A text value.
pub fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// A byte-string value.
pub fn bytes(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}

/// Reads a map with small integer keys, refusing unknown keys at the end.
#[derive(Debug)]
pub struct MapReader {
    name: &'static str,
    entries: Vec<(i128, Value)>,
}

impl MapReader {
    /// Takes a decoded value that must be a map with integer keys.
    pub fn new(name: &'static str, value: Value) -> Result<MapReader, CborError> {
        let Value::Map(raw) = value else {
            return Err(CborError::BadField {
                field: name,
                detail: "expected a map".to_string(),
            });
        };
        let mut entries = Vec::with_capacity(raw.len());
        for (k, v) in raw {
            match k {
                Value::Integer(i) => entries.push((i128::from(i), v)),
                other => {
                    return Err(CborError::UnknownKey {
                        map: name,
                        key: describe(&other),
                    })
                }
            }
        }
        Ok(MapReader { name, entries })
    }

    /// Removes and returns the value under `key`, if present.
    pub fn take(&mut self, key: i64) -> Option<Value> {
        let pos = self
            .entries
            .iter()
            .position(|(k, _)| *k == i128::from(key))?;
        Some(self.entries.swap_remove(pos).1)
    }

    /// A required value.
    pub fn required(&mut self, key: i64, field: &'static str) -> Result<Value, CborError> {
        self.take(key).ok_or(CborError::Missing(field))
    }

    /// Fails if any key was not taken.
    pub fn finish(self) -> Result<(), CborError> {
        match self.entries.first() {
            None => Ok(()),
            Some((k, _)) => Err(CborError::UnknownKey {
                map: self.name,
                key: k.to_string(),
            }),
        }
    }
}

/// Reads an unsigned integer that fits `u64`.
pub fn as_u64(v: Value, field: &'static str) -> Result<u64, CborError> {
    match v {
        Value::Integer(i) => {
            u64::try_from(i).map_err(|_| bad(field, "expected an unsigned integer"))
        }
        _ => Err(bad(field, "expected an unsigned integer")),
    }
}

/// Reads a signed integer that fits `i64`.
pub fn as_i64(v: Value, field: &'static str) -> Result<i64, CborError> {
    match v {
        Value::Integer(i) => i64::try_from(i).map_err(|_| bad(field, "integer out of range")),
        _ => Err(bad(field, "expected an integer")),
    }
}

/// Reads a text string.
pub fn as_text(v: Value, field: &'static str) -> Result<String, CborError> {
    match v {
        Value::Text(t) => Ok(t),
        _ => Err(bad(field, "expected a text string")),
    }
}

/// Reads a byte string.
pub fn as_bytes(v: Value, field: &'static str) -> Result<Vec<u8>, CborError> {
    match v {
        Value::Bytes(b) => Ok(b),
        _ => Err(bad(field, "expected a byte string")),
    }
}

/// Reads an array.
pub fn as_array(v: Value, field: &'static str) -> Result<Vec<Value>, CborError> {
    match v {
        Value::Array(a) => Ok(a),
        _ => Err(bad(field, "expected an array")),
    }
}

/// A [`CborError::BadField`].
pub fn bad(field: &'static str, detail: impl Into<String>) -> CborError {
    CborError::BadField {
        field,
        detail: detail.into(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn strict_decoder_table() {
        // (hex input, expected outcome)
        let cases: &[(&str, Result<(), &str>)] = &[
            ("a201020304", Ok(())),
            ("a203040102", Err("noncanonical")), // unsorted keys
            ("a201020102", Err("duplicate")),
            ("1817", Err("noncanonical")),     // 23 in two bytes
            ("190017", Err("noncanonical")),   // 23 in three bytes
            ("9f0102ff", Err("noncanonical")), // indefinite array
            ("a1010200", Err("trailing")),
            ("a201", Err("malformed")),
            ("", Err("malformed")),
            ("5f41014102ff", Err("noncanonical")), // indefinite bytes
        ];
        for (hex_in, want) in cases {
            let input = hex::decode(hex_in).unwrap();
            let got = decode_strict(&input, 64);
            match (want, &got) {
                (Ok(()), Ok(_)) => {}
                (Err("noncanonical"), Err(CborError::NonCanonical))
                | (Err("duplicate"), Err(CborError::DuplicateKey(_)))
                | (Err("trailing"), Err(CborError::TrailingBytes(_)))
                | (Err("malformed"), Err(CborError::Malformed(_))) => {}
                _ => panic!("{hex_in}: expected {want:?}, got {got:?}"),
            }
        }
        assert!(matches!(
            decode_strict(&[0u8; 65], 64),
            Err(CborError::TooLarge { .. })
        ));
    }

    #[test]
    fn integer_key_order_matches_encoded_order() {
        let keys: Vec<i64> = vec![
            -70_000,
            -65_537,
            -257,
            -256,
            -25,
            -24,
            -2,
            -1,
            0,
            1,
            23,
            24,
            255,
            256,
            65_535,
            65_536,
            4_294_967_295,
            4_294_967_296,
        ];
        for a in &keys {
            for b in &keys {
                assert_eq!(
                    key_order(&int(*a), &int(*b)),
                    encode(&int(*a)).cmp(&encode(&int(*b))),
                    "{a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn map_builder_sorts_and_skips_none() {
        let m = map(vec![
            (uint(10), Some(uint(1))),
            (uint(2), Some(uint(2))),
            (uint(3), None),
            (int(-1), Some(uint(3))),
        ]);
        // 2 (0x02) < 10 (0x0a) < -1 (0x20)
        assert_eq!(hex::encode(encode(&m)), "a302020a012003");
        assert!(decode_strict(&encode(&m), 100).is_ok());
    }

    #[test]
    fn reader_refuses_unknown_keys() {
        let m = map(vec![(uint(1), Some(uint(5))), (uint(9), Some(uint(1)))]);
        let mut r = MapReader::new("test", m).unwrap();
        assert_eq!(as_u64(r.required(1, "one").unwrap(), "one").unwrap(), 5);
        assert!(matches!(r.finish(), Err(CborError::UnknownKey { .. })));
    }
}
