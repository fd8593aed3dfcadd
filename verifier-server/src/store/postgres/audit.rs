//! [`AuditTx`] on PostgreSQL: the audit log (a trigger refuses updates,
//! deletes and truncation).

use ::postgres::Row;

use super::{col, PgTx};
use crate::store::{AuditEntry, AuditRow, AuditTx, StoreError};

fn entry_from(r: &Row, i: usize) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        ts: col(r, i)?,
        token_id: col(r, i + 1)?,
        role: col(r, i + 2)?,
        action: col(r, i + 3)?,
        target: col(r, i + 4)?,
        outcome: col(r, i + 5)?,
        client_addr: col(r, i + 6)?,
    })
}

impl AuditTx for PgTx<'_> {
    fn append_audit(&mut self, e: &AuditEntry) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO audit (ts, token_id, role, action, target, outcome, client_addr)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &e.ts,
                &e.token_id,
                &e.role,
                &e.action,
                &e.target,
                &e.outcome,
                &e.client_addr,
            ],
        )?;
        Ok(())
    }

    fn audit_tail(&mut self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.rows(
            "SELECT ts, token_id, role, action, target, outcome, client_addr FROM audit
             ORDER BY id DESC LIMIT $1",
            &[&i64::from(limit)],
        )?
        .iter()
        .map(|r| entry_from(r, 0))
        .collect()
    }

    fn audit_after(&mut self, after: i64, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        self.rows(
            "SELECT id, ts, token_id, role, action, target, outcome, client_addr FROM audit
             WHERE id > $1 ORDER BY id LIMIT $2",
            &[&after, &i64::from(limit)],
        )?
        .iter()
        .map(|r| {
            Ok(AuditRow {
                id: col(r, 0)?,
                entry: entry_from(r, 1)?,
            })
        })
        .collect()
    }
}
