//! Running it for real (issue 17): token lifetimes and rotation, backup and
//! restore, retention. The real-binary tests (backup under write load,
//! purge killed mid-way) run `verifier-server` as a child process.

use axum::http::StatusCode;
use testkit::{assert_problem_type, get_from, TestServer};
use verifier_server::admin;
use verifier_server::auth::{self, Role};

const AUDIT: &str = "/api/v1/audit?after=0&limit=1";

fn new_token(s: &TestServer, role: Role) -> (String, i64) {
    let now = s.now();
    testkit::blocking(|| auth::create_token(s.state.store(), role, None, "ops test", now)).unwrap()
}

fn listed(s: &TestServer, id: i64) -> admin::TokenInfo {
    let now = s.now();
    testkit::blocking(|| admin::list_tokens(s.state.store(), now))
        .unwrap()
        .into_iter()
        .find(|t| t.id == id)
        .unwrap()
}

#[tokio::test]
async fn a_token_expires_after_its_role_lifetime_with_its_own_problem() {
    let s = TestServer::new();
    let (token, id) = new_token(&s, Role::Admin);
    assert_eq!(listed(&s, id).expires_at, s.now() + 8 * 3600);
    let (status, _, _) = get_from(&s.state, AUDIT, Some(&token)).await;
    assert_eq!(status, StatusCode::OK);

    s.clock.advance(8 * 3600 - 1);
    let (status, _, _) = get_from(&s.state, AUDIT, Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "still valid one second before");
    s.clock.advance(1);
    let (status, headers, body) = get_from(&s.state, AUDIT, Some(&token)).await;
    let p = assert_problem_type(
        status,
        &headers,
        &body,
        StatusCode::UNAUTHORIZED,
        "token-expired",
    );
    assert!(p["detail"].as_str().unwrap().contains("expired"), "{p}");
    assert!(headers[axum::http::header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    assert_eq!(listed(&s, id).state, "expired");

    // An unknown token is a different problem.
    let (status, headers, body) = get_from(&s.state, AUDIT, Some(&auth::generate_token())).await;
    assert_problem_type(
        status,
        &headers,
        &body,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );

    // The refusal is audited as an expired token.
    let (_, _, body) = get_from(&s.state, "/api/v1/audit?after=0&limit=500", Some(&s.admin)).await;
    let audit: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        audit.to_string().contains("token-expired: expired token"),
        "{audit}"
    );
}

#[tokio::test]
async fn default_lifetimes_per_role() {
    let s = TestServer::new();
    for (role, days) in [
        (Role::Holder, 30),
        (Role::Auditor, 90),
        (Role::Agency, 90),
        (Role::Officer, 365),
    ] {
        assert_eq!(role.default_lifetime(), days * 86_400, "{role:?}");
    }
    let (_, id) = new_token(&s, Role::Auditor);
    assert_eq!(listed(&s, id).expires_at, s.now() + 90 * 86_400);
}

#[tokio::test]
async fn rotation_overlaps_then_the_old_secret_expires() {
    let s = TestServer::new();
    let (old, id) = new_token(&s, Role::Admin);
    let now = s.now();
    let rotated =
        testkit::blocking(|| admin::rotate_token(s.state.store(), id, 600, Some(86_400), now))
            .unwrap();
    assert_eq!(rotated.info.id, id, "same token id: devices and audit stay");
    assert_eq!(rotated.info.expires_at, now + 86_400);
    assert_eq!(rotated.info.previous_until, Some(now + 600));
    assert_ne!(rotated.token, old);
    for t in [&old, &rotated.token] {
        let (status, _, _) = get_from(&s.state, AUDIT, Some(t)).await;
        assert_eq!(status, StatusCode::OK, "both work during the overlap");
    }
    s.clock.advance(600);
    let (status, headers, body) = get_from(&s.state, AUDIT, Some(&old)).await;
    assert_problem_type(
        status,
        &headers,
        &body,
        StatusCode::UNAUTHORIZED,
        "token-expired",
    );
    let (status, _, _) = get_from(&s.state, AUDIT, Some(&rotated.token)).await;
    assert_eq!(status, StatusCode::OK);

    // A revoked token cannot be rotated back to life; an unknown id neither.
    let now = s.now();
    testkit::blocking(|| admin::revoke_token(s.state.store(), id, now)).unwrap();
    let err = testkit::blocking(|| admin::rotate_token(s.state.store(), id, 0, None, now))
        .unwrap_err()
        .to_string();
    assert!(err.contains("revoked"), "{err}");
    assert!(
        testkit::blocking(|| admin::rotate_token(s.state.store(), 9_999, 0, None, now)).is_err()
    );
}

#[tokio::test]
async fn last_use_is_recorded_at_most_once_a_minute() {
    let s = TestServer::new();
    let (token, id) = new_token(&s, Role::Admin);
    assert_eq!(listed(&s, id).last_used_at, None);
    let first = s.now();
    get_from(&s.state, AUDIT, Some(&token)).await;
    assert_eq!(listed(&s, id).last_used_at, Some(first));
    s.clock.advance(59);
    get_from(&s.state, AUDIT, Some(&token)).await;
    assert_eq!(listed(&s, id).last_used_at, Some(first), "not rewritten");
    s.clock.advance(1);
    get_from(&s.state, AUDIT, Some(&token)).await;
    assert_eq!(listed(&s, id).last_used_at, Some(first + 60));
}

// ---------------------------------------------------------------------------
// Backup and restore (SQLite: the online backup API; PostgreSQL uses
// pg_dump, see docs/operations.md).

mod backup {
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use serde_json::{json, Value};
    use shared::domain::CertType;
    use testkit::{records, ChildServer};
    use verifier_server::maintenance;
    use verifier_server::Config;

    const BIN: &str = env!("CARGO_BIN_EXE_verifier-server");

    fn sqlite_only() -> bool {
        if testkit::engine() != testkit::Engine::Sqlite {
            println!("skipped: the SQLite backup runs on SQLite; PostgreSQL uses pg_dump");
            return false;
        }
        true
    }

    fn admin(data: &Path, args: &[&str]) -> anyhow::Result<String> {
        testkit::server_admin_with(Path::new(BIN), data, args)
    }

    fn push(agent: &ureq::Agent, url: &str, token: &str, records: &[Value]) -> bool {
        let body = serde_json::to_vec(&json!({ "records": records })).unwrap();
        agent
            .post(format!("{url}/api/v1/records"))
            .header("Authorization", format!("Bearer {token}"))
            .content_type("application/json")
            .send(&body[..])
            .is_ok_and(|r| r.status().as_u16() == 200)
    }

    fn status_seq(data: &Path) -> u64 {
        let state = testkit::open_at(data, Config::default());
        testkit::blocking(|| {
            let mut tx = state.store().begin().unwrap();
            tx.status_state().unwrap().unwrap().list.seq
        })
    }

    #[test]
    fn a_backup_under_write_load_restores_every_acknowledged_write() {
        if !sqlite_only() {
            return;
        }
        const BATCH: usize = 20;
        let dir = testkit::tempdir();
        let data = dir.path().join("data");
        let server = ChildServer::start(Path::new(BIN), "serve", &data, &["--no-purge"]).unwrap();
        let token = admin(
            &data,
            &["create-token", "--role", "agency", "--division", "210100"],
        )
        .unwrap();

        // A writer pushes batches and notes when each was acknowledged.
        let acked: Arc<Mutex<Vec<(Instant, usize)>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (acked, stop, url, token) = (
                acked.clone(),
                stop.clone(),
                server.url.clone(),
                token.clone(),
            );
            std::thread::spawn(move || {
                let agent = testkit::agent();
                let mut b = 0;
                while !stop.load(Ordering::SeqCst) && b < 200 {
                    if push(
                        &agent,
                        &url,
                        &token,
                        &records::values(b * BATCH, (b + 1) * BATCH),
                    ) {
                        acked.lock().unwrap().push((Instant::now(), b));
                    }
                    b += 1;
                }
            })
        };
        while acked.lock().unwrap().len() < 5 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let file = dir.path().join("backup.db");
        let started = Instant::now();
        let out = admin(&data, &["backup", "--to", file.to_str().unwrap()]).unwrap();
        assert!(out.contains("backed up"), "{out}");
        std::thread::sleep(std::time::Duration::from_millis(200));
        stop.store(true, Ordering::SeqCst);
        writer.join().unwrap();
        let before: Vec<usize> = acked
            .lock()
            .unwrap()
            .iter()
            .filter(|(at, _)| *at < started)
            .map(|(_, b)| *b)
            .collect();
        assert!(before.len() >= 5);
        assert!(
            acked.lock().unwrap().len() > before.len(),
            "writes went on during the backup"
        );
        drop(server);

        // Restore into a new directory and check every acknowledged write.
        let restored = dir.path().join("restored");
        let out = admin(&restored, &["restore", "--from", file.to_str().unwrap()]).unwrap();
        assert!(out.contains("with no gap"), "{out}");
        let state = testkit::open_at(&restored, Config::default());
        testkit::blocking(|| {
            let mut tx = state.store().begin().unwrap();
            for b in &before {
                for i in b * BATCH..(b + 1) * BATCH {
                    let r = records::record(i);
                    let t = CertType::from_code(r.cert_type.as_deref().unwrap()).unwrap();
                    assert!(
                        tx.certificate(t, &records::number(&r)).unwrap().is_some(),
                        "record {i} of batch {b} was acknowledged before the backup"
                    );
                }
            }
        });
        drop(state);
        let seq = status_seq(&restored);

        // A server on the copy: the same token works, and the list goes on
        // from the copy's sequence without a gap.
        let server =
            ChildServer::start(Path::new(BIN), "serve", &restored, &["--no-purge"]).unwrap();
        let agent = testkit::agent();
        assert!(push(
            &agent,
            &server.url,
            &token,
            &records::values(9_000, 9_005)
        ));
        // A status change makes the next step of the list.
        let r = records::record(9_000);
        let uri = format!(
            "{}/api/v1/certificates/{}/{}/status",
            server.url,
            r.cert_type.as_deref().unwrap(),
            records::number(&r)
        );
        let answer = agent
            .post(uri)
            .header("Authorization", format!("Bearer {token}"))
            .content_type("application/json")
            .send(&br#"{"status":"suspended"}"#[..])
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200);
        drop(server);
        assert_eq!(
            status_seq(&restored),
            seq + 1,
            "the list goes on from the copy's"
        );
        let state = testkit::open_at(&restored, Config::default());
        let v = testkit::blocking(|| maintenance::verify(state.store(), &restored)).unwrap();
        assert!(v.status_seq > seq && v.certificates > 0, "{v:?}");
    }

    #[test]
    fn restore_refuses_corrupt_truncated_newer_and_occupied() {
        if !sqlite_only() {
            return;
        }
        let dir = testkit::tempdir();
        let data = dir.path().join("data");
        {
            let s = testkit::open_at(&data, Config::default());
            let token = testkit::token(
                &s,
                verifier_server::auth::Role::Admin,
                None,
                "a",
                testkit::T0,
            );
            drop((s, token));
        }
        let good = dir.path().join("good.db");
        admin(&data, &["backup", "--to", good.to_str().unwrap()]).unwrap();
        assert!(admin(&data, &["backup", "--to", good.to_str().unwrap()])
            .unwrap_err()
            .to_string()
            .contains("exists already"));
        let keys = maintenance::keys_beside(&good);
        let bytes = std::fs::read(&good).unwrap();

        let variant = |name: &str, content: &[u8]| {
            let f = dir.path().join(name);
            std::fs::write(&f, content).unwrap();
            f
        };
        let truncated = variant("truncated.db", &bytes[..bytes.len() / 2]);
        let mut flipped = bytes.clone();
        // The header of every b-tree page after the first.
        for page in (4096..flipped.len()).step_by(4096) {
            for b in &mut flipped[page..page + 8] {
                *b ^= 0x5a;
            }
        }
        let corrupt = variant("corrupt.db", &flipped);
        let newer = variant("newer.db", &bytes);
        {
            let c = rusqlite::Connection::open(&newer).unwrap();
            c.execute("UPDATE schema_version SET version = version + 1", [])
                .unwrap();
        }
        let not_db = variant("text.db", b"hello, this is not a database at all");

        for (file, expect) in [
            (&truncated, ""),
            (&corrupt, ""),
            (&newer, "newer than this program"),
            (&not_db, ""),
        ] {
            let target = dir.path().join(format!(
                "into-{}",
                file.file_name().unwrap().to_str().unwrap()
            ));
            let err = admin(
                &target,
                &[
                    "restore",
                    "--from",
                    file.to_str().unwrap(),
                    "--keys",
                    keys.to_str().unwrap(),
                ],
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains(expect), "{file:?}: {err}");
            assert!(
                !target.join("verifier.db").exists() && !target.join("keys").exists(),
                "nothing half-applied for {file:?}"
            );
        }
        // A directory that holds a database is refused.
        let err = admin(&data, &["restore", "--from", good.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("already holds a database"), "{err}");
        // The good copy restores.
        let target = dir.path().join("fresh");
        admin(&target, &["restore", "--from", good.to_str().unwrap()]).unwrap();
        assert!(target.join("verifier.db").is_file());
    }
}

// ---------------------------------------------------------------------------
// Retention.

mod retention {
    use testkit::{TestServer, T0};
    use verifier_server::maintenance::{self, retention_cutoff};

    const YEAR: i64 = 365 * 86_400;

    #[test]
    fn the_cutoff_keeps_the_evaluation_year_plus_three() {
        // 2026-11-30 12:00 CST keeps 2023-01-01 00:00 CST on.
        let now = 1_796_011_200;
        assert_eq!(shared::cst::datetime_text(now), "2026-11-30 12:00:00");
        assert_eq!(
            shared::cst::datetime_text(retention_cutoff(now, 3)),
            "2023-01-01 00:00:00"
        );
        assert_eq!(
            shared::cst::datetime_text(retention_cutoff(now, 0)),
            "2026-01-01 00:00:00"
        );
    }

    fn evaluation_json(s: &TestServer, year: i32) -> String {
        testkit::blocking(|| {
            let e = verifier_server::admin::evaluate(s.state.store(), year, s.now()).unwrap();
            serde_json::to_string(&e).unwrap()
        })
    }

    fn log_rows(s: &TestServer) -> usize {
        testkit::blocking(|| {
            let mut tx = s.state.store().begin().unwrap();
            let devices = tx.devices(None).unwrap();
            devices
                .iter()
                .map(|d| tx.log_records(d.id, None, 100_000).unwrap().len())
                .sum()
        })
    }

    #[test]
    fn a_purge_killed_mid_way_resumes_and_keeps_results_and_chains() {
        let s = TestServer::new();
        let dir = s.data().to_path_buf();
        testkit::blocking(|| verifier_server::demo::prepare(&dir, &s.state)).unwrap();
        let year = shared::cst::year(T0);
        let stored = log_rows(&s);
        assert!(stored > 100, "the demo seeded check logs: {stored}");
        let before = evaluation_json(&s, year);
        let heads: Vec<_> = testkit::blocking(|| {
            let mut tx = s.state.store().begin().unwrap();
            tx.devices(None).unwrap()
        })
        .into_iter()
        .map(|d| (d.id, d.next_seq, d.head))
        .collect();

        // Within the period nothing goes.
        let r = testkit::blocking(|| maintenance::purge(s.state.store(), 3, T0 + YEAR, |_| {}))
            .unwrap();
        assert_eq!((r.records, log_rows(&s)), (0, stored));

        // Four years on: the demo year is past the period. The first run
        // is killed after its first committed batch (a panic unwinds the
        // next transaction, which is rolled back like a killed process's).
        s.clock.set(T0 + 4 * YEAR);
        let later = s.now();
        let killed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            testkit::blocking(|| {
                maintenance::purge(s.state.store(), 3, later, |_| panic!("killed"))
            })
        }));
        assert!(killed.is_err());
        let left = log_rows(&s);
        assert!(left < stored && left > 0, "part done: {left} of {stored}");
        // What is left still verifies: each chain links to its anchor.
        testkit::blocking(|| maintenance::verify(s.state.store(), &dir)).unwrap();

        let r =
            testkit::blocking(|| maintenance::purge(s.state.store(), 3, later, |_| {})).unwrap();
        assert_eq!(r.records as usize, left, "the second run finishes the work");
        assert_eq!(log_rows(&s), 0);
        let v = testkit::blocking(|| maintenance::verify(s.state.store(), &dir)).unwrap();
        assert_eq!(v.log_records, 0);
        assert_eq!(v.devices, heads.len());
        // Heads are untouched, so later uploads chain on as before.
        let after: Vec<_> = testkit::blocking(|| {
            let mut tx = s.state.store().begin().unwrap();
            tx.devices(None).unwrap()
        })
        .into_iter()
        .map(|d| (d.id, d.next_seq, d.head))
        .collect();
        assert_eq!(after, heads);
        // The year's evaluation is the one computed before the purge.
        let after = evaluation_json(&s, year);
        if let Some(i) = after.bytes().zip(before.bytes()).position(|(a, b)| a != b) {
            let at = |t: &str| {
                String::from_utf8_lossy(&t.as_bytes()[i.saturating_sub(80)..(i + 80).min(t.len())])
                    .into_owned()
            };
            panic!(
                "the stored evaluation differs:\n{}\n{}",
                at(&before),
                at(&after)
            );
        }
        assert_eq!(after.len(), before.len());
        // Nothing is left to purge; the run is audited.
        let r =
            testkit::blocking(|| maintenance::purge(s.state.store(), 3, later, |_| {})).unwrap();
        assert_eq!(r.records, 0);
    }

    #[test]
    fn records_cannot_be_deleted_outside_a_purge() {
        let s = TestServer::new();
        let dir = s.data().to_path_buf();
        testkit::blocking(|| verifier_server::demo::prepare(&dir, &s.state)).unwrap();
        if testkit::engine() == testkit::Engine::Sqlite {
            let c = rusqlite::Connection::open(dir.join("verifier.db")).unwrap();
            let err = c
                .execute("DELETE FROM verification_records", [])
                .unwrap_err()
                .to_string();
            assert!(err.contains("append-only"), "{err}");
            assert!(c.execute("DELETE FROM verification_batches", []).is_err());
        }
    }

    /// The other evidence of checks goes by the same cutoff, and a year
    /// that has only such evidence is evaluated and kept first.
    #[test]
    fn the_purge_takes_received_and_online_checks_too() {
        use verifier_server::store::{AppCheckRow, ApplicationRow, PeerCheckRow};
        let s = TestServer::new();
        let year = shared::cst::year(T0);
        let peer = PeerCheckRow {
            province: 220_000,
            device: 7,
            seq: 0,
            batch: "ab".repeat(16),
            division: 220_100,
            not_before: T0 - 86_400,
            sent_received_at: T0 + 30,
            received_at: T0 + 60,
            at: T0,
            scanned: Some("LC1:X".into()),
            srv_signature: false,
            srv_presentation: false,
            presented: false,
            srv_cert_type: None,
            srv_cert_number: None,
            srv_division: None,
            srv_reason: Some("unknown_kid".into()),
        };
        testkit::blocking(|| {
            let mut tx = s.state.store().begin().unwrap();
            let app = tx
                .insert_application(&ApplicationRow {
                    id: 0,
                    client_id: "platform".into(),
                    name: "平台".into(),
                    purpose: "核验".into(),
                    cert_types: vec!["QC".into()],
                    fields: vec!["name".into()],
                    callback_url: None,
                    identity_provider: false,
                    created_at: T0,
                    revoked_at: None,
                })
                .unwrap()
                .unwrap();
            tx.insert_app_check(&AppCheckRow {
                id: 0,
                application_id: app,
                at: T0 + 120,
                kind: "code".into(),
                signature: true,
                presented: true,
                presentation: true,
                cert_type: Some("QC".into()),
                number: Some("210102199001011234".into()),
                cert_division: Some(210100),
                reason: None,
            })
            .unwrap();
            assert!(tx
                .insert_peer_batch(220_000, &peer.batch, T0 + 60, b"batch")
                .unwrap());
            assert!(tx.insert_peer_check(&peer).unwrap());
            tx.commit().unwrap();
        });
        let before = evaluation_json(&s, year);

        // Within the period nothing goes.
        let r = testkit::blocking(|| maintenance::purge(s.state.store(), 3, T0 + YEAR, |_| {}))
            .unwrap();
        assert_eq!((r.peer_checks, r.app_checks), (0, 0));

        s.clock.set(T0 + 4 * YEAR);
        let later = s.now();
        let r =
            testkit::blocking(|| maintenance::purge(s.state.store(), 3, later, |_| {})).unwrap();
        assert_eq!(
            (r.records, r.peer_checks, r.app_checks, r.forwarded),
            (0, 1, 1, 0)
        );
        assert!(r.years_kept.contains(&year), "{:?}", r.years_kept);
        let (peers, apps) = testkit::blocking(|| {
            let mut tx = s.state.store().begin().unwrap();
            (
                tx.peer_checks(i64::MIN / 2, i64::MAX / 2).unwrap().len(),
                tx.app_checks(i64::MIN / 2, i64::MAX / 2).unwrap().len(),
            )
        });
        assert_eq!((peers, apps), (0, 0));
        // The year's evaluation is the one computed before.
        assert_eq!(evaluation_json(&s, year), before);
        // The received batch went with its last record: a re-send is new.
        let again = testkit::blocking(|| {
            let mut tx = s.state.store().begin().unwrap();
            tx.insert_peer_batch(220_000, &peer.batch, later, b"batch")
                .unwrap()
        });
        assert!(again);
    }
}

// ---------------------------------------------------------------------------
// PostgreSQL: pg_dump / pg_restore of a live database, checked and served.

mod pg_backup {
    use std::path::Path;
    use std::process::Command;

    use testkit::{ChildServer, Engine, TestServer};
    use verifier_server::maintenance;

    #[test]
    fn a_pg_dump_restores_checks_and_serves() {
        let Engine::Postgres(base) = testkit::engine() else {
            println!("skipped: {} is not set", testkit::engine::POSTGRES_ENV);
            return;
        };
        let s = TestServer::new();
        let dir = s.data().to_path_buf();
        testkit::blocking(|| verifier_server::demo::prepare(&dir, &s.state)).unwrap();
        let url = testkit::engine().database_for(&dir).unwrap().unwrap();
        let work = testkit::tempdir();
        let dump = work.path().join("lnec.dump");
        let out = Command::new("pg_dump")
            .args(["-Fc", "-f"])
            .arg(&dump)
            .arg(&url)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", testkit::describe(&out));

        // A new database from the dump.
        let name = format!("lnec_r_{}", std::process::id());
        let mut restored_url = url::Url::parse(&base).unwrap();
        restored_url.set_path(&format!("/{name}"));
        let restored_url = restored_url.to_string();
        testkit::blocking(|| {
            let mut c = postgres::Client::connect(&base, postgres::NoTls).unwrap();
            c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
                .unwrap();
            c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        });
        let out = Command::new("pg_restore")
            .args(["--no-owner", "-d"])
            .arg(&restored_url)
            .arg(&dump)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", testkit::describe(&out));

        // A data directory with the key files, checked, then served.
        let data = work.path().join("data");
        copy_dir(&dir.join("keys"), &data.join("keys"));
        let v = testkit::blocking(|| {
            let store = verifier_server::store::open(&restored_url).unwrap();
            maintenance::verify(store.as_ref(), &data)
        })
        .unwrap();
        assert!(v.certificates > 0 && v.log_records > 0, "{v:?}");
        let server = ChildServer::start_on_database("serve", &data, &restored_url).unwrap();
        let admin = std::fs::read_to_string(dir.join("demo/admin-token")).unwrap();
        let r = testkit::agent()
            .get(format!("{}/api/v1/audit?after=0&limit=1", server.url))
            .header("Authorization", format!("Bearer {}", admin.trim()))
            .call()
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            200,
            "the demo's admin token works on the copy"
        );
    }

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}
