//! Request parts read into typed values whose every refusal is an
//! [`ApiError`] problem naming what was wrong: [`Query`] and [`Path`]
//! extractors, and [`body_bytes`] / [`json_body`] for bodies (read after
//! the role check, so a refused caller is told 403 whatever it sent).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use shared::domain::CertType;

use super::error::ApiError;

/// A query string, or a 400 problem naming what is wrong with it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Query<T>, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(q)| Query(q))
            .map_err(|e| ApiError::BadRequest(format!("query string: {}", e.body_text())))
    }
}

/// A path's parameters, or a 400 problem naming what is wrong with them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Path<T>, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(p)| Path(p))
            .map_err(|e| ApiError::BadRequest(format!("path: {}", e.body_text())))
    }
}

/// A request body, or a problem: 413 over `limit` bytes, 408 when it did
/// not arrive in time ([`super::BodyTimeout`]), 400 otherwise.
pub fn body_bytes(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if let Some(t) = c.downcast_ref::<super::BodyTimeout>() {
                return ApiError::RequestTimeout(format!("request body: {t}"));
            }
            cause = c.source();
        }
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!("request body: larger than {limit} bytes"))
        } else {
            ApiError::BadRequest(format!("request body: {}", e.body_text()))
        }
    })
}

/// A JSON body, or a 400 problem saying what was `expected`.
pub fn json_body<T: DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("request body: expected {expected}: {e}")))
}

/// A certificate type named in a path (any case), or a 404 problem.
pub fn parse_type(text: &str) -> Result<CertType, ApiError> {
    CertType::from_code(&text.to_ascii_uppercase()).ok_or_else(|| {
        let codes: Vec<&str> = CertType::ALL.iter().map(|t| t.code()).collect();
        ApiError::NotFound(format!(
            "certificate type {text:?} is not one of {}",
            codes.join(", ")
        ))
    })
}
