//! The public lists: the R1 catalogue, the signed trust list and status
//! list (snapshot and deltas), each with an ETag and `If-None-Match` → 304.
//!
//! The signed lists are public, cacheable artifacts answered from memory
//! (`Lists::cached_*`) on the request's own thread while nothing changed;
//! only a change or a due re-signing takes the blocking pool and the
//! store. [`signed_lists`] are routed outside the request layers (see
//! `http::app`).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use shared::domain::catalogue::catalogue;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::blocking;
use super::error::ApiError;
use super::extract::Query;
use crate::metrics::SignedList;
use crate::service::lists::{DeltaAnswer, Signed};
use crate::state::AppState;

/// The public lists' routes (the catalogue and the signed lists), which
/// `http::app` places outside the request layers: no rate limit, timeout,
/// concurrency limit, audit or trace span.
pub fn signed_lists() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_catalogue))
        .routes(routes!(get_trust_list))
        .routes(routes!(get_status_list))
        .routes(routes!(get_status_deltas))
        .routes(routes!(get_national_list))
        .routes(routes!(get_province_trust_list))
        .routes(routes!(get_province_status_list))
}

/// The mirrored copy, or 404 when mutual recognition is not configured or
/// nothing verified is held yet.
fn mirrored(state: &AppState) -> Result<std::sync::Arc<crate::national::Mirrored>, ApiError> {
    state.national().held().ok_or_else(|| {
        ApiError::NotFound("no national issuer list is held (mutual recognition not configured, or not fetched yet)".into())
    })
}

/// A mirrored signed object with a strong ETag (SHA-256 of its bytes).
fn mirrored_response(headers: &HeaderMap, bytes: &bytes::Bytes) -> Response {
    use sha2::Digest as _;
    let etag = format!("\"{}\"", hex::encode(sha2::Sha256::digest(bytes)));
    let signed = Signed {
        bytes: bytes.clone(),
        etag: bytes::Bytes::from(etag),
    };
    signed_response(headers, &signed)
}

/// `GET /api/v1/national-list`: the national issuer list, as mirrored.
#[utoipa::path(get, path = "/api/v1/national-list", tag = "lists",
    params(("If-None-Match" = Option<String>, Header, description = "ETag of the copy held")),
    responses(
        (status = 200, description = "The national issuer list signed by the national root (COSE_Sign1), verified by this server",
            body = super::openapi::SignedListDoc, content_type = "application/cose"),
        (status = 304, description = "The copy held is current"),
        (status = 404, description = "Mutual recognition not configured, or no list fetched yet"),
    ))]
pub async fn get_national_list(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    let held = mirrored(&state)?;
    Ok(mirrored_response(request.headers(), &held.national))
}

/// A province code in a path.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ProvincePath {
    /// Province-level division code, e.g. 220000.
    division: u32,
}

fn province_copy(
    state: &AppState,
    division: u32,
) -> Result<crate::national::ProvinceCopy, ApiError> {
    let held = mirrored(state)?;
    held.provinces.get(&division).cloned().ok_or_else(|| {
        ApiError::NotFound(format!(
            "province {division} is not mirrored here (not in the national list, this server's own, or not fetched yet)"
        ))
    })
}

/// `GET /api/v1/provinces/{division}/trust-list`: another province's trust
/// list, as mirrored.
#[utoipa::path(get, path = "/api/v1/provinces/{division}/trust-list", tag = "lists",
    params(ProvincePath, ("If-None-Match" = Option<String>, Header, description = "ETag of the copy held")),
    responses(
        (status = 200, description = "The province's trust list signed by the root the national list names (COSE_Sign1)",
            body = super::openapi::SignedListDoc, content_type = "application/cose"),
        (status = 304, description = "The copy held is current"),
        (status = 400, description = "The division is not a division code (an unsigned integer)"),
        (status = 404, description = "Not a mirrored province"),
    ))]
pub async fn get_province_trust_list(
    State(state): State<AppState>,
    super::extract::Path(ProvincePath { division }): super::extract::Path<ProvincePath>,
    request: Request,
) -> Result<Response, ApiError> {
    let copy = province_copy(&state, division)?;
    Ok(mirrored_response(request.headers(), &copy.trust))
}

/// `GET /api/v1/provinces/{division}/status-list`: another province's
/// status snapshot, as mirrored.
#[utoipa::path(get, path = "/api/v1/provinces/{division}/status-list", tag = "lists",
    params(ProvincePath, ("If-None-Match" = Option<String>, Header, description = "ETag of the copy held")),
    responses(
        (status = 200, description = "The province's status snapshot signed by one of its issuer keys (COSE_Sign1)",
            body = super::openapi::SignedListDoc, content_type = "application/cose"),
        (status = 304, description = "The copy held is current"),
        (status = 400, description = "The division is not a division code (an unsigned integer)"),
        (status = 404, description = "Not a mirrored province"),
    ))]
pub async fn get_province_status_list(
    State(state): State<AppState>,
    super::extract::Path(ProvincePath { division }): super::extract::Path<ProvincePath>,
    request: Request,
) -> Result<Response, ApiError> {
    let copy = province_copy(&state, division)?;
    Ok(mirrored_response(request.headers(), &copy.status))
}

/// `GET /api/v1/catalogue`: the R1 catalogue.
#[utoipa::path(get, path = "/api/v1/catalogue", tag = "lists",
    responses((status = 200, description = "The nine certificate types with their face fields",
        body = Vec<super::openapi::CatalogueEntryDoc>)))]
pub async fn get_catalogue() -> Response {
    let mut response = Json(catalogue()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// Whether an `If-None-Match` header value names `etag`: `*`, or the
/// strong ETag in a list, weak (`W/`) or not; compared as bytes.
fn matches(if_none_match: &[u8], etag: &[u8]) -> bool {
    if_none_match
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .any(|tag| tag == b"*" || tag == etag || tag.strip_prefix(b"W/") == Some(etag))
}

/// A signed list with ETag, caching headers and `If-None-Match` → 304,
/// from the shared bytes of [`Signed`]: neither the body nor the ETag is
/// copied (reference-count increments), nothing is read.
fn signed_response(headers: &HeaderMap, signed: &Signed) -> Response {
    let not_modified = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .any(|v| matches(v.as_bytes(), &signed.etag));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, signed.bytes.clone()).into_response()
    };
    let h = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_maybe_shared(signed.etag.clone()) {
        h.insert(header::ETAG, etag);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    if !not_modified {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/cose"),
        );
    }
    response
}

/// `GET /api/v1/trust-list`.
#[utoipa::path(get, path = "/api/v1/trust-list", tag = "lists",
    params(("If-None-Match" = Option<String>, Header, description = "ETag of the copy held")),
    responses(
        (status = 200, description = "The trust list signed by the root key (COSE_Sign1)",
            body = super::openapi::SignedListDoc, content_type = "application/cose",
            headers(("ETag" = String, description = "Strong ETag of these bytes"))),
        (status = 304, description = "The copy held is current"),
    ))]
pub async fn get_trust_list(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    // The request itself, not a `HeaderMap` extractor (which copies every
    // header): only `If-None-Match` is read.
    let headers = request.headers();
    state.metrics().signed_list(SignedList::Trust);
    // Fast path: from memory on this thread (no blocking-pool hop, no
    // store) while the keys and the list are unchanged.
    // Not on a store shared by several instances: another may have moved
    // the lists (the service re-reads their state there).
    if !state.store().shared() && state.keys_current() {
        if let Some(signed) = state
            .lists()
            .cached_trust_list(state.list_config(), state.now())
        {
            return Ok(signed_response(headers, &signed));
        }
    }
    let s = state.clone();
    let signed = blocking(move || {
        Ok(s.lists()
            .trust_list(s.store(), &s.keys(), s.list_config(), s.now())?)
    })
    .await?;
    Ok(signed_response(headers, &signed))
}

/// `GET /api/v1/status-list`.
#[utoipa::path(get, path = "/api/v1/status-list", tag = "lists",
    params(("If-None-Match" = Option<String>, Header, description = "ETag of the copy held")),
    responses(
        (status = 200, description = "The status snapshot signed by the issuer key (COSE_Sign1)",
            body = super::openapi::SignedListDoc, content_type = "application/cose",
            headers(("ETag" = String, description = "Strong ETag of these bytes"))),
        (status = 304, description = "The copy held is current"),
    ))]
pub async fn get_status_list(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    // The request itself, not a `HeaderMap` extractor (which copies every
    // header): only `If-None-Match` is read.
    let headers = request.headers();
    state.metrics().signed_list(SignedList::Status);
    // Fast path, as for the trust list.
    // Not on a store shared by several instances: another may have moved
    // the lists (the service re-reads their state there).
    if !state.store().shared() && state.keys_current() {
        if let Some(signed) = state
            .lists()
            .cached_status_snapshot(state.list_config(), state.now())
        {
            return Ok(signed_response(headers, &signed));
        }
    }
    let s = state.clone();
    let signed = blocking(move || {
        Ok(s.lists()
            .status_snapshot(s.store(), &s.keys(), s.list_config(), s.now())?)
    })
    .await?;
    Ok(signed_response(headers, &signed))
}

/// Query of the delta endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeltaQuery {
    /// The sequence of the status list held.
    #[param(required = true, value_type = u64)]
    since: Option<String>,
}

/// `GET /api/v1/status-list/deltas?since=N`.
#[utoipa::path(get, path = "/api/v1/status-list/deltas", tag = "lists",
    params(DeltaQuery,
        ("If-None-Match" = Option<String>, Header, description = "ETag of the copy held")),
    responses(
        (status = 200, description = "The changes since that sequence, signed (COSE_Sign1)",
            body = super::openapi::SignedListDoc, content_type = "application/cose",
            headers(("ETag" = String, description = "Strong ETag of these bytes"))),
        (status = 204, description = "Nothing changed since that sequence"),
        (status = 304, description = "The copy held is current"),
        (status = 400, description = "since is missing, not a number or never published",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 410, description = "Deltas from that sequence are no longer kept; fetch the snapshot",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_status_deltas(
    State(state): State<AppState>,
    Query(q): Query<DeltaQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    state.metrics().signed_list(SignedList::Deltas);
    let text = q
        .since
        .ok_or_else(|| ApiError::BadRequest("query parameter since is required".into()))?;
    let since: u64 = text.trim().parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "query parameter since: {text:?} is not a sequence number (a non-negative integer)"
        ))
    })?;
    // Fast path, as for the trust list.
    let cached = (!state.store().shared() && state.keys_current())
        .then(|| {
            state
                .lists()
                .cached_status_delta(state.list_config(), state.now(), since)
        })
        .flatten();
    let answer = match cached {
        Some(answer) => answer,
        None => {
            let s = state.clone();
            blocking(move || {
                Ok(s.lists()
                    .status_delta(s.store(), &s.keys(), s.list_config(), s.now(), since)?)
            })
            .await?
        }
    };
    match answer {
        DeltaAnswer::Delta(signed) => Ok(signed_response(headers, &signed)),
        DeltaAnswer::UpToDate => Ok((
            StatusCode::NO_CONTENT,
            [(header::CACHE_CONTROL, "public, max-age=60")],
        )
            .into_response()),
        DeltaAnswer::Gone { oldest } => Err(ApiError::Gone(format!(
            "deltas start at sequence {oldest}; fetch /api/v1/status-list instead"
        ))),
        DeltaAnswer::Unknown { current } => Err(ApiError::BadRequest(format!(
            "query parameter since: sequence {since} was never published (current is {current})"
        ))),
    }
}
