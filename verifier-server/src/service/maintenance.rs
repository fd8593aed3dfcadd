//! Backup, restore and the checks a copy must pass before it is used
//! (`verifier-server admin backup | restore | verify`).
//!
//! A backup is two things: the database, copied online with SQLite's backup
//! API (one read transaction, so the copy is the database as of one commit
//! while the server keeps writing), and the key files (`DIR/keys/`: the
//! private keys, never in the database), copied beside it into
//! `FILE.keys/` (0700/0600) unless the operator keeps keys elsewhere.
//!
//! A restore never half-applies: the copy and the keys are staged in a
//! temporary directory inside the target, checked ([`verify`]), and only
//! then renamed into place (keys first, the database last: a directory with
//! a database is a restored one). It refuses a target that already holds a
//! database or keys, a file SQLite finds corrupt or truncated, a schema
//! newer than this program, and data whose chains do not hold.
//!
//! [`verify`] checks, through the store (so on either engine): the key
//! files match the keys in the database; every live certificate's (and
//! valid delegated copy's) signature verifies with the public key it
//! names; the status list's steps form one contiguous chain from sequence
//! 0 to the current one whose replay gives exactly the statuses stored
//! with the certificate versions and copies;
//! audit ids increase; each device's check-log chain links (each record's
//! `prev` is the previous record's hash, from the genesis or the retention
//! anchor, up to the device's stored head).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context as _};
use serde::Serialize;
use shared::cose::Sign1;
use shared::crypto::{Kid, PublicKey};
use shared::status::{Status, StatusDelta, StatusList};
use shared::verify::MAX_CERTIFICATE_LEN;

use super::keys::{self, DB_FILE, KEY_DIR};
use crate::store::sqlite::{self, SqliteStore};
use crate::store::{Store, StoreError, Tx};

/// What [`verify`] checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// Live certificates whose signature verified.
    pub certificates: usize,
    /// Valid delegated copies whose signature verified.
    pub delegated_copies: usize,
    /// The status list's current sequence (steps 1..=seq all present).
    pub status_seq: u64,
    /// Audit rows read.
    pub audit_rows: u64,
    /// Devices whose check-log chain links up to their head.
    pub devices: usize,
    /// Check-log records whose links were checked.
    pub log_records: u64,
}

/// Checks the data in `store` against the key files under `data` (see
/// the module docs); the first problem found is the error.
pub fn verify(store: &dyn Store, data: &Path) -> anyhow::Result<Verified> {
    let mut tx = store.begin()?;
    let records = tx.keys()?;
    let loaded = keys::load(data, &records).context("the key files do not match the database")?;
    let mut public: HashMap<_, PublicKey> = HashMap::new();
    for k in &records {
        let key = PublicKey::from_bytes(k.alg, &k.public_key)
            .with_context(|| format!("stored public key {}", k.kid))?;
        public.insert(k.kid, key);
    }
    ensure!(
        public.get(&loaded.issuer.kid()).map(PublicKey::to_bytes)
            == Some(loaded.issuer.public_key().to_bytes()),
        "the issuer key file does not match its public key in the database"
    );

    // Certificates: each live version's signature, with the key it names;
    // likewise each valid delegated copy (what a driver can show).
    let live = tx.live_versions()?;
    for v in &live {
        signed_by_known_key(&v.signed, &public)
            .with_context(|| format!("certificate {} {} v{}", v.cert_type, v.number, v.version))?;
    }
    let copies = tx.valid_copies()?;
    for c in &copies {
        signed_by_known_key(&c.signed, &public).with_context(|| {
            format!(
                "delegated copy at status index {} (delegation {})",
                c.status_index, c.delegation_id
            )
        })?;
    }

    // The status list: steps 1..=seq, each from the one before, replayed.
    let state = tx
        .status_state()?
        .context("the status list is not initialised")?;
    let mut replayed: BTreeMap<u32, Status> = BTreeMap::new();
    let mut expected = 0u64;
    for step in tx.status_steps_after(0)? {
        let delta = StatusDelta::from_cbor(&step.delta, StatusList::MAX_LEN)
            .with_context(|| format!("status step {} does not decode", step.seq))?;
        ensure!(
            delta.from_seq == expected && delta.to_seq == step.seq,
            "status steps are not contiguous: expected a step from {expected}, found {} → {}",
            delta.from_seq,
            delta.to_seq
        );
        replayed.extend(delta.changes);
        expected = step.seq;
    }
    ensure!(
        expected == state.list.seq,
        "the status steps end at sequence {expected}, the list is at {}",
        state.list.seq
    );
    replayed.retain(|_, s| *s != Status::Valid);
    let current: BTreeMap<u32, Status> = tx.non_valid()?.into_iter().collect();
    ensure!(
        replayed == current,
        "replaying the status steps gives {} non-valid entries, the certificates hold {}",
        replayed.len(),
        current.len()
    );

    // The audit log: ids increase.
    let mut audit_rows = 0u64;
    let mut last = 0i64;
    loop {
        let page = tx.audit_after(last, 1_000)?;
        let Some(end) = page.last() else { break };
        for row in &page {
            ensure!(row.id > last, "audit ids do not increase at {}", row.id);
            last = row.id;
        }
        audit_rows += page.len() as u64;
        last = end.id;
    }

    // Check logs: each device's chain, from its anchor to its head.
    let (devices, log_records) = verify_chains(tx.as_mut())?;
    tx.commit()?;
    Ok(Verified {
        certificates: live.len(),
        delegated_copies: copies.len(),
        status_seq: state.list.seq,
        audit_rows,
        devices,
        log_records,
    })
}

/// `signed` is a COSE_Sign1 whose signature verifies with the stored
/// public key it names.
fn signed_by_known_key(signed: &[u8], public: &HashMap<Kid, PublicKey>) -> anyhow::Result<()> {
    let envelope = Sign1::parse(signed, MAX_CERTIFICATE_LEN).context("not a COSE_Sign1")?;
    let kid = envelope.kid().context("no key id")?;
    let key = public
        .get(&kid)
        .with_context(|| format!("signed by an unknown key {kid}"))?;
    envelope
        .verify(key)
        .context("the signature does not verify")?;
    Ok(())
}

/// Each device's stored records link from its anchor (the genesis, or the
/// last purged record's hash) to its head; (devices, records).
fn verify_chains(tx: &mut dyn Tx) -> anyhow::Result<(usize, u64)> {
    let devices = tx.devices(None)?;
    let mut records = 0u64;
    for d in &devices {
        let (mut next, mut prev) = match tx.log_anchor(d.id)? {
            Some((seq, hash)) => (seq + 1, hash),
            None => (0, shared::checklog::GENESIS),
        };
        let mut after = next.checked_sub(1);
        loop {
            let page = tx.log_records(d.id, after, 1_000)?;
            if page.is_empty() {
                break;
            }
            for r in &page {
                ensure!(
                    r.seq == next && r.prev == prev,
                    "device {}: the check-log chain breaks at record {} (expected {next})",
                    d.kid,
                    r.seq
                );
                next = r.seq + 1;
                prev = r.hash;
                after = Some(r.seq);
            }
            records += page.len() as u64;
        }
        ensure!(
            d.next_seq == next && d.head == prev,
            "device {}: its head is at {} but its records end at {next}",
            d.kid,
            d.next_seq
        );
    }
    Ok((devices.len(), records))
}

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupReport {
    /// The database copy.
    pub database: PathBuf,
    /// The copy of the key files, when made.
    pub keys: Option<PathBuf>,
    /// Its size, bytes.
    pub bytes: u64,
}

/// The key directory kept beside a backup file `to`: `FILE.keys`.
pub fn keys_beside(to: &Path) -> PathBuf {
    let mut name = to.as_os_str().to_owned();
    name.push(".keys");
    PathBuf::from(name)
}

/// `admin backup --to FILE`: an online copy of the SQLite database of
/// `data` (a server may be serving it) to `to`, written under a temporary
/// name and renamed when complete; the key files to `FILE.keys/` when
/// `with_keys`.
pub fn backup(data: &Path, to: &Path, with_keys: bool) -> anyhow::Result<BackupReport> {
    let db = data.join(DB_FILE);
    ensure!(db.is_file(), "{} holds no database", data.display());
    ensure!(
        !to.exists(),
        "{} exists already; name a new file",
        to.display()
    );
    let keys_to = keys_beside(to);
    ensure!(
        !with_keys || !keys_to.exists(),
        "{} exists already; name a new file",
        keys_to.display()
    );
    let tmp = temp_beside(to)?;
    let copied = sqlite::backup_file(&db, &tmp)
        .with_context(|| format!("copying {} to {}", db.display(), tmp.display()));
    if let Err(e) = copied {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sqlite::check_file(&tmp).context("the copy does not check out")?;
    let keys = if with_keys {
        let staged = temp_beside(&keys_to)?;
        copy_keys(&data.join(KEY_DIR), &staged)?;
        fs::rename(&staged, &keys_to).with_context(|| format!("renaming {}", staged.display()))?;
        Some(keys_to)
    } else {
        None
    };
    fs::rename(&tmp, to).with_context(|| format!("renaming {}", tmp.display()))?;
    sync_parent(to)?;
    Ok(BackupReport {
        database: to.to_path_buf(),
        keys,
        bytes: fs::metadata(to)?.len(),
    })
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    /// The schema version of the copy (migrated to this program's when
    /// older).
    pub schema_version: usize,
    /// What the checks covered.
    pub verified: Verified,
}

/// `admin restore --from FILE --data DIR`: checks the copy FILE and the key
/// files (`keys`, default `FILE.keys/`), then makes DIR a data directory
/// holding them (see the module docs). DIR may exist but must hold no
/// database and no keys.
pub fn restore(from: &Path, keys: Option<&Path>, data: &Path) -> anyhow::Result<RestoreReport> {
    ensure!(from.is_file(), "{} is not a file", from.display());
    let keys_from = keys.map_or_else(|| keys_beside(from), Path::to_path_buf);
    ensure!(
        keys_from.is_dir(),
        "no key files at {} (give --keys DIR)",
        keys_from.display()
    );
    let target_db = data.join(DB_FILE);
    let target_keys = data.join(KEY_DIR);
    if target_db.exists() {
        bail!(
            "{} already holds a database: restore into a new directory",
            data.display()
        );
    }
    if target_keys.exists() {
        bail!(
            "{} holds keys but no database (an interrupted restore?): remove {} first",
            data.display(),
            target_keys.display()
        );
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data)
        .with_context(|| format!("creating data directory {}", data.display()))?;
    let staging = data.join(format!(".restore-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .with_context(|| format!("creating {}", staging.display()))?;
    let result = stage_and_check(from, &keys_from, &staging);
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    fs::rename(staging.join(KEY_DIR), &target_keys)
        .with_context(|| format!("moving the keys into {}", data.display()))?;
    fs::rename(staging.join(DB_FILE), &target_db)
        .with_context(|| format!("moving the database into {}", data.display()))?;
    let _ = fs::remove_dir_all(&staging);
    sync_parent(&target_db)?;
    Ok(report)
}

fn stage_and_check(from: &Path, keys_from: &Path, staging: &Path) -> anyhow::Result<RestoreReport> {
    let db = staging.join(DB_FILE);
    fs::copy(from, &db).with_context(|| format!("copying {}", from.display()))?;
    fs::File::open(&db)?.sync_all()?;
    let check = sqlite::check_file(&db)
        .with_context(|| format!("{} cannot be restored", from.display()))?;
    copy_keys(keys_from, &staging.join(KEY_DIR))?;
    let verified = {
        let store = SqliteStore::open(&db)
            .with_context(|| format!("opening the copy of {}", from.display()))?;
        verify(&store, staging).with_context(|| format!("{} fails its checks", from.display()))?
    };
    // The store is closed: its WAL is checkpointed into the file.
    Ok(RestoreReport {
        schema_version: check.schema_version,
        verified,
    })
}

/// A fresh temporary name beside `path`.
fn temp_beside(path: &Path) -> anyhow::Result<PathBuf> {
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let mut tmp = name.to_owned();
    tmp.push(format!(".partial-{}", std::process::id()));
    Ok(path.with_file_name(tmp))
}

/// Copies the key files (regular files only) to a new directory `to`
/// (0700, files 0600), each synced.
fn copy_keys(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::DirBuilder::new()
        .mode(0o700)
        .create(to)
        .with_context(|| format!("creating {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let dest = to.join(entry.file_name());
        fs::copy(entry.path(), &dest)
            .with_context(|| format!("copying {}", entry.path().display()))?;
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o600))?;
        fs::File::open(&dest)?.sync_all()?;
    }
    fs::File::open(to)?.sync_all()?;
    Ok(())
}

fn sync_parent(path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// Default retention of check logs and their batches: the evaluation year
/// plus this many full years.
pub const RETENTION_YEARS: u32 = 3;

/// Records purged per transaction: a killed purge loses at most one
/// uncommitted batch, and the next run resumes from the anchors.
pub const PURGE_BATCH: u32 = 1_000;

/// What a purge did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    /// Records with device time before this (00:00 China Standard Time on
    /// 1 January) were purged.
    pub cutoff: i64,
    /// Years whose evaluation was stored before their records went.
    pub years_kept: Vec<i32>,
    /// Check-log records purged.
    pub records: u64,
    /// Check records received from other provinces purged.
    pub peer_checks: u64,
    /// Applications' online verifications purged.
    pub app_checks: u64,
    /// Records forwarded to other provinces (delivered batches) purged.
    pub forwarded: u64,
    /// Transactions used.
    pub transactions: u64,
}

/// The first instant kept when `keep_years` full years are kept before
/// the current one (China Standard Time).
pub fn retention_cutoff(now: i64, keep_years: u32) -> i64 {
    let year = shared::cst::year(now).saturating_sub(i32::try_from(keep_years).unwrap_or(i32::MAX));
    shared::cst::month_start(year, 1)
}

/// Purges check-log records (and batches none of whose records remain)
/// whose device time is before the start of the year `keep_years` before
/// the current one: first each such year's evaluation is stored, then each
/// device's chain is cut, [`PURGE_BATCH`] records per transaction, its
/// anchor moved in the same transaction. The other evidence of checks
/// goes by the same cutoff, as many per transaction: records received
/// from other provinces (dated and received before it) with their empty
/// batches, applications' online verifications, and delivered batches
/// forwarded to other provinces with their records (undelivered ones are
/// still owed and stay). Safe to kill and run again. `each_batch` is
/// called after every commit with the check-log records purged so far
/// (tests, progress).
pub fn purge(
    store: &dyn Store,
    keep_years: u32,
    now: i64,
    mut each_batch: impl FnMut(u64),
) -> anyhow::Result<PurgeReport> {
    let cutoff = retention_cutoff(now, keep_years);
    let cutoff_year = shared::cst::year(cutoff);
    let mut years_kept = Vec::new();
    let mut tx = store.begin()?;
    let devices = tx.devices(None)?;
    // Years that have records before the cutoff: the oldest record's year
    // up to the year before the cutoff.
    let oldest = [
        tx.eval_oldest_check(cutoff)?,
        tx.peer_checks_oldest(cutoff)?,
        tx.app_checks_oldest(cutoff)?,
    ]
    .into_iter()
    .flatten()
    .min();
    if let Some(oldest) = oldest {
        for year in shared::cst::year(oldest)..cutoff_year {
            super::evaluation::keep(tx.as_mut(), year, now)?;
            years_kept.push(year);
        }
    }
    tx.commit()?;
    let mut records = 0u64;
    let mut transactions = 0u64;
    for d in &devices {
        loop {
            let mut tx = store.begin()?;
            let n = tx.purge_device_logs(d.id, cutoff, PURGE_BATCH, now)?;
            if n == 0 {
                break;
            }
            tx.commit()?;
            records += n;
            transactions += 1;
            each_batch(records);
        }
    }
    type Purge = fn(&mut dyn Tx, i64, u32) -> Result<u64, StoreError>;
    let others: [Purge; 3] = [
        |tx, before, limit| tx.purge_peer_checks(before, limit),
        |tx, before, limit| tx.purge_app_checks(before, limit),
        |tx, before, limit| tx.purge_forwarded(before, limit),
    ];
    let mut purged = [0u64; 3];
    for (purge, total) in others.iter().zip(&mut purged) {
        loop {
            let mut tx = store.begin()?;
            let n = purge(tx.as_mut(), cutoff, PURGE_BATCH)?;
            // Committed even when no record went: a received batch whose
            // records all came earlier in another one has none to count.
            tx.commit()?;
            transactions += 1;
            *total += n;
            if n == 0 {
                break;
            }
        }
    }
    let [peer_checks, app_checks, forwarded] = purged;
    let mut tx = store.begin()?;
    tx.append_audit(&super::action::cli_entry(
        now,
        super::action::Action::Purge,
        format!("check logs before {cutoff}"),
        &format!(
            "ok: {records} records purged ({peer_checks} received from other provinces, \
             {app_checks} online verifications, {forwarded} forwarded), \
             evaluations kept for {years_kept:?}"
        ),
    ))?;
    tx.commit()?;
    Ok(PurgeReport {
        cutoff,
        years_kept,
        records,
        peer_checks,
        app_checks,
        forwarded,
        transactions,
    })
}
