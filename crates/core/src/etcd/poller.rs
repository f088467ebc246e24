//! Keeps asking every member, each on its own task, and reports by message.
//! A member that hangs holds up only its own task; the others keep reporting.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use etcd_client::Client;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::probe::{member_list, sample_member};
use super::source::{EtcdSource, Reached};
use super::Connector;
use crate::cluster::{MemberIdentity, MemberSample};

#[derive(Debug, Clone)]
pub enum PollEvent {
    Discovering {
        attempt: u32,
        at: Instant,
    },
    DiscoveryFailed {
        error: String,
        attempt: u32,
        at: Instant,
        retry_at: Instant,
    },
    Members {
        members: Vec<MemberIdentity>,
        at: Instant,
    },
    /// Where etcd was found through the cluster and how its members are reached.
    Reached {
        summary: String,
        reach: Vec<crate::etcd::discovery::Reach>,
    },
    Sample(MemberSample),
}

#[derive(Debug, Clone, Copy)]
pub enum PollCommand {
    /// Ask every member now instead of at the next tick (and retry discovery at once).
    RefreshNow,
}

/// Asks the seed endpoints for the member list; the first to answer wins.
pub async fn discover(seeds: &[String], connector: &Connector) -> Result<Vec<MemberIdentity>, String> {
    let mut tasks = JoinSet::new();
    for seed in seeds {
        let seed = connector.normalize(seed);
        let connector = connector.clone();
        tasks.spawn(async move {
            let result = match connector.client(&seed).await {
                Ok(client) => member_list(client, connector.command_timeout).await,
                Err(e) => Err(e),
            };
            let result = result.map_err(|e| connector.explain_at(&seed, &e));
            (seed, result)
        });
    }
    let mut errors = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((_, Ok(members))) if !members.is_empty() => return Ok(members),
            Ok((seed, Ok(_))) => errors.push(format!("  {seed}: answered with an empty member list")),
            Ok((seed, Err(e))) => errors.push(format!("  {seed}: {e}")),
            Err(e) => errors.push(format!("  internal error: {e}")),
        }
    }
    errors.sort();
    Err(errors.join("\n"))
}

/// One client per member with a client URL.
pub async fn clients_for(members: &[MemberIdentity], connector: &Connector) -> BTreeMap<u64, Result<Client, String>> {
    let mut clients = BTreeMap::new();
    for member in members {
        let client = if member.client_urls.is_empty() {
            Err("member has not started (no client URL yet)".to_string())
        } else {
            connector.client(member.endpoint()).await.map_err(|e| connector.explain_at(member.endpoint(), &e))
        };
        clients.insert(member.id, client);
    }
    clients
}

/// One round of questions to one member, or the reason it cannot be asked,
/// with failures explained in terms of the flags given, or the tunnel it goes
/// through (both front ends use this).
pub fn ask(
    client: Result<Client, String>,
    member_id: u64,
    endpoint: String,
    connector: &Connector,
) -> impl std::future::Future<Output = MemberSample> + Send + 'static {
    let limit = connector.command_timeout;
    let connector = connector.clone();
    async move {
        let mut sample = match client {
            Ok(client) => sample_member(&client, member_id, limit).await,
            Err(error) => MemberSample::failed(member_id, Instant::now(), error),
        };
        if let Err(error) = &sample.status {
            sample.status = Err(connector.explain_at(&endpoint, error));
        }
        sample
    }
}

pub struct Poller {
    pub source: EtcdSource,
    pub refresh: Duration,
}

impl Poller {
    pub async fn run(
        self,
        events: mpsc::UnboundedSender<PollEvent>,
        mut commands: mpsc::UnboundedReceiver<PollCommand>,
    ) {
        let mut attempt = 0u32;
        let (reached, members, mut clients) = loop {
            attempt += 1;
            let now = Instant::now();
            if events.send(PollEvent::Discovering { attempt, at: now }).is_err() {
                return;
            }
            // Through the cluster this lists the pods and reads the secret again at
            // every attempt: pods move, and a refused secret may be granted later.
            let found = match self.source.reach().await {
                Ok(reached) => match discover(&reached.seeds, &reached.connector).await {
                    Ok(members) => Ok((reached, members)),
                    Err(error) => Err(error),
                },
                Err(error) => Err(error),
            };
            match found {
                Ok((reached, members)) => {
                    reached.route(&members).await;
                    let clients = clients_for(&members, &reached.connector).await;
                    break (reached, members, clients);
                }
                Err(error) => {
                    // 1 s, 2 s, 4 s ... 30 s.
                    let backoff = Duration::from_secs(1u64 << (attempt - 1).min(5)).min(Duration::from_secs(30));
                    let retry_at = Instant::now() + backoff;
                    tracing::warn!(attempt, %error, "no seed endpoint answered");
                    if events.send(PollEvent::DiscoveryFailed { error, attempt, at: Instant::now(), retry_at }).is_err()
                    {
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        command = commands.recv() => if command.is_none() { return },
                    }
                }
            }
        };
        let connector = reached.connector.clone();
        if let Some(event) = reached_event(&reached) {
            if events.send(event).is_err() {
                return;
            }
        }
        tracing::info!(members = members.len(), "member list discovered");
        let mut known: BTreeMap<u64, MemberIdentity> = members.iter().map(|m| (m.id, m.clone())).collect();
        if events.send(PollEvent::Members { members, at: Instant::now() }).is_err() {
            return;
        }

        // One task per member and round; the map says which member a task asks,
        // so even a task that panics ends as that member's failed round.
        let mut rounds: JoinSet<MemberSample> = JoinSet::new();
        let mut asking: BTreeMap<tokio::task::Id, u64> = BTreeMap::new();
        let mut leader_heard: Option<Instant> = None;
        let mut ticker = tokio::time::interval(self.refresh);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                command = commands.recv() => match command {
                    Some(PollCommand::RefreshNow) => {}
                    None => return,
                },
                Some(joined) = rounds.join_next_with_id() => {
                    let sample = match joined {
                        Ok((task, sample)) => {
                            asking.remove(&task);
                            sample
                        }
                        Err(error) => {
                            tracing::error!(%error, "a round of questions failed");
                            let Some(id) = asking.remove(&error.id()) else { continue };
                            MemberSample::failed(id, Instant::now(), format!("internal error while asking: {error}"))
                        }
                    };
                    // A leader of the cluster we know, heard lately: a URL that moved to another
                    // cluster is not followed while this one still has a leader (no flapping).
                    if sample.status.as_ref().is_ok_and(|s| s.leader_id == s.member_id && known.contains_key(&s.member_id)) {
                        leader_heard = Some(Instant::now());
                    }
                    let leader_recent = leader_heard.is_some_and(|at| at.elapsed() < self.refresh * 3);
                    let changed = membership_change(&sample, &known, leader_recent);
                    if events.send(PollEvent::Sample(sample)).is_err() {
                        return;
                    }
                    if let Some(members) = changed {
                        tracing::info!(members = members.len(), "member list changed");
                        // Routing may ask the API (pods, tunnels): bounded, so a slow API
                        // holds the rounds up for one call's limit at most.
                        if tokio::time::timeout(connector.command_timeout, reached.route(&members)).await.is_err() {
                            tracing::warn!("routing the new member list took too long; unrouted members are dialled directly");
                        }
                        clients = clients_for(&members, &connector).await;
                        if let Some(event) = reached_event(&reached) {
                            let _ = events.send(event);
                        }
                        known = members.iter().map(|m| (m.id, m.clone())).collect();
                        if events.send(PollEvent::Members { members, at: Instant::now() }).is_err() {
                            return;
                        }
                    }
                    continue;
                }
            }
            // A member still busy with the last round is not asked again: its
            // silence shows as "no answer for Ns" instead of piling up calls.
            for (id, client) in &clients {
                if asking.values().any(|busy| busy == id) {
                    continue;
                }
                let endpoint = known.get(id).map(|m| m.endpoint().to_string()).unwrap_or_default();
                let task = rounds.spawn(ask(client.clone(), *id, endpoint, &connector));
                asking.insert(task.id(), *id);
            }
        }
    }
}

/// The leader's member list is the one adopted when it differs from ours; so is the list of a
/// member whose URL now answers as another member (after a restore the cluster there is new,
/// with new IDs, and the old ones would never answer again).
fn membership_change(
    sample: &MemberSample,
    known: &BTreeMap<u64, MemberIdentity>,
    leader_recent: bool,
) -> Option<Vec<MemberIdentity>> {
    let moved = matches!(&sample.status, Err(e) if e.contains(crate::etcd::probe::ANOTHER_MEMBER));
    if moved && leader_recent {
        return None;
    }
    if !moved {
        let status = sample.status.as_ref().ok()?;
        if status.leader_id != status.member_id {
            return None;
        }
    }
    let members = sample.members.as_ref().ok()?;
    let same = members.len() == known.len() && members.iter().all(|m| known.get(&m.id) == Some(m));
    (!same && !members.is_empty()).then(|| members.clone())
}

/// Where etcd was found and how each member is reached, for the console (None with `--endpoints`).
fn reached_event(reached: &Reached) -> Option<PollEvent> {
    reached.found.as_ref().map(|f| PollEvent::Reached { summary: f.summary(), reach: f.reach() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(id: u64, name: &str) -> MemberIdentity {
        MemberIdentity {
            id,
            name: name.into(),
            client_urls: vec![format!("https://{name}:2379")],
            peer_urls: vec![format!("https://{name}:2380")],
            is_learner: false,
        }
    }

    #[test]
    fn a_url_answering_as_another_member_brings_its_member_list_in() {
        let known: BTreeMap<u64, MemberIdentity> = [(1, identity(1, "m0")), (2, identity(2, "m1"))].into();
        // After a restore, m0's URL answers as the new member 9, alone in a new cluster.
        let restored = vec![identity(9, "m0")];
        let now = Instant::now();
        let sample = MemberSample {
            member_id: 1,
            started: now,
            finished: now,
            status: Err(format!("answered as member 9, not 1: {}", crate::etcd::probe::ANOTHER_MEMBER)),
            health: Ok(Duration::from_millis(1)),
            members: Ok(restored.clone()),
        };
        assert_eq!(membership_change(&sample, &known, false), Some(restored));
        // While the cluster we know still has a leader, a URL taken by another cluster is not followed.
        assert_eq!(membership_change(&sample, &known, true), None);
        // Any other failure changes nothing.
        let failed = MemberSample { status: Err("deadline exceeded".into()), ..sample };
        assert_eq!(membership_change(&failed, &known, false), None);
    }
}
