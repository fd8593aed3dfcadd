//! Publication of the signed trust list and status lists.
//!
//! Every signed list at a given sequence carries the signing time of that
//! sequence, and both algorithms sign deterministically, so the bytes (and
//! their ETag) are the same whenever they are produced; this module caches
//! them per sequence only to save work.
//!
//! A list whose sequence is older than half its ttl is advanced on the next
//! request (an empty step for the status list), so verifiers that sync
//! always receive data younger than the ttl, and a delta always exists for a
//! client that is behind.
//!
//! The status list itself is derived from the certificate versions (their
//! status and status index): one source of truth. Each change of the list
//! is stored as a step (the unsigned `StatusDelta` from `seq - 1` to `seq`);
//! a delta from any older sequence is the merge of the steps after it.
//!
//! Serving is two-speed: the `cached_*` methods answer from memory (a short
//! lock and two reference-count increments, no store, no signing), which is
//! what nearly every request gets; the others read the store and sign, one
//! request at a time per list, when something changed or a list is due.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use anyhow::Context as _;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use shared::crypto::PublicKey;
use shared::status::{Status, StatusDelta, StatusList, StatusSnapshot};
use shared::trust::{IssuerKey, KeyState, Manifest, SignedStatus, StatusUpdate, TrustList};

use crate::service::keys::Keys;
use crate::store::{KeyRole, ListState, StatusState, StatusStep, Store, StoreError, Tx};

/// Freshness settings of the signed lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListConfig {
    /// Seconds after signing when verifiers start warning.
    pub ttl: u64,
    /// Seconds after signing when the data can no longer confirm status.
    pub max_age: u64,
}

impl Default for ListConfig {
    /// ttl 2 days, max age 7 days.
    fn default() -> ListConfig {
        ListConfig {
            ttl: 2 * 86_400,
            max_age: 7 * 86_400,
        }
    }
}

impl ListConfig {
    /// Age after which a list is re-signed at a new sequence: half the ttl.
    pub fn refresh_after(&self) -> i64 {
        i64::try_from(self.ttl / 2).unwrap_or(i64::MAX)
    }

    fn manifest(&self, issued_at: i64) -> Manifest {
        Manifest {
            issued_at,
            ttl: self.ttl,
            max_age: self.max_age,
        }
    }
}

/// Signed bytes with their strong ETag: cloning one is a reference-count
/// increment and a short copy, so a request served from the cache signs
/// and hashes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The COSE_Sign1 (shared, handed to a response body as is).
    pub bytes: Bytes,
    /// `"…"`: 128 bits of SHA-256 over the bytes, hex (ASCII, shared
    /// like the body, so a response's ETag header copies nothing).
    pub etag: Bytes,
}

impl Signed {
    fn new(bytes: Vec<u8>) -> Signed {
        let digest = Sha256::digest(&bytes);
        Signed {
            etag: Bytes::from(format!("\"{}\"", hex::encode(&digest[..16]))),
            bytes: Bytes::from(bytes),
        }
    }
}

/// The answer to a delta request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeltaAnswer {
    /// The signed delta to the current sequence.
    Delta(Signed),
    /// The client is at the current sequence already.
    UpToDate,
    /// The steps after that sequence are no longer kept: fetch a snapshot.
    Gone {
        /// The oldest sequence a delta can start from.
        oldest: u64,
    },
    /// The client names a sequence the server never published.
    Unknown {
        /// The current sequence.
        current: u64,
    },
}

/// The number of entries of a list covering indices below `next_index`.
pub fn list_len(next_index: u32) -> usize {
    let n = (next_index as usize).max(1);
    n.div_ceil(StatusList::BLOCK) * StatusList::BLOCK
}

/// Advances the status list by one step with these changes, in the order
/// they were made (a later change of an index wins), at `now` (never
/// earlier than the previous step).
///
/// A delegated copy follows the certificate version it copies (the one
/// place this is decided, so every path that changes a version's status —
/// push, status change, holder binding — carries it to the drivers'
/// copies in the same step): revoked, suspended or superseded, the copy is
/// too; a suspended copy is valid again when its source is reinstated (a
/// delegation the owner revoked has its copies revoked, never suspended).
pub fn advance_status(
    tx: &mut dyn Tx,
    state: &mut StatusState,
    now: i64,
    changes: Vec<(u32, Status)>,
) -> anyhow::Result<()> {
    let mut changes: BTreeMap<u32, Status> = changes.into_iter().collect();
    let sources: Vec<u32> = changes.keys().copied().collect();
    if !sources.is_empty() {
        for copy in tx.copies_of_sources(&sources)? {
            let Some(&source) = changes.get(&copy.source_index) else {
                continue;
            };
            let follows = match (source, copy.status) {
                (Status::Valid, Status::Suspended) => Some(Status::Valid),
                (Status::Valid, _) => None,
                (s, Status::Valid | Status::Suspended) => Some(s),
                _ => None,
            };
            if let Some(s) = follows.filter(|s| *s != copy.status) {
                tx.set_copy_status(copy.status_index, s)?;
                changes.insert(copy.status_index, s);
            }
        }
    }
    let changes: Vec<(u32, Status)> = changes.into_iter().collect();
    let seq = state.list.seq + 1;
    let issued_at = now.max(state.list.issued_at);
    let delta = StatusDelta {
        from_seq: state.list.seq,
        to_seq: seq,
        len: list_len(state.next_index),
        changes,
    };
    tx.insert_status_step(&StatusStep {
        seq,
        issued_at,
        delta: delta.to_cbor().context("encoding a status step")?,
    })?;
    state.list = ListState { seq, issued_at };
    tx.set_status_state(*state)?;
    Ok(())
}

fn status_state(tx: &mut dyn Tx) -> anyhow::Result<StatusState> {
    tx.status_state()?
        .context("the status list is not initialised")
}

/// Bound on the signed deltas kept for the current sequence.
const MAX_CACHED_DELTAS: usize = 64;

/// A list state as last read from the store, and the store generation it
/// was read at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    state: ListState,
    generation: u64,
}

#[derive(Default)]
struct Cache {
    trust: Option<(Seen, Signed)>,
    status: Option<Seen>,
    snapshot: Option<(u64, Signed)>,
    /// The list generation the snapshot was signed at.
    snapshot_generation: u64,
    /// `since → (to, signed)` for the current sequence only.
    deltas: HashMap<u64, (u64, Signed)>,
}

/// Publishes the lists (one per service, shared through `AppState`).
///
/// Requests are answered from memory while nothing changed: writers call
/// [`Lists::invalidate`] after they commit a change of a list, and a list
/// due for re-signing is read from the store again. So a verifier's sync
/// does not wait for a push in progress.
#[derive(Default)]
pub struct Lists {
    cache: Mutex<Cache>,
    generation: AtomicU64,
    /// Held while the trust list is read and signed, so that a crowd of
    /// requests arriving when it is due waits for one signing instead of
    /// each reading the store and signing (the list routes have no
    /// concurrency limit).
    trust_refresh: Mutex<()>,
    /// The same for the status list (snapshot and deltas).
    status_refresh: Mutex<()>,
}

impl std::fmt::Debug for Lists {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lists")
    }
}

impl Lists {
    fn cache(&self) -> Result<std::sync::MutexGuard<'_, Cache>, StoreError> {
        self.cache.lock().map_err(|_| StoreError::Poisoned)
    }

    /// Marks what was read from the store as possibly outdated; call after
    /// committing any change of a list (and harmlessly after a rollback).
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Whether a state read earlier can still be served at `now`.
    fn fresh(&self, seen: &Seen, config: ListConfig, now: i64) -> bool {
        seen.generation == self.generation() && now - seen.state.issued_at <= config.refresh_after()
    }

    /// The signed trust list when it can be answered from memory at `now`
    /// (nothing changed since it was signed and it is not due for
    /// re-signing): no store, no signing, nothing that blocks but a short
    /// lock, so request handlers call it directly. `None`: call
    /// [`Lists::trust_list`] on the blocking pool.
    pub fn cached_trust_list(&self, config: ListConfig, now: i64) -> Option<Signed> {
        let cache = self.cache.lock().ok()?;
        let (seen, signed) = cache.trust.as_ref()?;
        self.fresh(seen, config, now).then(|| signed.clone())
    }

    /// The signed status snapshot when it can be answered from memory at
    /// `now`, as [`Lists::cached_trust_list`]; `None`: call
    /// [`Lists::status_snapshot`].
    pub fn cached_status_snapshot(&self, config: ListConfig, now: i64) -> Option<Signed> {
        let cache = self.cache.lock().ok()?;
        let head = cache.status.filter(|seen| self.fresh(seen, config, now))?;
        let (seq, signed) = cache.snapshot.as_ref()?;
        (*seq == head.state.seq).then(|| signed.clone())
    }

    /// The answer to a delta request when it can be given from memory at
    /// `now`, as [`Lists::cached_trust_list`]; `None`: call
    /// [`Lists::status_delta`].
    pub fn cached_status_delta(
        &self,
        config: ListConfig,
        now: i64,
        since: u64,
    ) -> Option<DeltaAnswer> {
        let cache = self.cache.lock().ok()?;
        let head = cache
            .status
            .filter(|seen| self.fresh(seen, config, now))?
            .state;
        if since == head.seq {
            return Some(DeltaAnswer::UpToDate);
        }
        if since > head.seq {
            return Some(DeltaAnswer::Unknown { current: head.seq });
        }
        let (to, signed) = cache.deltas.get(&since)?;
        (*to == head.seq).then(|| DeltaAnswer::Delta(signed.clone()))
    }

    /// The signed trust list, advancing its sequence when it is due.
    pub fn trust_list(
        &self,
        store: &dyn Store,
        keys: &Keys,
        config: ListConfig,
        now: i64,
    ) -> anyhow::Result<Signed> {
        if let Some(signed) = (!store.shared())
            .then(|| self.cached_trust_list(config, now))
            .flatten()
        {
            return Ok(signed);
        }
        let _refresh = self
            .trust_refresh
            .lock()
            .map_err(|_| StoreError::Poisoned)?;
        // Another request may have signed it while this one waited.
        if let Some(signed) = (!store.shared())
            .then(|| self.cached_trust_list(config, now))
            .flatten()
        {
            return Ok(signed);
        }
        // Read the generation before the store: a change committed while
        // we read makes what we cache stale at once.
        let generation = self.generation();
        let mut tx = store.begin()?;
        let mut state = tx
            .trust_state()?
            .context("the trust list is not initialised")?;
        if now - state.issued_at > config.refresh_after() {
            state = ListState {
                seq: state.seq + 1,
                issued_at: now,
            };
            tx.set_trust_state(state)?;
        }
        let mut issuer_keys = Vec::new();
        // A retired key stays listed (verify-only) until its overlap window
        // ends; a compromised one stays listed so verifiers refuse it.
        // Judged at the sequence's signing time, so the bytes of a sequence
        // never change.
        let listed_until = tx.keys_listed_until()?;
        let listed = |k: &crate::store::KeyRecord| {
            k.state != 1
                || listed_until
                    .iter()
                    .find(|(kid, _)| *kid == k.kid)
                    .is_none_or(|(_, until)| state.issued_at <= *until)
        };
        for k in tx
            .keys()?
            .into_iter()
            .filter(|k| k.role == KeyRole::Issuer && listed(k))
        {
            let public_key = PublicKey::from_bytes(k.alg, &k.public_key)
                .with_context(|| format!("stored public key {}", k.kid))?;
            let state = match (k.state, k.compromised_since) {
                (0, _) => KeyState::Active,
                (1, _) => KeyState::Retired,
                (_, since) => KeyState::Compromised {
                    since: since.unwrap_or(k.not_before),
                },
            };
            issuer_keys.push(IssuerKey {
                public_key,
                not_before: k.not_before,
                not_after: k.not_after,
                state,
            });
        }
        let list = TrustList {
            seq: state.seq,
            manifest: config.manifest(state.issued_at),
            keys: issuer_keys,
            authorities: tx.authorities()?,
        };
        tx.commit()?;
        let signed = Signed::new(list.sign(&keys.root));
        self.cache()?.trust = Some((Seen { state, generation }, signed.clone()));
        Ok(signed)
    }

    /// The status list's state: from memory while fresh, else from the
    /// store, re-signing at a new sequence when it is due.
    fn status_head(
        &self,
        store: &dyn Store,
        config: ListConfig,
        now: i64,
    ) -> anyhow::Result<(StatusState, bool)> {
        let generation = self.generation();
        let mut tx = store.begin()?;
        let mut state = status_state(tx.as_mut())?;
        let advanced = now - state.list.issued_at > config.refresh_after();
        if advanced {
            advance_status(tx.as_mut(), &mut state, now, Vec::new())?;
        }
        tx.commit()?;
        if advanced {
            self.invalidate();
        } else {
            self.cache()?.status = Some(Seen {
                state: state.list,
                generation,
            });
        }
        Ok((state, advanced))
    }

    /// The signed snapshot of the current status list.
    pub fn status_snapshot(
        &self,
        store: &dyn Store,
        keys: &Keys,
        config: ListConfig,
        now: i64,
    ) -> anyhow::Result<Signed> {
        if let Some(signed) = (!store.shared())
            .then(|| self.cached_status_snapshot(config, now))
            .flatten()
        {
            return Ok(signed);
        }
        let _refresh = self
            .status_refresh
            .lock()
            .map_err(|_| StoreError::Poisoned)?;
        // Another request may have signed it while this one waited.
        if let Some(signed) = (!store.shared())
            .then(|| self.cached_status_snapshot(config, now))
            .flatten()
        {
            return Ok(signed);
        }
        let generation = self.generation();
        let (state, _) = self.status_head(store, config, now)?;
        if store.shared() {
            // Another instance may have moved the list: its sequence is
            // read above; the snapshot signed here at that sequence (and
            // key generation) still serves.
            let cache = self.cache()?;
            if let Some((seq, signed)) = &cache.snapshot {
                if *seq == state.list.seq && cache.snapshot_generation == generation {
                    return Ok(signed.clone());
                }
            }
        }
        let mut tx = store.begin()?;
        // The list as of the state just read: a push committing in between
        // only adds valid entries or later steps, which the next request
        // picks up; the signed sequence is the one read above.
        let current = status_state(tx.as_mut())?;
        let mut list = StatusList::new(list_len(current.next_index))?;
        for (index, status) in tx.non_valid()? {
            list.set(index, status)?;
        }
        tx.commit()?;
        let seq = current.list.seq;
        let snapshot = StatusSnapshot { seq, list };
        let signed = Signed::new(SignedStatus::sign(
            config.manifest(current.list.issued_at),
            &StatusUpdate::Snapshot(snapshot),
            &keys.issuer,
        )?);
        if seq == state.list.seq {
            let mut cache = self.cache()?;
            cache.snapshot = Some((seq, signed.clone()));
            cache.snapshot_generation = generation;
        }
        Ok(signed)
    }

    /// The signed delta from `since` to the current sequence.
    pub fn status_delta(
        &self,
        store: &dyn Store,
        keys: &Keys,
        config: ListConfig,
        now: i64,
        since: u64,
    ) -> anyhow::Result<DeltaAnswer> {
        if let Some(answer) = (!store.shared())
            .then(|| self.cached_status_delta(config, now, since))
            .flatten()
        {
            return Ok(answer);
        }
        let _refresh = self
            .status_refresh
            .lock()
            .map_err(|_| StoreError::Poisoned)?;
        // Another request may have signed it while this one waited.
        if let Some(answer) = (!store.shared())
            .then(|| self.cached_status_delta(config, now, since))
            .flatten()
        {
            return Ok(answer);
        }
        self.status_head(store, config, now)?;
        // One transaction for the state and its steps, so they agree.
        let mut tx = store.begin()?;
        let state = status_state(tx.as_mut())?;
        let current = state.list.seq;
        if since == current {
            return Ok(DeltaAnswer::UpToDate);
        }
        if since > current {
            return Ok(DeltaAnswer::Unknown { current });
        }
        let oldest = tx.oldest_delta_base()?.unwrap_or(current);
        if since < oldest {
            return Ok(DeltaAnswer::Gone { oldest });
        }
        let steps = tx.status_steps_after(since)?;
        tx.commit()?;
        let mut merged: BTreeMap<u32, Status> = BTreeMap::new();
        let mut expected = since;
        for step in steps {
            let delta = StatusDelta::from_cbor(&step.delta, StatusList::MAX_LEN)
                .with_context(|| format!("stored status step {}", step.seq))?;
            anyhow::ensure!(
                delta.from_seq == expected && delta.to_seq == step.seq,
                "stored status steps are not a chain at {}",
                step.seq
            );
            expected = step.seq;
            merged.extend(delta.changes);
        }
        anyhow::ensure!(
            expected == current,
            "stored status steps end at {expected}, not at {current}"
        );
        let delta = StatusDelta {
            from_seq: since,
            to_seq: current,
            len: list_len(state.next_index),
            changes: merged.into_iter().collect(),
        };
        let signed = Signed::new(SignedStatus::sign(
            config.manifest(state.list.issued_at),
            &StatusUpdate::Delta(delta),
            &keys.issuer,
        )?);
        let mut cache = self.cache()?;
        cache.deltas.retain(|_, (to, _)| *to == current);
        if cache.deltas.len() >= MAX_CACHED_DELTAS {
            cache.deltas.clear();
        }
        cache.deltas.insert(since, (current, signed.clone()));
        Ok(DeltaAnswer::Delta(signed))
    }
}
