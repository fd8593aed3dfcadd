//! [`DevicesTx`] on PostgreSQL: enrolled officer devices and their chain
//! heads (read `FOR UPDATE`: two uploads of one device take turns).

use ::postgres::Row;
use shared::crypto::Kid;

use super::{col, PgTx};
use crate::store::{
    alg_of, division_of, hash32, i64_of, kid_of, u64_of, DeviceRow, DevicesTx, StoreError,
};

const DEVICE_COLS: &str = "id, kid, alg, public_key, token_id, division, label, enrolled_at, \
                           revoked_at, next_seq, head";

fn device_from(r: &Row) -> Result<DeviceRow, StoreError> {
    Ok(DeviceRow {
        id: col(r, 0)?,
        kid: kid_of(&col::<String>(r, 1)?, "device kid")?,
        alg: alg_of(&col::<String>(r, 2)?, "device algorithm")?,
        public_key: col(r, 3)?,
        token_id: col(r, 4)?,
        division: division_of(col(r, 5)?)?,
        label: col(r, 6)?,
        enrolled_at: col(r, 7)?,
        revoked_at: col(r, 8)?,
        next_seq: u64_of(col(r, 9)?, "device next seq")?,
        head: hash32(col(r, 10)?, "device head")?,
    })
}

impl DevicesTx for PgTx<'_> {
    fn device_by_kid(&mut self, kid: &Kid) -> Result<Option<DeviceRow>, StoreError> {
        self.opt_row(
            &format!("SELECT {DEVICE_COLS} FROM devices WHERE kid = $1 FOR UPDATE"),
            &[&kid.to_hex()],
        )?
        .map(|r| device_from(&r))
        .transpose()
    }

    fn device(&mut self, id: i64) -> Result<Option<DeviceRow>, StoreError> {
        self.opt_row(
            &format!("SELECT {DEVICE_COLS} FROM devices WHERE id = $1 FOR UPDATE"),
            &[&id],
        )?
        .map(|r| device_from(&r))
        .transpose()
    }

    fn insert_device(&mut self, d: &DeviceRow) -> Result<i64, StoreError> {
        let r = self.one_row(
            "INSERT INTO devices (kid, alg, public_key, token_id, division, label, enrolled_at,
                                  revoked_at, next_seq, head)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9) RETURNING id",
            &[
                &d.kid.to_hex(),
                &d.alg.name(),
                &d.public_key,
                &d.token_id,
                &i64::from(d.division.code()),
                &d.label,
                &d.enrolled_at,
                &d.revoked_at,
                &shared::checklog::GENESIS.as_slice(),
            ],
        )?;
        col(&r, 0)
    }

    fn devices(&mut self, token_id: Option<i64>) -> Result<Vec<DeviceRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {DEVICE_COLS} FROM devices
                 WHERE $1::BIGINT IS NULL OR token_id = $1 ORDER BY id"
            ),
            &[&token_id],
        )?
        .iter()
        .map(device_from)
        .collect()
    }

    fn revoke_device(&mut self, id: i64, at: i64) -> Result<bool, StoreError> {
        let n = self.exec(
            "UPDATE devices SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &at],
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
            "UPDATE devices SET next_seq = $2, head = $3 WHERE id = $1",
            &[&device_id, &i64_of(next_seq, "next seq")?, &head.as_slice()],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!("no device {device_id}")));
        }
        Ok(())
    }
}
