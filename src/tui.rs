//! The terminal: set-up and restore (also on panic), the input thread, and the
//! event loop. The loop only waits on channels; every network call runs on the
//! poller's tasks, so a hung member can never hold up a key or a redraw.

use std::io::stdout;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};
use nix::sys::signal::{raise, Signal};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::app::backup::LastBackup;
use crate::app::Change;
use crate::app::{keys, App, Effect};
use crate::cli::ConsoleArgs;
use crate::ui::{self, Theme};
use etcd_console_core::etcd::poller::{PollCommand, PollEvent, Poller};
use etcd_console_core::etcd::source::EtcdSource;
use etcd_console_core::openshift::watch::OpenShiftEvent;
use etcd_console_core::openshift::{csr, Connection};
use etcd_console_core::settings::{ConnectionSettings, KubeSettings};
use etcd_console_core::wizard::backup::executor::{drive as drive_backup, Progress as BackupProgress};
use etcd_console_core::wizard::backup::{BackupOptions, BackupRun};
use etcd_console_core::wizard::defrag::executor::{run_in_background, Progress};
use etcd_console_core::wizard::encryption::executor::{
    drive as drive_encryption, BackupFirst, EncryptionExecutor, Progress as EncryptionProgress,
};
use etcd_console_core::wizard::encryption::{EncryptionRun, EncryptionType, Options as EncryptionOptions};

fn open_screen(mouse: bool) -> std::io::Result<()> {
    terminal::enable_raw_mode()?;
    execute!(stdout(), EnterAlternateScreen)?;
    if mouse {
        execute!(stdout(), EnableMouseCapture)?;
    }
    Ok(())
}

/// Puts the terminal back as the shell had it; safe to call twice.
fn close_screen(mouse: bool) {
    if mouse {
        let _ = execute!(stdout(), DisableMouseCapture);
    }
    let _ = execute!(stdout(), LeaveAlternateScreen, cursor::Show);
    let _ = terminal::disable_raw_mode();
}

/// A panic on the UI thread restores the terminal before the message is
/// printed. A panic elsewhere (a poller task, caught by tokio) leaves the
/// screen alone: the console is still running on it.
fn install_panic_hook(mouse: bool) {
    let ui_thread = std::thread::current().id();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == ui_thread {
            close_screen(mouse);
        }
        previous(info);
    }));
}

/// Reads terminal input on its own thread (crossterm's read blocks).
fn spawn_input(tx: mpsc::UnboundedSender<Event>, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match event::poll(Duration::from_millis(250)) {
                Ok(true) => match event::read() {
                    Ok(ev) => {
                        if tx.send(ev).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                },
                Ok(false) => {}
                Err(_) => return,
            }
        }
    });
}

/// Carries out a confirmed change (the engine has already checked it) and reports the outcome.
async fn carry_out(connection: Connection, change: Change, tx: mpsc::UnboundedSender<OpenShiftEvent>) {
    let (done, failed) = match &change {
        Change::ApproveCsrs(names) => {
            let mut failed = Vec::new();
            for name in names {
                if let Err(e) = csr::approve(&connection, name).await {
                    failed.push(e);
                }
            }
            (names.len() - failed.len(), failed)
        }
        Change::DenyCsr(name) => match csr::deny(&connection, name).await {
            Ok(()) => (1, Vec::new()),
            Err(e) => (0, vec![e]),
        },
        // The app turns these into a run before they get here.
        Change::Defrag(_) | Change::ResumeDefrag | Change::ForceBackup | Change::EncryptionYes => return,
    };
    let verb = if matches!(change, Change::DenyCsr(_)) { "denied" } else { "approved" };
    let message = match failed.first() {
        None => format!("{done} CSR(s) {verb}"),
        Some(first) => format!("{done} CSR(s) {verb}, {} failed: {first}", failed.len()),
    };
    let _ = tx.send(OpenShiftEvent::Done { message });
}

/// Looks for the newest verified backup of cluster `id` on a blocking task (a directory read).
fn look_for_last_backup(dir: Option<std::path::PathBuf>, id: u64, tx: mpsc::UnboundedSender<Option<LastBackup>>) {
    let Some(dir) = dir else { return };
    tokio::task::spawn_blocking(move || {
        let last = etcd_console_core::wizard::backup::files::last_verified(&dir, id)
            .and_then(|found| LastBackup::from_metadata(&found.metadata));
        let _ = tx.send(last);
    });
}

/// A backup started from the console: the members reached afresh, then the engine driven to its end.
async fn backup_in_background(
    source: EtcdSource,
    console: ConsoleArgs,
    kube: Option<KubeSettings>,
    mut run: BackupRun,
    abort: tokio::sync::watch::Receiver<bool>,
    progress: mpsc::UnboundedSender<BackupProgress>,
) {
    tracing::info!(target: "audit", action = "backup", force = run.options.force, dir = %run.options.dir.display(), "asked from the console");
    match crate::commands::backup::executor_for(&source, &console, kube.as_ref(), false).await {
        Ok(executor) => drive_backup(&mut run, &executor, abort, progress).await,
        Err(e) => {
            run.refuse(e);
            let _ = progress.send(BackupProgress::Run(Box::new(run)));
        }
    }
}

/// The encryption wizard's run: the API reached, the engine driven to its end; the
/// user's answer to its question comes through `answers`.
#[allow(clippy::too_many_arguments)]
async fn encryption_in_background(
    source: EtcdSource,
    console: ConsoleArgs,
    kube: Option<KubeSettings>,
    target: EncryptionType,
    backup_first: bool,
    mut answers: mpsc::UnboundedReceiver<etcd_console_core::wizard::encryption::Answer>,
    abort: tokio::sync::watch::Receiver<bool>,
    progress: mpsc::UnboundedSender<EncryptionProgress>,
) {
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
        stall_limit: console.defrag_timeout.unwrap_or(etcd_console_core::wizard::backup::DEFAULT_STALL_LIMIT),
        kube: kube.clone(),
        dir,
        keys_dir: None,
    });
    let executor = EncryptionExecutor { connection, backup };
    drive_encryption(&mut run, &executor, &mut answers, abort, progress).await;
}

/// The person at the console: the engine's questions go to the screen as a typed prompt.
struct ConsolePerson {
    asks: mpsc::UnboundedSender<crate::app::restore::Asked>,
    answers: mpsc::UnboundedReceiver<String>,
}

impl etcd_console_core::wizard::restore::executor::Person for ConsolePerson {
    async fn confirm(&mut self, confirmation: &etcd_console_core::wizard::restore::Confirmation) -> Option<String> {
        let _ = self.asks.send(crate::app::restore::Asked::Confirm(confirmation.clone()));
        self.answers.recv().await
    }

    async fn done(&mut self, step: &etcd_console_core::wizard::restore::Step) -> bool {
        let _ = self.asks.send(crate::app::restore::Asked::Done(Box::new(step.clone())));
        self.answers.recv().await.is_some_and(|a| a == "done")
    }
}

/// How the console reaches hosts: the shell main gave (the lab's), else ssh as core.
fn restore_hosts(console: &ConsoleArgs) -> std::sync::Arc<dyn etcd_console_core::hosts::HostShell> {
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
    connection: ConnectionSettings,
    console: ConsoleArgs,
    kube: Option<KubeSettings>,
    recovery_host: Option<String>,
    progress: mpsc::UnboundedSender<etcd_console_core::wizard::restore::executor::Progress>,
) {
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
#[allow(clippy::too_many_arguments)]
async fn restore_in_background(
    connection: ConnectionSettings,
    console: ConsoleArgs,
    kube: Option<KubeSettings>,
    recovery_host: String,
    asks: mpsc::UnboundedSender<crate::app::restore::Asked>,
    answers: mpsc::UnboundedReceiver<String>,
    abort: tokio::sync::watch::Receiver<bool>,
    progress: mpsc::UnboundedSender<etcd_console_core::wizard::restore::executor::Progress>,
) {
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
    let mut person = ConsolePerson { asks, answers };
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
    let mut writer = |run: &RestoreRun| journal.record(run);
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

/// Opens the console on the cluster the connection flags name. Exit code 2 on bad flags.
pub async fn run(
    connection: ConnectionSettings,
    console: ConsoleArgs,
    kube: Option<KubeSettings>,
    context: Option<String>,
    log_problem: Option<String>,
) -> i32 {
    // Bad flags (certificates, --hosted-cluster) are refused before the screen opens, so the message stays readable.
    let source = match EtcdSource::choose(&connection, kube.as_ref()) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("etcd-console: {e}");
            return 2;
        }
    };
    let defrag_options = match crate::commands::defrag::options_from(&console, console.defrag_wait, "--defrag-wait") {
        Ok(options) => options,
        Err(e) => {
            eprintln!("etcd-console: {e}");
            return 2;
        }
    };
    let context = context.unwrap_or_else(|| source.describe());
    let mut app = App::new(context, console.quota_bytes, console.refresh, Instant::now());
    app.defrag_options = defrag_options;
    let defrag_source = source.clone();
    let journal_dir = console.journal_dir.clone().or_else(etcd_console_core::journal::default_dir);
    let (defrag_tx, mut defrag_rx) = mpsc::unbounded_channel::<Progress>();
    let mut defrag_abort: Option<tokio::sync::watch::Sender<bool>> = None;
    let mut journal_checked = false;
    let backup_dir = crate::commands::backup::backup_dir(None, &console);
    app.backup_dir = backup_dir.clone();
    let backup_source = defrag_source.clone();
    let backup_kube = kube.clone();
    let (backup_tx, mut backup_rx) = mpsc::unbounded_channel::<BackupProgress>();
    let mut backup_abort: Option<tokio::sync::watch::Sender<bool>> = None;
    let encryption_kube = kube.clone();
    let (encryption_tx, mut encryption_rx) = mpsc::unbounded_channel::<EncryptionProgress>();
    let mut encryption_abort: Option<tokio::sync::watch::Sender<bool>> = None;
    let mut encryption_answer: Option<mpsc::UnboundedSender<etcd_console_core::wizard::encryption::Answer>> = None;
    app.restore_backup = console.restore_backup.clone();
    let restore_kube = kube.clone();
    let restore_connection = connection.clone();
    let (restore_tx, mut restore_rx) =
        mpsc::unbounded_channel::<etcd_console_core::wizard::restore::executor::Progress>();
    let (restore_ask_tx, mut restore_ask_rx) = mpsc::unbounded_channel::<crate::app::restore::Asked>();
    let mut restore_abort: Option<tokio::sync::watch::Sender<bool>> = None;
    let mut restore_answer: Option<mpsc::UnboundedSender<String>> = None;
    // The newest verified backup of the cluster, looked for off the UI loop.
    let (last_backup_tx, mut last_backup_rx) = mpsc::unbounded_channel::<Option<LastBackup>>();
    app.notice = log_problem.map(|p| format!("no log: {p}"));
    tracing::info!(etcd = %source.describe(), refresh = ?console.refresh, "console opened");

    let (poll_tx, mut poll_rx) = mpsc::unbounded_channel::<PollEvent>();
    let (command_tx, command_rx) = mpsc::unbounded_channel::<PollCommand>();
    let poller = Poller { source, refresh: console.refresh };
    let poller_task = tokio::spawn(poller.run(poll_tx, command_rx));
    // The OpenShift side is watched on tasks of its own; a missing or unreachable API never holds up etcd's panes.
    let (openshift_tx, mut openshift_rx) = mpsc::unbounded_channel::<OpenShiftEvent>();
    let (connection_tx, mut connection_rx) = tokio::sync::oneshot::channel::<Connection>();
    let mut api: Option<Connection> = None;
    let mut awaiting_connection = true;
    app.read_only = console.read_only;
    app.view = match console.view {
        crate::cli::StartView::Members => crate::app::View::Member,
        crate::cli::StartView::Openshift => crate::app::View::OpenShift,
        crate::cli::StartView::Csrs => crate::app::View::Csrs,
    };
    let actions_tx = openshift_tx.clone();
    let openshift_task = match kube {
        Some(kube) if etcd_console_core::openshift::configured(&kube) => {
            Some(tokio::spawn(etcd_console_core::openshift::watch::run(kube, openshift_tx, connection_tx)))
        }
        Some(_) => {
            app.openshift.on_event(OpenShiftEvent::Unavailable {
                error: "no kubeconfig: give --kubeconfig FILE or set KUBECONFIG to see the OpenShift side".into(),
            });
            None
        }
        None => {
            app.openshift.on_event(OpenShiftEvent::Unavailable { error: "this lab runs no API (--no-api)".into() });
            None
        }
    };
    let mut watching = openshift_task.is_some();

    install_panic_hook(console.mouse);
    if let Err(e) = open_screen(console.mouse) {
        close_screen(console.mouse);
        eprintln!("etcd-console: cannot open the terminal: {e}");
        poller_task.abort();
        return 2;
    }
    let mut terminal = match Terminal::new(CrosstermBackend::new(stdout())) {
        Ok(terminal) => terminal,
        Err(e) => {
            close_screen(console.mouse);
            eprintln!("etcd-console: cannot open the terminal: {e}");
            poller_task.abort();
            return 2;
        }
    };
    let (input_tx, mut input_rx) = mpsc::unbounded_channel::<Event>();
    let stop_input = Arc::new(AtomicBool::new(false));
    spawn_input(input_tx, stop_input.clone());
    let mut term_signal = signal(SignalKind::terminate()).ok();
    let mut hangup = signal(SignalKind::hangup()).ok();
    let theme = Theme::from_env();
    // Ages on screen count seconds: one redraw a second keeps them true.
    let mut second = tokio::time::interval(Duration::from_secs(1));
    second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    // Every wake-up below is a change (an answer, a key, a resize, a second
    // passing on the ages shown), so the screen is drawn once per wake-up and
    // the process sleeps in between.
    let mut code = 0;
    let mut polling = true;
    loop {
        // Once the cluster is known: an unfinished defrag run of it is offered (a small local file).
        if !journal_checked {
            if let (Some(id), Some(dir)) = (app.cluster.cluster_id(), &journal_dir) {
                journal_checked = true;
                look_for_last_backup(backup_dir.clone(), id, last_backup_tx.clone());
                match etcd_console_core::journal::unfinished(dir, id) {
                    Ok(Some(unfinished)) => app.offer_resume(unfinished),
                    Ok(None) => {}
                    Err(e) => app.notice = Some(e),
                }
            }
        }
        if let Err(e) = terminal.draw(|frame| ui::draw(frame, &app, theme, Instant::now())) {
            tracing::error!(error = %e, "drawing failed");
            code = 2;
            break;
        }
        tokio::select! {
            event = poll_rx.recv(), if polling => match event {
                Some(event) => {
                    app.on_poll(event);
                    while let Ok(event) = poll_rx.try_recv() {
                        app.on_poll(event);
                    }
                }
                None => {
                    // Only a bug ends the poller while the console runs: say so rather than show old figures as current.
                    polling = false;
                    tracing::error!("the poller stopped");
                    app.notice = Some("polling stopped (a bug: see the log); figures no longer update, restart the console".into());
                }
            },
            event = openshift_rx.recv(), if watching => match event {
                Some(event) => {
                    let mut notices: Vec<String> = app.openshift.on_event(event).into_iter().collect();
                    while let Ok(event) = openshift_rx.try_recv() {
                        notices.extend(app.openshift.on_event(event));
                    }
                    if let Some(notice) = notices.pop() {
                        app.notice = Some(notice);
                    }
                }
                None => watching = false,
            },
            Some(progress) = defrag_rx.recv() => {
                app.on_defrag(progress);
                while let Ok(progress) = defrag_rx.try_recv() {
                    app.on_defrag(progress);
                }
            },
            Some(progress) = backup_rx.recv() => {
                let mut finished = false;
                for progress in std::iter::once(progress).chain(std::iter::from_fn(|| backup_rx.try_recv().ok())) {
                    finished |= matches!(&progress, BackupProgress::Run(run) if run.outcome().is_some());
                    app.on_backup(progress);
                }
                if let (true, Some(id)) = (finished, app.cluster.cluster_id()) {
                    look_for_last_backup(backup_dir.clone(), id, last_backup_tx.clone());
                }
            },
            Some(last) = last_backup_rx.recv() => app.last_backup = Some(last),
            Some(progress) = restore_rx.recv() => {
                app.on_restore(progress);
                while let Ok(progress) = restore_rx.try_recv() {
                    app.on_restore(progress);
                }
            },
            Some(asked) = restore_ask_rx.recv() => app.ask_restore(asked),
            Some(progress) = encryption_rx.recv() => {
                app.on_encryption(progress);
                while let Ok(progress) = encryption_rx.try_recv() {
                    app.on_encryption(progress);
                }
            },
            connection = &mut connection_rx, if awaiting_connection => {
                awaiting_connection = false;
                api = connection.ok();
            },
            input = input_rx.recv() => {
                let Some(input) = input else {
                    tracing::error!("terminal input ended");
                    break;
                };
                match input {
                    Event::Key(key) if key.kind != event::KeyEventKind::Release && app.openshift.editing_filter => {
                        app.on_filter_key(key);
                    }
                    Event::Key(key) if key.kind != event::KeyEventKind::Release && app.restore_prompt_up() => {
                        if let Some(Effect::AnswerRestore(typed)) = app.on_restore_key(key) {
                            if let Some(answer) = &restore_answer {
                                let _ = answer.send(typed);
                            }
                        }
                    }
                    Event::Key(key) if key.kind != event::KeyEventKind::Release => {
                        if let Some(action) = keys::action_for(key) {
                            match app.on_action(action) {
                                Some(Effect::Quit) => break,
                                Some(Effect::RefreshNow) => { let _ = command_tx.send(PollCommand::RefreshNow); }
                                Some(Effect::Change(change)) => match api.clone() {
                                    // The change runs on a task; its outcome comes back as an event.
                                    Some(connection) => {
                                        app.notice = Some("working ...".into());
                                        tokio::spawn(carry_out(connection, change, actions_tx.clone()));
                                    }
                                    None => app.notice = Some("not connected to the API yet: nothing changed".into()),
                                },
                                Some(Effect::StartDefrag(start)) => {
                                    let (run, unfinished) = *start;
                                    let (abort_tx, abort_rx) = tokio::sync::watch::channel(false);
                                    defrag_abort = Some(abort_tx);
                                    tokio::spawn(run_in_background(
                                        defrag_source.clone(),
                                        console.quota_bytes,
                                        run,
                                        unfinished,
                                        journal_dir.clone(),
                                        abort_rx,
                                        defrag_tx.clone(),
                                    ));
                                }
                                Some(Effect::StartBackup { force }) => {
                                    let (abort_tx, abort_rx) = tokio::sync::watch::channel(false);
                                    backup_abort = Some(abort_tx);
                                    let run = backup_dir.clone().ok_or_else(|| "no backup directory".to_string()).and_then(|dir| {
                                        BackupRun::new(BackupOptions { force, ..crate::commands::backup::options_from(&console, dir) })
                                    });
                                    match run {
                                        Ok(run) => {
                                            tokio::spawn(backup_in_background(
                                                backup_source.clone(),
                                                console.clone(),
                                                backup_kube.clone(),
                                                run,
                                                abort_rx,
                                                backup_tx.clone(),
                                            ));
                                        }
                                        // Never left showing a run that does not exist.
                                        Err(e) => {
                                            app.backup = None;
                                            app.notice = Some(format!("backup not started: {e}"));
                                        }
                                    }
                                }
                                Some(Effect::StartEncryption { target, backup_first }) => {
                                    let (abort_tx, abort_rx) = tokio::sync::watch::channel(false);
                                    let (answer_tx, answer_rx) = mpsc::unbounded_channel();
                                    encryption_abort = Some(abort_tx);
                                    encryption_answer = Some(answer_tx);
                                    tokio::spawn(encryption_in_background(
                                        backup_source.clone(),
                                        console.clone(),
                                        encryption_kube.clone(),
                                        target,
                                        backup_first,
                                        answer_rx,
                                        abort_rx,
                                        encryption_tx.clone(),
                                    ));
                                }
                                Some(Effect::AnswerEncryption(yes)) => {
                                    if let Some(answer) = &encryption_answer {
                                        let _ = answer.send(etcd_console_core::wizard::encryption::Answer { yes, backup_first: None });
                                    }
                                }
                                Some(Effect::PlanRestore { recovery_host }) => {
                                    tokio::spawn(plan_restore_in_background(
                                        restore_connection.clone(),
                                        console.clone(),
                                        restore_kube.clone(),
                                        recovery_host,
                                        restore_tx.clone(),
                                    ));
                                }
                                Some(Effect::StartRestore { recovery_host }) => {
                                    let (abort_tx, abort_rx) = tokio::sync::watch::channel(false);
                                    let (answer_tx, answer_rx) = mpsc::unbounded_channel();
                                    restore_abort = Some(abort_tx);
                                    restore_answer = Some(answer_tx);
                                    tokio::spawn(restore_in_background(
                                        restore_connection.clone(),
                                        console.clone(),
                                        restore_kube.clone(),
                                        recovery_host,
                                        restore_ask_tx.clone(),
                                        answer_rx,
                                        abort_rx,
                                        restore_tx.clone(),
                                    ));
                                }
                                Some(Effect::AnswerRestore(typed)) => {
                                    if let Some(answer) = &restore_answer {
                                        let _ = answer.send(typed);
                                    }
                                }
                                Some(Effect::AbortRestore) => {
                                    if let Some(abort) = &restore_abort {
                                        let _ = abort.send(true);
                                    }
                                }
                                Some(Effect::AbortEncryption) => {
                                    if let Some(abort) = &encryption_abort {
                                        let _ = abort.send(true);
                                    }
                                }
                                Some(Effect::AbortBackup) => {
                                    if let Some(abort) = &backup_abort {
                                        let _ = abort.send(true);
                                    }
                                }
                                Some(Effect::AbortDefrag) => {
                                    if let Some(abort) = &defrag_abort {
                                        let _ = abort.send(true);
                                    }
                                }
                                Some(Effect::Suspend) => {
                                    // Give the shell its terminal back, stop as Ctrl-Z does, and take it again on `fg`.
                                    close_screen(console.mouse);
                                    let _ = raise(Signal::SIGTSTP);
                                    if open_screen(console.mouse).is_err() || terminal.clear().is_err() {
                                        code = 2;
                                        break;
                                    }
                                }
                                None => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ = second.tick() => {}
            _ = async { match term_signal.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => break,
            _ = async { match hangup.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => break,
        }
    }
    stop_input.store(true, Ordering::Relaxed);
    poller_task.abort();
    if let Some(task) = openshift_task {
        task.abort();
    }
    close_screen(console.mouse);
    tracing::info!("console closed");
    code
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
