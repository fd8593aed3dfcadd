//! bytes→verdict including the durable log append (target ≤ 1 ms p99 on
//! one core), single thread, against a 1,000,000-entry status list loaded
//! from `client.db`; and the peak resident memory of the field-client
//! binary verifying against that list.
//!
//! `cargo bench -p field-client --bench check` (`CHECK_N` checks, 3000 by
//! default). The database lives in `CHECK_DIR` when set (to measure on the
//! device's real file system), else in a temporary directory under
//! `target/`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Instant;

#[path = "common.rs"]
mod common;
use common::*;
use field_client::check;
use field_client::db::Db;

fn main() {
    let n: usize = std::env::var("CHECK_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let base = std::env::var("CHECK_DIR").map_or_else(
        |_| std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        std::path::PathBuf::from,
    );
    let tmp = tempfile::tempdir_in(&base).unwrap();
    let dir = tmp.path().join("dev");
    let texts = fixture(&dir);
    let mut db = Db::open(&dir).unwrap();

    // A load verifies the seal, the trust list, the snapshot and the deltas
    // again; a second load of unchanged bytes reuses that result.
    let t = Instant::now();
    let held = db.lists().unwrap();
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let again = db.lists().unwrap();
    let memo_ms = t.elapsed().as_secs_f64() * 1e3;
    assert!(matches!(again, Ok(Some(_))));
    let lists = held.as_ref().unwrap().as_ref().unwrap();
    let entries = lists.status.as_ref().unwrap().0.list().len();

    // Warm up, then time each check: verify + append + fsync.
    for text in texts.iter().take(3) {
        check::check(&mut db, &held, text, NOW).unwrap();
    }
    let mut full = Vec::with_capacity(n);
    let mut verify_only = Vec::with_capacity(n);
    for i in 0..n {
        let text = &texts[i % texts.len()];
        let t = Instant::now();
        let o = check::evaluate(&held, text, NOW);
        verify_only.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(o.verdict.as_str(), "valid", "{:?}", o.reason);
        let t = Instant::now();
        let o = check::check(&mut db, &held, text, NOW).unwrap();
        full.push(t.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(o);
    }
    full.sort_by(f64::total_cmp);
    verify_only.sort_by(f64::total_cmp);
    println!("status list: {entries} entries; loading and verifying client.db lists took {load_ms:.2} ms, a reload of unchanged bytes {memo_ms:.2} ms");
    println!(
        "verify only (µs):        p50 {:8.1}  p99 {:8.1}  max {:8.1}",
        percentile(&verify_only, 0.5),
        percentile(&verify_only, 0.99),
        verify_only[n - 1]
    );
    println!(
        "bytes→verdict + log (µs): p50 {:8.1}  p99 {:8.1}  max {:8.1}   ({n} checks, WAL synchronous=FULL)",
        percentile(&full, 0.5),
        percentile(&full, 0.99),
        full[n - 1]
    );
    // The floor: one small append and fdatasync on the same file system,
    // what any durable-before-shown log pays per check.
    let mut floor = Vec::with_capacity(n);
    {
        use std::io::Write as _;
        let mut f = std::fs::File::create(tmp.path().join("fsync-floor")).unwrap();
        for _ in 0..n {
            let t = Instant::now();
            f.write_all(&[0u8; 256]).unwrap();
            f.sync_data().unwrap();
            floor.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    floor.sort_by(f64::total_cmp);
    println!(
        "raw append+fdatasync (µs): p50 {:8.1}  p99 {:8.1}  max {:8.1}   (the file system's floor)",
        percentile(&floor, 0.5),
        percentile(&floor, 0.99),
        floor[n - 1]
    );
    println!(
        "bench process peak RSS: {} KiB",
        vm_hwm_kib().map_or("?".into(), |k| k.to_string())
    );
    drop(db);
    let d = dir.to_str().unwrap();
    if let Some((kib, code)) =
        child_peak_kib(&["--data", d, "--json", "verify", "--text", &texts[0]])
    {
        println!("field-client verify --text, 1M-entry list: peak RSS {kib} KiB ({:.1} MiB), exit {code}", kib as f64 / 1024.0);
    }
    if let Some((kib, code)) = child_peak_kib(&["--data", d, "--json", "status"]) {
        println!(
            "field-client status, 1M-entry list: peak RSS {kib} KiB ({:.1} MiB), exit {code}",
            kib as f64 / 1024.0
        );
    }
    // The same check with a photo: the image decoder's buffers dominate.
    let photo = tmp.path().join("photo.jpg");
    common_photo(&texts[0], &photo);
    if let Some((kib, code)) = child_peak_kib(&[
        "--data",
        d,
        "--json",
        "verify",
        "--image",
        photo.to_str().unwrap(),
    ]) {
        println!("field-client verify --image (1280×720 JPEG), 1M-entry list: peak RSS {kib} KiB ({:.1} MiB), exit {code}", kib as f64 / 1024.0);
    }
}

fn common_photo(text: &str, path: &std::path::Path) {
    let img = photo::synth(text, 0);
    img.save(path).unwrap();
}

#[path = "photo.rs"]
mod photo;
