//! [`AppsTx`] on SQLite: registered applications, their keys, used
//! assertion identifiers.

use rusqlite::{params, OptionalExtension};

use super::SqliteTx;
use crate::store::apps::split_list;
use crate::store::{
    division_of, AppCheckRow, AppKeyRow, ApplicationRow, AppsTx, GrantItem, GrantRow, GrantsOf,
    StoreError,
};
use shared::domain::DivisionCode;

const APP_COLS: &str = "id, client_id, name, purpose, cert_types, fields, callback_url, \
                        identity_provider, created_at, revoked_at";

type AppCols = (
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
    Option<i64>,
);

fn app_cols(r: &rusqlite::Row<'_>) -> rusqlite::Result<AppCols> {
    AppCols::try_from(r)
}

fn app_from(c: AppCols) -> ApplicationRow {
    ApplicationRow {
        id: c.0,
        client_id: c.1,
        name: c.2,
        purpose: c.3,
        cert_types: split_list(&c.4),
        fields: split_list(&c.5),
        callback_url: c.6,
        identity_provider: c.7 != 0,
        created_at: c.8,
        revoked_at: c.9,
    }
}

type KeyCols = (i64, String, String, i64, Option<i64>, Option<i64>);

fn key_from(c: KeyCols) -> AppKeyRow {
    AppKeyRow {
        application_id: c.0,
        kid: c.1,
        jwk: c.2,
        added_at: c.3,
        expires_at: c.4,
        revoked_at: c.5,
    }
}

const GRANT_COLS: &str = "id, application_id, holder_id, division, purpose, valid_from, \
                          valid_until, created_at, created_by, revoked_at";

type GrantCols = (
    i64,
    i64,
    Option<String>,
    Option<i64>,
    String,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
);

impl SqliteTx<'_> {
    fn grants_where(
        &self,
        condition: &str,
        value: rusqlite::types::Value,
    ) -> Result<Vec<GrantRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {GRANT_COLS} FROM grants WHERE {condition} ORDER BY id"
        ))?;
        let rows = stmt
            .query_map([value], |r| GrantCols::try_from(r))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut items = self.conn.prepare_cached(
            "SELECT cert_type, number FROM grant_items WHERE grant_id = ?1 ORDER BY rowid",
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for c in rows {
            let list = items
                .query_map([c.0], |r| {
                    Ok(GrantItem {
                        cert_type: r.get(0)?,
                        number: r.get(1)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            out.push(GrantRow {
                id: c.0,
                application_id: c.1,
                holder_id: c.2,
                division: c.3.map(division_of).transpose()?,
                purpose: c.4,
                valid_from: c.5,
                valid_until: c.6,
                created_at: c.7,
                created_by: c.8,
                revoked_at: c.9,
                items: list,
            });
        }
        Ok(out)
    }
}

impl AppsTx for SqliteTx<'_> {
    fn insert_app_check(&mut self, c: &AppCheckRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO app_checks (application_id, at, kind, signature, presented,
                                     presentation, cert_type, number, cert_division, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                c.application_id,
                c.at,
                c.kind,
                c.signature,
                c.presented,
                c.presentation,
                c.cert_type,
                c.number,
                c.cert_division,
                c.reason
            ],
        )?;
        Ok(())
    }

    fn app_checks(&mut self, from: i64, to: i64) -> Result<Vec<AppCheckRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, application_id, at, kind, signature, presented, presentation,
                    cert_type, number, cert_division, reason
             FROM app_checks WHERE at >= ?1 AND at < ?2 ORDER BY at, id",
        )?;
        let rows = stmt
            .query_map(params![from, to], |r| {
                Ok(AppCheckRow {
                    id: r.get(0)?,
                    application_id: r.get(1)?,
                    at: r.get(2)?,
                    kind: r.get(3)?,
                    signature: r.get(4)?,
                    presented: r.get(5)?,
                    presentation: r.get(6)?,
                    cert_type: r.get(7)?,
                    number: r.get(8)?,
                    cert_division: r.get(9)?,
                    reason: r.get(10)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn app_checks_oldest(&mut self, before: i64) -> Result<Option<i64>, StoreError> {
        Ok(self.row(
            "SELECT min(at) FROM app_checks WHERE at < ?1",
            params![before],
            |r| r.get(0),
        )?)
    }

    fn purge_app_checks(&mut self, before: i64, limit: u32) -> Result<u64, StoreError> {
        let n = self.exec(
            "DELETE FROM app_checks WHERE id IN (
                 SELECT id FROM app_checks WHERE at < ?1 ORDER BY at, id LIMIT ?2)",
            params![before, limit],
        )?;
        Ok(n as u64)
    }

    fn insert_grant(&mut self, g: &GrantRow) -> Result<i64, StoreError> {
        self.exec(
            "INSERT INTO grants (application_id, holder_id, division, purpose, valid_from,
                                 valid_until, created_at, created_by, revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                g.application_id,
                g.holder_id,
                g.division.map(DivisionCode::code),
                g.purpose,
                g.valid_from,
                g.valid_until,
                g.created_at,
                g.created_by,
                g.revoked_at,
            ],
        )?;
        let id = self.conn.last_insert_rowid();
        for item in &g.items {
            self.exec(
                "INSERT INTO grant_items (grant_id, cert_type, number) VALUES (?1, ?2, ?3)",
                params![id, item.cert_type, item.number],
            )?;
        }
        Ok(id)
    }

    fn grant(&mut self, id: i64) -> Result<Option<GrantRow>, StoreError> {
        Ok(self.grants_where("id = ?1", id.into())?.pop())
    }

    fn grants(&mut self, by: GrantsOf<'_>) -> Result<Vec<GrantRow>, StoreError> {
        match by {
            GrantsOf::Holder(h) => self.grants_where("holder_id = ?1", h.to_string().into()),
            GrantsOf::Division(d) => self.grants_where("division = ?1", i64::from(d.code()).into()),
            GrantsOf::Application(a) => self.grants_where("application_id = ?1", a.into()),
        }
    }

    fn revoke_grant(&mut self, id: i64, at: i64) -> Result<bool, StoreError> {
        Ok(self.exec(
            "UPDATE grants SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, at],
        )? == 1)
    }

    fn insert_application(&mut self, a: &ApplicationRow) -> Result<Option<i64>, StoreError> {
        let n = self.exec(
            "INSERT INTO applications (client_id, name, purpose, cert_types, fields, callback_url,
                                       identity_provider, created_at, revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (client_id) DO NOTHING",
            params![
                a.client_id,
                a.name,
                a.purpose,
                a.cert_types.join(","),
                a.fields.join(","),
                a.callback_url,
                i64::from(a.identity_provider),
                a.created_at,
                a.revoked_at,
            ],
        )?;
        Ok((n == 1).then(|| self.conn.last_insert_rowid()))
    }

    fn application_by_client_id(
        &mut self,
        client_id: &str,
    ) -> Result<Option<ApplicationRow>, StoreError> {
        Ok(self
            .row(
                &format!("SELECT {APP_COLS} FROM applications WHERE client_id = ?1"),
                [client_id],
                app_cols,
            )
            .optional()?
            .map(app_from))
    }

    fn applications(&mut self) -> Result<Vec<ApplicationRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {APP_COLS} FROM applications ORDER BY id"))?;
        let rows = stmt
            .query_map([], app_cols)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows.into_iter().map(app_from).collect())
    }

    fn revoke_application(&mut self, id: i64, at: i64) -> Result<bool, StoreError> {
        Ok(self.exec(
            "UPDATE applications SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, at],
        )? == 1)
    }

    fn insert_app_key(&mut self, k: &AppKeyRow) -> Result<bool, StoreError> {
        Ok(self.exec(
            "INSERT INTO application_keys (application_id, kid, jwk, added_at, expires_at, revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            params![
                k.application_id,
                k.kid,
                k.jwk,
                k.added_at,
                k.expires_at,
                k.revoked_at
            ],
        )? == 1)
    }

    fn app_keys(&mut self, application_id: i64) -> Result<Vec<AppKeyRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT application_id, kid, jwk, added_at, expires_at, revoked_at
             FROM application_keys WHERE application_id = ?1 ORDER BY added_at, kid",
        )?;
        let rows = stmt
            .query_map([application_id], |r| KeyCols::try_from(r))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows.into_iter().map(key_from).collect())
    }

    fn set_app_key_expiry(
        &mut self,
        application_id: i64,
        kid: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        Ok(self.exec(
            "UPDATE application_keys SET expires_at = ?3 WHERE application_id = ?1 AND kid = ?2",
            params![application_id, kid, expires_at],
        )? == 1)
    }

    fn revoke_app_key(
        &mut self,
        application_id: i64,
        kid: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        Ok(self.exec(
            "UPDATE application_keys SET revoked_at = ?3
             WHERE application_id = ?1 AND kid = ?2 AND revoked_at IS NULL",
            params![application_id, kid, at],
        )? == 1)
    }

    fn use_assertion_id(
        &mut self,
        issuer: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.exec("DELETE FROM assertion_ids WHERE expires_at < ?1", [now])?;
        Ok(self.exec(
            "INSERT INTO assertion_ids (issuer, jti, expires_at) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![issuer, jti, expires_at],
        )? == 1)
    }
}
