//! [`LogsTx`] on PostgreSQL: uploaded check-log batches and records. The
//! records table is partitioned by month of device time (China Standard
//! Time); partitions are made by `Store::prepare` (at open and daily, in a
//! transaction of its own, under an advisory lock), never by an upload,
//! whose records of a month without a partition go to the default
//! partition until then. Many records go
//! in by binary COPY into a temporary table, then one `INSERT … SELECT …
//! ON CONFLICT DO NOTHING` (idempotent).

use ::postgres::types::Type;
use ::postgres::Row;
use time::{Date, Month, OffsetDateTime, UtcOffset};

use super::{col, PgTx, PARTITION_LOCK};
use crate::store::{
    division_of, hash32, i64_of, u64_of, version_of, LogRecordRow, LogsTx, StoreError,
};

const LOG_COLS: &str = "device_id, seq, hash, prev, at, kind, verdict, reason, cert_type, \
     cert_number, cert_version, scanned, status_seq, trust_seq, warnings, data_age, check_seq, \
     accepted, note, srv_signature, srv_presentation, srv_cert_type, srv_cert_number, \
     srv_cert_version, srv_division, srv_reason, batch_id";

/// The column types of [`LOG_COLS`], for binary COPY.
const LOG_TYPES: [Type; 27] = [
    Type::INT8,
    Type::INT8,
    Type::BYTEA,
    Type::BYTEA,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::BOOL,
    Type::TEXT,
    Type::BOOL,
    Type::BOOL,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::INT8,
];

/// China Standard Time (UTC+8), whose months the partitions follow.
const CST: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// How far before and after `now` a device time gets a monthly partition
/// of its own. Partitions are made only by [`Store::prepare`] (at open and
/// daily), never inside a request's transaction; a record whose month has
/// no partition yet, or outside that window (a device clock reset to 1970
/// or running at year 9999), is stored in the default partition
/// `verification_records_default` (migration 13), so no absurd device time
/// creates a partition. A month whose partition is made later takes its
/// rows out of the default partition first.
///
/// [`Store::prepare`]: crate::store::Store::prepare
pub(super) const WINDOW_BEFORE: i64 = 400 * 86_400;
pub(super) const WINDOW_AFTER: i64 = 62 * 86_400;

/// Whether `at` gets a monthly partition at `now` (see [`WINDOW_BEFORE`]).
fn in_window(at: i64, now: i64) -> bool {
    at >= now.saturating_sub(WINDOW_BEFORE) && at < now.saturating_add(WINDOW_AFTER)
}

/// The month holding `at` as (name suffix, start, end), Unix seconds.
pub(super) fn month_of(at: i64) -> Result<(String, i64, i64), StoreError> {
    let out = || StoreError::Corrupt(format!("device time {at} out of range"));
    let t = OffsetDateTime::from_unix_timestamp(at)
        .map_err(|_| out())?
        .to_offset(CST);
    let start = Date::from_calendar_date(t.year(), t.month(), 1).map_err(|_| out())?;
    let (ny, nm) = match t.month() {
        Month::December => (t.year() + 1, Month::January),
        m => (t.year(), m.next()),
    };
    let end = Date::from_calendar_date(ny, nm, 1).map_err(|_| out())?;
    let ts = |d: Date| d.midnight().assume_offset(CST).unix_timestamp();
    let sign = if t.year() < 0 { "m" } else { "" };
    let name = format!(
        "verification_records_{sign}{:04}_{:02}",
        t.year().unsigned_abs(),
        u8::from(t.month())
    );
    Ok((name, ts(start), ts(end)))
}

/// Raw columns of a record, converted to their stored types.
struct Cols<'r> {
    r: &'r LogRecordRow,
    hash: &'r [u8],
    prev: &'r [u8],
    seq: i64,
    status_seq: Option<i64>,
    trust_seq: Option<i64>,
    data_age: Option<i64>,
    check_seq: Option<i64>,
    kind: i64,
    cert_version: Option<i64>,
    srv_cert_version: Option<i64>,
    srv_division: Option<i64>,
}

impl<'r> Cols<'r> {
    fn of(r: &'r LogRecordRow) -> Result<Cols<'r>, StoreError> {
        let opt = |v: Option<u64>, what: &str| v.map(|v| i64_of(v, what)).transpose();
        Ok(Cols {
            r,
            hash: r.hash.as_slice(),
            prev: r.prev.as_slice(),
            seq: i64_of(r.seq, "seq")?,
            status_seq: opt(r.status_seq, "status seq")?,
            trust_seq: opt(r.trust_seq, "trust seq")?,
            data_age: opt(r.data_age, "data age")?,
            check_seq: opt(r.check_seq, "check seq")?,
            kind: i64::from(r.kind),
            cert_version: r.cert_version.map(i64::from),
            srv_cert_version: r.srv_cert_version.map(i64::from),
            srv_division: r.srv_division.map(|d| i64::from(d.code())),
        })
    }

    fn params(&self) -> [&(dyn ::postgres::types::ToSql + Sync); 27] {
        let r = self.r;
        [
            &r.device_id,
            &self.seq,
            &self.hash,
            &self.prev,
            &r.at,
            &self.kind,
            &r.verdict,
            &r.reason,
            &r.cert_type,
            &r.cert_number,
            &self.cert_version,
            &r.scanned,
            &self.status_seq,
            &self.trust_seq,
            &r.warnings,
            &self.data_age,
            &self.check_seq,
            &r.accepted,
            &r.note,
            &r.srv_signature,
            &r.srv_presentation,
            &r.srv_cert_type,
            &r.srv_cert_number,
            &self.srv_cert_version,
            &self.srv_division,
            &r.srv_reason,
            &r.batch_id,
        ]
    }
}

fn record_from(r: &Row) -> Result<LogRecordRow, StoreError> {
    let opt_u64 = |i: usize, what: &str| -> Result<Option<u64>, StoreError> {
        col::<Option<i64>>(r, i)?
            .map(|v| u64_of(v, what))
            .transpose()
    };
    let opt_version = |i: usize| -> Result<Option<u16>, StoreError> {
        col::<Option<i64>>(r, i)?.map(version_of).transpose()
    };
    let kind: i64 = col(r, 5)?;
    Ok(LogRecordRow {
        device_id: col(r, 0)?,
        seq: u64_of(col(r, 1)?, "seq")?,
        hash: hash32(col(r, 2)?, "record hash")?,
        prev: hash32(col(r, 3)?, "record prev")?,
        at: col(r, 4)?,
        kind: u8::try_from(kind).map_err(|_| StoreError::Corrupt(format!("record kind {kind}")))?,
        verdict: col(r, 6)?,
        reason: col(r, 7)?,
        cert_type: col(r, 8)?,
        cert_number: col(r, 9)?,
        cert_version: opt_version(10)?,
        scanned: col(r, 11)?,
        status_seq: opt_u64(12, "status seq")?,
        trust_seq: opt_u64(13, "trust seq")?,
        warnings: col(r, 14)?,
        data_age: opt_u64(15, "data age")?,
        check_seq: opt_u64(16, "check seq")?,
        accepted: col(r, 17)?,
        note: col(r, 18)?,
        srv_signature: col(r, 19)?,
        srv_presentation: col(r, 20)?,
        srv_cert_type: col(r, 21)?,
        srv_cert_number: col(r, 22)?,
        srv_cert_version: opt_version(23)?,
        srv_division: col::<Option<i64>>(r, 24)?.map(division_of).transpose()?,
        srv_reason: col(r, 25)?,
        batch_id: col(r, 26)?,
    })
}

impl PgTx<'_> {
    /// Makes sure the partitions of these device times exist (those in the
    /// window around `now`). Only for a transaction of its own
    /// ([`PgStore::prepare`](super::PgStore)): making a partition locks the
    /// whole check-log table, which a request's transaction that already
    /// read or wrote it must never wait for.
    pub(super) fn ensure_partitions(
        &mut self,
        ats: impl IntoIterator<Item = i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut months = Vec::new();
        for at in ats.into_iter().filter(|at| in_window(*at, now)) {
            let m = month_of(at)?;
            if !months.iter().any(|(_, s, _)| *s == m.1) {
                months.push(m);
            }
        }
        for (name, start, end) in months {
            let known = self
                .store
                .partitions
                .lock()
                .map_err(|_| StoreError::Poisoned)?
                .contains(&start);
            if known {
                continue;
            }
            let exists = |tx: &mut Self| -> Result<bool, StoreError> {
                let r = tx.one_row("SELECT to_regclass($1) IS NOT NULL", &[&name])?;
                col(&r, 0)
            };
            if !exists(self)? {
                // Held until this transaction ends: a second creator waits,
                // then sees the committed partition.
                self.exec("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK])?;
                if !exists(self)? {
                    // The table first: no upload may add rows of this month
                    // to the default partition between the move and the
                    // new partition (which would then be refused).
                    // Uploads in flight finish first; new ones wait the few
                    // milliseconds this takes.
                    self.conn.batch_execute(
                        "LOCK TABLE verification_records IN ACCESS EXCLUSIVE MODE",
                    )?;
                    // The name and bounds are computed here, never input.
                    // Rows of this month stored in the default partition
                    // while it was out of the window move to the new one
                    // (PostgreSQL refuses the partition otherwise); the
                    // append-only trigger lets a purge transaction delete.
                    self.conn.batch_execute(&format!(
                        "CREATE TEMPORARY TABLE verification_records_moved ON COMMIT DROP AS
                             SELECT * FROM verification_records_default
                             WHERE at >= {start} AND at < {end};
                         SET LOCAL lnec.purge = 'on';
                         DELETE FROM verification_records_default
                             WHERE at >= {start} AND at < {end};
                         SET LOCAL lnec.purge = 'off';
                         CREATE TABLE {name} PARTITION OF verification_records
                             FOR VALUES FROM ({start}) TO ({end});
                         INSERT INTO verification_records SELECT * FROM verification_records_moved;
                         DROP TABLE verification_records_moved"
                    ))?;
                    // Known only once committed.
                    continue;
                }
            }
            self.store
                .partitions
                .lock()
                .map_err(|_| StoreError::Poisoned)?
                .insert(start);
        }
        Ok(())
    }
}

impl LogsTx for PgTx<'_> {
    fn log_anchor(&mut self, device_id: i64) -> Result<Option<(u64, [u8; 32])>, StoreError> {
        self.opt_row(
            "SELECT last_seq, last_hash FROM log_anchors WHERE device_id = $1",
            &[&device_id],
        )?
        .map(|r| {
            Ok((
                u64_of(col(&r, 0)?, "anchor seq")?,
                hash32(col(&r, 1)?, "anchor hash")?,
            ))
        })
        .transpose()
    }

    fn purge_device_logs(
        &mut self,
        device_id: i64,
        before: i64,
        limit: u32,
        at: i64,
    ) -> Result<u64, StoreError> {
        let bound: Option<i64> = col(
            &self.one_row(
                "SELECT min(seq) FROM verification_records WHERE device_id = $1 AND at >= $2",
                &[&device_id, &before],
            )?,
            0,
        )?;
        let last = self.opt_row(
            "SELECT seq, hash, n FROM (
                 SELECT seq, hash, row_number() OVER (ORDER BY seq) AS n
                 FROM verification_records
                 WHERE device_id = $1 AND seq < $2 ORDER BY seq LIMIT $3) AS p
             ORDER BY seq DESC LIMIT 1",
            &[&device_id, &bound.unwrap_or(i64::MAX), &i64::from(limit)],
        )?;
        let Some(last) = last else {
            return Ok(0);
        };
        let last_seq: i64 = col(&last, 0)?;
        let hash: Vec<u8> = col(&last, 1)?;
        let n: i64 = col(&last, 2)?;
        self.conn.batch_execute("SET LOCAL lnec.purge = 'on'")?;
        self.exec(
            "DELETE FROM verification_records WHERE device_id = $1 AND seq <= $2",
            &[&device_id, &last_seq],
        )?;
        self.exec(
            "DELETE FROM verification_batches AS b
             WHERE b.device_id = $1 AND b.last_seq <= $2
               AND NOT EXISTS (SELECT 1 FROM verification_records r
                               WHERE r.device_id = $1 AND r.batch_id = b.id)",
            &[&device_id, &last_seq],
        )?;
        self.conn.batch_execute("SET LOCAL lnec.purge = 'off'")?;
        self.exec(
            "INSERT INTO log_anchors (device_id, last_seq, last_hash, purged_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (device_id) DO UPDATE SET last_seq = excluded.last_seq,
                 last_hash = excluded.last_hash, purged_at = excluded.purged_at",
            &[&device_id, &last_seq, &hash, &at],
        )?;
        u64_of(n, "purged count")
    }

    fn eval_result(&mut self, year: i32) -> Result<Option<String>, StoreError> {
        self.opt_row(
            "SELECT result_json FROM eval_results WHERE year = $1",
            &[&year],
        )?
        .map(|r| col(&r, 0))
        .transpose()
    }

    fn set_eval_result(&mut self, year: i32, json: &str, at: i64) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO eval_results (year, computed_at, result_json) VALUES ($1, $2, $3)
             ON CONFLICT (year) DO UPDATE SET computed_at = excluded.computed_at,
                 result_json = excluded.result_json",
            &[&year, &at, &json],
        )?;
        Ok(())
    }

    fn log_hashes(
        &mut self,
        device_id: i64,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
        self.rows(
            "SELECT seq, hash FROM verification_records
             WHERE device_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq",
            &[&device_id, &i64_of(from, "seq")?, &i64_of(to, "seq")?],
        )?
        .iter()
        .map(|r| {
            Ok((
                u64_of(col(r, 0)?, "seq")?,
                hash32(col(r, 1)?, "record hash")?,
            ))
        })
        .collect()
    }

    fn insert_log_batch(
        &mut self,
        device_id: i64,
        received_at: i64,
        (first, last): (u64, u64),
        bytes: &[u8],
    ) -> Result<i64, StoreError> {
        let r = self.one_row(
            "INSERT INTO verification_batches (device_id, received_at, first_seq, last_seq, bytes)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                &device_id,
                &received_at,
                &i64_of(first, "seq")?,
                &i64_of(last, "seq")?,
                &bytes,
            ],
        )?;
        col(&r, 0)
    }

    fn insert_log_record(&mut self, r: &LogRecordRow) -> Result<(), StoreError> {
        let c = Cols::of(r)?;
        self.exec(
            &format!(
                "INSERT INTO verification_records ({LOG_COLS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                         $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)"
            ),
            &c.params(),
        )?;
        Ok(())
    }

    fn insert_log_records(&mut self, records: &[LogRecordRow]) -> Result<usize, StoreError> {
        if records.is_empty() {
            return Ok(0);
        }
        // DELETE, not TRUNCATE: truncating gives the table a new file and
        // writes the catalog on every batch.
        self.conn.batch_execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS verification_records_in
                 (LIKE verification_records) ON COMMIT DELETE ROWS;
             DELETE FROM verification_records_in",
        )?;
        self.copy_rows(
            &format!("COPY verification_records_in ({LOG_COLS}) FROM STDIN (FORMAT binary)"),
            &LOG_TYPES,
            records,
            |writer, r| Ok(writer.write(&Cols::of(r)?.params())?),
        )?;
        let n = self.exec(
            &format!(
                "INSERT INTO verification_records ({LOG_COLS})
                 SELECT {LOG_COLS} FROM verification_records_in i
                 WHERE NOT EXISTS (SELECT 1 FROM verification_records r
                                   WHERE r.device_id = i.device_id AND r.seq = i.seq)
                 ON CONFLICT DO NOTHING"
            ),
            &[],
        )?;
        usize::try_from(n).map_err(|_| StoreError::Corrupt(format!("{n} records stored")))
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
        self.rows(
            &format!(
                "SELECT {LOG_COLS} FROM verification_records
                 WHERE device_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
            ),
            &[&device_id, &after, &i64::from(limit)],
        )?
        .iter()
        .map(record_from)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::month_of;

    #[test]
    fn months_follow_china_standard_time() {
        // 2026-10-31T16:00:00Z is 2026-11-01 00:00 in Beijing.
        let (name, start, end) = month_of(1_793_462_400).unwrap_or_default();
        assert_eq!(name, "verification_records_2026_11");
        assert_eq!(start, 1_793_462_400);
        assert_eq!(end, 1_796_054_400);
        let (before, _, _) = month_of(1_793_462_399).unwrap_or_default();
        assert_eq!(before, "verification_records_2026_10");
    }
}
