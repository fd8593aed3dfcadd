//! The annual evaluation of each city and the province (R11, R12, Annex A).
//!
//! [`score`] turns counted rates and recorded facts into points; the
//! counting here reads only provable events from the store ([`Data`], one
//! transaction) and applies the same rules to each of the 14 cities (the
//! certificate's issuing division's city, the device's enrollment city for
//! checks' anomalies and refusals) and to the province (everything
//! together). `docs/evaluation.md` states each count.

pub mod data;
pub mod score;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use shared::domain::{DivisionCode, LIAONING_CITIES};

use data::{
    ComplaintRow, DeclaredRow, EvalCert, EvalCheck, EvalCorrection, EvalRefusal,
    EvalRejectedUpload, TrainingRow,
};
use score::{Coverage, Rate};

/// Years the evaluation answers for.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2999;

pub use shared::cst::month_start;

/// Everything the evaluation of one year reads, loaded in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Data {
    /// Every certificate.
    pub certs: Vec<EvalCert>,
    /// Records still on a correction list.
    pub corrections: Vec<EvalCorrection>,
    /// Check records of the year.
    pub checks: Vec<EvalCheck>,
    /// Refusals of the year.
    pub refusals: Vec<EvalRefusal>,
    /// Refused uploads of the year.
    pub rejected: Vec<EvalRejectedUpload>,
    /// Training records of the year.
    pub training: Vec<TrainingRow>,
    /// Declared uncollected physical certificates of the year.
    pub declared: Vec<DeclaredRow>,
    /// Complaint decisions of the year.
    pub complaints: Vec<ComplaintRow>,
}

/// A rate with its points.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RateScore {
    /// What was counted.
    pub numerator: u64,
    /// Out of how many.
    pub denominator: u64,
    /// In percent; `null` when the denominator is 0.
    pub percent: Option<f64>,
    /// Annex A points.
    pub points: u8,
}

/// Item 1, issuance rate.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Issuance {
    /// Valid certificates with a signed e-certificate over valid records
    /// collected plus open corrections plus declared uncollected.
    #[serde(flatten)]
    pub rate: RateScore,
    /// Records still on a correction list (denominator only).
    pub open_corrections: u64,
    /// Physical certificates declared not yet collected (denominator only).
    pub declared_uncollected: u64,
}

/// Item 2, annual activation rate.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Activation {
    /// E-certificates of the year checked provably at least once over
    /// e-certificates issued in the year.
    #[serde(flatten)]
    pub rate: RateScore,
    /// Provable checks of the year's e-certificates (each certificate
    /// counts once in the numerator).
    pub provable_checks: u64,
}

/// One training record as answered.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TrainingView {
    /// Row id.
    pub id: i64,
    /// Division it was entered for.
    pub division: u32,
    /// Coverage claimed.
    pub coverage: String,
    /// What was done.
    pub description: String,
    /// Attachments.
    pub evidence: Vec<data::Evidence>,
}

/// Item 3, training and publicity.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Training {
    /// The widest coverage among records with evidence.
    pub coverage: Option<Coverage>,
    /// Points (10 / 6 / 0).
    pub points: u8,
    /// The records.
    pub records: Vec<TrainingView>,
}

/// A listed event (incident or anomaly).
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Event {
    /// What kind: incidents `refusal`, `upheld_complaint`; anomalies
    /// `signature_not_verified`, `presentation_not_verified`,
    /// `out_of_region`, `unknown_certificate`, `rejected_upload`.
    pub kind: String,
    /// When (device time for records, server time otherwise), Unix seconds.
    pub at: i64,
    /// The division it is attributed to.
    pub division: u32,
    /// The device row id, for records.
    pub device_id: Option<i64>,
    /// The record's seq, for records.
    pub seq: Option<u64>,
    /// The certificate (`TYPE/number`), when known.
    pub certificate: Option<String>,
    /// Details.
    pub detail: String,
}

/// Item 4, display and verification.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Display {
    /// Points (10 without incident, else 0).
    pub points: u8,
    /// Each incident.
    pub incidents: Vec<Event>,
}

/// One month's cumulative rates.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct MonthRates {
    /// 1–12.
    pub month: u8,
    /// Issuance rate at the month's end, percent.
    pub issuance_percent: Option<f64>,
    /// Activation rate of the year so far at the month's end, percent.
    pub activation_percent: Option<f64>,
}

/// The evaluation of a city or the province.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Score {
    /// Division code (210000 for the province).
    pub division: u32,
    /// Its name.
    pub name: String,
    /// Item 1 (40 points).
    pub issuance: Issuance,
    /// Item 2 (40 points).
    pub activation: Activation,
    /// Item 3 (10 points).
    pub training: Training,
    /// Item 4 (10 points).
    pub display: Display,
    /// The sum of the four items' points.
    pub total: u8,
    /// Checks and uploads that did not count, and why.
    pub anomalies: Vec<Event>,
    /// Cumulative rates at each month's end.
    pub monthly: Vec<MonthRates>,
}

/// The year's evaluation.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Evaluation {
    /// The year.
    pub year: i32,
    /// The 14 cities in code order.
    pub cities: Vec<Score>,
    /// The province as a whole.
    pub province: Score,
}

fn rate_score(rate: Rate, points: fn(Rate) -> u8) -> RateScore {
    RateScore {
        numerator: rate.numerator,
        denominator: rate.denominator,
        percent: rate.percent(),
        points: points(rate),
    }
}

fn cert_key(t: &str, n: &str) -> String {
    format!("{t}/{n}")
}

/// Whether a device enrolled in `device` may check certificates of `cert`:
/// the province's devices everywhere, a city's (or county's) in its city.
fn in_region(device: DivisionCode, cert: DivisionCode) -> bool {
    device.is_province() || device.city() == cert.city()
}

/// The position in `certs` of the certificate a provable check proves, or
/// why the check does not count.
fn check_problem(
    c: &EvalCheck,
    by_key: &HashMap<String, usize>,
    certs: &[EvalCert],
) -> Result<usize, (&'static str, String)> {
    if !c.signature {
        return Err((
            "signature_not_verified",
            format!(
                "the province's signature did not verify ({})",
                c.reason.as_deref().unwrap_or("unreadable")
            ),
        ));
    }
    if c.presented && !c.presentation {
        return Err((
            "presentation_not_verified",
            format!(
                "the holder's presentation did not verify ({})",
                c.reason.as_deref().unwrap_or("holder binding")
            ),
        ));
    }
    let Some((t, n)) = &c.cert else {
        return Err(("unknown_certificate", "no certificate derived".into()));
    };
    let Some((pos, cert)) = by_key
        .get(&cert_key(t, n))
        .and_then(|&i| certs.get(i).map(|c| (i, c)))
    else {
        return Err((
            "unknown_certificate",
            "the certificate is not in the register".into(),
        ));
    };
    if !in_region(c.device_division, cert.division) {
        return Err((
            "out_of_region",
            format!(
                "device enrolled in {} checked a certificate of {}",
                c.device_division.code(),
                cert.division.code()
            ),
        ));
    }
    Ok(pos)
}

/// What the year's checks prove, per certificate: computed once for all
/// units.
struct Index {
    /// Every certificate's position in `Data::certs` by `TYPE/number`.
    by_key: HashMap<String, usize>,
    /// Per certificate (same positions): its first provable check's time
    /// and how many provable checks it had.
    checked: Vec<Option<(i64, u64)>>,
    /// The checks that do not count (position in `Data::checks`) and why.
    problems: Vec<(usize, &'static str, String)>,
}

impl Index {
    fn new(data: &Data) -> Index {
        let by_key: HashMap<String, usize> = data
            .certs
            .iter()
            .enumerate()
            .map(|(i, c)| (cert_key(&c.cert_type, &c.number), i))
            .collect();
        let mut checked: Vec<Option<(i64, u64)>> = vec![None; data.certs.len()];
        let mut problems = Vec::new();
        for (i, c) in data.checks.iter().enumerate() {
            let pos = match check_problem(c, &by_key, &data.certs) {
                Ok(pos) => pos,
                Err((kind, detail)) => {
                    problems.push((i, kind, detail));
                    continue;
                }
            };
            if let Some(slot) = checked.get_mut(pos) {
                let e = slot.get_or_insert((c.at, 0));
                e.0 = e.0.min(c.at);
                e.1 += 1;
            }
        }
        Index {
            by_key,
            checked,
            problems,
        }
    }
}

/// Counts for one unit (a city, or the province with `unit` always true).
struct Counter<'a, F: Fn(DivisionCode) -> bool> {
    data: &'a Data,
    year: i32,
    unit: F,
    index: &'a Index,
    /// The unit's certificates with what their checks prove.
    mine: Vec<(&'a EvalCert, Option<(i64, u64)>)>,
}

impl<'a, F: Fn(DivisionCode) -> bool> Counter<'a, F> {
    fn new(data: &'a Data, year: i32, unit: F, index: &'a Index) -> Self {
        let mine = data
            .certs
            .iter()
            .zip(&index.checked)
            .filter(|(c, _)| unit(c.division))
            .map(|(c, checked)| (c, *checked))
            .collect();
        Counter {
            data,
            year,
            unit,
            index,
            mine,
        }
    }

    fn issuance(&self, cutoff: i64) -> (Rate, u64, u64) {
        let n = self
            .mine
            .iter()
            .filter(|(c, _)| c.status == 0 && c.first_issued_at < cutoff)
            .count() as u64;
        // A record on a correction list that also has a valid e-certificate
        // of the unit counts once (in both).
        let open: HashSet<(&str, &str)> = self
            .data
            .corrections
            .iter()
            .filter(|c| (self.unit)(c.agency) && c.first_seen < cutoff)
            .filter(|c| {
                !self
                    .index
                    .by_key
                    .get(&cert_key(&c.cert_type, &c.number))
                    .and_then(|&i| self.data.certs.get(i))
                    .is_some_and(|e| {
                        (self.unit)(e.division) && e.status == 0 && e.first_issued_at < cutoff
                    })
            })
            .map(|c| (c.cert_type.as_str(), c.number.as_str()))
            .collect();
        let declared: u64 = self
            .data
            .declared
            .iter()
            .filter(|d| (self.unit)(d.division))
            .map(|d| d.count)
            .sum();
        let open = open.len() as u64;
        (Rate::new(n, n + open + declared), open, declared)
    }

    fn activation(&self, cutoff: i64) -> (Rate, u64) {
        let start = month_start(self.year, 1);
        let (mut issued, mut activated, mut provable) = (0u64, 0u64, 0u64);
        for (c, checked) in &self.mine {
            if c.first_issued_at < start || c.first_issued_at >= cutoff {
                continue;
            }
            issued += 1;
            if let Some((first, count)) = checked {
                if *first < cutoff {
                    activated += 1;
                    provable += count;
                }
            }
        }
        (Rate::new(activated, issued), provable)
    }

    fn training(&self) -> Training {
        let rows: Vec<&TrainingRow> = self
            .data
            .training
            .iter()
            .filter(|t| (self.unit)(t.division))
            .collect();
        let coverage = rows
            .iter()
            .filter(|t| !t.evidence.is_empty())
            .filter_map(|t| Coverage::parse(&t.coverage))
            .max();
        Training {
            coverage,
            points: score::training_points(coverage),
            records: rows
                .into_iter()
                .map(|t| TrainingView {
                    id: t.id,
                    division: t.division.code(),
                    coverage: t.coverage.clone(),
                    description: t.description.clone(),
                    evidence: t.evidence.clone(),
                })
                .collect(),
        }
    }

    fn incidents(&self) -> Vec<Event> {
        let mut out = Vec::new();
        for r in &self.data.refusals {
            if !(self.unit)(r.device_division) {
                continue;
            }
            let Some(check) = &r.check else { continue };
            // A valid e-certificate: it verified, nothing was wrong short
            // of status, and its status is valid.
            let shown_valid = check.signature
                && (!check.presented || check.presentation)
                && check.reason.is_none()
                && r.cert_status == Some(0);
            if !shown_valid {
                continue;
            }
            out.push(Event {
                kind: "refusal".into(),
                at: r.at,
                division: r.device_division.code(),
                device_id: Some(r.device_id),
                seq: Some(r.seq),
                certificate: check.cert.as_ref().map(|(t, n)| cert_key(t, n)),
                detail: format!(
                    "valid e-certificate refused (check seq {}){}",
                    check.seq,
                    r.note
                        .as_deref()
                        .map(|n| format!(": {n}"))
                        .unwrap_or_default()
                ),
            });
        }
        for c in &self.data.complaints {
            if c.upheld && (self.unit)(c.division) {
                out.push(Event {
                    kind: "upheld_complaint".into(),
                    at: c.entered_at,
                    division: c.division.code(),
                    device_id: None,
                    seq: None,
                    certificate: None,
                    detail: c.description.clone(),
                });
            }
        }
        out
    }

    fn anomalies(&self) -> Vec<Event> {
        let mut out = Vec::new();
        for (i, kind, detail) in &self.index.problems {
            let Some(c) = self.data.checks.get(*i) else {
                continue;
            };
            // Listed for the device's city and the certificate's.
            let cert_unit = c.cert_division.is_some_and(|d| (self.unit)(d));
            if !(self.unit)(c.device_division) && !cert_unit {
                continue;
            }
            out.push(Event {
                kind: (*kind).into(),
                at: c.at,
                division: c.device_division.code(),
                device_id: Some(c.device_id),
                seq: Some(c.seq),
                certificate: c.cert.as_ref().map(|(t, n)| cert_key(t, n)),
                detail: detail.clone(),
            });
        }
        for r in &self.data.rejected {
            let division = r.division.unwrap_or(DivisionCode::PROVINCE);
            if (self.unit)(division) {
                out.push(Event {
                    kind: "rejected_upload".into(),
                    at: r.ts,
                    division: division.code(),
                    device_id: None,
                    seq: None,
                    certificate: None,
                    detail: format!("{}: {}", r.outcome, r.target),
                });
            }
        }
        out
    }

    fn score(&self, division: DivisionCode) -> Score {
        let end = month_start(self.year, 13);
        let (issuance, open, declared) = self.issuance(end);
        let (activation, provable) = self.activation(end);
        let training = self.training();
        let incidents = self.incidents();
        let display = Display {
            points: score::display_points(incidents.len()),
            incidents,
        };
        let issuance = Issuance {
            rate: rate_score(issuance, score::issuance_points),
            open_corrections: open,
            declared_uncollected: declared,
        };
        let activation = Activation {
            rate: rate_score(activation, score::activation_points),
            provable_checks: provable,
        };
        let monthly = (1..=12u8)
            .map(|m| {
                let cutoff = month_start(self.year, m + 1);
                MonthRates {
                    month: m,
                    issuance_percent: self.issuance(cutoff).0.percent(),
                    activation_percent: self.activation(cutoff).0.percent(),
                }
            })
            .collect();
        Score {
            division: division.code(),
            name: division.name_zh().into(),
            total: issuance.rate.points + activation.rate.points + training.points + display.points,
            issuance,
            activation,
            training,
            display,
            anomalies: self.anomalies(),
            monthly,
        }
    }
}

/// Computes the year's evaluation from its data.
pub fn evaluate(data: &Data, year: i32) -> Evaluation {
    let index = Index::new(data);
    let cities = LIAONING_CITIES
        .iter()
        .map(|&city| {
            Counter::new(
                data,
                year,
                move |d: DivisionCode| !d.is_province() && d.city() == city,
                &index,
            )
            .score(city)
        })
        .collect();
    let province =
        Counter::new(data, year, |_: DivisionCode| true, &index).score(DivisionCode::PROVINCE);
    Evaluation {
        year,
        cities,
        province,
    }
}

/// The CSV header.
pub const CSV_HEADER: [&str; 16] = [
    "division",
    "name",
    "issuance_numerator",
    "issuance_denominator",
    "issuance_percent",
    "issuance_points",
    "activation_numerator",
    "activation_denominator",
    "activation_percent",
    "activation_points",
    "training_coverage",
    "training_points",
    "display_incidents",
    "display_points",
    "total",
    "anomalies",
];

fn csv_row(s: &Score) -> Vec<String> {
    let pct = |p: Option<f64>| p.map_or_else(String::new, |p| format!("{p:.2}"));
    vec![
        s.division.to_string(),
        s.name.clone(),
        s.issuance.rate.numerator.to_string(),
        s.issuance.rate.denominator.to_string(),
        pct(s.issuance.rate.percent),
        s.issuance.rate.points.to_string(),
        s.activation.rate.numerator.to_string(),
        s.activation.rate.denominator.to_string(),
        pct(s.activation.rate.percent),
        s.activation.rate.points.to_string(),
        s.training
            .coverage
            .map_or_else(String::new, |c| c.as_str().into()),
        s.training.points.to_string(),
        s.display.incidents.len().to_string(),
        s.display.points.to_string(),
        s.total.to_string(),
        s.anomalies.len().to_string(),
    ]
}

/// The evaluation as CSV: a header, one row per city, the province last.
pub fn to_csv(e: &Evaluation) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEADER)?;
    for s in e.cities.iter().chain(std::iter::once(&e.province)) {
        w.write_record(csv_row(s))?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// The evaluation as a plain-text table (`admin evaluate`).
pub fn to_table(e: &Evaluation) -> String {
    let mut out = format!(
        "Evaluation {}\n{:<8} {:<8} {:>16} {:>4} {:>16} {:>4} {:>9} {:>4} {:>9} {:>4} {:>5} {:>9}\n",
        e.year,
        "division",
        "name",
        "issuance",
        "pts",
        "activation",
        "pts",
        "training",
        "pts",
        "incidents",
        "pts",
        "total",
        "anomalies"
    );
    let mut per_city: BTreeMap<u32, &Score> = BTreeMap::new();
    for s in &e.cities {
        per_city.insert(s.division, s);
    }
    for s in per_city
        .values()
        .copied()
        .chain(std::iter::once(&e.province))
    {
        let frac = |r: &RateScore| format!("{}/{}", r.numerator, r.denominator);
        out.push_str(&format!(
            "{:<8} {:<8} {:>16} {:>4} {:>16} {:>4} {:>9} {:>4} {:>9} {:>4} {:>5} {:>9}\n",
            s.division,
            s.name,
            frac(&s.issuance.rate),
            s.issuance.rate.points,
            frac(&s.activation.rate),
            s.activation.rate.points,
            s.training.coverage.map_or("-", Coverage::as_str),
            s.training.points,
            s.display.incidents.len(),
            s.display.points,
            s.total,
            s.anomalies.len()
        ));
    }
    out
}
