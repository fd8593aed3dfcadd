//! The server's integration tests, one binary: a module per area, each
//! building its server, clock, tokens and records with `testkit` (in
//! process, on a socket, or from a bare state). The crash tests of the
//! real binary are `tests/crash.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agency;
mod api;
mod apps;
mod attacks;
mod changes;
mod consent;
mod dashboard;
mod dashboard_forms;
mod delegations;
mod demo;
mod evaluation;
mod evaluation_api;
mod evidence;
mod forward;
mod holders;
mod jilin;
mod logs;
mod national;
mod ops;
mod ops_net;
mod outages;
mod roles;
mod wallet_files;
