//! `GET /api/v1/lookup?plate=…|id_number=…|number=…` (officer tokens only):
//! online lookup of a certificate when the holder cannot show a code. The
//! rule is [`crate::service::lookup`]; here the role check, the per-token
//! rate limit (the state's [`crate::service::lookup::Limiter`]: 20 a
//! minute, 10 at once) and the transaction around the rule.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use shared::api::LookupAnswer;

use super::auth::require;
use super::error::{blocking, ApiError};
use super::extract::Query;
use crate::service::auth::{Caller, Role};
use crate::service::lookup::{self, LookupError};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The lookup route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_lookup))
}

/// The query: exactly one of the three.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LookupQuery {
    /// Plate number, e.g. `辽A5K823`.
    pub plate: Option<String>,
    /// Citizen ID number (18 characters): the holder's certificates and
    /// the vehicles registered to them.
    pub id_number: Option<String>,
    /// Certificate number as carried in the certificate.
    pub number: Option<String>,
}

impl From<LookupError> for ApiError {
    fn from(e: LookupError) -> ApiError {
        match e {
            LookupError::Malformed(d) => ApiError::BadRequest(d),
            LookupError::Invalid(d) => ApiError::Unprocessable(d),
            e @ LookupError::Corrupt(..) => ApiError::Internal(e.into()),
            LookupError::Store(e) => ApiError::from(e),
        }
    }
}

/// `GET /api/v1/lookup`: look a certificate up by plate, ID number or
/// number (officers). Each token may look up 20 a minute, 10 at once;
/// beyond that the answer is 429 with `Retry-After`.
#[utoipa::path(get, path = "/api/v1/lookup", tag = "lookup",
    params(LookupQuery),
    responses(
        (status = 200, description = "The verdict and the minimum fields; never the QR text", body = LookupAnswer),
        (status = 400, description = "Not exactly one of plate, id_number, number"),
        (status = 403, description = "Not an officer token"),
        (status = 422, description = "A malformed plate, ID number or number"),
    ),
    security(("bearer" = [])))]
pub async fn get_lookup(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<LookupQuery>, ApiError>,
) -> Result<Response, ApiError> {
    async {
        require(&caller, &[Role::Officer])?;
        let Query(q) = q?;
        let (by, value) = lookup::parse_query(q.plate, q.id_number, q.number)?;
        state
            .lookup_limiter()
            .check(caller.token_id)
            .map_err(|retry_after| ApiError::TooManyRequests {
                detail: "too many lookups from this token: wait and retry".into(),
                retry_after,
            })?;
        let s = state.clone();
        let c = caller.clone();
        let answer = blocking(move || {
            let mut tx = s.store().begin()?;
            let answer = lookup::lookup(tx.as_mut(), &c, s.now(), by, &value)?;
            tx.commit()?;
            Ok(answer)
        })
        .await?;
        Ok(Json(answer).into_response())
    }
    .await
}
