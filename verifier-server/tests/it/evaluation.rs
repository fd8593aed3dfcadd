//! The annual evaluation's counting, against hand-computed expectations in
//! `tests/it/testdata/evaluation.json` (several cities, one of which tries to
//! inflate its activation with forged, replayed, duplicated and
//! own-device static checks and rejected uploads).

use serde_json::Value;
use shared::domain::DivisionCode;
use verifier_server::evaluation::data::{
    ComplaintRow, DeclaredRow, EvalCert, EvalCheck, EvalCorrection, EvalRefusal,
    EvalRejectedUpload, Evidence, TrainingRow,
};
use verifier_server::evaluation::{evaluate, month_start, Data, Evaluation, Score};

fn div(v: &Value) -> DivisionCode {
    DivisionCode::from_u32(u32::try_from(v.as_u64().unwrap()).unwrap()).unwrap()
}

fn at(year: i32, month: &Value) -> i64 {
    month_start(year, u8::try_from(month.as_u64().unwrap()).unwrap()) + 86_400
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn table() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/testdata/evaluation.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn data(t: &Value, skip_checks: &[usize], skip_rejected: &[usize]) -> Data {
    let year = i32::try_from(t["year"].as_i64().unwrap()).unwrap();
    let rows = |k: &str| t[k].as_array().unwrap().clone();
    let certs = rows("certs")
        .iter()
        .map(|c| EvalCert {
            cert_type: s(&c[0]).unwrap(),
            number: s(&c[1]).unwrap(),
            division: div(&c[2]),
            status: c[3].as_i64().unwrap(),
            first_issued_at: at(i32::try_from(c[4].as_i64().unwrap()).unwrap(), &c[5]),
        })
        .collect();
    let corrections = rows("corrections")
        .iter()
        .map(|c| EvalCorrection {
            agency: div(&c[0]),
            cert_type: s(&c[1]).unwrap(),
            number: s(&c[2]).unwrap(),
            first_seen: at(year, &c[3]),
        })
        .collect();
    let all_checks: Vec<EvalCheck> = rows("checks")
        .iter()
        .enumerate()
        .map(|(i, c)| EvalCheck {
            device_id: c[0].as_i64().unwrap(),
            seq: i as u64,
            at: at(year, &c[2]),
            device_division: div(&c[1]),
            signature: c[3].as_bool().unwrap(),
            presented: c[4].as_bool().unwrap(),
            presentation: c[5].as_bool().unwrap(),
            cert: s(&c[6]).map(|n| ("QC".to_string(), n)),
            cert_division: (!c[7].is_null()).then(|| div(&c[7])),
            reason: s(&c[8]),
            // Enrolled long before, uploaded an hour after the check, one
            // batch per record: every time within the server's bounds.
            token_id: c[0].as_i64().unwrap(),
            enrolled_at: 0,
            revoked_at: None,
            batch_id: i as i64 + 1,
            received_at: at(year, &c[2]) + 3_600,
            status_seq: None,
            status_signed_at: None,
        })
        .collect();
    let refusals = rows("refusals")
        .iter()
        .enumerate()
        .map(|(i, r)| EvalRefusal {
            device_id: r[0].as_i64().unwrap(),
            seq: 1000 + i as u64,
            at: at(year, &r[2]),
            device_division: div(&r[1]),
            check: Some(all_checks[usize::try_from(r[3].as_u64().unwrap()).unwrap()].clone()),
            cert_status: r[4].as_i64(),
            note: Some("refused".into()),
        })
        .collect();
    let checks = all_checks
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !skip_checks.contains(i))
        .map(|(_, c)| c)
        .collect();
    let training = rows("training")
        .iter()
        .enumerate()
        .map(|(i, r)| TrainingRow {
            id: i as i64 + 1,
            division: div(&r[0]),
            year,
            coverage: s(&r[1]).unwrap(),
            description: "training".into(),
            entered_at: 0,
            evidence: (0..r[2].as_u64().unwrap())
                .map(|k| Evidence {
                    file_name: format!("photo-{k}.jpg"),
                    sha256: "0".repeat(64),
                    description: "attendance".into(),
                })
                .collect(),
        })
        .collect();
    let declared = rows("declared")
        .iter()
        .map(|r| DeclaredRow {
            division: div(&r[0]),
            year,
            cert_type: s(&r[1]).unwrap(),
            count: r[2].as_u64().unwrap(),
        })
        .collect();
    let complaints = rows("complaints")
        .iter()
        .enumerate()
        .map(|(i, r)| ComplaintRow {
            id: i as i64 + 1,
            division: div(&r[0]),
            year,
            description: "officer refused the e-certificate".into(),
            upheld: r[1].as_bool().unwrap(),
            entered_at: at(year, &Value::from(10)),
        })
        .collect();
    let rejected = rows("rejected")
        .iter()
        .enumerate()
        .filter(|(i, _)| !skip_rejected.contains(i))
        .map(|(_, r)| EvalRejectedUpload {
            ts: at(year, &r[1]),
            division: Some(div(&r[0])),
            target: "device 2".into(),
            outcome: "409 conflict".into(),
            action: "POST /api/v1/verification-logs".into(),
        })
        .collect();
    Data {
        certs,
        corrections,
        checks,
        refusals,
        rejected,
        training,
        declared,
        complaints,
        ..Data::default()
    }
}

fn score(e: &Evaluation, code: u32) -> &Score {
    if code == 210000 {
        return &e.province;
    }
    e.cities.iter().find(|s| s.division == code).unwrap()
}

/// The items' rates and points (what "its score" means).
fn items(s: &Score) -> Value {
    serde_json::json!({
        "issuance": [s.issuance.rate.numerator, s.issuance.rate.denominator, s.issuance.rate.points],
        "activation": [s.activation.rate.numerator, s.activation.rate.denominator, s.activation.rate.points],
        "training": s.training.points,
        "display": s.display.points,
        "total": s.total,
    })
}

#[test]
fn hand_computed_scores_per_city_and_province() {
    let t = table();
    let e = evaluate(&data(&t, &[], &[]), 2026);
    assert_eq!(e.cities.len(), 14);
    for (code, want) in t["expected"].as_object().unwrap() {
        let got = score(&e, code.parse().unwrap());
        let ctx = format!("{code}: {}", serde_json::to_string_pretty(got).unwrap());
        assert_eq!(got.issuance.rate.numerator, want["issuance"][0], "{ctx}");
        assert_eq!(got.issuance.rate.denominator, want["issuance"][1], "{ctx}");
        assert_eq!(got.issuance.rate.points, want["issuance"][2], "{ctx}");
        assert_eq!(
            got.activation.rate.numerator, want["activation"][0],
            "{ctx}"
        );
        assert_eq!(
            got.activation.rate.denominator, want["activation"][1],
            "{ctx}"
        );
        assert_eq!(got.activation.rate.points, want["activation"][2], "{ctx}");
        assert_eq!(
            got.activation.provable_checks, want["provable_checks"],
            "{ctx}"
        );
        assert_eq!(got.training.points, want["training"], "{ctx}");
        assert_eq!(
            got.display.incidents.len() as u64,
            want["incidents"],
            "{ctx}"
        );
        assert_eq!(got.display.points, want["display"], "{ctx}");
        assert_eq!(got.total, want["total"], "{ctx}");
        assert_eq!(got.anomalies.len() as u64, want["anomalies"], "{ctx}");
    }
    // Cities without any data: only the display item (no incident).
    for s in &e.cities {
        if !t["expected"]
            .as_object()
            .unwrap()
            .contains_key(&s.division.to_string())
        {
            assert_eq!(s.total, 10, "{}", s.division);
        }
    }
}

#[test]
fn dalians_anomalies_are_listed_by_kind() {
    let t = table();
    let e = evaluate(&data(&t, &[], &[]), 2026);
    let d = score(&e, 210200);
    let mut kinds: Vec<&str> = d.anomalies.iter().map(|a| a.kind.as_str()).collect();
    kinds.sort_unstable();
    let mut want = vec!["signature_not_verified"; 5];
    want.extend([
        "presentation_not_verified",
        "unknown_certificate",
        "rejected_upload",
        "rejected_upload",
    ]);
    want.sort_unstable();
    assert_eq!(kinds, want);
    // The refusal of a valid D2 is its incident.
    assert_eq!(d.display.incidents[0].kind, "refusal");
    assert_eq!(d.display.incidents[0].certificate.as_deref(), Some("QC/D2"));
    // Anshan's incident is the upheld complaint; the rejected one is not.
    let a = score(&e, 210300);
    assert_eq!(a.display.incidents.len(), 1);
    assert_eq!(a.display.incidents[0].kind, "upheld_complaint");
}

#[test]
fn inflating_logs_do_not_move_the_score() {
    let t = table();
    let inflation = &t["inflation"];
    let idx = |k: &str| -> Vec<usize> {
        inflation[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| usize::try_from(v.as_u64().unwrap()).unwrap())
            .collect()
    };
    let with = evaluate(&data(&t, &[], &[]), 2026);
    let without = evaluate(&data(&t, &idx("checks"), &idx("rejected")), 2026);
    for code in [210100, 210200, 210300, 210000] {
        assert_eq!(
            items(score(&with, code)),
            items(score(&without, code)),
            "{code}"
        );
    }
    // Without them Dalian lists no anomaly: they were what was listed.
    assert!(score(&without, 210200).anomalies.is_empty());
}

#[test]
fn monthly_rates_are_cumulative() {
    let t = table();
    let e = evaluate(&data(&t, &[], &[]), 2026);
    let a = score(&e, 210300);
    assert_eq!(a.monthly.len(), 12);
    // May: nothing issued yet, only the 5 declared: 0 of 5; no activation.
    assert_eq!(a.monthly[4].issuance_percent, Some(0.0));
    assert_eq!(a.monthly[4].activation_percent, None);
    // June: 4 issued of 4 + 5 declared (C3 comes in July); none checked.
    let june = a.monthly[5].issuance_percent.unwrap();
    assert!((june - 400.0 / 9.0).abs() < 1e-9, "{june}");
    assert_eq!(a.monthly[5].activation_percent, Some(0.0));
    // August: A1 checked (1 of 4); September: A2 too (2 of 4).
    assert_eq!(a.monthly[7].activation_percent, Some(25.0));
    assert_eq!(a.monthly[8].activation_percent, Some(50.0));
    // December equals the year's figures.
    assert_eq!(a.monthly[11].issuance_percent, a.issuance.rate.percent);
}

#[test]
fn csv_has_a_row_per_city_and_the_province() {
    let t = table();
    let e = evaluate(&data(&t, &[], &[]), 2026);
    let csv = verifier_server::evaluation::to_csv(&e).unwrap();
    // Excel reads it as UTF-8 only with the byte-order mark.
    let csv = csv
        .strip_prefix('\u{feff}')
        .expect("a UTF-8 byte-order mark");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 16);
    assert!(lines[0].starts_with("division,name,issuance_numerator"));
    assert!(
        lines[2].starts_with("210200,大连市,10,10,100.00,40,2,10,20.00,5,partial,6,1,0,51,9"),
        "{}",
        lines[2]
    );
    assert!(
        lines[15].starts_with("210000,辽宁省,26,37,"),
        "{}",
        lines[15]
    );
}
