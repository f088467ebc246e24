//! `crictl ps` on a lab host: the containers of the static pods whose
//! manifests are in /etc/kubernetes/manifests (etcd's own container only while
//! its process is alive), beside the operator, guard and node containers every
//! control-plane host runs, which the runbook's filters exist to hide.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::{kubelet, manifest, Host, MANIFESTS};

/// Containers that run on every lab master whatever its static pods do: (container, pod).
const ALWAYS: &[(&str, &str)] = &[
    ("etcd-operator", "etcd-operator-7d9f8b6c5d-x2kqp"),
    ("etcd-guard", "etcd-guard-{node}"),
    ("kube-apiserver-operator", "kube-apiserver-operator-5c7b9d8f6-mzr4t"),
    ("kube-apiserver-guard", "kube-apiserver-guard-{node}"),
    ("kube-controller-manager-operator", "kube-controller-manager-operator-6b8c7d5f9-hw7jn"),
    ("kube-controller-manager-guard", "kube-controller-manager-guard-{node}"),
    ("kube-scheduler-operator-container", "openshift-kube-scheduler-operator-8d6f5b7c4-qp9vl"),
    ("kube-scheduler-guard", "kube-scheduler-guard-{node}"),
    ("machine-config-daemon", "machine-config-daemon-{node}"),
    ("ovnkube-controller", "ovnkube-node-{node}"),
    ("dns-node-resolver", "node-resolver-{node}"),
];

/// One line of `crictl ps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRow {
    pub name: String,
    pub pod: String,
    pub created: SystemTime,
    pub attempt: u32,
}

fn modified(path: &Path) -> SystemTime {
    fs::metadata(path).and_then(|m| m.modified()).unwrap_or_else(|_| SystemTime::now())
}

/// The running containers of a host, static pods first (by manifest name), then the others.
pub fn containers(host: &Host) -> Vec<ContainerRow> {
    let node = &host.spec.name;
    let mut rows = Vec::new();
    let Ok(manifests) = host.path(MANIFESTS) else { return rows };
    let mut files: Vec<_> = fs::read_dir(&manifests)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "yaml")
                && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    let etcd = kubelet::etcd_process(&host.root);
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else { continue };
        let stem = file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        let pod = format!("{}-{node}", stem.trim_end_matches("-pod"));
        let is_etcd = file.file_name().is_some_and(|n| n == manifest::ETCD.file);
        for container in manifest::containers(&text) {
            let (created, attempt) = match (&etcd, is_etcd && container.name == "etcd") {
                (Some(process), true) => (process.started(), process.attempt),
                (None, true) => continue,
                _ => (modified(&file), 0),
            };
            rows.push(ContainerRow { name: container.name, pod: pod.clone(), created, attempt });
        }
    }
    // An etcd still stopping after its manifest went.
    if let Some(process) = etcd.filter(|_| !rows.iter().any(|r| r.name == "etcd")) {
        rows.push(ContainerRow {
            name: "etcd".into(),
            pod: format!("etcd-{node}"),
            created: process.started(),
            attempt: process.attempt,
        });
    }
    let booted = host.path("/etc/hostname").map(|p| modified(&p)).unwrap_or_else(|_| SystemTime::now());
    for (name, pod) in ALWAYS {
        rows.push(ContainerRow {
            name: name.to_string(),
            pod: pod.replace("{node}", node),
            created: booted,
            attempt: 0,
        });
    }
    rows
}

/// How long ago, as crictl says it.
pub fn ago(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    match seconds {
        0 => "Less than a second ago".into(),
        1..=59 => format!("{seconds} seconds ago"),
        60..=119 => "About a minute ago".into(),
        120..=3599 => format!("{} minutes ago", seconds / 60),
        3600..=7199 => "About an hour ago".into(),
        7200..=172_799 => format!("{} hours ago", seconds / 3600),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

/// `crictl ps`, the rows `keep` accepts: crictl's table (tabwriter, min width 20, padding 3).
pub fn ps(host: &Host, keep: impl Fn(&ContainerRow) -> bool) -> String {
    let now = SystemTime::now();
    let node = &host.spec.name;
    let mut table =
        vec![["CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID"].map(String::from).to_vec()];
    for row in containers(host).into_iter().filter(|r| keep(r)) {
        let started = row.created.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        table.push(vec![
            manifest::digest(&format!("{node}/{}/{}/{started}", row.pod, row.name))[..13].to_string(),
            manifest::digest(&manifest::image(&row.name)),
            ago(now.duration_since(row.created).unwrap_or_default()),
            "Running".into(),
            row.name.clone(),
            row.attempt.to_string(),
            manifest::digest(&format!("{node}/{}", row.pod))[..13].to_string(),
        ]);
    }
    let columns = table[0].len();
    let widths: Vec<usize> =
        (0..columns).map(|c| (table.iter().map(|r| r[c].chars().count()).max().unwrap_or(0) + 3).max(20)).collect();
    let mut out = String::new();
    for row in &table {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == columns {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}", width = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_crictl_prints_them() {
        assert_eq!(ago(Duration::from_secs(75)), "About a minute ago");
        assert_eq!(ago(Duration::from_secs(5)), "5 seconds ago");
        assert_eq!(ago(Duration::from_secs(3 * 3600)), "3 hours ago");
    }
}
