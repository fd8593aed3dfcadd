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
use crate::store::evaluation::EvidenceFile;
use crate::store::{Store, StoreError, Tx};

/// Why an entry was refused; nothing was stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvaluationError {
    /// A field is out of range; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// An evidence file is larger than [`MAX_EVIDENCE_BYTES`].
    #[error("{0}")]
    TooLarge(String),
    /// No such evidence file.
    #[error("{0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Loads a year's data.
pub fn load(tx: &mut dyn Tx, year: i32) -> Result<Data, StoreError> {
    let (from, to) = (month_start(year, 1), month_start(year, 13));
    // The data directory's province: its stored provincial authority.
    let province = tx
        .authorities()?
        .iter()
        .map(|a| a.division)
        .find(|d| d.is_province());
    Ok(Data {
        province,
        certs: tx.eval_certificates()?,
        corrections: tx.eval_open_corrections()?,
        checks: {
            // Local checks, then checks forwarded by other provinces of
            // this province's certificates (same evidence rules).
            let mut checks = tx.eval_checks(from, to)?;
            checks.extend(super::forward::eval_checks(
                &tx.peer_checks(from, to)?,
                province.unwrap_or(shared::domain::DivisionCode::PROVINCE),
            ));
            // Applications' online verifications (issue 13 item 5).
            checks.extend(super::consent::eval_checks(&tx.app_checks(from, to)?));
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
        let mut e: Evaluation = serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("stored evaluation of {year}: {e}")))?;
        crate::evaluation::fill_times(&mut e);
        return Ok(e);
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
        .map_err(|e| EvaluationError::Invalid(format!("行政区划代码有误（{what}: {e}）")))?;
    if d.is_city() || d.is_province() {
        Ok(d)
    } else {
        Err(EvaluationError::Invalid(format!(
            "{code} 是区县代码，请填写市（或全省 210000）（{what}: {code} is a county; enter a city (or 210000 for the province)）"
        )))
    }
}

fn year(y: i32) -> Result<i32, EvaluationError> {
    if YEARS.contains(&y) {
        Ok(y)
    } else {
        Err(EvaluationError::Invalid(format!(
            "年度须在 {start} 至 {end} 之间（year: {y} is not between {start} and {end}）",
            start = YEARS.start(),
            end = YEARS.end()
        )))
    }
}

fn text(s: &str, what: &str, max: usize) -> Result<String, EvaluationError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > max {
        let label = if what.ends_with("file_name") {
            "文件名"
        } else {
            "说明"
        };
        return Err(EvaluationError::Invalid(format!(
            "{label}须为 1 至 {max} 个字符（{what}: must be 1 to {max} characters）"
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
                "第 {n} 个证明材料的 SHA-256 不是 64 位十六进制数（evidence[{i}].sha256: not 64 hex digits）",
                n = i + 1
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
            "请按市填报，不能填报全省（division: declare per city, not for the province）".into(),
        ));
    }
    let year = year(b.year)?;
    let cert_type =
        CertType::from_code(&b.cert_type.trim().to_ascii_uppercase()).ok_or_else(|| {
            EvaluationError::Invalid(format!(
                "证照类型代码有误（cert_type: {:?} is not a type code）",
                b.cert_type
            ))
        })?;
    if b.count > 10_000_000 {
        return Err(EvaluationError::Invalid(format!(
            "数量 {count} 超过 10000000（count: {count} is more than 10000000）",
            count = b.count
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

/// Most bytes of one evidence file.
pub const MAX_EVIDENCE_BYTES: usize = 5 * 1024 * 1024;

/// The evidence files accepted, by the type their bytes show: PDF, PNG,
/// JPEG.
pub const EVIDENCE_TYPES: [&str; 3] = ["application/pdf", "image/png", "image/jpeg"];

/// Checks an evidence file: not empty, at most [`MAX_EVIDENCE_BYTES`], a
/// PDF, PNG or JPEG by its bytes (`infer`), and, when the sender declared
/// a type other than `application/octet-stream`, that type; hashes it.
pub fn evidence_file(
    declared: Option<&str>,
    data: Vec<u8>,
    now: i64,
) -> Result<EvidenceFile, EvaluationError> {
    use sha2::Digest as _;
    if data.is_empty() {
        return Err(EvaluationError::Invalid(
            "证明材料为空文件（evidence file: empty）".into(),
        ));
    }
    if data.len() > MAX_EVIDENCE_BYTES {
        return Err(EvaluationError::TooLarge(format!(
            "证明材料过大：{len} 字节，最多 {MAX_EVIDENCE_BYTES} 字节（evidence file: {len} bytes; at most {MAX_EVIDENCE_BYTES}）",
            len = data.len()
        )));
    }
    let found = infer::get(&data)
        .map(|t| t.mime_type())
        .filter(|t| EVIDENCE_TYPES.contains(t))
        .ok_or_else(|| {
            EvaluationError::Invalid(
                "证明材料须为 PDF、PNG 或 JPEG 文件（evidence file: not a PDF, PNG or JPEG file (by its content)）".into(),
            )
        })?;
    if let Some(d) = declared {
        let d = d
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !d.is_empty() && d != "application/octet-stream" && d != found {
            return Err(EvaluationError::Invalid(format!(
                "证明材料声明为 {d}，但内容是 {found}（evidence file: declared as {d} but its content is {found}）"
            )));
        }
    }
    Ok(EvidenceFile {
        sha256: hex::encode(sha2::Sha256::digest(&data)),
        content_type: found.into(),
        data,
        uploaded_at: now,
    })
}

/// Stores a checked evidence file with its audit row; answers its hash,
/// type and size (storing the same bytes again changes nothing).
pub fn store_evidence(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    file: EvidenceFile,
) -> Result<shared::api::EvidenceStored, EvaluationError> {
    let answer = shared::api::EvidenceStored {
        sha256: file.sha256.clone(),
        content_type: file.content_type.clone(),
        size: file.data.len() as u64,
    };
    let target = format!("sha256 {} {} bytes", file.sha256, file.data.len());
    store_entry(store, caller, now, Action::UploadEvidence, target, |tx| {
        tx.put_evidence_file(&file).map(|_| ())
    })?;
    Ok(answer)
}

/// Records a training entry together with evidence files uploaded with it
/// (each already checked by [`evidence_file`]; the body names them by
/// hash), in one transaction with its audit row.
pub fn record_training_with_files(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    b: TrainingBody,
    files: Vec<EvidenceFile>,
) -> Result<Created, EvaluationError> {
    let row = training_row(b)?;
    let target = format!(
        "division {} year {} {} ({} attachments, {} files)",
        row.division.code(),
        row.year,
        row.coverage,
        row.evidence.len(),
        files.len()
    );
    let id = store_entry(store, caller, now, Action::RecordTraining, target, |tx| {
        for f in &files {
            tx.put_evidence_file(f)?;
        }
        tx.insert_training(&TrainingRow {
            entered_at: now,
            ..row
        })
    })?;
    Ok(Created { id })
}

/// An evidence file by its hash, read with its audit row.
pub fn read_evidence(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    action: Action,
    sha256: &str,
) -> Result<EvidenceFile, EvaluationError> {
    let sha = sha256.trim().to_ascii_lowercase();
    if sha.len() != 64 || !sha.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(EvaluationError::Invalid(
            "SHA-256 不是 64 位十六进制数（sha256: not 64 hex digits）".into(),
        ));
    }
    let target = format!("sha256 {sha}");
    let found = store_entry(store, caller, now, action, target, |tx| {
        tx.evidence_file(&sha)
    })?;
    found.ok_or_else(|| EvaluationError::NotFound(format!("no evidence file with sha256 {sha}")))
}

/// Which part of the province a drill-down shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    /// The province, a city or a county.
    pub division: DivisionCode,
    /// One certificate type only.
    pub cert_type: Option<CertType>,
}

/// A drill-down: the scope's score and its parts' (cities of the
/// province, issuing divisions of a city), and the scope by type.
#[derive(Debug, Clone)]
pub struct Drill {
    /// The year.
    pub year: i32,
    /// The scope's own score.
    pub score: shared::api::Score,
    /// Each part's score, by division.
    pub parts: Vec<shared::api::Score>,
    /// The scope's score per certificate type (empty when the scope is one type).
    pub by_type: Vec<(CertType, shared::api::Score)>,
}

/// Computes a drill-down of a year from the records (not a stored
/// evaluation), in one transaction with its audit row.
pub fn drill(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    action: Action,
    year: i32,
    scope: Scope,
) -> Result<Drill, StoreError> {
    use crate::evaluation::{evaluate_unit, parts_of};
    let mut tx = store.begin()?;
    let data = load(tx.as_mut(), year)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        action,
        format!(
            "year={year} division={} type={}",
            scope.division.code(),
            scope.cert_type.map_or("all", CertType::code)
        ),
        "ok",
    ))?;
    tx.commit()?;
    let t = scope.cert_type;
    let score = evaluate_unit(&data, year, scope.division, false, t);
    // A city's own division among its parts is the city without its counties.
    let parts = parts_of(&data, scope.division)
        .into_iter()
        .map(|d| evaluate_unit(&data, year, d, d == scope.division, t))
        .collect();
    let by_type = if t.is_some() {
        Vec::new()
    } else {
        CertType::ALL
            .iter()
            .map(|&ct| {
                (
                    ct,
                    evaluate_unit(&data, year, scope.division, false, Some(ct)),
                )
            })
            .collect()
    };
    Ok(Drill {
        year,
        score,
        parts,
        by_type,
    })
}

/// An agency as the dashboard shows it: its push state and its open
/// correction list.
#[derive(Debug, Clone)]
pub struct AgencyView {
    /// The authority (name, division, USCC), if registered.
    pub authority: Option<shared::trust::Authority>,
    /// The agency's division.
    pub division: DivisionCode,
    /// Its last push, Unix seconds.
    pub last_push: Option<i64>,
    /// Overdue with pushes at `now` (R4).
    pub overdue: bool,
    /// Its open correction list.
    pub corrections: Vec<crate::store::NonconformingRow>,
}

/// One agency's push state and open correction list (read in one
/// transaction with its audit row).
pub fn agency(
    store: &dyn Store,
    calendar: &shared::calendar::WorkingCalendar,
    caller: &Caller,
    now: i64,
    action: Action,
    division: DivisionCode,
) -> Result<AgencyView, StoreError> {
    let mut tx = store.begin()?;
    let authority = tx
        .authorities()?
        .into_iter()
        .find(|a| a.division == division);
    let last_push = tx
        .agency_pushes()?
        .into_iter()
        .find(|p| p.division == division)
        .map(|p| p.at);
    let outage = issuing::outage_deadline(&tx.outages(Some(division))?, division);
    let corrections = tx.nonconforming(Some(division), true)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        action,
        format!("agency {}", division.code()),
        "ok",
    ))?;
    tx.commit()?;
    Ok(AgencyView {
        authority,
        division,
        last_push,
        overdue: issuing::push_overdue(calendar, last_push, outage, now),
        corrections,
    })
}

/// Writes one audit row for `caller` (a sign-in to the dashboard).
pub fn note(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    action: Action,
    target: &str,
) -> Result<(), StoreError> {
    let mut tx = store.begin()?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        action,
        target.to_string(),
        "ok",
    ))?;
    tx.commit()
}
