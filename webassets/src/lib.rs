//! Serves a web front-end embedded in the binary, so each binary is one file
//! to deploy.
//!
//! The front-ends are JavaScript builds made outside cargo (`scripts/build-web`
//! writes `<front-end>/dist/`, with a `.br` and a `.gz` sibling for every file
//! that compresses). The binary that serves one derives
//! [`rust_embed::RustEmbed`] on a unit struct naming that directory, with
//! `allow_missing = true` so a build without Node.js still compiles, and hands
//! the struct to [`Site::respond`] (or mounts [`Site::router`]):
//!
//! - `GET PREFIX/` is `index.html`; `GET PREFIX/FILE` is that file;
//! - a strong `ETag` per stored variant (a digest of its bytes) and
//!   `If-None-Match` answered `304 Not Modified`;
//! - `Content-Encoding: br` or `gzip` from the precompressed sibling when the
//!   request's `Accept-Encoding` allows it (`Vary: Accept-Encoding`);
//! - `Cache-Control: no-cache` (revalidate every time; the ETag makes that
//!   cheap), `X-Content-Type-Options: nosniff`, `Referrer-Policy:
//!   no-referrer`, the site's content security policy, and
//!   `Service-Worker-Allowed` on the site's service worker;
//! - when the front-end was not built, `503` with a page (Chinese first)
//!   saying how to build it.
//!
//! Release builds hold the files in the binary; debug builds read them from
//! the directory at run time (rust-embed's default), so a rebuilt front-end
//! shows without recompiling. [`rerun_if_changed`] is for the serving crate's
//! build script, so a release build picks up a front-end built after it.
#![forbid(unsafe_code)]

use std::path::Path;

#[cfg(feature = "serve")]
mod serve;
#[cfg(feature = "serve")]
pub use serve::{Missing, Site};

/// The derive for the embedded files, re-exported so a serving crate needs
/// no dependency of its own: `#[derive(webassets::RustEmbed)]` with
/// `#[crate_path = "webassets::rust_embed"]`, `#[folder = "../NAME/dist/"]`
/// and `#[allow_missing = true]`.
#[cfg(feature = "serve")]
pub use rust_embed::{self, RustEmbed};

/// For a build script (`build.rs`) of a crate that embeds `dir` (relative to
/// the crate): tells cargo to rebuild the crate when anything under `dir`
/// changes, or, while `dir` does not exist, when its parent changes (so the
/// first build of the front-end is picked up too).
///
/// Debug builds read the files at run time and need no rebuild for a
/// change, but still one for the first build: rust-embed fixes at compile
/// time the folder it reads, and a folder missing then stays unreadable.
pub fn rerun_if_changed(dir: &str) {
    println!("cargo:rerun-if-changed=build.rs");
    let debug = std::env::var_os("CARGO_CFG_DEBUG_ASSERTIONS").is_some();
    let path = Path::new(dir);
    if path.is_dir() {
        if !debug {
            println!("cargo:rerun-if-changed={dir}");
        }
    } else if let Some(parent) = path.parent().filter(|p| p.is_dir()) {
        println!("cargo:rerun-if-changed={}", parent.display());
    }
}
