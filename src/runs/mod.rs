//! The wizard runs the console has going, in one registry: at most one run of
//! each kind, each with the token that stops it and, for the wizards that ask,
//! the channel their answers go to. Every run reports on one channel, as a
//! `RunProgress`; the progress that tells a run's outcome takes it off the
//! registry. What each run does is in `tasks`.

mod member;
mod space;
mod tasks;

use std::collections::HashMap;
use std::path::PathBuf;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::restore::Asked;
use crate::app::{Answer, Start, WizardKind};
use crate::cli::ConsoleArgs;
use etcd_console_core::etcd::source::EtcdSource;
use etcd_console_core::settings::{ConnectionSettings, KubeSettings};
use etcd_console_core::wizard::{backup, defrag, encryption, member as member_wizard, restore};

/// What a wizard's run reports, whatever its kind.
#[derive(Debug)]
pub enum RunProgress {
    Defrag(defrag::executor::Progress),
    Backup(backup::executor::Progress),
    Encryption(encryption::executor::Progress),
    /// The restore's run, and its plans (`options.plan_only`), which are not runs.
    Restore(restore::executor::Progress),
    /// The restore's engine waits for the person to type.
    RestoreAsked(Asked),
    /// The member replacement's run, and its plans (`options.plan_only`), which are not runs.
    Member(member_wizard::executor::Progress),
    /// The member replacement's engine waits for the person to type.
    MemberAsked(crate::app::member::Asked),
    /// The journal holds an unfinished replacement of this member, begun: where it stopped.
    MemberJournalled {
        member: String,
        at: String,
    },
    /// The space view's reading.
    Space(crate::app::space::SpaceProgress),
}

impl RunProgress {
    pub fn kind(&self) -> WizardKind {
        match self {
            RunProgress::Defrag(_) => WizardKind::Defrag,
            RunProgress::Backup(_) => WizardKind::Backup,
            RunProgress::Encryption(_) => WizardKind::Encryption,
            RunProgress::Restore(_) | RunProgress::RestoreAsked(_) => WizardKind::Restore,
            RunProgress::Member(_) | RunProgress::MemberAsked(_) | RunProgress::MemberJournalled { .. } => {
                WizardKind::Member
            }
            RunProgress::Space(_) => WizardKind::Space,
        }
    }

    /// The run has its outcome: it does nothing more.
    pub fn ends_run(&self) -> bool {
        match self {
            RunProgress::Defrag(defrag::executor::Progress::Run(run)) => run.outcome().is_some(),
            RunProgress::Backup(backup::executor::Progress::Run(run)) => run.outcome().is_some(),
            RunProgress::Encryption(encryption::executor::Progress::Run(run)) => run.outcome().is_some(),
            RunProgress::Restore(restore::executor::Progress::Run(run)) => {
                !run.options.plan_only && run.outcome().is_some()
            }
            RunProgress::Member(member_wizard::executor::Progress::Run(run)) => {
                !run.options.plan_only && run.outcome().is_some()
            }
            RunProgress::Space(progress) => progress.ends_run(),
            _ => false,
        }
    }
}

/// What the runs are started with: the console's flags and what it reaches.
#[derive(Clone)]
pub struct RunSettings {
    pub source: EtcdSource,
    pub connection: ConnectionSettings,
    pub console: ConsoleArgs,
    pub kube: Option<KubeSettings>,
    /// Where defrag runs are journalled (--journal-dir or its default).
    pub journal_dir: Option<PathBuf>,
    /// Where backups go (--backup-dir or its default).
    pub backup_dir: Option<PathBuf>,
}

/// Why a run was not started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotStarted {
    /// One of its kind is still going (its token is kept: `x` still stops it).
    Running,
    /// It could not be set up (no backup directory, ...).
    Cannot(String),
}

/// Where a wizard's answers go, for the kinds that ask.
enum Answers {
    Encryption(mpsc::UnboundedSender<encryption::Answer>),
    Restore(mpsc::UnboundedSender<String>),
    Member(mpsc::UnboundedSender<String>),
}

struct Running {
    cancel: CancellationToken,
    answers: Option<Answers>,
    task: JoinHandle<()>,
}

/// The runs going on, at most one of each kind.
pub struct Runs {
    settings: RunSettings,
    progress: mpsc::UnboundedSender<RunProgress>,
    running: HashMap<WizardKind, Running>,
}

impl Runs {
    /// Runs started here report on `progress`.
    pub fn new(settings: RunSettings, progress: mpsc::UnboundedSender<RunProgress>) -> Runs {
        Runs { settings, progress, running: HashMap::new() }
    }

    pub fn is_running(&self, kind: WizardKind) -> bool {
        self.running.get(&kind).is_some_and(|r| !r.task.is_finished())
    }

    /// Starts a run on a task of its own, refused while one of its kind is going.
    pub fn start(&mut self, start: Start) -> Result<(), NotStarted> {
        let kind = start.kind();
        if self.is_running(kind) {
            tracing::warn!(kind = kind.name(), "a run was asked while one of its kind is going: refused");
            return Err(NotStarted::Running);
        }
        if self.running.remove(&kind).is_some() {
            // Its task ended without telling an outcome (a bug, or a panic): nothing is left to stop.
            tracing::warn!(kind = kind.name(), "the last run of this kind ended without an outcome");
        }
        let cancel = CancellationToken::new();
        let (task, answers) =
            tasks::spawn(start, &self.settings, cancel.clone(), &self.progress).map_err(NotStarted::Cannot)?;
        self.running.insert(kind, Running { cancel, answers, task });
        Ok(())
    }

    /// The restore's plan for this recovery host: a survey, not a run (nothing to stop or
    /// answer; a plan for another host may overlap it). It reports as the restore.
    pub fn plan_restore(&self, recovery_host: Option<String>) {
        tasks::plan_restore(&self.settings, recovery_host, &self.progress);
    }

    /// The member replacement's plan for this member: a survey, not a run. It reports as the
    /// member wizard.
    pub fn plan_member(&self, member: String) {
        member::plan(&self.settings, member, &self.progress);
    }

    /// Stops the run of this kind, if one is going.
    pub fn stop(&self, kind: WizardKind) {
        if let Some(running) = self.running.get(&kind) {
            running.cancel.cancel();
        }
    }

    /// Hands the answer to the run of its kind, if one is going and waits for answers.
    pub fn answer(&self, answer: Answer) {
        let answers = self.running.get(&answer.kind()).and_then(|r| r.answers.as_ref());
        match (answers, answer) {
            (Some(Answers::Encryption(to)), Answer::Encryption(yes)) => {
                let _ = to.send(encryption::Answer { yes, backup_first: None });
            }
            (Some(Answers::Restore(to)), Answer::Restore(typed))
            | (Some(Answers::Member(to)), Answer::Member(typed)) => {
                let _ = to.send(typed);
            }
            _ => {}
        }
    }

    /// Follows what a run reports: once it tells the run's outcome, the run is off the registry.
    pub fn on_progress(&mut self, progress: &RunProgress) {
        if progress.ends_run() {
            self.running.remove(&progress.kind());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs() -> (Runs, mpsc::UnboundedReceiver<RunProgress>) {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(["etcd-console", "--endpoints", "https://127.0.0.1:1"]).unwrap();
        let connection = cli.connection.settings();
        let settings = RunSettings {
            source: EtcdSource::choose(&connection, None).unwrap(),
            connection,
            console: cli.console,
            kube: None,
            journal_dir: None,
            backup_dir: None,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        (Runs::new(settings, tx), rx)
    }

    /// A task that runs until its token is cancelled, registered as `kind`.
    fn hold(runs: &mut Runs, kind: WizardKind, answers: Option<Answers>) -> CancellationToken {
        let cancel = CancellationToken::new();
        let waiting = cancel.clone();
        let task = tokio::spawn(async move { waiting.cancelled().await });
        runs.running.insert(kind, Running { cancel: cancel.clone(), answers, task });
        cancel
    }

    #[tokio::test]
    async fn a_second_run_of_a_kind_is_refused_and_the_first_keeps_its_token() {
        let (mut runs, _rx) = runs();
        let first = hold(&mut runs, WizardKind::Backup, None);
        assert_eq!(runs.start(Start::Backup { force: false, keys_dir: None }), Err(NotStarted::Running));
        assert!(runs.is_running(WizardKind::Backup));
        // The stop key still reaches the first run, and only it.
        let other = hold(&mut runs, WizardKind::Defrag, None);
        runs.stop(WizardKind::Backup);
        assert!(first.is_cancelled());
        assert!(!other.is_cancelled());
    }

    #[tokio::test]
    async fn a_run_that_tells_its_outcome_leaves_the_registry_and_a_plan_does_not_end_the_restore() {
        use etcd_console_core::wizard::restore::{Options, Procedure, RestoreRun};
        let (mut runs, _rx) = runs();
        hold(&mut runs, WizardKind::Restore, None);
        let mut plan =
            RestoreRun::new(Procedure::Standalone, "/b".into(), Options { plan_only: true, ..Default::default() });
        plan.abort();
        assert!(plan.outcome().is_some());
        let late_plan = RunProgress::Restore(restore::executor::Progress::Run(Box::new(plan)));
        runs.on_progress(&late_plan);
        assert!(runs.is_running(WizardKind::Restore), "a plan is not the run");
        let mut run = RestoreRun::new(Procedure::Standalone, "/b".into(), Options::default());
        run.abort();
        runs.on_progress(&RunProgress::Restore(restore::executor::Progress::Run(Box::new(run))));
        assert!(!runs.is_running(WizardKind::Restore));
    }

    #[tokio::test]
    async fn answers_go_to_the_run_of_their_kind() {
        let (mut runs, _rx) = runs();
        let (to_encryption, mut encryption) = mpsc::unbounded_channel();
        let (to_restore, mut restore) = mpsc::unbounded_channel();
        hold(&mut runs, WizardKind::Encryption, Some(Answers::Encryption(to_encryption)));
        hold(&mut runs, WizardKind::Restore, Some(Answers::Restore(to_restore)));
        runs.answer(Answer::Restore("lab-x8k2p".into()));
        runs.answer(Answer::Encryption(true));
        assert_eq!(restore.try_recv().ok().as_deref(), Some("lab-x8k2p"));
        assert!(encryption.try_recv().is_ok_and(|a| a.yes));
        assert!(restore.try_recv().is_err() && encryption.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_kind_whose_task_ended_without_an_outcome_may_start_again() {
        let (mut runs, mut rx) = runs();
        let gone = hold(&mut runs, WizardKind::Backup, None);
        gone.cancel();
        while runs.is_running(WizardKind::Backup) {
            tokio::task::yield_now().await;
        }
        // No backup directory: this start is refused for that, not for the run that ended.
        assert!(matches!(runs.start(Start::Backup { force: false, keys_dir: None }), Err(NotStarted::Cannot(_))));
        assert!(rx.try_recv().is_err());
    }
}
