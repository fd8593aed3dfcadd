//! verifier-server: the provincial collection, issuing and list service.
//!
//! Issuing agencies push certificate records ([`issuing`]); conforming ones
//! are signed as e-certificates, the rest kept for correction. The service
//! publishes the signed trust list and status lists ([`lists`]). Storage is
//! behind the [`store::Store`] trait ([`store::SqliteStore`] by default);
//! secrets live in files ([`keys`]).
//!
//! [`app`] builds the router from an [`AppState`], [`run`] serves it on a
//! listener until a shutdown future resolves; tests drive [`app`] directly.
#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod auditor;
pub mod auth;
pub mod demo;
pub mod devices;
pub mod error;
pub mod evaluation;
pub mod holders;
pub mod import;
pub mod issuing;
pub mod keys;
pub mod limits;
pub mod lists;
pub mod logs;
pub mod openapi;
pub mod store;
pub mod wallet;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::BoxError;
use axum::Router;
use shared::crypto::{Alg, PublicKey};
use tower::ServiceBuilder;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::error::ApiError;
use crate::keys::Keys;
use crate::lists::{ListConfig, Lists};
use crate::store::{SqliteStore, Store};

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
    /// The built holder wallet served under `/wallet/`; `None` is
    /// [`wallet::default_dir`].
    pub wallet_dir: Option<PathBuf>,
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
    reverifier: logs::Reverifier,
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
                reverifier: logs::Reverifier::default(),
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

    /// The directory of the built holder wallet.
    pub fn wallet_dir(&self) -> PathBuf {
        self.inner
            .config
            .wallet_dir
            .clone()
            .unwrap_or_else(wallet::default_dir)
    }

    /// Now, Unix seconds.
    pub fn now(&self) -> i64 {
        (self.inner.clock)()
    }

    /// The re-verification of uploaded check records, with its cache.
    pub fn reverifier(&self) -> &logs::Reverifier {
        &self.inner.reverifier
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

/// The router with every endpoint and the request limits.
pub fn app(state: AppState) -> Router {
    let limits = state.limits();
    // The signed lists are public, cacheable artifacts answered from memory
    // (`lists::Lists::cached_*`). They are routed outside the layers below:
    // a tracing span and log line, a rate-limit bucket, a timer and a
    // semaphore per request cost half their throughput, and a per-address
    // rate limit refused the thousands of devices a carrier NAT puts
    // behind one address. Nothing there needs them: no body, no caller, no
    // audit; re-signing is one request at a time per list (in `lists`).
    let public_lists = Router::new()
        .route("/api/v1/trust-list", get(api::get_trust_list))
        .route("/api/v1/status-list", get(api::get_status_list))
        .route("/api/v1/status-list/deltas", get(api::get_status_deltas))
        .method_not_allowed_fallback(limits::method_not_allowed);
    let router = Router::new()
        .route("/healthz", get(api::healthz))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/api/v1/catalogue", get(api::get_catalogue))
        .route("/api/v1/records", post(api::post_records))
        .route("/api/v1/nonconforming", get(api::get_nonconforming))
        .route("/api/v1/agencies/pushes", get(api::get_agency_pushes))
        .route(
            "/api/v1/certificates/{cert_type}/{number}",
            get(api::get_certificate),
        )
        .route(
            "/api/v1/certificates/{cert_type}/{number}/status",
            post(api::post_status).layer(DefaultBodyLimit::max(limits.max_command_body)),
        )
        .route(
            "/api/v1/holder/certificates",
            get(holders::get_certificates),
        )
        .route(
            "/api/v1/holder/certificates/{cert_type}/{number}/qr.png",
            get(holders::get_qr_png),
        )
        .route(
            "/api/v1/holder/certificates/{cert_type}/{number}/qr.svg",
            get(holders::get_qr_svg),
        )
        .route("/api/v1/holder/devices", post(holders::post_device))
        .route("/holder", get(holders::holder_page))
        .route("/api/v1/audit", get(auditor::get_audit))
        .route("/wallet", get(wallet::redirect))
        .route("/wallet/", get(wallet::serve_index))
        .route("/wallet/{*path}", get(wallet::serve_file))
        .route("/api/v1/devices", post(devices::post_device))
        .route(
            "/api/v1/verification-logs",
            post(logs::post_logs).get(logs::get_logs),
        )
        .route("/api/v1/verification-logs/head", get(logs::get_head))
        .route("/api/v1/evaluation", get(evaluation::api::get_evaluation))
        .route(
            "/api/v1/evaluation/training",
            post(evaluation::api::post_training),
        )
        .route(
            "/api/v1/evaluation/declared",
            put(evaluation::api::put_declared),
        )
        .route(
            "/api/v1/evaluation/complaints",
            post(evaluation::api::post_complaint),
        )
        .route(
            "/admin/dashboard",
            get(evaluation::dashboard::get_dashboard).post(evaluation::dashboard::post_dashboard),
        )
        .fallback(api::not_found)
        .method_not_allowed_fallback(limits::method_not_allowed);
    let router = match limits::RateLimiter::new(&limits) {
        Some(limiter) => router.layer(axum::middleware::from_fn_with_state(
            Arc::new(limiter),
            limits::rate_limit,
        )),
        None => router,
    };
    router
        .layer(DefaultBodyLimit::max(limits.max_body))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(move |e: BoxError| async move {
                    layer_error(e, limits.request_timeout)
                }))
                .timeout(limits.request_timeout)
                .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                    limits.max_in_flight,
                )),
        )
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        // Merged after the layers above, so they do not wrap these routes.
        .merge(public_lists)
        .with_state(state)
}

/// The answer when a limit layer fails a request.
fn layer_error(e: BoxError, timeout: Duration) -> ApiError {
    if e.is::<tower::timeout::error::Elapsed>() {
        ApiError::Unavailable(format!(
            "the request took longer than {} s",
            timeout.as_secs()
        ))
    } else {
        ApiError::Internal(anyhow::anyhow!("request layer: {e}"))
    }
}

/// Serves `state` on `listener` until `shutdown` resolves, then finishes
/// the requests in flight.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, root_kid = %state.root_public_key().kid(), "serving");
    }
    let app = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
