//! [`ChangesTx`]: the certificate change feed (issue 13 item 4) and the
//! webhook outbox that announces it. Plain rows; which application may see
//! a change is decided by `service::changes`.

use super::StoreError;

/// One change of a certificate (or of a grant), in the order of its
/// `id` (an identity column: the feed's cursor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertChangeRow {
    /// Row id, the cursor (ignored on insert).
    pub id: i64,
    /// When, Unix seconds.
    pub at: i64,
    /// What changed (`issued`, `new_version`, `suspended`, ...).
    pub kind: String,
    /// The certificate's type code (none for an authorisation's revocation).
    pub cert_type: Option<String>,
    /// Its compact number.
    pub number: Option<String>,
    /// The version the change concerns.
    pub version: Option<u16>,
    /// Its status after the change (`valid`, `suspended`, `revoked`, ...).
    pub status: Option<String>,
    /// The certificate's holder ([`super::VersionRow::holder_id`]).
    pub holder_id: Option<String>,
    /// The issuing division's code.
    pub issuer_division: Option<u32>,
    /// The grant a `grant_revoked` change is about.
    pub grant_id: Option<i64>,
}

/// An application's webhook state: the newest cursor to announce, the
/// newest announced, how far the change table was scanned for it, and the
/// delivery's back-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    /// The application's row id.
    pub application_id: i64,
    /// The newest change visible to it (0: none yet).
    pub cursor: i64,
    /// The newest cursor its receiver acknowledged.
    pub delivered: i64,
    /// The change id up to which visibility was decided.
    pub scanned: i64,
    /// Failed attempts since the last delivery.
    pub attempts: u32,
    /// When the next attempt is due (or a claim ends).
    pub next_attempt_at: i64,
    /// The last failure, for operators.
    pub last_error: Option<String>,
}

/// The change feed and the webhook outbox.
pub trait ChangesTx {
    /// Appends changes (ids handed out in order; an engine serialises the
    /// writers so that ids become visible in the order they were given).
    fn insert_cert_changes(&mut self, rows: &[CertChangeRow]) -> Result<(), StoreError>;
    /// Up to `limit` changes with id above `after`, by id.
    fn cert_changes_after(
        &mut self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<CertChangeRow>, StoreError>;
    /// The newest change id (0 when none).
    fn last_cert_change(&mut self) -> Result<i64, StoreError>;
    /// An application's webhook row.
    fn webhook(&mut self, application_id: i64) -> Result<Option<WebhookRow>, StoreError>;
    /// Inserts or replaces an application's webhook row.
    fn put_webhook(&mut self, row: &WebhookRow) -> Result<(), StoreError>;
    /// Up to `limit` rows with an unannounced cursor due at `now`, the
    /// longest waiting first.
    fn webhooks_due(&mut self, now: i64, limit: u32) -> Result<Vec<WebhookRow>, StoreError>;
    /// Claims a due row until `until` unless another claimed it since it
    /// was read (its `next_attempt_at` is no longer `seen`); whether this
    /// caller has it.
    fn claim_webhook(
        &mut self,
        application_id: i64,
        seen: i64,
        until: i64,
    ) -> Result<bool, StoreError>;
}
