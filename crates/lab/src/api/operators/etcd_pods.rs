//! etcd pods follow the member processes: readiness as the member is up,
//! frozen or gone, the mirror pod as its static pod's manifest is there or not,
//! and a deleted mirror pod comes back as the kubelet recreates it.
//!
//! The `etcd` container's status is what the host's kubelet knows
//! ([`EtcdContainer`]): running (ready once it has run [`READY_AFTER_RESTART`]
//! after a restart, as its readiness probe passes), or, after the process
//! exited by itself, `CrashLoopBackOff` with the back-off the kubelet waits,
//! `restartCount` the restarts made so far and `lastState.terminated` the real
//! exit code and times; each real restart shows. A host that crashed reports
//! nothing more: its pod keeps the last word it had (not ready, one more restart).

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use super::{idx, process_alive_running, set_condition, Operators};
use crate::api::seed;
use crate::api::store::{now_rfc3339, str_at};
use crate::hosts::kubelet::{EtcdExit, EtcdProcess};
use crate::hosts::{kubelet, manifest};

/// How long a restarted etcd container runs before its readiness probe passes.
pub const READY_AFTER_RESTART: Duration = Duration::from_secs(3);

/// What a host's kubelet knows of its etcd container: the process it runs now
/// (alive, and running or frozen) and how the last one exited by itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtcdContainer {
    pub process: Option<EtcdProcess>,
    pub alive: bool,
    pub running: bool,
    pub last_exit: Option<EtcdExit>,
}

impl EtcdContainer {
    /// Read from the kubelet's files in host root `root`, `pid` the process the lab's kubelet runs.
    pub fn of_host(root: &Path, pid: Option<i32>) -> Self {
        let (alive, running) = pid.map(process_alive_running).unwrap_or((false, false));
        let process = if alive { kubelet::etcd_recorded(root).filter(|p| Some(p.pid) == pid) } else { None };
        Self { process, alive, running, last_exit: kubelet::etcd_last_exit(root) }
    }

    /// Ready: running, and after a restart running long enough for its readiness probe.
    pub fn ready(&self) -> bool {
        if !self.running {
            return false;
        }
        match (&self.process, &self.last_exit) {
            (Some(process), Some(_)) => {
                SystemTime::now().duration_since(process.started()).unwrap_or_default() >= READY_AFTER_RESTART
            }
            _ => true,
        }
    }

    /// The kubelet's restarts of the container so far (its `restartCount`).
    pub fn restarts(&self) -> u32 {
        match (&self.process, &self.last_exit) {
            (Some(process), _) => process.attempt,
            (None, Some(exit)) => exit.attempt,
            (None, None) => 0,
        }
    }

    /// Exited by itself and waiting for its back-off: a crash loop.
    pub fn crash_looping(&self) -> bool {
        !self.alive && self.last_exit.is_some()
    }

    /// What changes the pod's status when it changes.
    pub fn signature(&self) -> ContainerSignature {
        (self.ready(), self.alive, self.restarts(), self.last_exit.as_ref().map(|e| e.attempt))
    }
}

/// What an etcd pod shows of its container that changes its status: ready, alive, restarts,
/// the attempt that last exited.
pub type ContainerSignature = (bool, bool, u32, Option<u32>);

/// A duration as Go prints it in the kubelet's messages (`10s`, `1m20s`, `5m0s`).
pub fn go_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds < 60 {
        format!("{seconds}s")
    } else {
        format!("{}m{}s", seconds / 60, seconds % 60)
    }
}

/// The pod's `container` status and its Ready conditions as the kubelet shows `view`:
/// Running (ready or not), or CrashLoopBackOff with its last termination.
pub fn container_shows(pod: &mut Value, container: &str, view: &EtcdContainer, at: &str) {
    let ready = view.ready();
    let pod_name = str_at(pod, "/metadata/name").to_string();
    let namespace = str_at(pod, "/metadata/namespace").to_string();
    let uid = str_at(pod, "/metadata/uid").to_string();
    let Some(statuses) = pod["status"]["containerStatuses"].as_array_mut() else { return };
    for s in statuses.iter_mut().filter(|s| s["name"] == container) {
        s["ready"] = json!(ready);
        s["started"] = json!(view.alive);
        s["restartCount"] = json!(view.restarts());
        if let Some(exit) = &view.last_exit {
            s["lastState"] = json!({"terminated": {
                "exitCode": exit.exit_code,
                "reason": "Error",
                "startedAt": humantime::format_rfc3339_seconds(exit.started()).to_string(),
                "finishedAt": humantime::format_rfc3339_seconds(exit.finished()).to_string(),
            }});
        } else if let Some(object) = s.as_object_mut() {
            object.remove("lastState");
        }
        match (&view.process, &view.last_exit) {
            (Some(process), _) => {
                let started = humantime::format_rfc3339_seconds(process.started()).to_string();
                s["state"] = json!({"running": {"startedAt": started}});
            }
            (None, Some(exit)) => {
                let message = format!(
                    "back-off {} restarting failed container={container} pod={pod_name}_{namespace}({uid})",
                    go_duration(Duration::from_millis(exit.backoff_ms))
                );
                s["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": message}});
            }
            (None, None) => s["state"] = json!({"waiting": {"reason": "ContainerCreating"}}),
        }
    }
    let unready: Vec<String> = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|all| all.iter().filter(|s| s["ready"] != true).map(|s| str_at(s, "/name").to_string()).collect())
        .unwrap_or_default();
    let message = format!("containers with unready status: [{}]", unready.join(" "));
    for kind in ["Ready", "ContainersReady"] {
        let condition = if unready.is_empty() {
            seed::condition(kind, "True", "", "", at)
        } else {
            seed::condition(kind, "False", "ContainersNotReady", &message, at)
        };
        set_condition(pod, condition);
    }
    pod["status"]["phase"] = json!("Running");
}

impl Operators {
    /// The pid of member `i`'s etcd now (the kubelet's, when the lab has hosts).
    fn member_pid(&self, i: usize) -> Option<i32> {
        match &self.hosts {
            Some(link) => link.pids.get(i),
            None => self.members.get(i).and_then(|m| m.pid),
        }
    }

    /// The etcd manifest of member `i`'s host: Some(None) when it has none, None when the lab has no hosts.
    fn etcd_manifest(&self, i: usize) -> Option<Option<String>> {
        let link = self.hosts.as_ref()?;
        let member = self.members.get(i)?;
        let path = kubelet::etcd_manifest(&link.inventory.root(&member.name));
        Some(std::fs::read_to_string(path).ok())
    }

    /// The node's etcd revision, as the operator's status has it.
    fn etcd_revision(&self, node: &str) -> i64 {
        self.store
            .get(idx("operator.openshift.io", "Etcd"), "", "cluster")
            .ok()
            .and_then(|o| {
                o.pointer("/status/nodeStatuses")?
                    .as_array()?
                    .iter()
                    .find(|s| s["nodeName"] == node)
                    .and_then(|s| s["currentRevision"].as_i64())
            })
            .unwrap_or(seed::LATEST_REVISION)
    }

    /// The mirror pod of an etcd static pod: its containers those of the manifest.
    fn etcd_mirror_pod(&self, i: usize, manifest_text: &str, up: bool, at: &str) -> Option<Value> {
        let member = self.members.get(i)?;
        let mut pod = seed::etcd_pod(member, self.etcd_revision(&member.name), at);
        let containers = manifest::containers(manifest_text);
        // The mirror shows the etcd command the manifest runs (its quota among its flags).
        if let Some(etcd) = containers.iter().find(|c| c.name == "etcd" && !c.command.is_empty()) {
            if let Some(items) = pod.pointer_mut("/spec/containers").and_then(Value::as_array_mut) {
                for c in items.iter_mut().filter(|c| c["name"] == "etcd") {
                    c["command"] = json!(etcd.command);
                }
            }
        }
        let names: Vec<String> = containers.into_iter().map(|c| c.name).collect();
        for list in ["/spec/containers", "/status/containerStatuses"] {
            if let Some(items) = pod.pointer_mut(list).and_then(Value::as_array_mut) {
                items.retain(|c| c["name"].as_str().is_some_and(|n| names.iter().any(|m| m == n)));
            }
        }
        if !up {
            set_condition(
                &mut pod,
                seed::condition("Ready", "False", "ContainersNotReady", "containers with unready status: [etcd]", at),
            );
            if let Some(statuses) = pod["status"]["containerStatuses"].as_array_mut() {
                for s in statuses.iter_mut().filter(|s| s["name"] == "etcd") {
                    s["ready"] = json!(false);
                    s["started"] = json!(false);
                    s["state"] = json!({"waiting": {"reason": "ContainerCreating"}});
                }
            }
        }
        Some(pod)
    }

    /// A static pod's mirror follows its manifest: gone with it, back with it.
    /// True when member `i`'s host has no etcd manifest (nothing more to follow).
    fn follow_manifest(&mut self, i: usize) -> bool {
        if self.hosted {
            return false;
        }
        let Some(manifest_text) = self.etcd_manifest(i) else { return false };
        let pods = idx("", "Pod");
        let name = format!("etcd-{}", self.members[i].name);
        let exists = self.store.exists(pods, "openshift-etcd", &name);
        if manifest_text.is_none() || !exists {
            // A pod made (or gone) afresh: what it showed before is no more.
            if let Some(seen) = self.member_seen.get_mut(i) {
                *seen = None;
            }
        }
        match manifest_text {
            None => {
                if exists {
                    tracing::info!(pod = %name, "lab: the etcd manifest is gone, so is its mirror pod");
                    let _ = self.store.delete(pods, "openshift-etcd", &name, false);
                }
                // No member runs there: the etcd operator counts it unhealthy.
                self.member_up[i] = Some(false);
                true
            }
            Some(text) if !exists => {
                let up = self.member_pid(i).is_some_and(|pid| process_alive_running(pid).1);
                if let Some(pod) = self.etcd_mirror_pod(i, &text, up, &now_rfc3339()) {
                    tracing::info!(pod = %name, up, "lab: an etcd manifest appeared, so does its mirror pod");
                    let _ = self.store.create(pods, "openshift-etcd", pod, false);
                }
                self.member_up[i] = Some(up);
                true
            }
            Some(_) => false,
        }
    }

    /// What member `i`'s kubelet knows of its etcd container (None when the lab has no hosts).
    fn etcd_container(&self, i: usize) -> Option<EtcdContainer> {
        let link = self.hosts.as_ref()?;
        let member = self.members.get(i)?;
        Some(EtcdContainer::of_host(&link.inventory.root(&member.name), link.pids.get(i)))
    }

    pub(super) fn follow_members(&mut self) {
        if self.hosted {
            // The StatefulSet's controller follows its replicas (super::hosted_cp).
            return;
        }
        for i in 0..self.members.len() {
            if self.follow_manifest(i) {
                continue;
            }
            let (pods, namespace, pod) = (idx("", "Pod"), "openshift-etcd", format!("etcd-{}", self.members[i].name));
            // A container that exited by itself: the kubelet shows each restart and its back-off.
            if let Some(view) = self.etcd_container(i).filter(|v| v.last_exit.is_some()) {
                let signature = view.signature();
                let up = view.ready();
                if self.member_seen.get(i) == Some(&Some(signature)) {
                    continue;
                }
                if let Some(seen) = self.member_seen.get_mut(i) {
                    *seen = Some(signature);
                }
                self.member_up[i] = Some(up);
                let at = now_rfc3339();
                tracing::info!(member = %self.members[i].name, up, restarts = view.restarts(), crash_looping = view.crash_looping(), "lab: etcd pod follows its container's restarts");
                let _ = self.store.modify(pods, namespace, &pod, |p| container_shows(p, "etcd", &view, &at));
                continue;
            }
            if let Some(seen) = self.member_seen.get_mut(i) {
                *seen = None;
            }
            let (alive, up) = self.member_pid(i).map(process_alive_running).unwrap_or((false, false));
            if !alive && self.member_pid(i).is_some() && self.hosts.is_some() {
                // Exited, not reaped yet: the kubelet records how it ended before it lets the pid go.
                continue;
            }
            if self.member_up[i] == Some(up) {
                continue;
            }
            let first = self.member_up[i].is_none();
            self.member_up[i] = Some(up);
            if first && up {
                continue;
            }
            let at = now_rfc3339();
            tracing::info!(member = %self.members[i].name, up, "lab: etcd pod readiness follows its member");
            let _ = self.store.modify(pods, namespace, &pod, |p| {
                set_condition(
                    p,
                    seed::condition(
                        "Ready",
                        if up { "True" } else { "False" },
                        if up { "" } else { "ContainersNotReady" },
                        if up { "" } else { "containers with unready status: [etcd]" },
                        &at,
                    ),
                );
                etcd_container_follows(p, up, alive, &at);
            });
        }
    }

    /// A deleted etcd static pod's mirror comes back: the kubelet recreates it.
    pub(super) fn pod_deleted(&self, pod: &Value) {
        let namespace = str_at(pod, "/metadata/namespace");
        let at = now_rfc3339();
        if namespace == "openshift-etcd" && !self.hosted {
            let name = str_at(pod, "/metadata/name");
            let Some(i) = self.members.iter().position(|m| format!("etcd-{}", m.name) == name) else { return };
            let revision = str_at(pod, "/metadata/labels/revision").parse().unwrap_or(seed::LATEST_REVISION);
            let mut recreated = seed::etcd_pod(&self.members[i], revision, &at);
            match self.etcd_manifest(i) {
                // Without a manifest there is no static pod to mirror.
                Some(None) => return,
                Some(Some(text)) => {
                    let up = self.member_pid(i).is_some_and(|pid| process_alive_running(pid).1);
                    if let Some(mut pod) = self.etcd_mirror_pod(i, &text, up, &at) {
                        pod["metadata"]["labels"]["revision"] = json!(revision.to_string());
                        recreated = pod;
                    }
                }
                None => {}
            }
            let _ = self.store.create(idx("", "Pod"), namespace, recreated, false);
        }
    }
}

/// An etcd pod's `etcd` container status as its member is: up (Running, ready), frozen
/// (the process there but answering nothing: running, not ready), or gone (CrashLoopBackOff,
/// one more restart).
pub fn etcd_container_follows(pod: &mut Value, up: bool, alive: bool, at: &str) {
    let Some(statuses) = pod["status"]["containerStatuses"].as_array_mut() else { return };
    for s in statuses.iter_mut().filter(|s| s["name"] == "etcd") {
        s["ready"] = json!(up);
        s["started"] = json!(up || alive);
        if up {
            s["state"] = json!({"running": {"startedAt": at}});
        } else if alive {
            s["state"] = json!({"running": {"startedAt": s["state"]["running"]["startedAt"].clone()}});
        } else {
            let restarts = s["restartCount"].as_i64().unwrap_or(0) + 1;
            s["restartCount"] = json!(restarts);
            s["lastState"] = json!({"terminated": {"exitCode": 137, "reason": "Error", "finishedAt": at}});
            s["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=etcd"}});
        }
    }
}
