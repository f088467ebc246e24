//! The one typed-word confirmation of the headless commands. The question goes
//! to stderr (stdout carries plans and JSON lines); the answer comes from a
//! terminal only, so a script without `--yes` is refused, never hung.

use std::io::{BufRead, IsTerminal, Write};

/// Asks `question` on stderr and reads a line; None at the end of input or on a read error.
pub fn ask(question: &str) -> Option<String> {
    let mut err = std::io::stderr();
    let _ = write!(err, "{}", etcd_console_core::units::safe_lines(question));
    let _ = err.flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim().to_string()),
    }
}

/// Whether stdin is a terminal someone can answer on.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// Asks the person to type `word` to go on with `action` (worded to follow "refusing to").
/// Ok(true) only for exactly `word`; Err when there is no terminal to ask on.
pub fn typed_word(question: &str, word: &str, action: &str) -> Result<bool, String> {
    if !interactive() {
        return Err(format!(
            "refusing to {action} without a confirmation: input is not a terminal (give --yes in scripts)"
        ));
    }
    Ok(ask(question).is_some_and(|answer| answer == word))
}
