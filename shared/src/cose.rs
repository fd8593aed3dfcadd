//! STUB: cose.
