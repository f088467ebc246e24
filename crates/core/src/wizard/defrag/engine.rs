//! The defrag run as a pure state machine: given what was observed, it says
//! what to do next. Every safety rule of the procedure is decided here, where
//! a unit test can prove it: one member at a time, the leader last (read again
//! before every member), the gates before every member, a wait after each, no
//! member twice, no blind second defrag after a timeout, NOSPACE cleared only
//! below 90 % of the quota.
//!
//! The executor performs the [`Action`]s and feeds back [`Observed`]; the whole
//! value is serialisable so the journal can hold it and a crashed run resume.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::plan::{Figures, MemberFacts, Plan};
use crate::units::format_bytes;

/// etcd's own limit between committed and applied entries before it refuses
/// proposals ("too many requests"); a member further behind is not in step.
pub const MAX_APPLY_LAG: u64 = 5000;

/// NOSPACE is cleared only when every member is below this share of the quota.
pub const DISARM_MAX_QUOTA_SHARE: f64 = 0.9;

/// The runbook's spacing between members.
pub const RUNBOOK_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// Pause after each member before the next one's gates.
    pub wait: Duration,
    /// Limit of one Defragment call.
    pub command_timeout: Duration,
    /// After a timed-out defrag: how long to wait for the member to answer again.
    pub answer_limit: Duration,
    pub move_leader: bool,
    pub compact: bool,
    pub disarm: bool,
    /// The backend quota sizes are measured against (etcd 3.4 does not report it).
    pub quota_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            wait: RUNBOOK_WAIT,
            command_timeout: Duration::from_secs(30),
            answer_limit: Duration::from_secs(300),
            move_leader: false,
            compact: false,
            disarm: false,
            quota_bytes: crate::settings::DEFAULT_QUOTA_BYTES,
        }
    }
}

/// What one member said when the cluster was read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberReading {
    pub figures: Figures,
    pub leader_id: u64,
    pub raft_term: u64,
    pub raft_index: u64,
    pub raft_applied_index: u64,
    /// The linearizable read etcdctl's health check does: Ok, or why it failed.
    pub health: Result<(), String>,
    /// Alarms this member reports, as (member ID, NOSPACE | CORRUPT | other name).
    pub alarms: Vec<(u64, String)>,
    pub cluster_id: u64,
    /// etcd's version, as Status reports it (absent in journals written before it was kept).
    #[serde(default)]
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberView {
    pub id: u64,
    pub name: String,
    pub is_learner: bool,
    /// Its Status and health read, or why it could not be asked.
    pub reading: Result<MemberReading, String>,
}

impl MemberView {
    fn healthy(&self) -> Result<&MemberReading, String> {
        match &self.reading {
            Ok(reading) => match &reading.health {
                Ok(()) => Ok(reading),
                Err(e) => Err(format!("{} answers Status but not a read: {e}", self.name)),
            },
            Err(e) => Err(format!("{} does not answer: {e}", self.name)),
        }
    }
}

/// The whole cluster as read at one moment (member list, then every member).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ClusterView {
    pub members: Vec<MemberView>,
    /// Why the member list itself could not be read (no member answered).
    pub problem: Option<String>,
}

impl ClusterView {
    fn member(&self, id: u64) -> Option<&MemberView> {
        self.members.iter().find(|m| m.id == id)
    }

    fn voters(&self) -> impl Iterator<Item = &MemberView> {
        self.members.iter().filter(|m| !m.is_learner)
    }

    /// The cluster ID most members report.
    pub fn cluster_id(&self) -> Option<u64> {
        let mut ids: Vec<u64> =
            self.members.iter().filter_map(|m| m.reading.as_ref().ok().map(|r| r.cluster_id)).collect();
        ids.sort_unstable();
        ids.dedup();
        match ids.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// The leader every answering member names; None when none or they disagree.
    pub fn leader(&self) -> Option<u64> {
        let mut named: Vec<u64> =
            self.members.iter().filter_map(|m| m.reading.as_ref().ok().map(|r| r.leader_id)).collect();
        named.sort_unstable();
        named.dedup();
        match named.as_slice() {
            [one] if *one != 0 => Some(*one),
            _ => None,
        }
    }

    pub fn alarms(&self) -> Vec<(u64, String)> {
        let mut alarms: Vec<(u64, String)> =
            self.members.iter().filter_map(|m| m.reading.as_ref().ok()).flat_map(|r| r.alarms.clone()).collect();
        alarms.sort();
        alarms.dedup();
        alarms
    }

    pub fn name_of(&self, id: u64) -> String {
        self.member(id).map(|m| m.name.clone()).unwrap_or_else(|| format!("{id:x}"))
    }

    /// What the plan needs of each member.
    pub fn facts(&self) -> Vec<MemberFacts> {
        self.members
            .iter()
            .map(|m| MemberFacts {
                id: m.id,
                name: m.name.clone(),
                is_learner: m.is_learner,
                figures: m.reading.as_ref().ok().map(|r| r.figures),
                serves_reads: m.healthy().is_ok(),
            })
            .collect()
    }
}

/// Why a Defragment call did not come back Ok.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DefragError {
    /// No answer within the command timeout: the defrag may still run.
    TimedOut,
    /// The connection broke during the call: the defrag may still run, or be done.
    Interrupted(String),
    /// etcd answered with an error: it did not defragment.
    Failed(String),
}

/// What the executor observed after performing an [`Action`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Observed {
    Cluster(ClusterView),
    Compacted(Result<i64, String>),
    LeaderMoved(Result<(), String>),
    Defragmented(Result<Duration, DefragError>),
    /// After a timed-out or interrupted defrag: the member's reading once it
    /// answered a read again, or why it did not within the limit.
    Answered(Result<MemberReading, String>),
    /// The wait ended; `aborted` when the user stopped it.
    Waited {
        aborted: bool,
    },
    Disarmed(Result<(), String>),
}

/// What the executor is asked to do next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Action {
    /// Read the member list and every member's Status and health.
    Observe,
    /// Compact the keyspace to the current revision (physical).
    Compact {
        timeout: Duration,
    },
    MoveLeader {
        from: u64,
        to: u64,
        to_name: String,
        timeout: Duration,
    },
    Defragment {
        id: u64,
        name: String,
        timeout: Duration,
    },
    /// Poll the member until it answers a read again (at most `limit`).
    AwaitAnswer {
        id: u64,
        name: String,
        limit: Duration,
    },
    Wait {
        duration: Duration,
    },
    /// Clear NOSPACE on these members.
    Disarm {
        members: Vec<u64>,
    },
    Finished(Outcome),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// Every planned member was done (some may have left the cluster: see the notes).
    Completed,
    /// Stopped before the next member; nothing else was touched.
    Stopped { reason: String },
}

impl Outcome {
    /// `etcd-console defrag`'s exit code: 0 all done, 1 stopped.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Completed => 0,
            Outcome::Stopped { .. } => 1,
        }
    }
}

/// A member of the plan, as the run keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Planned {
    pub id: u64,
    pub name: String,
    pub size_before: u64,
    pub expected_reclaim: u64,
}

/// A member done in this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Done {
    pub id: u64,
    pub name: String,
    pub was_leader: bool,
    pub before: Figures,
    pub after: Figures,
    /// How long the Defragment call took (None when it timed out and finished later).
    pub took: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Phase {
    /// Read the cluster; the first gate.
    Start,
    Compact,
    Gate,
    MoveLeader {
        from: u64,
        to: u64,
    },
    Defragment {
        id: u64,
        before: Figures,
        was_leader: bool,
    },
    /// The defrag timed out, or the run was interrupted during it.
    AwaitAnswer {
        id: u64,
        before: Figures,
        was_leader: bool,
        after_crash: bool,
    },
    /// Read the cluster after a member: it must be healthy.
    Check {
        id: u64,
        before: Figures,
        was_leader: bool,
        took: Option<Duration>,
    },
    Wait,
    Disarm {
        members: Vec<u64>,
    },
    Finished(Outcome),
}

/// One line of the run's story, as the front ends show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub kind: NoteKind,
    pub member: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    Gate,
    Compacted,
    LeaderMoved,
    Defragmented,
    Warning,
    Disarmed,
    Stopped,
    Completed,
    Resumed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefragRun {
    pub options: Options,
    pub cluster_id: u64,
    pub planned: Vec<Planned>,
    pub done: Vec<Done>,
    pub phase: Phase,
    pub notes: Vec<Note>,
    pub abort_requested: bool,
    /// The leader at the last gate (for the front ends).
    pub leader: Option<u64>,
    /// An earlier run of this cluster defragmented a member less than the wait ago: the first
    /// member of this one waits too.
    #[serde(default)]
    pub wait_first: bool,
}

impl DefragRun {
    /// A run of `plan` on the cluster `cluster_id`. Refused under `--read-only`,
    /// here rather than in a front end, so it holds for all of them.
    pub fn new(plan: &Plan, cluster_id: u64, options: Options, read_only: bool) -> Result<DefragRun, String> {
        if read_only {
            return Err("refused: --read-only is set, and a defrag writes to every member".into());
        }
        Ok(DefragRun {
            options,
            cluster_id,
            planned: plan
                .steps
                .iter()
                .map(|s| Planned {
                    id: s.id,
                    name: s.name.clone(),
                    size_before: s.size_before,
                    expected_reclaim: s.expected_reclaim,
                })
                .collect(),
            done: Vec::new(),
            phase: Phase::Start,
            notes: Vec::new(),
            abort_requested: false,
            leader: None,
            wait_first: false,
        })
    }

    /// An earlier run of this cluster (stopped, or ended) defragmented `member` `ago`: when that is
    /// less than the wait, the wait comes before this run's first member too, as between two
    /// members of one run.
    pub fn after_earlier_run(&mut self, member: &str, ago: Duration) {
        if ago >= self.options.wait || !self.done.is_empty() {
            return;
        }
        self.wait_first = true;
        self.note(
            NoteKind::Gate,
            Some(member),
            format!(
                "{member} was defragmented {} ago by an earlier run: waiting {} before the first member",
                humantime::format_duration(Duration::from_secs(ago.as_secs())),
                humantime::format_duration(self.options.wait)
            ),
        );
    }

    /// A run read back from the journal after a crash. `in_flight` is the
    /// action that was begun and never ended: a defrag in flight is not fired
    /// again but its member waited for and read; a wait starts over.
    pub fn resumed(mut self, in_flight: Option<&Action>, read_only: bool) -> Result<DefragRun, String> {
        if read_only {
            return Err("refused: --read-only is set, and resuming a defrag writes to the members".into());
        }
        let phase = std::mem::replace(&mut self.phase, Phase::Start);
        self.phase = match (phase, in_flight) {
            (Phase::Defragment { id, before, was_leader }, Some(Action::Defragment { .. })) => {
                Phase::AwaitAnswer { id, before, was_leader, after_crash: true }
            }
            // A wait for an answer after a timeout stays one: its result still stops the run
            // when the member did not shrink.
            (phase @ Phase::AwaitAnswer { .. }, _) => phase,
            // Decided before the crash, not begun: decide again from a fresh read (the
            // leader may have moved, a member may be down, sizes may have changed).
            (Phase::Defragment { .. } | Phase::MoveLeader { .. } | Phase::Disarm { .. }, _) => Phase::Gate,
            (Phase::Finished(_), _) => return Err("that run had finished; there is nothing to resume".into()),
            (other, _) => other,
        };
        self.abort_requested = false;
        let left: Vec<String> = self.remaining().iter().map(|p| p.name.clone()).collect();
        self.note(
            NoteKind::Resumed,
            None,
            format!("resumed an interrupted run: {} done, left: {}", self.done.len(), list_or_none(&left)),
        );
        Ok(self)
    }

    /// The user's abort: honoured before the next member (a defrag already
    /// sent runs to its end; it cannot be called back).
    pub fn abort(&mut self) {
        self.abort_requested = true;
    }

    pub fn outcome(&self) -> Option<&Outcome> {
        match &self.phase {
            Phase::Finished(outcome) => Some(outcome),
            _ => None,
        }
    }

    /// Planned members not done yet, in plan order.
    pub fn remaining(&self) -> Vec<&Planned> {
        self.planned.iter().filter(|p| !self.done.iter().any(|d| d.id == p.id)).collect()
    }

    /// The member being worked on, if any.
    pub fn current(&self) -> Option<u64> {
        match &self.phase {
            Phase::Defragment { id, .. } | Phase::AwaitAnswer { id, .. } | Phase::Check { id, .. } => Some(*id),
            _ => None,
        }
    }

    fn note(&mut self, kind: NoteKind, member: Option<&str>, text: String) {
        self.notes.push(Note { kind, member: member.map(str::to_string), text });
    }

    /// Ends the run before the next member, saying what was and was not done.
    pub fn stop(&mut self, reason: String) {
        let done: Vec<String> = self.done.iter().map(|d| d.name.clone()).collect();
        let left: Vec<String> = self.remaining().iter().map(|p| p.name.clone()).collect();
        self.note(
            NoteKind::Stopped,
            None,
            format!("stopped: {reason}. Done: {}; not done: {}", list_or_none(&done), list_or_none(&left)),
        );
        self.phase = Phase::Finished(Outcome::Stopped { reason });
    }

    /// What to do now. Never touches anything: the executor does.
    pub fn next_action(&mut self) -> Action {
        if self.abort_requested
            && matches!(
                self.phase,
                Phase::Start
                    | Phase::Compact
                    | Phase::Gate
                    | Phase::MoveLeader { .. }
                    | Phase::Wait
                    | Phase::Defragment { .. }
            )
        {
            self.stop("aborted by the user before the next member".into());
        }
        match &self.phase {
            Phase::Start | Phase::Gate | Phase::Check { .. } => Action::Observe,
            Phase::Compact => Action::Compact { timeout: self.options.command_timeout },
            Phase::MoveLeader { from, to } => Action::MoveLeader {
                from: *from,
                to: *to,
                to_name: self.name_of(*to),
                timeout: self.options.command_timeout,
            },
            Phase::Defragment { id, .. } => {
                Action::Defragment { id: *id, name: self.name_of(*id), timeout: self.options.command_timeout }
            }
            Phase::AwaitAnswer { id, .. } => {
                Action::AwaitAnswer { id: *id, name: self.name_of(*id), limit: self.options.answer_limit }
            }
            Phase::Wait => Action::Wait { duration: self.options.wait },
            Phase::Disarm { members } => Action::Disarm { members: members.clone() },
            Phase::Finished(outcome) => Action::Finished(outcome.clone()),
        }
    }

    fn name_of(&self, id: u64) -> String {
        self.planned.iter().find(|p| p.id == id).map(|p| p.name.clone()).unwrap_or_else(|| format!("{id:x}"))
    }

    /// Feeds back what the executor observed for the last [`Action`].
    pub fn observe(&mut self, observed: Observed) {
        let phase = self.phase.clone();
        match (phase, observed) {
            (Phase::Start, Observed::Cluster(view)) => {
                if let Some(problem) = &view.problem {
                    return self.stop(format!("the member list cannot be read: {problem}"));
                }
                match view.cluster_id() {
                    Some(id) if id == self.cluster_id => {}
                    Some(id) => {
                        return self.stop(format!(
                            "the members now belong to cluster {id:x}, not {:x} which was planned",
                            self.cluster_id
                        ))
                    }
                    None => return self.stop("the members do not agree on one cluster ID".into()),
                }
                if self.options.compact {
                    if let Err(reason) = gate(&view) {
                        return self.stop(reason);
                    }
                    self.phase = Phase::Compact;
                } else {
                    self.at_gate(&view);
                }
            }
            (Phase::Compact, Observed::Compacted(result)) => match result {
                Ok(revision) => {
                    self.note(NoteKind::Compacted, None, format!("compacted to revision {revision}"));
                    self.phase = Phase::Gate;
                }
                Err(e) => self.stop(format!("compaction failed: {e}")),
            },
            (Phase::Gate, Observed::Cluster(view)) => self.at_gate(&view),
            (Phase::MoveLeader { from, to }, Observed::LeaderMoved(result)) => match result {
                Ok(()) => {
                    let (from, to) = (self.name_of(from), self.name_of(to));
                    self.note(
                        NoteKind::LeaderMoved,
                        Some(&to),
                        format!("leadership moved from {from} to {to}, already defragmented"),
                    );
                    self.phase = Phase::Gate;
                }
                Err(e) => self.stop(format!("moving the leadership failed: {e}")),
            },
            (Phase::Defragment { id, before, was_leader }, Observed::Defragmented(result)) => match result {
                Ok(took) => self.phase = Phase::Check { id, before, was_leader, took: Some(took) },
                Err(error @ (DefragError::TimedOut | DefragError::Interrupted(_))) => {
                    let name = self.name_of(id);
                    let what = match error {
                        DefragError::Interrupted(e) => format!("the connection broke during Defragment ({e})"),
                        _ => format!(
                            "no answer to Defragment within {}",
                            humantime::format_duration(self.options.command_timeout)
                        ),
                    };
                    self.note(
                        NoteKind::Warning,
                        Some(&name),
                        format!(
                            "{what}: not sending it again; waiting for {name} to answer to learn whether it finished"
                        ),
                    );
                    self.phase = Phase::AwaitAnswer { id, before, was_leader, after_crash: false };
                }
                Err(DefragError::Failed(e)) => {
                    let name = self.name_of(id);
                    self.stop(format!("the defrag of {name} failed: {e}"));
                }
            },
            (Phase::AwaitAnswer { id, before, was_leader, after_crash }, Observed::Answered(result)) => {
                let name = self.name_of(id);
                match result {
                    Ok(reading) if looks_defragmented(&before, &reading.figures) => {
                        self.note(
                            NoteKind::Warning,
                            Some(&name),
                            format!(
                                "{name} answered again: size {} -> {}, so its defrag finished",
                                format_bytes(before.db_size),
                                format_bytes(reading.figures.db_size)
                            ),
                        );
                        self.phase = Phase::Check { id, before, was_leader, took: None };
                    }
                    Ok(reading) if after_crash => {
                        // It answers reads, so no defrag runs there now: it never
                        // started, and goes through the gates again.
                        self.note(
                            NoteKind::Warning,
                            Some(&name),
                            format!(
                                "{name} answers and its size did not drop ({} bytes): its defrag did not run \
                                 before the interruption; it is planned again",
                                reading.figures.db_size
                            ),
                        );
                        self.phase = Phase::Gate;
                    }
                    Ok(reading) => self.stop(format!(
                        "{name} answered after its defrag timed out, but its size did not drop ({} -> {} bytes): \
                         the defrag did not finish, and is not sent again blindly",
                        before.db_size, reading.figures.db_size
                    )),
                    Err(e) => self.stop(format!(
                        "{name} did not answer within {} after its defrag: {e}",
                        humantime::format_duration(self.options.answer_limit)
                    )),
                }
            }
            (Phase::Check { id, before, was_leader, took }, Observed::Cluster(view)) => {
                let name = self.name_of(id);
                let reading = match view.member(id) {
                    Some(member) => member.healthy().cloned(),
                    None => Err(format!("{name} is no longer in the member list")),
                };
                match reading {
                    Ok(reading) => {
                        let after = Figures { quota: self.options.quota_bytes, ..reading.figures };
                        self.note(
                            NoteKind::Defragmented,
                            Some(&name),
                            format!(
                                "{name} defragmented{}: {} -> {}, healthy",
                                took.map(|t| format!(" in {:.1}s", t.as_secs_f64())).unwrap_or_default(),
                                format_bytes(before.db_size),
                                format_bytes(after.db_size)
                            ),
                        );
                        self.done.push(Done { id, name, was_leader, before, after, took });
                        if self.remaining().is_empty() {
                            self.at_end(&view);
                        } else {
                            self.phase = Phase::Wait;
                        }
                    }
                    Err(e) => {
                        self.done.push(Done { id, name: name.clone(), was_leader, before, after: before, took });
                        self.stop(format!("{name} is not healthy after its defrag: {e}"));
                    }
                }
            }
            (Phase::Wait, Observed::Waited { aborted }) => {
                if aborted || self.abort_requested {
                    self.stop("aborted by the user during the wait".into());
                } else {
                    self.phase = Phase::Gate;
                }
            }
            (Phase::Disarm { .. }, Observed::Disarmed(result)) => match result {
                Ok(()) => {
                    self.note(NoteKind::Disarmed, None, "NOSPACE cleared: the cluster accepts writes again".into());
                    self.finish();
                }
                Err(e) => self.stop(format!("clearing NOSPACE failed: {e}")),
            },
            (phase, observed) => {
                let (observed, phase) = (format!("{observed:?}"), format!("{phase:?}"));
                let first_word = |text: &str| text.split(['(', ' ', '{']).next().unwrap_or_default().to_string();
                self.stop(format!(
                    "internal error: an answer of kind {} came in the step {}",
                    first_word(&observed),
                    first_word(&phase)
                ));
            }
        }
    }

    /// Before a member: the gates, then the next member with the leader last.
    fn at_gate(&mut self, view: &ClusterView) {
        if std::mem::take(&mut self.wait_first) {
            self.phase = Phase::Wait;
            return;
        }
        let facts = match gate(view) {
            Ok(facts) => facts,
            Err(reason) => return self.stop(reason),
        };
        self.leader = Some(facts.leader);
        // Members gone from the cluster are dropped from the plan, said so.
        let gone: Vec<Planned> =
            self.remaining().into_iter().filter(|p| view.member(p.id).is_none()).cloned().collect();
        for member in gone {
            self.note(NoteKind::Warning, Some(&member.name), format!("{} left the cluster: skipped", member.name));
            self.planned.retain(|p| p.id != member.id);
        }
        let mut remaining: Vec<Planned> = self.remaining().into_iter().cloned().collect();
        if remaining.is_empty() {
            return self.at_end(view);
        }
        // Read again before every member: whoever leads now goes last.
        remaining.sort_by(|a, b| (a.id == facts.leader).cmp(&(b.id == facts.leader)).then_with(|| a.name.cmp(&b.name)));
        let target = remaining[0].clone();
        let is_leader = target.id == facts.leader;
        if is_leader && self.options.move_leader {
            let successor = self
                .done
                .iter()
                .filter(|d| view.member(d.id).is_some_and(|m| !m.is_learner && m.healthy().is_ok()))
                .map(|d| d.id)
                .next();
            match successor {
                Some(to) => {
                    self.note(NoteKind::Gate, None, facts.summary.clone());
                    self.phase = Phase::MoveLeader { from: facts.leader, to };
                    return;
                }
                None => self.note(
                    NoteKind::Warning,
                    Some(&target.name),
                    format!(
                        "--move-leader: no member defragmented in this run is a healthy follower; {} is \
                         defragmented as the leader",
                        target.name
                    ),
                ),
            }
        }
        // Quorum while the target is blocked.
        let voters = view.voters().count();
        let needed = voters / 2 + 1;
        let others_serving = view.voters().filter(|m| m.id != target.id && m.healthy().is_ok()).count();
        if voters > 1 && others_serving < needed {
            return self.stop(format!(
                "defragmenting {} would leave {others_serving} of {voters} voting members serving, below the \
                 quorum of {needed}",
                target.name
            ));
        }
        if voters == 1 {
            self.note(
                NoteKind::Warning,
                Some(&target.name),
                "a single-member cluster serves nothing while it defragments".into(),
            );
        }
        let Some(reading) = view.member(target.id).and_then(|m| m.reading.as_ref().ok()) else {
            return self.stop(format!("{} has no reading", target.name));
        };
        let before = Figures { quota: self.options.quota_bytes, ..reading.figures };
        self.note(
            NoteKind::Gate,
            Some(&target.name),
            format!("{}; next: {}{}", facts.summary, target.name, if is_leader { " (the leader, last)" } else { "" }),
        );
        self.phase = Phase::Defragment { id: target.id, before, was_leader: is_leader };
    }

    /// After the last member: NOSPACE, if asked and safe.
    fn at_end(&mut self, view: &ClusterView) {
        let nospace: Vec<u64> =
            view.alarms().into_iter().filter(|(_, kind)| kind == "NOSPACE").map(|(id, _)| id).collect();
        if !self.options.disarm {
            if !nospace.is_empty() {
                self.note(
                    NoteKind::Warning,
                    None,
                    "NOSPACE is still raised (give --disarm to clear it once sizes are below 90 % of the quota)".into(),
                );
            }
            return self.finish();
        }
        if nospace.is_empty() {
            self.note(NoteKind::Disarmed, None, "--disarm: no NOSPACE alarm is raised; nothing to clear".into());
            return self.finish();
        }
        let limit = self.options.quota_bytes as f64 * DISARM_MAX_QUOTA_SHARE;
        let too_big: Vec<String> = view
            .members
            .iter()
            .filter_map(|m| match &m.reading {
                Ok(r) if r.figures.db_size as f64 >= limit => Some(format!(
                    "{} is at {:.0} % of the {} quota",
                    m.name,
                    r.figures.db_size as f64 * 100.0 / self.options.quota_bytes as f64,
                    format_bytes(self.options.quota_bytes)
                )),
                Ok(_) => None,
                Err(_) => Some(format!("{}'s size is unknown", m.name)),
            })
            .collect();
        if !too_big.is_empty() {
            self.note(
                NoteKind::Warning,
                None,
                format!(
                    "NOSPACE left raised: {}. Clearing it now would let writes fill the quota again at once; free \
                     space first (compact, then defragment) or raise --quota-backend-bytes",
                    too_big.join("; ")
                ),
            );
            return self.finish();
        }
        let mut members = nospace;
        members.dedup();
        self.phase = Phase::Disarm { members };
    }

    fn finish(&mut self) {
        let done: Vec<String> = self.done.iter().map(|d| d.name.clone()).collect();
        let reclaimed: u64 = self.done.iter().map(|d| d.before.db_size.saturating_sub(d.after.db_size)).sum();
        self.note(
            NoteKind::Completed,
            None,
            format!("done: {} ({} given back)", list_or_none(&done), format_bytes(reclaimed)),
        );
        self.phase = Phase::Finished(Outcome::Completed);
    }
}

/// What the gates found, when they pass.
#[derive(Debug, Clone, PartialEq)]
pub struct GateFacts {
    pub leader: u64,
    pub summary: String,
}

/// The gates before every member: every voting member healthy, no alarm but
/// NOSPACE, one leader known to all, no member's applied index lagging.
pub fn gate(view: &ClusterView) -> Result<GateFacts, String> {
    if let Some(problem) = &view.problem {
        return Err(format!("the member list cannot be read: {problem}"));
    }
    let voters: Vec<&MemberView> = view.voters().collect();
    if voters.is_empty() {
        return Err("no voting member in the member list".into());
    }
    for member in &voters {
        member.healthy()?;
    }
    let alarms = view.alarms();
    if let Some((id, kind)) = alarms.iter().find(|(_, kind)| kind != "NOSPACE") {
        return Err(format!(
            "alarm {kind} on {}: a defrag is not run on a cluster with this alarm (see \"Restoring to a previous cluster state\", OpenShift 4.14 documentation)",
            view.name_of(*id)
        ));
    }
    let Some(leader) = view.leader() else {
        let named: Vec<String> = view
            .members
            .iter()
            .filter_map(|m| m.reading.as_ref().ok().map(|r| format!("{} names {:x}", m.name, r.leader_id)))
            .collect();
        return Err(format!("no leader known to every member ({})", named.join(", ")));
    };
    let Some(leader_reading) = view.member(leader).and_then(|m| m.reading.as_ref().ok()) else {
        return Err(format!("the leader {leader:x} does not answer"));
    };
    for member in &voters {
        if let Ok(reading) = &member.reading {
            let lag = leader_reading.raft_index.saturating_sub(reading.raft_applied_index);
            if lag > MAX_APPLY_LAG {
                return Err(format!(
                    "{} has applied {} entries less than the leader has committed (more than {MAX_APPLY_LAG}): it \
                     is not in step",
                    member.name, lag
                ));
            }
        }
    }
    let nospace = if alarms.is_empty() { String::new() } else { ", NOSPACE raised (tolerated)".to_string() };
    Ok(GateFacts {
        leader,
        summary: format!(
            "gate passed: {}/{} voting members healthy, leader {}, raft in step{nospace}",
            voters.len(),
            voters.len(),
            view.name_of(leader)
        ),
    })
}

/// After a timeout: did the defrag finish? The file shrank, or its free pages
/// are (nearly) gone.
fn looks_defragmented(before: &Figures, after: &Figures) -> bool {
    // With (almost) nothing to give back, a defrag cannot be told from none,
    // and another one would give nothing either: counted as done.
    const NOTHING_TO_GIVE: u64 = 1024 * 1024;
    after.db_size < before.db_size
        || before.free() < NOTHING_TO_GIVE
        || after.free() <= (before.free() / 10).max(NOTHING_TO_GIVE)
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wizard::defrag::plan::{plan, Rule};

    const MIB: u64 = 1024 * 1024;
    const QUOTA: u64 = 8 << 30;

    /// A pretend cluster the engine is run against: it answers every action as
    /// etcd would, and keeps the order of the defrags.
    struct Sim {
        members: Vec<(u64, String, bool)>,
        sizes: std::collections::BTreeMap<u64, (u64, u64)>,
        leader: u64,
        down: Vec<u64>,
        alarms: Vec<(u64, String)>,
        applied_lag: u64,
        defragged: Vec<u64>,
        actions: Vec<Action>,
    }

    impl Sim {
        fn new(n: u64) -> Sim {
            Sim {
                members: (1..=n).map(|i| (i, format!("m{i}"), false)).collect(),
                sizes: (1..=n).map(|i| (i, (300 * MIB, 100 * MIB))).collect(),
                leader: 1,
                down: Vec::new(),
                alarms: Vec::new(),
                applied_lag: 0,
                defragged: Vec::new(),
                actions: Vec::new(),
            }
        }

        fn view(&self) -> ClusterView {
            let members = self
                .members
                .iter()
                .map(|(id, name, learner)| {
                    let (size, in_use) = self.sizes[id];
                    let reading = if self.down.contains(id) {
                        Err("connection refused".to_string())
                    } else {
                        Ok(MemberReading {
                            figures: Figures { db_size: size, db_size_in_use: in_use, quota: QUOTA },
                            leader_id: self.leader,
                            raft_term: 2,
                            raft_index: 10_000,
                            raft_applied_index: if *id == 2 { 10_000 - self.applied_lag } else { 10_000 },
                            health: Ok(()),
                            alarms: self.alarms.clone(),
                            cluster_id: 7,
                            version: "3.4.30".into(),
                        })
                    };
                    MemberView { id: *id, name: name.clone(), is_learner: *learner, reading }
                })
                .collect();
            ClusterView { members, problem: None }
        }

        fn plan(&self, rule: &Rule) -> Plan {
            let view = self.view();
            plan(&view.facts(), view.leader(), rule).unwrap()
        }

        fn answer(&mut self, action: &Action) -> Observed {
            self.actions.push(action.clone());
            match action {
                Action::Observe => Observed::Cluster(self.view()),
                Action::Compact { .. } => Observed::Compacted(Ok(42)),
                Action::MoveLeader { to, .. } => {
                    self.leader = *to;
                    Observed::LeaderMoved(Ok(()))
                }
                Action::Defragment { id, .. } => {
                    self.defragged.push(*id);
                    let (_, in_use) = self.sizes[id];
                    self.sizes.insert(*id, (in_use, in_use));
                    Observed::Defragmented(Ok(Duration::from_millis(800)))
                }
                Action::AwaitAnswer { id, .. } => {
                    Observed::Answered(self.view().members.iter().find(|m| m.id == *id).unwrap().reading.clone())
                }
                Action::Wait { .. } => Observed::Waited { aborted: false },
                Action::Disarm { .. } => {
                    self.alarms.clear();
                    Observed::Disarmed(Ok(()))
                }
                Action::Finished(_) => unreachable!(),
            }
        }

        /// Runs to the end; `between` may change the cluster before each action.
        fn run(&mut self, run: &mut DefragRun, mut between: impl FnMut(&mut Sim, &Action)) -> Outcome {
            for _ in 0..200 {
                let action = run.next_action();
                if let Action::Finished(outcome) = action {
                    return outcome;
                }
                between(self, &action);
                let observed = self.answer(&action);
                run.observe(observed);
            }
            panic!("the run did not end: {:?}", run.phase);
        }
    }

    fn options() -> Options {
        Options { wait: Duration::from_secs(60), quota_bytes: QUOTA, ..Options::default() }
    }

    fn new_run(sim: &Sim, options: Options) -> DefragRun {
        DefragRun::new(&sim.plan(&Rule::All), 7, options, false).unwrap()
    }

    fn waits_between_defrags(actions: &[Action]) -> bool {
        // Every defrag after the first is preceded by a wait and then a gate (Observe).
        let mut seen_defrag = false;
        let mut waited = false;
        let mut gated = false;
        for action in actions {
            match action {
                Action::Defragment { .. } => {
                    if seen_defrag && !(waited && gated) {
                        return false;
                    }
                    seen_defrag = true;
                    waited = false;
                    gated = false;
                }
                Action::Wait { duration } => waited = *duration >= Duration::from_secs(60),
                Action::Observe if waited => gated = true,
                _ => {}
            }
        }
        true
    }

    #[test]
    fn one_three_and_five_members_each_once_leader_last_with_waits() {
        for n in [1, 3, 5] {
            let mut sim = Sim::new(n);
            sim.leader = n.div_ceil(2);
            let mut run = new_run(&sim, options());
            assert_eq!(sim.run(&mut run, |_, _| {}), Outcome::Completed, "{n} members: {:?}", run.notes);
            assert_eq!(sim.defragged.len() as u64, n);
            assert_eq!(*sim.defragged.last().unwrap(), n.div_ceil(2), "the leader last with {n} members");
            assert!(waits_between_defrags(&sim.actions), "{:?}", sim.actions);
            // No wait after the last member.
            assert!(!matches!(sim.actions.iter().rev().nth(1), Some(Action::Wait { .. })));
            assert!(run.done.iter().all(|d| d.after.db_size == 100 * MIB && d.before.db_size == 300 * MIB));
        }
    }

    #[test]
    fn a_learner_is_never_defragmented_and_no_leader_stops_at_the_gate() {
        let mut sim = Sim::new(4);
        sim.members[3].2 = true;
        let mut run = new_run(&sim, options());
        assert_eq!(sim.run(&mut run, |_, _| {}), Outcome::Completed);
        assert!(!sim.defragged.contains(&4));

        let mut sim = Sim::new(3);
        let mut run = new_run(&sim, options());
        let outcome = sim.run(&mut run, |sim, action| {
            if matches!(action, Action::Wait { .. }) {
                sim.leader = 0; // an election under way: nobody leads
            }
        });
        assert!(matches!(outcome, Outcome::Stopped { ref reason } if reason.contains("leader")), "{outcome:?}");
        assert_eq!(sim.defragged.len(), 1);
    }

    #[test]
    fn leadership_moving_mid_run_puts_the_new_leader_last_and_nobody_twice() {
        let mut sim = Sim::new(3);
        let mut run = new_run(&sim, options());
        // Plan: m2, m3, m1 (the leader). After m2, leadership moves to m3.
        let outcome = sim.run(&mut run, |sim, action| {
            if matches!(action, Action::Wait { .. }) && sim.defragged == [2] {
                sim.leader = 3;
            }
        });
        assert_eq!(outcome, Outcome::Completed);
        assert_eq!(sim.defragged, [2, 1, 3]);
        assert!(run.done[2].was_leader && !run.done[1].was_leader);
        // Leadership moving back to a member already done: it is not done again.
        let mut sim = Sim::new(3);
        let mut run = new_run(&sim, options());
        let outcome = sim.run(&mut run, |sim, action| {
            if matches!(action, Action::Wait { .. }) && sim.defragged == [2] {
                sim.leader = 2;
            }
        });
        assert_eq!(outcome, Outcome::Completed);
        assert_eq!(sim.defragged, [2, 1, 3]);
    }

    #[test]
    fn gates_stop_before_the_next_member() {
        // A member down during the wait.
        let mut sim = Sim::new(3);
        let mut run = new_run(&sim, options());
        let outcome = sim.run(&mut run, |sim, action| {
            if matches!(action, Action::Wait { .. }) {
                sim.down = vec![3];
            }
        });
        assert!(
            matches!(&outcome, Outcome::Stopped { reason } if reason.contains("m3 does not answer")),
            "{outcome:?}"
        );
        assert_eq!(sim.defragged, [2]);
        assert_eq!(run.remaining().iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["m3", "m1"]);
        assert!(run.notes.last().unwrap().text.contains("Done: m2; not done: m3, m1"));

        // CORRUPT stops at once, NOSPACE does not.
        let mut sim = Sim::new(3);
        sim.alarms = vec![(2, "CORRUPT".into())];
        let mut run = new_run(&sim, options());
        assert!(matches!(sim.run(&mut run, |_, _| {}), Outcome::Stopped { reason } if reason.contains("CORRUPT")));
        assert!(sim.defragged.is_empty());
        let mut sim = Sim::new(3);
        sim.alarms = vec![(2, "NOSPACE".into())];
        let mut run = new_run(&sim, options());
        assert_eq!(sim.run(&mut run, |_, _| {}), Outcome::Completed);
        assert!(run.notes.iter().any(|n| n.text.contains("NOSPACE is still raised")));

        // A member whose applied index lags.
        let mut sim = Sim::new(3);
        sim.applied_lag = MAX_APPLY_LAG + 1;
        let mut run = new_run(&sim, options());
        assert!(matches!(sim.run(&mut run, |_, _| {}), Outcome::Stopped { reason } if reason.contains("not in step")));
        assert!(sim.defragged.is_empty());

        // Two members: blocking one leaves one of two, below quorum.
        let mut sim = Sim::new(2);
        let mut run = new_run(&sim, options());
        assert!(matches!(sim.run(&mut run, |_, _| {}), Outcome::Stopped { reason } if reason.contains("quorum")));
        assert!(sim.defragged.is_empty());
    }

    #[test]
    fn a_timed_out_defrag_is_not_fired_again_and_a_late_success_goes_on() {
        let mut sim = Sim::new(3);
        let mut run = new_run(&sim, options());
        let mut first = true;
        let mut outcome = None;
        for _ in 0..100 {
            let action = run.next_action();
            if let Action::Finished(o) = action {
                outcome = Some(o);
                break;
            }
            let observed = match &action {
                Action::Defragment { id, .. } if first => {
                    first = false;
                    // The member finishes later; the call timed out.
                    sim.actions.push(action.clone());
                    sim.defragged.push(*id);
                    let (_, in_use) = sim.sizes[id];
                    sim.sizes.insert(*id, (in_use, in_use));
                    Observed::Defragmented(Err(DefragError::TimedOut))
                }
                _ => sim.answer(&action),
            };
            run.observe(observed);
        }
        assert_eq!(outcome, Some(Outcome::Completed));
        assert_eq!(sim.defragged, [2, 3, 1]);
        assert!(matches!(sim.actions[2], Action::AwaitAnswer { id: 2, .. }), "{:?}", sim.actions);
        assert_eq!(run.done[0].took, None);

        // It answers but did not shrink: stopped, not sent again.
        let mut sim = Sim::new(3);
        let mut run = new_run(&sim, options());
        run.next_action();
        run.observe(Observed::Cluster(sim.view()));
        assert!(matches!(run.next_action(), Action::Defragment { id: 2, .. }));
        run.observe(Observed::Defragmented(Err(DefragError::TimedOut)));
        assert!(matches!(run.next_action(), Action::AwaitAnswer { id: 2, .. }));
        let same = sim.answer(&Action::AwaitAnswer { id: 2, name: "m2".into(), limit: Duration::from_secs(1) });
        run.observe(same);
        assert!(
            matches!(run.next_action(), Action::Finished(Outcome::Stopped { reason }) if reason.contains("not sent again"))
        );
    }

    #[test]
    fn resume_after_a_crash_at_each_step_ends_the_same() {
        // Crash (serialise, drop, read back) after every action that is begun,
        // with and without its result, and check nothing is done twice.
        let reference = {
            let mut sim = Sim::new(3);
            let mut run = new_run(&sim, options());
            sim.run(&mut run, |_, _| {});
            sim.defragged
        };
        let steps = {
            let mut sim = Sim::new(3);
            let mut run = new_run(&sim, options());
            sim.run(&mut run, |_, _| {});
            sim.actions.len()
        };
        for crash_at in 0..steps {
            for result_lost in [true, false] {
                let mut sim = Sim::new(3);
                let mut run = new_run(&sim, options());
                let mut count = 0;
                let mut in_flight = None;
                loop {
                    let action = run.next_action();
                    assert!(!matches!(action, Action::Finished(_)), "ended before the crash at {crash_at}");
                    let observed = sim.answer(&action);
                    if count == crash_at {
                        if !result_lost {
                            run.observe(observed);
                        } else {
                            in_flight = Some(action);
                        }
                        break;
                    }
                    run.observe(observed);
                    count += 1;
                }
                if run.outcome().is_some() {
                    assert_eq!(sim.defragged, reference);
                    continue;
                }
                let journal = serde_json::to_string(&run).unwrap();
                let back: DefragRun = serde_json::from_str(&journal).unwrap();
                let mut resumed = back.resumed(in_flight.as_ref(), false).unwrap();
                assert_eq!(
                    sim.run(&mut resumed, |_, _| {}),
                    Outcome::Completed,
                    "crash at {crash_at}: {:?}",
                    resumed.notes
                );
                assert_eq!(sim.defragged, reference, "crash at {crash_at} (result lost: {result_lost})");
                assert_eq!(resumed.done.len(), 3);
            }
        }
    }

    #[test]
    fn a_member_an_earlier_run_defragmented_less_than_the_wait_ago_makes_the_first_one_wait() {
        let first_defrag_waited = |ago: Duration| {
            let mut sim = Sim::new(3);
            let mut run = new_run(&sim, options());
            run.after_earlier_run("m2", ago);
            assert_eq!(sim.run(&mut run, |_, _| {}), Outcome::Completed);
            assert!(waits_between_defrags(&sim.actions));
            let first = sim.actions.iter().position(|a| matches!(a, Action::Defragment { .. })).unwrap();
            sim.actions[..first]
                .iter()
                .any(|a| matches!(a, Action::Wait { duration } if *duration >= Duration::from_secs(60)))
        };
        // A stop in the wait, run again at once: the wait is not lost.
        assert!(first_defrag_waited(Duration::from_secs(5)));
        assert!(!first_defrag_waited(Duration::from_secs(61)), "long enough ago: at once");
    }

    #[test]
    fn move_leader_hands_over_to_a_member_already_done() {
        let mut sim = Sim::new(3);
        let mut run = new_run(&sim, Options { move_leader: true, ..options() });
        assert_eq!(sim.run(&mut run, |_, _| {}), Outcome::Completed);
        assert_eq!(sim.defragged, [2, 3, 1]);
        let moved: Vec<&Action> = sim.actions.iter().filter(|a| matches!(a, Action::MoveLeader { .. })).collect();
        assert!(matches!(moved.as_slice(), [Action::MoveLeader { from: 1, to: 2, .. }]), "{moved:?}");
        // The old leader's defrag comes after the move, as a follower.
        let moved_at = sim.actions.iter().position(|a| matches!(a, Action::MoveLeader { .. })).unwrap();
        let last_defrag = sim.actions.iter().rposition(|a| matches!(a, Action::Defragment { id: 1, .. })).unwrap();
        assert!(moved_at < last_defrag);
        assert!(!run.done.last().unwrap().was_leader);
    }

    #[test]
    fn disarm_only_below_ninety_percent_and_abort_stops_before_the_next_member() {
        let mut sim = Sim::new(3);
        sim.alarms = vec![(2, "NOSPACE".into())];
        let mut run = new_run(&sim, Options { disarm: true, ..options() });
        assert_eq!(sim.run(&mut run, |_, _| {}), Outcome::Completed);
        assert!(sim.actions.iter().any(|a| matches!(a, Action::Disarm { members } if members == &[2])));
        assert!(sim.alarms.is_empty());

        let mut sim = Sim::new(3);
        sim.alarms = vec![(2, "NOSPACE".into())];
        for size in sim.sizes.values_mut() {
            *size = (QUOTA / 100 * 95, QUOTA / 100 * 94);
        }
        let mut run = new_run(&sim, Options { disarm: true, ..options() });
        assert_eq!(sim.run(&mut run, |_, _| {}), Outcome::Completed);
        assert!(!sim.actions.iter().any(|a| matches!(a, Action::Disarm { .. })));
        assert!(
            run.notes.iter().any(|n| n.text.contains("NOSPACE left raised") && n.text.contains("94 %")),
            "{:?}",
            run.notes
        );

        let mut sim = Sim::new(3);
        let mut run = new_run(&sim, options());
        let mut aborted = false;
        let outcome = loop {
            let action = run.next_action();
            if let Action::Finished(outcome) = action {
                break outcome;
            }
            if matches!(action, Action::Wait { .. }) && !aborted {
                aborted = true;
                run.abort();
            }
            let observed = sim.answer(&action);
            run.observe(observed);
        };
        assert!(matches!(outcome, Outcome::Stopped { reason } if reason.contains("aborted")));
        assert_eq!(sim.defragged, [2]);
        assert!(DefragRun::new(&sim.plan(&Rule::All), 7, options(), true).unwrap_err().contains("--read-only"));
    }

    #[test]
    fn a_resume_never_skips_the_gates_nor_forgets_a_timeout() {
        // Crashed after the gate chose m3 but before its Defragment was begun:
        // meanwhile leadership moved to m3, so it must now go last.
        let mut sim = Sim::new(3);
        let mut run = new_run(&sim, options());
        loop {
            let action = run.next_action();
            if matches!(action, Action::Defragment { id: 3, .. }) {
                break;
            }
            let observed = sim.answer(&action);
            run.observe(observed);
        }
        sim.leader = 3;
        let mut resumed = run.clone().resumed(None, false).unwrap();
        assert_eq!(resumed.next_action(), Action::Observe, "the gates come first");
        assert_eq!(sim.run(&mut resumed, |_, _| {}), Outcome::Completed);
        assert_eq!(sim.defragged, [2, 1, 3]);

        // A timeout whose member answered unshrunk stops the run, restart or not.
        let mut sim = Sim::new(3);
        let mut run = new_run(&sim, options());
        run.next_action();
        run.observe(Observed::Cluster(sim.view()));
        run.next_action();
        run.observe(Observed::Defragmented(Err(DefragError::TimedOut)));
        let mut resumed = run.resumed(None, false).unwrap();
        let action = resumed.next_action();
        assert!(matches!(action, Action::AwaitAnswer { id: 2, .. }));
        let answer = sim.answer(&action);
        resumed.observe(answer);
        assert!(
            matches!(resumed.next_action(), Action::Finished(Outcome::Stopped { reason }) if reason.contains("not sent again"))
        );

        // A broken connection is not a failure: the member is waited for.
        let sim = Sim::new(3);
        let mut run = new_run(&sim, options());
        run.next_action();
        run.observe(Observed::Cluster(sim.view()));
        run.next_action();
        run.observe(Observed::Defragmented(Err(DefragError::Interrupted("connection reset".into()))));
        assert!(matches!(run.next_action(), Action::AwaitAnswer { id: 2, .. }));
        assert!(run.notes.last().unwrap().text.contains("connection broke"));
    }

    fn nospace(sim: &Sim) -> crate::wizard::defrag::NospacePlan {
        let view = sim.view();
        crate::wizard::defrag::nospace_plan(&view.facts(), &view.alarms(), view.leader(), QUOTA).unwrap().unwrap()
    }

    #[test]
    fn the_nospace_plan_names_the_alarm_compacts_defragments_every_member_leader_last_and_disarms() {
        let sim = Sim::new(3);
        let view = sim.view();
        assert!(crate::wizard::defrag::nospace_plan(&view.facts(), &view.alarms(), view.leader(), QUOTA).is_none());

        let mut sim = Sim::new(3);
        sim.alarms = vec![(2, "NOSPACE".into()), (3, "NOSPACE".into())];
        let made = nospace(&sim);
        assert_eq!(made.raised_by, ["m2", "m3"]);
        assert_eq!(made.defrag.steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["m2", "m3", "m1"]);
        assert!(made.members.iter().all(|m| m.db_size == 300 * MIB));
        assert_eq!(made.disarm_limit_bytes(), (QUOTA as f64 * 0.9) as u64);
        let lines = made.step_lines();
        assert!(lines[0].starts_with("1. compact to the current revision:"), "{lines:?}");
        assert!(lines[1].ends_with("m2, m3, m1 (leader, last)"), "{lines:?}");
        assert!(
            lines[2].starts_with("3. disarm, only if every member is below 90 % of the 8.0 GiB quota"),
            "{lines:?}"
        );
        let counted = crate::wizard::defrag::NospacePlan { revision: Some(4242), ..made.clone() };
        assert!(counted.step_lines()[0].contains("revision 4242: the history before it goes"));

        // The same engine as `defrag --compact --disarm`: compact first, disarm last.
        let mut run = DefragRun::for_nospace(&made, 7, options(), false).unwrap();
        assert!(run.options.compact && run.options.disarm);
        assert_eq!(sim.run(&mut run, |_, _| {}), Outcome::Completed, "{:?}", run.notes);
        assert!(matches!(sim.actions.iter().find(|a| !matches!(a, Action::Observe)), Some(Action::Compact { .. })));
        assert!(matches!(sim.actions.last(), Some(Action::Disarm { members }) if members == &[2, 3]));
        assert_eq!(sim.defragged, [2, 3, 1]);
        assert!(sim.alarms.is_empty());
    }

    #[test]
    fn the_nospace_run_refuses_the_disarm_above_ninety_percent_and_under_read_only() {
        let mut sim = Sim::new(3);
        sim.alarms = vec![(1, "NOSPACE".into())];
        // Live data: nothing to compact or give back, every member at 93 %.
        for size in sim.sizes.values_mut() {
            *size = (QUOTA / 100 * 93, QUOTA / 100 * 93);
        }
        let made = nospace(&sim);
        assert_eq!(made.in_use_over_limit().len(), 3);
        assert!(made.step_lines()[2].contains("in use on m1, m2, m3: delete data first"), "{:?}", made.step_lines());
        let mut run = DefragRun::for_nospace(&made, 7, options(), false).unwrap();
        assert_eq!(sim.run(&mut run, |_, _| {}), Outcome::Completed);
        assert_eq!(sim.defragged.len(), 3);
        assert!(!sim.actions.iter().any(|a| matches!(a, Action::Disarm { .. })), "{:?}", sim.actions);
        assert_eq!(sim.alarms.len(), 1, "NOSPACE stays raised");
        let why = run.notes.iter().find(|n| n.text.contains("NOSPACE left raised")).map(|n| n.text.clone());
        assert!(why.as_ref().is_some_and(|t| t.contains("m1 is at 93 %") && t.contains("8.0 GiB quota")), "{why:?}");

        let refused = DefragRun::for_nospace(&made, 7, options(), true).unwrap_err();
        assert!(refused.contains("--read-only"), "{refused}");
    }
}
