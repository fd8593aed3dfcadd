//! The axum side: answer a request for a file of an embedded front-end.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;

/// One embedded front-end: where it is served and the headers it needs.
#[derive(Debug, Clone, Copy)]
pub struct Site {
    /// What it is, for the not-built page: Chinese first, e.g.
    /// `"持证人钱包 (holder wallet)"`.
    pub name: &'static str,
    /// The URL prefix without the trailing slash, e.g. `"/wallet"`.
    pub prefix: &'static str,
    /// The source directory in the repository, for the not-built page, e.g.
    /// `"wallet/"`.
    pub source: &'static str,
    /// The `Content-Security-Policy` of every file, if any.
    pub csp: Option<&'static str>,
    /// The service worker's file (e.g. `"sw.js"`), answered with
    /// `Service-Worker-Allowed: PREFIX/`.
    pub service_worker: Option<&'static str>,
}

/// Why [`Site::respond`] has no file to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Missing {
    /// The front-end was not built (no `index.html` embedded or on disk).
    NotBuilt,
    /// No such file in the built front-end (the path as asked).
    NotFound(String),
}

/// The precompressed variants a front-end build writes, best first.
const ENCODINGS: [(&str, &str); 2] = [("br", ".br"), ("gzip", ".gz")];

impl Site {
    /// Answers `GET PREFIX/path` (`path` without the leading slash; empty or
    /// ending in `/` means that directory's `index.html`) from the embedded
    /// files `E`, honouring `Accept-Encoding` and `If-None-Match` in
    /// `request`.
    pub fn respond<E: RustEmbed>(
        &self,
        path: &str,
        request: &HeaderMap,
    ) -> Result<Response, Missing> {
        if E::get("index.html").is_none() {
            return Err(Missing::NotBuilt);
        }
        let not_found = || Missing::NotFound(path.to_string());
        let file = if path.is_empty() || path.ends_with('/') {
            format!("{path}index.html")
        } else {
            path.to_string()
        };
        // Only plain relative names; the stored compressed variants are not
        // addressable by themselves.
        if file
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
            || file.contains('\\')
            || ENCODINGS.iter().any(|(_, ext)| file.ends_with(ext))
        {
            return Err(not_found());
        }
        let identity = E::get(&file).ok_or_else(not_found)?;
        let mime = identity.metadata.mimetype().to_string();
        let accepted = header_str(request, header::ACCEPT_ENCODING);
        let (encoding, stored) = ENCODINGS
            .iter()
            .filter(|(name, _)| accepts(accepted, name))
            .find_map(|(name, ext)| E::get(&format!("{file}{ext}")).map(|f| (Some(*name), f)))
            .unwrap_or((None, identity));
        let etag = format!("\"{}\"", hex::encode(&stored.metadata.sha256_hash()[..16]));

        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, v);
        }
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        if let Some(csp) = self.csp {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(csp),
            );
        }
        if self.service_worker == Some(file.as_str()) {
            if let Ok(scope) = HeaderValue::from_str(&format!("{}/", self.prefix)) {
                headers.insert("service-worker-allowed", scope);
            }
        }
        if none_match(header_str(request, header::IF_NONE_MATCH), &etag) {
            return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
        }
        let content_type = if mime.starts_with("text/") || mime == "application/javascript" {
            format!("{mime}; charset=utf-8")
        } else {
            mime
        };
        if let Ok(v) = HeaderValue::from_str(&content_type) {
            headers.insert(header::CONTENT_TYPE, v);
        }
        if let Some(name) = encoding {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
        }
        Ok((headers, Body::from(stored.data.into_owned())).into_response())
    }

    /// The `503` page while the front-end is not built: says how to build
    /// it. Not cached.
    pub fn not_built_page(&self) -> Response {
        let name = html_escape::encode_text(self.name);
        let source = html_escape::encode_text(self.source);
        let page = format!(
            "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\">\
             <title>{name}：前端未构建</title>\
             <h1>{name}：前端尚未构建 (front-end not built)</h1>\
             <p>这个程序构建时没有找到 <code>{source}dist/</code>。请在代码仓库中运行 \
             <code>scripts/build-web</code>（需要 Node.js 18+ 和 npm），然后重新构建本程序 \
             （<code>cargo build --release</code>），或直接运行 <code>scripts/demo</code>。</p>\
             <p>This binary was built without <code>{source}dist/</code>. In the repository, run \
             <code>scripts/build-web</code> (needs Node.js 18+ and npm), then build this binary \
             again (<code>cargo build --release</code>), or run <code>scripts/demo</code>, which \
             does both.</p>"
        );
        let mut r = (StatusCode::SERVICE_UNAVAILABLE, Html(page)).into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }

    /// Whether the files `E` hold a built front-end.
    pub fn is_built<E: RustEmbed>() -> bool {
        E::get("index.html").is_some()
    }

    /// A router serving the site at its prefix: `PREFIX` redirects to
    /// `PREFIX/`, unknown files answer `404` in plain text, a missing build
    /// the not-built page. For a binary that needs nothing more (a server
    /// with its own error format calls [`Site::respond`] from its handlers).
    pub fn router<E, S>(&'static self) -> Router<S>
    where
        E: RustEmbed + Send + Sync + 'static,
        S: Clone + Send + Sync + 'static,
    {
        let slash = format!("{}/", self.prefix);
        let index = move |req: Request| async move { self.answer::<E>("", &req) };
        let file = move |req: Request| async move {
            let path = req
                .uri()
                .path()
                .strip_prefix(self.prefix)
                .and_then(|p| p.strip_prefix('/'))
                .unwrap_or("")
                .to_string();
            self.answer::<E>(&path, &req)
        };
        Router::new()
            .route(
                self.prefix,
                get(move || async move { Redirect::permanent(&slash) }),
            )
            .route(&format!("{}/", self.prefix), get(index))
            .route(&format!("{}/{{*path}}", self.prefix), get(file))
    }

    fn answer<E: RustEmbed>(&self, path: &str, req: &Request) -> Response {
        match self.respond::<E>(path, req.headers()) {
            Ok(r) => r,
            Err(Missing::NotBuilt) => self.not_built_page(),
            Err(Missing::NotFound(p)) => (
                StatusCode::NOT_FOUND,
                format!("no file {p} in {}\n", self.prefix),
            )
                .into_response(),
        }
    }
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> &str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Whether an `Accept-Encoding` value allows `coding` (RFC 9110 §12.5.3: a
/// listed coding or `*` with a quality above zero).
fn accepts(accept_encoding: &str, coding: &str) -> bool {
    let mut star = false;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case(coding) {
            return q > 0.0;
        }
        if name == "*" {
            star = q > 0.0;
        }
    }
    star
}

/// Whether an `If-None-Match` value matches `etag` (weak comparison, RFC 9110
/// §13.1.2).
fn none_match(if_none_match: &str, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let etag = strip(etag);
    if_none_match
        .split(',')
        .any(|t| t.trim() == "*" || strip(t) == etag)
}

#[cfg(test)]
mod tests {
    use super::{accepts, none_match};

    #[test]
    fn accept_encoding_is_parsed_with_qualities() {
        assert!(accepts("gzip, deflate, br, zstd", "br"));
        assert!(accepts("gzip;q=0.5", "gzip"));
        assert!(!accepts("gzip;q=0, br", "gzip"));
        assert!(!accepts("", "gzip"));
        assert!(accepts("*", "br"));
        assert!(!accepts("*, br;q=0", "br"));
        assert!(!accepts("identity", "gzip"));
    }

    #[test]
    fn if_none_match_compares_weakly() {
        assert!(none_match("\"a\"", "\"a\""));
        assert!(none_match("W/\"a\"", "\"a\""));
        assert!(none_match("\"b\", \"a\"", "\"a\""));
        assert!(none_match("*", "\"a\""));
        assert!(!none_match("\"b\"", "\"a\""));
        assert!(!none_match("", "\"a\""));
    }
}
