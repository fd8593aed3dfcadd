//! `field-client serve`: the officer's scanner page and its local API, on
//! the device itself (loopback by default).
//!
//! The page (`scanner/dist`, made by `scripts/build-web`, embedded and
//! served by [`webassets`]: ETags, brotli/gzip) scans with the
//! camera or takes keyboard-wedge / typed text and asks this server for the
//! verdict. Every check goes through [`crate::check::check`]: the same
//! verification core and the same durable, hash-chained log as the command
//! line, so a check is logged (fsynced) before its verdict is answered.
//!
//! Guarding: every request must name this server in `Host` (the listen
//! address or `localhost`, never a DNS name that could be rebound), a
//! request that carries `Origin` must come from this same origin, and every
//! request that changes anything must carry it. Bodies are bounded per
//! route; answers carry a strict Content-Security-Policy.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use shared::checklog::{Disposition, Event, LookupBy};
use shared::qr::{decode_image, DecodeLimits, QrError};
use shared::verify::Verdict;
use webassets::{Missing, Site};

use crate::check::{self, Outcome};
use crate::db::Db;
use crate::lookup::{self as online, LookupError};
use crate::{device, sync, view};

/// The built page, embedded at compile time (read from disk in debug
/// builds). Missing when the page was not built: the server then answers a
/// page saying how to build it.
#[derive(webassets::RustEmbed)]
#[crate_path = "webassets::rust_embed"]
#[folder = "../scanner/dist/"]
#[allow_missing = true]
struct Assets;

/// How the page is served: at the root of this local server, under [`CSP`].
static SITE: Site = Site {
    name: "执法扫码查验页面 (officer's scanner)",
    prefix: "",
    source: "scanner/",
    csp: Some(CSP),
    service_worker: None,
};

/// Longest accepted QR text, bytes (a version-40 QR holds at most 4,296
/// alphanumeric characters).
pub const MAX_TEXT_BYTES: usize = 8 * 1024;
/// Largest accepted camera frame, bytes.
pub const MAX_FRAME_BYTES: usize = 6 * 1024 * 1024;
/// Largest JSON body of the other endpoints.
const MAX_JSON_BYTES: usize = 16 * 1024;
/// Longest disposition note, characters.
pub const MAX_NOTE_CHARS: usize = 500;
/// The same text checked again within this time is the same check.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(5);
/// Largest frame side the decoder accepts, pixels.
const MAX_FRAME_SIDE: u32 = 4096;

/// The Content-Security-Policy of every answer. `wasm-unsafe-eval` lets
/// the page compile the bundled zxing-wasm decoder; nothing else runs but
/// this origin's scripts.
pub const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; \
connect-src 'self'; worker-src 'self' blob:; manifest-src 'self'; base-uri 'none'; \
form-action 'none'; frame-ancestors 'none'";

/// Where the server listens and which data directory it uses.
#[derive(Debug, Clone)]
pub struct Config {
    /// The device's data directory (as for every other command).
    pub dir: PathBuf,
    /// The listen address (for the `Host` / `Origin` checks).
    pub listen: SocketAddr,
}

#[derive(Debug, Default)]
struct SyncState {
    running: bool,
    started: Option<i64>,
    messages: Vec<String>,
    outcome: Option<Value>,
}

struct Inner {
    db: Db,
    recent: Option<(String, Instant, Value)>,
}

/// Shared state of the scanner server.
#[derive(Clone)]
pub struct AppState {
    config: Arc<Config>,
    inner: Arc<Mutex<Inner>>,
    sync: Arc<Mutex<SyncState>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Opens the data directory's database.
    pub fn open(config: Config) -> anyhow::Result<AppState> {
        if !config.dir.is_dir() {
            anyhow::bail!(
                "data directory {} does not exist: enroll first",
                config.dir.display()
            );
        }
        let db = Db::open(&config.dir)?;
        Ok(AppState {
            config: Arc::new(config),
            inner: Arc::new(Mutex::new(Inner { db, recent: None })),
            sync: Arc::new(Mutex::new(SyncState::default())),
        })
    }

    fn inner(&self) -> Result<MutexGuard<'_, Inner>, ApiError> {
        self.inner
            .lock()
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("state lock poisoned")))
    }

    fn sync_state(&self) -> Result<MutexGuard<'_, SyncState>, ApiError> {
        self.sync
            .lock()
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("sync lock poisoned")))
    }
}

/// Errors of the local API: a stable code and a bilingual message.
#[derive(Debug)]
enum ApiError {
    Bad(StatusCode, &'static str, String),
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Bad(status, code, message) => {
                (status, Json(json!({"error": code, "message": message}))).into_response()
            }
            ApiError::Internal(e) => {
                eprintln!("field-client serve: {e:#}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({"error": "internal", "message": "内部错误，详见设备日志 / internal error, see the device log"})),
                )
                    .into_response()
            }
        }
    }
}

fn bad(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::Bad(status, code, message.into())
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(t)| t).map_err(|e| {
        let status = e.status();
        bad(
            status,
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "bad_request"
            },
            format!("请求无效 / bad request: {}", e.body_text()),
        )
    })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("worker: {e}")))?
}

/// The router: the page, its assets and the local API, behind the guard.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/api/check",
            post(check_text).layer(DefaultBodyLimit::max(MAX_TEXT_BYTES + 1024)),
        )
        .route(
            "/api/decode",
            post(decode_frame).layer(DefaultBodyLimit::max(MAX_FRAME_BYTES)),
        )
        .route("/api/dispose", post(dispose))
        .route("/api/lookup", post(lookup_online))
        .route("/api/status", get(status))
        .route("/api/checks", get(todays_checks))
        .route("/api/sync", get(sync_progress).post(start_sync))
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES));
    Router::new()
        .merge(api)
        .fallback(asset)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Whether `host` (a `Host` header value, or an origin without its scheme)
/// names this server: `localhost` or an IP literal this server listens on,
/// with its port. Never a DNS name: a rebound name would otherwise reach
/// the loopback server from another site's page.
fn host_allowed(host: &str, listen: SocketAddr) -> bool {
    let port = listen.port().to_string();
    let (name, p) = match host.rsplit_once(':') {
        Some((n, p)) if !n.is_empty() && !p.contains(']') => (n, p),
        _ => return false,
    };
    if p != port {
        return false;
    }
    if name.eq_ignore_ascii_case("localhost") {
        return listen.ip().is_loopback() || listen.ip().is_unspecified();
    }
    let literal = name.trim_start_matches('[').trim_end_matches(']');
    match literal.parse::<IpAddr>() {
        Ok(ip) => ip == listen.ip() || listen.ip().is_unspecified(),
        Err(_) => false,
    }
}

fn forbidden(code: &'static str, message: &str) -> Response {
    let mut r = (
        StatusCode::FORBIDDEN,
        Json(json!({"error": code, "message": message})),
    )
        .into_response();
    security_headers(r.headers_mut());
    r
}

async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let listen = state.config.listen;
    let headers = req.headers();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if !host.is_some_and(|h| host_allowed(h, listen)) {
        return forbidden(
            "bad_host",
            "Host 不是本机查验服务 / the Host header does not name this local server",
        );
    }
    let origin = headers
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or(""));
    match origin {
        Some(o) => {
            let same = o
                .strip_prefix("http://")
                .is_some_and(|h| host_allowed(h, listen));
            if !same {
                return forbidden(
                    "bad_origin",
                    "其他网页不能调用本机查验服务 / another origin may not drive this server",
                );
            }
        }
        None if req.method() != Method::GET && req.method() != Method::HEAD => {
            return forbidden(
                "origin_required",
                "请求缺少 Origin / a request that changes anything must carry Origin",
            );
        }
        None => {}
    }
    if req.uri().path().starts_with("/api/") {
        let site = headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none");
        if site != "same-origin" && site != "none" {
            return forbidden(
                "cross_site",
                "其他网站不能调用本机查验服务 / cross-site requests are refused",
            );
        }
    }
    let mut resp = next.run(req).await;
    security_headers(resp.headers_mut());
    resp
}

fn security_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(self), microphone=(), geolocation=()"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// A file of the page (`/` is its `index.html`), through [`webassets`]:
/// ETag and `no-cache` (a revisit costs a 304), the precompressed `.br` /
/// `.gz` the build wrote when the browser accepts them, and a page saying
/// how to build it when this binary was built without it.
async fn asset(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let path = uri.path().trim_start_matches('/');
    match SITE.respond::<Assets>(path, &headers) {
        Ok(response) => response,
        Err(Missing::NotBuilt) if path.is_empty() || path == "index.html" => SITE.not_built_page(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "not_found", "message": "没有此文件 / no such file"})),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckRequest {
    text: String,
    /// `camera`, `wedge`, `typed` or `frame`: echoed back.
    #[serde(default)]
    source: Option<String>,
}

fn next_step_zh(o: &Outcome) -> Option<&'static str> {
    (o.verdict == Verdict::CannotConfirm).then_some(
        "请同步名单后重新查验，或联网按证号、车牌号、身份证号查询；无法确认不代表无证，不得据此要求出示纸质证件以外的处理",
    )
}

fn next_step_en(o: &Outcome) -> Option<&'static str> {
    (o.verdict == Verdict::CannotConfirm).then_some(
        "sync the lists and scan again, or look the certificate up online by number, plate or ID number; cannot confirm is not proof of no licence",
    )
}

/// The answer for one check: the CLI's JSON plus the face view.
fn result_json(o: &Outcome, source: &str) -> Value {
    let mut v = o.to_json(source);
    let face = o.view.as_ref().map(|v| view::ScreenView::of(v, o.at));
    if let Value::Object(m) = &mut v {
        m.insert("face".into(), json!(face));
        m.insert("at_cst".into(), json!(view::cst_time(o.at)));
        m.insert("next_step_zh".into(), json!(next_step_zh(o)));
        m.insert("next_step_en".into(), json!(next_step_en(o)));
        m.insert("repeat".into(), json!(false));
    }
    v
}

fn run_check(state: &AppState, text: &str, source: &str) -> Result<Value, ApiError> {
    let now = device::now()?;
    let mut inner = state.inner()?;
    if let Some((t, when, answer)) = &inner.recent {
        if t == text && when.elapsed() < REPEAT_WINDOW {
            let mut a = answer.clone();
            a["repeat"] = json!(true);
            return Ok(a);
        }
    }
    let inner = &mut *inner;
    if !inner.db.is_enrolled()? {
        return Err(bad(
            StatusCode::CONFLICT,
            "not_enrolled",
            "本设备未注册：请先运行 field-client enroll / this device is not enrolled: run enroll first",
        ));
    }
    // Verified again from the stored signed bytes for every check; a store
    // that fails is `cannot_confirm` / `store_tampered`.
    let held = inner.db.lists()?;
    // Logged durably before the verdict is answered.
    let o = check::check(&mut inner.db, &held, text, now)?;
    let answer = result_json(&o, source);
    inner.recent = Some((text.to_string(), Instant::now(), answer.clone()));
    Ok(answer)
}

async fn check_text(
    State(state): State<AppState>,
    body: Result<Json<CheckRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let req = json_body(body)?;
    let text = req.text.trim().to_string();
    if text.is_empty() {
        return Err(bad(
            StatusCode::BAD_REQUEST,
            "empty",
            "没有内容 / nothing to check",
        ));
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(bad(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("内容过长 / the text is over {MAX_TEXT_BYTES} bytes"),
        ));
    }
    let source = match req.source.as_deref() {
        Some(s @ ("camera" | "wedge" | "typed" | "frame")) => s.to_string(),
        _ => "typed".to_string(),
    };
    let answer = blocking(move || run_check(&state, &text, &source)).await?;
    Ok(Json(answer))
}

/// Decodes one camera frame (PNG or JPEG) with the Rust decoder
/// (`shared::qr`): answers the texts read, checks nothing.
async fn decode_frame(headers: HeaderMap, body: Bytes) -> Result<Json<Value>, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !(ct.starts_with("image/png") || ct.starts_with("image/jpeg")) {
        return Err(bad(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_an_image",
            "只接受 PNG 或 JPEG 图片 / send a PNG or JPEG frame",
        ));
    }
    let started = Instant::now();
    let limits = DecodeLimits {
        max_width: MAX_FRAME_SIDE,
        max_height: MAX_FRAME_SIDE,
        max_alloc: 128 * 1024 * 1024,
        max_input_bytes: MAX_FRAME_BYTES,
        timeout: Duration::from_secs(2),
    };
    let result = blocking(move || Ok(decode_image(&body, &limits))).await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(texts) => Ok(Json(json!({"texts": texts, "decode_ms": ms}))),
        Err(QrError::NoCodeFound) => Ok(Json(json!({"texts": [], "decode_ms": ms}))),
        Err(QrError::NotAnImage) => Err(bad(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_an_image",
            "不是 PNG 或 JPEG 图片 / not a PNG or JPEG image",
        )),
        Err(e @ (QrError::InputTooLarge { .. } | QrError::DimensionsTooLarge { .. })) => Err(bad(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("图片过大 / {e}"),
        )),
        Err(e) => Err(bad(
            StatusCode::UNPROCESSABLE_ENTITY,
            "image_error",
            format!("图片无法识别 / the image could not be read: {e}"),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupRequest {
    /// `plate`, `id_number` or `number`.
    by: String,
    /// What to look for, as the officer typed it.
    value: String,
}

/// Longest lookup value, characters (a printed certificate number with its
/// prefix is about 30).
pub const MAX_LOOKUP_CHARS: usize = 64;

/// The page's answer for an online lookup: the same shape as a check (so
/// the same result screen shows it), `kind: "lookup"`, the first
/// certificate found as the face (the server sends the valid ones first).
fn lookup_json(o: &online::Outcome) -> Value {
    let at = o.answer.checked_at;
    let first = o.answer.results.first();
    json!({
        "kind": "lookup",
        "check_id": o.check_id,
        "by": o.by.as_str(),
        "verdict": o.verdict.as_str(),
        "reason": o.reason.map(|r| r.code()),
        "reason_zh": o.reason.map(|r| r.message_zh()),
        "reason_en": o.reason.map(|r| r.message_en()),
        "status": first.map(|f| f.status.clone()),
        "found": o.answer.results.len(),
        "face": first.map(|f| view::ScreenView::of(&f.face, at)),
        "at": at,
        "at_cst": view::cst_time(at),
        "next_step_zh": (o.verdict == Verdict::CannotConfirm)
            .then_some("未查到该证照：核对输入后重试，或按其他方式（车牌号、身份证号、证号）查询"),
        "next_step_en": (o.verdict == Verdict::CannotConfirm)
            .then_some("nothing found: check what was typed, or search by plate, ID number or certificate number instead"),
        "repeat": false,
    })
}

/// Online lookup (§6.5), as `field-client lookup`: asks the server with the
/// officer's token, logs a record of kind `lookup` (durable) and only then
/// answers. The database is not held while the server is asked. Offline:
/// 503 `offline`, nothing logged.
async fn lookup_online(
    State(state): State<AppState>,
    body: Result<Json<LookupRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let req = json_body(body)?;
    let Some(by) = LookupBy::from_name(&req.by) else {
        return Err(bad(
            StatusCode::BAD_REQUEST,
            "bad_by",
            "查询方式应为车牌号、身份证号或证号 / search by plate, id_number or number",
        ));
    };
    let value = req.value.trim().to_string();
    if value.is_empty()
        || value.chars().count() > MAX_LOOKUP_CHARS
        || value.chars().any(char::is_control)
    {
        return Err(bad(
            StatusCode::BAD_REQUEST,
            "bad_value",
            format!("请输入要查询的号码（不超过 {MAX_LOOKUP_CHARS} 个字符）/ type what to look for (at most {MAX_LOOKUP_CHARS} characters)"),
        ));
    }
    let answer = blocking(move || {
        let enrollment = state.inner()?.db.enrollment()?;
        let Some(e) = enrollment else {
            return Err(bad(
                StatusCode::CONFLICT,
                "not_enrolled",
                "本设备未注册：请先运行 field-client enroll / this device is not enrolled: run enroll first",
            ));
        };
        let answered = match online::query(&e.server, &e.token, e.ca_pem.as_deref(), by, &value) {
            Ok(a) => a,
            Err(LookupError::Offline(err)) => {
                eprintln!("field-client serve: lookup offline: {err:#}");
                return Err(bad(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "offline",
                    "联网查询需要网络连接：当前无法连接服务器，未记录查询。请扫码查验，或联网后重试 / lookup needs a connection: the server cannot be reached, nothing was logged",
                ));
            }
            Err(LookupError::Refused { status, detail }) => {
                let code = StatusCode::from_u16(status)
                    .ok()
                    .filter(|s| s.is_client_error() && *s != StatusCode::UNAUTHORIZED && *s != StatusCode::FORBIDDEN)
                    .unwrap_or(StatusCode::BAD_GATEWAY);
                return Err(bad(
                    code,
                    if status == 429 { "rate_limited" } else { "refused" },
                    format!("服务器拒绝了查询 / the server refused the lookup ({status}): {detail}"),
                ));
            }
            Err(LookupError::Other(err)) => return Err(ApiError::Internal(err)),
        };
        let now = device::now()?;
        let mut inner = state.inner()?;
        // Logged durably before the answer is shown.
        let o = online::record(&mut inner.db, answered, now)?;
        Ok(lookup_json(&o))
    })
    .await?;
    Ok(Json(answer))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisposeRequest {
    check_id: u64,
    accepted: bool,
    #[serde(default)]
    reason: String,
}

/// What recording a decision did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Disposed {
    /// The disposition's own log record.
    pub record: u64,
    /// The check it decides.
    pub check_id: u64,
    /// Accepted or refused.
    pub accepted: bool,
    /// The check's verdict.
    pub verdict: &'static str,
    /// A valid certificate was refused: an incident (Annex A item 4).
    pub valid_refused_incident: bool,
}

/// Records the decision on check `check_id`, as `field-client dispose`.
pub fn record_disposition(
    db: &mut Db,
    check_id: u64,
    accepted: bool,
    note: &str,
    now: i64,
) -> anyhow::Result<Disposed> {
    let row = db
        .record(check_id)?
        .ok_or_else(|| anyhow::anyhow!("check {check_id} is not in the log"))?;
    let verdict = match &row.record.event {
        Event::Check(c) => c.verdict,
        Event::Lookup(l) => l.verdict,
        Event::Disposition(_) => anyhow::bail!("record {check_id} is a disposition, not a check"),
    };
    let sealed = db.append(
        now,
        Event::Disposition(Disposition {
            check_seq: check_id,
            accepted,
            note: note.to_string(),
        }),
    )?;
    Ok(Disposed {
        record: sealed.record.seq,
        check_id,
        accepted,
        verdict: verdict.as_str(),
        valid_refused_incident: !accepted && verdict == Verdict::Valid,
    })
}

async fn dispose(
    State(state): State<AppState>,
    body: Result<Json<DisposeRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let req = json_body(body)?;
    let note = req.reason.trim().to_string();
    if note.chars().count() > MAX_NOTE_CHARS || note.chars().any(char::is_control) {
        return Err(bad(
            StatusCode::BAD_REQUEST,
            "bad_reason",
            format!("原因过长或含控制字符 / the reason must be at most {MAX_NOTE_CHARS} characters of text"),
        ));
    }
    if !req.accepted && note.is_empty() {
        return Err(bad(
            StatusCode::BAD_REQUEST,
            "reason_required",
            "拒绝时必须填写原因 / a refusal needs a reason",
        ));
    }
    let note = if note.is_empty() {
        "现场接受 accepted at the roadside".to_string()
    } else {
        note
    };
    let d = blocking(move || {
        let now = device::now()?;
        let mut inner = state.inner()?;
        let known = inner
            .db
            .record(req.check_id)?
            .is_some_and(|r| matches!(r.record.event, Event::Check(_) | Event::Lookup(_)));
        if !known {
            return Err(bad(
                StatusCode::NOT_FOUND,
                "no_such_check",
                format!(
                    "查验记录 {} 不存在 / no check {}",
                    req.check_id, req.check_id
                ),
            ));
        }
        Ok(record_disposition(
            &mut inner.db,
            req.check_id,
            req.accepted,
            &note,
            now,
        )?)
    })
    .await?;
    Ok(Json(json!(d)))
}

/// Unix time of the last midnight in China Standard Time before `now`.
pub fn cst_day_start(now: i64) -> i64 {
    shared::cst::day_start(shared::cst::date(now))
}

async fn status(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let v = blocking(move || {
        let now = device::now()?;
        let inner = state.inner()?;
        let e = match inner.db.sealed()? {
            Ok(Some((e, _))) => e,
            Ok(None) => {
                return Ok(json!({"enrolled": false, "stale": "not_enrolled", "now": now}));
            }
            Err(t) => {
                return Ok(json!({"enrolled": true, "stale": "store_tampered",
                                 "message": t.to_string(), "now": now}));
            }
        };
        let counts = inner.db.counts()?;
        let last_sync = inner.db.int("last_sync")?;
        let held = inner.db.lists()?;
        let lists = held.as_ref().ok().and_then(Option::as_ref);
        let tampered = held.as_ref().err().map(ToString::to_string);
        let newest = lists.map_or(0, |l| l.newest_seen);
        let status = lists.and_then(|l| l.status.as_ref());
        let (age, stale, ttl, max_age) = match status {
            None if tampered.is_some() => (None, "store_tampered", None, None),
            None => (None, "no_lists", None, None),
            Some((_, m)) => {
                let age = m.age(now.max(newest));
                let stale = if age > i64::try_from(m.max_age).unwrap_or(i64::MAX) {
                    "too_old"
                } else if age > i64::try_from(m.ttl).unwrap_or(i64::MAX) {
                    "older_than_ttl"
                } else {
                    "fresh"
                };
                (Some(age), stale, Some(m.ttl), Some(m.max_age))
            }
        };
        Ok(json!({
            "enrolled": true,
            "server": e.server,
            "device_id": e.device_id,
            "now": now,
            "last_sync": last_sync,
            "last_sync_cst": last_sync.map(|t| format!("{} {}", shared::cst::date(t), view::cst_time(t))),
            "data_age_seconds": age,
            "ttl": ttl,
            "max_age": max_age,
            "stale": stale,
            "message": tampered,
            "clock_behind_seconds": (newest > now).then_some(newest - now),
            "checks_total": counts.total,
            "checks_pending": counts.total - counts.uploaded,
        }))
    })
    .await?;
    Ok(Json(v))
}

/// Records read back for the day's list.
const DAY_LIST_LIMIT: u64 = 2000;

async fn todays_checks(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let v = blocking(move || {
        let now = device::now()?;
        let start = cst_day_start(now);
        let inner = state.inner()?;
        let total = inner.db.counts()?.total;
        let rows = inner
            .db
            .records_from(total.saturating_sub(DAY_LIST_LIMIT), usize::MAX >> 1)?;
        let mut checks: Vec<Value> = Vec::new();
        for r in rows.iter().filter(|r| r.record.at >= start) {
            match &r.record.event {
                Event::Check(c) => checks.push(json!({
                    "check_id": r.record.seq,
                    "at": r.record.at,
                    "time_cst": view::cst_time(r.record.at),
                    "verdict": c.verdict.as_str(),
                    "reason": c.reason.map(|x| x.code()),
                    "reason_zh": c.reason.map(|x| x.message_zh()),
                    "type_name_zh": c.cert.as_ref().map(|x| x.cert_type.name_zh()),
                    "number": c.cert.as_ref().map(|x| x.number.clone()),
                    "uploaded": r.uploaded,
                    "decision": Value::Null,
                })),
                Event::Lookup(l) => checks.push(json!({
                    "check_id": r.record.seq,
                    "kind": "lookup",
                    "at": r.record.at,
                    "time_cst": view::cst_time(r.record.at),
                    "verdict": l.verdict.as_str(),
                    "reason": l.reason.map(|x| x.code()),
                    "reason_zh": l.reason.map(|x| x.message_zh()),
                    "type_name_zh": l.cert.as_ref().map(|x| x.cert_type.name_zh()),
                    "number": l.cert.as_ref().map(|x| x.number.clone()),
                    "uploaded": r.uploaded,
                    "decision": Value::Null,
                })),
                Event::Disposition(d) => {
                    if let Some(c) = checks.iter_mut().find(|c| c["check_id"] == d.check_seq) {
                        c["decision"] = json!({"accepted": d.accepted, "note": d.note});
                    }
                }
            }
        }
        checks.reverse();
        Ok(json!({
            "date_cst": shared::cst::date(now).to_string(),
            "checks": checks,
        }))
    })
    .await?;
    Ok(Json(v))
}

async fn sync_progress(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let s = state.sync_state()?;
    Ok(Json(json!({
        "running": s.running,
        "started": s.started,
        "messages": s.messages,
        "outcome": s.outcome,
    })))
}

/// Starts a sync (as `field-client sync`) on its own thread and database
/// connection, so checks go on meanwhile; `GET /api/sync` shows progress.
async fn start_sync(State(state): State<AppState>) -> Result<Response, ApiError> {
    let now = device::now()?;
    {
        let mut s = state.sync_state()?;
        if s.running {
            return Err(bad(
                StatusCode::CONFLICT,
                "sync_running",
                "正在同步 / a sync is already running",
            ));
        }
        *s = SyncState {
            running: true,
            started: Some(now),
            messages: vec!["开始同步 / starting".to_string()],
            outcome: None,
        };
    }
    let st = state.clone();
    std::thread::spawn(move || {
        let result = (|| -> anyhow::Result<sync::SyncReport> {
            let mut db = Db::open(&st.config.dir)?;
            let key = device::load(&st.config.dir)?
                .ok_or_else(|| anyhow::anyhow!("no device key: enroll first"))?;
            let progress_state = st.sync.clone();
            sync::sync(&mut db, &key, None, now, &mut |m| {
                if let Ok(mut s) = progress_state.lock() {
                    s.messages.push(m.to_string());
                }
            })
        })();
        let outcome = match result {
            Ok(r) => json!({
                "ok": r.upload.is_ok(),
                "report": r,
                "message": match &r.upload {
                    Ok(u) => format!("同步完成：信任列表 {}，状态列表 {}；上传 {} 条，待传 {} 条 / synced", r.trust_seq, r.status_seq, u.accepted, u.pending),
                    Err(e) => format!("名单已更新，上传失败 / lists applied, upload failed: {e}"),
                },
            }),
            Err(e) => json!({
                "ok": false,
                "message": format!("同步失败，本机数据未改变 / sync failed, local data unchanged: {e:#}"),
            }),
        };
        if let Ok(mut s) = st.sync.lock() {
            s.running = false;
            s.outcome = Some(outcome);
        }
    });
    Ok((StatusCode::ACCEPTED, Json(json!({"running": true}))).into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let l: SocketAddr = "127.0.0.1:8765".parse().unwrap();
        assert!(host_allowed("127.0.0.1:8765", l));
        assert!(host_allowed("localhost:8765", l));
        assert!(!host_allowed("127.0.0.1:8766", l));
        assert!(!host_allowed("evil.example:8765", l));
        assert!(!host_allowed("127.0.0.1", l));
        assert!(!host_allowed("10.0.0.1:8765", l));
        assert!(!host_allowed(":8765", l));
        let any: SocketAddr = "0.0.0.0:8765".parse().unwrap();
        assert!(host_allowed("192.168.1.20:8765", any));
        assert!(!host_allowed("rebind.example:8765", any));
        let v6: SocketAddr = "[::1]:9000".parse().unwrap();
        assert!(host_allowed("[::1]:9000", v6));
        assert!(host_allowed("localhost:9000", v6));
    }

    #[test]
    fn day_start() {
        // 2026-01-01 16:30 UTC = 2026-01-02 00:30 CST; the day began at 16:00 UTC.
        assert_eq!(cst_day_start(1_767_285_000), 1_767_283_200);
    }
}
