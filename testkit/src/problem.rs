//! Assertions on RFC 9457 problem details (`application/problem+json`).

use axum::http::{header, HeaderMap, StatusCode};
use serde_json::Value;

/// Asserts that an answer of `status` with `content_type` and `body` is a
/// problem of status `expected`: the media type, the `status` member, a
/// `type` under `/problems/`, a non-empty `title` and `detail`. Returns
/// the problem.
pub fn check_problem(status: u16, content_type: Option<&str>, body: &[u8], expected: u16) -> Value {
    let text = String::from_utf8_lossy(body);
    assert_eq!(status, expected, "{text}");
    assert_eq!(content_type, Some("application/problem+json"), "{text}");
    let p: Value = serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(p["status"], expected, "{p}");
    let kind = p["type"].as_str().unwrap_or_else(|| panic!("no type: {p}"));
    assert!(kind.starts_with("/problems/"), "{p}");
    let title = p["title"]
        .as_str()
        .unwrap_or_else(|| panic!("no title: {p}"));
    assert!(!title.is_empty(), "{p}");
    let detail = p["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no detail: {p}"));
    assert!(!detail.is_empty(), "{p}");
    p
}

/// [`check_problem`] on an in-process answer.
pub fn assert_problem(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    expected: StatusCode,
) -> Value {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    check_problem(status.as_u16(), content_type, body, expected.as_u16())
}

/// [`assert_problem`], and its `type` is `/problems/{kind}`.
pub fn assert_problem_type(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    expected: StatusCode,
    kind: &str,
) -> Value {
    let p = assert_problem(status, headers, body, expected);
    assert_eq!(p["type"], format!("/problems/{kind}"), "{p}");
    p
}

/// [`assert_problem`], returning the problem's `detail`.
pub fn problem_detail(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    expected: StatusCode,
) -> String {
    assert_problem(status, headers, body, expected)["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_problem(status: u16, kind: &str, detail: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "type": kind, "title": "t", "status": status, "detail": detail
        }))
        .unwrap()
    }

    #[test]
    fn a_well_formed_problem_passes() {
        let body = json_problem(404, "/problems/not-found", "no such thing");
        let p = check_problem(404, Some("application/problem+json"), &body, 404);
        assert_eq!(p["detail"], "no such thing");
    }

    #[test]
    #[should_panic]
    fn plain_json_is_not_a_problem() {
        let body = json_problem(404, "/problems/not-found", "x");
        check_problem(404, Some("application/json"), &body, 404);
    }

    #[test]
    #[should_panic]
    fn an_empty_detail_is_refused() {
        let body = json_problem(400, "/problems/bad", "");
        check_problem(400, Some("application/problem+json"), &body, 400);
    }

    #[test]
    #[should_panic]
    fn a_type_outside_problems_is_refused() {
        let body = json_problem(400, "about:blank", "x");
        check_problem(400, Some("application/problem+json"), &body, 400);
    }
}
