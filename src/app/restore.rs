//! The restore wizard's screen state: the plan judged on the live cluster
//! (re-made when another recovery host is chosen), then the run as the
//! executor reports it, and the person's answers typed in a prompt (the
//! cluster's name; `done` for a step only a person can do). What is done,
//! when, and what is refused is the engine's.

use std::path::PathBuf;

use etcd_console_core::wizard::restore::executor::Progress;
use etcd_console_core::wizard::restore::{Confirmation, Procedure, RestoreRun, Step};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The plan is being made or shown; the recovery host chosen with ↑↓.
    Planning,
    Running,
    Finished,
}

/// What the engine waits for the person to type.
#[derive(Debug, Clone, PartialEq)]
pub enum Asked {
    Confirm(Confirmation),
    Done(Box<Step>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub asked: Asked,
    pub typed: String,
}

#[derive(Debug, Clone)]
pub struct RestoreWizard {
    pub stage: Stage,
    /// `--restore-backup DIR`.
    pub backup_dir: Option<PathBuf>,
    /// The control-plane hosts the survey found Ready, to choose the recovery host from.
    pub hosts: Vec<String>,
    pub chosen: Option<String>,
    /// The hosted procedure (`--hosted-cluster`): everything through the API, no recovery host to choose.
    pub hosted: bool,
    /// The plan, then the run, as last reported.
    pub run: Option<RestoreRun>,
    /// The step being done.
    pub current: Option<(usize, Step)>,
    pub prompt: Option<Prompt>,
    pub planning: bool,
    pub abort_sent: bool,
    /// Shown on the lower half (Esc hides a running one; `R` shows it again).
    pub shown: bool,
}

impl RestoreWizard {
    pub fn new(backup_dir: Option<PathBuf>) -> RestoreWizard {
        RestoreWizard {
            stage: Stage::Planning,
            backup_dir,
            hosts: Vec::new(),
            chosen: None,
            hosted: false,
            run: None,
            current: None,
            prompt: None,
            planning: false,
            abort_sent: false,
            shown: true,
        }
    }

    /// The next (or previous) Ready control-plane host as the recovery host.
    pub fn choose(&mut self, up: bool) -> bool {
        if self.hosts.is_empty() || self.hosted {
            return false;
        }
        let at = self.chosen.as_ref().and_then(|c| self.hosts.iter().position(|h| h == c));
        let next = match (at, up) {
            (None, _) => 0,
            (Some(i), true) => i.saturating_sub(1),
            (Some(i), false) => (i + 1).min(self.hosts.len() - 1),
        };
        let changed = at != Some(next);
        self.chosen = self.hosts.get(next).cloned();
        changed
    }

    pub fn start(&mut self) {
        self.stage = Stage::Running;
        self.current = None;
        self.prompt = None;
        self.abort_sent = false;
        self.shown = true;
    }

    pub fn on_progress(&mut self, progress: Progress) {
        match progress {
            Progress::Began { index, step } => self.current = Some((index, *step)),
            Progress::Run(run) => {
                // A plan that arrives late (for another host, or after the run began) is not this screen's.
                let plan = run.options.plan_only;
                if plan && (self.stage != Stage::Planning || run.options.recovery_host != self.chosen) {
                    return;
                }
                if !plan && self.stage == Stage::Planning {
                    return;
                }
                if self.stage == Stage::Planning {
                    self.planning = false;
                    self.hosted = run.procedure == Procedure::Hosted;
                    if let Some(survey) = run.survey.as_ref().filter(|_| !self.hosted) {
                        self.hosts = survey.control_plane.iter().filter(|h| h.ready).map(|h| h.name.clone()).collect();
                    }
                }
                if self.stage == Stage::Running && run.outcome().is_some() {
                    self.stage = Stage::Finished;
                    self.prompt = None;
                }
                self.run = Some(*run);
            }
        }
    }

    pub fn ask(&mut self, asked: Asked) {
        self.prompt = Some(Prompt { asked, typed: String::new() });
        self.shown = true;
    }
}
