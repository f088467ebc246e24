//! Static-pod manifests as the lab's hosts hold them: YAML Pods in
//! `/etc/kubernetes/manifests`. The etcd one carries the member's full command
//! line (`spec.containers[0].command`), which the lab kubelet runs; the others
//! run nothing, their presence is their containers running.
//!
//! The lab writes these files itself, so the reader only needs the shape the
//! writer gives them: block lists, scalars plain or quoted.

use super::{HostSpec, Inventory};

/// The revision the lab's static pods are at (the simulated operators' latest).
pub const REVISION: i64 = crate::api::seed::LATEST_REVISION;

/// A static pod of a control-plane host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticPod {
    /// Its file in /etc/kubernetes/manifests.
    pub file: &'static str,
    /// The component, as in `static-pod-resources/<component>-pod-<revision>`.
    pub component: &'static str,
    pub namespace: &'static str,
    pub containers: &'static [&'static str],
}

pub const ETCD: StaticPod = StaticPod {
    file: "etcd-pod.yaml",
    component: "etcd",
    namespace: "openshift-etcd",
    containers: &["etcd", "etcdctl", "etcd-metrics"],
};

pub const KUBE_APISERVER: StaticPod = StaticPod {
    file: "kube-apiserver-pod.yaml",
    component: "kube-apiserver",
    namespace: "openshift-kube-apiserver",
    containers: &[
        "kube-apiserver",
        "kube-apiserver-cert-syncer",
        "kube-apiserver-cert-regeneration-controller",
        "kube-apiserver-insecure-readyz",
        "kube-apiserver-check-endpoints",
    ],
};

pub const KUBE_CONTROLLER_MANAGER: StaticPod = StaticPod {
    file: "kube-controller-manager-pod.yaml",
    component: "kube-controller-manager",
    namespace: "openshift-kube-controller-manager",
    containers: &[
        "kube-controller-manager",
        "cluster-policy-controller",
        "kube-controller-manager-cert-syncer",
        "kube-controller-manager-recovery-controller",
    ],
};

pub const KUBE_SCHEDULER: StaticPod = StaticPod {
    file: "kube-scheduler-pod.yaml",
    component: "kube-scheduler",
    namespace: "openshift-kube-scheduler",
    containers: &["kube-scheduler", "kube-scheduler-cert-syncer", "kube-scheduler-recovery-controller"],
};

pub const STATIC_PODS: [StaticPod; 4] = [ETCD, KUBE_APISERVER, KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER];

/// The static pod of a simulated operator (`kubeapiserver`, ... as `seed::STATIC_POD_OPERATORS` names them).
pub fn of_operator(short: &str) -> Option<StaticPod> {
    match short {
        "etcd" => Some(ETCD),
        "kubeapiserver" => Some(KUBE_APISERVER),
        "kubecontrollermanager" => Some(KUBE_CONTROLLER_MANAGER),
        "kubescheduler" => Some(KUBE_SCHEDULER),
        _ => None,
    }
}

/// An image reference that reads like a release payload's (a digest made from the name).
pub fn image(container: &str) -> String {
    format!("quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:{}", digest(container))
}

/// 64 hex digits from a text (FNV-1a, four rounds): stable ids for images and containers.
pub fn digest(text: &str) -> String {
    (0u64..4)
        .map(|round| {
            let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            for byte in text.bytes() {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
            format!("{hash:016x}")
        })
        .collect()
}

/// How a member joins: a new cluster (the lab's first start, a restore) or an existing one (a member added).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterState {
    New,
    Existing,
}

impl ClusterState {
    fn flag(self) -> &'static str {
        match self {
            ClusterState::New => "new",
            ClusterState::Existing => "existing",
        }
    }
}

/// The etcd command line a member of `host` runs with.
pub fn etcd_command(
    inventory: &Inventory,
    host: &HostSpec,
    initial_cluster: &str,
    token: &str,
    state: ClusterState,
) -> Vec<String> {
    let data_dir = inventory.data_path(&host.name);
    vec![
        inventory.etcd_bin.display().to_string(),
        format!("--name={}", host.name),
        format!("--data-dir={}", data_dir.display()),
        format!("--listen-client-urls={}", host.client_url),
        format!("--advertise-client-urls={}", host.advertised_url),
        format!("--listen-peer-urls={}", host.peer_url),
        format!("--initial-advertise-peer-urls={}", host.peer_url),
        format!("--initial-cluster={initial_cluster}"),
        format!("--initial-cluster-token={token}"),
        format!("--initial-cluster-state={}", state.flag()),
        format!("--cert-file={}", host.cert.display()),
        format!("--key-file={}", host.key.display()),
        format!("--trusted-ca-file={}", host.ca.display()),
        "--client-cert-auth".to_string(),
        format!("--peer-cert-file={}", host.cert.display()),
        format!("--peer-key-file={}", host.key.display()),
        format!("--peer-trusted-ca-file={}", host.ca.display()),
        "--peer-client-cert-auth".to_string(),
        format!("--quota-backend-bytes={}", inventory.quota_bytes),
        "--logger=zap".to_string(),
        "--log-outputs=stderr".to_string(),
    ]
}

fn quoted(text: &str) -> String {
    // A JSON string is a YAML double-quoted scalar.
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{}\"", text.replace(['"', '\\'], "")))
}

fn container_yaml(out: &mut String, name: &str, command: &[String]) {
    out.push_str(&format!("  - name: {name}\n    image: {}\n", image(name)));
    if !command.is_empty() {
        out.push_str("    command:\n");
        for word in command {
            out.push_str(&format!("    - {}\n", quoted(word)));
        }
    }
}

/// The Pod up to its container list; label values are written as given (quoted where YAML would not read text).
fn pod_header(name: &str, namespace: &str, labels: &[(&str, &str)], revision: i64, what: &str) -> String {
    let mut out = format!(
        "# {what}\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}\n  labels:\n"
    );
    for (key, value) in labels {
        out.push_str(&format!("    {key}: {value}\n"));
    }
    out.push_str(&format!(
        "    revision: \"{revision}\"\n\
         spec:\n  hostNetwork: true\n  priorityClassName: system-node-critical\n  containers:\n"
    ));
    out
}

/// The etcd pod: the member's command in its `etcd` container (listed first), and,
/// unless `restore` (the single-container pod a restore starts), etcdctl and etcd-metrics.
pub fn etcd_pod_yaml(node: &str, revision: i64, command: &[String], restore: bool) -> String {
    let what = if restore {
        format!("etcd-console lab: the restore-etcd pod of {node}; the lab kubelet runs spec.containers[0].command")
    } else {
        format!("etcd-console lab: the etcd pod of {node}; the lab kubelet runs spec.containers[0].command")
    };
    // k8s-app=etcd is what `oc get pods -l k8s-app=etcd` selects.
    let labels = [("app", "etcd"), ("k8s-app", "etcd"), ("etcd", "\"true\"")];
    let mut out = pod_header("etcd", ETCD.namespace, &labels, revision, &what);
    container_yaml(&mut out, "etcd", command);
    if !restore {
        let sleep = ["/bin/bash".to_string(), "-c".to_string(), "trap TERM INT; sleep infinity & wait".to_string()];
        container_yaml(&mut out, "etcdctl", &sleep);
        let metrics = [
            "etcd".to_string(),
            "grpc-proxy".to_string(),
            "start".to_string(),
            "--metrics-addr=https://0.0.0.0:9979".to_string(),
        ];
        container_yaml(&mut out, "etcd-metrics", &metrics);
    }
    out
}

/// One of the other static pods (kube-apiserver, kube-controller-manager, kube-scheduler):
/// nothing runs them in the lab.
pub fn static_pod_yaml(pod: &StaticPod, node: &str, revision: i64) -> String {
    let what = format!("etcd-console lab: the {} pod of {node}; its presence is its containers running", pod.component);
    let app = format!("openshift-{}", pod.component);
    let mut out = pod_header(pod.component, pod.namespace, &[("app", &app)], revision, &what);
    for (i, container) in pod.containers.iter().enumerate() {
        let command = if i == 0 {
            vec![
                "/bin/bash".to_string(),
                "-euxo".to_string(),
                "pipefail".to_string(),
                "-c".to_string(),
                format!(
                    "exec hyperkube {} --config=/etc/kubernetes/static-pod-resources/configmaps/config/config.yaml",
                    pod.component
                ),
            ]
        } else {
            vec![format!("cluster-{}-operator", pod.component), (*container).to_string()]
        };
        container_yaml(&mut out, container, &command);
    }
    out
}

/// A container of a manifest, as the lab reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    pub command: Vec<String>,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn scalar(text: &str) -> String {
    let text = text.trim();
    if text.starts_with('"') {
        serde_json::from_str::<String>(text).unwrap_or_else(|_| text.trim_matches('"').to_string())
    } else if let Some(inner) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        inner.replace("''", "'")
    } else {
        text.to_string()
    }
}

/// The containers of a manifest: names and commands, in order.
pub fn containers(text: &str) -> Vec<Container> {
    let mut found: Vec<Container> = Vec::new();
    // The indentation of `containers:`, of its items, and of the current `command:`.
    let mut key_indent: Option<usize> = None;
    let mut item_indent: Option<usize> = None;
    let mut command_indent: Option<usize> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let at = indent(line);
        if trimmed == "containers:" {
            (key_indent, item_indent, command_indent) = (Some(at), None, None);
            continue;
        }
        let Some(key) = key_indent else { continue };
        let is_item = trimmed.starts_with("- ");
        let item = match item_indent {
            Some(item) => item,
            None if is_item && at >= key => *item_indent.insert(at),
            None => {
                key_indent = None;
                continue;
            }
        };
        if at < item || (at == item && !is_item) {
            // Left the container list.
            (key_indent, item_indent, command_indent) = (None, None, None);
            continue;
        }
        if let Some(command) = command_indent {
            if (at == command && is_item) || at > command {
                if let (Some(word), Some(container)) = (trimmed.strip_prefix("- "), found.last_mut()) {
                    container.command.push(scalar(word));
                }
                continue;
            }
            command_indent = None;
        }
        let entry = if at == item {
            found.push(Container { name: String::new(), command: Vec::new() });
            trimmed.trim_start_matches("- ").trim_start()
        } else {
            trimmed
        };
        if let Some(name) = entry.strip_prefix("name:") {
            if let Some(container) = found.last_mut().filter(|c| c.name.is_empty()) {
                container.name = scalar(name);
            }
        } else if entry == "command:" {
            command_indent = Some(if at == item { at + 2 } else { at });
        }
    }
    found
}

/// The command of the manifest's `etcd` container: what the kubelet runs.
pub fn etcd_command_of(text: &str) -> Option<Vec<String>> {
    containers(text).into_iter().find(|c| c.name == "etcd").map(|c| c.command).filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_etcd_manifest_reads_back_its_command() {
        let command = vec![
            "/usr/bin/etcd".to_string(),
            "--name=master-0".to_string(),
            "--initial-cluster=master-0=https://127.0.0.11:2380,master-1=https://127.0.0.12:2380".to_string(),
            "with \"quotes\" and 'apostrophes'".to_string(),
        ];
        let yaml = etcd_pod_yaml("master-0", 7, &command, false);
        assert!(yaml.contains("kind: Pod") && yaml.contains("k8s-app: etcd"), "{yaml}");
        let found = containers(&yaml);
        let names: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["etcd", "etcdctl", "etcd-metrics"]);
        assert_eq!(etcd_command_of(&yaml), Some(command.clone()));
        let restore = etcd_pod_yaml("master-0", 7, &command, true);
        assert_eq!(containers(&restore).len(), 1);
        assert_eq!(etcd_command_of(&restore), Some(command));
    }

    #[test]
    fn other_static_pods_list_their_containers_and_run_no_etcd() {
        let yaml = static_pod_yaml(&KUBE_APISERVER, "master-1", 7);
        let names: Vec<String> = containers(&yaml).into_iter().map(|c| c.name).collect();
        assert_eq!(names, KUBE_APISERVER.containers);
        assert_eq!(etcd_command_of(&yaml), None);
    }

    #[test]
    fn hand_written_yaml_in_the_usual_shapes_reads() {
        let yaml = [
            "apiVersion: v1",
            "kind: Pod",
            "spec:",
            "  containers:",
            "    - name: etcd",
            "      command: ",
            "      - /usr/bin/etcd",
            "      - '--name=it''s'",
            "    - image: x",
            "      name: other",
            "  volumes: []",
        ]
        .join("\n");
        let yaml = yaml.as_str();
        let found = containers(yaml);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[1].name, "other");
        assert_eq!(etcd_command_of(yaml), Some(vec!["/usr/bin/etcd".to_string(), "--name=it's".to_string()]));
    }
}
