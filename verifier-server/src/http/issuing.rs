//! Agencies' work: pushing records (R2–R4), lifecycle changes, reading a
//! certificate, the correction list and every agency's push state. The
//! rules are in [`crate::service::issuing`].

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use shared::api::{
    AgencyPushList, CertificateHistory, CertificateView, NonconformingList, PushRequest,
    StatusRequest,
};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt as _};
use utoipa_axum::routes;

use super::auth::require;
use super::error::blocking;
use super::error::ApiError;
use super::extract::{body_bytes, parse_type, Path, Query};
use crate::service::auth::{Caller, Role};
use crate::service::issuing::{self, ChangeRefusal};
use crate::state::{AppState, Limits};

/// The issuing routes; a status change takes a small body only.
pub fn router(limits: &Limits) -> OpenApiRouter<AppState> {
    let command = DefaultBodyLimit::max(limits.max_command_body);
    OpenApiRouter::new()
        .routes(routes!(post_records))
        .routes(routes!(get_nonconforming))
        .routes(routes!(get_agency_pushes))
        .routes(routes!(get_certificate))
        .routes(routes!(get_history))
        .routes(routes!(post_status).map(|m| m.layer(command)))
}

/// `POST /api/v1/records`: push records (R2–R4).
#[utoipa::path(post, path = "/api/v1/records", tag = "issuing",
    security(("bearer" = [])),
    request_body(content = PushRequest, description = "Records to collect, each answered in order"),
    responses(
        (status = 200, description = "Every record's outcome, after the push committed",
            body = shared::api::PushResponse),
        (status = 403, description = "The role may not push (admin or agency only)",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_records(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    push_records(&state, &caller, body).await
}

async fn push_records(
    state: &AppState,
    caller: &Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require(caller, &[Role::Admin, Role::Agency])?;
    let body = body_bytes(body, state.limits().max_body).map_err(|e| match e {
        ApiError::TooLarge(d) => ApiError::TooLarge(format!("{d}; push fewer records per request")),
        other => other,
    })?;
    let push: PushRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "request body: expected {{\"records\": [...]}}: {e}"
        ))
    })?;
    let max = state.limits().max_records;
    if push.records.len() > max {
        return Err(ApiError::TooLarge(format!(
            "records: {} records in one push, at most {max}",
            push.records.len()
        )));
    }
    // Finish (or roll back) well before the request times out, so that
    // what the client is told always matches what was stored.
    let budget = state.limits().request_timeout.mul_f64(0.75);
    let deadline = std::time::Instant::now() + budget;
    let s = state.clone();
    let caller = caller.clone();
    let response = blocking(move || {
        let pushed = s.write(|store, keys, now| {
            issuing::push(store, keys, &caller, now, push.records, Some(deadline))
        });
        pushed.map_err(|e| match e {
            e @ issuing::PushError::Deadline { .. } => ApiError::Unavailable(format!(
                "records: {e} (limit {} s); push fewer records per request",
                budget.as_secs()
            )),
            other => ApiError::Internal(other.into()),
        })
    })
    .await?;
    let sum = &response.summary;
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    state.metrics().push(&[
        ("issued", n(sum.issued)),
        ("updated", n(sum.updated)),
        ("unchanged", n(sum.unchanged)),
        ("non_conforming", n(sum.non_conforming)),
        ("refused", n(sum.refused)),
        ("malformed", n(sum.malformed)),
    ]);
    Ok(Json(response).into_response())
}

/// `POST /api/v1/certificates/{type}/{number}/status`.
#[utoipa::path(post, path = "/api/v1/certificates/{cert_type}/{number}/status", tag = "issuing",
    security(("bearer" = [])),
    params(
        ("cert_type" = String, Path, description = "Type code, e.g. QC (any case)"),
        ("number" = String, Path, description = "Certificate number"),
    ),
    request_body(content = StatusRequest, description = "Revoke, suspend or reinstate"),
    responses(
        (status = 200, description = "The status now", body = shared::api::StatusChanged),
        (status = 403, description = "The role may not change statuses",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such type or certificate, or another division's (answered alike)",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed from the current status (e.g. revoked is final)",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_status(
    State(state): State<AppState>,
    caller: Caller,
    p: Result<Path<(String, String)>, ApiError>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    match p.map(|Path(p)| p) {
        Ok((type_text, number)) => change_status(&state, &caller, type_text, number, body).await,
        Err(e) => Err(e),
    }
}

async fn change_status(
    state: &AppState,
    caller: &Caller,
    type_text: String,
    number: String,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require(caller, &[Role::Admin, Role::Agency])?;
    let cert_type = parse_type(&type_text)?;
    let body = body_bytes(body, state.limits().max_command_body)?;
    let change: StatusRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "request body: expected {{\"status\": \"revoked\" | \"suspended\" | \"valid\", \
             \"reason\", \"effective_date\": \"YYYY-MM-DD\", \"document_number\"}}: {e}"
        ))
    })?;
    let s = state.clone();
    let n = number.clone();
    let caller = caller.clone();
    let wanted = change.status;
    let outcome = blocking(move || {
        let changed = s.write(|store, _, now| {
            issuing::change_status(store, &caller, now, cert_type, &n, &change)
        });
        Ok(changed?)
    })
    .await?;
    match outcome {
        Ok(changed) => Ok(Json(changed).into_response()),
        Err(ChangeRefusal::NotFound) => Err(ApiError::NotFound(format!(
            "no certificate {cert_type} {number}"
        ))),
        Err(ChangeRefusal::Conflict(current)) => Err(ApiError::Conflict(format!(
            "certificate {cert_type} {number} is {}; {:?} is not allowed from there",
            current.label_en(),
            wanted
        ))),
        Err(ChangeRefusal::Invalid(why)) => Err(ApiError::BadRequest(why)),
    }
}

/// `GET /api/v1/certificates/{type}/{number}/history`: every version and
/// every lifecycle change with its decision (reason, effective date,
/// document number).
#[utoipa::path(get, path = "/api/v1/certificates/{cert_type}/{number}/history", tag = "issuing",
    security(("bearer" = [])),
    params(
        ("cert_type" = String, Path, description = "Type code, e.g. QC (any case)"),
        ("number" = String, Path, description = "Certificate number"),
    ),
    responses(
        (status = 200, description = "The certificate's versions and status changes, oldest first",
            body = CertificateHistory),
        (status = 403, description = "The role may not read certificates (admin or agency only)",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such type or certificate, or another division's (answered alike)",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_history(
    State(state): State<AppState>,
    caller: Caller,
    p: Result<Path<(String, String)>, ApiError>,
) -> Result<Response, ApiError> {
    let (type_text, number) = p.map(|Path(p)| p)?;
    require(&caller, &[Role::Admin, Role::Agency])?;
    let cert_type = parse_type(&type_text)?;
    let s = state.clone();
    let history = blocking(move || {
        Ok(issuing::history(
            s.store(),
            &caller,
            s.now(),
            cert_type,
            &number,
        )?)
    })
    .await?;
    Ok(Json(history).into_response())
}

/// Query of the certificate endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// A version other than the current one.
    version: Option<u16>,
}

/// `GET /api/v1/certificates/{type}/{number}[?version=N]`.
#[utoipa::path(get, path = "/api/v1/certificates/{cert_type}/{number}", tag = "issuing",
    security(("bearer" = [])),
    params(
        ("cert_type" = String, Path, description = "Type code, e.g. QC (any case)"),
        ("number" = String, Path, description = "Certificate number"),
        VersionQuery,
    ),
    responses(
        (status = 200, description = "The version with its QR text", body = CertificateView),
        (status = 400, description = "A path or query parameter is malformed",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not read certificates",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such type, certificate or version, or another division's (answered alike)",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_certificate(
    State(state): State<AppState>,
    caller: Caller,
    p: Result<Path<(String, String)>, ApiError>,
    q: Result<Query<VersionQuery>, ApiError>,
) -> Result<Response, ApiError> {
    match p.and_then(|Path(p)| Ok((p, q?.0))) {
        Ok(((type_text, number), q)) => {
            read_certificate(&state, &caller, type_text, number, q).await
        }
        Err(e) => Err(e),
    }
}

async fn read_certificate(
    state: &AppState,
    caller: &Caller,
    type_text: String,
    number: String,
    q: VersionQuery,
) -> Result<Response, ApiError> {
    require(caller, &[Role::Admin, Role::Agency])?;
    let cert_type = parse_type(&type_text)?;
    let s = state.clone();
    let caller = caller.clone();
    let view = blocking(move || {
        Ok(issuing::read_certificate(
            s.store(),
            &caller,
            s.now(),
            cert_type,
            &number,
            q.version,
        )?)
    })
    .await?;
    Ok(Json(view).into_response())
}

/// Query of the correction list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NonconformingQuery {
    /// Include resolved entries.
    #[serde(default)]
    all: bool,
}

/// `GET /api/v1/nonconforming[?all=true]`: the caller's correction list
/// (an administrator sees every agency's).
#[utoipa::path(get, path = "/api/v1/nonconforming", tag = "issuing",
    security(("bearer" = [])),
    params(NonconformingQuery),
    responses(
        (status = 200, description = "The entries with field-level reasons", body = NonconformingList),
        (status = 400, description = "The query string is malformed",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not read correction lists (admin or agency only)",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_nonconforming(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<NonconformingQuery>, ApiError>,
) -> Result<Response, ApiError> {
    match q.map(|Query(q)| q) {
        Ok(q) => read_nonconforming(&state, &caller, q).await,
        Err(e) => Err(e),
    }
}

async fn read_nonconforming(
    state: &AppState,
    caller: &Caller,
    q: NonconformingQuery,
) -> Result<Response, ApiError> {
    require(caller, &[Role::Admin, Role::Agency])?;
    let s = state.clone();
    let caller = caller.clone();
    let list =
        blocking(move || Ok(issuing::nonconforming(s.store(), &caller, s.now(), q.all)?)).await?;
    Ok(Json(list).into_response())
}

/// `GET /api/v1/agencies/pushes`: each agency's last push and whether it
/// is overdue (R4). Administrators and auditors see every agency, an
/// agency its own.
#[utoipa::path(get, path = "/api/v1/agencies/pushes", tag = "issuing",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Each agency's last push and whether it is overdue", body = AgencyPushList),
        (status = 403, description = "The role may not see pushes (admin, auditor or agency only)",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_agency_pushes(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    read_agency_pushes(&state, &caller).await
}

async fn read_agency_pushes(state: &AppState, caller: &Caller) -> Result<Response, ApiError> {
    require(caller, &[Role::Admin, Role::Auditor, Role::Agency])?;
    let s = state.clone();
    let caller = caller.clone();
    let list = blocking(move || {
        Ok(issuing::agency_pushes(
            s.store(),
            s.calendar(),
            &caller,
            s.now(),
        )?)
    })
    .await?;
    Ok(Json(list).into_response())
}
