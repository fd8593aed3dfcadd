//! One test kit for the workspace: every integration test of the server,
//! the field client and the end-to-end crate builds its server, clock,
//! tokens and records here instead of in a private harness.
//!
//! - [`TestServer`]: the server in process, its router driven with
//!   `tower::ServiceExt::oneshot`;
//! - [`SocketServer`]: the same state served on 127.0.0.1 by
//!   [`verifier_server::run`], stopped by a shutdown handle;
//! - [`ChildServer`]: the real `verifier-server` binary as a child process,
//!   ready once `/healthz` answers, killed on drop;
//! - [`ManualClock`], [`Tokens`] per role, [`records`] (valid and
//!   non-conforming), [`assert_problem`] for RFC 9457 bodies, [`tempdir`];
//! - [`engine()`]: the ONE place that chooses the storage engine
//!   (SQLite in a temporary directory, or `LNEC_TEST_POSTGRES`).
//!
//! A test kit panics on failure (a failed set-up is a failed test), so
//! `unwrap`/`expect` are allowed here.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod browser;
pub mod child;
pub mod clock;
pub mod engine;
pub mod inproc;
pub mod problem;
pub mod records;
pub mod socket;
pub mod tokens;
pub mod view;

pub use child::{
    agent, agent_trusting, binary, describe, field_client, free_port, json_lines, server_admin,
    server_admin_on_database, server_admin_with, ChildServer,
};
pub use clock::ManualClock;
pub use engine::{blocking, engine, engines, open_state, Engine};
pub use inproc::{get_from, open_at, send_to, Reply, TestServer};
pub use problem::{assert_problem, assert_problem_type, check_problem, problem_detail};
pub use socket::SocketServer;
pub use tokens::{token, Tokens};
pub use view::Verifier;

/// 2026-06-01 10:00 China Standard Time: every sample record is valid, and
/// it is after every demo issue date.
pub const T0: i64 = 1_780_279_200;

/// A fresh temporary directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("creating a temporary directory")
}
