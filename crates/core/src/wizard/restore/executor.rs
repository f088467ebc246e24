//! The restore wizards' hands: the survey (backup, cluster, hosts), each
//! step's act and the polling of its check, and the re-check of a step a
//! resumed run finds begun. Only this file talks to the API, etcd and the
//! hosts; what to do, in which order, and what is refused is the engine's.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use serde_json::{json, Value};

use super::pods;
use super::{
    Act, Action, Check, HostFacts, HostedFacts, Observed, Operator, Procedure, RestoreRun, Step, StepResult, Survey,
};
use crate::etcd::source::EtcdSource;
use crate::hosts::HostShell;
use crate::openshift::{explain, get_object as get, model, within, Connection};
use crate::settings::KubeSettings;
use crate::wizard::encryption::executor::FIELD_MANAGER;

pub struct RestoreExecutor {
    pub connection: Result<Connection, String>,
    pub kube: KubeSettings,
    pub etcd: EtcdSource,
    pub hosts: std::sync::Arc<dyn HostShell>,
    pub backup_dir: PathBuf,
    /// How often a check is asked again.
    pub poll: Duration,
}

fn dynamic(
    connection: &Connection,
    (group, version, kind, plural): (&str, &str, &str, &str),
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    match namespace {
        Some(ns) => Api::namespaced_with(connection.client.clone(), ns, &resource),
        None => Api::all_with(connection.client.clone(), &resource),
    }
}

const CLUSTER_VERSION: (&str, &str, &str, &str) = ("config.openshift.io", "v1", "ClusterVersion", "clusterversions");
const INFRASTRUCTURE: (&str, &str, &str, &str) = ("config.openshift.io", "v1", "Infrastructure", "infrastructures");
const NETWORK: (&str, &str, &str, &str) = ("config.openshift.io", "v1", "Network", "networks");
const PROXY: (&str, &str, &str, &str) = ("config.openshift.io", "v1", "Proxy", "proxies");
const NODE: (&str, &str, &str, &str) = ("", "v1", "Node", "nodes");
const POD: (&str, &str, &str, &str) = ("", "v1", "Pod", "pods");
const MACHINE: (&str, &str, &str, &str) = ("machine.openshift.io", "v1beta1", "Machine", "machines");
const HOSTED_CLUSTER: (&str, &str, &str, &str) =
    ("hypershift.openshift.io", "v1beta1", "HostedCluster", "hostedclusters");
const HOSTED_CONTROL_PLANE: (&str, &str, &str, &str) =
    ("hypershift.openshift.io", "v1beta1", "HostedControlPlane", "hostedcontrolplanes");
const WEBHOOKS: &[(&str, &str, &str, &str)] = &[
    ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations"),
];
const MACHINE_NAMESPACE: &str = "openshift-machine-api";
/// How far past the snapshot's revision restored members may be (lease expiries and the like).
const MEMBERS_AGREE_SLACK: i64 = 1000;
/// How long no new CSR must come before the approval step counts as done.
const CSR_QUIET: Duration = Duration::from_secs(30);

fn operator_type(operator: Operator) -> (&'static str, &'static str, &'static str, &'static str) {
    ("operator.openshift.io", "v1", operator.kind(), operator.plural())
}

fn workload_type(kind: &str) -> (&'static str, &'static str, &'static str, &'static str) {
    if kind == "StatefulSet" {
        ("apps", "v1", "StatefulSet", "statefulsets")
    } else {
        ("apps", "v1", "Deployment", "deployments")
    }
}

/// Ok(None) when the API does not serve the type (404).
async fn list(
    connection: &Connection,
    api: Api<DynamicObject>,
    what: &str,
    params: &ListParams,
) -> Result<Option<Vec<Value>>, String> {
    let limit = connection.request_timeout + connection.request_timeout / 2;
    match tokio::time::timeout(limit, api.list(params)).await {
        Ok(Ok(list)) => Ok(Some(list.items.into_iter().filter_map(|o| serde_json::to_value(o).ok()).collect())),
        Ok(Err(kube::Error::Api(status))) if status.code == 404 => Ok(None),
        Ok(Err(e)) => Err(explain(&e, &format!("listing {what}"))),
        Err(_) => Err(format!(
            "listing {what}: no answer from {} within {}",
            connection.server,
            humantime::format_duration(limit)
        )),
    }
}

async fn merge_patch(
    connection: &Connection,
    api: Api<DynamicObject>,
    what: &str,
    name: &str,
    body: &Value,
) -> Result<(), String> {
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
    within(connection, &format!("patching {what}"), api.patch(name, &params, &Patch::Merge(body))).await.map(|_| ())
}

async fn delete(connection: &Connection, api: Api<DynamicObject>, what: &str, name: &str) -> Result<(), String> {
    let limit = connection.request_timeout + connection.request_timeout / 2;
    match tokio::time::timeout(limit, api.delete(name, &DeleteParams::default())).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(kube::Error::Api(status))) if status.code == 404 => Ok(()),
        Ok(Err(e)) => Err(explain(&e, &format!("deleting {what}"))),
        Err(_) => Err(format!("deleting {what}: no answer within {}", humantime::format_duration(limit))),
    }
}

fn text(value: &Value, pointer: &str) -> Option<String> {
    value.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

fn name_of(value: &Value) -> String {
    text(value, "/metadata/name").unwrap_or_default()
}

fn condition_true(object: &Value, kind: &str) -> bool {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c["type"] == kind && c["status"] == "True"))
}

fn is_control_plane(node: &Value) -> bool {
    let labels = node.pointer("/metadata/labels");
    ["node-role.kubernetes.io/master", "node-role.kubernetes.io/control-plane"]
        .iter()
        .any(|l| labels.and_then(|labels| labels.get(*l)).is_some())
}

fn internal_ip(node: &Value) -> String {
    node.pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|a| a["type"] == "InternalIP"))
        .and_then(|a| a["address"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The API VIPs of an on-premises platform (keepalived's): `apiServerInternalIPs`, or the older single one.
fn api_vips(infrastructure: &Value) -> Vec<String> {
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
fn proxy_in_force(proxy: &Value) -> bool {
    text(proxy, "/status/httpProxy").is_some() || text(proxy, "/status/httpsProxy").is_some()
}

/// The HostedCluster of a hosted run (namespace, name).
fn hosted_cluster(run: &RestoreRun) -> Result<(String, String), String> {
    run.survey
        .as_ref()
        .and_then(|s| s.hosted.as_ref())
        .map(|h| (h.namespace.clone(), h.name.clone()))
        .ok_or_else(|| "no HostedCluster was surveyed".to_string())
}

fn control_plane_namespace(run: &RestoreRun) -> Result<String, String> {
    run.survey
        .as_ref()
        .and_then(|s| s.hosted.as_ref())
        .map(|h| h.control_plane_namespace.clone())
        .ok_or_else(|| "no HostedCluster was surveyed".to_string())
}

/// `--initial-cluster-token` as a container's command, args or env give it.
fn initial_cluster_token(container: &Value) -> Option<String> {
    let words = ["command", "args"]
        .iter()
        .filter_map(|k| container.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
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
        .get("env")
        .and_then(Value::as_array)?
        .iter()
        .find(|e| e["name"] == "ETCD_INITIAL_CLUSTER_TOKEN")
        .and_then(|e| text(e, "/value"))
}

/// Whether the kubeconfig's user (of the chosen context) authenticates with a client certificate.
pub fn certificate_kubeconfig(kube: &KubeSettings) -> Result<(), String> {
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

impl RestoreExecutor {
    fn api(&self) -> Result<&Connection, String> {
        self.connection.as_ref().map_err(Clone::clone)
    }

    /// Everything the plan and the gates need, read concurrently.
    pub async fn survey(&self, run: &RestoreRun) -> Survey {
        let dir = self.backup_dir.clone();
        let backup = tokio::task::spawn_blocking(move || crate::backup::directory::inspect(&dir));
        let mut survey = Survey::default();
        let connection = match self.api() {
            Ok(connection) => connection.clone(),
            Err(e) => {
                survey.unreadable = Some(e);
                survey.backup = backup.await.unwrap_or_default();
                return survey;
            }
        };
        survey.api_url = connection.server.clone();
        survey.certificate_kubeconfig = Some(certificate_kubeconfig(&self.kube));
        let c = &connection;
        let (all, one) = (ListParams::default(), ListParams::default().limit(1));
        let (version, infrastructure, nodes, machines, network, ovn_pods, etcd, webhooks, proxy) = tokio::join!(
            get(c, dynamic(c, CLUSTER_VERSION, None), "clusterversion/version", "version"),
            get(c, dynamic(c, INFRASTRUCTURE, None), "infrastructure/cluster", "cluster"),
            list(c, dynamic(c, NODE, None), "nodes", &all),
            list(c, dynamic(c, MACHINE, Some(MACHINE_NAMESPACE)), "machines", &all),
            get(c, dynamic(c, NETWORK, None), "network/cluster", "cluster"),
            list(c, dynamic(c, POD, Some("openshift-ovn-kubernetes")), "OVN pods", &one),
            get(c, dynamic(c, operator_type(Operator::Etcd), None), "etcd/cluster", "cluster"),
            self.fail_webhooks(c),
            get(c, dynamic(c, PROXY, None), "proxy/cluster", "cluster"),
        );
        survey.backup = backup.await.unwrap_or_default();
        let version = match version {
            Ok(Some(version)) => version,
            // A management cluster need not be OpenShift: the hosted cluster's own identity is used.
            Ok(None) | Err(_) if run.procedure == Procedure::Hosted => Value::Null,
            Ok(None) => {
                survey.unreadable = Some(format!(
                    "{} serves no clusterversions.config.openshift.io/version: not an OpenShift cluster; the restore wizards need its API",
                    c.server
                ));
                return survey;
            }
            Err(e) => {
                survey.unreadable = Some(e);
                return survey;
            }
        };
        let (id, completed) = crate::backup::directory::identity(&version);
        survey.cluster_id = id;
        survey.version = completed;
        let infrastructure = infrastructure.ok().flatten();
        survey.api_vips = infrastructure.as_ref().map(api_vips).unwrap_or_default();
        survey.proxy = proxy.ok().flatten().is_some_and(|p| proxy_in_force(&p));
        survey.cluster_name = infrastructure
            .as_ref()
            .and_then(|i| text(i, "/status/infrastructureName"))
            .or_else(|| survey.cluster_id.clone())
            .unwrap_or_else(|| c.server.clone());
        survey.quorum_guard_off = etcd.ok().flatten().is_some_and(|e| model::quorum_guard_off(&e));
        survey.fail_webhooks = webhooks.unwrap_or_default();
        survey.ovn = match network {
            Ok(Some(network)) => {
                text(&network, "/spec/networkType").or_else(|| text(&network, "/status/networkType")).as_deref()
                    == Some("OVNKubernetes")
            }
            _ => ovn_pods.ok().flatten().is_some_and(|pods| !pods.is_empty()),
        };
        let machines = machines.ok().flatten().unwrap_or_default();
        let nodes = match nodes {
            Ok(Some(nodes)) => nodes,
            Ok(None) => Vec::new(),
            Err(e) => {
                survey.unreadable = Some(e);
                return survey;
            }
        };
        for node in &nodes {
            let name = name_of(node);
            if is_control_plane(node) {
                let machine = machines
                    .iter()
                    .find(|m| text(m, "/status/nodeRef/name").as_deref() == Some(name.as_str()))
                    .map(name_of);
                survey.control_plane.push(HostFacts {
                    name,
                    ip: internal_ip(node),
                    ready: condition_true(node, "Ready"),
                    machine,
                    reachable: None,
                });
            } else {
                survey.workers.push(name);
            }
        }
        if run.procedure == Procedure::Hosted {
            survey.hosted = self.hosted(c, run, &mut survey).await;
        } else if !run.options.manual_hosts {
            let lost = &run.options.lost;
            let mut tries = tokio::task::JoinSet::new();
            for (index, host) in survey.control_plane.iter().enumerate() {
                if lost.contains(&host.name) {
                    continue;
                }
                let (hosts, name, ip) = (self.hosts.clone(), host.name.clone(), host.ip.clone());
                tries.spawn(async move {
                    let answer = hosts.run(&name, &ip, "true", Duration::from_secs(20)).await;
                    (index, answer.and_then(|o| if o.exit_code == 0 { Ok(()) } else { Err(o.text()) }))
                });
            }
            while let Some(Ok((index, answer))) = tries.join_next().await {
                survey.control_plane[index].reachable = Some(answer);
            }
        }
        survey
    }

    async fn hosted(&self, c: &Connection, run: &RestoreRun, survey: &mut Survey) -> Option<HostedFacts> {
        let (namespace, name) = run.options.hosted_cluster.as_deref()?.split_once('/')?;
        let hc = get(c, dynamic(c, HOSTED_CLUSTER, Some(namespace)), "hostedcluster", name).await.ok().flatten()?;
        // The backup is of the hosted cluster: compare with its own ID and version.
        survey.cluster_id = text(&hc, "/spec/clusterID");
        survey.version = hc.pointer("/status/version/history").and_then(Value::as_array).and_then(|h| {
            h.iter().find(|e| e["state"] == "Completed").and_then(|e| e["version"].as_str()).map(str::to_string)
        });
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
        .flatten()?;
        let etcd_replicas = etcd.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(3) as i32;
        let containers = etcd.pointer("/spec/template/spec/containers").and_then(Value::as_array).cloned();
        let containers = containers.unwrap_or_default();
        let etcd_container = containers.iter().find(|c| c["name"] == "etcd").or_else(|| containers.first());
        let members = self.hosted_members(c, &control_plane_namespace, etcd_replicas).await;
        let mut writers = Vec::new();
        for writer in super::steps::WRITERS {
            let api = dynamic(c, workload_type("Deployment"), Some(&control_plane_namespace));
            if let Ok(Some(deployment)) = get(c, api, &format!("deployment/{writer}"), writer).await {
                let replicas = deployment.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
                writers.push((writer.to_string(), replicas as i32));
            }
        }
        Some(HostedFacts {
            namespace: namespace.to_string(),
            name: name.to_string(),
            control_plane_namespace,
            etcd_replicas,
            when_scaled: text(&etcd, "/spec/persistentVolumeClaimRetentionPolicy/whenScaled"),
            etcd_image: etcd_container.and_then(|c| text(c, "/image")).unwrap_or_default(),
            token: etcd_container.and_then(initial_cluster_token),
            members,
            paused: text(&hc, "/spec/pausedUntil").is_some(),
            writers,
        })
    }

    /// Each replica's member (name, peer URL), replica N being pod etcd-N: the member
    /// named so, else the one whose URLs are at the pod's IP or name. Empty when etcd
    /// does not answer or a pod cannot be matched (the plan then uses the runbook's names).
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
        let pods = list(c, dynamic(c, POD, Some(namespace)), "etcd pods", &ListParams::default().labels("app=etcd"))
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let host = |url: &str| -> String {
            let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
            let host = rest.rsplit_once(':').map(|(h, _)| h).unwrap_or(rest);
            host.trim_matches(|c| c == '[' || c == ']').to_string()
        };
        let mut found = Vec::new();
        for index in 0..replicas.max(0) {
            let pod = format!("etcd-{index}");
            let ip = pods.iter().find(|p| name_of(p) == pod).and_then(|p| text(p, "/status/podIP"));
            let matches = |m: &&crate::cluster::MemberIdentity| {
                m.name == pod
                    || m.peer_urls.iter().chain(&m.client_urls).any(|u| {
                        let h = host(u);
                        ip.as_deref() == Some(h.as_str()) || h.starts_with(&format!("{pod}."))
                    })
            };
            // Exactly one started member for each pod, or the runbook's names are used.
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

    /// Every admission webhook that fails closed, as `<kind>/<name>[<index>]`.
    async fn fail_webhooks(&self, c: &Connection) -> Result<Vec<String>, String> {
        let mut found = Vec::new();
        for t in WEBHOOKS {
            let Some(items) = list(c, dynamic(c, *t, None), t.3, &ListParams::default()).await? else { continue };
            for config in items {
                let hooks = config.get("webhooks").and_then(Value::as_array).cloned().unwrap_or_default();
                for (i, hook) in hooks.iter().enumerate() {
                    // In admissionregistration/v1 an unset failurePolicy means Fail.
                    if hook.get("failurePolicy").and_then(Value::as_str).unwrap_or("Fail") == "Fail" {
                        found.push(format!("{}/{}[{i}]", t.2.to_lowercase(), name_of(&config)));
                    }
                }
            }
        }
        Ok(found)
    }

    fn host_ip(&self, run: &RestoreRun, node: &str) -> String {
        run.survey
            .as_ref()
            .and_then(|s| s.control_plane.iter().find(|h| h.name == node))
            .map(|h| h.ip.clone())
            .unwrap_or_default()
    }

    async fn node_ip(&self, run: &RestoreRun, node: &str) -> String {
        let known = self.host_ip(run, node);
        if !known.is_empty() {
            return known;
        }
        match self.api() {
            Ok(c) => get(c, dynamic(c, NODE, None), "node", node)
                .await
                .ok()
                .flatten()
                .map(|n| internal_ip(&n))
                .unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// The step's act, then its check polled until it holds or the step's limit passes.
    pub async fn perform(
        &self,
        run: &RestoreRun,
        step: &Step,
        reason: Option<&str>,
        nodes: &[String],
        abort: &tokio::sync::watch::Receiver<bool>,
    ) -> StepResult {
        let started = Instant::now();
        let limit = Duration::from_secs(step.limit_seconds.max(1));
        // The revision the operator is at before the patch: its check waits for a newer one.
        let revision_before = match step.act {
            Act::ForceRedeployment { operator } => match self.latest_revision(operator).await {
                Some(revision) => Some(revision),
                // Without it the rollout could not be told from the one before: nothing is patched.
                None => {
                    return StepResult::Failed {
                        reason: format!(
                            "cannot read {}/cluster's status.latestAvailableRevision: not forced (its rollout could not be followed)",
                            operator.short()
                        ),
                    }
                }
            },
            _ => None,
        };
        let act = match self.act(run, step, reason, nodes).await {
            Ok(detail) => detail,
            Err(reason) => return StepResult::Failed { reason },
        };
        if let Act::ForceRedeployment { .. } = step.act {
            return StepResult::Forced { detail: act, revision_before };
        }
        if step.check == Check::Answer {
            return StepResult::Done { detail: act };
        }
        let mut last;
        let mut quiet_since = Instant::now();
        loop {
            let checked = match step.check {
                // CSRs come in as the kubelets restart: approved as they come, done once none came for a while.
                Check::NoValidPendingCsrs => self.approve_csrs(run).await.map(|(checked, approved)| {
                    if approved > 0 {
                        quiet_since = Instant::now();
                    }
                    match checked {
                        Checked::Holds(said) if quiet_since.elapsed() < CSR_QUIET => Checked::NotYet(format!(
                            "{said}; waiting until no new CSR comes for {}s",
                            CSR_QUIET.as_secs()
                        )),
                        other => other,
                    }
                }),
                ref check => self.check(run, check).await,
            };
            match checked {
                Ok(Checked::Holds(detail)) => {
                    let detail = if act.is_empty() { detail } else { format!("{act}\n{detail}") };
                    return StepResult::Done { detail };
                }
                Ok(Checked::NotYet(detail)) | Err(detail) => last = detail,
            }
            if *abort.borrow() {
                return StepResult::Interrupted { detail: format!("done; its check was stopped: {last}") };
            }
            if started.elapsed() >= limit {
                if let Check::NodesReady = step.check {
                    return match self.not_ready_nodes(run.lost()).await {
                        Ok(not_ready) => StepResult::DoneWithNotReady { detail: last, not_ready },
                        Err(reason) => StepResult::Failed { reason },
                    };
                }
                return StepResult::Failed {
                    reason: format!("not so after {}: {last}", humantime::format_duration(limit)),
                };
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    async fn act(
        &self,
        run: &RestoreRun,
        step: &Step,
        reason: Option<&str>,
        nodes: &[String],
    ) -> Result<String, String> {
        let limit = Duration::from_secs(step.limit_seconds.max(30));
        match &step.act {
            Act::Nothing | Act::Person { .. } => Ok(String::new()),
            Act::Host { node, command } => {
                let output = self.hosts.run(node, &self.host_ip(run, node), command, limit).await?;
                if output.exit_code == 0 {
                    Ok(output.text())
                } else {
                    Err(format!("`{command}` on {node} exited {}: {}", output.exit_code, output.text()))
                }
            }
            Act::Reboot { node, command } => {
                // The connection dropping under the command (255) is what a reboot looks like over ssh.
                match self.hosts.run(node, &self.host_ip(run, node), command, Duration::from_secs(60)).await {
                    Ok(output) if output.exit_code == 0 || output.exit_code == 255 => {}
                    Ok(output) => {
                        return Err(format!("`{command}` on {node} exited {}: {}", output.exit_code, output.text()))
                    }
                    Err(e) if e.contains("no answer") => {}
                    Err(e) => return Err(e),
                }
                tracing::info!(target: "audit", node = %node, "restore: host rebooted");
                self.member_goes_away(node, Duration::from_secs(180)).await
            }
            Act::CopyBackup { node, to } => {
                let ip = self.host_ip(run, node);
                // cluster-restore.sh takes the newest snapshot it finds there: only ours may be there.
                let listed = self.hosts.run(node, &ip, &format!("ls {to}"), Duration::from_secs(30)).await?;
                let ours: Vec<String> = std::fs::read_dir(&self.backup_dir)
                    .map_err(|e| format!("cannot read {}: {e}", self.backup_dir.display()))?
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                let foreign: Vec<&str> = listed
                    .stdout
                    .split_whitespace()
                    .filter(|f| {
                        (f.starts_with("snapshot_") || f.starts_with("static_kuberesources_"))
                            && !ours.iter().any(|o| o == f)
                    })
                    .collect();
                if listed.exit_code == 0 && !foreign.is_empty() {
                    return Err(format!(
                        "{node}:{to} already holds another backup ({}): cluster-restore.sh would take the newest; move it away or give --remote-backup-dir",
                        foreign.join(", ")
                    ));
                }
                self.hosts.copy(node, &ip, &self.backup_dir, to, limit).await
            }
            Act::HostOnNotReady { command } => {
                let mut said = Vec::new();
                for node in nodes {
                    let ip = self.node_ip(run, node).await;
                    let output = self.hosts.run(node, &ip, command, limit).await?;
                    if output.exit_code != 0 {
                        return Err(format!("`{command}` on {node} exited {}: {}", output.exit_code, output.text()));
                    }
                    said.push(format!("{node}: done"));
                }
                Ok(said.join(", "))
            }
            Act::QuorumGuard { off } => {
                let c = self.api()?;
                let body = if *off {
                    json!({"spec": {"unsupportedConfigOverrides": {"useUnsupportedUnsafeNonHANonProductionUnstableEtcd": true}}})
                } else {
                    json!({"spec": {"unsupportedConfigOverrides": null}})
                };
                merge_patch(c, dynamic(c, operator_type(Operator::Etcd), None), "etcd/cluster", "cluster", &body)
                    .await?;
                tracing::info!(target: "audit", off, "restore: quorum guard patched");
                Ok(if *off { "quorum guard off".into() } else { "quorum guard back on".into() })
            }
            Act::ForceRedeployment { operator } => {
                let c = self.api()?;
                let reason = reason.ok_or("no redeployment reason was chosen")?;
                let body = json!({"spec": {"forceRedeploymentReason": reason}});
                let what = format!("{}/cluster", operator.short());
                merge_patch(c, dynamic(c, operator_type(*operator), None), &what, "cluster", &body).await?;
                tracing::info!(target: "audit", operator = operator.short(), reason, "restore: forced redeployment");
                Ok(format!("forceRedeploymentReason: {reason}"))
            }
            Act::ApproveCsrs => Ok(String::new()),
            Act::DeletePods { namespace, selector, node } => {
                let c = self.api()?;
                let mut params = ListParams::default().labels(selector);
                if let Some(node) = node {
                    params = params.fields(&format!("spec.nodeName={node}"));
                }
                let api = dynamic(c, POD, Some(namespace));
                let pods = list(c, api.clone(), "pods", &params).await?.unwrap_or_default();
                let mut deleted = Vec::new();
                for pod in &pods {
                    let name = name_of(pod);
                    delete(c, api.clone(), &format!("pod {namespace}/{name}"), &name).await?;
                    deleted.push(name);
                }
                tracing::info!(target: "audit", namespace, selector, pods = ?deleted, "restore: pods deleted");
                Ok(format!(
                    "deleted {}",
                    if deleted.is_empty() { "nothing (none found)".into() } else { deleted.join(", ") }
                ))
            }
            Act::DeleteMachine { name, node } => {
                // The engine refuses it; the hands refuse it too.
                if run.options.recovery_host.as_deref() == Some(node.as_str()) {
                    return Err(format!("{name} is the recovery host's Machine: never deleted"));
                }
                let c = self.api()?;
                delete(c, dynamic(c, MACHINE, Some(MACHINE_NAMESPACE)), &format!("machine {name}"), name).await?;
                tracing::info!(target: "audit", machine = %name, node = %node, "restore: machine deleted");
                Ok(format!("deleted machine {name}"))
            }
            Act::WebhooksFailurePolicy { to_ignore } => {
                let c = self.api()?;
                let listed = run.survey.as_ref().map(|s| s.fail_webhooks.clone()).unwrap_or_default();
                let policy = if *to_ignore { "Ignore" } else { "Fail" };
                for entry in &listed {
                    let Some((kind, rest)) = entry.split_once('/') else { continue };
                    let Some((name, index)) = rest.trim_end_matches(']').split_once('[') else { continue };
                    let Some(t) = WEBHOOKS.iter().find(|t| t.2.to_lowercase() == kind) else { continue };
                    let Ok(index) = index.parse::<usize>() else { continue };
                    let api = dynamic(c, *t, None);
                    let Some(config) = get(c, api.clone(), entry, name).await? else { continue };
                    // A merge patch replaces the list whole: the webhooks as read, with the one policy changed.
                    let mut hooks = config.get("webhooks").cloned().unwrap_or_else(|| json!([]));
                    if let Some(hook) = hooks.get_mut(index) {
                        hook["failurePolicy"] = json!(policy);
                    }
                    let body = json!({"metadata": {"resourceVersion": config.pointer("/metadata/resourceVersion")}, "webhooks": hooks});
                    merge_patch(c, api, entry, name, &body).await?;
                }
                tracing::info!(target: "audit", webhooks = ?listed, policy, "restore: webhook failurePolicy set");
                Ok(format!("failurePolicy {policy}: {}", listed.join(", ")))
            }
            Act::PauseReconciliation { paused } => {
                let c = self.api()?;
                let (namespace, name) = hosted_cluster(run)?;
                let value = if *paused { "true" } else { "" };
                let body = json!({"spec": {"pausedUntil": value}});
                merge_patch(c, dynamic(c, HOSTED_CLUSTER, Some(&namespace)), "hostedcluster", &name, &body).await?;
                tracing::info!(target: "audit", hosted_cluster = %format!("{namespace}/{name}"), paused, "restore: reconciliation paused or resumed");
                Ok(format!("hostedcluster {namespace}/{name}: spec.pausedUntil {value:?}"))
            }
            Act::Scale { kind, name, replicas } => {
                let c = self.api()?;
                let namespace = control_plane_namespace(run)?;
                let body = json!({"spec": {"replicas": replicas}});
                merge_patch(c, dynamic(c, workload_type(kind), Some(&namespace)), kind, name, &body).await?;
                tracing::info!(target: "audit", namespace = %namespace, kind = %kind, name = %name, replicas, "restore: scaled");
                Ok(format!("{} {namespace}/{name} scaled to {replicas}", kind.to_lowercase()))
            }
            Act::CreateDataPod { deployment, claim, image } => {
                let c = self.api()?;
                let namespace = control_plane_namespace(run)?;
                let api = dynamic(c, workload_type("Deployment"), Some(&namespace));
                // One left by an interrupted run is ours if it mounts the same claim.
                if let Some(existing) = get(c, api.clone(), &format!("deployment/{deployment}"), deployment).await? {
                    return match pods::mounted_claim(&existing) {
                        Some(mounted) if &mounted == claim => Ok(format!("deployment/{deployment} is there, with {claim}")),
                        other => Err(format!(
                            "deployment/{deployment} already exists in {namespace} and mounts {}: not ours; delete it or rename it first",
                            other.unwrap_or_else(|| "no claim".into())
                        )),
                    };
                }
                let object: DynamicObject = serde_json::from_value(pods::data_deployment(deployment, claim, image))
                    .map_err(|e| format!("the {deployment} Deployment: {e}"))?;
                let params = kube::api::PostParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
                within(c, &format!("creating deployment/{deployment}"), api.create(&params, &object)).await?;
                tracing::info!(target: "audit", namespace = %namespace, deployment = %deployment, claim = %claim, "restore: data pod deployment created");
                Ok(format!("deployment/{deployment} created (image {image}, {claim} at /var/lib)"))
            }
            Act::CopySnapshot { deployment, to } => {
                let c = self.api()?;
                let namespace = control_plane_namespace(run)?;
                let snapshot = self.snapshot_path(run)?;
                let pod = pods::running_pod(c, &namespace, deployment).await?;
                let size =
                    std::fs::metadata(&snapshot).map_err(|e| format!("cannot read {}: {e}", snapshot.display()))?.len();
                // It stops reading by itself: older API servers cannot say that stdin ended.
                let copy = ["sh".to_string(), "-c".into(), format!("head -c {size} > {to}")];
                let (expected, copied) = tokio::join!(
                    pods::sha256_of(&snapshot),
                    pods::exec(c, &namespace, &pod, &copy, Some(&snapshot), limit)
                );
                let (expected, copied) = (expected?, copied?);
                if copied.exit_code != 0 {
                    return Err(format!("copying into {pod}:{to} exited {}: {}", copied.exit_code, copied.text()));
                }
                let sum = pods::exec(c, &namespace, &pod, &["sha256sum".into(), to.clone()], None, limit).await?;
                let there = sum.stdout.split_whitespace().next().unwrap_or_default().to_string();
                if sum.exit_code != 0 || there != expected {
                    return Err(format!(
                        "the copy in {pod}:{to} is not the snapshot: sha256 {there:?} there, {expected} here ({})",
                        sum.text()
                    ));
                }
                tracing::info!(target: "audit", pod = %pod, to = %to, sha256 = %expected, "restore: snapshot copied into pod");
                Ok(format!("{} copied to {pod}:{to}, sha256 {expected} there too", snapshot.display()))
            }
            Act::PodExec { deployment, commands } => {
                let c = self.api()?;
                let namespace = control_plane_namespace(run)?;
                // A member's data is replaced only while no member runs (nothing scaled etcd up meanwhile).
                self.etcd_stopped(c, &namespace).await?;
                let pod = pods::running_pod(c, &namespace, deployment).await?;
                let mut said = Vec::new();
                for argv in commands {
                    let output = pods::exec(c, &namespace, &pod, argv, None, limit).await?;
                    tracing::info!(target: "audit", pod = %pod, command = %argv.join(" "), exit = output.exit_code, "restore: command run in pod");
                    if output.exit_code != 0 {
                        return Err(format!(
                            "`{}` in {pod} exited {}: {}",
                            argv.join(" "),
                            output.exit_code,
                            output.text()
                        ));
                    }
                    said.push(format!("$ {}\n{}", argv.join(" "), output.text()));
                }
                Ok(said.join("\n").trim().to_string())
            }
            Act::DeleteDeployment { name } => {
                let c = self.api()?;
                let namespace = control_plane_namespace(run)?;
                delete(
                    c,
                    dynamic(c, workload_type("Deployment"), Some(&namespace)),
                    &format!("deployment/{name}"),
                    name,
                )
                .await?;
                tracing::info!(target: "audit", namespace = %namespace, deployment = %name, "restore: deployment deleted");
                Ok(format!("deployment/{name} deleted"))
            }
        }
    }

    /// Nodes not Ready, but for the hosts declared lost (their Machines are made again later).
    async fn not_ready_nodes(&self, lost: &[String]) -> Result<Vec<String>, String> {
        let c = self.api()?;
        let nodes = list(c, dynamic(c, NODE, None), "nodes", &ListParams::default()).await?.unwrap_or_default();
        Ok(nodes.iter().filter(|n| !condition_true(n, "Ready")).map(name_of).filter(|n| !lost.contains(n)).collect())
    }

    async fn latest_revision(&self, operator: Operator) -> Option<i64> {
        let c = self.api().ok()?;
        let object = get(c, dynamic(c, operator_type(operator), None), operator.short(), "cluster").await.ok()??;
        object.pointer("/status/latestAvailableRevision").and_then(Value::as_i64)
    }

    async fn check(&self, run: &RestoreRun, check: &Check) -> Result<Checked, String> {
        match check {
            Check::Answer | Check::PersonConfirms => Ok(Checked::Holds(String::new())),
            Check::HostPrintsNothing { node, command } | Check::HostPrintsSomething { node, command } => {
                // Without pipefail an empty pipeline may be crictl failing: ask it alone first.
                if let Some(first) = command.split('|').next().filter(|c| c.contains("crictl")) {
                    let alone =
                        self.hosts.run(node, &self.host_ip(run, node), first.trim(), Duration::from_secs(30)).await?;
                    if alone.exit_code != 0 {
                        return Err(format!(
                            "`{}` on {node} failed (exit {}): {}",
                            first.trim(),
                            alone.exit_code,
                            alone.text()
                        ));
                    }
                }
                let output = self.hosts.run(node, &self.host_ip(run, node), command, Duration::from_secs(30)).await?;
                if output.exit_code == 255 {
                    return Err(format!("{node} did not answer: {}", output.text()));
                }
                let printed = output.stdout.trim();
                let wanted_empty = matches!(check, Check::HostPrintsNothing { .. });
                let shown = if printed.is_empty() { "(nothing)".to_string() } else { printed.to_string() };
                if printed.is_empty() == wanted_empty {
                    Ok(Checked::Holds(format!("{command}: {shown}")))
                } else {
                    Ok(Checked::NotYet(format!("{command} still prints: {shown}")))
                }
            }
            Check::EtcdMembers { count } => self.etcd_members(*count).await,
            Check::NodesReady => {
                let not_ready = self.not_ready_nodes(run.lost()).await?;
                if not_ready.is_empty() {
                    Ok(Checked::Holds("every node Ready".into()))
                } else {
                    Ok(Checked::NotYet(format!("NotReady: {}", not_ready.join(", "))))
                }
            }
            Check::NoValidPendingCsrs => self.approve_csrs(run).await.map(|(checked, _)| checked),
            Check::PodsRunning { namespace, selector, node, count } => {
                let c = self.api()?;
                let mut params = ListParams::default().labels(selector);
                if let Some(node) = node {
                    params = params.fields(&format!("spec.nodeName={node}"));
                }
                let pods = list(c, dynamic(c, POD, Some(namespace)), "pods", &params).await?.unwrap_or_default();
                // A lost host's pods stay listed, not Ready (its node posts no status), until its
                // Machine, and with it the node, is replaced: they are not counted. A Ready one
                // is the new host's (a replacement may keep the node's name).
                let lost = run.lost();
                let on_lost = |p: &Value| {
                    text(p, "/spec/nodeName").is_some_and(|n| lost.contains(&n)) && !condition_true(p, "Ready")
                };
                let live: Vec<&Value> = pods
                    .iter()
                    .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none() && (node.is_some() || !on_lost(p)))
                    .collect();
                let running: Vec<String> = live
                    .iter()
                    .filter(|p| text(p, "/status/phase").as_deref() == Some("Running") && condition_true(p, "Ready"))
                    .map(|p| name_of(p))
                    .collect();
                let enough = match count {
                    Some(n) => running.len() == *n && live.len() == *n,
                    None => !running.is_empty() && running.len() == live.len(),
                };
                let said = format!("{} of {} Running: {}", running.len(), live.len(), running.join(", "));
                Ok(if enough { Checked::Holds(said) } else { Checked::NotYet(said) })
            }
            Check::MachineReplaced { name } => {
                let c = self.api()?;
                let machines =
                    list(c, dynamic(c, MACHINE, Some(MACHINE_NAMESPACE)), "machines", &ListParams::default())
                        .await?
                        .unwrap_or_default();
                let known: BTreeSet<String> = run
                    .survey
                    .as_ref()
                    .map(|s| s.control_plane.iter().filter_map(|h| h.machine.clone()).collect())
                    .unwrap_or_default();
                let new: Vec<&Value> = machines
                    .iter()
                    .filter(|m| !known.contains(&name_of(m)) && name_of(m) != *name)
                    .filter(|m| {
                        m.pointer("/metadata/labels/machine.openshift.io~1cluster-api-machine-role")
                            .and_then(Value::as_str)
                            == Some("master")
                    })
                    .collect();
                match new.iter().find(|m| text(m, "/status/phase").as_deref() == Some("Running")) {
                    Some(m) => Ok(Checked::Holds(format!("{} Running", name_of(m)))),
                    None => Ok(Checked::NotYet(match new.first() {
                        Some(m) => format!(
                            "{} {}",
                            name_of(m),
                            text(m, "/status/phase").unwrap_or_else(|| "(no phase)".into())
                        ),
                        None => format!("no machine made yet to replace {name}"),
                    })),
                }
            }
            Check::QuorumGuardOff { off } => {
                let c = self.api()?;
                let etcd = get(c, dynamic(c, operator_type(Operator::Etcd), None), "etcd/cluster", "cluster").await?;
                let now = etcd.as_ref().is_some_and(model::quorum_guard_off);
                let overrides =
                    etcd.as_ref().and_then(|e| e.pointer("/spec/unsupportedConfigOverrides")).filter(|v| !v.is_null());
                let said = if now {
                    "unsupportedConfigOverrides set: quorum guard off"
                } else {
                    "no unsupportedConfigOverrides: quorum guard on"
                };
                Ok(if now == *off && (*off || overrides.is_none()) {
                    Checked::Holds(said.into())
                } else {
                    Checked::NotYet(said.into())
                })
            }
            Check::AllNodesAtLatestRevision { operator } => {
                let c = self.api()?;
                let object = get(c, dynamic(c, operator_type(*operator), None), operator.short(), "cluster")
                    .await?
                    .ok_or_else(|| format!("{}/cluster not found", operator.short()))?;
                let rollout = model::rollout(operator.short(), &object);
                let reason = object
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .and_then(|c| c.iter().find(|c| c["type"] == "NodeInstallerProgressing"))
                    .map(|c| (text(c, "/reason").unwrap_or_default(), text(c, "/message").unwrap_or_default()))
                    .unwrap_or_default();
                // The patch must have been seen: a rollout newer than the reason it was forced with.
                let forced = run
                    .records
                    .iter()
                    .zip(&run.steps)
                    .rev()
                    .find(|(_, s)| s.act == Act::ForceRedeployment { operator: *operator });
                let before = forced.and_then(|(r, _)| r.revision_before);
                let newer = before.is_none_or(|before| rollout.latest_revision > before);
                let forced = forced.and_then(|(r, _)| r.reason.clone());
                let observed = text(&object, "/spec/forceRedeploymentReason");
                let said = format!("{}: {}", reason.0, reason.1);
                let settled = newer
                    && reason.0 == "AllNodesAtLatestRevision"
                    && !rollout.progressing
                    && rollout.nodes.iter().all(|n| n.current_revision == rollout.latest_revision);
                Ok(if settled && (forced.is_none() || forced == observed) {
                    Checked::Holds(said)
                } else {
                    Checked::NotYet(said)
                })
            }
            Check::NoFailWebhooks => {
                let c = self.api()?;
                let left = self.fail_webhooks(c).await?;
                Ok(if left.is_empty() {
                    Checked::Holds("no webhook fails closed".into())
                } else {
                    Checked::NotYet(format!("still Fail: {}", left.join(", ")))
                })
            }
            Check::ApiAnswers => {
                let c = self.api()?;
                get(c, dynamic(c, CLUSTER_VERSION, None), "clusterversion/version", "version").await?;
                Ok(Checked::Holds(format!("{} answers", c.server)))
            }
            Check::Paused { paused } => {
                let c = self.api()?;
                let (namespace, name) = hosted_cluster(run)?;
                let hc = get(c, dynamic(c, HOSTED_CLUSTER, Some(&namespace)), "hostedcluster", &name)
                    .await?
                    .ok_or_else(|| format!("hostedcluster {namespace}/{name} is gone"))?;
                let until = text(&hc, "/spec/pausedUntil");
                // The HyperShift operator passes the pause on to the HostedControlPlane: paused only once it has.
                let plane = get(
                    c,
                    dynamic(c, HOSTED_CONTROL_PLANE, Some(&format!("{namespace}-{name}"))),
                    "hostedcontrolplane",
                    &name,
                )
                .await
                .ok()
                .flatten();
                let plane_until = plane.as_ref().map(|p| text(p, "/spec/pausedUntil"));
                let said = match &plane_until {
                    Some(p) => format!(
                        "HostedCluster spec.pausedUntil {:?}, HostedControlPlane {:?}",
                        until.clone().unwrap_or_default(),
                        p.clone().unwrap_or_default()
                    ),
                    None => format!("spec.pausedUntil {:?}", until.clone().unwrap_or_default()),
                };
                let plane_agrees = plane_until.is_none_or(|p| p.is_some() == *paused);
                Ok(if until.is_some() == *paused && plane_agrees {
                    Checked::Holds(said)
                } else {
                    Checked::NotYet(said)
                })
            }
            Check::Replicas { kind, name, replicas } => {
                let c = self.api()?;
                let namespace = control_plane_namespace(run)?;
                let object = get(c, dynamic(c, workload_type(kind), Some(&namespace)), kind, name)
                    .await?
                    .ok_or_else(|| format!("{kind} {namespace}/{name} is not there"))?;
                let number = |p: &str| object.pointer(p).and_then(Value::as_i64).unwrap_or(0);
                let (wanted, now, ready) =
                    (number("/spec/replicas"), number("/status/replicas"), number("/status/readyReplicas"));
                // Scaled to 0 means no pod left, whatever the status says yet.
                let selector = object
                    .pointer("/spec/selector/matchLabels")
                    .and_then(Value::as_object)
                    .map(|labels| {
                        labels
                            .iter()
                            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default();
                let pods = if *replicas == 0 && !selector.is_empty() {
                    let params = ListParams::default().labels(&selector);
                    list(c, dynamic(c, POD, Some(&namespace)), "pods", &params).await?.unwrap_or_default().len() as i64
                } else {
                    now
                };
                let said = format!("{name}: spec {wanted}, status {now}, ready {ready}, pods {pods}");
                let target = i64::from(*replicas);
                let holds = wanted == target && now == target && pods == target && (target == 0 || ready == target);
                Ok(if holds { Checked::Holds(said) } else { Checked::NotYet(said) })
            }
            Check::NoPods { namespace, selector } => {
                let c = self.api()?;
                let params = ListParams::default().labels(selector);
                let pods = list(c, dynamic(c, POD, Some(namespace)), "pods", &params).await?.unwrap_or_default();
                let names: Vec<String> = pods.iter().map(name_of).collect();
                Ok(if names.is_empty() {
                    Checked::Holds(format!("no pod with {selector}"))
                } else {
                    Checked::NotYet(format!("still there: {}", names.join(", ")))
                })
            }
            Check::MembersAgree { count } => {
                let snapshot = run.survey.as_ref().and_then(|s| s.backup.revision);
                self.members_agree(*count, snapshot).await
            }
        }
    }

    /// Approves the valid pending CSRs; holds once every node is Ready and no valid one is left.
    async fn approve_csrs(&self, run: &RestoreRun) -> Result<(Checked, usize), String> {
        use crate::openshift::csr;
        let c = self.api()?;
        let pending = csr::pending(c).await?;
        let plan = csr::plan(&pending, &csr::Selection::AllValid, run.options.read_only)?;
        let mut approved = Vec::new();
        for one in &plan.approve {
            csr::approve(c, &one.name).await?;
            tracing::info!(target: "audit", csr = %one.name, requestor = %one.requestor, "restore: CSR approved");
            approved.push(one.name.clone());
        }
        let not_ready = self.not_ready_nodes(run.lost()).await?;
        let unexpected: Vec<String> = plan.refused.iter().map(|(name, why)| format!("{name} ({why})")).collect();
        let said = format!(
            "approved {}; NotReady: {}; left for you to review: {}",
            if approved.is_empty() { "none now".into() } else { approved.join(", ") },
            if not_ready.is_empty() { "none".into() } else { not_ready.join(", ") },
            if unexpected.is_empty() { "none".into() } else { unexpected.join(", ") }
        );
        let count = approved.len();
        Ok((
            if approved.is_empty() && not_ready.is_empty() { Checked::Holds(said) } else { Checked::NotYet(said) },
            count,
        ))
    }

    async fn etcd_members(&self, count: usize) -> Result<Checked, String> {
        let reached = self.etcd.reach().await?;
        let members = crate::etcd::poller::discover(&reached.seeds, &reached.connector).await?;
        reached.route(&members).await;
        let started: Vec<_> = members.iter().filter(|m| !m.name.is_empty() && !m.client_urls.is_empty()).collect();
        let mut healthy = Vec::new();
        let mut problems = Vec::new();
        for member in &started {
            let answer = match reached.connector.client(member.endpoint()).await {
                Ok(mut client) => {
                    crate::etcd::connect::timed(Duration::from_secs(5), async move {
                        client.get("health", None).await.map(|_| ()).map_err(crate::etcd::connect::describe)
                    })
                    .await
                }
                Err(e) => Err(e),
            };
            match answer {
                Ok(()) => healthy.push(member.name.clone()),
                Err(e) => problems.push(format!("{}: {e}", member.name)),
            }
        }
        let said = format!(
            "{} member(s), {} started, healthy: {}{}",
            members.len(),
            started.len(),
            healthy.join(", "),
            if problems.is_empty() { String::new() } else { format!("; {}", problems.join("; ")) }
        );
        Ok(if members.len() == count && healthy.len() == count { Checked::Holds(said) } else { Checked::NotYet(said) })
    }

    /// Err unless the etcd StatefulSet is at 0 and none of its pods is left.
    async fn etcd_stopped(&self, c: &Connection, namespace: &str) -> Result<(), String> {
        let etcd = get(c, dynamic(c, workload_type("StatefulSet"), Some(namespace)), "statefulset/etcd", "etcd")
            .await?
            .ok_or_else(|| format!("statefulset/etcd is not in {namespace}"))?;
        let replicas = etcd.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
        let params = ListParams::default().labels("app=etcd");
        let pods = list(c, dynamic(c, POD, Some(namespace)), "etcd pods", &params).await?.unwrap_or_default();
        if replicas != 0 || !pods.is_empty() {
            return Err(format!(
                "refused: statefulset/etcd has spec.replicas {replicas} and {} pod(s) ({}): a member's data is replaced only while etcd is stopped; was it scaled up, or is the HostedCluster's reconciliation not paused?",
                pods.len(),
                pods.iter().map(name_of).collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(())
    }

    /// Every member healthy, at one revision, with one key-value hash there: the restored
    /// data everywhere (an empty member beside a restored one would be at revision 1).
    async fn members_agree(&self, count: usize, snapshot_revision: Option<i64>) -> Result<Checked, String> {
        let healthy = self.etcd_members(count).await?;
        let Checked::Holds(_) = healthy else { return Ok(healthy) };
        let reached = self.etcd.reach().await?;
        let members = crate::etcd::poller::discover(&reached.seeds, &reached.connector).await?;
        reached.route(&members).await;
        let mut clients = Vec::new();
        let mut revisions = Vec::new();
        for member in &members {
            let mut client = reached.connector.client(member.endpoint()).await?;
            let status = crate::etcd::connect::timed(Duration::from_secs(5), async {
                client.status().await.map_err(crate::etcd::connect::describe)
            })
            .await
            .map_err(|e| format!("{}: {e}", member.name))?;
            revisions.push((member.name.clone(), status.header().map(|h| h.revision()).unwrap_or(0)));
            clients.push((member.name.clone(), client));
        }
        let listed = revisions.iter().map(|(n, r)| format!("{n} at {r}")).collect::<Vec<_>>().join(", ");
        let first = revisions.first().map(|(_, r)| *r).unwrap_or(0);
        if revisions.iter().any(|(_, r)| *r != first) {
            return Ok(Checked::NotYet(format!("revisions differ: {listed}")));
        }
        // The restored data answers at the snapshot's revision (nothing writes while the API servers
        // are down); far past it, the members kept newer data than the backup's.
        if let Some(snapshot) = snapshot_revision {
            if first < snapshot || first > snapshot + MEMBERS_AGREE_SLACK {
                return Ok(Checked::NotYet(format!(
                    "the members are at revision {first}, the snapshot at {snapshot}: this is not the backup's data ({listed})"
                )));
            }
        }
        let mut hashes = Vec::new();
        for (name, mut client) in clients {
            // HashKV reads the whole keyspace: minutes on a large database.
            let hash = crate::etcd::connect::timed(Duration::from_secs(120), async {
                client.hash_kv(first).await.map_err(crate::etcd::connect::describe)
            })
            .await
            .map_err(|e| format!("{name}: hash at {first}: {e}"))?;
            hashes.push((name, hash.hash()));
        }
        let one = hashes.first().map(|(_, h)| *h).unwrap_or(0);
        let said = hashes.iter().map(|(n, h)| format!("{n} {h:08x}")).collect::<Vec<_>>().join(", ");
        Ok(if hashes.iter().all(|(_, h)| *h == one) {
            Checked::Holds(format!("{count} members healthy, all at revision {first}, one hash: {said}"))
        } else {
            Checked::NotYet(format!("hashes at revision {first} differ: {said}"))
        })
    }

    /// The snapshot file the backup directory holds.
    fn snapshot_path(&self, run: &RestoreRun) -> Result<PathBuf, String> {
        let name = run
            .survey
            .as_ref()
            .and_then(|s| s.backup.snapshot.clone())
            .ok_or_else(|| format!("no snapshot was found in {}", self.backup_dir.display()))?;
        Ok(self.backup_dir.join(name))
    }

    /// Waits until the etcd member of `node` stops answering (the host going down).
    async fn member_goes_away(&self, node: &str, limit: Duration) -> Result<String, String> {
        let started = Instant::now();
        let reached = self.etcd.reach().await?;
        let members = crate::etcd::poller::discover(&reached.seeds, &reached.connector).await?;
        reached.route(&members).await;
        let member = members
            .iter()
            .find(|m| m.name == node)
            .ok_or_else(|| format!("no etcd member named {node} to watch going down"))?;
        while started.elapsed() < limit {
            let answer = match reached.connector.client(member.endpoint()).await {
                Ok(mut client) => {
                    crate::etcd::connect::timed(Duration::from_secs(2), async move {
                        client.get("health", None).await.map(|_| ()).map_err(crate::etcd::connect::describe)
                    })
                    .await
                }
                Err(e) => Err(e),
            };
            if answer.is_err() {
                return Ok(format!("{node} went down after {}s", started.elapsed().as_secs()));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(format!(
            "{node}'s etcd member still answered {}s after the reboot command: did it reboot?",
            limit.as_secs()
        ))
    }

    /// A resumed run's question: is this begun step already done? Nothing is changed.
    pub async fn recheck(&self, run: &RestoreRun, step: &Step) -> (bool, String) {
        let probe = match &step.act {
            Act::Host { node, command } => {
                match command.strip_prefix("sudo mv -v ").and_then(|rest| rest.split_whitespace().next()) {
                    Some(source) => {
                        let test = format!("sudo test -e {}", source.trim_end_matches('/'));
                        match self.hosts.run(node, &self.host_ip(run, node), &test, Duration::from_secs(30)).await {
                            Ok(output) if output.exit_code == 1 => Some((true, format!("{source} is no longer there"))),
                            Ok(output) if output.exit_code == 0 => Some((false, format!("{source} is still there"))),
                            Ok(output) => Some((false, format!("cannot tell: {}", output.text()))),
                            Err(e) => Some((false, format!("cannot tell: {e}"))),
                        }
                    }
                    None => None,
                }
            }
            _ => None,
        };
        if let Some(found) = probe {
            return found;
        }
        match step.act {
            // Not safe to do twice: done only if etcd runs the one restored member.
            Act::Host { .. } if !step.redo_safe => {
                return match self.etcd_members(1).await {
                    Ok(Checked::Holds(detail)) => (true, detail),
                    Ok(Checked::NotYet(detail)) | Err(detail) => (false, detail),
                };
            }
            // Their checks would hold before they ran: done again (harmless).
            Act::Reboot { .. } | Act::DeletePods { .. } => return (false, "will be done again".into()),
            // Forced again with a new reason rather than "found done": the revision before the first
            // patch is not known, and without it the rollout's end could not be told.
            Act::ForceRedeployment { .. } => {
                return (false, "forced again with a new reason, so that its rollout can be followed".into())
            }
            _ => {}
        }
        match step.check {
            // Doing these again changes nothing that matters (a copy, a patch to the same value, kubelet restarts).
            Check::Answer | Check::PersonConfirms => (false, "will be done again".into()),
            ref check => match self.check(run, check).await {
                Ok(Checked::Holds(detail)) => (true, detail),
                Ok(Checked::NotYet(detail)) | Err(detail) => (false, detail),
            },
        }
    }
}

enum Checked {
    Holds(String),
    NotYet(String),
}

/// What the front end is told as the run goes.
#[derive(Debug, Clone)]
pub enum Progress {
    Began { index: usize, step: Box<Step> },
    Run(Box<RestoreRun>),
}

/// What only a person can give: the typed name, and a manual step's "done".
pub trait Person {
    fn confirm(
        &mut self,
        confirmation: &super::Confirmation,
    ) -> impl std::future::Future<Output = Option<String>> + Send;
    fn done(&mut self, step: &Step) -> impl std::future::Future<Output = bool> + Send;
}

/// Drives a run to its end: survey, confirmation, each step (journalled before
/// and after by `journal`). Returns when the run has an outcome or `abort` is set.
pub async fn drive<P: Person + Send>(
    run: &mut RestoreRun,
    executor: &RestoreExecutor,
    person: &mut P,
    mut abort: tokio::sync::watch::Receiver<bool>,
    progress: &tokio::sync::mpsc::UnboundedSender<Progress>,
    journal: &mut (dyn FnMut(&RestoreRun) -> Result<(), String> + Send),
) {
    loop {
        if *abort.borrow() {
            run.abort();
        }
        let action = run.next_action(SystemTime::now());
        // Nothing is done that the journal could not record first.
        if let Err(e) = journal(run) {
            if !matches!(action, Action::Finished(_)) {
                run.halt(format!("the journal cannot be written ({e}): nothing more is done"));
                let _ = progress.send(Progress::Run(Box::new(run.clone())));
                return;
            }
        }
        let observed = match action {
            Action::Finished(_) => {
                let _ = progress.send(Progress::Run(Box::new(run.clone())));
                return;
            }
            Action::Survey => Observed::Surveyed(Box::new(executor.survey(run).await)),
            Action::Confirm(confirmation) => {
                let typed = tokio::select! {
                    typed = person.confirm(&confirmation) => typed,
                    _ = abort.changed() => None,
                };
                Observed::Typed(typed.unwrap_or_default())
            }
            Action::Perform { index, step, reason, nodes } => {
                let _ = progress.send(Progress::Began { index, step: Box::new(step.clone()) });
                tracing::info!(target: "audit", step = %step.id, title = %step.title, "restore: step begins");
                // Not raced with the stop: the act finishes; a stop ends the polling of its check.
                let result = executor.perform(run, &step, reason.as_deref(), &nodes, &abort).await;
                tracing::info!(target: "audit", step = %step.id, result = ?result, "restore: step ended");
                Observed::Performed { index, result }
            }
            Action::Recheck { index, step } => {
                let (done, detail) = executor.recheck(run, &step).await;
                tracing::info!(target: "audit", step = %step.id, done, detail = %detail, "restore: step re-checked");
                Observed::Rechecked { index, done, detail }
            }
            Action::AskPerson { index, step } => {
                let _ = progress.send(Progress::Began { index, step: Box::new(step.clone()) });
                let done = tokio::select! {
                    done = person.done(&step) => done,
                    _ = abort.changed() => false,
                };
                if done && step.check != Check::Answer && step.check != Check::PersonConfirms {
                    // What the console can see of a step the person did.
                    let seen = Step { act: Act::Nothing, ..step.clone() };
                    let result = executor.perform(run, &seen, None, &[], &abort).await;
                    Observed::Performed { index, result }
                } else {
                    Observed::PersonAnswered { index, done }
                }
            }
        };
        run.observe(observed);
        if let Err(e) = journal(run) {
            run.halt(format!("the journal cannot be written ({e}): nothing more is done"));
        }
        let _ = progress.send(Progress::Run(Box::new(run.clone())));
    }
}
