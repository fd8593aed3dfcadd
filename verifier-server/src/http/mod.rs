//! The HTTP layer: each area's handlers, registered once with their
//! OpenAPI description ([`router`] merges the areas), the request limits,
//! and the mapping of service errors to RFC 9457 problems ([`error`]).
//!
//! Handlers parse and check the request ([`extract`], [`auth`]), call a
//! service on the blocking pool ([`error::blocking`]) and answer;
//! a refusal is audited here ([`audit`]), a success by its service.

pub mod audit;
pub mod audit_log;
pub mod auth;
pub mod client_addr;
pub mod dashboard;
pub mod devices;
pub mod error;
pub mod evaluation;
pub mod extract;
pub mod holders;
pub mod issuing;
pub mod limits;
pub mod lists;
pub mod logs;
pub mod lookup;
pub mod metrics;
pub mod openapi;
pub mod tls;
pub mod wallet;

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::Uri;
use axum::BoxError;
use axum::{Json, Router};
use tower::ServiceBuilder;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::{AppState, Limits};
use error::ApiError;

/// Every area's routes that are answered inside the request layers, with
/// their OpenAPI description, merged.
pub fn routes(limits: &Limits) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(openapi_json))
        .merge(openapi::router())
        .merge(metrics::router())
        .merge(lists::router())
        .merge(issuing::router(limits))
        .merge(holders::router())
        .merge(wallet::router())
        .merge(audit_log::router())
        .merge(devices::router())
        .merge(logs::router())
        .merge(lookup::router())
        .merge(evaluation::router())
        .merge(dashboard::router())
}

/// The routers: the one inside the request layers ([`routes()`]) and the
/// signed lists' ([`lists::signed_lists`]), which [`app`] places outside
/// them, and the OpenAPI document of exactly their routes.
pub fn router(limits: &Limits) -> (Router<AppState>, Router<AppState>, utoipa::openapi::OpenApi) {
    let (layered, layered_doc) = routes(limits).split_for_parts();
    let (outside, outside_doc) = lists::signed_lists().split_for_parts();
    (layered, outside, openapi::finish(layered_doc, outside_doc))
}

/// The router with every endpoint and the request limits, serving `state`.
///
/// The signed lists are merged after the layers, so the layers do not wrap
/// them: they are public, cacheable artifacts answered from memory, and a
/// tracing span and log line, a rate-limit bucket, a timer and a semaphore
/// per request cost half their throughput, while a per-address rate limit
/// refused the thousands of devices a carrier NAT puts behind one address.
/// Nothing there needs them: no body, no caller, no audit; re-signing is
/// one request at a time per list (`service::lists`).
pub fn app(state: AppState) -> Router {
    let limits = state.limits();
    let (router, signed_lists, _) = router(&limits);
    let router = router
        .fallback(not_found)
        .method_not_allowed_fallback(limits::method_not_allowed);
    let router = match limits::RateLimiter::new(&limits) {
        Some(limiter) => router.layer(axum::middleware::from_fn_with_state(
            Arc::new(limiter.behind(&state.network().trusted_proxies)),
            limits::rate_limit,
        )),
        None => router,
    };
    router
        .layer(DefaultBodyLimit::max(limits.max_body))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(move |e: BoxError| async move {
                    layer_error(e, limits.request_timeout)
                }))
                .timeout(limits.request_timeout)
                .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                    limits.max_in_flight,
                )),
        )
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .merge(signed_lists.method_not_allowed_fallback(limits::method_not_allowed))
        .with_state(state)
}

/// The document of the router's routes, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| router(&Limits::default()).2)
}

/// `GET /openapi.json`.
#[utoipa::path(get, path = "/openapi.json", tag = "service",
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object)))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(document().clone())
}

/// Any other path.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no resource at {}", uri.path()))
}

/// The answer when a limit layer fails a request.
fn layer_error(e: BoxError, timeout: Duration) -> ApiError {
    if e.is::<tower::timeout::error::Elapsed>() {
        ApiError::Unavailable(format!(
            "the request took longer than {} s",
            timeout.as_secs()
        ))
    } else {
        ApiError::Internal(anyhow::anyhow!("request layer: {e}"))
    }
}

/// Serves `state` on `listener` until `shutdown` resolves, then finishes
/// the requests in flight.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, root_kid = %state.root_public_key().kid(), "serving");
    }
    let app = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Like [`run`], over TLS with the certificate of `tls` (reloaded on
/// SIGHUP and when its files change, see [`tls::Reloadable`]).
pub async fn run_tls(
    listener: tokio::net::TcpListener,
    tls: Arc<tls::Reloadable>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = tls.server_config().map_err(std::io::Error::other)?;
    let listener = tls::TlsListener::new(listener, config)?;
    if let Ok(addr) = axum::serve::Listener::local_addr(&listener) {
        tracing::info!(%addr, root_kid = %state.root_public_key().kid(), "serving over TLS");
    }
    tls.spawn_watch();
    // `tap_io` only so that the peer address reaches `ConnectInfo`.
    let listener = axum::serve::ListenerExt::tap_io(listener, |_| {});
    let app = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
