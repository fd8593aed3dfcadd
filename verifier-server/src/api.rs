//! HTTP handlers: request parsing, authentication, and answers. The work
//! itself is in `issuing` and `lists`, run on the blocking pool because the
//! store is synchronous.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use shared::domain::catalogue::catalogue;
use shared::domain::{CertType, Nonconformance};
use shared::qrtext;
use shared::status::Status;

use crate::auth::{self, AuthFailure, Caller, Role};
use crate::error::ApiError;
use crate::issuing::{self, ChangeRefusal, StatusChange};
use crate::lists::{DeltaAnswer, Signed};
use crate::AppState;

/// Runs store work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await?
}

pub(crate) fn audit(
    state: &AppState,
    caller: Option<&Caller>,
    action: String,
    target: String,
    outcome: &str,
) {
    let entry = Caller::audit_entry(caller, state.now(), action, target, outcome);
    let result = state.store().begin().and_then(|mut tx| {
        tx.append_audit(&entry)?;
        tx.commit()
    });
    if let Err(e) = result {
        tracing::error!(error = %e, "could not write an audit row");
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| rest.trim().to_string())
            });
        let action = format!("{} {}", parts.method, parts.uri.path());
        let state = state.clone();
        blocking(
            move || match auth::authenticate(state.store(), token.as_deref())? {
                Ok(caller) => Ok(caller),
                Err(failure) => {
                    let outcome = match failure {
                        AuthFailure::Missing => "unauthenticated: no token",
                        AuthFailure::Unknown => "unauthenticated: unknown token",
                        AuthFailure::Revoked => "unauthenticated: revoked token",
                    };
                    audit(&state, None, action, "-".into(), outcome);
                    Err(ApiError::Unauthenticated(failure.message().into()))
                }
            },
        )
        .await
    }
}

/// Appends an audit row from async code.
async fn audit_async(
    state: &AppState,
    caller: Option<&Caller>,
    action: String,
    target: String,
    outcome: String,
) {
    let state = state.clone();
    let caller = caller.cloned();
    let done = tokio::task::spawn_blocking(move || {
        audit(&state, caller.as_ref(), action, target, &outcome);
    })
    .await;
    if let Err(e) = done {
        tracing::error!(error = %e, "audit task failed");
    }
}

/// Audits a failed authenticated request; a successful one is audited
/// with its effect, in the same transaction.
pub(crate) async fn audited(
    state: &AppState,
    caller: &Caller,
    action: &str,
    uri: &Uri,
    result: Result<Response, ApiError>,
) -> Result<Response, ApiError> {
    if let Err(e) = &result {
        let outcome = format!("{} {}", e.status().as_u16(), e.slug());
        audit_async(
            state,
            Some(caller),
            action.into(),
            uri.path().into(),
            outcome,
        )
        .await;
    }
    result
}

/// Refuses a caller whose role is not among `roles`.
pub(crate) fn require(caller: &Caller, roles: &[Role]) -> Result<(), ApiError> {
    if roles.contains(&caller.role) {
        return Ok(());
    }
    let needed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    Err(ApiError::Forbidden(format!(
        "role {} may not do this; needs {}",
        caller.role.as_str(),
        needed.join(" or ")
    )))
}

/// A query string, or a problem naming what is wrong with it.
pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::BadRequest(format!("query string: {}", e.body_text())))
}

/// A path's parameters, or a problem naming what is wrong with them.
fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(p)| p)
        .map_err(|e| ApiError::BadRequest(format!("path: {}", e.body_text())))
}

/// A request body, or a problem: 413 over `limit` bytes, 400 otherwise.
pub(crate) fn body_bytes(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!("request body: larger than {limit} bytes"))
        } else {
            ApiError::BadRequest(format!("request body: {}", e.body_text()))
        }
    })
}

/// `GET /healthz`.
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, description = "The service is up", body = serde_json::Value)))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// `GET /api/v1/catalogue`: the R1 catalogue.
#[utoipa::path(get, path = "/api/v1/catalogue", tag = "lists",
    responses((status = 200, description = "The nine certificate types with their face fields",
        body = Vec<crate::openapi::CatalogueEntryDoc>)))]
pub async fn get_catalogue() -> Response {
    let mut response = Json(catalogue()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// A signed list with ETag, caching headers and `If-None-Match` → 304,
/// from the prebuilt bytes and ETag header of [`Signed`]: nothing is
/// copied, formatted or validated per request.
fn signed_response(headers: &HeaderMap, signed: &Signed) -> Response {
    let not_modified = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .any(|v| signed.matches(v.as_bytes()));
    let mut response = if not_modified {
        (StatusCode::NOT_MODIFIED, Bytes::new()).into_response()
    } else {
        (StatusCode::OK, signed.bytes.clone()).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, signed.etag_header.clone());
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
            body = crate::openapi::SignedListDoc, content_type = "application/cose",
            headers(("ETag" = String, description = "Strong ETag of these bytes"))),
        (status = 304, description = "The copy held is current"),
    ))]
pub async fn get_trust_list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // Fast path: from memory on this thread (no blocking-pool hop, no
    // store) while the keys and the list are unchanged; see `lists`.
    if state.keys_current() {
        if let Some(signed) = state
            .lists()
            .cached_trust_list(state.list_config(), state.now())
        {
            return Ok(signed_response(&headers, &signed));
        }
    }
    let s = state.clone();
    let signed = blocking(move || {
        Ok(s.lists()
            .trust_list(s.store(), &s.keys(), s.list_config(), s.now())?)
    })
    .await?;
    Ok(signed_response(&headers, &signed))
}

/// `GET /api/v1/status-list`.
#[utoipa::path(get, path = "/api/v1/status-list", tag = "lists",
    params(("If-None-Match" = Option<String>, Header, description = "ETag of the copy held")),
    responses(
        (status = 200, description = "The status snapshot signed by the issuer key (COSE_Sign1)",
            body = crate::openapi::SignedListDoc, content_type = "application/cose",
            headers(("ETag" = String, description = "Strong ETag of these bytes"))),
        (status = 304, description = "The copy held is current"),
    ))]
pub async fn get_status_list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // Fast path, as for the trust list.
    if state.keys_current() {
        if let Some(signed) = state
            .lists()
            .cached_status_snapshot(state.list_config(), state.now())
        {
            return Ok(signed_response(&headers, &signed));
        }
    }
    let s = state.clone();
    let signed = blocking(move || {
        Ok(s.lists()
            .status_snapshot(s.store(), &s.keys(), s.list_config(), s.now())?)
    })
    .await?;
    Ok(signed_response(&headers, &signed))
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
            body = crate::openapi::SignedListDoc, content_type = "application/cose",
            headers(("ETag" = String, description = "Strong ETag of these bytes"))),
        (status = 204, description = "Nothing changed since that sequence"),
        (status = 304, description = "The copy held is current"),
        (status = 400, description = "since is missing, not a number or never published",
            body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 410, description = "Deltas from that sequence are no longer kept; fetch the snapshot",
            body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_status_deltas(
    State(state): State<AppState>,
    q: Result<Query<DeltaQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let text = q
        .since
        .ok_or_else(|| ApiError::BadRequest("query parameter since is required".into()))?;
    let since: u64 = text.trim().parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "query parameter since: {text:?} is not a sequence number (a non-negative integer)"
        ))
    })?;
    // Fast path, as for the trust list.
    let cached = state
        .keys_current()
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
        DeltaAnswer::Delta(signed) => Ok(signed_response(&headers, &signed)),
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

/// The body of a push.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PushBody {
    /// The records (fields as in the catalogue), at most `max_records`.
    #[schema(value_type = Vec<Object>)]
    records: Vec<serde_json::Value>,
}

/// `POST /api/v1/records`: push records (R2–R4).
#[utoipa::path(post, path = "/api/v1/records", tag = "issuing",
    security(("bearer" = [])),
    request_body(content = PushBody, description = "Records to collect, each answered in order"),
    responses(
        (status = 200, description = "Every record's outcome, after the push committed",
            body = crate::issuing::PushResponse),
        (status = 403, description = "The role may not push (admin or agency only)",
            body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_records(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let result = push_records(&state, &caller, body).await;
    audited(&state, &caller, "POST /api/v1/records", &uri, result).await
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
    let push: PushBody = serde_json::from_slice(&body).map_err(|e| {
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
        let pushed = issuing::push(
            s.store(),
            &s.keys(),
            &caller,
            s.now(),
            push.records,
            Some(deadline),
        );
        // After the commit (or rollback), before anyone is answered.
        s.lists().invalidate();
        pushed.map_err(|e| match e {
            e @ issuing::PushError::Deadline { .. } => ApiError::Unavailable(format!(
                "records: {e} (limit {} s); push fewer records per request",
                budget.as_secs()
            )),
            other => ApiError::Internal(other.into()),
        })
    })
    .await?;
    Ok(Json(response).into_response())
}

pub(crate) fn parse_type(text: &str) -> Result<CertType, ApiError> {
    CertType::from_code(&text.to_ascii_uppercase()).ok_or_else(|| {
        let codes: Vec<&str> = CertType::ALL.iter().map(|t| t.code()).collect();
        ApiError::NotFound(format!(
            "certificate type {text:?} is not one of {}",
            codes.join(", ")
        ))
    })
}

/// The body of a lifecycle change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StatusBody {
    /// The new status.
    status: StatusChange,
}

/// `POST /api/v1/certificates/{type}/{number}/status`.
#[utoipa::path(post, path = "/api/v1/certificates/{cert_type}/{number}/status", tag = "issuing",
    security(("bearer" = [])),
    params(
        ("cert_type" = String, Path, description = "Type code, e.g. QC (any case)"),
        ("number" = String, Path, description = "Certificate number"),
    ),
    request_body(content = StatusBody, description = "Revoke, suspend or reinstate"),
    responses(
        (status = 200, description = "The status now", body = crate::issuing::StatusChanged),
        (status = 403, description = "The role may not change statuses, or the certificate is another division's",
            body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such type or certificate",
            body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed from the current status (e.g. revoked is final)",
            body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_status(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    p: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let action = "POST /api/v1/certificates/{type}/{number}/status";
    let result = match path(p) {
        Ok((type_text, number)) => change_status(&state, &caller, type_text, number, body).await,
        Err(e) => Err(e),
    };
    audited(&state, &caller, action, &uri, result).await
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
    let change: StatusBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "request body: expected {{\"status\": \"revoked\" | \"suspended\" | \"valid\"}}: {e}"
        ))
    })?;
    let s = state.clone();
    let n = number.clone();
    let caller = caller.clone();
    let outcome = blocking(move || {
        let changed =
            issuing::change_status(s.store(), &caller, s.now(), cert_type, &n, change.status);
        s.lists().invalidate();
        Ok(changed?)
    })
    .await?;
    match outcome {
        Ok(changed) => Ok(Json(changed).into_response()),
        Err(ChangeRefusal::NotFound) => Err(ApiError::NotFound(format!(
            "no certificate {cert_type} {number}"
        ))),
        Err(ChangeRefusal::Forbidden(d)) => Err(ApiError::Forbidden(format!(
            "certificate {cert_type} {number} was issued in division {}, outside this agency's",
            d.code()
        ))),
        Err(ChangeRefusal::Conflict(current)) => Err(ApiError::Conflict(format!(
            "certificate {cert_type} {number} is {}; {:?} is not allowed from there",
            current.label_en(),
            change.status
        ))),
    }
}

/// Query of the certificate endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// A version other than the current one.
    version: Option<u16>,
}

/// A certificate version as answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CertificateView {
    #[schema(value_type = crate::openapi::CertTypeDoc)]
    cert_type: CertType,
    number: String,
    version: u16,
    current_version: u16,
    #[schema(value_type = crate::openapi::StatusDoc)]
    status: Status,
    status_index: u32,
    identifier: Option<String>,
    issued_at: i64,
    /// The QR text (`LC1:` …).
    qr: String,
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
            body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not read certificates, or the certificate is another division's",
            body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such type, certificate or version",
            body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_certificate(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    p: Result<Path<(String, String)>, PathRejection>,
    q: Result<Query<VersionQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let action = "GET /api/v1/certificates/{type}/{number}";
    let result = match path(p).and_then(|p| Ok((p, query(q)?))) {
        Ok(((type_text, number), q)) => {
            read_certificate(&state, &caller, action, type_text, number, q).await
        }
        Err(e) => Err(e),
    };
    audited(&state, &caller, action, &uri, result).await
}

async fn read_certificate(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    type_text: String,
    number: String,
    q: VersionQuery,
) -> Result<Response, ApiError> {
    require(caller, &[Role::Admin, Role::Agency])?;
    let cert_type = parse_type(&type_text)?;
    let s = state.clone();
    let caller = caller.clone();
    blocking(move || {
        let target = format!("{cert_type} {number}");
        let mut tx = s.store().begin()?;
        let found = match tx.certificate(cert_type, &number)? {
            Some(c) if caller.may_act_for(c.issuer_division) => {
                let version = q.version.unwrap_or(c.version);
                tx.version(cert_type, &number, version)?.map(|v| (c, v))
            }
            Some(_) => {
                return Err(ApiError::Forbidden(format!(
                    "certificate {cert_type} {number} is outside this agency's division"
                )));
            }
            None => None,
        };
        tx.commit()?;
        let (current, v) = found.ok_or_else(|| {
            ApiError::NotFound(format!(
                "no certificate {cert_type} {number}{}",
                q.version
                    .map(|v| format!(" version {v}"))
                    .unwrap_or_default()
            ))
        })?;
        let view = Json(CertificateView {
            cert_type,
            number: v.number,
            version: v.version,
            current_version: current.version,
            status: v.status,
            status_index: v.status_index,
            identifier: v.identifier,
            issued_at: v.issued_at,
            qr: qrtext::encode(qrtext::Kind::Certificate, &v.signed),
        });
        audit(&s, Some(&caller), action.into(), target, "ok");
        Ok(view.into_response())
    })
    .await
}

/// Query of the correction list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NonconformingQuery {
    /// Include resolved entries.
    #[serde(default)]
    all: bool,
}

/// One entry of the correction list as answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NonconformingView {
    agency: u32,
    cert_type: String,
    number: String,
    #[schema(value_type = Vec<crate::openapi::NonconformanceDoc>)]
    reasons: Vec<Nonconformance>,
    /// The record as pushed.
    #[schema(value_type = Object)]
    record: serde_json::Value,
    first_seen: i64,
    last_seen: i64,
    resolved_at: Option<i64>,
}

/// The correction list as answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NonconformingList {
    /// Its entries.
    entries: Vec<NonconformingView>,
}

/// `GET /api/v1/nonconforming[?all=true]`: the caller's correction list
/// (an administrator sees every agency's).
#[utoipa::path(get, path = "/api/v1/nonconforming", tag = "issuing",
    security(("bearer" = [])),
    params(NonconformingQuery),
    responses(
        (status = 200, description = "The entries with field-level reasons", body = NonconformingList),
        (status = 400, description = "The query string is malformed",
            body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not read correction lists (admin or agency only)",
            body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_nonconforming(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    q: Result<Query<NonconformingQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let action = "GET /api/v1/nonconforming";
    let result = match query(q) {
        Ok(q) => read_nonconforming(&state, &caller, action, q).await,
        Err(e) => Err(e),
    };
    audited(&state, &caller, action, &uri, result).await
}

async fn read_nonconforming(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    q: NonconformingQuery,
) -> Result<Response, ApiError> {
    require(caller, &[Role::Admin, Role::Agency])?;
    let s = state.clone();
    let caller = caller.clone();
    blocking(move || {
        let agency = match caller.role {
            Role::Admin => None,
            _ => Some(caller.agency_division()),
        };
        let mut tx = s.store().begin()?;
        let rows = tx.nonconforming(agency, !q.all)?;
        tx.commit()?;
        audit(
            &s,
            Some(&caller),
            action.into(),
            format!("{} entries", rows.len()),
            "ok",
        );
        let mut views = Vec::with_capacity(rows.len());
        for r in rows {
            views.push(NonconformingView {
                agency: r.agency.code(),
                cert_type: r.cert_type,
                number: r.number,
                reasons: serde_json::from_str(&r.reasons_json).map_err(|e| {
                    ApiError::Internal(anyhow::Error::new(e).context("stored reasons"))
                })?,
                record: serde_json::from_str(&r.record_json).map_err(|e| {
                    ApiError::Internal(anyhow::Error::new(e).context("stored record"))
                })?,
                first_seen: r.first_seen,
                last_seen: r.last_seen,
                resolved_at: r.resolved_at,
            });
        }
        Ok(Json(NonconformingList { entries: views }).into_response())
    })
    .await
}

/// One agency's push state as answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgencyPushView {
    division: u32,
    name: String,
    last_push_at: Option<i64>,
    last_push_records: Option<u64>,
    /// When it becomes overdue (absent if it never pushed).
    due_by: Option<i64>,
    /// Overdue: no push within two working days, or never pushed.
    overdue: bool,
}

/// Every agency's push state as answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgencyPushList {
    /// One entry per agency.
    agencies: Vec<AgencyPushView>,
}

/// `GET /api/v1/agencies/pushes`: each agency's last push and whether it
/// is overdue (R4). Administrators and auditors see every agency, an
/// agency its own.
#[utoipa::path(get, path = "/api/v1/agencies/pushes", tag = "issuing",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Each agency's last push and whether it is overdue", body = AgencyPushList),
        (status = 403, description = "The role may not see pushes (admin, auditor or agency only)",
            body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_agency_pushes(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    let action = "GET /api/v1/agencies/pushes";
    let result = read_agency_pushes(&state, &caller, action).await;
    audited(&state, &caller, action, &uri, result).await
}

async fn read_agency_pushes(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
) -> Result<Response, ApiError> {
    require(caller, &[Role::Admin, Role::Auditor, Role::Agency])?;
    let s = state.clone();
    let caller = caller.clone();
    blocking(move || {
        let now = s.now();
        let mut tx = s.store().begin()?;
        let pushes = tx.agency_pushes()?;
        let authorities = tx.authorities()?;
        tx.commit()?;
        let mut divisions: Vec<_> = authorities.iter().map(|a| a.division).collect();
        divisions.extend(pushes.iter().map(|p| p.division));
        divisions.sort();
        divisions.dedup();
        if caller.role == Role::Agency {
            divisions.retain(|d| Some(*d) == caller.division);
        }
        let views: Vec<AgencyPushView> = divisions
            .into_iter()
            .map(|division| {
                let last = pushes.iter().find(|p| p.division == division);
                let due_by = last.map(|p| issuing::push_due_by(p.at));
                AgencyPushView {
                    division: division.code(),
                    name: authorities
                        .iter()
                        .find(|a| a.division == division)
                        .map_or_else(|| division.authority_name_zh(), |a| a.name.clone()),
                    last_push_at: last.map(|p| p.at),
                    last_push_records: last.map(|p| p.records),
                    due_by,
                    overdue: due_by.is_none_or(|due| now >= due),
                }
            })
            .collect();
        audit(
            &s,
            Some(&caller),
            action.into(),
            format!("{} agencies", views.len()),
            "ok",
        );
        Ok(Json(AgencyPushList { agencies: views }).into_response())
    })
    .await
}

/// Any other path.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no resource at {}", uri.path()))
}
