//! The audit log as the auditor reads it: a page of rows after a row id,
//! oldest first, the read itself audited in the same transaction.

use shared::api::{AuditPage, AuditView};

use super::action::Action;
use super::auth::Caller;
use crate::store::{Store, StoreError};

/// Rows per page when no limit is given.
pub const DEFAULT_LIMIT: u32 = 100;
/// Most rows per page.
pub const MAX_LIMIT: u32 = 1000;

/// Why a read of the audit log was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditLogError {
    /// A parameter out of range; the text names it.
    #[error("{0}")]
    Malformed(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The rows after row `after` (at most `limit`, [`DEFAULT_LIMIT`] when
/// `None`), with the read's own audit row in the same transaction.
pub fn page(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    after: Option<i64>,
    limit: Option<u32>,
) -> Result<AuditPage, AuditLogError> {
    let after = after.unwrap_or(0);
    if after < 0 {
        return Err(AuditLogError::Malformed(format!(
            "query parameter after: {after} is negative"
        )));
    }
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AuditLogError::Malformed(format!(
            "query parameter limit: {limit} is not between 1 and {MAX_LIMIT}"
        )));
    }
    let mut tx = store.begin()?;
    let rows = tx.audit_after(after, limit)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::ReadAudit,
        format!("after={after} limit={limit}: {} rows", rows.len()),
        "ok",
    ))?;
    tx.commit()?;
    let next_after = rows.last().map_or(after, |r| r.id);
    let entries = rows
        .into_iter()
        .map(|r| AuditView {
            id: r.id,
            ts: r.entry.ts,
            token_id: r.entry.token_id,
            role: r.entry.role,
            action: r.entry.action,
            target: r.entry.target,
            outcome: r.entry.outcome,
            client_addr: r.entry.client_addr,
        })
        .collect();
    Ok(AuditPage {
        entries,
        next_after,
    })
}
