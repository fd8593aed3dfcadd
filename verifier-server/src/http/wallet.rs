//! The holder wallet (`/wallet/`): serves the built web app (`wallet/dist`,
//! made by `scripts/build-wallet`) as static files.
//!
//! The wallet is a separate JavaScript build (npm packages bundled by
//! esbuild), so the server does not embed it: it serves whatever directory
//! `--wallet-dir` names, by default the repository's `wallet/dist`
//! ([`crate::state::default_wallet_dir`], resolved from this crate's source directory at compile
//! time, for development). When the bundle is absent the wallet's paths
//! answer 503 with a page saying how to build it; nothing else depends on
//! it.
//!
//! Every file is answered `Cache-Control: no-cache` (the browser
//! revalidates with `Last-Modified`; the wallet's service worker keeps its
//! own copies for offline use), with a content security policy that allows
//! nothing from another origin, and `sw.js` with `Service-Worker-Allowed:
//! /wallet/` so its scope is the wallet.

use std::path::Path;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use tower::ServiceExt as _;
use tower_http::services::ServeDir;

use super::error::ApiError;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The wallet's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(redirect))
        .routes(routes!(serve_index))
        .routes(routes!(serve_file))
}

/// The wallet's URL prefix.
pub const PREFIX: &str = "/wallet";

/// The content security policy of every wallet file: own origin only (no
/// CDN), QR drawn on a canvas, key and data in IndexedDB.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; \
    manifest-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// `GET /wallet`: the wallet lives under `/wallet/` (relative URLs and the
/// service worker's scope need the slash).
#[utoipa::path(get, path = "/wallet", tag = "holder",
    responses((status = 308, description = "Permanent redirect to /wallet/")))]
pub async fn redirect() -> Redirect {
    Redirect::permanent("/wallet/")
}

/// `GET /wallet/`: the wallet's page.
#[utoipa::path(get, path = "/wallet/", tag = "holder",
    responses(
        (status = 200, description = "The wallet's page", content_type = "text/html"),
        (status = 503, description = "The wallet has not been built (scripts/build-wallet): an HTML page; or the request timed out: a problem", content((String = "text/html"), (super::error::Problem = "application/problem+json"))),
    ))]
pub async fn serve_index(state: State<AppState>, req: Request) -> Response {
    serve_file(state, req).await
}

/// `GET /wallet/{path}`: a file of the built wallet.
#[utoipa::path(get, path = "/wallet/{*path}", tag = "holder",
    params(("path" = String, Path, description = "A file of the wallet, e.g. index.html; empty for the page")),
    responses(
        (status = 200, description = "The file", content_type = "text/html"),
        (status = 404, description = "No such file", content_type = "application/problem+json"),
        (status = 503, description = "The wallet has not been built (scripts/build-wallet): an HTML page; or the request timed out: a problem", content((String = "text/html"), (super::error::Problem = "application/problem+json"))),
    ))]
pub async fn serve_file(State(state): State<AppState>, req: Request) -> Response {
    let dir = state.wallet_dir();
    if !dir.join("index.html").is_file() {
        return not_built(&dir);
    }
    let rest = req
        .uri()
        .path()
        .strip_prefix(PREFIX)
        .unwrap_or("/")
        .to_string();
    let is_worker = rest == "/sw.js";
    let (mut parts, body) = req.into_parts();
    match rest.parse::<Uri>() {
        Ok(uri) => parts.uri = uri,
        Err(e) => return ApiError::BadRequest(format!("path: {e}")).into_response(),
    }
    let served = ServeDir::new(&dir)
        .oneshot(Request::from_parts(parts, body))
        .await;
    let Ok(response) = served;
    if response.status() == StatusCode::NOT_FOUND {
        return ApiError::NotFound(format!("no file {rest} in the wallet")).into_response();
    }
    let mut response = response.map(Body::new);
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if is_worker {
        h.insert(
            "service-worker-allowed",
            HeaderValue::from_static("/wallet/"),
        );
    }
    response
}

/// The 503 page when `dir` holds no built wallet.
fn not_built(dir: &Path) -> Response {
    tracing::warn!(dir = %dir.display(), "the wallet is not built");
    let page = format!(
        "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>电子证照钱包未构建</title>\
         <h1>电子证照钱包尚未构建 (wallet not built)</h1>\
         <p>The server found no built wallet in <code>{}</code>.</p>\
         <p>Build it in the repository with <code>scripts/build-wallet</code> \
         (needs Node.js and npm), or start the server with \
         <code>--wallet-dir DIR</code> naming a built <code>wallet/dist</code>.</p>",
        html_escape(&dir.display().to_string())
    );
    let mut r = (StatusCode::SERVICE_UNAVAILABLE, Html(page)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
