//! A server running as another province (`serve --province 220000`,
//! Jilin): it validates and issues Jilin's records from Jilin's shipped
//! data and refuses Liaoning's; a Liaoning server that mirrors it through
//! the national list verifies its certificates online for an application
//! (the answer names 吉林省) and takes its forwarding peers from the list:
//! Jilin at the origin of its published trust list, and no more once the
//! list drops it.

use std::time::Duration;

use serde_json::{json, Value};
use shared::crypto::Alg;
use shared::domain::{sample_record, CertType, RawRecord, JILIN};
use shared::forward::ProvinceCode;
use testkit::{SocketServer, TestServer};
use verifier_server::auth::Role;
use verifier_server::demo::yzt::Signer;
use verifier_server::national::{self, NationalConfig, ProvinceEntry, ProvincesFile};
use verifier_server::Config;

use crate::apps::Env;

/// The QC sample's holder.
const PERSON: &str = "210102198503122434";

/// A Liaoning sample record moved to Jilin (长春, 吉A).
fn in_jilin(cert_type: CertType) -> RawRecord {
    let mut raw = sample_record(cert_type);
    raw.issuer_division = Some("220100".into());
    raw.issuer_uscc = Some("11220100JLPH00000N".into());
    raw.issuer_name = Some("长春市交通运输局".into());
    if let Some(p) = raw.plate.take() {
        raw.plate = Some(format!("吉A{}", p.chars().skip(2).collect::<String>()));
    }
    if raw.operating_permit_number.is_some() {
        raw.operating_permit_number = Some("220106000123".into());
    }
    raw
}

fn entry(division: u32, root: shared::api::KeyView, base: &str) -> ProvinceEntry {
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

fn jilin_server() -> TestServer {
    TestServer::with(
        Alg::EdDSA,
        Config {
            province: &JILIN,
            ..Config::default()
        },
    )
}

#[tokio::test]
async fn a_jilin_server_issues_jilin_records_and_refuses_liaonings() {
    let jilin = jilin_server();
    let changchun = jilin.token(Role::Agency, Some(220100), "长春市交通运输局");
    let answer = jilin
        .push(
            &changchun,
            &[
                in_jilin(CertType::QC),
                in_jilin(CertType::YSZ),
                sample_record(CertType::QC),
            ],
        )
        .await;
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results[0]["result"], "issued", "{answer}");
    assert_eq!(results[1]["result"], "issued", "{answer}");
    // A Liaoning record is outside 长春's division ...
    assert_eq!(results[2]["result"], "refused", "{answer}");
    // ... and, from Jilin's administrator, none of Jilin's divisions.
    let admin = jilin.token(Role::Admin, None, "admin");
    let answer = jilin.push(&admin, &[sample_record(CertType::QC)]).await;
    assert_eq!(answer["results"][0]["result"], "non_conforming", "{answer}");
    assert!(
        answer.to_string().contains("division.unknown_division"),
        "{answer}"
    );
    assert!(
        answer.to_string().contains("不是吉林省现行行政区划代码"),
        "{answer}"
    );
    // Jilin's trust list names Jilin's authorities, from Jilin's data.
    let trust = jilin.trust().await;
    let names: Vec<&str> = trust.authorities.iter().map(|a| a.name.as_str()).collect();
    assert!(names.contains(&"吉林省交通运输厅"), "{names:?}");
    assert!(names.contains(&"延边朝鲜族自治州交通运输局"), "{names:?}");
    assert!(trust
        .authorities
        .iter()
        .all(|a| a.division.province_code() == 220000));
    // A 辽 plate is not a Jilin vehicle's.
    let mut liaoning_plate = in_jilin(CertType::YSZ);
    liaoning_plate.plate = Some("辽A5K823".into());
    liaoning_plate.number = Some("220100000777".into());
    let answer = jilin.push(&changchun, &[liaoning_plate]).await;
    assert!(
        answer.to_string().contains("plate.other_province"),
        "{answer}"
    );

    // And a Liaoning server refuses Jilin's records as before.
    let liaoning = TestServer::new();
    let admin = liaoning.token(Role::Admin, None, "admin");
    let answer = liaoning.push(&admin, &[in_jilin(CertType::QC)]).await;
    assert_eq!(answer["results"][0]["result"], "non_conforming", "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liaoning_verifies_jilin_online_and_forwards_to_the_listed_jilin() {
    let dir = testkit::tempdir();
    let key_dir = dir.path().join("national");
    let list_path = dir.path().join("national.cose");
    let root = national::keygen(&key_dir, Alg::EdDSA).unwrap();

    let jilin = jilin_server();
    let changchun = jilin.token(Role::Agency, Some(220100), "长春市交通运输局");
    let answer = jilin.push(&changchun, &[in_jilin(CertType::QC)]).await;
    assert_eq!(answer["results"][0]["result"], "issued", "{answer}");
    let holder = jilin.token(Role::Holder, None, PERSON);
    let (_, _, body) = jilin
        .get("/api/v1/holder/certificates", Some(&holder))
        .await;
    let mine: Value = serde_json::from_slice(&body).unwrap();
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
    let jilin_socket = SocketServer::start(jilin.state.clone()).await;

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
    let jilin_root = national::key_view(&jilin.state.root_public_key());
    let now = liaoning.now();
    let both = ProvincesFile {
        provider: "交通运输部".into(),
        next_update_days: 7,
        provinces: vec![
            entry(210000, liaoning_root.clone(), "http://127.0.0.1:9"),
            entry(220000, jilin_root, &jilin_socket.url),
        ],
    };
    national::sign(&key_dir, &both, None, &list_path, now - 60).unwrap();
    let state = liaoning.state.clone();
    tokio::task::spawn_blocking(move || state.refresh_national())
        .await
        .unwrap()
        .unwrap();

    // Forwarding peers come from the list: Jilin at its server's origin.
    let jl = ProvinceCode::new(220000).unwrap();
    let peers = liaoning.state.peers();
    let peer = peers.get(jl).expect("Jilin is a peer");
    assert_eq!(peer.base_url, jilin_socket.url.trim_end_matches('/'));
    assert_eq!(peer.root_keys, vec![jilin.state.root_public_key()]);
    assert_eq!(peers.own().code(), 210000);

    // An application of Liaoning verifies the Jilin code online.
    let env = Env {
        admin: liaoning.token(Role::Admin, None, "admin"),
        srv: liaoning,
    };
    let platform = Signer::generate("platform", "k1").unwrap();
    env.register(&platform, false).await;
    let app = env.app_token(&platform).await;
    let (s, _, b) = env
        .post_json("/api/v1/app/verify", Some(&app), &json!({ "code": code }))
        .await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["verdict"], "valid", "{v}");
    assert_eq!(v["province_code"], 220000, "{v}");
    assert_eq!(v["province_name"], "吉林省", "{v}");
    // Liaoning's register holds none of it.
    assert!(v["status"].is_null(), "{v}");

    // Jilin revokes it; after the next refresh the answer is invalid.
    let admin_j = jilin.token(Role::Admin, None, "admin");
    let (s, _, b) = jilin
        .post_json(
            &format!("/api/v1/certificates/QC/{PERSON}/status"),
            Some(&admin_j),
            &json!({"status": "revoked", "reason": "吊销"}),
        )
        .await;
    assert!(s.is_success(), "{}", String::from_utf8_lossy(&b));
    let state = env.state.clone();
    tokio::task::spawn_blocking(move || state.refresh_national())
        .await
        .unwrap()
        .unwrap();
    let (_, _, b) = env
        .post_json("/api/v1/app/verify", Some(&app), &json!({ "code": code }))
        .await;
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["verdict"], "invalid", "{v}");

    // Jilin removed from the national list: no peer any more.
    let only_liaoning = ProvincesFile {
        provinces: vec![entry(210000, liaoning_root, "http://127.0.0.1:9")],
        ..both
    };
    national::sign(&key_dir, &only_liaoning, None, &list_path, now - 60).unwrap();
    let state = env.state.clone();
    tokio::task::spawn_blocking(move || state.refresh_national())
        .await
        .unwrap()
        .unwrap();
    assert!(env.state.peers().get(jl).is_none());
    let (_, _, b) = env
        .post_json("/api/v1/app/verify", Some(&app), &json!({ "code": code }))
        .await;
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_ne!(v["verdict"], "valid", "{v}");
    jilin_socket.shutdown().await.unwrap();
}
