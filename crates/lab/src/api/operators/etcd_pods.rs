//! etcd pods follow the member processes: readiness as the member is up,
//! frozen or gone, the mirror pod as its static pod's manifest is there or not,
//! and a deleted mirror pod comes back as the kubelet recreates it.

use serde_json::{json, Value};

use super::{idx, process_alive_running, set_condition, Operators};
use crate::api::seed;
use crate::api::store::{now_rfc3339, str_at};
use crate::hosts::{kubelet, manifest};

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
        let names: Vec<String> = manifest::containers(manifest_text).into_iter().map(|c| c.name).collect();
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

    pub(super) fn follow_members(&mut self) {
        if self.hosted {
            // The StatefulSet's controller follows its replicas (super::hosted_cp).
            return;
        }
        for i in 0..self.members.len() {
            if self.follow_manifest(i) {
                continue;
            }
            let (alive, up) = self.member_pid(i).map(process_alive_running).unwrap_or((false, false));
            if self.member_up[i] == Some(up) {
                continue;
            }
            let first = self.member_up[i].is_none();
            self.member_up[i] = Some(up);
            if first && up {
                continue;
            }
            let (namespace, pod) = ("openshift-etcd", format!("etcd-{}", self.members[i].name));
            let at = now_rfc3339();
            tracing::info!(member = %self.members[i].name, up, "lab: etcd pod readiness follows its member");
            let _ = self.store.modify(idx("", "Pod"), namespace, &pod, |p| {
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
