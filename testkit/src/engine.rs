//! The storage engine the tests run against, chosen in ONE place.
//!
//! SQLite in the test's data directory is the default. With
//! `LNEC_TEST_POSTGRES=postgres://…` set (`scripts/with-postgres` sets it),
//! every server the kit opens, in process or as a child process, uses a
//! PostgreSQL database of its own on that server: one per data directory,
//! created on first use, so a reopened state, a restarted child and an
//! `admin` command on the same directory all reach the same data.

use std::path::Path;
use std::sync::Mutex;

use anyhow::{bail, Context as _};
use sha2::{Digest, Sha256};
use shared::crypto::Alg;
use verifier_server::{AppState, Clock, Config};

/// The environment variable naming a PostgreSQL URL to test against.
pub const POSTGRES_ENV: &str = "LNEC_TEST_POSTGRES";

/// A storage engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// The SQLite file in the data directory.
    Sqlite,
    /// A PostgreSQL server at this URL; each data directory gets a
    /// database of its own on it.
    Postgres(String),
}

/// The engine of this test run: `LNEC_TEST_POSTGRES` (a URL) when set and
/// not empty, SQLite otherwise.
pub fn engine() -> Engine {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.trim().is_empty() => Engine::Postgres(url),
        _ => Engine::Sqlite,
    }
}

/// The engines a benchmark compares in one run: SQLite always, then
/// PostgreSQL when `LNEC_TEST_POSTGRES` names a server.
pub fn engines() -> Vec<Engine> {
    let mut all = vec![Engine::Sqlite];
    if let Engine::Postgres(url) = engine() {
        all.push(Engine::Postgres(url));
    }
    all
}

/// Serialises `CREATE DATABASE` within this process (two tests creating
/// databases at once would race on the name check).
static CREATING: Mutex<()> = Mutex::new(());

impl Engine {
    /// The engine's name for messages: `sqlite` or `postgres`.
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres(_) => "postgres",
        }
    }

    /// The database the server on data directory `data` uses: `None` for
    /// the SQLite file inside it; for PostgreSQL the URL of the database
    /// `lnec_t_` + 16 hex digits of the SHA-256 of `data`'s absolute path,
    /// created if missing. One data directory, one database, so a reopened
    /// state, a restarted child process and an `admin` command on the same
    /// directory all see the same data.
    pub fn database_for(&self, data: &Path) -> anyhow::Result<Option<String>> {
        match self {
            Engine::Sqlite => Ok(None),
            Engine::Postgres(base) => {
                let name = database_name(data)?;
                off_runtime(|| create_database(base, &name))?;
                Ok(Some(with_database(base, &name)?))
            }
        }
    }

    /// Extra arguments for `verifier-server serve|demo|admin` on data
    /// directory `data` so a child process uses this engine (none for
    /// SQLite; `--database URL` otherwise).
    pub fn server_args(&self, data: &Path) -> anyhow::Result<Vec<String>> {
        Ok(match self.database_for(data)? {
            None => Vec::new(),
            Some(url) => vec!["--database".into(), url],
        })
    }

    /// Opens the service state on `data` with this engine (see
    /// [`open_state`], which uses the engine of the run).
    pub fn open_state(
        &self,
        data: &Path,
        alg: Alg,
        config: Config,
        clock: Clock,
    ) -> anyhow::Result<AppState> {
        let database = self.database_for(data)?;
        off_runtime(|| AppState::open_database(data, database.as_deref(), alg, config, clock))
    }
}

/// `lnec_t_` + 16 hex digits naming `data`'s database.
fn database_name(data: &Path) -> anyhow::Result<String> {
    // The directory may not exist yet: canonicalise what exists of it.
    let absolute = match data.canonicalize() {
        Ok(p) => p,
        Err(_) => std::path::absolute(data)
            .with_context(|| format!("making {} absolute", data.display()))?,
    };
    let digest = Sha256::digest(absolute.as_os_str().as_encoded_bytes());
    Ok(format!("lnec_t_{}", hex::encode(&digest[..8])))
}

/// `base` with its database replaced by `name`.
fn with_database(base: &str, name: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(base).with_context(|| format!("{POSTGRES_ENV} is not a URL"))?;
    url.set_path(&format!("/{name}"));
    Ok(url.into())
}

/// Creates database `name` on the server `base` names, unless it exists.
fn create_database(base: &str, name: &str) -> anyhow::Result<()> {
    let config: postgres::Config = base
        .parse()
        .with_context(|| format!("{POSTGRES_ENV} is not a PostgreSQL URL"))?;
    let _one_at_a_time = CREATING.lock().unwrap_or_else(|p| p.into_inner());
    let mut client = config
        .connect(postgres::NoTls)
        .with_context(|| format!("connecting to the PostgreSQL server {POSTGRES_ENV} names"))?;
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])?
        .is_some();
    if !exists {
        // `name` is `lnec_t_` and hex digits: nothing to quote.
        if let Err(e) = client.batch_execute(&format!("CREATE DATABASE {name}")) {
            // Another process may have created it in between.
            let now_exists = client
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])?
                .is_some();
            if !now_exists {
                bail!("creating PostgreSQL database {name}: {e}");
            }
        }
    }
    Ok(())
}

/// Opens the service state on `data` (keys, and the SQLite file, live
/// there) with the engine of this run. Every in-process server of the kit
/// is opened here.
pub fn open_state(data: &Path, alg: Alg, config: Config, clock: Clock) -> anyhow::Result<AppState> {
    engine().open_state(data, alg, config, clock)
}

/// Runs `f` on a thread of its own: the PostgreSQL client blocks on a
/// runtime of its own, which must not happen on an async test's thread.
fn off_runtime<T: Send>(f: impl FnOnce() -> anyhow::Result<T> + Send) -> anyhow::Result<T> {
    blocking(f)
}

/// Runs `f` on a thread of its own and returns what it returns. Tests call
/// the store directly through this: the PostgreSQL client blocks on a
/// runtime of its own, which must not happen on an async test's thread
/// (the server itself calls the store from `spawn_blocking`).
pub fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_is_the_default_and_opens_in_the_data_directory() {
        if engine() != Engine::Sqlite {
            return; // a PostgreSQL run: nothing of SQLite to check
        }
        let dir = crate::tempdir();
        assert!(Engine::Sqlite.server_args(dir.path()).unwrap().is_empty());
        let state = open_state(
            dir.path(),
            Alg::EdDSA,
            Config::default(),
            crate::ManualClock::default().clock(),
        )
        .unwrap();
        assert_eq!(state.now(), crate::T0);
        assert!(dir.path().join("verifier.db").is_file());
    }

    #[test]
    fn each_data_directory_has_its_own_database_name() {
        let a = database_name(Path::new("/tmp/a")).unwrap();
        let b = database_name(Path::new("/tmp/b")).unwrap();
        assert_ne!(a, b);
        assert_eq!(a, database_name(Path::new("/tmp/a")).unwrap());
        assert!(
            a.starts_with("lnec_t_") && a.len() == "lnec_t_".len() + 16,
            "{a}"
        );
        assert_eq!(
            with_database(
                "postgresql://u:p%40w@localhost:5433/postgres?sslmode=disable",
                &a
            )
            .unwrap(),
            format!("postgresql://u:p%40w@localhost:5433/{a}?sslmode=disable")
        );
    }

    #[test]
    fn postgres_reopens_the_same_database_for_the_same_directory() {
        let Engine::Postgres(_) = engine() else {
            println!("skipped: {POSTGRES_ENV} is not set");
            return;
        };
        let dir = crate::tempdir();
        let clock = crate::ManualClock::default();
        let url = engine().database_for(dir.path()).unwrap().unwrap();
        assert_eq!(engine().database_for(dir.path()).unwrap(), Some(url));
        let first = open_state(dir.path(), Alg::EdDSA, Config::default(), clock.clock()).unwrap();
        let kid = first.keys().issuer.kid().to_string();
        drop(first);
        let again = open_state(dir.path(), Alg::EdDSA, Config::default(), clock.clock()).unwrap();
        assert_eq!(again.keys().issuer.kid().to_string(), kid);
        assert!(!dir.path().join("verifier.db").exists());
    }
}
