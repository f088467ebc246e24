//! The incident timeline against real etcd: the console's `t` pane, `T`'s Markdown and
//! `etcd-console watch`, fed by the same producer, see what etcdctl does to the cluster.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::*;
use etcd_console_lab::Lab;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// `etcd-console watch ARGS` as an SRE runs it after `source lab.env`.
fn watch(lab: &Lab, args: &[&str]) -> Command {
    let mut command = lab_console(lab, &["watch"], "watch-logs");
    command.args(args);
    command
}

/// Reads JSON lines until one satisfies `wanted`; every line read is kept in `seen`.
fn next_event(rx: &Receiver<String>, seen: &mut Vec<Value>, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) else { continue };
        let value: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        seen.push(value.clone());
        if wanted(&value) {
            return value;
        }
    }
    panic!("waited {WAIT:?} for {what}; saw {seen:#?}");
}

fn member_hex_id(lab: &Lab, name: &str) -> String {
    let list = json(&etcdctl(lab, &["member", "list", "-w", "json"]));
    let id = list["members"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap()["ID"].as_u64().unwrap();
    format!("{id:x}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leader_moved_with_etcdctl_is_in_the_timeline_in_watch_and_in_the_markdown() {
    let lab = lab(3, 8 << 30).await;
    let (mut watcher, lines) = spawn_with_lines(watch(&lab, &["-o", "json", "--refresh", "1s"]));
    let mut seen = Vec::new();
    let first = next_event(&lines, &mut seen, "the leader at first", |v| v["kind"] == "leader_changed");
    assert_eq!(first["details"]["from"], Value::Null);
    for field in ["time", "kind", "source", "member", "message", "details"] {
        assert!(first.get(field).is_some(), "{field} missing: {first}");
    }
    assert_eq!(first["source"], "etcd");

    let command = console_on_lab(&lab, &format!("--refresh 1s --timeline-dir {}", lab.dir.display()));
    let tmux = Tmux::start("timeline", 120, 40, &command);
    tmux.wait_for("the members", WAIT, |s| s.contains("leader master-"));

    // etcdctl moves the leadership to a follower, asked at the leader.
    let leader = lab.leader().await.expect("a leader");
    let follower = lab.follower().await.expect("a follower");
    let (from, to) = (lab.members[leader].name.clone(), lab.members[follower].name.clone());
    let moved = move_leader(&lab, &lab.members[leader].client_url, &member_hex_id(&lab, &to));
    assert!(moved.status.success(), "{}", stderr(&moved));

    let changed = next_event(&lines, &mut seen, "the leader change", |v| {
        v["kind"] == "leader_changed" && v["details"]["to"] == to.as_str()
    });
    assert_eq!(changed["details"]["from"], from.as_str());
    assert_eq!(changed["member"], to.as_str());
    assert!(changed["details"]["term"].as_u64().unwrap() > first["details"]["term"].as_u64().unwrap());
    assert_eq!(changed["message"], format!("leader changed from {from} to {to} (term {})", changed["details"]["term"]));

    tmux.keys(&["t"]);
    let line = format!("leader changed from {from} to {to}");
    let screen = tmux.wait_for("the change in the timeline pane", WAIT, |s| s.contains(&line));
    assert!(screen.contains("Timeline, newest first"), "{screen}");
    // Newest first: the change is above the first leader.
    let at = |needle: &str| screen.find(needle).unwrap_or(usize::MAX);
    assert!(at(&line) < at(&format!("leader is {from}")), "{screen}");

    tmux.keys(&["T"]);
    tmux.wait_for("the file written", WAIT, |s| s.contains("timeline written to"));
    let written: Vec<_> = std::fs::read_dir(&lab.dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("etcd-console-timeline-"))
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    let markdown = std::fs::read_to_string(&written[0]).unwrap();
    assert!(markdown.starts_with("# etcd-console timeline: "), "{markdown}");
    assert!(markdown.contains("| Time (UTC) | Source | Kind | Member | What |"), "{markdown}");
    assert!(markdown.contains(&format!("| etcd | leader_changed | {to} | {line}")), "{markdown}");
    let id = json(&etcdctl(&lab, &["endpoint", "status", "-w", "json"]))[0]["Status"]["header"]["cluster_id"]
        .as_u64()
        .unwrap();
    assert!(markdown.lines().next().unwrap().contains(&format!("etcd {id:x}")), "the cluster named: {markdown}");

    tmux.keys(&["Escape"]);
    tmux.wait_for("the timeline to close", Duration::from_secs(10), |s| !s.contains("Timeline, newest first"));
    tmux.keys(&["q"]);
    tmux.wait_for("the console to exit", Duration::from_secs(10), |s| s.contains("CONSOLE-EXITED 0"));
    // SIGINT ends watch with 0.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(watcher.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let status = watcher.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_says_a_frozen_member_went_silent_then_came_back_in_that_order() {
    let lab = lab(3, 8 << 30).await;
    let (mut watcher, lines) =
        spawn_with_lines(watch(&lab, &["-o", "json", "--refresh", "1s", "--command-timeout", "2s"]));
    let mut seen = Vec::new();
    next_event(&lines, &mut seen, "the leader at first", |v| v["kind"] == "leader_changed");
    let frozen = lab.follower().await.expect("a follower");
    let name = lab.members[frozen].name.clone();
    lab.pause_member(frozen).unwrap();
    let silent = next_event(&lines, &mut seen, "the silence", |v| v["kind"] == "member_silent");
    assert_eq!(silent["member"], name.as_str());
    assert_eq!(silent["source"], "etcd");
    lab.resume_member(frozen).unwrap();
    let back = next_event(&lines, &mut seen, "the return", |v| v["kind"] == "member_back");
    assert_eq!(back["member"], name.as_str());
    let kinds: Vec<&str> = seen.iter().filter_map(|v| v["kind"].as_str()).collect();
    let silent_at = kinds.iter().position(|k| *k == "member_silent").unwrap();
    let back_at = kinds.iter().position(|k| *k == "member_back").unwrap();
    assert!(silent_at < back_at, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "member_silent").count(), 1, "said once: {kinds:?}");
    // No leader change: a follower was frozen.
    assert_eq!(kinds.iter().filter(|k| **k == "leader_changed").count(), 1, "{kinds:?}");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(watcher.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    assert_eq!(watcher.wait().unwrap().code(), Some(0));
}

#[test]
fn watch_refuses_bad_input_with_2_and_says_why() {
    let output = run_with_limit(
        {
            let mut command = Command::new(console_bin());
            command.args(["watch", "--endpoints", "https://127.0.0.1:1", "--cacert", "/nonexistent/ca.crt"]);
            command.env_remove("KUBECONFIG");
            command
        },
        Duration::from_secs(20),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("/nonexistent/ca.crt"), "{}", stderr(&output));
    assert!(stdout(&output).is_empty());
    let output = run_with_limit(
        {
            let mut command = Command::new(console_bin());
            command.args(["watch", "-o", "yaml"]);
            command
        },
        Duration::from_secs(20),
    );
    assert_eq!(output.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_ends_with_0_when_its_reader_goes_away_even_while_nothing_happens() {
    let lab = lab(1, 8 << 30).await;
    let command = watch(&lab, &["-o", "json", "--refresh", "1s"]);
    let program = command.get_program().to_string_lossy().to_string();
    let args: Vec<String> = command.get_args().map(|a| format!("'{}'", a.to_string_lossy())).collect();
    // The same environment, through a shell that pipes watch into head -1.
    let mut shell = Command::new("bash");
    shell.arg("-c").arg(format!("'{program}' {} | head -1; echo \"watch-exit ${{PIPESTATUS[0]}}\"", args.join(" ")));
    shell.env_clear();
    for (name, value) in command.get_envs() {
        if let Some(value) = value {
            shell.env(name, value);
        }
    }
    // Killed at the limit, the shell would never say how watch ended.
    let output = run_with_limit(shell, Duration::from_secs(30));
    let out = stdout(&output);
    let mut lines = out.lines();
    let first: Value = serde_json::from_str(lines.next().unwrap_or("")).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(first.get("kind").is_some(), "{out}");
    assert_eq!(lines.next(), Some("watch-exit 0"), "{out}{}", stderr(&output));
}
