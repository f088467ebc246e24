//! The one printer of the headless commands. Stdout carries what a script
//! reads: readable lines after a clock, or one JSON object a line with `-o
//! json`. Questions, errors and progress bars go to stderr. A reader gone (`|
//! head`) ends nothing: a line that cannot be written is dropped. Every line
//! passes through `units::safe_lines` on its way out: whatever outside text a
//! line carries, no control character of it reaches the terminal (JSON escapes
//! its own).

use std::io::Write;
use std::time::SystemTime;

use etcd_console_core::units::safe_lines;

/// Text from outside (file names, what a host or the API said) fit for the terminal: no control
/// character of it reaches it, a newline in it shown as `\n`.
pub fn safe(text: &str) -> String {
    etcd_console_core::units::safe_text(text)
}

/// The wall clock as HH:MM:SS (UTC), for the commands' lines.
pub fn clock() -> String {
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    now.get(11..19).unwrap_or(&now).to_string()
}

/// Writes `text` and a newline to stdout, flushed; a closed stdout is not an error worth a panic.
pub fn out(text: impl std::fmt::Display) {
    let text = text.to_string();
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", safe_lines(&text));
    let _ = stdout.flush();
}

/// Writes `text` and a newline to stderr (errors, what a command says beside its output).
pub fn err(text: impl std::fmt::Display) {
    let text = text.to_string();
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{}", safe_lines(&text));
}

/// `eprintln!` for the commands, through [`err`].
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::commands::output::err(format_args!($($arg)*))
    };
}
pub(crate) use errln;

/// `println!` for the commands' stdout, through [`out`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::commands::output::out(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// Writes `text` to stdout as it is (no newline added), flushed; a closed stdout is dropped.
pub fn out_raw(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(safe_lines(text).as_bytes());
    let _ = stdout.flush();
}

#[derive(Debug, Default)]
pub struct Printer {
    /// `-o json`: every line is the JSON value, never the text.
    pub json: bool,
    /// A progress bar is being redrawn on stderr: cleared before the next line.
    pub bar: bool,
}

impl Printer {
    pub fn new(json: bool) -> Printer {
        Printer { json, bar: false }
    }

    /// One event: its JSON object, or its text after the clock.
    pub fn line(&self, value: serde_json::Value, text: impl std::fmt::Display) {
        if self.json {
            out(value);
        } else {
            if self.bar {
                eprint!("\r\x1b[2K");
            }
            out(format_args!("[{}] {text}", clock()));
        }
    }

    /// A JSON object, with `-o json` only.
    pub fn json(&self, value: serde_json::Value) {
        if self.json {
            out(value);
        }
    }

    /// Readable text as it is (no clock), without `-o json` only.
    pub fn text(&self, text: impl std::fmt::Display) {
        if !self.json {
            out(text);
        }
    }
}
