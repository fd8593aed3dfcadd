//! The province administrator's dashboard, rendered by the server in
//! Chinese, every time in China Standard Time, no script and nothing from
//! elsewhere (it works on a closed network).
//!
//! `GET /admin/dashboard` answers the sign-in form; it posts the token in
//! the body (never in a URL, so never in access logs or history) to `POST
//! /admin/dashboard`, which sets it as an `HttpOnly`, `SameSite=Strict`
//! cookie scoped to `/admin/dashboard` (`Secure` when the request came over
//! HTTPS, [`Https`]) and redirects to the view. Every
//! other page reads that cookie (and nothing else) as the caller's token;
//! every form posts back to the same origin (checked by `Origin`, and
//! `form-action 'self'` in the CSP).
//!
//! - `GET …/view?year=&division=&type=`: the drill-down (province → city →
//!   county → agency, and by certificate type): scores of the unit and its
//!   parts, monthly rates as inline SVG, incidents and anomalies, overdue
//!   agencies and open correction lists, training records with their
//!   evidence files, and (administrators) the entry forms;
//! - `GET …/agency/{division}`: an agency's push state and open
//!   correction list with reasons;
//! - `GET …/export?what=&year=&division=&type=`: the same tables as CSV
//!   (UTF-8 BOM, formula cells escaped by [`shared::csvexport`]);
//! - `POST …/training` (multipart, with evidence files), `…/declared`,
//!   `…/complaints`: the administrator's entries, by the evaluation
//!   service's rules;
//! - `GET …/evidence/{sha256}`: an evidence file; `POST …/sign-out`.

use std::fmt::Write as _;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Multipart, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use html_escape::encode_double_quoted_attribute as attr;
use html_escape::encode_text as esc;
use serde::Deserialize;
use shared::api::{ComplaintBody, Coverage, DeclaredBody, Event, Evidence, Score, TrainingBody};
use shared::domain::{CertType, DivisionCode, Jurisdiction};

use super::audit::{AuditSlot, Who};
use super::auth::require;
use super::client_addr::{ClientAddr, Https};
use super::error::{blocking, ApiError};
use super::extract::{Path, Query};
use crate::service::action::Action;
use crate::service::auth::{self, Caller, Role};
use crate::service::evaluation::{self as service, Drill, Operations, Scope};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The dashboard's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_dashboard, post_dashboard))
        .routes(routes!(get_view))
        .routes(routes!(get_agency))
        .routes(routes!(get_export))
        .routes(routes!(post_training))
        .routes(routes!(post_declared))
        .routes(routes!(post_complaint))
        .routes(routes!(get_evidence))
        .routes(routes!(post_sign_out))
}

/// The cookie holding the signed-in caller's token.
const COOKIE: &str = "lnec_dashboard";
/// How long a sign-in lasts, seconds.
const SESSION_SECONDS: u32 = 8 * 3600;
/// Most bytes of a training form (its files included).
const MAX_TRAINING_FORM: usize = service::MAX_EVIDENCE_BYTES * 2 + 64 * 1024;

/// Query of the sign-in form.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DashboardQuery {
    /// The year to show (default: the current year).
    year: Option<i32>,
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DashboardForm {
    /// An administrator's or auditor's bearer token.
    token: String,
    /// The year.
    year: i32,
}

/// What a view or an export shows.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ViewQuery {
    /// The year (default: the current year).
    year: Option<i32>,
    /// The province (210000, default), a city or a county.
    division: Option<u32>,
    /// One certificate type's code only.
    #[serde(rename = "type")]
    cert_type: Option<String>,
    /// What was just saved (`training`, `declared`, `complaint`).
    saved: Option<String>,
}

/// Which table an export holds.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// `parts` (scores of the unit's parts), `types` (by certificate
    /// type), `anomalies`, `incidents`, `corrections` (of an agency:
    /// `division` is the agency's).
    what: String,
    /// The year (default: the current year).
    year: Option<i32>,
    /// The unit (default the province).
    division: Option<u32>,
    /// One certificate type's code only.
    #[serde(rename = "type")]
    cert_type: Option<String>,
}

/// The declared-count form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DeclaredForm {
    /// Year.
    year: i32,
    /// City code.
    division: u32,
    /// Type code.
    cert_type: String,
    /// How many physical certificates are not yet collected.
    count: u64,
}

/// The complaint form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ComplaintForm {
    /// Year.
    year: i32,
    /// City code.
    division: u32,
    /// What happened.
    description: String,
    /// `yes` when upheld.
    upheld: Option<String>,
}

fn current_year(state: &AppState) -> i32 {
    shared::cst::year(state.now())
}

const STYLE: &str = "*{box-sizing:border-box}body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;\
margin:0;color:#1d2733;background:#f4f6f8;font-size:15px}header{background:#1f4e79;color:#fff;padding:.6em 1em;\
display:flex;flex-wrap:wrap;gap:.5em;align-items:center;justify-content:space-between}header h1{font-size:1.15em;margin:0}\
header form{margin:0}main{padding:.5em 1em 2em;max-width:1400px}section{background:#fff;border:1px solid #d8dee4;\
border-radius:6px;padding:.6em .9em;margin:.8em 0}h2{font-size:1.05em;margin:.2em 0 .5em}.scroll{overflow-x:auto}\
table{border-collapse:collapse;min-width:100%}td,th{border-bottom:1px solid #e3e7eb;padding:.3em .45em;text-align:right;\
white-space:nowrap}th{background:#eef2f5;font-weight:600}td.l,th.l{text-align:left}td.w{white-space:normal;min-width:14em}\
.zero{color:#b00020;font-weight:bold}nav.crumbs a,nav.types a{margin-right:.6em}nav.types a.on{font-weight:bold;\
text-decoration:none;color:#1d2733}.bar{display:flex;flex-wrap:wrap;gap:.4em;margin:.4em 0}\
a.btn,button{display:inline-block;background:#1f6fb2;color:#fff;border:0;border-radius:4px;padding:.35em .8em;\
font-size:.95em;text-decoration:none;cursor:pointer}a.btn.csv{background:#2e7d32}header button{background:#3a6e9e}\
.charts{display:flex;flex-wrap:wrap;gap:.8em}.charts svg{max-width:100%;height:auto;background:#fafbfc;\
border:1px solid #e3e7eb}form.entry{display:grid;grid-template-columns:max-content 1fr;gap:.4em .6em;\
align-items:center;max-width:40em}form.entry label{text-align:right}form.entry input,form.entry select,\
form.entry textarea{font:inherit;padding:.25em;width:100%}form.entry .full{grid-column:1/-1}\
.notice{background:#e8f5e9;border-color:#a5d6a7}.warn{background:#fff3e0;border-color:#ffcc80}.muted{color:#5f6b76}\
@media (max-width:600px){main{padding:.3em .4em}form.entry{grid-template-columns:1fr}form.entry label{text-align:left}}";

/// A page; `province` names the running province in the header (empty on
/// a refusal page, which is drawn without the server's state).
fn page(province: &str, title: &str, header_right: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"same-origin\"><title>{t}</title><style>{STYLE}</style></head>\
         <body><header><h1>{p}道路运输电子证照 · 年度考核</h1>{header_right}</header><main>{body}</main></body></html>",
        t = esc(title),
        p = esc(province)
    );
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "same-origin"),
        ],
        Html(html),
    )
        .into_response()
}

fn sign_in_form(year: i32, message: &str) -> String {
    format!(
        "<section>{message}<h2>登录</h2>\
         <form class=\"entry\" method=\"post\" action=\"/admin/dashboard\" autocomplete=\"off\">\
         <label for=\"token\">访问令牌</label><input id=\"token\" name=\"token\" type=\"password\" required>\
         <label for=\"year\">考核年度</label><input id=\"year\" name=\"year\" type=\"number\" value=\"{year}\" min=\"2000\" max=\"2999\">\
         <span></span><button id=\"show\" type=\"submit\">登录并查看</button></form>\
         <p class=\"muted\">仅限省级管理员和审计员。令牌只随表单提交，不出现在网址中。</p></section>"
    )
}

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

fn token_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// An answer that is a page (a redirect to the sign-in, or an error page)
/// rather than problem details: the dashboard is read by people.
pub enum Refusal {
    /// Not signed in (or the sign-in ended): back to the form.
    SignIn,
    /// A refusal shown as a page with its status.
    Page(StatusCode, String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::SignIn => see_other("/admin/dashboard"),
            Refusal::Page(status, message) => {
                let mut r = page(
                    "",
                    "未完成",
                    "",
                    &format!(
                        "<section class=\"warn\" id=\"error\"><h2>未完成</h2><p>{}</p>\
                         <p><a href=\"/admin/dashboard/view\">返回总览</a></p></section>",
                        esc(&message)
                    ),
                );
                *r.status_mut() = status;
                r
            }
        }
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Refusal {
        let status = e.status();
        let message = match &e {
            ApiError::Internal(_) => "服务器内部错误，请稍后再试".to_string(),
            ApiError::Unauthenticated(_) | ApiError::TokenExpired(_) => return Refusal::SignIn,
            ApiError::Forbidden(_) => "当前令牌无权进行此操作（需省级管理员）".to_string(),
            ApiError::TooLarge(d) => format!("文件过大：{d}"),
            ApiError::NotFound(d) => format!("未找到：{d}"),
            other => format!("输入有误，未保存：{other}"),
        };
        Refusal::Page(status, message)
    }
}

/// The signed-in caller from the cookie; a refusal is noted for the audit
/// layer like a bearer token's.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    slot: Option<&Extension<AuditSlot>>,
    client: Option<std::net::IpAddr>,
    roles: &[Role],
) -> Result<Caller, Refusal> {
    let Some(token) = token_cookie(headers) else {
        return Err(Refusal::SignIn);
    };
    let s = state.clone();
    let found = blocking(move || Ok(auth::authenticate(s.store(), Some(&token), s.now())?)).await?;
    let note = |who: Who| {
        if let Some(Extension(slot)) = slot {
            slot.set(who);
        }
    };
    match found {
        Ok(caller) => {
            let caller = Caller {
                client_addr: client,
                province: state.province().division(),
                ..caller
            };
            note(Who::Caller(caller.clone()));
            require(&caller, roles)?;
            Ok(caller)
        }
        Err(failure) => {
            note(Who::Refused(failure));
            Err(Refusal::SignIn)
        }
    }
}

/// A form posted from elsewhere is refused: browsers send `Origin` with
/// every POST; when present it must be this host. (The pages' referrer
/// policy is `same-origin`: under `no-referrer` Chromium sends `Origin:
/// null` and every form would be refused.)
fn same_origin(headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    if !host.is_empty() && origin_host == host {
        Ok(())
    } else {
        Err(Refusal::Page(
            StatusCode::FORBIDDEN,
            "表单来自其他网站，已拒绝".into(),
        ))
    }
}

/// `GET /admin/dashboard?year=`: the sign-in form.
#[utoipa::path(get, path = "/admin/dashboard", tag = "evaluation",
    params(DashboardQuery),
    responses(
        (status = 200, description = "The sign-in form (HTML)", content_type = "text/html"),
        (status = 400, description = "Bad year",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_dashboard(
    State(state): State<AppState>,
    q: Result<Query<DashboardQuery>, ApiError>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let year = match q.year {
        None => current_year(&state),
        y => super::evaluation::check_year(y, "query parameter year")?,
    };
    Ok(page(
        state.province().name_zh,
        "年度考核 · 登录",
        "",
        &sign_in_form(year, ""),
    ))
}

/// `POST /admin/dashboard` (form: `token`, `year`): signs in (the cookie)
/// and redirects to the view.
#[utoipa::path(post, path = "/admin/dashboard", tag = "evaluation",
    request_body(content = DashboardForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed in: to the view, with the session cookie"),
        (status = 400, description = "Bad form",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown, revoked or expired token",
            body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator or auditor",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_dashboard(
    State(state): State<AppState>,
    slot: Option<Extension<AuditSlot>>,
    ClientAddr(client): ClientAddr,
    Https(https): Https,
    f: Result<Form<DashboardForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(f) = f.map_err(|e| ApiError::BadRequest(format!("form: {}", e.body_text())))?;
    let s = state.clone();
    let token = f.token.trim().to_string();
    let checked = token.clone();
    let found =
        blocking(move || Ok(auth::authenticate(s.store(), Some(&checked), s.now())?)).await?;
    let note = |who: Who| {
        if let Some(Extension(slot)) = &slot {
            slot.set(who);
        }
    };
    let caller = match found {
        Ok(caller) => {
            let caller = Caller {
                client_addr: client,
                province: state.province().division(),
                ..caller
            };
            note(Who::Caller(caller.clone()));
            caller
        }
        Err(failure) => {
            note(Who::Refused(failure));
            return Err(ApiError::from(failure));
        }
    };
    require(&caller, &[Role::Admin, Role::Auditor])?;
    let year = super::evaluation::check_year(Some(f.year), "form field year")?;
    if !token
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b';' && b != b',')
    {
        return Err(ApiError::BadRequest("form field token: not a token".into()));
    }
    let s = state.clone();
    blocking(move || {
        Ok(service::note(
            s.store(),
            &caller,
            s.now(),
            Action::PostDashboard,
            "sign-in",
        )?)
    })
    .await?;
    let mut r = see_other(&format!("/admin/dashboard/view?year={year}"));
    let cookie = format!(
        "{COOKIE}={token}; {}Max-Age={SESSION_SECONDS}",
        cookie_attributes(https)
    );
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

/// `POST /admin/dashboard/sign-out`: forgets the cookie.
#[utoipa::path(post, path = "/admin/dashboard/sign-out", tag = "evaluation",
    responses((status = 303, description = "To the sign-in form, the cookie cleared")))]
pub async fn post_sign_out(Https(https): Https) -> Response {
    let mut r = see_other("/admin/dashboard");
    let cookie = format!("{COOKIE}=; {}Max-Age=0", cookie_attributes(https));
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// The session cookie's attributes before `Max-Age`: never sent to
/// scripts or from other sites, only under the dashboard, and `Secure`
/// when the client reached this server over HTTPS (its own TLS or a
/// trusted proxy's word), so the browser never sends it over plain HTTP
/// again. Plain-HTTP deployments (a loopback demo) keep a cookie they can
/// use.
fn cookie_attributes(https: bool) -> &'static str {
    if https {
        "Path=/admin/dashboard; HttpOnly; SameSite=Strict; Secure; "
    } else {
        "Path=/admin/dashboard; HttpOnly; SameSite=Strict; "
    }
}

/// The running province as the dashboard's top unit.
fn province_unit(province: &Jurisdiction) -> DivisionCode {
    DivisionCode::from_u32(province.code).unwrap_or(DivisionCode::PROVINCE)
}

/// The unit and type of a query, checked.
fn scope(
    province: &Jurisdiction,
    division: Option<u32>,
    cert_type: Option<&str>,
) -> Result<Scope, ApiError> {
    let division = match division {
        None => province_unit(province),
        Some(c) => DivisionCode::from_u32(c)
            .map_err(|e| ApiError::BadRequest(format!("query parameter division: {e}")))?,
    };
    let cert_type = match cert_type.map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => Some(super::extract::parse_type(t)?),
    };
    Ok(Scope {
        division,
        cert_type,
    })
}

fn year_of(state: &AppState, year: Option<i32>) -> Result<i32, ApiError> {
    match year {
        None => Ok(current_year(state)),
        y => super::evaluation::check_year(y, "query parameter year"),
    }
}

/// The name a unit is shown by: 辽宁省, the city, or the county with its
/// city (沈阳市和平区), from the GB/T 2260 table in `shared`.
pub fn division_name(d: DivisionCode) -> String {
    if d.is_county() {
        format!("{}{}", d.city().name_zh(), d.name_zh())
    } else {
        d.name_zh().to_string()
    }
}

fn kind_zh(kind: &str) -> &'static str {
    match kind {
        "refusal" => "拒认有效电子证照",
        "upheld_complaint" => "投诉成立",
        "revoked_device" => "已注销设备的记录",
        "signature_not_verified" => "签名未通过验证",
        "presentation_not_verified" => "持证人出示未通过验证",
        "presentation_required" => "应由持证人出示却扫描静态码",
        "unknown_certificate" => "库中无此证照",
        "time_out_of_bounds" => "记录时间不可信",
        "burst" => "短时集中查验（不计入）",
        "off_hours_burst" => "非工作时间集中查验",
        "many_devices" => "同一账号登记设备过多",
        "rejected_upload" => "查验记录上传被拒",
        "refused_enrollment" => "设备登记被拒",
        _ => "其他",
    }
}

fn coverage_zh(c: &str) -> &'static str {
    match Coverage::parse(c) {
        Some(Coverage::Full) => "全面",
        Some(Coverage::Partial) => "部分",
        Some(Coverage::Little) => "较少",
        None => "未知",
    }
}

fn pct(p: Option<f64>) -> String {
    p.map_or_else(|| "–".into(), |p| format!("{p:.1}%"))
}

fn points(p: u8) -> String {
    if p == 0 {
        "<span class=\"zero\">0</span>".into()
    } else {
        p.to_string()
    }
}

fn view_link(year: i32, d: DivisionCode, t: Option<CertType>) -> String {
    let mut s = format!("/admin/dashboard/view?year={year}&division={:06}", d.code());
    if let Some(t) = t {
        let _ = write!(s, "&type={}", t.code());
    }
    s
}

fn export_link(what: &str, year: i32, d: DivisionCode, t: Option<CertType>) -> String {
    let mut s = format!(
        "/admin/dashboard/export?what={what}&year={year}&division={:06}",
        d.code()
    );
    if let Some(t) = t {
        let _ = write!(s, "&type={}", t.code());
    }
    s
}

fn score_row(s: &Score, label: &str) -> String {
    format!(
        "<tr data-division=\"{d}\"><td class=\"l\">{d:06}</td><td class=\"l\">{label}</td>\
         <td class=\"iss-frac\">{in}/{id}</td><td>{ip}</td><td class=\"iss-pts\">{ipts}</td>\
         <td class=\"act-frac\">{an}/{ad}</td><td>{ap}</td><td class=\"act-pts\">{apts}</td>\
         <td class=\"trn-pts\">{tp}</td><td class=\"dsp-pts\">{dp}</td><td class=\"total\">{total}</td>\
         <td class=\"open\">{open}</td><td class=\"anomalies\">{anom}</td></tr>",
        d = s.division,
        in = s.issuance.rate.numerator,
        id = s.issuance.rate.denominator,
        ip = pct(s.issuance.rate.percent),
        ipts = points(s.issuance.rate.points),
        an = s.activation.rate.numerator,
        ad = s.activation.rate.denominator,
        ap = pct(s.activation.rate.percent),
        apts = points(s.activation.rate.points),
        tp = points(s.training.points),
        dp = points(s.display.points),
        total = s.total,
        open = s.issuance.open_corrections,
        anom = s.anomalies.len(),
    )
}

const SCORE_HEAD: &str = "<tr><th class=\"l\">代码</th><th class=\"l\">名称</th>\
    <th>制证数/应制证数</th><th>制证率</th><th>得分</th><th>激活数/制证数</th><th>激活率</th><th>得分</th>\
    <th>培训宣传</th><th>亮证查验</th><th>总分</th><th>待纠正</th><th>异常</th></tr>";

/// A line chart of monthly percentages: the unit bold, its parts thin.
fn chart(
    id: &str,
    title: &str,
    parts: &[Score],
    whole: &Score,
    value: fn(&shared::api::MonthRates) -> Option<f64>,
) -> String {
    let (w, h, left, top, bottom) = (520.0, 260.0, 40.0, 24.0, 28.0);
    let x = |m: u8| left + (f64::from(m) - 1.0) * (w - left - 12.0) / 11.0;
    let y = |p: f64| top + (100.0 - p.clamp(0.0, 100.0)) * (h - top - bottom) / 100.0;
    let mut svg = format!(
        "<svg id=\"{id}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\"><title>{t}</title>\
         <text x=\"{left}\" y=\"16\" font-size=\"13\">{t}</text>",
        t = esc(title)
    );
    for p in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let yy = y(p);
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/>\
             <text x=\"4\" y=\"{:.1}\" font-size=\"10\">{p}%</text>",
            w - 12.0,
            yy + 3.0,
        );
    }
    for m in 1..=12u8 {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{m}月</text>",
            x(m),
            h - 10.0
        );
    }
    let line = |s: &Score, class: &str, style: &str| -> String {
        let pts: Vec<String> = s
            .monthly
            .iter()
            .filter_map(|r| value(r).map(|p| format!("{:.1},{:.1}", x(r.month), y(p))))
            .collect();
        if pts.is_empty() {
            return String::new();
        }
        format!(
            "<polyline class=\"{class}\" data-division=\"{}\" points=\"{}\" fill=\"none\" {style}/>",
            s.division,
            pts.join(" ")
        )
    };
    for c in parts {
        svg.push_str(&line(c, "city", "stroke=\"#9bb\" stroke-width=\"1\""));
    }
    svg.push_str(&line(
        whole,
        "province",
        "stroke=\"#c20\" stroke-width=\"3\"",
    ));
    svg.push_str("</svg>");
    svg
}

fn events(title: &str, id: &str, list: &[Event], export: &str) -> String {
    let mut out = format!(
        "<section><h2>{} （{} 条）</h2><div class=\"bar\"><a class=\"btn csv\" id=\"export-{id}\" href=\"{}\">导出 CSV</a></div>",
        esc(title),
        list.len(),
        attr(export)
    );
    let _ = write!(
        out,
        "<div class=\"scroll\"><table id=\"{id}\"><tr><th class=\"l\">所属地区</th><th class=\"l\">类别</th>\
         <th>时间（北京时间）</th><th>设备/序号</th><th class=\"l\">证照</th><th class=\"l\">说明</th></tr>"
    );
    for ev in list {
        let division = DivisionCode::from_u32(ev.division)
            .map_or_else(|_| ev.division.to_string(), division_name);
        let _ = write!(
            out,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td>\
             <td class=\"l\">{}</td><td class=\"l w\">{}</td></tr>",
            esc(&division),
            kind_zh(&ev.kind),
            shared::cst::datetime_text(ev.at),
            match (ev.device_id, ev.seq) {
                (Some(d), Some(s)) => format!("{d}/{s}"),
                (Some(d), None) => d.to_string(),
                _ => "–".into(),
            },
            esc(&certificate_label(ev.certificate.as_deref())),
            esc(&ev.detail)
        );
    }
    out.push_str("</table></div></section>");
    out
}

fn certificate_label(c: Option<&str>) -> String {
    match c.and_then(|c| c.split_once('/')) {
        Some((t, n)) => match CertType::from_code(t) {
            Some(t) => format!("{} {n}", t.name_zh()),
            None => format!("{t} {n}"),
        },
        None => "–".into(),
    }
}

/// `GET /admin/dashboard/view?year=&division=&type=`: the drill-down.
#[utoipa::path(get, path = "/admin/dashboard/view", tag = "evaluation",
    params(ViewQuery),
    responses(
        (status = 200, description = "The dashboard (HTML)", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in form"),
        (status = 400, description = "Bad year, division or type", content_type = "text/html"),
        (status = 403, description = "Not an administrator or auditor", content_type = "text/html"),
    ))]
pub async fn get_view(
    State(state): State<AppState>,
    slot: Option<Extension<AuditSlot>>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    q: Result<Query<ViewQuery>, ApiError>,
) -> Result<Response, Refusal> {
    let caller = signed_in(
        &state,
        &headers,
        slot.as_ref(),
        client,
        &[Role::Admin, Role::Auditor],
    )
    .await?;
    let Query(q) = q?;
    let year = year_of(&state, q.year)?;
    let sc = scope(state.province(), q.division, q.cert_type.as_deref())?;
    let s = state.clone();
    let c = caller.clone();
    let (drill, ops) = blocking(move || {
        let d = service::drill(s.store(), &c, s.now(), Action::ViewDashboard, year, sc)?;
        let o = service::operations(s.store(), s.calendar(), s.now())?;
        Ok((d, o))
    })
    .await?;
    let admin = caller.role == Role::Admin;
    let body = render(
        state.province(),
        &drill,
        &ops,
        sc,
        admin,
        q.saved.as_deref(),
    );
    Ok(page(
        state.province().name_zh,
        &format!("{year} 年度考核 · {}", division_name(sc.division)),
        &header_right(year, &caller),
        &body,
    ))
}

fn header_right(year: i32, caller: &Caller) -> String {
    let role = match caller.role {
        Role::Admin => "省级管理员",
        Role::Auditor => "审计员",
        _ => "其他",
    };
    format!(
        "<form method=\"get\" action=\"/admin/dashboard/view\">年度 \
         <input name=\"year\" type=\"number\" value=\"{year}\" min=\"2000\" max=\"2999\" style=\"width:5em\"> \
         <button type=\"submit\">切换</button></form>\
         <span>{role}</span>\
         <form method=\"post\" action=\"/admin/dashboard/sign-out\"><button id=\"sign-out\" type=\"submit\">退出</button></form>"
    )
}

fn crumbs(province: &Jurisdiction, year: i32, sc: Scope) -> String {
    let mut out = String::from("<nav class=\"crumbs\" id=\"crumbs\">");
    let mut chain = vec![province_unit(province)];
    if !sc.division.is_province() {
        chain.push(sc.division.city());
    }
    if sc.division.is_county() {
        chain.push(sc.division);
    }
    let last = chain.len() - 1;
    for (i, d) in chain.into_iter().enumerate() {
        if i == last {
            let _ = write!(out, "<strong>{}</strong>", esc(&division_name(d)));
        } else {
            let _ = write!(
                out,
                "<a href=\"{}\">{}</a> › ",
                attr(&view_link(year, d, sc.cert_type)),
                esc(&division_name(d))
            );
        }
    }
    out.push_str("</nav><nav class=\"types\" id=\"types\">证照类型：");
    let all_class = if sc.cert_type.is_none() {
        " class=\"on\""
    } else {
        ""
    };
    let _ = write!(
        out,
        "<a{all_class} href=\"{}\">全部</a>",
        attr(&view_link(year, sc.division, None))
    );
    for t in CertType::ALL {
        let class = if sc.cert_type == Some(t) {
            " class=\"on\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<a{class} data-type=\"{}\" href=\"{}\">{}</a>",
            t.code(),
            attr(&view_link(year, sc.division, Some(t))),
            t.name_zh()
        );
    }
    out.push_str("</nav>");
    out
}

fn render(
    province: &Jurisdiction,
    d: &Drill,
    ops: &Operations,
    sc: Scope,
    admin: bool,
    saved: Option<&str>,
) -> String {
    let year = d.year;
    let mut out = String::new();
    if let Some(what) = saved {
        let text = match what {
            "training" => Some("培训宣传记录已保存。"),
            "declared" => Some("未领取纸质证件数已保存。"),
            "complaint" => Some("投诉处理结果已保存。"),
            _ => None,
        };
        if let Some(text) = text {
            let _ = write!(
                out,
                "<section class=\"notice\" id=\"saved\">{text}</section>"
            );
        }
    }
    let type_note = sc
        .cert_type
        .map_or_else(String::new, |t| format!(" · {}", t.name_zh()));
    let _ = write!(
        out,
        "<section><h2 id=\"unit\">{year} 年度 · {}{}</h2>{}\
         <p class=\"muted\">按附件A计分：制证率40分、激活率40分、培训宣传10分、亮证查验10分。时间均为北京时间。</p></section>",
        esc(&division_name(sc.division)),
        esc(&type_note),
        crumbs(province, year, sc)
    );
    // The parts (or, for a county, its agency).
    let part_title = if sc.division.is_province() {
        "各市得分"
    } else if sc.division.is_city() {
        "各发证地区（市本级与区县）得分"
    } else {
        "本区县得分"
    };
    let _ = write!(
        out,
        "<section><h2>{part_title}</h2><div class=\"bar\"><a class=\"btn csv\" id=\"export-parts\" href=\"{}\">导出 CSV</a></div>\
         <div class=\"scroll\"><table id=\"scores\">{SCORE_HEAD}",
        attr(&export_link("parts", year, sc.division, sc.cert_type))
    );
    for p in &d.parts {
        let Ok(pd) = DivisionCode::from_u32(p.division) else {
            continue;
        };
        let label = if pd == sc.division {
            format!("{}本级", division_name(pd))
        } else {
            division_name(pd)
        };
        let link = if pd == sc.division {
            format!(
                "<a class=\"agency\" href=\"/admin/dashboard/agency/{:06}?year={year}\">{}</a>",
                pd.code(),
                esc(&label)
            )
        } else {
            format!(
                "<a class=\"drill\" href=\"{}\">{}</a>",
                attr(&view_link(year, pd, sc.cert_type)),
                esc(&label)
            )
        };
        out.push_str(&score_row(p, &link));
    }
    let agency_link = format!(
        "<a class=\"agency\" href=\"/admin/dashboard/agency/{:06}?year={year}\">{}（发证机关）</a>",
        sc.division.code(),
        esc(&division_name(sc.division))
    );
    let whole_label = if sc.division.is_county() {
        agency_link
    } else {
        format!("<strong>{}合计</strong>", esc(&division_name(sc.division)))
    };
    out.push_str(&score_row(&d.score, &whole_label));
    out.push_str("</table></div></section>");
    // By type.
    if !d.by_type.is_empty() {
        let _ = write!(
            out,
            "<section><h2>按证照类型</h2><div class=\"bar\"><a class=\"btn csv\" id=\"export-types\" href=\"{}\">导出 CSV</a></div>\
             <div class=\"scroll\"><table id=\"by-type\"><tr><th class=\"l\">类型</th><th>制证数/应制证数</th><th>制证率</th>\
             <th>激活数/制证数</th><th>激活率</th><th>待纠正</th><th>申报未领取</th></tr>",
            attr(&export_link("types", year, sc.division, None))
        );
        for (t, s) in &d.by_type {
            let _ = write!(
                out,
                "<tr data-type=\"{}\"><td class=\"l\"><a href=\"{}\">{}</a></td><td>{}/{}</td><td>{}</td>\
                 <td>{}/{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                t.code(),
                attr(&view_link(year, sc.division, Some(*t))),
                t.name_zh(),
                s.issuance.rate.numerator,
                s.issuance.rate.denominator,
                pct(s.issuance.rate.percent),
                s.activation.rate.numerator,
                s.activation.rate.denominator,
                pct(s.activation.rate.percent),
                s.issuance.open_corrections,
                s.issuance.declared_uncollected,
            );
        }
        out.push_str("</table></div></section>");
    }
    // Charts.
    let _ = write!(
        out,
        "<section><h2>逐月累计比率</h2><div class=\"charts\">{}{}</div>\
         <p class=\"muted\">粗线为{}，细线为其下各单位。</p></section>",
        chart(
            "chart-issuance",
            "制证率（%）",
            &d.parts,
            &d.score,
            |m| m.issuance_percent
        ),
        chart(
            "chart-activation",
            "激活率（%）",
            &d.parts,
            &d.score,
            |m| m.activation_percent
        ),
        esc(&division_name(sc.division))
    );
    out.push_str(&events(
        "亮证与查验事件（扣分）",
        "incidents",
        &d.score.display.incidents,
        &export_link("incidents", year, sc.division, sc.cert_type),
    ));
    out.push_str(&events(
        "异常记录（不计分）",
        "anomalies",
        &d.score.anomalies,
        &export_link("anomalies", year, sc.division, sc.cert_type),
    ));
    // Operations of the unit's agencies.
    let in_unit = |code: u32| {
        DivisionCode::from_u32(code).is_ok_and(|a| {
            sc.division.is_province()
                || (sc.division.is_city() && !a.is_province() && a.city() == sc.division)
                || a == sc.division
        })
    };
    let overdue: Vec<_> = ops.overdue.iter().filter(|o| in_unit(o.0)).collect();
    let _ = write!(
        out,
        "<section><h2>逾期未推送的发证机关（{} 个）</h2><div class=\"scroll\"><table id=\"overdue\">\
         <tr><th class=\"l\">代码</th><th class=\"l\">发证机关</th><th>最后推送（北京时间）</th></tr>",
        overdue.len()
    );
    for (code, name, last) in overdue {
        let last = last.map_or_else(|| "从未推送".into(), shared::cst::datetime_text);
        let _ = write!(
            out,
            "<tr><td class=\"l\">{code:06}</td><td class=\"l\"><a href=\"/admin/dashboard/agency/{code:06}?year={year}\">{}</a></td><td>{last}</td></tr>",
            esc(name)
        );
    }
    out.push_str("</table></div></section>");
    let corrections: Vec<_> = ops
        .corrections
        .iter()
        .filter(|(code, _)| in_unit(**code))
        .collect();
    let total: usize = corrections.iter().map(|(_, n)| **n).sum();
    let _ = write!(
        out,
        "<section><h2>各发证机关待纠正数据（共 {total} 条）</h2><div class=\"scroll\"><table id=\"corrections\">\
         <tr><th class=\"l\">代码</th><th class=\"l\">发证机关</th><th>待纠正记录</th></tr>"
    );
    for (code, n) in corrections {
        let name = DivisionCode::from_u32(*code).map_or_else(|_| code.to_string(), division_name);
        let _ = write!(
            out,
            "<tr><td class=\"l\">{code:06}</td><td class=\"l\"><a href=\"/admin/dashboard/agency/{code:06}?year={year}\">{}</a></td><td>{n}</td></tr>",
            esc(&name)
        );
    }
    out.push_str("</table></div></section>");
    // Training records and their evidence.
    let _ = write!(
        out,
        "<section><h2>培训宣传记录（{} 条）</h2><div class=\"scroll\"><table id=\"training\">\
         <tr><th class=\"l\">地区</th><th class=\"l\">覆盖面</th><th class=\"l\">内容</th><th class=\"l\">佐证材料</th></tr>",
        d.score.training.records.len()
    );
    for t in &d.score.training.records {
        let name = DivisionCode::from_u32(t.division)
            .map_or_else(|_| t.division.to_string(), division_name);
        let files: Vec<String> = t.evidence.iter().map(evidence_link).collect();
        let _ = write!(
            out,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l w\">{}</td><td class=\"l w\">{}</td></tr>",
            esc(&name),
            coverage_zh(&t.coverage),
            esc(&t.description),
            if files.is_empty() { "无".into() } else { files.join("<br>") }
        );
    }
    out.push_str("</table></div></section>");
    if admin {
        out.push_str(&forms(province, year, sc.division));
    }
    out
}

fn evidence_link(e: &Evidence) -> String {
    format!(
        "<a class=\"evidence\" data-sha256=\"{sha}\" href=\"/admin/dashboard/evidence/{sha}\">{}</a> \
         <span class=\"muted\">{}（SHA-256 {}…）</span>",
        esc(&e.file_name),
        esc(&e.description),
        esc(&e.sha256.chars().take(12).collect::<String>()),
        sha = attr(&e.sha256),
    )
}

fn city_options(province: &Jurisdiction, selected: DivisionCode) -> String {
    let mut out = String::new();
    for d in std::iter::once(province_unit(province)).chain(province.cities()) {
        let sel = if d == selected.city() {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<option value=\"{:06}\"{sel}>{}</option>",
            d.code(),
            esc(&division_name(d))
        );
    }
    out
}

fn forms(province: &Jurisdiction, year: i32, unit: DivisionCode) -> String {
    let cities = city_options(province, unit);
    let cities_only = city_options(province, unit).replacen(
        &format!(
            "<option value=\"{:06}\"{}>{}</option>",
            province.code,
            if unit.is_province() { " selected" } else { "" },
            esc(province.name_zh)
        ),
        "",
        1,
    );
    let types: String = CertType::ALL
        .iter()
        .map(|t| format!("<option value=\"{}\">{}</option>", t.code(), t.name_zh()))
        .collect();
    format!(
        "<section id=\"entries\"><h2>录入培训宣传记录</h2>\
         <form class=\"entry\" id=\"training-form\" method=\"post\" action=\"/admin/dashboard/training\" enctype=\"multipart/form-data\">\
         <input type=\"hidden\" name=\"year\" value=\"{year}\">\
         <label for=\"t-division\">地区</label><select id=\"t-division\" name=\"division\">{cities}</select>\
         <label for=\"t-coverage\">覆盖面</label><select id=\"t-coverage\" name=\"coverage\">\
         <option value=\"full\">全面</option><option value=\"partial\">部分</option><option value=\"little\">较少</option></select>\
         <label for=\"t-description\">内容</label><textarea id=\"t-description\" name=\"description\" rows=\"3\" required maxlength=\"2000\"></textarea>\
         <label for=\"t-file\">佐证文件</label><input id=\"t-file\" name=\"file\" type=\"file\" accept=\"application/pdf,image/png,image/jpeg\">\
         <label for=\"t-file-description\">文件说明</label><input id=\"t-file-description\" name=\"file_description\" maxlength=\"1000\">\
         <span class=\"muted full\">PDF、PNG 或 JPEG，单个不超过 5 MiB；服务器按内容核对类型并记录 SHA-256。</span>\
         <span></span><button id=\"training-submit\" type=\"submit\">保存培训记录</button></form></section>\
         <section><h2>申报未领取纸质证件数</h2>\
         <form class=\"entry\" id=\"declared-form\" method=\"post\" action=\"/admin/dashboard/declared\">\
         <input type=\"hidden\" name=\"year\" value=\"{year}\">\
         <label for=\"d-division\">城市</label><select id=\"d-division\" name=\"division\">{cities_only}</select>\
         <label for=\"d-type\">证照类型</label><select id=\"d-type\" name=\"cert_type\">{types}</select>\
         <label for=\"d-count\">数量</label><input id=\"d-count\" name=\"count\" type=\"number\" min=\"0\" max=\"10000000\" required>\
         <span></span><button id=\"declared-submit\" type=\"submit\">保存申报数</button></form></section>\
         <section><h2>录入投诉处理结果</h2>\
         <form class=\"entry\" id=\"complaint-form\" method=\"post\" action=\"/admin/dashboard/complaints\">\
         <input type=\"hidden\" name=\"year\" value=\"{year}\">\
         <label for=\"c-division\">被投诉城市</label><select id=\"c-division\" name=\"division\">{cities}</select>\
         <label for=\"c-description\">经过</label><textarea id=\"c-description\" name=\"description\" rows=\"3\" required maxlength=\"2000\"></textarea>\
         <label for=\"c-upheld\">投诉成立</label><input id=\"c-upheld\" name=\"upheld\" type=\"checkbox\" value=\"yes\" style=\"width:auto\">\
         <span></span><button id=\"complaint-submit\" type=\"submit\">保存投诉结果</button></form></section>"
    )
}

/// `GET /admin/dashboard/agency/{division}?year=`: an agency's push state
/// and open correction list.
#[utoipa::path(get, path = "/admin/dashboard/agency/{division}", tag = "evaluation",
    params(("division" = u32, Path, description = "The agency's division"), DashboardQuery),
    responses(
        (status = 200, description = "The agency (HTML)", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in form"),
        (status = 400, description = "Bad division or year", content_type = "text/html"),
    ))]
pub async fn get_agency(
    State(state): State<AppState>,
    slot: Option<Extension<AuditSlot>>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    p: Result<Path<u32>, ApiError>,
    q: Result<Query<DashboardQuery>, ApiError>,
) -> Result<Response, Refusal> {
    let caller = signed_in(
        &state,
        &headers,
        slot.as_ref(),
        client,
        &[Role::Admin, Role::Auditor],
    )
    .await?;
    let Path(code) = p?;
    let Query(q) = q?;
    let year = year_of(&state, q.year)?;
    let division = DivisionCode::from_u32(code)
        .map_err(|e| ApiError::BadRequest(format!("path parameter division: {e}")))?;
    let s = state.clone();
    let c = caller.clone();
    let a = blocking(move || {
        Ok(service::agency(
            s.store(),
            s.calendar(),
            &c,
            s.now(),
            Action::ViewAgency,
            division,
        )?)
    })
    .await?;
    let name = a.authority.as_ref().map_or_else(
        || format!("{}（未登记为发证机关）", division_name(division)),
        |x| x.name.clone(),
    );
    let mut out = String::new();
    let state_row = match (&a.authority, division.is_county()) {
        // A county without an agency of its own: its records come from
        // the city's agency.
        (None, true) => format!(
            "<tr><th class=\"l\">推送状态</th><td class=\"l w\" id=\"push-state\">本区县没有登记的发证机关，其数据由\
             <a href=\"/admin/dashboard/agency/{city:06}?year={year}\">{}</a>推送</td></tr>",
            esc(&division.city().authority_name_zh()),
            city = division.city().code()
        ),
        _ => format!(
            "<tr><th class=\"l\">最后推送（北京时间）</th><td class=\"l\">{}</td></tr>\
             <tr><th class=\"l\">推送状态</th><td class=\"l w\" id=\"push-state\">{}</td></tr>",
            a.last_push
                .map_or_else(|| "从未推送".into(), shared::cst::datetime_text),
            if a.overdue {
                "<span class=\"zero\">逾期（超过两个工作日未推送）</span>"
            } else {
                "正常"
            }
        ),
    };
    let _ = write!(
        out,
        "<section><h2 id=\"agency-name\">{}</h2><nav class=\"crumbs\"><a href=\"{}\">返回 {}</a></nav>\
         <div class=\"scroll\"><table id=\"agency\"><tr><th class=\"l\">行政区划</th><td class=\"l w\">{:06} {}</td></tr>\
         <tr><th class=\"l\">统一社会信用代码</th><td class=\"l w\">{}</td></tr>{state_row}</table></div></section>",
        esc(&name),
        attr(&view_link(year, division, None)),
        esc(&division_name(division)),
        division.code(),
        esc(&division_name(division)),
        a.authority
            .as_ref()
            .map_or_else(|| "未登记".into(), |x| esc(x.uscc.as_str()).into_owned()),
    );
    let _ = write!(
        out,
        "<section><h2>待纠正数据（不规范数据，{} 条）</h2><div class=\"bar\"><a class=\"btn csv\" id=\"export-corrections\" href=\"{}\">导出 CSV</a></div>\
         <div class=\"scroll\"><table id=\"agency-corrections\"><tr><th class=\"l\">证照类型</th><th class=\"l\">编号</th>\
         <th>首次推送</th><th>最近推送</th><th class=\"l\">问题</th></tr>",
        a.corrections.len(),
        attr(&export_link("corrections", year, division, None))
    );
    for c in &a.corrections {
        let _ = write!(
            out,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"l w\">{}</td></tr>",
            esc(&type_name(&c.cert_type)),
            esc(&c.number),
            shared::cst::datetime_text(c.first_seen),
            shared::cst::datetime_text(c.last_seen),
            esc(&reasons_zh(&c.reasons_json))
        );
    }
    out.push_str("</table></div></section>");
    Ok(page(
        state.province().name_zh,
        &format!("{name} · 发证机关"),
        &header_right(year, &caller),
        &out,
    ))
}

fn type_name(code: &str) -> String {
    CertType::from_code(code).map_or_else(|| code.to_string(), |t| t.name_zh().to_string())
}

/// The Chinese messages of a correction-list entry's reasons, `；`-joined.
fn reasons_zh(json: &str) -> String {
    serde_json::from_str::<Vec<shared::domain::validate::Nonconformance>>(json).map_or_else(
        |_| "（原因无法读取）".into(),
        |v| {
            v.iter()
                .map(|n| n.message_zh.as_str())
                .collect::<Vec<_>>()
                .join("；")
        },
    )
}

/// A CSV answer: the UTF-8 BOM, then the rows, each cell escaped (the one
/// export writer, `shared::csvexport`).
fn csv_answer(name: &str, head: &[&str], rows: Vec<Vec<String>>) -> Result<Response, ApiError> {
    let body = shared::csvexport::to_bytes(head.iter().map(|h| h.to_string()), rows)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("writing CSV: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ),
            (header::CACHE_CONTROL, "no-store".into()),
        ],
        body,
    )
        .into_response())
}

fn score_cells(s: &Score, name: String) -> Vec<String> {
    let p = |x: Option<f64>| x.map_or_else(String::new, |x| format!("{x:.2}"));
    vec![
        format!("{:06}", s.division),
        name,
        s.issuance.rate.numerator.to_string(),
        s.issuance.rate.denominator.to_string(),
        p(s.issuance.rate.percent),
        s.issuance.rate.points.to_string(),
        s.activation.rate.numerator.to_string(),
        s.activation.rate.denominator.to_string(),
        p(s.activation.rate.percent),
        s.activation.rate.points.to_string(),
        s.training.points.to_string(),
        s.display.points.to_string(),
        s.total.to_string(),
        s.issuance.open_corrections.to_string(),
        s.anomalies.len().to_string(),
    ]
}

const SCORE_CSV_HEAD: [&str; 15] = [
    "代码",
    "名称",
    "制证数",
    "应制证数",
    "制证率(%)",
    "制证率得分",
    "激活数",
    "制证数(激活)",
    "激活率(%)",
    "激活率得分",
    "培训宣传得分",
    "亮证查验得分",
    "总分",
    "待纠正",
    "异常",
];

fn event_cells(e: &Event) -> Vec<String> {
    let division =
        DivisionCode::from_u32(e.division).map_or_else(|_| e.division.to_string(), division_name);
    vec![
        format!("{:06}", e.division),
        division,
        kind_zh(&e.kind).into(),
        shared::cst::rfc3339(e.at),
        e.device_id.map_or_else(String::new, |d| d.to_string()),
        e.seq.map_or_else(String::new, |s| s.to_string()),
        certificate_label(e.certificate.as_deref()),
        e.detail.clone(),
    ]
}

const EVENT_CSV_HEAD: [&str; 8] = [
    "代码",
    "所属地区",
    "类别",
    "时间(北京时间)",
    "设备",
    "序号",
    "证照",
    "说明",
];

/// `GET /admin/dashboard/export?what=&year=&division=&type=`: a table as
/// CSV for spreadsheets.
#[utoipa::path(get, path = "/admin/dashboard/export", tag = "evaluation",
    params(ExportQuery),
    responses(
        (status = 200, description = "CSV with a UTF-8 BOM; formula cells escaped", content_type = "text/csv"),
        (status = 303, description = "Not signed in: to the sign-in form"),
        (status = 400, description = "Bad table, year, division or type", content_type = "text/html"),
    ))]
pub async fn get_export(
    State(state): State<AppState>,
    slot: Option<Extension<AuditSlot>>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    q: Result<Query<ExportQuery>, ApiError>,
) -> Result<Response, Refusal> {
    let caller = signed_in(
        &state,
        &headers,
        slot.as_ref(),
        client,
        &[Role::Admin, Role::Auditor],
    )
    .await?;
    let Query(q) = q?;
    let year = year_of(&state, q.year)?;
    let sc = scope(state.province(), q.division, q.cert_type.as_deref())?;
    let unit = format!(
        "{}-{:06}{}",
        year,
        sc.division.code(),
        sc.cert_type
            .map_or_else(String::new, |t| format!("-{}", t.code()))
    );
    let s = state.clone();
    let what = q.what.clone();
    match what.as_str() {
        "corrections" => {
            let a = blocking(move || {
                Ok(service::agency(s.store(), s.calendar(), &caller, s.now(), Action::ExportDashboard, sc.division)?)
            })
            .await?;
            let rows = a
                .corrections
                .iter()
                .map(|c| {
                    vec![
                        format!("{:06}", c.agency.code()),
                        type_name(&c.cert_type),
                        c.number.clone(),
                        shared::cst::rfc3339(c.first_seen),
                        shared::cst::rfc3339(c.last_seen),
                        reasons_zh(&c.reasons_json),
                    ]
                })
                .collect();
            Ok(csv_answer(
                &format!("corrections-{:06}", sc.division.code()),
                &["发证机关代码", "证照类型", "编号", "首次推送", "最近推送", "问题"],
                rows,
            )?)
        }
        "parts" | "types" | "anomalies" | "incidents" => {
            let d = blocking(move || {
                Ok(service::drill(s.store(), &caller, s.now(), Action::ExportDashboard, year, sc)?)
            })
            .await?;
            let out = match what.as_str() {
                "parts" => {
                    let mut rows: Vec<Vec<String>> = d
                        .parts
                        .iter()
                        .map(|p| {
                            let name = DivisionCode::from_u32(p.division)
                                .map_or_else(|_| p.division.to_string(), division_name);
                            score_cells(p, name)
                        })
                        .collect();
                    rows.push(score_cells(
                        &d.score,
                        format!("{}合计", division_name(sc.division)),
                    ));
                    csv_answer(&format!("scores-{unit}"), &SCORE_CSV_HEAD, rows)
                }
                "types" => {
                    let rows = d
                        .by_type
                        .iter()
                        .map(|(t, s)| {
                            let mut r = score_cells(s, t.name_zh().into());
                            r[0] = t.code().into();
                            r
                        })
                        .collect();
                    let mut head = SCORE_CSV_HEAD;
                    head[0] = "类型代码";
                    head[1] = "证照类型";
                    csv_answer(&format!("types-{unit}"), &head, rows)
                }
                "anomalies" => csv_answer(
                    &format!("anomalies-{unit}"),
                    &EVENT_CSV_HEAD,
                    d.score.anomalies.iter().map(event_cells).collect(),
                ),
                _ => csv_answer(
                    &format!("incidents-{unit}"),
                    &EVENT_CSV_HEAD,
                    d.score.display.incidents.iter().map(event_cells).collect(),
                ),
            };
            Ok(out?)
        }
        other => Err(ApiError::BadRequest(format!(
            "query parameter what: {other:?} is not parts, types, anomalies, incidents or corrections"
        ))
        .into()),
    }
}

/// Where an entry form returns to after saving.
fn back_to(year: i32, division: u32, saved: &str) -> Response {
    see_other(&format!(
        "/admin/dashboard/view?year={year}&division={division:06}&saved={saved}#saved"
    ))
}

/// `POST /admin/dashboard/training` (multipart: `year`, `division`,
/// `coverage`, `description`, `file`s, `file_description`): a training
/// record with its evidence files, stored in one transaction.
#[utoipa::path(post, path = "/admin/dashboard/training", tag = "evaluation",
    request_body(content_type = "multipart/form-data", description = "year, division, coverage, description, file, file_description"),
    responses(
        (status = 303, description = "Saved: back to the view"),
        (status = 403, description = "Not an administrator, or posted from elsewhere", content_type = "text/html"),
        (status = 413, description = "A file larger than 5 MiB", content_type = "text/html"),
        (status = 422, description = "A bad field or file", content_type = "text/html"),
    ))]
pub async fn post_training(
    State(state): State<AppState>,
    slot: Option<Extension<AuditSlot>>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, Refusal> {
    same_origin(&headers)?;
    let caller = signed_in(&state, &headers, slot.as_ref(), client, &[Role::Admin]).await?;
    let mut form = form.map_err(|e| ApiError::BadRequest(format!("form: {}", e.body_text())))?;
    let (mut year, mut division, mut coverage, mut description, mut file_description) =
        (None, None, None, String::new(), String::new());
    let mut files: Vec<(String, Option<String>, Vec<u8>)> = Vec::new();
    let mut total = 0usize;
    let bad = |what: &str| ApiError::Unprocessable(format!("表单字段 {what} 有误"));
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::BadRequest(format!("form: {}", e.body_text())))?
    {
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(str::to_string);
        let bytes = field
            .bytes()
            .await
            .map_err(|e| ApiError::BadRequest(format!("form: {}", e.body_text())))?;
        total += bytes.len();
        if total > MAX_TRAINING_FORM {
            return Err(ApiError::TooLarge(format!("表单超过 {MAX_TRAINING_FORM} 字节")).into());
        }
        let text = || String::from_utf8(bytes.to_vec()).map_err(|_| bad(&name));
        match name.as_str() {
            "year" => year = Some(text()?.trim().parse::<i32>().map_err(|_| bad("year"))?),
            "division" => {
                division = Some(text()?.trim().parse::<u32>().map_err(|_| bad("division"))?);
            }
            "coverage" => {
                coverage = Some(Coverage::parse(text()?.trim()).ok_or_else(|| bad("coverage"))?);
            }
            "description" => description = text()?,
            "file_description" => file_description = text()?,
            "file" => {
                // A file input left empty sends an empty part with no name.
                if bytes.is_empty() && file_name.as_deref().unwrap_or("").is_empty() {
                    continue;
                }
                files.push((
                    file_name.unwrap_or_else(|| "evidence".into()),
                    content_type,
                    bytes.to_vec(),
                ));
            }
            _ => {}
        }
    }
    let (Some(year), Some(division), Some(coverage)) = (year, division, coverage) else {
        return Err(ApiError::Unprocessable("表单缺少年度、地区或覆盖面".into()).into());
    };
    let s = state.clone();
    blocking(move || {
        let now = s.now();
        let mut checked = Vec::with_capacity(files.len());
        let mut evidence = Vec::with_capacity(files.len());
        for (name, declared, data) in files {
            let f = service::evidence_file(declared.as_deref(), data, now)
                .map_err(|e| prefix_file(&name, e))?;
            evidence.push(Evidence {
                file_name: name,
                sha256: f.sha256.clone(),
                description: if file_description.trim().is_empty() {
                    "佐证材料".into()
                } else {
                    file_description.clone()
                },
            });
            checked.push(f);
        }
        let body = TrainingBody {
            division,
            year,
            coverage,
            description,
            evidence,
        };
        Ok(service::record_training_with_files(
            s.store(),
            &caller,
            now,
            body,
            checked,
        )?)
    })
    .await?;
    Ok(back_to(year, division, "training"))
}

fn prefix_file(name: &str, e: service::EvaluationError) -> service::EvaluationError {
    match e {
        service::EvaluationError::Invalid(d) => {
            service::EvaluationError::Invalid(format!("文件 {name}：{d}"))
        }
        service::EvaluationError::TooLarge(d) => {
            service::EvaluationError::TooLarge(format!("文件 {name}：{d}"))
        }
        other => other,
    }
}

/// `POST /admin/dashboard/declared` (form): a declared uncollected count.
#[utoipa::path(post, path = "/admin/dashboard/declared", tag = "evaluation",
    request_body(content = DeclaredForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Saved: back to the view"),
        (status = 403, description = "Not an administrator, or posted from elsewhere", content_type = "text/html"),
        (status = 422, description = "A bad field", content_type = "text/html"),
    ))]
pub async fn post_declared(
    State(state): State<AppState>,
    slot: Option<Extension<AuditSlot>>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    f: Result<Form<DeclaredForm>, FormRejection>,
) -> Result<Response, Refusal> {
    same_origin(&headers)?;
    let caller = signed_in(&state, &headers, slot.as_ref(), client, &[Role::Admin]).await?;
    let Form(f) = f.map_err(|e| ApiError::Unprocessable(format!("表单有误：{}", e.body_text())))?;
    let body = DeclaredBody {
        division: f.division,
        year: f.year,
        cert_type: f.cert_type,
        count: f.count,
    };
    let s = state.clone();
    blocking(move || {
        Ok(service::record_declared(
            s.store(),
            &caller,
            s.now(),
            &body,
        )?)
    })
    .await?;
    Ok(back_to(f.year, f.division, "declared"))
}

/// `POST /admin/dashboard/complaints` (form): a complaint decision.
#[utoipa::path(post, path = "/admin/dashboard/complaints", tag = "evaluation",
    request_body(content = ComplaintForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Saved: back to the view"),
        (status = 403, description = "Not an administrator, or posted from elsewhere", content_type = "text/html"),
        (status = 422, description = "A bad field", content_type = "text/html"),
    ))]
pub async fn post_complaint(
    State(state): State<AppState>,
    slot: Option<Extension<AuditSlot>>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    f: Result<Form<ComplaintForm>, FormRejection>,
) -> Result<Response, Refusal> {
    same_origin(&headers)?;
    let caller = signed_in(&state, &headers, slot.as_ref(), client, &[Role::Admin]).await?;
    let Form(f) = f.map_err(|e| ApiError::Unprocessable(format!("表单有误：{}", e.body_text())))?;
    let body = ComplaintBody {
        division: f.division,
        year: f.year,
        description: f.description,
        upheld: f.upheld.as_deref() == Some("yes"),
    };
    let s = state.clone();
    blocking(move || {
        Ok(service::record_complaint(
            s.store(),
            &caller,
            s.now(),
            &body,
        )?)
    })
    .await?;
    Ok(back_to(f.year, f.division, "complaint"))
}

/// `GET /admin/dashboard/evidence/{sha256}`: an evidence file.
#[utoipa::path(get, path = "/admin/dashboard/evidence/{sha256}", tag = "evaluation",
    params(("sha256" = String, Path, description = "The file's SHA-256")),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 303, description = "Not signed in: to the sign-in form"),
        (status = 404, description = "No such file", content_type = "text/html"),
    ))]
pub async fn get_evidence(
    State(state): State<AppState>,
    slot: Option<Extension<AuditSlot>>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    p: Result<Path<String>, ApiError>,
) -> Result<Response, Refusal> {
    let caller = signed_in(
        &state,
        &headers,
        slot.as_ref(),
        client,
        &[Role::Admin, Role::Auditor],
    )
    .await?;
    let Path(sha) = p?;
    let s = state.clone();
    let file = blocking(move || {
        Ok(service::read_evidence(
            s.store(),
            &caller,
            s.now(),
            Action::DashboardEvidence,
            &sha,
        )?)
    })
    .await?;
    Ok(super::evaluation::evidence_response(file))
}
