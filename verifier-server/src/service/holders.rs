//! Holders (R7): a holder's token sees only the holder's own certificates,
//! as JSON, as QR images (PNG, SVG) and on a small phone page (`GET
//! /holder`), and registers a device key, after which the server issues a
//! holder-bound version of each valid certificate (claim 10 = the device
//! key) and supersedes the unbound one.
//!
//! Which certificates are a holder's: the token's subject is the holder's
//! ID number or unified social credit code (checked when the token is
//! created). A person certificate belongs to the face's ID number, a permit
//! to the face's credit code, and a vehicle certificate to the owner's
//! credit code or ID number as the agency pushed it in the record's `uscc`
//! or `id_number` field (the face names the owner only by name). The
//! database derives this as the `holder_id` column of
//! `certificate_versions` (migration 3).

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use shared::cose::{self, Sign1};
use shared::crypto::{Alg, PublicKey};
use shared::domain::catalogue::qualification_class_name;
use shared::domain::{CertType, CertificateData, Face};
use shared::qrtext;
use shared::status::Status;
use shared::verify::MAX_CERTIFICATE_LEN;
use shared::wire::Claims;

use super::action::Action;
use super::auth::{holder_id, Caller};
use super::issuing::{new_version, NewVersion, VersionError};
use super::lists::advance_status;
use crate::store::{Store, StoreError, Tx, VersionRow};

/// Why a holder's request was refused or failed; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum HoldersError {
    /// The body is not the expected JSON.
    #[error("{0}")]
    Malformed(String),
    /// The device key is not a usable Ed25519 key.
    #[error("{0}")]
    Invalid(String),
    /// The token is not a holder's.
    #[error("{0}")]
    NotAHolder(String),
    /// A certificate cannot be re-issued (at version 999).
    #[error("{0}")]
    Conflict(String),
    /// Not one of the holder's certificates (missing, or another
    /// holder's: answered alike).
    #[error("{0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A new version could not be stored.
    #[error(transparent)]
    Version(#[from] VersionError),
    /// Stored data did not read back.
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

/// The holder a holder token speaks for (its role already checked).
pub fn holder_of(caller: &Caller) -> Result<String, HoldersError> {
    holder_id(&caller.subject).ok_or_else(|| {
        HoldersError::NotAHolder(
            "this holder token's subject is not an ID number or credit code; \
             ask the administrator for a new token"
                .into(),
        )
    })
}

/// One face field, labelled in Chinese.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FaceField {
    /// Field key, e.g. `id_number`.
    pub key: &'static str,
    /// Chinese label, e.g. 公民身份号码.
    pub label_zh: &'static str,
    /// The value as shown.
    pub value: String,
}

/// One of the holder's certificates.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HolderCertificate {
    /// Type code, e.g. `QC`.
    pub cert_type: String,
    /// The type's Chinese name.
    pub type_name_zh: &'static str,
    /// Compact number.
    pub number: String,
    /// Current e-certificate version.
    pub version: u16,
    /// `valid`, `revoked`, `suspended` or `superseded`.
    #[schema(value_type = String)]
    pub status: Status,
    /// First day of validity, `YYYY-MM-DD`.
    pub valid_from: String,
    /// Last day of validity, `YYYY-MM-DD`; absent for long-term.
    pub valid_until: Option<String>,
    /// The issuing authority's division code.
    pub issuer_division: u32,
    /// The issuing authority's name.
    pub issuer_name: String,
    /// GB/T 36904 identifier.
    pub identifier: Option<String>,
    /// Face fields (照面信息), including those not carried in the QR.
    pub face: Vec<FaceField>,
    /// The QR text (`LC1:` …).
    pub qr: String,
    /// Whether the certificate is bound to a device key (claim 10): it
    /// must then be shown as a presentation signed by that device.
    pub holder_bound: bool,
    /// A delegated copy (授权使用): the owner's vehicle certificate lent to
    /// this holder as its driver. Absent for the holder's own certificates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegation: Option<DelegationNote>,
}

/// What the driver's wallet shows about a delegated copy.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DelegationNote {
    /// The delegation's id.
    pub id: i64,
    /// The owner's name (the face's 业户).
    pub owner_name: String,
    /// The last day of the delegation, `YYYY-MM-DD`.
    pub valid_until: String,
}

/// The answer listing a holder's certificates.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HolderCertificates {
    /// Current versions, by type and number.
    pub certificates: Vec<HolderCertificate>,
}

/// The answer to a device registration.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeviceRegistered {
    /// How many certificates got a new holder-bound version (0 when the
    /// key was already bound: registering again changes nothing).
    pub bound: usize,
    /// The holder's certificates after the registration.
    pub certificates: Vec<HolderCertificate>,
}

/// A device key to register.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct DeviceKey {
    /// The algorithm: `EdDSA` (Ed25519), the only one holder keys may use
    /// (claim 10 carries COSE alg -8). Optional.
    #[serde(default)]
    pub alg: Option<String>,
    /// The Ed25519 public key: its raw 32 bytes in base64url without
    /// padding (RFC 4648 §5; the JWK `x` value). Small-order (weak) keys
    /// are refused.
    pub public_key: String,
}

fn date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn field(key: &'static str, label_zh: &'static str, value: impl Into<String>) -> FaceField {
    FaceField {
        key,
        label_zh,
        value: value.into(),
    }
}

fn face_fields(face: &Face) -> Vec<FaceField> {
    let mut out = Vec::new();
    let scope = |codes: &[shared::domain::ScopeCode]| {
        codes
            .iter()
            .map(|c| c.label_zh().to_string())
            .collect::<Vec<_>>()
            .join("、")
    };
    match face {
        Face::Person(p) => {
            out.push(field("name", "姓名", p.name.clone()));
            out.push(field("sex", "性别", p.sex.label_zh()));
            out.push(field("id_number", "公民身份号码", p.id_number.as_str()));
            if let Some(v) = &p.vehicle_classes {
                out.push(field("vehicle_classes", "准驾车型", v.clone()));
            }
            if !p.qualification_classes.is_empty() {
                let names: Vec<String> = p
                    .qualification_classes
                    .iter()
                    .map(|c| {
                        qualification_class_name(*c).map_or_else(|| c.to_string(), str::to_string)
                    })
                    .collect();
                out.push(field(
                    "qualification_classes",
                    "从业资格类别",
                    names.join("、"),
                ));
            }
            if let Some(v) = &p.address {
                out.push(field("address", "住址", v.clone()));
            }
        }
        Face::Vehicle(v) => {
            out.push(field("owner", "业户名称", v.owner.clone()));
            out.push(field("plate", "车牌号码", v.plate.as_str()));
            out.push(field("plate_colour", "车牌颜色", v.plate_colour.label_zh()));
            if let Some(t) = &v.vehicle_type {
                out.push(field("vehicle_type", "车辆类型", t.clone()));
            }
            if let Some(s) = v.seats {
                out.push(field("seats", "核定座位", s.to_string()));
            }
            if let Some(t) = v.tonnage {
                let n = t.ten_thousandths();
                out.push(field(
                    "tonnage",
                    "吨位",
                    format!("{}.{:04}", n / 10_000, n % 10_000),
                ));
            }
            if !v.business_scope.is_empty() {
                out.push(field(
                    "business_scope",
                    "经营范围",
                    scope(&v.business_scope),
                ));
            }
            if let Some(d) = v.inspection_valid_until {
                out.push(field("inspection_valid_until", "审验有效期至", date(d)));
            }
        }
        Face::Permit(p) => {
            out.push(field("holder_name", "业户名称", p.holder_name.clone()));
            out.push(field("uscc", "统一社会信用代码", p.uscc.as_str()));
            if !p.business_scope.is_empty() {
                out.push(field(
                    "business_scope",
                    "经营范围",
                    scope(&p.business_scope),
                ));
            }
            if let Some(a) = &p.address {
                out.push(field("address", "地址", a.clone()));
            }
            if let Some(a) = &p.operating_area {
                out.push(field("operating_area", "经营区域", a.clone()));
            }
        }
    }
    out
}

/// The claims a stored version was signed with.
fn signed_claims(v: &VersionRow) -> Result<Claims, HoldersError> {
    let envelope = Sign1::parse(&v.signed, MAX_CERTIFICATE_LEN).map_err(|e| {
        HoldersError::Internal(anyhow::anyhow!("stored {} {}: {e}", v.cert_type, v.number))
    })?;
    Claims::from_cbor(envelope.payload()).map_err(|e| {
        HoldersError::Internal(anyhow::anyhow!(
            "stored {} {} claims: {e}",
            v.cert_type,
            v.number
        ))
    })
}

fn stored_data(v: &VersionRow) -> Result<CertificateData, HoldersError> {
    serde_json::from_str(&v.data_json).map_err(|e| {
        HoldersError::Internal(anyhow::Error::new(e).context("stored certificate data"))
    })
}

fn view(tx: &mut dyn Tx, v: &VersionRow) -> Result<HolderCertificate, HoldersError> {
    let data = stored_data(v)?;
    let claims = signed_claims(v)?;
    let issuer_name = tx
        .authorities()?
        .into_iter()
        .find(|a| a.division == v.issuer_division)
        .map_or_else(|| data.issuer.name.clone(), |a| a.name);
    Ok(HolderCertificate {
        cert_type: v.cert_type.code().to_string(),
        type_name_zh: v.cert_type.name_zh(),
        number: v.number.clone(),
        version: v.version,
        status: v.status,
        valid_from: date(data.valid_from),
        valid_until: data.valid_until.map(date),
        issuer_division: v.issuer_division.code(),
        issuer_name,
        identifier: v.identifier.clone(),
        face: face_fields(&data.face),
        qr: qrtext::encode(qrtext::Kind::Certificate, &v.signed),
        holder_bound: claims.holder_key.is_some(),
        delegation: None,
    })
}

/// A driver's delegated copy as shown: the copy's own claims (QR face
/// fields), validity and QR text.
fn copy_view(
    tx: &mut dyn Tx,
    d: &crate::store::DelegationRow,
    copy: &crate::store::DelegatedCopyRow,
    claims: &Claims,
) -> Result<HolderCertificate, HoldersError> {
    let authority = tx
        .authorities()?
        .into_iter()
        .find(|a| a.division == claims.issuer_division);
    let owner_name = match &claims.face {
        Face::Vehicle(v) => v.owner.clone(),
        _ => String::new(),
    };
    Ok(HolderCertificate {
        cert_type: claims.cert_type.code().to_string(),
        type_name_zh: claims.cert_type.name_zh(),
        number: claims.number.clone(),
        version: claims.version,
        status: copy.status,
        valid_from: date(claims.valid_from),
        valid_until: claims.valid_until.map(date),
        issuer_division: claims.issuer_division.code(),
        issuer_name: authority.as_ref().map_or_else(
            || claims.issuer_division.authority_name_zh(),
            |a| a.name.clone(),
        ),
        identifier: authority
            .and_then(|a| claims.identifier(&a.uscc).ok())
            .map(|i| i.to_string()),
        face: face_fields(&claims.face),
        qr: qrtext::encode(qrtext::Kind::Certificate, &copy.signed),
        holder_bound: true,
        delegation: Some(DelegationNote {
            id: d.id,
            owner_name,
            valid_until: claims.valid_until.map(date).unwrap_or_default(),
        }),
    })
}

/// The holder's current certificates as shown, the read audited in the
/// same transaction.
pub fn certificates(
    store: &dyn Store,
    keys: &crate::service::keys::Keys,
    caller: &Caller,
    now: i64,
    holder: &str,
) -> Result<Vec<HolderCertificate>, HoldersError> {
    let mut tx = store.begin()?;
    let issued = super::delegations::refresh_copies(tx.as_mut(), keys, holder, None, now)
        .map_err(|e| HoldersError::Internal(anyhow::anyhow!("delegated copies: {e}")))?;
    let certificates = views(tx.as_mut(), holder, now)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::HolderCertificates,
        format!("holder {holder}: {} certificates", certificates.len()),
        if issued == 0 {
            "ok".to_string()
        } else {
            format!("ok: {issued} delegated copies issued")
        },
    ))?;
    tx.commit()?;
    Ok(certificates)
}

/// The QR text of one of the holder's certificates, the read audited (as
/// `action`) in the same transaction. Another holder's certificate is
/// answered exactly like a missing one, so a holder cannot probe which
/// numbers exist.
pub fn qr_text(
    store: &dyn Store,
    caller: &Caller,
    now: i64,
    action: Action,
    holder: &str,
    cert_type: CertType,
    number: &str,
) -> Result<String, HoldersError> {
    let mut tx = store.begin()?;
    let v = tx
        .holder_certificates(holder)?
        .into_iter()
        .find(|v| v.cert_type == cert_type && v.number == number)
        .ok_or_else(|| {
            HoldersError::NotFound(format!(
                "no certificate {cert_type} {number} among this holder's certificates"
            ))
        })?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        action,
        format!("{cert_type} {number} v{}", v.version),
        "ok",
    ))?;
    tx.commit()?;
    Ok(qrtext::encode(qrtext::Kind::Certificate, &v.signed))
}

/// The holder's current certificates as shown, then the vehicle
/// certificates delegated to them as a driver (valid copies of delegations
/// not revoked or ended).
pub fn views(
    tx: &mut dyn Tx,
    holder: &str,
    now: i64,
) -> Result<Vec<HolderCertificate>, HoldersError> {
    let rows = tx.holder_certificates(holder)?;
    let mut out = rows
        .iter()
        .map(|v| view(tx, v))
        .collect::<Result<Vec<_>, _>>()?;
    let copies = super::delegations::driver_copies(tx, holder, now)
        .map_err(|e| HoldersError::Internal(anyhow::anyhow!("delegated copies: {e}")))?;
    for (d, copy, claims) in &copies {
        out.push(copy_view(tx, d, copy, claims)?);
    }
    Ok(out)
}

/// Parses a registration body into the device key, naming the field at
/// fault.
pub fn parse_device_key(body: &[u8]) -> Result<PublicKey, HoldersError> {
    let key: DeviceKey = serde_json::from_slice(body).map_err(|e| {
        HoldersError::Malformed(format!(
            "request body: expected {{\"public_key\": \"<base64url>\", \"alg\": \"EdDSA\"}}: {e}"
        ))
    })?;
    if let Some(alg) = key.alg.as_deref() {
        if !matches!(alg, "EdDSA" | "Ed25519" | "ed25519" | "eddsa") {
            return Err(HoldersError::Invalid(format!(
                "alg: {alg:?} is not supported; holder keys are Ed25519 (\"EdDSA\"), \
                 the only algorithm claim 10 allows"
            )));
        }
    }
    let text = key.public_key.trim().trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|e| {
            HoldersError::Invalid(format!("public_key: not base64url (RFC 4648 §5): {e}"))
        })?;
    if bytes.len() != 32 {
        return Err(HoldersError::Invalid(format!(
            "public_key: {} bytes; an Ed25519 public key is 32 bytes",
            bytes.len()
        )));
    }
    PublicKey::from_bytes(Alg::EdDSA, &bytes).map_err(|e| {
        HoldersError::Invalid(format!("public_key: not an acceptable Ed25519 key: {e}"))
    })
}

/// Registers `key` as a device of `holder` and issues a holder-bound
/// version of each valid certificate that is not bound to it (the unbound
/// one superseded), with the audit row, in one transaction.
pub fn bind(
    store: &dyn Store,
    keys: &crate::service::keys::Keys,
    caller: &Caller,
    holder: &str,
    key: &PublicKey,
    now: i64,
    action: &str,
) -> Result<DeviceRegistered, HoldersError> {
    let mut tx = store.begin()?;
    let new_device = tx.insert_holder_device(holder, key.alg(), &key.to_bytes(), now)?;
    let authorities = tx
        .authorities()?
        .into_iter()
        .map(|a| (a.division, a.uscc))
        .collect();
    let mut state = tx.status_state()?.ok_or_else(|| {
        HoldersError::Internal(anyhow::anyhow!("the status list is not initialised"))
    })?;
    let mut changes = Vec::new();
    let mut bound = 0;
    for v in tx.holder_certificates(holder)? {
        if v.status != Status::Valid || signed_claims(&v)?.holder_key.as_ref() == Some(key) {
            continue;
        }
        if v.version >= 999 {
            return Err(HoldersError::Conflict(format!(
                "certificate {} {} is at version 999 and cannot be re-issued",
                v.cert_type, v.number
            )));
        }
        let mut data = stored_data(&v)?;
        data.version = v.version + 1;
        let identifier = crate::service::issuing::identifier(&data, &authorities);
        new_version(
            tx.as_mut(),
            &mut state.next_index,
            now,
            NewVersion {
                cert_type: v.cert_type,
                number: &v.number,
                version: data.version,
                status: Status::Valid,
                issuer_division: v.issuer_division,
                record_json: v.record_json.clone(),
                // The normalised data is unchanged (version 1 in it), so an
                // identical re-push stays `unchanged` and keeps the binding.
                data_json: v.data_json.clone(),
                identifier,
                holder_id: v.holder_id.clone(),
                plate: v.plate.clone(),
                previous: Some(v.status_index),
            },
            |index| {
                let claims = Claims::from_certificate(&data, index, now, Some(key.clone()));
                cose::sign(claims.to_cbor(), &keys.issuer, true)
            },
            &mut changes,
        )?;
        bound += 1;
    }
    if !changes.is_empty() {
        advance_status(tx.as_mut(), &mut state, now, changes).map_err(HoldersError::Internal)?;
    }
    // Vehicle certificates lent to this holder as a driver move to the
    // phone that registers (the phone that last synced holds them).
    bound += super::delegations::refresh_copies(tx.as_mut(), keys, holder, Some(key), now)
        .map_err(|e| HoldersError::Internal(anyhow::anyhow!("delegated copies: {e}")))?;
    let certificates = views(tx.as_mut(), holder, now)?;
    let kid = key.kid();
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        action,
        format!("holder {holder} device key {kid}"),
        format!(
            "ok: {} key, {bound} certificates bound",
            if new_device { "new" } else { "known" }
        ),
    ))?;
    tx.commit()?;
    Ok(DeviceRegistered {
        bound,
        certificates,
    })
}
