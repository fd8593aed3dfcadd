//! The store seal: what `client.db` alone must not be able to change.
//!
//! Two owner-only files beside the device key:
//!
//! - `store.key`: 32 random bytes, made at enrollment, never rewritten;
//! - `store.seal`: the pinned root key, the enrollment (server, device,
//!   division) and the high-water marks of the signed lists (highest trust
//!   list and status list sequence, newest status `issued_at`, newest
//!   `issued_at` of any list), with an HMAC-SHA-256 under `store.key`.
//!
//! Every load of the lists checks the seal, takes the root key from it (not
//! from the database), re-verifies the signed lists kept in the database
//! and refuses any whose sequence is below the sealed high-water mark. So
//! rows copied from another device or server, a swapped root, or an older
//! status list restored into `client.db` are detected: the verdict is
//! `cannot_confirm` / `store_tampered`, never `valid`.
//!
//! What the seal cannot do (see `docs/field-client-security.md`): someone
//! who can read `store.key` (the officer's own OS account, root) can
//! compute a new seal, and restoring an old copy of the *whole* directory
//! (database, seal and key together) is a rollback no local file can
//! detect.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use anyhow::Context as _;
use hmac::{Hmac, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

/// File name of the seal secret.
pub const KEY_FILE: &str = "store.key";
/// File name of the seal.
pub const SEAL_FILE: &str = "store.seal";

const DOMAIN: &[u8] = b"lnec field-client store seal v1\n";

/// The sealed facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealBody {
    /// Root key algorithm (device API name).
    pub root_alg: String,
    /// Root public key, hex.
    pub root_key: String,
    /// Enrolled server URL.
    pub server: String,
    /// The server's id of this device.
    pub device_id: i64,
    /// The device key id, hex.
    pub kid: String,
    /// The officer's division.
    pub division: i64,
    /// Highest trust list sequence accepted.
    pub trust_seq: u64,
    /// Highest status list sequence accepted.
    pub status_seq: u64,
    /// Newest status list `issued_at` accepted.
    pub status_issued_at: i64,
    /// Newest `issued_at` of any signed list accepted.
    pub newest_seen: i64,
    /// The pinned national root (mutual recognition), `ALG:hex`; absent
    /// from seals written before it (and the MAC'd JSON stays the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_root: Option<String>,
    /// Highest national list sequence accepted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub national_seq: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize, Deserialize)]
struct SealFile {
    body: SealBody,
    mac: String,
}

/// Why the store cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("本机数据被改动或损坏，不能据此查验；请重新同步（field-client sync），仍不行则重新注册（field-client enroll） / the local store was altered or damaged ({0}): run `field-client sync`, and re-enroll if that fails")]
pub struct Tampered(pub String);

impl Tampered {
    /// A tampered-store error with this detail.
    pub fn new(detail: impl Into<String>) -> Tampered {
        Tampered(detail.into())
    }
}

fn write_private(path: &Path, bytes: &[u8], create_new: bool) -> anyhow::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).mode(0o600);
    if create_new {
        opts.create_new(true);
    } else {
        opts.create(true).truncate(true);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Creates `store.key` if it does not exist.
pub fn ensure_key(dir: &Path) -> anyhow::Result<()> {
    let path = dir.join(KEY_FILE);
    if path.exists() {
        return Ok(());
    }
    let mut secret = Zeroizing::new([0u8; 32]);
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, secret.as_mut());
    let text = Zeroizing::new(hex::encode(secret.as_ref()));
    write_private(&path, text.as_bytes(), true)
}

fn read_key(dir: &Path) -> Result<Zeroizing<Vec<u8>>, Tampered> {
    let path = dir.join(KEY_FILE);
    let text = Zeroizing::new(
        fs::read_to_string(&path).map_err(|e| Tampered::new(format!("{KEY_FILE}: {e}")))?,
    );
    let key = Zeroizing::new(
        hex::decode(text.trim()).map_err(|_| Tampered::new(format!("{KEY_FILE} is not hex")))?,
    );
    if key.len() != 32 {
        return Err(Tampered::new(format!("{KEY_FILE} is not 32 bytes")));
    }
    Ok(key)
}

fn mac(key: &[u8], body: &SealBody) -> anyhow::Result<Vec<u8>> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).context("seal key")?;
    m.update(DOMAIN);
    m.update(&serde_json::to_vec(body)?);
    Ok(m.finalize().into_bytes().to_vec())
}

/// Reads and checks the seal. `Ok(None)` when neither the seal nor its key
/// exists (never enrolled with this version).
pub fn read(dir: &Path) -> Result<Option<SealBody>, Tampered> {
    let path = dir.join(SEAL_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return if dir.join(KEY_FILE).exists() {
                Err(Tampered::new(format!("{SEAL_FILE} is missing")))
            } else {
                Ok(None)
            };
        }
        Err(e) => return Err(Tampered::new(format!("{SEAL_FILE}: {e}"))),
    };
    let file: SealFile = serde_json::from_str(&text)
        .map_err(|e| Tampered::new(format!("{SEAL_FILE} does not parse: {e}")))?;
    let key = read_key(dir)?;
    let given = hex::decode(&file.mac)
        .map_err(|_| Tampered::new(format!("{SEAL_FILE}: the MAC is not hex")))?;
    let body = serde_json::to_vec(&file.body).map_err(|e| Tampered::new(e.to_string()))?;
    let mut m = Hmac::<Sha256>::new_from_slice(&key)
        .map_err(|_| Tampered::new(format!("{KEY_FILE} unusable")))?;
    m.update(DOMAIN);
    m.update(&body);
    // Constant-time comparison (hmac's verify_slice).
    if m.verify_slice(&given).is_err() {
        return Err(Tampered::new(format!(
            "{SEAL_FILE} does not match this device's {KEY_FILE}"
        )));
    }
    Ok(Some(file.body))
}

/// Writes the seal (temporary file, fsync, rename, so a crash leaves the
/// old seal or the new one).
pub fn write(dir: &Path, body: &SealBody) -> anyhow::Result<()> {
    let key = read_key(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let file = SealFile {
        body: body.clone(),
        mac: hex::encode(mac(&key, body)?),
    };
    let tmp = dir.join(format!("{SEAL_FILE}.tmp"));
    write_private(&tmp, &serde_json::to_vec_pretty(&file)?, false)?;
    fs::rename(&tmp, dir.join(SEAL_FILE)).with_context(|| format!("renaming {}", tmp.display()))?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn body() -> SealBody {
        SealBody {
            root_alg: "EdDSA".into(),
            root_key: "00".repeat(32),
            server: "http://127.0.0.1:1".into(),
            device_id: 1,
            kid: "00".repeat(8),
            division: 210100,
            trust_seq: 3,
            status_seq: 9,
            status_issued_at: 100,
            newest_seen: 100,
            national_root: None,
            national_seq: 0,
        }
    }

    #[test]
    fn a_seal_without_a_national_root_is_the_json_older_versions_sealed() {
        // Seals written before mutual recognition must keep verifying: the
        // MAC'd JSON of a body without a national root has no new key.
        let json = serde_json::to_string(&body()).unwrap();
        assert!(!json.contains("national"), "{json}");
        let mut with = body();
        with.national_root = Some("EdDSA:00".into());
        with.national_seq = 2;
        assert!(serde_json::to_string(&with)
            .unwrap()
            .contains("national_seq"));
    }

    #[test]
    fn a_seal_verifies_only_unchanged_and_under_its_key() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(read(t.path()).unwrap(), None);
        ensure_key(t.path()).unwrap();
        assert!(read(t.path()).is_err(), "key without seal");
        write(t.path(), &body()).unwrap();
        assert_eq!(read(t.path()).unwrap(), Some(body()));

        // An edited seal (status high-water mark lowered) is refused.
        let path = t.path().join(SEAL_FILE);
        let text = fs::read_to_string(&path).unwrap();
        fs::write(
            &path,
            text.replace("\"status_seq\": 9", "\"status_seq\": 2"),
        )
        .unwrap();
        assert!(read(t.path()).is_err());

        // A seal made under another device's key is refused.
        let other = tempfile::tempdir().unwrap();
        ensure_key(other.path()).unwrap();
        write(other.path(), &body()).unwrap();
        fs::copy(other.path().join(SEAL_FILE), &path).unwrap();
        assert!(read(t.path()).is_err());
    }
}
