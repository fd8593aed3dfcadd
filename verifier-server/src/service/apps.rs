//! Registered applications (issue 13): other systems (运证通, ride-hailing
//! and freight platforms, insurers, government systems) that the
//! administrator registers with a purpose, the certificate types and face
//! fields they may receive, and public keys.
//!
//! Credentials are OAuth 2.0 client credentials with `private_key_jwt`
//! (RFC 6749 §4.4, RFC 7521, RFC 7523): the application signs a short JWT
//! (`iss` = `sub` = its client id, `aud` = this server, `exp` within
//! [`ASSERTION_MAX_LIFETIME`], a single-use `jti`) with a key whose public
//! half (a JWK, Ed25519 or P-256) it registered, and gets a bearer token of
//! role `application` for [`APPLICATION_TOKEN_LIFETIME`]. Keys rotate (a
//! new key; the others end after an overlap) and are revoked; revoking the
//! application stops its tokens at their next use.
//!
//! An application flagged as an identity provider (运证通) also signs
//! assertions about holders (`sub` = ID number or credit code) that the
//! server exchanges for a short-lived holder token ([`holder_sign_in`]).
//!
//! JWTs are parsed and verified by `jsonwebtoken`; this module decides
//! which key, audience, lifetime and identifier are acceptable, at the
//! server's `now` (never the library's clock).

use std::collections::BTreeSet;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use shared::api::apps::{
    AddApplicationKey, ApplicationKeyView, ApplicationList, ApplicationView, HolderSignIn,
    RegisterApplication, TokenRequest, TokenResponse, JWT_BEARER_ASSERTION,
};
use shared::domain::catalogue;
use shared::domain::CertType;

use super::action::Action;
use super::auth::{generate_token, hash_token, holder_id, Caller, Role};
use crate::store::{AppKeyRow, ApplicationRow, Store, StoreError, TokenRow, Tx};

/// Longest accepted lifetime of an assertion (`exp` − now), seconds.
pub const ASSERTION_MAX_LIFETIME: i64 = 300;
/// Clock difference tolerated between the signer and the server, seconds.
pub const CLOCK_SKEW: i64 = 30;
pub use super::auth::APPLICATION_TOKEN_LIFETIME;
/// Lifetime of a holder token from a sign-in, seconds.
pub const SIGNED_IN_HOLDER_LIFETIME: i64 = 3_600;
/// Default overlap of a key rotation, seconds (7 days).
pub const DEFAULT_KEY_OVERLAP: i64 = 7 * 24 * 3_600;
/// The token endpoint's path.
pub const TOKEN_PATH: &str = "/api/v1/oauth/token";
/// Longest JWT accepted, bytes.
pub const MAX_ASSERTION_BYTES: usize = 8_192;

/// The audience assertions must name: this server's identifier
/// (`serve --audience`, by convention its public base URL). A client
/// assertion may also name the token endpoint's URL (RFC 7523 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience(pub String);

impl Default for Audience {
    fn default() -> Audience {
        Audience("lnec-verifier-server".into())
    }
}

impl Audience {
    /// The token endpoint's URL under this audience.
    pub fn token_endpoint(&self) -> String {
        format!("{}{TOKEN_PATH}", self.0.trim_end_matches('/'))
    }
}

/// Why a signed assertion was refused; each is its own problem type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionFault {
    /// Not a JWT, an algorithm other than EdDSA/ES256, a claim missing or
    /// of the wrong kind.
    Malformed,
    /// `iss` is no registered, unrevoked application.
    UnknownIssuer,
    /// No active key of the issuer verifies the signature.
    Signature,
    /// `aud` does not name this server.
    Audience,
    /// Past `exp`, or not yet valid.
    Expired,
    /// `exp` further ahead than [`ASSERTION_MAX_LIFETIME`].
    TooLong,
    /// The `jti` was used before.
    Replayed,
    /// The issuer may not assert holders' identities.
    Untrusted,
    /// `sub` is not what the assertion must name.
    Subject,
}

impl AssertionFault {
    /// The problem type (`/problems/assertion-…`).
    pub fn problem_type(self) -> &'static str {
        match self {
            AssertionFault::Malformed => "/problems/assertion-malformed",
            AssertionFault::UnknownIssuer => "/problems/assertion-unknown-issuer",
            AssertionFault::Signature => "/problems/assertion-signature",
            AssertionFault::Audience => "/problems/assertion-audience",
            AssertionFault::Expired => "/problems/assertion-expired",
            AssertionFault::TooLong => "/problems/assertion-lifetime",
            AssertionFault::Replayed => "/problems/assertion-replayed",
            AssertionFault::Untrusted => "/problems/assertion-untrusted",
            AssertionFault::Subject => "/problems/assertion-subject",
        }
    }
}

/// Why a request about applications was refused; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum AppsError {
    /// The request is not what the endpoint takes.
    #[error("{0}")]
    Malformed(String),
    /// A field's value cannot be accepted; the text names it.
    #[error("{0}")]
    Invalid(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such application or key.
    #[error("{0}")]
    NotFound(String),
    /// Taken, or revoked already.
    #[error("{0}")]
    Conflict(String),
    /// A signed assertion was refused.
    #[error("{1}")]
    Assertion(AssertionFault, String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn fault(f: AssertionFault, detail: impl Into<String>) -> AppsError {
    AppsError::Assertion(f, detail.into())
}

/// A public key parsed from its JWK.
struct AppKey {
    jwk: Jwk,
    alg: Algorithm,
}

/// The API name of a key's algorithm.
fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::ES256 => "ES256",
        _ => "EdDSA",
    }
}

fn b64_len(s: &str) -> Option<usize> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .map(|b| b.len())
}

/// Parses a registered public key: a JWK with `kid`, Ed25519 (`OKP`) or
/// P-256 (`EC`), no private part.
fn parse_jwk(value: &serde_json::Value) -> Result<(AppKey, String), AppsError> {
    let invalid = |m: &str| AppsError::Invalid(format!("jwk: {m}"));
    let obj = value
        .as_object()
        .ok_or_else(|| invalid("must be a JSON object (RFC 7517)"))?;
    if obj.contains_key("d") {
        return Err(invalid(
            "holds a private key (\"d\"): register only the public key",
        ));
    }
    let jwk: Jwk = serde_json::from_value(value.clone())
        .map_err(|e| invalid(&format!("not a supported JWK: {e}")))?;
    let kid = jwk
        .common
        .key_id
        .clone()
        .filter(|k| !k.trim().is_empty() && k.chars().count() <= 100)
        .ok_or_else(|| invalid("needs a \"kid\" of 1 to 100 characters"))?;
    let alg = match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            if b64_len(&p.x) != Some(32) {
                return Err(invalid("an Ed25519 \"x\" is 32 bytes, base64url"));
            }
            Algorithm::EdDSA
        }
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
            if b64_len(&p.x) != Some(32) || b64_len(&p.y) != Some(32) {
                return Err(invalid(
                    "P-256 \"x\" and \"y\" are 32 bytes each, base64url",
                ));
            }
            Algorithm::ES256
        }
        _ => {
            return Err(invalid(
                "only Ed25519 (kty OKP) and P-256 (kty EC) keys are accepted",
            ))
        }
    };
    DecodingKey::from_jwk(&jwk).map_err(|e| invalid(&format!("unusable key: {e}")))?;
    Ok((AppKey { jwk, alg }, kid))
}

fn key_view(k: &AppKeyRow, now: i64) -> ApplicationKeyView {
    let alg = serde_json::from_str::<serde_json::Value>(&k.jwk)
        .ok()
        .and_then(|v| parse_jwk(&v).ok())
        .map_or("?", |(key, _)| alg_name(key.alg));
    ApplicationKeyView {
        kid: k.kid.clone(),
        alg: alg.into(),
        added_at: k.added_at,
        expires_at: k.expires_at,
        revoked_at: k.revoked_at,
        active: key_active(k, now),
    }
}

fn key_active(k: &AppKeyRow, now: i64) -> bool {
    k.revoked_at.is_none() && k.expires_at.is_none_or(|e| now < e)
}

/// The view of an application with its keys.
pub fn view(tx: &mut dyn Tx, app: &ApplicationRow, now: i64) -> Result<ApplicationView, AppsError> {
    let keys = tx.app_keys(app.id)?;
    Ok(ApplicationView {
        client_id: app.client_id.clone(),
        name: app.name.clone(),
        purpose: app.purpose.clone(),
        cert_types: app.cert_types.clone(),
        fields: app.fields.clone(),
        callback_url: app.callback_url.clone(),
        identity_provider: app.identity_provider,
        created_at: app.created_at,
        revoked_at: app.revoked_at,
        keys: keys.iter().map(|k| key_view(k, now)).collect(),
    })
}

fn admin_only(caller: &Caller) -> Result<(), AppsError> {
    if caller.role == Role::Admin {
        Ok(())
    } else {
        Err(AppsError::Forbidden(
            "only the administrator manages applications".into(),
        ))
    }
}

fn text(field: &str, value: &str, max: usize) -> Result<String, AppsError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(AppsError::Invalid(format!(
            "{field}: 1 to {max} characters, no control characters"
        )));
    }
    Ok(v.to_string())
}

fn client_id_ok(id: &str) -> bool {
    (3..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Checks a callback URL: `https://`, or `http://` to a loopback host
/// (tests and demos).
fn callback_ok(url: &str) -> Result<String, AppsError> {
    let bad = || {
        AppsError::Invalid(
            "callback_url: an https:// URL (http:// only to 127.0.0.1 or localhost), at most 500 characters"
                .into(),
        )
    };
    if url.len() > 500 || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad());
    }
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        let host = r.split(['/', '?', '#']).next().unwrap_or_default();
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return Err(bad());
        }
        r
    } else {
        return Err(bad());
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(bad());
    }
    Ok(url.to_string())
}

/// Registers an application with its first key (administrator).
pub fn register(
    store: &dyn Store,
    caller: &Caller,
    req: &RegisterApplication,
    now: i64,
) -> Result<ApplicationView, AppsError> {
    admin_only(caller)?;
    let name = text("name", &req.name, 100)?;
    let purpose = text("purpose", &req.purpose, 500)?;
    if req.cert_types.is_empty() {
        return Err(AppsError::Invalid(
            "cert_types: name at least one certificate type".into(),
        ));
    }
    let mut types = BTreeSet::new();
    for code in &req.cert_types {
        let t = CertType::from_code(code).ok_or_else(|| {
            AppsError::Invalid(format!("cert_types: unknown certificate type {code:?}"))
        })?;
        types.insert(t);
    }
    let known: BTreeSet<String> = types
        .iter()
        .flat_map(|t| catalogue::entry(*t).face_fields)
        .map(|f| f.key)
        .collect();
    let mut fields = BTreeSet::new();
    for f in &req.fields {
        if !known.contains(f) {
            return Err(AppsError::Invalid(format!(
                "fields: {f:?} is no face field of the types named (catalogue face_fields)"
            )));
        }
        fields.insert(f.clone());
    }
    let callback_url = req.callback_url.as_deref().map(callback_ok).transpose()?;
    let client_id = match &req.client_id {
        Some(id) if client_id_ok(id) => id.clone(),
        Some(_) => {
            return Err(AppsError::Invalid(
                "client_id: 3 to 64 of a-z, 0-9 and -".into(),
            ))
        }
        None => format!("app-{}", &generate_token()[5..21]),
    };
    let (_, kid) = parse_jwk(&req.jwk)?;
    let row = ApplicationRow {
        id: 0,
        client_id: client_id.clone(),
        name,
        purpose,
        cert_types: types.iter().map(|t| t.code().to_string()).collect(),
        fields: fields.into_iter().collect(),
        callback_url,
        identity_provider: req.identity_provider,
        created_at: now,
        revoked_at: None,
    };
    let mut tx = store.begin()?;
    let id = tx.insert_application(&row)?.ok_or_else(|| {
        AppsError::Conflict(format!("client_id {client_id:?} is registered already"))
    })?;
    tx.insert_app_key(&AppKeyRow {
        application_id: id,
        kid: kid.clone(),
        jwk: req.jwk.to_string(),
        added_at: now,
        expires_at: None,
        revoked_at: None,
    })?;
    let row = ApplicationRow { id, ..row };
    let answer = view(&mut *tx, &row, now)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::RegisterApplication,
        format!(
            "application {client_id} types={} fields={} identity_provider={} key {kid}",
            row.cert_types.join(","),
            row.fields.join(","),
            row.identity_provider
        ),
        "ok",
    ))?;
    tx.commit()?;
    Ok(answer)
}

/// Every application (administrator, auditor).
pub fn list(
    store: &dyn Store,
    caller: &Caller,
    audience: &Audience,
    now: i64,
) -> Result<ApplicationList, AppsError> {
    if !matches!(caller.role, Role::Admin | Role::Auditor) {
        return Err(AppsError::Forbidden(
            "only the administrator and auditors list applications".into(),
        ));
    }
    let mut tx = store.begin()?;
    let rows = tx.applications()?;
    let mut applications = Vec::with_capacity(rows.len());
    for row in &rows {
        applications.push(view(&mut *tx, row, now)?);
    }
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::ListApplications,
        format!("{} applications", applications.len()),
        "ok",
    ))?;
    tx.commit()?;
    Ok(ApplicationList {
        applications,
        audience: audience.0.clone(),
    })
}

fn application(tx: &mut dyn Tx, client_id: &str) -> Result<ApplicationRow, AppsError> {
    tx.application_by_client_id(client_id)?
        .ok_or_else(|| AppsError::NotFound(format!("no application {client_id:?}")))
}

/// Adds a key to an application (a rotation): its other keys stay
/// accepted for the overlap, then end.
pub fn add_key(
    store: &dyn Store,
    caller: &Caller,
    client_id: &str,
    req: &AddApplicationKey,
    now: i64,
) -> Result<ApplicationView, AppsError> {
    admin_only(caller)?;
    let overlap = req.overlap_seconds.unwrap_or(DEFAULT_KEY_OVERLAP);
    if !(0..=90 * 24 * 3_600).contains(&overlap) {
        return Err(AppsError::Invalid(
            "overlap_seconds: 0 to 7,776,000 (90 days)".into(),
        ));
    }
    let (_, kid) = parse_jwk(&req.jwk)?;
    let mut tx = store.begin()?;
    let app = application(&mut *tx, client_id)?;
    if app.revoked_at.is_some() {
        return Err(AppsError::Conflict(format!(
            "application {client_id} is revoked"
        )));
    }
    let until = now.saturating_add(overlap);
    for k in tx.app_keys(app.id)? {
        if key_active(&k, now) && k.expires_at.is_none_or(|e| e > until) {
            tx.set_app_key_expiry(app.id, &k.kid, until)?;
        }
    }
    if !tx.insert_app_key(&AppKeyRow {
        application_id: app.id,
        kid: kid.clone(),
        jwk: req.jwk.to_string(),
        added_at: now,
        expires_at: None,
        revoked_at: None,
    })? {
        return Err(AppsError::Conflict(format!(
            "application {client_id} has a key {kid:?} already"
        )));
    }
    let answer = view(&mut *tx, &app, now)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::AddApplicationKey,
        format!("application {client_id} key {kid}; other keys end at {until}"),
        "ok",
    ))?;
    tx.commit()?;
    Ok(answer)
}

/// Revokes one key of an application at once.
pub fn revoke_key(
    store: &dyn Store,
    caller: &Caller,
    client_id: &str,
    kid: &str,
    now: i64,
) -> Result<ApplicationView, AppsError> {
    admin_only(caller)?;
    let mut tx = store.begin()?;
    let app = application(&mut *tx, client_id)?;
    let keys = tx.app_keys(app.id)?;
    if !keys.iter().any(|k| k.kid == kid) {
        return Err(AppsError::NotFound(format!(
            "application {client_id} has no key {kid:?}"
        )));
    }
    if !tx.revoke_app_key(app.id, kid, now)? {
        return Err(AppsError::Conflict(format!(
            "key {kid:?} is revoked already"
        )));
    }
    let answer = view(&mut *tx, &app, now)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::RevokeApplicationKey,
        format!("application {client_id} key {kid}"),
        "ok",
    ))?;
    tx.commit()?;
    Ok(answer)
}

/// Revokes an application: no new token, and its tokens are refused at
/// their next use.
pub fn revoke(
    store: &dyn Store,
    caller: &Caller,
    client_id: &str,
    now: i64,
) -> Result<ApplicationView, AppsError> {
    admin_only(caller)?;
    let mut tx = store.begin()?;
    let app = application(&mut *tx, client_id)?;
    if !tx.revoke_application(app.id, now)? {
        return Err(AppsError::Conflict(format!(
            "application {client_id} is revoked already"
        )));
    }
    let app = ApplicationRow {
        revoked_at: Some(now),
        ..app
    };
    let answer = view(&mut *tx, &app, now)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::RevokeApplication,
        format!("application {client_id}"),
        "ok",
    ))?;
    tx.commit()?;
    Ok(answer)
}

/// The registered application behind an application token, refused when
/// the caller is no application or it was revoked since.
pub fn application_of(tx: &mut dyn Tx, caller: &Caller) -> Result<ApplicationRow, AppsError> {
    if caller.role != Role::Application {
        return Err(AppsError::Forbidden(
            "only a registered application's token may do this".into(),
        ));
    }
    match tx.application_by_client_id(&caller.subject)? {
        Some(app) if app.revoked_at.is_none() => Ok(app),
        _ => Err(AppsError::Forbidden(format!(
            "application {} is revoked",
            caller.subject
        ))),
    }
}

/// The calling application's own registration.
pub fn own(store: &dyn Store, caller: &Caller, now: i64) -> Result<ApplicationView, AppsError> {
    let mut tx = store.begin()?;
    let app = application_of(&mut *tx, caller)?;
    let answer = view(&mut *tx, &app, now)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::ReadOwnApplication,
        format!("application {}", app.client_id),
        "ok",
    ))?;
    tx.commit()?;
    Ok(answer)
}

/// The claims of an assertion this server reads (`aud` is checked by
/// `jsonwebtoken`).
#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    jti: String,
}

/// A verified assertion: its issuer and claims, the key that signed it.
struct Verified {
    app: ApplicationRow,
    claims: Claims,
    kid: String,
}

/// Verifies a signed assertion: the issuer registered and unrevoked, one
/// of its active keys verifying the signature, `aud` among `audiences`,
/// unexpired, at most [`ASSERTION_MAX_LIFETIME`] ahead, and its `jti`
/// never seen before (recorded in `tx`).
fn verify_assertion(
    tx: &mut dyn Tx,
    jwt: &str,
    audiences: &[String],
    now: i64,
) -> Result<Verified, AppsError> {
    use AssertionFault as F;
    if jwt.len() > MAX_ASSERTION_BYTES {
        return Err(fault(F::Malformed, "the assertion is longer than 8 KiB"));
    }
    let header = jsonwebtoken::decode_header(jwt)
        .map_err(|e| fault(F::Malformed, format!("not a JWT (RFC 7519): {e}")))?;
    if !matches!(header.alg, Algorithm::EdDSA | Algorithm::ES256) {
        return Err(fault(
            F::Malformed,
            "the assertion must be signed with EdDSA or ES256",
        ));
    }
    // The issuer, read before the signature is checked, only to find its keys.
    let mut peek = Validation::new(header.alg);
    peek.insecure_disable_signature_validation();
    peek.validate_exp = false;
    peek.validate_aud = false;
    peek.required_spec_claims.clear();
    let unverified = jsonwebtoken::decode::<Claims>(jwt, &DecodingKey::from_secret(&[]), &peek)
        .map_err(|e| {
            fault(
                F::Malformed,
                format!("the assertion needs iss, sub, aud, exp and jti: {e}"),
            )
        })?
        .claims;
    let app = match tx.application_by_client_id(&unverified.iss)? {
        Some(a) if a.revoked_at.is_none() => a,
        _ => {
            return Err(fault(
                F::UnknownIssuer,
                format!(
                    "iss {:?} is no registered application",
                    unverified.iss.chars().take(80).collect::<String>()
                ),
            ))
        }
    };
    let keys = tx.app_keys(app.id)?;
    let mut verified = None;
    for k in keys.iter().filter(|k| key_active(k, now)) {
        if header.kid.as_deref().is_some_and(|kid| kid != k.kid) {
            continue;
        }
        let Some((key, _)) = serde_json::from_str::<serde_json::Value>(&k.jwk)
            .ok()
            .and_then(|v| parse_jwk(&v).ok())
        else {
            continue;
        };
        if key.alg != header.alg {
            continue;
        }
        let Ok(decoding) = DecodingKey::from_jwk(&key.jwk) else {
            continue;
        };
        let mut v = Validation::new(key.alg);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.set_audience(audiences);
        v.set_issuer(&[&app.client_id]);
        v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        match jsonwebtoken::decode::<Claims>(jwt, &decoding, &v) {
            Ok(data) => {
                verified = Some((data.claims, k.kid.clone()));
                break;
            }
            Err(e) => match e.kind() {
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => continue,
                ErrorKind::InvalidAudience => {
                    return Err(fault(
                        F::Audience,
                        format!("aud must name this server: {:?}", audiences[0]),
                    ))
                }
                ErrorKind::MissingRequiredClaim(c) if c == "aud" => {
                    return Err(fault(F::Audience, "the assertion names no aud"))
                }
                _ => {
                    return Err(fault(
                        F::Malformed,
                        format!("the assertion cannot be read: {e}"),
                    ))
                }
            },
        }
    }
    let Some((claims, kid)) = verified else {
        return Err(fault(
            F::Signature,
            format!(
                "no active key of {} verifies the assertion's signature",
                app.client_id
            ),
        ));
    };
    if now >= claims.exp.saturating_add(CLOCK_SKEW) {
        return Err(fault(F::Expired, "the assertion has expired (exp)"));
    }
    if claims.nbf.is_some_and(|t| t > now + CLOCK_SKEW) {
        return Err(fault(F::Expired, "the assertion is not yet valid (nbf)"));
    }
    if claims.iat.is_some_and(|t| t > now + CLOCK_SKEW) {
        return Err(fault(
            F::Malformed,
            "the assertion is issued in the future (iat)",
        ));
    }
    if claims.exp.saturating_sub(now) > ASSERTION_MAX_LIFETIME + CLOCK_SKEW {
        return Err(fault(
            F::TooLong,
            "the assertion may live at most 300 seconds (exp)",
        ));
    }
    if claims.jti.is_empty() || claims.jti.len() > 200 {
        return Err(fault(F::Malformed, "jti: 1 to 200 bytes"));
    }
    if !tx.use_assertion_id(
        &app.client_id,
        &claims.jti,
        claims.exp.saturating_add(CLOCK_SKEW),
        now,
    )? {
        return Err(fault(F::Replayed, "this assertion (jti) was used already"));
    }
    Ok(Verified { app, claims, kid })
}

/// Stores a new bearer token; its caller.
fn new_token(
    tx: &mut dyn Tx,
    role: Role,
    subject: &str,
    lifetime: i64,
    client_addr: Option<std::net::IpAddr>,
    now: i64,
) -> Result<(String, Caller, i64), AppsError> {
    let token = generate_token();
    let expires_at = now.saturating_add(lifetime);
    let id = tx.insert_token(&TokenRow {
        id: 0,
        hash: hash_token(&token),
        role: role.as_str().into(),
        division: None,
        subject: subject.into(),
        created_at: now,
        revoked_at: None,
        expires_at,
        last_used_at: None,
        prev_hash: None,
        prev_expires_at: None,
        rotated_at: None,
    })?;
    let caller = Caller {
        token_id: id,
        role,
        division: None,
        province: shared::domain::DivisionCode::PROVINCE,
        subject: subject.into(),
        client_addr,
    };
    Ok((token, caller, expires_at))
}

/// The token endpoint: a client assertion (RFC 7523) exchanged for an
/// application token, audited under the application's identity.
pub fn issue_token(
    store: &dyn Store,
    req: &TokenRequest,
    audience: &Audience,
    client_addr: Option<std::net::IpAddr>,
    now: i64,
) -> Result<TokenResponse, AppsError> {
    if req.grant_type != "client_credentials" {
        return Err(AppsError::Malformed(
            "grant_type must be client_credentials (unsupported_grant_type)".into(),
        ));
    }
    if req.client_assertion_type != JWT_BEARER_ASSERTION {
        return Err(AppsError::Malformed(format!(
            "client_assertion_type must be {JWT_BEARER_ASSERTION}"
        )));
    }
    let mut tx = store.begin()?;
    let v = verify_assertion(
        &mut *tx,
        &req.client_assertion,
        &[audience.0.clone(), audience.token_endpoint()],
        now,
    )?;
    if v.claims.sub != v.claims.iss {
        return Err(fault(
            AssertionFault::Subject,
            "a client assertion's sub must be its iss (RFC 7523 §3)",
        ));
    }
    if req
        .client_id
        .as_deref()
        .is_some_and(|c| c != v.app.client_id)
    {
        return Err(fault(
            AssertionFault::Subject,
            "client_id differs from the assertion's iss",
        ));
    }
    let (token, caller, _) = new_token(
        &mut *tx,
        Role::Application,
        &v.app.client_id,
        APPLICATION_TOKEN_LIFETIME,
        client_addr,
        now,
    )?;
    tx.append_audit(&Caller::audit_entry(
        Some(&caller),
        now,
        Action::IssueApplicationToken,
        format!(
            "application {} key {} token {}",
            v.app.client_id, v.kid, caller.token_id
        ),
        "ok",
    ))?;
    tx.commit()?;
    Ok(TokenResponse {
        access_token: token,
        token_type: "Bearer".into(),
        expires_in: APPLICATION_TOKEN_LIFETIME,
    })
}

/// A holder's real-name sign-in: an identity provider's assertion about
/// the holder exchanged for a holder token of
/// [`SIGNED_IN_HOLDER_LIFETIME`].
pub fn holder_sign_in(
    store: &dyn Store,
    assertion: &str,
    audience: &Audience,
    client_addr: Option<std::net::IpAddr>,
    now: i64,
) -> Result<HolderSignIn, AppsError> {
    let mut tx = store.begin()?;
    let v = verify_assertion(&mut *tx, assertion, std::slice::from_ref(&audience.0), now)?;
    if !v.app.identity_provider {
        return Err(fault(
            AssertionFault::Untrusted,
            format!(
                "application {} may not assert holders' identities",
                v.app.client_id
            ),
        ));
    }
    let holder = holder_id(&v.claims.sub).ok_or_else(|| {
        fault(
            AssertionFault::Subject,
            "sub must be an ID number (GB 11643) or unified social credit code (GB 32100)",
        )
    })?;
    let (token, caller, expires_at) = new_token(
        &mut *tx,
        Role::Holder,
        &holder,
        SIGNED_IN_HOLDER_LIFETIME,
        client_addr,
        now,
    )?;
    tx.append_audit(&Caller::audit_entry(
        Some(&caller),
        now,
        Action::HolderSignIn,
        format!(
            "holder {holder} via {} key {} token {}",
            v.app.client_id, v.kid, caller.token_id
        ),
        "ok",
    ))?;
    tx.commit()?;
    Ok(HolderSignIn {
        token,
        holder_id: holder,
        expires_at,
        identity_provider: v.app.client_id,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn jwks_are_checked() {
        let ok = serde_json::json!({"kty":"OKP","crv":"Ed25519","kid":"k1",
            "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        assert!(parse_jwk(&ok).is_ok());
        let mut private = ok.clone();
        private["d"] = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A".into();
        assert!(matches!(parse_jwk(&private), Err(AppsError::Invalid(_))));
        let mut no_kid = ok.clone();
        no_kid.as_object_mut().unwrap().remove("kid");
        assert!(matches!(parse_jwk(&no_kid), Err(AppsError::Invalid(_))));
        let short = serde_json::json!({"kty":"OKP","crv":"Ed25519","kid":"k","x":"AAAA"});
        assert!(matches!(parse_jwk(&short), Err(AppsError::Invalid(_))));
        let hmac = serde_json::json!({"kty":"oct","kid":"k","k":"AAAA"});
        assert!(matches!(parse_jwk(&hmac), Err(AppsError::Invalid(_))));
    }

    #[test]
    fn callbacks_are_https_or_loopback() {
        assert!(callback_ok("https://platform.example/hook").is_ok());
        assert!(callback_ok("http://127.0.0.1:8080/hook").is_ok());
        assert!(callback_ok("http://platform.example/hook").is_err());
        assert!(callback_ok("ftp://x").is_err());
        assert!(callback_ok("https:///x").is_err());
    }
}
