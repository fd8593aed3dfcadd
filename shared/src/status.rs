//! The certificate status list: a 2-bit-per-certificate array, its signed
//! snapshot and delta payloads (CBOR, before signing) and the verifier's cache.
//!
//! Every e-certificate gets an index in the list when it is issued. The list
//! is never shorter than [`StatusList::BLOCK`] entries and grows in whole
//! blocks, so that a verifier downloading it reveals nothing about which
//! certificate it is checking (herd privacy).
//!
//! # Wire format
//!
//! Both payloads are canonical CBOR maps with small unsigned integer keys
//! (shortest integer forms, definite lengths, keys sorted, no duplicates, no
//! trailing bytes); decoders re-encode what they read and reject anything
//! that is not byte-identical, and reject unknown keys.
//!
//! Snapshot ([`StatusSnapshot`]):
//!
//! | key | value |
//! | --- | --- |
//! | 1 | `seq`: unsigned sequence number |
//! | 2 | `len`: number of entries, a positive multiple of [`StatusList::BLOCK`] |
//! | 3 | `encoding`: [`Encoding`] as an unsigned integer |
//! | 4 | `data`: byte string, the list in that encoding |
//!
//! - [`Encoding::Deflate`] (0): the raw array (entry `i` in bits `2*(i%4)..`
//!   of byte `i/4`, least significant bits first) compressed with DEFLATE in
//!   the zlib format, as in the IETF OAuth Token Status List draft.
//! - [`Encoding::Rice`] (1): a big-endian bit stream holding, for each
//!   non-valid status value 1, 2 and 3 in turn, a 32-bit count `n`, a 5-bit
//!   Rice parameter `k` and `n` Rice-coded gaps `g = index - previous - 1`
//!   (the first `previous` is -1): `g >> k` one-bits, a zero-bit, then the
//!   `k` low bits of `g`. Padding to a whole byte is zero bits.
//!
//! The encoder produces both and keeps the smaller one.
//!
//! Delta ([`StatusDelta`]):
//!
//! | key | value |
//! | --- | --- |
//! | 1 | `from_seq`: the sequence the delta applies to |
//! | 2 | `to_seq`: the sequence after applying it, greater than `from_seq` |
//! | 3 | `len`: the list length after applying it |
//! | 4 | `changes`: byte string of unsigned LEB128 varints, one per change in increasing index order, each `(gap << 2) \| status` with `gap = index - previous - 1` (the first `previous` is -1) |
//!
//! A snapshot never parses as a delta nor a delta as a snapshot: key 3 is an
//! encoding number (0 or 1) in a snapshot and a list length (at least one
//! block) in a delta. The COSE content type should tell them apart as well.
//! Freshness (issue and expiry times) and the signature belong to the
//! COSE_Sign1 envelope, not to these payloads.

use std::fmt;
use std::io::Read as _;

use ciborium::value::Value;

use crate::cbor::CborError;
use serde::{Deserialize, Serialize};

/// The status of one certificate: two bits in the list.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub enum Status {
    /// The certificate is valid (as far as the list is concerned).
    Valid = 0,
    /// The certificate was revoked or cancelled.
    Revoked = 1,
    /// The certificate is suspended; it may become valid again.
    Suspended = 2,
    /// A newer version of the certificate was issued.
    Superseded = 3,
}

impl Status {
    /// All status values, in the order of their bits.
    pub const ALL: [Status; 4] = [
        Status::Valid,
        Status::Revoked,
        Status::Suspended,
        Status::Superseded,
    ];

    /// The status with these two bits, or `None` when `bits > 3`.
    pub const fn from_bits(bits: u8) -> Option<Status> {
        match bits {
            0 => Some(Status::Valid),
            1 => Some(Status::Revoked),
            2 => Some(Status::Suspended),
            3 => Some(Status::Superseded),
            _ => None,
        }
    }

    /// The status in the two low bits of `bits` (the other bits are ignored).
    #[inline]
    const fn from_low_bits(bits: u8) -> Status {
        match bits & 3 {
            0 => Status::Valid,
            1 => Status::Revoked,
            2 => Status::Suspended,
            _ => Status::Superseded,
        }
    }

    /// The two bits of this status.
    pub const fn bits(self) -> u8 {
        self as u8
    }

    /// English label for display.
    pub const fn label_en(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Revoked => "revoked/cancelled",
            Status::Suspended => "suspended",
            Status::Superseded => "superseded by a newer version",
        }
    }

    /// Chinese label for display.
    pub const fn label_zh(self) -> &'static str {
        match self {
            Status::Valid => "有效",
            Status::Revoked => "已注销/吊销",
            Status::Suspended => "暂停",
            Status::Superseded => "已被新版本取代",
        }
    }
}

/// Why a status list operation or payload was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    /// A delta does not start at the cache's sequence (out of order, a gap,
    /// or a replayed or older delta).
    #[error("delta starts at sequence {found} but the cache is at sequence {expected}")]
    SequenceMismatch {
        /// The cache's sequence, which the delta must start from.
        expected: u64,
        /// The delta's `from_seq`.
        found: u64,
    },
    /// A delta whose `to_seq` is not greater than its `from_seq`.
    #[error("delta does not advance the sequence (from {from_seq} to {to_seq})")]
    SequenceNotIncreasing {
        /// The delta's `from_seq`.
        from_seq: u64,
        /// The delta's `to_seq`.
        to_seq: u64,
    },
    /// A snapshot that is not newer than the cached list.
    #[error("snapshot sequence {found} is not newer than the cached sequence {current}")]
    StaleSnapshot {
        /// The cache's sequence.
        current: u64,
        /// The snapshot's sequence.
        found: u64,
    },
    /// A delta that would make the list shorter.
    #[error("delta shrinks the list from {current} to {found} entries")]
    ListShrinks {
        /// The cache's list length.
        current: usize,
        /// The delta's list length.
        found: usize,
    },
    /// An index at or beyond the end of the list (or of the hard cap).
    #[error("index {index} is out of range for a list of {len} entries")]
    IndexOutOfRange {
        /// The offending index.
        index: u64,
        /// The list length it had to be below.
        len: u64,
    },
    /// A list longer than allowed (by [`StatusList::MAX_LEN`] or by the
    /// caller's `max_len`).
    #[error("list of {len} entries exceeds the limit of {max}")]
    TooLarge {
        /// The requested or declared length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A declared length that is not a positive multiple of
    /// [`StatusList::BLOCK`].
    #[error("list length {0} is not a positive multiple of the block size")]
    BadLength(u64),
    /// Changes whose indices are not strictly increasing.
    #[error("change indices are not strictly increasing at index {index}")]
    NotIncreasing {
        /// The first index that is not greater than the one before it.
        index: u64,
    },
    /// One index listed under two status values.
    #[error("index {index} is listed under two status values")]
    DuplicateIndex {
        /// The index listed twice.
        index: u64,
    },
    /// An encoding number this version does not know.
    #[error("unknown list encoding {0}")]
    UnknownEncoding(u64),
    /// Encoded list data that cannot be decoded.
    #[error("malformed list data: {0}")]
    BadEncoding(&'static str),
    /// Compressed data that inflates beyond the declared list size.
    #[error("decompressed data exceeds the declared size of {limit} bytes")]
    DecompressionBomb {
        /// The declared size in bytes.
        limit: usize,
    },
    /// Bytes that are not well-formed CBOR.
    #[error("invalid cbor: {0}")]
    Cbor(String),
    /// Well-formed CBOR that is not in canonical (deterministic) form.
    #[error("cbor is not in canonical form")]
    NonCanonical,
    /// A CBOR map with the same key twice.
    #[error("duplicate cbor map key")]
    DuplicateKey,
    /// Bytes after the end of the payload or of its encoded data.
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    /// A payload that is not a CBOR map.
    #[error("payload is not a cbor map")]
    NotAMap,
    /// A map key this payload does not define.
    #[error("unknown cbor map key {0}")]
    UnknownKey(String),
    /// A required map key that is absent.
    #[error("missing cbor map key {0}")]
    MissingKey(u64),
    /// A map value of the wrong CBOR type or out of its range.
    #[error("cbor map key {0} has a value of the wrong type")]
    WrongType(u64),
}

/// How a snapshot's list data is encoded (key 3 of the snapshot map).
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// The raw 2-bit array, zlib/DEFLATE-compressed (interoperable with the
    /// IETF Token Status List draft).
    Deflate = 0,
    /// Per non-valid status value, the Rice-coded gaps between its indices.
    Rice = 1,
}

impl Encoding {
    fn from_u64(value: u64) -> Result<Encoding, StatusError> {
        match value {
            0 => Ok(Encoding::Deflate),
            1 => Ok(Encoding::Rice),
            other => Err(StatusError::UnknownEncoding(other)),
        }
    }
}

/// The status bit array: 2 bits per certificate, 4 entries per byte.
///
/// Its length is always a positive multiple of [`StatusList::BLOCK`] and at
/// most [`StatusList::MAX_LEN`].
#[derive(Clone, PartialEq, Eq)]
pub struct StatusList {
    /// Entry `i` is in bits `2*(i%4)` and `2*(i%4)+1` of byte `i/4`.
    bits: Vec<u8>,
}

impl fmt::Debug for StatusList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [valid, revoked, suspended, superseded] = self.counts();
        f.debug_struct("StatusList")
            .field("len", &self.len())
            .field("valid", &valid)
            .field("revoked", &revoked)
            .field("suspended", &suspended)
            .field("superseded", &superseded)
            .finish()
    }
}

impl StatusList {
    /// The growth step and minimum length, in entries.
    pub const BLOCK: usize = 131_072;
    /// The hard cap on the length, in entries (2^26).
    pub const MAX_LEN: usize = 1 << 26;

    /// An all-valid list of at least `len` entries (rounded up to a whole
    /// number of blocks, at least one).
    pub fn new(len: usize) -> Result<StatusList, StatusError> {
        let len = round_up_to_block(len.max(1)).ok_or(StatusError::TooLarge {
            len: len as u64,
            max: Self::MAX_LEN as u64,
        })?;
        Ok(StatusList {
            bits: vec![0; len / 4],
        })
    }

    /// The number of entries (a multiple of [`StatusList::BLOCK`]).
    #[inline]
    pub fn len(&self) -> usize {
        self.bits.len() * 4
    }

    /// Always `false`: a list has at least one block.
    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// The status at `index`, or `None` when the index is beyond the end
    /// (the certificate is not covered by this list).
    #[inline]
    pub fn get(&self, index: u32) -> Option<Status> {
        let byte = *self.bits.get((index >> 2) as usize)?;
        Some(Status::from_low_bits(byte >> ((index & 3) * 2)))
    }

    /// Set the status at `index`, growing the list by whole blocks when the
    /// index is beyond the end; fails beyond [`StatusList::MAX_LEN`].
    pub fn set(&mut self, index: u32, status: Status) -> Result<(), StatusError> {
        self.ensure_len(index as usize + 1)?;
        self.put(index, status);
        Ok(())
    }

    /// Grow (never shrink) the list to cover at least `len` entries.
    fn ensure_len(&mut self, len: usize) -> Result<(), StatusError> {
        if len > self.len() {
            let new_len = round_up_to_block(len).ok_or(StatusError::IndexOutOfRange {
                index: len as u64 - 1,
                len: Self::MAX_LEN as u64,
            })?;
            self.bits.resize(new_len / 4, 0);
        }
        Ok(())
    }

    /// Set an entry known to be in range; out-of-range indices are ignored.
    #[inline]
    fn put(&mut self, index: u32, status: Status) {
        if let Some(byte) = self.bits.get_mut((index >> 2) as usize) {
            let shift = (index & 3) * 2;
            *byte = (*byte & !(3 << shift)) | (status.bits() << shift);
        }
    }

    /// The number of entries with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.counts()[status as usize]
    }

    /// The number of entries with each status, indexed by the status bits.
    pub fn counts(&self) -> [usize; 4] {
        const LOW: u64 = 0x5555_5555_5555_5555;
        let mut non_valid = [0usize; 4];
        let mut tally = |word: u64| {
            let lo = word & LOW;
            let hi = (word >> 1) & LOW;
            non_valid[1] += (lo & !hi).count_ones() as usize;
            non_valid[2] += (hi & !lo).count_ones() as usize;
            non_valid[3] += (lo & hi).count_ones() as usize;
        };
        let chunks = self.bits.chunks_exact(8);
        let rest = chunks.remainder();
        for chunk in chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            tally(u64::from_le_bytes(word));
        }
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        tally(u64::from_le_bytes(word));
        non_valid[0] = self.len() - non_valid[1] - non_valid[2] - non_valid[3];
        non_valid
    }

    /// The entries that are not [`Status::Valid`], in increasing index order.
    pub fn iter_non_valid(&self) -> impl Iterator<Item = (u32, Status)> + '_ {
        // The byte length is a multiple of BLOCK / 4, hence of 8: no remainder.
        NonValid {
            words: self.bits.chunks_exact(8),
            next_base: 0,
            base: 0,
            word: 0,
        }
    }

    /// The changes that turn `old` into `new`, sorted by index: every entry
    /// whose status differs, with its status in `new`. Entries beyond the
    /// end of either list count as valid.
    pub fn diff(old: &StatusList, new: &StatusList) -> Vec<(u32, Status)> {
        let mut changes = Vec::new();
        let bytes = old.bits.len().max(new.bits.len());
        for offset in 0..bytes {
            let before = old.bits.get(offset).copied().unwrap_or(0);
            let after = new.bits.get(offset).copied().unwrap_or(0);
            if before == after {
                continue;
            }
            for slot in 0..4u32 {
                let shift = slot * 2;
                if ((before ^ after) >> shift) & 3 != 0 {
                    changes.push((
                        offset as u32 * 4 + slot,
                        Status::from_low_bits(after >> shift),
                    ));
                }
            }
        }
        changes
    }

    /// The raw array: entry `i` in bits `2*(i%4)..` of byte `i/4`, least
    /// significant bits first (the IETF Token Status List layout).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bits
    }
}

/// Iterator over the non-valid entries, a 64-bit word (32 entries) at a time.
struct NonValid<'a> {
    words: std::slice::ChunksExact<'a, u8>,
    /// Index of the first entry of the next word.
    next_base: u32,
    /// Index of the first entry of `word`.
    base: u32,
    /// The entries of the current word not yet returned.
    word: u64,
}

impl Iterator for NonValid<'_> {
    type Item = (u32, Status);

    #[inline]
    fn next(&mut self) -> Option<(u32, Status)> {
        while self.word == 0 {
            let mut word = [0u8; 8];
            word.copy_from_slice(self.words.next()?);
            self.word = u64::from_le_bytes(word);
            self.base = self.next_base;
            // At most MAX_LEN = 2^26 entries: no overflow.
            self.next_base += 32;
        }
        let shift = self.word.trailing_zeros() & !1;
        let status = Status::from_low_bits((self.word >> shift) as u8);
        self.word &= !(3u64 << shift);
        Some((self.base + shift / 2, status))
    }
}

/// `len` rounded up to a whole number of blocks, or `None` beyond the cap.
fn round_up_to_block(len: usize) -> Option<usize> {
    let blocks = len.div_ceil(StatusList::BLOCK).max(1);
    let rounded = blocks.checked_mul(StatusList::BLOCK)?;
    (rounded <= StatusList::MAX_LEN).then_some(rounded)
}

/// A declared list length, checked against the caller's limit and the cap.
fn check_declared_len(len: u64, max_len: usize) -> Result<usize, StatusError> {
    let limit = max_len.min(StatusList::MAX_LEN) as u64;
    if len > limit {
        return Err(StatusError::TooLarge { len, max: limit });
    }
    if len == 0 || len % StatusList::BLOCK as u64 != 0 {
        return Err(StatusError::BadLength(len));
    }
    // len <= MAX_LEN, which fits in usize.
    Ok(len as usize)
}

/// A signed-snapshot payload: the whole list at one sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSnapshot {
    /// The sequence number; deltas chain from it.
    pub seq: u64,
    /// The list.
    pub list: StatusList,
}

const KEY_SEQ: u64 = 1;
const KEY_LEN: u64 = 2;
const KEY_ENCODING: u64 = 3;
const KEY_DATA: u64 = 4;

const KEY_FROM_SEQ: u64 = 1;
const KEY_TO_SEQ: u64 = 2;
const KEY_DELTA_LEN: u64 = 3;
const KEY_CHANGES: u64 = 4;

impl StatusSnapshot {
    /// The canonical CBOR payload, with whichever encoding is smaller.
    pub fn to_cbor(&self) -> Vec<u8> {
        let rice = encode_rice(&self.list);
        let deflate = encode_deflate(&self.list);
        // An empty DEFLATE output would mean the (infallible) encoder failed.
        if !deflate.is_empty() && deflate.len() <= rice.len() {
            self.payload(Encoding::Deflate, deflate)
        } else {
            self.payload(Encoding::Rice, rice)
        }
    }

    /// The canonical CBOR payload with the given encoding.
    pub fn to_cbor_with(&self, encoding: Encoding) -> Vec<u8> {
        let data = match encoding {
            Encoding::Deflate => encode_deflate(&self.list),
            Encoding::Rice => encode_rice(&self.list),
        };
        self.payload(encoding, data)
    }

    fn payload(&self, encoding: Encoding, data: Vec<u8>) -> Vec<u8> {
        write_canonical(&Value::Map(vec![
            (uint(KEY_SEQ), uint(self.seq)),
            (uint(KEY_LEN), uint(self.list.len() as u64)),
            (uint(KEY_ENCODING), uint(encoding as u64)),
            (uint(KEY_DATA), Value::Bytes(data)),
        ]))
    }

    /// Parse a snapshot payload, rejecting lists longer than `max_len`
    /// entries and any malformed or non-canonical input.
    pub fn from_cbor(bytes: &[u8], max_len: usize) -> Result<StatusSnapshot, StatusError> {
        let value = read_canonical(bytes)?;
        let [seq, len, encoding, data] =
            map_fields(value, [KEY_SEQ, KEY_LEN, KEY_ENCODING, KEY_DATA])?;
        let seq = as_u64(seq, KEY_SEQ)?;
        let len = check_declared_len(as_u64(len, KEY_LEN)?, max_len)?;
        let encoding = Encoding::from_u64(as_u64(encoding, KEY_ENCODING)?)?;
        let data = as_bytes(data, KEY_DATA)?;
        let list = match encoding {
            Encoding::Deflate => decode_deflate(&data, len)?,
            Encoding::Rice => decode_rice(&data, len)?,
        };
        Ok(StatusSnapshot { seq, list })
    }
}

/// A signed-delta payload: the changes from one sequence to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusDelta {
    /// The sequence this delta applies to.
    pub from_seq: u64,
    /// The sequence after applying it; greater than `from_seq`.
    pub to_seq: u64,
    /// The list length after applying it (a multiple of
    /// [`StatusList::BLOCK`]); newly covered entries are valid unless changed.
    pub len: usize,
    /// The changed entries and their new status, sorted by index, no index
    /// twice, every index below `len`.
    pub changes: Vec<(u32, Status)>,
}

impl StatusDelta {
    /// The delta from `old` at `from_seq` to `new` at `to_seq`.
    pub fn between(
        from_seq: u64,
        to_seq: u64,
        old: &StatusList,
        new: &StatusList,
    ) -> Result<StatusDelta, StatusError> {
        let delta = StatusDelta {
            from_seq,
            to_seq,
            len: new.len(),
            changes: StatusList::diff(old, new),
        };
        delta.validate()?;
        Ok(delta)
    }

    /// Check the invariants: `to_seq > from_seq`, `len` a positive multiple
    /// of the block size within the cap, indices strictly increasing and
    /// below `len`.
    pub fn validate(&self) -> Result<(), StatusError> {
        if self.to_seq <= self.from_seq {
            return Err(StatusError::SequenceNotIncreasing {
                from_seq: self.from_seq,
                to_seq: self.to_seq,
            });
        }
        check_declared_len(self.len as u64, StatusList::MAX_LEN)?;
        let mut previous: Option<u32> = None;
        for &(index, _) in &self.changes {
            if previous.is_some_and(|p| index <= p) {
                return Err(StatusError::NotIncreasing {
                    index: index.into(),
                });
            }
            if index as usize >= self.len {
                return Err(StatusError::IndexOutOfRange {
                    index: index.into(),
                    len: self.len as u64,
                });
            }
            previous = Some(index);
        }
        Ok(())
    }

    /// The canonical CBOR payload; fails when the delta breaks an invariant
    /// (see [`StatusDelta::validate`]).
    pub fn to_cbor(&self) -> Result<Vec<u8>, StatusError> {
        self.validate()?;
        let mut changes = Vec::with_capacity(self.changes.len() * 3);
        let mut next = 0u64; // previous index + 1
        for &(index, status) in &self.changes {
            let gap = u64::from(index) - next;
            write_varint(&mut changes, (gap << 2) | u64::from(status.bits()));
            next = u64::from(index) + 1;
        }
        Ok(write_canonical(&Value::Map(vec![
            (uint(KEY_FROM_SEQ), uint(self.from_seq)),
            (uint(KEY_TO_SEQ), uint(self.to_seq)),
            (uint(KEY_DELTA_LEN), uint(self.len as u64)),
            (uint(KEY_CHANGES), Value::Bytes(changes)),
        ])))
    }

    /// Parse a delta payload, rejecting lists longer than `max_len` entries
    /// and any malformed or non-canonical input.
    pub fn from_cbor(bytes: &[u8], max_len: usize) -> Result<StatusDelta, StatusError> {
        let value = read_canonical(bytes)?;
        let [from_seq, to_seq, len, changes] = map_fields(
            value,
            [KEY_FROM_SEQ, KEY_TO_SEQ, KEY_DELTA_LEN, KEY_CHANGES],
        )?;
        let from_seq = as_u64(from_seq, KEY_FROM_SEQ)?;
        let to_seq = as_u64(to_seq, KEY_TO_SEQ)?;
        let len = check_declared_len(as_u64(len, KEY_DELTA_LEN)?, max_len)?;
        let data = as_bytes(changes, KEY_CHANGES)?;
        let mut changes = Vec::new();
        let mut rest = data.as_slice();
        let mut next = 0u64;
        while !rest.is_empty() {
            let value = read_varint(&mut rest)?;
            let index = next + (value >> 2);
            if index >= len as u64 {
                return Err(StatusError::IndexOutOfRange {
                    index,
                    len: len as u64,
                });
            }
            // index < len <= MAX_LEN, so it fits in u32.
            changes.push((index as u32, Status::from_low_bits(value as u8)));
            next = index + 1;
        }
        let delta = StatusDelta {
            from_seq,
            to_seq,
            len,
            changes,
        };
        delta.validate()?;
        Ok(delta)
    }
}

/// What a verifier holds: the list at a known sequence, advanced by deltas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCache {
    seq: u64,
    list: StatusList,
}

impl StatusCache {
    /// A cache holding a (verified) snapshot.
    pub fn from_snapshot(snapshot: StatusSnapshot) -> StatusCache {
        StatusCache {
            seq: snapshot.seq,
            list: snapshot.list,
        }
    }

    /// Replace the cached list with a newer (verified) snapshot; fails and
    /// keeps the cache when the snapshot is not newer.
    pub fn replace(&mut self, snapshot: StatusSnapshot) -> Result<(), StatusError> {
        if snapshot.seq <= self.seq {
            return Err(StatusError::StaleSnapshot {
                current: self.seq,
                found: snapshot.seq,
            });
        }
        *self = StatusCache::from_snapshot(snapshot);
        Ok(())
    }

    /// The sequence number of the cached list.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The cached list.
    pub fn list(&self) -> &StatusList {
        &self.list
    }

    /// The status at `index`, or `None` when the list does not cover it.
    #[inline]
    pub fn get(&self, index: u32) -> Option<Status> {
        self.list.get(index)
    }

    /// Apply a (verified) delta. It must start at this cache's sequence;
    /// on any error the cache is left unchanged.
    pub fn apply(&mut self, delta: &StatusDelta) -> Result<(), StatusError> {
        if delta.from_seq != self.seq {
            return Err(StatusError::SequenceMismatch {
                expected: self.seq,
                found: delta.from_seq,
            });
        }
        delta.validate()?;
        if delta.len < self.list.len() {
            return Err(StatusError::ListShrinks {
                current: self.list.len(),
                found: delta.len,
            });
        }
        // Validated above: delta.len is a multiple of BLOCK within the cap
        // and every index is below it, so nothing below can fail.
        self.list.ensure_len(delta.len)?;
        for &(index, status) in &delta.changes {
            self.list.put(index, status);
        }
        self.seq = delta.to_seq;
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// List encodings

fn encode_deflate(list: &StatusList) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(list.bits.len() / 16),
        flate2::Compression::best(),
    );
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(&list.bits);
    encoder.finish().unwrap_or_default()
}

fn decode_deflate(data: &[u8], len: usize) -> Result<StatusList, StatusError> {
    let limit = len / 4;
    let mut decoder = flate2::bufread::ZlibDecoder::new(data);
    let mut bits = Vec::with_capacity(limit);
    (&mut decoder)
        .take(limit as u64 + 1)
        .read_to_end(&mut bits)
        .map_err(|_| StatusError::BadEncoding("invalid zlib stream"))?;
    if bits.len() > limit {
        return Err(StatusError::DecompressionBomb { limit });
    }
    if bits.len() < limit {
        return Err(StatusError::BadEncoding(
            "decompressed data is shorter than the declared length",
        ));
    }
    let rest = decoder.into_inner();
    if !rest.is_empty() {
        return Err(StatusError::TrailingBytes(rest.len()));
    }
    Ok(StatusList { bits })
}

/// The largest Rice parameter an encoder picks (gaps are below 2^26).
const MAX_RICE_K: u32 = 26;

fn encode_rice(list: &StatusList) -> Vec<u8> {
    // Gaps per non-valid status value 1, 2, 3, in one pass over the list.
    let mut gaps: [Vec<u32>; 3] = Default::default();
    let mut next = [0u32; 3];
    for (index, status) in list.iter_non_valid() {
        let slot = usize::from(status.bits()) - 1;
        gaps[slot].push(index - next[slot]);
        next[slot] = index + 1;
    }
    let mut out = BitWriter::default();
    for gaps in &gaps {
        let k = best_rice_parameter(gaps);
        out.write(gaps.len() as u64, 32);
        out.write(u64::from(k), 5);
        for &gap in gaps {
            out.write_unary(gap >> k);
            out.write(u64::from(gap), k);
        }
    }
    out.finish()
}

/// The Rice parameter giving the fewest bits for these gaps.
fn best_rice_parameter(gaps: &[u32]) -> u32 {
    let n = gaps.len() as u64;
    (0..=MAX_RICE_K)
        .min_by_key(|&k| {
            let quotients: u64 = gaps.iter().map(|&g| u64::from(g >> k)).sum();
            quotients + n * (u64::from(k) + 1)
        })
        .unwrap_or(0)
}

fn decode_rice(data: &[u8], len: usize) -> Result<StatusList, StatusError> {
    let mut list = StatusList {
        bits: vec![0; len / 4],
    };
    let len = len as u64;
    let mut input = BitReader::new(data);
    for status in [Status::Revoked, Status::Suspended, Status::Superseded] {
        let count = input.read(32)?;
        if count > len {
            return Err(StatusError::BadEncoding("count exceeds the list length"));
        }
        let k = input.read(5)? as u32;
        let mut next = 0u64;
        for _ in 0..count {
            let quotient = input.read_unary((len >> k) + 1)?;
            let gap = (quotient << k) | input.read(k)?;
            let index = next + gap;
            if index >= len {
                return Err(StatusError::IndexOutOfRange { index, len });
            }
            // index < len <= MAX_LEN, so it fits in u32.
            let index32 = index as u32;
            if list.get(index32) != Some(Status::Valid) {
                return Err(StatusError::DuplicateIndex { index });
            }
            list.put(index32, status);
            next = index + 1;
        }
    }
    input.finish()?;
    Ok(list)
}

/// Big-endian bit writer.
#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    pending: u32,
}

impl BitWriter {
    /// Write the `n <= 32` low bits of `value`.
    fn write(&mut self, value: u64, n: u32) {
        debug_assert!(n <= 32);
        if n == 0 {
            return;
        }
        self.acc = (self.acc << n) | (value & ((1u64 << n) - 1));
        self.pending += n;
        while self.pending >= 8 {
            self.pending -= 8;
            self.out.push((self.acc >> self.pending) as u8);
        }
        self.acc &= (1u64 << self.pending) - 1;
    }

    /// Write `q` one-bits and a zero-bit.
    fn write_unary(&mut self, mut q: u32) {
        while q >= 32 {
            self.write(u64::from(u32::MAX), 32);
            q -= 32;
        }
        self.write(((1u64 << q) - 1) << 1, q + 1);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.pending > 0 {
            self.out.push((self.acc << (8 - self.pending)) as u8);
        }
        self.out
    }
}

/// Big-endian bit reader.
struct BitReader<'a> {
    data: &'a [u8],
    /// The next byte of `data` to load into `acc`.
    next: usize,
    /// Loaded bits, left-aligned; the bits below the `avail` top ones are 0.
    acc: u64,
    avail: u32,
}

const TRUNCATED: StatusError = StatusError::BadEncoding("truncated rice data");

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> BitReader<'a> {
        BitReader {
            data,
            next: 0,
            acc: 0,
            avail: 0,
        }
    }

    /// Load whole bytes while at least 8 bits are free.
    #[inline]
    fn refill(&mut self) {
        while self.avail <= 56 {
            let Some(&byte) = self.data.get(self.next) else {
                break;
            };
            self.acc |= u64::from(byte) << (56 - self.avail);
            self.avail += 8;
            self.next += 1;
        }
    }

    /// Drop `n <= avail` bits.
    #[inline]
    fn consume(&mut self, n: u32) {
        self.acc = self.acc.checked_shl(n).unwrap_or(0);
        self.avail -= n;
    }

    /// Read `n <= 32` bits.
    #[inline]
    fn read(&mut self, n: u32) -> Result<u64, StatusError> {
        if n == 0 {
            return Ok(0);
        }
        self.refill();
        if self.avail < n {
            return Err(TRUNCATED);
        }
        let value = self.acc >> (64 - n);
        self.consume(n);
        Ok(value)
    }

    /// Read one-bits up to a zero-bit; fails once there are `limit` of them.
    #[inline]
    fn read_unary(&mut self, limit: u64) -> Result<u64, StatusError> {
        let mut q = 0u64;
        loop {
            self.refill();
            if self.avail == 0 {
                return Err(TRUNCATED);
            }
            let ones = self.acc.leading_ones().min(self.avail);
            q += u64::from(ones);
            if q >= limit {
                return Err(StatusError::BadEncoding(
                    "rice gap runs past the end of the list",
                ));
            }
            if ones < self.avail {
                self.consume(ones + 1);
                return Ok(q);
            }
            self.consume(ones);
        }
    }

    /// Check that only zero padding to the next byte follows.
    fn finish(self) -> Result<(), StatusError> {
        let padding = self.avail % 8;
        if padding > 0 && self.acc >> (64 - padding) != 0 {
            return Err(StatusError::BadEncoding("nonzero padding bits"));
        }
        let rest = (self.avail / 8) as usize + (self.data.len() - self.next);
        if rest != 0 {
            return Err(StatusError::TrailingBytes(rest));
        }
        Ok(())
    }
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Read one canonical unsigned LEB128 varint (at most 64 bits, no
/// redundant trailing zero groups).
fn read_varint(input: &mut &[u8]) -> Result<u64, StatusError> {
    let data: &[u8] = input;
    let mut value = 0u64;
    for (i, &byte) in data.iter().enumerate() {
        let shift = 7 * i as u32;
        let group = u64::from(byte & 0x7f);
        if shift >= 64 || (shift > 0 && group >> (64 - shift) != 0) {
            return Err(StatusError::BadEncoding("varint overflows 64 bits"));
        }
        value |= group << shift;
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return Err(StatusError::BadEncoding("overlong varint"));
            }
            *input = &data[i + 1..];
            return Ok(value);
        }
    }
    Err(StatusError::BadEncoding("truncated varint"))
}

// ---------------------------------------------------------------------------
// Canonical CBOR

fn uint(value: u64) -> Value {
    crate::cbor::uint(value)
}

fn write_canonical(value: &Value) -> Vec<u8> {
    crate::cbor::encode(value)
}

/// Decode one CBOR item that must make up all of `bytes`, have no map with
/// duplicate or unsorted keys, and be in deterministic encoding (RFC 8949
/// section 4.2.1), through the crate's strict decoder.
fn read_canonical(bytes: &[u8]) -> Result<Value, StatusError> {
    crate::cbor::decode_strict(bytes, usize::MAX).map_err(|e| match e {
        CborError::TrailingBytes(n) => StatusError::TrailingBytes(n),
        CborError::DuplicateKey(_) => StatusError::DuplicateKey,
        CborError::NonCanonical => StatusError::NonCanonical,
        other => StatusError::Cbor(other.to_string()),
    })
}

/// The values of a map that must have exactly the keys `keys`.
fn map_fields<const N: usize>(value: Value, keys: [u64; N]) -> Result<[Value; N], StatusError> {
    let Value::Map(entries) = value else {
        return Err(StatusError::NotAMap);
    };
    let mut found: [Option<Value>; N] = std::array::from_fn(|_| None);
    for (key, value) in entries {
        let slot = match &key {
            Value::Integer(i) => u64::try_from(*i)
                .ok()
                .and_then(|k| keys.iter().position(|&known| known == k)),
            _ => None,
        };
        match slot {
            // Duplicates were rejected by read_canonical.
            Some(slot) => found[slot] = Some(value),
            None => return Err(StatusError::UnknownKey(describe_key(&key))),
        }
    }
    let mut out: [Value; N] = std::array::from_fn(|_| Value::Null);
    for (slot, (value, key)) in found.into_iter().zip(keys).enumerate() {
        out[slot] = value.ok_or(StatusError::MissingKey(key))?;
    }
    Ok(out)
}

fn describe_key(key: &Value) -> String {
    match key {
        Value::Integer(i) => i128::from(*i).to_string(),
        Value::Text(t) => format!("{t:?}"),
        _ => "of a non-integer type".to_owned(),
    }
}

fn as_u64(value: Value, key: u64) -> Result<u64, StatusError> {
    match value {
        Value::Integer(i) => u64::try_from(i).map_err(|_| StatusError::WrongType(key)),
        _ => Err(StatusError::WrongType(key)),
    }
}

fn as_bytes(value: Value, key: u64) -> Result<Vec<u8>, StatusError> {
    match value {
        Value::Bytes(b) => Ok(b),
        _ => Err(StatusError::WrongType(key)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// splitmix64, for reproducible test data.
    struct SplitMix64(u64);

    impl SplitMix64 {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A list of `len` entries with exactly `revoked` random revoked entries
    /// among the first `len`.
    fn random_list(seed: u64, len: usize, revoked: usize) -> StatusList {
        let mut rng = SplitMix64(seed);
        let mut list = StatusList::new(len).unwrap();
        let mut done = 0;
        while done < revoked {
            let index = rng.below(len as u64) as u32;
            if list.get(index) == Some(Status::Valid) {
                list.set(index, Status::Revoked).unwrap();
                done += 1;
            }
        }
        list
    }

    fn snapshot(seq: u64, entries: &[(u32, Status)], len: usize) -> StatusSnapshot {
        let mut list = StatusList::new(len).unwrap();
        for &(i, s) in entries {
            list.set(i, s).unwrap();
        }
        StatusSnapshot { seq, list }
    }

    fn cbor(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(value, &mut out).unwrap();
        out
    }

    fn map(entries: &[(u64, Value)]) -> Value {
        Value::Map(entries.iter().map(|(k, v)| (uint(*k), v.clone())).collect())
    }

    fn snapshot_map(seq: u64, len: u64, encoding: u64, data: Vec<u8>) -> Vec<u8> {
        cbor(&map(&[
            (1, uint(seq)),
            (2, uint(len)),
            (3, uint(encoding)),
            (4, Value::Bytes(data)),
        ]))
    }

    fn delta_map(from: u64, to: u64, len: u64, changes: Vec<u8>) -> Vec<u8> {
        cbor(&map(&[
            (1, uint(from)),
            (2, uint(to)),
            (3, uint(len)),
            (4, Value::Bytes(changes)),
        ]))
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// A Rice bit stream from (count, k, gaps) per status 1, 2, 3.
    fn rice(sections: [(u64, u32, &[u64]); 3], tail: &[(u64, u32)]) -> Vec<u8> {
        let mut w = BitWriter::default();
        for (count, k, gaps) in sections {
            w.write(count, 32);
            w.write(k.into(), 5);
            for &gap in gaps {
                w.write_unary((gap >> k) as u32);
                w.write(gap, k);
            }
        }
        for &(value, n) in tail {
            w.write(value, n);
        }
        w.finish()
    }

    const BLOCK: u64 = StatusList::BLOCK as u64;
    const EMPTY: (u64, u32, &[u64]) = (0, 0, &[]);

    #[test]
    fn status_bits_labels_and_serde() {
        for status in Status::ALL {
            assert_eq!(Status::from_bits(status.bits()), Some(status));
            assert!(!status.label_en().is_empty());
            assert!(!status.label_zh().is_empty());
        }
        assert_eq!(Status::from_bits(4), None);
        assert_eq!(Status::Revoked.label_zh(), "已注销/吊销");
        assert_eq!(
            serde_json::to_string(&Status::Superseded).unwrap(),
            "\"superseded\""
        );
        assert_eq!(
            serde_json::from_str::<Status>("\"suspended\"").unwrap(),
            Status::Suspended
        );
    }

    #[test]
    fn new_rounds_up_to_blocks() {
        let block = StatusList::BLOCK;
        assert_eq!(StatusList::new(0).unwrap().len(), block);
        assert_eq!(StatusList::new(1).unwrap().len(), block);
        assert_eq!(StatusList::new(block).unwrap().len(), block);
        assert_eq!(StatusList::new(block + 1).unwrap().len(), 2 * block);
        assert_eq!(
            StatusList::new(StatusList::MAX_LEN).unwrap().len(),
            StatusList::MAX_LEN
        );
        assert!(matches!(
            StatusList::new(StatusList::MAX_LEN + 1),
            Err(StatusError::TooLarge { .. })
        ));
        assert!(!StatusList::new(0).unwrap().is_empty());
    }

    #[test]
    fn get_set_and_growth() {
        let block = StatusList::BLOCK as u32;
        let mut list = StatusList::new(0).unwrap();
        assert_eq!(list.get(0), Some(Status::Valid));
        assert_eq!(list.get(block - 1), Some(Status::Valid));
        assert_eq!(list.get(block), None);
        assert_eq!(list.get(u32::MAX), None);

        list.set(5, Status::Suspended).unwrap();
        list.set(6, Status::Revoked).unwrap();
        list.set(7, Status::Superseded).unwrap();
        list.set(5, Status::Valid).unwrap();
        assert_eq!(list.get(4), Some(Status::Valid));
        assert_eq!(list.get(5), Some(Status::Valid));
        assert_eq!(list.get(6), Some(Status::Revoked));
        assert_eq!(list.get(7), Some(Status::Superseded));

        // Growth by whole blocks, even when setting a valid entry.
        list.set(block, Status::Valid).unwrap();
        assert_eq!(list.len(), 2 * block as usize);
        list.set(5 * block + 3, Status::Suspended).unwrap();
        assert_eq!(list.len(), 6 * block as usize);
        assert_eq!(list.get(5 * block + 3), Some(Status::Suspended));
        assert_eq!(list.get(6 * block), None);

        // The hard cap.
        let cap = StatusList::MAX_LEN as u32;
        let before = list.clone();
        assert_eq!(
            list.set(cap, Status::Revoked),
            Err(StatusError::IndexOutOfRange {
                index: cap.into(),
                len: cap.into()
            })
        );
        assert_eq!(list, before);
        list.set(cap - 1, Status::Revoked).unwrap();
        assert_eq!(list.len(), StatusList::MAX_LEN);
    }

    #[test]
    fn counts_and_iteration() {
        let entries = [
            (0, Status::Revoked),
            (3, Status::Superseded),
            (4, Status::Suspended),
            (9, Status::Revoked),
            (131_071, Status::Superseded),
        ];
        let list = snapshot(0, &entries, 0).list;
        assert_eq!(list.count(Status::Revoked), 2);
        assert_eq!(list.count(Status::Suspended), 1);
        assert_eq!(list.count(Status::Superseded), 2);
        assert_eq!(list.count(Status::Valid), StatusList::BLOCK - 5);
        assert_eq!(list.iter_non_valid().collect::<Vec<_>>(), entries);
    }

    #[test]
    fn diff_lists() {
        let old = snapshot(0, &[(1, Status::Revoked), (2, Status::Suspended)], 0).list;
        let new = snapshot(
            0,
            &[
                (1, Status::Revoked),
                (2, Status::Valid),
                (3, Status::Superseded),
                (200_000, Status::Revoked),
            ],
            0,
        )
        .list;
        assert_eq!(
            StatusList::diff(&old, &new),
            vec![
                (2, Status::Valid),
                (3, Status::Superseded),
                (200_000, Status::Revoked)
            ]
        );
        assert_eq!(StatusList::diff(&new, &new), vec![]);
    }

    #[test]
    fn snapshot_of_1m_at_1_percent_fits_the_target() {
        let list = random_list(1, 1_000_000, 10_000);
        let snapshot = StatusSnapshot { seq: 7, list };
        let bytes = snapshot.to_cbor();
        assert!(bytes.len() <= 14_336, "snapshot is {} bytes", bytes.len());
        let rice = snapshot.to_cbor_with(Encoding::Rice);
        assert_eq!(bytes, rice, "rice is smaller than deflate here");
        let decoded = StatusSnapshot::from_cbor(&bytes, 1 << 20).unwrap();
        assert_eq!(decoded, snapshot);
    }

    #[test]
    fn dense_list_picks_deflate() {
        // Every other entry superseded: DEFLATE sees a repeating pattern.
        let mut list = StatusList::new(0).unwrap();
        for i in (0..StatusList::BLOCK as u32).step_by(2) {
            list.set(i, Status::Superseded).unwrap();
        }
        let snapshot = StatusSnapshot { seq: 1, list };
        let bytes = snapshot.to_cbor();
        assert_eq!(bytes, snapshot.to_cbor_with(Encoding::Deflate));
        assert_eq!(
            StatusSnapshot::from_cbor(&bytes, StatusList::BLOCK).unwrap(),
            snapshot
        );
    }

    #[test]
    fn snapshot_wire_layout() {
        let snapshot = snapshot(5, &[(0, Status::Revoked)], 0);
        let bytes = snapshot.to_cbor_with(Encoding::Rice);
        // Canonical map header and keys 1..4 with shortest integers.
        let expected = snapshot_map(5, BLOCK, 1, rice([(1, 0, &[0]), EMPTY, EMPTY], &[]));
        assert_eq!(bytes, expected);
        assert_eq!(&bytes[..7], &[0xa4, 0x01, 0x05, 0x02, 0x1a, 0x00, 0x02]);
    }

    #[test]
    fn delta_wire_layout() {
        let delta = StatusDelta {
            from_seq: 1,
            to_seq: 2,
            len: StatusList::BLOCK,
            changes: vec![
                (0, Status::Revoked),
                (1, Status::Suspended),
                (40, Status::Valid),
            ],
        };
        let bytes = delta.to_cbor().unwrap();
        // Gaps 0, 0, 38: varints 0x01, 0x02, 38 << 2 = 152 = 0x98 0x01.
        assert_eq!(bytes, delta_map(1, 2, BLOCK, vec![0x01, 0x02, 0x98, 0x01]));
        assert_eq!(
            StatusDelta::from_cbor(&bytes, StatusList::BLOCK).unwrap(),
            delta
        );
    }

    #[test]
    fn malformed_snapshots_are_rejected() {
        type Check = fn(&StatusError) -> bool;
        let block = StatusList::BLOCK as u64;
        // Gap 0 with k = 2: 114 bits, so 6 padding bits.
        let good_rice = rice([(1, 2, &[0]), EMPTY, EMPTY], &[]);
        let good_zlib = zlib(&vec![0u8; StatusList::BLOCK / 4]);
        let mut with_trailing = snapshot_map(1, block, 1, good_rice.clone());
        with_trailing.push(0x00);
        let mut trailing_rice = good_rice.clone();
        trailing_rice.push(0);
        let mut trailing_zlib = good_zlib.clone();
        trailing_zlib.push(0);
        let mut corrupt_zlib = good_zlib.clone();
        let last = corrupt_zlib.len() - 1;
        corrupt_zlib[last] ^= 1; // adler32 checksum
                                 // Key 1 twice, otherwise sorted.
        let duplicate = cbor(&Value::Map(vec![
            (uint(1), uint(1)),
            (uint(1), uint(2)),
            (uint(2), uint(block)),
            (uint(3), uint(1)),
            (uint(4), Value::Bytes(good_rice.clone())),
        ]));
        let unsorted = cbor(&Value::Map(vec![
            (uint(2), uint(block)),
            (uint(1), uint(1)),
            (uint(3), uint(1)),
            (uint(4), Value::Bytes(good_rice.clone())),
        ]));
        // seq 5 as 0x18 0x05 instead of 0x05.
        let mut long_int = snapshot_map(5, block, 1, good_rice.clone());
        assert_eq!(long_int[2], 0x05);
        long_int.splice(2..3, [0x18, 0x05]);
        // Indefinite-length map.
        let mut indefinite = snapshot_map(5, block, 1, good_rice.clone());
        indefinite[0] = 0xbf;
        indefinite.push(0xff);
        let nested_duplicate = cbor(&map(&[
            (1, uint(1)),
            (2, uint(block)),
            (3, uint(1)),
            (4, Value::Bytes(good_rice.clone())),
            (5, Value::Map(vec![(uint(0), uint(0)), (uint(0), uint(0))])),
        ]));

        let cases: Vec<(&str, Vec<u8>, Check)> = vec![
            ("not cbor", vec![0xa4, 0x01], |e| {
                matches!(e, StatusError::Cbor(_))
            }),
            ("not a map", cbor(&uint(3)), |e| *e == StatusError::NotAMap),
            ("trailing bytes after the map", with_trailing, |e| {
                *e == StatusError::TrailingBytes(1)
            }),
            ("duplicate key", duplicate, |e| {
                *e == StatusError::DuplicateKey
            }),
            ("nested duplicate key", nested_duplicate, |e| {
                *e == StatusError::DuplicateKey
            }),
            ("unsorted keys", unsorted, |e| {
                *e == StatusError::NonCanonical
            }),
            ("non-shortest integer", long_int, |e| {
                *e == StatusError::NonCanonical
            }),
            ("indefinite-length map", indefinite, |e| {
                *e == StatusError::NonCanonical
            }),
            (
                "unknown key",
                cbor(&map(&[
                    (1, uint(1)),
                    (2, uint(block)),
                    (3, uint(1)),
                    (4, Value::Bytes(good_rice.clone())),
                    (9, uint(0)),
                ])),
                |e| *e == StatusError::UnknownKey("9".into()),
            ),
            (
                "missing key",
                cbor(&map(&[(1, uint(1)), (2, uint(block)), (3, uint(1))])),
                |e| *e == StatusError::MissingKey(4),
            ),
            (
                "wrong type",
                cbor(&map(&[
                    (1, Value::Text("1".into())),
                    (2, uint(block)),
                    (3, uint(1)),
                    (4, Value::Bytes(good_rice.clone())),
                ])),
                |e| *e == StatusError::WrongType(1),
            ),
            (
                "negative seq",
                cbor(&map(&[
                    (1, Value::Integer((-1).into())),
                    (2, uint(block)),
                    (3, uint(1)),
                    (4, Value::Bytes(good_rice.clone())),
                ])),
                |e| *e == StatusError::WrongType(1),
            ),
            (
                "declared length over max_len",
                snapshot_map(1, 2 * block, 1, good_rice.clone()),
                |e| {
                    *e == StatusError::TooLarge {
                        len: 2 * BLOCK,
                        max: BLOCK,
                    }
                },
            ),
            (
                "length not a multiple of the block",
                snapshot_map(1, block - 4, 1, good_rice.clone()),
                |e| *e == StatusError::BadLength(BLOCK - 4),
            ),
            (
                "zero length",
                snapshot_map(1, 0, 1, good_rice.clone()),
                |e| *e == StatusError::BadLength(0),
            ),
            (
                "unknown encoding",
                snapshot_map(1, block, 2, good_rice.clone()),
                |e| *e == StatusError::UnknownEncoding(2),
            ),
            (
                "a delta is not a snapshot",
                delta_map(1, 2, block, vec![0x01]),
                |e| *e == StatusError::BadLength(2),
            ),
            // DEFLATE
            (
                "zlib bomb",
                snapshot_map(1, block, 0, zlib(&vec![0u8; 16 * StatusList::BLOCK])),
                |e| {
                    *e == StatusError::DecompressionBomb {
                        limit: StatusList::BLOCK / 4,
                    }
                },
            ),
            (
                "zlib one byte too many",
                snapshot_map(1, block, 0, zlib(&vec![0u8; StatusList::BLOCK / 4 + 1])),
                |e| matches!(e, StatusError::DecompressionBomb { .. }),
            ),
            (
                "zlib short",
                snapshot_map(1, block, 0, zlib(&vec![0u8; StatusList::BLOCK / 4 - 1])),
                |e| matches!(e, StatusError::BadEncoding(_)),
            ),
            (
                "zlib garbage",
                snapshot_map(1, block, 0, vec![1, 2, 3, 4]),
                |e| matches!(e, StatusError::BadEncoding(_)),
            ),
            (
                "zlib bad checksum",
                snapshot_map(1, block, 0, corrupt_zlib),
                |e| matches!(e, StatusError::BadEncoding(_)),
            ),
            (
                "zlib trailing bytes",
                snapshot_map(1, block, 0, trailing_zlib),
                |e| *e == StatusError::TrailingBytes(1),
            ),
            // Rice
            (
                "rice trailing bytes",
                snapshot_map(1, block, 1, trailing_rice),
                |e| *e == StatusError::TrailingBytes(1),
            ),
            (
                "rice nonzero padding",
                snapshot_map(1, block, 1, {
                    let mut bits = good_rice.clone();
                    *bits.last_mut().unwrap() |= 1;
                    bits
                }),
                |e| *e == StatusError::BadEncoding("nonzero padding bits"),
            ),
            (
                "rice truncated",
                snapshot_map(1, block, 1, good_rice[..good_rice.len() - 2].to_vec()),
                |e| *e == TRUNCATED,
            ),
            (
                "rice count over length",
                snapshot_map(1, block, 1, rice([(BLOCK + 1, 0, &[]), EMPTY, EMPTY], &[])),
                |e| matches!(e, StatusError::BadEncoding(_)),
            ),
            (
                "rice huge count, short data",
                snapshot_map(1, block, 1, rice([(1000, 3, &[1, 2]), EMPTY, EMPTY], &[])),
                |e| *e == TRUNCATED,
            ),
            (
                "rice index out of range",
                snapshot_map(
                    1,
                    block,
                    1,
                    rice([(2, 10, &[5, BLOCK - 6]), EMPTY, EMPTY], &[]),
                ),
                |e| {
                    *e == StatusError::IndexOutOfRange {
                        index: BLOCK,
                        len: BLOCK,
                    }
                },
            ),
            (
                "rice unary run past the end",
                snapshot_map(
                    1,
                    block,
                    1,
                    rice(
                        [EMPTY, EMPTY, (1, 0, &[])],
                        &[(u64::from(u32::MAX), 32); 5000],
                    ),
                ),
                |e| matches!(e, StatusError::BadEncoding(_)),
            ),
            (
                "rice index under two statuses",
                snapshot_map(1, block, 1, rice([(1, 2, &[7]), EMPTY, (1, 3, &[7])], &[])),
                |e| *e == StatusError::DuplicateIndex { index: 7 },
            ),
        ];
        for (name, bytes, check) in cases {
            let result = StatusSnapshot::from_cbor(&bytes, StatusList::BLOCK);
            match result {
                Err(e) => assert!(check(&e), "{name}: unexpected error {e:?}"),
                Ok(s) => panic!("{name}: accepted {s:?}"),
            }
        }
        // The helpers build a valid payload when not tampered with.
        for encoding in [0, 1] {
            let data = if encoding == 0 {
                good_zlib.clone()
            } else {
                good_rice.clone()
            };
            StatusSnapshot::from_cbor(&snapshot_map(1, block, encoding, data), StatusList::BLOCK)
                .unwrap();
        }
    }

    #[test]
    fn malformed_deltas_are_rejected() {
        type Check = fn(&StatusError) -> bool;
        let block = StatusList::BLOCK as u64;
        let cases: Vec<(&str, Vec<u8>, Check)> = vec![
            (
                "to_seq equal to from_seq",
                delta_map(3, 3, block, vec![]),
                |e| {
                    *e == StatusError::SequenceNotIncreasing {
                        from_seq: 3,
                        to_seq: 3,
                    }
                },
            ),
            (
                "to_seq below from_seq",
                delta_map(3, 2, block, vec![]),
                |e| matches!(e, StatusError::SequenceNotIncreasing { .. }),
            ),
            (
                "length over max_len",
                delta_map(1, 2, 2 * block, vec![]),
                |e| matches!(e, StatusError::TooLarge { .. }),
            ),
            (
                "length not a block multiple",
                delta_map(1, 2, 100, vec![]),
                |e| *e == StatusError::BadLength(100),
            ),
            (
                "index out of range",
                delta_map(1, 2, block, {
                    let mut v = Vec::new();
                    write_varint(&mut v, (BLOCK << 2) | 1);
                    v
                }),
                |e| {
                    *e == StatusError::IndexOutOfRange {
                        index: BLOCK,
                        len: BLOCK,
                    }
                },
            ),
            (
                "truncated varint",
                delta_map(1, 2, block, vec![0x81]),
                |e| *e == StatusError::BadEncoding("truncated varint"),
            ),
            (
                "overlong varint",
                delta_map(1, 2, block, vec![0x81, 0x00]),
                |e| *e == StatusError::BadEncoding("overlong varint"),
            ),
            (
                "varint over 64 bits",
                delta_map(
                    1,
                    2,
                    block,
                    vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
                ),
                |e| *e == StatusError::BadEncoding("varint overflows 64 bits"),
            ),
            (
                "unknown key",
                cbor(&map(&[
                    (1, uint(1)),
                    (2, uint(2)),
                    (3, uint(block)),
                    (4, Value::Bytes(vec![])),
                    (5, Value::Bytes(vec![])),
                ])),
                |e| *e == StatusError::UnknownKey("5".into()),
            ),
            (
                "text key",
                cbor(&Value::Map(vec![(Value::Text("a".into()), uint(1))])),
                |e| matches!(e, StatusError::UnknownKey(_)),
            ),
            (
                "changes not bytes",
                cbor(&map(&[
                    (1, uint(1)),
                    (2, uint(2)),
                    (3, uint(block)),
                    (4, Value::Array(vec![])),
                ])),
                |e| *e == StatusError::WrongType(4),
            ),
            (
                "a snapshot is not a delta",
                snapshot(1, &[], 0).to_cbor(),
                |e| *e == StatusError::BadLength(1),
            ),
            (
                "trailing bytes",
                {
                    let mut v = delta_map(1, 2, block, vec![]);
                    v.push(0xf6);
                    v
                },
                |e| *e == StatusError::TrailingBytes(1),
            ),
        ];
        for (name, bytes, check) in cases {
            match StatusDelta::from_cbor(&bytes, StatusList::BLOCK) {
                Err(e) => assert!(check(&e), "{name}: unexpected error {e:?}"),
                Ok(d) => panic!("{name}: accepted {d:?}"),
            }
        }
    }

    #[test]
    fn invalid_deltas_do_not_encode() {
        let base = StatusDelta {
            from_seq: 1,
            to_seq: 2,
            len: StatusList::BLOCK,
            changes: vec![(3, Status::Revoked), (3, Status::Valid)],
        };
        assert_eq!(base.to_cbor(), Err(StatusError::NotIncreasing { index: 3 }));
        let unsorted = StatusDelta {
            changes: vec![(4, Status::Revoked), (3, Status::Valid)],
            ..base.clone()
        };
        assert_eq!(
            unsorted.to_cbor(),
            Err(StatusError::NotIncreasing { index: 3 })
        );
        let beyond = StatusDelta {
            changes: vec![(StatusList::BLOCK as u32, Status::Revoked)],
            ..base.clone()
        };
        assert!(matches!(
            beyond.to_cbor(),
            Err(StatusError::IndexOutOfRange { .. })
        ));
        let backwards = StatusDelta {
            to_seq: 1,
            changes: vec![],
            ..base
        };
        assert!(matches!(
            backwards.to_cbor(),
            Err(StatusError::SequenceNotIncreasing { .. })
        ));
    }

    #[test]
    fn deltas_chain_in_order() {
        let v0 = random_list(2, 100_000, 500);
        let mut v1 = v0.clone();
        v1.set(10, Status::Suspended).unwrap();
        v1.set(11, Status::Superseded).unwrap();
        let mut v2 = v1.clone();
        v2.set(10, Status::Valid).unwrap();
        v2.set(300_000, Status::Revoked).unwrap(); // grows by two blocks
        let mut v3 = v2.clone();
        v3.set(12, Status::Revoked).unwrap();

        let d01 = StatusDelta::between(1, 2, &v0, &v1).unwrap();
        let d12 = StatusDelta::between(2, 3, &v1, &v2).unwrap();
        let d23 = StatusDelta::between(3, 5, &v2, &v3).unwrap();
        // Through the wire, as a verifier receives them.
        let wire = |d: &StatusDelta| {
            StatusDelta::from_cbor(&d.to_cbor().unwrap(), StatusList::MAX_LEN).unwrap()
        };
        let (d01, d12, d23) = (wire(&d01), wire(&d12), wire(&d23));

        let start = StatusCache::from_snapshot(StatusSnapshot {
            seq: 1,
            list: v0.clone(),
        });
        let mut cache = start.clone();

        // Out of order / gap: fails, cache untouched.
        for delta in [&d12, &d23] {
            let before = cache.clone();
            assert_eq!(
                cache.apply(delta),
                Err(StatusError::SequenceMismatch {
                    expected: 1,
                    found: delta.from_seq
                })
            );
            assert_eq!(cache, before);
        }

        cache.apply(&d01).unwrap();
        assert_eq!((cache.seq(), cache.list()), (2, &v1));
        assert_eq!(cache.get(10), Some(Status::Suspended));

        // Replay: fails, cache untouched.
        let before = cache.clone();
        assert!(matches!(
            cache.apply(&d01),
            Err(StatusError::SequenceMismatch {
                expected: 2,
                found: 1
            })
        ));
        assert_eq!(cache, before);

        assert_eq!(cache.get(300_000), None);
        cache.apply(&d12).unwrap();
        assert_eq!(cache.seq(), 3);
        assert_eq!(cache.get(300_000), Some(Status::Revoked));
        assert_eq!(cache.list().len(), 3 * StatusList::BLOCK);

        // Older: fails, cache untouched.
        let before = cache.clone();
        for delta in [&d01, &d12] {
            assert!(matches!(
                cache.apply(delta),
                Err(StatusError::SequenceMismatch { .. })
            ));
        }
        assert_eq!(cache, before);

        cache.apply(&d23).unwrap();
        assert_eq!((cache.seq(), cache.list()), (5, &v3));

        // A delta that would shrink the list is refused, cache untouched.
        let shrink = StatusDelta {
            from_seq: 5,
            to_seq: 6,
            len: StatusList::BLOCK,
            changes: vec![],
        };
        let before = cache.clone();
        assert!(matches!(
            cache.apply(&shrink),
            Err(StatusError::ListShrinks { .. })
        ));
        // An invalid delta with the right sequence is refused, cache untouched.
        let invalid = StatusDelta {
            from_seq: 5,
            to_seq: 6,
            len: 3 * StatusList::BLOCK,
            changes: vec![(1, Status::Revoked), (1, Status::Valid)],
        };
        assert!(matches!(
            cache.apply(&invalid),
            Err(StatusError::NotIncreasing { .. })
        ));
        assert_eq!(cache, before);
    }

    #[test]
    fn snapshots_replace_only_when_newer() {
        let mut cache = StatusCache::from_snapshot(snapshot(4, &[(1, Status::Revoked)], 0));
        let before = cache.clone();
        for seq in [3, 4] {
            assert_eq!(
                cache.replace(snapshot(seq, &[], 0)),
                Err(StatusError::StaleSnapshot {
                    current: 4,
                    found: seq
                })
            );
            assert_eq!(cache, before);
        }
        cache.replace(snapshot(5, &[], 0)).unwrap();
        assert_eq!(cache.seq(), 5);
        assert_eq!(cache.get(1), Some(Status::Valid));
    }

    fn status() -> impl Strategy<Value = Status> {
        prop::sample::select(Status::ALL.to_vec())
    }

    fn entries(len: u32) -> impl Strategy<Value = Vec<(u32, Status)>> {
        prop::collection::vec((0..len, status()), 0..400)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn snapshot_round_trips(
            seq in any::<u64>(),
            blocks in 1usize..=2,
            entries in entries(2 * StatusList::BLOCK as u32),
            dense_run in 0u32..20_000,
        ) {
            let len = blocks * StatusList::BLOCK;
            let mut list = StatusList::new(len).unwrap();
            for (i, s) in entries {
                if (i as usize) < len {
                    list.set(i, s).unwrap();
                }
            }
            // A dense stretch, so that both encodings get picked.
            for i in 0..dense_run {
                list.set(i, Status::from_low_bits((i % 7) as u8)).unwrap();
            }
            let snapshot = StatusSnapshot { seq, list };
            let auto = snapshot.to_cbor();
            for bytes in [
                auto.clone(),
                snapshot.to_cbor_with(Encoding::Deflate),
                snapshot.to_cbor_with(Encoding::Rice),
            ] {
                let decoded = StatusSnapshot::from_cbor(&bytes, len).unwrap();
                prop_assert_eq!(&decoded, &snapshot);
                prop_assert!(auto.len() <= bytes.len());
            }
            prop_assert!(StatusSnapshot::from_cbor(&auto, len - 1).is_err());
        }

        #[test]
        fn delta_round_trips(
            from_seq in 0u64..u64::MAX,
            step in 1u64..1000,
            blocks in 1usize..=3,
            raw in prop::collection::btree_map(0..3 * StatusList::BLOCK as u32, status(), 0..500),
        ) {
            let len = blocks * StatusList::BLOCK;
            let delta = StatusDelta {
                from_seq,
                to_seq: from_seq.saturating_add(step).max(from_seq + 1),
                len,
                changes: raw.into_iter().filter(|(i, _)| (*i as usize) < len).collect(),
            };
            let bytes = delta.to_cbor().unwrap();
            prop_assert_eq!(StatusDelta::from_cbor(&bytes, len).unwrap(), delta);
        }

        #[test]
        fn applying_a_diff_reproduces_the_new_list(
            old in entries(StatusList::BLOCK as u32),
            new in entries(2 * StatusList::BLOCK as u32),
        ) {
            let old = snapshot(9, &old, 0);
            let new = snapshot(10, &new, 0).list;
            let delta = StatusDelta::between(9, 10, &old.list, &new).unwrap();
            let mut cache = StatusCache::from_snapshot(old);
            cache.apply(&delta).unwrap();
            prop_assert_eq!(cache.list(), &new);
            prop_assert_eq!(cache.seq(), 10);
        }

        #[test]
        fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = StatusSnapshot::from_cbor(&bytes, StatusList::BLOCK);
            let _ = StatusDelta::from_cbor(&bytes, StatusList::BLOCK);
        }
    }
}
