//! The service end to end, in process: the router driven with
//! `tower::ServiceExt::oneshot`, every certificate checked with
//! `shared::verify::verify` against the trust list and status lists the
//! service itself serves; one test over a real 127.0.0.1 listener.

use std::ops::Deref;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use shared::crypto::Alg;
use shared::domain::{sample_record, CertType};
use shared::status::StatusCache;
use shared::trust::TrustList;
use shared::verify::{Reason, Verdict};
use testkit::records::{all_samples, number};
use testkit::{assert_problem, TestServer, Verifier, T0};
use tower::ServiceExt as _;
use verifier_server::auth::Role;
use verifier_server::{app, Config};

/// The kit's in-process server with this area's requests.
struct Env(TestServer);

impl Deref for Env {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.0
    }
}

fn env_with(alg: Alg) -> Env {
    Env(TestServer::with(alg, Config::default()))
}

fn env() -> Env {
    env_with(Alg::EdDSA)
}

impl Env {
    fn agency(&self, division: u32) -> String {
        testkit::token(&self.state, Role::Agency, Some(division), "test agency", T0)
    }

    async fn set_status(
        &self,
        token: &str,
        t: CertType,
        number: &str,
        to: &str,
    ) -> (StatusCode, Value) {
        let body = serde_json::to_vec(&json!({ "status": to })).unwrap();
        let uri = format!("/api/v1/certificates/{}/{number}/status", t.code());
        let (status, _, body) = self
            .call(Method::POST, &uri, Some(token), &[], Some(body))
            .await;
        (status, serde_json::from_slice(&body).unwrap())
    }

    async fn qr(&self, t: CertType, number: &str, version: Option<u16>) -> String {
        let uri = match version {
            Some(v) => format!("/api/v1/certificates/{}/{number}?version={v}", t.code()),
            None => format!("/api/v1/certificates/{}/{number}", t.code()),
        };
        let v = self.get_json(&uri, &self.admin).await;
        v["qr"].as_str().unwrap().to_string()
    }
}

#[tokio::test]
async fn all_nine_types_are_issued_and_verify_end_to_end_with_both_algorithms() {
    for alg in [Alg::EdDSA, Alg::Sm2Sm3] {
        let env = env_with(alg);
        let records = all_samples();
        let answer = env.push(&env.admin, &records).await;
        assert_eq!(answer["summary"]["issued"], 9, "{answer}");
        let verifier = env.verifier().await;
        assert_eq!(verifier.trust.keys.len(), 1);
        assert_eq!(verifier.trust.keys[0].public_key.alg(), alg);
        assert_eq!(verifier.trust.authorities.len(), 15);
        for (i, r) in records.iter().enumerate() {
            let result = &answer["results"][i];
            let t = CertType::ALL[i];
            assert_eq!(result["index"], i);
            assert_eq!(result["result"], "issued");
            assert_eq!(result["version"], 1);
            assert_eq!(result["cert_type"], t.code());
            let qr = env.qr(t, &number(r), None).await;
            let ok = verifier
                .check(&qr, env.now())
                .unwrap_or_else(|e| panic!("{t}: {e:?}"));
            assert_eq!(ok.claims().cert_type, t);
            assert_eq!(ok.claims().number, number(r));
            assert_eq!(ok.claims().version, 1);
            assert_eq!(ok.alg(), alg);
            assert_eq!(ok.identifier(), result["identifier"].as_str(), "{t}");
            // A tampered certificate does not verify.
            let mut bytes = shared::qrtext::decode(&qr).unwrap().1;
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            let forged = shared::qrtext::encode(shared::qrtext::Kind::Certificate, &bytes);
            let no = verifier.check(&forged, env.now()).unwrap_err();
            assert_eq!(no.reason, Reason::BadSignature);
        }
    }
}

#[tokio::test]
async fn identical_repush_is_unchanged_and_writes_nothing() {
    let env = env();
    let records = all_samples();
    let first = env.push(&env.admin, &records).await;
    let counts = testkit::blocking(|| env.state.store().begin().unwrap().counts().unwrap());
    assert_eq!((counts.certificates, counts.versions), (9, 9));
    env.advance(3600);
    let again = env.push(&env.admin, &records).await;
    assert_eq!(again["summary"]["unchanged"], 9, "{again}");
    assert_eq!(again["status_seq"], first["status_seq"]);
    for i in 0..9 {
        assert_eq!(
            again["results"][i]["identifier"],
            first["results"][i]["identifier"]
        );
        assert_eq!(again["results"][i]["version"], 1);
    }
    let after = testkit::blocking(|| env.state.store().begin().unwrap().counts().unwrap());
    assert_eq!((after.certificates, after.versions), (9, 9));
    // An agency system numbering its record differently is still the same data.
    let mut renumbered = sample_record(CertType::YSZ);
    renumbered.version = Some("4".into());
    let same = env.push(&env.admin, &[renumbered]).await;
    assert_eq!(same["results"][0]["result"], "unchanged");
}

#[tokio::test]
async fn a_changed_record_is_a_new_version_and_the_old_one_is_superseded() {
    let env = env();
    let original = sample_record(CertType::QC);
    let n = number(&original);
    env.push(&env.admin, std::slice::from_ref(&original)).await;
    let mut verifier = env.verifier().await;
    let v1 = env.qr(CertType::QC, &n, None).await;
    assert!(verifier.check(&v1, env.now()).is_ok());

    env.advance(60);
    let mut changed = original.clone();
    changed.vehicle_classes = Some("A1A2".into());
    let answer = env.push(&env.admin, &[changed]).await;
    let result = &answer["results"][0];
    assert_eq!(result["result"], "updated", "{answer}");
    assert_eq!(result["version"], 2);
    assert!(result["identifier"].as_str().unwrap().contains(".002."));
    let v2 = env.qr(CertType::QC, &n, None).await;
    assert_eq!(env.qr(CertType::QC, &n, Some(1)).await, v1);
    assert_ne!(v1, v2);

    // Through a delta from the verifier's old list.
    env.sync(&mut verifier).await;
    let old = verifier.check(&v1, env.now()).unwrap_err();
    assert_eq!(
        (old.verdict, old.reason),
        (Verdict::Invalid, Reason::Superseded)
    );
    let new = verifier.check(&v2, env.now()).unwrap();
    assert_eq!(new.claims().version, 2);
    // And through a fresh snapshot.
    let fresh = env.verifier().await;
    assert_eq!(
        fresh.check(&v1, env.now()).unwrap_err().reason,
        Reason::Superseded
    );
    assert!(fresh.check(&v2, env.now()).is_ok());
    // Pushing version 2's data again changes nothing.
    let mut again = original.clone();
    again.vehicle_classes = Some("A1A2".into());
    let answer = env.push(&env.admin, &[again]).await;
    assert_eq!(answer["results"][0]["result"], "unchanged");
    assert_eq!(answer["results"][0]["version"], 2);
}

#[tokio::test]
async fn two_changes_in_one_push_keep_the_latest_status_of_each_version() {
    let env = env();
    let original = sample_record(CertType::WYY);
    let n = number(&original);
    env.push(&env.admin, std::slice::from_ref(&original)).await;
    env.set_status(&env.admin, CertType::WYY, &n, "suspended")
        .await;
    let mut verifier = env.verifier().await;
    let mut second = original.clone();
    second.seats = Some("6".into());
    let mut third = original.clone();
    third.seats = Some("7".into());
    let answer = env.push(&env.admin, &[second, third]).await;
    assert_eq!(answer["results"][0]["version"], 2, "{answer}");
    assert_eq!(answer["results"][1]["version"], 3, "{answer}");
    env.sync(&mut verifier).await;
    for (version, reason) in [
        (1, Reason::Superseded),
        (2, Reason::Superseded),
        (3, Reason::Suspended),
    ] {
        let qr = env.qr(CertType::WYY, &n, Some(version)).await;
        assert_eq!(
            verifier.check(&qr, env.now()).unwrap_err().reason,
            reason,
            "v{version}"
        );
    }
    let fresh = env.verifier().await;
    assert_eq!(
        fresh.cache.list(),
        verifier.cache.list(),
        "delta and snapshot agree"
    );
}

#[tokio::test]
async fn nonconforming_records_are_listed_with_reasons_and_resolved_by_a_corrected_push() {
    let env = env();
    let shenyang = env.agency(210100);
    let good = sample_record(CertType::QC);
    // The QC sample whose sex contradicts its ID number and which expires
    // before it starts.
    let bad = testkit::records::nonconforming();
    let answer = env.push(&shenyang, std::slice::from_ref(&bad)).await;
    let result = &answer["results"][0];
    assert_eq!(result["result"], "non_conforming", "{answer}");
    let reasons = result["reasons"].as_array().unwrap();
    let fields: Vec<&str> = reasons
        .iter()
        .map(|r| r["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"sex"), "{fields:?}");
    assert!(fields.iter().any(|f| f.starts_with("valid_")), "{fields:?}");
    for r in reasons {
        assert!(!r["rule"].as_str().unwrap().is_empty());
        assert!(!r["message_zh"].as_str().unwrap().is_empty());
    }
    assert!(result.get("identifier").is_none());

    let list = env.get_json("/api/v1/nonconforming", &shenyang).await;
    let entries = list["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["agency"], 210100);
    assert_eq!(entries[0]["number"], number(&good));
    assert_eq!(
        entries[0]["reasons"].as_array().unwrap().len(),
        reasons.len()
    );
    assert_eq!(entries[0]["record"]["sex"], "2");
    // Another agency does not see it; the administrator does.
    let dalian = env.agency(210200);
    let other = env.get_json("/api/v1/nonconforming", &dalian).await;
    assert!(other["entries"].as_array().unwrap().is_empty());
    let all = env.get_json("/api/v1/nonconforming", &env.admin).await;
    assert_eq!(all["entries"].as_array().unwrap().len(), 1);
    let counts = testkit::blocking(|| env.state.store().begin().unwrap().counts().unwrap());
    assert_eq!((counts.versions, counts.nonconforming_open), (0, 1));

    env.advance(600);
    let answer = env.push(&shenyang, &[good]).await;
    assert_eq!(answer["results"][0]["result"], "issued", "{answer}");
    let open = env.get_json("/api/v1/nonconforming", &shenyang).await;
    assert!(open["entries"].as_array().unwrap().is_empty());
    let history = env
        .get_json("/api/v1/nonconforming?all=true", &shenyang)
        .await;
    assert_eq!(history["entries"][0]["resolved_at"], T0 + 600);

    // An administrator's push of a bad Dalian record lands on Dalian's list.
    let bad_dalian = testkit::records::nonconforming_dalian();
    let answer = env.push(&env.admin, &[bad_dalian]).await;
    assert_eq!(answer["results"][0]["result"], "non_conforming");
    let reasons = answer["results"][0]["reasons"].as_array().unwrap();
    assert!(
        reasons.iter().any(|r| r["rule"] == "id_number.check_digit"),
        "{answer}"
    );
    let list = env.get_json("/api/v1/nonconforming", &dalian).await;
    assert_eq!(list["entries"][0]["agency"], 210200);
}

#[tokio::test]
async fn revoke_suspend_and_reinstate_reach_verifiers_through_deltas() {
    let env = env();
    let records = all_samples();
    env.push(&env.admin, &records).await;
    let mut verifier = env.verifier().await;
    let start = verifier.cache.seq();
    let ysz = number(&records[3]);
    let qr = env.qr(CertType::YSZ, &ysz, None).await;
    assert!(verifier.check(&qr, env.now()).is_ok());

    // Up to date: nothing to fetch.
    let (status, _, _) = env
        .get(&format!("/api/v1/status-list/deltas?since={start}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    env.advance(10);
    let (status, changed) = env
        .set_status(&env.admin, CertType::YSZ, &ysz, "suspended")
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["status"], "suspended");
    assert_eq!(changed["status_seq"], start + 1);
    env.sync(&mut verifier).await;
    assert_eq!(
        verifier.check(&qr, env.now()).unwrap_err().reason,
        Reason::Suspended
    );

    let (status, _) = env
        .set_status(&env.admin, CertType::YSZ, &ysz, "valid")
        .await;
    assert_eq!(status, StatusCode::OK);
    env.sync(&mut verifier).await;
    assert!(verifier.check(&qr, env.now()).is_ok());

    // Shenyang's agency revokes its own certificate.
    let shenyang = env.agency(210100);
    let (status, _) = env
        .set_status(&shenyang, CertType::YSZ, &ysz, "revoked")
        .await;
    assert_eq!(status, StatusCode::OK);
    // The same change again is a no-op; leaving revoked is a conflict.
    let (status, _) = env
        .set_status(&shenyang, CertType::YSZ, &ysz, "revoked")
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = env
        .set_status(&shenyang, CertType::YSZ, &ysz, "valid")
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("revoked"));

    // A verifier still at the first list catches up in one delta: at
    // sequence `start` every certificate was valid.
    let mut behind = Verifier {
        trust: env.trust().await,
        cache: StatusCache::from_snapshot(shared::status::StatusSnapshot {
            seq: start,
            list: shared::status::StatusList::new(0).unwrap(),
        }),
        manifest: verifier.manifest,
    };
    env.sync(&mut behind).await;
    let no = behind.check(&qr, env.now()).unwrap_err();
    assert_eq!((no.verdict, no.reason), (Verdict::Invalid, Reason::Revoked));
    env.sync(&mut verifier).await;
    assert_eq!(
        verifier.check(&qr, env.now()).unwrap_err().reason,
        Reason::Revoked
    );
    // Other certificates are untouched.
    let qc = env.qr(CertType::QC, &number(&records[0]), None).await;
    assert!(verifier.check(&qc, env.now()).is_ok());

    // A changed record of a revoked certificate is refused.
    let mut changed = records[3].clone();
    changed.owner_address = Some("辽宁省沈阳市铁西区北二中路1号".into());
    let answer = env.push(&env.admin, &[changed]).await;
    assert_eq!(answer["results"][0]["result"], "refused");
    assert_eq!(
        answer["results"][0]["reasons"][0]["rule"],
        "certificate_revoked"
    );

    // Bad and unknown sequence numbers.
    let (s, h, b) = env
        .get("/api/v1/status-list/deltas?since=99999", None)
        .await;
    assert_problem(s, &h, &b, StatusCode::BAD_REQUEST);
    let (s, h, b) = env.get("/api/v1/status-list/deltas?since=-1", None).await;
    assert_problem(s, &h, &b, StatusCode::BAD_REQUEST);
    let (s, h, b) = env.get("/api/v1/status-list/deltas", None).await;
    assert_problem(s, &h, &b, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn lists_have_strong_etags_and_answer_304() {
    let env = env();
    for uri in ["/api/v1/trust-list", "/api/v1/status-list"] {
        let (status, headers, body) = env.get(uri, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=60");
        let etag = headers[header::ETAG].to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"));
        // Deterministic signatures: the same sequence gives the same bytes.
        let (_, again, body2) = env.get(uri, None).await;
        assert_eq!(
            (again[header::ETAG].to_str().unwrap(), &body2),
            (etag.as_str(), &body)
        );
        let (status, headers, body) = env
            .call(Method::GET, uri, None, &[("if-none-match", &etag)], None)
            .await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
        assert_eq!(headers[header::ETAG].to_str().unwrap(), etag);
        let (status, _, _) = env
            .call(
                Method::GET,
                uri,
                None,
                &[("if-none-match", "\"other\"")],
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    // A revocation changes the status list's ETag, not the trust list's.
    env.push(&env.admin, &[sample_record(CertType::WYJ)]).await;
    let (_, before, _) = env.get("/api/v1/status-list", None).await;
    let (_, trust_before, _) = env.get("/api/v1/trust-list", None).await;
    let n = number(&sample_record(CertType::WYJ));
    env.set_status(&env.admin, CertType::WYJ, &n, "revoked")
        .await;
    let (_, after, _) = env.get("/api/v1/status-list", None).await;
    let (_, trust_after, _) = env.get("/api/v1/trust-list", None).await;
    assert_ne!(before[header::ETAG], after[header::ETAG]);
    assert_eq!(trust_before[header::ETAG], trust_after[header::ETAG]);

    // After half the ttl both lists are re-signed at a new sequence, so a
    // syncing verifier never holds data older than the ttl.
    let mut verifier = env.verifier().await;
    let trust_seq = verifier.trust.seq;
    env.advance(86_400 + 1);
    env.sync(&mut verifier).await;
    assert_eq!(verifier.manifest.issued_at, env.now());
    assert_eq!(verifier.manifest.ttl, 2 * 86_400);
    assert_eq!(verifier.manifest.max_age, 7 * 86_400);
    assert_eq!(env.trust().await.seq, trust_seq + 1);

    // While a push holds the store, verifiers' syncs of lists already
    // signed are answered from memory instead of waiting.
    let seq = verifier.cache.seq();
    let uris = [
        "/api/v1/trust-list".to_string(),
        "/api/v1/status-list".to_string(),
        format!("/api/v1/status-list/deltas?since={seq}"),
        format!("/api/v1/status-list/deltas?since={}", seq - 1),
    ];
    for uri in &uris {
        env.get(uri, None).await;
    }
    // A transaction held open on a thread of its own (the PostgreSQL
    // client must not block this test's async thread).
    let (opened_tx, opened) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let state = env.state.clone();
    let holder = std::thread::spawn(move || {
        let held = state.store().begin().unwrap();
        opened_tx.send(()).unwrap();
        let _ = released.recv();
        drop(held);
    });
    opened.recv().unwrap();
    let within = std::time::Duration::from_secs(5);
    for uri in uris {
        let (status, _, _) = tokio::time::timeout(within, env.get(&uri, None))
            .await
            .unwrap_or_else(|_| panic!("{uri} waited for the store"));
        assert!(status.is_success(), "{uri}: {status}");
    }
    release.send(()).unwrap();
    holder.join().unwrap();
}

#[tokio::test]
async fn authentication_roles_and_problem_details() {
    let env = env();
    let body = serde_json::to_vec(&json!({ "records": [sample_record(CertType::QC)] })).unwrap();
    let audit_before =
        testkit::blocking(|| env.state.store().begin().unwrap().counts().unwrap()).audit;

    // No token, a wrong token.
    let (s, h, b) = env
        .call(
            Method::POST,
            "/api/v1/records",
            None,
            &[],
            Some(body.clone()),
        )
        .await;
    assert_problem(s, &h, &b, StatusCode::UNAUTHORIZED);
    assert!(h[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let (s, h, b) = env
        .call(
            Method::POST,
            "/api/v1/records",
            Some("lnv1_00"),
            &[],
            Some(body.clone()),
        )
        .await;
    assert_problem(s, &h, &b, StatusCode::UNAUTHORIZED);

    // An auditor may not push.
    let auditor = testkit::token(&env.state, Role::Auditor, None, "a", T0);
    let (s, h, b) = env
        .call(
            Method::POST,
            "/api/v1/records",
            Some(&auditor),
            &[],
            Some(body.clone()),
        )
        .await;
    let p = assert_problem(s, &h, &b, StatusCode::FORBIDDEN);
    assert!(p["detail"].as_str().unwrap().contains("auditor"));

    // Dalian's agency pushing a Shenyang record: refused, nothing stored.
    let dalian = env.agency(210200);
    let answer = env
        .push(
            &dalian,
            &[sample_record(CertType::QC), sample_record(CertType::WYJ)],
        )
        .await;
    assert_eq!(answer["results"][0]["result"], "refused");
    assert_eq!(
        answer["results"][0]["reasons"][0]["rule"],
        "division_not_allowed"
    );
    assert_eq!(
        answer["results"][0]["reasons"][0]["field"],
        "issuer_division"
    );
    assert_eq!(
        answer["results"][1]["result"], "issued",
        "Dalian's own record"
    );
    // ... and may neither read, revoke nor take over another city's
    // certificate.
    env.push(&env.admin, &[sample_record(CertType::QC)]).await;
    let mut takeover = sample_record(CertType::QC);
    takeover.issuer_division = Some("210200".into());
    takeover.issuer_uscc = Some("11210200002418371B".into());
    takeover.issuer_name = Some("大连市交通运输局".into());
    let answer = env.push(&dalian, &[takeover]).await;
    assert_eq!(answer["results"][0]["result"], "refused", "{answer}");
    assert_eq!(answer["results"][0]["reasons"][0]["field"], "number");
    assert_eq!(
        answer["results"][0]["reasons"][0]["rule"],
        "division_not_allowed"
    );
    // The refusal says "not yours" without naming whose it is.
    let refusal = answer["results"][0]["reasons"][0].to_string();
    assert!(
        !refusal.contains("210100") && !refusal.contains("沈阳"),
        "{refusal}"
    );
    assert!(refusal.contains("210200"), "{refusal}");
    let n = number(&sample_record(CertType::QC));
    // Another city's certificate is answered like a missing one.
    let (status, p) = env.set_status(&dalian, CertType::QC, &n, "revoked").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{p}");
    let (s, h, b) = env
        .get(&format!("/api/v1/certificates/QC/{n}"), Some(&dalian))
        .await;
    assert_problem(s, &h, &b, StatusCode::NOT_FOUND);

    // Malformed bodies say where.
    for (bad, needle) in [
        (b"{".to_vec(), "line 1"),
        (b"{\"records\": 5}".to_vec(), "records"),
        (b"[]".to_vec(), "records"),
    ] {
        let (s, h, b) = env
            .call(
                Method::POST,
                "/api/v1/records",
                Some(&env.admin),
                &[],
                Some(bad),
            )
            .await;
        let p = assert_problem(s, &h, &b, StatusCode::BAD_REQUEST);
        assert!(p["detail"].as_str().unwrap().contains(needle), "{p}");
    }
    // A record that is not an object is malformed, the others go through.
    let mixed =
        serde_json::to_vec(&json!({ "records": [42, sample_record(CertType::WYJ)] })).unwrap();
    let (s, _, b) = env
        .call(
            Method::POST,
            "/api/v1/records",
            Some(&env.admin),
            &[],
            Some(mixed),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["results"][0]["result"], "malformed");
    assert_eq!(v["results"][1]["result"], "unchanged");

    // Too many records; too large a body.
    let many = serde_json::to_vec(&json!({ "records": vec![json!({}); 5001] })).unwrap();
    let (s, h, b) = env
        .call(
            Method::POST,
            "/api/v1/records",
            Some(&env.admin),
            &[],
            Some(many),
        )
        .await;
    assert_problem(s, &h, &b, StatusCode::PAYLOAD_TOO_LARGE);
    let huge = vec![b' '; 8 * 1024 * 1024 + 1];
    let (s, h, b) = env
        .call(
            Method::POST,
            "/api/v1/records",
            Some(&env.admin),
            &[],
            Some(huge),
        )
        .await;
    assert_problem(s, &h, &b, StatusCode::PAYLOAD_TOO_LARGE);

    // Unknown things; a bad query string.
    let (s, h, b) = env
        .get("/api/v1/certificates/QC/1?version=abc", Some(&env.admin))
        .await;
    let p = assert_problem(s, &h, &b, StatusCode::BAD_REQUEST);
    assert!(p["detail"].as_str().unwrap().contains("version"), "{p}");
    let (s, h, b) = env.get("/api/v1/nothing", None).await;
    assert_problem(s, &h, &b, StatusCode::NOT_FOUND);
    let (s, h, b) = env.get("/api/v1/certificates/XX/1", Some(&env.admin)).await;
    assert_problem(s, &h, &b, StatusCode::NOT_FOUND);
    let (status, _) = env
        .set_status(&env.admin, CertType::FSX, "210100000001", "revoked")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Every one of those requests left an audit row.
    let (audit_after, tail) = testkit::blocking(|| {
        let mut tx = env.state.store().begin().unwrap();
        (tx.counts().unwrap().audit, tx.audit_tail(100).unwrap())
    });
    assert!(
        audit_after >= audit_before + 16,
        "{audit_before} -> {audit_after}"
    );
    assert!(tail
        .iter()
        .any(|e| e.outcome.starts_with("unauthenticated")));
    for outcome in [
        "403 forbidden",
        "413 too-large",
        "400 bad-request",
        "404 not-found",
    ] {
        assert!(tail.iter().any(|e| e.outcome == outcome), "{outcome}");
    }
}

#[tokio::test]
async fn acknowledged_data_survives_a_reopen() {
    let env = env();
    let records = all_samples();
    env.push(&env.admin, &records).await;
    let n = number(&records[0]);
    env.set_status(&env.admin, CertType::QC, &n, "suspended")
        .await;
    let qr = env.qr(CertType::WYJY, &number(&records[8]), None).await;
    let (_, _, trust_bytes) = env.get("/api/v1/trust-list", None).await;
    let (_, _, status_bytes) = env.get("/api/v1/status-list", None).await;
    let root = env.state.root_public_key();
    let counts = testkit::blocking(|| env.state.store().begin().unwrap().counts().unwrap());
    // The same data directory, opened again.
    let env = Env(env.0.reopen());
    assert_eq!(env.state.root_public_key(), root, "same keys after reopen");
    assert_eq!(
        testkit::blocking(|| env.state.store().begin().unwrap().counts().unwrap()),
        counts
    );
    let (_, _, trust_again) = env.get("/api/v1/trust-list", None).await;
    let (_, _, status_again) = env.get("/api/v1/status-list", None).await;
    assert_eq!(trust_again, trust_bytes);
    assert_eq!(status_again, status_bytes);
    let verifier = env.verifier().await;
    assert!(verifier.check(&qr, env.now()).is_ok());
    let qc = env.qr(CertType::QC, &n, None).await;
    assert_eq!(
        verifier.check(&qc, env.now()).unwrap_err().reason,
        Reason::Suspended
    );
    // The token still works and a re-push is unchanged.
    let again = env.push(&env.admin, &records).await;
    assert_eq!(again["summary"]["unchanged"], 9);
    // Secrets are private files.
    use std::os::unix::fs::PermissionsExt as _;
    for entry in std::fs::read_dir(env.data().join("keys")).unwrap() {
        let mode = entry.unwrap().metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn each_agencys_last_push_and_whether_it_is_overdue() {
    let env = env();
    let shenyang = env.agency(210100);
    let dalian = env.agency(210200);
    // T0 is Monday 10:00 China Standard Time.
    env.push(
        &shenyang,
        &[sample_record(CertType::QC), sample_record(CertType::YSZ)],
    )
    .await;
    let all = env.get_json("/api/v1/agencies/pushes", &env.admin).await;
    let agencies = all["agencies"].as_array().unwrap();
    assert_eq!(agencies.len(), 15, "the province and 14 cities");
    let find = |v: &Value, d: u32| {
        v["agencies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["division"] == d)
            .cloned()
            .unwrap()
    };
    let sy = find(&all, 210100);
    assert_eq!(sy["name"], "沈阳市交通运输局");
    assert_eq!(sy["last_push_at"], T0);
    assert_eq!(sy["last_push_records"], 2);
    assert_eq!(sy["overdue"], false);
    // Due by Thursday 00:00 CST: the end of Wednesday, two working days on.
    let thursday = T0 + 62 * 3600;
    assert_eq!(sy["due_by"], thursday);
    let dl = find(&all, 210200);
    assert_eq!(
        (dl["overdue"].clone(), dl["last_push_at"].clone()),
        (json!(true), Value::Null)
    );

    env.advance(thursday - T0 - 1);
    let all = env.get_json("/api/v1/agencies/pushes", &env.admin).await;
    assert_eq!(find(&all, 210100)["overdue"], false);
    env.advance(1);
    let all = env.get_json("/api/v1/agencies/pushes", &env.admin).await;
    assert_eq!(find(&all, 210100)["overdue"], true);

    // An agency sees its own entry only; an identical re-push counts.
    let own = env.get_json("/api/v1/agencies/pushes", &dalian).await;
    assert_eq!(own["agencies"].as_array().unwrap().len(), 1);
    assert_eq!(own["agencies"][0]["division"], 210200);
    env.push(&shenyang, &[sample_record(CertType::QC)]).await;
    let all = env.get_json("/api/v1/agencies/pushes", &env.admin).await;
    assert_eq!(find(&all, 210100)["overdue"], false);
    assert_eq!(find(&all, 210100)["last_push_records"], 1);
}

#[tokio::test]
async fn public_catalogue_and_health() {
    let env = env();
    let (s, _, b) = env.get("/healthz", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<Value>(&b).unwrap()["status"], "ok");
    let (s, _, b) = env.get("/api/v1/catalogue", None).await;
    assert_eq!(s, StatusCode::OK);
    let catalogue: Value = serde_json::from_slice(&b).unwrap();
    let codes: Vec<&str> = catalogue
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, CertType::ALL.map(CertType::code));
}

#[tokio::test]
async fn serves_over_a_real_socket_and_shuts_down_gracefully() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let env = env();
    let server = testkit::SocketServer::start(env.state.clone()).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /api/v1/trust-list HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: application/cose"));
    TrustList::verify(&response[split + 4..], &env.state.root_public_key()).unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_push_past_its_deadline_or_a_slow_request_stores_nothing() {
    let env = env();
    let admin = verifier_server::auth::Caller {
        client_addr: None,
        subject: "admin".into(),
        token_id: 1,
        role: Role::Admin,
        division: None,
        province: shared::domain::DivisionCode::PROVINCE,
    };
    let records: Vec<Value> = all_samples().iter().map(|r| json!(r)).collect();
    let past = std::time::Instant::now();
    let err = testkit::blocking(|| {
        verifier_server::issuing::push(
            env.state.store(),
            &env.state.keys(),
            &admin,
            env.now(),
            records,
            Some(past),
        )
    })
    .unwrap_err();
    assert!(matches!(
        err,
        verifier_server::issuing::PushError::Deadline {
            processed: 0,
            total: 9
        }
    ));
    let counts = testkit::blocking(|| env.state.store().begin().unwrap().counts().unwrap());
    assert_eq!((counts.certificates, counts.versions), (0, 0));

    // A request over the time limit is answered 503 with problem details.
    let config = Config {
        limits: verifier_server::Limits {
            request_timeout: std::time::Duration::ZERO,
            ..verifier_server::Limits::default()
        },
        ..Config::default()
    };
    // The same data directory (database and keys) opened with that limit.
    let state = testkit::open_state(env.data(), Alg::EdDSA, config, env.clock.clock()).unwrap();
    let body = serde_json::to_vec(&json!({ "records": all_samples() })).unwrap();
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/records")
        .header(header::AUTHORIZATION, format!("Bearer {}", env.admin))
        .body(Body::from(body))
        .unwrap();
    let response = app(state).oneshot(req).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_problem(status, &headers, &body, StatusCode::SERVICE_UNAVAILABLE);
    let counts = testkit::blocking(|| env.state.store().begin().unwrap().counts().unwrap());
    assert_eq!((counts.certificates, counts.versions), (0, 0));
}
