//! Synthetic 1280×720 photos of a QR code on a phone screen: the code at
//! 5–7 px per module off-centre on an uneven background, sensor noise,
//! saved as JPEG by the caller.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, dead_code)]

use image::{GrayImage, Luma};
use shared::qr::{render_gray, RenderOptions};

pub const WIDTH: u32 = 1280;
pub const HEIGHT: u32 = 720;

pub fn synth(text: &str, seed: u64) -> GrayImage {
    let module_px = 5 + (seed % 3) as u32;
    let code = render_gray(
        text,
        &RenderOptions {
            module_px,
            ..RenderOptions::default()
        },
    )
    .unwrap();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut img = GrayImage::from_fn(WIDTH, HEIGHT, |px, py| {
        // A lit table: brighter towards the top left.
        let v = 150 - (px / 16 + py / 12) as i32 / 2;
        Luma([v.clamp(40, 220) as u8])
    });
    let ox = 200 + (rnd() % (u64::from(WIDTH - code.width() - 400).max(1))) as u32;
    let oy = ((HEIGHT - code.height()) / 2).min(HEIGHT - code.height());
    for (cx, cy, p) in code.enumerate_pixels() {
        // A phone screen: not pure black and white.
        let v = if p.0[0] < 128 { 35 } else { 215 };
        img.put_pixel(ox + cx, oy + cy, Luma([v]));
    }
    for p in img.pixels_mut() {
        let noise = (rnd() % 25) as i32 - 12;
        p.0[0] = (i32::from(p.0[0]) + noise).clamp(0, 255) as u8;
    }
    img
}
