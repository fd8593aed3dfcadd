//! Bulk collection from an uploaded file (issue 15): `POST /api/v1/uploads`
//! streams the request body into [`crate::service::uploads`] (read as it
//! arrives, pushed in chunks, so the browser's upload progress follows the
//! server's work), and `GET /api/v1/uploads/{id}/report.csv` answers the
//! stored per-record report.
//!
//! Limits: `Limits::max_upload` (32 MiB; a larger `Content-Length` is 413
//! before anything is read, a body that grows past it stops the upload at
//! the line reached), and the server's body deadline and request timeout;
//! larger files go through `verifier-server import`, which is resumable.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::TryStreamExt as _;
use serde::Deserialize;
use shared::api::UploadReport;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::require;
use super::error::{blocking, ApiError};
use super::extract::{Path, Query};
use crate::service::auth::{Caller, Role};
use crate::service::uploads::{self, ReportError, Upload, UploadError};
use crate::state::AppState;

/// The upload routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_upload))
        .routes(routes!(get_report))
}

/// Query of an upload.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// `csv` or `jsonl`; by default from the name's extension (`.csv`;
    /// `.jsonl`, `.ndjson`, `.json`).
    format: Option<String>,
    /// The file's name, for the report.
    name: Option<String>,
}

/// Most characters of an uploaded file's name kept.
const MAX_NAME_CHARS: usize = 200;

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// `POST /api/v1/uploads?format=csv|jsonl&name=FILE`: a CSV or JSON-lines
/// file of records (the body), collected like `verifier-server import`.
#[utoipa::path(post, path = "/api/v1/uploads", tag = "issuing",
    security(("bearer" = [])),
    params(UploadQuery),
    request_body(content = String, content_type = "text/csv",
        description = "The file: CSV with a header row of record fields, or JSON lines (UTF-8)"),
    responses(
        (status = 200, description = "What was stored, the records not signed, and where reading stopped if it did",
            body = UploadReport),
        (status = 400, description = "No format, or the file cannot be read at all (UTF-16, header row missing or unknown columns)",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not push (admin or agency only)",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than the upload limit (32 MiB)",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_upload(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<UploadQuery>, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    require(&caller, &[Role::Admin, Role::Agency])?;
    let name: String = q
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("upload")
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let format = match q.format.as_deref() {
        Some("csv") => importer::Format::Csv,
        Some("jsonl") => importer::Format::Jsonl,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "query parameter format: {other:?} is not csv or jsonl"
            )))
        }
        None => importer::Format::from_path(std::path::Path::new(&name)).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "format: {name:?} does not end in .csv or .jsonl; give ?format=csv or ?format=jsonl \
                 (文件应为 .csv 或 .jsonl)"
            ))
        })?,
    };
    let max = state.limits().max_upload;
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = length.filter(|l| *l > max as u64) {
        return Err(ApiError::TooLarge(format!(
            "文件 {} 超过上传上限 {}：请分成多个文件上传，或用 verifier-server import 导入 \
             (the file is {length} bytes, more than the upload limit of {max} bytes; split it \
             or use verifier-server import)",
            mib(length),
            mib(max as u64)
        )));
    }
    // Read as it arrives: a body that grows past the limit fails the read
    // at the line reached, and what came before is kept.
    let limited = http_body_util::Limited::new(body, max);
    let stream = http_body_util::BodyDataStream::new(limited).map_err(move |e| {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e.as_ref());
        while let Some(c) = cause {
            if c.is::<http_body_util::LengthLimitError>() {
                return std::io::Error::other(format!(
                    "文件超过上传上限 {} (larger than {max} bytes)",
                    mib(max as u64)
                ));
            }
            if let Some(t) = c.downcast_ref::<super::BodyTimeout>() {
                return std::io::Error::other(format!("上传超时 ({t})"));
            }
            cause = c.source();
        }
        std::io::Error::other(format!("上传中断 (the upload broke off: {e})"))
    });
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let deadline = std::time::Instant::now() + state.limits().request_timeout.mul_f64(0.75);
    let upload = Upload {
        file_name: name,
        format,
        deadline,
    };
    let s = state.clone();
    let report = blocking(move || {
        s.write(|store, keys, now| uploads::upload(store, keys, &caller, now, &upload, reader))
            .map_err(|e| match e {
                UploadError::Unreadable(why) => ApiError::BadRequest(why),
                UploadError::Store(e) => e.into(),
                UploadError::Internal(e) => ApiError::Internal(e),
            })
    })
    .await?;
    Ok(Json(report).into_response())
}

/// `GET /api/v1/uploads/{id}/report.csv`: the per-record report of an
/// upload (UTF-8 with a byte-order mark; formula cells neutralised), for
/// the agency that uploaded it or an administrator.
#[utoipa::path(get, path = "/api/v1/uploads/{id}/report.csv", tag = "issuing",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The upload's id")),
    responses(
        (status = 200, description = "The report: line, type, number, result, version, field, rule, messages, identifier",
            content_type = "text/csv"),
        (status = 400, description = "The id is not a number",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not push (admin or agency only)",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such upload, or another agency's (answered alike)",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_report(
    State(state): State<AppState>,
    caller: Caller,
    p: Result<Path<i64>, ApiError>,
) -> Result<Response, ApiError> {
    let Path(id) = p?;
    require(&caller, &[Role::Admin, Role::Agency])?;
    let s = state.clone();
    let (_, csv) = blocking(move || {
        uploads::report_csv(s.store(), &caller, s.now(), id).map_err(|e| match e {
            e @ ReportError::NotFound(_) => ApiError::NotFound(e.to_string()),
            ReportError::Store(e) => e.into(),
        })
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"upload-{id}-report.csv\""),
            ),
        ],
        csv,
    )
        .into_response())
}
