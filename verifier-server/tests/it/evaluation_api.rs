//! `GET /api/v1/evaluation` and the administrator's entries through the
//! router, on real pushes and real signed check-log uploads: the counts go
//! through the store's queries, and every refusal is checked.

use std::ops::Deref;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use shared::checklog::{self, CertRef, ChainHead, Check, Disposition, Event, Sealed};
use shared::crypto::{Alg, SigningKey};
use shared::domain::{sample_record, CertType};
use shared::verify::Verdict;
use testkit::{TestServer, T0};
use verifier_server::auth::Role;

/// The kit's in-process server (its clock stands at `T0`) with this
/// area's requests.
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

impl Env {
    fn token(&self, role: Role, division: Option<u32>) -> String {
        testkit::token(&self.state, role, division, "test", T0)
    }

    async fn raw(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        headers: &[(header::HeaderName, &str)],
        body: Vec<u8>,
    ) -> (StatusCode, String, Vec<u8>) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (k, v) in headers {
            req = req.header(k, *v);
        }
        let (status, h, bytes) = self.send(req.body(Body::from(body)).unwrap()).await;
        let ct = h
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, ct, bytes)
    }

    async fn json(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let (status, _, bytes) = self
            .raw(
                method,
                uri,
                Some(token),
                &[(header::CONTENT_TYPE, "application/json")],
                serde_json::to_vec(&body).unwrap(),
            )
            .await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn get(&self, uri: &str, token: &str) -> (StatusCode, Value) {
        let (status, _, bytes) = self
            .raw(Method::GET, uri, Some(token), &[], Vec::new())
            .await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn enroll(&self, token: &str, device: &SigningKey) {
        let (status, v) = self
            .json(
                Method::POST,
                "/api/v1/devices",
                token,
                json!({"alg": "EdDSA",
                       "public_key": URL_SAFE_NO_PAD.encode(device.public_key().to_bytes()),
                       "label": "patrol"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
    }

    async fn upload(&self, token: &str, records: &[Sealed], device: &SigningKey) -> StatusCode {
        let refs: Vec<&[u8]> = records.iter().map(|s| s.bytes.as_slice()).collect();
        let (status, _, _) = self
            .raw(
                Method::POST,
                "/api/v1/verification-logs",
                Some(token),
                &[(header::CONTENT_TYPE, "application/cose")],
                checklog::sign_batch(&refs, device),
            )
            .await;
        status
    }
}

fn scan(text: &str) -> Event {
    Event::Check(Check {
        verdict: Verdict::Valid,
        reason: None,
        scanned: Some(text.to_string()),
        cert: Some(CertRef {
            cert_type: CertType::QC,
            number: "claimed".into(),
            version: 1,
        }),
        status_seq: Some(1),
        trust_seq: Some(1),
        warnings: Vec::new(),
        data_age: Some(60),
    })
}

fn chain(events: Vec<Event>) -> Vec<Sealed> {
    let mut head = ChainHead::default();
    events
        .into_iter()
        .map(|e| {
            let (sealed, next) = head.append(T0 + head.next_seq as i64, e);
            head = next;
            sealed
        })
        .collect()
}

fn city(e: &Value, code: u32) -> &Value {
    if code == 210000 {
        return &e["province"];
    }
    e["cities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["division"] == code)
        .unwrap()
}

#[tokio::test]
async fn evaluation_counts_real_uploads_and_entries() {
    let env = env();
    // The nine samples: Shenyang 5 (QC, and four more), Dalian 3, Anshan 1.
    let records: Vec<_> = CertType::ALL.into_iter().map(sample_record).collect();
    let (status, v) = env
        .json(
            Method::POST,
            "/api/v1/records",
            &env.admin,
            json!({ "records": records }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let mut qr = Vec::new();
    for r in &records {
        let uri = format!(
            "/api/v1/certificates/{}/{}",
            r.cert_type.as_deref().unwrap(),
            r.number.as_deref().unwrap()
        );
        let (_, v) = env.get(&uri, &env.admin).await;
        qr.push((
            r.issuer_division.clone().unwrap(),
            v["qr"].as_str().unwrap().to_string(),
        ));
    }
    let of = |div: &str| -> Vec<String> {
        qr.iter()
            .filter(|(d, _)| d == div)
            .map(|(_, q)| q.clone())
            .collect()
    };
    let (sy, dl) = (of("210100"), of("210200"));
    assert_eq!((sy.len(), dl.len(), of("210300").len()), (5, 3, 1));

    // Shenyang's officer: two certificates (one twice), a forged text, a
    // Dalian certificate (another city's: it counts for Dalian) and a
    // refusal of a valid one.
    let sy_officer = env.token(Role::Officer, Some(210102));
    let a = SigningKey::from_secret_bytes(Alg::EdDSA, &[1; 32]).unwrap();
    env.enroll(&sy_officer, &a).await;
    let events = vec![
        scan(&sy[0]),
        scan(&sy[0]),
        scan(&sy[1]),
        Event::Disposition(Disposition {
            check_seq: 2,
            accepted: false,
            note: "wanted the paper one".into(),
        }),
        scan("LC1:NOTREAL"),
        scan(&dl[0]),
    ];
    assert_eq!(
        env.upload(&sy_officer, &chain(events), &a).await,
        StatusCode::OK
    );

    // Dalian's officer: one certificate, then an altered record at an
    // accepted seq and a gap: both refused, both anomalies.
    let dl_officer = env.token(Role::Officer, Some(210200));
    let b = SigningKey::from_secret_bytes(Alg::EdDSA, &[2; 32]).unwrap();
    env.enroll(&dl_officer, &b).await;
    let good = chain(vec![scan(&dl[0])]);
    assert_eq!(env.upload(&dl_officer, &good, &b).await, StatusCode::OK);
    let altered = chain(vec![scan(&dl[1])]);
    assert_eq!(
        env.upload(&dl_officer, &altered, &b).await,
        StatusCode::CONFLICT
    );
    let gap = chain(vec![scan(&dl[1]), scan(&dl[1]), scan(&dl[2])]);
    assert_eq!(
        env.upload(&dl_officer, &gap[2..], &b).await,
        StatusCode::CONFLICT
    );
    // A retry of the accepted batch is a duplicate: nothing changes.
    assert_eq!(env.upload(&dl_officer, &good, &b).await, StatusCode::OK);

    // The administrator's entries.
    let (status, v) = env
        .json(
            Method::POST,
            "/api/v1/evaluation/training",
            &env.admin,
            json!({"division": 210100, "year": 2026, "coverage": "full",
                   "description": "全市执法人员电子证照查验培训",
                   "evidence": [{"file_name": "sign-in.pdf", "sha256": "ab".repeat(32),
                                 "description": "attendance"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, v) = env
        .json(
            Method::POST,
            "/api/v1/evaluation/training",
            &env.admin,
            json!({"division": 210200, "year": 2026, "coverage": "full",
                   "description": "no evidence", "evidence": []}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    for count in [4, 1] {
        let (status, v) = env
            .json(
                Method::PUT,
                "/api/v1/evaluation/declared",
                &env.admin,
                json!({"division": 210200, "year": 2026, "cert_type": "qc", "count": count}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["cert_type"], "QC");
    }
    for upheld in [true, false] {
        let (status, v) = env
            .json(
                Method::POST,
                "/api/v1/evaluation/complaints",
                &env.admin,
                json!({"division": 210300, "year": 2026, "description": "refused at a checkpoint",
                       "upheld": upheld}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
    }

    let auditor = env.token(Role::Auditor, None);
    let (status, e) = env.get("/api/v1/evaluation?year=2026", &auditor).await;
    assert_eq!(status, StatusCode::OK, "{e}");
    // Hand-computed (see the comments above):
    // [issuance n, d, points, activation n, d, points, training, display, total, anomalies]
    // The evidence model (docs/evaluation.md): a static QR checked by a
    // device of the certificate's own city does not count; checked by
    // another city's device it does (Shenyang's officer checking dl[0]).
    let want = [
        // Shenyang: 5/5 → 40; its own officer's static checks do not
        // count: 0 of 5 → 0; full with evidence 10; the refusal → 0; the
        // forged text.
        (210100, [5, 5, 40, 0, 5, 0, 10, 0, 50, 1]),
        // Dalian: 3 of 3 + 1 declared = 75 % → 30; dl[0] checked by
        // Shenyang's officer: 1 of 3 = 33 % → 10; full without evidence
        // 0; 10; 2 refused uploads.
        (210200, [3, 4, 30, 1, 3, 10, 0, 10, 50, 2]),
        // Anshan: 1/1 → 40; 0 of 1 → 0; 0; the upheld complaint → 0.
        (210300, [1, 1, 40, 0, 1, 0, 0, 0, 40, 0]),
        // The province: 9 of 10 = exactly 90 % → 35; 1 of 9 → 0; 10; 0.
        (210000, [9, 10, 35, 1, 9, 0, 10, 0, 45, 3]),
    ];
    for (code, w) in want {
        let c = city(&e, code);
        let got = [
            &c["issuance"]["numerator"],
            &c["issuance"]["denominator"],
            &c["issuance"]["points"],
            &c["activation"]["numerator"],
            &c["activation"]["denominator"],
            &c["activation"]["points"],
            &c["training"]["points"],
            &c["display"]["points"],
            &c["total"],
        ]
        .map(|v| v.as_u64().unwrap());
        assert_eq!(got[..], w[..9], "{code}: {c}");
        assert_eq!(
            c["anomalies"].as_array().unwrap().len() as u64,
            w[9],
            "{code}: {c}"
        );
    }
    let incident = &city(&e, 210100)["display"]["incidents"][0];
    assert_eq!(incident["kind"], "refusal");
    assert!(incident["detail"]
        .as_str()
        .unwrap()
        .contains("wanted the paper one"));

    // The same as CSV, by format and by Accept.
    let (status, ct, body) = env
        .raw(
            Method::GET,
            "/api/v1/evaluation?year=2026&format=csv",
            Some(&auditor),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/csv"), "{ct}");
    assert!(
        body.starts_with(shared::csvexport::BOM),
        "no byte-order mark"
    );
    let csv = String::from_utf8(body).unwrap();
    assert!(
        csv.contains("\n210100,沈阳市,5,5,100.00,40,0,5,0.00,0,full,10,1,0,50,1\n"),
        "{csv}"
    );
    let (_, ct, _) = env
        .raw(
            Method::GET,
            "/api/v1/evaluation?year=2026",
            Some(&env.admin),
            &[(header::ACCEPT, "text/csv")],
            Vec::new(),
        )
        .await;
    assert!(ct.starts_with("text/csv"), "{ct}");
}

#[tokio::test]
async fn evaluation_refusals() {
    let env = env();
    let officer = env.token(Role::Officer, Some(210100));
    let agency = env.token(Role::Agency, Some(210100));
    let auditor = env.token(Role::Auditor, None);
    // Only administrators and auditors read it.
    for token in [&officer, &agency] {
        let (status, v) = env.get("/api/v1/evaluation?year=2026", token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    }
    let (status, _, _) = env
        .raw(
            Method::GET,
            "/api/v1/evaluation?year=2026",
            None,
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for (uri, needle) in [
        ("/api/v1/evaluation", "missing year"),
        ("/api/v1/evaluation?year=1999", "year 1999"),
        ("/api/v1/evaluation?year=abc", "query string"),
        ("/api/v1/evaluation?year=2026&format=xml", "format"),
    ] {
        let (status, v) = env.get(uri, &env.admin).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {v}");
        assert!(v["detail"].as_str().unwrap().contains(needle), "{uri}: {v}");
    }
    // Only administrators enter facts; auditors read only.
    let training = json!({"division": 210100, "year": 2026, "coverage": "partial",
                          "description": "x", "evidence": []});
    let declared = json!({"division": 210100, "year": 2026, "cert_type": "QC", "count": 1});
    let complaint = json!({"division": 210100, "year": 2026, "description": "x", "upheld": true});
    let entries = [
        (Method::POST, "/api/v1/evaluation/training", training),
        (Method::PUT, "/api/v1/evaluation/declared", declared),
        (Method::POST, "/api/v1/evaluation/complaints", complaint),
    ];
    for (method, uri, body) in &entries {
        for token in [&auditor, &officer, &agency] {
            let (status, v) = env.json(method.clone(), uri, token, body.clone()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{uri}: {v}");
        }
    }
    // Bad entries name the field.
    let bad = [
        (
            "/api/v1/evaluation/training",
            Method::POST,
            json!({"division": 210100, "year": 2026, "coverage": "total", "description": "x"}),
            StatusCode::BAD_REQUEST,
            "coverage",
        ),
        (
            "/api/v1/evaluation/training",
            Method::POST,
            json!({"division": 210100, "year": 2026, "coverage": "full", "description": "x",
                "evidence": [{"file_name": "a", "sha256": "xyz", "description": "d"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "evidence[0].sha256",
        ),
        (
            "/api/v1/evaluation/training",
            Method::POST,
            json!({"division": 210102, "year": 2026, "coverage": "full", "description": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "division",
        ),
        (
            "/api/v1/evaluation/training",
            Method::POST,
            json!({"division": 210100, "year": 2026, "coverage": "full", "description": "  "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "description",
        ),
        (
            "/api/v1/evaluation/declared",
            Method::PUT,
            json!({"division": 210100, "year": 2026, "cert_type": "ZZ", "count": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "cert_type",
        ),
        (
            "/api/v1/evaluation/declared",
            Method::PUT,
            json!({"division": 210000, "year": 2026, "cert_type": "QC", "count": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "division",
        ),
        (
            "/api/v1/evaluation/declared",
            Method::PUT,
            json!({"division": 210100, "year": 2026, "cert_type": "QC", "count": -1}),
            StatusCode::BAD_REQUEST,
            "count",
        ),
        (
            "/api/v1/evaluation/complaints",
            Method::POST,
            json!({"division": 990100, "year": 2026, "description": "x", "upheld": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "division",
        ),
        (
            "/api/v1/evaluation/complaints",
            Method::POST,
            json!({"division": 210100, "year": 1800, "description": "x", "upheld": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "year",
        ),
    ];
    for (uri, method, body, want, field) in bad {
        let (status, v) = env.json(method, uri, &env.admin, body.clone()).await;
        assert_eq!(status, want, "{body}: {v}");
        assert!(v["detail"].as_str().unwrap().contains(field), "{body}: {v}");
    }
    // Every refusal was audited; nothing was stored.
    let (_, e) = env.get("/api/v1/evaluation?year=2026", &env.admin).await;
    assert!(e["province"]["training"]["records"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(e["province"]["issuance"]["declared_uncollected"], 0);
}
