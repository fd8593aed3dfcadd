//! The audit row of a refused or failed request, written by one layer
//! ([`refusals`]) for every problem answered (4xx, 5xx), so that every
//! request leaves exactly one row: a success is audited by its service, in
//! the transaction of its effect; a refusal here, after the answer is
//! known, with the route's one spelling of its action
//! ([`Action::from_route`]), the caller the `Caller` extractor found (or
//! why it found none: [`note`]) and the request's path, truncated to
//! [`MAX_TARGET`] characters.
//!
//! Refusals cannot fill the disk: each client address gets at most
//! `refusal_rows_per_minute` rows a minute (and all addresses together
//! [`MAX_ROWS_PER_MINUTE`]); the refusals beyond are counted, and the count
//! is written as one row per address and minute
//! ([`Action::RefusalsCounted`]) when the minute is over. The addresses
//! tracked in a minute are bounded too ([`MAX_ADDRESSES`]); past it, the
//! rest are counted together. Rate-limit refusals (429) are logged, not
//! audited.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Extensions, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::client::client_addr;
use super::error::ProblemSlug;
use crate::service::action::Action;
use crate::service::auth::{AuthFailure, Caller};
use crate::state::AppState;
use crate::store::AuditEntry;

/// Longest path kept in a refusal row, characters.
pub const MAX_TARGET: usize = 200;
/// Most refusal rows a minute, all addresses together.
pub const MAX_ROWS_PER_MINUTE: u32 = 600;
/// Most addresses counted one by one in a minute.
pub const MAX_ADDRESSES: usize = 10_000;

/// Who made a request, as far as authentication found out.
#[derive(Debug, Clone)]
pub enum Who {
    /// A valid token.
    Caller(Caller),
    /// No valid token, and why.
    Refused(AuthFailure),
}

/// Where a handler or extractor leaves [`Who`] for the layer.
#[derive(Debug, Clone, Default)]
pub struct AuditSlot(Arc<Mutex<Option<Who>>>);

impl AuditSlot {
    /// Leaves `who` for the audit layer.
    pub fn set(&self, who: Who) {
        if let Ok(mut s) = self.0.lock() {
            *s = Some(who);
        }
    }
}

/// Leaves `who` for the audit layer of this request (if it passes one).
pub fn note(extensions: &Extensions, who: Who) {
    if let Some(slot) = extensions.get::<AuditSlot>() {
        slot.set(who);
    }
}

/// The address a refusal is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Origin {
    Addr(IpAddr),
    Unknown,
    /// Every address past [`MAX_ADDRESSES`] in a minute.
    Others,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Addr(a) => write!(f, "{a}"),
            Origin::Unknown => f.write_str("an unknown address"),
            Origin::Others => f.write_str("further addresses"),
        }
    }
}

#[derive(Debug, Default)]
struct Minute {
    /// Unix seconds / 60.
    number: i64,
    rows: u32,
    /// Per address: rows written, refusals only counted.
    per_address: HashMap<Origin, (u32, u64)>,
}

/// The refusal audit of one router: the state it writes with and the
/// current minute's counts.
#[derive(Debug)]
pub struct RefusalAudit {
    state: AppState,
    per_address: u32,
    minute: Mutex<Minute>,
}

/// What to write for one refusal.
enum Write {
    /// Its own row.
    Row,
    /// Only counted.
    Counted,
}

impl RefusalAudit {
    /// The audit of refusals answered by routes serving `state`; when a
    /// runtime is running, a task writes each minute's counts after it.
    pub fn new(state: AppState) -> Arc<RefusalAudit> {
        let per_address = state.limits().refusal_rows_per_minute;
        let audit = Arc::new(RefusalAudit {
            state,
            per_address,
            minute: Mutex::new(Minute::default()),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(flush_every_minute(Arc::downgrade(&audit)));
        }
        audit
    }

    /// Decides whether a refusal at `now` from `origin` gets its own row, and
    /// takes the counts of a minute that is over.
    fn admit(&self, now: i64, origin: Origin) -> (Write, Vec<AuditEntry>) {
        let Ok(mut m) = self.minute.lock() else {
            return (Write::Counted, Vec::new());
        };
        let done = self.roll(&mut m, now);
        let origin = if m.per_address.len() >= MAX_ADDRESSES && !m.per_address.contains_key(&origin)
        {
            Origin::Others
        } else {
            origin
        };
        let total_ok = m.rows < MAX_ROWS_PER_MINUTE;
        let entry = m.per_address.entry(origin).or_insert((0, 0));
        let write = if total_ok && entry.0 < self.per_address && origin != Origin::Others {
            entry.0 += 1;
            m.rows += 1;
            Write::Row
        } else {
            entry.1 += 1;
            Write::Counted
        };
        (write, done)
    }

    /// Starts the minute of `now` when it is not the current one,
    /// returning the rows that count the last one's refusals.
    fn roll(&self, m: &mut Minute, now: i64) -> Vec<AuditEntry> {
        let number = now.div_euclid(60);
        if m.number == number {
            return Vec::new();
        }
        let old = std::mem::replace(
            m,
            Minute {
                number,
                ..Minute::default()
            },
        );
        let start = old.number * 60;
        let mut rows: Vec<AuditEntry> = old
            .per_address
            .into_iter()
            .filter(|(_, (_, counted))| *counted > 0)
            .map(|(origin, (_, counted))| AuditEntry {
                ts: now,
                token_id: None,
                role: None,
                action: Action::RefusalsCounted.as_str().into(),
                target: format!(
                    "from {origin}, {} to {} China Standard Time",
                    shared::cst::datetime_text(start),
                    shared::cst::datetime_text(start + 59)
                ),
                outcome: format!("{counted} further refused requests"),
                client_addr: match origin {
                    Origin::Addr(a) => Some(a.to_string()),
                    Origin::Unknown | Origin::Others => None,
                },
            })
            .collect();
        rows.sort_by(|a, b| a.target.cmp(&b.target));
        rows
    }

    /// Writes the counts of a minute that is over, if any.
    fn flush(&self) {
        let now = self.state.now();
        let rows = match self.minute.lock() {
            Ok(mut m) => self.roll(&mut m, now),
            Err(_) => Vec::new(),
        };
        write(&self.state, &rows);
    }
}

async fn flush_every_minute(audit: Weak<RefusalAudit>) {
    let mut tick = tokio::time::interval(Duration::from_secs(15));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(audit) = audit.upgrade() else {
            return;
        };
        if let Err(e) = tokio::task::spawn_blocking(move || audit.flush()).await {
            tracing::error!(error = %e, "refusal audit task failed");
        }
    }
}

/// Appends rows in one transaction (blocking code); a failure to write
/// them is logged, not answered.
fn write(state: &AppState, rows: &[AuditEntry]) {
    if rows.is_empty() {
        return;
    }
    let result = state.store().begin().and_then(|mut tx| {
        for row in rows {
            tx.append_audit(row)?;
        }
        tx.commit()
    });
    if let Err(e) = result {
        tracing::error!(error = %e, "could not write an audit row");
    }
}

/// `path` cut to [`MAX_TARGET`] characters, saying how long it was.
fn truncated(path: &str) -> String {
    match path.char_indices().nth(MAX_TARGET) {
        None => path.to_string(),
        Some((cut, _)) => format!("{}… ({} bytes)", &path[..cut], path.len()),
    }
}

/// Middleware: answers the request, and when the answer is a problem
/// (4xx or 5xx other than 429) writes its audit row, or counts it.
pub async fn refusals(
    State(audit): State<Arc<RefusalAudit>>,
    mut req: Request,
    next: Next,
) -> Response {
    let slot = AuditSlot::default();
    req.extensions_mut().insert(slot.clone());
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let path = req.uri().path().to_string();
    let origin = client_addr(req.extensions(), req.headers()).map_or(Origin::Unknown, Origin::Addr);
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        return response;
    }
    let slug = response
        .extensions()
        .get::<ProblemSlug>()
        .map_or("error", |ProblemSlug(s)| s);
    let who = slot.0.lock().ok().and_then(|mut s| s.take());
    let action = route
        .as_deref()
        .and_then(|r| Action::from_route(method.as_str(), r));
    let (caller, outcome) = match &who {
        Some(Who::Caller(c)) => (Some(c), format!("{} {slug}", status.as_u16())),
        Some(Who::Refused(f)) => (None, format!("{slug}: {}", f.as_str())),
        None => (None, format!("{} {slug}", status.as_u16())),
    };
    let target = match action {
        Some(_) => truncated(&path),
        None => truncated(&format!("{method} {path}")),
    };
    let mut entry = Caller::audit_entry(
        caller,
        audit.state.now(),
        action.unwrap_or(Action::OtherRequest),
        target,
        outcome,
    );
    if let (None, Origin::Addr(addr)) = (&entry.client_addr, origin) {
        entry.client_addr = Some(addr.to_string());
    }
    let state = audit.state.clone();
    let done = tokio::task::spawn_blocking(move || {
        let (write_it, mut rows) = audit.admit(state.now(), origin);
        if let Write::Row = write_it {
            rows.push(entry);
        }
        write(&state, &rows);
    })
    .await;
    if let Err(e) = done {
        tracing::error!(error = %e, "audit task failed");
    }
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn every_authenticated_route_has_its_action() {
        let doc = serde_json::to_value(super::super::document()).unwrap();
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
                let m = method.to_ascii_uppercase();
                let public = Action::PUBLIC_ROUTES
                    .iter()
                    .any(|a| a.as_str() == format!("{m} {path}"));
                if secured || public {
                    assert!(
                        Action::from_route(&m, path).is_some(),
                        "{m} {path} has no action"
                    );
                    checked += 1;
                }
            }
        }
        let mut seen = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                seen.push(format!("{} {path}", method.to_ascii_uppercase()));
            }
        }
        let missing: Vec<&str> = Action::ROUTES
            .iter()
            .map(|a| a.as_str())
            .filter(|r| !seen.iter().any(|s| s == r))
            .collect();
        assert_eq!(
            checked,
            Action::ROUTES.len(),
            "routes not in the document or not audited: {missing:?}"
        );
    }

    #[test]
    fn long_paths_are_cut() {
        assert_eq!(truncated("/api/v1/x"), "/api/v1/x");
        let long = format!("/{}", "a".repeat(8000));
        let t = truncated(&long);
        assert!(t.chars().count() < MAX_TARGET + 20, "{t}");
        assert!(t.ends_with("(8001 bytes)"), "{t}");
        let wide = "证".repeat(300);
        assert_eq!(
            truncated(&wide).chars().take(MAX_TARGET).count(),
            MAX_TARGET
        );
    }
}
