//! Administration on a data directory (`verifier-server admin ...`): token
//! listing, rotation and revocation, issuer key rotation and compromise.
//! Each action is one transaction with its audit row (role `cli`).
//!
//! Token rotation gives a token a new secret under the same id (devices
//! enrolled with it and audit rows naming it stay its own) with a fresh
//! lifetime; the replaced secret keeps working for the overlap, so the
//! holder of the token can switch without a moment where neither works.
//!
//! Key changes also bump the key generation (`meta`, same transaction) and
//! announce it in a small file after the commit; a running server reads
//! that file before it signs or serves a list and reloads its keys (see
//! `AppState::keys`), so no restart is needed.
//!
//! Rotation: a new issuer key (same algorithm unless asked) signs from now;
//! the old one is retired (verify-only) and stays in the trust list until
//! the overlap window ends. Every live certificate is re-signed in place
//! with the new key (same version, claims and status index, new issue
//! time), so both the old QR and the new one verify during the window and
//! holders pick up the new one whenever they open their certificates.
//! Delegated copies are re-signed the same way at the driver's next sync
//! (`delegations::refresh_copies`), the only place they are served.
//! Compromise: the key is marked compromised (everything it signed is
//! refused, see `docs/decisions.md`); if it was the signing key a new one
//! is made first; the live certificates it signed are re-signed with the
//! current key. Both advance the trust list and the status list to a new
//! sequence at once, so verifiers see the change on their next sync.

use std::path::Path;

use anyhow::{bail, Context as _};
use serde::Serialize;
use shared::cose::Sign1;
use shared::crypto::{Alg, Kid};
use shared::verify::MAX_CERTIFICATE_LEN;

use super::action::{cli_entry, Action};
use crate::evaluation;
use crate::service::auth::{generate_token, hash_token, Role};
use crate::service::keys::{self, Keys};
use crate::service::lists::advance_status;
use crate::store::{KeyRecord, KeyRole, ListState, Store, TokenRotation, TokenRow, Tx};

/// How long a retired key may still have signed (covers a running server
/// that has not yet noticed the rotation), seconds.
pub const ROTATION_GRACE_SECONDS: i64 = 300;

/// A token as listed: never the token or its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// Row id (what `revoke-token --id` takes).
    pub id: i64,
    /// Role.
    pub role: String,
    /// Division of agency and officer tokens.
    pub division: Option<u32>,
    /// Who it was issued to.
    pub subject: String,
    /// Created, Unix seconds.
    pub created_at: i64,
    /// Revoked, Unix seconds.
    pub revoked_at: Option<i64>,
    /// When the current secret expires, Unix seconds.
    pub expires_at: i64,
    /// Last accepted request (to the minute), Unix seconds.
    pub last_used_at: Option<i64>,
    /// Last rotation, Unix seconds.
    pub rotated_at: Option<i64>,
    /// Until when the secret replaced by the last rotation still works.
    pub previous_until: Option<i64>,
    /// `active`, `expired` or `revoked`, at the time of listing.
    pub state: &'static str,
}

impl TokenInfo {
    fn of(t: TokenRow, now: i64) -> TokenInfo {
        let state = if t.revoked_at.is_some() {
            "revoked"
        } else if now >= t.expires_at {
            "expired"
        } else {
            "active"
        };
        TokenInfo {
            id: t.id,
            role: t.role,
            division: t.division.map(|d| d.code()),
            subject: t.subject,
            created_at: t.created_at,
            revoked_at: t.revoked_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            rotated_at: t.rotated_at,
            previous_until: t.prev_expires_at.filter(|&u| u > now),
            state,
        }
    }
}

/// Every token, oldest first.
pub fn list_tokens(store: &dyn Store, now: i64) -> anyhow::Result<Vec<TokenInfo>> {
    let mut tx = store.begin()?;
    let tokens: Vec<TokenInfo> = tx
        .tokens()?
        .into_iter()
        .map(|t| TokenInfo::of(t, now))
        .collect();
    tx.append_audit(&cli_entry(
        now,
        Action::ListTokens,
        format!("{} tokens", tokens.len()),
        "ok",
    ))?;
    tx.commit()?;
    Ok(tokens)
}

/// Revokes token `id`: the next request with it is answered 401, also on
/// a running server (tokens are read per request). Revoking a revoked
/// token keeps its first revocation time.
pub fn revoke_token(store: &dyn Store, id: i64, now: i64) -> anyhow::Result<TokenInfo> {
    let mut tx = store.begin()?;
    let Some(t) = tx.revoke_token(id, now)? else {
        tx.append_audit(&cli_entry(
            now,
            Action::RevokeToken,
            format!("token {id}"),
            "not found",
        ))?;
        tx.commit()?;
        bail!("no token with id {id}");
    };
    tx.append_audit(&cli_entry(
        now,
        Action::RevokeToken,
        format!("token {id} role={} subject={}", t.role, t.subject),
        "ok",
    ))?;
    tx.commit()?;
    Ok(TokenInfo::of(t, now))
}

/// Default overlap of a token rotation: the replaced secret keeps working
/// this long (seconds), time to put the new one in place.
pub const TOKEN_ROTATION_OVERLAP: i64 = 7 * 86_400;

/// A rotated token: its new secret (shown once) and its listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotatedToken {
    /// The new token text.
    pub token: String,
    /// The token after the rotation.
    pub info: TokenInfo,
}

/// Gives token `id` a new secret valid `lifetime` seconds (default: its
/// role's); the current secret keeps working `overlap` seconds (at most
/// until its own expiry), then is refused as expired.
pub fn rotate_token(
    store: &dyn Store,
    id: i64,
    overlap: i64,
    lifetime: Option<i64>,
    now: i64,
) -> anyhow::Result<RotatedToken> {
    anyhow::ensure!(overlap >= 0, "the overlap cannot be negative");
    let mut tx = store.begin()?;
    let Some(current) = tx.tokens()?.into_iter().find(|t| t.id == id) else {
        tx.append_audit(&cli_entry(
            now,
            Action::RotateToken,
            format!("token {id}"),
            "not found",
        ))?;
        tx.commit()?;
        bail!("no token with id {id}");
    };
    if current.revoked_at.is_some() {
        tx.append_audit(&cli_entry(
            now,
            Action::RotateToken,
            format!("token {id}"),
            "refused: revoked",
        ))?;
        tx.commit()?;
        bail!("token {id} is revoked: create a new token instead");
    }
    let lifetime = match lifetime {
        Some(l) => l,
        None => Role::parse(&current.role)
            .with_context(|| format!("token {id} has an unknown role {:?}", current.role))?
            .default_lifetime(),
    };
    anyhow::ensure!(lifetime > 0, "the lifetime must be positive");
    let token = generate_token();
    let rotation = TokenRotation {
        hash: hash_token(&token),
        expires_at: now.saturating_add(lifetime),
        prev_expires_at: now.saturating_add(overlap),
        at: now,
    };
    let t = tx
        .rotate_token(id, &rotation)?
        .with_context(|| format!("token {id} vanished during the rotation"))?;
    tx.append_audit(&cli_entry(
        now,
        Action::RotateToken,
        format!("token {id} role={} subject={}", t.role, t.subject),
        &format!(
            "ok: expires {}, previous secret until {}",
            t.expires_at,
            t.prev_expires_at.unwrap_or(now)
        ),
    ))?;
    tx.commit()?;
    Ok(RotatedToken {
        token,
        info: TokenInfo::of(t, now),
    })
}

/// The officer devices (of `token` only, when given), audited as a
/// command-line action.
pub fn list_devices(
    store: &dyn Store,
    token: Option<i64>,
    now: i64,
) -> anyhow::Result<Vec<shared::api::DeviceView>> {
    let mut tx = store.begin()?;
    let list: Vec<shared::api::DeviceView> = tx
        .devices(token)?
        .iter()
        .map(super::devices::device_view)
        .collect();
    tx.append_audit(&cli_entry(
        now,
        Action::ListDevices,
        token.map_or_else(|| "every token".to_string(), |t| format!("token {t}")),
        "ok",
    ))?;
    tx.commit()?;
    Ok(list)
}

/// What a key change did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyChange {
    /// The signing key now.
    pub issuer_kid: String,
    /// The key retired or compromised.
    pub old_kid: String,
    /// Until when a retired key stays in the trust list (rotation).
    pub listed_until: Option<i64>,
    /// Live certificates re-signed with the signing key.
    pub resigned: usize,
    /// The trust list sequence that carries the change.
    pub trust_seq: u64,
    /// The status list sequence signed by the new key.
    pub status_seq: u64,
}

fn active_issuer(records: &[KeyRecord]) -> anyhow::Result<&KeyRecord> {
    records
        .iter()
        .rev()
        .find(|k| k.role == KeyRole::Issuer && k.state == 0)
        .context("no active issuer key in the database")
}

/// Adds a new issuer key and retires `old` (signing period closed after
/// the grace, listed until `listed_until`).
fn add_issuer_key(
    tx: &mut dyn Tx,
    data: &Path,
    old: &KeyRecord,
    alg: Alg,
    now: i64,
    listed_until: i64,
) -> anyhow::Result<KeyRecord> {
    let new = keys::new_issuer_key(data, alg, now)?;
    tx.insert_key(&new)?;
    tx.set_key_state(
        &old.kid,
        1,
        Some(now + ROTATION_GRACE_SECONDS),
        old.compromised_since,
    )?;
    tx.set_key_listed_until(&old.kid, listed_until)?;
    Ok(new)
}

/// Re-signs, with `keys.issuer` at `now`, every live certificate version
/// whose signer is one of `kids` (all live versions when `kids` is None).
fn resign(tx: &mut dyn Tx, keys: &Keys, kids: Option<&[Kid]>, now: i64) -> anyhow::Result<usize> {
    let mut n = 0;
    for v in tx.live_versions()? {
        let envelope = Sign1::parse(&v.signed, MAX_CERTIFICATE_LEN)
            .with_context(|| format!("stored {} {} v{}", v.cert_type, v.number, v.version))?;
        let signer = envelope.kid();
        if signer == Some(keys.issuer.kid()) {
            continue;
        }
        if let Some(kids) = kids {
            if !signer.is_some_and(|k| kids.contains(&k)) {
                continue;
            }
        }
        let signed = keys
            .resign(&envelope, now)
            .with_context(|| format!("stored {} {} v{}", v.cert_type, v.number, v.version))?;
        tx.set_version_signed(v.cert_type, &v.number, v.version, &signed, now)?;
        n += 1;
    }
    Ok(n)
}

/// A new trust list and status list sequence, and the next key
/// generation; returns (trust seq, status seq, generation).
fn publish(tx: &mut dyn Tx, now: i64) -> anyhow::Result<(u64, u64, u64)> {
    let trust = tx
        .trust_state()?
        .context("the trust list is not initialised")?;
    let trust = ListState {
        seq: trust.seq + 1,
        issued_at: now.max(trust.issued_at),
    };
    tx.set_trust_state(trust)?;
    let mut status = tx
        .status_state()?
        .context("the status list is not initialised")?;
    advance_status(tx, &mut status, now, Vec::new())?;
    let generation = tx
        .meta(keys::GENERATION_META)?
        .and_then(|g| g.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    tx.set_meta(keys::GENERATION_META, &generation.to_string())?;
    Ok((trust.seq, status.list.seq, generation))
}

/// Rotates the issuer key (see the module docs). `alg` defaults to the
/// current key's algorithm.
pub fn rotate_key(
    data: &Path,
    store: &dyn Store,
    alg: Option<Alg>,
    overlap_days: u32,
    now: i64,
) -> anyhow::Result<KeyChange> {
    let mut tx = store.begin()?;
    let records = tx.keys()?;
    let old = active_issuer(&records)?.clone();
    let listed_until = now + i64::from(overlap_days) * 86_400;
    let new = add_issuer_key(
        tx.as_mut(),
        data,
        &old,
        alg.unwrap_or(old.alg),
        now,
        listed_until,
    )?;
    let keys = keys::load(data, &tx.keys()?)?;
    let resigned = resign(tx.as_mut(), &keys, None, now)?;
    let (trust_seq, status_seq, generation) = publish(tx.as_mut(), now)?;
    tx.append_audit(&cli_entry(
        now,
        Action::RotateKey,
        format!("issuer key {} -> {}", old.kid, new.kid),
        &format!("ok: {resigned} re-signed, old key listed until {listed_until}"),
    ))?;
    tx.commit()?;
    keys::announce_generation(data, generation)?;
    Ok(KeyChange {
        issuer_kid: new.kid.to_hex(),
        old_kid: old.kid.to_hex(),
        listed_until: Some(listed_until),
        resigned,
        trust_seq,
        status_seq,
    })
}

/// Marks issuer key `kid` (hex) compromised since `since` (default now);
/// see the module docs.
pub fn compromise_key(
    data: &Path,
    store: &dyn Store,
    kid: &str,
    since: Option<i64>,
    now: i64,
) -> anyhow::Result<KeyChange> {
    let kid = hex::decode(kid.trim())
        .ok()
        .and_then(|b| Kid::from_slice(&b))
        .with_context(|| format!("--kid {kid:?} is not a key id (16 hex digits)"))?;
    let mut tx = store.begin()?;
    let records = tx.keys()?;
    let target = records
        .iter()
        .find(|k| k.kid == kid)
        .with_context(|| format!("no key {kid} in the database"))?
        .clone();
    if target.role == KeyRole::Root {
        bail!(
            "key {kid} is the root key: verifiers pin it, so replacing it means distributing \
             a new trust anchor; this command handles issuer keys only"
        );
    }
    if target.state == 2 {
        bail!("key {kid} is already marked compromised");
    }
    if active_issuer(&records)?.kid == kid {
        add_issuer_key(tx.as_mut(), data, &target, target.alg, now, now)?;
    }
    let since = since.unwrap_or(now);
    tx.set_key_state(
        &kid,
        2,
        target.not_after.or(Some(now)).map(|end| end.min(now)),
        Some(since),
    )?;
    let keys = keys::load(data, &tx.keys()?)?;
    let resigned = resign(tx.as_mut(), &keys, Some(&[kid]), now)?;
    let (trust_seq, status_seq, generation) = publish(tx.as_mut(), now)?;
    tx.append_audit(&cli_entry(
        now,
        Action::CompromiseKey,
        format!("issuer key {kid} since {since}"),
        &format!("ok: {resigned} re-signed with {}", keys.issuer.kid()),
    ))?;
    tx.commit()?;
    keys::announce_generation(data, generation)?;
    Ok(KeyChange {
        issuer_kid: keys.issuer.kid().to_hex(),
        old_kid: kid.to_hex(),
        listed_until: None,
        resigned,
        trust_seq,
        status_seq,
    })
}

/// `verifier-server admin evaluate --year`: the year's evaluation, audited
/// as a command-line read.
pub fn evaluate(
    store: &dyn crate::store::Store,
    year: i32,
    now: i64,
) -> anyhow::Result<evaluation::Evaluation> {
    anyhow::ensure!(
        evaluation::YEARS.contains(&year),
        "year {year} is not between {} and {}",
        evaluation::YEARS.start(),
        evaluation::YEARS.end()
    );
    let mut tx = store.begin()?;
    let e = super::evaluation::run(tx.as_mut(), year)?;
    tx.append_audit(&cli_entry(
        now,
        Action::Evaluate,
        format!("year={year}"),
        "ok",
    ))?;
    tx.commit()?;
    Ok(e)
}
