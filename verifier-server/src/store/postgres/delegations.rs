//! [`DelegationsTx`] on PostgreSQL: delegations and their signed copies.

use ::postgres::Row;
use shared::status::Status;

use super::{col, PgTx};
use crate::store::{
    cert_type_of, status_of, u32_of, DelegatedCopyRow, DelegationRow, DelegationsOf, DelegationsTx,
    StoreError,
};

const COLS: &str = "id, owner_id, cert_type, number, driver_id, driver_name, valid_from, \
                    valid_until, created_at, revoked_at";

fn from_row(r: &Row) -> Result<DelegationRow, StoreError> {
    Ok(DelegationRow {
        id: col(r, 0)?,
        owner_id: col(r, 1)?,
        cert_type: cert_type_of(&col::<String>(r, 2)?)?,
        number: col(r, 3)?,
        driver_id: col(r, 4)?,
        driver_name: col(r, 5)?,
        valid_from: col(r, 6)?,
        valid_until: col(r, 7)?,
        created_at: col(r, 8)?,
        revoked_at: col(r, 9)?,
    })
}

const COPY_COLS: &str =
    "status_index, delegation_id, source_index, status, signed, device_key, issued_at";

fn copy_from(r: &Row) -> Result<DelegatedCopyRow, StoreError> {
    Ok(DelegatedCopyRow {
        status_index: u32_of(col(r, 0)?, "copy status index")?,
        delegation_id: col(r, 1)?,
        source_index: u32_of(col(r, 2)?, "copy source index")?,
        status: status_of(col(r, 3)?)?,
        signed: col(r, 4)?,
        device_key: col(r, 5)?,
        issued_at: col(r, 6)?,
    })
}

impl DelegationsTx for PgTx<'_> {
    fn insert_delegation(&mut self, d: &DelegationRow) -> Result<i64, StoreError> {
        let r = self.one_row(
            "INSERT INTO delegations (owner_id, cert_type, number, driver_id, driver_name,
                                      valid_from, valid_until, created_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            &[
                &d.owner_id,
                &d.cert_type.code(),
                &d.number,
                &d.driver_id,
                &d.driver_name,
                &d.valid_from,
                &d.valid_until,
                &d.created_at,
                &d.revoked_at,
            ],
        )?;
        col(&r, 0)
    }

    fn delegation(&mut self, id: i64) -> Result<Option<DelegationRow>, StoreError> {
        self.opt_row(
            &format!("SELECT {COLS} FROM delegations WHERE id = $1"),
            &[&id],
        )?
        .as_ref()
        .map(from_row)
        .transpose()
    }

    fn delegations(&mut self, of: DelegationsOf<'_>) -> Result<Vec<DelegationRow>, StoreError> {
        let (column, value) = match of {
            DelegationsOf::Owner(o) => ("owner_id", o),
            DelegationsOf::Driver(d) => ("driver_id", d),
        };
        self.rows(
            &format!("SELECT {COLS} FROM delegations WHERE {column} = $1 ORDER BY id"),
            &[&value],
        )?
        .iter()
        .map(from_row)
        .collect()
    }

    fn revoke_delegation(&mut self, id: i64, at: i64) -> Result<bool, StoreError> {
        Ok(self.exec(
            "UPDATE delegations SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &at],
        )? == 1)
    }

    fn insert_delegated_copy(&mut self, c: &DelegatedCopyRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO delegated_copies (status_index, delegation_id, source_index, status,
                                           signed, device_key, issued_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &i64::from(c.status_index),
                &c.delegation_id,
                &i64::from(c.source_index),
                &i64::from(c.status.bits()),
                &c.signed,
                &c.device_key,
                &c.issued_at,
            ],
        )?;
        Ok(())
    }

    fn delegated_copies(
        &mut self,
        delegation_id: i64,
    ) -> Result<Vec<DelegatedCopyRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {COPY_COLS} FROM delegated_copies WHERE delegation_id = $1
                 ORDER BY status_index"
            ),
            &[&delegation_id],
        )?
        .iter()
        .map(copy_from)
        .collect()
    }

    fn copies_of_sources(&mut self, sources: &[u32]) -> Result<Vec<DelegatedCopyRow>, StoreError> {
        let sources: Vec<i64> = sources.iter().map(|s| i64::from(*s)).collect();
        self.rows(
            &format!(
                "SELECT {COPY_COLS} FROM delegated_copies WHERE source_index = ANY($1)
                 ORDER BY status_index"
            ),
            &[&sources],
        )?
        .iter()
        .map(copy_from)
        .collect()
    }

    fn valid_copies(&mut self) -> Result<Vec<DelegatedCopyRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {COPY_COLS} FROM delegated_copies WHERE status = $1
                 ORDER BY status_index"
            ),
            &[&i64::from(Status::Valid.bits())],
        )?
        .iter()
        .map(copy_from)
        .collect()
    }

    fn set_copy_status(&mut self, status_index: u32, status: Status) -> Result<(), StoreError> {
        self.exec(
            "UPDATE delegated_copies SET status = $2 WHERE status_index = $1",
            &[&i64::from(status_index), &i64::from(status.bits())],
        )?;
        Ok(())
    }

    fn set_copy_signed(
        &mut self,
        status_index: u32,
        signed: &[u8],
        issued_at: i64,
    ) -> Result<(), StoreError> {
        self.exec(
            "UPDATE delegated_copies SET signed = $2, issued_at = $3 WHERE status_index = $1",
            &[&i64::from(status_index), &signed, &issued_at],
        )?;
        Ok(())
    }

    fn holder_device_keys(&mut self, holder_id: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        self.rows(
            "SELECT public_key FROM holder_devices WHERE holder_id = $1
             ORDER BY registered_at DESC, public_key",
            &[&holder_id],
        )?
        .iter()
        .map(|r| col(r, 0))
        .collect()
    }
}
