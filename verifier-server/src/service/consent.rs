//! Consent (issue 13, §6.3 "sharing only with authorisation"): a holder
//! grants a registered application access to chosen certificates for a
//! purpose and a period, lists and revokes the grants; an issuing agency
//! authorises an application (a government system) for its division's
//! certificates by type, lists and revokes those. [`covering`] is the one
//! access rule: no active grant, no data; a revoked or expired grant stops
//! data at the next call because every application read asks it again.

use std::collections::BTreeSet;

use shared::api::apps::{
    AgencyAuthorisationRequest, GrantItemView, GrantList, GrantView, GranteeList, GranteeView,
    HolderGrantRequest,
};
use shared::domain::{CertType, DivisionCode};

use super::action::Action;
use super::apps::AppsError;
use super::auth::{holder_id, Caller, Role};
use crate::store::evaluation::EvalCheck;
use crate::store::{
    AppCheckRow, ApplicationRow, CertChangeRow, GrantItem, GrantRow, GrantsOf, Store, StoreError,
    Tx, VersionRow,
};

/// The longest period of a grant, seconds (a year and a day).
pub const MAX_GRANT_PERIOD: i64 = 366 * 24 * 3_600;
/// Most certificates in one holder's grant.
pub const MAX_GRANT_CERTIFICATES: usize = 20;

/// The change-feed rows of a grant's revocation (`service::changes` reads
/// them): one per certificate it named (or one per type of an
/// authorisation).
fn grant_revoked(g: &GrantRow, now: i64) -> Vec<CertChangeRow> {
    g.items
        .iter()
        .map(|i| CertChangeRow {
            id: 0,
            at: now,
            kind: "grant_revoked".into(),
            cert_type: Some(i.cert_type.clone()),
            number: i.number.clone(),
            version: None,
            status: None,
            holder_id: g.holder_id.clone(),
            issuer_division: None,
            grant_id: Some(g.id),
        })
        .collect()
}

fn active(g: &GrantRow, now: i64) -> bool {
    g.revoked_at.is_none() && g.valid_from <= now && now < g.valid_until
}

fn grant_view(g: &GrantRow, app: &ApplicationRow, now: i64) -> GrantView {
    GrantView {
        id: g.id,
        client_id: app.client_id.clone(),
        application_name: app.name.clone(),
        kind: if g.holder_id.is_some() {
            "holder"
        } else {
            "agency"
        }
        .into(),
        holder_id: g.holder_id.clone(),
        division: g.division.map(DivisionCode::code),
        purpose: g.purpose.clone(),
        valid_from: g.valid_from,
        valid_until: g.valid_until,
        revoked_at: g.revoked_at,
        active: active(g, now),
        certificates: g
            .items
            .iter()
            .map(|i| GrantItemView {
                cert_type: i.cert_type.clone(),
                number: i.number.clone(),
            })
            .collect(),
    }
}

fn views(tx: &mut dyn Tx, grants: &[GrantRow], now: i64) -> Result<Vec<GrantView>, AppsError> {
    let apps = tx.applications()?;
    Ok(grants
        .iter()
        .filter_map(|g| {
            apps.iter()
                .find(|a| a.id == g.application_id)
                .map(|a| grant_view(g, a, now))
        })
        .collect())
}

/// The application a grant may go to: registered and not revoked.
fn grantee(tx: &mut dyn Tx, client_id: &str) -> Result<ApplicationRow, AppsError> {
    match tx.application_by_client_id(client_id)? {
        Some(a) if a.revoked_at.is_none() => Ok(a),
        _ => Err(AppsError::NotFound(format!(
            "no registered application {client_id:?}"
        ))),
    }
}

fn purpose_ok(p: &str) -> Result<String, AppsError> {
    let p = p.trim();
    if p.is_empty() || p.chars().count() > 200 || p.chars().any(char::is_control) {
        return Err(AppsError::Invalid(
            "purpose: 1 to 200 characters, no control characters".into(),
        ));
    }
    Ok(p.to_string())
}

fn period_ok(valid_until: i64, now: i64) -> Result<(), AppsError> {
    if valid_until <= now || valid_until - now > MAX_GRANT_PERIOD {
        return Err(AppsError::Invalid(
            "valid_until: after now and at most 366 days ahead".into(),
        ));
    }
    Ok(())
}

fn type_for(app: &ApplicationRow, code: &str) -> Result<CertType, AppsError> {
    let t = CertType::from_code(&code.trim().to_ascii_uppercase())
        .ok_or_else(|| AppsError::Invalid(format!("unknown certificate type {code:?}")))?;
    if !app.cert_types.iter().any(|c| c == t.code()) {
        return Err(AppsError::Invalid(format!(
            "application {} is not registered to receive {} certificates",
            app.client_id,
            t.code()
        )));
    }
    Ok(t)
}

/// The applications a holder may grant access to: every registered,
/// unrevoked application, with what it is registered to receive (holders
/// only; audited like the other holder reads).
pub fn grantees(store: &dyn Store, caller: &Caller, now: i64) -> Result<GranteeList, AppsError> {
    if caller.role != Role::Holder {
        return Err(AppsError::Forbidden(
            "only a holder lists the applications to grant access to".into(),
        ));
    }
    let mut tx = store.begin()?;
    let applications: Vec<GranteeView> = tx
        .applications()?
        .into_iter()
        .filter(|a| a.revoked_at.is_none())
        .map(|a| GranteeView {
            client_id: a.client_id,
            name: a.name,
            purpose: a.purpose,
            cert_types: a.cert_types,
            fields: a.fields,
        })
        .collect();
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::HolderApplications,
        format!("{} applications", applications.len()),
        "ok",
    ))?;
    tx.commit()?;
    Ok(GranteeList { applications })
}

/// A holder grants an application access to some of their certificates.
pub fn holder_grant(
    store: &dyn Store,
    caller: &Caller,
    req: &HolderGrantRequest,
    now: i64,
) -> Result<GrantView, AppsError> {
    let holder = match caller.role {
        Role::Holder => holder_id(&caller.subject),
        _ => None,
    }
    .ok_or_else(|| {
        AppsError::Forbidden("only a holder grants access to their certificates".into())
    })?;
    let purpose = purpose_ok(&req.purpose)?;
    period_ok(req.valid_until, now)?;
    if req.certificates.is_empty() || req.certificates.len() > MAX_GRANT_CERTIFICATES {
        return Err(AppsError::Invalid(
            "certificates: name 1 to 20 of your certificates".into(),
        ));
    }
    let mut tx = store.begin()?;
    let app = grantee(&mut *tx, &req.client_id)?;
    let own = tx.holder_certificates(&holder)?;
    let mut items = BTreeSet::new();
    for c in &req.certificates {
        let t = type_for(&app, &c.cert_type)?;
        let number = c.number.trim();
        if !own.iter().any(|v| v.cert_type == t && v.number == number) {
            return Err(AppsError::NotFound(format!(
                "no certificate {} {number} among this holder's certificates",
                t.code()
            )));
        }
        items.insert((t.code().to_string(), number.to_string()));
    }
    let mut row = GrantRow {
        id: 0,
        application_id: app.id,
        holder_id: Some(holder.clone()),
        division: None,
        purpose,
        valid_from: now,
        valid_until: req.valid_until,
        created_at: now,
        created_by: caller.token_id,
        revoked_at: None,
        items: items
            .into_iter()
            .map(|(cert_type, number)| GrantItem {
                cert_type,
                number: Some(number),
            })
            .collect(),
    };
    row.id = tx.insert_grant(&row)?;
    let listed: Vec<String> = row
        .items
        .iter()
        .map(|i| format!("{} {}", i.cert_type, i.number.as_deref().unwrap_or("*")))
        .collect();
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::HolderGrant,
        format!(
            "grant {} holder {holder} to {} until {}: {}",
            row.id,
            app.client_id,
            row.valid_until,
            listed.join(", ")
        ),
        "ok",
    ))?;
    tx.commit()?;
    Ok(grant_view(&row, &app, now))
}

/// An agency authorises an application for its division's certificates
/// of some types.
pub fn agency_authorise(
    store: &dyn Store,
    caller: &Caller,
    req: &AgencyAuthorisationRequest,
    now: i64,
) -> Result<GrantView, AppsError> {
    let division = match (caller.role, caller.division) {
        (Role::Agency, Some(d)) => d,
        _ => {
            return Err(AppsError::Forbidden(
                "only an issuing agency authorises access to its certificates".into(),
            ))
        }
    };
    let purpose = purpose_ok(&req.purpose)?;
    period_ok(req.valid_until, now)?;
    if req.cert_types.is_empty() {
        return Err(AppsError::Invalid(
            "cert_types: name at least one type".into(),
        ));
    }
    let mut tx = store.begin()?;
    let app = grantee(&mut *tx, &req.client_id)?;
    let mut types = BTreeSet::new();
    for code in &req.cert_types {
        types.insert(type_for(&app, code)?.code().to_string());
    }
    let mut row = GrantRow {
        id: 0,
        application_id: app.id,
        holder_id: None,
        division: Some(division),
        purpose,
        valid_from: now,
        valid_until: req.valid_until,
        created_at: now,
        created_by: caller.token_id,
        revoked_at: None,
        items: types
            .iter()
            .map(|t| GrantItem {
                cert_type: t.clone(),
                number: None,
            })
            .collect(),
    };
    row.id = tx.insert_grant(&row)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::AgencyAuthorise,
        format!(
            "authorisation {} division {} to {} until {}: {}",
            row.id,
            division.code(),
            app.client_id,
            row.valid_until,
            types.into_iter().collect::<Vec<_>>().join(",")
        ),
        "ok",
    ))?;
    tx.commit()?;
    Ok(grant_view(&row, &app, now))
}

/// The grants the caller sees: a holder's own, an agency division's,
/// an application's own.
fn scoped(tx: &mut dyn Tx, caller: &Caller) -> Result<Vec<GrantRow>, AppsError> {
    match (caller.role, caller.division) {
        (Role::Holder, _) => {
            let h = holder_id(&caller.subject)
                .ok_or_else(|| AppsError::Forbidden("this holder token names no holder".into()))?;
            Ok(tx.grants(GrantsOf::Holder(&h))?)
        }
        (Role::Agency, Some(d)) => Ok(tx.grants(GrantsOf::Division(d))?),
        (Role::Application, _) => {
            let app = super::apps::application_of(tx, caller)?;
            Ok(tx.grants(GrantsOf::Application(app.id))?)
        }
        _ => Err(AppsError::Forbidden(
            "only holders, agencies and applications list grants".into(),
        )),
    }
}

/// The caller's grants (holder), authorisations (agency) or the grants
/// it holds (application), revoked and expired ones included.
pub fn list(
    store: &dyn Store,
    caller: &Caller,
    action: Action,
    now: i64,
) -> Result<GrantList, AppsError> {
    let mut tx = store.begin()?;
    let rows = scoped(&mut *tx, caller)?;
    let grants = views(&mut *tx, &rows, now)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        action,
        format!("{} grants", grants.len()),
        "ok",
    ))?;
    tx.commit()?;
    Ok(GrantList { grants })
}

/// Revokes one of the caller's grants (holder) or authorisations
/// (agency); another's is answered like a missing one.
pub fn revoke(
    store: &dyn Store,
    caller: &Caller,
    id: i64,
    action: Action,
    now: i64,
) -> Result<GrantView, AppsError> {
    if !matches!(caller.role, Role::Holder | Role::Agency) {
        return Err(AppsError::Forbidden(
            "only the granting holder or agency revokes a grant".into(),
        ));
    }
    let mut tx = store.begin()?;
    let rows = scoped(&mut *tx, caller)?;
    let mut g = rows
        .into_iter()
        .find(|g| g.id == id)
        .ok_or_else(|| AppsError::NotFound(format!("no grant {id} of yours")))?;
    if !tx.revoke_grant(id, now)? {
        return Err(AppsError::Conflict(format!(
            "grant {id} is revoked already"
        )));
    }
    g.revoked_at = Some(now);
    tx.insert_cert_changes(&grant_revoked(&g, now))?;
    let view = views(&mut *tx, std::slice::from_ref(&g), now)?
        .pop()
        .ok_or_else(|| AppsError::NotFound(format!("no grant {id} of yours")))?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        action,
        format!("grant {id} to {}", view.client_id),
        "ok",
    ))?;
    tx.commit()?;
    Ok(view)
}

/// Whether an agency division's authorisation reaches certificates
/// issued in `issued_in` (the province everywhere, a city in its
/// counties, a county in itself).
fn division_covers(agency: DivisionCode, issued_in: DivisionCode) -> bool {
    agency.is_province() || agency == issued_in || (agency.is_city() && issued_in.city() == agency)
}

/// The active grant through which `app` may receive `version` now, if
/// any: a holder's grant naming it by its holder, or an authorisation of
/// its type by an agency whose division covers its issuer. The type must
/// also be among the application's registered ones.
pub fn covering(
    tx: &mut dyn Tx,
    app: &ApplicationRow,
    version: &VersionRow,
    now: i64,
) -> Result<Option<GrantRow>, StoreError> {
    let code = version.cert_type.code();
    if !app.cert_types.iter().any(|c| c == code) {
        return Ok(None);
    }
    let holder = version.holder_id.clone();
    Ok(tx
        .grants(GrantsOf::Application(app.id))?
        .into_iter()
        .filter(|g| active(g, now))
        .find(|g| {
            covers(
                g,
                code,
                &version.number,
                holder.as_deref(),
                Some(version.issuer_division),
            )
        }))
}

/// Whether grant `g` names the certificate `code` `number` held by
/// `holder` and issued in `issuer` (its period and revocation aside): a
/// holder's grant naming it, or an authorisation of its type by an agency
/// whose division covers its issuer.
pub fn covers(
    g: &GrantRow,
    code: &str,
    number: &str,
    holder: Option<&str>,
    issuer: Option<DivisionCode>,
) -> bool {
    match (&g.holder_id, g.division) {
        (Some(h), _) => {
            holder == Some(h.as_str())
                && g.items
                    .iter()
                    .any(|i| i.cert_type == code && i.number.as_deref() == Some(number))
        }
        (None, Some(d)) => {
            issuer.is_some_and(|i| division_covers(d, i))
                && g.items
                    .iter()
                    .any(|i| i.cert_type == code && i.number.is_none())
        }
        (None, None) => false,
    }
}

/// The face fields of `claims` the application's registration allows.
fn allowed_fields(
    tx: &mut dyn Tx,
    app: &ApplicationRow,
    claims: &shared::wire::Claims,
    now: i64,
) -> Result<(Vec<shared::api::apps::SharedField>, String), StoreError> {
    let trust = shared::trust::TrustList {
        seq: 0,
        manifest: shared::trust::Manifest {
            issued_at: now,
            ttl: 0,
            max_age: 0,
        },
        keys: Vec::new(),
        authorities: tx.authorities()?,
    };
    let face = shared::view::FaceView::build(claims, Some(&trust), now);
    if !app.cert_types.iter().any(|c| c == claims.cert_type.code()) {
        return Ok((Vec::new(), face.issuer_name));
    }
    let fields = face
        .lines
        .iter()
        .filter(|l| app.fields.contains(&l.key))
        .map(|l| shared::api::apps::SharedField {
            key: l.key.clone(),
            label_zh: l.label_zh.clone(),
            label_en: l.label_en.clone(),
            value: l.value.clone(),
        })
        .collect();
    Ok((fields, face.issuer_name))
}

/// The certificate `app` may receive under an active grant, with the
/// grant; [`AppsError::NotFound`] alike for a missing certificate and one
/// without a grant.
fn granted(
    tx: &mut dyn Tx,
    app: &ApplicationRow,
    cert_type: CertType,
    number: &str,
    now: i64,
) -> Result<(shared::api::apps::SharedCertificate, shared::wire::Claims), AppsError> {
    use base64::Engine as _;
    use shared::cose::Sign1;
    use shared::wire::Claims;
    let missing = || {
        AppsError::NotFound(format!(
            "no certificate {} {number} granted to this application",
            cert_type.code()
        ))
    };
    let current = tx.certificate(cert_type, number)?.ok_or_else(missing)?;
    let v = tx
        .version(cert_type, number, current.version)?
        .ok_or_else(missing)?;
    let grant = covering(tx, app, &v, now)?.ok_or_else(missing)?;
    let corrupt = |e: String| {
        AppsError::Store(StoreError::Corrupt(format!(
            "stored {} {number}: {e}",
            cert_type.code()
        )))
    };
    let sign1 = Sign1::parse(&v.signed, shared::verify::MAX_CERTIFICATE_LEN)
        .map_err(|e| corrupt(e.to_string()))?;
    let claims = Claims::from_cbor(sign1.payload()).map_err(|e| corrupt(e.to_string()))?;
    let (fields, issuer_name) = allowed_fields(tx, app, &claims, now)?;
    let carried_all = shared::domain::catalogue::entry(cert_type)
        .face_fields
        .iter()
        .filter(|f| f.on_qr)
        .all(|f| app.fields.contains(&f.key));
    let reason = super::lookup::judge(v.status, &claims, now);
    Ok((
        shared::api::apps::SharedCertificate {
            cert_type: cert_type.code().into(),
            number: v.number.clone(),
            version: v.version,
            status: super::lookup::status_name(v.status).into(),
            verdict: reason
                .map_or(
                    shared::verify::Verdict::Valid,
                    shared::verify::Reason::verdict,
                )
                .as_str()
                .into(),
            reason: reason.map(|r| r.code().into()),
            issuer_name,
            fields,
            cose: carried_all
                .then(|| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&v.signed)),
            qr: carried_all
                .then(|| shared::qrtext::encode(shared::qrtext::Kind::Certificate, &v.signed)),
            grant_id: grant.id,
        },
        claims,
    ))
}

/// A certificate delivered to the calling application: the current
/// version, if an active grant covers it ([`covering`]), with only the
/// face fields of the application's registration; the signed COSE and
/// the QR text only when every field they carry is among those. A
/// certificate without a grant is answered exactly like a missing one.
pub fn fetch(
    store: &dyn Store,
    caller: &Caller,
    cert_type: CertType,
    number: &str,
    now: i64,
) -> Result<shared::api::apps::SharedCertificate, AppsError> {
    let mut tx = store.begin()?;
    let app = super::apps::application_of(&mut *tx, caller)?;
    let (answer, _) = granted(&mut *tx, &app, cert_type, number, now)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::AppCertificate,
        format!(
            "{} {number} v{} under grant {} to {}",
            cert_type.code(),
            answer.version,
            answer.grant_id,
            app.client_id
        ),
        "ok",
    ))?;
    tx.commit()?;
    Ok(answer)
}

/// Online verification for a relying application: a scanned code (its
/// signature, holder binding and dates checked by `shared::verify`
/// against the server's trust list, its status from the store: it carries
/// its own proof, no grant needed), or a certificate identifier (only
/// under an active grant, as [`fetch`]). The answer holds only the
/// fields of the application's purpose. `trust` is the server's current
/// trust list; `national` the mirrored national list and the other
/// provinces' lists (mutual recognition), when held: another province's
/// code is then judged entirely by `shared::verify` against that
/// province's mirrored trust and status lists (this register holds none of
/// its certificates), and the answer names the issuing province. Audited
/// as the application's check.
pub fn verify(
    store: &dyn Store,
    caller: &Caller,
    req: &shared::api::apps::AppVerifyRequest,
    trust: &shared::trust::TrustList,
    national: Option<shared::verify::National<'_>>,
    now: i64,
) -> Result<shared::api::apps::AppVerdict, AppsError> {
    use shared::api::apps::AppVerdict;
    use shared::verify::{Reason, Verdict};
    let mut tx = store.begin()?;
    let app = super::apps::application_of(&mut *tx, caller)?;
    let mut check = AppCheckRow {
        id: 0,
        application_id: app.id,
        at: now,
        kind: "code".into(),
        signature: false,
        presented: false,
        presentation: false,
        cert_type: None,
        number: None,
        cert_division: None,
        reason: None,
    };
    let answer = match (&req.code, &req.cert_type, &req.number) {
        (Some(code), None, None) => {
            if code.len() > 8_192 {
                return Err(AppsError::Invalid("code: at most 8,192 bytes".into()));
            }
            // What the server itself establishes, exactly as for a
            // roadside check's scanned text (the evaluation's evidence).
            let derived = super::logs::derive(code, now, trust);
            check.signature = derived.signature;
            check.presented = code.trim().starts_with(shared::qrtext::PRESENTATION_PREFIX);
            check.presentation = derived.presentation;
            check.reason = derived.reason.map(|r| r.code().to_string());
            if let Some(c) = &derived.cert {
                check.cert_type = Some(c.cert_type.code().to_string());
                check.number = Some(c.number.clone());
                check.cert_division = Some(c.division.code());
            }
            let ctx = shared::verify::Context {
                trust,
                status: None,
                now,
                newest_seen: 0,
                policy: shared::verify::Policy::default(),
                national,
            };
            let presentation = code.trim().starts_with(shared::qrtext::PRESENTATION_PREFIX);
            let (claims, first, province) = match shared::verify::verify(code, &ctx) {
                Ok(v) => (Some(v.claims().clone()), None, v.province().cloned()),
                Err(r) => {
                    let signed = r.claims.is_some() && r.reason != Reason::KeyNotValidAtIssue;
                    // Another province's status comes from its mirrored
                    // list: no status data there is a real answer.
                    let foreign = r.province.as_ref().is_some_and(|p| p.foreign);
                    (
                        r.claims.as_deref().filter(|_| signed).cloned(),
                        (foreign || r.reason != Reason::NoStatusData).then_some(r.reason),
                        r.province.clone(),
                    )
                }
            };
            let foreign = province.as_ref().is_some_and(|p| p.foreign);
            let mut status = None;
            let mut reason = first;
            if let Some(c) = claims.as_ref().filter(|_| !foreign) {
                if let Some(cur) = tx.certificate(c.cert_type, &c.number)? {
                    let s = if c.version < cur.version {
                        shared::status::Status::Superseded
                    } else {
                        tx.version(c.cert_type, &c.number, c.version)?
                            .map_or(cur.status, |v| v.status)
                    };
                    status = Some(super::lookup::status_name(s).to_string());
                    reason = reason.or_else(|| super::lookup::judge(s, c, now));
                }
            }
            let (fields, _) = match &claims {
                Some(c) => allowed_fields(&mut *tx, &app, c, now)?,
                None => (Vec::new(), String::new()),
            };
            AppVerdict {
                verdict: reason
                    .map_or(Verdict::Valid, Reason::verdict)
                    .as_str()
                    .into(),
                reason: reason.map(|r| r.code().into()),
                reason_zh: reason.map(|r| r.message_zh().into()),
                presentation,
                cert_type: claims.as_ref().map(|c| c.cert_type.code().into()),
                number: claims.as_ref().map(|c| c.number.clone()),
                version: claims.as_ref().map(|c| c.version),
                status,
                fields,
                grant_id: None,
                province_code: province.as_ref().map(|p| p.code),
                province_name: province.map(|p| p.name),
            }
        }
        (None, Some(t), Some(n)) => {
            let cert_type = CertType::from_code(&t.trim().to_ascii_uppercase())
                .ok_or_else(|| AppsError::Invalid(format!("unknown certificate type {t:?}")))?;
            let (c, claims) = granted(&mut *tx, &app, cert_type, n.trim(), now)?;
            let reason = c.reason.as_deref().and_then(Reason::from_code);
            // A holder's grant is the holder's own act (real-name sign-in);
            // an agency's authorisation is the issuer's, which proves no use.
            let by_holder = tx.grant(c.grant_id)?.is_some_and(|g| g.holder_id.is_some());
            check.kind = if by_holder {
                "holder_grant"
            } else {
                "authorisation"
            }
            .into();
            check.signature = true;
            check.cert_type = Some(c.cert_type.clone());
            check.number = Some(c.number.clone());
            check.cert_division = Some(claims.issuer_division.code());
            check.reason = c.reason.clone();
            AppVerdict {
                verdict: c.verdict,
                reason: c.reason,
                reason_zh: reason.map(|r| r.message_zh().into()),
                presentation: false,
                cert_type: Some(c.cert_type),
                number: Some(c.number),
                version: Some(c.version),
                status: Some(c.status),
                fields: c.fields,
                grant_id: Some(c.grant_id),
                province_code: None,
                province_name: None,
            }
        }
        _ => {
            return Err(AppsError::Malformed(
                "give either code, or cert_type and number".into(),
            ))
        }
    };
    tx.insert_app_check(&check)?;
    tx.append_audit(&Caller::audit_entry(
        Some(caller),
        now,
        Action::AppVerify,
        format!(
            "{} {} {} v{}: {}{}",
            if req.code.is_some() {
                "code"
            } else {
                "identifier"
            },
            answer.cert_type.as_deref().unwrap_or("-"),
            answer.number.as_deref().unwrap_or("-"),
            answer.version.unwrap_or(0),
            answer.verdict,
            answer
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        "ok",
    ))?;
    tx.commit()?;
    Ok(answer)
}

/// The device id range of applications in the evaluation: far below the
/// forwarded provinces' devices (-1, -2, ...), one per application.
const APP_DEVICE_BASE: i64 = -(1 << 40);

/// Applications' online verifications as the evaluation's checks (issue
/// 13 item 5), judged by the same evidence rules as roadside checks
/// (docs/evaluation.md): each application is one device outside every
/// city (its bursts are judged like a device's), its time is the
/// server's; a scanned code proves what its text proves (a live
/// presentation, or a static QR checked outside the issuing city); an
/// identifier looked up under a holder's grant counts like a static check
/// by an independent party (the holder consented through real-name
/// sign-in); one looked up under an agency's own authorisation proves
/// nothing the city could not produce alone (uncorroborated).
pub fn eval_checks(rows: &[AppCheckRow]) -> Vec<EvalCheck> {
    rows.iter()
        .map(|r| {
            let device_id = APP_DEVICE_BASE - r.application_id;
            let cert_division = r.cert_division.and_then(|d| DivisionCode::from_u32(d).ok());
            let device_division = match (r.kind.as_str(), cert_division) {
                ("authorisation", Some(d)) => d,
                _ => DivisionCode::PROVINCE,
            };
            EvalCheck {
                device_id,
                seq: u64::try_from(r.id).unwrap_or_default(),
                at: r.at,
                device_division,
                signature: r.signature,
                presented: r.presented,
                presentation: r.presentation,
                cert: r.cert_type.clone().zip(r.number.clone()),
                cert_division,
                reason: r.reason.clone(),
                token_id: device_id,
                enrolled_at: r.at,
                revoked_at: None,
                batch_id: APP_DEVICE_BASE - r.id,
                received_at: r.at,
                status_seq: None,
                status_signed_at: None,
            }
        })
        .collect()
}
