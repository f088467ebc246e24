//! The backup wizard's screen state: what the console already knows before
//! it starts, then the run as the executor reports it. The checks, the member
//! and the files are the engine's.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use etcd_console_core::wizard::backup::executor::Progress;
use etcd_console_core::wizard::backup::{Action, BackupRun, Outcome};

use super::keys::Action as Key;
use super::{App, Change, Effect, Start, WizardKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// What will happen, until the user starts it.
    Ready,
    Running,
    Finished,
}

/// The stream's progress: bytes received, of about `total`, rate, time left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Streaming {
    pub done: u64,
    pub total: u64,
    pub rate: f64,
    pub eta: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct BackupWizard {
    pub stage: Stage,
    pub dir: PathBuf,
    pub run: Option<BackupRun>,
    pub doing: Option<Action>,
    pub streaming: Option<Streaming>,
    pub abort_sent: bool,
    /// Where the encryption keys go too (`s`), apart from the backups; None: not saved.
    pub keys_dir: Option<PathBuf>,
}

/// The newest verified backup of the cluster in the backup directory.
#[derive(Debug, Clone, PartialEq)]
pub struct LastBackup {
    pub taken_at: SystemTime,
    pub member: String,
    pub possibly_dirty: bool,
    /// It holds what cluster-restore.sh takes (the static resources too).
    pub restore_grade: bool,
    /// When it is a snapshot only: when the newest restore-grade one was taken, if there is one.
    pub restorable_at: Option<SystemTime>,
}

impl LastBackup {
    pub fn from_metadata(metadata: &etcd_console_core::wizard::backup::Metadata) -> Option<LastBackup> {
        Some(LastBackup {
            taken_at: humantime::parse_rfc3339(&metadata.taken_at).ok()?,
            member: metadata.member.clone(),
            possibly_dirty: metadata.possibly_dirty,
            restore_grade: metadata.restore_grade,
            restorable_at: None,
        })
    }
}

impl BackupWizard {
    pub fn new(dir: PathBuf) -> BackupWizard {
        BackupWizard {
            stage: Stage::Ready,
            dir,
            run: None,
            doing: None,
            streaming: None,
            abort_sent: false,
            keys_dir: None,
        }
    }

    /// The run was refused by a check `--force` may override.
    pub fn refused(&self) -> Option<&str> {
        match self.run.as_ref()?.outcome()? {
            Outcome::Refused { reason } if reason.contains("--force") => Some(reason),
            _ => None,
        }
    }

    pub fn start(&mut self) {
        self.stage = Stage::Running;
        self.run = None;
        self.doing = None;
        self.streaming = None;
        self.abort_sent = false;
    }

    pub fn on_progress(&mut self, progress: Progress) {
        match progress {
            Progress::Began(action) => self.doing = Some(action),
            Progress::Bytes { done, total, rate, eta } => self.streaming = Some(Streaming { done, total, rate, eta }),
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
    pub fn on_backup(&mut self, progress: etcd_console_core::wizard::backup::executor::Progress) {
        let Some(wizard) = &mut self.backup else { return };
        wizard.on_progress(progress);
        if wizard.stage != Stage::Finished {
            return;
        }
        if let Some(outcome) = wizard.run.as_ref().and_then(|r| r.outcome()) {
            use etcd_console_core::wizard::backup::Outcome;
            self.notice = Some(match outcome {
                Outcome::Completed => "backup taken and verified".into(),
                Outcome::Refused { .. } if wizard.refused().is_some() => {
                    "backup refused by a check: f takes it anyway, marked __POSSIBLY_DIRTY__".into()
                }
                Outcome::Refused { reason } => format!("backup refused: {reason}"),
                Outcome::Failed { reason } => format!("backup failed: {reason}"),
            });
        }
    }

    pub(super) fn start_backup(&mut self, force: bool) -> Option<Effect> {
        let wizard = self.backup.as_mut()?;
        wizard.start();
        let keys_dir = wizard.keys_dir.clone();
        self.show_wizard(WizardKind::Backup);
        self.quit_armed = false;
        Some(Effect::Start(Start::Backup { force, keys_dir }))
    }

    /// `b`: the backup wizard, as it was left or new (none without a directory to keep backups in).
    pub(super) fn open_backup(&mut self) -> Option<Effect> {
        let Some(dir) = self.backup_dir.clone() else {
            self.notice = Some("no home directory to keep backups in: give --backup-dir".into());
            return None;
        };
        self.backup.get_or_insert_with(|| BackupWizard::new(dir));
        self.show_wizard(WizardKind::Backup);
        None
    }

    /// The backup wizard's keys while it is open; Some(effect) when the key was the wizard's.
    pub(super) fn on_backup_action(&mut self, action: Key) -> Option<Option<Effect>> {
        let keys_dir = self.keys_dir.clone();
        let wizard = self.backup.as_mut()?;
        match (action, wizard.stage) {
            // Nothing in the cluster changes: a backup only reads, so it needs no confirmation (and is
            // allowed under --read-only).
            (Key::Confirm, Stage::Ready | Stage::Finished) => {
                return Some(self.start_backup(false));
            }
            (Key::ForceBackup, Stage::Finished) => {
                let reason = wizard.refused()?.to_string();
                let lines = vec![
                    format!("refused because: {reason}"),
                    format!(
                        "into {}, every file name marked __POSSIBLY_DIRTY__: a restore from it may be inconsistent \
                         (partly encrypted, or mid-rollout)",
                        wizard.dir.display()
                    ),
                ];
                self.confirm = Some(self.confirmation("Take the backup anyway?".into(), lines, Change::ForceBackup));
            }
            // `s`, which opens the space view elsewhere, saves the keys too here.
            (Key::OpenSpace, Stage::Ready | Stage::Finished) => {
                wizard.keys_dir = match wizard.keys_dir.take() {
                    Some(_) => None,
                    None => {
                        let Some(keys) = keys_dir else {
                            self.notice = Some("no home directory to keep the encryption keys in".into());
                            return Some(None);
                        };
                        Some(keys)
                    }
                };
                self.notice = Some(match &wizard.keys_dir {
                    Some(keys) => format!("the encryption keys go to {} too (apart from the backups)", keys.display()),
                    None => "the encryption keys will not be saved".into(),
                });
            }
            (Key::Stop, Stage::Running) => {
                wizard.abort_sent = true;
                self.notice = Some("stopping the backup: its part file is removed".into());
                return Some(Some(Effect::Stop(WizardKind::Backup)));
            }
            (Key::CloseOverlay, Stage::Running) => self.hide_wizard(WizardKind::Backup),
            (Key::CloseOverlay, _) => self.close_wizard(WizardKind::Backup),
            _ => return None,
        }
        Some(None)
    }
}
