//! The simulated 运证通 (and any registered application's side of the
//! credentials): an Ed25519 key kept as a PKCS#8 PEM file, its public JWK
//! for registration, and the signed assertions the server takes — a
//! client assertion (RFC 7523: `iss` = `sub` = client id) for the token
//! endpoint, and an identity assertion about a holder (`sub` = ID number
//! or credit code) for `POST /api/v1/holder/sign-in`. Used by
//! `verifier-server yzt …` (docs/demo.md) and by the tests; JWTs are made
//! by `jsonwebtoken`. The browser sign-in page is [`super::yzt_page`].

use std::path::Path;

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde::Serialize;
use serde_json::{json, Value};

use crate::service::auth::generate_token;

/// An application's signing key.
pub struct Signer {
    /// The client id it signs as.
    pub client_id: String,
    /// The key's `kid`.
    pub kid: String,
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("client_id", &self.client_id)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
}

impl Signer {
    /// A new random key.
    pub fn generate(client_id: &str, kid: &str) -> anyhow::Result<Signer> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| anyhow::anyhow!("could not generate an Ed25519 key"))?;
        Signer::from_pkcs8(client_id, kid, pkcs8.as_ref())
    }

    /// From PKCS#8 DER.
    pub fn from_pkcs8(client_id: &str, kid: &str, der: &[u8]) -> anyhow::Result<Signer> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| anyhow::anyhow!("not an Ed25519 PKCS#8 key: {e}"))?;
        Ok(Signer {
            client_id: client_id.into(),
            kid: kid.into(),
            pkcs8: der.to_vec(),
            public: pair.public_key().as_ref().to_vec(),
        })
    }

    /// Reads a `PRIVATE KEY` PEM file.
    pub fn load(path: &Path, client_id: &str, kid: &str) -> anyhow::Result<Signer> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let block = pem::parse(text).with_context(|| format!("{} is not PEM", path.display()))?;
        if block.tag() != "PRIVATE KEY" {
            bail!(
                "{} holds a {}, not a PRIVATE KEY",
                path.display(),
                block.tag()
            );
        }
        Signer::from_pkcs8(client_id, kid, block.contents())
    }

    /// Writes the key as a `PRIVATE KEY` PEM file, owner-only; refuses to
    /// overwrite one.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if path.exists() {
            bail!("{} exists; not overwriting a key", path.display());
        }
        let text = pem::encode(&pem::Pem::new("PRIVATE KEY", self.pkcs8.clone()));
        ownerfs::private_file(path).with_context(|| format!("creating {}", path.display()))?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }

    /// The public key as a JWK (RFC 7517, RFC 8037) with its `kid`.
    pub fn public_jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "kid": self.kid,
            "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&self.public),
        })
    }

    /// A JWT with these claims, signed (EdDSA) with `kid` in its header.
    pub fn sign(&self, sub: &str, aud: &str, now: i64, lifetime: i64) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        let claims = Claims {
            iss: &self.client_id,
            sub,
            aud,
            iat: now,
            exp: now.saturating_add(lifetime),
            jti: generate_token()[5..37].to_string(),
        };
        Ok(jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_ed_der(&self.pkcs8),
        )?)
    }

    /// A client assertion (RFC 7523 §3) for the token endpoint, valid
    /// for 60 seconds.
    pub fn client_assertion(&self, aud: &str, now: i64) -> anyhow::Result<String> {
        self.sign(&self.client_id, aud, now, 60)
    }

    /// 运证通's assertion that the person with this ID number (or the
    /// operator with this credit code) signed in, valid for 120 seconds.
    pub fn identity_assertion(&self, holder: &str, aud: &str, now: i64) -> anyhow::Result<String> {
        self.sign(holder, aud, now, 120)
    }
}

/// The form body of a token request with this signer's assertion.
pub fn token_form(signer: &Signer, aud: &str, now: i64) -> anyhow::Result<String> {
    let assertion = signer.client_assertion(aud, now)?;
    Ok(format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={assertion}",
        shared::api::apps::JWT_BEARER_ASSERTION.replace(':', "%3A")
    ))
}

/// An HTTP agent that answers problems as bodies instead of errors.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into()
}

/// The body of an answer, an error naming the problem unless it is 2xx.
fn answer(mut r: ureq::http::Response<ureq::Body>, what: &str) -> anyhow::Result<Value> {
    let status = r.status();
    let text = r.body_mut().read_to_string()?;
    if !status.is_success() {
        bail!("{what}: {status}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `yzt keygen`: a new key file; prints the public JWK.
pub fn keygen(path: &Path, client_id: &str, kid: &str) -> anyhow::Result<Value> {
    let signer = Signer::generate(client_id, kid)?;
    signer.save(path)?;
    Ok(signer.public_jwk())
}

/// `yzt register`: registers the key's application (as 运证通, an
/// identity provider, unless `identity_provider` is false) with the
/// administrator's token.
pub fn register(
    server: &str,
    admin_token: &str,
    signer: &Signer,
    identity_provider: bool,
    name: &str,
    purpose: &str,
) -> anyhow::Result<Value> {
    let body = json!({
        "client_id": signer.client_id,
        "name": name,
        "purpose": purpose,
        "cert_types": ["QC", "WYJ", "XYJ"],
        "fields": ["name"],
        "identity_provider": identity_provider,
        "jwk": signer.public_jwk(),
    });
    let r = agent()
        .post(format!(
            "{}/api/v1/applications",
            server.trim_end_matches('/')
        ))
        .header("Authorization", format!("Bearer {admin_token}"))
        .send_json(&body)?;
    answer(r, "registration")
}

/// `yzt sign-in`: signs "this person signed in" and exchanges it at the
/// server for a holder token (printed with the wallet's address).
pub fn sign_in(server: &str, signer: &Signer, holder: &str, aud: &str) -> anyhow::Result<Value> {
    let assertion = signer.identity_assertion(holder, aud, now())?;
    let r = agent()
        .post(format!(
            "{}/api/v1/holder/sign-in",
            server.trim_end_matches('/')
        ))
        .send_json(json!({ "assertion": assertion }))?;
    answer(r, "sign-in")
}

/// `yzt token`: an application access token by `private_key_jwt`.
pub fn app_token(server: &str, signer: &Signer, aud: &str) -> anyhow::Result<Value> {
    let form = token_form(signer, aud, now())?;
    let r = agent()
        .post(format!(
            "{}/api/v1/oauth/token",
            server.trim_end_matches('/')
        ))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(form)?;
    answer(r, "token")
}

/// `yzt assertion`: only prints an identity assertion (to try the
/// refusals by hand: replay it, wait past its expiry, …), signed as if
/// `issued_ago` seconds ago (an expired one, without waiting).
pub fn assertion(
    signer: &Signer,
    holder: &str,
    aud: &str,
    issued_ago: i64,
) -> anyhow::Result<String> {
    signer.identity_assertion(holder, aud, now().saturating_sub(issued_ago))
}
