//! The service's one error type, answered as RFC 9457 problem details
//! (`application/problem+json`).
//!
//! Client errors say precisely what was wrong; server errors answer a
//! generic text and log the cause, which never reaches the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::service::devices::DevicesError;
use crate::service::evaluation::EvaluationError;
use crate::service::forward::ForwardRefusal;
use crate::service::holders::HoldersError;
use crate::service::issuing::ReadError;
use crate::service::logs::LogsError;
use crate::store::StoreError;

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// No valid bearer token (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The bearer token expired, or the secret a rotation replaced is past
    /// its overlap (401, its own problem type so clients can tell "get a
    /// new token" from "wrong token").
    #[error("{0}")]
    TokenExpired(String),
    /// The token may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// Nothing at this address (404).
    #[error("{0}")]
    NotFound(String),
    /// The path does not accept this method (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// The data asked for is no longer kept (410).
    #[error("{0}")]
    Gone(String),
    /// The body did not arrive in time (408; the connection is closed).
    #[error("{0}")]
    RequestTimeout(String),
    /// The body is too large or has too many records (413).
    #[error("{0}")]
    TooLarge(String),
    /// The body is well-formed but cannot be processed (422).
    #[error("{0}")]
    Unprocessable(String),
    /// The caller sent too many requests; it may retry after
    /// `retry_after` seconds (429, with `Retry-After`).
    #[error("{detail}")]
    TooManyRequests {
        /// What limit was reached.
        detail: String,
        /// Seconds until a request will be accepted again.
        retry_after: u64,
    },
    /// A signed assertion was refused (401): its own problem type per
    /// reason (`/problems/assertion-expired`, `…-replayed`, …).
    #[error("{1}")]
    Assertion(crate::service::apps::AssertionFault, String),
    /// The service cannot answer now, e.g. the request took too long; the
    /// client may retry (503).
    #[error("{0}")]
    Unavailable(String),
    /// A fault on our side (500); the cause is logged, not shown.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
    /// A refusal with a problem type of its own (`/problems/<slug>`), for
    /// reasons a client must tell apart (e.g. a forwarded batch from an
    /// unknown province vs. one signed by the wrong key).
    #[error("{detail}")]
    Typed {
        /// The HTTP status (4xx).
        status: StatusCode,
        /// The problem type, `/problems/<slug>`.
        kind: &'static str,
        /// Its title.
        title: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl From<StoreError> for ApiError {
    /// A lost or unreachable database is 503 (retry later; nothing was
    /// committed); any other storage failure is 500.
    fn from(e: StoreError) -> ApiError {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "database unavailable");
            ApiError::Unavailable("the database is unavailable; try again later".into())
        } else {
            ApiError::Internal(e.into())
        }
    }
}

impl From<LogsError> for ApiError {
    fn from(e: LogsError) -> ApiError {
        match e {
            LogsError::Malformed(d) => ApiError::BadRequest(d),
            LogsError::NotYours(d) => ApiError::Forbidden(d),
            LogsError::NotFound(d) => ApiError::NotFound(d),
            LogsError::Conflict(d) => ApiError::Conflict(d),
            LogsError::Invalid(d) => ApiError::Unprocessable(d),
            // A lost database or a deadlock is 503 (retry), as elsewhere.
            LogsError::Store(e) => e.into(),
            LogsError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<ForwardRefusal> for ApiError {
    fn from(e: ForwardRefusal) -> ApiError {
        let typed = |status, kind, title, detail| ApiError::Typed {
            status,
            kind,
            title,
            detail,
        };
        match e {
            ForwardRefusal::Malformed(d) => ApiError::BadRequest(d),
            ForwardRefusal::UnknownProvince(d) => typed(
                StatusCode::FORBIDDEN,
                "/problems/unknown-province",
                "Unknown province",
                d,
            ),
            ForwardRefusal::WrongKey(d) => typed(
                StatusCode::FORBIDDEN,
                "/problems/wrong-key",
                "Not the province's root key",
                d,
            ),
            ForwardRefusal::BadSignature(d) => typed(
                StatusCode::FORBIDDEN,
                "/problems/bad-signature",
                "Signature does not verify",
                d,
            ),
            ForwardRefusal::WrongDestination(d) => typed(
                StatusCode::UNPROCESSABLE_ENTITY,
                "/problems/wrong-province",
                "Addressed to another province",
                d,
            ),
            ForwardRefusal::BadRecord(d) => typed(
                StatusCode::UNPROCESSABLE_ENTITY,
                "/problems/bad-record",
                "Malformed record",
                d,
            ),
            ForwardRefusal::NotOurCertificate(d) => typed(
                StatusCode::UNPROCESSABLE_ENTITY,
                "/problems/not-our-certificate",
                "Not this province's certificate",
                d,
            ),
            ForwardRefusal::Store(e) => e.into(),
            ForwardRefusal::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<DevicesError> for ApiError {
    fn from(e: DevicesError) -> ApiError {
        match e {
            DevicesError::Malformed(d) => ApiError::BadRequest(d),
            DevicesError::Invalid(d) => ApiError::Unprocessable(d),
            DevicesError::NoDivision(d) => ApiError::Forbidden(d),
            DevicesError::Conflict(d) => ApiError::Conflict(d),
            DevicesError::Forbidden(d) => ApiError::Forbidden(d),
            DevicesError::NotFound(d) => ApiError::NotFound(d),
            DevicesError::Store(e) => ApiError::Internal(e.into()),
        }
    }
}

impl From<EvaluationError> for ApiError {
    fn from(e: EvaluationError) -> ApiError {
        match e {
            EvaluationError::Invalid(d) => ApiError::Unprocessable(d),
            EvaluationError::TooLarge(d) => ApiError::TooLarge(d),
            EvaluationError::NotFound(d) => ApiError::NotFound(d),
            EvaluationError::Store(e) => e.into(),
        }
    }
}

impl From<HoldersError> for ApiError {
    fn from(e: HoldersError) -> ApiError {
        match e {
            HoldersError::Malformed(d) => ApiError::BadRequest(d),
            HoldersError::Invalid(d) => ApiError::Unprocessable(d),
            HoldersError::NotAHolder(d) => ApiError::Forbidden(d),
            HoldersError::Conflict(d) => ApiError::Conflict(d),
            HoldersError::NotFound(d) => ApiError::NotFound(d),
            HoldersError::Store(e) => ApiError::Internal(e.into()),
            HoldersError::Version(e) => ApiError::Internal(e.into()),
            HoldersError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<crate::service::apps::AppsError> for ApiError {
    fn from(e: crate::service::apps::AppsError) -> ApiError {
        use crate::service::apps::AppsError;
        match e {
            AppsError::Malformed(d) => ApiError::BadRequest(d),
            AppsError::Invalid(d) => ApiError::Unprocessable(d),
            AppsError::Forbidden(d) => ApiError::Forbidden(d),
            AppsError::NotFound(d) => ApiError::NotFound(d),
            AppsError::Conflict(d) => ApiError::Conflict(d),
            AppsError::Assertion(f, d) => ApiError::Assertion(f, d),
            AppsError::Store(e) => e.into(),
        }
    }
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> ApiError {
        match e {
            e @ ReadError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            ReadError::Store(e) => ApiError::Internal(e.into()),
            ReadError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        ApiError::Internal(e)
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> ApiError {
        ApiError::Internal(anyhow::Error::new(e).context("background task failed"))
    }
}

/// The short name of the problem a response answers (left in its
/// extensions for the audit layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemSlug(pub &'static str);

/// The problem-details body (RFC 9457), `application/problem+json`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// The problem type, a URI reference relative to the API, e.g.
    /// `/problems/forbidden`.
    #[serde(rename = "type")]
    #[schema(example = "/problems/forbidden")]
    pub kind: &'static str,
    /// A short summary of the problem type.
    #[schema(example = "Not allowed")]
    pub title: &'static str,
    /// The HTTP status.
    #[schema(example = 403)]
    pub status: u16,
    /// What was wrong and where (generic for server errors).
    #[schema(example = "role auditor may not do this; needs admin or agency")]
    pub detail: String,
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) | ApiError::TokenExpired(_) | ApiError::Assertion(..) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Typed { status, .. } => *status,
        }
    }

    /// The short name of the problem, e.g. `forbidden` (audit outcomes).
    pub fn slug(&self) -> &'static str {
        self.kind().0.trim_start_matches("/problems/")
    }

    /// The problem type (a URI reference relative to the API) and title.
    fn kind(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => ("/problems/bad-request", "Bad request"),
            ApiError::Unauthenticated(_) => ("/problems/unauthenticated", "Not authenticated"),
            ApiError::TokenExpired(_) => ("/problems/token-expired", "Token expired"),
            ApiError::Forbidden(_) => ("/problems/forbidden", "Not allowed"),
            ApiError::NotFound(_) => ("/problems/not-found", "Not found"),
            ApiError::MethodNotAllowed(_) => ("/problems/method-not-allowed", "Method not allowed"),
            ApiError::Conflict(_) => ("/problems/conflict", "Conflict"),
            ApiError::Gone(_) => ("/problems/gone", "No longer available"),
            ApiError::RequestTimeout(_) => ("/problems/request-timeout", "Request timeout"),
            ApiError::TooLarge(_) => ("/problems/too-large", "Request too large"),
            ApiError::Unprocessable(_) => ("/problems/unprocessable", "Cannot process"),
            ApiError::TooManyRequests { .. } => {
                ("/problems/too-many-requests", "Too many requests")
            }
            ApiError::Assertion(f, _) => (f.problem_type(), "Assertion refused"),
            ApiError::Unavailable(_) => ("/problems/unavailable", "Service unavailable"),
            ApiError::Internal(_) => ("/problems/internal", "Internal error"),
            ApiError::Typed { kind, title, .. } => (kind, title),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (kind, title) = self.kind();
        let retry_after = match &self {
            ApiError::TooManyRequests { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        let detail = match &self {
            ApiError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "request failed");
                "the server could not complete the request; the fault has been logged".to_string()
            }
            other => other.to_string(),
        };
        let body = serde_json::to_vec(&Problem {
            kind,
            title,
            status: status.as_u16(),
            detail,
        })
        .unwrap_or_default();
        let mut response = (status, body).into_response();
        response.extensions_mut().insert(ProblemSlug(self.slug()));
        if status == StatusCode::REQUEST_TIMEOUT {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: an expired token is `invalid_token`.
            let challenge = if kind == "/problems/token-expired" {
                "Bearer realm=\"verifier-server\", error=\"invalid_token\", \
                 error_description=\"the token expired\""
            } else {
                "Bearer realm=\"verifier-server\""
            };
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

impl From<crate::service::auth::AuthFailure> for ApiError {
    fn from(f: crate::service::auth::AuthFailure) -> ApiError {
        match f {
            crate::service::auth::AuthFailure::Expired => {
                ApiError::TokenExpired(f.message().into())
            }
            _ => ApiError::Unauthenticated(f.message().into()),
        }
    }
}

/// Runs store work on the blocking pool, answering its failure as a
/// problem.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    crate::state::blocking(f).await
}
