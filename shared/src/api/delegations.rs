//! Wire types of delegations (issue 13 item 6): a vehicle certificate's
//! owner lends its 道路运输证 (YSZ) or 网约车运输证 (WYY) to a driver's phone
//! for a period, lists and revokes the delegations; the driver receives a
//! delegated copy through the ordinary holder sync.

use serde::{Deserialize, Serialize};

/// A delegation to make: `POST /api/v1/holder/delegations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DelegationRequest {
    /// The certificate's type: `YSZ` or `WYY`.
    pub cert_type: String,
    /// Its compact number.
    pub number: String,
    /// The driver's ID number (GB 11643).
    pub driver_id_number: String,
    /// The driver's name, 1–20 characters.
    pub driver_name: String,
    /// First day, `YYYY-MM-DD` (China Standard Time); today when absent.
    #[serde(default)]
    pub valid_from: Option<String>,
    /// Last day (inclusive), `YYYY-MM-DD`: within the certificate's
    /// validity.
    pub valid_until: String,
}

/// A delegation as shown to its owner or its driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct DelegationView {
    /// Its id.
    pub id: i64,
    /// The certificate's type code.
    pub cert_type: String,
    /// The type's Chinese name.
    pub type_name_zh: String,
    /// The certificate's compact number.
    pub number: String,
    /// The vehicle's plate, when the certificate is readable.
    #[serde(default)]
    pub plate: Option<String>,
    /// The owner's name (the face's 业户).
    pub owner_name: String,
    /// The driver's name.
    pub driver_name: String,
    /// The driver's ID number, masked (`210102********1234`).
    pub driver_id_masked: String,
    /// First day, `YYYY-MM-DD`.
    pub valid_from: String,
    /// Last day (inclusive), `YYYY-MM-DD`.
    pub valid_until: String,
    /// When it was made, Unix seconds.
    pub created_at: i64,
    /// When the owner revoked it, Unix seconds.
    #[serde(default)]
    pub revoked_at: Option<i64>,
    /// `active` (a copy is on the driver's phone), `pending` (the driver
    /// has registered no phone yet, or the certificate is not in force),
    /// `revoked` or `ended`.
    pub state: String,
}

/// The caller's delegations: those made as owner and those received as
/// driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct DelegationList {
    /// Delegations the caller made, oldest first.
    pub given: Vec<DelegationView>,
    /// Delegations made to the caller, oldest first.
    pub received: Vec<DelegationView>,
}
