//! Tracing to daily-rolling files under the XDG state directory; never to the
//! screen. Only paths, names and outcomes are logged, never key or certificate
//! contents. Each line is written as it is logged, not queued for a writer
//! thread: the audit line of a step sent just before the process is killed
//! (SIGKILL, a crash) is in the file.

use std::path::PathBuf;

/// Starts logging; the directory logged into. On failure the console runs
/// without a log and says why once, before the screen opens.
pub fn init(log_dir: Option<PathBuf>) -> Result<PathBuf, String> {
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
    let subscriber =
        tracing_subscriber::fmt().with_writer(appender).with_ansi(false).with_max_level(tracing::Level::INFO).finish();
    tracing::subscriber::set_global_default(subscriber).map_err(|e| format!("logging already set up: {e}"))?;
    Ok(dir)
}
