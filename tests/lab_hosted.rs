//! The hosted scenario as RUNBOOKS §5.3 [HCP-ONPREM-BR] needs it, through the
//! lab's API only, with the real kubectl (its `exec` and `cp`), kube-rs and the
//! real etcdctl as referees: the etcd StatefulSet stops and starts the real
//! members, claims are protected while mounted and their volumes go with
//! them, the runbook's `etcd-data` pod gets the claim it mounts, and `etcdutl
//! snapshot restore` run in it restores a member for real.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use etcd_console_lab::Lab;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::Value;

const NS: &str = "clusters-hosted";
const WRITERS: [&str; 3] = ["kube-apiserver", "openshift-apiserver", "openshift-oauth-apiserver"];

/// kubectl with `input` on its stdin.
fn kubectl_with_input(lab: &Lab, args: &[&str], input: &[u8]) -> Output {
    let mut command = Command::new("kubectl");
    command
        .args(args)
        .env("KUBECONFIG", lab.kubeconfig.clone().unwrap())
        .env("KUBECACHEDIR", lab.dir.join("kube-cache"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap_or_else(|e| panic!("kubectl: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "kubectl {args:?} did not finish within 60s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = feeder.join();
    child.wait_with_output().unwrap()
}

/// The real etcdctl against one member.
fn etcdctl_ok(lab: &Lab, args: &[&str]) -> String {
    let output = etcdctl(lab, args);
    assert!(output.status.success(), "etcdctl {args:?}: {}", stderr(&output));
    stdout(&output)
}

/// The `k*` keys member `endpoint` holds, read from it alone.
fn keys_at(lab: &Lab, endpoint: &str) -> Vec<String> {
    let output = etcdctl_at(lab, endpoint, &["get", "k", "--prefix", "--keys-only", "--consistency=s"]);
    assert!(output.status.success(), "{endpoint}: {}", stderr(&output));
    let mut keys: Vec<String> = stdout(&output).lines().filter(|l| !l.is_empty()).map(str::to_string).collect();
    keys.sort_by_key(|k| k[1..].parse::<u32>().unwrap_or(0));
    keys
}

/// Each member's revision and whether it leads, as it says itself.
fn statuses(lab: &Lab) -> Vec<(i64, bool)> {
    lab.members
        .iter()
        .map(|m| {
            let output = etcdctl_at(lab, &m.client_url, &["endpoint", "status", "-w", "json"]);
            assert!(output.status.success(), "{}: {}", m.name, stderr(&output));
            let status = &json(&output)[0]["Status"];
            let revision = status["header"]["revision"].as_i64().unwrap();
            (revision, status["leader"] == status["header"]["member_id"])
        })
        .collect()
}

/// Waits until etcd has a leader that every member knows, after a restart.
fn wait_for_cluster(lab: &Lab) {
    eventually("every member healthy", Duration::from_secs(60), || {
        let output = etcdctl(lab, &["endpoint", "health"]);
        // etcdctl 3.4 says it on stderr, 3.5 on stdout.
        let said = format!("{}{}", stdout(&output), stderr(&output));
        (output.status.success() && said.matches("is healthy").count() == 3).then_some(())
    });
}

fn pod_names(lab: &Lab, selector: &str) -> Vec<String> {
    let out = kubectl_ok(lab, &["get", "pods", "-n", NS, "-l", selector, "-o", "jsonpath={.items[*].metadata.name}"]);
    out.split_whitespace().map(str::to_string).collect()
}

/// Waits until `count` pods of `selector` are Running and Ready.
fn wait_running(lab: &Lab, selector: &str, count: usize) -> Vec<String> {
    eventually(&format!("{count} pods {selector} running"), Duration::from_secs(90), || {
        let out = kubectl_ok(
            lab,
            &[
                "get",
                "pods",
                "-n",
                NS,
                "-l",
                selector,
                "-o",
                r#"jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#,
            ],
        );
        let running: Vec<String> = out
            .lines()
            .filter(|l| l.ends_with(" Running True"))
            .map(|l| l.split(' ').next().unwrap_or("").to_string())
            .collect();
        (running.len() == count && out.lines().count() == count).then_some(running)
    })
}

fn pause(lab: &Lab, paused: bool) {
    set_hosted_paused(lab, paused.then_some("true"));
}

/// The runbook's first steps: pause, the API servers down, etcd down and its members stopped.
fn stop_the_control_plane(lab: &Lab) {
    pause(lab, true);
    for writer in WRITERS {
        kubectl_ok(lab, &["scale", "-n", NS, &format!("deployment/{writer}"), "--replicas=0"]);
    }
    kubectl_ok(lab, &["scale", "-n", NS, "statefulset/etcd", "--replicas=0"]);
    eventually("the etcd pods gone and the members stopped", Duration::from_secs(30), || {
        let stopped = lab.members.iter().all(|m| m.pid().is_none());
        (stopped && pod_names(lab, "app=etcd").is_empty()).then_some(())
    });
    for writer in WRITERS {
        assert!(pod_names(lab, &format!("app={writer}")).is_empty(), "{writer} still has pods");
    }
}

/// The runbook's last steps: etcd back to 3 replicas (all Running), the API servers to 3, resumed.
fn start_the_control_plane(lab: &Lab) {
    kubectl_ok(lab, &["scale", "-n", NS, "statefulset/etcd", "--replicas=3"]);
    wait_running(lab, "app=etcd", 3);
    kubectl_ok(lab, &["scale", "deployment", "-n", NS, "--replicas=3", WRITERS[0], WRITERS[1], WRITERS[2]]);
    for writer in WRITERS {
        wait_running(lab, &format!("app={writer}"), 3);
    }
    pause(lab, false);
    let active = eventually("reconciliation active again", Duration::from_secs(10), || {
        let out = kubectl_ok(
            lab,
            &[
                "get",
                "hc",
                "hosted",
                "-n",
                "clusters",
                r#"-o=jsonpath={.status.conditions[?(@.type=="ReconciliationActive")].status}"#,
            ],
        );
        (out == "True").then_some(out)
    });
    assert_eq!(active, "True");
}

/// The runbook's `etcd-data` Deployment (its image read from the StatefulSet), named
/// `name`, mounting `claim` at /var/lib; its pod's name once Running.
fn data_pod(lab: &Lab, name: &str, claim: &str) -> String {
    let image = kubectl_ok(
        lab,
        &["get", "-n", NS, "statefulset/etcd", "-o", "jsonpath={ .spec.template.spec.containers[0].image }"],
    );
    assert!(image.starts_with("quay.io/"), "{image}");
    let yaml = format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
      - name: access
        image: {image}
        volumeMounts:
        - name: data
          mountPath: /var/lib
        command:
        - /usr/bin/bash
        args:
        - -c
        - |-
          while true; do
            sleep 1000
          done
      volumes:
      - name: data
        persistentVolumeClaim:
          claimName: {claim}
"
    );
    let applied = kubectl_with_input(lab, &["apply", "-n", NS, "-f", "-"], yaml.as_bytes());
    assert!(applied.status.success(), "apply: {}{}", stdout(&applied), stderr(&applied));
    assert_eq!(stdout(&applied).trim(), format!("deployment.apps/{name} created"));
    let pods = wait_running(lab, &format!("app={name}"), 1);
    let pod = pods[0].clone();
    assert!(pod.starts_with(&format!("{name}-")) && pod.len() == name.len() + 17, "{pod}");
    pod
}

fn exec(lab: &Lab, pod: &str, command: &[&str]) -> Output {
    let mut args = vec!["exec", "-n", NS, pod, "--"];
    args.extend_from_slice(command);
    kubectl(lab, &args)
}

fn exec_ok(lab: &Lab, pod: &str, command: &[&str]) -> String {
    let output = exec(lab, pod, command);
    assert!(output.status.success(), "exec {command:?} in {pod}: {}{}", stdout(&output), stderr(&output));
    stdout(&output)
}

fn sha256(path: &Path) -> String {
    let output = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&output.stdout).split_whitespace().next().unwrap_or("").to_string()
}

/// Members (name, peer URL) as `etcdctl member list` gives them, replica 0 first.
fn members(lab: &Lab) -> Vec<(String, String)> {
    let list = json(&etcdctl(lab, &["member", "list", "-w", "json"]));
    let mut members: Vec<(String, String)> = list["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_string(), m["peerURLs"][0].as_str().unwrap().to_string()))
        .collect();
    members.sort();
    assert_eq!(members.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(), ["master-0", "master-1", "master-2"]);
    members
}

/// k1..k5, a snapshot of member 0 with the real etcdctl, then k6..k10 and k1 deleted.
fn write_and_snapshot(lab: &Lab) -> PathBuf {
    for i in 1..=5 {
        etcdctl_ok(lab, &["put", &format!("k{i}"), &format!("v{i}")]);
    }
    let snapshot = lab.dir.join("etcd.snapshot.db");
    let saved = etcdctl_at(lab, &lab.members[0].client_url, &["snapshot", "save", &path_str(&snapshot)]);
    assert!(saved.status.success(), "{}", stderr(&saved));
    for i in 6..=10 {
        etcdctl_ok(lab, &["put", &format!("k{i}"), &format!("v{i}")]);
    }
    etcdctl_ok(lab, &["del", "k1"]);
    snapshot
}

/// In a data pod: the runbook's rm -rf / mkdir -p / etcdutl snapshot restore / rm, for `member`.
fn restore_in(lab: &Lab, pod: &str, member: &str, members: &[(String, String)]) {
    let initial_cluster = members.iter().map(|(n, u)| format!("{n}={u}")).collect::<Vec<_>>().join(",");
    let peer = members.iter().find(|(n, _)| n == member).map(|(_, u)| u.clone()).unwrap();
    exec_ok(lab, pod, &["rm", "-rf", "/var/lib/data"]);
    exec_ok(lab, pod, &["mkdir", "-p", "/var/lib/data"]);
    let restored = exec(
        lab,
        pod,
        &[
            "etcdutl",
            "snapshot",
            "restore",
            "/var/lib/restored.snap.db",
            "--data-dir=/var/lib/data",
            "--skip-hash-check",
            "--name",
            member,
            "--initial-cluster-token=etcd-cluster",
            "--initial-cluster",
            &initial_cluster,
            "--initial-advertise-peer-urls",
            &peer,
        ],
    );
    assert!(restored.status.success(), "restore: {}{}", stdout(&restored), stderr(&restored));
    // Its messages name the pod's paths, not the lab's (3.4 logs `"data-dir":"…"`, 3.5 `"data-dir": "…"`).
    let said = stderr(&restored).replace("\": \"", "\":\"");
    assert!(said.contains("\"data-dir\":\"/var/lib/data\""), "{said}");
    exec_ok(lab, pod, &["rm", "/var/lib/restored.snap.db"]);
    let listed = exec_ok(lab, pod, &["ls", "/var/lib", "/var/lib/data"]);
    assert_eq!(listed, "/var/lib:\ndata\n\n/var/lib/data:\nmember\n");
}

fn delete_data_pod(lab: &Lab, name: &str) {
    let deleted = kubectl_ok(lab, &["delete", "-n", NS, &format!("deployment/{name}")]);
    assert_eq!(deleted.trim(), format!("deployment.apps \"{name}\" deleted"));
    eventually("the data pod gone", Duration::from_secs(10), || {
        pod_names(lab, &format!("app={name}")).is_empty().then_some(())
    });
}

fn restored_keys() -> Vec<String> {
    (1..=5).map(|i| format!("k{i}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_claim_restored_from_the_snapshot_makes_one_cluster_again_through_the_api_alone() {
    let lab = lab_scenario("hosted", 300.0).await;
    let snapshot = write_and_snapshot(&lab);
    let members = members(&lab);
    stop_the_control_plane(&lab);
    // Each replica's claim in turn, through its own data pod, as the restore executor does it.
    for (index, (member, _)) in members.iter().enumerate() {
        let name = if index == 0 { "etcd-data".to_string() } else { format!("etcd-data-{index}") };
        let pod = data_pod(&lab, &name, &format!("data-etcd-{index}"));
        if index == 0 {
            let copied = kubectl(&lab, &["cp", &path_str(&snapshot), &format!("{NS}/{pod}:/var/lib/restored.snap.db")]);
            assert!(copied.status.success(), "kubectl cp: {}", stderr(&copied));
        } else {
            let bytes = std::fs::read(&snapshot).unwrap();
            let written = kubectl_with_input(
                &lab,
                &["exec", "-i", "-n", NS, &pod, "--", "sh", "-c", "cat > /var/lib/restored.snap.db"],
                &bytes,
            );
            assert!(written.status.success(), "exec -i: {}", stderr(&written));
        }
        let sum = exec_ok(&lab, &pod, &["sha256sum", "/var/lib/restored.snap.db"]);
        assert_eq!(sum, format!("{}  /var/lib/restored.snap.db\n", sha256(&snapshot)));
        restore_in(&lab, &pod, member, &members);
        delete_data_pod(&lab, &name);
    }
    start_the_control_plane(&lab);
    wait_for_cluster(&lab);
    for member in &lab.members {
        assert_eq!(keys_at(&lab, &member.client_url), restored_keys(), "{} holds the snapshot's keys", member.name);
    }
    let revisions: Vec<i64> = statuses(&lab).iter().map(|s| s.0).collect();
    assert!(revisions.windows(2).all(|w| w[0] == w[1]), "one revision on every member: {revisions:?}");
    let list = json(&etcdctl(&lab, &["member", "list", "-w", "json"]));
    let started = list["members"].as_array().unwrap().iter().filter(|m| m["name"] != "").count();
    assert_eq!(started, 3, "{list}");
    // The members run with HyperShift's token and their data in the claim's data directory.
    let log = std::fs::read_to_string(lab.dir.join("hosts/master-1/etc/kubernetes/manifests/etcd-pod.yaml")).unwrap();
    assert!(log.contains("--initial-cluster-token=etcd-cluster"), "{log}");
    assert!(log.contains(&format!("--data-dir={}", lab.members[1].data_dir.display())), "{log}");
    assert!(lab.members[1].data_dir.ends_with("hosts/master-1/var/lib/data"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_runbooks_restore_as_written_leaves_the_first_empty_member_without_the_restored_keys() {
    let lab = lab_scenario("hosted", 300.0).await;
    let snapshot = write_and_snapshot(&lab);
    let members = members(&lab);
    stop_the_control_plane(&lab);
    let deleted = kubectl_ok(&lab, &["delete", "-n", NS, "pvc/data-etcd-1", "pvc/data-etcd-2"]);
    assert_eq!(deleted.lines().count(), 2, "{deleted}");
    let claims = kubectl_ok(&lab, &["get", "pvc", "-n", NS, "-o", "name"]);
    assert_eq!(claims.trim(), "persistentvolumeclaim/data-etcd-0");
    for member in &lab.members[1..] {
        let volume = member.data_dir.parent().unwrap();
        assert_eq!(std::fs::read_dir(volume).unwrap().count(), 0, "{} deleted with its claim", volume.display());
    }
    let pod = data_pod(&lab, "etcd-data", "data-etcd-0");
    let copied = kubectl(&lab, &["cp", &path_str(&snapshot), &format!("{NS}/{pod}:/var/lib/restored.snap.db")]);
    assert!(copied.status.success(), "kubectl cp: {}", stderr(&copied));
    restore_in(&lab, &pod, "master-0", &members);
    delete_data_pod(&lab, "etcd-data");
    start_the_control_plane(&lab);
    wait_for_cluster(&lab);
    // Member 0 has the snapshot. The first election is a race between it and member 1, which
    // started empty beside it (no leader to join yet) with the same bootstrap raft log: raft
    // never sends member 1 the restored keys, whoever wins. That is the hazard of restoring
    // one claim only.
    let status = statuses(&lab);
    assert_eq!(keys_at(&lab, &lab.members[0].client_url), restored_keys());
    assert!(keys_at(&lab, &lab.members[1].client_url).is_empty(), "{status:?}");
    assert!(status[1].0 < status[0].0, "{status:?}");
    // Member 2 found a functional cluster: removed, added again, it got the leader's snapshot:
    // the restored keys when member 0 won (the usual outcome), nothing when member 1 did.
    let leader = status.iter().position(|s| s.1).unwrap_or_else(|| panic!("no leader: {status:?}"));
    assert!(leader < 2, "a member that started with data or with the bootstrap log leads: {status:?}");
    assert_eq!(status[2].0, status[leader].0, "{status:?}");
    if leader == 0 {
        assert_eq!(keys_at(&lab, &lab.members[2].client_url), restored_keys());
    } else {
        assert!(keys_at(&lab, &lab.members[2].client_url).is_empty(), "{status:?}");
    }
    let list = json(&etcdctl(&lab, &["member", "list", "-w", "json"]));
    let started = list["members"].as_array().unwrap().iter().filter(|m| m["name"] != "").count();
    assert_eq!(started, 3, "{list}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unpaused_the_hypershift_operator_scales_the_control_plane_back() {
    // 60x: the operator undoes a scale-down after a third of a second.
    let lab = lab_scenario("hosted", 60.0).await;
    let ready =
        |name: &str| kubectl_ok(&lab, &["get", "deployment", name, "-n", NS, "-o", "jsonpath={.status.readyReplicas}"]);
    // kubectl scale (the scale subresource), a merge patch, and a PUT of the scale subresource.
    kubectl_ok(&lab, &["scale", "deployment/kube-apiserver", "-n", NS, "--replicas=0"]);
    kubectl_ok(
        &lab,
        &["patch", "deployment/openshift-apiserver", "-n", NS, "--type=merge", "-p", r#"{"spec":{"replicas":0}}"#],
    );
    let scale = kubectl_ok(
        &lab,
        &["get", "--raw", &format!("/apis/apps/v1/namespaces/{NS}/deployments/openshift-oauth-apiserver/scale")],
    );
    let mut scale: Value = serde_json::from_str(&scale).unwrap();
    scale["spec"]["replicas"] = serde_json::json!(0);
    let file = lab.dir.join("scale.json");
    std::fs::write(&file, scale.to_string()).unwrap();
    kubectl_ok(
        &lab,
        &[
            "replace",
            "--raw",
            &format!("/apis/apps/v1/namespaces/{NS}/deployments/openshift-oauth-apiserver/scale"),
            "-f",
            &path_str(&file),
        ],
    );
    for writer in WRITERS {
        eventually(&format!("{writer} back to 3"), Duration::from_secs(15), || (ready(writer) == "3").then_some(()));
        assert_eq!(pod_names(&lab, &format!("app={writer}")).len(), 3);
    }
    // The etcd StatefulSet too: its members stop, then come back.
    kubectl_ok(&lab, &["scale", "statefulset/etcd", "-n", NS, "--replicas=1"]);
    wait_running(&lab, "app=etcd", 3);
    wait_for_cluster(&lab);
    // Paused, a scale-down holds.
    pause(&lab, true);
    kubectl_ok(&lab, &["scale", "deployment/kube-apiserver", "-n", NS, "--replicas=0"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(ready("kube-apiserver"), "0");
    assert!(pod_names(&lab, "app=kube-apiserver").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_claim_in_use_stays_terminating_until_no_pod_mounts_it() {
    let lab = lab_scenario("hosted", 300.0).await;
    pause(&lab, true);
    etcdctl_ok(&lab, &["put", "kept", "yes"]);
    let deleted = kubectl(&lab, &["delete", "pvc/data-etcd-1", "-n", NS, "--wait=false"]);
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    assert_eq!(stdout(&deleted).trim(), r#"persistentvolumeclaim "data-etcd-1" deleted"#);
    std::thread::sleep(Duration::from_secs(1));
    let marked = kubectl_ok(
        &lab,
        &["get", "pvc", "data-etcd-1", "-n", NS, "-o", "jsonpath={.metadata.deletionTimestamp} {.metadata.finalizers}"],
    );
    assert!(marked.ends_with(r#" ["kubernetes.io/pvc-protection"]"#) && marked.len() > 30, "{marked}");
    let listed = kubectl_ok(&lab, &["get", "pvc", "data-etcd-1", "-n", NS, "--no-headers"]);
    assert!(listed.contains("Terminating"), "{listed}");
    assert!(lab.members[1].pid().is_some(), "etcd-1 still runs");
    let volume = lab.members[1].data_dir.parent().unwrap().to_path_buf();
    let uid = kubectl_ok(&lab, &["get", "pvc", "data-etcd-1", "-n", NS, "-o", "jsonpath={.metadata.uid}"]);
    // Scaled down to 1: etcd-1 stops, its pod goes, so does the claim, and its volume's data.
    kubectl_ok(&lab, &["scale", "statefulset/etcd", "-n", NS, "--replicas=1"]);
    eventually("the claim gone, members 1 and 2 stopped", Duration::from_secs(30), || {
        let stopped = lab.members[1].pid().is_none() && lab.members[2].pid().is_none();
        let gone = !kubectl(&lab, &["get", "pvc", "data-etcd-1", "-n", NS]).status.success();
        (stopped && gone).then_some(())
    });
    assert_eq!(std::fs::read_dir(&volume).unwrap().count(), 0, "reclaimPolicy Delete");
    assert!(kubectl(&lab, &["get", "pvc", "data-etcd-2", "-n", NS]).status.success(), "an unmounted claim stays");
    // Back to 3: a new empty claim, and the empty member joins again (reset-member) with the data.
    kubectl_ok(&lab, &["scale", "statefulset/etcd", "-n", NS, "--replicas=3"]);
    wait_running(&lab, "app=etcd", 3);
    wait_for_cluster(&lab);
    let new_uid = kubectl_ok(&lab, &["get", "pvc", "data-etcd-1", "-n", NS, "-o", "jsonpath={.metadata.uid}"]);
    assert_ne!(uid, new_uid);
    eventually("member 1 caught up", Duration::from_secs(30), || {
        let got =
            etcdctl_at(&lab, &lab.members[1].client_url, &["get", "kept", "--print-value-only", "--consistency=s"]);
        (stdout(&got).trim() == "yes").then_some(())
    });
    let revisions: Vec<i64> = statuses(&lab).iter().map(|s| s.0).collect();
    assert!(revisions.windows(2).all(|w| w[0] == w[1]), "{revisions:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_runs_the_runbooks_commands_and_refuses_the_rest() {
    let lab = lab_scenario("hosted", 300.0).await;
    // Step 2B in etcd-0: the real etcdctl against its member, with the pod's certificate paths.
    let saved = exec(
        &lab,
        "etcd-0",
        &[
            "env",
            "ETCDCTL_API=3",
            "/usr/bin/etcdctl",
            "--cacert",
            "/etc/etcd/tls/etcd-ca/ca.crt",
            "--cert",
            "/etc/etcd/tls/client/etcd-client.crt",
            "--key",
            "/etc/etcd/tls/client/etcd-client.key",
            "--endpoints=https://localhost:2379",
            "snapshot",
            "save",
            "/var/lib/snapshot.db",
        ],
    );
    assert!(saved.status.success(), "{}{}", stdout(&saved), stderr(&saved));
    assert_eq!(stdout(&saved).trim(), "Snapshot saved at /var/lib/snapshot.db");
    let table = exec_ok(
        &lab,
        "etcd-0",
        &["env", "ETCDCTL_API=3", "/usr/bin/etcdctl", "-w", "table", "snapshot", "status", "/var/lib/snapshot.db"],
    );
    assert!(table.contains(" HASH ") && table.contains(" REVISION "), "{table}");
    let local = lab.dir.join("from-pod.db");
    let copied = kubectl(&lab, &["cp", "-c", "etcd", &format!("{NS}/etcd-0:/var/lib/snapshot.db"), &path_str(&local)]);
    assert!(copied.status.success(), "{}", stderr(&copied));
    assert_eq!(sha256(&local), sha256(&lab.members[0].data_dir.parent().unwrap().join("snapshot.db")));

    // Refusals, as a shell and the API server give them.
    let missing = exec(&lab, "etcd-0", &["nope", "x"]);
    assert_eq!(missing.status.code(), Some(127));
    assert!(stderr(&missing).contains("nope: command not found"), "{}", stderr(&missing));
    let outside = exec(&lab, "etcd-0", &["rm", "-rf", "/etc/kubernetes"]);
    assert_eq!(outside.status.code(), Some(1));
    assert!(stderr(&outside).contains("/etc/kubernetes: outside the pod's volumes"), "{}", stderr(&outside));
    let read_only = exec(&lab, "etcd-0", &["rm", "/etc/etcd/tls/client/etcd-client.key"]);
    assert!(stderr(&read_only).contains("Read-only file system"), "{}", stderr(&read_only));
    let absent = exec(&lab, "etcd-0", &["test", "-e", "/var/lib/absent"]);
    assert_eq!(absent.status.code(), Some(1));
    // A copy that needs no end of stdin (what the restore executor sends): its first N bytes.
    let copied = kubectl_with_input(
        &lab,
        &["exec", "-i", "-n", NS, "etcd-2", "-c", "etcd", "--", "sh", "-c", "head -c 5 > /var/lib/five"],
        b"12345 and more",
    );
    assert!(copied.status.success(), "{}", stderr(&copied));
    assert_eq!(exec_ok(&lab, "etcd-2", &["cat", "/var/lib/five"]), "12345");
    let three = exec(&lab, "etcd-0", &["sh", "-c", "exit 3"]);
    assert_eq!(three.status.code(), Some(3), "{}", stderr(&three));
    let no_pod = kubectl(&lab, &["exec", "-n", NS, "etcd-9", "--", "ls"]);
    assert!(!no_pod.status.success());
    assert!(stderr(&no_pod).contains(r#"(NotFound): pods "etcd-9" not found"#), "{}", stderr(&no_pod));
    let viewer = kubectl(&lab, &["--context", "lab-readonly", "exec", "-n", NS, "etcd-0", "-c", "etcd", "--", "ls"]);
    assert!(stderr(&viewer).contains(r#"cannot create resource "pods/exec""#), "{}", stderr(&viewer));
    // A pod not running (its claim is not there): the API server cannot reach its container.
    let pending = data_pod_pending(&lab);
    let refused = exec(&lab, &pending, &["ls", "/var/lib"]);
    assert!(
        stderr(&refused).contains(r#"unable to upgrade connection: container not found ("access")"#),
        "{}",
        stderr(&refused)
    );

    // kube-rs (the console's client, over WebSocket): stdin into a file, then its sum.
    let kubeconfig = Kubeconfig::read_from(lab.kubeconfig.clone().unwrap()).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(Client::try_from(config).unwrap(), NS);
    let params = AttachParams::default().container("etcd").stdin(true).stderr(true);
    let mut written = pods.exec("etcd-1", ["sh", "-c", "cat > /var/lib/note.txt"], &params).await.unwrap();
    use tokio::io::AsyncWriteExt;
    let mut input = written.stdin().unwrap();
    input.write_all(b"written through kube-rs\n").await.unwrap();
    // Its end of stdin: kube-rs then sends the v5 close frame.
    input.shutdown().await.unwrap();
    let status = written.take_status().unwrap().await.unwrap();
    assert_eq!(status.status.as_deref(), Some("Success"), "{status:?}");
    written.join().await.unwrap();
    let note = std::fs::read_to_string(lab.members[1].data_dir.parent().unwrap().join("note.txt")).unwrap();
    assert_eq!(note, "written through kube-rs\n");
    let params = AttachParams::default().container("etcd").stderr(true);
    let mut failed = pods.exec("etcd-1", ["cat", "/var/lib/absent"], &params).await.unwrap();
    let status = failed.take_status().unwrap().await.unwrap();
    assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"), "{status:?}");
    let cause = status.details.and_then(|d| d.causes).and_then(|c| c.into_iter().next()).unwrap();
    assert_eq!((cause.reason.as_deref(), cause.message.as_deref()), (Some("ExitCode"), Some("1")));
    failed.join().await.unwrap();
}

/// A data pod for a claim that does not exist: it stays Pending.
fn data_pod_pending(lab: &Lab) -> String {
    let yaml = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: etcd-data-9
spec:
  selector:
    matchLabels:
      app: etcd-data-9
  template:
    metadata:
      labels:
        app: etcd-data-9
    spec:
      containers:
      - name: access
        image: quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:etcd
        volumeMounts:
        - name: data
          mountPath: /var/lib
      volumes:
      - name: data
        persistentVolumeClaim:
          claimName: data-etcd-9
";
    let applied = kubectl_with_input(lab, &["apply", "-n", NS, "-f", "-"], yaml.as_bytes());
    assert!(applied.status.success(), "{}", stderr(&applied));
    let pod = eventually("the pod made", Duration::from_secs(10), || pod_names(lab, "app=etcd-data-9").pop());
    std::thread::sleep(Duration::from_millis(500));
    let phase = kubectl_ok(lab, &["get", "pod", &pod, "-n", NS, "-o", "jsonpath={.status.phase}"]);
    assert_eq!(phase, "Pending");
    pod
}
