//! STUB: wire.
