//! [`EvaluationTx`] on SQLite: what the annual evaluation reads, and the facts administrators enter.

use rusqlite::{params, OptionalExtension};

use super::SqliteTx;
use crate::store::evaluation::{
    ComplaintRow, DeclaredRow, EvalBatch, EvalCert, EvalCheck, EvalCorrection, EvalRefusal,
    EvalRejectedUpload, Evidence, EvidenceFile, TrainingRow,
};
use crate::store::{division_of, EvaluationTx, StoreError};

impl EvaluationTx for SqliteTx<'_> {
    fn eval_certificates(&mut self) -> Result<Vec<EvalCert>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.cert_type, c.number, c.issuer_division, c.status,
                    (SELECT MIN(v.issued_at) FROM certificate_versions v
                     WHERE v.cert_type = c.cert_type AND v.number = c.number)
             FROM certificates c ORDER BY c.cert_type, c.number",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(EvalCert {
                    cert_type: c.0,
                    number: c.1,
                    division: division_of(c.2)?,
                    status: c.3,
                    first_issued_at: c.4.unwrap_or(0),
                })
            })
            .collect()
    }

    fn eval_open_corrections(&mut self) -> Result<Vec<EvalCorrection>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT agency, cert_type, number, first_seen FROM nonconforming
             WHERE resolved_at IS NULL ORDER BY agency, cert_type, number",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(EvalCorrection {
                    agency: division_of(c.0)?,
                    cert_type: c.1,
                    number: c.2,
                    first_seen: c.3,
                })
            })
            .collect()
    }

    fn eval_checks(&mut self, from: i64, to: i64) -> Result<Vec<EvalCheck>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {EVAL_CHECK_COLS} FROM verification_records r
             JOIN devices d ON d.id = r.device_id
             LEFT JOIN verification_batches b ON b.id = r.batch_id
             WHERE r.kind = 0
               AND NOT EXISTS (SELECT 1 FROM forward_outbox o
                               WHERE o.device_id = r.device_id AND o.seq = r.seq)
               AND ((r.at >= ?1 AND r.at < ?2)
                    OR r.batch_id IN (SELECT id FROM verification_batches
                                      WHERE received_at >= ?1 AND received_at < ?2))
             ORDER BY r.at, r.device_id, r.seq"
        ))?;
        let rows = stmt
            .query_map(params![from, to], eval_check_cols)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(eval_check_from).collect()
    }

    fn eval_oldest_check(&mut self, to: i64) -> Result<Option<i64>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT MIN(r.at) FROM verification_records r
             JOIN devices d ON d.id = r.device_id
             WHERE r.kind = 0
               AND (r.at < ?1
                    OR r.batch_id IN (SELECT id FROM verification_batches
                                      WHERE received_at < ?1))",
        )?;
        Ok(stmt.query_row(params![to], |r| r.get(0))?)
    }

    fn eval_batches(&mut self) -> Result<Vec<EvalBatch>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, device_id, received_at FROM verification_batches ORDER BY device_id, id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(EvalBatch {
                    id: r.get(0)?,
                    device_id: r.get(1)?,
                    received_at: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn eval_refusals(&mut self, from: i64, to: i64) -> Result<Vec<EvalRefusal>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT q.device_id, q.seq, q.at, d.division, q.note, q.check_seq,
                    c.status, {EVAL_CHECK_COLS}
             FROM verification_records q
             JOIN devices d ON d.id = q.device_id
             LEFT JOIN verification_records r
                 ON r.device_id = q.device_id AND r.seq = q.check_seq AND r.kind = 0
             LEFT JOIN verification_batches b ON b.id = r.batch_id
             LEFT JOIN certificates c
                 ON c.cert_type = r.srv_cert_type AND c.number = r.srv_cert_number
             WHERE q.kind = 1 AND q.accepted = 0 AND q.at >= ?1 AND q.at < ?2
             ORDER BY q.at, q.device_id, q.seq"
        ))?;
        let rows = stmt
            .query_map(params![from, to], |r| {
                let found = r.get::<_, Option<i64>>(7)?.is_some();
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<i64>>(6)?,
                    if found {
                        Some(eval_check_cols_at(r, 7)?)
                    } else {
                        None
                    },
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(EvalRefusal {
                    device_id: c.0,
                    seq: u64::try_from(c.1)
                        .map_err(|_| StoreError::Corrupt(format!("seq {}", c.1)))?,
                    at: c.2,
                    device_division: division_of(c.3)?,
                    note: c.4,
                    cert_status: c.5,
                    check: c.6.map(eval_check_from).transpose()?,
                })
            })
            .collect()
    }

    fn eval_rejected_uploads(
        &mut self,
        from: i64,
        to: i64,
    ) -> Result<Vec<EvalRejectedUpload>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT a.ts, t.division, a.target, a.outcome, a.action FROM audit a
             LEFT JOIN tokens t ON t.id = a.token_id
             WHERE a.action IN ('POST /api/v1/verification-logs', 'POST /api/v1/devices')
               AND a.outcome NOT LIKE 'ok%'
               AND a.ts >= ?1 AND a.ts < ?2
             ORDER BY a.id",
        )?;
        let rows = stmt
            .query_map(params![from, to], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(EvalRejectedUpload {
                    ts: c.0,
                    division: c.1.map(division_of).transpose()?,
                    target: c.2,
                    outcome: c.3,
                    action: c.4,
                })
            })
            .collect()
    }

    fn insert_training(&mut self, row: &TrainingRow) -> Result<i64, StoreError> {
        self.exec(
            "INSERT INTO eval_training (division, year, coverage, description, entered_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                row.division.code(),
                row.year,
                row.coverage,
                row.description,
                row.entered_at
            ],
        )?;
        let id = self.conn.last_insert_rowid();
        for e in &row.evidence {
            self.exec(
                "INSERT INTO eval_training_evidence (training_id, file_name, sha256, description)
                 VALUES (?1, ?2, ?3, ?4)",
                params![id, e.file_name, e.sha256, e.description],
            )?;
        }
        Ok(id)
    }

    fn training(&mut self, year: i32) -> Result<Vec<TrainingRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, division, year, coverage, description, entered_at FROM eval_training
             WHERE year = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map([year], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i32>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut ev = self.conn.prepare_cached(
            "SELECT e.training_id, e.file_name, e.sha256, e.description
             FROM eval_training_evidence e JOIN eval_training t ON t.id = e.training_id
             WHERE t.year = ?1 ORDER BY e.rowid",
        )?;
        let evidence = ev
            .query_map([year], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    Evidence {
                        file_name: r.get(1)?,
                        sha256: r.get(2)?,
                        description: r.get(3)?,
                    },
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(TrainingRow {
                    id: c.0,
                    division: division_of(c.1)?,
                    year: c.2,
                    coverage: c.3,
                    description: c.4,
                    entered_at: c.5,
                    evidence: evidence
                        .iter()
                        .filter(|(id, _)| *id == c.0)
                        .map(|(_, e)| e.clone())
                        .collect(),
                })
            })
            .collect()
    }

    fn set_declared(&mut self, row: &DeclaredRow, at: i64) -> Result<(), StoreError> {
        let count = i64::try_from(row.count)
            .map_err(|_| StoreError::Corrupt(format!("declared count {}", row.count)))?;
        self.exec(
            "INSERT INTO eval_declared (division, year, cert_type, count, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (division, year, cert_type)
             DO UPDATE SET count = excluded.count, updated_at = excluded.updated_at",
            params![row.division.code(), row.year, row.cert_type, count, at],
        )?;
        Ok(())
    }

    fn declared(&mut self, year: i32) -> Result<Vec<DeclaredRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT division, year, cert_type, count FROM eval_declared
             WHERE year = ?1 ORDER BY division, cert_type",
        )?;
        let rows = stmt
            .query_map([year], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i32>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(DeclaredRow {
                    division: division_of(c.0)?,
                    year: c.1,
                    cert_type: c.2,
                    count: u64::try_from(c.3)
                        .map_err(|_| StoreError::Corrupt(format!("declared count {}", c.3)))?,
                })
            })
            .collect()
    }

    fn insert_complaint(&mut self, row: &ComplaintRow) -> Result<i64, StoreError> {
        self.exec(
            "INSERT INTO eval_complaints (division, year, description, upheld, entered_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                row.division.code(),
                row.year,
                row.description,
                row.upheld,
                row.entered_at
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn complaints(&mut self, year: i32) -> Result<Vec<ComplaintRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, division, year, description, upheld, entered_at FROM eval_complaints
             WHERE year = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map([year], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i32>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, bool>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(ComplaintRow {
                    id: c.0,
                    division: division_of(c.1)?,
                    year: c.2,
                    description: c.3,
                    upheld: c.4,
                    entered_at: c.5,
                })
            })
            .collect()
    }

    fn put_evidence_file(&mut self, file: &EvidenceFile) -> Result<bool, StoreError> {
        let n = self.exec(
            "INSERT INTO eval_evidence_files (sha256, content_type, size, data, uploaded_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (sha256) DO NOTHING",
            params![
                file.sha256,
                file.content_type,
                i64::try_from(file.data.len()).unwrap_or(i64::MAX),
                file.data,
                file.uploaded_at
            ],
        )?;
        Ok(n == 1)
    }

    fn evidence_file(&mut self, sha256: &str) -> Result<Option<EvidenceFile>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT sha256, content_type, data, uploaded_at FROM eval_evidence_files
                 WHERE sha256 = ?1",
            )?
            .query_row([sha256], |r| {
                Ok(EvidenceFile {
                    sha256: r.get(0)?,
                    content_type: r.get(1)?,
                    data: r.get(2)?,
                    uploaded_at: r.get(3)?,
                })
            })
            .optional()?)
    }
}

/// The columns of a check record as the evaluation reads it (`r`: the
/// record, `d`: its device).
const EVAL_CHECK_COLS: &str = "r.device_id, r.seq, r.at, d.division, r.srv_signature,
    ltrim(coalesce(r.scanned, ''), ' ' || char(9) || char(10) || char(13)) LIKE 'LP1:%',
    r.srv_presentation, r.srv_cert_type, r.srv_cert_number, r.srv_division, r.srv_reason,
    d.token_id, d.enrolled_at, d.revoked_at, r.batch_id, b.received_at, r.status_seq,
    (SELECT s.issued_at FROM status_steps s WHERE s.seq = r.status_seq)";

/// The columns that bound a record's time (after [`EvalCheckCols`]).
type EvalBoundCols = (
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

type EvalCheckCols = (
    EvalBoundCols,
    i64,
    i64,
    i64,
    i64,
    Option<bool>,
    bool,
    Option<bool>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
);

fn eval_check_cols(r: &rusqlite::Row<'_>) -> rusqlite::Result<EvalCheckCols> {
    eval_check_cols_at(r, 0)
}

fn eval_check_cols_at(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<EvalCheckCols> {
    Ok((
        (
            r.get(i + 11)?,
            r.get(i + 12)?,
            r.get(i + 13)?,
            r.get(i + 14)?,
            r.get(i + 15)?,
            r.get(i + 16)?,
            r.get(i + 17)?,
        ),
        r.get(i)?,
        r.get(i + 1)?,
        r.get(i + 2)?,
        r.get(i + 3)?,
        r.get(i + 4)?,
        r.get(i + 5)?,
        r.get(i + 6)?,
        r.get(i + 7)?,
        r.get(i + 8)?,
        r.get(i + 9)?,
        r.get(i + 10)?,
    ))
}

fn eval_check_from(c: EvalCheckCols) -> Result<EvalCheck, StoreError> {
    let b = c.0;
    Ok(EvalCheck {
        device_id: c.1,
        seq: u64::try_from(c.2).map_err(|_| StoreError::Corrupt(format!("seq {}", c.2)))?,
        at: c.3,
        device_division: division_of(c.4)?,
        signature: c.5 == Some(true),
        presented: c.6,
        presentation: c.7 == Some(true),
        cert: c.8.zip(c.9),
        cert_division: c.10.map(division_of).transpose()?,
        reason: c.11,
        token_id: b.0,
        enrolled_at: b.1,
        revoked_at: b.2,
        batch_id: b.3.unwrap_or(0),
        received_at: b.4.unwrap_or(0),
        status_seq: b.5.and_then(|s| u64::try_from(s).ok()),
        status_signed_at: b.6,
    })
}
