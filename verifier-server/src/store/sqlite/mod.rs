//! The SQLite engine: [`SqliteStore`], one connection behind a mutex (WAL,
//! `synchronous=FULL`, foreign keys on), migrations from `migrations/*.sql`
//! run at open. One file per area trait implements it for `SqliteTx`.

mod apps;
mod audit;
mod certificates;
mod changes;
mod delegations;
mod devices;
mod evaluation;
mod forward;
mod holders;
mod keys;
mod lists;
mod logs;
mod meta;
mod tokens;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};

use super::{
    cert_type_of, division_of, holder_id_of, status_of, u32_of, version_of, PoolState, Store,
    StoreError, Tx, VersionRow,
};

/// Migrations, in order; the `schema_version` table records how many ran.
/// Never edit one that has shipped: add the next.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_agency_pushes.sql"),
    include_str!("migrations/0003_holders.sql"),
    include_str!("migrations/0004_check_logs.sql"),
    include_str!("migrations/0005_nonconforming_open.sql"),
    include_str!("migrations/0006_evaluation.sql"),
    include_str!("migrations/0007_holder_id_in_rust.sql"),
    include_str!("migrations/0008_lookups.sql"),
    include_str!("migrations/0009_token_lifetimes.sql"),
    include_str!("migrations/0010_retention.sql"),
    include_str!("migrations/0011_evidence.sql"),
    include_str!("migrations/0012_audit_client_addr.sql"),
    include_str!("migrations/0013_agency_outages.sql"),
    include_str!("migrations/0014_forwarding.sql"),
    include_str!("migrations/0015_evidence_files.sql"),
    include_str!("migrations/0016_status_decisions_uploads.sql"),
    include_str!("migrations/0017_applications.sql"),
    include_str!("migrations/0018_grants.sql"),
    include_str!("migrations/0019_delegations.sql"),
    include_str!("migrations/0020_change_feed.sql"),
    include_str!("migrations/0021_app_checks.sql"),
    include_str!("migrations/0022_plate_and_status_index.sql"),
    include_str!("migrations/0023_drop_duplicate_status_index.sql"),
];

/// The schema version this program migrates a database to.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// The migration after which the program fills `holder_id` of the versions
/// already stored.
const HOLDER_ID_IN_RUST: usize = 7;

/// Fills `certificate_versions.holder_id` from each version's JSON with the
/// Rust rule (migration 7).
fn fill_holder_ids(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    let rows = {
        let mut stmt =
            tx.prepare("SELECT rowid, data_json, record_json FROM certificate_versions")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows
    };
    let mut update =
        tx.prepare("UPDATE certificate_versions SET holder_id = ?2 WHERE rowid = ?1")?;
    for (rowid, data, record) in rows {
        if let Some(holder) = holder_id_of(&data, &record) {
            update.execute(params![rowid, holder])?;
        }
    }
    Ok(())
}

/// The SQLite store: one connection behind a mutex (SQLite serialises
/// writers anyway; the service's reads are served from signed bytes held in
/// memory).
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, sets WAL,
    /// `synchronous=FULL` and foreign keys, and runs pending migrations.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path)?;
        Self::setup(conn)
    }

    /// An in-memory database (tests and tools).
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        Self::setup(Connection::open_in_memory()?)
    }

    /// Runs SQL outside the traits (tests: what the schema refuses).
    #[cfg(test)]
    pub(crate) fn execute_raw(&self, sql: &str) -> Result<(), StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(conn.execute_batch(sql)?)
    }

    fn setup(conn: Connection) -> Result<SqliteStore, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
            return Err(StoreError::Corrupt(format!(
                "could not switch to WAL journal mode (got {mode})"
            )));
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
        conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
        let done: Option<i64> = conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .optional()?;
        let done = usize::try_from(done.unwrap_or(0))
            .map_err(|_| StoreError::Corrupt("negative schema version".into()))?;
        if done > MIGRATIONS.len() {
            return Err(StoreError::Corrupt(format!(
                "database schema version {done} is newer than this program ({})",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(sql)?;
            if i + 1 == HOLDER_ID_IN_RUST {
                fill_holder_ids(&tx)?;
            }
            tx.execute("DELETE FROM schema_version", [])?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [i64::try_from(i + 1).unwrap_or(i64::MAX)],
            )?;
            tx.commit()?;
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }
}

/// Copies the database at `src` to a new file `dst` with SQLite's online
/// backup API while other connections (a running server) keep writing: the
/// copy is made in one step inside one read transaction, which in WAL mode
/// blocks no writer, so it is the database exactly as of one commit.
/// `dst` must not exist.
pub fn backup_file(src: &Path, dst: &Path) -> Result<(), StoreError> {
    use rusqlite::backup::{Backup, StepResult};
    if dst.exists() {
        return Err(StoreError::Corrupt(format!(
            "{} exists already; name a new file",
            dst.display()
        )));
    }
    let source = Connection::open_with_flags(
        src,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    source.busy_timeout(std::time::Duration::from_secs(5))?;
    let mut target = Connection::open(dst)?;
    {
        let backup = Backup::new(&source, &mut target)?;
        let started = std::time::Instant::now();
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More | StepResult::Busy | StepResult::Locked => {
                    if started.elapsed() > std::time::Duration::from_secs(60) {
                        return Err(StoreError::Unavailable(
                            "the database stayed locked for 60 s during the backup".into(),
                        ));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                _ => {
                    return Err(StoreError::Unavailable(
                        "the backup step reported an unknown state".into(),
                    ))
                }
            }
        }
    }
    // One file, no WAL beside it: the copy stands alone.
    target.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
    target.close().map_err(|(_, e)| StoreError::Db(e))?;
    std::fs::File::open(dst)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::Unavailable(format!("syncing {}: {e}", dst.display())))?;
    Ok(())
}

/// What [`check_file`] found in a database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileCheck {
    /// Its schema version (at most [`SCHEMA_VERSION`]).
    pub schema_version: usize,
    /// Its audit rows (their ids are 1..=n, none missing).
    pub audit_rows: u64,
}

/// Checks a database file before it is used (`admin restore`): SQLite's
/// `PRAGMA integrity_check`, a schema this program knows (not newer), and
/// an audit log with no row missing (the ids of an AUTOINCREMENT table
/// with no deletes are 1..=n). Opens the file without migrating it.
pub fn check_file(path: &Path) -> Result<FileCheck, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let problems: Vec<String> = {
        let mut stmt = conn.prepare("PRAGMA integrity_check(20)")?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows
    };
    if problems != ["ok"] {
        return Err(StoreError::Corrupt(format!(
            "integrity check failed: {}",
            problems.join("; ")
        )));
    }
    let version: Option<i64> = conn
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .optional()
        .map_err(|e| StoreError::Corrupt(format!("not a verifier-server database: {e}")))?;
    let version = usize::try_from(version.unwrap_or(0))
        .map_err(|_| StoreError::Corrupt("negative schema version".into()))?;
    if version == 0 {
        return Err(StoreError::Corrupt(
            "not a verifier-server database: no schema version".into(),
        ));
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "database schema version {version} is newer than this program ({SCHEMA_VERSION}): \
             restore it with the newer program"
        )));
    }
    let (count, max): (i64, i64) = conn.query_row(
        "SELECT count(*), coalesce(max(id), 0) FROM audit",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if count != max {
        return Err(StoreError::Corrupt(format!(
            "the audit log has {count} rows but ids up to {max}: rows were removed"
        )));
    }
    Ok(FileCheck {
        schema_version: version,
        audit_rows: u64::try_from(count).unwrap_or(0),
    })
}

impl Store for SqliteStore {
    fn begin(&self) -> Result<Box<dyn Tx + '_>, StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Box::new(SqliteTx {
            conn,
            open: true,
            savepoint: false,
        }))
    }

    /// One connection, idle unless a transaction holds it (looked at
    /// without waiting).
    fn pool_state(&self) -> Option<PoolState> {
        let idle = match self.conn.try_lock() {
            Ok(_) => 1,
            Err(std::sync::TryLockError::WouldBlock) => 0,
            Err(std::sync::TryLockError::Poisoned(_)) => return None,
        };
        Some(PoolState {
            connections: 1,
            idle,
            max: 1,
        })
    }
}

struct SqliteTx<'a> {
    conn: MutexGuard<'a, Connection>,
    open: bool,
    savepoint: bool,
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing to report to: the transaction was abandoned on an
            // error path that already reports its own error.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// The columns of a version (`v`: the version), in the order
/// [`SqliteTx::versions_of`] reads them.
pub(super) const VERSION_COLS: &str = "v.cert_type, v.number, v.version, v.status_index, \
    v.status, v.record_json, v.data_json, v.signed, v.identifier, v.issued_at, v.issuer_division, \
    v.holder_id, v.plate";

impl SqliteTx<'_> {
    /// Version rows from a query selecting [`VERSION_COLS`].
    fn versions_of(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<VersionRow>, StoreError> {
        type Cols = (
            String,
            String,
            i64,
            i64,
            i64,
            String,
            String,
            Vec<u8>,
            Option<String>,
            i64,
            i64,
            Option<String>,
            Option<String>,
        );
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt
            .query_map(params, |r| Cols::try_from(r))?
            .collect::<Result<Vec<Cols>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(VersionRow {
                    cert_type: cert_type_of(&c.0)?,
                    number: c.1,
                    version: version_of(c.2)?,
                    status_index: u32_of(c.3, "status index")?,
                    status: status_of(c.4)?,
                    record_json: c.5,
                    data_json: c.6,
                    signed: c.7,
                    identifier: c.8,
                    issued_at: c.9,
                    issuer_division: division_of(c.10)?,
                    holder_id: c.11,
                    plate: c.12,
                })
            })
            .collect()
    }

    /// Executes a statement, cached by its text.
    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
        self.conn.prepare_cached(sql)?.execute(params)
    }

    /// Queries one row with a statement cached by its text.
    fn row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.conn.prepare_cached(sql)?.query_row(params, f)
    }
}

impl Tx for SqliteTx<'_> {
    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }

    fn savepoint(&mut self) -> Result<(), StoreError> {
        if self.savepoint {
            return Err(StoreError::Corrupt("nested savepoint".into()));
        }
        self.conn.execute_batch("SAVEPOINT record")?;
        self.savepoint = true;
        Ok(())
    }

    fn release(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("RELEASE record")?;
        self.savepoint = false;
        Ok(())
    }

    fn rollback_to(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("ROLLBACK TO record; RELEASE record")?;
        self.savepoint = false;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::{AgencyPush, AuditEntry};
    use shared::checklog::LookupBy;
    use shared::domain::{CertType, DivisionCode};
    use shared::status::Status;

    #[test]
    fn migrations_run_once_and_audit_is_append_only() {
        let store = SqliteStore::open_in_memory().unwrap();
        let mut tx = store.begin().unwrap();
        tx.append_audit(&AuditEntry {
            client_addr: None,
            ts: 1,
            token_id: None,
            role: None,
            action: "test".into(),
            target: "-".into(),
            outcome: "ok".into(),
        })
        .unwrap();
        tx.commit().unwrap();
        let conn = store.conn.lock().unwrap();
        assert!(conn.execute("DELETE FROM audit", []).is_err());
        assert!(conn.execute("UPDATE audit SET outcome = 'x'", []).is_err());
        let v: i64 = conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_version_1_database_is_migrated() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (1);",
        )
        .unwrap();
        let store = SqliteStore::setup(conn).unwrap();
        let mut tx = store.begin().unwrap();
        let division = DivisionCode::from_u32(210100).unwrap();
        tx.record_push(&AgencyPush {
            division,
            at: 5,
            records: 2,
        })
        .unwrap();
        assert_eq!(tx.agency_pushes().unwrap()[0].division, division);
        tx.commit().unwrap();
        let conn = store.conn.lock().unwrap();
        let v: i64 = conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_version_6_database_gets_holder_ids_computed_in_rust() {
        let conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..6] {
            conn.execute_batch(sql).unwrap();
        }
        let person = r#"{"face":{"family":"person","id_number":"210102199001011234"}}"#;
        let vehicle = r#"{"face":{"family":"vehicle"}}"#;
        for (i, (data, record)) in [
            (person, "{}"),
            (vehicle, r#"{"uscc":" 91210106ma0xn3k249"}"#),
            (vehicle, "{}"),
        ]
        .into_iter()
        .enumerate()
        {
            conn.execute(
                "INSERT INTO certificates VALUES ('YSZ', ?1, 1, 0, ?2, 210100, 1)",
                params![format!("N{i}"), i],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO certificate_versions (cert_type, number, version, status_index,
                     status, record_json, data_json, signed, issued_at, issuer_division)
                 VALUES ('YSZ', ?1, 1, ?2, 0, ?3, ?4, x'00', 1, 210100)",
                params![format!("N{i}"), i, record, data],
            )
            .unwrap();
        }
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (6);",
        )
        .unwrap();
        let store = SqliteStore::setup(conn).unwrap();
        let mut tx = store.begin().unwrap();
        let of = |tx: &mut Box<dyn Tx + '_>, h: &str| -> Vec<String> {
            tx.holder_certificates(h)
                .unwrap()
                .into_iter()
                .map(|v| v.number)
                .collect()
        };
        assert_eq!(of(&mut tx, "210102199001011234"), ["N0"]);
        assert_eq!(of(&mut tx, "91210106MA0XN3K249"), ["N1"]);
        drop(tx);
        let conn = store.conn.lock().unwrap();
        let unset: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM certificate_versions WHERE holder_id IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(unset, 1);
    }

    #[test]
    fn a_version_21_database_gets_its_plates_and_finds_them() {
        let conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..21] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute(
            "INSERT INTO certificates VALUES ('YSZ', 'N0', 1, 0, 7, 210100, 1)",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO certificate_versions (cert_type, number, version, status_index,
                 status, record_json, data_json, signed, issued_at, issuer_division)
             VALUES ('YSZ', 'N0', 1, 7, 0, '{}', ?1, x'00', 1, 210100)",
            params![r#"{"face":{"family":"vehicle","plate":"辽A5K823"}}"#],
        )
        .unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (21);",
        )
        .unwrap();
        let store = SqliteStore::setup(conn).unwrap();
        let mut tx = store.begin().unwrap();
        let found = tx.lookup_versions(LookupBy::Plate, "辽A5K823", 10).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].plate.as_deref(), Some("辽A5K823"));
        // The certificate still pointing at index 7 is found by it.
        tx.set_version_status(7, Status::Revoked).unwrap();
        let c = tx.certificate(CertType::YSZ, "N0").unwrap().unwrap();
        assert_eq!(c.status, Status::Revoked);
    }

    #[test]
    fn dropped_transaction_rolls_back() {
        let store = SqliteStore::open_in_memory().unwrap();
        {
            let mut tx = store.begin().unwrap();
            tx.set_meta("a", "1").unwrap();
        }
        let mut tx = store.begin().unwrap();
        assert_eq!(tx.meta("a").unwrap(), None);
    }
}
