//! Pure core of the Liaoning road-transport electronic certificate system.
//!
//! Everything the provincial server, the officer's field client and the
//! holder's wallet must agree on lives here: the nine certificate types and
//! their data rules ([`domain`]), the signed wire format ([`wire`], [`cose`],
//! [`qrtext`], [`presentation`]), keys ([`crypto`]), the signed status and
//! trust lists ([`status`], [`trust`]) and the one offline verification entry
//! point ([`verify`]).
//!
//! This crate does no I/O: no network, no files, no clock, no logging. Time,
//! keys and randomness come in as arguments. The one exception, documented in
//! [`qr`], is a watchdog thread that bounds image decoding.
#![forbid(unsafe_code)]

pub mod api;
pub mod calendar;
pub mod cbor;
pub mod checklog;
pub mod cose;
pub mod crypto;
pub mod cst;
pub mod csvexport;
pub mod domain;
pub mod forward;
pub mod national;
pub mod presentation;
#[cfg(feature = "imaging")]
pub mod qr;
pub mod qrtext;
pub mod status;
pub mod trust;
pub mod verify;
pub mod view;
pub mod wire;
