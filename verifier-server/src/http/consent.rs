//! Consent and delivery (issue 13): a holder's grants
//! (`/api/v1/holder/grants…`) and the applications to grant to
//! (`GET /api/v1/holder/applications`), an agency's authorisations
//! (`/api/v1/agency/authorisations…`), and what an application sees
//! under them (`GET /api/v1/app/grants`, `GET
//! /api/v1/app/certificates/{cert_type}/{number}`). The rules are in
//! [`crate::service::consent`].

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use shared::api::apps::{
    AgencyAuthorisationRequest, AppVerdict, AppVerifyRequest, ChangeFeed, GrantList, GrantView,
    GranteeList, HolderGrantRequest, SharedCertificate,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::require;
use super::error::{blocking, ApiError};
use super::extract::{body_bytes, json_body, parse_type, Path, Query};
use crate::service::action::Action;
use crate::service::auth::{Caller, Role};
use crate::service::{changes, consent};
use crate::state::AppState;

/// Largest body of these routes, bytes.
const MAX_BODY: usize = 16 * 1024;

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_grant, get_grants))
        .routes(routes!(post_revoke_grant))
        .routes(routes!(get_grantees))
        .routes(routes!(post_authorisation, get_authorisations))
        .routes(routes!(post_revoke_authorisation))
        .routes(routes!(get_app_grants))
        .routes(routes!(get_app_certificate))
        .routes(routes!(post_app_verify))
        .routes(routes!(get_app_changes))
}

/// `POST /api/v1/holder/grants`: a holder grants an application access to
/// chosen certificates for a purpose and a period.
#[utoipa::path(post, path = "/api/v1/holder/grants", tag = "holder",
    request_body(content = HolderGrantRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Granted", body = GrantView),
        (status = 400, description = "Not the expected JSON"),
        (status = 403, description = "Not a holder token"),
        (status = 404, description = "No such application, or a certificate not among the holder's"),
        (status = 422, description = "A type the application is not registered for, a bad purpose or period"),
    ),
    security(("bearer" = [])))]
pub async fn post_grant(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Holder])?;
    let body = body_bytes(body, MAX_BODY)?;
    let req: HolderGrantRequest = json_body(&body, "a grant")?;
    let s = state.clone();
    let view =
        blocking(move || Ok(consent::holder_grant(s.store(), &caller, &req, s.now())?)).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /api/v1/holder/grants`: the holder's grants, revoked and expired
/// ones included.
#[utoipa::path(get, path = "/api/v1/holder/grants", tag = "holder",
    responses(
        (status = 200, description = "The grants", body = GrantList),
        (status = 403, description = "Not a holder token"),
    ),
    security(("bearer" = [])))]
pub async fn get_grants(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Holder])?;
    let s = state.clone();
    let list = blocking(move || {
        Ok(consent::list(
            s.store(),
            &caller,
            Action::HolderGrants,
            s.now(),
        )?)
    })
    .await?;
    Ok(Json(list).into_response())
}

/// `POST /api/v1/holder/grants/{id}/revoke`: the holder revokes a grant;
/// the application gets no data from its next call.
#[utoipa::path(post, path = "/api/v1/holder/grants/{id}/revoke", tag = "holder",
    params(("id" = i64, Path, description = "The grant's id")),
    responses(
        (status = 200, description = "Revoked", body = GrantView),
        (status = 400, description = "The id is not a 64-bit integer",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a holder token"),
        (status = 404, description = "No such grant of this holder"),
        (status = 409, description = "Revoked already"),
    ),
    security(("bearer" = [])))]
pub async fn post_revoke_grant(
    State(state): State<AppState>,
    caller: Caller,
    p: Result<Path<i64>, ApiError>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Holder])?;
    let Path(id) = p?;
    let s = state.clone();
    let view = blocking(move || {
        Ok(consent::revoke(
            s.store(),
            &caller,
            id,
            Action::HolderRevokeGrant,
            s.now(),
        )?)
    })
    .await?;
    Ok(Json(view).into_response())
}

/// `GET /api/v1/holder/applications`: the registered applications a
/// holder may grant access to, with what each may receive.
#[utoipa::path(get, path = "/api/v1/holder/applications", tag = "holder",
    responses(
        (status = 200, description = "The applications", body = GranteeList),
        (status = 403, description = "Not a holder token"),
    ),
    security(("bearer" = [])))]
pub async fn get_grantees(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Holder])?;
    let s = state.clone();
    let list = blocking(move || Ok(consent::grantees(s.store(), &caller, s.now())?)).await?;
    Ok(Json(list).into_response())
}

/// `POST /api/v1/agency/authorisations`: an agency authorises an
/// application (a government system) for its division's certificates of
/// some types.
#[utoipa::path(post, path = "/api/v1/agency/authorisations", tag = "issuing",
    request_body(content = AgencyAuthorisationRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Authorised", body = GrantView),
        (status = 400, description = "Not the expected JSON"),
        (status = 403, description = "Not an agency token"),
        (status = 404, description = "No such application"),
        (status = 422, description = "A type the application is not registered for, a bad purpose or period"),
    ),
    security(("bearer" = [])))]
pub async fn post_authorisation(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Agency])?;
    let body = body_bytes(body, MAX_BODY)?;
    let req: AgencyAuthorisationRequest = json_body(&body, "an authorisation")?;
    let s = state.clone();
    let view = blocking(move || {
        Ok(consent::agency_authorise(
            s.store(),
            &caller,
            &req,
            s.now(),
        )?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /api/v1/agency/authorisations`: the agency division's
/// authorisations.
#[utoipa::path(get, path = "/api/v1/agency/authorisations", tag = "issuing",
    responses(
        (status = 200, description = "The authorisations", body = GrantList),
        (status = 403, description = "Not an agency token"),
    ),
    security(("bearer" = [])))]
pub async fn get_authorisations(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Agency])?;
    let s = state.clone();
    let list = blocking(move || {
        Ok(consent::list(
            s.store(),
            &caller,
            Action::AgencyAuthorisations,
            s.now(),
        )?)
    })
    .await?;
    Ok(Json(list).into_response())
}

/// `POST /api/v1/agency/authorisations/{id}/revoke`: the agency revokes
/// one of its division's authorisations.
#[utoipa::path(post, path = "/api/v1/agency/authorisations/{id}/revoke", tag = "issuing",
    params(("id" = i64, Path, description = "The authorisation's id")),
    responses(
        (status = 200, description = "Revoked", body = GrantView),
        (status = 400, description = "The id is not a 64-bit integer",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an agency token"),
        (status = 404, description = "No such authorisation of this division"),
        (status = 409, description = "Revoked already"),
    ),
    security(("bearer" = [])))]
pub async fn post_revoke_authorisation(
    State(state): State<AppState>,
    caller: Caller,
    p: Result<Path<i64>, ApiError>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Agency])?;
    let Path(id) = p?;
    let s = state.clone();
    let view = blocking(move || {
        Ok(consent::revoke(
            s.store(),
            &caller,
            id,
            Action::AgencyRevokeAuthorisation,
            s.now(),
        )?)
    })
    .await?;
    Ok(Json(view).into_response())
}

/// `GET /api/v1/app/grants`: the grants the calling application holds.
#[utoipa::path(get, path = "/api/v1/app/grants", tag = "applications",
    responses(
        (status = 200, description = "The grants", body = GrantList),
        (status = 403, description = "Not an application token, or the application is revoked"),
    ),
    security(("bearer" = [])))]
pub async fn get_app_grants(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Application])?;
    let s = state.clone();
    let list = blocking(move || {
        Ok(consent::list(
            s.store(),
            &caller,
            Action::AppGrants,
            s.now(),
        )?)
    })
    .await?;
    Ok(Json(list).into_response())
}

/// `GET /api/v1/app/certificates/{cert_type}/{number}`: a certificate
/// under an active grant, with only the fields of the application's
/// purpose; without a grant, 404 as for a missing certificate.
#[utoipa::path(get, path = "/api/v1/app/certificates/{cert_type}/{number}", tag = "applications",
    params(
        ("cert_type" = String, Path, description = "Type code"),
        ("number" = String, Path, description = "Certificate number"),
    ),
    responses(
        (status = 200, description = "The certificate", body = SharedCertificate),
        (status = 403, description = "Not an application token, or the application is revoked"),
        (status = 404, description = "No such certificate granted to this application"),
    ),
    security(("bearer" = [])))]
pub async fn get_app_certificate(
    State(state): State<AppState>,
    caller: Caller,
    p: Result<Path<(String, String)>, ApiError>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Application])?;
    let Path((t, number)) = p?;
    let cert_type = parse_type(&t)?;
    let s = state.clone();
    let answer = blocking(move || {
        Ok(consent::fetch(
            s.store(),
            &caller,
            cert_type,
            &number,
            s.now(),
        )?)
    })
    .await?;
    Ok(Json(answer).into_response())
}

/// `POST /api/v1/app/verify`: online verification for a relying
/// application: a scanned code (it carries its own proof) or a granted
/// certificate's identifier; the verdict and only the fields of the
/// application's purpose.
#[utoipa::path(post, path = "/api/v1/app/verify", tag = "applications",
    request_body(content = AppVerifyRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The verdict", body = AppVerdict),
        (status = 400, description = "Not the expected JSON, or neither a code nor an identifier"),
        (status = 403, description = "Not an application token, or the application is revoked"),
        (status = 404, description = "No such certificate granted to this application"),
        (status = 422, description = "An unknown type, or a code longer than 8 KiB"),
    ),
    security(("bearer" = [])))]
pub async fn post_app_verify(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Application])?;
    let body = body_bytes(body, MAX_BODY)?;
    let req: AppVerifyRequest = json_body(&body, "{\"code\"} or {\"cert_type\", \"number\"}")?;
    let s = state.clone();
    let answer = blocking(move || {
        let signed = s
            .lists()
            .trust_list(s.store(), &s.keys(), s.list_config(), s.now())?;
        let trust = s.reverifier().trust(&signed, &s.root_public_key())?;
        // Mutual recognition: the mirrored lists, when held.
        let mirrored = s.national().held();
        let provinces = mirrored.as_ref().map(|m| m.province_data());
        let national = match (&mirrored, &provinces, s.national().config()) {
            (Some(m), Some(p), Some(c)) => Some(m.national(c.own_province, p)),
            _ => None,
        };
        Ok(consent::verify(
            s.store(),
            &caller,
            &req,
            &trust,
            national,
            s.now(),
        )?)
    })
    .await?;
    Ok(Json(answer).into_response())
}

/// Query of the change feed.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct ChangesQuery {
    /// The cursor of the last change already seen (the previous page's
    /// `next`); 0 or absent for the start.
    after: Option<i64>,
    /// Changes per page, 1 to 500 (100 by default).
    limit: Option<u32>,
}

/// `GET /api/v1/app/changes?after=CURSOR&limit=N`: the changes of the
/// certificates the application may see under its grants (new versions,
/// suspensions, reinstatements, cancellations, revoked grants), after a
/// cursor that is stable across restarts and server instances.
#[utoipa::path(get, path = "/api/v1/app/changes", tag = "applications",
    params(ChangesQuery),
    responses(
        (status = 200, description = "A page of the change feed", body = ChangeFeed),
        (status = 400, description = "A negative cursor or a limit outside 1 to 500", content_type = "application/problem+json"),
        (status = 403, description = "Not an application token, or the application is revoked", content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_app_changes(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<ChangesQuery>, ApiError>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Application])?;
    let Query(q) = q?;
    let s = state.clone();
    let feed = blocking(move || {
        Ok(changes::feed(
            s.store(),
            &caller,
            q.after,
            q.limit,
            s.now(),
        )?)
    })
    .await?;
    Ok(Json(feed).into_response())
}
