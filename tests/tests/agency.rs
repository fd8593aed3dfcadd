//! The agency console end to end: the real `verifier-server` on 127.0.0.1
//! serves `/agency/`; `agency/test/e2e.mjs` drives it in headless Chromium
//! at phone (390 px) and desktop (1280 px) width with an agency's token:
//! sign in and read the push state, correct a non-conforming record and
//! see it leave the list, upload a file (the upload throttled) and watch
//! the progress bar move, download the per-record report and check its
//! bytes (UTF-8 BOM, a '-' cell neutralised, no formula cell), suspend a
//! certificate with its decision and read it in the history. Screenshots
//! go to `target/screenshots/agency/`.
//!
//! Needs headless Chromium and the built front-ends (`scripts/build-web`);
//! without them the test fails saying so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use shared::domain::{sample_record, CertType, RawRecord};
use testkit::browser;
use testkit::records::{csv as csv_file, jsonl, number, record};
use testkit::{agent, server_admin, ChildServer as Server};

fn push(server: &Server, token: &str, records: &[RawRecord]) -> Value {
    let mut r = agent()
        .post(format!("{}/api/v1/records", server.url))
        .header("Authorization", &format!("Bearer {token}"))
        .send_json(json!({ "records": records }))
        .unwrap();
    let v: Value = r.body_mut().read_json().unwrap();
    assert_eq!(r.status(), 200, "{v}");
    v
}

/// Today in China Standard Time, `YYYY-MM-DD`.
fn today_cst() -> String {
    let now = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+8));
    format!(
        "{:04}-{:02}-{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    )
}

/// The outage each run reports (China Standard Time, as typed into the
/// form's date-time inputs), and the re-push deadline the console must show:
/// a Monday fault is due by the end of Wednesday; a fault ending the day
/// before the 2026 National Day holiday (1–7 October) is due by the end of
/// 9 October.
fn outage(i: usize) -> Value {
    [
        json!({ "from": "2026-06-01T09:00", "until": "2026-06-01T17:30",
                "reason": "前置机数据库故障（phone）" }),
        json!({ "from": "2026-09-30T08:00", "until": "2026-09-30T20:00",
                "reason": "省市专线中断（desktop）" }),
    ][i]
        .clone()
}
const OUTAGE_DEADLINES: [&str; 2] = ["2026-06-04 00:00", "2026-10-10 00:00"];

#[test]
fn the_agency_console() {
    browser::chromium();
    let agency_dir = browser::front_end("agency", &["app.js", "style.css"]);
    let shots = browser::screenshots("agency");
    let dir = testkit::tempdir();
    let data = dir.path().join("server");
    let token = server_admin(
        &data,
        &["create-token", "--role", "agency", "--division", "210100"],
    )
    .unwrap();
    let server = Server::serve_with(&data, &[]).unwrap();

    // Per run: a record with a malformed plate (to correct), a certificate
    // (to suspend) and a file to upload.
    let mut runs = Vec::new();
    let mut expected = Vec::new();
    for (i, (name, width, height)) in [("phone", 390, 844), ("desktop", 1280, 900)]
        .into_iter()
        .enumerate()
    {
        let mut bad = record(3 + 9 * i); // YSZ
        let plate = bad.plate.clone().unwrap();
        bad.plate = Some("辽A1".into());
        let cert = record(9 * i); // QC
        let answer = push(&server, &token, &[bad.clone(), cert.clone()]);
        assert_eq!(answer["results"][0]["result"], "non_conforming", "{answer}");
        assert_eq!(answer["results"][1]["result"], "issued", "{answer}");

        // The file: valid records, one whose number starts with '-' (a
        // plain number: read, not signed, neutralised in the report) and
        // one with a formula cell (refused with its line and field).
        let n = 1500;
        let mut rs: Vec<RawRecord> = (1000 + 2000 * i..1000 + 2000 * i + n).map(record).collect();
        let mut minus = sample_record(CertType::QC);
        minus.number = Some(format!("-2101{i}"));
        rs.push(minus);
        let mut formula = record(9000 + i);
        formula.name = Some("=cmd|' /C calc'!A0".into());
        rs.push(formula);
        let (file, body) = if i == 0 {
            (dir.path().join("records.csv"), csv_file(&rs))
        } else {
            (dir.path().join("records.jsonl"), jsonl(&rs))
        };
        std::fs::write(&file, body).unwrap();
        runs.push(json!({
            "name": name,
            "viewport": { "width": width, "height": height },
            "correct": { "type": "YSZ", "number": number(&bad), "field": "plate", "value": plate },
            "upload": { "file": file, "bytesPerSecond": 96 * 1024 },
            "status": { "type": "QC", "number": number(&cert),
                        "reason": format!("年审逾期未审验（{name}）"),
                        "doc": format!("沈交运暂〔2026〕{}号", 7 + i) },
            "outage": outage(i),
        }));
        expected.push((number(&bad), n, format!("-2101{i}")));
    }
    let report = browser::run_script(
        &agency_dir.join("test/e2e.mjs"),
        dir.path(),
        "agency",
        &json!({
            "url": server.url,
            "token": token,
            "shots": shots,
            "runs": runs,
        }),
    );
    let _ = std::fs::write(
        shots.join("report.json"),
        serde_json::to_vec_pretty(&report).unwrap(),
    );
    assert_eq!(report["console"], json!([]), "console errors: {report}");
    assert_eq!(
        report["external"],
        json!([]),
        "requests to another origin: {report}"
    );

    for (i, (run, (bad_number, n, minus))) in report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&expected)
        .enumerate()
    {
        let name = run["name"].as_str().unwrap();
        // The outage report: listed with its re-push deadline, two working
        // days after the day the fault ended (the National Day holiday
        // skipped), and the earlier run's report still there.
        let outages = run["outages"].as_array().unwrap();
        assert_eq!(outages.len(), i + 1, "{name}: {run}");
        let (reason, deadline) = (outage(i)["reason"].clone(), OUTAGE_DEADLINES[i]);
        let row = outages.iter().find(|o| o["reason"] == reason).unwrap();
        assert_eq!(row["deadline"], deadline, "{name}: {row}");
        assert!(
            row["basis"].as_str().unwrap().contains("国务院公布"),
            "{name}: {row}"
        );
        assert!(
            run["outageDone"].as_str().unwrap().contains(deadline),
            "{name}: {}",
            run["outageDone"]
        );
        // The push state: this agency only, pushed just now, not overdue,
        // times in China Standard Time.
        let push = run["push"].as_array().unwrap();
        assert_eq!(push.len(), 1, "{name}: {run}");
        assert_eq!(push[0]["division"], "210100", "{name}");
        assert_eq!(push[0]["overdue"], "false", "{name}");
        assert!(
            push[0]["last"]
                .as_str()
                .unwrap()
                .starts_with(&today_cst()[..4]),
            "{name}: {run}"
        );
        assert!(run["who"].as_str().unwrap().contains("210100"), "{name}");

        // The correction: field-level reason in Chinese, the form's field
        // marked, the entry gone after the re-push.
        let before: Vec<&str> = run["before"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(before.contains(&bad_number.as_str()), "{name}: {run}");
        let reasons = run["reasons"].as_array().unwrap();
        assert!(
            reasons
                .iter()
                .any(|r| r["field"] == "plate" && r["text"].as_str().unwrap().contains("车牌号码")),
            "{name}: {reasons:?}"
        );
        assert_eq!(run["invalid"], json!(["plate"]), "{name}");
        let after: Vec<&str> = run["after"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            !after.contains(&bad_number.as_str()),
            "{name}: still listed: {run}"
        );
        assert!(
            run["done"].as_str().unwrap().contains("已签发"),
            "{name}: {}",
            run["done"]
        );

        // The upload: the bar moved through several values to 100.
        let progress: Vec<f64> = run["progress"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["value"].as_f64().unwrap())
            .collect();
        let between: Vec<f64> = progress
            .iter()
            .copied()
            .filter(|v| *v > 0.0 && *v < 100.0)
            .collect();
        let mut distinct = between.clone();
        distinct.dedup();
        assert!(
            distinct.len() >= 3,
            "{name}: the bar did not move in steps: {progress:?}"
        );
        assert!(
            between.windows(2).all(|w| w[0] <= w[1]),
            "{name}: went back: {progress:?}"
        );
        assert_eq!(progress.last(), Some(&100.0), "{name}: {progress:?}");
        let up = &run["upload"];
        assert_eq!(up["complete"], "true", "{name}: {up}");
        assert_eq!(up["records"], (n + 2).to_string(), "{name}: {up}");
        assert_eq!(up["non_conforming"], "1", "{name}: {up}");
        assert_eq!(up["malformed"], "1", "{name}: {up}");
        let rows = up["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 2, "{name}: {up}");
        assert!(
            rows.iter()
                .any(|r| r["text"].as_str().unwrap().contains("字段 name（姓名）")),
            "{name}: {rows:?}"
        );

        // The report's bytes.
        assert!(
            run["download"]["name"].as_str().unwrap().ends_with(".csv"),
            "{name}"
        );
        let bytes = std::fs::read(run["download"]["path"].as_str().unwrap()).unwrap();
        assert!(
            bytes.starts_with(b"\xEF\xBB\xBF"),
            "{name}: no UTF-8 byte-order mark"
        );
        let text = std::str::from_utf8(&bytes[3..]).unwrap();
        let mut reader = csv_reader(text);
        let records: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        assert_eq!(
            records.iter().filter(|r| r[3] == "issued").count(),
            *n,
            "{name}"
        );
        assert!(
            records.iter().any(|r| r[2] == format!("'{minus}")),
            "{name}: the '-' number is not neutralised"
        );
        for r in &records {
            for cell in r {
                assert!(
                    !shared::csvexport::is_formula(cell),
                    "{name}: formula cell {r:?}"
                );
            }
        }

        // The status change and its history.
        assert_eq!(run["date"], today_cst(), "{name}");
        assert!(
            run["typeOptions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == "道路运输证"),
            "{name}"
        );
        assert!(
            run["statusDone"].as_str().unwrap().contains("暂停"),
            "{name}: {run}"
        );
        let history = run["history"].as_array().unwrap();
        assert_eq!(history.len(), 1, "{name}: {history:?}");
        assert_eq!(history[0]["to"], "suspended", "{name}");
        assert!(
            history[0]["reason"]
                .as_str()
                .unwrap()
                .starts_with("年审逾期未审验"),
            "{name}"
        );
        assert_eq!(history[0]["date"], today_cst(), "{name}");
        assert!(
            history[0]["doc"]
                .as_str()
                .unwrap()
                .starts_with("沈交运暂〔2026〕"),
            "{name}"
        );
        assert_eq!(run["historyStatus"], "暂停", "{name}");
        assert_eq!(
            run["overflow"], false,
            "{name}: the page is wider than the screen"
        );
        assert!(run["shots"].as_array().unwrap().len() >= 7, "{name}");
    }
}

fn csv_reader(text: &str) -> csv::Reader<&[u8]> {
    csv::Reader::from_reader(text.as_bytes())
}
