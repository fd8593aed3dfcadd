//! Mutual recognition (互认互通, issue 14) end to end with the real
//! binaries over 127.0.0.1: a Jilin server (`verifier-server serve
//! --province 220000`) issues a certificate pushed by 长春's agency; a
//! Liaoning server (210000) mirrors a national issuer list naming both and
//! Jilin's published lists (at start, on a schedule and at SIGHUP); a
//! Liaoning officer's field client, syncing from its own server only,
//! verifies the Jilin certificate offline, and the check is forwarded to
//! Jilin's server (peers from the national list) and counted there, not in
//! Liaoning's evaluation; Jilin cancels it and the next sync makes it
//! invalid; a forged national list and a rolled-back sequence are refused by
//! the server's mirror and by the device; Jilin is removed from the national
//! list and the next sync stops trusting it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use shared::domain::{sample_record, CertType, RawRecord};
use testkit::{agent, binary, describe, field_client, json_lines, ChildServer, SocketServer};

/// What a publisher answers: path → bytes.
type Published = Arc<RwLock<Vec<(String, Vec<u8>)>>>;

fn publisher(published: Published) -> SocketServer {
    async fn answer(State(p): State<Published>, uri: axum::http::Uri) -> axum::response::Response {
        use axum::response::IntoResponse as _;
        let found = p
            .read()
            .unwrap()
            .iter()
            .find(|(path, _)| path == uri.path())
            .map(|(_, b)| b.clone());
        match found {
            // An empty body stands for "nothing new" (204), as the status
            // delta route answers a device that is up to date.
            Some(b) if b.is_empty() => axum::http::StatusCode::NO_CONTENT.into_response(),
            Some(b) => b.into_response(),
            None => axum::http::StatusCode::NOT_FOUND.into_response(),
        }
    }
    let router = Router::new().fallback(get(answer)).with_state(published);
    SocketServer::start_router_blocking(router)
}

fn set(p: &Published, path: &str, bytes: Vec<u8>) {
    let mut w = p.write().unwrap();
    w.retain(|(q, _)| q != path);
    w.push((path.to_string(), bytes));
}

/// A Liaoning sample 道路运输证 moved to Jilin: issued by 长春市 (220100),
/// a 吉A plate, a Jilin operating-permit number.
fn jilin_record() -> RawRecord {
    let mut raw = sample_record(CertType::YSZ);
    raw.issuer_division = Some("220100".into());
    raw.issuer_uscc = Some("11220100JLPH00000N".into());
    raw.issuer_name = Some("长春市交通运输局".into());
    raw.plate = raw
        .plate
        .map(|p| format!("吉A{}", p.chars().skip(2).collect::<String>()));
    raw.operating_permit_number = Some("220106000123".into());
    raw
}

fn post_json(url: &str, token: &str, body: &Value) -> (u16, Value) {
    let mut r = agent()
        .post(url)
        .header("authorization", &format!("Bearer {token}"))
        .send_json(body)
        .unwrap();
    let status = r.status().as_u16();
    let v = r.body_mut().read_json().unwrap_or(Value::Null);
    (status, v)
}

fn get_json(url: &str, token: &str) -> Value {
    let mut r = agent()
        .get(url)
        .header("authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "GET {url}");
    r.body_mut().read_json().unwrap()
}

/// `admin create-token` on a server's data directory.
fn token(data: &Path, province: &str, role: &str, division: Option<&str>) -> String {
    let mut args = vec!["create-token", "--role", role, "--province", province];
    if let Some(d) = division {
        args.extend(["--division", d]);
    }
    testkit::server_admin(data, &args)
        .unwrap()
        .trim()
        .to_string()
}

/// Provable checks the evaluation of this year counts for `unit` (the
/// province or a city).
fn provable_checks(server: &ChildServer, admin: &str, unit: u32) -> u64 {
    let year = shared::cst::date(time::OffsetDateTime::now_utc().unix_timestamp()).year();
    let e = get_json(
        &format!("{}/api/v1/evaluation?year={year}", server.url),
        admin,
    );
    let u = if unit % 10_000 == 0 {
        e["province"].clone()
    } else {
        e["cities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["division"] == unit)
            .cloned()
            .unwrap_or_else(|| panic!("no unit {unit} in {e}"))
    };
    u["activation"]["provable_checks"].as_u64().unwrap()
}

fn national_cmd(args: &[&str]) -> String {
    let out = Command::new(binary("verifier-server").unwrap())
        .arg("admin")
        .arg("national")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "admin national {args:?}: {}",
        describe(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Signs the national list from `provinces` into `out` (sequence: one above
/// the list there).
fn sign_national(key_dir: &Path, dir: &Path, provinces: &Value, out: &Path) {
    let file = dir.join("provinces.json");
    std::fs::write(&file, serde_json::to_vec_pretty(provinces).unwrap()).unwrap();
    national_cmd(&[
        "sign",
        "--key-dir",
        key_dir.to_str().unwrap(),
        "--provinces",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
}

fn get_bytes(url: &str) -> (u16, Vec<u8>) {
    let mut r = agent().get(url).call().unwrap();
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_vec().unwrap();
    (status, body)
}

/// Waits until the server mirrors exactly `want` at `path`.
fn wait_mirrored(server: &ChildServer, path: &str, want: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get_bytes(&format!("{}{path}", server.url));
        if status == 200 && body == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path} not mirrored in 30 s (HTTP {status}); server log:\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until the server's log holds `text`.
fn wait_logged(server: &ChildServer, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.log_text().contains(text) {
        assert!(
            Instant::now() < deadline,
            "{text:?} not logged in 30 s:\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until `path` answers `status`.
fn wait_status(server: &ChildServer, path: &str, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _) = get_bytes(&format!("{}{path}", server.url));
        if status == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path} did not answer {want} in 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn sync(device: &Path) -> Value {
    let out = field_client(device, &["--json", "sync"]).unwrap();
    assert!(out.status.success(), "sync: {}", describe(&out));
    json_lines(&out).unwrap().remove(0)
}

fn verify(device: &Path, text: &str) -> Value {
    let out = field_client(device, &["verify", "--json", "--text", text]).unwrap();
    json_lines(&out).unwrap().remove(0)
}

fn verdict(v: &Value) -> (String, String) {
    (
        v["verdict"].as_str().unwrap().to_string(),
        v["reason"].as_str().unwrap_or("ok").to_string(),
    )
}

#[test]
fn a_liaoning_officer_verifies_jilin_certificates_through_the_national_list() {
    let dir = testkit::tempdir();
    let key_dir = dir.path().join("national-key");
    let national = dir.path().join("national.cose");
    national_cmd(&["keygen", "--dir", key_dir.to_str().unwrap()]);
    let national_root = key_dir.join("national-root.pub.json");
    let mirror_args = [
        "--national-root",
        national_root.to_str().unwrap(),
        "--national-list",
        national.to_str().unwrap(),
        // On demand only (SIGHUP), so every step below shows that a
        // refresh is what brings each change in.
        "--national-refresh",
        "3600",
    ];

    // Jilin's own server: the same binary, running as 220000.
    let jdata = dir.path().join("jilin");
    let mut jilin_args = vec!["--province", "220000"];
    jilin_args.extend(mirror_args);
    let jilin = ChildServer::start(
        &binary("verifier-server").unwrap(),
        "serve",
        &jdata,
        &jilin_args,
    )
    .unwrap();
    let changchun = token(&jdata, "220000", "agency", Some("220100"));
    let jilin_admin = token(&jdata, "220000", "admin", None);
    // A Liaoning division is none of Jilin's.
    let refused = testkit::server_admin(
        &jdata,
        &[
            "create-token",
            "--role",
            "agency",
            "--division",
            "210100",
            "--province",
            "220000",
        ],
    );
    assert!(
        refused.is_err(),
        "a Liaoning division bound to a Jilin token"
    );
    let record = jilin_record();
    let number = record.number.clone().unwrap();
    let (status, pushed) = post_json(
        &format!("{}/api/v1/records", jilin.url),
        &changchun,
        &json!({ "records": [record, sample_record(CertType::QC)] }),
    );
    assert_eq!(status, 200, "{pushed}");
    assert_eq!(pushed["results"][0]["result"], "issued", "{pushed}");
    // Liaoning's record is not 长春's.
    assert_eq!(pushed["results"][1]["result"], "refused", "{pushed}");
    let cert = get_json(
        &format!("{}/api/v1/certificates/YSZ/{number}", jilin.url),
        &jilin_admin,
    )["qr"]
        .as_str()
        .unwrap()
        .to_string();
    let jilin_root: Value = serde_json::from_str(
        &testkit::server_admin(&jdata, &["national", "show-root", "--province", "220000"]).unwrap(),
    )
    .unwrap();
    let (_, jilin_trust_v1) = get_bytes(&format!("{}/api/v1/trust-list", jilin.url));

    // Liaoning's server mirrors the national list and what it names.
    let data = dir.path().join("liaoning");
    let liaoning = ChildServer::start(
        &binary("verifier-server").unwrap(),
        "demo",
        &data,
        &mirror_args,
    )
    .unwrap();
    let liaoning_admin = token(&data, "210000", "admin", None);
    let liaoning_root: Value =
        serde_json::from_str(&testkit::server_admin(&data, &["national", "show-root"]).unwrap())
            .unwrap();
    let entry_liaoning = json!({
        "division": 210000, "name": "辽宁省交通运输厅", "root": liaoning_root,
        "trust_list_url": format!("{}/api/v1/trust-list", liaoning.url),
        "status_list_url": format!("{}/api/v1/status-list", liaoning.url),
    });
    let entry_jilin = json!({
        "division": 220000, "name": "吉林省交通运输厅", "root": jilin_root,
        "cert_types": ["YSZ", "QC"],
        "not_before": "2020-01-01T00:00:00+08:00",
        "trust_list_url": format!("{}/api/v1/trust-list", jilin.url),
        "status_list_url": format!("{}/api/v1/status-list", jilin.url),
    });
    sign_national(
        &key_dir,
        dir.path(),
        &json!({"provider": "交通运输部", "provinces": [entry_liaoning, entry_jilin]}),
        &national,
    );
    let national_v1 = std::fs::read(&national).unwrap();
    liaoning.hangup().unwrap();
    jilin.hangup().unwrap();
    wait_mirrored(&liaoning, "/api/v1/national-list", &national_v1);
    wait_mirrored(
        &liaoning,
        "/api/v1/provinces/220000/trust-list",
        &jilin_trust_v1,
    );
    wait_mirrored(&jilin, "/api/v1/national-list", &national_v1);
    // The own province is never mirrored: its lists are the server's own.
    wait_status(&liaoning, "/api/v1/provinces/210000/trust-list", 404);
    wait_status(&jilin, "/api/v1/provinces/220000/trust-list", 404);

    // The officer enrolls with Liaoning's server and syncs from it only.
    let device = dir.path().join("device");
    let officer = liaoning.demo_file("officer-token").unwrap();
    let national_kid =
        serde_json::from_str::<Value>(&std::fs::read_to_string(&national_root).unwrap()).unwrap()
            ["kid"]
            .as_str()
            .unwrap()
            .to_string();
    // A national root other than the one checked out of band: refused,
    // nothing stored.
    let out = field_client(
        &device,
        &[
            "enroll",
            "--server",
            &liaoning.url,
            "--token",
            &officer,
            "--national-root-kid",
            "0000000000000000",
        ],
    )
    .unwrap();
    assert!(!out.status.success(), "a wrong national root was pinned");
    assert!(
        describe(&out).contains("national root key mismatch"),
        "{}",
        describe(&out)
    );
    let out = field_client(
        &device,
        &[
            "--json",
            "enroll",
            "--server",
            &liaoning.url,
            "--token",
            &officer,
            "--national-root-kid",
            &national_kid,
        ],
    )
    .unwrap();
    assert!(out.status.success(), "enroll: {}", describe(&out));
    let enrolled = json_lines(&out).unwrap().remove(0);
    assert_eq!(
        enrolled["national_root_kid"].as_str().unwrap(),
        national_kid
    );
    let report = sync(&device);
    assert_eq!(report["national"]["provinces"], json!([220000]), "{report}");
    let liaoning_trust_seq = report["trust_seq"].clone();
    let liaoning_status_seq = report["status_seq"].clone();

    // 1. Valid, offline (neither server is asked: verify never touches the
    //    network), naming Jilin.
    let jilin_before = provable_checks(&jilin, &jilin_admin, 220100);
    let liaoning_before = provable_checks(&liaoning, &liaoning_admin, 210000);
    let v = verify(&device, &cert);
    assert_eq!(verdict(&v), ("valid".into(), "ok".into()), "{v}");
    assert_eq!(v["issuing_province"]["code"], 220000, "{v}");
    assert_eq!(v["issuing_province"]["name"], "吉林省", "{v}");
    assert_eq!(v["issuing_province"]["foreign"], true, "{v}");
    let card = field_client(&device, &["verify", "--text", &cert]).unwrap();
    assert!(
        String::from_utf8_lossy(&card.stdout).contains("吉林省"),
        "the card names the issuing province: {}",
        describe(&card)
    );

    // The two checks are uploaded at the next sync; Liaoning's server
    // forwards them to Jilin's (its peer from the national list), where they
    // count for 长春; Liaoning's counts do not move.
    sync(&device);
    let deadline = Instant::now() + Duration::from_secs(60);
    while provable_checks(&jilin, &jilin_admin, 220100) < jilin_before + 2 {
        assert!(
            Instant::now() < deadline,
            "the checks did not reach Jilin in 60 s; Liaoning's log:\n{}\nJilin's log:\n{}",
            liaoning.log_text(),
            jilin.log_text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        provable_checks(&jilin, &jilin_admin, 220100),
        jilin_before + 2
    );
    assert_eq!(
        provable_checks(&liaoning, &liaoning_admin, 210000),
        liaoning_before
    );

    // 2. Jilin cancels it; after Liaoning mirrors and the officer syncs:
    //    invalid. Liaoning's own lists are untouched.
    let (status, changed) = post_json(
        &format!("{}/api/v1/certificates/YSZ/{number}/status", jilin.url),
        &jilin_admin,
        &json!({"status": "revoked", "reason": "注销"}),
    );
    assert_eq!(status, 200, "{changed}");
    let (_, cancelled) = get_bytes(&format!("{}/api/v1/status-list", jilin.url));
    liaoning.hangup().unwrap();
    wait_mirrored(
        &liaoning,
        "/api/v1/provinces/220000/status-list",
        &cancelled,
    );
    assert_eq!(
        verdict(&verify(&device, &cert)).0,
        "valid",
        "offline, the device still holds the old list"
    );
    let report = sync(&device);
    assert_eq!(report["trust_seq"], liaoning_trust_seq);
    assert_eq!(report["status_seq"], liaoning_status_seq);
    let v = verify(&device, &cert);
    assert_eq!(verdict(&v), ("invalid".into(), "revoked".into()), "{v}");

    // 3. A forged national list (signed by another key) and a rolled-back
    //    one are refused by Liaoning's mirror: it keeps serving the held
    //    list.
    let other_key = dir.path().join("other-key");
    national_cmd(&["keygen", "--dir", other_key.to_str().unwrap()]);
    let forged_out = dir.path().join("forged.cose");
    sign_national(
        &other_key,
        dir.path(),
        &json!({"provider": "伪造", "provinces": [entry_liaoning]}),
        &forged_out,
    );
    let forged = std::fs::read(&forged_out).unwrap();
    std::fs::write(&national, &forged).unwrap();
    liaoning.hangup().unwrap();
    wait_logged(&liaoning, "forged national list");
    wait_mirrored(&liaoning, "/api/v1/national-list", &national_v1);

    // ... and by the device, even if its own server were to hand them out
    //     (a stand-in server: Liaoning's own lists as they are, and the
    //     forged or an older genuine national list).
    let (_, own_trust) = get_bytes(&format!("{}/api/v1/trust-list", liaoning.url));
    let (_, catalogue) = get_bytes(&format!("{}/api/v1/catalogue", liaoning.url));
    let rogue: Published = Arc::default();
    set(&rogue, "/api/v1/trust-list", own_trust);
    set(&rogue, "/api/v1/catalogue", catalogue);
    set(&rogue, "/api/v1/status-list/deltas", Vec::new());
    set(&rogue, "/api/v1/national-list", forged);
    let rogue_server = publisher(rogue.clone());
    let rogue_url = rogue_server.url.clone();
    let out = field_client(&device, &["sync", "--server", &rogue_url]).unwrap();
    assert!(!out.status.success(), "a forged list must fail the sync");
    assert!(
        describe(&out).contains("forged national list"),
        "{}",
        describe(&out)
    );
    // The same sequence signed again with other content: a rollback.
    std::fs::write(&national, &national_v1).unwrap();
    sign_national(
        &key_dir,
        dir.path(),
        &json!({"provider": "交通运输部", "provinces": [entry_liaoning, entry_jilin]}),
        &national,
    );
    let national_v2 = std::fs::read(&national).unwrap();
    liaoning.hangup().unwrap();
    wait_mirrored(&liaoning, "/api/v1/national-list", &national_v2);
    let report = sync(&device);
    assert_eq!(report["national"]["seq"], 2, "{report}");
    set(&rogue, "/api/v1/national-list", national_v1.clone());
    let out = field_client(&device, &["sync", "--server", &rogue_url]).unwrap();
    assert!(
        !out.status.success(),
        "a rolled-back list must fail the sync"
    );
    assert!(describe(&out).contains("rolled back"), "{}", describe(&out));
    // Liaoning's mirror refuses the older list too.
    std::fs::write(&national, &national_v1).unwrap();
    liaoning.hangup().unwrap();
    wait_logged(&liaoning, "rolled back");
    wait_mirrored(&liaoning, "/api/v1/national-list", &national_v2);
    // Nothing was written by the refused syncs: still revoked, still Jilin.
    assert_eq!(
        verdict(&verify(&device, &cert)),
        ("invalid".into(), "revoked".into())
    );

    // 4. Jilin is removed from the national list: after the next sync its
    //    certificates are no longer valid (cannot confirm, unknown
    //    province; see docs/decisions.md).
    std::fs::write(&national, &national_v2).unwrap();
    sign_national(
        &key_dir,
        dir.path(),
        &json!({"provider": "交通运输部", "provinces": [entry_liaoning]}),
        &national,
    );
    let national_v3 = std::fs::read(&national).unwrap();
    liaoning.hangup().unwrap();
    wait_mirrored(&liaoning, "/api/v1/national-list", &national_v3);
    wait_status(&liaoning, "/api/v1/provinces/220000/trust-list", 404);
    let report = sync(&device);
    assert_eq!(report["national"]["provinces"], json!([]), "{report}");
    let v = verify(&device, &cert);
    assert_eq!(
        verdict(&v),
        ("cannot_confirm".into(), "unknown_province".into()),
        "{v}"
    );
    assert_eq!(v["issuing_province"]["code"], 220000);
}
