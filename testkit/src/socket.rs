//! The server on a real 127.0.0.1 socket: [`verifier_server::run`] (or any
//! router, e.g. one with a fault-injecting layer) on a port the OS picks,
//! stopped by a shutdown handle.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use verifier_server::AppState;

/// A server on 127.0.0.1; stopped when [`SocketServer::shutdown`] is
/// called or when dropped.
#[derive(Debug)]
pub struct SocketServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    /// The runtime it runs on, when it brought its own.
    runtime: Option<tokio::runtime::Runtime>,
}

async fn bind() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding 127.0.0.1:0");
    let addr = listener.local_addr().expect("the bound address");
    (listener, addr)
}

fn serve_router(
    listener: tokio::net::TcpListener,
    router: Router,
    stopped: oneshot::Receiver<()>,
) -> impl std::future::Future<Output = std::io::Result<()>> + Send {
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    async move {
        axum::serve(listener, service)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    }
}

impl SocketServer {
    fn new(
        addr: SocketAddr,
        stop: oneshot::Sender<()>,
        task: JoinHandle<std::io::Result<()>>,
        runtime: Option<tokio::runtime::Runtime>,
    ) -> SocketServer {
        SocketServer {
            addr,
            url: format!("http://{addr}"),
            stop: Some(stop),
            task: Some(task),
            runtime,
        }
    }

    /// Serves `state` with [`verifier_server::run`] on the current runtime.
    pub async fn start(state: AppState) -> SocketServer {
        let (listener, addr) = bind().await;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(verifier_server::run(listener, state, async {
            let _ = stopped.await;
        }));
        SocketServer::new(addr, stop, task, None)
    }

    /// Serves `router` (the server's, with extra layers) on the current
    /// runtime.
    pub async fn start_router(router: Router) -> SocketServer {
        let (listener, addr) = bind().await;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_router(listener, router, stopped));
        SocketServer::new(addr, stop, task, None)
    }

    /// Serves `router` on a runtime of its own, for tests that are not
    /// async (they drive the server from blocking clients or processes).
    pub fn start_router_blocking(router: Router) -> SocketServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let (listener, addr) = runtime.block_on(bind());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = runtime.spawn(serve_router(listener, router, stopped));
        SocketServer::new(addr, stop, task, Some(runtime))
    }

    /// Serves `state` with [`verifier_server::run`] on a runtime of its
    /// own.
    pub fn start_blocking(state: AppState) -> SocketServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let (listener, addr) = runtime.block_on(bind());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = runtime.spawn(verifier_server::run(listener, state, async {
            let _ = stopped.await;
        }));
        SocketServer::new(addr, stop, task, Some(runtime))
    }

    /// The runtime of a server started with a `_blocking` constructor.
    pub fn runtime(&self) -> Option<&tokio::runtime::Runtime> {
        self.runtime.as_ref()
    }

    /// Stops accepting, finishes the requests in flight (within 10 s) and
    /// returns what the server returned.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("the server stops within 10 s")
                .expect("the server task did not panic"),
            None => Ok(()),
        }
    }
}

impl Drop for SocketServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_healthz_and_stops_on_shutdown() {
        let server = crate::TestServer::new();
        let socket = SocketServer::start(server.state.clone()).await;
        let url = format!("{}/healthz", socket.url);
        let status = tokio::task::spawn_blocking(move || {
            crate::agent().get(&url).call().map(|r| r.status().as_u16())
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(status, 200);
        let addr = socket.addr;
        socket.shutdown().await.unwrap();
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }

    #[test]
    fn a_blocking_server_answers_from_its_own_runtime() {
        let server = crate::TestServer::new();
        let socket = SocketServer::start_blocking(server.state.clone());
        let r = crate::agent()
            .get(format!("{}/healthz", socket.url))
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
}
