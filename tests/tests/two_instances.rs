//! Two `verifier-server` processes on one PostgreSQL database, each with
//! its own data directory holding the same key files: status changes made
//! through both at once get unique, gap-free list sequence numbers and
//! reach a field device syncing from either; a key rotation made through
//! one is used by both. Skipped (with a printed line) unless
//! `LNEC_TEST_POSTGRES` names a PostgreSQL server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use serde_json::Value;
use shared::crypto::{Alg, PublicKey, SigningKey};
use shared::trust::TrustList;
use testkit::engine::POSTGRES_ENV;
use testkit::{agent, describe, field_client, json_lines, server_admin, ChildServer, Engine};

/// Copies the directory `from` to `to` (files and subdirectories).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn revoke(server: &ChildServer, admin: &str, sample: &Value) -> u64 {
    let cert_type = sample["cert_type"].as_str().unwrap();
    let number = sample["number"].as_str().unwrap();
    let mut r = agent()
        .post(format!(
            "{}/api/v1/certificates/{cert_type}/{number}/status",
            server.url
        ))
        .header("Authorization", &format!("Bearer {admin}"))
        .send_json(serde_json::json!({"status": "revoked"}))
        .unwrap();
    let body = r.body_mut().read_to_string().unwrap();
    assert_eq!(r.status(), 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    body["status_seq"]
        .as_u64()
        .expect("status_seq in the answer")
}

fn verify_text(device: &Path, text: &str) -> Value {
    let out = field_client(device, &["verify", "--json", "--text", text]).unwrap();
    let mut lines = json_lines(&out).unwrap();
    assert_eq!(lines.len(), 1, "one check, one line: {}", describe(&out));
    lines.remove(0)
}

fn trust_list(server: &ChildServer) -> Vec<u8> {
    let mut r = agent()
        .get(format!("{}/api/v1/trust-list", server.url))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    r.body_mut().read_to_vec().unwrap()
}

/// The root public key from the `root-KID.key` file in `data`'s key
/// directory (the demo's keys are Ed25519).
fn root_key(data: &Path) -> PublicKey {
    let keys = data.join("keys");
    let file = std::fs::read_dir(&keys)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("root-") && n.ends_with(".key"))
        })
        .unwrap_or_else(|| panic!("no root key in {}", keys.display()));
    SigningKey::from_secret_bytes(Alg::EdDSA, &std::fs::read(file).unwrap())
        .unwrap()
        .public_key()
}

#[test]
fn two_instances_share_one_database() {
    if !matches!(testkit::engine(), Engine::Postgres(_)) {
        println!("two_instances_share_one_database: skipped ({POSTGRES_ENV} is not set)");
        return;
    }
    let dir = testkit::tempdir();
    let a_dir = dir.path().join("a");
    let b_dir = dir.path().join("b");
    let database = testkit::engine().database_for(&a_dir).unwrap().unwrap();
    let a = ChildServer::start_on_database("demo", &a_dir, &database).unwrap();
    // The second instance: the same key files (and demo tokens), the same
    // database, a data directory of its own.
    copy_dir(&a_dir, &b_dir);
    let b = ChildServer::start_on_database("serve", &b_dir, &database).unwrap();
    let admin = a.demo_file("admin-token").unwrap();
    let officer = a.demo_file("officer-token").unwrap();

    // A device enrolled with instance B, synced before anything changes.
    let device = dir.path().join("device");
    let out = field_client(
        &device,
        &["enroll", "--server", &b.url, "--token", &officer],
    )
    .unwrap();
    assert!(out.status.success(), "enroll: {}", describe(&out));
    let out = field_client(&device, &["sync"]).unwrap();
    assert!(out.status.success(), "sync: {}", describe(&out));

    let index: Value = serde_json::from_str(&a.demo_file("index.json").unwrap()).unwrap();
    let valid: Vec<Value> = index["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["expected"]["verdict"] == "valid")
        .cloned()
        .collect();
    assert!(valid.len() >= 4, "{} valid samples", valid.len());
    for s in &valid {
        assert_eq!(
            verify_text(&device, s["qr_text"].as_str().unwrap())["verdict"],
            "valid"
        );
    }

    // Cancellations through both instances at once: every one gets its own
    // status-list sequence number, and together they leave no gap.
    let mut seqs: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = valid[..valid.len() - 1]
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let server = if i % 2 == 0 { &a } else { &b };
                let admin = &admin;
                scope.spawn(move || revoke(server, admin, s))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    seqs.sort_unstable();
    let first = seqs[0];
    let expected: Vec<u64> = (first..first + seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "unique, gap-free sequence numbers");
    // The device syncs from B (B now holds the list state in memory);
    // then one more cancellation, through A alone.
    let out = field_client(&device, &["sync"]).unwrap();
    assert!(out.status.success(), "sync: {}", describe(&out));
    let last = revoke(&a, &admin, valid.last().unwrap());
    assert_eq!(last, first + seqs.len() as u64, "the next number, no gap");

    // The device syncs from B (signed deltas, applied in a chain the
    // client checks) and sees every cancellation, those made through A
    // included.
    let out = field_client(&device, &["sync"]).unwrap();
    assert!(out.status.success(), "sync: {}", describe(&out));
    for s in &valid {
        let v = verify_text(&device, s["qr_text"].as_str().unwrap());
        assert_eq!(v["verdict"], "invalid", "{} through B: {v}", s["number"]);
        assert_eq!(v["reason"], "revoked", "{v}");
    }

    // A key rotation made through A's data directory; its key files are
    // handed to B as an operator would. Both serve the new key.
    let printed = server_admin(&a_dir, &["rotate-key"]).unwrap();
    let kid = printed
        .lines()
        .find_map(|l| l.strip_prefix("signing key: "))
        .unwrap_or_else(|| panic!("no new kid in {printed:?}"))
        .trim()
        .to_string();
    copy_dir(&a_dir, &b_dir);
    let root = root_key(&a_dir);
    for server in [&a, &b] {
        let list = TrustList::verify(&trust_list(server), &root).unwrap();
        assert!(
            list.keys.iter().any(|k| k.kid().to_hex() == kid),
            "{} serves a trust list without the new key {kid}",
            server.url
        );
    }
}
