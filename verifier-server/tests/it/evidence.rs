//! Issue 12, findings 1 and 2: a city that wants a better score attacks the
//! evaluation with its own agency and officer tokens against the real
//! router and store (reading QR texts, minting devices, uploading invented,
//! re-signed and re-dated checks, replaying a screenshot of a live code,
//! bursts at night), and its activation count and total do not move; the
//! attempts are listed as anomalies. Checks that carry evidence the city
//! cannot produce alone (a live presentation, another city's device) do
//! count, and stop counting when their device is revoked.

use axum::http::{Method, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use shared::checklog::{self, ChainHead, Check, Event, Sealed};
use shared::crypto::{Alg, SigningKey};
use shared::domain::RawRecord;
use shared::qrtext::{self, Kind};
use shared::verify::Verdict;
use testkit::{TestServer, T0};
use verifier_server::auth::Role;

const SHENYANG: u32 = 210100;
/// The QC sample's holder (a Shenyang certificate).
const PERSON_A: &str = "210102198503122434";
const YEAR: i32 = 2026;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_secret_bytes(Alg::EdDSA, &[seed; 32]).unwrap()
}

fn scan(text: &str, status_seq: Option<u64>) -> Event {
    Event::Check(Check {
        verdict: Verdict::Valid,
        reason: None,
        scanned: Some(text.to_string()),
        cert: None,
        status_seq,
        trust_seq: None,
        warnings: Vec::new(),
        data_age: Some(60),
    })
}

/// A device's chain on the attacker's side.
struct Device {
    key: SigningKey,
    head: ChainHead,
}

impl Device {
    fn new(seed: u8) -> Device {
        Device {
            key: key(seed),
            head: ChainHead::default(),
        }
    }

    fn records(&mut self, events: Vec<(i64, Event)>) -> Vec<Sealed> {
        events
            .into_iter()
            .map(|(at, e)| {
                let (sealed, next) = self.head.append(at, e);
                self.head = next;
                sealed
            })
            .collect()
    }
}

async fn enroll(env: &TestServer, token: &str, key: &SigningKey) -> (StatusCode, Value) {
    let (s, _, b) = env
        .post_json(
            "/api/v1/devices",
            Some(token),
            &json!({"alg": "EdDSA",
                    "public_key": URL_SAFE_NO_PAD.encode(key.public_key().to_bytes()),
                    "label": "patrol"}),
        )
        .await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

async fn upload(env: &TestServer, token: &str, records: &[Sealed], key: &SigningKey) -> StatusCode {
    let refs: Vec<&[u8]> = records.iter().map(|s| s.bytes.as_slice()).collect();
    let (s, _, b) = env
        .call(
            Method::POST,
            "/api/v1/verification-logs",
            Some(token),
            &[("content-type", "application/cose")],
            Some(checklog::sign_batch(&refs, key)),
        )
        .await;
    assert!(
        s == StatusCode::OK || s.is_client_error(),
        "{s}: {}",
        String::from_utf8_lossy(&b)
    );
    s
}

async fn evaluation(env: &TestServer) -> Value {
    env.get_json(&format!("/api/v1/evaluation?year={YEAR}"), &env.admin)
        .await
}

fn city(e: &Value, code: u32) -> Value {
    if code == 210000 {
        return e["province"].clone();
    }
    e["cities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["division"] == code)
        .unwrap()
        .clone()
}

/// What the city is scored on: activation numerator and total.
fn counts(e: &Value, code: u32) -> (u64, u64, u64) {
    let c = city(e, code);
    (
        c["activation"]["numerator"].as_u64().unwrap(),
        c["activation"]["provable_checks"].as_u64().unwrap(),
        c["total"].as_u64().unwrap(),
    )
}

fn kinds(e: &Value, code: u32) -> Vec<String> {
    city(e, code)["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_string())
        .collect()
}

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

/// The samples, pushed; Shenyang's certificates as (type, number).
async fn issue(env: &TestServer) -> (Vec<RawRecord>, Vec<(String, String)>) {
    let records = testkit::records::all_samples();
    let answer = env.push(&env.admin, &records).await;
    assert_eq!(answer["summary"]["issued"], 9, "{answer}");
    let mine = records
        .iter()
        .filter(|r| r.issuer_division.as_deref() == Some("210100"))
        .map(|r| (r.cert_type.clone().unwrap(), r.number.clone().unwrap()))
        .collect();
    (records, mine)
}

/// The QR text as only the province's administrator may read it (the
/// attacker is given the texts anyway, as if collected some other way:
/// the counts must not depend on keeping them secret).
async fn admin_qr(env: &TestServer, t: &str, n: &str) -> String {
    env.get_json(&format!("/api/v1/certificates/{t}/{n}"), &env.admin)
        .await["qr"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The holder binds a phone: QC becomes holder-bound; its bound text.
async fn bind_holder(env: &TestServer, phone: &SigningKey) -> String {
    let holder = env.token(Role::Holder, None, PERSON_A);
    let (s, _, b) = env
        .post_json(
            "/api/v1/holder/devices",
            Some(&holder),
            &json!({"public_key": URL_SAFE_NO_PAD.encode(phone.public_key().to_bytes())}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let v: Value = serde_json::from_slice(&b).unwrap();
    v["certificates"][0]["qr"].as_str().unwrap().to_string()
}

fn present(bound: &str, phone: &SigningKey, at: i64) -> String {
    let (kind, cert) = qrtext::decode(bound).unwrap();
    assert_eq!(kind, Kind::Certificate);
    qrtext::encode(
        Kind::Presentation,
        &shared::presentation::present(&cert, phone, at),
    )
}

#[tokio::test]
async fn a_city_cannot_invent_its_activation_with_its_own_tokens() {
    let env = TestServer::new();
    let (_, mine) = issue(&env).await;
    assert_eq!(mine.len(), 5);
    let phone = key(90);
    let bound = bind_holder(&env, &phone).await;
    // The holder shows a live code once, at T0 + 60, and a screenshot of
    // it is taken.
    let screenshot = present(&bound, &phone, T0 + 60);
    let before = evaluation(&env).await;
    let base = counts(&before, SHENYANG);

    // 1. The city's agency reads its certificates: no QR text any more.
    let agency = env.token(Role::Agency, Some(SHENYANG), "shenyang agency");
    for (t, n) in &mine {
        let v = env
            .get_json(&format!("/api/v1/certificates/{t}/{n}"), &agency)
            .await;
        assert_eq!(v["number"], n.as_str(), "{v}");
        assert!(v.get("qr").is_none(), "an agency received a QR text: {v}");
    }
    let mut texts = Vec::new();
    for (t, n) in &mine {
        if t != "QC" {
            texts.push(admin_qr(&env, t, n).await);
        }
    }

    // 2. One officer token tries to enroll 20 devices: 3 are accepted.
    env.advance(3_600);
    let officer = env.token(Role::Officer, Some(210102), "shenyang officer");
    let mut devices: Vec<Device> = (1..=20).map(Device::new).collect();
    let mut statuses = Vec::new();
    for d in &devices {
        statuses.push(enroll(&env, &officer, &d.key).await.0);
    }
    assert_eq!(&statuses[..3], &[StatusCode::CREATED; 3]);
    assert!(
        statuses[3..].iter().all(|s| *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    let listed = env.get_json("/api/v1/devices", &officer).await;
    assert_eq!(listed["max_active_per_token"], 3, "{listed}");
    assert_eq!(listed["devices"].as_array().unwrap().len(), 3, "{listed}");
    devices.truncate(3);

    // 3. Device-signed batches of "checks" of the city's static QR texts,
    // dated now: accepted, but not evidence the city could not produce.
    let now = env.now();
    let events = |texts: &[String], from: i64| -> Vec<(i64, Event)> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| (from + i as i64, scan(t, Some(1))))
            .collect()
    };
    let first = devices[0].records(events(&texts, now - 100));
    assert_eq!(
        upload(&env, &officer, &first, &devices[0].key).await,
        StatusCode::OK
    );
    // 4. The same checks re-signed under the second and third device.
    for d in devices.iter_mut().skip(1) {
        let again = d.records(events(&texts, now - 100));
        assert_eq!(upload(&env, &officer, &again, &d.key).await, StatusCode::OK);
    }
    // The holder-bound certificate's static text (a copy, not the phone).
    let copy = devices[0].records(vec![(now - 10, scan(&bound, Some(1)))]);
    assert_eq!(
        upload(&env, &officer, &copy, &devices[0].key).await,
        StatusCode::OK
    );

    // 5. Re-dated checks: before the certificates were signed, 25 days
    // ahead, ±1000 years, and a status list the server never signed.
    env.advance(2 * 86_400);
    let now = env.now();
    let year = 365 * 86_400;
    let dated = devices[1].records(vec![
        (T0 - 10 * 86_400, scan(&texts[0], Some(1))),
        (now + 25 * 86_400, scan(&texts[1], Some(1))),
        (now + 1000 * year, scan(&texts[2], Some(1))),
        (now - 1000 * year, scan(&texts[3], Some(1))),
        (now - 60, scan(&texts[0], Some(999_999))),
    ]);
    assert_eq!(
        upload(&env, &officer, &dated, &devices[1].key).await,
        StatusCode::OK
    );
    // 6. The screenshot of the live code, its record dated back into the
    // code's window (T0 + 60): the device uploaded batches since then.
    let replay = devices[0].records(vec![(T0 + 90, scan(&screenshot, Some(1)))]);
    assert_eq!(
        upload(&env, &officer, &replay, &devices[0].key).await,
        StatusCode::OK
    );
    // The same screenshot dated now: outside the code's window.
    let late = devices[0].records(vec![(now - 30, scan(&screenshot, Some(1)))]);
    assert_eq!(
        upload(&env, &officer, &late, &devices[0].key).await,
        StatusCode::OK
    );

    // 7. A burst at night (23:00 CST): 120 checks in 6 minutes.
    let night = T0 + 2 * 86_400 + 13 * 3_600;
    env.advance(night + 600 - env.now());
    let burst: Vec<(i64, Event)> = (0..120)
        .map(|i| {
            (
                night + 3 * i,
                scan(&texts[i as usize % texts.len()], Some(1)),
            )
        })
        .collect();
    let burst = devices[2].records(burst);
    assert_eq!(
        upload(&env, &officer, &burst, &devices[2].key).await,
        StatusCode::OK
    );

    // Nothing moved.
    let after = evaluation(&env).await;
    assert_eq!(counts(&after, SHENYANG), base, "{}", city(&after, SHENYANG));
    assert_eq!(
        city(&after, SHENYANG)["activation"]["numerator"],
        city(&before, SHENYANG)["activation"]["numerator"]
    );
    assert_eq!(
        counts(&after, 210000).0,
        counts(&before, 210000).0,
        "province"
    );
    // The attempts are listed.
    let k = kinds(&after, SHENYANG);
    assert_eq!(count(&k, "refused_enrollment"), 17, "{k:?}");
    assert_eq!(count(&k, "presentation_required"), 1, "{k:?}");
    // Before signing, future, ±1000 years, an unsigned list, the re-dated
    // screenshot.
    assert_eq!(count(&k, "time_out_of_bounds"), 6, "{k:?}");
    assert_eq!(count(&k, "presentation_not_verified"), 1, "{k:?}");
    assert_eq!(count(&k, "burst"), 1, "{k:?}");
    assert_eq!(count(&k, "off_hours_burst"), 1, "{k:?}");
    let shenyang = city(&after, SHENYANG);
    // The own-device static checks are shown as not counted.
    assert!(
        shenyang["activation"]["uncorroborated_checks"]
            .as_u64()
            .unwrap()
            >= 12,
        "{shenyang}"
    );
    let screenshot_row = shenyang["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "time_out_of_bounds" && a["certificate"] == format!("QC/{PERSON_A}"))
        .cloned();
    assert!(screenshot_row.is_some(), "{shenyang}");
}

#[tokio::test]
async fn evidence_the_city_cannot_produce_counts_until_its_device_is_revoked() {
    let env = TestServer::new();
    let (_, mine) = issue(&env).await;
    let phone = key(91);
    let bound = bind_holder(&env, &phone).await;
    let static_text = {
        let (t, n) = mine.iter().find(|(t, _)| t != "QC").unwrap();
        admin_qr(&env, t, n).await
    };
    let base = counts(&evaluation(&env).await, SHENYANG);

    // A Dalian officer checks a Shenyang certificate on the road: it
    // counts for Shenyang (no longer dropped as out of region).
    env.advance(600);
    let dalian = env.token(Role::Officer, Some(210200), "dalian officer");
    let mut d = Device::new(40);
    assert_eq!(enroll(&env, &dalian, &d.key).await.0, StatusCode::CREATED);
    let now = env.now();
    let r = d.records(vec![(now - 60, scan(&static_text, Some(1)))]);
    assert_eq!(upload(&env, &dalian, &r, &d.key).await, StatusCode::OK);
    let e = evaluation(&env).await;
    assert_eq!(counts(&e, SHENYANG).0, base.0 + 1, "{}", city(&e, SHENYANG));

    // A Shenyang officer checks the holder's live code: counts too.
    let officer = env.token(Role::Officer, Some(210102), "shenyang officer");
    let mut s = Device::new(41);
    let (status, v) = enroll(&env, &officer, &s.key).await;
    assert_eq!(status, StatusCode::CREATED);
    let sid = v["device_id"].as_i64().unwrap();
    let live = present(&bound, &phone, now - 30);
    let r = s.records(vec![(now - 20, scan(&live, Some(1)))]);
    assert_eq!(upload(&env, &officer, &r, &s.key).await, StatusCode::OK);
    let e = evaluation(&env).await;
    let c = city(&e, SHENYANG);
    assert_eq!(counts(&e, SHENYANG).0, base.0 + 2, "{c}");
    assert_eq!(c["activation"]["live_presentations"], 1, "{c}");

    // Only the administrator revokes; the officer's device list shows it.
    let (st, _, _) = env
        .call(
            Method::POST,
            &format!("/api/v1/devices/{sid}/revoke"),
            Some(&officer),
            &[],
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, b) = env
        .call(
            Method::POST,
            &format!("/api/v1/devices/{sid}/revoke"),
            Some(&env.admin),
            &[],
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let listed = env.get_json("/api/v1/devices", &officer).await;
    assert!(listed["devices"][0]["revoked_at"].is_i64(), "{listed}");
    // Its batches are refused, and its checks stop counting.
    let r = s.records(vec![(env.now(), scan(&live, Some(1)))]);
    assert_eq!(
        upload(&env, &officer, &r, &s.key).await,
        StatusCode::FORBIDDEN
    );
    let e = evaluation(&env).await;
    assert_eq!(counts(&e, SHENYANG).0, base.0 + 1, "{}", city(&e, SHENYANG));
    assert!(kinds(&e, SHENYANG).contains(&"revoked_device".to_string()));

    // The command line revokes too (as `admin revoke-device` does).
    let id = enroll(&env, &dalian, &key(42)).await.1["device_id"]
        .as_i64()
        .unwrap();
    let view = testkit::blocking(|| {
        verifier_server::service::devices::revoke(env.state.store(), None, id, T0 + 700)
    })
    .unwrap();
    assert_eq!(view.revoked_at, Some(T0 + 700));
    // Revoking and enrolling again past the limit is listed per token.
    for seed in 43..45 {
        assert_eq!(
            enroll(&env, &dalian, &key(seed)).await.0,
            StatusCode::CREATED
        );
    }
    let e = evaluation(&env).await;
    assert!(
        kinds(&e, 210200).contains(&"many_devices".to_string()),
        "{}",
        city(&e, 210200)
    );
}
