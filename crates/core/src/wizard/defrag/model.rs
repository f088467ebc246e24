//! Model-based test of the defrag engine: long random runs against a pretend
//! cluster that changes leader, loses members, raises alarms, lags, times out,
//! fails calls, is aborted and crashes mid-step (resumed from the journalled
//! run), with the procedure's safety rules checked after every step.

use std::collections::BTreeMap;
use std::time::Duration;

use super::engine::{gate, DefragError, Phase};
use super::plan::{plan, Figures, Rule};
use super::{Action, ClusterView, DefragRun, MemberReading, MemberView, Observed, Options, Outcome};
use crate::wizard::model::{cases, Rng};

const MIB: u64 = 1024 * 1024;
const QUOTA: u64 = 2048 * MIB;
const CLUSTER: u64 = 7;

struct Member {
    id: u64,
    learner: bool,
    size: u64,
    in_use: u64,
    down: bool,
    unhealthy: bool,
    applied_lag: u64,
}

/// The cluster as etcd would answer, with the faults the run picks.
struct Cluster {
    members: Vec<Member>,
    leader: u64,
    alarms: Vec<(u64, String)>,
    list_unreadable: bool,
    /// A defrag sent and still running on this member (it answers nothing meanwhile).
    running: Option<u64>,
    /// Defragment calls each member ran (or may still run): refused ones are not counted.
    sent: BTreeMap<u64, u32>,
}

impl Cluster {
    fn new(rng: &mut Rng) -> Cluster {
        let voters = *rng.pick(&[1u64, 3, 3, 5]);
        let mut members: Vec<Member> = (1..=voters)
            .map(|id| {
                let size = (100 + rng.below(1500)) * MIB;
                // Some members have (nearly) nothing to give back.
                let in_use = if rng.chance(20) { size - rng.below(MIB) } else { size / (1 + rng.below(4)) };
                Member { id, learner: false, size, in_use, down: false, unhealthy: false, applied_lag: 0 }
            })
            .collect();
        if rng.chance(25) {
            members.push(Member {
                id: voters + 1,
                learner: true,
                size: 300 * MIB,
                in_use: 100 * MIB,
                down: false,
                unhealthy: false,
                applied_lag: 0,
            });
        }
        let leader = 1 + rng.below(voters);
        Cluster { members, leader, alarms: Vec::new(), list_unreadable: false, running: None, sent: BTreeMap::new() }
    }

    fn reading(&self, m: &Member) -> Result<MemberReading, String> {
        if m.down || self.running == Some(m.id) {
            return Err("context deadline exceeded".into());
        }
        Ok(MemberReading {
            figures: Figures { db_size: m.size, db_size_in_use: m.in_use, quota: QUOTA },
            leader_id: self.leader,
            raft_term: 3,
            raft_index: 100_000,
            raft_applied_index: 100_000 - m.applied_lag,
            health: if m.unhealthy { Err("etcdserver: request timed out".into()) } else { Ok(()) },
            alarms: self.alarms.clone(),
            cluster_id: CLUSTER,
            version: "3.5.21".into(),
        })
    }

    fn view(&self) -> ClusterView {
        if self.list_unreadable {
            return ClusterView { members: Vec::new(), problem: Some("no member answered MemberList".into()) };
        }
        let members = self
            .members
            .iter()
            .map(|m| MemberView {
                id: m.id,
                name: format!("m{}", m.id),
                is_learner: m.learner,
                reading: self.reading(m),
            })
            .collect();
        ClusterView { members, problem: None }
    }

    fn member_mut(&mut self, id: u64) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == id)
    }

    fn finish_defrag(&mut self, id: u64) {
        if let Some(m) = self.member_mut(id) {
            m.size = m.in_use;
        }
        if self.running == Some(id) {
            self.running = None;
        }
    }

    /// The world moves on between two steps.
    fn fault(&mut self, rng: &mut Rng) {
        if !rng.chance(30) {
            return;
        }
        let voters: Vec<u64> = self.members.iter().filter(|m| !m.learner).map(|m| m.id).collect();
        let any = *rng.pick(&voters);
        match rng.below(12) {
            0 | 1 => self.leader = *rng.pick(&voters),
            2 => {
                if let Some(m) = self.member_mut(any) {
                    m.down = !m.down;
                }
            }
            3 => {
                if let Some(m) = self.member_mut(any) {
                    m.unhealthy = !m.unhealthy;
                }
            }
            4 => self.alarms = vec![(any, "NOSPACE".into())],
            5 => self.alarms = vec![(any, "CORRUPT".into())],
            6 => self.alarms.clear(),
            7 => {
                if let Some(m) = self.member_mut(any) {
                    m.applied_lag = if m.applied_lag == 0 { 6000 } else { 0 };
                }
            }
            8 => self.list_unreadable = !self.list_unreadable,
            9 => {
                // A member removed from the cluster (not the leader).
                if any != self.leader && voters.len() > 1 && rng.chance(30) {
                    self.members.retain(|m| m.id != any);
                }
            }
            10 => self.leader = 0,
            _ => {
                // Everything heals.
                for m in &mut self.members {
                    m.down = false;
                    m.unhealthy = false;
                    m.applied_lag = 0;
                }
                self.list_unreadable = false;
                self.alarms.retain(|(_, kind)| kind == "NOSPACE");
                if self.leader == 0 {
                    self.leader = *rng.pick(&voters);
                }
            }
        }
    }

    /// Performs the action as etcd would, sometimes failing.
    fn answer(&mut self, action: &Action, rng: &mut Rng) -> Observed {
        match action {
            Action::Observe => Observed::Cluster(self.view()),
            Action::Compact { .. } => {
                Observed::Compacted(if rng.chance(85) { Ok(4242) } else { Err("etcdserver: request timed out".into()) })
            }
            Action::MoveLeader { to, .. } => {
                if rng.chance(80) {
                    self.leader = *to;
                    Observed::LeaderMoved(Ok(()))
                } else {
                    Observed::LeaderMoved(Err("etcdserver: leader changed".into()))
                }
            }
            Action::Defragment { id, .. } => {
                match rng.below(10) {
                    // etcd refused it: nothing ran, so sending it again later is no second defrag.
                    0 => Observed::Defragmented(Err(DefragError::Failed(
                        "etcdserver: mvcc: database space exceeded".into(),
                    ))),
                    1 => {
                        *self.sent.entry(*id).or_default() += 1;
                        self.running = Some(*id);
                        Observed::Defragmented(Err(DefragError::TimedOut))
                    }
                    2 => {
                        *self.sent.entry(*id).or_default() += 1;
                        self.finish_defrag(*id);
                        Observed::Defragmented(Err(DefragError::Interrupted("connection reset".into())))
                    }
                    _ => {
                        *self.sent.entry(*id).or_default() += 1;
                        self.finish_defrag(*id);
                        Observed::Defragmented(Ok(Duration::from_millis(700)))
                    }
                }
            }
            Action::AwaitAnswer { id, .. } => {
                if self.running == Some(*id) && rng.chance(70) {
                    self.finish_defrag(*id);
                }
                match self.members.iter().find(|m| m.id == *id) {
                    Some(m) => Observed::Answered(self.reading(m)),
                    None => Observed::Answered(Err("not in the member list".into())),
                }
            }
            Action::Wait { .. } => Observed::Waited { aborted: rng.chance(3) },
            Action::Disarm { .. } => {
                if rng.chance(90) {
                    self.alarms.retain(|(_, kind)| kind != "NOSPACE");
                    Observed::Disarmed(Ok(()))
                } else {
                    Observed::Disarmed(Err("etcdserver: request timed out".into()))
                }
            }
            Action::Finished(_) => Observed::Waited { aborted: false },
        }
    }
}

/// What the journal holds of the run: its state after each Begin/End line.
/// A crash between the two leaves the begun action in flight.
struct JournalModel {
    lines: Vec<(bool, Action, String)>,
}

impl JournalModel {
    fn record(&mut self, begin: bool, action: &Action, run: &DefragRun) {
        let saved = serde_json::to_string(run).unwrap_or_default();
        self.lines.push((begin, action.clone(), saved));
    }

    /// The run read back after a crash, as `journal::unfinished` gives it.
    fn resume(&self) -> Option<(DefragRun, Option<Action>)> {
        let (begin, action, saved) = self.lines.last()?;
        let run: DefragRun = serde_json::from_str(saved).ok()?;
        Some((run, begin.then(|| action.clone())))
    }
}

fn is_act(action: &Action) -> bool {
    matches!(
        action,
        Action::Compact { .. } | Action::MoveLeader { .. } | Action::Defragment { .. } | Action::Disarm { .. }
    )
}

/// One random run; returns a description of the first broken rule.
fn one_run(seed: u64) -> Result<(Outcome, usize), String> {
    let mut trace: Vec<String> = Vec::new();
    run_traced(seed, &mut trace).map_err(|e| format!("{e}\n  after:\n    {}", trace.join("\n    ")))
}

fn run_traced(seed: u64, trace: &mut Vec<String>) -> Result<(Outcome, usize), String> {
    let mut rng = Rng::new(seed);
    let mut cluster = Cluster::new(&mut rng);
    let start = cluster.view();
    let Ok(plan) = plan(&start.facts(), start.leader(), &Rule::All) else {
        return Err("the plan of a healthy cluster was refused".into());
    };
    let options = Options {
        wait: Duration::from_secs(60),
        quota_bytes: QUOTA,
        move_leader: rng.chance(40),
        compact: rng.chance(30),
        disarm: rng.chance(50),
        ..Options::default()
    };
    if rng.chance(30) {
        cluster.alarms = vec![(1, "NOSPACE".into())];
    }
    let planned: Vec<u64> = plan.steps.iter().map(|s| s.id).collect();
    let mut run = DefragRun::new(&plan, CLUSTER, options.clone(), false).map_err(|e| e.to_string())?;
    let mut journal = JournalModel { lines: Vec::new() };
    let mut last_view: Option<ClusterView> = None;
    let mut waited_since_defrag = true;
    let mut observed_since_wait = true;
    let mut abort_asked = false;
    let mut must_stop = false;
    for step in 0..400 {
        if rng.chance(2) {
            run.abort();
            abort_asked = true;
        }
        let action = run.next_action();
        if let Action::Finished(outcome) = &action {
            if let Outcome::Completed = outcome {
                if must_stop {
                    return Err("completed after a failed gate".into());
                }
                let view = last_view.clone().unwrap_or_default();
                for id in &planned {
                    let present = view.members.iter().any(|m| m.id == *id);
                    if present && !run.done.iter().any(|d| d.id == *id) {
                        return Err(format!("completed without m{id}, still in the cluster"));
                    }
                }
            }
            return Ok((outcome.clone(), step));
        }
        if must_stop {
            return Err(format!("a step after a failed gate: {action:?}"));
        }
        if abort_asked && is_act(&action) && !matches!(action, Action::Disarm { .. }) {
            return Err(format!("{action:?} after the user's abort"));
        }
        journal.record(true, &action, &run);
        trace.push(format!("{:?} -> {action:?}", run.phase));
        // A crash after the Begin line, before or after the act.
        let crash = rng.chance(4);
        let acted = !crash || rng.chance(50);
        cluster.fault(&mut rng);
        let observed = if acted {
            // The journal line comes before every act (the executor's order).
            match journal.lines.last() {
                Some((true, begun, _)) if begun == &action => {}
                _ => return Err(format!("{action:?} acted without its Begin line")),
            }
            if let Action::Defragment { id, .. } = &action {
                check_defragment(
                    *id,
                    &cluster,
                    &run,
                    &planned,
                    last_view.as_ref(),
                    &options,
                    waited_since_defrag,
                    observed_since_wait,
                )?;
            }
            if let Action::Disarm { .. } = &action {
                let view = last_view.as_ref().ok_or("a disarm before any reading")?;
                if !options.disarm {
                    return Err("a disarm without --disarm".into());
                }
                for m in &view.members {
                    match &m.reading {
                        Ok(r) if (r.figures.db_size as f64) < QUOTA as f64 * 0.9 => {}
                        _ => return Err(format!("a disarm with {} at or above 90 % or unknown", m.name)),
                    }
                }
            }
            if let Action::Wait { duration } = &action {
                if *duration >= options.wait {
                    waited_since_defrag = true;
                }
            }
            if let Action::Observe = &action {
                if waited_since_defrag {
                    observed_since_wait = true;
                }
            }
            let ran_before: u32 = cluster.sent.values().sum();
            let observed = cluster.answer(&action, &mut rng);
            // The wait is owed after a defrag that ran; one etcd refused leaves the last wait standing.
            if cluster.sent.values().sum::<u32>() > ran_before {
                waited_since_defrag = false;
                observed_since_wait = false;
            }
            Some(observed)
        } else {
            None
        };
        if crash {
            trace.push(format!("crash (acted: {acted})"));
            let (saved, in_flight) = journal.resume().ok_or("the journal could not be read back")?;
            run = saved.resumed(in_flight.as_ref(), false)?;
            abort_asked = false;
            continue;
        }
        let Some(observed) = observed else { continue };
        if !matches!(observed, Observed::Cluster(_)) {
            trace.push(format!("  {observed:?}"));
        }
        let phase_before = run.phase.clone();
        if let Observed::Cluster(view) = &observed {
            last_view = Some(view.clone());
            if matches!(phase_before, Phase::Start | Phase::Gate) && gate(view).is_err() {
                must_stop = true;
            }
        }
        run.observe(observed);
        journal.record(false, &action, &run);
        if must_stop && run.outcome().is_none() {
            return Err(format!("the gate failed, yet the run goes on in {:?}", run.phase));
        }
        must_stop = false;
    }
    Err(format!("the run did not end in 400 steps: {:?}", run.phase))
}

/// The rules at the moment a Defragment reaches a member.
#[allow(clippy::too_many_arguments)]
fn check_defragment(
    id: u64,
    cluster: &Cluster,
    run: &DefragRun,
    planned: &[u64],
    last_view: Option<&ClusterView>,
    options: &Options,
    waited: bool,
    gated: bool,
) -> Result<(), String> {
    if let Some(other) = cluster.running {
        return Err(format!("m{id} defragmented while m{other}'s defrag still runs"));
    }
    if !planned.contains(&id) {
        return Err(format!("m{id} was not planned"));
    }
    if cluster.sent.get(&id).copied().unwrap_or(0) >= 1 {
        return Err(format!("m{id} defragmented twice"));
    }
    let spaced = cluster.sent.is_empty() || (waited && gated);
    if !spaced {
        return Err(format!(
            "m{id} defragmented without a wait of {:?} and a gate after the last member",
            options.wait
        ));
    }
    let view = last_view.ok_or("a defrag before any reading")?;
    let facts = gate(view).map_err(|e| format!("m{id} defragmented though the gate fails: {e}"))?;
    if let Some(m) = view.members.iter().find(|m| m.id == id) {
        if m.is_learner {
            return Err(format!("learner m{id} defragmented"));
        }
    }
    let voters: Vec<&MemberView> = view.members.iter().filter(|m| !m.is_learner).collect();
    let needed = voters.len() / 2 + 1;
    let others = voters.iter().filter(|m| m.id != id && m.reading.as_ref().is_ok_and(|r| r.health.is_ok())).count();
    if voters.len() > 1 && others < needed {
        return Err(format!("m{id} defragmented with {others} others serving, below quorum {needed}"));
    }
    if id == facts.leader {
        for other in planned {
            let present = view.members.iter().any(|m| m.id == *other);
            if *other != id && present && !run.done.iter().any(|d| d.id == *other) {
                return Err(format!("the leader m{id} defragmented before m{other}"));
            }
        }
    }
    Ok(())
}

#[test]
fn random_runs_keep_every_defrag_rule() {
    let n = cases(3000);
    let (mut completed, mut stopped, mut steps) = (0u64, 0u64, 0usize);
    for seed in 0..n {
        match one_run(seed) {
            Ok((Outcome::Completed, s)) => {
                completed += 1;
                steps += s;
            }
            Ok((Outcome::Stopped { .. }, s)) => {
                stopped += 1;
                steps += s;
            }
            Err(broken) => panic!("seed {seed}: {broken}"),
        }
    }
    // The faults must leave room for runs that finish, or the rules are never tested at the end.
    assert!(completed > n / 20, "{completed} of {n} runs completed");
    assert!(stopped > n / 20, "{stopped} of {n} runs stopped");
    eprintln!("defrag model: {n} runs, {steps} steps, {completed} completed, {stopped} stopped");
}
