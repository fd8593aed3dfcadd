//! Officer device enrollment: an officer token registers the public key of a
//! field device (a phone), which then signs its check-log batches (see
//! `logs`). The device is bound to the token and to the token's division.
//!
//! Enrolling the same key again with the same token is idempotent; the same
//! key under another token is a conflict, so one device's log cannot be
//! claimed by two officers. One token may hold only a few active devices
//! (`Limits::max_devices_per_token`): new keys beyond it are refused (and
//! the refusal, audited, is listed by the evaluation), so a token cannot
//! mint devices to re-sign the same records. The province's administrator
//! lists devices per token and revokes them; a revoked device's batches
//! are refused and none of its checks counts.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use shared::api::{DeviceList, DeviceView, EnrollRequest, KeyView};
use shared::crypto::{Alg, PublicKey};

use super::action::Action;
use super::auth::{Caller, Role};
use crate::store::{DeviceRow, Store, StoreError};

/// Why an enrollment was refused; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum DevicesError {
    /// Not the expected JSON.
    #[error("{0}")]
    Malformed(String),
    /// Unknown alg, malformed or weak key, bad label.
    #[error("{0}")]
    Invalid(String),
    /// The officer token is bound to no division.
    #[error("{0}")]
    NoDivision(String),
    /// The key is another token's, or revoked; or the token holds its
    /// limit of active devices; or the device is revoked already.
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such device.
    #[error("{0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Longest device label, characters.
pub const MAX_LABEL_CHARS: usize = 200;

/// The API's name of an algorithm: `EdDSA` or `SM2-SM3`.
pub fn alg_api_name(alg: Alg) -> &'static str {
    match alg {
        Alg::EdDSA => "EdDSA",
        Alg::Sm2Sm3 => "SM2-SM3",
    }
}

/// The algorithm of an API name (`SM2` is accepted for `SM2-SM3`).
pub fn alg_from_api_name(name: &str) -> Option<Alg> {
    match name {
        "EdDSA" => Some(Alg::EdDSA),
        "SM2-SM3" | "SM2" => Some(Alg::Sm2Sm3),
        _ => None,
    }
}

/// The view of a key.
pub fn key_view(key: &PublicKey) -> KeyView {
    KeyView {
        alg: alg_api_name(key.alg()).into(),
        public_key: URL_SAFE_NO_PAD.encode(key.to_bytes()),
        kid: key.kid().to_hex(),
    }
}

/// What an enrollment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enrolled {
    /// A new device.
    New(DeviceRow),
    /// This token had enrolled this key already.
    Again(DeviceRow),
}

/// Parses an enrollment body into a public key and a label; errors name
/// the field.
pub fn parse_request(body: &[u8]) -> Result<(PublicKey, String), DevicesError> {
    let req: EnrollRequest = serde_json::from_slice(body).map_err(|e| {
        DevicesError::Malformed(format!(
            "request body: expected {{\"alg\", \"public_key\", \"label\"}}: {e}"
        ))
    })?;
    let alg = alg_from_api_name(&req.alg).ok_or_else(|| {
        DevicesError::Invalid(format!(
            "alg: {:?} is not EdDSA or SM2-SM3",
            req.alg.chars().take(40).collect::<String>()
        ))
    })?;
    let bytes = URL_SAFE_NO_PAD.decode(req.public_key.trim()).map_err(|e| {
        DevicesError::Invalid(format!("public_key: not base64url without padding: {e}"))
    })?;
    let key = PublicKey::from_bytes(alg, &bytes)
        .map_err(|e| DevicesError::Invalid(format!("public_key: {e}")))?;
    let label = req.label.unwrap_or_default();
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(DevicesError::Invalid(format!(
            "label: longer than {MAX_LABEL_CHARS} characters"
        )));
    }
    if label.chars().any(char::is_control) {
        return Err(DevicesError::Invalid(
            "label: control characters are not allowed".into(),
        ));
    }
    Ok((key, label))
}

/// Enrolls `key` for the officer `caller` at `now`, writing the audit row
/// in the same transaction.
pub fn enroll(
    store: &dyn Store,
    caller: &Caller,
    key: &PublicKey,
    label: &str,
    now: i64,
    max_active: u32,
) -> Result<Enrolled, DevicesError> {
    let division = caller.division.ok_or_else(|| {
        DevicesError::NoDivision("this officer token is not bound to a division".into())
    })?;
    let kid = key.kid();
    let mut tx = store.begin()?;
    let outcome = match tx.device_by_kid(&kid)? {
        Some(d) if d.token_id != caller.token_id => {
            return Err(DevicesError::Conflict(format!(
                "public_key: device key {kid} is already enrolled under another officer token"
            )));
        }
        Some(d) if d.revoked_at.is_some() => {
            return Err(DevicesError::Conflict(format!(
                "public_key: device key {kid} was revoked; enroll a new key"
            )));
        }
        Some(d) => Enrolled::Again(d),
        None => {
            let active = tx
                .devices(Some(caller.token_id))?
                .iter()
                .filter(|d| d.revoked_at.is_none())
                .count();
            if active >= max_active as usize {
                return Err(DevicesError::Conflict(format!(
                    "public_key: this officer token already has {active} active devices (at most \
                     {max_active}); ask the province's administrator to revoke one first"
                )));
            }
            let mut row = DeviceRow {
                id: 0,
                kid,
                alg: key.alg(),
                public_key: key.to_bytes(),
                token_id: caller.token_id,
                division,
                label: label.to_string(),
                enrolled_at: now,
                revoked_at: None,
                next_seq: 0,
                head: shared::checklog::GENESIS,
            };
            row.id = tx.insert_device(&row)?;
            Enrolled::New(row)
        }
    };
    let (what, row) = match &outcome {
        Enrolled::New(d) => ("enrolled", d),
        Enrolled::Again(d) => ("already enrolled", d),
    };
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::EnrollDevice,
        format!("device {} kid {kid}", row.id),
        format!("ok: {what}"),
    ))?;
    tx.commit()?;
    Ok(outcome)
}

/// The view of a device.
pub fn device_view(d: &DeviceRow) -> DeviceView {
    DeviceView {
        device_id: d.id,
        kid: d.kid.to_hex(),
        alg: alg_api_name(d.alg).into(),
        label: d.label.clone(),
        token_id: d.token_id,
        division: d.division.code(),
        enrolled_at: d.enrolled_at,
        revoked_at: d.revoked_at,
        next_seq: d.next_seq,
    }
}

/// The devices an officer token enrolled (an officer sees its own; an
/// administrator or auditor every token's, or `token`'s), audited in the
/// same transaction.
pub fn list(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    token: Option<i64>,
    max_active: u32,
) -> Result<DeviceList, DevicesError> {
    let token = match caller.role {
        Role::Officer => match token {
            Some(t) if t != caller.token_id => {
                return Err(DevicesError::Forbidden(
                    "an officer token lists only its own devices".into(),
                ))
            }
            _ => Some(caller.token_id),
        },
        Role::Admin | Role::Auditor => token,
        _ => {
            return Err(DevicesError::Forbidden(
                "only officers, administrators and auditors list devices".into(),
            ))
        }
    };
    let mut tx = store.begin()?;
    let devices: Vec<DeviceView> = tx.devices(token)?.iter().map(device_view).collect();
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::ListDevices,
        token.map_or_else(|| "every token".to_string(), |t| format!("token {t}")),
        format!("ok: {} devices", devices.len()),
    ))?;
    tx.commit()?;
    Ok(DeviceList {
        max_active_per_token: max_active,
        devices,
    })
}

/// Revokes device `id` at `now` for the administrator `caller` (`None`:
/// the command line), writing the audit row in the same transaction.
/// From then on its batches are refused and none of its checks counts.
pub fn revoke(
    store: &dyn Store,
    caller: Option<&Caller>,
    id: i64,
    now: i64,
) -> Result<DeviceView, DevicesError> {
    if caller.is_some_and(|c| c.role != Role::Admin) {
        return Err(DevicesError::Forbidden(
            "only the province's administrator revokes devices".into(),
        ));
    }
    let mut tx = store.begin()?;
    let Some(mut d) = tx.device(id)? else {
        return Err(DevicesError::NotFound(format!("no device with id {id}")));
    };
    if !tx.revoke_device(id, now)? {
        return Err(DevicesError::Conflict(format!(
            "device {id} was revoked already"
        )));
    }
    d.revoked_at = Some(now);
    let target = format!("device {id} kid {} token {}", d.kid, d.token_id);
    let entry = match caller {
        Some(c) => Caller::audit_entry(Some(c), now, Action::RevokeDevice, target, "ok"),
        None => super::action::cli_entry(now, Action::RevokeDevice, target, "ok"),
    };
    tx.append_audit(&entry)?;
    tx.commit()?;
    Ok(device_view(&d))
}
