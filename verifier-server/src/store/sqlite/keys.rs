//! [`KeysTx`] on SQLite: keys' public halves, their listing windows, issuing authorities.

use rusqlite::params;

use super::SqliteTx;
use shared::crypto::Kid;
use shared::trust::Authority;

use crate::store::{alg_of, division_of, kid_of, uscc_of, KeyRecord, KeyRole, KeysTx, StoreError};

impl KeysTx for SqliteTx<'_> {
    fn keys(&mut self) -> Result<Vec<KeyRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT kid, role, alg, public_key, not_before, not_after, state,
                    compromised_since, file
             FROM keys ORDER BY not_before, kid",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                    r.get::<_, String>(8)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                let kid = kid_of(&c.0, "kid")?;
                Ok(KeyRecord {
                    kid,
                    role: KeyRole::parse(&c.1)?,
                    alg: alg_of(&c.2, "algorithm")?,
                    public_key: c.3,
                    not_before: c.4,
                    not_after: c.5,
                    state: u8::try_from(c.6)
                        .map_err(|_| StoreError::Corrupt(format!("key state {}", c.6)))?,
                    compromised_since: c.7,
                    file: c.8,
                })
            })
            .collect()
    }

    fn insert_key(&mut self, key: &KeyRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO keys (kid, role, alg, public_key, not_before, not_after, state,
                               compromised_since, file)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                key.kid.to_hex(),
                key.role.as_str(),
                key.alg.name(),
                key.public_key,
                key.not_before,
                key.not_after,
                key.state,
                key.compromised_since,
                key.file,
            ],
        )?;
        Ok(())
    }

    fn set_key_state(
        &mut self,
        kid: &Kid,
        state: u8,
        not_after: Option<i64>,
        compromised_since: Option<i64>,
    ) -> Result<(), StoreError> {
        let n = self.exec(
            "UPDATE keys SET state = ?2, not_after = ?3, compromised_since = ?4 WHERE kid = ?1",
            params![kid.to_hex(), state, not_after, compromised_since],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!("no key {kid}")));
        }
        Ok(())
    }

    fn set_key_listed_until(&mut self, kid: &Kid, until: i64) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO key_overlap (kid, listed_until) VALUES (?1, ?2)
             ON CONFLICT (kid) DO UPDATE SET listed_until = excluded.listed_until",
            params![kid.to_hex(), until],
        )?;
        Ok(())
    }

    fn keys_listed_until(&mut self) -> Result<Vec<(Kid, i64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT kid, listed_until FROM key_overlap ORDER BY kid")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(kid, until)| {
                let kid = kid_of(&kid, "kid")?;
                Ok((kid, until))
            })
            .collect()
    }

    fn authorities(&mut self) -> Result<Vec<Authority>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT division, uscc, name FROM authorities ORDER BY division")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(division, uscc, name)| {
                Ok(Authority {
                    division: division_of(division)?,
                    uscc: uscc_of(&uscc)?,
                    name,
                })
            })
            .collect()
    }

    fn insert_authority(&mut self, a: &Authority) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO authorities (division, uscc, name) VALUES (?1, ?2, ?3)",
            params![a.division.code(), a.uscc.as_str(), a.name],
        )?;
        Ok(())
    }
}
