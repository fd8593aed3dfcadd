//! STUB: crypto.
