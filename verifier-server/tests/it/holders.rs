//! Holders, token management, key rotation and compromise, and the audit
//! log, in process: the router driven with `tower::ServiceExt::oneshot`,
//! certificates checked with `shared::verify::verify` against the lists the
//! service serves, key changes made with the `admin` functions while the
//! state is live (as the CLI does beside a running server).

use std::ops::Deref;

use axum::http::{header, HeaderMap, Method, StatusCode};
use base64::Engine as _;
use serde_json::{json, Value};
use shared::crypto::{Alg, SigningKey};
use shared::domain::{sample_record, CertType, DivisionCode, RawRecord};
use shared::qrtext::{self, Kind};
use shared::trust::KeyState;
use shared::verify::{self, Reason};
use testkit::{problem_detail as assert_problem, TestServer};
use verifier_server::admin;
use verifier_server::auth::{self, Role};

/// The QC sample's holder.
const PERSON_A: &str = "210102198503122434";
/// The WYJ sample's holder.
const PERSON_B: &str = "210203199007154521";
/// The JYXK sample's operator, also pushed as the YSZ sample's owner.
const COMPANY: &str = "91210106MA0XN3K249";

/// The kit's in-process server with this area's requests.
struct Env(TestServer);

impl Deref for Env {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.0
    }
}

fn env() -> Env {
    Env(TestServer::new())
}

fn records() -> Vec<RawRecord> {
    let mut ysz = sample_record(CertType::YSZ);
    ysz.uscc = Some(COMPANY.to_string());
    vec![
        sample_record(CertType::QC),
        sample_record(CertType::WYJ),
        sample_record(CertType::JYXK),
        ysz,
    ]
}

impl Env {
    fn token(&self, role: Role, division: Option<u32>, subject: &str) -> (String, i64) {
        let d = division.map(|d| DivisionCode::from_u32(d).unwrap());
        testkit::blocking(|| auth::create_token(self.state.store(), role, d, subject, self.now()))
            .unwrap()
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        self.0.call(method, uri, token, &[], body).await
    }

    async fn push(&self, records: &[RawRecord]) -> Value {
        self.0.push(&self.admin, records).await
    }

    async fn register(&self, token: &str, body: Value) -> (StatusCode, HeaderMap, Vec<u8>) {
        self.call(
            Method::POST,
            "/api/v1/holder/devices",
            Some(token),
            Some(serde_json::to_vec(&body).unwrap()),
        )
        .await
    }

    async fn holder_qr(&self, token: &str, t: CertType) -> String {
        let v = self.get_json("/api/v1/holder/certificates", token).await;
        let c = v["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["cert_type"] == t.code())
            .unwrap_or_else(|| panic!("no {t} in {v}"));
        c["qr"].as_str().unwrap().to_string()
    }

    fn audit_outcomes(&self, action: &str) -> Vec<String> {
        testkit::blocking(|| self.state.store().begin().unwrap().audit_after(0, 1000))
            .unwrap()
            .into_iter()
            .filter(|r| r.entry.action == action)
            .map(|r| r.entry.outcome)
            .collect()
    }
}

fn device(seed: u8) -> (SigningKey, String) {
    let key = SigningKey::from_secret_bytes(Alg::EdDSA, &[seed; 32]).unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.public_key().to_bytes());
    (key, b64)
}

fn present(qr: &str, key: &SigningKey, now: i64) -> String {
    let (kind, cert) = qrtext::decode(qr).unwrap();
    assert_eq!(kind, Kind::Certificate);
    qrtext::encode(
        Kind::Presentation,
        &shared::presentation::present(&cert, key, now),
    )
}

#[tokio::test]
async fn a_holder_sees_only_their_own_certificates_and_qr_codes() {
    let env = env();
    env.push(&records()).await;
    let (a, _) = env.token(Role::Holder, None, PERSON_A);
    let (company, _) = env.token(Role::Holder, None, COMPANY);

    let mine = env.get_json("/api/v1/holder/certificates", &a).await;
    let certs = mine["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 1, "{mine}");
    let qc = &certs[0];
    assert_eq!(qc["cert_type"], "QC");
    assert_eq!(qc["status"], "valid");
    assert_eq!(qc["holder_bound"], false);
    assert_eq!(qc["valid_until"], "2029-05-17");
    let labels: Vec<&str> = qc["face"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["label_zh"].as_str().unwrap())
        .collect();
    assert!(
        labels.contains(&"姓名") && labels.contains(&"公民身份号码"),
        "{labels:?}"
    );
    assert!(qc["qr"].as_str().unwrap().starts_with("LC1:"));
    let verifier = env.verifier().await;
    verifier
        .check(qc["qr"].as_str().unwrap(), env.now())
        .unwrap();

    let (b, _) = env.token(Role::Holder, None, PERSON_B);
    let hers = env.get_json("/api/v1/holder/certificates", &b).await;
    assert_eq!(hers["certificates"].as_array().unwrap().len(), 1);
    assert_eq!(hers["certificates"][0]["cert_type"], "WYJ");

    // Permits by the credit code; vehicles by the owner's pushed code.
    let theirs = env.get_json("/api/v1/holder/certificates", &company).await;
    let mut types: Vec<&str> = theirs["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cert_type"].as_str().unwrap())
        .collect();
    types.sort_unstable();
    assert_eq!(types, ["JYXK", "YSZ"]);

    // The QR images carry exactly the QR text.
    let number = qc["number"].as_str().unwrap();
    let (status, headers, png) = env
        .get(
            &format!("/api/v1/holder/certificates/QC/{number}/qr.png"),
            Some(&a),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(headers[header::CACHE_CONTROL], "private, no-store");
    let decoded = shared::qr::decode_image(&png, &shared::qr::DecodeLimits::default()).unwrap();
    assert_eq!(decoded, vec![qc["qr"].as_str().unwrap().to_string()]);
    let (status, headers, svg) = env
        .get(
            &format!("/api/v1/holder/certificates/qc/{number}/qr.svg"),
            Some(&a),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/svg+xml");
    assert!(String::from_utf8(svg).unwrap().contains("<svg"));

    // Another holder's certificate is not found, whatever its number.
    let wyj = sample_record(CertType::WYJ).number.unwrap();
    for uri in [
        format!("/api/v1/holder/certificates/WYJ/{wyj}/qr.png"),
        format!("/api/v1/holder/certificates/WYJ/{wyj}/qr.svg"),
        "/api/v1/holder/certificates/WYJ/nonexistent/qr.svg".to_string(),
    ] {
        let (status, headers, body) = env.get(&uri, Some(&a)).await;
        let detail = assert_problem(status, &headers, &body, StatusCode::NOT_FOUND);
        assert!(
            detail.contains("among this holder's certificates"),
            "{detail}"
        );
    }
    let (status, headers, body) = env
        .get("/api/v1/holder/certificates/XX/1/qr.png", Some(&a))
        .await;
    assert_problem(status, &headers, &body, StatusCode::NOT_FOUND);
    let outcomes =
        env.audit_outcomes("GET /api/v1/holder/certificates/{cert_type}/{number}/qr.png");
    assert_eq!(outcomes, ["ok", "404 not-found", "404 not-found"]);
    assert_eq!(
        env.audit_outcomes("GET /api/v1/holder/certificates"),
        ["ok", "ok", "ok"]
    );

    // The page is self-contained.
    let (status, headers, page) = env.get("/holder", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("/api/v1/holder/certificates") && page.contains("qr.svg"));
    assert!(!page.contains("http://") && !page.contains("https://"));
}

#[tokio::test]
async fn every_refusal_is_a_problem_and_audited() {
    let env = env();
    env.push(&records()).await;
    let (holder, _) = env.token(Role::Holder, None, PERSON_A);
    let (officer, _) = env.token(Role::Officer, Some(210100), "officer");
    let (agency, _) = env.token(Role::Agency, Some(210100), "agency");
    let (auditor, _) = env.token(Role::Auditor, None, "auditor");
    let (odd, _) = env.token(Role::Holder, None, "not an id");
    let qc = sample_record(CertType::QC).number.unwrap();
    let holder_paths = [
        "/api/v1/holder/certificates".to_string(),
        format!("/api/v1/holder/certificates/QC/{qc}/qr.png"),
        format!("/api/v1/holder/certificates/QC/{qc}/qr.svg"),
    ];
    // Holder endpoints: holders only.
    for token in [&env.admin, &agency, &auditor, &officer] {
        for uri in &holder_paths {
            let (s, h, b) = env.get(uri, Some(token)).await;
            let detail = assert_problem(s, &h, &b, StatusCode::FORBIDDEN);
            assert!(detail.contains("needs holder"), "{detail}");
        }
        let (s, h, b) = env
            .register(token, json!({ "public_key": device(1).1 }))
            .await;
        assert_problem(s, &h, &b, StatusCode::FORBIDDEN);
    }
    let (s, h, b) = env.get(&holder_paths[0], Some(&odd)).await;
    let detail = assert_problem(s, &h, &b, StatusCode::FORBIDDEN);
    assert!(detail.contains("not an ID number"), "{detail}");
    // Bulk and personal reads: never to holders and officers.
    for token in [&holder, &officer] {
        for uri in [
            "/api/v1/nonconforming".to_string(),
            format!("/api/v1/certificates/QC/{qc}"),
            "/api/v1/audit".to_string(),
        ] {
            let (s, h, b) = env.get(&uri, Some(token)).await;
            assert_problem(s, &h, &b, StatusCode::FORBIDDEN);
        }
    }
    let (s, h, b) = env.get("/api/v1/audit", Some(&agency)).await;
    assert_problem(s, &h, &b, StatusCode::FORBIDDEN);
    let denied = env.audit_outcomes("GET /api/v1/nonconforming");
    assert_eq!(denied, ["403 forbidden", "403 forbidden"]);
    assert_eq!(
        env.audit_outcomes("GET /api/v1/certificates/{cert_type}/{number}"),
        ["403 forbidden", "403 forbidden"]
    );
    // No token, an unknown one.
    for token in [None, Some("lnv1_00")] {
        let (s, h, b) = env.get(&holder_paths[0], token).await;
        assert_problem(s, &h, &b, StatusCode::UNAUTHORIZED);
    }
    // Bad device keys name the field.
    let weak = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode({
        let mut identity = [0u8; 32];
        identity[0] = 1;
        identity
    });
    let cases = [
        (
            json!({ "public_key": "not base64!" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "public_key",
        ),
        (
            json!({ "public_key": "AAEC" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "public_key",
        ),
        (
            json!({ "public_key": weak }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "public_key",
        ),
        (
            json!({ "public_key": device(1).1, "alg": "SM2" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "alg",
        ),
        (
            json!({ "key": device(1).1 }),
            StatusCode::BAD_REQUEST,
            "public_key",
        ),
    ];
    for (body, expected, field) in cases {
        let (s, h, b) = env.register(&holder, body.clone()).await;
        let detail = assert_problem(s, &h, &b, expected);
        assert!(detail.contains(field), "{body}: {detail}");
    }
    let (s, h, b) = env
        .call(
            Method::POST,
            "/api/v1/holder/devices",
            Some(&holder),
            Some(b"[".to_vec()),
        )
        .await;
    assert_problem(s, &h, &b, StatusCode::BAD_REQUEST);
    let outcomes = env.audit_outcomes("POST /api/v1/holder/devices");
    assert_eq!(outcomes.len(), 4 + 6);
    assert!(outcomes.iter().all(|o| o.starts_with("4")), "{outcomes:?}");
    // Nothing was bound by a refused registration.
    let mine = env.get_json(&holder_paths[0], &holder).await;
    assert_eq!(mine["certificates"][0]["version"], 1);
}

#[tokio::test]
async fn a_device_key_binds_the_certificates_and_the_unbound_qr_stops_verifying() {
    let env = env();
    env.push(&records()).await;
    let (holder, _) = env.token(Role::Holder, None, PERSON_A);
    let unbound = env.holder_qr(&holder, CertType::QC).await;
    let seq_before = env.verifier().await.cache.seq();
    let (key, public) = device(7);

    let (s, _, b) = env.register(&holder, json!({ "public_key": public })).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let answer: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(answer["bound"], 1);
    let c = &answer["certificates"][0];
    assert_eq!(
        (c["version"].as_u64(), c["holder_bound"].as_bool()),
        (Some(2), Some(true))
    );
    let bound = c["qr"].as_str().unwrap().to_string();

    let verifier = env.verifier().await;
    assert!(verifier.cache.seq() > seq_before);
    // The bound certificate needs the device's presentation.
    let no = verifier.check(&bound, env.now()).unwrap_err();
    assert_eq!(no.reason, Reason::PresentationRequired);
    let ok = verifier
        .check(&present(&bound, &key, env.now()), env.now())
        .unwrap();
    assert_eq!(ok.claims().version, 2);
    assert_eq!(ok.claims().holder_key, Some(key.public_key()));
    // Another device cannot present it.
    let (other, _) = device(8);
    let no = verifier
        .check(&present(&bound, &other, env.now()), env.now())
        .unwrap_err();
    assert_eq!(no.reason, Reason::HolderSignatureInvalid);
    // The unbound version is superseded.
    let no = verifier.check(&unbound, env.now()).unwrap_err();
    assert_eq!(no.reason, Reason::Superseded);
    assert_eq!(no.verdict, verify::Verdict::Invalid);

    // The same key again changes nothing; an identical re-push keeps the
    // binding.
    let (s, _, b) = env
        .register(&holder, json!({ "public_key": public, "alg": "EdDSA" }))
        .await;
    assert_eq!(s, StatusCode::OK);
    let again: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(again["bound"], 0);
    assert_eq!(again["certificates"][0]["qr"], bound.as_str());
    let pushed = env.push(&records()[..1]).await;
    assert_eq!(pushed["summary"]["unchanged"], 1, "{pushed}");
    assert_eq!(env.verifier().await.cache.seq(), verifier.cache.seq());
    assert_eq!(env.holder_qr(&holder, CertType::QC).await, bound);
    assert_eq!(
        env.audit_outcomes("POST /api/v1/holder/devices"),
        [
            "ok: new key, 1 certificates bound",
            "ok: known key, 0 certificates bound"
        ]
    );
}

#[tokio::test]
async fn tokens_are_listed_without_secrets_and_revoked_at_once() {
    let env = env();
    let (holder, id) = env.token(Role::Holder, None, PERSON_A);
    env.get_json("/api/v1/holder/certificates", &holder).await;
    let tokens = testkit::blocking(|| admin::list_tokens(env.state.store(), env.now())).unwrap();
    assert_eq!(tokens.len(), 2);
    let listed = serde_json::to_string(&tokens).unwrap();
    assert!(
        !listed.contains(&holder) && !listed.contains("lnv1_"),
        "{listed}"
    );
    assert_eq!(tokens[1].id, id);
    assert_eq!(tokens[1].role, "holder");
    assert_eq!(tokens[1].revoked_at, None);

    env.advance(10);
    let revoked =
        testkit::blocking(|| admin::revoke_token(env.state.store(), id, env.now())).unwrap();
    assert_eq!(revoked.revoked_at, Some(env.now()));
    // The live router refuses it at once.
    let (s, h, b) = env.get("/api/v1/holder/certificates", Some(&holder)).await;
    let detail = assert_problem(s, &h, &b, StatusCode::UNAUTHORIZED);
    assert!(detail.contains("revoked"), "{detail}");
    // Revoking again keeps the first time; an unknown id is an error.
    env.advance(10);
    let again =
        testkit::blocking(|| admin::revoke_token(env.state.store(), id, env.now())).unwrap();
    assert_eq!(again.revoked_at, revoked.revoked_at);
    assert!(testkit::blocking(|| admin::revoke_token(env.state.store(), 999, env.now())).is_err());

    // The auditor reads all of it, paged, and the reads are audited.
    let (auditor, _) = env.token(Role::Auditor, None, "auditor");
    let page = env.get_json("/api/v1/audit?limit=3", &auditor).await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 3);
    let after = page["next_after"].as_i64().unwrap();
    assert_eq!(page["entries"][2]["id"].as_i64(), Some(after));
    let rest = env
        .get_json(&format!("/api/v1/audit?after={after}&limit=1000"), &auditor)
        .await;
    let rows: Vec<Value> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["entries"].as_array().unwrap())
        .cloned()
        .collect();
    let actions: Vec<&str> = rows.iter().map(|r| r["action"].as_str().unwrap()).collect();
    for expected in [
        "create-token",
        "list-tokens",
        "revoke-token",
        "GET /api/v1/audit",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    assert!(rows
        .iter()
        .any(|r| r["outcome"] == "unauthenticated: revoked token"));
    assert!(rows
        .windows(2)
        .all(|w| w[0]["id"].as_i64() < w[1]["id"].as_i64()));
    for bad in ["limit=0", "limit=1001", "after=-1", "after=x"] {
        let (s, h, b) = env
            .get(&format!("/api/v1/audit?{bad}"), Some(&auditor))
            .await;
        assert_problem(s, &h, &b, StatusCode::BAD_REQUEST);
    }
    env.get_json("/api/v1/audit", &env.admin).await;
}

#[tokio::test]
async fn rotation_on_a_live_server_keeps_old_certificates_through_the_overlap() {
    let env = env();
    env.push(&records()[..1]).await;
    let (holder, _) = env.token(Role::Holder, None, PERSON_A);
    let old_qr = env.holder_qr(&holder, CertType::QC).await;
    let before = env.verifier().await;
    let old_kid = before.check(&old_qr, env.now()).unwrap().kid();

    env.advance(60);
    let change =
        testkit::blocking(|| admin::rotate_key(env.data(), env.state.store(), None, 7, env.now()))
            .unwrap();
    assert_eq!(change.old_kid, old_kid.to_hex());
    assert_eq!(change.resigned, 1);

    // The live state notices: new sequence, both keys listed.
    let after = env.verifier().await;
    assert!(after.trust.seq > before.trust.seq);
    assert_eq!(after.trust.seq, change.trust_seq);
    assert_eq!(after.trust.keys.len(), 2);
    let old = after.trust.key(&old_kid).unwrap();
    assert_eq!(old.state, KeyState::Retired);
    // Old certificate still verifies; the re-signed one uses the new key.
    assert_eq!(after.check(&old_qr, env.now()).unwrap().kid(), old_kid);
    let resigned = env.holder_qr(&holder, CertType::QC).await;
    let ok = after.check(&resigned, env.now()).unwrap();
    assert_eq!(ok.kid().to_hex(), change.issuer_kid);
    assert_eq!(ok.claims().version, 1);
    // New certificates are signed by the new key.
    env.push(&records()[1..2]).await;
    let wyj = sample_record(CertType::WYJ).number.unwrap();
    let (admin_view, _) = (
        env.get_json(&format!("/api/v1/certificates/WYJ/{wyj}"), &env.admin)
            .await,
        (),
    );
    let fresh = env.verifier().await;
    let ok = fresh
        .check(admin_view["qr"].as_str().unwrap(), env.now())
        .unwrap();
    assert_eq!(ok.kid().to_hex(), change.issuer_kid);

    // After the overlap the old key leaves the trust list.
    env.advance(8 * 86_400);
    let later = env.verifier().await;
    assert!(later.trust.key(&old_kid).is_none());
    assert_eq!(
        later.check(&old_qr, env.now()).unwrap_err().reason,
        Reason::UnknownKey
    );
    later.check(&resigned, env.now()).unwrap();
    assert_eq!(env.audit_outcomes("rotate-key").len(), 1);
}

#[tokio::test]
async fn compromise_publishes_at_once_and_refuses_what_the_key_signed() {
    let env = env();
    env.push(&records()[..1]).await;
    let (holder, _) = env.token(Role::Holder, None, PERSON_A);
    let old_qr = env.holder_qr(&holder, CertType::QC).await;
    let before = env.verifier().await;
    let kid = before.check(&old_qr, env.now()).unwrap().kid();

    env.advance(60);
    let since = env.now() - 30;
    let change = testkit::blocking(|| {
        admin::compromise_key(
            env.data(),
            env.state.store(),
            &kid.to_hex(),
            Some(since),
            env.now(),
        )
    })
    .unwrap();
    assert_ne!(change.issuer_kid, kid.to_hex());
    assert_eq!(change.resigned, 1);

    let after = env.verifier().await;
    assert!(after.trust.seq > before.trust.seq);
    assert_eq!(
        after.trust.key(&kid).unwrap().state,
        KeyState::Compromised { since }
    );
    let no = after.check(&old_qr, env.now()).unwrap_err();
    assert_eq!(no.reason, Reason::KeyCompromised);
    // The holder's re-signed certificate and new ones verify.
    let resigned = env.holder_qr(&holder, CertType::QC).await;
    assert_eq!(
        after.check(&resigned, env.now()).unwrap().kid().to_hex(),
        change.issuer_kid
    );
    // Compromising twice, the root key, or an unknown key is refused.
    for bad in [
        kid.to_hex(),
        env.state.root_public_key().kid().to_hex(),
        "00".repeat(8),
    ] {
        assert!(testkit::blocking(|| admin::compromise_key(
            env.data(),
            env.state.store(),
            &bad,
            None,
            env.now()
        ))
        .is_err());
    }
    assert!(testkit::blocking(|| admin::compromise_key(
        env.data(),
        env.state.store(),
        "xyz",
        None,
        env.now()
    ))
    .is_err());
}
