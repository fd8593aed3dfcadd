//! `POST /api/v1/devices`: an officer enrolls a field device's key. The
//! rules are in [`crate::service::devices`].

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use shared::api::{EnrollRequest, EnrollResponse};

use super::auth::require;
use super::error::blocking;
use super::error::ApiError;
use crate::service::auth::{Caller, Role};
use crate::service::devices::{self, Enrolled};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The enrollment route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_device))
}

/// `POST /api/v1/devices`: enroll an officer's device key.
#[utoipa::path(post, path = "/api/v1/devices", tag = "devices",
    request_body(content = EnrollRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Enrolled", body = EnrollResponse),
        (status = 200, description = "This token had enrolled this key already", body = EnrollResponse),
        (status = 400, description = "Not the expected JSON"),
        (status = 403, description = "Not an officer token, or one without a division"),
        (status = 409, description = "The key is enrolled under another token, or revoked"),
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
    let outcome =
        blocking(move || Ok(devices::enroll(s.store(), &caller, &key, &label, s.now())?)).await?;
    let (status, row) = match outcome {
        Enrolled::New(d) => (StatusCode::CREATED, d),
        Enrolled::Again(d) => (StatusCode::OK, d),
    };
    let answer = EnrollResponse {
        device_id: row.id,
        kid: row.kid.to_hex(),
        division: row.division.code(),
        root: devices::key_view(&state.root_public_key()),
    };
    Ok((status, Json(answer)).into_response())
}
