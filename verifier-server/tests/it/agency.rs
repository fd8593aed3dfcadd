//! The agency console's API (issue 15): status changes kept with their
//! decision and read back as the certificate's history; CSV and JSON-lines
//! uploads read in chunks with a stored per-record report (UTF-8 BOM,
//! formula cells neutralised), and their refusals (UTF-16, a missing
//! header, an oversize body, formula cells, a GBK line that stops the
//! upload with everything before it kept); the console's files.

use std::ops::Deref;

use axum::http::{header, Method, StatusCode};
use serde_json::{json, Value};
use shared::domain::{sample_record, CertType, RawRecord};
use testkit::records::{csv as csv_file, jsonl, number, record};
use testkit::{assert_problem, TestServer};
use verifier_server::auth::Role;
use verifier_server::{Config, Limits};

struct Env(TestServer);

impl Deref for Env {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.0
    }
}

fn env_with(limits: Limits) -> Env {
    Env(TestServer::with(
        shared::crypto::Alg::EdDSA,
        Config {
            limits,
            ..Config::default()
        },
    ))
}

fn env() -> Env {
    env_with(Limits::default())
}

impl Env {
    async fn status(&self, token: &str, uri: &str, body: Value) -> (StatusCode, Value) {
        let (status, _, body) = self.post_json(uri, Some(token), &body).await;
        (status, serde_json::from_slice(&body).unwrap())
    }

    async fn upload(&self, token: &str, query: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
        let (status, _, body) = self
            .call(
                Method::POST,
                &format!("/api/v1/uploads?{query}"),
                Some(token),
                &[("content-type", "text/csv")],
                Some(body),
            )
            .await;
        (status, body)
    }

    async fn report(&self, token: &str, id: i64) -> (StatusCode, Vec<u8>) {
        let (status, headers, body) = self
            .get(&format!("/api/v1/uploads/{id}/report.csv"), Some(token))
            .await;
        if status == StatusCode::OK {
            let ct = headers[header::CONTENT_TYPE].to_str().unwrap();
            assert!(ct.starts_with("text/csv"), "{ct}");
        }
        (status, body)
    }
}

#[tokio::test]
async fn status_changes_keep_their_decision_and_the_history_shows_them() {
    let env = env();
    let shenyang = env.token(Role::Agency, Some(210100), "shenyang");
    let dalian = env.token(Role::Agency, Some(210200), "dalian");
    let qc = sample_record(CertType::QC);
    let n = number(&qc);
    env.push(&shenyang, std::slice::from_ref(&qc)).await;
    let uri = format!("/api/v1/certificates/QC/{n}/status");

    // Malformed decisions are refused before anything changes.
    for (body, says) in [
        (
            json!({"status": "suspended", "effective_date": "2026-02-30"}),
            "effective_date",
        ),
        (
            json!({"status": "suspended", "reason": "x".repeat(201)}),
            "at most 200",
        ),
        (
            json!({"status": "suspended", "document_number": "a\u{7}b"}),
            "control",
        ),
        (
            json!({"status": "suspended", "reasons": "typo"}),
            "unknown field",
        ),
    ] {
        let (status, headers, bytes) = env.post_json(&uri, Some(&shenyang), &body).await;
        let p = assert_problem(status, &headers, &bytes, StatusCode::BAD_REQUEST);
        assert!(p["detail"].as_str().unwrap().contains(says), "{p}");
    }

    let steps = [
        (
            "suspended",
            "年审逾期未审验",
            "2026-06-02",
            "沈交运暂〔2026〕7号",
        ),
        ("valid", "已补审验", "2026-06-09", "沈交运复〔2026〕3号"),
        (
            "revoked",
            "业户申请注销",
            "2026-06-15",
            "沈交运注〔2026〕21号",
        ),
    ];
    for (to, reason, date, doc) in steps {
        let (status, v) = env
            .status(
                &shenyang,
                &uri,
                json!({"status": to, "reason": reason, "effective_date": date,
                       "document_number": doc}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["status"], to, "{v}");
    }
    // Revoked is final: refused, and not recorded.
    let (status, _) = env
        .status(
            &shenyang,
            &uri,
            json!({"status": "valid", "reason": "again"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let h = env
        .get_json(&format!("/api/v1/certificates/qc/{n}/history"), &shenyang)
        .await;
    assert_eq!(h["status"], "revoked", "{h}");
    assert_eq!(h["current_version"], 1, "{h}");
    assert_eq!(h["versions"].as_array().unwrap().len(), 1, "{h}");
    let changes = h["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 3, "{h}");
    let mut from = "valid";
    for (c, (to, reason, date, doc)) in changes.iter().zip(steps) {
        assert_eq!(c["from"], from, "{c}");
        assert_eq!(c["to"], to, "{c}");
        assert_eq!(c["reason"], reason, "{c}");
        assert_eq!(c["effective_date"], date, "{c}");
        assert_eq!(c["document_number"], doc, "{c}");
        assert_eq!(c["version"], 1, "{c}");
        assert!(
            c["actor"].as_str().unwrap().starts_with("agency 210100 #"),
            "{c}"
        );
        from = to;
    }
    // The administrator reads it too; another city's agency and other
    // roles do not (another division's certificate reads as missing).
    env.get_json(&format!("/api/v1/certificates/QC/{n}/history"), &env.admin)
        .await;
    let (status, headers, body) = env
        .get(
            &format!("/api/v1/certificates/QC/{n}/history"),
            Some(&dalian),
        )
        .await;
    assert_problem(status, &headers, &body, StatusCode::NOT_FOUND);
    let auditor = env.token(Role::Auditor, None, "auditor");
    let (status, headers, body) = env
        .get(
            &format!("/api/v1/certificates/QC/{n}/history"),
            Some(&auditor),
        )
        .await;
    assert_problem(status, &headers, &body, StatusCode::FORBIDDEN);
    // A change without a decision is still accepted (older clients).
    let wyj = sample_record(CertType::WYJ);
    env.push(&env.admin, std::slice::from_ref(&wyj)).await;
    let (status, v) = env
        .status(
            &env.admin,
            &format!("/api/v1/certificates/WYJ/{}/status", number(&wyj)),
            json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

/// `n` generated (valid) records from `from`.
fn records(from: usize, n: usize) -> Vec<RawRecord> {
    (from..from + n).map(record).collect()
}

#[tokio::test]
async fn an_upload_is_pushed_in_chunks_and_reported_per_record() {
    let env = env();
    let shenyang = env.token(Role::Agency, Some(210100), "shenyang");
    // 1,203 valid records (three chunks), then a non-conforming one whose
    // number starts with '-' (kept as a plain number, neutralised in the
    // report), a formula cell and a row with too few fields.
    let mut rs = records(0, 1203);
    let mut bad = sample_record(CertType::QC);
    bad.number = Some("-210102".into());
    rs.push(bad);
    let mut text = csv_file(&rs);
    let formula_line = rs.len() + 2;
    let mut formula = record(5000);
    formula.name = Some("=cmd|' /C calc'!A0".into());
    let formula_csv = csv_file(&[formula]);
    text.push_str(formula_csv.lines().nth(1).unwrap());
    text.push('\n');
    text.push_str("QC,1\n");
    let (status, body) = env
        .upload(&shenyang, "name=records.csv", text.into_bytes())
        .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["complete"], true, "{v}");
    assert_eq!(v["format"], "csv");
    assert_eq!(v["records"], 1206, "{v}");
    assert_eq!(v["summary"]["issued"], 1203, "{v}");
    assert_eq!(v["summary"]["non_conforming"], 1, "{v}");
    assert_eq!(v["summary"]["malformed"], 2, "{v}");
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{v}");
    let f = rows.iter().find(|r| r["line"] == formula_line).unwrap();
    assert_eq!(f["reasons"][0]["field"], "name", "{f}");
    assert_eq!(f["reasons"][0]["rule"], "cell.formula", "{f}");
    let zh = f["reasons"][0]["message_zh"].as_str().unwrap();
    assert!(
        zh.contains(&format!("第 {formula_line} 行字段 name（姓名）")),
        "{zh}"
    );

    // The report: byte-order mark, a row per record, the '-' number
    // neutralised, the formula text nowhere.
    let id = v["id"].as_i64().unwrap();
    let (status, csv) = env.report(&shenyang, id).await;
    assert_eq!(status, StatusCode::OK);
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "no byte-order mark");
    let text = std::str::from_utf8(&csv[3..]).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[..4], ["line", "cert_type", "number", "result"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert!(rows.len() >= 1206, "{}", rows.len());
    assert_eq!(rows.iter().filter(|r| &r[3] == "issued").count(), 1203);
    assert!(rows.iter().any(|r| &r[2] == "'-210102"), "not neutralised");
    for r in &rows {
        for cell in r {
            assert!(
                !shared::csvexport::is_formula(cell),
                "a formula cell in the report: {r:?}"
            );
        }
    }
    // Another agency gets no report; the certificates are there.
    let dalian = env.token(Role::Agency, Some(210200), "dalian");
    assert_eq!(env.report(&dalian, id).await.0, StatusCode::NOT_FOUND);
    assert_eq!(env.report(&env.admin, id).await.0, StatusCode::OK);
    let n0 = number(&rs[0]);
    env.get_json(&format!("/api/v1/certificates/QC/{n0}"), &shenyang)
        .await;

    // The same file as JSON lines again: everything unchanged.
    let (status, body) = env
        .upload(
            &shenyang,
            "format=jsonl&name=x",
            jsonl(&rs[..100]).into_bytes(),
        )
        .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["summary"]["unchanged"], 100, "{v}");
}

#[tokio::test]
async fn a_gbk_line_stops_the_upload_and_keeps_what_came_before() {
    let env = env();
    let shenyang = env.token(Role::Agency, Some(210100), "shenyang");
    // 600 UTF-8 records (one chunk and a half), then a record saved as GBK.
    let rs = records(0, 600);
    let mut bytes = csv_file(&rs).into_bytes();
    let gbk_csv = csv_file(&records(600, 1));
    let (gbk, _, _) = encoding_rs::GBK.encode(gbk_csv.lines().nth(1).unwrap());
    bytes.extend_from_slice(&gbk);
    bytes.push(b'\n');
    bytes.extend_from_slice(
        csv_file(&records(601, 1))
            .lines()
            .nth(1)
            .unwrap()
            .as_bytes(),
    );
    let (status, body) = env.upload(&shenyang, "name=mixed.csv", bytes).await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["complete"], false, "{v}");
    assert_eq!(v["summary"]["issued"], 600, "{v}");
    let stopped = v["stopped"].as_str().unwrap();
    assert!(stopped.contains("第 602 行"), "{stopped}");
    assert!(stopped.contains("GBK"), "{stopped}");
    // Stored: the last record before the bad line is there, after it not.
    env.get_json(
        &format!("/api/v1/certificates/YSZ/{}", number(&rs[597])),
        &shenyang,
    )
    .await;
    let after = record(601);
    assert_eq!(after.cert_type.as_deref(), Some("FSX"));
    let (status, _, _) = env
        .get(
            &format!("/api/v1/certificates/FSX/{}", number(&after)),
            Some(&shenyang),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a record after the GBK line was read"
    );
}

#[tokio::test]
async fn unreadable_files_are_refused_with_a_clear_problem() {
    let env = env_with(Limits {
        max_upload: 64 * 1024,
        ..Limits::default()
    });
    let shenyang = env.token(Role::Agency, Some(210100), "shenyang");
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        // UTF-16 (Excel's "Unicode text").
        (
            "name=a.csv",
            [&b"\xFF\xFE"[..], "c\0e\0r\0t\0".as_bytes()].concat(),
            StatusCode::BAD_REQUEST,
            "UTF-16",
        ),
        // No header row: the first line is a record.
        (
            "name=a.csv",
            b"QC,210102198503122434\n".to_vec(),
            StatusCode::BAD_REQUEST,
            "header row is missing",
        ),
        // A GBK header.
        (
            "name=a.csv",
            encoding_rs::GBK.encode("证照类型,编号\n").0.into_owned(),
            StatusCode::BAD_REQUEST,
            "GBK",
        ),
        // Neither a .csv nor a .jsonl name, and no format.
        (
            "name=a.xlsx",
            b"x".to_vec(),
            StatusCode::BAD_REQUEST,
            ".csv",
        ),
        (
            "format=xml",
            b"x".to_vec(),
            StatusCode::BAD_REQUEST,
            "format",
        ),
        // Larger than the limit: 413 before anything is read.
        (
            "name=big.csv",
            vec![b'a'; 64 * 1024 + 1],
            StatusCode::PAYLOAD_TOO_LARGE,
            "verifier-server import",
        ),
    ];
    for (query, body, expected, says) in cases {
        let length = body.len().to_string();
        let (status, headers, bytes) = env
            .call(
                Method::POST,
                &format!("/api/v1/uploads?{query}"),
                Some(&shenyang),
                &[("content-type", "text/csv"), ("content-length", &length)],
                Some(body),
            )
            .await;
        let p = assert_problem(status, &headers, &bytes, expected);
        assert!(p["detail"].as_str().unwrap().contains(says), "{query}: {p}");
    }
    // A body without a length that grows past the limit: the records read
    // before it are stored, and the answer says where it stopped.
    let rs = records(0, 400);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = csv_file(&rs)
        .into_bytes()
        .chunks(4096)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let req = axum::http::Request::post("/api/v1/uploads?name=stream.csv")
        .header(header::AUTHORIZATION, format!("Bearer {shenyang}"))
        .body(axum::body::Body::from_stream(futures_util::stream::iter(
            chunks,
        )))
        .unwrap();
    let (status, _, body) = env.send(req).await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["complete"], false, "{v}");
    assert!(
        v["stopped"].as_str().unwrap().contains("超过上传上限"),
        "{v}"
    );
    let issued = v["summary"]["issued"].as_u64().unwrap();
    assert!((100..400).contains(&issued), "{v}");
    let stored = number(&rs[usize::try_from(issued).unwrap() - 1]);
    let t = rs[usize::try_from(issued).unwrap() - 1]
        .cert_type
        .clone()
        .unwrap();
    env.get_json(&format!("/api/v1/certificates/{t}/{stored}"), &shenyang)
        .await;

    // Roles: an officer or auditor may not upload.
    let officer = env.token(Role::Officer, Some(210100), "officer");
    let (status, _) = env
        .upload(&officer, "name=a.csv", b"number\n".to_vec())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_console_is_served_under_agency() {
    let env = env();
    let (status, headers, _) = env.get("/agency", None).await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(headers[header::LOCATION], "/agency/");
    let (status, headers, body) = env.get("/agency/", None).await;
    // Built by scripts/build-web before the tests (as for the wallet).
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("发证机关工作台"), "{page}");
    let (status, _, _) = env.get("/agency/app.js", None).await;
    assert_eq!(status, StatusCode::OK);
}
