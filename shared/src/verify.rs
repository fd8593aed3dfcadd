//! STUB: verify.
