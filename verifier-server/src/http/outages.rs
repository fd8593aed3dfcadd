//! Outage reports (§5.3): `POST` and `GET /api/v1/agency/outages`, for
//! agency callers. The rules are in [`crate::service::outages`].

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use shared::api::{OutageList, OutageRequest, OutageView};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::require;
use super::error::{blocking, ApiError};
use super::extract::body_bytes;
use crate::service::auth::{Caller, Role};
use crate::service::outages::{self, OutageError};
use crate::state::AppState;

/// The largest report body.
const MAX_OUTAGE_BODY: usize = 8 * 1024;

/// The outage routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_outage, get_outages))
}

impl From<OutageError> for ApiError {
    fn from(e: OutageError) -> ApiError {
        match e {
            e @ OutageError::NotAnAgency => ApiError::Forbidden(e.to_string()),
            e @ OutageError::Overlap { .. } => ApiError::Conflict(e.to_string()),
            OutageError::Store(e) => ApiError::Internal(e.into()),
            e => ApiError::Unprocessable(e.to_string()),
        }
    }
}

/// `POST /api/v1/agency/outages`: an agency reports a fault period; the
/// answer carries the re-push deadline, two working days after the end.
#[utoipa::path(post, path = "/api/v1/agency/outages", tag = "issuing",
    security(("bearer" = [])),
    request_body(content = OutageRequest,
        description = "The fault period, RFC 3339 (e.g. 2026-06-01T08:00:00+08:00), and its reason"),
    responses(
        (status = 201, description = "Stored, with the re-push deadline", body = OutageView),
        (status = 400, description = "Not the expected JSON",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an issuing agency",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The period overlaps one already reported",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A time that is not RFC 3339, until not after from, \
            a fault that has not ended yet, or an empty or too long reason",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_outage(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Agency])?;
    let body = body_bytes(body, MAX_OUTAGE_BODY)?;
    let req: OutageRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "request body: expected {{\"from\", \"until\", \"reason\"}}: {e}"
        ))
    })?;
    let s = state.clone();
    let out = blocking(move || {
        Ok(outages::report(
            s.store(),
            s.calendar(),
            &caller,
            s.now(),
            &req,
        )?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// `GET /api/v1/agency/outages`: the agency's own outage reports.
#[utoipa::path(get, path = "/api/v1/agency/outages", tag = "issuing",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The agency's reports, oldest fault first", body = OutageList),
        (status = 403, description = "Not an issuing agency",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_outages(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Agency])?;
    let s = state.clone();
    let out =
        blocking(move || Ok(outages::list(s.store(), s.calendar(), &caller, s.now())?)).await?;
    Ok(Json(out).into_response())
}
