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
    /// Sustained requests a second per caller (bearer token, or IP address
    /// without one); 0 turns the rate limit off.
    pub rate_per_second: u32,
    /// Requests a caller may send at once above the sustained rate.
    pub rate_burst: u32,
    /// Most callers whose rate is tracked at once (bounds memory).
    pub rate_max_keys: usize,
}

impl Default for Limits {
    /// 8 MiB, 5,000 records, 60 s, 256 requests in flight, 16 KiB
    /// commands; 50 requests a second per caller with bursts of 500, at
    /// most 100,000 callers tracked.
    fn default() -> Limits {
        Limits {
            max_body: 8 * 1024 * 1024,
            max_records: 5_000,
            request_timeout: Duration::from_secs(60),
            max_in_flight: 256,
            max_command_body: 16 * 1024,
            rate_per_second: 50,
            rate_burst: 500,
            rate_max_keys: 100_000,
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
    /// The key generation the loaded keys belong to.
    generation: AtomicU64,
    lists: Lists,
    config: Config,
    clock: Clock,
    reverifier: Reverifier,
    lookup: crate::service::lookup::Limiter,
    metrics: crate::metrics::Metrics,
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
        let store =
            SqliteStore::open(&db).with_context(|| format!("opening database {}", db.display()))?;
        let generation = keys::read_generation(data);
        let keys = keys::init_or_load(data, &store, alg, clock())?;
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
        let keys = keys::init_or_load(data, store.as_ref(), alg, clock())?;
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
        AppState {
            inner: Arc::new(Inner {
                store,
                keys: RwLock::new(Arc::new(keys)),
                data,
                generation: AtomicU64::new(generation),
                lists: Lists::default(),
                config,
                clock,
                reverifier: Reverifier::default(),
                lookup: crate::service::lookup::Limiter::default(),
                metrics: crate::metrics::Metrics::default(),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// The signing keys. When the state was opened from a data directory,
    /// a key change committed by an `admin` command (rotation, compromise)
    /// is noticed here, by one small file read, and the keys are reloaded
    /// and the list cache invalidated before anything is signed again.
    /// Call it from blocking code (it may read the store).
    pub fn keys(&self) -> Arc<Keys> {
        if let Some(data) = &self.inner.data {
            let announced = keys::read_generation(data);
            if announced != self.inner.generation.load(Ordering::SeqCst) {
                self.reload_keys(data, announced);
            }
        }
        match self.inner.keys.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Whether the loaded keys are the announced ones (one small file
    /// read, no store access): the list fast path answers from memory only
    /// then, and otherwise takes the slow path, whose [`AppState::keys`]
    /// reloads them and invalidates the lists.
    pub fn keys_current(&self) -> bool {
        self.inner.data.as_deref().is_none_or(|data| {
            keys::read_generation(data) == self.inner.generation.load(Ordering::SeqCst)
        })
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

    /// List freshness settings.
    pub fn list_config(&self) -> ListConfig {
        self.inner.config.lists
    }

    /// Request limits.
    pub fn limits(&self) -> Limits {
        self.inner.config.limits
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
        Some(url) => store::open(url).with_context(|| match store::Engine::of(url) {
            // Never print a PostgreSQL URL: it may hold a password.
            Ok(store::Engine::Postgres(_)) => "opening the PostgreSQL database".to_string(),
            _ => format!("opening database {url}"),
        }),
        None => {
            let db = data.join(keys::DB_FILE);
            let store = SqliteStore::open(&db)
                .with_context(|| format!("opening database {}", db.display()))?;
            Ok(Arc::new(store))
        }
    }
}

/// Creates the data directory, readable by its owner only (it holds
/// personal data and token hashes), if it does not exist.
pub fn create_data_dir(data: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data)
        .with_context(|| format!("creating data directory {}", data.display()))
}
