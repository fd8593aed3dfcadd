//! Who a request comes from, before it is authenticated: the client's
//! address ([`client_addr`], the one place that decides it) and the
//! [`CallerKey`] the per-caller limits count against.
//!
//! A bearer token counts as its own caller only once the [`Caller`]
//! extractor has found it valid ([`KnownTokens`]); a request without a
//! token, or with a token never found valid (made up, mistyped), counts
//! against its address, so that inventing tokens buys no fresh rate-limit
//! bucket or concurrency share.
//!
//! [`Caller`]: crate::service::auth::Caller

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Extensions, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;

use ipnet::IpNet;

use crate::service::auth::hash_token;

/// The client's address as [`identify`] found it (behind trusted proxies:
/// [`super::client_addr::client_addr`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Resolved(Option<IpAddr>);

/// The address a request comes from: what [`identify`] found (the TCP peer,
/// or the client a trusted proxy names, decided by
/// [`super::client_addr::client_addr`]), else the TCP peer. Every
/// per-address limit and refusal row takes it from here.
pub fn client_addr(extensions: &Extensions, _headers: &HeaderMap) -> Option<IpAddr> {
    match extensions.get::<Resolved>() {
        Some(Resolved(addr)) => *addr,
        None => extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip()),
    }
}

/// What the per-caller limits count a request against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallerKey {
    /// A bearer token found valid before (its SHA-256).
    Token([u8; 32]),
    /// The client's address: no token, or one never found valid.
    Addr(IpAddr),
    /// Neither (in-process callers without connection information).
    Local,
}

/// The SHA-256 of the bearer tokens found valid recently, bounded: when
/// full it starts again (valid tokens then count against their address
/// until they are seen again).
#[derive(Debug)]
pub struct KnownTokens {
    hashes: Mutex<HashSet<[u8; 32]>>,
    max: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    trusted_proxies: Vec<IpNet>,
}

impl KnownTokens {
    /// An empty set holding at most `max` tokens, for a server behind
    /// `trusted_proxies`.
    pub fn new(max: usize, trusted_proxies: Vec<IpNet>) -> KnownTokens {
        KnownTokens {
            hashes: Mutex::new(HashSet::new()),
            max: max.max(1),
            trusted_proxies,
        }
    }

    /// Records that the token with this hash authenticated.
    pub fn remember(&self, hash: [u8; 32]) {
        if let Ok(mut set) = self.hashes.lock() {
            if set.len() >= self.max && !set.contains(&hash) {
                set.clear();
            }
            set.insert(hash);
        }
    }

    fn contains(&self, hash: &[u8; 32]) -> bool {
        self.hashes.lock().is_ok_and(|set| set.contains(hash))
    }

    /// The key a request counts against.
    pub fn key_of(&self, extensions: &Extensions, headers: &HeaderMap) -> CallerKey {
        if let Some(hash) = bearer(headers).map(hash_token) {
            if self.contains(&hash) {
                return CallerKey::Token(hash);
            }
        }
        client_addr(extensions, headers).map_or(CallerKey::Local, CallerKey::Addr)
    }
}

/// The bearer token of a request, if it presents one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// Middleware: works out the request's [`CallerKey`] once and leaves it,
/// with the [`KnownTokens`] the `Caller` extractor adds to, in the
/// request's extensions.
pub async fn identify(
    State(known): State<Arc<KnownTokens>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip());
    let resolved = super::client_addr::client_addr(peer, req.headers(), &known.trusted_proxies);
    req.extensions_mut().insert(Resolved(resolved));
    let key = known.key_of(req.extensions(), req.headers());
    req.extensions_mut().insert(key);
    req.extensions_mut().insert(known);
    next.run(req).await
}

/// The caller key left by [`identify`] (or the address, when the request
/// did not pass it).
pub fn caller_key(req: &Request) -> CallerKey {
    req.extensions()
        .get::<CallerKey>()
        .copied()
        .unwrap_or_else(|| {
            client_addr(req.extensions(), req.headers()).map_or(CallerKey::Local, CallerKey::Addr)
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn request(token: Option<&str>, ip: &str) -> (Extensions, HeaderMap) {
        let mut ext = Extensions::new();
        ext.insert(ConnectInfo(SocketAddr::new(ip.parse().unwrap(), 1234)));
        let mut headers = HeaderMap::new();
        if let Some(t) = token {
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {t}")).unwrap(),
            );
        }
        (ext, headers)
    }

    #[test]
    fn only_tokens_found_valid_are_callers_of_their_own() {
        let known = KnownTokens::new(2, Vec::new());
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let (e, h) = request(Some("lnv1_made_up"), "192.0.2.1");
        assert_eq!(known.key_of(&e, &h), CallerKey::Addr(ip));
        let (e, h) = request(None, "192.0.2.1");
        assert_eq!(known.key_of(&e, &h), CallerKey::Addr(ip));
        known.remember(hash_token("lnv1_good"));
        let (e, h) = request(Some("lnv1_good"), "192.0.2.1");
        assert_eq!(
            known.key_of(&e, &h),
            CallerKey::Token(hash_token("lnv1_good"))
        );
        // Bounded: a third token starts the set again.
        known.remember(hash_token("lnv1_b"));
        known.remember(hash_token("lnv1_c"));
        assert_eq!(known.key_of(&e, &h), CallerKey::Addr(ip));
    }
}
