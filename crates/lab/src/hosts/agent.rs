//! The host agent: the runbook's ssh command texts, run on a lab host's
//! files. A small shell reads them (quotes, `|` into grep, globs in a path's
//! last part); only the runbook's vocabulary is known, anything else is
//! refused with exit 127 as a shell refuses a command it cannot find.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::SystemTime;

use super::{crictl, kubelet, scripts, Host, HostOutput, HOME, KUBELET_STATE};

/// A shell word: its text, and whether an unquoted `*` or `?` makes it a glob.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word {
    text: String,
    glob: bool,
}

/// Splits a command line into pipeline stages of words. None: something this shell does not do
/// (`;`, `&&`, redirections, `$` expansions, an unclosed quote, an empty stage).
fn split(line: &str) -> Option<Vec<Vec<Word>>> {
    let mut stages = vec![Vec::new()];
    let mut word: Option<Word> = None;
    let mut chars = line.chars().peekable();
    fn current(word: &mut Option<Word>) -> &mut Word {
        word.get_or_insert_with(|| Word { text: String::new(), glob: false })
    }
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if let (Some(done), Some(stage)) = (word.take(), stages.last_mut()) {
                    stage.push(done);
                }
            }
            '|' => {
                if let (Some(done), Some(stage)) = (word.take(), stages.last_mut()) {
                    stage.push(done);
                }
                if chars.peek() == Some(&'|') || stages.last().is_none_or(Vec::is_empty) {
                    return None;
                }
                stages.push(Vec::new());
            }
            '\'' => {
                let target = current(&mut word);
                loop {
                    match chars.next()? {
                        '\'' => break,
                        other => target.text.push(other),
                    }
                }
            }
            '"' => {
                let target = current(&mut word);
                loop {
                    match chars.next()? {
                        '"' => break,
                        '$' | '`' => return None,
                        '\\' => match chars.next()? {
                            escaped @ ('"' | '\\' | '$' | '`') => target.text.push(escaped),
                            '\n' => {}
                            other => {
                                target.text.push('\\');
                                target.text.push(other);
                            }
                        },
                        other => target.text.push(other),
                    }
                }
            }
            '\\' => {
                let escaped = chars.next()?;
                current(&mut word).text.push(escaped);
            }
            ';' | '&' | '<' | '>' | '`' | '$' | '(' | ')' | '{' | '}' => return None,
            '#' if word.is_none() => return None,
            '*' | '?' => {
                let target = current(&mut word);
                target.glob = true;
                target.text.push(c);
            }
            other => current(&mut word).text.push(other),
        }
    }
    if let (Some(done), Some(stage)) = (word.take(), stages.last_mut()) {
        stage.push(done);
    }
    if stages.iter().any(Vec::is_empty) {
        return None;
    }
    Some(stages)
}

// --- grep ----------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Atom {
    Char(char),
    Any,
}

#[derive(Debug, Clone, PartialEq)]
struct Alternative {
    atoms: Vec<Atom>,
    at_start: bool,
    at_end: bool,
}

/// A grep pattern as the runbook writes them: words, `.`, `^`, `$`, and alternation
/// (`a|b` with egrep / grep -E, `a\|b` with grep).
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    alternatives: Vec<Alternative>,
    ignore_case: bool,
}

const PATTERN_LIMITS: &str = "the lab's grep knows words, '.', '^', '$' and alternation only";

impl Pattern {
    pub fn parse(pattern: &str, extended: bool, ignore_case: bool) -> Result<Self, String> {
        // Split into alternatives first (`|` in egrep, `\|` in grep), keeping other escapes.
        let mut pieces = vec![String::new()];
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match (c, extended) {
                ('|', true) => pieces.push(String::new()),
                ('\\', _) => match chars.next() {
                    Some('|') if !extended => pieces.push(String::new()),
                    Some(escaped) => {
                        if let Some(piece) = pieces.last_mut() {
                            piece.push('\\');
                            piece.push(escaped);
                        }
                    }
                    None => return Err("a pattern cannot end in a backslash".into()),
                },
                (other, _) => {
                    if let Some(piece) = pieces.last_mut() {
                        piece.push(other);
                    }
                }
            }
        }
        let lowered = |c: char| if ignore_case { c.to_lowercase().next().unwrap_or(c) } else { c };
        let mut alternatives = Vec::new();
        for piece in pieces {
            let mut body = piece.as_str();
            let at_start = body.starts_with('^');
            if at_start {
                body = &body[1..];
            }
            let at_end = body.ends_with('$') && !body.ends_with("\\$");
            if at_end {
                body = &body[..body.len() - 1];
            }
            let mut atoms = Vec::new();
            let mut chars = body.chars();
            while let Some(c) = chars.next() {
                match c {
                    '.' => atoms.push(Atom::Any),
                    '\\' => match chars.next() {
                        Some(escaped) if !escaped.is_alphanumeric() => atoms.push(Atom::Char(lowered(escaped))),
                        _ => return Err(PATTERN_LIMITS.into()),
                    },
                    '*' | '[' | ']' => return Err(PATTERN_LIMITS.into()),
                    '+' | '?' | '(' | ')' | '{' | '}' if extended => return Err(PATTERN_LIMITS.into()),
                    other => atoms.push(Atom::Char(lowered(other))),
                }
            }
            alternatives.push(Alternative { atoms, at_start, at_end });
        }
        Ok(Self { alternatives, ignore_case })
    }

    pub fn matches(&self, line: &str) -> bool {
        let line: Vec<char> =
            if self.ignore_case { line.to_lowercase().chars().collect() } else { line.chars().collect() };
        self.alternatives.iter().any(|alt| {
            let fits = |from: usize| {
                let mut at = from;
                for atom in &alt.atoms {
                    match (atom, line.get(at)) {
                        (Atom::Any, Some(_)) => {}
                        (Atom::Char(c), Some(l)) if c == l => {}
                        _ => return false,
                    }
                    at += 1;
                }
                !alt.at_end || at == line.len()
            };
            if alt.at_start {
                fits(0)
            } else {
                (0..=line.len()).any(fits)
            }
        })
    }
}

/// A `grep`/`egrep` stage of a pipeline.
struct Grep {
    pattern: Pattern,
    invert: bool,
}

impl Grep {
    /// None: not a grep this shell knows; Some(Err): a grep with a pattern it cannot read.
    fn parse(words: &[String]) -> Option<Result<Self, String>> {
        let (name, args) = words.split_first()?;
        let mut extended = match name.as_str() {
            "grep" => false,
            "egrep" => true,
            _ => return None,
        };
        let (mut invert, mut ignore_case) = (false, false);
        let mut patterns = Vec::new();
        for arg in args {
            match arg.strip_prefix('-').filter(|f| !f.is_empty() && patterns.is_empty()) {
                Some(flags) => {
                    for flag in flags.chars() {
                        match flag {
                            'v' => invert = true,
                            'E' => extended = true,
                            'i' => ignore_case = true,
                            _ => return None,
                        }
                    }
                }
                None => patterns.push(arg),
            }
        }
        let [pattern] = patterns.as_slice() else { return None };
        Some(Pattern::parse(pattern, extended, ignore_case).map(|pattern| Self { pattern, invert }))
    }

    /// The lines that pass, and grep's exit code (1 when none does).
    fn apply(&self, text: &str) -> (String, i32) {
        let kept: Vec<&str> = text.lines().filter(|l| self.pattern.matches(l) != self.invert).collect();
        if kept.is_empty() {
            (String::new(), 1)
        } else {
            (kept.join("\n") + "\n", 0)
        }
    }
}

// --- the commands --------------------------------------------------------------------------------

fn unknown(command: &str) -> HostOutput {
    HostOutput::failed(127, format!("lab host: command not known to the lab: {command}"))
}

/// Runs a command line on the host.
pub fn execute(host: &Host, command: &str) -> HostOutput {
    let Some(stages) = split(command.trim()) else { return unknown(command) };
    // `sudo -n` on a host where core's sudo asks for a password: refused, as sudo refuses it.
    let non_interactive = |stage: &Vec<Word>| {
        stage.first().is_some_and(|w| w.text == "sudo")
            && stage.iter().skip(1).take_while(|w| w.text.starts_with('-')).any(|w| w.text.contains('n'))
    };
    if stages.iter().any(non_interactive) && host.root.join(super::SUDO_NEEDS_PASSWORD).exists() {
        return HostOutput::failed(1, "sudo: a password is required");
    }
    let stages: Vec<Vec<Word>> = stages.into_iter().map(without_sudo).collect();
    let Some((first, rest)) = stages.split_first() else { return unknown(command) };
    // `sh -c 'LINE'` (as root under sudo, so globs expand with root's rights): LINE as the host runs it.
    if let [sh, flag, line] = first.as_slice() {
        if sh.text == "sh" && flag.text == "-c" && rest.is_empty() {
            return execute(host, &line.text);
        }
    }
    let mut filters = Vec::new();
    for stage in rest {
        let words: Vec<String> = stage.iter().map(|w| w.text.clone()).collect();
        match Grep::parse(&words) {
            Some(Ok(grep)) => filters.push(grep),
            Some(Err(e)) => return HostOutput::failed(2, format!("grep: {e}")),
            None => return unknown(command),
        }
    }
    let Some(mut output) = run_command(host, first) else { return unknown(command) };
    for grep in &filters {
        let (kept, code) = grep.apply(&output.stdout);
        output.stdout = kept;
        output.exit_code = code;
    }
    output
}

/// `sudo`, `sudo -E`, `sudo -n` (and `-nE`...) change nothing on a lab host (but for [`super::SUDO_NEEDS_PASSWORD`]).
fn without_sudo(mut words: Vec<Word>) -> Vec<Word> {
    if words.first().is_some_and(|w| w.text == "sudo") && words.len() > 1 {
        words.remove(0);
        while words.len() > 1
            && words.first().is_some_and(|w| {
                w.text.len() > 1 && w.text.starts_with('-') && w.text[1..].chars().all(|c| c == 'E' || c == 'n')
            })
        {
            words.remove(0);
        }
    }
    words
}

fn run_command(host: &Host, words: &[Word]) -> Option<HostOutput> {
    let text: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    let output = match text.as_slice() {
        ["true"] => HostOutput::ok(""),
        // The name the host was given (its /etc/hostname), as the kernel reports it.
        ["hostname"] => match host.path("/etc/hostname").and_then(|p| fs::read_to_string(p).map_err(|e| e.to_string()))
        {
            Ok(name) if !name.trim().is_empty() => HostOutput::ok(format!("{}\n", name.trim())),
            _ => HostOutput::ok(format!("{}\n", host.spec.name)),
        },
        ["mv", "-v", from, to] => mv(host, from, to, true),
        ["mv", from, to] if !from.starts_with('-') => mv(host, from, to, false),
        ["crictl", "ps", rest @ ..] => crictl_ps(host, rest)?,
        ["test", flag @ ("-e" | "-f" | "-d" | "-x"), path] => test(host, flag, path),
        ["cat", ..] if words.len() > 1 => cat(host, &expand_all(host, &words[1..])),
        ["ls", ..] => ls(host, &words[1..])?,
        ["ip", "-o", "address" | "addr" | "a"] | ["ip", "-o", "address" | "addr" | "a", "show"] => ip_address(host),
        [script, ..] if script_named(script, "cluster-backup.sh") || script_named(script, "cluster-restore.sh") => {
            if !executable(host, &format!("/usr/local/bin/{}", script.rsplit('/').next().unwrap_or_default())) {
                // As sudo says of a program that is not there, or not executable.
                return Some(HostOutput::failed(1, format!("sudo: {script}: command not found")));
            }
            match text.as_slice() {
                [script, dir] if script_named(script, "cluster-backup.sh") => scripts::backup(host, dir, false),
                [script, "--force", dir] if script_named(script, "cluster-backup.sh") => {
                    scripts::backup(host, dir, true)
                }
                [script, dir] if script_named(script, "cluster-restore.sh") => scripts::restore(host, dir),
                _ => return None,
            }
        }
        ["systemctl", "restart", units @ ..] if !units.is_empty() => systemctl_restart(host, units),
        ["systemctl", "reboot"] => systemctl_reboot(host),
        ["rm", "-f", ..] if words.len() > 2 => rm(host, &expand_all(host, &words[2..])),
        ["rm", "-rf" | "-fr", ..] if words.len() > 2 => rm_tree(host, &expand_all(host, &words[2..])),
        ["mkdir", "-p", paths @ ..] if !paths.is_empty() => mkdir(host, paths),
        _ => return None,
    };
    Some(output)
}

fn script_named(word: &str, name: &str) -> bool {
    word == name || word == format!("/usr/local/bin/{name}")
}

/// The host path of `path` as the user wrote it, mapped; an error is the command's own.
fn mapped(host: &Host, command: &str, path: &str) -> Result<std::path::PathBuf, HostOutput> {
    host.path(path).map_err(|e| HostOutput::failed(1, format!("{command}: {e}")))
}

fn mv(host: &Host, from: &str, to: &str, verbose: bool) -> HostOutput {
    let source = match mapped(host, "mv", from) {
        Ok(path) => path,
        Err(failed) => return failed,
    };
    let Ok(meta) = fs::symlink_metadata(&source) else {
        return HostOutput::failed(1, format!("mv: cannot stat '{from}': No such file or directory"));
    };
    if from.ends_with('/') && !meta.is_dir() {
        return HostOutput::failed(1, format!("mv: cannot stat '{from}': Not a directory"));
    }
    let destination = match mapped(host, "mv", to) {
        Ok(path) => path,
        Err(failed) => return failed,
    };
    let (target, shown) = if destination.is_dir() {
        let Some(name) = source.file_name() else {
            return HostOutput::failed(1, format!("mv: cannot move '{from}': it is the host's root"));
        };
        let name = name.to_string_lossy();
        (destination.join(&*name), format!("{}/{name}", to.trim_end_matches('/')))
    } else {
        (destination, to.to_string())
    };
    if target == source {
        return HostOutput::failed(1, format!("mv: '{from}' and '{shown}' are the same file"));
    }
    if target.starts_with(&source) {
        return HostOutput::failed(1, format!("mv: cannot move '{from}' to a subdirectory of itself, '{shown}'"));
    }
    if fs::symlink_metadata(&target).is_ok() {
        return HostOutput::failed(1, format!("mv: cannot move '{from}' to '{shown}': File exists"));
    }
    if !target.parent().is_some_and(Path::is_dir) {
        return HostOutput::failed(1, format!("mv: cannot move '{from}' to '{shown}': No such file or directory"));
    }
    if let Err(e) = fs::rename(&source, &target) {
        return HostOutput::failed(1, format!("mv: cannot move '{from}' to '{shown}': {e}"));
    }
    HostOutput::ok(if verbose { format!("renamed '{from}' -> '{shown}'\n") } else { String::new() })
}

fn crictl_ps(host: &Host, args: &[&str]) -> Option<HostOutput> {
    let name = match args {
        [] | ["-a" | "--all"] => None,
        ["--name", name] | ["-a" | "--all", "--name", name] | ["--name", name, "-a" | "--all"] => {
            Some(name.to_string())
        }
        [flag] => Some(flag.strip_prefix("--name=")?.to_string()),
        _ => return None,
    };
    let filter = match name.as_deref().map(|n| Pattern::parse(n, true, false)).transpose() {
        Ok(filter) => filter,
        Err(e) => return Some(HostOutput::failed(1, format!("crictl: --name: {e}"))),
    };
    Some(HostOutput::ok(crictl::ps(host, |row| filter.as_ref().is_none_or(|f| f.matches(&row.name)))))
}

fn test(host: &Host, flag: &str, path: &str) -> HostOutput {
    let holds = host.path(path).is_ok_and(|p| match flag {
        "-f" => p.is_file(),
        "-d" => p.is_dir(),
        "-x" => executable(host, path),
        _ => fs::symlink_metadata(&p).is_ok(),
    });
    HostOutput { exit_code: if holds { 0 } else { 1 }, ..HostOutput::default() }
}

/// The host path is there and has an execute bit (as `test -x` answers for root).
fn executable(host: &Host, path: &str) -> bool {
    host.path(path).is_ok_and(|p| fs::metadata(&p).is_ok_and(|m| m.permissions().mode() & 0o111 != 0))
}

/// Shell globbing in a path's last part (`/var/lib/kubelet/pki/*.pem`); no match leaves the word as is.
fn expand(host: &Host, word: &Word) -> Vec<String> {
    if !word.glob {
        return vec![word.text.clone()];
    }
    let (dir, pattern) = match word.text.rsplit_once('/') {
        Some((dir, pattern)) => (if dir.is_empty() { "/".to_string() } else { dir.to_string() }, pattern),
        None => (".".to_string(), word.text.as_str()),
    };
    if dir.contains(['*', '?']) {
        return vec![word.text.clone()];
    }
    let Ok(listed) =
        host.path(if dir == "." { HOME } else { &dir }).and_then(|p| fs::read_dir(p).map_err(|e| e.to_string()))
    else {
        return vec![word.text.clone()];
    };
    let mut names: Vec<String> = listed
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|name| (!name.starts_with('.') || pattern.starts_with('.')) && glob_matches(pattern, name))
        .collect();
    if names.is_empty() {
        return vec![word.text.clone()];
    }
    names.sort();
    names
        .into_iter()
        .map(|name| match word.text.rsplit_once('/') {
            Some((prefix, _)) => format!("{prefix}/{name}"),
            None => name,
        })
        .collect()
}

fn expand_all(host: &Host, words: &[Word]) -> Vec<String> {
    words.iter().flat_map(|w| expand(host, w)).collect()
}

fn glob_matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

fn cat(host: &Host, paths: &[String]) -> HostOutput {
    let mut output = HostOutput::ok("");
    for path in paths {
        match host.path(path) {
            Ok(p) if p.is_dir() => {
                output.exit_code = 1;
                output.stderr.push_str(&format!("cat: {path}: Is a directory\n"));
            }
            Ok(p) => match fs::read(&p) {
                Ok(bytes) => output.stdout.push_str(&String::from_utf8_lossy(&bytes)),
                Err(_) => {
                    output.exit_code = 1;
                    output.stderr.push_str(&format!("cat: {path}: No such file or directory\n"));
                }
            },
            Err(e) => {
                output.exit_code = 1;
                output.stderr.push_str(&format!("cat: {e}\n"));
            }
        }
    }
    output
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `Mar 18 22:02`, as ls -l dates a file (UTC).
fn ls_date(at: SystemTime) -> String {
    let text = humantime::format_rfc3339_seconds(at).to_string();
    let month = text.get(5..7).and_then(|m| m.parse::<usize>().ok()).and_then(|m| MONTHS.get(m.wrapping_sub(1)));
    let day = text.get(8..10).and_then(|d| d.parse::<u32>().ok()).unwrap_or(1);
    format!("{} {day:>2} {}", month.unwrap_or(&"Jan"), text.get(11..16).unwrap_or("00:00"))
}

/// One line of `ls -l` as RHCOS prints it (the SELinux dot after the mode).
pub(crate) fn ls_long(path: &Path, name: &str) -> String {
    let Ok(meta) = fs::symlink_metadata(path) else { return name.to_string() };
    let mode = meta.permissions().mode();
    let kind = if meta.is_dir() {
        'd'
    } else if meta.file_type().is_symlink() {
        'l'
    } else {
        '-'
    };
    let bits: String = (0..9)
        .map(|i| {
            let set = mode & (0o400 >> i) != 0;
            match (set, i % 3) {
                (false, _) => '-',
                (true, 0) => 'r',
                (true, 1) => 'w',
                (true, _) => 'x',
            }
        })
        .collect();
    let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    format!("{kind}{bits}. 1 root root {:>8} {} {name}", meta.len(), ls_date(modified))
}

fn ls(host: &Host, words: &[Word]) -> Option<HostOutput> {
    let (mut long, mut all) = (false, false);
    let mut paths = Vec::new();
    for word in words {
        match word.text.strip_prefix('-').filter(|f| !f.is_empty()) {
            Some(flags) => {
                for flag in flags.chars() {
                    match flag {
                        'l' => long = true,
                        'a' | 'A' => all = true,
                        '1' | 'h' => {}
                        _ => return None,
                    }
                }
            }
            None => paths.extend(expand(host, word)),
        }
    }
    if paths.is_empty() {
        paths.push(HOME.to_string());
    }
    let mut output = HostOutput::ok("");
    let several = paths.len() > 1;
    for (i, path) in paths.iter().enumerate() {
        let Ok(mapped) = host.path(path) else {
            output.exit_code = 2;
            output.stderr.push_str(&format!("ls: cannot access '{path}': No such file or directory\n"));
            continue;
        };
        if fs::symlink_metadata(&mapped).is_err() {
            output.exit_code = 2;
            output.stderr.push_str(&format!("ls: cannot access '{path}': No such file or directory\n"));
            continue;
        }
        if !mapped.is_dir() {
            output.stdout.push_str(&(if long { ls_long(&mapped, path) } else { path.clone() } + "\n"));
            continue;
        }
        if several {
            output.stdout.push_str(&format!("{}{path}:\n", if i > 0 { "\n" } else { "" }));
        }
        let mut names: Vec<String> = fs::read_dir(&mapped)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| all || !n.starts_with('.'))
            .collect();
        names.sort();
        if long {
            output.stdout.push_str(&format!("total {}\n", names.len() * 4));
        }
        for name in names {
            let line = if long { ls_long(&mapped.join(&name), &name) } else { name };
            output.stdout.push_str(&line);
            output.stdout.push('\n');
        }
    }
    Some(output)
}

fn ip_address(host: &Host) -> HostOutput {
    HostOutput::ok(format!(
        "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n\
         2: br-ex    inet {}/8 brd 127.255.255.255 scope global noprefixroute br-ex\\       \
         valid_lft forever preferred_lft forever\n",
        host.spec.ip
    ))
}

fn systemctl_restart(host: &Host, units: &[&str]) -> HostOutput {
    const KNOWN: &[&str] = &["kubelet", "ovs-vswitchd", "ovsdb-server", "crio"];
    for unit in units {
        let name = unit.trim_end_matches(".service");
        if !KNOWN.contains(&name) {
            return HostOutput::failed(5, format!("Failed to restart {name}.service: Unit {name}.service not found."));
        }
    }
    if units.iter().any(|u| u.trim_end_matches(".service") == "kubelet") {
        let request = kubelet::restart_request(&host.root);
        let written = host
            .path(KUBELET_STATE)
            .and_then(|dir| fs::create_dir_all(dir).map_err(|e| e.to_string()))
            .and_then(|()| fs::write(&request, "restart\n").map_err(|e| e.to_string()));
        if let Err(e) = written {
            return HostOutput::failed(1, format!("Failed to restart kubelet.service: {e}"));
        }
    }
    HostOutput::ok("")
}

/// The kubelet takes the host down (its member stops) and brings it back a few seconds later.
fn systemctl_reboot(host: &Host) -> HostOutput {
    let request = kubelet::reboot_request(&host.root);
    let written = host
        .path(KUBELET_STATE)
        .and_then(|dir| fs::create_dir_all(dir).map_err(|e| e.to_string()))
        .and_then(|()| fs::write(&request, "reboot\n").map_err(|e| e.to_string()));
    match written {
        Ok(()) => HostOutput::ok(""),
        Err(e) => HostOutput::failed(1, format!("Failed to reboot: {e}")),
    }
}

fn mkdir(host: &Host, paths: &[&str]) -> HostOutput {
    for path in paths {
        let made = mapped(host, "mkdir", path).and_then(|p| {
            fs::create_dir_all(p)
                .map_err(|e| HostOutput::failed(1, format!("mkdir: cannot create directory '{path}': {e}")))
        });
        if let Err(failed) = made {
            return failed;
        }
    }
    HostOutput::ok("")
}

/// `rm -rf PATH...`: directories with what they hold; nothing there is no error.
fn rm_tree(host: &Host, paths: &[String]) -> HostOutput {
    let mut output = HostOutput::ok("");
    for path in paths {
        let mapped = match mapped(host, "rm", path) {
            Ok(mapped) => mapped,
            Err(failed) => return failed,
        };
        if mapped == host.root {
            output.exit_code = 1;
            output.stderr.push_str("rm: it is dangerous to operate recursively on '/'\n");
            continue;
        }
        let removed = match fs::symlink_metadata(&mapped) {
            Err(_) => Ok(()),
            Ok(meta) if meta.is_dir() => fs::remove_dir_all(&mapped),
            Ok(_) => fs::remove_file(&mapped),
        };
        if let Err(e) = removed {
            output.exit_code = 1;
            output.stderr.push_str(&format!("rm: cannot remove '{path}': {e}\n"));
        }
    }
    output
}

fn rm(host: &Host, paths: &[String]) -> HostOutput {
    let mut output = HostOutput::ok("");
    for path in paths {
        let mapped = match mapped(host, "rm", path) {
            Ok(mapped) => mapped,
            Err(failed) => return failed,
        };
        match fs::symlink_metadata(&mapped) {
            Err(_) => {}
            Ok(meta) if meta.is_dir() => {
                output.exit_code = 1;
                output.stderr.push_str(&format!("rm: cannot remove '{path}': Is a directory\n"));
            }
            Ok(_) => {
                if let Err(e) = fs::remove_file(&mapped) {
                    output.exit_code = 1;
                    output.stderr.push_str(&format!("rm: cannot remove '{path}': {e}\n"));
                }
            }
        }
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_dates_read_as_ls_writes_them() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_182_011);
        assert_eq!(ls_date(at), "Dec  2 03:26");
        assert_eq!(ls_date(SystemTime::UNIX_EPOCH), "Jan  1 00:00");
    }

    fn words(line: &str) -> Vec<Vec<String>> {
        split(line).unwrap().into_iter().map(|s| s.into_iter().map(|w| w.text).collect()).collect()
    }

    #[test]
    fn the_runbooks_command_lines_split_as_a_shell_splits_them() {
        assert_eq!(
            words(r#"sudo crictl ps | grep etcd | egrep -v "operator|etcd-guard""#),
            [vec!["sudo", "crictl", "ps"], vec!["grep", "etcd"], vec!["egrep", "-v", "operator|etcd-guard"]]
        );
        assert_eq!(words("sudo mv -v /var/lib/etcd/ /tmp"), [vec!["sudo", "mv", "-v", "/var/lib/etcd/", "/tmp"]]);
        assert_eq!(words(r"ip -o address | egrep '10.0.0.5|10.0.0.6'")[1], ["egrep", "10.0.0.5|10.0.0.6"]);
        let glob = split("sudo rm -f /var/lib/ovn-ic/etc/*.db").unwrap();
        assert!(glob[0][3].glob && !glob[0][0].glob);
        assert!(!split("rm -f '/tmp/*.db'").unwrap()[0][2].glob);
        for refused in [
            "true; rm -rf /",
            "true && true",
            "cat /etc/hostname > /tmp/x",
            "echo $(date)",
            "a ||b",
            "| grep x",
            "'open",
        ] {
            assert_eq!(split(refused), None, "{refused}");
        }
    }

    #[test]
    fn grep_patterns_match_as_grep_and_egrep_do() {
        let egrep = Pattern::parse("operator|etcd-guard", true, false).unwrap();
        assert!(egrep.matches("abc  etcd-operator  0") && egrep.matches("etcd-guard") && !egrep.matches("etcd"));
        let grep = Pattern::parse("operator|etcd-guard", false, false).unwrap();
        assert!(!grep.matches("etcd-operator") && grep.matches("x operator|etcd-guard y"));
        assert!(Pattern::parse(r"a\|b", false, false).unwrap().matches("b"));
        let anchored = Pattern::parse("^1: lo|br-ex$", true, false).unwrap();
        assert!(anchored.matches("1: lo  inet") && !anchored.matches("x 1: lo") && anchored.matches("dev br-ex"));
        assert!(!anchored.matches("br-ex dev"));
        assert!(Pattern::parse("127.0.0.1", true, false).unwrap().matches("inet 127.0.0.11/8"));
        assert!(Pattern::parse("ETCD", false, true).unwrap().matches("etcd"));
        assert!(Pattern::parse("a*", false, false).is_err());
        assert!(Pattern::parse("cost$5", false, false).unwrap().matches("cost$5"));
    }

    #[test]
    fn globs_match_a_single_path_part() {
        assert!(glob_matches("*.db", "ovnnb_db.db") && !glob_matches("*.db", "ovnnb_db.db.bak"));
        assert!(glob_matches("kubelet-*.pem", "kubelet-client-current.pem") && glob_matches("?", "a"));
    }
}
