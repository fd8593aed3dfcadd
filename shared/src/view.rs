//! The face view: verified claims turned into the named fields an officer
//! reads (codes by name, the number as printed, the issuing authority's
//! name, validity, the vehicle inspection and whether it has lapsed).
//!
//! [`FaceView::build`] is the one place this is done: the field client's
//! card and `--json`, its scanner page and the server's lookup answer all
//! use it. Pure: the time (`now`) and the trust list come in as arguments.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::domain::catalogue::qualification_class_name;
use crate::domain::{render_number, CertType, DivisionCode, Face};
use crate::trust::TrustList;
use crate::wire::Claims;

/// A code with its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    /// The code as carried in the certificate.
    pub code: String,
    /// Its name (Chinese).
    pub name: String,
}

/// One labelled line of the face, in display order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Stable key, e.g. `plate`.
    pub key: String,
    /// Chinese label.
    pub label_zh: String,
    /// English label.
    pub label_en: String,
    /// The value as shown.
    pub value: String,
}

/// The vehicle inspection (审验).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    /// 审验有效期至, the last day (China Standard Time).
    pub due: Date,
    /// The due date has passed.
    pub lapsed: bool,
}

/// What an officer needs to match the person or vehicle, all named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaceView {
    /// The type: code (`YSZ`) and name.
    pub cert_type: Named,
    /// The type's English name.
    pub type_name_en: String,
    /// The number as carried in the certificate.
    pub number: String,
    /// The number as printed (the catalogue's template), e.g.
    /// `辽交运管沈字210102000123号`.
    pub number_printed: String,
    /// Version (annual review, change and reissue raise it).
    pub version: u16,
    /// The issuing authority's division code.
    pub issuer_division: DivisionCode,
    /// The issuing authority's name: from the trust list's authority table
    /// (county bureaus included); a county missing from the table is named
    /// as a county bureau of its city, never as the city's bureau.
    pub issuer_name: String,
    /// Whether `issuer_name` comes from the trust list.
    pub issuer_from_trust_list: bool,
    /// The issuing province (互认互通): its province-level code and GB/T
    /// 2260 name, e.g. `220000` 吉林省. Absent in answers of servers that
    /// predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuing_province: Option<Named>,
    /// First day of validity.
    pub valid_from: Date,
    /// Last day of validity; `None` is long-term (长期).
    pub valid_until: Option<Date>,
    /// For vehicles: the inspection due date.
    pub inspection: Option<Inspection>,
    /// Named face lines in display order (name, plate, classes, scope...).
    pub lines: Vec<Line>,
    /// Warnings about the face itself (e.g. the inspection has lapsed).
    pub warnings: Vec<FaceWarning>,
    /// A delegated copy (授权使用, claim 11): the driver who presents it
    /// and the owner who lent it. Absent for the holder's own certificate
    /// and in answers of servers that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegated: Option<DelegatedUse>,
}

/// Who presents a delegated vehicle certificate, and on whose authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegatedUse {
    /// The driver's name (claim 11).
    pub driver_name: String,
    /// The last four characters of the driver's ID number, masked: `**************1234`.
    pub driver_id_masked: String,
    /// The owner who delegated it (the face's owner).
    pub owner: String,
    /// The last day of the delegation (the copy's validity).
    pub until: Option<Date>,
}

impl DelegatedUse {
    /// The card's sentence, in Chinese: `由驾驶员 张三（**************1234）出示（所有人 某公司 授权，至 2026-12-31）`.
    pub fn message_zh(&self) -> String {
        let until = self.until.map_or_else(String::new, |d| format!("，至 {d}"));
        format!(
            "由驾驶员 {}（{}）出示（所有人 {} 授权{until}）",
            self.driver_name, self.driver_id_masked, self.owner
        )
    }

    /// The same in English.
    pub fn message_en(&self) -> String {
        let until = self
            .until
            .map_or_else(String::new, |d| format!(" until {d}"));
        format!(
            "presented by driver {} ({}), delegated by the owner {}{until}",
            self.driver_name, self.driver_id_masked, self.owner
        )
    }
}

/// Something on the face the officer must notice even when the
/// certificate verifies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaceWarning {
    /// The vehicle inspection (审验) is overdue.
    InspectionLapsed {
        /// Its due date.
        due: Date,
    },
}

impl FaceWarning {
    /// A sentence for the officer, in Chinese.
    pub fn message_zh(&self) -> String {
        match self {
            FaceWarning::InspectionLapsed { due } => {
                format!("车辆审验已逾期（审验有效期至 {due}），请核查")
            }
        }
    }

    /// A sentence for the officer, in English.
    pub fn message_en(&self) -> String {
        match self {
            FaceWarning::InspectionLapsed { due } => {
                format!("vehicle inspection lapsed (due {due}): check it")
            }
        }
    }
}

/// The name of the authority for `division`: the trust list's entry, else
/// the standard name of the province's, a city's or a county's own bureau
/// (a county bureau is named as itself, from the shipped GB/T 2260 table).
/// The flag says whether it came from the trust list.
pub fn authority_name(division: DivisionCode, trust: Option<&TrustList>) -> (String, bool) {
    if let Some(a) = trust.and_then(|t| t.authority(division)) {
        return (a.name.clone(), true);
    }
    (division.authority_name_zh(), false)
}

fn line(key: &str, zh: &str, en: &str, value: impl Into<String>) -> Line {
    Line {
        key: key.into(),
        label_zh: zh.into(),
        label_en: en.into(),
        value: value.into(),
    }
}

fn scope_names(codes: &[crate::domain::ScopeCode]) -> String {
    codes
        .iter()
        .map(|c| format!("{}（{c}）", c.label_zh()))
        .collect::<Vec<_>>()
        .join("、")
}

/// Masks an ID number for display where the full number is not needed:
/// the first six and the last four characters stay.
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 10 {
        return "*".repeat(chars.len());
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < 6 || i + 4 >= chars.len() {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

impl FaceView {
    /// Builds the view of `claims` at `now` (Unix seconds), naming the
    /// authority from `trust`.
    pub fn build(claims: &Claims, trust: Option<&TrustList>, now: i64) -> FaceView {
        let today = crate::cst::date(now);
        let t: CertType = claims.cert_type;
        let (issuer_name, issuer_from_trust_list) = authority_name(claims.issuer_division, trust);
        let mut lines = Vec::new();
        let mut inspection = None;
        let mut warnings = Vec::new();
        let delegated = match (&claims.delegate, &claims.face) {
            (Some(d), Face::Vehicle(v)) => Some(DelegatedUse {
                driver_name: d.name.clone(),
                driver_id_masked: d.id_masked(),
                owner: v.owner.clone(),
                until: claims.valid_until,
            }),
            _ => None,
        };
        if let Some(d) = &delegated {
            lines.push(line(
                "presented_by",
                "出示人",
                "Presented by",
                d.message_zh(),
            ));
        }
        match &claims.face {
            Face::Person(p) => {
                lines.push(line("name", "姓名", "Name", p.name.clone()));
                lines.push(line("sex", "性别", "Sex", p.sex.label_zh()));
                lines.push(line(
                    "id_number",
                    "身份证号",
                    "ID number",
                    p.id_number.as_str(),
                ));
                if let Some(v) = &p.vehicle_classes {
                    lines.push(line(
                        "vehicle_classes",
                        "准驾车型",
                        "Vehicle classes",
                        v.clone(),
                    ));
                }
                if !p.qualification_classes.is_empty() {
                    let names = p
                        .qualification_classes
                        .iter()
                        .map(|c| {
                            qualification_class_name(*c)
                                .map_or_else(|| format!("未知类别 {c}"), |n| format!("{n}（{c}）"))
                        })
                        .collect::<Vec<_>>()
                        .join("、");
                    lines.push(line(
                        "qualification_classes",
                        "从业资格类别",
                        "Qualification",
                        names,
                    ));
                }
            }
            Face::Vehicle(v) => {
                lines.push(line(
                    "plate",
                    "车牌",
                    "Plate",
                    format!("{}（{}）", v.plate.as_str(), v.plate_colour.label_zh()),
                ));
                lines.push(line("owner", "业户", "Owner", v.owner.clone()));
                if let Some(n) = v.seats {
                    lines.push(line("seats", "核定座位", "Seats", n.to_string()));
                }
                if let Some(tn) = &v.tonnage {
                    lines.push(line("tonnage", "吨位", "Tonnage", format!("{tn} 吨")));
                }
                if !v.business_scope.is_empty() {
                    lines.push(line(
                        "business_scope",
                        "经营范围",
                        "Business scope",
                        scope_names(&v.business_scope),
                    ));
                }
                if let Some(due) = v.inspection_valid_until {
                    let lapsed = today > due;
                    lines.push(line(
                        "inspection_valid_until",
                        "审验有效期至",
                        "Inspection due",
                        if lapsed {
                            format!("{due}（已逾期 lapsed）")
                        } else {
                            due.to_string()
                        },
                    ));
                    if lapsed {
                        warnings.push(FaceWarning::InspectionLapsed { due });
                    }
                    inspection = Some(Inspection { due, lapsed });
                }
            }
            Face::Permit(p) => {
                lines.push(line("holder_name", "业户", "Holder", p.holder_name.clone()));
                lines.push(line(
                    "uscc",
                    "统一社会信用代码",
                    "Credit code",
                    p.uscc.as_str(),
                ));
                if !p.business_scope.is_empty() {
                    lines.push(line(
                        "business_scope",
                        "经营范围",
                        "Business scope",
                        scope_names(&p.business_scope),
                    ));
                }
            }
        }
        let province = claims.issuer_division.province_code();
        let issuing_province = Some(Named {
            code: province.to_string(),
            name: crate::domain::province_name_zh(province)
                .unwrap_or("外省")
                .to_string(),
        });
        FaceView {
            issuing_province,
            cert_type: Named {
                code: t.code().into(),
                name: t.name_zh().into(),
            },
            type_name_en: t.name_en().into(),
            number: claims.number.clone(),
            // The printed templates (辽交运管…字…号) of a province whose
            // data ships; another province's number is shown as carried.
            number_printed: if claims.issuer_division.jurisdiction().is_some() {
                render_number(t, &claims.number, claims.issuer_division)
            } else {
                claims.number.clone()
            },
            version: claims.version,
            issuer_division: claims.issuer_division,
            issuer_name,
            issuer_from_trust_list,
            valid_from: claims.valid_from,
            valid_until: claims.valid_until,
            inspection,
            lines,
            warnings,
            delegated,
        }
    }

    /// The plate colour as a named code, for vehicles.
    pub fn plate_colour(claims: &Claims) -> Option<Named> {
        match &claims.face {
            Face::Vehicle(v) => Some(Named {
                code: v.plate_colour.code().to_string(),
                name: v.plate_colour.label_zh().into(),
            }),
            _ => None,
        }
    }

    /// The same view with the lines reduced to what matches a person or
    /// vehicle (for an online lookup): the ID number masked, the credit code
    /// and seats/tonnage dropped.
    pub fn minimal(mut self) -> FaceView {
        self.lines.retain(|l| {
            matches!(
                l.key.as_str(),
                "name"
                    | "sex"
                    | "id_number"
                    | "plate"
                    | "owner"
                    | "holder_name"
                    | "qualification_classes"
                    | "vehicle_classes"
                    | "business_scope"
                    | "inspection_valid_until"
            )
        });
        for l in &mut self.lines {
            if l.key == "id_number" {
                l.value = mask_id(&l.value);
            }
        }
        self
    }

    /// The validity as shown: `2024-01-01 — 2030-01-01` or `… — 长期`.
    pub fn validity_text(&self) -> String {
        let until = self
            .valid_until
            .map_or_else(|| "长期 long-term".to_string(), |d| d.to_string());
        format!("{} — {until}", self.valid_from)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::validate::{sample_record, validate};

    fn claims(t: CertType) -> Claims {
        let d = validate(&sample_record(t), time::macros::date!(2026 - 06 - 01)).unwrap();
        Claims::from_certificate(&d, 7, 1_780_000_000, None)
    }

    #[test]
    fn cst_dates_turn_at_midnight_beijing() {
        // 2026-06-01T00:00:00+08:00 = 1780243200.
        assert_eq!(crate::cst::date(1_780_243_200).to_string(), "2026-06-01");
        assert_eq!(crate::cst::date(1_780_243_199).to_string(), "2026-05-31");
    }

    #[test]
    fn every_type_names_its_codes_and_prints_its_number() {
        for t in CertType::ALL {
            let c = claims(t);
            let v = FaceView::build(&c, None, 1_780_243_200);
            assert_eq!(v.cert_type.name, t.name_zh());
            assert!(v.number_printed.contains(&c.number), "{t}");
            assert!(!v.lines.is_empty(), "{t}");
            for l in &v.lines {
                // Codes are shown with their names.
                if l.key == "business_scope" || l.key == "qualification_classes" {
                    assert!(l.value.contains('（'), "{t}: {}", l.value);
                }
            }
        }
    }

    #[test]
    fn another_provinces_certificate_names_its_province_not_liaonings() {
        let mut c = claims(CertType::YSZ);
        c.issuer_division = DivisionCode::from_u32_national(220102).unwrap();
        let v = FaceView::build(&c, None, 1_780_243_200);
        let p = v.issuing_province.unwrap();
        assert_eq!((p.code.as_str(), p.name.as_str()), ("220000", "吉林省"));
        // Jilin's own template and bureau (its table ships with the system).
        assert!(
            v.number_printed.starts_with("吉交运管长字"),
            "{}",
            v.number_printed
        );
        assert!(!v.number_printed.contains('辽'));
        assert_eq!(v.issuer_name, "长春市南关区交通运输局");
        // A province whose table does not ship: the number as carried, the
        // province named.
        c.issuer_division = DivisionCode::from_u32_national(230102).unwrap();
        let v = FaceView::build(&c, None, 1_780_243_200);
        assert_eq!(v.number_printed, c.number);
        assert!(v.issuer_name.contains("黑龙江省"), "{}", v.issuer_name);
        let own = FaceView::build(&claims(CertType::YSZ), None, 1_780_243_200);
        assert_eq!(own.issuing_province.unwrap().name, "辽宁省");
    }

    #[test]
    fn inspection_lapses_the_day_after_it_is_due() {
        let mut c = claims(CertType::YSZ);
        let Face::Vehicle(v) = &mut c.face else {
            panic!()
        };
        v.inspection_valid_until = Some(time::macros::date!(2026 - 05 - 31));
        let on_due_day = FaceView::build(&c, None, 1_780_243_199);
        assert!(on_due_day.warnings.is_empty());
        let after = FaceView::build(&c, None, 1_780_243_200);
        assert_eq!(after.inspection.as_ref().map(|i| i.lapsed), Some(true));
        assert!(after.warnings[0].message_zh().contains("审验已逾期"));
    }

    #[test]
    fn county_bureau_is_not_named_as_the_city() {
        let county = DivisionCode::from_u32(210_112).unwrap();
        let (name, from_list) = authority_name(county, None);
        assert!(!from_list);
        assert_eq!(name, "沈阳市浑南区交通运输局");
        assert_ne!(name, county.city().authority_name_zh());
        let county = DivisionCode::from_u32(210_123).unwrap();
        assert_eq!(authority_name(county, None).0, "康平县交通运输局");
    }

    #[test]
    fn masked_id_keeps_only_the_ends() {
        assert_eq!(mask_id("210102199001011234"), "210102********1234");
    }
}
