//! The background notifier of `serve` (issue 13 item 4): announces to each
//! registered application with a callback URL that changes are waiting in
//! its feed (`GET /api/v1/app/changes`), by a small signed notification.
//!
//! Each pass fills the durable outbox (`service::changes::announce`: the
//! newest cursor the application may see), claims the deliveries due
//! (`changes::due`, leased so a second server instance does not send the
//! same one) and posts each in its own blocking task, at most
//! [`MAX_CONCURRENT`] at once, each bounded by [`ATTEMPT_TIMEOUT`]; a
//! failure is retried after an exponential back-off with jitter
//! (`service::retry::jittered`, [`BACKOFF_FIRST`] doubling to
//! [`BACKOFF_MAX`]). Requests never wait for it, and a receiver that is
//! down or slow costs one bounded attempt per back-off period.
//!
//! The notification is a Security Event Token (RFC 8417) posted as
//! `application/secevent+jwt` (RFC 8935): a JWS (RFC 7515) signed with the
//! province's current issuer key (`alg` `EdDSA`, RFC 8037; `kid` the key's
//! id as in the trust list), so a receiver checks it with the trust list it
//! already verifies. Format: `docs/wire-format.md`.
//!
//! It sits beside `http` (it reads the state and calls services; nothing
//! below imports it).

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand_core::{OsRng, RngCore as _};
use serde_json::json;
use shared::crypto::SigningKey;

use crate::service::{changes, retry};
use crate::state::AppState;
use crate::store::{ApplicationRow, WebhookRow};

/// How often the notifier looks for work.
pub const INTERVAL: Duration = Duration::from_secs(5);
/// Longest one delivery attempt may take (connect, send, answer).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most deliveries in flight at once.
pub const MAX_CONCURRENT: usize = 8;
/// First retry after this many seconds (jittered); doubled per failure ...
pub const BACKOFF_FIRST: i64 = 10;
/// ... up to this many.
pub const BACKOFF_MAX: i64 = 3_600;
/// How long a claimed delivery is left to its sender before another
/// instance may take it, seconds (longer than an attempt).
pub const LEASE: i64 = 60;
/// The event type of the notification.
pub const EVENT: &str = "urn:lnec:event:changes-waiting";
/// Most bytes of an answer read.
const MAX_ANSWER: u64 = 16 * 1024;

/// An HTTP client for callbacks: bounded time per attempt, no redirects.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(ATTEMPT_TIMEOUT))
        .timeout_connect(Some(Duration::from_secs(5)))
        .max_redirects(0)
        .user_agent(concat!("verifier-server/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// The notification for `app` that changes up to `cursor` are waiting: a
/// compact JWS of a Security Event Token, signed by `key`.
pub fn notification(
    key: &SigningKey,
    issuer: &str,
    app: &ApplicationRow,
    cursor: i64,
    now: i64,
) -> String {
    let mut jti = [0_u8; 16];
    OsRng.fill_bytes(&mut jti);
    let header = json!({
        "alg": key.alg().name(),
        "kid": key.kid().to_hex(),
        "typ": "secevent+jwt",
    });
    let claims = json!({
        "iss": issuer,
        "aud": app.client_id,
        "iat": now,
        "jti": hex::encode(jti),
        "events": { EVENT: { "cursor": cursor } },
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Posts one notification; `Ok` when the receiver answered 2xx.
pub fn deliver(agent: &ureq::Agent, url: &str, jws: &str) -> Result<(), String> {
    let mut response = agent
        .post(url)
        .content_type("application/secevent+jwt")
        .header("accept", "application/json")
        .send(jws.as_bytes())
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_string()
        .unwrap_or_default();
    Err(format!(
        "{url}: {status} {}",
        body.chars().take(300).collect::<String>()
    ))
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Applications with a new cursor to announce.
    pub announced: usize,
    /// Deliveries started.
    pub started: usize,
}

/// The notifier's shared parts: the client and the bound on deliveries.
#[derive(Clone)]
pub struct Notifier {
    agent: ureq::Agent,
    slots: Arc<tokio::sync::Semaphore>,
}

impl Default for Notifier {
    fn default() -> Notifier {
        Notifier::new()
    }
}

impl Notifier {
    /// A notifier with [`MAX_CONCURRENT`] delivery slots.
    pub fn new() -> Notifier {
        Notifier {
            agent: agent(),
            slots: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT)),
        }
    }

    /// Deliveries in flight now.
    pub fn in_flight(&self) -> usize {
        MAX_CONCURRENT - self.slots.available_permits()
    }

    /// One pass: fill the outbox, then start every due delivery there is a
    /// free slot for (each in its own task; the pass does not wait for
    /// them). Returns the deliveries' handles too, for tests that wait.
    pub async fn run_once(
        &self,
        state: &AppState,
    ) -> anyhow::Result<(Pass, Vec<tokio::task::JoinHandle<()>>)> {
        let free = self.slots.available_permits();
        let s = state.clone();
        let (announced, due) = tokio::task::spawn_blocking(move || {
            let now = s.now();
            let announced = changes::announce(s.store(), now)?;
            let due = if free == 0 {
                Vec::new()
            } else {
                changes::due(s.store(), now, free as u32, LEASE)?
            };
            anyhow::Ok((announced, due))
        })
        .await??;
        let mut handles = Vec::with_capacity(due.len());
        for (hook, app) in due {
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                break;
            };
            let (s, agent) = (state.clone(), self.agent.clone());
            handles.push(tokio::task::spawn_blocking(move || {
                let _permit = permit;
                attempt(&s, &agent, &hook, &app);
            }));
        }
        Ok((
            Pass {
                announced,
                started: handles.len(),
            },
            handles,
        ))
    }
}

/// One delivery attempt (blocking), recorded in the outbox.
fn attempt(state: &AppState, agent: &ureq::Agent, hook: &WebhookRow, app: &ApplicationRow) {
    let Some(url) = app.callback_url.as_deref() else {
        return;
    };
    let jws = notification(
        &state.keys().issuer,
        &state.audience().0,
        app,
        hook.cursor,
        state.now(),
    );
    let result = deliver(agent, url, &jws);
    if let Err(e) = &result {
        tracing::warn!(application = %app.client_id, attempts = hook.attempts + 1,
            error = %e, "webhook delivery failed; will retry");
    }
    if let Err(e) = changes::attempted(
        state.store(),
        hook,
        result.as_ref().err().map(String::as_str),
        |n| retry::jittered(n, BACKOFF_FIRST, BACKOFF_MAX),
        state.now(),
    ) {
        tracing::error!(application = %app.client_id, error = %e, "recording a webhook attempt failed");
    }
}

/// Runs [`Notifier::run_once`] every `every` until the runtime stops.
pub fn spawn(state: &AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let notifier = Notifier::new();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match notifier.run_once(&state).await {
                Ok((p, _)) if p != Pass::default() => tracing::info!(
                    announced = p.announced,
                    started = p.started,
                    "webhook notifications"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %format!("{e:#}"), "notifier failed"),
            }
        }
    })
}
