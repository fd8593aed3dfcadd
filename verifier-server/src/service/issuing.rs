//! The issuing pipeline (R2–R4, R6): pushed records become signed
//! e-certificates or correction-list entries, and lifecycle changes
//! (revoke, suspend, reinstate) update the status list.
//!
//! A push is one transaction: every record's outcome is written, then the
//! audit row, then the transaction commits, and only then is the answer
//! sent. A failed commit acknowledges nothing, and the agency re-pushes;
//! re-pushing identical data is answered `unchanged` and writes nothing.
//!
//! The e-certificate version is the server's: 1 when first issued, +1 for
//! each change of the record's data. The version field an agency sends is
//! kept in the stored record but does not set the e-certificate version.

use std::collections::HashMap;

use anyhow::Context as _;
pub use shared::api::{Outcome, PushResponse, RecordResult, StatusChange, StatusChanged, Summary};
use shared::cose;
use shared::domain::validate::validate_for;
use shared::domain::Jurisdiction;
use shared::domain::{CertType, CertificateData, DivisionCode, Nonconformance, RawRecord, Uscc};
use shared::status::Status;
use shared::wire::Claims;
use time::Date;

use super::action::Action;
use crate::service::auth::{Caller, Role};
use crate::service::keys::Keys;
use crate::service::lists::advance_status;
use crate::store::{
    AgencyPush, CertificateRow, NonconformingRow, OutageRow, StatusChangeRow, Store, Tx, VersionRow,
};
use shared::api::{
    AgencyPushList, AgencyPushView, CertificateHistory, CertificateView, NonconformingList,
    NonconformingView, StatusChangeView, VersionEntry,
};
use shared::calendar::WorkingCalendar;

/// Working days after its last push within which an agency pushes again
/// (§5.3: re-push within two working days).
pub const PUSH_WORKING_DAYS: u32 = 2;

/// When an agency becomes overdue (R4, §5.3): the start (00:00 China
/// Standard Time) of the day after the second working day following the
/// day of its last push (`last`), counted on the working-day `calendar`
/// (public holidays and adjusted working days); an outage it reported
/// moves this to the outage's re-push deadline when that is later.
/// `None`: never pushed and no outage, overdue at once.
pub fn push_due_by(
    calendar: &WorkingCalendar,
    last: Option<i64>,
    outage_deadline: Option<i64>,
) -> Option<i64> {
    let by_push = last.map(|at| calendar.deadline_after(at, PUSH_WORKING_DAYS).0);
    by_push.max(outage_deadline)
}

/// Whether an agency is overdue at `now` (see [`push_due_by`]): the one
/// statement of the rule, used by the push-state endpoint and the
/// dashboard.
pub fn push_overdue(
    calendar: &WorkingCalendar,
    last: Option<i64>,
    outage_deadline: Option<i64>,
    now: i64,
) -> bool {
    push_due_by(calendar, last, outage_deadline).is_none_or(|due| now >= due)
}

/// The latest re-push deadline among an agency's outage reports.
pub fn outage_deadline(outages: &[OutageRow], division: DivisionCode) -> Option<i64> {
    outages
        .iter()
        .filter(|o| o.division == division)
        .map(|o| o.repush_deadline)
        .max()
}

fn reason(field: &str, rule: &str, zh: String, en: String) -> Vec<Nonconformance> {
    vec![Nonconformance {
        field: field.to_string(),
        rule: rule.to_string(),
        message_zh: zh,
        message_en: en,
    }]
}

fn trimmed(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The identifier verifiers will derive: from the credit code the trust
/// list publishes for the division, else from the record's own.
pub(crate) fn identifier(
    data: &CertificateData,
    authorities: &HashMap<DivisionCode, Uscc>,
) -> Option<String> {
    let uscc = authorities
        .get(&data.issuer.division)
        .unwrap_or(&data.issuer.uscc);
    shared::domain::CertIdentifier::build(
        data.cert_type.identifier_type_code(),
        uscc.as_str(),
        &data.number,
        data.version,
    )
    .ok()
    .map(|i| i.as_str().to_string())
}

/// A record as the parallel first pass left it: parsed, encoded and
/// validated (all pure work), ready for the sequential pass that reads and
/// writes the store.
struct Prepared {
    raw: Result<RawRecord, String>,
    /// The record as stored, JSON.
    record_json: String,
    /// `validate`'s answer when the record conforms: the normalised data,
    /// as JSON (version 1: equal data is an unchanged re-push), and what is
    /// derived from it once.
    validated: Result<Valid, Vec<Nonconformance>>,
}

/// A conforming record's data and what the first pass derived from it.
struct Valid {
    data: CertificateData,
    /// `data` as JSON, at version 1.
    json: String,
    /// The holder ([`crate::store::holder_id_of`]).
    holder_id: Option<String>,
    /// The plate ([`crate::store::plate_of`]).
    plate: Option<String>,
    /// The identifier at version 1 (a new certificate's) from the record's
    /// own credit code: the one to use unless the trust list publishes
    /// another for the division.
    identifier_v1: Option<String>,
}

/// `agency` is the pushing agency's division (its city decides the plate
/// letter of a vehicle); `None` for an administrator.
fn prepare(
    value: serde_json::Value,
    today: Date,
    province: &Jurisdiction,
    agency: Option<DivisionCode>,
) -> anyhow::Result<Prepared> {
    let raw: RawRecord = match serde_json::from_value(value) {
        Ok(raw) => raw,
        Err(e) => {
            return Ok(Prepared {
                raw: Err(e.to_string()),
                record_json: String::new(),
                validated: Err(Vec::new()),
            })
        }
    };
    let record_json = serde_json::to_string(&raw).context("encoding a record")?;
    let validated = match validate_for(&raw, today, province, agency) {
        Ok(mut data) => {
            data.version = 1;
            let json = serde_json::to_string(&data).context("encoding certificate data")?;
            let (holder_id, plate) = crate::store::version_keys(&json, &record_json);
            Ok(Valid {
                holder_id,
                plate,
                identifier_v1: identifier(&data, &HashMap::new()),
                data,
                json,
            })
        }
        Err(reasons) => Err(reasons),
    };
    Ok(Prepared {
        raw: Ok(raw),
        record_json,
        validated,
    })
}

/// The machine's cores, at least 1 (the work splits across them).
fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Signed versions handed from a signing thread to the store at a time.
const SIGNED_CHUNK: usize = 128;

/// `items` in at most `n` contiguous parts of about equal size, in order
/// (none when there are no items).
fn split<T>(items: Vec<T>, n: usize) -> Vec<Vec<T>> {
    let size = items.len().div_ceil(n.max(1)).max(1);
    let mut parts = Vec::with_capacity(n);
    let mut items = items.into_iter();
    loop {
        let part: Vec<T> = items.by_ref().take(size).collect();
        if part.is_empty() {
            return parts;
        }
        parts.push(part);
    }
}

/// `f` over `items` on every core, in order.
fn parallel_map<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    let n = workers();
    if n < 2 || items.len() < 64 {
        return items.into_iter().map(f).collect();
    }
    let chunks = split(items, n);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| scope.spawn(move || c.into_iter().map(f).collect::<Vec<U>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// What a push knows of a certificate: as read at the start of the push,
/// then as the push's own new versions left it (a record pushed twice in
/// one push sees the first one's version).
struct Current {
    row: CertificateRow,
    data_json: String,
    identifier: Option<String>,
    /// Whether the certificate was stored before this push.
    stored: bool,
}

/// The store work of a push, decided record by record against one bulk
/// read of the certificates it names and written in bulk at the end (one
/// statement per table on PostgreSQL instead of several per record).
struct Batch<'a> {
    tx: Box<dyn Tx + 'a>,
    keys: &'a Keys,
    caller: &'a Caller,
    now: i64,
    authorities: HashMap<DivisionCode, Uscc>,
    next_index: u32,
    changes: Vec<(u32, Status)>,
    /// The certificates named by the push's conforming records.
    current: HashMap<(CertType, String), Current>,
    /// The new versions decided, in order, still unsigned, with the data
    /// their claims are made of.
    versions: Vec<(VersionRow, CertificateData)>,
    /// Position in `versions` by status index.
    pending: HashMap<u32, usize>,
    /// The current-version rows to write (the last version of each).
    certificates: HashMap<(CertType, String), CertificateRow>,
    /// Stored versions superseded by this push.
    superseded: Vec<(u32, Status)>,
    /// Correction-list entries to resolve: (type code, number).
    resolves: Vec<(&'static str, String)>,
}

impl Batch<'_> {
    /// Reads the certificates the conforming records name, in one go.
    fn load(&mut self, prepared: &[anyhow::Result<Prepared>]) -> anyhow::Result<()> {
        let mut keys: Vec<(CertType, &str)> = prepared
            .iter()
            .filter_map(|p| p.as_ref().ok())
            .filter_map(|p| p.validated.as_ref().ok())
            .map(|v| (v.data.cert_type, v.data.number.as_str()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        for (row, version) in self.tx.current_of(&keys)? {
            self.current.insert(
                (row.cert_type, row.number.clone()),
                Current {
                    row,
                    data_json: version.data_json,
                    identifier: version.identifier,
                    stored: true,
                },
            );
        }
        Ok(())
    }

    /// Signs every version decided in this push on every core while this
    /// thread writes the push's certificates, superseded versions, changes
    /// and resolved correction-list entries; then stores the signed
    /// versions as they come, [`SIGNED_CHUNK`] at a time. Signing and the
    /// store's work overlap: neither waits for all of the other.
    fn write_all(&mut self) -> anyhow::Result<()> {
        let jobs = std::mem::take(&mut self.versions);
        let total = jobs.len();
        let (now, issuer) = (self.now, &self.keys.issuer);
        let changes = super::changes::versions(jobs.iter().map(|(row, _)| row), now);
        // New certificates are copied in; stored ones replaced.
        let (mut replaced, mut new) = (Vec::new(), Vec::new());
        for (key, row) in std::mem::take(&mut self.certificates) {
            if self.current.get(&key).is_some_and(|c| c.stored) {
                replaced.push(row);
            } else {
                new.push(row);
            }
        }
        let sign = move |part: Vec<(VersionRow, CertificateData)>,
                         signed: std::sync::mpsc::Sender<Vec<VersionRow>>| {
            let mut chunk = Vec::with_capacity(SIGNED_CHUNK);
            for (mut row, data) in part {
                let claims = Claims::from_certificate(&data, row.status_index, now, None);
                row.signed = cose::sign(claims.to_cbor(), issuer, true);
                chunk.push(row);
                if chunk.len() == SIGNED_CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(SIGNED_CHUNK));
                    if signed.send(full).is_err() {
                        // The store work failed; the push is abandoned.
                        return;
                    }
                }
            }
            if !chunk.is_empty() {
                let _ = signed.send(chunk);
            }
        };
        std::thread::scope(|scope| -> anyhow::Result<()> {
            let (send, receive) = std::sync::mpsc::channel();
            let signers: Vec<_> = split(jobs, workers())
                .into_iter()
                .map(|part| {
                    let send = send.clone();
                    scope.spawn(move || sign(part, send))
                })
                .collect();
            drop(send);
            let stored = (|| -> anyhow::Result<usize> {
                self.tx.put_certificates(&replaced)?;
                self.tx.insert_certificates(&new)?;
                self.tx.set_version_statuses(&self.superseded)?;
                self.tx.insert_cert_changes(&changes)?;
                self.flush_resolves()?;
                let mut stored = 0;
                for chunk in &receive {
                    self.tx.insert_versions(&chunk)?;
                    stored += chunk.len();
                }
                Ok(stored)
            })();
            // Stops the signers early when the store failed.
            drop(receive);
            for signer in signers {
                if let Err(panic) = signer.join() {
                    std::panic::resume_unwind(panic);
                }
            }
            let stored = stored?;
            anyhow::ensure!(stored == total, "{stored} of {total} versions were signed");
            Ok(())
        })
    }

    /// Resolves the correction-list entries collected so far.
    fn flush_resolves(&mut self) -> anyhow::Result<()> {
        if self.resolves.is_empty() {
            return Ok(());
        }
        let resolves = std::mem::take(&mut self.resolves);
        let keys: Vec<(&str, &str)> = resolves.iter().map(|(t, n)| (*t, n.as_str())).collect();
        self.tx.resolve_nonconforming_many(&keys, self.now)?;
        Ok(())
    }

    fn record(&mut self, index: usize, prepared: Prepared) -> anyhow::Result<RecordResult> {
        let Prepared {
            raw,
            record_json,
            validated,
        } = prepared;
        let raw = match raw {
            Ok(raw) => raw,
            Err(e) => {
                return Ok(RecordResult {
                    index,
                    cert_type: None,
                    number: None,
                    result: Outcome::Malformed,
                    reasons: Some(reason(
                        "record",
                        "record.malformed",
                        format!("记录不是有效的字段对象：{e}"),
                        format!("record: not an object of record fields: {e}"),
                    )),
                    identifier: None,
                    version: None,
                })
            }
        };
        let type_text = trimmed(&raw.cert_type).map(|s| s.to_ascii_uppercase());
        let number_text = trimmed(&raw.number);
        let mut result = RecordResult {
            index,
            cert_type: type_text.clone(),
            number: number_text.clone(),
            result: Outcome::Refused,
            reasons: None,
            identifier: None,
            version: None,
        };

        // An agency pushes only its own division's records.
        let record_division = raw
            .issuer_division
            .as_deref()
            .and_then(|d| DivisionCode::parse(d.trim()).ok());
        if let Some(division) = record_division {
            if !self.caller.may_act_for(division) {
                let own = self.caller.agency_division().code();
                result.reasons = Some(reason(
                    "issuer_division",
                    "division_not_allowed",
                    format!("发证机关行政区划 {} 不属于本机构（{own}）", division.code()),
                    format!(
                        "issuer_division: {} is outside this agency's division {own}",
                        division.code()
                    ),
                ));
                return Ok(result);
            }
        }
        let Valid {
            mut data,
            json: data_json,
            holder_id,
            plate,
            identifier_v1,
        } = match validated {
            Ok(ok) => ok,
            Err(reasons) => {
                // Entries are resolved and recorded in the push's order.
                self.flush_resolves()?;
                self.tx.upsert_nonconforming(&NonconformingRow {
                    agency: self.caller.correction_list_for(record_division),
                    cert_type: type_text.unwrap_or_default(),
                    number: number_text.unwrap_or_default(),
                    reasons_json: serde_json::to_string(&reasons).context("encoding reasons")?,
                    record_json,
                    first_seen: self.now,
                    last_seen: self.now,
                    resolved_at: None,
                })?;
                result.result = Outcome::NonConforming;
                result.reasons = Some(reasons);
                return Ok(result);
            }
        };
        // Equal data (prepared at version 1) means an unchanged re-push,
        // whatever version the agency's system numbers it.
        let cert_type = data.cert_type;
        let number = data.number.clone();
        let key = (cert_type, number.clone());

        let existing = self.current.get(&key);
        if let Some(current) = existing {
            // The record may name the caller's division while the
            // certificate belongs to another one. The refusal does not
            // name that division: an agency learns nothing about another
            // city's certificates beyond "not yours".
            if !self.caller.may_act_for(current.row.issuer_division) {
                let own = self.caller.agency_division().code();
                result.reasons = Some(reason(
                    "number",
                    "division_not_allowed",
                    format!(
                        "证照 {cert_type} {number} 不属于本机构（{own}）管辖，不能由本机构推送"
                    ),
                    format!(
                        "number: certificate {cert_type} {number} is outside this agency's \
                         division {own} and cannot be pushed by it"
                    ),
                ));
                return Ok(result);
            }
        }
        let (outcome, version, inherited, previous) = match existing {
            None => (Outcome::Issued, 1, Status::Valid, None),
            Some(current) => {
                let row = &current.row;
                if current.data_json == data_json {
                    result.result = Outcome::Unchanged;
                    result.version = Some(row.version);
                    result.identifier = current.identifier.clone();
                    self.resolve(cert_type, &raw, &number);
                    return Ok(result);
                }
                if row.status == Status::Revoked {
                    result.reasons = Some(reason(
                        "number",
                        "certificate_revoked",
                        format!("证照 {cert_type} {number} 已注销，不能再变更"),
                        format!(
                            "number: certificate {cert_type} {number} is revoked and cannot change"
                        ),
                    ));
                    return Ok(result);
                }
                if row.version >= 999 {
                    result.reasons = Some(reason(
                        "version",
                        "version.exhausted",
                        format!("证照 {cert_type} {number} 已达最大版本 999"),
                        format!("version: certificate {cert_type} {number} is at version 999"),
                    ));
                    return Ok(result);
                }
                // A suspended certificate stays suspended in its new version.
                let inherited = if row.status == Status::Suspended {
                    Status::Suspended
                } else {
                    Status::Valid
                };
                (
                    Outcome::Updated,
                    row.version + 1,
                    inherited,
                    Some(row.status_index),
                )
            }
        };
        data.version = version;
        let published = self.authorities.get(&data.issuer.division);
        let stored = existing.is_some_and(|c| c.stored);
        let identifier = if version == 1 && published.is_none_or(|u| *u == data.issuer.uscc) {
            identifier_v1
        } else {
            identifier(&data, &self.authorities)
        };
        let planned = plan_version(
            &mut self.next_index,
            self.now,
            NewVersion {
                cert_type,
                number: &number,
                version,
                status: inherited,
                issuer_division: data.issuer.division,
                record_json,
                data_json: data_json.clone(),
                identifier: identifier.clone(),
                holder_id,
                plate,
                previous,
            },
            // Signed with the rest of the push in `write_all`.
            Vec::new(),
            &mut self.changes,
        )?;
        if let Some(old) = planned.supersedes {
            match self.pending.get(&old) {
                // A version decided earlier in this push: not stored yet.
                Some(&i) => self.versions[i].0.status = Status::Superseded,
                None => self.superseded.push((old, Status::Superseded)),
            }
        }
        self.pending
            .insert(planned.version.status_index, self.versions.len());
        self.versions.push((planned.version, data));
        self.certificates
            .insert(key.clone(), planned.certificate.clone());
        self.current.insert(
            key,
            Current {
                row: planned.certificate,
                data_json,
                identifier: identifier.clone(),
                stored,
            },
        );
        self.resolve(cert_type, &raw, &number);
        result.result = outcome;
        result.version = Some(version);
        result.identifier = identifier;
        Ok(result)
    }

    /// A conforming push resolves the record's correction-list entries
    /// (collected, resolved in bulk).
    fn resolve(&mut self, cert_type: CertType, raw: &RawRecord, number: &str) {
        let pushed = trimmed(&raw.number).unwrap_or_default();
        self.resolves.push((cert_type.code(), number.to_string()));
        if pushed != number {
            self.resolves.push((cert_type.code(), pushed));
        }
    }
}

/// A new version of a certificate, to store under the next status index.
#[derive(Debug)]
pub struct NewVersion<'a> {
    /// Type.
    pub cert_type: CertType,
    /// Number.
    pub number: &'a str,
    /// The new version number.
    pub version: u16,
    /// Its status (a suspended certificate stays suspended).
    pub status: Status,
    /// The issuing division.
    pub issuer_division: DivisionCode,
    /// The record as pushed.
    pub record_json: String,
    /// The normalised data.
    pub data_json: String,
    /// The GB/T 36904 identifier.
    pub identifier: Option<String>,
    /// The holder ([`crate::store::holder_id_of`] of the two texts).
    pub holder_id: Option<String>,
    /// The plate ([`crate::store::plate_of`] of the data).
    pub plate: Option<String>,
    /// The status index of the version it replaces, superseded now.
    pub previous: Option<u32>,
}

/// Why a new version could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    /// No index is left in the status list.
    #[error("the status list is full")]
    ListFull,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A new version as [`plan_version`] decided it, not yet stored.
#[derive(Debug)]
pub struct PlannedVersion {
    /// The certificate's new current-version row.
    pub certificate: CertificateRow,
    /// The version row.
    pub version: VersionRow,
    /// The status index of the version it supersedes.
    pub supersedes: Option<u32>,
}

/// Decides a new version: allocates the next status index and makes the
/// certificate and version rows (the version signed by `signed`); the list
/// changes it makes (a non-valid start, the superseded version) are
/// appended to `changes` for the caller's one `advance_status`. The one
/// place a version is decided: [`new_version`] (holder binding) stores one
/// at once, a push stores all of its own in bulk.
pub fn plan_version(
    next_index: &mut u32,
    now: i64,
    v: NewVersion<'_>,
    signed: Vec<u8>,
    changes: &mut Vec<(u32, Status)>,
) -> Result<PlannedVersion, VersionError> {
    let status_index = *next_index;
    if status_index as usize >= shared::status::StatusList::MAX_LEN {
        return Err(VersionError::ListFull);
    }
    *next_index += 1;
    let certificate = CertificateRow {
        cert_type: v.cert_type,
        number: v.number.to_string(),
        version: v.version,
        status: v.status,
        status_index,
        issuer_division: v.issuer_division,
        issued_at: now,
    };
    let version = VersionRow {
        cert_type: v.cert_type,
        number: v.number.to_string(),
        version: v.version,
        status_index,
        status: v.status,
        record_json: v.record_json,
        data_json: v.data_json,
        signed,
        identifier: v.identifier,
        issued_at: now,
        issuer_division: v.issuer_division,
        holder_id: v.holder_id,
        plate: v.plate,
    };
    if v.status != Status::Valid {
        changes.push((status_index, v.status));
    }
    if let Some(old) = v.previous {
        changes.push((old, Status::Superseded));
    }
    Ok(PlannedVersion {
        certificate,
        version,
        supersedes: v.previous,
    })
}

/// Issues a new version now: [`plan_version`] with the version signed by
/// `sign(index)`, stored, the certificate pointed at it and the version it
/// replaces superseded. Returns the new status index.
pub fn new_version(
    tx: &mut dyn Tx,
    next_index: &mut u32,
    now: i64,
    v: NewVersion<'_>,
    sign: impl FnOnce(u32) -> Vec<u8>,
    changes: &mut Vec<(u32, Status)>,
) -> Result<u32, VersionError> {
    let status_index = *next_index;
    let planned = plan_version(next_index, now, v, sign(status_index), changes)?;
    tx.put_certificate(&planned.certificate)?;
    tx.insert_version(&planned.version)?;
    if let Some(old) = planned.supersedes {
        tx.set_version_status(old, Status::Superseded)?;
    }
    tx.insert_cert_changes(&super::changes::versions(
        std::slice::from_ref(&planned.version),
        now,
    ))?;
    Ok(status_index)
}

/// Why a read was refused; it was not audited here (the caller audits a
/// refusal).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No such certificate or version, or one the caller may not see
    /// (another division's): the two are answered alike, so that a refusal
    /// does not tell that the certificate exists.
    #[error(
        "no certificate {cert_type} {number}{}",
        version.map(|v| format!(" version {v}")).unwrap_or_default()
    )]
    NotFound {
        /// Type.
        cert_type: CertType,
        /// Number.
        number: String,
        /// The version asked for.
        version: Option<u16>,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Stored data did not read back.
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

/// A certificate version (the current one unless `version` is given) as
/// an agency or administrator reads it, audited in the same transaction.
pub fn read_certificate(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    cert_type: CertType,
    number: &str,
    version: Option<u16>,
) -> Result<CertificateView, ReadError> {
    let mut tx = store.begin()?;
    let found = match tx.certificate(cert_type, number)? {
        Some(c) if caller.may_act_for(c.issuer_division) => {
            let wanted = version.unwrap_or(c.version);
            tx.version(cert_type, number, wanted)?.map(|v| (c, v))
        }
        // Another division's certificate reads as a missing one.
        Some(_) | None => None,
    };
    let (current, v) = found.ok_or_else(|| ReadError::NotFound {
        cert_type,
        number: number.to_string(),
        version,
    })?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::ReadCertificate,
        format!("{cert_type} {number}"),
        "ok",
    ))?;
    tx.commit()?;
    Ok(CertificateView {
        cert_type,
        number: v.number,
        version: v.version,
        current_version: current.version,
        status: v.status,
        status_index: v.status_index,
        identifier: v.identifier,
        issued_at: v.issued_at,
        // Only the province's administrator reads the QR text: an agency
        // holding its certificates' texts could invent checks of them.
        qr: (caller.role == Role::Admin)
            .then(|| shared::qrtext::encode(shared::qrtext::Kind::Certificate, &v.signed)),
    })
}

/// The caller's correction list (an administrator's: every agency's),
/// open entries only unless `all`; audited in the same transaction.
pub fn nonconforming(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    all: bool,
) -> Result<NonconformingList, ReadError> {
    let agency = match caller.role {
        Role::Admin => None,
        _ => Some(caller.agency_division()),
    };
    let mut tx = store.begin()?;
    let rows = tx.nonconforming(agency, !all)?;
    let mut entries = Vec::with_capacity(rows.len());
    for r in rows {
        entries.push(NonconformingView {
            agency: r.agency.code(),
            cert_type: r.cert_type,
            number: r.number,
            reasons: serde_json::from_str(&r.reasons_json).map_err(|e| {
                ReadError::Internal(anyhow::Error::new(e).context("stored reasons"))
            })?,
            record: serde_json::from_str(&r.record_json)
                .map_err(|e| ReadError::Internal(anyhow::Error::new(e).context("stored record")))?,
            first_seen: r.first_seen,
            last_seen: r.last_seen,
            resolved_at: r.resolved_at,
        });
    }
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::ReadNonconforming,
        format!("{} entries", entries.len()),
        "ok",
    ))?;
    tx.commit()?;
    Ok(NonconformingList { entries })
}

/// Each agency's last push and whether it is overdue at `now` (an agency
/// sees its own); audited in the same transaction.
pub fn agency_pushes(
    store: &dyn Store,
    calendar: &WorkingCalendar,
    caller: &Caller,
    now: i64,
) -> Result<AgencyPushList, ReadError> {
    let mut tx = store.begin()?;
    let pushes = tx.agency_pushes()?;
    let outages = tx.outages(None)?;
    let authorities = tx.authorities()?;
    let mut divisions: Vec<_> = authorities.iter().map(|a| a.division).collect();
    divisions.extend(pushes.iter().map(|p| p.division));
    divisions.sort();
    divisions.dedup();
    if caller.role == Role::Agency {
        divisions.retain(|d| Some(*d) == caller.division);
    }
    let agencies: Vec<AgencyPushView> = divisions
        .into_iter()
        .map(|division| {
            let last = pushes.iter().find(|p| p.division == division).map(|p| p.at);
            let records = pushes
                .iter()
                .find(|p| p.division == division)
                .map(|p| p.records);
            let outage = outage_deadline(&outages, division);
            AgencyPushView {
                division: division.code(),
                name: authorities
                    .iter()
                    .find(|a| a.division == division)
                    .map_or_else(|| division.authority_name_zh(), |a| a.name.clone()),
                last_push_at: last,
                last_push_records: records,
                due_by: push_due_by(calendar, last, outage),
                overdue: push_overdue(calendar, last, outage, now),
            }
        })
        .collect();
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::ReadAgencyPushes,
        format!("{} agencies", agencies.len()),
        "ok",
    ))?;
    tx.commit()?;
    Ok(AgencyPushList { agencies })
}

/// A certificate's history: every version and every lifecycle change with
/// its decision, for an agency of its division or an administrator;
/// audited in the same transaction.
pub fn history(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    cert_type: CertType,
    number: &str,
) -> Result<CertificateHistory, ReadError> {
    let mut tx = store.begin()?;
    let current = match tx.certificate(cert_type, number)? {
        Some(c) if caller.may_act_for(c.issuer_division) => c,
        // Another division's certificate reads as a missing one.
        Some(_) | None => {
            return Err(ReadError::NotFound {
                cert_type,
                number: number.to_string(),
                version: None,
            })
        }
    };
    let mut versions = Vec::with_capacity(usize::from(current.version));
    for v in 1..=current.version {
        if let Some(row) = tx.version(cert_type, number, v)? {
            versions.push(VersionEntry {
                version: row.version,
                status: row.status,
                issued_at: row.issued_at,
            });
        }
    }
    let changes = tx
        .status_changes(cert_type, number)?
        .into_iter()
        .map(|c| StatusChangeView {
            at: c.at,
            version: c.version,
            from: c.from,
            to: c.to,
            actor: c.actor,
            reason: c.reason,
            effective_date: c.effective_date,
            document_number: c.document_number,
        })
        .collect();
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::ReadHistory,
        format!("{cert_type} {number}"),
        "ok",
    ))?;
    tx.commit()?;
    Ok(CertificateHistory {
        cert_type,
        number: number.to_string(),
        current_version: current.version,
        status: current.status,
        versions,
        changes,
    })
}

/// Why a push was not processed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The deadline passed before every record was processed; nothing was
    /// written.
    #[error("only {processed} of {total} records were processed in time, so nothing was stored")]
    Deadline {
        /// Records processed when the deadline passed.
        processed: usize,
        /// Records pushed.
        total: usize,
    },
    /// A storage or encoding fault.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl From<crate::store::StoreError> for PushError {
    fn from(e: crate::store::StoreError) -> PushError {
        PushError::Failed(e.into())
    }
}

/// Processes a push of records in one transaction (see the module docs).
/// Past `deadline` the transaction is rolled back and nothing is stored,
/// so a push either is answered after its commit or leaves no trace.
pub fn push(
    store: &dyn Store,
    keys: &Keys,
    caller: &Caller,
    now: i64,
    records: Vec<serde_json::Value>,
    deadline: Option<std::time::Instant>,
) -> Result<PushResponse, PushError> {
    let today = shared::cst::date(now);
    let total = records.len();
    // Parsing, encoding and validation are pure: they run on every core
    // before the transaction begins, so that another push's store work
    // (and its commit) goes on meanwhile.
    let agency = caller.division;
    let province = Jurisdiction::of(caller.province.code()).unwrap_or_default();
    let prepared = parallel_map(records, |value| prepare(value, today, province, agency));
    let mut tx = store.begin()?;
    let authorities = tx
        .authorities()?
        .into_iter()
        .map(|a| (a.division, a.uscc))
        .collect();
    let mut state = tx
        .status_state()?
        .context("the status list is not initialised")?;
    let mut batch = Batch {
        tx,
        keys,
        caller,
        now,
        authorities,
        next_index: state.next_index,
        changes: Vec::new(),
        current: HashMap::new(),
        versions: Vec::new(),
        pending: HashMap::new(),
        certificates: HashMap::new(),
        superseded: Vec::new(),
        resolves: Vec::new(),
    };
    batch.load(&prepared)?;
    let mut results = Vec::with_capacity(total);
    let mut summary = Summary::default();
    for (index, prepared) in prepared.into_iter().enumerate() {
        if deadline.is_some_and(|d| std::time::Instant::now() > d) {
            return Err(PushError::Deadline {
                processed: index,
                total,
            });
        }
        let r = batch.record(index, prepared?)?;
        summary.add(r.result);
        results.push(r);
    }
    batch.write_all()?;
    if deadline.is_some_and(|d| std::time::Instant::now() > d) {
        return Err(PushError::Deadline {
            processed: total,
            total,
        });
    }
    let Batch {
        mut tx,
        next_index,
        changes,
        ..
    } = batch;
    let grows = crate::service::lists::list_len(next_index)
        != crate::service::lists::list_len(state.next_index);
    state.next_index = next_index;
    if !changes.is_empty() || grows {
        advance_status(tx.as_mut(), &mut state, now, changes)?;
    } else {
        tx.set_status_state(state)?;
    }
    if caller.role == crate::service::auth::Role::Agency {
        tx.record_push(&AgencyPush {
            division: caller.agency_division(),
            at: now,
            records: u64::try_from(total).unwrap_or(u64::MAX),
        })?;
    }
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::PushRecords,
        format!("{total} records"),
        format!(
            "ok: issued {}, updated {}, unchanged {}, non_conforming {}, refused {}, malformed {}",
            summary.issued,
            summary.updated,
            summary.unchanged,
            summary.non_conforming,
            summary.refused,
            summary.malformed
        ),
    ))?;
    tx.commit()?;
    Ok(PushResponse {
        results,
        summary,
        status_seq: state.list.seq,
    })
}

/// Why a lifecycle change was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeRefusal {
    /// No such certificate, or another division's (answered alike, so that
    /// a refusal does not tell that the certificate exists).
    NotFound,
    /// Not allowed from the current status.
    Conflict(Status),
    /// The decision's reason, date or document number is malformed.
    Invalid(String),
}

/// Most characters of a change's reason.
pub const MAX_REASON_CHARS: usize = 200;
/// Most characters of a decision document's number.
pub const MAX_DOCUMENT_CHARS: usize = 64;

/// A lifecycle change's decision, checked: trimmed texts within their
/// lengths and without control characters, a real calendar date.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    /// Why.
    pub reason: Option<String>,
    /// When it takes effect, `YYYY-MM-DD`.
    pub effective_date: Option<String>,
    /// The document's number.
    pub document_number: Option<String>,
}

impl Decision {
    /// The decision carried by a status request, or why it is malformed
    /// (field name first, English, then Chinese).
    pub fn parse(req: &shared::api::StatusRequest) -> Result<Decision, String> {
        fn text(
            field: &str,
            zh: &str,
            value: &Option<String>,
            max: usize,
        ) -> Result<Option<String>, String> {
            let Some(v) = trimmed(value) else {
                return Ok(None);
            };
            if v.chars().count() > max {
                return Err(format!(
                    "{field}: at most {max} characters ({zh}最多 {max} 个字符)"
                ));
            }
            if v.chars().any(char::is_control) {
                return Err(format!(
                    "{field}: control characters are not allowed ({zh}含有控制字符)"
                ));
            }
            Ok(Some(v))
        }
        let date = match trimmed(&req.effective_date) {
            None => None,
            Some(d) => {
                let format = time::macros::format_description!("[year]-[month]-[day]");
                let parsed = Date::parse(&d, &format).map_err(|_| {
                    format!("effective_date: {d:?} is not a date YYYY-MM-DD (生效日期格式应为 YYYY-MM-DD)")
                })?;
                Some(
                    parsed
                        .format(&format)
                        .map_err(|e| format!("effective_date: {e}"))?,
                )
            }
        };
        Ok(Decision {
            reason: text("reason", "事由", &req.reason, MAX_REASON_CHARS)?,
            effective_date: date,
            document_number: text(
                "document_number",
                "文书编号",
                &req.document_number,
                MAX_DOCUMENT_CHARS,
            )?,
        })
    }
}

/// Who did it, as a status change records it: role, division, token id.
fn actor(caller: &Caller) -> String {
    match caller.division {
        Some(d) => format!("{} {} #{}", caller.role.as_str(), d.code(), caller.token_id),
        None => format!("{} #{}", caller.role.as_str(), caller.token_id),
    }
}

/// Changes the status of a certificate's current version, with its
/// decision (kept in the certificate's history) and its audit row, in one
/// transaction.
pub fn change_status(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    cert_type: CertType,
    number: &str,
    request: &shared::api::StatusRequest,
) -> anyhow::Result<Result<StatusChanged, ChangeRefusal>> {
    let change = request.status;
    let decision = match Decision::parse(request) {
        Ok(d) => d,
        Err(why) => return Ok(Err(ChangeRefusal::Invalid(why))),
    };
    let mut tx = store.begin()?;
    let refusal = match tx.certificate(cert_type, number)? {
        Some(c) if caller.may_act_for(c.issuer_division) => Ok(c),
        Some(_) | None => Err(ChangeRefusal::NotFound),
    };
    let current = match refusal {
        Ok(c) => c,
        // Refusals are audited by the caller, with the answer's status.
        Err(r) => return Ok(Err(r)),
    };
    let wanted = change.status();
    let mut state = tx
        .status_state()?
        .context("the status list is not initialised")?;
    if current.status != wanted {
        let allowed = matches!(
            (current.status, wanted),
            (Status::Valid, Status::Revoked | Status::Suspended)
                | (Status::Suspended, Status::Revoked | Status::Valid)
        );
        if !allowed {
            return Ok(Err(ChangeRefusal::Conflict(current.status)));
        }
        tx.set_version_status(current.status_index, wanted)?;
        let version = tx
            .version(cert_type, number, current.version)?
            .with_context(|| format!("{cert_type} {number} v{} is missing", current.version))?;
        tx.insert_cert_changes(&[super::changes::status(
            &version,
            current.status,
            wanted,
            now,
        )])?;
        tx.insert_status_change(&StatusChangeRow {
            cert_type,
            number: number.to_string(),
            version: current.version,
            from: current.status,
            to: wanted,
            at: now,
            actor: actor(caller),
            reason: decision.reason.clone(),
            effective_date: decision.effective_date.clone(),
            document_number: decision.document_number.clone(),
        })?;
        advance_status(
            tx.as_mut(),
            &mut state,
            now,
            vec![(current.status_index, wanted)],
        )?;
    }
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::ChangeStatus,
        format!("{cert_type} {number} -> {change:?}"),
        "ok",
    ))?;
    tx.commit()?;
    Ok(Ok(StatusChanged {
        cert_type,
        number: number.to_string(),
        version: current.version,
        status: wanted,
        status_seq: state.list.seq,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix seconds of a China Standard Time date and hour.
    fn cst(y: i32, m: u8, d: u8, hour: i64) -> i64 {
        let month = time::Month::try_from(m).unwrap_or(time::Month::January);
        let day = Date::from_calendar_date(y, month, d).unwrap_or(Date::MIN);
        shared::cst::day_start(day) + hour * 3600
    }

    #[test]
    fn overdue_after_two_working_days() {
        // 2026-06-01 is a Monday.
        let cases = [
            // (push, due by)
            (cst(2026, 6, 1, 10), cst(2026, 6, 4, 0)), // Mon -> end of Wed
            (cst(2026, 6, 1, 0), cst(2026, 6, 4, 0)),  // first second of Monday
            (cst(2026, 6, 1, 23), cst(2026, 6, 4, 0)), // last hour of Monday
            (cst(2026, 6, 4, 9), cst(2026, 6, 9, 0)),  // Thu -> end of Mon
            (cst(2026, 6, 5, 18), cst(2026, 6, 10, 0)), // Fri -> end of Tue
            (cst(2026, 6, 6, 12), cst(2026, 6, 10, 0)), // Sat -> end of Tue
            (cst(2026, 6, 7, 12), cst(2026, 6, 10, 0)), // Sun -> end of Tue
            // Dragon Boat Festival, Fri 19 – Sun 21 June: Thu 18 -> Mon 22, Tue 23.
            (cst(2026, 6, 18, 9), cst(2026, 6, 24, 0)),
            // National Day: Wed 30 Sep -> Oct 1–7 rest -> Thu 8, Fri 9.
            (cst(2026, 9, 30, 9), cst(2026, 10, 10, 0)),
            // Fri 9 Oct -> Sat 10 Oct is worked (调休) -> Mon 12.
            (cst(2026, 10, 9, 9), cst(2026, 10, 13, 0)),
        ];
        let calendar = WorkingCalendar::shipped().unwrap_or_else(|e| panic!("{e}"));
        for (push, due) in cases {
            assert_eq!(
                push_due_by(&calendar, Some(push), None),
                Some(due),
                "push at {push}"
            );
        }
        // An outage's later deadline wins; an earlier one does not.
        let push = cst(2026, 6, 1, 10);
        let later = cst(2026, 6, 12, 0);
        assert_eq!(push_due_by(&calendar, Some(push), Some(later)), Some(later));
        assert_eq!(
            push_due_by(&calendar, Some(push), Some(cst(2026, 6, 2, 0))),
            Some(cst(2026, 6, 4, 0))
        );
        // Never pushed: overdue at once, unless an outage gives time.
        assert!(push_overdue(&calendar, None, None, push));
        assert!(!push_overdue(&calendar, None, Some(later), push));
        assert!(push_overdue(&calendar, None, Some(later), later));
        // 23:59 CST on Monday is 15:59 UTC: still Monday's push.
        assert_eq!(
            shared::cst::date(cst(2026, 6, 1, 23) + 3599).weekday(),
            time::Weekday::Monday
        );
    }
}
