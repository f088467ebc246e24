//! The defrag wizard's screen state: the plan made from what the console
//! already sees, the options the user toggles, and the run's progress as the
//! executor reports it. The run itself (gates, order, waits) is the engine's.

use std::time::{Duration, SystemTime};

use etcd_console_core::cluster::ClusterState;
use etcd_console_core::wizard::defrag::executor::Progress;
use etcd_console_core::wizard::defrag::{plan, Action, DefragRun, Figures, MemberFacts, Options, Plan, Rule};

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
    /// Shown on the lower half (Esc hides it; `d` shows it again).
    pub shown: bool,
    /// The unfinished run being resumed, given back if the run cannot start.
    pub resuming: Option<etcd_console_core::journal::Unfinished>,
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
                quota: cluster.quota_bytes,
            }),
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
            shown: true,
            resuming: None,
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
        self.plan = plan(&facts_of(cluster), cluster.leader_id(), &self.rule());
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
