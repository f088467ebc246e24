//! Deployments of the hosted control plane's namespace, as the Deployment and
//! ReplicaSet controllers and the scheduler run them: `spec.replicas` pods
//! built from the template (`<name>-<template hash>-<suffix>`, owned by the
//! ReplicaSet `<name>-<template hash>`), Pending until their claims exist and
//! for [`POD_START`] (cluster time), then Running and Ready; extra pods
//! deleted; a deleted Deployment's pods deleted with it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use super::{claims_of, idx, terminating};
use crate::api::operators::{ready_at, set_condition, with_ready_at, without_ready_at};
use crate::api::seed::{self, HOSTED_CP_NAMESPACE};
use crate::api::store::{now_rfc3339, str_at, Store};

/// Cluster time a new pod of a Deployment takes from Pending to Running.
pub const POD_START: Duration = Duration::from_secs(5);
const DEFAULT_IMAGE: &str = "quay.io/openshift-release-dev/ocp-v4.0-art-dev";

/// The template's hash, as a Deployment names its ReplicaSet (`pod-template-hash`).
pub fn template_hash(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in template.to_string().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (0..10)
        .map(|_| {
            let c = ALPHABET[(hash % ALPHABET.len() as u64) as usize];
            hash /= ALPHABET.len() as u64;
            char::from(c)
        })
        .collect()
}

/// The labels a Deployment selects its pods by.
fn selector(deployment: &Value) -> Map<String, Value> {
    deployment
        .pointer("/spec/selector/matchLabels")
        .or_else(|| deployment.pointer("/spec/template/metadata/labels"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn selects(labels: &Map<String, Value>, pod: &Value) -> bool {
    !labels.is_empty() && labels.iter().all(|(k, v)| pod.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v))
}

/// The Deployment a pod's ReplicaSet belongs to (`<deployment>-<pod-template-hash>`).
fn owning_deployment(pod: &Value) -> Option<String> {
    let owner = pod.pointer("/metadata/ownerReferences/0")?;
    if owner["kind"] != "ReplicaSet" {
        return None;
    }
    let hash = str_at(pod, "/metadata/labels/pod-template-hash");
    let name = str_at(owner, "/name");
    name.strip_suffix(hash)?.strip_suffix('-').map(str::to_string)
}

fn container_status(container: &Value) -> Value {
    json!({
        "name": container["name"], "ready": false, "started": false, "restartCount": 0,
        "image": container.get("image").cloned().unwrap_or(json!(DEFAULT_IMAGE)), "imageID": "",
        "state": {"waiting": {"reason": "ContainerCreating"}},
    })
}

/// A new pod of `deployment` (Pending, its containers being created) on worker `ordinal % 3`.
pub fn new_pod(deployment: &Value, ordinal: usize, at: &str) -> Value {
    let name = str_at(deployment, "/metadata/name");
    let template = deployment.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}));
    let hash = template_hash(&template);
    let replica_set = format!("{name}-{hash}");
    let mut labels = template.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({}));
    labels["pod-template-hash"] = json!(hash);
    let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    let node = ordinal % 3;
    spec["nodeName"] = json!(format!("worker-{node}"));
    if let Some(containers) = spec["containers"].as_array_mut() {
        for container in containers.iter_mut().filter(|c| c.get("image").is_none()) {
            container["image"] = json!(DEFAULT_IMAGE);
        }
    }
    let containers: Vec<Value> = spec["containers"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, "/name")).collect();
    let unready = format!("containers with unready status: [{}]", names.join(" "));
    let host_ip = format!("127.0.0.{}", 21 + node);
    let uid = crate::hosts::manifest::digest(&replica_set);
    let uid = format!("{}-{}-{}-{}-{}", &uid[0..8], &uid[8..12], &uid[12..16], &uid[16..20], &uid[20..32]);
    json!({
        "metadata": {
            "name": format!("{replica_set}-{}", seed::pod_suffix()),
            "labels": labels,
            "annotations": template.pointer("/metadata/annotations").cloned().unwrap_or_else(|| json!({})),
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": replica_set, "uid": uid, "controller": true, "blockOwnerDeletion": true}],
            "creationTimestamp": at,
        },
        "spec": spec,
        "status": {
            "phase": "Pending",
            "hostIP": host_ip,
            "podIP": format!("10.128.{}.{}", node + 2, 10 + ordinal % 240),
            "startTime": at,
            "conditions": [
                seed::condition("PodScheduled", "True", "", "", at),
                seed::condition("Initialized", "True", "", "", at),
                seed::condition("Ready", "False", "ContainersNotReady", &unready, at),
                seed::condition("ContainersReady", "False", "ContainersNotReady", &unready, at),
            ],
            "containerStatuses": containers.iter().map(container_status).collect::<Vec<_>>(),
        }
    })
}

fn ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

pub struct Workloads {
    store: Arc<Store>,
    speed: f64,
}

impl Workloads {
    pub fn new(store: Arc<Store>, speed: f64) -> Self {
        Self { store, speed }
    }

    pub fn sync(&mut self) {
        let deployments = self.store.list(idx("apps", "Deployment"), Some(HOSTED_CP_NAMESPACE), &|_| true, None, None);
        let pods = idx("", "Pod");
        let mut names = Vec::new();
        for deployment in &deployments.items {
            names.push(str_at(deployment, "/metadata/name").to_string());
            self.scale(deployment);
        }
        // The garbage collector: a deleted Deployment's ReplicaSet and pods go.
        let orphans = self.store.list(
            pods,
            Some(HOSTED_CP_NAMESPACE),
            &|p| owning_deployment(p).is_some_and(|d| !names.contains(&d)),
            None,
            None,
        );
        for pod in orphans.items {
            let name = str_at(&pod, "/metadata/name");
            tracing::info!(pod = name, "lab: the pod of a deleted Deployment is deleted");
            let _ = self.store.delete(pods, HOSTED_CP_NAMESPACE, name, false);
        }
    }

    /// Pods follow spec.replicas (1 when unset); pending ones start; the status counts them.
    fn scale(&self, deployment: &Value) {
        let pods = idx("", "Pod");
        let name = str_at(deployment, "/metadata/name").to_string();
        let labels = selector(deployment);
        let wanted = deployment.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1).max(0) as usize;
        let listed = self.store.list(
            pods,
            Some(HOSTED_CP_NAMESPACE),
            &|p| selects(&labels, p) && !terminating(p) && owning_deployment(p).is_none_or(|d| d == name),
            None,
            None,
        );
        let mut current = listed.items;
        let at = now_rfc3339();
        if current.len() > wanted {
            // The ReplicaSet deletes pods not ready first, then the newest.
            current
                .sort_by_key(|p| (ready(p), std::cmp::Reverse(str_at(p, "/metadata/creationTimestamp").to_string())));
            for pod in current.drain(..current.len() - wanted) {
                let _ = self.store.delete(pods, HOSTED_CP_NAMESPACE, str_at(&pod, "/metadata/name"), false);
            }
        }
        let start = SystemTime::now() + POD_START.div_f64(self.speed);
        for ordinal in current.len()..wanted {
            let mut pod = new_pod(deployment, ordinal, &at);
            with_ready_at(&mut pod, start);
            match self.store.create(pods, HOSTED_CP_NAMESPACE, pod, false) {
                Ok(pod) => current.push(pod),
                Err(e) => tracing::warn!(deployment = %name, error = %e.message, "lab: cannot create a pod"),
            }
        }
        for pod in &current {
            self.start_pod(pod);
        }
        let listed =
            self.store.list(pods, Some(HOSTED_CP_NAMESPACE), &|p| selects(&labels, p) && !terminating(p), None, None);
        let count = listed.items.len() as i64;
        let ready = listed.items.iter().filter(|p| ready(p)).count() as i64;
        let generation = deployment.pointer("/metadata/generation").cloned().unwrap_or(json!(1));
        let available = ready >= wanted as i64;
        let mut status = json!({
            "observedGeneration": generation, "replicas": count, "updatedReplicas": count,
            "readyReplicas": ready, "availableReplicas": ready,
        });
        if count > ready {
            status["unavailableReplicas"] = json!(count - ready);
        }
        let before = deployment.get("status").cloned().unwrap_or_else(|| json!({}));
        let counts = |s: &Value| {
            [
                "observedGeneration",
                "replicas",
                "updatedReplicas",
                "readyReplicas",
                "availableReplicas",
                "unavailableReplicas",
            ]
            .iter()
            .map(|k| s.get(*k).and_then(Value::as_i64).unwrap_or(0))
            .collect::<Vec<_>>()
        };
        let was_available = crate::api::operators::get_condition(&before, "Available").map(|c| c["status"] == "True");
        if counts(&before) != counts(&status) || was_available != Some(available) {
            let _ = self.store.modify(idx("apps", "Deployment"), HOSTED_CP_NAMESPACE, &name, |o| {
                let mut conditions = o.clone();
                for key in ["observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas"] {
                    conditions["status"][key] = status[key].clone();
                }
                match status.get("unavailableReplicas") {
                    Some(n) => conditions["status"]["unavailableReplicas"] = n.clone(),
                    None => {
                        if let Some(s) = conditions["status"].as_object_mut() {
                            s.remove("unavailableReplicas");
                        }
                    }
                }
                let (state, reason, message) = if available {
                    ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
                } else {
                    ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
                };
                set_condition(&mut conditions, seed::condition("Available", state, reason, message, &at));
                *o = conditions;
            });
        }
    }

    /// A Pending pod starts once its claims are there (not being deleted) and its start time has come.
    fn start_pod(&self, pod: &Value) {
        if str_at(pod, "/status/phase") != "Pending" {
            return;
        }
        let pods = idx("", "Pod");
        let claims = idx("", "PersistentVolumeClaim");
        let name = str_at(pod, "/metadata/name");
        let missing: Vec<String> = claims_of(pod)
            .into_iter()
            .filter(|(_, claim)| {
                self.store.get(claims, HOSTED_CP_NAMESPACE, claim).map(|c| terminating(&c)).unwrap_or(true)
            })
            .map(|(_, claim)| claim)
            .collect();
        let at = now_rfc3339();
        if let Some(claim) = missing.first() {
            let message = format!("0/3 nodes are available: persistentvolumeclaim \"{claim}\" not found.");
            let scheduled = crate::api::operators::get_condition(pod, "PodScheduled").map(|c| c["message"].clone());
            if scheduled != Some(json!(message)) {
                let _ = self.store.modify(pods, HOSTED_CP_NAMESPACE, name, |p| {
                    set_condition(p, seed::condition("PodScheduled", "False", "Unschedulable", &message, &at));
                });
            }
            return;
        }
        if ready_at(pod).is_some_and(|t| t > SystemTime::now()) {
            return;
        }
        let _ = self.store.modify(pods, HOSTED_CP_NAMESPACE, name, |p| {
            set_condition(p, seed::condition("PodScheduled", "True", "", "", &at));
            // On the pod network, not the host's: pod_running gives the host's address.
            let pod_ip = p["status"]["podIP"].clone();
            seed::pod_running(p, &at);
            p["status"]["podIP"] = pod_ip.clone();
            p["status"]["podIPs"] = json!([{"ip": pod_ip}]);
            without_ready_at(p);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployments_pods_are_named_and_owned_by_its_replica_set() {
        let deployment = json!({"metadata": {"name": "etcd-data", "namespace": HOSTED_CP_NAMESPACE},
            "spec": {"selector": {"matchLabels": {"app": "etcd-data"}}, "template": {"metadata": {"labels": {"app": "etcd-data"}},
            "spec": {"containers": [{"name": "access", "volumeMounts": [{"name": "data", "mountPath": "/var/lib"}]}],
                     "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-etcd-0"}}]}}}});
        let pod = new_pod(&deployment, 0, "2026-01-01T00:00:00Z");
        let hash = template_hash(&deployment["spec"]["template"]);
        assert_eq!(hash.len(), 10);
        let name = str_at(&pod, "/metadata/name");
        assert!(name.starts_with(&format!("etcd-data-{hash}-")) && name.len() == "etcd-data-".len() + 16, "{name}");
        assert_eq!(owning_deployment(&pod).as_deref(), Some("etcd-data"));
        assert!(selects(&selector(&deployment), &pod));
        assert_eq!(claims_of(&pod), [("data".to_string(), "data-etcd-0".to_string())]);
        assert_eq!(pod["status"]["phase"], "Pending");
    }
}
