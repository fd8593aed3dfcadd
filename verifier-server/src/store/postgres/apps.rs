//! [`AppsTx`] on PostgreSQL: registered applications, their keys, used
//! assertion identifiers.

use ::postgres::Row;

use super::{col, PgTx};
use crate::store::apps::split_list;
use crate::store::{
    division_of, u32_of, AppCheckRow, AppKeyRow, ApplicationRow, AppsTx, GrantItem, GrantRow,
    GrantsOf, StoreError,
};

const APP_COLS: &str = "id, client_id, name, purpose, cert_types, fields, callback_url, \
                        identity_provider, created_at, revoked_at";

fn app_from(r: &Row) -> Result<ApplicationRow, StoreError> {
    Ok(ApplicationRow {
        id: col(r, 0)?,
        client_id: col(r, 1)?,
        name: col(r, 2)?,
        purpose: col(r, 3)?,
        cert_types: split_list(col(r, 4)?),
        fields: split_list(col(r, 5)?),
        callback_url: col(r, 6)?,
        identity_provider: col(r, 7)?,
        created_at: col(r, 8)?,
        revoked_at: col(r, 9)?,
    })
}

fn key_from(r: &Row) -> Result<AppKeyRow, StoreError> {
    Ok(AppKeyRow {
        application_id: col(r, 0)?,
        kid: col(r, 1)?,
        jwk: col(r, 2)?,
        added_at: col(r, 3)?,
        expires_at: col(r, 4)?,
        revoked_at: col(r, 5)?,
    })
}

const GRANT_COLS: &str = "id, application_id, holder_id, division, purpose, valid_from, \
                          valid_until, created_at, created_by, revoked_at";

impl PgTx<'_> {
    fn grants_where(
        &mut self,
        condition: &str,
        value: &(dyn ::postgres::types::ToSql + Sync),
    ) -> Result<Vec<GrantRow>, StoreError> {
        let rows = self.rows(
            &format!("SELECT {GRANT_COLS} FROM grants WHERE {condition} ORDER BY id"),
            &[value],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = col(r, 0)?;
            let items = self
                .rows(
                    "SELECT cert_type, number FROM grant_items WHERE grant_id = $1 ORDER BY ctid",
                    &[&id],
                )?
                .iter()
                .map(|i| {
                    Ok(GrantItem {
                        cert_type: col(i, 0)?,
                        number: col(i, 1)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            out.push(GrantRow {
                id,
                application_id: col(r, 1)?,
                holder_id: col(r, 2)?,
                division: col::<Option<i64>>(r, 3)?.map(division_of).transpose()?,
                purpose: col(r, 4)?,
                valid_from: col(r, 5)?,
                valid_until: col(r, 6)?,
                created_at: col(r, 7)?,
                created_by: col(r, 8)?,
                revoked_at: col(r, 9)?,
                items,
            });
        }
        Ok(out)
    }
}

impl AppsTx for PgTx<'_> {
    fn insert_app_check(&mut self, c: &AppCheckRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO app_checks (application_id, at, kind, signature, presented,
                                     presentation, cert_type, number, cert_division, reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &c.application_id,
                &c.at,
                &c.kind,
                &c.signature,
                &c.presented,
                &c.presentation,
                &c.cert_type,
                &c.number,
                &c.cert_division.map(i64::from),
                &c.reason,
            ],
        )?;
        Ok(())
    }

    fn app_checks(&mut self, from: i64, to: i64) -> Result<Vec<AppCheckRow>, StoreError> {
        self.rows(
            "SELECT id, application_id, at, kind, signature, presented, presentation,
                    cert_type, number, cert_division, reason
             FROM app_checks WHERE at >= $1 AND at < $2 ORDER BY at, id",
            &[&from, &to],
        )?
        .iter()
        .map(|r| {
            Ok(AppCheckRow {
                id: col(r, 0)?,
                application_id: col(r, 1)?,
                at: col(r, 2)?,
                kind: col(r, 3)?,
                signature: col(r, 4)?,
                presented: col(r, 5)?,
                presentation: col(r, 6)?,
                cert_type: col(r, 7)?,
                number: col(r, 8)?,
                cert_division: col::<Option<i64>>(r, 9)?
                    .map(|d| u32_of(d, "division"))
                    .transpose()?,
                reason: col(r, 10)?,
            })
        })
        .collect()
    }

    fn app_checks_oldest(&mut self, before: i64) -> Result<Option<i64>, StoreError> {
        Ok(self
            .one_row("SELECT min(at) FROM app_checks WHERE at < $1", &[&before])?
            .try_get(0)?)
    }

    fn purge_app_checks(&mut self, before: i64, limit: u32) -> Result<u64, StoreError> {
        self.exec(
            "DELETE FROM app_checks WHERE id IN (
                 SELECT id FROM app_checks WHERE at < $1 ORDER BY at, id LIMIT $2)",
            &[&before, &i64::from(limit)],
        )
    }

    fn insert_grant(&mut self, g: &GrantRow) -> Result<i64, StoreError> {
        let r = self.one_row(
            "INSERT INTO grants (application_id, holder_id, division, purpose, valid_from,
                                 valid_until, created_at, created_by, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            &[
                &g.application_id,
                &g.holder_id,
                &g.division.map(|d| i64::from(d.code())),
                &g.purpose,
                &g.valid_from,
                &g.valid_until,
                &g.created_at,
                &g.created_by,
                &g.revoked_at,
            ],
        )?;
        let id: i64 = col(&r, 0)?;
        for item in &g.items {
            self.exec(
                "INSERT INTO grant_items (grant_id, cert_type, number) VALUES ($1, $2, $3)",
                &[&id, &item.cert_type, &item.number],
            )?;
        }
        Ok(id)
    }

    fn grant(&mut self, id: i64) -> Result<Option<GrantRow>, StoreError> {
        Ok(self.grants_where("id = $1", &id)?.pop())
    }

    fn grants(&mut self, by: GrantsOf<'_>) -> Result<Vec<GrantRow>, StoreError> {
        match by {
            GrantsOf::Holder(h) => self.grants_where("holder_id = $1", &h),
            GrantsOf::Division(d) => self.grants_where("division = $1", &i64::from(d.code())),
            GrantsOf::Application(a) => self.grants_where("application_id = $1", &a),
        }
    }

    fn revoke_grant(&mut self, id: i64, at: i64) -> Result<bool, StoreError> {
        Ok(self.exec(
            "UPDATE grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &at],
        )? == 1)
    }

    fn insert_application(&mut self, a: &ApplicationRow) -> Result<Option<i64>, StoreError> {
        let row = self.opt_row(
            "INSERT INTO applications (client_id, name, purpose, cert_types, fields, callback_url,
                                       identity_provider, created_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (client_id) DO NOTHING
             RETURNING id",
            &[
                &a.client_id,
                &a.name,
                &a.purpose,
                &a.cert_types.join(","),
                &a.fields.join(","),
                &a.callback_url,
                &a.identity_provider,
                &a.created_at,
                &a.revoked_at,
            ],
        )?;
        row.map(|r| col(&r, 0)).transpose()
    }

    fn application_by_client_id(
        &mut self,
        client_id: &str,
    ) -> Result<Option<ApplicationRow>, StoreError> {
        self.opt_row(
            &format!("SELECT {APP_COLS} FROM applications WHERE client_id = $1"),
            &[&client_id],
        )?
        .map(|r| app_from(&r))
        .transpose()
    }

    fn applications(&mut self) -> Result<Vec<ApplicationRow>, StoreError> {
        self.rows(
            &format!("SELECT {APP_COLS} FROM applications ORDER BY id"),
            &[],
        )?
        .iter()
        .map(app_from)
        .collect()
    }

    fn revoke_application(&mut self, id: i64, at: i64) -> Result<bool, StoreError> {
        Ok(self.exec(
            "UPDATE applications SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &at],
        )? == 1)
    }

    fn insert_app_key(&mut self, k: &AppKeyRow) -> Result<bool, StoreError> {
        Ok(self.exec(
            "INSERT INTO application_keys (application_id, kid, jwk, added_at, expires_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            &[
                &k.application_id,
                &k.kid,
                &k.jwk,
                &k.added_at,
                &k.expires_at,
                &k.revoked_at,
            ],
        )? == 1)
    }

    fn app_keys(&mut self, application_id: i64) -> Result<Vec<AppKeyRow>, StoreError> {
        self.rows(
            "SELECT application_id, kid, jwk, added_at, expires_at, revoked_at
             FROM application_keys WHERE application_id = $1 ORDER BY added_at, kid",
            &[&application_id],
        )?
        .iter()
        .map(key_from)
        .collect()
    }

    fn set_app_key_expiry(
        &mut self,
        application_id: i64,
        kid: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        Ok(self.exec(
            "UPDATE application_keys SET expires_at = $3 WHERE application_id = $1 AND kid = $2",
            &[&application_id, &kid, &expires_at],
        )? == 1)
    }

    fn revoke_app_key(
        &mut self,
        application_id: i64,
        kid: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        Ok(self.exec(
            "UPDATE application_keys SET revoked_at = $3
             WHERE application_id = $1 AND kid = $2 AND revoked_at IS NULL",
            &[&application_id, &kid, &at],
        )? == 1)
    }

    fn use_assertion_id(
        &mut self,
        issuer: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.exec("DELETE FROM assertion_ids WHERE expires_at < $1", &[&now])?;
        Ok(self.exec(
            "INSERT INTO assertion_ids (issuer, jti, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&issuer, &jti, &expires_at],
        )? == 1)
    }
}
