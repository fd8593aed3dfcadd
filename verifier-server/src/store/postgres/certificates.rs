//! [`CertificatesTx`] on PostgreSQL: certificates (read `FOR UPDATE`: a
//! status change and a push through two instances take turns), versions,
//! the correction list, agencies' pushes.

use ::postgres::types::Type;
use ::postgres::Row;
use shared::checklog::LookupBy;
use shared::domain::{CertType, DivisionCode};
use shared::status::Status;

use super::{col, PgTx};
use crate::store::{
    cert_type_of, division_of, i64_of, status_of, u32_of, u64_of, version_of, AgencyPush,
    CertificateRow, CertificatesTx, NonconformingRow, OutageRow, StatusChangeRow, StoreError,
    UploadReportRow, UploadsTx, VersionRow,
};

/// The columns of a version, in [`version_from`] order (`v`: the version).
pub(super) const VERSION_COLS: &str = "v.cert_type, v.number, v.version, v.status_index, \
    v.status, v.record_json, v.data_json, v.signed, v.identifier, v.issued_at, v.issuer_division, \
    v.holder_id, v.plate";

/// The column types of a version as [`CertificatesTx::insert_versions`]
/// copies it.
const VERSION_TYPES: [Type; 13] = [
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::BYTEA,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
];

pub(super) fn version_from(r: &Row) -> Result<VersionRow, StoreError> {
    Ok(VersionRow {
        cert_type: cert_type_of(&col::<String>(r, 0)?)?,
        number: col(r, 1)?,
        version: version_of(col(r, 2)?)?,
        status_index: u32_of(col(r, 3)?, "status index")?,
        status: status_of(col(r, 4)?)?,
        record_json: col(r, 5)?,
        data_json: col(r, 6)?,
        signed: col(r, 7)?,
        identifier: col(r, 8)?,
        issued_at: col(r, 9)?,
        issuer_division: division_of(col(r, 10)?)?,
        holder_id: col(r, 11)?,
        plate: col(r, 12)?,
    })
}

fn nonconforming_from(r: &Row) -> Result<NonconformingRow, StoreError> {
    Ok(NonconformingRow {
        agency: division_of(col(r, 0)?)?,
        cert_type: col(r, 1)?,
        number: col(r, 2)?,
        reasons_json: col(r, 3)?,
        record_json: col(r, 4)?,
        first_seen: col(r, 5)?,
        last_seen: col(r, 6)?,
        resolved_at: col(r, 7)?,
    })
}

fn bits(s: Status) -> i64 {
    i64::from(s.bits())
}

impl CertificatesTx for PgTx<'_> {
    fn certificate(
        &mut self,
        cert_type: CertType,
        number: &str,
    ) -> Result<Option<CertificateRow>, StoreError> {
        self.opt_row(
            "SELECT cert_type, number, version, status, status_index, issuer_division, issued_at
             FROM certificates WHERE cert_type = $1 AND number = $2 FOR UPDATE",
            &[&cert_type.code(), &number],
        )?
        .map(|r| {
            Ok(CertificateRow {
                cert_type: cert_type_of(&col::<String>(&r, 0)?)?,
                number: col(&r, 1)?,
                version: version_of(col(&r, 2)?)?,
                status: status_of(col(&r, 3)?)?,
                status_index: u32_of(col(&r, 4)?, "status index")?,
                issuer_division: division_of(col(&r, 5)?)?,
                issued_at: col(&r, 6)?,
            })
        })
        .transpose()
    }

    fn put_certificate(&mut self, c: &CertificateRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO certificates (cert_type, number, version, status, status_index,
                                       issuer_division, issued_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (cert_type, number) DO UPDATE SET
                 version = excluded.version, status = excluded.status,
                 status_index = excluded.status_index,
                 issuer_division = excluded.issuer_division, issued_at = excluded.issued_at",
            &[
                &c.cert_type.code(),
                &c.number,
                &i64::from(c.version),
                &bits(c.status),
                &i64::from(c.status_index),
                &i64::from(c.issuer_division.code()),
                &c.issued_at,
            ],
        )?;
        Ok(())
    }

    fn version(
        &mut self,
        cert_type: CertType,
        number: &str,
        version: u16,
    ) -> Result<Option<VersionRow>, StoreError> {
        self.opt_row(
            &format!(
                "SELECT {VERSION_COLS} FROM certificate_versions v
                 WHERE v.cert_type = $1 AND v.number = $2 AND v.version = $3"
            ),
            &[&cert_type.code(), &number, &i64::from(version)],
        )?
        .map(|r| version_from(&r))
        .transpose()
    }

    /// [`CertificatesTx::insert_versions`] of one (the same `COPY`).
    fn insert_version(&mut self, v: &VersionRow) -> Result<(), StoreError> {
        self.insert_versions(std::slice::from_ref(v))
    }

    fn set_version_status(&mut self, status_index: u32, status: Status) -> Result<(), StoreError> {
        let index = i64::from(status_index);
        let n = self.exec(
            "UPDATE certificate_versions SET status = $2 WHERE status_index = $1",
            &[&index, &bits(status)],
        )?;
        self.exec(
            "UPDATE certificates SET status = $2 WHERE status_index = $1",
            &[&index, &bits(status)],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!(
                "status index {status_index} names {n} versions"
            )));
        }
        Ok(())
    }

    fn live_versions(&mut self) -> Result<Vec<VersionRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {VERSION_COLS} FROM certificate_versions v
                 JOIN certificates c ON c.cert_type = v.cert_type AND c.number = v.number
                                    AND c.version = v.version
                 WHERE v.status IN (0, 2)
                 ORDER BY v.status_index"
            ),
            &[],
        )?
        .iter()
        .map(version_from)
        .collect()
    }

    fn lookup_versions(
        &mut self,
        by: LookupBy,
        value: &str,
        limit: u32,
    ) -> Result<Vec<VersionRow>, StoreError> {
        let condition = match by {
            LookupBy::Plate => "v.plate = $1",
            LookupBy::IdNumber => "v.holder_id = $1",
            LookupBy::Number => "v.number = $1",
        };
        self.rows(
            &format!(
                "SELECT {VERSION_COLS} FROM certificate_versions v
                 JOIN certificates c ON c.cert_type = v.cert_type AND c.number = v.number
                                    AND c.version = v.version
                 WHERE {condition}
                 ORDER BY v.cert_type, v.number
                 LIMIT $2"
            ),
            &[&value, &i64::from(limit)],
        )?
        .iter()
        .map(version_from)
        .collect()
    }

    fn set_version_signed(
        &mut self,
        cert_type: CertType,
        number: &str,
        version: u16,
        signed: &[u8],
        issued_at: i64,
    ) -> Result<(), StoreError> {
        let v = i64::from(version);
        let n = self.exec(
            "UPDATE certificate_versions SET signed = $4, issued_at = $5
             WHERE cert_type = $1 AND number = $2 AND version = $3",
            &[&cert_type.code(), &number, &v, &signed, &issued_at],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!(
                "no version {version} of {cert_type} {number}"
            )));
        }
        self.exec(
            "UPDATE certificates SET issued_at = $4
             WHERE cert_type = $1 AND number = $2 AND version = $3",
            &[&cert_type.code(), &number, &v, &issued_at],
        )?;
        Ok(())
    }

    fn set_signature(&mut self, status_index: u32, signed: &[u8]) -> Result<(), StoreError> {
        let n = self.exec(
            "UPDATE certificate_versions SET signed = $2 WHERE status_index = $1",
            &[&i64::from(status_index), &signed],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!(
                "no version at status index {status_index}"
            )));
        }
        Ok(())
    }

    /// One statement for the whole push instead of one per version: the
    /// signatures travel as two arrays.
    fn set_signatures(&mut self, signed: &[(u32, Vec<u8>)]) -> Result<(), StoreError> {
        if signed.is_empty() {
            return Ok(());
        }
        let indices: Vec<i64> = signed.iter().map(|(i, _)| i64::from(*i)).collect();
        let bytes: Vec<&[u8]> = signed.iter().map(|(_, b)| b.as_slice()).collect();
        let n = self.exec(
            "UPDATE certificate_versions v SET signed = s.signed
             FROM unnest($1::BIGINT[], $2::BYTEA[]) AS s(status_index, signed)
             WHERE v.status_index = s.status_index",
            &[&indices, &bytes],
        )?;
        if n != signed.len() as u64 {
            return Err(StoreError::Corrupt(format!(
                "{} signatures for {n} versions",
                signed.len()
            )));
        }
        Ok(())
    }

    /// One statement: the keys travel as two arrays; the certificates
    /// found are locked (`FOR UPDATE OF c`) like [`Self::certificate`].
    fn current_of(
        &mut self,
        keys: &[(CertType, &str)],
    ) -> Result<Vec<(CertificateRow, VersionRow)>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let types: Vec<&str> = keys.iter().map(|(t, _)| t.code()).collect();
        let numbers: Vec<&str> = keys.iter().map(|(_, n)| *n).collect();
        self.rows(
            &format!(
                "SELECT {VERSION_COLS}, c.version, c.status, c.status_index, c.issuer_division,
                        c.issued_at
                 FROM unnest($1::TEXT[], $2::TEXT[]) AS k(cert_type, number)
                 CROSS JOIN LATERAL (
                     SELECT * FROM certificates c
                     WHERE c.cert_type = k.cert_type AND c.number = k.number
                     LIMIT 1 FOR UPDATE
                 ) c
                 JOIN certificate_versions v ON v.cert_type = c.cert_type
                                            AND v.number = c.number AND v.version = c.version"
            ),
            &[&types, &numbers],
        )?
        .iter()
        .map(|r| {
            let v = version_from(r)?;
            let c = CertificateRow {
                cert_type: v.cert_type,
                number: v.number.clone(),
                version: version_of(col(r, 13)?)?,
                status: status_of(col(r, 14)?)?,
                status_index: u32_of(col(r, 15)?, "status index")?,
                issuer_division: division_of(col(r, 16)?)?,
                issued_at: col(r, 17)?,
            };
            Ok((c, v))
        })
        .collect()
    }

    /// One `INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE`.
    fn put_certificates(&mut self, rows: &[CertificateRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let types: Vec<&str> = rows.iter().map(|c| c.cert_type.code()).collect();
        let numbers: Vec<&str> = rows.iter().map(|c| c.number.as_str()).collect();
        let versions: Vec<i64> = rows.iter().map(|c| i64::from(c.version)).collect();
        let statuses: Vec<i64> = rows.iter().map(|c| bits(c.status)).collect();
        let indices: Vec<i64> = rows.iter().map(|c| i64::from(c.status_index)).collect();
        let divisions: Vec<i64> = rows
            .iter()
            .map(|c| i64::from(c.issuer_division.code()))
            .collect();
        let issued: Vec<i64> = rows.iter().map(|c| c.issued_at).collect();
        self.exec(
            "INSERT INTO certificates (cert_type, number, version, status, status_index,
                                       issuer_division, issued_at)
             SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[],
                                  $5::BIGINT[], $6::BIGINT[], $7::BIGINT[])
             ON CONFLICT (cert_type, number) DO UPDATE SET
                 version = excluded.version, status = excluded.status,
                 status_index = excluded.status_index,
                 issuer_division = excluded.issuer_division, issued_at = excluded.issued_at",
            &[
                &types, &numbers, &versions, &statuses, &indices, &divisions, &issued,
            ],
        )?;
        Ok(())
    }

    /// One binary `COPY` into the table (a row already stored fails it).
    fn insert_certificates(&mut self, rows: &[CertificateRow]) -> Result<(), StoreError> {
        self.copy_rows(
            "COPY certificates (cert_type, number, version, status, status_index,
                                issuer_division, issued_at)
             FROM STDIN (FORMAT binary)",
            &[
                Type::TEXT,
                Type::TEXT,
                Type::INT8,
                Type::INT8,
                Type::INT8,
                Type::INT8,
                Type::INT8,
            ],
            rows,
            |writer, c| {
                Ok(writer.write(&[
                    &c.cert_type.code(),
                    &c.number,
                    &i64::from(c.version),
                    &bits(c.status),
                    &i64::from(c.status_index),
                    &i64::from(c.issuer_division.code()),
                    &c.issued_at,
                ])?)
            },
        )
    }

    /// One binary `COPY` into the table. A version already stored under
    /// the same key or status index fails the whole copy.
    fn insert_versions(&mut self, rows: &[VersionRow]) -> Result<(), StoreError> {
        self.copy_rows(
            "COPY certificate_versions (cert_type, number, version, status_index, status,
                 record_json, data_json, signed, identifier, issued_at, issuer_division,
                 holder_id, plate)
             FROM STDIN (FORMAT binary)",
            &VERSION_TYPES,
            rows,
            |writer, v| {
                Ok(writer.write(&[
                    &v.cert_type.code(),
                    &v.number,
                    &i64::from(v.version),
                    &i64::from(v.status_index),
                    &bits(v.status),
                    &v.record_json,
                    &v.data_json,
                    &v.signed,
                    &v.identifier,
                    &v.issued_at,
                    &i64::from(v.issuer_division.code()),
                    &v.holder_id,
                    &v.plate,
                ])?)
            },
        )
    }

    /// Two statements for all the changes (versions, then the certificates
    /// still pointing at those indices).
    fn set_version_statuses(&mut self, changes: &[(u32, Status)]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let indices: Vec<i64> = changes.iter().map(|(i, _)| i64::from(*i)).collect();
        let statuses: Vec<i64> = changes.iter().map(|(_, s)| bits(*s)).collect();
        let n = self.exec(
            "UPDATE certificate_versions v SET status = s.status
             FROM unnest($1::BIGINT[], $2::BIGINT[]) AS s(status_index, status)
             WHERE v.status_index = s.status_index",
            &[&indices, &statuses],
        )?;
        self.exec(
            "UPDATE certificates c SET status = s.status
             FROM unnest($1::BIGINT[], $2::BIGINT[]) AS s(status_index, status)
             WHERE c.status_index = s.status_index",
            &[&indices, &statuses],
        )?;
        let mut distinct = indices.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if n != distinct.len() as u64 {
            return Err(StoreError::Corrupt(format!(
                "{} status indices name {n} versions",
                distinct.len()
            )));
        }
        Ok(())
    }

    fn resolve_nonconforming_many(
        &mut self,
        keys: &[(&str, &str)],
        at: i64,
    ) -> Result<usize, StoreError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let types: Vec<&str> = keys.iter().map(|(t, _)| *t).collect();
        let numbers: Vec<&str> = keys.iter().map(|(_, n)| *n).collect();
        let n = self.exec(
            "UPDATE nonconforming n SET resolved_at = $3
             FROM unnest($1::TEXT[], $2::TEXT[]) AS k(cert_type, number)
             WHERE n.cert_type = k.cert_type AND n.number = k.number AND n.resolved_at IS NULL",
            &[&types, &numbers, &at],
        )?;
        usize::try_from(n).map_err(|_| StoreError::Corrupt(format!("{n} rows resolved")))
    }

    fn upsert_nonconforming(&mut self, row: &NonconformingRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO nonconforming (agency, cert_type, number, reasons_json, record_json,
                                        first_seen, last_seen, resolved_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)
             ON CONFLICT (agency, cert_type, number) DO UPDATE SET
                 reasons_json = excluded.reasons_json, record_json = excluded.record_json,
                 last_seen = excluded.last_seen, resolved_at = NULL,
                 first_seen = CASE WHEN nonconforming.resolved_at IS NULL
                                   THEN nonconforming.first_seen ELSE excluded.first_seen END",
            &[
                &i64::from(row.agency.code()),
                &row.cert_type,
                &row.number,
                &row.reasons_json,
                &row.record_json,
                &row.first_seen,
                &row.last_seen,
            ],
        )?;
        Ok(())
    }

    fn resolve_nonconforming(
        &mut self,
        cert_type: &str,
        numbers: &[&str],
        at: i64,
    ) -> Result<usize, StoreError> {
        if numbers.is_empty() {
            return Ok(0);
        }
        let n = self.exec(
            "UPDATE nonconforming SET resolved_at = $3
             WHERE cert_type = $1 AND number = ANY($2) AND resolved_at IS NULL",
            &[&cert_type, &numbers, &at],
        )?;
        usize::try_from(n).map_err(|_| StoreError::Corrupt(format!("{n} rows resolved")))
    }

    fn nonconforming(
        &mut self,
        agency: Option<DivisionCode>,
        open_only: bool,
    ) -> Result<Vec<NonconformingRow>, StoreError> {
        self.rows(
            "SELECT agency, cert_type, number, reasons_json, record_json, first_seen, last_seen,
                    resolved_at
             FROM nonconforming
             WHERE ($1::BIGINT IS NULL OR agency = $1) AND (NOT $2 OR resolved_at IS NULL)
             ORDER BY agency, first_seen, cert_type, number",
            &[&agency.map(|a| i64::from(a.code())), &open_only],
        )?
        .iter()
        .map(nonconforming_from)
        .collect()
    }

    fn insert_status_change(&mut self, c: &StatusChangeRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO status_changes (cert_type, number, version, from_status, to_status, at,
                 actor, reason, effective_date, document_number)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &c.cert_type.code(),
                &c.number,
                &i64::from(c.version),
                &i64::from(c.from.bits()),
                &i64::from(c.to.bits()),
                &c.at,
                &c.actor,
                &c.reason,
                &c.effective_date,
                &c.document_number,
            ],
        )?;
        Ok(())
    }

    fn status_changes(
        &mut self,
        cert_type: CertType,
        number: &str,
    ) -> Result<Vec<StatusChangeRow>, StoreError> {
        self.rows(
            "SELECT version, from_status, to_status, at, actor, reason, effective_date,
                 document_number
             FROM status_changes WHERE cert_type = $1 AND number = $2 ORDER BY id",
            &[&cert_type.code(), &number],
        )?
        .iter()
        .map(|r| {
            Ok(StatusChangeRow {
                cert_type,
                number: number.to_string(),
                version: version_of(col(r, 0)?)?,
                from: status_of(col(r, 1)?)?,
                to: status_of(col(r, 2)?)?,
                at: col(r, 3)?,
                actor: col(r, 4)?,
                reason: col(r, 5)?,
                effective_date: col(r, 6)?,
                document_number: col(r, 7)?,
            })
        })
        .collect()
    }

    fn record_push(&mut self, p: &AgencyPush) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO agency_pushes (division, last_push_at, records) VALUES ($1, $2, $3)
             ON CONFLICT (division) DO UPDATE SET
                 last_push_at = excluded.last_push_at, records = excluded.records",
            &[
                &i64::from(p.division.code()),
                &p.at,
                &i64_of(p.records, "record count")?,
            ],
        )?;
        Ok(())
    }

    fn insert_outage(&mut self, o: &OutageRow) -> Result<i64, StoreError> {
        let r = self.one_row(
            "INSERT INTO agency_outages
                 (division, fault_from, fault_until, reason, repush_deadline, reported_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &i64::from(o.division.code()),
                &o.from,
                &o.until,
                &o.reason,
                &o.repush_deadline,
                &o.reported_at,
            ],
        )?;
        col(&r, 0)
    }

    fn outages(&mut self, division: Option<DivisionCode>) -> Result<Vec<OutageRow>, StoreError> {
        let d: Option<i64> = division.map(|d| i64::from(d.code()));
        self.rows(
            "SELECT id, division, fault_from, fault_until, reason, repush_deadline, reported_at
             FROM agency_outages WHERE $1::BIGINT IS NULL OR division = $1
             ORDER BY division, fault_from, id",
            &[&d],
        )?
        .iter()
        .map(|r| {
            Ok(OutageRow {
                id: col(r, 0)?,
                division: division_of(col(r, 1)?)?,
                from: col(r, 2)?,
                until: col(r, 3)?,
                reason: col(r, 4)?,
                repush_deadline: col(r, 5)?,
                reported_at: col(r, 6)?,
            })
        })
        .collect()
    }

    fn agency_pushes(&mut self) -> Result<Vec<AgencyPush>, StoreError> {
        self.rows(
            "SELECT division, last_push_at, records FROM agency_pushes ORDER BY division",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(AgencyPush {
                division: division_of(col(r, 0)?)?,
                at: col(r, 1)?,
                records: u64_of(col(r, 2)?, "record count")?,
            })
        })
        .collect()
    }
}

impl UploadsTx for PgTx<'_> {
    fn insert_upload_report(&mut self, r: &UploadReportRow) -> Result<i64, StoreError> {
        let row = self.one_row(
            "INSERT INTO upload_reports (agency, received_at, file_name, summary_json, csv)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                &r.agency.map(|d| i64::from(d.code())),
                &r.received_at,
                &r.file_name,
                &r.summary_json,
                &r.csv,
            ],
        )?;
        col(&row, 0)
    }

    fn upload_report(&mut self, id: i64) -> Result<Option<UploadReportRow>, StoreError> {
        let Some(r) = self.opt_row(
            "SELECT agency, received_at, file_name, summary_json, csv
             FROM upload_reports WHERE id = $1",
            &[&id],
        )?
        else {
            return Ok(None);
        };
        Ok(Some(UploadReportRow {
            id,
            agency: col::<Option<i64>>(&r, 0)?.map(division_of).transpose()?,
            received_at: col(&r, 1)?,
            file_name: col(&r, 2)?,
            summary_json: col(&r, 3)?,
            csv: col(&r, 4)?,
        }))
    }
}
