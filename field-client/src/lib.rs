//! field-client: the officer's offline verifier (R8, R10, R12).
//!
//! - [`device`]: the device key file and the clock (`FIELD_CLIENT_NOW`);
//! - [`db`]: `client.db` — enrollment, verified lists, the check log;
//! - [`check`]: verify offline and append the check to the log, durably,
//!   before anything is shown;
//! - [`sync`]: enrollment, list sync (verify everything, then apply in one
//!   transaction) and idempotent log upload;
//! - [`view`]: claims → named face fields (the card, `--json`, lookup);
//! - [`lookup`]: online lookup by plate, ID or number, logged as kind 2;
//! - [`card`]: the verdict card;
//! - [`net`]: the HTTP client;
//! - [`seal`]: the store seal (pinned root, high-water marks, HMAC);
//! - [`private_fs`]: owner-only modes of the data directory;
//! - [`serve`]: `field-client serve`, the scanner page and its local API;
//! - [`view`]: the result screen's face fields.
#![forbid(unsafe_code)]

pub mod card;
pub mod check;
pub mod db;
pub mod device;
pub mod lookup;
pub mod net;
pub use ownerfs as private_fs;
pub mod seal;
pub mod serve;
pub mod sync;
pub mod view;
