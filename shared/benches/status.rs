//! Benchmarks of the status list: lookup, snapshot encode/decode, and the
//! payload sizes (printed) for snapshots and deltas.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use shared::status::{Encoding, Status, StatusCache, StatusDelta, StatusList, StatusSnapshot};

const ENTRIES: usize = 1_000_000;

/// splitmix64, for reproducible data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> u32 {
        (self.next() % n as u64) as u32
    }
}

/// `count` distinct random indices below `ENTRIES` set to `status` in `list`.
fn scatter(rng: &mut SplitMix64, list: &mut StatusList, count: usize, status: Status) {
    let mut done = 0;
    while done < count {
        let index = rng.below(ENTRIES);
        if list.get(index) != Some(status) {
            list.set(index, status).unwrap();
            done += 1;
        }
    }
}

fn list_with_revoked(seed: u64, revoked: usize) -> StatusList {
    let mut list = StatusList::new(ENTRIES).unwrap();
    scatter(&mut SplitMix64(seed), &mut list, revoked, Status::Revoked);
    list
}

fn report_sizes(_: &mut Criterion) {
    for (label, revoked) in [("0.1%", 1_000), ("1%", 10_000), ("5%", 50_000)] {
        let snapshot = StatusSnapshot {
            seq: 1_000,
            list: list_with_revoked(1, revoked),
        };
        let deflate = snapshot.to_cbor_with(Encoding::Deflate).len();
        let rice = snapshot.to_cbor_with(Encoding::Rice).len();
        let chosen = snapshot.to_cbor().len();
        eprintln!(
            "snapshot 1M entries, {label} revoked: {chosen} bytes (deflate {deflate}, rice {rice})"
        );
    }
    let old = list_with_revoked(1, 10_000);
    for changes in [10, 100, 1_000, 10_000] {
        let mut new = old.clone();
        scatter(&mut SplitMix64(2), &mut new, changes, Status::Suspended);
        let delta = StatusDelta::between(1_000, 1_001, &old, &new).unwrap();
        assert_eq!(delta.changes.len(), changes);
        let bytes = delta.to_cbor().unwrap().len();
        eprintln!(
            "delta of {changes} changes over 1M entries: {bytes} bytes, {:.2} bytes/change \
             (+~90 bytes of COSE_Sign1: {:.2})",
            bytes as f64 / changes as f64,
            (bytes + 90) as f64 / changes as f64
        );
    }
}

fn lookup(c: &mut Criterion) {
    let snapshot = StatusSnapshot {
        seq: 1,
        list: list_with_revoked(1, 10_000),
    };
    let cache = StatusCache::from_snapshot(snapshot);
    let mut rng = SplitMix64(3);
    let indices: Vec<u32> = (0..4096).map(|_| rng.below(ENTRIES)).collect();
    let mut i = 0;
    c.bench_function("status_cache_get", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            black_box(cache.get(black_box(indices[i])))
        })
    });
}

fn snapshot_codec(c: &mut Criterion) {
    let snapshot = StatusSnapshot {
        seq: 1,
        list: list_with_revoked(1, 10_000),
    };
    let mut group = c.benchmark_group("snapshot_1m_1pct");
    group.sample_size(20);
    group.bench_function("to_cbor_auto", |b| {
        b.iter(|| black_box(&snapshot).to_cbor())
    });
    group.bench_function("to_cbor_rice", |b| {
        b.iter(|| black_box(&snapshot).to_cbor_with(Encoding::Rice))
    });
    let rice = snapshot.to_cbor_with(Encoding::Rice);
    let deflate = snapshot.to_cbor_with(Encoding::Deflate);
    group.bench_function("from_cbor_rice", |b| {
        b.iter(|| StatusSnapshot::from_cbor(black_box(&rice), 1 << 20).unwrap())
    });
    group.bench_function("from_cbor_deflate", |b| {
        b.iter(|| StatusSnapshot::from_cbor(black_box(&deflate), 1 << 20).unwrap())
    });
    group.finish();
}

fn delta_apply(c: &mut Criterion) {
    let old = list_with_revoked(1, 10_000);
    let mut new = old.clone();
    scatter(&mut SplitMix64(2), &mut new, 1_000, Status::Suspended);
    let delta = StatusDelta::between(1, 2, &old, &new).unwrap();
    let bytes = delta.to_cbor().unwrap();
    let cache = StatusCache::from_snapshot(StatusSnapshot { seq: 1, list: old });
    c.bench_function("delta_1000_changes_decode_apply", |b| {
        b.iter_batched_ref(
            || cache.clone(),
            |cache| {
                let delta = StatusDelta::from_cbor(black_box(&bytes), 1 << 20).unwrap();
                cache.apply(&delta).unwrap();
            },
            criterion::BatchSize::LargeInput,
        )
    });
}

criterion_group!(benches, report_sizes, lookup, snapshot_codec, delta_apply);
criterion_main!(benches);
