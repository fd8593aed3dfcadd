//! [`KeysTx`] on PostgreSQL: keys' public halves, their listing windows,
//! issuing authorities.

use shared::crypto::Kid;
use shared::trust::Authority;

use super::{col, PgTx};
use crate::store::{alg_of, division_of, kid_of, uscc_of, KeyRecord, KeyRole, KeysTx, StoreError};

impl KeysTx for PgTx<'_> {
    fn keys(&mut self) -> Result<Vec<KeyRecord>, StoreError> {
        self.rows(
            "SELECT kid, role, alg, public_key, not_before, not_after, state,
                    compromised_since, file
             FROM keys ORDER BY not_before, kid",
            &[],
        )?
        .iter()
        .map(|r| {
            let state: i64 = col(r, 6)?;
            Ok(KeyRecord {
                kid: kid_of(&col::<String>(r, 0)?, "kid")?,
                role: KeyRole::parse(&col::<String>(r, 1)?)?,
                alg: alg_of(&col::<String>(r, 2)?, "algorithm")?,
                public_key: col(r, 3)?,
                not_before: col(r, 4)?,
                not_after: col(r, 5)?,
                state: u8::try_from(state)
                    .map_err(|_| StoreError::Corrupt(format!("key state {state}")))?,
                compromised_since: col(r, 7)?,
                file: col(r, 8)?,
            })
        })
        .collect()
    }

    fn insert_key(&mut self, key: &KeyRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO keys (kid, role, alg, public_key, not_before, not_after, state,
                               compromised_since, file)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &key.kid.to_hex(),
                &key.role.as_str(),
                &key.alg.name(),
                &key.public_key,
                &key.not_before,
                &key.not_after,
                &i64::from(key.state),
                &key.compromised_since,
                &key.file,
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
            "UPDATE keys SET state = $2, not_after = $3, compromised_since = $4 WHERE kid = $1",
            &[
                &kid.to_hex(),
                &i64::from(state),
                &not_after,
                &compromised_since,
            ],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!("no key {kid}")));
        }
        Ok(())
    }

    fn set_key_listed_until(&mut self, kid: &Kid, until: i64) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO key_overlap (kid, listed_until) VALUES ($1, $2)
             ON CONFLICT (kid) DO UPDATE SET listed_until = excluded.listed_until",
            &[&kid.to_hex(), &until],
        )?;
        Ok(())
    }

    fn keys_listed_until(&mut self) -> Result<Vec<(Kid, i64)>, StoreError> {
        self.rows(
            "SELECT kid, listed_until FROM key_overlap ORDER BY kid",
            &[],
        )?
        .iter()
        .map(|r| Ok((kid_of(&col::<String>(r, 0)?, "kid")?, col(r, 1)?)))
        .collect()
    }

    fn authorities(&mut self) -> Result<Vec<Authority>, StoreError> {
        self.rows(
            "SELECT division, uscc, name FROM authorities ORDER BY division",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(Authority {
                division: division_of(col(r, 0)?)?,
                uscc: uscc_of(&col::<String>(r, 1)?)?,
                name: col(r, 2)?,
            })
        })
        .collect()
    }

    fn insert_authority(&mut self, a: &Authority) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO authorities (division, uscc, name) VALUES ($1, $2, $3)",
            &[&i64::from(a.division.code()), &a.uscc.as_str(), &a.name],
        )?;
        Ok(())
    }
}
