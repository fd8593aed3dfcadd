//! Per-caller rate limits, and problem-details answers for the requests
//! the router itself refuses (unknown method, bodies over their limit).
//!
//! Each caller has a token bucket (GCRA, `governor`): `rate_per_second`
//! sustained, `rate_burst` at once. The caller is the SHA-256 of the bearer
//! token it presents, or its IP address when it presents none. The limit
//! counts requests, not records: an agency pushing 5,000 records per
//! request needs 2 requests a second for 10,000 records a second.
//!
//! Memory is bounded: buckets that have refilled are indistinguishable
//! from new ones and are dropped every [`SWEEP_EVERY`] requests; when more
//! than `rate_max_keys` callers are still tracked after a sweep (a flood of
//! made-up tokens), bearer-token callers are keyed by their IP address
//! until the table shrinks again.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::error::ApiError;
use crate::state::Limits;

/// Requests between two sweeps of refilled buckets.
pub const SWEEP_EVERY: u64 = 4096;

/// Who a bucket belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// SHA-256 of the presented bearer token (valid or not).
    Token([u8; 32]),
    /// The client's address, for requests without a token.
    Ip(IpAddr),
    /// Neither known (in-process callers without connection info).
    Local,
}

/// The per-caller rate limiter of one router.
pub struct RateLimiter {
    buckets: DefaultKeyedRateLimiter<Key>,
    per_second: u32,
    max_keys: usize,
    requests: AtomicU64,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    trusted_proxies: Vec<ipnet::IpNet>,
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
            trusted_proxies: Vec::new(),
        })
    }

    /// Keys callers without a token by the address [`client_addr`](super::client_addr::client_addr)
    /// finds behind these proxies.
    #[must_use]
    pub fn behind(mut self, trusted_proxies: &[ipnet::IpNet]) -> RateLimiter {
        self.trusted_proxies = trusted_proxies.to_vec();
        self
    }

    /// Callers currently tracked.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }

    /// Takes one request from the caller's bucket, or says in how many
    /// seconds (at least 1) the next one will be accepted.
    fn check(&self, token: Option<&str>, ip: Option<IpAddr>) -> Result<(), u64> {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        if n % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        let by_ip = || ip.map_or(Key::Local, Key::Ip);
        let key = match token {
            Some(t) if self.buckets.len() <= self.max_keys => {
                Key::Token(crate::service::auth::hash_token(t))
            }
            _ => by_ip(),
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

/// The bearer token of a request, if it presents one.
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// Middleware: answers 429 with `Retry-After` when the caller's bucket is
/// empty. Refusals are logged, not audited: writing a row for each would
/// let a flood fill the audit table.
pub async fn rate_limit(
    State(limiter): State<Arc<RateLimiter>>,
    req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = super::client_addr::client_addr(peer, req.headers(), &limiter.trusted_proxies);
    match limiter.check(bearer(&req), ip) {
        Ok(()) => next.run(req).await,
        Err(retry_after) => {
            tracing::warn!(?ip, path = %req.uri().path(), "rate limit reached");
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

/// Answers a method a path does not have (instead of axum's empty 405).
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} does not accept {method}", uri.path()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn limiter(per_second: u32, burst: u32, max_keys: usize) -> RateLimiter {
        RateLimiter::new(&Limits {
            rate_per_second: per_second,
            rate_burst: burst,
            rate_max_keys: max_keys,
            ..Limits::default()
        })
        .unwrap()
    }

    #[test]
    fn a_burst_then_refusal_with_a_wait_per_caller() {
        let l = limiter(1, 3, 100);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(l.check(Some("lnv1_a"), Some(ip)), Ok(()));
        }
        assert_eq!(l.check(Some("lnv1_a"), Some(ip)), Err(1));
        // Another token from the same address has its own bucket, and so
        // does the address itself.
        assert_eq!(l.check(Some("lnv1_b"), Some(ip)), Ok(()));
        assert_eq!(l.check(None, Some(ip)), Ok(()));
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
    fn made_up_tokens_fall_back_to_the_address_and_memory_stays_bounded() {
        let l = limiter(1, 2, 10);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let mut refused = 0;
        for i in 0..1000 {
            if l.check(Some(&format!("lnv1_{i}")), Some(ip)).is_err() {
                refused += 1;
            }
        }
        assert!(l.tracked() <= 12, "{} tracked", l.tracked());
        // Past the cap, the flood shares the address's bucket of 2.
        assert!(refused >= 1000 - 11 - 2, "{refused} refused");
    }
}
