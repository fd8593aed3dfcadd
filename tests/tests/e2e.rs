//! The officer's day, end to end, with the real binaries over 127.0.0.1:
//! the demo server starts, a device enrolls and syncs, every demo sample QR
//! gives the verdict its index promises, a cancellation reaches the device
//! in one sync, checks keep working with the server down, an offline check
//! is uploaded exactly once, and a SIGKILL during a burst of checks loses no
//! check whose verdict was shown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use testkit::{agent, binary, describe, field_client, json_lines, ChildServer as Server};

fn read_index(server: &Server) -> Vec<Value> {
    let index: Value = serde_json::from_str(&server.demo_file("index.json").unwrap()).unwrap();
    let samples = index["samples"]
        .as_array()
        .expect("index.json has samples")
        .clone();
    assert!(samples.len() >= 9, "expected a sample per type at least");
    samples
}

fn enroll_and_sync(server: &Server, device: &Path) {
    let token = server.demo_file("officer-token").unwrap();
    let out = field_client(
        device,
        &["enroll", "--server", &server.url, "--token", &token],
    )
    .unwrap();
    assert!(out.status.success(), "enroll: {}", describe(&out));
    sync(device);
}

fn sync(device: &Path) {
    let out = field_client(device, &["sync"]).unwrap();
    assert!(out.status.success(), "sync: {}", describe(&out));
}

fn verify_text(device: &Path, text: &str) -> (Option<i32>, Value) {
    let out = field_client(device, &["verify", "--json", "--text", text]).unwrap();
    let mut lines = json_lines(&out).unwrap();
    assert_eq!(lines.len(), 1, "one check, one line: {}", describe(&out));
    (out.status.code(), lines.remove(0))
}

fn exit_for(verdict: &str) -> i32 {
    match verdict {
        "valid" => 0,
        "invalid" => 1,
        "cannot_confirm" => 3,
        other => panic!("unknown verdict {other}"),
    }
}

/// The number of check-log records the server holds for the device.
fn server_records(server: &Server, device: &Path) -> u64 {
    let out = field_client(device, &["--json", "status"]).unwrap();
    assert!(out.status.success(), "status: {}", describe(&out));
    let status = json_lines(&out).unwrap().remove(0);
    let id = status["device_id"]
        .as_i64()
        .expect("status names the device id");
    let admin = server.demo_file("admin-token").unwrap();
    let mut r = agent()
        .get(format!(
            "{}/api/v1/verification-logs?device_id={id}&limit=1",
            server.url
        ))
        .header("Authorization", &format!("Bearer {admin}"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.body_mut().read_json().unwrap();
    body["device"]["next_seq"].as_u64().unwrap()
}

#[test]
fn the_officers_day() {
    let dir = testkit::tempdir();
    let mut server = Server::demo(&dir.path().join("server")).unwrap();
    let device = dir.path().join("device");
    enroll_and_sync(&server, &device);

    // Every sample, from its PNG, gives the verdict written in the index.
    let samples = read_index(&server);
    let demo_dir = server.data.join("demo");
    let mut valid_sample = None;
    for s in &samples {
        let file = demo_dir.join(s["file"].as_str().unwrap());
        let out = field_client(
            &device,
            &["verify", "--json", "--image", file.to_str().unwrap()],
        )
        .unwrap();
        let lines = json_lines(&out).unwrap();
        assert_eq!(lines.len(), 1, "{}: {}", file.display(), describe(&out));
        let expected = &s["expected"];
        let verdict = expected["verdict"].as_str().unwrap();
        assert_eq!(
            lines[0]["verdict"],
            expected["verdict"],
            "{}: {}",
            file.display(),
            describe(&out)
        );
        if let Some(reason) = expected["reason"].as_str() {
            assert_eq!(
                lines[0]["reason"],
                reason,
                "{}: {}",
                file.display(),
                describe(&out)
            );
        }
        assert_eq!(
            out.status.code(),
            Some(exit_for(verdict)),
            "{}",
            describe(&out)
        );
        if verdict == "valid" && valid_sample.is_none() {
            valid_sample = Some(s.clone());
        }
    }

    // The agency of the certificate's city cancels it; one sync later the
    // device says revoked.
    let sample = valid_sample.expect("a valid sample");
    let text = sample["qr_text"].as_str().unwrap().to_string();
    let (code, before) = verify_text(&device, &text);
    assert_eq!((code, before["verdict"].as_str()), (Some(0), Some("valid")));
    let cert_type = sample["cert_type"].as_str().unwrap();
    let number = sample["number"].as_str().unwrap();
    let admin = server.demo_file("admin-token").unwrap();
    let mut r = agent()
        .post(format!(
            "{}/api/v1/certificates/{cert_type}/{number}/status",
            server.url
        ))
        .header("Authorization", &format!("Bearer {admin}"))
        .send_json(serde_json::json!({"status": "revoked"}))
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "{}",
        r.body_mut().read_to_string().unwrap()
    );
    sync(&device);
    let (code, after) = verify_text(&device, &text);
    assert_eq!(after["verdict"], "invalid", "{after}");
    assert_eq!(after["reason"], "revoked", "{after}");
    assert_eq!(code, Some(1));

    // A second sync uploads every check so far.
    sync(&device);
    let uploaded = server_records(&server, &device);
    assert!(
        uploaded >= samples.len() as u64 + 2,
        "{uploaded} records on the server"
    );

    // The server goes down: checks still work offline, and are kept.
    server.kill().unwrap();
    let other = samples
        .iter()
        .find(|s| s["expected"]["verdict"] == "valid" && s["qr_text"] != sample["qr_text"])
        .unwrap();
    let (code, offline) = verify_text(&device, other["qr_text"].as_str().unwrap());
    assert_eq!(
        (code, offline["verdict"].as_str()),
        (Some(0), Some("valid"))
    );
    let failed = field_client(&device, &["sync"]).unwrap();
    assert!(
        !failed.status.success(),
        "sync with the server down must fail"
    );
    let (code, still) = verify_text(&device, other["qr_text"].as_str().unwrap());
    assert_eq!(
        (code, still["verdict"].as_str()),
        (Some(0), Some("valid")),
        "local data kept"
    );

    // Back online: the offline checks are uploaded, exactly once, even when
    // the sync is repeated.
    server.restart().unwrap();
    sync(&device);
    let after_upload = server_records(&server, &device);
    assert_eq!(after_upload, uploaded + 2, "the two offline checks, once");
    sync(&device);
    assert_eq!(
        server_records(&server, &device),
        after_upload,
        "a second sync duplicates nothing"
    );
}

/// SIGKILL in the middle of a burst of checks: every check whose verdict was
/// printed is in the log afterwards.
#[test]
fn a_killed_client_loses_no_shown_verdict() {
    let dir = testkit::tempdir();
    let server = Server::demo(&dir.path().join("server")).unwrap();
    let device = dir.path().join("device");
    enroll_and_sync(&server, &device);
    let samples = read_index(&server);
    let texts: Vec<String> = samples
        .iter()
        .map(|s| s["qr_text"].as_str().unwrap().to_string())
        .collect();

    let mut child = Command::new(binary("field-client").unwrap())
        .arg("--data")
        .arg(&device)
        .args(["verify", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..100_000 {
            if writeln!(stdin, "{}", texts[i % texts.len()]).is_err() {
                break;
            }
        }
    });
    let mut shown = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(Ok(line)) = lines.next() {
        let v: Value = serde_json::from_str(&line).unwrap();
        shown.push(v["check_id"].clone());
        if shown.len() == 200 {
            child.kill().unwrap();
            break;
        }
    }
    // Lines already in the pipe were shown too.
    for line in lines.map_while(Result::ok) {
        if let Ok(v) = serde_json::from_str::<Value>(&line) {
            shown.push(v["check_id"].clone());
        }
    }
    child.wait().unwrap();
    writer.join().unwrap();
    assert!(shown.len() >= 200);

    let out = field_client(&device, &["logs", "--json"]).unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let logged: std::collections::HashSet<String> = json_lines(&out)
        .unwrap()
        .iter()
        .filter(|v| v["kind"] == "check")
        .map(|v| v["seq"].to_string())
        .collect();
    for id in &shown {
        assert!(
            logged.contains(&id.to_string()),
            "check {id} was shown but is not in the log"
        );
    }
}

/// Every directory under `root` (itself included) is 0700 and every file
/// 0600; returns the relative paths of the files.
fn assert_owner_only(root: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", d.display());
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                stack.push(e.path());
            } else if kind.is_file() {
                let mode = e.metadata().unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", e.path().display());
                files.push(
                    e.path()
                        .strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    files
}

/// Issue 12 finding 6 with the real binaries: the server's data directory
/// (database, WAL/SHM, keys, demo files) and the field client's (database,
/// WAL/SHM, device key, seal) are owner-only after start, and an existing
/// 0755 directory with 0644 files is tightened at the next start.
#[test]
fn data_directories_are_owner_only_and_tightened_at_start() {
    use std::os::unix::fs::PermissionsExt as _;
    let loosen = |p: &Path, mode: u32| {
        if p.exists() {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    };
    let dir = testkit::tempdir();
    let data = dir.path().join("server");
    // Left by an older version: a 0755 directory holding a 0644 database.
    std::fs::create_dir(&data).unwrap();
    loosen(&data, 0o755);
    let sqlite = std::env::var_os("LNEC_TEST_POSTGRES").is_none();
    if sqlite {
        std::fs::write(data.join("verifier.db"), b"").unwrap();
        loosen(&data.join("verifier.db"), 0o644);
    }
    let mut server = Server::demo(&data).unwrap();
    let device = dir.path().join("device");
    enroll_and_sync(&server, &device);
    let samples = read_index(&server);
    let (code, _) = verify_text(&device, samples[0]["qr_text"].as_str().unwrap());
    assert!(code.is_some());

    let files = assert_owner_only(&data);
    if sqlite {
        for f in ["verifier.db", "verifier.db-wal", "verifier.db-shm"] {
            assert!(files.iter().any(|x| x == f), "{f} in {files:?}");
        }
    }
    assert!(files.iter().any(|f| f.starts_with("keys/")), "{files:?}");
    assert!(files.iter().any(|f| f.starts_with("demo/")), "{files:?}");
    let client = assert_owner_only(&device);
    // (The client's -wal/-shm exist only while it runs; the field client's
    // own tests look at them under `serve`.)
    for f in ["client.db", "device.key", "store.key", "store.seal"] {
        assert!(client.iter().any(|x| x == f), "{f} in {client:?}");
    }

    // Loosened while stopped: tightened again at the next start.
    server.kill().unwrap();
    loosen(&data, 0o755);
    loosen(&data.join("keys"), 0o755);
    loosen(&data.join("demo"), 0o755);
    for f in &files {
        loosen(&data.join(f), 0o644);
    }
    loosen(&device, 0o755);
    for f in &client {
        loosen(&device.join(f), 0o644);
    }
    server.restart().unwrap();
    assert_owner_only(&data);
    sync(&device);
    assert_owner_only(&device);
}
