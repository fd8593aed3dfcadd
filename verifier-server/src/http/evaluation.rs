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
use shared::api::{ComplaintBody, Created, DeclaredBody, Evaluation, TrainingBody};

use super::auth::require;
use super::error::blocking;
use super::error::ApiError;
use super::extract::Query;
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
