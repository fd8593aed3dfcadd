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
//! or `id_number` field (the face names the owner only by name). The store
//! computes this in Rust (`VersionRow::holder_id`) and keeps it with each
//! version.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use shared::cose::{self, Sign1};
use shared::crypto::{Alg, PublicKey};
use shared::domain::catalogue::qualification_class_name;
use shared::domain::{CertificateData, Face, IdNumber, Uscc};
use shared::qrtext;
use shared::status::Status;
use shared::verify::MAX_CERTIFICATE_LEN;
use shared::wire::Claims;

use crate::api::{audited, blocking, parse_type, require};
use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::lists::advance_status;
use crate::store::{CertificateRow, Tx, VersionRow};
use crate::AppState;

/// The canonical holder identifier of a token subject: an ID number (GB
/// 11643) or a unified social credit code (GB 32100), or `None`.
pub fn holder_id(subject: &str) -> Option<String> {
    let s = subject.trim();
    IdNumber::parse(s)
        .map(|id| id.as_str().to_string())
        .or_else(|_| Uscc::parse(s).map(|u| u.as_str().to_string()))
        .ok()
}

fn caller_holder_id(caller: &Caller) -> Result<String, ApiError> {
    require(caller, &[Role::Holder])?;
    holder_id(&caller.subject).ok_or_else(|| {
        ApiError::Forbidden(
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
fn signed_claims(v: &VersionRow) -> Result<Claims, ApiError> {
    let envelope = Sign1::parse(&v.signed, MAX_CERTIFICATE_LEN).map_err(|e| {
        ApiError::Internal(anyhow::anyhow!("stored {} {}: {e}", v.cert_type, v.number))
    })?;
    Claims::from_cbor(envelope.payload()).map_err(|e| {
        ApiError::Internal(anyhow::anyhow!(
            "stored {} {} claims: {e}",
            v.cert_type,
            v.number
        ))
    })
}

fn stored_data(v: &VersionRow) -> Result<CertificateData, ApiError> {
    serde_json::from_str(&v.data_json)
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("stored certificate data")))
}

fn view(tx: &mut dyn Tx, v: &VersionRow) -> Result<HolderCertificate, ApiError> {
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
    })
}

fn views(tx: &mut dyn Tx, holder: &str) -> Result<Vec<HolderCertificate>, ApiError> {
    let rows = tx.holder_certificates(holder)?;
    rows.iter().map(|v| view(tx, v)).collect()
}

/// `GET /api/v1/holder/certificates`: the caller's own certificates.
#[utoipa::path(get, path = "/api/v1/holder/certificates", tag = "holder",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The holder's current certificates", body = HolderCertificates),
        (status = 401, description = "No valid token", content_type = "application/problem+json"),
        (status = 403, description = "Not a holder token", content_type = "application/problem+json"),
    ))]
pub async fn get_certificates(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    let action = "GET /api/v1/holder/certificates";
    let result = list(&state, &caller, action).await;
    audited(&state, &caller, action, &uri, result).await
}

async fn list(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
) -> Result<Response, ApiError> {
    let holder = caller_holder_id(caller)?;
    let s = state.clone();
    let caller = caller.clone();
    blocking(move || {
        let mut tx = s.store().begin()?;
        let certificates = views(tx.as_mut(), &holder)?;
        tx.append_audit(&Caller::audit_entry(
            Some(&caller),
            s.now(),
            action,
            format!("holder {holder}: {} certificates", certificates.len()),
            "ok",
        ))?;
        tx.commit()?;
        Ok(no_store(
            Json(HolderCertificates { certificates }).into_response(),
        ))
    })
    .await
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    r
}

/// The QR text of one of the caller's certificates; audited in the same
/// transaction as the read.
async fn own_qr(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    type_text: String,
    number: String,
) -> Result<String, ApiError> {
    let holder = caller_holder_id(caller)?;
    let cert_type = parse_type(&type_text)?;
    let s = state.clone();
    let caller = caller.clone();
    blocking(move || {
        let mut tx = s.store().begin()?;
        let found = tx
            .holder_certificates(&holder)?
            .into_iter()
            .find(|v| v.cert_type == cert_type && v.number == number);
        // Another holder's certificate is answered exactly like a missing
        // one, so a holder cannot probe which numbers exist.
        let v = found.ok_or_else(|| {
            ApiError::NotFound(format!(
                "no certificate {cert_type} {number} among this holder's certificates"
            ))
        })?;
        tx.append_audit(&Caller::audit_entry(
            Some(&caller),
            s.now(),
            action,
            format!("{cert_type} {number} v{}", v.version),
            "ok",
        ))?;
        tx.commit()?;
        Ok(qrtext::encode(qrtext::Kind::Certificate, &v.signed))
    })
    .await
}

fn render_error(e: shared::qr::QrError) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("rendering a QR code: {e}"))
}

/// `GET /api/v1/holder/certificates/{cert_type}/{number}/qr.png`.
#[utoipa::path(get, path = "/api/v1/holder/certificates/{cert_type}/{number}/qr.png",
    tag = "holder", security(("bearer" = [])),
    params(("cert_type" = String, Path, description = "Type code, e.g. QC"),
           ("number" = String, Path, description = "Compact certificate number")),
    responses(
        (status = 200, description = "The QR code, ECC M, 4-module quiet zone", content_type = "image/png"),
        (status = 403, description = "Not a holder token", content_type = "application/problem+json"),
        (status = 404, description = "Not one of the caller's certificates", content_type = "application/problem+json"),
    ))]
pub async fn get_qr_png(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path((type_text, number)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let action = "GET /api/v1/holder/certificates/{type}/{number}/qr.png";
    let result = async {
        let text = own_qr(&state, &caller, action, type_text, number).await?;
        let png = blocking(move || {
            shared::qr::render_png(&text, &shared::qr::RenderOptions::default())
                .map_err(render_error)
        })
        .await?;
        Ok(no_store(
            ([(header::CONTENT_TYPE, "image/png")], png).into_response(),
        ))
    }
    .await;
    audited(&state, &caller, action, &uri, result).await
}

/// `GET /api/v1/holder/certificates/{cert_type}/{number}/qr.svg`.
#[utoipa::path(get, path = "/api/v1/holder/certificates/{cert_type}/{number}/qr.svg",
    tag = "holder", security(("bearer" = [])),
    params(("cert_type" = String, Path, description = "Type code, e.g. QC"),
           ("number" = String, Path, description = "Compact certificate number")),
    responses(
        (status = 200, description = "The QR code, ECC M, 4-module quiet zone", content_type = "image/svg+xml"),
        (status = 403, description = "Not a holder token", content_type = "application/problem+json"),
        (status = 404, description = "Not one of the caller's certificates", content_type = "application/problem+json"),
    ))]
pub async fn get_qr_svg(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path((type_text, number)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let action = "GET /api/v1/holder/certificates/{type}/{number}/qr.svg";
    let result = async {
        let text = own_qr(&state, &caller, action, type_text, number).await?;
        let svg = shared::qr::render_svg(&text, &shared::qr::RenderOptions::default())
            .map_err(render_error)?;
        Ok(no_store(
            ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response(),
        ))
    }
    .await;
    audited(&state, &caller, action, &uri, result).await
}

/// Parses a registration body into the device key, naming the field at
/// fault.
pub fn parse_device_key(body: &[u8]) -> Result<PublicKey, ApiError> {
    let key: DeviceKey = serde_json::from_slice(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "request body: expected {{\"public_key\": \"<base64url>\", \"alg\": \"EdDSA\"}}: {e}"
        ))
    })?;
    if let Some(alg) = key.alg.as_deref() {
        if !matches!(alg, "EdDSA" | "Ed25519" | "ed25519" | "eddsa") {
            return Err(ApiError::Unprocessable(format!(
                "alg: {alg:?} is not supported; holder keys are Ed25519 (\"EdDSA\"), \
                 the only algorithm claim 10 allows"
            )));
        }
    }
    let text = key.public_key.trim().trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|e| {
            ApiError::Unprocessable(format!("public_key: not base64url (RFC 4648 §5): {e}"))
        })?;
    if bytes.len() != 32 {
        return Err(ApiError::Unprocessable(format!(
            "public_key: {} bytes; an Ed25519 public key is 32 bytes",
            bytes.len()
        )));
    }
    PublicKey::from_bytes(Alg::EdDSA, &bytes).map_err(|e| {
        ApiError::Unprocessable(format!("public_key: not an acceptable Ed25519 key: {e}"))
    })
}

/// `POST /api/v1/holder/devices`: registers a device key and binds each
/// valid certificate of the holder to it.
#[utoipa::path(post, path = "/api/v1/holder/devices", tag = "holder",
    security(("bearer" = [])),
    request_body = DeviceKey,
    responses(
        (status = 200, description = "Registered; the holder's certificates, now bound", body = DeviceRegistered),
        (status = 400, description = "Not a JSON key object", content_type = "application/problem+json"),
        (status = 403, description = "Not a holder token", content_type = "application/problem+json"),
        (status = 422, description = "Malformed, weak or unsupported key (the field is named)", content_type = "application/problem+json"),
    ))]
pub async fn post_device(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let action = "POST /api/v1/holder/devices";
    let result = register(&state, &caller, action, body).await;
    audited(&state, &caller, action, &uri, result).await
}

async fn register(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let holder = caller_holder_id(caller)?;
    let body = crate::api::body_bytes(body, state.limits().max_body)?;
    let key = parse_device_key(&body)?;
    let s = state.clone();
    let caller = caller.clone();
    blocking(move || {
        let keys = s.keys();
        let now = s.now();
        let result = bind(&s, &keys, &caller, &holder, &key, now, action);
        // After the commit (or rollback), before anyone is answered.
        s.lists().invalidate();
        let registered = result?;
        Ok(no_store(Json(registered).into_response()))
    })
    .await
}

fn bind(
    s: &AppState,
    keys: &crate::keys::Keys,
    caller: &Caller,
    holder: &str,
    key: &PublicKey,
    now: i64,
    action: &str,
) -> Result<DeviceRegistered, ApiError> {
    let mut tx = s.store().begin()?;
    let new_device = tx.insert_holder_device(holder, key.alg(), &key.to_bytes(), now)?;
    let authorities = tx
        .authorities()?
        .into_iter()
        .map(|a| (a.division, a.uscc))
        .collect();
    let mut state = tx
        .status_state()?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the status list is not initialised")))?;
    let mut changes = Vec::new();
    let mut bound = 0;
    for v in tx.holder_certificates(holder)? {
        if v.status != Status::Valid || signed_claims(&v)?.holder_key.as_ref() == Some(key) {
            continue;
        }
        if v.version >= 999 {
            return Err(ApiError::Conflict(format!(
                "certificate {} {} is at version 999 and cannot be re-issued",
                v.cert_type, v.number
            )));
        }
        let mut data = stored_data(&v)?;
        data.version = v.version + 1;
        let index = state.next_index;
        if index as usize >= shared::status::StatusList::MAX_LEN {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "the status list is full"
            )));
        }
        state.next_index += 1;
        let claims = Claims::from_certificate(&data, index, now, Some(key.clone()));
        let signed = cose::sign(claims.to_cbor(), &keys.issuer, true);
        tx.put_certificate(&CertificateRow {
            cert_type: v.cert_type,
            number: v.number.clone(),
            version: data.version,
            status: Status::Valid,
            status_index: index,
            issuer_division: v.issuer_division,
            issued_at: now,
        })?;
        tx.insert_version(&VersionRow {
            cert_type: v.cert_type,
            number: v.number.clone(),
            version: data.version,
            status_index: index,
            status: Status::Valid,
            record_json: v.record_json.clone(),
            // The normalised data is unchanged (version 1 in it), so an
            // identical re-push stays `unchanged` and keeps the binding.
            data_json: v.data_json.clone(),
            signed,
            identifier: crate::issuing::identifier(&data, &authorities),
            issued_at: now,
            issuer_division: v.issuer_division,
        })?;
        tx.set_version_status(v.status_index, Status::Superseded)?;
        changes.push((v.status_index, Status::Superseded));
        bound += 1;
    }
    if !changes.is_empty() {
        advance_status(tx.as_mut(), &mut state, now, changes)?;
    }
    let certificates = views(tx.as_mut(), holder)?;
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

/// `GET /holder`: the holder's phone page (no external resources).
#[utoipa::path(get, path = "/holder", tag = "holder",
    responses((status = 200, description = "The holder page", content_type = "text/html")))]
pub async fn holder_page() -> Response {
    let mut r = Html(HOLDER_PAGE).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
             connect-src 'self'; img-src 'self' data:",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The page: paste the token, see the certificates as cards with the face
/// fields and the QR (SVG fetched with the token and inlined).
const HOLDER_PAGE: &str = include_str!("holder.html");
