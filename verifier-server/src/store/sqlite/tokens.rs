//! [`TokensTx`] on SQLite: bearer tokens, stored as hashes.

use rusqlite::{params, OptionalExtension};

use super::SqliteTx;
use shared::domain::DivisionCode;

use crate::store::{division_of, StoreError, TokenRow, TokensTx};

impl TokensTx for SqliteTx<'_> {
    fn insert_token(&mut self, t: &TokenRow) -> Result<i64, StoreError> {
        self.exec(
            "INSERT INTO tokens (hash, role, division, subject, created_at, revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                t.hash.as_slice(),
                t.role,
                t.division.map(DivisionCode::code),
                t.subject,
                t.created_at,
                t.revoked_at,
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn token_by_hash(&mut self, hash: &[u8; 32]) -> Result<Option<TokenRow>, StoreError> {
        type Cols = (i64, String, Option<i64>, String, i64, Option<i64>);
        let row: Option<Cols> = self
            .row(
                "SELECT id, role, division, subject, created_at, revoked_at
                 FROM tokens WHERE hash = ?1",
                [hash.as_slice()],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()?;
        row.map(|c| {
            Ok(TokenRow {
                id: c.0,
                hash: *hash,
                role: c.1,
                division: c.2.map(division_of).transpose()?,
                subject: c.3,
                created_at: c.4,
                revoked_at: c.5,
            })
        })
        .transpose()
    }

    fn tokens(&mut self) -> Result<Vec<TokenRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, hash, role, division, subject, created_at, revoked_at
             FROM tokens ORDER BY id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|c| {
                Ok(TokenRow {
                    id: c.0,
                    hash: c
                        .1
                        .as_slice()
                        .try_into()
                        .map_err(|_| StoreError::Corrupt(format!("token {} hash length", c.0)))?,
                    role: c.2,
                    division: c.3.map(division_of).transpose()?,
                    subject: c.4,
                    created_at: c.5,
                    revoked_at: c.6,
                })
            })
            .collect()
    }

    fn revoke_token(&mut self, id: i64, at: i64) -> Result<Option<TokenRow>, StoreError> {
        self.exec(
            "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, at],
        )?;
        Ok(self.tokens()?.into_iter().find(|t| t.id == id))
    }
}
