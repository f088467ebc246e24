//! Static-pod rollouts: a forced redeployment (or a new encryption
//! configuration) rolls the operator's static pod to a new revision node by
//! node, installing it again where its manifest was moved away, and gives a
//! restored etcd member its regular pod back.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{idx, set_condition, Operators};
use crate::api::seed;
use crate::api::store::now_rfc3339;
use crate::hosts::{kubelet, manifest};

/// Cluster time each node's static pod takes to roll to a new revision.
pub const ROLLOUT_PER_NODE: Duration = Duration::from_secs(120);

pub(super) struct Rollout {
    pub(super) operator: &'static str,
    pub(super) revision: i64,
    pub(super) pending: VecDeque<String>,
    pub(super) next_at: Instant,
}

impl Operators {
    fn master_names(&self) -> Vec<String> {
        self.members.iter().map(|m| m.name.clone()).collect()
    }

    pub(super) fn start_rollout(&mut self, operator: &'static str, now: Instant) {
        let Some((_, kind)) = seed::STATIC_POD_OPERATORS.iter().find(|(s, _)| *s == operator) else { return };
        let index = idx("operator.openshift.io", kind);
        let Ok(object) = self.store.get(index, "", "cluster") else { return };
        let revision = object.pointer("/status/latestAvailableRevision").and_then(Value::as_i64).unwrap_or(0) + 1;
        self.rollouts.retain(|r| r.operator != operator);
        let nodes = self.master_names();
        self.rollouts.push(Rollout {
            operator,
            revision,
            pending: nodes.iter().cloned().collect(),
            next_at: now + self.scaled(ROLLOUT_PER_NODE),
        });
        let _ = self.store.modify(index, "", "cluster", |o| {
            o["status"]["latestAvailableRevision"] = json!(revision);
            if let Some(statuses) = o["status"]["nodeStatuses"].as_array_mut() {
                for s in statuses {
                    s["targetRevision"] = json!(revision);
                }
            }
        });
        self.write_revision_conditions(kind, revision);
    }

    pub(super) fn write_revision_conditions(&self, kind: &str, latest: i64) {
        let index = idx("operator.openshift.io", kind);
        let at = now_rfc3339();
        let note = self.etcd_hold_note.as_str();
        let _ = self.store.modify(index, "", "cluster", |o| {
            let revisions: Vec<i64> = o
                .pointer("/status/nodeStatuses")
                .and_then(Value::as_array)
                .map(|n| n.iter().map(|s| s["currentRevision"].as_i64().unwrap_or(0)).collect())
                .unwrap_or_default();
            let mut message = seed::rollout_message(&revisions, latest);
            if kind == "Etcd" {
                message.push_str(note);
            }
            let condition = if revisions.iter().all(|r| *r == latest) {
                seed::condition("NodeInstallerProgressing", "False", "AllNodesAtLatestRevision", &message, &at)
            } else {
                seed::condition("NodeInstallerProgressing", "True", "NodeInstaller", &message, &at)
            };
            set_condition(o, condition);
        });
    }

    pub(super) fn advance_rollouts(&mut self, now: Instant) {
        let step = self.scaled(ROLLOUT_PER_NODE);
        let mut finished = Vec::new();
        let mut moved = Vec::new();
        let etcd_held = self.etcd_held();
        for rollout in &mut self.rollouts {
            if now < rollout.next_at || (rollout.operator == "etcd" && etcd_held) {
                continue;
            }
            if let Some(node) = rollout.pending.pop_front() {
                moved.push((rollout.operator, rollout.revision, node));
                rollout.next_at = now + step;
            }
            if rollout.pending.is_empty() {
                finished.push(rollout.operator);
            }
        }
        self.rollouts.retain(|r| !finished.contains(&r.operator));
        for (operator, revision, node) in moved {
            let Some((_, kind)) = seed::STATIC_POD_OPERATORS.iter().find(|(s, _)| *s == operator) else { continue };
            let index = idx("operator.openshift.io", kind);
            let _ = self.store.modify(index, "", "cluster", |o| {
                if let Some(statuses) = o["status"]["nodeStatuses"].as_array_mut() {
                    for s in statuses.iter_mut().filter(|s| s["nodeName"] == node.as_str()) {
                        s["currentRevision"] = json!(revision);
                        if let Some(m) = s.as_object_mut() {
                            m.remove("targetRevision");
                        }
                    }
                }
            });
            self.write_revision_conditions(kind, revision);
            self.reinstall_static_pod(operator, &node, revision);
            if operator == "etcd" && !self.hosted {
                let pods = idx("", "Pod");
                let _ = self.store.modify(pods, "openshift-etcd", &format!("etcd-{node}"), |p| {
                    p["metadata"]["labels"]["revision"] = json!(revision.to_string());
                });
                self.replace_restore_pod(&node, revision);
            }
        }
    }

    /// The rollout gives a restored member its regular etcd pod back: the restore pod's
    /// manifest (one container) becomes the full one, the member's command unchanged (so
    /// the kubelet does not restart it), and the mirror pod is made again from it.
    fn replace_restore_pod(&self, node: &str, revision: i64) {
        let Some(link) = &self.hosts else { return };
        let path = kubelet::etcd_manifest(&link.inventory.root(node));
        let Ok(text) = std::fs::read_to_string(&path) else { return };
        if manifest::containers(&text).len() != 1 {
            return;
        }
        let Some(command) = manifest::etcd_command_of(&text) else { return };
        let yaml = manifest::etcd_pod_yaml(node, revision, &command, false);
        if let Err(e) = crate::hosts::write_atomically(&path, &yaml) {
            tracing::warn!(%node, error = %e, "lab: cannot replace the restore-etcd pod");
            return;
        }
        tracing::info!(%node, "lab: the etcd rollout replaced the restore-etcd pod");
        // Made again from the new manifest (see pod_deleted and follow_manifest).
        let _ = self.store.delete(idx("", "Pod"), "openshift-etcd", &format!("etcd-{node}"), false);
    }

    /// A node's rollout installs its static pod again where the manifest was moved away
    /// (kube-apiserver, kube-controller-manager, kube-scheduler; etcd's comes with the scale-up).
    fn reinstall_static_pod(&self, operator: &str, node: &str, revision: i64) {
        let (Some(link), Some(pod)) = (&self.hosts, manifest::of_operator(operator)) else { return };
        if pod == manifest::ETCD || self.hosted || !link.inventory.reachable(node) {
            return;
        }
        let root = link.inventory.root(node);
        let Ok(path) = crate::hosts::map_path(&root, &format!("{}/{}", crate::hosts::MANIFESTS, pod.file)) else {
            return;
        };
        if path.exists() {
            return;
        }
        match crate::hosts::write_atomically(&path, &manifest::static_pod_yaml(&pod, node, revision)) {
            Ok(()) => tracing::info!(%node, pod = pod.component, "lab: the rollout installed the static pod again"),
            Err(e) => tracing::warn!(%node, pod = pod.component, error = %e, "lab: cannot install the static pod"),
        }
    }
}
