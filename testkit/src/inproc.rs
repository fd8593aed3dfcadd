//! The server in process: an [`AppState`] on a temporary data directory,
//! its router driven with `tower::ServiceExt::oneshot`.

use std::path::Path;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use shared::crypto::Alg;
use shared::domain::RawRecord;
use shared::trust::TrustList;
use tower::ServiceExt as _;
use verifier_server::auth::Role;
use verifier_server::{app, AppState, Config};

use crate::{open_state, token, ManualClock, Verifier};

/// An answer: status, headers, body.
pub type Reply = (StatusCode, HeaderMap, Vec<u8>);

/// Sends `req` through the router of `state`.
pub async fn send_to(state: &AppState, req: Request<Body>) -> Reply {
    let response = app(state.clone())
        .oneshot(req)
        .await
        .expect("the router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("reading the body")
        .to_bytes();
    (status, headers, body.to_vec())
}

/// `GET uri` through the router of `state`, with an optional bearer token.
pub async fn get_from(state: &AppState, uri: &str, token: Option<&str>) -> Reply {
    let mut req = Request::builder().uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    send_to(
        state,
        req.body(Body::empty()).expect("a well-formed request"),
    )
    .await
}

/// A bare state on `data` (no tokens), Ed25519 keys, `config`, the clock
/// standing at [`crate::T0`].
pub fn open_at(data: &Path, config: Config) -> AppState {
    open_state(data, Alg::EdDSA, config, ManualClock::default().clock()).expect("opening the state")
}

/// A server in process with a manual clock and an administrator token.
#[derive(Debug)]
pub struct TestServer {
    /// The data directory (removed on drop).
    pub dir: tempfile::TempDir,
    /// The service state.
    pub state: AppState,
    /// The clock the service reads.
    pub clock: ManualClock,
    /// An administrator's token.
    pub admin: String,
    alg: Alg,
    config: Config,
}

impl Default for TestServer {
    fn default() -> TestServer {
        TestServer::new()
    }
}

impl TestServer {
    /// Ed25519 keys, the default configuration, the clock at [`crate::T0`].
    pub fn new() -> TestServer {
        TestServer::with(Alg::EdDSA, Config::default())
    }

    /// Keys of `alg` and `config`, the clock at [`crate::T0`].
    pub fn with(alg: Alg, config: Config) -> TestServer {
        let dir = crate::tempdir();
        TestServer::open(dir, alg, config, ManualClock::default())
    }

    /// The state opened (or reopened) on `dir` with `clock`.
    pub fn open(
        dir: tempfile::TempDir,
        alg: Alg,
        config: Config,
        clock: ManualClock,
    ) -> TestServer {
        let state =
            open_state(dir.path(), alg, config.clone(), clock.clock()).expect("opening the state");
        let admin = token(&state, Role::Admin, None, "admin", clock.now());
        TestServer {
            dir,
            state,
            clock,
            admin,
            alg,
            config,
        }
    }

    /// Closes the state and opens the data directory again (a restart):
    /// same directory, clock and administrator token.
    pub fn reopen(self) -> TestServer {
        let TestServer {
            dir,
            state,
            clock,
            admin,
            alg,
            config,
        } = self;
        drop(state);
        let state = open_state(dir.path(), alg, config.clone(), clock.clock())
            .expect("reopening the state");
        TestServer {
            dir,
            state,
            clock,
            admin,
            alg,
            config,
        }
    }

    /// The data directory.
    pub fn data(&self) -> &Path {
        self.dir.path()
    }

    /// The router.
    pub fn app(&self) -> Router {
        app(self.state.clone())
    }

    /// Now, on the server's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Moves the server's clock.
    pub fn advance(&self, seconds: i64) {
        self.clock.advance(seconds);
    }

    /// A new token of `role` for `subject`, created now.
    pub fn token(&self, role: Role, division: Option<u32>, subject: &str) -> String {
        token(&self.state, role, division, subject, self.now())
    }

    /// Sends a request through the router.
    pub async fn send(&self, req: Request<Body>) -> Reply {
        send_to(&self.state, req).await
    }

    /// A request with an optional bearer token, extra headers and body (a
    /// body is JSON unless `headers` name another content type).
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let typed = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        let req = match body {
            Some(b) if typed => req.body(Body::from(b)),
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b)),
            None => req.body(Body::empty()),
        }
        .expect("a well-formed request");
        self.send(req).await
    }

    /// `GET uri`.
    pub async fn get(&self, uri: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, uri, token, &[], None).await
    }

    /// `GET uri`, which must answer 200 with JSON.
    pub async fn get_json(&self, uri: &str, token: &str) -> Value {
        let (status, _, body) = self.get(uri, Some(token)).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{uri}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).expect("a JSON answer")
    }

    /// `POST uri` with a JSON body.
    pub async fn post_json(&self, uri: &str, token: Option<&str>, body: &Value) -> Reply {
        let bytes = serde_json::to_vec(body).expect("JSON");
        self.call(Method::POST, uri, token, &[], Some(bytes)).await
    }

    /// Pushes `records` with `token`; the push must succeed.
    pub async fn push(&self, token: &str, records: &[RawRecord]) -> Value {
        let (status, _, body) = self
            .post_json(
                "/api/v1/records",
                Some(token),
                &json!({ "records": records }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).expect("a JSON answer")
    }

    /// The served trust list, verified against the root key.
    pub async fn trust(&self) -> TrustList {
        let (status, _, body) = self.get("/api/v1/trust-list", None).await;
        assert_eq!(status, StatusCode::OK);
        TrustList::verify(&body, &self.state.root_public_key()).expect("the trust list verifies")
    }

    /// A verifier's view: the served trust list and a fresh snapshot.
    pub async fn verifier(&self) -> Verifier {
        let (status, _, trust) = self.get("/api/v1/trust-list", None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, headers, body) = self.get("/api/v1/status-list", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/cose");
        Verifier::from_served(&trust, &self.state.root_public_key(), &body)
    }

    /// Brings `verifier` up to date with the delta since its sequence.
    pub async fn sync(&self, verifier: &mut Verifier) {
        let uri = format!("/api/v1/status-list/deltas?since={}", verifier.cache.seq());
        let (status, _, body) = self.get(&uri, None).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        verifier.apply_delta(&body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::domain::CertType;

    #[tokio::test]
    async fn samples_are_issued_and_verify_against_the_served_lists() {
        let server = TestServer::new();
        let records = crate::records::all_samples();
        let answer = server.push(&server.admin, &records).await;
        assert_eq!(answer["summary"]["issued"], 9, "{answer}");
        let mut verifier = server.verifier().await;
        let qr = server
            .get_json(
                &format!(
                    "/api/v1/certificates/QC/{}",
                    crate::records::number(&records[0])
                ),
                &server.admin,
            )
            .await["qr"]
            .as_str()
            .unwrap()
            .to_string();
        let ok = verifier.check(&qr, server.now()).unwrap();
        assert_eq!(ok.claims().cert_type, CertType::QC);
        // A suspension reaches the verifier through one delta.
        let uri = format!(
            "/api/v1/certificates/QC/{}/status",
            crate::records::number(&records[0])
        );
        let (s, _, b) = server
            .post_json(&uri, Some(&server.admin), &json!({ "status": "suspended" }))
            .await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        server.sync(&mut verifier).await;
        let no = verifier.check(&qr, server.now()).unwrap_err();
        assert_eq!(no.reason, shared::verify::Reason::Suspended);
        let (s, h, b) = server.get("/api/v1/nonconforming", None).await;
        crate::assert_problem(s, &h, &b, StatusCode::UNAUTHORIZED);
    }
}
