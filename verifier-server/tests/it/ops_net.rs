//! Running it for real (issue 17), in process: `/metrics` only for allowed
//! addresses or the metrics token, counting by route template; the client
//! address behind trusted proxies (and only them) in audit rows.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use testkit::{assert_problem, records, TestServer};
use verifier_server::{Config, Network};

/// `GET uri` as if from `peer`, with optional headers.
fn get(uri: &str, peer: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut req = Request::builder().uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(Body::empty()).unwrap();
    let peer = SocketAddr::new(peer.parse::<IpAddr>().unwrap(), 40000);
    req.extensions_mut().insert(ConnectInfo(peer));
    req
}

const METRICS_TOKEN: &str = "metrics-scraper-token-0123456789";

fn config() -> Config {
    Config {
        network: Network {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            metrics_token_sha256: Some(Sha256::digest(METRICS_TOKEN.as_bytes()).into()),
            ..Network::default()
        },
        ..Config::default()
    }
}

#[tokio::test]
async fn metrics_for_allowed_addresses_or_the_token_only() {
    let server = TestServer::with(shared::crypto::Alg::EdDSA, config());
    let record = records::record(0);
    let pushed = server
        .push(&server.admin, std::slice::from_ref(&record))
        .await;
    assert_eq!(pushed["summary"]["issued"], 1, "{pushed}");
    let number = records::number(&record);
    let cert_type = record.cert_type.clone().unwrap();
    let path = format!("/api/v1/certificates/{cert_type}/{number}");
    let (status, _, _) = server
        .send(get(
            &path,
            "127.0.0.1",
            &[("authorization", &format!("Bearer {}", server.admin))],
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    server
        .send(get("/api/v1/trust-list", "127.0.0.1", &[]))
        .await;

    // (peer, headers, allowed)
    let bearer = format!("Bearer {METRICS_TOKEN}");
    type Headers<'a> = Vec<(&'a str, &'a str)>;
    let cases: &[(&str, Headers, bool)] = &[
        ("127.0.0.1", vec![], true),
        ("::1", vec![], true),
        ("192.0.2.7", vec![], false),
        // A proxy's client outside the allowed range: refused, though the
        // proxy itself is on no list either.
        ("10.0.0.2", vec![("x-forwarded-for", "192.0.2.7")], false),
        // A forged header from an untrusted peer does not help.
        ("192.0.2.7", vec![("x-forwarded-for", "127.0.0.1")], false),
        (
            "192.0.2.7",
            vec![("authorization", "Bearer wrong-token-0123456789")],
            false,
        ),
        ("192.0.2.7", vec![("authorization", &bearer)], true),
    ];
    for (peer, headers, allowed) in cases {
        let (status, headers_out, body) = server.send(get("/metrics", peer, headers)).await;
        if !allowed {
            assert_problem(status, &headers_out, &body, StatusCode::NOT_FOUND);
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{peer} {headers:?}");
        assert!(headers_out[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        let text = String::from_utf8(body).unwrap();
        for want in [
            // The template, never the raw path with the number in it.
            r#"lnec_http_requests_total{method="GET",route="/api/v1/certificates/{cert_type}/{number}",status="200"} 1"#,
            r#"lnec_http_requests_total{method="POST",route="/api/v1/records",status="200"} 1"#,
            r#"lnec_pushed_records_total{outcome="issued"} 1"#,
            "lnec_pushes_total 1",
            r#"lnec_signed_list_requests_total{list="trust"} 1"#,
            r#"lnec_list_sequence{list="trust"}"#,
            r#"lnec_db_connections{state="max"} 1"#,
            // Nothing waits in the outboxes.
            r#"lnec_forward_backlog{what="queued_records"} 0"#,
            r#"lnec_forward_backlog{what="undelivered_batches"} 0"#,
            "lnec_forward_oldest_undelivered_age_seconds 0",
            r#"lnec_webhook_applications{state="pending"} 0"#,
            r#"lnec_webhook_applications{state="failing"} 0"#,
        ] {
            assert!(
                text.lines().any(|l| l.starts_with(want)),
                "{want} missing:\n{text}"
            );
        }
        assert!(!text.contains(&number), "a raw path leaked into the labels");
    }
}

#[tokio::test]
async fn audit_rows_record_the_client_behind_trusted_proxies_only() {
    let server = TestServer::with(shared::crypto::Alg::EdDSA, config());
    let unknown = ("authorization", "Bearer lnv1_unknown");
    // (peer, X-Forwarded-For, recorded client)
    let cases = [
        ("10.0.0.2", Some("198.51.100.1, 10.0.0.9"), "198.51.100.1"),
        ("192.0.2.9", Some("198.51.100.1"), "192.0.2.9"),
        ("::ffff:10.1.2.3", None, "10.1.2.3"),
    ];
    for (peer, xff, client) in cases {
        let mut headers = vec![unknown];
        if let Some(x) = xff {
            headers.push(("x-forwarded-for", x));
        }
        let (status, _, _) = server.send(get("/api/v1/audit", peer, &headers)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // A recognised caller's rows carry the address too.
        let admin = format!("Bearer {}", server.admin);
        let mut headers = vec![("authorization", admin.as_str())];
        if let Some(x) = xff {
            headers.push(("x-forwarded-for", x));
        }
        let (status, _, _) = server
            .send(get("/api/v1/audit?limit=1000", peer, &headers))
            .await;
        assert_eq!(status, StatusCode::OK);
        let state = server.state.clone();
        let rows = testkit::blocking(move || {
            let mut tx = state.store().begin().unwrap();
            tx.audit_tail(2).unwrap()
        });
        assert_eq!(rows.len(), 2);
        for row in &rows {
            assert_eq!(row.client_addr.as_deref(), Some(client), "{row:?}");
        }
        assert!(rows[1].outcome.starts_with("unauthenticated"), "{rows:?}");
    }
    // The audit API shows it (the page ends before the row of its own read).
    let page = server
        .get_json("/api/v1/audit?limit=1000", &server.admin)
        .await;
    let last = page["entries"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["client_addr"], json!("10.1.2.3"), "{last}");
}
