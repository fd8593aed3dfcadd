//! The annual evaluation read from the store: a year's [`Data`] loaded in
//! one transaction, then scored by the pure [`crate::evaluation`] rules;
//! and the administrator's entries that feed it (training records with
//! evidence, declared uncollected physical certificates, complaint
//! decisions), each checked here and stored with its audit row in one
//! transaction.

use std::collections::BTreeMap;

use shared::api::{ComplaintBody, Created, DeclaredBody, TrainingBody};
use shared::domain::{CertType, DivisionCode};

use super::action::Action;
use super::auth::Caller;
use super::issuing;
use crate::evaluation::data::{ComplaintRow, DeclaredRow, EvalDevice, Evidence, TrainingRow};
use crate::evaluation::{evaluate, month_start, Data, Evaluation, YEARS};
use crate::store::{Store, StoreError, Tx};

/// Why an entry was refused; nothing was stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvaluationError {
    /// A field is out of range; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Loads a year's data.
pub fn load(tx: &mut dyn Tx, year: i32) -> Result<Data, StoreError> {
    let (from, to) = (month_start(year, 1), month_start(year, 13));
    Ok(Data {
        certs: tx.eval_certificates()?,
        corrections: tx.eval_open_corrections()?,
        checks: {
            // Local checks, then checks forwarded by other provinces of
            // this province's certificates (same evidence rules).
            let mut checks = tx.eval_checks(from, to)?;
            checks.extend(super::forward::eval_checks(&tx.peer_checks(from, to)?));
            checks
        },
        batches: tx.eval_batches()?,
        devices: tx
            .devices(None)?
            .into_iter()
            .map(|d| EvalDevice {
                id: d.id,
                token_id: d.token_id,
                division: d.division,
                enrolled_at: d.enrolled_at,
                revoked_at: d.revoked_at,
            })
            .collect(),
        status_seq: tx.status_state()?.map(|s| s.list.seq),
        refusals: tx.eval_refusals(from, to)?,
        rejected: tx.eval_rejected_uploads(from, to)?,
        training: tx.training(year)?,
        declared: tx.declared(year)?,
        complaints: tx.complaints(year)?,
    })
}

/// Loads and computes a year's evaluation; a year whose check logs were
/// purged (retention) answers the result stored before the purge.
pub fn run(tx: &mut dyn Tx, year: i32) -> Result<Evaluation, StoreError> {
    if let Some(json) = tx.eval_result(year)? {
        return serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("stored evaluation of {year}: {e}")));
    }
    Ok(evaluate(&load(tx, year)?, year))
}

/// Computes a year's evaluation from its records and stores it, so it
/// survives the purge of those records (see `maintenance::purge`).
pub fn keep(tx: &mut dyn Tx, year: i32, now: i64) -> Result<(), StoreError> {
    if tx.eval_result(year)?.is_some() {
        return Ok(());
    }
    let e = evaluate(&load(tx, year)?, year);
    let json = serde_json::to_string(&e)
        .map_err(|e| StoreError::Corrupt(format!("encoding the evaluation of {year}: {e}")))?;
    tx.set_eval_result(year, &json, now)
}

/// Computes a year's evaluation for `caller` in one transaction with its
/// audit row (`action`: the API or the dashboard).
pub fn read(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    action: Action,
    year: i32,
) -> Result<Evaluation, StoreError> {
    let mut tx = store.begin()?;
    let e = run(tx.as_mut(), year)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        action,
        format!("year={year}"),
        "ok",
    ))?;
    tx.commit()?;
    Ok(e)
}

fn city(code: u32, what: &str) -> Result<DivisionCode, EvaluationError> {
    let d = DivisionCode::from_u32(code)
        .map_err(|e| EvaluationError::Invalid(format!("{what}: {e}")))?;
    if d.is_city() || d.is_province() {
        Ok(d)
    } else {
        Err(EvaluationError::Invalid(format!(
            "{what}: {code} is a county; enter a city (or 210000 for the province)"
        )))
    }
}

fn year(y: i32) -> Result<i32, EvaluationError> {
    if YEARS.contains(&y) {
        Ok(y)
    } else {
        Err(EvaluationError::Invalid(format!(
            "year: {y} is not between {} and {}",
            YEARS.start(),
            YEARS.end()
        )))
    }
}

fn text(s: &str, what: &str, max: usize) -> Result<String, EvaluationError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(EvaluationError::Invalid(format!(
            "{what}: must be 1 to {max} characters"
        )));
    }
    Ok(t.to_string())
}

/// Checks a training body into a row (without id and time).
pub fn training_row(b: TrainingBody) -> Result<TrainingRow, EvaluationError> {
    let division = city(b.division, "division")?;
    let year = year(b.year)?;
    let description = text(&b.description, "description", 2000)?;
    let mut evidence = Vec::with_capacity(b.evidence.len());
    for (i, e) in b.evidence.into_iter().enumerate() {
        let sha = e.sha256.trim().to_ascii_lowercase();
        if sha.len() != 64 || !sha.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(EvaluationError::Invalid(format!(
                "evidence[{i}].sha256: not 64 hex digits"
            )));
        }
        evidence.push(Evidence {
            file_name: text(&e.file_name, &format!("evidence[{i}].file_name"), 255)?,
            sha256: sha,
            description: text(&e.description, &format!("evidence[{i}].description"), 1000)?,
        });
    }
    Ok(TrainingRow {
        id: 0,
        division,
        year,
        coverage: b.coverage.as_str().into(),
        description,
        entered_at: 0,
        evidence,
    })
}

/// Checks a declared body into a row.
pub fn declared_row(b: &DeclaredBody) -> Result<DeclaredRow, EvaluationError> {
    let division = city(b.division, "division")?;
    if division.is_province() {
        return Err(EvaluationError::Invalid(
            "division: declare per city, not for the province".into(),
        ));
    }
    let year = year(b.year)?;
    let cert_type =
        CertType::from_code(&b.cert_type.trim().to_ascii_uppercase()).ok_or_else(|| {
            EvaluationError::Invalid(format!("cert_type: {:?} is not a type code", b.cert_type))
        })?;
    if b.count > 10_000_000 {
        return Err(EvaluationError::Invalid(format!(
            "count: {} is more than 10000000",
            b.count
        )));
    }
    Ok(DeclaredRow {
        division,
        year,
        cert_type: cert_type.code().into(),
        count: b.count,
    })
}

/// Checks a complaint body into a row (without id and time).
pub fn complaint_row(b: &ComplaintBody) -> Result<ComplaintRow, EvaluationError> {
    let division = city(b.division, "division")?;
    let year = year(b.year)?;
    Ok(ComplaintRow {
        id: 0,
        division,
        year,
        description: text(&b.description, "description", 2000)?,
        upheld: b.upheld,
        entered_at: 0,
    })
}

/// Stores an entry in one transaction with its audit row.
fn store_entry<T>(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    action: Action,
    target: String,
    f: impl FnOnce(&mut dyn Tx) -> Result<T, StoreError>,
) -> Result<T, EvaluationError> {
    let mut tx = store.begin()?;
    let out = f(tx.as_mut())?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        action,
        target,
        "ok",
    ))?;
    tx.commit()?;
    Ok(out)
}

/// Records a training and publicity entry.
pub fn record_training(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    b: TrainingBody,
) -> Result<Created, EvaluationError> {
    let row = training_row(b)?;
    let target = format!(
        "division {} year {} {} ({} attachments)",
        row.division.code(),
        row.year,
        row.coverage,
        row.evidence.len()
    );
    let id = store_entry(store, caller, now, Action::RecordTraining, target, |tx| {
        tx.insert_training(&TrainingRow {
            entered_at: now,
            ..row
        })
    })?;
    Ok(Created { id })
}

/// Sets the declared uncollected count of a city, year and type; answers
/// the figure as stored.
pub fn record_declared(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    b: &DeclaredBody,
) -> Result<DeclaredBody, EvaluationError> {
    let row = declared_row(b)?;
    let target = format!(
        "division {} year {} {} count {}",
        row.division.code(),
        row.year,
        row.cert_type,
        row.count
    );
    let answer = DeclaredBody {
        division: row.division.code(),
        year: row.year,
        cert_type: row.cert_type.clone(),
        count: row.count,
    };
    store_entry(store, caller, now, Action::RecordDeclared, target, |tx| {
        tx.set_declared(&row, now)
    })?;
    Ok(answer)
}

/// Records a complaint decision.
pub fn record_complaint(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    b: &ComplaintBody,
) -> Result<Created, EvaluationError> {
    let row = complaint_row(b)?;
    let target = format!(
        "division {} year {} upheld {}",
        row.division.code(),
        row.year,
        row.upheld
    );
    let id = store_entry(store, caller, now, Action::RecordComplaint, target, |tx| {
        tx.insert_complaint(&ComplaintRow {
            entered_at: now,
            ..row
        })
    })?;
    Ok(Created { id })
}

/// Overdue agencies and open correction lists, as the dashboard shows
/// them.
#[derive(Debug, Clone, Default)]
pub struct Operations {
    /// (division, agency name, last push) of each overdue agency.
    pub overdue: Vec<(u32, String, Option<i64>)>,
    /// Open correction-list records per agency division.
    pub corrections: BTreeMap<u32, usize>,
}

/// The agencies overdue with pushes at `now` and the open correction
/// lists (read in one transaction; the evaluation's read is audited).
pub fn operations(
    store: &dyn Store,
    calendar: &shared::calendar::WorkingCalendar,
    now: i64,
) -> Result<Operations, StoreError> {
    let mut tx = store.begin()?;
    let pushes = tx.agency_pushes()?;
    let outages = tx.outages(None)?;
    let authorities = tx.authorities()?;
    let corrections = tx.eval_open_corrections()?;
    tx.commit()?;
    let mut overdue = Vec::new();
    for a in &authorities {
        let last = pushes.iter().find(|p| p.division == a.division);
        let outage = issuing::outage_deadline(&outages, a.division);
        if issuing::push_overdue(calendar, last.map(|p| p.at), outage, now) {
            overdue.push((a.division.code(), a.name.clone(), last.map(|p| p.at)));
        }
    }
    let mut per_agency = BTreeMap::new();
    for c in corrections {
        *per_agency.entry(c.agency.code()).or_insert(0) += 1;
    }
    Ok(Operations {
        overdue,
        corrections: per_agency,
    })
}
