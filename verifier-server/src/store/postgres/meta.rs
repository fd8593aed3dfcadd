//! [`MetaTx`] on PostgreSQL: configuration values and row counts.

use super::{col, PgTx};
use crate::store::{u64_of, Counts, MetaTx, StoreError};

impl MetaTx for PgTx<'_> {
    fn meta(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        self.opt_row("SELECT value FROM meta WHERE key = $1", &[&key])?
            .map(|r| col(&r, 0))
            .transpose()
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO meta (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )?;
        Ok(())
    }

    fn counts(&mut self) -> Result<Counts, StoreError> {
        let r = self.one_row(
            "SELECT (SELECT COUNT(*) FROM certificates),
                    (SELECT COUNT(*) FROM certificate_versions),
                    (SELECT COUNT(*) FROM nonconforming WHERE resolved_at IS NULL),
                    (SELECT COUNT(*) FROM audit)",
            &[],
        )?;
        Ok(Counts {
            certificates: u64_of(col(&r, 0)?, "count")?,
            versions: u64_of(col(&r, 1)?, "count")?,
            nonconforming_open: u64_of(col(&r, 2)?, "count")?,
            audit: u64_of(col(&r, 3)?, "count")?,
        })
    }
}
