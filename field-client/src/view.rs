//! The face view an officer reads: claims → named fields (certificate type,
//! qualification classes, business scope and plate colour by name, the
//! number as printed, the issuing authority's name, validity, the vehicle
//! inspection and its lapse). The card, `verify --json`, `lookup` and the
//! scanner page all show [`FaceView`], built only by [`face_view`].
//!
//! The building itself is [`shared::view::FaceView::build`] (pure, so the
//! server's lookup answer uses the same code); this module is the field
//! client's entry point to it.

use shared::trust::TrustList;
pub use shared::view::{FaceView, FaceWarning, Inspection, Line, Named};
use shared::wire::Claims;

/// The face view of verified `claims` at `now` (Unix seconds), the
/// authority named from the device's trust list.
pub fn face_view(claims: &Claims, trust: Option<&TrustList>, now: i64) -> FaceView {
    FaceView::build(claims, trust, now)
}

/// One labelled line of the scanner's result screen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScreenField {
    /// Stable key (`name`, `plate`, ...).
    pub key: String,
    /// Chinese label as printed on the certificate.
    pub label_zh: String,
    /// English label.
    pub label_en: String,
    /// The value as a person reads it.
    pub value: String,
    /// Set when the officer must look twice (a lapsed inspection).
    pub warn: Option<&'static str>,
}

/// The scanner page's shape of a [`FaceView`]: the same fields, flattened
/// for the result screen (the page renders every value as text).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScreenView {
    /// Short type code, e.g. `YSZ`.
    pub type_code: String,
    /// Official type name.
    pub type_name_zh: String,
    /// English type name.
    pub type_name_en: String,
    /// The number as printed (the catalogue's template).
    pub printed_number: String,
    /// The compact number.
    pub number: String,
    /// The issuing authority's name.
    pub issuer_name: String,
    /// Validity as text ([`FaceView::validity_text`]).
    pub validity: String,
    /// Whether the day of the check (China Standard Time) is outside the
    /// validity dates.
    pub expired: bool,
    /// The lines to show, in printed order.
    pub fields: Vec<ScreenField>,
}

impl ScreenView {
    /// The result screen of `view`, for a check at `at` (Unix seconds).
    pub fn of(view: &FaceView, at: i64) -> ScreenView {
        let today = shared::cst::date(at);
        let lapsed = view.inspection.as_ref().is_some_and(|i| i.lapsed);
        ScreenView {
            type_code: view.cert_type.code.clone(),
            type_name_zh: view.cert_type.name.clone(),
            type_name_en: view.type_name_en.clone(),
            printed_number: view.number_printed.clone(),
            number: view.number.clone(),
            issuer_name: view.issuer_name.clone(),
            validity: view.validity_text(),
            expired: view.valid_from > today || view.valid_until.is_some_and(|u| u < today),
            fields: view
                .lines
                .iter()
                .map(|l| ScreenField {
                    key: l.key.clone(),
                    label_zh: l.label_zh.clone(),
                    label_en: l.label_en.clone(),
                    value: l.value.clone(),
                    warn: (lapsed && l.key == "inspection_valid_until")
                        .then_some("inspection_lapsed"),
                })
                .collect(),
        }
    }
}

/// `HH:MM:SS` in China Standard Time at Unix time `at`.
pub fn cst_time(at: i64) -> String {
    let text = shared::cst::datetime_text(at);
    text.split_once(' ')
        .map_or(text.clone(), |(_, time)| time.to_string())
}
