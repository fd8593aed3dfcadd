//! Bulk collection from an uploaded file (issue 15, the agency console):
//! a CSV or JSON-lines file read record by record with the importer's
//! reader ([`importer::Records`], the same formats as `verifier-server
//! import`), pushed in chunks ([`issuing::push`], one transaction each), and
//! a per-record report stored for download as CSV ([`shared::csvexport`]:
//! UTF-8 byte-order mark, formula cells neutralised).
//!
//! Nothing accepted is lost: each chunk is committed before the next is
//! read, so when reading stops early (a line that is not UTF-8, the
//! client gone, the body's deadline, the time budget) every record before
//! that line is stored and the answer says where it stopped. Uploading the
//! same file again is safe: stored records are answered `unchanged`.
//!
//! Lines that are not records are reported and skipped, the rest goes on:
//! not JSON, a wrong number of CSV fields, or a cell a spreadsheet would
//! run as a formula (`=`, `+`, `-`, `@` first), refused with its line and
//! field. A line that is not UTF-8 stops the upload at that line (the rest
//! of a GBK file is not UTF-8 either; the message says so).

use std::io::{BufRead as _, Read};
use std::time::Instant;

use importer::{Format, LineError, Records};
use serde_json::{Map, Value};
use shared::api::{Outcome, UploadReport, UploadRow};
use shared::domain::Nonconformance;

use super::action::Action;
use super::auth::Caller;
use super::issuing::{self, PushError};
use super::keys::Keys;
use crate::store::{Store, UploadReportRow};

/// Records pushed per transaction.
pub const CHUNK_RECORDS: usize = 500;
/// Most rows of records not signed in the JSON answer (the CSV has all).
pub const MAX_ANSWER_ROWS: usize = 1_000;

/// The report's columns.
pub const REPORT_HEADER: [&str; 10] = [
    "line",
    "cert_type",
    "number",
    "result",
    "version",
    "field",
    "rule",
    "message_zh",
    "message_en",
    "identifier",
];

/// The file as announced.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Its name (for the report).
    pub file_name: String,
    /// Its format.
    pub format: Format,
    /// Stop reading new chunks after this instant.
    pub deadline: Instant,
}

/// Why an upload was refused before anything was stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The file cannot be read as its format at all (encoding, header).
    #[error("{0}")]
    Unreadable(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A push failed (storage or encoding fault).
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<PushError> for UploadError {
    fn from(e: PushError) -> UploadError {
        UploadError::Internal(e.into())
    }
}

/// The report being collected.
struct Collected {
    csv: shared::csvexport::Export<Vec<u8>>,
    rows: Vec<UploadRow>,
    truncated: bool,
    summary: shared::api::Summary,
    records: u64,
}

impl Collected {
    fn csv_row(&mut self, cells: [&str; 10]) -> Result<(), UploadError> {
        self.csv
            .row(cells)
            .map_err(|e| UploadError::Internal(anyhow::Error::new(e).context("report CSV")))
    }

    fn not_signed(&mut self, row: UploadRow) {
        if self.rows.len() < MAX_ANSWER_ROWS {
            self.rows.push(row);
        } else {
            self.truncated = true;
        }
    }

    /// A line that is not a record.
    fn bad_line(&mut self, line: u64, why: &LineError) -> Result<(), UploadError> {
        self.records += 1;
        self.summary.malformed += 1;
        let reason = Nonconformance {
            field: why.field().unwrap_or("line").to_string(),
            rule: match why {
                LineError::Formula { .. } => "cell.formula",
                LineError::NotUtf8 { .. } => "line.encoding",
                _ => "line.malformed",
            }
            .to_string(),
            message_zh: why.message_zh(line),
            message_en: format!("line {line}: {why}"),
        };
        let l = line.to_string();
        self.csv_row([
            &l,
            "",
            "",
            "malformed",
            "",
            &reason.field,
            &reason.rule,
            &reason.message_zh,
            &reason.message_en,
            "",
        ])?;
        self.not_signed(UploadRow {
            line,
            cert_type: None,
            number: None,
            result: Outcome::Malformed,
            reasons: vec![reason],
        });
        Ok(())
    }
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Issued => "issued",
        Outcome::Updated => "updated",
        Outcome::Unchanged => "unchanged",
        Outcome::NonConforming => "non_conforming",
        Outcome::Refused => "refused",
        Outcome::Malformed => "malformed",
    }
}

/// Refuses a UTF-16 file (a byte-order mark other than UTF-8's) before
/// its header is read.
fn check_encoding(input: &mut std::io::BufReader<impl Read>) -> Result<(), UploadError> {
    let head = input
        .fill_buf()
        .map_err(|e| UploadError::Unreadable(format!("reading the file: {e}")))?;
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        return Err(UploadError::Unreadable(
            "第 1 行：文件是 UTF-16 编码，请另存为 UTF-8 编码后上传 \
             (the file is UTF-16 encoded: save it as UTF-8)"
                .into(),
        ));
    }
    Ok(())
}

/// Reads, pushes and reports an uploaded file (see the module docs); the
/// report is stored with its audit row and answered.
pub fn upload(
    store: &dyn Store,
    keys: &Keys,
    caller: &Caller,
    now: i64,
    upload: &Upload,
    input: impl Read,
) -> Result<UploadReport, UploadError> {
    let mut input = std::io::BufReader::with_capacity(1 << 16, input);
    check_encoding(&mut input)?;
    let counted = Counted {
        inner: input,
        bytes: 0,
    };
    let mut records = Records::new(counted, upload.format).map_err(|e| {
        UploadError::Unreadable(format!("文件第 1 行（表头）无法使用 (header row): {e}"))
    })?;
    let mut got = Collected {
        csv: shared::csvexport::Export::new(Vec::new(), REPORT_HEADER)
            .map_err(|e| UploadError::Internal(anyhow::Error::new(e).context("report CSV")))?,
        rows: Vec::new(),
        truncated: false,
        summary: shared::api::Summary::default(),
        records: 0,
    };
    let mut chunk: Vec<(u64, Map<String, Value>)> = Vec::with_capacity(CHUNK_RECORDS);
    let mut stopped: Option<String> = None;
    loop {
        let item = match records.next_item() {
            Ok(item) => item,
            Err(e) => {
                let after = chunk.last().map(|c| c.0);
                stopped = Some(format!(
                    "文件未读完（{e}）：{}之前的记录均已保存，请重新上传该文件（已保存的记录答复“未变化”）",
                    after.map_or_else(|| "已读取的行".to_string(), |l| format!("第 {l} 行及"))
                ));
                None
            }
        };
        let Some(item) = item else {
            break;
        };
        match item.record {
            Ok(map) => chunk.push((item.line, map)),
            Err(why @ LineError::NotUtf8 { .. }) => {
                stopped = Some(format!(
                    "{}；第 {} 行之前的记录均已保存",
                    why.message_zh(item.line),
                    item.line
                ));
                got.bad_line(item.line, &why)?;
                break;
            }
            Err(why) => got.bad_line(item.line, &why)?,
        }
        if chunk.len() >= CHUNK_RECORDS {
            if Instant::now() > upload.deadline {
                stopped = Some(deadline_message(chunk.first().map_or(0, |c| c.0)));
                chunk.clear();
                break;
            }
            if let Some(why) = push_chunk(store, keys, caller, now, upload, &mut chunk, &mut got)? {
                stopped = Some(why);
                break;
            }
        }
    }
    if !chunk.is_empty() {
        if let Some(why) = push_chunk(store, keys, caller, now, upload, &mut chunk, &mut got)? {
            stopped = Some(why);
        }
    }
    let bytes = records_bytes(&records);
    // Unreadable lines are reported when read, records when their chunk
    // is pushed: answer them in the file's order.
    got.rows.sort_by_key(|r| r.line);
    let csv = got
        .csv
        .into_inner()
        .map_err(|e| UploadError::Internal(anyhow::Error::new(e).context("report CSV")))?;
    let mut report = UploadReport {
        id: 0,
        file_name: upload.file_name.clone(),
        format: match upload.format {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
        .to_string(),
        bytes,
        records: got.records,
        summary: got.summary,
        complete: stopped.is_none(),
        stopped,
        rows: got.rows,
        rows_truncated: got.truncated,
    };
    let mut tx = store.begin()?;
    let summary_json = serde_json::to_string(&UploadReport {
        rows: Vec::new(),
        ..report.clone()
    })
    .map_err(|e| UploadError::Internal(e.into()))?;
    report.id = tx.insert_upload_report(&UploadReportRow {
        id: 0,
        agency: caller.division,
        received_at: now,
        file_name: upload.file_name.clone(),
        summary_json,
        csv,
    })?;
    let s = &report.summary;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::UploadRecords,
        format!("upload {} ({} records)", report.id, report.records),
        format!(
            "ok: issued {}, updated {}, unchanged {}, non_conforming {}, refused {}, malformed {}{}",
            s.issued,
            s.updated,
            s.unchanged,
            s.non_conforming,
            s.refused,
            s.malformed,
            if report.complete { "" } else { "; stopped early" }
        ),
    ))?;
    tx.commit()?;
    Ok(report)
}

fn deadline_message(line: u64) -> String {
    format!(
        "处理时间已到：从第 {line} 行起未处理，之前的记录均已保存；请把剩余的行另存为文件上传，\
         或用 verifier-server import 导入大文件"
    )
}

/// Pushes a chunk in one transaction and reports its records; `Some(why)`
/// when the time budget ran out first (nothing of the chunk stored).
fn push_chunk(
    store: &dyn Store,
    keys: &Keys,
    caller: &Caller,
    now: i64,
    upload: &Upload,
    chunk: &mut Vec<(u64, Map<String, Value>)>,
    got: &mut Collected,
) -> Result<Option<String>, UploadError> {
    let lines: Vec<u64> = chunk.iter().map(|c| c.0).collect();
    let values = chunk.drain(..).map(|c| Value::Object(c.1)).collect();
    let answer = match issuing::push(store, keys, caller, now, values, Some(upload.deadline)) {
        Ok(a) => a,
        Err(PushError::Deadline { .. }) => {
            return Ok(Some(deadline_message(lines.first().copied().unwrap_or(0))))
        }
        Err(e) => return Err(e.into()),
    };
    for r in answer.results {
        let line = lines.get(r.index).copied().unwrap_or(0);
        got.records += 1;
        got.summary.add(r.result);
        let l = line.to_string();
        let version = r.version.map(|v| v.to_string()).unwrap_or_default();
        let t = r.cert_type.as_deref().unwrap_or("");
        let n = r.number.as_deref().unwrap_or("");
        let id = r.identifier.as_deref().unwrap_or("");
        let reasons = r.reasons.clone().unwrap_or_default();
        if reasons.is_empty() {
            got.csv_row([
                &l,
                t,
                n,
                outcome_name(r.result),
                &version,
                "",
                "",
                "",
                "",
                id,
            ])?;
        }
        for reason in &reasons {
            got.csv_row([
                &l,
                t,
                n,
                outcome_name(r.result),
                &version,
                &reason.field,
                &reason.rule,
                &reason.message_zh,
                &reason.message_en,
                id,
            ])?;
        }
        if !matches!(
            r.result,
            Outcome::Issued | Outcome::Updated | Outcome::Unchanged
        ) {
            got.not_signed(UploadRow {
                line,
                cert_type: r.cert_type,
                number: r.number,
                result: r.result,
                reasons,
            });
        }
    }
    Ok(None)
}

/// Counts the bytes read through it.
struct Counted<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

fn records_bytes<R: Read>(records: &Records<Counted<R>>) -> u64 {
    records.get_ref().bytes
}

/// Why a stored report was not answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// No such report, or another agency's (answered alike).
    #[error("no upload report {0}")]
    NotFound(i64),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A stored upload report's CSV and file name, for the agency that
/// uploaded it (or an administrator); audited in the same transaction.
pub fn report_csv(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    id: i64,
) -> Result<(String, Vec<u8>), ReportError> {
    let mut tx = store.begin()?;
    let row = match tx.upload_report(id)? {
        Some(r) if caller.role == super::auth::Role::Admin || r.agency == caller.division => r,
        Some(_) | None => return Err(ReportError::NotFound(id)),
    };
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::ReadUploadReport,
        format!("upload {id}"),
        "ok",
    ))?;
    tx.commit()?;
    Ok((row.file_name, row.csv))
}
