//! The simulated etcd operator's scale-up: for each master whose host is
//! reachable and has no etcd manifest, a real `member add` as a learner
//! (`--learner`, what cluster-etcd-operator does since 4.11) through a
//! running member, the host's old data moved aside, an etcd manifest joining
//! the existing cluster, and once the learner has caught up (its raft applied
//! index within [`CAUGHT_UP_WITHIN`] of a voting member's) a real `member
//! promote`, tried again while etcd says the learner is not in sync yet. One
//! member at a time, each promoted before the next is added (etcd's own rule
//! for growing a cluster). Every step is logged.
//!
//! Two things start it (see `api::operators`): a forced etcd redeployment
//! (every master without a member: the restore's scale-up, and the runbook's
//! crashloop case, where the SRE has moved the manifest and data aside and
//! removed the member), which waits while the quorum guard is on and the
//! cluster is short of members ([`ScaleUp::Blocked`]); and a master installed
//! afresh for a replacement Machine whose Node turned Ready (that node only),
//! which does not wait for the guard: the real operator adds a new
//! control-plane node's member whatever the guard says (the guard only keeps
//! the quorum-guard pods from being disrupted), and the runbook turns the
//! guard back on as soon as the replacement Machine exists.

use std::fs;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use etcd_client::{Client, MemberAddOptions};

use super::kubelet::{etcd_manifest, MemberPids};
use super::manifest::{self, ClusterState};
use super::{map_path, timestamp, write_atomically, Inventory};
use etcd_console_core::etcd::connect::{describe, timed};
use etcd_console_core::etcd::Connector;

/// How long a new member has to start, and etcd to accept a member add.
const MEMBER_LIMIT: Duration = Duration::from_secs(90);
/// A learner this close (in raft entries applied) to a voting member has caught up.
pub const CAUGHT_UP_WITHIN: u64 = 100;
/// How long a learner has to catch up and be promoted.
const PROMOTE_LIMIT: Duration = Duration::from_secs(180);

/// Where the etcd operator's scale-up is, as the operator shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScaleUp {
    /// Nothing asked for.
    Idle,
    /// Reading the member list.
    Checking,
    /// Fewer members than masters, and the quorum guard is on: the rollout waits.
    Blocked { members: usize, hosts: usize },
    Adding {
        node: String,
        members: usize,
        hosts: usize,
        /// Its member is a learner (added, catching up, not promoted yet).
        learner: bool,
    },
    /// The scale-up failed; tried again later.
    Failed { reason: String, at: Instant },
    /// As many members as masters can have (or all it could add).
    Done,
}

/// The scale-up's state, shared by the operator and the task doing it.
pub type Progress = Arc<Mutex<ScaleUp>>;

fn report(progress: &Progress, state: ScaleUp) {
    *progress.lock().unwrap_or_else(PoisonError::into_inner) = state;
}

struct Member {
    id: u64,
    name: String,
    peer_urls: Vec<String>,
    is_learner: bool,
}

async fn members(client: &mut Client, limit: Duration) -> Result<Vec<Member>, String> {
    let list = timed(limit, async { client.member_list().await.map_err(describe) }).await?;
    Ok(list
        .members()
        .iter()
        .map(|m| Member {
            id: m.id(),
            name: m.name().to_string(),
            peer_urls: m.peer_urls().to_vec(),
            is_learner: m.is_learner(),
        })
        .collect())
}

/// A client of a member that answers its member list, the running ones tried first.
async fn any_member(connector: &Connector, inventory: &Inventory, pids: &MemberPids) -> Result<Client, String> {
    let mut order: Vec<usize> = (0..inventory.hosts.len()).collect();
    order.sort_by_key(|&i| pids.get(i).is_none());
    let mut last = String::from("no master has an etcd member");
    for i in order {
        let url = &inventory.hosts[i].client_url;
        match connector.client(url).await {
            Ok(mut client) => match members(&mut client, Duration::from_secs(3)).await {
                Ok(_) => return Ok(client),
                Err(e) => last = format!("{url}: {e}"),
            },
            Err(e) => last = format!("{url}: {e}"),
        }
    }
    Err(format!("no etcd member answers ({last})"))
}

fn guarded(error: &str) -> bool {
    // etcd refuses a member add until enough members are started and connected.
    ["unhealthy cluster", "not enough started members", "re-configuration failed"].iter().any(|e| error.contains(e))
}

/// Adds the missing members (only `only`'s, when given); Blocked when the cluster is short of
/// members and the quorum guard is on (`guard_off` false).
pub async fn run(
    inventory: Arc<Inventory>,
    pids: MemberPids,
    guard_off: bool,
    only: Option<String>,
    progress: Progress,
) {
    report(&progress, ScaleUp::Checking);
    let outcome = add_missing(&inventory, &pids, guard_off, only.as_deref(), &progress).await;
    match outcome {
        Ok(state) => report(&progress, state),
        Err(reason) => {
            tracing::warn!(%reason, "lab: the etcd operator could not scale etcd up");
            report(&progress, ScaleUp::Failed { reason, at: Instant::now() });
        }
    }
}

async fn add_missing(
    inventory: &Inventory,
    pids: &MemberPids,
    guard_off: bool,
    only: Option<&str>,
    progress: &Progress,
) -> Result<ScaleUp, String> {
    let connector = Connector::from_args(&inventory.connection()).map_err(|e| e.to_string())?;
    let mut client = any_member(&connector, inventory, pids).await?;
    let hosts = inventory.hosts.len();
    let current = members(&mut client, Duration::from_secs(5)).await?;
    if current.len() >= hosts && current.iter().all(|m| !m.is_learner && !m.name.is_empty()) {
        return Ok(ScaleUp::Done);
    }
    if !guard_off && current.len() < hosts {
        return Ok(ScaleUp::Blocked { members: current.len(), hosts });
    }
    for host in inventory.hosts.iter().filter(|h| only.is_none_or(|n| n == h.name)) {
        let listed = members(&mut client, Duration::from_secs(5)).await?;
        let present = listed.iter().find(|m| m.peer_urls.contains(&host.peer_url));
        let root = inventory.root(&host.name);
        let started = listed.iter().filter(|m| !m.name.is_empty() && !m.is_learner).count();
        // A learner started earlier (a scale-up cut short) is promoted now.
        if let Some(learner) = present.filter(|m| m.is_learner && !m.name.is_empty()) {
            report(progress, ScaleUp::Adding { node: host.name.clone(), members: started, hosts, learner: true });
            promote_when_caught_up(&connector, &mut client, learner.id, &host.name, &host.client_url).await?;
            continue;
        }
        if present.is_some_and(|m| !m.name.is_empty()) {
            continue;
        }
        if !inventory.reachable(&host.name) || etcd_manifest(&root).exists() {
            continue;
        }
        report(progress, ScaleUp::Adding { node: host.name.clone(), members: started, hosts, learner: true });
        let id = match present {
            Some(unstarted) => unstarted.id,
            None => {
                let id = add_learner(&mut client, &host.peer_url).await?;
                let member = format!("{id:x}");
                tracing::info!(node = %host.name, %member, "lab: etcd operator added a member as a learner");
                id
            }
        };
        let listed = members(&mut client, Duration::from_secs(5)).await?;
        let initial_cluster = listed
            .iter()
            .flat_map(|m| {
                let name = if m.name.is_empty() {
                    inventory.hosts.iter().find(|h| m.peer_urls.contains(&h.peer_url)).map(|h| h.name.clone())
                } else {
                    Some(m.name.clone())
                };
                m.peer_urls
                    .iter()
                    .map(move |url| format!("{}={url}", name.clone().unwrap_or_else(|| format!("{:x}", m.id))))
            })
            .collect::<Vec<_>>()
            .join(",");
        set_data_aside(inventory, &host.name)?;
        let command = manifest::etcd_command(
            inventory,
            host,
            &initial_cluster,
            "etcd-console-lab-scale-up",
            ClusterState::Existing,
        );
        let yaml = manifest::etcd_pod_yaml(&host.name, manifest::REVISION, &command, false);
        write_atomically(&etcd_manifest(&root), &yaml)?;
        tracing::info!(node = %host.name, "lab: etcd operator wrote the new member's etcd manifest");
        wait_started(&connector, &mut client, &host.peer_url, &host.client_url).await?;
        tracing::info!(node = %host.name, "lab: the added etcd member started (a learner)");
        promote_when_caught_up(&connector, &mut client, id, &host.name, &host.client_url).await?;
    }
    Ok(ScaleUp::Done)
}

/// Adds `peer_url` as a learner; its member ID.
async fn add_learner(client: &mut Client, peer_url: &str) -> Result<u64, String> {
    let deadline = Instant::now() + MEMBER_LIMIT;
    loop {
        let added = timed(Duration::from_secs(5), async {
            client
                .member_add([peer_url], Some(MemberAddOptions::new().with_is_learner()))
                .await
                .map(|r| r.member().map(|m| m.id()).unwrap_or(0))
                .map_err(describe)
        })
        .await;
        match added {
            Ok(id) => return Ok(id),
            Err(e) if guarded(&e) && Instant::now() < deadline => tokio::time::sleep(Duration::from_secs(1)).await,
            Err(e) => return Err(format!("member add --learner {peer_url}: {e}")),
        }
    }
}

/// Waits until learner `id` (answering at `client_url`) has applied about as much of the raft
/// log as the voting member `client` reaches, then promotes it, again while etcd says it is not
/// in sync yet.
async fn promote_when_caught_up(
    connector: &Connector,
    client: &mut Client,
    id: u64,
    node: &str,
    client_url: &str,
) -> Result<(), String> {
    let member = format!("{id:x}");
    let deadline = Instant::now() + PROMOTE_LIMIT;
    let mut caught_up = false;
    loop {
        if !caught_up {
            let voter = timed(Duration::from_secs(3), async { client.status().await.map_err(describe) }).await;
            let learner = match connector.client(client_url).await {
                Ok(mut own) => timed(Duration::from_secs(3), async { own.status().await.map_err(describe) }).await,
                Err(e) => Err(e.to_string()),
            };
            if let (Ok(voter), Ok(learner)) = (voter, learner) {
                let (theirs, its) = (voter.raft_applied_index(), learner.raft_applied_index());
                if its + CAUGHT_UP_WITHIN >= theirs {
                    tracing::info!(%node, %member, applied = its, voter_applied = theirs, "lab: the learner has caught up");
                    caught_up = true;
                }
            }
        }
        if caught_up {
            let promoted =
                timed(Duration::from_secs(5), async { client.member_promote(id).await.map(|_| ()).map_err(describe) })
                    .await;
            match promoted {
                Ok(()) => {
                    tracing::info!(%node, %member, "lab: etcd operator promoted the learner to a voting member");
                    return Ok(());
                }
                Err(e) if e.contains("in sync") || e.contains("not ready") || guarded(&e) => {
                    tracing::info!(%node, %member, reason = %e, "lab: the learner is not ready to be promoted yet");
                }
                Err(e) => return Err(format!("member promote {member}: {e}")),
            }
        }
        if Instant::now() > deadline {
            return Err(format!("the learner {member} on {node} was not promoted within {}s", PROMOTE_LIMIT.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A joining member needs an empty data directory: what is there is moved aside.
fn set_data_aside(inventory: &Inventory, node: &str) -> Result<(), String> {
    let root = inventory.root(node);
    let data = inventory.data_path(node);
    let empty = fs::read_dir(&data).map(|mut d| d.next().is_none()).unwrap_or(true);
    if data.exists() && !empty {
        let aside = map_path(&root, &format!("{}-old-{}", inventory.data_dir(), timestamp(SystemTime::now())))?;
        fs::rename(&data, &aside).map_err(|e| format!("cannot move {} aside: {e}", data.display()))?;
        tracing::info!(%node, aside = %aside.display(), "lab: etcd operator moved old etcd data aside");
    }
    Ok(())
}

/// Until the new member has published its name (started) and answers a status itself (a
/// learner serves no linearizable read).
async fn wait_started(
    connector: &Connector,
    client: &mut Client,
    peer_url: &str,
    client_url: &str,
) -> Result<(), String> {
    let deadline = Instant::now() + MEMBER_LIMIT;
    loop {
        let started = members(client, Duration::from_secs(5))
            .await
            .is_ok_and(|list| list.iter().any(|m| m.peer_urls.iter().any(|u| u == peer_url) && !m.name.is_empty()));
        if started {
            if let Ok(mut own) = connector.client(client_url).await {
                let read = timed(Duration::from_secs(3), async { own.status().await.map_err(describe) }).await;
                if read.is_ok() {
                    return Ok(());
                }
            }
        }
        if Instant::now() > deadline {
            return Err(format!("the member at {peer_url} did not start within {}s", MEMBER_LIMIT.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
