//! The simulated 运证通's sign-in page (`verifier-server yzt serve`): the
//! browser side of the holder's real-name sign-in, OAuth 2.0 style. The
//! wallet sends the holder to `GET /authorize?redirect_uri=…&state=…`; the
//! page asks the name and the ID number (or the operator's credit code),
//! as 运证通's real-name check would, signs the identity assertion with
//! 运证通's key ([`Signer::identity_assertion`]) and answers `303` to
//! `redirect_uri#assertion=JWT&state=STATE` (the fragment never reaches a
//! server log). Only the one registered `redirect_uri` is served (the
//! wallet's address), as OAuth requires of an authorisation server;
//! "取消" answers `#error=access_denied&state=…`.
//!
//! A simulation: it checks the number's check character, not a real
//! identity register, and says so on the page.

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use html_escape::encode_double_quoted_attribute as attr;
use html_escape::encode_text as esc;
use serde::Deserialize;

use super::yzt::Signer;
use crate::service::auth::holder_id;

/// What the page needs.
#[derive(Debug, Clone)]
pub struct PageConfig {
    /// The one `redirect_uri` served: the wallet's address.
    pub redirect_uri: String,
    /// The audience its assertions name (the server's `--audience`).
    pub audience: String,
}

struct Page {
    signer: Signer,
    config: PageConfig,
}

type Shared = std::sync::Arc<Page>;

/// The query of `GET /authorize`.
#[derive(Debug, Deserialize)]
struct AuthorizeQuery {
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    state: String,
}

/// The form posted to `/authorize`.
#[derive(Debug, Deserialize)]
struct AuthorizeForm {
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    id_number: String,
    #[serde(default)]
    action: String,
}

/// The page's routes.
pub fn router(signer: Signer, config: PageConfig) -> Router {
    let shared: Shared = std::sync::Arc::new(Page { signer, config });
    Router::new()
        .route("/", get(index))
        .route("/authorize", get(authorize).post(submit))
        .with_state(shared)
}

/// Serves the page on `listen` until the process ends.
pub async fn serve(listen: SocketAddr, signer: Signer, config: PageConfig) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    eprintln!(
        "模拟运证通 listening on http://{} (redirects to {})",
        listener.local_addr()?,
        config.redirect_uri
    );
    axum::serve(listener, router(signer, config))
        .await
        .context("serving the simulated 运证通")
}

fn state_ok(state: &str) -> bool {
    (8..=200).contains(&state.len())
        && state
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

const STYLE: &str = "body{margin:0;font-family:system-ui,-apple-system,'PingFang SC','Noto Sans CJK SC',sans-serif;background:#eef3fa;color:#1b2430}\
header{background:#1554a3;color:#fff;padding:16px 20px}header h1{margin:0;font-size:1.25rem}header p{margin:4px 0 0;opacity:.85;font-size:.9rem}\
main{max-width:440px;margin:0 auto;padding:16px}form{background:#fff;border-radius:10px;padding:16px;box-shadow:0 1px 3px #0002}\
label{display:block;margin:12px 0 4px;font-weight:600}input{box-sizing:border-box;width:100%;font-size:1rem;padding:10px;border:1px solid #9bb;border-radius:6px}\
.buttons{display:flex;gap:10px;margin-top:18px}button{flex:1;font-size:1rem;padding:12px;border-radius:6px;border:0;background:#1554a3;color:#fff}\
button.secondary{background:#dfe6ef;color:#1b2430}.error{color:#b00020;font-weight:600}.note{font-size:.85rem;color:#555}";

fn page(status: StatusCode, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>运证通 · 实名登录（模拟）</title><link rel=\"icon\" href=\"data:,\"><style>{STYLE}</style></head><body>\
         <header><h1>运证通</h1><p>辽宁省道路运输电子证照 · 实名认证（模拟）</p></header>\
         <main>{body}</main></body></html>"
    );
    (status, Html(html)).into_response()
}

fn refused(what: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        &format!(
            "<p class=\"error\" id=\"refused\">{}</p>\
             <p class=\"note\">请回到电子证照钱包重新发起登录。</p>",
            esc(what)
        ),
    )
}

fn form(cfg: &PageConfig, state: &str, name: &str, id: &str, error: Option<&str>) -> String {
    format!(
        "<form method=\"post\" action=\"/authorize\" id=\"yzt-form\">\
         <p>「辽宁道路运输电子证照 · 持证人钱包」请求通过运证通确认您的身份。</p>\
         <input type=\"hidden\" name=\"redirect_uri\" value=\"{redirect}\">\
         <input type=\"hidden\" name=\"state\" value=\"{state}\">\
         <label for=\"name\">姓名（或单位名称）</label>\
         <input id=\"name\" name=\"name\" autocomplete=\"name\" maxlength=\"60\" value=\"{name}\">\
         <label for=\"id_number\">居民身份证号码或统一社会信用代码</label>\
         <input id=\"id_number\" name=\"id_number\" autocomplete=\"off\" maxlength=\"18\" value=\"{id}\">\
         <p class=\"error\" id=\"yzt-error\">{error}</p>\
         <div class=\"buttons\"><button type=\"submit\" name=\"action\" value=\"sign-in\" id=\"yzt-submit\">同意并登录</button>\
         <button type=\"submit\" name=\"action\" value=\"cancel\" class=\"secondary\" id=\"yzt-cancel\">取消</button></div>\
         <p class=\"note\">这是演示用的模拟运证通：只核对号码的校验位，不连接公安实名核验系统。\
         登录后钱包获得 1 小时有效的登录凭证。</p></form>",
        redirect = attr(&cfg.redirect_uri),
        state = attr(state),
        name = attr(name),
        id = attr(id),
        error = esc(error.unwrap_or_default()),
    )
}

async fn index(State(p): State<Shared>) -> Response {
    page(
        StatusCode::OK,
        &format!(
            "<p>模拟运证通正在运行。请从 <a href=\"{0}\">{1}</a> 点击「通过运证通登录」。</p>",
            attr(&p.config.redirect_uri),
            esc(&p.config.redirect_uri)
        ),
    )
}

/// Why a request is refused before the form, if it is.
fn checked_request(p: &Page, redirect_uri: &str, state: &str) -> Result<(), &'static str> {
    if redirect_uri != p.config.redirect_uri {
        return Err("登录请求的返回地址（redirect_uri）不是运证通登记的钱包地址，已拒绝。");
    }
    if !state_ok(state) {
        return Err("登录请求缺少有效的 state 参数，已拒绝。");
    }
    Ok(())
}

async fn authorize(
    State(p): State<Shared>,
    q: Result<Query<AuthorizeQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return refused("登录请求的参数无法读取。");
    };
    if let Err(why) = checked_request(&p, &q.redirect_uri, &q.state) {
        return refused(why);
    }
    page(StatusCode::OK, &form(&p.config, &q.state, "", "", None))
}

async fn submit(
    State(p): State<Shared>,
    f: Result<Form<AuthorizeForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = f else {
        return refused("登录表单无法读取。");
    };
    if let Err(why) = checked_request(&p, &f.redirect_uri, &f.state) {
        return refused(why);
    }
    let back = &p.config.redirect_uri;
    if f.action == "cancel" {
        return Redirect::to(&format!("{back}#error=access_denied&state={}", f.state))
            .into_response();
    }
    let name = f.name.trim();
    let again = |error: &str| {
        page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &form(&p.config, &f.state, &f.name, &f.id_number, Some(error)),
        )
    };
    if name.chars().count() < 2 || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return again("请填写姓名或单位名称（2 至 60 个字）。");
    }
    let Some(holder) = holder_id(&f.id_number) else {
        return again(
            "号码不正确：请填写 18 位居民身份证号码或统一社会信用代码，并核对最后一位校验码。",
        );
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    match p
        .signer
        .identity_assertion(&holder, &p.config.audience, now)
    {
        Ok(jwt) => {
            Redirect::to(&format!("{back}#assertion={jwt}&state={}", f.state)).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "signing the identity assertion");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<p class=\"error\">运证通暂时无法签发登录凭证，请稍后再试。</p>",
            )
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn states_are_checked() {
        assert!(state_ok("abcdEFGH_-12"));
        assert!(!state_ok("short"));
        assert!(!state_ok("abcdefgh&x=1"));
        assert!(!state_ok(&"a".repeat(201)));
    }
}
