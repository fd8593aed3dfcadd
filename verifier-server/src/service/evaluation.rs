//! The annual evaluation read from the store: a year's [`Data`] loaded in
//! one transaction, then scored by the pure [`crate::evaluation`] rules.

use super::action::Action;
use super::auth::Caller;
use crate::evaluation::{evaluate, month_start, Data, Evaluation};
use crate::store::{Store, StoreError, Tx};

/// Loads a year's data.
pub fn load(tx: &mut dyn Tx, year: i32) -> Result<Data, StoreError> {
    let (from, to) = (month_start(year, 1), month_start(year, 13));
    Ok(Data {
        certs: tx.eval_certificates()?,
        corrections: tx.eval_open_corrections()?,
        checks: tx.eval_checks(from, to)?,
        refusals: tx.eval_refusals(from, to)?,
        rejected: tx.eval_rejected_uploads(from, to)?,
        training: tx.training(year)?,
        declared: tx.declared(year)?,
        complaints: tx.complaints(year)?,
    })
}

/// Loads and computes a year's evaluation.
pub fn run(tx: &mut dyn Tx, year: i32) -> Result<Evaluation, StoreError> {
    Ok(evaluate(&load(tx, year)?, year))
}

/// A year's evaluation as `caller` reads it (`action`: the API or the
/// dashboard), computed in one transaction with the read's audit row.
pub fn read(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    action: Action,
    year: i32,
) -> Result<Evaluation, StoreError> {
    let mut tx = store.begin()?;
    let e = run(tx.as_mut(), year)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        action,
        format!("year={year}"),
        "ok",
    ))?;
    tx.commit()?;
    Ok(e)
}
