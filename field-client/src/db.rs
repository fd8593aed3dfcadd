//! The device database `client.db`: enrollment, the verified lists and the
//! hash-chained check log, in one SQLite file (WAL, `synchronous=FULL`).
//!
//! Lists are stored only after they were verified, and a sync writes them in
//! one transaction ([`Db::apply_sync`]), so the database always holds one
//! consistent, verified set. The trust list is kept as the signed bytes and
//! verified again with the pinned root key on every load; the status list is
//! kept as its compact snapshot encoding (2 bits per certificate), never one
//! row per certificate.

use std::path::Path;

use anyhow::{bail, Context as _};
use rusqlite::{params, Connection, OptionalExtension as _, TransactionBehavior};
use shared::checklog::{ChainHead, Event, Record, Sealed, GENESIS};
use shared::crypto::{Alg, PublicKey};
use shared::status::{StatusCache, StatusSnapshot};
use shared::trust::{Manifest, TrustList, MAX_STATUS_ENTRIES};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "client.db";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS state (
    key   TEXT PRIMARY KEY,
    value ANY
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
}

/// A sync's verified result, written in one transaction.
#[derive(Debug)]
pub struct SyncData<'a> {
    /// Signed trust list bytes (verified).
    pub trust_bytes: &'a [u8],
    /// Its sequence.
    pub trust: &'a TrustList,
    /// The status cache after applying the update, and its manifest.
    pub status: &'a StatusCache,
    /// Manifest of the newest status object.
    pub status_manifest: Manifest,
    /// The catalogue JSON.
    pub catalogue: &'a [u8],
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

impl Db {
    /// Opens (creating) the database in `dir`.
    pub fn open(dir: &Path) -> anyhow::Result<Db> {
        let path = dir.join(DB_FILE);
        let conn = Connection::open(&path)
            .with_context(|| format!("opening database {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            bail!("database {}: could not switch to WAL", path.display());
        }
        conn.execute_batch("PRAGMA synchronous=FULL;")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Db { conn })
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

    /// Stores the enrollment.
    pub fn set_enrollment(&mut self, e: &Enrollment, now: i64) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        Self::put(&tx, "server", &e.server)?;
        Self::put(&tx, "token", &e.token)?;
        Self::put(&tx, "device_id", e.device_id)?;
        Self::put(&tx, "kid", &e.kid)?;
        Self::put(&tx, "division", e.division)?;
        Self::put(&tx, "root_alg", alg_name(e.root.alg()))?;
        Self::put(&tx, "root_key", e.root.to_bytes())?;
        Self::put(&tx, "enrolled_at", now)?;
        match &e.ca_pem {
            Some(pem) => Self::put(&tx, "ca_pem", pem)?,
            None => {
                tx.execute("DELETE FROM state WHERE key = 'ca_pem'", [])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The enrollment, if the device is enrolled.
    pub fn enrollment(&self) -> anyhow::Result<Option<Enrollment>> {
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
        }))
    }

    /// The enrollment, or an error telling the officer to enroll.
    pub fn require_enrollment(&self) -> anyhow::Result<Enrollment> {
        self.enrollment()?.context(
            "this device is not enrolled: run `field-client --data DIR enroll --server URL --token TOKEN` first",
        )
    }

    /// The sequence of the held trust list, if any.
    pub fn trust_seq(&self) -> anyhow::Result<Option<u64>> {
        Ok(self.get::<i64>("trust_seq")?.map(|s| s as u64))
    }

    /// Loads and re-verifies the held lists. `None` before the first sync.
    pub fn lists(&self, root: &PublicKey) -> anyhow::Result<Option<Lists>> {
        let Some(bytes) = self.get::<Vec<u8>>("trust")? else {
            return Ok(None);
        };
        let trust = TrustList::verify(&bytes, root)
            .context("the stored trust list no longer verifies with the pinned root key")?;
        let status = match self.get::<Vec<u8>>("status")? {
            None => None,
            Some(b) => {
                let snapshot = StatusSnapshot::from_cbor(&b, MAX_STATUS_ENTRIES)
                    .context("stored status list")?;
                let manifest = Manifest {
                    issued_at: self.get("status_issued_at")?.unwrap_or(0),
                    ttl: self.get::<i64>("status_ttl")?.unwrap_or(0) as u64,
                    max_age: self.get::<i64>("status_max_age")?.unwrap_or(0) as u64,
                };
                Some((StatusCache::from_snapshot(snapshot), manifest))
            }
        };
        Ok(Some(Lists {
            trust,
            status,
            newest_seen: self.get("newest_seen")?.unwrap_or(0),
        }))
    }

    /// Writes a sync's verified lists, all or nothing.
    pub fn apply_sync(&mut self, d: &SyncData<'_>) -> anyhow::Result<()> {
        let newest_before: i64 = self.get("newest_seen")?.unwrap_or(0);
        let newest = newest_before
            .max(d.trust.manifest.issued_at)
            .max(d.status_manifest.issued_at);
        let snapshot = StatusSnapshot {
            seq: d.status.seq(),
            list: d.status.list().clone(),
        }
        .to_cbor();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Self::put(&tx, "trust", d.trust_bytes)?;
        Self::put(&tx, "trust_seq", d.trust.seq as i64)?;
        Self::put(&tx, "status", snapshot)?;
        Self::put(&tx, "status_seq", d.status.seq() as i64)?;
        Self::put(&tx, "status_issued_at", d.status_manifest.issued_at)?;
        Self::put(&tx, "status_ttl", d.status_manifest.ttl as i64)?;
        Self::put(&tx, "status_max_age", d.status_manifest.max_age as i64)?;
        Self::put(&tx, "catalogue", d.catalogue)?;
        Self::put(&tx, "newest_seen", newest)?;
        Self::put(&tx, "last_sync", d.now)?;
        tx.commit()?;
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
}
