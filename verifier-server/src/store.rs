//! Storage: the [`Store`] trait the service is written against, and
//! [`SqliteStore`], its SQLite implementation (WAL, `synchronous=FULL`,
//! foreign keys on, migrations at open).
//!
//! Every access goes through a transaction ([`Store::begin`] → [`Tx`]); a
//! [`Tx`] is rolled back when dropped without [`Tx::commit`]. Savepoints let
//! a batch keep each record atomic while the whole batch is acknowledged
//! after one commit. The trait holds plain data operations; the business
//! rules (what is issued, updated or unchanged) live in `issuing` and
//! `lists`, so another backend (PostgreSQL) implements only this file's
//! trait.
//!
//! The store never holds private key material: secrets live in files (see
//! `keys`), the `keys` table holds their public half and metadata.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use crate::evaluation::data::{
    ComplaintRow, DeclaredRow, EvalCert, EvalCheck, EvalCorrection, EvalRefusal,
    EvalRejectedUpload, Evidence, TrainingRow,
};
use rusqlite::{params, Connection, OptionalExtension};
use shared::crypto::{Alg, Kid};
use shared::domain::{CertType, DivisionCode, Uscc};
use shared::status::Status;
use shared::trust::Authority;

/// A storage failure. Its text is for the log, never for a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database reported an error.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The stored data breaks an invariant (a corrupted or foreign file).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// Another thread panicked while holding the connection.
    #[error("database connection poisoned by a panic")]
    Poisoned,
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

    fn parse(s: &str) -> Result<KeyRole, StoreError> {
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
}

/// An audit entry with its position in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Increasing row id (the paging cursor).
    pub id: i64,
    /// The entry.
    pub entry: AuditEntry,
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

/// The storage backend.
pub trait Store: Send + Sync {
    /// Starts a transaction; it holds the store exclusively until committed
    /// or dropped (dropping rolls back).
    fn begin(&self) -> Result<Box<dyn Tx + '_>, StoreError>;
}

/// One transaction. Rolled back on drop unless committed.
pub trait Tx {
    /// Makes every change durable.
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
    /// Opens a savepoint (one record of a batch).
    fn savepoint(&mut self) -> Result<(), StoreError>;
    /// Keeps the changes since the savepoint.
    fn release(&mut self) -> Result<(), StoreError>;
    /// Undoes the changes since the savepoint and closes it.
    fn rollback_to(&mut self) -> Result<(), StoreError>;

    /// A configuration value.
    fn meta(&mut self, key: &str) -> Result<Option<String>, StoreError>;
    /// Sets a configuration value.
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError>;

    /// Every key.
    fn keys(&mut self) -> Result<Vec<KeyRecord>, StoreError>;
    /// Adds a key.
    fn insert_key(&mut self, key: &KeyRecord) -> Result<(), StoreError>;

    /// Every issuing authority, by division.
    fn authorities(&mut self) -> Result<Vec<Authority>, StoreError>;
    /// Adds an issuing authority.
    fn insert_authority(&mut self, authority: &Authority) -> Result<(), StoreError>;

    /// The trust list's state, once initialised.
    fn trust_state(&mut self) -> Result<Option<ListState>, StoreError>;
    /// Sets the trust list's state.
    fn set_trust_state(&mut self, state: ListState) -> Result<(), StoreError>;

    /// The status list's state, once initialised.
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
    /// Every status index whose status is not valid.
    fn non_valid(&mut self) -> Result<Vec<(u32, Status)>, StoreError>;

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
    /// Adds a version.
    fn insert_version(&mut self, row: &VersionRow) -> Result<(), StoreError>;
    /// Sets the status of the version at a status index.
    fn set_version_status(&mut self, status_index: u32, status: Status) -> Result<(), StoreError>;

    /// Records (or refreshes) a correction-list entry, unresolving it.
    fn upsert_nonconforming(&mut self, row: &NonconformingRow) -> Result<(), StoreError>;
    /// Resolves the open entries for a type and number; how many.
    fn resolve_nonconforming(
        &mut self,
        cert_type: &str,
        numbers: &[&str],
        at: i64,
    ) -> Result<usize, StoreError>;
    /// The correction list, of one agency or all, open entries only or all.
    fn nonconforming(
        &mut self,
        agency: Option<DivisionCode>,
        open_only: bool,
    ) -> Result<Vec<NonconformingRow>, StoreError>;

    /// Adds a token; returns its id.
    fn insert_token(&mut self, token: &TokenRow) -> Result<i64, StoreError>;
    /// The token with this hash.
    fn token_by_hash(&mut self, hash: &[u8; 32]) -> Result<Option<TokenRow>, StoreError>;

    /// Appends an audit entry (the table refuses updates and deletes).
    fn append_audit(&mut self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// The newest audit entries, newest first.
    fn audit_tail(&mut self, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// Records an agency's acknowledged push.
    fn record_push(&mut self, push: &AgencyPush) -> Result<(), StoreError>;
    /// Every agency's last push, by division.
    fn agency_pushes(&mut self) -> Result<Vec<AgencyPush>, StoreError>;

    /// Row counts.
    fn counts(&mut self) -> Result<Counts, StoreError>;

    /// Every token, oldest first (hashes included; never show them).
    fn tokens(&mut self) -> Result<Vec<TokenRow>, StoreError>;
    /// Revokes a token at `at` unless already revoked; the row after the
    /// change, `None` if there is no such token.
    fn revoke_token(&mut self, id: i64, at: i64) -> Result<Option<TokenRow>, StoreError>;
    /// Audit rows with an id above `after`, oldest first, at most `limit`.
    fn audit_after(&mut self, after: i64, limit: u32) -> Result<Vec<AuditRow>, StoreError>;

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
    /// stay listed).
    fn keys_listed_until(&mut self) -> Result<Vec<(Kid, i64)>, StoreError>;

    /// The current versions of the certificates whose holder (see the
    /// `holder_id` column) is `holder_id`, by type and number.
    fn holder_certificates(&mut self, holder_id: &str) -> Result<Vec<VersionRow>, StoreError>;
    /// The current versions an online lookup finds (issue 11): by the
    /// face's plate, by holder ID number (the face's, or a vehicle owner's as
    /// pushed), or by certificate number; at most `limit`.
    fn lookup_versions(
        &mut self,
        by: shared::checklog::LookupBy,
        value: &str,
        limit: u32,
    ) -> Result<Vec<VersionRow>, StoreError>;
    /// The current versions whose status is valid or suspended (the ones a
    /// key change must re-sign).
    fn live_versions(&mut self) -> Result<Vec<VersionRow>, StoreError>;
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
    /// Records a holder's device key; whether it was new.
    fn insert_holder_device(
        &mut self,
        holder_id: &str,
        alg: Alg,
        public_key: &[u8],
        at: i64,
    ) -> Result<bool, StoreError>;
    /// The device with this key identifier.
    fn device_by_kid(&mut self, kid: &Kid) -> Result<Option<DeviceRow>, StoreError>;
    /// The device with this row id.
    fn device(&mut self, id: i64) -> Result<Option<DeviceRow>, StoreError>;
    /// Enrolls a device (its `id`, `next_seq` and `head` are ignored);
    /// returns its id.
    fn insert_device(&mut self, device: &DeviceRow) -> Result<i64, StoreError>;
    /// Moves a device's chain head after accepted records.
    fn set_device_head(
        &mut self,
        device_id: i64,
        next_seq: u64,
        head: &[u8; 32],
    ) -> Result<(), StoreError>;
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
    /// Stores an accepted record.
    fn insert_log_record(&mut self, record: &LogRecordRow) -> Result<(), StoreError>;
    /// A device's records with seq after `after` (all when `None`), in
    /// order, at most `limit`.
    fn log_records(
        &mut self,
        device_id: i64,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<LogRecordRow>, StoreError>;

    /// Every certificate with its current status and first signing time
    /// (evaluation).
    fn eval_certificates(&mut self) -> Result<Vec<EvalCert>, StoreError>;
    /// Records still on a correction list (evaluation).
    fn eval_open_corrections(&mut self) -> Result<Vec<EvalCorrection>, StoreError>;
    /// Stored check records with device time in `from..to` (evaluation).
    fn eval_checks(&mut self, from: i64, to: i64) -> Result<Vec<EvalCheck>, StoreError>;
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
}

/// Migrations, in order; the `schema_version` table records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE keys (
    kid               TEXT PRIMARY KEY,
    role              TEXT NOT NULL CHECK (role IN ('root', 'issuer')),
    alg               TEXT NOT NULL,
    public_key        BLOB NOT NULL,
    not_before        INTEGER NOT NULL,
    not_after         INTEGER,
    state             INTEGER NOT NULL CHECK (state IN (0, 1, 2)),
    compromised_since INTEGER,
    file              TEXT NOT NULL
) STRICT;

CREATE TABLE authorities (
    division INTEGER PRIMARY KEY,
    uscc     TEXT NOT NULL,
    name     TEXT NOT NULL
) STRICT;

CREATE TABLE list_state (
    list       TEXT PRIMARY KEY CHECK (list IN ('trust', 'status')),
    seq        INTEGER NOT NULL,
    issued_at  INTEGER NOT NULL,
    next_index INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE status_steps (
    seq       INTEGER PRIMARY KEY,
    issued_at INTEGER NOT NULL,
    delta     BLOB NOT NULL
) STRICT;

CREATE TABLE certificates (
    cert_type       TEXT NOT NULL,
    number          TEXT NOT NULL,
    version         INTEGER NOT NULL,
    status          INTEGER NOT NULL,
    status_index    INTEGER NOT NULL UNIQUE,
    issuer_division INTEGER NOT NULL,
    issued_at       INTEGER NOT NULL,
    PRIMARY KEY (cert_type, number)
) STRICT;

CREATE TABLE certificate_versions (
    cert_type       TEXT NOT NULL,
    number          TEXT NOT NULL,
    version         INTEGER NOT NULL,
    status_index    INTEGER NOT NULL UNIQUE,
    status          INTEGER NOT NULL CHECK (status BETWEEN 0 AND 3),
    record_json     TEXT NOT NULL,
    data_json       TEXT NOT NULL,
    signed          BLOB NOT NULL,
    identifier      TEXT,
    issued_at       INTEGER NOT NULL,
    issuer_division INTEGER NOT NULL,
    PRIMARY KEY (cert_type, number, version),
    FOREIGN KEY (cert_type, number) REFERENCES certificates (cert_type, number)
        DEFERRABLE INITIALLY DEFERRED
) STRICT;
CREATE INDEX certificate_versions_non_valid ON certificate_versions (status) WHERE status != 0;

CREATE TABLE nonconforming (
    agency       INTEGER NOT NULL,
    cert_type    TEXT NOT NULL,
    number       TEXT NOT NULL,
    reasons_json TEXT NOT NULL,
    record_json  TEXT NOT NULL,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    resolved_at  INTEGER,
    PRIMARY KEY (agency, cert_type, number)
) STRICT;

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY,
    hash       BLOB NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    division   INTEGER,
    subject    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

CREATE TABLE audit (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    ts       INTEGER NOT NULL,
    token_id INTEGER REFERENCES tokens (id),
    role     TEXT,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    outcome  TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
"#,
    // 2: each agency's last push (R4: resumable pushes, overdue agencies).
    r#"
CREATE TABLE agency_pushes (
    division     INTEGER PRIMARY KEY,
    last_push_at INTEGER NOT NULL,
    records      INTEGER NOT NULL
) STRICT;
"#,
    // 3: holders, device keys, key overlap windows (holders, rotation).
    // A certificate's holder: the face's ID number (person certificates) or
    // credit code (permits); for vehicles, the owner's credit code or ID
    // number as pushed in the record's `uscc` / `id_number` fields.
    r#"
ALTER TABLE certificate_versions ADD COLUMN holder_id TEXT GENERATED ALWAYS AS (
    coalesce(
        json_extract(data_json, '$.face.id_number'),
        json_extract(data_json, '$.face.uscc'),
        CASE WHEN json_extract(data_json, '$.face.family') = 'vehicle' THEN coalesce(
            upper(trim(json_extract(record_json, '$.uscc'))),
            upper(trim(json_extract(record_json, '$.id_number')))
        ) END
    )
) VIRTUAL;
CREATE INDEX certificate_versions_holder ON certificate_versions (holder_id)
    WHERE holder_id IS NOT NULL;

CREATE TABLE holder_devices (
    holder_id     TEXT NOT NULL,
    alg           TEXT NOT NULL,
    public_key    BLOB NOT NULL,
    registered_at INTEGER NOT NULL,
    PRIMARY KEY (holder_id, public_key)
) STRICT;

CREATE TABLE key_overlap (
    kid          TEXT PRIMARY KEY REFERENCES keys (kid),
    listed_until INTEGER NOT NULL
) STRICT;
"#,
    // 4: officer devices and their uploaded check logs (R10, R12): each
    // record once per (device, seq), the signed batches kept as evidence.
    r#"
CREATE TABLE devices (
    id          INTEGER PRIMARY KEY,
    kid         TEXT NOT NULL UNIQUE,
    alg         TEXT NOT NULL,
    public_key  BLOB NOT NULL,
    token_id    INTEGER NOT NULL REFERENCES tokens (id),
    division    INTEGER NOT NULL,
    label       TEXT NOT NULL,
    enrolled_at INTEGER NOT NULL,
    revoked_at  INTEGER,
    next_seq    INTEGER NOT NULL DEFAULT 0,
    head        BLOB NOT NULL
) STRICT;
CREATE INDEX devices_token ON devices (token_id);

CREATE TABLE verification_batches (
    id          INTEGER PRIMARY KEY,
    device_id   INTEGER NOT NULL REFERENCES devices (id),
    received_at INTEGER NOT NULL,
    first_seq   INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    bytes       BLOB NOT NULL
) STRICT;

CREATE TABLE verification_records (
    device_id        INTEGER NOT NULL REFERENCES devices (id),
    seq              INTEGER NOT NULL,
    hash             BLOB NOT NULL,
    prev             BLOB NOT NULL,
    at               INTEGER NOT NULL,
    kind             INTEGER NOT NULL CHECK (kind IN (0, 1)),
    verdict          TEXT,
    reason           TEXT,
    cert_type        TEXT,
    cert_number      TEXT,
    cert_version     INTEGER,
    scanned          TEXT,
    status_seq       INTEGER,
    trust_seq        INTEGER,
    warnings         TEXT,
    data_age         INTEGER,
    check_seq        INTEGER,
    accepted         INTEGER,
    note             TEXT,
    srv_signature    INTEGER,
    srv_presentation INTEGER,
    srv_cert_type    TEXT,
    srv_cert_number  TEXT,
    srv_cert_version INTEGER,
    srv_division     INTEGER,
    srv_reason       TEXT,
    batch_id         INTEGER NOT NULL REFERENCES verification_batches (id),
    PRIMARY KEY (device_id, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX verification_records_cert
    ON verification_records (srv_cert_type, srv_cert_number) WHERE srv_signature = 1;
CREATE TRIGGER verification_records_no_update BEFORE UPDATE ON verification_records
    BEGIN SELECT RAISE(ABORT, 'verification records are append-only'); END;
CREATE TRIGGER verification_records_no_delete BEFORE DELETE ON verification_records
    BEGIN SELECT RAISE(ABORT, 'verification records are append-only'); END;
CREATE TRIGGER verification_batches_no_update BEFORE UPDATE ON verification_batches
    BEGIN SELECT RAISE(ABORT, 'verification batches are append-only'); END;
CREATE TRIGGER verification_batches_no_delete BEFORE DELETE ON verification_batches
    BEGIN SELECT RAISE(ABORT, 'verification batches are append-only'); END;
"#,
    // 5: a conforming push resolves correction-list entries by type and
    // number (any agency); without this index every issued record scanned
    // the whole table.
    r#"
CREATE INDEX nonconforming_open ON nonconforming (cert_type, number) WHERE resolved_at IS NULL;
"#,
    // 6: the annual evaluation's administrator-entered facts (R11, R12).
    r#"
CREATE TABLE eval_training (
    id          INTEGER PRIMARY KEY,
    division    INTEGER NOT NULL,
    year        INTEGER NOT NULL,
    coverage    TEXT NOT NULL CHECK (coverage IN ('full', 'partial', 'little')),
    description TEXT NOT NULL,
    entered_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX eval_training_year ON eval_training (year);
CREATE TABLE eval_training_evidence (
    training_id INTEGER NOT NULL REFERENCES eval_training (id),
    file_name   TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    description TEXT NOT NULL
) STRICT;
CREATE TABLE eval_declared (
    division   INTEGER NOT NULL,
    year       INTEGER NOT NULL,
    cert_type  TEXT NOT NULL,
    count      INTEGER NOT NULL CHECK (count >= 0),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (division, year, cert_type)
) STRICT;
CREATE TABLE eval_complaints (
    id          INTEGER PRIMARY KEY,
    division    INTEGER NOT NULL,
    year        INTEGER NOT NULL,
    description TEXT NOT NULL,
    upheld      INTEGER NOT NULL CHECK (upheld IN (0, 1)),
    entered_at  INTEGER NOT NULL
) STRICT;
"#,
    // 7: online lookups (issue 11): a device's log may hold records of kind
    // 2 (`lookup`), so the kind check is widened (SQLite cannot alter a
    // CHECK: the table is rebuilt; DROP TABLE fires no triggers). Lookups by
    // plate use an index on the face's plate.
    r#"
CREATE TABLE verification_records_v7 (
    device_id        INTEGER NOT NULL REFERENCES devices (id),
    seq              INTEGER NOT NULL,
    hash             BLOB NOT NULL,
    prev             BLOB NOT NULL,
    at               INTEGER NOT NULL,
    kind             INTEGER NOT NULL CHECK (kind IN (0, 1, 2)),
    verdict          TEXT,
    reason           TEXT,
    cert_type        TEXT,
    cert_number      TEXT,
    cert_version     INTEGER,
    scanned          TEXT,
    status_seq       INTEGER,
    trust_seq        INTEGER,
    warnings         TEXT,
    data_age         INTEGER,
    check_seq        INTEGER,
    accepted         INTEGER,
    note             TEXT,
    srv_signature    INTEGER,
    srv_presentation INTEGER,
    srv_cert_type    TEXT,
    srv_cert_number  TEXT,
    srv_cert_version INTEGER,
    srv_division     INTEGER,
    srv_reason       TEXT,
    batch_id         INTEGER NOT NULL REFERENCES verification_batches (id),
    PRIMARY KEY (device_id, seq)
) STRICT, WITHOUT ROWID;
INSERT INTO verification_records_v7 SELECT * FROM verification_records;
DROP TABLE verification_records;
ALTER TABLE verification_records_v7 RENAME TO verification_records;
CREATE INDEX verification_records_cert
    ON verification_records (srv_cert_type, srv_cert_number) WHERE srv_signature = 1;
CREATE TRIGGER verification_records_no_update BEFORE UPDATE ON verification_records
    BEGIN SELECT RAISE(ABORT, 'verification records are append-only'); END;
CREATE TRIGGER verification_records_no_delete BEFORE DELETE ON verification_records
    BEGIN SELECT RAISE(ABORT, 'verification records are append-only'); END;
CREATE INDEX certificate_versions_plate
    ON certificate_versions (json_extract(data_json, '$.face.plate'))
    WHERE json_extract(data_json, '$.face.plate') IS NOT NULL;
"#,
];

/// The SQLite store: one connection behind a mutex (SQLite serialises
/// writers anyway; the service's reads are served from signed bytes held in
/// memory).
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, sets WAL,
    /// `synchronous=FULL` and foreign keys, and runs pending migrations.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path)?;
        Self::setup(conn)
    }

    /// An in-memory database (tests and tools).
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(conn: Connection) -> Result<SqliteStore, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
            return Err(StoreError::Corrupt(format!(
                "could not switch to WAL journal mode (got {mode})"
            )));
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
        conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
        let done: Option<i64> = conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .optional()?;
        let done = usize::try_from(done.unwrap_or(0))
            .map_err(|_| StoreError::Corrupt("negative schema version".into()))?;
        if done > MIGRATIONS.len() {
            return Err(StoreError::Corrupt(format!(
                "database schema version {done} is newer than this program ({})",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(sql)?;
            tx.execute("DELETE FROM schema_version", [])?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [i64::try_from(i + 1).unwrap_or(i64::MAX)],
            )?;
            tx.commit()?;
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }
}

impl Store for SqliteStore {
    fn begin(&self) -> Result<Box<dyn Tx + '_>, StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Box::new(SqliteTx {
            conn,
            open: true,
            savepoint: false,
        }))
    }
}

struct SqliteTx<'a> {
    conn: MutexGuard<'a, Connection>,
    open: bool,
    savepoint: bool,
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing to report to: the transaction was abandoned on an
            // error path that already reports its own error.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

fn i64_of(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} out of range")))
}

fn u64_of(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} negative")))
}

fn u32_of(v: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} out of range")))
}

fn status_of(v: i64) -> Result<Status, StoreError> {
    u8::try_from(v)
        .ok()
        .and_then(Status::from_bits)
        .ok_or_else(|| StoreError::Corrupt(format!("status {v}")))
}

fn division_of(v: i64) -> Result<DivisionCode, StoreError> {
    u32::try_from(v)
        .ok()
        .and_then(|c| DivisionCode::from_u32(c).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("division {v}")))
}

fn cert_type_of(s: &str) -> Result<CertType, StoreError> {
    CertType::from_code(s).ok_or_else(|| StoreError::Corrupt(format!("certificate type {s:?}")))
}

fn version_of(v: i64) -> Result<u16, StoreError> {
    u16::try_from(v).map_err(|_| StoreError::Corrupt(format!("version {v}")))
}

/// Raw columns of a certificate row, converted after the query.
type CertCols = (String, String, i64, i64, i64, i64, i64);

fn certificate_from(c: CertCols) -> Result<CertificateRow, StoreError> {
    Ok(CertificateRow {
        cert_type: cert_type_of(&c.0)?,
        number: c.1,
        version: version_of(c.2)?,
        status: status_of(c.3)?,
        status_index: u32_of(c.4, "status index")?,
        issuer_division: division_of(c.5)?,
        issued_at: c.6,
    })
}

type NcCols = (i64, String, String, String, String, i64, i64, Option<i64>);

fn nonconforming_from(c: NcCols) -> Result<NonconformingRow, StoreError> {
    Ok(NonconformingRow {
        agency: division_of(c.0)?,
        cert_type: c.1,
        number: c.2,
        reasons_json: c.3,
        record_json: c.4,
        first_seen: c.5,
        last_seen: c.6,
        resolved_at: c.7,
    })
}

impl SqliteTx<'_> {
    /// Version rows from a query selecting the version columns in the
    /// order of [`VersionRow`].
    fn current_versions(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<VersionRow>, StoreError> {
        type Cols = (
            String,
            String,
            i64,
            i64,
            i64,
            String,
            String,
            Vec<u8>,
            Option<String>,
            i64,
            i64,
        );
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt
            .query_map(params, |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                ))
            })?
            .collect::<Result<Vec<Cols>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(VersionRow {
                    cert_type: cert_type_of(&c.0)?,
                    number: c.1,
                    version: version_of(c.2)?,
                    status_index: u32_of(c.3, "status index")?,
                    status: status_of(c.4)?,
                    record_json: c.5,
                    data_json: c.6,
                    signed: c.7,
                    identifier: c.8,
                    issued_at: c.9,
                    issuer_division: division_of(c.10)?,
                })
            })
            .collect()
    }

    /// Executes a statement, cached by its text.
    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
        self.conn.prepare_cached(sql)?.execute(params)
    }

    /// Queries one row with a statement cached by its text.
    fn row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.conn.prepare_cached(sql)?.query_row(params, f)
    }
}

impl Tx for SqliteTx<'_> {
    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }

    fn savepoint(&mut self) -> Result<(), StoreError> {
        if self.savepoint {
            return Err(StoreError::Corrupt("nested savepoint".into()));
        }
        self.conn.execute_batch("SAVEPOINT record")?;
        self.savepoint = true;
        Ok(())
    }

    fn release(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("RELEASE record")?;
        self.savepoint = false;
        Ok(())
    }

    fn rollback_to(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("ROLLBACK TO record; RELEASE record")?;
        self.savepoint = false;
        Ok(())
    }

    fn meta(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    fn keys(&mut self) -> Result<Vec<KeyRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT kid, role, alg, public_key, not_before, not_after, state,
                    compromised_since, file
             FROM keys ORDER BY not_before, kid",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                    r.get::<_, String>(8)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                let kid = hex::decode(&c.0)
                    .ok()
                    .and_then(|b| Kid::from_slice(&b))
                    .ok_or_else(|| StoreError::Corrupt(format!("kid {:?}", c.0)))?;
                Ok(KeyRecord {
                    kid,
                    role: KeyRole::parse(&c.1)?,
                    alg: Alg::from_name(&c.2)
                        .ok_or_else(|| StoreError::Corrupt(format!("algorithm {:?}", c.2)))?,
                    public_key: c.3,
                    not_before: c.4,
                    not_after: c.5,
                    state: u8::try_from(c.6)
                        .map_err(|_| StoreError::Corrupt(format!("key state {}", c.6)))?,
                    compromised_since: c.7,
                    file: c.8,
                })
            })
            .collect()
    }

    fn insert_key(&mut self, key: &KeyRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO keys (kid, role, alg, public_key, not_before, not_after, state,
                               compromised_since, file)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                key.kid.to_hex(),
                key.role.as_str(),
                key.alg.name(),
                key.public_key,
                key.not_before,
                key.not_after,
                key.state,
                key.compromised_since,
                key.file,
            ],
        )?;
        Ok(())
    }

    fn authorities(&mut self) -> Result<Vec<Authority>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT division, uscc, name FROM authorities ORDER BY division")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(division, uscc, name)| {
                Ok(Authority {
                    division: division_of(division)?,
                    uscc: Uscc::parse(&uscc)
                        .map_err(|e| StoreError::Corrupt(format!("authority credit code: {e}")))?,
                    name,
                })
            })
            .collect()
    }

    fn insert_authority(&mut self, a: &Authority) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO authorities (division, uscc, name) VALUES (?1, ?2, ?3)",
            params![a.division.code(), a.uscc.as_str(), a.name],
        )?;
        Ok(())
    }

    fn trust_state(&mut self) -> Result<Option<ListState>, StoreError> {
        let row: Option<(i64, i64)> = self
            .row(
                "SELECT seq, issued_at FROM list_state WHERE list = 'trust'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(seq, issued_at)| {
            Ok(ListState {
                seq: u64_of(seq, "trust list seq")?,
                issued_at,
            })
        })
        .transpose()
    }

    fn set_trust_state(&mut self, s: ListState) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO list_state (list, seq, issued_at) VALUES ('trust', ?1, ?2)
             ON CONFLICT (list) DO UPDATE SET seq = excluded.seq, issued_at = excluded.issued_at",
            params![i64_of(s.seq, "trust list seq")?, s.issued_at],
        )?;
        Ok(())
    }

    fn status_state(&mut self) -> Result<Option<StatusState>, StoreError> {
        let row: Option<(i64, i64, i64)> = self
            .row(
                "SELECT seq, issued_at, next_index FROM list_state WHERE list = 'status'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|(seq, issued_at, next)| {
            Ok(StatusState {
                list: ListState {
                    seq: u64_of(seq, "status list seq")?,
                    issued_at,
                },
                next_index: u32_of(next, "next status index")?,
            })
        })
        .transpose()
    }

    fn set_status_state(&mut self, s: StatusState) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO list_state (list, seq, issued_at, next_index) VALUES ('status', ?1, ?2, ?3)
             ON CONFLICT (list) DO UPDATE SET seq = excluded.seq, issued_at = excluded.issued_at,
                                              next_index = excluded.next_index",
            params![
                i64_of(s.list.seq, "status list seq")?,
                s.list.issued_at,
                s.next_index
            ],
        )?;
        Ok(())
    }

    fn insert_status_step(&mut self, step: &StatusStep) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO status_steps (seq, issued_at, delta) VALUES (?1, ?2, ?3)",
            params![
                i64_of(step.seq, "status step seq")?,
                step.issued_at,
                step.delta
            ],
        )?;
        Ok(())
    }

    fn status_steps_after(&mut self, seq: u64) -> Result<Vec<StatusStep>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, issued_at, delta FROM status_steps WHERE seq > ?1 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map([i64_of(seq, "status seq")?], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(seq, issued_at, delta)| {
                Ok(StatusStep {
                    seq: u64_of(seq, "status step seq")?,
                    issued_at,
                    delta,
                })
            })
            .collect()
    }

    fn oldest_delta_base(&mut self) -> Result<Option<u64>, StoreError> {
        let min: Option<i64> = self.row("SELECT MIN(seq) FROM status_steps", [], |r| r.get(0))?;
        min.map(|m| u64_of(m - 1, "status step seq")).transpose()
    }

    fn non_valid(&mut self) -> Result<Vec<(u32, Status)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT status_index, status FROM certificate_versions WHERE status != 0
             ORDER BY status_index",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(i, s)| Ok((u32_of(i, "status index")?, status_of(s)?)))
            .collect()
    }

    fn certificate(
        &mut self,
        cert_type: CertType,
        number: &str,
    ) -> Result<Option<CertificateRow>, StoreError> {
        let row: Option<CertCols> = self
            .row(
                "SELECT cert_type, number, version, status, status_index, issuer_division,
                        issued_at
                 FROM certificates WHERE cert_type = ?1 AND number = ?2",
                [cert_type.code(), number],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )
            .optional()?;
        row.map(certificate_from).transpose()
    }

    fn put_certificate(&mut self, c: &CertificateRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO certificates (cert_type, number, version, status, status_index,
                                       issuer_division, issued_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (cert_type, number) DO UPDATE SET
                 version = excluded.version, status = excluded.status,
                 status_index = excluded.status_index,
                 issuer_division = excluded.issuer_division, issued_at = excluded.issued_at",
            params![
                c.cert_type.code(),
                c.number,
                c.version,
                c.status.bits(),
                c.status_index,
                c.issuer_division.code(),
                c.issued_at,
            ],
        )?;
        Ok(())
    }

    fn version(
        &mut self,
        cert_type: CertType,
        number: &str,
        version: u16,
    ) -> Result<Option<VersionRow>, StoreError> {
        type Cols = (i64, i64, String, String, Vec<u8>, Option<String>, i64, i64);
        let row: Option<Cols> = self
            .row(
                "SELECT status_index, status, record_json, data_json, signed, identifier,
                        issued_at, issuer_division
                 FROM certificate_versions
                 WHERE cert_type = ?1 AND number = ?2 AND version = ?3",
                params![cert_type.code(), number, version],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                },
            )
            .optional()?;
        row.map(|c| {
            Ok(VersionRow {
                cert_type,
                number: number.to_string(),
                version,
                status_index: u32_of(c.0, "status index")?,
                status: status_of(c.1)?,
                record_json: c.2,
                data_json: c.3,
                signed: c.4,
                identifier: c.5,
                issued_at: c.6,
                issuer_division: division_of(c.7)?,
            })
        })
        .transpose()
    }

    fn insert_version(&mut self, v: &VersionRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO certificate_versions (cert_type, number, version, status_index, status,
                 record_json, data_json, signed, identifier, issued_at, issuer_division)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                v.cert_type.code(),
                v.number,
                v.version,
                v.status_index,
                v.status.bits(),
                v.record_json,
                v.data_json,
                v.signed,
                v.identifier,
                v.issued_at,
                v.issuer_division.code(),
            ],
        )?;
        Ok(())
    }

    fn set_version_status(&mut self, status_index: u32, status: Status) -> Result<(), StoreError> {
        let n = self.exec(
            "UPDATE certificate_versions SET status = ?2 WHERE status_index = ?1",
            params![status_index, status.bits()],
        )?;
        self.exec(
            "UPDATE certificates SET status = ?2 WHERE status_index = ?1",
            params![status_index, status.bits()],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!(
                "status index {status_index} names {n} versions"
            )));
        }
        Ok(())
    }

    fn upsert_nonconforming(&mut self, row: &NonconformingRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO nonconforming (agency, cert_type, number, reasons_json, record_json,
                                        first_seen, last_seen, resolved_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)
             ON CONFLICT (agency, cert_type, number) DO UPDATE SET
                 reasons_json = excluded.reasons_json, record_json = excluded.record_json,
                 last_seen = excluded.last_seen, resolved_at = NULL,
                 first_seen = CASE WHEN nonconforming.resolved_at IS NULL
                                   THEN nonconforming.first_seen ELSE excluded.first_seen END",
            params![
                row.agency.code(),
                row.cert_type,
                row.number,
                row.reasons_json,
                row.record_json,
                row.first_seen,
                row.last_seen,
            ],
        )?;
        Ok(())
    }

    fn resolve_nonconforming(
        &mut self,
        cert_type: &str,
        numbers: &[&str],
        at: i64,
    ) -> Result<usize, StoreError> {
        let mut total = 0;
        for number in numbers {
            total += self.exec(
                "UPDATE nonconforming SET resolved_at = ?3
                 WHERE cert_type = ?1 AND number = ?2 AND resolved_at IS NULL",
                params![cert_type, number, at],
            )?;
        }
        Ok(total)
    }

    fn nonconforming(
        &mut self,
        agency: Option<DivisionCode>,
        open_only: bool,
    ) -> Result<Vec<NonconformingRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT agency, cert_type, number, reasons_json, record_json, first_seen, last_seen,
                    resolved_at
             FROM nonconforming
             WHERE (?1 IS NULL OR agency = ?1) AND (?2 = 0 OR resolved_at IS NULL)
             ORDER BY agency, first_seen, cert_type, number",
        )?;
        let rows = stmt
            .query_map(
                params![agency.map(DivisionCode::code), i64::from(open_only)],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                },
            )?
            .collect::<Result<Vec<NcCols>, _>>()?;
        rows.into_iter().map(nonconforming_from).collect()
    }

    fn insert_token(&mut self, t: &TokenRow) -> Result<i64, StoreError> {
        self.exec(
            "INSERT INTO tokens (hash, role, division, subject, created_at, revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                t.hash.as_slice(),
                t.role,
                t.division.map(DivisionCode::code),
                t.subject,
                t.created_at,
                t.revoked_at,
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn token_by_hash(&mut self, hash: &[u8; 32]) -> Result<Option<TokenRow>, StoreError> {
        type Cols = (i64, String, Option<i64>, String, i64, Option<i64>);
        let row: Option<Cols> = self
            .row(
                "SELECT id, role, division, subject, created_at, revoked_at
                 FROM tokens WHERE hash = ?1",
                [hash.as_slice()],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()?;
        row.map(|c| {
            Ok(TokenRow {
                id: c.0,
                hash: *hash,
                role: c.1,
                division: c.2.map(division_of).transpose()?,
                subject: c.3,
                created_at: c.4,
                revoked_at: c.5,
            })
        })
        .transpose()
    }

    fn append_audit(&mut self, e: &AuditEntry) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO audit (ts, token_id, role, action, target, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![e.ts, e.token_id, e.role, e.action, e.target, e.outcome],
        )?;
        Ok(())
    }

    fn audit_tail(&mut self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT ts, token_id, role, action, target, outcome FROM audit
             ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([limit], |r| {
                Ok(AuditEntry {
                    ts: r.get(0)?,
                    token_id: r.get(1)?,
                    role: r.get(2)?,
                    action: r.get(3)?,
                    target: r.get(4)?,
                    outcome: r.get(5)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn record_push(&mut self, p: &AgencyPush) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO agency_pushes (division, last_push_at, records) VALUES (?1, ?2, ?3)
             ON CONFLICT (division) DO UPDATE SET
                 last_push_at = excluded.last_push_at, records = excluded.records",
            params![p.division.code(), p.at, i64_of(p.records, "record count")?],
        )?;
        Ok(())
    }

    fn agency_pushes(&mut self) -> Result<Vec<AgencyPush>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT division, last_push_at, records FROM agency_pushes ORDER BY division",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(d, at, n)| {
                Ok(AgencyPush {
                    division: division_of(d)?,
                    at,
                    records: u64_of(n, "record count")?,
                })
            })
            .collect()
    }

    fn counts(&mut self) -> Result<Counts, StoreError> {
        let count = |sql: &str| -> Result<u64, StoreError> {
            let n: i64 = self.row(sql, [], |r| r.get(0))?;
            u64_of(n, "count")
        };
        Ok(Counts {
            certificates: count("SELECT COUNT(*) FROM certificates")?,
            versions: count("SELECT COUNT(*) FROM certificate_versions")?,
            nonconforming_open: count(
                "SELECT COUNT(*) FROM nonconforming WHERE resolved_at IS NULL",
            )?,
            audit: count("SELECT COUNT(*) FROM audit")?,
        })
    }

    fn tokens(&mut self) -> Result<Vec<TokenRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, hash, role, division, subject, created_at, revoked_at
             FROM tokens ORDER BY id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(TokenRow {
                    id: c.0,
                    hash: c
                        .1
                        .as_slice()
                        .try_into()
                        .map_err(|_| StoreError::Corrupt(format!("token {} hash length", c.0)))?,
                    role: c.2,
                    division: c.3.map(division_of).transpose()?,
                    subject: c.4,
                    created_at: c.5,
                    revoked_at: c.6,
                })
            })
            .collect()
    }

    fn revoke_token(&mut self, id: i64, at: i64) -> Result<Option<TokenRow>, StoreError> {
        self.exec(
            "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, at],
        )?;
        Ok(self.tokens()?.into_iter().find(|t| t.id == id))
    }

    fn audit_after(&mut self, after: i64, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, ts, token_id, role, action, target, outcome FROM audit
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![after, limit], |r| {
                Ok(AuditRow {
                    id: r.get(0)?,
                    entry: AuditEntry {
                        ts: r.get(1)?,
                        token_id: r.get(2)?,
                        role: r.get(3)?,
                        action: r.get(4)?,
                        target: r.get(5)?,
                        outcome: r.get(6)?,
                    },
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn set_key_state(
        &mut self,
        kid: &Kid,
        state: u8,
        not_after: Option<i64>,
        compromised_since: Option<i64>,
    ) -> Result<(), StoreError> {
        let n = self.exec(
            "UPDATE keys SET state = ?2, not_after = ?3, compromised_since = ?4 WHERE kid = ?1",
            params![kid.to_hex(), state, not_after, compromised_since],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!("no key {kid}")));
        }
        Ok(())
    }

    fn set_key_listed_until(&mut self, kid: &Kid, until: i64) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO key_overlap (kid, listed_until) VALUES (?1, ?2)
             ON CONFLICT (kid) DO UPDATE SET listed_until = excluded.listed_until",
            params![kid.to_hex(), until],
        )?;
        Ok(())
    }

    fn keys_listed_until(&mut self) -> Result<Vec<(Kid, i64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT kid, listed_until FROM key_overlap ORDER BY kid")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(kid, until)| {
                let kid = hex::decode(&kid)
                    .ok()
                    .and_then(|b| Kid::from_slice(&b))
                    .ok_or_else(|| StoreError::Corrupt(format!("kid {kid:?}")))?;
                Ok((kid, until))
            })
            .collect()
    }

    fn holder_certificates(&mut self, holder_id: &str) -> Result<Vec<VersionRow>, StoreError> {
        self.current_versions(
            "SELECT v.cert_type, v.number, v.version, v.status_index, v.status, v.record_json,
                    v.data_json, v.signed, v.identifier, v.issued_at, v.issuer_division
             FROM certificate_versions v
             JOIN certificates c ON c.cert_type = v.cert_type AND c.number = v.number
                                AND c.version = v.version
             WHERE v.holder_id = ?1
             ORDER BY v.cert_type, v.number",
            [holder_id],
        )
    }

    fn lookup_versions(
        &mut self,
        by: shared::checklog::LookupBy,
        value: &str,
        limit: u32,
    ) -> Result<Vec<VersionRow>, StoreError> {
        use shared::checklog::LookupBy;
        let condition = match by {
            LookupBy::Plate => "json_extract(v.data_json, '$.face.plate') = ?1",
            LookupBy::IdNumber => "v.holder_id = ?1",
            LookupBy::Number => "v.number = ?1",
        };
        self.current_versions(
            &format!(
                "SELECT v.cert_type, v.number, v.version, v.status_index, v.status, v.record_json,
                        v.data_json, v.signed, v.identifier, v.issued_at, v.issuer_division
                 FROM certificate_versions v
                 JOIN certificates c ON c.cert_type = v.cert_type AND c.number = v.number
                                    AND c.version = v.version
                 WHERE {condition}
                 ORDER BY v.cert_type, v.number
                 LIMIT ?2"
            ),
            params![value, limit],
        )
    }

    fn live_versions(&mut self) -> Result<Vec<VersionRow>, StoreError> {
        self.current_versions(
            "SELECT v.cert_type, v.number, v.version, v.status_index, v.status, v.record_json,
                    v.data_json, v.signed, v.identifier, v.issued_at, v.issuer_division
             FROM certificate_versions v
             JOIN certificates c ON c.cert_type = v.cert_type AND c.number = v.number
                                AND c.version = v.version
             WHERE v.status IN (0, 2)
             ORDER BY v.status_index",
            [],
        )
    }

    fn set_signature(&mut self, status_index: u32, signed: &[u8]) -> Result<(), StoreError> {
        let n = self.exec(
            "UPDATE certificate_versions SET signed = ?2 WHERE status_index = ?1",
            params![status_index, signed],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!(
                "no version at status index {status_index}"
            )));
        }
        Ok(())
    }

    fn set_version_signed(
        &mut self,
        cert_type: CertType,
        number: &str,
        version: u16,
        signed: &[u8],
        issued_at: i64,
    ) -> Result<(), StoreError> {
        let n = self.exec(
            "UPDATE certificate_versions SET signed = ?4, issued_at = ?5
             WHERE cert_type = ?1 AND number = ?2 AND version = ?3",
            params![cert_type.code(), number, version, signed, issued_at],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!(
                "no version {version} of {cert_type} {number}"
            )));
        }
        self.exec(
            "UPDATE certificates SET issued_at = ?4
             WHERE cert_type = ?1 AND number = ?2 AND version = ?3",
            params![cert_type.code(), number, version, issued_at],
        )?;
        Ok(())
    }

    fn insert_holder_device(
        &mut self,
        holder_id: &str,
        alg: Alg,
        public_key: &[u8],
        at: i64,
    ) -> Result<bool, StoreError> {
        let n = self.exec(
            "INSERT INTO holder_devices (holder_id, alg, public_key, registered_at)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![holder_id, alg.name(), public_key, at],
        )?;
        Ok(n == 1)
    }

    fn device_by_kid(&mut self, kid: &Kid) -> Result<Option<DeviceRow>, StoreError> {
        let row: Option<DeviceCols> = self
            .row(
                &format!("SELECT {DEVICE_COLS} FROM devices WHERE kid = ?1"),
                [kid.to_hex()],
                device_cols,
            )
            .optional()?;
        row.map(device_from).transpose()
    }

    fn device(&mut self, id: i64) -> Result<Option<DeviceRow>, StoreError> {
        let row: Option<DeviceCols> = self
            .row(
                &format!("SELECT {DEVICE_COLS} FROM devices WHERE id = ?1"),
                [id],
                device_cols,
            )
            .optional()?;
        row.map(device_from).transpose()
    }

    fn insert_device(&mut self, d: &DeviceRow) -> Result<i64, StoreError> {
        self.exec(
            "INSERT INTO devices (kid, alg, public_key, token_id, division, label, enrolled_at,
                                  revoked_at, next_seq, head)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9)",
            params![
                d.kid.to_hex(),
                d.alg.name(),
                d.public_key,
                d.token_id,
                d.division.code(),
                d.label,
                d.enrolled_at,
                d.revoked_at,
                shared::checklog::GENESIS.as_slice(),
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn set_device_head(
        &mut self,
        device_id: i64,
        next_seq: u64,
        head: &[u8; 32],
    ) -> Result<(), StoreError> {
        let n = self.exec(
            "UPDATE devices SET next_seq = ?2, head = ?3 WHERE id = ?1",
            params![device_id, i64_of(next_seq, "next seq")?, head.as_slice()],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!("no device {device_id}")));
        }
        Ok(())
    }

    fn log_hashes(
        &mut self,
        device_id: i64,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, hash FROM verification_records
             WHERE device_id = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map(
                params![device_id, i64_of(from, "seq")?, i64_of(to, "seq")?],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
            )?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(seq, hash)| Ok((u64_of(seq, "seq")?, hash32(hash, "record hash")?)))
            .collect()
    }

    fn insert_log_batch(
        &mut self,
        device_id: i64,
        received_at: i64,
        (first, last): (u64, u64),
        bytes: &[u8],
    ) -> Result<i64, StoreError> {
        self.exec(
            "INSERT INTO verification_batches (device_id, received_at, first_seq, last_seq, bytes)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                device_id,
                received_at,
                i64_of(first, "seq")?,
                i64_of(last, "seq")?,
                bytes
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn insert_log_record(&mut self, r: &LogRecordRow) -> Result<(), StoreError> {
        let opt64 = |v: Option<u64>, what: &str| v.map(|v| i64_of(v, what)).transpose();
        self.exec(
            &format!(
                "INSERT INTO verification_records ({LOG_COLS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                         ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)"
            ),
            params![
                r.device_id,
                i64_of(r.seq, "seq")?,
                r.hash.as_slice(),
                r.prev.as_slice(),
                r.at,
                r.kind,
                r.verdict,
                r.reason,
                r.cert_type,
                r.cert_number,
                r.cert_version,
                r.scanned,
                opt64(r.status_seq, "status seq")?,
                opt64(r.trust_seq, "trust seq")?,
                r.warnings,
                opt64(r.data_age, "data age")?,
                opt64(r.check_seq, "check seq")?,
                r.accepted,
                r.note,
                r.srv_signature,
                r.srv_presentation,
                r.srv_cert_type,
                r.srv_cert_number,
                r.srv_cert_version,
                r.srv_division.map(DivisionCode::code),
                r.srv_reason,
                r.batch_id,
            ],
        )?;
        Ok(())
    }

    fn log_records(
        &mut self,
        device_id: i64,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<LogRecordRow>, StoreError> {
        let after = match after {
            Some(a) => i64_of(a, "seq")?,
            None => -1,
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {LOG_COLS} FROM verification_records
             WHERE device_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
        ))?;
        let rows = stmt
            .query_map(params![device_id, after, limit], log_record_cols)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(log_record_from).collect()
    }

    fn eval_certificates(&mut self) -> Result<Vec<EvalCert>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.cert_type, c.number, c.issuer_division, c.status,
                    (SELECT MIN(v.issued_at) FROM certificate_versions v
                     WHERE v.cert_type = c.cert_type AND v.number = c.number)
             FROM certificates c ORDER BY c.cert_type, c.number",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(EvalCert {
                    cert_type: c.0,
                    number: c.1,
                    division: division_of(c.2)?,
                    status: c.3,
                    first_issued_at: c.4.unwrap_or(0),
                })
            })
            .collect()
    }

    fn eval_open_corrections(&mut self) -> Result<Vec<EvalCorrection>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT agency, cert_type, number, first_seen FROM nonconforming
             WHERE resolved_at IS NULL ORDER BY agency, cert_type, number",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(EvalCorrection {
                    agency: division_of(c.0)?,
                    cert_type: c.1,
                    number: c.2,
                    first_seen: c.3,
                })
            })
            .collect()
    }

    fn eval_checks(&mut self, from: i64, to: i64) -> Result<Vec<EvalCheck>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {EVAL_CHECK_COLS} FROM verification_records r
             JOIN devices d ON d.id = r.device_id
             WHERE r.kind = 0 AND r.at >= ?1 AND r.at < ?2
             ORDER BY r.at, r.device_id, r.seq"
        ))?;
        let rows = stmt
            .query_map(params![from, to], eval_check_cols)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(eval_check_from).collect()
    }

    fn eval_refusals(&mut self, from: i64, to: i64) -> Result<Vec<EvalRefusal>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT q.device_id, q.seq, q.at, d.division, q.note, q.check_seq,
                    c.status, {EVAL_CHECK_COLS}
             FROM verification_records q
             JOIN devices d ON d.id = q.device_id
             LEFT JOIN verification_records r
                 ON r.device_id = q.device_id AND r.seq = q.check_seq AND r.kind = 0
             LEFT JOIN certificates c
                 ON c.cert_type = r.srv_cert_type AND c.number = r.srv_cert_number
             WHERE q.kind = 1 AND q.accepted = 0 AND q.at >= ?1 AND q.at < ?2
             ORDER BY q.at, q.device_id, q.seq"
        ))?;
        let rows = stmt
            .query_map(params![from, to], |r| {
                let found = r.get::<_, Option<i64>>(7)?.is_some();
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<i64>>(6)?,
                    if found {
                        Some(eval_check_cols_at(r, 7)?)
                    } else {
                        None
                    },
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(EvalRefusal {
                    device_id: c.0,
                    seq: u64::try_from(c.1)
                        .map_err(|_| StoreError::Corrupt(format!("seq {}", c.1)))?,
                    at: c.2,
                    device_division: division_of(c.3)?,
                    note: c.4,
                    cert_status: c.5,
                    check: c.6.map(eval_check_from).transpose()?,
                })
            })
            .collect()
    }

    fn eval_rejected_uploads(
        &mut self,
        from: i64,
        to: i64,
    ) -> Result<Vec<EvalRejectedUpload>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT a.ts, t.division, a.target, a.outcome FROM audit a
             LEFT JOIN tokens t ON t.id = a.token_id
             WHERE a.action = 'POST /api/v1/verification-logs' AND a.outcome NOT LIKE 'ok%'
               AND a.ts >= ?1 AND a.ts < ?2
             ORDER BY a.id",
        )?;
        let rows = stmt
            .query_map(params![from, to], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(EvalRejectedUpload {
                    ts: c.0,
                    division: c.1.map(division_of).transpose()?,
                    target: c.2,
                    outcome: c.3,
                })
            })
            .collect()
    }

    fn insert_training(&mut self, row: &TrainingRow) -> Result<i64, StoreError> {
        self.exec(
            "INSERT INTO eval_training (division, year, coverage, description, entered_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                row.division.code(),
                row.year,
                row.coverage,
                row.description,
                row.entered_at
            ],
        )?;
        let id = self.conn.last_insert_rowid();
        for e in &row.evidence {
            self.exec(
                "INSERT INTO eval_training_evidence (training_id, file_name, sha256, description)
                 VALUES (?1, ?2, ?3, ?4)",
                params![id, e.file_name, e.sha256, e.description],
            )?;
        }
        Ok(id)
    }

    fn training(&mut self, year: i32) -> Result<Vec<TrainingRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, division, year, coverage, description, entered_at FROM eval_training
             WHERE year = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map([year], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i32>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut ev = self.conn.prepare_cached(
            "SELECT e.training_id, e.file_name, e.sha256, e.description
             FROM eval_training_evidence e JOIN eval_training t ON t.id = e.training_id
             WHERE t.year = ?1 ORDER BY e.rowid",
        )?;
        let evidence = ev
            .query_map([year], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    Evidence {
                        file_name: r.get(1)?,
                        sha256: r.get(2)?,
                        description: r.get(3)?,
                    },
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(TrainingRow {
                    id: c.0,
                    division: division_of(c.1)?,
                    year: c.2,
                    coverage: c.3,
                    description: c.4,
                    entered_at: c.5,
                    evidence: evidence
                        .iter()
                        .filter(|(id, _)| *id == c.0)
                        .map(|(_, e)| e.clone())
                        .collect(),
                })
            })
            .collect()
    }

    fn set_declared(&mut self, row: &DeclaredRow, at: i64) -> Result<(), StoreError> {
        let count = i64::try_from(row.count)
            .map_err(|_| StoreError::Corrupt(format!("declared count {}", row.count)))?;
        self.exec(
            "INSERT INTO eval_declared (division, year, cert_type, count, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (division, year, cert_type)
             DO UPDATE SET count = excluded.count, updated_at = excluded.updated_at",
            params![row.division.code(), row.year, row.cert_type, count, at],
        )?;
        Ok(())
    }

    fn declared(&mut self, year: i32) -> Result<Vec<DeclaredRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT division, year, cert_type, count FROM eval_declared
             WHERE year = ?1 ORDER BY division, cert_type",
        )?;
        let rows = stmt
            .query_map([year], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i32>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(DeclaredRow {
                    division: division_of(c.0)?,
                    year: c.1,
                    cert_type: c.2,
                    count: u64::try_from(c.3)
                        .map_err(|_| StoreError::Corrupt(format!("declared count {}", c.3)))?,
                })
            })
            .collect()
    }

    fn insert_complaint(&mut self, row: &ComplaintRow) -> Result<i64, StoreError> {
        self.exec(
            "INSERT INTO eval_complaints (division, year, description, upheld, entered_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                row.division.code(),
                row.year,
                row.description,
                row.upheld,
                row.entered_at
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn complaints(&mut self, year: i32) -> Result<Vec<ComplaintRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, division, year, description, upheld, entered_at FROM eval_complaints
             WHERE year = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map([year], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i32>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, bool>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(ComplaintRow {
                    id: c.0,
                    division: division_of(c.1)?,
                    year: c.2,
                    description: c.3,
                    upheld: c.4,
                    entered_at: c.5,
                })
            })
            .collect()
    }
}

const DEVICE_COLS: &str = "id, kid, alg, public_key, token_id, division, label, enrolled_at, \
                           revoked_at, next_seq, head";

type DeviceCols = (
    i64,
    String,
    String,
    Vec<u8>,
    i64,
    i64,
    String,
    i64,
    Option<i64>,
    i64,
    Vec<u8>,
);

fn device_cols(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceCols> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
    ))
}

fn hash32(v: Vec<u8>, what: &str) -> Result<[u8; 32], StoreError> {
    v.try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what} is not 32 bytes")))
}

fn device_from(c: DeviceCols) -> Result<DeviceRow, StoreError> {
    Ok(DeviceRow {
        id: c.0,
        kid: hex::decode(&c.1)
            .ok()
            .and_then(|b| Kid::from_slice(&b))
            .ok_or_else(|| StoreError::Corrupt(format!("device kid {:?}", c.1)))?,
        alg: Alg::from_name(&c.2)
            .ok_or_else(|| StoreError::Corrupt(format!("device algorithm {:?}", c.2)))?,
        public_key: c.3,
        token_id: c.4,
        division: division_of(c.5)?,
        label: c.6,
        enrolled_at: c.7,
        revoked_at: c.8,
        next_seq: u64_of(c.9, "device next seq")?,
        head: hash32(c.10, "device head")?,
    })
}

const LOG_COLS: &str = "device_id, seq, hash, prev, at, kind, verdict, reason, cert_type, \
     cert_number, cert_version, scanned, status_seq, trust_seq, warnings, data_age, check_seq, \
     accepted, note, srv_signature, srv_presentation, srv_cert_type, srv_cert_number, \
     srv_cert_version, srv_division, srv_reason, batch_id";

/// Raw columns of a log record, in [`LOG_COLS`] order.
struct LogCols {
    ids: (i64, i64),
    hashes: (Vec<u8>, Vec<u8>),
    at: i64,
    kind: i64,
    check: (Option<String>, Option<String>),
    cert: (Option<String>, Option<String>, Option<i64>),
    scanned: Option<String>,
    seqs: (Option<i64>, Option<i64>),
    warnings: Option<String>,
    data_age: Option<i64>,
    disposition: (Option<i64>, Option<bool>, Option<String>),
    srv: (Option<bool>, Option<bool>),
    srv_cert: (Option<String>, Option<String>, Option<i64>, Option<i64>),
    srv_reason: Option<String>,
    batch_id: i64,
}

fn log_record_cols(r: &rusqlite::Row<'_>) -> rusqlite::Result<LogCols> {
    Ok(LogCols {
        ids: (r.get(0)?, r.get(1)?),
        hashes: (r.get(2)?, r.get(3)?),
        at: r.get(4)?,
        kind: r.get(5)?,
        check: (r.get(6)?, r.get(7)?),
        cert: (r.get(8)?, r.get(9)?, r.get(10)?),
        scanned: r.get(11)?,
        seqs: (r.get(12)?, r.get(13)?),
        warnings: r.get(14)?,
        data_age: r.get(15)?,
        disposition: (r.get(16)?, r.get(17)?, r.get(18)?),
        srv: (r.get(19)?, r.get(20)?),
        srv_cert: (r.get(21)?, r.get(22)?, r.get(23)?, r.get(24)?),
        srv_reason: r.get(25)?,
        batch_id: r.get(26)?,
    })
}

fn log_record_from(c: LogCols) -> Result<LogRecordRow, StoreError> {
    let opt_u64 = |v: Option<i64>, what: &str| v.map(|v| u64_of(v, what)).transpose();
    let opt_version = |v: Option<i64>| v.map(version_of).transpose();
    Ok(LogRecordRow {
        device_id: c.ids.0,
        seq: u64_of(c.ids.1, "seq")?,
        hash: hash32(c.hashes.0, "record hash")?,
        prev: hash32(c.hashes.1, "record prev")?,
        at: c.at,
        kind: u8::try_from(c.kind)
            .map_err(|_| StoreError::Corrupt(format!("record kind {}", c.kind)))?,
        verdict: c.check.0,
        reason: c.check.1,
        cert_type: c.cert.0,
        cert_number: c.cert.1,
        cert_version: opt_version(c.cert.2)?,
        scanned: c.scanned,
        status_seq: opt_u64(c.seqs.0, "status seq")?,
        trust_seq: opt_u64(c.seqs.1, "trust seq")?,
        warnings: c.warnings,
        data_age: opt_u64(c.data_age, "data age")?,
        check_seq: opt_u64(c.disposition.0, "check seq")?,
        accepted: c.disposition.1,
        note: c.disposition.2,
        srv_signature: c.srv.0,
        srv_presentation: c.srv.1,
        srv_cert_type: c.srv_cert.0,
        srv_cert_number: c.srv_cert.1,
        srv_cert_version: opt_version(c.srv_cert.2)?,
        srv_division: c.srv_cert.3.map(division_of).transpose()?,
        srv_reason: c.srv_reason,
        batch_id: c.batch_id,
    })
}

/// The columns of a check record as the evaluation reads it (`r`: the
/// record, `d`: its device).
const EVAL_CHECK_COLS: &str = "r.device_id, r.seq, r.at, d.division, r.srv_signature,
    ltrim(coalesce(r.scanned, ''), ' ' || char(9) || char(10) || char(13)) LIKE 'LP1:%',
    r.srv_presentation, r.srv_cert_type, r.srv_cert_number, r.srv_division, r.srv_reason";

type EvalCheckCols = (
    i64,
    i64,
    i64,
    i64,
    Option<bool>,
    bool,
    Option<bool>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
);

fn eval_check_cols(r: &rusqlite::Row<'_>) -> rusqlite::Result<EvalCheckCols> {
    eval_check_cols_at(r, 0)
}

fn eval_check_cols_at(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<EvalCheckCols> {
    Ok((
        r.get(i)?,
        r.get(i + 1)?,
        r.get(i + 2)?,
        r.get(i + 3)?,
        r.get(i + 4)?,
        r.get(i + 5)?,
        r.get(i + 6)?,
        r.get(i + 7)?,
        r.get(i + 8)?,
        r.get(i + 9)?,
        r.get(i + 10)?,
    ))
}

fn eval_check_from(c: EvalCheckCols) -> Result<EvalCheck, StoreError> {
    Ok(EvalCheck {
        device_id: c.0,
        seq: u64::try_from(c.1).map_err(|_| StoreError::Corrupt(format!("seq {}", c.1)))?,
        at: c.2,
        device_division: division_of(c.3)?,
        signature: c.4 == Some(true),
        presented: c.5,
        presentation: c.6 == Some(true),
        cert: c.7.zip(c.8),
        cert_division: c.9.map(division_of).transpose()?,
        reason: c.10,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_once_and_audit_is_append_only() {
        let store = SqliteStore::open_in_memory().unwrap();
        let mut tx = store.begin().unwrap();
        tx.append_audit(&AuditEntry {
            ts: 1,
            token_id: None,
            role: None,
            action: "test".into(),
            target: "-".into(),
            outcome: "ok".into(),
        })
        .unwrap();
        tx.commit().unwrap();
        let conn = store.conn.lock().unwrap();
        assert!(conn.execute("DELETE FROM audit", []).is_err());
        assert!(conn.execute("UPDATE audit SET outcome = 'x'", []).is_err());
        let v: i64 = conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_version_1_database_is_migrated() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (1);",
        )
        .unwrap();
        let store = SqliteStore::setup(conn).unwrap();
        let mut tx = store.begin().unwrap();
        let division = DivisionCode::from_u32(210100).unwrap();
        tx.record_push(&AgencyPush {
            division,
            at: 5,
            records: 2,
        })
        .unwrap();
        assert_eq!(tx.agency_pushes().unwrap()[0].division, division);
        tx.commit().unwrap();
        let conn = store.conn.lock().unwrap();
        let v: i64 = conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }

    #[test]
    fn dropped_transaction_rolls_back() {
        let store = SqliteStore::open_in_memory().unwrap();
        {
            let mut tx = store.begin().unwrap();
            tx.set_meta("a", "1").unwrap();
        }
        let mut tx = store.begin().unwrap();
        assert_eq!(tx.meta("a").unwrap(), None);
    }
}
