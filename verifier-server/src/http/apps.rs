//! Registered applications (issue 13): the administrator's registration,
//! key rotation and revocation (`/api/v1/applications…`), the OAuth 2.0
//! token endpoint (`POST /api/v1/oauth/token`, `private_key_jwt`), a
//! holder's sign-in through 运证通 (`POST /api/v1/holder/sign-in`; `GET`
//! the same path tells the wallet where 运证通's page is) and an
//! application's own registration (`GET /api/v1/app/registration`). The
//! rules are in [`crate::service::apps`].

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FormRejection};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use shared::api::apps::{
    AddApplicationKey, ApplicationList, ApplicationView, HolderSignIn, HolderSignInOptions,
    HolderSignInRequest, RegisterApplication, TokenRequest, TokenResponse,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::require;
use super::client_addr::ClientAddr;
use super::error::{blocking, ApiError};
use super::extract::{body_bytes, json_body, Path};
use crate::service::apps;
use crate::service::auth::{Caller, Role};
use crate::state::AppState;

/// Largest body of these routes, bytes.
const MAX_BODY: usize = 16 * 1024;

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_application, get_applications))
        .routes(routes!(post_key))
        .routes(routes!(post_revoke_key))
        .routes(routes!(post_revoke))
        .routes(routes!(post_token))
        .routes(routes!(post_sign_in, get_sign_in))
        .routes(routes!(get_registration))
}

/// `POST /api/v1/applications`: register an application with its first
/// public key (administrator).
#[utoipa::path(post, path = "/api/v1/applications", tag = "applications",
    request_body(content = RegisterApplication, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = ApplicationView),
        (status = 400, description = "Not the expected JSON"),
        (status = 403, description = "Not the administrator"),
        (status = 409, description = "The client_id is taken"),
        (status = 422, description = "A field cannot be accepted (type, field, URL, key); the detail names it"),
    ),
    security(("bearer" = [])))]
pub async fn post_application(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Admin])?;
    let body = body_bytes(body, MAX_BODY)?;
    let req: RegisterApplication = json_body(&body, "an application registration")?;
    let s = state.clone();
    let view = blocking(move || Ok(apps::register(s.store(), &caller, &req, s.now())?)).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /api/v1/applications`: the registered applications and the
/// audience their assertions name (administrator, auditor).
#[utoipa::path(get, path = "/api/v1/applications", tag = "applications",
    responses(
        (status = 200, description = "The applications", body = ApplicationList),
        (status = 403, description = "Not the administrator or an auditor"),
    ),
    security(("bearer" = [])))]
pub async fn get_applications(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Admin, Role::Auditor])?;
    let s = state.clone();
    let list = blocking(move || Ok(apps::list(s.store(), &caller, s.audience(), s.now())?)).await?;
    Ok(Json(list).into_response())
}

/// `POST /api/v1/applications/{client_id}/keys`: a new key (rotation);
/// the other keys end after the overlap.
#[utoipa::path(post, path = "/api/v1/applications/{client_id}/keys", tag = "applications",
    params(("client_id" = String, Path, description = "The application's client id")),
    request_body(content = AddApplicationKey, content_type = "application/json"),
    responses(
        (status = 200, description = "Added", body = ApplicationView),
        (status = 400, description = "Not the expected JSON"),
        (status = 403, description = "Not the administrator"),
        (status = 404, description = "No such application"),
        (status = 409, description = "The application is revoked, or has a key with this kid"),
        (status = 422, description = "The key or the overlap cannot be accepted"),
    ),
    security(("bearer" = [])))]
pub async fn post_key(
    State(state): State<AppState>,
    caller: Caller,
    p: Result<Path<String>, ApiError>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Admin])?;
    let Path(client_id) = p?;
    let body = body_bytes(body, MAX_BODY)?;
    let req: AddApplicationKey = json_body(&body, "a key")?;
    let s = state.clone();
    let view = blocking(move || {
        Ok(apps::add_key(
            s.store(),
            &caller,
            &client_id,
            &req,
            s.now(),
        )?)
    })
    .await?;
    Ok(Json(view).into_response())
}

/// `POST /api/v1/applications/{client_id}/keys/{kid}/revoke`: revoke a
/// key at once.
#[utoipa::path(post, path = "/api/v1/applications/{client_id}/keys/{kid}/revoke", tag = "applications",
    params(
        ("client_id" = String, Path, description = "The application's client id"),
        ("kid" = String, Path, description = "The key's kid"),
    ),
    responses(
        (status = 200, description = "Revoked", body = ApplicationView),
        (status = 403, description = "Not the administrator"),
        (status = 404, description = "No such application or key"),
        (status = 409, description = "Revoked already"),
    ),
    security(("bearer" = [])))]
pub async fn post_revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    p: Result<Path<(String, String)>, ApiError>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Admin])?;
    let Path((client_id, kid)) = p?;
    let s = state.clone();
    let view = blocking(move || {
        Ok(apps::revoke_key(
            s.store(),
            &caller,
            &client_id,
            &kid,
            s.now(),
        )?)
    })
    .await?;
    Ok(Json(view).into_response())
}

/// `POST /api/v1/applications/{client_id}/revoke`: revoke an application;
/// its tokens are refused from their next use.
#[utoipa::path(post, path = "/api/v1/applications/{client_id}/revoke", tag = "applications",
    params(("client_id" = String, Path, description = "The application's client id")),
    responses(
        (status = 200, description = "Revoked", body = ApplicationView),
        (status = 403, description = "Not the administrator"),
        (status = 404, description = "No such application"),
        (status = 409, description = "Revoked already"),
    ),
    security(("bearer" = [])))]
pub async fn post_revoke(
    State(state): State<AppState>,
    caller: Caller,
    p: Result<Path<String>, ApiError>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Admin])?;
    let Path(client_id) = p?;
    let s = state.clone();
    let view = blocking(move || Ok(apps::revoke(s.store(), &caller, &client_id, s.now())?)).await?;
    Ok(Json(view).into_response())
}

/// Answers with `Cache-Control: no-store` (RFC 6749 §5.1).
fn no_store(response: impl IntoResponse) -> Response {
    let mut r = response.into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `POST /api/v1/oauth/token`: OAuth 2.0 client credentials with a JWT
/// client assertion (RFC 7523 `private_key_jwt`); answers a bearer token
/// of role `application`. Refused assertions are problems of their own
/// type (`/problems/assertion-…`), audited.
#[utoipa::path(post, path = "/api/v1/oauth/token", tag = "applications",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "An access token", body = TokenResponse),
        (status = 400, description = "Not the expected form, or another grant or assertion type"),
        (status = 401, description = "The assertion was refused: malformed, unknown issuer, signature, audience, expired, too long-lived, replayed, sub ≠ iss",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_token(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(req) = form.map_err(|e| ApiError::BadRequest(format!("token request: {e}")))?;
    let s = state.clone();
    let answer = blocking(move || {
        Ok(apps::issue_token(
            s.store(),
            &req,
            s.audience(),
            addr,
            s.now(),
        )?)
    })
    .await?;
    Ok(no_store(Json(answer)))
}

/// `POST /api/v1/holder/sign-in`: a holder's real-name sign-in; the
/// assertion of a registered identity provider (运证通) about the holder
/// is exchanged for a short-lived holder token.
#[utoipa::path(post, path = "/api/v1/holder/sign-in", tag = "holder",
    request_body(content = HolderSignInRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Signed in", body = HolderSignIn),
        (status = 400, description = "Not the expected JSON"),
        (status = 401, description = "The assertion was refused: malformed, unknown issuer, signature, audience, expired, too long-lived, replayed, not an identity provider, no ID number or credit code",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_sign_in(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(body, MAX_BODY)?;
    let req: HolderSignInRequest = json_body(&body, "{\"assertion\": JWT}")?;
    let s = state.clone();
    let answer = blocking(move || {
        Ok(apps::holder_sign_in(
            s.store(),
            &req.assertion,
            s.audience(),
            addr,
            s.now(),
        )?)
    })
    .await?;
    Ok(no_store(Json(answer)))
}

/// `GET /api/v1/holder/sign-in`: how holders may sign in: 运证通's
/// sign-in page (`serve --yzt-url`), if this server is connected to it.
/// Public and not audited, like the wallet's files: it names no one.
#[utoipa::path(get, path = "/api/v1/holder/sign-in", tag = "holder",
    responses(
        (status = 200, description = "The sign-in options", body = HolderSignInOptions),
    ))]
pub async fn get_sign_in(State(state): State<AppState>) -> Response {
    no_store(Json(HolderSignInOptions {
        yzt_url: state.yzt_url().map(str::to_string),
    }))
}

/// `GET /api/v1/app/registration`: the calling application's own
/// registration (purpose, types, fields, keys).
#[utoipa::path(get, path = "/api/v1/app/registration", tag = "applications",
    responses(
        (status = 200, description = "The registration", body = ApplicationView),
        (status = 403, description = "Not an application token, or the application is revoked"),
    ),
    security(("bearer" = [])))]
pub async fn get_registration(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Application])?;
    let s = state.clone();
    let view = blocking(move || Ok(apps::own(s.store(), &caller, s.now())?)).await?;
    Ok(Json(view).into_response())
}
