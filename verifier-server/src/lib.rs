//! verifier-server: the provincial collection, issuing and list service.
//!
//! Issuing agencies push certificate records ([`service::issuing`]);
//! conforming ones are signed as e-certificates, the rest kept for
//! correction. The service publishes the signed trust list and status
//! lists ([`service::lists`]). Storage is behind the [`store::Store`] trait
//! ([`store::SqliteStore`] by default); secrets live in files
//! ([`service::keys`]).
//!
//! The modules are layers, each importing only those below it:
//! `demo → http → state → service → store → shared` (see
//! `docs/ARCHITECTURE.md`, "Layers and invariants").
//!
//! [`app`] builds the router from an [`AppState`], [`run`] serves it on a
//! listener until a shutdown future resolves; tests drive [`app`] directly.
#![forbid(unsafe_code)]

pub mod demo;
pub mod evaluation;
pub mod forwarder;
pub mod http;
pub mod metrics;
pub mod national;
pub mod notifier;
pub mod service;
pub mod state;
pub mod store;

pub use http::{app, run};
pub use service::{admin, apps, auth, issuing, keys, lists, maintenance};
pub use state::{
    create_data_dir, open_store, system_clock, AppState, Clock, Config, Limits, Network,
};
