//! Domain model: the nine certificate types, their face fields, the
//! identifier types that parse untrusted input, and the non-conformance
//! (不规范数据) checker.
//!
//! The data model is gathered here in one place so it can be corrected when
//! the official JT/T 1290/1291/1292 field tables are at hand.

pub mod catalogue;
pub mod cert;
pub mod ids;
pub mod registry;
pub mod validate;

pub use catalogue::{render_number, CatalogueEntry, FieldFormat, FieldSpec};
pub use cert::{CertType, CertificateData, Face, Issuer, PermitFace, PersonFace, VehicleFace};
pub use ids::{
    parse_date, province_name_zh, CertIdentifier, DivisionCode, IdKind, IdNumber, Jurisdiction,
    ParseError, PlateColour, PlateNumber, ScopeCode, Sex, Tonnage, Uscc, Vin, JILIN, JURISDICTIONS,
    LIAONING, LIAONING_CITIES,
};
pub use registry::{Registry, RegistryError};
pub use validate::{largest_realistic_record, sample_record, Nonconformance, RawRecord};
