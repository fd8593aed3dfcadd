//! [`LogsTx`] on SQLite: uploaded check-log batches and records (append-only by trigger).

use rusqlite::{params, OptionalExtension};

use super::SqliteTx;
use shared::domain::DivisionCode;

use crate::store::{
    division_of, hash32, i64_of, u64_of, version_of, LogRecordRow, LogsTx, StoreError,
};

impl LogsTx for SqliteTx<'_> {
    fn log_hashes(
        &mut self,
        device_id: i64,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, hash FROM verification_records
             WHERE device_id = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map(
                params![device_id, i64_of(from, "seq")?, i64_of(to, "seq")?],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
            )?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(seq, hash)| Ok((u64_of(seq, "seq")?, hash32(hash, "record hash")?)))
            .collect()
    }

    fn insert_log_batch(
        &mut self,
        device_id: i64,
        received_at: i64,
        (first, last): (u64, u64),
        bytes: &[u8],
    ) -> Result<i64, StoreError> {
        self.exec(
            "INSERT INTO verification_batches (device_id, received_at, first_seq, last_seq, bytes)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                device_id,
                received_at,
                i64_of(first, "seq")?,
                i64_of(last, "seq")?,
                bytes
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn insert_log_record(&mut self, r: &LogRecordRow) -> Result<(), StoreError> {
        self.insert_record(r, "")?;
        Ok(())
    }

    fn insert_log_records(&mut self, records: &[LogRecordRow]) -> Result<usize, StoreError> {
        let mut new = 0;
        for r in records {
            new += self.insert_record(r, "ON CONFLICT (device_id, seq) DO NOTHING")?;
        }
        Ok(new)
    }

    fn log_records(
        &mut self,
        device_id: i64,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<LogRecordRow>, StoreError> {
        let after = match after {
            Some(a) => i64_of(a, "seq")?,
            None => -1,
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {LOG_COLS} FROM verification_records
             WHERE device_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
        ))?;
        let rows = stmt
            .query_map(params![device_id, after, limit], log_record_cols)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(log_record_from).collect()
    }

    fn log_anchor(&mut self, device_id: i64) -> Result<Option<(u64, [u8; 32])>, StoreError> {
        let row: Option<(i64, Vec<u8>)> = self
            .row(
                "SELECT last_seq, last_hash FROM log_anchors WHERE device_id = ?1",
                [device_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(seq, hash)| Ok((u64_of(seq, "anchor seq")?, hash32(hash, "anchor hash")?)))
            .transpose()
    }

    fn purge_device_logs(
        &mut self,
        device_id: i64,
        before: i64,
        limit: u32,
        at: i64,
    ) -> Result<u64, StoreError> {
        let bound: Option<i64> = self.row(
            "SELECT min(seq) FROM verification_records WHERE device_id = ?1 AND at >= ?2",
            params![device_id, before],
            |r| r.get(0),
        )?;
        let last: Option<(i64, Vec<u8>, i64)> = self
            .row(
                "SELECT seq, hash, n FROM (
                     SELECT seq, hash, row_number() OVER (ORDER BY seq) AS n
                     FROM verification_records
                     WHERE device_id = ?1 AND seq < ?2 ORDER BY seq LIMIT ?3)
                 ORDER BY seq DESC LIMIT 1",
                params![device_id, bound.unwrap_or(i64::MAX), limit],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((last_seq, hash, n)) = last else {
            return Ok(0);
        };
        self.exec("INSERT INTO purge_gate (open) VALUES (1)", [])?;
        self.exec(
            "DELETE FROM verification_records WHERE device_id = ?1 AND seq <= ?2",
            params![device_id, last_seq],
        )?;
        self.exec(
            "DELETE FROM verification_batches AS b
             WHERE b.device_id = ?1 AND b.last_seq <= ?2
               AND NOT EXISTS (SELECT 1 FROM verification_records r
                               WHERE r.device_id = ?1 AND r.batch_id = b.id)",
            params![device_id, last_seq],
        )?;
        self.exec("DELETE FROM purge_gate", [])?;
        self.exec(
            "INSERT INTO log_anchors (device_id, last_seq, last_hash, purged_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (device_id) DO UPDATE SET last_seq = excluded.last_seq,
                 last_hash = excluded.last_hash, purged_at = excluded.purged_at",
            params![device_id, last_seq, hash, at],
        )?;
        u64_of(n, "purged count")
    }

    fn eval_result(&mut self, year: i32) -> Result<Option<String>, StoreError> {
        Ok(self
            .row(
                "SELECT result_json FROM eval_results WHERE year = ?1",
                [year],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn set_eval_result(&mut self, year: i32, json: &str, at: i64) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO eval_results (year, computed_at, result_json) VALUES (?1, ?2, ?3)
             ON CONFLICT (year) DO UPDATE SET computed_at = excluded.computed_at,
                 result_json = excluded.result_json",
            params![year, at, json],
        )?;
        Ok(())
    }
}

const LOG_COLS: &str = "device_id, seq, hash, prev, at, kind, verdict, reason, cert_type, \
     cert_number, cert_version, scanned, status_seq, trust_seq, warnings, data_age, check_seq, \
     accepted, note, srv_signature, srv_presentation, srv_cert_type, srv_cert_number, \
     srv_cert_version, srv_division, srv_reason, batch_id";

/// Raw columns of a log record, in [`LOG_COLS`] order.
struct LogCols {
    ids: (i64, i64),
    hashes: (Vec<u8>, Vec<u8>),
    at: i64,
    kind: i64,
    check: (Option<String>, Option<String>),
    cert: (Option<String>, Option<String>, Option<i64>),
    scanned: Option<String>,
    seqs: (Option<i64>, Option<i64>),
    warnings: Option<String>,
    data_age: Option<i64>,
    disposition: (Option<i64>, Option<bool>, Option<String>),
    srv: (Option<bool>, Option<bool>),
    srv_cert: (Option<String>, Option<String>, Option<i64>, Option<i64>),
    srv_reason: Option<String>,
    batch_id: i64,
}

fn log_record_cols(r: &rusqlite::Row<'_>) -> rusqlite::Result<LogCols> {
    Ok(LogCols {
        ids: (r.get(0)?, r.get(1)?),
        hashes: (r.get(2)?, r.get(3)?),
        at: r.get(4)?,
        kind: r.get(5)?,
        check: (r.get(6)?, r.get(7)?),
        cert: (r.get(8)?, r.get(9)?, r.get(10)?),
        scanned: r.get(11)?,
        seqs: (r.get(12)?, r.get(13)?),
        warnings: r.get(14)?,
        data_age: r.get(15)?,
        disposition: (r.get(16)?, r.get(17)?, r.get(18)?),
        srv: (r.get(19)?, r.get(20)?),
        srv_cert: (r.get(21)?, r.get(22)?, r.get(23)?, r.get(24)?),
        srv_reason: r.get(25)?,
        batch_id: r.get(26)?,
    })
}

fn log_record_from(c: LogCols) -> Result<LogRecordRow, StoreError> {
    let opt_u64 = |v: Option<i64>, what: &str| v.map(|v| u64_of(v, what)).transpose();
    let opt_version = |v: Option<i64>| v.map(version_of).transpose();
    Ok(LogRecordRow {
        device_id: c.ids.0,
        seq: u64_of(c.ids.1, "seq")?,
        hash: hash32(c.hashes.0, "record hash")?,
        prev: hash32(c.hashes.1, "record prev")?,
        at: c.at,
        kind: u8::try_from(c.kind)
            .map_err(|_| StoreError::Corrupt(format!("record kind {}", c.kind)))?,
        verdict: c.check.0,
        reason: c.check.1,
        cert_type: c.cert.0,
        cert_number: c.cert.1,
        cert_version: opt_version(c.cert.2)?,
        scanned: c.scanned,
        status_seq: opt_u64(c.seqs.0, "status seq")?,
        trust_seq: opt_u64(c.seqs.1, "trust seq")?,
        warnings: c.warnings,
        data_age: opt_u64(c.data_age, "data age")?,
        check_seq: opt_u64(c.disposition.0, "check seq")?,
        accepted: c.disposition.1,
        note: c.disposition.2,
        srv_signature: c.srv.0,
        srv_presentation: c.srv.1,
        srv_cert_type: c.srv_cert.0,
        srv_cert_number: c.srv_cert.1,
        srv_cert_version: opt_version(c.srv_cert.2)?,
        srv_division: c.srv_cert.3.map(division_of).transpose()?,
        srv_reason: c.srv_reason,
        batch_id: c.batch_id,
    })
}

impl SqliteTx<'_> {
    /// Inserts one record; `conflict` is empty or an `ON CONFLICT` clause.
    fn insert_record(&self, r: &LogRecordRow, conflict: &str) -> Result<usize, StoreError> {
        let opt64 = |v: Option<u64>, what: &str| v.map(|v| i64_of(v, what)).transpose();
        Ok(self.exec(
            &format!(
                "INSERT INTO verification_records ({LOG_COLS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                         ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27) {conflict}"
            ),
            params![
                r.device_id,
                i64_of(r.seq, "seq")?,
                r.hash.as_slice(),
                r.prev.as_slice(),
                r.at,
                r.kind,
                r.verdict,
                r.reason,
                r.cert_type,
                r.cert_number,
                r.cert_version,
                r.scanned,
                opt64(r.status_seq, "status seq")?,
                opt64(r.trust_seq, "trust seq")?,
                r.warnings,
                opt64(r.data_age, "data age")?,
                opt64(r.check_seq, "check seq")?,
                r.accepted,
                r.note,
                r.srv_signature,
                r.srv_presentation,
                r.srv_cert_type,
                r.srv_cert_number,
                r.srv_cert_version,
                r.srv_division.map(DivisionCode::code),
                r.srv_reason,
                r.batch_id,
            ],
        )?)
    }
}
