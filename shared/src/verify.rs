//! The one offline verification entry point.
//!
//! [`verify`] takes the scanned text, the trust list, the cached status,
//! the current time and a policy, and returns either a
//! [`VerifiedCertificate`] — a type only this module can construct — or a
//! [`Rejection`] with a precise [`Reason`]. The order of checks:
//!
//! 0. text without this system's `LC1:`/`LP1:` prefix (another system's
//!    QR, a web address) is `cannot_confirm` / `unrecognised_code`: it may be
//!    a genuine certificate from elsewhere, so it is never called `invalid`;
//! 1. QR text, envelope and (for presentations) the device envelope parse
//!    (a prefixed text that fails here is `invalid` / `not_a_certificate`);
//! 2. the signer's `kid` is in the trust list, the header's algorithm is
//!    that key's algorithm, the signature verifies (`verify_strict` for
//!    Ed25519), the claims decode strictly, the key is not compromised and
//!    covered the issue time;
//! 3. holder binding: a presentation's holder signature and time window, or
//!    a holder-bound certificate shown without a presentation;
//! 4. validity dates (China Standard Time days, UTC+8);
//! 5. status from the cached list: stale data, no data, or an index the list
//!    does not cover give `cannot_confirm`, never `invalid`.
//!
//! Mutual recognition (互认互通): when the context carries a [`National`]
//! part (the verified national issuer list and the other provinces' lists
//! mirrored by the device's own server), a certificate whose issuing
//! division lies in another province is checked against that province's
//! trust list and status list instead of the own ones: a province the
//! national list does not name is `cannot_confirm` / `unknown_province`, a
//! listed province whose lists this device does not hold is
//! `cannot_confirm` / `no_province_data`, a type the national list does not
//! allow for it is `invalid` / `type_not_allowed_for_province`; status
//! staleness is judged with that province's own status list. Nothing of
//! another province is consulted for the own province's certificates.
//!
//! A device clock earlier than the newest signed list already seen is
//! reported as a warning, and validity dates and data ages are then judged at
//! the newest trusted time instead of the device clock (so setting the clock
//! back neither revives an expired certificate nor freshens a stale list).

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::cose::{CoseError, Sign1};
use crate::crypto::{Alg, Kid};
use crate::domain::DivisionCode;
use crate::national::NationalList;
use crate::presentation::Presentation;
use crate::qrtext::{self, Kind};
use crate::status::{Status, StatusCache};
use crate::trust::{KeyState, Manifest, TrustList};
use crate::wire::Claims;

/// Largest certificate envelope accepted, in bytes.
pub const MAX_CERTIFICATE_LEN: usize = 2048;
/// China Standard Time offset: validity dates are local days.
pub const CST_OFFSET_SECONDS: i64 = crate::cst::OFFSET_SECONDS;

/// Verification settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How long after its slot starts a presentation is accepted, seconds.
    pub presentation_window: i64,
    /// Allowed difference between the holder's and the verifier's clocks,
    /// seconds, on either side of the window.
    pub clock_skew: i64,
    /// Whether a holder-bound certificate must come as a fresh presentation.
    pub require_presentation_for_bound: bool,
}

impl Default for Policy {
    /// A presentation is accepted from 30 s before its slot starts until
    /// 60 + 30 s after: a screenshot replayed later than that is refused.
    fn default() -> Policy {
        Policy {
            presentation_window: 60,
            clock_skew: 30,
            require_presentation_for_bound: true,
        }
    }
}

/// The cached status data a verifier holds.
#[derive(Debug, Clone, Copy)]
pub struct StatusData<'a> {
    /// The list.
    pub cache: &'a StatusCache,
    /// Freshness of the newest applied snapshot or delta.
    pub manifest: Manifest,
}

/// Everything a verification depends on besides the scanned input.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The verified trust list.
    pub trust: &'a TrustList,
    /// The cached status list, if any has been loaded.
    pub status: Option<StatusData<'a>>,
    /// The device clock, Unix seconds.
    pub now: i64,
    /// The newest `issued_at` of any signed list this device has accepted,
    /// persisted by the caller (0 if none).
    pub newest_seen: i64,
    /// Settings.
    pub policy: Policy,
    /// Mutual recognition: the national list and the other provinces'
    /// lists; `None` verifies the own province's certificates only (as
    /// before the national list existed).
    pub national: Option<National<'a>>,
}

/// What a verifier holds for mutual recognition.
#[derive(Debug, Clone, Copy)]
pub struct National<'a> {
    /// The verifier's own province (e.g. 210000): its certificates are
    /// checked against [`Context::trust`] and [`Context::status`] only.
    pub own_province: u32,
    /// The verified national issuer list.
    pub list: &'a NationalList,
    /// The other provinces' verified lists.
    pub provinces: &'a [ProvinceData<'a>],
}

/// Another province's lists, verified against the national list.
#[derive(Debug, Clone, Copy)]
pub struct ProvinceData<'a> {
    /// The province-level code, e.g. 220000.
    pub province: u32,
    /// Its trust list (signed by the root the national list names).
    pub trust: &'a TrustList,
    /// Its status list, if one has been loaded.
    pub status: Option<StatusData<'a>>,
}

/// The province that issued a certificate, as the card names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuingProvince {
    /// Province-level code, e.g. 220000.
    pub code: u32,
    /// GB/T 2260 name, e.g. 吉林省.
    pub name: String,
    /// Whether it is another province than the verifier's own.
    pub foreign: bool,
}

/// The verdict a person sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Genuine, current and in force.
    Valid,
    /// Proven not acceptable: forged, tampered, expired, revoked, replayed.
    Invalid,
    /// Cannot be confirmed offline: never proof that the holder is
    /// unlicensed.
    CannotConfirm,
}

impl Verdict {
    /// The stable name: `valid`, `invalid`, `cannot_confirm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::CannotConfirm => "cannot_confirm",
        }
    }
}

/// Why a certificate was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// In this system's format (`LC1:`/`LP1:`) but malformed.
    NotACertificate,
    /// Not in this system's format at all: another system's QR code, a web
    /// address, any text without the `LC1:`/`LP1:` prefix. Possibly a
    /// genuine certificate from elsewhere, so never `invalid`: look it up
    /// online instead.
    UnrecognisedCode,
    /// Signed by a key that is not in the trust list.
    UnknownKey,
    /// The header's algorithm is not the key's, or not supported.
    AlgorithmNotAllowed,
    /// The signature does not verify: forged or altered.
    BadSignature,
    /// Signed by a key marked compromised.
    KeyCompromised,
    /// Issued outside the signing key's period.
    KeyNotValidAtIssue,
    /// Validity has not started.
    NotYetValid,
    /// Validity has ended.
    Expired,
    /// Revoked or cancelled (注销/吊销).
    Revoked,
    /// Suspended.
    Suspended,
    /// A newer version of the certificate exists.
    Superseded,
    /// A holder presentation outside its time window (a replayed screenshot,
    /// or a clock far off).
    PresentationOutsideWindow,
    /// The holder's device signature does not verify.
    HolderSignatureInvalid,
    /// A holder-bound certificate shown without a fresh presentation.
    PresentationRequired,
    /// No status list has been loaded.
    NoStatusData,
    /// The status list is older than its maximum age.
    StatusDataTooOld,
    /// The certificate's index is beyond the cached status list.
    NotCoveredByStatusList,
    /// An online lookup found no certificate: possibly one of another
    /// province or system, so never `invalid`.
    NoMatch,
    /// The verifier's own store of lists failed its integrity checks
    /// (altered, rolled back or damaged): nothing can be confirmed until it
    /// is synced again or re-enrolled. Never `valid`, never `invalid`.
    StoreTampered,
    /// Issued in a province the national issuer list does not name (never
    /// named, or removed): nothing here can confirm it.
    UnknownProvince,
    /// Issued in a province the national list names, but this device holds
    /// none of its lists yet.
    NoProvinceData,
    /// A certificate type the national list does not allow that province
    /// to issue.
    TypeNotAllowedForProvince,
}

impl Reason {
    /// The stable snake_case code, as in test vectors and logs.
    pub fn code(self) -> &'static str {
        match self {
            Reason::NotACertificate => "not_a_certificate",
            Reason::UnrecognisedCode => "unrecognised_code",
            Reason::UnknownKey => "unknown_key",
            Reason::AlgorithmNotAllowed => "algorithm_not_allowed",
            Reason::BadSignature => "bad_signature",
            Reason::KeyCompromised => "key_compromised",
            Reason::KeyNotValidAtIssue => "key_not_valid_at_issue",
            Reason::NotYetValid => "not_yet_valid",
            Reason::Expired => "expired",
            Reason::Revoked => "revoked",
            Reason::Suspended => "suspended",
            Reason::Superseded => "superseded",
            Reason::PresentationOutsideWindow => "presentation_outside_window",
            Reason::HolderSignatureInvalid => "holder_signature_invalid",
            Reason::PresentationRequired => "presentation_required",
            Reason::NoStatusData => "no_status_data",
            Reason::StatusDataTooOld => "status_data_too_old",
            Reason::NotCoveredByStatusList => "not_covered_by_status_list",
            Reason::NoMatch => "no_match",
            Reason::StoreTampered => "store_tampered",
            Reason::UnknownProvince => "unknown_province",
            Reason::NoProvinceData => "no_province_data",
            Reason::TypeNotAllowedForProvince => "type_not_allowed_for_province",
        }
    }

    /// Every reason, in declaration order.
    pub const ALL: [Reason; 23] = [
        Reason::NotACertificate,
        Reason::UnrecognisedCode,
        Reason::UnknownKey,
        Reason::AlgorithmNotAllowed,
        Reason::BadSignature,
        Reason::KeyCompromised,
        Reason::KeyNotValidAtIssue,
        Reason::NotYetValid,
        Reason::Expired,
        Reason::Revoked,
        Reason::Suspended,
        Reason::Superseded,
        Reason::PresentationOutsideWindow,
        Reason::HolderSignatureInvalid,
        Reason::PresentationRequired,
        Reason::NoStatusData,
        Reason::StatusDataTooOld,
        Reason::NotCoveredByStatusList,
        Reason::NoMatch,
        Reason::StoreTampered,
        Reason::UnknownProvince,
        Reason::NoProvinceData,
        Reason::TypeNotAllowedForProvince,
    ];

    /// The reason with this [`Reason::code`].
    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The verdict this reason leads to.
    pub fn verdict(self) -> Verdict {
        match self {
            Reason::UnrecognisedCode
            | Reason::NoStatusData
            | Reason::StatusDataTooOld
            | Reason::NotCoveredByStatusList
            | Reason::NoMatch
            | Reason::StoreTampered
            | Reason::UnknownProvince
            | Reason::NoProvinceData => Verdict::CannotConfirm,
            _ => Verdict::Invalid,
        }
    }

    /// A sentence for the officer, in Chinese.
    pub fn message_zh(self) -> &'static str {
        match self {
            Reason::NotACertificate => "本系统证照二维码格式错误：已损坏或被篡改",
            Reason::UnrecognisedCode => {
                "不是本系统的证照二维码，无法确认（不代表证照无效）；请按车牌号、身份证号或证照编号联网查询"
            }
            Reason::UnknownKey => "签发密钥不在信任列表中",
            Reason::AlgorithmNotAllowed => "签名算法不被允许",
            Reason::BadSignature => "签名无效：证照被伪造或篡改",
            Reason::KeyCompromised => "签发密钥已泄露，证照不可信",
            Reason::KeyNotValidAtIssue => "签发时间不在密钥有效期内",
            Reason::NotYetValid => "证照尚未生效",
            Reason::Expired => "证照已过期",
            Reason::Revoked => "证照已注销或吊销",
            Reason::Suspended => "证照已暂停",
            Reason::Superseded => "证照已有新版本，此版本不再有效",
            Reason::PresentationOutsideWindow => "亮证二维码已过时效（可能是截图）",
            Reason::HolderSignatureInvalid => "持证人设备签名无效",
            Reason::PresentationRequired => "此证照须由持证人手机实时亮证",
            Reason::NoStatusData => "尚无状态列表，无法确认，请联网同步",
            Reason::StatusDataTooOld => "状态列表过旧，无法确认，请联网同步",
            Reason::NotCoveredByStatusList => "状态列表未覆盖此证照，无法确认，请联网同步",
            Reason::NoMatch => "省平台未查到匹配的证照，无法确认（可能为外省或其他系统的证照）",
            Reason::StoreTampered => {
                "本机名单数据被改动或损坏，无法确认；请重新同步，仍不行则重新注册设备"
            }
            Reason::UnknownProvince => {
                "签发省份不在全国签发方列表中（未加入或已移除），无法确认；请联网向签发省份查询"
            }
            Reason::NoProvinceData => "本机尚无签发省份的信任列表，无法确认，请联网同步",
            Reason::TypeNotAllowedForProvince => "全国签发方列表不允许该省份签发此类证照",
        }
    }

    /// A sentence for the officer, in English.
    pub fn message_en(self) -> &'static str {
        match self {
            Reason::NotACertificate => "malformed road-transport e-certificate code",
            Reason::UnrecognisedCode => {
                "not a code of this system: cannot confirm (not proof of a fake); look it up online by plate, ID number or certificate number"
            }
            Reason::UnknownKey => "signed by a key not in the trust list",
            Reason::AlgorithmNotAllowed => "signature algorithm not allowed for this key",
            Reason::BadSignature => "signature does not verify: forged or altered",
            Reason::KeyCompromised => "signing key is compromised",
            Reason::KeyNotValidAtIssue => "issued outside the signing key's period",
            Reason::NotYetValid => "not yet valid",
            Reason::Expired => "expired",
            Reason::Revoked => "revoked or cancelled",
            Reason::Suspended => "suspended",
            Reason::Superseded => "superseded by a newer version",
            Reason::PresentationOutsideWindow => {
                "presentation outside its time window (replayed screenshot?)"
            }
            Reason::HolderSignatureInvalid => "holder's device signature does not verify",
            Reason::PresentationRequired => {
                "holder-bound certificate must be shown live from the holder's phone"
            }
            Reason::NoStatusData => "no status list loaded: cannot confirm, sync when online",
            Reason::StatusDataTooOld => "status list too old: cannot confirm, sync when online",
            Reason::NotCoveredByStatusList => {
                "certificate not covered by the cached status list: cannot confirm, sync when online"
            }
            Reason::NoMatch => {
                "no matching certificate in the provincial system: cannot confirm (may be another province's)"
            }
            Reason::StoreTampered => {
                "this device's stored lists were altered or damaged: cannot confirm; sync again, re-enroll if that fails"
            }
            Reason::UnknownProvince => {
                "issuing province not in the national issuer list (never joined or removed): cannot confirm; ask the issuing province online"
            }
            Reason::NoProvinceData => {
                "no trust list of the issuing province on this device: cannot confirm, sync when online"
            }
            Reason::TypeNotAllowedForProvince => {
                "the national issuer list does not allow this province to issue this type"
            }
        }
    }
}

/// Something the officer should know even about an accepted certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Warning {
    /// Status data older than its ttl (but within its maximum age).
    StatusOlderThanTtl {
        /// Age in seconds.
        age_seconds: i64,
    },
    /// The trust list is older than its ttl.
    TrustListOlderThanTtl {
        /// Age in seconds.
        age_seconds: i64,
    },
    /// The national issuer list is past its next-update time.
    NationalListPastNextUpdate {
        /// Seconds past it.
        overdue_seconds: i64,
    },
    /// The device clock is earlier than a signed list already accepted.
    ClockBehindNewestList {
        /// By how many seconds.
        behind_seconds: i64,
    },
}

impl Warning {
    /// A sentence for the officer, in Chinese.
    pub fn message_zh(&self) -> String {
        match self {
            Warning::StatusOlderThanTtl { age_seconds } => {
                format!(
                    "状态列表已 {} 小时未更新，请尽快联网同步",
                    age_seconds / 3600
                )
            }
            Warning::TrustListOlderThanTtl { age_seconds } => {
                format!(
                    "信任列表已 {} 小时未更新，请尽快联网同步",
                    age_seconds / 3600
                )
            }
            Warning::NationalListPastNextUpdate { overdue_seconds } => {
                format!(
                    "全国签发方列表已过更新时间 {} 小时，请尽快联网同步",
                    overdue_seconds / 3600
                )
            }
            Warning::ClockBehindNewestList { behind_seconds } => {
                format!("设备时钟比已接收的签名列表早 {behind_seconds} 秒，请校准时间")
            }
        }
    }
}

/// Holder binding evidence of an accepted presentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HolderEvidence {
    /// The slot signed by the holder's device.
    pub slot: u64,
    /// The holder key's identifier.
    pub holder_kid: String,
    /// SHA-256 of the whole presentation envelope, for the check log.
    pub presentation_sha256: String,
    /// Who presented it: `None` for the holder, else the driver a vehicle
    /// certificate's owner delegated it to (claim 11 of a delegated copy,
    /// whose claim 10 is that driver's phone).
    pub delegate: Option<crate::wire::Delegate>,
}

/// A certificate that passed every check. Only [`verify`] makes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedCertificate {
    claims: Claims,
    identifier: Option<String>,
    issuer_name: String,
    kid: Kid,
    alg: Alg,
    #[serde(skip)]
    certificate: Vec<u8>,
    holder: Option<HolderEvidence>,
    status_seq: u64,
    data_age_seconds: i64,
    warnings: Vec<Warning>,
    province: Option<IssuingProvince>,
}

impl VerifiedCertificate {
    /// The verified claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }
    /// The GB/T 36904 identifier, when the trust list names the issuing
    /// authority.
    pub fn identifier(&self) -> Option<&str> {
        self.identifier.as_deref()
    }
    /// The issuing authority's name: from the trust list, else the standard
    /// name of its division's transport authority (a county missing from the
    /// list is named as a county bureau, never as its city's).
    pub fn issuer_name(&self) -> &str {
        &self.issuer_name
    }
    /// The issuer key that signed it.
    pub fn kid(&self) -> Kid {
        self.kid
    }
    /// The algorithm of that key.
    pub fn alg(&self) -> Alg {
        self.alg
    }
    /// The certificate's COSE_Sign1 bytes as verified.
    pub fn certificate(&self) -> &[u8] {
        &self.certificate
    }
    /// SHA-256 of the certificate envelope, hex (computed on demand: the
    /// verdict does not need it, the check log does).
    pub fn certificate_sha256(&self) -> String {
        sha256_hex(&self.certificate)
    }
    /// Holder evidence when shown as a presentation.
    pub fn holder(&self) -> Option<&HolderEvidence> {
        self.holder.as_ref()
    }
    /// The status list sequence the check used.
    pub fn status_seq(&self) -> u64 {
        self.status_seq
    }
    /// Age of the status data, seconds.
    pub fn data_age_seconds(&self) -> i64 {
        self.data_age_seconds
    }
    /// Warnings for the officer.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
    /// The issuing province, when the context carried the national list.
    pub fn province(&self) -> Option<&IssuingProvince> {
        self.province.as_ref()
    }
}

/// A certificate that was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// `invalid` or `cannot_confirm`.
    pub verdict: Verdict,
    /// Why.
    pub reason: Reason,
    /// Technical detail for logs (English).
    pub detail: String,
    /// The claims, only when the province's signature on them verified
    /// (e.g. an expired or revoked certificate), so the officer can see
    /// whose it is.
    pub claims: Option<Box<Claims>>,
    /// Warnings gathered before the rejection.
    pub warnings: Vec<Warning>,
    /// Age of the status data, when there is any.
    pub data_age_seconds: Option<i64>,
    /// The province the certificate names, when the context carried the
    /// national list and the claims could be read.
    pub province: Option<IssuingProvince>,
}

struct Checker {
    warnings: Vec<Warning>,
    claims: Option<Box<Claims>>,
    data_age: Option<i64>,
    province: Option<IssuingProvince>,
}

impl Checker {
    fn reject(&mut self, reason: Reason, detail: impl Into<String>) -> Rejection {
        Rejection {
            verdict: reason.verdict(),
            reason,
            detail: detail.into(),
            claims: self.claims.take(),
            warnings: std::mem::take(&mut self.warnings),
            data_age_seconds: self.data_age,
            province: self.province.take(),
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

use crate::cst::day_start;

/// Verifies scanned QR text. See the module documentation for the checks.
pub fn verify(text: &str, ctx: &Context<'_>) -> Result<VerifiedCertificate, Rejection> {
    let mut c = Checker {
        warnings: Vec::new(),
        claims: None,
        data_age: None,
        province: None,
    };
    // The newest trusted time: the device clock must not be behind it.
    let mut newest = ctx.newest_seen.max(ctx.trust.manifest.issued_at);
    if let Some(s) = ctx.status {
        newest = newest.max(s.manifest.issued_at);
    }
    if let Some(n) = ctx.national {
        newest = newest.max(n.list.issued_at);
        for p in n.provinces {
            newest = newest.max(p.trust.manifest.issued_at);
            if let Some(s) = p.status {
                newest = newest.max(s.manifest.issued_at);
            }
        }
    }
    if ctx.now.saturating_add(ctx.policy.clock_skew) < newest {
        c.warnings.push(Warning::ClockBehindNewestList {
            behind_seconds: newest.saturating_sub(ctx.now),
        });
    }
    let judged_at = ctx.now.max(newest);

    // Only a code in this system's format can be proven bad; anything else
    // may be a genuine certificate of another system.
    if !qrtext::has_known_prefix(text) {
        return Err(c.reject(
            Reason::UnrecognisedCode,
            "no LC1:/LP1: prefix: not a code of this system",
        ));
    }
    let (kind, envelope) =
        qrtext::decode(text).map_err(|e| c.reject(Reason::NotACertificate, e.to_string()))?;
    let (certificate, presentation) = match kind {
        Kind::Certificate => (envelope.clone(), None),
        Kind::Presentation => {
            let p = Presentation::parse(&envelope)
                .map_err(|e| c.reject(Reason::NotACertificate, format!("presentation: {e}")))?;
            (p.certificate().to_vec(), Some(p))
        }
    };

    let sign1 = Sign1::parse(&certificate, MAX_CERTIFICATE_LEN).map_err(|e| match e {
        CoseError::UnsupportedAlg(_) => c.reject(Reason::AlgorithmNotAllowed, e.to_string()),
        _ => c.reject(Reason::NotACertificate, e.to_string()),
    })?;
    let kid = sign1
        .kid()
        .ok_or_else(|| c.reject(Reason::NotACertificate, "certificate has no kid"))?;
    // Whose lists: the province the claims name (read before the signature
    // is checked only to choose the lists; nothing else is taken from them).
    // Without the national list, the own province is the one whose
    // authorities the own trust list names (a Jilin server's is Jilin);
    // Liaoning when it names none.
    let own = ctx.national.map_or_else(
        || {
            ctx.trust
                .authorities
                .first()
                .map_or(DivisionCode::PROVINCE.code(), |a| {
                    a.division.province_code()
                })
        },
        |n| n.own_province,
    );
    // Decoded once: read here unverified (the province only), and used as
    // the certificate's claims once the signature over them verified.
    let parsed = Claims::from_cbor(sign1.payload());
    let named = parsed
        .as_ref()
        .ok()
        .map(|cl| cl.issuer_division.province_code());
    let province_of = |code: u32, foreign: bool| IssuingProvince {
        code,
        name: crate::domain::province_name_zh(code)
            .unwrap_or("外省")
            .to_string(),
        foreign,
    };
    let (trust, status, entry) = match named {
        Some(p) if p != own => {
            c.province = Some(province_of(p, true));
            let Some(n) = ctx.national else {
                return Err(c.reject(
                    Reason::UnknownProvince,
                    format!("issued in province {p}; this verifier holds no national list"),
                ));
            };
            let Some(entry) = n.list.province(p) else {
                return Err(c.reject(
                    Reason::UnknownProvince,
                    format!("province {p} not in national list seq {}", n.list.seq),
                ));
            };
            let Some(data) = n.provinces.iter().find(|d| d.province == p) else {
                return Err(c.reject(
                    Reason::NoProvinceData,
                    format!("no trust list of province {p} held"),
                ));
            };
            if judged_at > n.list.next_update {
                c.warnings.push(Warning::NationalListPastNextUpdate {
                    overdue_seconds: judged_at - n.list.next_update,
                });
            }
            (data.trust, data.status, Some(entry))
        }
        _ => {
            if ctx.national.is_some() {
                c.province = Some(province_of(own, false));
            }
            (ctx.trust, ctx.status, None)
        }
    };
    let key = trust.key(&kid).ok_or_else(|| {
        c.reject(
            Reason::UnknownKey,
            format!("kid {kid} not in trust list seq {}", trust.seq),
        )
    })?;
    if key.public_key.alg() != sign1.alg() {
        return Err(c.reject(
            Reason::AlgorithmNotAllowed,
            format!(
                "header alg {} but key {kid} is {}",
                sign1.alg(),
                key.public_key.alg()
            ),
        ));
    }
    sign1
        .verify(&key.public_key)
        .map_err(|e| c.reject(Reason::BadSignature, e.to_string()))?;
    if let KeyState::Compromised { since } = key.state {
        return Err(c.reject(
            Reason::KeyCompromised,
            format!("key {kid} compromised since {since}"),
        ));
    }
    let claims = parsed.map_err(|e| {
        c.reject(
            Reason::NotACertificate,
            format!("signed claims malformed: {e}"),
        )
    })?;
    let authority = trust.authority(claims.issuer_division);
    let identifier = authority
        .and_then(|a| claims.identifier(&a.uscc).ok())
        .map(|i| i.as_str().to_string());
    let (issuer_name, _) = crate::view::authority_name(claims.issuer_division, Some(trust));
    c.claims = Some(Box::new(claims.clone()));
    if let Some(entry) = entry {
        if !entry.allows(claims.cert_type) {
            return Err(c.reject(
                Reason::TypeNotAllowedForProvince,
                format!(
                    "province {} may not issue {}",
                    entry.division,
                    claims.cert_type.code()
                ),
            ));
        }
        if !entry.covers(claims.issued_at) {
            return Err(c.reject(
                Reason::KeyNotValidAtIssue,
                format!(
                    "issued at {}, outside province {}'s period in the national list",
                    claims.issued_at, entry.division
                ),
            ));
        }
    }
    if !key.covers(claims.issued_at) {
        return Err(c.reject(
            Reason::KeyNotValidAtIssue,
            format!(
                "issued at {}, outside the signing period of key {kid}",
                claims.issued_at
            ),
        ));
    }

    // Holder binding.
    let holder = match (&presentation, &claims.holder_key) {
        (Some(p), Some(holder_key)) => {
            p.verify_holder(holder_key)
                .map_err(|e| c.reject(Reason::HolderSignatureInvalid, e.to_string()))?;
            let start = p.slot_start();
            // Saturating: the slot is the presenter's claim, and a slot at
            // the end of time must be refused, not overflow.
            let earliest = start.saturating_sub(ctx.policy.clock_skew);
            let latest = start
                .saturating_add(ctx.policy.presentation_window)
                .saturating_add(ctx.policy.clock_skew);
            if ctx.now < earliest || ctx.now > latest {
                return Err(c.reject(
                    Reason::PresentationOutsideWindow,
                    format!(
                        "slot starts at {start}, now {}, accepted {earliest}..={latest}",
                        ctx.now
                    ),
                ));
            }
            Some(HolderEvidence {
                slot: p.slot(),
                holder_kid: holder_key.kid().to_hex(),
                presentation_sha256: sha256_hex(&envelope),
                delegate: claims.delegate.clone(),
            })
        }
        (Some(_), None) => {
            return Err(c.reject(
                Reason::HolderSignatureInvalid,
                "presentation of a certificate that is not holder-bound",
            ))
        }
        (None, Some(_)) if ctx.policy.require_presentation_for_bound => {
            return Err(c.reject(
                Reason::PresentationRequired,
                "holder-bound certificate shown without a presentation",
            ))
        }
        (None, _) => None,
    };

    // Validity dates, as China Standard Time days.
    if judged_at < day_start(claims.valid_from) {
        return Err(c.reject(
            Reason::NotYetValid,
            format!("valid from {}", claims.valid_from),
        ));
    }
    if let Some(until) = claims.valid_until {
        if judged_at >= day_start(until) + 86_400 {
            return Err(c.reject(Reason::Expired, format!("valid until {until}")));
        }
    }

    // Trust list freshness.
    // Ages are judged at the trusted time too: a clock set back must not
    // make old lists look fresh.
    let trust_age = trust.manifest.age(judged_at);
    if trust_age > i64::try_from(trust.manifest.ttl).unwrap_or(i64::MAX) {
        c.warnings.push(Warning::TrustListOlderThanTtl {
            age_seconds: trust_age,
        });
    }

    // Status.
    let Some(status) = status else {
        return Err(c.reject(Reason::NoStatusData, "no status list cached"));
    };
    let age = status.manifest.age(judged_at);
    c.data_age = Some(age);
    if age > i64::try_from(status.manifest.max_age).unwrap_or(i64::MAX) {
        return Err(c.reject(
            Reason::StatusDataTooOld,
            format!(
                "status list is {age} s old, maximum {} s",
                status.manifest.max_age
            ),
        ));
    }
    if age > i64::try_from(status.manifest.ttl).unwrap_or(i64::MAX) {
        c.warnings
            .push(Warning::StatusOlderThanTtl { age_seconds: age });
    }
    match status.cache.get(claims.status_index) {
        None => Err(c.reject(
            Reason::NotCoveredByStatusList,
            format!("index {} beyond the cached list", claims.status_index),
        )),
        Some(Status::Revoked) => Err(c.reject(
            Reason::Revoked,
            format!("status index {}", claims.status_index),
        )),
        Some(Status::Suspended) => Err(c.reject(
            Reason::Suspended,
            format!("status index {}", claims.status_index),
        )),
        Some(Status::Superseded) => Err(c.reject(
            Reason::Superseded,
            format!("status index {}", claims.status_index),
        )),
        Some(Status::Valid) => Ok(VerifiedCertificate {
            identifier,
            issuer_name,
            kid,
            alg: key.public_key.alg(),
            certificate,
            holder,
            status_seq: status.cache.seq(),
            data_age_seconds: age,
            warnings: std::mem::take(&mut c.warnings),
            province: c.province.take(),
            claims,
        }),
    }
}
