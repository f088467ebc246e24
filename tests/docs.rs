//! What a user reads: the README, docs/*.md and the `--help` of the real binary
//! and of every subcommand. They cite the OpenShift documentation, never our
//! internal runbook file; every relative link leads somewhere; the quick start
//! comes first; every subcommand is documented.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every docs/*.md, with their text.
fn pages() -> Vec<(PathBuf, String)> {
    let mut files = vec![repo().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files.into_iter().map(|path| (path.clone(), std::fs::read_to_string(&path).unwrap())).collect()
}

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_etcd-console")).args(args).env("NO_COLOR", "1").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The subcommands a `--help` lists under "Commands:" (clap's own `help` left out).
fn listed_subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| line.trim() != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter(|line| line.starts_with("  ") && !line.starts_with("        "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// The `--help` of the binary and of every subcommand under it, each with its command line.
fn every_help() -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut queue: Vec<Vec<String>> = vec![vec![]];
    while let Some(path) = queue.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let text = help(&args);
        for sub in listed_subcommands(&text) {
            let mut deeper = path.clone();
            deeper.push(sub);
            queue.push(deeper);
        }
        found.push((format!("etcd-console {}", args.join(" ")), text));
    }
    found
}

fn internal_references(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| line.contains("RUNBOOKS") || line.contains('§'))
        .map(|line| line.trim().to_string())
        .collect()
}

#[test]
fn the_readme_and_docs_cite_the_openshift_documentation_never_the_runbooks_file() {
    for (path, text) in pages() {
        let found = internal_references(&text);
        assert!(found.is_empty(), "{} points to the internal runbooks: {found:#?}", path.display());
    }
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for section in [
        "\"Defragmenting etcd data\", OpenShift 4.14",
        "\"Backing up etcd data\", OpenShift 4.14",
        "\"Restoring to a previous cluster state\", OpenShift 4.14",
        "\"Replacing an unhealthy etcd member\", OpenShift 4.14",
    ] {
        assert!(readme.contains(section), "the README does not name {section}");
    }
}

#[test]
fn no_help_of_any_subcommand_points_to_the_runbooks_file() {
    let helps = every_help();
    let names: BTreeSet<&str> = helps.iter().map(|(command, _)| command.as_str()).collect();
    // The walk reached the nested subcommands, not only the top.
    for nested in
        ["etcd-console restore plan --help", "etcd-console csr approve --help", "etcd-console lab serve --help"]
    {
        assert!(names.contains(nested), "{nested} was not walked: {names:#?}");
    }
    for (command, text) in &helps {
        let found = internal_references(text);
        assert!(found.is_empty(), "`{command}` points to the internal runbooks: {found:#?}");
    }
    let top = helps.iter().find(|(command, _)| command == "etcd-console --help").unwrap();
    assert!(top.1.contains("Defragmenting etcd data"), "the top --help names no OpenShift section: {}", top.1);
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown page's headings (outside code blocks).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut found = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            found.insert(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

/// Every `](target)` of a Markdown page that is not a web address.
fn relative_links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("](") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = &rest[..end];
        if !target.contains("://") && !target.starts_with("mailto:") && !target.contains(' ') {
            links.push(target.to_string());
        }
        rest = &rest[end..];
    }
    links
}

#[test]
fn every_relative_link_of_the_readme_and_docs_leads_to_a_file_and_its_heading() {
    let mut checked = 0;
    for (path, text) in pages() {
        let dir = path.parent().unwrap();
        for link in relative_links(&text) {
            let (file, fragment) = match link.split_once('#') {
                Some((file, fragment)) => (file, Some(fragment)),
                None => (link.as_str(), None),
            };
            let target: PathBuf = if file.is_empty() { path.clone() } else { dir.join(file) };
            assert!(target.is_file(), "{}: the link {link} leads to no file ({})", path.display(), target.display());
            if let Some(fragment) = fragment {
                let headings = anchors(&std::fs::read_to_string(&target).unwrap());
                assert!(
                    headings.contains(fragment),
                    "{}: the link {link} names no heading of {}",
                    path.display(),
                    target.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} links checked: the pages lost their links?");
}

#[test]
fn the_readme_starts_with_the_quick_start_and_keeps_the_two_commands() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let first_section = readme.lines().find(|line| line.starts_with("## ")).unwrap();
    assert_eq!(first_section, "## Quick start");
    let quick_start: String =
        readme.split("## Quick start").nth(1).unwrap().split("\n## ").next().unwrap_or_default().to_string();
    for must in ["bash scripts/lab.sh", "bash scripts/test.sh", "--kubeconfig", "--endpoints"] {
        assert!(quick_start.contains(must), "the quick start lacks {must}");
    }
    for key in ["`Tab`", "`d`", "`b`", "`?`", "`q`"] {
        assert!(quick_start.contains(&format!("| {key} |")), "the quick start's keys lack {key}");
    }
    assert!(readme.lines().count() < 400, "the README grew long again: move reference into docs/");
    for install in [
        "~/.local/share/bash-completion/completions/etcd-console",
        "_etcd-console",
        "~/.config/fish/completions/etcd-console.fish",
        "~/.local/share/man/man1/etcd-console.1",
        "man etcd-console",
    ] {
        assert!(readme.contains(install), "the README does not say where completions and man go: {install}");
    }
}

#[test]
fn every_subcommand_is_documented_under_its_own_heading() {
    let subcommands = listed_subcommands(&help(&["--help"]));
    assert!(subcommands.len() >= 10, "{subcommands:?}");
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let commands = std::fs::read_to_string(repo().join("docs/commands.md")).unwrap();
    let lab = std::fs::read_to_string(repo().join("docs/lab.md")).unwrap();
    for sub in &subcommands {
        let documented = match sub.as_str() {
            "lab" => lab.contains("etcd-console lab"),
            "completions" | "man" => readme.contains(&format!("etcd-console {sub}")),
            _ => commands.lines().any(|line| line.starts_with(&format!("## `etcd-console {sub}`"))),
        };
        assert!(documented, "`etcd-console {sub}` has no section in README.md or docs/");
    }
}

#[test]
fn the_docs_folder_holds_what_the_readme_links() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for page in ["docs/commands.md", "docs/flags.md", "docs/console.md", "docs/lab.md", "docs/testing.md"] {
        assert!(readme.contains(&format!("]({page})")), "the README does not link {page}");
        assert!(Path::new(&repo().join(page)).is_file());
    }
}
