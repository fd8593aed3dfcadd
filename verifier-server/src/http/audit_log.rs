//! The audit log as the auditor reads it: `GET /api/v1/audit`, paged by
//! row id, oldest first ("newest last"), for auditors and administrators
//! only; the read is itself audited, in the same transaction.

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::audit::audited;
use super::auth::require;
use super::error::blocking;
use super::error::ApiError;
use super::extract::Query;
use crate::service::action::Action;
use crate::service::auth::{Caller, Role};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The audit log's route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_audit))
}

/// Rows per page when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 100;
/// Most rows per page.
pub const MAX_LIMIT: u32 = 1000;

/// Query of the audit log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Only rows with an id above this (the previous page's `next_after`);
    /// 0 or absent for the start.
    after: Option<i64>,
    /// Rows per page, 1 to 1000 (100 by default).
    limit: Option<u32>,
}

/// One audit row.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditView {
    /// Row id, increasing.
    pub id: i64,
    /// Unix seconds.
    pub ts: i64,
    /// The token used, if recognised.
    pub token_id: Option<i64>,
    /// Its role (`cli` for administration commands).
    pub role: Option<String>,
    /// What was attempted.
    pub action: String,
    /// Which records.
    pub target: String,
    /// How it ended.
    pub outcome: String,
    /// The client's address; absent for command-line commands.
    pub client_addr: Option<String>,
}

/// A page of the audit log.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// Rows, oldest first.
    pub entries: Vec<AuditView>,
    /// The `after` of the next page.
    pub next_after: i64,
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
    uri: Uri,
    q: Result<Query<AuditQuery>, ApiError>,
) -> Result<Response, ApiError> {
    let action = Action::ReadAudit.as_str();
    let result = match q.map(|Query(q)| q) {
        Ok(q) => read(&state, &caller, action, q).await,
        Err(e) => Err(e),
    };
    audited(&state, &caller, action, &uri, result).await
}

async fn read(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    q: AuditQuery,
) -> Result<Response, ApiError> {
    require(caller, &[Role::Auditor, Role::Admin])?;
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::BadRequest(format!(
            "query parameter after: {after} is negative"
        )));
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "query parameter limit: {limit} is not between 1 and {MAX_LIMIT}"
        )));
    }
    let s = state.clone();
    let caller = caller.clone();
    blocking(move || {
        let mut tx = s.store().begin()?;
        let rows = tx.audit_after(after, limit)?;
        tx.append_audit(&Caller::audit_entry(
            Some(&caller),
            s.now(),
            action,
            format!("after={after} limit={limit}: {} rows", rows.len()),
            "ok",
        ))?;
        tx.commit()?;
        let next_after = rows.last().map_or(after, |r| r.id);
        let entries = rows
            .into_iter()
            .map(|r| AuditView {
                id: r.id,
                ts: r.entry.ts,
                token_id: r.entry.token_id,
                role: r.entry.role,
                action: r.entry.action,
                target: r.entry.target,
                outcome: r.entry.outcome,
                client_addr: r.entry.client_addr,
            })
            .collect();
        Ok(Json(AuditPage {
            entries,
            next_after,
        })
        .into_response())
    })
    .await
}
