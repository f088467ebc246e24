//! Crash at every step, with the real binary (issue 22, item 5): each run is
//! SIGKILLed right after step k's JSON line appears, for each k, and run
//! again; the end state must be the uninterrupted run's and nothing may be
//! done twice that must not be. SIGTERM and SIGHUP (a dropped ssh session to
//! the bastion) stop a run as Ctrl-C does: its journal intact, nothing
//! temporary left, and after SIGHUP nothing written to the terminal.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use etcd_console_lab::Lab;
use serde_json::Value;

fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Runs `command` (`-o json`) and SIGKILLs it right after the first line `at` accepts; the lines
/// it printed. Panics when the run ends first.
fn kill_after(command: Command, what: &str, at: impl FnMut(&Value) -> bool) -> Vec<Value> {
    match try_kill_after(command, at) {
        Ok(seen) => seen,
        Err(seen) => panic!("the run ended or stalled before {what}: {seen:?}"),
    }
}

/// The names in `dir` (none when it is not there), dot-files (probes) left out.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.retain(|n| !n.starts_with('.'));
    names.sort();
    names
}

fn sha256_hex(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string()
}

// ---------------------------------------------------------------------------------------------
// The backup

fn backup_command(lab: &Lab, dir: &Path, extra: &[&str]) -> Command {
    let mut args = vec!["backup", "--dir", dir.to_str().unwrap(), "-o", "json"];
    args.extend_from_slice(extra);
    sre_command(lab, "lab-admin-cert", &args)
}

/// The backup's steps as its JSON lines say them: `checked`, then each `began` action, a second
/// fetch numbered.
fn backup_step(line: &Value, fetches: &mut usize) -> Option<String> {
    if line["event"] == "checked" {
        return Some("checked".into());
    }
    if line["event"] != "began" {
        return None;
    }
    let action = line["action"].as_str()?.to_string();
    if action == "fetch" {
        *fetches += 1;
        return Some(format!("fetch#{fetches}"));
    }
    Some(action)
}

/// What the directory must hold after `completed` runs that exited 0 (and any number killed): one
/// verified backup at its final name per completed run, every file at a final name one of theirs
/// and matching its SHA-256, no part file.
fn assert_backups(dir: &Path, completed: usize, restore_grade: bool) {
    let names = names_in(dir);
    assert!(!names.iter().any(|n| n.ends_with(".part")), "a part file left: {names:?}");
    let metadata: Vec<Value> = names
        .iter()
        .filter(|n| n.starts_with("backup_") && n.ends_with(".json"))
        .map(|n| serde_json::from_slice(&std::fs::read(dir.join(n)).unwrap()).unwrap())
        .collect();
    assert_eq!(metadata.len(), completed, "one backup per completed run: {names:?}");
    let mut accounted = Vec::new();
    for m in &metadata {
        assert_eq!(m["verified"], true, "{m}");
        assert_eq!(m["restore_grade"], restore_grade, "{m}");
        let snapshot = m["snapshot"].as_str().unwrap();
        let snapshot = Path::new(snapshot).file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(m["sha256"], sha256_hex(&dir.join(&snapshot)).as_str(), "{snapshot}");
        accounted.push(snapshot);
        if restore_grade {
            let archive = m["static_resources"].as_str().unwrap();
            let archive = Path::new(archive).file_name().unwrap().to_string_lossy().into_owned();
            assert_eq!(m["static_resources_sha256"], sha256_hex(&dir.join(&archive)).as_str(), "{archive}");
            accounted.push(archive);
        }
    }
    for name in names.iter().filter(|n| !(n.starts_with("backup_") && n.ends_with(".json"))) {
        assert!(accounted.contains(name), "{name} is at a final name but no verified backup's: {names:?}");
    }
}

/// What a backup must never leave in the cluster: a debug namespace or pod, a directory of ours on a host.
fn assert_nothing_left_on_nodes(lab: &Lab) {
    let namespaces = kubectl_ok(lab, &["get", "namespaces", "-l", "etcd-console.io/debug", "-o", "name"]);
    assert_eq!(namespaces.trim(), "", "a debug namespace was left");
    let pods = kubectl_ok(lab, &["get", "pods", "-A", "-o", "name"]);
    assert!(!pods.contains("-debug"), "a debug pod was left: {pods}");
    for host in &lab.inventory.hosts {
        let assets = lab.inventory.root(&host.name).join("home/core/assets");
        let ours: Vec<String> =
            names_in(&assets).into_iter().filter(|n| n.starts_with("backup-etcd-console-")).collect();
        assert!(ours.is_empty(), "left on {}: {ours:?}", host.name);
    }
}

/// Kills a backup right after each of its steps in turn, running it again to the end after each
/// kill; the steps are those of an uninterrupted run. How many runs completed.
fn backup_killed_at_every_step(lab: &Lab, dir: &Path, extra: &[&str]) -> usize {
    let whole = run_with_limit(backup_command(lab, dir, extra), Duration::from_secs(120));
    assert_eq!(whole.status.code(), Some(0), "{}\n{}", stdout(&whole), stderr(&whole));
    let mut fetches = 0;
    let steps: Vec<String> = json_lines(&whole).iter().filter_map(|l| backup_step(l, &mut fetches)).collect();
    assert!(steps.len() >= 3, "{steps:?}");
    let mut completed = 1;
    for step in &steps {
        // Each run its own second: the names carry the second they were taken in.
        std::thread::sleep(Duration::from_millis(1100));
        let mut fetches = 0;
        kill_after(backup_command(lab, dir, extra), step, |l| backup_step(l, &mut fetches).as_deref() == Some(step));
        let parts: Vec<String> = names_in(dir).into_iter().filter(|n| n.ends_with(".part")).collect();
        std::thread::sleep(Duration::from_millis(1100));
        let again = run_with_limit(backup_command(lab, dir, extra), Duration::from_secs(120));
        assert_eq!(again.status.code(), Some(0), "after a kill at {step}: {}\n{}", stdout(&again), stderr(&again));
        for part in parts {
            assert!(stdout(&again).contains(&format!("removed {}", dir.join(&part).display())), "{part} said removed");
        }
        completed += 1;
    }
    completed
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_killed_after_each_step_leaves_one_verified_backup_per_completed_run_and_no_part() {
    let lab = lab_scenario("healthy", 1.0).await;
    let started = Instant::now();
    let direct = lab.dir.join("direct");
    let completed = backup_killed_at_every_step(&lab, &direct, &["--snapshot-only"]);
    assert_backups(&direct, completed, false);
    eprintln!("direct snapshot, {completed} runs: {:.1}s", started.elapsed().as_secs_f64());
    let runbook = lab.dir.join("runbook");
    let completed = backup_killed_at_every_step(&lab, &runbook, &[]);
    assert_backups(&runbook, completed, true);
    assert_nothing_left_on_nodes(&lab);
    eprintln!("both, {completed} runbook runs: {:.1}s", started.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------------------------
// The encryption migration

/// A one-member lab whose operators migrate `speed` times faster than real time.
async fn encryption_lab(speed: f64) -> Lab {
    let scenario = etcd_console_lab::scenario::Scenario::load("healthy").unwrap_or_else(|e| panic!("{e}"));
    let options = etcd_console_lab::LabOptions { members: 1, scenario, speed, ..lab_options() };
    Lab::start(options).await.unwrap_or_else(|e| panic!("the lab did not start: {e}"))
}

fn set_command(lab: &Lab, kind: &str, backups: &Path) -> Command {
    let backups = backups.to_str().unwrap();
    let args = ["encryption", "set", kind, "--wait", "--yes", "--poll", "300ms", "-o", "json"];
    let mut command = sre_command(lab, "lab-admin-cert", &args);
    command.args(["--backup", "--backup-dir", backups]);
    command
}

/// APIServer cluster's metadata.generation: one more per change of its spec.
fn apiserver_generation(lab: &Lab) -> i64 {
    kubectl_ok(lab, &["get", "apiserver", "cluster", "-o", "jsonpath={.metadata.generation}"]).trim().parse().unwrap()
}

fn spec_type(lab: &Lab) -> String {
    kubectl_ok(lab, &["get", "apiserver", "cluster", "-o", "jsonpath={.spec.encryption.type}"]).trim().to_string()
}

fn step_text(line: &Value) -> &str {
    if line["event"] == "step" {
        line["text"].as_str().unwrap_or("")
    } else {
        ""
    }
}

/// Runs `encryption set KIND` again and again, as an SRE would after a crash, until it exits 0;
/// none of these runs may patch. Its last outcome.
fn again_until_settled(lab: &Lab, kind: &str, backups: &Path) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let run = run_with_limit(set_command(lab, kind, backups), Duration::from_secs(90));
        let lines = json_lines(&run);
        assert!(!lines.iter().any(|l| l["action"] == "patch"), "a run after the patch patched again: {lines:?}");
        let outcome = lines.iter().find(|l| l["event"] == "outcome").cloned().unwrap_or_default();
        if run.status.code() == Some(0) {
            return outcome;
        }
        // While the migration of the killed run goes on, the run says so and changes nothing.
        let reason = outcome["reason"].as_str().unwrap_or("");
        assert!(reason.contains("already running") && reason.contains(kind), "{outcome}\n{}", stderr(&run));
        assert!(Instant::now() < deadline, "the migration did not settle: {outcome}");
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn assert_settled(lab: &Lab, kind: &str, reason: &str) {
    assert_eq!(spec_type(lab), kind);
    for resource in ["openshiftapiserver", "kubeapiserver", "authentication.operator.openshift.io"] {
        let check = kubectl_ok(
            lab,
            &["get", resource, r#"-o=jsonpath={.items[0].status.conditions[?(@.type=="Encrypted")].reason}"#],
        );
        assert_eq!(check.trim(), reason, "{kind} {resource}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_encryption_migration_killed_after_the_backup_the_patch_and_mid_wait_patches_once_per_type() {
    // 100x: a 20-minute migration takes 12 s.
    let lab = encryption_lab(100.0).await;
    let started = Instant::now();
    let backups = lab.dir.join("backups");
    let generation = apiserver_generation(&lab);

    // Killed right after its backup: nothing patched; the backup stands, verified.
    kill_after(set_command(&lab, "aescbc", &backups), "the backup", |l| {
        step_text(l).starts_with("backup taken and verified")
    });
    assert_eq!((apiserver_generation(&lab), spec_type(&lab).as_str()), (generation, ""), "not patched");
    // (A backup's names carry the second it was taken in: the next one is another second's.)
    std::thread::sleep(Duration::from_millis(1100));
    // Run again: a backup of its own, then the patch; killed right after it.
    kill_after(set_command(&lab, "aescbc", &backups), "the patch", |l| {
        step_text(l).starts_with("APIServer cluster patched")
    });
    assert_eq!(apiserver_generation(&lab), generation + 1, "patched once");
    let end = again_until_settled(&lab, "aescbc", &backups);
    assert_eq!(end["outcome"], "nothing_to_do", "{end}");
    assert_settled(&lab, "aescbc", "EncryptionCompleted");
    assert_eq!(apiserver_generation(&lab), generation + 1, "patched once, whatever the runs after the kill");

    // Back to identity, killed in the middle of the wait (an operator has moved since the patch).
    let mut patched = false;
    kill_after(set_command(&lab, "identity", &backups), "the wait", |l| {
        let text = step_text(l);
        let moved = patched && text.contains("Decryption");
        patched |= text.starts_with("APIServer cluster patched");
        moved
    });
    let end = again_until_settled(&lab, "identity", &backups);
    assert_eq!(end["outcome"], "nothing_to_do", "{end}");
    assert_settled(&lab, "identity", "DecryptionCompleted");
    assert_eq!(apiserver_generation(&lab), generation + 2, "one patch per type");
    let audit: String = std::fs::read_dir(lab.dir.join("console-logs"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert_eq!(
        audit.matches("patch apiservers/cluster spec.encryption.type").count(),
        2,
        "one audit line per patch: {audit}"
    );
    // The backups the runs took before patching: each verified at its final name, no part.
    let names = names_in(&backups);
    assert!(!names.iter().any(|n| n.ends_with(".part")), "{names:?}");
    for name in names.iter().filter(|n| n.starts_with("backup_")) {
        let metadata: Value = serde_json::from_slice(&std::fs::read(backups.join(name)).unwrap()).unwrap();
        assert_eq!(metadata["verified"], true, "{metadata}");
        let snapshot = backups.join(Path::new(metadata["snapshot"].as_str().unwrap()).file_name().unwrap());
        assert_eq!(metadata["sha256"], sha256_hex(&snapshot).as_str());
    }
    eprintln!("encryption killed three times: {:.1}s", started.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------------------------
// The hosted restore

#[tokio::test(flavor = "multi_thread")]
async fn a_hosted_restore_killed_at_every_step_ends_as_an_uninterrupted_one_each_step_done_once() {
    let (lab, dir) = hosted_lab_with_backup().await;
    let volumes_before = hosted_volumes(&lab);
    let planned = run_with_limit(hosted_command(&lab, &dir, &["restore", "plan"]), Duration::from_secs(60));
    let plan = json_lines(&planned)
        .into_iter()
        .find(|l| l["event"] == "plan")
        .unwrap_or_else(|| panic!("{}", stderr(&planned)));
    let steps: Vec<String> =
        plan["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    let started = Instant::now();
    // Right as each step begins.
    for at in &steps {
        kill_when(hosted_command(&lab, &dir, &["restore", "run", "--yes", "--poll", "500ms"]), at);
    }
    finish_hosted(&lab, &dir, &steps, &volumes_before);
    eprintln!("hosted restore killed as each of {} steps began: {:.1}s", steps.len(), started.elapsed().as_secs_f64());
    // The same restore again, each kill 300 ms into a step (its act sent, its check polling, or
    // the next step begun): a step ended but not yet journalled is re-checked, not redone. A run
    // that resumes past the last kill's step and ends is the last.
    let started = Instant::now();
    let mut ended = None;
    for k in 0..steps.len() {
        let index = |id: &str| steps.iter().position(|s| s == id);
        let command = hosted_command(&lab, &dir, &["restore", "run", "--yes", "--poll", "500ms"]);
        let killed = try_kill_after(command, |l| {
            let reached = l["event"] == "step" && l["id"].as_str().and_then(index).is_some_and(|i| i >= k);
            if reached {
                std::thread::sleep(Duration::from_millis(300));
            }
            reached
        });
        if let Err(seen) = killed {
            ended = Some(seen);
            break;
        }
    }
    let seen = ended.unwrap_or_else(|| {
        let run = run_with_limit(
            hosted_command(&lab, &dir, &["restore", "run", "--yes", "--poll", "500ms"]),
            Duration::from_secs(300),
        );
        assert_eq!(run.status.code(), Some(0), "{}\n{}", stdout(&run), stderr(&run));
        json_lines(&run)
    });
    assert!(seen.iter().any(|l| l["event"] == "resuming"), "{seen:?}");
    let end = seen.iter().find(|l| l["event"] == "outcome").unwrap_or_else(|| panic!("{seen:?}"));
    assert_eq!(end["outcome"]["outcome"], "completed", "{end}");
    assert_hosted_restored(&lab, &volumes_before);
    let journalled = assert_each_step_done_once(&kept_journal(&lab, "restore"));
    assert_eq!(journalled, steps, "the journal holds the plan's steps");
    eprintln!("hosted restore killed 300 ms into each step: {:.1}s", started.elapsed().as_secs_f64());
}

/// Runs the killed hosted restore again to its end: resumed, ended as an uninterrupted run, each
/// step done once by its journal.
fn finish_hosted(lab: &Lab, dir: &Path, steps: &[String], volumes_before: &str) {
    let run = run_with_limit(
        hosted_command(lab, dir, &["restore", "run", "--yes", "--poll", "500ms"]),
        Duration::from_secs(300),
    );
    assert_eq!(run.status.code(), Some(0), "{}\n{}", stdout(&run), stderr(&run));
    let all = json_lines(&run);
    assert!(all.iter().any(|l| l["event"] == "resuming"), "{}", stdout(&run));
    assert_hosted_restored(lab, volumes_before);
    let journalled = assert_each_step_done_once(&kept_journal(lab, "restore"));
    assert_eq!(journalled, steps, "the journal holds the plan's steps");
}

// ---------------------------------------------------------------------------------------------
// SIGTERM and SIGHUP, beside Ctrl-C

use nix::sys::signal::Signal;

/// A run stopped by a signal: its exit code, the JSON lines it printed (before and after the
/// signal), the raw stdout lines read after the signal was sent, and its stderr.
struct Signalled {
    code: Option<i32>,
    lines: Vec<Value>,
    after: Vec<String>,
    stderr: String,
}

/// Runs `command`, sends `signal` right after the first stdout line `at` accepts, and reads it to
/// its end (within 120 s).
fn signal_after(mut command: Command, signal: Signal, what: &str, mut at: impl FnMut(&Value) -> bool) -> Signalled {
    use std::io::{BufRead, BufReader, Read};
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stderr_text = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    let stdout_pipe = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout_pipe).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut lines, mut after, mut sent) = (Vec::new(), Vec::new(), false);
    loop {
        assert!(Instant::now() < deadline, "{what}: no end within 120 s: {lines:?}");
        let line = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => line,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let value: Value = serde_json::from_str(&line).unwrap_or_default();
        if sent {
            after.push(line);
        } else if at(&value) {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            nix::sys::signal::kill(pid, signal).unwrap();
            sent = true;
        }
        lines.push(value);
    }
    let status = child.wait().unwrap();
    assert!(sent, "{what}: the run ended before the signal: {lines:?}");
    Signalled { code: status.code(), lines, after, stderr: stderr_text.join().unwrap_or_default() }
}

/// What a run stopped by `signal` must show: the exit code Ctrl-C gives (`ctrl_c`, None: this is
/// Ctrl-C's run), and after SIGHUP nothing more on the terminal (no end line, nothing on stderr).
/// Ctrl-C's exit code.
fn assert_stopped_as_ctrl_c(run: &Signalled, signal: Signal, ctrl_c: Option<i32>, end_event: &str) -> Option<i32> {
    if let Some(code) = ctrl_c {
        assert_eq!(run.code, Some(code), "{signal}: exit as for Ctrl-C: {:?}\n{}", run.lines, run.stderr);
    }
    let ended = run.lines.iter().any(|l| l["event"] == end_event);
    if signal == Signal::SIGHUP {
        assert!(!ended, "nothing is written to a terminal that hung up: {:?}", run.after);
        assert!(!run.stderr.contains("SIGHUP"), "nothing on stderr after SIGHUP: {}", run.stderr);
    } else {
        assert!(ended, "{signal}: the run says how it ended: {:?}\n{}", run.lines, run.stderr);
        assert!(run.stderr.contains("stopping"), "{signal}: said on stderr: {}", run.stderr);
    }
    run.code
}

/// Every journal in the lab's journal directory reads back whole: each line JSON (none torn, the
/// last one ended). The file of `prefix` written last, and its lines.
fn journal_intact(lab: &Lab, prefix: &str) -> (String, Vec<Value>) {
    let dir = lab.dir.join("journal");
    let mut newest: Option<(std::time::SystemTime, String, Vec<Value>)> = None;
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".jsonl") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'), "{name}: the last line is cut");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: a torn line ({e}): {l}")))
            .collect();
        let modified = entry.metadata().and_then(|m| m.modified()).unwrap();
        if name.starts_with(&format!("{prefix}-")) && newest.as_ref().is_none_or(|(at, _, _)| modified > *at) {
            newest = Some((modified, name, lines));
        }
    }
    let (_, name, lines) = newest.unwrap_or_else(|| panic!("no {prefix} journal in {}", dir.display()));
    assert!(!lines.is_empty(), "{name} is empty");
    (name, lines)
}

/// No temporary file of ours left in the lab's directories: part files, probes, temporaries.
fn assert_no_temporary_files(lab: &Lab) {
    for dir in ["journal", "backups", "console-logs"] {
        for name in names_in_all(&lab.dir.join(dir)) {
            assert!(
                !(name.ends_with(".part") || name.ends_with(".tmp") || name.starts_with(".etcd-console-probe")),
                "{dir}/{name} left"
            );
        }
    }
}

/// Every name in `dir`, dot-files too.
fn names_in_all(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

fn assert_no_debug_namespace(lab: &Lab) {
    let namespaces = kubectl_ok(lab, &["get", "namespaces", "-l", "etcd-console.io/debug", "-o", "name"]);
    assert_eq!(namespaces.trim(), "", "a debug namespace was left");
    let pods = kubectl_ok(lab, &["get", "pods", "-A", "-o", "name"]);
    assert!(!pods.contains("-debug"), "a debug pod was left: {pods}");
}

fn defrag_command(lab: &Lab) -> Command {
    sre_command(lab, "lab-admin-cert", &["defrag", "--yes", "-o", "json", "--wait", "4s", "--i-know-wait-is-short"])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_defrag_stopped_by_ctrl_c_sigterm_or_sighup_in_its_wait_stops_the_same_and_resumes() {
    let lab = lab_scenario("fragmented", 1.0).await;
    let started = Instant::now();
    let mut ctrl_c = None;
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        let run = signal_after(defrag_command(&lab), signal, "the wait", |l| l["event"] == "countdown");
        let code = assert_stopped_as_ctrl_c(&run, signal, ctrl_c, "finished");
        ctrl_c = ctrl_c.or(code);
        assert_eq!(code, Some(1), "{signal}: stopped, to be resumed");
        if signal != Signal::SIGHUP {
            let end = run.lines.iter().find(|l| l["event"] == "finished").unwrap();
            assert_eq!(end["outcome"], "stopped", "{end}");
        }
        // The journal says what is done: the member before the wait, no other.
        let (name, journal) = journal_intact(&lab, "defrag");
        assert!(name.contains('T'), "{signal}: a stopped defrag's journal is kept dated: {name}");
        let spans = defrag_spans(&lab);
        assert_eq!(spans.len(), 1, "{signal}: one member defragmented before the wait: {spans:?}");
        let text = journal.last().unwrap().to_string();
        assert!(text.contains(&spans[0].0), "{signal}: the journal's last line names {}: {text}", spans[0].0);
        assert_no_temporary_files(&lab);
    }
    let out = run_with_limit(defrag_command(&lab), Duration::from_secs(120));
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("by an earlier run: waiting 4s before the first member"), "{}", stdout(&out));
    let spans = defrag_spans(&lab);
    let mut names: Vec<String> = spans.iter().map(|s| s.0.clone()).collect();
    assert_eq!(names.len(), 3, "{spans:?}");
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 3, "no member defragmented twice: {spans:?}");
    // The wait between two members holds across the stops: none came sooner after another.
    for pair in spans.windows(2) {
        let gap = pair[1].1.duration_since(pair[0].2).unwrap_or_else(|_| panic!("overlap: {pair:?}"));
        assert!(gap >= Duration::from_secs(4), "only {gap:?} between {} and {}", pair[0].0, pair[1].0);
    }
    let audit: String = std::fs::read_dir(lab.dir.join("console-logs"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    for signal in ["SIGINT", "SIGTERM", "SIGHUP"] {
        assert!(audit.contains(&format!("signal=\"{signal}\"")), "the audit log says {signal}");
    }
    eprintln!("defrag stopped three times: {:.1}s", started.elapsed().as_secs_f64());
}

/// `etcdctl member list -w json`: (name, id, is learner) of each member.
fn member_list(lab: &Lab) -> Vec<(String, u64, bool)> {
    let out = etcdctl(lab, &["member", "list", "-w", "json"]);
    let list: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|_| panic!("{}", stderr(&out)));
    let members = list["members"].as_array().unwrap().iter();
    members
        .map(|m| {
            let name = m["name"].as_str().unwrap_or_default().to_string();
            (name, m["ID"].as_u64().unwrap_or_default(), m["isLearner"].as_bool().unwrap_or(false))
        })
        .collect()
}

/// The member etcdctl cannot reach: the one the scenario took down.
fn down_member(lab: &Lab) -> String {
    let out = etcdctl(lab, &["endpoint", "health", "--cluster", "-w", "json"]);
    let health: Value = serde_json::from_str(&stdout(&out)).unwrap_or_default();
    let bad = health.as_array().and_then(|a| a.iter().find(|e| e["health"] == false).cloned()).unwrap_or_default();
    let endpoint = bad["endpoint"].as_str().unwrap_or_else(|| panic!("no unhealthy endpoint: {}", stdout(&out)));
    let list: Value = serde_json::from_str(&stdout(&etcdctl(lab, &["member", "list", "-w", "json"]))).unwrap();
    let members = list["members"].as_array().unwrap();
    let member = members.iter().find(|m| m["clientURLs"].as_array().is_some_and(|u| u.iter().any(|u| u == endpoint)));
    member.and_then(|m| m["name"].as_str()).unwrap_or_else(|| panic!("{endpoint} is no member's")).to_string()
}

fn replace_command(lab: &Lab, member: &str) -> Command {
    let args = ["member", "replace", member, "--yes", "--poll", "500ms", "-o", "json"];
    let mut command = sre_command(lab, "lab-admin-cert", &args);
    command.arg("--backup-dir").arg(lab.dir.join("backups"));
    command
}

fn step_begun(line: &Value, id: &str) -> bool {
    line["event"] == "step" && line["id"] == id
}

/// A stopped run of a journalled wizard (`prefix`): its journal kept under its plain name to be
/// resumed, every line whole, the last one saying the run stopped.
fn assert_journal_kept_stopped(lab: &Lab, prefix: &str, signal: Signal) {
    let (name, lines) = journal_intact(lab, prefix);
    assert!(!name.contains('T'), "{signal}: the stopped run's journal is kept to resume: {name}");
    let last = &lines.last().unwrap()["run"];
    assert_eq!(last["outcome"]["outcome"], "stopped", "{signal}: the journal's last line: {last}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_replacement_stopped_by_ctrl_c_sigterm_or_sighup_stops_the_same_and_resumes_to_one_replacement() {
    let lab = lab_scenario("member-corrupt", 60.0).await;
    let sick = down_member(&lab);
    let old_id = member_list(&lab).iter().find(|m| m.0 == sick).unwrap().1;
    let revision = |lab: &Lab| {
        let text = kubectl_ok(lab, &["get", "etcd", "cluster", "-o", "jsonpath={.status.latestAvailableRevision}"]);
        text.trim().parse::<i64>().unwrap()
    };
    let before = revision(&lab);
    let started = Instant::now();
    let mut ctrl_c = None;
    // In the backup taken first (a debug pod runs cluster-backup.sh), while the damaged data is set
    // aside, and as the member is removed.
    for (signal, at) in [(Signal::SIGINT, "backup"), (Signal::SIGTERM, "set_aside"), (Signal::SIGHUP, "remove_member")]
    {
        let run = signal_after(replace_command(&lab, &sick), signal, at, |l| step_begun(l, at));
        ctrl_c = ctrl_c.or(assert_stopped_as_ctrl_c(&run, signal, ctrl_c, "outcome"));
        assert_eq!(ctrl_c, Some(1), "{signal}: stopped, to be resumed: {:?}", run.lines);
        assert_journal_kept_stopped(&lab, "member", signal);
        assert_no_debug_namespace(&lab);
        assert_no_temporary_files(&lab);
    }
    let run = run_with_limit(replace_command(&lab, &sick), Duration::from_secs(600));
    assert_eq!(run.status.code(), Some(0), "{}\n{}", stdout(&run), stderr(&run));
    assert!(json_lines(&run).iter().any(|l| l["event"] == "resuming"), "{}", stdout(&run));
    let members = member_list(&lab);
    assert_eq!(members.len(), 3, "{members:?}");
    let back = members.iter().find(|m| m.0 == sick).unwrap_or_else(|| panic!("no {sick}: {members:?}"));
    assert_ne!(back.1, old_id, "{sick} is a new member");
    assert!(members.iter().all(|m| !m.2), "none a learner: {members:?}");
    let health = etcdctl(&lab, &["endpoint", "health", "--cluster"]);
    assert!(health.status.success(), "{}{}", stdout(&health), stderr(&health));
    assert_eq!(revision(&lab), before + 1, "etcd redeployed once");
    assert_no_debug_namespace(&lab);
    assert_no_temporary_files(&lab);
    eprintln!("member replacement stopped three times: {:.1}s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hosted_restore_stopped_by_ctrl_c_sigterm_or_sighup_stops_the_same_and_resumes_to_the_same_end() {
    let (lab, dir) = hosted_lab_with_backup().await;
    let volumes_before = hosted_volumes(&lab);
    let started = Instant::now();
    let mut ctrl_c = None;
    // As a data pod is made, while a member's data is restored, as the API servers come back.
    for (signal, at) in [
        (Signal::SIGINT, "3.2@data-etcd-0"),
        (Signal::SIGTERM, "3.4@data-etcd-1"),
        (Signal::SIGHUP, "3.9@kube-apiserver"),
    ] {
        let command = hosted_command(&lab, &dir, &["restore", "run", "--yes", "--poll", "500ms"]);
        let run = signal_after(command, signal, at, |l| step_begun(l, at));
        ctrl_c = ctrl_c.or(assert_stopped_as_ctrl_c(&run, signal, ctrl_c, "outcome"));
        assert_eq!(ctrl_c, Some(1), "{signal}: stopped, to be resumed: {:?}", run.lines);
        assert_journal_kept_stopped(&lab, "restore", signal);
        assert_no_debug_namespace(&lab);
        assert_no_temporary_files(&lab);
    }
    let run = run_with_limit(
        hosted_command(&lab, &dir, &["restore", "run", "--yes", "--poll", "500ms"]),
        Duration::from_secs(300),
    );
    assert_eq!(run.status.code(), Some(0), "{}\n{}", stdout(&run), stderr(&run));
    assert_hosted_restored(&lab, &volumes_before);
    assert_each_step_done_once(&kept_journal(&lab, "restore"));
    assert_no_temporary_files(&lab);
    eprintln!("hosted restore stopped three times: {:.1}s", started.elapsed().as_secs_f64());
}

/// cluster-backup.sh on master-0 (the runbook's backup), copied to a directory on the bastion.
fn runbook_backup_on_master_0(lab: &Lab) -> String {
    let mut command = Command::new(console_bin());
    command.args(["lab", "host", "--dir"]).arg(&lab.dir).args(["master-0", "--"]);
    command.arg("sudo -E /usr/local/bin/cluster-backup.sh /home/core/backup");
    let made = run_with_limit(command, Duration::from_secs(60));
    assert!(made.status.success(), "{}{}", stdout(&made), stderr(&made));
    let from = lab.dir.join("hosts/master-0/home/core/backup");
    let to = lab.dir.join("bastion-backup");
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(&from).unwrap().flatten() {
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    path_str(&to)
}

fn get(lab: &Lab, key: &str) -> String {
    stdout(&etcdctl(lab, &["get", key, "--print-value-only"])).trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standalone_restore_stopped_by_sigterm_then_sighup_resumes_to_the_same_end() {
    let lab = lab_scenario("restore", 300.0).await;
    for i in 0..3 {
        assert!(etcdctl(&lab, &["put", &format!("/demo/old/{i}"), "old"]).status.success());
    }
    let dir = runbook_backup_on_master_0(&lab);
    assert!(etcdctl(&lab, &["put", "/demo/new/0", "new"]).status.success());
    let started = Instant::now();
    let restore = |lab: &Lab| {
        let args = ["restore", "run", "--backup", &dir, "--recovery-host", "master-0", "--yes", "--poll", "500ms"];
        let mut command = sre_command(lab, "lab-admin-cert", &args);
        command.args(["-o", "json"]);
        command
    };
    // Inside a non-recovery host's stops, then with the quorum guard off.
    for (signal, at) in [(Signal::SIGTERM, "4.3@master-1"), (Signal::SIGHUP, "18")] {
        let run = signal_after(restore(&lab), signal, at, |l| step_begun(l, at));
        assert_stopped_as_ctrl_c(&run, signal, Some(1), "outcome");
        assert_journal_kept_stopped(&lab, "restore", signal);
        assert_no_debug_namespace(&lab);
        assert_no_temporary_files(&lab);
    }
    let run = run_with_limit(restore(&lab), Duration::from_secs(600));
    assert_eq!(run.status.code(), Some(0), "{}\n{}", stdout(&run), stderr(&run));
    for i in 0..3 {
        assert_eq!(get(&lab, &format!("/demo/old/{i}")), "old");
    }
    assert_eq!(get(&lab, "/demo/new/0"), "", "the key written after the backup is gone");
    let members = member_list(&lab);
    assert!(members.len() == 3 && members.iter().all(|m| !m.0.is_empty() && !m.2), "{members:?}");
    let health = etcdctl(&lab, &["endpoint", "health", "--cluster"]);
    assert!(health.status.success(), "{}{}", stdout(&health), stderr(&health));
    let overrides = kubectl_ok(&lab, &["get", "etcd", "cluster", "-o", "jsonpath={.spec.unsupportedConfigOverrides}"]);
    assert_eq!(overrides.trim(), "", "the quorum guard is back on");
    assert_each_step_done_once(&kept_journal(&lab, "restore"));
    eprintln!("standalone restore stopped twice: {:.1}s", started.elapsed().as_secs_f64());
}
