//! Who is calling: the [`Caller`] extractor (a bearer token looked up in
//! the store; a refusal is audited and answered 401) and [`require`], the
//! role check every authenticated handler makes first.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::audit::audit_from;
use super::error::blocking;
use super::error::ApiError;
use crate::service::auth::{self, AuthFailure, Caller, Role};
use crate::state::AppState;

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
        let client = super::client_addr::of_parts(parts, state);
        let state = state.clone();
        blocking(
            move || match auth::authenticate(state.store(), token.as_deref())? {
                Ok(caller) => Ok(Caller {
                    client_addr: client,
                    ..caller
                }),
                Err(failure) => {
                    let outcome = match failure {
                        AuthFailure::Missing => "unauthenticated: no token",
                        AuthFailure::Unknown => "unauthenticated: unknown token",
                        AuthFailure::Revoked => "unauthenticated: revoked token",
                    };
                    audit_from(&state, None, client, action, "-".into(), outcome);
                    Err(ApiError::Unauthenticated(failure.message().into()))
                }
            },
        )
        .await
    }
}

/// Refuses a caller whose role is not among `roles`.
pub fn require(caller: &Caller, roles: &[Role]) -> Result<(), ApiError> {
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
