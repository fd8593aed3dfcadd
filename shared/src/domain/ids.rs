//! Identifier types that parse untrusted text once (parse, don't validate):
//! resident ID numbers, unified social credit codes, plates, plate colours,
//! Liaoning division codes, GB/T 36904 certificate identifiers, business
//! scope codes, tonnage and VINs, the GB/T 2261.1 sex an ID number
//! carries, plus the one error type, [`ParseError`].
//!
//! Every type here can only be obtained through its parser (also when
//! deserialised), so code that holds one holds a checked value.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

/// Sex as coded by GB/T 2261.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// 男, code 1.
    Male,
    /// 女, code 2.
    Female,
}

impl Sex {
    /// GB/T 2261.1 code.
    pub fn code(self) -> u8 {
        match self {
            Sex::Male => 1,
            Sex::Female => 2,
        }
    }

    /// From a GB/T 2261.1 code.
    pub fn from_code(code: u64) -> Option<Sex> {
        match code {
            1 => Some(Sex::Male),
            2 => Some(Sex::Female),
            _ => None,
        }
    }

    /// Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// What kind of value a [`ParseError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IdKind {
    /// 公民身份号码 (GB 11643).
    IdNumber,
    /// 统一社会信用代码 (GB 32100).
    Uscc,
    /// 车牌号码 (GA 36).
    Plate,
    /// 车牌颜色 (JT/T 697.7).
    PlateColour,
    /// 行政区划代码 (GB/T 2260), restricted to Liaoning.
    Division,
    /// 证照标识 (GB/T 36904).
    CertIdentifier,
    /// 经营范围代码 (JT/T 415).
    ScopeCode,
    /// 吨位.
    Tonnage,
    /// 车辆识别代号 (GB 16735).
    Vin,
    /// A calendar date.
    Date,
    /// 性别 (GB/T 2261.1).
    Sex,
    /// 核定座位.
    Seats,
    /// Version of an e-certificate.
    Version,
    /// 从业资格类别.
    QualificationClass,
    /// 准驾车型.
    VehicleClasses,
    /// 证照编号 (per certificate type).
    CertNumber,
    /// Free text (names, addresses).
    Text,
}

impl IdKind {
    /// Stable snake_case key, the first part of [`ParseError::rule`].
    pub fn key(self) -> &'static str {
        match self {
            IdKind::IdNumber => "id_number",
            IdKind::Uscc => "uscc",
            IdKind::Plate => "plate",
            IdKind::PlateColour => "plate_colour",
            IdKind::Division => "division",
            IdKind::CertIdentifier => "cert_identifier",
            IdKind::ScopeCode => "scope_code",
            IdKind::Tonnage => "tonnage",
            IdKind::Vin => "vin",
            IdKind::Date => "date",
            IdKind::Sex => "sex",
            IdKind::Seats => "seats",
            IdKind::Version => "version",
            IdKind::QualificationClass => "qualification_class",
            IdKind::VehicleClasses => "vehicle_classes",
            IdKind::CertNumber => "cert_number",
            IdKind::Text => "text",
        }
    }

    /// English label, lower-case.
    pub fn label_en(self) -> &'static str {
        match self {
            IdKind::IdNumber => "id number",
            IdKind::Uscc => "unified social credit code",
            IdKind::Plate => "plate number",
            IdKind::PlateColour => "plate colour",
            IdKind::Division => "division code",
            IdKind::CertIdentifier => "certificate identifier",
            IdKind::ScopeCode => "business scope code",
            IdKind::Tonnage => "tonnage",
            IdKind::Vin => "vin",
            IdKind::Date => "date",
            IdKind::Sex => "sex",
            IdKind::Seats => "seats",
            IdKind::Version => "version",
            IdKind::QualificationClass => "qualification class",
            IdKind::VehicleClasses => "vehicle classes",
            IdKind::CertNumber => "certificate number",
            IdKind::Text => "text",
        }
    }

    /// Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            IdKind::IdNumber => "身份证号码",
            IdKind::Uscc => "统一社会信用代码",
            IdKind::Plate => "车牌号码",
            IdKind::PlateColour => "车牌颜色",
            IdKind::Division => "行政区划代码",
            IdKind::CertIdentifier => "证照标识",
            IdKind::ScopeCode => "经营范围代码",
            IdKind::Tonnage => "吨位",
            IdKind::Vin => "车辆识别代号",
            IdKind::Date => "日期",
            IdKind::Sex => "性别",
            IdKind::Seats => "核定座位",
            IdKind::Version => "版本号",
            IdKind::QualificationClass => "从业资格类别",
            IdKind::VehicleClasses => "准驾车型",
            IdKind::CertNumber => "证照编号",
            IdKind::Text => "文本",
        }
    }

    /// The expected format, in English (used by [`ParseError::BadFormat`]).
    pub fn format_en(self) -> &'static str {
        match self {
            IdKind::PlateColour => "a JT/T 697.7 colour code (0-6 or 9) or its name",
            IdKind::Division => "6 digits",
            IdKind::CertIdentifier => {
                "1.2.156.3005.2.{type code}.{issuer code}.{serial}.{version}.{check}"
            }
            IdKind::ScopeCode => "a JT/T 415 code of 1 to 3 digits",
            IdKind::Tonnage => "tonnes with at most 4 decimals, e.g. 11.8850",
            IdKind::Date => "YYYYMMDD or YYYY-MM-DD",
            IdKind::Sex => "1, 2, 男 or 女",
            IdKind::Seats | IdKind::Version => "a whole number",
            IdKind::QualificationClass => "a numeric code",
            IdKind::VehicleClasses => "driving-licence classes such as A1A2",
            _ => "a well-formed value",
        }
    }

    /// The expected format, in Chinese (used by [`ParseError::BadFormat`]).
    pub fn format_zh(self) -> &'static str {
        match self {
            IdKind::PlateColour => "JT/T 697.7 颜色代码（0–6 或 9）或颜色名称",
            IdKind::Division => "6 位数字",
            IdKind::CertIdentifier => "1.2.156.3005.2.类型代码.颁发机构代码.流水号.版本号.校验位",
            IdKind::ScopeCode => "1–3 位数字的 JT/T 415 代码",
            IdKind::Tonnage => "最多 4 位小数的吨数，如 11.8850",
            IdKind::Date => "YYYYMMDD 或 YYYY-MM-DD",
            IdKind::Sex => "1、2、男或女",
            IdKind::Seats | IdKind::Version => "整数",
            IdKind::QualificationClass => "数字代码",
            IdKind::VehicleClasses => "准驾车型代号，如 A1A2",
            _ => "规范格式",
        }
    }
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label_en())
    }
}

/// The parts of a GB/T 36904 certificate identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierPart {
    /// 证照类型代码: the defining body's credit code + 3 digits.
    TypeCode,
    /// 证照颁发机构代码: the issuer's credit code.
    IssuerCode,
    /// 证照流水号 / number.
    Serial,
    /// 版本号, 3 digits.
    Version,
}

impl IdentifierPart {
    fn label_en(self) -> &'static str {
        match self {
            IdentifierPart::TypeCode => "type code",
            IdentifierPart::IssuerCode => "issuer code",
            IdentifierPart::Serial => "serial",
            IdentifierPart::Version => "version",
        }
    }

    fn label_zh(self) -> &'static str {
        match self {
            IdentifierPart::TypeCode => "证照类型代码",
            IdentifierPart::IssuerCode => "颁发机构代码",
            IdentifierPart::Serial => "流水号",
            IdentifierPart::Version => "版本号",
        }
    }
}

impl fmt::Display for IdentifierPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label_en())
    }
}

/// Why a piece of text is not a valid identifier. Each variant names the
/// [`IdKind`] it is about; [`ParseError::rule`] gives a stable machine id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The value is empty.
    #[error("{kind}: {}", self.detail_en())]
    Empty {
        /// What was being parsed.
        kind: IdKind,
    },
    /// The value must have exactly `expected` characters.
    #[error("{kind}: {}", self.detail_en())]
    WrongLength {
        /// What was being parsed.
        kind: IdKind,
        /// Required number of characters.
        expected: usize,
        /// Number of characters found.
        found: usize,
    },
    /// The value must have between `min` and `max` characters.
    #[error("{kind}: {}", self.detail_en())]
    LengthOutOfRange {
        /// What was being parsed.
        kind: IdKind,
        /// Fewest characters allowed.
        min: usize,
        /// Most characters allowed.
        max: usize,
        /// Number of characters found.
        found: usize,
    },
    /// A character that is not allowed at its position.
    #[error("{kind}: {}", self.detail_en())]
    BadCharacter {
        /// What was being parsed.
        kind: IdKind,
        /// 1-based character position.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// The check character does not match the rest.
    #[error("{kind}: {}", self.detail_en())]
    BadCheckDigit {
        /// What was being parsed.
        kind: IdKind,
        /// The check character the rest requires.
        expected: char,
        /// The check character present.
        found: char,
    },
    /// A division code that does not exist or, for Liaoning-only values,
    /// is not a Liaoning code.
    #[error("{kind}: {}", self.detail_en())]
    UnknownDivision {
        /// What was being parsed.
        kind: IdKind,
        /// The code found.
        code: u32,
    },
    /// A division code in force, but of another province than the one
    /// whose records are checked (rule `unknown_division`, as a code in no
    /// table: for that province it is none of its divisions).
    #[error("{kind}: {}", self.detail_en())]
    OutsideProvince {
        /// What was being parsed.
        kind: IdKind,
        /// The code found.
        code: u32,
        /// The province whose division was expected, e.g. 210000.
        province: u32,
    },
    /// A plate whose first character is not a mainland province abbreviation.
    #[error("{kind}: {}", self.detail_en())]
    UnknownProvince {
        /// What was being parsed.
        kind: IdKind,
        /// The character found.
        found: char,
    },
    /// A date that does not exist, such as 2023-02-30.
    #[error("{kind}: {}", self.detail_en())]
    ImpossibleDate {
        /// What was being parsed.
        kind: IdKind,
    },
    /// A date before 1900.
    #[error("{kind}: {}", self.detail_en())]
    DateTooEarly {
        /// What was being parsed.
        kind: IdKind,
    },
    /// A date after "today" where that is impossible.
    #[error("{kind}: {}", self.detail_en())]
    FutureDate {
        /// What was being parsed.
        kind: IdKind,
    },
    /// A well-formed code that is not in the code table.
    #[error("{kind}: {}", self.detail_en())]
    UnknownCode {
        /// What was being parsed.
        kind: IdKind,
        /// The code found.
        code: String,
    },
    /// A number outside its allowed range (bounds inclusive, as text).
    #[error("{kind}: {}", self.detail_en())]
    OutOfRange {
        /// What was being parsed.
        kind: IdKind,
        /// Smallest allowed value.
        min: String,
        /// Largest allowed value.
        max: String,
        /// The value found.
        found: String,
    },
    /// The value does not have the overall shape of its kind (see
    /// [`IdKind::format_en`]).
    #[error("{kind}: {}", self.detail_en())]
    BadFormat {
        /// What was being parsed.
        kind: IdKind,
    },
    /// One part of a certificate identifier is invalid.
    #[error("certificate identifier {part}: {inner}")]
    BadIdentifierPart {
        /// Which part.
        part: IdentifierPart,
        /// What is wrong with it.
        inner: Box<ParseError>,
    },
}

/// Builds a `&'static str` rule id for every (kind, variant) pair.
macro_rules! rule_ids {
    ($err:expr; kinds [$($k:ident = $ks:literal),* $(,)?]; variants $vs:tt) => {
        match $err.kind() {
            $( IdKind::$k => rule_ids!(@v $err; $ks; $vs), )*
        }
    };
    (@v $err:expr; $ks:literal; [$($v:ident = $vk:literal),* $(,)?]) => {
        match $err {
            $( ParseError::$v { .. } => concat!($ks, ".", $vk), )*
        }
    };
}

impl ParseError {
    /// What kind of value the error is about.
    pub fn kind(&self) -> IdKind {
        match self {
            ParseError::Empty { kind }
            | ParseError::WrongLength { kind, .. }
            | ParseError::LengthOutOfRange { kind, .. }
            | ParseError::BadCharacter { kind, .. }
            | ParseError::BadCheckDigit { kind, .. }
            | ParseError::UnknownDivision { kind, .. }
            | ParseError::OutsideProvince { kind, .. }
            | ParseError::UnknownProvince { kind, .. }
            | ParseError::ImpossibleDate { kind }
            | ParseError::DateTooEarly { kind }
            | ParseError::FutureDate { kind }
            | ParseError::UnknownCode { kind, .. }
            | ParseError::OutOfRange { kind, .. }
            | ParseError::BadFormat { kind } => *kind,
            ParseError::BadIdentifierPart { .. } => IdKind::CertIdentifier,
        }
    }

    /// A stable machine id of the rule that failed, `"{kind}.{check}"`,
    /// e.g. `"id_number.check_digit"` or `"cert_identifier.issuer_code"`.
    pub fn rule(&self) -> &'static str {
        if let ParseError::BadIdentifierPart { part, .. } = self {
            return match part {
                IdentifierPart::TypeCode => "cert_identifier.type_code",
                IdentifierPart::IssuerCode => "cert_identifier.issuer_code",
                IdentifierPart::Serial => "cert_identifier.serial",
                IdentifierPart::Version => "cert_identifier.version",
            };
        }
        rule_ids!(self;
        kinds [
            IdNumber = "id_number", Uscc = "uscc", Plate = "plate",
            PlateColour = "plate_colour", Division = "division",
            CertIdentifier = "cert_identifier", ScopeCode = "scope_code",
            Tonnage = "tonnage", Vin = "vin", Date = "date", Sex = "sex",
            Seats = "seats", Version = "version",
            QualificationClass = "qualification_class",
            VehicleClasses = "vehicle_classes", CertNumber = "cert_number",
            Text = "text",
        ];
        variants [
            Empty = "empty", WrongLength = "length", LengthOutOfRange = "length",
            BadCharacter = "character", BadCheckDigit = "check_digit",
            UnknownDivision = "unknown_division", OutsideProvince = "unknown_division",
            UnknownProvince = "province",
            ImpossibleDate = "impossible_date", DateTooEarly = "too_early",
            FutureDate = "future_date", UnknownCode = "unknown_code",
            OutOfRange = "out_of_range", BadFormat = "format",
            BadIdentifierPart = "part",
        ])
    }

    /// What is wrong, in English, without naming the value: to be prefixed
    /// by a field or kind name, e.g. `"check digit should be X, found 3"`.
    pub fn detail_en(&self) -> String {
        let birth = self.kind() == IdKind::IdNumber;
        match self {
            ParseError::Empty { .. } => "value is empty".to_owned(),
            ParseError::WrongLength {
                expected, found, ..
            } => format!("length should be {expected} characters, found {found}"),
            ParseError::LengthOutOfRange {
                min, max, found, ..
            } => format!("length should be {min} to {max} characters, found {found}"),
            ParseError::BadCharacter {
                position, found, ..
            } => format!("character {position} '{found}' is not allowed there"),
            ParseError::BadCheckDigit {
                expected, found, ..
            } => format!("check digit should be {expected}, found {found}"),
            ParseError::UnknownDivision { kind, code } => match kind {
                IdKind::IdNumber => format!("unknown division code {code:06}"),
                _ => match Jurisdiction::of(*code) {
                    Some(j) => format!(
                        "{code:06} is not a {} division code in force (GB/T 2260)",
                        j.name_en
                    ),
                    None => format!("{code:06} is not a division code in force (GB/T 2260)"),
                },
            },
            ParseError::OutsideProvince { code, province, .. } => {
                let name = Jurisdiction::of(*province).map_or("this province's", |j| j.name_en);
                format!("{code:06} is not a {name} division code in force (GB/T 2260)")
            }
            ParseError::UnknownProvince { found, .. } => {
                format!("unknown province abbreviation '{found}'")
            }
            ParseError::ImpossibleDate { .. } if birth => "impossible birth date".to_owned(),
            ParseError::ImpossibleDate { .. } => "impossible date".to_owned(),
            ParseError::DateTooEarly { .. } if birth => "birth date before 1900".to_owned(),
            ParseError::DateTooEarly { .. } => "date before 1900".to_owned(),
            ParseError::FutureDate { .. } if birth => "birth date is in the future".to_owned(),
            ParseError::FutureDate { .. } => "date is in the future".to_owned(),
            ParseError::UnknownCode { code, .. } => format!("unknown code {code}"),
            ParseError::OutOfRange {
                min, max, found, ..
            } => format!("should be between {min} and {max}, found {found}"),
            ParseError::BadFormat { kind } => format!("should be {}", kind.format_en()),
            ParseError::BadIdentifierPart { part, inner } => {
                format!("{part}: {}", inner.detail_en())
            }
        }
    }

    /// What is wrong, in Chinese, to be appended to a field or kind name,
    /// e.g. `"校验位错误：应为 X，实为 3"`.
    pub fn detail_zh(&self) -> String {
        let birth = self.kind() == IdKind::IdNumber;
        match self {
            ParseError::Empty { .. } => "为空".to_owned(),
            ParseError::WrongLength {
                expected, found, ..
            } => format!("长度错误：应为 {expected} 位，实为 {found} 位"),
            ParseError::LengthOutOfRange {
                min, max, found, ..
            } => format!("长度错误：应为 {min}–{max} 位，实为 {found} 位"),
            ParseError::BadCharacter {
                position, found, ..
            } => format!("第 {position} 位字符“{found}”不合规"),
            ParseError::BadCheckDigit {
                expected, found, ..
            } => format!("校验位错误：应为 {expected}，实为 {found}"),
            ParseError::UnknownDivision { kind, code } => match kind {
                IdKind::IdNumber => format!("前六位行政区划代码 {code:06} 不存在"),
                _ => match Jurisdiction::of(*code) {
                    Some(j) => format!("{code:06} 不是{}现行行政区划代码（GB/T 2260）", j.name_zh),
                    None => format!("{code:06} 不是现行行政区划代码（GB/T 2260）"),
                },
            },
            ParseError::OutsideProvince { code, province, .. } => {
                let name = province_name_zh(*province).unwrap_or("本省");
                format!("{code:06} 不是{name}现行行政区划代码（GB/T 2260）")
            }
            ParseError::UnknownProvince { found, .. } => format!("省份简称“{found}”无效"),
            ParseError::ImpossibleDate { .. } if birth => "出生日期不存在".to_owned(),
            ParseError::ImpossibleDate { .. } => "为不存在的日期".to_owned(),
            ParseError::DateTooEarly { .. } if birth => "出生日期早于 1900 年".to_owned(),
            ParseError::DateTooEarly { .. } => "早于 1900 年".to_owned(),
            ParseError::FutureDate { .. } if birth => "出生日期晚于当前日期".to_owned(),
            ParseError::FutureDate { .. } => "晚于当前日期".to_owned(),
            ParseError::UnknownCode { code, .. } => format!("代码 {code} 未定义"),
            ParseError::OutOfRange {
                min, max, found, ..
            } => format!("超出范围：应为 {min}–{max}，实为 {found}"),
            ParseError::BadFormat { kind } => format!("格式错误：应为{}", kind.format_zh()),
            ParseError::BadIdentifierPart { part, inner } => {
                format!("{}{}", part.label_zh(), inner.detail_zh())
            }
        }
    }

    /// A complete Chinese message, e.g. `"身份证号码校验位错误：应为 X，实为 3"`.
    pub fn message_zh(&self) -> String {
        format!("{}{}", self.kind().label_zh(), self.detail_zh())
    }

    fn in_part(self, part: IdentifierPart) -> ParseError {
        ParseError::BadIdentifierPart {
            part,
            inner: Box::new(self),
        }
    }
}

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

/// Implements `Display`, `FromStr`, `AsRef<str>`, `TryFrom<String>` and
/// `From<T> for String` for a type with `parse` and `as_str`.
macro_rules! string_id {
    ($t:ident) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $t {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $t::parse(s)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
        impl TryFrom<String> for $t {
            type Error = ParseError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $t::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.as_str().to_owned()
            }
        }
    };
}

/// Checks the character count of `s`, returning its characters.
fn chars_exact(s: &str, kind: IdKind, expected: usize) -> Result<Vec<char>, ParseError> {
    exact_len(s, kind, expected)?;
    Ok(s.chars().collect())
}

/// Refuses `s` unless it is `expected` characters long (empty: its own
/// error), without copying it.
fn exact_len(s: &str, kind: IdKind, expected: usize) -> Result<(), ParseError> {
    if s.is_empty() {
        return Err(ParseError::Empty { kind });
    }
    let found = s.chars().count();
    if found != expected {
        return Err(ParseError::WrongLength {
            kind,
            expected,
            found,
        });
    }
    Ok(())
}

/// The value of an ASCII digit.
fn digit(c: char) -> Option<u32> {
    c.to_digit(10)
}

/// Parses a run of ASCII digits (at most 9) as a number.
fn digits_value(chars: &[char]) -> Option<u32> {
    if chars.is_empty() || chars.len() > 9 {
        return None;
    }
    chars
        .iter()
        .try_fold(0u32, |acc, &c| Some(acc * 10 + digit(c)?))
}

/// A calendar date from year, month, day numbers.
fn calendar_date(kind: IdKind, year: u32, month: u32, day: u32) -> Result<Date, ParseError> {
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok());
    let (Some(month), Ok(year), Ok(day)) = (month, i32::try_from(year), u8::try_from(day)) else {
        return Err(ParseError::ImpossibleDate { kind });
    };
    let date = Date::from_calendar_date(year, month, day)
        .map_err(|_| ParseError::ImpossibleDate { kind })?;
    if year < 1900 {
        return Err(ParseError::DateTooEarly { kind });
    }
    Ok(date)
}

/// Parses a date written `YYYYMMDD` or `YYYY-MM-DD` (the interface formats
/// of GB/T 7408). Dates before 1900 are rejected as [`ParseError::DateTooEarly`].
pub fn parse_date(s: &str) -> Result<Date, ParseError> {
    let kind = IdKind::Date;
    if s.is_empty() {
        return Err(ParseError::Empty { kind });
    }
    let chars: Vec<char> = s.chars().collect();
    let (y, m, d) = match chars.len() {
        8 => (&chars[0..4], &chars[4..6], &chars[6..8]),
        10 if chars[4] == '-' && chars[7] == '-' => (&chars[0..4], &chars[5..7], &chars[8..10]),
        _ => return Err(ParseError::BadFormat { kind }),
    };
    let (Some(y), Some(m), Some(d)) = (digits_value(y), digits_value(m), digits_value(d)) else {
        return Err(ParseError::BadFormat { kind });
    };
    calendar_date(kind, y, m, d)
}

// ---------------------------------------------------------------------------
// IdNumber
// ---------------------------------------------------------------------------

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Province-level codes (first two digits of a GB/T 2260 code): the 31
/// mainland provinces, Taiwan (71), Hong Kong (81) and Macao (82).
const PROVINCE_PREFIXES: [u32; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

/// A citizen identity number (公民身份号码, GB 11643): 18 characters, the
/// ISO 7064 MOD 11-2 check character last (`X` for 10).
///
/// Parsing checks the length, the characters, the check character, that the
/// first two digits are a province-level code (the full national division
/// table is not required) and that the birth date exists and is not before
/// 1900. A lower-case `x` is accepted and normalised to `X`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdNumber {
    text: String,
    birth: Date,
}

impl IdNumber {
    /// Parses an ID number without checking the birth date against today;
    /// see [`IdNumber::parse_on`].
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let kind = IdKind::IdNumber;
        let mut chars = chars_exact(s, kind, 18)?;
        for (i, c) in chars.iter().enumerate().take(17) {
            if !c.is_ascii_digit() {
                return Err(ParseError::BadCharacter {
                    kind,
                    position: i + 1,
                    found: *c,
                });
            }
        }
        let last = chars[17].to_ascii_uppercase();
        if !(last.is_ascii_digit() || last == 'X') {
            return Err(ParseError::BadCharacter {
                kind,
                position: 18,
                found: chars[17],
            });
        }
        chars[17] = last;
        let body: String = chars[..17].iter().collect();
        let expected = Self::check_char_for(&body).ok_or(ParseError::BadFormat { kind })?;
        if expected != last {
            return Err(ParseError::BadCheckDigit {
                kind,
                expected,
                found: last,
            });
        }
        let division = digits_value(&chars[0..6]).unwrap_or(0);
        if !PROVINCE_PREFIXES.contains(&(division / 10_000)) {
            return Err(ParseError::UnknownDivision {
                kind,
                code: division,
            });
        }
        let field = |r: std::ops::Range<usize>| digits_value(&chars[r]).unwrap_or(0);
        let birth = calendar_date(kind, field(6..10), field(10..12), field(12..14))?;
        Ok(IdNumber {
            text: chars.into_iter().collect(),
            birth,
        })
    }

    /// Parses an ID number and also rejects a birth date after `today`.
    pub fn parse_on(s: &str, today: Date) -> Result<Self, ParseError> {
        let id = Self::parse(s)?;
        if id.birth > today {
            return Err(ParseError::FutureDate {
                kind: IdKind::IdNumber,
            });
        }
        Ok(id)
    }

    /// The check character for the first 17 digits, or `None` if `body` is
    /// not 17 ASCII digits. Useful to make test data.
    pub fn check_char_for(body: &str) -> Option<char> {
        if body.len() != 17 {
            return None;
        }
        let sum = body
            .chars()
            .zip(ID_WEIGHTS)
            .try_fold(0u32, |acc, (c, w)| Some(acc + digit(c)? * w))?;
        ID_CHECK.get((sum % 11) as usize).copied()
    }

    /// The normalised 18 characters.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Date of birth (characters 7–14).
    pub fn birth_date(&self) -> Date {
        self.birth
    }

    /// Sex from the 17th character: odd is male, even is female.
    pub fn sex(&self) -> Sex {
        let odd = self
            .text
            .chars()
            .nth(16)
            .and_then(digit)
            .is_some_and(|d| d % 2 == 1);
        if odd {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// The first six digits: the division code of the place of first
    /// registration.
    pub fn division_prefix(&self) -> u32 {
        self.text
            .get(0..6)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }
}

string_id!(IdNumber);

// ---------------------------------------------------------------------------
// Uscc
// ---------------------------------------------------------------------------

const USCC_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Each ASCII character's value in [`USCC_ALPHABET`], or `u8::MAX`: a
/// table, because this runs for every character of every credit code of
/// every pushed record.
const USCC_VALUES: [u8; 128] = {
    let mut table = [u8::MAX; 128];
    let alphabet = USCC_ALPHABET.as_bytes();
    let mut i = 0;
    while i < alphabet.len() {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
};

fn uscc_value(c: char) -> Option<u32> {
    let i = usize::try_from(u32::from(c)).ok()?;
    match USCC_VALUES.get(i) {
        Some(&v) if v != u8::MAX => Some(u32::from(v)),
        _ => None,
    }
}

/// Checks a credit code (18 characters of the alphabet, either case, the
/// last its check character) without building anything.
fn check_uscc(s: &str) -> Result<(), ParseError> {
    let kind = IdKind::Uscc;
    exact_len(s, kind, 18)?;
    let mut sum = 0;
    let mut last = ' ';
    for (i, c) in s.chars().enumerate() {
        let u = c.to_ascii_uppercase();
        let Some(value) = uscc_value(u) else {
            return Err(ParseError::BadCharacter {
                kind,
                position: i + 1,
                found: c,
            });
        };
        match USCC_WEIGHTS.get(i) {
            Some(w) => sum += value * w,
            None => last = u,
        }
    }
    let expected = uscc_check_char(sum);
    if expected != last {
        return Err(ParseError::BadCheckDigit {
            kind,
            expected,
            found: last,
        });
    }
    Ok(())
}

/// The check character for a weighted sum of the first 17 values.
fn uscc_check_char(sum: u32) -> char {
    let i = ((31 - sum % 31) % 31) as usize;
    USCC_ALPHABET
        .as_bytes()
        .get(i)
        .map_or(' ', |b| char::from(*b))
}

/// A unified social credit code (统一社会信用代码, GB 32100): 18 characters
/// from `0123456789ABCDEFGHJKLMNPQRTUWXY`, the last a MOD 31 check
/// character. Lower-case input is accepted and normalised to upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Uscc(String);

impl Uscc {
    /// Parses and checks a credit code.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        check_uscc(s)?;
        // Every character is ASCII once checked.
        Ok(Uscc(s.to_ascii_uppercase()))
    }

    /// The check character for the first 17 characters, or `None` if `body`
    /// is not 17 characters of the alphabet. Useful to make test data.
    pub fn check_char_for(body: &str) -> Option<char> {
        if body.chars().count() != 17 {
            return None;
        }
        let sum = body
            .chars()
            .zip(USCC_WEIGHTS)
            .try_fold(0u32, |acc, (c, w)| Some(acc + uscc_value(c)? * w))?;
        Some(uscc_check_char(sum))
    }

    /// The normalised 18 characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_id!(Uscc);

// ---------------------------------------------------------------------------
// PlateNumber
// ---------------------------------------------------------------------------

/// The 31 mainland province abbreviations that start a plate.
pub const PLATE_PROVINCES: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";
const NEW_ENERGY_MARKS: &str = "DABCEFGHJK";

fn plate_letter(c: char) -> bool {
    c.is_ascii_uppercase() && c != 'I' && c != 'O'
}

fn plate_alnum(c: char) -> bool {
    c.is_ascii_digit() || plate_letter(c)
}

fn plate_digit(c: char) -> bool {
    c.is_ascii_digit()
}

fn new_energy_mark(c: char) -> bool {
    NEW_ENERGY_MARKS.contains(c)
}

fn ordinary_last(c: char) -> bool {
    plate_alnum(c) || "挂学警".contains(c)
}

/// Character rules from the third character on, per plate shape.
const ORDINARY_PLATE: [fn(char) -> bool; 5] = [
    plate_alnum,
    plate_alnum,
    plate_alnum,
    plate_alnum,
    ordinary_last,
];
const SMALL_NEW_ENERGY_PLATE: [fn(char) -> bool; 6] = [
    new_energy_mark,
    plate_alnum,
    plate_digit,
    plate_digit,
    plate_digit,
    plate_digit,
];
const LARGE_NEW_ENERGY_PLATE: [fn(char) -> bool; 6] = [
    plate_digit,
    plate_digit,
    plate_digit,
    plate_digit,
    plate_digit,
    new_energy_mark,
];

/// A vehicle plate number (车牌号码, GA 36).
///
/// Ordinary plates have 7 characters: province abbreviation, a letter
/// (not I or O), then 5 letters or digits, the last of which may instead
/// be 挂, 学 or 警. New-energy plates have 8: small ones are province,
/// letter, one of `DABCEFGHJK`, a letter or digit, then 4 digits; large
/// ones are province, letter, 5 digits, then one of `DABCEFGHJK`.
/// Lower-case ASCII letters are normalised to upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PlateNumber(String);

impl PlateNumber {
    /// Parses and checks a plate number.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let kind = IdKind::Plate;
        if s.is_empty() {
            return Err(ParseError::Empty { kind });
        }
        // Checked in place (every pushed vehicle record and every verified
        // vehicle certificate parses one): no copy until the result.
        let len = s.chars().count();
        if !(7..=8).contains(&len) {
            return Err(ParseError::LengthOutOfRange {
                kind,
                min: 7,
                max: 8,
                found: len,
            });
        }
        let mut chars = ['\0'; 8];
        for (slot, c) in chars.iter_mut().zip(s.chars()) {
            *slot = c.to_ascii_uppercase();
        }
        let bad = |i: usize| ParseError::BadCharacter {
            kind,
            position: i + 1,
            found: s.chars().nth(i).unwrap_or(' '),
        };
        if !PLATE_PROVINCES.contains(chars[0]) {
            return Err(ParseError::UnknownProvince {
                kind,
                found: chars[0],
            });
        }
        if !plate_letter(chars[1]) {
            return Err(bad(1));
        }
        let rules: &[fn(char) -> bool] = if len == 7 {
            &ORDINARY_PLATE
        } else if chars[2].is_ascii_digit() {
            &LARGE_NEW_ENERGY_PLATE
        } else {
            &SMALL_NEW_ENERGY_PLATE
        };
        for (i, rule) in rules.iter().enumerate() {
            if !rule(chars[i + 2]) {
                return Err(bad(i + 2));
            }
        }
        // ASCII letters upper-cased, every other character kept: as above.
        Ok(PlateNumber(s.to_ascii_uppercase()))
    }

    /// The normalised plate.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is an 8-character new-energy plate.
    pub fn is_new_energy(&self) -> bool {
        self.0.chars().count() == 8
    }

    /// Whether this is a large-vehicle new-energy plate (5 digits, then the
    /// energy mark last); a small one has the mark third.
    pub fn is_large_new_energy(&self) -> bool {
        self.is_new_energy() && self.0.chars().nth(2).is_some_and(|c| c.is_ascii_digit())
    }

    /// The last character, e.g. 挂, 学 or 警 on such plates.
    pub fn last_char(&self) -> char {
        self.0.chars().last().unwrap_or(' ')
    }

    /// The province abbreviation, e.g. `辽`.
    pub fn province(&self) -> char {
        self.0.chars().next().unwrap_or(' ')
    }

    /// The issuing-office letter, e.g. `A` for 沈阳 in 辽A.
    pub fn city_letter(&self) -> char {
        self.0.chars().nth(1).unwrap_or(' ')
    }
}

string_id!(PlateNumber);

// ---------------------------------------------------------------------------
// PlateColour
// ---------------------------------------------------------------------------

/// Plate colour (车牌颜色) as coded by JT/T 697.7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum PlateColour {
    /// 0: not yet plated (未上牌).
    NotPlated,
    /// 1: blue (蓝色).
    Blue,
    /// 2: yellow (黄色).
    Yellow,
    /// 3: black (黑色).
    Black,
    /// 4: white (白色).
    White,
    /// 5: green (绿色): the gradient green (渐变绿) of small new-energy
    /// plates (GA 36-2018).
    Green,
    /// 6: yellow-green (黄绿双拼色) of large new-energy plates (GA 36-2018).
    /// The code is this project's until the current JT/T 697.7 table is at
    /// hand (see `docs/decisions.md`).
    YellowGreen,
    /// 9: other (其他).
    Other,
}

impl PlateColour {
    /// All colours in code order.
    pub const ALL: [PlateColour; 8] = [
        PlateColour::NotPlated,
        PlateColour::Blue,
        PlateColour::Yellow,
        PlateColour::Black,
        PlateColour::White,
        PlateColour::Green,
        PlateColour::YellowGreen,
        PlateColour::Other,
    ];

    /// The colour for a JT/T 697.7 code.
    pub fn from_code(code: u64) -> Result<Self, ParseError> {
        PlateColour::ALL
            .into_iter()
            .find(|c| u64::from(c.code()) == code)
            .ok_or_else(|| ParseError::UnknownCode {
                kind: IdKind::PlateColour,
                code: code.to_string(),
            })
    }

    /// Parses the code digit (`"2"`) or the Chinese name (`"黄色"` or `"黄"`;
    /// also `"渐变绿"` and `"黄绿"`, the GA 36 names of the new-energy plates).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let kind = IdKind::PlateColour;
        if s.is_empty() {
            return Err(ParseError::Empty { kind });
        }
        if s.chars().all(|c| c.is_ascii_digit()) {
            let code: u64 = s.parse().map_err(|_| ParseError::BadFormat { kind })?;
            return Self::from_code(code);
        }
        let alias = match s {
            "渐变绿" | "渐变绿色" => Some(PlateColour::Green),
            "黄绿" | "黄绿色" | "黄绿双拼" => Some(PlateColour::YellowGreen),
            _ => None,
        };
        alias
            .or_else(|| {
                PlateColour::ALL
                    .into_iter()
                    .find(|c| c.label_zh() == s || c.label_zh().trim_end_matches('色') == s)
            })
            .ok_or(ParseError::BadFormat { kind })
    }

    /// The JT/T 697.7 code.
    pub fn code(self) -> u8 {
        match self {
            PlateColour::NotPlated => 0,
            PlateColour::Blue => 1,
            PlateColour::Yellow => 2,
            PlateColour::Black => 3,
            PlateColour::White => 4,
            PlateColour::Green => 5,
            PlateColour::YellowGreen => 6,
            PlateColour::Other => 9,
        }
    }

    /// Chinese name, e.g. `黄色`.
    pub fn label_zh(self) -> &'static str {
        match self {
            PlateColour::NotPlated => "未上牌",
            PlateColour::Blue => "蓝色",
            PlateColour::Yellow => "黄色",
            PlateColour::Black => "黑色",
            PlateColour::White => "白色",
            PlateColour::Green => "绿色",
            PlateColour::YellowGreen => "黄绿双拼色",
            PlateColour::Other => "其他",
        }
    }
}

impl fmt::Display for PlateColour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl TryFrom<u8> for PlateColour {
    type Error = ParseError;
    fn try_from(code: u8) -> Result<Self, Self::Error> {
        Self::from_code(u64::from(code))
    }
}

impl From<PlateColour> for u8 {
    fn from(c: PlateColour) -> u8 {
        c.code()
    }
}

// ---------------------------------------------------------------------------
// DivisionCode
// ---------------------------------------------------------------------------

/// A province whose GB/T 2260 table ships with the system, with the rules
/// its own records follow: its plate character, its transport department,
/// the prefix of its printed certificate numbers. A verifier-server runs as
/// one of them (`--province`, Liaoning by default); everything that differs
/// between provinces is here or in the province's table file, not in code.
#[derive(Debug)]
pub struct Jurisdiction {
    /// The province-level code, e.g. 210000.
    pub code: u32,
    /// GB/T 2260 name, e.g. 辽宁省.
    pub name_zh: &'static str,
    /// English name, e.g. Liaoning.
    pub name_en: &'static str,
    /// The one-character abbreviation: on plates (GA 36) and printed
    /// numbers, e.g. 辽.
    pub short: &'static str,
    /// The provincial transport department, e.g. 辽宁省交通运输厅.
    pub authority_zh: &'static str,
    /// Whether the table lists every county code an ID number of the
    /// province may begin with (the abolished ones too): then an ID number
    /// whose first six digits are not in it is refused
    /// ([`id_prefix_is_real`]); otherwise any code of the province passes.
    pub id_prefixes_complete: bool,
    /// The province's GB/T 2260 table: `code,name,status[,plate,abbreviation]`.
    table: &'static str,
    rows: std::sync::OnceLock<Vec<DivisionRow>>,
}

/// Liaoning (210000): `shared/data/gbt2260-liaoning.csv`.
pub static LIAONING: Jurisdiction = Jurisdiction {
    code: 210000,
    name_zh: "辽宁省",
    name_en: "Liaoning",
    short: "辽",
    authority_zh: "辽宁省交通运输厅",
    id_prefixes_complete: true,
    table: include_str!("../../data/gbt2260-liaoning.csv"),
    rows: std::sync::OnceLock::new(),
};

/// Jilin (220000): `shared/data/gbt2260-jilin.csv`.
pub static JILIN: Jurisdiction = Jurisdiction {
    code: 220000,
    name_zh: "吉林省",
    name_en: "Jilin",
    short: "吉",
    authority_zh: "吉林省交通运输厅",
    // Four abolished codes only: not yet every code older ID numbers carry.
    id_prefixes_complete: false,
    table: include_str!("../../data/gbt2260-jilin.csv"),
    rows: std::sync::OnceLock::new(),
};

/// Every province whose table ships, in code order.
pub static JURISDICTIONS: [&Jurisdiction; 2] = [&LIAONING, &JILIN];

impl PartialEq for Jurisdiction {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code
    }
}

impl Eq for Jurisdiction {}

impl Default for &'static Jurisdiction {
    /// Liaoning, the province this system was built for.
    fn default() -> Self {
        &LIAONING
    }
}

impl Jurisdiction {
    /// The shipped province a code (of the province, a city or a county)
    /// belongs to.
    pub fn of(code: u32) -> Option<&'static Jurisdiction> {
        JURISDICTIONS
            .iter()
            .copied()
            .find(|j| j.code == code / 10_000 * 10_000)
    }

    /// The province itself as a division code.
    pub fn division(&'static self) -> DivisionCode {
        DivisionCode(self.code)
    }

    /// Every row of the province's table, in file order. A row that does
    /// not parse is a defect of the shipped file, caught by the tests
    /// (`division_table_is_complete`); it is skipped here.
    pub fn divisions(&self) -> &[DivisionRow] {
        self.rows.get_or_init(|| parse_table(self.table))
    }

    /// The province's cities (and prefectures) in force, in code order.
    pub fn cities(&self) -> Vec<DivisionCode> {
        let mut v: Vec<DivisionCode> = self
            .divisions()
            .iter()
            .filter(|r| r.current && r.code % 100 == 0 && r.code % 10_000 != 0)
            .map(|r| DivisionCode(r.code))
            .collect();
        v.sort();
        v
    }

    /// Whether `d` is this province or one of its divisions.
    pub fn contains(&self, d: DivisionCode) -> bool {
        d.province_code() == self.code
    }

    /// Parses a division code of this province in force (6 digits).
    pub fn parse_division(&self, s: &str) -> Result<DivisionCode, ParseError> {
        let d = DivisionCode::parse(s)?;
        self.check(d)
    }

    /// `d` if it is this province's, else [`ParseError::OutsideProvince`].
    pub fn check(&self, d: DivisionCode) -> Result<DivisionCode, ParseError> {
        if self.contains(d) {
            Ok(d)
        } else {
            Err(ParseError::OutsideProvince {
                kind: IdKind::Division,
                code: d.0,
                province: self.code,
            })
        }
    }
}

fn parse_table(table: &'static str) -> Vec<DivisionRow> {
    table
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split(',');
            let code = parts.next()?.parse().ok()?;
            let name = parts.next()?;
            let current = match parts.next()? {
                "current" => true,
                "abolished" => false,
                _ => return None,
            };
            let plate_prefix = parts.next().filter(|p| !p.is_empty());
            let abbrev = parts.next().filter(|p| !p.is_empty());
            Some(DivisionRow {
                code,
                name,
                current,
                plate_prefix,
                abbrev,
            })
        })
        .collect()
}

/// One row of a shipped GB/T 2260 table (`shared/data/gbt2260-*.csv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DivisionRow {
    /// The 6-digit code.
    pub code: u32,
    /// The official name, e.g. 铁西区.
    pub name: &'static str,
    /// Whether the code is in force (`false`: abolished, kept for ID numbers).
    pub current: bool,
    /// A city's plate prefix (GA 36 发牌机关代号), e.g. 辽A.
    pub plate_prefix: Option<&'static str>,
    /// A city's abbreviation in printed certificate numbers, e.g. 沈.
    pub abbrev: Option<&'static str>,
}

/// Every row of the shipped Liaoning division table, in file order.
pub fn liaoning_divisions() -> &'static [DivisionRow] {
    LIAONING.divisions()
}

fn division_row(code: u32) -> Option<&'static DivisionRow> {
    Jurisdiction::of(code)?
        .divisions()
        .iter()
        .find(|r| r.code == code)
}

/// Whether `code` may begin a citizen ID number: any province's code must
/// be a province-level code (GB/T 2260); one of a province whose shipped
/// table is complete for ID numbers (Liaoning's) must be a real
/// county-level code of that table, current or abolished (an ID number
/// keeps the code of its first registration).
pub fn id_prefix_is_real(code: u32) -> bool {
    if !PROVINCE_PREFIXES.contains(&(code / 10_000)) {
        return false;
    }
    if !Jurisdiction::of(code).is_some_and(|j| j.id_prefixes_complete) {
        return true;
    }
    code % 100 != 0 && division_row(code).is_some()
}

/// An administrative division code (行政区划代码, GB/T 2260) of a province
/// whose table ships ([`Jurisdiction`]: Liaoning, Jilin).
///
/// Accepts only codes in force in a shipped table
/// (`shared/data/gbt2260-*.csv`): the province (210000), its cities
/// (210100 … 211400) and their county-level divisions. Whether a code is
/// the running province's is [`Jurisdiction::check`]. A county
/// has its own name ([`DivisionCode::name_zh`]), and its transport bureau
/// is named as itself ([`DivisionCode::authority_name_zh`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct DivisionCode(u32);

/// Liaoning's 14 cities in code order.
pub const LIAONING_CITIES: [DivisionCode; 14] = [
    DivisionCode(210100),
    DivisionCode(210200),
    DivisionCode(210300),
    DivisionCode(210400),
    DivisionCode(210500),
    DivisionCode(210600),
    DivisionCode(210700),
    DivisionCode(210800),
    DivisionCode(210900),
    DivisionCode(211000),
    DivisionCode(211100),
    DivisionCode(211200),
    DivisionCode(211300),
    DivisionCode(211400),
];

impl DivisionCode {
    /// Liaoning province, 210000.
    pub const PROVINCE: DivisionCode = DivisionCode(210000);

    /// Checks that `code` is a shipped province's, one of its cities, or
    /// one of their county-level divisions in force.
    pub fn from_u32(code: u32) -> Result<Self, ParseError> {
        match division_row(code) {
            Some(row) if row.current => Ok(DivisionCode(code)),
            _ => Err(ParseError::UnknownDivision {
                kind: IdKind::Division,
                code,
            }),
        }
    }

    /// Any province's code (mutual recognition, 互认互通): 6 digits whose
    /// first two are a province-level code of GB/T 2260. Used where another
    /// province's signed data is read (its certificates' claims, its trust
    /// list); a province's own records keep [`DivisionCode::from_u32`]. A
    /// province whose table ships but whose ID numbers it does not cover
    /// completely (Jilin) is read as leniently as any other.
    pub fn from_u32_national(code: u32) -> Result<Self, ParseError> {
        if Self::from_u32(code).is_ok()
            || ((100_000..1_000_000).contains(&code)
                && PROVINCE_PREFIXES.contains(&(code / 10_000))
                && !Jurisdiction::of(code).is_some_and(|j| j.id_prefixes_complete))
        {
            Ok(DivisionCode(code))
        } else {
            Err(ParseError::UnknownDivision {
                kind: IdKind::Division,
                code,
            })
        }
    }

    /// The province-level code this division belongs to, e.g. 220000 for
    /// 220100.
    pub fn province_code(self) -> u32 {
        self.0 / 10_000 * 10_000
    }

    /// Whether this is one of Liaoning's codes.
    pub fn is_liaoning(self) -> bool {
        self.province_code() == Self::PROVINCE.0
    }

    /// Parses 6 digits.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let kind = IdKind::Division;
        let chars = chars_exact(s, kind, 6)?;
        let code = digits_value(&chars).ok_or(ParseError::BadFormat { kind })?;
        Self::from_u32(code)
    }

    /// The 6-digit code.
    pub fn code(self) -> u32 {
        self.0
    }

    /// Whether this is a province itself (Liaoning's 210000, or another
    /// province's code read from its signed data).
    pub fn is_province(self) -> bool {
        self.0 % 10_000 == 0
    }

    /// Whether this is a city (or prefecture).
    pub fn is_city(self) -> bool {
        !self.is_province() && self.0 % 100 == 0
    }

    /// Whether this is a county-level code.
    pub fn is_county(self) -> bool {
        self.0 % 100 != 0
    }

    /// The city a county belongs to; a city itself; the province for 210000.
    pub fn city(self) -> DivisionCode {
        if self.is_province() {
            self
        } else {
            DivisionCode(self.0 / 100 * 100)
        }
    }

    /// The counties in force under this city (empty for a county or the
    /// province), in code order.
    pub fn counties(self) -> Vec<DivisionCode> {
        if !self.is_city() {
            return Vec::new();
        }
        Jurisdiction::of(self.0)
            .map(Jurisdiction::divisions)
            .unwrap_or_default()
            .iter()
            .filter(|r| r.current && r.code % 100 != 0 && r.code / 100 * 100 == self.0)
            .map(|r| DivisionCode(r.code))
            .collect()
    }

    fn city_row(self) -> Option<&'static DivisionRow> {
        if self.is_province() {
            return None;
        }
        division_row(self.city().0)
    }

    /// Chinese name: 辽宁省, a city's (沈阳市) or a county's own (铁西区);
    /// another province's code read from its signed data: its province.
    pub fn name_zh(self) -> &'static str {
        let province = || province_name_zh(self.province_code()).unwrap_or("外省");
        match division_row(self.0) {
            Some(row) => row.name,
            None => self.city_row().map_or_else(province, |row| row.name),
        }
    }

    /// Full Chinese name: a district with its city (沈阳市铁西区), since
    /// district names repeat across cities; otherwise [`Self::name_zh`].
    pub fn full_name_zh(self) -> String {
        let own = self.name_zh();
        if self.is_county() && own.ends_with('区') {
            format!("{}{own}", self.city().name_zh())
        } else {
            own.to_owned()
        }
    }

    /// Plate prefix of the city (辽A … 辽P, 吉A … 吉J); `None` for the
    /// province.
    pub fn plate_prefix(self) -> Option<&'static str> {
        self.city_row().and_then(|row| row.plate_prefix)
    }

    /// The city's plate letter (A for 沈阳, GA 36 发牌机关代号); `None` for
    /// the province.
    pub fn plate_letter(self) -> Option<char> {
        self.plate_prefix().and_then(|p| p.chars().nth(1))
    }

    /// The city abbreviation used in printed certificate numbers, e.g. 沈 in
    /// 辽交运管许可沈字…号; 辽 for the province. Placeholder values until
    /// the official abbreviations are confirmed.
    pub fn number_abbrev_zh(self) -> &'static str {
        match self.city_row().and_then(|row| row.abbrev) {
            Some(a) => a,
            None => Jurisdiction::of(self.0).map_or("", |j| j.short),
        }
    }

    /// The transport authority for this division: the province's
    /// department (辽宁省交通运输厅), a city's or a county's own 交通运输局
    /// (沈阳市交通运输局, 沈阳市铁西区交通运输局, 康平县交通运输局); for a
    /// province whose table does not ship, its name and the code.
    pub fn authority_name_zh(self) -> String {
        match Jurisdiction::of(self.0) {
            None => format!("{}交通运输主管部门（{self}）", self.name_zh()),
            Some(j) if self.is_province() => j.authority_zh.to_owned(),
            Some(_) => format!("{}交通运输局", self.full_name_zh()),
        }
    }

    /// The shipped province this division belongs to, if its table ships.
    pub fn jurisdiction(self) -> Option<&'static Jurisdiction> {
        Jurisdiction::of(self.0)
    }
}

/// Province-level names of GB/T 2260, by code.
const PROVINCE_NAMES: [(u32, &str); 34] = [
    (110000, "北京市"),
    (120000, "天津市"),
    (130000, "河北省"),
    (140000, "山西省"),
    (150000, "内蒙古自治区"),
    (210000, "辽宁省"),
    (220000, "吉林省"),
    (230000, "黑龙江省"),
    (310000, "上海市"),
    (320000, "江苏省"),
    (330000, "浙江省"),
    (340000, "安徽省"),
    (350000, "福建省"),
    (360000, "江西省"),
    (370000, "山东省"),
    (410000, "河南省"),
    (420000, "湖北省"),
    (430000, "湖南省"),
    (440000, "广东省"),
    (450000, "广西壮族自治区"),
    (460000, "海南省"),
    (500000, "重庆市"),
    (510000, "四川省"),
    (520000, "贵州省"),
    (530000, "云南省"),
    (540000, "西藏自治区"),
    (610000, "陕西省"),
    (620000, "甘肃省"),
    (630000, "青海省"),
    (640000, "宁夏回族自治区"),
    (650000, "新疆维吾尔自治区"),
    (710000, "台湾省"),
    (810000, "香港特别行政区"),
    (820000, "澳门特别行政区"),
];

/// The GB/T 2260 name of a province-level code (e.g. 220000 → 吉林省).
pub fn province_name_zh(province: u32) -> Option<&'static str> {
    PROVINCE_NAMES
        .iter()
        .find(|(code, _)| *code == province)
        .map(|(_, name)| *name)
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

impl FromStr for DivisionCode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<u32> for DivisionCode {
    type Error = ParseError;
    fn try_from(code: u32) -> Result<Self, Self::Error> {
        Self::from_u32(code)
    }
}

impl From<DivisionCode> for u32 {
    fn from(d: DivisionCode) -> u32 {
        d.0
    }
}

// ---------------------------------------------------------------------------
// CertIdentifier
// ---------------------------------------------------------------------------

/// The GB/T 36904 root arc of road-transport e-certificate identifiers.
pub const IDENTIFIER_ROOT: &str = "1.2.156.3005.2";

/// Longest serial accepted in an identifier (the longest certificate
/// number, the ride-hailing permit's 64 characters).
pub const MAX_SERIAL_LEN: usize = 64;

/// ISO 7064 MOD 37,36 (hybrid) check character over `0-9A-Z` text.
fn mod37_36_check(body: impl IntoIterator<Item = char>) -> Option<char> {
    let mut p: u32 = 36;
    for c in body {
        if c.is_ascii_lowercase() {
            return None;
        }
        let v = c.to_digit(36)?;
        let mut s = (p + v) % 36;
        if s == 0 {
            s = 36;
        }
        p = (s * 2) % 37;
    }
    // c such that (p + c) mod 36 == 1.
    let c = (1 + 72 - p) % 36;
    char::from_digit(c, 36).map(|c| c.to_ascii_uppercase())
}

fn upper_alnum(c: char) -> bool {
    c.is_ascii_digit() || c.is_ascii_uppercase()
}

fn check_type_code(s: &str) -> Result<(), ParseError> {
    let part = IdentifierPart::TypeCode;
    let kind = IdKind::CertIdentifier;
    exact_len(s, kind, 21).map_err(|e| e.in_part(part))?;
    let split = s.char_indices().nth(18).map_or(s.len(), |(at, _)| at);
    let (uscc, tail) = s.split_at(split);
    check_canonical_uscc(uscc).map_err(|e| e.in_part(part))?;
    for (i, c) in tail.chars().enumerate() {
        if !c.is_ascii_digit() {
            let e = ParseError::BadCharacter {
                kind,
                position: 18 + i + 1,
                found: c,
            };
            return Err(e.in_part(part));
        }
    }
    Ok(())
}

/// A valid credit code already in upper case.
fn check_canonical_uscc(s: &str) -> Result<(), ParseError> {
    check_uscc(s)?;
    if let Some((i, c)) = s.chars().enumerate().find(|(_, c)| c.is_ascii_lowercase()) {
        return Err(ParseError::BadCharacter {
            kind: IdKind::Uscc,
            position: i + 1,
            found: c,
        });
    }
    Ok(())
}

fn check_serial(s: &str) -> Result<(), ParseError> {
    let kind = IdKind::CertIdentifier;
    let part = IdentifierPart::Serial;
    let n = s.chars().count();
    if n == 0 {
        return Err(ParseError::Empty { kind }.in_part(part));
    }
    if n > MAX_SERIAL_LEN {
        let e = ParseError::LengthOutOfRange {
            kind,
            min: 1,
            max: MAX_SERIAL_LEN,
            found: n,
        };
        return Err(e.in_part(part));
    }
    if let Some((i, c)) = s.chars().enumerate().find(|(_, c)| !upper_alnum(*c)) {
        let e = ParseError::BadCharacter {
            kind,
            position: i + 1,
            found: c,
        };
        return Err(e.in_part(part));
    }
    Ok(())
}

fn version_error(found: impl fmt::Display) -> ParseError {
    ParseError::OutOfRange {
        kind: IdKind::Version,
        min: "1".to_owned(),
        max: "999".to_owned(),
        found: found.to_string(),
    }
    .in_part(IdentifierPart::Version)
}

/// A certificate identifier (证照标识, GB/T 36904):
/// `1.2.156.3005.2.{type code}.{issuer code}.{serial}.{version}.{check}`.
///
/// The type code is a credit code plus 3 digits, the issuer code a credit
/// code, the serial 1–64 digits or upper-case letters (no dots), the
/// version 3 digits (`001`–`999`), and the check character ISO 7064
/// MOD 37,36 (hybrid) over type code, issuer code, serial and version
/// concatenated without the root and without dots (`0-9` then `A-Z` for
/// 10–35).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CertIdentifier {
    text: String,
    type_code: String,
    issuer_code: String,
    serial: String,
    version: u16,
    check: char,
}

impl CertIdentifier {
    /// Parses and checks an identifier, check character included.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let kind = IdKind::CertIdentifier;
        if s.is_empty() {
            return Err(ParseError::Empty { kind });
        }
        let rest = s
            .strip_prefix(IDENTIFIER_ROOT)
            .and_then(|r| r.strip_prefix('.'))
            .ok_or(ParseError::BadFormat { kind })?;
        let parts: Vec<&str> = rest.split('.').collect();
        let [type_code, issuer, serial, version, check] = parts[..] else {
            return Err(ParseError::BadFormat { kind });
        };
        check_type_code(type_code)?;
        check_canonical_uscc(issuer).map_err(|e| e.in_part(IdentifierPart::IssuerCode))?;
        check_serial(serial)?;
        let v_chars: Vec<char> = version.chars().collect();
        if v_chars.len() != 3 {
            let e = ParseError::WrongLength {
                kind,
                expected: 3,
                found: v_chars.len(),
            };
            return Err(e.in_part(IdentifierPart::Version));
        }
        let version_no = digits_value(&v_chars)
            .and_then(|v| u16::try_from(v).ok())
            .filter(|_| v_chars.iter().all(char::is_ascii_digit))
            .ok_or_else(|| {
                ParseError::BadFormat {
                    kind: IdKind::Version,
                }
                .in_part(IdentifierPart::Version)
            })?;
        if version_no == 0 {
            return Err(version_error(version));
        }
        let check_chars: Vec<char> = check.chars().collect();
        let [found] = check_chars[..] else {
            return Err(ParseError::WrongLength {
                kind,
                expected: 1,
                found: check_chars.len(),
            });
        };
        let body = format!("{type_code}{issuer}{serial}{version}");
        let expected = mod37_36_check(body.chars()).ok_or(ParseError::BadFormat { kind })?;
        if !upper_alnum(found) {
            let position = s.chars().count();
            return Err(ParseError::BadCharacter {
                kind,
                position,
                found,
            });
        }
        if expected != found {
            return Err(ParseError::BadCheckDigit {
                kind,
                expected,
                found,
            });
        }
        Ok(CertIdentifier {
            text: s.to_owned(),
            type_code: type_code.to_owned(),
            issuer_code: issuer.to_owned(),
            serial: serial.to_owned(),
            version: version_no,
            check: found,
        })
    }

    /// Builds the identifier of version `version` (1–999) of certificate
    /// `serial`, computing the check character.
    pub fn build(
        type_code: &str,
        issuer: &str,
        serial: &str,
        version: u16,
    ) -> Result<Self, ParseError> {
        check_type_code(type_code)?;
        check_canonical_uscc(issuer).map_err(|e| e.in_part(IdentifierPart::IssuerCode))?;
        check_serial(serial)?;
        if !(1..=999).contains(&version) {
            return Err(version_error(version));
        }
        let digits = [version / 100, version / 10 % 10, version % 10]
            .map(|d| char::from(b'0' + u8::try_from(d).unwrap_or(0)));
        let body = type_code
            .chars()
            .chain(issuer.chars())
            .chain(serial.chars())
            .chain(digits);
        let check = mod37_36_check(body).ok_or(ParseError::BadFormat {
            kind: IdKind::CertIdentifier,
        })?;
        // Built by hand: `format!` was a fifth of this function's time, and
        // every pushed record builds its identifier.
        let mut text = String::with_capacity(
            IDENTIFIER_ROOT.len() + type_code.len() + issuer.len() + serial.len() + 10,
        );
        for part in [
            IDENTIFIER_ROOT,
            ".",
            type_code,
            ".",
            issuer,
            ".",
            serial,
            ".",
        ] {
            text.push_str(part);
        }
        text.extend(digits);
        text.push('.');
        text.push(check);
        Ok(CertIdentifier {
            text,
            type_code: type_code.to_owned(),
            issuer_code: issuer.to_owned(),
            serial: serial.to_owned(),
            version,
            check,
        })
    }

    /// The full identifier text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// 证照类型代码, 21 characters.
    pub fn type_code(&self) -> &str {
        &self.type_code
    }

    /// 颁发机构代码: the issuer's credit code.
    pub fn issuer_code(&self) -> &str {
        &self.issuer_code
    }

    /// 流水号: the certificate number or serial.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// Version, 1–999.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// The check character.
    pub fn check_char(&self) -> char {
        self.check
    }
}

string_id!(CertIdentifier);

// ---------------------------------------------------------------------------
// ScopeCode
// ---------------------------------------------------------------------------

/// Known business-scope codes (经营范围, JT/T 415) and their names.
///
/// - 031–039 are dangerous-goods transport restricted to one UN class
///   (1–9), as written on permits ("第 3 类").
/// - 040 放射性物品道路运输 and 092 网络预约出租汽车客运 are this project's
///   own codes: the published excerpt of JT/T 415 has no code for them.
/// - 013/014 split tourist transport into fixed-route and non-fixed-route.
pub const SCOPE_CODES: &[(u16, &str)] = &[
    (10, "道路旅客运输"),
    (11, "班车客运"),
    (12, "包车客运"),
    (13, "定线旅游客运"),
    (14, "非定线旅游客运"),
    (20, "道路货物运输"),
    (21, "道路普通货物运输"),
    (22, "道路货物专用运输"),
    (23, "道路大型物件运输"),
    (30, "道路危险货物运输"),
    (31, "道路危险货物运输（第1类 爆炸品）"),
    (32, "道路危险货物运输（第2类 气体）"),
    (33, "道路危险货物运输（第3类 易燃液体）"),
    (
        34,
        "道路危险货物运输（第4类 易燃固体、易于自燃的物质、遇水放出易燃气体的物质）",
    ),
    (35, "道路危险货物运输（第5类 氧化性物质和有机过氧化物）"),
    (36, "道路危险货物运输（第6类 毒性物质和感染性物质）"),
    (37, "道路危险货物运输（第7类 放射性物质）"),
    (38, "道路危险货物运输（第8类 腐蚀性物质）"),
    (39, "道路危险货物运输（第9类 杂项危险物质和物品）"),
    (40, "放射性物品道路运输"),
    (70, "国际道路运输"),
    (90, "出租汽车客运"),
    (91, "巡游出租汽车客运"),
    (92, "网络预约出租汽车客运"),
    (100, "汽车租赁"),
];

/// A business-scope code (经营范围代码, JT/T 415); see [`SCOPE_CODES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct ScopeCode(u16);

impl ScopeCode {
    /// The scope for a code in [`SCOPE_CODES`].
    pub fn from_code(code: u64) -> Result<Self, ParseError> {
        SCOPE_CODES
            .iter()
            .find(|(c, _)| u64::from(*c) == code)
            .map(|(c, _)| ScopeCode(*c))
            .ok_or_else(|| ParseError::UnknownCode {
                kind: IdKind::ScopeCode,
                code: format!("{code:03}"),
            })
    }

    /// Parses `"021"` or `"21"` (1–3 digits).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let kind = IdKind::ScopeCode;
        if s.is_empty() {
            return Err(ParseError::Empty { kind });
        }
        if s.len() > 3 || !s.chars().all(|c| c.is_ascii_digit()) {
            return Err(ParseError::BadFormat { kind });
        }
        let code: u64 = s.parse().map_err(|_| ParseError::BadFormat { kind })?;
        Self::from_code(code)
    }

    /// The numeric code (`21` for `021`).
    pub fn code(self) -> u16 {
        self.0
    }

    /// Chinese name, e.g. 道路普通货物运输.
    pub fn label_zh(self) -> &'static str {
        SCOPE_CODES
            .iter()
            .find(|(c, _)| *c == self.0)
            .map_or("", |(_, l)| l)
    }

    /// Whether this is dangerous-goods transport (030–039).
    pub fn is_dangerous_goods(self) -> bool {
        (30..=39).contains(&self.0)
    }
}

impl fmt::Display for ScopeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

impl FromStr for ScopeCode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<u16> for ScopeCode {
    type Error = ParseError;
    fn try_from(code: u16) -> Result<Self, Self::Error> {
        Self::from_code(u64::from(code))
    }
}

impl From<ScopeCode> for u16 {
    fn from(s: ScopeCode) -> u16 {
        s.0
    }
}

// ---------------------------------------------------------------------------
// Tonnage
// ---------------------------------------------------------------------------

/// Largest tonnage accepted, in ten-thousandths of a tonne (200 t).
const MAX_TONNAGE: u64 = 200 * 10_000;

/// A tonnage (吨位) in tonnes with up to 4 decimals, stored exactly as
/// ten-thousandths of a tonne. Must be more than 0 and at most 200 t.
/// Displays with 4 decimals, e.g. `11.8850`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tonnage(u32);

fn tonnes_text(ten_thousandths: u64) -> String {
    format!(
        "{}.{:04}",
        ten_thousandths / 10_000,
        ten_thousandths % 10_000
    )
}

impl Tonnage {
    /// A tonnage from ten-thousandths of a tonne (`118850` is 11.885 t).
    pub fn from_ten_thousandths(v: u64) -> Result<Self, ParseError> {
        if v == 0 || v > MAX_TONNAGE {
            return Err(ParseError::OutOfRange {
                kind: IdKind::Tonnage,
                min: "0.0001".to_owned(),
                max: tonnes_text(MAX_TONNAGE),
                found: tonnes_text(v),
            });
        }
        u32::try_from(v)
            .map(Tonnage)
            .map_err(|_| ParseError::BadFormat {
                kind: IdKind::Tonnage,
            })
    }

    /// Parses tonnes such as `"11.8850"`, `"11.885"` or `"40"`.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let kind = IdKind::Tonnage;
        if s.is_empty() {
            return Err(ParseError::Empty { kind });
        }
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let all_digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
        let frac_ok = !s.contains('.') || (1..=4).contains(&frac.len());
        if int.is_empty() || !frac_ok || !all_digits(int) || !all_digits(frac) {
            return Err(ParseError::BadFormat { kind });
        }
        let int = int.trim_start_matches('0');
        if int.len() > 6 {
            return Err(ParseError::OutOfRange {
                kind,
                min: "0.0001".to_owned(),
                max: tonnes_text(MAX_TONNAGE),
                found: s.to_owned(),
            });
        }
        let int_v: u64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| ParseError::BadFormat { kind })?
        };
        let frac_v: u64 = format!("{frac:0<4}")
            .parse()
            .map_err(|_| ParseError::BadFormat { kind })?;
        Self::from_ten_thousandths(int_v * 10_000 + frac_v)
    }

    /// The tonnage in ten-thousandths of a tonne.
    pub fn ten_thousandths(self) -> u32 {
        self.0
    }

    fn text(self) -> String {
        tonnes_text(u64::from(self.0))
    }
}

impl fmt::Display for Tonnage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl FromStr for Tonnage {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Tonnage {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Tonnage> for String {
    fn from(t: Tonnage) -> String {
        t.text()
    }
}

// ---------------------------------------------------------------------------
// Vin
// ---------------------------------------------------------------------------

/// A vehicle identification number (车辆识别代号, GB 16735 / ISO 3779):
/// 17 characters from `A-H J-N P R-Z 0-9` (no I, O, Q) with the check
/// character at position 9: each character is transliterated (digits as
/// themselves, A–H 1–8, J–N 1–5, P 7, R 9, S–Z 2–9), weighted by
/// 8 7 6 5 4 3 2 10 0 9 8 7 6 5 4 3 2, and the sum mod 11 is the check
/// (`X` for 10), as GB 16735 (Annex, after ISO 3779) requires for vehicles
/// made in China. Lower-case input is normalised to upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Vin(String);

impl Vin {
    /// Parses and checks a VIN.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let kind = IdKind::Vin;
        let chars = chars_exact(s, kind, 17)?;
        let mut text = String::with_capacity(17);
        for (i, c) in chars.iter().enumerate() {
            let u = c.to_ascii_uppercase();
            if !(u.is_ascii_digit() || (u.is_ascii_uppercase() && !"IOQ".contains(u))) {
                return Err(ParseError::BadCharacter {
                    kind,
                    position: i + 1,
                    found: *c,
                });
            }
            text.push(u);
        }
        let expected = Self::check_char_for(&text).ok_or(ParseError::BadFormat { kind })?;
        let found = text.chars().nth(8).unwrap_or(' ');
        if expected != found {
            return Err(ParseError::BadCheckDigit {
                kind,
                expected,
                found,
            });
        }
        Ok(Vin(text))
    }

    /// The position-9 check character for 17 VIN characters (the 9th is
    /// ignored), or `None` if `vin` is not 17 VIN characters. Useful to
    /// make test data.
    pub fn check_char_for(vin: &str) -> Option<char> {
        const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
        if vin.chars().count() != 17 {
            return None;
        }
        let sum = vin
            .chars()
            .zip(WEIGHTS)
            .try_fold(0u32, |acc, (c, w)| Some(acc + vin_value(c)? * w))?;
        match sum % 11 {
            10 => Some('X'),
            d => char::from_digit(d, 10),
        }
    }

    /// The normalised 17 characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_id!(Vin);

/// The GB 16735 / ISO 3779 transliteration of one VIN character.
fn vin_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => c.to_digit(10),
        'A'..='H' => Some(c as u32 - 'A' as u32 + 1),
        'J'..='N' => Some(c as u32 - 'J' as u32 + 1),
        'P' => Some(7),
        'R' => Some(9),
        'S'..='Z' => Some(c as u32 - 'S' as u32 + 2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const GOOD_IDENTIFIERS: [&str; 2] = [
        "1.2.156.3005.2.11100000000013338W011.11110000000021135M.20230329701.003.Y",
        "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
    ];

    fn rule<T: fmt::Debug>(r: Result<T, ParseError>) -> &'static str {
        match r {
            Ok(_) => "ok",
            Err(e) => e.rule(),
        }
    }

    #[test]
    fn id_numbers() {
        let today = date!(2026 - 06 - 01);
        let table: &[(&str, &str)] = &[
            ("210102198503122434", "ok"),
            ("21010319920101004x", "id_number.check_digit"),
            ("211404197202293876", "ok"),
            ("11010519491231002X", "ok"),
            ("11010519491231002x", "ok"),
            ("", "id_number.empty"),
            ("21010219850312243", "id_number.length"),
            ("2101021985031224344", "id_number.length"),
            ("21010219850312243A", "id_number.character"),
            ("2101021985O312243X", "id_number.character"),
            ("210102198503122435", "id_number.check_digit"),
            ("991010199001010011", "id_number.check_digit"),
            ("990102198503122434", "id_number.unknown_division"),
            ("210102197302293873", "id_number.impossible_date"),
            ("21010218500312123X", "id_number.too_early"),
            ("210102203001010014", "id_number.future_date"),
        ];
        for &(input, want) in table {
            assert_eq!(rule(IdNumber::parse_on(input, today)), want, "{input}");
        }
        // Without "today", only the future check is skipped.
        assert!(IdNumber::parse("210102203001010014").is_ok());
        assert!(IdNumber::parse("991010199001010011").is_err());
    }

    #[test]
    fn id_number_accessors() {
        let id = IdNumber::parse("11010519491231002x").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.birth_date(), date!(1949 - 12 - 31));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.division_prefix(), 110105);
        let id = IdNumber::parse("210102198503122434").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id.sex(), Sex::Male);
        assert_eq!(IdNumber::check_char_for("21010219850312243"), Some('4'));
        assert_eq!(IdNumber::check_char_for("2101021985031224"), None);
    }

    #[test]
    fn id_number_messages() {
        let e = IdNumber::parse("21010319920101004X").err();
        let e = e.unwrap_or_else(|| panic!("must fail"));
        assert_eq!(e.rule(), "id_number.check_digit");
        assert_eq!(e.to_string(), "id number: check digit should be 0, found X");
        assert_eq!(e.message_zh(), "身份证号码校验位错误：应为 0，实为 X");
    }

    #[test]
    fn usccs() {
        let table: &[(&str, &str)] = &[
            ("11100000000013338W", "ok"),
            ("11110000000021135M", "ok"),
            ("11330105002500287C", "ok"),
            ("91210106MA0XN3K249", "ok"),
            ("91210106ma0xn3k249", "ok"),
            ("91210100MA0YB4R6XT", "ok"),
            ("91210106MA0XN3K24", "uscc.length"),
            ("91210106MA0XN3K24I", "uscc.character"),
            ("91210106MA0XN3KO49", "uscc.character"),
            ("91210106MA0XN3K248", "uscc.check_digit"),
            ("", "uscc.empty"),
        ];
        for &(input, want) in table {
            assert_eq!(rule(Uscc::parse(input)), want, "{input}");
        }
        let u = Uscc::parse("91210106ma0xn3k249").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u.as_str(), "91210106MA0XN3K249");
    }

    #[test]
    fn plates() {
        let table: &[(&str, &str)] = &[
            ("辽A12345", "ok"),
            ("辽A5K823", "ok"),
            ("辽b3g25挂", "ok"),
            ("辽B1234学", "ok"),
            ("辽A0001警", "ok"),
            ("辽BD12345", "ok"),
            ("辽BDF1234", "ok"),
            ("辽B12345D", "ok"),
            ("京AFA1234", "ok"),
            ("辽A1234", "plate.length"),
            ("辽A1234567", "plate.length"),
            ("", "plate.empty"),
            ("台A12345", "plate.province"),
            ("AA12345", "plate.province"),
            ("辽I12345", "plate.character"),
            ("辽112345", "plate.character"),
            ("辽AO2345", "plate.character"),
            ("辽A123挂4", "plate.character"),
            ("辽BZ12345", "plate.character"),
            ("辽BD1234A", "plate.character"),
            ("辽B1234DD", "plate.character"),
            ("辽B12345Z", "plate.character"),
        ];
        for &(input, want) in table {
            assert_eq!(rule(PlateNumber::parse(input)), want, "{input}");
        }
        let p = PlateNumber::parse("辽bd12345").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.as_str(), "辽BD12345");
        assert!(p.is_new_energy());
        assert_eq!(p.province(), '辽');
        assert_eq!(p.city_letter(), 'B');
        let p = PlateNumber::parse("辽A5K823").unwrap_or_else(|e| panic!("{e}"));
        assert!(!p.is_new_energy());
    }

    #[test]
    fn plate_colours() {
        for (code, want) in [(0, "ok"), (1, "ok"), (5, "ok"), (6, "ok"), (9, "ok")] {
            assert_eq!(rule(PlateColour::from_code(code)), want);
        }
        for code in [7, 8, 10, 255, u64::MAX] {
            assert_eq!(
                rule(PlateColour::from_code(code)),
                "plate_colour.unknown_code"
            );
        }
        for c in PlateColour::ALL {
            assert_eq!(PlateColour::from_code(u64::from(c.code())), Ok(c));
            assert_eq!(PlateColour::parse(&c.code().to_string()), Ok(c));
            assert_eq!(PlateColour::parse(c.label_zh()), Ok(c));
        }
        assert_eq!(PlateColour::parse("黄"), Ok(PlateColour::Yellow));
        assert_eq!(PlateColour::parse("渐变绿"), Ok(PlateColour::Green));
        assert_eq!(PlateColour::parse("黄绿"), Ok(PlateColour::YellowGreen));
        assert_eq!(rule(PlateColour::parse("紫色")), "plate_colour.format");
        assert_eq!(rule(PlateColour::parse("7")), "plate_colour.unknown_code");
        assert_eq!(rule(PlateColour::parse("")), "plate_colour.empty");
    }

    #[test]
    fn every_shipped_table_parses_whole() {
        for j in JURISDICTIONS {
            let data_lines = j
                .table
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .count();
            let rows = j.divisions();
            assert_eq!(
                rows.len(),
                data_lines,
                "{}: a row does not parse",
                j.name_en
            );
            assert!(rows.iter().all(|r| r.code / 10_000 * 10_000 == j.code));
            for city in j.cities() {
                let prefix = city.plate_prefix().unwrap_or_default();
                assert!(prefix.starts_with(j.short), "{city} {prefix}");
                assert_eq!(prefix.chars().count(), 2, "{city}");
                assert!(!city.number_abbrev_zh().is_empty(), "{city}");
                assert!(!city.counties().is_empty(), "{city}");
            }
            // Plate letters are unique within the province.
            let mut letters: Vec<char> =
                j.cities().iter().filter_map(|c| c.plate_letter()).collect();
            letters.sort_unstable();
            letters.dedup();
            assert_eq!(letters.len(), j.cities().len(), "{}", j.name_en);
        }
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn jilin_divisions_plates_and_names() {
        // 长春 and 延边朝鲜族自治州 (a prefecture, 222400) and their counties.
        assert_eq!(JILIN.cities().len(), 9);
        let current = JILIN.divisions().iter().filter(|r| r.current).count();
        assert_eq!(current, 1 + 9 + 60);
        let yanji = DivisionCode::from_u32(222401).unwrap();
        assert_eq!(yanji.name_zh(), "延吉市");
        assert_eq!(yanji.city().name_zh(), "延边朝鲜族自治州");
        assert_eq!(yanji.plate_prefix(), Some("吉H"));
        let nanguan = DivisionCode::from_u32(220102).unwrap();
        assert_eq!(nanguan.full_name_zh(), "长春市南关区");
        assert_eq!(nanguan.authority_name_zh(), "长春市南关区交通运输局");
        assert_eq!(JILIN.division().authority_name_zh(), "吉林省交通运输厅");
        assert_eq!(
            DivisionCode::from_u32(220700).unwrap().plate_prefix(),
            Some("吉J")
        );
        // A development zone's statistical code is no division.
        assert!(DivisionCode::from_u32(220171).is_err());
        // Jilin's codes are divisions, but not Liaoning's.
        let e = LIAONING.check(nanguan).unwrap_err();
        assert_eq!(e.rule(), "division.unknown_division");
        assert!(
            e.message_zh().contains("不是辽宁省现行行政区划代码"),
            "{}",
            e.message_zh()
        );
        assert_eq!(JILIN.check(nanguan), Ok(nanguan));
        assert_eq!(Jurisdiction::of(222426).map(|j| j.code), Some(220000));
        assert!(Jurisdiction::of(230100).is_none());
        // Jilin's table is not complete for ID numbers: any 22 code passes.
        assert!(id_prefix_is_real(220199));
    }

    #[test]
    fn division_table_is_complete() {
        let rows = liaoning_divisions();
        let current: Vec<_> = rows.iter().filter(|r| r.current).collect();
        // The province, 14 cities, 100 county-level divisions.
        assert_eq!(current.len(), 115);
        assert_eq!(current.iter().filter(|r| r.code % 100 != 0).count(), 100);
        for city in LIAONING_CITIES {
            assert!(!city.counties().is_empty(), "{city}");
            assert_eq!(DivisionCode::from_u32(city.code()), Ok(city));
        }
        let mut codes: Vec<u32> = rows.iter().map(|r| r.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), rows.len(), "duplicate code");
        assert!(rows
            .iter()
            .all(|r| r.code / 10_000 == 21 && !r.name.is_empty()));

        // ID number prefixes.
        for (code, ok) in [
            (210102, true),
            (211481, true),
            (210282, true), // 普兰店市, abolished 2015: older ID numbers
            (210199, false),
            (210100, false),
            (210101, false),
            (110105, true),
            (220102, true),
            (990102, false),
        ] {
            assert_eq!(id_prefix_is_real(code), ok, "{code}");
        }
        let d = DivisionCode::from_u32(210106).unwrap_or(DivisionCode::PROVINCE);
        assert_eq!(d.name_zh(), "铁西区");
        assert_eq!(d.authority_name_zh(), "沈阳市铁西区交通运输局");
        let d = DivisionCode::from_u32(210181).unwrap_or(DivisionCode::PROVINCE);
        assert_eq!(d.authority_name_zh(), "新民市交通运输局");
        assert_eq!(d.plate_letter(), Some('A'));
    }

    #[test]
    fn division_codes() {
        let table: &[(u32, &str)] = &[
            (210000, "ok"),
            (210100, "ok"),
            (211400, "ok"),
            (210102, "ok"),
            (211481, "ok"),
            (210123, "ok"),
            (210199, "division.unknown_division"),
            (210101, "division.unknown_division"),
            (210122, "division.unknown_division"),
            (210107, "division.unknown_division"),
            (210001, "division.unknown_division"),
            (211500, "division.unknown_division"),
            (211501, "division.unknown_division"),
            // 黑龙江 (no table ships); Jilin's 220100 is a shipped division.
            (230100, "division.unknown_division"),
            (110000, "division.unknown_division"),
            (0, "division.unknown_division"),
            (2101000, "division.unknown_division"),
        ];
        for &(code, want) in table {
            assert_eq!(rule(DivisionCode::from_u32(code)), want, "{code}");
        }
        assert_eq!(rule(DivisionCode::parse("21010")), "division.length");
        assert_eq!(rule(DivisionCode::parse("21O100")), "division.format");
        assert_eq!(rule(DivisionCode::parse("+21010")), "division.format");
        assert_eq!(DivisionCode::parse("210211").map(|d| d.code()), Ok(210211));

        let names = [
            "沈阳市",
            "大连市",
            "鞍山市",
            "抚顺市",
            "本溪市",
            "丹东市",
            "锦州市",
            "营口市",
            "阜新市",
            "辽阳市",
            "盘锦市",
            "铁岭市",
            "朝阳市",
            "葫芦岛市",
        ];
        let plates = "ABCDEFGHJKLMNP";
        for ((city, name), letter) in LIAONING_CITIES.iter().zip(names).zip(plates.chars()) {
            assert!(city.is_city());
            assert_eq!(DivisionCode::from_u32(city.code()), Ok(*city));
            assert_eq!(city.name_zh(), name);
            assert_eq!(city.plate_prefix(), Some(format!("辽{letter}").as_str()));
            assert_eq!(city.authority_name_zh(), format!("{name}交通运输局"));
            assert_eq!(city.city(), *city);
        }
        let p = DivisionCode::PROVINCE;
        assert!(p.is_province() && !p.is_city() && !p.is_county());
        assert_eq!(p.city(), p);
        assert_eq!(p.name_zh(), "辽宁省");
        assert_eq!(p.plate_prefix(), None);
        assert_eq!(p.authority_name_zh(), "辽宁省交通运输厅");
        let county = DivisionCode::from_u32(210211).unwrap_or_else(|e| panic!("{e}"));
        assert!(county.is_county());
        assert_eq!(county.city().code(), 210200);
        assert_eq!(county.name_zh(), "甘井子区");
        assert_eq!(county.city().name_zh(), "大连市");
        assert_eq!(county.authority_name_zh(), "大连市甘井子区交通运输局");
        assert_eq!(county.plate_prefix(), Some("辽B"));
        assert_eq!(county.to_string(), "210211");
    }

    #[test]
    fn published_identifiers_parse() {
        let a = CertIdentifier::parse(GOOD_IDENTIFIERS[0]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.type_code(), "11100000000013338W011");
        assert_eq!(a.issuer_code(), "11110000000021135M");
        assert_eq!(a.serial(), "20230329701");
        assert_eq!(a.version(), 3);
        assert_eq!(a.check_char(), 'Y');
        assert_eq!(a.as_str(), GOOD_IDENTIFIERS[0]);
        let b = CertIdentifier::parse(GOOD_IDENTIFIERS[1]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.check_char(), '0');
        assert_eq!(b.version(), 2);
        // build() reproduces both.
        for id in [a, b] {
            let rebuilt =
                CertIdentifier::build(id.type_code(), id.issuer_code(), id.serial(), id.version());
            assert_eq!(rebuilt, Ok(id));
        }
    }

    #[test]
    fn identifier_failures() {
        let base = GOOD_IDENTIFIERS[0];
        let table: &[(String, &str)] = &[
            (String::new(), "cert_identifier.empty"),
            (base.replacen(".Y", ".Z", 1), "cert_identifier.check_digit"),
            (base.replacen(".Y", ".y", 1), "cert_identifier.character"),
            (base.replacen(".Y", ".YY", 1), "cert_identifier.length"),
            (
                base.replacen("1.2.156", "1.2.157", 1),
                "cert_identifier.format",
            ),
            (base.replacen(".003.", ".3.", 1), "cert_identifier.version"),
            (
                base.replacen(".003.", ".000.", 1),
                "cert_identifier.version",
            ),
            (
                base.replacen(".003.", ".0a3.", 1),
                "cert_identifier.version",
            ),
            (
                base.replacen("20230329701", "2023.0329701", 1),
                "cert_identifier.format",
            ),
            (
                base.replacen("20230329701", "2023-0329701", 1),
                "cert_identifier.serial",
            ),
            (
                base.replacen("20230329701", "", 1),
                "cert_identifier.serial",
            ),
            (
                base.replacen("21135M", "21135N", 1),
                "cert_identifier.issuer_code",
            ),
            (
                base.replacen("13338W011", "13338W01A", 1),
                "cert_identifier.type_code",
            ),
            (
                base.replacen("13338W011", "13338W01", 1),
                "cert_identifier.type_code",
            ),
            (
                base.replacen("13338W011", "13338X011", 1),
                "cert_identifier.type_code",
            ),
        ];
        for (input, want) in table {
            assert_eq!(rule(CertIdentifier::parse(input)), *want, "{input}");
        }
    }

    #[test]
    fn identifier_build() {
        let t = "11100000000013338W004";
        let i = "11210100001245632C";
        let id = CertIdentifier::build(t, i, "210100165715", 1).unwrap_or_else(|e| panic!("{e}"));
        assert!(id
            .as_str()
            .starts_with("1.2.156.3005.2.11100000000013338W004."));
        assert_eq!(CertIdentifier::parse(id.as_str()), Ok(id.clone()));
        assert_eq!(id.version(), 1);
        assert!(id.as_str().contains(".210100165715.001."));
        // Serials with letters and the longest serial build too.
        let long = "A".repeat(MAX_SERIAL_LEN);
        for serial in ["21010219850312243X", "WYJY2023ABC", long.as_str()] {
            let id = CertIdentifier::build(t, i, serial, 999).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(CertIdentifier::parse(id.as_str()), Ok(id));
        }
        let table: &[(&str, &str, &str, u16, &str)] = &[
            (t, i, "1", 0, "cert_identifier.version"),
            (t, i, "1", 1000, "cert_identifier.version"),
            (t, i, "a1", 1, "cert_identifier.serial"),
            (t, i, "1.2", 1, "cert_identifier.serial"),
            (t, i, "", 1, "cert_identifier.serial"),
            (
                t,
                "11210100001245632c",
                "1",
                1,
                "cert_identifier.issuer_code",
            ),
            (
                t,
                "11210100001245632D",
                "1",
                1,
                "cert_identifier.issuer_code",
            ),
            ("11100000000013338W", i, "1", 1, "cert_identifier.type_code"),
        ];
        for &(t, i, s, v, want) in table {
            assert_eq!(
                rule(CertIdentifier::build(t, i, s, v)),
                want,
                "{t} {i} {s} {v}"
            );
        }
        let too_long = "1".repeat(MAX_SERIAL_LEN + 1);
        assert_eq!(
            rule(CertIdentifier::build(t, i, &too_long, 1)),
            "cert_identifier.serial"
        );
    }

    #[test]
    fn mod37_36_matches_iso_7064() {
        // Every single-character change of a valid body changes the check.
        let body = "11100000000013338W01111110000000021135M20230329701003";
        let good = mod37_36_check(body.chars());
        assert_eq!(good, Some('Y'));
        let alphabet: Vec<char> = ('0'..='9').chain('A'..='Z').collect();
        for pos in 0..body.len() {
            for &c in &alphabet {
                let mut changed: Vec<char> = body.chars().collect();
                if changed[pos] == c {
                    continue;
                }
                changed[pos] = c;
                let changed: String = changed.into_iter().collect();
                assert_ne!(mod37_36_check(changed.chars()), good, "{changed}");
            }
        }
    }

    #[test]
    fn scope_codes() {
        let table: &[(&str, &str)] = &[
            ("021", "ok"),
            ("21", "ok"),
            ("010", "ok"),
            ("031", "ok"),
            ("039", "ok"),
            ("040", "ok"),
            ("092", "ok"),
            ("100", "ok"),
            ("024", "scope_code.unknown_code"),
            ("0", "scope_code.unknown_code"),
            ("999", "scope_code.unknown_code"),
            ("0210", "scope_code.format"),
            ("2a", "scope_code.format"),
            ("-21", "scope_code.format"),
            ("", "scope_code.empty"),
        ];
        for &(input, want) in table {
            assert_eq!(rule(ScopeCode::parse(input)), want, "{input}");
        }
        let s = ScopeCode::parse("21").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.code(), 21);
        assert_eq!(s.to_string(), "021");
        assert_eq!(s.label_zh(), "道路普通货物运输");
        assert!(ScopeCode::parse("033").is_ok_and(ScopeCode::is_dangerous_goods));
        for &(code, label) in SCOPE_CODES {
            let s = ScopeCode::from_code(u64::from(code)).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(s.label_zh(), label);
        }
    }

    #[test]
    fn tonnages() {
        let table: &[(&str, Option<u32>, &str)] = &[
            ("11.8850", Some(118_850), "11.8850"),
            ("11.885", Some(118_850), "11.8850"),
            ("40", Some(400_000), "40.0000"),
            ("0.0001", Some(1), "0.0001"),
            ("200", Some(2_000_000), "200.0000"),
            ("007.5", Some(75_000), "7.5000"),
        ];
        for &(input, want, shown) in table {
            let t = Tonnage::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(Some(t.ten_thousandths()), want);
            assert_eq!(t.to_string(), shown);
        }
        let bad: &[(&str, &str)] = &[
            ("0", "tonnage.out_of_range"),
            ("0.0000", "tonnage.out_of_range"),
            ("200.0001", "tonnage.out_of_range"),
            ("99999999999", "tonnage.out_of_range"),
            ("11.88501", "tonnage.format"),
            ("11.", "tonnage.format"),
            (".5", "tonnage.format"),
            ("11,885", "tonnage.format"),
            ("-1", "tonnage.format"),
            ("1e3", "tonnage.format"),
            ("", "tonnage.empty"),
        ];
        for &(input, want) in bad {
            assert_eq!(rule(Tonnage::parse(input)), want, "{input}");
        }
        assert_eq!(
            rule(Tonnage::from_ten_thousandths(0)),
            "tonnage.out_of_range"
        );
        assert_eq!(
            rule(Tonnage::from_ten_thousandths(u64::MAX)),
            "tonnage.out_of_range"
        );
    }

    #[test]
    fn vins_and_dates() {
        assert_eq!(rule(Vin::parse("LFWSRXPJ6LA123617")), "ok");
        assert_eq!(
            Vin::parse("lfwsrxpj6la123617").map(|v| v.to_string()),
            Ok("LFWSRXPJ6LA123617".to_owned())
        );
        assert_eq!(rule(Vin::parse("LFWSRXPJ6LA12361")), "vin.length");
        assert_eq!(rule(Vin::parse("LFWSRXPJ6LA12361O")), "vin.character");
        assert_eq!(rule(Vin::parse("LFWSRXPJ6LA12361Q")), "vin.character");
        // Position 9 check digit (GB 16735 / ISO 3779).
        for good in [
            "WDBEA30D3HA391172",
            "1M8GDM9AXKP042788",
            "LSGKB54H3RT021568",
        ] {
            assert_eq!(rule(Vin::parse(good)), "ok", "{good}");
        }
        assert_eq!(rule(Vin::parse("LFWSRXPJ7LA123617")), "vin.check_digit");
        assert_eq!(rule(Vin::parse("1M8GDM9A1KP042788")), "vin.check_digit");
        assert_eq!(Vin::check_char_for("1M8GDM9A_KP042788"), None);
        assert_eq!(Vin::check_char_for("1M8GDM9A0KP042788"), Some('X'));

        let table: &[(&str, &str)] = &[
            ("20230329", "ok"),
            ("2023-03-29", "ok"),
            ("20240229", "ok"),
            ("20230230", "date.impossible_date"),
            ("2023-13-01", "date.impossible_date"),
            ("20230001", "date.impossible_date"),
            ("18991231", "date.too_early"),
            ("2023/03/29", "date.format"),
            ("2023329", "date.format"),
            ("2023-3-29", "date.format"),
            ("２０２３０３２９", "date.format"),
            ("", "date.empty"),
        ];
        for &(input, want) in table {
            assert_eq!(rule(parse_date(input)), want, "{input}");
        }
    }

    #[test]
    fn serde_goes_through_the_parsers() {
        let id: Result<IdNumber, _> = serde_json::from_str("\"210102198503122434\"");
        assert!(id.is_ok());
        let bad: Result<IdNumber, _> = serde_json::from_str("\"210102198503122435\"");
        assert!(bad.is_err());
        assert!(serde_json::from_str::<Uscc>("\"91210106MA0XN3K248\"").is_err());
        assert!(serde_json::from_str::<PlateNumber>("\"辽I12345\"").is_err());
        assert!(serde_json::from_str::<PlateColour>("7").is_err());
        assert_eq!(
            serde_json::from_str::<PlateColour>("2").ok(),
            Some(PlateColour::Yellow)
        );
        assert!(serde_json::from_str::<DivisionCode>("230100").is_err());
        assert!(serde_json::from_str::<ScopeCode>("24").is_err());
        assert!(serde_json::from_str::<Tonnage>("\"0\"").is_err());
        assert!(serde_json::from_str::<Vin>("\"X\"").is_err());
        let bad_id = GOOD_IDENTIFIERS[0].replacen(".Y", ".Z", 1);
        assert!(serde_json::from_str::<CertIdentifier>(&format!("\"{bad_id}\"")).is_err());
        // Round trips.
        let t = Tonnage::parse("11.885").unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::to_string(&t).unwrap_or_default();
        assert_eq!(json, "\"11.8850\"");
        assert_eq!(serde_json::from_str::<Tonnage>(&json).ok(), Some(t));
        let c = CertIdentifier::parse(GOOD_IDENTIFIERS[1]).unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::to_string(&c).unwrap_or_default();
        assert_eq!(json, format!("\"{}\"", GOOD_IDENTIFIERS[1]));
        assert_eq!(serde_json::from_str::<CertIdentifier>(&json).ok(), Some(c));
        let d = LIAONING_CITIES[13];
        assert_eq!(serde_json::to_string(&d).unwrap_or_default(), "211400");
    }

    #[test]
    fn rule_ids_start_with_the_kind_key() {
        let kinds = [
            IdKind::IdNumber,
            IdKind::Uscc,
            IdKind::Plate,
            IdKind::PlateColour,
            IdKind::Division,
            IdKind::CertIdentifier,
            IdKind::ScopeCode,
            IdKind::Tonnage,
            IdKind::Vin,
            IdKind::Date,
            IdKind::Sex,
            IdKind::Seats,
            IdKind::Version,
            IdKind::QualificationClass,
            IdKind::VehicleClasses,
            IdKind::CertNumber,
            IdKind::Text,
        ];
        let mut seen = std::collections::HashSet::new();
        for kind in kinds {
            let errors = [
                ParseError::Empty { kind },
                ParseError::BadCheckDigit {
                    kind,
                    expected: 'X',
                    found: '3',
                },
                ParseError::BadFormat { kind },
            ];
            for e in errors {
                let (key, check) = e.rule().split_once('.').unwrap_or_default();
                assert_eq!(key, kind.key());
                assert!(!check.is_empty());
                assert!(seen.insert(e.rule()), "duplicate {}", e.rule());
                assert!(e.to_string().starts_with(kind.label_en()));
                assert!(e.message_zh().starts_with(kind.label_zh()));
            }
        }
    }

    #[test]
    fn every_error_has_a_rule_and_messages() {
        let errors = [
            ParseError::Empty {
                kind: IdKind::Seats,
            },
            ParseError::OutOfRange {
                kind: IdKind::Seats,
                min: "1".into(),
                max: "99".into(),
                found: "100".into(),
            },
            ParseError::FutureDate { kind: IdKind::Date },
            ParseError::UnknownCode {
                kind: IdKind::QualificationClass,
                code: "42".into(),
            },
        ];
        let want = [
            ("seats.empty", "seats: value is empty", "核定座位为空"),
            (
                "seats.out_of_range",
                "seats: should be between 1 and 99, found 100",
                "核定座位超出范围：应为 1–99，实为 100",
            ),
            (
                "date.future_date",
                "date: date is in the future",
                "日期晚于当前日期",
            ),
            (
                "qualification_class.unknown_code",
                "qualification class: unknown code 42",
                "从业资格类别代码 42 未定义",
            ),
        ];
        for (e, (rule, en, zh)) in errors.iter().zip(want) {
            assert_eq!(e.rule(), rule);
            assert_eq!(e.to_string(), en);
            assert_eq!(e.message_zh(), zh);
            assert!(e.rule().starts_with(e.kind().key()));
        }
    }
}
