//! QR images: renders certificate text to PNG or SVG and reads QR codes back from photos.
//!
//! # Rendering
//!
//! [`render_png`] and [`render_svg`] draw a QR code, dark on white, with the
//! 4-module quiet zone the standard asks for, at the error-correction level in
//! [`RenderOptions`] (M by default). Encoding is done by the `qrcode` crate,
//! which picks the smallest version and the cheapest segment modes: a text
//! made only of the QR alphanumeric alphabet (`0-9A-Z $%*+-./:`, which
//! includes base45 and the `LC1:` prefix) is stored in alphanumeric mode (with
//! numeric runs where those are shorter), never in byte mode. Text with
//! non-ASCII characters is stored as one UTF-8 byte segment: the crate's own
//! optimiser would read some UTF-8 sequences as Shift-JIS Kanji. [`qr_version`]
//! tells which version (1–40) a text needs, without drawing anything.
//!
//! # Decoding
//!
//! [`decode_image`] takes PNG or JPEG bytes from an untrusted source (a photo
//! of a phone screen, taken in sunlight, at an angle, slightly blurred) and
//! returns the texts of every QR code it finds. The pipeline and the choice of
//! decoders come from the benchmark in `shared/benches/qr_decode.rs`,
//! described in `docs/qr-decoding.md`:
//!
//! 1. The input length is checked against [`DecodeLimits::max_input_bytes`],
//!    the format is sniffed from the content (PNG and JPEG only), the header is
//!    read and the dimensions are checked before any pixel is decoded, then the
//!    image is decoded with `image::Limits` set (dimensions and allocation).
//! 2. The grey image goes through the passes of [`DEFAULT_PASSES`] in order
//!    (see [`DecodePass`]); the first pass that reads at least one code ends
//!    the search. Each pass can find several codes in one picture.
//! 3. Texts are deduplicated and returned in reading order of the codes'
//!    centres (top to bottom, then left to right).
//!
//! Beyond what `image::Limits` bounds, the passes allocate a few grey images
//! of at most 2.25 times the pixel count (the enlarging passes only run on
//! images up to [`MAX_UPSCALE_SIDE`] pixels long).
//!
//! Every call into a decoder is wrapped in [`std::panic::catch_unwind`]:
//! `rqrr` ([`DecodePass::Rqrr`]) is known to panic on some real photos (rqrr
//! issue #54), `rxing` is guarded the same way, and a panic in one pass does
//! not stop the next one. (The default panic hook still prints the panic
//! message to standard error; this module does not touch the process-wide
//! hook.)
//!
//! # The one exception to "no I/O, no clock": a watchdog thread
//!
//! This crate otherwise does no I/O and never reads the clock. Decoding a
//! hostile or pathological image can take long, so [`decode_image`] runs the
//! whole decode (image parsing and QR passes) on a worker thread spawned with
//! [`std::thread::Builder::spawn`] and waits for its answer with
//! [`std::sync::mpsc::Receiver::recv_timeout`] up to
//! [`DecodeLimits::timeout`]. On time-out the caller gets
//! [`QrError::TimedOut`] at once; the worker cannot be killed, so it is told to
//! stop through a shared flag that it checks between passes, and it exits at
//! the next pass boundary. A single pass on an image inside the limits is
//! bounded (all passes are polynomial in the pixel count), so such a thread
//! does not run forever.

use std::cmp::Ordering as CmpOrdering;
use std::collections::HashSet;
use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use image::{GrayImage, ImageFormat, ImageReader, Luma};
use qrcode::bits::Bits;
use qrcode::render::svg;
use qrcode::{QrCode, Version};
use rxing::common::{GlobalHistogramBinarizer, HybridBinarizer};
use rxing::multi::MultipleBarcodeReader;
use rxing::qrcode::cpp_port::QrReader;
use rxing::{BarcodeFormat, Binarizer, BinaryBitmap, DecodeHints, Luma8Source};

/// Width of the quiet zone drawn around every rendered code, in modules.
pub const QUIET_ZONE_MODULES: u32 = 4;

/// Largest accepted [`RenderOptions::module_px`]; a version-40 code at this
/// size is 5,920 pixels wide.
pub const MAX_MODULE_PX: u32 = 32;

/// Everything that can go wrong while rendering or decoding a QR image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrError {
    /// The input is longer than [`DecodeLimits::max_input_bytes`].
    #[error("input is {len} bytes, over the limit of {max} bytes")]
    InputTooLarge {
        /// Length of the input in bytes.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The input is not a PNG or JPEG image.
    #[error("input is not a png or jpeg image")]
    NotAnImage,
    /// The image header announces dimensions over the limit; no pixel was decoded.
    #[error("image is {width}x{height} pixels, over the limit of {max_width}x{max_height}")]
    DimensionsTooLarge {
        /// Width announced by the image header.
        width: u32,
        /// Height announced by the image header.
        height: u32,
        /// The width limit in force.
        max_width: u32,
        /// The height limit in force.
        max_height: u32,
    },
    /// Decoding the image would allocate more than [`DecodeLimits::max_alloc`].
    #[error("decoding the image would allocate more than {max_alloc} bytes")]
    AllocationTooLarge {
        /// The allocation limit in force.
        max_alloc: u64,
    },
    /// The image is a PNG or JPEG but its data is damaged or truncated.
    #[error("image data is malformed: {reason}")]
    MalformedImage {
        /// What the image decoder reported.
        reason: String,
    },
    /// The image was decoded but no decoder pass read a QR code in it.
    #[error("no qr code found in the image")]
    NoCodeFound,
    /// No code was read and at least one decoder pass panicked.
    #[error("qr decoder panicked in pass {pass:?}")]
    DecoderPanicked {
        /// The first pass that panicked, if the panic happened inside a pass.
        pass: Option<DecodePass>,
    },
    /// The decode did not finish within [`DecodeLimits::timeout`].
    #[error("qr decoding timed out after {timeout:?}")]
    TimedOut {
        /// The time bound in force.
        timeout: Duration,
    },
    /// The watchdog's worker thread could not be started.
    #[error("could not start the qr decoding thread: {reason}")]
    WorkerUnavailable {
        /// What the operating system reported.
        reason: String,
    },
    /// Rendering failed for a reason other than the text length.
    #[error("could not render the qr code: {reason}")]
    Render {
        /// What went wrong.
        reason: String,
    },
    /// The text does not fit in a version-40 code at the requested level.
    #[error(
        "text of {len} bytes is too long for a qr code at error correction level {ec_level:?}"
    )]
    TextTooLong {
        /// Length of the text in bytes.
        len: usize,
        /// The requested error-correction level.
        ec_level: EcLevel,
    },
}

/// QR error-correction level: the share of codewords that can be restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EcLevel {
    /// About 7 % of codewords can be restored.
    L,
    /// About 15 % of codewords can be restored; the default for certificates.
    #[default]
    M,
    /// About 25 % of codewords can be restored.
    Q,
    /// About 30 % of codewords can be restored.
    H,
}

impl EcLevel {
    fn to_qrcode(self) -> qrcode::EcLevel {
        match self {
            EcLevel::L => qrcode::EcLevel::L,
            EcLevel::M => qrcode::EcLevel::M,
            EcLevel::Q => qrcode::EcLevel::Q,
            EcLevel::H => qrcode::EcLevel::H,
        }
    }
}

/// How a QR code is drawn by [`render_png`] and [`render_svg`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Error-correction level; M by default.
    pub ec_level: EcLevel,
    /// Side of one module in pixels (SVG user units), 1 to [`MAX_MODULE_PX`];
    /// 8 by default.
    pub module_px: u32,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            ec_level: EcLevel::M,
            module_px: 8,
        }
    }
}

/// Returns the QR version (1–40) that `text` needs at level `ec_level`.
///
/// The same encoding as [`render_png`] is used, so the result is the version
/// of the rendered code.
pub fn qr_version(text: &str, ec_level: EcLevel) -> Result<u8, QrError> {
    let bits = encode_bits(text, ec_level)?;
    version_number(bits.version())
}

/// Renders `text` as a greyscale PNG: dark modules black, light modules and
/// the 4-module quiet zone white.
pub fn render_png(text: &str, opts: &RenderOptions) -> Result<Vec<u8>, QrError> {
    let image = render_gray(text, opts)?;
    let mut png = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| QrError::Render {
            reason: e.to_string(),
        })?;
    Ok(png)
}

/// Renders `text` as a standalone SVG document: one white background
/// rectangle and one black path with a square per dark module, 4-module quiet
/// zone included, `module_px` user units per module.
pub fn render_svg(text: &str, opts: &RenderOptions) -> Result<String, QrError> {
    check_module_px(opts.module_px)?;
    let code = encode(text, opts.ec_level)?;
    Ok(code
        .render::<svg::Color<'_>>()
        .quiet_zone(true)
        .module_dimensions(opts.module_px, opts.module_px)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

/// Renders `text` into an in-memory greyscale image (what [`render_png`] encodes).
pub fn render_gray(text: &str, opts: &RenderOptions) -> Result<GrayImage, QrError> {
    check_module_px(opts.module_px)?;
    let code = encode(text, opts.ec_level)?;
    Ok(code
        .render::<Luma<u8>>()
        .quiet_zone(true)
        .module_dimensions(opts.module_px, opts.module_px)
        .dark_color(Luma([0]))
        .light_color(Luma([255]))
        .build())
}

fn check_module_px(module_px: u32) -> Result<(), QrError> {
    if (1..=MAX_MODULE_PX).contains(&module_px) {
        Ok(())
    } else {
        Err(QrError::Render {
            reason: format!("module size must be 1 to {MAX_MODULE_PX} pixels, got {module_px}"),
        })
    }
}

fn encode(text: &str, ec_level: EcLevel) -> Result<QrCode, QrError> {
    let bits = encode_bits(text, ec_level)?;
    QrCode::with_bits(bits, ec_level.to_qrcode()).map_err(|e| qrcode_error(e, text, ec_level))
}

/// Encodes `text` at the smallest version that holds it.
///
/// ASCII text goes through the `qrcode` optimiser (numeric, alphanumeric and
/// byte segments); other text becomes one byte segment, because the optimiser
/// takes some UTF-8 sequences for Shift-JIS Kanji.
fn encode_bits(text: &str, ec_level: EcLevel) -> Result<Bits, QrError> {
    let ec = ec_level.to_qrcode();
    if text.is_ascii() {
        return qrcode::bits::encode_auto(text.as_bytes(), ec)
            .map_err(|e| qrcode_error(e, text, ec_level));
    }
    for version in 1..=40 {
        let mut bits = Bits::new(Version::Normal(version));
        if bits.push_byte_data(text.as_bytes()).is_ok() && bits.push_terminator(ec).is_ok() {
            return Ok(bits);
        }
    }
    Err(QrError::TextTooLong {
        len: text.len(),
        ec_level,
    })
}

fn qrcode_error(e: qrcode::types::QrError, text: &str, ec_level: EcLevel) -> QrError {
    match e {
        qrcode::types::QrError::DataTooLong => QrError::TextTooLong {
            len: text.len(),
            ec_level,
        },
        other => QrError::Render {
            reason: other.to_string(),
        },
    }
}

fn version_number(version: Version) -> Result<u8, QrError> {
    match version {
        Version::Normal(n) => u8::try_from(n).map_err(|_| QrError::Render {
            reason: format!("unexpected qr version {n}"),
        }),
        Version::Micro(n) => Err(QrError::Render {
            reason: format!("unexpected micro qr version {n}"),
        }),
    }
}

/// Bounds on what [`decode_image`] accepts and how long it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest accepted image width in pixels, checked on the header before
    /// any pixel is decoded.
    pub max_width: u32,
    /// Largest accepted image height in pixels, checked like the width.
    pub max_height: u32,
    /// Largest allocation the image decoder may make (`image::Limits::max_alloc`).
    pub max_alloc: u64,
    /// Largest accepted input, in bytes, checked first.
    pub max_input_bytes: usize,
    /// Time bound on the whole decode, enforced by the watchdog thread.
    pub timeout: Duration,
}

impl Default for DecodeLimits {
    /// 8000×8000 pixels, 256 MiB of decoder allocation, 32 MiB of input, 3 seconds.
    fn default() -> Self {
        Self {
            max_width: 8000,
            max_height: 8000,
            max_alloc: 256 * 1024 * 1024,
            max_input_bytes: 32 * 1024 * 1024,
            timeout: Duration::from_secs(3),
        }
    }
}

/// One attempt at reading QR codes from the grey image.
///
/// [`decode_image_with_passes`] runs a list of these in order and stops after
/// the first that reads something; [`DEFAULT_PASSES`] is the list chosen by
/// measurement. Every `Rxing*` pass uses `rxing`'s port of the ZXing-C++ QR
/// reader (multi-code, try-harder, QR model 2 only); the passes differ in the
/// image they give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodePass {
    /// The full-resolution image, with rxing's hybrid binariser (thresholds
    /// per 8×8 block from the 5×5 blocks around it), as ZXing does by default.
    Rxing,
    /// The full-resolution image with rxing's global-histogram binariser.
    RxingGlobal,
    /// The image averaged down by 2 in each direction (smooths noise and blur),
    /// hybrid binariser.
    RxingHalf,
    /// The image after an unsharp mask (σ 1.5 px, amount 1), hybrid binariser.
    RxingSharpened,
    /// Black and white after thresholding each pixel at 97 % of the mean of
    /// a square around it whose side is 1/24 of the longer image side.
    RxingLocalMean,
    /// The image enlarged 1.5 times (bilinear), hybrid binariser. Skipped for
    /// images longer than [`MAX_UPSCALE_SIDE`].
    RxingUpscaled,
    /// The image enlarged 1.5 times, then thresholded as in
    /// [`DecodePass::RxingLocalMean`]: the threshold falls between pixels,
    /// which helps codes of 2–4 pixels per module. Skipped for images longer
    /// than [`MAX_UPSCALE_SIDE`].
    RxingUpscaledLocalMean,
    /// `rqrr` (a port of quirc) on the full-resolution image.
    Rqrr,
}

/// Longest image side for which the upscaling passes run; larger photos have
/// enough pixels per module already, and enlarging them would cost too much.
pub const MAX_UPSCALE_SIDE: u32 = 2560;

/// The passes [`decode_image`] runs, in order (see `docs/qr-decoding.md`).
///
/// Measured on synthetic phone photos: the full-resolution pass reads most
/// codes at the lowest cost; the local-mean pass is a cheap second chance
/// (and the only fallback for photos too large to upscale); the two upscaled
/// passes read small, blurred codes that nothing else reads. `rqrr` read no
/// photo that these did not, so it is not in the list.
pub const DEFAULT_PASSES: &[DecodePass] = &[
    DecodePass::Rxing,
    DecodePass::RxingLocalMean,
    DecodePass::RxingUpscaledLocalMean,
    DecodePass::RxingUpscaled,
];

/// Reads every QR code in a PNG or JPEG image and returns their texts,
/// deduplicated, in reading order (top to bottom, then left to right).
///
/// Runs [`DEFAULT_PASSES`] under `limits`; see the module documentation for
/// the pipeline and the guards against hostile images.
pub fn decode_image(bytes: &[u8], limits: &DecodeLimits) -> Result<Vec<String>, QrError> {
    decode_image_with_passes(bytes, limits, DEFAULT_PASSES)
}

/// As [`decode_image`], with an explicit list of decoder passes (used by the
/// benchmark to compare decoders one by one).
pub fn decode_image_with_passes(
    bytes: &[u8],
    limits: &DecodeLimits,
    passes: &[DecodePass],
) -> Result<Vec<String>, QrError> {
    if bytes.len() > limits.max_input_bytes {
        return Err(QrError::InputTooLarge {
            len: bytes.len(),
            max: limits.max_input_bytes,
        });
    }
    let bytes = bytes.to_vec();
    let passes = passes.to_vec();
    let limits = *limits;
    with_watchdog(limits.timeout, move |cancel| {
        let gray = load_gray(&bytes, &limits)?;
        drop(bytes);
        if cancel.load(Ordering::Relaxed) {
            return Err(QrError::TimedOut {
                timeout: limits.timeout,
            });
        }
        run_passes(&gray, &passes, cancel)
    })
}

/// Runs `work` on a fresh thread and waits for it at most `timeout`.
fn with_watchdog<T, F>(timeout: Duration, work: F) -> Result<T, QrError>
where
    T: Send + 'static,
    F: FnOnce(&AtomicBool) -> Result<T, QrError> + Send + 'static,
{
    let cancel = Arc::new(AtomicBool::new(false));
    let worker_cancel = Arc::clone(&cancel);
    let (tx, rx) = mpsc::sync_channel(1);
    let worker = std::thread::Builder::new()
        .name("qr-decode".to_owned())
        .spawn(move || {
            let outcome = catch_unwind(AssertUnwindSafe(|| work(&worker_cancel)))
                .unwrap_or(Err(QrError::DecoderPanicked { pass: None }));
            // The receiver is gone when the caller has timed out; nothing to do then.
            let _ = tx.send(outcome);
        })
        .map_err(|e| QrError::WorkerUnavailable {
            reason: e.to_string(),
        })?;
    match rx.recv_timeout(timeout) {
        Ok(outcome) => {
            // The worker has sent its answer and is returning: wait for it, so
            // no thread (and nothing it holds) outlives the call.
            let _ = worker.join();
            outcome
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            // Detached: it stops at the next pass boundary.
            cancel.store(true, Ordering::Relaxed);
            Err(QrError::TimedOut { timeout })
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let _ = worker.join();
            Err(QrError::DecoderPanicked { pass: None })
        }
    }
}

/// Sniffs, checks and decodes PNG or JPEG bytes into an 8-bit grey image.
fn load_gray(bytes: &[u8], limits: &DecodeLimits) -> Result<GrayImage, QrError> {
    let format = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| QrError::NotAnImage)?
        .format();
    let format = match format {
        Some(f @ (ImageFormat::Png | ImageFormat::Jpeg)) => f,
        _ => return Err(QrError::NotAnImage),
    };
    // Header only: refuse oversized images before any pixel is decoded. No
    // dimension limit here, so that the error can name the announced size.
    let mut header_limits = image::Limits::default();
    header_limits.max_alloc = Some(limits.max_alloc);
    let mut header = ImageReader::with_format(Cursor::new(bytes), format);
    header.limits(header_limits);
    let (width, height) = header
        .into_dimensions()
        .map_err(|e| image_error(e, limits, None))?;
    let too_large = QrError::DimensionsTooLarge {
        width,
        height,
        max_width: limits.max_width,
        max_height: limits.max_height,
    };
    if width > limits.max_width || height > limits.max_height {
        return Err(too_large);
    }
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_width);
    image_limits.max_image_height = Some(limits.max_height);
    image_limits.max_alloc = Some(limits.max_alloc);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(image_limits);
    let image = reader
        .decode()
        .map_err(|e| image_error(e, limits, Some(too_large)))?;
    if image.width() == 0 || image.height() == 0 {
        return Err(QrError::MalformedImage {
            reason: "image has no pixels".to_owned(),
        });
    }
    Ok(image.into_luma8())
}

fn image_error(e: image::ImageError, limits: &DecodeLimits, dims: Option<QrError>) -> QrError {
    use image::error::LimitErrorKind;
    match e {
        image::ImageError::Limits(l) => match l.kind() {
            LimitErrorKind::DimensionError => dims.unwrap_or(QrError::DimensionsTooLarge {
                width: 0,
                height: 0,
                max_width: limits.max_width,
                max_height: limits.max_height,
            }),
            _ => QrError::AllocationTooLarge {
                max_alloc: limits.max_alloc,
            },
        },
        image::ImageError::Unsupported(_) => QrError::NotAnImage,
        other => QrError::MalformedImage {
            reason: other.to_string(),
        },
    }
}

/// A code read by one pass, with its centre in full-resolution pixels.
struct Found {
    text: String,
    x: f32,
    y: f32,
}

/// Runs `passes` in order until one reads something; sorts and deduplicates.
fn run_passes(
    gray: &GrayImage,
    passes: &[DecodePass],
    cancel: &AtomicBool,
) -> Result<Vec<String>, QrError> {
    let mut derived = Derived::default();
    let mut panicked = None;
    let mut found = Vec::new();
    for &pass in passes {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        match catch_unwind(AssertUnwindSafe(|| run_pass(pass, gray, &mut derived))) {
            Ok(codes) => found = codes,
            Err(_) => {
                panicked.get_or_insert(pass);
            }
        }
        if !found.is_empty() {
            break;
        }
    }
    if found.is_empty() {
        return Err(match panicked {
            Some(pass) => QrError::DecoderPanicked { pass: Some(pass) },
            None => QrError::NoCodeFound,
        });
    }
    found.sort_by(|a, b| {
        a.y.partial_cmp(&b.y)
            .unwrap_or(CmpOrdering::Equal)
            .then(a.x.partial_cmp(&b.x).unwrap_or(CmpOrdering::Equal))
    });
    let mut seen = HashSet::new();
    Ok(found
        .into_iter()
        .filter(|f| seen.insert(f.text.clone()))
        .map(|f| f.text)
        .collect())
}

/// Derived images, computed on first use and shared between passes.
#[derive(Default)]
struct Derived {
    half: Option<GrayImage>,
    sharpened: Option<GrayImage>,
    local_mean: Option<GrayImage>,
    upscaled: Option<GrayImage>,
    upscaled_local_mean: Option<GrayImage>,
}

/// Side of the local-mean window as a share of the longer image side.
const LOCAL_MEAN_FRACTION: u32 = 24;

impl Derived {
    fn half(&mut self, gray: &GrayImage) -> &GrayImage {
        self.half.get_or_insert_with(|| downscale_half(gray))
    }

    fn sharpened(&mut self, gray: &GrayImage) -> &GrayImage {
        self.sharpened.get_or_insert_with(|| sharpen(gray))
    }

    fn local_mean(&mut self, gray: &GrayImage) -> &GrayImage {
        self.local_mean
            .get_or_insert_with(|| threshold_local_mean(gray, LOCAL_MEAN_FRACTION))
    }

    fn upscaled(&mut self, gray: &GrayImage) -> &GrayImage {
        self.upscaled.get_or_insert_with(|| upscale_3_2(gray))
    }

    fn upscaled_local_mean(&mut self, gray: &GrayImage) -> &GrayImage {
        if self.upscaled_local_mean.is_none() {
            let thresholded = threshold_local_mean(self.upscaled(gray), LOCAL_MEAN_FRACTION);
            self.upscaled_local_mean = Some(thresholded);
        }
        self.upscaled_local_mean
            .get_or_insert_with(GrayImage::default)
    }
}

fn run_pass(pass: DecodePass, gray: &GrayImage, derived: &mut Derived) -> Vec<Found> {
    let upscale = gray.width().max(gray.height()) <= MAX_UPSCALE_SIDE;
    match pass {
        DecodePass::Rxing => rxing_pass(gray, Bin::Hybrid, 1.0),
        DecodePass::RxingGlobal => rxing_pass(gray, Bin::Global, 1.0),
        DecodePass::RxingHalf => rxing_pass(derived.half(gray), Bin::Hybrid, 2.0),
        DecodePass::RxingSharpened => rxing_pass(derived.sharpened(gray), Bin::Hybrid, 1.0),
        DecodePass::RxingLocalMean => rxing_pass(derived.local_mean(gray), Bin::Global, 1.0),
        DecodePass::RxingUpscaled if upscale => {
            rxing_pass(derived.upscaled(gray), Bin::Hybrid, 2.0 / 3.0)
        }
        DecodePass::RxingUpscaledLocalMean if upscale => {
            rxing_pass(derived.upscaled_local_mean(gray), Bin::Global, 2.0 / 3.0)
        }
        DecodePass::RxingUpscaled | DecodePass::RxingUpscaledLocalMean => Vec::new(),
        DecodePass::Rqrr => rqrr_pass(gray),
    }
}

/// Which rxing binariser a pass uses. On an image that is already black and
/// white, the global-histogram binariser keeps it as it is.
#[derive(Clone, Copy)]
enum Bin {
    Hybrid,
    Global,
}

fn rxing_pass(gray: &GrayImage, bin: Bin, scale: f32) -> Vec<Found> {
    let Ok(source) = Luma8Source::new_with_slice(gray.as_raw(), gray.width(), gray.height()) else {
        return Vec::new();
    };
    match bin {
        Bin::Hybrid => rxing_read(HybridBinarizer::new(source), scale),
        Bin::Global => rxing_read(GlobalHistogramBinarizer::new(source), scale),
    }
}

fn rxing_read<B: Binarizer>(binarizer: B, scale: f32) -> Vec<Found> {
    let hints = DecodeHints {
        TryHarder: Some(true),
        PossibleFormats: Some(HashSet::from([BarcodeFormat::QR_CODE])),
        ..DecodeHints::default()
    };
    let mut bitmap = BinaryBitmap::new(binarizer);
    let Ok(results) = QrReader.decode_multiple_with_hints(&mut bitmap, &hints) else {
        return Vec::new();
    };
    results
        .iter()
        .map(|r| {
            let points = r.getPoints();
            let n = points.len().max(1) as f32;
            let (sx, sy) = points
                .iter()
                .fold((0.0, 0.0), |(sx, sy), p| (sx + p.x, sy + p.y));
            Found {
                text: r.getText().to_owned(),
                x: sx / n * scale,
                y: sy / n * scale,
            }
        })
        .collect()
}

fn rqrr_pass(gray: &GrayImage) -> Vec<Found> {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let raw = gray.as_raw();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| raw[y * w + x]);
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|grid| {
            let (_, text) = grid.decode().ok()?;
            let (sx, sy) = grid
                .bounds
                .iter()
                .fold((0.0, 0.0), |(sx, sy), p| (sx + p.x as f32, sy + p.y as f32));
            Some(Found {
                text,
                x: sx / 4.0,
                y: sy / 4.0,
            })
        })
        .collect()
}

/// Averages 2×2 blocks; an odd last row or column is dropped.
fn downscale_half(gray: &GrayImage) -> GrayImage {
    let (w, h) = (gray.width(), gray.height());
    GrayImage::from_fn((w / 2).max(1), (h / 2).max(1), |x, y| {
        let (x0, y0) = ((2 * x).min(w - 1), (2 * y).min(h - 1));
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let sum: u32 = [(x0, y0), (x1, y0), (x0, y1), (x1, y1)]
            .iter()
            .map(|&(x, y)| u32::from(gray.get_pixel(x, y).0[0]))
            .sum();
        Luma([((sum + 2) / 4) as u8])
    })
}

/// Unsharp mask: `2·p − blur(p)`.
fn sharpen(gray: &GrayImage) -> GrayImage {
    let blurred = image::imageops::blur(gray, 1.5);
    let mut out = gray.clone();
    for (p, b) in out.iter_mut().zip(blurred.iter()) {
        *p = (2 * i32::from(*p) - i32::from(*b)).clamp(0, 255) as u8;
    }
    out
}

/// Enlarges 1.5 times with bilinear interpolation (pixel centres aligned).
fn upscale_3_2(gray: &GrayImage) -> GrayImage {
    let (w, h) = (gray.width(), gray.height());
    let (ow, oh) = (w * 3 / 2, h * 3 / 2);
    if ow == 0 || oh == 0 {
        return gray.clone();
    }
    // For each output column (row): the two source columns (rows) and the
    // weight of the second one, in 1/256.
    let axis = |n: u32, len: u32| -> Vec<(u32, u32, u32)> {
        (0..n)
            .map(|o| {
                let pos = ((2 * o + 1) * 256 / 3).saturating_sub(128);
                let i0 = (pos / 256).min(len - 1);
                (i0, (i0 + 1).min(len - 1), pos % 256)
            })
            .collect()
    };
    let (xs, ys) = (axis(ow, w), axis(oh, h));
    let raw = gray.as_raw();
    let at = |x: u32, y: u32| u32::from(raw[(y * w + x) as usize]);
    GrayImage::from_fn(ow, oh, |x, y| {
        let (x0, x1, fx) = xs[x as usize];
        let (y0, y1, fy) = ys[y as usize];
        let top = at(x0, y0) * (256 - fx) + at(x1, y0) * fx;
        let bottom = at(x0, y1) * (256 - fx) + at(x1, y1) * fx;
        Luma([((top * (256 - fy) + bottom * fy + (1 << 15)) >> 16) as u8])
    })
}

/// Black where a pixel is at most 97 % of the mean of the square around it
/// (side about 1/`fraction` of the longer image side, at least 17 pixels),
/// white elsewhere. A sliding box sum: one running sum per column, so the
/// extra memory is one `u32` per column.
fn threshold_local_mean(gray: &GrayImage, fraction: u32) -> GrayImage {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let r = (gray.width().max(gray.height()) / fraction / 2).max(8) as usize;
    let raw = gray.as_raw();
    let mut out = GrayImage::new(gray.width(), gray.height());
    // Sum of column x over rows [y - r, y + r] clipped to the image.
    let mut columns = vec![0u32; w];
    for row in raw.chunks_exact(w).take(r) {
        for (c, &p) in columns.iter_mut().zip(row) {
            *c += u32::from(p);
        }
    }
    for (y, out_row) in out.chunks_exact_mut(w).enumerate() {
        if y + r < h {
            for (c, &p) in columns.iter_mut().zip(&raw[(y + r) * w..(y + r + 1) * w]) {
                *c += u32::from(p);
            }
        }
        if y > r {
            let gone = y - r - 1;
            for (c, &p) in columns.iter_mut().zip(&raw[gone * w..(gone + 1) * w]) {
                *c -= u32::from(p);
            }
        }
        let rows = (y + r + 1).min(h) - y.saturating_sub(r);
        let mut sum: u64 = columns[..r.min(w)].iter().map(|&c| u64::from(c)).sum();
        for (x, p) in out_row.iter_mut().enumerate() {
            if x + r < w {
                sum += u64::from(columns[x + r]);
            }
            if x > r {
                sum -= u64::from(columns[x - r - 1]);
            }
            let area = ((x + r + 1).min(w) - x.saturating_sub(r)) * rows;
            let value = u64::from(raw[y * w + x]);
            *p = if value * area as u64 * 100 <= sum * 97 {
                0
            } else {
                255
            };
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

    /// Deterministic base45-alphabet text of `len` characters (after `LC1:`
    /// when `len >= 4`).
    fn alnum_text(len: usize, seed: u64) -> String {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut s: String = "LC1:".chars().take(len).collect();
        while s.len() < len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            s.push(char::from(ALNUM[(state % ALNUM.len() as u64) as usize]));
        }
        s
    }

    fn png_of(image: &GrayImage) -> Vec<u8> {
        let mut png = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        png
    }

    #[test]
    fn png_round_trip() {
        let limits = DecodeLimits::default();
        for (text, module_px) in [
            (alnum_text(334, 1), 4),
            ("LC1:6BFOXN*TS0BI$ZD.P9UOL97O4-2HH:PN1".to_owned(), 8),
            ("hello, 辽A12345 道路运输证".to_owned(), 6),
        ] {
            let opts = RenderOptions {
                module_px,
                ..RenderOptions::default()
            };
            let png = render_png(&text, &opts).unwrap();
            assert_eq!(decode_image(&png, &limits).unwrap(), vec![text]);
        }
    }

    #[test]
    fn png_has_quiet_zone_and_module_size() {
        let text = alnum_text(334, 2);
        let opts = RenderOptions::default();
        let image = image::load_from_memory(&render_png(&text, &opts).unwrap())
            .unwrap()
            .into_luma8();
        let modules = 17 + 4 * u32::from(qr_version(&text, EcLevel::M).unwrap());
        let side = (modules + 2 * QUIET_ZONE_MODULES) * opts.module_px;
        assert_eq!(image.dimensions(), (side, side));
        let margin = QUIET_ZONE_MODULES * opts.module_px;
        for i in 0..side {
            for j in 0..margin {
                assert_eq!(image.get_pixel(i, j).0[0], 255);
                assert_eq!(image.get_pixel(j, i).0[0], 255);
            }
        }
        // Top-left finder pattern starts right after the quiet zone.
        assert_eq!(image.get_pixel(margin, margin).0[0], 0);
    }

    #[test]
    fn svg_is_well_formed_with_right_module_count() {
        let text = alnum_text(334, 3);
        let opts = RenderOptions {
            module_px: 3,
            ..RenderOptions::default()
        };
        let svg = render_svg(&text, &opts).unwrap();
        let code = encode(&text, EcLevel::M).unwrap();
        assert_eq!(code.width(), 61);
        let side = (61 + 2 * QUIET_ZONE_MODULES) * 3;

        assert!(svg.starts_with("<?xml"));
        assert!(svg.contains(r#"<svg xmlns="http://www.w3.org/2000/svg""#));
        assert!(svg.contains(&format!(r#"width="{side}" height="{side}""#)));
        assert!(svg.contains(&format!(r#"viewBox="0 0 {side} {side}""#)));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<svg").count(), 1);
        assert_eq!(svg.matches("</svg>").count(), 1);
        // Balanced tags: one open rect and path, both self-closing.
        assert_eq!(svg.matches("<rect").count(), 1);
        assert_eq!(svg.matches("<path").count(), 1);
        assert_eq!(svg.matches("/>").count(), 2);

        // One `M` (move-to) per dark module, each at the right place.
        let d_start = svg.find(" d=\"").unwrap() + 4;
        let d = &svg[d_start..d_start + svg[d_start..].find('"').unwrap()];
        let mut drawn = HashSet::new();
        for cmd in d.split('M').filter(|c| !c.is_empty()) {
            let xy: Vec<u32> = cmd
                .split(|c: char| !c.is_ascii_digit())
                .take(2)
                .map(|n| n.parse().unwrap())
                .collect();
            assert_eq!(xy[0] % 3, 0);
            assert_eq!(xy[1] % 3, 0);
            drawn.insert((
                xy[0] / 3 - QUIET_ZONE_MODULES,
                xy[1] / 3 - QUIET_ZONE_MODULES,
            ));
        }
        let dark: HashSet<(u32, u32)> = (0..61u32)
            .flat_map(|y| (0..61u32).map(move |x| (x, y)))
            .filter(|&(x, y)| code[(x as usize, y as usize)] == qrcode::Color::Dark)
            .collect();
        assert_eq!(drawn, dark);
    }

    /// Capacity in alphanumeric characters per (version, level) from ISO/IEC
    /// 18004 table 7, and the boundary on each side.
    #[test]
    fn version_table() {
        let table: &[(usize, EcLevel, u8)] = &[
            (1, EcLevel::M, 1),
            (20, EcLevel::M, 1),
            (21, EcLevel::M, 2),
            (366, EcLevel::M, 11),
            (367, EcLevel::M, 12),
            (483, EcLevel::M, 13),
            (484, EcLevel::M, 14),
            (528, EcLevel::M, 14),
            (529, EcLevel::M, 15),
            (468, EcLevel::L, 11),
            (200, EcLevel::H, 11),
            (201, EcLevel::H, 12),
            (3391, EcLevel::M, 40),
            (4296, EcLevel::L, 40),
        ];
        for &(len, ec, version) in table {
            // Letters only: no digit run could make numeric mode pay off.
            let text: String = alnum_text(len + 10, 7)
                .chars()
                .filter(|c| c.is_ascii_uppercase())
                .chain(std::iter::repeat('A'))
                .take(len)
                .collect();
            assert_eq!(
                qr_version(&text, ec).unwrap(),
                version,
                "{len} chars at {ec:?}"
            );
        }
        let too_long = "A".repeat(3392);
        assert_eq!(
            qr_version(&too_long, EcLevel::M),
            Err(QrError::TextTooLong {
                len: 3392,
                ec_level: EcLevel::M
            })
        );
        assert!(matches!(
            render_png(&too_long, &RenderOptions::default()),
            Err(QrError::TextTooLong { .. })
        ));
    }

    /// Certificate text is stored in alphanumeric (or numeric) mode, never in
    /// byte mode, at the smallest version a pure alphanumeric segment needs.
    #[test]
    fn certificate_text_uses_alphanumeric_mode() {
        // Data codewords at level M for versions 1..=14 (ISO/IEC 18004 table 7).
        const DATA_CODEWORDS_M: [usize; 14] = [
            16, 28, 44, 64, 86, 108, 124, 154, 182, 216, 254, 290, 334, 365,
        ];
        for (i, len) in [40, 120, 200, 334, 362, 420, 520].into_iter().enumerate() {
            let text = alnum_text(len, 100 + i as u64);
            let version = qr_version(&text, EcLevel::M).unwrap();
            for v in [Version::Normal(9), Version::Normal(26)] {
                let segments: Vec<_> = qrcode::optimize::Parser::new(text.as_bytes())
                    .optimize(v)
                    .collect();
                assert!(segments.iter().all(|s| matches!(
                    s.mode,
                    qrcode::types::Mode::Alphanumeric | qrcode::types::Mode::Numeric
                )));
            }
            // Pure alphanumeric segment: 4 mode bits, count bits, 11 per pair, 6 per odd one.
            let pure_bits = |v: usize| {
                let count_bits = if v <= 9 { 9 } else { 11 };
                4 + count_bits + 11 * (len / 2) + 6 * (len % 2)
            };
            let pure_version = (1..=14)
                .find(|&v| pure_bits(v) <= DATA_CODEWORDS_M[v - 1] * 8)
                .unwrap();
            assert!(usize::from(version) <= pure_version, "{len} chars");
            assert!(usize::from(version) >= pure_version - 1, "{len} chars");
        }
    }

    #[test]
    fn render_rejects_bad_module_size() {
        for module_px in [0, MAX_MODULE_PX + 1] {
            let opts = RenderOptions {
                module_px,
                ..RenderOptions::default()
            };
            assert!(matches!(
                render_png("LC1:A", &opts),
                Err(QrError::Render { .. })
            ));
            assert!(matches!(
                render_svg("LC1:A", &opts),
                Err(QrError::Render { .. })
            ));
        }
    }

    #[test]
    fn non_image_is_refused() {
        let limits = DecodeLimits::default();
        for bytes in [
            &b""[..],
            b"LC1:6BFOXN*TS0BI$ZD.P9UOL97O4",
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        ] {
            assert_eq!(decode_image(bytes, &limits), Err(QrError::NotAnImage));
        }
    }

    #[test]
    fn oversized_input_is_refused_first() {
        let limits = DecodeLimits {
            max_input_bytes: 10,
            ..DecodeLimits::default()
        };
        assert_eq!(
            decode_image(&[0u8; 11], &limits),
            Err(QrError::InputTooLarge { len: 11, max: 10 })
        );
    }

    #[test]
    fn image_without_code_gives_no_code_found() {
        let limits = DecodeLimits::default();
        let blank = GrayImage::from_fn(320, 240, |x, y| Luma([((x * 7 + y * 3) % 256) as u8]));
        assert_eq!(
            decode_image(&png_of(&blank), &limits),
            Err(QrError::NoCodeFound)
        );
        let jpeg = {
            let mut out = Vec::new();
            blank
                .write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)
                .unwrap();
            out
        };
        assert_eq!(decode_image(&jpeg, &limits), Err(QrError::NoCodeFound));
    }

    /// The limit is enforced from the header: a PNG that only claims to be huge
    /// (its pixel data is a few bytes) is refused with the announced size.
    #[test]
    fn oversized_dimensions_are_refused_before_decoding() {
        let limits = DecodeLimits {
            max_width: 1000,
            max_height: 1000,
            ..DecodeLimits::default()
        };
        let wide = png_of(&GrayImage::new(1001, 2));
        assert_eq!(
            decode_image(&wide, &limits),
            Err(QrError::DimensionsTooLarge {
                width: 1001,
                height: 2,
                max_width: 1000,
                max_height: 1000
            })
        );
        // A header announcing 60000x60000 followed by a truncated body.
        let mut fake = png_of(&GrayImage::new(1, 1));
        fake[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        fake[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        let crc = crc32(&fake[12..29]);
        fake[29..33].copy_from_slice(&crc.to_be_bytes());
        let started = std::time::Instant::now();
        assert!(matches!(
            decode_image(&fake, &DecodeLimits::default()),
            Err(QrError::DimensionsTooLarge {
                width: 60_000,
                height: 60_000,
                ..
            })
        ));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    /// CRC-32 (IEEE) for the forged PNG header above.
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn allocation_limit_is_enforced() {
        let limits = DecodeLimits {
            max_alloc: 1000,
            ..DecodeLimits::default()
        };
        let png = png_of(&GrayImage::new(100, 100));
        assert_eq!(
            decode_image(&png, &limits),
            Err(QrError::AllocationTooLarge { max_alloc: 1000 })
        );
    }

    #[test]
    fn two_codes_in_one_image_are_both_returned() {
        let opts = RenderOptions {
            module_px: 4,
            ..RenderOptions::default()
        };
        let top = alnum_text(120, 11);
        let bottom = alnum_text(200, 12);
        let a = render_gray(&top, &opts).unwrap();
        let b = render_gray(&bottom, &opts).unwrap();
        let mut canvas = GrayImage::from_pixel(a.width() + b.width() + 40, 400, Luma([255]));
        image::imageops::overlay(&mut canvas, &b, i64::from(a.width()) + 40, 60);
        image::imageops::overlay(&mut canvas, &a, 0, 0);
        // The same code twice is reported once.
        let mut twice = canvas.clone();
        let mut wide = GrayImage::from_pixel(canvas.width(), 800, Luma([255]));
        image::imageops::overlay(&mut wide, &twice, 0, 0);
        image::imageops::overlay(&mut wide, &a, 0, 420);
        twice = wide;

        let limits = DecodeLimits::default();
        assert_eq!(
            decode_image(&png_of(&canvas), &limits).unwrap(),
            vec![top.clone(), bottom.clone()]
        );
        assert_eq!(
            decode_image(&png_of(&twice), &limits).unwrap(),
            vec![top, bottom]
        );
    }

    #[test]
    fn truncated_png_is_an_error_not_a_panic() {
        let png = render_png(&alnum_text(200, 5), &RenderOptions::default()).unwrap();
        let limits = DecodeLimits::default();
        for cut in [9, 20, 40, png.len() / 2, png.len() - 13] {
            let outcome = decode_image(&png[..cut], &limits);
            assert!(
                matches!(
                    outcome,
                    Err(QrError::MalformedImage { .. } | QrError::NotAnImage)
                ),
                "cut at {cut}: {outcome:?}"
            );
        }
    }

    #[test]
    fn time_bound_is_enforced() {
        let png = render_png(&alnum_text(334, 6), &RenderOptions::default()).unwrap();
        let limits = DecodeLimits {
            timeout: Duration::ZERO,
            ..DecodeLimits::default()
        };
        assert_eq!(
            decode_image(&png, &limits),
            Err(QrError::TimedOut {
                timeout: Duration::ZERO
            })
        );
    }

    #[test]
    fn panics_are_contained() {
        assert_eq!(
            with_watchdog(Duration::from_secs(5), |_| -> Result<(), QrError> {
                panic!("boom")
            }),
            Err(QrError::DecoderPanicked { pass: None })
        );
    }

    #[test]
    fn local_mean_threshold_matches_brute_force() {
        let mut state = 0x1234_5678u32;
        let gray = GrayImage::from_fn(53, 37, |_, _| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            Luma([(state >> 24) as u8])
        });
        let fast = threshold_local_mean(&gray, 24);
        let r = 8i64;
        for (x, y, p) in fast.enumerate_pixels() {
            let (mut sum, mut area) = (0u64, 0u64);
            for yy in (i64::from(y) - r).max(0)..=(i64::from(y) + r).min(36) {
                for xx in (i64::from(x) - r).max(0)..=(i64::from(x) + r).min(52) {
                    sum += u64::from(gray.get_pixel(xx as u32, yy as u32).0[0]);
                    area += 1;
                }
            }
            let dark = u64::from(gray.get_pixel(x, y).0[0]) * area * 100 <= sum * 97;
            assert_eq!(p.0[0], if dark { 0 } else { 255 }, "at {x},{y}");
        }
    }

    #[test]
    fn upscale_keeps_flat_areas_and_edges() {
        let gray = GrayImage::from_fn(40, 20, |x, _| Luma([if x < 20 { 10 } else { 250 }]));
        let up = upscale_3_2(&gray);
        assert_eq!(up.dimensions(), (60, 30));
        assert_eq!(up.get_pixel(0, 0).0[0], 10);
        assert_eq!(up.get_pixel(59, 29).0[0], 250);
        assert!(up.get_pixel(29, 5).0[0] > 10 && up.get_pixel(30, 5).0[0] < 250);
    }

    #[test]
    fn every_pass_reads_a_clean_code() {
        let text = alnum_text(334, 9);
        let png = render_png(
            &text,
            &RenderOptions {
                module_px: 4,
                ..RenderOptions::default()
            },
        )
        .unwrap();
        for pass in [
            DecodePass::Rxing,
            DecodePass::RxingGlobal,
            DecodePass::RxingHalf,
            DecodePass::RxingSharpened,
            DecodePass::RxingLocalMean,
            DecodePass::RxingUpscaled,
            DecodePass::RxingUpscaledLocalMean,
            DecodePass::Rqrr,
        ] {
            assert_eq!(
                decode_image_with_passes(&png, &DecodeLimits::default(), &[pass]),
                Ok(vec![text.clone()]),
                "{pass:?}"
            );
        }
    }
}
