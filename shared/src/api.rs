//! JSON wire types of the verifier server's HTTP API: request and response
//! bodies, shared by the server, the field client and the importer so that
//! each is declared once.
//!
//! With the `schema` feature (enabled by the server only) each type also
//! derives `utoipa::ToSchema` for the server's OpenAPI document.

use serde::{Deserialize, Serialize};

use crate::domain::{CertType, Nonconformance};
use crate::status::Status;

/// The body of a push: `POST /api/v1/records`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", schema(as = PushBody))]
pub struct PushRequest {
    /// The records (fields as in the catalogue), at most the server's
    /// `max_records`.
    #[cfg_attr(feature = "schema", schema(value_type = Vec<Object>))]
    pub records: Vec<serde_json::Value>,
}

/// What happened to one pushed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new e-certificate, version 1.
    Issued,
    /// A new version of an existing e-certificate; the previous version is
    /// superseded.
    Updated,
    /// Identical to the current version: nothing written.
    Unchanged,
    /// Not signed: kept on the agency's correction list with the reasons.
    NonConforming,
    /// Not accepted from this caller (e.g. another city's record).
    Refused,
    /// Not a JSON object of record fields.
    Malformed,
}

/// The answer for one pushed record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct RecordResult {
    /// Position in the pushed array, from 0.
    pub index: usize,
    /// Type as pushed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_type: Option<String>,
    /// Number as pushed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The outcome.
    pub result: Outcome,
    /// Field-level reasons (non-conforming, refused, malformed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<Nonconformance>>,
    /// The GB/T 36904 identifier of the current version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// The current e-certificate version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u16>,
}

/// Counts per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Summary {
    /// Issued.
    pub issued: usize,
    /// Updated.
    pub updated: usize,
    /// Unchanged.
    pub unchanged: usize,
    /// Non-conforming.
    pub non_conforming: usize,
    /// Refused.
    pub refused: usize,
    /// Malformed.
    pub malformed: usize,
}

impl Summary {
    /// Counts one more record with outcome `o`.
    pub fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Issued => self.issued += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::NonConforming => self.non_conforming += 1,
            Outcome::Refused => self.refused += 1,
            Outcome::Malformed => self.malformed += 1,
        }
    }
}

/// The answer to a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PushResponse {
    /// Per record, in the pushed order.
    pub results: Vec<RecordResult>,
    /// Counts.
    pub summary: Summary,
    /// The status list sequence after the push.
    pub status_seq: u64,
}

/// A lifecycle change asked for by an agency or administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StatusChange {
    /// Cancel or revoke (注销/吊销): final.
    Revoked,
    /// Suspend.
    Suspended,
    /// Reinstate a suspended certificate.
    Valid,
}

impl StatusChange {
    /// The status it sets.
    pub fn status(self) -> Status {
        match self {
            StatusChange::Revoked => Status::Revoked,
            StatusChange::Suspended => Status::Suspended,
            StatusChange::Valid => Status::Valid,
        }
    }
}

/// The body of a lifecycle change:
/// `POST /api/v1/certificates/{type}/{number}/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", schema(as = StatusBody))]
pub struct StatusRequest {
    /// The new status.
    pub status: StatusChange,
}

/// The outcome of a lifecycle change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct StatusChanged {
    /// Type.
    pub cert_type: CertType,
    /// Number.
    pub number: String,
    /// The current version.
    pub version: u16,
    /// Its status now.
    pub status: Status,
    /// The status list sequence that carries it.
    pub status_seq: u64,
}

/// A certificate version as answered by
/// `GET /api/v1/certificates/{type}/{number}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct CertificateView {
    /// Type.
    pub cert_type: CertType,
    /// Number.
    pub number: String,
    /// This version.
    pub version: u16,
    /// The current version.
    pub current_version: u16,
    /// This version's status.
    pub status: Status,
    /// Its index in the status list.
    pub status_index: u32,
    /// The GB/T 36904 identifier.
    pub identifier: Option<String>,
    /// When it was signed, Unix seconds.
    pub issued_at: i64,
    /// The QR text (`LC1:` …).
    pub qr: String,
}

/// One entry of the correction list as answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct NonconformingView {
    /// The agency's division code.
    pub agency: u32,
    /// Type as pushed.
    pub cert_type: String,
    /// Number as pushed.
    pub number: String,
    /// Field-level reasons.
    pub reasons: Vec<Nonconformance>,
    /// The record as pushed.
    #[cfg_attr(feature = "schema", schema(value_type = Object))]
    pub record: serde_json::Value,
    /// First pushed, Unix seconds.
    pub first_seen: i64,
    /// Last pushed, Unix seconds.
    pub last_seen: i64,
    /// When a conforming push resolved it.
    pub resolved_at: Option<i64>,
}

/// The correction list as answered by `GET /api/v1/nonconforming`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct NonconformingList {
    /// Its entries.
    pub entries: Vec<NonconformingView>,
}

/// One agency's push state as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AgencyPushView {
    /// The agency's division code.
    pub division: u32,
    /// The agency's name.
    pub name: String,
    /// Its last push, Unix seconds.
    pub last_push_at: Option<i64>,
    /// Records in its last push.
    pub last_push_records: Option<u64>,
    /// When it becomes overdue (absent if it never pushed).
    pub due_by: Option<i64>,
    /// Overdue: no push within two working days, or never pushed.
    pub overdue: bool,
}

/// Every agency's push state as answered by `GET /api/v1/agencies/pushes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AgencyPushList {
    /// One entry per agency.
    pub agencies: Vec<AgencyPushView>,
}

/// The body of a device enrollment: `POST /api/v1/devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// `EdDSA` or `SM2-SM3`.
    pub alg: String,
    /// The device's public key, base64url without padding.
    pub public_key: String,
    /// A label for the device (at most 200 characters).
    #[serde(default)]
    pub label: Option<String>,
}

/// A public key as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct KeyView {
    /// `EdDSA` or `SM2-SM3`.
    pub alg: String,
    /// The key, base64url without padding.
    pub public_key: String,
    /// Its key id, hex.
    pub kid: String,
}

/// The answer to an enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct EnrollResponse {
    /// The device's id.
    pub device_id: i64,
    /// The device key's id, hex.
    pub kid: String,
    /// The division the device is bound to.
    pub division: u32,
    /// The root key the device should pin.
    pub root: KeyView,
}

/// The answer to a check-log upload: `POST /api/v1/verification-logs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct IngestResponse {
    /// Records stored by this upload.
    pub accepted: u64,
    /// Records of the batch the server held already (a retry).
    pub duplicates: u64,
    /// The next sequence number the server expects from the device.
    pub next_seq: u64,
    /// Hash of the device's last accepted record, 64 hex digits.
    pub head: String,
}

/// A device's chain head as held by the server:
/// `GET /api/v1/verification-logs/head`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct HeadResponse {
    /// The next sequence number the server expects.
    pub next_seq: u64,
    /// Hash of the last accepted record (64 zeros before the first).
    pub head: String,
}

/// One audit row as read by `GET /api/v1/audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AuditView {
    /// Row id, increasing.
    pub id: i64,
    /// Unix seconds.
    pub ts: i64,
    /// The token used, if recognised.
    pub token_id: Option<i64>,
    /// Its role (`cli` for administration commands).
    pub role: Option<String>,
    /// What was attempted.
    pub action: String,
    /// Which records.
    pub target: String,
    /// How it ended.
    pub outcome: String,
}

/// A page of the audit log: `GET /api/v1/audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AuditPage {
    /// Rows, oldest first.
    pub entries: Vec<AuditView>,
    /// The `after` of the next page.
    pub next_after: i64,
}

/// One certificate an online lookup found (`GET /api/v1/lookup`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct LookupResult {
    /// `valid`, `invalid`.
    pub verdict: String,
    /// Why not valid.
    pub reason: Option<String>,
    /// The reason for the officer, Chinese.
    pub reason_zh: Option<String>,
    /// The status in the provincial system: `valid`, `revoked`,
    /// `suspended`, `superseded`.
    pub status: String,
    /// The minimum named fields (see `shared::view::FaceView`): the ID
    /// number masked.
    #[cfg_attr(feature = "schema", schema(value_type = Object))]
    pub face: crate::view::FaceView,
}

/// The answer of an online lookup (`GET /api/v1/lookup`): the overall
/// verdict and the certificates found; never the QR text.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct LookupAnswer {
    /// `valid` if any certificate found is valid, `invalid` if some were
    /// found and none is, `cannot_confirm` (`no_match`) if none was found.
    pub verdict: String,
    /// Why not valid (the first certificate's reason, or `no_match`).
    pub reason: Option<String>,
    /// The reason, Chinese.
    pub reason_zh: Option<String>,
    /// The reason, English.
    pub reason_en: Option<String>,
    /// What was searched by: `plate`, `id_number`, `number`.
    pub by: String,
    /// Server time of the lookup, Unix seconds.
    pub checked_at: i64,
    /// The certificates found, valid first (at most 10).
    pub results: Vec<LookupResult>,
}
