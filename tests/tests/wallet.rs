//! The holder wallet end to end: the real `verifier-server` on 127.0.0.1
//! serves `/wallet/`; `wallet/test/e2e.mjs` drives it in headless Chromium
//! (a phone-sized viewport); the officer's real `field-client` binary,
//! enrolled and synced against the same server, judges the screenshots
//! offline ([`judge_screenshot`]).
//!
//! Covered: a holder signs in and claims a certificate (the wallet's own
//! Ed25519 key, non-extractable, registered, the certificate re-issued
//! holder-bound); a screenshot of the QR verifies valid; the QR is re-signed
//! for the next slot; a second holder's token sees and gets none of the
//! first holder's certificates; the second holder's certificate, cancelled
//! and synced, shows a reason and no QR offline; with the server stopped and the phone
//! offline, a reload still shows a fresh QR that verifies; an expired
//! certificate shows a reason and no QR; and the first screenshot, judged
//! again after its window, is invalid (`presentation_outside_window`).
//!
//! Needs headless Chromium and the built front-ends with their npm packages:
//! `scripts/test` installs both (`scripts/setup`, `scripts/build-web`);
//! without them the test fails saying so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use shared::domain::{sample_record, CertType};
use testkit::{agent, describe, field_client, json_lines, server_admin, ChildServer as Server};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

fn wallet_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../wallet")
}

/// Fails, saying how to install them, when the browser or the wallet's
/// build is missing: this test never skips.
fn prerequisites() -> PathBuf {
    testkit::browser::front_end("wallet", &[]);
    testkit::browser::chromium()
}

/// The officer's device: the real `field-client`, enrolled against the
/// server with an officer token.
fn enroll_officer(server: &Server, data: &Path, device: &Path) {
    let token = server_admin(
        data,
        &["create-token", "--role", "officer", "--division", "210000"],
    )
    .unwrap();
    let out = field_client(
        device,
        &["enroll", "--server", &server.url, "--token", &token],
    )
    .unwrap();
    assert!(out.status.success(), "enroll: {}", describe(&out));
}

/// Syncs the officer's device (the holder's registration re-issued the
/// certificate at a new status index, so the device must see the new list).
fn officer_sync(device: &Path) {
    let out = field_client(device, &["sync"]).unwrap();
    assert!(out.status.success(), "sync: {}", describe(&out));
}

/// The verdict and reason code (empty when valid) the officer's
/// `field-client` gives, offline, for `args` (`--image FILE` or
/// `--text TEXT`); a valid answer must be a holder presentation.
fn judge(device: &Path, args: &[&str]) -> (String, String) {
    let mut all = vec!["verify", "--json"];
    all.extend_from_slice(args);
    let out = field_client(device, &all).unwrap();
    let lines = json_lines(&out).unwrap();
    assert_eq!(lines.len(), 1, "one code expected: {}", describe(&out));
    let v = &lines[0];
    let verdict = v["verdict"].as_str().unwrap_or_default().to_string();
    if verdict == "valid" {
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        assert!(
            v["holder_presentation"]["slot"].is_u64(),
            "valid, but not as a holder presentation: {v}"
        );
    }
    (
        verdict,
        v["reason"].as_str().unwrap_or_default().to_string(),
    )
}

fn judge_screenshot(device: &Path, png: &Path) -> (String, String) {
    judge(device, &["--image", png.to_str().unwrap()])
}

/// The e2e script's reports, one JSON object a line.
struct Script {
    child: std::process::Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    stderr: PathBuf,
}

impl Script {
    fn next(&mut self, event: &str) -> Value {
        loop {
            let Some(line) = self.lines.next() else {
                let status = self.child.wait().unwrap();
                panic!(
                    "e2e.mjs ended ({status}) before reporting {event}; stderr:\n{}",
                    std::fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            };
            let line = line.unwrap();
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                eprintln!("e2e.mjs: {line}");
                continue;
            };
            assert_eq!(v["event"], event, "unexpected report: {v}");
            return v;
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn numbers(cards: &Value) -> Vec<String> {
    cards
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["number"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_holders_wallet() {
    let chromium = prerequisites();
    let dir = testkit::tempdir();
    let data = dir.path().join("server");

    // A province agency and two holders: A holds the QC sample, B the WYJ.
    let qc = sample_record(CertType::QC);
    let wyj = sample_record(CertType::WYJ);
    let id_a = qc.id_number.clone().unwrap();
    let id_b = wyj.id_number.clone().unwrap();
    let agency = server_admin(
        &data,
        &["create-token", "--role", "agency", "--division", "210000"],
    )
    .unwrap();
    let token_a = server_admin(
        &data,
        &["create-token", "--role", "holder", "--subject", &id_a],
    )
    .unwrap();
    let token_b = server_admin(
        &data,
        &["create-token", "--role", "holder", "--subject", &id_b],
    )
    .unwrap();
    // Holder C: a phone whose clock is hours wrong.
    let xyj = sample_record(CertType::XYJ);
    let token_c = server_admin(
        &data,
        &[
            "create-token",
            "--role",
            "holder",
            "--subject",
            xyj.id_number.as_deref().unwrap(),
        ],
    )
    .unwrap();
    // The server's debug build reads the embedded wallet from wallet/dist.
    let mut server = Server::serve_with(&data, &[]).unwrap();
    let mut r = agent()
        .post(format!("{}/api/v1/records", server.url))
        .header("Authorization", &format!("Bearer {agency}"))
        .send_json(json!({ "records": [qc, wyj, xyj] }))
        .unwrap();
    let pushed: Value = r.body_mut().read_json().unwrap();
    assert_eq!(r.status(), 200, "{pushed}");

    let device = dir.path().join("officer");
    enroll_officer(&server, &data, &device);

    let out = dir.path().join("shots");
    std::fs::create_dir_all(&out).unwrap();
    let stderr = dir.path().join("e2e.stderr");
    let mut child = Command::new("node")
        .arg(wallet_dir().join("test/e2e.mjs"))
        .env("WALLET_URL", &server.url)
        .env("TOKEN_A", &token_a)
        .env("TOKEN_B", &token_b)
        .env("TOKEN_C", &token_c)
        .env("OUT_DIR", &out)
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("running node (install Node.js: scripts/setup does)");
    let stdout = child.stdout.take().unwrap();
    let mut script = Script {
        child,
        lines: BufReader::new(stdout).lines(),
        stderr,
    };

    // A claims: the wallet made a non-extractable Ed25519 key and its
    // service worker controls /wallet/.
    let claimed = script.next("claimed");
    let cards_a = numbers(&claimed["cards"]);
    assert_eq!(cards_a.len(), 1, "{claimed}");
    assert_eq!(claimed["cards"][0]["type"], "QC", "{claimed}");
    assert_eq!(claimed["key"]["algorithm"], "Ed25519", "{claimed}");
    assert_eq!(claimed["key"]["type"], "private", "{claimed}");
    assert_eq!(claimed["key"]["extractable"], false, "{claimed}");
    assert!(
        claimed["worker"]
            .as_str()
            .is_some_and(|w| w.ends_with("/wallet/sw.js")),
        "{claimed}"
    );

    // B sees only B's certificate and cannot fetch A's.
    let second = script.next("second_holder");
    let cards_b = numbers(&second["cards"]);
    assert_eq!(cards_b.len(), 1, "{second}");
    assert_eq!(second["cards"][0]["type"], "WYJ", "{second}");
    assert!(!cards_b.contains(&cards_a[0]), "{second}");
    assert_eq!(second["foreign_qr_status"], 404, "{second}");

    // B's certificate is cancelled; B's wallet, synced and then offline,
    // says so and shows no QR.
    let mut r = agent()
        .post(format!(
            "{}/api/v1/certificates/WYJ/{}/status",
            server.url, cards_b[0]
        ))
        .header("Authorization", &format!("Bearer {agency}"))
        .send_json(json!({ "status": "revoked" }))
        .unwrap();
    let body = r.body_mut().read_to_string().unwrap();
    assert_eq!(r.status(), 200, "{body}");
    script.send("cancelled");
    let cancelled = script.next("cancelled");
    assert!(
        cancelled["blocked"].as_str().unwrap().contains("已注销"),
        "{cancelled}"
    );
    assert_eq!(cancelled["qr_text"], Value::Null, "{cancelled}");
    assert_eq!(cancelled["qr_hidden"], true, "{cancelled}");
    assert!(
        cancelled["netstate"].as_str().unwrap().contains("离线"),
        "{cancelled}"
    );

    // A's QR, screenshotted, verifies valid; the next slot's QR differs.
    let shown = script.next("shown");
    officer_sync(&device);
    let online_png = PathBuf::from(shown["screenshot"].as_str().unwrap());
    let slot = shown["slot"].as_i64().unwrap();
    assert_eq!(
        judge_screenshot(&device, &online_png),
        ("valid".into(), String::new()),
        "{shown}"
    );
    let text = shown["text"].as_str().unwrap();
    assert!(text.starts_with("LP1:"), "{shown}");
    // The wallet's QR is as small as the server's encoder makes it
    // (alphanumeric mode, ECC M).
    let version = shared::qr::qr_version(text, shared::qr::EcLevel::M).unwrap();
    assert_eq!(shown["qr_version"], u64::from(version), "{shown}");
    // Figures for the docs (not a timed assertion).
    eprintln!(
        "wallet presentation: {} QR characters, QR version {version} at ECC M, \
         signed and drawn in {} ms",
        text.len(),
        shown["sign_and_draw_ms"]
    );
    let next = &shown["next"];
    assert_eq!(next["slot"].as_i64().unwrap(), slot + 1, "{shown}");
    assert_ne!(next["text"], shown["text"]);
    assert_eq!(
        judge(&device, &["--text", next["text"].as_str().unwrap()]),
        ("valid".into(), String::new())
    );
    assert!(shown["hint"].as_str().unwrap().contains("亮度"), "{shown}");
    assert!(
        shown["countdown"].as_str().unwrap().contains("秒"),
        "{shown}"
    );

    // Network off: the server is gone and the phone offline; a reload still
    // shows a fresh QR, which verifies (B's registration left A's
    // certificate bound to A's phone, or it would be superseded here).
    // A phone clock 5 h 17 min behind: the wallet's slot comes from the
    // server's time learned at sync, so the real field client accepts it.
    let skewed = script.next("skewed_clock");
    let skew = skewed["page_skew_ms"].as_i64().unwrap();
    assert!(
        skew < -5 * 3_600_000,
        "the page clock was not set back: {skewed}"
    );
    let offset = skewed["offset_ms"].as_i64().unwrap();
    assert!(
        (offset + skew).abs() < 3_000,
        "the wallet's offset {offset} ms does not undo the skew {skew} ms: {skewed}"
    );
    let skewed_png = PathBuf::from(skewed["screenshot"].as_str().unwrap());
    assert_eq!(
        judge_screenshot(&device, &skewed_png),
        ("valid".into(), String::new()),
        "{skewed}"
    );
    let holder_page = &skewed["holder_page"];
    assert_eq!(holder_page["cards"], 1, "{skewed}");
    assert_eq!(
        holder_page["qr_svgs"], 0,
        "a bound certificate's static QR is shown: {skewed}"
    );
    assert_eq!(holder_page["wallet_link"], "/wallet/", "{skewed}");
    assert!(
        holder_page["note"].as_str().unwrap().contains("钱包"),
        "{skewed}"
    );

    server.kill().unwrap();
    script.send("offline");
    let offline = script.next("offline_shown");
    assert!(
        offline["netstate"].as_str().unwrap().contains("离线")
            || offline["netstate"].as_str().unwrap().contains("无法连接"),
        "{offline}"
    );
    assert!(offline["slot"].as_i64().unwrap() > slot, "{offline}");
    let offline_png = PathBuf::from(offline["screenshot"].as_str().unwrap());
    assert_eq!(
        judge_screenshot(&device, &offline_png),
        ("valid".into(), String::new()),
        "{offline}"
    );

    // Offline with the certificate expired: a reason, no QR.
    let expired = script.next("expired");
    assert!(
        expired["blocked"].as_str().unwrap().contains("过期"),
        "{expired}"
    );
    assert_eq!(expired["qr_text"], Value::Null, "{expired}");
    assert_eq!(expired["qr_hidden"], true, "{expired}");
    script.next("done");

    // The first screenshot after its window (slot start + 60 s + 30 s of
    // skew): invalid, as a replayed screenshot.
    let window_end = slot * 30 + 90;
    let wait = window_end + 1 - now();
    if wait > 0 {
        std::thread::sleep(Duration::from_secs(wait.unsigned_abs()));
    }
    assert_eq!(
        judge_screenshot(&device, &online_png),
        ("invalid".into(), "presentation_outside_window".to_string())
    );
}

/// Runs `verifier-server ARGS` to its end; its standard output.
fn server_cli(args: &[&str]) -> String {
    let out = Command::new(testkit::binary("verifier-server").unwrap())
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", describe(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// The simulated 运证通's page (`verifier-server yzt serve`), killed on drop.
struct YztPage(std::process::Child);

impl Drop for YztPage {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The holder signs in through the simulated 运证通 (the real server
/// binary, 运证通's page on its own port, keys made and registered with
/// `verifier-server yzt`), grants a registered platform a certificate in
/// 授权管理, sees the grant, revokes it, and the platform is then refused
/// the certificate; replayed, forged-state and expired sign-ins are
/// refused with a Chinese message. At phone and desktop width (the
/// desktop browser in Berlin's zone: times still in China Standard Time);
/// screenshots in `target/screenshots/wallet/`.
#[test]
fn the_wallet_signs_in_through_yzt_and_manages_grants() {
    prerequisites();
    let dir = testkit::tempdir();
    let data = dir.path().join("server");
    let qc = sample_record(CertType::QC);
    let id = qc.id_number.clone().unwrap();
    let name = qc.name.clone().unwrap();
    let number = qc.number.clone().unwrap();
    let agency = server_admin(
        &data,
        &["create-token", "--role", "agency", "--division", "210000"],
    )
    .unwrap();
    let admin = server_admin(&data, &["create-token", "--role", "admin"]).unwrap();
    let yzt_port = testkit::free_port().unwrap();
    let yzt_url = format!("http://127.0.0.1:{yzt_port}/authorize");
    let server = Server::serve_with(&data, &["--yzt-url", &yzt_url]).unwrap();
    let mut r = agent()
        .post(format!("{}/api/v1/records", server.url))
        .header("Authorization", &format!("Bearer {agency}"))
        .send_json(json!({ "records": [qc] }))
        .unwrap();
    let pushed: Value = r.body_mut().read_json().unwrap();
    assert_eq!(r.status(), 200, "{pushed}");

    // 运证通 (an identity provider) and a ride-hailing platform, each with
    // its own key, registered by the administrator.
    let yzt_key = dir.path().join("yzt.key");
    let yzt_key = yzt_key.to_str().unwrap();
    server_cli(&["yzt", "keygen", "--key", yzt_key]);
    server_cli(&[
        "yzt",
        "register",
        "--key",
        yzt_key,
        "--server",
        &server.url,
        "--admin-token",
        &admin,
    ]);
    let p_key = dir.path().join("platform.key");
    let p_key = p_key.to_str().unwrap();
    let platform = ["--key", p_key, "--client-id", "shunfeng", "--kid", "sf-1"];
    server_cli(&[&["yzt", "keygen"][..], &platform].concat());
    server_cli(
        &[
            &["yzt", "register"][..],
            &platform,
            &[
                "--server",
                &server.url,
                "--admin-token",
                &admin,
                "--not-identity-provider",
                "--name",
                "顺风网约车平台",
                "--purpose",
                "网约车驾驶员注册资格核验",
            ],
        ]
        .concat(),
    );
    let token: Value = serde_json::from_str(&server_cli(
        &[&["yzt", "token"][..], &platform, &["--server", &server.url]].concat(),
    ))
    .unwrap();
    let app_token = token["access_token"].as_str().unwrap().to_string();
    // Signed ten minutes ago: expired on arrival.
    let expired = server_cli(&[
        "yzt",
        "assertion",
        "--key",
        yzt_key,
        "--server",
        &server.url,
        "--holder",
        &id,
        "--issued-ago",
        "600",
    ])
    .trim()
    .to_string();

    let listen = format!("127.0.0.1:{yzt_port}");
    let page = YztPage(
        Command::new(testkit::binary("verifier-server").unwrap())
            .args([
                "yzt",
                "serve",
                "--key",
                yzt_key,
                "--server",
                &server.url,
                "--listen",
                &listen,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let ready = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        agent()
            .get(format!("http://{listen}/"))
            .call()
            .is_ok_and(|r| r.status() == 200)
    });
    assert!(ready, "the simulated 运证通 did not start on {listen}");

    let shots = testkit::browser::screenshots("wallet");
    let report = testkit::browser::run_script(
        &wallet_dir().join("test/yzt-grants.mjs"),
        dir.path(),
        "yzt-grants",
        &json!({
            "url": server.url,
            "shots": shots,
            "holder": { "name": name, "id": id },
            "cert": { "type": "QC", "number": number },
            "app": { "client_id": "shunfeng", "name": "顺风网约车平台", "token": app_token },
            "expired_assertion": expired,
            "runs": [
                { "name": "phone", "viewport": { "width": 390, "height": 844 }, "mobile": true,
                  "timezone": "Asia/Shanghai", "bad_paths": true },
                { "name": "desktop", "viewport": { "width": 1280, "height": 800 }, "mobile": false,
                  "timezone": "Europe/Berlin", "bad_paths": false },
            ],
        }),
    );
    drop(page);
    assert_eq!(report["console"], json!([]), "{report:#}");
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{report:#}");
    for (i, run) in runs.iter().enumerate() {
        let what = run["name"].as_str().unwrap();
        assert_eq!(run["overflow"], json!([]), "{what}: wider than the screen");
        assert_eq!(run["signin"]["button"], "通过运证通登录", "{what}");
        assert_eq!(run["signin"]["token_form"], true, "{what}");
        // 运证通 is another origin; the wallet named itself and a state.
        assert_eq!(run["yzt"]["origin"], format!("http://{listen}"), "{what}");
        assert_eq!(
            run["yzt"]["redirect_uri"],
            format!("{}/wallet/", server.url),
            "{what}"
        );
        assert!(run["yzt"]["state_length"].as_u64().unwrap() >= 16, "{what}");
        assert!(
            run["yzt"]["wrong_digit"].as_str().unwrap().contains("校验"),
            "{what}: {}",
            run["yzt"]
        );
        // Back in the wallet: signed in, synced, the fragment gone.
        let signed = &run["signed_in"];
        assert_eq!(signed["redirected"], true, "{what}");
        assert_eq!(
            signed["hash"], "",
            "{what}: the assertion stayed in the address bar"
        );
        assert_eq!(signed["sign_in_posts"], 1, "{what}");
        assert_eq!(signed["cards"][0]["number"], number.as_str(), "{what}");
        assert_eq!(signed["stored"]["token_prefix"], "lnv1_", "{what}");
        let expires = signed["stored"]["expires_at_ms"].as_i64().unwrap() / 1000;
        assert!((expires - now() - 3_600).abs() < 120, "{what}: {signed}");

        // The grant as the wallet shows it.
        // The same holder: each earlier run's grant is listed, revoked.
        assert_eq!(run["before"], i, "{what}");
        assert!(
            run["about"]
                .as_str()
                .unwrap()
                .contains("网约车驾驶员注册资格核验"),
            "{what}: {}",
            run["about"]
        );
        let g = &run["granted"];
        assert_eq!(g["app"], "顺风网约车平台", "{what}");
        assert_eq!(g["badge"], "有效", "{what}");
        assert_eq!(g["purpose"], "网约车平台注册资格核验", "{what}");
        assert!(
            g["certs"].as_str().unwrap().contains(&number),
            "{what}: {g}"
        );
        // The period in China Standard Time, whatever the browser's zone.
        let until = g["requested_until"].as_i64().unwrap();
        let cst = time::OffsetDateTime::from_unix_timestamp(until + 8 * 3_600).unwrap();
        let day = format!(
            "{:04}-{:02}-{:02}",
            cst.year(),
            u8::from(cst.month()),
            cst.day()
        );
        let period = g["period"].as_str().unwrap();
        assert!(
            period.contains(&day) && period.ends_with("（北京时间）"),
            "{what}: {period} (until {day})"
        );
        assert!(run["until"].as_str().unwrap().contains(&day), "{what}");
        assert!(g["message"].as_str().unwrap().contains("已授权"), "{what}");
        // The platform receives it under the grant, then not after revoke.
        assert_eq!(
            run["app_before"]["status"], 200,
            "{what}: {}",
            run["app_before"]
        );
        assert!(
            run["confirm"].as_str().unwrap().contains("确认撤销"),
            "{what}"
        );
        let v = &run["revoked"];
        assert_eq!(v["id"], g["id"], "{what}");
        assert!(
            v["badge"].as_str().unwrap().starts_with("已撤销"),
            "{what}: {v}"
        );
        assert!(
            v["message"].as_str().unwrap().contains("已撤销"),
            "{what}: {v}"
        );
        assert_eq!(
            run["app_after"]["status"], 404,
            "{what}: {}",
            run["app_after"]
        );
    }
    let phone = &runs[0];
    assert!(
        phone["replayed"]["error"]
            .as_str()
            .unwrap()
            .contains("已经使用过"),
        "{}",
        phone["replayed"]
    );
    assert_eq!(phone["replayed"]["hash"], "", "{}", phone["replayed"]);
    assert!(
        phone["wrong_state"]["error"]
            .as_str()
            .unwrap()
            .contains("state"),
        "{}",
        phone["wrong_state"]
    );
    assert_eq!(phone["wrong_state"]["code"], "state");
    assert_eq!(
        phone["wrong_state"]["sign_in_posts"], 0,
        "a forged state reached the server"
    );
    assert!(
        phone["expired"]["error"]
            .as_str()
            .unwrap()
            .contains("已过期"),
        "{}",
        phone["expired"]
    );

    // After the script: the platform is still refused, and the server
    // audited the refused sign-ins under their own action.
    let r = agent()
        .get(format!(
            "{}/api/v1/app/certificates/QC/{number}",
            server.url
        ))
        .header("Authorization", &format!("Bearer {app_token}"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 404);
    let mut r = agent()
        .get(format!("{}/api/v1/audit?limit=1000", server.url))
        .header("Authorization", &format!("Bearer {admin}"))
        .call()
        .unwrap();
    let audit: Value = r.body_mut().read_json().unwrap();
    let sign_ins: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "POST /api/v1/holder/sign-in")
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        sign_ins.len(),
        4,
        "two sign-ins, a replay, an expiry: {sign_ins:?}"
    );
}

/// 车辆授权 (issue 13 item 7): an owner (a company signed in with its
/// credit code) delegates its 道路运输证 to a driver in the wallet, is
/// refused a period beyond the certificate's validity in Chinese, sees the
/// delegation listed in China Standard Time, and revokes it after a
/// confirmation; the driver's wallet (another browser) shows the copy
/// marked 授权使用 after its next sync, and no valid copy after the
/// revocation. At phone and desktop width (the desktop browser in Berlin's
/// zone); screenshots `deleg-*` in `target/screenshots/wallet/`.
#[test]
fn the_owner_delegates_a_vehicle_certificate_to_a_driver_in_the_wallet() {
    const OWNER: &str = "91210106MA0XN3K249";
    prerequisites();
    let dir = testkit::tempdir();
    let data = dir.path().join("server");
    let mut ysz = sample_record(CertType::YSZ);
    ysz.uscc = Some(OWNER.to_string());
    let number = ysz.number.clone().unwrap();
    // The driver holds a 从业资格证: signing in registers the phone.
    let qc = sample_record(CertType::QC);
    let driver_id = qc.id_number.clone().unwrap();
    let masked = format!("{}********{}", &driver_id[..6], &driver_id[14..]);
    let agency = server_admin(
        &data,
        &["create-token", "--role", "agency", "--division", "210000"],
    )
    .unwrap();
    let owner = server_admin(
        &data,
        &["create-token", "--role", "holder", "--subject", OWNER],
    )
    .unwrap();
    let driver = server_admin(
        &data,
        &["create-token", "--role", "holder", "--subject", &driver_id],
    )
    .unwrap();
    let server = Server::serve(&data).unwrap();
    let mut r = agent()
        .post(format!("{}/api/v1/records", server.url))
        .header("Authorization", &format!("Bearer {agency}"))
        .send_json(json!({ "records": [ysz, qc] }))
        .unwrap();
    let pushed: Value = r.body_mut().read_json().unwrap();
    assert_eq!(r.status(), 200, "{pushed}");
    assert_eq!(pushed["summary"]["issued"], 2, "{pushed}");

    let shots = testkit::browser::screenshots("wallet");
    let report = testkit::browser::run_script(
        &wallet_dir().join("test/delegations.mjs"),
        dir.path(),
        "delegations",
        &json!({
            "url": server.url,
            "shots": shots,
            "owner": { "token": owner },
            "driver": { "token": driver, "name": "李四", "id": driver_id },
            "cert": { "type": "YSZ", "number": number },
            "runs": [
                { "name": "phone", "viewport": { "width": 390, "height": 844 }, "mobile": true,
                  "timezone": "Asia/Shanghai" },
                { "name": "desktop", "viewport": { "width": 1280, "height": 800 }, "mobile": false,
                  "timezone": "Europe/Berlin" },
            ],
        }),
    );
    assert_eq!(report["console"], json!([]), "{report:#}");
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{report:#}");
    let is_copy = |c: &Value| c["type"] == "YSZ" && c["number"] == number.as_str();
    for (i, run) in runs.iter().enumerate() {
        let what = run["name"].as_str().unwrap();
        assert_eq!(run["overflow"], json!([]), "{what}: wider than the screen");
        // The button only for a holder with a vehicle certificate.
        assert_eq!(run["owner_button"], "车辆授权", "{what}");
        assert_eq!(run["driver_button"], false, "{what}: {run}");
        assert!(
            !run["driver_before"].as_array().unwrap().iter().any(is_copy),
            "{what}: {}",
            run["driver_before"]
        );
        // Each earlier run's delegation is listed (revoked).
        assert_eq!(run["before"], i, "{what}");
        // Refused by the server, said in Chinese with the validity.
        let refused = run["refused"]["error"].as_str().unwrap();
        assert!(
            refused.starts_with("无法授权：授权期限超出了证照的有效期"),
            "{what}: {refused}"
        );
        let cert = run["owner_cards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| is_copy(c))
            .unwrap();
        let cert_until = cert["valid_until"].as_str().unwrap();
        assert!(refused.contains(cert_until), "{what}: {refused}");

        let d = &run["delegated"];
        assert_eq!(d["driver"], "李四", "{what}");
        assert_eq!(d["badge"], "有效", "{what}");
        assert_eq!(d["id_number"], masked.as_str(), "{what}");
        assert!(d["cert"].as_str().unwrap().contains(&number), "{what}: {d}");
        // The period in China Standard Time, whatever the browser's zone:
        // today in Beijing to the default end (30 days, within validity).
        let cst = time::OffsetDateTime::from_unix_timestamp(now() + 8 * 3_600).unwrap();
        let today = format!(
            "{:04}-{:02}-{:02}",
            cst.year(),
            u8::from(cst.month()),
            cst.day()
        );
        let until = run["default_until"].as_str().unwrap();
        assert!(until <= cert_until, "{what}: {until} > {cert_until}");
        assert_eq!(
            run["span"],
            format!("授权期限：{today} 至 {until}（北京时间，含当日）"),
            "{what}"
        );
        let beyond = run["refused"]["until"].as_str().unwrap();
        assert!(
            run["span_beyond"].as_str().unwrap().contains(beyond),
            "{what}: {}",
            run["span_beyond"]
        );
        assert_eq!(
            d["period"],
            format!("{today} 至 {until}（北京时间）"),
            "{what}"
        );
        assert!(
            d["message"]
                .as_str()
                .unwrap()
                .contains("授权给驾驶员「李四」"),
            "{what}: {d}"
        );
        assert_eq!(run["form_cleared"], true, "{what}");
        // The driver's copy, marked 授权使用 with the owner and the end day.
        let during: Vec<&Value> = run["driver_during"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| is_copy(c))
            .collect();
        assert_eq!(during.len(), 1, "{what}: {}", run["driver_during"]);
        let note = during[0]["delegated"].as_str().unwrap();
        assert!(
            note.starts_with("授权使用") && note.contains(until),
            "{what}: {note}"
        );
        assert_eq!(during[0]["blocked"], false, "{what}: {}", during[0]);

        assert!(
            run["confirm"].as_str().unwrap().contains("确认撤销"),
            "{what}"
        );
        let v = &run["revoked"];
        assert_eq!(v["id"], d["id"], "{what}");
        assert!(
            v["badge"].as_str().unwrap().starts_with("已撤销"),
            "{what}: {v}"
        );
        assert!(
            v["message"].as_str().unwrap().contains("已撤销"),
            "{what}: {v}"
        );
        // After the revocation the driver has no usable copy.
        let after = run["driver_after"].as_array().unwrap();
        assert!(
            after
                .iter()
                .filter(|c| is_copy(c))
                .all(|c| c["blocked"] == true),
            "{what}: {after:?}"
        );
    }
    // The server agrees: every delegation revoked.
    let mut r = agent()
        .get(format!("{}/api/v1/holder/delegations", server.url))
        .header("Authorization", &format!("Bearer {owner}"))
        .call()
        .unwrap();
    let list: Value = r.body_mut().read_json().unwrap();
    let given = list["given"].as_array().unwrap();
    assert_eq!(given.len(), 2, "{list}");
    assert!(given.iter().all(|d| d["state"] == "revoked"), "{list}");
}
