//! Outage reports (§5.3) through the router, on the engine the kit picks
//! (`LNEC_TEST_POSTGRES`): the re-push deadline counted on the shipped
//! working-day calendar, the agency's own list, every refusal as a problem,
//! the audit rows, and the overdue rule that honours the outage.

use axum::http::StatusCode;
use serde_json::{json, Value};
use testkit::tokens::{DALIAN, SHENYANG};
use testkit::{assert_problem, TestServer, T0};
use verifier_server::auth::Role;
#[allow(unused_imports)]
use verifier_server::store::prelude::*;

const OUTAGES: &str = "/api/v1/agency/outages";

async fn report(s: &TestServer, token: &str, body: &Value) -> (StatusCode, Value) {
    let (status, headers, bytes) = s.post_json(OUTAGES, Some(token), body).await;
    if status.is_success() {
        (status, serde_json::from_slice(&bytes).unwrap())
    } else {
        (status, assert_problem(status, &headers, &bytes, status))
    }
}

fn period(from: &str, until: &str) -> Value {
    json!({ "from": from, "until": until, "reason": "省平台前置机网络中断" })
}

async fn agency_state(s: &TestServer, token: &str) -> Value {
    let list = s.get_json("/api/v1/agencies/pushes", token).await;
    list["agencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["division"] == json!(SHENYANG))
        .cloned()
        .unwrap_or_else(|| panic!("no Shenyang entry: {list}"))
}

#[tokio::test]
async fn report_list_and_deadline() {
    let s = TestServer::new();
    let shenyang = s.token(Role::Agency, Some(SHENYANG), "sy");
    let dalian = s.token(Role::Agency, Some(DALIAN), "dl");
    assert_eq!(s.now(), T0); // Monday 2026-06-01 10:00 CST

    // A fault from Thursday to Friday: two working days after Friday are
    // Monday 1 and Tuesday 2 June, so the re-push is due Wednesday 00:00.
    let (status, out) = report(
        &s,
        &shenyang,
        &period("2026-05-28T09:00:00+08:00", "2026-05-29T18:00:00+08:00"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{out}");
    assert_eq!(out["from"], "2026-05-28T09:00:00+08:00");
    assert_eq!(out["until"], "2026-05-29T18:00:00+08:00");
    assert_eq!(out["reason"], "省平台前置机网络中断");
    assert_eq!(out["repush_deadline"], "2026-06-03T00:00:00+08:00");
    assert_eq!(out["calendar_basis"], "published");
    assert_eq!(out["division"], json!(SHENYANG));
    assert_eq!(out["reported_at"], "2026-06-01T10:00:00+08:00");
    let first = out["id"].as_i64().unwrap();

    // A fault over Labour Day (1–5 May rest): due at the end of Thursday
    // 7 May; the same instant in UTC is accepted.
    let (status, out) = report(
        &s,
        &shenyang,
        &period("2026-04-30T12:00:00Z", "2026-04-30T22:30:00Z"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{out}");
    assert_eq!(out["until"], "2026-05-01T06:30:00+08:00");
    assert_eq!(out["repush_deadline"], "2026-05-08T00:00:00+08:00");

    // Each agency sees its own reports only, oldest fault first.
    let mine = s.get_json(OUTAGES, &shenyang).await;
    let ids: Vec<i64> = mine["outages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[1], first);
    let theirs = s.get_json(OUTAGES, &dalian).await;
    assert_eq!(theirs["outages"], json!([]));

    // Audited in the transaction of the effect.
    let audit = testkit::blocking(|| {
        let mut tx = s.state.store().begin().unwrap();
        tx.audit_tail(20).unwrap()
    });
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"POST /api/v1/agency/outages"),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"GET /api/v1/agency/outages"),
        "{actions:?}"
    );
    assert!(audit
        .iter()
        .any(|e| e.target == format!("outage {first} division {SHENYANG} 2026-05-28T09:00:00+08:00 to 2026-05-29T18:00:00+08:00")));
}

#[tokio::test]
async fn refusals_are_problems() {
    let s = TestServer::new();
    let agency = s.token(Role::Agency, Some(SHENYANG), "sy");
    let officer = s.token(Role::Officer, Some(SHENYANG), "of");
    let ok = period("2026-05-28T09:00:00+08:00", "2026-05-29T18:00:00+08:00");
    let (status, _) = report(&s, &agency, &ok).await;
    assert_eq!(status, StatusCode::CREATED);

    let cases: Vec<(&str, &str, Value, StatusCode, &str)> = vec![
        (
            "until before from",
            &agency,
            period("2026-05-20T09:00:00+08:00", "2026-05-19T09:00:00+08:00"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "is not after from",
        ),
        (
            "empty period",
            &agency,
            period("2026-05-20T09:00:00+08:00", "2026-05-20T09:00:00+08:00"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "is not after from",
        ),
        (
            "a fault not over yet",
            &agency,
            period("2026-06-01T08:00:00+08:00", "2026-06-01T12:00:00+08:00"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "in the future",
        ),
        (
            "overlapping the first report",
            &agency,
            period("2026-05-29T17:00:00+08:00", "2026-05-30T09:00:00+08:00"),
            StatusCode::CONFLICT,
            "overlaps outage",
        ),
        (
            "not RFC 3339",
            &agency,
            period("2026-05-20 09:00", "2026-05-21T09:00:00+08:00"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "from: ",
        ),
        (
            "blank reason",
            &agency,
            json!({"from": "2026-05-20T09:00:00+08:00", "until": "2026-05-21T09:00:00+08:00", "reason": "  "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason",
        ),
        (
            "unknown field",
            &agency,
            json!({"from": "2026-05-20T09:00:00+08:00", "until": "2026-05-21T09:00:00+08:00", "reason": "x", "x": 1}),
            StatusCode::BAD_REQUEST,
            "unknown field",
        ),
        (
            "an officer",
            &officer,
            period("2026-05-20T09:00:00+08:00", "2026-05-21T09:00:00+08:00"),
            StatusCode::FORBIDDEN,
            "",
        ),
    ];
    for (what, token, body, want, detail) in cases {
        let (status, problem) = report(&s, token, &body).await;
        assert_eq!(status, want, "{what}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap_or("").contains(detail),
            "{what}: {problem}"
        );
    }
    // Nothing refused was stored; the accepted one is still there.
    let mine = s.get_json(OUTAGES, &agency).await;
    assert_eq!(mine["outages"].as_array().unwrap().len(), 1);
    let (status, _, _) = s.get(OUTAGES, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_outage_moves_the_overdue_deadline() {
    let s = TestServer::new();
    let agency = s.token(Role::Agency, Some(SHENYANG), "sy");
    let admin = s.admin.clone();
    // Never pushed: overdue.
    let before = agency_state(&s, &admin).await;
    assert_eq!(before["overdue"], true, "{before}");
    assert_eq!(before["due_by"], Value::Null);

    let (status, out) = report(
        &s,
        &agency,
        &period("2026-05-28T09:00:00+08:00", "2026-05-29T18:00:00+08:00"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{out}");
    let deadline = testkit_deadline(&out);
    let during = agency_state(&s, &admin).await;
    assert_eq!(during["overdue"], false, "{during}");
    assert_eq!(during["due_by"], json!(deadline));
    // The agency sees the same.
    let own = agency_state(&s, &agency).await;
    assert_eq!(own["overdue"], false);

    // Wednesday 00:00 CST: the re-push is late.
    s.clock.set(deadline);
    let after = agency_state(&s, &admin).await;
    assert_eq!(after["overdue"], true, "{after}");
}

/// The re-push deadline of an answered report, Unix seconds.
fn testkit_deadline(out: &Value) -> i64 {
    shared::cst::parse_rfc3339(out["repush_deadline"].as_str().unwrap()).unwrap()
}
