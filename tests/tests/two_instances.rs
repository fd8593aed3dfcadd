//! Two `verifier-server` processes on one PostgreSQL database, each with
//! its own data directory holding the same key files: status changes made
//! through both at once get unique, gap-free list sequence numbers, one
//! chain of signed deltas (checked with `shared::status` directly, and by
//! a field device syncing from either); the same check-log batch uploaded
//! to both is stored once; a key rotation made through either is used by
//! both. Skipped (with a printed line) unless `LNEC_TEST_POSTGRES` names a
//! PostgreSQL server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use shared::api::{CertificateView, EnrollResponse, IngestResponse};
use shared::checklog::{self, ChainHead, Check, Event};
use shared::cose::Sign1;
use shared::crypto::{Alg, PublicKey, SigningKey};
use shared::qrtext::{self, Kind};
use shared::status::{Status, StatusCache};
use shared::trust::{SignedStatus, StatusUpdate, TrustList};
use shared::verify::{Verdict, MAX_CERTIFICATE_LEN};
use testkit::engine::POSTGRES_ENV;
use testkit::{
    agent, describe, field_client, json_lines, server_admin, server_admin_on_database, ChildServer,
    Engine,
};

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

/// `GET path` without a token: the status and the body's bytes.
fn get_public(server: &ChildServer, path: &str) -> (u16, Vec<u8>) {
    let mut r = agent().get(format!("{}{path}", server.url)).call().unwrap();
    (r.status().as_u16(), r.body_mut().read_to_vec().unwrap())
}

/// `GET path` with a bearer token, answered 200 with JSON.
fn get_json(server: &ChildServer, token: &str, path: &str) -> Value {
    let mut r = agent()
        .get(format!("{}{path}", server.url))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    let body = r.body_mut().read_to_string().unwrap();
    assert_eq!(r.status(), 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The certificate view of a demo sample, read through `server`.
fn certificate(server: &ChildServer, admin: &str, sample: &Value) -> CertificateView {
    serde_json::from_value(get_json(
        server,
        admin,
        &format!(
            "/api/v1/certificates/{}/{}",
            sample["cert_type"].as_str().unwrap(),
            sample["number"].as_str().unwrap()
        ),
    ))
    .unwrap()
}

/// The issuer key id a certificate QR text is signed with, hex.
fn signer_kid(qr: &str) -> String {
    let (kind, envelope) = qrtext::decode(qr).unwrap();
    assert_eq!(kind, Kind::Certificate);
    Sign1::parse(&envelope, MAX_CERTIFICATE_LEN)
        .unwrap()
        .kid()
        .expect("a kid in the certificate")
        .to_hex()
}

/// Checks the status-list delta chain both instances publish, with
/// `shared::status` directly: `before` is a signed snapshot at `s0`,
/// `changed` maps each sequence after it to the status index that step
/// revoked, up to the current sequence `last`. From every sequence in
/// `s0..last` both instances answer the same signed bytes: a delta, signed
/// by a listed issuer key, from exactly that sequence to `last`, holding
/// exactly the revocations of the steps after it; applying the delta from
/// `s0` to the snapshot gives the current snapshot both serve.
fn check_delta_chain(
    servers: [&ChildServer; 2],
    trust: &TrustList,
    before: &[u8],
    changed: &BTreeMap<u64, u32>,
    last: u64,
) {
    let snapshot = |bytes: &[u8]| match SignedStatus::verify(bytes, trust).unwrap().update {
        StatusUpdate::Snapshot(s) => s,
        StatusUpdate::Delta(_) => panic!("a delta where a snapshot belongs"),
    };
    let s0 = snapshot(before).seq;
    // Contiguous: one step per change, starting right after the snapshot.
    let steps: Vec<u64> = changed.keys().copied().collect();
    assert_eq!(
        steps,
        (s0 + 1..=last).collect::<Vec<_>>(),
        "contiguous steps"
    );

    let (status, current) = get_public(servers[0], "/api/v1/status-list");
    assert_eq!(status, 200);
    assert_eq!(
        get_public(servers[1], "/api/v1/status-list"),
        (200, current.clone()),
        "both instances serve the same signed snapshot"
    );
    let current = snapshot(&current);
    assert_eq!(current.seq, last);

    for since in s0..last {
        let path = format!("/api/v1/status-list/deltas?since={since}");
        let (status, bytes) = get_public(servers[0], &path);
        assert_eq!(status, 200, "delta since {since}");
        assert_eq!(
            get_public(servers[1], &path),
            (200, bytes.clone()),
            "both instances sign the same delta since {since}"
        );
        let delta = match SignedStatus::verify(&bytes, trust).unwrap().update {
            StatusUpdate::Delta(d) => d,
            StatusUpdate::Snapshot(_) => panic!("a snapshot where the delta since {since} belongs"),
        };
        assert_eq!((delta.from_seq, delta.to_seq), (since, last));
        let mut expected: Vec<(u32, Status)> = changed
            .range(since + 1..)
            .map(|(_, &index)| (index, Status::Revoked))
            .collect();
        expected.sort_unstable();
        assert_eq!(delta.changes, expected, "the changes after {since}");
        if since == s0 {
            let mut cache = StatusCache::from_snapshot(snapshot(before));
            cache.apply(&delta).unwrap();
            assert_eq!(cache.seq(), last);
            assert_eq!(
                cache.list(),
                &current.list,
                "snapshot + delta = the current snapshot"
            );
        }
    }
    for server in servers {
        let (status, _) = get_public(server, &format!("/api/v1/status-list/deltas?since={last}"));
        assert_eq!(status, 204, "nothing after the current sequence");
    }
}

/// Enrols a fresh device key through `server` (officer token).
fn enroll(server: &ChildServer, officer: &str, device: &SigningKey) -> i64 {
    let mut r = agent()
        .post(format!("{}/api/v1/devices", server.url))
        .header("Authorization", &format!("Bearer {officer}"))
        .send_json(json!({
            "alg": "EdDSA",
            "public_key": URL_SAFE_NO_PAD.encode(device.public_key().to_bytes()),
        }))
        .unwrap();
    let body = r.body_mut().read_to_string().unwrap();
    assert_eq!(r.status(), 201, "{body}");
    serde_json::from_str::<EnrollResponse>(&body)
        .unwrap()
        .device_id
}

/// Uploads a signed check-log batch through `server`.
fn upload(server: &ChildServer, officer: &str, batch: &[u8]) -> IngestResponse {
    let mut r = agent()
        .post(format!("{}/api/v1/verification-logs", server.url))
        .header("Authorization", &format!("Bearer {officer}"))
        .header("Content-Type", "application/cose")
        .send(batch)
        .unwrap();
    let body = r.body_mut().read_to_string().unwrap();
    assert_eq!(r.status(), 200, "upload through {}: {body}", server.url);
    serde_json::from_str(&body).unwrap()
}

/// The same check-log batch uploaded through both instances at once, then
/// again through each: stored once, every record answered either accepted
/// (by exactly one upload) or as a duplicate.
fn same_batch_through_both(
    a: &ChildServer,
    b: &ChildServer,
    officer: &str,
    admin: &str,
    texts: &[&str],
) {
    let device = SigningKey::from_secret_bytes(Alg::EdDSA, &[42; 32]).unwrap();
    let device_id = enroll(b, officer, &device);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut head = ChainHead::default();
    let records: Vec<_> = (0..40)
        .map(|i| {
            let (sealed, next) = head.append(
                now + i as i64,
                Event::Check(Check {
                    verdict: Verdict::Valid,
                    reason: None,
                    scanned: Some(texts[i % texts.len()].to_string()),
                    cert: None,
                    status_seq: None,
                    trust_seq: None,
                    warnings: Vec::new(),
                    data_age: Some(60),
                }),
            );
            head = next;
            sealed
        })
        .collect();
    let refs: Vec<&[u8]> = records.iter().map(|r| r.bytes.as_slice()).collect();
    let batch = checklog::sign_batch(&refs, &device);
    let n = records.len() as u64;

    let answers: Vec<IngestResponse> = std::thread::scope(|scope| {
        let handles: Vec<_> = [a, b]
            .into_iter()
            .map(|server| {
                let batch = &batch;
                scope.spawn(move || upload(server, officer, batch))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for answer in &answers {
        assert_eq!(answer.accepted + answer.duplicates, n, "{answer:?}");
        assert_eq!(answer.next_seq, n, "{answer:?}");
        assert_eq!(answer.head, hex_of(&head.head), "{answer:?}");
    }
    assert_eq!(
        answers.iter().map(|a| a.accepted).sum::<u64>(),
        n,
        "each record accepted once: {answers:?}"
    );
    for server in [a, b] {
        let again = upload(server, officer, &batch);
        assert_eq!((again.accepted, again.duplicates), (0, n), "{again:?}");
    }
    for server in [a, b] {
        let page = get_json(
            server,
            admin,
            &format!("/api/v1/verification-logs?device_id={device_id}&limit=1000"),
        );
        let seqs: Vec<u64> = page["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(
            seqs,
            (0..n).collect::<Vec<_>>(),
            "stored once, through {}",
            server.url
        );
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

    // The same check-log batch through both instances is stored once.
    let texts: Vec<&str> = valid
        .iter()
        .map(|s| s["qr_text"].as_str().unwrap())
        .collect();
    same_batch_through_both(&a, &b, &officer, &admin, &texts);

    // The signed snapshot before the cancellations, and the status index
    // of each certificate about to be cancelled.
    let (status, before) = get_public(&b, "/api/v1/status-list");
    assert_eq!(status, 200);
    let indices: Vec<u32> = valid
        .iter()
        .map(|s| certificate(&a, &admin, s).status_index)
        .collect();

    // Cancellations through both instances at once: every one gets its own
    // status-list sequence number, and together they leave no gap.
    let mut changed: BTreeMap<u64, u32> = BTreeMap::new();
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
    for (seq, &index) in seqs.iter().zip(&indices) {
        assert!(
            changed.insert(*seq, index).is_none(),
            "sequence {seq} twice"
        );
    }
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
    changed.insert(last, *indices.last().unwrap());

    // The chain of signed deltas, checked directly: the same bytes from
    // both instances, contiguous, each delta exactly the later steps.
    let root = root_key(&a_dir);
    let trust = TrustList::verify(&trust_list(&a), &root).unwrap();
    check_delta_chain([&a, &b], &trust, &before, &changed, last);

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
    assert_eq!(root_key(&a_dir), root, "a rotation keeps the root");
    for server in [&a, &b] {
        let list = TrustList::verify(&trust_list(server), &root).unwrap();
        assert!(
            list.keys.iter().any(|k| k.kid().to_hex() == kid),
            "{} serves a trust list without the new key {kid}",
            server.url
        );
    }

    // A second rotation, made through B's data directory on the shared
    // database; its key files are handed to A. Both list the new key, and
    // a certificate issued through A afterwards is signed with it.
    let printed = server_admin_on_database(&b_dir, &database, &["rotate-key"]).unwrap();
    let kid_b = printed
        .lines()
        .find_map(|l| l.strip_prefix("signing key: "))
        .unwrap_or_else(|| panic!("no new kid in {printed:?}"))
        .trim()
        .to_string();
    assert_ne!(kid_b, kid);
    copy_dir(&b_dir, &a_dir);
    for server in [&a, &b] {
        let list = TrustList::verify(&trust_list(server), &root).unwrap();
        assert!(
            list.keys.iter().any(|k| k.kid().to_hex() == kid_b),
            "{} serves a trust list without the key {kid_b} rotated in through B",
            server.url
        );
    }
    let record = testkit::records::values(0, 1).remove(0);
    let mut r = agent()
        .post(format!("{}/api/v1/records", a.url))
        .header("Authorization", &format!("Bearer {admin}"))
        .send_json(json!({ "records": [record] }))
        .unwrap();
    let body = r.body_mut().read_to_string().unwrap();
    assert_eq!(r.status(), 200, "{body}");
    for server in [&a, &b] {
        let view = certificate(server, &admin, &record);
        assert_eq!(
            signer_kid(
                view.qr
                    .as_deref()
                    .expect("the administrator receives the QR text")
            ),
            kid_b,
            "{} answers a certificate not signed with the key rotated in through B",
            server.url
        );
    }
}
