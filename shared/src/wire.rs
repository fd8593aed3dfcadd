//! The certificate claims: what the province signs, as CBOR with small
//! integer keys.
//!
//! The claims carry what a roadside check needs and nothing more (R9): the
//! face fields marked "in the QR" in [`crate::domain::cert`]; the rest of the
//! record stays with the server and the holder's wallet. Every value is
//! re-parsed into its domain type on decoding, so a signed payload with, say,
//! a bad ID-number check digit is refused as malformed. See
//! `docs/wire-format.md` for the key table.

use ciborium::value::Value;
use serde::Serialize;
use time::Date;

use crate::cbor::{
    self, as_array, as_bytes, as_text, as_u64, bad, map, text, uint, CborError, MapReader,
};
use crate::crypto::{Alg, PublicKey};
use crate::domain::cert::Family;
use crate::domain::{
    CertIdentifier, CertType, CertificateData, DivisionCode, Face, IdNumber, ParseError,
    PermitFace, PersonFace, PlateColour, PlateNumber, ScopeCode, Sex, Tonnage, Uscc, VehicleFace,
};

/// Largest claims payload accepted, in bytes.
pub const MAX_CLAIMS_LEN: usize = 2048;

/// Top-level claim keys.
pub mod key {
    /// Certificate type, wire code 1–9.
    pub const TYPE: i64 = 1;
    /// Certificate number (compact form): uint when it is a decimal number
    /// without leading zero, else text; absent when it equals the holder's
    /// ID number (person certificates).
    pub const NUMBER: i64 = 2;
    /// Issuing authority's division code, uint.
    pub const ISSUER_DIVISION: i64 = 3;
    /// Issued at, seconds since the Unix epoch.
    pub const ISSUED_AT: i64 = 4;
    /// Valid from, days since 1970-01-01.
    pub const VALID_FROM: i64 = 5;
    /// Valid until (inclusive), days since 1970-01-01; absent = long-term.
    pub const VALID_UNTIL: i64 = 6;
    /// Index in the status list.
    pub const STATUS_INDEX: i64 = 7;
    /// Version of the e-certificate (1–999).
    pub const VERSION: i64 = 8;
    /// Face fields, a map (see [`super::face_key`]).
    pub const FACE: i64 = 9;
    /// Holder device key (`cnf`): `[alg, public key bytes]`.
    pub const HOLDER_KEY: i64 = 10;
    /// Delegate (授权使用): the driver a vehicle certificate's owner lent
    /// it to, `[name, ID last four]`; only on a delegated copy, which is
    /// always holder-bound to the driver's phone.
    pub const DELEGATE: i64 = 11;
}

/// The driver a vehicle certificate was delegated to (claim 11, the CBOR
/// array `[name, last four characters of the ID number]`): the owner named
/// on the face lent the certificate for the copy's validity, and the copy
/// is bound to this driver's phone (claim 10). An array, not a map, and
/// only the ID number's last four characters, so that a delegated copy's
/// presentation still fits QR version 14 with a typical name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delegate {
    /// The driver's name, as on the ID card.
    pub name: String,
    /// The last four characters of the driver's ID number (the rest is
    /// never carried): three digits and a digit or `X`.
    pub id_last4: String,
}

impl Delegate {
    /// The delegate for a driver with this ID number.
    pub fn new(name: &str, id_number: &IdNumber) -> Delegate {
        let id = id_number.as_str();
        Delegate {
            name: name.to_string(),
            id_last4: id[id.len().saturating_sub(4)..].to_string(),
        }
    }

    /// The ID number as shown to an officer: `**************1234`.
    pub fn id_masked(&self) -> String {
        format!("{}{}", "*".repeat(14), self.id_last4)
    }

    /// Whether `id_number` could be the driver's (its last four match).
    pub fn matches(&self, id_number: &IdNumber) -> bool {
        id_number.as_str().ends_with(&self.id_last4)
    }
}

fn id_last4_ok(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 4 && b[..3].iter().all(u8::is_ascii_digit) && (b[3].is_ascii_digit() || b[3] == b'X')
}

/// Face-field keys inside claim 9.
pub mod face_key {
    /// Name of the person, owner or operator.
    pub const NAME: i64 = 1;
    /// Sex, GB/T 2261.1 code.
    pub const SEX: i64 = 2;
    /// ID number.
    pub const ID_NUMBER: i64 = 3;
    /// Permitted vehicle classes, text.
    pub const VEHICLE_CLASSES: i64 = 4;
    /// Qualification classes, a byte string of one-byte codes.
    pub const QUALIFICATION_CLASSES: i64 = 5;
    /// Plate number.
    pub const PLATE: i64 = 6;
    /// Plate colour code.
    pub const PLATE_COLOUR: i64 = 7;
    /// Approved seats.
    pub const SEATS: i64 = 8;
    /// Tonnage in ten-thousandths of a tonne.
    pub const TONNAGE: i64 = 9;
    /// Business scope, a byte string of one-byte JT/T 415 codes.
    pub const BUSINESS_SCOPE: i64 = 10;
    /// Operator's unified social credit code.
    pub const USCC: i64 = 11;
    /// Inspection valid until, days since 1970-01-01.
    pub const INSPECTION_VALID_UNTIL: i64 = 12;
}

/// Why claims could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// CBOR-level problem.
    #[error("{0}")]
    Cbor(#[from] CborError),
    /// A value that does not satisfy its domain rule.
    #[error("field {field}: {source}")]
    Domain {
        /// The claim.
        field: &'static str,
        /// The rule it broke.
        source: ParseError,
    },
}

/// The signed claims of one certificate version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims {
    /// Which of the nine types.
    pub cert_type: CertType,
    /// Certificate number in compact form.
    pub number: String,
    /// Issuing authority's division. Its name and credit code are published
    /// in the trust list.
    pub issuer_division: DivisionCode,
    /// When this version was signed, Unix seconds.
    pub issued_at: i64,
    /// First day of validity.
    pub valid_from: Date,
    /// Last day of validity (inclusive); `None` for long-term.
    pub valid_until: Option<Date>,
    /// Index in the status list.
    pub status_index: u32,
    /// Version of the e-certificate.
    pub version: u16,
    /// Face fields carried in the QR (fields not carried are `None`/empty).
    pub face: Face,
    /// The holder's device key, for holder-bound certificates.
    #[serde(serialize_with = "serialize_holder_key")]
    pub holder_key: Option<PublicKey>,
    /// On a delegated copy of a vehicle certificate: the driver it was lent
    /// to (claim 11). Requires `holder_key` (the driver's phone).
    pub delegate: Option<Delegate>,
}

fn serialize_holder_key<S: serde::Serializer>(
    key: &Option<PublicKey>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match key {
        Some(k) => s.serialize_some(&hex::encode(k.to_bytes())),
        None => s.serialize_none(),
    }
}

fn k(key: i64) -> Value {
    cbor::int(key)
}

const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

fn days(d: Date) -> i64 {
    i64::from(d.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY
}

fn date_from_days(v: Value, field: &'static str) -> Result<Date, WireError> {
    let n = as_u64(v, field)?;
    i64::try_from(n)
        .ok()
        .and_then(|n| i32::try_from(n + UNIX_EPOCH_JULIAN_DAY).ok())
        .and_then(|j| Date::from_julian_day(j).ok())
        .ok_or_else(|| bad(field, "date out of range").into())
}

fn date_value(d: Date) -> Value {
    uint(u64::try_from(days(d)).unwrap_or(0))
}

fn domain<T>(field: &'static str, r: Result<T, ParseError>) -> Result<T, WireError> {
    r.map_err(|source| WireError::Domain { field, source })
}

/// A number written as a CBOR uint: decimal digits, no leading zero, fits
/// `u64`.
fn numeric(number: &str) -> Option<u64> {
    if number.starts_with('0') || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse().ok()
}

fn subject_id(face: &Face) -> Option<&str> {
    match face {
        Face::Person(p) => Some(p.id_number.as_str()),
        _ => None,
    }
}

impl Claims {
    /// The claims for a conforming record: keeps only the face fields that
    /// travel in the QR.
    pub fn from_certificate(
        cert: &CertificateData,
        status_index: u32,
        issued_at: i64,
        holder_key: Option<PublicKey>,
    ) -> Claims {
        let face = match &cert.face {
            Face::Person(p) => Face::Person(PersonFace {
                name: p.name.clone(),
                sex: p.sex,
                id_number: p.id_number.clone(),
                vehicle_classes: p.vehicle_classes.clone(),
                qualification_classes: p.qualification_classes.clone(),
                nationality: None,
                ethnicity: None,
                address: None,
                driving_licence_number: None,
                file_number: None,
            }),
            Face::Vehicle(v) => Face::Vehicle(VehicleFace {
                owner: v.owner.clone(),
                plate: v.plate.clone(),
                plate_colour: v.plate_colour,
                vehicle_type: None,
                seats: v.seats,
                tonnage: v.tonnage,
                business_scope: v.business_scope.clone(),
                inspection_valid_until: v.inspection_valid_until,
                owner_address: None,
                operating_permit_number: None,
                vin: None,
                make_model: None,
                operating_area: None,
                economic_type: None,
            }),
            Face::Permit(p) => Face::Permit(PermitFace {
                holder_name: p.holder_name.clone(),
                uscc: p.uscc.clone(),
                business_scope: p.business_scope.clone(),
                operating_area: None,
                address: None,
                economic_type: None,
            }),
        };
        Claims {
            cert_type: cert.cert_type,
            number: cert.number.clone(),
            issuer_division: cert.issuer.division,
            issued_at,
            valid_from: cert.valid_from,
            valid_until: cert.valid_until,
            status_index,
            version: cert.version,
            face,
            holder_key,
            delegate: None,
        }
    }

    /// The GB/T 36904 identifier of this certificate version, given the
    /// issuing authority's credit code (from the trust list).
    pub fn identifier(&self, issuer_uscc: &Uscc) -> Result<CertIdentifier, ParseError> {
        CertIdentifier::build(
            self.cert_type.identifier_type_code(),
            issuer_uscc.as_str(),
            &self.number,
            self.version,
        )
    }

    /// Canonical CBOR encoding.
    pub fn to_cbor(&self) -> Vec<u8> {
        let holder = self.holder_key.as_ref().map(|k| {
            Value::Array(vec![
                cbor::int(k.alg().cose_id()),
                cbor::bytes(&k.to_bytes()),
            ])
        });
        let number = if subject_id(&self.face) == Some(self.number.as_str()) {
            None
        } else if let Some(n) = numeric(&self.number) {
            Some(uint(n))
        } else {
            Some(text(&self.number))
        };
        let value = map(vec![
            (
                k(key::TYPE),
                Some(uint(u64::from(self.cert_type.wire_code()))),
            ),
            (k(key::NUMBER), number),
            (
                k(key::ISSUER_DIVISION),
                Some(uint(u64::from(self.issuer_division.code()))),
            ),
            (k(key::ISSUED_AT), Some(cbor::int(self.issued_at))),
            (k(key::VALID_FROM), Some(date_value(self.valid_from))),
            (k(key::VALID_UNTIL), self.valid_until.map(date_value)),
            (
                k(key::STATUS_INDEX),
                Some(uint(u64::from(self.status_index))),
            ),
            (k(key::VERSION), Some(uint(u64::from(self.version)))),
            (k(key::FACE), Some(face_to_value(&self.face))),
            (k(key::HOLDER_KEY), holder),
            (
                k(key::DELEGATE),
                self.delegate
                    .as_ref()
                    .map(|d| Value::Array(vec![zh_text(&d.name), text(&d.id_last4)])),
            ),
        ]);
        cbor::encode(&value)
    }

    /// Strict decoding: canonical CBOR, known keys only, every value re-parsed
    /// into its domain type.
    pub fn from_cbor(bytes: &[u8]) -> Result<Claims, WireError> {
        let value = cbor::decode_strict(bytes, MAX_CLAIMS_LEN)?;
        let mut m = MapReader::new("claims", value)?;
        let code = as_u64(m.required(key::TYPE, "type")?, "type")?;
        let cert_type = CertType::from_wire_code(code)
            .ok_or_else(|| bad("type", format!("unknown type {code}")))?;
        let number = m.take(key::NUMBER);
        let division = as_u64(
            m.required(key::ISSUER_DIVISION, "issuer_division")?,
            "issuer_division",
        )?;
        let division =
            u32::try_from(division).map_err(|_| bad("issuer_division", "out of range"))?;
        let issuer_division = domain("issuer_division", DivisionCode::from_u32_national(division))?;
        let issued_at = cbor::as_i64(m.required(key::ISSUED_AT, "issued_at")?, "issued_at")?;
        let valid_from = date_from_days(m.required(key::VALID_FROM, "valid_from")?, "valid_from")?;
        let valid_until = m
            .take(key::VALID_UNTIL)
            .map(|v| date_from_days(v, "valid_until"))
            .transpose()?;
        let status_index = u32::try_from(as_u64(
            m.required(key::STATUS_INDEX, "status_index")?,
            "status_index",
        )?)
        .map_err(|_| bad("status_index", "out of range"))?;
        let version = as_u64(m.required(key::VERSION, "version")?, "version")?;
        let version = u16::try_from(version)
            .ok()
            .filter(|v| (1..=999).contains(v))
            .ok_or_else(|| bad("version", "must be 1 to 999"))?;
        let face = face_from_value(cert_type.family(), m.required(key::FACE, "face")?)?;
        let holder_key = m
            .take(key::HOLDER_KEY)
            .map(holder_key_from_value)
            .transpose()?;
        let delegate = m.take(key::DELEGATE).map(delegate_from_value).transpose()?;
        m.finish()?;
        if delegate.is_some() {
            if cert_type.family() != Family::Vehicle {
                return Err(bad("delegate", "only vehicle certificates are delegated").into());
            }
            if holder_key.is_none() {
                return Err(bad("delegate", "a delegated copy must be holder-bound").into());
            }
        }
        let number = match number {
            None => subject_id(&face)
                .map(str::to_string)
                .ok_or(CborError::Missing("number"))?,
            Some(Value::Integer(i)) => u64::try_from(i)
                .map_err(|_| bad("number", "negative"))?
                .to_string(),
            Some(Value::Text(t)) => {
                if t.is_empty() || t.chars().count() > 64 {
                    return Err(bad("number", "must be 1 to 64 characters").into());
                }
                if numeric(&t).is_some() || subject_id(&face) == Some(t.as_str()) {
                    return Err(CborError::NonCanonical.into());
                }
                t
            }
            Some(_) => return Err(bad("number", "expected text or an unsigned integer").into()),
        };
        if let Some(until) = valid_until {
            if until < valid_from {
                return Err(bad("valid_until", "before valid_from").into());
            }
        }
        Ok(Claims {
            cert_type,
            number,
            issuer_division,
            issued_at,
            valid_from,
            valid_until,
            status_index,
            version,
            face,
            holder_key,
            delegate,
        })
    }
}

fn delegate_from_value(v: Value) -> Result<Delegate, WireError> {
    let items = as_array(v, "delegate")?;
    let [name, last4]: [Value; 2] = items
        .try_into()
        .map_err(|_| bad("delegate", "expected [name, ID last four]"))?;
    let name = short_text(name, "delegate")?;
    let id_last4 = as_text(last4, "delegate")?;
    if !id_last4_ok(&id_last4) {
        return Err(bad("delegate", "the last four characters of an ID number").into());
    }
    Ok(Delegate { name, id_last4 })
}

fn holder_key_from_value(v: Value) -> Result<PublicKey, WireError> {
    let items = as_array(v, "holder_key")?;
    let [alg, key_bytes]: [Value; 2] = items
        .try_into()
        .map_err(|_| bad("holder_key", "expected [alg, key]"))?;
    let alg_id = cbor::as_i64(alg, "holder_key")?;
    let alg = Alg::from_cose_id(alg_id)
        .filter(|a| *a == Alg::EdDSA)
        .ok_or_else(|| {
            bad(
                "holder_key",
                format!("algorithm {alg_id} not allowed for holder keys"),
            )
        })?;
    let key_bytes = as_bytes(key_bytes, "holder_key")?;
    PublicKey::from_bytes(alg, &key_bytes).map_err(|e| bad("holder_key", e.to_string()).into())
}

/// One-byte codes as a byte string; absent when empty.
fn code_bytes(codes: impl Iterator<Item = u64>) -> Option<Value> {
    let bytes: Vec<u8> = codes.map(|c| u8::try_from(c).unwrap_or(u8::MAX)).collect();
    (!bytes.is_empty()).then(|| cbor::bytes(&bytes))
}

fn face_to_value(face: &Face) -> Value {
    match face {
        Face::Person(p) => map(vec![
            (k(face_key::NAME), Some(zh_text(&p.name))),
            (k(face_key::SEX), Some(uint(u64::from(p.sex.code())))),
            (k(face_key::ID_NUMBER), Some(text(p.id_number.as_str()))),
            (
                k(face_key::VEHICLE_CLASSES),
                p.vehicle_classes.as_deref().map(text),
            ),
            (
                k(face_key::QUALIFICATION_CLASSES),
                code_bytes(p.qualification_classes.iter().map(|c| u64::from(*c))),
            ),
        ]),
        Face::Vehicle(v) => map(vec![
            (k(face_key::NAME), Some(zh_text(&v.owner))),
            (k(face_key::PLATE), Some(zh_text(v.plate.as_str()))),
            (
                k(face_key::PLATE_COLOUR),
                Some(uint(u64::from(v.plate_colour.code()))),
            ),
            (k(face_key::SEATS), v.seats.map(|s| uint(u64::from(s)))),
            (
                k(face_key::TONNAGE),
                v.tonnage.map(|t| uint(u64::from(t.ten_thousandths()))),
            ),
            (
                k(face_key::BUSINESS_SCOPE),
                code_bytes(v.business_scope.iter().map(|c| u64::from(c.code()))),
            ),
            (
                k(face_key::INSPECTION_VALID_UNTIL),
                v.inspection_valid_until.map(date_value),
            ),
        ]),
        Face::Permit(p) => map(vec![
            (k(face_key::NAME), Some(zh_text(&p.holder_name))),
            (
                k(face_key::BUSINESS_SCOPE),
                code_bytes(p.business_scope.iter().map(|c| u64::from(c.code()))),
            ),
            (k(face_key::USCC), Some(text(p.uscc.as_str()))),
        ]),
    }
}

/// Chinese text: GB 18030 bytes (2 bytes for a common Hanzi instead of
/// UTF-8's 3) when that is strictly shorter, else a UTF-8 text string.
fn zh_text(s: &str) -> Value {
    let (gb, _, unmappable) = encoding_rs::GB18030.encode(s);
    if !unmappable && gb.len() < s.len() {
        cbor::bytes(&gb)
    } else {
        text(s)
    }
}

/// Reads [`zh_text`]; the other choice than the canonical one is refused.
/// Whether `text` encodes to exactly `gb` in GB 18030 (the one encoding
/// a name may have): into a buffer on the stack for names of ordinary
/// length, the first differing byte ending the comparison.
fn gb18030_round_trips(text: &str, gb: &[u8]) -> bool {
    let mut buf = [0u8; 256];
    if gb.len() > buf.len() {
        let (again, _, unmappable) = encoding_rs::GB18030.encode(text);
        return !unmappable && again.as_ref() == gb;
    }
    let mut encoder = encoding_rs::GB18030.new_encoder();
    let (result, read, written) =
        encoder.encode_from_utf8_without_replacement(text, &mut buf, true);
    result == encoding_rs::EncoderResult::InputEmpty
        && read == text.len()
        && buf.get(..written) == Some(gb)
}

fn short_text(v: Value, field: &'static str) -> Result<String, WireError> {
    let t = match v {
        Value::Bytes(gb) => {
            let (t, malformed) = encoding_rs::GB18030.decode_without_bom_handling(&gb);
            if malformed {
                return Err(bad(field, "not valid GB 18030").into());
            }
            let t = t.into_owned();
            if !gb18030_round_trips(&t, &gb) || gb.len() >= t.len() {
                return Err(CborError::NonCanonical.into());
            }
            t
        }
        other => {
            let t = as_text(other, field)?;
            if zh_text(&t) != text(&t) {
                return Err(CborError::NonCanonical.into());
            }
            t
        }
    };
    if t.is_empty() || t.chars().count() > 100 {
        return Err(bad(field, "must be 1 to 100 characters").into());
    }
    Ok(t)
}

/// A byte string of one-byte codes: 1 to 32 of them.
fn code_list(v: Option<Value>, field: &'static str) -> Result<Vec<u8>, WireError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let codes = as_bytes(v, field)?;
    if codes.is_empty() || codes.len() > 32 {
        return Err(bad(field, "must hold 1 to 32 codes").into());
    }
    Ok(codes)
}

fn face_from_value(family: Family, v: Value) -> Result<Face, WireError> {
    let mut m = MapReader::new("face", v)?;
    let name = short_text(m.required(face_key::NAME, "name")?, "name")?;
    let face = match family {
        Family::Person => {
            let sex_code = as_u64(m.required(face_key::SEX, "sex")?, "sex")?;
            let sex = Sex::from_code(sex_code).ok_or_else(|| bad("sex", "must be 1 or 2"))?;
            let id_number = domain(
                "id_number",
                IdNumber::parse(&as_text(
                    m.required(face_key::ID_NUMBER, "id_number")?,
                    "id_number",
                )?),
            )?;
            let vehicle_classes = m
                .take(face_key::VEHICLE_CLASSES)
                .map(|v| short_text(v, "vehicle_classes"))
                .transpose()?;
            let qualification_classes = code_list(
                m.take(face_key::QUALIFICATION_CLASSES),
                "qualification_classes",
            )?;
            Face::Person(PersonFace {
                name,
                sex,
                id_number,
                vehicle_classes,
                qualification_classes,
                nationality: None,
                ethnicity: None,
                address: None,
                driving_licence_number: None,
                file_number: None,
            })
        }
        Family::Vehicle => {
            let plate = domain(
                "plate",
                PlateNumber::parse(&short_text(m.required(face_key::PLATE, "plate")?, "plate")?),
            )?;
            let plate_colour = domain(
                "plate_colour",
                PlateColour::from_code(as_u64(
                    m.required(face_key::PLATE_COLOUR, "plate_colour")?,
                    "plate_colour",
                )?),
            )?;
            let seats = m
                .take(face_key::SEATS)
                .map(|v| {
                    as_u64(v, "seats").and_then(|s| {
                        u16::try_from(s)
                            .ok()
                            .filter(|s| (1..=99).contains(s))
                            .ok_or_else(|| bad("seats", "must be 1 to 99"))
                    })
                })
                .transpose()?;
            let tonnage = m
                .take(face_key::TONNAGE)
                .map(|v| -> Result<Tonnage, WireError> {
                    domain(
                        "tonnage",
                        Tonnage::from_ten_thousandths(as_u64(v, "tonnage")?),
                    )
                })
                .transpose()?;
            let business_scope = scope_list(m.take(face_key::BUSINESS_SCOPE))?;
            let inspection_valid_until = m
                .take(face_key::INSPECTION_VALID_UNTIL)
                .map(|v| date_from_days(v, "inspection_valid_until"))
                .transpose()?;
            Face::Vehicle(VehicleFace {
                owner: name,
                plate,
                plate_colour,
                vehicle_type: None,
                seats,
                tonnage,
                business_scope,
                inspection_valid_until,
                owner_address: None,
                operating_permit_number: None,
                vin: None,
                make_model: None,
                operating_area: None,
                economic_type: None,
            })
        }
        Family::Permit => {
            let uscc = domain(
                "uscc",
                Uscc::parse(&as_text(m.required(face_key::USCC, "uscc")?, "uscc")?),
            )?;
            let business_scope = scope_list(m.take(face_key::BUSINESS_SCOPE))?;
            Face::Permit(PermitFace {
                holder_name: name,
                uscc,
                business_scope,
                operating_area: None,
                address: None,
                economic_type: None,
            })
        }
    };
    m.finish()?;
    Ok(face)
}

fn scope_list(v: Option<Value>) -> Result<Vec<ScopeCode>, WireError> {
    code_list(v, "business_scope")?
        .into_iter()
        .map(|c| domain("business_scope", ScopeCode::from_code(u64::from(c))))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::crypto::SigningKey;
    use crate::domain::validate::{sample_record, validate};

    fn claims(t: CertType, bound: bool) -> Claims {
        let data = validate(&sample_record(t), time::macros::date!(2026 - 06 - 01)).unwrap();
        let key = bound.then(|| {
            SigningKey::from_secret_bytes(Alg::EdDSA, &[7u8; 32])
                .unwrap()
                .public_key()
        });
        Claims::from_certificate(&data, 42, 1_780_000_000, key)
    }

    fn driver() -> Delegate {
        Delegate::new("张三", &IdNumber::parse("210102199001011237").unwrap())
    }

    #[test]
    fn delegate_keeps_only_the_ends_of_the_id_number() {
        let d = driver();
        assert_eq!(d.id_last4, "1237");
        assert_eq!(d.id_masked(), "**************1237");
        assert!(d.matches(&IdNumber::parse("210102199001011237").unwrap()));
    }

    #[test]
    fn a_delegated_copy_round_trips_and_plain_claims_are_unchanged() {
        for t in [CertType::YSZ, CertType::WYY] {
            let plain = claims(t, true);
            let mut copy = plain.clone();
            copy.delegate = Some(driver());
            let bytes = copy.to_cbor();
            assert_eq!(Claims::from_cbor(&bytes).unwrap(), copy);
            // Without claim 11 the encoding is exactly the old one: claim 11
            // only appends the last map entry.
            let old = plain.to_cbor();
            assert_eq!(Claims::from_cbor(&old).unwrap().delegate, None);
            assert_eq!(
                bytes[1..old.len()],
                old[1..],
                "same prefix after the map header"
            );
        }
    }

    #[test]
    fn a_delegate_is_refused_off_vehicles_and_without_a_holder_key() {
        let mut person = claims(CertType::QC, true);
        person.delegate = Some(driver());
        assert!(Claims::from_cbor(&person.to_cbor()).is_err());
        let mut permit = claims(CertType::JYXK, true);
        permit.delegate = Some(driver());
        assert!(Claims::from_cbor(&permit.to_cbor()).is_err());
        let mut unbound = claims(CertType::YSZ, false);
        unbound.delegate = Some(driver());
        assert!(Claims::from_cbor(&unbound.to_cbor()).is_err());
    }

    #[test]
    fn a_malformed_delegate_is_refused() {
        for ends in ["123", "123Y", "X123", "12345", ""] {
            let mut c = claims(CertType::YSZ, true);
            c.delegate = Some(Delegate {
                name: "张三".into(),
                id_last4: ends.into(),
            });
            assert!(Claims::from_cbor(&c.to_cbor()).is_err(), "{ends}");
        }
        // A third item in claim 11 is refused.
        let mut c = claims(CertType::YSZ, true);
        c.delegate = Some(driver());
        let mut v = cbor::decode_strict(&c.to_cbor(), MAX_CLAIMS_LEN).unwrap();
        if let Value::Map(entries) = &mut v {
            for (k, val) in entries.iter_mut() {
                if *k == cbor::int(key::DELEGATE) {
                    if let Value::Array(d) = val {
                        d.push(cbor::uint(1));
                    }
                }
            }
        }
        assert!(Claims::from_cbor(&cbor::encode(&v)).is_err());
    }
}
