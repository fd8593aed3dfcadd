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

use shared::domain::{DivisionCode, LIAONING_CITIES};

use data::{
    ComplaintRow, DeclaredRow, EvalBatch, EvalCert, EvalCheck, EvalCorrection, EvalDevice,
    EvalRefusal, EvalRejectedUpload, TrainingRow,
};
use score::{Coverage, Rate};

/// Years the evaluation answers for.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2999;

pub use shared::cst::month_start;

/// Everything the evaluation of one year reads, loaded in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Data {
    /// The province evaluated (its cities are the units), the data
    /// directory's: `None` is Liaoning.
    pub province: Option<DivisionCode>,
    /// Every certificate.
    pub certs: Vec<EvalCert>,
    /// Records still on a correction list.
    pub corrections: Vec<EvalCorrection>,
    /// Check records dated in the year or uploaded in it.
    pub checks: Vec<EvalCheck>,
    /// Every uploaded batch (bounds record times).
    pub batches: Vec<EvalBatch>,
    /// Every enrolled device (devices per token).
    pub devices: Vec<EvalDevice>,
    /// The server's status list sequence now, if it has one.
    pub status_seq: Option<u64>,
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

pub use shared::api::{
    Activation, Display, Evaluation, Event, Issuance, MonthRates, RateScore, Score, Training,
    TrainingView,
};

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

/// Seconds a device's clock may be off from the server's: a record may be
/// dated this much after its batch arrived, or before a lower bound.
pub const CLOCK_SKEW: i64 = 300;
/// A batch bounds the time of the device's later records only when it
/// arrived at least this long before the batch carrying them (an upload
/// session sends a backlog in several batches within minutes).
pub const SESSION_GAP: i64 = 3_600;
/// A burst: at least this many checks by one device ...
pub const BURST_CHECKS: usize = 100;
/// ... within this many seconds (one check every 6 s); its checks do not count.
pub const BURST_SECONDS: i64 = 600;
/// Outside working hours (22:00–06:00 China Standard Time), at least this
/// many checks by one device ...
pub const NIGHT_CHECKS: usize = 20;
/// ... within this many seconds are listed (they still count).
pub const NIGHT_SECONDS: i64 = 3_600;
/// A token with more devices than this (ever enrolled) is listed.
pub const MANY_DEVICES: usize = 3;

/// The kind of evidence a counted check carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Evidence {
    /// A holder presentation signed by the holder's device within its
    /// window: counts wherever it was checked.
    Live,
    /// A static certificate QR checked by a device of another city or of
    /// the province: evidence the issuing city cannot produce alone.
    Independent,
}

/// What a check proves.
enum Outcome {
    /// It counts for the certificate at this position.
    Counts(usize, Evidence),
    /// A static QR checked by a device of the certificate's own city: not
    /// an anomaly, but not evidence the city could not produce alone.
    Uncorroborated(usize),
    /// It does not count, and why.
    Anomaly(&'static str, String),
}

/// The interval the server knows a record was made in, from what it saw
/// itself: the device's enrollment, the arrival of the device's earlier
/// batches, the certificate's first signature and the status list the
/// device had synced (lower); the batch's arrival (upper).
fn time_bounds(
    c: &EvalCheck,
    cert: &EvalCert,
    prev_arrival: Option<i64>,
) -> (i64, i64, &'static str) {
    let mut lower = (c.enrolled_at, "the device's enrollment");
    for (t, what) in [
        (prev_arrival, "an earlier batch of the device"),
        (
            Some(cert.first_issued_at),
            "the certificate's first signature",
        ),
        (c.status_signed_at, "the status list the device had synced"),
    ] {
        if let Some(t) = t.filter(|&t| t > lower.0) {
            lower = (t, what);
        }
    }
    (lower.0, c.received_at, lower.1)
}

/// What check `c` proves; `prev_arrival` is the arrival of the device's
/// last batch that bounds it (see [`SESSION_GAP`]), `status_now` the
/// server's status list sequence.
fn check_outcome(
    c: &EvalCheck,
    by_key: &HashMap<String, usize>,
    certs: &[EvalCert],
    prev_arrival: Option<i64>,
    status_now: Option<u64>,
) -> Outcome {
    if let Some(at) = c.revoked_at {
        return Outcome::Anomaly(
            "revoked_device",
            format!("the device was revoked at {}; none of its checks count", at),
        );
    }
    if !c.signature {
        return Outcome::Anomaly(
            "signature_not_verified",
            format!(
                "the province's signature did not verify ({})",
                c.reason.as_deref().unwrap_or("unreadable")
            ),
        );
    }
    if c.presented && !c.presentation {
        return Outcome::Anomaly(
            "presentation_not_verified",
            format!(
                "the holder's presentation did not verify ({})",
                c.reason.as_deref().unwrap_or("holder binding")
            ),
        );
    }
    if !c.presented && c.reason.as_deref() == Some("presentation_required") {
        return Outcome::Anomaly(
            "presentation_required",
            "a holder-bound certificate shown as a static QR (a copy, not the holder's phone)"
                .into(),
        );
    }
    let Some((t, n)) = &c.cert else {
        return Outcome::Anomaly("unknown_certificate", "no certificate derived".into());
    };
    let Some((pos, cert)) = by_key
        .get(&cert_key(t, n))
        .and_then(|&i| certs.get(i).map(|c| (i, c)))
    else {
        return Outcome::Anomaly(
            "unknown_certificate",
            "the certificate is not in the register".into(),
        );
    };
    if let (Some(seq), Some(now)) = (c.status_seq, status_now) {
        if seq > now {
            return Outcome::Anomaly(
                "time_out_of_bounds",
                format!("the device claims status list {seq}; the server has signed up to {now}"),
            );
        }
    }
    let (lower, upper, why) = time_bounds(c, cert, prev_arrival);
    if c.at < lower - CLOCK_SKEW {
        return Outcome::Anomaly(
            "time_out_of_bounds",
            format!(
                "dated {} ({}), before {why} at {lower}",
                c.at,
                shared::cst::datetime_text(c.at)
            ),
        );
    }
    if c.at > upper + CLOCK_SKEW {
        return Outcome::Anomaly(
            "time_out_of_bounds",
            format!(
                "dated {} ({}), after its batch arrived at {upper}",
                c.at,
                shared::cst::datetime_text(c.at)
            ),
        );
    }
    if c.presented {
        return Outcome::Counts(pos, Evidence::Live);
    }
    if c.device_division.is_province() || c.device_division.city() != cert.division.city() {
        Outcome::Counts(pos, Evidence::Independent)
    } else {
        Outcome::Uncorroborated(pos)
    }
}

/// The arrival of the batch that bounds each batch's records from below:
/// the device's last batch that arrived at least [`SESSION_GAP`] earlier.
fn batch_lower_bounds(batches: &[EvalBatch]) -> HashMap<i64, i64> {
    let mut by_device: HashMap<i64, Vec<&EvalBatch>> = HashMap::new();
    for b in batches {
        by_device.entry(b.device_id).or_default().push(b);
    }
    let mut out = HashMap::new();
    for list in by_device.values_mut() {
        list.sort_by_key(|b| b.id);
        let mut best: Option<i64> = None;
        let mut j = 0;
        for b in list.iter() {
            // Batches arrive in id order per device; advance over those at
            // least SESSION_GAP older than this one.
            while let Some(e) = list.get(j) {
                if e.id < b.id && e.received_at <= b.received_at - SESSION_GAP {
                    best = Some(best.map_or(e.received_at, |x: i64| x.max(e.received_at)));
                    j += 1;
                } else {
                    break;
                }
            }
            if let Some(t) = best {
                out.insert(b.id, t);
            }
        }
    }
    out
}

/// China Standard Time hour of `at`.
fn cst_hour(at: i64) -> i64 {
    (at + shared::cst::OFFSET_SECONDS).rem_euclid(shared::cst::DAY_SECONDS) / 3_600
}

/// Runs of at least `min` items within `seconds` in `times` (sorted):
/// each run as (first index, last index).
fn runs(times: &[i64], min: usize, seconds: i64) -> Vec<(usize, usize)> {
    let mut marked = vec![false; times.len()];
    let mut j = 0;
    for i in 0..times.len() {
        if j < i {
            j = i;
        }
        while j < times.len() && times[j] - times[i] < seconds {
            j += 1;
        }
        if j - i >= min {
            for m in marked.iter_mut().take(j).skip(i) {
                *m = true;
            }
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < marked.len() {
        if marked[i] {
            let s = i;
            while i + 1 < marked.len() && marked[i + 1] && times[i + 1] - times[i] < seconds {
                i += 1;
            }
            out.push((s, i));
        }
        i += 1;
    }
    out
}

/// A listed pattern (not one record).
struct Pattern {
    kind: &'static str,
    at: i64,
    device_id: Option<i64>,
    division: DivisionCode,
    /// Issuing divisions of the certificates involved.
    cert_divisions: Vec<DivisionCode>,
    detail: String,
}

/// What the year's checks prove, per certificate: computed once for all
/// units.
struct Index {
    /// Every certificate's position in `Data::certs` by `TYPE/number`.
    by_key: HashMap<String, usize>,
    /// Per certificate (same positions): its first provable check's time
    /// and how many provable checks it had.
    checked: Vec<Option<(i64, u64)>>,
    /// Per certificate: how many of its checks of the year were live
    /// presentations, and how many static checks by its own city's devices
    /// (not counted).
    live: Vec<u64>,
    uncorroborated: Vec<u64>,
    /// The checks that do not count (position in `Data::checks`) and why.
    problems: Vec<(usize, &'static str, String)>,
    /// Suspicious patterns.
    patterns: Vec<Pattern>,
}

impl Index {
    fn new(data: &Data, year: i32) -> Index {
        let (start, end) = (month_start(year, 1), month_start(year, 13));
        let by_key: HashMap<String, usize> = data
            .certs
            .iter()
            .enumerate()
            .map(|(i, c)| (cert_key(&c.cert_type, &c.number), i))
            .collect();
        let bounds = batch_lower_bounds(&data.batches);
        let mut outcomes: Vec<Outcome> = data
            .checks
            .iter()
            .map(|c| {
                check_outcome(
                    c,
                    &by_key,
                    &data.certs,
                    bounds.get(&c.batch_id).copied(),
                    data.status_seq,
                )
            })
            .collect();
        let mut patterns = Vec::new();
        // Bursts by one device: too many checks too fast to be roadside
        // checks. Their checks do not count; outside working hours a
        // smaller run is listed only.
        let mut per_device: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (i, c) in data.checks.iter().enumerate() {
            if c.signature && c.revoked_at.is_none() {
                per_device.entry(c.device_id).or_default().push(i);
            }
        }
        for (device, mut idx) in per_device {
            idx.sort_by_key(|&i| data.checks[i].at);
            let times: Vec<i64> = idx.iter().map(|&i| data.checks[i].at).collect();
            let division = data.checks[idx[0]].device_division;
            let divisions = |a: usize, b: usize| -> Vec<DivisionCode> {
                let mut d: Vec<DivisionCode> = idx[a..=b]
                    .iter()
                    .filter_map(|&i| data.checks[i].cert_division)
                    .collect();
                d.sort_by_key(|d| d.code());
                d.dedup();
                d
            };
            for (a, b) in runs(&times, BURST_CHECKS, BURST_SECONDS) {
                for &i in &idx[a..=b] {
                    if let Some(o) = outcomes.get_mut(i) {
                        if matches!(o, Outcome::Counts(..) | Outcome::Uncorroborated(_)) {
                            *o = Outcome::Anomaly(
                                "burst",
                                "part of a burst of checks by one device".into(),
                            );
                        }
                    }
                }
                patterns.push(Pattern {
                    kind: "burst",
                    at: times[a],
                    device_id: Some(device),
                    division,
                    cert_divisions: divisions(a, b),
                    detail: format!(
                        "{} checks by device {device} between {} and {} (at least {BURST_CHECKS} within {BURST_SECONDS} s); none counts",
                        b - a + 1,
                        shared::cst::datetime_text(times[a]),
                        shared::cst::datetime_text(times[b])
                    ),
                });
            }
            let night: Vec<usize> = (0..times.len())
                .filter(|&k| {
                    let h = cst_hour(times[k]);
                    !(6..22).contains(&h)
                })
                .collect();
            let night_times: Vec<i64> = night.iter().map(|&k| times[k]).collect();
            for (a, b) in runs(&night_times, NIGHT_CHECKS, NIGHT_SECONDS) {
                patterns.push(Pattern {
                    kind: "off_hours_burst",
                    at: night_times[a],
                    device_id: Some(device),
                    division,
                    cert_divisions: divisions(night[a], night[b]),
                    detail: format!(
                        "{} checks by device {device} between {} and {}, outside working hours (22:00–06:00)",
                        b - a + 1,
                        shared::cst::datetime_text(night_times[a]),
                        shared::cst::datetime_text(night_times[b])
                    ),
                });
            }
        }
        // Tokens with many devices.
        let mut per_token: BTreeMap<i64, Vec<&EvalDevice>> = BTreeMap::new();
        for d in &data.devices {
            per_token.entry(d.token_id).or_default().push(d);
        }
        for (token, ds) in per_token {
            if ds.len() > MANY_DEVICES {
                let last = ds.iter().map(|d| d.enrolled_at).max().unwrap_or(0);
                if last >= start && last < end {
                    let active = ds.iter().filter(|d| d.revoked_at.is_none()).count();
                    patterns.push(Pattern {
                        kind: "many_devices",
                        at: last,
                        device_id: None,
                        division: ds[0].division,
                        cert_divisions: Vec::new(),
                        detail: format!(
                            "officer token {token} has enrolled {} devices ({active} active)",
                            ds.len()
                        ),
                    });
                }
            }
        }
        let n = data.certs.len();
        let mut checked: Vec<Option<(i64, u64)>> = vec![None; n];
        let (mut live, mut uncorroborated) = (vec![0u64; n], vec![0u64; n]);
        let mut problems = Vec::new();
        for (i, (c, o)) in data.checks.iter().zip(outcomes).enumerate() {
            let in_year = c.at >= start && c.at < end;
            match o {
                // A burst is listed once, as a pattern.
                Outcome::Anomaly("burst", _) => {}
                Outcome::Anomaly(kind, detail) => {
                    // Listed in the year it was dated in or arrived in.
                    problems.push((i, kind, detail));
                }
                Outcome::Uncorroborated(pos) if in_year => {
                    if let Some(u) = uncorroborated.get_mut(pos) {
                        *u += 1;
                    }
                }
                Outcome::Counts(pos, evidence) if in_year => {
                    if let Some(slot) = checked.get_mut(pos) {
                        let e = slot.get_or_insert((c.at, 0));
                        e.0 = e.0.min(c.at);
                        e.1 += 1;
                    }
                    if evidence == Evidence::Live {
                        if let Some(l) = live.get_mut(pos) {
                            *l += 1;
                        }
                    }
                }
                Outcome::Counts(..) | Outcome::Uncorroborated(_) => {}
            }
        }
        Index {
            by_key,
            checked,
            live,
            uncorroborated,
            problems,
            patterns,
        }
    }
}

/// Counts for one unit (a city, or the province with `unit` always true).
struct Counter<'a, F: Fn(DivisionCode) -> bool> {
    data: &'a Data,
    year: i32,
    unit: F,
    index: &'a Index,
    /// The unit's certificates with what their checks prove (first
    /// provable check and count, live presentations, uncorroborated).
    mine: Vec<Mine<'a>>,
}

/// A unit's certificate: its first provable check and their count, its
/// live presentations, its uncorroborated static checks.
type Mine<'a> = (&'a EvalCert, Option<(i64, u64)>, u64, u64);

impl<'a, F: Fn(DivisionCode) -> bool> Counter<'a, F> {
    fn new(data: &'a Data, year: i32, unit: F, index: &'a Index) -> Self {
        let mine = data
            .certs
            .iter()
            .zip(&index.checked)
            .zip(index.live.iter().zip(&index.uncorroborated))
            .filter(|((c, _), _)| unit(c.division))
            .map(|((c, checked), (live, unc))| (c, *checked, *live, *unc))
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
            .filter(|(c, ..)| c.status == 0 && c.first_issued_at < cutoff)
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

    /// The activation rate at `cutoff`, the provable checks, the live
    /// ones among them and the uncorroborated static checks.
    fn activation(&self, cutoff: i64) -> (Rate, u64, u64, u64) {
        let start = month_start(self.year, 1);
        let (mut issued, mut activated, mut provable) = (0u64, 0u64, 0u64);
        let (mut live, mut unc) = (0u64, 0u64);
        for (c, checked, l, u) in &self.mine {
            if c.first_issued_at < start || c.first_issued_at >= cutoff {
                continue;
            }
            issued += 1;
            unc += u;
            if let Some((first, count)) = checked {
                if *first < cutoff {
                    activated += 1;
                    provable += count;
                    live += l;
                }
            }
        }
        (Rate::new(activated, issued), provable, live, unc)
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
                at_cst: shared::cst::rfc3339(r.at),
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
                    at_cst: shared::cst::rfc3339(c.entered_at),
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
                at_cst: shared::cst::rfc3339(c.at),
                division: c.device_division.code(),
                device_id: Some(c.device_id),
                seq: Some(c.seq),
                certificate: c.cert.as_ref().map(|(t, n)| cert_key(t, n)),
                detail: detail.clone(),
            });
        }
        for p in &self.index.patterns {
            if !(self.unit)(p.division) && !p.cert_divisions.iter().any(|&d| (self.unit)(d)) {
                continue;
            }
            out.push(Event {
                kind: p.kind.into(),
                at: p.at,
                at_cst: shared::cst::rfc3339(p.at),
                division: p.division.code(),
                device_id: p.device_id,
                seq: None,
                certificate: None,
                detail: p.detail.clone(),
            });
        }
        for r in &self.data.rejected {
            let division = r.division.unwrap_or(self.data.province());
            if (self.unit)(division) {
                out.push(Event {
                    kind: if r.action == "POST /api/v1/devices" {
                        "refused_enrollment"
                    } else {
                        "rejected_upload"
                    }
                    .into(),
                    at: r.ts,
                    at_cst: shared::cst::rfc3339(r.ts),
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
        let (activation, provable, live, uncorroborated) = self.activation(end);
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
            live_presentations: live,
            uncorroborated_checks: uncorroborated,
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

impl Data {
    /// The province evaluated.
    pub fn province(&self) -> DivisionCode {
        self.province.unwrap_or(DivisionCode::PROVINCE)
    }

    /// Its cities (the units), from its shipped data.
    pub fn cities(&self) -> Vec<DivisionCode> {
        self.province()
            .jurisdiction()
            .map_or_else(|| LIAONING_CITIES.to_vec(), |j| j.cities())
    }
}

/// Computes the year's evaluation from its data.
pub fn evaluate(data: &Data, year: i32) -> Evaluation {
    let index = Index::new(data, year);
    let cities = data
        .cities()
        .into_iter()
        .map(|city| {
            Counter::new(
                data,
                year,
                move |d: DivisionCode| !d.is_province() && d.city() == city,
                &index,
            )
            .score(city)
        })
        .collect();
    let province = Counter::new(data, year, |_: DivisionCode| true, &index).score(data.province());
    Evaluation {
        year,
        cities,
        province,
    }
}

/// Fills `Event::at_cst` where it is empty (evaluations stored before the
/// field was added).
pub fn fill_times(e: &mut Evaluation) {
    for s in e.cities.iter_mut().chain(std::iter::once(&mut e.province)) {
        for ev in s.display.incidents.iter_mut().chain(s.anomalies.iter_mut()) {
            if ev.at_cst.is_empty() {
                ev.at_cst = shared::cst::rfc3339(ev.at);
            }
        }
    }
}

/// The data of one certificate type: its certificates, correction-list
/// records, checks, refusals and declared counts; the rest as is, without
/// refused uploads (they name no type).
fn of_type(data: &Data, t: &str) -> Data {
    let is = |c: &Option<(String, String)>| c.as_ref().is_some_and(|(ct, _)| ct == t);
    Data {
        province: data.province,
        certs: data
            .certs
            .iter()
            .filter(|c| c.cert_type == t)
            .cloned()
            .collect(),
        corrections: data
            .corrections
            .iter()
            .filter(|c| c.cert_type == t)
            .cloned()
            .collect(),
        checks: data
            .checks
            .iter()
            .filter(|c| is(&c.cert))
            .cloned()
            .collect(),
        batches: data.batches.clone(),
        devices: data.devices.clone(),
        status_seq: data.status_seq,
        refusals: data
            .refusals
            .iter()
            .filter(|r| r.check.as_ref().is_some_and(|c| is(&c.cert)))
            .cloned()
            .collect(),
        rejected: Vec::new(),
        training: data.training.clone(),
        declared: data
            .declared
            .iter()
            .filter(|d| d.cert_type == t)
            .cloned()
            .collect(),
        complaints: data.complaints.clone(),
    }
}

/// The score of one unit, by the same rules as [`evaluate`]: the province,
/// a city (with its counties) or one county (issuing division), of every
/// type or of one certificate type; with `only_itself`, a city without its
/// counties (the city's own issuing division, 市本级).
pub fn evaluate_unit(
    data: &Data,
    year: i32,
    unit: DivisionCode,
    only_itself: bool,
    cert_type: Option<shared::domain::CertType>,
) -> Score {
    let filtered;
    let data = match cert_type {
        Some(t) => {
            filtered = of_type(data, t.code());
            &filtered
        }
        None => data,
    };
    let index = Index::new(data, year);
    let in_unit = move |d: DivisionCode| {
        if only_itself {
            d == unit
        } else if unit.is_province() {
            true
        } else if unit.is_city() {
            !d.is_province() && d.city() == unit
        } else {
            d == unit
        }
    };
    Counter::new(data, year, in_unit, &index).score(unit)
}

/// The parts a unit drills down into: the 14 cities of the province; the
/// issuing divisions (the city itself and its counties) of a city's
/// certificates and correction-list records; nothing below a county.
pub fn parts_of(data: &Data, unit: DivisionCode) -> Vec<DivisionCode> {
    if unit.is_province() {
        return data.cities();
    }
    if unit.is_county() {
        return Vec::new();
    }
    let mut seen: std::collections::BTreeSet<u32> = data
        .certs
        .iter()
        .map(|c| c.division)
        .chain(data.corrections.iter().map(|c| c.agency))
        .filter(|d| !d.is_province() && d.city() == unit)
        .map(DivisionCode::code)
        .collect();
    seen.insert(unit.code());
    seen.into_iter()
        .filter_map(|c| DivisionCode::from_u32(c).ok())
        .collect()
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

/// The evaluation as CSV ([`shared::csvexport`]: UTF-8 byte-order mark,
/// formula cells neutralised): a header, one row per city, the province
/// last.
pub fn to_csv(e: &Evaluation) -> anyhow::Result<String> {
    let rows = e
        .cities
        .iter()
        .chain(std::iter::once(&e.province))
        .map(csv_row);
    let bytes = shared::csvexport::to_bytes(CSV_HEADER.map(String::from), rows)?;
    Ok(String::from_utf8(bytes)?)
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn runs_mark_every_dense_window() {
        // 5 within 10 s, then a gap, then 2.
        let t = [0, 2, 4, 6, 8, 100, 101];
        assert_eq!(runs(&t, 5, 10), vec![(0, 4)]);
        assert_eq!(runs(&t, 6, 10), Vec::<(usize, usize)>::new());
        assert_eq!(runs(&t, 2, 10), vec![(0, 4), (5, 6)]);
        assert!(runs(&[], 1, 10).is_empty());
    }

    #[test]
    fn a_batch_is_bounded_by_the_devices_batches_an_hour_older() {
        let b = |id, device_id, received_at| EvalBatch {
            id,
            device_id,
            received_at,
        };
        let bounds = batch_lower_bounds(&[
            b(1, 7, 1_000),
            // The same session: not a bound for each other.
            b(2, 7, 1_060),
            // An hour after the first two: both bound it.
            b(3, 7, 1_060 + SESSION_GAP),
            // Another device's batches never bound this one's.
            b(4, 8, 99_999),
            b(5, 7, 1_060 + 2 * SESSION_GAP),
        ]);
        assert_eq!(bounds.get(&1), None);
        assert_eq!(bounds.get(&2), None);
        assert_eq!(bounds.get(&3), Some(&1_060));
        assert_eq!(bounds.get(&4), None);
        assert_eq!(bounds.get(&5), Some(&(1_060 + SESSION_GAP)));
    }

    #[test]
    fn each_bound_refuses_what_falls_outside_it() {
        let city = DivisionCode::from_u32(210100).unwrap();
        let other = DivisionCode::from_u32(210200).unwrap();
        let cert = EvalCert {
            cert_type: "QC".into(),
            number: "N1".into(),
            division: city,
            status: 0,
            first_issued_at: 10_000,
        };
        let by_key = HashMap::from([(cert_key("QC", "N1"), 0usize)]);
        let check = |at: i64| EvalCheck {
            device_id: 1,
            seq: 0,
            at,
            device_division: other,
            signature: true,
            presented: false,
            presentation: false,
            cert: Some(("QC".into(), "N1".into())),
            cert_division: Some(city),
            reason: None,
            token_id: 1,
            enrolled_at: 20_000,
            revoked_at: None,
            batch_id: 1,
            received_at: 50_000,
            status_seq: Some(3),
            status_signed_at: Some(30_000),
        };
        let kind = |c: &EvalCheck, prev: Option<i64>, now: Option<u64>| match check_outcome(
            c,
            &by_key,
            std::slice::from_ref(&cert),
            prev,
            now,
        ) {
            Outcome::Counts(_, e) => format!("{e:?}"),
            Outcome::Uncorroborated(_) => "uncorroborated".into(),
            Outcome::Anomaly(k, _) => k.into(),
        };
        // Inside every bound (skew included): another city's device counts.
        assert_eq!(kind(&check(40_000), None, Some(3)), "Independent");
        assert_eq!(
            kind(&check(50_000 + CLOCK_SKEW), None, Some(3)),
            "Independent"
        );
        assert_eq!(
            kind(&check(30_000 - CLOCK_SKEW), None, Some(3)),
            "Independent"
        );
        // The status list the device synced, its batch's arrival, an earlier
        // batch, a list the server never signed.
        for (at, prev, now) in [
            (30_000 - CLOCK_SKEW - 1, None, Some(3)),
            (50_000 + CLOCK_SKEW + 1, None, Some(3)),
            (40_000, Some(45_000), Some(3)),
            (40_000, None, Some(2)),
        ] {
            assert_eq!(kind(&check(at), prev, now), "time_out_of_bounds", "{at}");
        }
        // The device's enrollment, then the certificate's signature.
        let mut c = check(15_000);
        c.status_signed_at = None;
        assert_eq!(kind(&c, None, None), "time_out_of_bounds");
        c.enrolled_at = 0;
        assert_eq!(kind(&c, None, None), "Independent");
        c.at = 9_000;
        assert_eq!(kind(&c, None, None), "time_out_of_bounds");
        // The city's own device: not counted, not an anomaly; live: counts.
        let mut own = check(40_000);
        own.device_division = DivisionCode::from_u32(210102).unwrap();
        assert_eq!(kind(&own, None, None), "uncorroborated");
        own.presented = true;
        own.presentation = true;
        assert_eq!(kind(&own, None, None), "Live");
        // A bound certificate's static copy; a revoked device.
        let mut copy = check(40_000);
        copy.reason = Some("presentation_required".into());
        assert_eq!(kind(&copy, None, None), "presentation_required");
        let mut revoked = check(40_000);
        revoked.revoked_at = Some(45_000);
        assert_eq!(kind(&revoked, None, None), "revoked_device");
    }
}
