//! The backend quota where the cluster writes it: `--quota-backend-bytes` in the
//! etcd container's command or args (a word of its own, or inside the shell script
//! OpenShift's etcd pod runs), the `ETCD_QUOTA_BACKEND_BYTES` environment variable,
//! and the etcd operator's `spec.backendQuotaGiB`. Pure readers of the objects' JSON.

use serde_json::Value;

const FLAG: &str = "quota-backend-bytes";
const ENV: &str = "ETCD_QUOTA_BACKEND_BYTES";
const GIB: u64 = 1 << 30;

/// A quota as etcd reads its flag: a positive whole number of bytes.
fn bytes(text: &str) -> Option<u64> {
    text.trim().trim_matches(['"', '\'']).parse::<u64>().ok().filter(|q| *q > 0)
}

/// The words of a command line, shell scripts included: split on white space, quotes and
/// line continuations dropped.
fn words(parts: &[&str]) -> Vec<String> {
    parts
        .iter()
        .flat_map(|part| part.split_whitespace())
        .map(|w| w.trim_matches(['"', '\'', '\\', ';']).to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

/// `--quota-backend-bytes=N` or `--quota-backend-bytes N` (one dash or two, as etcd takes them).
pub fn quota_in_command(parts: &[&str]) -> Option<u64> {
    let words = words(parts);
    let mut found = None;
    for (i, word) in words.iter().enumerate() {
        let name = word.trim_start_matches('-');
        if name.len() == word.len() || word.len() - name.len() > 2 {
            continue;
        }
        if let Some(value) = name.strip_prefix(FLAG).and_then(|rest| rest.strip_prefix('=')) {
            found = bytes(value).or(found);
        } else if name == FLAG {
            found = words.get(i + 1).and_then(|v| bytes(v)).or(found);
        }
    }
    // etcd's flag parser keeps the last one given.
    found
}

/// The etcd container of a pod spec: the one named `etcd`.
fn etcd_container(spec: &Value) -> Option<&Value> {
    spec.get("containers")?.as_array()?.iter().find(|c| c.get("name").and_then(Value::as_str) == Some("etcd"))
}

/// The quota an etcd container is started with: its command and args, else its environment.
pub fn container_quota(container: &Value) -> Option<u64> {
    let strings = |field: &str| -> Vec<&str> {
        container
            .get(field)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    let mut parts = strings("command");
    parts.extend(strings("args"));
    quota_in_command(&parts).or_else(|| {
        container
            .get("env")?
            .as_array()?
            .iter()
            .find(|e| e.get("name").and_then(Value::as_str) == Some(ENV))
            .and_then(|e| e.get("value")?.as_str())
            .and_then(bytes)
    })
}

/// The quota a Pod (or a StatefulSet, by its pod template) starts etcd with.
pub fn pod_quota(object: &Value) -> Option<u64> {
    let spec = object.pointer("/spec/template/spec").or_else(|| object.get("spec"))?;
    container_quota(etcd_container(spec)?)
}

/// `spec.backendQuotaGiB` of `etcd.operator.openshift.io/cluster` (OpenShift 4.16+), in bytes.
pub fn backend_quota_gib(etcd_operator: &Value) -> Option<u64> {
    etcd_operator.pointer("/spec/backendQuotaGiB")?.as_u64().filter(|g| *g > 0).and_then(|g| g.checked_mul(GIB))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The etcd container of an OpenShift 4.14 etcd static pod: a shell script, the quota in
    /// its environment as cluster-etcd-operator writes it.
    fn openshift_etcd_container(env_quota: &str) -> Value {
        json!({
            "name": "etcd",
            "image": "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:etcd",
            "command": ["/bin/sh", "-c", "#!/bin/sh\nset -euo pipefail\n\netcdctl member list || true\n\nexec nice -n -19 ionice -c2 -n0 etcd \\\n  --logger=zap \\\n  --log-level=${VERBOSITY} \\\n  --experimental-initial-corrupt-check=true \\\n  --snapshot-count=10000 \\\n  --initial-advertise-peer-urls=https://${NODE_master_0_IP}:2380 \\\n  --cert-file=/etc/kubernetes/static-pod-certs/secrets/etcd-all-certs/etcd-serving-master-0.crt \\\n  --listen-client-urls=https://0.0.0.0:2379 \\\n  --listen-peer-urls=https://0.0.0.0:2380 \\\n  --metrics-addr=https://0.0.0.0:9978 || mv /etc/kubernetes/etcd-backup-dir/etcd-member.yaml /etc/kubernetes/manifests\n"],
            "env": [
                {"name": "ALL_ETCD_ENDPOINTS", "value": "https://10.0.0.10:2379,https://10.0.0.11:2379,https://10.0.0.12:2379"},
                {"name": "ETCD_HEARTBEAT_INTERVAL", "value": "100"},
                {"name": "ETCD_QUOTA_BACKEND_BYTES", "value": env_quota},
                {"name": "ETCD_NAME", "value": "master-0"},
            ],
        })
    }

    fn pod(containers: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "etcd-master-0", "namespace": "openshift-etcd", "labels": {"app": "etcd", "k8s-app": "etcd"}},
               "spec": {"nodeName": "master-0", "containers": containers}})
    }

    #[test]
    fn the_flag_in_both_forms_and_in_a_script() {
        assert_eq!(quota_in_command(&["etcd", "--name=m0", "--quota-backend-bytes=25165824"]), Some(25_165_824));
        assert_eq!(quota_in_command(&["/usr/bin/etcd", "--quota-backend-bytes", "8589934592"]), Some(8 << 30));
        assert_eq!(quota_in_command(&["etcd", "-quota-backend-bytes=1024"]), Some(1024));
        let script =
            "exec etcd \\\n  --data-dir=/var/lib/data \\\n  --quota-backend-bytes=\"12884901888\" \\\n  --logger=zap";
        assert_eq!(quota_in_command(&["/bin/sh", "-c", script]), Some(12 << 30));
        // Not a figure: a variable, a zero, another flag that ends alike.
        assert_eq!(quota_in_command(&["etcd", "--quota-backend-bytes=${QUOTA}"]), None);
        assert_eq!(quota_in_command(&["etcd", "--quota-backend-bytes=0"]), None);
        assert_eq!(quota_in_command(&["etcd", "--experimental-quota-backend-bytes=5"]), None);
        assert_eq!(quota_in_command(&["etcd", "---quota-backend-bytes=5"]), None);
        // etcd keeps the last one.
        assert_eq!(quota_in_command(&["etcd", "--quota-backend-bytes=1", "--quota-backend-bytes=2"]), Some(2));
    }

    #[test]
    fn an_openshift_etcd_pod_says_it_in_its_environment() {
        let etcdctl = json!({"name": "etcdctl", "command": ["/bin/bash", "-c", "trap TERM INT; sleep infinity & wait"],
                             "env": [{"name": "ETCD_QUOTA_BACKEND_BYTES", "value": "1"}]});
        let p = pod(json!([etcdctl, openshift_etcd_container("8589934592")]));
        assert_eq!(pod_quota(&p), Some(8 << 30), "the etcd container's, not etcdctl's");
        let p = pod(json!([openshift_etcd_container("not a number")]));
        assert_eq!(pod_quota(&p), None);
        // A flag in the args wins over the environment, as etcd reads it.
        let mut c = openshift_etcd_container("8589934592");
        c["args"] = json!(["--quota-backend-bytes=25165824"]);
        assert_eq!(pod_quota(&pod(json!([c]))), Some(25_165_824));
        assert_eq!(pod_quota(&pod(json!([{"name": "etcd", "command": ["etcd"]}]))), None);
        assert_eq!(pod_quota(&json!({"metadata": {"name": "x"}})), None);
    }

    #[test]
    fn a_hosted_statefulset_says_it_in_its_pod_template() {
        let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "etcd", "namespace": "clusters-hosted"},
        "spec": {"template": {"metadata": {"labels": {"app": "etcd"}}, "spec": {"containers": [
            {"name": "etcd", "command": ["/usr/bin/etcd"], "args": ["--data-dir=/var/lib/data", "--quota-backend-bytes", "8589934592"]},
            {"name": "etcd-metrics", "command": ["etcd", "grpc-proxy", "start"]},
        ]}}}});
        assert_eq!(pod_quota(&sts), Some(8 << 30));
    }

    #[test]
    fn the_operator_says_it_in_gib() {
        let etcd = json!({"apiVersion": "operator.openshift.io/v1", "kind": "Etcd", "metadata": {"name": "cluster"},
                          "spec": {"managementState": "Managed", "backendQuotaGiB": 16}});
        assert_eq!(backend_quota_gib(&etcd), Some(16 << 30));
        assert_eq!(backend_quota_gib(&json!({"spec": {"backendQuotaGiB": 0}})), None);
        assert_eq!(backend_quota_gib(&json!({"spec": {"managementState": "Managed"}})), None, "before 4.16");
        assert_eq!(backend_quota_gib(&json!({"spec": {"backendQuotaGiB": "8"}})), None);
    }
}
