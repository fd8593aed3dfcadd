//! Online lookup (§6.5: no paper when an online check is possible): when a
//! holder cannot show a code, ask the server by plate, ID number or
//! certificate number (`GET /api/v1/lookup`), log the answer as a record of
//! kind `lookup` in the durable check log (uploaded by the next sync), and
//! only then show it. Without a connection nothing is logged and the
//! officer is told that lookup needs one.

use serde::Deserialize;
use shared::checklog::{CertRef, Event, Lookup, LookupBy};
use shared::domain::CertType;
use shared::verify::{Reason, Verdict};

use crate::db::Db;
use crate::net::Client;
use crate::view::FaceView;

/// One certificate in the server's answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Found {
    /// `valid` or `invalid`.
    pub verdict: String,
    /// Why not valid.
    pub reason: Option<String>,
    /// Status in the provincial system.
    pub status: String,
    /// The minimum named fields.
    pub face: FaceView,
}

/// The server's answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Answer {
    /// Overall verdict.
    pub verdict: String,
    /// Why not valid.
    pub reason: Option<String>,
    /// Server time of the lookup.
    pub checked_at: i64,
    /// Certificates found.
    pub results: Vec<Found>,
}

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
    /// The answer.
    pub answer: Answer,
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

/// Looks `value` up by `by` on the enrolled server, appends the lookup
/// record (durable) and returns what to show.
pub fn lookup(db: &mut Db, by: LookupBy, value: &str, now: i64) -> Result<Outcome, LookupError> {
    let e = db.require_enrollment()?;
    let client = Client::with_ca(&e.server, Some(e.token.clone()), e.ca_pem.as_deref())
        .map_err(LookupError::Offline)?;
    let a = client
        .get_query("/api/v1/lookup", &[(by.as_str(), value)])
        .map_err(LookupError::Offline)?;
    if a.status != 200 {
        return Err(LookupError::Refused {
            status: a.status,
            detail: a.text(),
        });
    }
    let answer: Answer = serde_json::from_slice(&a.body)
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
    let cert = answer.results.first().and_then(|f| {
        Some(CertRef {
            cert_type: CertType::from_code(&f.face.cert_type.code)?,
            number: f.face.number.clone(),
            version: f.face.version,
        })
    });
    let sealed = db.append(
        now,
        Event::Lookup(Lookup {
            verdict,
            reason,
            cert,
            by,
        }),
    )?;
    Ok(Outcome {
        check_id: sealed.record.seq,
        by,
        verdict,
        reason,
        answer,
    })
}
