//! The change feed of registered applications (issue 13 item 4), in
//! process: an application sees the changes of the certificates its grants
//! cover, from when the grant was made until it is revoked (the revocation
//! itself is the last change it hears of), in cursor order, page by page;
//! another application without a grant sees none of them; a cancelled
//! certificate arrives as cancelled.

use axum::http::StatusCode;
use serde_json::{json, Value};
use shared::domain::{sample_record, CertType};
use testkit::assert_problem_type;
use verifier_server::auth::Role;
use verifier_server::demo::yzt::Signer;

use crate::apps::Env;

/// The QC sample's holder.
const PERSON_A: &str = "210102198503122434";

/// Every change after `after`, walked `limit` at a time; the changes and
/// the final cursor.
pub(crate) async fn walk(env: &Env, token: &str, after: i64, limit: u32) -> (Vec<Value>, i64) {
    let (mut all, mut cursor) = (Vec::new(), after);
    for _ in 0..1_000 {
        let page = env
            .get_json(
                &format!("/api/v1/app/changes?after={cursor}&limit={limit}"),
                token,
            )
            .await;
        let changes = page["changes"].as_array().unwrap();
        assert!(changes.len() <= limit as usize, "{page}");
        let next = page["next"].as_i64().unwrap();
        assert!(next >= cursor, "the cursor went back: {page}");
        for c in changes {
            let at = c["cursor"].as_i64().unwrap();
            assert!(at > cursor && at <= next, "{page}");
            cursor = at;
        }
        cursor = next;
        all.extend(changes.iter().cloned());
        if page["more"] == false {
            return (all, cursor);
        }
    }
    panic!("the feed never ended");
}

fn summary(changes: &[Value]) -> Vec<(String, String, String)> {
    changes
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap().to_string(),
                format!(
                    "{} {}",
                    c["cert_type"].as_str().unwrap_or("-"),
                    c["number"].as_str().unwrap_or("-")
                ),
                c["status"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect()
}

async fn status(env: &Env, cert_type: &str, number: &str, to: &str) {
    let (s, _, b) = env
        .post_json(
            &format!("/api/v1/certificates/{cert_type}/{number}/status"),
            Some(&env.admin),
            &json!({ "status": to }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
}

#[tokio::test]
async fn the_feed_holds_the_granted_certificates_changes_in_cursor_order_and_nothing_else() {
    let env = Env::new();
    env.push(
        &env.admin,
        &[sample_record(CertType::QC), sample_record(CertType::WYJ)],
    )
    .await;
    let platform = Signer::generate("platform", "k1").unwrap();
    env.register(&platform, false).await;
    let app = env.app_token(&platform).await;
    let other = Signer::generate("other-platform", "k1").unwrap();
    env.register(&other, false).await;
    let other_app = env.app_token(&other).await;
    let qc = sample_record(CertType::QC).number.unwrap();
    let wyj = sample_record(CertType::WYJ).number.unwrap();
    let qc_key = format!("QC {qc}");

    // Before any grant: nothing, though the issuing is in the table.
    let (before, start) = walk(&env, &app, 0, 100).await;
    assert!(before.is_empty(), "{before:?}");
    assert!(start > 0, "the cursor passes changes not shown");

    // (A grant covers changes from the second it is made: the issuing,
    // a while ago, is before it.)
    env.advance(10);
    let holder = env.token(Role::Holder, None, PERSON_A);
    let (s, _, b) = env
        .post_json(
            "/api/v1/holder/grants",
            Some(&holder),
            &json!({"client_id": "platform", "purpose": "网约车平台注册核验",
                    "valid_until": env.now() + 86_400,
                    "certificates": [{"cert_type": "QC", "number": qc}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    let grant: Value = serde_json::from_slice(&b).unwrap();
    let grant_id = grant["id"].as_i64().unwrap();

    env.advance(10);
    status(&env, "QC", &qc, "suspended").await;
    status(&env, "WYJ", &wyj, "suspended").await;
    status(&env, "QC", &qc, "valid").await;
    let mut changed = sample_record(CertType::QC);
    changed.address = Some("辽宁省沈阳市和平区南京北街118号".into());
    let pushed = env.push(&env.admin, &[changed]).await;
    assert!(pushed.to_string().contains("updated"), "{pushed}");

    let (seen, after_updates) = walk(&env, &app, start, 100).await;
    let want = vec![
        (
            "suspended".to_string(),
            qc_key.clone(),
            "suspended".to_string(),
        ),
        ("reinstated".into(), qc_key.clone(), "valid".into()),
        ("new_version".into(), qc_key.clone(), "valid".into()),
    ];
    assert_eq!(summary(&seen), want, "{seen:?}");
    assert_eq!(seen[2]["version"], 2);
    let audit = env.last_audit();
    assert_eq!(audit.action, "GET /api/v1/app/changes");
    assert_eq!(audit.role.as_deref(), Some("application"));

    // One at a time gives the same changes; from 0 too.
    let (paged, end) = walk(&env, &app, 0, 1).await;
    assert_eq!(paged, seen);
    assert_eq!(end, after_updates);
    // A cursor is a position: asking again after it gives nothing new.
    let (again, same) = walk(&env, &app, after_updates, 100).await;
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(same, after_updates);

    // Another application without a grant sees none of it.
    let (theirs, their_end) = walk(&env, &other_app, 0, 7).await;
    assert!(theirs.is_empty(), "{theirs:?}");
    assert_eq!(their_end, after_updates);

    // A revoked grant is the last the application hears of it.
    let (s, _, b) = env
        .post_json(
            &format!("/api/v1/holder/grants/{grant_id}/revoke"),
            Some(&holder),
            &json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    status(&env, "QC", &qc, "suspended").await;
    let (after_revoke, cursor) = walk(&env, &app, after_updates, 100).await;
    assert_eq!(after_revoke.len(), 1, "{after_revoke:?}");
    assert_eq!(after_revoke[0]["change"], "grant_revoked");
    assert_eq!(after_revoke[0]["grant_id"], grant_id);
    assert_eq!(after_revoke[0]["number"], qc.as_str());
    // ... and not even the earlier changes are shown any more.
    let (replayed, _) = walk(&env, &app, 0, 100).await;
    assert_eq!(replayed, after_revoke);
    let (theirs, _) = walk(&env, &other_app, 0, 100).await;
    assert!(theirs.is_empty(), "{theirs:?}");

    // A new grant; the certificate is cancelled: it arrives as cancelled.
    let (s, _, b) = env
        .post_json(
            "/api/v1/holder/grants",
            Some(&holder),
            &json!({"client_id": "platform", "purpose": "网约车平台注册核验",
                    "valid_until": env.now() + 86_400,
                    "certificates": [{"cert_type": "QC", "number": qc}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    status(&env, "QC", &qc, "revoked").await;
    let (last, _) = walk(&env, &app, cursor, 100).await;
    assert_eq!(
        summary(&last),
        vec![("cancelled".to_string(), qc_key, "revoked".to_string())]
    );
}

#[tokio::test]
async fn the_feed_refuses_bad_cursors_and_other_roles() {
    let env = Env::new();
    let platform = Signer::generate("platform", "k1").unwrap();
    env.register(&platform, false).await;
    let app = env.app_token(&platform).await;
    for q in ["after=-1", "limit=0", "limit=501", "after=x"] {
        let (s, h, b) = env
            .get(&format!("/api/v1/app/changes?{q}"), Some(&app))
            .await;
        assert_problem_type(s, &h, &b, StatusCode::BAD_REQUEST, "bad-request");
    }
    let holder = env.token(Role::Holder, None, PERSON_A);
    let (s, h, b) = env.get("/api/v1/app/changes", Some(&holder)).await;
    assert_problem_type(s, &h, &b, StatusCode::FORBIDDEN, "forbidden");
    let page = env.get_json("/api/v1/app/changes", &app).await;
    assert_eq!(page["changes"], json!([]));
    assert_eq!(page["next"], 0);
    assert_eq!(page["more"], false);
}

/// Notifications received on 127.0.0.1: (content type, body).
type Inbox = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// A webhook receiver on `listener` answering 202 and keeping every
/// notification.
fn receiver(listener: tokio::net::TcpListener) -> Inbox {
    use axum::http::HeaderMap;
    let inbox: Inbox = Default::default();
    let kept = inbox.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let kept = kept.clone();
            async move {
                let ct = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                kept.lock().unwrap().push((ct, body));
                StatusCode::ACCEPTED
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    inbox
}

async fn register_with_callback(env: &Env, signer: &Signer, url: &str) {
    let (s, _, b) = env
        .post_json(
            "/api/v1/applications",
            Some(&env.admin),
            &json!({
                "client_id": signer.client_id, "name": "回调平台", "purpose": "变更通知",
                "cert_types": ["QC"], "fields": ["name"], "callback_url": url,
                "jwk": signer.public_jwk(),
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
}

async fn grant_qc(env: &Env, client_id: &str) {
    let holder = env.token(Role::Holder, None, PERSON_A);
    let qc = sample_record(CertType::QC).number.unwrap();
    let (s, _, b) = env
        .post_json(
            "/api/v1/holder/grants",
            Some(&holder),
            &json!({"client_id": client_id, "purpose": "变更通知",
                    "valid_until": env.now() + 86_400,
                    "certificates": [{"cert_type": "QC", "number": qc}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
}

fn outbox(env: &Env, client_id: &str) -> verifier_server::store::WebhookRow {
    testkit::blocking(|| {
        let mut tx = env.state.store().begin().unwrap();
        let app = tx.application_by_client_id(client_id).unwrap().unwrap();
        tx.webhook(app.id).unwrap().unwrap()
    })
}

async fn pass(env: &Env, n: &Notifier) -> usize {
    let (p, handles) = n.run_once(&env.state).await.unwrap();
    for h in handles {
        h.await.unwrap();
    }
    p.started
}

use verifier_server::notifier::{Notifier, BACKOFF_FIRST, EVENT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_webhook_reaches_a_receiver_that_comes_up_after_a_retry() {
    let env = Env::new();
    env.push(&env.admin, &[sample_record(CertType::QC)]).await;
    let qc = sample_record(CertType::QC).number.unwrap();
    // A port nobody listens on yet: the receiver is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let platform = Signer::generate("hooked", "k1").unwrap();
    register_with_callback(&env, &platform, &format!("http://127.0.0.1:{port}/hook")).await;
    let app = env.app_token(&platform).await;
    let notifier = Notifier::new();
    // Nothing visible yet: nothing to announce.
    assert_eq!(pass(&env, &notifier).await, 0);

    env.advance(10);
    grant_qc(&env, "hooked").await;
    status(&env, "QC", &qc, "suspended").await;
    let (feed, latest) = walk(&env, &app, 0, 100).await;
    assert_eq!(feed.len(), 1, "{feed:?}");
    let cursor = feed[0]["cursor"].as_i64().unwrap();

    assert_eq!(pass(&env, &notifier).await, 1);
    let row = outbox(&env, "hooked");
    assert_eq!(row.cursor, cursor);
    assert_eq!(row.delivered, 0);
    assert_eq!(row.attempts, 1);
    assert!(row.last_error.is_some(), "{row:?}");
    let wait = row.next_attempt_at - env.now();
    assert!(
        (BACKOFF_FIRST / 2..=BACKOFF_FIRST).contains(&wait),
        "back-off {wait}"
    );

    // The receiver comes up; nothing is sent before the back-off ends.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let inbox = receiver(listener);
    assert_eq!(pass(&env, &notifier).await, 0);
    assert!(inbox.lock().unwrap().is_empty());
    env.advance(wait);
    assert_eq!(pass(&env, &notifier).await, 1);
    let got = inbox.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "application/secevent+jwt");
    let row = outbox(&env, "hooked");
    assert_eq!((row.delivered, row.attempts), (cursor, 0), "{row:?}");
    // Delivered: nothing more until the next change.
    assert_eq!(pass(&env, &notifier).await, 0);

    // The signature verifies with the issuer key of the trust list (by an
    // independent JWS implementation), addressed to this application.
    let jws = &got[0].1;
    let header = jsonwebtoken::decode_header(jws).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    let issuer = env.state.keys().issuer.public_key();
    assert_eq!(header.kid.as_deref(), Some(issuer.kid().to_hex().as_str()));
    let trust = env.trust().await;
    assert!(
        trust
            .keys
            .iter()
            .any(|k| k.public_key.kid() == issuer.kid()),
        "the signing key is in the trust list"
    );
    use base64::Engine as _;
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(issuer.to_bytes());
    let key = jsonwebtoken::DecodingKey::from_ed_components(&x).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    v.set_audience(&["hooked"]);
    v.set_required_spec_claims(&["aud", "iss"]);
    v.validate_exp = false;
    let claims: Value = jsonwebtoken::decode(jws, &key, &v).unwrap().claims;
    assert_eq!(claims["events"][EVENT]["cursor"], cursor, "{claims}");
    assert!(latest >= cursor);
    // A tampered notification does not verify.
    let mut parts: Vec<&str> = jws.split('.').collect();
    let forged_claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&json!({"aud": "hooked", "iss": claims["iss"],
            "events": {EVENT: {"cursor": cursor + 1000}}}))
        .unwrap(),
    );
    parts[1] = &forged_claims;
    assert!(jsonwebtoken::decode::<Value>(&parts.join("."), &key, &v).is_err());

    // The next change is announced with its cursor.
    status(&env, "QC", &qc, "valid").await;
    assert_eq!(pass(&env, &notifier).await, 1);
    assert_eq!(inbox.lock().unwrap().len(), 2);
    assert!(outbox(&env, "hooked").delivered > cursor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_delays_no_request_and_no_other_delivery() {
    let env = Env::new();
    env.push(&env.admin, &[sample_record(CertType::QC)]).await;
    let qc = sample_record(CertType::QC).number.unwrap();
    // A receiver that accepts connections and never answers.
    let tar_pit = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slow_url = format!("http://{}/hook", tar_pit.local_addr().unwrap());
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = tar_pit.accept().await {
            keep.lock().unwrap().push(s);
        }
    });
    let fast = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fast_url = format!("http://{}/hook", fast.local_addr().unwrap());
    let inbox = receiver(fast);
    let slow = Signer::generate("slow", "k1").unwrap();
    register_with_callback(&env, &slow, &slow_url).await;
    let quick = Signer::generate("quick", "k1").unwrap();
    register_with_callback(&env, &quick, &fast_url).await;
    let app = env.app_token(&slow).await;
    env.advance(10);
    grant_qc(&env, "slow").await;
    grant_qc(&env, "quick").await;
    status(&env, "QC", &qc, "suspended").await;

    let notifier = Notifier::new();
    let (p, handles) = notifier.run_once(&env.state).await.unwrap();
    assert_eq!(p.started, 2);
    // While the slow delivery hangs, the API answers and the other
    // receiver has its notification.
    for _ in 0..200 {
        if !inbox.lock().unwrap().is_empty() && notifier.in_flight() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(inbox.lock().unwrap().len(), 1);
    assert_eq!(
        notifier.in_flight(),
        1,
        "the slow delivery is still in flight"
    );
    let page = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        env.get_json("/api/v1/app/changes", &app),
    )
    .await
    .expect("the API answered while a delivery hangs");
    assert_eq!(page["changes"].as_array().unwrap().len(), 1);
    // A further pass neither waits for it nor sends it twice.
    let (p, _) = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        notifier.run_once(&env.state),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(p.started, 0);
    // The hanging attempt ends at its timeout and is retried later.
    for h in handles {
        h.await.unwrap();
    }
    let row = outbox(&env, "slow");
    assert_eq!((row.delivered, row.attempts), (0, 1), "{row:?}");
    assert!(row.next_attempt_at > env.now());
    assert!(!held.lock().unwrap().is_empty());
}
