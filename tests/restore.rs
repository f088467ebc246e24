//! `etcd-console restore plan | run` rehearsed in the lab: real etcd members
//! behind each control-plane host, host steps through the lab's hosts (the
//! real etcdctl snapshot save/restore), the simulated API's operators. etcdctl
//! and kubectl referee the result.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;
use etcd_console_lab::Lab;
use serde_json::Value;

/// `etcd-console ARGS` as an SRE would run it after `source lab.env`, with the certificate-based admin.
fn restore_command(lab: &Lab, args: &[&str]) -> Command {
    restore_command_as(lab, "lab-admin-cert", args)
}

fn restore_command_as(lab: &Lab, context: &str, args: &[&str]) -> Command {
    sre_command(lab, context, args)
}

fn console_restore(lab: &Lab, args: &[&str], limit: Duration) -> Output {
    run_with_limit(restore_command(lab, args), limit)
}

fn lines(output: &Output) -> Vec<Value> {
    stdout(output).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

fn outcome(output: &Output) -> Value {
    lines(output)
        .into_iter()
        .find(|l| l["event"] == "outcome")
        .unwrap_or_else(|| panic!("no outcome line:\n{}\n{}", stdout(output), stderr(output)))
}

fn host(lab: &Lab, node: &str, command: &str) -> Output {
    let mut c = Command::new(console_bin());
    c.args(["lab", "host", "--dir"]).arg(&lab.dir).arg(node).arg("--").arg(command);
    run_with_limit(c, Duration::from_secs(60))
}

/// cluster-backup.sh on `node` (the runbook's backup), copied to a directory on the bastion.
fn backup_on(lab: &Lab, node: &str) -> PathBuf {
    let made = host(lab, node, "sudo -E /usr/local/bin/cluster-backup.sh /home/core/backup");
    assert!(made.status.success(), "{}{}", stdout(&made), stderr(&made));
    let from = lab.dir.join("hosts").join(node).join("home/core/backup");
    let to = lab.dir.join("bastion-backup");
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(&from).unwrap().flatten() {
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    to
}

fn get(lab: &Lab, key: &str) -> String {
    stdout(&etcdctl(lab, &["get", key, "--print-value-only"])).trim().to_string()
}

fn write_keys(lab: &Lab, prefix: &str, count: usize) {
    for i in 0..count {
        let out = etcdctl(lab, &["put", &format!("{prefix}{i}"), &format!("value-{i}")]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

/// What a finished restore must leave, as etcdctl and kubectl see it.
fn assert_restored(lab: &Lab) {
    // The keys of the backup are back, the later ones gone.
    for i in 0..5 {
        assert_eq!(get(lab, &format!("/demo/old/{i}")), format!("value-{i}"), "old key {i}");
    }
    for i in 0..5 {
        assert_eq!(get(lab, &format!("/demo/new/{i}")), "", "the key written after the backup must be gone");
    }
    let members = stdout(&etcdctl(lab, &["member", "list", "-w", "json"]));
    let members: Value = serde_json::from_str(&members).unwrap();
    let members = members["members"].as_array().unwrap();
    assert_eq!(members.len(), 3, "{members:?}");
    assert!(members.iter().all(|m| m["name"].as_str().is_some_and(|n| !n.is_empty())), "all started: {members:?}");
    let health = etcdctl(lab, &["endpoint", "health"]);
    assert!(health.status.success(), "{}{}", stdout(&health), stderr(&health));
    for resource in ["etcd", "kubeapiserver", "kubecontrollermanager", "kubescheduler"] {
        let reason = kubectl_ok(
            lab,
            &[
                "get",
                resource,
                r#"-o=jsonpath={range .items[0].status.conditions[?(@.type=="NodeInstallerProgressing")]}{.reason}{"\n"}{.message}{"\n"}"#,
            ],
        );
        assert!(reason.starts_with("AllNodesAtLatestRevision"), "{resource}: {reason}");
    }
    let overrides = kubectl_ok(lab, &["get", "etcd", "cluster", "-o", "jsonpath={.spec.unsupportedConfigOverrides}"]);
    assert_eq!(overrides.trim(), "", "the quorum guard override must be gone");
    let csrs = kubectl_ok(lab, &["get", "csr"]);
    assert!(!csrs.lines().skip(1).any(|l| l.contains("Pending") && l.contains("node-bootstrapper")), "{csrs}");
}

async fn restore_lab() -> Lab {
    lab_scenario("restore", 300.0).await
}

/// The rehearsal's start: `/demo/old/0..4` written, cluster-backup.sh on master-0, then
/// `/demo/new/0..4` written and two old keys deleted. The backup's directory on the bastion.
async fn restore_lab_with_backup() -> (Lab, String) {
    let lab = restore_lab().await;
    write_keys(&lab, "/demo/old/", 5);
    let backup = backup_on(&lab, "master-0");
    write_keys(&lab, "/demo/new/", 5);
    assert!(etcdctl(&lab, &["del", "/demo/old/0"]).status.success());
    assert!(etcdctl(&lab, &["del", "/demo/old/1"]).status.success());
    let dir = backup.display().to_string();
    (lab, dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_brings_the_backups_keys_back_and_the_cluster_to_three_healthy_members() {
    let (lab, dir) = restore_lab_with_backup().await;
    let plan = console_restore(
        &lab,
        &["restore", "plan", "--backup", &dir, "--recovery-host", "master-0", "-o", "json"],
        Duration::from_secs(60),
    );
    let plan_line = lines(&plan).into_iter().find(|l| l["event"] == "plan").unwrap();
    let failing: Vec<&Value> = plan_line["gates"].as_array().unwrap().iter().filter(|g| g["passed"] != true).collect();
    assert!(failing.is_empty(), "{failing:?}");
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));

    let run = console_restore(
        &lab,
        &["restore", "run", "--backup", &dir, "--recovery-host", "master-0", "--yes", "--poll", "500ms", "-o", "json"],
        Duration::from_secs(600),
    );
    let end = outcome(&run);
    assert_eq!(run.status.code(), Some(0), "{end}\n{}\n{}", stdout(&run), stderr(&run));
    assert_eq!(end["outcome"]["outcome"], "completed");
    // The webhook that fails closed was set to Ignore during the restore and back to Fail after.
    let policy = kubectl_ok(
        &lab,
        &["get", "validatingwebhookconfiguration", "lab-policy", "-o", "jsonpath={.webhooks[0].failurePolicy}"],
    );
    assert_eq!(policy.trim(), "Fail");
    let steps: Vec<String> =
        lines(&run).iter().filter(|l| l["event"] == "step").map(|l| l["id"].as_str().unwrap().to_string()).collect();
    assert!(steps.iter().position(|s| s == "0") < steps.iter().position(|s| s == "4.1@master-1"), "{steps:?}");
    // Every forced redeployment carried its own recovery-<RFC 3339 ns> reason.
    let reasons: Vec<String> = lines(&run)
        .iter()
        .filter(|l| l["event"] == "step_ended" && l["redeployment_reason"].is_string())
        .map(|l| l["redeployment_reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(
        reasons.iter().all(|r| r.starts_with("recovery-") && r.contains('.') && r.ends_with("+00:00")),
        "{reasons:?}"
    );
    let mut unique = reasons.clone();
    unique.dedup();
    assert_eq!(unique.len(), 4);
    assert_restored(&lab);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_host_gets_a_new_machine_and_its_member_joins_the_restored_cluster() {
    let (lab, dir) = restore_lab_with_backup().await;
    // master-2 dies for good: its member is gone and it answers no ssh.
    let left_behind = lab.dir.join("hosts/master-2/home/core/left-behind");
    write(&left_behind, "from the old host\n");
    let mut lose = Command::new(console_bin());
    lose.args(["lab", "lose", "--dir"]).arg(&lab.dir).arg("master-2");
    let lost = run_with_limit(lose, Duration::from_secs(30));
    assert!(lost.status.success(), "{}", stderr(&lost));
    assert!(stdout(&lost).contains("--lost-host master-2"), "{}", stdout(&lost));
    let node_ready = || {
        kubectl_ok(
            &lab,
            &["get", "node", "master-2", "-o", r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#],
        )
        .trim()
        .to_string()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while node_ready() != "Unknown" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(node_ready(), "Unknown", "a lost host posts no node status");
    assert!(!host(&lab, "master-2", "true").status.success(), "a lost host answers no ssh");
    let health = etcdctl(&lab, &["endpoint", "health"]);
    assert!(!health.status.success(), "master-2's member must be down: {}", stdout(&health));
    let machines = || {
        kubectl_ok(
            &lab,
            &[
                "get",
                "machines",
                "-n",
                "openshift-machine-api",
                "-o",
                r#"jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.status.nodeRef.name}{"\n"}{end}"#,
            ],
        )
    };
    let before = machines();
    let lost_machine = before
        .lines()
        .find(|l| l.ends_with(" master-2"))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("{before}"))
        .to_string();

    let args = |verb: &'static str| {
        vec!["restore", verb, "--backup", &dir, "--recovery-host", "master-0", "--lost-host", "master-2"]
    };
    let mut plan_args = args("plan");
    plan_args.extend(["-o", "json"]);
    let plan = console_restore(&lab, &plan_args, Duration::from_secs(60));
    assert_eq!(plan.status.code(), Some(0), "{}{}", stdout(&plan), stderr(&plan));
    let plan_line = lines(&plan).into_iter().find(|l| l["event"] == "plan").unwrap();
    let planned = plan_line["steps"].as_array().unwrap();
    let ids: Vec<&str> = planned.iter().filter_map(|s| s["id"].as_str()).collect();
    assert!(ids.contains(&"15@master-2"), "{ids:?}");
    let on_its_shell: Vec<&Value> =
        planned.iter().filter(|s| s["node"] == "master-2" && s["place"] == "host").collect();
    assert!(on_its_shell.is_empty(), "no step on a lost host's shell: {on_its_shell:?}");
    assert!(planned.iter().any(|s| s["node"] == "master-1" && s["place"] == "host"), "{ids:?}");
    assert!(
        !ids.iter().any(|id| id.starts_with("4.") && id.ends_with("@master-2")),
        "no shell step on a lost host: {ids:?}"
    );

    let mut run_args = args("run");
    run_args.extend(["--yes", "--poll", "500ms", "-o", "json"]);
    let run = console_restore(&lab, &run_args, Duration::from_secs(600));
    let end = outcome(&run);
    assert_eq!(run.status.code(), Some(0), "{end}\n{}\n{}", stdout(&run), stderr(&run));
    assert_eq!(end["outcome"]["outcome"], "completed");

    // The lost host's Machine was deleted and a new one, Running, stands for master-2; the
    // host behind it is a new install whose member the etcd operator added.
    let after = machines();
    assert!(!after.lines().any(|l| l.starts_with(&format!("{lost_machine} "))), "{after}");
    assert!(after.lines().any(|l| l.ends_with(" Running master-2") && !l.starts_with(&lost_machine)), "{after}");
    assert!(!left_behind.exists(), "master-2 must be a new host");
    assert_eq!(node_ready(), "True");
    assert_restored(&lab);
}

/// Starts `restore run` and kills it (SIGKILL, as a crash) once it has begun step `at`.
fn kill_at(lab: &Lab, dir: &str, at: &str) {
    let command = restore_command(
        lab,
        &["restore", "run", "--backup", dir, "--recovery-host", "master-0", "--yes", "--poll", "500ms", "-o", "json"],
    );
    kill_when(command, at);
}

/// Starts `command`, its stdout's lines coming through the receiver as they are printed.
#[tokio::test(flavor = "multi_thread")]
async fn a_restore_killed_at_several_steps_resumes_where_it_was_and_ends_the_same() {
    let (lab, dir) = restore_lab_with_backup().await;
    // Inside the non-recovery hosts' stops, right after the restore script, and with the quorum guard off.
    for at in ["4.3@master-1", "8v", "18"] {
        kill_at(&lab, &dir, at);
        if at == "18" {
            // Left off with the guard off: the console's status shows the banner until it is back on.
            let status =
                console(&lab, &["status", "-o", "json", "--kubeconfig", &path_str(lab.kubeconfig.as_ref().unwrap())]);
            assert!(stdout(&status).contains("quorum guard"), "{}", stdout(&status));
        }
    }
    let run = console_restore(
        &lab,
        &["restore", "run", "--backup", &dir, "--recovery-host", "master-0", "--yes", "--poll", "500ms", "-o", "json"],
        Duration::from_secs(600),
    );
    let all = lines(&run);
    let resumed = all.iter().find(|l| l["event"] == "resuming").unwrap_or_else(|| panic!("{}", stdout(&run)));
    assert!(resumed["at"].as_str().unwrap().contains("18"), "{resumed}");
    assert_eq!(run.status.code(), Some(0), "{}\n{}", stdout(&run), stderr(&run));
    // The restore script ran once: a second run would have restored again over the re-added members.
    assert_restored(&lab);
}

/// SIGKILLed as each step of the plan begins (a host's part of a step counts as its step), one kill
/// per run, then run to its end: the cluster as an uninterrupted restore leaves it, the restore
/// script run once, and by the journal no step that ended done ever ran again.
#[tokio::test(flavor = "multi_thread")]
async fn a_restore_killed_as_each_step_begins_resumes_and_ends_the_same_each_step_done_once() {
    let (lab, dir) = restore_lab_with_backup().await;
    let run_args = ["restore", "run", "--backup", &dir, "--recovery-host", "master-0", "--yes", "--poll", "500ms"];
    let planned =
        restore_command(&lab, &["restore", "plan", "--backup", &dir, "--recovery-host", "master-0", "-o", "json"]);
    let planned = run_with_limit(planned, Duration::from_secs(60));
    let plan =
        lines(&planned).into_iter().find(|l| l["event"] == "plan").unwrap_or_else(|| panic!("{}", stderr(&planned)));
    let steps: Vec<String> =
        plan["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    let redo_safe: Vec<bool> = plan["steps"].as_array().unwrap().iter().map(|s| s["redo_safe"] == true).collect();
    let index = |id: &str| steps.iter().position(|s| s == id);
    let run_json = || {
        let mut args = run_args.to_vec();
        args.extend(["-o", "json"]);
        restore_command(&lab, &args)
    };
    let started = Instant::now();
    let (mut kills, mut looked) = (0, 0);
    let mut ended = None;
    let mut k = 0;
    while k < steps.len() {
        // The restore script's step is never killed on purpose: run again by itself it would move
        // the restored data aside, so an interrupted one stops for a person (below).
        // Nor the kubelets' re-bootstrap (9 to 11): a run resumed there can pass step 11 before the
        // restarted kubelets file their CSRs, which then stay Pending (a gap of the product's,
        // left for its own issue).
        let kubelets = ["9", "10", "11"].iter().any(|p| {
            steps[k].split('@').next() == Some(p) || steps[k] == format!("{p}a") || steps[k] == format!("{p}w")
        });
        if !redo_safe[k] || kubelets {
            k += 1;
            continue;
        }
        let killed = try_kill_after(run_json(), |l| {
            l["event"] == "step" && l["id"].as_str().and_then(index).is_some_and(|i| i >= k)
        });
        match killed {
            Ok(_) => {
                kills += 1;
                k += 1;
            }
            Err(seen) => {
                let end = seen.iter().find(|l| l["event"] == "outcome").cloned().unwrap_or_default();
                let reason = end["outcome"]["reason"].as_str().unwrap_or_default().to_string();
                if reason.contains("not safe to run again by itself") && looked < 3 {
                    // A kill landed inside the restore script's step (sent as a step begins, it
                    // lands when it lands) and cut the script short. As the message says: finish it
                    // by hand on its host (the plan's command), then run again with --mark-done.
                    assert!(reason.contains("--mark-done 8"), "{reason}");
                    let step = &plan["steps"][index("8").unwrap()];
                    let node = step["node"].as_str().unwrap();
                    for command in step["commands"].as_array().unwrap() {
                        let by_hand = host(&lab, node, command.as_str().unwrap());
                        assert!(by_hand.status.success(), "{}{}", stdout(&by_hand), stderr(&by_hand));
                    }
                    looked += 1;
                    let mut args = run_args.to_vec();
                    args.extend(["-o", "json", "--mark-done", "8"]);
                    let killed = try_kill_after(restore_command(&lab, &args), |l| {
                        l["event"] == "step" && l["id"].as_str().and_then(index).is_some_and(|i| i >= k)
                    });
                    match killed {
                        Ok(_) => {
                            kills += 1;
                            k += 1;
                            continue;
                        }
                        Err(seen) => {
                            ended = Some(seen);
                            break;
                        }
                    }
                }
                ended = Some(seen);
                break;
            }
        }
    }
    let seen = ended.unwrap_or_else(|| {
        let mut args = run_args.to_vec();
        args.extend(["-o", "json"]);
        let run = console_restore(&lab, &args, Duration::from_secs(600));
        assert_eq!(run.status.code(), Some(0), "{}\n{}", stdout(&run), stderr(&run));
        lines(&run)
    });
    let said: Vec<String> =
        seen.iter().map(|l| format!("{} {} {} {}", l["event"], l["id"], l["state"], l["outcome"])).collect();
    assert!(kills >= steps.len() / 2, "killed {kills} times for {} steps: {said:#?}", steps.len());
    assert!(seen.iter().any(|l| l["event"] == "resuming"), "{seen:?}");
    let end = seen.iter().find(|l| l["event"] == "outcome").unwrap_or_else(|| panic!("{seen:?}"));
    assert_eq!(end["outcome"]["outcome"], "completed", "{end}");
    // The restore script ran once: a second run would have restored again over the re-added members.
    assert_restored(&lab);
    // By the journal: the restore script's step, once done, never ran again (the steps safe to redo
    // may be re-checked and redone across kills; every step ended done or skipped).
    let records = kept_journal(&lab, "restore");
    let last = &records.last().unwrap()["run"];
    let ids: Vec<&str> = last["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, steps, "the journal holds the plan's steps");
    for (at, id) in ids.iter().enumerate() {
        let states: Vec<&str> = records.iter().filter_map(|r| r["run"]["records"][at]["state"].as_str()).collect();
        let end = states.last().copied().unwrap_or("");
        assert!(end == "done" || end == "skipped", "step {id} ended {end}: {states:?}");
        if !redo_safe[at] {
            let first_done = states.iter().position(|s| *s == "done").unwrap_or(states.len());
            assert!(states[first_done..].iter().all(|s| *s == "done"), "step {id} ran again once done: {states:?}");
        }
    }
    eprintln!("restore killed as each of {} steps began: {:.1}s", steps.len(), started.elapsed().as_secs_f64());
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn each_gate_refuses_on_its_own_and_nothing_changes() {
    let lab = restore_lab().await;
    write_keys(&lab, "/demo/old/", 2);
    let backup = backup_on(&lab, "master-0");
    let ts = std::fs::read_dir(&backup)
        .unwrap()
        .flatten()
        .find_map(|e| {
            e.file_name().to_string_lossy().strip_prefix("snapshot_").map(|s| s.trim_end_matches(".db").to_string())
        })
        .unwrap();
    let dir = backup.display().to_string();
    let plan = |extra: &[&str]| {
        let mut args = vec!["restore", "plan", "--backup", &dir, "--recovery-host", "master-0", "-o", "json"];
        args.extend_from_slice(extra);
        let output = console_restore(&lab, &args, Duration::from_secs(60));
        let plan =
            lines(&output).into_iter().find(|l| l["event"] == "plan").unwrap_or_else(|| panic!("{}", stderr(&output)));
        let failing: Vec<String> = plan["gates"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["passed"] != true)
            .map(|g| format!("{}: {}", g["id"].as_str().unwrap(), g["detail"].as_str().unwrap()))
            .collect();
        (output.status.code(), failing)
    };
    assert_eq!(plan(&[]), (Some(0), vec![]));

    // Our backup metadata says another cluster, then another z-stream.
    let metadata = backup.join(format!("backup_{ts}.json"));
    write(&metadata, r#"{"openshift": {"cluster_id": "00000000-other", "cluster_version": "4.14.8"}}"#);
    let (code, failing) = plan(&[]);
    assert_eq!(code, Some(1));
    assert_eq!(failing.len(), 1, "{failing:?}");
    assert!(failing[0].starts_with("same_cluster: the backup is of cluster 00000000-other"), "{failing:?}");
    let id =
        kubectl_ok(&lab, &["get", "clusterversion", "version", "-o", "jsonpath={.spec.clusterID}"]).trim().to_string();
    write(&metadata, &format!(r#"{{"openshift": {{"cluster_id": "{id}", "cluster_version": "4.14.7"}}}}"#));
    let (_, failing) = plan(&[]);
    assert_eq!(failing.len(), 1, "{failing:?}");
    assert!(failing[0].starts_with("same_z_stream: the backup was taken on 4.14.7"), "{failing:?}");
    std::fs::remove_file(&metadata).unwrap();

    // A corrupt snapshot.
    let snapshot = backup.join(format!("snapshot_{ts}.db"));
    let good = std::fs::read(&snapshot).unwrap();
    let mut bad = good.clone();
    for b in bad.iter_mut().skip(4096).take(64) {
        *b ^= 0x5a;
    }
    std::fs::write(&snapshot, &bad).unwrap();
    let (_, failing) = plan(&[]);
    assert!(failing.iter().any(|f| f.starts_with("snapshot_verified")), "{failing:?}");
    std::fs::write(&snapshot, &good).unwrap();

    // Static resources of another backup.
    let resources = backup.join(format!("static_kuberesources_{ts}.tar.gz"));
    let elsewhere = backup.join("static_kuberesources_2020-01-01_000000.tar.gz");
    std::fs::rename(&resources, &elsewhere).unwrap();
    let (_, failing) = plan(&[]);
    assert_eq!(failing.len(), 1, "{failing:?}");
    assert!(failing[0].starts_with("backup_files: the static resources there"), "{failing:?}");
    std::fs::rename(&elsewhere, &resources).unwrap();

    // An unreachable host; declared lost, it passes (its Machine would be made again).
    write(&lab.dir.join("hosts/master-2/.unreachable"), "");
    let (_, failing) = plan(&[]);
    assert_eq!(failing.len(), 1, "{failing:?}");
    assert!(failing[0].starts_with("hosts_reachable: master-2 cannot be reached"), "{failing:?}");
    assert!(failing[0].contains("--lost-host master-2"));
    // Its node is still Ready: declared lost, it is refused unless forced with a reason.
    let (_, failing) = plan(&["--lost-host", "master-2"]);
    assert_eq!(failing.len(), 1, "{failing:?}");
    assert!(failing[0].contains("master-2 is declared lost but its node is Ready"), "{failing:?}");
    assert_eq!(plan(&["--lost-host", "master-2", "--force-lost", "cut off for good"]).1, Vec::<String>::new());

    // run refuses with the same gate, and nothing has changed: the three members, the manifests.
    let run = console_restore(
        &lab,
        &["restore", "run", "--backup", &dir, "--recovery-host", "master-0", "--yes", "-o", "json"],
        Duration::from_secs(60),
    );
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(outcome(&run)["outcome"]["outcome"], "refused");
    std::fs::remove_file(lab.dir.join("hosts/master-2/.unreachable")).unwrap();
    assert!(etcdctl(&lab, &["endpoint", "health"]).status.success());
    for node in ["master-1", "master-2"] {
        assert!(lab.dir.join("hosts").join(node).join("etc/kubernetes/manifests/etcd-pod.yaml").exists());
    }
    assert!(!lab.dir.join("hosts/master-0/home/core/assets/backup").exists(), "not even the copy was made");

    // The token user (OAuth-like) is refused: a restore needs the certificate-based kubeconfig.
    let token = restore_command_as(
        &lab,
        "lab",
        &["restore", "plan", "--backup", &dir, "--recovery-host", "master-0", "-o", "json"],
    );
    let output = run_with_limit(token, Duration::from_secs(60));
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("certificate_kubeconfig"), "{}", stdout(&output));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hosted_procedure_restores_every_member_through_the_management_api_and_resumes_reconciliation() {
    let (lab, dir) = hosted_lab_with_backup().await;
    let volumes_before = hosted_volumes(&lab);
    let output = run_with_limit(hosted_command(&lab, &dir, &["restore", "plan"]), Duration::from_secs(60));
    let plan =
        lines(&output).into_iter().find(|l| l["event"] == "plan").unwrap_or_else(|| panic!("{}", stderr(&output)));
    let steps = plan["steps"].as_array().unwrap();
    assert_eq!(steps[0]["act"]["type"], "pause_reconciliation");
    assert_eq!(steps[0]["point_of_no_return"], true);
    assert_eq!(steps.last().unwrap()["act"]["type"], "pause_reconciliation");
    assert!(steps.iter().all(|s| s["place"] != "host"));
    let ids: Vec<&str> = steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    for id in ["3.1", "3.4@data-etcd-0", "3.4@data-etcd-1", "3.4@data-etcd-2", "3.7", "3.8"] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    // member 1's restore names it as etcd lists it, with the lab's peer URLs and HyperShift's token.
    let restore_1 = steps.iter().find(|s| s["id"] == "3.4@data-etcd-1").unwrap();
    let shown = restore_1["commands"].as_array().unwrap().last().unwrap().as_str().unwrap();
    assert!(shown.contains("--name master-1") && shown.contains("--initial-cluster-token=etcd-cluster"), "{shown}");
    assert!(shown.contains(&format!("--initial-advertise-peer-urls {}", lab.members[1].peer_url)), "{shown}");
    let gates: Vec<&str> = plan["gates"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap()).collect();
    for gate in ["retention_policy", "hosted_cluster", "reconciliation", "etcd_members"] {
        assert!(gates.contains(&gate), "{gates:?}");
    }
    let failing: Vec<&Value> = plan["gates"].as_array().unwrap().iter().filter(|g| g["passed"] != true).collect();
    assert!(failing.is_empty(), "the snapshot's ClusterVersion is the hosted cluster's: {failing:?}");
    assert_eq!(output.status.code(), Some(0));

    let run = run_with_limit(
        hosted_command(&lab, &dir, &["restore", "run", "--yes", "--poll", "1s"]),
        Duration::from_secs(600),
    );
    assert_eq!(run.status.code(), Some(0), "{}{}", stdout(&run), stderr(&run));
    assert_eq!(outcome(&run)["outcome"]["outcome"], "completed");
    let agreed = lines(&run)
        .into_iter()
        .find(|l| l["event"] == "step_ended" && l["id"] == "3.8")
        .unwrap_or_else(|| panic!("{}", stdout(&run)));
    assert!(agreed.to_string().contains("one hash"), "{agreed}");
    assert_hosted_restored(&lab, &volumes_before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hosted_restore_killed_in_the_middle_resumes_where_it_was_and_ends_the_same() {
    let (lab, dir) = hosted_lab_with_backup().await;
    let volumes_before = hosted_volumes(&lab);
    // Member 1's data being replaced, then etcd being scaled back up.
    for at in ["3.4@data-etcd-1", "3.7"] {
        kill_when(hosted_command(&lab, &dir, &["restore", "run", "--yes", "--poll", "1s"]), at);
    }
    // Left off: the hosted cluster is paused, its API servers down.
    let paused =
        kubectl_ok(&lab, &["get", "hostedcluster", "-n", "clusters", "hosted", "-o", "jsonpath={.spec.pausedUntil}"]);
    assert_eq!(paused.trim(), "true");
    let run = run_with_limit(
        hosted_command(&lab, &dir, &["restore", "run", "--yes", "--poll", "1s"]),
        Duration::from_secs(600),
    );
    let all = lines(&run);
    let resumed = all.iter().find(|l| l["event"] == "resuming").unwrap_or_else(|| panic!("{}", stdout(&run)));
    assert!(resumed["at"].as_str().unwrap().contains("3.7"), "{resumed}");
    assert_eq!(run.status.code(), Some(0), "{}\n{}", stdout(&run), stderr(&run));
    assert_hosted_restored(&lab, &volumes_before);
}

/// The files in a directory, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn of_several_backups_in_the_directory_the_newest_good_one_is_restored_and_only_its_files_are_copied() {
    use std::os::unix::fs::PermissionsExt;
    let lab = restore_lab().await;
    write_keys(&lab, "/demo/old/", 5);
    let dir = backup_on(&lab, "master-0");
    let first = names_in(&dir);
    // The second backup, of a later second (cluster-backup.sh names them to the second).
    std::thread::sleep(Duration::from_millis(1100));
    write_keys(&lab, "/demo/mid/", 3);
    backup_on(&lab, "master-0");
    let both = names_in(&dir);
    assert_eq!(both.len(), 4, "two backups side by side, as `backup --keep` leaves them: {both:?}");
    let newest: Vec<String> = both.iter().filter(|n| !first.contains(n)).cloned().collect();
    let stamp = newest[0].trim_start_matches("snapshot_").trim_end_matches(".db").to_string();
    let stamp = stamp.trim_start_matches("static_kuberesources_").trim_end_matches(".tar.gz").to_string();
    for name in &newest {
        let mode = std::fs::metadata(dir.join(name)).unwrap().permissions().mode() & 0o777;
        if name.starts_with("static_kuberesources_") {
            assert_eq!(mode, 0o600, "cluster-backup.sh writes the archive (the encryption configuration) 0600");
        }
    }
    // A newer one, incomplete: a snapshot without its static resources.
    std::fs::copy(dir.join(format!("snapshot_{stamp}.db")), dir.join("snapshot_2099-01-01_000000.db")).unwrap();
    write_keys(&lab, "/demo/new/", 5);
    let path = dir.display().to_string();

    let plan = console_restore(
        &lab,
        &["restore", "plan", "--backup", &path, "--recovery-host", "master-0", "-o", "json"],
        Duration::from_secs(60),
    );
    assert_eq!(plan.status.code(), Some(0), "{}{}", stdout(&plan), stderr(&plan));
    let plan_line = lines(&plan).into_iter().find(|l| l["event"] == "plan").unwrap();
    assert_eq!(plan_line["backup"]["timestamp"], stamp.as_str(), "{}", plan_line["backup"]);
    let passed = &plan_line["backup"]["passed_over"];
    assert_eq!(passed[0]["timestamp"], "2099-01-01_000000", "{passed}");
    assert!(
        passed[0]["why"].as_str().unwrap().contains("no static_kuberesources_2099-01-01_000000.tar.gz"),
        "{passed}"
    );
    let gate = plan_line["gates"].as_array().unwrap().iter().find(|g| g["id"] == "backup_files").unwrap().clone();
    assert!(gate["detail"].as_str().unwrap().contains("as secret as the encryption keys"), "{gate}");
    // The readable plan says which backup and why.
    let text = console_restore(
        &lab,
        &["restore", "plan", "--backup", &path, "--recovery-host", "master-0"],
        Duration::from_secs(60),
    );
    let said = stdout(&text);
    assert!(said.contains(&format!("backup {stamp}: the newest complete, clean backup of this cluster")), "{said}");
    assert!(said.contains("passed over 2099-01-01_000000: incomplete"), "{said}");

    // A timestamp that is not there is refused, naming the ones that are.
    let wrong = console_restore(
        &lab,
        &["restore", "plan", "--backup", &path, "--recovery-host", "master-0", "--timestamp", "2000-01-01_000000"],
        Duration::from_secs(60),
    );
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        stdout(&wrong).contains(&format!("--timestamp 2000-01-01_000000: no such backup in {path}")),
        "{}",
        stdout(&wrong)
    );
    assert!(stdout(&wrong).contains(&stamp), "{}", stdout(&wrong));

    let run = console_restore(
        &lab,
        &["restore", "run", "--backup", &path, "--recovery-host", "master-0", "--yes", "--poll", "500ms", "-o", "json"],
        Duration::from_secs(600),
    );
    let end = outcome(&run);
    assert_eq!(run.status.code(), Some(0), "{end}\n{}\n{}", stdout(&run), stderr(&run));
    // Only the chosen backup's files went to the recovery host, the archive 0600 there too.
    let remote = lab.dir.join("hosts/master-0/home/core/assets/backup");
    assert_eq!(names_in(&remote), newest, "only the newest backup's files");
    let mode =
        std::fs::metadata(remote.join(format!("static_kuberesources_{stamp}.tar.gz"))).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // The data is the newest backup's: the keys written between the two are back, the later ones gone.
    for i in 0..3 {
        assert_eq!(get(&lab, &format!("/demo/mid/{i}")), format!("value-{i}"), "a key of the newest backup");
    }
    assert_restored(&lab);
}

/// Starts `command` (a `restore run -o json`), stops it as Ctrl-C does once step `at` has begun, and
/// gives its outcome line.
fn interrupt_when(command: Command, at: &str) -> Value {
    let (mut child, rx) = spawn_with_lines(command);
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut interrupted = false;
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) else { continue };
        let value: Value = serde_json::from_str(&line).unwrap_or_default();
        if value["event"] == "step" && value["id"] == at && !interrupted {
            let sent = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
            assert!(sent.success());
            interrupted = true;
        }
        if value["event"] == "outcome" {
            let _ = child.wait();
            assert!(interrupted, "the run ended before step {at}: {line}");
            return value;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("no outcome after step {at}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_hosted_restore_says_how_to_resume_and_abort_brings_the_cluster_back_until_data_is_touched() {
    let (lab, dir) = hosted_lab_with_backup().await;
    let volumes_before = hosted_volumes(&lab);
    // Stopped (Ctrl-C) while the snapshot is copied into member 0's data pod: paused, the API at 0, etcd at 0.
    let end =
        interrupt_when(hosted_command(&lab, &dir, &["restore", "run", "--yes", "--poll", "1s"]), "3.3@data-etcd-0");
    assert_eq!(end["outcome"]["outcome"], "stopped", "{end}");
    let resume = end["resume_command"].as_str().unwrap_or_else(|| panic!("{end}"));
    assert!(resume.contains("restore run") && resume.contains("--hosted-cluster clusters/hosted"), "{resume}");
    assert!(resume.contains(&format!("--backup {}", dir.display())), "{resume}");
    let abort = end["abort_command"].as_str().unwrap_or_else(|| panic!("{end}"));
    assert!(abort.contains("restore abort") && abort.contains("--hosted-cluster clusters/hosted"), "{abort}");
    assert!(end["message"].as_str().unwrap().contains(&format!("to resume: {resume}")), "{end}");
    let paused = || {
        kubectl_ok(&lab, &["get", "hostedcluster", "-n", "clusters", "hosted", "-o", "jsonpath={.spec.pausedUntil}"])
    };
    assert_eq!(paused().trim(), "true");

    // `restore abort`: the writers and reconciliation back, the data as it was (the later keys still there).
    let aborted = run_with_limit(
        hosted_command(&lab, &dir, &["restore", "abort", "--yes", "--poll", "1s"]),
        Duration::from_secs(600),
    );
    assert_eq!(aborted.status.code(), Some(0), "{}{}", stdout(&aborted), stderr(&aborted));
    let done = outcome(&aborted);
    assert_eq!(done["aborted"], true, "{done}");
    assert!(done["message"].as_str().unwrap().starts_with("aborted:"), "{done}");
    assert_eq!(paused().trim(), "");
    for writer in ["kube-apiserver", "openshift-apiserver", "openshift-oauth-apiserver"] {
        let ready = kubectl_ok(
            &lab,
            &["get", "deployment", "-n", "clusters-hosted", writer, "-o", "jsonpath={.status.readyReplicas}"],
        );
        assert_eq!(ready.trim(), "3", "{writer}");
    }
    let deployments = kubectl_ok(&lab, &["get", "deployments", "-n", "clusters-hosted", "-o", "name"]);
    assert!(!deployments.contains("etcd-data"), "{deployments}");
    let keys = stdout(&etcdctl(&lab, &["get", "--prefix", "", "--keys-only"]));
    assert!(keys.contains("after-4") && !keys.contains("before-0"), "nothing restored: {keys}");

    // Once a member's data is touched, abort refuses and says to resume; the resumed run restores,
    // and every claim keeps its data from before, set aside.
    kill_when(hosted_command(&lab, &dir, &["restore", "run", "--yes", "--poll", "1s"]), "3.4@data-etcd-0");
    let refused = run_with_limit(
        hosted_command(&lab, &dir, &["restore", "abort", "--yes", "--poll", "1s"]),
        Duration::from_secs(120),
    );
    assert_eq!(refused.status.code(), Some(1), "{}{}", stdout(&refused), stderr(&refused));
    let said = format!("{}{}", stdout(&refused), stderr(&refused));
    assert!(said.contains("resume the restore instead") && said.contains("restore run"), "{said}");
    assert_eq!(paused().trim(), "true", "a refused abort changes nothing");
    let run = run_with_limit(
        hosted_command(&lab, &dir, &["restore", "run", "--yes", "--poll", "1s"]),
        Duration::from_secs(600),
    );
    assert_eq!(run.status.code(), Some(0), "{}{}", stdout(&run), stderr(&run));
    assert_hosted_restored(&lab, &volumes_before);
    for member in 0..3 {
        let claim = lab.dir.join(format!("hosts/master-{member}/var/lib"));
        let aside: Vec<String> =
            names_in(&claim).into_iter().filter(|n| n.starts_with("data.before-restore-")).collect();
        assert_eq!(aside.len(), 1, "member {member}: {:?}", names_in(&claim));
        assert!(claim.join(&aside[0]).join("member").is_dir(), "member {member}'s data from before, kept");
    }
}

/// `kubectl get validatingwebhookconfiguration NAME -o jsonpath=...` of its first webhook's failurePolicy.
fn failure_policy(lab: &Lab, name: &str) -> String {
    kubectl_ok(lab, &["get", "validatingwebhookconfiguration", name, "-o", "jsonpath={.webhooks[0].failurePolicy}"])
        .trim()
        .to_string()
}

fn restore_run_args<'a>(dir: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "restore",
        "run",
        "--backup",
        dir,
        "--recovery-host",
        "master-0",
        "--yes",
        "--poll",
        "500ms",
        "-o",
        "json",
    ];
    args.extend_from_slice(extra);
    args
}

fn plan_json(lab: &Lab, dir: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["restore", "plan", "--backup", dir, "--recovery-host", "master-0", "-o", "json"];
    args.extend_from_slice(extra);
    let output = console_restore(lab, &args, Duration::from_secs(90));
    let plan = lines(&output)
        .into_iter()
        .find(|l| l["event"] == "plan")
        .unwrap_or_else(|| panic!("{}{}", stdout(&output), stderr(&output)));
    (output.status.code(), plan)
}

fn gate(plan: &Value, id: &str) -> (bool, String) {
    let gate = plan["gates"].as_array().unwrap().iter().find(|g| g["id"] == id).unwrap_or_else(|| panic!("{plan}"));
    (gate["passed"] == true, gate["detail"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_set_to_ignore_are_set_back_to_fail_when_the_run_stops_before_the_point_of_no_return() {
    let lab = restore_lab().await;
    let backup = backup_on(&lab, "master-0");
    let dir = backup.display().to_string();
    assert_eq!(failure_policy(&lab, "lab-policy"), "Fail");
    // Another backup is already on the recovery host: step 3 refuses to copy beside it, after step 0.
    let remote = lab.dir.join("hosts/master-0/home/core/assets/backup");
    std::fs::create_dir_all(&remote).unwrap();
    write(&remote.join("snapshot_2020-01-01_000000.db"), "someone else's\n");
    let run = console_restore(&lab, &restore_run_args(&dir, &[]), Duration::from_secs(120));
    let end = outcome(&run);
    assert_eq!(run.status.code(), Some(1), "{end}\n{}", stdout(&run));
    assert_eq!(end["outcome"]["outcome"], "stopped", "{end}");
    assert_eq!(end["outcome"]["step"], "3", "{end}");
    let steps: Vec<String> =
        lines(&run).iter().filter(|l| l["event"] == "step").map(|l| l["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(steps.first().map(String::as_str), Some("0"), "step 0 set it to Ignore first: {steps:?}");
    // Set back, and said so.
    assert_eq!(failure_policy(&lab, "lab-policy"), "Fail");
    let message = end["message"].as_str().unwrap();
    assert!(
        message.contains("set back to failurePolicy Fail: validatingwebhookconfiguration/lab-policy[0]"),
        "{message}"
    );
    let annotations = kubectl_ok(
        &lab,
        &["get", "validatingwebhookconfiguration", "lab-policy", "-o", "jsonpath={.metadata.annotations}"],
    );
    assert!(!annotations.contains("etcd-console"), "nothing of the run is left on it: {annotations}");
    // Nothing past the point of no return: every member runs as before.
    assert!(etcdctl(&lab, &["endpoint", "health"]).status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fail_webhook_back_with_the_backup_that_the_run_never_surveyed_does_not_stop_step_12_3() {
    let (lab, dir) = restore_lab_with_backup().await;
    kill_at(&lab, &dir, "9");
    // As the restored data may hold one: a configuration deleted after the backup was taken.
    let file = lab.dir.join("restored-webhook.json");
    let restored = serde_json::json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "lab-restored"},
        "webhooks": [{
            "name": "restored.lab.io",
            "admissionReviewVersions": ["v1"],
            "clientConfig": {"service": {"namespace": "lab-restored", "name": "webhook", "path": "/validate"}},
            "failurePolicy": "Fail",
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}],
            "sideEffects": "None",
        }],
    });
    write(&file, &restored.to_string());
    kubectl_ok(&lab, &["create", "-f", &path_str(&file)]);
    let run = console_restore(&lab, &restore_run_args(&dir, &[]), Duration::from_secs(600));
    let end = outcome(&run);
    assert_eq!(run.status.code(), Some(0), "{end}\n{}\n{}", stdout(&run), stderr(&run));
    let checked = lines(&run)
        .into_iter()
        .find(|l| l["event"] == "step_ended" && l["id"] == "12.3")
        .unwrap_or_else(|| panic!("{}", stdout(&run)));
    let detail = checked["detail"].as_str().unwrap();
    assert!(detail.contains("validatingwebhookconfiguration/lab-policy[0] Ignore"), "{detail}");
    assert!(detail.contains("validatingwebhookconfiguration/lab-restored[0]"), "named, not waited for: {detail}");
    assert_eq!(failure_policy(&lab, "lab-policy"), "Fail", "back to Fail at the end");
    assert_eq!(failure_policy(&lab, "lab-restored"), "Fail", "not the run's: left as it is");
    assert_restored(&lab);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_host_declared_lost_is_refused_unless_forced_with_a_reason() {
    let lab = restore_lab().await;
    let backup = backup_on(&lab, "master-0");
    let dir = backup.display().to_string();
    let (code, plan) = plan_json(&lab, &dir, &["--lost-host", "master-2"]);
    assert_eq!(code, Some(1), "{plan}");
    let (passed, detail) = gate(&plan, "hosts_reachable");
    assert!(!passed);
    assert!(detail.contains("master-2 is declared lost but its node is Ready and a shell answers on it"), "{detail}");
    assert!(detail.contains("--force-lost"), "{detail}");
    // run refuses the same, and the Machine is still there.
    let run = console_restore(&lab, &restore_run_args(&dir, &["--lost-host", "master-2"]), Duration::from_secs(90));
    assert_eq!(run.status.code(), Some(1), "{}", stdout(&run));
    assert_eq!(outcome(&run)["outcome"]["outcome"], "refused");
    let machines = kubectl_ok(&lab, &["get", "machines", "-n", "openshift-machine-api", "-o", "name"]);
    assert!(machines.contains("master-2"), "{machines}");
    // A reason is needed to force it, and is said in the plan.
    let output = console_restore(
        &lab,
        &[
            "restore",
            "plan",
            "--backup",
            &dir,
            "--recovery-host",
            "master-0",
            "--lost-host",
            "master-2",
            "--force-lost",
            " ",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(output.status.code(), Some(2), "{}{}", stdout(&output), stderr(&output));
    assert!(stderr(&output).contains("--force-lost needs a reason"), "{}", stderr(&output));
    let (code, plan) =
        plan_json(&lab, &dir, &["--lost-host", "master-2", "--force-lost", "its disk is failing, replace it"]);
    assert_eq!(code, Some(0), "{plan}");
    let (passed, detail) = gate(&plan, "hosts_reachable");
    assert!(passed, "{detail}");
    assert!(detail.contains("master-2 declared lost although its node is Ready and a shell answers on it: forced (its disk is failing, replace it)"), "{detail}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_recovery_host_needs_sudo_without_a_password_an_executable_restore_script_and_its_own_name() {
    let lab = restore_lab().await;
    let backup = backup_on(&lab, "master-0");
    let dir = backup.display().to_string();
    let (code, plan) = plan_json(&lab, &dir, &[]);
    assert_eq!(code, Some(0), "{plan}");
    let (_, detail) = gate(&plan, "recovery_host");
    assert!(detail.contains("sudo -n true answers"), "{detail}");
    assert!(detail.contains("/usr/local/bin/cluster-restore.sh is executable"), "{detail}");
    assert!(detail.contains("hostname says master-0"), "{detail}");

    let script = lab.dir.join("hosts/master-0/usr/local/bin/cluster-restore.sh");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, plan) = plan_json(&lab, &dir, &[]);
    assert_eq!(code, Some(1));
    let (passed, detail) = gate(&plan, "recovery_host");
    assert!(!passed && detail.contains("/usr/local/bin/cluster-restore.sh is not there or not executable"), "{detail}");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

    let hostname = lab.dir.join("hosts/master-0/etc/hostname");
    write(&hostname, "master-1\n");
    let (code, plan) = plan_json(&lab, &dir, &[]);
    assert_eq!(code, Some(1));
    let (passed, detail) = gate(&plan, "recovery_host");
    assert!(!passed && detail.contains("hostname says master-1, not master-0"), "{detail}");
    write(&hostname, "master-0\n");

    write(&lab.dir.join("hosts/master-0").join(etcd_console_lab::hosts::SUDO_NEEDS_PASSWORD), "");
    let (code, plan) = plan_json(&lab, &dir, &[]);
    assert_eq!(code, Some(1));
    let (passed, detail) = gate(&plan, "recovery_host");
    assert!(!passed && detail.contains("sudo -n true: sudo: a password is required"), "{detail}");
    // Nothing was done: the backup was not even copied.
    assert!(!lab.dir.join("hosts/master-0/home/core/assets/backup").exists());
}

/// The PEM files in a host's /var/lib/kubelet/pki.
fn kubelet_pems(lab: &Lab, node: &str) -> Vec<String> {
    names_in(&lab.dir.join("hosts").join(node).join("var/lib/kubelet/pki"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_without_a_shell_is_refused_before_the_point_of_no_return_and_nothing_changes() {
    let lab = restore_lab().await;
    let backup = backup_on(&lab, "master-0");
    let dir = backup.display().to_string();
    let (code, plan) = plan_json(&lab, &dir, &[]);
    assert_eq!(code, Some(0), "{plan}");
    assert_eq!(gate(&plan, "workers_reachable"), (true, "worker-0, worker-1".to_string()));
    let steps: Vec<&str> = plan["steps"].as_array().unwrap().iter().filter_map(|s| s["id"].as_str()).collect();
    assert!(steps.contains(&"10w"), "{steps:?}");

    write(&lab.dir.join("hosts/worker-1/.unreachable"), "");
    let (code, plan) = plan_json(&lab, &dir, &[]);
    assert_eq!(code, Some(1), "{plan}");
    let failing: Vec<&Value> = plan["gates"].as_array().unwrap().iter().filter(|g| g["passed"] != true).collect();
    assert_eq!(failing.len(), 1, "{failing:?}");
    let (passed, detail) = gate(&plan, "workers_reachable");
    assert!(!passed);
    assert!(
        detail.starts_with("worker-1 cannot be reached (ssh: connect to host 127.0.0.22 port 22: Connection refused)"),
        "{detail}"
    );
    assert!(!detail.contains("worker-0"), "{detail}");
    for what in ["step 9a", "step 10w", "--ssh-key", "--manual-hosts"] {
        assert!(detail.contains(what), "{what}: {detail}");
    }
    // run refuses with it, and nothing changed: no step began, not even step 0's webhook patch.
    let run = console_restore(&lab, &restore_run_args(&dir, &[]), Duration::from_secs(90));
    assert_eq!(run.status.code(), Some(1), "{}", stdout(&run));
    let end = outcome(&run);
    assert_eq!(end["outcome"]["outcome"], "refused", "{end}");
    assert!(end["message"].as_str().unwrap().contains("workers_reachable: worker-1"), "{end}");
    assert!(!lines(&run).iter().any(|l| l["event"] == "step"), "{}", stdout(&run));
    assert_eq!(failure_policy(&lab, "lab-policy"), "Fail");
    assert!(etcdctl(&lab, &["endpoint", "health"]).status.success());
    for node in ["master-1", "master-2"] {
        assert!(lab.dir.join("hosts").join(node).join("etc/kubernetes/manifests/etcd-pod.yaml").exists());
    }
    assert!(!lab.dir.join("hosts/master-0/home/core/assets/backup").exists(), "not even the copy was made");
    assert_eq!(kubelet_pems(&lab, "worker-1").len(), 4);
    // With --manual-hosts the person runs the host commands: the gate says so and passes.
    let (code, plan) = plan_json(&lab, &dir, &["--manual-hosts"]);
    assert_eq!(code, Some(0), "{plan}");
    let (passed, detail) = gate(&plan, "workers_reachable");
    assert!(passed && detail.contains("you run the commands of steps 9a and 10w"), "{detail}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_left_not_ready_gets_its_pems_deleted_and_its_kubelet_restarted_and_comes_back() {
    // The restore scenario with worker-1's kubelet NotReady from the start.
    let scenarios = tempfile::tempdir().unwrap();
    let scenario = scenarios.path().join("restore-worker-not-ready.toml");
    write(
        &scenario,
        "description = \"restore, worker-1 NotReady\"\n[cluster]\nworkers = 2\nfail_webhooks = 1\nnot_ready = [\"worker-1\"]\n",
    );
    let lab = lab_scenario(&path_str(&scenario), 300.0).await;
    write_keys(&lab, "/demo/old/", 5);
    let backup = backup_on(&lab, "master-0");
    write_keys(&lab, "/demo/new/", 5);
    assert!(etcdctl(&lab, &["del", "/demo/old/0"]).status.success());
    assert!(etcdctl(&lab, &["del", "/demo/old/1"]).status.success());
    let dir = backup.display().to_string();
    let node_ready = |node: &str| {
        kubectl_ok(&lab, &["get", "node", node, "-o", r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#])
            .trim()
            .to_string()
    };
    assert_eq!(node_ready("worker-1"), "Unknown");

    // Step 9 waits 5 s, not 10 minutes, before handing the NotReady nodes to 9a.
    let run = console_restore(&lab, &restore_run_args(&dir, &["--nodes-ready-wait", "5s"]), Duration::from_secs(600));
    let end = outcome(&run);
    assert_eq!(run.status.code(), Some(0), "{end}\n{}\n{}", stdout(&run), stderr(&run));
    let all = lines(&run);
    let ended = |id: &str| {
        all.iter()
            .find(|l| l["event"] == "step_ended" && l["id"] == id)
            .unwrap_or_else(|| panic!("step {id} did not end: {}", stdout(&run)))
            .clone()
    };
    let cleared = ended("9a");
    assert_eq!(cleared["state"], "done", "{cleared}");
    assert!(cleared["detail"].as_str().unwrap().contains("worker-1: done"), "{cleared}");
    let restarted = ended("10w");
    assert_eq!(restarted["state"], "done", "{restarted}");
    let detail = restarted["detail"].as_str().unwrap();
    assert!(detail.starts_with("worker-1: done"), "{detail}");
    assert!(detail.contains("worker-1 asks for a client certificate") || detail.contains("worker-1 Ready"), "{detail}");
    let ids: Vec<&str> = all.iter().filter(|l| l["event"] == "step").filter_map(|l| l["id"].as_str()).collect();
    let at = |id: &str| ids.iter().position(|i| *i == id).unwrap_or_else(|| panic!("{id} not in {ids:?}"));
    assert!(at("10@master-2") < at("10w") && at("10w") < at("11"), "{ids:?}");
    // 9a touched worker-1 alone; its kubelet came back with a new certificate, approved in step 11.
    assert_eq!(kubelet_pems(&lab, "worker-1"), Vec::<String>::new());
    assert_eq!(kubelet_pems(&lab, "worker-0").len(), 4);
    assert_eq!(node_ready("worker-1"), "True");
    assert_restored(&lab);
}
