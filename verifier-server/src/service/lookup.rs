//! Online lookup (issue 11, §6.5): when a holder cannot show a code (a dead
//! phone, another system's QR), an officer looks the certificate up by
//! plate, ID number or certificate number.
//!
//! The answer is the verdict and the minimum fields to match the person or
//! vehicle ([`shared::view::FaceView::minimal`]: the ID number masked),
//! never the signed QR text, so a lookup cannot be turned into a showable
//! code. Each lookup leaves one audit row ([`Action::Lookup`]), written in
//! the lookup's own transaction: the server's log of the check (the device
//! logs its own record of kind 2 and uploads it with its other checks).
//! The per-token rate limit is [`Limiter`], held by the state.

use std::num::NonZeroU32;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use shared::api::{LookupAnswer, LookupResult};
use shared::checklog::LookupBy;
use shared::cose::Sign1;
use shared::domain::{IdNumber, PlateNumber};
use shared::status::Status;
use shared::trust::{Manifest, TrustList};
use shared::verify::{Reason, Verdict, MAX_CERTIFICATE_LEN};
use shared::view::{mask_id, FaceView};
use shared::wire::Claims;

use super::action::Action;
use super::auth::Caller;
use crate::store::{StoreError, Tx, VersionRow};

/// Most certificates one lookup answers.
pub const MAX_RESULTS: u32 = 10;
/// Longest certificate number accepted, characters.
pub const MAX_NUMBER_CHARS: usize = 40;

/// Why a lookup was not answered; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// Not exactly one of plate, ID number, number.
    #[error("{0}")]
    Malformed(String),
    /// A malformed plate, ID number or number; the detail names it.
    #[error("{0}")]
    Invalid(String),
    /// A stored certificate could not be read back.
    #[error("stored certificate {0}: {1}")]
    Corrupt(String, String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The per-token lookup limiter: `per_minute` sustained, `burst` at once.
pub struct Limiter {
    buckets: DefaultKeyedRateLimiter<i64>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("lookup::Limiter")
            .field("tracked", &self.buckets.len())
            .finish()
    }
}

impl Limiter {
    /// A limiter allowing `per_minute` lookups a minute per token, `burst`
    /// at once (both at least 1).
    pub fn new(per_minute: u32, burst: u32) -> Limiter {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Limiter {
            buckets: DefaultKeyedRateLimiter::keyed(
                Quota::per_minute(per_minute).allow_burst(burst),
            ),
        }
    }

    /// Takes one lookup from the token's bucket, or says in how many
    /// seconds the next is allowed.
    pub fn check(&self, token_id: i64) -> Result<(), u64> {
        if self.buckets.len() > 100_000 {
            self.buckets.retain_recent();
        }
        self.buckets.check_key(&token_id).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }
}

impl Default for Limiter {
    /// 20 lookups a minute per token, 10 at once.
    fn default() -> Limiter {
        Limiter::new(20, 10)
    }
}

/// Parses the query (exactly one of the three given) into what to search
/// by and the normalised value.
pub fn parse_query(
    plate: Option<String>,
    id_number: Option<String>,
    number: Option<String>,
) -> Result<(LookupBy, String), LookupError> {
    let given: Vec<(LookupBy, String)> = [
        (LookupBy::Plate, plate),
        (LookupBy::IdNumber, id_number),
        (LookupBy::Number, number),
    ]
    .into_iter()
    .filter_map(|(by, v)| v.map(|v| (by, v.trim().to_string())))
    .collect();
    let [(by, value)]: [(LookupBy, String); 1] = given.try_into().map_err(|_| {
        LookupError::Malformed("give exactly one of plate, id_number, number".into())
    })?;
    let value = match by {
        LookupBy::Plate => PlateNumber::parse(&value)
            .map_err(|e| LookupError::Invalid(format!("plate: {}", e.detail_en())))?
            .as_str()
            .to_string(),
        LookupBy::IdNumber => IdNumber::parse(&value)
            .map_err(|e| LookupError::Invalid(format!("id_number: {}", e.detail_en())))?
            .as_str()
            .to_string(),
        LookupBy::Number => {
            let n = value.to_ascii_uppercase();
            if n.is_empty()
                || n.chars().count() > MAX_NUMBER_CHARS
                || !n.chars().all(|c| c.is_ascii_alphanumeric())
            {
                return Err(LookupError::Invalid(format!(
                    "number: 1 to {MAX_NUMBER_CHARS} letters and digits"
                )));
            }
            n
        }
    };
    Ok((by, value))
}

/// The API name of a status.
pub fn status_name(s: Status) -> &'static str {
    match s {
        Status::Valid => "valid",
        Status::Revoked => "revoked",
        Status::Suspended => "suspended",
        Status::Superseded => "superseded",
    }
}

/// The verdict on one certificate version at `now`: its status, then its
/// validity dates (China Standard Time days).
pub fn judge(status: Status, claims: &Claims, now: i64) -> Option<Reason> {
    let today = shared::cst::date(now);
    match status {
        Status::Revoked => Some(Reason::Revoked),
        Status::Suspended => Some(Reason::Suspended),
        Status::Superseded => Some(Reason::Superseded),
        Status::Valid if today < claims.valid_from => Some(Reason::NotYetValid),
        Status::Valid if claims.valid_until.is_some_and(|u| today > u) => Some(Reason::Expired),
        Status::Valid => None,
    }
}

fn result_of(v: &VersionRow, trust: &TrustList, now: i64) -> Result<LookupResult, LookupError> {
    let corrupt = |e: String| LookupError::Corrupt(format!("{} {}", v.cert_type, v.number), e);
    let sign1 = Sign1::parse(&v.signed, MAX_CERTIFICATE_LEN).map_err(|e| corrupt(e.to_string()))?;
    let claims = Claims::from_cbor(sign1.payload()).map_err(|e| corrupt(e.to_string()))?;
    let mut face = FaceView::build(&claims, Some(trust), now).minimal();
    if !face.issuer_from_trust_list {
        // A county bureau missing from the authority table: the name the
        // agency pushed with the record.
        let pushed = serde_json::from_str::<serde_json::Value>(&v.record_json)
            .ok()
            .and_then(|r| r["issuer_name"].as_str().map(str::trim).map(str::to_string))
            .filter(|n| !n.is_empty() && n.chars().count() <= 100);
        if let Some(name) = pushed {
            face.issuer_name = name;
        }
    }
    let reason = judge(v.status, &claims, now);
    Ok(LookupResult {
        verdict: reason
            .map_or(Verdict::Valid, Reason::verdict)
            .as_str()
            .into(),
        reason: reason.map(|r| r.code().into()),
        reason_zh: reason.map(|r| r.message_zh().into()),
        status: status_name(v.status).into(),
        face,
    })
}

/// The lookup rule: the current versions found by `by`/`value`, judged at
/// `now`, with the audit row (the server's log of this check) written in
/// `tx`; the caller commits.
pub fn lookup(
    tx: &mut dyn Tx,
    caller: &Caller,
    now: i64,
    by: LookupBy,
    value: &str,
) -> Result<LookupAnswer, LookupError> {
    let rows = tx.lookup_versions(by, value, MAX_RESULTS)?;
    let trust = TrustList {
        seq: 0,
        manifest: Manifest {
            issued_at: now,
            ttl: 0,
            max_age: 0,
        },
        keys: Vec::new(),
        authorities: tx.authorities()?,
    };
    let mut results = rows
        .iter()
        .map(|v| result_of(v, &trust, now))
        .collect::<Result<Vec<_>, _>>()?;
    results.sort_by_key(|r| r.verdict != "valid");
    let reason = match results.first() {
        None => Some(Reason::NoMatch),
        Some(r) => r.reason.as_deref().and_then(Reason::from_code),
    };
    let verdict = reason.map_or(Verdict::Valid, Reason::verdict);
    let shown = match by {
        LookupBy::IdNumber => mask_id(value),
        _ => value.to_string(),
    };
    let found: Vec<String> = results
        .iter()
        .map(|r| format!("{} {}", r.face.cert_type.code, r.face.number))
        .collect();
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::Lookup,
        format!(
            "{} {shown}: {}",
            by.as_str(),
            if found.is_empty() {
                "none".to_string()
            } else {
                found.join(", ")
            }
        ),
        match reason {
            None => "ok: valid".to_string(),
            Some(r) => format!("ok: {} {}", verdict.as_str(), r.code()),
        },
    ))?;
    Ok(LookupAnswer {
        verdict: verdict.as_str().into(),
        reason: reason.map(|r| r.code().into()),
        reason_zh: reason.map(|r| r.message_zh().into()),
        reason_en: reason.map(|r| r.message_en().into()),
        by: by.as_str().into(),
        checked_at: now,
        results,
    })
}
