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

/// The allocator of every program built on this crate (the server, its
/// benches and tests, the importer): mimalloc. A push parses, validates
/// and signs on every core in short-lived threads; glibc's allocator spent
/// a quarter of the issuing bench in `malloc`/`free` and consolidation,
/// and mimalloc made a push about 1.5× as fast (`docs/decisions.md`,
/// "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use http::{app, run};
pub use service::{admin, apps, auth, issuing, keys, lists, maintenance};
pub use state::{
    create_data_dir, open_store, system_clock, AppState, Clock, Config, Limits, Network,
};
