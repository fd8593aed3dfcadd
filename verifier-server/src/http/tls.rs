//! TLS for `serve --tls-cert FILE --tls-key FILE` (rustls, ring): the
//! certificate and key loaded and checked against each other
//! ([`load_pem`]), swapped in place without a restart ([`Reloadable`]: on
//! SIGHUP or when the files change; a bad new pair keeps the old one), and
//! a listener ([`TlsListener`]) that does the handshakes off the accept
//! loop so one slow client cannot stall the others.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Longest a client may take for its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most handshakes in progress at once (bounds memory under a flood).
pub const MAX_HANDSHAKES: usize = 1024;

/// How often the certificate files are looked at for a change.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(5);

/// Why a certificate and key could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The certificate file holds no PEM certificate.
    #[error("{0}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file")]
    NoCertificate(PathBuf),
    /// The key file holds no usable PEM private key.
    #[error("{path}: no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {detail}")]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What rustls said.
        detail: String,
    },
    /// The key does not belong to the certificate, or is of an unsupported type.
    #[error("the key {key} does not match the certificate {cert}: {detail}")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        detail: String,
    },
}

/// The crypto provider of the server's TLS (ring, as the clients use).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads a PEM certificate chain (leaf first) and its private key and
/// checks that they belong together.
pub fn load_pem(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(cert)?)
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::NoCertificate(cert.to_path_buf()))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert.to_path_buf()));
    }
    let private = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|e| TlsError::BadKey {
        path: key.to_path_buf(),
        detail: e.to_string(),
    })?;
    let certified =
        CertifiedKey::from_der(chain, private, &provider()).map_err(|e| TlsError::Mismatch {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            detail: e.to_string(),
        })?;
    // `from_der` lets an unknown consistency pass; a server should not.
    certified.keys_match().map_err(|e| TlsError::Mismatch {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        detail: e.to_string(),
    })?;
    Ok(certified)
}

/// What a file looked like last time: reloading happens when it changes.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// The server certificate, replaced in place by [`Reloadable::reload`];
/// connections already open keep the one they were handshaken with.
#[derive(Debug)]
pub struct Reloadable {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<(Arc<CertifiedKey>, Stamp, Stamp)>,
}

impl Reloadable {
    /// Loads the pair once; an error here is fatal for the caller.
    pub fn open(cert: &Path, key: &Path) -> Result<Arc<Reloadable>, TlsError> {
        let (cert_stamp, key_stamp) = (stamp(cert), stamp(key));
        let loaded = load_pem(cert, key)?;
        Ok(Arc::new(Reloadable {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new((Arc::new(loaded), cert_stamp, key_stamp)),
        }))
    }

    /// Loads the files again and swaps the certificate in; on an error the
    /// old certificate stays and the error is returned (for one log line).
    pub fn reload(&self) -> Result<(), TlsError> {
        let (cert_stamp, key_stamp) = (stamp(&self.cert), stamp(&self.key));
        let result = load_pem(&self.cert, &self.key);
        let mut slot = match self.current.write() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Remember the stamps either way: a bad pair is reported once, not
        // every watch interval, and tried again when a file changes.
        slot.1 = cert_stamp;
        slot.2 = key_stamp;
        slot.0 = Arc::new(result?);
        Ok(())
    }

    /// Whether either file changed since the last load.
    pub fn changed(&self) -> bool {
        let now = (stamp(&self.cert), stamp(&self.key));
        match self.current.read() {
            Ok(s) => (s.1, s.2) != now,
            Err(poisoned) => {
                let s = poisoned.into_inner();
                (s.1, s.2) != now
            }
        }
    }

    /// Reloads and logs the outcome in one line.
    pub fn reload_and_log(&self, why: &str) {
        match self.reload() {
            Ok(()) => tracing::info!(cert = %self.cert.display(), why, "TLS certificate reloaded"),
            Err(e) => tracing::error!(
                why,
                "TLS certificate not reloaded, the old one stays in use: {e}"
            ),
        }
    }

    /// The rustls configuration answering with the current certificate
    /// (HTTP/1.1 only, as the server speaks).
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<ServerConfig>, rustls::Error> {
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Reloads on SIGHUP and when the files change, until the runtime ends.
    pub fn spawn_watch(self: &Arc<Self>) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut hup = match tokio::signal::unix::signal(
                tokio::signal::unix::SignalKind::hangup(),
            ) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGHUP; reloading on file changes only");
                    None
                }
            };
            let mut tick = tokio::time::interval(WATCH_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let signalled = async {
                    match hup.as_mut() {
                        Some(h) => h.recv().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = signalled => this.reload_and_log("SIGHUP"),
                    _ = tick.tick() => {
                        if this.changed() {
                            this.reload_and_log("the certificate or key file changed");
                        }
                    }
                }
            }
        });
    }
}

impl ResolvesServerCert for Reloadable {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(match self.current.read() {
            Ok(s) => s.0.clone(),
            Err(poisoned) => poisoned.into_inner().0.clone(),
        })
    }
}

/// A listener handing out connections whose TLS handshake is done; the
/// handshakes run in their own tasks (bounded in number and time).
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Accepts on `tcp` and handshakes with `config`.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
        let acceptor = tokio::spawn(async move {
            loop {
                let Ok(permit) = handshakes.clone().acquire_owned().await else {
                    return;
                };
                let (stream, peer) = match tcp.accept().await {
                    Ok(s) => s,
                    Err(e) => {
                        // Out of file descriptors and the like: back off.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            ready,
            local,
            acceptor,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept task ended (only when the runtime shuts down).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}
