//! Check records forwarded by other provinces (issue 14 item 4): `POST
//! /api/v1/peer/check-logs`, authenticated by the sending province's root
//! signature, not by a bearer token (`service::forward::receive`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use shared::api::ForwardAnswer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::client_addr::ClientAddr;
use super::error::{blocking, ApiError};
use crate::service::forward;
use crate::state::AppState;

/// The forwarding route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_forwarded))
}

/// `POST /api/v1/peer/check-logs`: a batch of check records of this
/// province's certificates, checked by another province's officers and
/// forwarded by that province's server (`application/cose`; format in
/// docs/wire-format.md, "Forwarded check records"). A re-sent batch is
/// answered again and stores nothing twice.
#[utoipa::path(post, path = "/api/v1/peer/check-logs", tag = "verification logs",
    request_body(content = Vec<u8>, content_type = "application/cose",
        description = "COSE_Sign1 by the sending province's root key over the forward batch"),
    responses(
        (status = 200, description = "Stored (or already held: counted as duplicates)", body = ForwardAnswer),
        (status = 400, description = "Not a well-formed signed forward batch (/problems/bad-request)"),
        (status = 403, description = "/problems/unknown-province: the sender is not a known peer; /problems/wrong-key: not signed by one of its root keys; /problems/bad-signature: the signature does not verify"),
        (status = 422, description = "/problems/wrong-province: addressed to another province; /problems/bad-record: a record is malformed or not a check with scanned text; /problems/not-our-certificate: a record is about another province's certificate"),
    ))]
pub async fn post_forwarded(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = super::extract::body_bytes(body, state.limits().max_body)?;
    let s = state.clone();
    let answer = blocking(move || {
        let trust = s
            .lists()
            .trust_list(s.store(), &s.keys(), s.list_config(), s.now())?;
        let root = s.root_public_key();
        forward::receive(
            s.store(),
            s.reverifier(),
            (&trust, &root),
            &s.peers(),
            s.now(),
            client,
            &body,
        )
        .map_err(ApiError::from)
    })
    .await?;
    Ok(Json::<ForwardAnswer>(answer).into_response())
}
