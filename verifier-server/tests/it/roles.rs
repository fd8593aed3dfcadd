//! Who may do what, over a real 127.0.0.1 socket: every endpoint asked by
//! every role (admin, the agencies of Shenyang and Dalian, auditor,
//! officer, holder), a revoked token and no token; each refusal must be
//! problem details naming the role or the reason, and must be audited.
//! Also the request limits (rate, body size, method, malformed paths) and
//! that the OpenAPI document lists every route the router serves.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};
use shared::domain::{sample_record, CertType};
use testkit::{SocketServer as Server, T0};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use verifier_server::auth;
use verifier_server::store::TokenRow;
use verifier_server::{AppState, Config, Limits};

/// An HTTP/1.1 answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// Lower-case names.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on its own connection (`Connection: close`).
async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Answer {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    if let Some(b) = body {
        // The server may answer (413) and close before reading it all.
        let _ = stream.write_all(b).await;
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end: {}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&raw[..line_end])
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap();
        raw = &raw[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// Checks a problem-details answer and returns its detail.
fn problem(a: &Answer, status: u16) -> String {
    let p = testkit::check_problem(a.status, a.header("content-type"), &a.body, status);
    p["detail"].as_str().unwrap().to_string()
}

/// The callers of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Admin,
    Shenyang,
    Dalian,
    Auditor,
    Officer,
    Holder,
    Revoked,
    Nobody,
}

const EVERYONE: [Who; 8] = [
    Who::Admin,
    Who::Shenyang,
    Who::Dalian,
    Who::Auditor,
    Who::Officer,
    Who::Holder,
    Who::Revoked,
    Who::Nobody,
];

impl Who {
    fn role(self) -> Option<&'static str> {
        match self {
            Who::Admin => Some("admin"),
            Who::Shenyang | Who::Dalian => Some("agency"),
            Who::Auditor => Some("auditor"),
            Who::Officer => Some("officer"),
            Who::Holder => Some("holder"),
            Who::Revoked | Who::Nobody => None,
        }
    }
}

/// The kit's token of every role, agencies of Shenyang and Dalian, and a
/// revoked administrator token.
struct Tokens {
    kit: testkit::Tokens,
    revoked: String,
}

impl Tokens {
    fn new(state: &AppState) -> Tokens {
        testkit::blocking(|| Tokens::new_off_runtime(state))
    }

    fn new_off_runtime(state: &AppState) -> Tokens {
        let store = state.store();
        let revoked = auth::generate_token();
        let mut tx = store.begin().unwrap();
        tx.insert_token(&TokenRow {
            id: 0,
            hash: auth::hash_token(&revoked),
            role: "admin".into(),
            division: None,
            subject: "former admin".into(),
            created_at: T0 - 100,
            revoked_at: Some(T0 - 10),
            expires_at: T0 + 86_400,
            last_used_at: None,
            prev_hash: None,
            prev_expires_at: None,
            rotated_at: None,
        })
        .unwrap();
        tx.commit().unwrap();
        Tokens {
            kit: testkit::Tokens::new(state, T0, &[210100, 210200]),
            revoked,
        }
    }

    fn of(&self, who: Who) -> Option<&str> {
        match who {
            Who::Admin => Some(&self.kit.admin),
            Who::Shenyang => Some(self.kit.agency(210100)),
            Who::Dalian => Some(self.kit.agency(210200)),
            Who::Auditor => Some(&self.kit.auditor),
            Who::Officer => Some(&self.kit.officer),
            Who::Holder => Some(&self.kit.holder),
            Who::Revoked => Some(&self.revoked),
            Who::Nobody => None,
        }
    }
}

fn open(config: Config) -> (tempfile::TempDir, AppState) {
    let dir = testkit::tempdir();
    let state = testkit::open_at(dir.path(), config);
    (dir, state)
}

/// What a caller is expected to get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// This status, not a problem.
    Ok(u16),
    /// 401: the token is missing or revoked.
    Unauthenticated,
    /// 403 naming the caller's role.
    RoleRefused,
    /// 404, as for a missing certificate: it is another division's, and
    /// the answer must not tell that it exists.
    RegionRefused,
}

/// The default for authenticated endpoints: `allowed` succeed with `ok`,
/// other roles are refused, revoked and missing tokens are 401.
fn by_role(who: Who, allowed: &[Who], ok: u16) -> Expect {
    match who {
        Who::Revoked | Who::Nobody => Expect::Unauthenticated,
        w if allowed.contains(&w) => Expect::Ok(ok),
        _ => Expect::RoleRefused,
    }
}

#[tokio::test]
async fn every_role_on_every_endpoint_over_a_socket() {
    // Every refusal from this one address is audited row by row (the
    // per-address cap of refusal rows is a flood guard: `attacks.rs`).
    let (_dir, state) = open(Config {
        limits: Limits {
            refusal_rows_per_minute: 100_000,
            ..Limits::default()
        },
        ..Config::default()
    });
    let tokens = Tokens::new(&state);
    let server = Server::start(state.clone()).await;
    let addr = server.addr;

    // A Shenyang certificate (QC) and a Dalian one (WYJ), pushed by their
    // agencies.
    let qc = sample_record(CertType::QC);
    let wyj = sample_record(CertType::WYJ);
    assert_eq!(qc.issuer_division.as_deref(), Some("210100"));
    assert_eq!(wyj.issuer_division.as_deref(), Some("210200"));
    let push =
        |r: &shared::domain::RawRecord| serde_json::to_vec(&json!({ "records": [r] })).unwrap();
    for (token, record) in [
        (tokens.kit.agency(210100), &qc),
        (tokens.kit.agency(210200), &wyj),
    ] {
        let a = request(
            addr,
            "POST",
            "/api/v1/records",
            Some(token),
            Some(&push(record)),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.text());
        assert_eq!(a.json()["results"][0]["result"], "issued", "{}", a.text());
    }
    let qc_uri = format!("/api/v1/certificates/QC/{}", qc.number.clone().unwrap());
    let wyj_uri = format!("/api/v1/certificates/WYJ/{}", wyj.number.clone().unwrap());
    let seq = {
        let a = request(
            addr,
            "POST",
            "/api/v1/records",
            Some(&tokens.kit.admin),
            Some(&push(&qc)),
        )
        .await;
        a.json()["status_seq"].as_u64().unwrap()
    };

    struct Case {
        method: &'static str,
        uri: String,
        body: Option<Vec<u8>>,
        audited: bool,
        expect: fn(Who) -> Expect,
    }
    let public = |who: Who| {
        let _ = who;
        Expect::Ok(200)
    };
    let status_body = |s: &str| Some(serde_json::to_vec(&json!({ "status": s })).unwrap());
    let cases = vec![
        Case {
            method: "GET",
            uri: "/healthz".into(),
            body: None,
            audited: false,
            expect: public,
        },
        Case {
            method: "GET",
            uri: "/openapi.json".into(),
            body: None,
            audited: false,
            expect: public,
        },
        Case {
            method: "GET",
            uri: "/api/v1/catalogue".into(),
            body: None,
            audited: false,
            expect: public,
        },
        Case {
            method: "GET",
            uri: "/api/v1/trust-list".into(),
            body: None,
            audited: false,
            expect: public,
        },
        Case {
            method: "GET",
            uri: "/api/v1/status-list".into(),
            body: None,
            audited: false,
            expect: public,
        },
        Case {
            method: "GET",
            uri: format!("/api/v1/status-list/deltas?since={seq}"),
            body: None,
            audited: false,
            expect: |_| Expect::Ok(204),
        },
        Case {
            method: "POST",
            uri: "/api/v1/records".into(),
            body: Some(push(&qc)),
            audited: true,
            expect: |w| by_role(w, &[Who::Admin, Who::Shenyang, Who::Dalian], 200),
        },
        Case {
            method: "GET",
            uri: "/api/v1/nonconforming".into(),
            body: None,
            audited: true,
            expect: |w| by_role(w, &[Who::Admin, Who::Shenyang, Who::Dalian], 200),
        },
        Case {
            method: "GET",
            uri: "/api/v1/agencies/pushes".into(),
            body: None,
            audited: true,
            expect: |w| {
                by_role(
                    w,
                    &[Who::Admin, Who::Shenyang, Who::Dalian, Who::Auditor],
                    200,
                )
            },
        },
        Case {
            method: "GET",
            uri: format!("/api/v1/lookup?number={}", qc.number.clone().unwrap()),
            body: None,
            audited: true,
            expect: |w| by_role(w, &[Who::Officer], 200),
        },
        Case {
            method: "GET",
            uri: qc_uri.clone(),
            body: None,
            audited: true,
            expect: |w| match w {
                Who::Dalian => Expect::RegionRefused,
                w => by_role(w, &[Who::Admin, Who::Shenyang], 200),
            },
        },
        Case {
            method: "GET",
            uri: wyj_uri.clone(),
            body: None,
            audited: true,
            expect: |w| match w {
                Who::Shenyang => Expect::RegionRefused,
                w => by_role(w, &[Who::Admin, Who::Dalian], 200),
            },
        },
        // A repeated change to the same status is answered 200 again.
        Case {
            method: "POST",
            uri: format!("{qc_uri}/status"),
            body: status_body("suspended"),
            audited: true,
            expect: |w| match w {
                Who::Dalian => Expect::RegionRefused,
                w => by_role(w, &[Who::Admin, Who::Shenyang], 200),
            },
        },
        Case {
            method: "POST",
            uri: format!("{wyj_uri}/status"),
            body: status_body("revoked"),
            audited: true,
            expect: |w| match w {
                Who::Shenyang => Expect::RegionRefused,
                w => by_role(w, &[Who::Admin, Who::Dalian], 200),
            },
        },
        Case {
            method: "GET",
            uri: "/api/v1/evaluation?year=2026".into(),
            body: None,
            audited: true,
            expect: |w| by_role(w, &[Who::Admin, Who::Auditor], 200),
        },
        Case {
            method: "POST",
            uri: "/api/v1/evaluation/training".into(),
            body: Some(
                serde_json::to_vec(&json!({"division": 210100, "year": 2026,
                    "coverage": "full", "description": "training", "evidence": []}))
                .unwrap(),
            ),
            audited: true,
            expect: |w| by_role(w, &[Who::Admin], 201),
        },
        Case {
            method: "PUT",
            uri: "/api/v1/evaluation/declared".into(),
            body: Some(
                serde_json::to_vec(&json!({"division": 210100, "year": 2026,
                    "cert_type": "QC", "count": 2}))
                .unwrap(),
            ),
            audited: true,
            expect: |w| by_role(w, &[Who::Admin], 200),
        },
        Case {
            method: "POST",
            uri: "/api/v1/evaluation/complaints".into(),
            body: Some(
                serde_json::to_vec(&json!({"division": 210100, "year": 2026,
                    "description": "refused", "upheld": false}))
                .unwrap(),
            ),
            audited: true,
            expect: |w| by_role(w, &[Who::Admin], 201),
        },
        // Delegations (issue 13 item 6): holders only. The holder's QC is
        // a person certificate (refused as such, 422), and no delegation
        // 999 is theirs (404).
        Case {
            method: "GET",
            uri: "/api/v1/holder/delegations".into(),
            body: None,
            audited: true,
            expect: |w| by_role(w, &[Who::Holder], 200),
        },
        Case {
            method: "POST",
            uri: "/api/v1/holder/delegations".into(),
            body: Some(
                serde_json::to_vec(&json!({"cert_type": "QC",
                    "number": qc.number.clone().unwrap(),
                    "driver_id_number": "210102199001011237", "driver_name": "李四",
                    "valid_until": "2026-12-31"}))
                .unwrap(),
            ),
            audited: true,
            expect: |w| by_role(w, &[Who::Holder], 422),
        },
        Case {
            method: "POST",
            uri: "/api/v1/holder/delegations/999/revoke".into(),
            body: None,
            audited: true,
            expect: |w| by_role(w, &[Who::Holder], 404),
        },
        Case {
            method: "GET",
            uri: "/api/v1/holder/applications".into(),
            body: None,
            audited: true,
            expect: |w| by_role(w, &[Who::Holder], 200),
        },
        Case {
            method: "GET",
            uri: "/api/v1/holder/sign-in".into(),
            body: None,
            audited: false,
            expect: public,
        },
        Case {
            method: "GET",
            uri: "/admin/dashboard?year=2026".into(),
            body: None,
            audited: false,
            expect: public,
        },
        // Applications' routes: only an application's token (issue 13;
        // `apps.rs`, `consent.rs`, `changes.rs` drive them with one).
        Case {
            method: "GET",
            uri: "/api/v1/app/changes?after=0&limit=10".into(),
            body: None,
            audited: true,
            expect: |w| by_role(w, &[], 200),
        },
        Case {
            method: "GET",
            uri: "/api/v1/app/grants".into(),
            body: None,
            audited: true,
            expect: |w| by_role(w, &[], 200),
        },
        Case {
            method: "POST",
            uri: "/api/v1/app/verify".into(),
            body: Some(serde_json::to_vec(&json!({"code": "LC1:X"})).unwrap()),
            audited: true,
            expect: |w| by_role(w, &[], 200),
        },
    ];

    let audit_len = || {
        testkit::blocking(|| {
            let mut tx = state.store().begin().unwrap();
            let n = tx.counts().unwrap().audit;
            let last = tx.audit_tail(1).unwrap().pop();
            (n, last)
        })
    };
    let mut checked = 0;
    for case in &cases {
        // Refused callers first, so the one state change an allowed
        // caller makes (a suspension, a revocation) is made last.
        let mut order = EVERYONE.to_vec();
        order.sort_by_key(|w| matches!((case.expect)(*w), Expect::Ok(_)));
        for who in order {
            let expect = (case.expect)(who);
            let (before, _) = audit_len();
            let a = request(
                addr,
                case.method,
                &case.uri,
                tokens.of(who),
                case.body.as_deref(),
            )
            .await;
            let what = format!("{who:?} {} {}", case.method, case.uri);
            let outcome = match expect {
                Expect::Ok(status) => {
                    assert_eq!(a.status, status, "{what}: {}", a.text());
                    "ok".to_string()
                }
                Expect::Unauthenticated => {
                    let d = problem(&a, 401);
                    assert!(a.header("www-authenticate").unwrap().starts_with("Bearer"));
                    let reason = if who == Who::Revoked {
                        "revoked"
                    } else {
                        "required"
                    };
                    assert!(d.contains(reason), "{what}: {d}");
                    if who == Who::Revoked {
                        "unauthenticated: revoked token".to_string()
                    } else {
                        "unauthenticated: no token".to_string()
                    }
                }
                Expect::RoleRefused => {
                    let d = problem(&a, 403);
                    let role = who.role().unwrap();
                    assert!(d.contains(&format!("role {role} may not")), "{what}: {d}");
                    "403 forbidden".to_string()
                }
                Expect::RegionRefused => {
                    let d = problem(&a, 404);
                    assert!(d.starts_with("no certificate "), "{what}: {d}");
                    assert!(!d.contains("division"), "{what}: {d}");
                    "404 not-found".to_string()
                }
            };
            let (after, last) = audit_len();
            if case.audited {
                assert!(after > before, "{what}: not audited");
                let last = last.unwrap();
                if outcome != "ok" {
                    assert_eq!(last.outcome, outcome, "{what}");
                    assert_eq!(last.role.as_deref(), who.role(), "{what}");
                    assert!(last.action.starts_with(case.method), "{what}: {last:?}");
                }
                assert_eq!(last.token_id.is_some(), who.role().is_some(), "{what}");
            } else {
                assert_eq!(after, before, "{what}: a public read was audited");
                assert!(a.status < 300, "{what}: {}", a.status);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, cases.len() * EVERYONE.len());

    // Revoked is final: reinstating is a conflict, audited as one.
    let a = request(
        addr,
        "POST",
        &format!("{wyj_uri}/status"),
        Some(tokens.kit.agency(210200)),
        status_body("valid").as_deref(),
    )
    .await;
    let d = problem(&a, 409);
    assert!(d.contains("is revoked"), "{d}");
    let (_, last) = audit_len();
    assert_eq!(last.unwrap().outcome, "409 conflict");

    // The Dalian agency cannot take over a Shenyang record by pushing it
    // either: the record is refused, with the field and the reason.
    let a = request(
        addr,
        "POST",
        "/api/v1/records",
        Some(tokens.kit.agency(210200)),
        Some(&push(&qc)),
    )
    .await;
    let v = a.json();
    assert_eq!(v["results"][0]["result"], "refused", "{v}");
    assert_eq!(
        v["results"][0]["reasons"][0]["rule"], "division_not_allowed",
        "{v}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after_per_caller() {
    let limits = Limits {
        rate_per_second: 1,
        rate_burst: 3,
        ..Limits::default()
    };
    let (_dir, state) = open(Config {
        limits,
        ..Config::default()
    });
    let tokens = Tokens::new(&state);
    let server = Server::start(state).await;
    let addr = server.addr;
    // A token's first request counts against its address (it is not yet
    // known to be valid; made-up tokens never are); then the token has a
    // bucket of its own.
    for _ in 0..4 {
        let a = request(
            addr,
            "GET",
            "/api/v1/agencies/pushes",
            Some(&tokens.kit.admin),
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.text());
    }
    let a = request(
        addr,
        "GET",
        "/api/v1/agencies/pushes",
        Some(&tokens.kit.admin),
        None,
    )
    .await;
    let d = problem(&a, 429);
    assert!(d.contains("requests a second"), "{d}");
    let retry: u64 = a.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    // Another valid token has its own bucket (its first request counted
    // against the address); requests without a token are counted per
    // address (this one's, 127.0.0.1, which has one left).
    let a = request(
        addr,
        "GET",
        "/api/v1/agencies/pushes",
        Some(&tokens.kit.auditor),
        None,
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        request(addr, "GET", "/holder", None, None).await.status,
        200
    );
    problem(&request(addr, "GET", "/holder", None, None).await, 429);
    // The health check is outside every limit.
    assert_eq!(
        request(addr, "GET", "/healthz", None, None).await.status,
        200
    );
    // The signed lists are outside the rate limit: this address, refused
    // above, is still served them (a carrier NAT puts many devices behind
    // one address).
    for path in &SIGNED_LISTS[..2] {
        for _ in 0..5 {
            let a = request(addr, "GET", path, None, None).await;
            assert_eq!(a.status, 200, "{path}: {}", a.text());
        }
    }
    let a = request(addr, "POST", SIGNED_LISTS[0], None, Some(&b"{}"[..])).await;
    problem(&a, 405);
    // After the wait, the caller is served again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let a = request(
        addr,
        "GET",
        "/api/v1/agencies/pushes",
        Some(&tokens.kit.admin),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn router_refusals_are_problem_details() {
    let (_dir, state) = open(Config::default());
    let tokens = Tokens::new(&state);
    let server = Server::start(state).await;
    let addr = server.addr;
    let admin = Some(tokens.kit.admin.as_str());

    // A status change over the small command limit: 413, not a push-sized
    // allowance.
    let big =
        serde_json::to_vec(&json!({ "status": "revoked", "pad": "x".repeat(20_000) })).unwrap();
    let d = problem(
        &request(
            addr,
            "POST",
            "/api/v1/certificates/QC/1/status",
            admin,
            Some(&big),
        )
        .await,
        413,
    );
    assert!(d.contains("16384 bytes"), "{d}");
    // ... while a push of that size is fine (its records are malformed).
    let records = serde_json::to_vec(&json!({ "records": ["x".repeat(20_000)] })).unwrap();
    let a = request(addr, "POST", "/api/v1/records", admin, Some(&records)).await;
    assert_eq!(a.status, 200, "{}", a.text());
    // A method the path does not have.
    let d = problem(
        &request(addr, "DELETE", "/api/v1/records", admin, None).await,
        405,
    );
    assert!(d.contains("/api/v1/records") && d.contains("DELETE"), "{d}");
    // A path parameter that is not UTF-8 once decoded.
    let d = problem(
        &request(addr, "GET", "/api/v1/certificates/QC/%FF", admin, None).await,
        400,
    );
    assert!(d.starts_with("path:"), "{d}");
    let d = problem(
        &request(
            addr,
            "POST",
            "/api/v1/certificates/%FF/1/status",
            admin,
            Some(b"{}"),
        )
        .await,
        400,
    );
    assert!(d.starts_with("path:"), "{d}");
    // Bodies that are not what the path expects say where.
    let d = problem(
        &request(
            addr,
            "POST",
            "/api/v1/certificates/QC/1/status",
            admin,
            Some(b"{\"status\": 1}"),
        )
        .await,
        400,
    );
    assert!(d.contains("status"), "{d}");
    server.shutdown().await.unwrap();
}

/// The routes answered outside the request layers (`http::app`): the
/// signed lists, the catalogue and the health check.
const SIGNED_LISTS: [&str; 8] = [
    "/api/v1/trust-list",
    "/api/v1/status-list",
    "/api/v1/status-list/deltas",
    "/api/v1/catalogue",
    "/healthz",
    "/api/v1/national-list",
    "/api/v1/provinces/{division}/trust-list",
    "/api/v1/provinces/{division}/status-list",
];

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let (_dir, state) = open(Config::default());
    let server = Server::start(state).await;
    let a = request(server.addr, "GET", "/openapi.json", None, None).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("application/json"));
    let doc = a.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    // The document served is the one the router was built with: each
    // route is registered together with its description, so a route
    // cannot be added without one.
    let built = serde_json::to_value(verifier_server::http::document()).unwrap();
    assert_eq!(doc, built);
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                routes.push((method.clone(), path.clone()));
            }
        }
    }
    assert!(routes.len() >= 30, "{routes:?}");
    // Every described operation is routed: not the fallback's 404 or 405.
    for (method, path) in &routes {
        let target = path
            .replace("{cert_type}", "QC")
            .replace("{number}", "1")
            .replace("{path}", "index.html");
        let a = request(
            server.addr,
            &method.to_uppercase(),
            &target,
            None,
            (method != "get").then_some(&b"{}"[..]),
        )
        .await;
        assert_ne!(a.status, 405, "{method} {path}: {}", a.text());
        assert!(
            !a.text().contains("no resource at"),
            "{method} {path} is described but not routed: {}",
            a.text()
        );
    }
    for must in [
        ("get", "/openapi.json"),
        ("post", "/api/v1/records"),
        ("post", "/api/v1/certificates/{cert_type}/{number}/status"),
    ] {
        assert!(
            routes.contains(&(must.0.to_string(), must.1.to_string())),
            "{must:?} not in the document: {routes:?}"
        );
    }
    let mut missing = Vec::new();
    for (method, path) in &routes {
        let op = &doc["paths"][path][method];
        if !op.is_object() {
            missing.push(format!("{} {path}", method.to_uppercase()));
            continue;
        }
        // Every operation says what its refusals look like; the signed
        // lists, routed outside the rate limit, timeout and concurrency
        // limit, say that they give neither 429 nor 503.
        let outside_layers = method == "get" && SIGNED_LISTS.contains(&path.as_str());
        for code in ["429", "503"] {
            if outside_layers {
                assert!(
                    op["responses"][code].is_null(),
                    "{method} {path} {code}: outside the layers, yet described"
                );
            } else {
                assert_eq!(
                    op["responses"][code]["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{method} {path} {code}"
                );
            }
        }
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        if secured {
            assert!(op["responses"]["401"].is_object(), "{method} {path}");
            assert!(op["responses"]["403"].is_object(), "{method} {path}");
        }
    }
    assert!(
        missing.is_empty(),
        "routes missing from /openapi.json: {missing:?}"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer",
        "{}",
        doc["components"]
    );
    server.shutdown().await.unwrap();
}
