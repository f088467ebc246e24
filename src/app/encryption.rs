//! The encryption wizard's screen state: the type chosen and whether a
//! backup comes first, then the run as the executor reports it. The checks,
//! the question's words and the following are the engine's.

use etcd_console_core::wizard::encryption::executor::Progress;
use etcd_console_core::wizard::encryption::{Action, EncryptionRun, EncryptionType, Stage as RunStage};

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
    /// Shown on the lower half (Esc hides a running one; `E` shows it again).
    pub shown: bool,
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
            shown: true,
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
        self.shown = true;
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
