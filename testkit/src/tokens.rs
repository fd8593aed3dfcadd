//! Bearer tokens per role, created through the server's own
//! `auth::create_token` (hashed into the store as the CLI does).

use std::collections::BTreeMap;

use shared::domain::DivisionCode;
use verifier_server::auth::{self, Role};
use verifier_server::AppState;

/// Shenyang, the division of the sample records' issuer.
pub const SHENYANG: u32 = 210100;
/// Dalian.
pub const DALIAN: u32 = 210200;
/// The subject of [`Tokens::holder`]: a made-up person with no
/// certificates among the samples.
pub const HOLDER_SUBJECT: &str = "11010519491231002X";

/// How long the kit's tokens work: ten years, so a test that moves its
/// clock by days or months keeps its callers; tests of expiry make their own
/// tokens with `auth::create_token` (the role's default lifetime).
pub const TEST_TOKEN_LIFETIME: i64 = 10 * 365 * 86_400;

/// A new token of `role` (of `division`, for agencies and officers) for
/// `subject`, created at `now`, valid [`TEST_TOKEN_LIFETIME`].
pub fn token(
    state: &AppState,
    role: Role,
    division: Option<u32>,
    subject: &str,
    now: i64,
) -> String {
    let division = division.map(|d| DivisionCode::from_u32(d).expect("a division code"));
    crate::blocking(|| {
        auth::create_token_for(
            state.store(),
            role,
            division,
            subject,
            now,
            TEST_TOKEN_LIFETIME,
        )
    })
    .expect("creating a token")
    .0
}

/// One token of every role.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// An administrator.
    pub admin: String,
    /// An auditor.
    pub auditor: String,
    /// A Shenyang officer.
    pub officer: String,
    /// A holder ([`HOLDER_SUBJECT`]).
    pub holder: String,
    /// An agency token per division asked for.
    pub agencies: BTreeMap<u32, String>,
}

impl Tokens {
    /// Tokens of every role, created at `now`, with an agency token for
    /// each of `divisions`.
    pub fn new(state: &AppState, now: i64, divisions: &[u32]) -> Tokens {
        Tokens {
            admin: token(state, Role::Admin, None, "admin", now),
            auditor: token(state, Role::Auditor, None, "auditor", now),
            officer: token(state, Role::Officer, Some(SHENYANG), "officer", now),
            holder: token(state, Role::Holder, None, HOLDER_SUBJECT, now),
            agencies: divisions
                .iter()
                .map(|&d| {
                    (
                        d,
                        token(state, Role::Agency, Some(d), &format!("agency {d}"), now),
                    )
                })
                .collect(),
        }
    }

    /// The agency token of `division` (it must have been asked for).
    pub fn agency(&self, division: u32) -> &str {
        self.agencies
            .get(&division)
            .unwrap_or_else(|| panic!("no agency token of {division} was created"))
    }
}
