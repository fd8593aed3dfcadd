//! The audit log as the auditor reads it: `GET /api/v1/audit`, paged by
//! row id, oldest first ("newest last"), for auditors and administrators
//! only; the read is audited by [`crate::service::audit_log::page`].

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use shared::api::AuditPage;

use super::auth::require;
use super::error::blocking;
use super::error::ApiError;
use super::extract::Query;
use crate::service::audit_log::{self, AuditLogError};
use crate::service::auth::{Caller, Role};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The audit log's route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_audit))
}

/// Query of the audit log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Only rows with an id above this (the previous page's `next_after`);
    /// 0 or absent for the start.
    after: Option<i64>,
    /// Rows per page, 1 to 1000 (100 by default).
    limit: Option<u32>,
}

impl From<AuditLogError> for ApiError {
    fn from(e: AuditLogError) -> ApiError {
        match e {
            AuditLogError::Malformed(d) => ApiError::BadRequest(d),
            AuditLogError::Store(e) => e.into(),
        }
    }
}

/// `GET /api/v1/audit?after=ID&limit=N`.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of the audit log", body = AuditPage),
        (status = 400, description = "Bad query", content_type = "application/problem+json"),
        (status = 403, description = "Not an auditor or administrator", content_type = "application/problem+json"),
    ))]
pub async fn get_audit(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<AuditQuery>, ApiError>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Auditor, Role::Admin])?;
    let Query(q) = q?;
    let page = blocking(move || {
        Ok(audit_log::page(
            state.store(),
            &caller,
            state.now(),
            q.after,
            q.limit,
        )?)
    })
    .await?;
    Ok(Json(page).into_response())
}
