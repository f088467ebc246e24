//! The backup wizard's screen state: what the console already knows before
//! it starts, then the run as the executor reports it. The checks, the member
//! and the files are the engine's.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use etcd_console_core::wizard::backup::executor::Progress;
use etcd_console_core::wizard::backup::{Action, BackupRun, Outcome};

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
    /// Shown on the lower half (Esc hides a running one; `b` shows it again).
    pub shown: bool,
}

/// The newest verified backup of the cluster in the backup directory.
#[derive(Debug, Clone, PartialEq)]
pub struct LastBackup {
    pub taken_at: SystemTime,
    pub member: String,
    pub possibly_dirty: bool,
}

impl LastBackup {
    pub fn from_metadata(metadata: &etcd_console_core::wizard::backup::Metadata) -> Option<LastBackup> {
        Some(LastBackup {
            taken_at: humantime::parse_rfc3339(&metadata.taken_at).ok()?,
            member: metadata.member.clone(),
            possibly_dirty: metadata.possibly_dirty,
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
            shown: true,
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
        self.shown = true;
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
