//! The demo's year of evaluation data (`verifier-server demo`): officer
//! devices enrolled in several cities upload real signed check logs
//! (`shared::checklog`) through the same ingestion as the API
//! ([`logs::ingest`]), with dispositions (one refusal), and the
//! administrator's training records, declared counts and complaints. Each
//! city's certificates are checked on the road by a device of the next
//! city (static QR checks by another city's device count, see
//! `docs/evaluation.md`). One city (丹东, 210600) tries to inflate its
//! activation: forged QR texts, the same certificates checked again and
//! again, its own device checking the rest of its certificates, and
//! altered and gapped uploads. Those appear as anomalies or uncorroborated
//! checks and do not count.

use sha2::{Digest, Sha256};
use shared::checklog::{self, CertRef, ChainHead, Check, Disposition, Event, Sealed};
use shared::crypto::{Alg, SigningKey};
use shared::domain::{DivisionCode, LIAONING_CITIES};
use shared::qrtext;
use shared::status::Status;
use shared::verify::Verdict;

use crate::evaluation::data::{ComplaintRow, DeclaredRow, Evidence, TrainingRow};
use crate::service::action::Action;
use crate::service::auth::{self, Caller, Role};
use crate::service::logs;
use crate::state::AppState;

/// The city that tries to inflate its activation.
pub const INFLATING_CITY: u32 = 210600;

/// What was seeded.
#[derive(Debug, Clone, Default)]
pub struct SeedReport {
    /// Devices enrolled.
    pub devices: usize,
    /// Check records accepted.
    pub records: u64,
    /// Uploads refused (the inflating city's altered and gapped batches).
    pub refused: usize,
}

/// An officer device of the demo with its chain.
struct Device {
    caller: Caller,
    key: SigningKey,
    head: ChainHead,
    records: Vec<Sealed>,
}

impl Device {
    fn new(state: &AppState, division: u32, seed: u8, now: i64) -> anyhow::Result<Device> {
        let division = DivisionCode::from_u32(division)?;
        let subject = format!("demo officer device {}", division.code());
        let (_, token_id) =
            auth::create_token(state.store(), Role::Officer, Some(division), &subject, now)?;
        let caller = Caller {
            client_addr: None,
            token_id,
            role: Role::Officer,
            division: Some(division),
            province: DivisionCode::PROVINCE,
            subject,
        };
        let key = SigningKey::from_secret_bytes(Alg::EdDSA, &[seed; 32])?;
        crate::service::devices::enroll(
            state.store(),
            &caller,
            &key.public_key(),
            "demo patrol",
            now,
            state.limits().max_devices_per_token,
        )
        .map_err(|e| anyhow::anyhow!("enrolling a demo device: {e}"))?;
        Ok(Device {
            caller,
            key,
            head: ChainHead::default(),
            records: Vec::new(),
        })
    }

    fn push(&mut self, at: i64, event: Event) -> u64 {
        let (sealed, next) = self.head.append(at, event);
        let seq = sealed.record.seq;
        self.head = next;
        self.records.push(sealed);
        seq
    }

    fn check(&mut self, at: i64, text: &str) -> u64 {
        self.push(
            at,
            Event::Check(Check {
                verdict: Verdict::Valid,
                reason: None,
                scanned: Some(text.to_string()),
                cert: None::<CertRef>,
                status_seq: None,
                trust_seq: None,
                warnings: Vec::new(),
                data_age: Some(120),
            }),
        )
    }

    fn dispose(&mut self, at: i64, check_seq: u64, accepted: bool, note: &str) {
        self.push(
            at,
            Event::Disposition(Disposition {
                check_seq,
                accepted,
                note: note.into(),
            }),
        );
    }

    fn batch(records: &[Sealed], key: &SigningKey) -> Vec<u8> {
        let refs: Vec<&[u8]> = records.iter().map(|s| s.bytes.as_slice()).collect();
        checklog::sign_batch(&refs, key)
    }

    /// Uploads everything recorded, in batches of 50, each arriving a
    /// minute after its last record was made.
    fn upload(&mut self, state: &AppState) -> anyhow::Result<u64> {
        let mut accepted = 0;
        for part in self.records.chunks(50) {
            let arrival = part.iter().map(|s| s.record.at).max().unwrap_or(0) + 60;
            let answer = ingest(state, &self.caller, &Self::batch(part, &self.key), arrival)
                .map_err(|e| anyhow::anyhow!("demo upload refused: {e}"))?;
            accepted += answer.accepted;
        }
        self.records.clear();
        Ok(accepted)
    }

    /// Uploads a batch that must be refused, audited as the API would.
    fn upload_refused(&self, state: &AppState, records: &[Sealed]) -> anyhow::Result<()> {
        let arrival = records.iter().map(|s| s.record.at).max().unwrap_or(0) + 60;
        let Err(e) = ingest(
            state,
            &self.caller,
            &Self::batch(records, &self.key),
            arrival,
        ) else {
            anyhow::bail!("a demo batch meant to be refused was accepted");
        };
        let e = crate::http::error::ApiError::from(e);
        let mut tx = state.store().begin()?;
        tx.append_audit(&Caller::audit_entry(
            Some(&self.caller),
            state.now(),
            Action::UploadLogs,
            "/api/v1/verification-logs",
            format!("{} {}", e.status().as_u16(), e.slug()),
        ))?;
        tx.commit()?;
        Ok(())
    }
}

/// Uploads a batch as `POST /api/v1/verification-logs` would, arriving at
/// `arrival` (the demo's device times run on from the seeding).
fn ingest(
    state: &AppState,
    caller: &Caller,
    batch: &[u8],
    arrival: i64,
) -> Result<shared::api::IngestResponse, logs::LogsError> {
    let trust = state
        .lists()
        .trust_list(
            state.store(),
            &state.keys(),
            state.list_config(),
            state.now(),
        )
        .map_err(logs::LogsError::Internal)?;
    let root = state.root_public_key();
    logs::ingest(
        state.store(),
        state.reverifier(),
        (&trust, &root),
        state.peers().own(),
        caller,
        arrival,
        batch,
    )
}

/// Seeds the demo's checks and the administrator's entries for the year of
/// `now` (after the certificates were issued).
pub fn seed_year(state: &AppState) -> anyhow::Result<SeedReport> {
    let now = state.now();
    let year = shared::cst::year(now);
    let versions = {
        let mut tx = state.store().begin()?;
        let v = tx.live_versions()?;
        tx.commit()?;
        v
    };
    let qr_of = |city: DivisionCode| -> Vec<String> {
        versions
            .iter()
            .filter(|v| v.status == Status::Valid && v.issuer_division.city() == city)
            .map(|v| qrtext::encode(qrtext::Kind::Certificate, &v.signed))
            .collect()
    };
    let mut report = SeedReport::default();
    // Device times run on from the seeding, a minute apart.
    let mut at = now;
    let mut tick = || {
        at += 60;
        at
    };
    for (i, city) in LIAONING_CITIES.iter().copied().enumerate() {
        let texts = qr_of(city);
        if texts.is_empty() {
            continue;
        }
        // Each city checks a different share of its certificates: 25 %
        // to 95 % (every 14 cities cover the bands).
        let share = 25 + (i * 37) % 71;
        let checked = texts.len() * share / 100;
        let seed = u8::try_from(i + 1).unwrap_or(1);
        // A county officer of the next city (districts 02–12) checks them
        // on the road; the inflating city checks its own.
        let checker = if city.code() == INFLATING_CITY {
            city
        } else {
            LIAONING_CITIES[(i + 1) % LIAONING_CITIES.len()]
        };
        let mut device = Device::new(state, checker.code() + 2, seed, now)?;
        report.devices += 1;
        for (k, text) in texts.iter().take(checked).enumerate() {
            let seq = device.check(tick(), text);
            if k % 5 == 0 {
                // Some checked twice: counted once.
                device.check(tick(), text);
            }
            let refused = city.code() == 210300 && k == 1;
            let note = if refused {
                "要求出示纸质证件"
            } else {
                ""
            };
            device.dispose(tick(), seq, !refused, note);
        }
        report.records += device.upload(state)?;
        if city.code() == INFLATING_CITY {
            report.refused += inflate(state, &mut device, &texts, &mut tick)?;
            // Its own device "checks" the rest: not evidence it could
            // not produce alone, so none counts.
            for text in texts.iter().skip(checked) {
                device.check(tick(), text);
            }
            report.records += device.upload(state)?;
        }
    }
    entries(state, year, now)?;
    Ok(report)
}

/// The inflating city's forged, repeated and refused uploads; how many
/// uploads were refused.
fn inflate(
    state: &AppState,
    device: &mut Device,
    texts: &[String],
    tick: &mut impl FnMut() -> i64,
) -> anyhow::Result<usize> {
    for text in texts.iter().rev().take(5) {
        // A forged QR: one character of the signed text changed.
        let mut forged: Vec<char> = text.chars().collect();
        let last = forged.len().saturating_sub(3);
        if let Some(c) = forged.get_mut(last) {
            *c = if *c == 'A' { 'B' } else { 'A' };
        }
        device.check(tick(), &forged.into_iter().collect::<String>());
    }
    if let Some(first) = texts.first() {
        for _ in 0..20 {
            device.check(tick(), first);
        }
    }
    device.upload(state)?;
    // An altered copy of accepted records (a rewritten history): the
    // device's chain from the start again, with other texts.
    let mut rewrite = ChainHead::default();
    let altered: Vec<Sealed> = texts
        .iter()
        .rev()
        .take(3)
        .map(|t| {
            let (sealed, next) = rewrite.append(tick(), check_event(t));
            rewrite = next;
            sealed
        })
        .collect();
    device.upload_refused(state, &altered)?;
    // A gap: records far beyond the accepted head.
    let mut ahead = device.head;
    ahead.next_seq += 10;
    let (gapped, _) = ahead.append(tick(), check_event(&texts[texts.len() - 1]));
    device.upload_refused(state, &[gapped])?;
    Ok(2)
}

fn check_event(text: &str) -> Event {
    Event::Check(Check {
        verdict: Verdict::Valid,
        reason: None,
        scanned: Some(text.to_string()),
        cert: None,
        status_seq: None,
        trust_seq: None,
        warnings: Vec::new(),
        data_age: Some(60),
    })
}

/// Training records, declared counts and complaints for the year.
fn entries(state: &AppState, year: i32, now: i64) -> anyhow::Result<()> {
    let mut tx = state.store().begin()?;
    for (i, city) in LIAONING_CITIES.iter().copied().enumerate() {
        let coverage = ["full", "partial", "little", "full"][i % 4];
        let name = city.name_zh();
        let evidence = if i % 5 == 4 {
            Vec::new()
        } else {
            let file = format!("{name}{year}年电子证照宣传培训签到表.pdf");
            vec![Evidence {
                sha256: hex::encode(Sha256::digest(file.as_bytes())),
                file_name: file,
                description: "培训签到表与现场照片".into(),
            }]
        };
        tx.insert_training(&TrainingRow {
            id: 0,
            division: city,
            year,
            coverage: coverage.into(),
            description: format!("{name}道路运输电子证照宣传培训"),
            entered_at: now,
            evidence,
        })?;
        if i % 3 == 1 {
            tx.set_declared(
                &DeclaredRow {
                    division: city,
                    year,
                    cert_type: "QC".into(),
                    count: 3 + i as u64,
                },
                now,
            )?;
        }
    }
    for (division, upheld) in [(211000, true), (210100, false)] {
        tx.insert_complaint(&ComplaintRow {
            id: 0,
            division: DivisionCode::from_u32(division)?,
            year,
            description: "从业人员投诉执法人员拒绝认可电子证照".into(),
            upheld,
            entered_at: now,
        })?;
    }
    tx.append_audit(&crate::store::AuditEntry {
        client_addr: None,
        ts: now,
        token_id: None,
        role: Some("cli".into()),
        action: "demo: seed evaluation".into(),
        target: format!("year {year}"),
        outcome: "ok".into(),
    })?;
    tx.commit()?;
    Ok(())
}
