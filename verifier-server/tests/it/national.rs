//! Mutual recognition on the server (issue 14): the national routes answer
//! 404 problems until a list is held; the mirror serves another province's
//! lists only when its trust list is signed by the root the national list
//! names, drops a province removed from the list, never mirrors the own
//! province, and refuses a forged or rolled-back national list while
//! keeping the one it holds; `admin national sign` never lowers the
//! sequence; enrollment hands out the national root.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use shared::api::KeyView;
use shared::crypto::Alg;
use shared::national::NationalList;
use testkit::{assert_problem, SocketServer, TestServer};
use verifier_server::national::{self, NationalConfig, ProvinceEntry, ProvincesFile};
use verifier_server::Config;

fn problem(r: &testkit::Reply, status: u16) {
    assert_problem(r.0, &r.1, &r.2, StatusCode::from_u16(status).unwrap());
}

async fn refresh(state: &verifier_server::AppState) -> anyhow::Result<national::RefreshReport> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || state.national().refresh())
        .await
        .unwrap()
}

fn entry(division: u32, root: KeyView, base: &str) -> ProvinceEntry {
    ProvinceEntry {
        division,
        name: format!("{division}"),
        root,
        cert_types: None,
        not_before: None,
        not_after: None,
        trust_list_url: format!("{base}/api/v1/trust-list"),
        status_list_url: format!("{base}/api/v1/status-list"),
    }
}

fn file(provinces: Vec<ProvinceEntry>) -> ProvincesFile {
    ProvincesFile {
        provider: "交通运输部".into(),
        next_update_days: 7,
        provinces,
    }
}

#[tokio::test]
async fn national_routes_are_problems_until_a_list_is_held() {
    let server = TestServer::new();
    for path in [
        "/api/v1/national-list",
        "/api/v1/provinces/220000/trust-list",
        "/api/v1/provinces/220000/status-list",
    ] {
        let r = server.get(path, None).await;
        problem(&r, 404);
    }
    let r = server.get("/api/v1/provinces/x/trust-list", None).await;
    problem(&r, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mirror_serves_only_what_the_national_list_vouches_for() {
    let dir = testkit::tempdir();
    let key_dir = dir.path().join("national");
    let list_path = dir.path().join("national.cose");
    let root = national::keygen(&key_dir, Alg::Sm2Sm3).unwrap();
    // Refused: a second keygen would replace the root.
    assert!(national::keygen(&key_dir, Alg::EdDSA).is_err());

    // "Jilin": another server publishing its own signed lists.
    let jilin = TestServer::new();
    let jilin_root = national::key_view(&jilin.state.root_public_key());
    let jilin_socket = SocketServer::start(jilin.state.clone()).await;
    // A province whose URLs serve lists signed by a root other than the one
    // the national list names for it.
    let impostor = TestServer::new();
    let impostor_socket = SocketServer::start(impostor.state.clone()).await;

    let liaoning = TestServer::with(
        Alg::EdDSA,
        Config {
            national: Some(NationalConfig {
                root: root.clone(),
                source: list_path.to_string_lossy().into_owned(),
                own_province: 210000,
                refresh: Duration::from_secs(3600),
            }),
            ..Config::default()
        },
    );
    let liaoning_root = national::key_view(&liaoning.state.root_public_key());
    let now = liaoning.now();
    let both = file(vec![
        entry(210000, liaoning_root.clone(), "http://127.0.0.1:9"),
        entry(220000, jilin_root.clone(), &jilin_socket.url),
        // 230000 names Jilin's root but serves the impostor's lists.
        entry(230000, jilin_root.clone(), &impostor_socket.url),
    ]);
    let l1 = national::sign(&key_dir, &both, None, &list_path, now).unwrap();
    assert_eq!(l1.seq, 1);
    // The sequence never goes down, nor stays.
    assert!(national::sign(&key_dir, &both, Some(1), &list_path, now).is_err());

    let report = refresh(&liaoning.state).await.unwrap();
    assert_eq!(report.seq, 1);
    assert_eq!(report.provinces, vec![220000], "{report:?}");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].0, 230000);
    assert!(
        report.failed[0]
            .1
            .contains("not the root the national list names"),
        "{report:?}"
    );

    let national_bytes = std::fs::read(&list_path).unwrap();
    let r = liaoning.get("/api/v1/national-list", None).await;
    assert_eq!(r.0, 200);
    assert_eq!(r.2.as_slice(), national_bytes.as_slice());
    assert!(NationalList::verify(&r.2, &root).is_ok());
    let jilin_trust = jilin.get("/api/v1/trust-list", None).await;
    let r = liaoning
        .get("/api/v1/provinces/220000/trust-list", None)
        .await;
    assert_eq!(r.0, 200);
    assert_eq!(r.2, jilin_trust.2);
    let etag = r.1.get("etag").unwrap().to_str().unwrap().to_string();
    let again = liaoning
        .call(
            Method::GET,
            "/api/v1/provinces/220000/trust-list",
            None,
            &[("if-none-match", &etag)],
            None,
        )
        .await;
    assert_eq!(again.0, 304);
    assert_eq!(
        liaoning
            .get("/api/v1/provinces/220000/status-list", None)
            .await
            .0,
        200
    );
    for not_mirrored in [210000, 230000] {
        let r = liaoning
            .get(
                &format!("/api/v1/provinces/{not_mirrored}/trust-list"),
                None,
            )
            .await;
        problem(&r, 404);
    }

    // A forged list (another root) and a rolled-back one are refused; the
    // held list stays served.
    let other = dir.path().join("other");
    national::keygen(&other, Alg::EdDSA).unwrap();
    let forged_path = dir.path().join("forged.cose");
    national::sign(&other, &both, Some(9), &forged_path, now).unwrap();
    let held = std::fs::read(&list_path).unwrap();
    let without_jilin = file(vec![entry(
        210000,
        liaoning_root.clone(),
        "http://127.0.0.1:9",
    )]);
    national::sign(&key_dir, &without_jilin, None, &list_path, now).unwrap();
    let newer = std::fs::read(&list_path).unwrap();
    std::fs::write(&list_path, std::fs::read(&forged_path).unwrap()).unwrap();
    let err = refresh(&liaoning.state).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("forged national list"),
        "{err:#}"
    );
    let r = liaoning.get("/api/v1/national-list", None).await;
    assert_eq!(r.2.as_slice(), held.as_slice());

    // Jilin removed (seq 2): dropped at the next refresh.
    std::fs::write(&list_path, &newer).unwrap();
    let report = refresh(&liaoning.state).await.unwrap();
    assert_eq!(report.seq, 2);
    assert!(report.provinces.is_empty(), "{report:?}");
    problem(
        &liaoning
            .get("/api/v1/provinces/220000/trust-list", None)
            .await,
        404,
    );
    // Back to seq 1: rolled back, refused.
    std::fs::write(&list_path, &held).unwrap();
    let err = refresh(&liaoning.state).await.unwrap_err();
    assert!(format!("{err:#}").contains("rolled back"), "{err:#}");
    let r = liaoning.get("/api/v1/national-list", None).await;
    assert_eq!(r.2.as_slice(), newer.as_slice());

    // Enrollment hands the national root out beside the province's root.
    let officer = liaoning.token(
        verifier_server::auth::Role::Officer,
        Some(210100),
        "officer",
    );
    let device = shared::crypto::SigningKey::from_secret_bytes(Alg::EdDSA, &[5; 32]).unwrap();
    use base64::Engine as _;
    let r = liaoning
        .post_json(
            "/api/v1/devices",
            Some(&officer),
            &json!({
                "alg": "EdDSA",
                "public_key": base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(device.public_key().to_bytes()),
                "label": "test",
            }),
        )
        .await;
    assert_eq!(r.0, 201, "{}", String::from_utf8_lossy(&r.2));
    let answer: Value = serde_json::from_slice(&r.2).unwrap();
    assert_eq!(answer["national_root"]["kid"], root.kid().to_hex());
    jilin_socket.shutdown().await.unwrap();
    impostor_socket.shutdown().await.unwrap();
}
