//! `etcd-console member plan | replace` rehearsed in the lab: real etcd
//! members behind each control-plane host, the simulated API's operators
//! (the etcd operator adding a member back as a learner, the machine API
//! replacing a Machine). etcdctl and kubectl referee the end state; each gate
//! is shown to refuse and to leave the cluster as it was.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;
use etcd_console_lab::Lab;
use serde_json::Value;

/// `etcd-console ARGS` as an SRE runs it after `source lab.env`, as `context`.
fn member_command_as(lab: &Lab, context: &str, args: &[&str]) -> Command {
    let mut command = sre_command(lab, context, args);
    command.arg("--backup-dir").arg(lab.dir.join("backups"));
    command
}

fn member_command(lab: &Lab, args: &[&str]) -> Command {
    member_command_as(lab, "lab-admin-cert", args)
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

fn plan(output: &Output) -> Value {
    lines(output)
        .into_iter()
        .find(|l| l["event"] == "plan")
        .unwrap_or_else(|| panic!("no plan line:\n{}\n{}", stdout(output), stderr(output)))
}

fn gate<'a>(plan: &'a Value, id: &str) -> &'a Value {
    plan["gates"].as_array().unwrap().iter().find(|g| g["id"] == id).unwrap_or_else(|| panic!("no gate {id}: {plan}"))
}

/// `etcdctl member list -w json`: (name, id, is learner) of each member.
fn member_list(lab: &Lab) -> Vec<(String, u64, bool)> {
    // Asked of a running member. etcdctl 3.5 lists members only with a quorum (a linearizable
    // MemberList); without one, 3.4's (Debian's) reads the member's own list, the referee here.
    let running = lab.members.iter().find(|m| m.pid().is_some()).map(|m| m.client_url.clone()).unwrap();
    let mut out = etcdctl_at(lab, &running, &["member", "list", "-w", "json"]);
    let debian = Path::new("/usr/bin/etcdctl");
    if !out.status.success() && debian.is_file() {
        let mut command = Command::new(debian);
        command.args(["member", "list", "-w", "json"]);
        for (name, value) in lab.env() {
            command.env(name, value);
        }
        command.env("ETCDCTL_ENDPOINTS", &running);
        out = run_with_limit(command, Duration::from_secs(30));
    }
    let list: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|_| panic!("{}", stderr(&out)));
    list["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or_default().to_string(),
                m["ID"].as_u64().unwrap_or_default(),
                m["isLearner"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

/// The member etcdctl cannot reach: the one the scenario took down.
fn down_member(lab: &Lab) -> String {
    let out = etcdctl(lab, &["endpoint", "health", "--cluster", "-w", "json"]);
    let health: Value = serde_json::from_str(&stdout(&out)).unwrap_or_default();
    let bad = health.as_array().and_then(|a| a.iter().find(|e| e["health"] == false).cloned()).unwrap_or_default();
    let endpoint = bad["endpoint"].as_str().unwrap_or_else(|| panic!("no unhealthy endpoint: {}", stdout(&out)));
    let list = stdout(&etcdctl(lab, &["member", "list", "-w", "json"]));
    let list: Value = serde_json::from_str(&list).unwrap();
    list["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["clientURLs"].as_array().is_some_and(|u| u.iter().any(|u| u == endpoint)))
        .and_then(|m| m["name"].as_str())
        .unwrap_or_else(|| panic!("{endpoint} is no member's"))
        .to_string()
}

/// What a refused run must leave: the same members, no quorum guard override, no secret deleted.
fn assert_unchanged(lab: &Lab, before: &[(String, u64, bool)]) {
    assert_eq!(member_list(lab), before, "the member list must not change");
    let overrides = kubectl_ok(lab, &["get", "etcd", "cluster", "-o", "jsonpath={.spec.unsupportedConfigOverrides}"]);
    assert_eq!(overrides.trim(), "", "the quorum guard must stay on");
}

async fn scenario_file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_gate_refuses_and_changes_nothing() {
    // Two members down of three: quorum is gone; this is a restore, named with its lost hosts.
    let dir = tempfile::tempdir().unwrap();
    let mut lab = lab_scenario("member-down", 60.0).await;
    let down = down_member(&lab);
    let second = lab.members.iter().position(|m| m.name != down).unwrap();
    lab.kill_member(second).unwrap();
    let before = member_list(&lab);
    let run = run_with_limit(
        member_command(&lab, &["member", "replace", &down, "--yes", "-o", "json"]),
        Duration::from_secs(120),
    );
    assert_eq!(run.status.code(), Some(1), "{}{}", stdout(&run), stderr(&run));
    let said = outcome(&run);
    assert_eq!(said["outcome"]["outcome"], "refused", "{said}");
    let text = said["message"].as_str().unwrap();
    assert!(text.contains("quorum is gone") && text.contains("etcd-console restore plan"), "{text}");
    assert!(text.contains("--lost-host"), "{text}");
    assert_unchanged(&lab, &before);
    drop(lab);

    // One member down: the member, but a rollout runs; no backup with --read-only; a read-only user.
    let busy = scenario_file(
        dir.path(),
        "busy",
        "description = \"busy\"\n[etcd]\nstop_members = 1\n[cluster]\nrollouts_in_progress = [\"kubeapiserver\"]\n",
    )
    .await;
    let lab = lab_scenario(&busy, 1.0).await;
    let before = member_list(&lab);
    let down = down_member(&lab);
    let planned =
        run_with_limit(member_command(&lab, &["member", "plan", &down, "-o", "json"]), Duration::from_secs(120));
    assert_eq!(planned.status.code(), Some(1), "{}{}", stdout(&planned), stderr(&planned));
    let p = plan(&planned);
    assert_eq!(gate(&p, "member_unhealthy")["passed"], true, "{p}");
    assert_eq!(gate(&p, "quorum_holds")["passed"], true, "{p}");
    assert_eq!(gate(&p, "no_rollout")["passed"], false, "{p}");
    assert!(gate(&p, "no_rollout")["detail"].as_str().unwrap().contains("kubeapiserver"), "{p}");
    let replaced = run_with_limit(
        member_command(&lab, &["member", "replace", &down, "--yes", "-o", "json"]),
        Duration::from_secs(120),
    );
    assert_eq!(replaced.status.code(), Some(1));
    assert_eq!(outcome(&replaced)["outcome"]["outcome"], "refused");
    // No backup in the directory, and --read-only takes none.
    let read_only = run_with_limit(
        member_command(&lab, &["member", "replace", &down, "--yes", "--read-only", "-o", "json"]),
        Duration::from_secs(120),
    );
    let said = outcome(&read_only);
    assert!(said["message"].as_str().unwrap().contains("--read-only takes none"), "{said}");
    // The viewer token: SelfSubjectAccessReview says no to every step.
    let viewer = run_with_limit(
        member_command_as(&lab, "lab-readonly", &["member", "plan", &down, "-o", "json"]),
        Duration::from_secs(120),
    );
    let p = plan(&viewer);
    let access = gate(&p, "access");
    assert_eq!(access["passed"], false, "{p}");
    assert!(access["detail"].as_str().unwrap().contains("forbidden"), "{access}");
    assert_unchanged(&lab, &before);
    assert!(!lab.dir.join("backups").exists() || std::fs::read_dir(lab.dir.join("backups")).unwrap().next().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_exits_2_and_a_healthy_member_needs_force() {
    let lab = lab_scenario("healthy", 1.0).await;
    let before = member_list(&lab);
    let unknown =
        run_with_limit(member_command(&lab, &["member", "plan", "master-9", "-o", "json"]), Duration::from_secs(60));
    assert_eq!(unknown.status.code(), Some(1));
    let p = plan(&unknown);
    assert!(gate(&p, "member")["detail"].as_str().unwrap().contains("etcd lists no member master-9"), "{p}");
    let empty_force =
        run_with_limit(member_command(&lab, &["member", "plan", "master-1", "--force", " "]), Duration::from_secs(60));
    assert_eq!(empty_force.status.code(), Some(2), "{}", stderr(&empty_force));
    assert!(stderr(&empty_force).contains("--force needs a reason"));
    let healthy =
        run_with_limit(member_command(&lab, &["member", "plan", "master-1", "-o", "json"]), Duration::from_secs(60));
    let p = plan(&healthy);
    assert_eq!(gate(&p, "member_unhealthy")["passed"], false, "{p}");
    // By hex ID, as etcdctl prints it.
    let id = format!("{:x}", before.iter().find(|m| m.0 == "master-1").unwrap().1);
    let by_id = run_with_limit(
        member_command(&lab, &["member", "plan", &id, "--force", "disk swap", "-o", "json"]),
        Duration::from_secs(60),
    );
    let p = plan(&by_id);
    assert_eq!(p["member"]["name"], "master-1", "{p}");
    assert!(gate(&p, "member_unhealthy")["detail"].as_str().unwrap().contains("disk swap"), "{p}");
    assert_unchanged(&lab, &before);
}

fn replace(lab: &Lab, member: &str, extra: &[&str]) -> Command {
    let mut args = vec!["member", "replace", member, "--yes", "--poll", "500ms", "-o", "json"];
    args.extend_from_slice(extra);
    member_command(lab, &args)
}

/// Each step's time, as the run said it: for the note's performance figures.
fn timings(output: &Output) -> String {
    lines(output)
        .iter()
        .filter(|l| l["event"] == "step_ended")
        .map(|l| format!("{} {:.1}s", l["id"].as_str().unwrap_or("?"), l["elapsed_seconds"].as_f64().unwrap_or(0.0)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn jsonpath(lab: &Lab, args: &[&str]) -> String {
    kubectl_ok(lab, args).trim().to_string()
}

/// What a replacement must leave, as etcdctl and kubectl see it: `name` back with a new ID, every
/// member started, voting and healthy, its secrets made again, the guard on, etcd at its latest
/// revision on every node, three etcd pods Running.
fn assert_replaced(lab: &Lab, name: &str, old_id: u64) {
    let members = member_list(lab);
    assert_eq!(members.len(), 3, "{members:?}");
    let back = members.iter().find(|m| m.0 == name).unwrap_or_else(|| panic!("no {name}: {members:?}"));
    assert_ne!(back.1, old_id, "{name} must be a new member (a new ID)");
    assert!(members.iter().all(|m| !m.0.is_empty() && !m.2), "all started, none a learner: {members:?}");
    let health = etcdctl(lab, &["endpoint", "health", "--cluster"]);
    assert!(health.status.success(), "{}{}", stdout(&health), stderr(&health));
    for secret in [format!("etcd-peer-{name}"), format!("etcd-serving-{name}"), format!("etcd-serving-metrics-{name}")]
    {
        let got = jsonpath(lab, &["get", "secret", "-n", "openshift-etcd", &secret, "-o", "jsonpath={.type}"]);
        assert_eq!(got, "kubernetes.io/tls", "{secret} made again");
    }
    let overrides = jsonpath(lab, &["get", "etcd", "cluster", "-o", "jsonpath={.spec.unsupportedConfigOverrides}"]);
    assert_eq!(overrides, "", "the quorum guard must be back on");
    let installer = jsonpath(
        lab,
        &[
            "get",
            "etcd",
            "cluster",
            "-o",
            r#"jsonpath={.status.conditions[?(@.type=="NodeInstallerProgressing")].reason}"#,
        ],
    );
    assert_eq!(installer, "AllNodesAtLatestRevision");
    let pods = kubectl_ok(lab, &["get", "pods", "-n", "openshift-etcd", "-l", "k8s-app=etcd", "--no-headers"]);
    assert_eq!(pods.lines().filter(|l| l.contains("Running") && l.contains("3/3")).count(), 3, "{pods}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_whose_machine_is_down_is_replaced_with_a_new_machine() {
    let lab = lab_scenario("member-down", 60.0).await;
    let down = down_member(&lab);
    let old_id = member_list(&lab).iter().find(|m| m.0 == down).unwrap().1;
    let machine = jsonpath(
        &lab,
        &[
            "get",
            "machines",
            "-n",
            "openshift-machine-api",
            "-o",
            &format!("jsonpath={{.items[?(@.status.nodeRef.name==\"{down}\")].metadata.name}}"),
        ],
    );
    let started = Instant::now();
    let run = run_with_limit(replace(&lab, &down, &[]), Duration::from_secs(600));
    eprintln!("machine replacement: {:.1}s ({})", started.elapsed().as_secs_f64(), timings(&run));
    assert_eq!(run.status.code(), Some(0), "{}{}", stdout(&run), stderr(&run));
    let all = lines(&run);
    let p = all.iter().find(|l| l["event"] == "plan").unwrap();
    assert_eq!(p["procedure"], "machine", "{p}");
    let ids: Vec<&str> = all.iter().filter(|l| l["event"] == "step_ended").filter_map(|l| l["id"].as_str()).collect();
    assert_eq!(
        ids,
        [
            "backup",
            "remove_member",
            "quorum_guard_off",
            "delete_secrets",
            "replace_machine",
            "quorum_guard_on",
            "redeploy_if_short",
            "member_back"
        ]
    );
    let replaced = all.iter().find(|l| l["event"] == "step_ended" && l["id"] == "replace_machine").unwrap();
    let detail = replaced["detail"].as_str().unwrap();
    assert!(
        detail.contains("node-bootstrapper") || detail.contains("kubelet-serving"),
        "its own CSRs approved: {detail}"
    );
    let redeploy = all.iter().find(|l| l["event"] == "step_ended" && l["id"] == "redeploy_if_short").unwrap();
    assert!(redeploy["detail"].as_str().unwrap().starts_with("not needed"), "the operator added it: {redeploy}");
    assert_replaced(&lab, &down, old_id);
    let machines = kubectl_ok(&lab, &["get", "machines", "-n", "openshift-machine-api", "--no-headers"]);
    assert!(
        !machines.lines().any(|l| l.split_whitespace().next() == Some(machine.as_str())),
        "{machine} is gone: {machines}"
    );
    // The backup taken first is restore-grade: the snapshot and the static resources.
    let names: Vec<String> = std::fs::read_dir(lab.dir.join("backups"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("snapshot_"))
            && names.iter().any(|n| n.starts_with("static_kuberesources_")),
        "{names:?}"
    );
    // Done: the journal is kept under a dated name, and planning again finds nothing to replace.
    let again = run_with_limit(member_command(&lab, &["member", "plan", &down, "-o", "json"]), Duration::from_secs(60));
    assert_eq!(gate(&plan(&again), "member_unhealthy")["passed"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crashlooping_member_killed_at_every_step_ends_replaced_once() {
    let lab = lab_scenario("member-corrupt", 60.0).await;
    let sick = down_member(&lab);
    let old_id = member_list(&lab).iter().find(|m| m.0 == sick).unwrap().1;
    let revision = |lab: &Lab| {
        jsonpath(lab, &["get", "etcd", "cluster", "-o", "jsonpath={.status.latestAvailableRevision}"])
            .parse::<i64>()
            .unwrap()
    };
    let before = revision(&lab);
    let started = Instant::now();
    let mut removed_by_hand = false;
    for at in [
        "backup",
        "set_aside",
        "remove_member",
        "quorum_guard_off",
        "delete_secrets",
        "force_redeployment",
        "quorum_guard_on",
    ] {
        kill_when(replace(&lab, &sick, &[]), at);
        if at == "remove_member" && member_list(&lab).iter().any(|m| m.1 == old_id) {
            // As if MemberRemove had gone through just before the crash: the resumed step must take
            // the member already removed as a success, not fail on it.
            let removed = etcdctl(&lab, &["member", "remove", &format!("{old_id:x}")]);
            assert!(removed.status.success(), "{}", stderr(&removed));
            removed_by_hand = true;
        }
    }
    let run = run_with_limit(replace(&lab, &sick, &[]), Duration::from_secs(600));
    eprintln!("crashloop replacement, killed 7 times: {:.1}s ({})", started.elapsed().as_secs_f64(), timings(&run));
    assert_eq!(run.status.code(), Some(0), "{}{}", stdout(&run), stderr(&run));
    let all = lines(&run);
    assert!(all.iter().any(|l| l["event"] == "resuming"), "the journalled run is resumed: {}", stdout(&run));
    assert_replaced(&lab, &sick, old_id);
    // Forced once: one new revision, whatever step the kills fell on.
    assert_eq!(revision(&lab), before + 1, "etcd was redeployed once");
    // The journal kept under a dated name says the resumed MemberRemove found it gone (when the kill
    // came before the call).
    let kept = std::fs::read_dir(lab.dir.join("journal"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name().unwrap().to_string_lossy().starts_with("member-")
                && p.extension().is_some_and(|x| x == "jsonl")
        })
        .unwrap();
    let last: Value = serde_json::from_str(std::fs::read_to_string(&kept).unwrap().lines().last().unwrap()).unwrap();
    let steps = last["run"]["steps"].as_array().unwrap();
    let at = steps.iter().position(|s| s["id"] == "remove_member").unwrap();
    let detail = last["run"]["records"][at]["detail"].as_str().unwrap();
    if removed_by_hand {
        assert!(detail.contains("already removed"), "{detail}");
    }
    // The damaged data is kept aside on the node, not deleted.
    let aside = lab.dir.join("hosts").join(&sick).join("var/lib/etcd-backup");
    let kept: Vec<String> =
        std::fs::read_dir(&aside).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert!(kept.iter().any(|n| n == "etcd-pod.yaml") && kept.iter().any(|n| n.starts_with("etcd-data-")), "{kept:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hosted_crashlooping_pod_gets_a_new_claim_and_rejoins() {
    let lab = lab_scenario("hosted-member-crashloop", 60.0).await;
    let sick = down_member(&lab);
    let old_id = member_list(&lab).iter().find(|m| m.0 == sick).unwrap().1;
    let pods = kubectl_ok(&lab, &["get", "pods", "-n", "clusters-hosted", "-l", "app=etcd", "--no-headers"]);
    let failing = pods.lines().find(|l| l.contains("CrashLoopBackOff")).unwrap_or_else(|| panic!("{pods}"));
    let pod = failing.split_whitespace().next().unwrap().to_string();
    let uid = jsonpath(&lab, &["get", "pod", "-n", "clusters-hosted", &pod, "-o", "jsonpath={.metadata.uid}"]);
    let mut command = replace(&lab, &sick, &["--hosted-cluster", "clusters/hosted"]);
    command.env_remove("ETCDCTL_ENDPOINTS");
    let started = Instant::now();
    let run = run_with_limit(command, Duration::from_secs(600));
    eprintln!("hosted replacement: {:.1}s ({})", started.elapsed().as_secs_f64(), timings(&run));
    assert_eq!(run.status.code(), Some(0), "{}{}", stdout(&run), stderr(&run));
    let p = plan(&run);
    assert_eq!(p["procedure"], "hosted");
    assert!(p["documented_as"].as_str().unwrap().contains("Hosted control planes"), "{p}");
    let new_uid = jsonpath(&lab, &["get", "pod", "-n", "clusters-hosted", &pod, "-o", "jsonpath={.metadata.uid}"]);
    assert_ne!(new_uid, uid, "{pod} made again");
    let ready = jsonpath(
        &lab,
        &["get", "pod", "-n", "clusters-hosted", &pod, "-o", "jsonpath={.status.containerStatuses[*].ready}"],
    );
    assert_eq!(ready, "true true", "{pod} 2/2");
    let members = member_list(&lab);
    assert!(members.iter().any(|m| m.0 == sick && m.1 != old_id), "{sick} back with a new ID: {members:?}");
    let mut hashes = etcdctl(&lab, &["endpoint", "hashkv", "--cluster", "-w", "json"]);
    if !hashes.status.success() {
        hashes = etcdctl(&lab, &["endpoint", "hashkv", "--cluster", "-w", "json"]);
    }
    let hashes: Value = serde_json::from_str(&stdout(&hashes)).unwrap();
    let distinct: std::collections::BTreeSet<u64> =
        hashes.as_array().unwrap().iter().filter_map(|h| h["HashKV"]["hash"].as_u64()).collect();
    assert_eq!(distinct.len(), 1, "one hash on every member: {hashes}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_control_plane_machine_set_the_new_machine_is_created_from_the_old_ones_spec() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(
        dir.path(),
        "no-cpms",
        "description = \"member-down without a control plane machine set\"\n[etcd]\nstop_members = 1\n[cluster]\ncontrol_plane_machine_set = false\nmachine_approver = false\n",
    )
    .await;
    let lab = lab_scenario(&scenario, 60.0).await;
    let down = down_member(&lab);
    let old_id = member_list(&lab).iter().find(|m| m.0 == down).unwrap().1;
    let planned =
        run_with_limit(member_command(&lab, &["member", "plan", &down, "-o", "json"]), Duration::from_secs(60));
    let machine_gate = gate(&plan(&planned), "machine").clone();
    assert!(machine_gate["detail"].as_str().unwrap().contains("no Active ControlPlaneMachineSet"), "{machine_gate}");
    let run = run_with_limit(replace(&lab, &down, &["--no-backup"]), Duration::from_secs(600));
    eprintln!("machine replacement without a machine set: {}", timings(&run));
    assert_eq!(run.status.code(), Some(0), "{}{}", stdout(&run), stderr(&run));
    let created = jsonpath(
        &lab,
        &[
            "get",
            "machines",
            "-n",
            "openshift-machine-api",
            "-o",
            r#"jsonpath={.items[?(@.metadata.annotations.etcd-console\.io/replaces)].metadata.name}"#,
        ],
    );
    assert_eq!(created, "lab-7xk2p-master-3", "the new Machine, made from the old one's spec");
    let phase =
        jsonpath(&lab, &["get", "machine", "-n", "openshift-machine-api", &created, "-o", "jsonpath={.status.phase}"]);
    assert_eq!(phase, "Running");
    assert_replaced(&lab, &down, old_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_backup_and_the_one_taken_first_failing_stops_before_anything_changes() {
    use etcd_console_lab::hosts::faults::{self, Fault};
    let lab = lab_scenario("member-down", 60.0).await;
    let down = down_member(&lab);
    let before = member_list(&lab);
    let machines = kubectl_ok(&lab, &["get", "machines", "-n", "openshift-machine-api", "--no-headers"]);
    // No backup in the directory and no --no-backup: one is taken first, through a debug pod the API refuses.
    faults::set(&lab.dir, Fault::DebugPodsForbidden, None, true).unwrap();
    let run = run_with_limit(replace(&lab, &down, &[]), Duration::from_secs(300));
    assert_eq!(run.status.code(), Some(1), "{}{}", stdout(&run), stderr(&run));
    let said = outcome(&run);
    assert_eq!(said["outcome"]["outcome"], "stopped", "{said}");
    assert_eq!(said["outcome"]["step"], "backup", "{said}");
    assert!(said["message"].as_str().unwrap().contains("the backup taken first did not succeed"), "{said}");
    assert_eq!(said["quorum_guard_off"], false, "{said}");
    assert_unchanged(&lab, &before);
    let after = kubectl_ok(&lab, &["get", "machines", "-n", "openshift-machine-api", "--no-headers"]);
    assert_eq!(names(&after), names(&machines), "no Machine deleted");
    // The same run again, with the API letting the debug pod run: resumed at the backup, then done.
    faults::set(&lab.dir, Fault::DebugPodsForbidden, None, false).unwrap();
    let again = run_with_limit(replace(&lab, &down, &[]), Duration::from_secs(300));
    assert_eq!(again.status.code(), Some(0), "{}{}", stdout(&again), stderr(&again));
    assert!(lines(&again)
        .iter()
        .any(|l| l["event"] == "resuming" && l["at"].as_str().unwrap_or("").starts_with("step backup")));
}
