//! The real binaries over TLS (issue 17): `serve --tls-cert --tls-key`
//! with a test CA made here (rcgen); the field client enrolls and syncs
//! with `--ca-file` and refuses without it; the importer pins the CA; a
//! certificate swapped on SIGHUP takes effect without a restart, a broken
//! one keeps the old and says so in one (JSON) log line; wrong-host and
//! expired certificates are refused by the clients; a mismatched pair at
//! start exits 2 with one clear line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use testkit::{agent_trusting, binary, describe, field_client, server_admin, ChildServer};

/// A test certificate authority.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A server certificate for `hosts` signed by `ca`, valid from
/// `not_before` to `not_after` (Unix seconds): (certificate PEM, key PEM).
fn leaf(ca: &Ca, hosts: &[&str], not_before: i64, not_after: i64) -> (String, String) {
    let mut params =
        CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, hosts[0]);
    params.distinguished_name = dn;
    params.not_before = time::OffsetDateTime::from_unix_timestamp(not_before).unwrap();
    params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A certificate for localhost valid from yesterday for a year.
fn valid_leaf(ca: &Ca) -> (String, String) {
    leaf(
        ca,
        &["localhost", "127.0.0.1"],
        now() - 86_400,
        now() + 365 * 86_400,
    )
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `GET /healthz` with an agent trusting `ca_pem`: Ok(status) or the
/// transport error's text.
fn health(url: &str, ca_pem: &str) -> Result<u16, String> {
    agent_trusting(ca_pem)
        .unwrap()
        .get(format!("{url}/healthz"))
        .call()
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

/// Waits (at most 10 s) until `ok` holds.
fn eventually(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < Duration::from_secs(10), "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn tls_end_to_end_with_pinned_ca_and_reload() {
    let dir = testkit::tempdir();
    let ca1 = ca("LNEC test CA 1");
    let ca2 = ca("LNEC test CA 2");
    let ca1_file = write(dir.path(), "ca1.pem", &ca1.pem);
    let (cert, key) = valid_leaf(&ca1);
    let cert_file = write(dir.path(), "server.pem", &cert);
    let key_file = write(dir.path(), "server.key", &key);
    let data = dir.path().join("data");
    let mut server = ChildServer::serve_tls(
        &data,
        &cert_file,
        &key_file,
        &ca1.pem,
        &["--log-format", "json"],
    )
    .unwrap();
    let pid = server.pid();

    // The field client enrolls and syncs with the pinned CA.
    let token = server_admin(
        &data,
        &["create-token", "--role", "officer", "--division", "210100"],
    )
    .unwrap();
    let device = dir.path().join("device");
    let out = field_client(
        &device,
        &[
            "enroll",
            "--server",
            &server.url,
            "--token",
            &token,
            "--ca-file",
            ca1_file.to_str().unwrap(),
        ],
    )
    .unwrap();
    assert!(out.status.success(), "enroll: {}", describe(&out));
    let out = field_client(&device, &["sync"]).unwrap();
    assert!(out.status.success(), "sync: {}", describe(&out));

    // Without the CA the client refuses, saying what to do.
    let stranger = dir.path().join("stranger");
    let out = field_client(
        &stranger,
        &["enroll", "--server", &server.url, "--token", &token],
    )
    .unwrap();
    assert!(!out.status.success(), "enrolled without the CA");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TLS certificate is not trusted") && err.contains("--ca-file"),
        "{err}"
    );

    // The importer pins the CA too, and refuses without it.
    let admin = server_admin(&data, &["create-token", "--role", "admin"]).unwrap();
    let records = dir.path().join("records.jsonl");
    let lines: Vec<String> = testkit::records::values(0, 3)
        .iter()
        .map(|v| v.to_string())
        .collect();
    std::fs::write(&records, lines.join("\n") + "\n").unwrap();
    let import = |ca: Option<&Path>| {
        let mut c = Command::new(binary("verifier-server").unwrap());
        c.args([
            "import",
            "--server",
            &server.url,
            "--token",
            &admin,
            "--json",
        ]);
        c.args(["--retries", "0"]);
        if let Some(ca) = ca {
            c.arg("--ca-file").arg(ca);
        }
        c.arg(&records).stdin(Stdio::null()).output().unwrap()
    };
    let out = import(None);
    assert!(!out.status.success(), "imported without the CA");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not trusted"),
        "{}",
        describe(&out)
    );
    let out = import(Some(&ca1_file));
    assert!(out.status.success(), "import: {}", describe(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["records"], 3, "{summary}");

    // Over TLS the dashboard's session cookie is `Secure`: the browser never
    // sends it back over plain HTTP.
    let signed_in = agent_trusting(&ca1.pem)
        .unwrap()
        .post(format!("{}/admin/dashboard", server.url))
        .config()
        .max_redirects(0)
        .build()
        .content_type("application/x-www-form-urlencoded")
        .send(format!("token={admin}&year=2026"))
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 303);
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("lnec_dashboard="), "{cookie}");
    for attr in ["; Secure", "; HttpOnly", "; SameSite=Strict"] {
        assert!(cookie.contains(attr), "{cookie}");
    }

    // Reload on SIGHUP: a certificate from another CA takes over in place.
    let (cert2, key2) = valid_leaf(&ca2);
    write(dir.path(), "server.pem", &cert2);
    write(dir.path(), "server.key", &key2);
    server.hangup().unwrap();
    eventually("the new certificate is served", || {
        health(&server.url, &ca2.pem) == Ok(200)
    });
    assert!(
        health(&server.url, &ca1.pem).is_err(),
        "old CA still accepted"
    );
    assert!(
        server.running() && server.pid() == pid,
        "the server restarted"
    );

    // A broken key keeps the old certificate and says so in one line.
    write(dir.path(), "server.key", "not a key");
    server.hangup().unwrap();
    eventually("the refused reload is logged", || {
        server.log_text().contains("TLS certificate not reloaded")
    });
    let line = server
        .log_text()
        .lines()
        .find(|l| l.contains("TLS certificate not reloaded"))
        .unwrap()
        .to_string();
    let json: serde_json::Value = serde_json::from_str(&line).expect("--log-format json");
    assert_eq!(json["level"], "ERROR", "{line}");
    assert!(line.contains("server.key"), "{line}");
    assert_eq!(
        health(&server.url, &ca2.pem),
        Ok(200),
        "old certificate kept"
    );

    // A certificate for another host is refused by the clients.
    let (cert3, key3) = leaf(&ca2, &["other.example"], now() - 86_400, now() + 86_400);
    write(dir.path(), "server.pem", &cert3);
    write(dir.path(), "server.key", &key3);
    server.hangup().unwrap();
    eventually("the wrong-host certificate is refused", || {
        health(&server.url, &ca2.pem).is_err_and(|e| e.contains("not valid for name"))
    });

    // So is an expired one.
    let (cert4, key4) = leaf(&ca2, &["localhost"], now() - 10 * 86_400, now() - 86_400);
    write(dir.path(), "server.pem", &cert4);
    write(dir.path(), "server.key", &key4);
    server.hangup().unwrap();
    eventually("the expired certificate is refused", || {
        health(&server.url, &ca2.pem).is_err_and(|e| e.contains("expired"))
    });
    assert!(
        server.running() && server.pid() == pid,
        "the server restarted"
    );

    // /metrics answers over TLS from loopback, by route template.
    write(dir.path(), "server.pem", &cert2);
    write(dir.path(), "server.key", &key2);
    server.hangup().unwrap();
    eventually("the good certificate is back", || {
        health(&server.url, &ca2.pem) == Ok(200)
    });
    let mut r = agent_trusting(&ca2.pem)
        .unwrap()
        .get(format!("{}/metrics", server.url))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.body_mut().read_to_string().unwrap();
    for want in [
        r#"lnec_http_requests_total{method="POST",route="/api/v1/records",status="200"}"#,
        r#"lnec_pushed_records_total{outcome="issued"} 3"#,
        r#"lnec_signed_list_requests_total{list="trust"}"#,
        r#"lnec_list_sequence{list="status"}"#,
        r#"lnec_db_connections{state="open"}"#,
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }

    // Files replaced without a signal (a certificate renewal tool that
    // does not know the server): the watch picks them up within its
    // interval (5 s), without a restart.
    let (cert5, key5) = valid_leaf(&ca1);
    write(dir.path(), "server.pem", &cert5);
    write(dir.path(), "server.key", &key5);
    let start = Instant::now();
    while health(&server.url, &ca1.pem) != Ok(200) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "a certificate replaced on disk was not picked up without SIGHUP: {}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        health(&server.url, &ca2.pem).is_err(),
        "the replaced CA still accepted"
    );
    assert!(
        server.running() && server.pid() == pid,
        "the server restarted"
    );
}

#[test]
fn a_bad_certificate_or_key_at_start_exits_2_with_one_line() {
    let dir = testkit::tempdir();
    let ca = ca("LNEC test CA");
    let (cert, _) = valid_leaf(&ca);
    let (_, other_key) = valid_leaf(&ca);
    let cert_file = write(dir.path(), "server.pem", &cert);
    let other_key_file = write(dir.path(), "other.key", &other_key);
    let missing = dir.path().join("missing.key");
    for (key, says) in [
        (&other_key_file, "does not match the certificate"),
        (&missing, "cannot read"),
        (&cert_file, "no usable PEM private key"),
    ] {
        let out = Command::new(binary("verifier-server").unwrap())
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            .arg("--tls-cert")
            .arg(&cert_file)
            .arg("--tls-key")
            .arg(key)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains(says), "{says}: {err}");
    }
}
