//! `etcd-console watch`: the incident timeline as a stream, for scripts and chat bots. The
//! same producer as the console's `t` pane (a console state without a screen): one line per
//! event, text or one JSON object (`time`, `kind`, `source`, `member`, `message`, `details`).
//! Runs until SIGINT or SIGTERM (exit 0), or its reader goes away (exit 0); exit 2 for bad input.

use std::io::Write;
use std::time::{Instant, SystemTime};

use tokio::signal::unix::{signal, SignalKind};

use super::output::errln;
use crate::app::App;
use crate::cli::{ConsoleArgs, WatchFormat};
use crate::tui::{recv, with_queued};
use etcd_console_core::etcd::source::EtcdSource;
use etcd_console_core::settings::{ConnectionSettings, KubeSettings};
use etcd_console_core::timeline::Event;

pub async fn run(
    connection: &ConnectionSettings,
    console: &ConsoleArgs,
    kube: &KubeSettings,
    format: WatchFormat,
) -> i32 {
    let source = match EtcdSource::choose(connection, Some(kube)) {
        Ok(source) => source,
        Err(e) => {
            errln!("etcd-console: {e}");
            return 2;
        }
    };
    if console.refresh.is_zero() {
        errln!("etcd-console: --refresh must be more than 0s");
        return 2;
    }
    let mut app = App::new(source.describe(), console.quota_bytes, console.refresh, Instant::now());
    app.cluster.quota_given = console.quota_given;
    if let Some(user) = kube.user() {
        app.who = user;
    }
    let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        errln!("etcd-console: cannot listen for SIGINT/SIGTERM");
        return 2;
    };
    let (sources, mut feeds) = crate::tui::start_sources(source, console.refresh, Some(kube.clone()), &mut app);
    tracing::info!(refresh = ?console.refresh, "watch started");
    let json = format == WatchFormat::Json;
    // A reader gone while nothing happens (`| head -1`) is noticed within a second.
    let mut second = tokio::time::interval(std::time::Duration::from_secs(1));
    let code = loop {
        let events = tokio::select! {
            Some(event) = feeds.poll.recv() => app.take_polled(with_queued(event, &mut feeds.poll), SystemTime::now()),
            Some(event) = recv(&mut feeds.openshift) => {
                let batch = match feeds.openshift.as_mut() {
                    Some(rx) => with_queued(event, rx),
                    None => vec![event],
                };
                app.take_openshift(batch, SystemTime::now()).0
            }
            _ = second.tick() => {
                if reader_gone() {
                    break 0;
                }
                continue;
            }
            _ = interrupt.recv() => break 0,
            _ = terminate.recv() => break 0,
        };
        if !print(&events, json) {
            // The reader went away (`| head`): nothing more to say to anyone.
            break 0;
        }
    };
    sources.stop();
    tracing::info!(events = app.timeline.len(), "watch ended");
    code
}

/// Stdout is a pipe whose reader has closed it (poll says POLLERR or POLLHUP on it).
fn reader_gone() -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let stdout = std::io::stdout();
    let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::POLLOUT)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(n) if n > 0 => fds[0].revents().is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP)),
        _ => false,
    }
}

/// Writes the events, one a line, flushed; false once stdout is closed.
fn print(events: &[Event], json: bool) -> bool {
    if events.is_empty() {
        return true;
    }
    let mut stdout = std::io::stdout().lock();
    for event in events {
        let line = if json { event.to_json() } else { event.to_text() };
        let line = etcd_console_core::units::safe_lines(&line);
        if writeln!(stdout, "{line}").is_err() {
            return false;
        }
    }
    stdout.flush().is_ok()
}
