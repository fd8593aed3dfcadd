//! [`EvaluationTx`] on PostgreSQL: what the annual evaluation reads, and
//! the facts administrators enter.

use ::postgres::Row;

use super::{col, PgTx};
use crate::store::evaluation::{
    ComplaintRow, DeclaredRow, EvalBatch, EvalCert, EvalCheck, EvalCorrection, EvalRefusal,
    EvalRejectedUpload, Evidence, EvidenceFile, TrainingRow,
};
use crate::store::{division_of, u64_of, EvaluationTx, StoreError};

/// The columns of a check record as the evaluation reads it (`r`: the
/// record, `d`: its device), in [`check_from`] order.
const EVAL_CHECK_COLS: &str = "r.device_id, r.seq, r.at, d.division, r.srv_signature,
    ltrim(coalesce(r.scanned, ''), ' ' || chr(9) || chr(10) || chr(13)) LIKE 'LP1:%',
    r.srv_presentation, r.srv_cert_type, r.srv_cert_number, r.srv_division, r.srv_reason,
    d.token_id, d.enrolled_at, d.revoked_at, r.batch_id, b.received_at, r.status_seq,
    (SELECT s.issued_at FROM status_steps s WHERE s.seq = r.status_seq)";

fn check_from(r: &Row, i: usize) -> Result<EvalCheck, StoreError> {
    let cert_type: Option<String> = col(r, i + 7)?;
    let cert_number: Option<String> = col(r, i + 8)?;
    Ok(EvalCheck {
        device_id: col(r, i)?,
        seq: u64_of(col(r, i + 1)?, "seq")?,
        at: col(r, i + 2)?,
        device_division: division_of(col(r, i + 3)?)?,
        signature: col::<Option<bool>>(r, i + 4)? == Some(true),
        presented: col(r, i + 5)?,
        presentation: col::<Option<bool>>(r, i + 6)? == Some(true),
        cert: cert_type.zip(cert_number),
        cert_division: col::<Option<i64>>(r, i + 9)?.map(division_of).transpose()?,
        reason: col(r, i + 10)?,
        token_id: col(r, i + 11)?,
        enrolled_at: col(r, i + 12)?,
        revoked_at: col(r, i + 13)?,
        batch_id: col::<Option<i64>>(r, i + 14)?.unwrap_or(0),
        received_at: col::<Option<i64>>(r, i + 15)?.unwrap_or(0),
        status_seq: col::<Option<i64>>(r, i + 16)?.and_then(|s| u64::try_from(s).ok()),
        status_signed_at: col(r, i + 17)?,
    })
}

impl EvaluationTx for PgTx<'_> {
    fn eval_certificates(&mut self) -> Result<Vec<EvalCert>, StoreError> {
        self.rows(
            "SELECT c.cert_type, c.number, c.issuer_division, c.status,
                    (SELECT MIN(v.issued_at) FROM certificate_versions v
                     WHERE v.cert_type = c.cert_type AND v.number = c.number)
             FROM certificates c ORDER BY c.cert_type, c.number",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(EvalCert {
                cert_type: col(r, 0)?,
                number: col(r, 1)?,
                division: division_of(col(r, 2)?)?,
                status: col(r, 3)?,
                first_issued_at: col::<Option<i64>>(r, 4)?.unwrap_or(0),
            })
        })
        .collect()
    }

    fn eval_open_corrections(&mut self) -> Result<Vec<EvalCorrection>, StoreError> {
        self.rows(
            "SELECT agency, cert_type, number, first_seen FROM nonconforming
             WHERE resolved_at IS NULL ORDER BY agency, cert_type, number",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(EvalCorrection {
                agency: division_of(col(r, 0)?)?,
                cert_type: col(r, 1)?,
                number: col(r, 2)?,
                first_seen: col(r, 3)?,
            })
        })
        .collect()
    }

    fn eval_checks(&mut self, from: i64, to: i64) -> Result<Vec<EvalCheck>, StoreError> {
        self.rows(
            &format!(
                "SELECT {EVAL_CHECK_COLS} FROM verification_records r
                 JOIN devices d ON d.id = r.device_id
                 LEFT JOIN verification_batches b ON b.id = r.batch_id
                 WHERE r.kind = 0
                   AND NOT EXISTS (SELECT 1 FROM forward_outbox o
                                   WHERE o.device_id = r.device_id AND o.seq = r.seq)
                   AND ((r.at >= $1 AND r.at < $2)
                        OR r.batch_id IN (SELECT id FROM verification_batches
                                          WHERE received_at >= $1 AND received_at < $2))
                 ORDER BY r.at, r.device_id, r.seq"
            ),
            &[&from, &to],
        )?
        .iter()
        .map(|r| check_from(r, 0))
        .collect()
    }

    fn eval_oldest_check(&mut self, to: i64) -> Result<Option<i64>, StoreError> {
        Ok(self
            .one_row(
                "SELECT MIN(r.at) FROM verification_records r
                 JOIN devices d ON d.id = r.device_id
                 WHERE r.kind = 0
                   AND (r.at < $1
                        OR r.batch_id IN (SELECT id FROM verification_batches
                                          WHERE received_at < $1))",
                &[&to],
            )?
            .try_get(0)?)
    }

    fn eval_batches(&mut self) -> Result<Vec<EvalBatch>, StoreError> {
        self.rows(
            "SELECT id, device_id, received_at FROM verification_batches ORDER BY device_id, id",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(EvalBatch {
                id: col(r, 0)?,
                device_id: col(r, 1)?,
                received_at: col(r, 2)?,
            })
        })
        .collect()
    }

    fn eval_refusals(&mut self, from: i64, to: i64) -> Result<Vec<EvalRefusal>, StoreError> {
        self.rows(
            &format!(
                "SELECT q.device_id, q.seq, q.at, d.division, q.note, q.check_seq,
                        c.status, {EVAL_CHECK_COLS}
                 FROM verification_records q
                 JOIN devices d ON d.id = q.device_id
                 LEFT JOIN verification_records r
                     ON r.device_id = q.device_id AND r.seq = q.check_seq AND r.kind = 0
                 LEFT JOIN verification_batches b ON b.id = r.batch_id
                 LEFT JOIN certificates c
                     ON c.cert_type = r.srv_cert_type AND c.number = r.srv_cert_number
                 WHERE q.kind = 1 AND NOT q.accepted AND q.at >= $1 AND q.at < $2
                 ORDER BY q.at, q.device_id, q.seq"
            ),
            &[&from, &to],
        )?
        .iter()
        .map(|r| {
            let found = col::<Option<i64>>(r, 7)?.is_some();
            Ok(EvalRefusal {
                device_id: col(r, 0)?,
                seq: u64_of(col(r, 1)?, "seq")?,
                at: col(r, 2)?,
                device_division: division_of(col(r, 3)?)?,
                note: col(r, 4)?,
                cert_status: col(r, 6)?,
                check: if found { Some(check_from(r, 7)?) } else { None },
            })
        })
        .collect()
    }

    fn eval_rejected_uploads(
        &mut self,
        from: i64,
        to: i64,
    ) -> Result<Vec<EvalRejectedUpload>, StoreError> {
        self.rows(
            "SELECT a.ts, t.division, a.target, a.outcome, a.action FROM audit a
             LEFT JOIN tokens t ON t.id = a.token_id
             WHERE a.action IN ('POST /api/v1/verification-logs', 'POST /api/v1/devices')
               AND a.outcome NOT LIKE 'ok%'
               AND a.ts >= $1 AND a.ts < $2
             ORDER BY a.id",
            &[&from, &to],
        )?
        .iter()
        .map(|r| {
            Ok(EvalRejectedUpload {
                ts: col(r, 0)?,
                division: col::<Option<i64>>(r, 1)?.map(division_of).transpose()?,
                target: col(r, 2)?,
                outcome: col(r, 3)?,
                action: col(r, 4)?,
            })
        })
        .collect()
    }

    fn insert_training(&mut self, row: &TrainingRow) -> Result<i64, StoreError> {
        let r = self.one_row(
            "INSERT INTO eval_training (division, year, coverage, description, entered_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                &i64::from(row.division.code()),
                &row.year,
                &row.coverage,
                &row.description,
                &row.entered_at,
            ],
        )?;
        let id: i64 = col(&r, 0)?;
        for e in &row.evidence {
            self.exec(
                "INSERT INTO eval_training_evidence (training_id, file_name, sha256, description)
                 VALUES ($1, $2, $3, $4)",
                &[&id, &e.file_name, &e.sha256, &e.description],
            )?;
        }
        Ok(id)
    }

    fn training(&mut self, year: i32) -> Result<Vec<TrainingRow>, StoreError> {
        let evidence = self
            .rows(
                "SELECT e.training_id, e.file_name, e.sha256, e.description
                 FROM eval_training_evidence e JOIN eval_training t ON t.id = e.training_id
                 WHERE t.year = $1 ORDER BY e.id",
                &[&year],
            )?
            .iter()
            .map(|r| {
                Ok((
                    col::<i64>(r, 0)?,
                    Evidence {
                        file_name: col(r, 1)?,
                        sha256: col(r, 2)?,
                        description: col(r, 3)?,
                    },
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.rows(
            "SELECT id, division, year, coverage, description, entered_at FROM eval_training
             WHERE year = $1 ORDER BY id",
            &[&year],
        )?
        .iter()
        .map(|r| {
            let id: i64 = col(r, 0)?;
            Ok(TrainingRow {
                id,
                division: division_of(col(r, 1)?)?,
                year: col(r, 2)?,
                coverage: col(r, 3)?,
                description: col(r, 4)?,
                entered_at: col(r, 5)?,
                evidence: evidence
                    .iter()
                    .filter(|(t, _)| *t == id)
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
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (division, year, cert_type)
             DO UPDATE SET count = excluded.count, updated_at = excluded.updated_at",
            &[
                &i64::from(row.division.code()),
                &row.year,
                &row.cert_type,
                &count,
                &at,
            ],
        )?;
        Ok(())
    }

    fn declared(&mut self, year: i32) -> Result<Vec<DeclaredRow>, StoreError> {
        self.rows(
            "SELECT division, year, cert_type, count FROM eval_declared
             WHERE year = $1 ORDER BY division, cert_type",
            &[&year],
        )?
        .iter()
        .map(|r| {
            let count: i64 = col(r, 3)?;
            Ok(DeclaredRow {
                division: division_of(col(r, 0)?)?,
                year: col(r, 1)?,
                cert_type: col(r, 2)?,
                count: u64::try_from(count)
                    .map_err(|_| StoreError::Corrupt(format!("declared count {count}")))?,
            })
        })
        .collect()
    }

    fn insert_complaint(&mut self, row: &ComplaintRow) -> Result<i64, StoreError> {
        let r = self.one_row(
            "INSERT INTO eval_complaints (division, year, description, upheld, entered_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                &i64::from(row.division.code()),
                &row.year,
                &row.description,
                &row.upheld,
                &row.entered_at,
            ],
        )?;
        col(&r, 0)
    }

    fn complaints(&mut self, year: i32) -> Result<Vec<ComplaintRow>, StoreError> {
        self.rows(
            "SELECT id, division, year, description, upheld, entered_at FROM eval_complaints
             WHERE year = $1 ORDER BY id",
            &[&year],
        )?
        .iter()
        .map(|r| {
            Ok(ComplaintRow {
                id: col(r, 0)?,
                division: division_of(col(r, 1)?)?,
                year: col(r, 2)?,
                description: col(r, 3)?,
                upheld: col(r, 4)?,
                entered_at: col(r, 5)?,
            })
        })
        .collect()
    }

    fn put_evidence_file(&mut self, file: &EvidenceFile) -> Result<bool, StoreError> {
        let n = self.exec(
            "INSERT INTO eval_evidence_files (sha256, content_type, size, data, uploaded_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
            &[
                &file.sha256,
                &file.content_type,
                &i64::try_from(file.data.len()).unwrap_or(i64::MAX),
                &file.data,
                &file.uploaded_at,
            ],
        )?;
        Ok(n == 1)
    }

    fn evidence_file(&mut self, sha256: &str) -> Result<Option<EvidenceFile>, StoreError> {
        self.opt_row(
            "SELECT sha256, content_type, data, uploaded_at FROM eval_evidence_files
             WHERE sha256 = $1",
            &[&sha256],
        )?
        .map(|r| {
            Ok(EvidenceFile {
                sha256: col(&r, 0)?,
                content_type: col(&r, 1)?,
                data: col(&r, 2)?,
                uploaded_at: col(&r, 3)?,
            })
        })
        .transpose()
    }
}
