//! Running it for real (issue 17): token lifetimes and rotation, backup and
//! restore, retention. The real-binary tests (backup under write load,
//! purge killed mid-way) run `verifier-server` as a child process.

use axum::http::StatusCode;
use testkit::{assert_problem_type, get_from, TestServer};
use verifier_server::admin;
use verifier_server::auth::{self, Role};

const AUDIT: &str = "/api/v1/audit?after=0&limit=1";

fn new_token(s: &TestServer, role: Role) -> (String, i64) {
    let now = s.now();
    testkit::blocking(|| auth::create_token(s.state.store(), role, None, "ops test", now)).unwrap()
}

fn listed(s: &TestServer, id: i64) -> admin::TokenInfo {
    let now = s.now();
    testkit::blocking(|| admin::list_tokens(s.state.store(), now))
        .unwrap()
        .into_iter()
        .find(|t| t.id == id)
        .unwrap()
}

#[tokio::test]
async fn a_token_expires_after_its_role_lifetime_with_its_own_problem() {
    let s = TestServer::new();
    let (token, id) = new_token(&s, Role::Admin);
    assert_eq!(listed(&s, id).expires_at, s.now() + 8 * 3600);
    let (status, _, _) = get_from(&s.state, AUDIT, Some(&token)).await;
    assert_eq!(status, StatusCode::OK);

    s.clock.advance(8 * 3600 - 1);
    let (status, _, _) = get_from(&s.state, AUDIT, Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "still valid one second before");
    s.clock.advance(1);
    let (status, headers, body) = get_from(&s.state, AUDIT, Some(&token)).await;
    let p = assert_problem_type(
        status,
        &headers,
        &body,
        StatusCode::UNAUTHORIZED,
        "token-expired",
    );
    assert!(p["detail"].as_str().unwrap().contains("expired"), "{p}");
    assert!(headers[axum::http::header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    assert_eq!(listed(&s, id).state, "expired");

    // An unknown token is a different problem.
    let (status, headers, body) = get_from(&s.state, AUDIT, Some(&auth::generate_token())).await;
    assert_problem_type(
        status,
        &headers,
        &body,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );

    // The refusal is audited as an expired token.
    let (_, _, body) = get_from(&s.state, "/api/v1/audit?after=0&limit=500", Some(&s.admin)).await;
    let audit: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        audit.to_string().contains("unauthenticated: expired token"),
        "{audit}"
    );
}

#[tokio::test]
async fn default_lifetimes_per_role() {
    let s = TestServer::new();
    for (role, days) in [
        (Role::Holder, 30),
        (Role::Auditor, 90),
        (Role::Agency, 90),
        (Role::Officer, 365),
    ] {
        assert_eq!(role.default_lifetime(), days * 86_400, "{role:?}");
    }
    let (_, id) = new_token(&s, Role::Auditor);
    assert_eq!(listed(&s, id).expires_at, s.now() + 90 * 86_400);
}

#[tokio::test]
async fn rotation_overlaps_then_the_old_secret_expires() {
    let s = TestServer::new();
    let (old, id) = new_token(&s, Role::Admin);
    let now = s.now();
    let rotated =
        testkit::blocking(|| admin::rotate_token(s.state.store(), id, 600, Some(86_400), now))
            .unwrap();
    assert_eq!(rotated.info.id, id, "same token id: devices and audit stay");
    assert_eq!(rotated.info.expires_at, now + 86_400);
    assert_eq!(rotated.info.previous_until, Some(now + 600));
    assert_ne!(rotated.token, old);
    for t in [&old, &rotated.token] {
        let (status, _, _) = get_from(&s.state, AUDIT, Some(t)).await;
        assert_eq!(status, StatusCode::OK, "both work during the overlap");
    }
    s.clock.advance(600);
    let (status, headers, body) = get_from(&s.state, AUDIT, Some(&old)).await;
    assert_problem_type(
        status,
        &headers,
        &body,
        StatusCode::UNAUTHORIZED,
        "token-expired",
    );
    let (status, _, _) = get_from(&s.state, AUDIT, Some(&rotated.token)).await;
    assert_eq!(status, StatusCode::OK);

    // A revoked token cannot be rotated back to life; an unknown id neither.
    let now = s.now();
    testkit::blocking(|| admin::revoke_token(s.state.store(), id, now)).unwrap();
    let err = testkit::blocking(|| admin::rotate_token(s.state.store(), id, 0, None, now))
        .unwrap_err()
        .to_string();
    assert!(err.contains("revoked"), "{err}");
    assert!(testkit::blocking(|| admin::rotate_token(s.state.store(), 9_999, 0, None, now)).is_err());
}

#[tokio::test]
async fn last_use_is_recorded_at_most_once_a_minute() {
    let s = TestServer::new();
    let (token, id) = new_token(&s, Role::Admin);
    assert_eq!(listed(&s, id).last_used_at, None);
    let first = s.now();
    get_from(&s.state, AUDIT, Some(&token)).await;
    assert_eq!(listed(&s, id).last_used_at, Some(first));
    s.clock.advance(59);
    get_from(&s.state, AUDIT, Some(&token)).await;
    assert_eq!(listed(&s, id).last_used_at, Some(first), "not rewritten");
    s.clock.advance(1);
    get_from(&s.state, AUDIT, Some(&token)).await;
    assert_eq!(listed(&s, id).last_used_at, Some(first + 60));
}
