//! The background forwarder of `serve` (issue 14 item 4): batches the
//! outbox's check records per peer province (`service::forward`) and
//! delivers due batches to `POST {base_url}/api/v1/peer/check-logs`,
//! retrying failures with exponential back-off. It runs on the blocking
//! pool from its own task, so requests never wait for it, and a peer that
//! does not answer costs one bounded attempt per batch and back-off period.
//!
//! It sits beside `http` (it reads the state and calls services; nothing
//! below imports it).

use std::time::Duration;

use crate::service::forward;
use crate::state::AppState;
use crate::store::ForwardBatchRow;

/// How often the forwarder looks for work.
pub const INTERVAL: Duration = Duration::from_secs(10);
/// Longest one delivery attempt may take (connect, send, answer).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes of an answer read.
const MAX_ANSWER: u64 = 64 * 1024;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Batches made from the outbox.
    pub made: usize,
    /// Batches the receiver acknowledged.
    pub delivered: usize,
    /// Attempts that failed (retried after back-off).
    pub failed: usize,
}

/// An HTTP client for the peers: bounded time per attempt, no redirects.
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

fn deliver(agent: &ureq::Agent, base_url: &str, batch: &ForwardBatchRow) -> Result<(), String> {
    let url = format!("{base_url}/api/v1/peer/check-logs");
    let mut response = agent
        .post(&url)
        .content_type("application/cose")
        .send(&batch.bytes[..])
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_string()
        .unwrap_or_default();
    if status != 200 {
        return Err(format!(
            "{url}: {status} {}",
            body.chars().take(300).collect::<String>()
        ));
    }
    match serde_json::from_str::<shared::api::ForwardAnswer>(&body) {
        Ok(a) if a.batch == batch.id => Ok(()),
        Ok(a) => Err(format!("{url}: acknowledged batch {} instead", a.batch)),
        Err(e) => Err(format!("{url}: unreadable answer: {e}")),
    }
}

/// One pass (blocking): make batches, then try every batch due now once.
pub fn run_once(state: &AppState, agent: &ureq::Agent) -> anyhow::Result<Pass> {
    let peers = state.peers();
    let mut pass = Pass {
        made: forward::make_batches(state.store(), &state.keys().root, &peers, state.now())?,
        ..Pass::default()
    };
    let start = state.now();
    while let Some(batch) = forward::due(state.store(), start)? {
        let peer = shared::forward::ProvinceCode::new(batch.province)
            .ok()
            .and_then(|p| peers.get(p));
        let result = match peer {
            Some(peer) => deliver(agent, &peer.base_url, &batch),
            None => Err(format!(
                "province {:06} is no longer a known peer",
                batch.province
            )),
        };
        match &result {
            Ok(()) => pass.delivered += 1,
            Err(e) => {
                tracing::warn!(batch = %batch.id, province = batch.province,
                    attempts = batch.attempts + 1, error = %e, "forwarding failed; will retry");
                pass.failed += 1;
            }
        }
        forward::attempted(
            state.store(),
            &batch,
            result.as_ref().err().map(String::as_str),
            state.now(),
        )?;
    }
    Ok(pass)
}

/// Runs [`run_once`] every [`INTERVAL`] on the blocking pool until the
/// runtime stops.
pub fn spawn(state: &AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let agent = agent();
        let mut every = tokio::time::interval(INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let (s, a) = (state.clone(), agent.clone());
            match tokio::task::spawn_blocking(move || run_once(&s, &a)).await {
                Ok(Ok(p)) if p != Pass::default() => {
                    tracing::info!(
                        made = p.made,
                        delivered = p.delivered,
                        failed = p.failed,
                        "forwarded check records"
                    )
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "forwarder failed"),
                Err(e) => tracing::error!(error = %e, "forwarder task failed"),
            }
        }
    })
}
