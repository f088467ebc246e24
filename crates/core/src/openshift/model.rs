//! What the runbooks read from the OpenShift API, as plain values: the
//! encryption state, the static-pod rollouts, the related ClusterOperators,
//! and the safety banners. Built from the objects' JSON by pure functions
//! (tested on the lab's objects), fetched by `observe`.

use serde::Serialize;
use serde_json::Value;

/// One operator's `Encrypted` condition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EncryptedCondition {
    /// `openshiftapiserver`, `kubeapiserver`, `authentication.operator.openshift.io`.
    pub resource: String,
    pub status: String,
    pub reason: String,
    pub message: String,
    pub since: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Encryption {
    /// APIServer `spec.encryption.type`: `identity` when unset.
    #[serde(rename = "type")]
    pub kind: String,
    pub conditions: Vec<EncryptedCondition>,
}

impl Encryption {
    /// Every operator reports its migration done for the configured type.
    pub fn settled(&self) -> bool {
        !self.conditions.is_empty() && self.done() == self.conditions.len()
    }

    /// How many operators report their migration done for the configured type.
    pub fn done(&self) -> usize {
        let done = if self.kind == "identity" {
            ["DecryptionCompleted", "EncryptionDisabled"]
        } else {
            ["EncryptionCompleted"; 2]
        };
        self.conditions.iter().filter(|c| done.contains(&c.reason.as_str())).count()
    }

    /// A migration runs: an operator says so, or its condition contradicts the configured
    /// type (the type was just changed and the operators have not begun). A switch between
    /// aescbc and aesgcm reads `EncryptionCompleted` until they begin: that window is not seen.
    pub fn in_progress(&self) -> bool {
        self.conditions.iter().any(|c| {
            c.reason.ends_with("InProgress")
                || match self.kind.as_str() {
                    "identity" => c.reason == "EncryptionCompleted",
                    _ => c.reason == "DecryptionCompleted" || c.reason == "EncryptionDisabled",
                }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeRevision {
    pub name: String,
    pub current_revision: i64,
    pub target_revision: Option<i64>,
    pub last_failed_revision: Option<i64>,
}

/// A static-pod operator's `NodeInstallerProgressing` and per-node revisions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rollout {
    /// `etcd`, `kubeapiserver`, `kubecontrollermanager`, `kubescheduler`.
    pub operator: String,
    pub progressing: bool,
    pub reason: String,
    pub message: String,
    pub since: Option<String>,
    /// `status.latestAvailableRevision`; 0 when the object has no status yet (see `status_reported`).
    pub latest_revision: i64,
    pub nodes: Vec<NodeRevision>,
    pub force_redeployment_reason: Option<String>,
    /// The operator object has a `status` at all: during an installation it may have none yet, and
    /// then nothing is known of its rollout (not "settled at revision 0").
    pub status_reported: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperatorStatus {
    pub name: String,
    pub available: String,
    pub progressing: String,
    pub degraded: String,
    pub message: String,
}

fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

fn text(value: Option<&Value>, field: &str) -> String {
    value.and_then(|v| v.get(field)).and_then(Value::as_str).unwrap_or("").to_string()
}

/// The encryption state from APIServer `cluster` and the operators' objects
/// (an operator without the condition, as on older clusters, is left out).
pub fn encryption(apiserver: Option<&Value>, operators: &[(&str, Option<&Value>)]) -> Encryption {
    let kind = apiserver.and_then(|a| a.pointer("/spec/encryption/type")).and_then(Value::as_str).unwrap_or("");
    let conditions = operators
        .iter()
        .filter_map(|(resource, object)| {
            let c = condition((*object)?, "Encrypted")?;
            Some(EncryptedCondition {
                resource: resource.to_string(),
                status: text(Some(c), "status"),
                reason: text(Some(c), "reason"),
                message: text(Some(c), "message"),
                since: c.get("lastTransitionTime").and_then(Value::as_str).map(str::to_string),
            })
        })
        .collect();
    Encryption { kind: if kind.is_empty() { "identity".into() } else { kind.into() }, conditions }
}

pub fn rollout(operator: &str, object: &Value) -> Rollout {
    let c = condition(object, "NodeInstallerProgressing");
    let int = |v: &Value, f: &str| v.get(f).and_then(Value::as_i64);
    let nodes = object
        .pointer("/status/nodeStatuses")
        .and_then(Value::as_array)
        .map(|nodes| {
            nodes
                .iter()
                .map(|n| NodeRevision {
                    name: text(Some(n), "nodeName"),
                    current_revision: int(n, "currentRevision").unwrap_or(0),
                    target_revision: int(n, "targetRevision"),
                    last_failed_revision: int(n, "lastFailedRevision"),
                })
                .collect()
        })
        .unwrap_or_default();
    Rollout {
        operator: operator.to_string(),
        progressing: text(c, "status") == "True",
        reason: text(c, "reason"),
        message: text(c, "message"),
        since: c.and_then(|c| c.get("lastTransitionTime")).and_then(Value::as_str).map(str::to_string),
        latest_revision: object.pointer("/status/latestAvailableRevision").and_then(Value::as_i64).unwrap_or(0),
        nodes,
        force_redeployment_reason: object
            .pointer("/spec/forceRedeploymentReason")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .map(str::to_string),
        status_reported: object.get("status").is_some_and(|s| s.as_object().is_some_and(|s| !s.is_empty())),
    }
}

pub fn cluster_operator(object: &Value) -> OperatorStatus {
    let status = |kind: &str| text(condition(object, kind), "status");
    let message = ["Degraded", "Progressing", "Available"]
        .iter()
        .map(|k| text(condition(object, k), "message"))
        .find(|m| !m.is_empty())
        .unwrap_or_default();
    OperatorStatus {
        name: text(object.get("metadata"), "name"),
        available: status("Available"),
        progressing: status("Progressing"),
        degraded: status("Degraded"),
        message,
    }
}

/// One node as the node pane shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeRow {
    pub name: String,
    /// `Ready`'s status: `True`, `False` or `Unknown` (`Unknown` when the node has no Ready).
    pub ready: String,
    /// When `Ready` last changed (RFC 3339), as the node says.
    pub ready_since: Option<String>,
    /// The `node-role.kubernetes.io/<role>` labels' roles, sorted.
    pub roles: Vec<String>,
    /// `status.nodeInfo.kubeletVersion`.
    pub kubelet_version: Option<String>,
}

impl NodeRow {
    pub fn is_ready(&self) -> bool {
        self.ready == "True"
    }
}

const ROLE_LABEL: &str = "node-role.kubernetes.io/";

/// A node's row, from the Node object (or the cut of it the watch keeps).
pub fn node_row(node: &Value) -> Option<NodeRow> {
    let name = node.pointer("/metadata/name")?.as_str()?.to_string();
    let ready = condition(node, "Ready");
    let mut roles: Vec<String> = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| labels.keys().filter_map(|k| k.strip_prefix(ROLE_LABEL)).map(str::to_string).collect())
        .unwrap_or_default();
    roles.sort();
    Some(NodeRow {
        name,
        ready: ready.map(|c| text(Some(c), "status")).filter(|s| !s.is_empty()).unwrap_or_else(|| "Unknown".into()),
        ready_since: ready.and_then(|c| c.get("lastTransitionTime")).and_then(Value::as_str).map(str::to_string),
        roles,
        kubelet_version: node.pointer("/status/nodeInfo/kubeletVersion").and_then(Value::as_str).map(str::to_string),
    })
}

/// A node cut to what the console reads of it (its name, role labels, kubelet version and
/// `Ready` without its heartbeat), so a watch of every node hands the console little and a
/// heartbeat alone changes nothing.
pub fn slim_node(node: &Value) -> Value {
    let mut ready = condition(node, "Ready").cloned();
    if let Some(Value::Object(c)) = ready.as_mut() {
        c.remove("lastHeartbeatTime");
    }
    let roles: serde_json::Map<String, Value> = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels.iter().filter(|(k, _)| k.starts_with(ROLE_LABEL)).map(|(k, v)| (k.clone(), v.clone())).collect()
        })
        .unwrap_or_default();
    serde_json::json!({
        "metadata": {"name": node.pointer("/metadata/name").cloned().unwrap_or(Value::Null), "labels": roles},
        "status": {
            "conditions": ready.into_iter().collect::<Vec<Value>>(),
            "nodeInfo": {"kubeletVersion": node.pointer("/status/nodeInfo/kubeletVersion").cloned().unwrap_or(Value::Null)},
        },
    })
}

/// The quorum guard is off while etcd runs with this override (restore step 16 until step 19).
pub fn quorum_guard_off(etcd: &Value) -> bool {
    etcd.pointer("/spec/unsupportedConfigOverrides/useUnsupportedUnsafeNonHANonProductionUnstableEtcd")
        .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"))
}

/// The warnings that must stay on screen until resolved.
pub fn banners(etcd: Option<&Value>, rollouts: &[Rollout], encryption: &Encryption) -> Vec<String> {
    let mut banners = Vec::new();
    if etcd.is_some_and(quorum_guard_off) {
        banners.push(
            "quorum guard disabled: etcd/cluster has spec.unsupportedConfigOverrides.useUnsupportedUnsafeNonHANonProductionUnstableEtcd; remove it once the members are back".into(),
        );
    }
    for r in rollouts.iter().filter(|r| r.progressing) {
        let forced = r
            .force_redeployment_reason
            .as_deref()
            .map(|f| format!(" (forceRedeploymentReason {f})"))
            .unwrap_or_default();
        banners.push(format!("{} rolling to revision {}{forced}: {}", r.operator, r.latest_revision, r.message));
    }
    if encryption.in_progress() {
        banners.push(format!(
            "encryption migration to {} in progress: take no backup until it completes",
            encryption.kind
        ));
    }
    banners
}

/// What a HostedCluster says of itself that the runbooks care about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostedClusterState {
    pub namespace: String,
    pub name: String,
    /// `spec.pausedUntil` when reconciliation is paused (`"true"` or a date still ahead).
    pub paused_until: Option<String>,
    /// `spec.secretEncryption.type` and the active key's secret.
    pub secret_encryption: Option<String>,
    pub active_key: Option<String>,
    /// `type: kms`: the provider (`AWS`, `Azure`, `IBMCloud`) and its active key as the HostedCluster
    /// names it (an AWS key ARN; Azure `vault/key/version`; IBM Cloud the newest key's CRK ID). It
    /// lives in the provider, never in a secret: it cannot be exported with a backup.
    pub kms_provider: Option<String>,
    pub kms_active_key: Option<String>,
}

pub fn hosted_cluster(object: &Value, now: std::time::SystemTime) -> HostedClusterState {
    let text = |p: &str| object.pointer(p).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let paused_until = text("/spec/pausedUntil")
        .filter(|until| until == "true" || humantime::parse_rfc3339(until).is_ok_and(|at| at > now));
    let kind = text("/spec/secretEncryption/type");
    let active_key = kind.as_deref().and_then(|k| text(&format!("/spec/secretEncryption/{k}/activeKey/name")));
    let kms_provider = text("/spec/secretEncryption/kms/provider").filter(|_| kind.as_deref() == Some("kms"));
    let kms_active_key = kms_provider.as_deref().and_then(|provider| match provider.to_ascii_lowercase().as_str() {
        "aws" => text("/spec/secretEncryption/kms/aws/activeKey/arn"),
        "azure" => {
            let part = |p: &str| text(&format!("/spec/secretEncryption/kms/azure/activeKey/{p}"));
            let parts: Vec<String> = ["keyVaultName", "keyName", "keyVersion"].iter().filter_map(|p| part(p)).collect();
            (!parts.is_empty()).then(|| parts.join("/"))
        }
        "ibmcloud" => object
            .pointer("/spec/secretEncryption/kms/ibmcloud/keyList")
            .and_then(Value::as_array)
            .and_then(|keys| keys.iter().max_by_key(|k| k.get("keyVersion").and_then(Value::as_i64).unwrap_or(0)))
            .and_then(|k| k.get("crkID"))
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    });
    HostedClusterState {
        namespace: text("/metadata/namespace").unwrap_or_default(),
        name: text("/metadata/name").unwrap_or_default(),
        paused_until,
        secret_encryption: kind,
        active_key,
        kms_provider,
        kms_active_key,
    }
}

/// A paused HostedCluster must not be forgotten: its control plane is not reconciled.
pub fn hosted_banners(clusters: &[HostedClusterState]) -> Vec<String> {
    clusters
        .iter()
        .filter_map(|c| {
            c.paused_until.as_ref().map(|until| {
                format!(
                    "HostedCluster {}/{} reconciliation paused (pausedUntil {until}): resume it when the work is done",
                    c.namespace, c.name
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Encrypted condition worded as the operators word it (the library-go encryption controllers).
    fn encrypted_condition(status: &str, reason: &str, message: &str) -> serde_json::Value {
        serde_json::json!({"type": "Encrypted", "status": status, "reason": reason, "message": message,
                           "lastTransitionTime": "2026-11-22T00:00:00Z"})
    }

    #[test]
    fn a_rollout_reads_as_the_operator_wrote_it() {
        // A static-pod operator's status mid-rollout, as cluster-etcd-operator writes it.
        let status = serde_json::json!({
            "latestAvailableRevision": 8,
            "readyReplicas": 0,
            "conditions": [
                {"type": "NodeInstallerProgressing", "status": "True", "reason": "NodeInstaller",
                 "message": "2 nodes are at revision 7; 1 nodes are at revision 8", "lastTransitionTime": "2026-11-22T00:00:00Z"},
                {"type": "NodeInstallerDegraded", "status": "False", "reason": "", "message": "", "lastTransitionTime": "2026-11-22T00:00:00Z"},
                {"type": "StaticPodsAvailable", "status": "True", "reason": "AsExpected",
                 "message": "3 nodes are active; 2 nodes are at revision 7; 1 nodes are at revision 8", "lastTransitionTime": "2026-11-22T00:00:00Z"},
            ],
            "nodeStatuses": [
                {"nodeName": "master-0", "currentRevision": 8},
                {"nodeName": "master-1", "currentRevision": 7, "targetRevision": 8},
                {"nodeName": "master-2", "currentRevision": 7, "targetRevision": 8},
            ],
        });
        let object = serde_json::json!({"spec": {"forceRedeploymentReason": "recovery-1"}, "status": status});
        let r = rollout("etcd", &object);
        assert!(r.progressing);
        assert_eq!(r.message, "2 nodes are at revision 7; 1 nodes are at revision 8");
        assert_eq!(r.latest_revision, 8);
        assert_eq!(
            r.nodes[1],
            NodeRevision {
                name: "master-1".into(),
                current_revision: 7,
                target_revision: Some(8),
                last_failed_revision: None
            }
        );
        let b = banners(None, &[r], &encryption(None, &[]));
        assert_eq!(b, ["etcd rolling to revision 8 (forceRedeploymentReason recovery-1): 2 nodes are at revision 7; 1 nodes are at revision 8"]);
    }

    #[test]
    fn a_paused_hosted_cluster_is_a_banner_and_its_encryption_key_is_named() {
        let now = std::time::SystemTime::now();
        let hc = serde_json::json!({"metadata": {"namespace": "clusters", "name": "hosted"},
            "spec": {"pausedUntil": "true", "secretEncryption": {"type": "aescbc", "aescbc": {"activeKey": {"name": "hosted-etcd-encryption-key"}}}}});
        let state = hosted_cluster(&hc, now);
        assert_eq!(state.secret_encryption.as_deref(), Some("aescbc"));
        assert_eq!(state.active_key.as_deref(), Some("hosted-etcd-encryption-key"));
        assert_eq!(
            hosted_banners(&[state]),
            ["HostedCluster clusters/hosted reconciliation paused (pausedUntil true): resume it when the work is done"]
        );
        let past = serde_json::json!({"metadata": {"name": "h"}, "spec": {"pausedUntil": "2020-01-01T00:00:00Z"}});
        assert!(hosted_cluster(&past, now).paused_until.is_none(), "a date gone by no longer pauses");
    }

    #[test]
    fn encryption_and_the_quorum_guard() {
        let kas = serde_json::json!({"status": {"conditions": [encrypted_condition("False", "EncryptionInProgress", "Encryption (aescbc) in progress for: secrets, configmaps")]}});
        let auth_old = serde_json::json!({"status": {"conditions": []}});
        let apiserver = serde_json::json!({"spec": {"encryption": {"type": "aescbc"}}});
        let e = encryption(
            Some(&apiserver),
            &[("kubeapiserver", Some(&kas)), ("authentication.operator.openshift.io", Some(&auth_old))],
        );
        assert_eq!(e.kind, "aescbc");
        assert_eq!(e.conditions.len(), 1, "an operator without the condition (older clusters) is left out");
        assert!(e.in_progress() && !e.settled());
        let etcd = serde_json::json!({"spec": {"unsupportedConfigOverrides": {"useUnsupportedUnsafeNonHANonProductionUnstableEtcd": true}}});
        let b = banners(Some(&etcd), &[], &e);
        assert!(b[0].starts_with("quorum guard disabled"));
        assert!(b[1].contains("take no backup"));
        assert_eq!(encryption(None, &[]).kind, "identity");
        // Just patched, not begun: the conditions still say the old state.
        let disabled = serde_json::json!({"status": {"conditions": [encrypted_condition("False", "EncryptionDisabled", "Encryption is not enabled")]}});
        let pending = encryption(Some(&apiserver), &[("kubeapiserver", Some(&disabled))]);
        assert!(pending.in_progress(), "aescbc asked, encryption still disabled");
        assert!(!encryption(None, &[("kubeapiserver", Some(&disabled))]).in_progress(), "identity and disabled agree");
    }

    #[test]
    fn a_node_row_reads_ready_roles_and_the_kubelet_and_the_cut_keeps_them_without_the_heartbeat() {
        let node = serde_json::json!({
            "metadata": {"name": "master-0", "labels": {
                "node-role.kubernetes.io/master": "", "node-role.kubernetes.io/control-plane": "",
                "kubernetes.io/os": "linux"}},
            "status": {
                "conditions": [
                    {"type": "MemoryPressure", "status": "False"},
                    {"type": "Ready", "status": "False", "reason": "KubeletNotReady",
                     "lastHeartbeatTime": "2026-12-01T00:09:00Z", "lastTransitionTime": "2026-12-01T00:00:00Z"}],
                "nodeInfo": {"kubeletVersion": "v1.27.6+f67aeb3", "osImage": "RHCOS"}
            }
        });
        let expected = NodeRow {
            name: "master-0".into(),
            ready: "False".into(),
            ready_since: Some("2026-12-01T00:00:00Z".into()),
            roles: vec!["control-plane".into(), "master".into()],
            kubelet_version: Some("v1.27.6+f67aeb3".into()),
        };
        assert_eq!(node_row(&node), Some(expected.clone()));
        let slim = slim_node(&node);
        assert_eq!(node_row(&slim), Some(expected));
        assert!(slim.pointer("/status/conditions/0/lastHeartbeatTime").is_none());
        assert!(slim.pointer("/metadata/labels/kubernetes.io~1os").is_none());
        // A node without Ready is not taken as ready.
        let bare = serde_json::json!({"metadata": {"name": "new-3"}});
        assert_eq!(node_row(&bare).map(|n| (n.ready, n.roles.len())), Some(("Unknown".into(), 0)));
    }
}
