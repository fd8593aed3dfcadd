//! Online lookup (issue 11, §6.5): when a holder cannot show a code (a dead
//! phone, another system's QR), an officer looks the certificate up by
//! plate, ID number or certificate number.
//!
//! `GET /api/v1/lookup?plate=…|id_number=…|number=…` (officer tokens only)
//! answers the verdict and the minimum fields to match the person or
//! vehicle ([`shared::view::FaceView::minimal`]: the ID number masked), never
//! the signed QR text, so a lookup cannot be turned into a showable code.
//! Each lookup is rate-limited per officer token (the device's; a device is
//! bound to one token) and leaves one audit row, action `lookup`, which is
//! the server's log of the check (kind `lookup`; the device logs its own
//! record of kind 2 and uploads it with its other checks).
//!
//! The rule ([`lookup`]) is separate from the thin handler ([`get_lookup`]).

use std::num::NonZeroU32;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::Json;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use serde::{Deserialize, Serialize};
use shared::checklog::LookupBy;
use shared::cose::Sign1;
use shared::domain::{IdNumber, PlateNumber};
use shared::status::Status;
use shared::trust::{Manifest, TrustList};
use shared::verify::{Reason, Verdict, MAX_CERTIFICATE_LEN};
use shared::view::{cst_date, mask_id, FaceView};
use shared::wire::Claims;

use crate::api::{audited, blocking, query, require};
use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::store::VersionRow;
use crate::AppState;

/// Most certificates one lookup answers.
pub const MAX_RESULTS: u32 = 10;
/// Longest certificate number accepted, characters.
pub const MAX_NUMBER_CHARS: usize = 40;

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
    fn check(&self, token_id: i64) -> Result<(), u64> {
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

/// The query: exactly one of the three.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LookupQuery {
    /// Plate number, e.g. `辽A5K823`.
    pub plate: Option<String>,
    /// Citizen ID number (18 characters): the holder's certificates and
    /// the vehicles registered to them.
    pub id_number: Option<String>,
    /// Certificate number as carried in the certificate.
    pub number: Option<String>,
}

/// One certificate found.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LookupResult {
    /// `valid`, `invalid`.
    pub verdict: String,
    /// Why not valid.
    pub reason: Option<String>,
    /// The reason for the officer, Chinese.
    pub reason_zh: Option<String>,
    /// The status in the provincial system: `valid`, `revoked`,
    /// `suspended`, `superseded`.
    pub status: String,
    /// The minimum named fields (see `shared::view::FaceView`).
    #[schema(value_type = Object)]
    pub face: FaceView,
}

/// The answer: the overall verdict and the certificates found.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LookupAnswer {
    /// `valid` if any certificate found is valid, `invalid` if some were
    /// found and none is, `cannot_confirm` (`no_match`) if none was found.
    pub verdict: String,
    /// Why not valid (the first certificate's reason, or `no_match`).
    pub reason: Option<String>,
    /// The reason, Chinese.
    pub reason_zh: Option<String>,
    /// The reason, English.
    pub reason_en: Option<String>,
    /// What was searched by: `plate`, `id_number`, `number`.
    pub by: String,
    /// Server time of the lookup, Unix seconds.
    pub checked_at: i64,
    /// The certificates found, valid first (at most 10).
    pub results: Vec<LookupResult>,
}

/// Parses the query into what to search by and the normalised value.
pub fn parse_query(q: LookupQuery) -> Result<(LookupBy, String), ApiError> {
    let given: Vec<(LookupBy, String)> = [
        (LookupBy::Plate, q.plate),
        (LookupBy::IdNumber, q.id_number),
        (LookupBy::Number, q.number),
    ]
    .into_iter()
    .filter_map(|(by, v)| v.map(|v| (by, v.trim().to_string())))
    .collect();
    let [(by, value)]: [(LookupBy, String); 1] = given
        .try_into()
        .map_err(|_| ApiError::BadRequest("give exactly one of plate, id_number, number".into()))?;
    let value = match by {
        LookupBy::Plate => PlateNumber::parse(&value)
            .map_err(|e| ApiError::Unprocessable(format!("plate: {}", e.detail_en())))?
            .as_str()
            .to_string(),
        LookupBy::IdNumber => IdNumber::parse(&value)
            .map_err(|e| ApiError::Unprocessable(format!("id_number: {}", e.detail_en())))?
            .as_str()
            .to_string(),
        LookupBy::Number => {
            let n = value.to_ascii_uppercase();
            if n.is_empty()
                || n.chars().count() > MAX_NUMBER_CHARS
                || !n.chars().all(|c| c.is_ascii_alphanumeric())
            {
                return Err(ApiError::Unprocessable(format!(
                    "number: 1 to {MAX_NUMBER_CHARS} letters and digits"
                )));
            }
            n
        }
    };
    Ok((by, value))
}

fn status_name(s: Status) -> &'static str {
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
    let today = cst_date(now);
    match status {
        Status::Revoked => Some(Reason::Revoked),
        Status::Suspended => Some(Reason::Suspended),
        Status::Superseded => Some(Reason::Superseded),
        Status::Valid if today < claims.valid_from => Some(Reason::NotYetValid),
        Status::Valid if claims.valid_until.is_some_and(|u| today > u) => Some(Reason::Expired),
        Status::Valid => None,
    }
}

fn result_of(v: &VersionRow, trust: &TrustList, now: i64) -> Result<LookupResult, ApiError> {
    let claims = Sign1::parse(&v.signed, MAX_CERTIFICATE_LEN)
        .map_err(|e| anyhow::anyhow!("stored certificate {} {}: {e}", v.cert_type, v.number))
        .and_then(|s| {
            Claims::from_cbor(s.payload())
                .map_err(|e| anyhow::anyhow!("stored claims {} {}: {e}", v.cert_type, v.number))
        })
        .map_err(ApiError::Internal)?;
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
/// the server's time, with the audit row (the server's log of this check)
/// written in the same transaction.
pub fn lookup(
    state: &AppState,
    caller: &Caller,
    by: LookupBy,
    value: &str,
) -> Result<LookupAnswer, ApiError> {
    let now = state.now();
    let mut tx = state.store().begin()?;
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
        "lookup",
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
    tx.commit()?;
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

/// `GET /api/v1/lookup`: look a certificate up by plate, ID number or
/// number (officers). Each token may look up 20 a minute, 10 at once;
/// beyond that the answer is 429 with `Retry-After`.
#[utoipa::path(get, path = "/api/v1/lookup", tag = "lookup",
    params(LookupQuery),
    responses(
        (status = 200, description = "The verdict and the minimum fields; never the QR text", body = LookupAnswer),
        (status = 400, description = "Not exactly one of plate, id_number, number"),
        (status = 403, description = "Not an officer token"),
        (status = 422, description = "A malformed plate, ID number or number"),
    ),
    security(("bearer" = [])))]
pub async fn get_lookup(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    q: Result<Query<LookupQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let result = async {
        require(&caller, &[Role::Officer])?;
        let (by, value) = parse_query(query(q)?)?;
        state
            .lookup_limiter()
            .check(caller.token_id)
            .map_err(|retry_after| ApiError::TooManyRequests {
                detail: "too many lookups from this token: wait and retry".into(),
                retry_after,
            })?;
        let s = state.clone();
        let c = caller.clone();
        let answer = blocking(move || lookup(&s, &c, by, &value)).await?;
        Ok(Json(answer).into_response())
    }
    .await;
    audited(&state, &caller, "GET /api/v1/lookup", &uri, result).await
}
