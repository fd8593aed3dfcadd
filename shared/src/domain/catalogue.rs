//! The catalogue of certificate types (R1): for each of the nine types its
//! names, standard, collection start date, printed-number template and face
//! fields (label, mandatory, carried in the QR or not, format), plus the
//! code tables for qualification classes and driving-licence classes.
//!
//! The catalogue is the one source of truth the non-conformance checker
//! ([`super::validate`]) reads its mandatory fields from. Which fields are in
//! the QR follows the "(in the QR)" / "(not in the QR)" notes on the structs
//! of [`super::cert`]; a test keeps the two in step.

use serde::{Deserialize, Serialize};
use time::macros::date;
use time::Date;

use super::cert::{CertType, Family};
use super::ids::DivisionCode;

/// Qualification classes (从业资格类别) by code. The codes are this
/// project's own (JT/T 1290's code table is not public); the names are
/// those of 《道路运输从业人员管理规定》.
pub const QUALIFICATION_CLASSES: &[(u8, &str)] = &[
    (1, "经营性道路旅客运输驾驶员"),
    (2, "经营性道路货物运输驾驶员"),
    (3, "道路危险货物运输驾驶员"),
    (4, "道路危险货物运输装卸管理人员"),
    (5, "道路危险货物运输押运人员"),
    (6, "出租汽车驾驶员"),
    (7, "机动车驾驶培训教练员"),
    (8, "机动车维修技术人员"),
];

/// The name of a qualification class code, if known.
pub fn qualification_class_name(code: u8) -> Option<&'static str> {
    QUALIFICATION_CLASSES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| *n)
}

/// Driving-licence classes (准驾车型, GA/T 16.4 / 《机动车驾驶证申领和使用规定》).
/// A vehicle-classes value is a concatenation of these, e.g. `A1A2`.
pub const VEHICLE_CLASSES: &[&str] = &[
    "A1", "A2", "A3", "B1", "B2", "C1", "C2", "C3", "C4", "C5", "C6", "D", "E", "F", "M", "N", "P",
];

/// How a face field's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FieldFormat {
    /// Free text (see [`FieldSpec::max_chars`]).
    Text,
    /// The type's certificate number format (see [`super::validate::parse_number`]).
    CertNumber,
    /// 12-digit operating-permit number: Liaoning division code + serial.
    PermitNumber,
    /// A date, `YYYYMMDD` or `YYYY-MM-DD`.
    Date,
    /// A date, or 长期 for long-term.
    DateOrLongTerm,
    /// 1, 2, 男 or 女 (GB/T 2261.1).
    Sex,
    /// 18-character resident ID number (GB 11643).
    IdNumber,
    /// 18-character unified social credit code (GB 32100).
    Uscc,
    /// 6-digit Liaoning division code (GB/T 2260).
    Division,
    /// Plate number (GA 36).
    Plate,
    /// Plate colour code (JT/T 697.7).
    PlateColour,
    /// Approved seats, 1–99.
    Seats,
    /// Tonnes with up to 4 decimals, more than 0 and at most 200.
    Tonnage,
    /// List of business-scope codes (JT/T 415).
    ScopeCodes,
    /// List of qualification class codes ([`QUALIFICATION_CLASSES`]).
    QualificationClasses,
    /// Concatenated driving-licence classes ([`VEHICLE_CLASSES`]).
    VehicleClasses,
    /// 17-character VIN.
    Vin,
}

/// One face field (照面信息项) of a certificate type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// Stable snake_case key, equal to the field name of
    /// [`super::validate::RawRecord`] and of the face structs.
    pub key: String,
    /// Chinese label as printed.
    pub label_zh: String,
    /// English label.
    pub label_en: String,
    /// Whether a record without it is non-conforming.
    pub mandatory: bool,
    /// Whether it is carried in the signed QR payload.
    pub on_qr: bool,
    /// How the value is written.
    pub format: FieldFormat,
    /// Longest accepted value in characters, for free text.
    pub max_chars: Option<u16>,
}

/// One certificate type in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueEntry {
    /// The type.
    pub cert_type: CertType,
    /// The project's short code, e.g. `YSZ`.
    pub code: String,
    /// Official Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// National data standard.
    pub standard: String,
    /// Family of face fields.
    pub family: Family,
    /// Date from which records of this type are collected (归集).
    /// Placeholders until the provincial schedule is confirmed.
    pub collection_start: Date,
    /// How the printed number is rendered from the compact number:
    /// `{city}` is the issuing city's abbreviation, `{number}` the compact
    /// number. See [`render_number`].
    pub template: String,
    /// The face fields in printed order, common fields included.
    pub face_fields: Vec<FieldSpec>,
}

impl CatalogueEntry {
    /// The face field with this key, if the type has it.
    pub fn field(&self, key: &str) -> Option<&FieldSpec> {
        self.face_fields.iter().find(|f| f.key == key)
    }
}

/// Every field key with its Chinese and English label, format and length
/// limit; per-type labels may differ (see [`type_label`]).
#[rustfmt::skip]
const FIELDS: &[(&str, &str, &str, FieldFormat, Option<u16>)] = &[
    ("cert_type", "证照类型", "certificate type", FieldFormat::Text, None),
    ("version", "版本号", "version", FieldFormat::Text, None),
    ("number", "证照编号", "certificate number", FieldFormat::CertNumber, None),
    ("issuer_division", "发证机关行政区划代码", "issuing authority division code", FieldFormat::Division, None),
    ("issuer_uscc", "发证机关统一社会信用代码", "issuing authority credit code", FieldFormat::Uscc, None),
    ("issuer_name", "发证机关", "issuing authority", FieldFormat::Text, Some(100)),
    ("first_issue", "初次领证日期", "first issue date", FieldFormat::Date, None),
    ("issue_date", "发证日期", "issue date", FieldFormat::Date, None),
    ("valid_from", "有效期起", "valid from", FieldFormat::Date, None),
    ("valid_until", "有效期至", "valid until", FieldFormat::DateOrLongTerm, None),
    ("name", "姓名", "name", FieldFormat::Text, Some(50)),
    ("sex", "性别", "sex", FieldFormat::Sex, None),
    ("id_number", "身份证号码", "id number", FieldFormat::IdNumber, None),
    ("vehicle_classes", "准驾车型", "permitted vehicle classes", FieldFormat::VehicleClasses, None),
    ("qualification_classes", "从业资格类别", "qualification classes", FieldFormat::QualificationClasses, None),
    ("nationality", "国籍", "nationality", FieldFormat::Text, Some(30)),
    ("ethnicity", "民族", "ethnicity", FieldFormat::Text, Some(20)),
    ("address", "住址", "address", FieldFormat::Text, Some(200)),
    ("driving_licence_number", "驾驶证号", "driving licence number", FieldFormat::Text, Some(32)),
    ("file_number", "档案号", "file number", FieldFormat::Text, Some(32)),
    ("owner", "业户名称", "owner", FieldFormat::Text, Some(100)),
    ("plate", "车牌号码", "plate number", FieldFormat::Plate, None),
    ("plate_colour", "车牌颜色", "plate colour", FieldFormat::PlateColour, None),
    ("vehicle_type", "车辆类型", "vehicle type", FieldFormat::Text, Some(30)),
    ("seats", "核定座位", "seats", FieldFormat::Seats, None),
    ("tonnage", "吨位", "tonnage", FieldFormat::Tonnage, None),
    ("business_scope", "经营范围", "business scope", FieldFormat::ScopeCodes, None),
    ("inspection_valid_until", "审验有效期至", "inspection valid until", FieldFormat::Date, None),
    ("owner_address", "业户地址", "owner address", FieldFormat::Text, Some(200)),
    ("operating_permit_number", "经营许可证号", "operating permit number", FieldFormat::PermitNumber, None),
    ("vin", "车辆识别代号", "vin", FieldFormat::Vin, None),
    ("make_model", "品牌型号", "make and model", FieldFormat::Text, Some(100)),
    ("operating_area", "经营区域", "operating area", FieldFormat::Text, Some(200)),
    ("economic_type", "经济类型", "economic type", FieldFormat::Text, Some(50)),
    ("holder_name", "业户名称", "holder name", FieldFormat::Text, Some(100)),
    ("uscc", "统一社会信用代码", "unified social credit code", FieldFormat::Uscc, None),
];

/// The Chinese and English label of a field key (the generic one, not a
/// per-type variant), or `None` for an unknown key.
pub fn field_label(key: &str) -> Option<(&'static str, &'static str)> {
    FIELDS.iter().find(|f| f.0 == key).map(|f| (f.1, f.2))
}

/// Per-type label overrides: (type, key, Chinese, English).
fn type_label(cert_type: CertType, key: &str) -> Option<(&'static str, &'static str)> {
    match (cert_type, key) {
        (CertType::WYY, "owner") => Some(("车辆所有人", "vehicle owner")),
        (CertType::JYXK | CertType::WXHW | CertType::FSX | CertType::WYJY, "address") => {
            Some(("地址", "address"))
        }
        (CertType::WYY, "seats") => Some(("核定载客人数", "approved seats")),
        _ => None,
    }
}

/// Whether a field is carried in the QR, as documented on the structs of
/// [`super::cert`]: everything except the issuer's name and credit code
/// (published in the trust list), the dates the QR does not carry, and the
/// fields marked "not in the QR".
fn on_qr(family: Family, key: &str) -> bool {
    let not_in_qr: &[&str] = match family {
        Family::Person => &[
            "nationality",
            "ethnicity",
            "address",
            "driving_licence_number",
            "file_number",
        ],
        Family::Vehicle => &[
            "owner_address",
            "operating_permit_number",
            "vin",
            "make_model",
            "operating_area",
            "economic_type",
            "vehicle_type",
        ],
        Family::Permit => &["address", "economic_type", "operating_area"],
    };
    !["issuer_name", "issuer_uscc", "first_issue", "issue_date"].contains(&key)
        && !not_in_qr.contains(&key)
}

fn spec(cert_type: CertType, key: &str, mandatory: bool) -> FieldSpec {
    let row = FIELDS.iter().find(|f| f.0 == key);
    // A key missing from FIELDS (a test forbids that) falls back to itself.
    let (zh, en) = type_label(cert_type, key)
        .or_else(|| row.map(|r| (r.1, r.2)))
        .unwrap_or((key, key));
    FieldSpec {
        key: key.to_owned(),
        label_zh: zh.to_owned(),
        label_en: en.to_owned(),
        mandatory,
        on_qr: on_qr(cert_type.family(), key),
        format: row.map_or(FieldFormat::Text, |r| r.3),
        max_chars: row.and_then(|r| r.4),
    }
}

/// Mandatory (`true`) and optional face fields of each type, without the
/// common head and tail.
fn type_fields(cert_type: CertType) -> &'static [(&'static str, bool)] {
    match cert_type {
        CertType::QC => &[
            ("name", true),
            ("sex", true),
            ("id_number", true),
            ("nationality", false),
            ("address", false),
            ("vehicle_classes", false),
            ("qualification_classes", true),
            ("file_number", false),
        ],
        CertType::WYJ | CertType::XYJ => &[
            ("name", true),
            ("sex", true),
            ("ethnicity", false),
            ("id_number", true),
            ("driving_licence_number", false),
            ("vehicle_classes", true),
        ],
        CertType::YSZ => &[
            ("owner", true),
            ("owner_address", false),
            ("plate", true),
            ("plate_colour", true),
            ("operating_permit_number", false),
            ("economic_type", false),
            ("vehicle_type", true),
            ("make_model", false),
            ("vin", false),
            ("tonnage", false),
            ("seats", false),
            ("business_scope", true),
            ("inspection_valid_until", false),
        ],
        CertType::WYY => &[
            ("owner", true),
            ("plate", true),
            ("plate_colour", true),
            ("vehicle_type", true),
            ("seats", true),
            ("make_model", true),
            ("vin", true),
            ("business_scope", false),
            ("operating_area", true),
        ],
        CertType::JYXK | CertType::WXHW | CertType::FSX => &[
            ("holder_name", true),
            ("uscc", true),
            ("address", true),
            ("economic_type", false),
            ("business_scope", true),
        ],
        CertType::WYJY => &[
            ("holder_name", true),
            ("uscc", true),
            ("address", false),
            ("economic_type", false),
            ("business_scope", false),
            ("operating_area", true),
        ],
    }
}

/// Collection start dates: placeholders (persons 2020-01-01, vehicles
/// 2020-07-01, permits 2021-01-01) until the provincial schedule is known.
fn collection_start(cert_type: CertType) -> Date {
    match cert_type.family() {
        Family::Person => date!(2020 - 01 - 01),
        Family::Vehicle => date!(2020 - 07 - 01),
        Family::Permit => date!(2021 - 01 - 01),
    }
}

/// Printed-number templates. Person certificates print the number as is
/// (for QC it is the holder's ID number); vehicle certificates and the
/// three operating permits follow the 辽交运管…字…号 pattern (吉交运管…
/// for Jilin: the province's abbreviation from its shipped data); the
/// ride-hailing permit's number is printed as is.
fn template(cert_type: CertType) -> &'static str {
    match cert_type {
        CertType::QC | CertType::WYJ | CertType::XYJ | CertType::WYJY => "{number}",
        CertType::YSZ | CertType::WYY => "{province}交运管{city}字{number}号",
        CertType::JYXK | CertType::WXHW | CertType::FSX => "{province}交运管许可{city}字{number}号",
    }
}

/// The catalogue entry of one type, made once per process (validation
/// reads it for every record).
pub fn entry_ref(cert_type: CertType) -> &'static CatalogueEntry {
    static ENTRIES: std::sync::LazyLock<Vec<CatalogueEntry>> =
        std::sync::LazyLock::new(|| CertType::ALL.into_iter().map(make_entry).collect());
    ENTRIES
        .iter()
        .find(|e| e.cert_type == cert_type)
        .unwrap_or_else(|| unreachable!("every type has an entry"))
}

/// The catalogue entry of one type (a copy of [`entry_ref`]'s).
pub fn entry(cert_type: CertType) -> CatalogueEntry {
    entry_ref(cert_type).clone()
}

fn make_entry(cert_type: CertType) -> CatalogueEntry {
    let mut fields = vec![spec(cert_type, "number", true)];
    fields.extend(
        type_fields(cert_type)
            .iter()
            .map(|&(key, mandatory)| spec(cert_type, key, mandatory)),
    );
    let person = cert_type.family() == Family::Person;
    for (key, mandatory) in [
        ("first_issue", person),
        ("issue_date", true),
        ("valid_from", true),
        ("valid_until", true),
        ("issuer_division", true),
        ("issuer_uscc", true),
        ("issuer_name", false),
    ] {
        fields.push(spec(cert_type, key, mandatory));
    }
    CatalogueEntry {
        cert_type,
        code: cert_type.code().to_owned(),
        name_zh: cert_type.name_zh().to_owned(),
        name_en: cert_type.name_en().to_owned(),
        standard: cert_type.standard().to_owned(),
        family: cert_type.family(),
        collection_start: collection_start(cert_type),
        template: template(cert_type).to_owned(),
        face_fields: fields,
    }
}

/// The catalogue: all nine types in wire-code order.
pub fn catalogue() -> Vec<CatalogueEntry> {
    CertType::ALL.into_iter().map(entry).collect()
}

/// The printed certificate number, e.g. `辽交运管许可沈字210106000123号`
/// for a JYXK permit numbered `210106000123` issued in 沈阳. The city part
/// is that of the issuer's city (辽 for the province).
pub fn render_number(cert_type: CertType, number: &str, issuer: DivisionCode) -> String {
    // Substitute {city} first, so a number can never inject a placeholder.
    let (before, after) = template(cert_type)
        .split_once("{number}")
        .unwrap_or(("", ""));
    let city = issuer.number_abbrev_zh();
    // The province's abbreviation (辽, 吉) from its shipped data.
    let province = issuer.jurisdiction().map_or("", |j| j.short);
    let fill = |part: &str| part.replace("{province}", province).replace("{city}", city);
    format!("{}{number}{}", fill(before), fill(after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::LIAONING_CITIES;

    #[test]
    fn nine_types_with_fields() {
        let cat = catalogue();
        assert_eq!(cat.len(), 9);
        for (e, t) in cat.iter().zip(CertType::ALL) {
            assert_eq!(e.cert_type, t);
            assert_eq!(e.code, t.code());
            assert_eq!(e.family, t.family());
            assert!(e.collection_start >= date!(2020 - 01 - 01));
            assert!(e.template.contains("{number}"));
            for f in &e.face_fields {
                assert!(field_label(&f.key).is_some(), "{} {}", t, f.key);
                assert_ne!(f.label_zh, f.key);
            }
            let mut keys: Vec<&str> = e.face_fields.iter().map(|f| f.key.as_str()).collect();
            keys.sort_unstable();
            let n = keys.len();
            keys.dedup();
            assert_eq!(keys.len(), n, "duplicate keys in {t}");
            for key in [
                "number",
                "issue_date",
                "valid_from",
                "valid_until",
                "issuer_division",
            ] {
                assert!(e.field(key).is_some_and(|f| f.mandatory), "{t} {key}");
            }
        }
    }

    #[test]
    fn requirement_fields_are_there() {
        // requirements.md §3.2: person, vehicle and permit minimum fields.
        let wanted: &[(Family, &[&str])] = &[
            (
                Family::Person,
                &["name", "sex", "id_number", "first_issue", "valid_until"],
            ),
            (
                Family::Vehicle,
                &[
                    "plate",
                    "plate_colour",
                    "vehicle_type",
                    "seats",
                    "business_scope",
                    "owner",
                ],
            ),
            (
                Family::Permit,
                &[
                    "holder_name",
                    "uscc",
                    "address",
                    "business_scope",
                    "number",
                    "valid_until",
                ],
            ),
        ];
        for e in catalogue() {
            for (family, keys) in wanted {
                if e.family != *family {
                    continue;
                }
                for key in *keys {
                    // WYJY's address is optional but present.
                    assert!(e.field(key).is_some(), "{} lacks {key}", e.code);
                }
            }
        }
        assert!(entry(CertType::QC)
            .field("qualification_classes")
            .is_some_and(|f| f.mandatory && f.on_qr));
    }

    /// The QR flags agree with the "(in the QR)" / "(not in the QR)" notes
    /// in cert.rs.
    #[test]
    fn on_qr_matches_cert_docs() {
        let source = include_str!("cert.rs");
        let section = |name: &str| -> &str {
            let start = source.find(&format!("pub struct {name} {{")).unwrap_or(0);
            let rest = &source[start..];
            &rest[..rest.find("\n}").unwrap_or(rest.len())]
        };
        let mut checked = 0;
        for e in catalogue() {
            let structure = match e.family {
                Family::Person => "PersonFace",
                Family::Vehicle => "VehicleFace",
                Family::Permit => "PermitFace",
            };
            let body = section(structure);
            for f in &e.face_fields {
                let Some(at) = body.find(&format!("pub {}:", f.key)) else {
                    continue;
                };
                // The doc comment just before the field.
                let doc = body[..at]
                    .rsplit_once(",\n")
                    .map_or(&body[..at], |(_, d)| d);
                let not_in = doc.contains("(not in the QR");
                let is_in = doc.contains("(in the QR");
                assert!(not_in ^ is_in, "{} {}: no QR note", e.code, f.key);
                assert_eq!(f.on_qr, is_in, "{} {}", e.code, f.key);
                checked += 1;
            }
        }
        assert!(checked > 40, "only {checked} fields checked");
        // Issuer name: "Not carried in the QR".
        assert!(section("Issuer").contains("Not carried in the QR"));
        for e in catalogue() {
            assert!(e.field("issuer_name").is_some_and(|f| !f.on_qr));
        }
    }

    #[test]
    fn numbers_render() {
        let shenyang = LIAONING_CITIES[0];
        let table: &[(CertType, &str, u32, &str)] = &[
            (
                CertType::JYXK,
                "210106000123",
                210100,
                "辽交运管许可沈字210106000123号",
            ),
            (
                CertType::WXHW,
                "210211000045",
                210211,
                "辽交运管许可大字210211000045号",
            ),
            (
                CertType::YSZ,
                "210100165715",
                210100,
                "辽交运管沈字210100165715号",
            ),
            (
                CertType::WYY,
                "210200230156",
                211000,
                "辽交运管辽阳字210200230156号",
            ),
            (
                CertType::FSX,
                "210000000001",
                210000,
                "辽交运管许可辽字210000000001号",
            ),
            (
                CertType::QC,
                "210102198503122434",
                210100,
                "210102198503122434",
            ),
            (CertType::WYJY, "{city}", 210100, "{city}"),
        ];
        for &(t, number, issuer, want) in table {
            let issuer = DivisionCode::from_u32(issuer).unwrap_or(shenyang);
            assert_eq!(render_number(t, number, issuer), want);
        }
    }

    #[test]
    fn qualification_classes() {
        assert_eq!(qualification_class_name(3), Some("道路危险货物运输驾驶员"));
        assert_eq!(qualification_class_name(0), None);
        let mut codes: Vec<u8> = QUALIFICATION_CLASSES.iter().map(|c| c.0).collect();
        codes.dedup();
        assert_eq!(codes.len(), QUALIFICATION_CLASSES.len());
    }

    #[test]
    fn catalogue_serialises() {
        let json = serde_json::to_string(&catalogue()).unwrap_or_default();
        assert!(json.contains("\"collection_start\""));
        assert!(json.contains("\"on_qr\":true"));
        let back: Vec<CatalogueEntry> = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, catalogue());
    }
}
