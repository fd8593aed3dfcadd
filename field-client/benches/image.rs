//! image→verdict on 1280×720 photos: JPEG bytes → `shared::qr::decode_image`
//! → offline verify → durable log append, single thread.
//!
//! `cargo bench -p field-client --bench image` (`IMAGE_N` photos, 20 by
//! default).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Cursor;
use std::time::Instant;

#[path = "common.rs"]
mod common;
#[path = "photo.rs"]
mod photo;
use common::*;
use field_client::check;
use field_client::db::Db;
use shared::qr::{decode_image, DecodeLimits};

fn main() {
    let n: usize = std::env::var("IMAGE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dir = tmp.path().join("dev");
    let texts = fixture(&dir);
    let mut db = Db::open(&dir).unwrap();
    let held = db.lists().unwrap();
    let photos: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let img = photo::synth(&texts[i % texts.len()], i as u64);
            let mut jpeg = Vec::new();
            image::DynamicImage::ImageLuma8(img)
                .write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
                .unwrap();
            jpeg
        })
        .collect();
    let mut times = Vec::new();
    let mut read = 0;
    for (i, jpeg) in photos.iter().enumerate() {
        let t = Instant::now();
        let found = decode_image(jpeg, &DecodeLimits::default());
        let decoded = t.elapsed().as_secs_f64() * 1e3;
        let Ok(found) = found else {
            println!("photo {i}: {:?} after {decoded:.1} ms", found.err());
            continue;
        };
        for text in &found {
            let o = check::check(&mut db, &held, text, NOW).unwrap();
            assert_eq!(o.verdict.as_str(), "valid");
        }
        read += usize::from(found.contains(&texts[i % texts.len()]));
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "image→verdict + log, 1280×720 JPEG ({read}/{n} read): p50 {:.1} ms  p90 {:.1} ms  max {:.1} ms",
        percentile(&times, 0.5),
        percentile(&times, 0.9),
        times.last().copied().unwrap_or(0.0)
    );
}
