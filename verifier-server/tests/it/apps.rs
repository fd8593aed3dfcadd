//! Registered applications (issue 13), in process: registration and keys
//! by the administrator, OAuth 2.0 client credentials with
//! `private_key_jwt` (RFC 7523) and the refusals of bad assertions, key
//! rotation and revocation, and holders' real-name sign-in through the
//! simulated 运证通 (`demo::yzt::Signer`). Each refusal is a problem of its
//! own type and leaves its audit row.

use std::ops::Deref;

use axum::http::{header, Method, StatusCode};
use serde_json::{json, Value};
use testkit::{assert_problem_type, Reply, TestServer};
use verifier_server::apps::Audience;
use verifier_server::auth::Role;
use verifier_server::demo::yzt::{token_form, Signer};
use verifier_server::store::AuditEntry;

/// The server's default audience.
fn aud() -> String {
    Audience::default().0
}

/// The QC sample's holder.
const PERSON: &str = "210102198503122434";

pub(crate) struct Env {
    pub(crate) srv: TestServer,
    pub(crate) admin: String,
}

impl Deref for Env {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.srv
    }
}

impl Env {
    pub(crate) fn new() -> Env {
        let srv = TestServer::new();
        let admin = srv.token(Role::Admin, None, "admin");
        Env { srv, admin }
    }

    /// Registers `signer`'s application for WYJ and QC with two fields.
    pub(crate) async fn register(&self, signer: &Signer, identity_provider: bool) -> Value {
        let (status, _, body) = self
            .post_json(
                "/api/v1/applications",
                Some(&self.admin),
                &json!({
                    "client_id": signer.client_id,
                    "name": format!("{} 平台", signer.client_id),
                    "purpose": "网约车驾驶员资格核验",
                    "cert_types": ["WYJ", "QC"],
                    "fields": ["name", "vehicle_classes"],
                    "callback_url": "https://platform.example/hooks/lnec",
                    "identity_provider": identity_provider,
                    "jwk": signer.public_jwk(),
                }),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).unwrap()
    }

    pub(crate) async fn token_request(&self, form: &str) -> Reply {
        self.call(
            Method::POST,
            "/api/v1/oauth/token",
            None,
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(form.as_bytes().to_vec()),
        )
        .await
    }

    /// An access token for `signer`'s application.
    pub(crate) async fn app_token(&self, signer: &Signer) -> String {
        let form = token_form(signer, &aud(), self.now()).unwrap();
        let (status, headers, body) = self.token_request(&form).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["token_type"], "Bearer");
        v["access_token"].as_str().unwrap().to_string()
    }

    async fn sign_in(&self, assertion: &str) -> Reply {
        self.post_json(
            "/api/v1/holder/sign-in",
            None,
            &json!({ "assertion": assertion }),
        )
        .await
    }

    pub(crate) fn last_audit(&self) -> AuditEntry {
        testkit::blocking(|| {
            let mut tx = self.state.store().begin().unwrap();
            tx.audit_tail(1).unwrap().pop().unwrap()
        })
    }
}

fn form_with(assertion: &str) -> String {
    format!(
        "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}"
    )
}

#[tokio::test]
async fn an_application_registers_gets_a_token_and_is_audited_as_itself() {
    let env = Env::new();
    let platform = Signer::generate("didi-platform", "k1").unwrap();
    let view = env.register(&platform, false).await;
    assert_eq!(view["client_id"], "didi-platform");
    assert_eq!(view["cert_types"], json!(["QC", "WYJ"]));
    assert_eq!(view["keys"][0]["kid"], "k1");
    assert_eq!(view["keys"][0]["alg"], "EdDSA");
    assert_eq!(view["keys"][0]["active"], true);

    let auditor = env.token(Role::Auditor, None, "auditor");
    let list = env.get_json("/api/v1/applications", &auditor).await;
    assert_eq!(list["applications"][0]["client_id"], "didi-platform");
    assert_eq!(list["audience"], aud());
    let agency = env.token(Role::Agency, Some(210100), "shenyang");
    let (s, h, b) = env.get("/api/v1/applications", Some(&agency)).await;
    assert_problem_type(s, &h, &b, StatusCode::FORBIDDEN, "forbidden");

    let token = env.app_token(&platform).await;
    let audit = env.last_audit();
    assert_eq!(audit.action, "POST /api/v1/oauth/token");
    assert_eq!(audit.role.as_deref(), Some("application"));
    assert!(audit.target.contains("didi-platform"), "{audit:?}");
    assert!(audit.token_id.is_some());

    let own = env.get_json("/api/v1/app/registration", &token).await;
    assert_eq!(own["client_id"], "didi-platform");
    let audit = env.last_audit();
    assert_eq!(audit.action, "GET /api/v1/app/registration");
    assert_eq!(audit.role.as_deref(), Some("application"));

    // An application token is no administrator, holder or officer.
    for uri in [
        "/api/v1/applications",
        "/api/v1/holder/certificates",
        "/api/v1/audit",
    ] {
        let (s, h, b) = env.get(uri, Some(&token)).await;
        assert_problem_type(s, &h, &b, StatusCode::FORBIDDEN, "forbidden");
    }
    // Nor does a holder token reach an application's route.
    let holder = env.token(Role::Holder, None, PERSON);
    let (s, h, b) = env.get("/api/v1/app/registration", Some(&holder)).await;
    assert_problem_type(s, &h, &b, StatusCode::FORBIDDEN, "forbidden");

    // Short-lived: ten minutes.
    env.advance(601);
    let (s, h, b) = env.get("/api/v1/app/registration", Some(&token)).await;
    assert_problem_type(s, &h, &b, StatusCode::UNAUTHORIZED, "token-expired");
}

#[tokio::test]
async fn registrations_that_cannot_be_accepted_are_refused() {
    let env = Env::new();
    let signer = Signer::generate("insurer", "k1").unwrap();
    let base = json!({
        "client_id": "insurer",
        "name": "保险平台",
        "purpose": "承保核验",
        "cert_types": ["YSZ"],
        "fields": ["plate"],
        "jwk": signer.public_jwk(),
    });
    let bad = |patch: Value| {
        let mut v = base.clone();
        for (k, x) in patch.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    for (body, needle) in [
        (bad(json!({"cert_types": ["XX"]})), "cert_types"),
        (bad(json!({"cert_types": []})), "cert_types"),
        (bad(json!({"fields": ["id_number"]})), "fields"),
        (bad(json!({"client_id": "No Spaces"})), "client_id"),
        (bad(json!({"name": ""})), "name"),
        (
            bad(json!({"callback_url": "http://platform.example/hook"})),
            "callback_url",
        ),
        (
            bad(json!({"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}})),
            "jwk",
        ),
        (
            bad(json!({"jwk": {"kty": "oct", "kid": "k", "k": "c2VjcmV0"}})),
            "jwk",
        ),
        (
            {
                let mut private = signer.public_jwk();
                private["d"] = json!("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A");
                bad(json!({ "jwk": private }))
            },
            "private",
        ),
    ] {
        let (s, h, b) = env
            .post_json("/api/v1/applications", Some(&env.admin), &body)
            .await;
        let p = assert_problem_type(s, &h, &b, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable");
        assert!(p["detail"].as_str().unwrap().contains(needle), "{p}");
    }
    let (s, h, b) = env
        .post_json(
            "/api/v1/applications",
            Some(&env.admin),
            &json!({"name": 1}),
        )
        .await;
    assert_problem_type(s, &h, &b, StatusCode::BAD_REQUEST, "bad-request");
    let (s, _, b) = env
        .post_json("/api/v1/applications", Some(&env.admin), &base)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    let (s, h, b) = env
        .post_json("/api/v1/applications", Some(&env.admin), &base)
        .await;
    assert_problem_type(s, &h, &b, StatusCode::CONFLICT, "conflict");
    let auditor = env.token(Role::Auditor, None, "auditor");
    let (s, h, b) = env
        .post_json("/api/v1/applications", Some(&auditor), &base)
        .await;
    assert_problem_type(s, &h, &b, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn bad_client_assertions_are_refused_with_their_problem_and_audited() {
    let env = Env::new();
    let platform = Signer::generate("freight", "k1").unwrap();
    env.register(&platform, false).await;
    let now = env.now();
    let impostor = Signer::generate("freight", "k1").unwrap();
    let stranger = Signer::generate("nobody-registered", "k1").unwrap();
    let replayed = platform.client_assertion(&aud(), now).unwrap();
    let (s, _, b) = env.token_request(&form_with(&replayed)).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));

    let cases: Vec<(String, &str)> = vec![
        (replayed, "assertion-replayed"),
        (
            platform.sign("freight", &aud(), now - 400, 60).unwrap(),
            "assertion-expired",
        ),
        (
            platform
                .sign("freight", "https://other.example", now, 60)
                .unwrap(),
            "assertion-audience",
        ),
        (
            impostor.client_assertion(&aud(), now).unwrap(),
            "assertion-signature",
        ),
        (
            platform.sign("freight", &aud(), now, 3_600).unwrap(),
            "assertion-lifetime",
        ),
        (
            stranger.client_assertion(&aud(), now).unwrap(),
            "assertion-unknown-issuer",
        ),
        (
            platform.sign("someone-else", &aud(), now, 60).unwrap(),
            "assertion-subject",
        ),
        ("not.a.jwt".to_string(), "assertion-malformed"),
        (
            "eyJhbGciOiJub25lIn0.eyJpc3MiOiJmcmVpZ2h0In0.".to_string(),
            "assertion-malformed",
        ),
    ];
    for (assertion, kind) in cases {
        let (s, h, b) = env.token_request(&form_with(&assertion)).await;
        assert_problem_type(s, &h, &b, StatusCode::UNAUTHORIZED, kind);
        let audit = env.last_audit();
        assert_eq!(audit.action, "POST /api/v1/oauth/token", "{kind}");
        assert_eq!(audit.outcome, format!("401 {kind}"));
    }
    // The token endpoint's own URL is an accepted audience (RFC 7523 §3).
    let endpoint = Audience::default().token_endpoint();
    let (s, _, b) = env
        .token_request(&form_with(
            &platform.client_assertion(&endpoint, now).unwrap(),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    // Another grant or assertion type, or no form at all.
    let good = platform.client_assertion(&aud(), now).unwrap();
    for form in [
        form_with(&good).replace("client_credentials", "password"),
        form_with(&good).replace("jwt-bearer", "saml2-bearer"),
        "grant_type=client_credentials".to_string(),
    ] {
        let (s, h, b) = env.token_request(&form).await;
        assert_problem_type(s, &h, &b, StatusCode::BAD_REQUEST, "bad-request");
    }
}

#[tokio::test]
async fn keys_rotate_with_an_overlap_and_revocations_take_effect() {
    let env = Env::new();
    let k1 = Signer::generate("platform", "k1").unwrap();
    let k2 = Signer::generate("platform", "k2").unwrap();
    env.register(&k1, false).await;
    let (s, _, b) = env
        .post_json(
            "/api/v1/applications/platform/keys",
            Some(&env.admin),
            &json!({"jwk": k2.public_jwk(), "overlap_seconds": 60}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let view: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(view["keys"][0]["expires_at"], env.now() + 60);
    env.app_token(&k1).await;
    env.app_token(&k2).await;
    let (s, h, b) = env
        .post_json(
            "/api/v1/applications/platform/keys",
            Some(&env.admin),
            &json!({"jwk": k2.public_jwk()}),
        )
        .await;
    assert_problem_type(s, &h, &b, StatusCode::CONFLICT, "conflict");

    env.advance(61);
    let (s, h, b) = env
        .token_request(&token_form(&k1, &aud(), env.now()).unwrap())
        .await;
    assert_problem_type(s, &h, &b, StatusCode::UNAUTHORIZED, "assertion-signature");
    let token = env.app_token(&k2).await;

    let (s, _, b) = env
        .post_json(
            "/api/v1/applications/platform/keys/k2/revoke",
            Some(&env.admin),
            &json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let (s, h, b) = env
        .token_request(&token_form(&k2, &aud(), env.now()).unwrap())
        .await;
    assert_problem_type(s, &h, &b, StatusCode::UNAUTHORIZED, "assertion-signature");
    let (s, h, b) = env
        .post_json(
            "/api/v1/applications/platform/keys/k9/revoke",
            Some(&env.admin),
            &json!({}),
        )
        .await;
    assert_problem_type(s, &h, &b, StatusCode::NOT_FOUND, "not-found");

    // Revoking the application stops the token it holds at its next use.
    env.get_json("/api/v1/app/registration", &token).await;
    let (s, _, b) = env
        .post_json(
            "/api/v1/applications/platform/revoke",
            Some(&env.admin),
            &json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let (s, h, b) = env.get("/api/v1/app/registration", Some(&token)).await;
    assert_problem_type(s, &h, &b, StatusCode::FORBIDDEN, "forbidden");
    let (s, h, b) = env
        .post_json(
            "/api/v1/applications/platform/revoke",
            Some(&env.admin),
            &json!({}),
        )
        .await;
    assert_problem_type(s, &h, &b, StatusCode::CONFLICT, "conflict");
    let audit = env.last_audit();
    assert_eq!(audit.outcome, "409 conflict");
    assert_eq!(audit.action, "POST /api/v1/applications/{client_id}/revoke");
}

#[tokio::test]
async fn holders_sign_in_through_the_trusted_identity_provider() {
    let env = Env::new();
    let yzt = Signer::generate("yzt", "yzt-2026").unwrap();
    env.register(&yzt, true).await;
    let platform = Signer::generate("platform", "k1").unwrap();
    env.register(&platform, false).await;
    let now = env.now();

    let assertion = yzt.identity_assertion(PERSON, &aud(), now).unwrap();
    let (s, h, b) = env.sign_in(&assertion).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["holder_id"], PERSON);
    assert_eq!(v["identity_provider"], "yzt");
    assert_eq!(v["expires_at"], now + 3_600);
    let token = v["token"].as_str().unwrap().to_string();
    let audit = env.last_audit();
    assert_eq!(audit.action, "POST /api/v1/holder/sign-in");
    assert_eq!(audit.role.as_deref(), Some("holder"));
    assert!(audit.target.contains("via yzt"), "{audit:?}");
    let list = env.get_json("/api/v1/holder/certificates", &token).await;
    assert!(list.is_object(), "{list}");

    let operator = "91210106MA0XN3K249";
    let (s, _, b) = env
        .sign_in(&yzt.identity_assertion(operator, &aud(), now).unwrap())
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));

    let impostor = Signer::generate("yzt", "yzt-2026").unwrap();
    for (assertion, kind) in [
        (assertion.clone(), "assertion-replayed"),
        (
            yzt.sign(PERSON, &aud(), now - 600, 120).unwrap(),
            "assertion-expired",
        ),
        (
            yzt.sign(PERSON, &Audience::default().token_endpoint(), now, 120)
                .unwrap(),
            "assertion-audience",
        ),
        (
            impostor.identity_assertion(PERSON, &aud(), now).unwrap(),
            "assertion-signature",
        ),
        (
            platform.identity_assertion(PERSON, &aud(), now).unwrap(),
            "assertion-untrusted",
        ),
        (
            yzt.identity_assertion("210102198503122435", &aud(), now)
                .unwrap(),
            "assertion-subject",
        ),
        (
            yzt.sign(PERSON, &aud(), now, 86_400).unwrap(),
            "assertion-lifetime",
        ),
    ] {
        let (s, h, b) = env.sign_in(&assertion).await;
        assert_problem_type(s, &h, &b, StatusCode::UNAUTHORIZED, kind);
        let audit = env.last_audit();
        assert_eq!(audit.action, "POST /api/v1/holder/sign-in", "{kind}");
        assert_eq!(audit.outcome, format!("401 {kind}"));
    }
    let (s, h, b) = env
        .post_json("/api/v1/holder/sign-in", None, &json!({"token": "x"}))
        .await;
    assert_problem_type(s, &h, &b, StatusCode::BAD_REQUEST, "bad-request");

    // The sign-in is short-lived.
    env.advance(3_601);
    let (s, h, b) = env.get("/api/v1/holder/certificates", Some(&token)).await;
    assert_problem_type(s, &h, &b, StatusCode::UNAUTHORIZED, "token-expired");
}
