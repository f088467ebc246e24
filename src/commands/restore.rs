//! `etcd-console restore plan | run`: the headless front end of the restore
//! wizards (`wizard::restore`).
//!
//! plan: exit 0 every gate passes, 1 a gate does not (or the cluster cannot
//! be read), 2 bad input. run: exit 0 restored, 1 refused, not allowed,
//! cancelled or stopped (run it again to resume), 2 bad input.

use super::output::errln;
use std::io::IsTerminal;
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::output::{outln, safe, Printer};
use crate::cli::{ConsoleArgs, OutputFormat, RestoreArgs, RestoreCommand, RestoreTarget};
use etcd_console_core::etcd::source::EtcdSource;
use etcd_console_core::settings::{ConnectionSettings, KubeSettings};
use etcd_console_core::wizard::restore::executor::{drive, Person, Progress, RestoreExecutor};
use etcd_console_core::wizard::restore::journal::{unfinished, RestoreJournal};
use std::sync::Arc;

use etcd_console_core::hosts::HostShell;
use etcd_console_core::wizard::restore::{
    Check, Confirmation, Options, Outcome, Procedure, RestoreRun, Step, StepState, QUORUM_GUARD_ON,
};

const BAD_INPUT: i32 = 2;

fn options(target: &RestoreTarget, kube: &KubeSettings, read_only: bool, plan_only: bool) -> Options {
    Options {
        recovery_host: target.recovery_host.clone(),
        lost: target.lost_hosts.clone(),
        manual_hosts: target.manual_hosts,
        read_only,
        plan_only,
        remote_backup_dir: target.remote_backup_dir.trim_end_matches('/').to_string(),
        hosted_cluster: kube.hosted_cluster.clone(),
        mark_done: Vec::new(),
        backup_timestamp: target.timestamp.clone(),
        force_lost: target.force_lost.as_ref().map(|r| r.trim().to_string()),
        nodes_ready_wait_seconds: Some(target.nodes_ready_wait.as_secs().max(1)),
    }
}

async fn executor(
    connection: &ConnectionSettings,
    kube: &KubeSettings,
    target: &RestoreTarget,
    shell: Option<Arc<dyn HostShell>>,
    poll: Duration,
) -> Result<RestoreExecutor, String> {
    if target.force_lost.as_ref().is_some_and(|r| r.trim().is_empty()) {
        return Err("--force-lost needs a reason (it goes to the journal and the audit log)".into());
    }
    let hosts = shell.unwrap_or_else(|| Arc::new(target.ssh.shell()));
    make_executor(connection, kube, &target.backup, hosts, poll).await
}

/// The restore's hands for this backup; Err is bad input (no directory, no kubeconfig, bad flags).
pub(crate) async fn make_executor(
    connection: &ConnectionSettings,
    kube: &KubeSettings,
    backup: &std::path::Path,
    hosts: Arc<dyn HostShell>,
    poll: Duration,
) -> Result<RestoreExecutor, String> {
    if !backup.is_dir() {
        return Err(format!("the backup directory {} does not exist", backup.display()));
    }
    if !etcd_console_core::openshift::configured(kube) {
        return Err("restore needs the OpenShift API: give --kubeconfig FILE or set KUBECONFIG".into());
    }
    let etcd = EtcdSource::choose(connection, Some(kube))?;
    Ok(RestoreExecutor {
        connection: etcd_console_core::openshift::connect(kube).await.map_err(String::from),
        kube: kube.clone(),
        etcd,
        hosts,
        backup_dir: backup.to_path_buf(),
        poll,
    })
}

/// A run to drive: the journalled one of this API server, resumed (same recovery host and
/// backup, or refused), or a new one; with its journal, locked. Says what it resumes in `said`.
pub(crate) fn open_run(
    journal_dir: &std::path::Path,
    server: &str,
    procedure: Procedure,
    backup: &std::path::Path,
    wanted: Options,
    mark_done: &[String],
    said: &mut dyn FnMut(serde_json::Value, String),
) -> Result<(RestoreRun, RestoreJournal), (i32, String)> {
    // The lock first: a second run of this cluster is refused before it reads anything.
    let journal = RestoreJournal::open(journal_dir, server).map_err(|e| (1, e.to_string()))?;
    // A member replacement half done: its member is gone from etcd and its steps must end first.
    if let Some((member, path)) = etcd_console_core::wizard::member::journal::unfinished(journal_dir, server)
        .map_err(|e| (BAD_INPUT, e.to_string()))?
        .filter(|(run, _)| run.begun())
    {
        return Err((
            1,
            format!(
                "an unfinished replacement of member {} is in {}: resume it (`member replace`) before restoring",
                member.member_label(),
                path.display()
            ),
        ));
    }
    let run = match unfinished(journal_dir, server).map_err(|e| (BAD_INPUT, e.to_string()))? {
        Some((found, path)) if found.aborting => {
            return Err((
                1,
                format!(
                    "the restore of {server} journalled in {} is being aborted: run `restore abort` again (the same flags) to finish that",
                    path.display()
                ),
            ))
        }
        Some((mut found, path)) => {
            if found.options.recovery_host != wanted.recovery_host
                || found.backup_dir != backup.display().to_string()
                || (wanted.backup_timestamp.is_some() && found.options.backup_timestamp != wanted.backup_timestamp)
            {
                return Err((
                    BAD_INPUT,
                    format!(
                        "an unfinished restore of {server} is in {} (recovery host {}, backup {}{}): run it again with the same recovery host and backup to resume it, or move the journal away to start anew",
                        path.display(),
                        found.options.recovery_host.as_deref().unwrap_or("-"),
                        found.backup_dir,
                        found.options.backup_timestamp.as_deref().map(|ts| format!(", --timestamp {ts}")).unwrap_or_default()
                    ),
                ));
            }
            found.options.read_only = wanted.read_only;
            found.options.manual_hosts = wanted.manual_hosts;
            found.resume(mark_done);
            if found.stage == etcd_console_core::wizard::restore::Stage::Survey {
                said(
                    json!({"event": "resurveying"}),
                    "nothing past the point of no return had begun: the cluster is surveyed, gated and confirmed anew"
                        .into(),
                );
            }
            let at = found
                .records
                .iter()
                .zip(&found.steps)
                .find(|(r, _)| matches!(r.state, StepState::Pending | StepState::Running))
                .map(|(_, s)| format!("step {}: {}", s.id, s.title))
                .unwrap_or_else(|| "the start".into());
            said(
                json!({"event": "resuming", "journal": path, "at": at}),
                format!(
                    "resuming the restore journalled in {} at {at} (re-checked before anything is done)",
                    path.display()
                ),
            );
            found
        }
        None => RestoreRun::new(procedure, backup.display().to_string(), wanted),
    };
    Ok((run, journal))
}

/// The journalled hosted run of this API server turned into its abort (or an abort stopped before, resumed);
/// with its journal, locked. Err: none to abort, or it may not be (and what to do instead).
fn open_abort(
    journal_dir: &std::path::Path,
    server: &str,
    said: &mut dyn FnMut(serde_json::Value, String),
) -> Result<(RestoreRun, RestoreJournal), (i32, String)> {
    let journal = RestoreJournal::open(journal_dir, server).map_err(|e| (1, e.to_string()))?;
    let Some((mut found, path)) = unfinished(journal_dir, server).map_err(|e| (BAD_INPUT, e.to_string()))? else {
        return Err((1, format!("no unfinished restore of {server} to abort")));
    };
    found.begin_abort().map_err(|e| {
        let resume =
            if found.procedure == Procedure::Hosted { format!(": {}", command_line("run")) } else { String::new() };
        (1, format!("{e}{resume}"))
    })?;
    said(
        json!({"event": "aborting", "journal": path, "steps": found.steps.iter().map(|s| &s.id).collect::<Vec<_>>()}),
        format!("aborting the restore journalled in {}: {} step(s) bring it back", path.display(), found.steps.len()),
    );
    Ok((found, journal))
}

/// This command line again with `restore run|abort` as `verb`, quoted for a POSIX shell.
fn command_line(verb: &str) -> String {
    let mut args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "restore") {
        if let Some(word) = args.get_mut(at + 1).filter(|w| *w == "run" || *w == "abort") {
            *word = verb.to_string();
        }
    }
    args.iter().map(|a| shell_quoted(&safe(a))).collect::<Vec<_>>().join(" ")
}

fn shell_quoted(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// `restore plan|run`. `shell` reaches the hosts instead of ssh (main gives the lab's for `--lab-dir`).
pub async fn run(
    connection: &ConnectionSettings,
    console: &ConsoleArgs,
    kube: &KubeSettings,
    args: &RestoreArgs,
    shell: Option<Arc<dyn HostShell>>,
) -> i32 {
    let procedure = if kube.hosted_cluster.is_some() { Procedure::Hosted } else { Procedure::Standalone };
    match &args.command {
        RestoreCommand::Plan(plan) => {
            let executor = match executor(connection, kube, &plan.target, shell, Duration::from_secs(5)).await {
                Ok(executor) => executor,
                Err(e) => {
                    errln!("etcd-console: {e}");
                    return BAD_INPUT;
                }
            };
            let mut run = RestoreRun::new(
                procedure,
                plan.target.backup.display().to_string(),
                options(&plan.target, kube, console.read_only, true),
            );
            let survey = executor.survey(&run).await;
            run.observe(etcd_console_core::wizard::restore::Observed::Surveyed(Box::new(survey)));
            let json = plan.target.output == OutputFormat::Json;
            print_plan(&run, executor.hosts.as_ref(), json);
            let outcome = run.outcome().cloned().unwrap_or(Outcome::Cancelled);
            if json {
                outln!(
                    "{}",
                    json!({"event": "outcome", "outcome": outcome, "message": outcome.describe(), "exit_code": outcome.exit_code()})
                );
            } else {
                outln!("{}", outcome.describe());
            }
            outcome.exit_code()
        }
        RestoreCommand::Run(args) => run_restore(connection, console, kube, args, procedure, shell, false).await,
        RestoreCommand::Abort(args) => run_restore(connection, console, kube, args, procedure, shell, true).await,
    }
}

fn check_text(check: &Check) -> String {
    match check {
        Check::Answer => "its answer".into(),
        Check::HostPrintsNothing { command, .. } => format!("`{command}` prints nothing"),
        Check::HostPrintsSomething { command, .. } => format!("`{command}` prints the container"),
        Check::EtcdMembers { count } => format!("etcd: {count} started member(s), all healthy"),
        Check::NodesReady => "every node Ready (else step 9a)".into(),
        Check::NoValidPendingCsrs => "no valid CSR pending, every node Ready".into(),
        Check::WorkersBootstrapping => "each worker restarted is Ready or has a node-bootstrapper CSR pending".into(),
        Check::PodsRunning { namespace, selector, count, .. } => match count {
            Some(n) => format!("{n} pod(s) {selector} in {namespace} Running"),
            None => format!("pods {selector} in {namespace} Running"),
        },
        Check::MachineReplaced { name } => format!("a new Machine for {name} Running"),
        Check::QuorumGuardOff { off: true } => "unsupportedConfigOverrides set".into(),
        Check::QuorumGuardOff { off: false } => "unsupportedConfigOverrides removed".into(),
        Check::AllNodesAtLatestRevision { operator } => {
            format!("{} NodeInstallerProgressing AllNodesAtLatestRevision", operator.short())
        }
        Check::NoFailWebhooks => "no webhook with failurePolicy Fail".into(),
        Check::FailurePolicy { webhooks, policy } => format!("failurePolicy {policy} on {}", webhooks.join(", ")),
        Check::ApiAnswers => "the API answers (oc whoami)".into(),
        Check::Paused { paused } => format!("spec.pausedUntil {}", if *paused { "\"true\"" } else { "cleared" }),
        Check::Replicas { kind, name, replicas } => format!("{kind} {name} at {replicas} replicas"),
        Check::NoPods { namespace, selector } => format!("no pod {selector} left in {namespace}"),
        Check::MembersAgree { count } => {
            format!("etcd: {count} members healthy, one revision and one key-value hash on every member")
        }
        Check::PersonConfirms => "you confirm".into(),
    }
}

fn print_plan(run: &RestoreRun, hosts: &dyn HostShell, json: bool) {
    let survey = run.survey.as_ref();
    if json {
        let steps: Vec<serde_json::Value> = run
            .steps
            .iter()
            .map(|s| {
                json!({"id": s.id, "title": s.title, "place": s.place.as_str(), "node": s.node, "act": s.act,
                    "check": s.check, "check_text": check_text(&s.check), "limit_seconds": s.limit_seconds,
                    "point_of_no_return": s.point_of_no_return, "redo_safe": s.redo_safe, "commands": s.shown})
            })
            .collect();
        let value = json!({"event": "plan", "procedure": run.procedure,
            "cluster": survey.map(|s| json!({"name": s.cluster_name, "api_url": s.api_url, "cluster_id": s.cluster_id, "version": s.version})),
            "backup": survey.map(|s| &s.backup), "hosts": hosts.describe(),
            "recovery_host": run.options.recovery_host, "gates": run.gates, "steps": steps,
            "problem": survey.and_then(|s| s.unreadable.clone())});
        outln!("{value}");
        return;
    }
    if let Some(survey) = survey {
        if let Some(problem) = &survey.unreadable {
            outln!("cannot make the plan: {problem}");
            return;
        }
        outln!(
            "restore of {} ({}, cluster ID {}, {}) from {}",
            survey.cluster_name,
            survey.api_url,
            survey.cluster_id.as_deref().unwrap_or("?"),
            survey.version.as_deref().unwrap_or("version ?"),
            survey.backup.dir
        );
        if run.procedure == Procedure::Standalone {
            let through = if run.options.manual_hosts { "you (--manual-hosts)".into() } else { hosts.describe() };
            outln!("host steps through {through}");
        }
        print_backup(&survey.backup, run.procedure);
    }
    outln!("gates (all must pass before the point of no return):");
    for gate in &run.gates {
        outln!("  [{}] {:<24} {}", if gate.passed { "ok" } else { "NO" }, gate.id, gate.detail);
    }
    outln!("steps:");
    let width = run.steps.iter().map(|s| s.id.len()).max().unwrap_or(0).max(8);
    for step in &run.steps {
        let place = match &step.node {
            Some(node) => format!("{}:{node}", step.place.as_str()),
            None => step.place.as_str().to_string(),
        };
        let mark = if step.point_of_no_return { "  <- point of no return" } else { "" };
        outln!("  {:<width$} {:<16} {}{mark}", step.id, place, step.title);
        for command in &step.shown {
            outln!("  {:<width$} {:<16}   $ {command}", "", "");
        }
        if step.check != Check::Answer {
            outln!("  {:<width$} {:<16}   check: {}", "", "", check_text(&step.check));
        }
    }
}

/// Which backup of the directory is taken and why, the newer ones passed over, and the archive's secrecy.
fn print_backup(backup: &etcd_console_core::wizard::restore::BackupFacts, procedure: Procedure) {
    let Some(ts) = &backup.timestamp else { return };
    let plain = etcd_console_core::backup::directory::plain_timestamp(ts);
    let because = backup.chosen_because.as_deref().unwrap_or("the backup there");
    outln!("backup {plain}: {because}; copied: {}", safe(&backup.files.join(", ")));
    for passed in &backup.passed_over {
        outln!("  passed over {}: {}", safe(&passed.timestamp), safe(&passed.why));
    }
    if procedure == Procedure::Standalone && backup.static_resources.is_some() {
        outln!("  note: {}", etcd_console_core::wizard::restore::STATIC_RESOURCES_SECRET);
    }
    for note in &backup.notes {
        outln!("  note: {}", safe(note));
    }
}

/// The person at the terminal (stderr prompts), or --yes.
struct Terminal {
    yes: bool,
    interactive: bool,
}

impl Person for Terminal {
    async fn confirm(&mut self, confirmation: &Confirmation) -> Option<String> {
        if self.yes {
            return Some(confirmation.cluster_name.clone());
        }
        if !self.interactive {
            errln!("etcd-console: no terminal to confirm on: give --yes (the gates still hold)");
            return None;
        }
        let question = format!(
            "\nRestore {} ({}) on {} from {}.\nThe point of no return is {}.\nType the cluster name ({}) to go on: ",
            confirmation.cluster_name,
            confirmation.api_url,
            confirmation.recovery_host,
            confirmation.backup,
            confirmation.point_of_no_return,
            confirmation.cluster_name
        );
        tokio::task::spawn_blocking(move || super::prompt::ask(&question)).await.ok().flatten()
    }

    async fn done(&mut self, step: &Step) -> bool {
        if !self.interactive {
            errln!("etcd-console: step {} needs you (no terminal here): run again on a terminal to go on", step.id);
            return false;
        }
        let mut question = format!("\nstep {}: {}\n", step.id, step.title);
        if let etcd_console_core::wizard::restore::Act::Person { instruction } = &step.act {
            question.push_str(&format!("  {instruction}\n"));
        }
        for command in &step.shown {
            question.push_str(&format!("  on {}: {command}\n", step.node.as_deref().unwrap_or("the host")));
        }
        question.push_str("Type done when it is done (anything else stops here; run again to resume): ");
        tokio::task::spawn_blocking(move || super::prompt::ask(&question))
            .await
            .ok()
            .flatten()
            .is_some_and(|a| a == "done")
    }
}

async fn run_restore(
    connection: &ConnectionSettings,
    console: &ConsoleArgs,
    kube: &KubeSettings,
    args: &crate::cli::RestoreRunArgs,
    procedure: Procedure,
    shell: Option<Arc<dyn HostShell>>,
    abort_it: bool,
) -> i32 {
    let json = args.target.output == OutputFormat::Json;
    let executor = match executor(connection, kube, &args.target, shell, args.poll).await {
        Ok(executor) => executor,
        Err(e) => {
            errln!("etcd-console: {e}");
            return BAD_INPUT;
        }
    };
    let Some(journal_dir) = console.journal_dir.clone().or_else(etcd_console_core::journal::default_dir) else {
        errln!("etcd-console: no home directory to keep the journal in: give --journal-dir");
        return BAD_INPUT;
    };
    // The journal is found by the kubeconfig's server, which needs no answer from it.
    let server = match &executor.connection {
        Ok(c) => c.server.clone(),
        Err(e) => {
            errln!("etcd-console: {e}");
            return BAD_INPUT;
        }
    };
    let wanted = options(&args.target, kube, console.read_only, false);
    let mut said = |value: serde_json::Value, text: String| Printer::new(json).line(value, text);
    let opened = if abort_it {
        open_abort(&journal_dir, &server, &mut said)
    } else {
        open_run(&journal_dir, &server, procedure, &args.target.backup, wanted, &args.mark_done, &mut said)
    };
    let (mut run, mut journal) = match opened {
        Ok(opened) => opened,
        Err((code, e)) => {
            errln!("etcd-console: {e}");
            if json {
                outln!(
                    "{}",
                    json!({"event": "outcome", "outcome": {"outcome": "refused", "reasons": [e]}, "message": e, "exit_code": code})
                );
            }
            return code;
        }
    };
    let journal_path = journal.path().to_path_buf();
    tracing::info!(target: "audit", backup = %args.target.backup.display(), recovery_host = ?args.target.recovery_host, server = %server, "restore: run requested");
    let abort = CancellationToken::new();
    let (progress_tx, mut progress_rx) = mpsc::unbounded_channel();
    let hosts = executor.hosts.clone();
    let mut person = Terminal { yes: args.yes, interactive: std::io::stdin().is_terminal() };
    let mut planned = run.stage != etcd_console_core::wizard::restore::Stage::Survey;
    let printer = tokio::spawn(async move {
        let mut shown_steps = std::collections::BTreeMap::new();
        while let Some(progress) = progress_rx.recv().await {
            match progress {
                Progress::Began { index, step } => {
                    let place = step.node.clone().map(|n| format!(" on {n}")).unwrap_or_default();
                    Printer::new(json).line(
                        json!({"event": "step", "index": index, "id": step.id, "title": step.title, "place": step.place.as_str(), "node": step.node, "commands": step.shown}),
                        format!(
                            "step {} [{}{place}] {}{}",
                            step.id,
                            step.place.as_str(),
                            step.title,
                            step.shown.first().map(|c| format!("\n    $ {c}")).unwrap_or_default()
                        ),
                    );
                }
                Progress::Run(run) => {
                    if !planned && !run.steps.is_empty() {
                        planned = true;
                        print_plan(&run, hosts.as_ref(), json);
                    }
                    for (index, (record, step)) in run.records.iter().zip(&run.steps).enumerate() {
                        if matches!(record.state, StepState::Done | StepState::Skipped | StepState::Failed)
                            && shown_steps.insert(index, ()).is_none()
                        {
                            let word = match record.state {
                                StepState::Done => "done",
                                StepState::Skipped => "skipped",
                                _ => "FAILED",
                            };
                            let detail = record.detail.trim();
                            Printer::new(json).line(
                                json!({"event": "step_ended", "id": step.id, "state": record.state, "detail": detail, "redeployment_reason": record.reason}),
                                format!(
                                    "    {word}{}",
                                    if detail.is_empty() {
                                        String::new()
                                    } else {
                                        format!(": {}", detail.replace('\n', "\n      "))
                                    }
                                ),
                            );
                        }
                    }
                }
            }
        }
    });
    {
        let mut writer = |run: &RestoreRun| {
            journal.record(run).map_err(String::from).inspect_err(|e| {
                tracing::warn!("{e}");
                errln!("etcd-console: {e}");
            })
        };
        let drive_future = drive(&mut run, &executor, &mut person, abort.clone(), &progress_tx, &mut writer);
        tokio::pin!(drive_future);
        let mut interrupts = 0;
        loop {
            tokio::select! {
                () = &mut drive_future => break,
                _ = super::interrupt::interrupted() => {
                    interrupts += 1;
                    if interrupts > 1 {
                        errln!("etcd-console: interrupted twice: leaving now; the journal {} has where it stopped", journal_path.display());
                        return 1;
                    }
                    errln!("etcd-console: stopping after the step in flight is checked ... (Ctrl-C again leaves now)");
                    abort.cancel();
                }
            }
        }
    }
    drop(progress_tx);
    let _ = printer.await;
    let outcome = run.outcome().cloned().unwrap_or(Outcome::Cancelled);
    let kept = if run.finished_for_good() { journal.finish().ok() } else { None };
    let mut message = outcome.describe();
    if run.aborting && outcome == Outcome::Completed {
        message = "aborted: the data pods are gone, etcd and the API servers are back at their replicas and reconciliation is resumed; the members' data was not touched".into();
    }
    if run.quorum_guard_off && !message.contains("QUORUM GUARD") {
        message.push_str(&format!("; the quorum guard is OFF: {QUORUM_GUARD_ON}"));
    }
    // A stopped run says exactly how to go on, and a hosted one how to give up while it still may.
    let stopped = matches!(outcome, Outcome::Stopped { .. }) && !run.finished_for_good();
    let resume_command = stopped.then(|| command_line(if run.aborting { "abort" } else { "run" }));
    let abort_command = (stopped && !run.aborting && run.abortable().is_ok()).then(|| command_line("abort"));
    if let Some(command) = &resume_command {
        message.push_str(&format!("\nto resume: {command}"));
    }
    if let Some(command) = &abort_command {
        message
            .push_str(&format!("\nto give up instead (writers and reconciliation back, nothing restored): {command}"));
    }
    Printer::new(json).line(
        json!({"event": "outcome", "outcome": outcome, "message": message, "exit_code": outcome.exit_code(),
            "journal": kept.clone().unwrap_or(journal_path.clone()), "quorum_guard_off": run.quorum_guard_off,
            "resume_command": resume_command, "abort_command": abort_command, "aborted": run.aborting}),
        format!("{message}\njournal: {}", kept.unwrap_or(journal_path).display()),
    );
    tracing::info!(target: "audit", outcome = %outcome.describe(), "restore: run ended");
    outcome.exit_code()
}
