//! The simulated etcd operator's scale-up after a restore: for each master
//! whose host is reachable and has no etcd manifest, a real `member add`
//! through a running member, the host's old data moved aside, and an etcd
//! manifest joining the existing cluster; one member at a time, each started
//! before the next is added (etcd's own rule for growing a restored cluster).

use std::fs;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use etcd_client::Client;

use super::kubelet::{etcd_manifest, MemberPids};
use super::manifest::{self, ClusterState};
use super::{map_path, timestamp, write_atomically, Inventory};
use etcd_console_core::etcd::connect::{describe, timed};
use etcd_console_core::etcd::Connector;

/// How long a new member has to start, and etcd to accept a member add.
const MEMBER_LIMIT: Duration = Duration::from_secs(90);

/// Where the etcd operator's scale-up is, as the operator shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScaleUp {
    /// Nothing asked for.
    Idle,
    /// Reading the member list.
    Checking,
    /// Fewer members than masters, and the quorum guard is on: the rollout waits.
    Blocked {
        members: usize,
        hosts: usize,
    },
    Adding {
        node: String,
        members: usize,
        hosts: usize,
    },
    /// The scale-up failed; tried again later.
    Failed {
        reason: String,
        at: Instant,
    },
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
}

async fn members(client: &mut Client, limit: Duration) -> Result<Vec<Member>, String> {
    let list = timed(limit, async { client.member_list().await.map_err(describe) }).await?;
    Ok(list
        .members()
        .iter()
        .map(|m| Member { id: m.id(), name: m.name().to_string(), peer_urls: m.peer_urls().to_vec() })
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

/// Adds the missing members; Blocked when the cluster is short of members and the quorum guard is on.
pub async fn run(inventory: Arc<Inventory>, pids: MemberPids, guard_off: bool, progress: Progress) {
    report(&progress, ScaleUp::Checking);
    let outcome = add_missing(&inventory, &pids, guard_off, &progress).await;
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
    progress: &Progress,
) -> Result<ScaleUp, String> {
    let connector = Connector::from_args(&inventory.connection()).map_err(|e| e.to_string())?;
    let mut client = any_member(&connector, inventory, pids).await?;
    let hosts = inventory.hosts.len();
    let current = members(&mut client, Duration::from_secs(5)).await?;
    if current.len() >= hosts {
        return Ok(ScaleUp::Done);
    }
    if !guard_off {
        return Ok(ScaleUp::Blocked { members: current.len(), hosts });
    }
    for host in &inventory.hosts {
        let listed = members(&mut client, Duration::from_secs(5)).await?;
        let present = listed.iter().find(|m| m.peer_urls.contains(&host.peer_url));
        if present.is_some_and(|m| !m.name.is_empty()) {
            continue;
        }
        let root = inventory.root(&host.name);
        if !inventory.reachable(&host.name) || etcd_manifest(&root).exists() {
            continue;
        }
        let started = listed.iter().filter(|m| !m.name.is_empty()).count();
        report(progress, ScaleUp::Adding { node: host.name.clone(), members: started, hosts });
        if present.is_none() {
            add_member(&mut client, &host.peer_url).await?;
            tracing::info!(node = %host.name, "lab: etcd operator added a member");
        }
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
        wait_started(&connector, &mut client, &host.peer_url, &host.client_url).await?;
        tracing::info!(node = %host.name, "lab: the added etcd member started");
    }
    Ok(ScaleUp::Done)
}

async fn add_member(client: &mut Client, peer_url: &str) -> Result<(), String> {
    let deadline = Instant::now() + MEMBER_LIMIT;
    loop {
        let added = timed(Duration::from_secs(5), async {
            client.member_add([peer_url], None).await.map(|_| ()).map_err(describe)
        })
        .await;
        match added {
            Ok(()) => return Ok(()),
            Err(e) if guarded(&e) && Instant::now() < deadline => tokio::time::sleep(Duration::from_secs(1)).await,
            Err(e) => return Err(format!("member add {peer_url}: {e}")),
        }
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

/// Until the new member has published its name (started) and answers a read itself.
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
                let read =
                    timed(Duration::from_secs(3), async { own.get("health", None).await.map_err(describe) }).await;
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
