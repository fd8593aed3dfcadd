//! [`TokensTx`] on PostgreSQL: bearer tokens, stored as hashes.

use ::postgres::Row;

use super::{col, PgTx};
use crate::store::{division_of, hash32, StoreError, TokenRotation, TokenRow, TokensTx};

fn token_from(r: &Row) -> Result<TokenRow, StoreError> {
    let id: i64 = col(r, 0)?;
    Ok(TokenRow {
        id,
        hash: hash32(col(r, 1)?, "token hash")?,
        role: col(r, 2)?,
        division: col::<Option<i64>>(r, 3)?.map(division_of).transpose()?,
        subject: col(r, 4)?,
        created_at: col(r, 5)?,
        revoked_at: col(r, 6)?,
        expires_at: col(r, 7)?,
        last_used_at: col(r, 8)?,
        prev_hash: col::<Option<Vec<u8>>>(r, 9)?
            .map(|h| hash32(h, "replaced token hash"))
            .transpose()?,
        prev_expires_at: col(r, 10)?,
        rotated_at: col(r, 11)?,
    })
}

const TOKEN_COLS: &str = "id, hash, role, division, subject, created_at, revoked_at, expires_at, \
                          last_used_at, prev_hash, prev_expires_at, rotated_at";

impl PgTx<'_> {
    fn token_by_id(&mut self, id: i64) -> Result<Option<TokenRow>, StoreError> {
        self.opt_row(
            &format!("SELECT {TOKEN_COLS} FROM tokens WHERE id = $1"),
            &[&id],
        )?
        .map(|r| token_from(&r))
        .transpose()
    }
}

impl TokensTx for PgTx<'_> {
    fn insert_token(&mut self, t: &TokenRow) -> Result<i64, StoreError> {
        let r = self.one_row(
            "INSERT INTO tokens (hash, role, division, subject, created_at, revoked_at,
                                 expires_at, last_used_at, prev_hash, prev_expires_at, rotated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
            &[
                &t.hash.as_slice(),
                &t.role,
                &t.division.map(|d| i64::from(d.code())),
                &t.subject,
                &t.created_at,
                &t.revoked_at,
                &t.expires_at,
                &t.last_used_at,
                &t.prev_hash.as_ref().map(|h| h.as_slice()),
                &t.prev_expires_at,
                &t.rotated_at,
            ],
        )?;
        col(&r, 0)
    }

    fn token_by_hash(&mut self, hash: &[u8; 32]) -> Result<Option<TokenRow>, StoreError> {
        if let Some(r) = self.opt_row(
            &format!("SELECT {TOKEN_COLS} FROM tokens WHERE hash = $1"),
            &[&hash.as_slice()],
        )? {
            return token_from(&r).map(Some);
        }
        self.opt_row(
            &format!("SELECT {TOKEN_COLS} FROM tokens WHERE prev_hash = $1"),
            &[&hash.as_slice()],
        )?
        .map(|r| token_from(&r))
        .transpose()
    }

    fn touch_token(&mut self, id: i64, at: i64) -> Result<(), StoreError> {
        self.exec(
            "UPDATE tokens SET last_used_at = $2
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
            &[&id, &at],
        )?;
        Ok(())
    }

    fn rotate_token(&mut self, id: i64, r: &TokenRotation) -> Result<Option<TokenRow>, StoreError> {
        let n = self.exec(
            "UPDATE tokens SET prev_hash = hash, prev_expires_at = LEAST($3, expires_at),
                               hash = $2, expires_at = $4, rotated_at = $5
             WHERE id = $1 AND revoked_at IS NULL",
            &[
                &id,
                &r.hash.as_slice(),
                &r.prev_expires_at,
                &r.expires_at,
                &r.at,
            ],
        )?;
        if n == 0 {
            return Ok(None);
        }
        self.token_by_id(id)
    }

    fn tokens(&mut self) -> Result<Vec<TokenRow>, StoreError> {
        self.rows(&format!("SELECT {TOKEN_COLS} FROM tokens ORDER BY id"), &[])?
            .iter()
            .map(token_from)
            .collect()
    }

    fn revoke_token(&mut self, id: i64, at: i64) -> Result<Option<TokenRow>, StoreError> {
        self.exec(
            "UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &at],
        )?;
        self.token_by_id(id)
    }
}
