//! `etcd-console member plan | replace` rehearsed in the lab: real etcd
//! members behind each control-plane host, the simulated API's operators
//! (the etcd operator adding a member back as a learner, the machine API
//! replacing a Machine). etcdctl and kubectl referee the end state; each gate
//! is shown to refuse and to leave the cluster as it was.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use etcd_console_lab::Lab;
use serde_json::Value;

/// `etcd-console ARGS` as an SRE runs it after `source lab.env`, as `context`.
fn member_command_as(lab: &Lab, context: &str, args: &[&str]) -> Command {
    let mut command = Command::new(console_bin());
    command.args(args);
    command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", &lab.dir);
    for (name, value) in lab.env() {
        command.env(name, value);
    }
    command.env("ETCD_CONSOLE_LAB_DIR", &lab.dir);
    command.env("KUBECONFIG", lab.kubeconfig.as_ref().unwrap());
    command.args(["--context", context, "--journal-dir"]).arg(lab.dir.join("journal"));
    command.arg("--log-dir").arg(lab.dir.join("console-logs"));
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
    let out = etcdctl(lab, &["member", "list", "-w", "json"]);
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

#[allow(dead_code)]
fn spawn_with_lines(mut command: Command) -> (Child, std::sync::mpsc::Receiver<String>) {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child: Child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Runs `command` (a `member replace -o json`) and kills it once step `at` has begun.
#[allow(dead_code)]
fn kill_when(command: Command, at: &str) {
    let (mut child, rx) = spawn_with_lines(command);
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut seen = Err(format!("step {at} never began"));
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) else { continue };
        let value: Value = serde_json::from_str(&line).unwrap_or_default();
        if value["event"] == "step" && value["id"] == at {
            seen = Ok(());
            break;
        }
        if value["event"] == "outcome" {
            seen = Err(format!("the run ended before step {at}: {line}"));
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    seen.unwrap_or_else(|e| panic!("{e}"));
}
