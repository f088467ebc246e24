//! The live reading's I/O: the member chosen (a healthy follower), then the
//! walk's requests sent to it one after another, serializable, at most
//! `max_qps` a second, each within the command timeout. Nothing else asks
//! anything of the cluster.

use std::time::{Duration, Instant, SystemTime};

use etcd_client::{Client, GetOptions};
use tokio_util::sync::CancellationToken;

use super::walk::{record_bytes, Ask, PageAnswer, Seen, Walk, WalkOptions};
use super::{Reading, Source};
use crate::etcd::connect::{call, EtcdError};
use crate::etcd::source::{EtcdSource, Reached};
use crate::wizard::defrag::engine::ClusterView;
use crate::wizard::defrag::executor::Executor;

#[derive(Debug, Clone, PartialEq)]
pub struct LiveOptions {
    pub walk: WalkOptions,
    /// Requests a second, at most.
    pub max_qps: f64,
    /// Each request's limit.
    pub timeout: Duration,
    /// Read this member (name or hex ID) rather than a follower of our choice.
    pub member: Option<String>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions { walk: WalkOptions::default(), max_qps: 50.0, timeout: Duration::from_secs(5), member: None }
    }
}

/// The member a reading is taken from, reached.
pub struct Target {
    pub client: Client,
    pub cluster_id: u64,
    pub source: Source,
    /// Holds the port-forwards to the member open (when found through the cluster).
    pub reached: Reached,
}

/// Which member to read: the one asked for, else a healthy voting follower (serializable reads
/// are served from its own copy, so the leader is spared), else a healthy learner, else the
/// leader (a one-member cluster). Err when none is healthy.
pub fn choose(view: &ClusterView, wanted: Option<&str>) -> Result<(u64, Source), String> {
    let leader = view.leader();
    let healthy = |m: &&crate::wizard::defrag::engine::MemberView| {
        m.reading.as_ref().is_ok_and(|r| r.health.is_ok() || r.health.as_ref().is_err_and(|e| e.contains("NOSPACE")))
    };
    let candidates: Vec<_> = view.members.iter().filter(healthy).collect();
    let chosen = match wanted {
        Some(wanted) => {
            let member = view
                .members
                .iter()
                .find(|m| m.name == wanted || format!("{:x}", m.id) == wanted.to_ascii_lowercase())
                .ok_or_else(|| format!("no member {wanted:?} in the member list"))?;
            if !healthy(&member) {
                return Err(format!("{} is not healthy: {}", member.name, problem(member)));
            }
            member
        }
        None => candidates
            .iter()
            .find(|m| !m.is_learner && Some(m.id) != leader)
            .or_else(|| candidates.iter().find(|m| m.is_learner))
            .or_else(|| candidates.first())
            .copied()
            .ok_or_else(|| match &view.problem {
                Some(problem) => problem.clone(),
                None => "no member is healthy: nothing to read from".to_string(),
            })?,
    };
    let (db_size, db_size_in_use) =
        chosen.reading.as_ref().map(|r| (r.figures.db_size, r.figures.db_size_in_use)).unwrap_or_default();
    Ok((
        chosen.id,
        Source::Member {
            member: chosen.name.clone(),
            member_id: format!("{:x}", chosen.id),
            leader: Some(chosen.id) == leader,
            db_size,
            db_size_in_use,
        },
    ))
}

fn problem(member: &crate::wizard::defrag::engine::MemberView) -> String {
    match &member.reading {
        Ok(r) => r.health.as_ref().err().cloned().unwrap_or_default(),
        Err(e) => e.clone(),
    }
}

/// Finds the members, reads their status, and connects to the member `choose` picks.
pub async fn reach(source: &EtcdSource, wanted: Option<&str>) -> Result<Target, String> {
    let reached = source.reach().await.map_err(|e| format!("etcd not found through the cluster: {e}"))?;
    let executor = Executor { reached, quota_bytes: 0 };
    let view = executor.observe().await;
    let (id, source) = choose(&view, wanted)?;
    let cluster_id = view.cluster_id().unwrap_or_default();
    let endpoint = executor.endpoint_of(id).await?;
    let client = executor.reached.connector.client(&endpoint).await?;
    Ok(Target { client, cluster_id, source, reached: executor.reached })
}

/// Spaces requests `1 / max_qps` apart.
struct Pacer {
    every: Duration,
    next: tokio::time::Instant,
}

impl Pacer {
    fn new(max_qps: f64) -> Pacer {
        let every = if max_qps > 0.0 { Duration::from_secs_f64(1.0 / max_qps) } else { Duration::ZERO };
        Pacer { every, next: tokio::time::Instant::now() }
    }

    async fn wait(&mut self) {
        tokio::time::sleep_until(self.next).await;
        self.next = tokio::time::Instant::now().max(self.next) + self.every;
    }
}

/// One request of the walk.
async fn send(client: &Client, ask: &Ask, timeout: Duration) -> Result<Answer, EtcdError> {
    let mut kv = client.kv_client();
    match ask {
        Ask::Total => {
            let options = GetOptions::new().with_all_keys().with_count_only().with_serializable();
            let response = call(timeout, kv.get(Vec::new(), Some(options))).await?;
            let revision = response.header().map(|h| h.revision()).unwrap_or_default();
            Ok(Answer::Total { count: response.count().max(0) as u64, revision })
        }
        Ask::Page { from, end, limit, revision } => {
            let mut options = GetOptions::new().with_serializable().with_limit(*limit as i64).with_revision(*revision);
            options = if end.is_empty() { options.with_from_key() } else { options.with_range(end.clone()) };
            let response = call(timeout, kv.get(from.clone(), Some(options))).await?;
            let kvs = response
                .kvs()
                .iter()
                .map(|kv| Seen {
                    key: kv.key().to_vec(),
                    bytes: record_bytes(
                        kv.key().len(),
                        kv.value().len(),
                        kv.create_revision(),
                        kv.mod_revision(),
                        kv.version(),
                        kv.lease(),
                    ),
                })
                .collect();
            Ok(Answer::Page(PageAnswer { count: response.count().max(0) as u64, kvs }))
        }
    }
}

enum Answer {
    Total { count: u64, revision: i64 },
    Page(PageAnswer),
}

/// How often the reading so far is passed to `progress`.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);
/// Fresh starts after the pinned revision was compacted away mid-reading.
const RESTARTS: u32 = 2;

/// Takes one reading from `target`; `progress` hears the reading so far now and then. A
/// cancelled or failed reading comes back partial, saying why.
pub async fn read(
    target: &Target,
    options: &LiveOptions,
    cancel: &CancellationToken,
    mut progress: impl FnMut(Reading),
) -> Reading {
    let started = Instant::now();
    let taken_at = SystemTime::now();
    let mut pacer = Pacer::new(options.max_qps);
    let mut walk = Walk::new(options.walk.clone());
    let mut spent = 0;
    let mut restarts = 0;
    let mut told = Instant::now();
    let reading = |walk: &Walk, spent: u64| {
        let mut r = Reading::from_walk(walk, target.cluster_id, target.source.clone(), taken_at, started.elapsed());
        r.requests += spent;
        r
    };
    while let Some(ask) = walk.next_ask() {
        tokio::select! {
            () = pacer.wait() => {}
            () = cancel.cancelled() => {
                walk.fail("stopped by the user".into());
                break;
            }
        }
        let answered = tokio::select! {
            answered = send(&target.client, &ask, options.timeout) => answered,
            () = cancel.cancelled() => {
                walk.fail("stopped by the user".into());
                break;
            }
        };
        match answered {
            Ok(Answer::Total { count, revision }) => walk.answer_total(count, revision),
            Ok(Answer::Page(page)) => walk.answer_page(page),
            Err(e) if e.to_string().contains("compacted") && restarts < RESTARTS => {
                // The revision the walk was pinned to is gone: start again at the current one.
                tracing::info!(requests = walk.requests(), "space reading: its revision was compacted; starting again");
                restarts += 1;
                spent += walk.requests() + 1;
                walk = Walk::new(options.walk.clone());
            }
            Err(e) => walk.fail(format!("{} stopped answering: {e}", member_name(&target.source))),
        }
        if told.elapsed() >= PROGRESS_EVERY {
            told = Instant::now();
            progress(reading(&walk, spent));
        }
    }
    reading(&walk, spent)
}

fn member_name(source: &Source) -> String {
    match source {
        Source::Member { member, .. } => member.clone(),
        Source::Snapshot { file, .. } => file.clone(),
    }
}
