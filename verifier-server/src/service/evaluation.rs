//! The annual evaluation read from the store: a year's [`Data`] loaded in
//! one transaction, then scored by the pure [`crate::evaluation`] rules.

use crate::evaluation::{evaluate, month_start, Data, Evaluation};
use crate::store::{StoreError, Tx};

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

/// Loads and computes a year's evaluation; a year whose check logs were
/// purged (retention) answers the result stored before the purge.
pub fn run(tx: &mut dyn Tx, year: i32) -> Result<Evaluation, StoreError> {
    if let Some(json) = tx.eval_result(year)? {
        return serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("stored evaluation of {year}: {e}")));
    }
    Ok(evaluate(&load(tx, year)?, year))
}

/// Computes a year's evaluation from its records and stores it, so it
/// survives the purge of those records (see `maintenance::purge`).
pub fn keep(tx: &mut dyn Tx, year: i32, now: i64) -> Result<(), StoreError> {
    if tx.eval_result(year)?.is_some() {
        return Ok(());
    }
    let e = evaluate(&load(tx, year)?, year);
    let json = serde_json::to_string(&e)
        .map_err(|e| StoreError::Corrupt(format!("encoding the evaluation of {year}: {e}")))?;
    tx.set_eval_result(year, &json, now)
}
