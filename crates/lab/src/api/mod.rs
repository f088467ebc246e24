//! The lab's simulated OpenShift API: a Kubernetes API server over HTTPS on
//! loopback that real kubectl and kube-rs drive, holding the objects the
//! runbooks touch, with simulated operators that react as the real ones do.
//! It runs on its own thread and runtime, so neither a test's blocking calls
//! nor the console's runtime can stall it.

pub mod catalog;
pub mod discovery;
pub mod errors;
pub mod exec;
pub mod hosted_cp;
pub mod operators;
pub mod pod_shell;
pub mod portforward;
pub mod seed;
pub mod selectors;
pub mod server;
pub mod spdy;
pub mod store;
pub mod table;
pub mod validation;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch as signal;

use super::certs::{self, LabPki};
use super::scenario::Scenario;
use super::LabError;
use seed::{MemberView, SeedPki, Seeder};
use server::{Account, Role, Shared};
use store::Store;

pub const ADMIN_USER: &str = "lab-admin";
pub const VIEWER_USER: &str = "lab-viewer";
/// The kubeconfig context whose user is `system:admin` by client certificate
/// (the installer's kubeconfig, which still works when OAuth does not).
pub const CERT_CONTEXT: &str = "lab-admin-cert";
/// Beside the kubeconfig: `auth/kubeconfig` (as the installer writes it, the
/// certificate and key embedded) and the certificate and key as files.
pub const AUTH_DIR: &str = "auth";
pub const ADMIN_CERT_FILE: &str = "system-admin.crt";
pub const ADMIN_KEY_FILE: &str = "system-admin.key";

/// What the simulated API knows of the lab's hosts: the processes their kubelets
/// run, the kubelets restarted, and where the hosts are (for the etcd operator's scale-up).
#[derive(Debug, Clone)]
pub struct HostsLink {
    pub inventory: Arc<super::hosts::Inventory>,
    pub pids: super::hosts::kubelet::MemberPids,
    pub kubelet_restarts: super::hosts::kubelet::KubeletRestarts,
}

pub struct ApiServer {
    pub url: String,
    pub store: Arc<Store>,
    pub admin_token: String,
    pub viewer_token: String,
    /// `system:admin`'s client certificate and key (PEM), signed by the lab's CA.
    admin_cert_pem: String,
    admin_key_pem: String,
    shutdown: signal::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for ApiServer {
    // Tokens stay out of debug output (and so out of logs).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer").field("url", &self.url).finish_non_exhaustive()
    }
}

fn token() -> String {
    let mut bytes = [0u8; 24];
    super::random_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn read(path: &Path) -> Result<String, LabError> {
    fs::read_to_string(path).map_err(|e| LabError::Io(format!("cannot read {}: {e}", path.display())))
}

/// Writes `text` to `path` with `mode`, whatever mode an existing file had.
use crate::certs::write_file;

impl ApiServer {
    /// Seeds the cluster for `scenario`, then serves it on 127.0.0.1 (a free port).
    pub fn start(
        pki: &LabPki,
        members: Vec<MemberView>,
        scenario: &Scenario,
        speed: f64,
        hosts: Option<HostsLink>,
    ) -> Result<Self, LabError> {
        let api_error = |what: &str, e: String| LabError::Io(format!("lab API: {what}: {e}"));
        let serving =
            certs::issue(&pki.issuer, "etcd-console-lab-api", &[], vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth])?;
        let tls = server::tls_config(serving.cert_der, serving.key_der, pki.issuer.der().as_ref())
            .map_err(|e| api_error("TLS", e))?;
        let admin_cert = certs::issue_client(&pki.issuer, server::CERT_ADMIN_USER, Some(server::MASTERS_GROUP))?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| api_error("cannot listen on loopback", e.to_string()))?;
        listener.set_nonblocking(true).map_err(|e| api_error("socket", e.to_string()))?;
        let address = listener.local_addr().map_err(|e| api_error("socket", e.to_string()))?;
        let url = format!("https://{address}");

        let mut seed_bytes = [0u8; 8];
        super::random_bytes(&mut seed_bytes);
        let store = Arc::new(Store::new(seed_bytes));
        let seed_pki = SeedPki {
            ca_pem: read(&pki.ca)?,
            client_cert_pem: read(&pki.client.cert)?,
            client_key_pem: read(&pki.client.key)?,
        };
        let installed = SystemTime::now()
            .checked_sub(Duration::from_secs(3 * 86_400 + 20 * 3600))
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let seeder = Seeder { store: &store, installed, api_url: url.clone() };
        let seeded = if scenario.hosted {
            seed::hosted(&seeder, &members, &seed_pki, scenario)
        } else {
            seed::standalone(&seeder, &members, &seed_pki, scenario)
        };
        seeded.map_err(|e| api_error("cannot seed the cluster", e))?;
        if scenario.plain_kubernetes {
            // A plain Kubernetes cluster has none of OpenShift's namespaces either.
            let openshift = |o: &serde_json::Value| {
                let ns = store::str_at(o, "/metadata/namespace");
                let name = store::str_at(o, "/metadata/name");
                ns.starts_with("openshift")
                    || (ns.is_empty() && name.starts_with("openshift") && store::str_at(o, "/kind") == "Namespace")
            };
            for index in 0..catalog::TYPES.len() {
                for object in store.all_of(index).into_iter().filter(|o| openshift(o)) {
                    let (ns, name) =
                        (store::str_at(&object, "/metadata/namespace"), store::str_at(&object, "/metadata/name"));
                    let _ = store.delete(index, ns, name, false);
                }
            }
        }

        let (admin_token, viewer_token) = (token(), token());
        let (shutdown, shutdown_rx) = signal::channel(false);
        let shared = Arc::new(Shared {
            store: store.clone(),
            accounts: vec![
                Account { user: ADMIN_USER, token: admin_token.clone(), role: Role::Admin },
                Account { user: VIEWER_USER, token: viewer_token.clone(), role: Role::Viewer },
            ],
            address: address.to_string(),
            shutdown: shutdown_rx.clone(),
            plain_kubernetes: scenario.plain_kubernetes,
            hosts: hosts.clone(),
            pvc_protection: scenario.hosted,
        });
        let hosted_cp =
            scenario.hosted.then(|| hosted_cp::Controller::new(store.clone(), members.clone(), speed, hosts.clone()));
        let operators = operators::Operators::new(store.clone(), members, pki.issuer.clone(), speed, scenario, hosts);
        // The runtime is made, run and dropped on the API's own thread (a runtime
        // may not be dropped inside the caller's async context).
        let (started, outcome) = std::sync::mpsc::channel::<Result<(), String>>();
        let thread = std::thread::Builder::new()
            .name("lab-api".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("lab-api")
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = started.send(Err(e.to_string()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(e) => {
                            let _ = started.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let _ = started.send(Ok(()));
                    let operators_done = tokio::spawn(operators.run(shutdown_rx.clone()));
                    let hosted_done = hosted_cp.map(|controller| tokio::spawn(controller.run(shutdown_rx.clone())));
                    server::serve(listener, tls, shared).await;
                    if let Err(e) = operators_done.await {
                        tracing::error!(error = %e, "lab API: the simulated operators stopped");
                    }
                    if let Some(Err(e)) = match hosted_done {
                        Some(done) => Some(done.await),
                        None => None,
                    } {
                        tracing::error!(error = %e, "lab API: the hosted control plane's controllers stopped");
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
            })
            .map_err(|e| api_error("cannot start its thread", e.to_string()))?;
        match outcome.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(api_error("cannot start", e)),
            Err(_) => return Err(api_error("cannot start", "its thread did not report".into())),
        }
        tracing::info!(%url, scenario = %scenario.name, "lab API serving");
        Ok(Self {
            url,
            store,
            admin_token,
            viewer_token,
            admin_cert_pem: admin_cert.cert_pem,
            admin_key_pem: admin_cert.key_pem,
            shutdown,
            thread: Some(thread),
        })
    }

    /// A kubeconfig for kubectl and kube-rs: context `lab` (admin, current),
    /// `lab-readonly` (the viewer token) and `lab-admin-cert` (`system:admin`
    /// by client certificate, the files in `auth/` beside it). Also writes
    /// `auth/kubeconfig` as the installer does (context `admin`, the
    /// certificate embedded). Mode 0600: they hold tokens and keys.
    pub fn write_kubeconfig(&self, path: &Path, ca: &Path) -> Result<PathBuf, LabError> {
        let auth = path.parent().unwrap_or(Path::new(".")).join(AUTH_DIR);
        fs::create_dir_all(&auth).map_err(|e| LabError::Io(format!("cannot create {}: {e}", auth.display())))?;
        let (cert, key) = (auth.join(ADMIN_CERT_FILE), auth.join(ADMIN_KEY_FILE));
        write_file(&cert, &self.admin_cert_pem, 0o644)?;
        write_file(&key, &self.admin_key_pem, 0o600)?;
        let text = format!(
            "# etcd-console lab: the simulated OpenShift API. Contexts: lab (admin), lab-readonly (read-only),\n\
             # {CERT_CONTEXT} (system:admin by client certificate, as the installer's auth/kubeconfig).\n\
             apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - name: etcd-console-lab\n  cluster:\n    server: {url}\n    certificate-authority: {ca}\n\
             users:\n\
             - name: {ADMIN_USER}\n  user:\n    token: {admin}\n\
             - name: {VIEWER_USER}\n  user:\n    token: {viewer}\n\
             - name: {cert_user}\n  user:\n    client-certificate: {cert}\n    client-key: {key}\n\
             contexts:\n\
             - name: lab\n  context:\n    cluster: etcd-console-lab\n    user: {ADMIN_USER}\n    namespace: default\n\
             - name: lab-readonly\n  context:\n    cluster: etcd-console-lab\n    user: {VIEWER_USER}\n    namespace: default\n\
             - name: {CERT_CONTEXT}\n  context:\n    cluster: etcd-console-lab\n    user: {cert_user}\n    namespace: default\n\
             current-context: lab\n",
            url = self.url,
            ca = ca.display(),
            admin = self.admin_token,
            viewer = self.viewer_token,
            cert_user = server::CERT_ADMIN_USER,
            cert = cert.display(),
            key = key.display(),
        );
        write_file(path, &text, 0o600)?;
        let installer = format!(
            "apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - name: {cluster}\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\n\
             users:\n\
             - name: admin\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n\
             contexts:\n\
             - name: admin\n  context:\n    cluster: {cluster}\n    user: admin\n\
             current-context: admin\n\
             preferences: {{}}\n",
            cluster = seed::INFRA_ID,
            url = self.url,
            ca = seed::b64(read(ca)?.as_bytes()),
            cert = seed::b64(self.admin_cert_pem.as_bytes()),
            key = seed::b64(self.admin_key_pem.as_bytes()),
        );
        write_file(&auth.join("kubeconfig"), &installer, 0o600)?;
        Ok(path.to_path_buf())
    }

    pub fn stop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop();
    }
}
