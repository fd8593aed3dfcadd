//! Officer device enrollment and check-log ingestion, in process through
//! the router: idempotent enrollment, chained uploads in batches, retries,
//! forged, reordered and foreign batches, and the fields the server derives
//! by re-verifying scanned texts itself.

use std::ops::Deref;

use axum::http::{Method, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use shared::checklog::{self, CertRef, ChainHead, Check, Disposition, Event, Sealed};
use shared::cose::{self, Sign1};
use shared::crypto::{Alg, SigningKey};
use shared::domain::{sample_record, CertType};
use shared::presentation;
use shared::qrtext::{self, Kind};
use shared::verify::{Reason, Verdict, MAX_CERTIFICATE_LEN};
use shared::wire::Claims;
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

fn key(seed: u8) -> SigningKey {
    SigningKey::from_secret_bytes(Alg::EdDSA, &[seed; 32]).unwrap()
}

impl Env {
    fn token(&self, role: Role, division: Option<u32>) -> String {
        testkit::token(&self.state, role, division, "test", T0)
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let (status, _, bytes) = self
            .0
            .call(
                method,
                uri,
                Some(token),
                &[("content-type", content_type)],
                Some(body),
            )
            .await;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    async fn get(&self, uri: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, uri, token, "application/json", Vec::new())
            .await
    }

    async fn enroll_raw(&self, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/api/v1/devices",
            token,
            "application/json",
            serde_json::to_vec(&body).unwrap(),
        )
        .await
    }

    async fn enroll(&self, token: &str, device: &SigningKey) -> (StatusCode, Value) {
        let alg = match device.alg() {
            Alg::EdDSA => "EdDSA",
            Alg::Sm2Sm3 => "SM2-SM3",
        };
        self.enroll_raw(
            token,
            json!({
                "alg": alg,
                "public_key": URL_SAFE_NO_PAD.encode(device.public_key().to_bytes()),
                "label": "patrol car 7",
            }),
        )
        .await
    }

    async fn upload(&self, token: &str, batch: Vec<u8>) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/api/v1/verification-logs",
            token,
            "application/cose",
            batch,
        )
        .await
    }

    async fn head(&self, token: &str, device: &SigningKey) -> (StatusCode, Value) {
        let uri = format!("/api/v1/verification-logs/head?kid={}", device.kid());
        self.get(&uri, token).await
    }

    async fn records(&self, device_id: i64) -> Vec<Value> {
        let auditor = self.token(Role::Auditor, None);
        let uri = format!("/api/v1/verification-logs?device_id={device_id}&limit=1000");
        let (status, v) = self.get(&uri, &auditor).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v["records"].as_array().unwrap().clone()
    }

    /// Issues the nine sample certificates; their QR texts.
    async fn certificates(&self) -> Vec<String> {
        let records: Vec<_> = CertType::ALL.into_iter().map(sample_record).collect();
        let body = serde_json::to_vec(&json!({ "records": records })).unwrap();
        let (status, v) = self
            .call(
                Method::POST,
                "/api/v1/records",
                &self.admin,
                "application/json",
                body,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let mut out = Vec::new();
        for r in &records {
            let uri = format!(
                "/api/v1/certificates/{}/{}",
                r.cert_type.as_deref().unwrap(),
                r.number.as_deref().unwrap()
            );
            let (status, v) = self.get(&uri, &self.admin).await;
            assert_eq!(status, StatusCode::OK, "{v}");
            out.push(v["qr"].as_str().unwrap().to_string());
        }
        out
    }
}

fn check(verdict: Verdict, scanned: Option<&str>) -> Event {
    let reason = match verdict {
        Verdict::Valid => None,
        Verdict::Invalid => Some(Reason::BadSignature),
        Verdict::CannotConfirm => Some(Reason::NoStatusData),
    };
    Event::Check(Check {
        verdict,
        reason,
        scanned: scanned.map(str::to_string),
        cert: Some(CertRef {
            cert_type: CertType::QC,
            number: "210102198503122434".into(),
            version: 1,
        }),
        status_seq: Some(3),
        trust_seq: Some(1),
        warnings: Vec::new(),
        data_age: Some(60),
    })
}

/// `n` records continuing `head`: checks, every fourth a disposition.
fn chain_from(head: &mut ChainHead, n: u64) -> Vec<Sealed> {
    (0..n)
        .map(|_| {
            let seq = head.next_seq;
            let event = if seq % 4 == 3 {
                Event::Disposition(Disposition {
                    check_seq: seq - 1,
                    accepted: true,
                    note: String::new(),
                })
            } else {
                check(Verdict::Valid, Some("LC1:NOTREAL"))
            };
            let (sealed, next) = head.append(T0 + seq as i64, event);
            *head = next;
            sealed
        })
        .collect()
}

fn sign(records: &[Sealed], device: &SigningKey) -> Vec<u8> {
    let refs: Vec<&[u8]> = records.iter().map(|s| s.bytes.as_slice()).collect();
    checklog::sign_batch(&refs, device)
}

fn detail(v: &Value) -> String {
    v["detail"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn enrollment_is_idempotent_per_token_and_checks_keys_and_roles() {
    let env = env();
    let officer = env.token(Role::Officer, Some(210100));
    let device = key(7);
    let (status, first) = env.enroll(&officer, &device).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["kid"], device.kid().to_hex());
    assert_eq!(first["division"], 210100);
    let root = env.state.root_public_key();
    assert_eq!(first["root"]["kid"], root.kid().to_hex());
    assert_eq!(first["root"]["alg"], "EdDSA");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(first["root"]["public_key"].as_str().unwrap())
            .unwrap(),
        root.to_bytes()
    );
    // Again with the same token: the same answer, 200.
    let (status, again) = env.enroll(&officer, &device).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first);
    // The same officer enrolls a second phone.
    let (status, second) = env.enroll(&officer, &key(8)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(second["device_id"], first["device_id"]);
    // An SM2 device.
    let sm2 = SigningKey::from_secret_bytes(Alg::Sm2Sm3, &[9; 32]).unwrap();
    assert_eq!(sm2.public_key().to_bytes().len(), 65);
    let (status, v) = env.enroll(&officer, &sm2).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    // The same key under another officer's token.
    let other = env.token(Role::Officer, Some(210200));
    let (status, v) = env.enroll(&other, &device).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(detail(&v).contains("another officer token"), "{v}");

    // Weak, malformed and mislabelled keys name the field.
    let mut small_order = [0u8; 32];
    small_order[0] = 1; // the identity point
    let cases = [
        (
            json!({"alg": "EdDSA", "public_key": URL_SAFE_NO_PAD.encode(small_order)}),
            "public_key",
        ),
        (
            json!({"alg": "EdDSA", "public_key": URL_SAFE_NO_PAD.encode([5u8; 31])}),
            "public_key",
        ),
        (
            json!({"alg": "EdDSA", "public_key": "not/base64+"}),
            "public_key",
        ),
        (
            json!({"alg": "SM2-SM3", "public_key": URL_SAFE_NO_PAD.encode([4u8; 65])}),
            "public_key",
        ),
        (
            json!({"alg": "RSA", "public_key": URL_SAFE_NO_PAD.encode(device.public_key().to_bytes())}),
            "alg",
        ),
    ];
    for (body, field) in cases {
        let (status, v) = env.enroll_raw(&officer, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert!(detail(&v).starts_with(&format!("{field}:")), "{body}: {v}");
    }
    let (status, _) = env.enroll_raw(&officer, json!({"public_key": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Only officers enroll devices.
    for token in [
        env.admin.clone(),
        env.token(Role::Agency, Some(210100)),
        env.token(Role::Auditor, None),
    ] {
        let (status, _) = env.enroll(&token, &key(10)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn a_chain_in_batches_with_retries_overlaps_gaps_forgeries_and_foreign_batches() {
    let env = env();
    let officer = env.token(Role::Officer, Some(210100));
    let device = key(1);
    let (_, enrolled) = env.enroll(&officer, &device).await;
    let device_id = enrolled["device_id"].as_i64().unwrap();
    let mut head = ChainHead::default();
    let records = chain_from(&mut head, 12);

    // Three batches.
    let mut answers = Vec::new();
    for part in [&records[0..4], &records[4..9], &records[9..12]] {
        let (status, v) = env.upload(&officer, sign(part, &device)).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        answers.push(v);
    }
    assert_eq!(answers[0]["accepted"], 4);
    assert_eq!(answers[1]["accepted"], 5);
    assert_eq!(answers[2]["accepted"], 3);
    assert_eq!(answers[2]["next_seq"], 12);
    assert_eq!(answers[2]["head"], hex::encode(records[11].hash));
    let (status, h) = env.head(&officer, &device).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        h,
        json!({"next_seq": 12, "head": hex::encode(records[11].hash)})
    );

    // A retried batch: duplicates, nothing changes.
    let (status, v) = env.upload(&officer, sign(&records[4..9], &device)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v,
        json!({"accepted": 0, "duplicates": 5, "next_seq": 12, "head": h["head"]})
    );
    let stored = env.records(device_id).await;
    assert_eq!(stored.len(), 12);
    for (s, r) in stored.iter().zip(&records) {
        assert_eq!(s["hash"], hex::encode(r.hash));
    }

    // An overlapping batch: the old part counted as duplicates.
    let more = chain_from(&mut head, 4);
    let mut overlap = records[10..12].to_vec();
    overlap.extend(more[..2].iter().cloned());
    let (status, v) = env.upload(&officer, sign(&overlap, &device)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["accepted"], 2);
    assert_eq!(v["duplicates"], 2);
    assert_eq!(v["next_seq"], 14);

    // A gap: seq 15 while 14 is expected.
    let (status, v) = env.upload(&officer, sign(&more[3..], &device)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(detail(&v).contains("expected seq 14"), "{v}");

    // Reordered records inside a batch.
    let mut reordered = more[2..4].to_vec();
    reordered.swap(0, 1);
    let (status, v) = env.upload(&officer, sign(&reordered, &device)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        detail(&v).contains("record 0 of the batch") || detail(&v).contains("record 1"),
        "{v}"
    );

    // A forged history: seq 5 with another verdict (the device re-signs a
    // rewritten chain from there), followed by a new record: 409, and not
    // even the new record is stored.
    let mut forged_head = ChainHead {
        next_seq: 5,
        head: records[4].hash,
    };
    let (forged, next) = forged_head.append(T0 + 5, check(Verdict::Invalid, Some("LC1:NOTREAL")));
    forged_head = next;
    let mut forged_batch = vec![forged];
    forged_batch.extend(chain_from(&mut forged_head, 10));
    let (status, v) = env.upload(&officer, sign(&forged_batch, &device)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(detail(&v).contains("seq 5"), "{v}");
    let (_, h) = env.head(&officer, &device).await;
    assert_eq!(h["next_seq"], 14);
    assert_eq!(env.records(device_id).await.len(), 14);

    // A fork: the right next seq but a prev that is not the accepted head.
    let mut fork = ChainHead {
        next_seq: 14,
        head: [7; 32],
    };
    let (status, v) = env
        .upload(&officer, sign(&chain_from(&mut fork, 2), &device))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        detail(&v).contains("prev does not match the accepted record 13"),
        "{v}"
    );

    // Signed by another enrolled device's key but naming this device's kid.
    let other = key(2);
    assert_eq!(env.enroll(&officer, &other).await.0, StatusCode::CREATED);
    let mut batch = sign(&more[2..], &device);
    let tbs = Sign1::parse(&batch, checklog::MAX_BATCH_LEN)
        .unwrap()
        .to_be_signed()
        .to_vec();
    let signature = other.sign(&tbs);
    let at = batch.len() - signature.len();
    batch[at..].copy_from_slice(&signature);
    let (status, v) = env.upload(&officer, batch).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(detail(&v).contains("signature does not verify"), "{v}");

    // A device enrolled under another officer's token.
    let colleague = env.token(Role::Officer, Some(210100));
    let theirs = key(3);
    assert_eq!(env.enroll(&colleague, &theirs).await.0, StatusCode::CREATED);
    let their_batch = sign(&chain_from(&mut ChainHead::default(), 2), &theirs);
    // It is answered like a key never enrolled, which does not tell that
    // the key exists.
    let (status, v) = env.upload(&officer, their_batch.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(detail(&v).contains("not enrolled under this token"), "{v}");
    assert_eq!(env.head(&officer, &theirs).await.0, StatusCode::NOT_FOUND);
    assert_eq!(env.upload(&colleague, their_batch).await.0, StatusCode::OK);
    // A device nobody enrolled, and garbage.
    let (status, _) = env
        .upload(
            &officer,
            sign(&chain_from(&mut ChainHead::default(), 1), &key(4)),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(env.head(&officer, &key(4)).await.0, StatusCode::NOT_FOUND);
    let (status, _) = env.upload(&officer, b"not cose".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Everything accepted is still there, and it continues normally.
    let (status, v) = env.upload(&officer, sign(&more[2..], &device)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["next_seq"], 16);
    let stored = env.records(device_id).await;
    assert_eq!(stored.len(), 16);
    assert_eq!(stored[3]["kind"], "disposition");
    assert_eq!(stored[3]["check_seq"], 2);

    // Listing is for administrators and auditors only; paging works.
    let uri = format!("/api/v1/verification-logs?device_id={device_id}");
    assert_eq!(env.get(&uri, &officer).await.0, StatusCode::FORBIDDEN);
    let (status, page) = env.get(&format!("{uri}&after=5&limit=4"), &env.admin).await;
    assert_eq!(status, StatusCode::OK);
    let seqs: Vec<_> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].clone())
        .collect();
    assert_eq!(seqs, [6, 7, 8, 9]);
    assert_eq!(page["next_after"], 9);
    assert_eq!(
        env.get("/api/v1/verification-logs", &env.admin).await.0,
        StatusCode::BAD_REQUEST
    );
}

/// The served certificate re-signed by the server's issuer key with a
/// holder key: a genuine holder-bound certificate (issuing does not bind
/// holders yet).
fn holder_bound(env: &Env, qr: &str, holder: &SigningKey) -> Vec<u8> {
    let (_, envelope) = qrtext::decode(qr).unwrap();
    let sign1 = Sign1::parse(&envelope, MAX_CERTIFICATE_LEN).unwrap();
    let mut claims = Claims::from_cbor(sign1.payload()).unwrap();
    claims.holder_key = Some(holder.public_key());
    cose::sign(claims.to_cbor(), &env.state.keys().issuer, true)
}

#[tokio::test]
async fn the_server_re_verifies_what_was_scanned() {
    let env = env();
    let certificates = env.certificates().await;
    let qr = &certificates[0];
    // A byte of the signed claims altered.
    let (_, mut envelope) = qrtext::decode(qr).unwrap();
    let i = envelope.len() / 2;
    envelope[i] ^= 0x01;
    let tampered = qrtext::encode(Kind::Certificate, &envelope);
    // A holder-bound certificate, presented live and as an old screenshot.
    let holder = key(42);
    let bound = holder_bound(&env, &certificates[3], &holder);
    let live = qrtext::encode(
        Kind::Presentation,
        &presentation::present(&bound, &holder, T0),
    );
    let stale = qrtext::encode(
        Kind::Presentation,
        &presentation::present(&bound, &holder, T0 - 3_600),
    );
    let wrong_holder = qrtext::encode(
        Kind::Presentation,
        &presentation::present(&bound, &key(43), T0),
    );
    let bound_plain = qrtext::encode(Kind::Certificate, &bound);

    let officer = env.token(Role::Officer, Some(210100));
    let device = key(1);
    let (_, enrolled) = env.enroll(&officer, &device).await;
    let mut head = ChainHead::default();
    let scans: [(&str, Option<&str>); 7] = [
        ("genuine", Some(qr)),
        ("tampered", Some(&tampered)),
        ("live presentation", Some(&live)),
        ("screenshot", Some(&stale)),
        ("wrong holder", Some(&wrong_holder)),
        ("bound, no presentation", Some(&bound_plain)),
        ("nothing scanned", None),
    ];
    let mut records = Vec::new();
    for (_, text) in scans {
        let (s, next) = head.append(T0, check(Verdict::Valid, text));
        head = next;
        records.push(s);
    }
    // The device claims all were valid; the officer refused the first.
    let (s, _) = head.append(
        T0 + 5,
        Event::Disposition(Disposition {
            check_seq: 0,
            accepted: false,
            note: "拒绝".into(),
        }),
    );
    records.push(s);
    let (status, v) = env.upload(&officer, sign(&records, &device)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let stored = env.records(enrolled["device_id"].as_i64().unwrap()).await;

    let expect: [(bool, bool, Option<&str>); 7] = [
        (true, false, None),
        (false, false, Some("bad_signature")),
        (true, true, None),
        (true, false, Some("presentation_outside_window")),
        (true, false, Some("holder_signature_invalid")),
        (true, false, Some("presentation_required")),
        (false, false, None),
    ];
    for (i, ((name, _), (signature, presented, reason))) in scans.iter().zip(expect).enumerate() {
        let r = &stored[i];
        assert_eq!(r["verdict"], "valid", "{name}: the device's claim is kept");
        assert_eq!(r["signature_verified"], signature, "{name}: {r}");
        assert_eq!(r["presentation_verified"], presented, "{name}: {r}");
        assert_eq!(r["server_reason"], json!(reason), "{name}: {r}");
    }
    assert_eq!(stored[0]["server_cert_type"], CertType::ALL[0].code());
    let sample_division = sample_record(CertType::ALL[0]).issuer_division.unwrap();
    assert_eq!(
        stored[0]["server_division"].to_string(),
        sample_division.trim()
    );
    assert!(stored[0]["server_cert_number"].is_string());
    assert_eq!(stored[2]["server_cert_type"], CertType::ALL[3].code());
    assert!(stored[1]["server_cert_number"].is_null());
    assert_eq!(stored[0]["scanned"], json!(qr));
    assert_eq!(stored[7]["kind"], "disposition");
    assert_eq!(stored[7]["accepted"], false);
    assert!(stored[7]["signature_verified"].is_null());
}

/// Online lookup (issue 11): officers only, exactly one key, the verdict and
/// the minimum fields but never the QR text, an audit row per lookup, a
/// per-token rate limit; the device's lookup record (kind 2) is ingested.
#[tokio::test]
async fn lookup_roles_answer_audit_rate_limit_and_log() {
    use shared::checklog::{Lookup, LookupBy};
    let e = env();
    let qrs = e.certificates().await;
    let officer = e.token(Role::Officer, Some(210100));
    let ysz = sample_record(CertType::YSZ);
    let plate = ysz.plate.clone().unwrap();
    let qc = sample_record(CertType::QC);

    // Roles: only officers.
    let uri = format!("/api/v1/lookup?number={}", ysz.number.as_deref().unwrap());
    for role in [Role::Admin, Role::Auditor, Role::Holder] {
        let t = e.token(role, None);
        let (status, v) = e.get(&uri, &t).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}: {v}");
    }
    let agency = e.token(Role::Agency, Some(210100));
    assert_eq!(e.get(&uri, &agency).await.0, StatusCode::FORBIDDEN);

    // By plate (percent-encoded Chinese), by ID number, by number.
    let by_plate = format!("/api/v1/lookup?plate={}", url_escape(&plate));
    let (status, v) = e.get(&by_plate, &officer).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["verdict"], "valid", "{v}");
    assert_eq!(v["by"], "plate");
    let r = &v["results"][0];
    assert_eq!(r["face"]["cert_type"]["code"], "YSZ");
    assert_eq!(r["face"]["number_printed"], "辽交运管沈字210100165715号");
    assert_eq!(r["face"]["issuer_name"], "沈阳市交通运输局");
    assert_eq!(r["face"]["inspection"]["due"], "2026-09-30");
    // Never the signed QR text, nor anything that decodes as one.
    let text = v.to_string();
    for qr in &qrs {
        assert!(!text.contains(&qr[4..40]), "QR text leaked: {text}");
    }
    assert!(!text.contains("LC1:") && !text.contains("LP1:"), "{text}");

    let (status, v) = e
        .get(
            &format!(
                "/api/v1/lookup?id_number={}",
                qc.id_number.as_deref().unwrap()
            ),
            &officer,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["results"][0]["face"]["cert_type"]["code"], "QC");
    let id_line = v["results"][0]["face"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key"] == "id_number")
        .unwrap()["value"]
        .clone();
    assert_eq!(id_line, "210102********2434", "the ID number is masked");

    // Revoked: invalid with the reason.
    e.call(
        Method::POST,
        &format!(
            "/api/v1/certificates/YSZ/{}/status",
            ysz.number.as_deref().unwrap()
        ),
        &e.admin,
        "application/json",
        serde_json::to_vec(&json!({"status": "revoked"})).unwrap(),
    )
    .await;
    let (_, v) = e.get(&uri, &officer).await;
    assert_eq!(
        (v["verdict"].as_str(), v["reason"].as_str()),
        (Some("invalid"), Some("revoked")),
        "{v}"
    );

    // Nothing found: cannot confirm, never invalid.
    let (status, v) = e.get("/api/v1/lookup?number=999999999999", &officer).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (v["verdict"].as_str(), v["reason"].as_str()),
        (Some("cannot_confirm"), Some("no_match"))
    );
    assert!(v["results"].as_array().unwrap().is_empty());

    // Bad queries.
    for bad in [
        "/api/v1/lookup",
        "/api/v1/lookup?plate=x&number=1",
        "/api/v1/lookup?vin=LFWSRXPJ6LA123617",
    ] {
        assert_eq!(
            e.get(bad, &officer).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    for bad in [
        "/api/v1/lookup?plate=ABC",
        "/api/v1/lookup?id_number=123",
        "/api/v1/lookup?number=%3Cscript%3E",
    ] {
        assert_eq!(
            e.get(bad, &officer).await.0,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}"
        );
    }

    // Every lookup is audited (the server's log of it), the ID masked.
    let audit = testkit::blocking(|| {
        let mut tx = e.state.store().begin().unwrap();
        let audit = tx.audit_tail(50).unwrap();
        tx.commit().unwrap();
        audit
    });
    let lookups: Vec<_> = audit
        .iter()
        .filter(|a| a.action == "GET /api/v1/lookup" && a.outcome.starts_with("ok"))
        .collect();
    assert_eq!(lookups.len(), 4, "{audit:#?}");
    // The query's ID number is masked (the certificates read are named:
    // a QC certificate's number is its holder's ID number).
    assert!(lookups
        .iter()
        .any(|a| a.target.starts_with("id_number 210102********2434: QC ")));
    assert!(lookups
        .iter()
        .any(|a| a.outcome == "ok: cannot_confirm no_match"));

    // Rate limit per token: the burst (10) then 429 with Retry-After; a
    // second officer is not affected.
    let mut limited = false;
    for _ in 0..12 {
        let (status, v) = e.get(&uri, &officer).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(v["detail"].as_str().unwrap().contains("lookups"), "{v}");
            limited = true;
            break;
        }
        assert_eq!(status, StatusCode::OK);
    }
    assert!(limited, "no 429 after the burst");
    let other = e.token(Role::Officer, Some(210200));
    assert_eq!(e.get(&uri, &other).await.0, StatusCode::OK);

    // The device's record of a lookup (kind 2) is ingested and listed.
    let device = key(71);
    let (status, v) = e.enroll(&officer, &device).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let device_id = v["device_id"].as_i64().unwrap();
    let mut head = ChainHead::default();
    let (s1, next) = head.append(
        T0,
        Event::Lookup(Lookup {
            verdict: Verdict::Invalid,
            reason: Some(Reason::Revoked),
            cert: Some(CertRef {
                cert_type: CertType::YSZ,
                number: ysz.number.clone().unwrap(),
                version: 1,
            }),
            by: LookupBy::Number,
        }),
    );
    head = next;
    let (s2, _) = head.append(
        T0 + 5,
        Event::Disposition(Disposition {
            check_seq: 0,
            accepted: false,
            note: "已注销".into(),
        }),
    );
    let batch = checklog::sign_batch(&[s1.bytes.as_slice(), s2.bytes.as_slice()], &device);
    let (status, v) = e.upload(&officer, batch).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let records = e.records(device_id).await;
    assert_eq!(records[0]["kind"], "lookup");
    assert_eq!(records[0]["reason"], "revoked");
    assert_eq!(records[0]["note"], "number");
    assert!(records[0]["scanned"].is_null());
    assert_eq!(records[1]["kind"], "disposition");
}

/// Percent-encodes a query value (UTF-8 bytes).
fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The check-log partitions of the server's PostgreSQL database (none on
/// SQLite, which has no partitions).
fn partitions(env: &Env) -> Vec<String> {
    let Some(url) = testkit::engine().database_for(env.data()).unwrap() else {
        return Vec::new();
    };
    testkit::blocking(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let mut names: Vec<String> = client
            .query(
                "SELECT c.relname::TEXT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = 'verification_records'::regclass",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        names.sort();
        names
    })
}

#[tokio::test]
async fn absurd_device_times_are_stored_without_a_partition_of_their_own() {
    let env = env();
    let officer = env.token(Role::Officer, Some(210100));
    let device = key(9);
    let (_, enrolled) = env.enroll(&officer, &device).await;
    let device_id = enrolled["device_id"].as_i64().unwrap();
    let before = partitions(&env);
    let mut head = ChainHead::default();

    // A clock reset to 1970 (and before it) and one at year 9999: stored as
    // the device signed them, in one batch.
    let times = [0, -86_400 * 400, 253_402_300_799, T0, T0 + 1];
    let mut records = Vec::new();
    for at in times {
        let (sealed, next) = head.append(at, check(Verdict::Valid, Some("LC1:NOTREAL")));
        head = next;
        records.push(sealed);
    }
    let (status, v) = env.upload(&officer, sign(&records, &device)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["accepted"], times.len());
    let stored = env.records(device_id).await;
    let ats: Vec<i64> = stored.iter().map(|r| r["at"].as_i64().unwrap()).collect();
    assert_eq!(ats, times);

    // PostgreSQL: no partition was made for any absurd month (T0's month
    // may be new: it is a real one).
    let after = partitions(&env);
    let made: Vec<&String> = after.iter().filter(|p| !before.contains(p)).collect();
    assert!(
        made.iter()
            .all(|p| p.as_str() == "verification_records_2026_06"),
        "partitions made: {made:?}"
    );
}
