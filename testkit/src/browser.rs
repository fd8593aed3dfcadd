//! Headless Chromium for the front-ends' end-to-end tests (the wallet,
//! the scanner, the agency console in `tests/tests/`): where the browser
//! and the built front-ends are (a missing one fails the test saying how
//! to install it: these tests never skip), a node script driven with a
//! JSON configuration that writes a JSON report, and where screenshots go.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::describe;

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Chromium binary (`CHROMIUM`, or `/usr/bin/chromium`); fails saying
/// how to install it when it is missing.
pub fn chromium() -> PathBuf {
    let chromium = PathBuf::from(
        std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string()),
    );
    assert!(
        chromium.is_file(),
        "{} is missing: the browser tests need headless Chromium \
         (`apt-get install -y chromium fonts-noto-cjk`, or set CHROMIUM=/path/to/chromium)",
        chromium.display()
    );
    chromium
}

/// The front-end `name` (`wallet`, `scanner`, `agency`), built with its npm
/// packages and the files `extra` of its `dist/`; fails saying how to build
/// it otherwise.
pub fn front_end(name: &str, extra: &[&str]) -> PathBuf {
    let dir = repo().join(name);
    let mut needed = vec![
        repo().join("node_modules/playwright-core/package.json"),
        dir.join("dist/index.html"),
    ];
    needed.extend(extra.iter().map(|f| dir.join("dist").join(f)));
    for f in needed {
        assert!(
            f.is_file(),
            "{} is missing: build the front-ends with scripts/build-web (npm ci + esbuild), \
             as scripts/test does",
            f.display()
        );
    }
    dir
}

/// `target/screenshots/<name>/` of the repository, created.
pub fn screenshots(name: &str) -> PathBuf {
    let dir = repo().join("target/screenshots").join(name);
    std::fs::create_dir_all(&dir).expect("creating the screenshot directory");
    dir
}

/// Runs `node script CONFIG` with `config` (plus `chromium` and `out`, the
/// report's path) written to `work/<name>.json`; the script must exit 0
/// and write its JSON report to `out`, which is answered.
pub fn run_script(script: &Path, work: &Path, name: &str, config: &Value) -> Value {
    let cfg = work.join(format!("{name}.json"));
    let out = work.join(format!("{name}-report.json"));
    let mut config = config.clone();
    config["chromium"] = Value::from(chromium().to_string_lossy().into_owned());
    config["out"] = Value::from(out.to_string_lossy().into_owned());
    std::fs::write(&cfg, serde_json::to_vec(&config).expect("JSON")).expect("writing the config");
    let output = Command::new("node")
        .arg(script)
        .arg(&cfg)
        .current_dir(script.parent().unwrap_or(Path::new(".")))
        .output()
        .expect("running node (install Node.js 18+: scripts/setup does)");
    assert!(
        output.status.success(),
        "{} {name}: {}",
        script.display(),
        describe(&output)
    );
    let bytes = std::fs::read(&out).expect("the script's report");
    serde_json::from_slice(&bytes).expect("a JSON report")
}

/// The workspace's `node_modules` holding `playwright-core` (or
/// `$PLAYWRIGHT_DIR`), for a script that drives a page the server renders
/// itself (no front-end to build); fails saying how to install it.
pub fn playwright_modules() -> PathBuf {
    let dir =
        std::env::var("PLAYWRIGHT_DIR").map_or_else(|_| repo().join("node_modules"), PathBuf::from);
    assert!(
        dir.join("playwright-core/package.json").is_file(),
        "{} has no playwright-core: build the front-ends with scripts/build-web (npm ci), \
         or set PLAYWRIGHT_DIR to a node_modules that has it",
        dir.display()
    );
    dir
}
