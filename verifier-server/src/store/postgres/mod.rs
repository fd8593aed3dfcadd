//! The PostgreSQL engine: [`PgStore`], a pool of synchronous connections
//! (`postgres` + `r2d2`), for several server instances on one database.
//! Migrations from `migrations/*.sql` run at open, under an advisory lock
//! so two instances starting together migrate once. One file per area trait
//! implements it for [`PgTx`].
//!
//! The client is synchronous and runs its own small runtime: call it from
//! blocking code (`spawn_blocking`), never on an async runtime thread.
//!
//! Concurrency: transactions run at READ COMMITTED; the rows that decide
//! what a transaction hands out are read with `FOR UPDATE` (the lists'
//! states, a certificate, a device's chain head), so two instances never
//! give out the same sequence number, status index or chain position. A
//! lost or refused connection, a deadlock and a serialization failure are
//! [`StoreError::Unavailable`]: nothing was committed, a retry may succeed;
//! the pool tests connections on checkout and opens new ones.

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

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use ::postgres::binary_copy::BinaryCopyInWriter;
use ::postgres::types::{ToSql, Type};
use ::postgres::{Config, NoTls, Row, Statement};
use r2d2::PooledConnection;
use r2d2_postgres::PostgresConnectionManager;

use super::{PoolState, Store, StoreError, Tx};

type Manager = PostgresConnectionManager<NoTls>;

/// Migrations, in order; `schema_version` records how many ran. Never edit
/// one that has shipped: add the next.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_lookups.sql"),
    include_str!("migrations/0003_token_lifetimes.sql"),
    include_str!("migrations/0004_retention.sql"),
    include_str!("migrations/0005_evidence.sql"),
    include_str!("migrations/0006_audit_client_addr.sql"),
    include_str!("migrations/0007_agency_outages.sql"),
    include_str!("migrations/0008_forwarding.sql"),
    include_str!("migrations/0009_evidence_files.sql"),
    include_str!("migrations/0010_status_decisions_uploads.sql"),
    include_str!("migrations/0011_applications.sql"),
    include_str!("migrations/0012_grants.sql"),
    include_str!("migrations/0013_default_partition.sql"),
    include_str!("migrations/0014_check_log_foreign_keys.sql"),
    include_str!("migrations/0015_delegations.sql"),
    include_str!("migrations/0016_change_feed.sql"),
    include_str!("migrations/0017_app_checks.sql"),
    include_str!("migrations/0018_plate_and_status_index.sql"),
    include_str!("migrations/0019_byte_order_keys.sql"),
];

/// Advisory lock keys (arbitrary, fixed): migrations, partition creation.
const MIGRATION_LOCK: i64 = 0x4c4e_4543_0001;
const PARTITION_LOCK: i64 = 0x4c4e_4543_0002;

/// Most connections per instance.
const POOL_SIZE: u32 = 16;

/// The PostgreSQL store.
pub struct PgStore {
    /// Always `Some` until dropped (see `Drop`).
    pool: Option<r2d2::Pool<Manager>>,
    /// Check-log partitions known to exist (month starts, Unix seconds).
    partitions: Mutex<HashSet<i64>>,
}

impl Drop for PgStore {
    /// Each connection of the synchronous client owns a small runtime,
    /// which must not be dropped on an async runtime thread (the server
    /// drops its state there when it shuts down): close the pool on a
    /// thread of its own.
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                let closing = std::thread::spawn(move || drop(pool));
                // Nothing to report to: a panic there only loses the
                // closing of connections the server closes anyway.
                let _ = closing.join();
            }
        }
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgStore")
    }
}

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> StoreError {
        use ::postgres::error::SqlState;
        let transient = e.is_closed()
            || e.code().is_some_and(|c| {
                c.code().starts_with("08")
                    || [
                        SqlState::ADMIN_SHUTDOWN,
                        SqlState::CRASH_SHUTDOWN,
                        SqlState::CANNOT_CONNECT_NOW,
                        SqlState::T_R_DEADLOCK_DETECTED,
                        SqlState::T_R_SERIALIZATION_FAILURE,
                    ]
                    .contains(c)
            })
            || (e.code().is_none()
                && std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()));
        if transient {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Postgres(e)
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> StoreError {
        StoreError::Unavailable(e.to_string())
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/db?…`), waits
    /// at most 5 s for a first connection, and runs pending migrations.
    /// An unreachable server is [`StoreError::Unavailable`].
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        let config: Config = url
            .parse()
            .map_err(|e: ::postgres::Error| StoreError::Url(e.to_string()))?;
        PgStore::open_config(config)
    }

    /// [`PgStore::open`] with a parsed connection configuration.
    pub fn open_config(mut config: Config) -> Result<PgStore, StoreError> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config.application_name("verifier-server");
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(5))
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build(PostgresConnectionManager::new(config, NoTls))?;
        let store = PgStore {
            pool: Some(pool),
            partitions: Mutex::new(HashSet::new()),
        };
        store.migrate()?;
        store.prepare_partitions()?;
        Ok(store)
    }

    /// Runs SQL outside the traits (tests: what the schema refuses).
    #[cfg(test)]
    pub(crate) fn execute_raw(&self, sql: &str) -> Result<(), StoreError> {
        Ok(self.conn()?.batch_execute(sql)?)
    }

    /// [`Store::prepare`] at the machine's clock.
    fn prepare_partitions(&self) -> Result<(), StoreError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
        self.prepare(now)
    }

    /// A pooled connection.
    fn conn(&self) -> Result<PooledConnection<Manager>, StoreError> {
        match &self.pool {
            Some(pool) => Ok(pool.get()?),
            None => Err(StoreError::Unavailable("the store is closed".into())),
        }
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        conn.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
        let result = migrate_locked(&mut conn);
        let unlocked = conn.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
        result?;
        unlocked?;
        Ok(())
    }
}

fn migrate_locked(conn: &mut ::postgres::Client) -> Result<(), StoreError> {
    conn.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    let done: Option<i64> = conn
        .query_opt("SELECT version FROM schema_version", &[])?
        .map(|r| r.try_get(0))
        .transpose()?;
    let done = usize::try_from(done.unwrap_or(0))
        .map_err(|_| StoreError::Corrupt("negative schema version".into()))?;
    if done > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "database schema version {done} is newer than this program ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        let mut tx = conn.transaction()?;
        tx.batch_execute(sql)?;
        tx.execute("DELETE FROM schema_version", &[])?;
        let version = i64::try_from(i + 1).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&version],
        )?;
        tx.commit()?;
    }
    Ok(())
}

impl Store for PgStore {
    fn begin(&self) -> Result<Box<dyn Tx + '_>, StoreError> {
        let mut conn = self.conn()?;
        conn.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")?;
        Ok(Box::new(PgTx {
            conn,
            store: self,
            open: true,
            savepoint: false,
            statements: HashMap::new(),
        }))
    }

    fn shared(&self) -> bool {
        true
    }

    /// Makes the check-log partitions of every month in the window around
    /// `now` (400 days before to 62 days after), one
    /// transaction of its own.
    fn prepare(&self, now: i64) -> Result<(), StoreError> {
        let mut months = Vec::new();
        let mut at = now.saturating_sub(logs::WINDOW_BEFORE);
        while at < now.saturating_add(logs::WINDOW_AFTER) {
            months.push(at);
            at = logs::month_of(at)?.2;
        }
        months.push(now.saturating_add(logs::WINDOW_AFTER - 1));
        let mut tx = PgTx {
            conn: self.conn()?,
            store: self,
            open: false,
            savepoint: false,
            statements: HashMap::new(),
        };
        tx.conn.batch_execute("BEGIN")?;
        tx.open = true;
        tx.ensure_partitions(months, now)?;
        Box::new(tx).commit()
    }

    /// The r2d2 pool's state.
    fn pool_state(&self) -> Option<PoolState> {
        let pool = self.pool.as_ref()?;
        let state = pool.state();
        Some(PoolState {
            connections: state.connections,
            idle: state.idle_connections,
            max: pool.max_size(),
        })
    }
}

/// One PostgreSQL transaction on a pooled connection.
pub struct PgTx<'a> {
    /// Statements prepared in this transaction, by SQL text: a statement
    /// run again (once per record of a push) is executed without being
    /// parsed and planned again, one round trip instead of two. Dropped
    /// with the transaction, before the connection goes back to the pool
    /// (fields drop in order; the client closes them on the server).
    statements: HashMap<String, Statement>,
    conn: PooledConnection<Manager>,
    store: &'a PgStore,
    open: bool,
    savepoint: bool,
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing to report to: the transaction was abandoned on an
            // error path that reports its own error. A connection that
            // cannot roll back is closed, and the pool drops it.
            let _ = self.conn.batch_execute("ROLLBACK");
        }
    }
}

/// A parameter list.
type Params<'p> = [&'p (dyn ToSql + Sync)];

impl PgTx<'_> {
    /// `sql` prepared on this transaction's connection, once.
    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.conn.prepare(sql)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    fn exec(&mut self, sql: &str, params: &Params<'_>) -> Result<u64, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.conn.execute(&statement, params)?)
    }

    fn rows(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.conn.query(&statement, params)?)
    }

    fn opt_row(&mut self, sql: &str, params: &Params<'_>) -> Result<Option<Row>, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.conn.query_opt(&statement, params)?)
    }

    fn one_row(&mut self, sql: &str, params: &Params<'_>) -> Result<Row, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.conn.query_one(&statement, params)?)
    }

    /// One binary `COPY` of `rows` (`copy` is the `COPY … FROM STDIN
    /// (FORMAT binary)` statement, `types` its columns' types), each row
    /// written by `write`: no statement per row, no arrays to build and
    /// take apart. A row that breaks a constraint fails the whole copy, as
    /// one insert would. Nothing is sent for no rows.
    fn copy_rows<T>(
        &mut self,
        copy: &str,
        types: &[Type],
        rows: &[T],
        mut write: impl FnMut(&mut BinaryCopyInWriter<'_>, &T) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut writer = BinaryCopyInWriter::new(self.conn.copy_in(copy)?, types);
        for row in rows {
            write(&mut writer, row)?;
        }
        writer.finish()?;
        Ok(())
    }
}

/// Column `i` of a row, with a type mismatch as an error (not a panic).
fn col<'r, T: ::postgres::types::FromSql<'r>>(row: &'r Row, i: usize) -> Result<T, StoreError> {
    Ok(row.try_get(i)?)
}

impl Tx for PgTx<'_> {
    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        // PostgreSQL answers COMMIT of a transaction that an error aborted
        // by rolling back, without an error; `SELECT 1` fails first in that
        // state, so the caller learns that nothing was stored. On any error
        // the drop rolls back (a no-op if COMMIT already ended it).
        self.conn.batch_execute("SELECT 1; COMMIT")?;
        self.open = false;
        Ok(())
    }

    fn savepoint(&mut self) -> Result<(), StoreError> {
        if self.savepoint {
            return Err(StoreError::Corrupt("nested savepoint".into()));
        }
        self.conn.batch_execute("SAVEPOINT record")?;
        self.savepoint = true;
        Ok(())
    }

    fn release(&mut self) -> Result<(), StoreError> {
        self.conn.batch_execute("RELEASE SAVEPOINT record")?;
        self.savepoint = false;
        Ok(())
    }

    fn rollback_to(&mut self) -> Result<(), StoreError> {
        self.conn
            .batch_execute("ROLLBACK TO SAVEPOINT record; RELEASE SAVEPOINT record")?;
        self.savepoint = false;
        Ok(())
    }
}
