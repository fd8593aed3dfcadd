//! Outage reports (§5.3): an agency that could not push because of a fault
//! reports the fault period; it re-pushes within two working days after
//! the fault ends. The deadline is counted on the working-day calendar
//! ([`shared::calendar`]) and moves the agency's overdue deadline
//! ([`super::issuing::push_due_by`]).

use shared::api::{OutageList, OutageRequest, OutageView};
use shared::calendar::{Basis, WorkingCalendar};
use shared::cst;
use shared::domain::DivisionCode;

use super::action::Action;
use super::auth::Caller;
use super::issuing::PUSH_WORKING_DAYS;
use crate::store::{OutageRow, Store, StoreError};

/// The longest reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// Why an outage report was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutageError {
    /// A time is not RFC 3339, or the reason is empty or too long (the
    /// message names the field).
    #[error("{0}")]
    Invalid(String),
    /// The fault ends before (or when) it starts.
    #[error("until ({until}) is not after from ({from})")]
    UntilBeforeFrom {
        /// `from` as sent.
        from: String,
        /// `until` as sent.
        until: String,
    },
    /// The fault has not ended yet: it is reported once it is over.
    #[error("until ({0}) is in the future: report the fault once it has ended")]
    InFuture(String),
    /// The period overlaps one the agency already reported.
    #[error("the period overlaps outage {id} ({from} to {until}) already reported")]
    Overlap {
        /// The earlier report's id.
        id: i64,
        /// Its start, RFC 3339.
        from: String,
        /// Its end, RFC 3339.
        until: String,
    },
    /// Only an agency with a division reports outages.
    #[error("only an issuing agency reports outages")]
    NotAnAgency,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn instant(field: &str, s: &str) -> Result<i64, OutageError> {
    cst::parse_rfc3339(s.trim()).map_err(|e| {
        OutageError::Invalid(format!(
            "{field}: {s:?} is not an RFC 3339 time such as 2026-06-01T08:00:00+08:00 ({e})"
        ))
    })
}

fn view(o: &OutageRow, basis: Basis) -> OutageView {
    OutageView {
        id: o.id,
        division: o.division.code(),
        from: cst::rfc3339(o.from),
        until: cst::rfc3339(o.until),
        reason: o.reason.clone(),
        repush_deadline: cst::rfc3339(o.repush_deadline),
        calendar_basis: basis,
        reported_at: cst::rfc3339(o.reported_at),
    }
}

fn agency(caller: &Caller) -> Result<DivisionCode, OutageError> {
    caller.division.ok_or(OutageError::NotAnAgency)
}

/// Records an agency's outage report at `now` and answers it with its
/// re-push deadline; audited in the same transaction.
pub fn report(
    store: &dyn Store,
    calendar: &WorkingCalendar,
    caller: &Caller,
    now: i64,
    req: &OutageRequest,
) -> Result<OutageView, OutageError> {
    let division = agency(caller)?;
    let from = instant("from", &req.from)?;
    let until = instant("until", &req.until)?;
    let reason = req.reason.trim();
    let n = reason.chars().count();
    if n == 0 || n > MAX_REASON_CHARS {
        return Err(OutageError::Invalid(format!(
            "reason: 1 to {MAX_REASON_CHARS} characters, found {n}"
        )));
    }
    if until <= from {
        return Err(OutageError::UntilBeforeFrom {
            from: req.from.clone(),
            until: req.until.clone(),
        });
    }
    if until > now {
        return Err(OutageError::InFuture(req.until.clone()));
    }
    let (repush_deadline, basis) = calendar.deadline_after(until, PUSH_WORKING_DAYS);
    let mut tx = store.begin()?;
    if let Some(o) = tx
        .outages(Some(division))?
        .into_iter()
        .find(|o| o.from < until && from < o.until)
    {
        return Err(OutageError::Overlap {
            id: o.id,
            from: cst::rfc3339(o.from),
            until: cst::rfc3339(o.until),
        });
    }
    let mut row = OutageRow {
        id: 0,
        division,
        from,
        until,
        reason: reason.to_owned(),
        repush_deadline,
        reported_at: now,
    };
    row.id = tx.insert_outage(&row)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::ReportOutage,
        format!(
            "outage {} division {} {} to {}",
            row.id,
            division.code(),
            cst::rfc3339(from),
            cst::rfc3339(until)
        ),
        "ok",
    ))?;
    tx.commit()?;
    Ok(view(&row, basis))
}

/// The caller agency's own outage reports, oldest fault first; audited.
pub fn list(
    store: &dyn Store,
    calendar: &WorkingCalendar,
    caller: &Caller,
    now: i64,
) -> Result<OutageList, OutageError> {
    let division = agency(caller)?;
    let mut tx = store.begin()?;
    let rows = tx.outages(Some(division))?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::ListOutages,
        format!("division {}: {} outages", division.code(), rows.len()),
        "ok",
    ))?;
    tx.commit()?;
    let outages = rows
        .iter()
        .map(|o| view(o, calendar.deadline_after(o.until, PUSH_WORKING_DAYS).1))
        .collect();
    Ok(OutageList { outages })
}
