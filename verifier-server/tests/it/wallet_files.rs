//! `/wallet/`: the built wallet's files (embedded by `webassets`) with their
//! content types, caching, compression and security headers. Needs the
//! built wallet (`scripts/build-web`; `scripts/test` runs it); the page a
//! binary built without it answers is tested in `webassets`. (The wallet
//! itself is tested in headless Chromium by `tests/tests/wallet.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use shared::crypto::Alg;
use tower::ServiceExt as _;
use verifier_server::http::wallet;
use verifier_server::{app, AppState, Config};

async fn get(
    state: &AppState,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::get(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = app(state.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body.to_vec())
}

#[tokio::test]
async fn serves_the_built_wallet() {
    assert!(
        wallet::is_built(),
        "wallet/dist is missing: build the front-ends with scripts/build-web (scripts/test does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let s = AppState::open(
        dir.path(),
        Alg::EdDSA,
        Config::default(),
        Arc::new(|| 1_780_279_200),
    )
    .unwrap();
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wallet/dist");

    for (uri, file, content_type) in [
        ("/wallet/", "index.html", "text/html"),
        ("/wallet/index.html", "index.html", "text/html"),
        ("/wallet/app.js", "app.js", "text/javascript"),
        ("/wallet/sw.js", "sw.js", "text/javascript"),
        (
            "/wallet/manifest.webmanifest",
            "manifest.webmanifest",
            "application/manifest+json",
        ),
        ("/wallet/style.css", "style.css", "text/css"),
        ("/wallet/icon.svg", "icon.svg", "image/svg+xml"),
        ("/wallet/icon-192.png", "icon-192.png", "image/png"),
    ] {
        let (status, h, body) = get(&s, uri, &[]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(
            h[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(content_type),
            "{uri}: {:?}",
            h[header::CONTENT_TYPE]
        );
        assert_eq!(body, std::fs::read(dist.join(file)).unwrap(), "{uri}");
        assert_eq!(h[header::CACHE_CONTROL], "no-cache", "{uri}");
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{uri}: {csp}");
        assert!(!csp.contains("http"), "no other origin allowed: {csp}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(
            h.get("service-worker-allowed").is_some(),
            uri == "/wallet/sw.js",
            "{uri}"
        );

        // Revalidation: the same ETag answers 304 without a body.
        let etag = h[header::ETAG].to_str().unwrap().to_string();
        let (status, _, body) = get(&s, uri, &[("if-none-match", &etag)]).await;
        assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0), "{uri}");
    }
    let (_, h, _) = get(&s, "/wallet/sw.js", &[]).await;
    assert_eq!(h["service-worker-allowed"], "/wallet/");

    // The bundle travels compressed to a browser that accepts it.
    let (status, h, body) = get(
        &s,
        "/wallet/app.js",
        &[("accept-encoding", "gzip, deflate, br")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_ENCODING], "br");
    assert_eq!(body, std::fs::read(dist.join("app.js.br")).unwrap());
    assert!(body.len() * 2 < std::fs::metadata(dist.join("app.js")).unwrap().len() as usize);

    // Without the slash, a redirect to the scope.
    let (status, h, _) = get(&s, "/wallet", &[]).await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(h[header::LOCATION], "/wallet/");

    // Nothing outside the wallet, and no invented files.
    for uri in [
        "/wallet/nope.js",
        "/wallet/app.js.br",
        "/wallet/../data/verifier.db",
        "/wallet/%2e%2e/data/verifier.db",
    ] {
        let (status, h, body) = get(&s, uri, &[]).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{uri}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(h[header::CONTENT_TYPE], "application/problem+json");
    }
}
