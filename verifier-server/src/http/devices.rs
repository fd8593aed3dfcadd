//! Officer device enrollment: an officer token registers the public key of a
//! field device (a phone), which then signs its check-log batches (see
//! `logs`). The device is bound to the token and to the token's division.
//!
//! Enrolling the same key again with the same token is idempotent; the same
//! key under another token is a conflict, so one device's log cannot be
//! claimed by two officers.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use shared::crypto::{Alg, PublicKey};

use crate::api::{audited, blocking, require};
use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::store::DeviceRow;
use crate::AppState;

/// Longest device label, characters.
pub const MAX_LABEL_CHARS: usize = 200;

/// The API's name of an algorithm: `EdDSA` or `SM2-SM3`.
pub fn alg_api_name(alg: Alg) -> &'static str {
    match alg {
        Alg::EdDSA => "EdDSA",
        Alg::Sm2Sm3 => "SM2-SM3",
    }
}

/// The algorithm of an API name (`SM2` is accepted for `SM2-SM3`).
pub fn alg_from_api_name(name: &str) -> Option<Alg> {
    match name {
        "EdDSA" => Some(Alg::EdDSA),
        "SM2-SM3" | "SM2" => Some(Alg::Sm2Sm3),
        _ => None,
    }
}

/// The body of `POST /api/v1/devices`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// `EdDSA` or `SM2-SM3`.
    pub alg: String,
    /// Raw public key, base64url without padding: 32 bytes for Ed25519,
    /// 65 (uncompressed SEC1) for SM2.
    pub public_key: String,
    /// Free text naming the device.
    #[serde(default)]
    pub label: Option<String>,
}

/// A public key as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    /// `EdDSA` or `SM2-SM3`.
    pub alg: String,
    /// Raw public key, base64url without padding.
    pub public_key: String,
    /// Key identifier, 16 hex digits.
    pub kid: String,
}

impl KeyView {
    /// The view of a key.
    pub fn of(key: &PublicKey) -> KeyView {
        KeyView {
            alg: alg_api_name(key.alg()).into(),
            public_key: URL_SAFE_NO_PAD.encode(key.to_bytes()),
            kid: key.kid().to_hex(),
        }
    }
}

/// The answer to an enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EnrollResponse {
    /// The device's id.
    pub device_id: i64,
    /// The device key's identifier, 16 hex digits.
    pub kid: String,
    /// The division the device is enrolled in (the token's).
    pub division: u32,
    /// The trust-list root key the device pins.
    pub root: KeyView,
}

/// What an enrollment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enrolled {
    /// A new device.
    New(DeviceRow),
    /// This token had enrolled this key already.
    Again(DeviceRow),
}

/// Parses an enrollment body into a public key and a label; errors name
/// the field.
pub fn parse_request(body: &[u8]) -> Result<(PublicKey, String), ApiError> {
    let req: EnrollRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "request body: expected {{\"alg\", \"public_key\", \"label\"}}: {e}"
        ))
    })?;
    let alg = alg_from_api_name(&req.alg).ok_or_else(|| {
        ApiError::Unprocessable(format!(
            "alg: {:?} is not EdDSA or SM2-SM3",
            req.alg.chars().take(40).collect::<String>()
        ))
    })?;
    let bytes = URL_SAFE_NO_PAD.decode(req.public_key.trim()).map_err(|e| {
        ApiError::Unprocessable(format!("public_key: not base64url without padding: {e}"))
    })?;
    let key = PublicKey::from_bytes(alg, &bytes)
        .map_err(|e| ApiError::Unprocessable(format!("public_key: {e}")))?;
    let label = req.label.unwrap_or_default();
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "label: longer than {MAX_LABEL_CHARS} characters"
        )));
    }
    if label.chars().any(char::is_control) {
        return Err(ApiError::Unprocessable(
            "label: control characters are not allowed".into(),
        ));
    }
    Ok((key, label))
}

/// Enrolls `key` for the officer `caller` at `now`, writing the audit row
/// in the same transaction.
pub fn enroll(
    state: &AppState,
    caller: &Caller,
    key: &PublicKey,
    label: &str,
    now: i64,
) -> Result<Enrolled, ApiError> {
    let division = caller.division.ok_or_else(|| {
        ApiError::Forbidden("this officer token is not bound to a division".into())
    })?;
    let action = "POST /api/v1/devices";
    let kid = key.kid();
    let mut tx = state.store().begin()?;
    let outcome = match tx.device_by_kid(&kid)? {
        Some(d) if d.token_id != caller.token_id => {
            return Err(ApiError::Conflict(format!(
                "public_key: device key {kid} is already enrolled under another officer token"
            )));
        }
        Some(d) if d.revoked_at.is_some() => {
            return Err(ApiError::Conflict(format!(
                "public_key: device key {kid} was revoked; enroll a new key"
            )));
        }
        Some(d) => Enrolled::Again(d),
        None => {
            let mut row = DeviceRow {
                id: 0,
                kid,
                alg: key.alg(),
                public_key: key.to_bytes(),
                token_id: caller.token_id,
                division,
                label: label.to_string(),
                enrolled_at: now,
                revoked_at: None,
                next_seq: 0,
                head: shared::checklog::GENESIS,
            };
            row.id = tx.insert_device(&row)?;
            Enrolled::New(row)
        }
    };
    let (what, row) = match &outcome {
        Enrolled::New(d) => ("enrolled", d),
        Enrolled::Again(d) => ("already enrolled", d),
    };
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        action,
        format!("device {} kid {kid}", row.id),
        format!("ok: {what}"),
    ))?;
    tx.commit()?;
    Ok(outcome)
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
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let result = enroll_request(&state, &caller, body).await;
    audited(&state, &caller, "POST /api/v1/devices", &uri, result).await
}

async fn enroll_request(
    state: &AppState,
    caller: &Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require(caller, &[Role::Officer])?;
    let body = crate::api::body_bytes(body, state.limits().max_body)?;
    let (key, label) = parse_request(&body)?;
    let s = state.clone();
    let caller = caller.clone();
    let outcome = blocking(move || enroll(&s, &caller, &key, &label, s.now())).await?;
    let (status, row) = match outcome {
        Enrolled::New(d) => (StatusCode::CREATED, d),
        Enrolled::Again(d) => (StatusCode::OK, d),
    };
    let answer = EnrollResponse {
        device_id: row.id,
        kid: row.kid.to_hex(),
        division: row.division.code(),
        root: KeyView::of(&state.root_public_key()),
    };
    Ok((status, Json(answer)).into_response())
}
