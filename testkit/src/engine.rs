//! The storage engine the tests run against, chosen in ONE place.
//!
//! SQLite in the test's data directory is the default. With
//! `LNEC_TEST_POSTGRES=postgres://…` set, the suite is meant to run against
//! PostgreSQL; this branch has no PostgreSQL backend yet, so that choice is
//! refused with a clear message instead of silently testing SQLite.

use std::path::Path;

use anyhow::bail;
use shared::crypto::Alg;
use verifier_server::{AppState, Clock, Config};

/// The environment variable naming a PostgreSQL URL to test against.
pub const POSTGRES_ENV: &str = "LNEC_TEST_POSTGRES";

/// A storage engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// The SQLite file in the data directory.
    Sqlite,
    /// A PostgreSQL database at this URL.
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

impl Engine {
    /// The database the server on data directory `data` uses: `None` for
    /// the SQLite file inside it. One data directory, one database, so a
    /// reopened state, a restarted child process and an `admin` command
    /// on the same directory all see the same data.
    pub fn database_for(&self, data: &Path) -> anyhow::Result<Option<String>> {
        match self {
            Engine::Sqlite => Ok(None),
            // To wire PostgreSQL: derive a database name from `data` (e.g.
            // `lnec_t_` + 16 hex digits of a hash of the canonical path),
            // `CREATE DATABASE` it on `url` if missing, and return its URL.
            Engine::Postgres(_url) => {
                bail!("{} (data directory {})", no_postgres(), data.display())
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
}

fn no_postgres() -> String {
    format!(
        "{POSTGRES_ENV} is set, but this build of the test kit has no PostgreSQL backend \
         to hand it to; unset it to test SQLite"
    )
}

/// Opens the service state on `data` (keys, and the SQLite file, live
/// there) with the engine of this run. Every in-process server of the kit
/// is opened here.
pub fn open_state(data: &Path, alg: Alg, config: Config, clock: Clock) -> anyhow::Result<AppState> {
    match engine().database_for(data)? {
        None => AppState::open(data, alg, config, clock),
        // To wire PostgreSQL:
        // `AppState::open_database(data, Some(&url), alg, config, clock)`.
        Some(_url) => bail!(no_postgres()),
    }
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
    fn postgres_is_refused_until_the_backend_is_wired() {
        let e = Engine::Postgres("postgres://127.0.0.1/x".into());
        let err = e
            .server_args(Path::new("/nowhere"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(POSTGRES_ENV), "{err}");
    }
}
