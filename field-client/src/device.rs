//! The device key: generated at enrollment, kept in `DIR/device.key`
//! (owner read/write only), used to sign uploaded log batches.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};
use shared::crypto::{Alg, SigningKey};
use zeroize::Zeroizing;

use crate::db::{alg_from_name, alg_to_name};

/// File name of the device key inside the data directory.
pub const KEY_FILE: &str = "device.key";

#[derive(Serialize, Deserialize)]
struct KeyFile {
    alg: String,
    secret: String,
}

/// Creates the data directory (mode 0700: it holds the token and the key).
pub fn create_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {} to its owner", dir.display()))?;
    }
    Ok(())
}

/// Loads the device key, if one was generated.
pub fn load(dir: &Path) -> anyhow::Result<Option<SigningKey>> {
    let path = dir.join(KEY_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => Zeroizing::new(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mode = std::fs::metadata(&path)?.permissions().mode();
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by others (mode {:o}); it must be 0600",
            path.display(),
            mode & 0o777
        );
    }
    let file: KeyFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a device key file", path.display()))?;
    let secret = Zeroizing::new(
        hex::decode(&file.secret).with_context(|| format!("{}: secret", path.display()))?,
    );
    let alg = alg_from_name(&file.alg).context("device key: unknown algorithm")?;
    Ok(Some(
        SigningKey::from_secret_bytes(alg, &secret).context("device key")?,
    ))
}

/// Generates and stores a new device key (the file must not exist).
pub fn generate(dir: &Path, alg: Alg) -> anyhow::Result<SigningKey> {
    let key = SigningKey::generate(alg, &mut rand_core::OsRng);
    let secret = Zeroizing::new(hex::encode(key.secret_bytes().as_slice()));
    let body = Zeroizing::new(serde_json::to_string(&KeyFile {
        alg: alg_to_name(alg).to_string(),
        secret: secret.to_string(),
    })?);
    let path = dir.join(KEY_FILE);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(body.as_bytes())?;
    f.sync_all()?;
    Ok(key)
}

/// The current device time, Unix seconds. `FIELD_CLIENT_NOW` (Unix
/// seconds) overrides the clock: a test hook, also handy to replay a
/// scenario.
pub fn now() -> anyhow::Result<i64> {
    if let Ok(v) = std::env::var("FIELD_CLIENT_NOW") {
        return v
            .trim()
            .parse()
            .with_context(|| format!("FIELD_CLIENT_NOW={v:?} is not Unix seconds"));
    }
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the device clock is before 1970")?;
    Ok(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
