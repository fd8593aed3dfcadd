//! The rows the annual evaluation reads from the store (`EvaluationTx::eval_*`)
//! and the administrator-entered facts it keeps (training, declared
//! uncollected physical certificates, upheld complaints).

use shared::domain::DivisionCode;

/// A certificate as the evaluation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalCert {
    /// Type code.
    pub cert_type: String,
    /// Number.
    pub number: String,
    /// Issuing division.
    pub division: DivisionCode,
    /// Current status (0 valid).
    pub status: i64,
    /// When its first version was signed, Unix seconds.
    pub first_issued_at: i64,
}

/// A record still on a correction list (non-conforming, unresolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalCorrection {
    /// The agency that pushed it.
    pub agency: DivisionCode,
    /// Type code.
    pub cert_type: String,
    /// Number.
    pub number: String,
    /// First seen, Unix seconds.
    pub first_seen: i64,
}

/// A stored check record (kind 0) with what the server derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalCheck {
    /// Device row id.
    pub device_id: i64,
    /// Record seq.
    pub seq: u64,
    /// Device time, Unix seconds.
    pub at: i64,
    /// The device's enrollment division.
    pub device_division: DivisionCode,
    /// The province's signature verified (server).
    pub signature: bool,
    /// The scanned text was a holder presentation.
    pub presented: bool,
    /// The presentation's holder binding verified (server).
    pub presentation: bool,
    /// The certificate (server-derived type code and number).
    pub cert: Option<(String, String)>,
    /// Its issuing division (server-derived).
    pub cert_division: Option<DivisionCode>,
    /// The first problem short of status (server).
    pub reason: Option<String>,
    /// The officer token the device is enrolled under.
    pub token_id: i64,
    /// When the device was enrolled, Unix seconds (server time).
    pub enrolled_at: i64,
    /// When the device was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// The batch that carried the record.
    pub batch_id: i64,
    /// When that batch arrived, Unix seconds (server time).
    pub received_at: i64,
    /// The status list sequence the device says it had synced.
    pub status_seq: Option<u64>,
    /// When the server signed that status list step, if it still holds it.
    pub status_signed_at: Option<i64>,
}

/// An uploaded batch as the evaluation sees it (its arrival bounds the
/// time of the device's later records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalBatch {
    /// Row id (increasing with arrival).
    pub id: i64,
    /// The device.
    pub device_id: i64,
    /// When it arrived, Unix seconds (server time).
    pub received_at: i64,
}

/// An officer's refusal (disposition with `accepted = false`) and the check
/// it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalRefusal {
    /// Device row id.
    pub device_id: i64,
    /// The disposition's seq.
    pub seq: u64,
    /// Device time.
    pub at: i64,
    /// The device's enrollment division.
    pub device_division: DivisionCode,
    /// The check it refers to, if stored.
    pub check: Option<EvalCheck>,
    /// The certificate's current status, if known.
    pub cert_status: Option<i64>,
    /// The officer's note.
    pub note: Option<String>,
}

/// A refused check-log upload or device enrollment (audited failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalRejectedUpload {
    /// When, Unix seconds.
    pub ts: i64,
    /// The uploading token's division.
    pub division: Option<DivisionCode>,
    /// The audit target.
    pub target: String,
    /// The audit outcome (status and slug).
    pub outcome: String,
    /// The audited action: a check-log upload or a device enrollment.
    pub action: String,
}

/// An enrolled device as the evaluation sees it (for devices per token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalDevice {
    /// Row id.
    pub id: i64,
    /// The officer token it is enrolled under.
    pub token_id: i64,
    /// The token's division at enrollment.
    pub division: DivisionCode,
    /// When it was enrolled.
    pub enrolled_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

pub use shared::api::Evidence;

/// A training and publicity record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingRow {
    /// Row id (ignored on insert).
    pub id: i64,
    /// City (or the province).
    pub division: DivisionCode,
    /// Evaluation year.
    pub year: i32,
    /// `full`, `partial` or `little`.
    pub coverage: String,
    /// What was done.
    pub description: String,
    /// Entered, Unix seconds.
    pub entered_at: i64,
    /// Attachments.
    pub evidence: Vec<Evidence>,
}

/// Physical certificates declared not yet collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredRow {
    /// City.
    pub division: DivisionCode,
    /// Evaluation year.
    pub year: i32,
    /// Type code.
    pub cert_type: String,
    /// How many.
    pub count: u64,
}

/// A refusal complaint as the administrator decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintRow {
    /// Row id (ignored on insert).
    pub id: i64,
    /// City whose officers the complaint is about.
    pub division: DivisionCode,
    /// Evaluation year.
    pub year: i32,
    /// What happened.
    pub description: String,
    /// Upheld by the administrator.
    pub upheld: bool,
    /// Entered, Unix seconds.
    pub entered_at: i64,
}

/// A training evidence file, addressed by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceFile {
    /// SHA-256 of `data`, 64 lowercase hex digits.
    pub sha256: String,
    /// The checked content type (`application/pdf`, `image/png`, ...).
    pub content_type: String,
    /// The bytes.
    pub data: Vec<u8>,
    /// First uploaded, Unix seconds.
    pub uploaded_at: i64,
}
