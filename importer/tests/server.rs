//! The importer against a real server on 127.0.0.1 (the test kit's): the
//! sample collection files in CSV and JSON lines give the same counts, the
//! report lists what was not signed, and a second run is already complete.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

use importer::{Format, ImportOptions};
use testkit::{SocketServer, TestServer};

fn sample(name: &str, dir: &Path) -> std::path::PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name);
    let to = dir.join(name);
    std::fs::copy(&from, &to).unwrap();
    to
}

#[test]
fn both_sample_files_import_once_and_report_what_was_not_signed() {
    let server = TestServer::new();
    let socket = SocketServer::start_blocking(server.state.clone());
    let dir = testkit::tempdir();
    for (name, format) in [
        ("records.jsonl", Format::Jsonl),
        ("records.csv", Format::Csv),
    ] {
        let file = sample(name, dir.path());
        let mut o = ImportOptions::new(&socket.url, &server.admin, &file, format);
        o.progress = false;
        o.batch = 4;
        let out = importer::run(&o).unwrap();
        let s = out.summary;
        assert_eq!(s.non_conforming, 5, "{name}: {s:?}");
        assert_eq!(s.issued + s.unchanged, 9, "{name}: {s:?}");
        assert_eq!((s.updated, s.refused, s.malformed), (0, 0, 0), "{name}");
        assert_eq!(out.records, 14, "{name}");
        assert!(!out.already_complete);
        let report = std::fs::read_to_string(o.report_path()).unwrap();
        assert!(report.starts_with('\u{feff}'), "{name}: no byte-order mark");
        let rows = report.lines().skip(1).filter(|l| !l.is_empty()).count();
        assert!(rows >= 5, "{name}: a row per reason of the five: {report}");
        assert!(report.contains("non_conforming"), "{report}");

        let again = importer::run(&o).unwrap();
        assert!(again.already_complete, "{name}");
    }
    // The second file held the same records: nothing new was issued.
    let counts = testkit::blocking(|| server.state.store().begin().unwrap().counts().unwrap());
    assert_eq!((counts.certificates, counts.versions), (9, 9));
}

#[test]
fn a_refusing_server_stops_the_run_with_its_reason() {
    let server = TestServer::new();
    let socket = SocketServer::start_blocking(server.state.clone());
    let dir = testkit::tempdir();
    let file = sample("records.jsonl", dir.path());
    let mut o = ImportOptions::new(&socket.url, "lnv1_not-a-token", &file, Format::Jsonl);
    o.progress = false;
    let err = importer::run(&o).unwrap_err();
    assert!(
        matches!(err, importer::ImportError::Refused { status: 401, .. }),
        "{err}"
    );
}
