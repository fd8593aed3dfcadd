//! What the headless-Chromium tests need, checked in one place: the
//! browser binary and the workspace's `node_modules` with
//! `playwright-core`; each missing one fails the test saying how to
//! install it (these tests never skip).

use std::path::{Path, PathBuf};

/// The workspace root (the parent of `testkit/`).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Headless Chromium: `$CHROMIUM` or `/usr/bin/chromium`; panics saying
/// how to install it when missing.
pub fn chromium() -> PathBuf {
    let chromium = PathBuf::from(
        std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string()),
    );
    assert!(
        chromium.is_file(),
        "{} is missing: this test needs headless Chromium \
         (`apt-get install -y chromium fonts-noto-cjk`, or set CHROMIUM)",
        chromium.display()
    );
    chromium
}

/// The `node_modules` holding `playwright-core` (`$PLAYWRIGHT_DIR`, or the
/// workspace's); panics saying how to install it when missing.
pub fn playwright_modules() -> PathBuf {
    let dir = std::env::var("PLAYWRIGHT_DIR")
        .map_or_else(|_| workspace().join("node_modules"), PathBuf::from);
    assert!(
        dir.join("playwright-core/package.json").is_file(),
        "{} has no playwright-core: build the front-ends with scripts/build-web (npm ci), \
         or set PLAYWRIGHT_DIR to a node_modules that has it",
        dir.display()
    );
    dir
}

/// `target/screenshots/NAME/`, created.
pub fn screenshot_dir(name: &str) -> PathBuf {
    let dir = workspace().join("target/screenshots").join(name);
    let _ = std::fs::create_dir_all(&dir);
    dir
}
