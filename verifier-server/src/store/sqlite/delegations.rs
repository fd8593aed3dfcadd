//! [`DelegationsTx`] on SQLite: delegations and their signed copies.

use rusqlite::{params, OptionalExtension};
use shared::status::Status;

use super::SqliteTx;
use crate::store::{
    cert_type_of, status_of, u32_of, DelegatedCopyRow, DelegationRow, DelegationsOf, DelegationsTx,
    StoreError,
};

const COLS: &str = "id, owner_id, cert_type, number, driver_id, driver_name, valid_from, \
                    valid_until, created_at, revoked_at";

type Cols = (
    i64,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
);

fn from_cols(c: Cols) -> Result<DelegationRow, StoreError> {
    Ok(DelegationRow {
        id: c.0,
        owner_id: c.1,
        cert_type: cert_type_of(&c.2)?,
        number: c.3,
        driver_id: c.4,
        driver_name: c.5,
        valid_from: c.6,
        valid_until: c.7,
        created_at: c.8,
        revoked_at: c.9,
    })
}

const COPY_COLS: &str =
    "status_index, delegation_id, source_index, status, signed, device_key, issued_at";

type CopyCols = (i64, i64, i64, i64, Vec<u8>, Vec<u8>, i64);

fn copy_from(c: CopyCols) -> Result<DelegatedCopyRow, StoreError> {
    Ok(DelegatedCopyRow {
        status_index: u32_of(c.0, "copy status index")?,
        delegation_id: c.1,
        source_index: u32_of(c.2, "copy source index")?,
        status: status_of(c.3)?,
        signed: c.4,
        device_key: c.5,
        issued_at: c.6,
    })
}

impl SqliteTx<'_> {
    fn copies_where(
        &self,
        condition: &str,
        value: i64,
    ) -> Result<Vec<DelegatedCopyRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COPY_COLS} FROM delegated_copies WHERE {condition} ORDER BY status_index"
        ))?;
        let rows = stmt
            .query_map([value], |r| CopyCols::try_from(r))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(copy_from).collect()
    }
}

impl DelegationsTx for SqliteTx<'_> {
    fn insert_delegation(&mut self, d: &DelegationRow) -> Result<i64, StoreError> {
        self.exec(
            "INSERT INTO delegations (owner_id, cert_type, number, driver_id, driver_name,
                                      valid_from, valid_until, created_at, revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                d.owner_id,
                d.cert_type.code(),
                d.number,
                d.driver_id,
                d.driver_name,
                d.valid_from,
                d.valid_until,
                d.created_at,
                d.revoked_at,
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn delegation(&mut self, id: i64) -> Result<Option<DelegationRow>, StoreError> {
        self.row(
            &format!("SELECT {COLS} FROM delegations WHERE id = ?1"),
            [id],
            |r| Cols::try_from(r),
        )
        .optional()?
        .map(from_cols)
        .transpose()
    }

    fn delegations(&mut self, of: DelegationsOf<'_>) -> Result<Vec<DelegationRow>, StoreError> {
        let (column, value) = match of {
            DelegationsOf::Owner(o) => ("owner_id", o),
            DelegationsOf::Driver(d) => ("driver_id", d),
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM delegations WHERE {column} = ?1 ORDER BY id"
        ))?;
        let rows = stmt
            .query_map([value], |r| Cols::try_from(r))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(from_cols).collect()
    }

    fn revoke_delegation(&mut self, id: i64, at: i64) -> Result<bool, StoreError> {
        Ok(self.exec(
            "UPDATE delegations SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, at],
        )? == 1)
    }

    fn insert_delegated_copy(&mut self, c: &DelegatedCopyRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO delegated_copies (status_index, delegation_id, source_index, status,
                                           signed, device_key, issued_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                c.status_index,
                c.delegation_id,
                c.source_index,
                c.status.bits(),
                c.signed,
                c.device_key,
                c.issued_at,
            ],
        )?;
        Ok(())
    }

    fn delegated_copies(
        &mut self,
        delegation_id: i64,
    ) -> Result<Vec<DelegatedCopyRow>, StoreError> {
        self.copies_where("delegation_id = ?1", delegation_id)
    }

    fn copies_of_sources(&mut self, sources: &[u32]) -> Result<Vec<DelegatedCopyRow>, StoreError> {
        let mut out = Vec::new();
        for s in sources {
            out.extend(self.copies_where("source_index = ?1", i64::from(*s))?);
        }
        Ok(out)
    }

    fn valid_copies(&mut self) -> Result<Vec<DelegatedCopyRow>, StoreError> {
        self.copies_where("status = ?1", i64::from(Status::Valid.bits()))
    }

    fn set_copy_status(&mut self, status_index: u32, status: Status) -> Result<(), StoreError> {
        self.exec(
            "UPDATE delegated_copies SET status = ?2 WHERE status_index = ?1",
            params![status_index, status.bits()],
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
            "UPDATE delegated_copies SET signed = ?2, issued_at = ?3 WHERE status_index = ?1",
            params![status_index, signed, issued_at],
        )?;
        Ok(())
    }

    fn holder_device_keys(&mut self, holder_id: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT public_key FROM holder_devices WHERE holder_id = ?1
             ORDER BY registered_at DESC, rowid DESC",
        )?;
        let rows = stmt
            .query_map([holder_id], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
