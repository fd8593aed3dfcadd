//! A verifier's view of a server: its trust list and status list as
//! served, checked with `shared::verify` exactly as a field device does.

use shared::status::StatusCache;
use shared::trust::{Manifest, SignedStatus, StatusUpdate, TrustList};
use shared::verify::{self, Context, Policy, StatusData};

/// The trust list and a status cache, as a verifier holds them.
#[derive(Debug)]
pub struct Verifier {
    /// The verified trust list.
    pub trust: TrustList,
    /// The status cache.
    pub cache: StatusCache,
    /// The manifest of the newest status update applied.
    pub manifest: Manifest,
}

impl Verifier {
    /// A view from served trust-list bytes (verified against `root`) and a
    /// served status-list snapshot.
    pub fn from_served(trust: &[u8], root: &shared::crypto::PublicKey, status: &[u8]) -> Verifier {
        let trust = TrustList::verify(trust, root).expect("the served trust list verifies");
        let signed = SignedStatus::verify(status, &trust).expect("the served status list verifies");
        let StatusUpdate::Snapshot(snapshot) = signed.update else {
            panic!("status-list served a delta");
        };
        Verifier {
            trust,
            cache: StatusCache::from_snapshot(snapshot),
            manifest: signed.manifest,
        }
    }

    /// Verifies a QR text (certificate or presentation) at `now`.
    pub fn check(
        &self,
        text: &str,
        now: i64,
    ) -> Result<verify::VerifiedCertificate, verify::Rejection> {
        verify::verify(
            text,
            &Context {
                trust: &self.trust,
                status: Some(StatusData {
                    cache: &self.cache,
                    manifest: self.manifest,
                }),
                now,
                newest_seen: 0,
                policy: Policy::default(),
                national: None,
            },
        )
    }

    /// Applies served delta bytes.
    pub fn apply_delta(&mut self, body: &[u8]) {
        let signed = SignedStatus::verify(body, &self.trust).expect("the served delta verifies");
        let StatusUpdate::Delta(delta) = signed.update else {
            panic!("deltas served a snapshot");
        };
        self.cache.apply(&delta).expect("the delta applies");
        self.manifest = signed.manifest;
    }
}
