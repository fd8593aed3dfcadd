//! The annual evaluation read from the store: a year's [`Data`] loaded in
//! one transaction, then scored by the pure [`crate::evaluation`] rules.

use crate::evaluation::data::EvalDevice;
use crate::evaluation::{evaluate, month_start, Data, Evaluation};
use crate::store::{StoreError, Tx};

/// Loads a year's data.
pub fn load(tx: &mut dyn Tx, year: i32) -> Result<Data, StoreError> {
    let (from, to) = (month_start(year, 1), month_start(year, 13));
    Ok(Data {
        certs: tx.eval_certificates()?,
        corrections: tx.eval_open_corrections()?,
        checks: tx.eval_checks(from, to)?,
        batches: tx.eval_batches()?,
        devices: tx
            .devices(None)?
            .into_iter()
            .map(|d| EvalDevice {
                id: d.id,
                token_id: d.token_id,
                division: d.division,
                enrolled_at: d.enrolled_at,
                revoked_at: d.revoked_at,
            })
            .collect(),
        status_seq: tx.status_state()?.map(|s| s.list.seq),
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
