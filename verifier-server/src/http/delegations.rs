//! Delegations (issue 13 item 6): a vehicle certificate's owner lends it
//! to a driver's phone (`/api/v1/holder/delegations…`). The rules are in
//! [`crate::service::delegations`]; the driver receives the delegated copy
//! through `GET /api/v1/holder/certificates`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use shared::api::delegations::{DelegationList, DelegationRequest, DelegationView};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::require;
use super::error::{blocking, ApiError};
use super::extract::{body_bytes, json_body, Path};
use crate::service::auth::{Caller, Role};
use crate::service::delegations::{self, DelegationsError};
use crate::state::AppState;

/// Largest body of these routes, bytes.
const MAX_BODY: usize = 16 * 1024;

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_delegation, get_delegations))
        .routes(routes!(post_revoke_delegation))
}

impl From<DelegationsError> for ApiError {
    fn from(e: DelegationsError) -> ApiError {
        let typed = |status, kind, title, detail| ApiError::Typed {
            status,
            kind,
            title,
            detail,
        };
        match e {
            DelegationsError::Malformed(d) => ApiError::BadRequest(d),
            DelegationsError::NotAHolder(d) => ApiError::Forbidden(d),
            DelegationsError::NotAVehicleCertificate(d) => typed(
                StatusCode::UNPROCESSABLE_ENTITY,
                "/problems/not-a-vehicle-certificate",
                "Only vehicle certificates are delegated",
                d,
            ),
            DelegationsError::NotOwnersCertificate(d) => typed(
                StatusCode::NOT_FOUND,
                "/problems/not-owners-certificate",
                "Not one of the owner's certificates",
                d,
            ),
            DelegationsError::BeyondValidity(d) => typed(
                StatusCode::UNPROCESSABLE_ENTITY,
                "/problems/delegation-beyond-validity",
                "The period reaches outside the certificate's validity",
                d,
            ),
            DelegationsError::BadPeriod(d) => typed(
                StatusCode::UNPROCESSABLE_ENTITY,
                "/problems/bad-delegation-period",
                "The delegation's period is not usable",
                d,
            ),
            DelegationsError::CertificateNotInForce(d) => typed(
                StatusCode::CONFLICT,
                "/problems/certificate-not-in-force",
                "The certificate is cancelled, revoked, suspended or superseded",
                d,
            ),
            DelegationsError::BadDriver(d) => typed(
                StatusCode::UNPROCESSABLE_ENTITY,
                "/problems/bad-driver",
                "The driver is not usable",
                d,
            ),
            DelegationsError::NotFound(d) => ApiError::NotFound(d),
            DelegationsError::AlreadyRevoked(d) => typed(
                StatusCode::CONFLICT,
                "/problems/delegation-revoked",
                "The delegation was revoked already",
                d,
            ),
            DelegationsError::Store(e) => e.into(),
            DelegationsError::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// `POST /api/v1/holder/delegations`: the owner of a vehicle certificate
/// (YSZ, WYY) lends it to a driver's phone for a period.
#[utoipa::path(post, path = "/api/v1/holder/delegations", tag = "holder",
    request_body(content = DelegationRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Delegated; `state` says whether the copy is on the driver's phone yet", body = DelegationView),
        (status = 400, description = "Not the expected JSON, or an unknown type",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a holder token",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`/problems/not-owners-certificate`: not one of the owner's certificates",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`/problems/certificate-not-in-force`: cancelled, revoked, suspended or superseded",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`/problems/not-a-vehicle-certificate`, `/problems/delegation-beyond-validity`, `/problems/bad-delegation-period` or `/problems/bad-driver`",
            body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn post_delegation(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Holder])?;
    let body = body_bytes(body, MAX_BODY)?;
    let req: DelegationRequest = json_body(&body, "a delegation")?;
    let s = state.clone();
    let view = blocking(move || {
        Ok(s.write(|store, keys, now| delegations::create(store, keys, &caller, &req, now))?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /api/v1/holder/delegations`: the caller's delegations, made as
/// owner and received as driver, revoked and ended ones included.
#[utoipa::path(get, path = "/api/v1/holder/delegations", tag = "holder",
    responses(
        (status = 200, description = "The delegations", body = DelegationList),
        (status = 403, description = "Not a holder token",
            body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_delegations(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Holder])?;
    let s = state.clone();
    let list = blocking(move || Ok(delegations::list(s.store(), &caller, s.now())?)).await?;
    Ok(Json(list).into_response())
}

/// `POST /api/v1/holder/delegations/{id}/revoke`: the owner ends a
/// delegation; the driver's copy is revoked in the status list.
#[utoipa::path(post, path = "/api/v1/holder/delegations/{id}/revoke", tag = "holder",
    params(("id" = i64, Path, description = "The delegation's id")),
    responses(
        (status = 200, description = "Revoked", body = DelegationView),
        (status = 400, description = "The id is not a 64-bit integer",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a holder token",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such delegation of this owner",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`/problems/delegation-revoked`: revoked already",
            body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn post_revoke_delegation(
    State(state): State<AppState>,
    caller: Caller,
    p: Result<Path<i64>, ApiError>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Holder])?;
    let Path(id) = p?;
    let s = state.clone();
    let view = blocking(move || {
        Ok(s.write(|store, _keys, now| delegations::revoke(store, &caller, id, now))?)
    })
    .await?;
    Ok(Json(view).into_response())
}
