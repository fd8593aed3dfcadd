//! The handler over a small embedded site (`tests/site/`) and over a site
//! that was never built: ETags and 304, precompressed variants by
//! `Accept-Encoding`, headers, index pages, refused paths, the not-built page.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;
use webassets::{Missing, Site};

#[derive(webassets::RustEmbed)]
#[crate_path = "webassets::rust_embed"]
#[folder = "tests/site/"]
struct Built;

#[derive(webassets::RustEmbed)]
#[crate_path = "webassets::rust_embed"]
#[folder = "tests/never-built/"]
#[allow_missing = true]
struct NotBuilt;

static SITE: Site = Site {
    name: "测试 (test)",
    prefix: "/t",
    source: "test/",
    csp: Some("default-src 'self'"),
    service_worker: Some("sw.js"),
};

async fn get(
    app: &Router,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::get(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes().to_vec(),
    )
}

#[tokio::test]
async fn serves_files_with_etag_and_revalidation() {
    let app: Router = SITE.router::<Built, ()>();
    let (status, h, body) = get(&app, "/t/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, std::fs::read("tests/site/index.html").unwrap());
    assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(h[header::CACHE_CONTROL], "no-cache");
    assert_eq!(h[header::CONTENT_SECURITY_POLICY], "default-src 'self'");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(h.get(header::CONTENT_ENCODING).is_none());
    let etag = h[header::ETAG].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");

    let (status, h, body) = get(&app, "/t/", &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(h[header::ETAG], etag.as_str());
    let (status, _, _) = get(
        &app,
        "/t/index.html",
        &[("if-none-match", &format!("W/{etag}"))],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, _) = get(&app, "/t/", &[("if-none-match", "\"other\"")]).await;
    assert_eq!(status, StatusCode::OK);

    let (status, _, body) = get(&app, "/t/sub/", &[]).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, &b"<p>sub</p>\n"[..])
    );
    let (status, h, _) = get(&app, "/t", &[]).await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(h[header::LOCATION], "/t/");
}

#[tokio::test]
async fn negotiates_precompressed_variants() {
    let app: Router = SITE.router::<Built, ()>();
    let raw = std::fs::read("tests/site/app.js").unwrap();
    let (_, plain, body) = get(&app, "/t/app.js", &[]).await;
    assert_eq!(body, raw);
    assert_eq!(
        plain[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(plain[header::VARY], "accept-encoding");

    let (_, h, body) = get(
        &app,
        "/t/app.js",
        &[("accept-encoding", "gzip, deflate, br")],
    )
    .await;
    assert_eq!(h[header::CONTENT_ENCODING], "br");
    assert_eq!(body, std::fs::read("tests/site/app.js.br").unwrap());
    assert_eq!(h[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    let (_, g, body) = get(&app, "/t/app.js", &[("accept-encoding", "gzip")]).await;
    assert_eq!(g[header::CONTENT_ENCODING], "gzip");
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(body.as_slice()),
        &mut unzipped,
    )
    .unwrap();
    assert_eq!(unzipped, raw);
    // Each representation has its own ETag, and a 304 needs the right one.
    let etags = [&plain, &h, &g].map(|h| h[header::ETAG].to_str().unwrap().to_string());
    assert!(etags[0] != etags[1] && etags[1] != etags[2] && etags[0] != etags[2]);
    let (status, _, _) = get(
        &app,
        "/t/app.js",
        &[("accept-encoding", "br"), ("if-none-match", &etags[1])],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, _) = get(
        &app,
        "/t/app.js",
        &[("accept-encoding", "gzip"), ("if-none-match", &etags[1])],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // br refused with q=0: gzip.
    let (_, h, _) = get(&app, "/t/app.js", &[("accept-encoding", "br;q=0, gzip")]).await;
    assert_eq!(h[header::CONTENT_ENCODING], "gzip");
    // No variant stored: identity whatever is accepted.
    let (_, h, _) = get(&app, "/t/index.html", &[("accept-encoding", "br, gzip")]).await;
    assert!(h.get(header::CONTENT_ENCODING).is_none());
}

#[tokio::test]
async fn service_worker_gets_its_scope_and_odd_paths_are_refused() {
    let app: Router = SITE.router::<Built, ()>();
    let (status, h, _) = get(&app, "/t/sw.js", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["service-worker-allowed"], "/t/");
    let (_, h, _) = get(&app, "/t/app.js", &[]).await;
    assert!(h.get("service-worker-allowed").is_none());
    for path in [
        "/t/nope.js",
        "/t/app.js.br",
        "/t/app.js.gz",
        "/t/../Cargo.toml",
        "/t//app.js",
        "/t/./app.js",
    ] {
        let (status, _, _) = get(&app, path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        SITE.respond::<Built>("sub/../app.js", &Default::default())
            .err(),
        Some(Missing::NotFound("sub/../app.js".into()))
    );
}

#[tokio::test]
async fn a_site_never_built_says_how_to_build_it() {
    assert!(Site::is_built::<Built>());
    assert!(!Site::is_built::<NotBuilt>());
    let app: Router = SITE.router::<NotBuilt, ()>();
    for path in ["/t/", "/t/app.js"] {
        let (status, h, body) = get(&app, path, &[]).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        let page = String::from_utf8(body).unwrap();
        assert!(
            page.contains("scripts/build-web") && page.contains("前端尚未构建"),
            "{page}"
        );
        assert!(page.contains("test/dist/"), "{page}");
    }
}
