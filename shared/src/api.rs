//! JSON wire types of the verifier server's HTTP API: request and response
//! bodies, shared by the server, the field client and the importer so that
//! each is declared once.
//!
//! With the `schema` feature (enabled by the server only) each type also
//! derives `utoipa::ToSchema` for the server's OpenAPI document.

use serde::{Deserialize, Serialize};

pub mod apps;
pub mod delegations;

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
/// `POST /api/v1/certificates/{type}/{number}/status`. The decision's
/// reason, effective date and document number are kept with the change
/// and shown in the certificate's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", schema(as = StatusBody))]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// The new status.
    pub status: StatusChange,
    /// Why (事由), at most 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The date the decision takes effect, `YYYY-MM-DD` (China Standard
    /// Time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_date: Option<String>,
    /// The decision document's number (文书编号), at most 64 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_number: Option<String>,
}

impl StatusRequest {
    /// A change without a recorded decision.
    pub fn to(status: StatusChange) -> StatusRequest {
        StatusRequest {
            status,
            reason: None,
            effective_date: None,
            document_number: None,
        }
    }
}

/// One lifecycle change in a certificate's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct StatusChangeView {
    /// When, Unix seconds.
    pub at: i64,
    /// The version changed.
    pub version: u16,
    /// Its status before.
    pub from: Status,
    /// Its status after.
    pub to: Status,
    /// Who (role, division, token id).
    pub actor: String,
    /// Why.
    pub reason: Option<String>,
    /// The date the decision takes effect, `YYYY-MM-DD`.
    pub effective_date: Option<String>,
    /// The decision document's number.
    pub document_number: Option<String>,
}

/// One version in a certificate's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct VersionEntry {
    /// The version.
    pub version: u16,
    /// Its status now.
    pub status: Status,
    /// When it was issued, Unix seconds.
    pub issued_at: i64,
}

/// A certificate's history as answered by
/// `GET /api/v1/certificates/{type}/{number}/history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct CertificateHistory {
    /// Type.
    pub cert_type: CertType,
    /// Number.
    pub number: String,
    /// The current version.
    pub current_version: u16,
    /// The current version's status.
    pub status: Status,
    /// Every version, oldest first.
    pub versions: Vec<VersionEntry>,
    /// Every lifecycle change, oldest first.
    pub changes: Vec<StatusChangeView>,
}

/// One record of an uploaded file that was not signed, as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct UploadRow {
    /// The file's line where the record starts.
    pub line: u64,
    /// Type as uploaded.
    pub cert_type: Option<String>,
    /// Number as uploaded.
    pub number: Option<String>,
    /// The outcome.
    pub result: Outcome,
    /// Field-level reasons.
    pub reasons: Vec<Nonconformance>,
}

/// The answer to an upload (`POST /api/v1/uploads`): what was stored, and
/// where and why reading stopped if it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct UploadReport {
    /// The stored report's id: `GET /api/v1/uploads/{id}/report.csv`.
    pub id: i64,
    /// The file's name as uploaded.
    pub file_name: String,
    /// `csv` or `jsonl`.
    pub format: String,
    /// Bytes read.
    pub bytes: u64,
    /// Records read (lines that could not be read as records included).
    pub records: u64,
    /// Counts per outcome; `malformed` includes unreadable lines.
    pub summary: Summary,
    /// Whether the whole file was read.
    pub complete: bool,
    /// Why reading stopped before the end (Chinese), naming the line:
    /// everything before it is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// The records not signed, at most 1,000 (the CSV report has all).
    pub rows: Vec<UploadRow>,
    /// More records were not signed than `rows` holds.
    pub rows_truncated: bool,
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
    /// The QR text (`LC1:` …): answered to the province's administrator
    /// only; agencies never receive it (a city that held its
    /// certificates' QR texts could invent checks of them, see
    /// `docs/evaluation.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr: Option<String>,
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

/// An agency's outage report (§5.3): `POST /api/v1/agency/outages`. Times
/// are RFC 3339, e.g. `2026-06-01T08:00:00+08:00`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OutageRequest {
    /// Start of the fault.
    pub from: String,
    /// End of the fault (after `from`, not in the future).
    pub until: String,
    /// What failed (1 to 500 characters).
    pub reason: String,
}

/// An outage report as answered; times RFC 3339 in China Standard Time
/// (`+08:00`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct OutageView {
    /// The report's id.
    pub id: i64,
    /// The reporting agency's division code.
    pub division: u32,
    /// Start of the fault.
    pub from: String,
    /// End of the fault.
    pub until: String,
    /// What failed.
    pub reason: String,
    /// When the re-push is due: the end of the second working day after
    /// the day the fault ended (public holidays and adjusted working days
    /// counted).
    pub repush_deadline: String,
    /// How the working days were known: `published` (the State Council's
    /// arrangement), `statutory_only` (statutory holidays only, no adjusted
    /// working days) or `weekdays_only` (a year the calendar lacks).
    pub calendar_basis: crate::calendar::Basis,
    /// When it was reported.
    pub reported_at: String,
}

/// An agency's outage reports: `GET /api/v1/agency/outages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct OutageList {
    /// Oldest fault first.
    pub outages: Vec<OutageView>,
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
    /// The national root key the device should pin beside it (mutual
    /// recognition), when the server is configured with one. Absent from
    /// servers that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_root: Option<KeyView>,
}

/// An enrolled officer device as listed by `GET /api/v1/devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct DeviceView {
    /// The device's id.
    pub device_id: i64,
    /// The device key's id, hex.
    pub kid: String,
    /// `EdDSA` or `SM2-SM3`.
    pub alg: String,
    /// The officer's label.
    pub label: String,
    /// The officer token it is enrolled under.
    pub token_id: i64,
    /// The division the device is bound to.
    pub division: u32,
    /// When it was enrolled, Unix seconds.
    pub enrolled_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// The next record seq the server expects from it.
    pub next_seq: u64,
}

/// A stored check-log record as listed by `GET /api/v1/verification-logs`:
/// the device's claims, then what the server found re-verifying it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct LogRecordView {
    /// The record's place in the device's chain.
    pub seq: u64,
    /// Its hash, hex.
    pub hash: String,
    /// The previous record's hash, hex.
    pub prev: String,
    /// Device time, Unix seconds.
    pub at: i64,
    /// `check`, `disposition` or `lookup` (an online lookup: `note` says
    /// what it searched by).
    pub kind: String,
    /// The device's verdict.
    pub verdict: Option<String>,
    /// The device's reason.
    pub reason: Option<String>,
    /// The certificate type the device read.
    pub cert_type: Option<String>,
    /// The certificate number the device read.
    pub cert_number: Option<String>,
    /// The version the device read.
    pub cert_version: Option<u16>,
    /// The scanned text.
    pub scanned: Option<String>,
    /// The status list sequence the device held.
    pub status_seq: Option<u64>,
    /// The trust list sequence the device held.
    pub trust_seq: Option<u64>,
    /// The device's warnings.
    pub warnings: Vec<String>,
    /// Age of the device's lists, seconds.
    pub data_age: Option<u64>,
    /// For a disposition: the check it decides.
    pub check_seq: Option<u64>,
    /// For a disposition: accepted or refused.
    pub accepted: Option<bool>,
    /// Free text (a refusal's reason, what a lookup searched by).
    pub note: Option<String>,
    /// Server: the province's signature verified.
    pub signature_verified: Option<bool>,
    /// Server: a holder-signed presentation verified.
    pub presentation_verified: Option<bool>,
    /// Server: the certificate type found.
    pub server_cert_type: Option<String>,
    /// Server: the certificate number found.
    pub server_cert_number: Option<String>,
    /// Server: the version found.
    pub server_cert_version: Option<u16>,
    /// Server: the certificate's issuing division.
    pub server_division: Option<u32>,
    /// Server: the first problem found short of status.
    pub server_reason: Option<String>,
    /// The uploaded batch that carried it.
    pub batch_id: i64,
}

/// A page of a device's check-log records: `GET /api/v1/verification-logs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct LogsPage {
    /// The device.
    pub device: DeviceView,
    /// The hash of the device's last stored record, hex.
    pub head: String,
    /// The records, by seq.
    pub records: Vec<LogRecordView>,
    /// The `after` of the next page, when this one is full.
    pub next_after: Option<u64>,
}

/// The devices of one officer token (or every token, for an
/// administrator), with the enrollment limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct DeviceList {
    /// Most active (not revoked) devices one officer token may enroll.
    pub max_active_per_token: u32,
    /// The devices, by id.
    pub devices: Vec<DeviceView>,
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

/// The answer to a forwarded batch from another province:
/// `POST /api/v1/peer/check-logs` (issue 14 item 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ForwardAnswer {
    /// The batch id, 32 hex digits.
    pub batch: String,
    /// The sending province's code.
    pub from: u32,
    /// Records stored by this delivery.
    pub accepted: u64,
    /// Records already held (a re-send, or carried by an earlier batch).
    pub duplicates: u64,
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
    /// The client's address (behind trusted proxies, the one they name);
    /// absent for command-line commands.
    #[serde(default)]
    pub client_addr: Option<String>,
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

// The annual evaluation (`GET /api/v1/evaluation`) and the administrator's
// entries that feed it.

/// How much of its area a city's training and publicity covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// Little or none (较少).
    Little,
    /// Partial (部分).
    Partial,
    /// Full (全面).
    Full,
}

impl Coverage {
    /// From its stored name.
    pub fn parse(s: &str) -> Option<Coverage> {
        match s {
            "little" => Some(Coverage::Little),
            "partial" => Some(Coverage::Partial),
            "full" => Some(Coverage::Full),
            _ => None,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Coverage::Little => "little",
            Coverage::Partial => "partial",
            Coverage::Full => "full",
        }
    }
}

/// One evidence attachment of a training record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Evidence {
    /// File name.
    pub file_name: String,
    /// SHA-256 of the file, 64 lowercase hex digits.
    pub sha256: String,
    /// What it shows.
    pub description: String,
}

/// A rate with its points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct RateScore {
    /// What was counted.
    pub numerator: u64,
    /// Out of how many.
    pub denominator: u64,
    /// In percent; `null` when the denominator is 0.
    pub percent: Option<f64>,
    /// Annex A points.
    pub points: u8,
}

/// Item 1, issuance rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Issuance {
    /// Valid certificates with a signed e-certificate over valid records
    /// collected plus open corrections plus declared uncollected.
    #[serde(flatten)]
    pub rate: RateScore,
    /// Records still on a correction list (denominator only).
    pub open_corrections: u64,
    /// Physical certificates declared not yet collected (denominator only).
    pub declared_uncollected: u64,
}

/// Item 2, annual activation rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Activation {
    /// E-certificates of the year checked provably at least once over
    /// e-certificates issued in the year.
    #[serde(flatten)]
    pub rate: RateScore,
    /// Provable checks of the year's e-certificates (each certificate
    /// counts once in the numerator).
    pub provable_checks: u64,
    /// Of those, live holder presentations.
    pub live_presentations: u64,
    /// Static-QR checks of the year's e-certificates by devices of the
    /// certificate's own city: not evidence the city could not produce
    /// alone, so not counted (see `docs/evaluation.md`).
    pub uncorroborated_checks: u64,
}

/// One training record as answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct TrainingView {
    /// Row id.
    pub id: i64,
    /// Division it was entered for.
    pub division: u32,
    /// Coverage claimed.
    pub coverage: String,
    /// What was done.
    pub description: String,
    /// Attachments.
    pub evidence: Vec<Evidence>,
}

/// Item 3, training and publicity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Training {
    /// The widest coverage among records with evidence.
    pub coverage: Option<Coverage>,
    /// Points (10 / 6 / 0).
    pub points: u8,
    /// The records.
    pub records: Vec<TrainingView>,
}

/// A listed event (incident or anomaly).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Event {
    /// What kind: incidents `refusal`, `upheld_complaint`; anomalies of
    /// one record `revoked_device`, `signature_not_verified`,
    /// `presentation_not_verified`, `presentation_required`,
    /// `unknown_certificate`, `time_out_of_bounds`; patterns `burst`,
    /// `off_hours_burst`, `many_devices`; refused requests
    /// `rejected_upload`, `refused_enrollment`.
    pub kind: String,
    /// When (device time for records, server time otherwise), Unix seconds.
    pub at: i64,
    /// `at` as RFC 3339 in China Standard Time (`…+08:00`); empty in
    /// evaluations stored before it was added until they are answered.
    #[serde(default)]
    pub at_cst: String,
    /// The division it is attributed to.
    pub division: u32,
    /// The device row id, for records.
    pub device_id: Option<i64>,
    /// The record's seq, for records.
    pub seq: Option<u64>,
    /// The certificate (`TYPE/number`), when known.
    pub certificate: Option<String>,
    /// Details.
    pub detail: String,
}

/// Item 4, display and verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Display {
    /// Points (10 without incident, else 0).
    pub points: u8,
    /// Each incident.
    pub incidents: Vec<Event>,
}

/// One month's cumulative rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct MonthRates {
    /// 1–12.
    pub month: u8,
    /// Issuance rate at the month's end, percent.
    pub issuance_percent: Option<f64>,
    /// Activation rate of the year so far at the month's end, percent.
    pub activation_percent: Option<f64>,
}

/// The evaluation of a city or the province.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Score {
    /// Division code (210000 for the province).
    pub division: u32,
    /// Its name.
    pub name: String,
    /// Item 1 (40 points).
    pub issuance: Issuance,
    /// Item 2 (40 points).
    pub activation: Activation,
    /// Item 3 (10 points).
    pub training: Training,
    /// Item 4 (10 points).
    pub display: Display,
    /// The sum of the four items' points.
    pub total: u8,
    /// Checks and uploads that did not count, and why.
    pub anomalies: Vec<Event>,
    /// Cumulative rates at each month's end.
    pub monthly: Vec<MonthRates>,
}

/// The year's evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Evaluation {
    /// The year.
    pub year: i32,
    /// The 14 cities in code order.
    pub cities: Vec<Score>,
    /// The province as a whole.
    pub province: Score,
}

/// A training and publicity record as entered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TrainingBody {
    /// City code (or 210000 for the province).
    pub division: u32,
    /// Evaluation year.
    pub year: i32,
    /// Coverage.
    pub coverage: Coverage,
    /// What was done.
    pub description: String,
    /// Attachments (the item scores only records that have one).
    #[serde(default)]
    pub evidence: Vec<Evidence>,
}

/// A stored training evidence file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct EvidenceStored {
    /// SHA-256 of the bytes, 64 lowercase hex digits (name it in a
    /// training record's `evidence[].sha256`).
    pub sha256: String,
    /// The type its content shows.
    pub content_type: String,
    /// Bytes.
    pub size: u64,
}

/// The id of a stored entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Created {
    /// Row id.
    pub id: i64,
}

/// Physical certificates of a type not yet collected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeclaredBody {
    /// City code.
    pub division: u32,
    /// Evaluation year.
    pub year: i32,
    /// Type code, e.g. QC.
    pub cert_type: String,
    /// How many (replaces any earlier figure).
    pub count: u64,
}

/// A refusal complaint as the administrator decided it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ComplaintBody {
    /// The city whose officers the complaint is about.
    pub division: u32,
    /// Evaluation year.
    pub year: i32,
    /// What happened.
    pub description: String,
    /// Whether the administrator upheld it (only upheld ones count).
    pub upheld: bool,
}
