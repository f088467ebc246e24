//! The one place the defrag wizard touches etcd: it performs what the engine
//! asks, journals each step before and after, and reports progress by message.
//! Every call has a limit; the user's abort is heard during waits at once and
//! otherwise before the next member.

use std::time::{Duration, Instant};

use etcd_client::{AlarmAction, AlarmOptions, AlarmType, CompactionOptions};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::engine::{Action, ClusterView, DefragError, DefragRun, MemberReading, MemberView, Observed};
use super::journal::{Event, Journal};
use super::plan::Figures;
use crate::cluster::{AlarmKind, MemberSample};
use crate::etcd::connect::{call, describe, timed, EtcdError};
use crate::etcd::poller::{ask, clients_for, discover};
use crate::etcd::probe::sample_member;
use crate::etcd::source::Reached;

/// What the front ends hear while a run goes on.
#[derive(Debug, Clone)]
pub enum Progress {
    /// The executor starts this action (also journalled).
    Began { action: Action, at: std::time::SystemTime },
    /// The run after an action's result was fed back.
    Run(Box<DefragRun>),
    /// Time left in the wait between members.
    Countdown { left: Duration, total: Duration },
}

pub struct Executor {
    pub reached: Reached,
    pub quota_bytes: u64,
}

impl Executor {
    /// Reads the member list, then every member's Status and health, together.
    pub async fn observe(&self) -> ClusterView {
        let connector = &self.reached.connector;
        let members = match discover(&self.reached.seeds, connector).await {
            Ok(members) => members,
            Err(e) => return ClusterView { members: Vec::new(), problem: Some(format!("no member answered:\n{e}")) },
        };
        self.reached.route(&members).await;
        let mut rounds = JoinSet::new();
        for (id, client) in clients_for(&members, connector).await {
            let endpoint = members.iter().find(|m| m.id == id).map(|m| m.endpoint().to_string()).unwrap_or_default();
            rounds.spawn(ask(client, id, endpoint, connector));
        }
        let mut samples = Vec::new();
        while let Some(joined) = rounds.join_next().await {
            if let Ok(sample) = joined {
                samples.push(sample);
            }
        }
        let views = members
            .iter()
            .map(|m| {
                let reading = match samples.iter().find(|s| s.member_id == m.id) {
                    Some(sample) => reading_of(sample, self.quota_bytes),
                    None => Err("its round of questions failed".to_string()),
                };
                MemberView { id: m.id, name: m.display_name(), is_learner: m.is_learner, reading }
            })
            .collect();
        ClusterView { members: views, problem: None }
    }

    /// The client URL of member `id` as the member list names it now (routed).
    pub async fn endpoint_of(&self, id: u64) -> Result<String, String> {
        let members = discover(&self.reached.seeds, &self.reached.connector).await?;
        self.reached.route(&members).await;
        members
            .iter()
            .find(|m| m.id == id)
            .filter(|m| !m.client_urls.is_empty())
            .map(|m| m.endpoint().to_string())
            .ok_or_else(|| format!("member {id:x} is not in the member list (or has no client URL)"))
    }

    /// Does one action and says what came of it.
    pub async fn perform(
        &self,
        action: &Action,
        abort: &CancellationToken,
        progress: &mpsc::UnboundedSender<Progress>,
    ) -> Observed {
        let connector = &self.reached.connector;
        let limit = connector.command_timeout;
        match action {
            Action::Observe => Observed::Cluster(self.observe().await),
            Action::Compact { timeout } => Observed::Compacted(self.compact(*timeout).await),
            Action::MoveLeader { from, to, timeout, .. } => Observed::LeaderMoved(
                async {
                    let mut client = connector.client(&self.endpoint_of(*from).await?).await?;
                    timed(*timeout, async { client.move_leader(*to).await.map_err(describe) }).await.map(|_| ())
                }
                .await,
            ),
            Action::Defragment { id, timeout, .. } => {
                let client = match self.endpoint_of(*id).await {
                    Ok(endpoint) => connector.client(&endpoint).await,
                    Err(e) => Err(e),
                };
                let mut client = match client {
                    Ok(client) => client,
                    Err(e) => return Observed::Defragmented(Err(DefragError::Failed(e))),
                };
                // The channel connects lazily: one read first, so the defrag's limit is spent on the
                // defrag and never on the handshake (a request that never left would pass for a
                // defrag that did not finish).
                let _ = tokio::time::timeout(connector.command_timeout, client.status()).await;
                let started = Instant::now();
                // On timeout the call is dropped, not the defrag: etcd finishes it anyway.
                Observed::Defragmented(match tokio::time::timeout(*timeout, client.defragment()).await {
                    Ok(Ok(_)) => Ok(started.elapsed()),
                    Ok(Err(e)) => match EtcdError::from(e) {
                        e if e.broke_off() => Err(DefragError::Interrupted(e.to_string())),
                        e => Err(DefragError::Failed(e.to_string())),
                    },
                    Err(_) => Err(DefragError::TimedOut),
                })
            }
            Action::AwaitAnswer { id, limit: answer_limit, .. } => {
                Observed::Answered(self.await_answer(*id, *answer_limit).await)
            }
            Action::Wait { duration } => {
                let deadline = tokio::time::Instant::now() + *duration;
                loop {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    let _ = progress.send(Progress::Countdown { left, total: *duration });
                    if left.is_zero() {
                        break Observed::Waited { aborted: false };
                    }
                    let tick = left.min(Duration::from_secs(1));
                    tokio::select! {
                        _ = tokio::time::sleep(tick) => {}
                        () = abort.cancelled() => break Observed::Waited { aborted: true },
                    }
                }
            }
            Action::Disarm { members } => Observed::Disarmed(
                async {
                    let seed = self.reached.seeds.first().cloned().unwrap_or_default();
                    let mut client = connector.client(&seed).await?;
                    for member in members {
                        let mut options = AlarmOptions::new();
                        options.with_member(*member);
                        timed(limit, async {
                            client
                                .alarm(AlarmAction::Deactivate, AlarmType::Nospace, Some(options))
                                .await
                                .map_err(describe)
                        })
                        .await?;
                    }
                    Ok(())
                }
                .await,
            ),
            Action::Finished(_) => Observed::Waited { aborted: false },
        }
    }

    /// The keyspace's current revision, as a member's Status header says it
    /// (what a compaction now would compact to).
    pub async fn current_revision(&self) -> Result<i64, String> {
        let connector = &self.reached.connector;
        let seed = self.reached.seeds.first().cloned().unwrap_or_default();
        let mut client = connector.client(&seed).await?;
        let status = timed(connector.command_timeout, async { client.status().await.map_err(describe) }).await?;
        status.header().map(|h| h.revision()).ok_or_else(|| "Status came without a header".to_string())
    }

    /// Compacts to the revision the leader reports now (physical: the freed
    /// pages are there for the defrag that follows).
    async fn compact(&self, compact_limit: Duration) -> Result<i64, String> {
        let connector = &self.reached.connector;
        let limit = connector.command_timeout;
        let seed = self.reached.seeds.first().cloned().unwrap_or_default();
        let mut client = connector.client(&seed).await?;
        let status = timed(limit, async { client.status().await.map_err(describe) }).await?;
        let revision = status.header().map(|h| h.revision()).unwrap_or_default();
        match call(compact_limit, client.compact(revision, Some(CompactionOptions::new().with_physical()))).await {
            Ok(_) => Ok(revision),
            // Already compacted there (a resumed run, or someone else): nothing left to do.
            Err(EtcdError::Compacted(_)) => Ok(revision),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Polls the member every second until it answers Status and a read.
    async fn await_answer(&self, id: u64, answer_limit: Duration) -> Result<MemberReading, String> {
        let deadline = Instant::now() + answer_limit;
        let mut last_error = String::from("no answer yet");
        while Instant::now() < deadline {
            match self.endpoint_of(id).await {
                Ok(endpoint) => match self.reached.connector.client(&endpoint).await {
                    Ok(client) => {
                        let sample = sample_member(&client, id, self.reached.connector.command_timeout).await;
                        match reading_of(&sample, self.quota_bytes) {
                            Ok(reading) if reading.health.is_ok() => return Ok(reading),
                            Ok(reading) => last_error = reading.health.err().unwrap_or_default(),
                            Err(e) => last_error = e,
                        }
                    }
                    Err(e) => last_error = e,
                },
                Err(e) => last_error = e,
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Err(last_error)
    }
}

fn reading_of(sample: &MemberSample, quota_bytes: u64) -> Result<MemberReading, String> {
    let status = sample.status.as_ref().map_err(Clone::clone)?;
    Ok(MemberReading {
        figures: Figures {
            db_size: status.db_size_bytes,
            db_size_in_use: status.db_size_in_use_bytes,
            quota: quota_bytes,
        },
        leader_id: status.leader_id,
        raft_term: status.raft_term,
        raft_index: status.raft_index,
        raft_applied_index: status.raft_applied_index,
        health: sample.health.as_ref().map(|_| ()).map_err(Clone::clone),
        alarms: status
            .alarms
            .iter()
            .map(|a| {
                let kind = match a.kind {
                    AlarmKind::NoSpace => "NOSPACE",
                    AlarmKind::Corrupt => "CORRUPT",
                    _ => "UNKNOWN",
                };
                (a.member_id, kind.to_string())
            })
            .collect(),
        cluster_id: status.cluster_id,
        version: status.version.clone(),
    })
}

/// Drives the run to its end: journal, act, feed back, report. A journal
/// that cannot be written stops the run (a step that cannot be recorded is
/// not taken).
pub async fn drive(
    run: &mut DefragRun,
    executor: &Executor,
    mut journal: Journal,
    abort: CancellationToken,
    progress: mpsc::UnboundedSender<Progress>,
) -> Result<std::path::PathBuf, String> {
    loop {
        if abort.is_cancelled() {
            run.abort();
        }
        let action = run.next_action();
        if let Action::Finished(outcome) = &action {
            tracing::info!(target: "audit", action = "defrag finished", outcome = ?outcome, "done");
            let _ = progress.send(Progress::Run(Box::new(run.clone())));
            return journal.finish(run).map_err(String::from);
        }
        if let Err(e) = journal.record(Event::Begin, Some(&action), run) {
            run.stop(e.to_string());
            continue;
        }
        audit(&action, "begin");
        let _ = progress.send(Progress::Began { action: action.clone(), at: std::time::SystemTime::now() });
        let observed = executor.perform(&action, &abort, &progress).await;
        run.observe(observed);
        if let Some(note) = run.notes.last() {
            tracing::info!(target: "audit", action = action_name(&action), note = %note.text, "end");
        }
        if let Err(e) = journal.record(Event::End, Some(&action), run) {
            run.stop(e.to_string());
        }
        let _ = progress.send(Progress::Run(Box::new(run.clone())));
    }
}

pub fn action_name(action: &Action) -> &'static str {
    match action {
        Action::Observe => "observe",
        Action::Compact { .. } => "compact",
        Action::MoveLeader { .. } => "move-leader",
        Action::Defragment { .. } => "defragment",
        Action::AwaitAnswer { .. } => "await-answer",
        Action::Wait { .. } => "wait",
        Action::Disarm { .. } => "disarm",
        Action::Finished(_) => "finished",
    }
}

fn audit(action: &Action, phase: &str) {
    match action {
        Action::Defragment { id, name, .. } => {
            tracing::info!(target: "audit", action = "defragment", member = %name, id = %format!("{id:x}"), phase)
        }
        Action::MoveLeader { from, to, to_name, .. } => tracing::info!(
            target: "audit", action = "move-leader", from = %format!("{from:x}"), to = %format!("{to:x}"), to_name = %to_name, phase
        ),
        Action::Compact { .. } => tracing::info!(target: "audit", action = "compact", phase),
        Action::Disarm { members } => {
            tracing::info!(target: "audit", action = "disarm NOSPACE", members = ?members, phase)
        }
        _ => {}
    }
}

/// A run started from the console: its journal (new, or the unfinished one
/// resumed), the members reached afresh, then [`drive`]. Anything that keeps
/// it from starting ends it as stopped, said on the screen.
pub async fn run_in_background(
    source: crate::etcd::source::EtcdSource,
    quota_bytes: u64,
    mut run: DefragRun,
    unfinished: Option<crate::wizard::defrag::journal::Unfinished>,
    journal_dir: Option<std::path::PathBuf>,
    abort: CancellationToken,
    progress: mpsc::UnboundedSender<Progress>,
) {
    let journal = match (&unfinished, &journal_dir) {
        (Some(unfinished), _) => Journal::reopen(unfinished).map_err(String::from),
        (None, Some(dir)) => Journal::create(dir, run.cluster_id).map_err(String::from),
        (None, None) => Err("no home directory to keep the journal in: give --journal-dir".into()),
    };
    let started = match journal {
        Ok(journal) => match source.reach().await {
            Ok(reached) => {
                let executor = Executor { reached, quota_bytes };
                drive(&mut run, &executor, journal, abort, progress.clone()).await.map(|_| ())
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    if let Err(e) = started {
        tracing::error!(error = %e, "defrag run");
        if run.outcome().is_none() {
            run.stop(format!("not started: {e}"));
        }
        let _ = progress.send(Progress::Run(Box::new(run)));
    }
}
