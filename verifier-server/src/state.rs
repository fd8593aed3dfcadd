//! The state every request shares: the store, the signing keys, the list
//! cache, the configuration and the clock; and [`blocking`], which runs
//! synchronous store work off the async threads.
//!
//! It sits between `http` (which reads it) and `service` (which it
//! holds): services never see it, they are handed a transaction, the
//! caller and `now`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use shared::crypto::{Alg, PublicKey};

use crate::service::keys::{self, Keys};
use crate::service::lists::{ListConfig, Lists};
use crate::service::logs::Reverifier;
use crate::service::peers::PeerProvinces;
use crate::service::private_fs;
use crate::store::{self, SqliteStore, Store};

/// Runs synchronous (store) work on the blocking pool; a panicked or
/// cancelled task becomes the caller's error type.
pub async fn blocking<T, E>(f: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<tokio::task::JoinError> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await?
}

/// The clock the service reads: Unix seconds. Tests set their own.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    })
}

/// Request limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, bytes.
    pub max_body: usize,
    /// Most records in one push.
    pub max_records: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Most requests in flight at once.
    pub max_in_flight: usize,
    /// Largest body of a small command such as a status change, bytes.
    pub max_command_body: usize,
    /// Largest file uploaded for bulk collection (`POST /api/v1/uploads`),
    /// bytes; larger files go through `verifier-server import`.
    pub max_upload: usize,
    /// Sustained requests a second per caller (bearer token, or IP address
    /// without one); 0 turns the rate limit off.
    pub rate_per_second: u32,
    /// Requests a caller may send at once above the sustained rate.
    pub rate_burst: u32,
    /// Most callers whose rate is tracked at once (bounds memory).
    pub rate_max_keys: usize,
    /// Most active (not revoked) devices one officer token may enroll.
    pub max_devices_per_token: u32,
    /// Longest a client may take to send a request's headers; the
    /// connection is closed after it.
    pub header_timeout: Duration,
    /// Longest a client may take to send a request's body, from the end of
    /// its headers (answered 408, connection closed).
    pub body_timeout: Duration,
    /// Most requests in flight per caller (valid token, or address); 0
    /// turns the limit off.
    pub max_in_flight_per_caller: usize,
    /// Refused requests audited one row each per client address and
    /// minute; beyond that they are counted in one row per address and
    /// minute.
    pub refusal_rows_per_minute: u32,
}

impl Default for Limits {
    /// 8 MiB, 5,000 records, 60 s, 256 requests in flight, 16 KiB
    /// commands, 32 MiB uploads; 50 requests a second per caller with bursts of 500, at
    /// most 100,000 callers tracked; 3 active devices per officer token;
    /// headers within 10 s, bodies within 30 s, 32 requests in flight per
    /// caller; 20 refusal rows per address and minute.
    fn default() -> Limits {
        Limits {
            max_body: 8 * 1024 * 1024,
            max_records: 5_000,
            request_timeout: Duration::from_secs(60),
            max_in_flight: 256,
            max_command_body: 16 * 1024,
            max_upload: 32 * 1024 * 1024,
            rate_per_second: 50,
            rate_burst: 500,
            rate_max_keys: 100_000,
            max_devices_per_token: 3,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_in_flight_per_caller: 32,
            refusal_rows_per_minute: 20,
        }
    }
}

/// Everything the service is configured with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// Freshness of the signed lists.
    pub lists: ListConfig,
    /// Request limits.
    pub limits: Limits,
    /// Who is a trusted reverse proxy, who may read `/metrics`.
    pub network: Network,
    /// The working-day calendar of push and re-push deadlines
    /// (`--calendar FILE`; the shipped one by default).
    pub calendar: std::sync::Arc<shared::calendar::WorkingCalendar>,
    /// Mutual recognition: the national root and list to mirror.
    pub national: Option<crate::national::NationalConfig>,
    /// The audience applications' assertions name (`serve --audience`).
    pub audience: crate::service::apps::Audience,
    /// The province this server runs as (`serve --province`): its
    /// divisions, plates and authorities decide what its records may be.
    /// Liaoning by default.
    pub province: &'static shared::domain::Jurisdiction,
    /// 运证通's sign-in page, where the wallet sends holders to sign in
    /// (`serve --yzt-url`); none: the wallet offers only the token.
    pub yzt_url: Option<String>,
}

/// Addresses the server trusts for something: reverse proxies whose
/// `X-Forwarded-For` is believed, and scrapers of `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// Peers whose `X-Forwarded-For` names the client (`--trusted-proxy`);
    /// empty: the peer address is the client's.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Client addresses that may read `/metrics` (`--metrics-allow`).
    pub metrics_allow: Vec<ipnet::IpNet>,
    /// SHA-256 of a bearer token that may read `/metrics` from anywhere
    /// (`--metrics-token`).
    pub metrics_token_sha256: Option<[u8; 32]>,
}

impl Default for Network {
    /// No trusted proxy; `/metrics` from loopback only, no token.
    fn default() -> Network {
        Network {
            trusted_proxies: Vec::new(),
            metrics_allow: loopback(),
            metrics_token_sha256: None,
        }
    }
}

/// 127.0.0.0/8 and ::1.
pub fn loopback() -> Vec<ipnet::IpNet> {
    vec![
        ipnet::IpNet::V4(ipnet::Ipv4Net::new_assert(std::net::Ipv4Addr::LOCALHOST, 8)),
        ipnet::IpNet::V6(ipnet::Ipv6Net::new_assert(
            std::net::Ipv6Addr::LOCALHOST,
            128,
        )),
    ]
}

struct Inner {
    store: Arc<dyn Store>,
    keys: RwLock<Arc<Keys>>,
    /// The data directory, when opened from one: key changes made by
    /// `admin` commands are picked up from it without a restart.
    data: Option<PathBuf>,
    /// The generation file in `data`, watched by one `stat` per question.
    watch: Option<keys::GenerationWatch>,
    /// The key generation the loaded keys belong to.
    generation: AtomicU64,
    lists: Lists,
    config: Config,
    clock: Clock,
    reverifier: Reverifier,
    lookup: crate::service::lookup::Limiter,
    metrics: crate::metrics::Metrics,
    /// The other provinces (forwarding); replaced whole by `set_peers`.
    peers: RwLock<Arc<PeerProvinces>>,
    /// The `--peers` file, kept to give base URLs over the national list's.
    configured_peers: RwLock<Option<Arc<PeerProvinces>>>,
    national: crate::national::Mirror,
}

/// The shared state of the handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("keys", &self.inner.keys.read().ok().map(|k| k.clone()))
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Opens the data directory: creates it, the database and the keys on
    /// first start (keys of algorithm `alg`), loads them otherwise.
    pub fn open(data: &Path, alg: Alg, config: Config, clock: Clock) -> anyhow::Result<AppState> {
        create_data_dir(data)?;
        let db = data.join(keys::DB_FILE);
        let store = open_sqlite(&db)?;
        let generation = keys::read_generation(data);
        let keys = keys::init_or_load(data, &store, alg, config.province, clock())?;
        Ok(AppState::from_parts(
            Arc::new(store),
            keys,
            Some((data.to_path_buf(), generation)),
            config,
            clock,
        ))
    }

    /// Like [`AppState::open`], with the database named by `database`
    /// (`postgres://…`, `sqlite:PATH` or a path; see [`store::open`]);
    /// `None` is the SQLite file in `data`. Signing keys stay in `data`:
    /// several instances on one database are given the same key files.
    /// An unreachable database is an error whose chain holds
    /// [`store::StoreError::Unavailable`].
    pub fn open_database(
        data: &Path,
        database: Option<&str>,
        alg: Alg,
        config: Config,
        clock: Clock,
    ) -> anyhow::Result<AppState> {
        let store = open_store(data, database)?;
        let generation = keys::read_generation(data);
        let keys = keys::init_or_load(data, store.as_ref(), alg, config.province, clock())?;
        Ok(AppState::from_parts(
            store,
            keys,
            Some((data.to_path_buf(), generation)),
            config,
            clock,
        ))
    }

    /// A state from its parts (keys fixed: no data directory to watch).
    pub fn new(store: Arc<dyn Store>, keys: Keys, config: Config, clock: Clock) -> AppState {
        AppState::from_parts(store, keys, None, config, clock)
    }

    fn from_parts(
        store: Arc<dyn Store>,
        keys: Keys,
        data: Option<(PathBuf, u64)>,
        config: Config,
        clock: Clock,
    ) -> AppState {
        let (data, generation) = data.map_or((None, 0), |(d, g)| (Some(d), g));
        let no_peers = shared::forward::ProvinceCode::new(config.province.code)
            .map_or_else(|_| PeerProvinces::default(), PeerProvinces::none);
        AppState {
            inner: Arc::new(Inner {
                store,
                keys: RwLock::new(Arc::new(keys)),
                watch: data.as_deref().map(keys::GenerationWatch::new),
                data,
                generation: AtomicU64::new(generation),
                lists: Lists::default(),
                national: crate::national::Mirror::new(config.national.clone()),
                config,
                clock,
                reverifier: Reverifier::default(),
                lookup: crate::service::lookup::Limiter::default(),
                metrics: crate::metrics::Metrics::default(),
                peers: RwLock::new(Arc::new(no_peers)),
                configured_peers: RwLock::new(None),
            }),
        }
    }

    /// The mirror of the national list and the other provinces' lists.
    pub fn national(&self) -> &crate::national::Mirror {
        &self.inner.national
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// The signing keys. When the state was opened from a data directory,
    /// a key change committed by an `admin` command (rotation, compromise)
    /// is noticed here, by one `stat` of the generation file, and the keys
    /// are reloaded and the list cache invalidated before anything is
    /// signed again. Call it from blocking code (it may read the store).
    pub fn keys(&self) -> Arc<Keys> {
        if let (Some(data), Some(watch)) = (&self.inner.data, &self.inner.watch) {
            let announced = watch.announced();
            if announced != self.inner.generation.load(Ordering::SeqCst) {
                self.reload_keys(data, announced);
            }
        }
        match self.inner.keys.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Whether the loaded keys are the announced ones (one `stat` of the
    /// generation file, no read, no store access): the list fast path
    /// answers from memory only then, and otherwise takes the slow path,
    /// whose [`AppState::keys`] reloads them and invalidates the lists.
    pub fn keys_current(&self) -> bool {
        self.inner
            .watch
            .as_ref()
            .is_none_or(|watch| watch.announced() == self.inner.generation.load(Ordering::SeqCst))
    }

    fn reload_keys(&self, data: &Path, announced: u64) {
        let loaded = self
            .store()
            .begin()
            .and_then(|mut tx| {
                let records = tx.keys()?;
                tx.commit()?;
                Ok(records)
            })
            .map_err(anyhow::Error::from)
            .and_then(|records| keys::load(data, &records));
        match loaded {
            Ok(new) => {
                let mut slot = match self.inner.keys.write() {
                    Ok(k) => k,
                    Err(poisoned) => poisoned.into_inner(),
                };
                tracing::info!(
                    generation = announced,
                    issuer_kid = %new.issuer.kid(),
                    "signing keys changed; reloaded"
                );
                *slot = Arc::new(new);
                self.inner.generation.store(announced, Ordering::SeqCst);
                drop(slot);
                self.inner.lists.invalidate();
            }
            Err(e) => tracing::error!(error = %format!("{e:#}"), "cannot reload changed keys"),
        }
    }

    /// The root public key verifiers pin.
    pub fn root_public_key(&self) -> PublicKey {
        self.keys().root.public_key()
    }

    /// The data directory, when the state was opened from one.
    pub fn data_dir(&self) -> Option<&Path> {
        self.inner.data.as_deref()
    }

    /// Runs a service that writes (`write` is handed the store, the keys
    /// and now), then invalidates the cached lists: after its commit or
    /// rollback, before anyone is answered, so no reader is served a list
    /// older than what was acknowledged. Every writer goes through here.
    pub fn write<T>(&self, write: impl FnOnce(&dyn Store, &Keys, i64) -> T) -> T {
        let keys = self.keys();
        let result = write(self.store(), &keys, self.now());
        self.inner.lists.invalidate();
        result
    }

    /// The list publisher.
    pub fn lists(&self) -> &Lists {
        &self.inner.lists
    }

    /// The province this server runs as (`serve --province`).
    pub fn province(&self) -> &'static shared::domain::Jurisdiction {
        self.inner.config.province
    }

    /// List freshness settings.
    pub fn list_config(&self) -> ListConfig {
        self.inner.config.lists
    }

    /// Request limits.
    pub fn limits(&self) -> Limits {
        self.inner.config.limits
    }

    /// The working-day calendar of push and re-push deadlines.
    pub fn calendar(&self) -> &shared::calendar::WorkingCalendar {
        &self.inner.config.calendar
    }

    /// The audience applications' assertions must name.
    pub fn audience(&self) -> &crate::service::apps::Audience {
        &self.inner.config.audience
    }

    /// 运证通's sign-in page (`serve --yzt-url`), if any.
    pub fn yzt_url(&self) -> Option<&str> {
        self.inner.config.yzt_url.as_deref()
    }

    /// Trusted proxies and `/metrics` access.
    pub fn network(&self) -> &Network {
        &self.inner.config.network
    }

    /// The server's metrics registry.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.inner.metrics
    }

    /// Now, Unix seconds.
    pub fn now(&self) -> i64 {
        (self.inner.clock)()
    }

    /// The re-verification of uploaded check records, with its cache.
    pub fn reverifier(&self) -> &Reverifier {
        &self.inner.reverifier
    }

    /// This server's province and the peer provinces it forwards check
    /// records to and accepts them from (Liaoning and none until
    /// [`AppState::set_peers`]).
    pub fn peers(&self) -> Arc<PeerProvinces> {
        match self.inner.peers.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the peer provinces: from `serve --peers FILE` at start, and
    /// (after the national issuer list is merged) from every verified
    /// national list.
    pub fn set_peers(&self, peers: PeerProvinces) {
        let mut slot = match self.inner.peers.write() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Arc::new(peers);
    }

    /// Peers from `serve --peers FILE`: used as they are until a national
    /// list is held, then only to give a listed province's base URL
    /// ([`AppState::refresh_national`]).
    pub fn set_configured_peers(&self, peers: PeerProvinces) {
        if let Ok(mut slot) = self.inner.configured_peers.write() {
            *slot = Some(Arc::new(peers.clone()));
        }
        self.set_peers(peers);
    }

    /// Fetches the national list and the other provinces' lists again
    /// (blocking: network and files) and, once a national list is held,
    /// makes its provinces the peers ([`PeerProvinces::from_national`]): a
    /// province removed from the list is forwarded to and accepted from no
    /// more. A list refused keeps the held one and the peers as they were.
    pub fn refresh_national(&self) -> anyhow::Result<crate::national::RefreshReport> {
        let report = self.national().refresh()?;
        if let (Some(held), Some(config)) = (self.national().held(), self.national().config()) {
            let own = shared::forward::ProvinceCode::new(config.own_province)
                .map_err(|e| anyhow::anyhow!("own province {}: {e}", config.own_province))?;
            let configured = self
                .inner
                .configured_peers
                .read()
                .ok()
                .and_then(|c| c.clone());
            let (peers, skipped) =
                PeerProvinces::from_national(own, &held.list, configured.as_deref());
            for (code, why) in skipped {
                tracing::warn!(
                    province = code,
                    why,
                    "listed province is no forwarding peer"
                );
            }
            self.set_peers(peers);
        }
        Ok(report)
    }

    /// The per-token limiter of online lookups.
    pub fn lookup_limiter(&self) -> &crate::service::lookup::Limiter {
        &self.inner.lookup
    }
}

/// Creates the data directory and opens the database named by `database`
/// ([`store::open`]), by default the SQLite file in `data`. Call it from
/// blocking code: the PostgreSQL client must not run on an async runtime
/// thread.
pub fn open_store(data: &Path, database: Option<&str>) -> anyhow::Result<Arc<dyn Store>> {
    create_data_dir(data)?;
    match database {
        // A SQLite file named elsewhere gets the same owner-only modes.
        Some(url) => match sqlite_file(url) {
            Some(path) => Ok(Arc::new(open_sqlite(path)?)),
            None => open_url(url),
        },
        None => Ok(Arc::new(open_sqlite(&data.join(keys::DB_FILE))?)),
    }
}

/// Opens a database that is not a SQLite file (PostgreSQL).
fn open_url(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    store::open(url).with_context(|| match store::Engine::of(url) {
        // Never print a PostgreSQL URL: it may hold a password.
        Ok(store::Engine::Postgres(_)) => "opening the PostgreSQL database".to_string(),
        _ => format!("opening database {url}"),
    })
}

/// The file a `sqlite:PATH` (or plain path) database URL names.
fn sqlite_file(url: &str) -> Option<&Path> {
    match store::Engine::of(url) {
        Ok(store::Engine::Sqlite(path)) if path != ":memory:" => Some(Path::new(path)),
        _ => None,
    }
}

/// Opens the SQLite database at `path`, created 0600 before SQLite opens
/// it (SQLite gives `-wal` and `-shm` the database file's mode) and
/// tightened to 0600 with its `-wal`/`-shm`/`-journal` if an older start
/// left them readable by others.
fn open_sqlite(path: &Path) -> anyhow::Result<SqliteStore> {
    private_fs::private_file(path)?;
    let store =
        SqliteStore::open(path).with_context(|| format!("opening database {}", path.display()))?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let side = std::path::PathBuf::from(side);
        if side.exists() {
            private_fs::private_file(&side)?;
        }
    }
    Ok(store)
}

/// Creates the data directory readable by its owner only (it holds
/// personal data, token hashes and the signing keys), or tightens an
/// existing one: the directory and everything in it to 0700 (directories)
/// and 0600 (files). What was tightened is logged.
pub fn create_data_dir(data: &Path) -> anyhow::Result<()> {
    let changed = private_fs::tighten_tree(data)
        .with_context(|| format!("securing data directory {}", data.display()))?;
    for path in changed {
        tracing::warn!(path = %path.display(), "restricted to its owner (was readable by others)");
    }
    Ok(())
}
