//! [`AuditTx`] on SQLite: the audit log (triggers refuse updates and deletes).

use rusqlite::params;

use super::SqliteTx;
use crate::store::{AuditEntry, AuditRow, AuditTx, StoreError};

impl AuditTx for SqliteTx<'_> {
    fn append_audit(&mut self, e: &AuditEntry) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO audit (ts, token_id, role, action, target, outcome, client_addr)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                e.ts,
                e.token_id,
                e.role,
                e.action,
                e.target,
                e.outcome,
                e.client_addr
            ],
        )?;
        Ok(())
    }

    fn audit_tail(&mut self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT ts, token_id, role, action, target, outcome, client_addr FROM audit
             ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([limit], |r| {
                Ok(AuditEntry {
                    ts: r.get(0)?,
                    token_id: r.get(1)?,
                    role: r.get(2)?,
                    action: r.get(3)?,
                    target: r.get(4)?,
                    outcome: r.get(5)?,
                    client_addr: r.get(6)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn audit_after(&mut self, after: i64, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, ts, token_id, role, action, target, outcome, client_addr FROM audit
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![after, limit], |r| {
                Ok(AuditRow {
                    id: r.get(0)?,
                    entry: AuditEntry {
                        ts: r.get(1)?,
                        token_id: r.get(2)?,
                        role: r.get(3)?,
                        action: r.get(4)?,
                        target: r.get(5)?,
                        outcome: r.get(6)?,
                        client_addr: r.get(7)?,
                    },
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
