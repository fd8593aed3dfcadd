//! `/wallet/`: the built wallet's files with their content types, caching
//! and security headers, and a 503 page saying how to build it when it is
//! absent. (The wallet itself is tested in headless Chromium by
//! `tests/tests/wallet.rs`.)

use std::path::Path;

use axum::http::{header, StatusCode};
use verifier_server::{AppState, Config};

async fn get(state: &AppState, uri: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let (status, headers, body) = testkit::get_from(state, uri, None).await;
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn state(data: &Path, wallet: &Path) -> AppState {
    let config = Config {
        wallet_dir: Some(wallet.to_path_buf()),
        ..Config::default()
    };
    testkit::open_at(data, config)
}

#[tokio::test]
async fn serves_the_built_wallet() {
    let dir = testkit::tempdir();
    let wallet = dir.path().join("dist");
    std::fs::create_dir(&wallet).unwrap();
    for (name, text) in [
        ("index.html", "<!doctype html><title>钱包</title>"),
        ("app.js", "export {}"),
        ("sw.js", "self.addEventListener('fetch', () => {})"),
        ("manifest.webmanifest", "{}"),
        ("style.css", "body{}"),
        ("icon.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
    ] {
        std::fs::write(wallet.join(name), text).unwrap();
    }
    let s = state(&dir.path().join("data"), &wallet);

    for (uri, content_type, body) in [
        ("/wallet/", "text/html", "钱包"),
        ("/wallet/index.html", "text/html", "钱包"),
        ("/wallet/app.js", "text/javascript", "export"),
        ("/wallet/sw.js", "text/javascript", "fetch"),
        (
            "/wallet/manifest.webmanifest",
            "application/manifest+json",
            "{}",
        ),
        ("/wallet/style.css", "text/css", "body"),
        ("/wallet/icon.svg", "image/svg+xml", "svg"),
    ] {
        let (status, h, text) = get(&s, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(
            h[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(content_type),
            "{uri}: {:?}",
            h[header::CONTENT_TYPE]
        );
        assert!(text.contains(body), "{uri}: {text}");
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
    }
    let (status, h, _) = get(&s, "/wallet/sw.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["service-worker-allowed"], "/wallet/");

    // Without the slash, a redirect to the scope.
    let (status, h, _) = get(&s, "/wallet").await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(h[header::LOCATION], "/wallet/");

    // Nothing outside the directory, and no invented files.
    for uri in [
        "/wallet/nope.js",
        "/wallet/../data/verifier.db",
        "/wallet/%2e%2e/data/verifier.db",
    ] {
        let (status, h, body) = get(&s, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
        assert_eq!(h[header::CONTENT_TYPE], "application/problem+json");
    }
}

#[tokio::test]
async fn says_how_to_build_it_when_absent() {
    let dir = testkit::tempdir();
    let s = state(&dir.path().join("data"), &dir.path().join("no-such-dist"));
    for uri in ["/wallet/", "/wallet/app.js"] {
        let (status, h, body) = get(&s, uri).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        assert!(h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(body.contains("scripts/build-wallet"), "{body}");
        assert!(body.contains("--wallet-dir"), "{body}");
    }
    // The rest of the service does not depend on it.
    let (status, _, _) = get(&s, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
}
