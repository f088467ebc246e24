//! The hosted control plane on the lab's management cluster (the `hosted`
//! scenario): what HyperShift's StatefulSet, Deployments and volumes do in
//! `clusters-hosted`, with the lab's real etcd members as the StatefulSet's
//! replicas, so that RUNBOOKS §5.3 [HCP-ONPREM-BR] can be rehearsed through
//! the API alone (`kubectl scale`, `delete pvc`, `apply`, `cp`, `exec`).
//!
//! How the lab maps it:
//!
//! - Replica `etcd-N` (pod `etcd-N`, annotated `lab.etcd-console/member:
//!   master-N`) is the lab's member `master-N`, which keeps its name and peer
//!   URL and runs with HyperShift's `--initial-cluster-token=etcd-cluster`
//!   ([`INITIAL_CLUSTER_TOKEN`]).
//! - Claim `data-etcd-N` is replica N's volume: the directory
//!   `DIR/hosts/master-N/var/lib`, mounted at the pods' `/var/lib`; etcd's data
//!   directory is its `data` (`/var/lib/data` in the pod,
//!   `DIR/hosts/master-N/var/lib/data` in the lab, `LabMember::data_dir`). Any
//!   other claim's volume is `DIR/volumes/<namespace>/<claim>` ([`volume_dir`]).
//! - `spec.replicas` of StatefulSet `etcd` is how many members run: a replica
//!   past it is stopped (its etcd manifest taken from its host, so the lab's
//!   kubelet stops it) and its pod deleted once the process is gone; one below
//!   it is started again, with a new pod ([`etcd`]).
//! - Claims carry `kubernetes.io/pvc-protection`: deleting one a pod mounts
//!   leaves it Terminating; once no pod mounts it, it goes and its volume's
//!   content is deleted (reclaimPolicy Delete).
//! - Deployments run as many pods as `spec.replicas` says, built from their
//!   template (the runbook's `etcd-data` pod remembers which claim it mounts
//!   where, for `pods/exec`); deleting one deletes its pods ([`workloads`]).
//! - The HostedCluster's `spec.pausedUntil` pauses reconciliation; while it
//!   is not paused, the HyperShift operator puts the control plane's replicas
//!   back ([`reconcile`]).

pub mod etcd;
pub mod reconcile;
pub mod workloads;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch as signal;

use super::catalog;
use super::seed::{MemberView, HOSTED_CP_NAMESPACE};
use super::store::{str_at, Store};
use super::HostsLink;
use crate::hosts::Inventory;

/// The `--initial-cluster-token` of a hosted control plane's etcd (HyperShift's, the one §5.3's restore gives).
pub const INITIAL_CLUSTER_TOKEN: &str = "etcd-cluster";
/// The etcd StatefulSet of the control-plane namespace.
pub const STATEFULSET: &str = "etcd";
/// The finalizer Kubernetes puts on every claim (StorageObjectInUseProtection).
pub const PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";
/// On an etcd pod: the name of the lab member it runs.
pub const MEMBER_ANNOTATION: &str = "lab.etcd-console/member";
/// How often the controllers look at the store (real time).
pub const SYNC_EVERY: Duration = Duration::from_millis(200);

/// Replica `index`'s pod name.
pub fn pod_name(index: usize) -> String {
    format!("{STATEFULSET}-{index}")
}

/// Replica `index`'s claim (the StatefulSet's `data` claim template).
pub fn claim_name(index: usize) -> String {
    format!("data-{STATEFULSET}-{index}")
}

fn idx(group: &str, kind: &str) -> usize {
    catalog::by_kind(group, kind).unwrap_or(0)
}

/// Marked for deletion (Terminating).
pub fn terminating(object: &Value) -> bool {
    object.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null())
}

/// Where claim `claim` of `namespace` keeps its volume in the lab: replica N's
/// claim is its member's host `/var/lib`, any other DIR/volumes/<namespace>/<claim>.
pub fn volume_dir(inventory: &Inventory, namespace: &str, claim: &str) -> PathBuf {
    let replica = claim.strip_prefix("data-etcd-").and_then(|n| n.parse::<usize>().ok());
    if namespace == HOSTED_CP_NAMESPACE {
        if let Some(host) = replica.and_then(|i| inventory.hosts.get(i)) {
            return inventory.root(&host.name).join("var/lib");
        }
    }
    inventory.lab_dir.join("volumes").join(namespace).join(claim)
}

/// A volume holding an etcd member's data (what HyperShift's reset-member looks for).
pub fn has_data(volume: &Path) -> bool {
    volume.join("data/member/snap/db").is_file()
}

/// Deletes what a volume holds (it stays, empty).
pub fn wipe(volume: &Path) -> Result<(), String> {
    let entries = match fs::read_dir(volume) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return fs::create_dir_all(volume).map_err(|e| format!("cannot create {}: {e}", volume.display()))
        }
        Err(e) => return Err(format!("cannot read {}: {e}", volume.display())),
    };
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let gone = if path.is_dir() && !path.is_symlink() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
        gone.map_err(|e| format!("cannot delete {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The claims a pod mounts: (volume name, claim name).
pub fn claims_of(pod: &Value) -> Vec<(String, String)> {
    pod.pointer("/spec/volumes")
        .and_then(Value::as_array)
        .map(|volumes| {
            volumes
                .iter()
                .filter_map(|v| {
                    let claim = str_at(v, "/persistentVolumeClaim/claimName");
                    (!claim.is_empty()).then(|| (str_at(v, "/name").to_string(), claim.to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Claims deleted while mounted go once no pod mounts them, and their volumes'
/// content with them (the pvc-protection controller, then reclaimPolicy Delete).
pub fn release_claims(store: &Store, inventory: Option<&Inventory>) {
    let claims = idx("", "PersistentVolumeClaim");
    let held = |c: &Value| terminating(c) && has_finalizer(c, PVC_PROTECTION);
    let waiting = store.list(claims, None, &held, None, None).items;
    if waiting.is_empty() {
        return;
    }
    let pods = store.all_of(idx("", "Pod"));
    for claim in waiting {
        let namespace = str_at(&claim, "/metadata/namespace").to_string();
        let name = str_at(&claim, "/metadata/name").to_string();
        let mounted = pods
            .iter()
            .any(|p| str_at(p, "/metadata/namespace") == namespace && claims_of(p).iter().any(|(_, c)| *c == name));
        if mounted {
            continue;
        }
        if let Some(inventory) = inventory {
            let volume = volume_dir(inventory, &namespace, &name);
            if let Err(e) = wipe(&volume) {
                tracing::warn!(%namespace, claim = %name, error = %e, "lab: cannot delete a released claim's volume");
                continue;
            }
        }
        let released = store.modify(claims, &namespace, &name, |o| {
            if let Some(list) = o["metadata"]["finalizers"].as_array_mut() {
                list.retain(|f| f != PVC_PROTECTION);
            }
        });
        if released.is_ok() {
            tracing::info!(%namespace, claim = %name, "lab: a deleted claim no pod mounts is gone, and its volume's data");
        }
    }
}

pub fn has_finalizer(object: &Value, finalizer: &str) -> bool {
    object.pointer("/metadata/finalizers").and_then(Value::as_array).is_some_and(|f| f.iter().any(|x| x == finalizer))
}

/// The hosted control plane's controllers: the etcd StatefulSet (which waits on
/// etcd itself) on one task, Deployments and the HostedCluster on another.
pub struct Controller {
    store: Arc<Store>,
    members: Vec<MemberView>,
    speed: f64,
    hosts: Option<HostsLink>,
}

impl Controller {
    pub fn new(store: Arc<Store>, members: Vec<MemberView>, speed: f64, hosts: Option<HostsLink>) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 { speed } else { 1.0 };
        Self { store, members, speed, hosts }
    }

    /// Runs both until shutdown.
    pub async fn run(self, shutdown: signal::Receiver<bool>) {
        let mut workloads = workloads::Workloads::new(self.store.clone(), self.speed);
        let mut hosted_cluster = reconcile::Reconciler::new(self.store.clone(), self.members.len(), self.speed);
        let mut stop = shutdown.clone();
        let other = tokio::spawn(async move {
            let mut tick = tokio::time::interval(SYNC_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = tick.tick() => {
                        hosted_cluster.sync();
                        workloads.sync();
                    }
                }
            }
        });
        let mut replicas = etcd::Replicas::new(self.store.clone(), self.members.clone(), self.hosts.clone());
        let mut stop = shutdown;
        let mut tick = tokio::time::interval(SYNC_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = tick.tick() => {}
            }
            // A pass may wait on etcd; shutdown does not wait for it.
            tokio::select! {
                _ = stop.changed() => break,
                _ = replicas.sync() => {}
            }
        }
        let _ = other.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_map_to_their_replicas_host_var_lib() {
        let inventory = Inventory {
            lab_dir: PathBuf::from("/lab"),
            etcd_bin: PathBuf::new(),
            etcdctl_bin: PathBuf::new(),
            etcdutl_bin: None,
            quota_bytes: 0,
            ca: PathBuf::new(),
            client_cert: PathBuf::new(),
            client_key: PathBuf::new(),
            hosts: vec![crate::hosts::HostSpec {
                name: "master-0".into(),
                ip: "127.0.0.11".into(),
                client_url: String::new(),
                advertised_url: String::new(),
                peer_url: String::new(),
                cert: PathBuf::new(),
                key: PathBuf::new(),
                ca: PathBuf::new(),
            }],
            hosted: true,
            workers: Vec::new(),
        };
        assert_eq!(
            volume_dir(&inventory, HOSTED_CP_NAMESPACE, "data-etcd-0"),
            Path::new("/lab/hosts/master-0/var/lib")
        );
        assert_eq!(
            volume_dir(&inventory, HOSTED_CP_NAMESPACE, "data-etcd-7"),
            Path::new("/lab/volumes/clusters-hosted/data-etcd-7")
        );
        assert_eq!(volume_dir(&inventory, "other", "data-etcd-0"), Path::new("/lab/volumes/other/data-etcd-0"));
        assert_eq!((pod_name(2), claim_name(2)), ("etcd-2".to_string(), "data-etcd-2".to_string()));
    }
}
