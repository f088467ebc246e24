//! `etcd-console completions bash|zsh|fish` and `etcd-console man`: both
//! generated from the clap definitions, so they never drift from the flags.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionShell};

/// The completion script of `shell`, as the shell sources it.
pub fn script(shell: CompletionShell) -> Vec<u8> {
    let generator = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    let mut command = Cli::command();
    let mut text = Vec::new();
    clap_complete::generate(generator, &mut command, "etcd-console", &mut text);
    if shell == CompletionShell::Bash {
        text = same_bash_states(&text);
    }
    text
}

/// clap_complete's bash script names a subcommand's state one way where it walks the words
/// (`etcd__console__subcmd__csr`) and another in the case arms (`etcd__subcmd__console__subcmd__csr`)
/// when the program's name has a hyphen, so nothing after a subcommand completed (clap-rs/clap
/// issue 6421). The arms are spelt as the walk spells them.
fn same_bash_states(script: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(script).replace("etcd__subcmd__console__", "etcd__console__").into_bytes()
}

/// The manual page etcd-console(1) in roff: one page, every subcommand in it (clap_mangen's own
/// list would point to a page per subcommand, which nobody installs).
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let command = Cli::command();
    let man = clap_mangen::Man::new(command.clone());
    let mut text = Vec::new();
    man.render_title(&mut text)?;
    man.render_name_section(&mut text)?;
    man.render_synopsis_section(&mut text)?;
    man.render_description_section(&mut text)?;
    man.render_options_section(&mut text)?;
    text.extend_from_slice(b".SH SUBCOMMANDS\n");
    subcommands(&command, "etcd-console", &mut text);
    text.extend_from_slice(
        b".PP\nEach subcommand's own flags: \\fBetcd\\-console\\fR \\fISUBCOMMAND\\fR \\fB\\-\\-help\\fR.\n",
    );
    text.extend_from_slice(b".SH SEE ALSO\n\\fBetcdctl\\fR(1), \\fBoc\\fR(1)\n");
    man.render_version_section(&mut text)?;
    Ok(text)
}

/// Every visible subcommand under `parent`, its whole name in bold and what it does, depth first.
fn subcommands(parent: &clap::Command, path: &str, text: &mut Vec<u8>) {
    for sub in parent.get_subcommands().filter(|sub| !sub.is_hide_set() && sub.get_name() != "help") {
        let name = format!("{path} {}", sub.get_name());
        let about = sub.get_long_about().or(sub.get_about()).map(|about| about.to_string()).unwrap_or_default();
        let entry = format!(".TP\n\\fB{}\\fR\n{}\n", roff_escape(&name), roff_lines(&about));
        text.extend_from_slice(entry.as_bytes());
        subcommands(sub, &name, text);
    }
}

/// Text as roff reads it literally: backslashes and hyphens escaped, no line read as a request.
fn roff_escape(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-").replace('\'', "\\(aq")
}

/// Paragraphs of `text` as roff lines: a blank line starts an indented paragraph, and a line that
/// would start with a request character is guarded.
fn roff_lines(text: &str) -> String {
    text.lines()
        .map(|line| match line.trim() {
            "" => ".IP".to_string(),
            line if line.starts_with('.') => format!("\\&{}", roff_escape(line)),
            line => roff_escape(line),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Prints the completion script: 0, or 1 when stdout cannot take it.
pub fn completions(shell: CompletionShell) -> i32 {
    print(&script(shell), "completions")
}

/// Prints the manual page: 0, or 1 when it cannot be made or printed.
pub fn man() -> i32 {
    match man_page() {
        Ok(text) => print(&text, "man"),
        Err(e) => {
            super::output::err(format_args!("etcd-console man: cannot write the manual page: {e}"));
            1
        }
    }
}

/// Our own text (no outside text in it), written as it is: a completion script is code for the shell.
fn print(text: &[u8], what: &str) -> i32 {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text).and_then(|()| stdout.flush()) {
        Ok(()) => 0,
        // A reader gone (`| head`) ends nothing worth an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            super::output::err(format_args!("etcd-console {what}: cannot write to stdout: {e}"));
            1
        }
    }
}
