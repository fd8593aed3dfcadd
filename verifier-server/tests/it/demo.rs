//! `verifier-server demo`: the seeded data directory as a verifier, a
//! holder and each role see it. Every sample PNG of `demo/index.json` is
//! decoded from its pixels and verified with `shared::verify` against the
//! trust list and status list the in-process router serves, and must get
//! exactly the verdict and reason `index.json` promises.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use axum::http::StatusCode;
use serde_json::Value;
use shared::domain::CertType;
use shared::qr::{decode_image, DecodeLimits};
use testkit::{Verifier, T0};
use verifier_server::auth::{self, AuthFailure, Role};
use verifier_server::demo::{self, DEMO_DIR, INDEX_FILE, INDEX_FORMAT};
use verifier_server::{AppState, Config};

/// A bare state (no tokens: the demo writes its own), the clock at `T0`,
/// after every demo issue date.
fn open(dir: &Path) -> AppState {
    testkit::open_at(dir, Config::default())
}

async fn get(state: &AppState, uri: &str, token: Option<&str>) -> (StatusCode, Vec<u8>) {
    let (status, _, body) = testkit::get_from(state, uri, token).await;
    (status, body)
}

fn token(dir: &Path, file: &str) -> String {
    let path = dir.join(DEMO_DIR).join(file);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{file}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with('\n') && text.lines().count() == 1, "{file}");
    text.trim_end().to_owned()
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Every file under `DIR/demo` with its bytes.
fn demo_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let root = dir.join(DEMO_DIR);
    for sub in [root.clone(), root.join("qr")] {
        for entry in std::fs::read_dir(&sub).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let name = path.strip_prefix(&root).unwrap().display().to_string();
                out.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_gets_the_verdict_index_json_promises() {
    let tmp = testkit::tempdir();
    let dir = tmp.path();
    let state = open(dir);
    let report = testkit::blocking(|| demo::prepare(dir, &state)).unwrap();
    assert!(report.seeded);
    assert_eq!(report.tokens_written.len(), 3 + 14 + 4);

    let index = json(&dir.join(DEMO_DIR).join(INDEX_FILE));
    assert_eq!(index["format"], INDEX_FORMAT);
    assert_eq!(
        index["root_key"]["kid"],
        state.root_public_key().kid().to_hex()
    );

    // A verifier's view, from the router.
    let (status, body) = get(&state, "/api/v1/trust-list", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, status_list) = get(&state, "/api/v1/status-list", None).await;
    assert_eq!(status, StatusCode::OK);
    let verifier = Verifier::from_served(&body, &state.root_public_key(), &status_list);

    let samples = index["samples"].as_array().unwrap();
    let mut valid_types = HashSet::new();
    let mut reasons = HashSet::new();
    for s in samples {
        let file = s["file"].as_str().unwrap();
        let png = std::fs::read(dir.join(DEMO_DIR).join(file)).unwrap();
        let texts = decode_image(&png, &DecodeLimits::default()).unwrap();
        assert_eq!(texts, [s["qr_text"].as_str().unwrap()], "{file}");
        let expected = &s["expected"];
        match verifier.check(&texts[0], T0) {
            Ok(ok) => {
                assert_eq!(expected["verdict"], "valid", "{file}: {s}");
                assert!(expected["reason"].is_null(), "{file}");
                let claims = ok.claims();
                assert_eq!(claims.cert_type.code(), s["cert_type"], "{file}");
                assert_eq!(claims.number, s["number"].as_str().unwrap(), "{file}");
                assert_eq!(i64::from(claims.version), s["version"], "{file}");
                let until = claims.valid_until.map(|d| d.to_string());
                assert_eq!(until.as_deref(), s["valid_until"].as_str(), "{file}");
                valid_types.insert(claims.cert_type);
            }
            Err(no) => {
                assert_eq!(no.verdict.as_str(), expected["verdict"], "{file}: {no:?}");
                assert_eq!(no.reason.code(), expected["reason"], "{file}: {no:?}");
                reasons.insert(no.reason.code());
                // Signed claims are shown unless the signature is broken.
                if let Some(claims) = &no.claims {
                    assert_eq!(claims.number, s["number"].as_str().unwrap(), "{file}");
                }
            }
        }
    }
    assert_eq!(valid_types.len(), CertType::ALL.len(), "{valid_types:?}");
    for r in [
        "revoked",
        "suspended",
        "superseded",
        "bad_signature",
        "expired",
    ] {
        assert!(reasons.contains(r), "no {r} sample");
    }

    // Counts as planned: a few hundred records, some on correction lists.
    let counts = testkit::blocking(|| state.store().begin().unwrap().counts().unwrap());
    let c = report.counts;
    assert!((250..=400).contains(&c.records), "{c:?}");
    assert_eq!(counts.certificates as usize, c.issued);
    assert_eq!(counts.versions as usize, c.issued + c.updated);
    assert_eq!(counts.nonconforming_open as usize, c.non_conforming);
    assert_eq!(index["counts"]["records"], c.records);
    let admin = token(dir, "admin-token");
    let (status, body) = get(&state, "/api/v1/nonconforming", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_authenticate_with_their_roles_and_a_second_start_changes_nothing() {
    let tmp = testkit::tempdir();
    let dir = tmp.path();
    let state = open(dir);
    testkit::blocking(|| demo::prepare(dir, &state)).unwrap();

    let caller = |file: &str| {
        testkit::blocking(|| {
            auth::authenticate(state.store(), Some(&token(dir, file)), state.now())
        })
        .unwrap()
        .unwrap_or_else(|e| panic!("{file}: {e:?}"))
    };
    assert_eq!(caller("admin-token").role, Role::Admin);
    assert_eq!(caller("auditor-token").role, Role::Auditor);
    let officer = caller("officer-token");
    assert_eq!(officer.role, Role::Officer);
    assert_eq!(officer.division.map(|d| d.code()), Some(210100));
    for city in shared::domain::LIAONING_CITIES {
        let c = caller(&format!("agency-{}-token", city.code()));
        assert_eq!((c.role, c.division), (Role::Agency, Some(city)));
    }
    // An agency token works over HTTP for its own city, not another's.
    let holders = json(&dir.join(DEMO_DIR).join(demo::HOLDERS_FILE));
    let holders = holders["holders"].as_array().unwrap();
    let wang = &holders[0]["certificates"][0];
    let uri = format!(
        "/api/v1/certificates/{}/{}",
        wang["cert_type"].as_str().unwrap(),
        wang["number"].as_str().unwrap()
    );
    let shenyang = token(dir, "agency-210100-token");
    assert_eq!(get(&state, &uri, Some(&shenyang)).await.0, StatusCode::OK);
    let dalian = token(dir, "agency-210200-token");
    assert_eq!(
        get(&state, &uri, Some(&dalian)).await.0,
        StatusCode::NOT_FOUND
    );
    let auditor = token(dir, "auditor-token");
    assert_eq!(
        get(&state, &uri, Some(&auditor)).await.0,
        StatusCode::FORBIDDEN
    );

    // Holders: their token's subject, several certificates each, stored.
    assert_eq!(holders.len(), 4);
    let admin = token(dir, "admin-token");
    for h in holders {
        let c = caller(h["token_file"].as_str().unwrap());
        assert_eq!(c.role, Role::Holder);
        assert_eq!(c.subject, h["subject"].as_str().unwrap());
        let certs = h["certificates"].as_array().unwrap();
        assert!(certs.len() >= 2, "{h}");
        for cert in certs {
            let uri = format!(
                "/api/v1/certificates/{}/{}",
                cert["cert_type"].as_str().unwrap(),
                cert["number"].as_str().unwrap()
            );
            let (status, body) = get(&state, &uri, Some(&admin)).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            let view: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(view["version"], cert["version"], "{uri}");
            assert_eq!(view["status"], cert["status"], "{uri}");
        }
    }

    // A second start on the same directory: nothing changes, not even the
    // audit log.
    let before_files = demo_files(dir);
    let before = testkit::blocking(|| state.store().begin().unwrap().counts().unwrap());
    drop(state);
    let state = open(dir);
    let again = testkit::blocking(|| demo::prepare(dir, &state)).unwrap();
    assert!(!again.seeded);
    assert!(again.tokens_written.is_empty());
    assert_eq!(again.samples_written, 0);
    assert_eq!(
        testkit::blocking(|| state.store().begin().unwrap().counts().unwrap()),
        before
    );
    assert_eq!(demo_files(dir), before_files);

    // A lost token file gets a new token; the old one stops working.
    let old = token(dir, "officer-token");
    std::fs::remove_file(dir.join(DEMO_DIR).join("officer-token")).unwrap();
    std::fs::remove_file(dir.join(DEMO_DIR).join(INDEX_FILE)).unwrap();
    let third = testkit::blocking(|| demo::prepare(dir, &state)).unwrap();
    assert!(!third.seeded);
    assert_eq!(third.tokens_written, ["officer-token"]);
    assert!(third.samples_written > 0);
    let new = token(dir, "officer-token");
    assert_ne!(new, old);
    assert_eq!(
        testkit::blocking(|| auth::authenticate(state.store(), Some(&old), state.now())).unwrap(),
        Err(AuthFailure::Revoked)
    );
    let c = testkit::blocking(|| auth::authenticate(state.store(), Some(&new), state.now()))
        .unwrap()
        .unwrap();
    assert_eq!(
        (c.role, c.division.map(|d| d.code())),
        (Role::Officer, Some(210100))
    );
    // The rewritten index is the same as before.
    let after = demo_files(dir);
    assert_eq!(after[INDEX_FILE], before_files[INDEX_FILE]);
    assert_eq!(after.len(), before_files.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_with_other_certificates_is_not_seeded() {
    let tmp = testkit::tempdir();
    let state = open(tmp.path());
    let (admin, _) =
        testkit::blocking(|| auth::create_token(state.store(), Role::Admin, None, "t", T0))
            .unwrap();
    let caller = testkit::blocking(|| auth::authenticate(state.store(), Some(&admin), state.now()))
        .unwrap()
        .unwrap();
    let record = serde_json::to_value(shared::domain::sample_record(CertType::QC)).unwrap();
    testkit::blocking(|| {
        verifier_server::issuing::push(
            state.store(),
            &state.keys(),
            &caller,
            T0,
            vec![record],
            None,
        )
    })
    .unwrap();
    let e = testkit::blocking(|| demo::prepare(tmp.path(), &state)).unwrap_err();
    assert!(format!("{e:#}").contains("use a new directory"), "{e:#}");
}
