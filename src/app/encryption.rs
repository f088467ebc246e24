//! The encryption wizard's screen state: the type chosen and whether a
//! backup comes first, then the run as the executor reports it. The checks,
//! the question's words and the following are the engine's.

use etcd_console_core::wizard::encryption::executor::Progress;
use etcd_console_core::wizard::encryption::{Action, EncryptionRun, EncryptionType, Stage as RunStage};

use super::keys::Action as Key;
use super::{App, Change, Effect, Start, WizardKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Choosing the new type, until the user asks for the plan.
    Choosing,
    Running,
    Finished,
}

#[derive(Debug, Clone)]
pub struct EncryptionWizard {
    pub stage: Stage,
    pub target: EncryptionType,
    pub backup_first: bool,
    pub run: Option<EncryptionRun>,
    pub doing: Option<Action>,
    /// The backup first: bytes received of about how many.
    pub backup_bytes: Option<(u64, u64)>,
    /// The engine's question has been put on screen for this run.
    pub asked: bool,
    pub abort_sent: bool,
}

impl EncryptionWizard {
    /// Opens on the first type that differs from the cluster's.
    pub fn new(current: Option<EncryptionType>) -> EncryptionWizard {
        let target = EncryptionType::ALL.into_iter().find(|t| Some(*t) != current).unwrap_or(EncryptionType::Aescbc);
        EncryptionWizard {
            stage: Stage::Choosing,
            target,
            backup_first: true,
            run: None,
            doing: None,
            backup_bytes: None,
            asked: false,
            abort_sent: false,
        }
    }

    /// The type above (`up`) or below in the list.
    pub fn choose(&mut self, up: bool) {
        let all = EncryptionType::ALL;
        let at = all.iter().position(|t| *t == self.target).unwrap_or(0);
        let next = if up { at.saturating_sub(1) } else { (at + 1).min(all.len() - 1) };
        self.target = all[next];
    }

    pub fn start(&mut self) {
        self.stage = Stage::Running;
        self.run = None;
        self.doing = None;
        self.backup_bytes = None;
        self.asked = false;
        self.abort_sent = false;
    }

    /// The run waits for the user's yes (and it has not been asked yet).
    pub fn wants_answer(&self) -> bool {
        !self.asked && self.run.as_ref().is_some_and(|r| r.stage == RunStage::AwaitingYes)
    }

    pub fn on_progress(&mut self, progress: Progress) {
        match progress {
            Progress::Began(action) => self.doing = Some(action),
            Progress::Backup(etcd_console_core::wizard::backup::executor::Progress::Bytes { done, total, .. }) => {
                self.backup_bytes = Some((done, total))
            }
            Progress::Backup(_) => {}
            Progress::Run(run) => {
                if run.outcome().is_some() {
                    self.stage = Stage::Finished;
                    self.doing = None;
                }
                self.run = Some(*run);
            }
        }
    }
}

impl App {
    pub fn on_encryption(&mut self, progress: etcd_console_core::wizard::encryption::executor::Progress) {
        let Some(wizard) = &mut self.encryption else { return };
        wizard.on_progress(progress);
        self.raise_encryption_question();
        self.encryption_finished();
    }

    /// The engine waits for the user's yes: its question is put up once no other is on screen.
    pub(super) fn raise_encryption_question(&mut self) {
        if self.confirm.is_some() {
            return;
        }
        let Some(wizard) = &mut self.encryption else { return };
        if wizard.wants_answer() {
            if let Some(plan) = wizard.run.as_ref().and_then(|r| r.plan()) {
                wizard.asked = true;
                // The wizard that asks comes on the lower half, under its question.
                self.open = Some(WizardKind::Encryption);
                let mut lines = vec![
                    format!(
                        "merge patch of APIServer cluster: spec.encryption.type {} -> {}",
                        plan.from.as_str(),
                        plan.to.as_str()
                    ),
                    format!("followed on: {}", plan.operators.join(", ")),
                ];
                lines.push(if plan.backup_first {
                    "a verified backup is taken first; nothing is patched if it fails".into()
                } else {
                    "no backup first (b in the wizard takes one)".into()
                });
                lines.extend(plan.notes.iter().map(|n| format!("- {n}")));
                let title = format!("Set encryption {} -> {}?", plan.from.as_str(), plan.to.as_str());
                self.confirm = Some(self.confirmation(title, lines, Change::EncryptionYes));
            }
        }
    }

    /// The run's end: a question still up is taken down, the outcome said in the footer.
    pub(super) fn encryption_finished(&mut self) {
        let Some(wizard) = &mut self.encryption else { return };
        if wizard.stage != Stage::Finished {
            return;
        }
        if let Some(outcome) = wizard.run.as_ref().and_then(|r| r.outcome()) {
            // A question still on screen has no run behind it any more.
            if self.confirm.as_ref().is_some_and(|c| c.change == Change::EncryptionYes) {
                self.confirm = None;
            }
            let target = wizard.run.as_ref().map(|r| r.target).unwrap_or(wizard.target).as_str();
            self.notice = Some(match outcome {
                etcd_console_core::wizard::encryption::Outcome::Completed { .. } => {
                    format!(
                        "encryption {target} completed: take a fresh backup, its keys stored apart (etcd-console backup --encryption-keys DIR2)"
                    )
                }
                other => format!("encryption {target}: {}", other.describe()),
            });
        }
    }

    /// `E`: the encryption wizard, as it was left or new on the first type the cluster is not on.
    pub(super) fn open_encryption(&mut self) -> Option<Effect> {
        let current = self
            .openshift
            .encryption()
            .and_then(|e| etcd_console_core::wizard::encryption::EncryptionType::parse(&e.kind));
        self.encryption.get_or_insert_with(|| EncryptionWizard::new(current));
        self.show_wizard(WizardKind::Encryption);
        None
    }

    /// The encryption wizard's keys while it is open; Some(effect) when the key was the wizard's.
    pub(super) fn on_encryption_action(&mut self, action: Key) -> Option<Option<Effect>> {
        let wizard = self.encryption.as_mut()?;
        match (action, wizard.stage) {
            (Key::SelectPrevious, Stage::Choosing) => wizard.choose(true),
            (Key::SelectNext, Stage::Choosing) => wizard.choose(false),
            (Key::OpenBackup, Stage::Choosing) => wizard.backup_first = !wizard.backup_first,
            (Key::Confirm, Stage::Choosing | Stage::Finished) => {
                if wizard.stage == Stage::Finished {
                    wizard.stage = Stage::Choosing;
                    return Some(None);
                }
                let (target, backup_first) = (wizard.target, wizard.backup_first);
                wizard.start();
                self.quit_armed = false;
                return Some(Some(Effect::Start(Start::Encryption { target, backup_first })));
            }
            (Key::Stop, Stage::Running) => {
                wizard.abort_sent = true;
                self.notice = Some(if wizard.run.as_ref().is_some_and(|r| r.patched_at.is_some()) {
                    "stopping: the migration goes on in the cluster; only the following stops".into()
                } else {
                    "stopping: nothing has been patched".into()
                });
                return Some(Some(Effect::Stop(WizardKind::Encryption)));
            }
            (Key::CloseOverlay, Stage::Running) => self.hide_wizard(WizardKind::Encryption),
            (Key::CloseOverlay, _) => self.close_wizard(WizardKind::Encryption),
            // Another wizard's key opens that one in place of this.
            _ => return None,
        }
        Some(None)
    }
}
