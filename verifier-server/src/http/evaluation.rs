//! The evaluation's endpoints: `GET /api/v1/evaluation?year=` (JSON or
//! CSV; administrators and auditors) and the administrator's entries that
//! feed it (training records with evidence, declared uncollected physical
//! certificates, complaint decisions), each audited in its transaction.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shared::domain::{CertType, DivisionCode};

use super::auth::require;
use super::error::blocking;
use super::error::ApiError;
use super::extract::Query;
use crate::evaluation::data::{ComplaintRow, DeclaredRow, Evidence, TrainingRow};
use crate::evaluation::score::Coverage;
use crate::evaluation::YEARS;
use crate::service::action::Action;
use crate::service::auth::{Caller, Role};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The evaluation routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_evaluation))
        .routes(routes!(post_training))
        .routes(routes!(put_declared))
        .routes(routes!(post_complaint))
}

/// Most bytes of an entry's body.
const MAX_ENTRY_BODY: usize = 64 * 1024;

/// Query of the evaluation.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EvaluationQuery {
    /// The year, e.g. 2026.
    year: Option<i32>,
    /// `json` (default) or `csv`; `Accept: text/csv` also asks for CSV.
    format: Option<String>,
}

/// Checks a year given in a query or body.
pub fn check_year(year: Option<i32>, what: &str) -> Result<i32, ApiError> {
    match year {
        None => Err(ApiError::BadRequest(format!("{what}: missing year"))),
        Some(y) if YEARS.contains(&y) => Ok(y),
        Some(y) => Err(ApiError::BadRequest(format!(
            "{what}: year {y} is not between {} and {}",
            YEARS.start(),
            YEARS.end()
        ))),
    }
}

/// `GET /api/v1/evaluation?year=YYYY[&format=csv]`.
#[utoipa::path(get, path = "/api/v1/evaluation", tag = "evaluation",
    security(("bearer" = [])),
    params(EvaluationQuery),
    responses(
        (status = 200, description = "Each city's and the province's scores", body = crate::evaluation::Evaluation,
            content_type = "application/json"),
        (status = 400, description = "Missing or bad year or format",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator or auditor",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_evaluation(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    q: Result<Query<EvaluationQuery>, ApiError>,
) -> Result<Response, ApiError> {
    match q.map(|Query(q)| q) {
        Ok(q) => evaluation(&state, &caller, Action::ReadEvaluation, &headers, q).await,
        Err(e) => Err(e),
    }
}

async fn evaluation(
    state: &AppState,
    caller: &Caller,
    action: Action,
    headers: &HeaderMap,
    q: EvaluationQuery,
) -> Result<Response, ApiError> {
    require(caller, &[Role::Admin, Role::Auditor])?;
    let year = check_year(q.year, "query parameter year")?;
    let csv = match q.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "query parameter format: {other:?} is not json or csv"
            )))
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/csv")),
    };
    let e = load(state, caller, action, year).await?;
    if csv {
        let body = crate::evaluation::to_csv(&e).map_err(ApiError::Internal)?;
        Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"evaluation-{year}.csv\""),
                ),
            ],
            body,
        )
            .into_response())
    } else {
        Ok(Json(e).into_response())
    }
}

/// Computes a year's evaluation in one transaction with its audit row
/// ([`crate::service::evaluation::read`]).
pub async fn load(
    state: &AppState,
    caller: &Caller,
    action: Action,
    year: i32,
) -> Result<crate::evaluation::Evaluation, ApiError> {
    let s = state.clone();
    let caller = caller.clone();
    blocking(move || {
        Ok(crate::service::evaluation::read(
            s.store(),
            &caller,
            s.now(),
            action,
            year,
        )?)
    })
    .await
}

fn body_json<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    expected: &str,
) -> Result<T, ApiError> {
    let body = super::extract::body_bytes(body, MAX_ENTRY_BODY)?;
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("request body: expected {expected}: {e}")))
}

fn city(code: u32, what: &str) -> Result<DivisionCode, ApiError> {
    let d = DivisionCode::from_u32(code)
        .map_err(|e| ApiError::Unprocessable(format!("{what}: {e}")))?;
    if d.is_city() || d.is_province() {
        Ok(d)
    } else {
        Err(ApiError::Unprocessable(format!(
            "{what}: {code} is a county; enter a city (or 210000 for the province)"
        )))
    }
}

fn text(s: &str, what: &str, max: usize) -> Result<String, ApiError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(ApiError::Unprocessable(format!(
            "{what}: must be 1 to {max} characters"
        )));
    }
    Ok(t.to_string())
}

/// Stores an entry in one transaction with its audit row.
async fn store_entry<T: Send + 'static>(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    target: String,
    f: impl FnOnce(&mut dyn crate::store::Tx, i64) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let s = state.clone();
    let caller = caller.clone();
    blocking(move || {
        let now = s.now();
        let mut tx = s.store().begin()?;
        let out = f(tx.as_mut(), now)?;
        tx.append_audit(&Caller::audit_entry(
            Some(&caller),
            now,
            action,
            target,
            "ok",
        ))?;
        tx.commit()?;
        Ok(out)
    })
    .await
}

/// A training and publicity record as entered.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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

impl<'de> Deserialize<'de> for Coverage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Coverage::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "coverage {s:?} is not \"full\", \"partial\" or \"little\""
            ))
        })
    }
}

/// The id of a stored entry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Created {
    /// Row id.
    pub id: i64,
}

/// `POST /api/v1/evaluation/training`: records training and publicity.
#[utoipa::path(post, path = "/api/v1/evaluation/training", tag = "evaluation",
    security(("bearer" = [])),
    request_body(content = TrainingBody),
    responses(
        (status = 201, description = "Stored", body = Created),
        (status = 400, description = "Not the expected JSON",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad division, year, text or evidence hash",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_training(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let action = Action::RecordTraining.as_str();
    training(&state, &caller, action, body).await
}

/// Checks a training body into a row (without id and time).
pub fn training_row(b: TrainingBody) -> Result<TrainingRow, ApiError> {
    let division = city(b.division, "division")?;
    let year = check_year(Some(b.year), "year").map_err(|e| match e {
        ApiError::BadRequest(m) => ApiError::Unprocessable(m),
        other => other,
    })?;
    let description = text(&b.description, "description", 2000)?;
    let mut evidence = Vec::with_capacity(b.evidence.len());
    for (i, e) in b.evidence.into_iter().enumerate() {
        let sha = e.sha256.trim().to_ascii_lowercase();
        if sha.len() != 64 || !sha.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(ApiError::Unprocessable(format!(
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

async fn training(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require(caller, &[Role::Admin])?;
    let b: TrainingBody = body_json(
        body,
        "{\"division\", \"year\", \"coverage\", \"description\", \"evidence\": [{\"file_name\", \"sha256\", \"description\"}]}",
    )?;
    let row = training_row(b)?;
    let target = format!(
        "division {} year {} {} ({} attachments)",
        row.division.code(),
        row.year,
        row.coverage,
        row.evidence.len()
    );
    let id = store_entry(state, caller, action, target, move |tx, now| {
        Ok(tx.insert_training(&TrainingRow {
            entered_at: now,
            ..row
        })?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(Created { id })).into_response())
}

/// Physical certificates of a type not yet collected.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
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

/// `PUT /api/v1/evaluation/declared`: declares how many physical
/// certificates of a city and type are not yet collected.
#[utoipa::path(put, path = "/api/v1/evaluation/declared", tag = "evaluation",
    security(("bearer" = [])),
    request_body(content = DeclaredBody),
    responses(
        (status = 200, description = "Stored (replacing the earlier figure)", body = DeclaredBody),
        (status = 400, description = "Not the expected JSON",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad division, year or type",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_declared(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let action = Action::RecordDeclared.as_str();
    declared(&state, &caller, action, body).await
}

/// Checks a declared body into a row.
pub fn declared_row(b: &DeclaredBody) -> Result<DeclaredRow, ApiError> {
    let division = city(b.division, "division")?;
    if division.is_province() {
        return Err(ApiError::Unprocessable(
            "division: declare per city, not for the province".into(),
        ));
    }
    if !YEARS.contains(&b.year) {
        return Err(ApiError::Unprocessable(format!(
            "year: {} is not between {} and {}",
            b.year,
            YEARS.start(),
            YEARS.end()
        )));
    }
    let cert_type =
        CertType::from_code(&b.cert_type.trim().to_ascii_uppercase()).ok_or_else(|| {
            ApiError::Unprocessable(format!("cert_type: {:?} is not a type code", b.cert_type))
        })?;
    if b.count > 10_000_000 {
        return Err(ApiError::Unprocessable(format!(
            "count: {} is more than 10000000",
            b.count
        )));
    }
    Ok(DeclaredRow {
        division,
        year: b.year,
        cert_type: cert_type.code().into(),
        count: b.count,
    })
}

async fn declared(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require(caller, &[Role::Admin])?;
    let b: DeclaredBody = body_json(body, "{\"division\", \"year\", \"cert_type\", \"count\"}")?;
    let row = declared_row(&b)?;
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
    store_entry(state, caller, action, target, move |tx, now| {
        Ok(tx.set_declared(&row, now)?)
    })
    .await?;
    Ok(Json(answer).into_response())
}

/// A refusal complaint as the administrator decided it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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

/// `POST /api/v1/evaluation/complaints`: records a complaint decision.
#[utoipa::path(post, path = "/api/v1/evaluation/complaints", tag = "evaluation",
    security(("bearer" = [])),
    request_body(content = ComplaintBody),
    responses(
        (status = 201, description = "Stored", body = Created),
        (status = 400, description = "Not the expected JSON",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad division, year or text",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_complaint(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let action = Action::RecordComplaint.as_str();
    complaint(&state, &caller, action, body).await
}

/// Checks a complaint body into a row (without id and time).
pub fn complaint_row(b: &ComplaintBody) -> Result<ComplaintRow, ApiError> {
    let division = city(b.division, "division")?;
    if !YEARS.contains(&b.year) {
        return Err(ApiError::Unprocessable(format!(
            "year: {} is not between {} and {}",
            b.year,
            YEARS.start(),
            YEARS.end()
        )));
    }
    Ok(ComplaintRow {
        id: 0,
        division,
        year: b.year,
        description: text(&b.description, "description", 2000)?,
        upheld: b.upheld,
        entered_at: 0,
    })
}

async fn complaint(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require(caller, &[Role::Admin])?;
    let b: ComplaintBody = body_json(
        body,
        "{\"division\", \"year\", \"description\", \"upheld\"}",
    )?;
    let row = complaint_row(&b)?;
    let target = format!(
        "division {} year {} upheld {}",
        row.division.code(),
        row.year,
        row.upheld
    );
    let id = store_entry(state, caller, action, target, move |tx, now| {
        Ok(tx.insert_complaint(&ComplaintRow {
            entered_at: now,
            ..row
        })?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(Created { id })).into_response())
}
