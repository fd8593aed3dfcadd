//! Signing keys and the data directory: first-start initialisation (root and
//! issuer keys, the issuing authorities, the lists' first sequence) and
//! loading the secrets at start.
//!
//! Secrets are files under `DIR/keys` (directory mode 0700, files 0600,
//! created exclusively so an existing key is never overwritten); the
//! database holds only public keys and metadata.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use rand_core::OsRng;
use shared::cose::{self, Sign1};
use shared::crypto::{Alg, SigningKey};
use shared::domain::{DivisionCode, Jurisdiction, Registry, Uscc};
use shared::status::StatusDelta;
use shared::status::StatusList;
use shared::trust::Authority;
use shared::wire::Claims;

use crate::store::{KeyRecord, KeyRole, ListState, StatusState, StatusStep, Store};

/// The database file name inside the data directory.
pub const DB_FILE: &str = "verifier.db";
/// The key directory inside the data directory.
pub const KEY_DIR: &str = "keys";

/// The private keys the service signs with.
#[derive(Debug, Clone)]
pub struct Keys {
    /// Signs trust lists.
    pub root: SigningKey,
    /// Signs certificates and status lists.
    pub issuer: SigningKey,
}

impl Keys {
    /// `envelope` (a stored certificate or delegated copy) signed anew by
    /// the issuer key at `now`: the same claims, a new signing time. Used
    /// after a key rotation or compromise, so a holder's code keeps its
    /// version and status index.
    pub fn resign(&self, envelope: &Sign1, now: i64) -> anyhow::Result<Vec<u8>> {
        let mut claims = Claims::from_cbor(envelope.payload()).context("stored claims")?;
        claims.issued_at = now;
        Ok(cose::sign(claims.to_cbor(), &self.issuer, true))
    }
}

/// The unified social credit code of the issuing authority of `division`
/// from the registry file (`shared/registry.json`; placeholders until the
/// official codes are given, see `docs/decisions.md`).
pub fn authority_uscc(division: DivisionCode) -> anyhow::Result<Uscc> {
    let registry = Registry::shipped().map_err(|e| anyhow::anyhow!("{e}"))?;
    registry
        .authority_uscc(division)
        .cloned()
        .with_context(|| format!("the registry names no credit code for {}", division.code()))
}

/// The province and its cities (Liaoning's 14, Jilin's 9), with their
/// credit codes from the registry file; stored at first start and
/// published in the trust list.
pub fn default_authorities(province: &'static Jurisdiction) -> anyhow::Result<Vec<Authority>> {
    std::iter::once(province.division())
        .chain(province.cities())
        .map(|division| {
            Ok(Authority {
                division,
                uscc: authority_uscc(division)?,
                name: division.authority_name_zh(),
            })
        })
        .collect()
}

fn create_secret_file(path: &Path, key: &SigningKey) -> anyhow::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating key file {}", path.display()))?;
    file.write_all(key.secret_bytes().as_slice())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing key file {}", path.display()))?;
    Ok(())
}

fn read_secret_file(path: &Path, record: &KeyRecord) -> anyhow::Result<SigningKey> {
    let meta = fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "key file {} is readable by others (mode {:o}); chmod 600 it",
            path.display(),
            meta.permissions().mode() & 0o777
        );
    }
    let bytes = zeroize::Zeroizing::new(
        fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    );
    let key = SigningKey::from_secret_bytes(record.alg, &bytes)
        .with_context(|| format!("key file {}", path.display()))?;
    if key.kid() != record.kid {
        bail!(
            "key file {} holds key {} but the database names {}",
            path.display(),
            key.kid(),
            record.kid
        );
    }
    Ok(key)
}

fn key_dir(data: &Path) -> PathBuf {
    data.join(KEY_DIR)
}

/// Creates the data directory, keys, authorities (of `province`) and the
/// lists' first state if the database has none yet; loads and returns the
/// keys. A database whose authorities are another province's is refused:
/// a data directory belongs to one province.
pub fn init_or_load(
    data: &Path,
    store: &dyn Store,
    alg: Alg,
    province: &'static Jurisdiction,
    now: i64,
) -> anyhow::Result<Keys> {
    let dir = key_dir(data);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating key directory {}", dir.display()))?;

    let mut tx = store.begin().context("opening a transaction")?;
    if tx.keys()?.is_empty() {
        let mut generated = Vec::new();
        for role in [KeyRole::Root, KeyRole::Issuer] {
            let key = SigningKey::generate(alg, &mut OsRng);
            let file = format!("{}-{}.key", role.as_str(), key.kid());
            create_secret_file(&dir.join(&file), &key)?;
            generated.push(KeyRecord {
                kid: key.kid(),
                role,
                alg,
                public_key: key.public_key().to_bytes(),
                not_before: now,
                not_after: None,
                state: 0,
                compromised_since: None,
                file,
            });
        }
        for record in &generated {
            tx.insert_key(record)?;
        }
        for authority in default_authorities(province)? {
            tx.insert_authority(&authority)?;
        }
        tx.set_trust_state(ListState {
            seq: 1,
            issued_at: now,
        })?;
        // Status sequence 1 is an empty list, reached from 0 by an empty
        // step so that a client holding nothing can ask for `since=0`.
        let empty = StatusList::new(0)?;
        let first = StatusDelta::between(0, 1, &empty, &empty)?;
        tx.insert_status_step(&StatusStep {
            seq: 1,
            issued_at: now,
            delta: first.to_cbor()?,
        })?;
        tx.set_status_state(StatusState {
            list: ListState {
                seq: 1,
                issued_at: now,
            },
            next_index: 0,
        })?;
        tx.set_meta("created_at", &now.to_string())?;
        tracing::info!(alg = %alg, "initialised a new data directory");
    }
    if let Some(other) = tx
        .authorities()?
        .iter()
        .find(|a| !province.contains(a.division))
    {
        anyhow::bail!(
            "this data directory is {}'s (authority {}), not {} ({}): give its own --province",
            other.division.name_zh(),
            other.division,
            province.name_zh,
            province.code
        );
    }
    let records = tx.keys()?;
    tx.commit()?;
    load(data, &records)
}

/// Loads the active root and issuer keys named by `records` from the key
/// directory (the newest active key of each role).
pub fn load(data: &Path, records: &[KeyRecord]) -> anyhow::Result<Keys> {
    let dir = key_dir(data);
    let pick = |role: KeyRole| -> anyhow::Result<SigningKey> {
        let record = records
            .iter()
            .rev()
            .find(|k| k.role == role && k.state == 0)
            .with_context(|| format!("no active {} key in the database", role.as_str()))?;
        read_secret_file(&dir.join(&record.file), record)
    };
    Ok(Keys {
        root: pick(KeyRole::Root)?,
        issuer: pick(KeyRole::Issuer)?,
    })
}

/// Creates a new issuer key of algorithm `alg` in the key directory and
/// returns its record (active, signing from `now`); the caller stores it.
pub fn new_issuer_key(data: &Path, alg: Alg, now: i64) -> anyhow::Result<KeyRecord> {
    let key = SigningKey::generate(alg, &mut OsRng);
    let file = format!("{}-{}.key", KeyRole::Issuer.as_str(), key.kid());
    create_secret_file(&key_dir(data).join(&file), &key)?;
    Ok(KeyRecord {
        kid: key.kid(),
        role: KeyRole::Issuer,
        alg,
        public_key: key.public_key().to_bytes(),
        not_before: now,
        not_after: None,
        state: 0,
        compromised_since: None,
        file,
    })
}

/// The `meta` key of the key generation: it increases with every change
/// of the keys (rotation, compromise) in the same transaction.
pub const GENERATION_META: &str = "keys_generation";
/// The file beside the keys that repeats the key generation after the
/// change committed, so a running server notices it with one small read
/// instead of a database transaction (which would wait for a push).
pub const GENERATION_FILE: &str = "generation";

/// The key generation a running server should be at (0 before any change).
pub fn read_generation(data: &Path) -> u64 {
    read_generation_file(&key_dir(data).join(GENERATION_FILE))
}

fn read_generation_file(path: &Path) -> u64 {
    fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// What identifies one version of the generation file: it is replaced by
/// a rename ([`announce_generation`]), so a new announcement is a new
/// inode with new times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(m: &fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt as _;
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// The announced key generation of one data directory, read cheaply for
/// the request path: one `stat` of the generation file per question (no
/// open, no read, no allocation), and the file is read again only when
/// its inode or times changed. Always as current as [`read_generation`].
#[derive(Debug)]
pub struct GenerationWatch {
    path: PathBuf,
    seen: std::sync::Mutex<Option<(Stamp, u64)>>,
}

impl GenerationWatch {
    /// Watches the generation file of data directory `data`.
    pub fn new(data: &Path) -> GenerationWatch {
        GenerationWatch {
            path: key_dir(data).join(GENERATION_FILE),
            seen: std::sync::Mutex::new(None),
        }
    }

    /// The key generation a running server should be at (0 before any
    /// change), as [`read_generation`] would read it now.
    pub fn announced(&self) -> u64 {
        // Metadata first, then the contents: a pair stored below never
        // holds contents older than its stamp, so a change is never missed.
        let stamp = fs::metadata(&self.path).ok().map(|m| Stamp::of(&m));
        if let (Some(stamp), Ok(seen)) = (stamp, self.seen.lock()) {
            if let Some((seen_stamp, generation)) = *seen {
                if seen_stamp == stamp {
                    return generation;
                }
            }
        }
        let generation = read_generation_file(&self.path);
        if let (Some(stamp), Ok(mut seen)) = (stamp, self.seen.lock()) {
            *seen = Some((stamp, generation));
        }
        generation
    }
}

/// Announces key generation `generation` to running servers (after the
/// transaction that made it committed): written to a temporary file and
/// renamed, so a reader never sees half a number.
pub fn announce_generation(data: &Path, generation: u64) -> anyhow::Result<()> {
    let dir = key_dir(data);
    let tmp = dir.join(format!("{GENERATION_FILE}.tmp"));
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(generation.to_string().as_bytes()))
        .and_then(|()| fs::rename(&tmp, dir.join(GENERATION_FILE)))
        .with_context(|| format!("writing {}", dir.join(GENERATION_FILE).display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_generation_watch_sees_every_announcement() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(key_dir(dir.path())).unwrap();
        let watch = GenerationWatch::new(dir.path());
        assert_eq!(watch.announced(), 0, "no file yet");
        for generation in 1..=20 {
            announce_generation(dir.path(), generation).unwrap();
            assert_eq!(watch.announced(), generation);
            assert_eq!(watch.announced(), generation, "from the stamp");
        }
    }

    #[test]
    fn placeholder_credit_codes_are_valid_and_distinct() {
        let all = default_authorities(&shared::domain::LIAONING).unwrap();
        assert_eq!(all.len(), 15);
        let jilin = default_authorities(&shared::domain::JILIN).unwrap();
        assert_eq!(jilin.len(), 10);
        assert_eq!(jilin[0].name, "吉林省交通运输厅");
        for a in &all {
            assert_eq!(Uscc::parse(a.uscc.as_str()).unwrap(), a.uscc);
            assert!(a
                .uscc
                .as_str()
                .contains(&format!("{:06}", a.division.code())));
        }
        let mut codes: Vec<_> = all.iter().map(|a| a.uscc.clone()).collect();
        codes.dedup();
        assert_eq!(codes.len(), 15);
        assert_eq!(all[1].name, "沈阳市交通运输局");
    }
}
