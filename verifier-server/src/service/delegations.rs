//! Vehicle certificates used by drivers (issue 13 item 6): the owner of a
//! 道路运输证 (YSZ) or 网约车运输证 (WYY) — the holder the certificate belongs
//! to, signed in with a holder token (a company by its credit code) —
//! delegates it to a driver (by ID number) for a period, lists and revokes
//! the delegations.
//!
//! A delegation is served as a **delegated copy**: a certificate signed by
//! the issuer key with its own status index, the same type, number and
//! version as the owner's (so a check of it counts as use of that
//! certificate), validity = the delegation's days, claim 10 = the driver's
//! newest registered phone key and claim 11 = the driver (name, ends of the
//! ID number). Presentation and offline verification are unchanged; the
//! officer's card reads claim 11 and says who presents it. A revocation is
//! an ordinary status-list change, learnt by officers' devices at their
//! next sync; a copy follows its source version's status
//! (`lists::advance_status`). A copy is (re)issued when the delegation is
//! made, when the driver registers a phone (`holders::bind`) and at the
//! driver's sync, whenever the delegation is in force and its current copy
//! is not a valid copy of the certificate's current valid version bound to
//! the driver's newest key ([`refresh_copies`]).

use shared::api::delegations::{DelegationList, DelegationRequest, DelegationView};
use shared::cose::{self, Sign1};
use shared::crypto::{Alg, PublicKey};
use shared::domain::cert::Family;
use shared::domain::{parse_date, CertType, CertificateData, Face, IdNumber};
use shared::status::Status;
use shared::verify::MAX_CERTIFICATE_LEN;
use shared::wire::{Claims, Delegate};
use time::Date;

use super::action::Action;
use super::auth::{holder_id, Caller, Role};
use super::keys::Keys;
use super::lists::{advance_status, list_len};
use crate::store::{
    DelegatedCopyRow, DelegationRow, DelegationsOf, StatusState, Store, StoreError, Tx, VersionRow,
};

/// Longest driver's name accepted, in characters (keeps the presentation
/// QR within version 14: docs/wire-format.md, "Sizes").
pub const MAX_DRIVER_NAME: usize = 20;

/// Why a delegation request was refused or failed; nothing was stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DelegationsError {
    /// The body or a path value is not what was expected.
    #[error("{0}")]
    Malformed(String),
    /// The token is not a holder's.
    #[error("{0}")]
    NotAHolder(String),
    /// A person certificate or a permit: only vehicle certificates are
    /// lent to drivers.
    #[error("{0}")]
    NotAVehicleCertificate(String),
    /// No such certificate among the owner's (missing or another
    /// holder's: answered alike).
    #[error("{0}")]
    NotOwnersCertificate(String),
    /// The period reaches outside the certificate's validity.
    #[error("{0}")]
    BeyondValidity(String),
    /// The period itself is wrong (ends before it starts, starts in the
    /// past, not a date).
    #[error("{0}")]
    BadPeriod(String),
    /// The certificate is cancelled, revoked, suspended or superseded.
    #[error("{0}")]
    CertificateNotInForce(String),
    /// The driver is not a person with a valid ID number and a name, or
    /// is the owner.
    #[error("{0}")]
    BadDriver(String),
    /// No such delegation of this owner.
    #[error("{0}")]
    NotFound(String),
    /// Revoked already.
    #[error("{0}")]
    AlreadyRevoked(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored data did not read back, or the status list could not advance.
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

fn day_of(d: Date) -> i64 {
    i64::from(d.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY
}

fn date_of(day: i64) -> Result<Date, DelegationsError> {
    i32::try_from(day + UNIX_EPOCH_JULIAN_DAY)
        .ok()
        .and_then(|j| Date::from_julian_day(j).ok())
        .ok_or_else(|| DelegationsError::Internal(anyhow::anyhow!("stored day {day}")))
}

fn internal(e: impl std::fmt::Display, what: &str) -> DelegationsError {
    DelegationsError::Internal(anyhow::anyhow!("{what}: {e}"))
}

fn stored_data(v: &VersionRow) -> Result<CertificateData, DelegationsError> {
    serde_json::from_str(&v.data_json).map_err(|e| internal(e, "stored certificate data"))
}

/// The owner or driver a holder token speaks for.
fn holder(caller: &Caller) -> Result<String, DelegationsError> {
    match caller.role {
        Role::Holder => holder_id(&caller.subject),
        _ => None,
    }
    .ok_or_else(|| {
        DelegationsError::NotAHolder(
            "only a holder signed in by ID number or credit code has delegations".into(),
        )
    })
}

/// Whether a delegation is in force on the China Standard Time day of `now`.
fn in_force(d: &DelegationRow, now: i64) -> bool {
    let today = shared::cst::day_number(now);
    d.revoked_at.is_none() && d.valid_from <= today && today <= d.valid_until
}

/// The owner's current version of the delegated certificate.
fn source_of(tx: &mut dyn Tx, d: &DelegationRow) -> Result<Option<VersionRow>, StoreError> {
    Ok(tx
        .holder_certificates(&d.owner_id)?
        .into_iter()
        .find(|v| v.cert_type == d.cert_type && v.number == d.number))
}

/// Signs a copy of `source` for `d`, bound to `device`, with the next
/// status index; stored, valid.
fn issue_copy(
    tx: &mut dyn Tx,
    keys: &Keys,
    state: &mut StatusState,
    d: &DelegationRow,
    source: &VersionRow,
    device: &PublicKey,
    now: i64,
) -> Result<u32, DelegationsError> {
    let index = state.next_index;
    if index as usize >= shared::status::StatusList::MAX_LEN {
        return Err(DelegationsError::Internal(anyhow::anyhow!(
            "the status list is full"
        )));
    }
    state.next_index += 1;
    let data = stored_data(source)?;
    let driver = IdNumber::parse(&d.driver_id).map_err(|e| internal(e, "stored driver"))?;
    let mut claims = Claims::from_certificate(&data, index, now, Some(device.clone()));
    // The stored data keeps the version it was first pushed with; the
    // copy carries the version it copies.
    claims.version = source.version;
    claims.valid_from = date_of(d.valid_from)?;
    claims.valid_until = Some(date_of(d.valid_until)?);
    claims.delegate = Some(Delegate::new(&d.driver_name, &driver));
    let signed = cose::sign(claims.to_cbor(), &keys.issuer, true);
    tx.insert_delegated_copy(&DelegatedCopyRow {
        status_index: index,
        delegation_id: d.id,
        source_index: source.status_index,
        status: Status::Valid,
        signed,
        device_key: device.to_bytes(),
        issued_at: now,
    })?;
    Ok(index)
}

/// Makes sure each of the driver's delegations in force has a valid copy
/// of the owner's current valid version: bound to `device` when given (the
/// phone registering now), else to any of the driver's phones (a new copy
/// then goes to the newest registered one). Issues the missing copies and
/// supersedes those they replace; re-signs in place a current copy that an
/// older issuer key signed. Returns how many were issued; the status list
/// steps once (index growth included).
pub fn refresh_copies(
    tx: &mut dyn Tx,
    keys: &Keys,
    driver: &str,
    phone: Option<&PublicKey>,
    now: i64,
) -> Result<usize, DelegationsError> {
    let delegations: Vec<DelegationRow> = tx
        .delegations(DelegationsOf::Driver(driver))?
        .into_iter()
        .filter(|d| in_force(d, now))
        .collect();
    if delegations.is_empty() {
        return Ok(0);
    }
    let any_phone = phone.is_none();
    let device = match phone {
        Some(k) => k.clone(),
        None => {
            let Some(newest) = tx.holder_device_keys(driver)?.into_iter().next() else {
                return Ok(0);
            };
            PublicKey::from_bytes(Alg::EdDSA, &newest).map_err(|e| internal(e, "stored key"))?
        }
    };
    let key_bytes = device.to_bytes();
    let mut state = tx
        .status_state()?
        .ok_or_else(|| DelegationsError::Internal(anyhow::anyhow!("no status list")))?;
    let before = state.next_index;
    let mut changes = Vec::new();
    let mut issued = 0;
    for d in &delegations {
        let Some(source) = source_of(tx, d)? else {
            continue;
        };
        if source.status != Status::Valid {
            continue;
        }
        let copies = tx.delegated_copies(d.id)?;
        let current = copies.iter().find(|c| {
            c.status == Status::Valid
                && c.source_index == source.status_index
                && (c.device_key == key_bytes || any_phone)
        });
        if let Some(c) = current {
            resign_if_old(tx, keys, c, now)?;
            continue;
        }
        issue_copy(tx, keys, &mut state, d, &source, &device, now)?;
        issued += 1;
        for c in copies.iter().filter(|c| c.status == Status::Valid) {
            tx.set_copy_status(c.status_index, Status::Superseded)?;
            changes.push((c.status_index, Status::Superseded));
        }
    }
    if issued > 0 {
        step(tx, &mut state, before, now, changes)?;
    }
    Ok(issued)
}

/// Re-signs `copy` in place with the current issuer key when another key
/// signed it (a rotation or a compromise since), as `admin` does for the
/// certificates themselves at the rotation. The copy the driver holds
/// keeps verifying until its key leaves the trust list (or at once is
/// refused, for a compromised key); this one replaces it at the driver's
/// sync.
fn resign_if_old(
    tx: &mut dyn Tx,
    keys: &Keys,
    copy: &DelegatedCopyRow,
    now: i64,
) -> Result<(), DelegationsError> {
    let envelope = Sign1::parse(&copy.signed, MAX_CERTIFICATE_LEN)
        .map_err(|e| internal(e, "stored delegated copy"))?;
    if envelope.kid() == Some(keys.issuer.kid()) {
        return Ok(());
    }
    let signed = keys
        .resign(&envelope, now)
        .map_err(|e| internal(format!("{e:#}"), "stored delegated copy"))?;
    tx.set_copy_signed(copy.status_index, &signed, now)?;
    Ok(())
}

/// One status-list step for these changes, or only the new next index
/// when nothing changed and the list did not grow.
fn step(
    tx: &mut dyn Tx,
    state: &mut StatusState,
    before: u32,
    now: i64,
    changes: Vec<(u32, Status)>,
) -> Result<(), DelegationsError> {
    if !changes.is_empty() || list_len(before) != list_len(state.next_index) {
        advance_status(tx, state, now, changes).map_err(DelegationsError::Internal)
    } else {
        tx.set_status_state(*state).map_err(Into::into)
    }
}

fn view(tx: &mut dyn Tx, d: &DelegationRow, now: i64) -> Result<DelegationView, DelegationsError> {
    let source = source_of(tx, d)?;
    let (plate, owner_name) = match source.as_ref().map(stored_data).transpose()? {
        Some(CertificateData {
            face: Face::Vehicle(v),
            ..
        }) => (Some(v.plate.as_str().to_string()), v.owner),
        _ => (None, String::new()),
    };
    let today = shared::cst::day_number(now);
    let copy_valid = tx
        .delegated_copies(d.id)?
        .iter()
        .any(|c| c.status == Status::Valid);
    let state = if d.revoked_at.is_some() {
        "revoked"
    } else if today > d.valid_until {
        "ended"
    } else if copy_valid {
        "active"
    } else {
        "pending"
    };
    let masked = shared::view::mask_id(&d.driver_id);
    Ok(DelegationView {
        id: d.id,
        cert_type: d.cert_type.code().to_string(),
        type_name_zh: d.cert_type.name_zh().to_string(),
        number: d.number.clone(),
        plate,
        owner_name,
        driver_name: d.driver_name.clone(),
        driver_id_masked: masked,
        valid_from: date_of(d.valid_from)?.to_string(),
        valid_until: date_of(d.valid_until)?.to_string(),
        created_at: d.created_at,
        revoked_at: d.revoked_at,
        state: state.into(),
    })
}

fn driver_name_ok(name: &str) -> Result<String, DelegationsError> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > MAX_DRIVER_NAME || name.chars().any(char::is_control) {
        return Err(DelegationsError::BadDriver(format!(
            "driver_name: 1 to {MAX_DRIVER_NAME} characters, no control characters"
        )));
    }
    Ok(name.to_string())
}

fn day_arg(s: &str, field: &str) -> Result<Date, DelegationsError> {
    parse_date(s.trim())
        .map_err(|e| DelegationsError::BadPeriod(format!("{field}: {e} (expected YYYY-MM-DD)")))
}

/// The owner delegates one of their vehicle certificates to a driver. The
/// copy is issued at once when the driver has registered a phone, else
/// when they do.
pub fn create(
    store: &dyn Store,
    keys: &Keys,
    caller: &Caller,
    req: &DelegationRequest,
    now: i64,
) -> Result<DelegationView, DelegationsError> {
    let owner = holder(caller)?;
    let cert_type =
        CertType::from_code(&req.cert_type.trim().to_ascii_uppercase()).ok_or_else(|| {
            DelegationsError::Malformed(format!("cert_type: unknown type {:?}", req.cert_type))
        })?;
    if cert_type.family() != Family::Vehicle {
        return Err(DelegationsError::NotAVehicleCertificate(format!(
            "{} ({}) is not a vehicle certificate: only 道路运输证 (YSZ) and 网约车运输证 (WYY) \
             are delegated to drivers",
            cert_type.code(),
            cert_type.name_zh()
        )));
    }
    let driver = IdNumber::parse(req.driver_id_number.trim()).map_err(|e| {
        DelegationsError::BadDriver(format!("driver_id_number: not an ID number: {e}"))
    })?;
    if driver.as_str() == owner {
        return Err(DelegationsError::BadDriver(
            "driver_id_number: the owner does not delegate to themselves".into(),
        ));
    }
    let driver_name = driver_name_ok(&req.driver_name)?;
    let today = shared::cst::date(now);
    let from = match &req.valid_from {
        Some(s) => day_arg(s, "valid_from")?,
        None => today,
    };
    let until = day_arg(&req.valid_until, "valid_until")?;
    if from < today {
        return Err(DelegationsError::BadPeriod(format!(
            "valid_from: {from} is in the past (today is {today})"
        )));
    }
    if until < from {
        return Err(DelegationsError::BadPeriod(format!(
            "valid_until: {until} is before valid_from {from}"
        )));
    }
    let number = req.number.trim();
    let mut tx = store.begin()?;
    let source = tx
        .holder_certificates(&owner)?
        .into_iter()
        .find(|v| v.cert_type == cert_type && v.number == number)
        .ok_or_else(|| {
            DelegationsError::NotOwnersCertificate(format!(
                "no certificate {cert_type} {number} among this owner's certificates"
            ))
        })?;
    if source.status != Status::Valid {
        return Err(DelegationsError::CertificateNotInForce(format!(
            "certificate {cert_type} {number} is not in force ({}): it cannot be delegated",
            source.status.label_zh()
        )));
    }
    let data = stored_data(&source)?;
    if from < data.valid_from || data.valid_until.is_some_and(|u| until > u) {
        return Err(DelegationsError::BeyondValidity(format!(
            "the period {from} — {until} reaches outside the certificate's validity {} — {}",
            data.valid_from,
            data.valid_until
                .map_or_else(|| "长期".to_string(), |d| d.to_string())
        )));
    }
    let mut row = DelegationRow {
        id: 0,
        owner_id: owner.clone(),
        cert_type,
        number: number.to_string(),
        driver_id: driver.as_str().to_string(),
        driver_name,
        valid_from: day_of(from),
        valid_until: day_of(until),
        created_at: now,
        revoked_at: None,
    };
    row.id = tx.insert_delegation(&row)?;
    let issued = refresh_copies(tx.as_mut(), keys, driver.as_str(), None, now)?;
    let view = view(tx.as_mut(), &row, now)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::HolderDelegate,
        format!(
            "delegation {}: {cert_type} {number} to driver {} {from}..{until}",
            row.id,
            shared::view::mask_id(driver.as_str())
        ),
        format!("ok: {issued} copies issued"),
    ))?;
    tx.commit()?;
    Ok(view)
}

/// The caller's delegations, as owner and as driver, the read audited.
pub fn list(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
) -> Result<DelegationList, DelegationsError> {
    let me = holder(caller)?;
    let mut tx = store.begin()?;
    let given = tx.delegations(DelegationsOf::Owner(&me))?;
    let received = tx.delegations(DelegationsOf::Driver(&me))?;
    let list = DelegationList {
        given: given
            .iter()
            .map(|d| view(tx.as_mut(), d, now))
            .collect::<Result<_, _>>()?,
        received: received
            .iter()
            .map(|d| view(tx.as_mut(), d, now))
            .collect::<Result<_, _>>()?,
    };
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::HolderDelegations,
        format!(
            "holder {me}: {} given, {} received",
            list.given.len(),
            list.received.len()
        ),
        "ok",
    ))?;
    tx.commit()?;
    Ok(list)
}

/// The owner revokes a delegation: its valid copies become revoked in one
/// status-list step, learnt by officers' devices at their next sync.
pub fn revoke(
    store: &dyn Store,
    caller: &Caller,
    id: i64,
    now: i64,
) -> Result<DelegationView, DelegationsError> {
    let owner = holder(caller)?;
    let mut tx = store.begin()?;
    let mut d = tx
        .delegation(id)?
        .filter(|d| d.owner_id == owner)
        .ok_or_else(|| DelegationsError::NotFound(format!("no delegation {id} of this owner")))?;
    if !tx.revoke_delegation(id, now)? {
        return Err(DelegationsError::AlreadyRevoked(format!(
            "delegation {id} was revoked already"
        )));
    }
    d.revoked_at = Some(now);
    let mut changes = Vec::new();
    for c in tx.delegated_copies(id)? {
        if matches!(c.status, Status::Valid | Status::Suspended) {
            tx.set_copy_status(c.status_index, Status::Revoked)?;
            changes.push((c.status_index, Status::Revoked));
        }
    }
    let revoked = changes.len();
    if !changes.is_empty() {
        let mut state = tx
            .status_state()?
            .ok_or_else(|| DelegationsError::Internal(anyhow::anyhow!("no status list")))?;
        advance_status(tx.as_mut(), &mut state, now, changes)
            .map_err(DelegationsError::Internal)?;
    }
    let view = view(tx.as_mut(), &d, now)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::HolderRevokeDelegation,
        format!("delegation {id}: {} {}", d.cert_type, d.number),
        format!("ok: {revoked} copies revoked"),
    ))?;
    tx.commit()?;
    Ok(view)
}

/// The driver's valid delegated copies with their delegations, for the
/// holder's certificate list.
pub fn driver_copies(
    tx: &mut dyn Tx,
    driver: &str,
    now: i64,
) -> Result<Vec<(DelegationRow, DelegatedCopyRow, Claims)>, DelegationsError> {
    let mut out = Vec::new();
    for d in tx.delegations(DelegationsOf::Driver(driver))? {
        if d.revoked_at.is_some() || shared::cst::day_number(now) > d.valid_until {
            continue;
        }
        let copies = tx.delegated_copies(d.id)?;
        if let Some(c) = copies.into_iter().rev().find(|c| c.status == Status::Valid) {
            let claims = Sign1::parse(&c.signed, MAX_CERTIFICATE_LEN)
                .map_err(|e| internal(e, "stored copy"))
                .and_then(|s| {
                    Claims::from_cbor(s.payload()).map_err(|e| internal(e, "stored copy claims"))
                })?;
            out.push((d, c, claims));
        }
    }
    Ok(out)
}
