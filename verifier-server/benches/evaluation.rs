//! How long the evaluation's counting takes for a province-sized year:
//! prints figures (run with `cargo bench -p verifier-server --bench
//! evaluation`). Loading from SQLite is not included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use shared::domain::{DivisionCode, LIAONING_CITIES};
use verifier_server::evaluation::data::{EvalCert, EvalCheck, EvalCorrection};
use verifier_server::evaluation::{evaluate, month_start, Data};

fn main() {
    let year = 2026;
    let start = month_start(year, 1);
    let span = month_start(year, 13) - start;
    let certs_n: usize = std::env::var("CERTS").map_or(500_000, |v| v.parse().unwrap());
    let checks_n: usize = std::env::var("CHECKS").map_or(1_000_000, |v| v.parse().unwrap());
    let city = |i: usize| LIAONING_CITIES[i % 14];
    let at = |i: usize| start + i64::try_from(i).unwrap() * 7919 % span;
    let certs: Vec<EvalCert> = (0..certs_n)
        .map(|i| EvalCert {
            cert_type: "QC".into(),
            number: format!("N{i:09}"),
            division: city(i),
            status: i64::from(i % 20 == 0) * 2,
            first_issued_at: at(i) - if i % 3 == 0 { span } else { 0 },
        })
        .collect();
    let checks: Vec<EvalCheck> = (0..checks_n)
        .map(|i| {
            // A certificate of the device's city (2 % of devices are of the next
            // city); a quarter are live presentations.
            let c = ((i * 31) % (certs_n / 14)) * 14 + i % 14;
            EvalCheck {
                device_id: i64::try_from(i % 14).unwrap(),
                seq: i as u64,
                at: at(i),
                device_division: city(i % 14 + usize::from(i % 50 == 0)),
                signature: i % 97 != 0,
                presented: i % 4 == 0,
                presentation: true,
                cert: Some(("QC".into(), format!("N{c:09}"))),
                cert_division: Some(city(c)),
                reason: None,
                token_id: i64::try_from(i % 14).unwrap(),
                enrolled_at: start - span,
                revoked_at: None,
                batch_id: 0,
                received_at: at(i) + 3_600,
                status_seq: None,
                status_signed_at: None,
            }
        })
        .collect();
    let corrections: Vec<EvalCorrection> = (0..certs_n / 50)
        .map(|i| EvalCorrection {
            agency: city(i),
            cert_type: "QC".into(),
            number: format!("C{i:09}"),
            first_seen: at(i),
        })
        .collect();
    let data = Data {
        certs,
        checks,
        corrections,
        ..Data::default()
    };
    let _ = DivisionCode::PROVINCE;
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let e = evaluate(&data, year);
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(e.cities.len(), 14);
    }
    println!(
        "evaluate: {certs_n} certificates, {checks_n} checks, {} corrections: {:.0} ms (best of 3; 14 cities + province, 12 monthly cutoffs each)",
        data.corrections.len(),
        best * 1000.0
    );
}
