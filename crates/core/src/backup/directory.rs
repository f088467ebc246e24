//! A backup directory as a restore reads it: the snapshot and the static
//! resources of one backup (`snapshot_<ts>.db`, `static_kuberesources_<ts>.tar.gz`,
//! as cluster-backup.sh writes them), the snapshot read end to end, and which
//! cluster and version it is of: from our `backup_<ts>.json` when it is there,
//! else from the ClusterVersion stored in the snapshot itself.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::snapshot;
use serde::{Deserialize, Serialize};

/// Where OpenShift keeps ClusterVersion `version` in etcd (custom resources are stored as JSON).
pub const CLUSTER_VERSION_KEY: &str = "/kubernetes.io/config.openshift.io/clusterversions/version";

#[derive(Default)]
struct Pair {
    snapshot: Option<String>,
    resources: Option<String>,
    metadata: Option<String>,
}

/// The backup directory as the executor found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BackupFacts {
    pub dir: String,
    /// The `<ts>` the snapshot and the static resources share.
    pub timestamp: Option<String>,
    pub snapshot: Option<String>,
    pub static_resources: Option<String>,
    /// Why the files are not one backup (no snapshot, several).
    pub files_problem: Option<String>,
    /// Why the static resources are not the snapshot's (missing, of another backup): only §3.9 needs them.
    pub static_problem: Option<String>,
    /// Whether the snapshot read end to end (None: not read).
    pub verified: Option<bool>,
    /// The snapshot's revision (what a restored member answers at).
    #[serde(default)]
    pub revision: Option<i64>,
    /// What the reading found (hash, revision, keys), or what is wrong.
    pub verification: String,
    /// The OpenShift cluster ID and version the backup is of, and where they were read.
    pub cluster_id: Option<String>,
    pub version: Option<String>,
    pub identity_source: Option<String>,
}

/// The backup in `dir`; every problem is in the facts, for the gates to judge.
pub fn inspect(dir: &Path) -> BackupFacts {
    let mut facts = BackupFacts { dir: dir.display().to_string(), ..BackupFacts::default() };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            facts.files_problem = Some(format!("cannot read the backup directory {}: {e}", dir.display()));
            return facts;
        }
    };
    let mut by_stamp: BTreeMap<String, Pair> = BTreeMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stamp = |prefix: &str, suffix: &str| {
            name.strip_prefix(prefix).and_then(|n| n.strip_suffix(suffix)).map(str::to_string)
        };
        if let Some(ts) = stamp("snapshot_", ".db") {
            by_stamp.entry(ts).or_default().snapshot = Some(name);
        } else if let Some(ts) = stamp("static_kuberesources_", ".tar.gz") {
            by_stamp.entry(ts).or_default().resources = Some(name);
        } else if let Some(ts) = stamp("backup_", ".json") {
            by_stamp.entry(ts).or_default().metadata = Some(name);
        }
    }
    let snapshots: Vec<&String> = by_stamp.iter().filter(|(_, p)| p.snapshot.is_some()).map(|(ts, _)| ts).collect();
    let ts = match snapshots.as_slice() {
        [] => {
            facts.files_problem = Some(format!("no snapshot_<ts>.db in {}", dir.display()));
            return facts;
        }
        [one] => (*one).clone(),
        many => {
            facts.files_problem = Some(format!(
                "{} holds {} snapshots ({}): a restore directory holds one backup; copy the one you mean to its own directory",
                dir.display(),
                many.len(),
                many.iter().map(|s| format!("snapshot_{s}.db")).collect::<Vec<_>>().join(", ")
            ));
            return facts;
        }
    };
    let Some(pair) = by_stamp.remove(&ts) else { return facts };
    facts.timestamp = Some(ts.clone());
    facts.snapshot = pair.snapshot.clone();
    facts.static_resources = pair.resources.clone();
    if pair.resources.is_none() {
        let others: Vec<String> = by_stamp.values().filter_map(|p| p.resources.clone()).collect();
        facts.static_problem = Some(if others.is_empty() {
            format!(
                "static_kuberesources_{ts}.tar.gz is missing: cluster-restore.sh needs the static resources of the same backup (take backups with cluster-backup.sh on a control-plane host)"
            )
        } else {
            format!(
                "the static resources there ({}) are not from the backup of snapshot_{ts}.db: they must be from the same backup",
                others.join(", ")
            )
        });
    }

    let snapshot_path = dir.join(format!("snapshot_{ts}.db"));
    let file = snapshot::open(&snapshot_path);
    let mut revision = None;
    let verified = file.as_ref().map_err(ToString::to_string).and_then(|file| {
        snapshot::verify(file).map_err(String::from).map(|(trailer, status)| {
            revision = Some(status.revision);
            format!(
                "revision {}, {} keys, hash {:08x}, {}",
                status.revision,
                status.total_key,
                status.hash,
                match trailer {
                    snapshot::Trailer::Matches => "SHA-256 matches",
                    snapshot::Trailer::Absent => "no SHA-256 (a copy of a data file)",
                }
            )
        })
    });
    facts.verified = Some(verified.is_ok());
    facts.revision = revision;
    facts.verification = verified.unwrap_or_else(|e| e);

    // Which cluster: our metadata first (it was written when the backup was taken), then the snapshot.
    if let Some(name) = &pair.metadata {
        if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
            if let Ok(metadata) = serde_json::from_str::<Value>(&text) {
                facts.cluster_id =
                    metadata.pointer("/openshift/cluster_id").and_then(Value::as_str).map(str::to_string);
                facts.version =
                    metadata.pointer("/openshift/cluster_version").and_then(Value::as_str).map(str::to_string);
                if facts.cluster_id.is_some() || facts.version.is_some() {
                    facts.identity_source = Some(name.clone());
                }
            }
        }
    }
    if facts.cluster_id.is_none() || facts.version.is_none() {
        if let Ok(file) = &file {
            if let Ok(Some(bytes)) = snapshot::latest_value(file, CLUSTER_VERSION_KEY.as_bytes()) {
                if let Ok(object) = serde_json::from_slice::<Value>(&bytes) {
                    let (id, version) = identity(&object);
                    facts.cluster_id = facts.cluster_id.take().or(id);
                    facts.version = facts.version.take().or(version);
                    facts.identity_source = Some(format!("the ClusterVersion inside snapshot_{ts}.db"));
                }
            }
        }
    }
    if facts.identity_source.is_none() {
        facts.identity_source = Some(format!("snapshot_{ts}.db (it holds no ClusterVersion)"));
    }
    facts
}

/// ClusterVersion's `spec.clusterID` and the newest Completed version of its history.
pub fn identity(cluster_version: &Value) -> (Option<String>, Option<String>) {
    let id = cluster_version.pointer("/spec/clusterID").and_then(Value::as_str).map(str::to_string);
    let version = cluster_version.pointer("/status/history").and_then(Value::as_array).and_then(|history| {
        history
            .iter()
            .find(|entry| entry.get("state").and_then(Value::as_str) == Some("Completed"))
            .and_then(|entry| entry.get("version").and_then(Value::as_str))
            .map(str::to_string)
    });
    (id, version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_must_be_one_backup() {
        let dir = tempfile::tempdir().unwrap();
        let facts = inspect(dir.path());
        assert!(facts.files_problem.unwrap().contains("no snapshot_<ts>.db"));

        std::fs::write(dir.path().join("snapshot_2026-12-02_010203.db"), b"not bbolt").unwrap();
        std::fs::write(dir.path().join("static_kuberesources_2026-12-01_230000.tar.gz"), b"").unwrap();
        let facts = inspect(dir.path());
        assert!(facts.static_problem.unwrap().contains("not from the backup"), "mismatched stamps");
        assert_eq!(facts.verified, Some(false), "a file that is not a database is not verified");

        std::fs::write(dir.path().join("static_kuberesources_2026-12-02_010203.tar.gz"), b"").unwrap();
        assert_eq!(inspect(dir.path()).static_problem, None);

        std::fs::write(dir.path().join("snapshot_2026-12-01_230000.db"), b"").unwrap();
        assert!(inspect(dir.path()).files_problem.unwrap().contains("holds 2 snapshots"));
    }

    #[test]
    fn identity_is_the_cluster_id_and_the_newest_completed_version() {
        let object = serde_json::json!({
            "spec": {"clusterID": "5c1a"},
            "status": {"history": [
                {"state": "Partial", "version": "4.14.9"},
                {"state": "Completed", "version": "4.14.8"},
                {"state": "Completed", "version": "4.13.30"}
            ]}
        });
        assert_eq!(identity(&object), (Some("5c1a".into()), Some("4.14.8".into())));
    }
}
