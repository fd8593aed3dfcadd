//! [`ChangesTx`] on PostgreSQL: the change feed and the webhook outbox.
//! Writers of the feed take one transaction-level advisory lock, so two
//! server instances commit change ids in the order they were handed out
//! and a reader's cursor never passes an id still to commit.

use postgres::types::Type;
use postgres::Row;

use super::{col, PgTx};
use crate::store::{u32_of, version_of, CertChangeRow, ChangesTx, StoreError, WebhookRow};

/// The advisory lock key of the change feed's writers.
const FEED_LOCK: i64 = 0x4c4e_4543_4645_4544; // "LNECFEED"

fn change_of(r: &Row) -> Result<CertChangeRow, StoreError> {
    Ok(CertChangeRow {
        id: col(r, 0)?,
        at: col(r, 1)?,
        kind: col(r, 2)?,
        cert_type: col(r, 3)?,
        number: col(r, 4)?,
        version: col::<Option<i32>>(r, 5)?
            .map(|v| version_of(i64::from(v)))
            .transpose()?,
        status: col(r, 6)?,
        holder_id: col(r, 7)?,
        issuer_division: col::<Option<i64>>(r, 8)?
            .map(|d| u32_of(d, "division"))
            .transpose()?,
        grant_id: col(r, 9)?,
    })
}

fn hook_of(r: &Row) -> Result<WebhookRow, StoreError> {
    Ok(WebhookRow {
        application_id: col(r, 0)?,
        cursor: col(r, 1)?,
        delivered: col(r, 2)?,
        scanned: col(r, 3)?,
        attempts: u32_of(col(r, 4)?, "attempts")?,
        next_attempt_at: col(r, 5)?,
        last_error: col(r, 6)?,
    })
}

const HOOK_COLS: &str =
    "application_id, cursor, delivered, scanned, attempts, next_attempt_at, last_error";

impl ChangesTx for PgTx<'_> {
    fn insert_cert_changes(&mut self, rows: &[CertChangeRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.exec("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])?;
        // One binary COPY: the identity column numbers the rows in the
        // order they are copied.
        self.copy_rows(
            "COPY cert_changes (at, kind, cert_type, number, version, status, holder_id,
                                issuer_division, grant_id)
             FROM STDIN (FORMAT binary)",
            &[
                Type::INT8,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::INT4,
                Type::TEXT,
                Type::TEXT,
                Type::INT8,
                Type::INT8,
            ],
            rows,
            |writer, r| {
                Ok(writer.write(&[
                    &r.at,
                    &r.kind,
                    &r.cert_type,
                    &r.number,
                    &r.version.map(i32::from),
                    &r.status,
                    &r.holder_id,
                    &r.issuer_division.map(i64::from),
                    &r.grant_id,
                ])?)
            },
        )
    }

    fn cert_changes_after(
        &mut self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<CertChangeRow>, StoreError> {
        self.rows(
            "SELECT id, at, kind, cert_type, number, version, status, holder_id,
                    issuer_division, grant_id
             FROM cert_changes WHERE id > $1 ORDER BY id LIMIT $2",
            &[&after, &i64::from(limit)],
        )?
        .iter()
        .map(change_of)
        .collect()
    }

    fn last_cert_change(&mut self) -> Result<i64, StoreError> {
        col(
            &self.one_row("SELECT COALESCE(MAX(id), 0)::BIGINT FROM cert_changes", &[])?,
            0,
        )
    }

    fn webhook(&mut self, application_id: i64) -> Result<Option<WebhookRow>, StoreError> {
        self.opt_row(
            &format!("SELECT {HOOK_COLS} FROM webhook_outbox WHERE application_id = $1"),
            &[&application_id],
        )?
        .as_ref()
        .map(hook_of)
        .transpose()
    }

    fn put_webhook(&mut self, w: &WebhookRow) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO webhook_outbox ({HOOK_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (application_id) DO UPDATE SET cursor = EXCLUDED.cursor,
                   delivered = EXCLUDED.delivered, scanned = EXCLUDED.scanned,
                   attempts = EXCLUDED.attempts, next_attempt_at = EXCLUDED.next_attempt_at,
                   last_error = EXCLUDED.last_error"
            ),
            &[
                &w.application_id,
                &w.cursor,
                &w.delivered,
                &w.scanned,
                &i64::from(w.attempts),
                &w.next_attempt_at,
                &w.last_error,
            ],
        )?;
        Ok(())
    }

    fn webhooks_due(&mut self, now: i64, limit: u32) -> Result<Vec<WebhookRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {HOOK_COLS} FROM webhook_outbox
                 WHERE cursor > delivered AND next_attempt_at <= $1
                 ORDER BY next_attempt_at, application_id LIMIT $2"
            ),
            &[&now, &i64::from(limit)],
        )?
        .iter()
        .map(hook_of)
        .collect()
    }

    fn claim_webhook(
        &mut self,
        application_id: i64,
        seen: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        Ok(self.exec(
            "UPDATE webhook_outbox SET next_attempt_at = $3
             WHERE application_id = $1 AND next_attempt_at = $2",
            &[&application_id, &seen, &until],
        )? == 1)
    }
}
