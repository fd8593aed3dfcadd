//! Mutual recognition (互认互通) on the provincial server: the national
//! root key tooling (`admin national ...`) and the [`Mirror`], which fetches
//! the national issuer list and the other provinces' signed trust and
//! status lists from the URLs the national list names, verifies them, and
//! keeps them in memory for the public list routes, so that a device syncs
//! from its own server only.
//!
//! Every mirrored byte is verified before it is served: the national list
//! with the pinned national root (never a lower sequence than the one held),
//! each province's trust list with the root the national list names for it,
//! its status snapshot with that trust list. A province that fails keeps
//! its previous verified copy while it stays listed; a province removed
//! from the national list is dropped at once. The own province is never
//! mirrored (its lists are the server's own), so nothing fetched can change
//! them.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use shared::api::KeyView;
use shared::crypto::{Alg, PublicKey, SigningKey};
use shared::domain::{CertType, DivisionCode};
use shared::national::{NationalList, Province, MAX_NATIONAL_LIST_LEN};
use shared::status::{StatusCache, StatusSnapshot};
use shared::trust::{Manifest, SignedStatus, StatusUpdate, TrustList, MAX_STATUS_LEN};
use shared::verify::{National, ProvinceData, StatusData};

/// File name of the national root's secret key in its directory.
pub const ROOT_KEY_FILE: &str = "national-root.key";
/// File name of the national root's public key (JSON [`KeyView`]).
pub const ROOT_PUB_FILE: &str = "national-root.pub.json";

/// A key as JSON ([`KeyView`]) → public key, its kid checked.
pub fn key_from_view(view: &KeyView) -> anyhow::Result<PublicKey> {
    let alg = Alg::from_name(&view.alg)
        .or_else(|| (view.alg == "SM2-SM3").then_some(Alg::Sm2Sm3))
        .with_context(|| format!("unknown algorithm {:?}", view.alg))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(view.public_key.trim_end_matches('='))
        .context("public_key is not base64url")?;
    let key = PublicKey::from_bytes(alg, &bytes).context("public key")?;
    if !key.kid().to_hex().eq_ignore_ascii_case(&view.kid) {
        bail!(
            "the key's kid is {} but the file says {}",
            key.kid(),
            view.kid
        );
    }
    Ok(key)
}

/// A public key as JSON.
pub fn key_view(key: &PublicKey) -> KeyView {
    crate::service::devices::key_view(key)
}

/// Reads a public key file ([`KeyView`] JSON).
pub fn read_public_key(path: &Path) -> anyhow::Result<PublicKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let view: KeyView = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a key JSON {{alg, public_key, kid}}",
            path.display()
        )
    })?;
    key_from_view(&view).with_context(|| format!("key file {}", path.display()))
}

/// `admin national keygen`: creates the national root key in `dir` (mode
/// 0700; the secret 0600, never overwritten) and returns its public key.
pub fn keygen(dir: &Path, alg: Alg) -> anyhow::Result<PublicKey> {
    ownerfs::private_dir(dir)?;
    let secret = dir.join(ROOT_KEY_FILE);
    if secret.exists() {
        bail!(
            "{} exists: refusing to replace a national root key",
            secret.display()
        );
    }
    let key = SigningKey::generate(alg, &mut rand_core::OsRng);
    ownerfs::private_file(&secret)?;
    std::fs::write(&secret, key.secret_bytes().as_slice())
        .with_context(|| format!("writing {}", secret.display()))?;
    let public = key.public_key();
    let json = serde_json::to_string_pretty(&key_view(&public))?;
    std::fs::write(dir.join(ROOT_PUB_FILE), json + "\n")
        .with_context(|| format!("writing {}", dir.join(ROOT_PUB_FILE).display()))?;
    Ok(public)
}

fn load_root(dir: &Path) -> anyhow::Result<SigningKey> {
    let public = read_public_key(&dir.join(ROOT_PUB_FILE))?;
    let path = dir.join(ROOT_KEY_FILE);
    if ownerfs::private_file(&path)? {
        bail!(
            "{} was readable by others; it has been restricted, check it was not copied",
            path.display()
        );
    }
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
    );
    let key = SigningKey::from_secret_bytes(public.alg(), &bytes)
        .with_context(|| format!("key file {}", path.display()))?;
    if key.kid() != public.kid() {
        bail!(
            "{} does not hold the key of {ROOT_PUB_FILE}",
            path.display()
        );
    }
    Ok(key)
}

/// The provinces file of `admin national sign` (JSON; see
/// docs/operations.md).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProvincesFile {
    /// Who publishes the list, e.g. 交通运输部.
    pub provider: String,
    /// Days until the next update is due.
    #[serde(default = "default_next_update_days")]
    pub next_update_days: u32,
    /// The provinces.
    pub provinces: Vec<ProvinceEntry>,
}

fn default_next_update_days() -> u32 {
    7
}

/// One province of the provinces file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProvinceEntry {
    /// Province-level code, e.g. 220000.
    pub division: u32,
    /// Name, e.g. 吉林省交通运输厅.
    pub name: String,
    /// Its root key, as its server prints it (`admin national show-root`).
    pub root: KeyView,
    /// Type codes it may issue (`QC`, `YSZ`, ...); absent: all nine.
    #[serde(default)]
    pub cert_types: Option<Vec<String>>,
    /// Participation from (RFC 3339); absent: the signing time.
    #[serde(default)]
    pub not_before: Option<String>,
    /// Participation until (RFC 3339).
    #[serde(default)]
    pub not_after: Option<String>,
    /// URL of its signed trust list.
    pub trust_list_url: String,
    /// URL of its signed status snapshot.
    pub status_list_url: String,
}

fn rfc3339(s: &str) -> anyhow::Result<i64> {
    Ok(
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .with_context(|| format!("{s:?} is not an RFC 3339 time"))?
            .unix_timestamp(),
    )
}

/// `admin national sign`: builds the list from the provinces file and
/// signs it with the root key in `key_dir`. The sequence is `seq`, else one
/// more than the list already at `out`; it must exceed that one.
pub fn sign(
    key_dir: &Path,
    provinces: &ProvincesFile,
    seq: Option<u64>,
    out: &Path,
    now: i64,
) -> anyhow::Result<NationalList> {
    let root = load_root(key_dir)?;
    let previous = match std::fs::read(out) {
        Ok(bytes) => Some(
            NationalList::verify(&bytes, &root.public_key())
                .with_context(|| format!("{} is not a list signed by this root", out.display()))?
                .seq,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", out.display())),
    };
    let seq = seq.unwrap_or(previous.map_or(1, |p| p + 1));
    if previous.is_some_and(|p| seq <= p) {
        bail!(
            "sequence {seq} is not above the list at {} ({})",
            out.display(),
            previous.unwrap_or(0)
        );
    }
    let mut entries = Vec::new();
    for p in &provinces.provinces {
        let division = DivisionCode::from_u32_national(p.division)
            .ok()
            .filter(|d| d.is_province())
            .with_context(|| format!("{} is not a province-level code", p.division))?;
        let cert_types = match &p.cert_types {
            None => CertType::ALL.to_vec(),
            Some(codes) => codes
                .iter()
                .map(|c| CertType::from_code(c).with_context(|| format!("unknown type {c:?}")))
                .collect::<anyhow::Result<_>>()?,
        };
        entries.push(Province {
            division,
            name: p.name.clone(),
            root: key_from_view(&p.root).with_context(|| format!("root of {}", p.division))?,
            cert_types,
            not_before: p.not_before.as_deref().map_or(Ok(now), rfc3339)?,
            not_after: p.not_after.as_deref().map(rfc3339).transpose()?,
            trust_list_url: p.trust_list_url.clone(),
            status_list_url: p.status_list_url.clone(),
        });
    }
    entries.sort_by_key(|p| p.division);
    let list = NationalList {
        seq,
        issued_at: now,
        next_update: now + i64::from(provinces.next_update_days.max(1)) * 86_400,
        provider: provinces.provider.clone(),
        provinces: entries,
    };
    let signed = list.sign(&root);
    // Round trip: what is written must be what a verifier accepts.
    let back = NationalList::verify(&signed, &root.public_key())?;
    if back != list {
        bail!("the signed list does not read back as written");
    }
    let tmp = out.with_extension("tmp");
    std::fs::write(&tmp, &signed).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
    Ok(list)
}

/// How the server mirrors (`serve --national-root --national-list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NationalConfig {
    /// The pinned national root.
    pub root: PublicKey,
    /// Where the signed national list is: a file path or an http(s) URL.
    pub source: String,
    /// The server's own province (never mirrored).
    pub own_province: u32,
    /// How often to fetch again.
    pub refresh: Duration,
}

/// A mirrored province's verified lists.
#[derive(Debug, Clone)]
pub struct ProvinceCopy {
    /// Its signed trust list, as fetched.
    pub trust: Bytes,
    /// Its sequence.
    pub trust_seq: u64,
    /// Its signed status snapshot, as fetched.
    pub status: Bytes,
    /// The snapshot's sequence.
    pub status_seq: u64,
    /// The trust list, verified with the root the national list names.
    pub trust_list: TrustList,
    /// The status snapshot, verified with that trust list.
    pub status_cache: StatusCache,
    /// The snapshot's freshness.
    pub status_manifest: Manifest,
}

/// What the mirror holds.
#[derive(Debug, Clone)]
pub struct Mirrored {
    /// The signed national list, as fetched.
    pub national: Bytes,
    /// It, verified.
    pub list: NationalList,
    /// The other provinces listed, by province code.
    pub provinces: BTreeMap<u32, ProvinceCopy>,
}

/// What a refresh did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RefreshReport {
    /// The national list sequence held.
    pub seq: u64,
    /// Provinces whose lists are held.
    pub provinces: Vec<u32>,
    /// Provinces that failed this time, with why (their previous copy is
    /// kept while they stay listed).
    pub failed: Vec<(u32, String)>,
}

/// The mirror: the verified copies, swapped whole after each refresh.
#[derive(Debug, Default)]
pub struct Mirror {
    config: Option<NationalConfig>,
    held: RwLock<Option<Arc<Mirrored>>>,
    refreshing: Mutex<()>,
}

/// Largest body fetched.
const MAX_FETCH: u64 = MAX_STATUS_LEN as u64;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// Fetches `source`: an http(s) URL, or a file path.
fn fetch(agent: &ureq::Agent, source: &str, max: u64) -> anyhow::Result<Vec<u8>> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let mut response = agent
            .get(source)
            .call()
            .with_context(|| format!("GET {source}"))?;
        if response.status() != 200 {
            bail!("GET {source}: HTTP {}", response.status());
        }
        let mut body = Vec::new();
        response
            .body_mut()
            .as_reader()
            .take(max + 1)
            .read_to_end(&mut body)
            .with_context(|| format!("reading {source}"))?;
        if body.len() as u64 > max {
            bail!("{source}: more than {max} bytes");
        }
        Ok(body)
    } else {
        let path = PathBuf::from(source);
        let body = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        if body.len() as u64 > max {
            bail!("{}: more than {max} bytes", path.display());
        }
        Ok(body)
    }
}

impl Mirror {
    /// A mirror for `config` (`None`: mutual recognition not configured;
    /// every national route answers 404).
    pub fn new(config: Option<NationalConfig>) -> Mirror {
        Mirror {
            config,
            held: RwLock::new(None),
            refreshing: Mutex::new(()),
        }
    }

    /// The configuration, if any.
    pub fn config(&self) -> Option<&NationalConfig> {
        self.config.as_ref()
    }

    /// What is held now.
    pub fn held(&self) -> Option<Arc<Mirrored>> {
        self.held.read().ok().and_then(|h| h.clone())
    }

    /// Fetches and verifies everything again (blocking: network and
    /// files), then swaps the held copy. A national list that fails keeps
    /// the held one (the error is returned); a province that fails keeps its
    /// previous copy while listed.
    pub fn refresh(&self) -> anyhow::Result<RefreshReport> {
        let Some(config) = &self.config else {
            bail!("mutual recognition is not configured (--national-root, --national-list)");
        };
        let _one = self
            .refreshing
            .lock()
            .map_err(|_| anyhow::anyhow!("mirror lock poisoned"))?;
        let agent = agent();
        let held = self.held();
        let bytes = fetch(&agent, &config.source, MAX_NATIONAL_LIST_LEN as u64)?;
        let list = match &held {
            Some(h) => h.list.verify_update(&bytes, &config.root)?,
            None => NationalList::verify(&bytes, &config.root)?,
        };
        let mut report = RefreshReport {
            seq: list.seq,
            ..RefreshReport::default()
        };
        let mut provinces = BTreeMap::new();
        for p in &list.provinces {
            let code = p.division.code();
            if code == config.own_province {
                continue;
            }
            let previous = held
                .as_ref()
                .and_then(|h| h.provinces.get(&code))
                .filter(|c| p.verify_trust_list(&c.trust).is_ok());
            match mirror_province(&agent, p, previous) {
                Ok(copy) => {
                    provinces.insert(code, copy);
                }
                Err(e) => {
                    tracing::warn!(province = code, error = %format!("{e:#}"), "mirroring a province failed");
                    report.failed.push((code, format!("{e:#}")));
                    if let Some(prev) = previous {
                        provinces.insert(code, prev.clone());
                    }
                }
            }
        }
        report.provinces = provinces.keys().copied().collect();
        let next = Mirrored {
            national: Bytes::from(bytes),
            list,
            provinces,
        };
        if let Ok(mut h) = self.held.write() {
            *h = Some(Arc::new(next));
        }
        Ok(report)
    }
}

impl Mirrored {
    /// The other provinces' lists as `shared::verify` takes them (borrowed
    /// from this copy): hand them to [`Mirrored::national`].
    pub fn province_data(&self) -> Vec<ProvinceData<'_>> {
        self.provinces
            .iter()
            .map(|(code, c)| ProvinceData {
                province: *code,
                trust: &c.trust_list,
                status: Some(StatusData {
                    cache: &c.status_cache,
                    manifest: c.status_manifest,
                }),
            })
            .collect()
    }

    /// The verification context of mutual recognition: this copy's national
    /// list and `provinces` (from [`Mirrored::province_data`]).
    pub fn national<'a>(
        &'a self,
        own_province: u32,
        provinces: &'a [ProvinceData<'a>],
    ) -> National<'a> {
        National {
            own_province,
            list: &self.list,
            provinces,
        }
    }
}

fn mirror_province(
    agent: &ureq::Agent,
    p: &Province,
    previous: Option<&ProvinceCopy>,
) -> anyhow::Result<ProvinceCopy> {
    let trust_bytes = fetch(agent, &p.trust_list_url, MAX_FETCH)?;
    let trust = p.verify_trust_list(&trust_bytes)?;
    if let Some(prev) = previous {
        if trust.seq < prev.trust_seq {
            bail!(
                "trust list seq {} is below the held {}: rolled back",
                trust.seq,
                prev.trust_seq
            );
        }
    }
    let status_bytes = fetch(agent, &p.status_list_url, MAX_FETCH)?;
    let (snapshot, status_manifest) = verify_snapshot(&status_bytes, &trust)?;
    let status_seq = snapshot.seq;
    if let Some(prev) = previous {
        if status_seq < prev.status_seq {
            bail!(
                "status seq {status_seq} is below the held {}: rolled back",
                prev.status_seq
            );
        }
    }
    Ok(ProvinceCopy {
        trust: Bytes::from(trust_bytes),
        trust_seq: trust.seq,
        status: Bytes::from(status_bytes),
        status_seq,
        trust_list: trust,
        status_cache: StatusCache::from_snapshot(snapshot),
        status_manifest,
    })
}

fn verify_snapshot(bytes: &[u8], trust: &TrustList) -> anyhow::Result<(StatusSnapshot, Manifest)> {
    let signed = SignedStatus::verify(bytes, trust).context("status list refused")?;
    match signed.update {
        StatusUpdate::Snapshot(s) => Ok((s, signed.manifest)),
        StatusUpdate::Delta(_) => bail!("a delta where a status snapshot was expected"),
    }
}
