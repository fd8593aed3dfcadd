//! Storage: the [`Store`] trait the service is written against, its
//! transaction split into one trait per area ([`MetaTx`], [`KeysTx`],
//! [`ListsTx`], [`CertificatesTx`], [`HoldersTx`], [`TokensTx`],
//! [`AuditTx`], [`DevicesTx`], [`LogsTx`], [`EvaluationTx`]), the rows they
//! exchange, and two engines: [`sqlite`] (embedded, the default) and
//! [`postgres`] (several server instances on one database). [`open`]
//! chooses the engine from a URL.
//!
//! Every access goes through a transaction ([`Store::begin`] → [`Tx`]); a
//! [`Tx`] is rolled back when dropped without [`Tx::commit`]. Savepoints let
//! a batch keep each record atomic while the whole batch is acknowledged
//! after one commit. The traits hold plain data operations; the business
//! rules (what is issued, updated or unchanged) live in Rust: in the
//! services, and for the one rule the store applies itself (a version's
//! holder, [`VersionRow::holder_id`]) in this file, never in SQL.
//!
//! The store imports nothing from the rest of the server: no HTTP, no
//! `AppState`, no service. It never holds private key material: secrets
//! live in files (see `keys`), the `keys` table holds their public half and
//! metadata.
//!
//! Callers name the area traits to call their methods on a `dyn Tx`:
//! `use crate::store::prelude::*;`.

pub mod apps;
pub mod changes;
pub mod delegations;
pub mod evaluation;
pub mod postgres;
pub mod sqlite;

#[cfg(test)]
mod conformance;

use std::sync::Arc;

use shared::crypto::{Alg, Kid};
use shared::domain::{CertType, DivisionCode};
use shared::status::Status;
use shared::trust::Authority;

pub use self::apps::{
    AppCheckRow, AppKeyRow, ApplicationRow, AppsTx, GrantItem, GrantRow, GrantsOf,
};
pub use self::changes::{CertChangeRow, ChangesTx, WebhookRow};
pub use self::delegations::{DelegatedCopyRow, DelegationRow, DelegationsOf, DelegationsTx};
use self::evaluation::{
    ComplaintRow, DeclaredRow, EvalBatch, EvalCert, EvalCheck, EvalCorrection, EvalRefusal,
    EvalRejectedUpload, EvidenceFile, TrainingRow,
};
pub use self::postgres::PgStore;
pub use self::sqlite::SqliteStore;

/// The area traits, for `use crate::store::prelude::*`: calling a method of
/// [`Tx`] on a `dyn Tx` needs the trait that declares it in scope.
pub mod prelude {
    pub use super::{
        AppsTx, AuditTx, CertificatesTx, ChangesTx, DelegationsTx, DevicesTx, EvaluationTx,
        ForwardTx, HoldersTx, KeysTx, ListsTx, LogsTx, MetaTx, Store, TokensTx, Tx,
    };
}

/// A storage failure. Its text is for the log, never for a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// PostgreSQL reported an error (the connection itself is fine).
    #[error("database: {0}")]
    Postgres(::postgres::Error),
    /// The database cannot be reached or the connection was lost; nothing
    /// of the transaction was committed and a later attempt may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database URL cannot be used.
    #[error("database URL: {0}")]
    Url(String),
    /// The stored data breaks an invariant (a corrupted or foreign file).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// Another thread panicked while holding the connection.
    #[error("database connection poisoned by a panic")]
    Poisoned,
}

impl StoreError {
    /// Whether the database was unreachable (retry later) rather than the
    /// request or the data being wrong.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// Opens the database named by `url`: `postgres://…` or `postgresql://…`
/// is PostgreSQL, `sqlite:PATH` or a plain path is a SQLite file (created
/// if missing). Pending migrations run before it returns.
pub fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    match Engine::of(url)? {
        Engine::Postgres(url) => Ok(Arc::new(PgStore::open(url)?)),
        Engine::Sqlite(path) => Ok(Arc::new(SqliteStore::open(std::path::Path::new(path))?)),
    }
}

/// The engine a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine<'a> {
    /// PostgreSQL, with its connection URL.
    Postgres(&'a str),
    /// SQLite, with its file path.
    Sqlite(&'a str),
}

impl<'a> Engine<'a> {
    /// Parses a database URL (see [`open`]).
    pub fn of(url: &'a str) -> Result<Engine<'a>, StoreError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Engine::Postgres(url));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"));
        let path = path.unwrap_or(url);
        if path.is_empty() {
            return Err(StoreError::Url("empty database path".into()));
        }
        if path.contains("://") {
            return Err(StoreError::Url(format!(
                "unknown database scheme in {:?}: use postgres://…, sqlite:PATH or a file path",
                url.split("://").next().unwrap_or_default()
            )));
        }
        Ok(Engine::Sqlite(path))
    }
}

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// The trust anchor: signs trust lists only; verifiers pin it.
    Root,
    /// Signs certificates and status lists; listed in the trust list.
    Issuer,
}

impl KeyRole {
    /// The stored name: `root` or `issuer`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Root => "root",
            KeyRole::Issuer => "issuer",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Result<KeyRole, StoreError> {
        match s {
            "root" => Ok(KeyRole::Root),
            "issuer" => Ok(KeyRole::Issuer),
            other => Err(StoreError::Corrupt(format!("unknown key role {other:?}"))),
        }
    }
}

/// Metadata of a signing key; the secret is in the file `file` under the
/// key directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Key identifier.
    pub kid: Kid,
    /// Root or issuer.
    pub role: KeyRole,
    /// Algorithm.
    pub alg: Alg,
    /// Canonical public key bytes.
    pub public_key: Vec<u8>,
    /// Start of its signing period, Unix seconds.
    pub not_before: i64,
    /// End of its signing period, if closed.
    pub not_after: Option<i64>,
    /// 0 active, 1 retired, 2 compromised (as in the trust list).
    pub state: u8,
    /// When a compromise was established (state 2).
    pub compromised_since: Option<i64>,
    /// File name of the secret under the key directory.
    pub file: String,
}

/// The publication state of a signed list: its sequence and when that
/// sequence was signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListState {
    /// Sequence number.
    pub seq: u64,
    /// Signing time of this sequence, Unix seconds.
    pub issued_at: i64,
}

/// The status list's bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusState {
    /// Current sequence and its signing time.
    pub list: ListState,
    /// The next free status index.
    pub next_index: u32,
}

/// One step of the status list: the unsigned delta payload
/// (`StatusDelta::to_cbor`) from `seq - 1` to `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusStep {
    /// The sequence reached by this step.
    pub seq: u64,
    /// When the step was made, Unix seconds.
    pub issued_at: i64,
    /// The delta payload.
    pub delta: Vec<u8>,
}

/// The current version of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRow {
    /// Type.
    pub cert_type: CertType,
    /// Compact number.
    pub number: String,
    /// Current version.
    pub version: u16,
    /// Status of the current version.
    pub status: Status,
    /// Status index of the current version.
    pub status_index: u32,
    /// Issuing authority's division.
    pub issuer_division: DivisionCode,
    /// When the current version was signed, Unix seconds.
    pub issued_at: i64,
}

/// One version of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRow {
    /// Type.
    pub cert_type: CertType,
    /// Compact number.
    pub number: String,
    /// Version, from 1.
    pub version: u16,
    /// Its own status index.
    pub status_index: u32,
    /// Its status.
    pub status: Status,
    /// The record as pushed (JSON).
    pub record_json: String,
    /// The validated data, normalised (JSON): equal data means an
    /// unchanged re-push.
    pub data_json: String,
    /// The signed COSE_Sign1.
    pub signed: Vec<u8>,
    /// The GB/T 36904 identifier, when it could be derived.
    pub identifier: Option<String>,
    /// Signing time, Unix seconds.
    pub issued_at: i64,
    /// Issuing authority's division.
    pub issuer_division: DivisionCode,
    /// Whose certificate it is: the holder's ID number or credit code
    /// ([`holder_id_of`] of the two texts above), computed once when the
    /// version is made and stored beside it (the holder's certificates are
    /// found by it).
    pub holder_id: Option<String>,
    /// The plate its face shows ([`plate_of`] of the data), computed and
    /// stored the same way (lookups by plate).
    pub plate: Option<String>,
}

/// A record on an agency's correction list (补正).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonconformingRow {
    /// The agency's division (the pushing token's, or the province for an
    /// administrator).
    pub agency: DivisionCode,
    /// Type as pushed (trimmed, upper case).
    pub cert_type: String,
    /// Number as pushed (trimmed).
    pub number: String,
    /// The reasons (JSON array of `Nonconformance`).
    pub reasons_json: String,
    /// The record as pushed (JSON).
    pub record_json: String,
    /// First push with problems, Unix seconds.
    pub first_seen: i64,
    /// Latest push with problems, Unix seconds.
    pub last_seen: i64,
    /// When a conforming push resolved it.
    pub resolved_at: Option<i64>,
}

/// A bearer token's stored form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// Row id (named in audit rows).
    pub id: i64,
    /// SHA-256 of the token text.
    pub hash: [u8; 32],
    /// Role name.
    pub role: String,
    /// Division the token is bound to (agencies).
    pub division: Option<DivisionCode>,
    /// Who holds it (free text, for the audit).
    pub subject: String,
    /// Created, Unix seconds.
    pub created_at: i64,
    /// Revoked, Unix seconds.
    pub revoked_at: Option<i64>,
    /// When the current secret stops working, Unix seconds.
    pub expires_at: i64,
    /// Last accepted request, Unix seconds (recorded at most once a
    /// minute per token).
    pub last_used_at: Option<i64>,
    /// SHA-256 of the secret the last rotation replaced; it keeps working
    /// until `prev_expires_at`.
    pub prev_hash: Option<[u8; 32]>,
    /// When the replaced secret stops working.
    pub prev_expires_at: Option<i64>,
    /// Last rotation, Unix seconds.
    pub rotated_at: Option<i64>,
}

/// A token's new secret (`admin rotate-token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRotation {
    /// SHA-256 of the new secret.
    pub hash: [u8; 32],
    /// When the new secret expires.
    pub expires_at: i64,
    /// When the replaced secret stops working.
    pub prev_expires_at: i64,
    /// When the rotation happened.
    pub at: i64,
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Unix seconds.
    pub ts: i64,
    /// The token used, if one was recognised.
    pub token_id: Option<i64>,
    /// Its role.
    pub role: Option<String>,
    /// What was attempted, e.g. `POST /api/v1/records`.
    pub action: String,
    /// What it was attempted on.
    pub target: String,
    /// How it ended, e.g. `ok`, `forbidden`, `unauthenticated`.
    pub outcome: String,
    /// The client's address (behind a trusted proxy, the client it
    /// named); `None` for command-line commands.
    pub client_addr: Option<String>,
}

/// An audit entry with its position in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Increasing row id (the paging cursor).
    pub id: i64,
    /// The entry.
    pub entry: AuditEntry,
}

/// A lifecycle change as recorded (issue 15): which version went from
/// which status to which, when and by whom, and the decision behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChangeRow {
    /// Type.
    pub cert_type: CertType,
    /// Number.
    pub number: String,
    /// The version changed (the current one then).
    pub version: u16,
    /// Its status before.
    pub from: Status,
    /// Its status after.
    pub to: Status,
    /// When, Unix seconds.
    pub at: i64,
    /// Who: the caller's role, division and token id, as in audit rows.
    pub actor: String,
    /// Why (事由).
    pub reason: Option<String>,
    /// The date the decision takes effect, `YYYY-MM-DD`.
    pub effective_date: Option<String>,
    /// The decision document's number (文书编号).
    pub document_number: Option<String>,
}

/// An upload's stored report (`POST /api/v1/uploads`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadReportRow {
    /// Its id (ignored on insert).
    pub id: i64,
    /// The uploading agency's division; `None` for an administrator.
    pub agency: Option<DivisionCode>,
    /// When it was received, Unix seconds.
    pub received_at: i64,
    /// The file's name as uploaded.
    pub file_name: String,
    /// The answer (`shared::api::UploadReport`) as JSON.
    pub summary_json: String,
    /// The per-record report, CSV (`shared::csvexport`).
    pub csv: Vec<u8>,
}

/// Uploaded files' reports.
pub trait UploadsTx {
    /// Stores a report; its id.
    fn insert_upload_report(&mut self, row: &UploadReportRow) -> Result<i64, StoreError>;
    /// A stored report.
    fn upload_report(&mut self, id: i64) -> Result<Option<UploadReportRow>, StoreError>;
}

/// An agency's last acknowledged push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgencyPush {
    /// The agency's division.
    pub division: DivisionCode,
    /// When its last push was committed, Unix seconds.
    pub at: i64,
    /// How many records it carried.
    pub records: u64,
}

/// An agency's outage report (§5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutageRow {
    /// Assigned by the store (ignored on insert).
    pub id: i64,
    /// The reporting agency's division.
    pub division: DivisionCode,
    /// Start of the fault, Unix seconds.
    pub from: i64,
    /// End of the fault, Unix seconds (after `from`).
    pub until: i64,
    /// The agency's description of the fault.
    pub reason: String,
    /// When the re-push is due, Unix seconds.
    pub repush_deadline: i64,
    /// When the report was made, Unix seconds.
    pub reported_at: i64,
}

/// Row counts, for monitoring and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Certificates (current versions).
    pub certificates: u64,
    /// All versions.
    pub versions: u64,
    /// Unresolved correction-list entries.
    pub nonconforming_open: u64,
    /// Audit rows.
    pub audit: u64,
}

/// An enrolled officer device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// Row id.
    pub id: i64,
    /// The device key's identifier (unique).
    pub kid: Kid,
    /// Its algorithm.
    pub alg: Alg,
    /// Canonical public key bytes.
    pub public_key: Vec<u8>,
    /// The officer token that enrolled it.
    pub token_id: i64,
    /// That token's division.
    pub division: DivisionCode,
    /// Free text from the officer.
    pub label: String,
    /// Enrolled, Unix seconds.
    pub enrolled_at: i64,
    /// Revoked, Unix seconds.
    pub revoked_at: Option<i64>,
    /// The next sequence number the server expects from it.
    pub next_seq: u64,
    /// Hash of its last accepted record (all zeros before the first).
    pub head: [u8; 32],
}

/// A stored check-log record: what the device signed, and what the server
/// derived by re-verifying the scanned text itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecordRow {
    /// The device.
    pub device_id: i64,
    /// Its sequence number.
    pub seq: u64,
    /// SHA-256 of the record's bytes.
    pub hash: [u8; 32],
    /// The previous record's hash.
    pub prev: [u8; 32],
    /// Device time, Unix seconds.
    pub at: i64,
    /// 0 check, 1 disposition.
    pub kind: u8,
    /// The device's verdict (checks).
    pub verdict: Option<String>,
    /// The device's reason code (checks that were not valid).
    pub reason: Option<String>,
    /// Certificate type code as the device read it.
    pub cert_type: Option<String>,
    /// Certificate number as the device read it.
    pub cert_number: Option<String>,
    /// Certificate version as the device read it.
    pub cert_version: Option<u16>,
    /// The QR text as scanned.
    pub scanned: Option<String>,
    /// Status list sequence the device used.
    pub status_seq: Option<u64>,
    /// Trust list sequence the device used.
    pub trust_seq: Option<u64>,
    /// Warning codes shown (JSON array), when any.
    pub warnings: Option<String>,
    /// Age of the device's status data, seconds.
    pub data_age: Option<u64>,
    /// The check a disposition is about.
    pub check_seq: Option<u64>,
    /// Whether the officer accepted the certificate (dispositions).
    pub accepted: Option<bool>,
    /// The officer's note (dispositions).
    pub note: Option<String>,
    /// Server: the province's signature verified against its trust list.
    pub srv_signature: Option<bool>,
    /// Server: a holder-signed presentation verified within its window.
    pub srv_presentation: Option<bool>,
    /// Server: the verified certificate's type code.
    pub srv_cert_type: Option<String>,
    /// Server: the verified certificate's number.
    pub srv_cert_number: Option<String>,
    /// Server: the verified certificate's version.
    pub srv_cert_version: Option<u16>,
    /// Server: the verified certificate's issuing division.
    pub srv_division: Option<DivisionCode>,
    /// Server: the first problem found short of the status check.
    pub srv_reason: Option<String>,
    /// The batch that brought it.
    pub batch_id: i64,
}

/// The certificate's holder of a version's normalised data and pushed
/// record (JSON): the face's ID number (person certificates) or credit code
/// (permits); for vehicles, the owner's credit code or ID number as pushed
/// in the record's `uscc` / `id_number` fields (trimmed, upper case).
/// `None` when there is none.
///
/// This is the rule SQLite migration 3 computed in a generated column,
/// evaluated the same way (the first present JSON value wins, even when
/// empty). It is computed once, when a version is made
/// ([`VersionRow::holder_id`]), and for versions stored before that.
pub fn holder_id_of(data_json: &str, record_json: &str) -> Option<String> {
    version_keys(data_json, record_json).0
}

/// The plate a version's face shows (`face.plate` of its normalised data,
/// JSON), the key of lookups by plate; computed once, when a version is
/// made ([`VersionRow::plate`]).
pub fn plate_of(data_json: &str) -> Option<String> {
    let face = serde_json::from_str::<DataProbe>(data_json).ok()?.face?;
    text(face.plate)
}

/// [`holder_id_of`] and [`plate_of`] at once, reading the data once: what
/// a new version's row carries.
pub fn version_keys(data_json: &str, record_json: &str) -> (Option<String>, Option<String>) {
    let Some(face) = serde_json::from_str::<DataProbe>(data_json)
        .ok()
        .and_then(|d| d.face)
    else {
        return (None, None);
    };
    let vehicle = face.family.as_ref().and_then(|v| v.as_str()) == Some("vehicle");
    let plate = text(face.plate);
    let holder = text(face.id_number).or_else(|| text(face.uscc));
    if holder.is_some() || !vehicle {
        return (holder, plate);
    }
    let Ok(record) = serde_json::from_str::<RecordProbe>(record_json) else {
        return (None, plate);
    };
    let owner =
        |v: Option<serde_json::Value>| text(v).map(|s| s.trim_matches(' ').to_ascii_uppercase());
    (
        owner(record.uscc).or_else(|| owner(record.id_number)),
        plate,
    )
}

/// A JSON value as a column's text: a string as it is, `null` as none,
/// anything else as its JSON.
fn text(v: Option<serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

/// What [`holder_id_of`] and [`plate_of`] read of the normalised data (the
/// rest of the text is skipped, not built).
#[derive(serde::Deserialize)]
struct DataProbe {
    face: Option<FaceProbe>,
}

#[derive(serde::Deserialize)]
struct FaceProbe {
    id_number: Option<serde_json::Value>,
    uscc: Option<serde_json::Value>,
    family: Option<serde_json::Value>,
    plate: Option<serde_json::Value>,
}

/// What [`holder_id_of`] reads of a pushed record.
#[derive(serde::Deserialize)]
struct RecordProbe {
    uscc: Option<serde_json::Value>,
    id_number: Option<serde_json::Value>,
}

/// The storage backend.
pub trait Store: Send + Sync {
    /// Starts a transaction; dropping it without [`Tx::commit`] rolls it
    /// back. On SQLite it holds the store exclusively; on PostgreSQL it
    /// holds one pooled connection, and rows that decide a sequence number
    /// (list states, a device's chain head) are locked when read.
    fn begin(&self) -> Result<Box<dyn Tx + '_>, StoreError>;

    /// Whether other processes may change this store (several server
    /// instances on one PostgreSQL database). A shared store's list states
    /// are read again on every request instead of served from memory, so a
    /// change committed by another instance is published at once.
    fn shared(&self) -> bool {
        false
    }

    /// Housekeeping that must never run inside a request's transaction,
    /// run when the store opens and daily by `serve`: on PostgreSQL, makes
    /// the check-log partitions of the months around `now` (moving rows of
    /// those months out of the default partition). Nothing on SQLite.
    fn prepare(&self, now: i64) -> Result<(), StoreError> {
        let _ = now;
        Ok(())
    }

    /// The state of the store's connections, for monitoring; `None` when
    /// it cannot be told without waiting.
    fn pool_state(&self) -> Option<PoolState> {
        None
    }
}

/// How many database connections a store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    /// Connections open.
    pub connections: u32,
    /// Of those, idle.
    pub idle: u32,
    /// The most the store opens.
    pub max: u32,
}

/// One transaction: every area's operations, plus commit and savepoints.
/// Rolled back on drop unless committed.
pub trait Tx:
    MetaTx
    + KeysTx
    + ListsTx
    + CertificatesTx
    + HoldersTx
    + TokensTx
    + AuditTx
    + DevicesTx
    + LogsTx
    + EvaluationTx
    + ForwardTx
    + UploadsTx
    + AppsTx
    + DelegationsTx
    + ChangesTx
{
    /// Makes every change durable.
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
    /// Opens a savepoint (one record of a batch); savepoints do not nest.
    fn savepoint(&mut self) -> Result<(), StoreError>;
    /// Keeps the changes since the savepoint.
    fn release(&mut self) -> Result<(), StoreError>;
    /// Undoes the changes since the savepoint and closes it.
    fn rollback_to(&mut self) -> Result<(), StoreError>;
}

/// Configuration values and monitoring counts.
pub trait MetaTx {
    /// A configuration value.
    fn meta(&mut self, key: &str) -> Result<Option<String>, StoreError>;
    /// Sets a configuration value.
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Row counts.
    fn counts(&mut self) -> Result<Counts, StoreError>;
}

/// Signing keys' public halves and the issuing authorities.
pub trait KeysTx {
    /// Every key, by start of signing period, then kid.
    fn keys(&mut self) -> Result<Vec<KeyRecord>, StoreError>;
    /// Adds a key.
    fn insert_key(&mut self, key: &KeyRecord) -> Result<(), StoreError>;
    /// Changes a key's state (0 active, 1 retired, 2 compromised), the end
    /// of its signing period and when a compromise was established.
    fn set_key_state(
        &mut self,
        kid: &Kid,
        state: u8,
        not_after: Option<i64>,
        compromised_since: Option<i64>,
    ) -> Result<(), StoreError>;
    /// Sets until when a retired key stays in the trust list.
    fn set_key_listed_until(&mut self, kid: &Kid, until: i64) -> Result<(), StoreError>;
    /// Until when each retired key stays in the trust list (keys not named
    /// stay listed), by kid.
    fn keys_listed_until(&mut self) -> Result<Vec<(Kid, i64)>, StoreError>;
    /// Every issuing authority, by division.
    fn authorities(&mut self) -> Result<Vec<Authority>, StoreError>;
    /// Adds an issuing authority.
    fn insert_authority(&mut self, authority: &Authority) -> Result<(), StoreError>;
}

/// The signed lists' sequence numbers and the status list's steps.
pub trait ListsTx {
    /// The trust list's state, once initialised (locked until the end of
    /// the transaction where the engine has row locks).
    fn trust_state(&mut self) -> Result<Option<ListState>, StoreError>;
    /// Sets the trust list's state.
    fn set_trust_state(&mut self, state: ListState) -> Result<(), StoreError>;
    /// The status list's state, once initialised (locked until the end of
    /// the transaction where the engine has row locks: two instances never
    /// hand out the same sequence or status index).
    fn status_state(&mut self) -> Result<Option<StatusState>, StoreError>;
    /// Sets the status list's state.
    fn set_status_state(&mut self, state: StatusState) -> Result<(), StoreError>;
    /// Records a step of the status list.
    fn insert_status_step(&mut self, step: &StatusStep) -> Result<(), StoreError>;
    /// The steps after `seq`, in order.
    fn status_steps_after(&mut self, seq: u64) -> Result<Vec<StatusStep>, StoreError>;
    /// The lowest sequence a delta can start from (the first step's
    /// `seq - 1`).
    fn oldest_delta_base(&mut self) -> Result<Option<u64>, StoreError>;
    /// Every status index whose status is not valid, by index.
    fn non_valid(&mut self) -> Result<Vec<(u32, Status)>, StoreError>;
}

/// Certificates, their versions, the correction list and agencies' pushes.
pub trait CertificatesTx {
    /// The current version of a certificate.
    fn certificate(
        &mut self,
        cert_type: CertType,
        number: &str,
    ) -> Result<Option<CertificateRow>, StoreError>;
    /// Inserts or replaces the current-version row.
    fn put_certificate(&mut self, row: &CertificateRow) -> Result<(), StoreError>;
    /// One version of a certificate.
    fn version(
        &mut self,
        cert_type: CertType,
        number: &str,
        version: u16,
    ) -> Result<Option<VersionRow>, StoreError>;
    /// Adds a version (its holder is [`VersionRow::holder_id`]).
    fn insert_version(&mut self, row: &VersionRow) -> Result<(), StoreError>;
    /// Sets the status of the version at a status index.
    fn set_version_status(&mut self, status_index: u32, status: Status) -> Result<(), StoreError>;
    /// The current versions whose status is valid or suspended (the ones a
    /// key change must re-sign), by status index.
    fn live_versions(&mut self) -> Result<Vec<VersionRow>, StoreError>;
    /// The current versions an online lookup finds (issue 11): by the
    /// face's plate, by holder ([`VersionRow::holder_id`]: the face's ID
    /// number, or a vehicle owner's as pushed), or by certificate number;
    /// by type and number, at most `limit`.
    fn lookup_versions(
        &mut self,
        by: shared::checklog::LookupBy,
        value: &str,
        limit: u32,
    ) -> Result<Vec<VersionRow>, StoreError>;
    /// Replaces the signature of a version (re-signed with another key at
    /// `issued_at`, same claims otherwise).
    fn set_version_signed(
        &mut self,
        cert_type: CertType,
        number: &str,
        version: u16,
        signed: &[u8],
        issued_at: i64,
    ) -> Result<(), StoreError>;
    /// Stores the signed certificate of the version at `status_index`
    /// (issuing signs a push's versions together, after deciding them).
    fn set_signature(&mut self, status_index: u32, signed: &[u8]) -> Result<(), StoreError>;
    /// [`CertificatesTx::set_signature`] for many versions at once (an
    /// engine may store them in one statement); an index without a
    /// version is an error.
    fn set_signatures(&mut self, signed: &[(u32, Vec<u8>)]) -> Result<(), StoreError> {
        for (status_index, bytes) in signed {
            self.set_signature(*status_index, bytes)?;
        }
        Ok(())
    }

    /// The current versions of many certificates at once (read and locked
    /// like [`CertificatesTx::certificate`]): each certificate found, with
    /// its current version's row; keys not stored are left out, in no
    /// particular order. A push decides all its records against one such
    /// read (an engine may answer it with one statement).
    fn current_of(
        &mut self,
        keys: &[(CertType, &str)],
    ) -> Result<Vec<(CertificateRow, VersionRow)>, StoreError> {
        let mut found = Vec::new();
        for (cert_type, number) in keys {
            if let Some(c) = self.certificate(*cert_type, number)? {
                let v = self
                    .version(c.cert_type, &c.number, c.version)?
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "{} {} v{} is missing",
                            c.cert_type, c.number, c.version
                        ))
                    })?;
                found.push((c, v));
            }
        }
        Ok(found)
    }
    /// [`CertificatesTx::put_certificate`] for many rows (at most one per
    /// type and number; an engine may store them in one statement).
    fn put_certificates(&mut self, rows: &[CertificateRow]) -> Result<(), StoreError> {
        for row in rows {
            self.put_certificate(row)?;
        }
        Ok(())
    }
    /// [`CertificatesTx::put_certificates`] for rows of certificates not
    /// stored yet (a push's new certificates, read as missing under the
    /// push's lock): an engine may copy them in without looking for a row
    /// to replace, and then fails on one already stored (the default
    /// replaces it, as `put_certificates` does).
    fn insert_certificates(&mut self, rows: &[CertificateRow]) -> Result<(), StoreError> {
        self.put_certificates(rows)
    }
    /// [`CertificatesTx::insert_version`] for many rows (an engine may
    /// store them in one statement).
    fn insert_versions(&mut self, rows: &[VersionRow]) -> Result<(), StoreError> {
        for row in rows {
            self.insert_version(row)?;
        }
        Ok(())
    }
    /// [`CertificatesTx::set_version_status`] for many status indices, at
    /// most one change per index (an engine may change them in one
    /// statement); an index without a version is an error.
    fn set_version_statuses(&mut self, changes: &[(u32, Status)]) -> Result<(), StoreError> {
        for (status_index, status) in changes {
            self.set_version_status(*status_index, *status)?;
        }
        Ok(())
    }

    /// Records (or refreshes) a correction-list entry, unresolving it.
    fn upsert_nonconforming(&mut self, row: &NonconformingRow) -> Result<(), StoreError>;
    /// Resolves the open entries for a type and number; how many.
    fn resolve_nonconforming(
        &mut self,
        cert_type: &str,
        numbers: &[&str],
        at: i64,
    ) -> Result<usize, StoreError>;
    /// [`CertificatesTx::resolve_nonconforming`] for many (type, number)
    /// pairs at once; how many entries were resolved.
    fn resolve_nonconforming_many(
        &mut self,
        keys: &[(&str, &str)],
        at: i64,
    ) -> Result<usize, StoreError> {
        let mut n = 0;
        for (cert_type, number) in keys {
            n += self.resolve_nonconforming(cert_type, &[number], at)?;
        }
        Ok(n)
    }
    /// The correction list, of one agency or all, open entries only or all.
    fn nonconforming(
        &mut self,
        agency: Option<DivisionCode>,
        open_only: bool,
    ) -> Result<Vec<NonconformingRow>, StoreError>;

    /// Records a lifecycle change with its decision.
    fn insert_status_change(&mut self, row: &StatusChangeRow) -> Result<(), StoreError>;
    /// A certificate's lifecycle changes, oldest first.
    fn status_changes(
        &mut self,
        cert_type: CertType,
        number: &str,
    ) -> Result<Vec<StatusChangeRow>, StoreError>;

    /// Records an agency's acknowledged push.
    fn record_push(&mut self, push: &AgencyPush) -> Result<(), StoreError>;
    /// Every agency's last push, by division.
    fn agency_pushes(&mut self) -> Result<Vec<AgencyPush>, StoreError>;

    /// Stores an outage report; returns its id.
    fn insert_outage(&mut self, outage: &OutageRow) -> Result<i64, StoreError>;
    /// The outage reports of `division` (every division's for `None`), by
    /// division, then fault start, then id.
    fn outages(&mut self, division: Option<DivisionCode>) -> Result<Vec<OutageRow>, StoreError>;
}

/// Holders: their certificates and their registered device keys.
pub trait HoldersTx {
    /// The current versions of the certificates whose holder
    /// ([`VersionRow::holder_id`]) is `holder_id`, by type and number.
    fn holder_certificates(&mut self, holder_id: &str) -> Result<Vec<VersionRow>, StoreError>;
    /// Records a holder's device key; whether it was new.
    fn insert_holder_device(
        &mut self,
        holder_id: &str,
        alg: Alg,
        public_key: &[u8],
        at: i64,
    ) -> Result<bool, StoreError>;
}

/// Bearer tokens (stored as hashes).
pub trait TokensTx {
    /// Adds a token; returns its id.
    fn insert_token(&mut self, token: &TokenRow) -> Result<i64, StoreError>;
    /// The token whose current or replaced secret has this hash (compare
    /// [`TokenRow::hash`] to tell which).
    fn token_by_hash(&mut self, hash: &[u8; 32]) -> Result<Option<TokenRow>, StoreError>;
    /// Records a use of token `id` at `at`.
    fn touch_token(&mut self, id: i64, at: i64) -> Result<(), StoreError>;
    /// Gives token `id` a new secret; the current one becomes the replaced
    /// one (a replaced secret still kept is dropped). The row after the
    /// change, `None` if there is no such token or it is revoked.
    fn rotate_token(
        &mut self,
        id: i64,
        rotation: &TokenRotation,
    ) -> Result<Option<TokenRow>, StoreError>;
    /// Every token, oldest first (hashes included; never show them).
    fn tokens(&mut self) -> Result<Vec<TokenRow>, StoreError>;
    /// Revokes a token at `at` unless already revoked; the row after the
    /// change, `None` if there is no such token.
    fn revoke_token(&mut self, id: i64, at: i64) -> Result<Option<TokenRow>, StoreError>;
}

/// The append-only audit log.
pub trait AuditTx {
    /// Appends an audit entry (the table refuses updates and deletes).
    fn append_audit(&mut self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// The newest audit entries, newest first.
    fn audit_tail(&mut self, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;
    /// Audit rows with an id above `after`, oldest first, at most `limit`.
    fn audit_after(&mut self, after: i64, limit: u32) -> Result<Vec<AuditRow>, StoreError>;
}

/// Enrolled officer devices and their chain heads.
pub trait DevicesTx {
    /// The device with this key identifier (locked until the end of the
    /// transaction where the engine has row locks).
    fn device_by_kid(&mut self, kid: &Kid) -> Result<Option<DeviceRow>, StoreError>;
    /// The device with this row id (locked like [`DevicesTx::device_by_kid`]).
    fn device(&mut self, id: i64) -> Result<Option<DeviceRow>, StoreError>;
    /// Enrolls a device (its `id`, `next_seq` and `head` are ignored);
    /// returns its id.
    fn insert_device(&mut self, device: &DeviceRow) -> Result<i64, StoreError>;
    /// Every device enrolled under `token_id` (every device when `None`),
    /// revoked ones included, by id.
    fn devices(&mut self, token_id: Option<i64>) -> Result<Vec<DeviceRow>, StoreError>;
    /// Marks a device revoked at `at` (its batches are refused from then
    /// on); false when it was revoked already or does not exist.
    fn revoke_device(&mut self, id: i64, at: i64) -> Result<bool, StoreError>;
    /// Moves a device's chain head after accepted records.
    fn set_device_head(
        &mut self,
        device_id: i64,
        next_seq: u64,
        head: &[u8; 32],
    ) -> Result<(), StoreError>;
}

/// Uploaded check logs: the signed batches and their records.
pub trait LogsTx {
    /// The stored hashes of a device's records `from..=to`, by seq.
    fn log_hashes(
        &mut self,
        device_id: i64,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, [u8; 32])>, StoreError>;
    /// Keeps a signed batch as evidence; returns its id.
    fn insert_log_batch(
        &mut self,
        device_id: i64,
        received_at: i64,
        seqs: (u64, u64),
        bytes: &[u8],
    ) -> Result<i64, StoreError>;
    /// Stores an accepted record (a second record with the same device and
    /// seq is an error).
    fn insert_log_record(&mut self, record: &LogRecordRow) -> Result<(), StoreError>;
    /// Stores many records at once, skipping any whose device and seq are
    /// already stored (idempotent: a batch uploaded twice, or through two
    /// instances, is stored once); how many were new.
    fn insert_log_records(&mut self, records: &[LogRecordRow]) -> Result<usize, StoreError>;
    /// The retention anchor of a device: the seq and hash of its last
    /// purged record (its first kept record links to that hash).
    fn log_anchor(&mut self, device_id: i64) -> Result<Option<(u64, [u8; 32])>, StoreError>;
    /// Purges at most `limit` of a device's oldest records, only a prefix
    /// of its chain whose device times are all before `before`, moves its
    /// anchor to the last one purged, and deletes its batches none of whose
    /// records remain; how many records went.
    fn purge_device_logs(
        &mut self,
        device_id: i64,
        before: i64,
        limit: u32,
        at: i64,
    ) -> Result<u64, StoreError>;
    /// The stored evaluation of a year (JSON), kept when its records go.
    fn eval_result(&mut self, year: i32) -> Result<Option<String>, StoreError>;
    /// Stores the evaluation of a year (JSON).
    fn set_eval_result(&mut self, year: i32, json: &str, at: i64) -> Result<(), StoreError>;
    /// A device's records with seq after `after` (all when `None`), in
    /// order, at most `limit`.
    fn log_records(
        &mut self,
        device_id: i64,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<LogRecordRow>, StoreError>;
}

/// What the annual evaluation reads and the facts administrators enter.
pub trait EvaluationTx {
    /// Every certificate with its current status and first signing time,
    /// by type and number.
    fn eval_certificates(&mut self) -> Result<Vec<EvalCert>, StoreError>;
    /// Records still on a correction list.
    fn eval_open_corrections(&mut self) -> Result<Vec<EvalCorrection>, StoreError>;
    /// Stored check records with device time in `from..to` or carried by a
    /// batch that arrived in `from..to`.
    fn eval_checks(&mut self, from: i64, to: i64) -> Result<Vec<EvalCheck>, StoreError>;
    /// The earliest device time of the check records that
    /// [`eval_checks`](Self::eval_checks)`(-∞, to)` would read, without
    /// reading them (the purge asks it to find the oldest year it drops).
    fn eval_oldest_check(&mut self, to: i64) -> Result<Option<i64>, StoreError>;
    /// Every uploaded batch (id, device, arrival), by device and id.
    fn eval_batches(&mut self) -> Result<Vec<EvalBatch>, StoreError>;
    /// Refusals (dispositions not accepted) with device time in `from..to`.
    fn eval_refusals(&mut self, from: i64, to: i64) -> Result<Vec<EvalRefusal>, StoreError>;
    /// Refused check-log uploads audited in `from..to`.
    fn eval_rejected_uploads(
        &mut self,
        from: i64,
        to: i64,
    ) -> Result<Vec<EvalRejectedUpload>, StoreError>;
    /// Stores a training record with its evidence; returns its id.
    fn insert_training(&mut self, row: &TrainingRow) -> Result<i64, StoreError>;
    /// The training records of a year, with evidence, by id.
    fn training(&mut self, year: i32) -> Result<Vec<TrainingRow>, StoreError>;
    /// Sets the declared uncollected count of a city, year and type.
    fn set_declared(&mut self, row: &DeclaredRow, at: i64) -> Result<(), StoreError>;
    /// The declared uncollected counts of a year.
    fn declared(&mut self, year: i32) -> Result<Vec<DeclaredRow>, StoreError>;
    /// Stores a complaint decision; returns its id.
    fn insert_complaint(&mut self, row: &ComplaintRow) -> Result<i64, StoreError>;
    /// The complaints of a year, by id.
    fn complaints(&mut self, year: i32) -> Result<Vec<ComplaintRow>, StoreError>;
    /// Stores an evidence file unless one with its hash is already stored;
    /// whether it was new.
    fn put_evidence_file(&mut self, file: &EvidenceFile) -> Result<bool, StoreError>;
    /// An evidence file by its SHA-256.
    fn evidence_file(&mut self, sha256: &str) -> Result<Option<EvidenceFile>, StoreError>;
}

// Conversions between stored integers and typed values, shared by the
// engines.

pub(crate) fn i64_of(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} out of range")))
}

pub(crate) fn u64_of(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} negative")))
}

pub(crate) fn u32_of(v: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} out of range")))
}

pub(crate) fn status_of(v: i64) -> Result<Status, StoreError> {
    u8::try_from(v)
        .ok()
        .and_then(Status::from_bits)
        .ok_or_else(|| StoreError::Corrupt(format!("status {v}")))
}

pub(crate) fn division_of(v: i64) -> Result<DivisionCode, StoreError> {
    u32::try_from(v)
        .ok()
        .and_then(|c| DivisionCode::from_u32(c).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("division {v}")))
}

pub(crate) fn cert_type_of(s: &str) -> Result<CertType, StoreError> {
    CertType::from_code(s).ok_or_else(|| StoreError::Corrupt(format!("certificate type {s:?}")))
}

pub(crate) fn version_of(v: i64) -> Result<u16, StoreError> {
    u16::try_from(v).map_err(|_| StoreError::Corrupt(format!("version {v}")))
}

pub(crate) fn hash32(v: Vec<u8>, what: &str) -> Result<[u8; 32], StoreError> {
    v.try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what} is not 32 bytes")))
}

pub(crate) fn kid_of(hex_kid: &str, what: &str) -> Result<Kid, StoreError> {
    hex::decode(hex_kid)
        .ok()
        .and_then(|b| Kid::from_slice(&b))
        .ok_or_else(|| StoreError::Corrupt(format!("{what} {hex_kid:?}")))
}

pub(crate) fn alg_of(name: &str, what: &str) -> Result<Alg, StoreError> {
    Alg::from_name(name).ok_or_else(|| StoreError::Corrupt(format!("{what} {name:?}")))
}

pub(crate) fn uscc_of(s: &str) -> Result<shared::domain::Uscc, StoreError> {
    shared::domain::Uscc::parse(s)
        .map_err(|e| StoreError::Corrupt(format!("authority credit code: {e}")))
}

/// A check record queued for the province that issued its certificate
/// (sender side of cross-province forwarding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// The device that made it.
    pub device_id: i64,
    /// Its seq.
    pub seq: u64,
    /// The issuing province's code.
    pub province: u32,
    /// The device's enrollment division.
    pub division: u32,
    /// Lower bound of its time (the device's enrollment).
    pub not_before: i64,
    /// When its batch arrived here.
    pub received_at: i64,
    /// The device's record bytes.
    pub record: Vec<u8>,
}

/// A signed batch for another province, as stored until it is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardBatchRow {
    /// The batch id (32 hex digits).
    pub id: String,
    /// The receiving province.
    pub province: u32,
    /// When it was made.
    pub created_at: i64,
    /// The signed bytes, sent as they are on every attempt.
    pub bytes: Vec<u8>,
    /// How many records it carries.
    pub records: u64,
    /// Attempts made.
    pub attempts: u32,
    /// Not tried again before this time.
    pub next_attempt_at: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the receiver acknowledged it.
    pub sent_at: Option<i64>,
}

/// What waits to leave the server, for `/metrics`: the cross-province
/// outbox and the applications' change notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    /// Check records queued for another province, not yet in a batch.
    pub forward_queued: u64,
    /// Signed batches not yet delivered.
    pub forward_undelivered: u64,
    /// When the oldest undelivered batch was made.
    pub forward_oldest: Option<i64>,
    /// Applications with changes not yet acknowledged.
    pub webhooks_pending: u64,
    /// Of those, the ones whose last attempt failed.
    pub webhooks_failing: u64,
}

/// The one query both engines answer [`ForwardTx::backlog`] with, in the
/// order of [`Backlog`]'s fields (plain SQL, no parameters).
pub(crate) const BACKLOG_QUERY: &str = "SELECT
     (SELECT count(*) FROM forward_outbox WHERE batch IS NULL),
     (SELECT count(*) FROM forward_batches WHERE sent_at IS NULL),
     (SELECT min(created_at) FROM forward_batches WHERE sent_at IS NULL),
     (SELECT count(*) FROM webhook_outbox WHERE cursor > delivered),
     (SELECT count(*) FROM webhook_outbox WHERE cursor > delivered AND attempts > 0)";

/// A check record received from another province, with what this server
/// derived from its scanned text (receiver side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCheckRow {
    /// The sending province.
    pub province: u32,
    /// The device's id at the sender.
    pub device: u64,
    /// The record's seq.
    pub seq: u64,
    /// The batch id that first carried it.
    pub batch: String,
    /// The device's enrollment division at the sender.
    pub division: u32,
    /// The sender's lower bound of its time.
    pub not_before: i64,
    /// When the sender received it.
    pub sent_received_at: i64,
    /// When it arrived here.
    pub received_at: i64,
    /// Device time.
    pub at: i64,
    /// The scanned text.
    pub scanned: Option<String>,
    /// This server verified the certificate's signature.
    pub srv_signature: bool,
    /// The holder's presentation verified.
    pub srv_presentation: bool,
    /// The text was a presentation.
    pub presented: bool,
    /// Server-derived type code.
    pub srv_cert_type: Option<String>,
    /// Server-derived number.
    pub srv_cert_number: Option<String>,
    /// Server-derived issuing division.
    pub srv_division: Option<DivisionCode>,
    /// The first problem short of status.
    pub srv_reason: Option<String>,
}

/// Cross-province forwarding: the sender's outbox and batches, the
/// receiver's stored batches and records.
pub trait ForwardTx {
    /// Queues a record for `row.province`; a record already queued is kept.
    fn queue_forward(&mut self, row: &OutboxRow) -> Result<(), StoreError>;
    /// Provinces with queued records not yet in a batch.
    fn forward_pending_provinces(&mut self) -> Result<Vec<u32>, StoreError>;
    /// Up to `limit` queued records for `province` not yet in a batch, by
    /// device and seq; records of a revoked device are held back (none of
    /// its checks counts, docs/evaluation.md).
    fn forward_unbatched(
        &mut self,
        province: u32,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError>;
    /// Stores a new batch and marks its records as in it.
    fn insert_forward_batch(
        &mut self,
        batch: &ForwardBatchRow,
        records: &[(i64, u64)],
    ) -> Result<(), StoreError>;
    /// The undelivered batch due soonest at `now` (next attempt not after it).
    fn forward_due(&mut self, now: i64) -> Result<Option<ForwardBatchRow>, StoreError>;
    /// Records an attempt: delivered at `sent_at`, or failed with `error`
    /// and not tried again before `next_attempt_at`.
    fn forward_attempted(
        &mut self,
        id: &str,
        sent_at: Option<i64>,
        error: Option<&str>,
        next_attempt_at: i64,
    ) -> Result<(), StoreError>;
    /// Every batch made, oldest first (for monitoring and tests).
    fn forward_batches(&mut self) -> Result<Vec<ForwardBatchRow>, StoreError>;
    /// Stores a received batch's bytes; false when that province's batch
    /// id was stored before.
    fn insert_peer_batch(
        &mut self,
        province: u32,
        id: &str,
        received_at: i64,
        bytes: &[u8],
    ) -> Result<bool, StoreError>;
    /// Stores a received record; false when it was stored before.
    fn insert_peer_check(&mut self, row: &PeerCheckRow) -> Result<bool, StoreError>;
    /// Received records dated in `[from, to)` or received in it.
    fn peer_checks(&mut self, from: i64, to: i64) -> Result<Vec<PeerCheckRow>, StoreError>;
    /// The earliest time (device time or arrival) of the received records
    /// both dated and received before `before`: what
    /// [`purge_peer_checks`](Self::purge_peer_checks) would delete.
    fn peer_checks_oldest(&mut self, before: i64) -> Result<Option<i64>, StoreError>;
    /// Deletes up to `limit` received records both dated and received
    /// before `before` (so no later year reads them), then the received
    /// batches that arrived before it and have no record left; how many
    /// records.
    fn purge_peer_checks(&mut self, before: i64, limit: u32) -> Result<u64, StoreError>;
    /// Deletes up to `limit` delivered batches made before `before`, with
    /// their queued records; batches not yet delivered stay (still owed).
    /// How many records.
    fn purge_forwarded(&mut self, before: i64, limit: u32) -> Result<u64, StoreError>;
    /// What waits to leave: queued records, undelivered batches, pending
    /// and failing notifications (counted in one read).
    fn backlog(&mut self) -> Result<Backlog, StoreError>;
}
