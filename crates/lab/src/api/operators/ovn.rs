//! OVN-Kubernetes: the ovnkube-node DaemonSet and the ovnkube-control-plane
//! Deployment keep their pods, and their status counts them.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use super::{get_condition, idx, ready_at, with_ready_at, without_ready_at, Operators};
use crate::api::seed;
use crate::api::store::{now_rfc3339, str_at};

/// Cluster time an OVN-Kubernetes pod takes from Pending to Running.
pub const OVN_POD_START: Duration = Duration::from_secs(8);

fn node_internal_ip(node: &Value) -> String {
    node.pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|a| a["type"] == "InternalIP"))
        .and_then(|a| a["address"].as_str())
        .unwrap_or("")
        .to_string()
}

impl Operators {
    /// The ovnkube-node DaemonSet keeps one pod on every node, the
    /// ovnkube-control-plane Deployment its replicas on the masters; a new pod
    /// is Pending for OVN_POD_START (cluster time), then Running.
    pub(super) fn reconcile_ovn(&self) {
        let (pods, ns) = (idx("", "Pod"), seed::OVN_NAMESPACE);
        let Ok(daemonset) = self.store.get(idx("apps", "DaemonSet"), ns, seed::OVN_NODE) else { return };
        let nodes = self.store.all_of(idx("", "Node"));
        let app = |p: &Value| str_at(p, "/metadata/labels/app").to_string();
        let on_node = |p: &Value| str_at(p, "/spec/nodeName").to_string();
        let mut current = self.store.list(pods, Some(ns), &|_| true, None, None).items;
        let now = SystemTime::now();
        let at = now_rfc3339();
        let start = now + self.scaled(OVN_POD_START);
        let create = |mut pod: Value| {
            with_ready_at(&mut pod, start);
            tracing::info!(pod = %str_at(&pod, "/metadata/name"), node = %str_at(&pod, "/spec/nodeName"), "lab: OVN-Kubernetes starts a pod");
            self.store.create(pods, ns, pod, false).ok()
        };
        // DaemonSet: a pod per node, none on a node that is gone.
        for node in &nodes {
            let name = str_at(node, "/metadata/name");
            if !current.iter().any(|p| app(p) == seed::OVN_NODE && on_node(p) == name) {
                let pod = seed::ovnkube_node_pod(&daemonset, name, &node_internal_ip(node), false, &at);
                current.extend(create(pod));
            }
        }
        for pod in current.iter().filter(|p| app(p) == seed::OVN_NODE) {
            if !nodes.iter().any(|n| str_at(n, "/metadata/name") == on_node(pod)) {
                let _ = self.store.delete(pods, ns, str_at(pod, "/metadata/name"), false);
            }
        }
        // Deployment: its replicas, each on a master without one when there is such a master.
        if let Ok(deployment) = self.store.get(idx("apps", "Deployment"), ns, seed::OVN_CONTROL_PLANE) {
            let wanted = deployment.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0).max(0) as usize;
            let masters: Vec<&Value> = nodes
                .iter()
                .filter(|n| {
                    n.pointer("/metadata/labels").and_then(|l| l.get("node-role.kubernetes.io/master")).is_some()
                })
                .collect();
            let mut running: Vec<Value> =
                current.iter().filter(|p| app(p) == seed::OVN_CONTROL_PLANE).cloned().collect();
            while running.len() < wanted && !masters.is_empty() {
                let busy = |n: &&Value| running.iter().any(|p| on_node(p) == str_at(n, "/metadata/name"));
                let master = masters.iter().find(|n| !busy(n)).unwrap_or(&masters[running.len() % masters.len()]);
                let pod = seed::ovnkube_control_plane_pod(
                    &deployment,
                    str_at(master, "/metadata/name"),
                    &node_internal_ip(master),
                    false,
                    &at,
                );
                match create(pod) {
                    Some(pod) => running.push(pod),
                    None => break,
                }
            }
            running
                .sort_by(|a, b| str_at(a, "/metadata/creationTimestamp").cmp(str_at(b, "/metadata/creationTimestamp")));
            for extra in running.iter().skip(wanted) {
                let _ = self.store.delete(pods, ns, str_at(extra, "/metadata/name"), false);
            }
        }
        // Pods whose containers have had their time start.
        let due: Vec<String> = self
            .store
            .list(pods, Some(ns), &|p| ready_at(p).is_some_and(|at| at <= now), None, None)
            .items
            .iter()
            .map(|p| str_at(p, "/metadata/name").to_string())
            .collect();
        for name in due {
            let at = now_rfc3339();
            let _ = self.store.modify(pods, ns, &name, |p| {
                seed::pod_running(p, &at);
                without_ready_at(p);
            });
        }
        self.sync_ovn_status();
    }

    /// The DaemonSet's and the Deployment's status count their pods.
    fn sync_ovn_status(&self) {
        let ns = seed::OVN_NAMESPACE;
        let pods = self.store.list(idx("", "Pod"), Some(ns), &|_| true, None, None).items;
        let count = |app: &str, ready: bool| -> i64 {
            pods.iter()
                .filter(|p| str_at(p, "/metadata/labels/app") == app)
                .filter(|p| !ready || get_condition(p, "Ready").is_some_and(|c| c["status"] == "True"))
                .count() as i64
        };
        let desired = self.store.all_of(idx("", "Node")).len() as i64;
        let (current, ready) = (count(seed::OVN_NODE, false), count(seed::OVN_NODE, true));
        let daemonsets = idx("apps", "DaemonSet");
        if let Ok(ds) = self.store.get(daemonsets, ns, seed::OVN_NODE) {
            let wanted = json!({
                "desiredNumberScheduled": desired, "currentNumberScheduled": current, "numberReady": ready,
                "updatedNumberScheduled": current, "numberAvailable": ready,
                "numberUnavailable": (desired - ready).max(0), "numberMisscheduled": 0, "observedGeneration": 1,
            });
            let mut status = wanted.clone();
            if (desired - ready) <= 0 {
                if let Some(s) = status.as_object_mut() {
                    s.remove("numberUnavailable");
                }
            }
            if ds.get("status") != Some(&status) {
                let _ = self.store.modify(daemonsets, ns, seed::OVN_NODE, |o| o["status"] = status);
            }
        }
        let deployments = idx("apps", "Deployment");
        if let Ok(deployment) = self.store.get(deployments, ns, seed::OVN_CONTROL_PLANE) {
            let (current, ready) = (count(seed::OVN_CONTROL_PLANE, false), count(seed::OVN_CONTROL_PLANE, true));
            let now = (
                deployment.pointer("/status/replicas").and_then(Value::as_i64),
                deployment.pointer("/status/readyReplicas").and_then(Value::as_i64),
            );
            if now != (Some(current), Some(ready)) {
                let _ = self.store.modify(deployments, ns, seed::OVN_CONTROL_PLANE, |o| {
                    o["status"]["replicas"] = json!(current);
                    o["status"]["readyReplicas"] = json!(ready);
                    o["status"]["availableReplicas"] = json!(ready);
                    o["status"]["updatedReplicas"] = json!(current);
                });
            }
        }
    }
}
