//! Crash at every step, with the real binary (issue 22, item 5): each run is
//! SIGKILLed right after step k's JSON line appears, for each k, and run
//! again; the end state must be the uninterrupted run's and nothing may be
//! done twice that must not be. SIGTERM and SIGHUP (a dropped ssh session to
//! the bastion) stop a run as Ctrl-C does: its journal intact, nothing
//! temporary left, and after SIGHUP nothing written to the terminal.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;
use etcd_console_lab::Lab;
use serde_json::Value;

fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Runs `command` (`-o json`) and SIGKILLs it right after the first line `at` accepts; the lines
/// it printed. Panics when the run ends first.
fn kill_after(command: Command, what: &str, mut at: impl FnMut(&Value) -> bool) -> Vec<Value> {
    let (mut child, rx) = spawn_with_lines(command);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    let mut reached = false;
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            continue;
        };
        let value: Value = serde_json::from_str(&line).unwrap_or_default();
        seen.push(value.clone());
        if at(&value) {
            reached = true;
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(reached, "the run ended or stalled before {what}: {seen:?}");
    seen
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
