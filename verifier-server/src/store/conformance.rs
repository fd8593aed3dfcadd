//! One test suite over the store traits, run against every engine: SQLite
//! always, PostgreSQL when `LNEC_TEST_POSTGRES` holds a connection URL
//! (each run in a fresh database it creates and drops; without the variable
//! the PostgreSQL half prints that it was skipped).
//!
//! `scripts/with-postgres cargo test -p verifier-server --lib store::`
//! runs both halves against a throw-away cluster.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use shared::crypto::{Alg, Kid};
use shared::domain::{CertType, DivisionCode, Uscc};
use shared::status::Status;
use shared::trust::Authority;

use super::evaluation::{ComplaintRow, DeclaredRow, Evidence, EvidenceFile, TrainingRow};
use super::*;

/// An engine under test: a store, a second store on the same database (a
/// second server instance), and raw SQL for what the schema must refuse.
struct Engine {
    name: &'static str,
    store: Arc<dyn Store>,
    second: Arc<dyn Store>,
    raw: RawSql,
}

/// Runs SQL outside the traits.
type RawSql = Box<dyn Fn(&str) -> Result<(), StoreError>>;

type Case = (&'static str, fn(&Engine));

const CASES: &[Case] = &[
    ("meta_and_counts", meta_and_counts),
    ("keys_and_authorities", keys_and_authorities),
    ("lists", lists),
    ("certificates_and_versions", certificates_and_versions),
    ("certificates_in_bulk", certificates_in_bulk),
    ("holders", holders),
    ("lookups", lookups),
    ("nonconforming_and_pushes", nonconforming_and_pushes),
    ("outages", outages),
    ("status_changes_and_uploads", status_changes_and_uploads),
    ("tokens", tokens),
    ("audit_is_append_only", audit_is_append_only),
    ("devices_and_logs", devices_and_logs),
    ("partitions_outside_requests", partitions_outside_requests),
    ("evaluation", evaluation),
    ("forwarding", forwarding),
    ("applications_and_grants", applications_and_grants),
    ("delegations", delegations),
    ("change_feed_and_outbox", change_feed_and_outbox),
    ("rollback_on_drop", rollback_on_drop),
    ("savepoints", savepoints),
    ("concurrent_sequences", concurrent_sequences),
];

fn run_all(engine: &Engine) {
    for (name, case) in CASES {
        eprintln!("conformance [{}] {name}", engine.name);
        case(engine);
    }
}

#[test]
fn sqlite_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conformance.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let raw_store = store.clone();
    let engine = Engine {
        name: "sqlite",
        second: open(&format!("sqlite:{}", path.display())).unwrap(),
        store,
        raw: Box::new(move |sql| raw_store.execute_raw(sql)),
    };
    run_all(&engine);
}

#[test]
fn postgres_conforms() {
    let Ok(url) = std::env::var("LNEC_TEST_POSTGRES") else {
        println!("postgres_conforms: skipped (LNEC_TEST_POSTGRES is not set)");
        eprintln!("postgres_conforms: skipped (LNEC_TEST_POSTGRES is not set)");
        return;
    };
    let db = fresh_database(&url);
    let store = Arc::new(PgStore::open_config(db.config.clone()).unwrap());
    let raw_store = store.clone();
    let engine = Engine {
        name: "postgres",
        second: Arc::new(PgStore::open_config(db.config.clone()).unwrap()),
        store,
        raw: Box::new(move |sql| raw_store.execute_raw(sql)),
    };
    run_all(&engine);
    lost_connection_is_unavailable_and_recovers(&engine);
    drop(engine);
}

/// A throw-away PostgreSQL database, dropped with this value.
pub(crate) struct FreshDatabase {
    admin: ::postgres::Config,
    name: String,
    /// The configuration naming the new database.
    pub(crate) config: ::postgres::Config,
}

/// Creates a database of its own on the server `url` names.
pub(crate) fn fresh_database(url: &str) -> FreshDatabase {
    let admin: ::postgres::Config = url.parse().expect("LNEC_TEST_POSTGRES is not a URL");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("lnec_test_{}_{nanos}", std::process::id());
    let mut client = admin.connect(::postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let mut config = admin.clone();
    config.dbname(&name);
    FreshDatabase {
        admin,
        name,
        config,
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        if let Ok(mut client) = self.admin.connect(::postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

#[test]
fn an_unreachable_postgres_is_unavailable() {
    // Port 1 on loopback: nothing listens, the connection is refused.
    match open("postgres://nobody@127.0.0.1:1/none?connect_timeout=1") {
        Err(err) => assert!(err.is_unavailable(), "{err}"),
        Ok(_) => panic!("a store on a closed port"),
    }
}

#[test]
fn database_urls_choose_the_engine() {
    assert_eq!(Engine_of("postgresql://a@b/c"), Some("postgres"));
    assert_eq!(Engine_of("postgres://a@b/c"), Some("postgres"));
    assert_eq!(Engine_of("sqlite:/tmp/x.db"), Some("sqlite"));
    assert_eq!(Engine_of("/tmp/x.db"), Some("sqlite"));
    assert_eq!(Engine_of("mysql://a@b/c"), None);
    assert_eq!(Engine_of(""), None);
    assert!(matches!(
        open("postgres://a@b/c?sslmode=bogus"),
        Err(StoreError::Url(_))
    ));
}

#[allow(non_snake_case)]
fn Engine_of(url: &str) -> Option<&'static str> {
    match super::Engine::of(url) {
        Ok(super::Engine::Postgres(_)) => Some("postgres"),
        Ok(super::Engine::Sqlite(_)) => Some("sqlite"),
        Err(_) => None,
    }
}

fn lost_connection_is_unavailable_and_recovers(e: &Engine) {
    eprintln!("conformance [{}] lost_connection", e.name);
    let mut tx = e.store.begin().unwrap();
    tx.set_meta("lost", "1").unwrap();
    // Another session ends every other backend on this database.
    (e.raw)(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .unwrap();
    let err = tx.meta("lost").unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    drop(tx);
    // The pool notices and connects again; nothing was committed.
    let mut tx = e.store.begin().unwrap();
    assert_eq!(tx.meta("lost").unwrap(), None);
}

fn division(code: u32) -> DivisionCode {
    DivisionCode::from_u32(code).unwrap()
}

fn meta_and_counts(e: &Engine) {
    let mut tx = e.store.begin().unwrap();
    assert_eq!(tx.meta("m").unwrap(), None);
    tx.set_meta("m", "1").unwrap();
    tx.set_meta("m", "2").unwrap();
    assert_eq!(tx.meta("m").unwrap().as_deref(), Some("2"));
    let c = tx.counts().unwrap();
    assert_eq!(
        (c.certificates, c.versions, c.nonconforming_open),
        (0, 0, 0)
    );
    tx.commit().unwrap();
    let mut tx = e.second.begin().unwrap();
    assert_eq!(tx.meta("m").unwrap().as_deref(), Some("2"));
}

fn key(n: u8, not_before: i64, role: KeyRole) -> KeyRecord {
    KeyRecord {
        kid: Kid([n; 8]),
        role,
        alg: if n % 2 == 0 { Alg::EdDSA } else { Alg::Sm2Sm3 },
        public_key: vec![n; 32],
        not_before,
        not_after: None,
        state: 0,
        compromised_since: None,
        file: format!("key-{n}.secret"),
    }
}

fn keys_and_authorities(e: &Engine) {
    let mut tx = e.store.begin().unwrap();
    let (a, b) = (key(2, 200, KeyRole::Issuer), key(1, 100, KeyRole::Root));
    tx.insert_key(&a).unwrap();
    tx.insert_key(&b).unwrap();
    assert_eq!(tx.keys().unwrap(), vec![b.clone(), a.clone()]);
    tx.set_key_state(&a.kid, 2, Some(300), Some(250)).unwrap();
    let got = tx.keys().unwrap();
    assert_eq!(
        (got[1].state, got[1].not_after, got[1].compromised_since),
        (2, Some(300), Some(250))
    );
    assert!(tx.set_key_state(&Kid([9; 8]), 1, None, None).is_err());
    tx.set_key_listed_until(&a.kid, 900).unwrap();
    tx.set_key_listed_until(&a.kid, 901).unwrap();
    tx.set_key_listed_until(&b.kid, 800).unwrap();
    assert_eq!(
        tx.keys_listed_until().unwrap(),
        vec![(b.kid, 800), (a.kid, 901)]
    );
    let uscc = Uscc::parse("91210106MA0XN3K249").unwrap();
    for d in [210200, 210100] {
        tx.insert_authority(&Authority {
            division: division(d),
            uscc: uscc.clone(),
            name: format!("局{d}"),
        })
        .unwrap();
    }
    let auth = tx.authorities().unwrap();
    assert_eq!(
        auth.iter().map(|a| a.division.code()).collect::<Vec<_>>(),
        [210100, 210200]
    );
    assert_eq!(auth[0].name, "局210100");
    assert!(tx
        .insert_authority(&Authority {
            division: division(210100),
            uscc,
            name: "x".into()
        })
        .is_err());
}

fn lists(e: &Engine) {
    let mut tx = e.store.begin().unwrap();
    assert_eq!(tx.trust_state().unwrap(), None);
    assert_eq!(tx.status_state().unwrap(), None);
    assert_eq!(tx.oldest_delta_base().unwrap(), None);
    tx.set_trust_state(ListState {
        seq: 1,
        issued_at: 10,
    })
    .unwrap();
    tx.set_trust_state(ListState {
        seq: 2,
        issued_at: 20,
    })
    .unwrap();
    assert_eq!(
        tx.trust_state().unwrap(),
        Some(ListState {
            seq: 2,
            issued_at: 20
        })
    );
    let s = StatusState {
        list: ListState {
            seq: 3,
            issued_at: 30,
        },
        next_index: 7,
    };
    tx.set_status_state(s).unwrap();
    assert_eq!(tx.status_state().unwrap(), Some(s));
    for seq in [5, 4, 6] {
        tx.insert_status_step(&StatusStep {
            seq,
            issued_at: seq as i64,
            delta: vec![seq as u8],
        })
        .unwrap();
    }
    assert!(tx
        .insert_status_step(&StatusStep {
            seq: 5,
            issued_at: 0,
            delta: vec![]
        })
        .is_err());
}

fn lists_steps(e: &Engine) {
    let mut tx = e.store.begin().unwrap();
    for seq in [5u64, 4, 6] {
        tx.insert_status_step(&StatusStep {
            seq,
            issued_at: seq as i64,
            delta: vec![seq as u8],
        })
        .unwrap();
    }
    let after = tx.status_steps_after(4).unwrap();
    assert_eq!(after.iter().map(|s| s.seq).collect::<Vec<_>>(), [5, 6]);
    assert_eq!(after[0].delta, vec![5]);
    assert_eq!(tx.oldest_delta_base().unwrap(), Some(3));
    tx.commit().unwrap();
}

fn version(n: &str, v: u16, index: u32, data_json: &str, record_json: &str) -> VersionRow {
    VersionRow {
        cert_type: CertType::YSZ,
        number: n.into(),
        version: v,
        status_index: index,
        status: Status::Valid,
        record_json: record_json.into(),
        data_json: data_json.into(),
        signed: vec![index as u8; 3],
        identifier: Some(format!("id-{n}-{v}")),
        issued_at: 1000 + i64::from(index),
        issuer_division: division(210100),
        holder_id: crate::store::holder_id_of(data_json, record_json),
        plate: crate::store::plate_of(data_json),
    }
}

fn current(v: &VersionRow) -> CertificateRow {
    CertificateRow {
        cert_type: v.cert_type,
        number: v.number.clone(),
        version: v.version,
        status: v.status,
        status_index: v.status_index,
        issuer_division: v.issuer_division,
        issued_at: v.issued_at,
    }
}

fn certificates_and_versions(e: &Engine) {
    lists_steps(e);
    {
        let mut tx = e.store.begin().unwrap();
        let v = version("A1", 1, 10, "{}", "{}");
        tx.insert_version(&v).unwrap();
        assert!(tx.insert_version(&v).is_err());
    }
    let mut tx = e.store.begin().unwrap();
    assert_eq!(tx.certificate(CertType::YSZ, "A1").unwrap(), None);
    let v1 = version("A1", 1, 10, "{}", "{}");
    let v2 = version("A1", 2, 11, "{}", "{}");
    let b1 = version("B1", 1, 12, "{}", "{}");
    for v in [&v1, &v2, &b1] {
        tx.insert_version(v).unwrap();
    }
    tx.put_certificate(&current(&v1)).unwrap();
    tx.put_certificate(&current(&b1)).unwrap();
    tx.set_version_status(10, Status::Superseded).unwrap();
    tx.put_certificate(&current(&v2)).unwrap();
    assert_eq!(
        tx.certificate(CertType::YSZ, "A1").unwrap(),
        Some(current(&v2))
    );
    assert_eq!(
        tx.version(CertType::YSZ, "A1", 2).unwrap(),
        Some(v2.clone())
    );
    assert_eq!(tx.version(CertType::YSZ, "A1", 3).unwrap(), None);
    tx.set_version_status(12, Status::Suspended).unwrap();
    assert_eq!(
        tx.certificate(CertType::YSZ, "B1")
            .unwrap()
            .map(|c| c.status),
        Some(Status::Suspended)
    );
    assert!(tx.set_version_status(99, Status::Revoked).is_err());
    assert_eq!(
        tx.non_valid().unwrap(),
        vec![(10, Status::Superseded), (12, Status::Suspended)]
    );
    let live: Vec<_> = tx
        .live_versions()
        .unwrap()
        .iter()
        .map(|v| v.status_index)
        .collect();
    assert_eq!(live, [11, 12]);
    tx.set_version_signed(CertType::YSZ, "A1", 2, b"new", 5000)
        .unwrap();
    assert!(tx
        .set_version_signed(CertType::YSZ, "A1", 9, b"new", 5000)
        .is_err());
    let got = tx.version(CertType::YSZ, "A1", 2).unwrap().unwrap();
    assert_eq!((got.signed.as_slice(), got.issued_at), (&b"new"[..], 5000));
    assert_eq!(
        tx.certificate(CertType::YSZ, "A1")
            .unwrap()
            .unwrap()
            .issued_at,
        5000
    );
    tx.set_signatures(&[(11, b"s11".to_vec()), (12, b"s12".to_vec())])
        .unwrap();
    assert_eq!(
        tx.version(CertType::YSZ, "A1", 2).unwrap().unwrap().signed,
        b"s11"
    );
    assert!(tx.set_signatures(&[(99, b"sig".to_vec())]).is_err());
    tx.set_signatures(&[]).unwrap();
    tx.set_signature(12, b"sig").unwrap();
    assert!(tx.set_signature(99, b"sig").is_err());
    assert_eq!(
        tx.version(CertType::YSZ, "B1", 1).unwrap().unwrap().signed,
        b"sig"
    );
    let c = tx.counts().unwrap();
    assert_eq!((c.certificates, c.versions), (2, 3));
    tx.commit().unwrap();
}

/// The bulk forms a push uses: equal to their one-row forms.
fn certificates_in_bulk(e: &Engine) {
    let mut tx = e.store.begin().unwrap();
    assert_eq!(tx.current_of(&[]).unwrap(), Vec::new());
    let c1 = version("C1", 1, 9020, r#"{"n":1}"#, "{}");
    let d1 = version("D1", 1, 9021, r#"{"n":2}"#, "{}");
    let mut d1 = d1;
    d1.identifier = None;
    tx.insert_versions(&[c1.clone(), d1.clone()]).unwrap();
    tx.insert_versions(&[]).unwrap();
    tx.put_certificates(&[current(&c1), current(&d1)]).unwrap();
    tx.put_certificates(&[]).unwrap();
    tx.commit().unwrap();

    let mut tx = e.store.begin().unwrap();
    let mut found = tx
        .current_of(&[
            (CertType::YSZ, "C1"),
            (CertType::YSZ, "D1"),
            (CertType::YSZ, "none"),
        ])
        .unwrap();
    found.sort_by_key(|(c, _)| c.status_index);
    assert_eq!(
        found,
        vec![(current(&c1), c1.clone()), (current(&d1), d1.clone())]
    );
    // A new version of C1 in bulk: the old one superseded, the pointer
    // moved.
    let c2 = version("C1", 2, 9022, r#"{"n":3}"#, "{}");
    tx.insert_versions(std::slice::from_ref(&c2)).unwrap();
    tx.put_certificates(&[current(&c2)]).unwrap();
    tx.set_version_statuses(&[(9020, Status::Superseded), (9021, Status::Suspended)])
        .unwrap();
    tx.set_version_statuses(&[]).unwrap();
    assert_eq!(
        tx.certificate(CertType::YSZ, "C1").unwrap(),
        Some(current(&c2))
    );
    assert_eq!(
        tx.version(CertType::YSZ, "C1", 1)
            .unwrap()
            .map(|v| v.status),
        Some(Status::Superseded)
    );
    assert_eq!(
        tx.certificate(CertType::YSZ, "D1")
            .unwrap()
            .map(|c| c.status),
        Some(Status::Suspended)
    );
    let found = tx.current_of(&[(CertType::YSZ, "C1")]).unwrap();
    assert_eq!(found, vec![(current(&c2), c2.clone())]);
    tx.commit().unwrap();
    {
        let mut tx = e.store.begin().unwrap();
        assert!(tx.set_version_statuses(&[(999, Status::Revoked)]).is_err());
    }
    {
        // A version already stored: refused, as one row.
        let mut tx = e.store.begin().unwrap();
        assert!(tx.insert_versions(std::slice::from_ref(&c2)).is_err());
    }

    // Correction-list entries resolved in bulk.
    let mut tx = e.store.begin().unwrap();
    for number in ["E1", "E2", "E3"] {
        tx.upsert_nonconforming(&NonconformingRow {
            agency: division(210200),
            cert_type: "YSZ".into(),
            number: number.into(),
            reasons_json: "[]".into(),
            record_json: "{}".into(),
            first_seen: 7000,
            last_seen: 7000,
            resolved_at: None,
        })
        .unwrap();
    }
    assert_eq!(
        tx.resolve_nonconforming_many(&[("YSZ", "E1"), ("YSZ", "E3"), ("QC", "E2")], 7100)
            .unwrap(),
        2
    );
    assert_eq!(tx.resolve_nonconforming_many(&[], 7100).unwrap(), 0);
    let open: Vec<String> = tx
        .nonconforming(None, true)
        .unwrap()
        .into_iter()
        .filter(|r| r.number.starts_with('E'))
        .map(|r| r.number)
        .collect();
    assert_eq!(open, ["E2"]);
    // Later cases count the open entries: none of these stays open.
    assert_eq!(
        tx.resolve_nonconforming_many(&[("YSZ", "E2"), ("YSZ", "E2")], 7200)
            .unwrap(),
        1
    );
    tx.commit().unwrap();
}

fn holders(e: &Engine) {
    let person = r#"{"face":{"family":"person","id_number":"210102199001011234"}}"#;
    let permit = r#"{"face":{"family":"permit","uscc":"91210106MA0XN3K249"}}"#;
    let vehicle = r#"{"face":{"family":"vehicle","owner":"某公司"}}"#;
    let owner = r#"{"uscc":" 91210106ma0xn3k249 "}"#;
    let rows = [
        version("H1", 1, 20, person, "{}"),
        version("H2", 1, 21, permit, "{}"),
        version("H3", 1, 22, vehicle, owner),
        version(
            "H4",
            1,
            23,
            vehicle,
            r#"{"id_number":"210102199001011234"}"#,
        ),
        version("H5", 1, 24, r#"{"face":{"family":"person"}}"#, owner),
    ];
    assert_eq!(rows[0].holder_id.as_deref(), Some("210102199001011234"));
    assert_eq!(rows[2].holder_id.as_deref(), Some("91210106MA0XN3K249"));
    assert_eq!(rows[4].holder_id, None);
    let mut tx = e.store.begin().unwrap();
    for v in &rows {
        tx.insert_version(v).unwrap();
        tx.put_certificate(&current(v)).unwrap();
    }
    let of = |tx: &mut Box<dyn Tx + '_>, h: &str| -> Vec<String> {
        tx.holder_certificates(h)
            .unwrap()
            .into_iter()
            .map(|v| v.number)
            .collect()
    };
    assert_eq!(of(&mut tx, "91210106MA0XN3K249"), ["H2", "H3"]);
    assert_eq!(of(&mut tx, "210102199001011234"), ["H1", "H4"]);
    assert!(of(&mut tx, "nobody").is_empty());
    assert!(tx
        .insert_holder_device("210102199001011234", Alg::EdDSA, &[1; 32], 5)
        .unwrap());
    assert!(!tx
        .insert_holder_device("210102199001011234", Alg::EdDSA, &[1; 32], 6)
        .unwrap());
    assert!(tx
        .insert_holder_device("210102199001011234", Alg::EdDSA, &[2; 32], 6)
        .unwrap());
    tx.commit().unwrap();
}

fn lookups(e: &Engine) {
    use shared::checklog::LookupBy;
    let car = |plate: &str| format!(r#"{{"face":{{"family":"vehicle","plate":"{plate}"}}}}"#);
    let person = r#"{"face":{"family":"person","id_number":"210102199202023456"}}"#;
    let old = version("L1", 1, 30, &car("辽A5K823"), "{}");
    let mut new = version("L1", 2, 31, &car("辽A5K823"), "{}");
    new.status = Status::Revoked;
    let other = version("L2", 1, 32, &car("辽A5K823"), "{}");
    let far = version("L3", 1, 33, &car("辽B12345"), "{}");
    let owned = version(
        "L4",
        1,
        34,
        &car("辽C88888"),
        r#"{"id_number":"210102199202023456"}"#,
    );
    let licence = version("L5", 1, 35, person, "{}");
    let mut tx = e.store.begin().unwrap();
    for v in [&old, &new, &other, &far, &owned, &licence] {
        tx.insert_version(v).unwrap();
    }
    tx.set_version_status(30, Status::Superseded).unwrap();
    for v in [&new, &other, &far, &owned, &licence] {
        tx.put_certificate(&current(v)).unwrap();
    }
    let found = |tx: &mut Box<dyn Tx + '_>, by, value: &str, limit| -> Vec<(String, u16)> {
        tx.lookup_versions(by, value, limit)
            .unwrap()
            .into_iter()
            .map(|v| (v.number, v.version))
            .collect()
    };
    // Current versions only, whatever their status, by type and number.
    assert_eq!(
        found(&mut tx, LookupBy::Plate, "辽A5K823", 10),
        [("L1".into(), 2), ("L2".into(), 1)]
    );
    assert_eq!(
        found(&mut tx, LookupBy::Plate, "辽A5K823", 1),
        [("L1".into(), 2)]
    );
    assert!(found(&mut tx, LookupBy::Plate, "辽A5K82", 10).is_empty());
    assert_eq!(
        found(&mut tx, LookupBy::IdNumber, "210102199202023456", 10),
        [("L4".into(), 1), ("L5".into(), 1)]
    );
    assert_eq!(
        found(&mut tx, LookupBy::Number, "L3", 10),
        [("L3".into(), 1)]
    );
    assert!(found(&mut tx, LookupBy::Number, "L9", 10).is_empty());
    let got = tx.lookup_versions(LookupBy::Number, "L1", 10).unwrap();
    assert_eq!(got, [new.clone()]);
    tx.commit().unwrap();
}

fn nonconforming_and_pushes(e: &Engine) {
    let mut tx = e.store.begin().unwrap();
    let row = |agency: u32, n: &str, first: i64| NonconformingRow {
        agency: division(agency),
        cert_type: "YSZ".into(),
        number: n.into(),
        reasons_json: "[]".into(),
        record_json: "{}".into(),
        first_seen: first,
        last_seen: first,
        resolved_at: None,
    };
    tx.upsert_nonconforming(&row(210200, "N1", 10)).unwrap();
    tx.upsert_nonconforming(&row(210100, "N2", 20)).unwrap();
    tx.upsert_nonconforming(&row(210100, "N1", 30)).unwrap();
    // A refresh keeps first_seen while open.
    tx.upsert_nonconforming(&NonconformingRow {
        last_seen: 40,
        ..row(210100, "N2", 40)
    })
    .unwrap();
    let all = tx.nonconforming(None, true).unwrap();
    let keys: Vec<_> = all
        .iter()
        .map(|r| (r.agency.code(), r.number.as_str(), r.first_seen))
        .collect();
    assert_eq!(
        keys,
        [(210100, "N2", 20), (210100, "N1", 30), (210200, "N1", 10)]
    );
    assert_eq!(all[0].last_seen, 40);
    assert_eq!(
        tx.resolve_nonconforming("YSZ", &["N1", "N9"], 50).unwrap(),
        2
    );
    assert_eq!(tx.resolve_nonconforming("YSZ", &["N1"], 60).unwrap(), 0);
    assert_eq!(tx.resolve_nonconforming("YSZ", &[], 60).unwrap(), 0);
    assert_eq!(
        tx.nonconforming(Some(division(210100)), true)
            .unwrap()
            .len(),
        1
    );
    let mine = tx.nonconforming(Some(division(210100)), false).unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(
        mine.iter().find(|r| r.number == "N1").unwrap().resolved_at,
        Some(50)
    );
    // Reopened after resolution: first_seen starts again.
    tx.upsert_nonconforming(&row(210100, "N1", 70)).unwrap();
    let n1 = tx.nonconforming(Some(division(210100)), true).unwrap();
    assert!(n1
        .iter()
        .any(|r| r.number == "N1" && r.first_seen == 70 && r.resolved_at.is_none()));
    assert_eq!(tx.counts().unwrap().nonconforming_open, 2);
    tx.record_push(&AgencyPush {
        division: division(210200),
        at: 5,
        records: 2,
    })
    .unwrap();
    tx.record_push(&AgencyPush {
        division: division(210100),
        at: 6,
        records: 3,
    })
    .unwrap();
    tx.record_push(&AgencyPush {
        division: division(210200),
        at: 7,
        records: 4,
    })
    .unwrap();
    assert_eq!(
        tx.agency_pushes().unwrap(),
        vec![
            AgencyPush {
                division: division(210100),
                at: 6,
                records: 3
            },
            AgencyPush {
                division: division(210200),
                at: 7,
                records: 4
            },
        ]
    );
    tx.commit().unwrap();
}

fn outages(e: &Engine) {
    let mut tx = e.store.begin().unwrap();
    let row = |d: u32, from: i64, until: i64| OutageRow {
        id: 0,
        division: division(d),
        from,
        until,
        reason: "前置机故障".into(),
        repush_deadline: until + 86_400,
        reported_at: until + 10,
    };
    let a = tx.insert_outage(&row(210100, 200, 300)).unwrap();
    let b = tx.insert_outage(&row(210200, 100, 150)).unwrap();
    let c = tx.insert_outage(&row(210100, 100, 150)).unwrap();
    assert!(a != b && b != c && a != c);
    let all = tx.outages(None).unwrap();
    let order: Vec<i64> = all.iter().map(|o| o.id).collect();
    assert_eq!(order, vec![c, a, b]);
    assert_eq!(
        all[1],
        OutageRow {
            id: a,
            ..row(210100, 200, 300)
        }
    );
    let own: Vec<i64> = tx
        .outages(Some(division(210100)))
        .unwrap()
        .iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(own, vec![c, a]);
    assert!(tx.outages(Some(division(210300))).unwrap().is_empty());
    tx.commit().unwrap();
    // The schema refuses a period that ends before it starts.
    let mut tx = e.store.begin().unwrap();
    assert!(tx.insert_outage(&row(210100, 500, 400)).is_err());
}

fn status_changes_and_uploads(e: &Engine) {
    let mut tx = e.store.begin().unwrap();
    let change =
        |n: &str, from: Status, to: Status, at: i64, reason: Option<&str>| StatusChangeRow {
            cert_type: CertType::QC,
            number: n.into(),
            version: 2,
            from,
            to,
            at,
            actor: "agency 210100 #3".into(),
            reason: reason.map(String::from),
            effective_date: reason.map(|_| "2026-06-02".to_string()),
            document_number: reason.map(|_| "沈交运〔2026〕7号".to_string()),
        };
    let a = change("C1", Status::Valid, Status::Suspended, 10, Some("年审逾期"));
    let b = change("C1", Status::Suspended, Status::Revoked, 20, None);
    let other = change("C2", Status::Valid, Status::Revoked, 15, Some("x"));
    for c in [&a, &other, &b] {
        tx.insert_status_change(c).unwrap();
    }
    assert_eq!(tx.status_changes(CertType::QC, "C1").unwrap(), vec![a, b]);
    assert!(tx.status_changes(CertType::YSZ, "C1").unwrap().is_empty());
    let report = |agency: Option<u32>| UploadReportRow {
        id: 0,
        agency: agency.map(division),
        received_at: 30,
        file_name: "记录.csv".into(),
        summary_json: "{}".into(),
        csv: b"\xEF\xBB\xBFline\n".to_vec(),
    };
    let first = tx.insert_upload_report(&report(Some(210100))).unwrap();
    let second = tx.insert_upload_report(&report(None)).unwrap();
    assert!(second > first);
    assert_eq!(
        tx.upload_report(first).unwrap(),
        Some(UploadReportRow {
            id: first,
            ..report(Some(210100))
        })
    );
    assert_eq!(tx.upload_report(second).unwrap().unwrap().agency, None);
    assert_eq!(tx.upload_report(second + 1).unwrap(), None);
    tx.commit().unwrap();
}

fn token(n: u8, role: &str) -> TokenRow {
    TokenRow {
        id: 0,
        hash: [n; 32],
        role: role.into(),
        division: (role == "officer").then(|| division(210100)),
        subject: format!("subject {n}"),
        created_at: 100 + i64::from(n),
        revoked_at: None,
        expires_at: 10_000 + i64::from(n),
        last_used_at: None,
        prev_hash: None,
        prev_expires_at: None,
        rotated_at: None,
    }
}

fn tokens(e: &Engine) {
    let mut tx = e.store.begin().unwrap();
    let a = tx.insert_token(&token(1, "admin")).unwrap();
    let b = tx.insert_token(&token(2, "officer")).unwrap();
    assert!(b > a);
    tx.commit().unwrap();
    let mut tx = e.store.begin().unwrap();
    assert!(tx.insert_token(&token(1, "admin")).is_err());
    drop(tx);
    let mut tx = e.store.begin().unwrap();
    let got = tx.token_by_hash(&[2; 32]).unwrap().unwrap();
    assert_eq!(
        got,
        TokenRow {
            id: b,
            ..token(2, "officer")
        }
    );
    assert_eq!(tx.token_by_hash(&[9; 32]).unwrap(), None);
    let ids: Vec<_> = tx.tokens().unwrap().iter().map(|t| t.id).collect();
    assert_eq!(ids, [a, b]);
    assert_eq!(
        tx.revoke_token(b, 500).unwrap().unwrap().revoked_at,
        Some(500)
    );
    assert_eq!(
        tx.revoke_token(b, 600).unwrap().unwrap().revoked_at,
        Some(500)
    );
    assert_eq!(tx.revoke_token(9999, 600).unwrap(), None);
    // Last use only moves forward.
    tx.touch_token(a, 300).unwrap();
    tx.touch_token(a, 200).unwrap();
    assert_eq!(
        tx.token_by_hash(&[1; 32]).unwrap().unwrap().last_used_at,
        Some(300)
    );
    // Rotation: a new secret under the same id; the old one is found as
    // the replaced secret, its overlap capped by its own expiry.
    let rotation = crate::store::TokenRotation {
        hash: [3; 32],
        expires_at: 20_000,
        prev_expires_at: 50_000,
        at: 400,
    };
    let r = tx.rotate_token(a, &rotation).unwrap().unwrap();
    assert_eq!(
        (
            r.id,
            r.hash,
            r.expires_at,
            r.prev_hash,
            r.prev_expires_at,
            r.rotated_at
        ),
        (a, [3; 32], 20_000, Some([1; 32]), Some(10_001), Some(400))
    );
    assert_eq!(tx.token_by_hash(&[1; 32]).unwrap().unwrap().id, a);
    assert_eq!(tx.token_by_hash(&[3; 32]).unwrap().unwrap().id, a);
    // A second rotation drops the first secret.
    let again = crate::store::TokenRotation {
        hash: [4; 32],
        prev_expires_at: 700,
        ..rotation
    };
    let r = tx.rotate_token(a, &again).unwrap().unwrap();
    assert_eq!((r.prev_hash, r.prev_expires_at), (Some([3; 32]), Some(700)));
    assert_eq!(tx.token_by_hash(&[1; 32]).unwrap(), None);
    // A revoked token cannot be rotated; an unknown one neither.
    assert_eq!(tx.rotate_token(b, &rotation).unwrap(), None);
    assert_eq!(tx.rotate_token(9999, &rotation).unwrap(), None);
    tx.commit().unwrap();
}

fn entry(ts: i64, action: &str, outcome: &str) -> AuditEntry {
    AuditEntry {
        client_addr: None,
        ts,
        token_id: None,
        role: Some("admin".into()),
        action: action.into(),
        target: "-".into(),
        outcome: outcome.into(),
    }
}

fn audit_is_append_only(e: &Engine) {
    let mut tx = e.store.begin().unwrap();
    for i in 0..5 {
        let mut row = entry(i, "test", "ok");
        // The client address is kept as given, and may be absent.
        row.client_addr = (i == 4).then(|| "2001:db8::7".to_string());
        tx.append_audit(&row).unwrap();
    }
    tx.commit().unwrap();
    let mut tx = e.store.begin().unwrap();
    let tail = tx.audit_tail(2).unwrap();
    assert_eq!(tail.iter().map(|e| e.ts).collect::<Vec<_>>(), [4, 3]);
    assert_eq!(tail[0].client_addr.as_deref(), Some("2001:db8::7"));
    assert_eq!(tail[1].client_addr, None);
    let first = tx.audit_after(0, 3).unwrap();
    assert_eq!(
        first.iter().map(|r| r.entry.ts).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert!(first.windows(2).all(|w| w[0].id < w[1].id));
    let rest = tx.audit_after(first[2].id, 10).unwrap();
    assert_eq!(rest.iter().map(|r| r.entry.ts).collect::<Vec<_>>(), [3, 4]);
    assert_eq!(rest[1].entry.client_addr.as_deref(), Some("2001:db8::7"));
    drop(tx);
    assert!((e.raw)("UPDATE audit SET outcome = 'x'").is_err());
    assert!((e.raw)("DELETE FROM audit").is_err());
    let mut tx = e.store.begin().unwrap();
    assert_eq!(tx.audit_tail(10).unwrap().len(), 5);
    assert_eq!(tx.counts().unwrap().audit, 5);
}

fn device(n: u8, token_id: i64) -> DeviceRow {
    DeviceRow {
        id: 0,
        kid: Kid([0x40 + n; 8]),
        alg: Alg::EdDSA,
        public_key: vec![n; 32],
        token_id,
        division: division(210100),
        label: format!("设备{n}"),
        enrolled_at: 10,
        revoked_at: None,
        next_seq: 0,
        head: [0; 32],
    }
}

/// A check record of `device_id` at `seq` and device time `at`.
fn record(device_id: i64, seq: u64, at: i64, batch_id: i64) -> LogRecordRow {
    LogRecordRow {
        device_id,
        seq,
        hash: [seq as u8; 32],
        prev: [seq.wrapping_sub(1) as u8; 32],
        at,
        kind: 0,
        verdict: Some("valid".into()),
        reason: None,
        cert_type: Some("YSZ".into()),
        cert_number: Some("A1".into()),
        cert_version: Some(2),
        scanned: Some(" LP1:abc".into()),
        status_seq: Some(3),
        trust_seq: Some(1),
        warnings: Some("[]".into()),
        data_age: Some(60),
        check_seq: None,
        accepted: None,
        note: None,
        srv_signature: Some(true),
        srv_presentation: Some(false),
        srv_cert_type: Some("YSZ".into()),
        srv_cert_number: Some("A1".into()),
        srv_cert_version: Some(2),
        srv_division: Some(division(210100)),
        srv_reason: None,
        batch_id,
    }
}

fn devices_and_logs(e: &Engine) {
    let mut tx = e.store.begin().unwrap();
    let t = tx.insert_token(&token(7, "officer")).unwrap();
    let d = tx.insert_device(&device(1, t)).unwrap();
    let d2 = tx.insert_device(&device(2, t)).unwrap();
    tx.commit().unwrap();
    let mut tx = e.store.begin().unwrap();
    assert!(tx.insert_device(&device(1, t)).is_err());
    drop(tx);
    let mut tx = e.store.begin().unwrap();
    let got = tx.device(d).unwrap().unwrap();
    assert_eq!(
        got,
        DeviceRow {
            id: d,
            head: shared::checklog::GENESIS,
            ..device(1, t)
        }
    );
    assert_eq!(
        tx.device_by_kid(&Kid([0x41; 8])).unwrap().map(|d| d.id),
        Some(d)
    );
    assert_eq!(tx.device_by_kid(&Kid([0x7f; 8])).unwrap(), None);
    assert_eq!(tx.device(d2 + 100).unwrap(), None);
    tx.set_device_head(d, 3, &[9; 32]).unwrap();
    assert!(tx.set_device_head(d2 + 100, 3, &[9; 32]).is_err());
    let got = tx.device(d).unwrap().unwrap();
    assert_eq!((got.next_seq, got.head), (3, [9; 32]));
    // 2026-10-31 23:59:59 and 2026-11-01 00:00:00 in Beijing: two months.
    let (oct, nov) = (1_793_462_399, 1_793_462_400);
    let batch = tx
        .insert_log_batch(d, 100, (0, 2), b"signed batch")
        .unwrap();
    tx.insert_log_record(&record(d, 0, oct, batch)).unwrap();
    let many = [
        record(d, 1, nov, batch),
        record(d, 2, nov + 1, batch),
        record(d, 0, oct, batch),
    ];
    assert_eq!(tx.insert_log_records(&many).unwrap(), 2);
    assert_eq!(tx.insert_log_records(&many).unwrap(), 0);
    assert_eq!(tx.insert_log_records(&[]).unwrap(), 0);
    tx.commit().unwrap();
    // The same batch again through the second instance: stored once.
    let mut tx = e.second.begin().unwrap();
    assert_eq!(tx.insert_log_records(&many).unwrap(), 0);
    let mut disp = record(d, 3, nov + 2, batch);
    disp.kind = 1;
    disp.check_seq = Some(1);
    disp.accepted = Some(false);
    disp.note = Some("拒绝".into());
    disp.srv_signature = None;
    assert_eq!(
        tx.insert_log_records(std::slice::from_ref(&disp)).unwrap(),
        1
    );
    // An online lookup the device logged (kind 2, issue 11).
    let mut looked = record(d, 4, nov + 3, batch);
    looked.kind = 2;
    looked.scanned = None;
    looked.note = Some("plate".into());
    looked.srv_signature = None;
    looked.srv_presentation = None;
    assert_eq!(
        tx.insert_log_records(std::slice::from_ref(&looked))
            .unwrap(),
        1
    );
    tx.commit().unwrap();
    // No other kind (a refused statement aborts a PostgreSQL transaction:
    // its own transaction, dropped).
    let mut tx = e.store.begin().unwrap();
    let mut other = record(d, 5, nov + 4, batch);
    other.kind = 3;
    assert!(tx.insert_log_records(std::slice::from_ref(&other)).is_err());
    drop(tx);
    let mut tx = e.store.begin().unwrap();
    assert!(tx.insert_log_record(&record(d, 1, nov, batch)).is_err());
    drop(tx);
    let mut tx = e.store.begin().unwrap();
    let hashes = tx.log_hashes(d, 1, 2).unwrap();
    assert_eq!(hashes, vec![(1, [1; 32]), (2, [2; 32])]);
    let all = tx.log_records(d, None, 10).unwrap();
    assert_eq!(
        all.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    assert_eq!(all[0], record(d, 0, oct, batch));
    assert_eq!(all[3], disp);
    assert_eq!(all[4], looked);
    let page = tx.log_records(d, Some(0), 2).unwrap();
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2]);
    assert!(tx.log_records(d2, None, 10).unwrap().is_empty());
    // Evaluation reads of these records.
    let checks = tx.eval_checks(oct, nov + 10).unwrap();
    assert_eq!(checks.iter().map(|c| c.seq).collect::<Vec<_>>(), [0, 1, 2]);
    assert!(checks[0].presented && checks[0].signature && !checks[0].presentation);
    assert_eq!(checks[0].cert, Some(("YSZ".into(), "A1".into())));
    assert_eq!(tx.eval_checks(nov, nov + 1).unwrap().len(), 1);
    assert_eq!(
        tx.eval_oldest_check(nov + 10).unwrap(),
        checks.iter().map(|c| c.at).min()
    );
    assert_eq!(tx.eval_oldest_check(i64::MIN / 2).unwrap(), None);
    let refusals = tx.eval_refusals(0, i64::MAX).unwrap();
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].note.as_deref(), Some("拒绝"));
    assert_eq!(refusals[0].check.as_ref().map(|c| c.seq), Some(1));
    assert_eq!(refusals[0].cert_status, Some(0));
    drop(tx);
    assert!((e.raw)("UPDATE verification_records SET note = 'x'").is_err());
    assert!((e.raw)("DELETE FROM verification_batches").is_err());
}

/// Check-log partitions are made by [`Store::prepare`] only, in a
/// transaction of its own, never by an upload: uploads running on two
/// instances while a month's partition is made all succeed (before
/// PostgreSQL migration 14 the new partition's cloned foreign keys
/// deadlocked them, answered 503), and the rows uploads stored in the
/// default partition before it existed move to it.
fn partitions_outside_requests(e: &Engine) {
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    // A month beyond the window made at open: no partition of its own yet.
    let later = now + 120 * 86_400;
    let mut tx = e.store.begin().unwrap();
    let t = tx.insert_token(&token(8, "officer")).unwrap();
    let devices: Vec<i64> = (10..14)
        .map(|n| tx.insert_device(&device(n, t)).unwrap())
        .collect();
    tx.commit().unwrap();
    let per = 15u64;
    std::thread::scope(|s| {
        for (i, d) in devices.iter().copied().enumerate() {
            let store = if i % 2 == 0 { &e.store } else { &e.second };
            s.spawn(move || {
                for k in 0..per {
                    // As an upload does: the batch, then its records, one
                    // transaction; every other one reads the stored chain
                    // first (an upload overlapping what is stored).
                    let mut tx = store.begin().unwrap();
                    if k % 2 == 1 {
                        tx.log_hashes(d, 0, k).unwrap();
                    }
                    let batch = tx.insert_log_batch(d, now, (k, k), b"batch").unwrap();
                    let at = later + i64::try_from(k).unwrap();
                    assert_eq!(
                        tx.insert_log_records(&[record(d, k, at, batch)]).unwrap(),
                        1
                    );
                    tx.commit().unwrap();
                }
            });
        }
        let second = &e.second;
        s.spawn(move || {
            for _ in 0..3 {
                second.prepare(later).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        });
    });
    // Idempotent, from either instance.
    e.store.prepare(later).unwrap();
    e.store.prepare(now).unwrap();
    let mut tx = e.store.begin().unwrap();
    for d in &devices {
        let got = tx.log_records(*d, None, 100).unwrap();
        assert_eq!(
            got.iter().map(|r| (r.seq, r.at)).collect::<Vec<_>>(),
            (0..per)
                .map(|k| (k, later + i64::try_from(k).unwrap()))
                .collect::<Vec<_>>()
        );
    }
    drop(tx);
    if e.name == "postgres" {
        // Nothing of that month is left in the default partition.
        (e.raw)(&format!(
            "DO $$ BEGIN
                 IF EXISTS (SELECT 1 FROM verification_records_default
                            WHERE at >= {later} AND at < {}) THEN
                     RAISE EXCEPTION 'rows left in the default partition';
                 END IF;
             END $$",
            later + 86_400
        ))
        .unwrap();
    }
}

fn evaluation(e: &Engine) {
    let mut tx = e.store.begin().unwrap();
    let ev = |n: &str| Evidence {
        file_name: n.into(),
        sha256: "0".repeat(64),
        description: "照片".into(),
    };
    let tr = |year, evidence| TrainingRow {
        id: 0,
        division: division(210100),
        year,
        coverage: "full".into(),
        description: "培训".into(),
        entered_at: 9,
        evidence,
    };
    let a = tx
        .insert_training(&tr(2026, vec![ev("a.jpg"), ev("b.jpg")]))
        .unwrap();
    let b = tx.insert_training(&tr(2026, vec![])).unwrap();
    tx.insert_training(&tr(2025, vec![ev("c.jpg")])).unwrap();
    let got = tx.training(2026).unwrap();
    assert_eq!(got.iter().map(|t| t.id).collect::<Vec<_>>(), [a, b]);
    assert_eq!(
        got[0],
        TrainingRow {
            id: a,
            ..tr(2026, vec![ev("a.jpg"), ev("b.jpg")])
        }
    );
    assert!(got[1].evidence.is_empty());
    assert!(tx
        .insert_training(&TrainingRow {
            coverage: "bogus".into(),
            ..tr(2026, vec![])
        })
        .is_err());
    drop(tx);
    let mut tx = e.store.begin().unwrap();
    let dec = |d, t: &str, count| DeclaredRow {
        division: division(d),
        year: 2026,
        cert_type: t.into(),
        count,
    };
    tx.set_declared(&dec(210200, "YSZ", 5), 1).unwrap();
    tx.set_declared(&dec(210100, "YSZ", 3), 1).unwrap();
    tx.set_declared(&dec(210100, "YSZ", 4), 2).unwrap();
    assert_eq!(
        tx.declared(2026).unwrap(),
        vec![dec(210100, "YSZ", 4), dec(210200, "YSZ", 5)]
    );
    assert!(tx.declared(2025).unwrap().is_empty());
    let c = |upheld| ComplaintRow {
        id: 0,
        division: division(210100),
        year: 2026,
        description: "投诉".into(),
        upheld,
        entered_at: 3,
    };
    let x = tx.insert_complaint(&c(true)).unwrap();
    let y = tx.insert_complaint(&c(false)).unwrap();
    assert_eq!(
        tx.complaints(2026).unwrap(),
        vec![
            ComplaintRow { id: x, ..c(true) },
            ComplaintRow { id: y, ..c(false) }
        ]
    );
    // What the other cases stored, as the evaluation reads it.
    let certs = tx.eval_certificates().unwrap();
    let a1 = certs.iter().find(|c| c.number == "A1").unwrap();
    assert_eq!(
        (a1.cert_type.as_str(), a1.status, a1.first_issued_at),
        ("YSZ", 0, 1010)
    );
    let open = tx.eval_open_corrections().unwrap();
    assert_eq!(open.len(), 2);
    tx.append_audit(&entry(77, "POST /api/v1/verification-logs", "409 conflict"))
        .unwrap();
    tx.append_audit(&entry(78, "POST /api/v1/verification-logs", "ok"))
        .unwrap();
    let rejected = tx.eval_rejected_uploads(70, 80).unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        (rejected[0].ts, rejected[0].outcome.as_str()),
        (77, "409 conflict")
    );
    // Evidence files: stored once per hash, the bytes back unchanged.
    let file = EvidenceFile {
        sha256: "ab".repeat(32),
        content_type: "application/pdf".into(),
        data: vec![0, 1, 2, 0xff, b'%'],
        uploaded_at: 12,
    };
    assert!(tx.put_evidence_file(&file).unwrap());
    assert!(!tx
        .put_evidence_file(&EvidenceFile {
            uploaded_at: 13,
            ..file.clone()
        })
        .unwrap());
    assert_eq!(tx.evidence_file(&file.sha256).unwrap(), Some(file));
    assert_eq!(tx.evidence_file(&"cd".repeat(32)).unwrap(), None);
    tx.commit().unwrap();
}

fn peer_check(seq: u64, at: i64) -> PeerCheckRow {
    PeerCheckRow {
        province: 220_000,
        device: 7,
        seq,
        batch: "ab".repeat(16),
        division: 220_100,
        not_before: 100,
        sent_received_at: at + 10,
        received_at: at + 20,
        at,
        scanned: Some("LC1:X".into()),
        srv_signature: true,
        srv_presentation: false,
        presented: false,
        srv_cert_type: Some("YSZ".into()),
        srv_cert_number: Some("210100165715".into()),
        srv_division: Some(division(210100)),
        srv_reason: None,
    }
}

fn forwarding(e: &Engine) {
    let mut tx = e.store.begin().unwrap();
    let outbox = |device_id: i64, seq: u64, province: u32| OutboxRow {
        device_id,
        seq,
        province,
        division: 210102,
        not_before: 100,
        received_at: 200,
        record: vec![seq as u8; 3],
    };
    for (d, s, p) in [
        (1, 0, 220_000),
        (1, 1, 220_000),
        (2, 0, 230_000),
        (1, 0, 220_000),
    ] {
        tx.queue_forward(&outbox(d, s, p)).unwrap();
    }
    assert_eq!(
        tx.forward_pending_provinces().unwrap(),
        vec![220_000, 230_000]
    );
    let backlog = |tx: &mut Box<dyn Tx + '_>| {
        let b = tx.backlog().unwrap();
        (b.forward_queued, b.forward_undelivered, b.forward_oldest)
    };
    assert_eq!(backlog(&mut tx), (3, 0, None));
    let rows = tx.forward_unbatched(220_000, 10).unwrap();
    assert_eq!(rows, vec![outbox(1, 0, 220_000), outbox(1, 1, 220_000)]);
    assert_eq!(tx.forward_unbatched(220_000, 1).unwrap().len(), 1);
    let batch = ForwardBatchRow {
        id: "01".repeat(16),
        province: 220_000,
        created_at: 300,
        bytes: vec![1, 2, 3],
        records: 2,
        attempts: 0,
        next_attempt_at: 300,
        last_error: None,
        sent_at: None,
    };
    tx.insert_forward_batch(&batch, &[(1, 0), (1, 1)]).unwrap();
    assert_eq!(backlog(&mut tx), (1, 1, Some(300)));
    assert!(tx.forward_unbatched(220_000, 10).unwrap().is_empty());
    assert_eq!(tx.forward_pending_provinces().unwrap(), vec![230_000]);
    assert_eq!(tx.forward_due(299).unwrap(), None);
    assert_eq!(tx.forward_due(300).unwrap(), Some(batch.clone()));
    tx.forward_attempted(&batch.id, None, Some("refused"), 400)
        .unwrap();
    assert_eq!(tx.forward_due(399).unwrap(), None);
    let failed = tx.forward_due(400).unwrap().unwrap();
    assert_eq!(
        (failed.attempts, failed.last_error.as_deref()),
        (1, Some("refused"))
    );
    tx.forward_attempted(&batch.id, Some(410), None, 400)
        .unwrap();
    assert_eq!(tx.forward_due(i64::MAX).unwrap(), None);
    assert_eq!(tx.forward_batches().unwrap()[0].sent_at, Some(410));
    assert_eq!(backlog(&mut tx), (1, 0, None));

    // Receiver: a batch and a record are stored once.
    assert!(tx.insert_peer_batch(220_000, &batch.id, 500, b"x").unwrap());
    assert!(!tx.insert_peer_batch(220_000, &batch.id, 501, b"x").unwrap());
    assert!(tx.insert_peer_batch(230_000, &batch.id, 501, b"x").unwrap());
    assert!(tx.insert_peer_check(&peer_check(0, 1_000)).unwrap());
    assert!(!tx.insert_peer_check(&peer_check(0, 1_000)).unwrap());
    assert!(tx.insert_peer_check(&peer_check(1, 5_000)).unwrap());
    assert_eq!(
        tx.peer_checks(0, 2_000).unwrap(),
        vec![peer_check(0, 1_000)]
    );
    assert_eq!(tx.peer_checks(0, 10_000).unwrap().len(), 2);

    // Retention: received records both dated and received before the
    // cutoff go, then batches with none left; delivered batches go with
    // their records, undelivered ones stay.
    let mut late = peer_check(2, 1_500);
    late.received_at = 6_000; // received after the cutoff: stays
    late.batch = "cd".repeat(16);
    assert!(tx.insert_peer_check(&late).unwrap());
    assert!(tx
        .insert_peer_batch(220_000, &late.batch, 6_000, b"y")
        .unwrap());
    let carrier = peer_check(1, 0).batch; // the batch records 0 and 1 came in
    assert!(tx.insert_peer_batch(220_000, &carrier, 500, b"z").unwrap());
    assert_eq!(tx.peer_checks_oldest(5_000).unwrap(), Some(1_000));
    assert_eq!(tx.peer_checks_oldest(1_000).unwrap(), None);
    assert_eq!(tx.purge_peer_checks(5_000, 10).unwrap(), 1);
    assert_eq!(tx.purge_peer_checks(5_000, 10).unwrap(), 0);
    let left: Vec<u64> = tx
        .peer_checks(0, 10_000)
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(left, vec![2, 1]);
    // The records' batch still carries record 1 (dated 5000): kept. The
    // two without records arrived before the cutoff: gone (so they could
    // be stored again).
    assert!(!tx.insert_peer_batch(220_000, &carrier, 502, b"z").unwrap());
    assert!(!tx
        .insert_peer_batch(220_000, &late.batch, 6_001, b"y")
        .unwrap());
    assert!(tx.insert_peer_batch(220_000, &batch.id, 502, b"x").unwrap());
    assert!(tx.insert_peer_batch(230_000, &batch.id, 503, b"x").unwrap());

    let undelivered = ForwardBatchRow {
        id: "02".repeat(16),
        province: 230_000,
        created_at: 320,
        ..batch.clone()
    };
    tx.insert_forward_batch(&undelivered, &[(2, 0)]).unwrap();
    assert_eq!(
        tx.purge_forwarded(300, 10).unwrap(),
        0,
        "made at the cutoff"
    );
    assert_eq!(tx.purge_forwarded(1_000, 10).unwrap(), 2);
    assert_eq!(tx.purge_forwarded(1_000, 10).unwrap(), 0);
    let ids: Vec<String> = tx
        .forward_batches()
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(ids, vec![undelivered.id.clone()]);
    assert_eq!(
        tx.forward_due(i64::MAX).unwrap().map(|b| b.id),
        Some(undelivered.id)
    );
    tx.commit().unwrap();
}

fn rollback_on_drop(e: &Engine) {
    {
        let mut tx = e.store.begin().unwrap();
        tx.set_meta("dropped", "1").unwrap();
        tx.append_audit(&entry(1, "dropped", "ok")).unwrap();
    }
    let mut tx = e.store.begin().unwrap();
    assert_eq!(tx.meta("dropped").unwrap(), None);
    assert!(tx
        .audit_tail(100)
        .unwrap()
        .iter()
        .all(|a| a.action != "dropped"));
    // A failed statement followed by commit stores nothing on any engine
    // where the failure ends the transaction, and never half of it.
    tx.set_meta("after_error", "1").unwrap();
    assert!(tx.set_key_state(&Kid([0x55; 8]), 1, None, None).is_err());
    drop(tx);
    let mut tx = e.store.begin().unwrap();
    assert_eq!(tx.meta("after_error").unwrap(), None);
}

fn savepoints(e: &Engine) {
    let mut tx = e.store.begin().unwrap();
    tx.set_meta("sp", "kept").unwrap();
    tx.savepoint().unwrap();
    assert!(tx.savepoint().is_err());
    tx.set_meta("sp", "undone").unwrap();
    tx.rollback_to().unwrap();
    assert_eq!(tx.meta("sp").unwrap().as_deref(), Some("kept"));
    tx.savepoint().unwrap();
    // A failing statement inside a savepoint leaves the transaction usable
    // once rolled back to it.
    assert!(tx
        .insert_status_step(&StatusStep {
            seq: 5,
            issued_at: 0,
            delta: vec![]
        })
        .is_err());
    tx.rollback_to().unwrap();
    tx.savepoint().unwrap();
    tx.set_meta("sp2", "released").unwrap();
    tx.release().unwrap();
    tx.commit().unwrap();
    let mut tx = e.second.begin().unwrap();
    assert_eq!(tx.meta("sp").unwrap().as_deref(), Some("kept"));
    assert_eq!(tx.meta("sp2").unwrap().as_deref(), Some("released"));
}

/// Two instances, four threads each, allocate status-list sequences and
/// indexes: every sequence is used once, none is skipped.
fn concurrent_sequences(e: &Engine) {
    let mut tx = e.store.begin().unwrap();
    let init = StatusState {
        list: ListState {
            seq: 100,
            issued_at: 0,
        },
        next_index: 40,
    };
    tx.set_status_state(init).unwrap();
    tx.commit().unwrap();
    let mut tx = e.store.begin().unwrap();
    let start = tx.status_state().unwrap().unwrap();
    assert_eq!(start, init);
    let base_steps = tx.status_steps_after(start.list.seq).unwrap().len() as u64;
    drop(tx);
    let per = 10u64;
    std::thread::scope(|s| {
        for store in [
            &e.store, &e.second, &e.store, &e.second, &e.store, &e.second,
        ] {
            s.spawn(move || {
                for _ in 0..per {
                    let mut tx = store.begin().unwrap();
                    let mut st = tx.status_state().unwrap().unwrap();
                    std::thread::yield_now();
                    st.list.seq += 1;
                    st.next_index += 1;
                    let step = StatusStep {
                        seq: st.list.seq,
                        issued_at: 0,
                        delta: vec![],
                    };
                    tx.insert_status_step(&step).unwrap();
                    tx.set_status_state(st).unwrap();
                    tx.commit().unwrap();
                }
            });
        }
    });
    let mut tx = e.store.begin().unwrap();
    let end = tx.status_state().unwrap().unwrap();
    assert_eq!(end.list.seq, start.list.seq + 6 * per);
    assert_eq!(end.next_index, start.next_index + 6 * per as u32);
    let steps: Vec<u64> = tx
        .status_steps_after(start.list.seq)
        .unwrap()
        .iter()
        .map(|s| s.seq)
        .collect();
    assert_eq!(base_steps, 0);
    assert_eq!(
        steps,
        ((start.list.seq + 1)..=end.list.seq).collect::<Vec<_>>()
    );
}

fn applications_and_grants(e: &Engine) {
    let mut tx = e.store.begin().unwrap();
    let app = ApplicationRow {
        id: 0,
        client_id: "platform".into(),
        name: "平台".into(),
        purpose: "核验".into(),
        cert_types: vec!["QC".into(), "WYJ".into()],
        fields: vec!["name".into()],
        callback_url: None,
        identity_provider: true,
        created_at: 10,
        revoked_at: None,
    };
    let id = tx.insert_application(&app).unwrap().unwrap();
    assert_eq!(
        tx.insert_application(&app).unwrap(),
        None,
        "client_id is unique"
    );
    let stored = tx.application_by_client_id("platform").unwrap().unwrap();
    assert_eq!(stored, ApplicationRow { id, ..app.clone() });
    assert_eq!(tx.applications().unwrap().len(), 1);
    let key = AppKeyRow {
        application_id: id,
        kid: "k1".into(),
        jwk: "{}".into(),
        added_at: 10,
        expires_at: None,
        revoked_at: None,
    };
    assert!(tx.insert_app_key(&key).unwrap());
    assert!(
        !tx.insert_app_key(&key).unwrap(),
        "kid is unique per application"
    );
    assert!(tx.set_app_key_expiry(id, "k1", 99).unwrap());
    assert!(tx.revoke_app_key(id, "k1", 50).unwrap());
    assert!(!tx.revoke_app_key(id, "k1", 51).unwrap());
    let keys = tx.app_keys(id).unwrap();
    assert_eq!(
        (keys[0].expires_at, keys[0].revoked_at),
        (Some(99), Some(50))
    );
    assert!(tx.use_assertion_id("platform", "j1", 100, 10).unwrap());
    assert!(
        !tx.use_assertion_id("platform", "j1", 100, 20).unwrap(),
        "replay"
    );
    assert!(tx.use_assertion_id("other", "j1", 100, 20).unwrap());
    // Expired identifiers are forgotten.
    assert!(tx.use_assertion_id("platform", "j1", 300, 200).unwrap());

    let grant = GrantRow {
        id: 0,
        application_id: id,
        holder_id: Some("210102198503122434".into()),
        division: None,
        purpose: "核验".into(),
        valid_from: 10,
        valid_until: 1_000,
        created_at: 10,
        created_by: 1,
        revoked_at: None,
        items: vec![
            GrantItem {
                cert_type: "QC".into(),
                number: Some("210102198503122434".into()),
            },
            GrantItem {
                cert_type: "WYJ".into(),
                number: Some("1".into()),
            },
        ],
    };
    let g1 = tx.insert_grant(&grant).unwrap();
    let g2 = tx
        .insert_grant(&GrantRow {
            holder_id: None,
            division: Some(division(210100)),
            items: vec![GrantItem {
                cert_type: "QC".into(),
                number: None,
            }],
            ..grant.clone()
        })
        .unwrap();
    let got = tx.grant(g1).unwrap().unwrap();
    assert_eq!(
        got,
        GrantRow {
            id: g1,
            ..grant.clone()
        }
    );
    assert_eq!(
        tx.grants(GrantsOf::Holder("210102198503122434"))
            .unwrap()
            .len(),
        1
    );
    let by_division = tx.grants(GrantsOf::Division(division(210100))).unwrap();
    assert_eq!(by_division.len(), 1);
    assert_eq!(by_division[0].id, g2);
    assert_eq!(by_division[0].items[0].number, None);
    assert_eq!(tx.grants(GrantsOf::Application(id)).unwrap().len(), 2);
    assert!(tx.revoke_grant(g1, 500).unwrap());
    assert!(!tx.revoke_grant(g1, 501).unwrap());
    assert_eq!(tx.grant(g1).unwrap().unwrap().revoked_at, Some(500));
    assert!(tx.revoke_application(id, 600).unwrap());
    assert!(!tx.revoke_application(id, 601).unwrap());
    tx.commit().unwrap();
    // A grant names either a holder or a division, never both or neither.
    assert!((e.raw)(&format!(
        "INSERT INTO grants (application_id, holder_id, division, purpose, valid_from, \
         valid_until, created_at, created_by) VALUES ({id}, NULL, NULL, 'x', 0, 1, 0, 1)"
    ))
    .is_err());
}

fn delegations(e: &Engine) {
    let owner = "91210106MA0XN3K249";
    let driver = "210102199001011237";
    let row = DelegationRow {
        id: 0,
        owner_id: owner.into(),
        cert_type: CertType::YSZ,
        number: "D1".into(),
        driver_id: driver.into(),
        driver_name: "李四".into(),
        valid_from: 20_600,
        valid_until: 20_800,
        created_at: 100,
        revoked_at: None,
    };
    let copy = |index: u32, source: u32, delegation_id: i64| DelegatedCopyRow {
        status_index: index,
        delegation_id,
        source_index: source,
        status: Status::Valid,
        signed: vec![0xd2, 1, 2],
        device_key: vec![7; 32],
        issued_at: 100,
    };
    let mut tx = e.store.begin().unwrap();
    let id = tx.insert_delegation(&row).unwrap();
    let other = tx
        .insert_delegation(&DelegationRow {
            driver_id: "210203198808081233".into(),
            ..row.clone()
        })
        .unwrap();
    assert_ne!(id, other);
    assert_eq!(
        tx.delegation(id).unwrap(),
        Some(DelegationRow { id, ..row.clone() })
    );
    assert_eq!(tx.delegation(-5).unwrap(), None);
    let ids = |tx: &mut Box<dyn Tx + '_>, of| -> Vec<i64> {
        tx.delegations(of)
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect()
    };
    assert_eq!(ids(&mut tx, DelegationsOf::Owner(owner)), [id, other]);
    assert_eq!(ids(&mut tx, DelegationsOf::Driver(driver)), [id]);
    assert!(ids(&mut tx, DelegationsOf::Driver(owner)).is_empty());
    tx.insert_delegated_copy(&copy(900_002, 500, id)).unwrap();
    tx.insert_delegated_copy(&copy(900_001, 500, id)).unwrap();
    tx.insert_delegated_copy(&copy(900_003, 501, other))
        .unwrap();
    tx.commit().unwrap();
    // A status index is one copy's (a failed statement aborts a
    // PostgreSQL transaction: its own).
    let mut tx = e.store.begin().unwrap();
    assert!(tx
        .insert_delegated_copy(&copy(900_003, 502, other))
        .is_err());
    drop(tx);

    let mut tx = e.store.begin().unwrap();
    let listed: Vec<u32> = tx
        .delegated_copies(id)
        .unwrap()
        .into_iter()
        .map(|c| c.status_index)
        .collect();
    assert_eq!(listed, [900_001, 900_002]);
    assert_eq!(tx.delegated_copies(id).unwrap()[0], copy(900_001, 500, id));
    let mut of_sources: Vec<u32> = tx
        .copies_of_sources(&[500, 501, 9])
        .unwrap()
        .into_iter()
        .map(|c| c.status_index)
        .collect();
    of_sources.sort_unstable();
    assert_eq!(of_sources, [900_001, 900_002, 900_003]);
    assert!(tx.copies_of_sources(&[]).unwrap().is_empty());
    tx.set_copy_status(900_002, Status::Revoked).unwrap();
    tx.set_copy_signed(900_001, b"re-signed", 150).unwrap();
    let resigned = &tx.delegated_copies(id).unwrap()[0];
    assert_eq!(
        (resigned.signed.as_slice(), resigned.issued_at),
        (&b"re-signed"[..], 150)
    );
    assert_eq!(
        resigned.status,
        copy(900_001, 500, id).status,
        "status kept"
    );
    let valid: Vec<u32> = tx
        .valid_copies()
        .unwrap()
        .into_iter()
        .map(|c| c.status_index)
        .collect();
    assert_eq!(valid, [900_001, 900_003], "not the revoked 900_002");
    let non_valid = tx.non_valid().unwrap();
    assert!(
        non_valid.contains(&(900_002, Status::Revoked)),
        "{non_valid:?}"
    );
    assert!(!non_valid.iter().any(|(i, _)| *i == 900_001));
    assert!(
        non_valid.windows(2).all(|w| w[0].0 < w[1].0),
        "ordered by index"
    );
    assert!(tx.revoke_delegation(id, 200).unwrap());
    assert!(!tx.revoke_delegation(id, 300).unwrap());
    assert_eq!(tx.delegation(id).unwrap().unwrap().revoked_at, Some(200));
    assert!(tx.holder_device_keys(driver).unwrap().is_empty());
    tx.insert_holder_device(driver, Alg::EdDSA, &[8; 32], 5)
        .unwrap();
    tx.insert_holder_device(driver, Alg::EdDSA, &[9; 32], 9)
        .unwrap();
    assert_eq!(
        tx.holder_device_keys(driver).unwrap(),
        [vec![9u8; 32], vec![8u8; 32]]
    );
    tx.commit().unwrap();
}

fn change(kind: &str, number: &str, at: i64) -> CertChangeRow {
    CertChangeRow {
        id: 0,
        at,
        kind: kind.into(),
        cert_type: Some("QC".into()),
        number: Some(number.into()),
        version: Some(2),
        status: Some("valid".into()),
        holder_id: Some(number.into()),
        issuer_division: Some(210100),
        grant_id: None,
    }
}

fn change_feed_and_outbox(e: &Engine) {
    let mut tx = e.store.begin().unwrap();
    assert_eq!(tx.last_cert_change().unwrap(), 0);
    tx.insert_cert_changes(&[]).unwrap();
    tx.insert_cert_changes(&[change("issued", "a", 10), change("suspended", "b", 11)])
        .unwrap();
    tx.commit().unwrap();
    // A second instance on the same database continues the same sequence.
    let mut tx = e.second.begin().unwrap();
    tx.insert_cert_changes(&[CertChangeRow {
        kind: "grant_revoked".into(),
        number: None,
        version: None,
        status: None,
        issuer_division: None,
        grant_id: Some(7),
        ..change("", "c", 12)
    }])
    .unwrap();
    tx.commit().unwrap();
    // One rolled back leaves no visible change.
    let mut tx = e.store.begin().unwrap();
    tx.insert_cert_changes(&[change("cancelled", "d", 13)])
        .unwrap();
    drop(tx);
    let mut tx = e.store.begin().unwrap();
    let all = tx.cert_changes_after(0, 10).unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "{all:?}");
    assert_eq!(
        CertChangeRow {
            id: 0,
            ..all[0].clone()
        },
        change("issued", "a", 10)
    );
    assert_eq!(all[2].grant_id, Some(7));
    assert_eq!(all[2].number, None);
    assert_eq!(tx.last_cert_change().unwrap(), all[2].id);
    let page = tx.cert_changes_after(all[0].id, 1).unwrap();
    assert_eq!(page, vec![all[1].clone()]);
    assert!(tx.cert_changes_after(all[2].id, 10).unwrap().is_empty());

    // The webhook outbox.
    let app = tx
        .insert_application(&ApplicationRow {
            id: 0,
            client_id: "hooked".into(),
            name: "回调".into(),
            purpose: "通知".into(),
            cert_types: vec!["QC".into()],
            fields: vec![],
            callback_url: Some("https://platform.example/hook".into()),
            identity_provider: false,
            created_at: 10,
            revoked_at: None,
        })
        .unwrap()
        .unwrap();
    assert_eq!(tx.webhook(app).unwrap(), None);
    let hook = WebhookRow {
        application_id: app,
        cursor: all[1].id,
        delivered: 0,
        scanned: all[2].id,
        attempts: 0,
        next_attempt_at: 100,
        last_error: None,
    };
    tx.put_webhook(&hook).unwrap();
    assert_eq!(tx.webhook(app).unwrap(), Some(hook.clone()));
    let waiting = |tx: &mut Box<dyn Tx + '_>| {
        let b = tx.backlog().unwrap();
        (b.webhooks_pending, b.webhooks_failing)
    };
    assert_eq!(waiting(&mut tx), (1, 0));
    tx.put_webhook(&WebhookRow {
        attempts: 2,
        ..hook.clone()
    })
    .unwrap();
    assert_eq!(waiting(&mut tx), (1, 1));
    tx.put_webhook(&hook).unwrap();
    assert!(tx.webhooks_due(99, 10).unwrap().is_empty());
    assert_eq!(tx.webhooks_due(100, 10).unwrap(), vec![hook.clone()]);
    assert!(tx.claim_webhook(app, 100, 160).unwrap());
    assert!(!tx.claim_webhook(app, 100, 170).unwrap(), "claimed once");
    assert!(tx.webhooks_due(150, 10).unwrap().is_empty());
    let done = WebhookRow {
        delivered: hook.cursor,
        attempts: 3,
        last_error: Some("refused".into()),
        next_attempt_at: 200,
        ..hook.clone()
    };
    tx.put_webhook(&done).unwrap();
    assert_eq!(tx.webhook(app).unwrap(), Some(done));
    assert!(
        tx.webhooks_due(1_000, 10).unwrap().is_empty(),
        "nothing waits once delivered"
    );
    assert_eq!(waiting(&mut tx), (0, 0));

    // Applications' online verifications.
    let check = AppCheckRow {
        id: 0,
        application_id: app,
        at: 500,
        kind: "code".into(),
        signature: true,
        presented: true,
        presentation: false,
        cert_type: Some("QC".into()),
        number: Some("a".into()),
        cert_division: Some(210100),
        reason: Some("presentation_outside_window".into()),
    };
    tx.insert_app_check(&check).unwrap();
    tx.insert_app_check(&AppCheckRow {
        at: 600,
        kind: "authorisation".into(),
        cert_type: None,
        number: None,
        cert_division: None,
        reason: None,
        ..check.clone()
    })
    .unwrap();
    let got = tx.app_checks(500, 600).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        AppCheckRow {
            id: 0,
            ..got[0].clone()
        },
        check
    );
    assert_eq!(tx.app_checks(0, 1_000).unwrap().len(), 2);
    // Retention: the oldest first, at most `limit` at a time.
    assert_eq!(tx.app_checks_oldest(500).unwrap(), None);
    assert_eq!(tx.app_checks_oldest(1_000).unwrap(), Some(500));
    assert_eq!(tx.purge_app_checks(1_000, 1).unwrap(), 1);
    let left = tx.app_checks(0, 1_000).unwrap();
    assert_eq!((left.len(), left[0].at), (1, 600));
    assert_eq!(tx.purge_app_checks(600, 10).unwrap(), 0);
    tx.commit().unwrap();
}
