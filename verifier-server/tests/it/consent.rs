//! Consent and delivery (issue 13), in process: a holder's grants and an
//! agency's authorisations, what an application receives under them (only
//! its purpose's fields, never another holder's certificate), and that a
//! revoked or expired grant stops data at the next call.

use axum::http::StatusCode;
use serde_json::{json, Value};
use shared::domain::{sample_record, CertType};
use testkit::assert_problem_type;
use verifier_server::auth::Role;
use verifier_server::demo::yzt::Signer;

use crate::apps::Env;

/// The QC sample's holder (issued in Shenyang).
const PERSON_A: &str = "210102198503122434";
/// The WYJ sample's holder (issued in Dalian).
const PERSON_B: &str = "210203199007154521";

async fn setup() -> (Env, String, String, String) {
    let env = Env::new();
    env.push(
        &env.admin,
        &[sample_record(CertType::QC), sample_record(CertType::WYJ)],
    )
    .await;
    let platform = Signer::generate("platform", "k1").unwrap();
    env.register(&platform, false).await;
    let token = env.app_token(&platform).await;
    let qc = sample_record(CertType::QC).number.unwrap();
    let wyj = sample_record(CertType::WYJ).number.unwrap();
    (env, token, qc, wyj)
}

async fn grant(env: &Env, holder: &str, body: Value) -> (StatusCode, Value) {
    let (s, _, b) = env
        .post_json("/api/v1/holder/grants", Some(holder), &body)
        .await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

#[tokio::test]
async fn no_grant_no_data_and_a_revoked_grant_stops_data_at_the_next_call() {
    let (env, app, qc, wyj) = setup().await;
    let qc_uri = format!("/api/v1/app/certificates/QC/{qc}");
    let wyj_uri = format!("/api/v1/app/certificates/WYJ/{wyj}");
    let (s, h, b) = env.get(&qc_uri, Some(&app)).await;
    let p = assert_problem_type(s, &h, &b, StatusCode::NOT_FOUND, "not-found");
    let no_grant = p["detail"].as_str().unwrap().to_string();
    let (s, h, b) = env
        .get("/api/v1/app/certificates/QC/999999", Some(&app))
        .await;
    let p = assert_problem_type(s, &h, &b, StatusCode::NOT_FOUND, "not-found");
    assert_eq!(
        p["detail"].as_str().unwrap().replace("999999", &qc),
        no_grant,
        "a certificate without a grant is answered like a missing one"
    );

    let holder_a = env.token(Role::Holder, None, PERSON_A);
    let holder_b = env.token(Role::Holder, None, PERSON_B);
    let until = env.now() + 86_400;
    let body = |t: &str, n: &str| {
        json!({"client_id": "platform", "purpose": "网约车平台注册核验",
               "valid_until": until, "certificates": [{"cert_type": t, "number": n}]})
    };
    // Only one's own certificates, only types the application may receive,
    // only registered applications, a sensible period.
    let (s, v) = grant(&env, &holder_a, body("WYJ", &wyj)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v) = grant(&env, &holder_a, body("YSZ", "21010000001")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let mut other = body("QC", &qc);
    other["client_id"] = json!("nobody");
    let (s, v) = grant(&env, &holder_a, other).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let mut long = body("QC", &qc);
    long["valid_until"] = json!(env.now() + 2 * 366 * 86_400);
    let (s, v) = grant(&env, &holder_a, long).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = grant(&env, &app, body("QC", &qc)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");

    let (s, g) = grant(&env, &holder_a, body("QC", &qc)).await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    assert_eq!(g["kind"], "holder");
    assert_eq!(g["active"], true);
    let id = g["id"].as_i64().unwrap();
    let audit = env.last_audit();
    assert_eq!(audit.action, "POST /api/v1/holder/grants");

    let got = env.get_json(&qc_uri, &app).await;
    assert_eq!(got["grant_id"], id);
    assert_eq!(got["status"], "valid");
    assert_eq!(got["verdict"], "valid");
    let keys: Vec<&str> = got["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert!(!keys.is_empty(), "{got}");
    assert!(
        keys.iter().all(|k| ["name", "vehicle_classes"].contains(k)),
        "{keys:?}"
    );
    // (A QC's number is its holder's ID number: the application named it.)
    assert!(
        !got["fields"].to_string().contains(PERSON_A),
        "the ID number leaked: {got}"
    );
    // The signed certificate carries fields beyond this purpose: withheld.
    assert!(got["cose"].is_null() && got["qr"].is_null(), "{got}");
    let audit = env.last_audit();
    assert_eq!(
        audit.action,
        "GET /api/v1/app/certificates/{cert_type}/{number}"
    );
    assert_eq!(audit.role.as_deref(), Some("application"));
    // Never another holder's certificate.
    let (s, h, b) = env.get(&wyj_uri, Some(&app)).await;
    assert_problem_type(s, &h, &b, StatusCode::NOT_FOUND, "not-found");

    let mine = env.get_json("/api/v1/holder/grants", &holder_a).await;
    assert_eq!(mine["grants"].as_array().unwrap().len(), 1);
    let theirs = env.get_json("/api/v1/holder/grants", &holder_b).await;
    assert!(theirs["grants"].as_array().unwrap().is_empty());
    let held = env.get_json("/api/v1/app/grants", &app).await;
    assert_eq!(held["grants"][0]["id"], id);

    let revoke = format!("/api/v1/holder/grants/{id}/revoke");
    let (s, h, b) = env.post_json(&revoke, Some(&holder_b), &json!({})).await;
    assert_problem_type(s, &h, &b, StatusCode::NOT_FOUND, "not-found");
    env.get_json(&qc_uri, &app).await;
    let (s, _, b) = env.post_json(&revoke, Some(&holder_a), &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let (s, h, b) = env.get(&qc_uri, Some(&app)).await;
    assert_problem_type(s, &h, &b, StatusCode::NOT_FOUND, "not-found");
    let (s, h, b) = env.post_json(&revoke, Some(&holder_a), &json!({})).await;
    assert_problem_type(s, &h, &b, StatusCode::CONFLICT, "conflict");
    let listed = env.get_json("/api/v1/holder/grants", &holder_a).await;
    assert_eq!(listed["grants"][0]["active"], false);

    // An expired grant gives nothing either.
    let mut short = body("QC", &qc);
    short["valid_until"] = json!(env.now() + 100);
    let (s, g) = grant(&env, &holder_a, short).await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    env.get_json(&qc_uri, &app).await;
    env.advance(101);
    let (s, h, b) = env.get(&qc_uri, Some(&app)).await;
    assert_problem_type(s, &h, &b, StatusCode::NOT_FOUND, "not-found");

    // A cancelled certificate reaches the application as cancelled.
    let mut again = body("QC", &qc);
    again["valid_until"] = json!(env.now() + 86_400);
    let (s, g) = grant(&env, &holder_a, again).await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    let (s, _, b) = env
        .post_json(
            &format!("/api/v1/certificates/QC/{qc}/status"),
            Some(&env.admin),
            &json!({"status": "revoked"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let got = env.get_json(&qc_uri, &app).await;
    assert_eq!(got["status"], "revoked");
    assert_eq!(got["verdict"], "invalid");
}

#[tokio::test]
async fn an_agency_authorises_a_government_system_by_type() {
    let (env, _, qc, wyj) = setup().await;
    let gov = Signer::generate("gov-police", "k1").unwrap();
    env.register(&gov, false).await;
    let app = env.app_token(&gov).await;
    let shenyang = env.token(Role::Agency, Some(210100), "shenyang");
    let dalian = env.token(Role::Agency, Some(210200), "dalian");
    let until = env.now() + 86_400;
    let body = json!({"client_id": "gov-police", "cert_types": ["QC"],
                      "purpose": "公安交管协查", "valid_until": until});
    let holder = env.token(Role::Holder, None, PERSON_A);
    let (s, h, b) = env
        .post_json("/api/v1/agency/authorisations", Some(&holder), &body)
        .await;
    assert_problem_type(s, &h, &b, StatusCode::FORBIDDEN, "forbidden");
    let mut bad = body.clone();
    bad["cert_types"] = json!(["YSZ"]);
    let (s, h, b) = env
        .post_json("/api/v1/agency/authorisations", Some(&shenyang), &bad)
        .await;
    assert_problem_type(s, &h, &b, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable");

    let (s, _, b) = env
        .post_json("/api/v1/agency/authorisations", Some(&shenyang), &body)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    let g: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(g["kind"], "agency");
    assert_eq!(g["division"], 210100);
    let id = g["id"].as_i64().unwrap();

    let qc_uri = format!("/api/v1/app/certificates/QC/{qc}");
    let got = env.get_json(&qc_uri, &app).await;
    assert_eq!(got["grant_id"], id);
    // Not Dalian's certificates, not other types.
    let (s, h, b) = env
        .get(&format!("/api/v1/app/certificates/WYJ/{wyj}"), Some(&app))
        .await;
    assert_problem_type(s, &h, &b, StatusCode::NOT_FOUND, "not-found");

    let listed = env.get_json("/api/v1/agency/authorisations", &dalian).await;
    assert!(listed["grants"].as_array().unwrap().is_empty());
    let revoke = format!("/api/v1/agency/authorisations/{id}/revoke");
    let (s, h, b) = env.post_json(&revoke, Some(&dalian), &json!({})).await;
    assert_problem_type(s, &h, &b, StatusCode::NOT_FOUND, "not-found");
    let (s, _, b) = env.post_json(&revoke, Some(&shenyang), &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let (s, h, b) = env.get(&qc_uri, Some(&app)).await;
    assert_problem_type(s, &h, &b, StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn applications_verify_scanned_codes_and_granted_identifiers_online() {
    let (env, app, qc, _) = setup().await;
    let holder_a = env.token(Role::Holder, None, PERSON_A);
    let mine = env.get_json("/api/v1/holder/certificates", &holder_a).await;
    let code = mine
        .as_array()
        .or_else(|| mine["certificates"].as_array())
        .unwrap()
        .iter()
        .find(|c| c["cert_type"] == "QC")
        .unwrap()["qr"]
        .as_str()
        .unwrap()
        .to_string();

    // A scanned code carries its own proof: no grant needed.
    let (s, _, b) = env
        .post_json("/api/v1/app/verify", Some(&app), &json!({ "code": code }))
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["verdict"], "valid", "{v}");
    assert_eq!(v["status"], "valid");
    assert_eq!(v["number"], qc.as_str());
    assert!(v["grant_id"].is_null());
    assert!(!v["fields"].as_array().unwrap().is_empty(), "{v}");
    assert!(
        v["fields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| ["name", "vehicle_classes"].contains(&f["key"].as_str().unwrap())),
        "{v}"
    );
    assert!(!v["fields"].to_string().contains(PERSON_A), "{v}");
    let audit = env.last_audit();
    assert_eq!(audit.action, "POST /api/v1/app/verify");
    assert_eq!(audit.role.as_deref(), Some("application"));
    assert!(audit.target.contains(&qc), "{audit:?}");

    // A forged code: no fields, not valid.
    let forged = format!("{}A", &code[..code.len() - 1]);
    let (s, _, b) = env
        .post_json("/api/v1/app/verify", Some(&app), &json!({ "code": forged }))
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_ne!(v["verdict"], "valid", "{v}");
    assert!(v["fields"].as_array().unwrap().is_empty(), "{v}");

    // An identifier needs a grant.
    let by_id = json!({"cert_type": "QC", "number": qc});
    let (s, h, b) = env
        .post_json("/api/v1/app/verify", Some(&app), &by_id)
        .await;
    assert_problem_type(s, &h, &b, StatusCode::NOT_FOUND, "not-found");
    let (s, g) = grant(
        &env,
        &holder_a,
        json!({"client_id": "platform", "purpose": "核验", "valid_until": env.now() + 3_600,
               "certificates": [{"cert_type": "QC", "number": qc}]}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    let (s, _, b) = env
        .post_json("/api/v1/app/verify", Some(&app), &by_id)
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["verdict"], "valid");
    assert_eq!(v["grant_id"], g["id"]);

    // Neither or both: a bad request.
    for body in [
        json!({}),
        json!({"code": code, "cert_type": "QC", "number": qc}),
    ] {
        let (s, h, b) = env.post_json("/api/v1/app/verify", Some(&app), &body).await;
        assert_problem_type(s, &h, &b, StatusCode::BAD_REQUEST, "bad-request");
    }

    // A cancelled certificate's code is invalid from then on.
    let (s, _, b) = env
        .post_json(
            &format!("/api/v1/certificates/QC/{qc}/status"),
            Some(&env.admin),
            &json!({"status": "revoked"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let (_, _, b) = env
        .post_json("/api/v1/app/verify", Some(&app), &json!({ "code": code }))
        .await;
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["verdict"], "invalid", "{v}");
    assert_eq!(v["reason"], "revoked", "{v}");
}

/// Shenyang's activation in the evaluation of the clock's year:
/// (activated certificates, uncorroborated checks).
async fn shenyang_activation(env: &Env) -> (u64, u64) {
    let year = shared::cst::year(env.now());
    let e = env
        .get_json(&format!("/api/v1/evaluation?year={year}"), &env.admin)
        .await;
    let city = e["cities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["division"] == 210100)
        .unwrap_or_else(|| panic!("no Shenyang in {e}"))
        .clone();
    (
        city["activation"]["numerator"].as_u64().unwrap(),
        city["activation"]["uncorroborated_checks"]
            .as_u64()
            .unwrap(),
    )
}

#[tokio::test]
async fn an_online_verification_counts_as_use_and_a_forged_or_refused_one_does_not() {
    let (env, app, qc, _) = setup().await;
    let holder_a = env.token(Role::Holder, None, PERSON_A);
    let mine = env.get_json("/api/v1/holder/certificates", &holder_a).await;
    let code = mine
        .as_array()
        .or_else(|| mine["certificates"].as_array())
        .unwrap()
        .iter()
        .find(|c| c["cert_type"] == "QC")
        .unwrap()["qr"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(shenyang_activation(&env).await, (0, 0));
    env.advance(60);

    // Forged: answered, not counted.
    let forged = format!("{}A", &code[..code.len() - 1]);
    let (s, _, _) = env
        .post_json("/api/v1/app/verify", Some(&app), &json!({ "code": forged }))
        .await;
    assert_eq!(s, StatusCode::OK);
    // Refused (no grant for the identifier): nothing stored.
    let by_id = json!({"cert_type": "QC", "number": qc});
    let (s, _, _) = env
        .post_json("/api/v1/app/verify", Some(&app), &by_id)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(shenyang_activation(&env).await, (0, 0));

    // An identifier under the issuing agency's own authorisation proves
    // nothing the city could not produce alone: uncorroborated.
    let shenyang = env.token(Role::Agency, Some(210100), "shenyang");
    let (s, _, b) = env
        .post_json(
            "/api/v1/agency/authorisations",
            Some(&shenyang),
            &json!({"client_id": "platform", "cert_types": ["QC"],
                    "purpose": "协查", "valid_until": env.now() + 86_400}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    let (s, _, _) = env
        .post_json("/api/v1/app/verify", Some(&app), &by_id)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(shenyang_activation(&env).await, (0, 1));

    // The code the holder shows, verified by the application: use.
    let (s, _, b) = env
        .post_json("/api/v1/app/verify", Some(&app), &json!({ "code": code }))
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    assert_eq!(shenyang_activation(&env).await, (1, 1));
}

#[tokio::test]
async fn a_holder_lists_the_applications_to_grant_to_without_revoked_ones() {
    let (env, app, _, _) = setup().await;
    let insurer = Signer::generate("insurer", "k1").unwrap();
    env.register(&insurer, false).await;
    let holder = env.token(Role::Holder, None, PERSON_A);
    let ids = |list: &Value| -> Vec<String> {
        list["applications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["client_id"].as_str().unwrap().to_string())
            .collect()
    };
    let list = env.get_json("/api/v1/holder/applications", &holder).await;
    assert_eq!(ids(&list), ["platform", "insurer"], "{list}");
    let platform = &list["applications"][0];
    assert_eq!(platform["purpose"], "网约车驾驶员资格核验", "{list}");
    let types = platform["cert_types"].as_array().unwrap();
    assert!(types.contains(&json!("QC")) && types.contains(&json!("WYJ")));
    assert_eq!(platform["fields"], json!(["name", "vehicle_classes"]));
    // What a holder chooses from, not the credentials.
    assert!(platform.get("keys").is_none() && platform.get("callback_url").is_none());
    let audit = env.last_audit();
    assert_eq!(audit.action, "GET /api/v1/holder/applications");
    assert_eq!(audit.role.as_deref(), Some("holder"));

    let (s, _, b) = env
        .post_json(
            "/api/v1/applications/insurer/revoke",
            Some(&env.admin),
            &json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let list = env.get_json("/api/v1/holder/applications", &holder).await;
    assert_eq!(ids(&list), ["platform"], "{list}");

    // Only holders ask.
    let (s, h, b) = env.get("/api/v1/holder/applications", Some(&app)).await;
    assert_problem_type(s, &h, &b, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn the_wallet_learns_where_yzt_signs_holders_in() {
    let env = Env::new();
    let (s, _, b) = env.get("/api/v1/holder/sign-in", None).await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["yzt_url"], Value::Null, "{v}");

    let url = "https://yzt.example/authorize";
    let srv = testkit::TestServer::with(
        shared::crypto::Alg::EdDSA,
        verifier_server::Config {
            yzt_url: Some(url.into()),
            ..verifier_server::Config::default()
        },
    );
    let (s, h, b) = srv.get("/api/v1/holder/sign-in", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["cache-control"], "no-store");
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["yzt_url"], url, "{v}");
}
