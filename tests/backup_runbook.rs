//! The runbook's backup from the bastion alone: `etcd-console backup` runs the
//! cluster's own cluster-backup.sh on a control-plane node through a debug pod
//! (as `oc debug node/NAME`) or over the hosts' shell, brings both files back
//! checked, and leaves nothing behind — and the restore takes what it wrote.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::*;
use etcd_console_lab::hosts::faults::{self, Fault};
use etcd_console_lab::Lab;
use serde_json::Value;

/// `etcd-console ARGS` as an SRE runs it after `source lab.env`, as the certificate-based admin.
fn console_as_admin(lab: &Lab, args: &[&str]) -> Command {
    let mut command = Command::new(console_bin());
    command.args(args);
    command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", &lab.dir);
    for (name, value) in lab.env() {
        command.env(name, value);
    }
    command.env("ETCD_CONSOLE_LAB_DIR", &lab.dir);
    command.env("KUBECONFIG", lab.kubeconfig.as_ref().unwrap());
    command.args(["--context", "lab-admin-cert", "--journal-dir"]).arg(lab.dir.join("journal"));
    command.arg("--log-dir").arg(lab.dir.join("console-logs"));
    command
}

fn backup(lab: &Lab, dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["backup", "--dir", dir.to_str().unwrap(), "-o", "json"];
    args.extend_from_slice(extra);
    run_with_limit(console_as_admin(lab, &args), Duration::from_secs(180))
}

fn finished(output: &Output) -> Value {
    stdout(output)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["event"] == "finished")
        .unwrap_or_else(|| panic!("no finished line:\n{}\n{}", stdout(output), stderr(output)))
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.file_name().to_string_lossy().to_string()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// What a backup run must never leave: a debug namespace, or a directory of ours on a host.
fn assert_nothing_left(lab: &Lab) {
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

fn get(lab: &Lab, key: &str) -> String {
    stdout(&etcdctl(lab, &["get", key, "--print-value-only"])).trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_from_the_bastion_alone_passes_every_gate_and_the_restore_brings_its_data_back() {
    let lab = lab_scenario("restore", 300.0).await;
    for i in 0..5 {
        assert!(etcdctl(&lab, &["put", &format!("/demo/old/{i}"), &format!("value-{i}")]).status.success());
    }
    let dir = lab.dir.join("bastion-backups");
    let out = backup(&lab, &dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let done = finished(&out);
    assert_eq!(done["restore_grade"], true, "{done}");
    let snapshot = PathBuf::from(done["snapshot"].as_str().unwrap());
    let archive = PathBuf::from(done["static_resources"].as_str().unwrap());
    let stamp = snapshot.file_name().unwrap().to_string_lossy().replace("snapshot_", "").replace(".db", "");
    assert_eq!(
        names_in(&dir),
        [
            format!("backup_{stamp}.json"),
            format!("snapshot_{stamp}.db"),
            format!("static_kuberesources_{stamp}.tar.gz")
        ],
        "one timestamp, nothing else"
    );
    // The metadata says what is on disk: both files' sizes and SHA-256, as sha256sum sees them.
    let metadata: Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("backup_{stamp}.json"))).unwrap()).unwrap();
    assert_eq!(metadata["restore_grade"], true);
    let sha256sum = |path: &Path| {
        let out = Command::new("sha256sum").arg(path).output().unwrap();
        String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or("").to_string()
    };
    assert_eq!(metadata["sha256"], sha256sum(&snapshot).as_str());
    assert_eq!(metadata["static_resources_sha256"], sha256sum(&archive).as_str());
    assert_eq!(metadata["static_resources_bytes"], std::fs::metadata(&archive).unwrap().len());
    assert_eq!(metadata["static_resources"], archive.file_name().unwrap().to_string_lossy().as_ref());
    // etcdctl reads the snapshot as etcd wrote it; tar lists the four components' resources.
    let status =
        Command::new(common::etcdctl_bin()).args(["snapshot", "status", "-w", "json"]).arg(&snapshot).output().unwrap();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(metadata["revision"], status["revision"]);
    let listed = Command::new("tar").arg("-tzf").arg(&archive).output().unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    for component in ["etcd-pod-", "kube-apiserver-pod-", "kube-controller-manager-pod-", "kube-scheduler-pod-"] {
        assert!(listed.contains(component), "{component} in\n{listed}");
    }
    assert_nothing_left(&lab);

    // Later changes, then the restore from the bastion's directory.
    for i in 0..5 {
        assert!(etcdctl(&lab, &["put", &format!("/demo/new/{i}"), "later"]).status.success());
    }
    assert!(etcdctl(&lab, &["del", "/demo/old/0"]).status.success());
    let dir_text = dir.to_str().unwrap();
    let plan = run_with_limit(
        console_as_admin(&lab, &["restore", "plan", "--backup", dir_text, "--recovery-host", "master-0", "-o", "json"]),
        Duration::from_secs(120),
    );
    let plan_line = stdout(&plan)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["event"] == "plan")
        .unwrap_or_else(|| panic!("no plan:\n{}\n{}", stdout(&plan), stderr(&plan)));
    let failing: Vec<&Value> = plan_line["gates"].as_array().unwrap().iter().filter(|g| g["passed"] != true).collect();
    assert!(failing.is_empty(), "every gate passes: {failing:?}");
    let run = run_with_limit(
        console_as_admin(
            &lab,
            &[
                "restore",
                "run",
                "--backup",
                dir_text,
                "--recovery-host",
                "master-0",
                "--yes",
                "--poll",
                "500ms",
                "-o",
                "json",
            ],
        ),
        Duration::from_secs(600),
    );
    assert_eq!(run.status.code(), Some(0), "{}\n{}", stdout(&run), stderr(&run));
    for i in 0..5 {
        assert_eq!(get(&lab, &format!("/demo/old/{i}")), format!("value-{i}"), "old key {i} is back");
        assert_eq!(get(&lab, &format!("/demo/new/{i}")), "", "the later key {i} is gone");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_failure_on_the_node_leaves_nothing_behind_and_says_why() {
    let lab = lab_scenario("healthy", 1.0).await;
    let dir = lab.dir.join("backups");
    let cases: [(Fault, Option<&str>, &str); 3] = [
        (Fault::DebugImagePull, Some("master-1"), "ImagePullBackOff"),
        (Fault::DebugPodsForbidden, None, "403"),
        (Fault::BackupFailsHalfWay, Some("master-1"), "cluster-backup.sh failed"),
    ];
    for (fault, node, said) in cases {
        faults::set(&lab.dir, fault, node, true).unwrap();
        let out = backup(&lab, &dir, &["--node", "master-1"]);
        faults::set(&lab.dir, fault, node, false).unwrap();
        assert_eq!(out.status.code(), Some(1), "{}: {}\n{}", fault.name(), stdout(&out), stderr(&out));
        let done = finished(&out);
        assert_eq!(done["outcome"], "failed", "{done}");
        assert!(done["reason"].as_str().unwrap_or("").contains(said), "{}: {done}", fault.name());
        let finals: Vec<String> = names_in(&dir).into_iter().filter(|n| !n.starts_with('.')).collect();
        assert!(finals.is_empty(), "{}: nothing at a final name, no part: {finals:?}", fault.name());
        assert_nothing_left(&lab);
    }
    // With the faults gone the same command works: nothing was left in its way.
    let out = backup(&lab, &dir, &["--node", "master-1"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(finished(&out)["backup"]["member"], "master-1", "--node picks the node and its member");
}

#[tokio::test(flavor = "multi_thread")]
async fn what_a_crashed_run_left_is_removed_by_the_next_and_ssh_does_the_same_as_the_api() {
    let lab = lab_scenario("healthy", 1.0).await;
    // A crash after the script: its namespace (labelled) and its directory on master-2 remain.
    let leftover = r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"etcd-console-backup-crash","labels":{"etcd-console.io/debug":"backup"},"annotations":{"etcd-console.io/node":"master-2","etcd-console.io/remote-dir":"/home/core/assets/backup-etcd-console-2026-12-01_000000"}}}"#;
    let path = lab.dir.join("leftover.json");
    std::fs::write(&path, leftover).unwrap();
    kubectl_ok(&lab, &["create", "-f", path.to_str().unwrap()]);
    let stale = lab.inventory.root("master-2").join("home/core/assets/backup-etcd-console-2026-12-01_000000");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("snapshot_2026-12-01_000000.db"), b"half").unwrap();

    // Someone else's backup running right now on the same node: its namespace, pod and directory.
    let running = r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"etcd-console-backup-busy","labels":{"etcd-console.io/debug":"backup"},"annotations":{"etcd-console.io/node":"master-2","etcd-console.io/remote-dir":"/home/core/assets/backup-etcd-console-2026-12-01_000100"}}}"#;
    let pod = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"master-2-debug","namespace":"etcd-console-backup-busy"},"spec":{"nodeName":"master-2","restartPolicy":"Never","volumes":[{"name":"host","hostPath":{"path":"/","type":"Directory"}}],"containers":[{"name":"container-00","image":"tools","command":["sleep","600"],"securityContext":{"privileged":true},"volumeMounts":[{"name":"host","mountPath":"/host"}]}]}}"#;
    for (name, object) in [("busy-ns.json", running), ("busy-pod.json", pod)] {
        let path = lab.dir.join(name);
        std::fs::write(&path, object).unwrap();
        kubectl_ok(&lab, &["create", "-f", path.to_str().unwrap()]);
    }
    let busy = lab.inventory.root("master-2").join("home/core/assets/backup-etcd-console-2026-12-01_000100");
    std::fs::create_dir_all(&busy).unwrap();

    let dir = lab.dir.join("backups");
    let out = backup(&lab, &dir, &["--node", "master-2"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let said = stdout(&out);
    assert!(said.contains("etcd-console-backup-crash"), "the removal is said: {said}");
    assert!(said.contains("backup-etcd-console-2026-12-01_000000"), "{said}");
    assert!(!stale.exists(), "the stale directory went");
    // The run that may be going on is left alone, and said so.
    assert!(said.contains("etcd-console-backup-busy") && said.contains("left alone"), "{said}");
    assert!(busy.is_dir(), "a running backup's directory is not touched");
    kubectl_ok(&lab, &["get", "namespace", "etcd-console-backup-busy"]);
    kubectl_ok(&lab, &["delete", "namespace", "etcd-console-backup-busy"]);
    std::fs::remove_dir_all(&busy).unwrap();
    assert_nothing_left(&lab);

    // --via ssh (the lab's hosts answer as sshd would): the same two files, the same checks.
    let ssh_dir = lab.dir.join("over-ssh");
    let out = backup(&lab, &ssh_dir, &["--via", "ssh"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let done = finished(&out);
    assert_eq!(done["restore_grade"], true);
    assert_eq!(names_in(&ssh_dir).len(), 3, "{:?}", names_in(&ssh_dir));
    assert_nothing_left(&lab);

    // --snapshot-only: the direct snapshot, said not to be restore-grade.
    let only = lab.dir.join("snapshot-only");
    let out = backup(&lab, &only, &["--snapshot-only"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(finished(&out)["backup"]["restore_grade"], false);
    assert_eq!(names_in(&only).len(), 2, "snapshot and metadata: {:?}", names_in(&only));
}

/// Ctrl-C (SIGINT), a `kill` (SIGTERM) and a dropped ssh session to the bastion (SIGHUP) while
/// cluster-backup.sh runs: each lets the script finish, then removes its files, the debug pod and
/// the parts. After SIGHUP nothing more is written to the terminal that hung up.
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_while_cluster_backup_sh_runs_lets_it_finish_then_removes_its_files_the_pod_and_the_parts() {
    use nix::sys::signal::Signal;
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let lab = lab_scenario("healthy", 1.0).await;
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        let dir = lab.dir.join(format!("backups-{signal}"));
        let mut command = console_as_admin(&lab, &["backup", "--dir", dir.to_str().unwrap(), "-o", "json"]);
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        // Interrupted as soon as the script is said to start: the abort is honoured once it ends.
        for line in lines.by_ref() {
            let line = line.unwrap();
            seen.push(line.clone());
            if line.contains("\"cluster_backup\"") {
                let pid = nix::unistd::Pid::from_raw(child.id() as i32);
                nix::sys::signal::kill(pid, signal).unwrap();
                break;
            }
        }
        seen.extend(lines.map_while(Result::ok));
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(1), "{signal}: {seen:?}");
        let finished =
            seen.iter().filter_map(|l| serde_json::from_str::<Value>(l).ok()).find(|l| l["event"] == "finished");
        if signal == Signal::SIGHUP {
            assert!(finished.is_none(), "nothing is written to a terminal that hung up: {seen:?}");
        } else {
            let finished = finished.unwrap_or_else(|| panic!("{signal}: no finished line: {seen:?}"));
            assert_eq!(finished["outcome"], "failed");
            assert!(finished["reason"].as_str().unwrap_or("").contains("aborted"), "{finished}");
            assert!(seen.iter().any(|l| l.contains("\"clean_node\"")), "the node was cleaned: {seen:?}");
        }
        let left: Vec<String> = names_in(&dir).into_iter().filter(|n| !n.starts_with('.')).collect();
        assert!(left.is_empty(), "{signal}: nothing at a final name, no part: {left:?}");
        assert_nothing_left(&lab);
    }
}
