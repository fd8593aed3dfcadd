//! Wire types of registered applications (issue 13): registration and
//! keys (administrator), the OAuth 2.0 token endpoint (RFC 6749 §4.4 with
//! RFC 7523 client assertions), holder sign-in through a trusted identity
//! provider (运证通).

use serde::{Deserialize, Serialize};

/// The `client_assertion_type` of RFC 7523 §2.2.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An application to register (administrator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterApplication {
    /// The client identifier to use (3–64 of `a-z0-9-`); one is made up
    /// when absent.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Its name, e.g. 辽宁运证通.
    pub name: String,
    /// What it uses certificates for (shown to holders granting access).
    pub purpose: String,
    /// The certificate type codes it may receive, e.g. `["WYJ", "WYC"]`.
    pub cert_types: Vec<String>,
    /// The face-field keys (catalogue `face_fields`) it may receive.
    pub fields: Vec<String>,
    /// Where changes are announced (`https://…`), if anywhere.
    #[serde(default)]
    pub callback_url: Option<String>,
    /// Whether it may assert holders' identities (运证通 only).
    #[serde(default)]
    pub identity_provider: bool,
    /// Its first public key: a JWK (RFC 7517) with `kid`, either
    /// `{"kty":"OKP","crv":"Ed25519","x":…}` or
    /// `{"kty":"EC","crv":"P-256","x":…,"y":…}`.
    #[cfg_attr(feature = "schema", schema(value_type = Object))]
    pub jwk: serde_json::Value,
}

/// A new key for an application (a rotation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddApplicationKey {
    /// The new public key (a JWK with `kid`, as at registration).
    #[cfg_attr(feature = "schema", schema(value_type = Object))]
    pub jwk: serde_json::Value,
    /// Seconds the application's other keys stay accepted (the overlap of
    /// the rotation; default 7 days, 0 ends them at once).
    #[serde(default)]
    pub overlap_seconds: Option<i64>,
}

/// A key of an application as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ApplicationKeyView {
    /// The key's `kid`.
    pub kid: String,
    /// `EdDSA` or `ES256`.
    pub alg: String,
    /// When it was added, Unix seconds.
    pub added_at: i64,
    /// From when it is no longer accepted.
    pub expires_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// Whether an assertion signed with it is accepted now.
    pub active: bool,
}

/// A registered application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ApplicationView {
    /// The OAuth 2.0 client identifier (`iss` and `sub` of its assertions).
    pub client_id: String,
    /// Its name.
    pub name: String,
    /// What it uses certificates for.
    pub purpose: String,
    /// The certificate type codes it may receive.
    pub cert_types: Vec<String>,
    /// The face-field keys it may receive.
    pub fields: Vec<String>,
    /// Where changes are announced.
    pub callback_url: Option<String>,
    /// Whether it may assert holders' identities.
    pub identity_provider: bool,
    /// When it was registered, Unix seconds.
    pub created_at: i64,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// Its keys, oldest first.
    pub keys: Vec<ApplicationKeyView>,
}

/// The registered applications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ApplicationList {
    /// By registration.
    pub applications: Vec<ApplicationView>,
    /// The audience (`aud`) assertions to this server must name.
    pub audience: String,
}

/// The token request (RFC 6749 §4.4, form-encoded) with a client
/// assertion (RFC 7523 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct TokenRequest {
    /// `client_credentials`.
    pub grant_type: String,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    pub client_assertion_type: String,
    /// The signed JWT: `iss` = `sub` = the client id, `aud` = the server's
    /// audience or token endpoint URL, `exp` within 5 minutes, a single-use
    /// `jti`.
    pub client_assertion: String,
    /// The client id (optional; must match the assertion).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Ignored (the application's registration decides what it may do).
    #[serde(default)]
    pub scope: Option<String>,
}

/// An access token (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    /// The bearer token.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds it stays valid.
    pub expires_in: i64,
}

/// A holder's sign-in: the identity provider's signed assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HolderSignInRequest {
    /// A JWT signed by a registered identity provider: `iss` its client
    /// id, `aud` this server's audience, `sub` the holder's ID number or
    /// unified social credit code, `exp` within 5 minutes, single-use
    /// `jti`.
    pub assertion: String,
}

/// A holder's short-lived sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct HolderSignIn {
    /// A holder bearer token.
    pub token: String,
    /// The holder (ID number or credit code).
    pub holder_id: String,
    /// When the token expires, Unix seconds.
    pub expires_at: i64,
    /// The identity provider that vouched for the holder.
    pub identity_provider: String,
}

/// How holders may sign in (`GET /api/v1/holder/sign-in`, public): the
/// wallet reads it to offer "通过运证通登录".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct HolderSignInOptions {
    /// 运证通's sign-in page (`serve --yzt-url`), where the wallet sends
    /// the holder with `redirect_uri` and `state` (OAuth 2.0 style); the
    /// page comes back to the wallet with `#assertion=…&state=…`. Absent:
    /// this server is connected to no identity provider.
    pub yzt_url: Option<String>,
}

/// An application a holder may grant access to (`GET
/// /api/v1/holder/applications`): registered and not revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct GranteeView {
    /// Its client id (named in a grant).
    pub client_id: String,
    /// Its name.
    pub name: String,
    /// What it uses certificates for, as registered.
    pub purpose: String,
    /// The certificate type codes it may receive.
    pub cert_types: Vec<String>,
    /// The face-field keys it may receive.
    pub fields: Vec<String>,
}

/// The applications a holder may grant access to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct GranteeList {
    /// Unrevoked registered applications.
    pub applications: Vec<GranteeView>,
}

/// A certificate named in a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GrantedCertificate {
    /// Type code, e.g. WYJ.
    pub cert_type: String,
    /// Certificate number (compact).
    pub number: String,
}

/// A holder's grant to an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HolderGrantRequest {
    /// The application's client id.
    pub client_id: String,
    /// The holder's certificates it may receive (1–20).
    pub certificates: Vec<GrantedCertificate>,
    /// What for, in the holder's words (shown in the wallet).
    pub purpose: String,
    /// Until when, Unix seconds (at most a year ahead).
    pub valid_until: i64,
}

/// An agency's authorisation of a (government) application for its
/// division's certificates of some types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AgencyAuthorisationRequest {
    /// The application's client id.
    pub client_id: String,
    /// The type codes (each among those the application is registered for).
    pub cert_types: Vec<String>,
    /// The legal basis or purpose.
    pub purpose: String,
    /// Until when, Unix seconds (at most a year ahead).
    pub valid_until: i64,
}

/// What a grant covers: a certificate, or (number absent) a type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct GrantItemView {
    /// Type code.
    pub cert_type: String,
    /// Certificate number; absent: every certificate of the type in the
    /// agency's division.
    pub number: Option<String>,
}

/// A grant or authorisation as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct GrantView {
    /// Its id.
    pub id: i64,
    /// The application's client id.
    pub client_id: String,
    /// The application's name.
    pub application_name: String,
    /// `holder` (a holder's grant) or `agency` (an agency's authorisation).
    pub kind: String,
    /// The granting holder.
    pub holder_id: Option<String>,
    /// The authorising agency's division.
    pub division: Option<u32>,
    /// What for.
    pub purpose: String,
    /// From when, Unix seconds.
    pub valid_from: i64,
    /// Until when (exclusive).
    pub valid_until: i64,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// Whether it gives access now.
    pub active: bool,
    /// What it covers.
    pub certificates: Vec<GrantItemView>,
}

/// Grants, by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct GrantList {
    /// Revoked and expired ones included.
    pub grants: Vec<GrantView>,
}

/// A face field an application may receive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct SharedField {
    /// The catalogue key.
    pub key: String,
    /// Chinese label.
    pub label_zh: String,
    /// English label.
    pub label_en: String,
    /// The value as shown (codes by name).
    pub value: String,
}

/// A certificate delivered to an application under a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct SharedCertificate {
    /// Type code.
    pub cert_type: String,
    /// Certificate number (compact).
    pub number: String,
    /// Current version.
    pub version: u16,
    /// `valid`, `revoked` (cancelled), `suspended` or `superseded`.
    pub status: String,
    /// The verdict now: `valid`, `invalid` or `cannot_confirm`.
    pub verdict: String,
    /// Why not valid (a `shared::verify::Reason` code).
    pub reason: Option<String>,
    /// Issuing authority.
    pub issuer_name: String,
    /// The face fields the application's purpose allows, in display order.
    pub fields: Vec<SharedField>,
    /// The signed certificate (COSE_Sign1, base64url), only when every
    /// field it carries is among the application's fields.
    pub cose: Option<String>,
    /// The QR text (`LC1:…`), under the same condition.
    pub qr: Option<String>,
    /// The grant this answer was given under.
    pub grant_id: i64,
}

/// An application's online verification: a scanned code, or a
/// certificate identifier (needs a grant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AppVerifyRequest {
    /// The scanned QR text (`LC1:…` or a live presentation `LP1:…`).
    #[serde(default)]
    pub code: Option<String>,
    /// Or the type code …
    #[serde(default)]
    pub cert_type: Option<String>,
    /// … and number of a granted certificate.
    #[serde(default)]
    pub number: Option<String>,
}

/// The verdict for an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AppVerdict {
    /// `valid`, `invalid` or `cannot_confirm`.
    pub verdict: String,
    /// Why not valid (a `shared::verify::Reason` code).
    pub reason: Option<String>,
    /// The reason in Chinese.
    pub reason_zh: Option<String>,
    /// Whether the code was a live presentation.
    pub presentation: bool,
    /// The certificate's type, when its signature verified.
    pub cert_type: Option<String>,
    /// Its number.
    pub number: Option<String>,
    /// Its version.
    pub version: Option<u16>,
    /// Its status in the register.
    pub status: Option<String>,
    /// The face fields the application's purpose allows.
    pub fields: Vec<SharedField>,
    /// The grant an identifier was looked up under.
    pub grant_id: Option<i64>,
    /// The issuing province's code (e.g. 220000) when a scanned code's
    /// signature verified (mutual recognition: another province's
    /// certificate is judged against its mirrored lists).
    #[serde(default)]
    pub province_code: Option<u32>,
    /// Its GB/T 2260 name, e.g. 吉林省.
    #[serde(default)]
    pub province_name: Option<String>,
}

/// One change of a certificate the application may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct CertificateChange {
    /// Its cursor (increasing; stable across restarts and server instances).
    pub cursor: i64,
    /// When, Unix seconds.
    pub at: i64,
    /// What changed: `issued`, `new_version`, `suspended`, `reinstated`,
    /// `cancelled` or `grant_revoked`.
    pub change: String,
    /// The certificate's type code (absent for a revoked authorisation by type).
    pub cert_type: Option<String>,
    /// Its number.
    pub number: Option<String>,
    /// The version concerned.
    pub version: Option<u16>,
    /// Its status after the change: `valid`, `suspended`, `revoked`
    /// (cancelled) or `superseded`.
    pub status: Option<String>,
    /// The grant a `grant_revoked` change is about.
    pub grant_id: Option<i64>,
}

/// A page of the change feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ChangeFeed {
    /// The changes, by cursor.
    pub changes: Vec<CertificateChange>,
    /// The cursor to ask `after` next (past every change looked at, shown
    /// or not).
    pub next: i64,
    /// Whether more changes may follow right away.
    pub more: bool,
}

/// The body of a webhook notification (the claims of a Security Event
/// Token, RFC 8417, signed as a JWS with EdDSA and posted as
/// `application/secevent+jwt`, RFC 8935; `docs/wire-format.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangesWaiting {
    /// The latest cursor with a change for this application.
    pub cursor: i64,
}
