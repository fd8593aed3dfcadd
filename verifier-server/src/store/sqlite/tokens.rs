//! [`TokensTx`] on SQLite: bearer tokens, stored as hashes.

use rusqlite::{params, OptionalExtension};

use super::SqliteTx;
use shared::domain::DivisionCode;

use crate::store::{division_of, StoreError, TokenRotation, TokenRow, TokensTx};

const TOKEN_COLS: &str = "id, hash, role, division, subject, created_at, revoked_at, expires_at, \
                          last_used_at, prev_hash, prev_expires_at, rotated_at";

/// The columns of [`TOKEN_COLS`], as read.
type Cols = (
    i64,
    Vec<u8>,
    String,
    Option<i64>,
    String,
    i64,
    Option<i64>,
    i64,
    Option<i64>,
    Option<Vec<u8>>,
    Option<i64>,
    Option<i64>,
);

fn cols(r: &rusqlite::Row<'_>) -> rusqlite::Result<Cols> {
    Cols::try_from(r)
}

fn hash_of(v: &[u8], id: i64) -> Result<[u8; 32], StoreError> {
    v.try_into()
        .map_err(|_| StoreError::Corrupt(format!("token {id} hash length")))
}

fn token_from(c: Cols) -> Result<TokenRow, StoreError> {
    Ok(TokenRow {
        id: c.0,
        hash: hash_of(&c.1, c.0)?,
        role: c.2,
        division: c.3.map(division_of).transpose()?,
        subject: c.4,
        created_at: c.5,
        revoked_at: c.6,
        expires_at: c.7,
        last_used_at: c.8,
        prev_hash: c.9.map(|h| hash_of(&h, c.0)).transpose()?,
        prev_expires_at: c.10,
        rotated_at: c.11,
    })
}

impl SqliteTx<'_> {
    fn token_by_id(&self, id: i64) -> Result<Option<TokenRow>, StoreError> {
        self.row(
            &format!("SELECT {TOKEN_COLS} FROM tokens WHERE id = ?1"),
            [id],
            cols,
        )
        .optional()?
        .map(token_from)
        .transpose()
    }
}

impl TokensTx for SqliteTx<'_> {
    fn insert_token(&mut self, t: &TokenRow) -> Result<i64, StoreError> {
        self.exec(
            "INSERT INTO tokens (hash, role, division, subject, created_at, revoked_at,
                                 expires_at, last_used_at, prev_hash, prev_expires_at, rotated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                t.hash.as_slice(),
                t.role,
                t.division.map(DivisionCode::code),
                t.subject,
                t.created_at,
                t.revoked_at,
                t.expires_at,
                t.last_used_at,
                t.prev_hash.as_ref().map(|h| h.as_slice()),
                t.prev_expires_at,
                t.rotated_at,
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn token_by_hash(&mut self, hash: &[u8; 32]) -> Result<Option<TokenRow>, StoreError> {
        // Two indexed lookups rather than `hash = ?1 OR prev_hash = ?1`.
        let current = self
            .row(
                &format!("SELECT {TOKEN_COLS} FROM tokens WHERE hash = ?1"),
                [hash.as_slice()],
                cols,
            )
            .optional()?;
        let row = match current {
            Some(c) => Some(c),
            None => self
                .row(
                    &format!("SELECT {TOKEN_COLS} FROM tokens WHERE prev_hash = ?1"),
                    [hash.as_slice()],
                    cols,
                )
                .optional()?,
        };
        row.map(token_from).transpose()
    }

    fn touch_token(&mut self, id: i64, at: i64) -> Result<(), StoreError> {
        self.exec(
            "UPDATE tokens SET last_used_at = ?2
             WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
            params![id, at],
        )?;
        Ok(())
    }

    fn rotate_token(&mut self, id: i64, r: &TokenRotation) -> Result<Option<TokenRow>, StoreError> {
        let n = self.exec(
            "UPDATE tokens SET prev_hash = hash, prev_expires_at = min(?3, expires_at),
                               hash = ?2, expires_at = ?4, rotated_at = ?5
             WHERE id = ?1 AND revoked_at IS NULL",
            params![id, r.hash.as_slice(), r.prev_expires_at, r.expires_at, r.at],
        )?;
        if n == 0 {
            return Ok(None);
        }
        self.token_by_id(id)
    }

    fn tokens(&mut self) -> Result<Vec<TokenRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {TOKEN_COLS} FROM tokens ORDER BY id"))?;
        let rows = stmt.query_map([], cols)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(token_from).collect()
    }

    fn revoke_token(&mut self, id: i64, at: i64) -> Result<Option<TokenRow>, StoreError> {
        self.exec(
            "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, at],
        )?;
        self.token_by_id(id)
    }
}
