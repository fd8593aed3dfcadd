//! Per-caller rate and concurrency limits, and problem-details answers for
//! the requests the router itself refuses (unknown method, bodies over
//! their limit).
//!
//! The caller is a [`CallerKey`]: a bearer token already found valid, or
//! else the client's address, so requests without a token and requests
//! with made-up tokens share their address's limits. Each caller has a
//! token bucket (GCRA, `governor`): `rate_per_second` sustained,
//! `rate_burst` at once. The limit counts requests, not records: an agency
//! pushing 5,000 records per request needs 2 requests a second for 10,000
//! records a second. Each caller may also have at most
//! `max_in_flight_per_caller` requests in flight ([`InFlight`]), so one
//! address cannot take every slot of the global limit.
//!
//! Memory is bounded: buckets that have refilled are indistinguishable
//! from new ones and are dropped every [`SWEEP_EVERY`] requests; when more
//! than `rate_max_keys` callers are still tracked after a sweep (a flood
//! from many addresses), callers not yet tracked share one bucket until
//! the table shrinks again.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::client::{caller_key, CallerKey};
use super::error::ApiError;
use crate::state::Limits;

/// Requests between two sweeps of refilled buckets.
pub const SWEEP_EVERY: u64 = 4096;

/// Who a bucket belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// A caller.
    Caller(CallerKey),
    /// Every caller not yet tracked while the table is full.
    Overflow,
}

/// The per-caller rate limiter of one router.
pub struct RateLimiter {
    buckets: DefaultKeyedRateLimiter<Key>,
    per_second: u32,
    max_keys: usize,
    requests: AtomicU64,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("per_second", &self.per_second)
            .field("max_keys", &self.max_keys)
            .field("tracked", &self.buckets.len())
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// The limiter `limits` ask for, or `None` when `rate_per_second` is 0
    /// (no rate limit).
    pub fn new(limits: &Limits) -> Option<RateLimiter> {
        let per_second = NonZeroU32::new(limits.rate_per_second)?;
        let burst = NonZeroU32::new(limits.rate_burst).unwrap_or(per_second);
        Some(RateLimiter {
            buckets: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(per_second).allow_burst(burst),
            ),
            per_second: per_second.get(),
            max_keys: limits.rate_max_keys.max(1),
            requests: AtomicU64::new(0),
        })
    }

    /// Callers currently tracked.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }

    /// Takes one request from the caller's bucket, or says in how many
    /// seconds (at least 1) the next one will be accepted.
    fn check(&self, caller: CallerKey) -> Result<(), u64> {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        if n % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        let key = if self.buckets.len() <= self.max_keys {
            Key::Caller(caller)
        } else {
            Key::Overflow
        };
        self.buckets.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }

    /// Drops the buckets that have refilled.
    fn sweep(&self) {
        self.buckets.retain_recent();
        self.buckets.shrink_to_fit();
    }
}

/// Middleware: answers 429 with `Retry-After` when the caller's bucket is
/// empty. Refusals are logged, not audited: writing a row for each would
/// let a flood fill the audit table.
pub async fn rate_limit(
    State(limiter): State<Arc<RateLimiter>>,
    req: Request,
    next: Next,
) -> Response {
    let caller = caller_key(&req);
    match limiter.check(caller) {
        Ok(()) => next.run(req).await,
        Err(retry_after) => {
            tracing::warn!(?caller, "rate limit reached");
            ApiError::TooManyRequests {
                detail: format!(
                    "this caller sent more than {} requests a second; retry after {retry_after} s",
                    limiter.per_second
                ),
                retry_after,
            }
            .into_response()
        }
    }
}

/// Requests in flight per caller, at most `max` each.
#[derive(Debug)]
pub struct InFlight {
    counts: Mutex<HashMap<CallerKey, usize>>,
    max: usize,
}

/// One request's place among its caller's; given back when dropped.
struct Slot {
    table: Arc<InFlight>,
    caller: CallerKey,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.table.counts.lock() {
            if let Some(n) = counts.get_mut(&self.caller) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    counts.remove(&self.caller);
                }
            }
        }
    }
}

impl InFlight {
    /// A table allowing `max` requests in flight per caller (0: no limit).
    pub fn new(max: usize) -> Option<Arc<InFlight>> {
        (max > 0).then(|| {
            Arc::new(InFlight {
                counts: Mutex::new(HashMap::new()),
                max,
            })
        })
    }

    fn enter(self: &Arc<Self>, caller: CallerKey) -> Option<Slot> {
        let mut counts = self.counts.lock().ok()?;
        let n = counts.entry(caller).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot {
            table: Arc::clone(self),
            caller,
        })
    }

    /// Callers with requests in flight.
    pub fn callers(&self) -> usize {
        self.counts.lock().map_or(0, |c| c.len())
    }
}

/// Middleware: answers 429 at once when the caller already has its most
/// requests in flight (slow bodies, slow reads), instead of letting it
/// take the slots of the global limit; logged, not audited.
pub async fn in_flight(State(table): State<Arc<InFlight>>, req: Request, next: Next) -> Response {
    let caller = caller_key(&req);
    match table.enter(caller) {
        Some(slot) => {
            let response = next.run(req).await;
            drop(slot);
            response
        }
        None => {
            tracing::warn!(?caller, "per-caller concurrency limit reached");
            ApiError::TooManyRequests {
                detail: format!(
                    "this caller has {} requests in flight already; retry after 1 s",
                    table.max
                ),
                retry_after: 1,
            }
            .into_response()
        }
    }
}

/// Answers a method a path does not have (instead of axum's empty 405).
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} does not accept {method}", uri.path()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn limiter(per_second: u32, burst: u32, max_keys: usize) -> RateLimiter {
        RateLimiter::new(&Limits {
            rate_per_second: per_second,
            rate_burst: burst,
            rate_max_keys: max_keys,
            ..Limits::default()
        })
        .unwrap()
    }

    fn addr(s: &str) -> CallerKey {
        CallerKey::Addr(s.parse::<IpAddr>().unwrap())
    }

    #[test]
    fn a_burst_then_refusal_with_a_wait_per_caller() {
        let l = limiter(1, 3, 100);
        let token = CallerKey::Token([1; 32]);
        for _ in 0..3 {
            assert_eq!(l.check(token), Ok(()));
        }
        assert_eq!(l.check(token), Err(1));
        // Another valid token has its own bucket, and so does the address.
        assert_eq!(l.check(CallerKey::Token([2; 32])), Ok(()));
        assert_eq!(l.check(addr("127.0.0.1")), Ok(()));
    }

    #[test]
    fn no_limiter_when_the_rate_is_zero() {
        assert!(RateLimiter::new(&Limits {
            rate_per_second: 0,
            ..Limits::default()
        })
        .is_none());
    }

    #[test]
    fn many_addresses_share_one_bucket_past_the_cap() {
        let l = limiter(1, 2, 10);
        let mut refused = 0;
        for i in 0..1000u32 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            if l.check(CallerKey::Addr(IpAddr::V4(ip))).is_err() {
                refused += 1;
            }
        }
        assert!(l.tracked() <= 12, "{} tracked", l.tracked());
        assert!(refused >= 1000 - 11 - 2, "{refused} refused");
    }

    #[test]
    fn in_flight_is_bounded_per_caller_and_given_back() {
        let table = InFlight::new(2).unwrap();
        let a = addr("192.0.2.1");
        let first = table.enter(a).unwrap();
        let _second = table.enter(a).unwrap();
        assert!(table.enter(a).is_none());
        assert!(table.enter(addr("192.0.2.2")).is_some());
        drop(first);
        assert!(table.enter(a).is_some());
    }
}
