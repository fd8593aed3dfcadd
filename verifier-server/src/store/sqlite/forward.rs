//! [`ForwardTx`] on SQLite: the outbox and batches of records forwarded to
//! other provinces, and the records received from them.

use rusqlite::{params, OptionalExtension as _};

use super::SqliteTx;
use crate::store::{
    division_of, i64_of, u32_of, u64_of, Backlog, ForwardBatchRow, ForwardTx, OutboxRow,
    PeerCheckRow, StoreError,
};

const BATCH_COLS: &str = "id, province, created_at, bytes, records, attempts, next_attempt_at, \
                          last_error, sent_at";

type BatchCols = (
    String,
    i64,
    i64,
    Vec<u8>,
    i64,
    i64,
    i64,
    Option<String>,
    Option<i64>,
);

fn batch_of(c: BatchCols) -> Result<ForwardBatchRow, StoreError> {
    Ok(ForwardBatchRow {
        id: c.0,
        province: u32_of(c.1, "province")?,
        created_at: c.2,
        bytes: c.3,
        records: u64_of(c.4, "records")?,
        attempts: u32_of(c.5, "attempts")?,
        next_attempt_at: c.6,
        last_error: c.7,
        sent_at: c.8,
    })
}

fn batch_cols(r: &rusqlite::Row<'_>) -> rusqlite::Result<BatchCols> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

impl ForwardTx for SqliteTx<'_> {
    fn queue_forward(&mut self, row: &OutboxRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO forward_outbox
                 (device_id, seq, province, division, not_before, received_at, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (device_id, seq) DO NOTHING",
            params![
                row.device_id,
                i64_of(row.seq, "seq")?,
                row.province,
                row.division,
                row.not_before,
                row.received_at,
                row.record
            ],
        )?;
        Ok(())
    }

    fn forward_pending_provinces(&mut self) -> Result<Vec<u32>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT province FROM forward_outbox WHERE batch IS NULL ORDER BY province",
        )?;
        let rows = stmt
            .query_map([], |r| r.get::<_, i64>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(|p| u32_of(p, "province")).collect()
    }

    fn forward_unbatched(
        &mut self,
        province: u32,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.device_id, o.seq, o.province, o.division, o.not_before, o.received_at,
                    o.record
             FROM forward_outbox o
             WHERE o.batch IS NULL AND o.province = ?1
               AND NOT EXISTS (SELECT 1 FROM devices d
                               WHERE d.id = o.device_id AND d.revoked_at IS NOT NULL)
             ORDER BY o.device_id, o.seq LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![province, limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Vec<u8>>(6)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(OutboxRow {
                    device_id: c.0,
                    seq: u64_of(c.1, "seq")?,
                    province: u32_of(c.2, "province")?,
                    division: u32_of(c.3, "division")?,
                    not_before: c.4,
                    received_at: c.5,
                    record: c.6,
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
             VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
            params![
                b.id,
                b.province,
                b.created_at,
                b.bytes,
                i64_of(b.records, "records")?,
                b.next_attempt_at
            ],
        )?;
        for (device_id, seq) in records {
            self.exec(
                "UPDATE forward_outbox SET batch = ?1 WHERE device_id = ?2 AND seq = ?3",
                params![b.id, device_id, i64_of(*seq, "seq")?],
            )?;
        }
        Ok(())
    }

    fn forward_due(&mut self, now: i64) -> Result<Option<ForwardBatchRow>, StoreError> {
        let c = self
            .row(
                &format!(
                    "SELECT {BATCH_COLS} FROM forward_batches
                     WHERE sent_at IS NULL AND next_attempt_at <= ?1
                     ORDER BY next_attempt_at, created_at, id LIMIT 1"
                ),
                params![now],
                batch_cols,
            )
            .optional()?;
        c.map(batch_of).transpose()
    }

    fn forward_attempted(
        &mut self,
        id: &str,
        sent_at: Option<i64>,
        error: Option<&str>,
        next_attempt_at: i64,
    ) -> Result<(), StoreError> {
        self.exec(
            "UPDATE forward_batches SET attempts = attempts + 1, sent_at = ?2,
                 last_error = ?3, next_attempt_at = ?4
             WHERE id = ?1",
            params![id, sent_at, error, next_attempt_at],
        )?;
        Ok(())
    }

    fn forward_batches(&mut self) -> Result<Vec<ForwardBatchRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {BATCH_COLS} FROM forward_batches ORDER BY created_at, id"
        ))?;
        let rows = stmt
            .query_map([], batch_cols)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(batch_of).collect()
    }

    fn insert_peer_batch(
        &mut self,
        province: u32,
        id: &str,
        received_at: i64,
        bytes: &[u8],
    ) -> Result<bool, StoreError> {
        Ok(self.exec(
            "INSERT INTO peer_batches (province, id, received_at, bytes) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (province, id) DO NOTHING",
            params![province, id, received_at, bytes],
        )? == 1)
    }

    fn insert_peer_check(&mut self, r: &PeerCheckRow) -> Result<bool, StoreError> {
        Ok(self.exec(
            "INSERT INTO peer_checks
                 (province, device, seq, batch, division, not_before, sent_received_at,
                  received_at, at, scanned, srv_signature, srv_presentation, presented,
                  srv_cert_type, srv_cert_number, srv_division, srv_reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
             ON CONFLICT (province, device, seq) DO NOTHING",
            params![
                r.province,
                i64_of(r.device, "device")?,
                i64_of(r.seq, "seq")?,
                r.batch,
                r.division,
                r.not_before,
                r.sent_received_at,
                r.received_at,
                r.at,
                r.scanned,
                r.srv_signature,
                r.srv_presentation,
                r.presented,
                r.srv_cert_type,
                r.srv_cert_number,
                r.srv_division.map(|d| d.code()),
                r.srv_reason
            ],
        )? == 1)
    }

    fn peer_checks(&mut self, from: i64, to: i64) -> Result<Vec<PeerCheckRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT province, device, seq, batch, division, not_before, sent_received_at,
                    received_at, at, scanned, srv_signature, srv_presentation, presented,
                    srv_cert_type, srv_cert_number, srv_division, srv_reason
             FROM peer_checks
             WHERE (at >= ?1 AND at < ?2) OR (received_at >= ?1 AND received_at < ?2)
             ORDER BY at, province, device, seq",
        )?;
        let rows = stmt
            .query_map(params![from, to], |r| {
                Ok((
                    (
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, i64>(7)?,
                        r.get::<_, i64>(8)?,
                    ),
                    (
                        r.get::<_, Option<String>>(9)?,
                        r.get::<_, bool>(10)?,
                        r.get::<_, bool>(11)?,
                        r.get::<_, bool>(12)?,
                        r.get::<_, Option<String>>(13)?,
                        r.get::<_, Option<String>>(14)?,
                        r.get::<_, Option<i64>>(15)?,
                        r.get::<_, Option<String>>(16)?,
                    ),
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(a, b)| {
                Ok(PeerCheckRow {
                    province: u32_of(a.0, "province")?,
                    device: u64_of(a.1, "device")?,
                    seq: u64_of(a.2, "seq")?,
                    batch: a.3,
                    division: u32_of(a.4, "division")?,
                    not_before: a.5,
                    sent_received_at: a.6,
                    received_at: a.7,
                    at: a.8,
                    scanned: b.0,
                    srv_signature: b.1,
                    srv_presentation: b.2,
                    presented: b.3,
                    srv_cert_type: b.4,
                    srv_cert_number: b.5,
                    srv_division: b.6.map(division_of).transpose()?,
                    srv_reason: b.7,
                })
            })
            .collect()
    }

    fn peer_checks_oldest(&mut self, before: i64) -> Result<Option<i64>, StoreError> {
        Ok(self.row(
            "SELECT min(min(at, received_at)) FROM peer_checks
             WHERE at < ?1 AND received_at < ?1",
            params![before],
            |r| r.get(0),
        )?)
    }

    fn purge_peer_checks(&mut self, before: i64, limit: u32) -> Result<u64, StoreError> {
        let n = self.exec(
            "DELETE FROM peer_checks WHERE (province, device, seq) IN (
                 SELECT province, device, seq FROM peer_checks
                 WHERE at < ?1 AND received_at < ?1
                 ORDER BY at, province, device, seq LIMIT ?2)",
            params![before, limit],
        )?;
        self.exec(
            "DELETE FROM peer_batches AS b
             WHERE b.received_at < ?1
               AND NOT EXISTS (SELECT 1 FROM peer_checks c
                               WHERE c.province = b.province AND c.batch = b.id)",
            params![before],
        )?;
        Ok(n as u64)
    }

    fn purge_forwarded(&mut self, before: i64, limit: u32) -> Result<u64, StoreError> {
        // The same ordered choice twice: the batches are deleted last.
        let chosen = "SELECT id FROM forward_batches
                      WHERE sent_at IS NOT NULL AND created_at < ?1
                      ORDER BY created_at, id LIMIT ?2";
        let n = self.exec(
            &format!("DELETE FROM forward_outbox WHERE batch IN ({chosen})"),
            params![before, limit],
        )?;
        self.exec(
            &format!("DELETE FROM forward_batches WHERE id IN ({chosen})"),
            params![before, limit],
        )?;
        Ok(n as u64)
    }

    fn backlog(&mut self) -> Result<Backlog, StoreError> {
        let (queued, undelivered, oldest, pending, failing): (i64, i64, Option<i64>, i64, i64) =
            self.row(crate::store::BACKLOG_QUERY, [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(Backlog {
            forward_queued: count(queued),
            forward_undelivered: count(undelivered),
            forward_oldest: oldest,
            webhooks_pending: count(pending),
            webhooks_failing: count(failing),
        })
    }
}
