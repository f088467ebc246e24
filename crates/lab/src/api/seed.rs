//! The objects a fresh lab cluster holds: what `oc get` shows on an OpenShift
//! 4.14 cluster installed three days ago (standalone), or on a HyperShift
//! management cluster (hosted), shaped by the scenario.

use std::time::{Duration, SystemTime};

use base64::Engine;
use serde_json::{json, Value};

use super::catalog;
use super::errors::ApiError;
use super::operators::{set_condition, DEGRADES_AT, MIGRATION};
use super::store::{rfc3339, str_at, Store};
use crate::scenario::{ClusterSetup, Scenario};

pub const OCP_VERSION: &str = "4.14.8";
pub const KUBELET_VERSION: &str = "v1.27.6+f67aeb3";
pub const RELEASE_IMAGE: &str = "quay.io/openshift-release-dev/ocp-release:4.14.8-x86_64";
pub const LATEST_REVISION: i64 = 7;
pub const HOSTED_NAME: &str = "hosted";
pub const HOSTED_NAMESPACE: &str = "clusters";
pub const HOSTED_CP_NAMESPACE: &str = "clusters-hosted";
pub const INFRA_ID: &str = "lab-7xk2p";

/// What the API needs to know of one real etcd member.
#[derive(Debug, Clone)]
pub struct MemberView {
    pub name: String,
    pub ip: String,
    /// The address the cluster gives it (pod IP, advertised client URL): its own
    /// `ip`, or with an isolated pod network one the bastion cannot reach.
    pub pod_ip: String,
    pub client_port: u16,
    pub peer_port: u16,
    pub pid: Option<i32>,
    /// The backend quota its etcd runs with (`--quota-backend-bytes`; 0: none given).
    pub quota_bytes: u64,
}

impl MemberView {
    /// The etcd container's command as a pod shows it: the member's etcd, with the flags
    /// that tell it apart, its quota among them, as the lab starts it.
    pub fn etcd_command(&self, name: &str) -> Vec<String> {
        let mut command = vec![
            "etcd".to_string(),
            format!("--name={name}"),
            "--data-dir=/var/lib/etcd".to_string(),
            format!("--listen-client-urls=https://0.0.0.0:{}", self.client_port),
            format!("--advertise-client-urls=https://{}:{}", self.pod_ip, self.client_port),
            format!("--listen-peer-urls=https://0.0.0.0:{}", self.peer_port),
        ];
        if self.quota_bytes > 0 {
            command.push(format!("--quota-backend-bytes={}", self.quota_bytes));
        }
        command
    }
}

/// PEM texts the cluster's secrets carry (the lab's real certificates).
#[derive(Debug, Clone)]
pub struct SeedPki {
    pub ca_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

pub fn b64(text: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

pub struct Seeder<'a> {
    pub store: &'a Store,
    pub installed: SystemTime,
    /// Where the API serves (the Infrastructure's apiServerURL).
    pub api_url: String,
}

impl Seeder<'_> {
    fn at(&self, after_install: Duration) -> String {
        rfc3339(self.installed + after_install)
    }

    pub fn put(&self, group: &str, kind: &str, namespace: &str, mut object: Value) -> Result<Value, ApiError> {
        let index = catalog::by_kind(group, kind).ok_or_else(ApiError::no_such_resource)?;
        if object.pointer("/metadata/creationTimestamp").is_none() {
            object["metadata"]["creationTimestamp"] = json!(self.at(Duration::ZERO));
        }
        self.store.create(index, namespace, object, false)
    }
}

pub fn condition(kind: &str, status: &str, reason: &str, message: &str, at: &str) -> Value {
    json!({"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": at})
}

/// A node condition also carries when the kubelet last reported it.
fn node_condition(kind: &str, status: &str, reason: &str, message: &str, at: &str, heartbeat: &str) -> Value {
    let mut c = condition(kind, status, reason, message, at);
    c["lastHeartbeatTime"] = json!(heartbeat);
    c
}

/// `N nodes are at revision R` groups, newest last, as the static-pod operators word it.
pub fn revision_message(revisions: &[i64]) -> String {
    let mut counts: Vec<(i64, usize)> = Vec::new();
    for r in revisions {
        match counts.iter_mut().find(|(rev, _)| rev == r) {
            Some((_, n)) => *n += 1,
            None => counts.push((*r, 1)),
        }
    }
    counts.sort_unstable();
    counts.iter().map(|(r, n)| format!("{n} nodes are at revision {r}")).collect::<Vec<_>>().join("; ")
}

/// The NodeInstallerProgressing message while rolling to `latest`.
pub fn rollout_message(revisions: &[i64], latest: i64) -> String {
    let message = revision_message(revisions);
    if revisions.contains(&latest) {
        message
    } else {
        format!("{message}; 0 nodes have achieved new revision {latest}")
    }
}

/// Worker `index`'s InternalIP (worker-0 is 127.0.0.21).
pub fn worker_ip(index: u8) -> String {
    format!("127.0.0.{}", 21 + u16::from(index))
}

fn node(name: &str, ip: &str, role: &str, ready: bool, created: &str) -> Value {
    let ready_condition = if ready {
        node_condition(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
            created,
            &super::store::now_rfc3339(),
        )
    } else {
        node_condition(
            "Ready",
            "Unknown",
            "NodeStatusUnknown",
            "Kubelet stopped posting node status.",
            created,
            created,
        )
    };
    let mut labels = json!({
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.openshift.io/os_id": "rhcos",
    });
    if role == "master" {
        labels["node-role.kubernetes.io/master"] = json!("");
        labels["node-role.kubernetes.io/control-plane"] = json!("");
    } else {
        labels["node-role.kubernetes.io/worker"] = json!("");
    }
    json!({
        "metadata": {"name": name, "labels": labels, "creationTimestamp": created},
        "spec": {"providerID": format!("lab:///{name}")},
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "conditions": [ready_condition],
            "nodeInfo": {
                "kubeletVersion": KUBELET_VERSION,
                "osImage": "Red Hat Enterprise Linux CoreOS 414.92.202312191502-0 (Plow)",
                "kernelVersion": "5.14.0-284.45.1.el9_2.x86_64",
                "containerRuntimeVersion": "cri-o://1.27.2-2.rhaos4.14.gitf3a4e9e.el9",
                "operatingSystem": "linux",
                "architecture": "amd64"
            }
        }
    })
}

fn container_status(name: &str, ready: bool, started: &str) -> Value {
    json!({"name": name, "ready": ready, "started": ready, "restartCount": 0, "state": {"running": {"startedAt": started}},
           "image": "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:etcd", "imageID": ""})
}

/// A pod's annotations; on an isolated pod network, where the lab's kubelet really dials.
fn forward_annotations(member: &MemberView) -> Value {
    let mut annotations =
        json!({"target.workload.openshift.io/management": "{\"effect\": \"PreferredDuringScheduling\"}"});
    if member.pod_ip != member.ip {
        annotations[super::portforward::FORWARD_TO_ANNOTATION] = json!(member.ip);
    }
    annotations
}

/// The etcd pod of a standalone control-plane node.
pub fn etcd_pod(member: &MemberView, revision: i64, created: &str) -> Value {
    let containers = ["etcdctl", "etcd", "etcd-metrics"];
    json!({
        "metadata": {
            "name": format!("etcd-{}", member.name),
            "labels": {"app": "etcd", "k8s-app": "etcd", "etcd": "true", "revision": revision.to_string()},
            "annotations": forward_annotations(member),
            "creationTimestamp": created,
        },
        "spec": {
            "nodeName": member.name,
            "hostNetwork": true,
            "priorityClassName": "system-node-critical",
            "containers": containers.iter().map(|c| {
                let mut container = json!({"name": c, "image": "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:etcd"});
                if *c == "etcd" {
                    container["ports"] = json!([
                        {"name": "etcd", "containerPort": member.client_port, "hostPort": member.client_port, "protocol": "TCP"},
                        {"name": "etcd-peer", "containerPort": member.peer_port, "hostPort": member.peer_port, "protocol": "TCP"}
                    ]);
                    container["env"] = json!([{"name": "ETCDCTL_ENDPOINTS", "value": format!("https://{}:{}", member.pod_ip, member.client_port)}]);
                    container["command"] = json!(member.etcd_command(&member.name));
                }
                container
            }).collect::<Vec<_>>(),
        },
        "status": {
            "phase": "Running",
            "hostIP": member.pod_ip,
            "podIP": member.pod_ip,
            "podIPs": [{"ip": member.pod_ip}],
            "startTime": created,
            "conditions": [condition("Ready", "True", "", "", created)],
            "containerStatuses": containers.iter().map(|c| container_status(c, true, created)).collect::<Vec<_>>(),
        }
    })
}

fn static_pod_operator(kind_status: &Value) -> Value {
    json!({"metadata": {"name": "cluster"}, "spec": {"managementState": "Managed", "logLevel": "Normal", "operatorLogLevel": "Normal"}, "status": kind_status})
}

/// Status of a static-pod operator with each node at a revision.
pub fn static_pod_status(nodes: &[(String, i64)], latest: i64, at: &str) -> Value {
    let revisions: Vec<i64> = nodes.iter().map(|(_, r)| *r).collect();
    let done = revisions.iter().all(|r| *r == latest);
    let progressing = if done {
        condition("NodeInstallerProgressing", "False", "AllNodesAtLatestRevision", &revision_message(&revisions), at)
    } else {
        condition("NodeInstallerProgressing", "True", "NodeInstaller", &rollout_message(&revisions, latest), at)
    };
    json!({
        "latestAvailableRevision": latest,
        "readyReplicas": 0,
        "conditions": [
            progressing,
            condition("NodeInstallerDegraded", "False", "", "", at),
            condition("StaticPodsAvailable", "True", "AsExpected", &format!("{} nodes are active; {}", nodes.len(), revision_message(&revisions)), at),
        ],
        "nodeStatuses": nodes.iter().map(|(name, r)| {
            let mut s = json!({"nodeName": name, "currentRevision": r});
            if *r != latest {
                s["targetRevision"] = json!(latest);
            }
            s
        }).collect::<Vec<_>>(),
    })
}

/// The Encrypted condition for an operator, given the APIServer encryption state.
pub fn encrypted_condition(resources: &str, mode: &str, in_progress: bool, at: &str) -> Value {
    match (mode, in_progress) {
        ("" | "identity", false) if mode.is_empty() => {
            condition("Encrypted", "False", "EncryptionDisabled", "Encryption is not enabled", at)
        }
        ("" | "identity", false) => condition(
            "Encrypted",
            "False",
            "DecryptionCompleted",
            "Encryption mode set to identity and everything is decrypted",
            at,
        ),
        ("" | "identity", true) => condition(
            "Encrypted",
            "False",
            "DecryptionInProgress",
            &format!("Decryption in progress for: {resources}"),
            at,
        ),
        (_, true) => condition(
            "Encrypted",
            "False",
            "EncryptionInProgress",
            &format!("Encryption ({mode}) in progress for: {resources}"),
            at,
        ),
        (_, false) => {
            condition("Encrypted", "True", "EncryptionCompleted", &format!("All resources encrypted: {resources}"), at)
        }
    }
}

/// An operator that migrates resources when APIServer spec.encryption.type changes.
#[derive(Debug)]
pub struct EncryptingOperator {
    /// Its operator.openshift.io kind.
    pub kind: &'static str,
    /// What a scenario calls it (`encryption_degrades`): the kind in lower case.
    pub name: &'static str,
    /// The component its key secrets in openshift-config-managed are for.
    pub component: &'static str,
    /// Its ClusterOperator.
    pub cluster_operator: &'static str,
    /// What it migrates (4.14 wording).
    pub resources: &'static str,
    /// When it reports EncryptionCompleted, as a share of MIGRATION after the start.
    pub finishes: f64,
}

const OPENSHIFT_APISERVER: EncryptingOperator = EncryptingOperator {
    kind: "OpenShiftAPIServer",
    name: "openshiftapiserver",
    component: "openshift-apiserver",
    cluster_operator: "openshift-apiserver",
    resources: "routes.route.openshift.io",
    finishes: 0.5,
};
const KUBE_APISERVER: EncryptingOperator = EncryptingOperator {
    kind: "KubeAPIServer",
    name: "kubeapiserver",
    component: "openshift-kube-apiserver",
    cluster_operator: "kube-apiserver",
    resources: "secrets, configmaps",
    finishes: 1.0,
};

/// The three operators that report Encrypted on 4.14.
pub const ENCRYPTING_OPERATORS: &[EncryptingOperator] = &[
    OPENSHIFT_APISERVER,
    KUBE_APISERVER,
    EncryptingOperator {
        kind: "Authentication",
        name: "authentication",
        component: "openshift-oauth-apiserver",
        cluster_operator: "authentication",
        resources: "oauthaccesstokens.oauth.openshift.io, oauthauthorizetokens.oauth.openshift.io",
        finishes: 0.75,
    },
];

/// The two of a 4.5/4.6 cluster: the OpenShift API server still migrates the OAuth tokens.
pub const ENCRYPTING_OPERATORS_OLDER: &[EncryptingOperator] = &[
    EncryptingOperator {
        resources:
            "routes.route.openshift.io, oauthaccesstokens.oauth.openshift.io, oauthauthorizetokens.oauth.openshift.io",
        ..OPENSHIFT_APISERVER
    },
    KUBE_APISERVER,
];

/// The operators that encrypt on a cluster where `count` (2 or 3) of them report Encrypted.
pub fn encrypting_operators(count: u8) -> &'static [EncryptingOperator] {
    if count == 2 {
        ENCRYPTING_OPERATORS_OLDER
    } else {
        ENCRYPTING_OPERATORS
    }
}

/// What a failing migration controller says: one of its resources timed out.
pub fn migration_degraded_message(operator: &EncryptingOperator) -> String {
    format!(
        "EncryptionMigrationControllerDegraded: migrating {} failed: etcdserver: request timed out",
        operator.resources
    )
}

/// The operator's own condition while its migration controller fails (or not).
pub fn migration_degraded_condition(operator: &EncryptingOperator, degraded: bool, at: &str) -> Value {
    if degraded {
        condition("EncryptionMigrationControllerDegraded", "True", "Error", &migration_degraded_message(operator), at)
    } else {
        condition("EncryptionMigrationControllerDegraded", "False", "AsExpected", "", at)
    }
}

/// Its ClusterOperator's Degraded condition while the migration controller fails.
pub fn migration_degraded_cluster_condition(operator: &EncryptingOperator, at: &str) -> Value {
    condition("Degraded", "True", "EncryptionMigrationController_Error", &migration_degraded_message(operator), at)
}

/// Cluster time the scenario's migration has been running when the lab starts.
pub fn migration_elapsed(setup: &ClusterSetup) -> Option<Duration> {
    setup.encryption_started_minutes_ago.map(|minutes| Duration::from_secs(minutes.saturating_mul(60)))
}

/// The operator the scenario's `encryption_degrades` names, if this cluster has it.
pub fn degrading_operator(setup: &ClusterSetup) -> Option<&'static EncryptingOperator> {
    let name = setup.encryption_degrades.as_deref()?;
    encrypting_operators(setup.encryption_operators).iter().find(|o| o.name == name)
}

/// Whether `operator` is still migrating when the lab starts: the scenario's
/// migration has not reached its share yet, or it is the one that degrades.
pub fn still_migrating(setup: &ClusterSetup, operator: &EncryptingOperator) -> bool {
    let Some(elapsed) = migration_elapsed(setup) else { return false };
    degrading_operator(setup).is_some_and(|d| d.kind == operator.kind) || elapsed < MIGRATION.mul_f64(operator.finishes)
}

/// The operator already degraded when the lab starts (the scenario's migration is past DEGRADES_AT).
pub fn degraded_at_start(setup: &ClusterSetup) -> Option<&'static EncryptingOperator> {
    let elapsed = migration_elapsed(setup)?;
    degrading_operator(setup).filter(|_| elapsed >= MIGRATION.mul_f64(DEGRADES_AT))
}

/// The hosted cluster's own ID (its ClusterVersion's, in its etcd).
pub const HOSTED_CLUSTER_ID: &str = "9e7b2f10-4c3a-4d1e-8b6a-hostedlab0001";

pub const STATIC_POD_OPERATORS: &[(&str, &str)] = &[
    ("etcd", "Etcd"),
    ("kubeapiserver", "KubeAPIServer"),
    ("kubecontrollermanager", "KubeControllerManager"),
    ("kubescheduler", "KubeScheduler"),
];

pub fn cluster_operator(name: &str, at: &str) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {},
        "status": {
            "conditions": [
                condition("Available", "True", "AsExpected", "", at),
                condition("Progressing", "False", "AsExpected", "", at),
                condition("Degraded", "False", "AsExpected", "", at),
                condition("Upgradeable", "True", "AsExpected", "", at),
            ],
            "versions": [{"name": "operator", "version": OCP_VERSION}],
            "relatedObjects": [],
        }
    })
}

/// A CSR as a kubelet files it, with a real PKCS#10 request for `system:node:<node>`.
pub fn csr(name: &str, node: &str, serving: bool, request_pem: &str, created: &str) -> Value {
    let (signer, username, groups, usages) = if serving {
        (
            "kubernetes.io/kubelet-serving",
            format!("system:node:{node}"),
            json!(["system:nodes", "system:authenticated"]),
            json!(["digital signature", "server auth"]),
        )
    } else {
        (
            "kubernetes.io/kube-apiserver-client-kubelet",
            "system:serviceaccount:openshift-machine-config-operator:node-bootstrapper".to_string(),
            json!([
                "system:serviceaccounts",
                "system:serviceaccounts:openshift-machine-config-operator",
                "system:authenticated"
            ]),
            json!(["digital signature", "client auth"]),
        )
    };
    json!({
        "metadata": {"name": name, "creationTimestamp": created, "annotations": {"lab.etcd-console/node": node}},
        "spec": {
            "request": b64(request_pem.as_bytes()),
            "signerName": signer,
            "username": username,
            "groups": groups,
            "usages": usages,
        },
        "status": {}
    })
}

/// A PKCS#10 request for a node's kubelet, signed with a fresh key.
pub fn node_csr_pem(node: &str) -> Result<String, String> {
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    params.distinguished_name.push(rcgen::DnType::CommonName, format!("system:node:{node}"));
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "system:nodes");
    params.serialize_request(&key).and_then(|r| r.pem()).map_err(|e| e.to_string())
}

fn csr_name(n: u64) -> String {
    format!("csr-{}", super::store::generated_suffix(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
}

fn add_namespaces(seed: &Seeder, names: &[&str]) -> Result<(), ApiError> {
    for name in names {
        seed.put(
            "",
            "Namespace",
            "",
            json!({"metadata": {"name": name}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
        )?;
    }
    Ok(())
}

fn secret_tls(name: &str, cert: &str, key: &str, ca: &str) -> Value {
    json!({"metadata": {"name": name}, "type": "kubernetes.io/tls",
           "data": {"tls.crt": b64(cert.as_bytes()), "tls.key": b64(key.as_bytes()), "ca.crt": b64(ca.as_bytes())}})
}

pub fn standalone(seed: &Seeder, members: &[MemberView], pki: &SeedPki, scenario: &Scenario) -> Result<(), String> {
    let e = |e: ApiError| e.message;
    let setup = &scenario.cluster;
    let install = seed.at(Duration::ZERO);
    let recent = seed.at(Duration::from_secs(3 * 86_400));
    add_namespaces(
        seed,
        &[
            "default",
            "kube-system",
            "openshift-config",
            "openshift-config-managed",
            "openshift-etcd",
            "openshift-etcd-operator",
            "openshift-kube-apiserver",
            "openshift-kube-apiserver-operator",
            "openshift-apiserver",
            "openshift-oauth-apiserver",
            "openshift-authentication",
            "openshift-machine-api",
            "openshift-machine-config-operator",
            "openshift-ovn-kubernetes",
        ],
    )
    .map_err(e)?;
    let mut nodes: Vec<(String, String, &str)> =
        members.iter().map(|m| (m.name.clone(), m.ip.clone(), "master")).collect();
    for i in 0..setup.workers {
        nodes.push((format!("worker-{i}"), worker_ip(i), "worker"));
    }
    for (name, ip, role) in &nodes {
        let ready = !setup.not_ready.contains(name);
        seed.put("", "Node", "", node(name, ip, role, ready, &install)).map_err(e)?;
    }
    // etcd: pods on the masters, the client certificate and CA bundle that reach the members.
    for member in members {
        seed.put("", "Pod", "openshift-etcd", etcd_pod(member, LATEST_REVISION, &recent)).map_err(e)?;
    }
    for ns in ["openshift-etcd", "openshift-config"] {
        seed.put("", "Secret", ns, secret_tls("etcd-client", &pki.client_cert_pem, &pki.client_key_pem, &pki.ca_pem))
            .map_err(e)?;
        seed.put(
            "",
            "ConfigMap",
            ns,
            json!({"metadata": {"name": "etcd-ca-bundle"}, "data": {"ca-bundle.crt": pki.ca_pem}}),
        )
        .map_err(e)?;
    }
    seed.put(
        "",
        "ConfigMap",
        "openshift-config",
        json!({"metadata": {"name": "etcd-serving-ca"}, "data": {"ca-bundle.crt": pki.ca_pem}}),
    )
    .map_err(e)?;
    seed.put(
        "",
        "ConfigMap",
        "openshift-etcd",
        json!({"metadata": {"name": "etcd-endpoints"}, "data": members.iter().map(|m| (m.name.clone(), json!(m.ip))).collect::<serde_json::Map<_, _>>()}),
    )
    .map_err(e)?;

    // config.openshift.io
    let mut apiserver =
        json!({"metadata": {"name": "cluster"}, "spec": {"audit": {"profile": "Default"}}, "status": {}});
    if !setup.encryption.is_empty() {
        apiserver["spec"]["encryption"] = json!({"type": setup.encryption});
    }
    seed.put("config.openshift.io", "APIServer", "", apiserver).map_err(e)?;
    seed.put(
        "config.openshift.io",
        "Proxy",
        "",
        json!({"metadata": {"name": "cluster"}, "spec": {"trustedCA": {"name": ""}}, "status": {}}),
    )
    .map_err(e)?;
    seed.put(
        "config.openshift.io",
        "ClusterVersion",
        "",
        json!({
            "metadata": {"name": "version"},
            "spec": {"channel": "stable-4.14", "clusterID": "5c1a3d44-1b59-4d7e-9a0f-etcdconsolelab"},
            "status": {
                "desired": {"version": OCP_VERSION, "image": RELEASE_IMAGE},
                "history": [{"state": "Completed", "version": OCP_VERSION, "image": RELEASE_IMAGE, "startedTime": install, "completionTime": install, "verified": false}],
                "conditions": [
                    condition("Available", "True", "", &format!("Done applying {OCP_VERSION}"), &install),
                    condition("Progressing", "False", "", &format!("Cluster version is {OCP_VERSION}"), &install),
                    condition("Failing", "False", "", "", &install),
                ],
            }
        }),
    )
    .map_err(e)?;
    seed.put("config.openshift.io", "Infrastructure", "", infrastructure(&seed.api_url, &install)).map_err(e)?;
    seed.put("config.openshift.io", "Network", "", network()).map_err(e)?;
    for webhook in fail_webhooks(setup.fail_webhooks, &pki.ca_pem) {
        let kind = str_at(&webhook, "/kind").to_string();
        if let Some(namespace) = webhook.pointer("/webhooks/0/clientConfig/service/namespace").and_then(Value::as_str) {
            if !seed.store.exists(namespace_index(), "", namespace) {
                add_namespaces(seed, &[namespace]).map_err(e)?;
            }
        }
        seed.put("admissionregistration.k8s.io", &kind, "", webhook).map_err(e)?;
    }
    // A scenario's migration past DEGRADES_AT has already degraded the faulty operator.
    let encrypting = encrypting_operators(setup.encryption_operators);
    let degraded = degraded_at_start(setup);
    for name in [
        "authentication",
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "machine-api",
        "machine-config",
        "network",
        "openshift-apiserver",
    ] {
        let mut object = cluster_operator(name, &install);
        if let Some(degraded) = degraded.filter(|d| d.cluster_operator == name) {
            set_condition(&mut object, migration_degraded_cluster_condition(degraded, &recent));
        }
        seed.put("config.openshift.io", "ClusterOperator", "", object).map_err(e)?;
    }

    // operator.openshift.io: static-pod operators with every master at the latest revision,
    // or one at the new revision and the rest behind when caught mid-rollout.
    for (short, kind) in STATIC_POD_OPERATORS {
        let mid_rollout = setup.rollouts_in_progress.iter().any(|o| o == short);
        let node_revisions: Vec<(String, i64)> = members
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.clone(), if mid_rollout && i > 0 { LATEST_REVISION - 1 } else { LATEST_REVISION }))
            .collect();
        // A rollout caught mid-way started minutes ago, not when the cluster settled.
        let started = rfc3339(SystemTime::now().checked_sub(Duration::from_secs(300)).unwrap_or(SystemTime::now()));
        let mut status =
            static_pod_status(&node_revisions, LATEST_REVISION, if mid_rollout { &started } else { &recent });
        if let Some(operator) = encrypting.iter().find(|o| o.kind == *kind) {
            let in_progress = still_migrating(setup, operator);
            if let Some(c) = status["conditions"].as_array_mut() {
                c.push(encrypted_condition(operator.resources, &setup.encryption, in_progress, &recent));
            }
        }
        let mut object = static_pod_operator(&status);
        if let Some(degraded) = degraded.filter(|d| d.kind == *kind) {
            set_condition(&mut object, migration_degraded_condition(degraded, true, &recent));
        }
        if mid_rollout {
            object["spec"]["forceRedeploymentReason"] = json!("recovery-2026-11-21 03:12:09.491522100+00:00");
        }
        if *short == "etcd" && setup.quorum_guard_off {
            object["spec"]["unsupportedConfigOverrides"] =
                json!({"useUnsupportedUnsafeNonHANonProductionUnstableEtcd": true});
        }
        seed.put("operator.openshift.io", kind, "", object).map_err(e)?;
    }
    // On a 4.5/4.6 cluster the Authentication operator reports no Encrypted condition.
    for kind in ["OpenShiftAPIServer", "Authentication"] {
        let mut conditions = vec![condition("Available", "True", "AsExpected", "", &install)];
        if let Some(operator) = encrypting.iter().find(|o| o.kind == kind) {
            let in_progress = still_migrating(setup, operator);
            conditions.push(encrypted_condition(operator.resources, &setup.encryption, in_progress, &recent));
        }
        if let Some(degraded) = degraded.filter(|d| d.kind == kind) {
            conditions.push(migration_degraded_condition(degraded, true, &recent));
        }
        let status = json!({"conditions": conditions, "latestAvailableRevision": 3});
        seed.put(
            "operator.openshift.io",
            kind,
            "",
            json!({"metadata": {"name": "cluster"}, "spec": {"managementState": "Managed"}, "status": status}),
        )
        .map_err(e)?;
    }
    if !setup.encryption.is_empty() && setup.encryption != "identity" {
        for operator in encrypting {
            seed.put(
                "",
                "Secret",
                "openshift-config-managed",
                encryption_key(operator.component, 1, &setup.encryption),
            )
            .map_err(e)?;
        }
    }

    // machine.openshift.io
    let zones = ["us-east-1a", "us-east-1b", "us-east-1c"];
    for (i, (name, ip, role)) in nodes.iter().enumerate() {
        let machine = if *role == "master" {
            format!("{INFRA_ID}-{name}")
        } else {
            format!("{INFRA_ID}-worker-{}-{}", zones[i % 3], &csr_name(i as u64)[4..])
        };
        let zone = zones[i % 3];
        seed.put(
            "machine.openshift.io",
            "Machine",
            "openshift-machine-api",
            json!({
                "metadata": {
                    "name": machine,
                    "labels": {
                        "machine.openshift.io/cluster-api-cluster": INFRA_ID,
                        "machine.openshift.io/cluster-api-machine-role": role,
                        "machine.openshift.io/cluster-api-machine-type": role,
                        "machine.openshift.io/instance-type": if *role == "master" { "m6i.xlarge" } else { "m6i.large" },
                        "machine.openshift.io/region": "us-east-1",
                        "machine.openshift.io/zone": zone,
                    },
                    "annotations": {"machine.openshift.io/instance-state": "running"},
                    "creationTimestamp": install,
                },
                "spec": {"providerID": format!("aws:///{zone}/i-0{:016x}", 0x5eed_0000_u64 + i as u64)},
                "status": {
                    "phase": "Running",
                    "nodeRef": {"kind": "Node", "name": name},
                    "addresses": machine_addresses(name, ip),
                    "providerStatus": provider_status(&format!("i-0{:016x}", 0x5eed_0000_u64 + i as u64), "running"),
                },
            }),
        )
        .map_err(e)?;
    }

    if setup.control_plane_machine_set {
        seed.put(
            "machine.openshift.io",
            "ControlPlaneMachineSet",
            "openshift-machine-api",
            json!({
                "metadata": {"name": "cluster", "creationTimestamp": install},
                "spec": {
                    "state": "Active",
                    "replicas": 3,
                    "strategy": {"type": "RollingUpdate"},
                    "selector": {"matchLabels": {
                        "machine.openshift.io/cluster-api-cluster": INFRA_ID,
                        "machine.openshift.io/cluster-api-machine-role": "master",
                        "machine.openshift.io/cluster-api-machine-type": "master",
                    }},
                },
                "status": {"replicas": 3, "readyReplicas": 3, "updatedReplicas": 3, "observedGeneration": 1},
            }),
        )
        .map_err(e)?;
    }

    seed_ovn_kubernetes(seed, &nodes, &recent).map_err(e)?;

    // Certificate signing requests.
    let mut number = 0u64;
    let mut add_csr = |node: &str, serving: bool, pem: &str, age: Duration| -> Result<(), String> {
        number += 1;
        let created = rfc3339(SystemTime::now().checked_sub(age).unwrap_or(SystemTime::now()));
        seed.put(
            "certificates.k8s.io",
            "CertificateSigningRequest",
            "",
            csr(&csr_name(number), node, serving, pem, &created),
        )
        .map(|_| ())
        .map_err(e)
    };
    for (i, node) in setup.pending_bootstrap_csrs.iter().enumerate() {
        add_csr(node, false, &node_csr_pem(node)?, Duration::from_secs(780u64.saturating_sub(60 * i as u64)))?;
    }
    for (i, node) in setup.pending_serving_csrs.iter().enumerate() {
        add_csr(node, true, &node_csr_pem(node)?, Duration::from_secs(483u64.saturating_sub(30 * i as u64)))?;
    }
    if setup.csr_flood > 0 {
        // Kubelets that nobody answered ask again every few minutes: one request per node, resent.
        let pems: Vec<(String, String)> =
            nodes.iter().map(|(n, _, _)| Ok((n.clone(), node_csr_pem(n)?))).collect::<Result<_, String>>()?;
        for i in 0..setup.csr_flood {
            let (node, pem) = &pems[i as usize % pems.len()];
            let age = Duration::from_secs(u64::from(setup.csr_flood - i) * 60 / pems.len() as u64);
            add_csr(node, i % 2 == 1, pem, age)?;
        }
    }
    Ok(())
}

fn namespace_index() -> usize {
    catalog::by_kind("", "Namespace").unwrap_or(0)
}

/// The `config.openshift.io` Infrastructure `cluster`: the infrastructure name
/// (the prefix of the Machines' names), the platform, where the API serves.
pub fn infrastructure(api_url: &str, created: &str) -> Value {
    json!({
        "metadata": {"name": "cluster", "creationTimestamp": created},
        "spec": {"cloudConfig": {"name": ""}, "platformSpec": {"type": "AWS", "aws": {}}},
        "status": {
            "infrastructureName": INFRA_ID,
            "platform": "AWS",
            "platformStatus": {"type": "AWS", "aws": {"region": "us-east-1"}},
            "apiServerURL": api_url,
            "apiServerInternalURI": api_url,
            "etcdDiscoveryDomain": "",
            "controlPlaneTopology": "HighlyAvailable",
            "infrastructureTopology": "HighlyAvailable",
            "cpuPartitioning": "None",
        }
    })
}

/// The `config.openshift.io` Network `cluster`: OVN-Kubernetes, the 4.14 default.
pub fn network() -> Value {
    let cluster_network = json!([{"cidr": "10.128.0.0/14", "hostPrefix": 23}]);
    let service_network = json!(["172.30.0.0/16"]);
    json!({
        "metadata": {"name": "cluster"},
        "spec": {
            "clusterNetwork": cluster_network,
            "serviceNetwork": service_network,
            "networkType": "OVNKubernetes",
            "externalIP": {"policy": {}},
        },
        "status": {
            "clusterNetwork": cluster_network,
            "serviceNetwork": service_network,
            "networkType": "OVNKubernetes",
            "clusterNetworkMTU": 8901,
        }
    })
}

/// The ValidatingWebhookConfiguration a scenario's `fail_webhooks` seeds.
pub const FAIL_WEBHOOK: &str = "lab-policy";
/// The MutatingWebhookConfiguration a scenario's `fail_webhooks = 2` adds.
pub const FAIL_MUTATING_WEBHOOK: &str = "lab-defaults";

/// `count` admission webhook configurations, each with one webhook on pods
/// whose failurePolicy is Fail, served by a service of their own namespace.
pub fn fail_webhooks(count: u8, ca_pem: &str) -> Vec<Value> {
    let webhook = |kind: &str, name: &str, hook: &str, path: &str| {
        json!({
            "kind": kind,
            "metadata": {"name": name, "labels": {"app.kubernetes.io/name": name}},
            "webhooks": [{
                "name": hook,
                "admissionReviewVersions": ["v1"],
                "clientConfig": {
                    "service": {"namespace": name, "name": format!("{name}-webhook"), "path": path, "port": 443},
                    "caBundle": b64(ca_pem.as_bytes()),
                },
                "failurePolicy": "Fail",
                "matchPolicy": "Equivalent",
                "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}]},
                "objectSelector": {},
                "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods"], "scope": "*"}],
                "sideEffects": "None",
                "timeoutSeconds": 10,
            }]
        })
    };
    let mut configurations = Vec::new();
    if count >= 1 {
        configurations.push(webhook(
            "ValidatingWebhookConfiguration",
            FAIL_WEBHOOK,
            "pods.policy.lab.etcd-console.io",
            "/validate",
        ));
    }
    if count >= 2 {
        let mut mutating = webhook(
            "MutatingWebhookConfiguration",
            FAIL_MUTATING_WEBHOOK,
            "pods.defaults.lab.etcd-console.io",
            "/mutate",
        );
        mutating["webhooks"][0]["reinvocationPolicy"] = json!("Never");
        configurations.push(mutating);
    }
    configurations
}

/// Where OVN-Kubernetes runs.
pub const OVN_NAMESPACE: &str = "openshift-ovn-kubernetes";
/// The DaemonSet of the per-node pods, and their `app` label.
pub const OVN_NODE: &str = "ovnkube-node";
/// The Deployment of the control-plane pods, and their `app` label.
pub const OVN_CONTROL_PLANE: &str = "ovnkube-control-plane";
/// The pod-template-hash of the control plane's ReplicaSet (in its pods' names).
pub const OVN_CONTROL_PLANE_HASH: &str = "6b9f7c4d85";
const OVN_NODE_CONTAINERS: &[&str] = &[
    "ovn-controller",
    "ovn-acl-logging",
    "kube-rbac-proxy-node",
    "kube-rbac-proxy-ovn-metrics",
    "northd",
    "nbdb",
    "sbdb",
    "ovnkube-controller",
];
const OVN_CONTROL_PLANE_CONTAINERS: &[&str] = &["kube-rbac-proxy", "ovnkube-cluster-manager"];
const OVN_IMAGE: &str = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:ovn-kubernetes";

/// Five characters as a controller appends to a new pod's name, at random.
pub fn pod_suffix() -> String {
    let mut bytes = [0u8; 8];
    crate::random_bytes(&mut bytes);
    super::store::generated_suffix(u64::from_be_bytes(bytes))
}

/// A host-network pod of OVN-Kubernetes on `node`: Running, or Pending while
/// its containers are created (`running` false).
/// `metadata` holds its name, labels and owner.
fn ovn_pod(mut metadata: Value, node: &str, ip: &str, containers: &[&str], running: bool, at: &str) -> Value {
    let account =
        if metadata["labels"]["app"] == OVN_NODE { "ovn-kubernetes-node" } else { "ovn-kubernetes-control-plane" };
    metadata["creationTimestamp"] = json!(at);
    metadata["annotations"] =
        json!({"target.workload.openshift.io/management": "{\"effect\": \"PreferredDuringScheduling\"}"});
    let mut pod = json!({
        "metadata": metadata,
        "spec": {
            "nodeName": node,
            "hostNetwork": true,
            "priorityClassName": "system-node-critical",
            "serviceAccountName": account,
            "tolerations": [{"operator": "Exists"}],
            "containers": containers.iter().map(|c| json!({"name": c, "image": OVN_IMAGE})).collect::<Vec<_>>(),
        },
        "status": {
            "phase": "Pending",
            "hostIP": ip,
            "startTime": at,
            "conditions": [
                condition("Initialized", "True", "", "", at),
                condition("Ready", "False", "ContainersNotReady", &format!("containers with unready status: [{}]", containers.join(" ")), at),
                condition("ContainersReady", "False", "ContainersNotReady", &format!("containers with unready status: [{}]", containers.join(" ")), at),
                condition("PodScheduled", "True", "", "", at),
            ],
            "containerStatuses": containers.iter().map(|c| json!({
                "name": c, "ready": false, "started": false, "restartCount": 0, "image": OVN_IMAGE, "imageID": "",
                "state": {"waiting": {"reason": "ContainerCreating"}},
            })).collect::<Vec<_>>(),
        }
    });
    if running {
        pod_running(&mut pod, at);
    }
    pod
}

/// A pod whose containers have all started: Running and Ready at `at`.
pub fn pod_running(pod: &mut Value, at: &str) {
    let host_ip = pod.pointer("/status/hostIP").cloned().unwrap_or(Value::Null);
    pod["status"]["phase"] = json!("Running");
    pod["status"]["podIP"] = host_ip.clone();
    pod["status"]["podIPs"] = json!([{"ip": host_ip}]);
    for kind in ["Ready", "ContainersReady"] {
        set_condition(pod, condition(kind, "True", "", "", at));
    }
    if let Some(statuses) = pod["status"]["containerStatuses"].as_array_mut() {
        for status in statuses {
            status["ready"] = json!(true);
            status["started"] = json!(true);
            status["state"] = json!({"running": {"startedAt": at}});
        }
    }
}

fn ovn_labels(app: &str) -> Value {
    json!({"app": app, "component": "network", "kubernetes.io/os": "linux", "openshift.io/component": "network", "type": "infra"})
}

/// A pod's metadata: its name, labels and the controller that owns it.
fn owned_by(name: &str, labels: Value, kind: &str, owner: &str, uid: &str) -> Value {
    let owner = json!({"apiVersion": "apps/v1", "kind": kind, "name": owner, "uid": uid, "controller": true, "blockOwnerDeletion": true});
    json!({"name": name, "labels": labels, "ownerReferences": [owner]})
}

/// The ovnkube-node pod the DaemonSet `daemonset` runs on `node` (at `ip`).
pub fn ovnkube_node_pod(daemonset: &Value, node: &str, ip: &str, running: bool, at: &str) -> Value {
    let mut labels = ovn_labels(OVN_NODE);
    labels["controller-revision-hash"] = json!("7d5f9c6b48");
    labels["ovn-db-pod"] = json!("true");
    labels["pod-template-generation"] = json!("1");
    let uid = str_at(daemonset, "/metadata/uid");
    let metadata = owned_by(&format!("{OVN_NODE}-{}", pod_suffix()), labels, "DaemonSet", OVN_NODE, uid);
    ovn_pod(metadata, node, ip, OVN_NODE_CONTAINERS, running, at)
}

/// An ovnkube-control-plane pod of the Deployment `deployment` on master `node` (at `ip`).
pub fn ovnkube_control_plane_pod(deployment: &Value, node: &str, ip: &str, running: bool, at: &str) -> Value {
    let mut labels = ovn_labels(OVN_CONTROL_PLANE);
    labels["pod-template-hash"] = json!(OVN_CONTROL_PLANE_HASH);
    let replica_set = format!("{OVN_CONTROL_PLANE}-{OVN_CONTROL_PLANE_HASH}");
    // The ReplicaSet between them is not served by the lab; its pods name it all the same.
    let uid = str_at(deployment, "/metadata/uid");
    let metadata = owned_by(&format!("{replica_set}-{}", pod_suffix()), labels, "ReplicaSet", &replica_set, uid);
    let mut pod = ovn_pod(metadata, node, ip, OVN_CONTROL_PLANE_CONTAINERS, running, at);
    pod["spec"]["nodeSelector"] = json!({"node-role.kubernetes.io/master": ""});
    pod
}

/// How many ovnkube-control-plane replicas a cluster of `masters` runs.
pub fn ovn_control_plane_replicas(masters: usize) -> i64 {
    masters.clamp(1, 3) as i64
}

/// OVN-Kubernetes: the ovnkube-control-plane Deployment with a pod on each
/// master (up to three), the ovnkube-node DaemonSet with a pod on every node.
fn seed_ovn_kubernetes(seed: &Seeder, nodes: &[(String, String, &str)], at: &str) -> Result<(), ApiError> {
    let masters: Vec<&(String, String, &str)> = nodes.iter().filter(|(_, _, role)| *role == "master").collect();
    let replicas = ovn_control_plane_replicas(masters.len());
    let template_labels = |app: &str| json!({"app": app, "component": "network", "type": "infra"});
    let deployment = seed.put(
        "apps",
        "Deployment",
        OVN_NAMESPACE,
        json!({
            "metadata": {"name": OVN_CONTROL_PLANE, "labels": {"networkoperator.openshift.io/generates-operator-status": "stand-alone"}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": OVN_CONTROL_PLANE}},
                "template": {"metadata": {"labels": template_labels(OVN_CONTROL_PLANE)},
                             "spec": {"nodeSelector": {"node-role.kubernetes.io/master": ""},
                                      "containers": OVN_CONTROL_PLANE_CONTAINERS.iter().map(|c| json!({"name": c, "image": OVN_IMAGE})).collect::<Vec<_>>()}},
            },
            "status": {"replicas": replicas, "readyReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas},
        }),
    )?;
    for (name, ip, _) in masters.iter().take(replicas as usize) {
        seed.put("", "Pod", OVN_NAMESPACE, ovnkube_control_plane_pod(&deployment, name, ip, true, at))?;
    }
    let count = nodes.len() as i64;
    let daemonset = seed.put(
        "apps",
        "DaemonSet",
        OVN_NAMESPACE,
        json!({
            "metadata": {"name": OVN_NODE, "annotations": {"kubernetes.io/description": "This daemonset launches the ovn-kubernetes per node networking components."}},
            "spec": {
                "selector": {"matchLabels": {"app": OVN_NODE}},
                "template": {"metadata": {"labels": template_labels(OVN_NODE)},
                             "spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                                      "containers": OVN_NODE_CONTAINERS.iter().map(|c| json!({"name": c, "image": OVN_IMAGE})).collect::<Vec<_>>()}},
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
            },
            "status": {"desiredNumberScheduled": count, "currentNumberScheduled": count, "numberReady": count,
                       "updatedNumberScheduled": count, "numberAvailable": count, "numberMisscheduled": 0, "observedGeneration": 1},
        }),
    )?;
    for (name, ip, _) in nodes {
        seed.put("", "Pod", OVN_NAMESPACE, ovnkube_node_pod(&daemonset, name, ip, true, at))?;
    }
    Ok(())
}

/// A Machine's addresses, as the AWS provider reports its instance's.
pub fn machine_addresses(node: &str, ip: &str) -> Value {
    json!([{"type": "InternalIP", "address": ip}, {"type": "InternalDNS", "address": node}, {"type": "Hostname", "address": node}])
}

/// An AWS Machine's `status.providerStatus`: its instance and the instance's state
/// (`pending`, `running`, `stopped`), as the AWS machine controller writes it.
pub fn provider_status(instance: &str, state: &str) -> Value {
    json!({
        "apiVersion": "machine.openshift.io/v1beta1",
        "kind": "AWSMachineProviderStatus",
        "instanceId": instance,
        "instanceState": state,
        "conditions": [{"type": "MachineCreation", "status": "True", "reason": "MachineCreationSucceeded", "message": "Machine successfully created"}],
    })
}

/// The Machine the machine API makes in place of `deleted`: named `name`, a
/// new instance, Provisioning, its node the one the deleted Machine had.
pub fn replacement_machine(deleted: &Value, name: &str, at: &str) -> Value {
    let zone = str_at(deleted, "/metadata/labels/machine.openshift.io~1zone");
    let zone = if zone.is_empty() { "us-east-1a" } else { zone };
    let mut instance = [0u8; 8];
    crate::random_bytes(&mut instance);
    let mut machine = json!({
        "metadata": {
            "name": name,
            "labels": deleted.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({})),
            "annotations": {"machine.openshift.io/instance-state": "running"},
            "creationTimestamp": at,
        },
        "spec": deleted.get("spec").cloned().unwrap_or_else(|| json!({})),
        "status": {"phase": "Provisioning"},
    });
    let instance = format!("i-0{:016x}", u64::from_be_bytes(instance) >> 4);
    machine["spec"]["providerID"] = json!(format!("aws:///{zone}/{instance}"));
    machine["status"]["providerStatus"] = provider_status(&instance, "pending");
    machine["metadata"]["annotations"]["machine.openshift.io/instance-state"] = json!("pending");
    let node = str_at(deleted, "/status/nodeRef/name");
    if !node.is_empty() {
        machine["status"]["nodeRef"] = json!({"kind": "Node", "name": node});
    }
    machine
}

pub fn encryption_key(component: &str, number: u32, mode: &str) -> Value {
    let mut key = [0u8; 32];
    crate::random_bytes(&mut key);
    json!({
        "metadata": {
            "name": format!("encryption-key-{component}-{number}"),
            "labels": {"encryption.apiserver.operator.openshift.io/component": component},
            "annotations": {
                "encryption.apiserver.operator.openshift.io/mode": mode,
                "encryption.apiserver.operator.openshift.io/internal-reason": format!("{mode}-config-changed"),
            },
        },
        "type": "Opaque",
        "data": {"encryption.apiserver.operator.openshift.io-key": b64(&key)},
    })
}

fn workload_pod(name: &str, app: &str, containers: &[&str], node: &str, ip: &str, created: &str) -> Value {
    json!({
        "metadata": {"name": name, "labels": {"app": app, "hypershift.openshift.io/control-plane-component": app}, "creationTimestamp": created},
        "spec": {"nodeName": node, "containers": containers.iter().map(|c| json!({"name": c, "image": "quay.io/openshift-release-dev/ocp-v4.0-art-dev"})).collect::<Vec<_>>()},
        "status": {
            "phase": "Running", "hostIP": ip, "podIP": ip, "startTime": created,
            "conditions": [condition("Ready", "True", "", "", created)],
            "containerStatuses": containers.iter().map(|c| container_status(c, true, created)).collect::<Vec<_>>(),
        }
    })
}

/// The volume claim of hosted etcd replica `index` (made by the StatefulSet from its template),
/// protected from deletion while a pod mounts it.
pub fn etcd_claim(index: usize) -> Value {
    let mut suffix = [0u8; 4];
    crate::random_bytes(&mut suffix);
    let volume: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    json!({"metadata": {"name": format!("data-etcd-{index}"), "labels": {"app": "etcd"}, "finalizers": [super::hosted_cp::PVC_PROTECTION]},
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "8Gi"}}, "storageClassName": "lvms-vg1", "volumeName": format!("pvc-{volume}-lab")},
           "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "8Gi"}}})
}

pub const HOSTED_DEPLOYMENTS: &[(&str, i64)] = &[
    ("kube-apiserver", 3),
    ("openshift-apiserver", 3),
    ("openshift-oauth-apiserver", 3),
    ("control-plane-operator", 1),
];

/// The pod the hosted control plane's etcd StatefulSet runs as replica `index`
/// (Running and Ready; its controller makes a new one Pending first): member
/// `index` of the lab, its claim `data-etcd-<index>` mounted at `/var/lib`, the
/// TLS secrets where HyperShift mounts them. Deleting it stops the member first
/// (graceful deletion), as a kubelet stops a pod's containers.
pub fn hosted_pod(owner: &str, index: usize, members: &[MemberView], created: &str) -> Value {
    let ip = members.get(index).map(|m| m.pod_ip.as_str()).unwrap_or("127.0.0.1");
    let name = format!("{owner}-{index}");
    let mut pod = workload_pod(&name, owner, &["etcd", "etcd-metrics"], &format!("worker-{}", index % 3), ip, created);
    let tls = [
        ("peer-tls", "/etc/etcd/tls/peer"),
        ("server-tls", "/etc/etcd/tls/server"),
        ("client-tls", "/etc/etcd/tls/client"),
        ("etcd-ca", "/etc/etcd/tls/etcd-ca"),
    ];
    let mut mounts = vec![json!({"name": "data", "mountPath": "/var/lib"})];
    mounts.extend(tls.iter().map(|(volume, path)| json!({"name": volume, "mountPath": path})));
    pod["spec"]["containers"][0]["volumeMounts"] = json!(mounts);
    pod["spec"]["volumes"] = json!([
        {"name": "data", "persistentVolumeClaim": {"claimName": format!("data-{name}")}},
        {"name": "peer-tls", "secret": {"secretName": "etcd-peer-tls"}},
        {"name": "server-tls", "secret": {"secretName": "etcd-server-tls"}},
        {"name": "client-tls", "secret": {"secretName": "etcd-client-tls"}},
        {"name": "etcd-ca", "configMap": {"name": "etcd-ca"}},
    ]);
    pod["spec"]["hostname"] = json!(name);
    pod["spec"]["subdomain"] = json!("etcd-discovery");
    let mut annotations = json!({super::store::GRACEFUL_DELETION_ANNOTATION: "true"});
    if let Some(member) = members.get(index) {
        pod["spec"]["containers"][0]["ports"] = json!([{"name": "client", "containerPort": member.client_port}, {"name": "peer", "containerPort": member.peer_port}]);
        pod["spec"]["containers"][0]["command"] = json!(member.etcd_command(&member.name));
        annotations[super::hosted_cp::MEMBER_ANNOTATION] = json!(member.name);
        if member.pod_ip != member.ip {
            annotations[super::portforward::FORWARD_TO_ANNOTATION] = json!(member.ip);
        }
    }
    pod["metadata"]["annotations"] = annotations;
    pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] = json!(name);
    let uid = format!("5e1f0c3a-7d2b-4c8e-9a61-{:012x}", owner.len());
    pod["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": owner, "uid": uid, "controller": true, "blockOwnerDeletion": true}]);
    pod
}

pub fn hosted(seed: &Seeder, members: &[MemberView], pki: &SeedPki, scenario: &Scenario) -> Result<(), String> {
    let e = |e: ApiError| e.message;
    let install = seed.at(Duration::ZERO);
    let created = seed.at(Duration::from_secs(86_400));
    let cp = HOSTED_CP_NAMESPACE;
    add_namespaces(seed, &["default", "kube-system", "hypershift", HOSTED_NAMESPACE, cp]).map_err(e)?;
    for i in 0..3u8 {
        seed.put(
            "",
            "Node",
            "",
            node(&format!("mgmt-master-{i}"), &format!("127.0.0.{}", 31 + i), "master", true, &install),
        )
        .map_err(e)?;
    }
    for i in 0..scenario.cluster.workers.max(3) {
        seed.put(
            "",
            "Node",
            "",
            node(&format!("worker-{i}"), &format!("127.0.0.{}", 21 + i), "worker", true, &install),
        )
        .map_err(e)?;
    }
    let available = condition("Available", "True", "AsExpected", "The hosted control plane is available", &created);
    seed.put(
        "hypershift.openshift.io",
        "HostedCluster",
        HOSTED_NAMESPACE,
        json!({
            "metadata": {"name": HOSTED_NAME, "finalizers": ["hypershift.openshift.io/finalizer"]},
            "spec": {
                "release": {"image": RELEASE_IMAGE},
                "clusterID": HOSTED_CLUSTER_ID,
                "platform": {"type": "Agent"},
                "etcd": {"managementType": "Managed", "managed": {"storage": {"type": "PersistentVolume", "persistentVolume": {"size": "8Gi"}}}},
                "secretEncryption": {"type": "aescbc", "aescbc": {"activeKey": {"name": format!("{HOSTED_NAME}-etcd-encryption-key")}}},
            },
            "status": {
                "version": {"desired": {"version": OCP_VERSION, "image": RELEASE_IMAGE}, "history": [{"state": "Completed", "version": OCP_VERSION, "image": RELEASE_IMAGE, "completionTime": created}]},
                "kubeconfig": {"name": format!("{HOSTED_NAME}-admin-kubeconfig")},
                "conditions": [
                    available,
                    condition("Progressing", "False", "AsExpected", "HostedCluster is at expected version", &created),
                    condition("ReconciliationActive", "True", "AsExpected", "Reconciliation active on resource", &created),
                    condition("ClusterVersionReleaseAccepted", "True", "PayloadLoaded", &format!("Payload loaded version=\"{OCP_VERSION}\" image=\"{RELEASE_IMAGE}\""), &created),
                ],
            }
        }),
    )
    .map_err(e)?;
    let mut key = [0u8; 32];
    crate::random_bytes(&mut key);
    seed.put("", "Secret", HOSTED_NAMESPACE, json!({"metadata": {"name": format!("{HOSTED_NAME}-etcd-encryption-key")}, "type": "Opaque", "data": {"key": b64(&key)}}))
        .map_err(e)?;
    seed.put(
        "hypershift.openshift.io",
        "NodePool",
        HOSTED_NAMESPACE,
        json!({"metadata": {"name": format!("{HOSTED_NAME}-workers")}, "spec": {"clusterName": HOSTED_NAME, "replicas": 2, "management": {"upgradeType": "Replace"}, "release": {"image": RELEASE_IMAGE}},
               "status": {"replicas": 2, "version": OCP_VERSION, "conditions": [condition("ValidReleaseImage", "True", "AsExpected", &format!("Using release image: {RELEASE_IMAGE}"), &created)]}}),
    )
    .map_err(e)?;
    seed.put(
        "hypershift.openshift.io",
        "HostedControlPlane",
        cp,
        json!({"metadata": {"name": HOSTED_NAME, "labels": {"cluster.x-k8s.io/cluster-name": format!("{HOSTED_NAME}-{INFRA_ID}")}, "finalizers": ["hypershift.openshift.io/finalizer"]},
               "spec": {"releaseImage": RELEASE_IMAGE, "etcd": {"managementType": "Managed"}}, "status": {"ready": true}}),
    )
    .map_err(e)?;
    let replicas = members.len() as i64;
    // The template names no member: the flags every replica shares, its quota among them.
    let quota = members.first().map(|m| m.quota_bytes).unwrap_or(0);
    let template_command: Vec<String> = ["/usr/bin/etcd".to_string(), "--data-dir=/var/lib/data".to_string()]
        .into_iter()
        .chain((quota > 0).then(|| format!("--quota-backend-bytes={quota}")))
        .collect();
    seed.put(
        "apps",
        "StatefulSet",
        cp,
        json!({
            "metadata": {"name": "etcd", "labels": {"app": "etcd"}},
            "spec": {
                "replicas": replicas, "serviceName": "etcd-discovery", "selector": {"matchLabels": {"app": "etcd"}},
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                "podManagementPolicy": "Parallel",
                "template": {"metadata": {"labels": {"app": "etcd"}}, "spec": {"containers": [{"name": "etcd", "image": "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:etcd", "command": template_command, "volumeMounts": [{"name": "data", "mountPath": "/var/lib"}]}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "8Gi"}}, "storageClassName": "lvms-vg1"}}],
            },
            "status": {"replicas": replicas, "readyReplicas": replicas, "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas},
        }),
    )
    .map_err(e)?;
    for i in 0..members.len() {
        seed.put("", "Pod", cp, hosted_pod("etcd", i, members, &created)).map_err(e)?;
        seed.put("", "PersistentVolumeClaim", cp, etcd_claim(i)).map_err(e)?;
    }
    for (name, count) in HOSTED_DEPLOYMENTS {
        let deployment = seed.put(
            "apps",
            "Deployment",
            cp,
            json!({
                "metadata": {"name": name, "labels": {"app": name}},
                "spec": {"replicas": count, "selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": name, "image": crate::hosts::manifest::image(name)}]}}},
                "status": {"replicas": count, "readyReplicas": count, "updatedReplicas": count, "availableReplicas": count},
            }),
        )
        .map_err(e)?;
        for i in 0..*count as usize {
            let mut pod = super::hosted_cp::workloads::new_pod(&deployment, i, &created);
            pod_running(&mut pod, &created);
            seed.put("", "Pod", cp, pod).map_err(e)?;
        }
    }
    seed.put(
        "",
        "Secret",
        cp,
        json!({"metadata": {"name": "etcd-client-tls"}, "type": "Opaque", "data": {
            "etcd-client.crt": b64(pki.client_cert_pem.as_bytes()),
            "etcd-client.key": b64(pki.client_key_pem.as_bytes()),
            "etcd-client-ca.crt": b64(pki.ca_pem.as_bytes())}}),
    )
    .map_err(e)?;
    seed.put("", "ConfigMap", cp, json!({"metadata": {"name": "etcd-ca"}, "data": {"ca.crt": pki.ca_pem}}))
        .map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_messages_read_as_the_operators_write_them() {
        assert_eq!(revision_message(&[7, 7, 7]), "3 nodes are at revision 7");
        assert_eq!(revision_message(&[7, 6, 6]), "2 nodes are at revision 6; 1 nodes are at revision 7");
        assert_eq!(rollout_message(&[7, 7, 7], 8), "3 nodes are at revision 7; 0 nodes have achieved new revision 8");
    }

    #[test]
    fn a_migration_caught_mid_way_shows_who_has_finished() {
        let setup = |minutes: u64, degrades: Option<&str>, operators: u8| ClusterSetup {
            encryption: "aescbc".into(),
            encryption_started_minutes_ago: Some(minutes),
            encryption_degrades: degrades.map(str::to_string),
            encryption_operators: operators,
            ..ClusterSetup::default()
        };
        let migrating = |setup: &ClusterSetup| -> Vec<&str> {
            encrypting_operators(setup.encryption_operators)
                .iter()
                .filter(|o| still_migrating(setup, o))
                .map(|o| o.kind)
                .collect()
        };
        assert_eq!(migrating(&setup(8, None, 3)), ["OpenShiftAPIServer", "KubeAPIServer", "Authentication"]);
        assert_eq!(migrating(&setup(10, None, 3)), ["KubeAPIServer", "Authentication"]);
        assert_eq!(migrating(&setup(16, None, 3)), ["KubeAPIServer"]);
        assert!(migrating(&setup(20, None, 3)).is_empty());
        assert_eq!(migrating(&setup(16, None, 2)), ["KubeAPIServer"]);
        assert!(migrating(&ClusterSetup::default()).is_empty());
        // The faulty operator never finishes, and is degraded from a quarter of the way on.
        assert_eq!(migrating(&setup(30, Some("openshiftapiserver"), 3)), ["OpenShiftAPIServer"]);
        assert!(degraded_at_start(&setup(4, Some("openshiftapiserver"), 3)).is_none());
        assert_eq!(degraded_at_start(&setup(5, Some("kubeapiserver"), 3)).map(|o| o.kind), Some("KubeAPIServer"));
        assert!(degraded_at_start(&setup(5, Some("authentication"), 2)).is_none());
        let older = &ENCRYPTING_OPERATORS_OLDER[0];
        assert_eq!(
            migration_degraded_message(older),
            "EncryptionMigrationControllerDegraded: migrating routes.route.openshift.io, \
             oauthaccesstokens.oauth.openshift.io, oauthauthorizetokens.oauth.openshift.io failed: \
             etcdserver: request timed out"
        );
    }

    #[test]
    fn node_csrs_are_real_pkcs10_requests_for_the_node() {
        let pem = node_csr_pem("master-1").unwrap();
        let parsed = rcgen::CertificateSigningRequestParams::from_pem(&pem).unwrap();
        let cn = parsed.params.distinguished_name.get(&rcgen::DnType::CommonName).cloned();
        assert_eq!(cn, Some(rcgen::DnValue::Utf8String("system:node:master-1".into())));
    }
}
