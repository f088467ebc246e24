//! The restore wizard's screen state: the plan judged on the live cluster
//! (re-made when another recovery host is chosen), then the run as the
//! executor reports it, and the person's answers typed in a prompt (the
//! cluster's name; `done` for a step only a person can do). What is done,
//! when, and what is refused is the engine's.

use std::path::PathBuf;

use etcd_console_core::wizard::restore::executor::Progress;
use etcd_console_core::wizard::restore::{Confirmation, Procedure, RestoreRun, Step};

use super::input::{Input, Typed};
use super::keys::Action as Key;
use super::{Answer, App, Effect, Start, WizardKind};

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
    pub typed: Input,
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
        self.prompt = Some(Prompt { asked, typed: Input::new() });
    }
}

impl App {
    pub fn on_restore(&mut self, progress: etcd_console_core::wizard::restore::executor::Progress) {
        let Some(wizard) = &mut self.restore else { return };
        wizard.on_progress(progress);
        if wizard.stage == Stage::Finished && wizard.prompt.is_none() {
            if let Some(outcome) = wizard.run.as_ref().and_then(|r| r.outcome()) {
                self.notice = Some(format!("restore: {}", outcome.describe()));
            }
        }
    }

    /// The engine waits for the person to type something: the restore comes on the lower half.
    pub fn ask_restore(&mut self, asked: Asked) {
        if let Some(wizard) = &mut self.restore {
            wizard.ask(asked);
            self.show_wizard(WizardKind::Restore);
        }
    }

    /// Whether keys go to the restore prompt.
    pub fn restore_prompt_up(&self) -> bool {
        self.restore.as_ref().is_some_and(|w| w.prompt.is_some())
    }

    /// A key while the restore prompt is up, by EDIT_KEYS: Enter answers, Esc answers nothing
    /// (no: cancelled, or the step not done); the other keys edit what is typed, exactly as it is sent.
    pub fn on_restore_key(&mut self, key: crossterm::event::KeyEvent) -> Option<Effect> {
        let wizard = self.restore.as_mut()?;
        let prompt = wizard.prompt.as_mut()?;
        match prompt.typed.key(key) {
            Typed::Keep => {
                let typed = prompt.typed.text().to_string();
                wizard.prompt = None;
                Some(Effect::Answer(Answer::Restore(typed)))
            }
            Typed::Drop => {
                wizard.prompt = None;
                Some(Effect::Answer(Answer::Restore(String::new())))
            }
            Typed::Edited => None,
        }
    }

    /// `R`: the restore wizard, as it was left or new; a new one (with a backup to restore)
    /// asks for its plan at once.
    pub(super) fn open_restore(&mut self) -> Option<Effect> {
        let dir = self.restore_backup.clone();
        self.show_wizard(WizardKind::Restore);
        let wizard = self.restore.get_or_insert_with(|| RestoreWizard::new(dir));
        if wizard.stage == Stage::Planning && wizard.run.is_none() && !wizard.planning && wizard.backup_dir.is_some() {
            wizard.planning = true;
            return Some(Effect::PlanRestore { recovery_host: wizard.chosen.clone() });
        }
        None
    }

    /// The restore wizard's keys while it is open; Some(effect) when the key was the wizard's.
    pub(super) fn on_restore_action(&mut self, action: Key) -> Option<Option<Effect>> {
        let wizard = self.restore.as_mut()?;
        match (action, wizard.stage) {
            (Key::SelectPrevious | Key::SelectNext, Stage::Planning) => {
                if wizard.choose(action == Key::SelectPrevious) {
                    wizard.planning = true;
                    return Some(Some(Effect::PlanRestore { recovery_host: wizard.chosen.clone() }));
                }
            }
            (Key::Confirm, Stage::Planning) => {
                let Some(host) = wizard.chosen.clone().or_else(|| wizard.hosted.then(String::new)) else {
                    self.notice = Some("choose the recovery host with ↑↓ first".into());
                    return Some(None);
                };
                if wizard.planning || wizard.backup_dir.is_none() {
                    return Some(None);
                }
                wizard.start();
                self.quit_armed = false;
                return Some(Some(Effect::Start(Start::Restore { recovery_host: host })));
            }
            (Key::Confirm, Stage::Finished) => {
                wizard.stage = Stage::Planning;
                wizard.planning = true;
                return Some(Some(Effect::PlanRestore { recovery_host: wizard.chosen.clone() }));
            }
            (Key::Stop, Stage::Running) => {
                wizard.abort_sent = true;
                self.notice = Some(
                    "stopping once the step in flight has done its act; the journal keeps where (R, Enter resumes)"
                        .into(),
                );
                return Some(Some(Effect::Stop(WizardKind::Restore)));
            }
            (Key::CloseOverlay, Stage::Running) => self.hide_wizard(WizardKind::Restore),
            (Key::CloseOverlay, _) => self.close_wizard(WizardKind::Restore),
            // Another wizard's key opens that one in place of this.
            _ => return None,
        }
        Some(None)
    }
}
