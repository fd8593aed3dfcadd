//! The other provinces this server exchanges check records with
//! ([`PeerProvinces`]): division code → name, root public key(s), base URL.
//!
//! This is the seam between forwarding (issue 14 item 4) and the national
//! issuer list (items 1–3): today it is read from the `--peers FILE` of
//! `serve` ([`PeerProvinces::from_json`]); once the national list is
//! verified, build it from the list's entries with [`PeerProvinces::new`]
//! and hand it to the state (`AppState::set_peers`) after every accepted
//! list, so a province removed from the national list is neither forwarded
//! to nor accepted from.
//!
//! The file (JSON):
//!
//! ```json
//! {
//!   "province": 210000,
//!   "peers": [
//!     { "division": 220000, "name": "吉林省", "base_url": "https://jl.example.cn",
//!       "root_keys": [ { "alg": "EdDSA", "key": "<base64url, no padding>" } ] }
//!   ]
//! }
//! ```
//!
//! `province` is this server's own province (default 210000, Liaoning).

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use shared::crypto::{Alg, PublicKey};
use shared::forward::ProvinceCode;

/// Why a peer configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeersError {
    /// Not the documented JSON shape.
    #[error("peers file: {0}")]
    Json(#[from] serde_json::Error),
    /// A value is wrong; the message names it.
    #[error("peers file: {0}")]
    Invalid(String),
}

/// Another province's server.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Its province code.
    pub province: ProvinceCode,
    /// Its name, e.g. 吉林省.
    pub name: String,
    /// The root keys its forwarded batches may be signed with.
    pub root_keys: Vec<PublicKey>,
    /// Its server's base URL (`https://host[:port]`, no trailing path).
    pub base_url: String,
}

/// This server's province and the peers it knows.
#[derive(Debug, Clone)]
pub struct PeerProvinces {
    own: ProvinceCode,
    peers: BTreeMap<ProvinceCode, Peer>,
}

impl Default for PeerProvinces {
    /// Liaoning, no peers.
    fn default() -> PeerProvinces {
        PeerProvinces {
            own: ProvinceCode::LIAONING,
            peers: BTreeMap::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKey {
    alg: String,
    key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePeer {
    division: u32,
    name: String,
    base_url: String,
    root_keys: Vec<FileKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    province: Option<u32>,
    peers: Vec<FilePeer>,
}

fn province(code: u32, what: &str) -> Result<ProvinceCode, PeersError> {
    ProvinceCode::new(code).map_err(|_| {
        PeersError::Invalid(format!(
            "{what}: {code} is not a province-level division code (xx0000)"
        ))
    })
}

impl PeerProvinces {
    /// `own` and its peers; refuses a peer that is `own`, a province named
    /// twice, a peer without a root key or with a base URL that is not
    /// `http(s)://`.
    pub fn new(
        own: ProvinceCode,
        peers: impl IntoIterator<Item = Peer>,
    ) -> Result<PeerProvinces, PeersError> {
        let mut map = BTreeMap::new();
        for p in peers {
            if p.province == own {
                return Err(PeersError::Invalid(format!(
                    "peer {}: that is this server's own province",
                    p.province
                )));
            }
            if p.root_keys.is_empty() {
                return Err(PeersError::Invalid(format!(
                    "peer {}: no root key",
                    p.province
                )));
            }
            if !(p.base_url.starts_with("https://") || p.base_url.starts_with("http://")) {
                return Err(PeersError::Invalid(format!(
                    "peer {}: base_url {:?} is not an http(s) URL",
                    p.province, p.base_url
                )));
            }
            let code = p.province;
            if map.insert(code, p).is_some() {
                return Err(PeersError::Invalid(format!("peer {code}: named twice")));
            }
        }
        Ok(PeerProvinces { own, peers: map })
    }

    /// Reads the `--peers` file's text (format in the module documentation).
    pub fn from_json(text: &str) -> Result<PeerProvinces, PeersError> {
        let file: File = serde_json::from_str(text)?;
        let own = match file.province {
            Some(code) => province(code, "province")?,
            None => ProvinceCode::LIAONING,
        };
        let mut peers = Vec::with_capacity(file.peers.len());
        for p in file.peers {
            let code = province(p.division, "peer division")?;
            let root_keys = p
                .root_keys
                .iter()
                .map(|k| {
                    let alg = Alg::from_name(&k.alg).ok_or_else(|| {
                        PeersError::Invalid(format!(
                            "peer {code}: unknown algorithm {:?} (EdDSA or SM2)",
                            k.alg
                        ))
                    })?;
                    let bytes = URL_SAFE_NO_PAD.decode(k.key.trim()).map_err(|e| {
                        PeersError::Invalid(format!("peer {code}: key is not base64url: {e}"))
                    })?;
                    PublicKey::from_bytes(alg, &bytes)
                        .map_err(|e| PeersError::Invalid(format!("peer {code}: key: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            peers.push(Peer {
                province: code,
                name: p.name,
                root_keys,
                base_url: p.base_url.trim_end_matches('/').to_string(),
            });
        }
        PeerProvinces::new(own, peers)
    }

    /// The peers a verified national list names (every listed province
    /// but `own`): each province's root key from the list, its server at
    /// the origin (`scheme://host[:port]`) of its published trust-list URL,
    /// unless `configured` (the `--peers` file) names another base URL for
    /// it. A province the list does not name is no peer, whatever the file
    /// says: removed from the national list, it is neither forwarded to nor
    /// accepted from. A listed province whose URL has no origin is left out
    /// (and returned, with why, in the second value).
    pub fn from_national(
        own: ProvinceCode,
        list: &shared::national::NationalList,
        configured: Option<&PeerProvinces>,
    ) -> (PeerProvinces, Vec<(u32, String)>) {
        let mut peers = BTreeMap::new();
        let mut skipped = Vec::new();
        for p in &list.provinces {
            let Ok(code) = ProvinceCode::new(p.division.code()) else {
                skipped.push((p.division.code(), "not a province-level code".to_owned()));
                continue;
            };
            if code == own {
                continue;
            }
            let base_url = match configured.and_then(|c| c.get(code)) {
                Some(c) => c.base_url.clone(),
                None => match origin(&p.trust_list_url) {
                    Some(o) => o,
                    None => {
                        skipped.push((
                            code.code(),
                            format!(
                                "trust-list URL {:?} has no http(s) origin",
                                p.trust_list_url
                            ),
                        ));
                        continue;
                    }
                },
            };
            peers.insert(
                code,
                Peer {
                    province: code,
                    name: p.province_name().to_owned(),
                    root_keys: vec![p.root.clone()],
                    base_url,
                },
            );
        }
        (PeerProvinces { own, peers }, skipped)
    }

    /// `own` with no peers.
    pub fn none(own: ProvinceCode) -> PeerProvinces {
        PeerProvinces {
            own,
            peers: BTreeMap::new(),
        }
    }

    /// This server's own province.
    pub fn own(&self) -> ProvinceCode {
        self.own
    }

    /// The peer of `province`, if known.
    pub fn get(&self, province: ProvinceCode) -> Option<&Peer> {
        self.peers.get(&province)
    }

    /// Every peer, by code.
    pub fn iter(&self) -> impl Iterator<Item = &Peer> {
        self.peers.values()
    }
}

/// `scheme://host[:port]` of an http(s) URL.
fn origin(u: &str) -> Option<String> {
    let parsed = url::Url::parse(u).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return None;
    }
    Some(parsed.origin().ascii_serialization())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use shared::crypto::SigningKey;

    #[test]
    fn the_file_is_read_and_bad_entries_are_refused() {
        let key = SigningKey::from_secret_bytes(Alg::EdDSA, &[3; 32]).unwrap();
        let b64 = URL_SAFE_NO_PAD.encode(key.public_key().to_bytes());
        let text = format!(
            r#"{{"province": 220000, "peers": [{{"division": 210000, "name": "辽宁省",
                "base_url": "http://127.0.0.1:9/", "root_keys": [{{"alg": "EdDSA", "key": "{b64}"}}]}}]}}"#
        );
        let p = PeerProvinces::from_json(&text).unwrap();
        assert_eq!(p.own().code(), 220_000);
        let ln = p.get(ProvinceCode::new(210_000).unwrap()).unwrap();
        assert_eq!(ln.base_url, "http://127.0.0.1:9");
        assert_eq!(ln.root_keys[0].kid(), key.kid());
        assert_eq!(PeerProvinces::default().own().code(), 210_000);
        for bad in [
            text.replace("220000", "210000"),
            text.replace("\"210000\"", "210100")
                .replace(": 210000,", ": 210100,"),
            text.replace("EdDSA", "RSA"),
            text.replace("http://", "ftp://"),
            text.replace("\"peers\"", "\"peer\""),
        ] {
            assert!(PeerProvinces::from_json(&bad).is_err(), "{bad}");
        }
    }
}
