//! The province administrator's dashboard, rendered by the server: `GET
//! /admin/dashboard?year=` answers a sign-in form (no data); the form
//! posts the token in the body (never in the URL, so never in access logs
//! or history) to `POST /admin/dashboard`, which answers the page: the
//! score table per city, the monthly cumulative issuance and activation
//! rates as inline SVG charts, the incident and anomaly lists, the
//! agencies overdue with pushes and the open correction lists. No script,
//! no external resource: it works on a closed network.

use std::fmt::Write as _;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use html_escape::encode_text as esc;
use serde::Deserialize;

use super::audit::{AuditSlot, Who};
use super::auth::require;
use super::client_addr::ClientAddr;
use super::error::blocking;
use super::error::ApiError;
use super::extract::Query;
use crate::evaluation::{Evaluation, Score};
use crate::service::action::Action;
use crate::service::auth::{self, Caller, Role};
use crate::service::evaluation::Operations;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The dashboard's route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_dashboard, post_dashboard))
}

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

fn current_year(state: &AppState) -> i32 {
    shared::cst::year(state.now())
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:.25em .5em;text-align:right}\
th{background:#eee}td.l,th.l{text-align:left}h2{margin-top:1.5em}.zero{color:#b00;font-weight:bold}\
svg{background:#fafafa;border:1px solid #ddd;margin-right:1em}";

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{}</title><style>{STYLE}</style></head>\
         <body>{body}</body></html>",
        esc(title)
    );
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
            ),
        ],
        Html(html),
    )
        .into_response()
}

fn form(year: i32, message: &str) -> String {
    format!(
        "<h1>道路运输电子证照 年度考核 · Annual evaluation</h1>{message}\
         <form method=\"post\" action=\"/admin/dashboard\" autocomplete=\"off\">\
         <label>Token <input id=\"token\" name=\"token\" type=\"password\" required></label> \
         <label>Year <input id=\"year\" name=\"year\" type=\"number\" value=\"{year}\" min=\"2000\" max=\"2999\"></label> \
         <button id=\"show\" type=\"submit\">Show</button></form>"
    )
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
    Ok(page("年度考核", &form(year, "")))
}

/// `POST /admin/dashboard` (form: `token`, `year`): the dashboard.
#[utoipa::path(post, path = "/admin/dashboard", tag = "evaluation",
    request_body(content = DashboardForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The dashboard (HTML)", content_type = "text/html"),
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
    f: Result<Form<DashboardForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(f) = f.map_err(|e| ApiError::BadRequest(format!("form: {}", e.body_text())))?;
    let s = state.clone();
    let token = f.token.trim().to_string();
    let found = blocking(move || Ok(auth::authenticate(s.store(), Some(&token), s.now())?)).await?;
    let note = |who: Who| {
        if let Some(Extension(slot)) = &slot {
            slot.set(who);
        }
    };
    let caller = match found {
        Ok(caller) => {
            let caller = Caller {
                client_addr: client,
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
    dashboard(&state, &caller, f.year).await
}

async fn dashboard(state: &AppState, caller: &Caller, year: i32) -> Result<Response, ApiError> {
    require(caller, &[Role::Admin, Role::Auditor])?;
    let year = super::evaluation::check_year(Some(year), "form field year")?;
    let e = super::evaluation::load(state, caller, Action::PostDashboard, year).await?;
    let s = state.clone();
    let ops = blocking(move || {
        Ok(crate::service::evaluation::operations(
            s.store(),
            s.calendar(),
            s.now(),
        )?)
    })
    .await?;
    Ok(page(&format!("{year} 年度考核"), &render(&e, &ops)))
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

fn row(s: &Score) -> String {
    format!(
        "<tr data-division=\"{d}\"><td class=\"l\">{d}</td><td class=\"l\">{name}</td>\
         <td class=\"iss-frac\">{in}/{id}</td><td>{ip}</td><td class=\"iss-pts\">{ipts}</td>\
         <td class=\"act-frac\">{an}/{ad}</td><td>{ap}</td><td class=\"act-pts\">{apts}</td>\
         <td class=\"trn-pts\">{tp}</td><td class=\"dsp-pts\">{dp}</td><td class=\"total\">{total}</td>\
         <td class=\"anomalies\">{anom}</td></tr>",
        d = s.division,
        name = esc(&s.name),
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
        anom = s.anomalies.len(),
    )
}

/// A line chart of monthly percentages: the province bold, cities thin.
fn chart(
    id: &str,
    title: &str,
    e: &Evaluation,
    value: fn(&crate::evaluation::MonthRates) -> Option<f64>,
) -> String {
    let (w, h, left, top, bottom) = (520.0, 260.0, 40.0, 24.0, 28.0);
    let x = |m: u8| left + (f64::from(m) - 1.0) * (w - left - 12.0) / 11.0;
    let y = |p: f64| top + (100.0 - p.clamp(0.0, 100.0)) * (h - top - bottom) / 100.0;
    let mut svg = format!(
        "<svg id=\"{id}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\"><title>{}</title>\
         <text x=\"{left}\" y=\"16\" font-size=\"13\">{}</text>",
        esc(title),
        esc(title)
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
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{m}</text>",
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
    for c in &e.cities {
        svg.push_str(&line(c, "city", "stroke=\"#9bb\" stroke-width=\"1\""));
    }
    svg.push_str(&line(
        &e.province,
        "province",
        "stroke=\"#c20\" stroke-width=\"3\"",
    ));
    svg.push_str("</svg>");
    svg
}

fn events(title: &str, id: &str, list: &[&crate::evaluation::Event]) -> String {
    let mut out = format!("<h2>{} ({})</h2>", esc(title), list.len());
    if list.is_empty() {
        out.push_str("<p>None.</p>");
        return out;
    }
    let _ = write!(
        out,
        "<table id=\"{id}\"><tr><th class=\"l\">division</th><th class=\"l\">kind</th><th>time (CST)</th>\
         <th>device/seq</th><th class=\"l\">certificate</th><th class=\"l\">detail</th></tr>"
    );
    for ev in list {
        let when = shared::cst::datetime_text(ev.at);
        let _ = write!(
            out,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td>\
             <td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            ev.division,
            esc(&ev.kind),
            when,
            match (ev.device_id, ev.seq) {
                (Some(d), Some(s)) => format!("{d}/{s}"),
                _ => "–".into(),
            },
            esc(ev.certificate.as_deref().unwrap_or("–")),
            esc(&ev.detail)
        );
    }
    out.push_str("</table>");
    out
}

fn render(e: &Evaluation, ops: &Operations) -> String {
    let mut out = format!(
        "<h1>{} 年度考核 · Annual evaluation {}</h1>\
         <p>Points by Annex A (docs/evaluation.md): issuance 40, activation 40, training 10, \
         display and verification 10.</p><h2>Scores</h2>\
         <table id=\"scores\"><tr><th class=\"l\">division</th><th class=\"l\">name</th>\
         <th>issued / records</th><th>issuance</th><th>pts</th>\
         <th>activated / issued</th><th>activation</th><th>pts</th>\
         <th>training</th><th>display</th><th>total</th><th>anomalies</th></tr>",
        e.year, e.year
    );
    for s in e.cities.iter().chain(std::iter::once(&e.province)) {
        out.push_str(&row(s));
    }
    out.push_str("</table><h2>Monthly cumulative rates</h2><div>");
    out.push_str(&chart(
        "chart-issuance",
        "Issuance rate 制证率 (province bold, cities thin)",
        e,
        |m| m.issuance_percent,
    ));
    out.push_str(&chart(
        "chart-activation",
        "Activation rate 激活率 (province bold, cities thin)",
        e,
        |m| m.activation_percent,
    ));
    out.push_str("</div>");
    let incidents: Vec<&crate::evaluation::Event> = e.province.display.incidents.iter().collect();
    out.push_str(&events("Incidents 亮证与查验", "incidents", &incidents));
    let anomalies: Vec<&crate::evaluation::Event> = e.province.anomalies.iter().collect();
    out.push_str(&events(
        "Anomalies (not counted) 异常记录",
        "anomalies",
        &anomalies,
    ));
    let _ = write!(
        out,
        "<h2>Agencies overdue with pushes ({})</h2>",
        ops.overdue.len()
    );
    out.push_str("<table id=\"overdue\"><tr><th class=\"l\">division</th><th class=\"l\">agency</th><th>last push (UTC)</th></tr>");
    for (d, name, last) in &ops.overdue {
        let last = last
            .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
            .map_or_else(|| "never".into(), |t| t.date().to_string());
        let _ = write!(
            out,
            "<tr><td class=\"l\">{d}</td><td class=\"l\">{}</td><td>{last}</td></tr>",
            esc(name)
        );
    }
    out.push_str("</table>");
    let total: usize = ops.corrections.values().sum();
    let _ = write!(
        out,
        "<h2>Open correction lists ({total} records)</h2><table id=\"corrections\">\
         <tr><th class=\"l\">agency</th><th>records</th></tr>"
    );
    for (d, n) in &ops.corrections {
        let _ = write!(out, "<tr><td class=\"l\">{d}</td><td>{n}</td></tr>");
    }
    out.push_str("</table>");
    out
}
