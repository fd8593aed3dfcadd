//! Vehicle certificates used by drivers (issue 13 item 6), in process on
//! the test engine: an owner delegates a 道路运输证 to a driver's phone, the
//! driver's sync carries the delegated copy, its live presentation verifies
//! offline and says who presents it, the owner revokes it and an officer's
//! next status sync refuses it; a copy follows its certificate's status
//! and is re-signed after a key rotation or compromise;
//! every refusal is its own problem type.

use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{json, Value};
use shared::crypto::{Alg, SigningKey};
use shared::domain::{sample_record, CertType, RawRecord};
use shared::qrtext::{self, Kind};
use shared::verify::Reason;
use shared::view::FaceView;
use testkit::{assert_problem_type, TestServer, Verifier};
use verifier_server::auth::Role;
use verifier_server::{admin, maintenance};

/// The owner: the JYXK sample's operator, here also the YSZ's owner.
const OWNER: &str = "91210106MA0XN3K249";
/// Another company (owns the WYY).
const OTHER: &str = "91210211716538244X";
/// The driver.
const DRIVER: &str = "210102199001011237";
/// A second driver, who has registered no phone.
const DRIVER2: &str = "210203198808081233";

fn owned(t: CertType, owner: &str) -> RawRecord {
    let mut r = sample_record(t);
    r.uscc = Some(owner.to_string());
    r
}

struct Env {
    srv: TestServer,
    owner: String,
    driver: String,
    phone: SigningKey,
    ysz: String,
}

impl std::ops::Deref for Env {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.srv
    }
}

fn phone_key(seed: u8) -> (SigningKey, String) {
    let key = SigningKey::from_secret_bytes(Alg::EdDSA, &[seed; 32]).unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.public_key().to_bytes());
    (key, b64)
}

async fn setup() -> Env {
    let srv = TestServer::new();
    let mut second = owned(CertType::YSZ, OWNER);
    second.plate = Some("辽A7Q215".into());
    second.number = Some("210100165716".into());
    let answer = srv
        .push(
            &srv.admin,
            &[
                owned(CertType::YSZ, OWNER),
                second,
                owned(CertType::WYY, OTHER),
                sample_record(CertType::JYXK),
                sample_record(CertType::QC),
            ],
        )
        .await;
    assert_eq!(answer["summary"]["issued"], 5, "{answer}");
    let owner = srv.token(Role::Holder, None, OWNER);
    let driver = srv.token(Role::Holder, None, DRIVER);
    let (phone, b64) = phone_key(7);
    let (s, _, b) = srv
        .post_json(
            "/api/v1/holder/devices",
            Some(&driver),
            &json!({ "public_key": b64 }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let ysz = sample_record(CertType::YSZ).number.unwrap();
    Env {
        srv,
        owner,
        driver,
        phone,
        ysz,
    }
}

impl Env {
    async fn delegate(
        &self,
        token: &str,
        body: Value,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let (s, h, b) = self
            .post_json("/api/v1/holder/delegations", Some(token), &body)
            .await;
        let v = serde_json::from_slice(&b).unwrap_or(Value::Null);
        (s, h, v)
    }

    fn body(&self, t: &str, number: &str, until: &str) -> Value {
        json!({"cert_type": t, "number": number, "driver_id_number": DRIVER,
               "driver_name": "李四", "valid_until": until})
    }

    /// The driver's delegated certificates from the ordinary sync.
    async fn driver_copies(&self) -> Vec<Value> {
        let list = self
            .get_json("/api/v1/holder/certificates", &self.driver)
            .await;
        list["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| !c["delegation"].is_null())
            .cloned()
            .collect()
    }

    /// The driver's phone presents `qr` now.
    fn present(&self, qr: &str) -> String {
        let (kind, cert) = qrtext::decode(qr).unwrap();
        assert_eq!(kind, Kind::Certificate);
        qrtext::encode(
            Kind::Presentation,
            &shared::presentation::present(&cert, &self.phone, self.now()),
        )
    }

    async fn status(&self, number: &str, status: &str) {
        let uri = format!("/api/v1/certificates/YSZ/{number}/status");
        let (s, _, b) = self
            .post_json(&uri, Some(&self.admin), &json!({ "status": status }))
            .await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    }

    fn last_action(&self) -> (String, String) {
        testkit::blocking(|| {
            let mut tx = self.state.store().begin().unwrap();
            let e = tx.audit_tail(1).unwrap().pop().unwrap();
            (e.action, e.outcome)
        })
    }
}

fn check(
    v: &Verifier,
    text: &str,
    now: i64,
) -> Result<shared::verify::VerifiedCertificate, Reason> {
    v.check(text, now).map_err(|r| r.reason)
}

#[tokio::test]
async fn a_delegated_copy_is_presented_by_the_driver_and_revoked_by_the_owner() {
    let env = setup().await;
    let (s, _, d) = env
        .delegate(&env.owner, env.body("YSZ", &env.ysz, "2026-12-31"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(d["state"], "active", "the driver has a phone: {d}");
    assert_eq!(d["owner_name"], "沈阳顺达物流有限公司");
    assert_eq!(d["plate"], "辽A5K823");
    assert_eq!(d["driver_id_masked"], "210102********1237");
    let id = d["id"].as_i64().unwrap();
    assert_eq!(
        env.last_action(),
        (
            "POST /api/v1/holder/delegations".into(),
            "ok: 1 copies issued".into()
        )
    );

    // The driver's sync carries the copy, marked with the owner and end.
    let copies = env.driver_copies().await;
    assert_eq!(copies.len(), 1, "{copies:?}");
    let copy = &copies[0];
    assert_eq!(copy["cert_type"], "YSZ");
    assert_eq!(copy["number"], env.ysz.as_str());
    assert_eq!(copy["holder_bound"], true);
    assert_eq!(copy["valid_until"], "2026-12-31");
    assert_eq!(copy["delegation"]["owner_name"], "沈阳顺达物流有限公司");
    assert_eq!(copy["delegation"]["valid_until"], "2026-12-31");
    let qr = copy["qr"].as_str().unwrap();

    // Offline: the live presentation verifies and names the driver; the
    // copy alone (no presentation) and another phone's signature do not.
    let mut officer = env.verifier().await;
    let ok = check(&officer, &env.present(qr), env.now()).unwrap();
    let evidence = ok.holder().unwrap();
    let delegate = evidence.delegate.as_ref().unwrap();
    assert_eq!(delegate.name, "李四");
    assert_eq!(delegate.id_last4, "1237");
    let view = FaceView::build(ok.claims(), Some(&officer.trust), env.now());
    let presented = view.delegated.as_ref().unwrap().message_zh();
    assert_eq!(
        presented,
        "由驾驶员 李四（**************1237）出示（所有人 沈阳顺达物流有限公司 授权，至 2026-12-31）"
    );
    assert!(view.lines.iter().any(|l| l.key == "presented_by"));
    // The same certificate: its use counts as the owner's certificate's.
    let own = env
        .get_json(&format!("/api/v1/certificates/YSZ/{}", env.ysz), &env.admin)
        .await;
    assert_eq!(ok.claims().number, env.ysz);
    assert_eq!(
        ok.identifier(),
        own["identifier"].as_str(),
        "the copy has the owner's certificate's identifier"
    );
    assert_eq!(
        check(&officer, qr, env.now()).unwrap_err(),
        Reason::PresentationRequired
    );
    let (stranger, _) = phone_key(9);
    let (_, cert) = qrtext::decode(qr).unwrap();
    let forged = qrtext::encode(
        Kind::Presentation,
        &shared::presentation::present(&cert, &stranger, env.now()),
    );
    assert_eq!(
        check(&officer, &forged, env.now()).unwrap_err(),
        Reason::HolderSignatureInvalid
    );

    // Both sides list it; only the owner revokes it.
    let given = env.get_json("/api/v1/holder/delegations", &env.owner).await;
    assert_eq!(given["given"].as_array().unwrap().len(), 1, "{given}");
    assert_eq!(given["received"].as_array().unwrap().len(), 0);
    let received = env
        .get_json("/api/v1/holder/delegations", &env.driver)
        .await;
    assert_eq!(received["received"][0]["id"], id, "{received}");
    let uri = format!("/api/v1/holder/delegations/{id}/revoke");
    let (s, h, b) = env.post_json(&uri, Some(&env.driver), &json!({})).await;
    assert_problem_type(s, &h, &b, StatusCode::NOT_FOUND, "not-found");
    let (s, _, b) = env.post_json(&uri, Some(&env.owner), &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let revoked: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(revoked["state"], "revoked");
    assert_eq!(
        env.last_action(),
        (
            "POST /api/v1/holder/delegations/{id}/revoke".into(),
            "ok: 1 copies revoked".into()
        )
    );
    let (s, h, b) = env.post_json(&uri, Some(&env.owner), &json!({})).await;
    assert_problem_type(s, &h, &b, StatusCode::CONFLICT, "delegation-revoked");

    // The officer's device learns it at its next sync; the driver's wallet
    // no longer carries it; the owner's own certificate is untouched.
    assert!(check(&officer, &env.present(qr), env.now()).is_ok());
    env.sync(&mut officer).await;
    assert_eq!(
        check(&officer, &env.present(qr), env.now()).unwrap_err(),
        Reason::Revoked
    );
    assert!(env.driver_copies().await.is_empty());
    assert!(check(&officer, own["qr"].as_str().unwrap(), env.now()).is_ok());
}

#[tokio::test]
async fn a_copy_follows_its_certificate_and_waits_for_the_drivers_phone() {
    let env = setup().await;
    let (s, _, d) = env
        .delegate(&env.owner, env.body("YSZ", &env.ysz, "2027-06-30"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let qr = env.driver_copies().await[0]["qr"]
        .as_str()
        .unwrap()
        .to_string();
    let mut officer = env.verifier().await;

    // Suspended with its certificate, valid again when it is reinstated.
    env.status(&env.ysz, "suspended").await;
    env.sync(&mut officer).await;
    assert_eq!(
        check(&officer, &env.present(&qr), env.now()).unwrap_err(),
        Reason::Suspended
    );
    env.status(&env.ysz, "valid").await;
    env.sync(&mut officer).await;
    assert!(check(&officer, &env.present(&qr), env.now()).is_ok());

    // The owner's phone binding supersedes the owner's version and with it
    // the copy; the driver's next sync gets a copy of the new version.
    let (_, owner_phone) = phone_key(3);
    let (s, _, b) = env
        .post_json(
            "/api/v1/holder/devices",
            Some(&env.owner),
            &json!({ "public_key": owner_phone }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    env.sync(&mut officer).await;
    assert_eq!(
        check(&officer, &env.present(&qr), env.now()).unwrap_err(),
        Reason::Superseded
    );
    let fresh = env.driver_copies().await;
    assert_eq!(fresh.len(), 1, "{fresh:?}");
    assert_eq!(fresh[0]["version"], 2);
    let fresh_qr = fresh[0]["qr"].as_str().unwrap();
    assert_ne!(fresh_qr, qr);
    // (A new copy changes no status: the officer's list already covers it.)
    assert!(check(&officer, &env.present(fresh_qr), env.now()).is_ok());

    // A driver without a phone: pending until they register one.
    let mut body = env.body("YSZ", &env.ysz, "2026-12-31");
    body["driver_id_number"] = json!(DRIVER2);
    body["driver_name"] = json!("赵六");
    let (s, _, d) = env.delegate(&env.owner, body).await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(d["state"], "pending");
    let driver2 = env.token(Role::Holder, None, DRIVER2);
    let (_, b64) = phone_key(11);
    let (s, _, b) = env
        .post_json(
            "/api/v1/holder/devices",
            Some(&driver2),
            &json!({ "public_key": b64 }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let registered: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(registered["bound"], 1, "{registered}");
    assert_eq!(
        registered["certificates"][0]["delegation"]["owner_name"],
        "沈阳顺达物流有限公司"
    );
    let list = env.get_json("/api/v1/holder/delegations", &env.owner).await;
    assert_eq!(list["given"][1]["state"], "active", "{list}");
}

#[tokio::test]
async fn a_copy_is_re_signed_after_a_key_rotation_and_a_compromise() {
    let env = setup().await;
    let (s, _, d) = env
        .delegate(&env.owner, env.body("YSZ", &env.ysz, "2027-06-30"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let first = env.driver_copies().await[0]["qr"]
        .as_str()
        .unwrap()
        .to_string();
    let before = env.verifier().await;
    let old = check(&before, &env.present(&first), env.now()).unwrap();

    // Rotation: the copy the driver holds keeps verifying through the
    // overlap; the driver's next sync carries the same copy (same version
    // and status index) signed with the new key, and no new copy.
    env.advance(60);
    let change =
        testkit::blocking(|| admin::rotate_key(env.data(), env.state.store(), None, 7, env.now()))
            .unwrap();
    let officer = env.verifier().await;
    assert_eq!(
        check(&officer, &env.present(&first), env.now())
            .unwrap()
            .kid(),
        old.kid()
    );
    let copies = env.driver_copies().await;
    assert_eq!(copies.len(), 1, "{copies:?}");
    let second = copies[0]["qr"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    let new = check(&officer, &env.present(&second), env.now()).unwrap();
    assert_eq!(new.kid().to_hex(), change.issuer_kid);
    assert_eq!(new.claims().status_index, old.claims().status_index);
    assert_eq!(new.claims().version, old.claims().version);
    assert_eq!(new.claims().delegate, old.claims().delegate);
    assert_eq!(env.last_action().1, "ok", "re-signed, not issued anew");
    assert_eq!(env.driver_copies().await[0]["qr"], second.as_str());

    // After the overlap only the re-signed copy verifies.
    env.advance(8 * 86_400);
    let later = env.verifier().await;
    assert_eq!(
        check(&later, &env.present(&first), env.now()).unwrap_err(),
        Reason::UnknownKey
    );
    assert!(check(&later, &env.present(&second), env.now()).is_ok());

    // Compromise of the key that signed it: refused at once, and the
    // driver's next sync brings a copy signed with the replacement key.
    let change = testkit::blocking(|| {
        admin::compromise_key(
            env.data(),
            env.state.store(),
            &change.issuer_kid,
            None,
            env.now(),
        )
    })
    .unwrap();
    let officer = env.verifier().await;
    assert_eq!(
        check(&officer, &env.present(&second), env.now()).unwrap_err(),
        Reason::KeyCompromised
    );
    let third = env.driver_copies().await[0]["qr"]
        .as_str()
        .unwrap()
        .to_string();
    let ok = check(&officer, &env.present(&third), env.now()).unwrap();
    assert_eq!(ok.kid().to_hex(), change.issuer_kid);

    // `admin verify` checks the copy's signature too: a copy changed in
    // the database is found and named.
    let verified =
        testkit::blocking(|| maintenance::verify(env.state.store(), env.data())).unwrap();
    assert_eq!(verified.delegated_copies, 1, "{verified:?}");
    testkit::blocking(|| {
        let mut tx = env.state.store().begin().unwrap();
        let copy = tx.valid_copies().unwrap().pop().unwrap();
        let mut signed = copy.signed.clone();
        *signed.last_mut().unwrap() ^= 1;
        tx.set_copy_signed(copy.status_index, &signed, copy.issued_at)
            .unwrap();
        tx.commit().unwrap();
    });
    let err = testkit::blocking(|| maintenance::verify(env.state.store(), env.data())).unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.contains("delegated copy") && err.contains("the signature does not verify"),
        "{err}"
    );
}

#[tokio::test]
async fn each_refusal_has_its_own_problem_type() {
    let env = setup().await;
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            env.body(
                "JYXK",
                &sample_record(CertType::JYXK).number.unwrap(),
                "2026-12-31",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-a-vehicle-certificate",
        ),
        (
            env.body("QC", "210102198503122434", "2026-12-31"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-a-vehicle-certificate",
        ),
        (
            env.body(
                "WYY",
                &sample_record(CertType::WYY).number.unwrap(),
                "2026-12-31",
            ),
            StatusCode::NOT_FOUND,
            "not-owners-certificate",
        ),
        (
            env.body("YSZ", "210100999999", "2026-12-31"),
            StatusCode::NOT_FOUND,
            "not-owners-certificate",
        ),
        (
            // The YSZ is valid until 2028-04-09.
            env.body("YSZ", &env.ysz, "2028-04-10"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "delegation-beyond-validity",
        ),
        (
            json!({"cert_type": "YSZ", "number": env.ysz, "driver_id_number": DRIVER,
                   "driver_name": "李四", "valid_from": "2026-09-01", "valid_until": "2026-08-31"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-delegation-period",
        ),
        (
            json!({"cert_type": "YSZ", "number": env.ysz, "driver_id_number": DRIVER,
                   "driver_name": "李四", "valid_from": "2020-01-01", "valid_until": "2026-08-31"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-delegation-period",
        ),
        (
            json!({"cert_type": "YSZ", "number": env.ysz, "driver_id_number": "210102199001011238",
                   "driver_name": "李四", "valid_until": "2026-08-31"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-driver",
        ),
        (
            json!({"cert_type": "YSZ", "number": env.ysz, "driver_id_number": DRIVER,
                   "driver_name": "", "valid_until": "2026-08-31"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-driver",
        ),
    ];
    for (body, status, kind) in cases {
        let (s, h, b) = env
            .post_json("/api/v1/holder/delegations", Some(&env.owner), &body)
            .await;
        assert_problem_type(s, &h, &b, status, kind);
        assert_eq!(
            env.last_action().0,
            "POST /api/v1/holder/delegations",
            "the refusal is audited"
        );
    }
    // An already-cancelled certificate.
    env.status("210100165716", "revoked").await;
    let (s, h, b) = env
        .post_json(
            "/api/v1/holder/delegations",
            Some(&env.owner),
            &env.body("YSZ", "210100165716", "2026-12-31"),
        )
        .await;
    assert_problem_type(s, &h, &b, StatusCode::CONFLICT, "certificate-not-in-force");
    // Not a holder.
    let (s, h, b) = env
        .post_json(
            "/api/v1/holder/delegations",
            Some(&env.admin),
            &env.body("YSZ", &env.ysz, "2026-12-31"),
        )
        .await;
    testkit::assert_problem(s, &h, &b, StatusCode::FORBIDDEN);
    // Nothing was stored by any refusal.
    let list = env.get_json("/api/v1/holder/delegations", &env.owner).await;
    assert_eq!(list["given"].as_array().unwrap().len(), 0, "{list}");
}
