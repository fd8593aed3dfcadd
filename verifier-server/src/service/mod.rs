//! The rules, one module per area. A service takes what it works on (a
//! store or a transaction, the caller, `now`, the inputs) and returns a
//! typed error; it never imports `http`, `axum` or the state, and writes
//! the audit row of its own success in the transaction of its effect.

pub mod action;
pub mod admin;
pub mod apps;
pub mod audit_log;
pub mod auth;
pub mod changes;
pub mod consent;
pub mod delegations;
pub mod devices;
pub mod evaluation;
pub mod forward;
pub mod holders;
pub mod issuing;
pub mod keys;
pub mod lists;
pub mod logs;
pub mod lookup;
pub mod maintenance;
pub mod outages;
pub mod peers;
pub mod retry;
pub mod uploads;
pub use ownerfs as private_fs;
