//! The agency console (`/agency/`, issue 15): the built web app
//! (`agency/dist`, made by `scripts/build-web`) embedded in the binary and
//! served by [`webassets`] like the wallet (`wallet::respond`).
//!
//! The console is a client of the JSON API only (push state, correction
//! list, record push, upload and its report, status changes and history),
//! signed in with an agency's bearer token kept in the tab's session
//! storage; the files themselves are public. Every file is answered
//! `Cache-Control: no-cache` with a strong ETag and a content security
//! policy that allows nothing from another origin.

use axum::extract::Request;
use axum::response::{Redirect, Response};
use webassets::Site;

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The console's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(redirect))
        .routes(routes!(serve_index))
        .routes(routes!(serve_file))
}

/// The console's URL prefix.
pub const PREFIX: &str = "/agency";

/// The built console, embedded (release) or read from `agency/dist` (debug).
#[derive(webassets::RustEmbed)]
#[crate_path = "webassets::rust_embed"]
#[folder = "../agency/dist/"]
#[allow_missing = true]
pub struct Assets;

/// How the console is served.
pub static SITE: Site = Site {
    name: "发证机关工作台 (agency console)",
    prefix: PREFIX,
    source: "agency/",
    // Own origin only (no CDN); downloads are blob: URLs.
    csp: Some(
        "default-src 'self'; script-src 'self'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    service_worker: None,
};

/// `GET /agency`: the console lives under `/agency/`.
#[utoipa::path(get, path = "/agency", tag = "issuing",
    responses((status = 308, description = "Permanent redirect to /agency/")))]
pub async fn redirect() -> Redirect {
    Redirect::permanent("/agency/")
}

/// `GET /agency/`: the console's page.
#[utoipa::path(get, path = "/agency/", tag = "issuing",
    responses(
        (status = 200, description = "The console's page", content_type = "text/html"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 503, description = "The console has not been built (scripts/build-web): an HTML page; or the request timed out: a problem", content((String = "text/html"), (super::error::Problem = "application/problem+json"))),
    ))]
pub async fn serve_index(req: Request) -> Response {
    super::wallet::respond::<Assets>(&SITE, &req)
}

/// `GET /agency/{path}`: a file of the built console.
#[utoipa::path(get, path = "/agency/{*path}", tag = "issuing",
    params(("path" = String, Path, description = "A file of the console, e.g. app.js")),
    responses(
        (status = 200, description = "The file", content_type = "text/html"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 404, description = "No such file", content_type = "application/problem+json"),
        (status = 503, description = "The console has not been built (scripts/build-web): an HTML page; or the request timed out: a problem", content((String = "text/html"), (super::error::Problem = "application/problem+json"))),
    ))]
pub async fn serve_file(req: Request) -> Response {
    super::wallet::respond::<Assets>(&SITE, &req)
}
