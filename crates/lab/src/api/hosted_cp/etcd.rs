//! The etcd StatefulSet of the hosted control plane, over the lab's real
//! members: replica N is member `master-N`, run by its host's kubelet from
//! the etcd manifest this controller writes (present: it runs; taken away: the
//! kubelet stops it).
//!
//! - A replica at or past `spec.replicas`, or whose pod is deleted, is stopped;
//!   its pod goes once its process has (graceful deletion). When several stop
//!   at once the leader goes last, so that it has nobody to hand its leadership
//!   to and stops at once.
//! - A replica below `spec.replicas` that does not run is started with a new
//!   pod (Pending, then Running and Ready once its process runs and its client
//!   port answers), and a new empty claim if its own is gone; one whose claim
//!   is being deleted waits until it is.
//! - Start order: one replica at a time, those whose claim holds data first
//!   (then by ordinal), each once the ones started answer; once enough are
//!   started for a quorum, the next waits until a leader exists (each waits
//!   at most [`START_PATIENCE`]). So after a §5.3 restore (only `data-etcd-0`
//!   holds data): replica 0, then 1, then 2 once a leader exists. Member 0
//!   cannot elect itself alone, so replica 1 comes up beside it, and the
//!   first election needs member 0, which keeps campaigning (its term rising)
//!   while it waits: the restored member leads. Later replicas join a cluster
//!   that has a leader, and an empty one finds it functional (below).
//! - An empty replica starts as HyperShift's `reset-member` init container
//!   decides: when a functional cluster answers (a running member that knows a
//!   leader), the member of that name is removed and added again and it
//!   starts with `--initial-cluster-state=existing` (the leader then sends it
//!   its snapshot); otherwise it starts `new`, with the token etcd-cluster and
//!   the full `--initial-cluster` (flags etcd ignores once it has data).
//!   Beware what that means after a restore of member 0 alone: replica 1
//!   starts `new` beside it (no leader yet) with the same bootstrap raft log as
//!   the restored member, so raft sends it only what comes after the restore's
//!   own entries and it never receives the restored keys (etcd 3.4: it stays
//!   at revision 1 while member 0 holds the snapshot's). The lab shows this
//!   as a real management cluster would; restoring every claim from the same
//!   snapshot avoids it.

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::Client;
use serde_json::{json, Value};

use super::{
    claim_name, has_data, idx, pod_name, release_claims, terminating, volume_dir, wipe, INITIAL_CLUSTER_TOKEN,
};
use crate::api::operators::{container_shows, process_alive_running, set_condition, ContainerSignature, EtcdContainer};
use crate::api::seed::{self, MemberView, HOSTED_CP_NAMESPACE as NS};
use crate::api::store::{now_rfc3339, str_at, Store};
use crate::api::HostsLink;
use crate::hosts::manifest::{self, ClusterState};
use crate::hosts::{kubelet, write_atomically, HostSpec};
use etcd_console_core::etcd::connect::{describe, timed};
use etcd_console_core::etcd::Connector;

/// How long a replica waits for the ones before it to come up before it starts anyway.
pub const START_PATIENCE: Duration = Duration::from_secs(30);
/// How long an etcd call of the controller may take.
const ETCD_CALL: Duration = Duration::from_secs(2);

#[derive(Debug, Default, Clone)]
struct Replica {
    /// Whether its member answered at the last look (None before the first).
    up: Option<bool>,
    /// What its pod last showed of a container that exited by itself (restarts, back-off).
    seen: Option<ContainerSignature>,
}

pub struct Replicas {
    store: Arc<Store>,
    members: Vec<MemberView>,
    link: Option<HostsLink>,
    connector: Option<Connector>,
    state: Vec<Replica>,
    /// The replica waiting to start, and since when.
    waiting: Option<(usize, Instant)>,
    /// The leader among the replicas being stopped together: stopped last.
    stopping_leader: Option<usize>,
}

fn ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// `host:port` of a URL.
fn address(url: &str) -> &str {
    url.split("://").nth(1).unwrap_or(url).trim_end_matches('/')
}

/// Whether something accepts connections at `url`.
async fn answers(url: &str) -> bool {
    let connect = tokio::net::TcpStream::connect(address(url));
    matches!(tokio::time::timeout(Duration::from_millis(300), connect).await, Ok(Ok(_)))
}

/// A replica's pod from its seed form: Pending, its containers being created.
fn pending_pod(mut pod: Value, at: &str) -> Value {
    pod["metadata"]["creationTimestamp"] = json!(at);
    pod["status"]["phase"] = json!("Pending");
    pod["status"]["startTime"] = json!(at);
    if let Some(status) = pod["status"].as_object_mut() {
        status.remove("podIP");
        status.remove("podIPs");
    }
    let names: Vec<String> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|c| c.iter().map(|c| str_at(c, "/name").to_string()).collect())
        .unwrap_or_default();
    let unready = format!("containers with unready status: [{}]", names.join(" "));
    pod["status"]["conditions"] = json!([]);
    for (kind, status, reason, message) in [
        ("PodScheduled", "True", "", ""),
        ("Initialized", "True", "", ""),
        ("Ready", "False", "ContainersNotReady", unready.as_str()),
        ("ContainersReady", "False", "ContainersNotReady", unready.as_str()),
    ] {
        set_condition(&mut pod, seed::condition(kind, status, reason, message, at));
    }
    if let Some(statuses) = pod["status"]["containerStatuses"].as_array_mut() {
        for s in statuses {
            s["ready"] = json!(false);
            s["started"] = json!(false);
            s["state"] = json!({"waiting": {"reason": "ContainerCreating"}});
        }
    }
    pod
}

impl Replicas {
    pub fn new(store: Arc<Store>, members: Vec<MemberView>, link: Option<HostsLink>) -> Self {
        let connector = link.as_ref().and_then(|l| match Connector::from_args(&l.inventory.connection()) {
            Ok(connector) => Some(connector),
            Err(e) => {
                tracing::warn!(error = %e, "lab: the etcd StatefulSet's controller cannot reach etcd");
                None
            }
        });
        let count = members.len();
        Self {
            store,
            members,
            link,
            connector,
            state: vec![Replica::default(); count],
            waiting: None,
            stopping_leader: None,
        }
    }

    fn count(&self) -> usize {
        self.link.as_ref().map(|l| l.inventory.hosts.len()).unwrap_or(0).min(self.members.len())
    }

    fn host(&self, i: usize) -> Option<&HostSpec> {
        self.link.as_ref().and_then(|l| l.inventory.hosts.get(i))
    }

    fn manifest_path(&self, i: usize) -> Option<PathBuf> {
        let link = self.link.as_ref()?;
        let host = link.inventory.hosts.get(i)?;
        Some(kubelet::etcd_manifest(&link.inventory.root(&host.name)))
    }

    fn has_manifest(&self, i: usize) -> bool {
        self.manifest_path(i).is_some_and(|p| p.exists())
    }

    fn pid(&self, i: usize) -> Option<i32> {
        self.link.as_ref().and_then(|l| l.pids.get(i))
    }

    fn pod(&self, i: usize) -> Option<Value> {
        self.store.get(idx("", "Pod"), NS, &pod_name(i)).ok()
    }

    /// One look at the StatefulSet and its replicas.
    pub async fn sync(&mut self) {
        let inventory = self.link.as_ref().map(|l| l.inventory.clone());
        let count = self.count();
        if count == 0 {
            release_claims(&self.store, inventory.as_deref());
            return;
        }
        let statefulset = self.store.get(idx("apps", "StatefulSet"), NS, super::STATEFULSET).ok();
        let wanted = statefulset
            .as_ref()
            .map(|s| s.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1).max(0) as usize)
            .unwrap_or(0)
            .min(count);
        let pods = idx("", "Pod");
        let mut stopping = Vec::new();
        for i in 0..count {
            let pod = self.pod(i);
            if i >= wanted {
                if pod.as_ref().is_some_and(|p| !terminating(p)) {
                    tracing::info!(pod = %pod_name(i), "lab: the etcd StatefulSet scaled down: its pod terminates");
                    let _ = self.store.delete(pods, NS, &pod_name(i), false);
                }
                stopping.push(i);
            } else if pod.as_ref().is_some_and(terminating) || (pod.is_none() && self.has_manifest(i)) {
                stopping.push(i);
            }
        }
        self.stop(&stopping).await;
        release_claims(&self.store, inventory.as_deref());
        self.start_next(wanted).await;
        self.follow_pods(count).await;
        if let Some(statefulset) = statefulset {
            self.write_status(&statefulset, count);
        }
    }

    /// Stops these replicas' members (the leader last) and removes their pods once the processes are gone.
    async fn stop(&mut self, replicas: &[usize]) {
        let running: Vec<usize> =
            replicas.iter().copied().filter(|&i| self.has_manifest(i) || self.pid(i).is_some()).collect();
        if running.len() < 2 {
            self.stopping_leader = None;
        } else if self.stopping_leader.is_none() {
            self.stopping_leader = self.leader().await.filter(|l| running.contains(l));
        }
        for &i in &running {
            let others = running.iter().any(|&j| j != i && (self.pid(j).is_some() || self.has_manifest(j)));
            if self.stopping_leader == Some(i) && others {
                continue;
            }
            if let Some(path) = self.manifest_path(i).filter(|p| p.exists()) {
                match fs::remove_file(&path) {
                    Ok(()) => {
                        tracing::info!(replica = %pod_name(i), "lab: etcd replica stopping (its manifest taken away)")
                    }
                    Err(e) => tracing::warn!(replica = %pod_name(i), error = %e, "lab: cannot stop an etcd replica"),
                }
            }
        }
        for &i in replicas {
            if self.has_manifest(i) || self.pid(i).is_some() {
                continue;
            }
            if self.store.remove(idx("", "Pod"), NS, &pod_name(i)).is_some() {
                tracing::info!(pod = %pod_name(i), "lab: etcd replica stopped, its pod is gone");
            }
            self.state[i] = Replica::default();
        }
    }

    fn startable(&self, i: usize) -> bool {
        !self.has_manifest(i) && self.pid(i).is_none() && !self.pod(i).is_some_and(|p| terminating(&p))
    }

    /// Whether replica `i`'s claim holds a member's data (a claim being deleted holds none).
    fn claim_has_data(&self, i: usize) -> bool {
        let Some(link) = &self.link else { return false };
        let claim = self.store.get(idx("", "PersistentVolumeClaim"), NS, &claim_name(i));
        claim.is_ok_and(|c| !terminating(&c)) && has_data(&volume_dir(&link.inventory, NS, &claim_name(i)))
    }

    /// Starts the next replica that should run and does not, when its turn has come:
    /// replicas with data first, each once the ones started answer, and once there are
    /// enough of them for a quorum, only when a leader exists.
    async fn start_next(&mut self, wanted: usize) {
        let mut candidates: Vec<usize> = (0..wanted).filter(|&i| self.startable(i)).collect();
        candidates.sort_by_key(|&i| (!self.claim_has_data(i), i));
        let Some(&i) = candidates.first() else {
            self.waiting = None;
            return;
        };
        let since = match self.waiting {
            Some((j, since)) if j == i => since,
            _ => {
                self.waiting = Some((i, Instant::now()));
                Instant::now()
            }
        };
        let patient = since.elapsed() < START_PATIENCE;
        let started: Vec<usize> = (0..self.count()).filter(|&j| self.has_manifest(j)).collect();
        if patient && !started.iter().all(|&j| self.state[j].up == Some(true)) {
            return;
        }
        let quorum = self.count() / 2 + 1;
        if patient && started.len() >= quorum && self.leader().await.is_none() {
            return;
        }
        if let Err(e) = self.start(i).await {
            tracing::warn!(replica = %pod_name(i), error = %e, "lab: cannot start an etcd replica (tried again)");
            return;
        }
        self.waiting = None;
    }

    async fn start(&mut self, i: usize) -> Result<(), String> {
        let (Some(link), Some(host)) = (self.link.clone(), self.host(i).cloned()) else { return Ok(()) };
        let claims = idx("", "PersistentVolumeClaim");
        let claim = claim_name(i);
        let volume = volume_dir(&link.inventory, NS, &claim);
        match self.store.get(claims, NS, &claim) {
            Err(_) => {
                wipe(&volume)?;
                self.store.create(claims, NS, seed::etcd_claim(i), false).map_err(|e| e.message)?;
                tracing::info!(%claim, "lab: the etcd StatefulSet made its claim again (an empty volume)");
            }
            // The StatefulSet makes no pod while its claim is being deleted.
            Ok(existing) if terminating(&existing) => return Ok(()),
            Ok(_) => {}
        }
        let at = now_rfc3339();
        let pods = idx("", "Pod");
        if self.pod(i).is_none() {
            let pod = pending_pod(seed::hosted_pod(super::STATEFULSET, i, &self.members, &at), &at);
            self.store.create(pods, NS, pod, false).map_err(|e| e.message)?;
        }
        let (initial_cluster, state) = self.bootstrap(i, &host, &volume).await?;
        let command = manifest::etcd_command(&link.inventory, &host, &initial_cluster, INITIAL_CLUSTER_TOKEN, state);
        let yaml = manifest::etcd_pod_yaml(&host.name, manifest::REVISION, &command, false);
        let path = kubelet::etcd_manifest(&link.inventory.root(&host.name));
        write_atomically(&path, &yaml)?;
        tracing::info!(replica = %pod_name(i), ?state, "lab: etcd replica starting");
        self.state[i] = Replica { up: Some(false), seen: None };
        Ok(())
    }

    /// `--initial-cluster` and `--initial-cluster-state` for replica `i`, as HyperShift's reset-member decides.
    async fn bootstrap(
        &self,
        i: usize,
        host: &HostSpec,
        volume: &std::path::Path,
    ) -> Result<(String, ClusterState), String> {
        let Some(link) = &self.link else { return Err("no hosts".into()) };
        let full =
            link.inventory.hosts.iter().map(|h| format!("{}={}", h.name, h.peer_url)).collect::<Vec<_>>().join(",");
        if has_data(volume) {
            return Ok((full, ClusterState::New));
        }
        // A data directory without a database (a WAL, half a restore) would be taken for the member's own.
        let data = volume.join("data");
        if data.exists() {
            fs::remove_dir_all(&data).map_err(|e| format!("cannot clear {}: {e}", data.display()))?;
        }
        let Some(mut client) = self.functional_member(i).await else { return Ok((full, ClusterState::New)) };
        let listed = timed(ETCD_CALL, async { client.member_list().await.map_err(describe) }).await?;
        let old = listed.members().iter().find(|m| m.name() == host.name || m.peer_urls().contains(&host.peer_url));
        if let Some(old) = old {
            let id = old.id();
            timed(ETCD_CALL * 3, async { client.member_remove(id).await.map_err(describe) })
                .await
                .map_err(|e| format!("member remove {id:x}: {e}"))?;
            tracing::info!(replica = %pod_name(i), "lab: reset-member removed the empty replica's old member");
        }
        let peer = host.peer_url.clone();
        let added = timed(ETCD_CALL * 3, async { client.member_add([peer.as_str()], None).await.map_err(describe) })
            .await
            .map_err(|e| format!("member add {peer}: {e}"))?;
        let initial_cluster = added
            .member_list()
            .iter()
            .flat_map(|m| {
                let name = if m.name().is_empty() {
                    link.inventory.hosts.iter().find(|h| m.peer_urls().contains(&h.peer_url)).map(|h| h.name.clone())
                } else {
                    Some(m.name().to_string())
                };
                let name = name.unwrap_or_else(|| format!("{:x}", m.id()));
                m.peer_urls().iter().map(move |url| format!("{name}={url}")).collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
            .join(",");
        tracing::info!(replica = %pod_name(i), "lab: reset-member added the empty replica as a new member");
        Ok((initial_cluster, ClusterState::Existing))
    }

    async fn status_of(&self, i: usize) -> Option<(Client, etcd_client::StatusResponse)> {
        let connector = self.connector.as_ref()?;
        let url = self.host(i)?.client_url.clone();
        let mut client = timed(ETCD_CALL, async { connector.client(&url).await }).await.ok()?;
        let status = timed(ETCD_CALL, async { client.status().await.map_err(describe) }).await.ok()?;
        Some((client, status))
    }

    /// A client of a running member (not `except`) that knows a leader: a functional cluster.
    async fn functional_member(&self, except: usize) -> Option<Client> {
        for j in (0..self.count()).filter(|&j| j != except && self.pid(j).is_some()) {
            if let Some((client, status)) = self.status_of(j).await {
                if status.leader() != 0 {
                    return Some(client);
                }
            }
        }
        None
    }

    /// The replica whose member leads, as the running members say.
    async fn leader(&self) -> Option<usize> {
        let mut ids = vec![None; self.count()];
        let mut leader = None;
        for j in (0..self.count()).filter(|&j| self.pid(j).is_some()) {
            if let Some((_, status)) = self.status_of(j).await {
                ids[j] = status.header().map(|h| h.member_id());
                leader = leader.or(Some(status.leader()).filter(|&id| id != 0));
            }
        }
        let leader = leader?;
        ids.iter().position(|id| *id == Some(leader))
    }

    /// Each pod's readiness follows its member: Running and Ready once it runs and answers.
    async fn follow_pods(&mut self, count: usize) {
        let pods = idx("", "Pod");
        for i in 0..count {
            let Some(pod) = self.pod(i) else {
                self.state[i].up = None;
                continue;
            };
            if terminating(&pod) {
                continue;
            }
            // A container that exited by itself: the kubelet shows each restart and its back-off.
            let view = match (&self.link, self.host(i)) {
                (Some(link), Some(host)) => Some(EtcdContainer::of_host(&link.inventory.root(&host.name), self.pid(i))),
                _ => None,
            };
            if let Some(view) = view.filter(|v| v.last_exit.is_some()) {
                let signature = view.signature();
                if self.state[i].seen == Some(signature) {
                    continue;
                }
                self.state[i].seen = Some(signature);
                self.state[i].up = Some(view.ready());
                let at = now_rfc3339();
                tracing::info!(pod = %pod_name(i), restarts = view.restarts(), crash_looping = view.crash_looping(), "lab: etcd pod follows its container's restarts");
                let _ = self.store.modify(pods, NS, &pod_name(i), |p| container_shows(p, "etcd", &view, &at));
                continue;
            }
            self.state[i].seen = None;
            let (alive, running) = self.pid(i).map(process_alive_running).unwrap_or((false, false));
            if !alive && self.pid(i).is_some() {
                // Exited, not reaped yet: the kubelet records how it ended before it lets the pid go.
                continue;
            }
            let url = self.host(i).map(|h| h.client_url.clone()).unwrap_or_default();
            let up = running && self.has_manifest(i) && answers(&url).await;
            let before = self.state[i].up;
            if before == Some(up) {
                continue;
            }
            self.state[i].up = Some(up);
            let pending = str_at(&pod, "/status/phase") == "Pending";
            if (before.is_none() && up && ready(&pod)) || (!up && pending) {
                continue;
            }
            let at = now_rfc3339();
            tracing::info!(pod = %pod_name(i), up, "lab: etcd pod readiness follows its member");
            let _ = self.store.modify(pods, NS, &pod_name(i), |p| {
                if up {
                    seed::pod_running(p, &at);
                    return;
                }
                set_condition(
                    p,
                    seed::condition(
                        "Ready",
                        "False",
                        "ContainersNotReady",
                        "containers with unready status: [etcd]",
                        &at,
                    ),
                );
                set_condition(
                    p,
                    seed::condition(
                        "ContainersReady",
                        "False",
                        "ContainersNotReady",
                        "containers with unready status: [etcd]",
                        &at,
                    ),
                );
                super::super::operators::etcd_container_follows(p, false, alive, &at);
            });
        }
    }

    /// status.replicas counts the replicas' pods, readyReplicas the Ready ones.
    fn write_status(&self, statefulset: &Value, count: usize) {
        let pods: Vec<Value> = (0..count).filter_map(|i| self.pod(i)).collect();
        let replicas = pods.len() as i64;
        let ready = pods.iter().filter(|p| !terminating(p) && ready(p)).count() as i64;
        let generation = statefulset.pointer("/metadata/generation").cloned().unwrap_or(json!(1));
        let wanted = json!({
            "observedGeneration": generation, "replicas": replicas, "readyReplicas": ready,
            "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": ready,
        });
        let current = statefulset.get("status").cloned().unwrap_or_else(|| json!({}));
        let differs = wanted.as_object().is_some_and(|w| w.iter().any(|(k, v)| current.get(k) != Some(v)));
        if differs {
            let _ = self.store.modify(idx("apps", "StatefulSet"), NS, super::STATEFULSET, |o| {
                for (key, value) in wanted.as_object().into_iter().flatten() {
                    o["status"][key] = value.clone();
                }
            });
        }
    }
}
