//! The audit row of a refused or failed request. A request that succeeds
//! is audited by its service, in the transaction of its effect; one that
//! is refused (401, 403, 4xx) or fails (5xx) is audited here, so every
//! authenticated request leaves exactly one row.

use std::net::IpAddr;

use axum::http::Uri;
use axum::response::Response;

use super::error::ApiError;
use crate::service::auth::Caller;
use crate::state::AppState;

/// Appends an audit row in its own transaction (blocking code); a failure
/// to write it is logged, not answered. The client address is the
/// caller's.
pub fn audit(
    state: &AppState,
    caller: Option<&Caller>,
    action: String,
    target: String,
    outcome: &str,
) {
    audit_from(state, caller, None, action, target, outcome);
}

/// Like [`audit`], with the client address of a request whose caller is
/// not known (a refused token): `client`, from
/// [`client_addr`](super::client_addr::client_addr).
pub fn audit_from(
    state: &AppState,
    caller: Option<&Caller>,
    client: Option<IpAddr>,
    action: String,
    target: String,
    outcome: &str,
) {
    let mut entry = Caller::audit_entry(caller, state.now(), action, target, outcome);
    if entry.client_addr.is_none() {
        entry.client_addr = client.map(|a| a.to_string());
    }
    let result = state.store().begin().and_then(|mut tx| {
        tx.append_audit(&entry)?;
        tx.commit()
    });
    if let Err(e) = result {
        tracing::error!(error = %e, "could not write an audit row");
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

/// Audits a refused or failed authenticated request (`403 forbidden`,
/// …); a successful one was audited by its service.
pub async fn audited(
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
