//! STUB — the catalogue of certificate types (R1).
#![allow(missing_docs)]

/// Qualification classes (从业资格类别) by code.
pub const QUALIFICATION_CLASSES: &[(u8, &str)] = &[];
