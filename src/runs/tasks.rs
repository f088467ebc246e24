//! What each run does from the console: its executor reached (the members,
//! the API, the hosts), then core's `drive` to the end, reporting on the one
//! progress channel.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Answers, RunProgress, RunSettings};
use crate::app::restore::Asked;
use crate::app::Start;
use crate::cli::ConsoleArgs;
use etcd_console_core::settings::{ConnectionSettings, KubeSettings};
use etcd_console_core::wizard::backup::executor::{drive as drive_backup, Progress as BackupProgress};
use etcd_console_core::wizard::backup::{BackupOptions, BackupRun};
use etcd_console_core::wizard::defrag::executor::run_in_background as defrag_in_background;
use etcd_console_core::wizard::encryption::executor::{
    drive as drive_encryption, BackupFirst, EncryptionExecutor, Progress as EncryptionProgress,
};
use etcd_console_core::wizard::encryption::{EncryptionRun, EncryptionType, Options as EncryptionOptions};

/// Starts the run on a task; `cancel` stops it. The answers' channel comes back for the kinds that ask.
pub(super) fn spawn(
    start: Start,
    settings: &RunSettings,
    cancel: CancellationToken,
    progress: &mpsc::UnboundedSender<RunProgress>,
) -> Result<(JoinHandle<()>, Option<Answers>), String> {
    let settings = settings.clone();
    Ok(match start {
        Start::Defrag { run, unfinished } => {
            let quota_bytes = run.options.quota_bytes;
            let task = defrag_in_background(
                settings.source,
                quota_bytes,
                *run,
                unfinished.map(|u| *u),
                settings.journal_dir,
                cancel,
                forward(progress, RunProgress::Defrag),
            );
            (tokio::spawn(task), None)
        }
        Start::Backup { force, keys_dir } => {
            let dir = settings.backup_dir.clone().ok_or_else(|| "no backup directory".to_string())?;
            let run = BackupRun::new(BackupOptions {
                force,
                keys_dir,
                ..crate::commands::backup::options_from(&settings.console, dir)
            })?;
            let task = backup_in_background(settings, run, cancel, forward(progress, RunProgress::Backup));
            (tokio::spawn(task), None)
        }
        Start::Encryption { target, backup_first } => {
            let (answers, answered) = mpsc::unbounded_channel();
            let task = encryption_in_background(
                settings,
                (target, backup_first),
                answered,
                cancel,
                forward(progress, RunProgress::Encryption),
            );
            (tokio::spawn(task), Some(Answers::Encryption(answers)))
        }
        Start::Restore { recovery_host } => {
            let (answers, answered) = mpsc::unbounded_channel();
            let person = ConsolePerson { asks: progress.clone(), answers: answered };
            let task =
                restore_in_background(settings, recovery_host, person, cancel, forward(progress, RunProgress::Restore));
            (tokio::spawn(task), Some(Answers::Restore(answers)))
        }
        Start::Member { member } => {
            let (answers, answered) = mpsc::unbounded_channel();
            let task = super::member::run(settings, member, progress.clone(), answered, cancel);
            (tokio::spawn(task), Some(Answers::Member(answers)))
        }
        Start::Space { from_backup } => {
            let task = super::space::run(settings, from_backup, cancel, forward(progress, RunProgress::Space));
            (tokio::spawn(task), None)
        }
    })
}

/// The restore's plan for this recovery host, on a task; it reports as the restore.
pub(super) fn plan_restore(
    settings: &RunSettings,
    recovery_host: Option<String>,
    progress: &mpsc::UnboundedSender<RunProgress>,
) {
    tokio::spawn(plan_restore_in_background(settings.clone(), recovery_host, forward(progress, RunProgress::Restore)));
}

/// A channel of one kind's progress, each message passed on (in order) as a `RunProgress`.
pub(super) fn forward<P: Send + 'static>(
    to: &mpsc::UnboundedSender<RunProgress>,
    wrap: fn(P) -> RunProgress,
) -> mpsc::UnboundedSender<P> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let to = to.clone();
    tokio::spawn(async move {
        while let Some(progress) = rx.recv().await {
            if to.send(wrap(progress)).is_err() {
                return;
            }
        }
    });
    tx
}

/// A backup started from the console: the members reached afresh, then the engine driven to its end.
async fn backup_in_background(
    settings: RunSettings,
    mut run: BackupRun,
    abort: CancellationToken,
    progress: mpsc::UnboundedSender<BackupProgress>,
) {
    tracing::info!(target: "audit", action = "backup", force = run.options.force, dir = %run.options.dir.display(), "asked from the console");
    let RunSettings { source, console, kube, .. } = settings;
    match etcd_console_core::wizard::backup::executor::BackupExecutor::for_source(
        &source,
        console.quota_bytes,
        kube.as_ref(),
        run.options.keys_dir.is_some(),
    )
    .await
    {
        Ok(mut executor) => {
            executor.shell = Some(restore_hosts(&console));
            drive_backup(&mut run, &executor, abort, progress).await
        }
        Err(e) => {
            run.refuse(e);
            let _ = progress.send(BackupProgress::Run(Box::new(run)));
        }
    }
}

/// The encryption wizard's run: the API reached, the engine driven to its end; the
/// user's answer to its question comes through `answers`.
async fn encryption_in_background(
    settings: RunSettings,
    (target, backup_first): (EncryptionType, bool),
    mut answers: mpsc::UnboundedReceiver<etcd_console_core::wizard::encryption::Answer>,
    abort: CancellationToken,
    progress: mpsc::UnboundedSender<EncryptionProgress>,
) {
    let RunSettings { source, console, kube, .. } = settings;
    tracing::info!(target: "audit", action = "encryption set", to = target.as_str(), backup_first, "asked from the console");
    let options = EncryptionOptions {
        wait: true,
        read_only: console.read_only,
        backup_first,
        // The console's backup saves no keys (the plan says so when they matter).
        backup_keys: false,
        poll: std::time::Duration::from_secs(5),
        // The console keeps following; a long quiet is shown, never a reason to stop.
        stall_after: None,
        hosted_cluster: kube.as_ref().and_then(|k| k.hosted_cluster.clone()),
    };
    let mut run = EncryptionRun::new(target, options);
    let Some(kube) = kube.filter(etcd_console_core::openshift::configured) else {
        run.cannot_start("no kubeconfig: give --kubeconfig FILE or set KUBECONFIG".into());
        let _ = progress.send(EncryptionProgress::Run(Box::new(run)));
        return;
    };
    let connection = match EncryptionExecutor::connect(&kube).await {
        Ok(connection) => connection,
        Err(e) => {
            run.cannot_start(e);
            let _ = progress.send(EncryptionProgress::Run(Box::new(run)));
            return;
        }
    };
    let backup = crate::commands::backup::backup_dir(None, &console).filter(|_| backup_first).map(|dir| BackupFirst {
        source,
        quota_bytes: console.quota_bytes,
        stall_limit: console.stall_limit(),
        kube: kube.clone(),
        dir,
        keys_dir: None,
    });
    let executor = EncryptionExecutor { connection, backup };
    drive_encryption(&mut run, &executor, &mut answers, abort, progress).await;
}

/// The person at the console: the engine's questions go to the screen as a typed prompt.
struct ConsolePerson {
    asks: mpsc::UnboundedSender<RunProgress>,
    answers: mpsc::UnboundedReceiver<String>,
}

impl etcd_console_core::wizard::restore::executor::Person for ConsolePerson {
    async fn confirm(&mut self, confirmation: &etcd_console_core::wizard::restore::Confirmation) -> Option<String> {
        let _ = self.asks.send(RunProgress::RestoreAsked(Asked::Confirm(confirmation.clone())));
        self.answers.recv().await
    }

    async fn done(&mut self, step: &etcd_console_core::wizard::restore::Step) -> bool {
        let _ = self.asks.send(RunProgress::RestoreAsked(Asked::Done(Box::new(step.clone()))));
        self.answers.recv().await.is_some_and(|a| a == "done")
    }
}

/// How the console reaches hosts: the shell main gave (the lab's), else ssh as core.
pub(super) fn restore_hosts(console: &ConsoleArgs) -> std::sync::Arc<dyn etcd_console_core::hosts::HostShell> {
    match &console.host_shell {
        Some(shell) => shell.clone(),
        None => std::sync::Arc::new(etcd_console_core::hosts::SshShell {
            user: "core".into(),
            key: None,
            options: Vec::new(),
        }),
    }
}

fn restore_options(
    console: &ConsoleArgs,
    kube: &KubeSettings,
    recovery_host: Option<String>,
    plan_only: bool,
) -> etcd_console_core::wizard::restore::Options {
    etcd_console_core::wizard::restore::Options {
        // The hosted procedure has no recovery host.
        recovery_host: recovery_host.filter(|h| !h.is_empty()),
        read_only: console.read_only,
        plan_only,
        remote_backup_dir: "/home/core/assets/backup".into(),
        hosted_cluster: kube.hosted_cluster.clone(),
        lost: console.restore_lost_hosts.clone(),
        backup_timestamp: console.restore_timestamp.clone(),
        force_lost: console.restore_force_lost.clone().filter(|r| !r.trim().is_empty()),
        ..Default::default()
    }
}

/// The restore's hands for the console: the backup of --restore-backup, the hosts of the lab or ssh.
async fn console_restore_executor(
    connection: &ConnectionSettings,
    console: &ConsoleArgs,
    kube: &KubeSettings,
    backup: &std::path::Path,
) -> Result<etcd_console_core::wizard::restore::executor::RestoreExecutor, String> {
    let poll = std::time::Duration::from_secs(5);
    crate::commands::restore::make_executor(connection, kube, backup, restore_hosts(console), poll).await
}

/// The restore's plan with this recovery host: the survey and the gates, nothing done.
async fn plan_restore_in_background(
    settings: RunSettings,
    recovery_host: Option<String>,
    progress: mpsc::UnboundedSender<etcd_console_core::wizard::restore::executor::Progress>,
) {
    let RunSettings { connection, console, kube, .. } = settings;
    use etcd_console_core::wizard::restore::{
        executor::Progress as RestoreProgress, Observed, Procedure, RestoreRun, Survey,
    };
    let (Some(backup), Some(kube)) = (console.restore_backup.clone(), kube) else { return };
    let procedure = if kube.hosted_cluster.is_some() { Procedure::Hosted } else { Procedure::Standalone };
    let mut run =
        RestoreRun::new(procedure, backup.display().to_string(), restore_options(&console, &kube, recovery_host, true));
    let survey = match console_restore_executor(&connection, &console, &kube, &backup).await {
        Ok(executor) => executor.survey(&run).await,
        Err(e) => Survey { unreadable: Some(e), ..Survey::default() },
    };
    run.observe(Observed::Surveyed(Box::new(survey)));
    let _ = progress.send(RestoreProgress::Run(Box::new(run)));
}

/// The restore's run (or the journalled one resumed) driven to its end from the console.
async fn restore_in_background(
    settings: RunSettings,
    recovery_host: String,
    person: ConsolePerson,
    abort: CancellationToken,
    progress: mpsc::UnboundedSender<etcd_console_core::wizard::restore::executor::Progress>,
) {
    let RunSettings { connection, console, kube, .. } = settings;
    use etcd_console_core::wizard::restore::{
        executor::Progress as RestoreProgress, Outcome, Procedure, RestoreRun, StepState,
    };
    let (Some(backup), Some(kube)) = (console.restore_backup.clone(), kube) else { return };
    let procedure = if kube.hosted_cluster.is_some() { Procedure::Hosted } else { Procedure::Standalone };
    let options = restore_options(&console, &kube, Some(recovery_host.clone()), false);
    let refuse = |reason: String| {
        let mut run = RestoreRun::new(procedure, backup.display().to_string(), options.clone());
        run.outcome = Some(Outcome::Refused { reasons: vec![reason] });
        let _ = progress.send(RestoreProgress::Run(Box::new(run)));
    };
    let executor = match console_restore_executor(&connection, &console, &kube, &backup).await {
        Ok(executor) => executor,
        Err(e) => return refuse(e),
    };
    let server = match &executor.connection {
        Ok(c) => c.server.clone(),
        Err(e) => return refuse(e.clone()),
    };
    let Some(journal_dir) = console.journal_dir.clone().or_else(etcd_console_core::journal::default_dir) else {
        return refuse("no home directory to keep the journal in: give --journal-dir".into());
    };
    tracing::info!(target: "audit", backup = %backup.display(), recovery_host = %recovery_host, server = %server, "restore: run asked from the console");
    let mut said = |_: serde_json::Value, text: String| tracing::info!("{text}");
    let (mut run, mut journal) = match crate::commands::restore::open_run(
        &journal_dir,
        &server,
        procedure,
        &backup,
        options.clone(),
        &[],
        &mut said,
    ) {
        Ok(opened) => opened,
        Err((_, e)) => return refuse(e),
    };
    let mut person = person;
    // A journalled run past the point of no return goes on only after the name is typed again.
    if run.began() {
        if let Some(mut confirmation) = run.confirmation() {
            let at = run
                .steps
                .iter()
                .zip(&run.records)
                .find(|(_, r)| matches!(r.state, StepState::Pending | StepState::Running))
                .map(|(s, _)| format!("step {}: {}", s.id, s.title))
                .unwrap_or_default();
            confirmation.point_of_no_return = format!("already passed: this resumes the journalled run at {at}");
            let name = confirmation.cluster_name.clone();
            let typed = etcd_console_core::wizard::restore::executor::Person::confirm(&mut person, &confirmation).await;
            if typed.as_deref() != Some(name.as_str()) {
                // Stopped where it was: the journal keeps it.
                run.halt("not resumed: the cluster's name was not typed".into());
                let _ = progress.send(RestoreProgress::Run(Box::new(run)));
                return;
            }
        }
    }
    let mut writer = |run: &RestoreRun| journal.record(run).map_err(String::from);
    etcd_console_core::wizard::restore::executor::drive(
        &mut run,
        &executor,
        &mut person,
        abort,
        &progress,
        &mut writer,
    )
    .await;
    if run.finished_for_good() {
        let _ = journal.finish();
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    #[test]
    fn the_consoles_restore_plans_with_the_hosts_declared_lost_on_its_command_line() {
        let cli = Cli::try_parse_from([
            "etcd-console",
            "--restore-backup",
            "/backups/restore",
            "--restore-lost-host",
            "master-2",
            "--restore-lost-host",
            "master-1",
        ])
        .unwrap();
        let options = restore_options(&cli.console, &cli.kube.settings(), Some("master-0".into()), true);
        assert_eq!(options.lost, ["master-2", "master-1"]);
        assert_eq!(options.recovery_host.as_deref(), Some("master-0"));
        // The lab's console takes it too (the flag is global).
        let cli = Cli::try_parse_from(["etcd-console", "lab", "--restore-lost-host", "master-2"]).unwrap();
        assert_eq!(restore_options(&cli.console, &cli.kube.settings(), None, true).lost, ["master-2"]);
    }
}
