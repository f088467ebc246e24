//! `etcd-console encryption status | set TYPE [--wait] [--yes]`: the headless
//! front end of the encryption wizard (`wizard::encryption`).
//!
//! status: exit 0 settled, 1 a migration running (or asked for and not begun)
//! or an API server operator Degraded, 2 the API unreachable or not OpenShift.
//! set: exit 0 completed, applied (without --wait) or already there; 1 refused,
//! not allowed (read-only, forbidden, hosted), cancelled, failed, Degraded or
//! stalled; 2 bad input or the API unreachable.

use super::output::errln;
use etcd_console_core::units::safe_text;
use std::io::{IsTerminal, Write};
use std::time::{Duration, SystemTime};

use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::output::{out_raw, outln, Printer};
use crate::cli::{ConsoleArgs, EncryptionCommand, EncryptionSetArgs, OutputFormat};
use etcd_console_core::etcd::source::EtcdSource;
use etcd_console_core::settings::{ConnectionSettings, KubeSettings};
use etcd_console_core::wizard::encryption::executor::{drive, BackupFirst, EncryptionExecutor, Progress};
use etcd_console_core::wizard::encryption::{Action, Answer, EncryptionRun, Options, Outcome, Plan, Reading, Stage};

const BAD_INPUT: i32 = 2;

pub async fn run(
    connection: &ConnectionSettings,
    console: &ConsoleArgs,
    kube: &KubeSettings,
    command: &EncryptionCommand,
) -> i32 {
    if !etcd_console_core::openshift::configured(kube) {
        errln!("etcd-console: encryption needs the OpenShift API: give --kubeconfig FILE or set KUBECONFIG");
        return BAD_INPUT;
    }
    let api = match EncryptionExecutor::connect(kube).await {
        Ok(api) => api,
        Err(e) => {
            errln!("etcd-console: {e}");
            return BAD_INPUT;
        }
    };
    match command {
        EncryptionCommand::Status { output } => {
            let executor = EncryptionExecutor { connection: api, backup: None };
            status(&executor.read(true).await, *output == OutputFormat::Json)
        }
        EncryptionCommand::Set(args) => set(connection, console, kube, api, args).await,
    }
}

/// One word for where the cluster is.
pub fn state_of(reading: &Reading) -> &'static str {
    if reading.not_openshift {
        "not_openshift"
    } else if reading.spec_type.is_none() {
        "unknown"
    } else if !reading.degraded().is_empty() {
        "degraded"
    } else if !reading.migrating().is_empty() {
        "migrating"
    } else if reading.current_type().is_some_and(|t| reading.settled_on(t)) {
        "settled"
    } else {
        "unknown"
    }
}

fn status(reading: &Reading, as_json: bool) -> i32 {
    let state = state_of(reading);
    if as_json {
        let mut value = serde_json::to_value(reading).unwrap_or_default();
        value["type"] = json!(reading.spec_type.as_ref().map(|t| if t.is_empty() { "identity" } else { t.as_str() }));
        value["state"] = json!(state);
        value["migrating"] = json!(reading.migrating());
        value["degraded"] = json!(reading.degraded());
        outln!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    } else {
        out_raw(&status_text(reading));
    }
    match state {
        "settled" => 0,
        "migrating" | "degraded" => 1,
        "not_openshift" if !reading.hosted_clusters.is_empty() => 0,
        _ => 2,
    }
}

/// The readable form of a reading (also what `set` prints before its plan).
pub fn status_text(reading: &Reading) -> String {
    // Everything but our own words is the cluster's: shown escaped, one line each.
    let s = safe_text;
    let mut out = format!("encryption on {}", s(&reading.cluster_name()));
    if let Some(version) = &reading.version {
        out.push_str(&format!(", OpenShift {}", s(version)));
    }
    out.push('\n');
    for problem in &reading.problems {
        out.push_str(&format!("  ! {}\n", s(problem)));
    }
    if let Some(kind) = &reading.spec_type {
        out.push_str(&format!(
            "type: {} (APIServer cluster spec.encryption.type)\n",
            if kind.is_empty() { "identity".to_string() } else { s(kind) }
        ));
    }
    let width = reading.operators.iter().map(|o| s(&o.resource).chars().count()).max().unwrap_or(0);
    for operator in &reading.operators {
        match &operator.encrypted {
            Some(c) => out.push_str(&format!(
                "  {:<width$}  {:<22} {}{}\n",
                s(&operator.resource),
                s(&c.reason),
                s(&c.message),
                c.since.as_deref().map(|at| format!("  (since {})", s(at))).unwrap_or_default()
            )),
            None => {
                out.push_str(&format!("  {:<width$}  (no Encrypted condition: older layout)\n", s(&operator.resource)))
            }
        }
    }
    let migrating = reading.migrating();
    if !migrating.is_empty() {
        out.push_str(&format!("migration running: {} — take no backup until it completes\n", s(&migrating.join(", "))));
    }
    for degraded in reading.degraded() {
        out.push_str(&format!("DEGRADED: {}\n", s(&degraded.to_string())));
    }
    if !reading.keys.is_empty() {
        let keys: Vec<String> =
            reading.keys.iter().map(|k| format!("{} ({})", s(&k.name), s(&k.mode.to_string()))).collect();
        out.push_str(&format!("key secrets in openshift-config-managed: {}\n", keys.join(", ")));
    }
    for h in &reading.hosted_clusters {
        out.push_str(&format!(
            "HostedCluster {}/{}: secretEncryption {}, active key {}{}\n",
            s(&h.namespace),
            s(&h.name),
            s(h.kind.as_deref().unwrap_or("not set")),
            match (&h.kms_provider, &h.kms_active_key) {
                (Some(provider), Some(key)) => format!("{} ({} KMS, kept by the provider)", s(key), s(provider)),
                _ => h.active_key.as_deref().map(s).unwrap_or_else(|| "none".into()),
            },
            match h.key_present {
                Some(true) => " (secret present)",
                Some(false) => " (secret MISSING)",
                None => "",
            }
        ));
    }
    if let Some(may) = reading.may_patch {
        out.push_str(&format!("this user {} patch APIServer cluster\n", if may { "may" } else { "may not" }));
    }
    out
}

struct EncryptionReport {
    out: Printer,
    events_shown: usize,
}

impl EncryptionReport {
    fn line(&self, value: serde_json::Value, text: String) {
        self.out.line(value, text);
    }

    fn plan(&self, plan: &Plan) {
        if self.out.json {
            outln!("{}", json!({"event": "plan", "plan": plan}));
            return;
        }
        outln!("Encryption plan for {}:", plan.cluster);
        outln!(
            "  spec.encryption.type {} -> {} (merge patch of APIServer cluster)",
            plan.from.as_str(),
            plan.to.as_str()
        );
        outln!("  followed: {}", plan.operators.join(", "));
        if plan.backup_first {
            outln!("  a verified backup is taken first; nothing is patched if it fails");
        }
        for note in &plan.notes {
            outln!("  - {note}");
        }
        let _ = std::io::stdout().flush();
    }

    fn run(&mut self, run: &EncryptionRun) {
        for event in run.events.iter().skip(self.events_shown) {
            let after = event
                .after_seconds
                .map(|s| format!("+{} ", humantime::format_duration(Duration::from_secs(s))))
                .unwrap_or_default();
            self.line(
                json!({"event": "step", "after_seconds": event.after_seconds, "text": event.text}),
                format!("{after}{}", event.text),
            );
        }
        self.events_shown = run.events.len();
    }
}

fn ask(plan: &Plan, backup_first: bool) -> Result<bool, String> {
    let question = format!(
        "Type '{}' to {}set spec.encryption.type {} -> {} on {}: ",
        plan.to.as_str(),
        if backup_first { "take a verified backup, then " } else { "" },
        plan.from.as_str(),
        plan.to.as_str(),
        plan.cluster
    );
    super::prompt::typed_word(&question, plan.to.as_str(), "patch")
}

/// The backup offered before the question (a terminal only): yes unless the user says no.
fn ask_backup(dir: &std::path::Path, encrypted: bool) -> bool {
    let keys =
        if encrypted { " (without its encryption keys: --backup --encryption-keys DIR2 saves them apart)" } else { "" };
    super::prompt::ask(&format!("Take a verified backup into {} first{keys}? [Y/n] ", dir.display()))
        .is_none_or(|answer| !matches!(answer.as_str(), "n" | "N" | "no"))
}

async fn set(
    connection: &ConnectionSettings,
    console: &ConsoleArgs,
    kube: &KubeSettings,
    api: etcd_console_core::openshift::Connection,
    args: &EncryptionSetArgs,
) -> i32 {
    let dir = crate::commands::backup::backup_dir(None, console);
    // Offered after the plan, on a terminal, unless a flag already answered it.
    let offer = !args.backup && !args.no_backup && !args.yes && !console.read_only && std::io::stdin().is_terminal();
    let backup = match (args.backup || offer, dir.clone(), EtcdSource::choose(connection, Some(kube))) {
        (false, _, _) => None,
        (true, Some(dir), Ok(source)) => Some(BackupFirst {
            source,
            quota_bytes: console.quota_bytes,
            stall_limit: console.stall_limit(),
            kube: kube.clone(),
            dir,
            keys_dir: args.encryption_keys.clone(),
        }),
        // Asked for and impossible: bad input. Only offered: it is not offered.
        (true, None, _) if args.backup => {
            errln!("etcd-console: no directory for the backup: give --backup-dir");
            return BAD_INPUT;
        }
        (true, _, Err(e)) if args.backup => {
            errln!("etcd-console: {e}");
            return BAD_INPUT;
        }
        (true, _, _) => None,
    };
    let offer_dir = backup.as_ref().filter(|_| offer).map(|b| b.dir.clone());
    let options = Options {
        wait: args.wait,
        read_only: console.read_only,
        backup_first: args.backup,
        backup_keys: args.encryption_keys.is_some(),
        poll: args.poll,
        stall_after: Some(args.stall_after),
        hosted_cluster: kube.hosted_cluster.clone(),
    };
    let executor = EncryptionExecutor { connection: api, backup };
    let mut run = EncryptionRun::new(args.kind, options);
    tracing::info!(target: "audit", action = "encryption set", to = args.kind.as_str(), wait = args.wait, read_only = console.read_only, "asked from the command line");
    let (progress_tx, mut progress_rx) = mpsc::unbounded_channel();
    let (answer_tx, mut answer_rx) = mpsc::unbounded_channel();
    let abort = CancellationToken::new();
    let driver_abort = abort.clone();
    let json_output = args.output == OutputFormat::Json;
    let driver = tokio::spawn(async move {
        drive(&mut run, &executor, &mut answer_rx, driver_abort, progress_tx).await;
        run
    });
    let mut printer = EncryptionReport { out: Printer::new(json_output), events_shown: 0 };
    let mut interrupts = 0;
    let mut planned = false;
    let mut reported_read = false;
    let mut asked = false;
    // The prompt runs on a blocking thread of its own, so Ctrl-C is heard while it waits.
    let mut prompt: Option<tokio::task::JoinHandle<Result<Answer, String>>> = None;
    let mut patch_sent = false;
    loop {
        tokio::select! {
            progress = progress_rx.recv() => {
                let Some(progress) = progress else { break };
                match progress {
                    Progress::Run(run) => {
                        if !reported_read {
                            if let Some(before) = &run.before {
                                reported_read = true;
                                if !printer.out.json {
                                    out_raw(&status_text(before));
                                }
                            }
                        }
                        if !planned && (run.stage == Stage::AwaitingYes || matches!(run.outcome(), Some(Outcome::NotAllowed { .. }))) {
                            if let Some(plan) = run.plan() {
                                planned = true;
                                printer.plan(&plan);
                            }
                        }
                        printer.run(&run);
                        // The run reports AwaitingYes more than once: it is asked once.
                        if run.stage == Stage::AwaitingYes && !asked {
                            asked = true;
                            match run.plan() {
                                Some(_) if args.yes => {
                                    let _ = answer_tx.send(Answer { yes: true, backup_first: None });
                                }
                                Some(plan) => {
                                    let offer_dir = offer_dir.clone();
                                    let encrypted = plan.from != etcd_console_core::wizard::encryption::EncryptionType::Identity;
                                    prompt = Some(tokio::task::spawn_blocking(move || {
                                        let backup_first = offer_dir.as_deref().map(|d| ask_backup(d, encrypted));
                                        ask(&plan, backup_first.unwrap_or(plan.backup_first))
                                            .map(|yes| Answer { yes, backup_first })
                                    }));
                                }
                                None => {
                                    let _ = answer_tx.send(Answer { yes: false, backup_first: None });
                                }
                            }
                        }
                    }
                    Progress::Began(Action::Backup) => printer.line(json!({"event": "began", "action": "backup"}), "taking a verified backup first".into()),
                    Progress::Began(Action::Patch { from, to, .. }) => {
                        patch_sent = true;
                        printer.line(
                            json!({"event": "began", "action": "patch", "from": from.as_str(), "to": to.as_str()}),
                            format!("patching APIServer cluster: spec.encryption.type {} -> {}", from.as_str(), to.as_str()),
                        )
                    }
                    Progress::Began(_) => {}
                    Progress::Backup(etcd_console_core::wizard::backup::executor::Progress::Bytes { done, total, .. }) => {
                        if printer.out.json {
                            outln!("{}", json!({"event": "backup_progress", "bytes": done, "total_bytes": total}));
                        }
                    }
                    Progress::Backup(_) => {}
                }
            }
            answered = async { match prompt.as_mut() { Some(p) => p.await, None => std::future::pending().await } } => {
                prompt = None;
                match answered {
                    Ok(Ok(answer)) => {
                        let _ = answer_tx.send(answer);
                    }
                    Ok(Err(e)) => {
                        errln!("etcd-console: {e}");
                        let _ = answer_tx.send(Answer { yes: false, backup_first: None });
                        let _ = driver.await;
                        return BAD_INPUT;
                    }
                    Err(_) => {
                        let _ = answer_tx.send(Answer { yes: false, backup_first: None });
                    }
                }
            }
            _ = super::interrupt::interrupted() => {
                interrupts += 1;
                if interrupts > 1 {
                    errln!(
                        "etcd-console: interrupted twice: leaving now; {}",
                        if patch_sent {
                            "the patch had been sent: look with `etcd-console encryption status`"
                        } else {
                            "nothing was patched"
                        }
                    );
                    return 1;
                }
                errln!("etcd-console: stopping (before the patch nothing is changed; after it, only the following stops; Ctrl-C again leaves now)");
                abort.cancel();
                // A question on screen is answered no by the stop.
                if prompt.take().is_some() {
                    errln!("");
                }
            }
        }
    }
    let run = match driver.await {
        Ok(run) => run,
        Err(e) => {
            errln!("etcd-console: the run ended abnormally: {e}");
            return 1;
        }
    };
    let Some(outcome) = run.outcome().cloned() else { return 1 };
    finish(&run, &outcome, printer.out.json);
    outcome.exit_code()
}

fn finish(run: &EncryptionRun, outcome: &Outcome, as_json: bool) {
    let now = SystemTime::now();
    let completed = matches!(outcome, Outcome::Completed { .. });
    if as_json {
        let followed = serde_json::to_value(&run.followed).unwrap_or_default();
        let new_keys = serde_json::to_value(&run.new_keys).unwrap_or_default();
        let mut value = json!({"event": "outcome", "to": run.target.as_str(), "exit_code": outcome.exit_code(),
            "message": outcome.describe(), "followed": followed, "new_keys": new_keys, "backup": run.backup,
            "elapsed_seconds": run.elapsed(now).map(|d| d.as_secs())});
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(outcome) {
            for (k, v) in fields {
                value[k] = v;
            }
        }
        if completed {
            value["next"] = json!(etcd_console_core::wizard::encryption::after_completion(run.target));
        }
        outln!("{value}");
        return;
    }
    for f in &run.followed {
        if let (Some(after), Some(c)) = (f.done_after_seconds, &f.current) {
            outln!(
                "  {} {} after {}: {}",
                f.resource,
                c.reason,
                humantime::format_duration(Duration::from_secs(after)),
                c.message
            );
        }
    }
    let word = match outcome {
        Outcome::Completed { .. } => "completed",
        Outcome::Applied => "applied",
        Outcome::NothingToDo { .. } => "nothing to do",
        Outcome::Refused { .. } => "refused",
        Outcome::NotAllowed { .. } => "not applied",
        Outcome::Cancelled => "cancelled",
        Outcome::Failed { .. } => "failed",
        Outcome::Degraded { .. } => "stopped: Degraded",
        Outcome::Stalled { .. } => "stopped: stalled",
        Outcome::StoppedFollowing => "stopped following",
    };
    let said = outcome.describe();
    if said.starts_with(word) {
        outln!("encryption {}: {said}", run.target.as_str());
    } else {
        outln!("encryption {}: {word}: {said}", run.target.as_str());
    }
    if completed {
        outln!("next: {}", etcd_console_core::wizard::encryption::after_completion(run.target));
    }
}
