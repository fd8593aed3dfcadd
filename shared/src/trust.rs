//! STUB: trust.
