//! The HTTP layer: each area's handlers, registered once with their
//! OpenAPI description ([`router`] merges the areas), the request limits,
//! and the mapping of service errors to RFC 9457 problems ([`error`]).
//!
//! Handlers parse and check the request ([`extract`], [`auth`]), call a
//! service on the blocking pool ([`error::blocking`]) and answer;
//! a refusal is audited here ([`audit`]), a success by its service.

pub mod agency;
pub mod apps;
pub mod audit;
pub mod audit_log;
pub mod auth;
pub mod client;
pub mod client_addr;
pub mod consent;
pub mod dashboard;
pub mod delegations;
pub mod devices;
pub mod error;
pub mod evaluation;
pub mod extract;
pub mod forward;
pub mod holders;
pub mod issuing;
pub mod limits;
pub mod lists;
pub mod logs;
pub mod lookup;
pub mod metrics;
pub mod openapi;
pub mod outages;
pub mod tls;
pub mod uploads;
pub mod wallet;

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::Uri;
use axum::BoxError;
use axum::{Json, Router};
use tower::ServiceBuilder;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
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
        .merge(metrics::router())
        .merge(issuing::router(limits))
        .merge(outages::router())
        .merge(uploads::router())
        .merge(holders::router())
        .merge(wallet::router())
        .merge(agency::router())
        .merge(audit_log::router())
        .merge(devices::router())
        .merge(logs::router())
        .merge(forward::router())
        .merge(lookup::router())
        .merge(evaluation::router())
        .merge(dashboard::router())
        .merge(apps::router())
        .merge(consent::router())
        .merge(delegations::router())
}

/// The routers: the one inside the request layers ([`routes()`]) and the
/// public lists' and `/healthz` ([`lists::signed_lists`],
/// [`openapi::router`]), which [`app`] places outside them, and the
/// OpenAPI document of exactly their routes.
pub fn router(limits: &Limits) -> (Router<AppState>, Router<AppState>, utoipa::openapi::OpenApi) {
    let (layered, layered_doc) = routes(limits).split_for_parts();
    let (outside, outside_doc) = lists::signed_lists()
        .merge(openapi::router())
        .split_for_parts();
    (layered, outside, openapi::finish(layered_doc, outside_doc))
}

/// The router with every endpoint and the request limits, serving `state`.
///
/// The layers, from the outside in: trace; the body deadline
/// ([`body_deadline`], from the end of the headers); the caller's key
/// ([`client::identify`]); at most `max_in_flight_per_caller` requests in
/// flight per caller ([`limits::in_flight`], answered 429 at once, so one
/// address cannot hold every slot); the request timeout and the global
/// concurrency limit; the body limit; the per-caller rate limit; the
/// refusal audit ([`audit::refusals`]); the routes.
///
/// The public lists (catalogue, trust list, status list, deltas) and
/// `/healthz` are merged after the layers, so the layers do not wrap them:
/// the lists are public, cacheable artifacts answered from memory, and a
/// tracing span and log line, a rate-limit bucket, a timer and a semaphore
/// per request cost half their throughput, while a per-address rate limit
/// refused the thousands of devices a carrier NAT puts behind one address;
/// `/healthz` must answer whatever load the layers hold. Nothing there
/// needs them: no body, no caller, no audit; re-signing is one request at a
/// time per list (`service::lists`).
pub fn app(state: AppState) -> Router {
    let limits = state.limits();
    let (router, outside, _) = router(&limits);
    let known = Arc::new(client::KnownTokens::new(
        limits.rate_max_keys,
        state.network().trusted_proxies.clone(),
    ));
    let router = router
        .fallback(not_found)
        .method_not_allowed_fallback(limits::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            audit::RefusalAudit::new(state.clone()),
            audit::refusals,
        ));
    let router = match limits::RateLimiter::new(&limits) {
        Some(limiter) => router.layer(axum::middleware::from_fn_with_state(
            Arc::new(limiter),
            limits::rate_limit,
        )),
        None => router,
    };
    let router = router.layer(DefaultBodyLimit::max(limits.max_body)).layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(move |e: BoxError| async move {
                layer_error(e, limits.request_timeout)
            }))
            .timeout(limits.request_timeout)
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                limits.max_in_flight,
            )),
    );
    let router = match limits::InFlight::new(limits.max_in_flight_per_caller) {
        Some(table) => router.layer(axum::middleware::from_fn_with_state(
            table,
            limits::in_flight,
        )),
        None => router,
    };
    router
        .layer(axum::middleware::from_fn_with_state(
            known,
            client::identify,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limits.body_timeout,
            body_deadline,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .merge(outside.method_not_allowed_fallback(limits::method_not_allowed))
        .with_state(state)
}

/// The span of one request: method, path and HTTP version, never the
/// query string. A lookup's plate or ID number travels in the query, and
/// request lines are logged at `info`: personal data stays out of the log
/// (tower-http's `DefaultMakeSpan` records the whole URI).
fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        version = ?req.version(),
    )
}

/// The error of a request body that did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} s", .0.as_secs())]
pub struct BodyTimeout(pub Duration);

/// Middleware: the request's body must arrive within `timeout` of its
/// headers; past it, reading the body fails with [`BodyTimeout`] (answered
/// 408 by [`extract::body_bytes`], and the connection is closed), however
/// steadily a slow client trickles bytes.
pub async fn body_deadline(
    State(timeout): State<Duration>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use http_body_util::BodyExt as _;
    let (parts, body) = req.into_parts();
    if axum::body::HttpBody::is_end_stream(&body) {
        return next
            .run(axum::extract::Request::from_parts(parts, body))
            .await;
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let frames = futures_util::stream::unfold(Some(body), move |body| async move {
        let mut body = body?;
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => Some((Ok(frame), Some(body))),
            Ok(Some(Err(e))) => Some((Err(BoxError::from(e)), None)),
            Ok(None) => None,
            Err(_) => Some((Err(BoxError::from(BodyTimeout(timeout))), None)),
        }
    });
    let body = axum::body::Body::new(http_body_util::StreamBody::new(frames));
    next.run(axum::extract::Request::from_parts(parts, body))
        .await
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
///
/// Each connection is served by hyper's HTTP/1 server with a header-read
/// timeout (`Limits::header_timeout`): a client that has not sent a whole
/// request head within it is disconnected, so connections that never
/// finish their headers cannot pile up. The client's address reaches the
/// handlers as `ConnectInfo` ([`client::client_addr`]).
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, root_kid = %state.root_public_key().kid(), "serving");
    }
    serve_connections(listener, state, false, shutdown).await
}

/// Like [`run`], over TLS with the certificate of `tls` (reloaded on
/// SIGHUP and when its files change, see [`tls::Reloadable`]); the same
/// connection handling, header timeout included, once the handshake (its
/// own task, [`tls::TlsListener`]) is done.
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
    serve_connections(listener, state, true, shutdown).await
}

/// Serves each connection `listener` hands out with hyper's HTTP/1
/// builder (header-read timeout; the peer address as `ConnectInfo`) until
/// `shutdown`, then lets the requests in flight finish.
async fn serve_connections<L>(
    mut listener: L,
    state: AppState,
    over_tls: bool,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
{
    let header_timeout = state.limits().header_timeout;
    let app = app(state);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // The listener deals with accept errors itself (axum's `Listener`).
        let (stream, remote) = tokio::select! {
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(remote));
            if over_tls {
                req.extensions_mut().insert(client_addr::OverTls);
            }
            let mut app = app.clone();
            async move {
                let req = req.map(axum::body::Body::new);
                tower::Service::call(&mut app, req).await
            }
        });
        let connection = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %remote, "connection closed");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// A log sink the test can read back.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn request_log_lines_carry_the_path_but_never_the_query() {
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let req = axum::http::Request::get("/api/v1/lookup?by=id_number&value=210102199001011234")
            .body(())
            .expect("a valid request");
        tracing::subscriber::with_default(subscriber, || {
            let span = super::request_span(&req);
            let _entered = span.enter();
            tracing::info!("finished processing request");
        });
        let log = String::from_utf8(sink.0.lock().expect("sink").clone()).expect("utf-8 log");
        assert!(log.contains("path=/api/v1/lookup"), "{log}");
        assert!(log.contains("method=GET"), "{log}");
        assert!(!log.contains("210102199001011234"), "{log}");
        assert!(!log.contains("by=id_number"), "{log}");
    }
}
