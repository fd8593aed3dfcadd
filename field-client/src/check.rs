//! One check: verify offline with [`shared::verify::verify`], append the
//! record to the durable log, and only then hand back the outcome to show.

use serde_json::{json, Value};
use shared::checklog::{CertRef, Check, Event, MAX_SCANNED};
use shared::verify::{
    self, Context, IssuingProvince, National, Policy, ProvinceData, Reason, StatusData, Verdict,
    Warning,
};
use shared::view::FaceView;
use shared::wire::Claims;

use crate::db::{Db, Held};

/// The result of one check, as logged.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The log sequence number of the check: its `check_id`.
    pub check_id: u64,
    /// Device time of the check.
    pub at: i64,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, when not valid.
    pub reason: Option<Reason>,
    /// Technical detail (English), when not valid.
    pub detail: Option<String>,
    /// Warnings shown with the verdict.
    pub warnings: Vec<Warning>,
    /// The claims, when the province's signature on them verified.
    pub claims: Option<Claims>,
    /// GB/T 36904 identifier, when known.
    pub identifier: Option<String>,
    /// Name of the issuing authority, when the claims were read.
    pub issuer_name: Option<String>,
    /// Age of the status data, seconds.
    pub data_age_seconds: Option<i64>,
    /// Holder presentation evidence: slot and holder key id.
    pub holder: Option<(u64, String)>,
    /// Status list sequence used.
    pub status_seq: Option<u64>,
    /// Trust list sequence used (absent before the first sync).
    pub trust_seq: Option<u64>,
    /// The claims as named fields (see [`crate::view`]), when read.
    pub view: Option<FaceView>,
    /// The issuing province (mutual recognition), when a national list is
    /// held and the certificate names one.
    pub province: Option<IssuingProvince>,
}

impl Outcome {
    /// Who presented a delegated vehicle certificate (claim 11): the driver
    /// the owner lent it to; `None` when the holder presented their own
    /// certificate or nothing was read.
    pub fn presented_by(&self) -> Option<&shared::view::DelegatedUse> {
        self.view.as_ref().and_then(|v| v.delegated.as_ref())
    }
}

/// The stable code of a warning (`status_older_than_ttl`, ...).
pub fn warning_code(w: &Warning) -> String {
    serde_json::to_value(w)
        .ok()
        .and_then(|v| v.get("code").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "warning".to_string())
}

fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// Verifies `text` against the held lists at `now` (no lists: every check
/// is `cannot_confirm`/`no_status_data`; a store that failed its checks:
/// `cannot_confirm`/`store_tampered`, never `valid`), appends the check to
/// the log, and returns the outcome. The record is durable before this
/// returns.
pub fn check(db: &mut Db, held: &Held, text: &str, now: i64) -> anyhow::Result<Outcome> {
    let mut out = evaluate(held, text, now);
    let event = Event::Check(Check {
        verdict: out.verdict,
        reason: out.reason,
        scanned: Some(cut(text, MAX_SCANNED)),
        cert: out.claims.as_ref().map(|c| CertRef {
            cert_type: c.cert_type,
            number: c.number.clone(),
            version: c.version,
        }),
        status_seq: out.status_seq,
        trust_seq: out.trust_seq,
        warnings: out.warnings.iter().map(warning_code).collect(),
        data_age: out.data_age_seconds.and_then(|a| u64::try_from(a).ok()),
    });
    let sealed = db.append(now, event)?;
    out.check_id = sealed.record.seq;
    Ok(out)
}

/// The verdict without logging (the check id is 0).
pub fn evaluate(held: &Held, text: &str, now: i64) -> Outcome {
    let lists = match held {
        Ok(lists) => lists.as_ref(),
        Err(tampered) => {
            return Outcome {
                check_id: 0,
                at: now,
                verdict: Verdict::CannotConfirm,
                reason: Some(Reason::StoreTampered),
                detail: Some(tampered.to_string()),
                warnings: Vec::new(),
                claims: None,
                identifier: None,
                issuer_name: None,
                data_age_seconds: None,
                holder: None,
                status_seq: None,
                trust_seq: None,
                view: None,
                province: None,
            };
        }
    };
    let Some(lists) = lists else {
        // Never synced: nothing can be confirmed; still say what it is not.
        let (reason, detail) = if !shared::qrtext::has_known_prefix(text) {
            (
                Reason::UnrecognisedCode,
                "no LC1:/LP1: prefix: not a code of this system",
            )
        } else if shared::qrtext::decode(text).is_err() {
            (Reason::NotACertificate, "malformed certificate QR text")
        } else {
            (
                Reason::NoStatusData,
                "no trust list or status list yet: run sync",
            )
        };
        return Outcome {
            check_id: 0,
            at: now,
            verdict: reason.verdict(),
            reason: Some(reason),
            detail: Some(detail.to_string()),
            warnings: Vec::new(),
            claims: None,
            identifier: None,
            issuer_name: None,
            data_age_seconds: None,
            holder: None,
            status_seq: None,
            trust_seq: None,
            view: None,
            province: None,
        };
    };
    let province_data: Vec<ProvinceData<'_>> = lists
        .national
        .iter()
        .flat_map(|n| n.provinces.iter())
        .map(|p| ProvinceData {
            province: p.province,
            trust: &p.trust,
            status: Some(StatusData {
                cache: &p.status.0,
                manifest: p.status.1,
            }),
        })
        .collect();
    // The trust list that names a certificate's authority: its province's.
    let trust_of = |c: &Claims| {
        lists
            .national
            .as_ref()
            .and_then(|n| n.province(c.issuer_division.province_code()))
            .map_or(&lists.trust, |p| &p.trust)
    };
    let ctx = Context {
        trust: &lists.trust,
        status: lists.status.as_ref().map(|(cache, manifest)| StatusData {
            cache,
            manifest: *manifest,
        }),
        now,
        newest_seen: lists.newest_seen,
        policy: Policy::default(),
        national: lists.national.as_ref().map(|n| National {
            own_province: n.own_province,
            list: &n.list,
            provinces: &province_data,
        }),
    };
    let status_seq = lists.status.as_ref().map(|(c, _)| c.seq());
    let trust_seq = Some(lists.trust.seq);
    match verify::verify(text, &ctx) {
        Ok(v) => {
            let view = crate::view::face_view(v.claims(), Some(trust_of(v.claims())), now);
            Outcome {
                check_id: 0,
                at: now,
                verdict: Verdict::Valid,
                reason: None,
                detail: None,
                warnings: v.warnings().to_vec(),
                claims: Some(v.claims().clone()),
                identifier: v.identifier().map(str::to_string),
                issuer_name: Some(view.issuer_name.clone()),
                data_age_seconds: Some(v.data_age_seconds()),
                holder: v.holder().map(|h| (h.slot, h.holder_kid.clone())),
                status_seq,
                trust_seq,
                view: Some(view),
                province: v.province().cloned(),
            }
        }
        Err(r) => {
            let claims = r.claims.map(|c| *c);
            let authority = claims
                .as_ref()
                .and_then(|c| trust_of(c).authority(c.issuer_division));
            let identifier = match (&claims, authority) {
                (Some(c), Some(a)) => c.identifier(&a.uscc).ok().map(|i| i.as_str().to_string()),
                _ => None,
            };
            let view = claims
                .as_ref()
                .map(|c| crate::view::face_view(c, Some(trust_of(c)), now));
            let issuer_name = view.as_ref().map(|v| v.issuer_name.clone());
            Outcome {
                check_id: 0,
                at: now,
                verdict: r.verdict,
                reason: Some(r.reason),
                detail: Some(r.detail),
                warnings: r.warnings,
                claims,
                identifier,
                issuer_name,
                data_age_seconds: r.data_age_seconds,
                holder: None,
                status_seq,
                trust_seq,
                view,
                province: r.province,
            }
        }
    }
}

impl Outcome {
    /// The JSON object of `verify --json`.
    pub fn to_json(&self, input: &str) -> Value {
        let certificate = self.claims.as_ref().map(|c| {
            let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("type_name_zh".into(), json!(c.cert_type.name_zh()));
                m.insert("type_name_en".into(), json!(c.cert_type.name_en()));
                m.insert("identifier".into(), json!(self.identifier));
                m.insert("issuer_name".into(), json!(self.issuer_name));
            }
            v
        });
        json!({
            "input": input,
            "check_id": self.check_id,
            "at": self.at,
            "verdict": self.verdict.as_str(),
            "reason": self.reason.map(Reason::code),
            "reason_zh": self.reason.map(Reason::message_zh),
            "reason_en": self.reason.map(Reason::message_en),
            "detail": self.detail,
            "warnings": self.warnings.iter().map(|w| json!({
                "code": warning_code(w),
                "detail": w,
                "message_zh": w.message_zh(),
            })).collect::<Vec<_>>(),
            "certificate": certificate,
            "face": self.view,
            "plate_colour": self.claims.as_ref().and_then(FaceView::plate_colour),
            "holder_presentation": self.holder.as_ref().map(|(slot, kid)| json!({"slot": slot, "holder_kid": kid})),
            "presented_by": self.presented_by().map(|d| json!({
                "kind": "driver",
                "driver_name": d.driver_name,
                "driver_id_masked": d.driver_id_masked,
                "owner": d.owner,
                "until": d.until,
                "message_zh": d.message_zh(),
                "message_en": d.message_en(),
            })),
            "data_age_seconds": self.data_age_seconds,
            "status_seq": self.status_seq,
            "trust_seq": self.trust_seq,
            "issuing_province": self.province,
        })
    }
}
