//! Who is calling: the [`Caller`] extractor (a bearer token looked up in
//! the store; a refusal is answered 401 and audited by the audit layer; a
//! valid token becomes a caller of its own for the limits) and [`require`], the
//! role check every authenticated handler makes first.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::audit::{note, Who};
use super::client::{bearer, KnownTokens};
use super::error::blocking;
use super::error::ApiError;
use crate::service::auth::{self, hash_token, Caller, Role};
use crate::state::AppState;

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let token = bearer(&parts.headers).map(str::to_string);
        let client = super::client_addr::of_parts(parts, state);
        let province = state.province().division();
        let state = state.clone();
        let hash = token.as_deref().map(hash_token);
        let found = blocking(move || {
            Ok(auth::authenticate(
                state.store(),
                token.as_deref(),
                state.now(),
            )?)
        })
        .await?;
        match found {
            Ok(caller) => {
                let caller = Caller {
                    client_addr: client,
                    province,
                    ..caller
                };
                if let (Some(hash), Some(known)) =
                    (hash, parts.extensions.get::<Arc<KnownTokens>>())
                {
                    known.remember(hash);
                }
                note(&parts.extensions, Who::Caller(caller.clone()));
                Ok(caller)
            }
            Err(failure) => {
                note(&parts.extensions, Who::Refused(failure));
                Err(ApiError::from(failure))
            }
        }
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
