//! `etcd-console backup --dir DIR`: the headless front end of the backup
//! wizard. Exit 0 when the snapshot is at its final name and verified, 1 when
//! a check refused it or it failed (nothing at the final name), 2 on bad input.

use super::output::errln;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::output::{outln, safe, Printer};
use crate::cli::{BackupArgs, ConsoleArgs, OutputFormat};
use etcd_console_core::etcd::source::EtcdSource;
use etcd_console_core::settings::{ConnectionSettings, KubeSettings};
use etcd_console_core::units::format_bytes;
use etcd_console_core::wizard::backup::executor::{drive, BackupExecutor, Progress};
use etcd_console_core::wizard::backup::{Action, BackupOptions, BackupRun, Outcome, Via};

/// The limit of the reads before the stream (Status, health, member list).
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The backup directory the flags name: `--dir`, else `--backup-dir`, else the default.
pub fn backup_dir(dir: Option<&PathBuf>, console: &ConsoleArgs) -> Option<PathBuf> {
    dir.cloned().or_else(|| console.backup_dir.clone()).or_else(etcd_console_core::paths::backups_dir)
}

/// The run's options from the flags every front end shares.
pub fn options_from(console: &ConsoleArgs, dir: PathBuf) -> BackupOptions {
    BackupOptions { read_only: console.read_only, ..BackupOptions::into_dir(dir, console.stall_limit()) }
}

struct BackupReport {
    out: Printer,
    notes_shown: usize,
    /// The checks' result was printed.
    decided: bool,
    last_line: Option<std::time::Instant>,
    started: std::time::Instant,
}

impl BackupReport {
    fn new(json: bool) -> BackupReport {
        BackupReport {
            out: Printer::new(json),
            notes_shown: 0,
            decided: false,
            last_line: None,
            started: std::time::Instant::now(),
        }
    }

    /// A line; in JSON with `elapsed_seconds` since the run began (where the time goes). The text
    /// holds what the node and the API said: shown without its control characters.
    fn line(&self, mut value: serde_json::Value, text: String) {
        let text = safe(&text);
        if let Some(object) = value.as_object_mut().filter(|o| !o.is_empty()) {
            object.insert(
                "elapsed_seconds".into(),
                json!((self.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0),
            );
        }
        self.out.line(value, text);
    }

    fn progress(&mut self, event: &Progress) {
        match event {
            Progress::Began(Action::Stream { member, part, expected, .. }) => self.line(
                json!({"event": "began", "action": "snapshot", "member": member, "part": part, "expected_bytes": expected}),
                format!("streaming a snapshot of {member} ({}) into {}", format_bytes(*expected), part.display()),
            ),
            Progress::Began(Action::Verify { part, .. }) => self.line(
                json!({"event": "began", "action": "verify", "part": part}),
                "SHA-256 trailer matched as it arrived; reading the file back: length, every bbolt page".into(),
            ),
            Progress::Began(Action::Prepare { remote }) => self.line(
                json!({"event": "began", "action": "reach_node", "node": remote.node, "via": remote.via.as_str()}),
                match remote.via {
                    Via::Api => format!("starting a debug pod on {} (as oc debug node/{})", remote.node, remote.node),
                    Via::Ssh => format!("reaching {} over ssh", remote.node),
                },
            ),
            Progress::Began(Action::RunScript { remote, .. }) => self.line(
                json!({"event": "began", "action": "cluster_backup", "node": remote.node, "remote_dir": remote.dir}),
                format!(
                    "running /usr/local/bin/cluster-backup.sh {}{} on {}{}",
                    if remote.force { "--force " } else { "" },
                    remote.dir,
                    remote.node,
                    if remote.proxy.is_empty() { "" } else { " (the cluster-wide proxy exported)" }
                ),
            ),
            Progress::Began(Action::Fetch { remote, path, part, .. }) => self.line(
                json!({"event": "began", "action": "fetch", "node": remote.node, "path": path, "part": part}),
                format!("copying {}:{path} into {}", remote.node, part.display()),
            ),
            Progress::Began(Action::TearDown { remote }) => self.line(
                json!({"event": "began", "action": "clean_node", "node": remote.node, "remote_dir": remote.dir}),
                match remote.via {
                    Via::Api => format!("removing {} and the debug pod from {}", remote.dir, remote.node),
                    Via::Ssh => format!("removing {} from {}", remote.dir, remote.node),
                },
            ),
            Progress::Began(Action::VerifyArchive { part, .. }) => self.line(
                json!({"event": "began", "action": "verify_archive", "part": part}),
                "reading the static resources archive back: gzip, tar, the four components' resources".into(),
            ),
            Progress::Began(_) => {}
            Progress::Bytes { done, total, rate, eta } => {
                let pct = if *total > 0 { (*done as f64 * 100.0 / *total as f64).min(100.0) } else { 0.0 };
                let eta_text = eta.map(|e| humantime::format_duration(Duration::from_secs(e.as_secs())).to_string());
                let text = format!(
                    "{} of {} ({pct:.0} %), {}/s{}",
                    format_bytes(*done),
                    format_bytes(*total),
                    format_bytes(*rate as u64),
                    eta_text.as_ref().map(|e| format!(", about {e} left")).unwrap_or_default()
                );
                if self.out.json {
                    outln!(
                        "{}",
                        json!({"event": "progress", "bytes": done, "total_bytes": total, "bytes_per_second": rate.round(),
                               "eta_seconds": eta.map(|e| e.as_secs_f64())})
                    );
                } else if std::io::stderr().is_terminal() {
                    self.out.bar = true;
                    let width = 30usize;
                    let filled = ((pct / 100.0) * width as f64) as usize;
                    eprint!("\r\x1b[2K[{}{}] {text}", "#".repeat(filled), "-".repeat(width - filled.min(width)));
                    let _ = std::io::stderr().flush();
                } else if self.last_line.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                    self.last_line = Some(std::time::Instant::now());
                    self.line(json!({}), text);
                }
            }
            Progress::Run(run) => {
                if self.out.bar && run.stage != etcd_console_core::wizard::backup::Stage::Streaming {
                    errln!("");
                    self.out.bar = false;
                }
                if let Some(d) = run.decision.as_ref().filter(|_| !self.decided) {
                    self.decided = true;
                    self.line(
                        json!({"event": "checked", "cluster_id": format!("{:x}", d.cluster_id), "member": d.member,
                               "member_id": format!("{:x}", d.member_id), "was_leader": d.was_leader,
                               "etcd_version": d.etcd_version, "possibly_dirty": !d.dirty_because.is_empty(),
                               "snapshot": d.snapshot, "cluster_version": d.cluster_version,
                               "encryption_type": d.encryption_type}),
                        format!(
                            "checks passed{}: cluster {:x}, from {} ({}, etcd {}){}",
                            if d.dirty_because.is_empty() { "" } else { " (forced)" },
                            d.cluster_id,
                            d.member,
                            if d.was_leader { "the leader" } else { "a follower" },
                            d.etcd_version,
                            match (&d.cluster_version, &d.encryption_type) {
                                (Some(v), Some(e)) => format!(", OpenShift {v}, encryption {e}"),
                                (Some(v), None) => format!(", OpenShift {v}"),
                                _ => String::new(),
                            }
                        ),
                    );
                }
                for note in run.notes.iter().skip(self.notes_shown) {
                    self.line(json!({"event": "note", "text": note}), note.clone());
                }
                self.notes_shown = run.notes.len();
            }
        }
    }

    fn finished(&self, run: &BackupRun) -> i32 {
        let outcome = run.outcome().cloned().unwrap_or(Outcome::Failed { reason: "unfinished".into() });
        let code = outcome.exit_code();
        let decision = run.decision.as_ref();
        let metadata = run.metadata();
        let completed = outcome == Outcome::Completed;
        if self.out.json {
            let mut value = serde_json::to_value(&outcome).unwrap_or_default();
            value["event"] = json!("finished");
            value["exit"] = json!(code);
            if completed {
                value["static_resources"] = json!(decision.and_then(|d| d.archive.clone()));
                value["restore_grade"] = json!(metadata.restore_grade);
                value["snapshot"] = json!(decision.map(|d| d.snapshot.clone()));
                value["metadata"] = json!(decision.map(|d| d.metadata.clone()));
                value["backup"] = serde_json::to_value(&metadata).unwrap_or_default();
                value["seconds"] = json!(run.streamed.as_ref().map(|s| s.took.as_secs_f64()));
                value["removed"] = json!(run.removed);
            }
            outln!("{value}");
            return code;
        }
        match &outcome {
            Outcome::Completed => {
                if let (Some(d), Some(s)) = (decision, &run.streamed) {
                    self.line(
                        json!({}),
                        format!(
                            "backup taken and verified: {} ({}, revision {}, {} keys, {:.1}s, {}/s)",
                            d.snapshot.display(),
                            format_bytes(s.bytes),
                            metadata.revision,
                            metadata.total_keys,
                            s.took.as_secs_f64(),
                            format_bytes((s.bytes as f64 / s.took.as_secs_f64().max(0.001)) as u64),
                        ),
                    );
                    outln!("  metadata: {}", d.metadata.display());
                    outln!("  sha256:   {}", metadata.sha256);
                    match (&d.archive, &metadata.static_resources_sha256) {
                        (Some(archive), Some(sha)) => {
                            outln!("  static resources: {}", archive.display());
                            outln!("  sha256:   {sha}");
                            outln!("  restore-grade: `etcd-console restore plan --backup {}` takes it", d.snapshot.parent().map(|p| p.display().to_string()).unwrap_or_default());
                        }
                        _ => outln!("  a direct snapshot only: not restore-grade (cluster-restore.sh also needs the static resources)"),
                    }
                    if let Some((path, _)) = &run.keys_saved {
                        outln!("  encryption keys: {} (store them apart from the snapshot)", path.display());
                    }
                }
                for path in &run.removed {
                    outln!("  removed (--keep): {}", path.display());
                }
            }
            Outcome::Refused { reason } => errln!("etcd-console: refused: {}", safe(reason)),
            Outcome::Failed { reason } => {
                errln!("etcd-console: backup failed: {}; nothing was left at the final name", safe(reason))
            }
        }
        code
    }
}

/// `shell`: how `--via ssh` reaches the nodes when not over ssh (the lab's hosts).
pub async fn run(
    connection: &ConnectionSettings,
    console: &ConsoleArgs,
    kube: &KubeSettings,
    args: &BackupArgs,
    shell: Option<std::sync::Arc<dyn etcd_console_core::hosts::HostShell>>,
) -> i32 {
    let json_out = args.output == OutputFormat::Json;
    let fail = |message: String| {
        if json_out {
            outln!("{}", json!({"event": "error", "message": message, "exit": 2}));
        }
        errln!("etcd-console: {message}");
        2
    };
    let Some(dir) = backup_dir(args.dir.as_ref(), console) else {
        return fail("no home directory to keep backups in: give --dir".into());
    };
    let options = BackupOptions {
        keys_dir: args.encryption_keys.clone(),
        member: args.member.clone(),
        force: args.force,
        keep: args.keep,
        snapshot_only: args.snapshot_only,
        via: args.via.via(),
        node: args.node.clone(),
        ..options_from(console, dir.clone())
    };
    let reads = ConnectionSettings { command_timeout: READ_TIMEOUT, ..connection.clone() };
    let source = match EtcdSource::choose(&reads, Some(kube)) {
        Ok(source) => source,
        Err(e) => return fail(e),
    };
    // Bad options change nothing; then both directories are made (0700) and checked writable before
    // anything is asked of the cluster, and checked apart again as they resolve now (symbolic links).
    if let Err(e) = BackupRun::new(options.clone()) {
        return fail(e);
    }
    for dir in std::iter::once(&dir).chain(args.encryption_keys.as_ref()) {
        if let Err(e) = etcd_console_core::wizard::backup::files::prepare_dir(dir) {
            return fail(e);
        }
    }
    let mut run = match BackupRun::new(options) {
        Ok(run) => run,
        Err(e) => return fail(e),
    };
    let executor = match BackupExecutor::for_source(
        &source,
        console.quota_bytes,
        Some(kube),
        args.encryption_keys.is_some(),
    )
    .await
    {
        Ok(mut executor) => {
            executor.shell = Some(shell.unwrap_or_else(|| std::sync::Arc::new(args.ssh.shell())));
            executor.debug_image = args.debug_image.clone();
            executor.pod_start_limit = args.debug_timeout;
            executor
        }
        Err(e) => {
            if json_out {
                outln!("{}", json!({"event": "finished", "outcome": "refused", "reason": e, "exit": 1}));
            }
            errln!("etcd-console: {e}");
            return 1;
        }
    };
    let abort = CancellationToken::new();
    let stop = abort.clone();
    // Ctrl-C, SIGTERM or SIGHUP stops the backup and removes what it wrote; a second one leaves at once.
    tokio::spawn(async move {
        let signal = super::interrupt::interrupted().await;
        errln!("etcd-console: {signal}: stopping the backup (again leaves at once, maybe leaving a .part file)");
        stop.cancel();
        super::interrupt::interrupted().await;
        std::process::exit(130);
    });
    let (progress_tx, mut progress_rx) = mpsc::unbounded_channel();
    let mut printer = BackupReport::new(json_out);
    let printing = tokio::spawn(async move {
        while let Some(event) = progress_rx.recv().await {
            printer.progress(&event);
        }
        printer
    });
    drive(&mut run, &executor, abort, progress_tx).await;
    let printer = printing.await.unwrap_or_else(|_| BackupReport::new(json_out));
    printer.finished(&run)
}
