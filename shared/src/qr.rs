//! STUB: qr.
