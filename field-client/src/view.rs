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
