//! [`TokensTx`] on PostgreSQL: bearer tokens, stored as hashes.

use ::postgres::Row;

use super::{col, PgTx};
use crate::store::{division_of, hash32, StoreError, TokenRow, TokensTx};

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
    })
}

const TOKEN_COLS: &str = "id, hash, role, division, subject, created_at, revoked_at";

impl TokensTx for PgTx<'_> {
    fn insert_token(&mut self, t: &TokenRow) -> Result<i64, StoreError> {
        let r = self.one_row(
            "INSERT INTO tokens (hash, role, division, subject, created_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &t.hash.as_slice(),
                &t.role,
                &t.division.map(|d| i64::from(d.code())),
                &t.subject,
                &t.created_at,
                &t.revoked_at,
            ],
        )?;
        col(&r, 0)
    }

    fn token_by_hash(&mut self, hash: &[u8; 32]) -> Result<Option<TokenRow>, StoreError> {
        self.opt_row(
            &format!("SELECT {TOKEN_COLS} FROM tokens WHERE hash = $1"),
            &[&hash.as_slice()],
        )?
        .map(|r| token_from(&r))
        .transpose()
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
        self.opt_row(
            &format!("SELECT {TOKEN_COLS} FROM tokens WHERE id = $1"),
            &[&id],
        )?
        .map(|r| token_from(&r))
        .transpose()
    }
}
