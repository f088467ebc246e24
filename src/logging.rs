//! Tracing to daily-rolling files under the XDG state directory; never to the
//! screen. Only paths, names and outcomes are logged, never key or certificate
//! contents.

use std::path::PathBuf;

use tracing_appender::non_blocking::WorkerGuard;

/// Starts logging; the guard flushes on drop. On failure the console runs
/// without a log and says why once, before the screen opens.
pub fn init(log_dir: Option<PathBuf>) -> Result<(WorkerGuard, PathBuf), String> {
    let dir = log_dir
        .or_else(etcd_console_core::paths::state_dir)
        .ok_or("no home directory to keep logs in: give --log-dir")?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create the log directory {}: {e}", dir.display()))?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("etcd-console")
        .filename_suffix("log")
        .max_log_files(14)
        .build(&dir)
        .map_err(|e| format!("cannot open a log file in {}: {e}", dir.display()))?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let subscriber =
        tracing_subscriber::fmt().with_writer(writer).with_ansi(false).with_max_level(tracing::Level::INFO).finish();
    tracing::subscriber::set_global_default(subscriber).map_err(|e| format!("logging already set up: {e}"))?;
    Ok((guard, dir))
}
