//! Ingestion of officer devices' check logs (R10, R12).
//!
//! A device uploads batches made by `shared::checklog::sign_batch`. The
//! server looks the batch's kid up among the devices enrolled under the
//! caller's token, opens it with `checklog::open_batch` (device signature,
//! strict records, internal chain), then checks it against what it holds
//! for that device: records below the device's next seq must be the ones
//! already accepted (a retry: duplicates), and the first new record must
//! continue the stored chain. A batch that fails any check stores nothing;
//! what was accepted before stays. One transaction per batch holds the
//! records, the signed batch bytes (the evidence), the new chain head and
//! the audit row.
//!
//! The device's verdict is stored as the device claimed it, and beside it
//! what the server derives by verifying the scanned text itself with
//! `shared::verify` against its own trust list ([`Derived`](crate::service::logs::Derived)): whether the
//! province's signature verified, whether a holder-signed presentation
//! verified within its window, and which certificate (and issuing
//! division) it is. Those fields are what the evaluation may count; the
//! device's own verdict is not proof. Results for a certificate text are
//! cached per trust list and China Standard Time day ([`Reverifier`](crate::service::logs::Reverifier)).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use shared::api::{HeadResponse, IngestResponse, LogRecordView, LogsPage};
use shared::crypto::Kid;
use shared::domain::DivisionCode;

use super::auth::require;
use super::error::blocking;
use super::error::ApiError;
use super::extract::Query;
use crate::service::auth::{Caller, Role};
use crate::service::logs::{self};
use crate::state::AppState;
use crate::store::LogRecordRow;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The check-log routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_logs, get_logs))
        .routes(routes!(get_head))
}

/// `POST /api/v1/verification-logs`: upload a signed batch of check
/// records (`application/cose`, made by `checklog::sign_batch`).
#[utoipa::path(post, path = "/api/v1/verification-logs", tag = "verification logs",
    request_body(content = Vec<u8>, content_type = "application/cose",
        description = "COSE_Sign1 by the device key over the CBOR array of record bytes"),
    responses(
        (status = 200, description = "Stored (or already held)", body = IngestResponse),
        (status = 400, description = "Not a COSE_Sign1 batch with a kid"),
        (status = 403, description = "Not an officer, device not enrolled under this token, revoked, or the signature does not verify"),
        (status = 409, description = "A record differs from the accepted one at its seq, a gap, or prev does not continue the accepted chain; nothing stored"),
        (status = 422, description = "A record is malformed or the batch's own chain is broken; the detail names the record"),
    ),
    security(("bearer" = [])))]
pub async fn post_logs(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    upload(&state, &caller, body).await
}

async fn upload(
    state: &AppState,
    caller: &Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require(caller, &[Role::Officer])?;
    let body = super::extract::body_bytes(body, state.limits().max_body)?;
    let s = state.clone();
    let caller = caller.clone();
    let answer = blocking(move || {
        let trust = s
            .lists()
            .trust_list(s.store(), &s.keys(), s.list_config(), s.now())?;
        let root = s.root_public_key();
        logs::ingest(
            s.store(),
            s.reverifier(),
            (&trust, &root),
            s.peers().own(),
            &caller,
            s.now(),
            &body,
        )
        .map_err(ApiError::from)
    })
    .await?;
    state.metrics().check_records(answer.accepted);
    Ok(Json(answer).into_response())
}

/// Query of the head endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HeadQuery {
    /// The device key's identifier, 16 hex digits.
    kid: Option<String>,
}

fn parse_kid(text: &str) -> Result<Kid, ApiError> {
    hex::decode(text.trim())
        .ok()
        .and_then(|b| Kid::from_slice(&b))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "query parameter kid: {:?} is not 16 hex digits",
                text.chars().take(40).collect::<String>()
            ))
        })
}

/// `GET /api/v1/verification-logs/head?kid=`: what the server holds of one
/// of the caller's devices.
#[utoipa::path(get, path = "/api/v1/verification-logs/head", tag = "verification logs",
    params(HeadQuery),
    responses(
        (status = 200, description = "The device's chain head", body = HeadResponse),
        (status = 400, description = "kid missing or malformed"),
        (status = 403, description = "Not an officer"),
        (status = 404, description = "No device with this kid under this token (never enrolled, or another token's: answered alike)"),
    ),
    security(("bearer" = [])))]
pub async fn get_head(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<HeadQuery>, ApiError>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Officer])?;
    let Query(q) = q?;
    let text = q
        .kid
        .ok_or_else(|| ApiError::BadRequest("query parameter kid is required".into()))?;
    let kid = parse_kid(&text)?;
    let head = blocking(move || Ok(logs::head(state.store(), &caller, state.now(), kid)?)).await?;
    Ok(Json(head).into_response())
}

/// Query of the record listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LogsQuery {
    /// The device's id (required).
    device_id: Option<i64>,
    /// Only records with a greater seq.
    after: Option<u64>,
    /// At most this many records (default 100, at most 1,000).
    limit: Option<u32>,
}

/// Default page size of the record listing.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page size of the record listing.
pub const MAX_LIMIT: u32 = 1_000;

fn record_view(r: LogRecordRow) -> LogRecordView {
    LogRecordView {
        seq: r.seq,
        hash: hex::encode(r.hash),
        prev: hex::encode(r.prev),
        at: r.at,
        kind: match r.kind {
            0 => "check",
            2 => "lookup",
            _ => "disposition",
        }
        .into(),
        verdict: r.verdict,
        reason: r.reason,
        cert_type: r.cert_type,
        cert_number: r.cert_number,
        cert_version: r.cert_version,
        scanned: r.scanned,
        status_seq: r.status_seq,
        trust_seq: r.trust_seq,
        warnings: r
            .warnings
            .and_then(|w| serde_json::from_str(&w).ok())
            .unwrap_or_default(),
        data_age: r.data_age,
        check_seq: r.check_seq,
        accepted: r.accepted,
        note: r.note,
        signature_verified: r.srv_signature,
        presentation_verified: r.srv_presentation,
        server_cert_type: r.srv_cert_type,
        server_cert_number: r.srv_cert_number,
        server_cert_version: r.srv_cert_version,
        server_division: r.srv_division.map(DivisionCode::code),
        server_reason: r.srv_reason,
        batch_id: r.batch_id,
    }
}

/// `GET /api/v1/verification-logs?device_id=&after=&limit=`: a device's
/// stored records with the server-derived fields (administrators and
/// auditors).
#[utoipa::path(get, path = "/api/v1/verification-logs", tag = "verification logs",
    params(LogsQuery),
    responses(
        (status = 200, description = "A page of records", body = LogsPage),
        (status = 400, description = "device_id missing, or a parameter malformed"),
        (status = 403, description = "Not an administrator or auditor"),
        (status = 404, description = "No such device"),
    ),
    security(("bearer" = [])))]
pub async fn get_logs(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<LogsQuery>, ApiError>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Admin, Role::Auditor])?;
    let Query(q) = q?;
    let device_id = q
        .device_id
        .ok_or_else(|| ApiError::BadRequest("query parameter device_id is required".into()))?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "query parameter limit: {limit} is not between 1 and {MAX_LIMIT}"
        )));
    }
    let (device, rows) = blocking(move || {
        Ok(logs::records(
            state.store(),
            &caller,
            state.now(),
            device_id,
            q.after,
            limit,
        )?)
    })
    .await?;
    let next_after = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.seq))
        .flatten();
    Ok(Json(LogsPage {
        device: crate::service::devices::device_view(&device),
        head: hex::encode(device.head),
        records: rows.into_iter().map(record_view).collect(),
        next_after,
    })
    .into_response())
}
