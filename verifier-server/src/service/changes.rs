//! The change feed of registered applications (issue 13 item 4): every
//! new version, status change and grant revocation is appended to
//! `cert_changes` in the transaction of the change ([`versions`],
//! [`status`], and consent's revocation of a grant); an application reads the changes it
//! may see after a cursor ([`feed`]). Visibility ([`visible`]) is decided
//! at read time against the application's grants as they stood when the
//! change happened: a grant active at the change's time and not revoked
//! since covers it ([`super::consent::covers`]); a revoked grant's own
//! `grant_revoked` change is the last the application hears of it.
//!
//! The webhook outbox (`webhook_outbox`) is filled by [`announce`] and
//! drained by the notifier (`crate::notifier`): [`due`], [`attempted`].

use shared::api::apps::{CertificateChange, ChangeFeed};
use shared::status::Status;

use super::action::Action;
use super::apps::AppsError;
use super::auth::Caller;
use super::lookup::status_name;
use crate::store::{
    ApplicationRow, CertChangeRow, GrantRow, GrantsOf, Store, StoreError, Tx, VersionRow,
    WebhookRow,
};

/// Most changes of one page.
pub const MAX_PAGE: u32 = 500;
/// Changes of a page when the query names no limit.
pub const DEFAULT_PAGE: u32 = 100;
/// Most changes looked at for one page (the rest of the page is answered
/// with `more` and a cursor past what was looked at).
pub const MAX_SCAN: u32 = 5_000;

fn row(v: &VersionRow, kind: &str, status: Status, now: i64) -> CertChangeRow {
    CertChangeRow {
        id: 0,
        at: now,
        kind: kind.into(),
        cert_type: Some(v.cert_type.code().into()),
        number: Some(v.number.clone()),
        version: Some(v.version),
        status: Some(status_name(status).into()),
        holder_id: v.holder_id.clone(),
        issuer_division: Some(v.issuer_division.code()),
        grant_id: None,
    }
}

/// The changes of newly stored versions: `issued` (version 1) or
/// `new_version`.
pub fn versions<'a>(
    rows: impl IntoIterator<Item = &'a VersionRow>,
    now: i64,
) -> Vec<CertChangeRow> {
    rows.into_iter()
        .map(|v| {
            let kind = if v.version <= 1 {
                "issued"
            } else {
                "new_version"
            };
            row(v, kind, v.status, now)
        })
        .collect()
}

/// The change of a status change of version `v` from `from` to `to`.
pub fn status(v: &VersionRow, from: Status, to: Status, now: i64) -> CertChangeRow {
    let kind = match (from, to) {
        (_, Status::Revoked) => "cancelled",
        (_, Status::Suspended) => "suspended",
        (Status::Suspended, Status::Valid) => "reinstated",
        (_, Status::Superseded) => "superseded",
        (_, Status::Valid) => "reinstated",
    };
    row(v, kind, to, now)
}

/// Whether `app`, holding `grants`, may see change `c`: a revocation of
/// one of its own grants, or a change of a certificate of a registered
/// type covered by one of its grants that was active at the change and is
/// not revoked.
pub fn visible(app: &ApplicationRow, grants: &[GrantRow], c: &CertChangeRow) -> bool {
    if c.kind == "grant_revoked" {
        return c
            .grant_id
            .is_some_and(|id| grants.iter().any(|g| g.id == id));
    }
    let (Some(cert_type), Some(number)) = (c.cert_type.as_deref(), c.number.as_deref()) else {
        return false;
    };
    if !app.cert_types.iter().any(|t| t == cert_type) {
        return false;
    }
    let issuer = c
        .issuer_division
        .and_then(|d| shared::domain::DivisionCode::from_u32(d).ok());
    grants.iter().any(|g| {
        g.revoked_at.is_none()
            && g.valid_from <= c.at
            && c.at < g.valid_until
            && super::consent::covers(g, cert_type, number, c.holder_id.as_deref(), issuer)
    })
}

fn entry(c: &CertChangeRow) -> CertificateChange {
    CertificateChange {
        cursor: c.id,
        at: c.at,
        change: c.kind.clone(),
        cert_type: c.cert_type.clone(),
        number: c.number.clone(),
        version: c.version,
        status: c.status.clone(),
        grant_id: c.grant_id,
    }
}

/// The visible changes after `after` (at most `limit`, at most
/// [`MAX_SCAN`] looked at) and the cursor past the last one looked at.
fn scan(
    tx: &mut dyn Tx,
    app: &ApplicationRow,
    grants: &[GrantRow],
    after: i64,
    limit: u32,
) -> Result<(Vec<CertificateChange>, i64, bool), StoreError> {
    let (mut out, mut next, mut looked) = (Vec::new(), after, 0_u32);
    loop {
        let chunk = tx.cert_changes_after(next, 500)?;
        let full = chunk.len() == 500;
        for c in &chunk {
            looked += 1;
            next = c.id;
            if visible(app, grants, c) {
                out.push(entry(c));
                if out.len() as u32 >= limit {
                    let more = full || c.id != chunk.last().map_or(c.id, |l| l.id);
                    return Ok((out, next, more));
                }
            }
        }
        if !full {
            return Ok((out, next, false));
        }
        if looked >= MAX_SCAN {
            return Ok((out, next, true));
        }
    }
}

/// A page of the calling application's change feed after cursor `after`.
pub fn feed(
    store: &dyn Store,
    caller: &Caller,
    after: Option<i64>,
    limit: Option<u32>,
    now: i64,
) -> Result<ChangeFeed, AppsError> {
    let after = after.unwrap_or(0);
    if after < 0 {
        return Err(AppsError::Malformed("after: a cursor, 0 or more".into()));
    }
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppsError::Malformed("limit: 1 to 500".into()));
    }
    let mut tx = store.begin()?;
    let app = super::apps::application_of(&mut *tx, caller)?;
    let grants = tx.grants(GrantsOf::Application(app.id))?;
    let (changes, next, more) = scan(&mut *tx, &app, &grants, after, limit)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::AppChanges,
        format!(
            "{} changes after {after} to {} (next {next})",
            changes.len(),
            app.client_id
        ),
        "ok",
    ))?;
    tx.commit()?;
    Ok(ChangeFeed {
        changes,
        next,
        more,
    })
}

/// Fills the webhook outbox: for every registered, unrevoked application
/// with a callback URL, the newest change it may see beyond what was
/// scanned for it becomes its cursor to announce (due now unless a
/// delivery is backing off). Returns how many applications have a new
/// cursor.
pub fn announce(store: &dyn Store, now: i64) -> Result<usize, StoreError> {
    let mut tx = store.begin()?;
    let last = tx.last_cert_change()?;
    let apps = tx.applications()?;
    tx.commit()?;
    let mut announced = 0;
    for app in apps
        .iter()
        .filter(|a| a.revoked_at.is_none() && a.callback_url.is_some())
    {
        let mut tx = store.begin()?;
        let mut hook = tx.webhook(app.id)?.unwrap_or(WebhookRow {
            application_id: app.id,
            cursor: 0,
            delivered: 0,
            scanned: 0,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
        });
        if hook.scanned >= last {
            continue;
        }
        let grants = tx.grants(GrantsOf::Application(app.id))?;
        let mut after = hook.scanned;
        let mut newest = None;
        while after < last {
            let chunk = tx.cert_changes_after(after, 500)?;
            let Some(end) = chunk.last().map(|c| c.id) else {
                break;
            };
            if let Some(c) = chunk.iter().rev().find(|c| visible(app, &grants, c)) {
                newest = Some(c.id);
            }
            after = end;
        }
        hook.scanned = after.max(hook.scanned);
        if let Some(cursor) = newest.filter(|c| *c > hook.cursor) {
            if hook.cursor <= hook.delivered {
                // Nothing was waiting: announce now, with a fresh back-off.
                hook.attempts = 0;
                hook.next_attempt_at = now;
            }
            hook.cursor = cursor;
            announced += 1;
        }
        tx.put_webhook(&hook)?;
        tx.commit()?;
    }
    Ok(announced)
}

/// The webhook deliveries due at `now` (at most `limit`), each claimed
/// until `now + lease` so another server instance does not send it too.
pub fn due(
    store: &dyn Store,
    now: i64,
    limit: u32,
    lease: i64,
) -> Result<Vec<(WebhookRow, ApplicationRow)>, StoreError> {
    let mut tx = store.begin()?;
    let rows = tx.webhooks_due(now, limit)?;
    let apps = tx.applications()?;
    let mut out = Vec::new();
    for r in rows {
        let Some(app) = apps
            .iter()
            .find(|a| a.id == r.application_id && a.revoked_at.is_none())
        else {
            continue;
        };
        if app.callback_url.is_none() {
            continue;
        }
        if tx.claim_webhook(
            r.application_id,
            r.next_attempt_at,
            now.saturating_add(lease),
        )? {
            out.push((r, app.clone()));
        }
    }
    tx.commit()?;
    Ok(out)
}

/// Records a delivery attempt of `sent` (the row as claimed): delivered,
/// or failed with `error` and retried after `retry_in` seconds.
pub fn attempted(
    store: &dyn Store,
    sent: &WebhookRow,
    error: Option<&str>,
    retry_in: impl FnOnce(u32) -> i64,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = store.begin()?;
    let Some(mut hook) = tx.webhook(sent.application_id)? else {
        return Ok(());
    };
    match error {
        None => {
            hook.delivered = hook.delivered.max(sent.cursor);
            hook.attempts = 0;
            hook.last_error = None;
            hook.next_attempt_at = now;
        }
        Some(e) => {
            hook.attempts = hook.attempts.saturating_add(1);
            hook.last_error = Some(e.chars().take(500).collect());
            hook.next_attempt_at = now.saturating_add(retry_in(hook.attempts));
        }
    }
    tx.put_webhook(&hook)?;
    tx.commit()
}
