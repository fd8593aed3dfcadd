//! STUB: status.
