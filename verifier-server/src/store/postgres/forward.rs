//! [`ForwardTx`] on PostgreSQL: the outbox and batches of records forwarded
//! to other provinces, and the records received from them.

use postgres::Row;

use super::{col, PgTx};
use crate::store::{
    division_of, i64_of, u32_of, u64_of, Backlog, ForwardBatchRow, ForwardTx, OutboxRow,
    PeerCheckRow, StoreError,
};

const BATCH_COLS: &str = "id, province, created_at, bytes, records, attempts, next_attempt_at, \
                          last_error, sent_at";

fn batch_of(r: &Row) -> Result<ForwardBatchRow, StoreError> {
    Ok(ForwardBatchRow {
        id: col(r, 0)?,
        province: u32_of(col(r, 1)?, "province")?,
        created_at: col(r, 2)?,
        bytes: col(r, 3)?,
        records: u64_of(col(r, 4)?, "records")?,
        attempts: u32_of(col(r, 5)?, "attempts")?,
        next_attempt_at: col(r, 6)?,
        last_error: col(r, 7)?,
        sent_at: col(r, 8)?,
    })
}

impl ForwardTx for PgTx<'_> {
    fn queue_forward(&mut self, row: &OutboxRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO forward_outbox
                 (device_id, seq, province, division, not_before, received_at, record)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (device_id, seq) DO NOTHING",
            &[
                &row.device_id,
                &i64_of(row.seq, "seq")?,
                &i64::from(row.province),
                &i64::from(row.division),
                &row.not_before,
                &row.received_at,
                &row.record,
            ],
        )?;
        Ok(())
    }

    fn forward_pending_provinces(&mut self) -> Result<Vec<u32>, StoreError> {
        self.rows(
            "SELECT DISTINCT province FROM forward_outbox WHERE batch IS NULL ORDER BY province",
            &[],
        )?
        .iter()
        .map(|r| u32_of(col(r, 0)?, "province"))
        .collect()
    }

    fn forward_unbatched(
        &mut self,
        province: u32,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.rows(
            "SELECT o.device_id, o.seq, o.province, o.division, o.not_before, o.received_at,
                    o.record
             FROM forward_outbox o
             WHERE o.batch IS NULL AND o.province = $1
               AND NOT EXISTS (SELECT 1 FROM devices d
                               WHERE d.id = o.device_id AND d.revoked_at IS NOT NULL)
             ORDER BY o.device_id, o.seq LIMIT $2",
            &[&i64::from(province), &i64::from(limit)],
        )?
        .iter()
        .map(|r| {
            Ok(OutboxRow {
                device_id: col(r, 0)?,
                seq: u64_of(col(r, 1)?, "seq")?,
                province: u32_of(col(r, 2)?, "province")?,
                division: u32_of(col(r, 3)?, "division")?,
                not_before: col(r, 4)?,
                received_at: col(r, 5)?,
                record: col(r, 6)?,
            })
        })
        .collect()
    }

    fn insert_forward_batch(
        &mut self,
        b: &ForwardBatchRow,
        records: &[(i64, u64)],
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO forward_batches
                 (id, province, created_at, bytes, records, attempts, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, 0, $6)",
            &[
                &b.id,
                &i64::from(b.province),
                &b.created_at,
                &b.bytes,
                &i64_of(b.records, "records")?,
                &b.next_attempt_at,
            ],
        )?;
        for (device_id, seq) in records {
            self.exec(
                "UPDATE forward_outbox SET batch = $1 WHERE device_id = $2 AND seq = $3",
                &[&b.id, device_id, &i64_of(*seq, "seq")?],
            )?;
        }
        Ok(())
    }

    fn forward_due(&mut self, now: i64) -> Result<Option<ForwardBatchRow>, StoreError> {
        self.opt_row(
            &format!(
                "SELECT {BATCH_COLS} FROM forward_batches
                 WHERE sent_at IS NULL AND next_attempt_at <= $1
                 ORDER BY next_attempt_at, created_at, id LIMIT 1"
            ),
            &[&now],
        )?
        .as_ref()
        .map(batch_of)
        .transpose()
    }

    fn forward_attempted(
        &mut self,
        id: &str,
        sent_at: Option<i64>,
        error: Option<&str>,
        next_attempt_at: i64,
    ) -> Result<(), StoreError> {
        self.exec(
            "UPDATE forward_batches SET attempts = attempts + 1, sent_at = $2,
                 last_error = $3, next_attempt_at = $4
             WHERE id = $1",
            &[&id, &sent_at, &error, &next_attempt_at],
        )?;
        Ok(())
    }

    fn forward_batches(&mut self) -> Result<Vec<ForwardBatchRow>, StoreError> {
        self.rows(
            &format!("SELECT {BATCH_COLS} FROM forward_batches ORDER BY created_at, id"),
            &[],
        )?
        .iter()
        .map(batch_of)
        .collect()
    }

    fn insert_peer_batch(
        &mut self,
        province: u32,
        id: &str,
        received_at: i64,
        bytes: &[u8],
    ) -> Result<bool, StoreError> {
        Ok(self.exec(
            "INSERT INTO peer_batches (province, id, received_at, bytes) VALUES ($1, $2, $3, $4)
             ON CONFLICT (province, id) DO NOTHING",
            &[&i64::from(province), &id, &received_at, &bytes],
        )? == 1)
    }

    fn insert_peer_check(&mut self, r: &PeerCheckRow) -> Result<bool, StoreError> {
        Ok(self.exec(
            "INSERT INTO peer_checks
                 (province, device, seq, batch, division, not_before, sent_received_at,
                  received_at, at, scanned, srv_signature, srv_presentation, presented,
                  srv_cert_type, srv_cert_number, srv_division, srv_reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
             ON CONFLICT (province, device, seq) DO NOTHING",
            &[
                &i64::from(r.province),
                &i64_of(r.device, "device")?,
                &i64_of(r.seq, "seq")?,
                &r.batch,
                &i64::from(r.division),
                &r.not_before,
                &r.sent_received_at,
                &r.received_at,
                &r.at,
                &r.scanned,
                &r.srv_signature,
                &r.srv_presentation,
                &r.presented,
                &r.srv_cert_type,
                &r.srv_cert_number,
                &r.srv_division.map(|d| i64::from(d.code())),
                &r.srv_reason,
            ],
        )? == 1)
    }

    fn peer_checks(&mut self, from: i64, to: i64) -> Result<Vec<PeerCheckRow>, StoreError> {
        self.rows(
            "SELECT province, device, seq, batch, division, not_before, sent_received_at,
                    received_at, at, scanned, srv_signature, srv_presentation, presented,
                    srv_cert_type, srv_cert_number, srv_division, srv_reason
             FROM peer_checks
             WHERE (at >= $1 AND at < $2) OR (received_at >= $1 AND received_at < $2)
             ORDER BY at, province, device, seq",
            &[&from, &to],
        )?
        .iter()
        .map(|r| {
            Ok(PeerCheckRow {
                province: u32_of(col(r, 0)?, "province")?,
                device: u64_of(col(r, 1)?, "device")?,
                seq: u64_of(col(r, 2)?, "seq")?,
                batch: col(r, 3)?,
                division: u32_of(col(r, 4)?, "division")?,
                not_before: col(r, 5)?,
                sent_received_at: col(r, 6)?,
                received_at: col(r, 7)?,
                at: col(r, 8)?,
                scanned: col(r, 9)?,
                srv_signature: col(r, 10)?,
                srv_presentation: col(r, 11)?,
                presented: col(r, 12)?,
                srv_cert_type: col(r, 13)?,
                srv_cert_number: col(r, 14)?,
                srv_division: col::<Option<i64>>(r, 15)?.map(division_of).transpose()?,
                srv_reason: col(r, 16)?,
            })
        })
        .collect()
    }

    fn peer_checks_oldest(&mut self, before: i64) -> Result<Option<i64>, StoreError> {
        Ok(self
            .one_row(
                "SELECT min(LEAST(at, received_at)) FROM peer_checks
                 WHERE at < $1 AND received_at < $1",
                &[&before],
            )?
            .try_get(0)?)
    }

    fn purge_peer_checks(&mut self, before: i64, limit: u32) -> Result<u64, StoreError> {
        let n = self.exec(
            "DELETE FROM peer_checks WHERE (province, device, seq) IN (
                 SELECT province, device, seq FROM peer_checks
                 WHERE at < $1 AND received_at < $1
                 ORDER BY at, province, device, seq LIMIT $2)",
            &[&before, &i64::from(limit)],
        )?;
        self.exec(
            "DELETE FROM peer_batches AS b
             WHERE b.received_at < $1
               AND NOT EXISTS (SELECT 1 FROM peer_checks c
                               WHERE c.province = b.province AND c.batch = b.id)",
            &[&before],
        )?;
        Ok(n)
    }

    fn purge_forwarded(&mut self, before: i64, limit: u32) -> Result<u64, StoreError> {
        let rows = self.rows(
            "WITH purged AS (
                 DELETE FROM forward_batches WHERE id IN (
                     SELECT id FROM forward_batches
                     WHERE sent_at IS NOT NULL AND created_at < $1
                     ORDER BY created_at, id LIMIT $2)
                 RETURNING id)
             DELETE FROM forward_outbox WHERE batch IN (SELECT id FROM purged)
             RETURNING 1",
            &[&before, &i64::from(limit)],
        )?;
        Ok(rows.len() as u64)
    }

    fn backlog(&mut self) -> Result<Backlog, StoreError> {
        let r = self.one_row(crate::store::BACKLOG_QUERY, &[])?;
        let count = |i: usize| -> Result<u64, StoreError> {
            Ok(u64::try_from(r.try_get::<_, i64>(i)?).unwrap_or(0))
        };
        Ok(Backlog {
            forward_queued: count(0)?,
            forward_undelivered: count(1)?,
            forward_oldest: r.try_get(2)?,
            webhooks_pending: count(3)?,
            webhooks_failing: count(4)?,
        })
    }
}
