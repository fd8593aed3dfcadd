//! The answer of `POST /api/v1/records` as the importer reads it: the
//! JSON shape the server's `issuing::PushResponse` serialises to. The
//! importer depends on `shared`, not on the server's library; when the
//! HTTP API's wire types move into `shared`, these give way to them.

use serde::{Deserialize, Serialize};
use shared::domain::Nonconformance;

/// What happened to one pushed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new e-certificate, version 1.
    Issued,
    /// A new version of an existing e-certificate.
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
pub struct RecordResult {
    /// Position in the pushed array, from 0.
    pub index: usize,
    /// Type as pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_type: Option<String>,
    /// Number as pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The outcome.
    pub result: Outcome,
    /// Field-level reasons (non-conforming, refused, malformed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<Nonconformance>>,
    /// The GB/T 36904 identifier of the current version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// The current e-certificate version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u16>,
}

/// Counts per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
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

/// The answer to a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// Per record, in the pushed order.
    pub results: Vec<RecordResult>,
    /// Counts.
    pub summary: Summary,
    /// The status list sequence after the push.
    pub status_seq: u64,
}
