//! The holder wallet (`/wallet/`): the built web app (`wallet/dist`, made by
//! `scripts/build-web`) embedded in the binary and served by [`webassets`].
//!
//! Release builds hold the files, so the server is one file to deploy; debug
//! builds read `wallet/dist` at run time. A build made before the wallet was
//! built answers 503 with a page saying how to build it; nothing else
//! depends on it.
//!
//! Every file is answered `Cache-Control: no-cache` with a strong ETag (the
//! browser revalidates; the wallet's service worker keeps its own copies for
//! offline use), brotli or gzip when the browser accepts it, a content
//! security policy that allows nothing from another origin, and `sw.js` with
//! `Service-Worker-Allowed: /wallet/` so its scope is the wallet.

use axum::extract::Request;
use axum::response::{IntoResponse, Redirect, Response};
use webassets::{Missing, Site};

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

/// The built wallet, embedded (release) or read from `wallet/dist` (debug).
#[derive(webassets::RustEmbed)]
#[crate_path = "webassets::rust_embed"]
#[folder = "../wallet/dist/"]
#[allow_missing = true]
pub struct Assets;

/// How the wallet is served.
pub static SITE: Site = Site {
    name: "持证人钱包 (holder wallet)",
    prefix: PREFIX,
    source: "wallet/",
    // Own origin only (no CDN), QR drawn on a canvas, key and data in
    // IndexedDB.
    csp: Some(
        "default-src 'self'; script-src 'self'; style-src 'self'; \
         img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; \
         manifest-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    ),
    service_worker: Some("sw.js"),
};

/// Whether this binary has a built wallet.
pub fn is_built() -> bool {
    Site::is_built::<Assets>()
}

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
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 503, description = "The wallet has not been built (scripts/build-web): an HTML page; or the request timed out: a problem", content((String = "text/html"), (super::error::Problem = "application/problem+json"))),
    ))]
pub async fn serve_index(req: Request) -> Response {
    serve_file(req).await
}

/// `GET /wallet/{path}`: a file of the built wallet.
#[utoipa::path(get, path = "/wallet/{*path}", tag = "holder",
    params(("path" = String, Path, description = "A file of the wallet, e.g. index.html; empty for the page")),
    responses(
        (status = 200, description = "The file", content_type = "text/html"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 404, description = "No such file", content_type = "application/problem+json"),
        (status = 503, description = "The wallet has not been built (scripts/build-web): an HTML page; or the request timed out: a problem", content((String = "text/html"), (super::error::Problem = "application/problem+json"))),
    ))]
pub async fn serve_file(req: Request) -> Response {
    respond::<Assets>(&SITE, &req)
}

/// The file of an embedded front-end (`A`, served as `site`) that `req`
/// asks for: the wallet's and the agency console's one way of answering.
pub(super) fn respond<A: webassets::RustEmbed>(site: &Site, req: &Request) -> Response {
    let path = req
        .uri()
        .path()
        .strip_prefix(site.prefix)
        .and_then(|p| p.strip_prefix('/'))
        .unwrap_or("");
    match site.respond::<A>(path, req.headers()) {
        Ok(response) => response,
        Err(Missing::NotBuilt) => {
            tracing::warn!(
                site = site.source,
                "front-end not built into this binary (scripts/build-web)"
            );
            site.not_built_page()
        }
        Err(Missing::NotFound(p)) => {
            ApiError::NotFound(format!("no file {p} in {}", site.source)).into_response()
        }
        Err(_) => ApiError::NotFound(format!("no such file in {}", site.source)).into_response(),
    }
}
