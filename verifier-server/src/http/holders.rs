//! Holders (R7): a holder's token sees only the holder's own certificates,
//! as JSON, as QR images (PNG, SVG) and on a small phone page (`GET
//! /holder`), and registers a device key, after which the server issues a
//! holder-bound version of each valid certificate (claim 10 = the device
//! key) and supersedes the unbound one.
//!
//! Which certificates are a holder's: the token's subject is the holder's
//! ID number or unified social credit code (checked when the token is
//! created). A person certificate belongs to the face's ID number, a permit
//! to the face's credit code, and a vehicle certificate to the owner's
//! credit code or ID number as the agency pushed it in the record's `uscc`
//! or `id_number` field (the face names the owner only by name). The
//! database derives this as the `holder_id` column of
//! `certificate_versions` (migration 3).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;

use super::auth::require;
use super::error::blocking;
use super::error::ApiError;
use super::extract::parse_type;
use crate::service::action::Action;
use crate::service::auth::{Caller, Role};
use crate::service::holders::{
    bind, parse_device_key, DeviceKey, DeviceRegistered, HolderCertificates,
};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The holder routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_certificates))
        .routes(routes!(get_qr_png))
        .routes(routes!(get_qr_svg))
        .routes(routes!(post_device))
        .routes(routes!(holder_page))
}

/// The holder a holder token speaks for; any other role is refused.
fn caller_holder_id(caller: &Caller) -> Result<String, ApiError> {
    require(caller, &[Role::Holder])?;
    Ok(crate::service::holders::holder_of(caller)?)
}

/// `GET /api/v1/holder/certificates`: the caller's own certificates.
#[utoipa::path(get, path = "/api/v1/holder/certificates", tag = "holder",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The holder's current certificates", body = HolderCertificates),
        (status = 401, description = "No valid token", content_type = "application/problem+json"),
        (status = 403, description = "Not a holder token", content_type = "application/problem+json"),
    ))]
pub async fn get_certificates(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    list(&state, &caller).await
}

async fn list(state: &AppState, caller: &Caller) -> Result<Response, ApiError> {
    let holder = caller_holder_id(caller)?;
    let s = state.clone();
    let caller = caller.clone();
    // A write: the driver's sync (re)issues delegated copies when needed.
    let certificates = blocking(move || {
        Ok(s.write(|store, keys, now| {
            crate::service::holders::certificates(store, keys, &caller, now, &holder)
        })?)
    })
    .await?;
    Ok(no_store(
        Json(HolderCertificates { certificates }).into_response(),
    ))
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    r
}

/// The QR text of one of the caller's certificates; audited in the same
/// transaction as the read.
async fn own_qr(
    state: &AppState,
    caller: &Caller,
    action: Action,
    type_text: String,
    number: String,
) -> Result<String, ApiError> {
    let holder = caller_holder_id(caller)?;
    let cert_type = parse_type(&type_text)?;
    let s = state.clone();
    let caller = caller.clone();
    blocking(move || {
        Ok(crate::service::holders::qr_text(
            s.store(),
            &caller,
            s.now(),
            action,
            &holder,
            cert_type,
            &number,
        )?)
    })
    .await
}

fn render_error(e: shared::qr::QrError) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("rendering a QR code: {e}"))
}

/// `GET /api/v1/holder/certificates/{cert_type}/{number}/qr.png`.
#[utoipa::path(get, path = "/api/v1/holder/certificates/{cert_type}/{number}/qr.png",
    tag = "holder", security(("bearer" = [])),
    params(("cert_type" = String, Path, description = "Type code, e.g. QC"),
           ("number" = String, Path, description = "Compact certificate number")),
    responses(
        (status = 200, description = "The QR code, ECC M, 4-module quiet zone", content_type = "image/png"),
        (status = 403, description = "Not a holder token", content_type = "application/problem+json"),
        (status = 404, description = "Not one of the caller's certificates", content_type = "application/problem+json"),
    ))]
pub async fn get_qr_png(
    State(state): State<AppState>,
    caller: Caller,
    Path((type_text, number)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let action = Action::HolderQrPng;
    async {
        let text = own_qr(&state, &caller, action, type_text, number).await?;
        let png = blocking(move || {
            shared::qr::render_png(&text, &shared::qr::RenderOptions::default())
                .map_err(render_error)
        })
        .await?;
        Ok(no_store(
            ([(header::CONTENT_TYPE, "image/png")], png).into_response(),
        ))
    }
    .await
}

/// `GET /api/v1/holder/certificates/{cert_type}/{number}/qr.svg`.
#[utoipa::path(get, path = "/api/v1/holder/certificates/{cert_type}/{number}/qr.svg",
    tag = "holder", security(("bearer" = [])),
    params(("cert_type" = String, Path, description = "Type code, e.g. QC"),
           ("number" = String, Path, description = "Compact certificate number")),
    responses(
        (status = 200, description = "The QR code, ECC M, 4-module quiet zone", content_type = "image/svg+xml"),
        (status = 403, description = "Not a holder token", content_type = "application/problem+json"),
        (status = 404, description = "Not one of the caller's certificates", content_type = "application/problem+json"),
    ))]
pub async fn get_qr_svg(
    State(state): State<AppState>,
    caller: Caller,
    Path((type_text, number)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let action = Action::HolderQrSvg;
    async {
        let text = own_qr(&state, &caller, action, type_text, number).await?;
        let svg = shared::qr::render_svg(&text, &shared::qr::RenderOptions::default())
            .map_err(render_error)?;
        Ok(no_store(
            ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response(),
        ))
    }
    .await
}

/// `POST /api/v1/holder/devices`: registers a device key and binds each
/// valid certificate of the holder to it.
#[utoipa::path(post, path = "/api/v1/holder/devices", tag = "holder",
    security(("bearer" = [])),
    request_body = DeviceKey,
    responses(
        (status = 200, description = "Registered; the holder's certificates, now bound", body = DeviceRegistered),
        (status = 400, description = "Not a JSON key object", content_type = "application/problem+json"),
        (status = 403, description = "Not a holder token", content_type = "application/problem+json"),
        (status = 422, description = "Malformed, weak or unsupported key (the field is named)", content_type = "application/problem+json"),
    ))]
pub async fn post_device(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let action = Action::HolderBindDevice.as_str();
    register(&state, &caller, action, body).await
}

async fn register(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let holder = caller_holder_id(caller)?;
    let body = super::extract::body_bytes(body, state.limits().max_body)?;
    let key = parse_device_key(&body)?;
    let s = state.clone();
    let caller = caller.clone();
    blocking(move || {
        let registered =
            s.write(|store, keys, now| bind(store, keys, &caller, &holder, &key, now, action))?;
        Ok(no_store(Json(registered).into_response()))
    })
    .await
}

/// `GET /holder`: the holder's phone page (no external resources).
#[utoipa::path(get, path = "/holder", tag = "holder",
    responses((status = 200, description = "The holder page", content_type = "text/html")))]
pub async fn holder_page() -> Response {
    let mut r = Html(HOLDER_PAGE).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
             connect-src 'self'; img-src 'self' data:",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The page: paste the token, see the certificates as cards with the face
/// fields and the QR (SVG fetched with the token and inlined).
const HOLDER_PAGE: &str = include_str!("holder.html");
