//! [`HoldersTx`] on SQLite: a holder's certificates (by the `holder_id` the program stored) and device keys.

use rusqlite::params;

use super::{SqliteTx, VERSION_COLS};
use shared::crypto::Alg;

use crate::store::{HoldersTx, StoreError, VersionRow};

impl HoldersTx for SqliteTx<'_> {
    fn holder_certificates(&mut self, holder_id: &str) -> Result<Vec<VersionRow>, StoreError> {
        self.versions_of(
            &format!(
                "SELECT {VERSION_COLS}
             FROM certificate_versions v
             JOIN certificates c ON c.cert_type = v.cert_type AND c.number = v.number
                                AND c.version = v.version
             WHERE v.holder_id = ?1
             ORDER BY v.cert_type, v.number"
            ),
            [holder_id],
        )
    }

    fn insert_holder_device(
        &mut self,
        holder_id: &str,
        alg: Alg,
        public_key: &[u8],
        at: i64,
    ) -> Result<bool, StoreError> {
        let n = self.exec(
            "INSERT INTO holder_devices (holder_id, alg, public_key, registered_at)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![holder_id, alg.name(), public_key, at],
        )?;
        Ok(n == 1)
    }
}
