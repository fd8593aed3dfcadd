//! The device database `client.db`: enrollment, the signed lists and the
//! hash-chained check log, in one SQLite file (WAL, `synchronous=FULL`).
//!
//! The lists are kept exactly as received: the trust list's COSE bytes,
//! the status snapshot's COSE bytes and the COSE bytes of every delta
//! applied since. Nothing derived from them is trusted: every load
//! ([`Db::lists`]) checks the store seal ([`crate::seal`]), takes the
//! pinned root key from it, verifies the trust list with that root, the
//! snapshot and each delta with the trust list, replays the deltas, and
//! refuses any sequence below the sealed high-water marks. A store that
//! fails any of this gives [`Tampered`], which a check turns into
//! `cannot_confirm` / `store_tampered`. A sync writes the lists in one
//! transaction ([`Db::apply_sync`]) and then raises the seal's marks.
//!
//! The directory is 0700 and every file in it 0600 ([`crate::private_fs`]);
//! the officer's bearer token stays in this database, which is therefore
//! exactly as readable as the device key (see
//! `docs/field-client-security.md`).

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use rusqlite::{params, Connection, OptionalExtension as _, TransactionBehavior};
use sha2::{Digest as _, Sha256};
use shared::checklog::{ChainHead, Event, Record, Sealed, GENESIS};
use shared::crypto::{Alg, PublicKey};
use shared::national::NationalList;
use shared::status::StatusCache;
use shared::trust::{Manifest, SignedStatus, StatusUpdate, TrustList};

use crate::private_fs;
pub use crate::seal::Tampered;
use crate::seal::{self, SealBody};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "client.db";

/// Deltas kept after a snapshot before the next sync fetches a snapshot
/// again (each load replays them all).
pub const MAX_DELTAS: usize = 32;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS state (
    key   TEXT PRIMARY KEY,
    value ANY
) STRICT;
CREATE TABLE IF NOT EXISTS status_delta (
    seq   INTEGER PRIMARY KEY,
    bytes BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS province_lists (
    province INTEGER PRIMARY KEY,
    trust    BLOB NOT NULL,
    status   BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS log (
    seq      INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    kind     INTEGER NOT NULL,
    verdict  TEXT,
    reason   TEXT,
    cert     TEXT,
    hash     BLOB NOT NULL,
    record   BLOB NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0
) STRICT;
";

/// What enrollment stored.
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// Base URL of the verifier server.
    pub server: String,
    /// The officer's bearer token (a secret).
    pub token: String,
    /// The server's id for this device.
    pub device_id: i64,
    /// The device key's id, hex.
    pub kid: String,
    /// The officer's division.
    pub division: i64,
    /// The pinned root key (trust anchor).
    pub root: PublicKey,
    /// The CA certificates (PEM) the server's TLS certificate must chain
    /// to (`enroll --ca-file`); `None`: the web's roots.
    pub ca_pem: Option<String>,
    /// The pinned national root (mutual recognition), when the server named
    /// one at enrollment.
    pub national_root: Option<PublicKey>,
}

impl Enrollment {
    /// The province-level code of the officer's division (e.g. 210000).
    pub fn own_province(&self) -> u32 {
        u32::try_from(self.division).map_or(210_000, |d| d / 10_000 * 10_000)
    }
}

/// Another province's verified lists.
#[derive(Debug, Clone)]
pub struct ProvinceHeld {
    /// Province-level code, e.g. 220000.
    pub province: u32,
    /// Its trust list, verified with the root the national list names.
    pub trust: TrustList,
    /// Its status snapshot and that snapshot's manifest.
    pub status: (StatusCache, Manifest),
}

/// What mutual recognition holds: the national list and the other
/// provinces' lists.
#[derive(Debug, Clone)]
pub struct NationalHeld {
    /// The officer's own province.
    pub own_province: u32,
    /// The verified national list.
    pub list: NationalList,
    /// The other provinces' verified lists (only provinces it names).
    pub provinces: Vec<ProvinceHeld>,
}

impl NationalHeld {
    /// The lists of a province, if held.
    pub fn province(&self, code: u32) -> Option<&ProvinceHeld> {
        self.provinces.iter().find(|p| p.province == code)
    }
}

/// A province's stored signed lists: code, trust list, status snapshot.
pub type ProvinceRow = (u32, Vec<u8>, Vec<u8>);

/// The national part of a sync, verified.
#[derive(Debug)]
pub struct NationalWrite<'a> {
    /// The signed national list.
    pub bytes: &'a [u8],
    /// It, verified.
    pub list: &'a NationalList,
    /// Each other province's signed trust list and status snapshot.
    pub provinces: Vec<ProvinceRow>,
}

/// The verified lists a check runs against.
#[derive(Debug, Clone)]
pub struct Lists {
    /// The verified trust list.
    pub trust: TrustList,
    /// The status cache and the manifest of its newest update.
    pub status: Option<(StatusCache, Manifest)>,
    /// The newest `issued_at` of any signed list accepted so far.
    pub newest_seen: i64,
    /// Mutual recognition, when a national list is held.
    pub national: Option<NationalHeld>,
}

/// What the store holds for a verdict: nothing yet (`Ok(None)`), verified
/// lists, or a store that cannot be trusted.
pub type Held = Result<Option<Lists>, Tampered>;

/// How a sync changes the status list.
#[derive(Debug, Clone, Copy)]
pub enum StatusWrite<'a> {
    /// A new snapshot (COSE bytes, verified): replaces the snapshot and
    /// drops the deltas.
    Snapshot(&'a [u8]),
    /// A delta (COSE bytes, verified) that applies to the held list.
    Delta(&'a [u8]),
    /// Unchanged.
    Keep,
}

/// A sync's verified result, written in one transaction.
#[derive(Debug)]
pub struct SyncData<'a> {
    /// Signed trust list bytes (verified).
    pub trust_bytes: &'a [u8],
    /// The trust list they hold.
    pub trust: &'a TrustList,
    /// The status change.
    pub status: StatusWrite<'a>,
    /// The status list sequence after the change.
    pub status_seq: u64,
    /// Manifest of the newest status object after the change.
    pub status_manifest: Manifest,
    /// The catalogue JSON.
    pub catalogue: &'a [u8],
    /// The national list and the other provinces' lists (`None`: keep what
    /// is held).
    pub national: Option<NationalWrite<'a>>,
    /// When the sync finished (device clock).
    pub now: i64,
}

/// One stored log record.
#[derive(Debug, Clone)]
pub struct LogRow {
    /// The record, decoded.
    pub record: Record,
    /// Its bytes as signed into batches.
    pub bytes: Vec<u8>,
    /// Its hash.
    pub hash: [u8; 32],
    /// Whether the server acknowledged it.
    pub uploaded: bool,
}

/// Counts of the check log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogCounts {
    /// Records in the log.
    pub total: u64,
    /// Records the server has acknowledged.
    pub uploaded: u64,
}

/// The open database.
#[derive(Debug)]
pub struct Db {
    conn: Connection,
    dir: PathBuf,
    /// The last verified lists and the digest of every input they were
    /// verified from (seal, trust list, snapshot, deltas): the same bytes
    /// verify the same way, so a load whose inputs hash the same reuses
    /// the result instead of checking every signature again.
    memo: RefCell<Option<([u8; 32], Lists)>>,
}

fn alg_name(alg: Alg) -> &'static str {
    match alg {
        Alg::EdDSA => "EdDSA",
        Alg::Sm2Sm3 => "SM2-SM3",
    }
}

/// The algorithm for a name of the device API (`EdDSA`, `SM2-SM3`; `SM2` too).
pub fn alg_from_name(name: &str) -> Option<Alg> {
    match name {
        "EdDSA" => Some(Alg::EdDSA),
        "SM2-SM3" | "SM2" => Some(Alg::Sm2Sm3),
        _ => None,
    }
}

/// The device API name of an algorithm.
pub fn alg_to_name(alg: Alg) -> &'static str {
    alg_name(alg)
}

/// The raw signed lists as stored.
struct Raw {
    trust: Option<Vec<u8>>,
    snapshot: Option<Vec<u8>>,
    deltas: Vec<Vec<u8>>,
    national: Option<Vec<u8>>,
    provinces: Vec<(i64, Vec<u8>, Vec<u8>)>,
}

fn seal_of(e: &Enrollment, marks: Option<&SealBody>) -> SealBody {
    SealBody {
        root_alg: alg_name(e.root.alg()).to_string(),
        root_key: hex::encode(e.root.to_bytes()),
        server: e.server.clone(),
        device_id: e.device_id,
        kid: e.kid.clone(),
        division: e.division,
        trust_seq: marks.map_or(0, |m| m.trust_seq),
        status_seq: marks.map_or(0, |m| m.status_seq),
        status_issued_at: marks.map_or(i64::MIN, |m| m.status_issued_at),
        newest_seen: marks.map_or(0, |m| m.newest_seen),
        national_root: e
            .national_root
            .as_ref()
            .map(|k| format!("{}:{}", alg_name(k.alg()), hex::encode(k.to_bytes()))),
        national_seq: marks.map_or(0, |m| m.national_seq),
    }
}

/// Verifies the stored national list and provinces' lists under the sealed
/// national root; a stored province the list no longer names is ignored.
fn verify_national(
    e: &Enrollment,
    seal: &SealBody,
    raw: &Raw,
    newest: &mut i64,
) -> Result<Option<NationalHeld>, Tampered> {
    let (Some(root), Some(bytes)) = (&e.national_root, &raw.national) else {
        if seal.national_seq > 0 {
            return Err(Tampered::new("the national list was removed"));
        }
        return Ok(None);
    };
    let list = NationalList::verify(bytes, root)
        .map_err(|err| Tampered::new(format!("the stored national list: {err}")))?;
    if list.seq < seal.national_seq {
        return Err(Tampered::new(format!(
            "the stored national list (seq {}) is older than one accepted before (seq {})",
            list.seq, seal.national_seq
        )));
    }
    *newest = (*newest).max(list.issued_at);
    let mut provinces = Vec::new();
    for (code, trust_bytes, status_bytes) in &raw.provinces {
        let Some(entry) = u32::try_from(*code).ok().and_then(|c| list.province(c)) else {
            continue;
        };
        let trust = entry
            .verify_trust_list(trust_bytes)
            .map_err(|err| Tampered::new(format!("stored lists of province {code}: {err}")))?;
        let signed = SignedStatus::verify(status_bytes, &trust)
            .map_err(|err| Tampered::new(format!("stored status of province {code}: {err}")))?;
        let StatusUpdate::Snapshot(snapshot) = signed.update else {
            return Err(Tampered::new(format!(
                "stored status of province {code} is a delta"
            )));
        };
        *newest = (*newest)
            .max(trust.manifest.issued_at)
            .max(signed.manifest.issued_at);
        provinces.push(ProvinceHeld {
            province: entry.division.code(),
            trust,
            status: (StatusCache::from_snapshot(snapshot), signed.manifest),
        });
    }
    Ok(Some(NationalHeld {
        own_province: e.own_province(),
        list,
        provinces,
    }))
}

/// Verifies the stored lists under the sealed root and high-water marks.
fn verify_raw(e: &Enrollment, seal: &SealBody, raw: &Raw) -> Held {
    let root = &e.root;
    let Some(trust_bytes) = &raw.trust else {
        if seal.trust_seq > 0 || raw.snapshot.is_some() || !raw.deltas.is_empty() {
            return Err(Tampered::new("the trust list was removed"));
        }
        return Ok(None);
    };
    let trust = TrustList::verify(trust_bytes, root).map_err(|e| {
        Tampered::new(format!(
            "the stored trust list does not verify with the pinned root key {}: {e}",
            root.kid()
        ))
    })?;
    if trust.seq < seal.trust_seq {
        return Err(Tampered::new(format!(
            "the stored trust list (seq {}) is older than one accepted before (seq {})",
            trust.seq, seal.trust_seq
        )));
    }
    let mut newest = seal.newest_seen.max(trust.manifest.issued_at);
    let status = match &raw.snapshot {
        None => {
            if seal.status_seq > 0 || !raw.deltas.is_empty() {
                return Err(Tampered::new("the status list was removed"));
            }
            None
        }
        Some(bytes) => {
            let signed = SignedStatus::verify(bytes, &trust)
                .map_err(|e| Tampered::new(format!("the stored status snapshot: {e}")))?;
            let StatusUpdate::Snapshot(snapshot) = signed.update else {
                return Err(Tampered::new("the stored status snapshot is a delta"));
            };
            let mut cache = StatusCache::from_snapshot(snapshot);
            let mut manifest = signed.manifest;
            for (i, bytes) in raw.deltas.iter().enumerate() {
                let signed = SignedStatus::verify(bytes, &trust)
                    .map_err(|e| Tampered::new(format!("stored status delta {i}: {e}")))?;
                let StatusUpdate::Delta(delta) = signed.update else {
                    return Err(Tampered::new(format!(
                        "stored status delta {i} is a snapshot"
                    )));
                };
                if signed.manifest.issued_at < manifest.issued_at {
                    return Err(Tampered::new(format!(
                        "stored status delta {i} is older than the list before it"
                    )));
                }
                cache
                    .apply(&delta)
                    .map_err(|e| Tampered::new(format!("stored status delta {i}: {e}")))?;
                manifest = signed.manifest;
            }
            if cache.seq() < seal.status_seq || manifest.issued_at < seal.status_issued_at {
                return Err(Tampered::new(format!(
                    "the stored status list (seq {}) is older than one accepted before (seq {})",
                    cache.seq(),
                    seal.status_seq
                )));
            }
            newest = newest.max(manifest.issued_at);
            Some((cache, manifest))
        }
    };
    let national = verify_national(e, seal, raw, &mut newest)?;
    Ok(Some(Lists {
        trust,
        status,
        newest_seen: newest,
        national,
    }))
}

impl Db {
    /// Opens (creating) the database in `dir`. The directory is tightened
    /// to 0700 and every file in it to 0600 first (each change is reported
    /// on standard error); the database is created 0600 before SQLite
    /// opens it, so its `-wal` and `-shm` get that mode too.
    pub fn open(dir: &Path) -> anyhow::Result<Db> {
        for p in private_fs::tighten_tree(dir)? {
            eprintln!(
                "field-client: {} was readable by others: restricted to its owner 已限制为仅本人可读",
                p.display()
            );
        }
        let path = dir.join(DB_FILE);
        private_fs::private_file(&path)?;
        let conn = Connection::open(&path)
            .with_context(|| format!("opening database {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            bail!("database {}: could not switch to WAL", path.display());
        }
        conn.execute_batch("PRAGMA synchronous=FULL;")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Db {
            conn,
            dir: dir.to_path_buf(),
            memo: RefCell::new(None),
        })
    }

    fn get<T: rusqlite::types::FromSql>(&self, key: &str) -> anyhow::Result<Option<T>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM state WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    fn put(conn: &Connection, key: &str, value: impl rusqlite::ToSql) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO state (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )
        .map(|_| ())
    }

    /// Stores the enrollment and seals it. A previous enrollment under the
    /// same root keeps its lists and high-water marks; otherwise (another
    /// root, none, or a store that failed its checks) the lists are
    /// dropped. Returns what was wrong with the previous store, if it
    /// failed its checks.
    pub fn set_enrollment(&mut self, e: &Enrollment, now: i64) -> anyhow::Result<Option<Tampered>> {
        let (marks, tampered) = match self.sealed()? {
            Ok(Some((old, mut marks))) if old.root == e.root => {
                if old.national_root != e.national_root {
                    // Another national root: what the old one signed is
                    // dropped below, and so is its high-water mark.
                    marks.national_seq = 0;
                }
                (Some(marks), None)
            }
            Ok(_) => (None, None),
            Err(t) => (None, Some(t)),
        };
        let tx = self.conn.transaction()?;
        Self::put(&tx, "server", &e.server)?;
        Self::put(&tx, "token", &e.token)?;
        Self::put(&tx, "device_id", e.device_id)?;
        Self::put(&tx, "kid", &e.kid)?;
        Self::put(&tx, "division", e.division)?;
        Self::put(&tx, "root_alg", alg_name(e.root.alg()))?;
        Self::put(&tx, "root_key", e.root.to_bytes())?;
        Self::put(&tx, "enrolled_at", now)?;
        match &e.national_root {
            Some(k) => {
                Self::put(&tx, "national_root_alg", alg_name(k.alg()))?;
                Self::put(&tx, "national_root_key", k.to_bytes())?;
            }
            None => {
                tx.execute(
                    "DELETE FROM state WHERE key IN ('national_root_alg', 'national_root_key')",
                    [],
                )?;
            }
        }
        if marks.is_none() {
            tx.execute(
                "DELETE FROM state WHERE key IN ('trust', 'trust_seq', 'status_snapshot', 'status_seq', 'newest_seen')",
                [],
            )?;
            tx.execute("DELETE FROM status_delta", [])?;
        }
        if marks.as_ref().is_none_or(|m| m.national_seq == 0) || e.national_root.is_none() {
            tx.execute("DELETE FROM state WHERE key = 'national'", [])?;
            tx.execute("DELETE FROM province_lists", [])?;
        }
        match &e.ca_pem {
            Some(pem) => Self::put(&tx, "ca_pem", pem)?,
            None => {
                tx.execute("DELETE FROM state WHERE key = 'ca_pem'", [])?;
            }
        }
        tx.commit()?;
        seal::ensure_key(&self.dir)?;
        seal::write(&self.dir, &seal_of(e, marks.as_ref()))?;
        self.memo.replace(None);
        Ok(tampered)
    }

    /// The enrollment rows of the database, unchecked.
    fn enrollment_rows(&self) -> anyhow::Result<Option<Enrollment>> {
        let Some(server) = self.get::<String>("server")? else {
            return Ok(None);
        };
        let alg_text: String = self.get("root_alg")?.context("root_alg missing")?;
        let alg = alg_from_name(&alg_text).context("stored root algorithm unknown")?;
        let key: Vec<u8> = self.get("root_key")?.context("root_key missing")?;
        Ok(Some(Enrollment {
            server,
            token: self.get("token")?.context("token missing")?,
            device_id: self.get("device_id")?.unwrap_or(0),
            kid: self.get("kid")?.context("kid missing")?,
            division: self.get("division")?.unwrap_or(0),
            root: PublicKey::from_bytes(alg, &key).context("stored root key")?,
            ca_pem: self.get("ca_pem")?,
            national_root: match (
                self.get::<String>("national_root_alg")?,
                self.get::<Vec<u8>>("national_root_key")?,
            ) {
                (Some(alg), Some(key)) => Some(
                    PublicKey::from_bytes(
                        alg_from_name(&alg).context("stored national root algorithm unknown")?,
                        &key,
                    )
                    .context("stored national root key")?,
                ),
                _ => None,
            },
        }))
    }

    /// The enrollment checked against the seal, with the seal. `Ok(None)`
    /// when not enrolled; the inner error when the seal is missing, broken
    /// or disagrees with the database (a swapped root key, server or
    /// device).
    pub fn sealed(&self) -> anyhow::Result<Result<Option<(Enrollment, SealBody)>, Tampered>> {
        let seal = match seal::read(&self.dir) {
            Ok(s) => s,
            Err(t) => return Ok(Err(t)),
        };
        let rows = match self.enrollment_rows() {
            Ok(r) => r,
            Err(e) => return Ok(Err(Tampered::new(format!("enrollment rows: {e:#}")))),
        };
        Ok(match (rows, seal) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(Tampered::new("the enrollment was removed from client.db")),
            (Some(_), None) => Err(Tampered::new(format!(
                "no {} beside client.db (removed, or made by an older version)",
                seal::SEAL_FILE
            ))),
            (Some(e), Some(s)) => {
                if s != seal_of(&e, Some(&s)) {
                    Err(Tampered::new(
                        "the pinned root key or the enrollment in client.db differs from the sealed one",
                    ))
                } else {
                    Ok(Some((e, s)))
                }
            }
        })
    }

    /// The enrollment, if the device is enrolled; an error when the store
    /// fails its checks.
    pub fn enrollment(&self) -> anyhow::Result<Option<Enrollment>> {
        match self.sealed()? {
            Ok(e) => Ok(e.map(|(e, _)| e)),
            Err(t) => Err(anyhow::Error::new(t)),
        }
    }

    /// Whether the database holds an enrollment (checked or not).
    pub fn is_enrolled(&self) -> anyhow::Result<bool> {
        Ok(self.get::<String>("server")?.is_some())
    }

    /// The enrollment, or an error telling the officer to enroll.
    pub fn require_enrollment(&self) -> anyhow::Result<Enrollment> {
        self.enrollment()?.context(
            "this device is not enrolled: run `field-client --data DIR enroll --server URL --token TOKEN` first",
        )
    }

    /// The seal's high-water marks (the store must pass its checks).
    pub fn marks(&self) -> anyhow::Result<SealBody> {
        match self.sealed()? {
            Ok(Some((_, s))) => Ok(s),
            Ok(None) => bail!("this device is not enrolled"),
            Err(t) => Err(anyhow::Error::new(t)),
        }
    }

    /// The sequence of the held trust list, if any.
    pub fn trust_seq(&self) -> anyhow::Result<Option<u64>> {
        Ok(self.get::<i64>("trust_seq")?.map(|s| s as u64))
    }

    /// The other provinces' signed lists as stored (province, trust list,
    /// status snapshot), unverified.
    pub fn province_rows(&self) -> anyhow::Result<Vec<ProvinceRow>> {
        Ok(self
            .raw()?
            .provinces
            .into_iter()
            .filter_map(|(c, t, s)| u32::try_from(c).ok().map(|c| (c, t, s)))
            .collect())
    }

    /// Status deltas held since the snapshot.
    pub fn delta_count(&self) -> anyhow::Result<usize> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM status_delta", [], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn raw(&self) -> anyhow::Result<Raw> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT bytes FROM status_delta ORDER BY seq")?;
        let deltas = stmt
            .query_map([], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT province, trust, status FROM province_lists ORDER BY province",
        )?;
        let provinces = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Raw {
            trust: self.get("trust")?,
            snapshot: self.get("status_snapshot")?,
            deltas,
            national: self.get("national")?,
            provinces,
        })
    }

    /// Loads the held lists and verifies them again, every time: the seal,
    /// the trust list under the sealed root, the status snapshot and every
    /// delta under the trust list, the high-water marks. `Ok(Ok(None))`
    /// before the first sync (or before enrollment), `Ok(Err(_))` when the
    /// store fails a check; the outer error is an I/O failure.
    pub fn lists(&self) -> anyhow::Result<Held> {
        let (e, marks) = match self.sealed()? {
            Ok(Some(x)) => x,
            Ok(None) => return Ok(Ok(None)),
            Err(t) => return Ok(Err(t)),
        };
        let raw = self.raw()?;
        let mut h = Sha256::new();
        h.update(serde_json::to_vec(&marks)?);
        for part in [&raw.trust, &raw.snapshot] {
            match part {
                Some(b) => {
                    h.update((b.len() as u64 + 1).to_be_bytes());
                    h.update(b);
                }
                None => h.update(0u64.to_be_bytes()),
            }
        }
        for d in raw
            .deltas
            .iter()
            .chain(raw.national.iter())
            .chain(raw.provinces.iter().flat_map(|(_, t, s)| [t, s]))
        {
            h.update((d.len() as u64 + 1).to_be_bytes());
            h.update(d);
        }
        h.update((raw.national.is_some() as u64).to_be_bytes());
        for (code, _, _) in &raw.provinces {
            h.update(code.to_be_bytes());
        }
        let digest: [u8; 32] = h.finalize().into();
        if let Some((seen, lists)) = &*self.memo.borrow() {
            if *seen == digest {
                return Ok(Ok(Some(lists.clone())));
            }
        }
        let held = verify_raw(&e, &marks, &raw);
        if let Ok(Some(lists)) = &held {
            self.memo.replace(Some((digest, lists.clone())));
        }
        Ok(held)
    }

    /// Writes a sync's verified lists, all or nothing, then raises the
    /// seal's high-water marks (a crash between the two leaves lists newer
    /// than the marks, which loads fine).
    pub fn apply_sync(&mut self, d: &SyncData<'_>) -> anyhow::Result<()> {
        let (e, marks) = match self.sealed()? {
            Ok(Some(x)) => x,
            Ok(None) => bail!("this device is not enrolled"),
            Err(t) => return Err(anyhow::Error::new(t)),
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Self::put(&tx, "trust", d.trust_bytes)?;
        Self::put(&tx, "trust_seq", d.trust.seq as i64)?;
        match d.status {
            StatusWrite::Snapshot(bytes) => {
                Self::put(&tx, "status_snapshot", bytes)?;
                tx.execute("DELETE FROM status_delta", [])?;
            }
            StatusWrite::Delta(bytes) => {
                tx.execute(
                    "INSERT INTO status_delta (seq, bytes) VALUES (?1, ?2)",
                    params![d.status_seq as i64, bytes],
                )?;
            }
            StatusWrite::Keep => {}
        }
        Self::put(&tx, "status_seq", d.status_seq as i64)?;
        Self::put(&tx, "catalogue", d.catalogue)?;
        if let Some(n) = &d.national {
            Self::put(&tx, "national", n.bytes)?;
            tx.execute("DELETE FROM province_lists", [])?;
            for (code, trust, status) in &n.provinces {
                tx.execute(
                    "INSERT INTO province_lists (province, trust, status) VALUES (?1, ?2, ?3)",
                    params![i64::from(*code), trust, status],
                )?;
            }
        }
        Self::put(&tx, "last_sync", d.now)?;
        tx.commit()?;
        let raised = SealBody {
            trust_seq: marks.trust_seq.max(d.trust.seq),
            status_seq: marks.status_seq.max(d.status_seq),
            status_issued_at: marks.status_issued_at.max(d.status_manifest.issued_at),
            newest_seen: marks
                .newest_seen
                .max(d.trust.manifest.issued_at)
                .max(d.status_manifest.issued_at)
                .max(d.national.as_ref().map_or(0, |n| n.list.issued_at)),
            national_seq: marks
                .national_seq
                .max(d.national.as_ref().map_or(0, |n| n.list.seq)),
            ..seal_of(&e, Some(&marks))
        };
        seal::write(&self.dir, &raised)?;
        Ok(())
    }

    /// A stored integer by key (`last_sync`, `enrolled_at`, ...).
    pub fn int(&self, key: &str) -> anyhow::Result<Option<i64>> {
        self.get(key)
    }

    /// Records a successful upload time.
    pub fn set_int(&mut self, key: &str, value: i64) -> anyhow::Result<()> {
        Self::put(&self.conn, key, value)?;
        Ok(())
    }

    /// Appends an event to the check log; durable (fsynced) when it returns.
    pub fn append(&mut self, at: i64, event: Event) -> anyhow::Result<Sealed> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let head = {
            let mut stmt =
                tx.prepare_cached("SELECT seq, hash FROM log ORDER BY seq DESC LIMIT 1")?;
            stmt.query_row([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
                .optional()?
        };
        let head = match head {
            None => ChainHead::default(),
            Some((seq, hash)) => ChainHead {
                next_seq: seq as u64 + 1,
                head: hash.try_into().map_err(|_| {
                    anyhow::anyhow!("log record {seq}: stored hash is not 32 bytes")
                })?,
            },
        };
        let (sealed, _) = head.append(at, event);
        let (kind, verdict, reason, cert) = match &sealed.record.event {
            Event::Check(c) => (
                0,
                Some(c.verdict.as_str()),
                c.reason.map(|r| r.code()),
                c.cert
                    .as_ref()
                    .map(|r| format!("{}/{}/{}", r.cert_type.code(), r.number, r.version)),
            ),
            Event::Disposition(_) => (1, None, None, None),
            Event::Lookup(l) => (
                2,
                Some(l.verdict.as_str()),
                l.reason.map(|r| r.code()),
                l.cert
                    .as_ref()
                    .map(|r| format!("{}/{}/{}", r.cert_type.code(), r.number, r.version)),
            ),
        };
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO log (seq, at, kind, verdict, reason, cert, hash, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            stmt.execute(params![
                sealed.record.seq as i64,
                at,
                kind,
                verdict,
                reason,
                cert,
                sealed.hash.as_slice(),
                sealed.bytes,
            ])?;
        }
        tx.commit()?;
        Ok(sealed)
    }

    /// The log record with this sequence number.
    pub fn record(&self, seq: u64) -> anyhow::Result<Option<LogRow>> {
        let row = self
            .conn
            .query_row(
                "SELECT record, hash, uploaded FROM log WHERE seq = ?1",
                [seq as i64],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, bool>(2)?,
                    ))
                },
            )
            .optional()?;
        row.map(to_row).transpose()
    }

    /// Records from `from` on, in order, at most `limit`.
    pub fn records_from(&self, from: u64, limit: usize) -> anyhow::Result<Vec<LogRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT record, hash, uploaded FROM log WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![from as i64, limit as i64], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, bool>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            out.push(to_row(row?)?);
        }
        Ok(out)
    }

    /// Marks every record below `next_seq` as acknowledged by the server.
    pub fn mark_uploaded_below(&mut self, next_seq: u64) -> anyhow::Result<()> {
        self.conn.execute(
            "UPDATE log SET uploaded = 1 WHERE seq < ?1 AND uploaded = 0",
            [next_seq as i64],
        )?;
        Ok(())
    }

    /// Total and uploaded records.
    pub fn counts(&self) -> anyhow::Result<LogCounts> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(uploaded), 0) FROM log",
            [],
            |r| {
                Ok(LogCounts {
                    total: r.get::<_, i64>(0)? as u64,
                    uploaded: r.get::<_, i64>(1)? as u64,
                })
            },
        )?)
    }

    /// Checks the whole stored chain: each record's bytes hash to its stored
    /// hash, decode, carry their own seq and link to the previous record.
    /// Returns the number of records.
    pub fn verify_chain(&self) -> anyhow::Result<u64> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, record, hash FROM log ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        let mut expected = ChainHead {
            next_seq: 0,
            head: GENESIS,
        };
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            let bytes: Vec<u8> = r.get(1)?;
            let hash: Vec<u8> = r.get(2)?;
            let record = Record::from_cbor(&bytes)
                .with_context(|| format!("log record {seq} does not decode"))?;
            let computed = shared::checklog::record_hash(&bytes);
            if record.seq != expected.next_seq || seq as u64 != record.seq {
                bail!(
                    "log record {seq}: expected seq {}, found {}",
                    expected.next_seq,
                    record.seq
                );
            }
            if record.prev != expected.head {
                bail!(
                    "log record {seq}: prev is not the hash of record {}",
                    seq - 1
                );
            }
            if hash != computed {
                bail!("log record {seq}: stored hash does not match its bytes");
            }
            expected = ChainHead {
                next_seq: record.seq + 1,
                head: computed,
            };
        }
        Ok(expected.next_seq)
    }
}

fn to_row((bytes, hash, uploaded): (Vec<u8>, Vec<u8>, bool)) -> anyhow::Result<LogRow> {
    let record = Record::from_cbor(&bytes).context("stored log record does not decode")?;
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| anyhow::anyhow!("log record {}: stored hash is not 32 bytes", record.seq))?;
    Ok(LogRow {
        record,
        bytes,
        hash,
        uploaded,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use shared::checklog::{Check, Disposition};
    use shared::verify::{Reason, Verdict};

    fn check(verdict: Verdict, reason: Option<Reason>) -> Event {
        Event::Check(Check {
            verdict,
            reason,
            scanned: Some("LC1:TEST".into()),
            cert: None,
            status_seq: Some(1),
            trust_seq: Some(1),
            warnings: Vec::new(),
            data_age: Some(5),
        })
    }

    #[test]
    fn the_log_is_a_chain_and_tampering_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(dir.path()).unwrap();
        let a = db.append(10, check(Verdict::Valid, None)).unwrap();
        let b = db
            .append(11, check(Verdict::Invalid, Some(Reason::Revoked)))
            .unwrap();
        let c = db
            .append(
                12,
                Event::Disposition(Disposition {
                    check_seq: 0,
                    accepted: false,
                    note: "refused".into(),
                }),
            )
            .unwrap();
        assert_eq!((a.record.seq, b.record.seq, c.record.seq), (0, 1, 2));
        assert_eq!(a.record.prev, GENESIS);
        assert_eq!(b.record.prev, a.hash);
        assert_eq!(c.record.prev, b.hash);
        assert_eq!(db.verify_chain().unwrap(), 3);
        // Reopening continues the chain.
        drop(db);
        let mut db = Db::open(dir.path()).unwrap();
        let d = db.append(13, check(Verdict::Valid, None)).unwrap();
        assert_eq!((d.record.seq, d.record.prev), (3, c.hash));
        db.mark_uploaded_below(2).unwrap();
        assert_eq!(
            db.counts().unwrap(),
            LogCounts {
                total: 4,
                uploaded: 2
            }
        );
        // A record rewritten in place (verdict flipped, rehashed) breaks the
        // link from the next one.
        let mut forged = b.record.clone();
        forged.event = check(Verdict::Valid, None);
        let bytes = forged.to_cbor();
        db.conn
            .execute(
                "UPDATE log SET record = ?1, hash = ?2 WHERE seq = 1",
                params![bytes, shared::checklog::record_hash(&bytes).as_slice()],
            )
            .unwrap();
        let err = db.verify_chain().unwrap_err().to_string();
        assert!(err.contains("log record 2"), "{err}");
        // A deleted record is a gap.
        db.conn
            .execute("DELETE FROM log WHERE seq = 1", [])
            .unwrap();
        assert!(db.verify_chain().is_err());
    }

    #[test]
    fn national_lists_are_verified_at_every_load_and_tampering_is_detected() {
        use shared::crypto::SigningKey;
        use shared::domain::{CertType, DivisionCode};
        use shared::national::Province;
        use shared::status::{StatusList, StatusSnapshot};
        use shared::trust::{IssuerKey, KeyState};

        let key = |seed: u8| SigningKey::from_secret_bytes(Alg::EdDSA, &[seed; 32]).unwrap();
        let (root, issuer, national_root, jilin_root, jilin_issuer) =
            (key(1), key(2), key(3), key(4), key(5));
        let now = 1_780_000_000;
        let m = Manifest {
            issued_at: now - 60,
            ttl: 86_400,
            max_age: 7 * 86_400,
        };
        let lists = |root: &SigningKey, issuer: &SigningKey| {
            let trust = TrustList {
                seq: 1,
                manifest: m,
                keys: vec![IssuerKey {
                    public_key: issuer.public_key(),
                    not_before: 0,
                    not_after: None,
                    state: KeyState::Active,
                }],
                authorities: Vec::new(),
            };
            let status = SignedStatus::sign(
                m,
                &StatusUpdate::Snapshot(StatusSnapshot {
                    seq: 1,
                    list: StatusList::new(131_072).unwrap(),
                }),
                issuer,
            )
            .unwrap();
            (trust.sign(root), trust, status)
        };
        let (trust_bytes, trust, status) = lists(&root, &issuer);
        let (jilin_trust, _, jilin_status) = lists(&jilin_root, &jilin_issuer);
        let province = |code: u32, root: &SigningKey| Province {
            division: DivisionCode::from_u32_national(code).unwrap(),
            name: code.to_string(),
            root: root.public_key(),
            cert_types: CertType::ALL.to_vec(),
            not_before: 0,
            not_after: None,
            trust_list_url: "https://example.invalid/t".into(),
            status_list_url: "https://example.invalid/s".into(),
        };
        let national = |seq: u64| NationalList {
            seq,
            issued_at: now - 60,
            next_update: now + 86_400,
            provider: "test".into(),
            provinces: vec![province(210000, &root), province(220000, &jilin_root)],
        };
        let (list, older) = (national(2), national(1));
        let (list_bytes, older_bytes) = (list.sign(&national_root), older.sign(&national_root));

        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(dir.path()).unwrap();
        let e = Enrollment {
            server: "http://127.0.0.1:9".into(),
            token: "t".into(),
            device_id: 1,
            kid: "00".repeat(8),
            division: 210100,
            root: root.public_key(),
            ca_pem: None,
            national_root: Some(national_root.public_key()),
        };
        db.set_enrollment(&e, now).unwrap();
        db.apply_sync(&SyncData {
            trust_bytes: &trust_bytes,
            trust: &trust,
            status: StatusWrite::Snapshot(&status),
            status_seq: 1,
            status_manifest: m,
            catalogue: b"{}",
            now,
            national: Some(NationalWrite {
                bytes: &list_bytes,
                list: &list,
                provinces: vec![(220000, jilin_trust.clone(), jilin_status.clone())],
            }),
        })
        .unwrap();
        let held = db.lists().unwrap().unwrap().unwrap();
        let n = held.national.expect("the national part is held");
        assert_eq!((n.own_province, n.list.seq), (210000, 2));
        assert_eq!(n.provinces.len(), 1);
        assert_eq!(n.provinces[0].province, 220000);
        assert_eq!(db.marks().unwrap().national_seq, 2);

        let set_national = |db: &Db, bytes: &[u8]| {
            db.conn
                .execute(
                    "UPDATE state SET value = ?1 WHERE key = 'national'",
                    [bytes],
                )
                .unwrap();
        };
        // An older national list restored into the store.
        set_national(&db, &older_bytes);
        assert!(db.lists().unwrap().is_err(), "older national list accepted");
        set_national(&db, &list_bytes);
        assert!(db.lists().unwrap().is_ok());
        // Jilin's trust list replaced by one its named root did not sign.
        let (impostor, _, _) = lists(&key(9), &jilin_issuer);
        db.conn
            .execute("UPDATE province_lists SET trust = ?1", [&impostor])
            .unwrap();
        assert!(db.lists().unwrap().is_err(), "unnamed root accepted");
        db.conn
            .execute("UPDATE province_lists SET trust = ?1", [&jilin_trust])
            .unwrap();
        assert!(db.lists().unwrap().is_ok());
        // Another national root swapped into the rows: the seal disagrees.
        db.conn
            .execute(
                "UPDATE state SET value = ?1 WHERE key = 'national_root_key'",
                [key(8).public_key().to_bytes()],
            )
            .unwrap();
        assert!(
            db.lists().unwrap().is_err(),
            "swapped national root accepted"
        );
    }
}
