//! Issue 14 item 4: checks of another province's certificates are
//! forwarded, signed and idempotent, to the issuing province's server and
//! count there, never at the sender. Two servers in process: the receiver
//! (Liaoning, 210000, which issued the certificates) on a 127.0.0.1 socket,
//! and a sender configured as Jilin (220000) whose officer checks them.

use axum::http::{Method, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use shared::checklog::{self, ChainHead, Check, Event, Sealed};
use shared::crypto::{Alg, SigningKey};
use shared::forward::{Batch, Entry, ProvinceCode};
use shared::verify::Verdict;
use testkit::{assert_problem_type, SocketServer, TestServer};
use verifier_server::auth::Role;
use verifier_server::forwarder;
use verifier_server::service::forward::backoff;
use verifier_server::service::peers::{Peer, PeerProvinces};
use verifier_server::store::ForwardBatchRow;

const SHENYANG: u32 = 210100;
const YEAR: i32 = 2026;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_secret_bytes(Alg::EdDSA, &[seed; 32]).unwrap()
}

fn province(code: u32) -> ProvinceCode {
    ProvinceCode::new(code).unwrap()
}

fn scan(text: &str) -> Event {
    Event::Check(Check {
        verdict: Verdict::Valid,
        reason: None,
        scanned: Some(text.to_string()),
        cert: None,
        status_seq: None,
        trust_seq: None,
        warnings: Vec::new(),
        data_age: Some(60),
    })
}

/// Jilin's view: Liaoning at `url` with the receiver's root key.
fn jilin_peers(receiver: &TestServer, url: &str) -> PeerProvinces {
    PeerProvinces::new(
        province(220_000),
        [Peer {
            province: ProvinceCode::LIAONING,
            name: "辽宁省".into(),
            root_keys: vec![receiver.state.root_public_key()],
            base_url: url.into(),
        }],
    )
    .unwrap()
}

/// Liaoning's view: Jilin with the sender's root key.
fn liaoning_peers(sender: &TestServer) -> PeerProvinces {
    PeerProvinces::new(
        ProvinceCode::LIAONING,
        [Peer {
            province: province(220_000),
            name: "吉林省".into(),
            root_keys: vec![sender.state.root_public_key()],
            base_url: "http://127.0.0.1:1".into(),
        }],
    )
    .unwrap()
}

/// Liaoning's certificates' static QR texts (Shenyang's, not the
/// holder-bound type), read by the receiver's administrator.
async fn liaoning_texts(receiver: &TestServer) -> Vec<String> {
    let records = testkit::records::all_samples();
    let answer = receiver.push(&receiver.admin, &records).await;
    assert_eq!(answer["summary"]["issued"], 9, "{answer}");
    let mut texts = Vec::new();
    for r in records
        .iter()
        .filter(|r| r.issuer_division.as_deref() == Some("210100"))
    {
        let (t, n) = (r.cert_type.clone().unwrap(), r.number.clone().unwrap());
        if t == "QC" {
            continue;
        }
        let v = receiver
            .get_json(&format!("/api/v1/certificates/{t}/{n}"), &receiver.admin)
            .await;
        texts.push(v["qr"].as_str().unwrap().to_string());
    }
    texts
}

/// A Jilin officer's device on the sender.
struct Device {
    key: SigningKey,
    head: ChainHead,
    token: String,
}

impl Device {
    async fn enroll(sender: &TestServer, seed: u8) -> Device {
        let token = sender.token(Role::Officer, Some(210_102), "jilin officer");
        let key = key(seed);
        let (s, _, b) = sender
            .post_json(
                "/api/v1/devices",
                Some(&token),
                &json!({"alg": "EdDSA",
                        "public_key": URL_SAFE_NO_PAD.encode(key.public_key().to_bytes()),
                        "label": "patrol"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
        Device {
            key,
            head: ChainHead::default(),
            token,
        }
    }

    /// Checks of `texts` at `at`, uploaded; the upload must succeed.
    async fn check(&mut self, sender: &TestServer, texts: &[String], at: i64) -> Vec<Sealed> {
        let records: Vec<Sealed> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let (sealed, next) = self.head.append(at + i as i64, scan(t));
                self.head = next;
                sealed
            })
            .collect();
        let refs: Vec<&[u8]> = records.iter().map(|s| s.bytes.as_slice()).collect();
        let (s, _, b) = sender
            .call(
                Method::POST,
                "/api/v1/verification-logs",
                Some(&self.token),
                &[("content-type", "application/cose")],
                Some(checklog::sign_batch(&refs, &self.key)),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        records
    }
}

/// Moves both servers' clocks (provinces' servers keep the same time).
fn advance(servers: &[&TestServer], seconds: i64) {
    for s in servers {
        s.advance(seconds);
    }
}

async fn evaluation(env: &TestServer) -> Value {
    env.get_json(&format!("/api/v1/evaluation?year={YEAR}"), &env.admin)
        .await
}

fn unit(e: &Value, code: u32) -> Value {
    if code == 210_000 {
        return e["province"].clone();
    }
    e["cities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["division"] == code)
        .unwrap()
        .clone()
}

/// (activation numerator, provable checks, anomalies listed).
fn counts(e: &Value, code: u32) -> (u64, u64, usize) {
    let c = unit(e, code);
    (
        c["activation"]["numerator"].as_u64().unwrap(),
        c["activation"]["provable_checks"].as_u64().unwrap(),
        c["anomalies"].as_array().unwrap().len(),
    )
}

async fn pass(sender: &TestServer) -> forwarder::Pass {
    let state = sender.state.clone();
    tokio::task::spawn_blocking(move || forwarder::run_once(&state, &forwarder::agent()))
        .await
        .unwrap()
        .unwrap()
}

fn batches(env: &TestServer) -> Vec<ForwardBatchRow> {
    testkit::blocking(|| {
        let mut tx = env.state.store().begin().unwrap();
        tx.forward_batches().unwrap()
    })
}

async fn post_batch(receiver: &TestServer, bytes: Vec<u8>) -> testkit::Reply {
    receiver
        .call(
            Method::POST,
            "/api/v1/peer/check-logs",
            None,
            &[("content-type", "application/cose")],
            Some(bytes),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_check_counts_once_at_the_issuer_and_never_at_the_sender() {
    let receiver = TestServer::new();
    let sender = TestServer::new();
    let socket = SocketServer::start(receiver.state.clone()).await;
    sender.state.set_peers(jilin_peers(&receiver, &socket.url));
    receiver.state.set_peers(liaoning_peers(&sender));
    let texts = liaoning_texts(&receiver).await;
    assert_eq!(texts.len(), 4);

    let sender_before = evaluation(&sender).await;
    let receiver_before = evaluation(&receiver).await;
    advance(&[&sender, &receiver], 3_600);
    let mut device = Device::enroll(&sender, 1).await;
    let at = sender.now();
    device.check(&sender, &texts, at).await;

    // (a) The sender stores the records but does not evaluate them: no
    // provable check, no anomaly (their signature cannot verify there).
    let sender_after = evaluation(&sender).await;
    for code in [210_000, SHENYANG] {
        assert_eq!(
            counts(&sender_after, code),
            counts(&sender_before, code),
            "{code}"
        );
    }

    // (b) One pass makes one signed batch and delivers it.
    let p = pass(&sender).await;
    assert_eq!((p.made, p.delivered, p.failed), (1, 1, 0), "{p:?}");
    let sent = batches(&sender);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].records, 4);
    assert!(sent[0].sent_at.is_some());
    // Nothing left to do.
    assert_eq!(pass(&sender).await, forwarder::Pass::default());

    // The receiver counts them: a static QR checked by a device of another
    // province is evidence Shenyang cannot produce alone.
    let receiver_after = evaluation(&receiver).await;
    let (n0, c0, _) = counts(&receiver_before, SHENYANG);
    let (n1, c1, a1) = counts(&receiver_after, SHENYANG);
    assert_eq!((n1 - n0, c1 - c0), (4, 4), "{receiver_after}");
    assert_eq!(a1, 0, "{}", unit(&receiver_after, SHENYANG)["anomalies"]);

    // The same batch sent again is stored once.
    let (s, _, b) = post_batch(&receiver, sent[0].bytes.clone()).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let again: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(again["batch"], sent[0].id.as_str());
    assert_eq!(
        (&again["accepted"], &again["duplicates"]),
        (&json!(0), &json!(4))
    );
    // So is the same record in a new batch (another id).
    let mut copy = shared::forward::parse(&sent[0].bytes).unwrap().batch;
    copy.id = [9; 16];
    copy.entries.truncate(1);
    let (s, _, b) = post_batch(&receiver, copy.sign(&sender.state.keys().root)).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!((&v["accepted"], &v["duplicates"]), (&json!(0), &json!(1)));
    assert_eq!(
        counts(&evaluation(&receiver).await, SHENYANG),
        counts(&receiver_after, SHENYANG)
    );
    // The receipt is audited.
    let audit = receiver
        .get_json("/api/v1/audit?limit=500", &receiver.admin)
        .await;
    let received = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "POST /api/v1/peer/check-logs")
        .count();
    assert_eq!(received, 3, "{audit}");
    socket.shutdown().await.unwrap();
}

#[tokio::test]
async fn forged_and_misaddressed_batches_are_refused_with_their_reason() {
    let receiver = TestServer::new();
    let sender = TestServer::new();
    receiver.state.set_peers(liaoning_peers(&sender));
    let texts = liaoning_texts(&receiver).await;
    let (record, _) = ChainHead::default().append(receiver.now(), scan(&texts[0]));
    let batch = |from: u32, to: u32, record: Vec<u8>| Batch {
        id: [1; 16],
        from: province(from),
        to: province(to),
        created: receiver.now(),
        entries: vec![Entry {
            device: 1,
            division: 220_100,
            not_before: receiver.now() - 3_600,
            received: receiver.now(),
            record,
        }],
    };
    let root = sender.state.keys().root.clone();
    let good = batch(220_000, 210_000, record.bytes.clone());
    let bad_text = ChainHead::default()
        .append(receiver.now(), scan("LC1:NOTACODE"))
        .0
        .bytes;
    let mut forged = good.sign(&key(7));
    // The forger names the sender's root kid; the signature is its own.
    let honest = good.sign(&root);
    let at = honest.windows(8).position(|w| w == root.kid().0).unwrap();
    let fake_at = forged.windows(8).position(|w| w == key(7).kid().0).unwrap();
    forged[fake_at..fake_at + 8].copy_from_slice(&honest[at..at + 8]);
    let cases: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (
            batch(230_000, 210_000, record.bytes.clone()).sign(&root),
            StatusCode::FORBIDDEN,
            "unknown-province",
        ),
        (good.sign(&key(7)), StatusCode::FORBIDDEN, "wrong-key"),
        (forged, StatusCode::FORBIDDEN, "bad-signature"),
        (
            batch(220_000, 230_000, record.bytes.clone()).sign(&root),
            StatusCode::UNPROCESSABLE_ENTITY,
            "wrong-province",
        ),
        (
            batch(220_000, 210_000, bad_text).sign(&root),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-our-certificate",
        ),
        (
            batch(220_000, 210_000, vec![0xa0]).sign(&root),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-record",
        ),
        (b"not cose".to_vec(), StatusCode::BAD_REQUEST, "bad-request"),
    ];
    let before = evaluation(&receiver).await;
    for (bytes, status, kind) in cases {
        let (s, h, b) = post_batch(&receiver, bytes).await;
        assert_problem_type(s, &h, &b, status, kind);
    }
    assert_eq!(
        counts(&evaluation(&receiver).await, SHENYANG),
        counts(&before, SHENYANG)
    );
    // The honest batch is accepted.
    let (s, _, b) = post_batch(&receiver, honest).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_peer_is_retried_with_back_off_and_uploads_go_on() {
    let receiver = TestServer::new();
    let sender = TestServer::new();
    // Nothing listens on port 1.
    sender
        .state
        .set_peers(jilin_peers(&receiver, "http://127.0.0.1:1"));
    receiver.state.set_peers(liaoning_peers(&sender));
    let texts = liaoning_texts(&receiver).await;
    advance(&[&sender, &receiver], 3_600);
    let mut device = Device::enroll(&sender, 2).await;
    device.check(&sender, &texts[..2], sender.now()).await;

    let p = pass(&sender).await;
    assert_eq!((p.made, p.delivered, p.failed), (1, 0, 1), "{p:?}");
    let b = batches(&sender)[0].clone();
    assert_eq!(b.attempts, 1);
    assert_eq!(b.next_attempt_at, sender.now() + backoff(1));
    assert!(b.last_error.is_some());
    // Uploads go on while the peer is down; a pass before the back-off
    // ends does not try the first batch again (only the new one, due now).
    device.check(&sender, &texts[2..3], sender.now()).await;
    let p = pass(&sender).await;
    assert_eq!((p.made, p.delivered, p.failed), (1, 0, 1), "{p:?}");
    assert_eq!(
        batches(&sender)
            .iter()
            .find(|x| x.id == b.id)
            .unwrap()
            .attempts,
        1
    );
    // After the back-off both batches are tried again; each waits twice
    // as long now.
    advance(&[&sender, &receiver], backoff(1));
    let p = pass(&sender).await;
    assert_eq!((p.delivered, p.failed), (0, 2), "{p:?}");
    let all = batches(&sender);
    assert_eq!(all.len(), 2);
    for x in &all {
        assert_eq!(x.attempts, 2);
        assert_eq!(x.next_attempt_at, sender.now() + backoff(2));
    }
    assert_eq!(backoff(2), 2 * backoff(1));

    // The peer comes back: everything is delivered with the ids made
    // before, and counted once.
    let socket = SocketServer::start(receiver.state.clone()).await;
    sender.state.set_peers(jilin_peers(&receiver, &socket.url));
    advance(&[&sender, &receiver], backoff(2));
    let p = pass(&sender).await;
    assert_eq!((p.made, p.delivered, p.failed), (0, 2, 0), "{p:?}");
    let (n, c, _) = counts(&evaluation(&receiver).await, SHENYANG);
    assert_eq!((n, c), (3, 3));
    socket.shutdown().await.unwrap();
}
