//! A small blocking HTTP client over `ureq` for the verifier server. Over
//! HTTPS it verifies the server's certificate against the web's roots
//! (webpki-roots), or only against a pinned CA (`enroll --ca-file`).

use std::time::Duration;

use anyhow::Context as _;

/// Largest response body read, bytes (a status snapshot is at most 16 MiB).
pub const MAX_BODY: u64 = 17 * 1024 * 1024;

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text for messages (problem details), cut short.
    pub fn text(&self) -> String {
        let t = String::from_utf8_lossy(&self.body);
        let detail = serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_string));
        detail.unwrap_or_else(|| t.chars().take(300).collect())
    }
}

/// The server connection.
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

/// The certificates of a PEM file (a CA to pin); an error when it holds
/// none or a broken one.
pub fn parse_ca(pem: &[u8]) -> anyhow::Result<Vec<ureq::tls::Certificate<'static>>> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        if let ureq::tls::PemItem::Certificate(c) = item.context("the CA file is not valid PEM")? {
            certs.push(c);
        }
    }
    if certs.is_empty() {
        anyhow::bail!("the CA file holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    }
    Ok(certs)
}

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:8080`), sending `token`
    /// as bearer when given; HTTPS servers are verified against the web's
    /// roots.
    pub fn new(base: &str, token: Option<String>) -> Client {
        Client::build(base, token, ureq::tls::RootCerts::WebPki)
    }

    /// Like [`Client::new`], trusting only the CA certificates of
    /// `ca_pem` (PEM) for HTTPS when given.
    pub fn with_ca(
        base: &str,
        token: Option<String>,
        ca_pem: Option<&str>,
    ) -> anyhow::Result<Client> {
        let roots = match ca_pem {
            Some(pem) => ureq::tls::RootCerts::new_with_certs(&parse_ca(pem.as_bytes())?),
            None => ureq::tls::RootCerts::WebPki,
        };
        Ok(Client::build(base, token, roots))
    }

    fn build(base: &str, token: Option<String>, roots: ureq::tls::RootCerts) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(120)))
            .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
            .build()
            .into();
        Client {
            agent,
            base: base.trim_end_matches('/').to_string(),
            token,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> anyhow::Result<Answer> {
        let url = self.url(path);
        let mut req = self.agent.get(&url);
        if let Some(t) = &self.token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let response = req.call().map_err(|e| explain(e, &url, "GET"))?;
        read(response, &url)
    }

    /// `GET path?key=value&…`, the values percent-encoded.
    pub fn get_query(&self, path: &str, query: &[(&str, &str)]) -> anyhow::Result<Answer> {
        let url = self.url(path);
        let mut req = self.agent.get(&url);
        for (k, v) in query {
            req = req.query(*k, *v);
        }
        if let Some(t) = &self.token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let response = req.call().map_err(|e| explain(e, &url, "GET"))?;
        read(response, &url)
    }

    /// `POST path` with a body.
    pub fn post(&self, path: &str, content_type: &str, body: &[u8]) -> anyhow::Result<Answer> {
        let url = self.url(path);
        let mut req = self.agent.post(&url).content_type(content_type);
        if let Some(t) = &self.token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let response = req.send(body).map_err(|e| explain(e, &url, "POST"))?;
        read(response, &url)
    }
}

/// A transport error as one clear message; a certificate the client does
/// not trust says what to do about it.
fn explain(e: ureq::Error, url: &str, method: &str) -> anyhow::Error {
    match certificate_error(&e) {
        Some(tls) => anyhow::anyhow!(
            "{method} {url}: the server's TLS certificate is not trusted ({tls}); \
             if the server uses a private CA, enroll with --ca-file CA.pem"
        ),
        None => anyhow::Error::new(e).context(format!("{method} {url}")),
    }
}

/// The rustls refusal of the server's certificate inside a ureq error
/// (ureq hands it up either directly or inside an I/O error).
pub fn certificate_error(e: &ureq::Error) -> Option<&rustls::Error> {
    let tls = match e {
        ureq::Error::Rustls(tls) => Some(tls),
        ureq::Error::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        _ => None,
    }?;
    matches!(tls, rustls::Error::InvalidCertificate(_)).then_some(tls)
}

fn read(mut response: ureq::http::Response<ureq::Body>, url: &str) -> anyhow::Result<Answer> {
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .with_context(|| format!("reading the answer of {url} (connection broken?)"))?;
    Ok(Answer { status, body })
}
