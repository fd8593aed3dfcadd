//! [`DelegationsTx`]: vehicle certificates an owner lent to a driver
//! (issue 13 item 6) and the delegated copies signed for the driver's
//! phone. Plain rows; who may delegate what is decided by
//! `service::delegations`.

use shared::domain::CertType;
use shared::status::Status;

use super::StoreError;

/// An owner's delegation of a vehicle certificate to a driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegationRow {
    /// Row id (ignored on insert).
    pub id: i64,
    /// The owner: the certificate's holder (credit code or ID number).
    pub owner_id: String,
    /// The certificate's type (YSZ or WYY).
    pub cert_type: CertType,
    /// Its compact number.
    pub number: String,
    /// The driver's ID number.
    pub driver_id: String,
    /// The driver's name.
    pub driver_name: String,
    /// First day, days since 1970-01-01 (China Standard Time days).
    pub valid_from: i64,
    /// Last day (inclusive), days since 1970-01-01.
    pub valid_until: i64,
    /// When it was made, Unix seconds.
    pub created_at: i64,
    /// When the owner revoked it.
    pub revoked_at: Option<i64>,
}

/// One signed delegated copy: a certificate with its own status index,
/// claim 10 the driver's device key and claim 11 the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegatedCopyRow {
    /// Its own status index.
    pub status_index: u32,
    /// The delegation it serves.
    pub delegation_id: i64,
    /// The status index of the certificate version it copies.
    pub source_index: u32,
    /// Its status (follows the delegation and the source version).
    pub status: Status,
    /// The signed COSE_Sign1.
    pub signed: Vec<u8>,
    /// The driver's device key it is bound to (raw Ed25519).
    pub device_key: Vec<u8>,
    /// Signing time, Unix seconds.
    pub issued_at: i64,
}

/// Whose delegations to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelegationsOf<'a> {
    /// Those an owner made.
    Owner(&'a str),
    /// Those made to a driver.
    Driver(&'a str),
}

/// Delegations and their copies.
pub trait DelegationsTx {
    /// Stores a delegation; returns its id.
    fn insert_delegation(&mut self, row: &DelegationRow) -> Result<i64, StoreError>;
    /// One delegation.
    fn delegation(&mut self, id: i64) -> Result<Option<DelegationRow>, StoreError>;
    /// An owner's or a driver's delegations, oldest first.
    fn delegations(&mut self, of: DelegationsOf<'_>) -> Result<Vec<DelegationRow>, StoreError>;
    /// Marks a delegation revoked; false when it was revoked already.
    fn revoke_delegation(&mut self, id: i64, at: i64) -> Result<bool, StoreError>;
    /// Stores a signed copy.
    fn insert_delegated_copy(&mut self, row: &DelegatedCopyRow) -> Result<(), StoreError>;
    /// A delegation's copies, by status index.
    fn delegated_copies(&mut self, delegation_id: i64)
        -> Result<Vec<DelegatedCopyRow>, StoreError>;
    /// The copies made from these certificate versions.
    fn copies_of_sources(&mut self, sources: &[u32]) -> Result<Vec<DelegatedCopyRow>, StoreError>;
    /// Every copy whose status is valid, by status index.
    fn valid_copies(&mut self) -> Result<Vec<DelegatedCopyRow>, StoreError>;
    /// Sets a copy's status.
    fn set_copy_status(&mut self, status_index: u32, status: Status) -> Result<(), StoreError>;
    /// Replaces a copy's signed COSE_Sign1 and signing time (a re-signing
    /// with another issuer key: same claims, same status index).
    fn set_copy_signed(
        &mut self,
        status_index: u32,
        signed: &[u8],
        issued_at: i64,
    ) -> Result<(), StoreError>;
    /// A holder's registered device keys (raw bytes), newest first.
    fn holder_device_keys(&mut self, holder_id: &str) -> Result<Vec<Vec<u8>>, StoreError>;
}
