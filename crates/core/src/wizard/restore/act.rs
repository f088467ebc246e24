//! The steps' acts: what changes the cluster or its hosts (patches, CSR
//! approvals, pod, Machine and Deployment deletions, scaling, host and pod
//! commands, copies), each logged to the audit target. What a patch says and
//! what an answer means are the pure functions after them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::{json, Value};

use super::executor::{
    control_plane_namespace, dynamic, hosted_cluster, list, meta_name, operator_type, typed, workload_type, ApiType,
    Checked, RestoreExecutor, HOSTED_CLUSTER, MACHINE, MACHINE_NAMESPACE, NODE, POD, WEBHOOKS,
};
use super::pods;
use super::survey::{internal_ip, IGNORED_BY_US};
use super::{Act, Operator, RestoreRun, Step};
use crate::hosts::HostOutput;
use crate::openshift::{get_object as get, within, Connection, FIELD_MANAGER};
use crate::units::safe_text;

async fn merge_patch(
    connection: &Connection,
    api: Api<DynamicObject>,
    what: &str,
    name: &str,
    body: &Value,
) -> Result<(), String> {
    Ok(crate::openshift::merge_patch(connection, api, what, name, body).await?)
}

async fn delete(connection: &Connection, api: Api<DynamicObject>, what: &str, name: &str) -> Result<(), String> {
    Ok(crate::openshift::delete_object(connection, api, what, name).await?)
}

impl RestoreExecutor {
    pub(super) async fn act(
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
                    Err(exited(command, node, &output))
                }
            }
            Act::Reboot { node, command } => {
                let answer = self.hosts.run(node, &self.host_ip(run, node), command, Duration::from_secs(60)).await;
                reboot_sent(node, command, answer)?;
                tracing::info!(target: "audit", node = %node, "restore: host rebooted");
                self.member_goes_away(node, Duration::from_secs(180)).await
            }
            Act::CopyBackup { node, to } => {
                let ip = self.host_ip(run, node);
                // cluster-restore.sh takes the newest snapshot it finds there: only ours may be there.
                let listed = self.hosts.run(node, &ip, &format!("ls {to}"), Duration::from_secs(30)).await?;
                // Only the chosen backup's files: the directory may hold several.
                let ours = run.survey.as_ref().map(|s| s.backup.files.clone()).unwrap_or_default();
                if ours.is_empty() {
                    return Err(format!("no backup of {} was chosen: nothing to copy", self.backup_dir.display()));
                }
                let foreign = foreign_backups(&listed.stdout, &ours);
                if listed.exit_code == 0 && !foreign.is_empty() {
                    return Err(format!(
                        "{node}:{to} already holds another backup ({}): cluster-restore.sh would take the newest; move it away or give --remote-backup-dir",
                        foreign.join(", ")
                    ));
                }
                let (dir, files) = (self.backup_dir.clone(), ours.clone());
                let staged = tokio::task::spawn_blocking(move || crate::backup::directory::stage(&dir, &files))
                    .await
                    .map_err(|e| format!("staging the backup's files: {e}"))??;
                let copied = self.hosts.copy(node, &ip, &staged.path, to, limit).await?;
                tracing::info!(target: "audit", node = %node, to = %to, files = ?ours, "restore: backup copied");
                Ok(format!("{copied}: {}", ours.join(", ")))
            }
            Act::HostOnNotReady { command } | Act::HostOnTouchedWorkers { command } => {
                let mut said = Vec::new();
                for node in nodes {
                    let ip = self.node_ip(run, node).await;
                    let output = self.hosts.run(node, &ip, command, limit).await?;
                    if output.exit_code != 0 {
                        return Err(exited(command, node, &output));
                    }
                    tracing::info!(target: "audit", node = %node, command = %command, step = %step.id, "restore: host command run");
                    said.push(format!("{node}: done"));
                }
                Ok(said.join(", "))
            }
            Act::QuorumGuard { off } => {
                let c = self.api()?;
                let body = quorum_guard_patch(*off);
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
                let listed = Api::<Pod>::namespaced(c.client.clone(), namespace);
                let pods = list(c, listed, "pods", &params).await?.unwrap_or_default();
                let api = dynamic(c, POD, Some(namespace));
                let mut deleted = Vec::new();
                for pod in &pods {
                    let name = meta_name(&pod.metadata);
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
                    let Some((t, name, index)) = webhook_entry(entry) else { continue };
                    // As read, not typed: the patch gives the list back whole, with fields
                    // k8s-openapi may not know.
                    let api = dynamic(c, t, None);
                    let Some(config) = get(c, api.clone(), entry, name).await? else { continue };
                    merge_patch(c, api, entry, name, &marked_failure_policy_patch(&config, index, policy)).await?;
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
            Act::SetAside { deployment, from, to } => {
                let c = self.api()?;
                let namespace = control_plane_namespace(run)?;
                // Only while no member runs (the data must not change under the move).
                self.etcd_stopped(c, &namespace).await?;
                let pod = pods::running_pod(c, &namespace, deployment).await?;
                let test = |flag: &str, path: &str| vec!["test".to_string(), flag.into(), path.into()];
                let there = |argv: Vec<String>| {
                    let pod = pod.clone();
                    let namespace = namespace.clone();
                    async move { pods::exec(c, &namespace, &pod, &argv, None, limit).await.map(|o| o.exit_code == 0) }
                };
                if there(test("-e", to)).await? {
                    return Ok(format!("{to} is there already in {pod}: the data was set aside before"));
                }
                if !there(test("-e", from)).await? {
                    return Ok(format!("{from} is not in {pod}: the claim holds no data to set aside"));
                }
                let argv = vec!["mv".to_string(), from.clone(), to.clone()];
                let moved = pods::exec(c, &namespace, &pod, &argv, None, limit).await?;
                tracing::info!(target: "audit", pod = %pod, from = %from, to = %to, exit = moved.exit_code, "restore: member data set aside");
                if moved.exit_code != 0 {
                    return Err(format!("`mv {from} {to}` in {pod} exited {}: {}", moved.exit_code, moved.text()));
                }
                if !there(test("-d", to)).await? || there(test("-e", from)).await? {
                    return Err(format!(
                        "after `mv {from} {to}` in {pod}, {to} is not a directory or {from} is still there"
                    ));
                }
                Ok(format!("{from} set aside as {to} in {pod} (kept on the claim)"))
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

    /// The IP of a node a host command goes to: the surveyed one, else its Node's InternalIP.
    async fn node_ip(&self, run: &RestoreRun, node: &str) -> String {
        let known = self.host_ip(run, node);
        if !known.is_empty() {
            return known;
        }
        match self.api() {
            Ok(c) => {
                let read = get(c, dynamic(c, NODE, None), "node", node).await.ok().flatten();
                typed::<Node>("node", read).ok().flatten().map(|n| internal_ip(&n)).unwrap_or_default()
            }
            Err(_) => String::new(),
        }
    }

    /// Approves the valid pending CSRs; holds once every node is Ready and no valid one is left.
    pub(super) async fn approve_csrs(&self, run: &RestoreRun) -> Result<(Checked, usize), String> {
        use crate::openshift::csr;
        let c = self.api()?;
        let pending = csr::pending(c, &run.rebootstrapped()).await?;
        let plan = csr::plan(&pending, &csr::Selection::AllValid, run.options.read_only)?;
        let mut approved = Vec::new();
        for one in &plan.approve {
            csr::approve(c, &one.name).await?;
            tracing::info!(target: "audit", csr = %safe_text(&one.name), requestor = %safe_text(&one.requestor), "restore: CSR approved");
            approved.push(one.name.clone());
        }
        let not_ready = self.not_ready_nodes(run.lost()).await?;
        Ok((csrs_approved(&approved, &not_ready, &plan.refused), approved.len()))
    }

    /// Err unless the etcd StatefulSet is at 0 and none of its pods is left.
    async fn etcd_stopped(&self, c: &Connection, namespace: &str) -> Result<(), String> {
        let read =
            get(c, dynamic(c, workload_type("StatefulSet"), Some(namespace)), "statefulset/etcd", "etcd").await?;
        let etcd = typed::<StatefulSet>("statefulset/etcd", read)?
            .ok_or_else(|| format!("statefulset/etcd is not in {namespace}"))?;
        let params = ListParams::default().labels("app=etcd");
        let api = Api::<Pod>::namespaced(c.client.clone(), namespace);
        let pods = list(c, api, "etcd pods", &params).await?.unwrap_or_default();
        etcd_stopped(&etcd, &pods)
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
}

/// Why a host command failed: its command, host, exit code and output.
pub(super) fn exited(command: &str, node: &str, output: &HostOutput) -> String {
    format!("`{command}` on {node} exited {}: {}", output.exit_code, output.text())
}

/// Whether a reboot command went: the connection dropping under it (255, or no
/// answer) is what a reboot looks like over ssh; any other exit is a failure.
pub(super) fn reboot_sent(node: &str, command: &str, answer: Result<HostOutput, String>) -> Result<(), String> {
    match answer {
        Ok(output) if output.exit_code == 0 || output.exit_code == 255 => Ok(()),
        Ok(output) => Err(exited(command, node, &output)),
        Err(e) if e.contains("no answer") => Ok(()),
        Err(e) => Err(e),
    }
}

/// The snapshots and static resources in a host's directory listing that are not this backup's.
pub(super) fn foreign_backups<'a>(listing: &'a str, ours: &[String]) -> Vec<&'a str> {
    listing
        .split_whitespace()
        .filter(|f| {
            (f.starts_with("snapshot_") || f.starts_with("static_kuberesources_")) && !ours.iter().any(|o| o == f)
        })
        .collect()
}

/// etcd/cluster's merge patch: the quorum guard off (the unsupported override), or
/// back on (every override removed, as the runbook's [`super::QUORUM_GUARD_ON`]).
pub(super) fn quorum_guard_patch(off: bool) -> Value {
    if off {
        json!({"spec": {"unsupportedConfigOverrides": {"useUnsupportedUnsafeNonHANonProductionUnstableEtcd": true}}})
    } else {
        json!({"spec": {"unsupportedConfigOverrides": null}})
    }
}

/// The API type, name and index of a survey's `<kind>/<name>[<index>]` webhook entry.
pub(super) fn webhook_entry(entry: &str) -> Option<(ApiType, &str, usize)> {
    let (kind, rest) = entry.split_once('/')?;
    let (name, index) = rest.trim_end_matches(']').split_once('[')?;
    let t = WEBHOOKS.iter().find(|t| t.2.to_lowercase() == kind)?;
    let index = index.parse::<usize>().ok()?;
    Some((*t, name, index))
}

/// A merge patch replaces the list whole: the webhooks as read, with the one
/// policy changed, at the resourceVersion read (a change meanwhile is refused).
pub(super) fn failure_policy_patch(config: &Value, index: usize, policy: &str) -> Value {
    let mut hooks = config.get("webhooks").cloned().unwrap_or_else(|| json!([]));
    // An entry that is not an object (never from a real API server) is left as it is, not a panic.
    if let Some(hook) = hooks.get_mut(index).and_then(Value::as_object_mut) {
        hook.insert("failurePolicy".into(), json!(policy));
    }
    json!({"metadata": {"resourceVersion": config.pointer("/metadata/resourceVersion")}, "webhooks": hooks})
}

/// [`failure_policy_patch`], and the run's mark kept with it: a webhook set to Ignore is named in the
/// configuration's [`IGNORED_BY_US`] annotation, and taken off it when set back to Fail (the
/// annotation goes with its last name), so that a run that dies in between is found out.
pub(super) fn marked_failure_policy_patch(config: &Value, index: usize, policy: &str) -> Value {
    let mut patch = failure_policy_patch(config, index, policy);
    let Some(hook) = config.pointer(&format!("/webhooks/{index}/name")).and_then(Value::as_str) else {
        return patch;
    };
    let mut names: Vec<String> = config
        .pointer(&format!("/metadata/annotations/{}", IGNORED_BY_US.replace('/', "~1")))
        .and_then(Value::as_str)
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default();
    names.retain(|n| n != hook);
    if policy == "Ignore" {
        names.push(hook.to_string());
    }
    let value = if names.is_empty() { Value::Null } else { json!(serde_json::to_string(&names).unwrap_or_default()) };
    patch["metadata"]["annotations"] = json!({ IGNORED_BY_US: value });
    patch
}

/// The CSR step's verdict: holds once nothing was approved this time and every node is Ready.
pub(super) fn csrs_approved(approved: &[String], not_ready: &[String], refused: &[(String, String)]) -> Checked {
    let unexpected: Vec<String> = refused.iter().map(|(name, why)| format!("{name} ({why})")).collect();
    let said = format!(
        "approved {}; NotReady: {}; left for you to review: {}",
        if approved.is_empty() { "none now".into() } else { approved.join(", ") },
        if not_ready.is_empty() { "none".into() } else { not_ready.join(", ") },
        if unexpected.is_empty() { "none".into() } else { unexpected.join(", ") }
    );
    if approved.is_empty() && not_ready.is_empty() {
        Checked::Holds(said)
    } else {
        Checked::NotYet(said)
    }
}

/// Ok only while the etcd StatefulSet is at 0 replicas (1 when unset) and none of its pods is left.
pub(super) fn etcd_stopped(etcd: &StatefulSet, pods: &[Pod]) -> Result<(), String> {
    let replicas = etcd.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    if replicas != 0 || !pods.is_empty() {
        return Err(format!(
            "refused: statefulset/etcd has spec.replicas {replicas} and {} pod(s) ({}): a member's data is replaced only while etcd is stopped; was it scaled up, or is the HostedCluster's reconciliation not paused?",
            pods.len(),
            pods.iter().map(|p| meta_name(&p.metadata)).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(())
}
