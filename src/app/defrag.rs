//! The defrag wizard's screen state: the plan made from what the console
//! already sees, the options the user toggles, and the run's progress as the
//! executor reports it. The run itself (gates, order, waits) is the engine's.

use std::time::{Duration, SystemTime};

use etcd_console_core::cluster::ClusterState;
use etcd_console_core::wizard::defrag::executor::Progress;
use etcd_console_core::wizard::defrag::{
    nospace_plan, plan, Action, DefragRun, Figures, MemberFacts, NospacePlan, Options, Plan, Rule,
};

use super::keys::{self, Action as Key};
use super::{App, Change, Effect, Start, WizardKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The plan, live from the panes, until the user starts it.
    Planning,
    Running,
    Finished,
}

#[derive(Debug, Clone)]
pub struct DefragWizard {
    pub stage: Stage,
    /// --all (true) or OpenShift's rule (false).
    pub every_member: bool,
    pub options: Options,
    pub plan: Result<Plan, String>,
    pub cluster_id: Option<u64>,
    /// The run as last reported (None before it starts).
    pub run: Option<DefragRun>,
    /// The action in progress and when it began.
    pub doing: Option<(Action, SystemTime)>,
    /// Time left of the wait, and the whole wait.
    pub countdown: Option<(Duration, Duration)>,
    pub abort_sent: bool,
    /// The unfinished run being resumed, given back if the run cannot start.
    pub resuming: Option<etcd_console_core::wizard::defrag::journal::Unfinished>,
    /// NOSPACE is raised: the wizard's NOSPACE form (compact, every member, disarm),
    /// or why it cannot be planned.
    pub nospace: Option<Result<NospacePlan, String>>,
}

/// What the plan needs of each member, from the console's own state.
pub fn facts_of(cluster: &ClusterState) -> Vec<MemberFacts> {
    cluster
        .members
        .iter()
        .map(|m| MemberFacts {
            id: m.identity.id,
            name: m.identity.display_name(),
            is_learner: m.identity.is_learner,
            figures: m.current_status().map(|s| Figures {
                db_size: s.db_size_bytes,
                db_size_in_use: s.db_size_in_use_bytes,
                quota: cluster.quota_of(m).bytes,
            }),
            serves_reads: m.serves_reads(),
        })
        .collect()
}

impl DefragWizard {
    pub fn new(options: Options) -> DefragWizard {
        DefragWizard {
            stage: Stage::Planning,
            every_member: false,
            options,
            plan: Err("waiting for the members' figures".into()),
            cluster_id: None,
            run: None,
            doing: None,
            countdown: None,
            abort_sent: false,
            resuming: None,
            nospace: None,
        }
    }

    pub fn rule(&self) -> Rule {
        if self.every_member {
            Rule::All
        } else {
            Rule::OpenShift
        }
    }

    /// While planning, the plan follows the panes.
    pub fn replan(&mut self, cluster: &ClusterState) {
        if self.stage != Stage::Planning {
            return;
        }
        self.cluster_id = cluster.cluster_id();
        let facts = facts_of(cluster);
        let alarms: Vec<(u64, String)> =
            cluster.alarms().iter().map(|a| (a.member_id, a.kind.as_str().to_string())).collect();
        self.nospace = nospace_plan(&facts, &alarms, cluster.leader_id(), cluster.quota().bytes);
        self.plan = match &self.nospace {
            // Clearing NOSPACE defragments every member, whatever the rule.
            Some(Ok(nospace)) => Ok(nospace.defrag.clone()),
            Some(Err(e)) => Err(e.clone()),
            None => plan(&facts, cluster.leader_id(), &self.rule()),
        };
    }

    pub fn on_progress(&mut self, progress: Progress) {
        match progress {
            Progress::Began { action, at } => {
                if !matches!(action, Action::Wait { .. }) {
                    self.countdown = None;
                }
                self.doing = Some((action, at));
            }
            Progress::Countdown { left, total } => self.countdown = Some((left, total)),
            Progress::Run(run) => {
                if run.outcome().is_some() {
                    self.stage = Stage::Finished;
                    self.doing = None;
                    self.countdown = None;
                }
                self.run = Some(*run);
            }
        }
    }
}

impl App {
    pub fn on_defrag(&mut self, progress: etcd_console_core::wizard::defrag::executor::Progress) {
        if let Some(wizard) = &mut self.defrag {
            wizard.on_progress(progress);
            let not_started = matches!(
                wizard.run.as_ref().and_then(|r| r.outcome()),
                Some(etcd_console_core::wizard::defrag::Outcome::Stopped { reason }) if reason.starts_with("not started")
            );
            if not_started {
                // The journal was not touched: the offer to resume stands.
                if let Some(unfinished) = wizard.resuming.take() {
                    self.unfinished_defrag = Some(unfinished);
                }
            }
            if wizard.stage == Stage::Finished {
                if let Some(outcome) = wizard.run.as_ref().and_then(|r| r.outcome()) {
                    self.notice = Some(match outcome {
                        etcd_console_core::wizard::defrag::Outcome::Completed => "defrag run completed".into(),
                        etcd_console_core::wizard::defrag::Outcome::Stopped { reason } => {
                            format!("defrag run stopped: {reason}")
                        }
                    });
                }
            }
        }
    }

    /// `d`: the defrag wizard, as it was left or new with the plan of the panes.
    pub(super) fn open_defrag(&mut self) -> Option<Effect> {
        if self.defrag.is_none() {
            let mut wizard = DefragWizard::new(self.defrag_options.clone());
            wizard.replan(&self.cluster);
            self.defrag = Some(wizard);
        }
        self.show_wizard(WizardKind::Defrag);
        None
    }

    /// The defrag wizard's keys while it is open; Some(effect) when the key was the wizard's.
    pub(super) fn on_defrag_action(&mut self, action: Key) -> Option<Option<Effect>> {
        let wizard = self.defrag.as_mut()?;
        match (action, wizard.stage) {
            (Key::ToggleEveryMember, Stage::Planning) => {
                wizard.every_member = !wizard.every_member;
                wizard.replan(&self.cluster);
            }
            (Key::ToggleMoveLeader, Stage::Planning) => wizard.options.move_leader = !wizard.options.move_leader,
            (Key::Confirm, Stage::Planning) => self.ask_to_defrag(),
            (Key::Stop, Stage::Running) => {
                wizard.abort_sent = true;
                self.notice = Some("abort asked: the run stops before the next member".into());
                return Some(Some(Effect::Stop(WizardKind::Defrag)));
            }
            (Key::CloseOverlay, Stage::Running) => self.hide_wizard(WizardKind::Defrag),
            (Key::CloseOverlay, _) => self.close_wizard(WizardKind::Defrag),
            _ => return None,
        }
        Some(None)
    }

    pub(super) fn ask_to_defrag(&mut self) {
        if self.unfinished_defrag.is_some() {
            let Some(unfinished) = &self.unfinished_defrag else { return };
            let left: Vec<String> = unfinished.run.remaining().iter().map(|p| p.name.clone()).collect();
            let lines = vec![
                format!("left: {}", left.join(", ")),
                format!(
                    "last written {}; the member in flight is checked before anything is sent",
                    unfinished.last_written
                ),
            ];
            self.confirm = Some(self.confirmation("Resume the defrag run?".into(), lines, Change::ResumeDefrag));
            return;
        }
        let Some(wizard) = &self.defrag else { return };
        let plan = match &wizard.plan {
            Ok(plan) if !plan.steps.is_empty() => plan,
            Ok(_) => {
                self.notice = Some(format!(
                    "no member needs a defrag by this rule ({})",
                    keys::aside(keys::Context::DefragNoneNeeded.hints())
                ));
                return;
            }
            Err(e) => {
                self.notice = Some(e.clone());
                return;
            }
        };
        if wizard.cluster_id.is_none() {
            self.notice = Some("the cluster ID is not known yet".into());
            return;
        }
        if let Some(Ok(nospace)) = &wizard.nospace {
            let mut lines = nospace.step_lines();
            lines.push(format!(
                "one member at a time, {} apart, every member checked healthy before the next",
                humantime::format_duration(wizard.options.wait)
            ));
            self.confirm = Some(self.confirmation(
                format!("Clear NOSPACE: compact, defragment {} member(s), disarm?", plan.steps.len()),
                lines,
                Change::Defrag(plan.steps.iter().map(|s| s.id).collect()),
            ));
            return;
        }
        let mut lines: Vec<String> = plan
            .steps
            .iter()
            .enumerate()
            .map(|(n, s)| format!("{}. {}{}", n + 1, s.name, if s.is_leader { " (the leader, last)" } else { "" }))
            .collect();
        lines.push(format!(
            "one at a time, {} apart, every member checked healthy before the next{}",
            humantime::format_duration(wizard.options.wait),
            if wizard.options.move_leader { "; leadership moved before the leader's turn" } else { "" }
        ));
        self.confirm = Some(self.confirmation(
            format!("Defragment {} member(s)?", plan.steps.len()),
            lines,
            Change::Defrag(plan.steps.iter().map(|s| s.id).collect()),
        ));
    }

    /// The confirmed plan becomes a run, if it is still the plan shown.
    pub(super) fn start_defrag(&mut self, ids: &[u64]) -> Option<Effect> {
        // The quota as read from the cluster (the pods' flag, the operator), not the default.
        let quota = self.cluster.quota().bytes;
        let wizard = self.defrag.as_mut()?;
        let (Ok(plan), Some(cluster_id)) = (&wizard.plan, wizard.cluster_id) else { return None };
        if plan.steps.iter().map(|s| s.id).collect::<Vec<_>>() != ids {
            self.notice = Some("the plan changed while you were asked: look at it again".into());
            return None;
        }
        // The engine refuses under --read-only, whatever the screen allowed.
        let options = etcd_console_core::wizard::defrag::Options { quota_bytes: quota, ..wizard.options.clone() };
        let made = match &wizard.nospace {
            Some(Ok(nospace)) => DefragRun::for_nospace(nospace, cluster_id, options, self.read_only),
            _ => DefragRun::new(plan, cluster_id, options, self.read_only),
        };
        match made {
            Ok(run) => {
                wizard.stage = Stage::Running;
                wizard.run = Some(run.clone());
                self.quit_armed = false;
                Some(Effect::Start(Start::Defrag { run: Box::new(run), unfinished: None }))
            }
            Err(e) => {
                self.notice = Some(e);
                None
            }
        }
    }

    pub(super) fn resume_defrag(&mut self) -> Option<Effect> {
        let unfinished = self.unfinished_defrag.take()?;
        match unfinished.run.clone().resumed(unfinished.in_flight.as_ref(), self.read_only) {
            Ok(run) => {
                let wizard = self.defrag.get_or_insert_with(|| DefragWizard::new(run.options.clone()));
                wizard.stage = Stage::Running;
                wizard.abort_sent = false;
                wizard.run = Some(run.clone());
                wizard.resuming = Some(unfinished.clone());
                self.show_wizard(WizardKind::Defrag);
                self.quit_armed = false;
                Some(Effect::Start(Start::Defrag { run: Box::new(run), unfinished: Some(Box::new(unfinished)) }))
            }
            Err(e) => {
                self.notice = Some(e);
                self.unfinished_defrag = Some(unfinished);
                None
            }
        }
    }

    /// An unfinished run found in the journal: offered, never resumed unasked.
    pub fn offer_resume(&mut self, unfinished: etcd_console_core::wizard::defrag::journal::Unfinished) {
        let left: Vec<String> = unfinished.run.remaining().iter().map(|p| p.name.clone()).collect();
        self.notice = Some(format!(
            "an unfinished defrag run was found (left: {}): press d, then Enter to resume",
            left.join(", ")
        ));
        let mut wizard = DefragWizard::new(unfinished.run.options.clone());
        wizard.run = Some(unfinished.run.clone());
        // Offered, not opened: `d` shows it.
        self.hide_wizard(WizardKind::Defrag);
        self.defrag = Some(wizard);
        self.unfinished_defrag = Some(unfinished);
    }
}
