//! Who is on the other end: [`client_addr`], the one place the client's
//! address is decided, for rate limits, `/metrics` access and audit rows.
//! The peer of the TCP connection is the client unless it is a trusted
//! reverse proxy (`--trusted-proxy`); then `X-Forwarded-For` is walked from
//! the right, past trusted proxies, to the first address that is not one.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::state::AppState;

/// The client's address given the connection's `peer` (none when the
/// router is driven without a socket), the request's headers and the
/// trusted proxies.
///
/// `X-Forwarded-For` is read only when the peer is a trusted proxy; its
/// entries (every such header, in order, comma-separated) are walked from
/// the right, skipping trusted proxies; the first other address is the
/// client. An entry that is not an address ends the walk at the last
/// trusted hop (a proxy does not write garbage; a client might). When all
/// entries are trusted, the leftmost is the client.
pub fn client_addr(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer.map(canonical)?;
    if !is_trusted(peer, trusted) {
        return Some(peer);
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            return Some(client);
        };
        client = ip;
        if !is_trusted(ip, trusted) {
            return Some(ip);
        }
    }
    Some(client)
}

/// An `X-Forwarded-For` entry: an address, possibly with a port
/// (`192.0.2.1:5000`, `[2001:db8::1]:5000`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(canonical)
}

/// Whether `ip` (canonical) is one of the trusted proxies.
fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// The peer of the request's connection (none when the router is driven
/// without a socket).
fn peer_of(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// IPv4-mapped IPv6 addresses as IPv4, so one range covers both.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The client address of a request (see [`client_addr`]) from its parts.
pub fn of_parts(parts: &Parts, state: &AppState) -> Option<IpAddr> {
    client_addr(
        peer_of(parts),
        &parts.headers,
        &state.network().trusted_proxies,
    )
}

/// The client address as an extractor; `None` when the router is driven
/// without a socket (tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<ClientAddr, Self::Rejection> {
        Ok(ClientAddr(of_parts(parts, state)))
    }
}

/// Marks each request of a connection this server accepted over its own
/// TLS (`--tls-cert`): inserted by the connection loop of `run_tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverTls;

/// Whether the client reached this server over HTTPS: on this server's own
/// TLS (`over_tls`), or through a trusted reverse proxy whose
/// `X-Forwarded-Proto` says `https` (the last entry: the proxy nearest to
/// this server, as for `X-Forwarded-For`). The header of any other peer is
/// ignored. Decides whether a cookie is marked `Secure`.
pub fn https(over_tls: bool, peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> bool {
    if over_tls {
        return true;
    }
    if !peer.map(canonical).is_some_and(|p| is_trusted(p, trusted)) {
        return false;
    }
    headers
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|p| !p.is_empty())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// [`https`] as an extractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Https(pub bool);

impl FromRequestParts<AppState> for Https {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Https, Self::Rejection> {
        let over_tls = parts.extensions.get::<OverTls>().is_some();
        Ok(Https(https(
            over_tls,
            peer_of(parts),
            &parts.headers,
            &state.network().trusted_proxies,
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn https_from_own_tls_or_a_trusted_proxy_only() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proto = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append("x-forwarded-proto", v.parse().unwrap());
            }
            h
        };
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // Own TLS, whoever the peer.
        assert!(https(true, ip("192.0.2.7"), &proto(&[]), &trusted));
        assert!(https(true, None, &proto(&["http"]), &trusted));
        // A trusted proxy's word, its last entry, any case.
        assert!(https(false, ip("10.1.2.3"), &proto(&["https"]), &trusted));
        assert!(https(false, ip("10.1.2.3"), &proto(&["HTTPS"]), &trusted));
        assert!(https(
            false,
            ip("10.1.2.3"),
            &proto(&["http, https"]),
            &trusted
        ));
        assert!(https(
            false,
            ip("::ffff:10.1.2.3"),
            &proto(&["https"]),
            &trusted
        ));
        assert!(!https(
            false,
            ip("10.1.2.3"),
            &proto(&["https", "http"]),
            &trusted
        ));
        assert!(!https(false, ip("10.1.2.3"), &proto(&[]), &trusted));
        // Anyone else's header is ignored.
        assert!(!https(false, ip("192.0.2.7"), &proto(&["https"]), &trusted));
        assert!(!https(false, None, &proto(&["https"]), &trusted));
    }

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // (peer, X-Forwarded-For headers, client)
        let table: &[(&str, &[&str], &str)] = &[
            // An untrusted peer's header is ignored.
            ("192.0.2.9", &["198.51.100.1"], "192.0.2.9"),
            // A trusted proxy names the client.
            ("10.0.0.2", &["198.51.100.1"], "198.51.100.1"),
            // The rightmost untrusted hop, not what the client wrote first.
            (
                "10.0.0.2",
                &["6.6.6.6, 198.51.100.1, 10.1.1.1"],
                "198.51.100.1",
            ),
            ("10.0.0.2", &["6.6.6.6", "198.51.100.1"], "198.51.100.1"),
            // No header: the proxy itself.
            ("10.0.0.2", &[], "10.0.0.2"),
            // Garbage stops the walk at the last trusted hop.
            (
                "10.0.0.2",
                &["198.51.100.1, nonsense, 10.0.0.3"],
                "10.0.0.3",
            ),
            // All trusted: the leftmost.
            ("10.0.0.2", &["10.0.0.5, 10.0.0.4"], "10.0.0.5"),
            // Ports and IPv6, IPv4-mapped peers.
            ("::1", &["[2001:db8::7]:443"], "2001:db8::7"),
            ("::ffff:10.0.0.2", &["198.51.100.1:5000"], "198.51.100.1"),
        ];
        for (peer, xff, want) in table {
            assert_eq!(
                client_addr(ip(peer), &headers(xff), &trusted),
                ip(want),
                "{peer} {xff:?}"
            );
        }
        assert_eq!(client_addr(None, &headers(&["1.2.3.4"]), &trusted), None);
        assert_eq!(
            client_addr(ip("10.0.0.2"), &headers(&["1.2.3.4"]), &[]),
            ip("10.0.0.2")
        );
    }
}
