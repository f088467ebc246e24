//! The survey: what is read of the backup, the cluster and its hosts before the
//! plan is made (ClusterVersion, Infrastructure, Proxy, nodes, Machines, Network,
//! OVN pods, etcd/cluster, webhooks, a shell on each host; a HostedCluster's own),
//! turned into the engine's [`Survey`]. The reads are the async functions; what
//! the objects say is in the pure functions after them. Nodes, pods, webhook
//! configurations and workloads are read as k8s-openapi types; OpenShift's kinds
//! (no such type) stay JSON, each field read by one named function.

use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::{MutatingWebhookConfiguration, ValidatingWebhookConfiguration};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Container, Node, Pod};
use kube::api::{Api, ListParams};
use serde_json::Value;

use super::executor::{
    dynamic, json, list, meta_name, name_of, operator_type, text, typed, workload_type, RestoreExecutor,
    CLUSTER_VERSION, HOSTED_CLUSTER, INFRASTRUCTURE, MACHINE, MACHINE_NAMESPACE, NETWORK, PROXY, WEBHOOKS,
};
use super::{HostFacts, HostedFacts, Operator, Procedure, RestoreRun, Survey};
use crate::cluster::MemberIdentity;
use crate::openshift::{get_object as get, model, Connection};
use crate::settings::KubeSettings;

/// Whether the kubeconfig's user (of the chosen context) authenticates with a client certificate.
pub(super) fn certificate_kubeconfig(kube: &KubeSettings) -> Result<(), String> {
    use kube::config::Kubeconfig;
    let config = match &kube.kubeconfig {
        Some(path) => Kubeconfig::read_from(path),
        None => Kubeconfig::read(),
    }
    .map_err(|e| format!("cannot read the kubeconfig: {e}"))?;
    let context_name = kube.context.clone().or(config.current_context.clone()).unwrap_or_default();
    let context = config
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.clone())
        .ok_or_else(|| format!("the kubeconfig has no context {context_name:?}"))?;
    let user = context.user.unwrap_or_default();
    let auth = config.auth_infos.iter().find(|a| a.name == user).and_then(|a| a.auth_info.clone());
    match auth {
        Some(auth) if auth.client_certificate.is_some() || auth.client_certificate_data.is_some() => Ok(()),
        Some(_) => Err(format!(
            "the kubeconfig's user {user:?} (context {context_name}) has no client certificate: OAuth tokens stop working during a restore; use the installation's <install dir>/auth/kubeconfig (system:admin) with --kubeconfig/--context"
        )),
        None => Err(format!("the kubeconfig has no user {user:?}")),
    }
}

/// The cluster's objects as the survey read them, before anything is made of them.
pub(super) struct ClusterReads {
    pub version: Result<Option<Value>, String>,
    pub infrastructure: Result<Option<Value>, String>,
    pub proxy: Result<Option<Value>, String>,
    pub nodes: Result<Option<Vec<Node>>, String>,
    pub machines: Result<Option<Vec<Value>>, String>,
    pub network: Result<Option<Value>, String>,
    pub ovn_pods: Result<Option<Vec<Pod>>, String>,
    pub etcd: Result<Option<Value>, String>,
    pub fail_webhooks: Result<Vec<String>, String>,
    /// Webhooks an earlier run set to Ignore and did not set back (its annotation says so).
    pub ignored_webhooks: Result<Vec<String>, String>,
}

impl RestoreExecutor {
    /// Everything the plan and the gates need: the cluster, then the backup of it (of several in the
    /// directory, the one of this cluster).
    pub async fn survey(&self, run: &RestoreRun) -> Survey {
        let mut survey = self.survey_cluster(run).await;
        let wanted = crate::backup::directory::Wanted {
            timestamp: run.options.backup_timestamp.clone(),
            cluster_id: survey.cluster_id.clone(),
            needs_static: run.procedure == Procedure::Standalone,
        };
        let dir = self.backup_dir.clone();
        let backup = tokio::task::spawn_blocking(move || crate::backup::directory::inspect(&dir, &wanted));
        survey.backup = backup.await.unwrap_or_default();
        survey
    }

    /// The cluster and its hosts, read concurrently.
    async fn survey_cluster(&self, run: &RestoreRun) -> Survey {
        let mut survey = Survey::default();
        let connection = match self.api() {
            Ok(connection) => connection.clone(),
            Err(e) => {
                survey.unreadable = Some(e);
                return survey;
            }
        };
        survey.api_url = connection.server.clone();
        survey.certificate_kubeconfig = Some(certificate_kubeconfig(&self.kube));
        let c = &connection;
        let (all, one) = (ListParams::default(), ListParams::default().limit(1));
        let (version, infrastructure, nodes, machines, network, ovn_pods, etcd, fail_webhooks, proxy) = tokio::join!(
            get(c, dynamic(c, CLUSTER_VERSION, None), "clusterversion/version", "version"),
            get(c, dynamic(c, INFRASTRUCTURE, None), "infrastructure/cluster", "cluster"),
            list(c, Api::<Node>::all(c.client.clone()), "nodes", &all),
            list(c, dynamic(c, MACHINE, Some(MACHINE_NAMESPACE)), "machines", &all),
            get(c, dynamic(c, NETWORK, None), "network/cluster", "cluster"),
            list(c, Api::<Pod>::namespaced(c.client.clone(), "openshift-ovn-kubernetes"), "OVN pods", &one),
            get(c, dynamic(c, operator_type(Operator::Etcd), None), "etcd/cluster", "cluster"),
            webhooks(c),
            get(c, dynamic(c, PROXY, None), "proxy/cluster", "cluster"),
        );
        let (fail_webhooks, ignored_webhooks) = match fail_webhooks {
            Ok((fail, ignored)) => (Ok(fail), Ok(ignored)),
            Err(e) => (Err(e.clone()), Err(e)),
        };
        let reads = ClusterReads {
            version: version.map_err(String::from),
            infrastructure: infrastructure.map_err(String::from),
            proxy: proxy.map_err(String::from),
            nodes,
            machines: machines.map(json),
            network: network.map_err(String::from),
            ovn_pods,
            etcd: etcd.map_err(String::from),
            fail_webhooks,
            ignored_webhooks,
        };
        if !observe_cluster(&mut survey, run.procedure, &c.server, reads) {
            return survey;
        }
        if run.procedure == Procedure::Hosted {
            survey.hosted = self.hosted(c, run, &mut survey).await;
        } else if !run.options.manual_hosts {
            // Hosts declared lost are tried too: one that answers is not lost.
            let mut tries = tokio::task::JoinSet::new();
            for (index, host) in survey.control_plane.iter().enumerate() {
                let (hosts, name, ip) = (self.hosts.clone(), host.name.clone(), host.ip.clone());
                let recovery = run.options.recovery_host.as_ref() == Some(&host.name);
                tries.spawn(async move {
                    let limit = Duration::from_secs(20);
                    // The recovery host's key must be known already: never accepted unseen.
                    let answer = if recovery {
                        hosts.run_known(&name, &ip, "true", limit).await
                    } else {
                        hosts.run(&name, &ip, "true", limit).await
                    };
                    let answer = answer.and_then(|o| if o.exit_code == 0 { Ok(()) } else { Err(o.text()) });
                    let facts = match (&answer, recovery) {
                        (Ok(()), true) => Some(recovery_facts(hosts.as_ref(), &name, &ip).await),
                        _ => None,
                    };
                    (index, answer, facts)
                });
            }
            while let Some(Ok((index, answer, facts))) = tries.join_next().await {
                survey.control_plane[index].reachable = Some(answer);
                survey.control_plane[index].recovery = facts;
            }
            self.try_workers(&mut survey.worker_hosts).await;
        }
        survey
    }

    /// A shell tried on each worker (`true`), a few at a time: steps 9a and 10w may need one.
    async fn try_workers(&self, workers: &mut [HostFacts]) {
        const AT_ONCE: usize = 16;
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
        let mut tries = tokio::task::JoinSet::new();
        for (index, worker) in workers.iter().enumerate() {
            let (hosts, name, ip, permits) =
                (self.hosts.clone(), worker.name.clone(), worker.ip.clone(), permits.clone());
            tries.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let answer = hosts.run(&name, &ip, "true", Duration::from_secs(20)).await;
                let answer = answer.and_then(|o| match o.exit_code {
                    0 => Ok(()),
                    code if o.text().is_empty() => Err(format!("`true` exited {code}")),
                    _ => Err(o.text()),
                });
                (index, answer)
            });
        }
        while let Some(Ok((index, answer))) = tries.join_next().await {
            if let Some(worker) = workers.get_mut(index) {
                worker.reachable = Some(answer);
            }
        }
    }

    async fn hosted(&self, c: &Connection, run: &RestoreRun, survey: &mut Survey) -> Option<HostedFacts> {
        let (namespace, name) = run.options.hosted_cluster.as_deref()?.split_once('/')?;
        let hc = get(c, dynamic(c, HOSTED_CLUSTER, Some(namespace)), "hostedcluster", name).await.ok().flatten()?;
        // The backup is of the hosted cluster: compare with its own ID and version.
        survey.cluster_id = hosted_cluster_id(&hc);
        survey.version = hosted_version(&hc);
        survey.cluster_name = name.to_string();
        let control_plane_namespace = format!("{namespace}-{name}");
        let etcd = get(
            c,
            dynamic(c, workload_type("StatefulSet"), Some(&control_plane_namespace)),
            "statefulset/etcd",
            "etcd",
        )
        .await
        .ok()
        .flatten();
        let etcd: StatefulSet = typed("statefulset/etcd", etcd).ok().flatten()?;
        let set = etcd_set(&etcd);
        let members = self.hosted_members(c, &control_plane_namespace, set.replicas).await;
        let mut writers = Vec::new();
        for writer in super::steps::WRITERS {
            let what = format!("deployment/{writer}");
            let api = dynamic(c, workload_type("Deployment"), Some(&control_plane_namespace));
            if let Ok(Some(deployment)) =
                get(c, api, &what, writer).await.map_err(String::from).and_then(|d| typed::<Deployment>(&what, d))
            {
                writers.push((writer.to_string(), writer_replicas(&deployment)));
            }
        }
        Some(HostedFacts {
            namespace: namespace.to_string(),
            name: name.to_string(),
            control_plane_namespace,
            etcd_replicas: set.replicas,
            when_scaled: set.when_scaled,
            etcd_image: set.image,
            token: set.token,
            members,
            paused: hosted_paused(&hc),
            writers,
            surveyed_at: crate::wizard::backup::timestamp(std::time::SystemTime::now()),
        })
    }

    /// Each replica's member (name, peer URL), replica N being pod etcd-N: see [`members_of_pods`].
    /// Empty when etcd does not answer or a pod cannot be matched (the plan then uses the runbook's names).
    async fn hosted_members(&self, c: &Connection, namespace: &str, replicas: i32) -> Vec<(String, String)> {
        let listed = tokio::time::timeout(Duration::from_secs(20), async {
            let reached = self.etcd.reach().await?;
            crate::etcd::poller::discover(&reached.seeds, &reached.connector).await
        })
        .await;
        let Ok(Ok(members)) = listed else { return Vec::new() };
        if members.len() != replicas.max(0) as usize {
            return Vec::new();
        }
        let api = Api::<Pod>::namespaced(c.client.clone(), namespace);
        let pods = list(c, api, "etcd pods", &ListParams::default().labels("app=etcd"))
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        members_of_pods(&members, &pods, replicas)
    }
}

/// The recovery host's answers to `sudo -n true`, `test -x` of the restore script and `hostname`.
async fn recovery_facts(hosts: &dyn crate::hosts::HostShell, node: &str, ip: &str) -> super::RecoveryFacts {
    let limit = Duration::from_secs(20);
    let ran = |command: String| async move {
        match hosts.run(node, ip, &command, limit).await {
            Ok(o) if o.exit_code == 0 => Ok(o.stdout),
            Ok(o) => Err(if o.text().is_empty() { format!("exit {}", o.exit_code) } else { o.text() }),
            Err(e) => Err(e),
        }
    };
    let sudo = ran("sudo -n true".into()).await.map(|_| ());
    let restore_script = match ran(format!("test -x {}", super::RESTORE_SCRIPT)).await {
        Ok(_) => Ok(()),
        // test says nothing: exit 1 is the answer "no".
        Err(e) if e == "exit 1" => Err(String::new()),
        Err(e) => Err(e),
    };
    // What a host prints goes to the terminal: no control character of it does.
    let hostname =
        ran("hostname".into()).await.map(|h| h.trim().chars().map(|c| if c.is_control() { '?' } else { c }).collect());
    super::RecoveryFacts { sudo, restore_script, hostname }
}

/// Every admission webhook that fails closed, as `<kind>/<name>[<index>]`.
pub(super) async fn fail_webhooks(c: &Connection) -> Result<Vec<String>, String> {
    webhooks(c).await.map(|(fail, _)| fail)
}

/// The admission webhooks that fail closed, and those an earlier run set to Ignore and did not set
/// back (named in their configuration's [`IGNORED_BY_US`] annotation), as `<kind>/<name>[<index>]`.
pub(super) async fn webhooks(c: &Connection) -> Result<(Vec<String>, Vec<String>), String> {
    let (validating, mutating) = (WEBHOOKS[0], WEBHOOKS[1]);
    let params = ListParams::default();
    let (mut fail, mut ignored) = (Vec::new(), Vec::new());
    let api = Api::<ValidatingWebhookConfiguration>::all(c.client.clone());
    if let Some(items) = list(c, api, validating.3, &params).await? {
        fail.extend(items.iter().flat_map(validating_fail_closed));
        ignored.extend(items.iter().flat_map(validating_left_ignore));
    }
    let api = Api::<MutatingWebhookConfiguration>::all(c.client.clone());
    if let Some(items) = list(c, api, mutating.3, &params).await? {
        fail.extend(items.iter().flat_map(mutating_fail_closed));
        ignored.extend(items.iter().flat_map(mutating_left_ignore));
    }
    Ok((fail, ignored))
}

/// The annotation a run puts on a webhook configuration when it sets webhooks of it to Ignore: the
/// names of those webhooks (a JSON list), taken off when they are set back to Fail. A run that dies
/// before setting them back leaves it, and the next survey finds them by it.
pub const IGNORED_BY_US: &str = "etcd-console.io/restore-set-ignore";

/// The webhook names an [`IGNORED_BY_US`] annotation lists (none when absent or unreadable).
pub(super) fn ignored_names(annotations: Option<&std::collections::BTreeMap<String, String>>) -> Vec<String> {
    annotations
        .and_then(|a| a.get(IGNORED_BY_US))
        .and_then(|v| serde_json::from_str::<Vec<String>>(v).ok())
        .unwrap_or_default()
}

fn left_ignore<'a>(
    kind: &str,
    config: &str,
    ours: &[String],
    hooks: impl Iterator<Item = (&'a str, Option<&'a str>)>,
) -> Vec<String> {
    hooks
        .enumerate()
        .filter(|(_, (name, policy))| *policy == Some("Ignore") && ours.iter().any(|o| o == name))
        .map(|(i, _)| format!("{kind}/{config}[{i}]"))
        .collect()
}

/// The configuration's webhooks an earlier run left at Ignore.
pub(super) fn validating_left_ignore(config: &ValidatingWebhookConfiguration) -> Vec<String> {
    let hooks = config.webhooks.as_deref().unwrap_or_default();
    let ours = ignored_names(config.metadata.annotations.as_ref());
    let kind = WEBHOOKS[0].2.to_lowercase();
    left_ignore(
        &kind,
        &meta_name(&config.metadata),
        &ours,
        hooks.iter().map(|h| (h.name.as_str(), h.failure_policy.as_deref())),
    )
}

/// The configuration's webhooks an earlier run left at Ignore.
pub(super) fn mutating_left_ignore(config: &MutatingWebhookConfiguration) -> Vec<String> {
    let hooks = config.webhooks.as_deref().unwrap_or_default();
    let ours = ignored_names(config.metadata.annotations.as_ref());
    let kind = WEBHOOKS[1].2.to_lowercase();
    left_ignore(
        &kind,
        &meta_name(&config.metadata),
        &ours,
        hooks.iter().map(|h| (h.name.as_str(), h.failure_policy.as_deref())),
    )
}

/// Fills `survey` from what was read of the cluster; false when the plan cannot be
/// made (`survey.unreadable` says why) and nothing more is to be read.
pub(super) fn observe_cluster(survey: &mut Survey, procedure: Procedure, server: &str, reads: ClusterReads) -> bool {
    let version = match reads.version {
        Ok(Some(version)) => version,
        // A management cluster need not be OpenShift: the hosted cluster's own identity is used.
        Ok(None) | Err(_) if procedure == Procedure::Hosted => Value::Null,
        Ok(None) => {
            survey.unreadable = Some(format!(
                "{server} serves no clusterversions.config.openshift.io/version: not an OpenShift cluster; the restore wizards need its API"
            ));
            return false;
        }
        Err(e) => {
            survey.unreadable = Some(e);
            return false;
        }
    };
    let (id, completed) = crate::backup::directory::identity(&version);
    survey.cluster_id = id;
    survey.version = completed;
    let infrastructure = reads.infrastructure.ok().flatten();
    survey.api_vips = infrastructure.as_ref().map(api_vips).unwrap_or_default();
    survey.proxy = reads.proxy.ok().flatten().is_some_and(|p| proxy_in_force(&p));
    survey.cluster_name = infrastructure
        .as_ref()
        .and_then(infrastructure_name)
        .or_else(|| survey.cluster_id.clone())
        .unwrap_or_else(|| server.to_string());
    survey.quorum_guard_off = reads.etcd.ok().flatten().is_some_and(|e| model::quorum_guard_off(&e));
    survey.fail_webhooks = reads.fail_webhooks.unwrap_or_default();
    // Left at Ignore by a run that stopped: this run sets them to Ignore and back to Fail as its own.
    survey.ignored_webhooks = reads.ignored_webhooks.unwrap_or_default();
    for entry in &survey.ignored_webhooks {
        if !survey.fail_webhooks.contains(entry) {
            survey.fail_webhooks.push(entry.clone());
        }
    }
    survey.ovn = match reads.network {
        Ok(Some(network)) => is_ovn(&network),
        _ => reads.ovn_pods.ok().flatten().is_some_and(|pods| !pods.is_empty()),
    };
    let machines = reads.machines.ok().flatten().unwrap_or_default();
    let nodes = match reads.nodes {
        Ok(Some(nodes)) => nodes,
        Ok(None) => Vec::new(),
        Err(e) => {
            survey.unreadable = Some(e);
            return false;
        }
    };
    let (control_plane, workers) = hosts_of(&nodes, &machines);
    survey.control_plane.extend(control_plane);
    survey.workers.extend(workers);
    survey.worker_hosts.extend(worker_hosts_of(&nodes));
    true
}

/// The workers (every node that is not a control-plane host) as hosts: name, InternalIP, Ready; not tried yet.
pub(super) fn worker_hosts_of(nodes: &[Node]) -> Vec<HostFacts> {
    nodes
        .iter()
        .filter(|node| !is_control_plane(node))
        .map(|node| HostFacts {
            name: meta_name(&node.metadata),
            ip: internal_ip(node),
            ready: node_ready(node),
            machine: None,
            reachable: None,
            recovery: None,
        })
        .collect()
}

/// The control-plane hosts (with their Machine) and the workers' names, in the nodes' order.
pub(super) fn hosts_of(nodes: &[Node], machines: &[Value]) -> (Vec<HostFacts>, Vec<String>) {
    let (mut control_plane, mut workers) = (Vec::new(), Vec::new());
    for node in nodes {
        let name = meta_name(&node.metadata);
        if is_control_plane(node) {
            let machine = machines.iter().find(|m| machine_node(m).as_deref() == Some(name.as_str())).map(name_of);
            control_plane.push(HostFacts {
                name,
                ip: internal_ip(node),
                ready: node_ready(node),
                machine,
                reachable: None,
                recovery: None,
            });
        } else {
            workers.push(name);
        }
    }
    (control_plane, workers)
}

/// A master or control-plane node (either role label, whatever its value).
pub(crate) fn is_control_plane(node: &Node) -> bool {
    let labels = node.metadata.labels.as_ref();
    ["node-role.kubernetes.io/master", "node-role.kubernetes.io/control-plane"]
        .iter()
        .any(|l| labels.is_some_and(|labels| labels.contains_key(*l)))
}

/// The node's first InternalIP ("" when it has none).
pub(crate) fn internal_ip(node: &Node) -> String {
    node.status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
        .map(|a| a.address.clone())
        .unwrap_or_default()
}

/// The node's Ready condition is True.
pub(crate) fn node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The node a Machine became (`status.nodeRef.name`).
pub(super) fn machine_node(machine: &Value) -> Option<String> {
    text(machine, "/status/nodeRef/name")
}

/// `status.infrastructureName` of Infrastructure `cluster` (what the person types to confirm).
pub(super) fn infrastructure_name(infrastructure: &Value) -> Option<String> {
    text(infrastructure, "/status/infrastructureName")
}

/// The API VIPs of an on-premises platform (keepalived's): `apiServerInternalIPs`, or the older single one.
pub(super) fn api_vips(infrastructure: &Value) -> Vec<String> {
    let Some(platform) = infrastructure.pointer("/status/platformStatus").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut vips = Vec::new();
    for (key, status) in platform {
        if key == "type" {
            continue;
        }
        // A load balancer the user runs holds the VIPs, not keepalived.
        if status.pointer("/loadBalancer/type").and_then(Value::as_str) == Some("UserManaged") {
            continue;
        }
        if let Some(list) = status.get("apiServerInternalIPs").and_then(Value::as_array) {
            vips.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
        } else if let Some(one) = status.get("apiServerInternalIP").and_then(Value::as_str) {
            vips.push(one.to_string());
        }
    }
    vips.retain(|v| !v.is_empty());
    vips.dedup();
    vips
}

/// Whether a cluster-wide proxy is in force (Proxy `cluster`'s status).
pub(super) fn proxy_in_force(proxy: &Value) -> bool {
    text(proxy, "/status/httpProxy").is_some() || text(proxy, "/status/httpsProxy").is_some()
}

/// Network `cluster` says OVN-Kubernetes (its spec, else its status).
pub(super) fn is_ovn(network: &Value) -> bool {
    text(network, "/spec/networkType").or_else(|| text(network, "/status/networkType")).as_deref()
        == Some("OVNKubernetes")
}

fn fail_closed<'a>(kind: &str, name: &str, policies: impl Iterator<Item = Option<&'a str>>) -> Vec<String> {
    policies
        .enumerate()
        // In admissionregistration/v1 an unset failurePolicy means Fail.
        .filter(|(_, policy)| policy.unwrap_or("Fail") == "Fail")
        .map(|(i, _)| format!("{kind}/{name}[{i}]"))
        .collect()
}

/// The configuration's webhooks that fail closed, as `validatingwebhookconfiguration/<name>[<index>]`.
pub(super) fn validating_fail_closed(config: &ValidatingWebhookConfiguration) -> Vec<String> {
    let hooks = config.webhooks.as_deref().unwrap_or_default();
    let kind = WEBHOOKS[0].2.to_lowercase();
    fail_closed(&kind, &meta_name(&config.metadata), hooks.iter().map(|h| h.failure_policy.as_deref()))
}

/// The configuration's webhooks that fail closed, as `mutatingwebhookconfiguration/<name>[<index>]`.
pub(super) fn mutating_fail_closed(config: &MutatingWebhookConfiguration) -> Vec<String> {
    let hooks = config.webhooks.as_deref().unwrap_or_default();
    let kind = WEBHOOKS[1].2.to_lowercase();
    fail_closed(&kind, &meta_name(&config.metadata), hooks.iter().map(|h| h.failure_policy.as_deref()))
}

/// A HostedCluster's `spec.clusterID` (what its backups carry).
pub(super) fn hosted_cluster_id(hc: &Value) -> Option<String> {
    text(hc, "/spec/clusterID")
}

/// A HostedCluster's version: the first `Completed` entry of `status.version.history`.
pub(super) fn hosted_version(hc: &Value) -> Option<String> {
    hc.pointer("/status/version/history").and_then(Value::as_array).and_then(|h| {
        h.iter().find(|e| e["state"] == "Completed").and_then(|e| e["version"].as_str()).map(str::to_string)
    })
}

/// A HostedCluster's `spec.pausedUntil` is set.
pub(super) fn hosted_paused(hc: &Value) -> bool {
    text(hc, "/spec/pausedUntil").is_some()
}

/// What a hosted control plane's etcd StatefulSet says of its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EtcdSet {
    /// `spec.replicas` (3 when unset).
    pub replicas: i32,
    pub when_scaled: Option<String>,
    /// The `etcd` container's image (else the first container's).
    pub image: String,
    pub token: Option<String>,
}

pub(super) fn etcd_set(etcd: &StatefulSet) -> EtcdSet {
    let spec = etcd.spec.as_ref();
    let containers = spec.and_then(|s| s.template.spec.as_ref()).map(|p| p.containers.as_slice()).unwrap_or_default();
    let container = containers.iter().find(|c| c.name == "etcd").or_else(|| containers.first());
    EtcdSet {
        replicas: spec.and_then(|s| s.replicas).unwrap_or(3),
        when_scaled: spec
            .and_then(|s| s.persistent_volume_claim_retention_policy.as_ref())
            .and_then(|p| p.when_scaled.clone())
            .filter(|w| !w.is_empty()),
        image: container.and_then(|c| c.image.clone()).unwrap_or_default(),
        token: container.and_then(initial_cluster_token),
    }
}

/// An etcd writer's `spec.replicas` (1 when unset), what it is brought back to.
pub(super) fn writer_replicas(deployment: &Deployment) -> i32 {
    deployment.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// `--initial-cluster-token` as a container's command, args or env give it.
pub(super) fn initial_cluster_token(container: &Container) -> Option<String> {
    let words = [&container.command, &container.args]
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|w| w.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect::<Vec<_>>();
    for (i, word) in words.iter().enumerate() {
        if let Some(token) = word.strip_prefix("--initial-cluster-token=") {
            return Some(token.trim_matches(['"', '\'']).to_string());
        }
        if word == "--initial-cluster-token" {
            return words.get(i + 1).map(|t| t.trim_matches(['"', '\'']).to_string());
        }
    }
    container
        .env
        .as_ref()?
        .iter()
        .find(|e| e.name == "ETCD_INITIAL_CLUSTER_TOKEN")
        .and_then(|e| e.value.clone())
        .filter(|v| !v.is_empty())
}

/// Each replica's member (name, peer URL), replica N being pod etcd-N: the member
/// named so, else the one whose URLs are at the pod's IP or name. Exactly one
/// started member for each pod, each once, or nothing (the runbook's names are used).
pub(super) fn members_of_pods(members: &[MemberIdentity], pods: &[Pod], replicas: i32) -> Vec<(String, String)> {
    let host = |url: &str| -> String {
        let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
        let host = rest.rsplit_once(':').map(|(h, _)| h).unwrap_or(rest);
        host.trim_matches(|c| c == '[' || c == ']').to_string()
    };
    let mut found = Vec::new();
    for index in 0..replicas.max(0) {
        let pod = format!("etcd-{index}");
        let ip = pods
            .iter()
            .find(|p| meta_name(&p.metadata) == pod)
            .and_then(|p| p.status.as_ref()?.pod_ip.clone())
            .filter(|ip| !ip.is_empty());
        let matches = |m: &&MemberIdentity| {
            m.name == pod
                || m.peer_urls.iter().chain(&m.client_urls).any(|u| {
                    let h = host(u);
                    ip.as_deref() == Some(h.as_str()) || h.starts_with(&format!("{pod}."))
                })
        };
        let mut candidates = members.iter().filter(|m| !m.name.is_empty()).filter(matches);
        let (Some(member), None) = (candidates.next(), candidates.next()) else { return Vec::new() };
        match member.peer_urls.first() {
            Some(peer) if !found.iter().any(|(n, _)| n == &member.name) => {
                found.push((member.name.clone(), peer.clone()))
            }
            _ => return Vec::new(),
        }
    }
    found
}
