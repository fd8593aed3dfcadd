//! The non-conformance checker (不规范数据, R3): the one place where a record
//! pushed by an issuing agency ([`RawRecord`]) becomes a typed
//! [`CertificateData`], or is refused with every problem listed field by
//! field ([`Nonconformance`]) for correction (补正).
//!
//! Also the reference records other modules use for size measurements and
//! test vectors: [`sample_record`] and [`largest_realistic_record`].
//!
//! Rules, each with a stable id (`Nonconformance::rule`):
//! - mandatory fields per type, from the catalogue (`field.missing`);
//!   `cert_type` must be one of the nine (`cert_type.unknown`);
//! - every identifier through its parser in [`super::ids`] (ID number, credit
//!   codes, plate, plate colour, Liaoning division code, scope codes,
//!   tonnage, VIN), with the parser's rule id such as `id_number.check_digit`;
//! - dates exist and are `YYYYMMDD` or `YYYY-MM-DD` (`valid_until` may be
//!   长期); first-issue and issue dates and birth dates not after `today`;
//!   `valid_from.after_valid_until`, `issue_date.outside_validity`,
//!   `first_issue.after_issue_date`;
//! - the certificate number format of the type (see [`parse_number`]); for
//!   QC also equal to the holder's ID number (`number.mismatch_id_number`);
//! - sex agrees with the ID number (`sex.mismatch_id_number`);
//! - seats 1–99; a YSZ has seats or tonnage (`capacity.missing`);
//! - version 1–999; free text within its length limit (`text.length`);
//! - the GB/T 36904 identifier builds;
//! - an ID number's first six digits are a real GB/T 2260 code: a province
//!   code anywhere, a county of the shipped Liaoning table for 21xxxx
//!   (`id_number.unknown_division`); issuing divisions are codes in force
//!   (`division.unknown_division`);
//! - the holder's minimum age on the issue date ([`minimum_age`],
//!   `id_number.under_minimum_age`) and the longest validity of the type
//!   ([`max_validity_years`], `valid_until.too_long`);
//! - a vehicle certificate's plate is a 辽 plate (`plate.other_province`)
//!   of the pushing agency's city (`plate.city_mismatch`, see
//!   [`validate_pushed`]); the plate colour fits the plate, new-energy
//!   plates included (`plate_colour.mismatch_plate`); the VIN's check digit
//!   (`vin.check_digit`).
//!
//! Values are trimmed of surrounding white space first; a blank value counts
//! as missing. Fields the type does not have are ignored, as are unknown
//! JSON fields.

use serde::{Deserialize, Deserializer, Serialize};
use time::Date;

use super::catalogue::{self, CatalogueEntry, QUALIFICATION_CLASSES, VEHICLE_CLASSES};
use super::cert::{
    CertType, CertificateData, Face, Family, Issuer, PermitFace, PersonFace, VehicleFace,
};
use super::ids::{
    parse_date, DivisionCode, IdKind, IdNumber, Jurisdiction, ParseError, PlateColour, PlateNumber,
    ScopeCode, Sex, Tonnage, Uscc, Vin, LIAONING,
};

/// A scalar in a pushed record: agencies send `"5"` or `5` alike.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    UInt(u64),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::UInt(n) => n.to_string(),
            Scalar::Int(n) => n.to_string(),
            Scalar::Float(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

/// A list in a pushed record: `["021", 22]`, or one scalar for one item.
#[derive(Deserialize)]
#[serde(untagged)]
enum ScalarList {
    Many(Vec<Scalar>),
    One(Scalar),
}

fn lenient_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Scalar>::deserialize(d)?.map(Scalar::into_text))
}

fn lenient_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Ok(Option::<ScalarList>::deserialize(d)?.map(|l| match l {
        ScalarList::Many(v) => v.into_iter().map(Scalar::into_text).collect(),
        ScalarList::One(s) => vec![s.into_text()],
    }))
}

/// A value of a [`RawRecord`] field, looked up by key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawValue<'a> {
    /// A scalar field.
    Text(Option<&'a str>),
    /// A list field.
    List(Option<&'a [String]>),
}

impl RawValue<'_> {
    /// Whether the value is absent, blank, or an empty list.
    pub fn is_blank(self) -> bool {
        match self {
            RawValue::Text(t) => t.is_none_or(|s| s.trim().is_empty()),
            RawValue::List(l) => l.is_none_or(<[String]>::is_empty),
        }
    }
}

/// A field type of [`RawRecord`], seen as a [`RawValue`].
trait AsRawValue {
    fn as_raw_value(&self) -> RawValue<'_>;
}

impl AsRawValue for Option<String> {
    fn as_raw_value(&self) -> RawValue<'_> {
        RawValue::Text(self.as_deref())
    }
}

impl AsRawValue for Option<Vec<String>> {
    fn as_raw_value(&self) -> RawValue<'_> {
        RawValue::List(self.as_deref())
    }
}

/// Defines [`RawRecord`] with lenient deserialisation, plus key lookup.
macro_rules! raw_record {
    ($( $(#[doc = $doc:literal])* $name:ident : $ty:ty = $de:tt ),* $(,)?) => {
        /// A record as an issuing agency pushes it (归集), before any check.
        ///
        /// Every field is optional text (or a list of text) so that missing
        /// and malformed values are reported by [`validate`] instead of
        /// failing deserialisation; numbers are accepted where text is
        /// expected. Unknown fields are ignored. Dates are `YYYYMMDD` or
        /// `YYYY-MM-DD`.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct RawRecord {
            $(
                $(#[doc = $doc])*
                #[serde(deserialize_with = $de, skip_serializing_if = "Option::is_none")]
                pub $name: $ty,
            )*
        }

        impl RawRecord {
            /// Every field key, in declaration order.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($name)),*];

            /// The value of the field with this key; `None` for an unknown key.
            pub fn get(&self, key: &str) -> Option<RawValue<'_>> {
                match key {
                    $( stringify!($name) => Some(self.$name.as_raw_value()), )*
                    _ => None,
                }
            }
        }
    };
}

raw_record! {
    /// Type short code, e.g. `YSZ` (case-insensitive).
    cert_type: Option<String> = "lenient_text",
    /// 证照编号, compact form (see [`parse_number`]).
    number: Option<String> = "lenient_text",
    /// Issuing authority's division code, 6 digits, Liaoning only.
    issuer_division: Option<String> = "lenient_text",
    /// Issuing authority's unified social credit code.
    issuer_uscc: Option<String> = "lenient_text",
    /// Issuing authority's name; defaults to the name registered for the
    /// division.
    issuer_name: Option<String> = "lenient_text",
    /// 初次领证日期.
    first_issue: Option<String> = "lenient_text",
    /// 发证日期.
    issue_date: Option<String> = "lenient_text",
    /// 有效期起.
    valid_from: Option<String> = "lenient_text",
    /// 有效期至, or 长期.
    valid_until: Option<String> = "lenient_text",
    /// E-certificate version, 1–999; 1 when absent.
    version: Option<String> = "lenient_text",
    /// 姓名.
    name: Option<String> = "lenient_text",
    /// 性别: 1/2 or 男/女.
    sex: Option<String> = "lenient_text",
    /// 身份证号码.
    id_number: Option<String> = "lenient_text",
    /// 准驾车型, e.g. `A1A2`.
    vehicle_classes: Option<String> = "lenient_text",
    /// 从业资格类别 codes, see [`QUALIFICATION_CLASSES`].
    qualification_classes: Option<Vec<String>> = "lenient_list",
    /// 国籍.
    nationality: Option<String> = "lenient_text",
    /// 民族.
    ethnicity: Option<String> = "lenient_text",
    /// 住址 / 地址.
    address: Option<String> = "lenient_text",
    /// 驾驶证号.
    driving_licence_number: Option<String> = "lenient_text",
    /// 档案号.
    file_number: Option<String> = "lenient_text",
    /// 业户名称 / 车辆所有人.
    owner: Option<String> = "lenient_text",
    /// 车牌号码.
    plate: Option<String> = "lenient_text",
    /// 车牌颜色 code (or name).
    plate_colour: Option<String> = "lenient_text",
    /// 车辆类型.
    vehicle_type: Option<String> = "lenient_text",
    /// 核定座位.
    seats: Option<String> = "lenient_text",
    /// 吨位, e.g. `11.8850`.
    tonnage: Option<String> = "lenient_text",
    /// 经营范围 codes, e.g. `["021"]`.
    business_scope: Option<Vec<String>> = "lenient_list",
    /// 审验有效期至.
    inspection_valid_until: Option<String> = "lenient_text",
    /// 业户地址.
    owner_address: Option<String> = "lenient_text",
    /// 经营许可证号, 12 digits.
    operating_permit_number: Option<String> = "lenient_text",
    /// 车辆识别代号.
    vin: Option<String> = "lenient_text",
    /// 品牌型号.
    make_model: Option<String> = "lenient_text",
    /// 经营区域.
    operating_area: Option<String> = "lenient_text",
    /// 经济类型.
    economic_type: Option<String> = "lenient_text",
    /// 业户名称 of a permit.
    holder_name: Option<String> = "lenient_text",
    /// 统一社会信用代码 of a permit holder.
    uscc: Option<String> = "lenient_text",
}

/// One problem with one field of a pushed record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Nonconformance {
    /// The [`RawRecord`] field key, e.g. `id_number`.
    pub field: String,
    /// Stable rule id, e.g. `id_number.check_digit` or `field.missing`.
    pub rule: String,
    /// Chinese message naming the field and the fault.
    pub message_zh: String,
    /// English message, `"{field}: {fault}"`.
    pub message_en: String,
}

/// Parses the compact certificate number of a type:
/// - QC: a valid 18-character ID number (birth date not after `today`);
/// - JYXK, WXHW, FSX: 12 digits, the first 6 a Liaoning division code and
///   the last 6 a serial from 000001 ([`parse_permit_number`]);
/// - YSZ: 12 digits;
/// - WYJ, XYJ, WYY, WYJY: 1–64 digits or upper-case letters.
///
/// Returns the normalised number (an ID number's `x` becomes `X`).
pub fn parse_number(cert_type: CertType, s: &str, today: Date) -> Result<String, ParseError> {
    let kind = IdKind::CertNumber;
    match cert_type {
        CertType::QC => IdNumber::parse_on(s, today).map(String::from),
        CertType::JYXK | CertType::WXHW | CertType::FSX => parse_permit_number(s),
        CertType::YSZ => {
            let n = s.chars().count();
            if n != 12 {
                return Err(ParseError::WrongLength {
                    kind,
                    expected: 12,
                    found: n,
                });
            }
            first_bad(s, kind, |c| c.is_ascii_digit())?;
            Ok(s.to_owned())
        }
        CertType::WYJ | CertType::XYJ | CertType::WYY | CertType::WYJY => {
            let n = s.chars().count();
            let max = super::ids::MAX_SERIAL_LEN;
            if !(1..=max).contains(&n) {
                return Err(ParseError::LengthOutOfRange {
                    kind,
                    min: 1,
                    max,
                    found: n,
                });
            }
            first_bad(s, kind, |c| c.is_ascii_digit() || c.is_ascii_uppercase())?;
            Ok(s.to_owned())
        }
    }
}

/// Parses a 12-digit operating-permit number: the 6-digit Liaoning division
/// code of the operator's location, then a serial from 000001.
pub fn parse_permit_number(s: &str) -> Result<String, ParseError> {
    let kind = IdKind::CertNumber;
    let n = s.chars().count();
    if n != 12 {
        return Err(ParseError::WrongLength {
            kind,
            expected: 12,
            found: n,
        });
    }
    first_bad(s, kind, |c| c.is_ascii_digit())?;
    let (division, serial) = s.split_at(6);
    let code: u32 = division
        .parse()
        .map_err(|_| ParseError::BadFormat { kind })?;
    DivisionCode::from_u32(code).map_err(|_| ParseError::UnknownDivision { kind, code })?;
    if serial == "000000" {
        return Err(ParseError::OutOfRange {
            kind,
            min: "000001".to_owned(),
            max: "999999".to_owned(),
            found: serial.to_owned(),
        });
    }
    Ok(s.to_owned())
}

/// A permit number (division code + serial) of `province`'s divisions.
fn permit_in(number: &str, province: &Jurisdiction) -> Result<(), ParseError> {
    let code: u32 = number.get(..6).and_then(|d| d.parse().ok()).unwrap_or(0);
    if code / 10_000 * 10_000 == province.code {
        Ok(())
    } else {
        Err(ParseError::OutsideProvince {
            kind: IdKind::CertNumber,
            code,
            province: province.code,
        })
    }
}

/// The first character failing `ok`, as an error.
fn first_bad(s: &str, kind: IdKind, ok: impl Fn(char) -> bool) -> Result<(), ParseError> {
    match s.chars().enumerate().find(|&(_, c)| !ok(c)) {
        Some((i, found)) => Err(ParseError::BadCharacter {
            kind,
            position: i + 1,
            found,
        }),
        None => Ok(()),
    }
}

fn parse_sex(s: &str) -> Result<Sex, ParseError> {
    let kind = IdKind::Sex;
    match s {
        "1" | "男" => Ok(Sex::Male),
        "2" | "女" => Ok(Sex::Female),
        _ if s.chars().all(|c| c.is_ascii_digit()) => Err(ParseError::UnknownCode {
            kind,
            code: s.to_owned(),
        }),
        _ => Err(ParseError::BadFormat { kind }),
    }
}

/// A whole number of at most 4 digits in `min..=max`.
fn parse_small(s: &str, kind: IdKind, min: u16, max: u16) -> Result<u16, ParseError> {
    if s.is_empty() || s.len() > 4 || !s.chars().all(|c| c.is_ascii_digit()) {
        return Err(ParseError::BadFormat { kind });
    }
    let v: u16 = s.parse().map_err(|_| ParseError::BadFormat { kind })?;
    if !(min..=max).contains(&v) {
        return Err(ParseError::OutOfRange {
            kind,
            min: min.to_string(),
            max: max.to_string(),
            found: v.to_string(),
        });
    }
    Ok(v)
}

fn parse_qualification_class(s: &str) -> Result<u8, ParseError> {
    let kind = IdKind::QualificationClass;
    if s.is_empty() || s.len() > 3 || !s.chars().all(|c| c.is_ascii_digit()) {
        return Err(ParseError::BadFormat { kind });
    }
    s.parse::<u8>()
        .ok()
        .filter(|c| QUALIFICATION_CLASSES.iter().any(|(k, _)| k == c))
        .ok_or_else(|| ParseError::UnknownCode {
            kind,
            code: s.to_owned(),
        })
}

/// Concatenated driving-licence classes such as `A1A2`, upper-cased.
fn parse_vehicle_classes(s: &str) -> Result<String, ParseError> {
    let kind = IdKind::VehicleClasses;
    let upper = s.to_ascii_uppercase();
    first_bad(&upper, kind, |c| c.is_ascii_alphanumeric())?;
    let mut rest = upper.as_str();
    while !rest.is_empty() {
        let token = VEHICLE_CLASSES
            .iter()
            .filter(|c| rest.starts_with(**c))
            .max_by_key(|c| c.len());
        match token {
            Some(t) => rest = &rest[t.len()..],
            None => {
                let end = rest.char_indices().nth(2).map_or(rest.len(), |(i, _)| i);
                return Err(ParseError::UnknownCode {
                    kind,
                    code: rest[..end].to_owned(),
                });
            }
        }
    }
    Ok(upper)
}

/// `valid_until`: a date, or `None` for 长期 (long-term).
fn parse_until(s: &str) -> Result<Option<Date>, ParseError> {
    if s == "长期" {
        Ok(None)
    } else {
        parse_date(s).map(Some)
    }
}

fn date_text(d: Option<Date>) -> (String, String) {
    match d {
        Some(d) => (d.to_string(), d.to_string()),
        None => ("长期".to_owned(), "long-term".to_owned()),
    }
}

fn sex_en(s: Sex) -> &'static str {
    match s {
        Sex::Male => "male",
        Sex::Female => "female",
    }
}

/// Accumulates problems while reading one record.
struct Checker<'a> {
    raw: &'a RawRecord,
    entry: Option<&'static CatalogueEntry>,
    problems: Vec<Nonconformance>,
}

impl<'a> Checker<'a> {
    /// Whether the record's type has this field (all fields when the type
    /// is unknown, so that their problems are still reported).
    fn relevant(&self, key: &str) -> bool {
        key == "version" || self.entry.as_ref().is_none_or(|e| e.field(key).is_some())
    }

    fn label_zh(&self, key: &str) -> String {
        self.entry
            .as_ref()
            .and_then(|e| e.field(key))
            .map(|f| f.label_zh.clone())
            .or_else(|| catalogue::field_label(key).map(|l| l.0.to_owned()))
            .unwrap_or_else(|| key.to_owned())
    }

    fn push(&mut self, field: &str, rule: &str, message_zh: String, message_en: String) {
        self.problems.push(Nonconformance {
            field: field.to_owned(),
            rule: rule.to_owned(),
            message_zh,
            message_en,
        });
    }

    fn parse_error(&mut self, field: &str, item: Option<usize>, e: &ParseError) {
        let label = self.label_zh(field);
        let (zh, en) = match item {
            Some(i) => (
                format!("{label}第 {i} 项{}", e.detail_zh()),
                format!("{field}: item {i}: {}", e.detail_en()),
            ),
            None => (
                format!("{label}{}", e.detail_zh()),
                format!("{field}: {}", e.detail_en()),
            ),
        };
        self.push(field, e.rule(), zh, en);
    }

    fn missing(&mut self, field: &str) {
        let label = self.label_zh(field);
        self.push(
            field,
            "field.missing",
            format!("缺少必填项：{label}"),
            format!("{field}: mandatory field is missing"),
        );
    }

    /// The trimmed, non-blank value of a relevant scalar field.
    fn value(&self, key: &str) -> Option<&'a str> {
        if !self.relevant(key) {
            return None;
        }
        let raw: &'a RawRecord = self.raw;
        match raw.get(key) {
            Some(RawValue::Text(Some(s))) => Some(s.trim()).filter(|s| !s.is_empty()),
            _ => None,
        }
    }

    /// Parses a relevant, present scalar field, reporting a failure.
    fn field<T>(
        &mut self,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, ParseError>,
    ) -> Option<T> {
        let s = self.value(key)?;
        match parse(s) {
            Ok(v) => Some(v),
            Err(e) => {
                self.parse_error(key, None, &e);
                None
            }
        }
    }

    /// A free-text field within its catalogue length limit.
    fn text(&mut self, key: &str) -> Option<String> {
        let max = self
            .entry
            .as_ref()
            .and_then(|e| e.field(key))
            .and_then(|f| f.max_chars)
            .map_or(200, usize::from);
        self.field(key, |s| {
            let n = s.chars().count();
            if n > max {
                Err(ParseError::LengthOutOfRange {
                    kind: IdKind::Text,
                    min: 1,
                    max,
                    found: n,
                })
            } else {
                Ok(s.to_owned())
            }
        })
    }

    /// Parses every item of a relevant, present list field; `None` if
    /// absent or if any item fails (each failure is reported).
    fn list<T>(
        &mut self,
        key: &str,
        parse: impl Fn(&str) -> Result<T, ParseError>,
    ) -> Option<Vec<T>> {
        if !self.relevant(key) {
            return None;
        }
        let Some(RawValue::List(Some(items))) = self.raw.get(key) else {
            return None;
        };
        if items.is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match parse(item.trim()) {
                Ok(v) => out.push(v),
                Err(e) => {
                    ok = false;
                    self.parse_error(key, Some(i + 1), &e);
                }
            }
        }
        ok.then_some(out)
    }

    /// A value the assembled certificate needs; reports it missing if the
    /// catalogue failed to mark it mandatory.
    fn need<T>(&mut self, key: &str, v: Option<T>) -> Option<T> {
        if v.is_none() {
            self.missing(key);
        }
        v
    }
}

fn not_future(d: Date, today: Date) -> Result<Date, ParseError> {
    if d > today {
        Err(ParseError::FutureDate { kind: IdKind::Date })
    } else {
        Ok(d)
    }
}

/// Checks a record against every rule (see the module docs) when the
/// pushing agency is not known: the plate's city is checked against the
/// record's own issuing division. See [`validate_pushed`].
pub fn validate(raw: &RawRecord, today: Date) -> Result<CertificateData, Vec<Nonconformance>> {
    validate_pushed(raw, today, None)
}

/// Minimum age of the holder on the issue date, per person certificate
/// type and qualification class. A driving licence needs 18 (《机动车驾驶证
/// 申领和使用规定》, 公安部令第162号, art. 14, small cars); the rules below
/// add the driving experience they require before the qualification:
/// - WYJ: 3 years' driving (《网络预约出租汽车经营服务管理暂行办法》 art. 14) → 21;
/// - XYJ and QC class 6 (taxi): licence held 1 year (《出租汽车驾驶员从业资格
///   管理规定》 art. 10) → 19;
/// - QC class 1 (passenger): licence held 1 year (《道路运输从业人员管理规定》
///   art. 8) → 19;
/// - every other QC class: 18 (the licence, or full age for loading managers
///   and escorts, 《民法典》 art. 17).
pub fn minimum_age(cert_type: CertType, qualification_classes: &[u8]) -> Option<u8> {
    match cert_type {
        CertType::WYJ => Some(21),
        CertType::XYJ => Some(19),
        CertType::QC => Some(
            qualification_classes
                .iter()
                .map(|c| if matches!(c, 1 | 6) { 19 } else { 18 })
                .max()
                .unwrap_or(18),
        ),
        _ => None,
    }
}

/// Longest validity in years per certificate type, where a rule sets one:
/// - QC: 6 years (《道路运输从业人员管理规定》: 从业资格证件有效期为6年);
/// - WYJ, XYJ: 6 years (《出租汽车驾驶员从业资格管理规定》 and the ride-hailing
///   driver card that follows it);
/// - JYXK, WXHW: 4 years for passenger and freight operating permits
///   (`shared/spec/domain-data.md`, operating permits; dangerous goods are
///   freight).
///
/// The other types have no limit here (their term is set by the licensing
/// decision); 长期 is refused where a limit exists.
pub fn max_validity_years(cert_type: CertType) -> Option<u8> {
    match cert_type {
        CertType::QC | CertType::WYJ | CertType::XYJ => Some(6),
        CertType::JYXK | CertType::WXHW => Some(4),
        _ => None,
    }
}

/// `d` plus `years` years (29 February becomes 28 February).
fn plus_years(d: Date, years: u8) -> Date {
    let y = d.year() + i32::from(years);
    d.replace_year(y)
        .or_else(|_| d.replace_day(28).and_then(|d| d.replace_year(y)))
        .unwrap_or(d)
}

/// Whole years from `birth` to `on`.
fn age_on(birth: Date, on: Date) -> i32 {
    let mut age = on.year() - birth.year();
    if (on.month() as u8, on.day()) < (birth.month() as u8, birth.day()) {
        age -= 1;
    }
    age
}

/// Checks a record pushed by an agency against every rule (see the module
/// docs) and returns the typed certificate, or every problem found: it
/// never stops at the first. `today` is the date used for "not in the
/// future" checks; `agency` is the pushing agency's division (its city
/// decides the plate letter a vehicle may carry), `None` when unknown or
/// province-wide (then the record's issuing division decides).
pub fn validate_pushed(
    raw: &RawRecord,
    today: Date,
    agency: Option<DivisionCode>,
) -> Result<CertificateData, Vec<Nonconformance>> {
    validate_for(raw, today, &LIAONING, agency)
}

/// [`validate_pushed`] for the records of `province` (a server running as
/// another province, `serve --province`): its divisions, its permit
/// numbers, its plates (吉 and 吉A … for Jilin) from its shipped data.
pub fn validate_for(
    raw: &RawRecord,
    today: Date,
    province: &Jurisdiction,
    agency: Option<DivisionCode>,
) -> Result<CertificateData, Vec<Nonconformance>> {
    let mut c = Checker {
        raw,
        entry: None,
        problems: Vec::new(),
    };

    // The type decides which fields exist and which are mandatory.
    let cert_type = match raw
        .cert_type
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => {
            c.missing("cert_type");
            None
        }
        Some(s) => {
            let t = CertType::from_code(&s.to_ascii_uppercase());
            if t.is_none() {
                let codes: Vec<&str> = CertType::ALL.iter().map(|t| t.code()).collect();
                c.push(
                    "cert_type",
                    "cert_type.unknown",
                    format!("证照类型“{s}”未定义，应为 {} 之一", codes.join("、")),
                    format!(
                        "cert_type: unknown type {s}, expected one of {}",
                        codes.join(", ")
                    ),
                );
            }
            t
        }
    };
    c.entry = cert_type.map(catalogue::entry_ref);
    if let Some(entry) = c.entry {
        for f in entry.face_fields.iter().filter(|f| f.mandatory) {
            if raw.get(&f.key).is_none_or(RawValue::is_blank) {
                c.missing(&f.key);
            }
        }
    }

    // Common fields.
    let number = match cert_type {
        Some(t) => c.field("number", |s| {
            let n = parse_number(t, s, today)?;
            if matches!(t, CertType::JYXK | CertType::WXHW | CertType::FSX) {
                permit_in(&n, province)?;
            }
            Ok(n)
        }),
        None => None,
    };
    let issuer_division = c.field("issuer_division", |s| province.parse_division(s));
    let issuer_uscc = c.field("issuer_uscc", Uscc::parse);
    let issuer_name = c.text("issuer_name");
    let first_issue = c.field("first_issue", |s| not_future(parse_date(s)?, today));
    let issue_date = c.field("issue_date", |s| not_future(parse_date(s)?, today));
    let valid_from = c.field("valid_from", parse_date);
    let valid_until = c.field("valid_until", parse_until);
    let version = match c.value("version") {
        None => Some(1),
        Some(_) => c.field("version", |s| parse_small(s, IdKind::Version, 1, 999)),
    };

    // Person fields.
    let name = c.text("name");
    let sex = c.field("sex", parse_sex);
    let id_number = c.field("id_number", |s| IdNumber::parse_on(s, today));
    let vehicle_classes = c.field("vehicle_classes", parse_vehicle_classes);
    let qualification_classes = c.list("qualification_classes", parse_qualification_class);
    let nationality = c.text("nationality");
    let ethnicity = c.text("ethnicity");
    let address = c.text("address");
    let driving_licence_number = c.text("driving_licence_number");
    let file_number = c.text("file_number");

    // Vehicle fields.
    let owner = c.text("owner");
    let plate = c.field("plate", PlateNumber::parse);
    let plate_colour = c.field("plate_colour", PlateColour::parse);
    let vehicle_type = c.text("vehicle_type");
    let seats = c.field("seats", |s| parse_small(s, IdKind::Seats, 1, 99));
    let tonnage = c.field("tonnage", Tonnage::parse);
    let business_scope = c.list("business_scope", ScopeCode::parse);
    let inspection_valid_until = c.field("inspection_valid_until", parse_date);
    let owner_address = c.text("owner_address");
    let operating_permit_number = c.field("operating_permit_number", |s| {
        let n = parse_permit_number(s)?;
        permit_in(&n, province)?;
        Ok(n)
    });
    let vin = c.field("vin", Vin::parse);
    let make_model = c.text("make_model");
    let operating_area = c.text("operating_area");
    let economic_type = c.text("economic_type");

    // Permit fields.
    let holder_name = c.text("holder_name");
    let uscc = c.field("uscc", Uscc::parse);

    // Rules across fields.
    if let (Some(from), Some(Some(until))) = (valid_from, valid_until) {
        if from > until {
            c.push(
                "valid_from",
                "valid_from.after_valid_until",
                format!("有效期起（{from}）晚于有效期至（{until}）"),
                format!("valid_from: {from} is after valid_until {until}"),
            );
        }
    }
    if let (Some(issued), Some(from), Some(until)) = (issue_date, valid_from, valid_until) {
        if issued < from || until.is_some_and(|u| issued > u) {
            let (until_zh, until_en) = date_text(until);
            c.push(
                "issue_date",
                "issue_date.outside_validity",
                format!("发证日期（{issued}）不在有效期（{from} 至 {until_zh}）内"),
                format!("issue_date: {issued} is outside the validity {from} to {until_en}"),
            );
        }
    }
    if let (Some(first), Some(issued)) = (first_issue, issue_date) {
        if first > issued {
            c.push(
                "first_issue",
                "first_issue.after_issue_date",
                format!("初次领证日期（{first}）晚于发证日期（{issued}）"),
                format!("first_issue: {first} is after issue_date {issued}"),
            );
        }
    }
    if let (Some(sex), Some(id)) = (sex, &id_number) {
        if sex != id.sex() {
            c.push(
                "sex",
                "sex.mismatch_id_number",
                format!(
                    "性别（{}）与身份证号码（{}）不符",
                    sex.label_zh(),
                    id.sex().label_zh()
                ),
                format!(
                    "sex: {} does not match the id number, which says {}",
                    sex_en(sex),
                    sex_en(id.sex())
                ),
            );
        }
    }
    if let (Some(CertType::QC), Some(n), Some(id)) = (cert_type, &number, &id_number) {
        if n != id.as_str() {
            c.push(
                "number",
                "number.mismatch_id_number",
                format!("证照编号（{n}）与身份证号码（{}）不一致", id.as_str()),
                format!("number: should equal id_number {}, found {n}", id.as_str()),
            );
        }
    }
    if cert_type == Some(CertType::YSZ)
        && c.value("seats").is_none()
        && c.value("tonnage").is_none()
    {
        c.push(
            "tonnage",
            "capacity.missing",
            "核定座位与吨位至少应填写一项".to_owned(),
            "tonnage: neither seats nor tonnage is given".to_owned(),
        );
    }

    if let Some(id) = &id_number {
        let prefix = id.division_prefix();
        if !super::ids::id_prefix_is_real(prefix) {
            c.parse_error(
                "id_number",
                None,
                &ParseError::UnknownDivision {
                    kind: IdKind::IdNumber,
                    code: prefix,
                },
            );
        }
    }
    if let (Some(t), Some(id), Some(issued)) = (cert_type, &id_number, issue_date) {
        let classes = qualification_classes.as_deref().unwrap_or_default();
        if let Some(min) = minimum_age(t, classes) {
            let birth = id.birth_date();
            if age_on(birth, issued) < i32::from(min) {
                c.push(
                    "id_number",
                    "id_number.under_minimum_age",
                    format!(
                        "持证人发证时未满 {min} 周岁（身份证号码出生日期 {birth}，发证日期 {issued}），\
                         不符合{}的年龄条件",
                        t.name_zh()
                    ),
                    format!(
                        "id_number: the holder, born {birth}, was under {min} on the issue date {issued}"
                    ),
                );
            }
        }
    }
    if let (Some(t), Some(from), Some(until)) = (cert_type, valid_from, valid_until) {
        if let Some(years) = max_validity_years(t) {
            let latest = plus_years(from, years);
            let too_long = until.is_none_or(|u| u > latest);
            if too_long {
                let (until_zh, until_en) = date_text(until);
                c.push(
                    "valid_until",
                    "valid_until.too_long",
                    format!(
                        "有效期过长：{}有效期最长 {years} 年（{from} 起至多到 {latest}），实为至{until_zh}",
                        t.name_zh()
                    ),
                    format!(
                        "valid_until: a {t} is valid for at most {years} years ({from} to {latest}), found {until_en}"
                    ),
                );
            }
        }
    }
    if cert_type.is_some_and(|t| t.family() == Family::Vehicle) {
        if let Some(p) = &plate {
            check_plate_city(&mut c, p, province, agency, issuer_division);
        }
    }
    if let (Some(p), Some(colour)) = (&plate, plate_colour) {
        check_plate_colour(&mut c, p, colour);
    }

    let Some(cert_type) = cert_type else {
        return Err(c.problems);
    };
    if !c.problems.is_empty() {
        return Err(c.problems);
    }

    // Assemble. Every value below was either parsed or reported missing.
    let face = match cert_type.family() {
        Family::Person => {
            let name = c.need("name", name);
            let sex = c.need("sex", sex);
            let id_number = c.need("id_number", id_number);
            match (name, sex, id_number) {
                (Some(name), Some(sex), Some(id_number)) => Some(Face::Person(PersonFace {
                    name,
                    sex,
                    id_number,
                    vehicle_classes,
                    qualification_classes: qualification_classes.unwrap_or_default(),
                    nationality,
                    ethnicity,
                    address,
                    driving_licence_number,
                    file_number,
                })),
                _ => None,
            }
        }
        Family::Vehicle => {
            let owner = c.need("owner", owner);
            let plate = c.need("plate", plate);
            let plate_colour = c.need("plate_colour", plate_colour);
            let vehicle_type = c.need("vehicle_type", vehicle_type);
            match (owner, plate, plate_colour, vehicle_type) {
                (Some(owner), Some(plate), Some(plate_colour), Some(vehicle_type)) => {
                    Some(Face::Vehicle(VehicleFace {
                        owner,
                        plate,
                        plate_colour,
                        vehicle_type: Some(vehicle_type),
                        seats,
                        tonnage,
                        business_scope: business_scope.unwrap_or_default(),
                        inspection_valid_until,
                        owner_address,
                        operating_permit_number,
                        vin: vin.map(String::from),
                        make_model,
                        operating_area,
                        economic_type,
                    }))
                }
                _ => None,
            }
        }
        Family::Permit => {
            let holder_name = c.need("holder_name", holder_name);
            let uscc = c.need("uscc", uscc);
            match (holder_name, uscc) {
                (Some(holder_name), Some(uscc)) => Some(Face::Permit(PermitFace {
                    holder_name,
                    uscc,
                    business_scope: business_scope.unwrap_or_default(),
                    operating_area,
                    address,
                    economic_type,
                })),
                _ => None,
            }
        }
    };
    let number = c.need("number", number);
    let issuer_division = c.need("issuer_division", issuer_division);
    let issuer_uscc = c.need("issuer_uscc", issuer_uscc);
    let issue_date = c.need("issue_date", issue_date);
    let valid_from = c.need("valid_from", valid_from);
    let valid_until = c.need("valid_until", valid_until);
    let version = c.need("version", version);
    let (
        Some(face),
        Some(number),
        Some(division),
        Some(uscc),
        Some(issue_date),
        Some(valid_from),
        Some(valid_until),
        Some(version),
    ) = (
        face,
        number,
        issuer_division,
        issuer_uscc,
        issue_date,
        valid_from,
        valid_until,
        version,
    )
    else {
        return Err(c.problems);
    };
    let data = CertificateData {
        cert_type,
        number,
        issuer: Issuer {
            division,
            uscc,
            name: issuer_name.unwrap_or_else(|| division.authority_name_zh()),
        },
        first_issue,
        issue_date,
        valid_from,
        valid_until,
        version,
        face,
    };
    if let Err(e) = data.identifier() {
        c.parse_error("number", None, &e);
        return Err(c.problems);
    }
    Ok(data)
}

/// A Liaoning vehicle certificate needs a 辽 plate whose letter (GA 36
/// 发牌机关代号: 辽A 沈阳 … 辽P 葫芦岛) is the city of the pushing agency, or
/// of the record's issuing division when the agency is province-wide.
fn check_plate_city(
    c: &mut Checker<'_>,
    plate: &PlateNumber,
    province: &Jurisdiction,
    agency: Option<DivisionCode>,
    issuer: Option<DivisionCode>,
) {
    let p = plate.as_str();
    let (name, name_en, short) = (province.name_zh, province.name_en, province.short);
    if !short.starts_with(plate.province()) {
        c.push(
            "plate",
            "plate.other_province",
            format!("车牌号码 {p} 不是{name}号牌：{name}核发的车辆证照只能对应“{short}”字号牌"),
            format!("plate: {p} is not a {name_en} plate; a {name_en} vehicle certificate needs a {short} plate"),
        );
        return;
    }
    let city = [agency, issuer]
        .into_iter()
        .flatten()
        .find(|d| !d.is_province())
        .map(DivisionCode::city);
    let Some(city) = city else { return };
    let Some(letter) = city.plate_letter() else {
        return;
    };
    if plate.city_letter() != letter {
        let found = plate.city_letter();
        let owner = province
            .cities()
            .into_iter()
            .find(|d| d.plate_letter() == Some(found))
            .map_or("无此发牌机关", |d| d.name_zh());
        c.push(
            "plate",
            "plate.city_mismatch",
            format!(
                "车牌号码 {p} 的发牌机关代号“{short}{found}”（{owner}）与发证机关所在地{}（{short}{letter}）不符",
                city.name_zh()
            ),
            format!(
                "plate: {p} is registered under {short}{found}, not in the issuing city {} ({short}{letter})",
                city.code()
            ),
        );
    }
}

/// The plate colour agrees with the plate (GA 36-2018): small new-energy
/// plates are gradient green, large ones yellow-green; 7-character plates
/// are never green; 挂 and 学 plates are yellow, 警 plates white and only
/// they; a plate number means the vehicle is plated.
fn check_plate_colour(c: &mut Checker<'_>, plate: &PlateNumber, colour: PlateColour) {
    let expected: Option<PlateColour> = if plate.is_large_new_energy() {
        Some(PlateColour::YellowGreen)
    } else if plate.is_new_energy() {
        Some(PlateColour::Green)
    } else {
        match plate.last_char() {
            '挂' | '学' => Some(PlateColour::Yellow),
            '警' => Some(PlateColour::White),
            _ => None,
        }
    };
    let ok = match expected {
        Some(e) => colour == e,
        None => !matches!(
            colour,
            PlateColour::Green
                | PlateColour::YellowGreen
                | PlateColour::White
                | PlateColour::NotPlated
        ),
    };
    if !ok {
        let p = plate.as_str();
        let (want_zh, want_en) = match expected {
            Some(e) => (
                format!("应为{}（{}）", e.label_zh(), e.code()),
                format!("should be {} ({})", e.label_zh(), e.code()),
            ),
            None => (
                "应为蓝色、黄色、黑色或其他，绿色和黄绿双拼色仅用于 8 位新能源号牌".to_owned(),
                "should be blue, yellow, black or other; green and yellow-green are for 8-character new-energy plates".to_owned(),
            ),
        };
        c.push(
            "plate_colour",
            "plate_colour.mismatch_plate",
            format!(
                "车牌颜色{}（{}）与车牌号码 {p} 不符：{want_zh}",
                colour.label_zh(),
                colour.code()
            ),
            format!(
                "plate_colour: {} ({}) does not fit plate {p}: {want_en}",
                colour.label_zh(),
                colour.code()
            ),
        );
    }
}

// ---------------------------------------------------------------------------
// Reference records
// ---------------------------------------------------------------------------

fn t(s: &str) -> Option<String> {
    Some(s.to_owned())
}

fn l(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|s| (*s).to_owned()).collect())
}

/// An issuing authority of the reference records: division, credit code,
/// name. The credit codes are made up, with correct check characters.
struct RefIssuer(&'static str, &'static str, &'static str);

const SHENYANG: RefIssuer = RefIssuer("210100", "11210100001245632C", "沈阳市交通运输局");
const DALIAN: RefIssuer = RefIssuer("210200", "11210200002418371B", "大连市交通运输局");
const ANSHAN: RefIssuer = RefIssuer("210300", "11210300001185262F", "鞍山市交通运输局");
const HULUDAO: RefIssuer = RefIssuer("211400", "112114000013582661", "葫芦岛市交通运输局");
const PROVINCE: RefIssuer = RefIssuer("210000", "11210000001275495J", "辽宁省交通运输厅");

/// Common fields: type, number, issuer, first issue, issue, from, until.
fn base(
    cert_type: CertType,
    number: &str,
    issuer: &RefIssuer,
    dates: [Option<&str>; 4],
) -> RawRecord {
    let [first_issue, issue_date, valid_from, valid_until] = dates.map(|d| d.map(str::to_owned));
    RawRecord {
        cert_type: t(cert_type.code()),
        number: t(number),
        issuer_division: t(issuer.0),
        issuer_uscc: t(issuer.1),
        issuer_name: t(issuer.2),
        first_issue,
        issue_date,
        valid_from,
        valid_until,
        ..RawRecord::default()
    }
}

/// A realistic, conforming record of each type, valid on 2026-06-01: made-up
/// people and companies with correct check characters. Used as test vectors
/// and for typical-size measurements.
pub fn sample_record(cert_type: CertType) -> RawRecord {
    match cert_type {
        CertType::QC => RawRecord {
            name: t("王建国"),
            sex: t("1"),
            id_number: t("210102198503122434"),
            vehicle_classes: t("A2"),
            qualification_classes: l(&["2"]),
            nationality: t("中国"),
            address: t("辽宁省沈阳市和平区南京北街116号"),
            file_number: t("2101002011000356"),
            ..base(
                cert_type,
                "210102198503122434",
                &SHENYANG,
                [
                    Some("20110520"),
                    Some("20230518"),
                    Some("20230518"),
                    Some("20290517"),
                ],
            )
        },
        CertType::WYJ => RawRecord {
            name: t("李秀梅"),
            sex: t("2"),
            id_number: t("210203199007154521"),
            vehicle_classes: t("C1"),
            ethnicity: t("汉族"),
            driving_licence_number: t("210203199007154521"),
            ..base(
                cert_type,
                "210203199007154521",
                &DALIAN,
                [
                    Some("2019-08-01"),
                    Some("2025-08-01"),
                    Some("2025-08-01"),
                    Some("2031-07-31"),
                ],
            )
        },
        CertType::XYJ => RawRecord {
            name: t("刘洪涛"),
            sex: t("男"),
            id_number: t("210302197809230610"),
            vehicle_classes: t("C1"),
            ethnicity: t("满族"),
            driving_licence_number: t("210302197809230610"),
            ..base(
                cert_type,
                "21030020180456",
                &ANSHAN,
                [
                    Some("20180312"),
                    Some("20240312"),
                    Some("20240312"),
                    Some("20300311"),
                ],
            )
        },
        CertType::YSZ => RawRecord {
            owner: t("沈阳顺达物流有限公司"),
            plate: t("辽A5K823"),
            plate_colour: t("2"),
            vehicle_type: t("重型厢式货车"),
            tonnage: t("11.8850"),
            business_scope: l(&["021"]),
            inspection_valid_until: t("20260930"),
            owner_address: t("辽宁省沈阳市铁西区北二西路32号"),
            operating_permit_number: t("210106000123"),
            vin: t("LFWSRXPJ6LA123617"),
            make_model: t("解放牌CA5250XXYP66K24L7T3E6"),
            economic_type: t("有限责任公司"),
            ..base(
                cert_type,
                "210100165715",
                &SHENYANG,
                [
                    Some("20200415"),
                    Some("20240410"),
                    Some("20240410"),
                    Some("20280409"),
                ],
            )
        },
        CertType::WYY => RawRecord {
            owner: t("大连易行汽车服务有限公司"),
            plate: t("辽BD12345"),
            plate_colour: t("5"),
            vehicle_type: t("小型轿车"),
            seats: t("5"),
            make_model: t("比亚迪牌BYD7005BEVA"),
            vin: t("LGXCE4CB3PA087452"),
            operating_area: t("大连市"),
            business_scope: l(&["092"]),
            ..base(
                cert_type,
                "210200230156",
                &DALIAN,
                [
                    Some("2024-03-01"),
                    Some("2024-03-01"),
                    Some("2024-03-01"),
                    Some("2032-02-29"),
                ],
            )
        },
        CertType::JYXK => RawRecord {
            holder_name: t("沈阳顺达物流有限公司"),
            uscc: t("91210106MA0XN3K249"),
            address: t("辽宁省沈阳市铁西区北二西路32号"),
            economic_type: t("有限责任公司"),
            business_scope: l(&["021", "022"]),
            ..base(
                cert_type,
                "210106000123",
                &SHENYANG,
                [None, Some("20230701"), Some("20230701"), Some("20270630")],
            )
        },
        CertType::WXHW => RawRecord {
            holder_name: t("大连港通危险货物运输有限公司"),
            uscc: t("91210211716538244X"),
            address: t("辽宁省大连市甘井子区海港路18号"),
            economic_type: t("有限责任公司"),
            business_scope: l(&["032", "033", "038"]),
            ..base(
                cert_type,
                "210211000045",
                &DALIAN,
                [
                    None,
                    Some("2024-09-10"),
                    Some("2024-09-10"),
                    Some("2028-09-09"),
                ],
            )
        },
        CertType::FSX => RawRecord {
            holder_name: t("辽宁核安放射性物品运输有限公司"),
            uscc: t("91210100MA0YB4R6XT"),
            address: t("辽宁省沈阳市浑南区智慧三街15号"),
            economic_type: t("有限责任公司"),
            business_scope: l(&["040"]),
            ..base(
                cert_type,
                "210100000008",
                &SHENYANG,
                [None, Some("20250115"), Some("20250115"), Some("20290114")],
            )
        },
        CertType::WYJY => RawRecord {
            holder_name: t("沈阳畅行网约车科技有限公司"),
            uscc: t("91210102MA10H7LW6P"),
            operating_area: t("沈阳市"),
            address: t("辽宁省沈阳市和平区青年大街286号"),
            business_scope: l(&["092"]),
            ..base(
                cert_type,
                "210100202300001",
                &SHENYANG,
                [
                    Some("2023-01-15"),
                    Some("2023-01-15"),
                    Some("2023-01-15"),
                    Some("2027-01-14"),
                ],
            )
        },
    }
}

/// A conforming record of each type with the longest realistic value in
/// every field carried in the QR (long minority-style names, 20-plus
/// character company names, long business-scope lists, 8-character or
/// 挂 plates), valid on 2026-06-01. An upper bound for QR size
/// measurements: fields are each at their longest, not necessarily what one
/// real vehicle or person would have together.
pub fn largest_realistic_record(cert_type: CertType) -> RawRecord {
    const LONG_NAME: &str = "阿卜杜热合曼·买买提明";
    const LONG_ADDRESS: &str =
        "辽宁省葫芦岛市兴城市兴城镇古城街道南大街永宁社区东三胡同十八号院二号楼三单元五〇二室";
    let dates = [
        Some("2012-02-29"),
        Some("2026-05-31"),
        Some("2026-05-31"),
        Some("2032-05-30"),
    ];
    let permit_dates = [
        Some("2010-12-31"),
        Some("2026-05-31"),
        Some("2026-05-31"),
        Some("2030-05-30"),
    ];
    match cert_type {
        CertType::QC => RawRecord {
            name: t(LONG_NAME),
            sex: t("1"),
            id_number: t("211404197202293876"),
            vehicle_classes: t("A1A2D"),
            qualification_classes: l(&["1", "2", "3", "4", "5"]),
            nationality: t("中华人民共和国"),
            address: t(LONG_ADDRESS),
            file_number: t("21140020120229000356"),
            ..base(cert_type, "211404197202293876", &HULUDAO, dates)
        },
        CertType::WYJ => RawRecord {
            name: t("爱新觉罗·那拉塔娜依尔珠玛"),
            sex: t("2"),
            id_number: t("211404197505161520"),
            vehicle_classes: t("A1A2D"),
            ethnicity: t("锡伯族"),
            driving_licence_number: t("211404197505161520"),
            ..base(cert_type, "211404197505161520", &HULUDAO, dates)
        },
        CertType::XYJ => RawRecord {
            name: t(LONG_NAME),
            sex: t("1"),
            id_number: t("211404198808081231"),
            vehicle_classes: t("A1A2D"),
            ethnicity: t("维吾尔族"),
            driving_licence_number: t("211404198808081231"),
            ..base(cert_type, "211404198808081231", &HULUDAO, dates)
        },
        CertType::YSZ => RawRecord {
            owner: t("辽宁省大连市港通危险货物运输集团有限公司"),
            plate: t("辽B3G25挂"),
            plate_colour: t("2"),
            vehicle_type: t("重型低平板半挂车"),
            seats: t("3"),
            tonnage: t("199.9999"),
            business_scope: l(&[
                "021", "022", "023", "031", "032", "033", "034", "035", "036", "037", "038", "039",
            ]),
            inspection_valid_until: t("2027-05-31"),
            owner_address: t(LONG_ADDRESS),
            operating_permit_number: t("210213000999"),
            vin: t("LZZ1CLVB9NA694213"),
            make_model: t("中集牌ZJV9401TDPSZ型低平板半挂车"),
            economic_type: t("私营有限责任公司"),
            ..base(cert_type, "210200998877", &DALIAN, dates)
        },
        CertType::WYY => RawRecord {
            owner: t("辽宁省大连市易行网络预约出租汽车服务有限公司"),
            plate: t("辽BF98765"),
            plate_colour: t("5"),
            vehicle_type: t("小型普通客车"),
            seats: t("7"),
            make_model: t("上汽通用别克牌SGM6521UAAB型多用途乘用车"),
            vin: t("LSGKB54H3RT021568"),
            operating_area: t("大连市中山区、西岗区、沙河口区、甘井子区、旅顺口区、金州区"),
            business_scope: l(&["092", "091"]),
            ..base(cert_type, "LNDL2026WYY000000123456", &DALIAN, dates)
        },
        CertType::JYXK => RawRecord {
            holder_name: t("辽宁省沈阳市顺达国际物流运输集团股份有限公司"),
            uscc: t("91210106MA0Y7L3R3C"),
            address: t(LONG_ADDRESS),
            economic_type: t("私营股份有限公司"),
            business_scope: l(&[
                "011", "012", "013", "014", "021", "022", "023", "070", "100",
            ]),
            ..base(cert_type, "210106999999", &SHENYANG, permit_dates)
        },
        CertType::WXHW => RawRecord {
            holder_name: t("辽宁省大连市港通危险货物运输集团有限公司"),
            uscc: t("91210213MA0QE2T903"),
            address: t(LONG_ADDRESS),
            economic_type: t("私营有限责任公司"),
            business_scope: l(&[
                "031", "032", "033", "034", "035", "036", "037", "038", "039",
            ]),
            ..base(cert_type, "210213000999", &DALIAN, permit_dates)
        },
        CertType::FSX => RawRecord {
            holder_name: t("辽宁省核安放射性物品道路运输集团有限公司"),
            uscc: t("91210100MA0TQ8W43G"),
            address: t(LONG_ADDRESS),
            economic_type: t("国有独资有限责任公司"),
            business_scope: l(&["040", "037"]),
            ..base(cert_type, "210100000999", &PROVINCE, permit_dates)
        },
        CertType::WYJY => RawRecord {
            holder_name: t("辽宁省沈阳市畅行网络预约出租汽车服务集团有限公司"),
            uscc: t("91210204MA0UP5C867"),
            operating_area: t(
                "沈阳市和平区、沈河区、大东区、皇姑区、铁西区、苏家屯区、浑南区、沈北新区、于洪区",
            ),
            address: t(LONG_ADDRESS),
            economic_type: t("私营有限责任公司"),
            business_scope: l(&["092", "091", "100"]),
            ..base(
                cert_type,
                "LNSY2026WYJY00000000000123",
                &SHENYANG,
                permit_dates,
            )
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 06 - 01);

    type Edit = fn(&mut RawRecord);
    type Row = (
        &'static str,
        CertType,
        Edit,
        &'static [(&'static str, &'static str)],
    );

    /// Fixes the closure type of one table row.
    fn row(
        what: &'static str,
        ct: CertType,
        edit: Edit,
        want: &'static [(&'static str, &'static str)],
    ) -> Row {
        (what, ct, edit, want)
    }

    fn problems(raw: &RawRecord) -> BTreeSet<(String, String)> {
        match validate(raw, TODAY) {
            Ok(_) => BTreeSet::new(),
            Err(v) => v.into_iter().map(|n| (n.field, n.rule)).collect(),
        }
    }

    fn set(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
        pairs
            .iter()
            .map(|(f, r)| ((*f).to_owned(), (*r).to_owned()))
            .collect()
    }

    #[test]
    fn reference_records_conform() {
        for t in CertType::ALL {
            for raw in [sample_record(t), largest_realistic_record(t)] {
                let data = validate(&raw, TODAY).unwrap_or_else(|e| panic!("{t}: {e:#?}"));
                assert_eq!(data.cert_type, t);
                assert_eq!(data.face.family(), t.family());
                let id = data.identifier().unwrap_or_else(|e| panic!("{t}: {e}"));
                assert_eq!(id.serial(), data.number);
                assert_eq!(id.issuer_code(), data.issuer.uscc.as_str());
                assert_eq!(id.version(), 1);
                assert!(data.valid_until.is_none_or(|u| u >= TODAY), "{t} expired");
            }
        }
    }

    #[test]
    fn the_table() {
        use CertType::*;
        let long_serial = "A".repeat(65);
        #[rustfmt::skip]
        let rows: Vec<Row> = vec![
            row("qc ok", QC, |_| {}, &[]),
            row("wyj ok", WYJ, |_| {}, &[]),
            row("xyj ok", XYJ, |_| {}, &[]),
            row("ysz ok", YSZ, |_| {}, &[]),
            row("wyy ok", WYY, |_| {}, &[]),
            row("jyxk ok", JYXK, |_| {}, &[]),
            row("wxhw ok", WXHW, |_| {}, &[]),
            row("fsx ok", FSX, |_| {}, &[]),
            row("wyjy ok", WYJY, |_| {}, &[]),
            row("long-term, county issuer, lower case, padding, version", WYJY, |r| {
                r.valid_until = t("长期");
                r.issuer_division = t(" 210106 ");
                r.issuer_name = None;
                r.cert_type = t("wyjy");
                r.version = t("12");
            }, &[]),
            row("county issuer, lower case, padding, version", JYXK, |r| {
                r.issuer_division = t(" 210106 ");
                r.issuer_name = None;
                r.cert_type = t("jyxk");
                r.uscc = t("91210106ma0xn3k249");
                r.version = t("12");
                r.business_scope = l(&["21", " 022 "]);
            }, &[]),
            row("fields of other types are ignored", QC, |r| { r.plate = t("not a plate"); r.uscc = t("nonsense"); }, &[]),
            row("id check digit", XYJ, |r| r.id_number = t("210302197809230611"), &[("id_number", "id_number.check_digit")]),
            row("id birth date in the future", XYJ, |r| { r.id_number = t("210102202607010014"); r.sex = t("1"); }, &[("id_number", "id_number.future_date")]),
            row("id impossible birth date", XYJ, |r| r.id_number = t("210102197302293873"), &[("id_number", "id_number.impossible_date")]),
            row("id unknown province", XYJ, |r| r.id_number = t("990102198503122434"), &[("id_number", "id_number.unknown_division")]),
            row("holder credit code", JYXK, |r| r.uscc = t("91210106MA0XN3K248"), &[("uscc", "uscc.check_digit")]),
            row("issuer credit code", WYJ, |r| r.issuer_uscc = t("11210200002418371"), &[("issuer_uscc", "uscc.length")]),
            row("plate letter I", YSZ, |r| r.plate = t("辽I5K823"), &[("plate", "plate.character")]),
            row("plate province", WYY, |r| r.plate = t("台BD12345"), &[("plate", "plate.province")]),
            row("issuer not in Liaoning", FSX, |r| r.issuer_division = t("220100"), &[("issuer_division", "division.unknown_division")]),
            row("issuer division not digits", FSX, |r| r.issuer_division = t("沈阳市"), &[("issuer_division", "division.length")]),
            row("impossible issue date", QC, |r| r.issue_date = t("20230230"), &[("issue_date", "date.impossible_date")]),
            row("date format", WYY, |r| r.valid_from = t("2024/03/01"), &[("valid_from", "date.format")]),
            row("validity reversed", QC, |r| r.valid_until = t("20230101"),
                &[("valid_from", "valid_from.after_valid_until"), ("issue_date", "issue_date.outside_validity")]),
            row("issued before validity", QC, |r| r.issue_date = t("20230517"), &[("issue_date", "issue_date.outside_validity")]),
            row("first issue in the future", QC, |r| r.first_issue = t("20270101"), &[("first_issue", "date.future_date")]),
            row("first issue after issue date", QC, |r| r.first_issue = t("20240101"), &[("first_issue", "first_issue.after_issue_date")]),
            row("issue date in the future", YSZ, |r| r.issue_date = t("20260602"), &[("issue_date", "date.future_date")]),
            row("plate colour code", YSZ, |r| r.plate_colour = t("7"), &[("plate_colour", "plate_colour.unknown_code")]),
            row("no seats", WYY, |r| r.seats = t("0"), &[("seats", "seats.out_of_range")]),
            row("too many seats", WYY, |r| r.seats = t("100"), &[("seats", "seats.out_of_range")]),
            row("seats not a number", WYY, |r| r.seats = t("五"), &[("seats", "seats.format")]),
            row("tonnage zero", YSZ, |r| r.tonnage = t("0"), &[("tonnage", "tonnage.out_of_range")]),
            row("tonnage five decimals", YSZ, |r| r.tonnage = t("11.88501"), &[("tonnage", "tonnage.format")]),
            row("no seats and no tonnage", YSZ, |r| r.tonnage = None, &[("tonnage", "capacity.missing")]),
            row("unknown scope code, second item", JYXK, |r| r.business_scope = l(&["021", "024"]), &[("business_scope", "scope_code.unknown_code")]),
            row("vin with O", YSZ, |r| r.vin = t("LFWSRXPJ6LA12361O"), &[("vin", "vin.character")]),
            row("vin short", WYY, |r| r.vin = t("LGXCE4CB3PA08745"), &[("vin", "vin.length")]),
            row("version 0", WXHW, |r| r.version = t("0"), &[("version", "version.out_of_range")]),
            row("version 1000", WXHW, |r| r.version = t("1000"), &[("version", "version.out_of_range")]),
            row("version text", WXHW, |r| r.version = t("v2"), &[("version", "version.format")]),
            row("qc number not an id number", QC, |r| r.number = t("210102198503122435"), &[("number", "id_number.check_digit")]),
            row("qc number of someone else", QC, |r| r.number = t("210203199007154521"), &[("number", "number.mismatch_id_number")]),
            row("permit number outside Liaoning", JYXK, |r| r.number = t("220106000123"), &[("number", "cert_number.unknown_division")]),
            row("permit number length", WXHW, |r| r.number = t("21021100004"), &[("number", "cert_number.length")]),
            row("permit serial zero", FSX, |r| r.number = t("210100000000"), &[("number", "cert_number.out_of_range")]),
            row("ysz number letter", YSZ, |r| r.number = t("21010016571A"), &[("number", "cert_number.character")]),
            row("wyjy number lower case", WYJY, |r| r.number = t("210100abc"), &[("number", "cert_number.character")]),
            row("ysz operating permit number", YSZ, |r| r.operating_permit_number = t("110106000123"), &[("operating_permit_number", "cert_number.unknown_division")]),
            row("missing name", QC, |r| r.name = None, &[("name", "field.missing")]),
            row("blank plate and empty scope", YSZ,
                |r| { r.plate = t("  "); r.business_scope = Some(vec![]); },
                &[("plate", "field.missing"), ("business_scope", "field.missing")]),
            row("wyjy without operating area", WYJY, |r| r.operating_area = None, &[("operating_area", "field.missing")]),
            row("missing type", WYY, |r| r.cert_type = None, &[("cert_type", "field.missing")]),
            row("unknown type still checks fields", QC,
                |r| { r.cert_type = t("ABC"); r.id_number = t("210102198503122435"); },
                &[("cert_type", "cert_type.unknown"), ("id_number", "id_number.check_digit")]),
            row("sex disagrees with id number", QC, |r| r.sex = t("女"), &[("sex", "sex.mismatch_id_number")]),
            row("sex code 9", QC, |r| r.sex = t("9"), &[("sex", "sex.unknown_code")]),
            row("qualification class", QC, |r| r.qualification_classes = l(&["2", "42"]), &[("qualification_classes", "qualification_class.unknown_code")]),
            row("vehicle class", WYJ, |r| r.vehicle_classes = t("C1A4"), &[("vehicle_classes", "vehicle_classes.unknown_code")]),
            row("vehicle classes with separators", XYJ, |r| r.vehicle_classes = t("A1,A2"), &[("vehicle_classes", "vehicle_classes.character")]),
            row("name too long", QC, |r| r.name = t(&"王".repeat(51)), &[("name", "text.length")]),
            // R3 rules of issue 15.
            row("long-term where the type has a limit", JYXK, |r| r.valid_until = t("长期"), &[("valid_until", "valid_until.too_long")]),
            row("qualification valid over 6 years", QC, |r| r.valid_until = t("20290519"), &[("valid_until", "valid_until.too_long")]),
            row("qualification valid exactly 6 years", QC, |r| r.valid_until = t("20290518"), &[]),
            row("permit valid over 4 years", WXHW, |r| r.valid_until = t("20991231"), &[("valid_until", "valid_until.too_long")]),
            row("plate of another province", YSZ, |r| r.plate = t("吉A5K823"), &[("plate", "plate.other_province")]),
            row("plate of another Liaoning city", YSZ, |r| r.plate = t("辽B5K823"), &[("plate", "plate.city_mismatch")]),
            row("plate letter of no city", WYY, |r| r.plate = t("辽ZD12345"), &[("plate", "plate.city_mismatch")]),
            row("county issuer, plate of its city", YSZ, |r| { r.issuer_division = t("210181"); r.issuer_name = None; }, &[]),
            row("plates are not checked on person certificates", QC, |r| r.plate = t("吉A5K823"), &[]),
            row("small new-energy plate, gradient green by name", WYY, |r| r.plate_colour = t("渐变绿"), &[]),
            row("small new-energy plate in yellow", WYY, |r| r.plate_colour = t("2"), &[("plate_colour", "plate_colour.mismatch_plate")]),
            row("small new-energy plate in yellow-green", WYY, |r| r.plate_colour = t("6"), &[("plate_colour", "plate_colour.mismatch_plate")]),
            row("large new-energy plate in yellow-green", YSZ, |r| { r.plate = t("辽A12345D"); r.plate_colour = t("黄绿"); }, &[]),
            row("large new-energy plate in green", YSZ, |r| { r.plate = t("辽A12345F"); r.plate_colour = t("5"); }, &[("plate_colour", "plate_colour.mismatch_plate")]),
            row("ordinary plate in green", YSZ, |r| r.plate_colour = t("5"), &[("plate_colour", "plate_colour.mismatch_plate")]),
            row("ordinary plate not plated", YSZ, |r| r.plate_colour = t("0"), &[("plate_colour", "plate_colour.mismatch_plate")]),
            row("trailer plate in blue", YSZ, |r| { r.plate = t("辽A3G25挂"); r.plate_colour = t("1"); }, &[("plate_colour", "plate_colour.mismatch_plate")]),
            row("trailer plate in yellow", YSZ, |r| r.plate = t("辽A3G25挂"), &[]),
            row("white plate without 警", YSZ, |r| r.plate_colour = t("4"), &[("plate_colour", "plate_colour.mismatch_plate")]),
            row("vin check digit", YSZ, |r| r.vin = t("LFWSRXPJ7LA123617"), &[("vin", "vin.check_digit")]),
            row("vin check digit X", WYY, |r| r.vin = t("1M8GDM9AXKP042788"), &[]),
            row("ride-hailing driver under 21", WYJ, |r| {
                r.id_number = t("210203200501011521"); r.number = t("210203200501011521");
            }, &[("id_number", "id_number.under_minimum_age")]),
            row("freight driver at 18", QC, |r| {
                r.id_number = t("210102200406010035"); r.number = t("210102200406010035");
                r.first_issue = t("20230518");
            }, &[]),
            row("passenger driver at 18", QC, |r| {
                r.id_number = t("210102200406010035"); r.number = t("210102200406010035");
                r.first_issue = t("20230518"); r.qualification_classes = l(&["1", "2"]);
            }, &[("id_number", "id_number.under_minimum_age")]),
            row("id number of no Liaoning county", XYJ, |r| r.id_number = t("210199197809230619"), &[("id_number", "id_number.unknown_division")]),
            row("id number of an abolished county", XYJ, |r| r.id_number = t("210122198001010016"), &[]),
            row("issuer county that does not exist", WYY, |r| r.issuer_division = t("210107"), &[("issuer_division", "division.unknown_division")]),
            row("inspection date impossible", YSZ, |r| r.inspection_valid_until = t("20260931"), &[("inspection_valid_until", "date.impossible_date")]),
        ];
        assert!(rows.len() >= 25);
        for (what, ct, edit, want) in &rows {
            let mut raw = sample_record(*ct);
            edit(&mut raw);
            assert_eq!(problems(&raw), set(want), "{what}");
        }
        // Too-long serial for the free-form numbers.
        let mut raw = sample_record(WYJY);
        raw.number = Some(long_serial);
        assert_eq!(problems(&raw), set(&[("number", "cert_number.length")]));
    }

    #[test]
    fn the_pushing_agency_decides_the_plate_city() {
        let raw = sample_record(CertType::YSZ); // 辽A, issued in 沈阳
        let dalian = DivisionCode::from_u32(210200).ok();
        let got = validate_pushed(&raw, TODAY, dalian)
            .err()
            .unwrap_or_default();
        let rules: Vec<&str> = got.iter().map(|n| n.rule.as_str()).collect();
        assert_eq!(rules, ["plate.city_mismatch"]);
        assert!(
            got[0].message_zh.contains("大连市（辽B）"),
            "{}",
            got[0].message_zh
        );
        // A county agency of 沈阳, and the province, accept 辽A.
        for agency in [210106, 210000] {
            let d = DivisionCode::from_u32(agency).ok();
            assert!(validate_pushed(&raw, TODAY, d).is_ok(), "{agency}");
        }
    }

    /// A Liaoning sample record moved to Jilin (长春, 吉A).
    fn in_jilin(cert_type: CertType) -> RawRecord {
        let mut raw = sample_record(cert_type);
        raw.issuer_division = t("220100");
        raw.issuer_uscc = t("11220100JLPH00000N");
        raw.issuer_name = t("长春市交通运输局");
        if let Some(p) = raw.plate.take() {
            raw.plate = Some(format!("吉A{}", p.chars().skip(2).collect::<String>()));
        }
        if matches!(cert_type, CertType::JYXK | CertType::WXHW | CertType::FSX) {
            raw.number = t("220102000123");
        }
        if raw.operating_permit_number.is_some() {
            raw.operating_permit_number = t("220106000123");
        }
        raw
    }

    #[test]
    fn a_province_validates_its_own_records_from_its_data() {
        use crate::domain::ids::JILIN;
        for t in [CertType::YSZ, CertType::JYXK, CertType::QC] {
            let raw = in_jilin(t);
            let agency = DivisionCode::from_u32(220102).ok();
            let data =
                validate_for(&raw, TODAY, &JILIN, agency).unwrap_or_else(|e| panic!("{t}: {e:#?}"));
            assert_eq!(data.issuer.division.code(), 220100, "{t}");
            // The same record is none of Liaoning's.
            let got = validate(&raw, TODAY).err().unwrap_or_default();
            assert!(
                got.iter().any(|n| n.rule == "division.unknown_division"),
                "{t}: {got:#?}"
            );
        }
        // Jilin's plates: 吉, and the city's letter (吉A 长春, not 吉B 吉林).
        let mut raw = in_jilin(CertType::YSZ);
        raw.plate = t("辽A5K823");
        let got = validate_for(&raw, TODAY, &JILIN, None)
            .err()
            .unwrap_or_default();
        let rules: Vec<&str> = got.iter().map(|n| n.rule.as_str()).collect();
        assert_eq!(rules, ["plate.other_province"]);
        assert!(
            got[0].message_zh.contains("吉林省"),
            "{}",
            got[0].message_zh
        );
        raw.plate = t("吉B5K823");
        let got = validate_for(&raw, TODAY, &JILIN, None)
            .err()
            .unwrap_or_default();
        let rules: Vec<&str> = got.iter().map(|n| n.rule.as_str()).collect();
        assert_eq!(rules, ["plate.city_mismatch"]);
        assert!(
            got[0].message_zh.contains("吉林市"),
            "{}",
            got[0].message_zh
        );
        // A Liaoning permit number under Jilin.
        let mut raw = in_jilin(CertType::JYXK);
        raw.number = t("210106000123");
        let got = validate_for(&raw, TODAY, &JILIN, None)
            .err()
            .unwrap_or_default();
        let rules: Vec<&str> = got.iter().map(|n| n.rule.as_str()).collect();
        assert_eq!(rules, ["cert_number.unknown_division"]);
        assert!(
            got[0].message_zh.contains("不是吉林省"),
            "{}",
            got[0].message_zh
        );
    }

    #[test]
    fn every_fault_at_once() {
        let mut raw = sample_record(CertType::QC);
        raw.name = None;
        raw.id_number = t("210102198503122435");
        raw.number = t("21010219850312243");
        raw.issue_date = t("20230230");
        raw.valid_from = t("20300101");
        raw.first_issue = t("20990101");
        raw.issuer_division = t("220100");
        raw.issuer_uscc = t("11210100001245632D");
        raw.qualification_classes = l(&["0", "2", "x"]);
        raw.version = t("0");
        let got = validate(&raw, TODAY).err().unwrap_or_default();
        let pairs: BTreeSet<(String, String)> = got
            .iter()
            .map(|n| (n.field.clone(), n.rule.clone()))
            .collect();
        assert_eq!(
            pairs,
            set(&[
                ("name", "field.missing"),
                ("id_number", "id_number.check_digit"),
                ("number", "id_number.length"),
                ("issue_date", "date.impossible_date"),
                ("valid_from", "valid_from.after_valid_until"),
                ("first_issue", "date.future_date"),
                ("issuer_division", "division.unknown_division"),
                ("issuer_uscc", "uscc.check_digit"),
                ("qualification_classes", "qualification_class.unknown_code"),
                ("qualification_classes", "qualification_class.format"),
                ("version", "version.out_of_range"),
            ])
        );
        // One entry per fault, nothing twice.
        assert_eq!(got.len(), pairs.len());
        for n in &got {
            assert!(n.message_en.starts_with(&format!("{}: ", n.field)), "{n:?}");
            assert!(!n.message_zh.is_empty());
        }
    }

    #[test]
    fn messages_name_field_and_fault() {
        let mut raw = sample_record(CertType::WYJ);
        raw.id_number = t("21020319900715452X");
        let got = validate(&raw, TODAY).err().unwrap_or_default();
        assert_eq!(
            got,
            vec![Nonconformance {
                field: "id_number".into(),
                rule: "id_number.check_digit".into(),
                message_zh: "身份证号码校验位错误：应为 1，实为 X".into(),
                message_en: "id_number: check digit should be 1, found X".into(),
            }]
        );
        let mut raw = sample_record(CertType::YSZ);
        raw.plate = None;
        raw.business_scope = l(&["021", "555"]);
        let got = validate(&raw, TODAY).err().unwrap_or_default();
        let messages: Vec<(&str, &str)> = got
            .iter()
            .map(|n| (n.message_zh.as_str(), n.message_en.as_str()))
            .collect();
        assert_eq!(
            messages,
            vec![
                ("缺少必填项：车牌号码", "plate: mandatory field is missing"),
                (
                    "经营范围第 2 项代码 555 未定义",
                    "business_scope: item 2: unknown code 555"
                ),
            ]
        );
    }

    #[test]
    fn mandatory_and_optional_follow_the_catalogue() {
        for t in CertType::ALL {
            let e = catalogue::entry(t);
            for f in &e.face_fields {
                assert!(RawRecord::KEYS.contains(&f.key.as_str()), "{t} {}", f.key);
                let mut raw = largest_realistic_record(t);
                assert!(
                    raw.get(&f.key).is_some_and(|v| !v.is_blank()),
                    "{t} {}",
                    f.key
                );
                clear(&mut raw, &f.key);
                let got = problems(&raw);
                if f.mandatory {
                    assert_eq!(got, set(&[(f.key.as_str(), "field.missing")]), "{t}");
                } else if t == CertType::YSZ && f.key == "tonnage" {
                    assert!(got.is_empty(), "{t} {}: {got:?}", f.key); // seats remain
                } else {
                    assert!(got.is_empty(), "{t} {}: {got:?}", f.key);
                }
            }
        }
    }

    /// Clears one field by key, through serde so no field is forgotten.
    fn clear(raw: &mut RawRecord, key: &str) {
        let mut v = serde_json::to_value(&*raw).unwrap_or_default();
        if let Some(map) = v.as_object_mut() {
            map.remove(key);
        }
        *raw = serde_json::from_value(v).unwrap_or_default();
    }

    #[test]
    fn lenient_json() {
        let json = r#"{
            "cert_type": "WYY", "number": 210200230156, "issuer_division": 210200,
            "issuer_uscc": "11210200002418371B", "issue_date": 20240301,
            "valid_from": "2024-03-01", "valid_until": "2032-02-29",
            "owner": "大连易行汽车服务有限公司", "plate": "辽BD12345", "plate_colour": 5,
            "vehicle_type": "小型轿车", "seats": 5, "make_model": "比亚迪牌BYD7005BEVA",
            "vin": "LGXCE4CB3PA087452", "operating_area": "大连市", "business_scope": 92,
            "tonnage": null, "some_future_field": {"x": 1}
        }"#;
        let raw: RawRecord = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(raw.seats.as_deref(), Some("5"));
        assert_eq!(raw.business_scope, l(&["92"]));
        let data = validate(&raw, TODAY).unwrap_or_else(|e| panic!("{e:#?}"));
        assert_eq!(data.issuer.name, "大连市交通运输局");
        let Face::Vehicle(v) = &data.face else {
            panic!("not a vehicle")
        };
        assert_eq!(v.seats, Some(5));
        assert_eq!(v.plate_colour, PlateColour::Green);
        let t: RawRecord =
            serde_json::from_str(r#"{"tonnage": 11.885, "qualification_classes": [1, "2"]}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.tonnage.as_deref(), Some("11.885"));
        assert_eq!(t.qualification_classes, l(&["1", "2"]));
        // Round trip of the reference records.
        for ct in CertType::ALL {
            let raw = largest_realistic_record(ct);
            let json = serde_json::to_string(&raw).unwrap_or_default();
            assert_eq!(serde_json::from_str::<RawRecord>(&json).ok(), Some(raw));
        }
    }

    #[test]
    fn typed_result_of_a_sample() {
        let data =
            validate(&sample_record(CertType::QC), TODAY).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(data.number, "210102198503122434");
        assert_eq!(data.issuer.division.code(), 210100);
        assert_eq!(data.issue_date, date!(2023 - 05 - 18));
        assert_eq!(data.valid_until, Some(date!(2029 - 05 - 17)));
        assert_eq!(data.first_issue, Some(date!(2011 - 05 - 20)));
        let Face::Person(p) = &data.face else {
            panic!("not a person")
        };
        assert_eq!(p.sex, Sex::Male);
        assert_eq!(p.qualification_classes, vec![2]);
        assert_eq!(p.vehicle_classes.as_deref(), Some("A2"));
        assert_eq!(
            catalogue::render_number(data.cert_type, &data.number, data.issuer.division),
            "210102198503122434"
        );
        let data =
            validate(&sample_record(CertType::JYXK), TODAY).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            catalogue::render_number(data.cert_type, &data.number, data.issuer.division),
            "辽交运管许可沈字210106000123号"
        );
        assert_eq!(data.first_issue, None);
    }
}
