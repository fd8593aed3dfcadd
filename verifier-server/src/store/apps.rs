//! [`AppsTx`]: registered applications (issue 13), their public keys and
//! the identifiers of the signed assertions already accepted from them.
//! Plain rows; what they allow is decided by `service::apps`.

use super::StoreError;

/// A registered application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationRow {
    /// Row id (ignored on insert).
    pub id: i64,
    /// The OAuth 2.0 client identifier (unique).
    pub client_id: String,
    /// Its name.
    pub name: String,
    /// What it uses certificates for.
    pub purpose: String,
    /// The certificate type codes it may receive.
    pub cert_types: Vec<String>,
    /// The face-field keys it may receive.
    pub fields: Vec<String>,
    /// Where changes are announced, if anywhere.
    pub callback_url: Option<String>,
    /// Whether it may assert holders' identities (运证通).
    pub identity_provider: bool,
    /// When it was registered.
    pub created_at: i64,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

/// A public key an application signs with (a JWK, RFC 7517).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppKeyRow {
    /// The application's row id.
    pub application_id: i64,
    /// The key's `kid`, unique per application.
    pub kid: String,
    /// The JWK as JSON text.
    pub jwk: String,
    /// When it was added.
    pub added_at: i64,
    /// From when it is no longer accepted (an old key after a rotation).
    pub expires_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

/// A certificate a grant covers, or every certificate of a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantItem {
    /// The type code.
    pub cert_type: String,
    /// The compact number; `None`: every certificate of the type.
    pub number: Option<String>,
}

/// A consent: a holder's grant, or an agency's authorisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    /// Row id (ignored on insert).
    pub id: i64,
    /// The application's row id.
    pub application_id: i64,
    /// The granting holder (a holder's grant).
    pub holder_id: Option<String>,
    /// The authorising agency's division (an agency's authorisation).
    pub division: Option<shared::domain::DivisionCode>,
    /// What for.
    pub purpose: String,
    /// From when, Unix seconds.
    pub valid_from: i64,
    /// Until when (exclusive).
    pub valid_until: i64,
    /// When it was made.
    pub created_at: i64,
    /// The token that made it.
    pub created_by: i64,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// What it covers.
    pub items: Vec<GrantItem>,
}

/// An application's online verification (issue 13 item 5), as the
/// evaluation's evidence of use: what the server itself established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppCheckRow {
    /// Row id (ignored on insert).
    pub id: i64,
    /// The application's row id.
    pub application_id: i64,
    /// When, Unix seconds (server time).
    pub at: i64,
    /// `code` (a scanned code), `holder_grant` or `authorisation` (an
    /// identifier looked up under that kind of grant).
    pub kind: String,
    /// The province's signature verified (server).
    pub signature: bool,
    /// The code was a live presentation.
    pub presented: bool,
    /// Its holder binding verified (server).
    pub presentation: bool,
    /// The certificate's type code.
    pub cert_type: Option<String>,
    /// Its number.
    pub number: Option<String>,
    /// Its issuing division's code.
    pub cert_division: Option<u32>,
    /// The first problem short of status.
    pub reason: Option<String>,
}

/// Registered applications, their keys, and used assertion identifiers.
pub trait AppsTx {
    /// Registers an application; its id. A taken `client_id` is
    /// `Ok(None)`.
    fn insert_application(&mut self, row: &ApplicationRow) -> Result<Option<i64>, StoreError>;
    /// The application with this client identifier.
    fn application_by_client_id(
        &mut self,
        client_id: &str,
    ) -> Result<Option<ApplicationRow>, StoreError>;
    /// Every application, by id.
    fn applications(&mut self) -> Result<Vec<ApplicationRow>, StoreError>;
    /// Revokes an application at `at` unless revoked; whether it changed.
    fn revoke_application(&mut self, id: i64, at: i64) -> Result<bool, StoreError>;
    /// Adds a key; false when the application has a key with this kid.
    fn insert_app_key(&mut self, key: &AppKeyRow) -> Result<bool, StoreError>;
    /// An application's keys, by time added then kid.
    fn app_keys(&mut self, application_id: i64) -> Result<Vec<AppKeyRow>, StoreError>;
    /// Sets from when a key is no longer accepted; whether it exists.
    fn set_app_key_expiry(
        &mut self,
        application_id: i64,
        kid: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError>;
    /// Revokes a key at `at` unless revoked; whether it changed.
    fn revoke_app_key(
        &mut self,
        application_id: i64,
        kid: &str,
        at: i64,
    ) -> Result<bool, StoreError>;
    /// Records that `issuer` used assertion `jti`, kept until
    /// `expires_at`; false when it was used before (a replay). Identifiers
    /// expired before `now` are forgotten.
    fn use_assertion_id(
        &mut self,
        issuer: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Stores a grant with its items; its id.
    fn insert_grant(&mut self, grant: &GrantRow) -> Result<i64, StoreError>;
    /// One grant.
    fn grant(&mut self, id: i64) -> Result<Option<GrantRow>, StoreError>;
    /// The grants of a holder, of an agency's division, or to an
    /// application (exactly one of them given), revoked ones included, by id.
    fn grants(&mut self, by: GrantsOf<'_>) -> Result<Vec<GrantRow>, StoreError>;
    /// Revokes a grant at `at` unless revoked; whether it changed.
    fn revoke_grant(&mut self, id: i64, at: i64) -> Result<bool, StoreError>;

    /// Records an application's online verification.
    fn insert_app_check(&mut self, row: &AppCheckRow) -> Result<(), StoreError>;
    /// The online verifications made in `[from, to)`, by time then id.
    fn app_checks(&mut self, from: i64, to: i64) -> Result<Vec<AppCheckRow>, StoreError>;
    /// The time of the oldest online verification before `before`.
    fn app_checks_oldest(&mut self, before: i64) -> Result<Option<i64>, StoreError>;
    /// Deletes up to `limit` online verifications made before `before`,
    /// oldest first; how many.
    fn purge_app_checks(&mut self, before: i64, limit: u32) -> Result<u64, StoreError>;
}

/// Whose grants [`AppsTx::grants`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantsOf<'a> {
    /// A holder's.
    Holder(&'a str),
    /// An agency division's authorisations.
    Division(shared::domain::DivisionCode),
    /// Those to an application (its row id).
    Application(i64),
}

/// A stored comma-separated list.
pub(crate) fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}
