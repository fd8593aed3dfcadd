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

pub mod api;
pub mod auth;
pub mod devices;
pub mod error;
pub mod issuing;
pub mod keys;
pub mod lists;
pub mod logs;
pub mod openapi;
pub mod store;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
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
}

impl Default for Limits {
    /// 8 MiB, 5,000 records, 60 s, 256 requests.
    fn default() -> Limits {
        Limits {
            max_body: 8 * 1024 * 1024,
            max_records: 5_000,
            request_timeout: Duration::from_secs(60),
            max_in_flight: 256,
        }
    }
}

/// Everything the service is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Config {
    /// Freshness of the signed lists.
    pub lists: ListConfig,
    /// Request limits.
    pub limits: Limits,
}

struct Inner {
    store: Arc<dyn Store>,
    keys: Keys,
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
            .field("keys", &self.inner.keys)
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
        let keys = keys::init_or_load(data, &store, alg, clock())?;
        Ok(AppState::new(Arc::new(store), keys, config, clock))
    }

    /// A state from its parts.
    pub fn new(store: Arc<dyn Store>, keys: Keys, config: Config, clock: Clock) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                store,
                keys,
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

    /// The signing keys.
    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// The root public key verifiers pin.
    pub fn root_public_key(&self) -> PublicKey {
        self.inner.keys.root.public_key()
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
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/api/v1/catalogue", get(api::get_catalogue))
        .route("/api/v1/trust-list", get(api::get_trust_list))
        .route("/api/v1/status-list", get(api::get_status_list))
        .route("/api/v1/status-list/deltas", get(api::get_status_deltas))
        .route("/api/v1/records", post(api::post_records))
        .route("/api/v1/nonconforming", get(api::get_nonconforming))
        .route("/api/v1/agencies/pushes", get(api::get_agency_pushes))
        .route(
            "/api/v1/certificates/{cert_type}/{number}",
            get(api::get_certificate),
        )
        .route(
            "/api/v1/certificates/{cert_type}/{number}/status",
            post(api::post_status),
        )
        .route("/api/v1/devices", post(devices::post_device))
        .route(
            "/api/v1/verification-logs",
            post(logs::post_logs).get(logs::get_logs),
        )
        .route("/api/v1/verification-logs/head", get(logs::get_head))
        .fallback(api::not_found)
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
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}
