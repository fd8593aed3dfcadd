//! The manager's dashboard through the router (either engine): the cookie
//! sign-in (token never in a URL), the drill-down province → city →
//! county → agency and by type, CSV exports (BOM, formula cells escaped,
//! Chinese), the entry forms with evidence files (hashed, downloadable,
//! type and size checked), the forms refused from another origin; and the
//! evidence API (`POST|GET /api/v1/evaluation/evidence`).

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};
use sha2::Digest as _;
use shared::domain::{sample_record, CertType};
use testkit::TestServer;
use verifier_server::auth::Role;

/// A PNG by its signature and header chunk (the server checks content by
/// its magic bytes), with some payload.
fn png() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0".to_vec();
    v.extend((0..2000u32).map(|i| (i * 7 % 251) as u8));
    v
}

/// A multipart part: name, (file name, content type) for a file, bytes.
type Part<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a [u8]);

struct Dash {
    server: TestServer,
    cookie: String,
}

impl Dash {
    async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::COOKIE, &self.cookie)
            .header(header::HOST, "dash.test");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.server.send(req.body(Body::from(body)).unwrap()).await
    }

    async fn page(&self, uri: &str) -> String {
        let (status, h, body) = self.send(Method::GET, uri, &[], Vec::new()).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {h:?}");
        String::from_utf8(body).unwrap()
    }

    async fn form(&self, uri: &str, body: &str) -> (StatusCode, String, String) {
        let (status, h, body) = self
            .send(
                Method::POST,
                uri,
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("origin", "http://dash.test"),
                ],
                body.as_bytes().to_vec(),
            )
            .await;
        let location = h
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (
            status,
            location,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    async fn training(&self, parts: &[Part<'_>]) -> (StatusCode, String) {
        let boundary = "----dashboundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, file, data) in parts {
            body.extend(format!("--{boundary}\r\n").as_bytes());
            match file {
                Some((file_name, ct)) => body.extend(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {ct}\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => body.extend(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend(*data);
            body.extend(b"\r\n");
        }
        body.extend(format!("--{boundary}--\r\n").as_bytes());
        let ct = format!("multipart/form-data; boundary={boundary}");
        let (status, h, body) = self
            .send(
                Method::POST,
                "/admin/dashboard/training",
                &[("content-type", &ct), ("origin", "http://dash.test")],
                body,
            )
            .await;
        let location = h
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string());
        (
            status,
            location.unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned()),
        )
    }
}

/// Signs in through the form; the token travels in the body only.
async fn sign_in(server: TestServer, token: &str) -> Dash {
    let (status, _, body) = server.get("/admin/dashboard?year=2026", None).await;
    assert_eq!(status, StatusCode::OK);
    let form = String::from_utf8(body).unwrap();
    assert!(
        form.contains("访问令牌") && form.contains("method=\"post\""),
        "{form}"
    );
    let (status, h, _) = server
        .call(
            Method::POST,
            "/admin/dashboard",
            None,
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(format!("token={token}&year=2026").into_bytes()),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = h.get(header::LOCATION).unwrap().to_str().unwrap();
    assert_eq!(location, "/admin/dashboard/view?year=2026");
    let set = h.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/admin/dashboard"] {
        assert!(set.contains(attr), "{set}");
    }
    // Plain HTTP (a loopback demo): a cookie the browser will send back.
    assert!(!set.contains("Secure"), "{set}");
    let cookie = set.split(';').next().unwrap().to_string();
    assert_eq!(cookie, format!("lnec_dashboard={token}"));
    Dash { server, cookie }
}

#[tokio::test]
async fn dashboard_drills_down_exports_and_takes_entries() {
    let server = TestServer::new();
    let admin = server.token(Role::Admin, None, "admin");
    let agency = server.token(Role::Agency, Some(210100), "shenyang");
    // Certificates of three cities, and one non-conforming Shenyang record.
    let records: Vec<_> = CertType::ALL.into_iter().map(sample_record).collect();
    server.push(&admin, &records).await;
    // The Shenyang QC re-issued by a county: the city has two issuing divisions.
    let mut county = sample_record(CertType::QC);
    county.issuer_division = Some("210102".into());
    server.push(&admin, &[county]).await;
    let mut bad = sample_record(CertType::QC);
    bad.number = Some("210102198503122435".into());
    bad.id_number = Some("210102198503122435".into());
    let v = server.push(&agency, &[bad]).await;
    assert!(v.to_string().contains("non_conforming"), "{v}");

    // Without the cookie: back to the sign-in form.
    let (status, h, _) = server.get("/admin/dashboard/view?year=2026", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h.get(header::LOCATION).unwrap(), "/admin/dashboard");
    let dash = sign_in(server, &admin).await;

    // The province: 14 cities and the total, in Chinese, no UTC.
    let page = dash.page("/admin/dashboard/view?year=2026").await;
    assert_eq!(page.matches("<tr data-division=").count(), 15, "{page}");
    for text in [
        "各市得分",
        "沈阳市",
        "大连市",
        "按证照类型",
        "导出 CSV",
        "录入培训宣传记录",
    ] {
        assert!(page.contains(text), "{text}");
    }
    assert!(!page.contains("UTC") && !page.contains("Annual"), "{page}");
    // Shenyang: its issuing divisions, the agency's open correction.
    let page = dash
        .page("/admin/dashboard/view?year=2026&division=210100")
        .await;
    assert!(page.contains("沈阳市本级"), "{page}");
    let county = page
        .split("class=\"drill\" href=\"")
        .nth(1)
        .map(|s| s.split('"').next().unwrap().replace("&amp;", "&"));
    let county = county.expect("a county link");
    assert!(county.contains("division=210102"), "{county}");
    let page = dash.page(&county).await;
    assert!(page.contains("沈阳市和平区"), "{page}");
    assert!(page.contains("（发证机关）"), "{page}");
    // The city's own division and its county add up to the city.
    let (_, _, csv) = dash
        .send(
            Method::GET,
            "/admin/dashboard/export?what=parts&year=2026&division=210100",
            &[],
            Vec::new(),
        )
        .await;
    let text = String::from_utf8(csv).unwrap();
    let issued: Vec<(String, u64)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[0].to_string(), cells[2].parse().unwrap())
        })
        .collect();
    assert_eq!(
        issued,
        [
            ("210100".to_string(), 4),
            ("210102".to_string(), 1),
            ("210100".to_string(), 5)
        ],
        "{text}"
    );
    let page = dash.page("/admin/dashboard/agency/210100?year=2026").await;
    assert!(page.contains("待纠正数据（不规范数据，1 条）"), "{page}");
    assert!(page.contains("210102198503122435"), "{page}");
    assert!(page.contains("身份"), "a Chinese reason: {page}");
    // By type: the QC row links to the type's view.
    let page = dash
        .page("/admin/dashboard/view?year=2026&division=210100&type=QC")
        .await;
    assert!(page.contains("class=\"on\" data-type=\"QC\""), "{page}");

    // Exports: BOM, Chinese, formula cells escaped.
    let (status, h, csv) = dash
        .send(
            Method::GET,
            "/admin/dashboard/export?what=parts&year=2026",
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        h.get(header::CONTENT_TYPE).unwrap(),
        "text/csv; charset=utf-8"
    );
    assert!(csv.starts_with(b"\xef\xbb\xbf"));
    let text = String::from_utf8(csv).unwrap();
    assert!(
        text.contains("沈阳市") && text.contains("辽宁省合计"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 16, "{text}");

    let (status, location, _) = dash
        .form(
            "/admin/dashboard/complaints",
            "year=2026&division=210100&description=%3Dcmd%7C%27+%2FC+calc%27%21A0&upheld=yes",
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.contains("saved=complaint"), "{location}");
    let (_, _, csv) = dash
        .send(
            Method::GET,
            "/admin/dashboard/export?what=incidents&year=2026&division=210100",
            &[],
            Vec::new(),
        )
        .await;
    let text = String::from_utf8(csv).unwrap();
    assert!(text.contains("'=cmd|' /C calc'!A0"), "{text}");
    assert!(
        text.contains("投诉成立") && text.contains("+08:00"),
        "{text}"
    );
    let (_, _, csv) = dash
        .send(
            Method::GET,
            "/admin/dashboard/export?what=corrections&year=2026&division=210100",
            &[],
            Vec::new(),
        )
        .await;
    assert!(String::from_utf8(csv)
        .unwrap()
        .contains("210102198503122435"));
    let (status, _, _) = dash
        .send(
            Method::GET,
            "/admin/dashboard/export?what=everything&year=2026",
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Training with a file; the file back with the same hash.
    let file = png();
    let sha = hex::encode(sha2::Sha256::digest(&file));
    let (status, location) = dash
        .training(&[
            ("year", None, b"2026"),
            ("division", None, b"210100"),
            ("coverage", None, b"full"),
            ("description", None, "全市执法人员培训".as_bytes()),
            ("file", Some(("签到表.png", "image/png")), &file),
            ("file_description", None, "签到表".as_bytes()),
        ])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let page = dash
        .page("/admin/dashboard/view?year=2026&division=210100")
        .await;
    assert!(page.contains(&format!("data-sha256=\"{sha}\"")), "{page}");
    assert!(page.contains("签到表.png"), "{page}");
    let (status, h, back) = dash
        .send(
            Method::GET,
            &format!("/admin/dashboard/evidence/{sha}"),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.get(header::CONTENT_TYPE).unwrap(), "image/png");
    assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(hex::encode(sha2::Sha256::digest(&back)), sha);
    // The evaluation counts it: full coverage with evidence.
    let e = dash
        .server
        .get_json("/api/v1/evaluation?year=2026", &admin)
        .await;
    let sy = e["cities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["division"] == 210100)
        .unwrap();
    assert_eq!(sy["training"]["points"], 10, "{sy}");
    let incident = &sy["display"]["incidents"][0];
    assert!(
        incident["at_cst"].as_str().unwrap().ends_with("+08:00"),
        "{incident}"
    );

    // A file that is not what it claims, or of the wrong kind: refused,
    // nothing stored.
    let (status, page) = dash
        .training(&[
            ("year", None, b"2026"),
            ("division", None, b"210100"),
            ("coverage", None, b"full"),
            ("description", None, b"x"),
            ("file", Some(("a.pdf", "application/pdf")), &file),
        ])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(
        page.contains("a.pdf") && page.contains("image/png"),
        "{page}"
    );
    let (status, page) = dash
        .training(&[
            ("year", None, b"2026"),
            ("division", None, b"210100"),
            ("coverage", None, b"full"),
            ("description", None, b"x"),
            (
                "file",
                Some(("run.txt", "text/plain")),
                b"=cmd|' /C calc'!A0",
            ),
        ])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("PDF"), "{page}");
    let big = vec![0u8; 5 * 1024 * 1024 + 1];
    let mut big_png = png();
    big_png.extend(&big);
    let (status, _) = dash
        .training(&[
            ("year", None, b"2026"),
            ("division", None, b"210100"),
            ("coverage", None, b"full"),
            ("description", None, b"x"),
            ("file", Some(("big.png", "image/png")), &big_png),
        ])
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let e = dash
        .server
        .get_json("/api/v1/evaluation?year=2026", &admin)
        .await;
    assert_eq!(
        e["province"]["training"]["records"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Declared counts.
    let (status, location, _) = dash
        .form(
            "/admin/dashboard/declared",
            "year=2026&division=210200&cert_type=YSZ&count=7",
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let e = dash
        .server
        .get_json("/api/v1/evaluation?year=2026", &admin)
        .await;
    let dl = e["cities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["division"] == 210200)
        .unwrap();
    assert_eq!(dl["issuance"]["declared_uncollected"], 7, "{dl}");
    let (status, _, page) = dash
        .form(
            "/admin/dashboard/declared",
            "year=2026&division=210200&cert_type=NOPE&count=7",
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("未保存"), "{page}");

    // A form from another site is refused.
    let (status, _, _) = dash
        .send(
            Method::POST,
            "/admin/dashboard/declared",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("origin", "http://evil.test"),
            ],
            b"year=2026&division=210200&cert_type=YSZ&count=1".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_auditor_reads_but_cannot_enter() {
    let server = TestServer::new();
    let auditor = server.token(Role::Auditor, None, "auditor");
    let dash = sign_in(server, &auditor).await;
    let page = dash.page("/admin/dashboard/view?year=2026").await;
    assert!(page.contains("审计员") && !page.contains("training-form"));
    let (status, _, page) = dash
        .form(
            "/admin/dashboard/declared",
            "year=2026&division=210200&cert_type=YSZ&count=7",
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    // An officer cannot sign in at all.
    let officer = dash.server.token(Role::Officer, Some(210100), "officer");
    let (status, _, _) = dash
        .server
        .call(
            Method::POST,
            "/admin/dashboard",
            None,
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(format!("token={officer}&year=2026").into_bytes()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn evidence_api_stores_checks_and_answers_files() {
    let server = TestServer::new();
    let admin = server.token(Role::Admin, None, "admin");
    let auditor = server.token(Role::Auditor, None, "auditor");
    let file = png();
    let sha = hex::encode(sha2::Sha256::digest(&file));
    let post = |token: String, ct: &'static str, body: Vec<u8>| {
        let server = &server;
        async move {
            server
                .call(
                    Method::POST,
                    "/api/v1/evaluation/evidence",
                    Some(&token),
                    &[("content-type", ct)],
                    Some(body),
                )
                .await
        }
    };
    let (status, _, body) = post(admin.clone(), "image/png", file.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v,
        json!({"sha256": sha, "content_type": "image/png", "size": file.len()})
    );
    // Again: the same answer, stored once.
    let (status, _, _) = post(admin.clone(), "application/octet-stream", file.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, _) = post(admin.clone(), "application/pdf", file.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, _) = post(admin.clone(), "text/plain", b"hello".to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, _) = post(admin.clone(), "image/png", Vec::new()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut big = png();
    big.resize(5 * 1024 * 1024 + 1, 0);
    let (status, _, _) = post(admin.clone(), "image/png", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _, _) = post(auditor.clone(), "image/png", file.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A training record naming it; the auditor downloads it.
    let (status, _, body) = server
        .post_json(
            "/api/v1/evaluation/training",
            Some(&admin),
            &json!({"division": 210100, "year": 2026, "coverage": "partial",
                    "description": "宣传", "evidence": [
                        {"file_name": "a.png", "sha256": sha, "description": "照片"}]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (status, h, back) = server
        .get(
            &format!("/api/v1/evaluation/evidence/{sha}"),
            Some(&auditor),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(back, file);
    assert_eq!(h.get("x-content-sha256").unwrap().to_str().unwrap(), sha);
    let (status, _, _) = server
        .get(
            &format!("/api/v1/evaluation/evidence/{}", "0".repeat(64)),
            Some(&auditor),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = server
        .get("/api/v1/evaluation/evidence/xyz", Some(&auditor))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// The session cookie is `Secure` when a trusted reverse proxy says the
/// client came over HTTPS, and only then; signing out clears it with the
/// same attributes.
#[tokio::test]
async fn the_cookie_is_secure_behind_a_trusted_https_proxy() {
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;
    let config = verifier_server::Config {
        network: verifier_server::Network {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            ..verifier_server::Network::default()
        },
        ..verifier_server::Config::default()
    };
    let server = TestServer::with(shared::crypto::Alg::EdDSA, config);
    let admin = server.token(Role::Admin, None, "admin");
    let post = |path: &str, peer: &str, proto: Option<&str>, body: String| {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(proto) = proto {
            req = req.header("x-forwarded-proto", proto);
        }
        let mut req = req.body(Body::from(body)).unwrap();
        let peer = SocketAddr::new(peer.parse().unwrap(), 40000);
        req.extensions_mut().insert(ConnectInfo(peer));
        req
    };
    let form = format!("token={admin}&year=2026");
    for (peer, proto, secure) in [
        ("10.0.0.5", Some("https"), true),
        ("10.0.0.5", Some("http"), false),
        ("10.0.0.5", None, false),
        // Not a trusted proxy: its header is the client's own claim.
        ("192.0.2.9", Some("https"), false),
    ] {
        let (status, h, body) = server
            .send(post("/admin/dashboard", peer, proto, form.clone()))
            .await;
        assert_eq!(
            status,
            StatusCode::SEE_OTHER,
            "{}",
            String::from_utf8_lossy(&body)
        );
        let set = h.get(header::SET_COOKIE).unwrap().to_str().unwrap();
        assert_eq!(set.contains("; Secure"), secure, "{peer} {proto:?}: {set}");
        let (status, h, _) = server
            .send(post(
                "/admin/dashboard/sign-out",
                peer,
                proto,
                String::new(),
            ))
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let set = h.get(header::SET_COOKIE).unwrap().to_str().unwrap();
        assert!(set.contains("Max-Age=0"), "{set}");
        assert_eq!(set.contains("; Secure"), secure, "{peer} {proto:?}: {set}");
    }
}
