//! The evaluation's endpoints: `GET /api/v1/evaluation?year=` (JSON or
//! CSV; administrators and auditors) and the administrator's entries that
//! feed it (training records with evidence, declared uncollected physical
//! certificates, complaint decisions). The rules and the store are
//! [`crate::service::evaluation`]'s; each handler here parses, calls it
//! and audits a refusal.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use shared::api::{ComplaintBody, Created, DeclaredBody, Evaluation, EvidenceStored, TrainingBody};

use super::auth::require;
use super::error::blocking;
use super::error::ApiError;
use super::extract::{Path, Query};
use crate::evaluation::YEARS;
use crate::service::action::Action;
use crate::service::auth::{Caller, Role};
use crate::service::evaluation as service;
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
        .routes(routes!(post_evidence))
        .routes(routes!(get_evidence))
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

/// Checks a year given in a query or form.
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

/// Computes a year's evaluation for `caller` through the service (one
/// transaction with its audit row).
pub async fn load(
    state: &AppState,
    caller: &Caller,
    action: Action,
    year: i32,
) -> Result<Evaluation, ApiError> {
    let s = state.clone();
    let caller = caller.clone();
    blocking(move || Ok(service::read(s.store(), &caller, s.now(), action, year)?)).await
}

/// `GET /api/v1/evaluation?year=YYYY[&format=csv]`.
#[utoipa::path(get, path = "/api/v1/evaluation", tag = "evaluation",
    security(("bearer" = [])),
    params(EvaluationQuery),
    responses(
        (status = 200, description = "Each city's and the province's scores", body = Evaluation,
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
    let Query(q) = q?;
    {
        require(&caller, &[Role::Admin, Role::Auditor])?;
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
        let e = load(&state, &caller, Action::ReadEvaluation, year).await?;
        if !csv {
            return Ok(Json(e).into_response());
        }
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
    }
}

/// One administrator entry: the body parsed as `B`, handed to the service
/// function `f` on a blocking thread (which audits it), answered as
/// `status` with its JSON; a refusal is audited by the audit layer.
async fn entry<B, T>(
    state: AppState,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
    (expected, status): (&'static str, StatusCode),
    f: fn(&dyn crate::store::Store, &Caller, i64, B) -> Result<T, service::EvaluationError>,
) -> Result<Response, ApiError>
where
    B: DeserializeOwned + Send + 'static,
    T: serde::Serialize + Send + 'static,
{
    require(&caller, &[Role::Admin])?;
    let b: B = body_json(body, expected)?;
    let s = state.clone();
    let out = blocking(move || Ok(f(s.store(), &caller, s.now(), b)?)).await?;
    Ok((status, Json(out)).into_response())
}

fn body_json<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    expected: &str,
) -> Result<T, ApiError> {
    let body = super::extract::body_bytes(body, MAX_ENTRY_BODY)?;
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("request body: expected {expected}: {e}")))
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
    entry(
        state,
        caller,
        body,
        (
            "{\"division\", \"year\", \"coverage\", \"description\", \"evidence\": [{\"file_name\", \"sha256\", \"description\"}]}",
            StatusCode::CREATED,
        ),
        service::record_training,
    )
    .await
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
    entry(
        state,
        caller,
        body,
        (
            "{\"division\", \"year\", \"cert_type\", \"count\"}",
            StatusCode::OK,
        ),
        |store, caller, now, b: DeclaredBody| service::record_declared(store, caller, now, &b),
    )
    .await
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
    entry(
        state,
        caller,
        body,
        (
            "{\"division\", \"year\", \"description\", \"upheld\"}",
            StatusCode::CREATED,
        ),
        |store, caller, now, b: ComplaintBody| service::record_complaint(store, caller, now, &b),
    )
    .await
}

/// `POST /api/v1/evaluation/evidence`: stores a training evidence file
/// (the body; PDF, PNG or JPEG by its content, at most 5 MiB) and answers
/// its SHA-256, which a training record then names.
#[utoipa::path(post, path = "/api/v1/evaluation/evidence", tag = "evaluation",
    security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The file (PDF, PNG or JPEG)"),
    responses(
        (status = 201, description = "Stored (or already stored)", body = EvidenceStored),
        (status = 403, description = "Not an administrator",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 5 MiB",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty, not a PDF, PNG or JPEG, or not the declared type",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_evidence(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Admin])?;
    let body = super::extract::body_bytes(body, service::MAX_EVIDENCE_BYTES)?;
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let s = state.clone();
    let out = blocking(move || {
        let file = service::evidence_file(declared.as_deref(), body.to_vec(), s.now())?;
        Ok(service::store_evidence(s.store(), &caller, s.now(), file)?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// A stored evidence file as a download: its checked type, `nosniff`,
/// an attachment named by its hash, and the hash in `Digest`-style
/// `X-Content-SHA256`.
pub fn evidence_response(file: crate::store::evaluation::EvidenceFile) -> Response {
    let ext = match file.content_type.as_str() {
        "application/pdf" => "pdf",
        "image/png" => "png",
        _ => "jpg",
    };
    (
        [
            (header::CONTENT_TYPE, file.content_type.clone()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.{ext}\"", file.sha256),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
            (header::CACHE_CONTROL, "private, no-store".into()),
            (
                header::HeaderName::from_static("x-content-sha256"),
                file.sha256.clone(),
            ),
        ],
        file.data,
    )
        .into_response()
}

/// `GET /api/v1/evaluation/evidence/{sha256}`: a stored evidence file.
#[utoipa::path(get, path = "/api/v1/evaluation/evidence/{sha256}", tag = "evaluation",
    security(("bearer" = [])),
    params(("sha256" = String, Path, description = "The file's SHA-256, 64 hex digits")),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 403, description = "Not an administrator or auditor",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such file",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not 64 hex digits",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_evidence(
    State(state): State<AppState>,
    caller: Caller,
    p: Result<Path<String>, ApiError>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Admin, Role::Auditor])?;
    let Path(sha256) = p?;
    let s = state.clone();
    let file = blocking(move || {
        Ok(service::read_evidence(
            s.store(),
            &caller,
            s.now(),
            Action::ReadEvidence,
            &sha256,
        )?)
    })
    .await?;
    Ok(evidence_response(file))
}
