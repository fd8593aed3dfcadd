//! STUB: cbor.
