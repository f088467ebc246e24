//! `etcd-console completions bash|zsh|fish` and `etcd-console man`, through the
//! real binary and the real shells: the script a user sources completes the
//! subcommands, and the manual page renders.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn console_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_etcd-console"))
}

fn console(args: &[&str]) -> Output {
    Command::new(console_bin()).args(args).env("NO_COLOR", "1").output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The program's path when it is installed, else None and the reason printed.
fn installed(program: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        println!("skipped: {program} is not installed (scripts/setup.sh installs it)");
    }
    found
}

/// The script `completions SHELL` prints, written to a file in `dir`.
fn script_file(shell: &str, dir: &Path) -> PathBuf {
    let out = console(&["completions", shell]);
    assert_eq!(out.status.code(), Some(0), "completions {shell}: {}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "completions {shell} said on stderr: {}", text(&out.stderr));
    let file = dir.join(format!("etcd-console.{shell}"));
    std::fs::write(&file, &out.stdout).unwrap();
    file
}

#[test]
fn bash_completes_a_subcommand_from_its_first_letters() {
    let dir = tempfile::tempdir().unwrap();
    let script = script_file("bash", dir.path());
    // The function is called as bash calls it on <TAB> after `etcd-console de`.
    let line = "etcd-console de";
    let probe = format!(
        "source {script}\n\
         complete -p etcd-console\n\
         function=$(complete -p etcd-console | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')\n\
         COMP_WORDS=(etcd-console de); COMP_CWORD=1; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}\n\
         \"$function\" etcd-console de etcd-console\n\
         printf 'candidate: %s\\n' \"${{COMPREPLY[@]}}\"\n",
        script = script.display()
    );
    let out = Command::new("bash").args(["--norc", "--noprofile", "-c", &probe]).output().unwrap();
    let said = text(&out.stdout);
    assert!(out.status.success(), "bash: {}{said}", text(&out.stderr));
    assert!(said.contains("complete ") && said.contains(" etcd-console"), "complete -p shows no etcd-console: {said}");
    let candidates: Vec<&str> = said.lines().filter_map(|l| l.strip_prefix("candidate: ")).collect();
    assert_eq!(candidates, ["defrag"], "etcd-console de<TAB> offers: {said}");
}

#[test]
fn bash_completes_the_shells_after_completions() {
    let dir = tempfile::tempdir().unwrap();
    let script = script_file("bash", dir.path());
    let probe = format!(
        "source {script}\n\
         function=$(complete -p etcd-console | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')\n\
         COMP_WORDS=(etcd-console completions ''); COMP_CWORD=2\n\
         \"$function\" etcd-console '' completions\n\
         printf 'candidate: %s\\n' \"${{COMPREPLY[@]}}\"\n",
        script = script.display()
    );
    let out = Command::new("bash").args(["--norc", "--noprofile", "-c", &probe]).output().unwrap();
    let said = text(&out.stdout);
    for shell in ["bash", "zsh", "fish"] {
        assert!(
            said.contains(&format!("candidate: {shell}\n")),
            "etcd-console completions <TAB> lacks {shell}: {said}"
        );
    }
}

#[test]
fn zsh_parses_its_script() {
    let Some(zsh) = installed("zsh") else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = script_file("zsh", dir.path());
    let out = Command::new(zsh).arg("-n").arg(&script).output().unwrap();
    assert!(out.status.success(), "zsh -n: {}", text(&out.stderr));
    assert!(std::fs::read_to_string(&script).unwrap().starts_with("#compdef etcd-console"), "not a zsh completion");
}

#[test]
fn fish_parses_its_script_and_completes_a_subcommand() {
    let Some(fish) = installed("fish") else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = script_file("fish", dir.path());
    let out = Command::new(&fish).arg("-n").arg(&script).output().unwrap();
    assert!(out.status.success(), "fish -n: {}", text(&out.stderr));
    let probe = format!("source {}; complete -C 'etcd-console de'", script.display());
    let out = Command::new(&fish).args(["--no-config", "-c", &probe]).output().unwrap();
    let said = text(&out.stdout);
    assert!(said.lines().any(|l| l.starts_with("defrag\t")), "fish offers for `etcd-console de`: {said}");
}

#[test]
fn an_unknown_shell_is_refused_with_the_ones_there_are() {
    let out = console(&["completions", "powershell"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("powershell") && err.contains("bash, zsh, fish"), "{err}");
    assert!(out.stdout.is_empty(), "printed a script anyway: {}", text(&out.stdout));
}

#[test]
fn the_man_page_names_the_program_and_every_subcommand() {
    let out = console(&["man"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    let header = page.lines().find(|l| l.starts_with(".TH")).unwrap_or_default();
    assert!(header.starts_with(".TH etcd-console 1"), "roff header: {header:?}");
    assert!(page.contains(".SH NAME\netcd\\-console \\- "), "NAME section: {page}");
    for sub in [
        "status",
        "lab",
        "csr",
        "defrag",
        "backup",
        "snapshot",
        "encryption",
        "restore",
        "member",
        "space",
        "completions",
    ] {
        assert!(page.contains(&format!("\\fBetcd\\-console {sub}\\fR")), "the page does not list {sub}");
    }
    assert!(page.contains("\\fBetcd\\-console restore plan\\fR"), "nested subcommands missing");
}

#[test]
fn groff_renders_the_man_page_without_a_warning() {
    let Some(groff) = installed("groff") else { return };
    let page = console(&["man"]).stdout;
    let mut child = Command::new(groff)
        .args(["-man", "-Tutf8", "-ww"])
        .env("LC_ALL", "C.UTF-8")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&page).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "groff failed: {}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "groff warned: {}", text(&out.stderr));
    let shown = text(&out.stdout);
    // What `man etcd-console` shows: the program and its subcommands, in plain words.
    let plain = without_overstrike(&shown);
    assert!(plain.contains("SUBCOMMANDS"), "{plain}");
    assert!(plain.contains("etcd-console - A live console for etcd"), "{plain}");
    assert!(plain.contains("etcd-console restore plan"), "{plain}");
}

/// groff's terminal bold (`S\bS`) and underline (`_\bS`) as plain text.
fn without_overstrike(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    plain
}

#[test]
fn printing_a_script_or_the_page_writes_no_file_and_a_closed_pipe_is_no_error() {
    let home = tempfile::tempdir().unwrap();
    for args in [&["completions", "bash"][..], &["man"][..]] {
        let out = Command::new(console_bin())
            .args(args)
            .env("HOME", home.path())
            .env("XDG_STATE_HOME", home.path().join("state"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
    }
    let left: Vec<_> = std::fs::read_dir(home.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "printing wrote files (a log directory?): {left:?}");
    // `etcd-console completions bash | head -1` (200 KB, more than a pipe holds): the reader
    // leaves early; no complaint, exit 0.
    let piped = Command::new("bash")
        .args([
            "-c",
            &format!(
                "{} completions bash | head -1 >/dev/null; echo \"exit ${{PIPESTATUS[0]}}\"",
                console_bin().display()
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(text(&piped.stdout).trim(), "exit 0", "{}", text(&piped.stderr));
    assert!(text(&piped.stderr).is_empty(), "a closed pipe made noise: {}", text(&piped.stderr));
}
