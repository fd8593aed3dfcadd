//! The manager's dashboard end to end: the real `verifier-server demo` on
//! 127.0.0.1 (with records of one county pushed on top of the demo's
//! year) and `tests/dashboard/e2e.mjs` driving it in headless Chromium at
//! phone (390 px) and desktop (1280 px) width: sign in (the token only in
//! the form body), drill down province → city → county → agency, enter a
//! complaint whose text starts with `=`, export the incidents CSV and
//! check its bytes (UTF-8 BOM, the formula escaped, Chinese), enter
//! training with a PNG and download it back with the same SHA-256, enter a
//! declared count; then the API must answer what was entered.
//! Screenshots go to `target/screenshots/dashboard/`.
//!
//! Needs Chromium and playwright-core (`scripts/build-web`); without them
//! the test fails saying so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{json, Value};
use shared::domain::{sample_record, CertType};
use testkit::{agent, browser, ChildServer as Server};

const CITY: &str = "210100";
const COUNTY: &str = "210102";

#[test]
fn dashboard_in_chromium_at_phone_and_desktop_width() {
    let chromium = browser::chromium();
    let modules = browser::playwright_modules();
    let shots = browser::screenshots("dashboard");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::demo(dir.path()).unwrap();
    let admin = server.demo_file("admin-token").unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let year = shared::cst::year(now).to_string();

    // Records issued by a county of the city, so the drill-down has one.
    let mut qc = sample_record(CertType::QC);
    qc.issuer_division = Some(COUNTY.into());
    let http = agent();
    let mut answer = http
        .post(format!("{}/api/v1/records", server.url))
        .header("Authorization", &format!("Bearer {admin}"))
        .send_json(json!({ "records": [qc] }))
        .unwrap();
    let pushed: Value = answer.body_mut().read_json().unwrap();
    assert!(pushed.to_string().contains("issued"), "{pushed}");

    // The evidence: a real PNG.
    let png = dir.path().join("签到表.png");
    image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]))
        .save(&png)
        .unwrap();

    let script = browser::repo().join("tests/dashboard/e2e.mjs");
    let out = Command::new("node")
        .arg(&script)
        .env("DASH_URL", &server.url)
        .env("TOKEN", &admin)
        .env("YEAR", &year)
        .env("CITY", CITY)
        .env("COUNTY", COUNTY)
        .env("FILE", &png)
        .env("SHOTS", &shots)
        .env("PLAYWRIGHT_DIR", &modules)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("running node (needed for the dashboard test)");
    assert!(
        out.status.success(),
        "e2e.mjs failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log_text()
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();

    for width in ["phone", "desktop"] {
        let r = &report["widths"][width];
        let what = |k: &str| format!("{width} {k}: {}", r[k]);
        // The token never appears in a URL; nothing fetched from elsewhere.
        for u in r["urls"].as_array().unwrap() {
            let u = u.as_str().unwrap();
            assert!(!u.contains(&admin) && !u.contains("token"), "{u}");
        }
        assert_eq!(r["foreign_requests"], json!([]), "{width}");
        // Chinese, China Standard Time, 14 cities and the total.
        assert_eq!(r["overview_rows"], 15, "{}", what("overview_rows"));
        let text = r["overview_text"].as_str().unwrap();
        for needed in ["各市得分", "沈阳市", "北京时间", "导出 CSV"] {
            assert!(text.contains(needed), "{width}: {needed} not in {text}");
        }
        assert!(!text.contains("UTC"), "{width}");
        assert!(r["overflow"].as_i64().unwrap() <= 0, "{}", what("overflow"));
        // The drill-down.
        assert!(
            r["city_unit"].as_str().unwrap().contains("沈阳市"),
            "{}",
            what("city_unit")
        );
        assert!(
            r["county_unit"].as_str().unwrap().contains("沈阳市和平区"),
            "{}",
            what("county_unit")
        );
        assert!(
            r["county_crumbs"].as_str().unwrap().contains("辽宁省"),
            "{}",
            what("county_crumbs")
        );
        assert!(
            r["agency_overflow"].as_i64().unwrap() <= 0,
            "{}",
            what("agency_overflow")
        );
        assert!(
            r["city_agency_overflow"].as_i64().unwrap() <= 0,
            "{}",
            what("city_agency_overflow")
        );
        assert!(
            r["agency_text"]
                .as_str()
                .unwrap()
                .contains("沈阳市交通运输局推送"),
            "{}",
            what("agency_text")
        );
        assert!(
            r["city_agency_text"]
                .as_str()
                .unwrap()
                .contains("待纠正数据"),
            "{}",
            what("agency_text")
        );
        // The CSV's bytes.
        let csv = base64::engine::general_purpose::STANDARD
            .decode(r["csv_base64"].as_str().unwrap())
            .unwrap();
        assert!(csv.starts_with(b"\xef\xbb\xbf"), "{width}: no BOM");
        let csv = String::from_utf8(csv).unwrap();
        assert!(
            csv.contains("'=cmd|' /C calc'!A0 拒认投诉"),
            "{width}: {csv}"
        );
        assert!(!csv.contains(",=cmd"), "{width}: {csv}");
        assert!(
            csv.contains("投诉成立") && csv.contains("+08:00"),
            "{width}: {csv}"
        );
        assert!(r["csv_name"].as_str().unwrap().ends_with(".csv"));
        // The evidence file back, byte for byte.
        assert_eq!(r["download_sha256"], r["upload_sha256"], "{width}");
        assert_eq!(r["evidence_sha256"], r["upload_sha256"], "{width}");
        for k in ["complaint_saved", "training_saved", "declared_saved"] {
            assert!(r[k].as_str().unwrap().contains("已保存"), "{}", what(k));
        }
    }

    // What the API answers now.
    let mut answer = http
        .get(format!("{}/api/v1/evaluation?year={year}", server.url))
        .header("Authorization", &format!("Bearer {admin}"))
        .call()
        .unwrap();
    let e: Value = answer.body_mut().read_json().unwrap();
    let city = |code: u32| {
        e["cities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["division"] == code)
            .unwrap()
            .clone()
    };
    let sy = city(210100);
    let records = sy["training"]["records"].as_array().unwrap();
    assert!(
        records
            .iter()
            .filter(|t| t["description"]
                .as_str()
                .unwrap()
                .starts_with("全市执法人员培训"))
            .count()
            == 2,
        "{sy}"
    );
    let complaints = sy["display"]["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "upheld_complaint")
        .count();
    assert_eq!(complaints, 2, "{sy}");
    assert!(
        city(210200)["issuance"]["declared_uncollected"]
            .as_u64()
            .unwrap()
            >= 5
    );
}
