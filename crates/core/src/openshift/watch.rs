//! Keeps the console's view of the OpenShift side current with watches, not
//! polling: one task per watched kind (the CSRs and the nodes they are judged
//! against share one), each sending what it holds when it changes. A failing
//! watch is reported and retried with backoff; the others go on.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::csr::{self, DecodedRequest, PendingCsr};
use super::{ApiError, Connection};
use crate::etcd::discovery::Scope;

/// The kinds the console watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Watched {
    ApiServer,
    OpenShiftApiServer,
    KubeApiServer,
    Authentication,
    Etcd,
    KubeControllerManager,
    KubeScheduler,
    ClusterOperators,
    HostedClusters,
    Csrs,
    /// The etcd pods (standalone `openshift-etcd` `k8s-app=etcd`; hosted `<ns>-<name>` `app=etcd`).
    EtcdPods,
    /// Every node, cut to its name and `Ready` (sent by the CSR watch, which holds them).
    Nodes,
    /// Machines in `openshift-machine-api` (standalone only).
    Machines,
    /// Infrastructure `cluster`: the infrastructure name confirmations name the cluster by.
    Infrastructure,
}

impl Watched {
    pub const SINGLETONS: [Watched; 7] = [
        Watched::ApiServer,
        Watched::OpenShiftApiServer,
        Watched::KubeApiServer,
        Watched::Authentication,
        Watched::Etcd,
        Watched::KubeControllerManager,
        Watched::KubeScheduler,
    ];

    fn version(self) -> &'static str {
        if matches!(self, Watched::HostedClusters | Watched::Machines) {
            "v1beta1"
        } else {
            "v1"
        }
    }

    /// Group, kind and plural.
    fn resource(self) -> (&'static str, &'static str, &'static str) {
        let op = "operator.openshift.io";
        match self {
            Watched::ApiServer => ("config.openshift.io", "APIServer", "apiservers"),
            Watched::OpenShiftApiServer => (op, "OpenShiftAPIServer", "openshiftapiservers"),
            Watched::KubeApiServer => (op, "KubeAPIServer", "kubeapiservers"),
            Watched::Authentication => (op, "Authentication", "authentications"),
            Watched::Etcd => (op, "Etcd", "etcds"),
            Watched::KubeControllerManager => (op, "KubeControllerManager", "kubecontrollermanagers"),
            Watched::KubeScheduler => (op, "KubeScheduler", "kubeschedulers"),
            Watched::ClusterOperators => ("config.openshift.io", "ClusterOperator", "clusteroperators"),
            Watched::HostedClusters => ("hypershift.openshift.io", "HostedCluster", "hostedclusters"),
            Watched::Csrs => ("certificates.k8s.io", "CertificateSigningRequest", "certificatesigningrequests"),
            Watched::EtcdPods => ("", "Pod", "pods"),
            Watched::Nodes => ("", "Node", "nodes"),
            Watched::Machines => ("machine.openshift.io", "Machine", "machines"),
            Watched::Infrastructure => ("config.openshift.io", "Infrastructure", "infrastructures"),
        }
    }

    pub fn label(self) -> &'static str {
        self.resource().2
    }
}

#[derive(Debug, Clone)]
pub enum OpenShiftEvent {
    /// No API to watch (no kubeconfig, or one that cannot be used).
    Unavailable {
        error: String,
    },
    Connected {
        server: String,
    },
    /// Everything of a kind the watch holds now (singletons: zero or one object).
    Objects {
        what: Watched,
        objects: Vec<Value>,
        at: Instant,
    },
    /// The API does not serve this kind (404: not an OpenShift cluster); its watch stops.
    NotServed {
        what: Watched,
    },
    /// What SelfSubjectAccessReview says of approving CSRs.
    MayApprove(bool),
    /// An action the console carried out, in one line.
    Done {
        message: String,
    },
    /// CSRs decided since the last such event (by anyone: this console, the approver, `oc`);
    /// the CSRs already decided when the watch began are not in any.
    CsrsDecided {
        approved: Vec<String>,
        denied: Vec<String>,
    },
    /// The pending CSRs, classified against the nodes.
    Csrs {
        pending: Vec<PendingCsr>,
        at: Instant,
    },
    /// A watch failed; it is retried with backoff.
    Trouble {
        what: Watched,
        error: String,
        at: Instant,
    },
}

fn describe(error: &watcher::Error) -> String {
    match error {
        watcher::Error::InitialListFailed(e) | watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => {
            super::explain(e, "watching")
        }
        watcher::Error::WatchError(status) => format!("watching: {} ({})", status.message, status.code),
        other => other.to_string(),
    }
}

/// Takes what is ready now, so a burst of events becomes one message.
async fn next_batch<S, T>(stream: &mut S) -> Option<Vec<T>>
where
    S: futures::Stream<Item = T> + Unpin,
{
    let first = stream.next().await?;
    let mut batch = vec![first];
    while batch.len() < 10_000 {
        match stream.next().now_or_never() {
            Some(Some(item)) => batch.push(item),
            _ => break,
        }
    }
    Some(batch)
}

/// What a watch holds: the objects by key, rebuilt from each initial list.
struct Held<T> {
    objects: BTreeMap<String, T>,
    listing: Option<BTreeMap<String, T>>,
    /// The first list has arrived.
    ready: bool,
}

impl<T> Held<T> {
    fn new() -> Self {
        Self { objects: BTreeMap::new(), listing: None, ready: false }
    }

    /// Applies one event; true when what is held changed.
    fn apply(&mut self, event: Event<T>, key: impl Fn(&T) -> String) -> bool {
        match event {
            Event::Init => {
                self.listing = Some(BTreeMap::new());
                false
            }
            Event::InitApply(o) => {
                self.listing.get_or_insert_with(BTreeMap::new).insert(key(&o), o);
                false
            }
            Event::InitDone => {
                self.objects = self.listing.take().unwrap_or_default();
                self.ready = true;
                true
            }
            Event::Apply(o) => {
                self.objects.insert(key(&o), o);
                true
            }
            Event::Delete(o) => {
                self.objects.remove(&key(&o));
                true
            }
        }
    }
}

fn name_of(meta: &kube::api::ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

async fn follow_objects(
    connection: Connection,
    what: Watched,
    scope: Scope,
    tx: mpsc::UnboundedSender<OpenShiftEvent>,
) {
    let (group, kind, plural) = what.resource();
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, what.version(), kind), plural);
    let (api, config): (Api<DynamicObject>, _) = match what {
        Watched::ClusterOperators | Watched::HostedClusters => {
            (Api::all_with(connection.client.clone(), &resource), watcher::Config::default())
        }
        Watched::EtcdPods => (
            Api::namespaced_with(connection.client.clone(), &scope.namespace(), &resource),
            watcher::Config::default().labels(scope.selector()),
        ),
        Watched::Machines => (
            Api::namespaced_with(connection.client.clone(), "openshift-machine-api", &resource),
            watcher::Config::default(),
        ),
        _ => (
            Api::all_with(connection.client.clone(), &resource),
            watcher::Config::default().fields("metadata.name=cluster"),
        ),
    };
    let mut stream = watcher::watcher(api, config).default_backoff().boxed();
    let mut held: Held<DynamicObject> = Held::new();
    let key = |o: &DynamicObject| format!("{}/{}", o.metadata.namespace.as_deref().unwrap_or(""), name_of(&o.metadata));
    while let Some(batch) = next_batch(&mut stream).await {
        let mut changed = false;
        for item in batch {
            match item {
                Ok(event) => changed |= held.apply(event, key),
                Err(watcher::Error::InitialListFailed(e)) if ApiError::from_kube("watching", &e).is_not_found() => {
                    let _ = tx.send(OpenShiftEvent::NotServed { what });
                    return;
                }
                Err(e) => {
                    let _ = tx.send(OpenShiftEvent::Trouble { what, error: describe(&e), at: Instant::now() });
                }
            }
        }
        if changed {
            let objects = held.objects.values().filter_map(|o| serde_json::to_value(o).ok()).collect();
            if tx.send(OpenShiftEvent::Objects { what, objects, at: Instant::now() }).is_err() {
                return;
            }
        }
    }
}

enum CsrSide {
    Csr(Box<Result<Event<CertificateSigningRequest>, watcher::Error>>),
    Node(Box<Result<Event<Node>, watcher::Error>>),
    Machine(Box<Result<Event<DynamicObject>, watcher::Error>>),
}

// Unboxed for matching; one lives on the stack for one loop turn.
#[allow(clippy::large_enum_variant)]
enum CsrEvent {
    Csr(Result<Event<CertificateSigningRequest>, watcher::Error>),
    Node(Result<Event<Node>, watcher::Error>),
    Machine(Result<Event<DynamicObject>, watcher::Error>),
}

/// CSRs, nodes and Machines together: a CSR's class depends on the nodes and Machines the
/// cluster knows (a cluster without the Machine API is judged on its nodes, and says so).
async fn follow_csrs(connection: Connection, tx: mpsc::UnboundedSender<OpenShiftEvent>) {
    let csrs =
        watcher::watcher(Api::<CertificateSigningRequest>::all(connection.client.clone()), watcher::Config::default())
            .default_backoff()
            .map(|e| CsrSide::Csr(Box::new(e)));
    let nodes = watcher::watcher(Api::<Node>::all(connection.client.clone()), watcher::Config::default())
        .default_backoff()
        .map(|e| CsrSide::Node(Box::new(e)));
    let machines = watcher::watcher(
        Api::<DynamicObject>::namespaced_with(
            connection.client.clone(),
            "openshift-machine-api",
            &csr::machine_resource(),
        ),
        watcher::Config::default(),
    )
    .default_backoff()
    .map(|e| CsrSide::Machine(Box::new(e)));
    let mut stream = futures::stream::select(futures::stream::select(csrs, nodes), machines).boxed();
    let mut csrs: Held<CertificateSigningRequest> = Held::new();
    let mut nodes: Held<Node> = Held::new();
    let mut machines: Held<DynamicObject> = Held::new();
    // Why the Machines cannot be read, until they are.
    let mut machines_unread: Option<String> = None;
    // Decoding a request costs; keep each by name and resourceVersion.
    let mut decoded: HashMap<String, (String, Option<DecodedRequest>)> = HashMap::new();
    // The nodes' names and Ready last sent (heartbeats change a node often, its Ready seldom).
    let mut nodes_sent: Option<Vec<Value>> = None;
    // The CSRs known decided (None before the first full list: those are not news).
    let mut decided: Option<HashSet<String>> = None;
    while let Some(batch) = next_batch(&mut stream).await {
        let mut changed = false;
        let mut nodes_changed = false;
        for item in batch {
            let item = match item {
                CsrSide::Csr(event) => CsrEvent::Csr(*event),
                CsrSide::Node(event) => CsrEvent::Node(*event),
                CsrSide::Machine(event) => CsrEvent::Machine(*event),
            };
            match item {
                CsrEvent::Csr(Ok(event)) => changed |= csrs.apply(event, |c| name_of(&c.metadata)),
                CsrEvent::Node(Ok(event)) => {
                    let applied = nodes.apply(event, |n| name_of(&n.metadata));
                    changed |= applied;
                    nodes_changed |= applied;
                }
                CsrEvent::Machine(Ok(event)) => {
                    changed |= machines.apply(event, |m| name_of(&m.metadata));
                    changed |= machines_unread.take().is_some();
                }
                CsrEvent::Machine(Err(e)) => {
                    let why = match &e {
                        watcher::Error::InitialListFailed(e) if ApiError::from_kube("watching", e).is_not_found() => {
                            csr::NO_MACHINE_API.to_string()
                        }
                        e => format!("the Machines cannot be read: {}", describe(e)),
                    };
                    if !machines.ready && machines_unread.as_deref() != Some(why.as_str()) {
                        machines_unread = Some(why);
                        changed = true;
                    }
                }
                CsrEvent::Csr(Err(e)) => {
                    let _ = tx.send(OpenShiftEvent::Trouble {
                        what: Watched::Csrs,
                        error: describe(&e),
                        at: Instant::now(),
                    });
                }
                CsrEvent::Node(Err(e)) => {
                    for what in [Watched::Csrs, Watched::Nodes] {
                        let _ = tx.send(OpenShiftEvent::Trouble { what, error: describe(&e), at: Instant::now() });
                    }
                }
            }
        }
        if nodes_changed && nodes.ready {
            let slim: Vec<Value> = nodes
                .objects
                .values()
                .filter_map(|n| serde_json::to_value(n).ok())
                .map(|n| super::model::slim_node(&n))
                .collect();
            if nodes_sent.as_ref() != Some(&slim) {
                nodes_sent = Some(slim.clone());
                let _ = tx.send(OpenShiftEvent::Objects { what: Watched::Nodes, objects: slim, at: Instant::now() });
            }
        }
        if !(changed && csrs.ready && nodes.ready && (machines.ready || machines_unread.is_some())) {
            continue;
        }
        decoded.retain(|n, _| csrs.objects.contains_key(n));
        let node_list: Vec<Node> = nodes.objects.values().cloned().collect();
        let machine_list: Vec<DynamicObject> = machines.objects.values().cloned().collect();
        let known = csr::CsrContext {
            nodes: csr::known_nodes(&node_list),
            machines: match &machines_unread {
                Some(why) if !machines.ready => Err(why.clone()),
                _ => Ok(csr::known_machines(&machine_list)),
            },
            declared: Vec::new(),
        };
        let pending: Vec<PendingCsr> = csrs
            .objects
            .iter()
            .filter_map(|(csr_name, c)| {
                let version = c.metadata.resource_version.clone().unwrap_or_default();
                csr::to_pending(c, &known, |pem| match decoded.get(csr_name) {
                    Some((v, request)) if *v == version => request.clone(),
                    _ => {
                        let request = csr::decode_request(pem).ok();
                        decoded.insert(csr_name.clone(), (version.clone(), request.clone()));
                        request
                    }
                })
            })
            .collect();
        if let Some(event) = newly_decided(&csrs.objects, &mut decided) {
            let _ = tx.send(event);
        }
        if tx.send(OpenShiftEvent::Csrs { pending, at: Instant::now() }).is_err() {
            return;
        }
    }
}

/// The CSRs decided (an `Approved` or `Denied` condition) since the last call, as an event;
/// the first call only learns what was decided before.
fn newly_decided<'a>(
    objects: impl IntoIterator<Item = (&'a String, &'a CertificateSigningRequest)>,
    known: &mut Option<HashSet<String>>,
) -> Option<OpenShiftEvent> {
    let first = known.is_none();
    let known = known.get_or_insert_with(HashSet::new);
    let (mut approved, mut denied) = (Vec::new(), Vec::new());
    let mut present = HashSet::new();
    for (name, c) in objects {
        present.insert(name.as_str());
        let conditions = c.status.as_ref().and_then(|s| s.conditions.as_ref());
        let decision = conditions
            .into_iter()
            .flatten()
            .find(|c| c.status == "True" && (c.type_ == "Approved" || c.type_ == "Denied"))
            .map(|c| c.type_.clone());
        if let Some(decision) = decision {
            if known.insert(name.clone()) && !first {
                if decision == "Approved" {
                    approved.push(name.clone())
                } else {
                    denied.push(name.clone())
                }
            }
        }
    }
    // Deleted CSRs are forgotten: the set stays as large as the list.
    known.retain(|name| present.contains(name.as_str()));
    (!approved.is_empty() || !denied.is_empty()).then_some(OpenShiftEvent::CsrsDecided { approved, denied })
}

/// Connects, hands the connection to the console (for its actions), asks
/// what the user may do, and starts every watch; runs until the receiver goes away.
pub async fn run(
    kube: crate::settings::KubeSettings,
    tx: mpsc::UnboundedSender<OpenShiftEvent>,
    connection_tx: tokio::sync::oneshot::Sender<Connection>,
) {
    let connection = match super::connect(&kube).await {
        Ok(connection) => connection,
        Err(error) => {
            let _ = tx.send(OpenShiftEvent::Unavailable { error: error.to_string() });
            return;
        }
    };
    let _ = tx.send(OpenShiftEvent::Connected { server: connection.server.clone() });
    let _ = connection_tx.send(connection.clone());
    let rights = (connection.clone(), tx.clone());
    tokio::spawn(async move {
        // Unknown (the API not answering yet) stays "may": the API has the last word anyway.
        if let Ok(allowed) = csr::may_approve(&rights.0).await {
            let _ = rights.1.send(OpenShiftEvent::MayApprove(allowed));
        }
    });
    let scope = match kube.hosted_cluster.as_deref().map(Scope::parse_hosted) {
        Some(Ok(scope)) => scope,
        // A malformed --hosted-cluster is refused where etcd is found; no pods are watched meanwhile.
        Some(Err(_)) => Scope::Hosted { namespace: String::new(), name: String::new() },
        None => Scope::Standalone,
    };
    let mut kinds: Vec<Watched> =
        Watched::SINGLETONS.into_iter().chain([Watched::ClusterOperators, Watched::HostedClusters]).collect();
    if !scope.namespace().starts_with('-') {
        kinds.push(Watched::EtcdPods);
    }
    if scope == Scope::Standalone {
        kinds.push(Watched::Machines);
    }
    kinds.push(Watched::Infrastructure);
    let mut tasks = JoinSet::new();
    for what in kinds {
        tasks.spawn(follow_objects(connection.clone(), what, scope.clone(), tx.clone()));
    }
    tasks.spawn(follow_csrs(connection, tx.clone()));
    // Every watch ends only when the console closes.
    while tasks.join_next().await.is_some() {}
}
