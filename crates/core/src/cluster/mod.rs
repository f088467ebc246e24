//! What the console knows about the cluster: the latest answer of every member,
//! kept with the time it was taken, and what follows from them (leader, quorum,
//! disagreements). Pure: fed by messages, read by the screens and `status`.

pub mod alerts;
pub mod fixtures;
pub mod history;
pub mod quota;
pub mod report;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

pub use alerts::{Alert, Severity};
pub use history::History;
pub use quota::{Quota, QuotaSource, SpecQuotas};

/// A member as MemberList describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberIdentity {
    pub id: u64,
    pub name: String,
    pub client_urls: Vec<String>,
    pub peer_urls: Vec<String>,
    pub is_learner: bool,
}

impl MemberIdentity {
    /// The URL the console talks to, as etcdctl --cluster uses the first client URL.
    pub fn endpoint(&self) -> &str {
        self.client_urls.first().map(String::as_str).unwrap_or("")
    }

    /// A member added but not started has no name yet; etcdctl shows its ID then.
    pub fn display_name(&self) -> String {
        if self.name.is_empty() {
            format!("{:x}", self.id)
        } else {
            self.name.clone()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlarmKind {
    NoSpace,
    Corrupt,
    Other,
}

impl AlarmKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmKind::NoSpace => "NOSPACE",
            AlarmKind::Corrupt => "CORRUPT",
            AlarmKind::Other => "UNKNOWN",
        }
    }
}

/// One active alarm: which member raised it, and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Alarm {
    pub member_id: u64,
    pub kind: AlarmKind,
}

/// What a member's Status RPC said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSample {
    pub cluster_id: u64,
    pub member_id: u64,
    pub version: String,
    pub leader_id: u64,
    pub raft_term: u64,
    pub raft_index: u64,
    pub raft_applied_index: u64,
    pub db_size_bytes: u64,
    pub db_size_in_use_bytes: u64,
    pub is_learner: bool,
    /// etcd 3.6's `dbSizeQuota`: the quota this member runs with (None before 3.6, or 0).
    pub quota_bytes: Option<u64>,
    /// Every alarm active in the cluster, as this member knows them.
    pub alarms: Vec<Alarm>,
    /// Errors other than alarms (e.g. "etcdserver: no leader").
    pub errors: Vec<String>,
}

impl StatusSample {
    pub fn free_bytes(&self) -> u64 {
        self.db_size_bytes.saturating_sub(self.db_size_in_use_bytes)
    }

    /// Share of the file that bbolt holds free: what a defrag gives back.
    pub fn fragmentation_pct(&self) -> f64 {
        if self.db_size_bytes == 0 {
            return 0.0;
        }
        self.free_bytes() as f64 * 100.0 / self.db_size_bytes as f64
    }

    pub fn quota_pct(&self, quota_bytes: u64) -> f64 {
        if quota_bytes == 0 {
            return 0.0;
        }
        self.db_size_bytes as f64 * 100.0 / quota_bytes as f64
    }

    pub fn raft_lag(&self) -> u64 {
        self.raft_index.saturating_sub(self.raft_applied_index)
    }
}

/// One round of questions to one member. Each part has its own outcome so a
/// member that answers Status but fails the read still shows its figures.
#[derive(Debug, Clone)]
pub struct MemberSample {
    pub member_id: u64,
    pub started: Instant,
    pub finished: Instant,
    pub status: Result<StatusSample, String>,
    /// Latency of a linearizable read, or why it failed.
    pub health: Result<Duration, String>,
    /// The members this member's MemberList names.
    pub members: Result<Vec<MemberIdentity>, String>,
}

impl MemberSample {
    /// A round that could not even be asked (no client for the member).
    pub fn failed(member_id: u64, at: Instant, error: String) -> Self {
        Self {
            member_id,
            started: at,
            finished: at,
            status: Err(error.clone()),
            health: Err(error.clone()),
            members: Err(error),
        }
    }
}

/// What etcd answers a learner asked for a linearizable read (etcd 3.4+): not a fault.
pub const LEARNER_READ_REFUSED: &str = "rpc not supported for learner";

/// A learner stuck this long (not promoted once ready, or not catching up) is an alert.
pub const LEARNER_STUCK_AFTER: Duration = Duration::from_secs(300);

/// etcd promotes a learner only once its applied index is this share of the leader's
/// (`readyPercent` in etcd's server: 0.9).
pub const LEARNER_READY_SHARE: f64 = 0.9;

/// How a learner is catching up with the leader, from their Status answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LearnerProgress {
    /// The learner's raft applied index.
    pub applied_index: u64,
    /// The leader's raft index.
    pub leader_index: u64,
}

impl LearnerProgress {
    /// Applied against the leader's index, 0..=100.
    pub fn pct(&self) -> f64 {
        if self.leader_index == 0 {
            return 0.0;
        }
        (self.applied_index as f64 * 100.0 / self.leader_index as f64).min(100.0)
    }

    /// Entries still to apply.
    pub fn gap(&self) -> u64 {
        self.leader_index.saturating_sub(self.applied_index)
    }

    /// Ready to be promoted by etcd's own rule.
    pub fn ready(&self) -> bool {
        self.applied_index as f64 >= self.leader_index as f64 * LEARNER_READY_SHARE
    }

    /// `learner 92%`, for a narrow cell.
    pub fn short(&self) -> String {
        format!("learner {:.0}%", self.pct().floor())
    }
}

/// What the console remembers of a learner, to tell one catching up from one stuck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnerWatch {
    /// First seen as a learner (this console's observation; etcd does not say when it was added).
    pub since: Instant,
    /// The smallest gap to the leader seen, and when it was first that small.
    pub best_gap: u64,
    pub best_at: Instant,
    /// Ready for promotion since (None: not ready at the last answer).
    pub ready_since: Option<Instant>,
}

/// The console's memory of one member.
#[derive(Debug, Clone)]
pub struct MemberState {
    pub identity: MemberIdentity,
    /// The last good Status answer and when it was taken.
    pub status: Option<(Instant, StatusSample)>,
    pub health: Option<Result<Duration, String>>,
    pub member_ids: Option<Vec<u64>>,
    /// Why the latest round failed, if it did.
    pub error: Option<String>,
    /// When the member stopped answering (first failure after the last answer).
    pub failing_since: Option<Instant>,
    pub history: History,
    /// While it is a learner: how it has been catching up.
    pub learner: Option<LearnerWatch>,
}

impl MemberState {
    pub fn new(identity: MemberIdentity) -> Self {
        Self {
            identity,
            status: None,
            health: None,
            member_ids: None,
            error: None,
            failing_since: None,
            history: History::default(),
            learner: None,
        }
    }

    /// A learner, by the member list or by its own Status.
    pub fn is_learner(&self) -> bool {
        self.identity.is_learner || self.current_status().is_some_and(|s| s.is_learner)
    }

    /// Neither an answer nor a failure yet: the first round is under way.
    pub fn not_heard_yet(&self) -> bool {
        self.status.is_none() && self.error.is_none()
    }

    /// Answered the latest round.
    pub fn is_up(&self) -> bool {
        self.error.is_none() && self.status.is_some()
    }

    pub fn current_status(&self) -> Option<&StatusSample> {
        if self.is_up() {
            self.status.as_ref().map(|(_, s)| s)
        } else {
            None
        }
    }

    /// Status figures, possibly stale, with their time.
    pub fn last_status(&self) -> Option<&(Instant, StatusSample)> {
        self.status.as_ref()
    }

    /// A linearizable read went through in the latest round.
    pub fn serves_reads(&self) -> bool {
        self.is_up() && matches!(self.health, Some(Ok(_)))
    }

    /// The console's one meaning of "healthy", used by the members table, the header, `status`'s
    /// text, JSON (`healthy`, `healthy_voters`) and exit code: the member answers Status, a
    /// linearizable read through it succeeds, and no alarm is active in the cluster (as
    /// `etcdctl endpoint health` of 3.5 and later says). A learner refuses linearizable reads by design: it is
    /// healthy when it answers Status and no alarm is active. A member that serves reads under an
    /// alarm still counts for quorum ([`Quorum::serving`]) but is not healthy.
    pub fn is_healthy(&self) -> bool {
        let reads = self.serves_reads() || (self.is_learner() && self.is_up() && self.read_refused_as_learner());
        reads && self.current_status().is_some_and(|s| s.alarms.is_empty())
    }

    /// The read failed only because the member is a learner.
    pub fn read_refused_as_learner(&self) -> bool {
        matches!(&self.health, Some(Err(e)) if e.contains(LEARNER_READ_REFUSED))
    }

    /// Alarms raised by this member.
    pub fn own_alarms(&self, cluster_alarms: &BTreeSet<Alarm>) -> Vec<AlarmKind> {
        cluster_alarms.iter().filter(|a| a.member_id == self.identity.id).map(|a| a.kind).collect()
    }

    /// How long the member has not answered, when it is not answering.
    pub fn silent_for(&self, now: Instant) -> Option<Duration> {
        Some(now.saturating_duration_since(self.failing_since?))
    }
}

/// Where the console stands with reaching the cluster at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// Asking the seed endpoints for the member list.
    Connecting { since: Instant, attempt: u32 },
    /// No seed endpoint answered; trying again at `retry_at`.
    Failed { error: String, since: Instant, retry_at: Instant, attempt: u32 },
    /// The member list is known.
    Known { at: Instant },
}

impl Discovery {
    /// Since when the console has been trying to reach the cluster (None once it has).
    pub fn trying_since(&self) -> Option<Instant> {
        match self {
            Discovery::Connecting { since, .. } | Discovery::Failed { since, .. } => Some(*since),
            Discovery::Known { .. } => None,
        }
    }
}

/// Everything observed so far.
#[derive(Debug, Clone)]
pub struct ClusterState {
    pub members: Vec<MemberState>,
    pub discovery: Discovery,
    /// `--quota-bytes`: the user's figure when `quota_given`, else the default assumed.
    pub quota_bytes: u64,
    /// The user gave `--quota-bytes`: it wins over what is read.
    pub quota_given: bool,
    /// What the pods and the etcd operator say of the quota.
    pub spec_quotas: SpecQuotas,
    /// The API says etcd/cluster runs with the quorum guard switched off
    /// (`unsupportedConfigOverrides.useUnsupportedUnsafeNonHANonProductionUnstableEtcd`).
    pub quorum_guard_off: bool,
    /// Raft term increases observed, with when (for etcdHighNumberOfLeaderChanges).
    pub term_changes: VecDeque<(Instant, u64)>,
    highest_term: Option<u64>,
}

impl ClusterState {
    pub fn new(quota_bytes: u64, now: Instant) -> Self {
        Self {
            members: Vec::new(),
            discovery: Discovery::Connecting { since: now, attempt: 1 },
            quota_bytes,
            quota_given: false,
            spec_quotas: SpecQuotas::default(),
            quorum_guard_off: false,
            term_changes: VecDeque::new(),
            highest_term: None,
        }
    }

    /// The member list changed: keep what is known of members that stay.
    pub fn set_members(&mut self, identities: Vec<MemberIdentity>, now: Instant) {
        let mut old: BTreeMap<u64, MemberState> = self.members.drain(..).map(|m| (m.identity.id, m)).collect();
        let mut members: Vec<MemberState> = identities
            .into_iter()
            .map(|identity| match old.remove(&identity.id) {
                Some(mut state) => {
                    state.identity = identity;
                    state
                }
                None => MemberState::new(identity),
            })
            .collect();
        members.sort_by(|a, b| {
            a.identity.display_name().cmp(&b.identity.display_name()).then(a.identity.id.cmp(&b.identity.id))
        });
        self.members = members;
        self.discovery = Discovery::Known { at: now };
    }

    pub fn apply_sample(&mut self, sample: MemberSample) {
        let Some(index) = self.members.iter().position(|m| m.identity.id == sample.member_id) else {
            return;
        };
        let member = &mut self.members[index];
        match sample.status {
            Ok(status) => {
                member.history.record(sample.finished, status.db_size_bytes, status.db_size_in_use_bytes);
                // A member without a leader (partitioned, electing) may carry a term no leader
                // ever had; only terms under a leader count as leader changes.
                let term = (status.leader_id != 0).then_some(status.raft_term);
                member.status = Some((sample.finished, status));
                member.error = None;
                member.failing_since = None;
                member.health = Some(sample.health);
                member.member_ids = sample.members.ok().map(|list| list.iter().map(|m| m.id).collect());
                if let Some(term) = term {
                    self.observe_term(term, sample.finished);
                }
                self.watch_learner(index, sample.finished);
            }
            Err(error) => {
                member.error = Some(error);
                member.failing_since.get_or_insert(sample.started);
                member.health = Some(sample.health);
            }
        }
    }

    /// A learner's progress against the leader, when both answered.
    pub fn learner_progress(&self, member: &MemberState) -> Option<LearnerProgress> {
        if !member.is_learner() {
            return None;
        }
        let (_, status) = member.last_status()?;
        let leader = self.member(self.leader_id()?)?.last_status()?.1.raft_index;
        Some(LearnerProgress { applied_index: status.raft_applied_index, leader_index: leader })
    }

    fn watch_learner(&mut self, index: usize, at: Instant) {
        let progress = self.members.get(index).and_then(|m| self.learner_progress(m));
        let Some(member) = self.members.get_mut(index) else { return };
        let Some(progress) = progress else {
            if !member.is_learner() {
                member.learner = None;
            }
            return;
        };
        let gap = progress.gap();
        let watch =
            member.learner.get_or_insert(LearnerWatch { since: at, best_gap: gap, best_at: at, ready_since: None });
        if gap < watch.best_gap {
            watch.best_gap = gap;
            watch.best_at = at;
        }
        watch.ready_since = if progress.ready() { Some(watch.ready_since.unwrap_or(at)) } else { None };
    }

    /// Why a learner is stuck, when it has been for [`LEARNER_STUCK_AFTER`]: ready and not
    /// promoted, or its gap to the leader not shrinking.
    pub fn learner_stuck(&self, member: &MemberState, now: Instant) -> Option<String> {
        let watch = member.learner?;
        let progress = self.learner_progress(member)?;
        let name = member.identity.display_name();
        if let Some(ready) = watch.ready_since {
            let waited = now.saturating_duration_since(ready);
            return (waited > LEARNER_STUCK_AFTER).then(|| {
                format!(
                    "{name} has caught up ({:.0}%) but has not been promoted for {}: promote it (etcdctl member promote) or remove it",
                    progress.pct().floor(),
                    crate::units::format_age(waited)
                )
            });
        }
        let still = now.saturating_duration_since(watch.best_at);
        (still > LEARNER_STUCK_AFTER).then(|| {
            format!(
                "{name} is not catching up: applied {} of the leader's {}, no closer for {}",
                progress.applied_index,
                progress.leader_index,
                crate::units::format_age(still)
            )
        })
    }

    fn observe_term(&mut self, term: u64, at: Instant) {
        match self.highest_term {
            Some(highest) if term > highest => {
                self.term_changes.push_back((at, term - highest));
                self.highest_term = Some(term);
            }
            None => self.highest_term = Some(term),
            _ => {}
        }
        while self
            .term_changes
            .front()
            .is_some_and(|(t, _)| at.saturating_duration_since(*t) > Duration::from_secs(3600))
        {
            self.term_changes.pop_front();
        }
    }

    pub fn member(&self, member_id: u64) -> Option<&MemberState> {
        self.members.iter().find(|m| m.identity.id == member_id)
    }

    fn answering(&self) -> impl Iterator<Item = &StatusSample> {
        self.members.iter().filter_map(MemberState::current_status)
    }

    /// The value most answering members give (0 counts as no answer).
    fn majority(&self, field: impl Fn(&StatusSample) -> u64) -> Option<u64> {
        let mut votes: BTreeMap<u64, usize> = BTreeMap::new();
        for value in self.answering().map(field).filter(|v| *v != 0) {
            *votes.entry(value).or_default() += 1;
        }
        votes.into_iter().max_by_key(|(_, n)| *n).map(|(value, _)| value)
    }

    /// The quota `member` runs with, by the first source that says: `--quota-bytes`, etcd's
    /// own `dbSizeQuota`, its pod's spec, the etcd operator, else the default, assumed.
    pub fn quota_of(&self, member: &MemberState) -> Quota {
        if self.quota_given {
            return Quota { bytes: self.quota_bytes, source: QuotaSource::Flag };
        }
        if let Some(bytes) = member.last_status().and_then(|(_, s)| s.quota_bytes).filter(|q| *q > 0) {
            return Quota { bytes, source: QuotaSource::Etcd };
        }
        if let Some(bytes) = self.spec_quotas.members.get(&member.identity.id).copied().filter(|q| *q > 0) {
            return Quota { bytes, source: QuotaSource::Pod };
        }
        self.cluster_default_quota()
    }

    fn cluster_default_quota(&self) -> Quota {
        match self.spec_quotas.operator.filter(|q| *q > 0) {
            Some(bytes) => Quota { bytes, source: QuotaSource::EtcdOperator },
            None => Quota { bytes: self.quota_bytes, source: QuotaSource::Assumed },
        }
    }

    /// The cluster's quota: the smallest a member was read to run with (the first to fill),
    /// else the operator's, else the default, assumed.
    pub fn quota(&self) -> Quota {
        self.members
            .iter()
            .map(|m| self.quota_of(m))
            .filter(|q| q.source != QuotaSource::Assumed)
            .min_by_key(|q| (q.bytes, q.source))
            .unwrap_or_else(|| if self.quota_given { self.quota_of_flag() } else { self.cluster_default_quota() })
    }

    fn quota_of_flag(&self) -> Quota {
        Quota { bytes: self.quota_bytes, source: QuotaSource::Flag }
    }

    /// NOSPACE is raised: the quota is reached, whatever the figures say.
    pub fn nospace(&self) -> bool {
        self.alarms().iter().any(|a| a.kind == AlarmKind::NoSpace)
    }

    /// The leader most answering members name; None when no one names one.
    pub fn leader_id(&self) -> Option<u64> {
        self.majority(|s| s.leader_id)
    }

    pub fn cluster_id(&self) -> Option<u64> {
        self.majority(|s| s.cluster_id)
    }

    /// Every alarm any answering member reports.
    pub fn alarms(&self) -> BTreeSet<Alarm> {
        self.answering().flat_map(|s| s.alarms.iter().copied()).collect()
    }

    pub fn quorum(&self) -> Quorum {
        let voters: Vec<&MemberState> = self.members.iter().filter(|m| !m.is_learner()).collect();
        Quorum {
            voters: voters.len(),
            needed: voters.len() / 2 + 1,
            serving: voters.iter().filter(|m| m.serves_reads()).count(),
            healthy: voters.iter().filter(|m| m.is_healthy()).count(),
            unknown: voters.iter().filter(|m| m.not_heard_yet()).count(),
        }
    }

    /// Ways the answering members contradict each other.
    pub fn disagreements(&self) -> Vec<String> {
        let mut found = Vec::new();
        let up: Vec<&MemberState> = self.members.iter().filter(|m| m.is_up()).collect();
        let distinct = |f: &dyn Fn(&StatusSample) -> u64| -> BTreeSet<u64> {
            up.iter().filter_map(|m| m.current_status()).map(f).collect()
        };
        let leaders = distinct(&|s| s.leader_id);
        if leaders.len() > 1 {
            let named: Vec<String> = up
                .iter()
                .filter_map(|m| {
                    m.current_status()
                        .map(|s| format!("{} says {}", m.identity.display_name(), self.name_of(s.leader_id)))
                })
                .collect();
            found.push(format!("members disagree on the leader: {}", named.join(", ")));
        }
        if distinct(&|s| s.cluster_id).len() > 1 {
            found.push("members report different cluster IDs: a member may belong to another cluster".into());
        }
        let known: BTreeSet<u64> = self.members.iter().map(|m| m.identity.id).collect();
        for m in &up {
            if let Some(ids) = &m.member_ids {
                let seen: BTreeSet<u64> = ids.iter().copied().collect();
                if seen != known {
                    found.push(format!(
                        "{} has a different member list ({} members)",
                        m.identity.display_name(),
                        seen.len()
                    ));
                }
            }
        }
        found
    }

    /// A member's name from its ID, or the hex ID when it is not in the list.
    pub fn name_of(&self, member_id: u64) -> String {
        if member_id == 0 {
            return "no leader".into();
        }
        self.member(member_id).map(|m| m.identity.display_name()).unwrap_or_else(|| format!("{member_id:x}"))
    }

    /// Leader changes (raft term increases) seen in the last `window`.
    pub fn leader_changes_within(&self, window: Duration, now: Instant) -> u64 {
        self.term_changes.iter().filter(|(t, _)| now.saturating_duration_since(*t) <= window).map(|(_, n)| n).sum()
    }

    /// Voters that answered but do not serve reads, or stopped answering (not those not heard yet).
    pub fn voters_down(&self) -> Vec<&MemberState> {
        self.members.iter().filter(|m| !m.is_learner() && !m.not_heard_yet() && !m.serves_reads()).collect()
    }

    /// What to do about voters down: replace one while quorum holds, restore once too few
    /// answer at all. None while enough voters answer Status but quorum is not serving (no
    /// leader yet: an election, a partition): neither a replacement nor a restore fits then.
    pub fn next_step(&self) -> Option<NextStep> {
        let down = self.voters_down();
        let first = down.first()?.identity.display_name();
        let quorum = self.quorum();
        if !quorum.is_lost() {
            return Some(NextStep::Replace { member: first });
        }
        let voters = self.members.iter().filter(|m| !m.is_learner());
        let answering = voters.clone().filter(|m| m.is_up()).count();
        if answering >= quorum.needed {
            return None;
        }
        let lost = voters.filter(|m| !m.is_up() && !m.not_heard_yet()).map(|m| m.identity.display_name()).collect();
        Some(NextStep::Restore { lost })
    }

    /// When the freshest figure was taken.
    pub fn last_update(&self) -> Option<Instant> {
        self.members.iter().filter_map(|m| m.status.as_ref().map(|(t, _)| *t)).max()
    }
}

/// The way out for a cluster with voters down (the member wizard's `M`, or a restore).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// Quorum holds: replace this member.
    Replace { member: String },
    /// Quorum is lost: restore from a backup, these hosts lost.
    Restore { lost: Vec<String> },
}

impl NextStep {
    /// One line for `status` and scripts.
    pub fn text(&self) -> String {
        match self {
            NextStep::Replace { member } => format!(
                "replace {member}: etcd-console member replace {member} (M in the console), as \"Replacing an unhealthy etcd member\" (OpenShift 4.14) describes"
            ),
            NextStep::Restore { lost } => format!(
                "quorum lost: restore from a backup: etcd-console restore plan --backup DIR {} (\"Restoring to a previous cluster state\", OpenShift 4.14)",
                lost.iter().map(|h| format!("--lost-host {h}")).collect::<Vec<_>>().join(" ")
            ),
        }
    }
}

/// How every confirmation names the cluster it changes, the same way each time:
/// `cluster ocp-lab-x7k2p (api.ocp.example.com:6443) · etcd 8e9e05c52164694d`. What is not known
/// is left out (without the API: `etcd cluster 8e9e05c52164694d`). `api` is the API's URL or
/// host; only its host and port are shown.
pub fn cluster_naming(infrastructure: Option<&str>, api: Option<&str>, etcd_cluster_id: Option<u64>) -> String {
    let host = api.map(api_host).filter(|h| !h.is_empty());
    let infrastructure = infrastructure.map(crate::units::safe_text).filter(|n| !n.is_empty());
    let openshift = match (infrastructure, host) {
        (Some(name), Some(host)) => Some(format!("cluster {name} ({host})")),
        (Some(name), None) => Some(format!("cluster {name}")),
        (None, Some(host)) => Some(format!("cluster at {host}")),
        (None, None) => None,
    };
    let etcd = etcd_cluster_id.map(|id| format!("{id:x}"));
    match (openshift, etcd) {
        (Some(openshift), Some(id)) => format!("{openshift} · etcd {id}"),
        (Some(openshift), None) => format!("{openshift} · etcd cluster ID not read yet"),
        (None, Some(id)) => format!("etcd cluster {id}"),
        (None, None) => "etcd cluster ID not read yet".into(),
    }
}

/// `api.ocp.example.com:6443` of `https://api.ocp.example.com:6443/path`.
pub fn api_host(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
    crate::units::safe_text(rest.split('/').next().unwrap_or(""))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quorum {
    pub voters: usize,
    pub needed: usize,
    /// Voters a linearizable read goes through: what quorum counts.
    pub serving: usize,
    /// Voters healthy as [`MemberState::is_healthy`] says (serving and no alarm active).
    pub healthy: usize,
    /// Voters whose first answer has not come yet.
    pub unknown: usize,
}

impl Quorum {
    pub fn has_quorum(&self) -> bool {
        self.serving >= self.needed
    }

    /// Quorum is lost for sure, not just unconfirmed while first answers come in.
    pub fn is_lost(&self) -> bool {
        self.serving + self.unknown < self.needed
    }

    /// How many more voters may fail before quorum is lost: voters serving reads - quorum (0 at
    /// or below quorum; learners are no voters).
    pub fn can_lose(&self) -> usize {
        self.serving.saturating_sub(self.needed)
    }

    /// `can lose 1 more`, or `quorum lost`.
    pub fn tolerance_text(&self) -> String {
        if self.is_lost() {
            "quorum lost".into()
        } else {
            format!("can lose {} more", self.can_lose())
        }
    }
}

/// Reads the alarm strings etcd puts in StatusResponse.errors ("memberID:123 alarm:NOSPACE").
pub fn split_status_errors(errors: &[String]) -> (Vec<Alarm>, Vec<String>) {
    let mut alarms = Vec::new();
    let mut others = Vec::new();
    for error in errors {
        match parse_alarm(error) {
            Some(alarm) => alarms.push(alarm),
            None => others.push(error.clone()),
        }
    }
    alarms.sort();
    alarms.dedup();
    (alarms, others)
}

fn parse_alarm(text: &str) -> Option<Alarm> {
    let mut member_id = None;
    let mut kind = None;
    for field in text.split_whitespace() {
        if let Some(v) = field.strip_prefix("memberID:") {
            member_id = v.parse::<u64>().ok();
        } else if let Some(v) = field.strip_prefix("alarm:") {
            kind = Some(match v {
                "NOSPACE" => AlarmKind::NoSpace,
                "CORRUPT" => AlarmKind::Corrupt,
                _ => AlarmKind::Other,
            });
        }
    }
    Some(Alarm { member_id: member_id?, kind: kind? })
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn alarm_strings_from_status_are_read() {
        let (alarms, others) =
            split_status_errors(&["memberID:12345 alarm:NOSPACE ".to_string(), "etcdserver: no leader".to_string()]);
        assert_eq!(alarms, vec![Alarm { member_id: 12345, kind: AlarmKind::NoSpace }]);
        assert_eq!(others, vec!["etcdserver: no leader".to_string()]);
    }

    #[test]
    fn leader_and_quorum_follow_the_answers() {
        let t0 = Instant::now();
        let mut state = healthy_cluster(3, t0);
        assert_eq!(state.leader_id(), Some(member_id(0)));
        assert_eq!(state.quorum(), Quorum { voters: 3, needed: 2, serving: 3, healthy: 3, unknown: 0 });
        state.apply_sample(failed_sample(1, t0, "no answer within 5s"));
        state.apply_sample(failed_sample(2, t0, "no answer within 5s"));
        let q = state.quorum();
        assert_eq!((q.serving, q.has_quorum()), (1, false));
        assert!(state.disagreements().is_empty());
    }

    #[test]
    fn a_member_naming_another_leader_is_a_disagreement() {
        let t0 = Instant::now();
        let mut state = healthy_cluster(3, t0);
        let mut sample = ok_sample(2, t0, 40 << 20, 30 << 20);
        if let Ok(s) = sample.status.as_mut() {
            s.leader_id = member_id(2);
        }
        state.apply_sample(sample);
        let found = state.disagreements();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("etcd-2 says etcd-2"), "{found:?}");
    }

    #[test]
    fn a_silent_member_keeps_its_last_figures_and_counts_its_silence() {
        let t0 = Instant::now();
        let mut state = healthy_cluster(3, t0);
        let later = t0 + Duration::from_secs(2);
        state.apply_sample(failed_sample(1, later, "no answer within 5s"));
        let m = &state.members[1];
        assert!(!m.is_up());
        assert!(m.last_status().is_some());
        assert_eq!(m.silent_for(later + Duration::from_secs(7)), Some(Duration::from_secs(7)));
    }

    #[test]
    fn term_increases_count_as_leader_changes() {
        let t0 = Instant::now();
        let mut state = healthy_cluster(3, t0);
        for step in 1..=3u64 {
            let mut sample = ok_sample(0, t0 + Duration::from_secs(step * 10), 40 << 20, 30 << 20);
            if let Ok(s) = sample.status.as_mut() {
                s.raft_term = 2 + step * 2;
            }
            state.apply_sample(sample);
        }
        // Terms 4 -> 4 -> 6 -> 8: four terms passed, each at least one election.
        assert_eq!(state.leader_changes_within(Duration::from_secs(600), t0 + Duration::from_secs(40)), 4);
    }

    #[test]
    fn a_cluster_is_named_one_way_with_what_is_known() {
        let id = Some(0x8e9e_05c5_2164_694d);
        assert_eq!(
            cluster_naming(Some("ocp-lab-x7k2p"), Some("https://api.ocp.example.com:6443"), id),
            "cluster ocp-lab-x7k2p (api.ocp.example.com:6443) · etcd 8e9e05c52164694d"
        );
        assert_eq!(cluster_naming(None, None, id), "etcd cluster 8e9e05c52164694d", "no API: the etcd ID alone");
        assert_eq!(
            cluster_naming(None, Some("https://api.lab:6443/"), id),
            "cluster at api.lab:6443 · etcd 8e9e05c52164694d"
        );
        assert_eq!(cluster_naming(Some("x"), None, None), "cluster x · etcd cluster ID not read yet");
    }
}
