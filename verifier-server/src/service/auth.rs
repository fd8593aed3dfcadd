//! Bearer tokens and roles.
//!
//! A token is `lnv1_` followed by 64 hex digits (256 random bits from the
//! OS). Only its SHA-256 is stored, so a copy of the database does not give
//! access. Each token has one role; an agency token is bound to the
//! division of its agency.
//!
//! Every token expires ([`Role::default_lifetime`] unless the command says
//! otherwise). A rotation gives a token a new secret under the same id (so
//! devices enrolled with it, and audit rows naming it, stay its own); the
//! replaced secret keeps working for an overlap, then is refused as expired.
//! The last accepted use is recorded at most once a
//! [`LAST_USE_RESOLUTION`] per token, so authentication rarely writes.

use rand_core::{OsRng, RngCore as _};
use serde::Serialize;
use sha2::{Digest, Sha256};
use shared::domain::DivisionCode;

use crate::store::{Store, StoreError, TokenRow};

/// The prefix of every token (versioned, and easy to spot in a leak).
pub const TOKEN_PREFIX: &str = "lnv1_";

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything.
    Admin,
    /// An issuing agency: pushes and manages its division's certificates.
    Agency,
    /// Reads the audit log and the evaluation (later issues).
    Auditor,
    /// An officer's field device: enrolls its device key (bound to the
    /// token's division), syncs lists and uploads its check log.
    Officer,
    /// A certificate holder (the token's subject is their ID number or
    /// unified social credit code): sees and binds their own certificates.
    Holder,
    /// A registered application (issue 13): the token's subject is its
    /// client id; what it may see is its registration and the grants.
    Application,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agency => "agency",
            Role::Auditor => "auditor",
            Role::Officer => "officer",
            Role::Holder => "holder",
            Role::Application => "application",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "agency" => Some(Role::Agency),
            "auditor" => Some(Role::Auditor),
            "officer" => Some(Role::Officer),
            "holder" => Some(Role::Holder),
            "application" => Some(Role::Application),
            _ => None,
        }
    }
}

/// Lifetime of an application's access token (client credentials,
/// `service::apps`), seconds: short, since the application can fetch
/// another at any time with its signed assertion.
pub const APPLICATION_TOKEN_LIFETIME: i64 = 600;

/// How precisely the last use of a token is recorded, seconds: a request
/// writes it only when the stored one is at least this old.
pub const LAST_USE_RESOLUTION: i64 = 60;

const HOUR: i64 = 3_600;
const DAY: i64 = 24 * HOUR;

impl Role {
    /// The lifetime of a new token of this role, seconds: an officer's
    /// field device 1 year (it works offline for long stretches), a holder
    /// 30 days, an administrator 8 hours (a working day), agencies and
    /// auditors 90 days, an application's access token 10 minutes.
    pub fn default_lifetime(self) -> i64 {
        match self {
            Role::Application => APPLICATION_TOKEN_LIFETIME,
            Role::Admin => 8 * HOUR,
            Role::Holder => 30 * DAY,
            Role::Officer => 365 * DAY,
            Role::Agency | Role::Auditor => 90 * DAY,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's row id.
    pub token_id: i64,
    /// Its role.
    pub role: Role,
    /// The division an agency or officer token is bound to.
    pub division: Option<DivisionCode>,
    /// The province the server runs as (`serve --province`; 210000 by
    /// default): an administrator's, and every token's, province.
    pub province: DivisionCode,
    /// Who the token was issued to (a holder's ID number or credit code).
    pub subject: String,
    /// Where the request came from, as the HTTP layer decided it (the
    /// peer, or the client a trusted proxy named); recorded in audit rows.
    pub client_addr: Option<std::net::IpAddr>,
}

impl Caller {
    /// An audit row of something this caller did (or, with `None`, an
    /// unrecognised caller attempted).
    pub fn audit_entry(
        caller: Option<&Caller>,
        ts: i64,
        action: impl Into<String>,
        target: impl Into<String>,
        outcome: impl Into<String>,
    ) -> crate::store::AuditEntry {
        crate::store::AuditEntry {
            ts,
            token_id: caller.map(|c| c.token_id),
            role: caller.map(|c| c.role.as_str().to_string()),
            action: action.into(),
            target: target.into(),
            outcome: outcome.into(),
            client_addr: caller.and_then(|c| c.client_addr).map(|a| a.to_string()),
        }
    }

    /// Whether the caller may act on certificates issued in `division`:
    /// an administrator anywhere; an agency of the province anywhere, of a
    /// city in the city and its counties, of a county in that county.
    pub fn may_act_for(&self, division: DivisionCode) -> bool {
        match (self.role, self.division) {
            (Role::Admin, _) => true,
            (Role::Agency, Some(own)) => {
                own.is_province() || own == division || (own.is_city() && division.city() == own)
            }
            _ => false,
        }
    }

    /// The correction list the caller's pushes go to: the agency's
    /// division, or the province for an administrator.
    pub fn agency_division(&self) -> DivisionCode {
        self.division.unwrap_or(self.province)
    }

    /// The correction list a non-conforming record goes to: the agency's;
    /// for an administrator, the city of the record's issuing division
    /// when it names one, else the province's.
    pub fn correction_list_for(&self, record_division: Option<DivisionCode>) -> DivisionCode {
        match (self.division, record_division) {
            (Some(own), _) => own,
            (None, Some(d)) => d.city(),
            (None, None) => self.province,
        }
    }
}

/// The canonical holder identifier of a token subject: an ID number (GB
/// 11643) or a unified social credit code (GB 32100), or `None`.
pub fn holder_id(subject: &str) -> Option<String> {
    let s = subject.trim();
    shared::domain::IdNumber::parse(s)
        .map(|id| id.as_str().to_string())
        .or_else(|_| shared::domain::Uscc::parse(s).map(|u| u.as_str().to_string()))
        .ok()
}

/// SHA-256 of a token's text.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new random token.
pub fn generate_token() -> String {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(bytes.as_mut());
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes.as_ref()))
}

/// Creates a token with its role's default lifetime; returns its text
/// (shown once) and its row id.
pub fn create_token(
    store: &dyn Store,
    role: Role,
    division: Option<DivisionCode>,
    subject: &str,
    now: i64,
) -> Result<(String, i64), StoreError> {
    create_token_for(store, role, division, subject, now, role.default_lifetime())
}

/// Creates a token valid for `lifetime` seconds from `now`; returns its
/// text (shown once) and its row id.
pub fn create_token_for(
    store: &dyn Store,
    role: Role,
    division: Option<DivisionCode>,
    subject: &str,
    now: i64,
    lifetime: i64,
) -> Result<(String, i64), StoreError> {
    let token = generate_token();
    let expires_at = now.saturating_add(lifetime);
    let mut tx = store.begin()?;
    let id = tx.insert_token(&TokenRow {
        id: 0,
        hash: hash_token(&token),
        role: role.as_str().to_string(),
        division,
        subject: subject.to_string(),
        created_at: now,
        revoked_at: None,
        expires_at,
        last_used_at: None,
        prev_hash: None,
        prev_expires_at: None,
        rotated_at: None,
    })?;
    tx.append_audit(&super::action::cli_entry(
        now,
        super::action::Action::CreateToken,
        format!(
            "token {id} role={} division={} subject={subject} expires={expires_at}",
            role.as_str(),
            division.map_or_else(|| "-".to_string(), |d| d.code().to_string())
        ),
        "ok",
    ))?;
    tx.commit()?;
    Ok((token, id))
}

/// Why a presented token was not accepted (for the audit and the answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not a token this server issued.
    Unknown,
    /// Revoked.
    Revoked,
    /// Past its expiry, or a secret replaced by a rotation whose overlap
    /// ended.
    Expired,
}

impl AuthFailure {
    /// The text for the client.
    pub fn message(self) -> &'static str {
        match self {
            AuthFailure::Missing => "an Authorization: Bearer token is required",
            AuthFailure::Unknown => "the bearer token is not valid",
            AuthFailure::Revoked => "the bearer token has been revoked",
            AuthFailure::Expired => {
                "the bearer token has expired; ask the administrator for a new one"
            }
        }
    }

    /// The short text of an audit row.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::Missing => "no token",
            AuthFailure::Unknown => "unknown token",
            AuthFailure::Revoked => "revoked token",
            AuthFailure::Expired => "expired token",
        }
    }
}

/// Looks a token up at `now`: refused when unknown, revoked or expired;
/// an accepted use is recorded (see [`LAST_USE_RESOLUTION`]).
pub fn authenticate(
    store: &dyn Store,
    token: Option<&str>,
    now: i64,
) -> Result<Result<Caller, AuthFailure>, StoreError> {
    let Some(token) = token else {
        return Ok(Err(AuthFailure::Missing));
    };
    if !token.starts_with(TOKEN_PREFIX) {
        return Ok(Err(AuthFailure::Unknown));
    }
    let hash = hash_token(token);
    let mut tx = store.begin()?;
    let row = tx.token_by_hash(&hash)?;
    let verdict = match row {
        None => Err(AuthFailure::Unknown),
        Some(r) if r.revoked_at.is_some() => Err(AuthFailure::Revoked),
        Some(r) => {
            let until = if r.hash == hash {
                r.expires_at
            } else {
                // The secret a rotation replaced.
                r.prev_expires_at.unwrap_or(i64::MIN).min(r.expires_at)
            };
            if now >= until {
                Err(AuthFailure::Expired)
            } else {
                if r.last_used_at
                    .is_none_or(|t| now.saturating_sub(t) >= LAST_USE_RESOLUTION)
                {
                    tx.touch_token(r.id, now)?;
                }
                Ok(r)
            }
        }
    };
    tx.commit()?;
    Ok(match verdict {
        Err(e) => Err(e),
        Ok(r) => match Role::parse(&r.role) {
            None => Err(AuthFailure::Unknown),
            Some(role) => Ok(Caller {
                client_addr: None,
                token_id: r.id,
                role,
                division: r.division,
                province: DivisionCode::PROVINCE,
                subject: r.subject,
            }),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agency(code: u32) -> Caller {
        Caller {
            client_addr: None,
            token_id: 1,
            role: Role::Agency,
            division: DivisionCode::from_u32(code).ok(),
            province: DivisionCode::PROVINCE,
            subject: "agency".into(),
        }
    }

    #[test]
    fn division_rules() {
        let d = |c| DivisionCode::from_u32(c).unwrap_or(DivisionCode::PROVINCE);
        let shenyang = agency(210100);
        assert!(shenyang.may_act_for(d(210100)));
        assert!(shenyang.may_act_for(d(210102)));
        assert!(!shenyang.may_act_for(d(210200)));
        assert!(!shenyang.may_act_for(d(210000)));
        let county = agency(210102);
        assert!(county.may_act_for(d(210102)));
        assert!(!county.may_act_for(d(210100)));
        assert!(agency(210000).may_act_for(d(211400)));
        let auditor = Caller {
            client_addr: None,
            role: Role::Auditor,
            ..agency(210100)
        };
        assert!(!auditor.may_act_for(d(210100)));
    }

    #[test]
    fn tokens_are_random_and_prefixed() {
        let a = generate_token();
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert_ne!(a, generate_token());
    }
}
