//! [`ChangesTx`] on SQLite: the change feed and the webhook outbox (one
//! writer at a time, so ids are visible in the order handed out).

use rusqlite::{params, OptionalExtension};

use super::SqliteTx;
use crate::store::{u32_of, version_of, CertChangeRow, ChangesTx, StoreError, WebhookRow};

type ChangeCols = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

fn change_of(c: ChangeCols) -> Result<CertChangeRow, StoreError> {
    Ok(CertChangeRow {
        id: c.0,
        at: c.1,
        kind: c.2,
        cert_type: c.3,
        number: c.4,
        version: c.5.map(version_of).transpose()?,
        status: c.6,
        holder_id: c.7,
        issuer_division: c.8.map(|d| u32_of(d, "division")).transpose()?,
        grant_id: c.9,
    })
}

type HookCols = (i64, i64, i64, i64, i64, i64, Option<String>);

fn hook_of(c: HookCols) -> Result<WebhookRow, StoreError> {
    Ok(WebhookRow {
        application_id: c.0,
        cursor: c.1,
        delivered: c.2,
        scanned: c.3,
        attempts: u32_of(c.4, "attempts")?,
        next_attempt_at: c.5,
        last_error: c.6,
    })
}

const HOOK_COLS: &str =
    "application_id, cursor, delivered, scanned, attempts, next_attempt_at, last_error";

impl ChangesTx for SqliteTx<'_> {
    fn insert_cert_changes(&mut self, rows: &[CertChangeRow]) -> Result<(), StoreError> {
        for r in rows {
            self.exec(
                "INSERT INTO cert_changes (at, kind, cert_type, number, version, status,
                                           holder_id, issuer_division, grant_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    r.at,
                    r.kind,
                    r.cert_type,
                    r.number,
                    r.version,
                    r.status,
                    r.holder_id,
                    r.issuer_division,
                    r.grant_id
                ],
            )?;
        }
        Ok(())
    }

    fn cert_changes_after(
        &mut self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<CertChangeRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, at, kind, cert_type, number, version, status, holder_id,
                    issuer_division, grant_id
             FROM cert_changes WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![after, limit], |r| ChangeCols::try_from(r))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(change_of).collect()
    }

    fn last_cert_change(&mut self) -> Result<i64, StoreError> {
        Ok(
            self.row("SELECT COALESCE(MAX(id), 0) FROM cert_changes", [], |r| {
                r.get(0)
            })?,
        )
    }

    fn webhook(&mut self, application_id: i64) -> Result<Option<WebhookRow>, StoreError> {
        self.row(
            &format!("SELECT {HOOK_COLS} FROM webhook_outbox WHERE application_id = ?1"),
            [application_id],
            |r| HookCols::try_from(r),
        )
        .optional()?
        .map(hook_of)
        .transpose()
    }

    fn put_webhook(&mut self, w: &WebhookRow) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT OR REPLACE INTO webhook_outbox ({HOOK_COLS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ),
            params![
                w.application_id,
                w.cursor,
                w.delivered,
                w.scanned,
                w.attempts,
                w.next_attempt_at,
                w.last_error
            ],
        )?;
        Ok(())
    }

    fn webhooks_due(&mut self, now: i64, limit: u32) -> Result<Vec<WebhookRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {HOOK_COLS} FROM webhook_outbox
             WHERE cursor > delivered AND next_attempt_at <= ?1
             ORDER BY next_attempt_at, application_id LIMIT ?2"
        ))?;
        let rows = stmt
            .query_map(params![now, limit], |r| HookCols::try_from(r))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(hook_of).collect()
    }

    fn claim_webhook(
        &mut self,
        application_id: i64,
        seen: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        Ok(self.exec(
            "UPDATE webhook_outbox SET next_attempt_at = ?3
             WHERE application_id = ?1 AND next_attempt_at = ?2",
            params![application_id, seen, until],
        )? == 1)
    }
}
