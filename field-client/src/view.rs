//! The result screen's face fields as JSON: what an officer reads to match
//! the person or vehicle, with codes shown by name and labels from the
//! catalogue (`shared::domain::catalogue`). Built from the verified claims
//! only; the page renders every value as text.

use serde::Serialize;
use shared::domain::catalogue::{self, qualification_class_name};
use shared::domain::{CertType, Face, ScopeCode};
use shared::wire::Claims;
use time::Date;

/// One labelled line of the result screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// Stable key (`name`, `plate`, ...).
    pub key: &'static str,
    /// Chinese label as printed on the certificate.
    pub label_zh: String,
    /// English label.
    pub label_en: String,
    /// The value as a person reads it.
    pub value: String,
    /// Set when the officer must look twice (lapsed inspection, expired).
    pub warn: Option<&'static str>,
}

/// The face of a certificate for the result screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaceView {
    /// Short type code, e.g. `YSZ`.
    pub type_code: &'static str,
    /// Official type name.
    pub type_name_zh: &'static str,
    /// English type name.
    pub type_name_en: &'static str,
    /// The number as printed (the catalogue's template).
    pub printed_number: String,
    /// The compact number.
    pub number: String,
    /// The issuing authority's name.
    pub issuer_name: String,
    /// Validity as text: `2024-01-01 至 2030-01-01` or `长期`.
    pub validity: String,
    /// Whether today (China Standard Time) is outside the validity dates.
    pub expired: bool,
    /// The lines to show, in printed order.
    pub fields: Vec<Field>,
}

fn label(cert_type: CertType, key: &str) -> (String, String) {
    catalogue::entry(cert_type).field(key).map_or_else(
        || {
            catalogue::field_label(key).map_or_else(
                || (key.to_string(), key.to_string()),
                |(zh, en)| (zh.to_string(), en.to_string()),
            )
        },
        |f| (f.label_zh.clone(), f.label_en.clone()),
    )
}

fn scope_names(codes: &[ScopeCode]) -> String {
    codes
        .iter()
        .map(|c| {
            let name = c.label_zh();
            if name.is_empty() {
                format!("{:03}", c.code())
            } else {
                format!("{name}（{:03}）", c.code())
            }
        })
        .collect::<Vec<_>>()
        .join("、")
}

/// Builds the face view of `claims`; `issuer_name` is the trust list's name
/// of the authority when known; `today` is the date in China Standard Time.
pub fn face(claims: &Claims, issuer_name: Option<&str>, today: Date) -> FaceView {
    let t = claims.cert_type;
    let mut fields = Vec::new();
    let mut push = |key: &'static str, value: String, warn: Option<&'static str>| {
        let (label_zh, label_en) = label(t, key);
        fields.push(Field {
            key,
            label_zh,
            label_en,
            value,
            warn,
        });
    };
    match &claims.face {
        Face::Person(p) => {
            push("name", p.name.clone(), None);
            push("sex", p.sex.label_zh().to_string(), None);
            push("id_number", p.id_number.as_str().to_string(), None);
            if let Some(v) = &p.vehicle_classes {
                push("vehicle_classes", v.clone(), None);
            }
            if !p.qualification_classes.is_empty() {
                let names = p
                    .qualification_classes
                    .iter()
                    .map(|c| {
                        qualification_class_name(*c)
                            .map_or_else(|| format!("代码 {c}"), str::to_string)
                    })
                    .collect::<Vec<_>>()
                    .join("、");
                push("qualification_classes", names, None);
            }
        }
        Face::Vehicle(v) => {
            push("owner", v.owner.clone(), None);
            push("plate", v.plate.as_str().to_string(), None);
            push("plate_colour", v.plate_colour.label_zh().to_string(), None);
            if let Some(n) = v.seats {
                push("seats", n.to_string(), None);
            }
            if let Some(tn) = &v.tonnage {
                push("tonnage", format!("{tn} 吨"), None);
            }
            if !v.business_scope.is_empty() {
                push("business_scope", scope_names(&v.business_scope), None);
            }
            if let Some(d) = v.inspection_valid_until {
                let lapsed = d < today;
                push(
                    "inspection_valid_until",
                    if lapsed {
                        format!("{d}（已过期 lapsed）")
                    } else {
                        d.to_string()
                    },
                    lapsed.then_some("inspection_lapsed"),
                );
            }
        }
        Face::Permit(p) => {
            push("holder_name", p.holder_name.clone(), None);
            push("uscc", p.uscc.as_str().to_string(), None);
            if !p.business_scope.is_empty() {
                push("business_scope", scope_names(&p.business_scope), None);
            }
        }
    }
    let expired = claims.valid_from > today || claims.valid_until.is_some_and(|u| u < today);
    FaceView {
        type_code: t.code(),
        type_name_zh: t.name_zh(),
        type_name_en: t.name_en(),
        printed_number: catalogue::render_number(t, &claims.number, claims.issuer_division),
        number: claims.number.clone(),
        issuer_name: issuer_name.map_or_else(
            || claims.issuer_division.authority_name_zh(),
            str::to_string,
        ),
        validity: match claims.valid_until {
            Some(u) => format!("{} 至 {u}", claims.valid_from),
            None => format!("{} 起 长期", claims.valid_from),
        },
        expired,
        fields,
    }
}

/// Today's date in China Standard Time (UTC+8) at Unix time `now`.
pub fn cst_date(now: i64) -> Date {
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::from_unix_timestamp(now)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset)
        .date()
}

/// `HH:MM:SS` in China Standard Time at Unix time `at`.
pub fn cst_time(at: i64) -> String {
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let t = time::OffsetDateTime::from_unix_timestamp(at)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn cst_is_eight_hours_ahead() {
        // 2026-01-01 16:30:00 UTC is 2026-01-02 00:30:00 in Beijing.
        let at = 1_767_285_000;
        assert_eq!(cst_date(at), date!(2026 - 01 - 02));
        assert_eq!(cst_time(at), "00:30:00");
    }
}
