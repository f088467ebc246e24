//! A port-forward over the API to one port of one pod, served on a local
//! loopback port: every connection accepted there gets a tunnel of its own
//! (kube-rs `Api::portforward`, WebSocket), as `kubectl port-forward` does.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Forwarder {
    pub local: SocketAddr,
    /// "port-forward to openshift-etcd/etcd-master-0:2379".
    pub via: String,
    /// The last failure of a tunnel (named in connection failures).
    last_error: Arc<Mutex<Option<String>>>,
    task: JoinHandle<()>,
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder").field("local", &self.local).field("via", &self.via).finish_non_exhaustive()
    }
}

impl Forwarder {
    /// Opens one tunnel first, so a refusal (403, no such pod, kubelet unreachable)
    /// is reported here in the API's words instead of as a reset connection later.
    pub async fn open(api: Api<Pod>, namespace: &str, pod: &str, port: u16, limit: Duration) -> Result<Self, String> {
        let via = format!("port-forward to {namespace}/{pod}:{port}");
        check(&api, pod, port, limit).await.map_err(|e| format!("{via}: {e}"))?;
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("{via}: no local port: {e}"))?;
        let local = listener.local_addr().map_err(|e| format!("{via}: no local port: {e}"))?;
        let last_error = Arc::new(Mutex::new(None));
        let task = tokio::spawn(accept(listener, api, pod.to_string(), port, limit, last_error.clone()));
        tracing::info!(%via, %local, "port-forward open");
        Ok(Self { local, via, last_error, task })
    }

    /// The handle connection failures read `last_error` through.
    pub fn errors(&self) -> Arc<Mutex<Option<String>>> {
        self.last_error.clone()
    }
}

async fn tunnel(api: &Api<Pod>, pod: &str, port: u16, limit: Duration) -> Result<kube::api::Portforwarder, String> {
    match tokio::time::timeout(limit, api.portforward(pod, &[port])).await {
        Ok(Ok(forwarder)) => Ok(forwarder),
        Ok(Err(e)) => Err(super::explain(&e, "the API refused the port-forward")),
        Err(_) => Err(format!("the API did not open the port-forward within {}", humantime::format_duration(limit))),
    }
}

/// One tunnel opened and closed: the API's answer to the upgrade says whether
/// we may (401, 403), whether the pod is there and running. A port the kubelet
/// cannot dial is only reported later, on the error channel of a tunnel in use
/// (kept as `last_error`, and named in connection failures).
async fn check(api: &Api<Pod>, pod: &str, port: u16, limit: Duration) -> Result<(), String> {
    tunnel(api, pod, port, limit).await?.abort();
    Ok(())
}

async fn accept(
    listener: TcpListener,
    api: Api<Pod>,
    pod: String,
    port: u16,
    limit: Duration,
    last_error: Arc<Mutex<Option<String>>>,
) {
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "port-forward: accept failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let (api, pod, last_error) = (api.clone(), pod.clone(), last_error.clone());
        tokio::spawn(async move {
            // A tunnel that ends (the client closed it, or the API's side went away,
            // which reads the same) leaves the last failure as it was: the next
            // tunnel, opened when the client reconnects, says whether the API answers.
            if let Err(e) = carry(socket, &api, &pod, port, limit).await {
                tracing::warn!(%pod, port, error = %e, "port-forward tunnel failed");
                *last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
            }
        });
    }
}

async fn carry(mut socket: TcpStream, api: &Api<Pod>, pod: &str, port: u16, limit: Duration) -> Result<(), String> {
    let mut forwarder = tunnel(api, pod, port, limit).await?;
    let mut stream = forwarder.take_stream(port).ok_or_else(|| "the port-forward has no stream".to_string())?;
    let error = forwarder.take_error(port);
    let outcome = tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut socket, &mut stream) => copied.map(|_| ()).or_else(|e| match e.kind() {
            // The client or the pod going away ends a tunnel; that is not a failure.
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::UnexpectedEof => Ok(()),
            _ => Err(format!("tunnel to {pod}:{port}: {e}")),
        }),
        Some(message) = async { match error { Some(error) => error.await, None => std::future::pending().await } } => {
            Err(format!("tunnel to {pod}:{port}: {message}"))
        }
    };
    drop(stream);
    forwarder.abort();
    outcome
}
