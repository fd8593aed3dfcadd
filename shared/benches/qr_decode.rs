//! Decode benchmark: synthetic phone-screen photos of certificate QR codes, read by each decoder.
//!
//! `cargo bench -p shared --bench qr_decode` generates, from a fixed seed,
//! [`IMAGES`] photos of 1280×720 pixels showing a phone whose screen holds a
//! QR code of certificate text (`LC1:` and base45, version 11 or 14 at level
//! M), each seen through a real projective warp (the phone tilted 10–30° out
//! of the image plane and rotated 6–14° in it), Gaussian blur, sensor noise,
//! and either low contrast, a bright glare spot, or both. It writes them as
//! PNG under `target/qr-bench/` with `manifest.tsv` (file name, tab, expected
//! text), then reads every file with `shared::qr::decode_image`, with each
//! decoder pass alone, and with zxing-cpp through
//! `shared/benches/zxing_decode.py`, and prints a table of reads and times.
//! Times are the median of [`REPEATS`] runs per image and include the PNG
//! decode, for zxing-cpp too. Set `QR_BENCH_SEED` (a decimal number) to draw
//! another set of photos.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use image::{GrayImage, Rgb, RgbImage};
use shared::qr::{self, DecodeLimits, DecodePass, RenderOptions};

/// Number of generated photos; the last quarter carries version-14 codes.
const IMAGES: usize = 40;
/// Timed runs per image and decoder; the median is kept.
const REPEATS: usize = 3;
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 720;
const SEED: u64 = 0x4c4e_3120_5152_0001;
const BASE45: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// SplitMix64: small, fixed, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    fn sign(&mut self) -> f64 {
        if self.next_u64() & 1 == 0 {
            1.0
        } else {
            -1.0
        }
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Everything that makes one photo.
struct Scene {
    text: String,
    /// Side of the code (quiet zone included) before tilt, as a share of the frame height.
    size: f64,
    /// In-plane rotation, degrees.
    roll: f64,
    /// Out-of-plane tilts about the vertical and horizontal axes, degrees.
    yaw: f64,
    pitch: f64,
    centre: (f64, f64),
    dark: f64,
    light: f64,
    glare: f64,
    glare_at: (f64, f64),
    glare_radius: f64,
    blur: f32,
    noise: f64,
}

impl Scene {
    fn describe(&self) -> String {
        format!(
            "v{} size {:.2} roll {:+.1} yaw {:+.1} pitch {:+.1} dark {:.0} light {:.0} glare {:.0} blur {:.2} noise {:.1}",
            qr::qr_version(&self.text, qr::EcLevel::M).unwrap_or(0),
            self.size,
            self.roll,
            self.yaw,
            self.pitch,
            self.dark,
            self.light,
            self.glare,
            self.blur,
            self.noise
        )
    }
}

fn certificate_text(rng: &mut Rng, len: usize) -> String {
    let mut text = String::from("LC1:");
    while text.len() < len {
        text.push(char::from(
            BASE45[(rng.next_u64() % BASE45.len() as u64) as usize],
        ));
    }
    text
}

fn scene(i: usize, rng: &mut Rng) -> Scene {
    let text = if i >= IMAGES * 3 / 4 {
        certificate_text(rng, 520)
    } else {
        certificate_text(rng, 334)
    };
    // Lighting: 0 low contrast, 1 bright glare, 2 both (milder).
    let (dark, light, glare) = match i % 3 {
        0 => {
            let light = rng.range(150.0, 190.0);
            (light - rng.range(50.0, 75.0), light, 0.0)
        }
        1 => (
            rng.range(25.0, 60.0),
            rng.range(200.0, 240.0),
            rng.range(120.0, 220.0),
        ),
        _ => {
            let light = rng.range(165.0, 200.0);
            (light - rng.range(65.0, 90.0), light, rng.range(60.0, 120.0))
        }
    };
    Scene {
        text,
        size: rng.range(0.30, 0.50),
        roll: rng.sign() * rng.range(6.0, 14.0),
        yaw: rng.sign() * rng.range(10.0, 30.0),
        pitch: rng.sign() * rng.range(0.0, 20.0),
        centre: (
            f64::from(WIDTH) * rng.range(0.35, 0.65),
            f64::from(HEIGHT) * rng.range(0.42, 0.58),
        ),
        dark,
        light,
        glare,
        glare_at: (rng.range(0.2, 0.8), rng.range(0.2, 0.8)),
        glare_radius: rng.range(0.12, 0.30),
        blur: rng.range(0.6, 1.6) as f32,
        noise: rng.range(3.0, 9.0),
    }
}

/// Solves the 3×3 homography (h22 = 1) taking `from[k]` to `to[k]`.
fn homography(from: [(f64, f64); 4], to: [(f64, f64); 4]) -> [f64; 9] {
    let mut a = [[0.0f64; 9]; 8];
    for k in 0..4 {
        let ((x, y), (u, v)) = (from[k], to[k]);
        a[2 * k] = [x, y, 1.0, 0.0, 0.0, 0.0, -x * u, -y * u, u];
        a[2 * k + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -x * v, -y * v, v];
    }
    for col in 0..8 {
        let pivot = (col..8)
            .max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        let pivot_row = a[col];
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (v, p) in row.iter_mut().zip(pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    let mut h = [1.0; 9];
    for (k, row) in a.iter().enumerate() {
        h[k] = row[8] / row[k];
    }
    h
}

fn apply(h: &[f64; 9], (x, y): (f64, f64)) -> (f64, f64) {
    let w = h[6] * x + h[7] * y + h[8];
    (
        (h[0] * x + h[1] * y + h[2]) / w,
        (h[3] * x + h[4] * y + h[5]) / w,
    )
}

/// Where the code's corners land in the photo: a square tilted in 3-D, seen
/// through a pinhole camera, then rolled and moved.
fn corners(s: &Scene) -> [(f64, f64); 4] {
    let half = s.size * f64::from(HEIGHT) / 2.0;
    let focal = 1000.0;
    let (yaw, pitch, roll) = (
        s.yaw.to_radians(),
        s.pitch.to_radians(),
        s.roll.to_radians(),
    );
    [(-half, -half), (half, -half), (half, half), (-half, half)].map(|(x, y)| {
        let (x1, z1) = (x * yaw.cos(), -x * yaw.sin());
        let (y2, z2) = (
            y * pitch.cos() - z1 * pitch.sin(),
            y * pitch.sin() + z1 * pitch.cos(),
        );
        let (px, py) = (focal * x1 / (focal + z2), focal * y2 / (focal + z2));
        (
            s.centre.0 + px * roll.cos() - py * roll.sin(),
            s.centre.1 + px * roll.sin() + py * roll.cos(),
        )
    })
}

/// Draws one photo.
fn photo(s: &Scene, rng: &mut Rng) -> RgbImage {
    let code = match qr::render_gray(
        &s.text,
        &RenderOptions {
            module_px: 1,
            ..RenderOptions::default()
        },
    ) {
        Ok(code) => code,
        Err(e) => panic!("render failed: {e}"),
    };
    let m = f64::from(code.width());
    // Photo pixel -> phone-plane coordinates in modules; the code with its
    // quiet zone spans [0, m) on both axes.
    let to_plane = homography(corners(s), [(0.0, 0.0), (m, 0.0), (m, m), (0.0, m)]);
    let glare_c = (s.glare_at.0 * m, s.glare_at.1 * m);
    let glare_r2 = (s.glare_radius * m).powi(2);

    let luminance = |x: f64, y: f64| -> (f64, [f64; 3]) {
        let (u, v) = apply(&to_plane, (x, y));
        let on_screen = (-3.0..m + 3.0).contains(&u) && (-0.55 * m..1.45 * m).contains(&v);
        let on_phone = (-5.0..m + 5.0).contains(&u) && (-0.7 * m..1.65 * m).contains(&v);
        if on_screen {
            let value = if (0.0..m).contains(&u) && (0.0..m).contains(&v) {
                let dark = code.get_pixel(u as u32, v as u32).0[0] < 128;
                if dark {
                    s.dark
                } else {
                    s.light
                }
            } else {
                // Lines of text above and below the code.
                let line = (v.rem_euclid(6.0) < 2.2) && (2.0..m - 2.0).contains(&u);
                let text_zone =
                    (-0.45 * m..-0.1 * m).contains(&v) || (1.1 * m..1.4 * m).contains(&v);
                if line && text_zone && (u * 1.7).sin() > -0.3 {
                    s.dark + 0.4 * (s.light - s.dark)
                } else {
                    s.light
                }
            };
            let d2 = (u - glare_c.0).powi(2) + (v - glare_c.1).powi(2);
            let value = value + s.glare * (-d2 / (2.0 * glare_r2)).exp();
            (value, [0.96, 0.99, 1.0])
        } else if on_phone {
            (28.0, [1.0, 1.0, 1.0])
        } else {
            // A wooden desk lit from the left.
            let grain = 8.0 * (y * 0.05 + (x * 0.013).sin() * 3.0).sin();
            (150.0 - 60.0 * x / f64::from(WIDTH) + grain, [1.0, 0.8, 0.6])
        }
    };

    // 3×3 supersampling per pixel stands in for the lens.
    let mut out = RgbImage::new(WIDTH, HEIGHT);
    for (x, y, pixel) in out.enumerate_pixels_mut() {
        let mut acc = [0.0f64; 3];
        for sy in 0..3 {
            for sx in 0..3 {
                let (fx, fy) = (
                    f64::from(x) + (f64::from(sx) + 0.5) / 3.0,
                    f64::from(y) + (f64::from(sy) + 0.5) / 3.0,
                );
                let (value, tint) = luminance(fx, fy);
                for c in 0..3 {
                    acc[c] += value * tint[c];
                }
            }
        }
        *pixel = Rgb(acc.map(|a| (a / 9.0).clamp(0.0, 255.0) as u8));
    }
    let mut out = image::imageops::blur(&out, s.blur);
    for pixel in out.pixels_mut() {
        let shared_noise = rng.normal() * s.noise;
        for c in pixel.0.iter_mut() {
            let v = f64::from(*c) + shared_noise + rng.normal() * s.noise * 0.3;
            *c = v.clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Times one decoder over all photos.
struct Outcome {
    label: String,
    ok: BTreeSet<String>,
    times_ms: Vec<f64>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn p95(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 * 0.95) as usize).min(v.len() - 1)]
}

fn run_decoder(
    label: &str,
    passes: &[DecodePass],
    photos: &[(String, String, Vec<u8>)],
) -> Outcome {
    let limits = DecodeLimits::default();
    let mut ok = BTreeSet::new();
    let mut times_ms = Vec::new();
    for (name, expected, bytes) in photos {
        let mut runs = Vec::new();
        let mut read = false;
        for _ in 0..REPEATS {
            let started = Instant::now();
            let outcome = qr::decode_image_with_passes(bytes, &limits, passes);
            runs.push(started.elapsed().as_secs_f64() * 1000.0);
            read = matches!(&outcome, Ok(texts) if texts.contains(expected));
        }
        if read {
            ok.insert(name.clone());
        }
        times_ms.push(median(runs));
    }
    Outcome {
        label: label.to_owned(),
        ok,
        times_ms,
    }
}

struct Zxing {
    ok: BTreeSet<String>,
    mean_ms: f64,
    p95_ms: f64,
    decode_mean_ms: f64,
}

fn run_zxing(dir: &Path) -> Result<Zxing, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/zxing_decode.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(dir)
        .output()
        .map_err(|e| format!("could not run python3: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{} exited with {}: {}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or("no summary line from zxing_decode.py")?;
    let json: serde_json::Value =
        serde_json::from_str(summary).map_err(|e| format!("bad summary line: {e}"))?;
    let number = |key: &str| json[key].as_f64().unwrap_or(f64::NAN);
    Ok(Zxing {
        ok: json["ok_files"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        mean_ms: number("mean_ms"),
        p95_ms: number("p95_ms"),
        decode_mean_ms: number("decode_mean_ms"),
    })
}

fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("qr-bench")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = bench_dir();
    std::fs::create_dir_all(&dir)?;
    // QR_BENCH_SEED draws a different set, to check that the pass choice
    // holds beyond the set it was made on.
    let seed = match std::env::var("QR_BENCH_SEED") {
        Ok(s) => s.parse::<u64>()?,
        Err(_) => SEED,
    };
    let mut rng = Rng(seed);
    let mut photos = Vec::new();
    let mut manifest = String::new();
    let mut scenes = String::new();
    let started = Instant::now();
    for i in 0..IMAGES {
        let s = scene(i, &mut rng);
        let image = photo(&s, &mut rng);
        let name = format!("p{i:02}.png");
        image.save(dir.join(&name))?;
        writeln!(manifest, "{name}\t{}", s.text)?;
        writeln!(scenes, "{name}\t{}", s.describe())?;
        photos.push((
            name,
            s.text,
            std::fs::read(dir.join(format!("p{i:02}.png")))?,
        ));
    }
    std::fs::write(dir.join("manifest.tsv"), manifest)?;
    std::fs::write(dir.join("scenes.tsv"), scenes)?;
    println!(
        "generated {IMAGES} photos (seed {seed:#x}) in {} in {:.1} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );

    // PNG decode alone, to read the tables below.
    let mut png_ms = Vec::new();
    for (_, _, bytes) in &photos {
        let started = Instant::now();
        let gray: GrayImage = image::load_from_memory(bytes)?.into_luma8();
        png_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(gray);
    }

    let mut outcomes = vec![run_decoder(
        "shared::qr::decode_image",
        qr::DEFAULT_PASSES,
        &photos,
    )];
    for pass in [
        DecodePass::Rxing,
        DecodePass::RxingLocalMean,
        DecodePass::RxingUpscaledLocalMean,
        DecodePass::RxingHalf,
        DecodePass::RxingGlobal,
        DecodePass::RxingSharpened,
        DecodePass::RxingUpscaled,
        DecodePass::Rqrr,
    ] {
        outcomes.push(run_decoder(
            &format!("  {pass:?} pass alone"),
            &[pass],
            &photos,
        ));
    }
    let zxing = run_zxing(&dir);

    println!();
    println!(
        "{:<34} {:>9} {:>9} {:>9}",
        "decoder", "read", "mean ms", "p95 ms"
    );
    for o in &outcomes {
        println!(
            "{:<34} {:>5}/{:<3} {:>9.1} {:>9.1}",
            o.label,
            o.ok.len(),
            IMAGES,
            mean(&o.times_ms),
            p95(&o.times_ms)
        );
    }
    match &zxing {
        Ok(z) => println!(
            "{:<34} {:>5}/{:<3} {:>9.1} {:>9.1}   (decode alone {:.1} ms)",
            "zxing-cpp (python)",
            z.ok.len(),
            IMAGES,
            z.mean_ms,
            z.p95_ms,
            z.decode_mean_ms
        ),
        Err(note) => println!("{:<34} not run: {note}", "zxing-cpp (python)"),
    }
    println!("\nimages read (numbers of pNN.png):");
    let ids = |set: &BTreeSet<String>| {
        set.iter()
            .map(|n| {
                n.trim_start_matches('p')
                    .trim_end_matches(".png")
                    .to_owned()
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    for o in &outcomes {
        println!("{:<34} {}", o.label, ids(&o.ok));
    }
    if let Ok(z) = &zxing {
        println!("{:<34} {}", "zxing-cpp (python)", ids(&z.ok));
    }
    println!(
        "(every time includes the PNG decode: {:.1} ms mean in Rust)",
        mean(&png_ms)
    );

    let ours = &outcomes[0].ok;
    if let Ok(z) = &zxing {
        let only_zxing: Vec<_> = z.ok.difference(ours).cloned().collect();
        let only_ours: Vec<_> = ours.difference(&z.ok).cloned().collect();
        println!("read by zxing-cpp only: {only_zxing:?}");
        println!("read by ours only:      {only_ours:?}");
        println!(
            "ours {} zxing-cpp ({} vs {})",
            if ours.len() >= z.ok.len() { ">=" } else { "<" },
            ours.len(),
            z.ok.len()
        );
    }
    let missed: Vec<_> = photos
        .iter()
        .filter(|(name, _, _)| !ours.contains(name))
        .map(|(name, _, _)| name.as_str())
        .collect();
    println!(
        "missed by ours: {missed:?} (scenes in {})",
        dir.join("scenes.tsv").display()
    );
    Ok(())
}
