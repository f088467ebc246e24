//! Tracing to daily-rolling files under the XDG state directory; never to the
//! screen. Only paths, names and outcomes are logged, never key or certificate
//! contents. Each line is written as it is logged, not queued for a writer
//! thread: the audit line of a step sent just before the process is killed
//! (SIGKILL, a crash) is in the file.

use std::io::Write;
use std::path::PathBuf;

use tracing_subscriber::fmt::MakeWriter;

use etcd_console_core::units::safe_text_within;

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
    let subscriber = tracing_subscriber::fmt()
        .with_writer(OneLineEach(appender))
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    tracing::subscriber::set_global_default(subscriber).map_err(|e| format!("logging already set up: {e}"))?;
    Ok(dir)
}

/// The log's writers: every event stays one line of the file, whatever outside text its fields
/// carry (a name, a message, an error): a newline or control character in it is escaped as
/// `units::safe_text` escapes it, only the line's own end kept.
struct OneLineEach<M>(M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for OneLineEach<M> {
    type Writer = OneLine<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        OneLine(self.0.make_writer())
    }
}

/// One event, written whole (the subscriber writes each event's line in one call).
pub struct OneLine<W>(W);

impl<W: Write> Write for OneLine<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (line, end) = match text.strip_suffix('\n') {
            Some(line) => (line, "\n"),
            None => (text.as_ref(), ""),
        };
        // One write of the whole line: events logged at once from two threads never interleave.
        let mut safe = safe_text_within(line, usize::MAX);
        safe.push_str(end);
        self.0.write_all(safe.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_carrying_outside_text_stays_one_line_without_escapes() {
        let mut file = Vec::new();
        let event = "2026-12-07T03:00:00Z INFO csr approved name=\"csr-1\n2026 INFO forged\" by=\"\u{1b}[2Jx\"\n";
        let written = OneLine(&mut file).write(event.as_bytes()).unwrap_or(0);
        assert_eq!(written, event.len());
        let text = String::from_utf8_lossy(&file);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.ends_with("by=\"\\e[2Jx\"\n") && !text.contains('\u{1b}'), "{text}");
    }
}
