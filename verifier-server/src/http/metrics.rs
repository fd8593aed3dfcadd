//! `GET /metrics` (Prometheus text format, for configured addresses or a
//! token only) and [`track`], the layer that counts every request inside
//! the request layers by method, route template and status, with its
//! latency. The signed lists are counted by their handlers (one atomic
//! increment: they are outside the layers, see [`super::app`]).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use sha2::{Digest as _, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::client_addr::ClientAddr;
use super::error::{blocking, ApiError};
use crate::state::AppState;

/// The route of `/metrics`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_metrics))
}

/// The method as a label: the standard ones by name, anything else
/// `other` (the label set stays bounded whatever clients send).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// Counts a request by its route template (`/api/v1/certificates/{type}/{number}`,
/// never the raw path; `unmatched` for the 404 fallback) and status.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    // A cheap clone (a shared string), not a copy of the path.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let response = next.run(req).await;
    state.metrics().request(
        method,
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Whether the request may read the metrics: from an allowed client
/// address (`--metrics-allow`, loopback by default), or with the metrics
/// token (`--metrics-token`) as bearer.
fn allowed(state: &AppState, client: ClientAddr, headers: &HeaderMap) -> bool {
    let network = state.network();
    if client
        .0
        .is_some_and(|ip| network.metrics_allow.iter().any(|n| n.contains(&ip)))
    {
        return true;
    }
    let Some(want) = network.metrics_token_sha256 else {
        return false;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .is_some_and(|(_, token)| {
            // Compared as digests: equal length, no early exit on a prefix.
            let got: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
            got == want
        })
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses(
        (status = 200, description = "Metrics in the Prometheus text format (version 0.0.4)",
            body = String, content_type = "text/plain"),
        (status = 404, description = "Not from an allowed address and no metrics token",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_metrics(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !allowed(&state, client, &headers) {
        // debug, not warn: a scanner must not be able to flood the log.
        tracing::debug!(client = ?client.0, "metrics refused");
        return Err(ApiError::NotFound("no resource at /metrics".into()));
    }
    let s = state.clone();
    let (trust, status, backlog) = blocking(move || {
        let mut tx = s.store().begin()?;
        let trust = tx.trust_state()?.map(|t| t.seq);
        let status = tx.status_state()?.map(|t| t.list.seq);
        let backlog = tx.backlog()?;
        tx.commit()?;
        Ok::<_, ApiError>((trust, status, backlog))
    })
    .await?;
    let text = state
        .metrics()
        .render(
            trust,
            status,
            state.store().pool_state(),
            Some(&backlog),
            state.now(),
        )
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("rendering the metrics: {e}")))?;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}
