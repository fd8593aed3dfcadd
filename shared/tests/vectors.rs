//! The shared crate's integration tests: the test vectors in
//! `shared/testdata/vectors.json` (generated here, deterministically, and
//! checked to be current), property tests of the codecs, and the QR size
//! measurements of `docs/wire-format.md`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;

use ciborium::value::Value;
use coset::{iana, CborSerializable, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use shared::cbor;
use shared::cose;
use shared::crypto::{Alg, PublicKey, SigningKey};
use shared::domain::validate::{largest_realistic_record, sample_record, validate};
use shared::domain::{CertType, CertificateData};
use shared::presentation;
use shared::qr;
use shared::qrtext::{self, Kind};
use shared::status::{Status, StatusCache, StatusList, StatusSnapshot};
use shared::trust::{IssuerKey, KeyState, Manifest, TrustList};
use shared::verify::{self, Context, Policy, StatusData};
use shared::wire::Claims;

// ---------------------------------------------------------------------------
// Vector file format

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Vector {
    name: String,
    description: String,
    qr_text: String,
    /// The certificate's COSE_Sign1 (for presentations: the embedded one).
    cose_hex: String,
    issuer_key: KeyJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<StatusJson>,
    now: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    newest_seen: Option<String>,
    expect: Expect,
    #[serde(skip_serializing_if = "Option::is_none")]
    qr_png: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct KeyJson {
    kid_hex: String,
    alg: String,
    public_key_hex: String,
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    compromised_since: Option<String>,
    not_before: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StatusJson {
    index: u32,
    value: String,
    list_len: u32,
    issued_at: String,
    ttl_seconds: u64,
    max_age_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Expect {
    verdict: String,
    reason: String,
}

// ---------------------------------------------------------------------------
// Deterministic inputs

const NOW: &str = "2026-06-01T10:00:00+08:00";
const ISSUED: &str = "2026-05-01T09:00:00+08:00";
const KEY_FROM: &str = "2025-01-01T00:00:00+08:00";

fn unix(s: &str) -> i64 {
    OffsetDateTime::parse(s, &Rfc3339).unwrap().unix_timestamp()
}

fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .unwrap()
        .to_offset(time::macros::offset!(+8))
        .format(&Rfc3339)
        .unwrap()
}

fn today() -> Date {
    time::macros::date!(2026 - 06 - 01)
}

fn key(alg: Alg, seed: u8) -> SigningKey {
    SigningKey::from_secret_bytes(alg, &[seed; 32]).unwrap()
}

fn issuer(alg: Alg) -> SigningKey {
    match alg {
        Alg::EdDSA => key(alg, 0x11),
        Alg::Sm2Sm3 => key(alg, 0x22),
    }
}

fn holder() -> SigningKey {
    key(Alg::EdDSA, 0x33)
}

fn record(t: CertType) -> CertificateData {
    validate(&sample_record(t), today()).unwrap_or_else(|e| panic!("sample {t} invalid: {e:?}"))
}

fn key_json(k: &PublicKey, state: &str) -> KeyJson {
    KeyJson {
        kid_hex: k.kid().to_hex(),
        alg: k.alg().name().to_string(),
        public_key_hex: hex::encode(k.to_bytes()),
        state: state.to_string(),
        compromised_since: None,
        not_before: rfc3339(unix(KEY_FROM)),
        not_after: None,
    }
}

fn status(index: u32, value: &str) -> Option<StatusJson> {
    Some(StatusJson {
        index,
        value: value.to_string(),
        list_len: 131_072,
        issued_at: rfc3339(unix(NOW) - 3600),
        ttl_seconds: 2 * 86_400,
        max_age_seconds: 7 * 86_400,
    })
}

struct Builder {
    name: &'static str,
    description: &'static str,
    envelope: Vec<u8>,
    kind: Kind,
    certificate: Vec<u8>,
    key: KeyJson,
    status: Option<StatusJson>,
    now: i64,
    newest_seen: Option<i64>,
    verdict: &'static str,
    reason: &'static str,
}

impl Builder {
    fn build(self) -> Vector {
        Vector {
            name: self.name.to_string(),
            description: self.description.to_string(),
            qr_text: qrtext::encode(self.kind, &self.envelope),
            cose_hex: hex::encode(&self.certificate),
            issuer_key: self.key,
            status: self.status,
            now: rfc3339(self.now),
            newest_seen: self.newest_seen.map(rfc3339),
            expect: Expect {
                verdict: self.verdict.to_string(),
                reason: self.reason.to_string(),
            },
            qr_png: None,
        }
    }
}

fn sign_claims(claims: &Claims, k: &SigningKey) -> Vec<u8> {
    cose::sign(claims.to_cbor(), k, true)
}

fn claims_for(t: CertType, index: u32) -> Claims {
    Claims::from_certificate(&record(t), index, unix(ISSUED), None)
}

/// A plain certificate vector with the usual trust list and status.
fn plain(
    name: &'static str,
    description: &'static str,
    claims: &Claims,
    alg: Alg,
    status_value: &str,
    verdict: &'static str,
    reason: &'static str,
) -> Builder {
    let k = issuer(alg);
    let cert = sign_claims(claims, &k);
    Builder {
        name,
        description,
        envelope: cert.clone(),
        kind: Kind::Certificate,
        certificate: cert,
        key: key_json(&k.public_key(), "active"),
        status: status(claims.status_index, status_value),
        now: unix(NOW),
        newest_seen: None,
        verdict,
        reason,
    }
}

/// A COSE_Sign1 with hand-made headers, for the refusal vectors.
fn custom_sign1(
    protected: coset::Header,
    unprotected: coset::Header,
    payload: Vec<u8>,
    k: &SigningKey,
) -> Vec<u8> {
    CoseSign1Builder::new()
        .protected(protected)
        .unprotected(unprotected)
        .payload(payload)
        .create_signature(b"", |tbs| k.sign(tbs))
        .build()
        .to_tagged_vec()
        .unwrap()
}

fn generate() -> Vec<Vector> {
    let mut out = Vec::new();
    let now = unix(NOW);
    let ed = issuer(Alg::EdDSA);
    let sm2 = issuer(Alg::Sm2Sm3);

    // Every type, EdDSA; one per family with SM2.
    let valid_names = [
        "valid_qc_eddsa",
        "valid_wyj_eddsa",
        "valid_xyj_eddsa",
        "valid_ysz_eddsa",
        "valid_wyy_eddsa",
        "valid_jyxk_eddsa",
        "valid_wxhw_eddsa",
        "valid_fsx_eddsa",
        "valid_wyjy_eddsa",
    ];
    for (i, t) in CertType::ALL.into_iter().enumerate() {
        let c = claims_for(t, 100 + i as u32);
        out.push(
            plain(
                valid_names[i],
                "a genuine, current certificate",
                &c,
                Alg::EdDSA,
                "valid",
                "valid",
                "ok",
            )
            .build(),
        );
    }
    for (name, t) in [
        ("valid_qc_sm2", CertType::QC),
        ("valid_ysz_sm2", CertType::YSZ),
        ("valid_wxhw_sm2", CertType::WXHW),
    ] {
        let c = claims_for(t, 200);
        out.push(
            plain(
                name,
                "a genuine certificate sealed with SM2/SM3",
                &c,
                Alg::Sm2Sm3,
                "valid",
                "valid",
                "ok",
            )
            .build(),
        );
    }

    // Lifecycle.
    let c = claims_for(CertType::YSZ, 300);
    out.push(
        plain(
            "revoked_ysz",
            "cancelled (注销) in the status list",
            &c,
            Alg::EdDSA,
            "revoked",
            "invalid",
            "revoked",
        )
        .build(),
    );
    out.push(
        plain(
            "suspended_jyxk",
            "suspended in the status list",
            &claims_for(CertType::JYXK, 301),
            Alg::EdDSA,
            "suspended",
            "invalid",
            "suspended",
        )
        .build(),
    );
    out.push(
        plain(
            "superseded_qc",
            "an older version after annual review issued a new one",
            &claims_for(CertType::QC, 302),
            Alg::EdDSA,
            "superseded",
            "invalid",
            "superseded",
        )
        .build(),
    );
    out.push(
        plain(
            "revoked_wyy_sm2",
            "cancelled, SM2 seal",
            &claims_for(CertType::WYY, 303),
            Alg::Sm2Sm3,
            "revoked",
            "invalid",
            "revoked",
        )
        .build(),
    );
    let mut expired = claims_for(CertType::WYJ, 304);
    expired.valid_from = time::macros::date!(2020 - 05 - 01);
    expired.valid_until = Some(time::macros::date!(2026 - 05 - 31));
    out.push(
        plain(
            "expired_wyj",
            "validity ended the day before",
            &expired,
            Alg::EdDSA,
            "valid",
            "invalid",
            "expired",
        )
        .build(),
    );
    let mut last_day = expired.clone();
    last_day.valid_until = Some(time::macros::date!(2026 - 06 - 01));
    out.push(
        plain(
            "valid_last_day_wyj",
            "valid until today inclusive (China Standard Time)",
            &last_day,
            Alg::EdDSA,
            "valid",
            "valid",
            "ok",
        )
        .build(),
    );
    let mut future = claims_for(CertType::XYJ, 305);
    future.valid_from = time::macros::date!(2026 - 06 - 02);
    future.valid_until = Some(time::macros::date!(2030 - 06 - 01));
    out.push(
        plain(
            "not_yet_valid_xyj",
            "validity starts tomorrow",
            &future,
            Alg::EdDSA,
            "valid",
            "invalid",
            "not_yet_valid",
        )
        .build(),
    );

    // Status data.
    let c = claims_for(CertType::FSX, 306);
    let mut b = plain(
        "cannot_confirm_no_status_fsx",
        "no status list cached: never 'revoked' or 'unlicensed'",
        &c,
        Alg::EdDSA,
        "valid",
        "cannot_confirm",
        "no_status_data",
    );
    b.status = None;
    out.push(b.build());
    let mut b = plain(
        "cannot_confirm_stale_status_wyjy",
        "status list older than its maximum age",
        &claims_for(CertType::WYJY, 307),
        Alg::EdDSA,
        "revoked",
        "cannot_confirm",
        "status_data_too_old",
    );
    if let Some(s) = b.status.as_mut() {
        s.issued_at = rfc3339(now - 8 * 86_400);
    }
    out.push(b.build());
    let mut b = plain(
        "valid_status_older_than_ttl_qc",
        "status older than ttl but within max age: valid with a warning",
        &claims_for(CertType::QC, 308),
        Alg::EdDSA,
        "valid",
        "valid",
        "ok",
    );
    if let Some(s) = b.status.as_mut() {
        s.issued_at = rfc3339(now - 3 * 86_400);
    }
    out.push(b.build());
    let uncovered = claims_for(CertType::YSZ, 131_072 + 5);
    let mut b = plain(
        "cannot_confirm_not_covered_ysz",
        "index beyond the cached status list",
        &uncovered,
        Alg::EdDSA,
        "valid",
        "cannot_confirm",
        "not_covered_by_status_list",
    );
    if let Some(s) = b.status.as_mut() {
        s.index = 5;
    }
    out.push(b.build());
    let mut b = plain(
        "valid_clock_behind_qc",
        "device clock behind the newest list seen: reported, dates judged at the trusted time",
        &claims_for(CertType::QC, 309),
        Alg::EdDSA,
        "valid",
        "valid",
        "ok",
    );
    b.newest_seen = Some(now + 2 * 86_400);
    out.push(b.build());
    let mut b = plain(
        "cannot_confirm_clock_set_back_qc",
        "clock set 8 days back: the list looks an hour old by the device clock but is judged at the trusted time",
        &claims_for(CertType::QC, 310),
        Alg::EdDSA,
        "valid",
        "cannot_confirm",
        "status_data_too_old",
    );
    b.newest_seen = Some(now + 8 * 86_400);
    out.push(b.build());

    // Keys and signatures.
    let c = claims_for(CertType::YSZ, 310);
    let mut b = plain(
        "unknown_key_ysz",
        "signed by a key that is not in the trust list",
        &c,
        Alg::EdDSA,
        "valid",
        "invalid",
        "unknown_key",
    );
    b.key = key_json(&key(Alg::EdDSA, 0x55).public_key(), "active");
    out.push(b.build());
    let mut b = plain(
        "key_compromised_wxhw",
        "signed by a key marked compromised",
        &claims_for(CertType::WXHW, 311),
        Alg::EdDSA,
        "valid",
        "invalid",
        "key_compromised",
    );
    b.key.state = "compromised".to_string();
    b.key.compromised_since = Some(rfc3339(now - 86_400));
    out.push(b.build());
    let mut b = plain(
        "key_not_valid_at_issue_qc",
        "issued after the signing key's period ended",
        &claims_for(CertType::QC, 312),
        Alg::EdDSA,
        "valid",
        "invalid",
        "key_not_valid_at_issue",
    );
    b.key.state = "retired".to_string();
    b.key.not_after = Some(rfc3339(unix(ISSUED) - 86_400));
    out.push(b.build());
    let mut b = plain(
        "valid_retired_key_qc",
        "a retired key's earlier certificates still verify",
        &claims_for(CertType::QC, 313),
        Alg::EdDSA,
        "valid",
        "valid",
        "ok",
    );
    b.key.state = "retired".to_string();
    b.key.not_after = Some(rfc3339(unix(ISSUED) + 86_400));
    out.push(b.build());
    for (name, alg) in [
        ("bad_signature_jyxk_eddsa", Alg::EdDSA),
        ("bad_signature_jyxk_sm2", Alg::Sm2Sm3),
    ] {
        let c = claims_for(CertType::JYXK, 314);
        let k = issuer(alg);
        let mut cert = sign_claims(&c, &k);
        // Change one character of the operator's credit code: still
        // well-formed CBOR, but no longer what was signed.
        let shared::domain::Face::Permit(permit) = &c.face else {
            panic!("JYXK is a permit")
        };
        let name_bytes = permit.uscc.as_str().as_bytes().to_vec();
        let at = cert
            .windows(name_bytes.len())
            .position(|w| w == name_bytes.as_slice())
            .unwrap();
        cert[at + name_bytes.len() - 1] ^= 0x01;
        let mut b = plain(
            name,
            "a tampered certificate: one character of the credit code changed",
            &c,
            alg,
            "valid",
            "invalid",
            "bad_signature",
        );
        b.envelope = cert.clone();
        b.certificate = cert;
        out.push(b.build());
    }
    // Header alg claims SM2 while the key (and signature) is Ed25519.
    let c = claims_for(CertType::WYY, 315);
    let mut protected = HeaderBuilder::new().key_id(ed.kid().0.to_vec()).build();
    protected.alg = Some(coset::Algorithm::PrivateUse(Alg::Sm2Sm3.cose_id()));
    let cert = custom_sign1(protected, coset::Header::default(), c.to_cbor(), &ed);
    let mut b = plain(
        "algorithm_mismatch_wyy",
        "header names SM2 but the trusted key is Ed25519",
        &c,
        Alg::EdDSA,
        "valid",
        "invalid",
        "algorithm_not_allowed",
    );
    b.envelope = cert.clone();
    b.certificate = cert;
    out.push(b.build());
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::ES256)
        .key_id(ed.kid().0.to_vec())
        .build();
    let cert = custom_sign1(protected, coset::Header::default(), c.to_cbor(), &ed);
    let mut b = plain(
        "algorithm_unsupported_es256_wyy",
        "an algorithm this system does not accept (ES256)",
        &c,
        Alg::EdDSA,
        "valid",
        "invalid",
        "algorithm_not_allowed",
    );
    b.envelope = cert.clone();
    b.certificate = cert;
    out.push(b.build());

    // Malformed envelopes and claims.
    let c = claims_for(CertType::QC, 316);
    let good = sign_claims(&c, &ed);
    let mut malformed = |name: &'static str, description: &'static str, cert: Vec<u8>| {
        let mut b = plain(
            name,
            description,
            &c,
            Alg::EdDSA,
            "valid",
            "invalid",
            "not_a_certificate",
        );
        b.envelope = cert.clone();
        b.certificate = cert;
        out.push(b.build());
    };
    let mut trailing = good.clone();
    trailing.push(0x00);
    malformed("trailing_bytes_qc", "a byte after the COSE_Sign1", trailing);
    malformed(
        "untagged_qc",
        "COSE_Sign1 without tag 18",
        coset::CoseSign1::from_tagged_slice(&good)
            .unwrap()
            .to_vec()
            .unwrap(),
    );
    // Claims with a non-shortest integer (the type code in two bytes), signed.
    let mut noncanon = c.to_cbor();
    assert_eq!(&noncanon[1..3], &[0x01, 0x01]);
    noncanon.splice(2..3, [0x18, 0x01]);
    malformed(
        "non_canonical_claims_qc",
        "signed claims not in deterministic encoding",
        cose::sign(noncanon, &ed, true),
    );
    // Claims with key 2 twice.
    let dup = {
        let Value::Map(mut entries) =
            ciborium::from_reader::<Value, _>(c.to_cbor().as_slice()).unwrap()
        else {
            panic!()
        };
        entries.insert(2, (cbor::uint(2), cbor::text("X")));
        cbor::encode(&Value::Map(entries))
    };
    malformed(
        "duplicate_key_claims_qc",
        "signed claims with a duplicate map key",
        cose::sign(dup, &ed, true),
    );
    let mut crit = HeaderBuilder::new()
        .algorithm(iana::Algorithm::EdDSA)
        .key_id(ed.kid().0.to_vec())
        .build();
    crit.crit = vec![coset::RegisteredLabelWithPrivate::Text("lnx".to_string())];
    crit.rest = vec![(coset::Label::Text("lnx".to_string()), Value::Bool(true))];
    malformed(
        "unknown_critical_header_qc",
        "a critical header this verifier does not understand",
        custom_sign1(crit, coset::Header::default(), c.to_cbor(), &ed),
    );
    let unprotected_kid = HeaderBuilder::new().key_id(ed.kid().0.to_vec()).build();
    malformed(
        "kid_in_unprotected_header_qc",
        "kid outside the protected header",
        custom_sign1(
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::EdDSA)
                .build(),
            unprotected_kid,
            c.to_cbor(),
            &ed,
        ),
    );
    // Codes in other formats: possibly genuine certificates of another
    // system, so never `invalid` (cannot confirm, look it up online).
    for (name, description, text) in [
        (
            "unrecognised_url",
            "some other QR code (a web address)",
            "HTTPS://EXAMPLE.ORG/".to_string(),
        ),
        (
            "unrecognised_other_system_hc1",
            "another system's signed certificate (an EU digital COVID certificate prefix)",
            "HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N".to_string(),
        ),
        (
            "unrecognised_national_platform_url",
            "a national platform's certificate link",
            "https://zwfw.mot.gov.cn/cert?id=210100200012345678".to_string(),
        ),
        (
            "unrecognised_future_version_lc2",
            "a later version of this system's format that this verifier does not read",
            "LC2:RRQT 9P60GO0752S7DWOH".to_string(),
        ),
        (
            "unrecognised_lowercase_prefix",
            "the prefix in lower case is not this system's format",
            "lc1:RRQT 9P60GO0752S7DWOH".to_string(),
        ),
        (
            "unrecognised_plain_text",
            "plain text (a keyboard-wedge scanner reading a paper certificate number)",
            "辽交运管沈字210100200012号".to_string(),
        ),
        ("unrecognised_empty", "an empty scan", String::new()),
        (
            "unrecognised_oversized",
            "5,000 characters of another format: still not proof of a fake",
            "X".repeat(5000),
        ),
    ] {
        let mut v = plain(
            name,
            description,
            &c,
            Alg::EdDSA,
            "valid",
            "cannot_confirm",
            "unrecognised_code",
        )
        .build();
        v.qr_text = text;
        v.cose_hex = String::new();
        out.push(v);
    }
    let mut b = plain(
        "prefixed_garbage_qc",
        "this system's prefix with a body that is not a certificate: proven bad",
        &c,
        Alg::EdDSA,
        "valid",
        "invalid",
        "not_a_certificate",
    );
    b.envelope = vec![0xd2, 0x84, 0x40];
    b.certificate = b.envelope.clone();
    out.push(b.build());
    let b = plain(
        "bad_base45_qc",
        "prefix present, body not base45",
        &c,
        Alg::EdDSA,
        "valid",
        "invalid",
        "not_a_certificate",
    );
    let mut v = b.build();
    v.qr_text = "LC1:GGW".to_string();
    v.cose_hex = String::new();
    out.push(v);

    // Holder-bound presentations.
    let h = holder();
    let bound_claims = |t: CertType, index: u32| {
        Claims::from_certificate(&record(t), index, unix(ISSUED), Some(h.public_key()))
    };
    let mut presentation_vector = |name: &'static str,
                                   description: &'static str,
                                   t: CertType,
                                   alg: Alg,
                                   signer: &SigningKey,
                                   signed_at: i64,
                                   checked_at: i64,
                                   verdict: &'static str,
                                   reason: &'static str| {
        let c = bound_claims(t, 400 + out.len() as u32);
        let k = issuer(alg);
        let cert = sign_claims(&c, &k);
        let p = presentation::present(&cert, signer, signed_at);
        let mut b = plain(name, description, &c, alg, "valid", verdict, reason);
        b.kind = Kind::Presentation;
        b.envelope = p;
        b.certificate = cert;
        b.now = checked_at;
        out.push(b.build());
    };
    presentation_vector(
        "valid_presentation_ysz",
        "shown live: the holder's phone signed this 30-second slot",
        CertType::YSZ,
        Alg::EdDSA,
        &h,
        now - 10,
        now,
        "valid",
        "ok",
    );
    presentation_vector(
        "valid_presentation_qc_sm2",
        "shown live, SM2 provincial seal, Ed25519 device key",
        CertType::QC,
        Alg::Sm2Sm3,
        &h,
        now - 40,
        now,
        "valid",
        "ok",
    );
    presentation_vector(
        "valid_presentation_wxhw_late_edge",
        "checked 90 s after the slot started: last accepted second",
        CertType::WXHW,
        Alg::EdDSA,
        &h,
        now - 90,
        now,
        "valid",
        "ok",
    );
    presentation_vector(
        "presentation_replayed_screenshot_wyj",
        "a screenshot shown five minutes later",
        CertType::WYJ,
        Alg::EdDSA,
        &h,
        now - 300,
        now,
        "invalid",
        "presentation_outside_window",
    );
    presentation_vector(
        "presentation_from_future_wyy",
        "a slot two minutes ahead of the verifier's clock",
        CertType::WYY,
        Alg::EdDSA,
        &h,
        now + 120,
        now,
        "invalid",
        "presentation_outside_window",
    );
    presentation_vector(
        "presentation_wrong_device_jyxk",
        "signed by another phone, not the bound one",
        CertType::JYXK,
        Alg::EdDSA,
        &key(Alg::EdDSA, 0x44),
        now,
        now,
        "invalid",
        "holder_signature_invalid",
    );
    // A delegated copy (claim 11): the owner's YSZ lent to a driver, shown
    // live from the driver's phone.
    let mut c = bound_claims(CertType::YSZ, 460);
    c.delegate = Some(shared::wire::Delegate::new(
        "李四",
        &shared::domain::IdNumber::parse("210102199001011237").unwrap(),
    ));
    let cert = sign_claims(&c, &issuer(Alg::EdDSA));
    let mut b = plain(
        "valid_presentation_delegated_ysz",
        "a vehicle certificate lent to a driver (claim 11), shown live from the driver's phone",
        &c,
        Alg::EdDSA,
        "valid",
        "valid",
        "ok",
    );
    b.kind = Kind::Presentation;
    b.envelope = presentation::present(&cert, &h, now - 10);
    b.certificate = cert;
    b.now = now;
    out.push(b.build());
    let c = bound_claims(CertType::XYJ, 450);
    let mut b = plain(
        "presentation_required_xyj",
        "a holder-bound certificate shown as a static QR",
        &c,
        Alg::EdDSA,
        "valid",
        "invalid",
        "presentation_required",
    );
    b.kind = Kind::Certificate;
    out.push(b.build());
    let _ = sm2;
    out
}

// ---------------------------------------------------------------------------
// Running a vector

fn parse_status(s: &str) -> Status {
    match s {
        "valid" => Status::Valid,
        "revoked" => Status::Revoked,
        "suspended" => Status::Suspended,
        "superseded" => Status::Superseded,
        other => panic!("unknown status {other}"),
    }
}

fn run(v: &Vector) -> (String, String) {
    let now = unix(&v.now);
    let alg = Alg::from_name(&v.issuer_key.alg).unwrap();
    let pk =
        PublicKey::from_bytes(alg, &hex::decode(&v.issuer_key.public_key_hex).unwrap()).unwrap();
    assert_eq!(
        pk.kid().to_hex(),
        v.issuer_key.kid_hex,
        "{}: kid is derived from the key",
        v.name
    );
    let state = match v.issuer_key.state.as_str() {
        "active" => KeyState::Active,
        "retired" => KeyState::Retired,
        "compromised" => KeyState::Compromised {
            since: unix(v.issuer_key.compromised_since.as_deref().unwrap()),
        },
        other => panic!("unknown key state {other}"),
    };
    let trust = TrustList {
        seq: 1,
        manifest: Manifest {
            issued_at: now - 3600,
            ttl: 2 * 86_400,
            max_age: 7 * 86_400,
        },
        keys: vec![IssuerKey {
            public_key: pk,
            not_before: unix(&v.issuer_key.not_before),
            not_after: v.issuer_key.not_after.as_deref().map(unix),
            state,
        }],
        authorities: Vec::new(),
    };
    let cache = v.status.as_ref().map(|s| {
        let mut list = StatusList::new(s.list_len as usize).unwrap();
        list.set(s.index, parse_status(&s.value)).unwrap();
        (
            StatusCache::from_snapshot(StatusSnapshot { seq: 1, list }),
            Manifest {
                issued_at: unix(&s.issued_at),
                ttl: s.ttl_seconds,
                max_age: s.max_age_seconds,
            },
        )
    });
    let ctx = Context {
        trust: &trust,
        status: cache.as_ref().map(|(cache, manifest)| StatusData {
            cache,
            manifest: *manifest,
        }),
        now,
        newest_seen: v.newest_seen.as_deref().map_or(0, unix),
        policy: Policy::default(),
        national: None,
    };
    match verify::verify(&v.qr_text, &ctx) {
        Ok(ok) => {
            if v.name.contains("clock_behind") {
                assert!(
                    ok.warnings()
                        .iter()
                        .any(|w| matches!(w, verify::Warning::ClockBehindNewestList { .. })),
                    "{}: clock warning expected",
                    v.name
                );
            }
            if v.name.contains("older_than_ttl") {
                assert!(
                    ok.warnings()
                        .iter()
                        .any(|w| matches!(w, verify::Warning::StatusOlderThanTtl { .. })),
                    "{}: staleness warning expected",
                    v.name
                );
            }
            if v.name.contains("presentation") {
                assert!(
                    ok.holder().is_some(),
                    "{}: holder evidence expected",
                    v.name
                );
            }
            ("valid".to_string(), "ok".to_string())
        }
        Err(r) => {
            if r.reason == verify::Reason::UnrecognisedCode {
                assert!(
                    r.claims.is_none(),
                    "{}: no claims from a foreign code",
                    v.name
                );
                assert!(
                    r.reason.message_zh().contains("联网查询")
                        && r.reason.message_en().contains("look it up online"),
                    "{}: the officer is told to use lookup",
                    v.name
                );
            }
            (r.verdict.as_str().to_string(), r.reason.code().to_string())
        }
    }
}

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/vectors.json")
}

fn with_pngs(mut vectors: Vec<Vector>) -> Vec<Vector> {
    for v in &mut vectors {
        if v.qr_text.starts_with("LC1:") || v.qr_text.starts_with("LP1:") {
            v.qr_png = Some(format!("qr/{}.png", v.name));
        }
    }
    vectors
}

fn load() -> Vec<Vector> {
    let text = std::fs::read_to_string(vectors_path()).expect("shared/testdata/vectors.json");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn vectors_file_is_current() {
    let generated = with_pngs(generate());
    if std::env::var_os("REGENERATE_VECTORS").is_some() {
        let dir = vectors_path().parent().unwrap().to_path_buf();
        std::fs::create_dir_all(dir.join("qr")).unwrap();
        for v in &generated {
            if let Some(png) = &v.qr_png {
                let bytes = qr::render_png(&v.qr_text, &qr::RenderOptions::default()).unwrap();
                std::fs::write(dir.join(png), bytes).unwrap();
            }
        }
        let json = serde_json::to_string_pretty(&generated).unwrap();
        std::fs::write(vectors_path(), json + "\n").unwrap();
    }
    let on_disk = load();
    assert_eq!(
        on_disk, generated,
        "shared/testdata/vectors.json is out of date: run REGENERATE_VECTORS=1 cargo test -p shared --test vectors"
    );
}

#[test]
fn vectors_give_expected_results() {
    let vectors = load();
    assert!(vectors.len() >= 30, "at least 30 vectors");
    let mut failures = Vec::new();
    for v in &vectors {
        let got = run(v);
        if got != (v.expect.verdict.clone(), v.expect.reason.clone()) {
            failures.push(format!(
                "{}: expected {}/{}, got {}/{}",
                v.name, v.expect.verdict, v.expect.reason, got.0, got.1
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn vectors_cover_every_reason_type_and_algorithm() {
    let vectors = load();
    for reason in [
        "ok",
        "not_a_certificate",
        "unrecognised_code",
        "unknown_key",
        "algorithm_not_allowed",
        "bad_signature",
        "key_compromised",
        "key_not_valid_at_issue",
        "not_yet_valid",
        "expired",
        "revoked",
        "suspended",
        "superseded",
        "presentation_outside_window",
        "holder_signature_invalid",
        "presentation_required",
        "no_status_data",
        "status_data_too_old",
        "not_covered_by_status_list",
    ] {
        assert!(
            vectors.iter().any(|v| v.expect.reason == reason),
            "no vector for {reason}"
        );
    }
    for verdict in ["valid", "invalid", "cannot_confirm"] {
        assert!(
            vectors.iter().any(|v| v.expect.verdict == verdict),
            "no vector for {verdict}"
        );
    }
    for alg in ["EdDSA", "SM2"] {
        assert!(vectors
            .iter()
            .any(|v| v.issuer_key.alg == alg && v.expect.verdict == "valid"));
        assert!(vectors
            .iter()
            .any(|v| v.issuer_key.alg == alg && v.expect.reason == "bad_signature"));
    }
    for t in CertType::ALL {
        let code = t.code().to_lowercase();
        assert!(
            vectors
                .iter()
                .any(|v| v.name.contains(&format!("_{code}_")) && v.expect.verdict == "valid"),
            "no valid vector for {t}"
        );
    }
    assert!(
        vectors
            .iter()
            .filter(|v| v.name.contains("presentation"))
            .count()
            >= 5
    );
}

proptest! {
    /// Whatever a scanner reads, text without this system's prefix is never
    /// reported as a fake: a genuine certificate of another system stays
    /// `cannot_confirm` / `unrecognised_code`.
    #[test]
    fn foreign_codes_are_never_invalid(text in "\\PC{0,300}") {
        let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
        prop_assume!(!trimmed.starts_with("LC1:") && !trimmed.starts_with("LP1:"));
        let v = load().into_iter().find(|v| v.name == "valid_qc_eddsa").unwrap();
        let mut v = v;
        v.qr_text = text;
        prop_assert_eq!(
            run(&v),
            ("cannot_confirm".to_string(), "unrecognised_code".to_string())
        );
    }
}

#[test]
fn vector_pngs_decode_to_their_text() {
    let dir = vectors_path().parent().unwrap().to_path_buf();
    for v in load() {
        let Some(png) = &v.qr_png else { continue };
        let bytes = std::fs::read(dir.join(png)).unwrap();
        let texts = qr::decode_image(&bytes, &qr::DecodeLimits::default()).unwrap();
        assert_eq!(texts, vec![v.qr_text.clone()], "{png}");
    }
}

// ---------------------------------------------------------------------------
// Sizes: docs/wire-format.md

#[test]
fn largest_certificates_fit_qr_version_11_and_presentations_14() {
    let mut table = String::from("| type | claims bytes | COSE bytes (EdDSA) | QR chars | QR version (M) | SM2 version | holder-bound presentation version |\n|---|---|---|---|---|---|---|\n");
    let mut too_big: Vec<String> = Vec::new();
    for t in CertType::ALL {
        let data = validate(&largest_realistic_record(t), today()).unwrap();
        let plain = Claims::from_certificate(&data, 16_777_215, 4_102_444_800, None);
        let ed = cose::sign(plain.to_cbor(), &issuer(Alg::EdDSA), true);
        let text = qrtext::encode(Kind::Certificate, &ed);
        let version = qr::qr_version(&text, qr::EcLevel::M).unwrap();
        let sm2 = cose::sign(plain.to_cbor(), &issuer(Alg::Sm2Sm3), true);
        let sm2_version =
            qr::qr_version(&qrtext::encode(Kind::Certificate, &sm2), qr::EcLevel::M).unwrap();
        let bound = Claims::from_certificate(
            &data,
            16_777_215,
            4_102_444_800,
            Some(holder().public_key()),
        );
        let bound_cert = cose::sign(bound.to_cbor(), &issuer(Alg::Sm2Sm3), true);
        let p = presentation::present(&bound_cert, &holder(), 4_102_444_800);
        let p_version =
            qr::qr_version(&qrtext::encode(Kind::Presentation, &p), qr::EcLevel::M).unwrap();
        // A vehicle certificate's delegated copy (claim 11): on this
        // worst-case face its presentation needs version 15 even with a
        // short driver's name; on a typical face (the sample record) it fits
        // version 14 even with the longest realistic name
        // (docs/wire-format.md, "Sizes").
        if matches!(t, CertType::YSZ | CertType::WYY) {
            let driver_id = shared::domain::IdNumber::parse("210102199001011237").unwrap();
            let typical = validate(&shared::domain::validate::sample_record(t), today()).unwrap();
            let typical = Claims::from_certificate(
                &typical,
                16_777_215,
                4_102_444_800,
                Some(holder().public_key()),
            );
            for (face, base, limit) in [("worst-case", &bound, 15), ("typical", &typical, 14)] {
                let mut copy = base.clone();
                copy.delegate = Some(shared::wire::Delegate::new(
                    "阿卜杜热合曼·买买提明",
                    &driver_id,
                ));
                let copy_cert = cose::sign(copy.to_cbor(), &issuer(Alg::Sm2Sm3), true);
                let p = presentation::present(&copy_cert, &holder(), 4_102_444_800);
                let text = qrtext::encode(Kind::Presentation, &p);
                let v = qr::qr_version(&text, qr::EcLevel::M).unwrap();
                println!(
                    "{t} delegated copy, {face} face, longest driver's name: claims {} bytes, presentation {} chars, version {v}",
                    copy.to_cbor().len(),
                    text.len()
                );
                if v > limit {
                    too_big.push(format!("{t} delegated copy, {face} face: version {v}"));
                }
            }
        }
        table.push_str(&format!(
            "| {t} | {} | {} | {} | {version} | {sm2_version} | {p_version} |\n",
            plain.to_cbor().len(),
            ed.len(),
            text.len()
        ));
        // The measurement in docs/wire-format.md: zlib never pays off here.
        assert_eq!(
            base45::decode(&text[4..]).unwrap()[0],
            0xd2,
            "{t}: sent uncompressed"
        );
        if version > 11 || sm2_version > 11 || p_version > 14 {
            too_big.push(format!("{t}: versions {version}/{sm2_version}/{p_version}"));
        }
    }
    println!("{table}");
    assert!(
        too_big.is_empty(),
        "over version 11 (certificate) or 14 (presentation): {too_big:?}"
    );
}

// ---------------------------------------------------------------------------
// Property tests: round trips of every codec

fn arb_record() -> impl Strategy<Value = CertificateData> {
    (0usize..9).prop_map(|i| record(CertType::ALL[i]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn claims_round_trip(data in arb_record(), index in any::<u32>(), iat in 0i64..4_000_000_000, bound in any::<bool>()) {
        let holder_key = bound.then(|| holder().public_key());
        let c = Claims::from_certificate(&data, index, iat, holder_key);
        let bytes = c.to_cbor();
        prop_assert_eq!(Claims::from_cbor(&bytes).unwrap(), c.clone());
        prop_assert_eq!(cbor::decode_strict(&bytes, 4096).map(|v| cbor::encode(&v)).unwrap(), bytes);
    }

    #[test]
    fn qr_text_round_trip(body in proptest::collection::vec(any::<u8>(), 0..600), presentation in any::<bool>()) {
        let mut envelope = vec![0xd2];
        envelope.extend(body);
        let kind = if presentation { Kind::Presentation } else { Kind::Certificate };
        let text = qrtext::encode(kind, &envelope);
        prop_assert!(text.chars().all(|c| "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".contains(c)));
        prop_assert_eq!(qrtext::decode(&text).unwrap(), (kind, envelope));
    }

    #[test]
    fn qr_text_decoder_never_panics(text in ".{0,400}") {
        let _ = qrtext::decode(&text);
    }

    #[test]
    fn strict_cbor_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(v) = cbor::decode_strict(&bytes, 4096) {
            prop_assert_eq!(cbor::encode(&v), bytes);
        }
    }

    #[test]
    fn presentation_round_trip(cert in proptest::collection::vec(any::<u8>(), 1..400), now in 0i64..4_000_000_000) {
        let p = presentation::present(&cert, &holder(), now);
        let parsed = presentation::Presentation::parse(&p).unwrap();
        prop_assert_eq!(parsed.certificate(), cert.as_slice());
        prop_assert_eq!(parsed.slot(), presentation::slot_of(now));
        prop_assert!(parsed.verify_holder(&holder().public_key()).is_ok());
    }
}

#[test]
fn identifier_is_derived_from_claims_and_the_authority() {
    for t in CertType::ALL {
        let data = record(t);
        let claims = Claims::from_certificate(&data, 1, unix(ISSUED), None);
        let back = Claims::from_cbor(&claims.to_cbor()).unwrap();
        assert_eq!(
            back.identifier(&data.issuer.uscc).unwrap(),
            data.identifier().unwrap(),
            "{t}"
        );
    }
}

// ---------------------------------------------------------------------------
// National issuer list vectors (shared/testdata/national.json)

use shared::national::{NationalError, NationalList, Province};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct NationalVector {
    name: String,
    description: String,
    /// The pinned national root: algorithm and public key.
    root_alg: String,
    root_public_key_hex: String,
    /// The sequence already held, if any (rollback checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    held_seq: Option<u64>,
    /// The signed list (COSE_Sign1).
    signed_hex: String,
    /// `ok`, or the refusal: `forged`, `rollback`, `malformed`, `envelope`.
    expect: String,
    /// For `ok`: the provinces' division codes in order.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    provinces: Vec<u32>,
}

fn national_sample(seq: u64, with_jilin: bool) -> NationalList {
    let province = |code: u32, root: &SigningKey| Province {
        division: shared::domain::DivisionCode::from_u32_national(code).unwrap(),
        name: format!(
            "{}交通运输厅",
            shared::domain::province_name_zh(code).unwrap()
        ),
        root: root.public_key(),
        cert_types: CertType::ALL.to_vec(),
        not_before: unix("2025-01-01T00:00:00+08:00"),
        not_after: None,
        trust_list_url: format!("https://{code}.lists.example/api/v1/trust-list"),
        status_list_url: format!("https://{code}.lists.example/api/v1/status-list"),
    };
    let mut provinces = vec![province(210000, &key(Alg::EdDSA, 0x21))];
    if with_jilin {
        provinces.push(province(220000, &key(Alg::Sm2Sm3, 0x22)));
    }
    NationalList {
        seq,
        issued_at: unix("2026-06-01T08:00:00+08:00"),
        next_update: unix("2026-06-08T08:00:00+08:00"),
        provider: "交通运输部".to_string(),
        provinces,
    }
}

fn generate_national() -> Vec<NationalVector> {
    let mut out = Vec::new();
    for alg in [Alg::EdDSA, Alg::Sm2Sm3] {
        let root = key(alg, 0x30);
        let n = alg.name().to_ascii_lowercase().replace('-', "");
        let vector = |name: String,
                      description: &str,
                      held: Option<u64>,
                      signed: Vec<u8>,
                      expect: &str,
                      provinces: Vec<u32>| NationalVector {
            name,
            description: description.to_string(),
            root_alg: alg.name().to_string(),
            root_public_key_hex: hex::encode(root.public_key().to_bytes()),
            held_seq: held,
            signed_hex: hex::encode(signed),
            expect: expect.to_string(),
            provinces,
        };
        out.push(vector(
            format!("national_ok_{n}"),
            "a national list naming Liaoning and Jilin",
            None,
            national_sample(2, true).sign(&root),
            "ok",
            vec![210000, 220000],
        ));
        out.push(vector(
            format!("national_newer_{n}"),
            "a newer list without Jilin accepted over sequence 2",
            Some(2),
            national_sample(3, false).sign(&root),
            "ok",
            vec![210000],
        ));
        out.push(vector(
            format!("national_rollback_{n}"),
            "sequence 1 offered to a verifier holding sequence 2",
            Some(2),
            national_sample(1, true).sign(&root),
            "rollback",
            Vec::new(),
        ));
        out.push(vector(
            format!("national_other_root_{n}"),
            "signed by a key that is not the national root",
            None,
            national_sample(2, true).sign(&key(alg, 0x31)),
            "forged",
            Vec::new(),
        ));
        let mut altered = national_sample(2, true).sign(&root);
        let at = altered.windows(7).position(|w| w == b"220000.").unwrap();
        altered[at + 1] = b'3';
        out.push(vector(
            format!("national_altered_{n}"),
            "a province's URL altered after signing",
            None,
            altered,
            "forged",
            Vec::new(),
        ));
        let mut trailing = national_sample(2, true).sign(&root);
        trailing.push(0);
        out.push(vector(
            format!("national_trailing_{n}"),
            "a byte after the COSE_Sign1",
            None,
            trailing,
            "envelope",
            Vec::new(),
        ));
        let mut city = national_sample(2, true);
        city.provinces[1].division =
            shared::domain::DivisionCode::from_u32_national(220100).unwrap();
        out.push(vector(
            format!("national_city_entry_{n}"),
            "a city code where a province-level code belongs",
            None,
            city.sign(&root),
            "malformed",
            Vec::new(),
        ));
    }
    out
}

fn run_national(v: &NationalVector) -> (String, Vec<u32>) {
    let alg = Alg::from_name(&v.root_alg).unwrap();
    let root = PublicKey::from_bytes(alg, &hex::decode(&v.root_public_key_hex).unwrap()).unwrap();
    let signed = hex::decode(&v.signed_hex).unwrap();
    let result = match v.held_seq {
        Some(seq) => {
            let mut held = national_sample(seq, true);
            held.seq = seq;
            held.verify_update(&signed, &root)
        }
        None => NationalList::verify(&signed, &root),
    };
    match result {
        Ok(list) => (
            "ok".to_string(),
            list.provinces.iter().map(|p| p.division.code()).collect(),
        ),
        Err(NationalError::Forged(_)) => ("forged".to_string(), Vec::new()),
        Err(NationalError::Rollback { .. }) => ("rollback".to_string(), Vec::new()),
        Err(NationalError::Malformed(_)) => ("malformed".to_string(), Vec::new()),
        Err(NationalError::Envelope(_)) => ("envelope".to_string(), Vec::new()),
        Err(other) => (format!("unexpected: {other}"), Vec::new()),
    }
}

fn national_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/national.json")
}

#[test]
fn national_vectors_are_current_and_give_expected_results() {
    let generated = generate_national();
    if std::env::var_os("REGENERATE_VECTORS").is_some() {
        let json = serde_json::to_string_pretty(&generated).unwrap();
        std::fs::write(national_path(), json + "\n").unwrap();
    }
    let text = std::fs::read_to_string(national_path()).expect("shared/testdata/national.json");
    let on_disk: Vec<NationalVector> = serde_json::from_str(&text).unwrap();
    assert_eq!(
        on_disk, generated,
        "shared/testdata/national.json is out of date: run REGENERATE_VECTORS=1 cargo test -p shared --test vectors"
    );
    for v in &on_disk {
        assert_eq!(
            run_national(v),
            (v.expect.clone(), v.provinces.clone()),
            "{}",
            v.name
        );
    }
}

// ---------------------------------------------------------------------------
// Mutual recognition: another province's certificate, verified offline

struct Province2 {
    trust: TrustList,
    status: (StatusCache, Manifest),
}

fn province_lists(issuer: &SigningKey, revoked: Option<u32>, status_issued_at: i64) -> Province2 {
    let mut list = StatusList::new(131_072).unwrap();
    if let Some(i) = revoked {
        list.set(i, Status::Revoked).unwrap();
    }
    Province2 {
        trust: TrustList {
            seq: 1,
            manifest: Manifest {
                issued_at: unix(NOW) - 3600,
                ttl: 2 * 86_400,
                max_age: 7 * 86_400,
            },
            keys: vec![IssuerKey {
                public_key: issuer.public_key(),
                not_before: unix(KEY_FROM),
                not_after: None,
                state: KeyState::Active,
            }],
            authorities: Vec::new(),
        },
        status: (
            StatusCache::from_snapshot(StatusSnapshot { seq: 1, list }),
            Manifest {
                issued_at: status_issued_at,
                ttl: 2 * 86_400,
                max_age: 7 * 86_400,
            },
        ),
    }
}

#[test]
fn mutual_recognition_table() {
    use shared::domain::DivisionCode;
    use verify::{National, ProvinceData};
    let liaoning_issuer = issuer(Alg::EdDSA);
    let jilin_issuer = key(Alg::Sm2Sm3, 0x52);
    let mut jilin_claims = claims_for(CertType::YSZ, 7);
    jilin_claims.issuer_division = DivisionCode::from_u32_national(220102).unwrap();
    let jilin_cert = qrtext::encode(
        Kind::Certificate,
        &sign_claims(&jilin_claims, &jilin_issuer),
    );
    let forged_by_liaoning_key = qrtext::encode(
        Kind::Certificate,
        &sign_claims(&jilin_claims, &liaoning_issuer),
    );
    let liaoning_cert = qrtext::encode(
        Kind::Certificate,
        &sign_claims(&claims_for(CertType::YSZ, 7), &liaoning_issuer),
    );
    let fresh = unix(NOW) - 3600;
    let liaoning = province_lists(&liaoning_issuer, None, fresh);
    let jilin_ok = province_lists(&jilin_issuer, None, fresh);
    // Jilin's list revokes index 7: Liaoning's certificate at index 7 must
    // not be touched by it.
    let jilin_revoked = province_lists(&jilin_issuer, Some(7), fresh);
    let jilin_stale = province_lists(&jilin_issuer, None, unix(NOW) - 8 * 86_400);
    let both = national_sample(2, true);
    let without_jilin = national_sample(3, false);
    let mut ysz_not_allowed = national_sample(2, true);
    ysz_not_allowed.provinces[1].cert_types = vec![CertType::QC];

    struct Case<'a> {
        name: &'a str,
        text: &'a str,
        national: Option<&'a shared::national::NationalList>,
        jilin: Option<&'a Province2>,
        expect: (&'a str, &'a str),
    }
    let cases = [
        Case {
            name: "jilin valid",
            text: &jilin_cert,
            national: Some(&both),
            jilin: Some(&jilin_ok),
            expect: ("valid", "ok"),
        },
        Case {
            name: "jilin revoked by jilin",
            text: &jilin_cert,
            national: Some(&both),
            jilin: Some(&jilin_revoked),
            expect: ("invalid", "revoked"),
        },
        Case {
            name: "liaoning untouched by jilin's revocation",
            text: &liaoning_cert,
            national: Some(&both),
            jilin: Some(&jilin_revoked),
            expect: ("valid", "ok"),
        },
        Case {
            name: "jilin removed from the national list",
            text: &jilin_cert,
            national: Some(&without_jilin),
            jilin: Some(&jilin_ok),
            expect: ("cannot_confirm", "unknown_province"),
        },
        Case {
            name: "no national list held",
            text: &jilin_cert,
            national: None,
            jilin: None,
            expect: ("cannot_confirm", "unknown_province"),
        },
        Case {
            name: "jilin listed but no lists held",
            text: &jilin_cert,
            national: Some(&both),
            jilin: None,
            expect: ("cannot_confirm", "no_province_data"),
        },
        Case {
            name: "type not allowed for jilin",
            text: &jilin_cert,
            national: Some(&ysz_not_allowed),
            jilin: Some(&jilin_ok),
            expect: ("invalid", "type_not_allowed_for_province"),
        },
        Case {
            name: "jilin claims signed by a liaoning key",
            text: &forged_by_liaoning_key,
            national: Some(&both),
            jilin: Some(&jilin_ok),
            expect: ("invalid", "unknown_key"),
        },
        Case {
            name: "jilin status stale, liaoning fresh",
            text: &jilin_cert,
            national: Some(&both),
            jilin: Some(&jilin_stale),
            expect: ("cannot_confirm", "status_data_too_old"),
        },
    ];
    for case in cases {
        let data: Vec<ProvinceData<'_>> = case
            .jilin
            .map(|j| ProvinceData {
                province: 220000,
                trust: &j.trust,
                status: Some(StatusData {
                    cache: &j.status.0,
                    manifest: j.status.1,
                }),
            })
            .into_iter()
            .collect();
        let ctx = Context {
            trust: &liaoning.trust,
            status: Some(StatusData {
                cache: &liaoning.status.0,
                manifest: liaoning.status.1,
            }),
            now: unix(NOW),
            newest_seen: 0,
            policy: Policy::default(),
            national: case.national.map(|list| National {
                own_province: 210000,
                list,
                provinces: &data,
            }),
        };
        let got = match verify::verify(case.text, &ctx) {
            Ok(v) => {
                let p = v.province().expect("the province is named");
                let want = if case.text == jilin_cert {
                    (220000, "吉林省", true)
                } else {
                    (210000, "辽宁省", false)
                };
                assert_eq!((p.code, p.name.as_str(), p.foreign), want, "{}", case.name);
                ("valid".to_string(), "ok".to_string())
            }
            Err(r) => {
                if case.text == jilin_cert {
                    assert_eq!(
                        r.province.as_ref().map(|p| p.code),
                        Some(220000),
                        "{}",
                        case.name
                    );
                }
                (r.verdict.as_str().to_string(), r.reason.code().to_string())
            }
        };
        assert_eq!(
            (got.0.as_str(), got.1.as_str()),
            case.expect,
            "{}",
            case.name
        );
    }
}

/// A presentation claiming a slot at either end of time (the presenter
/// chooses the slot) is refused as outside the window: the window
/// arithmetic saturates instead of overflowing (a debug build panicked).
#[test]
fn presentations_from_the_ends_of_time_are_refused() {
    let h = holder();
    for signed_at in [i64::MAX, i64::MAX - 29, 0, i64::MIN] {
        let c = Claims::from_certificate(
            &record(CertType::YSZ),
            7,
            unix(ISSUED),
            Some(h.public_key()),
        );
        let cert = sign_claims(&c, &issuer(Alg::EdDSA));
        let mut b = plain(
            "end_of_time",
            "a presentation for a slot at the end of time",
            &c,
            Alg::EdDSA,
            "valid",
            "invalid",
            "presentation_outside_window",
        );
        b.kind = Kind::Presentation;
        b.envelope = presentation::present(&cert, &h, signed_at);
        b.certificate = cert;
        let v = b.build();
        assert_eq!(
            run(&v),
            (
                "invalid".to_string(),
                "presentation_outside_window".to_string()
            ),
            "signed at {signed_at}"
        );
    }
}
