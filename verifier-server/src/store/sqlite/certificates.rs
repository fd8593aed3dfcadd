//! [`CertificatesTx`] on SQLite: certificates, versions, the correction list, agencies' pushes.

use rusqlite::{params, OptionalExtension};

use super::{SqliteTx, VERSION_COLS};
use shared::checklog::LookupBy;
use shared::domain::{CertType, DivisionCode};
use shared::status::Status;

use crate::store::{
    cert_type_of, division_of, i64_of, status_of, u32_of, u64_of, version_of, AgencyPush,
    CertificateRow, CertificatesTx, NonconformingRow, OutageRow, StatusChangeRow, StoreError,
    UploadReportRow, UploadsTx, VersionRow,
};

impl CertificatesTx for SqliteTx<'_> {
    fn certificate(
        &mut self,
        cert_type: CertType,
        number: &str,
    ) -> Result<Option<CertificateRow>, StoreError> {
        let row: Option<CertCols> = self
            .row(
                "SELECT cert_type, number, version, status, status_index, issuer_division,
                        issued_at
                 FROM certificates WHERE cert_type = ?1 AND number = ?2",
                [cert_type.code(), number],
                |r| CertCols::try_from(r),
            )
            .optional()?;
        row.map(certificate_from).transpose()
    }

    fn put_certificate(&mut self, c: &CertificateRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO certificates (cert_type, number, version, status, status_index,
                                       issuer_division, issued_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (cert_type, number) DO UPDATE SET
                 version = excluded.version, status = excluded.status,
                 status_index = excluded.status_index,
                 issuer_division = excluded.issuer_division, issued_at = excluded.issued_at",
            params![
                c.cert_type.code(),
                c.number,
                c.version,
                c.status.bits(),
                c.status_index,
                c.issuer_division.code(),
                c.issued_at,
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
        Ok(self
            .versions_of(
                &format!(
                    "SELECT {VERSION_COLS} FROM certificate_versions v
                     WHERE v.cert_type = ?1 AND v.number = ?2 AND v.version = ?3"
                ),
                params![cert_type.code(), number, version],
            )?
            .pop())
    }

    fn insert_version(&mut self, v: &VersionRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO certificate_versions (cert_type, number, version, status_index, status,
                 record_json, data_json, signed, identifier, issued_at, issuer_division,
                 holder_id, plate)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                v.cert_type.code(),
                v.number,
                v.version,
                v.status_index,
                v.status.bits(),
                v.record_json,
                v.data_json,
                v.signed,
                v.identifier,
                v.issued_at,
                v.issuer_division.code(),
                v.holder_id,
                v.plate,
            ],
        )?;
        Ok(())
    }

    fn set_version_status(&mut self, status_index: u32, status: Status) -> Result<(), StoreError> {
        let n = self.exec(
            "UPDATE certificate_versions SET status = ?2 WHERE status_index = ?1",
            params![status_index, status.bits()],
        )?;
        self.exec(
            "UPDATE certificates SET status = ?2 WHERE status_index = ?1",
            params![status_index, status.bits()],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!(
                "status index {status_index} names {n} versions"
            )));
        }
        Ok(())
    }

    fn live_versions(&mut self) -> Result<Vec<VersionRow>, StoreError> {
        self.versions_of(
            &format!(
                "SELECT {VERSION_COLS}
             FROM certificate_versions v
             JOIN certificates c ON c.cert_type = v.cert_type AND c.number = v.number
                                AND c.version = v.version
             WHERE v.status IN (0, 2)
             ORDER BY v.status_index"
            ),
            [],
        )
    }

    fn lookup_versions(
        &mut self,
        by: LookupBy,
        value: &str,
        limit: u32,
    ) -> Result<Vec<VersionRow>, StoreError> {
        let condition = match by {
            LookupBy::Plate => "v.plate = ?1",
            LookupBy::IdNumber => "v.holder_id = ?1",
            LookupBy::Number => "v.number = ?1",
        };
        self.versions_of(
            &format!(
                "SELECT {VERSION_COLS}
                 FROM certificate_versions v
                 JOIN certificates c ON c.cert_type = v.cert_type AND c.number = v.number
                                    AND c.version = v.version
                 WHERE {condition}
                 ORDER BY v.cert_type, v.number
                 LIMIT ?2"
            ),
            params![value, limit],
        )
    }

    fn set_version_signed(
        &mut self,
        cert_type: CertType,
        number: &str,
        version: u16,
        signed: &[u8],
        issued_at: i64,
    ) -> Result<(), StoreError> {
        let n = self.exec(
            "UPDATE certificate_versions SET signed = ?4, issued_at = ?5
             WHERE cert_type = ?1 AND number = ?2 AND version = ?3",
            params![cert_type.code(), number, version, signed, issued_at],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!(
                "no version {version} of {cert_type} {number}"
            )));
        }
        self.exec(
            "UPDATE certificates SET issued_at = ?4
             WHERE cert_type = ?1 AND number = ?2 AND version = ?3",
            params![cert_type.code(), number, version, issued_at],
        )?;
        Ok(())
    }

    fn set_signature(&mut self, status_index: u32, signed: &[u8]) -> Result<(), StoreError> {
        let n = self.exec(
            "UPDATE certificate_versions SET signed = ?2 WHERE status_index = ?1",
            params![status_index, signed],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!(
                "no version at status index {status_index}"
            )));
        }
        Ok(())
    }

    fn upsert_nonconforming(&mut self, row: &NonconformingRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO nonconforming (agency, cert_type, number, reasons_json, record_json,
                                        first_seen, last_seen, resolved_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)
             ON CONFLICT (agency, cert_type, number) DO UPDATE SET
                 reasons_json = excluded.reasons_json, record_json = excluded.record_json,
                 last_seen = excluded.last_seen, resolved_at = NULL,
                 first_seen = CASE WHEN nonconforming.resolved_at IS NULL
                                   THEN nonconforming.first_seen ELSE excluded.first_seen END",
            params![
                row.agency.code(),
                row.cert_type,
                row.number,
                row.reasons_json,
                row.record_json,
                row.first_seen,
                row.last_seen,
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
        let mut total = 0;
        for number in numbers {
            total += self.exec(
                "UPDATE nonconforming SET resolved_at = ?3
                 WHERE cert_type = ?1 AND number = ?2 AND resolved_at IS NULL",
                params![cert_type, number, at],
            )?;
        }
        Ok(total)
    }

    fn nonconforming(
        &mut self,
        agency: Option<DivisionCode>,
        open_only: bool,
    ) -> Result<Vec<NonconformingRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT agency, cert_type, number, reasons_json, record_json, first_seen, last_seen,
                    resolved_at
             FROM nonconforming
             WHERE (?1 IS NULL OR agency = ?1) AND (?2 = 0 OR resolved_at IS NULL)
             ORDER BY agency, first_seen, cert_type, number",
        )?;
        let rows = stmt
            .query_map(
                params![agency.map(DivisionCode::code), i64::from(open_only)],
                |r| NcCols::try_from(r),
            )?
            .collect::<Result<Vec<NcCols>, _>>()?;
        rows.into_iter().map(nonconforming_from).collect()
    }

    fn insert_status_change(&mut self, c: &StatusChangeRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO status_changes (cert_type, number, version, from_status, to_status, at,
                 actor, reason, effective_date, document_number)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                c.cert_type.code(),
                c.number,
                c.version,
                c.from.bits(),
                c.to.bits(),
                c.at,
                c.actor,
                c.reason,
                c.effective_date,
                c.document_number
            ],
        )?;
        Ok(())
    }

    fn status_changes(
        &mut self,
        cert_type: CertType,
        number: &str,
    ) -> Result<Vec<StatusChangeRow>, StoreError> {
        type Cols = (
            i64,
            i64,
            i64,
            i64,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let mut stmt = self.conn.prepare_cached(
            "SELECT version, from_status, to_status, at, actor, reason, effective_date,
                 document_number
             FROM status_changes WHERE cert_type = ?1 AND number = ?2 ORDER BY id",
        )?;
        let rows = stmt
            .query_map(params![cert_type.code(), number], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })?
            .collect::<Result<Vec<Cols>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(StatusChangeRow {
                    cert_type,
                    number: number.to_string(),
                    version: version_of(c.0)?,
                    from: status_of(c.1)?,
                    to: status_of(c.2)?,
                    at: c.3,
                    actor: c.4,
                    reason: c.5,
                    effective_date: c.6,
                    document_number: c.7,
                })
            })
            .collect()
    }

    fn record_push(&mut self, p: &AgencyPush) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO agency_pushes (division, last_push_at, records) VALUES (?1, ?2, ?3)
             ON CONFLICT (division) DO UPDATE SET
                 last_push_at = excluded.last_push_at, records = excluded.records",
            params![p.division.code(), p.at, i64_of(p.records, "record count")?],
        )?;
        Ok(())
    }

    fn insert_outage(&mut self, o: &OutageRow) -> Result<i64, StoreError> {
        self.exec(
            "INSERT INTO agency_outages
                 (division, fault_from, fault_until, reason, repush_deadline, reported_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                o.division.code(),
                o.from,
                o.until,
                o.reason,
                o.repush_deadline,
                o.reported_at
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn outages(&mut self, division: Option<DivisionCode>) -> Result<Vec<OutageRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, division, fault_from, fault_until, reason, repush_deadline, reported_at
             FROM agency_outages WHERE ?1 IS NULL OR division = ?1
             ORDER BY division, fault_from, id",
        )?;
        let rows = stmt
            .query_map([division.map(DivisionCode::code)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(
                |(id, d, from, until, reason, repush_deadline, reported_at)| {
                    Ok(OutageRow {
                        id,
                        division: division_of(d)?,
                        from,
                        until,
                        reason,
                        repush_deadline,
                        reported_at,
                    })
                },
            )
            .collect()
    }

    fn agency_pushes(&mut self) -> Result<Vec<AgencyPush>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT division, last_push_at, records FROM agency_pushes ORDER BY division",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(d, at, n)| {
                Ok(AgencyPush {
                    division: division_of(d)?,
                    at,
                    records: u64_of(n, "record count")?,
                })
            })
            .collect()
    }
}

/// Raw columns of a certificate row, converted after the query.
type CertCols = (String, String, i64, i64, i64, i64, i64);

fn certificate_from(c: CertCols) -> Result<CertificateRow, StoreError> {
    Ok(CertificateRow {
        cert_type: cert_type_of(&c.0)?,
        number: c.1,
        version: version_of(c.2)?,
        status: status_of(c.3)?,
        status_index: u32_of(c.4, "status index")?,
        issuer_division: division_of(c.5)?,
        issued_at: c.6,
    })
}

type NcCols = (i64, String, String, String, String, i64, i64, Option<i64>);

fn nonconforming_from(c: NcCols) -> Result<NonconformingRow, StoreError> {
    Ok(NonconformingRow {
        agency: division_of(c.0)?,
        cert_type: c.1,
        number: c.2,
        reasons_json: c.3,
        record_json: c.4,
        first_seen: c.5,
        last_seen: c.6,
        resolved_at: c.7,
    })
}

impl UploadsTx for SqliteTx<'_> {
    fn insert_upload_report(&mut self, r: &UploadReportRow) -> Result<i64, StoreError> {
        self.exec(
            "INSERT INTO upload_reports (agency, received_at, file_name, summary_json, csv)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                r.agency.map(DivisionCode::code),
                r.received_at,
                r.file_name,
                r.summary_json,
                r.csv
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn upload_report(&mut self, id: i64) -> Result<Option<UploadReportRow>, StoreError> {
        type Cols = (Option<i64>, i64, String, String, Vec<u8>);
        let found: Option<Cols> = self
            .row(
                "SELECT agency, received_at, file_name, summary_json, csv
                 FROM upload_reports WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        found
            .map(|c| {
                Ok(UploadReportRow {
                    id,
                    agency: c.0.map(division_of).transpose()?,
                    received_at: c.1,
                    file_name: c.2,
                    summary_json: c.3,
                    csv: c.4,
                })
            })
            .transpose()
    }
}
