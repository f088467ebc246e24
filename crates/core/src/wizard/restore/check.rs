//! The checks polled after the acts (etcd's members healthy and agreeing, nodes
//! Ready, pods Running, a Machine replaced, rollouts settled, the quorum guard,
//! webhooks, a HostedCluster paused, workloads scaled, host commands' output),
//! and the probe a resumed run makes of a move. Nothing here changes anything.
//! Each check reads, then a pure function below gives its verdict.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams};
use serde_json::Value;

use super::executor::{
    control_plane_namespace, dynamic, hosted_cluster, json, list, meta_name, name_of, operator_type, text, typed,
    workload_type, Checked, RestoreExecutor, CLUSTER_VERSION, HOSTED_CLUSTER, HOSTED_CONTROL_PLANE, MACHINE,
    MACHINE_NAMESPACE,
};
use super::survey::{fail_webhooks, node_ready};
use super::{Act, Check, Operator, RestoreRun, StepRecord};
use crate::hosts::HostOutput;
use crate::openshift::{get_object as get, model};

/// Step 10w's verdict: every worker given is Ready, or a node-bootstrapper CSR of it is pending (its
/// kubelet, restarted without its PEM files, asks for a client certificate; step 11 approves it).
pub(super) fn workers_bootstrapping(
    workers: &[String],
    not_ready: &[String],
    pending: &[crate::openshift::csr::PendingCsr],
) -> Checked {
    use crate::openshift::csr::CsrClass;
    let (mut back, mut waiting) = (Vec::new(), Vec::new());
    for worker in workers {
        let cn = format!("system:node:{worker}");
        let asking = pending.iter().find(|p| {
            p.class == CsrClass::NodeBootstrapper
                && p.request.as_ref().and_then(|r| r.common_name.as_deref()) == Some(cn.as_str())
        });
        match asking {
            _ if !not_ready.contains(worker) => back.push(format!("{worker} Ready")),
            Some(csr) => back.push(format!("{worker} asks for a client certificate ({} pending)", csr.name)),
            None => waiting.push(worker.clone()),
        }
    }
    if waiting.is_empty() {
        Checked::Holds(back.join("; "))
    } else {
        Checked::NotYet(format!(
            "no node-bootstrapper CSR yet from {}, and NotReady{}",
            waiting.join(", "),
            if back.is_empty() { String::new() } else { format!(" ({})", back.join("; ")) }
        ))
    }
}

/// How far past the snapshot's revision restored members may be (lease expiries and the like).
const MEMBERS_AGREE_SLACK: i64 = 1000;

impl RestoreExecutor {
    pub(super) async fn check(&self, run: &RestoreRun, check: &Check) -> Result<Checked, String> {
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
                host_prints(node, command, &output, matches!(check, Check::HostPrintsNothing { .. }))
            }
            Check::EtcdMembers { count } => self.etcd_members(*count).await,
            Check::NodesReady => Ok(nodes_ready(&self.not_ready_nodes(run.lost()).await?)),
            Check::NoValidPendingCsrs => self.approve_csrs(run).await.map(|(checked, _)| checked),
            Check::WorkersBootstrapping => {
                let c = self.api()?;
                let pending = crate::openshift::csr::pending(c, &run.rebootstrapped()).await?;
                let not_ready = self.not_ready_nodes(run.lost()).await?;
                Ok(workers_bootstrapping(&run.touched_workers(), &not_ready, &pending))
            }
            Check::PodsRunning { namespace, selector, node, count } => {
                let c = self.api()?;
                let mut params = ListParams::default().labels(selector);
                if let Some(node) = node {
                    params = params.fields(&format!("spec.nodeName={node}"));
                }
                let api = Api::<Pod>::namespaced(c.client.clone(), namespace);
                let pods = list(c, api, "pods", &params).await?.unwrap_or_default();
                Ok(pods_running(&pods, run.lost(), node.is_some(), *count))
            }
            Check::MachineReplaced { name } => {
                let c = self.api()?;
                let api = dynamic(c, MACHINE, Some(MACHINE_NAMESPACE));
                let machines = json(list(c, api, "machines", &ListParams::default()).await?).unwrap_or_default();
                let known: BTreeSet<String> = run
                    .survey
                    .as_ref()
                    .map(|s| s.control_plane.iter().filter_map(|h| h.machine.clone()).collect())
                    .unwrap_or_default();
                Ok(machine_replaced(&machines, &known, name))
            }
            Check::QuorumGuardOff { off } => {
                let c = self.api()?;
                let etcd = get(c, dynamic(c, operator_type(Operator::Etcd), None), "etcd/cluster", "cluster").await?;
                Ok(quorum_guard(etcd.as_ref(), *off))
            }
            Check::AllNodesAtLatestRevision { operator } => {
                let c = self.api()?;
                let object = get(c, dynamic(c, operator_type(*operator), None), operator.short(), "cluster")
                    .await?
                    .ok_or_else(|| format!("{}/cluster not found", operator.short()))?;
                Ok(rollout_settled(*operator, &object, last_forced(run, *operator)))
            }
            Check::NoFailWebhooks => {
                let c = self.api()?;
                let left = fail_webhooks(c).await?;
                Ok(if left.is_empty() {
                    Checked::Holds("no webhook fails closed".into())
                } else {
                    Checked::NotYet(format!("still Fail: {}", left.join(", ")))
                })
            }
            Check::FailurePolicy { webhooks, policy } => {
                let c = self.api()?;
                let mut now = Vec::new();
                for entry in webhooks {
                    let Some((t, name, index)) = super::act::webhook_entry(entry) else { continue };
                    let config = get(c, dynamic(c, t, None), entry, name).await?;
                    now.push((entry.clone(), config.map(|c| webhook_policy(&c, index))));
                }
                // Named, not waited for: a webhook the run did not survey is not the step's.
                let others = if policy == "Ignore" {
                    fail_webhooks(c).await?.into_iter().filter(|w| !webhooks.contains(w)).collect()
                } else {
                    Vec::new()
                };
                Ok(failure_policies(policy, &now, &others))
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
                Ok(paused_verdict(&hc, plane.as_ref(), *paused))
            }
            Check::Replicas { kind, name, replicas } => {
                let c = self.api()?;
                let namespace = control_plane_namespace(run)?;
                let read = get(c, dynamic(c, workload_type(kind), Some(&namespace)), kind, name).await?;
                let read = if workload_type(kind).2 == "StatefulSet" {
                    typed::<StatefulSet>(kind, read)?.map(|s| Workload::of_statefulset(&s))
                } else {
                    typed::<Deployment>(kind, read)?.map(|d| Workload::of_deployment(&d))
                };
                let workload = read.ok_or_else(|| format!("{kind} {namespace}/{name} is not there"))?;
                // Scaled to 0 means no pod left, whatever the status says yet.
                let pods = if *replicas == 0 && !workload.selector.is_empty() {
                    let params = ListParams::default().labels(&workload.selector);
                    let api = Api::<Pod>::namespaced(c.client.clone(), &namespace);
                    list(c, api, "pods", &params).await?.unwrap_or_default().len() as i64
                } else {
                    workload.now
                };
                Ok(replicas_verdict(name, &workload, pods, *replicas))
            }
            Check::NoPods { namespace, selector } => {
                let c = self.api()?;
                let params = ListParams::default().labels(selector);
                let api = Api::<Pod>::namespaced(c.client.clone(), namespace);
                let pods = list(c, api, "pods", &params).await?.unwrap_or_default();
                let names: Vec<String> = pods.iter().map(|p| meta_name(&p.metadata)).collect();
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

    /// Nodes not Ready, but for the hosts declared lost (their Machines are made again later).
    pub(super) async fn not_ready_nodes(&self, lost: &[String]) -> Result<Vec<String>, String> {
        let c = self.api()?;
        let nodes = list(c, Api::<Node>::all(c.client.clone()), "nodes", &ListParams::default()).await?;
        Ok(not_ready(&nodes.unwrap_or_default(), lost))
    }

    /// The operator's `status.latestAvailableRevision` (what its forced rollout must go past).
    pub(super) async fn latest_revision(&self, operator: Operator) -> Option<i64> {
        let c = self.api().ok()?;
        let object = get(c, dynamic(c, operator_type(operator), None), operator.short(), "cluster").await.ok()??;
        latest_available_revision(&object)
    }

    pub(super) async fn etcd_members(&self, count: usize) -> Result<Checked, String> {
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
        Ok(members_healthy(count, members.len(), started.len(), &healthy, &problems))
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
        let first = match one_revision(&revisions, snapshot_revision) {
            Ok(first) => first,
            Err(not_yet) => return Ok(not_yet),
        };
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
        Ok(one_hash(count, first, &hashes))
    }

    /// A resumed run's probe of a `sudo mv -v SOURCE ...` host step: done once its source is gone.
    /// None for any other command.
    pub(super) async fn moved_away(&self, run: &RestoreRun, node: &str, command: &str) -> Option<(bool, String)> {
        let source = moved_source(command)?;
        let test = format!("sudo test -e {}", source.trim_end_matches('/'));
        let answer = self.hosts.run(node, &self.host_ip(run, node), &test, Duration::from_secs(30)).await;
        Some(moved(source, answer))
    }
}

/// A host command's output against what the check wants (nothing, or something); 255 is no answer.
pub(super) fn host_prints(
    node: &str,
    command: &str,
    output: &HostOutput,
    wanted_empty: bool,
) -> Result<Checked, String> {
    if output.exit_code == 255 {
        return Err(format!("{node} did not answer: {}", output.text()));
    }
    let printed = output.stdout.trim();
    let shown = if printed.is_empty() { "(nothing)".to_string() } else { printed.to_string() };
    if printed.is_empty() == wanted_empty {
        Ok(Checked::Holds(format!("{command}: {shown}")))
    } else {
        Ok(Checked::NotYet(format!("{command} still prints: {shown}")))
    }
}

/// The nodes not Ready, but for the hosts declared lost.
pub(super) fn not_ready(nodes: &[Node], lost: &[String]) -> Vec<String> {
    nodes.iter().filter(|n| !node_ready(n)).map(|n| meta_name(&n.metadata)).filter(|n| !lost.contains(n)).collect()
}

pub(super) fn nodes_ready(not_ready: &[String]) -> Checked {
    if not_ready.is_empty() {
        Checked::Holds("every node Ready".into())
    } else {
        Checked::NotYet(format!("NotReady: {}", not_ready.join(", ")))
    }
}

/// The pod's Ready condition is True.
pub(super) fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The pod's `status.phase` is Running.
pub(super) fn pod_running(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

/// Whether the listed pods are Running and Ready: `count` of them exactly, or (None) every one and at
/// least one. Pods being deleted are not counted. Unless the pods were listed on one node
/// (`on_one_node`), a pod on a lost host that is not Ready is not counted either: its node posts no
/// status until its Machine, and with it the node, is replaced. A Ready one there is the new host's
/// (a replacement may keep the node's name).
pub(super) fn pods_running(pods: &[Pod], lost: &[String], on_one_node: bool, count: Option<usize>) -> Checked {
    let on_lost =
        |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some_and(|n| lost.contains(n)) && !pod_ready(p);
    let live: Vec<&Pod> =
        pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none() && (on_one_node || !on_lost(p))).collect();
    let running: Vec<String> =
        live.iter().filter(|p| pod_running(p) && pod_ready(p)).map(|p| meta_name(&p.metadata)).collect();
    let enough = match count {
        Some(n) => running.len() == n && live.len() == n,
        None => !running.is_empty() && running.len() == live.len(),
    };
    let said = format!("{} of {} Running: {}", running.len(), live.len(), running.join(", "));
    if enough {
        Checked::Holds(said)
    } else {
        Checked::NotYet(said)
    }
}

/// A Machine's `status.phase`.
pub(super) fn machine_phase(machine: &Value) -> Option<String> {
    text(machine, "/status/phase")
}

/// A Machine's `machine.openshift.io/cluster-api-machine-role` label.
pub(super) fn machine_role(machine: &Value) -> Option<&str> {
    machine.pointer("/metadata/labels/machine.openshift.io~1cluster-api-machine-role").and_then(Value::as_str)
}

/// Holds once a master Machine that was not surveyed (nor `name`) is Running.
pub(super) fn machine_replaced(machines: &[Value], known: &BTreeSet<String>, name: &str) -> Checked {
    let new: Vec<&Value> = machines
        .iter()
        .filter(|m| !known.contains(&name_of(m)) && name_of(m) != *name)
        .filter(|m| machine_role(m) == Some("master"))
        .collect();
    match new.iter().find(|m| machine_phase(m).as_deref() == Some("Running")) {
        Some(m) => Checked::Holds(format!("{} Running", name_of(m))),
        None => Checked::NotYet(match new.first() {
            Some(m) => format!("{} {}", name_of(m), machine_phase(m).unwrap_or_else(|| "(no phase)".into())),
            None => format!("no machine made yet to replace {name}"),
        }),
    }
}

/// etcd/cluster's `spec.unsupportedConfigOverrides`, when set to anything but null.
pub(super) fn config_overrides(etcd: &Value) -> Option<&Value> {
    etcd.pointer("/spec/unsupportedConfigOverrides").filter(|v| !v.is_null())
}

/// Holds when the quorum guard is as wanted: off, or on with no override left at all.
pub(super) fn quorum_guard(etcd: Option<&Value>, off: bool) -> Checked {
    let now = etcd.is_some_and(model::quorum_guard_off);
    let overrides = etcd.and_then(config_overrides);
    let said = if now {
        "unsupportedConfigOverrides set: quorum guard off"
    } else {
        "no unsupportedConfigOverrides: quorum guard on"
    };
    if now == off && (off || overrides.is_none()) {
        Checked::Holds(said.into())
    } else {
        Checked::NotYet(said.into())
    }
}

/// An operator's `status.latestAvailableRevision`.
pub(super) fn latest_available_revision(operator: &Value) -> Option<i64> {
    operator.pointer("/status/latestAvailableRevision").and_then(Value::as_i64)
}

/// The `NodeInstallerProgressing` condition's reason and message ("" each when absent).
pub(super) fn node_installer(operator: &Value) -> (String, String) {
    operator
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == "NodeInstallerProgressing"))
        .map(|c| (text(c, "/reason").unwrap_or_default(), text(c, "/message").unwrap_or_default()))
        .unwrap_or_default()
}

/// The operator's `spec.forceRedeploymentReason`.
pub(super) fn force_redeployment_reason(operator: &Value) -> Option<String> {
    text(operator, "/spec/forceRedeploymentReason")
}

/// The record of the run's last forced redeployment of `operator`.
pub(super) fn last_forced(run: &RestoreRun, operator: Operator) -> Option<&StepRecord> {
    run.records.iter().zip(&run.steps).rev().find(|(_, s)| s.act == Act::ForceRedeployment { operator }).map(|(r, _)| r)
}

/// Holds once the operator's rollout is over: `AllNodesAtLatestRevision`, not progressing, every
/// node at the latest revision; and, after a forced redeployment, the patch was seen (a revision
/// newer than the one before it, the reason it was forced with in its spec).
pub(super) fn rollout_settled(operator: Operator, object: &Value, forced: Option<&StepRecord>) -> Checked {
    let rollout = model::rollout(operator.short(), object);
    let reason = node_installer(object);
    let before = forced.and_then(|r| r.revision_before);
    let newer = before.is_none_or(|before| rollout.latest_revision > before);
    let forced = forced.and_then(|r| r.reason.clone());
    let observed = force_redeployment_reason(object);
    let said = format!("{}: {}", reason.0, reason.1);
    let settled = newer
        && reason.0 == "AllNodesAtLatestRevision"
        && !rollout.progressing
        && rollout.nodes.iter().all(|n| n.current_revision == rollout.latest_revision);
    if settled && (forced.is_none() || forced == observed) {
        Checked::Holds(said)
    } else {
        Checked::NotYet(said)
    }
}

/// Holds when the HostedCluster's `spec.pausedUntil` is set (or not) as wanted, and so is the
/// HostedControlPlane's when there is one (the HyperShift operator passes the pause on).
pub(super) fn paused_verdict(hc: &Value, plane: Option<&Value>, paused: bool) -> Checked {
    let until = text(hc, "/spec/pausedUntil");
    let plane_until = plane.map(|p| text(p, "/spec/pausedUntil"));
    let said = match &plane_until {
        Some(p) => format!(
            "HostedCluster spec.pausedUntil {:?}, HostedControlPlane {:?}",
            until.clone().unwrap_or_default(),
            p.clone().unwrap_or_default()
        ),
        None => format!("spec.pausedUntil {:?}", until.clone().unwrap_or_default()),
    };
    let plane_agrees = plane_until.is_none_or(|p| p.is_some() == paused);
    if until.is_some() == paused && plane_agrees {
        Checked::Holds(said)
    } else {
        Checked::NotYet(said)
    }
}

/// A StatefulSet's or Deployment's replicas (0 when unset) and its pods' selector (`k=v,...`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Workload {
    pub wanted: i64,
    pub now: i64,
    pub ready: i64,
    pub selector: String,
}

fn selector_of(selector: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>) -> String {
    selector
        .and_then(|s| s.match_labels.as_ref())
        .map(|labels| labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

impl Workload {
    pub(super) fn of_statefulset(set: &StatefulSet) -> Self {
        let status = set.status.as_ref();
        Workload {
            wanted: set.spec.as_ref().and_then(|s| s.replicas).map(i64::from).unwrap_or(0),
            now: status.map(|s| i64::from(s.replicas)).unwrap_or(0),
            ready: status.and_then(|s| s.ready_replicas).map(i64::from).unwrap_or(0),
            selector: selector_of(set.spec.as_ref().map(|s| &s.selector)),
        }
    }

    pub(super) fn of_deployment(deployment: &Deployment) -> Self {
        let status = deployment.status.as_ref();
        Workload {
            wanted: deployment.spec.as_ref().and_then(|s| s.replicas).map(i64::from).unwrap_or(0),
            now: status.and_then(|s| s.replicas).map(i64::from).unwrap_or(0),
            ready: status.and_then(|s| s.ready_replicas).map(i64::from).unwrap_or(0),
            selector: selector_of(deployment.spec.as_ref().map(|s| &s.selector)),
        }
    }
}

/// Holds once spec, status and pods all say `target` (and as many are ready, unless scaled to 0).
pub(super) fn replicas_verdict(name: &str, workload: &Workload, pods: i64, target: i32) -> Checked {
    let Workload { wanted, now, ready, .. } = *workload;
    let said = format!("{name}: spec {wanted}, status {now}, ready {ready}, pods {pods}");
    let target = i64::from(target);
    if wanted == target && now == target && pods == target && (target == 0 || ready == target) {
        Checked::Holds(said)
    } else {
        Checked::NotYet(said)
    }
}

/// Holds when etcd has `count` members and as many answered healthy.
pub(super) fn members_healthy(
    count: usize,
    members: usize,
    started: usize,
    healthy: &[String],
    problems: &[String],
) -> Checked {
    let said = format!(
        "{members} member(s), {started} started, healthy: {}{}",
        healthy.join(", "),
        if problems.is_empty() { String::new() } else { format!("; {}", problems.join("; ")) }
    );
    if members == count && healthy.len() == count {
        Checked::Holds(said)
    } else {
        Checked::NotYet(said)
    }
}

/// The one revision every member is at, when it is the snapshot's (up to
/// [`MEMBERS_AGREE_SLACK`] past it); else what is not yet so.
pub(super) fn one_revision(revisions: &[(String, i64)], snapshot: Option<i64>) -> Result<i64, Checked> {
    let listed = revisions.iter().map(|(n, r)| format!("{n} at {r}")).collect::<Vec<_>>().join(", ");
    let first = revisions.first().map(|(_, r)| *r).unwrap_or(0);
    if revisions.iter().any(|(_, r)| *r != first) {
        return Err(Checked::NotYet(format!("revisions differ: {listed}")));
    }
    // The restored data answers at the snapshot's revision (nothing writes while the API servers
    // are down); far past it, the members kept newer data than the backup's.
    if let Some(snapshot) = snapshot {
        if first < snapshot || first > snapshot + MEMBERS_AGREE_SLACK {
            return Err(Checked::NotYet(format!(
                "the members are at revision {first}, the snapshot at {snapshot}: this is not the backup's data ({listed})"
            )));
        }
    }
    Ok(first)
}

/// Holds when every member's key-value hash at `revision` is the same.
pub(super) fn one_hash(count: usize, revision: i64, hashes: &[(String, u32)]) -> Checked {
    let one = hashes.first().map(|(_, h)| *h).unwrap_or(0);
    let said = hashes.iter().map(|(n, h)| format!("{n} {h:08x}")).collect::<Vec<_>>().join(", ");
    if hashes.iter().all(|(_, h)| *h == one) {
        Checked::Holds(format!("{count} members healthy, all at revision {revision}, one hash: {said}"))
    } else {
        Checked::NotYet(format!("hashes at revision {revision} differ: {said}"))
    }
}

/// The source of a `sudo mv -v SOURCE ...` host command.
pub(super) fn moved_source(command: &str) -> Option<&str> {
    command.strip_prefix("sudo mv -v ").and_then(|rest| rest.split_whitespace().next())
}

/// What `sudo test -e SOURCE` answered: done (1: gone), not done (0: still there), or cannot tell.
pub(super) fn moved(source: &str, answer: Result<HostOutput, String>) -> (bool, String) {
    match answer {
        Ok(output) if output.exit_code == 1 => (true, format!("{source} is no longer there")),
        Ok(output) if output.exit_code == 0 => (false, format!("{source} is still there")),
        Ok(output) => (false, format!("cannot tell: {}", output.text())),
        Err(e) => (false, format!("cannot tell: {e}")),
    }
}

/// The failurePolicy of a configuration's webhook `index` ("Fail" when unset, as admissionregistration/v1
/// has it); None when there is no such webhook.
pub(super) fn webhook_policy(config: &Value, index: usize) -> Option<String> {
    let hook = config.pointer(&format!("/webhooks/{index}"))?;
    Some(hook.get("failurePolicy").and_then(Value::as_str).unwrap_or("Fail").to_string())
}

/// Holds when every webhook the step patched has `wanted` (or is gone). `now` is each one's policy
/// (None: its configuration is gone, Some(None): the configuration no longer has that webhook);
/// `others` are webhooks that fail closed which the run never surveyed: named, left as they are.
pub(super) fn failure_policies(wanted: &str, now: &[(String, Option<Option<String>>)], others: &[String]) -> Checked {
    let mut said = Vec::new();
    let mut holds = true;
    for (entry, policy) in now {
        match policy {
            Some(Some(policy)) => {
                holds &= policy == wanted;
                said.push(format!("{entry} {policy}"));
            }
            _ => said.push(format!("{entry} gone")),
        }
    }
    let mut text = said.join(", ");
    if !others.is_empty() {
        text.push_str(&format!(
            "; not surveyed by this run, left as they are (failurePolicy Fail): {}",
            others.join(", ")
        ));
    }
    if holds {
        Checked::Holds(text)
    } else {
        Checked::NotYet(text)
    }
}
