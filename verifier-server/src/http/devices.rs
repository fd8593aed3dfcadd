//! Officer devices: `POST /api/v1/devices` (an officer enrolls a field
//! device's key, within the per-token limit), `GET /api/v1/devices` (the
//! devices per token) and `POST /api/v1/devices/{id}/revoke` (the
//! administrator revokes one). The rules are in
//! [`crate::service::devices`].

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use shared::api::{DeviceList, DeviceView, EnrollRequest, EnrollResponse};

use super::auth::require;
use super::error::blocking;
use super::error::ApiError;
use super::extract::{Path, Query};
use crate::service::auth::{Caller, Role};
use crate::service::devices::{self, Enrolled};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The enrollment route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_device, get_devices))
        .routes(routes!(post_revoke))
}

/// `POST /api/v1/devices`: enroll an officer's device key.
#[utoipa::path(post, path = "/api/v1/devices", tag = "devices",
    request_body(content = EnrollRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Enrolled", body = EnrollResponse),
        (status = 200, description = "This token had enrolled this key already", body = EnrollResponse),
        (status = 400, description = "Not the expected JSON"),
        (status = 403, description = "Not an officer token, or one without a division"),
        (status = 409, description = "The key is enrolled under another token, or revoked, or the token holds its limit of active devices"),
        (status = 422, description = "Unknown alg, malformed or weak key, bad label; the detail names the field"),
    ),
    security(("bearer" = [])))]
pub async fn post_device(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    enroll_request(&state, &caller, body).await
}

async fn enroll_request(
    state: &AppState,
    caller: &Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require(caller, &[Role::Officer])?;
    let body = super::extract::body_bytes(body, state.limits().max_body)?;
    let (key, label) = devices::parse_request(&body)?;
    let s = state.clone();
    let caller = caller.clone();
    let max = state.limits().max_devices_per_token;
    let outcome = blocking(move || {
        Ok(devices::enroll(
            s.store(),
            &caller,
            &key,
            &label,
            s.now(),
            max,
        )?)
    })
    .await?;
    let (status, row) = match outcome {
        Enrolled::New(d) => (StatusCode::CREATED, d),
        Enrolled::Again(d) => (StatusCode::OK, d),
    };
    let answer = EnrollResponse {
        device_id: row.id,
        kid: row.kid.to_hex(),
        division: row.division.code(),
        root: devices::key_view(&state.root_public_key()),
        national_root: state
            .national()
            .config()
            .map(|c| devices::key_view(&c.root)),
    };
    Ok((status, Json(answer)).into_response())
}

/// Query of the device list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DevicesQuery {
    /// Only this officer token's devices (administrators and auditors).
    token: Option<i64>,
}

/// `GET /api/v1/devices[?token=N]`: the devices per officer token.
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices",
    params(DevicesQuery),
    responses(
        (status = 200, description = "The devices with the per-token limit", body = DeviceList),
        (status = 400, description = "Bad query"),
        (status = 403, description = "Not an officer (own devices), administrator or auditor"),
    ),
    security(("bearer" = [])))]
pub async fn get_devices(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<DevicesQuery>, ApiError>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let s = state.clone();
    let max = state.limits().max_devices_per_token;
    let list =
        blocking(move || Ok(devices::list(s.store(), &caller, s.now(), q.token, max)?)).await?;
    Ok(Json(list).into_response())
}

/// `POST /api/v1/devices/{id}/revoke`: the administrator revokes a device;
/// its batches are refused from then on and none of its checks counts.
#[utoipa::path(post, path = "/api/v1/devices/{id}/revoke", tag = "devices",
    params(("id" = i64, Path, description = "The device's id")),
    responses(
        (status = 200, description = "Revoked", body = DeviceView),
        (status = 400, description = "The id is not a device id (a 64-bit integer)",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the administrator"),
        (status = 404, description = "No such device"),
        (status = 409, description = "Revoked already"),
    ),
    security(("bearer" = [])))]
pub async fn post_revoke(
    State(state): State<AppState>,
    caller: Caller,
    p: Result<Path<i64>, ApiError>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Admin])?;
    let Path(id) = p?;
    let s = state.clone();
    let view =
        blocking(move || Ok(devices::revoke(s.store(), Some(&caller), id, s.now())?)).await?;
    Ok(Json(view).into_response())
}
