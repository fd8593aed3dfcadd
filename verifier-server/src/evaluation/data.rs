//! The rows the evaluation reads from the store (`EvaluationTx::eval_*`)
//! and the administrator-entered facts it keeps; they are defined by the
//! store ([`crate::store::evaluation`]) and re-exported here.

pub use crate::store::evaluation::{
    ComplaintRow, DeclaredRow, EvalBatch, EvalCert, EvalCheck, EvalCorrection, EvalDevice,
    EvalRefusal, EvalRejectedUpload, Evidence, TrainingRow,
};
