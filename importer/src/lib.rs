//! Bulk collection (归集) from a file: the `importer` library, run by
//! `verifier-server import`, reads
//! certificate records from CSV or JSON lines and pushes them in batches to
//! `POST /api/v1/records` of a running server, resumably.
//!
//! Input formats:
//! - **JSON lines**: one JSON object per line with the `RawRecord` field
//!   keys (`shared::domain::RawRecord::KEYS`); list fields are JSON arrays.
//!   Blank lines are skipped.
//! - **CSV** (RFC 4180, UTF-8, optional BOM): a header row naming
//!   `RawRecord` field keys, in any order and any subset; an unknown or
//!   repeated column stops the run before anything is pushed (a misspelt
//!   column would otherwise lose that field from every record). An empty
//!   cell is an absent field. The list fields `qualification_classes` and
//!   `business_scope` hold their items separated by `;`, e.g. `021;022`.
//!
//! A line that cannot be read as a record (not JSON, not an object, not
//! UTF-8, wrong number of CSV fields) is **reported and skipped**: the run
//! goes on, the line is counted as `malformed` in the summary and listed
//! with its line number in the report, so nothing is silently lost and one
//! bad line does not hold up a first collection of millions of records.
//!
//! Resuming: after each acknowledged batch the position is saved in the
//! sidecar `FILE.import-state` (JSON, written to a temporary file, fsynced
//! and renamed over the old one), together with the file's size and
//! SHA-256, the server address and the counts so far. Running the same
//! command again continues after the last acknowledged batch; the batch in
//! flight when the run stopped is pushed again, which the server answers
//! `unchanged` for whatever it had already stored (pushes are idempotent).
//! A state file for a different file or server is refused, not resumed.
//!
//! The report `FILE.import-report.csv` lists every record that was not
//! signed (non-conforming, refused, malformed) with its line number and,
//! per reason, the field, the rule and the messages. It is truncated to
//! the length recorded in the state on resume, so a batch pushed twice is
//! reported once. It is written by `shared::csvexport`: a UTF-8
//! byte-order mark first (Excel shows Chinese garbled without it) and any
//! cell a spreadsheet could run as a formula (`=`, `+`, `-`, `@`)
//! prefixed with `'`.

#![forbid(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, IsTerminal as _, Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use shared::domain::validate::RawValue;
use shared::domain::RawRecord;

use shared::api::PushRequest;
pub use shared::api::{Outcome, PushResponse, RecordResult, Summary};

/// Separator of the items of a list field in a CSV cell.
pub const CSV_LIST_SEPARATOR: char = ';';

/// The input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    /// The format a file name's extension suggests: `.csv` is CSV,
    /// `.jsonl`, `.ndjson` and `.json` are JSON lines.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

/// What to import and where.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Base URL of the server, e.g. `https://lnzz.example.cn`.
    pub server: String,
    /// The agency's (or an administrator's) bearer token.
    pub token: String,
    /// The input file.
    pub file: PathBuf,
    /// Its format.
    pub format: Format,
    /// Records per push (1–5,000, the server's limit).
    pub batch: usize,
    /// Retries of a push after a transient failure before giving up.
    pub retries: u32,
    /// First wait between retries; doubled after each, at most 30 s.
    pub backoff: Duration,
    /// Longest a push may take.
    pub timeout: Duration,
    /// Draw a progress bar on stderr (only if it is a terminal).
    pub progress: bool,
    /// PEM file of the CA the server's TLS certificate must chain to;
    /// `None`: the web's roots (webpki-roots).
    pub ca_file: Option<PathBuf>,
}

impl ImportOptions {
    /// Options with the defaults: batches of 1,000, 5 retries from 1 s,
    /// 120 s per push, progress bar on.
    pub fn new(server: &str, token: &str, file: &Path, format: Format) -> ImportOptions {
        ImportOptions {
            server: server.trim_end_matches('/').to_string(),
            token: token.to_string(),
            file: file.to_path_buf(),
            format,
            batch: 1_000,
            retries: 5,
            backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(120),
            progress: true,
            ca_file: None,
        }
    }

    /// The state sidecar: `FILE.import-state`.
    pub fn state_path(&self) -> PathBuf {
        sidecar(&self.file, ".import-state")
    }

    /// The report of records not signed: `FILE.import-report.csv`.
    pub fn report_path(&self) -> PathBuf {
        sidecar(&self.file, ".import-report.csv")
    }
}

fn sidecar(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// The result of a completed import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportOutcome {
    /// Counts over the whole import, including earlier interrupted runs;
    /// `malformed` includes lines that could not be read as records.
    pub summary: Summary,
    /// Records read from the file (including malformed ones).
    pub records: u64,
    /// Batches acknowledged by the server.
    pub batches: u64,
    /// The record this run started from (1-based) when it resumed an
    /// interrupted import.
    pub resumed_at_record: Option<u64>,
    /// Whether the import had already been completed by an earlier run
    /// (nothing was pushed).
    pub already_complete: bool,
    /// The report of records not signed.
    pub report: PathBuf,
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// Bad options.
    #[error("{0}")]
    Usage(String),
    /// The file, its header or the state file cannot be used.
    #[error("{0}")]
    Input(String),
    /// The server refused a push for a reason retrying cannot fix.
    #[error("the server refused the push ({status}): {detail}; {resume}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The problem detail the server gave.
        detail: String,
        /// How to resume.
        resume: String,
    },
    /// The server could not be reached or kept failing.
    #[error("the server did not accept the push after {attempts} attempts ({cause}); {resume}")]
    Unavailable {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        cause: String,
        /// How to resume.
        resume: String,
    },
    /// A local file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The rustls refusal of the server's certificate inside a ureq error
/// (ureq hands it up either directly or inside an I/O error).
fn certificate_error(e: &ureq::Error) -> Option<&rustls::Error> {
    let tls = match e {
        ureq::Error::Rustls(tls) => Some(tls),
        ureq::Error::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        _ => None,
    }?;
    matches!(tls, rustls::Error::InvalidCertificate(_)).then_some(tls)
}

/// The certificates of the CA file `path` (PEM).
fn read_ca(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>, ImportError> {
    let pem = std::fs::read(path).map_err(io(format!("reading the CA file {}", path.display())))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(ImportError::Usage(format!(
                    "--ca-file {}: not valid PEM: {e}",
                    path.display()
                )))
            }
        }
    }
    if certs.is_empty() {
        return Err(ImportError::Usage(format!(
            "--ca-file {}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file",
            path.display()
        )));
    }
    Ok(certs)
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ImportError {
    let what = what.into();
    move |source| ImportError::Io { what, source }
}

/// The saved position of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ImportState {
    /// Layout of this file.
    state_version: u32,
    file_size: u64,
    file_sha256: String,
    format: Format,
    server: String,
    /// Records (lines or rows, malformed ones included) acknowledged.
    records_done: u64,
    /// The file line after the last acknowledged record.
    next_line: u64,
    /// Bytes of the report that belong to acknowledged batches.
    report_len: u64,
    batches: u64,
    summary: Summary,
    complete: bool,
}

const STATE_VERSION: u32 = 1;

impl ImportState {
    fn load(path: &Path) -> Result<Option<ImportState>, ImportError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(format!("reading {}", path.display()))(e)),
        };
        let state: ImportState = serde_json::from_slice(&bytes).map_err(|e| {
            ImportError::Input(format!(
                "{}: not an import state file ({e}); delete it to start the import over",
                path.display()
            ))
        })?;
        if state.state_version != STATE_VERSION {
            return Err(ImportError::Input(format!(
                "{}: state version {} is not {STATE_VERSION}; delete it to start over",
                path.display(),
                state.state_version
            )));
        }
        Ok(Some(state))
    }

    /// Writes the state durably: temporary file, fsync, rename, fsync of
    /// the directory.
    fn save(&self, path: &Path) -> Result<(), ImportError> {
        let tmp = sidecar(path, ".tmp");
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| ImportError::Input(format!("encoding the import state: {e}")))?;
        let what = format!("writing {}", tmp.display());
        let mut f = File::create(&tmp).map_err(io(what.clone()))?;
        f.write_all(&bytes).map_err(io(what.clone()))?;
        f.sync_all().map_err(io(what))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(io(format!("renaming {}", tmp.display())))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(format!("syncing directory {}", dir.display())))
    }
}

/// Why one line (or CSV row) of an input cannot be read as a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// The bytes are not UTF-8 text; `field` names the CSV column.
    #[error("{}not UTF-8 text{}", field_prefix(.field), if *.gbk { " (it reads as GBK/GB18030: save the file as UTF-8)" } else { "" })]
    NotUtf8 {
        /// The column, for CSV.
        field: Option<String>,
        /// Whether the bytes read as GBK/GB18030 (a file saved by a
        /// Chinese-locale spreadsheet).
        gbk: bool,
    },
    /// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`
    /// first): refused, so that no export or spreadsheet ever runs it.
    #[error("field {field}: starts with {first:?}, which a spreadsheet runs as a formula")]
    Formula {
        /// The field.
        field: String,
        /// Its first character.
        first: char,
    },
    /// Anything else (not JSON, not an object, wrong number of fields).
    #[error("{0}")]
    Malformed(String),
}

fn field_prefix(field: &Option<String>) -> String {
    field
        .as_ref()
        .map(|f| format!("column {f}: "))
        .unwrap_or_default()
}

impl LineError {
    /// The field it names, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            LineError::NotUtf8 { field, .. } => field.as_deref(),
            LineError::Formula { field, .. } => Some(field),
            LineError::Malformed(_) => None,
        }
    }

    /// A Chinese message naming the line and field.
    pub fn message_zh(&self, line: u64) -> String {
        let label = |f: &str| {
            shared::domain::catalogue::field_label(f)
                .map_or_else(|| f.to_string(), |(zh, _)| format!("{f}（{zh}）"))
        };
        match self {
            LineError::NotUtf8 { field, gbk } => format!(
                "第 {line} 行{}不是 UTF-8 编码的文本{}",
                field
                    .as_deref()
                    .map(|f| format!("字段 {}", label(f)))
                    .unwrap_or_default(),
                if *gbk {
                    "（看来是 GBK/GB18030 编码：请另存为 UTF-8 编码的 CSV 后重新上传）"
                } else {
                    ""
                }
            ),
            LineError::Formula { field, first } => format!(
                "第 {line} 行字段 {}以“{first}”开头，可能被电子表格当作公式执行，已拒收该行",
                label(field)
            ),
            LineError::Malformed(why) => format!("第 {line} 行无法读取为证照记录：{why}"),
        }
    }
}

fn not_utf8(field: Option<&str>, bytes: &[u8]) -> LineError {
    LineError::NotUtf8 {
        field: field.map(str::to_string),
        gbk: encoding_rs::GB18030
            .decode_without_bom_handling_and_without_replacement(bytes)
            .is_some(),
    }
}

/// Whether `text` is a plain signed number such as `-5` or `+1.5`, which
/// a spreadsheet reads as a number, not a formula.
fn plain_number(text: &str) -> bool {
    let digits = text.trim_start_matches(['+', '-']);
    digits.len() + 1 == text.len()
        && !digits.is_empty()
        && digits.split_once('.').map_or_else(
            || digits.bytes().all(|b| b.is_ascii_digit()),
            |(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
            },
        )
}

/// Refuses a text a spreadsheet would run as a formula
/// ([`shared::csvexport::is_formula`], but not a plain signed number such
/// as `-5`; cells are trimmed first). Exports neutralise every such cell
/// anyway ([`shared::csvexport`]).
fn check_formula(field: &str, text: &str) -> Result<(), LineError> {
    if shared::csvexport::is_formula(text) && !plain_number(text) {
        return Err(LineError::Formula {
            field: field.to_string(),
            first: text.chars().next().unwrap_or('='),
        });
    }
    Ok(())
}

/// Every string of a JSON record checked by [`check_formula`].
fn check_record(map: &Map<String, Value>) -> Result<(), LineError> {
    for (key, value) in map {
        match value {
            Value::String(s) => check_formula(key, s.trim())?,
            Value::Array(items) => {
                for item in items {
                    if let Value::String(s) = item {
                        check_formula(key, s.trim())?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// One input record: the line it starts on, the byte after it, and its
/// fields or why it cannot be read.
#[derive(Debug)]
pub struct Item {
    /// The line (1-based; for CSV the row's first line).
    pub line: u64,
    /// The input's byte offset after it.
    pub end: u64,
    /// The record's fields, or why the line is not a record.
    pub record: Result<Map<String, Value>, LineError>,
}

/// Reads records from CSV or JSON lines (see the crate docs for both
/// formats), one [`Item`] at a time; used by the importer and by the
/// server's upload endpoint alike.
pub struct Records<R: std::io::Read> {
    input: Input<R>,
}

enum Input<R: std::io::Read> {
    Csv {
        reader: csv::Reader<R>,
        columns: Vec<(String, bool)>,
    },
    Jsonl {
        reader: BufReader<R>,
        line: u64,
        pos: u64,
    },
}

impl<R: std::io::Read> Records<R> {
    /// Records of `format` from `input`. For CSV the header row is read
    /// and checked now: an unknown, repeated or non-UTF-8 column, or an
    /// empty header, is an error (a misspelt column would lose that field
    /// from every record).
    pub fn new(input: R, format: Format) -> Result<Records<R>, String> {
        let input = match format {
            Format::Jsonl => Input::Jsonl {
                reader: BufReader::with_capacity(1 << 16, input),
                line: 0,
                pos: 0,
            },
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .flexible(true)
                    .has_headers(true)
                    .from_reader(input);
                let header = reader
                    .byte_headers()
                    .map_err(|e| format!("header row: {e}"))?;
                let columns = csv_columns(header)?;
                Input::Csv { reader, columns }
            }
        };
        Ok(Records { input })
    }

    /// The input (e.g. to ask how much was read).
    pub fn get_ref(&self) -> &R {
        match &self.input {
            Input::Csv { reader, .. } => reader.get_ref(),
            Input::Jsonl { reader, .. } => reader.get_ref(),
        }
    }

    /// The next record, `None` at the end; an error only when the input
    /// itself fails (a line that is not a record is an [`Item`] with its
    /// [`LineError`]).
    pub fn next_item(&mut self) -> std::io::Result<Option<Item>> {
        match &mut self.input {
            Input::Jsonl { reader, line, pos } => loop {
                let mut buf = Vec::new();
                let n = reader.read_until(b'\n', &mut buf)?;
                if n == 0 {
                    return Ok(None);
                }
                *line += 1;
                *pos += n as u64;
                let Ok(text) = std::str::from_utf8(&buf) else {
                    return Ok(Some(Item {
                        line: *line,
                        end: *pos,
                        record: Err(not_utf8(None, &buf)),
                    }));
                };
                let text = text.trim_start_matches('\u{feff}').trim();
                if text.is_empty() {
                    continue;
                }
                let record = match serde_json::from_str::<Value>(text) {
                    Ok(Value::Object(map)) => check_record(&map).map(|()| map),
                    Ok(_) => Err(LineError::Malformed(
                        "expected a JSON object of record fields".to_string(),
                    )),
                    Err(e) => Err(LineError::Malformed(format!("not JSON: {e}"))),
                };
                return Ok(Some(Item {
                    line: *line,
                    end: *pos,
                    record,
                }));
            },
            Input::Csv { reader, columns } => {
                let mut row = csv::ByteRecord::new();
                let more = match reader.read_byte_record(&mut row) {
                    Ok(more) => more,
                    Err(e) => {
                        // A broken row (e.g. bad quoting) is reported; the
                        // reader continues after it.
                        let (line, end) = e
                            .position()
                            .map_or((0, reader.position().byte()), |p| (p.line(), p.byte()));
                        if let csv::ErrorKind::Io(_) = e.kind() {
                            return Err(std::io::Error::other(e.to_string()));
                        }
                        return Ok(Some(Item {
                            line,
                            end,
                            record: Err(LineError::Malformed(format!("unreadable CSV row: {e}"))),
                        }));
                    }
                };
                if !more {
                    return Ok(None);
                }
                let line = row.position().map_or(0, csv::Position::line);
                let end = reader.position().byte();
                Ok(Some(Item {
                    line,
                    end,
                    record: csv_record(columns, &row),
                }))
            }
        }
    }
}

/// The importer's input file.
type FileRecords = Records<File>;

fn open_input(path: &Path, format: Format) -> Result<FileRecords, ImportError> {
    let file = File::open(path).map_err(io(format!("opening {}", path.display())))?;
    Records::new(file, format).map_err(|e| ImportError::Input(format!("{}: {e}", path.display())))
}

fn next_input(input: &mut FileRecords) -> Result<Option<Item>, ImportError> {
    input.next_item().map_err(io("reading the input"))
}

/// The header's columns, each with whether it is a list field.
fn csv_columns(header: &csv::ByteRecord) -> Result<Vec<(String, bool)>, String> {
    let template = RawRecord::default();
    let mut columns: Vec<(String, bool)> = Vec::new();
    for (i, cell) in header.iter().enumerate() {
        let name = std::str::from_utf8(cell)
            .map_err(|_| {
                let gbk = matches!(not_utf8(None, cell), LineError::NotUtf8 { gbk: true, .. });
                format!(
                    "header column {}: not UTF-8{}",
                    i + 1,
                    if gbk {
                        " (it reads as GBK/GB18030: save the file as UTF-8)"
                    } else {
                        ""
                    }
                )
            })?
            .trim_start_matches('\u{feff}')
            .trim();
        let list = match template.get(name) {
            Some(RawValue::List(_)) => true,
            Some(RawValue::Text(_)) => false,
            None if i == 0 && shared::domain::CertType::from_code(name).is_some() => {
                return Err(format!(
                    "the first line starts with the certificate type {name:?}, not a column \
                     name: the header row is missing (首行应为表头，列名为: {})",
                    RawRecord::KEYS.join(", ")
                ))
            }
            None => {
                return Err(format!(
                    "header column {} {name:?} is not a record field; columns are: {}",
                    i + 1,
                    RawRecord::KEYS.join(", ")
                ))
            }
        };
        if columns.iter().any(|(c, _)| c == name) {
            return Err(format!("header column {} {name:?} is repeated", i + 1));
        }
        columns.push((name.to_string(), list));
    }
    if columns.is_empty() {
        return Err("the header row is empty".into());
    }
    Ok(columns)
}

/// A CSV row as a record object.
fn csv_record(
    columns: &[(String, bool)],
    row: &csv::ByteRecord,
) -> Result<Map<String, Value>, LineError> {
    if row.len() != columns.len() {
        return Err(LineError::Malformed(format!(
            "{} fields, the header has {}",
            row.len(),
            columns.len()
        )));
    }
    let mut map = Map::new();
    for ((name, list), cell) in columns.iter().zip(row.iter()) {
        let text = std::str::from_utf8(cell)
            .map_err(|_| not_utf8(Some(name), cell))?
            .trim();
        if text.is_empty() {
            continue;
        }
        check_formula(name, text)?;
        let value = if *list {
            Value::Array(
                text.split(CSV_LIST_SEPARATOR)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            )
        } else {
            Value::String(text.to_string())
        };
        map.insert(name.clone(), value);
    }
    Ok(map)
}

/// Size and SHA-256 of a file.
fn fingerprint(path: &Path) -> Result<(u64, String), ImportError> {
    let what = format!("reading {}", path.display());
    let mut f = File::open(path).map_err(io(what.clone()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io(what.clone()))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// The report of records not signed, appended per acknowledged batch.
struct Report {
    writer: shared::csvexport::Export<File>,
    path: PathBuf,
}

/// The report's columns.
const REPORT_HEADER: [&str; 8] = [
    "line",
    "cert_type",
    "number",
    "result",
    "field",
    "rule",
    "message_zh",
    "message_en",
];

/// One row of the report.
struct ReportRow<'a> {
    line: u64,
    cert_type: &'a str,
    number: &'a str,
    result: &'a str,
    field: &'a str,
    rule: &'a str,
    message_zh: &'a str,
    message_en: &'a str,
}

impl Report {
    /// Opens the report, cut to `len` bytes (0: a new report).
    fn open(path: &Path, len: u64) -> Result<Report, ImportError> {
        let what = format!("opening the report {}", path.display());
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(path)
            .map_err(io(what.clone()))?;
        file.set_len(len).map_err(io(what.clone()))?;
        file.seek(std::io::SeekFrom::End(0)).map_err(io(what))?;
        // A new report starts with the byte-order mark and the header
        // (shared::csvexport); a resumed one goes on after them.
        let writer = if len == 0 {
            shared::csvexport::Export::new(file, REPORT_HEADER)
                .map_err(|e| ImportError::Input(format!("writing the report: {e}")))?
        } else {
            shared::csvexport::Export::append(file)
        };
        Ok(Report {
            writer,
            path: path.to_path_buf(),
        })
    }

    fn write(&mut self, r: &ReportRow<'_>) -> Result<(), ImportError> {
        let line = r.line.to_string();
        self.writer
            .row([
                line.as_str(),
                r.cert_type,
                r.number,
                r.result,
                r.field,
                r.rule,
                r.message_zh,
                r.message_en,
            ])
            .map_err(|e| ImportError::Input(format!("writing the report: {e}")))
    }

    /// Makes the rows written so far durable; returns the report's length.
    fn sync(&mut self) -> Result<u64, ImportError> {
        let what = format!("writing the report {}", self.path.display());
        self.writer.flush().map_err(io(what.clone()))?;
        let file = self.writer.get_ref();
        file.sync_data().map_err(io(what.clone()))?;
        Ok(file.metadata().map_err(io(what))?.len())
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

/// How one push attempt failed.
enum PushFailure {
    /// Worth retrying.
    Transient(String),
    /// Retrying will not help.
    Fatal { status: u16, detail: String },
}

/// The HTTP side: one agent (connection pool) for the whole run.
struct Client {
    agent: ureq::Agent,
    url: String,
    auth: String,
}

/// Most bytes of a push answer read (5,000 results with reasons).
const MAX_ANSWER: u64 = 64 * 1024 * 1024;

impl Client {
    fn new(o: &ImportOptions) -> Result<Client, ImportError> {
        let roots = match &o.ca_file {
            Some(path) => ureq::tls::RootCerts::new_with_certs(&read_ca(path)?),
            None => ureq::tls::RootCerts::WebPki,
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
            .http_status_as_error(false)
            .timeout_global(Some(o.timeout))
            .timeout_connect(Some(Duration::from_secs(10)))
            .user_agent(concat!(
                "verifier-server-import/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .into();
        Ok(Client {
            agent,
            url: format!("{}/api/v1/records", o.server),
            auth: format!("Bearer {}", o.token),
        })
    }

    fn push(&self, body: &[u8]) -> Result<PushResponse, PushFailure> {
        let response = self
            .agent
            .post(&self.url)
            .header("Authorization", &self.auth)
            .content_type("application/json")
            .send(body);
        let mut response = match response {
            Ok(r) => r,
            Err(e) => {
                return Err(match e {
                    ureq::Error::BadUri(_)
                    | ureq::Error::Http(_)
                    | ureq::Error::InvalidProxyUrl
                    | ureq::Error::RedirectFailed => PushFailure::Fatal {
                        status: 0,
                        detail: e.to_string(),
                    },
                    other => match certificate_error(&other) {
                        Some(tls) => PushFailure::Fatal {
                            status: 0,
                            detail: format!(
                                "the server's TLS certificate is not trusted ({tls}); \
                                 if the server uses a private CA, give --ca-file CA.pem"
                            ),
                        },
                        None => PushFailure::Transient(other.to_string()),
                    },
                })
            }
        };
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(|e| PushFailure::Transient(format!("reading the answer: {e}")))?;
        if status == 200 {
            return serde_json::from_slice(&body).map_err(|e| PushFailure::Fatal {
                status,
                detail: format!("the answer is not a push result: {e}"),
            });
        }
        let detail = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect());
        if matches!(status, 408 | 429 | 500 | 502 | 503 | 504) {
            Err(PushFailure::Transient(format!("HTTP {status}: {detail}")))
        } else {
            Err(PushFailure::Fatal { status, detail })
        }
    }
}

/// A batch being collected.
#[derive(Default)]
struct Batch {
    /// Records to push.
    records: Vec<Map<String, Value>>,
    /// Their lines.
    lines: Vec<u64>,
    /// Lines that could not be read, with why.
    malformed: Vec<(u64, LineError)>,
    /// Items consumed (records and malformed lines).
    items: u64,
    /// The line and byte after the last item.
    next_line: u64,
    end: u64,
}

/// Runs (or resumes) an import; see the module docs.
pub fn run(o: &ImportOptions) -> Result<ImportOutcome, ImportError> {
    if !(1..=5_000).contains(&o.batch) {
        return Err(ImportError::Usage(format!(
            "--batch {}: must be 1 to 5000 records",
            o.batch
        )));
    }
    if !(o.server.starts_with("http://") || o.server.starts_with("https://")) {
        return Err(ImportError::Usage(format!(
            "--server {}: expected an http:// or https:// URL",
            o.server
        )));
    }
    let state_path = o.state_path();
    let report_path = o.report_path();
    let (file_size, file_sha256) = fingerprint(&o.file)?;
    let mut state = match ImportState::load(&state_path)? {
        Some(s) => {
            if s.file_size != file_size || s.file_sha256 != file_sha256 {
                return Err(ImportError::Input(format!(
                    "{} belongs to another version of {} (size or SHA-256 differ); \
                     delete it to import this file from the start",
                    state_path.display(),
                    o.file.display()
                )));
            }
            if s.server != o.server || s.format != o.format {
                return Err(ImportError::Input(format!(
                    "{} records an import of this file to {} as {:?}, not to {} as {:?}; \
                     delete it to start over",
                    state_path.display(),
                    s.server,
                    s.format,
                    o.server,
                    o.format
                )));
            }
            s
        }
        None => ImportState {
            state_version: STATE_VERSION,
            file_size,
            file_sha256,
            format: o.format,
            server: o.server.clone(),
            records_done: 0,
            next_line: 1,
            report_len: 0,
            batches: 0,
            summary: Summary::default(),
            complete: false,
        },
    };
    let resumed_at_record =
        (state.records_done > 0 && !state.complete).then_some(state.records_done + 1);
    if state.complete {
        return Ok(ImportOutcome {
            summary: state.summary,
            records: state.records_done,
            batches: state.batches,
            resumed_at_record: None,
            already_complete: true,
            report: report_path,
        });
    }
    // Validate the input before touching the report or the server.
    let mut input = open_input(&o.file, o.format)?;
    let mut report = Report::open(&report_path, state.report_len)?;
    if state.report_len == 0 {
        state.report_len = report.sync()?;
    }
    let client = Client::new(o)?;
    let bar = progress_bar(o.progress, file_size);

    // Skip what earlier runs had acknowledged.
    let mut skipped = 0u64;
    while skipped < state.records_done {
        match next_input(&mut input)? {
            Some(item) => {
                skipped += 1;
                bar.set_position(item.end);
            }
            None => {
                return Err(ImportError::Input(format!(
                    "{} says {} records were pushed but the file has only {skipped}; \
                     delete it to start over",
                    state_path.display(),
                    state.records_done
                )))
            }
        }
    }

    loop {
        let mut batch = Batch {
            next_line: state.next_line,
            ..Batch::default()
        };
        while batch.records.len() < o.batch {
            let Some(item) = next_input(&mut input)? else {
                break;
            };
            batch.items += 1;
            batch.next_line = item.line + 1;
            batch.end = item.end;
            match item.record {
                Ok(r) => {
                    batch.records.push(r);
                    batch.lines.push(item.line);
                }
                Err(why) => batch.malformed.push((item.line, why)),
            }
        }
        if batch.items == 0 {
            break;
        }
        let mut summary = Summary::default();
        if !batch.records.is_empty() {
            let answer = push_with_retries(o, &client, &batch, &state, &state_path)?;
            if answer.results.len() != batch.records.len() {
                return Err(ImportError::Refused {
                    status: 200,
                    detail: format!(
                        "answered {} results for {} records",
                        answer.results.len(),
                        batch.records.len()
                    ),
                    resume: resume_hint(&state, &state_path),
                });
            }
            for r in &answer.results {
                summary.add(r.result);
                if matches!(
                    r.result,
                    Outcome::Issued | Outcome::Updated | Outcome::Unchanged
                ) {
                    continue;
                }
                let line = batch.lines.get(r.index).copied().unwrap_or(0);
                let (t, n, res) = (
                    r.cert_type.as_deref().unwrap_or(""),
                    r.number.as_deref().unwrap_or(""),
                    outcome_name(r.result),
                );
                let reasons = r.reasons.as_deref().unwrap_or(&[]);
                if reasons.is_empty() {
                    report.write(&ReportRow {
                        line,
                        cert_type: t,
                        number: n,
                        result: res,
                        field: "",
                        rule: "",
                        message_zh: "",
                        message_en: "",
                    })?;
                }
                for reason in reasons {
                    report.write(&ReportRow {
                        line,
                        cert_type: t,
                        number: n,
                        result: res,
                        field: &reason.field,
                        rule: &reason.rule,
                        message_zh: &reason.message_zh,
                        message_en: &reason.message_en,
                    })?;
                }
            }
        }
        for (line, why) in &batch.malformed {
            summary.malformed += 1;
            report.write(&ReportRow {
                line: *line,
                cert_type: "",
                number: "",
                result: "malformed",
                field: why.field().unwrap_or(""),
                rule: "line.malformed",
                message_zh: &why.message_zh(*line),
                message_en: &format!("line {line}: {why}"),
            })?;
        }
        // The report first, then the position: a crash in between redoes
        // the batch and cuts the report back to the saved length.
        state.report_len = report.sync()?;
        state.records_done += batch.items;
        state.next_line = batch.next_line;
        state.batches += u64::from(!batch.records.is_empty());
        merge(&mut state.summary, &summary);
        state.save(&state_path)?;
        bar.set_position(batch.end);
        bar.set_message(format!(
            "issued {} · non-conforming {} · malformed {}",
            state.summary.issued + state.summary.updated,
            state.summary.non_conforming,
            state.summary.malformed
        ));
    }
    state.complete = true;
    state.save(&state_path)?;
    bar.finish_and_clear();
    Ok(ImportOutcome {
        summary: state.summary,
        records: state.records_done,
        batches: state.batches,
        resumed_at_record,
        already_complete: false,
        report: report_path,
    })
}

fn merge(into: &mut Summary, s: &Summary) {
    into.issued += s.issued;
    into.updated += s.updated;
    into.unchanged += s.unchanged;
    into.non_conforming += s.non_conforming;
    into.refused += s.refused;
    into.malformed += s.malformed;
}

fn resume_hint(state: &ImportState, state_path: &Path) -> String {
    format!(
        "{} records (to line {}) are acknowledged and recorded in {}; \
         run the same command again to resume from line {}",
        state.records_done,
        state.next_line.saturating_sub(1),
        state_path.display(),
        state.next_line
    )
}

fn push_with_retries(
    o: &ImportOptions,
    client: &Client,
    batch: &Batch,
    state: &ImportState,
    state_path: &Path,
) -> Result<PushResponse, ImportError> {
    let body = serde_json::to_vec(&PushRequest {
        records: batch.records.iter().cloned().map(Value::Object).collect(),
    })
    .map_err(|e| ImportError::Input(format!("encoding a batch: {e}")))?;
    let mut wait = o.backoff;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match client.push(&body) {
            Ok(answer) => return Ok(answer),
            Err(PushFailure::Fatal { status, detail }) => {
                let detail = if status == 413 {
                    format!("{detail} (try a smaller --batch)")
                } else {
                    detail
                };
                return Err(ImportError::Refused {
                    status,
                    detail,
                    resume: resume_hint(state, state_path),
                });
            }
            Err(PushFailure::Transient(cause)) => {
                if attempt > o.retries {
                    return Err(ImportError::Unavailable {
                        attempts: attempt,
                        cause,
                        resume: resume_hint(state, state_path),
                    });
                }
                tracing::warn!(attempt, %cause, wait_ms = wait.as_millis(), "push failed; retrying");
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    }
}

fn progress_bar(wanted: bool, len: u64) -> indicatif::ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{elapsed_precise} [{bar:30}] {bytes}/{total_bytes} ({eta}) {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    type Items = Vec<(u64, Result<Value, String>)>;

    fn items(format: Format, text: &str) -> Result<Items, ImportError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in");
        std::fs::write(&path, text).unwrap();
        let mut input = open_input(&path, format)?;
        let mut out = Vec::new();
        while let Some(item) = next_input(&mut input)? {
            out.push((
                item.line,
                item.record.map(Value::Object).map_err(|e| e.to_string()),
            ));
        }
        Ok(out)
    }

    #[test]
    fn csv_rows_become_records_with_list_fields_split() {
        let text = "\u{feff}cert_type,number,business_scope,name\n\
                    JYXK,210106000123,021; 022,\n\
                    YSZ,\"2101,X\",021,\n\
                    YSZ,1\n";
        let got = items(Format::Csv, text).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].0, 2);
        assert_eq!(
            got[0].1.as_ref().unwrap(),
            &serde_json::json!({"cert_type": "JYXK", "number": "210106000123",
                                "business_scope": ["021", "022"]})
        );
        assert_eq!(got[1].1.as_ref().unwrap()["number"], "2101,X");
        assert_eq!(got[2].0, 4);
        assert!(got[2].1.as_ref().unwrap_err().contains("2 fields"));
        // The records deserialise as RawRecord with the list intact.
        let raw: RawRecord = serde_json::from_value(got[0].1.clone().unwrap()).unwrap();
        assert_eq!(raw.business_scope.unwrap(), ["021", "022"]);
    }

    #[test]
    fn formula_cells_are_refused_with_their_line_and_field_but_plain_numbers_pass() {
        let text = "cert_type,number,name\n\
                    QC,1,=cmd|' /C calc'!A0\n\
                    QC,2,@SUM(A1)\n\
                    QC,-5,\n\
                    QC,+1.5,ok\n\
                    QC,-2+3,\n";
        let got = items(Format::Csv, text).unwrap();
        let errors: Vec<_> = got.iter().map(|g| g.1.as_ref().err().cloned()).collect();
        assert!(
            errors[0].as_ref().unwrap().contains("field name"),
            "{errors:?}"
        );
        assert!(
            errors[1].as_ref().unwrap().contains("field name"),
            "{errors:?}"
        );
        assert_eq!(errors[2], None);
        assert_eq!(errors[3], None);
        assert!(
            errors[4].as_ref().unwrap().contains("field number"),
            "{errors:?}"
        );
        let jsonl = "{\"name\": \"+cmd\"}\n{\"business_scope\": [\"011\", \"=1\"]}\n";
        let got = items(Format::Jsonl, jsonl).unwrap();
        assert!(got.iter().all(|g| g.1.is_err()), "{got:?}");
        let e = LineError::Formula {
            field: "name".into(),
            first: '=',
        };
        assert!(
            e.message_zh(7).contains("第 7 行字段 name（姓名）"),
            "{}",
            e.message_zh(7)
        );
    }

    #[test]
    fn a_gbk_file_is_named_as_such_and_a_missing_header_is_said() {
        let (gbk, _, _) = encoding_rs::GBK.encode("cert_type,name\nQC,王建国\n");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gbk.csv");
        std::fs::write(&path, &gbk).unwrap();
        let mut input = open_input(&path, Format::Csv).unwrap();
        let item = next_input(&mut input).unwrap().unwrap();
        let e = item.record.unwrap_err();
        assert!(matches!(e, LineError::NotUtf8 { gbk: true, .. }), "{e:?}");
        assert!(e.message_zh(2).contains("GBK"), "{}", e.message_zh(2));
        let Err(ImportError::Input(e)) = items(Format::Csv, "QC,210102198503122434\n") else {
            panic!("accepted a file without a header")
        };
        assert!(e.contains("header row is missing"), "{e}");
    }

    #[test]
    fn an_unknown_csv_column_stops_before_anything_is_read() {
        let Err(ImportError::Input(e)) = items(Format::Csv, "cert_type,numbr\nQC,1\n") else {
            panic!("accepted an unknown column")
        };
        assert!(e.contains("\"numbr\""), "{e}");
        let Err(ImportError::Input(e)) = items(Format::Csv, "name,name\n") else {
            panic!("accepted a repeated column")
        };
        assert!(e.contains("repeated"), "{e}");
    }

    #[test]
    fn jsonl_reports_malformed_lines_by_number_and_skips_blank_ones() {
        let text = "{\"cert_type\":\"QC\"}\n\n[1]\n{oops\n\u{feff}{\"number\":5}";
        let got = items(Format::Jsonl, text).unwrap();
        let lines: Vec<u64> = got.iter().map(|g| g.0).collect();
        assert_eq!(lines, [1, 3, 4, 5]);
        assert!(got[0].1.is_ok() && got[3].1.is_ok());
        assert!(got[1].1.as_ref().unwrap_err().contains("JSON object"));
        assert!(got[2].1.as_ref().unwrap_err().contains("not JSON"));
    }

    #[test]
    fn state_is_saved_atomically_and_a_changed_file_is_not_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.jsonl");
        std::fs::write(&file, "{}\n").unwrap();
        let o = ImportOptions::new("http://127.0.0.1:9", "t", &file, Format::Jsonl);
        let (size, sha) = fingerprint(&file).unwrap();
        let state = ImportState {
            state_version: STATE_VERSION,
            file_size: size,
            file_sha256: sha,
            format: Format::Jsonl,
            server: o.server.clone(),
            records_done: 1,
            next_line: 2,
            report_len: 0,
            batches: 1,
            summary: Summary::default(),
            complete: false,
        };
        state.save(&o.state_path()).unwrap();
        assert_eq!(ImportState::load(&o.state_path()).unwrap(), Some(state));
        assert!(!sidecar(&o.state_path(), ".tmp").exists());
        std::fs::write(&file, "{}\n{}\n").unwrap();
        let Err(ImportError::Input(e)) = run(&o) else {
            panic!("resumed a changed file")
        };
        assert!(e.contains("another version"), "{e}");
        let bad = ImportOptions {
            batch: 0,
            ..o.clone()
        };
        assert!(matches!(run(&bad), Err(ImportError::Usage(_))));
    }

    #[test]
    fn sample_files_hold_the_nine_types_and_five_nonconforming_records() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let read = |name: &str, format: Format| -> Vec<RawRecord> {
            let mut input = open_input(&dir.join(name), format).unwrap();
            let mut out = Vec::new();
            while let Some(item) = next_input(&mut input).unwrap() {
                out.push(serde_json::from_value(Value::Object(item.record.unwrap())).unwrap());
            }
            out
        };
        let csv = read("records.csv", Format::Csv);
        let jsonl = read("records.jsonl", Format::Jsonl);
        assert_eq!(csv, jsonl, "the two files hold the same records");
        let today = time::macros::date!(2026 - 06 - 01);
        let mut rules = Vec::new();
        for (i, r) in csv.iter().enumerate() {
            match shared::domain::validate::validate(r, today) {
                Ok(data) => assert_eq!(data.cert_type, shared::domain::CertType::ALL[i]),
                Err(reasons) => rules.push(reasons[0].rule.clone()),
            }
        }
        assert_eq!(csv.len() - rules.len(), 9);
        assert_eq!(
            rules,
            [
                "id_number.check_digit",
                "plate.length",
                "uscc.check_digit",
                "field.missing",
                "valid_from.after_valid_until",
            ]
        );
    }

    #[test]
    fn formats_from_extensions() {
        assert_eq!(Format::from_path(Path::new("a.CSV")), Some(Format::Csv));
        assert_eq!(Format::from_path(Path::new("a.jsonl")), Some(Format::Jsonl));
        assert_eq!(Format::from_path(Path::new("a.txt")), None);
    }
}
