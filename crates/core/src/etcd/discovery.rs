//! Finding etcd from a kubeconfig alone: the members from the etcd pods, the
//! client TLS from the cluster's etcd client secret and CA bundle, and each
//! member reached at its pod IP or, when that address cannot be reached from
//! here, through a port-forward over the API.
//!
//! Standalone OpenShift: pods `k8s-app=etcd` in `openshift-etcd`, secret
//! `etcd-client` (`tls.crt`, `tls.key`), configmap `etcd-ca-bundle`
//! (`ca-bundle.crt`); both also in `openshift-config`. Hosted control planes
//! (`--hosted-cluster NS/NAME` on the management cluster): pods `app=etcd` in
//! `NS-NAME`, secret `etcd-client-tls` (`etcd-client.crt`, `etcd-client.key`),
//! configmap `etcd-ca` (`ca.crt`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::ListParams;
use kube::Api;
use serde::Serialize;
use tokio::sync::OnceCell;

use super::tls::TlsFiles;
use super::{connect::Route, connect::TlsPem, Connector};
use crate::cluster::MemberIdentity;
use crate::openshift::forward::Forwarder;
use crate::openshift::{within, Connection};
use crate::settings::{ConnectionSettings, EtcdVia, KubeSettings};

/// Which etcd to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The cluster's own etcd (standalone OpenShift).
    Standalone,
    /// A hosted control plane's etcd, found on its management cluster.
    Hosted { namespace: String, name: String },
}

impl Scope {
    /// `NAMESPACE/NAME` as `--hosted-cluster` takes it.
    pub fn parse_hosted(text: &str) -> Result<Scope, String> {
        match text.split_once('/') {
            Some((namespace, name)) if !namespace.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(Scope::Hosted { namespace: namespace.to_string(), name: name.to_string() })
            }
            _ => Err(format!("--hosted-cluster wants NAMESPACE/NAME (e.g. clusters/hosted), not {text:?}")),
        }
    }

    /// Where the etcd pods run.
    pub fn namespace(&self) -> String {
        match self {
            Scope::Standalone => "openshift-etcd".into(),
            Scope::Hosted { namespace, name } => format!("{namespace}-{name}"),
        }
    }

    pub fn selector(&self) -> &'static str {
        match self {
            Scope::Standalone => "k8s-app=etcd",
            Scope::Hosted { .. } => "app=etcd",
        }
    }
}

/// One etcd pod as found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EtcdPod {
    pub name: String,
    pub node: String,
    pub ip: String,
    pub port: u16,
    pub running: bool,
}

impl EtcdPod {
    pub fn url(&self) -> String {
        if self.ip.contains(':') {
            format!("https://[{}]:{}", self.ip, self.port)
        } else {
            format!("https://{}:{}", self.ip, self.port)
        }
    }

    pub fn from_pod(pod: &Pod) -> EtcdPod {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let spec = pod.spec.as_ref();
        let status = pod.status.as_ref();
        let node = spec.and_then(|s| s.node_name.clone()).unwrap_or_default();
        let ip = status.and_then(|s| s.pod_ip.clone()).unwrap_or_default();
        let running = status.and_then(|s| s.phase.as_deref()) == Some("Running");
        // The client port: the port named etcd or client of any container, else etcd's default.
        let port = spec
            .into_iter()
            .flat_map(|s| s.containers.iter())
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| matches!(p.name.as_deref(), Some("etcd" | "client")))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .unwrap_or(2379);
        EtcdPod { name, node, ip, port, running }
    }
}

/// How each member is reached.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Reach {
    pub member: String,
    pub url: String,
    pub pod: Option<String>,
    /// "pod-ip" or "port-forward".
    pub via: &'static str,
    /// Why the route wanted could not be made (e.g. the port-forward refused).
    pub error: Option<String>,
}

/// What looks for etcd through the cluster (kept by the poller, asked again after failures).
#[derive(Debug, Clone)]
pub struct Finder {
    pub kube: KubeSettings,
    pub scope: Scope,
    pub via: EtcdVia,
    pub connection: ConnectionSettings,
}

impl Finder {
    /// What the user sees while it looks, e.g. "etcd pods in openshift-etcd".
    pub fn describe(&self) -> String {
        format!("etcd pods {} in {}", self.scope.selector(), self.scope.namespace())
    }

    /// Lists the pods, reads the TLS material, and decides how each pod is reached.
    pub async fn find(&self) -> Result<Found, String> {
        let api = crate::openshift::connect(&self.kube).await?;
        let namespace = self.scope.namespace();
        let pods = list_pods(&api, &self.scope).await?;
        let usable: Vec<EtcdPod> = pods.iter().filter(|p| p.running && !p.ip.is_empty()).cloned().collect();
        if usable.is_empty() {
            let hint = match (&self.scope, pods.is_empty()) {
                (Scope::Standalone, true) => " (is this an OpenShift cluster? on a management cluster give --hosted-cluster NAMESPACE/NAME; or give --endpoints)",
                (Scope::Hosted { .. }, true) => " (check --hosted-cluster: the HostedCluster's control plane runs in NAMESPACE-NAME)",
                (_, false) => " (none of them is running with a pod IP)",
            };
            return Err(format!(
                "no etcd pod found with {} in {namespace} at {}{hint}",
                self.scope.selector(),
                api.server
            ));
        }
        let files = TlsFiles::from_args(&self.connection);
        let connector = if files.is_empty() {
            let (pem, origin) = self.read_tls(&api).await?;
            Connector::from_pem(&pem, origin, &self.connection).map_err(|e| e.to_string())?
        } else {
            // Files given on the command line win over the cluster's secret.
            Connector::from_args(&self.connection).map_err(|e| e.to_string())?
        };
        let found = Found {
            api,
            namespace,
            scope: self.scope.clone(),
            via: self.via,
            pods: std::sync::RwLock::new(pods),
            connector,
            forwarders: std::sync::Mutex::new(BTreeMap::new()),
            reach: std::sync::Mutex::new(Vec::new()),
        };
        found.route_seeds(&usable).await?;
        Ok(found)
    }

    async fn read_tls(&self, api: &Connection) -> Result<(TlsPem, String), String> {
        match &self.scope {
            Scope::Standalone => {
                let mut errors = Vec::new();
                for namespace in ["openshift-etcd", "openshift-config"] {
                    match read_pem(
                        api,
                        namespace,
                        "etcd-client",
                        ("tls.crt", "tls.key"),
                        "etcd-ca-bundle",
                        "ca-bundle.crt",
                    )
                    .await
                    {
                        Ok(found) => return Ok(found),
                        Err(e) => errors.push(e),
                    }
                }
                Err(format!("{} (or give --cacert, --cert and --key)", errors.join("; then ")))
            }
            Scope::Hosted { .. } => {
                let namespace = self.scope.namespace();
                read_pem(
                    api,
                    &namespace,
                    "etcd-client-tls",
                    ("etcd-client.crt", "etcd-client.key"),
                    "etcd-ca",
                    "ca.crt",
                )
                .await
            }
        }
    }
}

/// The etcd pods of `scope`, by name.
async fn list_pods(api: &Connection, scope: &Scope) -> Result<Vec<EtcdPod>, String> {
    let namespace = scope.namespace();
    let pods_api: Api<Pod> = Api::namespaced(api.client.clone(), &namespace);
    let what = format!("listing the etcd pods ({}) in {namespace}", scope.selector());
    let listed = within(api, &what, pods_api.list(&ListParams::default().labels(scope.selector()))).await?;
    let mut pods: Vec<EtcdPod> = listed.items.iter().map(EtcdPod::from_pod).collect();
    pods.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(pods)
}

async fn read_pem(
    api: &Connection,
    namespace: &str,
    secret_name: &str,
    (cert_key, key_key): (&str, &str),
    configmap_name: &str,
    ca_key: &str,
) -> Result<(TlsPem, String), String> {
    let secrets: Api<Secret> = Api::namespaced(api.client.clone(), namespace);
    let configmaps: Api<ConfigMap> = Api::namespaced(api.client.clone(), namespace);
    let secret_what = format!("reading the etcd client secret {namespace}/{secret_name}");
    let secret = within(api, &secret_what, secrets.get(secret_name)).await?;
    let data = secret.data.unwrap_or_default();
    let field = |key: &str| {
        data.get(key).map(|b| b.0.clone()).ok_or_else(|| format!("the secret {namespace}/{secret_name} has no {key}"))
    };
    let cert = field(cert_key)?;
    let key = field(key_key)?;
    let ca_what = format!("reading the etcd CA bundle {namespace}/{configmap_name}");
    let configmap = within(api, &ca_what, configmaps.get(configmap_name)).await?;
    let ca = configmap
        .data
        .unwrap_or_default()
        .get(ca_key)
        .map(|text| text.clone().into_bytes())
        .ok_or_else(|| format!("the configmap {namespace}/{configmap_name} has no {ca_key}"))?;
    tracing::info!(secret = %format!("{namespace}/{secret_name}"), configmap = %format!("{namespace}/{configmap_name}"), "etcd client TLS read from the cluster");
    Ok((
        TlsPem { ca, cert, key },
        format!("secret {namespace}/{secret_name} and configmap {namespace}/{configmap_name}"),
    ))
}

/// etcd as found through the cluster: the pods, a connector that reaches them,
/// and the port-forwards it needs (closed when this is dropped).
pub struct Found {
    api: Connection,
    pub namespace: String,
    pub scope: Scope,
    via: EtcdVia,
    pods: std::sync::RwLock<Vec<EtcdPod>>,
    pub connector: Connector,
    forwarders: std::sync::Mutex<BTreeMap<String, Arc<OnceCell<Arc<Forwarder>>>>>,
    reach: std::sync::Mutex<Vec<Reach>>,
}

impl std::fmt::Debug for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Found").field("namespace", &self.namespace).field("pods", &self.pods()).finish_non_exhaustive()
    }
}

/// Whether `host:port` takes a TCP connection within `limit`.
async fn reachable(address: &str, limit: Duration) -> bool {
    matches!(tokio::time::timeout(limit, tokio::net::TcpStream::connect(address)).await, Ok(Ok(_)))
}

fn host_port(url: &str) -> Option<(String, String)> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => (host, port),
        _ => (authority, "2379"),
    };
    Some((host.trim_start_matches('[').trim_end_matches(']').to_string(), port.to_string()))
}

impl Found {
    /// The URLs to ask for the member list: one per running pod.
    pub fn seeds(&self) -> Vec<String> {
        self.pods().iter().filter(|p| p.running && !p.ip.is_empty()).map(EtcdPod::url).collect()
    }

    /// The etcd pods as last listed.
    pub fn pods(&self) -> Vec<EtcdPod> {
        self.pods.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Lists the pods again (a member the list does not know has joined, or moved).
    async fn refresh_pods(&self) {
        match list_pods(&self.api, &self.scope).await {
            Ok(pods) => *self.pods.write().unwrap_or_else(std::sync::PoisonError::into_inner) = pods,
            Err(e) => tracing::warn!(error = %e, "the etcd pods could not be listed again"),
        }
    }

    /// How each member is reached, as last routed.
    pub fn reach(&self) -> Vec<Reach> {
        self.reach.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The API server this went through.
    pub fn server(&self) -> &str {
        &self.api.server
    }

    /// How routes are chosen: "pod IP", "port-forward", or both, for the user.
    pub fn summary(&self) -> String {
        let reach = self.reach();
        let forwarded = reach.iter().filter(|r| r.via == "port-forward").count();
        let how = match (forwarded, reach.len()) {
            (0, _) => "at their pod IPs".to_string(),
            (f, n) if f == n => "through port-forwards".to_string(),
            (f, n) => format!("{} at pod IPs, {f} through port-forwards", n - f),
        };
        format!("{} {how}", self.namespace)
    }

    /// The pod's port-forward, opened once (pods' forwards open side by side).
    async fn forwarder(&self, pod: &EtcdPod) -> Result<Arc<Forwarder>, String> {
        let cell = {
            let mut forwarders = self.forwarders.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            forwarders.entry(pod.name.clone()).or_default().clone()
        };
        let opened = cell
            .get_or_try_init(|| async {
                let pods: Api<Pod> = Api::namespaced(self.api.client.clone(), &self.namespace);
                // Within one call's limit: a tunnel slower than that would only ever read "no answer".
                let limit = self.api.request_timeout.min(self.connector.command_timeout);
                Forwarder::open(pods, &self.namespace, &pod.name, pod.port, limit).await.map(Arc::new)
            })
            .await?;
        Ok(opened.clone())
    }

    /// Whether `url` is to go through its pod's port-forward.
    async fn forwarded(&self, url: &str) -> bool {
        match self.via {
            EtcdVia::PodIp => false,
            EtcdVia::PortForward => true,
            EtcdVia::Auto => match host_port(url) {
                Some((host, port)) => {
                    let address =
                        if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
                    !reachable(&address, self.connector.dial_timeout).await
                }
                None => true,
            },
        }
    }

    async fn route(&self, url: &str, pod: &EtcdPod, server_name: String) -> Result<&'static str, String> {
        if !self.forwarded(url).await {
            match host_port(url) {
                // Dialled as it is, but checked against the name its certificate carries
                // (a hosted etcd pod's certificate names its service, not its pod IP).
                Some((host, port)) if host != server_name => {
                    let address =
                        if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
                    let via = format!("pod IP {address}");
                    self.connector.routes.set(url.to_string(), Route { address, server_name, via, last_error: None });
                }
                _ => self.connector.routes.remove(url),
            }
            return Ok("pod-ip");
        }
        let forwarder = self.forwarder(pod).await?;
        let route = Route {
            address: forwarder.local.to_string(),
            server_name,
            via: forwarder.via.clone(),
            last_error: Some(forwarder.errors()),
        };
        self.connector.routes.set(url.to_string(), route);
        Ok("port-forward")
    }

    /// Routes for the pods' own URLs (asked for the member list); fails when none can be reached.
    async fn route_seeds(&self, usable: &[EtcdPod]) -> Result<(), String> {
        let routes = futures::future::join_all(usable.iter().map(|pod| {
            // Through a tunnel the certificate is checked against a name the member's serving
            // certificate carries: the node IP (standalone), the client service (hosted).
            let server_name = match &self.scope {
                Scope::Standalone => pod.ip.clone(),
                Scope::Hosted { .. } => format!("etcd-client.{}.svc", self.namespace),
            };
            async move { (pod, self.route(&pod.url(), pod, server_name).await) }
        }))
        .await;
        let mut reach = Vec::new();
        let mut errors = Vec::new();
        for (pod, routed) in routes {
            match routed {
                Ok(via) => reach.push(Reach {
                    member: pod.name.clone(),
                    url: pod.url(),
                    pod: Some(pod.name.clone()),
                    via,
                    error: None,
                }),
                Err(e) => {
                    tracing::warn!(pod = %pod.name, error = %e, "an etcd pod cannot be reached");
                    errors.push(e);
                }
            }
        }
        if reach.is_empty() {
            return Err(format!("no etcd pod can be reached:\n  {}", errors.join("\n  ")));
        }
        *self.reach.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = reach;
        Ok(())
    }

    /// The pod a member runs in: by its URL's address, its URL's first DNS label
    /// (hosted `etcd-0.etcd-discovery...`), or its name (the node's, or the pod's).
    pub fn pod_of(&self, member: &MemberIdentity) -> Option<EtcdPod> {
        let host = host_port(member.endpoint()).map(|(h, _)| h).unwrap_or_default();
        let label = host.split('.').next().unwrap_or("");
        let pods = self.pods.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        pods.iter()
            .find(|p| !p.ip.is_empty() && p.ip == host)
            .or_else(|| pods.iter().find(|p| p.name == label))
            .or_else(|| {
                pods.iter().find(|p| !member.name.is_empty() && (p.name == member.name || p.node == member.name))
            })
            .cloned()
    }

    /// Routes every member's URL (called whenever the member list is read); a
    /// member no listed pod matches has the pods listed again first.
    pub async fn route_members(&self, members: &[MemberIdentity]) {
        let members: Vec<&MemberIdentity> = members.iter().filter(|m| !m.client_urls.is_empty()).collect();
        if members.iter().any(|m| self.pod_of(m).is_none()) {
            self.refresh_pods().await;
        }
        let mut routed = futures::future::join_all(members.into_iter().map(|member| async move {
            let url = self.connector.normalize(member.endpoint());
            let host = host_port(&url).map(|(h, _)| h).unwrap_or_default();
            let pod = self.pod_of(member);
            let (via, error) = match &pod {
                Some(pod) => match self.route(&url, pod, host).await {
                    Ok(via) => (via, None),
                    Err(e) => {
                        tracing::warn!(member = %member.name, error = %e, "no port-forward for the member");
                        ("pod-ip", Some(e))
                    }
                },
                None => ("pod-ip", Some("no etcd pod matches this member".to_string())),
            };
            Reach { member: member.display_name(), url, pod: pod.map(|p| p.name), via, error }
        }))
        .await;
        routed.sort_by(|a, b| a.member.cmp(&b.member));
        *self.reach.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = routed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosted_cluster_is_namespace_slash_name() {
        assert_eq!(
            Scope::parse_hosted("clusters/hosted").ok(),
            Some(Scope::Hosted { namespace: "clusters".into(), name: "hosted".into() })
        );
        assert_eq!(
            Scope::parse_hosted("clusters/hosted").map(|s| s.namespace()).ok().as_deref(),
            Some("clusters-hosted")
        );
        for bad in ["hosted", "/hosted", "clusters/", "a/b/c"] {
            assert!(Scope::parse_hosted(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_split_into_host_and_port() {
        assert_eq!(host_port("https://10.0.0.5:2379"), Some(("10.0.0.5".into(), "2379".into())));
        assert_eq!(host_port("https://[fd00::5]:2379"), Some(("fd00::5".into(), "2379".into())));
        assert_eq!(
            host_port("https://etcd-0.etcd-discovery.clusters-hosted.svc:2379"),
            Some(("etcd-0.etcd-discovery.clusters-hosted.svc".into(), "2379".into()))
        );
    }
}
