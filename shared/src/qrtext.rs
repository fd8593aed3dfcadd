//! STUB: qrtext.
