//! The officer's scanner page end to end: the demo server on 127.0.0.1, a
//! device enrolled and synced with the real `field-client`, and
//! `field-client serve` driven in headless Chromium with a fake camera by
//! `scanner/test/e2e.mjs`.
//!
//! The camera plays Y4M videos this test writes (grey frames, then the
//! code): every demo sample QR, a distorted photo (perspective tilt,
//! rotation, blur, noise, glare, low contrast), a live holder presentation
//! (a holder key registered with the server, the re-issued holder-bound
//! certificate presented for the current slot) and a replayed, stale
//! presentation. Each must show the verdict the demo index promises within
//! 1 s of the first frame that shows the code, with both decoders (in the
//! page: zxing-wasm; `?decoder=rust`: frames sent to field-client). Also:
//! keyboard-wedge input, a repeated scan counted once, the decision buttons
//! and the day's list, the sync button, hostile text and bad uploads, and
//! the Host / Origin guard against other origins and DNS rebinding.
//! Screenshots of each result screen at phone (390×844) and desktop
//! (1280×800) width go to `target/screenshots/scanner/`; timings to
//! `target/screenshots/scanner/bench.json`.
//!
//! Needs Chromium and the scanner built with its npm packages (`scripts/build-web`;
//! the workspace's packages are in the root `node_modules`);
//! without them the test fails saying so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use image::{GrayImage, Luma};
use serde_json::{json, Value};
use shared::crypto::{Alg, SigningKey};
use shared::qr::{render_gray, RenderOptions};
use shared::qrtext::{self, Kind};
use testkit::{agent, binary, describe, field_client, free_port, ChildServer as Server};

const W: u32 = 640;
const H: u32 = 480;
const FPS: usize = 15;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn prerequisites() -> PathBuf {
    testkit::browser::front_end("scanner", &["zxing_reader.wasm"]);
    testkit::browser::chromium()
}

/// A Y4M video (4:2:0, grey chroma): `blank` seconds of flat grey, then
/// `show` seconds of `frame`.
fn write_y4m(path: &Path, frame: &GrayImage, blank: f64, show: f64) {
    assert_eq!(frame.dimensions(), (W, H));
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "YUV4MPEG2 W{W} H{H} F{FPS}:1 Ip A1:1 C420jpeg").unwrap();
    let chroma = vec![128u8; (W * H / 2) as usize];
    let grey = vec![128u8; (W * H) as usize];
    let blank_frames = (blank * FPS as f64) as usize;
    let show_frames = (show * FPS as f64) as usize;
    for i in 0..blank_frames + show_frames {
        f.write_all(b"FRAME\n").unwrap();
        f.write_all(if i < blank_frames {
            &grey
        } else {
            frame.as_raw()
        })
        .unwrap();
        f.write_all(&chroma).unwrap();
    }
    f.flush().unwrap();
}

/// The code centred on a light background, as a phone screen held flat.
fn flat_frame(code: &GrayImage) -> GrayImage {
    let side = 420;
    let code = image::imageops::resize(code, side, side, image::imageops::FilterType::Nearest);
    let mut out = GrayImage::from_pixel(W, H, Luma([200]));
    image::imageops::overlay(
        &mut out,
        &code,
        i64::from((W - side) / 2),
        i64::from((H - side) / 2),
    );
    out
}

/// Solves the 3×3 homography taking `src` corners to `dst` corners.
fn homography(src: [(f64, f64); 4], dst: [(f64, f64); 4]) -> [f64; 9] {
    let mut a = [[0f64; 9]; 8];
    for (i, ((x, y), (u, v))) in src.iter().zip(dst.iter()).enumerate() {
        a[2 * i] = [*x, *y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, *u];
        a[2 * i + 1] = [0.0, 0.0, 0.0, *x, *y, 1.0, -v * x, -v * y, *v];
    }
    for c in 0..8 {
        let p = (c..8)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap();
        a.swap(c, p);
        for r in 0..8 {
            if r != c {
                let k = a[r][c] / a[c][c];
                let pivot = a[c];
                for (x, p) in a[r].iter_mut().zip(pivot).skip(c) {
                    *x -= k * p;
                }
            }
        }
    }
    let h: Vec<f64> = (0..8).map(|i| a[i][8] / a[i][i]).collect();
    [h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0]
}

/// A distorted phone photo of `code`: the screen tilted (keystone),
/// rotated 11°, blurred, with sensor noise, a glare gradient and low
/// contrast.
fn distorted_frame(code: &GrayImage) -> GrayImage {
    let n = f64::from(code.width());
    let (cx, cy) = (f64::from(W) / 2.0, f64::from(H) / 2.0);
    let rot = 11f64.to_radians();
    // A trapezoid (far edge narrower), then rotated about the centre.
    let quad = [
        (-190.0, -170.0),
        (170.0, -195.0),
        (205.0, 200.0),
        (-200.0, 185.0),
    ]
    .map(|(x, y): (f64, f64)| {
        (
            cx + x * rot.cos() - y * rot.sin(),
            cy + x * rot.sin() + y * rot.cos(),
        )
    });
    // Output pixel → code pixel.
    let h = homography(quad, [(0.0, 0.0), (n, 0.0), (n, n), (0.0, n)]);
    let mut img = GrayImage::new(W, H);
    let mut seed = 0x5eed_u64;
    for y in 0..H {
        for x in 0..W {
            let (fx, fy) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
            let w = h[6] * fx + h[7] * fy + h[8];
            let u = (h[0] * fx + h[1] * fy + h[2]) / w;
            let v = (h[3] * fx + h[4] * fy + h[5]) / w;
            let inside = u >= 0.0 && v >= 0.0 && u < n && v < n;
            let base = if inside {
                f64::from(code.get_pixel(u as u32, v as u32)[0])
            } else {
                90.0 // the phone's dark body around the screen
            };
            // Low contrast: 255 → 185, 0 → 70; glare grows to the right.
            let glare = 40.0 * (f64::from(x) / f64::from(W)).powi(2);
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let noise = ((seed >> 33) % 25) as f64 - 12.0;
            let value = 70.0 + base * (115.0 / 255.0) + glare + noise;
            img.put_pixel(x, y, Luma([value.clamp(0.0, 255.0) as u8]));
        }
    }
    image::imageops::blur(&img, 1.2)
}

fn qr_image(text: &str) -> GrayImage {
    render_gray(text, &RenderOptions::default()).unwrap()
}

/// `field-client serve`, killed when dropped.
struct Scanner {
    child: Child,
    url: String,
    port: u16,
}

impl Scanner {
    fn start(device: &Path) -> Scanner {
        Scanner::start_at(device, None)
    }

    /// Started with its clock at `clock` (`FIELD_CLIENT_NOW`) when given.
    fn start_at(device: &Path, clock: Option<i64>) -> Scanner {
        let port = free_port().unwrap();
        // SCANNER_FIELD_CLIENT picks another build (the benchmark runs the
        // release binary: `cargo build --release -p field-client`).
        let exe = std::env::var_os("SCANNER_FIELD_CLIENT")
            .map_or_else(|| binary("field-client").unwrap(), PathBuf::from);
        let mut cmd = Command::new(exe);
        if let Some(t) = clock {
            cmd.env("FIELD_CLIENT_NOW", t.to_string());
        }
        let child = cmd
            .arg("--data")
            .arg(device)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            if let Ok(r) = agent().get(format!("{url}/api/status")).call() {
                if r.status() == 200 {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "field-client serve did not answer"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Scanner { child, url, port }
    }

    /// A raw HTTP/1.1 request (the Host header as given); status and body.
    fn raw(&self, request: &str) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        let status = out
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (status, out)
    }
}

impl Drop for Scanner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_script(_chromium: &Path, work: &Path, name: &str, config: Value) -> Value {
    let report =
        testkit::browser::run_script(&repo().join("scanner/test/e2e.mjs"), work, name, &config);
    let _ = std::fs::write(
        testkit::browser::screenshots("scanner").join(format!("{name}-report.json")),
        serde_json::to_vec(&report).unwrap(),
    );
    report
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A holder presentation of `cert_text` signed by `key` at `at`.
fn presentation(cert_text: &str, key: &SigningKey, at: i64) -> String {
    let (kind, envelope) = qrtext::decode(cert_text).unwrap();
    assert_eq!(kind, Kind::Certificate);
    qrtext::encode(
        Kind::Presentation,
        &shared::presentation::present(&envelope, key, at),
    )
}

#[test]
fn the_officers_scanner() {
    let chromium = prerequisites();
    let shots = repo().join("target/screenshots/scanner");
    std::fs::create_dir_all(&shots).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let server = Server::demo(&work.join("server")).unwrap();
    let index: Value = serde_json::from_str(&server.demo_file("index.json").unwrap()).unwrap();
    let samples = index["samples"].as_array().unwrap().clone();
    assert!(samples.len() >= 9);

    // The officer's device: enrolled and synced by the CLI.
    let device = work.join("device");
    let token = server.demo_file("officer-token").unwrap();
    let out = field_client(
        &device,
        &["enroll", "--server", &server.url, "--token", &token],
    )
    .unwrap();
    assert!(out.status.success(), "enroll: {}", describe(&out));
    let out = field_client(&device, &["sync"]).unwrap();
    assert!(out.status.success(), "sync: {}", describe(&out));

    // A holder registers a phone key: the certificate is re-issued bound to
    // it (the device learns the new status list through the sync button).
    let holders: Value = serde_json::from_str(&server.demo_file("holders.json").unwrap()).unwrap();
    let holder = &holders["holders"][0];
    let holder_token = server
        .demo_file(holder["token_file"].as_str().unwrap())
        .unwrap();
    let holder_key = SigningKey::from_secret_bytes(Alg::EdDSA, &[7u8; 32]).unwrap();
    let body = json!({
        "alg": "EdDSA",
        "public_key": base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(holder_key.public_key().to_bytes()),
    });
    let mut r = agent()
        .post(format!("{}/api/v1/holder/devices", server.url))
        .header("authorization", format!("Bearer {holder_token}"))
        .send_json(&body)
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "{}",
        r.body_mut().read_to_string().unwrap()
    );
    let registered: Value = r.body_mut().read_json().unwrap();
    let bound = registered["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["holder_bound"] == true && c["status"] == "valid")
        .expect("a holder-bound certificate")
        .clone();
    let bound_text = bound["qr"].as_str().unwrap().to_string();

    let scanner = Scanner::start(&device);

    // The guard: Host must name this server, Origin must be this origin.
    let port = scanner.port;
    let (s, _) = scanner.raw(&format!(
        "GET /api/status HTTP/1.1\r\nHost: rebind.example:{port}\r\nConnection: close\r\n\r\n"
    ));
    assert_eq!(s, 403, "a rebound host name is refused");
    let (s, _) = scanner.raw("GET / HTTP/1.0\r\n\r\n");
    assert_eq!(s, 403, "no Host is refused");
    let post = |origin: &str| {
        let body = r#"{"text":"hello"}"#;
        scanner.raw(&format!(
            "POST /api/check HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{origin}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ))
    };
    assert_eq!(post("Origin: http://evil.example\r\n").0, 403);
    assert_eq!(
        post(&format!("Origin: http://127.0.0.1:{}\r\n", port + 1)).0,
        403
    );
    assert_eq!(post("").0, 403, "a POST without Origin is refused");
    let (s, answer) = post(&format!("Origin: http://localhost:{port}\r\n"));
    assert_eq!(s, 200, "{answer}");
    assert!(answer.contains("\"verdict\""), "{answer}");
    let (s, page) = scanner.raw(&format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    ));
    assert_eq!(s, 200);
    assert!(page
        .to_ascii_lowercase()
        .contains("content-security-policy: default-src 'none'"));
    let etag = page
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("an ETag")
        .trim()
        .to_string();
    let (s, _) = scanner.raw(&format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nIf-None-Match: {etag}\r\nConnection: close\r\n\r\n"
    ));
    assert_eq!(s, 304, "ETag revalidation");

    // The UI session: sync button, wedge, decision, repeat, hostile text, bad uploads.
    let wedge_sample = samples
        .iter()
        .find(|s| s["expected"]["reason"] == "revoked")
        .unwrap_or(&samples[0]);
    let mut hostile =
        String::from("<img src=x onerror=alert(1)><script>alert(2)</script>\u{7}\u{1b}[2J");
    while hostile.chars().count() < 4000 {
        hostile.push_str("<b>粗</b>&amp;\u{202e}");
    }
    let hostile: String = hostile.chars().take(4000).collect();
    let ui = run_script(
        &chromium,
        work,
        "ui",
        json!({
            "url": scanner.url, "shots": shots, "mode": "ui",
            "wedge": {"text": wedge_sample["qr_text"], "name": wedge_sample["expected"]["reason"].as_str().unwrap_or("valid")},
            "hostile": hostile,
            "rebindHost": "rebind.test",
        }),
    );
    assert_eq!(ui["sync"]["state"], "ok", "sync button: {}", ui["sync"]);
    assert_eq!(
        ui["wedge"]["verdict"], wedge_sample["expected"]["verdict"],
        "wedge: {}",
        ui["wedge"]
    );
    assert_eq!(ui["wedge"]["reason"], wedge_sample["expected"]["reason"]);
    assert!(
        ui["decided"].as_str().unwrap().contains("拒绝"),
        "{}",
        ui["decided"]
    );
    assert!(
        ui["today"]["items"][0].as_str().unwrap().contains("拒绝"),
        "the day's list shows the refusal: {}",
        ui["today"]
    );
    assert!(ui["today"]["date"].as_str().unwrap().contains("北京时间"));
    assert_eq!(ui["repeat_shown"], 1, "a repeated scan is one check");
    assert_eq!(ui["repeat_checks"], 0, "a repeated scan is one check");
    // Not this system's format: refused as not a certificate (or, under the
    // unrecognised-code policy, not confirmable), never valid.
    assert_ne!(ui["hostile"]["verdict"], "valid", "{}", ui["hostile"]);
    assert!(
        ["not_a_certificate", "unrecognised_code"]
            .contains(&ui["hostile"]["reason"].as_str().unwrap_or("")),
        "{}",
        ui["hostile"]
    );
    assert!(
        ui["hostile"]["screen"]["verdictZh"] == "无效"
            || ui["hostile"]["screen"]["verdictZh"] == "无法确认"
    );
    assert_eq!(
        ui["hostile"]["injected"], 0,
        "markup was rendered: {}",
        ui["hostile"]
    );
    assert_eq!(ui["dialogs"], json!([]), "a script ran: {}", ui["dialogs"]);
    let bad = &ui["bad"];
    assert_eq!(bad["text_not_image"]["status"], 415, "{bad}");
    assert_eq!(bad["text_not_image"]["body"]["error"], "not_an_image");
    assert_eq!(bad["wrong_type"]["status"], 415);
    assert_eq!(bad["corrupt_png"]["status"], 422, "{bad}");
    assert_eq!(bad["huge_upload"]["status"], 413, "{bad}");
    assert_eq!(bad["long_text"]["status"], 413, "{bad}");
    assert_eq!(bad["not_json"]["status"], 400, "{bad}");
    assert_eq!(bad["control_text"]["status"], 200, "{bad}");
    assert_ne!(bad["control_text"]["body"]["verdict"], "valid");
    assert_eq!(bad["no_such_check"]["status"], 404);
    assert_eq!(ui["alive"], 200, "the server survived the bad input");
    assert_eq!(
        ui["rebind"]["status"], 403,
        "DNS rebinding: {}",
        ui["rebind"]
    );
    assert_eq!(ui["external"], json!([]), "requests left the device");

    // Online lookup from the page (item 4): by certificate number and by
    // plate against the real server, a number nobody holds, and a code in
    // another system's format, which offers the lookup.
    let ysz = samples
        .iter()
        .find(|s| s["cert_type"] == "YSZ" && s["expected"]["verdict"] == "valid")
        .unwrap();
    let out = field_client(
        &device,
        &[
            "--json",
            "verify",
            "--text",
            ysz["qr_text"].as_str().unwrap(),
        ],
    )
    .unwrap();
    let verified: Value = testkit::json_lines(&out).unwrap().remove(0);
    let plate = verified["face"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key"] == "plate")
        .unwrap_or_else(|| panic!("no plate on the YSZ face: {verified}"))["value"]
        .as_str()
        .unwrap()
        // The face shows the plate with its colour: `辽A12345（黄色）`.
        .split('（')
        .next()
        .unwrap()
        .to_string();
    let lookups = json!([
        {"name": "number-valid", "by": "number", "value": ysz["number"], "verdict": "valid", "zh": "有效"},
        {"name": "plate-valid", "by": "plate", "value": plate, "verdict": "valid", "zh": "有效"},
        {"name": "not-found", "by": "number", "value": "999999999999", "verdict": "cannot_confirm", "zh": "无法确认"},
    ]);
    let lk = run_script(
        &chromium,
        work,
        "lookup",
        json!({
            "url": scanner.url, "shots": shots, "mode": "lookup",
            "unrecognised": "https://other-system.example/cert?id=LN-2026-0001",
            "lookups": lookups,
        }),
    );
    let un = &lk["unrecognised"];
    assert_eq!(un["verdict"], "cannot_confirm", "{un}");
    assert_eq!(un["reason"], "unrecognised_code", "{un}");
    assert_eq!(
        un["offered"], true,
        "lookup offered on unrecognised_code: {un}"
    );
    assert_eq!(un["focused"], "lookupvalue", "{un}");
    let mut lookup_ids = Vec::new();
    for (want, got) in lookups
        .as_array()
        .unwrap()
        .iter()
        .zip(lk["lookups"].as_array().unwrap())
    {
        let name = &want["name"];
        assert_eq!(got["kind"], "lookup", "{name}: {got}");
        assert_eq!(got["verdict"], want["verdict"], "{name}: {got}");
        assert_eq!(got["screen"]["verdictZh"], want["zh"], "{name}: {got}");
        assert_eq!(got["screen"]["resultVisible"], true, "{name}");
        assert_eq!(got["offered"], false, "{name}");
        let meta = got["screen"]["meta"].as_str().unwrap();
        assert!(meta.contains("联网查询"), "{name}: {meta}");
        if want["verdict"] == "valid" {
            let face = got["screen"]["face"].as_str().unwrap();
            assert!(
                face.contains(plate.as_str()),
                "{name}: the plate on screen: {face}"
            );
            assert!(face.contains("发证机关"), "{name}: {face}");
        } else {
            assert_eq!(got["reason"], "no_match", "{name}: {got}");
        }
        lookup_ids.push(got["check_id"].as_u64().expect("a lookup record"));
    }
    assert_eq!(lk["external"], json!([]), "requests left the device");
    assert_eq!(lk["dialogs"], json!([]));

    // Videos: every demo sample, a distorted photo, a live and a replayed presentation.
    let mut cases = Vec::new();
    for s in &samples {
        let file = server.data.join("demo").join(s["file"].as_str().unwrap());
        let code = image::open(&file).unwrap().into_luma8();
        let name = Path::new(s["file"].as_str().unwrap())
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let y4m = work.join(format!("{name}.y4m"));
        write_y4m(&y4m, &flat_frame(&code), 2.0, 2.0);
        cases.push(json!({"name": name, "y4m": y4m, "expect": s["expected"]}));
    }
    let photo_sample = samples
        .iter()
        .find(|s| s["cert_type"] == "YSZ" && s["expected"]["verdict"] == "valid")
        .unwrap();
    let distorted = distorted_frame(&qr_image(photo_sample["qr_text"].as_str().unwrap()));
    distorted
        .save(shots.join("distorted-photo-input.png"))
        .unwrap();
    let y4m = work.join("distorted.y4m");
    write_y4m(&y4m, &distorted, 2.0, 2.0);
    cases.push(json!({"name": "distorted-photo", "y4m": y4m, "expect": photo_sample["expected"]}));

    let loadavg_at_videos = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut latencies = Vec::new();
    let mut reports = Vec::new();
    for decoder in ["wasm", "rust"] {
        // Presentations are made just before their run: they are valid for
        // one 30-second slot and its window.
        // The page's own decoder (the default) on every video; frames sent
        // to the Rust decoder on a subset, for the comparison.
        let mut run: Vec<Value> = if decoder == "wasm" {
            cases.clone()
        } else {
            cases
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 3 == 0 || *i + 1 == cases.len())
                .map(|(_, c)| c.clone())
                .collect()
        };
        let live = work.join(format!("presentation-{decoder}.y4m"));
        write_y4m(
            &live,
            &flat_frame(&qr_image(&presentation(&bound_text, &holder_key, now()))),
            2.0,
            2.0,
        );
        let replay = work.join(format!("replayed-{decoder}.y4m"));
        write_y4m(
            &replay,
            &flat_frame(&qr_image(&presentation(
                &bound_text,
                &holder_key,
                now() - 600,
            ))),
            2.0,
            2.0,
        );
        run.insert(
            0,
            json!({"name": "live-presentation", "y4m": live, "expect": {"verdict": "valid", "reason": null}}),
        );
        run.insert(
            1,
            json!({"name": "replayed-presentation", "y4m": replay, "expect": {"verdict": "invalid", "reason": "presentation_outside_window"}}),
        );
        let report = run_script(
            &chromium,
            work,
            &format!("video-{decoder}"),
            json!({"url": scanner.url, "shots": shots, "mode": "video", "decoder": decoder, "cases": run}),
        );
        for (case, got) in run.iter().zip(report["cases"].as_array().unwrap()) {
            let name = &case["name"];
            assert_eq!(
                got["verdict"], case["expect"]["verdict"],
                "{decoder} {name}: {got}"
            );
            assert_eq!(
                got["reason"], case["expect"]["reason"],
                "{decoder} {name}: {got}"
            );
            let zh = match case["expect"]["verdict"].as_str().unwrap() {
                "valid" => "有效",
                "invalid" => "无效",
                _ => "无法确认",
            };
            assert_eq!(got["screen"]["verdictZh"], zh, "{decoder} {name}");
            assert_eq!(
                got["external"],
                json!([]),
                "{decoder} {name}: requests left the device"
            );
            let ms = got["latency_ms"].as_f64().unwrap();
            // The shipped decoder must answer within 1 s; the Rust-decoder
            // path is measured for the comparison only.
            assert!(
                decoder != "wasm" || ms <= 1000.0,
                "{decoder} {name}: verdict {ms:.0} ms after the code appeared"
            );
            latencies.push((decoder, ms));
        }
        reports.push(report);
    }

    // The page's decoder and first load (decode mode); the photo sets of
    // `cargo bench -p shared --bench qr_decode`, when present, are read too.
    // Opt-in (SCANNER_PHOTO_SETS=1; the sets are made by the bench, about
    // 10 minutes for the three on this machine): each set is also read by
    // zxing-cpp (Python, `shared/benches/zxing_decode.py`) in the same run.
    let mut sets = Vec::new();
    let photo_sets = std::env::var_os("SCANNER_PHOTO_SETS").is_some();
    for (name, sub) in [
        ("default", "qr-bench-default"),
        ("seed 2", "qr-bench-2"),
        ("seed 3", "qr-bench-3"),
    ] {
        if !photo_sets {
            break;
        }
        let set_dir = repo().join("target").join(sub);
        let Ok(manifest) = std::fs::read_to_string(set_dir.join("manifest.tsv")) else {
            continue;
        };
        let files: Vec<Value> = manifest
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(f, t)| json!({"file": f, "text": t}))
            .collect();
        let zxing = Command::new("python3")
            .arg(repo().join("shared/benches/zxing_decode.py"))
            .arg(&set_dir)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .last()
                    .and_then(|l| serde_json::from_str::<Value>(l).ok())
            });
        sets.push(json!({"name": name, "dir": set_dir, "files": files, "zxing": zxing}));
    }
    let decode = run_script(
        &chromium,
        work,
        "decode",
        json!({"url": scanner.url, "mode": "decode", "sets": sets, "batch": 10}),
    );
    assert_eq!(
        decode["external"],
        json!([]),
        "the wasm came from elsewhere"
    );

    let mut figures = serde_json::Map::new();
    for decoder in ["wasm", "rust"] {
        let mut ms: Vec<f64> = latencies
            .iter()
            .filter(|(d, _)| *d == decoder)
            .map(|(_, m)| *m)
            .collect();
        ms.sort_by(f64::total_cmp);
        figures.insert(
            decoder.to_string(),
            json!({"n": ms.len(), "p50_ms": percentile(&ms, 0.5), "p95_ms": percentile(&ms, 0.95), "max_ms": ms.last()}),
        );
    }
    let bench = json!({
        // The machine is shared: the load average next to every figure.
        "loadavg_at_videos": loadavg_at_videos.trim(),
        "loadavg_at_end": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
        "field_client": std::env::var("SCANNER_FIELD_CLIENT").unwrap_or_else(|_| "debug build".into()),
        "frame_to_verdict": figures,
        "first_load": decode["first_load"],
        "photo_sets": decode["sets"].as_array().unwrap().iter().zip(&sets).map(|(s, set)| json!({
            "name": s["name"], "n": s["n"],
            "wasm_ok": s["wasm"]["ok"], "rust_ok": s["rust"]["ok"],
            "zxing_cpp_ok": set["zxing"]["ok"],
            "wasm_mean_ms": mean(&s["wasm"]["times"]), "rust_mean_ms": mean(&s["rust"]["times"]),
            "zxing_cpp_mean_ms": set["zxing"]["mean_ms"],
            "wasm_errors": s["wasm"]["errors"],
        })).collect::<Vec<_>>(),
        "videos": reports,
    });
    std::fs::write(
        shots.join("bench.json"),
        serde_json::to_vec_pretty(&bench).unwrap(),
    )
    .unwrap();
    eprintln!(
        "scanner: frame → verdict {} ; first load {}",
        bench["frame_to_verdict"], bench["first_load"]
    );

    // Eight days later with no sync: the lists are past their maximum age;
    // the server is gone too, so the lookup says it needs a connection.
    drop(scanner);
    drop(server);
    let late = Scanner::start_at(&device, Some(now() + 8 * 86_400));
    let valid = samples
        .iter()
        .find(|s| s["expected"]["verdict"] == "valid")
        .unwrap();
    let stale = run_script(
        &chromium,
        work,
        "stale",
        json!({"url": late.url, "shots": shots, "mode": "stale", "text": valid["qr_text"],
               "lookup": {"by": "number", "value": ysz["number"]}}),
    );
    let offline = &stale["lookup"];
    assert!(
        offline["message"]
            .as_str()
            .unwrap()
            .starts_with("联网查询需要网络连接"),
        "offline lookup, Chinese first: {stale}"
    );
    assert_eq!(offline["errors"], json!(["offline"]), "{stale}");
    assert_eq!(
        offline["shown"], 1,
        "no result screen for an offline lookup: {stale}"
    );
    assert!(
        stale["banner"].as_str().unwrap().contains("名单过旧"),
        "{stale}"
    );
    assert_eq!(stale["verdict"], "cannot_confirm", "{stale}");
    assert_eq!(stale["screen"]["verdictZh"], "无法确认");
    assert!(
        stale["screen"]["next"].as_str().unwrap().contains("同步"),
        "what to do next: {stale}"
    );
    drop(late);

    // Every verdict shown was logged, with that verdict, in the log the CLI
    // keeps, and the chain is intact.
    let out = field_client(&device, &["--json", "logs"]).unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let logged: Vec<Value> = testkit::json_lines(&out).unwrap();
    assert!(
        logged.iter().any(|l| l["chain"] == "ok"),
        "{}",
        describe(&out)
    );
    let mut shown = 0;
    for report in &reports {
        for case in report["cases"].as_array().unwrap() {
            let id = case["check_id"].as_u64().expect("a check id");
            let record = logged
                .iter()
                .find(|l| l["seq"] == id && l["kind"] == "check")
                .unwrap_or_else(|| panic!("check {id} ({}) is not in the log", case["name"]));
            assert_eq!(record["verdict"], case["verdict"], "{record}");
            shown += 1;
        }
    }
    assert!(
        shown >= cases.len(),
        "{shown} verdicts compared with the log"
    );
    // Each lookup shown was logged as kind `lookup` before it was shown;
    // the offline one was not logged at all.
    let logged_lookups: Vec<u64> = logged
        .iter()
        .filter(|l| l["kind"] == "lookup")
        .filter_map(|l| l["seq"].as_u64())
        .collect();
    assert_eq!(logged_lookups, lookup_ids, "{logged:?}");
}

fn mean(v: &Value) -> f64 {
    let xs: Vec<f64> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}
