//! STUB: presentation.
