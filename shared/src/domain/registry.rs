//! Values official registries assign, kept out of the code (issue 14 item
//! 6): the GB/T 36904 certificate-type code of each type and the issuing
//! agencies' unified social credit codes, read from `shared/registry.json`.
//!
//! The shipped values are **placeholders** until the official ones are
//! given (the file says so). The file is embedded at build time rather than
//! read at run time on purpose: the type codes enter every certificate's
//! identifier, which each verifier (server, field client, third parties)
//! derives itself from the claims, so all of them must be built with the
//! same values; a run-time file on one server would make its identifiers
//! disagree with every device's. The credit codes are the server's
//! first-start defaults for the issuing authorities, which reach verifiers
//! through the signed trust list.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::cert::CertType;
use super::ids::{CertIdentifier, DivisionCode, Uscc};

/// The shipped registry file.
pub const SHIPPED: &str = include_str!("../../registry.json");

/// Why a registry file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Not the documented JSON shape.
    #[error("registry: {0}")]
    Json(String),
    /// A value is wrong; the message names it.
    #[error("registry: {0}")]
    Invalid(String),
}

/// The registry values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    type_codes: BTreeMap<CertType, String>,
    authorities: BTreeMap<DivisionCode, Uscc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[allow(dead_code)]
    note: String,
    type_codes: BTreeMap<String, String>,
    authorities: BTreeMap<String, String>,
}

impl Registry {
    /// Parses a registry file: a type code for each of the nine types (one
    /// that builds a valid GB/T 36904 identifier) and valid credit codes
    /// for valid divisions; nothing else.
    pub fn parse(text: &str) -> Result<Registry, RegistryError> {
        let file: File =
            serde_json::from_str(text).map_err(|e| RegistryError::Json(e.to_string()))?;
        let mut type_codes = BTreeMap::new();
        for (name, code) in file.type_codes {
            let t = CertType::from_code(&name).ok_or_else(|| {
                RegistryError::Invalid(format!("type_codes: unknown certificate type {name:?}"))
            })?;
            // A code is good when it builds an identifier.
            CertIdentifier::build(&code, "11210000001275495J", "1", 1)
                .map_err(|e| RegistryError::Invalid(format!("type_codes.{name}: {code:?}: {e}")))?;
            type_codes.insert(t, code);
        }
        if let Some(t) = CertType::ALL.iter().find(|t| !type_codes.contains_key(t)) {
            return Err(RegistryError::Invalid(format!(
                "type_codes: no code for {}",
                t.code()
            )));
        }
        let mut authorities = BTreeMap::new();
        for (division, uscc) in file.authorities {
            let d = DivisionCode::parse(&division)
                .map_err(|e| RegistryError::Invalid(format!("authorities: {division:?}: {e}")))?;
            let u = Uscc::parse(&uscc).map_err(|e| {
                RegistryError::Invalid(format!("authorities.{division}: {uscc:?}: {e}"))
            })?;
            authorities.insert(d, u);
        }
        Ok(Registry {
            type_codes,
            authorities,
        })
    }

    /// The shipped registry (parsed once), or why it does not parse (a
    /// build defect: `registry::tests` keeps it from shipping).
    pub fn shipped() -> Result<&'static Registry, &'static RegistryError> {
        static SHIPPED_REGISTRY: OnceLock<Result<Registry, RegistryError>> = OnceLock::new();
        SHIPPED_REGISTRY
            .get_or_init(|| Registry::parse(SHIPPED))
            .as_ref()
    }

    /// The GB/T 36904 type code of `t`.
    pub fn type_code(&self, t: CertType) -> &str {
        self.type_codes.get(&t).map_or("", String::as_str)
    }

    /// The credit code of the issuing authority of `division`, if listed.
    pub fn authority_uscc(&self, division: DivisionCode) -> Option<&Uscc> {
        self.authorities.get(&division)
    }
}

/// Defined here rather than with the type in [`super::cert`], so that the
/// registry depends on the types and not the other way round.
impl CertType {
    /// The certificate-type code of the GB/T 36904 identifier: the defining
    /// body's unified social credit code plus a 3-digit sequence, from the
    /// registry file (`shared/registry.json`, placeholders until the
    /// official values are given). Empty if the shipped file were broken,
    /// so identifiers fail to build (its test keeps that from shipping).
    pub fn identifier_type_code(self) -> &'static str {
        Registry::shipped().map_or("", |r| r.type_code(self))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_registry_parses_and_names_every_type_and_authority() {
        let r = Registry::shipped().unwrap();
        assert_eq!(r.type_code(CertType::QC), "11100000000013338W001");
        assert_eq!(r.type_code(CertType::WYJY), "11100000000013338W009");
        for j in crate::domain::JURISDICTIONS {
            for d in std::iter::once(j.division()).chain(j.cities()) {
                assert!(r.authority_uscc(d).is_some(), "{d:?}");
            }
        }
        assert!(SHIPPED.contains("PLACEHOLDERS"));
    }

    #[test]
    fn bad_registries_are_refused() {
        for (from, to) in [
            ("\"QC\": \"11100000000013338W001\",", ""),
            ("\"QC\"", "\"XX\""),
            ("11100000000013338W004", "not a code"),
            ("11210100LNPH00000D", "11210100LNPH00000E"),
            ("\"210100\"", "\"230100\""),
            ("\"note\"", "\"remark\""),
        ] {
            let text = SHIPPED.replacen(from, to, 1);
            assert_ne!(text, SHIPPED, "{from}");
            assert!(Registry::parse(&text).is_err(), "{from} -> {to}");
        }
    }
}
