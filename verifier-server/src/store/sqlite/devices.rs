//! [`DevicesTx`] on SQLite: enrolled officer devices and their chain heads.

use rusqlite::{params, OptionalExtension};

use super::SqliteTx;
use shared::crypto::Kid;

use crate::store::{
    alg_of, division_of, hash32, i64_of, kid_of, u64_of, DeviceRow, DevicesTx, StoreError,
};

impl DevicesTx for SqliteTx<'_> {
    fn device_by_kid(&mut self, kid: &Kid) -> Result<Option<DeviceRow>, StoreError> {
        let row: Option<DeviceCols> = self
            .row(
                &format!("SELECT {DEVICE_COLS} FROM devices WHERE kid = ?1"),
                [kid.to_hex()],
                device_cols,
            )
            .optional()?;
        row.map(device_from).transpose()
    }

    fn device(&mut self, id: i64) -> Result<Option<DeviceRow>, StoreError> {
        let row: Option<DeviceCols> = self
            .row(
                &format!("SELECT {DEVICE_COLS} FROM devices WHERE id = ?1"),
                [id],
                device_cols,
            )
            .optional()?;
        row.map(device_from).transpose()
    }

    fn insert_device(&mut self, d: &DeviceRow) -> Result<i64, StoreError> {
        self.exec(
            "INSERT INTO devices (kid, alg, public_key, token_id, division, label, enrolled_at,
                                  revoked_at, next_seq, head)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9)",
            params![
                d.kid.to_hex(),
                d.alg.name(),
                d.public_key,
                d.token_id,
                d.division.code(),
                d.label,
                d.enrolled_at,
                d.revoked_at,
                shared::checklog::GENESIS.as_slice(),
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn devices(&mut self, token_id: Option<i64>) -> Result<Vec<DeviceRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {DEVICE_COLS} FROM devices WHERE ?1 IS NULL OR token_id = ?1 ORDER BY id"
        ))?;
        let rows = stmt
            .query_map([token_id], device_cols)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(device_from).collect()
    }

    fn revoke_device(&mut self, id: i64, at: i64) -> Result<bool, StoreError> {
        let n = self.exec(
            "UPDATE devices SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, at],
        )?;
        Ok(n == 1)
    }

    fn set_device_head(
        &mut self,
        device_id: i64,
        next_seq: u64,
        head: &[u8; 32],
    ) -> Result<(), StoreError> {
        let n = self.exec(
            "UPDATE devices SET next_seq = ?2, head = ?3 WHERE id = ?1",
            params![device_id, i64_of(next_seq, "next seq")?, head.as_slice()],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!("no device {device_id}")));
        }
        Ok(())
    }
}

const DEVICE_COLS: &str = "id, kid, alg, public_key, token_id, division, label, enrolled_at, \
                           revoked_at, next_seq, head";

type DeviceCols = (
    i64,
    String,
    String,
    Vec<u8>,
    i64,
    i64,
    String,
    i64,
    Option<i64>,
    i64,
    Vec<u8>,
);

fn device_cols(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceCols> {
    DeviceCols::try_from(r)
}

fn device_from(c: DeviceCols) -> Result<DeviceRow, StoreError> {
    Ok(DeviceRow {
        id: c.0,
        kid: kid_of(&c.1, "device kid")?,
        alg: alg_of(&c.2, "device algorithm")?,
        public_key: c.3,
        token_id: c.4,
        division: division_of(c.5)?,
        label: c.6,
        enrolled_at: c.7,
        revoked_at: c.8,
        next_seq: u64_of(c.9, "device next seq")?,
        head: hash32(c.10, "device head")?,
    })
}
