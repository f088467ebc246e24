//! `etcd-console member plan | replace NAME|ID`: the headless front end of the
//! member-replacement wizard (`wizard::member`).
//!
//! plan: exit 0 every gate passes, 1 a gate does not (or the cluster cannot
//! be read), 2 bad input. replace: exit 0 replaced, 1 refused, not allowed,
//! cancelled or stopped (run it again to resume), 2 bad input.

use super::output::errln;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::output::{outln, safe, Printer};
use crate::cli::{ConsoleArgs, MemberArgs, MemberCommand, MemberTarget, OutputFormat};
use etcd_console_core::etcd::source::EtcdSource;
use etcd_console_core::hosts::HostShell;
use etcd_console_core::journal::JournalError;
use etcd_console_core::settings::{ConnectionSettings, KubeSettings};
use etcd_console_core::wizard::member::engine::{Confirmation, Stage};
use etcd_console_core::wizard::member::executor::{drive, MemberExecutor, Person, Progress};
use etcd_console_core::wizard::member::journal::{open_run, NotOpened};
use etcd_console_core::wizard::member::{
    unhealthy_because, Act, MemberRun, Observed, Options, Outcome, Step, StepState, Survey,
};
use etcd_console_core::wizard::restore::QUORUM_GUARD_ON;

const BAD_INPUT: i32 = 2;

/// The default backup directory: `--backup-dir`, else the XDG data directory's.
pub(crate) fn backup_dir(console: &ConsoleArgs) -> Option<std::path::PathBuf> {
    console.backup_dir.clone().or_else(etcd_console_core::paths::backups_dir)
}

fn options(
    target: &MemberTarget,
    console: &ConsoleArgs,
    kube: &KubeSettings,
    plan_only: bool,
) -> Result<Options, String> {
    if target.force.as_ref().is_some_and(|r| r.trim().is_empty()) {
        return Err("--force needs a reason (it goes to the journal and the audit log)".into());
    }
    if target.member.trim().is_empty() {
        return Err("name the member (its name or its hex ID)".into());
    }
    let dir = backup_dir(console).ok_or("no home directory for backups: give --backup-dir")?;
    Ok(Options {
        member: target.member.trim().to_string(),
        force: target.force.as_ref().map(|r| r.trim().to_string()),
        procedure: target.procedure,
        max_backup_age_seconds: target.max_backup_age.as_secs().max(1),
        no_backup: target.no_backup,
        backup_dir: dir.display().to_string(),
        read_only: console.read_only,
        plan_only,
        hosted_cluster: kube.hosted_cluster.clone(),
        via: target.via.via().as_str().to_string(),
    })
}

async fn executor(
    connection: &ConnectionSettings,
    console: &ConsoleArgs,
    kube: &KubeSettings,
    target: &MemberTarget,
    shell: Option<Arc<dyn HostShell>>,
    poll: Duration,
) -> Result<MemberExecutor, String> {
    if !etcd_console_core::openshift::configured(kube) {
        return Err("member needs the cluster's API: give --kubeconfig FILE or set KUBECONFIG".into());
    }
    let etcd = EtcdSource::choose(connection, Some(kube))?;
    let hosts: Arc<dyn HostShell> = shell.unwrap_or_else(|| Arc::new(target.ssh.shell()));
    let api = etcd_console_core::openshift::connect(kube).await.map_err(String::from)?;
    Ok(MemberExecutor {
        connection: api,
        kube: kube.clone(),
        etcd,
        hosts: Some(hosts),
        via: target.via.via(),
        debug_image: target.debug_image.clone(),
        poll,
        quota_bytes: console.quota_bytes,
        approved_csrs: Default::default(),
    })
}

pub async fn run(
    connection: &ConnectionSettings,
    console: &ConsoleArgs,
    kube: &KubeSettings,
    args: &MemberArgs,
    shell: Option<Arc<dyn HostShell>>,
) -> i32 {
    match &args.command {
        MemberCommand::Plan(target) => {
            let json = target.output == OutputFormat::Json;
            let prepared = match options(target, console, kube, true) {
                Ok(options) => executor(connection, console, kube, target, shell, Duration::from_secs(5))
                    .await
                    .map(|e| (options, e)),
                Err(e) => Err(e),
            };
            let (options, executor) = match prepared {
                Ok(ready) => ready,
                Err(e) => {
                    errln!("etcd-console: {}", safe(&e));
                    return BAD_INPUT;
                }
            };
            let mut run = MemberRun::new(options.clone());
            let survey = executor.survey(&options).await;
            run.observe(Observed::Surveyed(Box::new(survey)));
            print_plan(&run, json);
            let outcome = run.outcome().cloned().unwrap_or(Outcome::Cancelled);
            outcome_line(&run, &outcome, json, None, None);
            outcome.exit_code()
        }
        MemberCommand::Replace(replace) => replace_member(connection, console, kube, replace, shell).await,
    }
}

fn outcome_line(
    run: &MemberRun,
    outcome: &Outcome,
    json: bool,
    journal: Option<&std::path::Path>,
    resume: Option<String>,
) {
    let mut message = outcome.describe();
    if run.quorum_guard_off && !message.contains("QUORUM GUARD") && !matches!(outcome, Outcome::Completed) {
        message.push_str(&format!("; the quorum guard is OFF: {QUORUM_GUARD_ON}"));
    }
    if let Some(command) = &resume {
        message.push_str(&format!("\nto resume: {command}"));
    }
    let mut text = message.clone();
    if let Some(path) = journal {
        text.push_str(&format!("\njournal: {}", path.display()));
    }
    Printer::new(json).line(
        json!({"event": "outcome", "outcome": outcome, "message": message, "exit_code": outcome.exit_code(),
            "member": run.member_label(), "procedure": run.procedure, "quorum_guard_off": run.quorum_guard_off,
            "journal": journal, "resume_command": resume}),
        text,
    );
}

/// What the survey says of the member, as a person reads it.
fn diagnosis(survey: &Survey) -> Vec<String> {
    let mut lines = Vec::new();
    let Some(target) = &survey.target else { return lines };
    let voters = survey.voters().count();
    let healthy = survey.voters().filter(|m| m.healthy()).count();
    let quorum = survey.quorum();
    lines.push(format!(
        "member {} ({:x}); {healthy} of {voters} voting members healthy, quorum {quorum}: can lose {} more",
        target.name,
        target.id,
        healthy.saturating_sub(quorum)
    ));
    if let Some(node) = &target.node {
        lines.push(format!(
            "  node {node}: Ready {}; Machine {} {}{}",
            target.node_ready.as_deref().unwrap_or("?"),
            target.machine.as_deref().unwrap_or("(none)"),
            target.machine_phase.as_deref().unwrap_or(""),
            target.instance_state.as_deref().map(|s| format!(" (instance {s})")).unwrap_or_default()
        ));
    }
    if let Some(pod) = &target.pod {
        lines.push(format!("  {}", pod.describe()));
    }
    lines.push(match unhealthy_because(survey) {
        Some(why) => format!("  unhealthy: {why}"),
        None => "  it looks healthy".into(),
    });
    lines
}

fn print_plan(run: &MemberRun, json: bool) {
    let survey = run.survey.as_ref();
    if json {
        let steps: Vec<serde_json::Value> = run
            .steps
            .iter()
            .map(|s| {
                json!({"id": s.id, "title": s.title, "act": s.act, "check": s.check, "commands": s.shown,
                "limit_seconds": s.limit_seconds, "point_of_no_return": s.point_of_no_return})
            })
            .collect();
        let value = json!({"event": "plan", "procedure": run.procedure,
            "documented_as": run.procedure.map(|p| p.documented_as()),
            "cluster": survey.map(|s| json!({"name": s.cluster_name, "api_url": s.api_url, "cluster_id": s.cluster_id, "version": s.version})),
            "member": survey.and_then(|s| s.target.clone()),
            "unhealthy_because": survey.and_then(unhealthy_because),
            "members": survey.map(|s| s.members.iter().map(|m| json!({"id": format!("{:x}", m.id), "name": m.name,
                "is_learner": m.is_learner, "healthy": m.healthy(), "problem": m.answer.clone().err()})).collect::<Vec<_>>()),
            "backup": survey.map(|s| &s.backup), "gates": run.gates, "steps": steps,
            "problem": survey.and_then(|s| s.unreadable.clone())});
        outln!("{value}");
        return;
    }
    if let Some(survey) = survey {
        if let Some(problem) = &survey.unreadable {
            outln!("cannot make the plan: {}", safe(problem));
            return;
        }
        outln!(
            "member replacement on {} ({}, etcd cluster {}, {})",
            safe(&survey.cluster_name),
            safe(&survey.api_url),
            survey.cluster_id,
            survey.version.as_deref().map(safe).unwrap_or_else(|| "version ?".into())
        );
        for line in diagnosis(survey) {
            outln!("{}", safe(&line));
        }
    }
    if let Some(procedure) = run.procedure {
        outln!("procedure: {} ({})", procedure.title(), procedure.documented_as());
    }
    outln!("gates (all must pass before anything is changed):");
    for gate in &run.gates {
        outln!("  [{}] {:<18} {}", if gate.passed { "ok" } else { "NO" }, gate.id, safe(&gate.detail));
    }
    if run.steps.is_empty() {
        return;
    }
    outln!("steps:");
    let width = run.steps.iter().map(|s| s.id.len()).max().unwrap_or(0).max(8);
    for step in &run.steps {
        let mark = if step.point_of_no_return { "  <- point of no return" } else { "" };
        outln!("  {:<width$} {}{mark}", step.id, safe(&step.title));
        if let Act::Person { instruction, .. } = &step.act {
            outln!("  {:<width$}   {}", "", safe(instruction));
        }
        for (n, command) in step.shown.iter().enumerate() {
            let number = if matches!(step.act, Act::Person { .. }) && step.shown.len() > 1 {
                format!("{}. ", n + 1)
            } else {
                String::new()
            };
            outln!("  {:<width$}   {number}$ {}", "", safe(command));
        }
        outln!("  {:<width$}   check: {}", "", safe(&step.check));
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
            return Some(confirmation.expected.clone());
        }
        if !self.interactive {
            errln!("etcd-console: no terminal to confirm on: give --yes (the gates still hold)");
            return None;
        }
        let question = format!(
            "\nReplace etcd member {} ({}) of {} ({}): {}.\nThe point of no return is {}.\nType {} to go on: ",
            safe(&confirmation.member),
            confirmation.member_id,
            safe(&confirmation.cluster_name),
            safe(&confirmation.api_url),
            confirmation.procedure.title(),
            safe(&confirmation.point_of_no_return),
            safe(&confirmation.expected)
        );
        tokio::task::spawn_blocking(move || super::prompt::ask(&question)).await.ok().flatten()
    }

    async fn done(&mut self, step: &Step) -> bool {
        if !self.interactive {
            errln!("etcd-console: step {} needs you (no terminal here): run again on a terminal to go on", step.id);
            return false;
        }
        let mut question = format!("\nstep {}: {}\n", step.id, safe(&step.title));
        if let Act::Person { instruction, .. } = &step.act {
            question.push_str(&format!("  {}\n", safe(instruction)));
        }
        for (n, command) in step.shown.iter().enumerate() {
            question.push_str(&format!("  {}. $ {}\n", n + 1, safe(command)));
        }
        question.push_str("Type done when it is done (anything else stops here; run again to resume): ");
        tokio::task::spawn_blocking(move || super::prompt::ask(&question))
            .await
            .ok()
            .flatten()
            .is_some_and(|a| a == "done")
    }
}

/// This command line again, quoted for a POSIX shell.
fn command_line() -> String {
    std::env::args()
        .map(|a| {
            let a = safe(&a);
            if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c)) {
                a
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn replace_member(
    connection: &ConnectionSettings,
    console: &ConsoleArgs,
    kube: &KubeSettings,
    args: &crate::cli::MemberReplaceArgs,
    shell: Option<Arc<dyn HostShell>>,
) -> i32 {
    let json = args.target.output == OutputFormat::Json;
    let prepared = match options(&args.target, console, kube, false) {
        Ok(options) => executor(connection, console, kube, &args.target, shell, args.poll).await.map(|e| (options, e)),
        Err(e) => Err(e),
    };
    let (wanted, executor) = match prepared {
        Ok(ready) => ready,
        Err(e) => {
            errln!("etcd-console: {}", safe(&e));
            return BAD_INPUT;
        }
    };
    let Some(journal_dir) = console.journal_dir.clone().or_else(etcd_console_core::journal::default_dir) else {
        errln!("etcd-console: no home directory to keep the journal in: give --journal-dir");
        return BAD_INPUT;
    };
    let server = executor.connection.server.clone();
    let (mut run, mut journal, resumed) = match open_run(&journal_dir, &server, &wanted) {
        Ok(opened) => opened,
        Err(e) => {
            errln!("etcd-console: {}", safe(&e.to_string()));
            let code = match e {
                NotOpened::Journal(JournalError::Locked { .. }) => 1,
                _ => BAD_INPUT,
            };
            return code;
        }
    };
    if let Some(path) = resumed {
        let at = run.resume_point();
        Printer::new(json).line(
            json!({"event": "resuming", "journal": path, "at": at}),
            format!("resuming the replacement journalled in {} at {}", path.display(), safe(&at)),
        );
    }
    let journal_path = journal.path().to_path_buf();
    tracing::info!(target: "audit", member = %wanted.member, server = %server, force = ?wanted.force, no_backup = wanted.no_backup, "member replacement: run requested");
    let abort = CancellationToken::new();
    let (progress_tx, mut progress_rx) = mpsc::unbounded_channel();
    let mut person = Terminal { yes: args.yes, interactive: std::io::stdin().is_terminal() };
    let mut planned = run.stage != Stage::Survey;
    let printer = tokio::spawn(async move {
        let mut ended = std::collections::BTreeSet::new();
        let mut began = std::collections::BTreeMap::new();
        let started = std::time::Instant::now();
        while let Some(progress) = progress_rx.recv().await {
            match progress {
                Progress::Began { index, step } => {
                    began.entry(index).or_insert_with(std::time::Instant::now);
                    Printer::new(json).line(
                    json!({"event": "step", "index": index, "id": step.id, "title": step.title, "commands": step.shown}),
                    format!(
                        "step {} {}{}",
                        step.id,
                        safe(&step.title),
                        step.shown.first().map(|c| format!("\n    $ {}", safe(c))).unwrap_or_default()
                    ),
                    )
                }
                Progress::Waiting { index, detail } => Printer::new(json).line(
                    json!({"event": "waiting", "index": index, "detail": detail}),
                    format!("    waiting: {}", safe(&detail)),
                ),
                Progress::Run(run) => {
                    if !planned && !run.steps.is_empty() {
                        planned = true;
                        print_plan(&run, json);
                    }
                    for (index, (record, step)) in run.records.iter().zip(&run.steps).enumerate() {
                        if matches!(record.state, StepState::Done | StepState::Skipped | StepState::Failed)
                            && ended.insert(index)
                        {
                            let word = match record.state {
                                StepState::Done => "done",
                                StepState::Skipped => "skipped",
                                _ => "FAILED",
                            };
                            let detail = record.detail.trim();
                            let took = began.get(&index).map(|at| at.elapsed().as_secs_f64());
                            Printer::new(json).line(
                                json!({"event": "step_ended", "id": step.id, "state": record.state, "detail": detail,
                                    "redeployment_reason": record.reason, "elapsed_seconds": took,
                                    "run_elapsed_seconds": started.elapsed().as_secs_f64()}),
                                format!(
                                    "    {word}{}{}",
                                    took.map(|t| format!(" in {t:.1}s")).unwrap_or_default(),
                                    if detail.is_empty() {
                                        String::new()
                                    } else {
                                        format!(": {}", detail.lines().map(safe).collect::<Vec<_>>().join("\n      "))
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
        let mut writer = |run: &MemberRun| {
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
    let resume = matches!(outcome, Outcome::Stopped { .. }).then(command_line);
    outcome_line(&run, &outcome, json, Some(kept.as_deref().unwrap_or(&journal_path)), resume);
    tracing::info!(target: "audit", outcome = %outcome.describe(), "member replacement: run ended");
    outcome.exit_code()
}
