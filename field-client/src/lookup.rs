//! Online lookup (§6.5: no paper when an online check is possible): when a
//! holder cannot show a code, ask the server by plate, ID number or
//! certificate number (`GET /api/v1/lookup`), log the answer as a record of
//! kind `lookup` in the durable check log (uploaded by the next sync), and
//! only then show it. Without a connection nothing is logged and the
//! officer is told that lookup needs one.

use shared::api::LookupAnswer;
use shared::checklog::{CertRef, Event, Lookup, LookupBy};
use shared::domain::CertType;
use shared::verify::{Reason, Verdict};

use crate::db::Db;
use crate::net::Client;

/// A logged lookup.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The log sequence number of the lookup record.
    pub check_id: u64,
    /// What was searched by.
    pub by: LookupBy,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, when not valid.
    pub reason: Option<Reason>,
    /// The server's answer, as sent (`shared::api`'s wire type).
    pub answer: LookupAnswer,
}

/// Why a lookup did not happen.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The server could not be reached: lookup needs a connection.
    #[error("lookup needs a connection (查询需要联网): {0:#}")]
    Offline(anyhow::Error),
    /// The server refused the query (bad value, role, rate limit).
    #[error("the server refused the lookup ({status}): {detail}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The problem's detail.
        detail: String,
    },
    /// Anything else (an answer that does not parse, the log).
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

fn verdict_of(s: &str) -> Option<Verdict> {
    [Verdict::Valid, Verdict::Invalid, Verdict::CannotConfirm]
        .into_iter()
        .find(|v| v.as_str() == s)
}

/// The server's answer to a lookup, read and checked, not yet logged.
#[derive(Debug, Clone)]
pub struct Answered {
    /// What was searched by.
    pub by: LookupBy,
    /// The overall verdict.
    pub verdict: Verdict,
    /// Why, when not valid.
    pub reason: Option<Reason>,
    /// The server's answer, as sent.
    pub answer: LookupAnswer,
}

/// Asks `server` (with the officer's `token`) for `value` by `by`
/// (`GET /api/v1/lookup`). Touches no local state, so a caller can do it
/// without holding the device's database.
pub fn query(
    server: &str,
    token: &str,
    ca_pem: Option<&str>,
    by: LookupBy,
    value: &str,
) -> Result<Answered, LookupError> {
    let client =
        Client::with_ca(server, Some(token.to_string()), ca_pem).map_err(LookupError::Offline)?;
    let a = client
        .get_query("/api/v1/lookup", &[(by.as_str(), value)])
        .map_err(LookupError::Offline)?;
    if a.status != 200 {
        return Err(LookupError::Refused {
            status: a.status,
            detail: problem_detail(&a.body).unwrap_or_else(|| a.text()),
        });
    }
    let answer: LookupAnswer = serde_json::from_slice(&a.body)
        .map_err(|err| anyhow::anyhow!("the lookup answer does not parse: {err}"))?;
    let verdict = verdict_of(&answer.verdict)
        .ok_or_else(|| anyhow::anyhow!("unknown verdict {:?}", answer.verdict))?;
    let reason = match (&answer.reason, verdict) {
        (None, Verdict::Valid) => None,
        (Some(code), v) => {
            let r = Reason::from_code(code)
                .filter(|r| r.verdict() == v)
                .ok_or_else(|| anyhow::anyhow!("reason {code:?} does not fit {}", v.as_str()))?;
            Some(r)
        }
        (None, v) => return Err(anyhow::anyhow!("a {} answer without a reason", v.as_str()).into()),
    };
    Ok(Answered {
        by,
        verdict,
        reason,
        answer,
    })
}

/// The `detail` of an RFC 9457 problem body, if it is one.
fn problem_detail(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("detail")
        .or_else(|| v.get("title"))
        .and_then(|d| d.as_str())
        .map(str::to_string)
}

/// Appends the lookup record of `a` to the durable log (fsynced) and
/// returns what to show: the answer is shown only after this.
pub fn record(db: &mut Db, a: Answered, now: i64) -> anyhow::Result<Outcome> {
    let cert = a.answer.results.first().and_then(|f| {
        Some(CertRef {
            cert_type: CertType::from_code(&f.face.cert_type.code)?,
            number: f.face.number.clone(),
            version: f.face.version,
        })
    });
    let sealed = db.append(
        now,
        Event::Lookup(Lookup {
            verdict: a.verdict,
            reason: a.reason,
            cert,
            by: a.by,
        }),
    )?;
    Ok(Outcome {
        check_id: sealed.record.seq,
        by: a.by,
        verdict: a.verdict,
        reason: a.reason,
        answer: a.answer,
    })
}

/// Looks `value` up by `by` on the enrolled server, appends the lookup
/// record (durable) and returns what to show.
pub fn lookup(db: &mut Db, by: LookupBy, value: &str, now: i64) -> Result<Outcome, LookupError> {
    let e = db.require_enrollment()?;
    let answered = query(&e.server, &e.token, e.ca_pem.as_deref(), by, value)?;
    Ok(record(db, answered, now)?)
}
