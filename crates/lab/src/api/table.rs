//! Server-side tables (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`):
//! the columns `kubectl get` prints, filled as a real server fills them, so
//! the lab's output reads like a cluster's.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use super::store::str_at;

struct Column {
    name: &'static str,
    kind: &'static str,
    priority: u8,
}

const fn col(name: &'static str) -> Column {
    Column { name, kind: "string", priority: 0 }
}

const fn wide(name: &'static str) -> Column {
    Column { name, kind: "string", priority: 1 }
}

const fn int(name: &'static str) -> Column {
    Column { name, kind: "integer", priority: 0 }
}

/// Kubernetes' short human durations: `85s`, `8m3s`, `175m`, `3h37m`, `9h`, `3d20h`, `120d`, `2y10d`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (m, h, day, year) = (s / 60, s / 3600, s / 86_400, s / (86_400 * 365));
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s.is_multiple_of(60) {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m.is_multiple_of(60) {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h.is_multiple_of(24) {
            format!("{day}d")
        } else {
            format!("{day}d{}h", h % 24)
        }
    } else if day < 365 * 2 {
        format!("{day}d")
    } else if year < 8 {
        let rest = day - year * 365;
        if rest == 0 {
            format!("{year}y")
        } else {
            format!("{year}y{rest}d")
        }
    } else {
        format!("{year}y")
    }
}

fn age_of(timestamp: &str, now: SystemTime) -> String {
    match humantime::parse_rfc3339(timestamp) {
        Ok(at) => human_duration(now.duration_since(at).unwrap_or_default()),
        Err(_) => "<unknown>".to_string(),
    }
}

fn age(object: &Value, now: SystemTime) -> Value {
    json!(age_of(str_at(object, "/metadata/creationTimestamp"), now))
}

fn or_none(text: &str) -> Value {
    json!(if text.is_empty() { "<none>" } else { text })
}

fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c.get("type").and_then(Value::as_str) == Some(kind)))
}

fn condition_field(object: &Value, kind: &str, field: &str) -> String {
    condition(object, kind).and_then(|c| c.get(field)).and_then(Value::as_str).unwrap_or("").to_string()
}

fn int_at(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn columns(kind: &str) -> Vec<Column> {
    match kind {
        "Pod" => vec![
            col("Name"),
            col("Ready"),
            col("Status"),
            col("Restarts"),
            col("Age"),
            wide("IP"),
            wide("Node"),
            wide("Nominated Node"),
            wide("Readiness Gates"),
        ],
        "Node" => vec![
            col("Name"),
            col("Status"),
            col("Roles"),
            col("Age"),
            col("Version"),
            wide("Internal-IP"),
            wide("External-IP"),
            wide("OS-Image"),
            wide("Kernel-Version"),
            wide("Container-Runtime"),
        ],
        "CertificateSigningRequest" => {
            vec![
                col("Name"),
                col("Age"),
                col("SignerName"),
                col("Requestor"),
                col("RequestedDuration"),
                col("Condition"),
            ]
        }
        "Secret" => vec![col("Name"), col("Type"), int("Data"), col("Age")],
        "ConfigMap" => vec![col("Name"), int("Data"), col("Age")],
        "Namespace" => vec![col("Name"), col("Status"), col("Age")],
        "Deployment" => vec![col("Name"), col("Ready"), int("Up-to-date"), int("Available"), col("Age")],
        "StatefulSet" => vec![col("Name"), col("Ready"), col("Age")],
        "DaemonSet" => vec![
            col("Name"),
            int("Desired"),
            int("Current"),
            int("Ready"),
            int("Up-to-date"),
            int("Available"),
            col("Node Selector"),
            col("Age"),
        ],
        "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration" => {
            vec![col("Name"), int("Webhooks"), col("Age")]
        }
        "PersistentVolumeClaim" => vec![
            col("Name"),
            col("Status"),
            col("Volume"),
            col("Capacity"),
            col("Access Modes"),
            col("StorageClass"),
            col("VolumeAttributesClass"),
            col("Age"),
        ],
        "ClusterOperator" => {
            vec![
                col("Name"),
                col("Version"),
                col("Available"),
                col("Progressing"),
                col("Degraded"),
                col("Since"),
                col("Message"),
            ]
        }
        "ClusterVersion" => {
            vec![col("Name"), col("Version"), col("Available"), col("Progressing"), col("Since"), col("Status")]
        }
        "Machine" => vec![
            col("Name"),
            col("Phase"),
            col("Type"),
            col("Region"),
            col("Zone"),
            col("Age"),
            wide("Node"),
            wide("ProviderID"),
            wide("State"),
        ],
        "HostedCluster" => vec![
            col("Name"),
            col("Version"),
            col("KubeConfig"),
            col("Progress"),
            col("Available"),
            col("Progressing"),
            col("Message"),
        ],
        "NodePool" => {
            vec![col("Name"), col("Cluster"), int("Desired Nodes"), int("Current Nodes"), col("Version"), col("Age")]
        }
        _ => vec![col("Name"), col("Age")],
    }
}

fn pod_cells(pod: &Value, now: SystemTime) -> Vec<Value> {
    let statuses = pod.pointer("/status/containerStatuses").and_then(Value::as_array).cloned().unwrap_or_default();
    let total = pod.pointer("/spec/containers").and_then(Value::as_array).map_or(statuses.len(), Vec::len);
    let ready = statuses.iter().filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true)).count();
    let waiting = statuses.iter().find_map(|c| c.pointer("/state/waiting/reason").and_then(Value::as_str));
    let status = if pod.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating".to_string()
    } else {
        waiting.map(str::to_string).unwrap_or_else(|| str_at(pod, "/status/phase").to_string())
    };
    let restarts = statuses
        .iter()
        .map(|c| c.get("restartCount").and_then(Value::as_i64).unwrap_or(0))
        .fold(0i64, i64::saturating_add);
    let last_restart = statuses
        .iter()
        .filter_map(|c| c.pointer("/lastState/terminated/finishedAt").and_then(Value::as_str))
        .max()
        .map(|at| age_of(at, now));
    let restarts = match last_restart {
        Some(ago) if restarts > 0 => format!("{restarts} ({ago} ago)"),
        _ => restarts.to_string(),
    };
    vec![
        json!(str_at(pod, "/metadata/name")),
        json!(format!("{ready}/{total}")),
        json!(status),
        json!(restarts),
        age(pod, now),
        or_none(str_at(pod, "/status/podIP")),
        or_none(str_at(pod, "/spec/nodeName")),
        or_none(""),
        or_none(""),
    ]
}

fn node_cells(node: &Value, now: SystemTime) -> Vec<Value> {
    // Any Ready status but True reads NotReady; only a node without the condition is Unknown.
    let mut status = match condition(node, "Ready").map(|c| c.get("status").and_then(Value::as_str) == Some("True")) {
        Some(true) => "Ready".to_string(),
        Some(false) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<&str> = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| l.keys().filter_map(|k| k.strip_prefix("node-role.kubernetes.io/")).collect())
        .unwrap_or_default();
    roles.sort_unstable();
    let address = |kind: &str| {
        node.pointer("/status/addresses")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|a| a.get("type").and_then(Value::as_str) == Some(kind)))
            .and_then(|a| a.get("address"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    vec![
        json!(str_at(node, "/metadata/name")),
        json!(status),
        or_none(&roles.join(",")),
        age(node, now),
        json!(str_at(node, "/status/nodeInfo/kubeletVersion")),
        or_none(&address("InternalIP")),
        or_none(&address("ExternalIP")),
        json!(str_at(node, "/status/nodeInfo/osImage")),
        json!(str_at(node, "/status/nodeInfo/kernelVersion")),
        json!(str_at(node, "/status/nodeInfo/containerRuntimeVersion")),
    ]
}

/// `Pending`, `Approved,Issued`, `Denied`: the CONDITION column of `get csr`.
pub fn csr_condition(csr: &Value) -> String {
    let has = |kind: &str| {
        condition_field(csr, kind, "status") == "True"
            || condition(csr, kind).is_some_and(|c| c.get("status").is_none())
    };
    let mut text = if has("Denied") {
        "Denied".to_string()
    } else if has("Approved") {
        "Approved".to_string()
    } else {
        "Pending".to_string()
    };
    if has("Failed") {
        text.push_str(",Failed");
    }
    if !str_at(csr, "/status/certificate").is_empty() {
        text.push_str(",Issued");
    }
    text
}

fn csr_cells(csr: &Value, now: SystemTime) -> Vec<Value> {
    let duration = csr
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_u64)
        .map(|s| human_duration(Duration::from_secs(s)))
        .unwrap_or_default();
    vec![
        json!(str_at(csr, "/metadata/name")),
        age(csr, now),
        json!(str_at(csr, "/spec/signerName")),
        json!(str_at(csr, "/spec/username")),
        or_none(&duration),
        json!(csr_condition(csr)),
    ]
}

fn since(object: &Value, kind: &str, now: SystemTime) -> Value {
    let at = condition_field(object, kind, "lastTransitionTime");
    if at.is_empty() {
        json!("")
    } else {
        json!(age_of(&at, now))
    }
}

fn completed_version(history: Option<&Value>) -> String {
    history
        .and_then(Value::as_array)
        .and_then(|h| h.iter().find(|e| e.get("state").and_then(Value::as_str) == Some("Completed")))
        .and_then(|e| e.get("version"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn cells(kind: &str, object: &Value, now: SystemTime) -> Vec<Value> {
    let name = json!(str_at(object, "/metadata/name"));
    let count = |pointer: &str| object.pointer(pointer).and_then(Value::as_object).map_or(0, |m| m.len());
    match kind {
        "Pod" => pod_cells(object, now),
        "Node" => node_cells(object, now),
        "CertificateSigningRequest" => csr_cells(object, now),
        "Secret" => vec![name, json!(str_at(object, "/type")), json!(count("/data")), age(object, now)],
        "ConfigMap" => vec![name, json!(count("/data") + count("/binaryData")), age(object, now)],
        "Namespace" => vec![name, json!(str_at(object, "/status/phase")), age(object, now)],
        "Deployment" => vec![
            name,
            json!(format!("{}/{}", int_at(object, "/status/readyReplicas"), int_at(object, "/spec/replicas"))),
            json!(int_at(object, "/status/updatedReplicas")),
            json!(int_at(object, "/status/availableReplicas")),
            age(object, now),
        ],
        "StatefulSet" => vec![
            name,
            json!(format!("{}/{}", int_at(object, "/status/readyReplicas"), int_at(object, "/spec/replicas"))),
            age(object, now),
        ],
        "DaemonSet" => {
            let selector = object
                .pointer("/spec/template/spec/nodeSelector")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(",")
                })
                .unwrap_or_default();
            vec![
                name,
                json!(int_at(object, "/status/desiredNumberScheduled")),
                json!(int_at(object, "/status/currentNumberScheduled")),
                json!(int_at(object, "/status/numberReady")),
                json!(int_at(object, "/status/updatedNumberScheduled")),
                json!(int_at(object, "/status/numberAvailable")),
                or_none(&selector),
                age(object, now),
            ]
        }
        "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration" => {
            let webhooks = object.get("webhooks").and_then(Value::as_array).map_or(0, Vec::len);
            vec![name, json!(webhooks), age(object, now)]
        }
        "PersistentVolumeClaim" => {
            let modes = object
                .pointer("/status/accessModes")
                .and_then(Value::as_array)
                .map(|m| {
                    m.iter()
                        .filter_map(Value::as_str)
                        .map(|m| match m {
                            "ReadWriteOnce" => "RWO",
                            "ReadOnlyMany" => "ROX",
                            "ReadWriteMany" => "RWX",
                            other => other,
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            // As kube-apiserver's printer: a claim being deleted shows Terminating.
            let phase = if object.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) {
                "Terminating"
            } else {
                str_at(object, "/status/phase")
            };
            vec![
                name,
                json!(phase),
                json!(str_at(object, "/spec/volumeName")),
                json!(str_at(object, "/status/capacity/storage")),
                json!(modes),
                json!(str_at(object, "/spec/storageClassName")),
                json!("<unset>"),
                age(object, now),
            ]
        }
        "ClusterOperator" => {
            let version = object
                .pointer("/status/versions")
                .and_then(Value::as_array)
                .and_then(|v| v.iter().find(|v| v.get("name").and_then(Value::as_str) == Some("operator")))
                .and_then(|v| v.get("version"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let message = ["Degraded", "Progressing", "Available"]
                .iter()
                .map(|k| condition_field(object, k, "message"))
                .find(|m| !m.is_empty())
                .unwrap_or_default();
            vec![
                name,
                json!(version),
                json!(condition_field(object, "Available", "status")),
                json!(condition_field(object, "Progressing", "status")),
                json!(condition_field(object, "Degraded", "status")),
                since(object, "Available", now),
                json!(message),
            ]
        }
        "ClusterVersion" => vec![
            name,
            json!(completed_version(object.pointer("/status/history"))),
            json!(condition_field(object, "Available", "status")),
            json!(condition_field(object, "Progressing", "status")),
            since(object, "Progressing", now),
            json!(condition_field(object, "Progressing", "message")),
        ],
        "Machine" => {
            let label = |k: &str| json!(str_at(object, &format!("/metadata/labels/{}", k.replace('/', "~1"))));
            vec![
                name,
                json!(str_at(object, "/status/phase")),
                label("machine.openshift.io/instance-type"),
                label("machine.openshift.io/region"),
                label("machine.openshift.io/zone"),
                age(object, now),
                json!(str_at(object, "/status/nodeRef/name")),
                json!(str_at(object, "/spec/providerID")),
                json!(str_at(object, "/metadata/annotations/machine.openshift.io~1instance-state")),
            ]
        }
        "HostedCluster" => {
            let history = object.pointer("/status/version/history");
            let progress = history
                .and_then(Value::as_array)
                .and_then(|h| h.first())
                .and_then(|e| e.get("state"))
                .and_then(Value::as_str)
                .unwrap_or("");
            vec![
                name,
                json!(completed_version(history)),
                json!(str_at(object, "/status/kubeconfig/name")),
                json!(progress),
                json!(condition_field(object, "Available", "status")),
                json!(condition_field(object, "Progressing", "status")),
                json!(condition_field(object, "Available", "message")),
            ]
        }
        "NodePool" => vec![
            name,
            json!(str_at(object, "/spec/clusterName")),
            json!(int_at(object, "/spec/replicas")),
            json!(int_at(object, "/status/replicas")),
            json!(str_at(object, "/status/version")),
            age(object, now),
        ],
        _ => vec![name, age(object, now)],
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(text: Option<&str>) -> Self {
        match text {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

fn row(kind: &str, object: &Value, include: IncludeObject, now: SystemTime) -> Value {
    let mut row = json!({"cells": cells(kind, object, now)});
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            row["object"] = json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": object.get("metadata").cloned().unwrap_or(Value::Null),
            })
        }
        IncludeObject::Object => row["object"] = object.clone(),
    }
    row
}

/// A Table of `objects`; `headers` false for a watch event after the first.
pub fn table(
    kind: &str,
    objects: &[Value],
    revision: u64,
    include: IncludeObject,
    headers: bool,
    continue_token: Option<&str>,
) -> Value {
    let now = SystemTime::now();
    let definitions: Value = if headers {
        columns(kind)
            .iter()
            .map(|c| {
                let mut d = json!({"name": c.name, "type": c.kind, "format": "", "description": c.name, "priority": c.priority});
                if c.name == "Name" {
                    d["format"] = json!("name");
                }
                d
            })
            .collect::<Vec<_>>()
            .into()
    } else {
        Value::Null
    };
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if let Some(token) = continue_token {
        metadata["continue"] = json!(token);
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": objects.iter().map(|o| row(kind, o, include, now)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_kubectl() {
        let d = |s| human_duration(Duration::from_secs(s));
        assert_eq!(d(85), "85s");
        assert_eq!(d(8 * 60 + 3), "8m3s");
        assert_eq!(d(13 * 60), "13m");
        assert_eq!(d(175 * 60), "175m");
        assert_eq!(d(3 * 3600 + 37 * 60), "3h37m");
        assert_eq!(d(9 * 3600 + 5), "9h");
        assert_eq!(d(3 * 86_400 + 20 * 3600), "3d20h");
        assert_eq!(d(120 * 86_400), "120d");
        assert_eq!(d(3 * 365 * 86_400 + 10 * 86_400), "3y10d");
    }

    #[test]
    fn csr_conditions() {
        let pending = json!({"status": {}});
        assert_eq!(csr_condition(&pending), "Pending");
        let issued = json!({"status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"}});
        assert_eq!(csr_condition(&issued), "Approved,Issued");
    }

    #[test]
    fn a_stopped_etcd_pod_shows_its_container_not_ready() {
        let pod = json!({
            "metadata": {"name": "etcd-master-1", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"nodeName": "master-1", "containers": [{"name": "etcd"}, {"name": "etcdctl"}]},
            "status": {"phase": "Running", "podIP": "127.0.0.12", "containerStatuses": [
                {"name": "etcd", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                {"name": "etcdctl", "ready": true, "restartCount": 0, "state": {"running": {}}}]}
        });
        let cells = pod_cells(&pod, SystemTime::now());
        assert_eq!(cells[1], json!("1/2"));
        assert_eq!(cells[2], json!("CrashLoopBackOff"));
        assert_eq!(cells[5], json!("127.0.0.12"));
    }
}
