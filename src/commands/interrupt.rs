//! What stops a headless run from outside: Ctrl-C (SIGINT), SIGTERM (`kill`, a
//! service manager) and SIGHUP (the ssh session to the bastion dropped). Each
//! is heard as the run's stop, so it stops where it safely can and cleans up
//! (temporary pods, part files) as it does for Ctrl-C. After SIGHUP the
//! terminal is gone: stdout and stderr are pointed at /dev/null first, so that
//! a message written to a hung-up terminal cannot end the run before its
//! clean-up; the audit log still says what happened.

use tokio::signal::unix::{signal, Signal, SignalKind};

async fn next(stream: &mut Option<Signal>) {
    match stream {
        Some(stream) => {
            stream.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// Waits for SIGINT, SIGTERM or SIGHUP and says which.
pub async fn interrupted() -> &'static str {
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    let name = tokio::select! {
        () = next(&mut int) => "SIGINT",
        () = next(&mut term) => "SIGTERM",
        () = next(&mut hup) => {
            detach_terminal();
            "SIGHUP"
        }
    };
    tracing::warn!(target: "audit", signal = name, "the run was asked to stop");
    name
}

/// Points stdout and stderr at /dev/null (the terminal hung up).
fn detach_terminal() {
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
}
