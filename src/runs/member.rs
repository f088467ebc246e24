//! The member replacement from the console (`M`): its plan (a survey with
//! `plan_only`, not a run) and its run, both core's `wizard::member` engine
//! driven as `etcd-console member plan|replace` drives it, with the console's
//! flags for options and the screen's prompt for the person.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::tasks::{forward, restore_hosts};
use super::{RunProgress, RunSettings};
use crate::app::member::Asked;
use crate::cli::ConsoleArgs;
use etcd_console_core::settings::KubeSettings;
use etcd_console_core::wizard::backup::Via;
use etcd_console_core::wizard::member::engine::Confirmation;
use etcd_console_core::wizard::member::executor::{drive, MemberExecutor, Person, Progress};
use etcd_console_core::wizard::member::journal::{open_run, unfinished};
use etcd_console_core::wizard::member::{MemberRun, Observed, Options, Outcome, Step, Survey, DEFAULT_MAX_BACKUP_AGE};

/// How often a step's check is asked again from the console.
const POLL: Duration = Duration::from_secs(5);

/// The engine's options from the console's flags: the backup directory as `member` takes it
/// (`--backup-dir` or its default), `--read-only`, `--hosted-cluster`, `--member-force`,
/// `--member-no-backup`; host steps through a debug pod, as `member --via api`. The backup
/// directory is empty when there is no home directory to default to (the run is refused).
pub(super) fn options(console: &ConsoleArgs, kube: Option<&KubeSettings>, member: &str, plan_only: bool) -> Options {
    Options {
        member: member.trim().to_string(),
        force: console.member_force.as_ref().map(|r| r.trim().to_string()).filter(|r| !r.is_empty()),
        procedure: None,
        max_backup_age_seconds: DEFAULT_MAX_BACKUP_AGE.as_secs(),
        no_backup: console.member_no_backup,
        backup_dir: crate::commands::member::backup_dir(console)
            .map(|dir| dir.display().to_string())
            .unwrap_or_default(),
        read_only: console.read_only,
        plan_only,
        hosted_cluster: kube.and_then(|k| k.hosted_cluster.clone()),
        via: Via::Api.as_str().to_string(),
    }
}

const NO_BACKUP_DIR: &str = "no home directory for backups: start the console with --backup-dir DIR";

/// The engine's hands: the cluster's API, the members the console reaches, the hosts (the lab's, or ssh).
async fn executor(settings: &RunSettings) -> Result<MemberExecutor, String> {
    let kube = settings
        .kube
        .clone()
        .filter(etcd_console_core::openshift::configured)
        .ok_or("replacing a member needs the cluster's API: start the console with --kubeconfig FILE")?;
    let connection = etcd_console_core::openshift::connect(&kube).await.map_err(String::from)?;
    Ok(MemberExecutor {
        connection,
        kube,
        etcd: settings.source.clone(),
        hosts: Some(restore_hosts(&settings.console)),
        via: Via::Api,
        debug_image: None,
        poll: POLL,
        quota_bytes: settings.console.quota_bytes,
        approved_csrs: Default::default(),
    })
}

/// A run ended before its engine could begin: refused with why.
fn refused(options: Options, reason: String) -> MemberRun {
    let mut run = MemberRun::new(options);
    run.outcome = Some(Outcome::Refused { reasons: vec![reason] });
    run
}

/// The plan for `member` on a task: the survey and the gates, nothing done.
pub(super) fn plan(settings: &RunSettings, member: String, progress: &mpsc::UnboundedSender<RunProgress>) {
    let settings = settings.clone();
    let asks = progress.clone();
    let progress = forward(progress, RunProgress::Member);
    tokio::spawn(async move {
        let options = options(&settings.console, settings.kube.as_ref(), &member, true);
        if options.backup_dir.is_empty() {
            let _ = progress.send(Progress::Run(Box::new(refused(options, NO_BACKUP_DIR.into()))));
            return;
        }
        let mut run = MemberRun::new(options);
        let survey = match executor(&settings).await {
            Ok(executor) => {
                if let Some(at) = journalled(&settings, &executor.connection.server, &member) {
                    let _ = asks.send(RunProgress::MemberJournalled { member: member.clone(), at });
                }
                executor.survey(&run.options).await
            }
            Err(e) => Survey { unreadable: Some(e), ..Survey::default() },
        };
        run.observe(Observed::Surveyed(Box::new(survey)));
        let _ = progress.send(Progress::Run(Box::new(run)));
    });
}

/// Where the journal's unfinished replacement of `member` stopped, when one has begun (a small
/// local file; its lock is not taken: the run does that).
fn journalled(settings: &RunSettings, server: &str, member: &str) -> Option<String> {
    let dir = settings.journal_dir.as_ref()?;
    let (found, _) = unfinished(dir, server).ok().flatten()?;
    if !found.is_of(member) || !found.begun() {
        return None;
    }
    Some(found.resume_point())
}

/// The person at the console: the engine's questions go to the screen as a typed prompt.
struct ConsolePerson {
    asks: mpsc::UnboundedSender<RunProgress>,
    answers: mpsc::UnboundedReceiver<String>,
}

impl Person for ConsolePerson {
    async fn confirm(&mut self, confirmation: &Confirmation) -> Option<String> {
        let _ = self.asks.send(RunProgress::MemberAsked(Asked::Confirm(confirmation.clone())));
        self.answers.recv().await.filter(|typed| !typed.is_empty())
    }

    async fn done(&mut self, step: &Step) -> bool {
        let _ = self.asks.send(RunProgress::MemberAsked(Asked::Done(Box::new(step.clone()))));
        self.answers.recv().await.is_some_and(|a| a == "done")
    }
}

/// The replacement of `member` (or its unfinished run in the journal, resumed) driven to its end.
pub(super) async fn run(
    settings: RunSettings,
    member: String,
    asks: mpsc::UnboundedSender<RunProgress>,
    answers: mpsc::UnboundedReceiver<String>,
    abort: CancellationToken,
) {
    let progress = forward(&asks, RunProgress::Member);
    let options = options(&settings.console, settings.kube.as_ref(), &member, false);
    let refuse = |reason: String| {
        let _ = progress.send(Progress::Run(Box::new(refused(options.clone(), reason))));
    };
    if options.backup_dir.is_empty() {
        return refuse(NO_BACKUP_DIR.into());
    }
    let executor = match executor(&settings).await {
        Ok(executor) => executor,
        Err(e) => return refuse(e),
    };
    let Some(journal_dir) = settings.journal_dir.clone() else {
        return refuse("no home directory to keep the journal in: start the console with --journal-dir DIR".into());
    };
    let server = executor.connection.server.clone();
    let (mut run, mut journal, resumed) = match open_run(&journal_dir, &server, &options) {
        Ok(opened) => opened,
        Err(e) => return refuse(e.to_string()),
    };
    if let Some(path) = resumed {
        tracing::info!(journal = %path.display(), "member replacement: resuming the journalled run");
    }
    tracing::info!(target: "audit", member = %options.member, server = %server, force = ?options.force, no_backup = options.no_backup, "member replacement: run asked from the console");
    let mut person = ConsolePerson { asks, answers };
    let mut writer = |run: &MemberRun| journal.record(run).map_err(|e| e.to_string());
    drive(&mut run, &executor, &mut person, abort, &progress, &mut writer).await;
    if run.finished_for_good() {
        if let Err(e) = journal.finish() {
            tracing::warn!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    #[test]
    fn the_consoles_flags_make_the_engines_options() {
        let cli = Cli::try_parse_from([
            "etcd-console",
            "--backup-dir",
            "/srv/backups",
            "--read-only",
            "--member-force",
            " its disk is failing ",
            "--member-no-backup",
            "--hosted-cluster",
            "clusters/hosted",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let kube = cli.kube.settings();
        let options = options(&cli.console, Some(&kube), "master-1", true);
        assert_eq!(options.member, "master-1");
        assert_eq!(options.backup_dir, "/srv/backups");
        assert!(options.read_only && options.plan_only && options.no_backup);
        assert_eq!(options.force.as_deref(), Some("its disk is failing"));
        assert_eq!(options.hosted_cluster.as_deref(), Some("clusters/hosted"));
        assert_eq!(options.via, "api");
        assert_eq!(options.max_backup_age_seconds, DEFAULT_MAX_BACKUP_AGE.as_secs());
    }
}
