//! [`MetaTx`] on SQLite: configuration values and row counts.

use rusqlite::OptionalExtension;

use super::SqliteTx;
use crate::store::{u64_of, Counts, MetaTx, StoreError};

impl MetaTx for SqliteTx<'_> {
    fn meta(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    fn counts(&mut self) -> Result<Counts, StoreError> {
        let count = |sql: &str| -> Result<u64, StoreError> {
            let n: i64 = self.row(sql, [], |r| r.get(0))?;
            u64_of(n, "count")
        };
        Ok(Counts {
            certificates: count("SELECT COUNT(*) FROM certificates")?,
            versions: count("SELECT COUNT(*) FROM certificate_versions")?,
            nonconforming_open: count(
                "SELECT COUNT(*) FROM nonconforming WHERE resolved_at IS NULL",
            )?,
            audit: count("SELECT COUNT(*) FROM audit")?,
        })
    }
}
