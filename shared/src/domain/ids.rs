//! STUB — being replaced by the full parse-don't-validate implementation.
#![allow(missing_docs)]

use serde::{Deserialize, Serialize};
use time::Date;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("invalid: {0}")]
    Invalid(String),
}

macro_rules! text_id {
    ($t:ident) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub struct $t(String);
        impl $t {
            pub fn parse(s: &str) -> Result<Self, ParseError> {
                Ok(Self(s.to_string()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}
text_id!(IdNumber);
text_id!(Uscc);
text_id!(PlateNumber);
text_id!(CertIdentifier);

impl IdNumber {
    pub fn birth_date(&self) -> Date {
        Date::MIN
    }
}

impl CertIdentifier {
    pub fn build(
        type_code: &str,
        issuer: &str,
        serial: &str,
        version: u16,
    ) -> Result<Self, ParseError> {
        Ok(Self(format!(
            "1.2.156.3005.2.{type_code}.{issuer}.{serial}.{version:03}.0"
        )))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DivisionCode(u32);
impl DivisionCode {
    pub fn from_u32(c: u32) -> Result<Self, ParseError> {
        Ok(Self(c))
    }
    pub fn code(self) -> u32 {
        self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlateColour(u8);
impl PlateColour {
    pub fn from_code(c: u64) -> Result<Self, ParseError> {
        Ok(Self(c as u8))
    }
    pub fn code(self) -> u8 {
        self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ScopeCode(u16);
impl ScopeCode {
    pub fn from_code(c: u64) -> Result<Self, ParseError> {
        Ok(Self(c as u16))
    }
    pub fn code(self) -> u16 {
        self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tonnage(u32);
impl Tonnage {
    pub fn from_ten_thousandths(c: u64) -> Result<Self, ParseError> {
        Ok(Self(c as u32))
    }
    pub fn ten_thousandths(self) -> u32 {
        self.0
    }
}
