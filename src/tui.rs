//! The terminal: set-up and restore (also on panic), the input thread, and the
//! event loop. The loop only waits on channels; every network call runs on a
//! task (the poller's, the OpenShift watch's, a run's), so a hung member can
//! never hold up a key or a redraw.
//!
//! `run` sets up and tears down; `start_sources` starts the poller and the
//! watch; `Inbox::next` waits for the next wake-up; `EventLoop::apply` applies
//! it to the state and `EventLoop::carry_out` does what a key asked, the wizard
//! runs through their registry (`crate::runs`).

use crate::commands::output::errln;
use std::io::{stdout, BufWriter, Stdout};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{
    self, DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture, Event,
};
use crossterm::terminal::{
    self, BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use nix::sys::signal::{raise, Signal};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::signal::unix::{signal, Signal as SignalStream, SignalKind};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::app::backup::LastBackup;
use crate::app::{App, Change, Effect, WizardKind};
use crate::cli::ConsoleArgs;
use crate::runs::{NotStarted, RunProgress, RunSettings, Runs};
use crate::ui::{self, Theme};
use etcd_console_core::etcd::poller::{PollCommand, PollEvent, Poller};
use etcd_console_core::etcd::source::EtcdSource;
use etcd_console_core::openshift::watch::OpenShiftEvent;
use etcd_console_core::openshift::{csr, Connection};
use etcd_console_core::settings::{ConnectionSettings, KubeSettings};

fn open_screen(mouse: bool) -> std::io::Result<()> {
    terminal::enable_raw_mode()?;
    // A paste comes as one event, never as keys: a pasted line with "q" or Enter in it acts on nothing.
    execute!(stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
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
    let _ = execute!(stdout(), DisableBracketedPaste, LeaveAlternateScreen, cursor::Show);
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

/// Enough for a whole frame of a large terminal (300x100 cells with colours), so it leaves in one write.
const FRAME_BUFFER_BYTES: usize = 256 * 1024;

/// The terminal while the console has it: raw mode, the alternate screen, the input thread.
struct Screen {
    /// A frame is written whole (one buffer, flushed once) between the synchronized-update marks,
    /// so a terminal never shows half of one: the terminals that know the marks show it at once,
    /// the others get it in one write.
    terminal: Terminal<CrosstermBackend<BufWriter<Stdout>>>,
    mouse: bool,
    theme: Theme,
    stop_input: Arc<AtomicBool>,
}

impl Screen {
    /// Takes the terminal; its keys, mouse and resizes come on the channel returned.
    fn open(mouse: bool) -> Result<(Screen, mpsc::UnboundedReceiver<Event>), String> {
        install_panic_hook(mouse);
        let opened = open_screen(mouse).and_then(|()| {
            Terminal::new(CrosstermBackend::new(BufWriter::with_capacity(FRAME_BUFFER_BYTES, stdout())))
        });
        let terminal = match opened {
            Ok(terminal) => terminal,
            Err(e) => {
                close_screen(mouse);
                return Err(e.to_string());
            }
        };
        let (input_tx, input_rx) = mpsc::unbounded_channel();
        let stop_input = Arc::new(AtomicBool::new(false));
        spawn_input(input_tx, stop_input.clone());
        Ok((Screen { terminal, mouse, theme: Theme::from_env(), stop_input }, input_rx))
    }

    fn draw(&mut self, app: &App) -> std::io::Result<()> {
        let theme = self.theme;
        crossterm::queue!(self.terminal.backend_mut(), BeginSynchronizedUpdate)?;
        self.terminal.draw(|frame| ui::draw(frame, app, theme, Instant::now()))?;
        execute!(self.terminal.backend_mut(), EndSynchronizedUpdate)
    }

    /// Ctrl-Z: gives the shell its terminal back, stops as Ctrl-Z does, and takes it again on `fg`.
    fn suspend(&mut self) -> std::io::Result<()> {
        close_screen(self.mouse);
        let _ = raise(Signal::SIGTSTP);
        open_screen(self.mouse)?;
        self.terminal.clear()
    }

    fn close(self) {
        self.stop_input.store(true, Ordering::Relaxed);
        close_screen(self.mouse);
    }
}

/// The poller and the OpenShift watch, on tasks of their own.
pub(crate) struct Sources {
    poller: JoinHandle<()>,
    commands: mpsc::UnboundedSender<PollCommand>,
    openshift: Option<JoinHandle<()>>,
    /// The API, once the watch has connected: CSR changes go through it.
    api: Option<Connection>,
    /// Where a change's outcome is told (with the watch's events).
    changes: mpsc::UnboundedSender<OpenShiftEvent>,
}

impl Sources {
    pub(crate) fn stop(&self) {
        self.poller.abort();
        if let Some(task) = &self.openshift {
            task.abort();
        }
    }
}

/// What the sources say, to the loop.
pub(crate) struct Feeds {
    pub(crate) poll: mpsc::UnboundedReceiver<PollEvent>,
    pub(crate) openshift: Option<mpsc::UnboundedReceiver<OpenShiftEvent>>,
    connection: oneshot::Receiver<Connection>,
}

/// Starts the poller and, with a kubeconfig, the OpenShift watch (a missing or unreachable API
/// never holds up etcd's panes); without one, the OpenShift side says why.
pub(crate) fn start_sources(
    source: EtcdSource,
    refresh: Duration,
    kube: Option<KubeSettings>,
    app: &mut App,
) -> (Sources, Feeds) {
    let (poll_tx, poll_rx) = mpsc::unbounded_channel::<PollEvent>();
    let (commands, command_rx) = mpsc::unbounded_channel::<PollCommand>();
    let poller = tokio::spawn(Poller { source, refresh }.run(poll_tx, command_rx));
    let (openshift_tx, openshift_rx) = mpsc::unbounded_channel::<OpenShiftEvent>();
    let (connection_tx, connection_rx) = oneshot::channel::<Connection>();
    let changes = openshift_tx.clone();
    let openshift = match kube {
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
    let feeds =
        Feeds { poll: poll_rx, openshift: openshift.is_some().then_some(openshift_rx), connection: connection_rx };
    (Sources { poller, commands, openshift, api: None, changes }, feeds)
}

/// What woke the loop up; each is applied, then the screen drawn once.
enum Wake {
    Polled(Vec<PollEvent>),
    PollerStopped,
    OpenShift(Vec<OpenShiftEvent>),
    OpenShiftEnded,
    Connected(Option<Connection>),
    Runs(Vec<RunProgress>),
    LastBackup(Option<LastBackup>),
    Input(Event),
    InputEnded,
    /// A second passed: the ages on screen move.
    Tick,
    /// SIGTERM or SIGHUP.
    Signalled,
}

/// Every channel the loop waits on, with what arrived meanwhile taken in the same wake-up.
struct Inbox {
    poll: Option<mpsc::UnboundedReceiver<PollEvent>>,
    openshift: Option<mpsc::UnboundedReceiver<OpenShiftEvent>>,
    connection: Option<oneshot::Receiver<Connection>>,
    runs: mpsc::UnboundedReceiver<RunProgress>,
    last_backup: mpsc::UnboundedReceiver<Option<LastBackup>>,
    input: mpsc::UnboundedReceiver<Event>,
    second: tokio::time::Interval,
    terminate: Option<SignalStream>,
    hangup: Option<SignalStream>,
}

impl Inbox {
    fn new(
        feeds: Feeds,
        runs: mpsc::UnboundedReceiver<RunProgress>,
        last_backup: mpsc::UnboundedReceiver<Option<LastBackup>>,
        input: mpsc::UnboundedReceiver<Event>,
    ) -> Inbox {
        // Ages on screen count seconds: one redraw a second keeps them true.
        let mut second = tokio::time::interval(Duration::from_secs(1));
        second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        Inbox {
            poll: Some(feeds.poll),
            openshift: feeds.openshift,
            connection: Some(feeds.connection),
            runs,
            last_backup,
            input,
            second,
            terminate: signal(SignalKind::terminate()).ok(),
            hangup: signal(SignalKind::hangup()).ok(),
        }
    }

    async fn next(&mut self) -> Wake {
        tokio::select! {
            event = recv(&mut self.poll) => match (event, self.poll.as_mut()) {
                (Some(event), Some(rx)) => Wake::Polled(with_queued(event, rx)),
                _ => {
                    self.poll = None;
                    Wake::PollerStopped
                }
            },
            event = recv(&mut self.openshift) => match (event, self.openshift.as_mut()) {
                (Some(event), Some(rx)) => Wake::OpenShift(with_queued(event, rx)),
                _ => {
                    self.openshift = None;
                    Wake::OpenShiftEnded
                }
            },
            connection = connected(&mut self.connection) => {
                self.connection = None;
                Wake::Connected(connection)
            },
            Some(progress) = self.runs.recv() => Wake::Runs(with_queued(progress, &mut self.runs)),
            Some(last) = self.last_backup.recv() => Wake::LastBackup(last),
            input = self.input.recv() => input.map_or(Wake::InputEnded, Wake::Input),
            _ = self.second.tick() => Wake::Tick,
            () = signalled(&mut self.terminate) => Wake::Signalled,
            () = signalled(&mut self.hangup) => Wake::Signalled,
        }
    }
}

/// The next message of a channel still open; never, once it closed.
pub(crate) async fn recv<T>(rx: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The API connection the watch hands over (None: it never will); never, once it came.
async fn connected(rx: &mut Option<oneshot::Receiver<Connection>>) -> Option<Connection> {
    match rx {
        Some(rx) => rx.await.ok(),
        None => std::future::pending().await,
    }
}

/// `first` and whatever came after it meanwhile.
pub(crate) fn with_queued<T>(first: T, rx: &mut mpsc::UnboundedReceiver<T>) -> Vec<T> {
    std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok())).collect()
}

async fn signalled(signal: &mut Option<SignalStream>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// Whether the loop goes on after a wake-up, or ends with this exit code.
enum Flow {
    Go,
    End(i32),
}

/// The loop's state: the console's, the runs, the sources, and where journals and backups are.
struct EventLoop {
    app: App,
    runs: Runs,
    sources: Sources,
    journal_dir: Option<PathBuf>,
    backup_dir: Option<PathBuf>,
    journal_checked: bool,
    last_backup: mpsc::UnboundedSender<Option<LastBackup>>,
    /// Where `T` writes the timeline.
    timeline_dir: PathBuf,
}

impl EventLoop {
    /// Every wake-up is a change (an answer, a key, a resize, a second passing on the ages
    /// shown), so the screen is drawn once per wake-up and the process sleeps in between.
    async fn run(&mut self, screen: &mut Screen, inbox: &mut Inbox) -> i32 {
        loop {
            self.look_once_known();
            if let Err(e) = screen.draw(&self.app) {
                tracing::error!(error = %e, "drawing failed");
                return 2;
            }
            let wake = inbox.next().await;
            let flow = self.apply(wake, screen);
            // A new notice goes to the timeline; an old one leaves the footer (the 1 s tick sees to it).
            self.app.age_notice(Instant::now());
            if let Flow::End(code) = flow {
                return code;
            }
        }
    }

    /// Once the cluster is known: an unfinished defrag run of it is offered (a small local
    /// file), and its newest verified backup looked for.
    fn look_once_known(&mut self) {
        if self.journal_checked {
            return;
        }
        let (Some(id), Some(dir)) = (self.app.cluster.cluster_id(), &self.journal_dir) else { return };
        self.journal_checked = true;
        look_for_last_backup(self.backup_dir.clone(), id, self.last_backup.clone());
        match etcd_console_core::wizard::defrag::journal::unfinished(dir, id) {
            Ok(Some(unfinished)) => self.app.offer_resume(unfinished),
            Ok(None) => {}
            Err(e) => self.app.notice = Some(e.to_string()),
        }
    }

    fn apply(&mut self, wake: Wake, screen: &mut Screen) -> Flow {
        let app = &mut self.app;
        match wake {
            Wake::Polled(events) => {
                app.take_polled(events, std::time::SystemTime::now());
            }
            Wake::PollerStopped => {
                // Only a bug ends the poller while the console runs: say so rather than show old figures as current.
                tracing::error!("the poller stopped");
                app.notice =
                    Some("polling stopped (a bug: see the log); figures no longer update, restart the console".into());
            }
            Wake::OpenShift(events) => {
                let (_, notice) = app.take_openshift(events, std::time::SystemTime::now());
                if let Some(notice) = notice {
                    app.notice = Some(notice);
                }
            }
            Wake::OpenShiftEnded | Wake::Tick => {}
            Wake::Connected(api) => self.sources.api = api,
            Wake::Runs(progress) => self.on_runs(progress),
            Wake::LastBackup(last) => app.last_backup = Some(last),
            Wake::Input(Event::Key(key)) if key.kind != event::KeyEventKind::Release => {
                // Alt-q is Esc then q: each effect in turn, until one ends the loop.
                for effect in app.on_terminal_key(key) {
                    if let Flow::End(code) = self.carry_out(effect, screen) {
                        return Flow::End(code);
                    }
                }
            }
            Wake::Input(Event::Paste(text)) => app.on_paste(&text),
            Wake::Input(Event::Resize(columns, rows)) => app.on_resize(columns, rows),
            Wake::Input(_) => {}
            Wake::InputEnded => {
                tracing::error!("terminal input ended");
                return Flow::End(0);
            }
            Wake::Signalled => return Flow::End(0),
        }
        Flow::Go
    }

    /// What the runs said: the registry first (a run with its outcome is off it), then the wizards.
    fn on_runs(&mut self, batch: Vec<RunProgress>) {
        let mut backup_ended = false;
        for progress in batch {
            backup_ended |= progress.kind() == WizardKind::Backup && progress.ends_run();
            // The encryption wizard's backup first (E, b) is a backup too: the title's age follows it.
            backup_ended |= matches!(
                &progress,
                RunProgress::Encryption(etcd_console_core::wizard::encryption::executor::Progress::Backup(
                    etcd_console_core::wizard::backup::executor::Progress::Run(run)
                )) if run.outcome().is_some()
            );
            self.runs.on_progress(&progress);
            self.app.record_run(&progress);
            match progress {
                RunProgress::Defrag(progress) => self.app.on_defrag(progress),
                RunProgress::Backup(progress) => self.app.on_backup(progress),
                RunProgress::Encryption(progress) => self.app.on_encryption(progress),
                RunProgress::Restore(progress) => self.app.on_restore(progress),
                RunProgress::RestoreAsked(asked) => self.app.ask_restore(asked),
                RunProgress::Member(progress) => self.app.on_member(progress),
                RunProgress::MemberAsked(asked) => self.app.ask_member(asked),
                RunProgress::MemberJournalled { member, at } => self.app.member_journalled(&member, at),
                RunProgress::Space(progress) => self.app.on_space(progress),
            }
        }
        if let (true, Some(id)) = (backup_ended, self.app.cluster.cluster_id()) {
            look_for_last_backup(self.backup_dir.clone(), id, self.last_backup.clone());
        }
    }

    /// Does what a key asked; nothing here waits on the network (runs and changes go on tasks).
    fn carry_out(&mut self, effect: Effect, screen: &mut Screen) -> Flow {
        match effect {
            Effect::Quit => return Flow::End(0),
            Effect::RefreshNow => {
                let _ = self.sources.commands.send(PollCommand::RefreshNow);
            }
            Effect::Change(change) => match self.sources.api.clone() {
                // The change runs on a task; its outcome comes back as an event.
                Some(connection) => {
                    self.app.record_action(&change_text(&change), None);
                    self.app.notice = Some("working ...".into());
                    tokio::spawn(carry_out_change(connection, change, self.sources.changes.clone()));
                }
                None => self.app.notice = Some("not connected to the API yet: nothing changed".into()),
            },
            Effect::Start(start) => {
                let kind = start.kind();
                match self.runs.start(start) {
                    Ok(()) => {}
                    Err(NotStarted::Running) => {
                        self.app.notice = Some(format!("a {} run is still going: not started again", kind.name()))
                    }
                    Err(NotStarted::Cannot(e)) => self.app.not_started(kind, &e),
                }
            }
            Effect::Answer(answer) => self.runs.answer(answer),
            Effect::Stop(kind) => self.runs.stop(kind),
            Effect::PlanRestore { recovery_host } => self.runs.plan_restore(recovery_host),
            Effect::PlanMember { member } => self.runs.plan_member(member),
            Effect::ExportTimeline { markdown, name } => {
                let dir = self.timeline_dir.clone();
                let tx = self.sources.changes.clone();
                self.app.notice = Some("writing the timeline ...".into());
                // A file write, off the loop (a slow disk never holds up a key).
                tokio::task::spawn_blocking(move || {
                    let path = std::path::absolute(&dir).unwrap_or(dir).join(&name);
                    let message = match write_new(&path, &markdown) {
                        Ok(()) => format!("timeline written to {}", path.display()),
                        Err(e) => format!("timeline not written to {}: {e}", path.display()),
                    };
                    let _ = tx.send(OpenShiftEvent::Done { message });
                });
            }
            Effect::Suspend => {
                if screen.suspend().is_err() {
                    return Flow::End(2);
                }
            }
        }
        Flow::Go
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
    let (mut app, settings) = match prepare(connection, &console, kube.clone(), context) {
        Ok(prepared) => prepared,
        Err(e) => {
            errln!("etcd-console: {e}");
            return 2;
        }
    };
    app.notice = log_problem.map(|p| format!("no log: {p}"));
    tracing::info!(etcd = %settings.source.describe(), refresh = ?console.refresh, "console opened");
    let (sources, feeds) = start_sources(settings.source.clone(), console.refresh, kube, &mut app);
    let (mut screen, input) = match Screen::open(console.mouse) {
        Ok(opened) => opened,
        Err(e) => {
            errln!("etcd-console: cannot open the terminal: {e}");
            sources.stop();
            return 2;
        }
    };
    if let Ok(size) = screen.terminal.size() {
        app.on_resize(size.width, size.height);
    }
    let (runs_tx, runs) = mpsc::unbounded_channel();
    // The newest verified backup of the cluster, looked for off the UI loop.
    let (last_backup_tx, last_backup) = mpsc::unbounded_channel();
    let mut inbox = Inbox::new(feeds, runs, last_backup, input);
    let mut event_loop = EventLoop {
        app,
        journal_dir: settings.journal_dir.clone(),
        backup_dir: settings.backup_dir.clone(),
        runs: Runs::new(settings, runs_tx),
        sources,
        journal_checked: false,
        last_backup: last_backup_tx,
        timeline_dir: console.timeline_dir.clone().unwrap_or_else(|| PathBuf::from(".")),
    };
    let code = event_loop.run(&mut screen, &mut inbox).await;
    event_loop.sources.stop();
    screen.close();
    tracing::info!("console closed");
    code
}

/// The console as the flags set it up, before anything is heard, and what its runs start with.
fn prepare(
    connection: ConnectionSettings,
    console: &ConsoleArgs,
    kube: Option<KubeSettings>,
    context: Option<String>,
) -> Result<(App, RunSettings), String> {
    let source = EtcdSource::choose(&connection, kube.as_ref())?;
    let defrag_options = crate::commands::defrag::options_from(console, console.defrag_wait, "--defrag-wait")?;
    let context = context.unwrap_or_else(|| source.describe());
    let mut app = App::new(context, console.quota_bytes, console.refresh, Instant::now());
    app.cluster.quota_given = console.quota_given;
    app.defrag_options = defrag_options;
    app.backup_dir = crate::commands::backup::backup_dir(None, console);
    app.keys_dir = etcd_console_core::paths::keys_dir();
    app.restore_backup = console.restore_backup.clone();
    app.read_only = console.read_only;
    if let Some(user) = kube.as_ref().and_then(|k| k.user()) {
        app.who = user;
    }
    for n in 0..console.timeline_prefill {
        use etcd_console_core::timeline::{Event, Kind, Source};
        let message = format!("benchmark filler {n}: leader changed from master-0 to master-1 (term {n})");
        let event =
            Event::new(std::time::SystemTime::now(), Kind::LeaderChanged, Source::Etcd, Some("master-1"), message)
                .with(serde_json::json!({"from": "master-0", "to": "master-1", "term": n}));
        app.timeline.push(event);
    }
    app.view = match console.view {
        crate::cli::StartView::Members => crate::app::View::Member,
        crate::cli::StartView::Openshift => crate::app::View::OpenShift,
        crate::cli::StartView::Csrs => crate::app::View::Csrs,
        crate::cli::StartView::Nodes => crate::app::View::Nodes,
    };
    let settings = RunSettings {
        source,
        connection,
        console: console.clone(),
        kube,
        journal_dir: console.journal_dir.clone().or_else(etcd_console_core::journal::default_dir),
        backup_dir: app.backup_dir.clone(),
    };
    Ok((app, settings))
}

/// Carries out a confirmed change (the engine has already checked it) and reports the outcome.
async fn carry_out_change(connection: Connection, change: Change, tx: mpsc::UnboundedSender<OpenShiftEvent>) {
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

/// What a confirmed change does, for the timeline.
fn change_text(change: &Change) -> String {
    match change {
        Change::ApproveCsrs(names) if names.len() == 1 => format!("approve CSR {}", names[0]),
        Change::ApproveCsrs(names) => format!("approve {} CSRs", names.len()),
        Change::DenyCsr(name) => format!("deny CSR {name}"),
        other => format!("{other:?}"),
    }
}

/// Writes a new file (never over one), readable by its owner only.
fn write_new(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Looks for the newest verified backup of cluster `id` on a blocking task (a directory read).
fn look_for_last_backup(dir: Option<std::path::PathBuf>, id: u64, tx: mpsc::UnboundedSender<Option<LastBackup>>) {
    let Some(dir) = dir else { return };
    tokio::task::spawn_blocking(move || {
        use etcd_console_core::wizard::backup::files;
        let last = files::last_verified(&dir, id).and_then(|found| LastBackup::from_metadata(&found.metadata));
        let last = last.map(|mut last| {
            if !last.restore_grade {
                last.restorable_at = files::last_restorable(&dir, id)
                    .and_then(|found| humantime::parse_rfc3339(&found.metadata.taken_at).ok());
            }
            last
        });
        let _ = tx.send(last);
    });
}
