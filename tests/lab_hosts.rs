//! The lab's control-plane hosts, driven with the runbook's own ssh command
//! texts through the host agent (library and `etcd-console lab host`), and
//! refereed by the real etcdctl and kubectl: static pods stopped by moving
//! their manifests, and the whole restore of RUNBOOKS §3.9 rehearsed on real
//! etcd members.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use etcd_console_lab::hosts::{self, HostOutput};
use etcd_console_lab::Lab;

const ETCD_CONTAINERS: &str = r#"sudo crictl ps | grep etcd | egrep -v "operator|etcd-guard""#;
const APISERVER_CONTAINERS: &str = r#"sudo crictl ps | grep kube-apiserver | egrep -v "operator|guard""#;

fn on_host(lab: &Lab, node: &str, command: &str) -> HostOutput {
    hosts::run(&lab.dir, node, command)
}

/// The command ran and exited 0.
fn on_host_ok(lab: &Lab, node: &str, command: &str) -> String {
    let output = on_host(lab, node, command);
    assert_eq!(output.exit_code, 0, "{node}: {command}\n{}{}", output.stdout, output.stderr);
    output.stdout
}

/// `etcd-console lab host --dir DIR NODE -- WORDS...`, the real binary.
fn lab_host_cli(lab: &Lab, node: &str, words: &[&str]) -> std::process::Output {
    let mut command = Command::new(console_bin());
    command.args(["lab", "host", "--log-dir"]).arg(lab.dir.join("console-logs"));
    command.arg("--dir").arg(&lab.dir).arg(node).arg("--").args(words);
    run_with_limit(command, Duration::from_secs(30))
}

/// Container names in crictl's rows (the word after the STATE column's `Running`).
fn container_names(table: &str) -> Vec<String> {
    table
        .lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let state = words.iter().position(|w| *w == "Running")?;
            words.get(state + 1).map(|w| w.to_string())
        })
        .collect()
}

/// `etcdctl endpoint health --cluster`: how many members say healthy, and everything it printed.
fn healthy_members(lab: &Lab) -> (usize, String) {
    let output = etcdctl(lab, &["endpoint", "health", "--cluster", "--dial-timeout=1s", "--command-timeout=2s"]);
    let text = stdout(&output) + &stderr(&output);
    (text.lines().filter(|l| l.contains(" is healthy")).count(), text)
}

/// The names etcd's member list gives, unstarted members as "".
fn member_names(lab: &Lab) -> Option<Vec<String>> {
    let output = etcdctl(lab, &["member", "list", "-w", "json", "--dial-timeout=1s", "--command-timeout=3s"]);
    if !output.status.success() {
        return None;
    }
    let list = json(&output);
    let mut names: Vec<String> =
        list["members"].as_array()?.iter().map(|m| m["name"].as_str().unwrap_or_default().to_string()).collect();
    names.sort();
    Some(names)
}

fn keys(lab: &Lab, prefix: &str) -> Vec<String> {
    let output = etcdctl(lab, &["get", "--prefix", "--keys-only", prefix]);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

fn etcd_pods(lab: &Lab) -> Vec<Vec<String>> {
    let table = kubectl_ok(lab, &["-n", "openshift-etcd", "get", "pods", "-l", "k8s-app=etcd", "--no-headers"]);
    table.lines().map(|l| l.split_whitespace().map(str::to_string).collect()).collect()
}

#[tokio::test]
async fn moving_the_etcd_manifest_away_stops_the_member_and_moving_it_back_starts_it() {
    let lab = lab_scenario("healthy", 300.0).await;
    let node = lab.members[1].name.clone();
    let url = lab.members[1].client_url.clone();
    let first_pid = lab.members[1].pid().unwrap();

    let running = on_host_ok(&lab, &node, ETCD_CONTAINERS);
    assert_eq!(container_names(&running), ["etcd", "etcdctl", "etcd-metrics"], "{running}");
    let table = on_host_ok(&lab, &node, "sudo crictl ps");
    assert!(table.starts_with("CONTAINER "), "{table}");
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD", "ID"]);
    for noise in ["etcd-operator", "etcd-guard", "kube-apiserver-guard"] {
        assert!(container_names(&table).iter().any(|n| n == noise), "{noise} runs beside: {table}");
    }

    // Runbook §3.9 step 4.1, through the real binary.
    let moved = lab_host_cli(&lab, &node, &["sudo", "mv", "-v", "/etc/kubernetes/manifests/etcd-pod.yaml", "/tmp"]);
    assert_eq!(moved.status.code(), Some(0), "{}", stderr(&moved));
    assert_eq!(stdout(&moved), "renamed '/etc/kubernetes/manifests/etcd-pod.yaml' -> '/tmp/etcd-pod.yaml'\n");
    // Step 4.2: empty once the kubelet has stopped it (grep finds nothing: exit 1).
    eventually("etcd's containers gone", Duration::from_secs(10), || {
        let output = on_host(&lab, &node, ETCD_CONTAINERS);
        (output.exit_code == 1 && output.stdout.is_empty()).then_some(())
    });
    // The kubelet reaps the process, then forgets its pid (a few milliseconds after crictl sees it gone).
    eventually("the member's pid forgotten", Duration::from_secs(10), || lab.members[1].pid().is_none().then_some(()));
    let (healthy, said) = healthy_members(&lab);
    assert_eq!(healthy, 2, "{said}");
    assert!(said.contains(&format!("{url} is unhealthy")), "{said}");
    // The mirror pod goes with the manifest; the operator counts the member out.
    eventually("the mirror pod gone", Duration::from_secs(10), || {
        (!etcd_pods(&lab).iter().any(|p| p[0] == format!("etcd-{node}"))).then_some(())
    });
    let degraded = kubectl_ok(
        &lab,
        &["get", "clusteroperator", "etcd", r#"-o=jsonpath={.status.conditions[?(@.type=="Degraded")].message}"#],
    );
    assert!(degraded.contains(&format!("{node} is unhealthy")), "{degraded}");
    // The other static pods still run.
    assert!(on_host_ok(&lab, &node, APISERVER_CONTAINERS).contains("kube-apiserver"));

    let back = on_host_ok(&lab, &node, "sudo mv -v /tmp/etcd-pod.yaml /etc/kubernetes/manifests/");
    assert_eq!(back, "renamed '/tmp/etcd-pod.yaml' -> '/etc/kubernetes/manifests/etcd-pod.yaml'\n");
    eventually("three healthy members again", Duration::from_secs(20), || (healthy_members(&lab).0 == 3).then_some(()));
    let second_pid = lab.members[1].pid().unwrap();
    assert_ne!(first_pid, second_pid, "a new process");
    assert_eq!(container_names(&on_host_ok(&lab, &node, ETCD_CONTAINERS)), ["etcd", "etcdctl", "etcd-metrics"]);
    eventually("the mirror pod back and ready", Duration::from_secs(10), || {
        etcd_pods(&lab)
            .iter()
            .find(|p| p[0] == format!("etcd-{node}"))
            .filter(|p| p[1] == "3/3" && p[2] == "Running")
            .map(|_| ())
    });
}

/// Runbook §3.9 step 4 on a non-recovery host: its etcd and kube-apiserver stopped, its data moved away.
fn stop_non_recovery_host(lab: &Lab, node: &str) {
    on_host_ok(lab, node, "sudo mv -v /etc/kubernetes/manifests/etcd-pod.yaml /tmp");
    eventually(&format!("etcd stopped on {node}"), Duration::from_secs(15), || {
        let output = on_host(lab, node, ETCD_CONTAINERS);
        (output.exit_code == 1 && output.stdout.is_empty()).then_some(())
    });
    on_host_ok(lab, node, "sudo mv -v /etc/kubernetes/manifests/kube-apiserver-pod.yaml /tmp");
    let output = on_host(lab, node, APISERVER_CONTAINERS);
    assert_eq!((output.exit_code, output.stdout.as_str()), (1, ""), "{node}");
    let moved = on_host_ok(lab, node, "sudo mv -v /var/lib/etcd/ /tmp");
    assert_eq!(moved, "renamed '/var/lib/etcd/' -> '/tmp/etcd'\n");
    assert_eq!(on_host(lab, node, "sudo test -e /var/lib/etcd").exit_code, 1);
    // No VIPs on a lab host: the node's own address only.
    let addresses = on_host_ok(lab, node, "ip -o address");
    assert_eq!(addresses.lines().count(), 2, "{addresses}");
}

#[tokio::test]
async fn the_runbook_restore_rehearsed_on_the_lab_hosts_brings_the_backup_back() {
    let lab = lab_scenario("healthy", 300.0).await;
    let recovery = lab.members[0].name.clone();
    for key in ["/rehearsal/old/1", "/rehearsal/old/2", "/rehearsal/old/3"] {
        assert!(etcdctl(&lab, &["put", key, "before the backup"]).status.success());
    }

    // §3.5: the backup, on one host only.
    let backup = on_host(&lab, &recovery, "sudo -E /usr/local/bin/cluster-backup.sh /home/core/backup");
    assert_eq!(backup.exit_code, 0, "{}{}", backup.stdout, backup.stderr);
    assert!(
        backup.stdout.contains("found latest etcd: /etc/kubernetes/static-pod-resources/etcd-pod-7"),
        "{}",
        backup.stdout
    );
    assert!(backup.stdout.contains("\"totalKey\""), "{}", backup.stdout);
    assert_eq!(
        backup.stdout.lines().last(),
        Some("snapshot db and kube resources are successfully saved to /home/core/backup")
    );
    let listed = on_host_ok(&lab, &recovery, "ls /home/core/backup");
    let files: Vec<&str> = listed.lines().collect();
    assert_eq!(files.len(), 2, "{listed}");
    let ts = files[0].strip_prefix("snapshot_").and_then(|f| f.strip_suffix(".db")).unwrap();
    assert_eq!(files[1], format!("static_kuberesources_{ts}.tar.gz"));
    let status = Command::new(common::etcdctl_bin())
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "status", "-w", "json"])
        .arg(lab.members[0].host_root.join("home/core/backup").join(files[0]))
        .output()
        .unwrap();
    assert!(status.status.success(), "the real etcdctl reads the snapshot: {}", stderr(&status));

    // What happens after the backup, which the restore must undo.
    assert!(etcdctl(&lab, &["put", "/rehearsal/new/1", "after the backup"]).status.success());
    assert!(etcdctl(&lab, &["del", "/rehearsal/old/2"]).status.success());

    // §3.9 steps 3-4: the backup to the recovery host (from the bastion), the other hosts stopped.
    let bastion = tempfile::tempdir().unwrap();
    let fetched = bastion.path().join("backup");
    hosts::copy_tree(&lab.members[0].host_root.join("home/core/backup"), &fetched).unwrap();
    for member in &lab.members[1..] {
        stop_non_recovery_host(&lab, &member.name);
    }
    hosts::copy_to(&lab.dir, &recovery, &fetched, "/home/core/assets/backup").unwrap();
    assert_eq!(on_host_ok(&lab, &recovery, "ls /home/core/assets/backup"), listed);
    // Again (a wizard resumed): the files are replaced, not nested.
    hosts::copy_to(&lab.dir, &recovery, &fetched, "/home/core/assets/backup").unwrap();
    assert_eq!(on_host_ok(&lab, &recovery, "ls /home/core/assets/backup"), listed);

    // Step 8: the restore on the recovery host.
    let restore = on_host(&lab, &recovery, "sudo -E /usr/local/bin/cluster-restore.sh /home/core/assets/backup");
    assert_eq!(restore.exit_code, 0, "{}{}", restore.stdout, restore.stderr);
    for line in [
        "...stopping etcd-pod.yaml",
        "...stopping kube-apiserver-pod.yaml",
        "Waiting for container etcd to stop",
        "Moving etcd data-dir /var/lib/etcd/member to /var/lib/etcd-backup",
        "starting restore-etcd static pod",
        "starting kube-scheduler-pod.yaml",
    ] {
        assert!(restore.stdout.lines().any(|l| l == line), "{line:?} in:\n{}", restore.stdout);
    }
    assert!(
        restore.stdout.lines().last().unwrap().starts_with(
            "etcd, kube-apiserver, kube-controller-manager and kube-scheduler were stopped and then started"
        ),
        "{}",
        restore.stdout
    );
    assert_eq!(on_host(&lab, &recovery, "sudo test -e /var/lib/etcd-backup/member").exit_code, 0);
    // Step 12: one etcd container on the recovery host, one etcd pod 1/1 Running.
    assert_eq!(container_names(&on_host_ok(&lab, &recovery, ETCD_CONTAINERS)), ["etcd"]);
    let pods = eventually("one etcd pod running", Duration::from_secs(10), || {
        let pods = etcd_pods(&lab);
        (pods.len() == 1 && pods[0][1] == "1/1" && pods[0][2] == "Running").then_some(pods)
    });
    assert_eq!(pods[0][0], format!("etcd-{recovery}"));
    assert_eq!(member_names(&lab), Some(vec![recovery.clone()]));
    assert_eq!(keys(&lab, "/rehearsal/"), ["/rehearsal/old/1", "/rehearsal/old/2", "/rehearsal/old/3"]);

    // With the quorum guard on, the etcd operator does not scale a single member up.
    kubectl_ok(
        &lab,
        &[
            "patch",
            "etcd",
            "cluster",
            "--type=merge",
            "-p",
            r#"{"spec": {"forceRedeploymentReason": "recovery-guarded"}}"#,
        ],
    );
    let installer = r#"-o=jsonpath={.status.conditions[?(@.type=="NodeInstallerProgressing")].message}"#;
    let waiting = eventually("the rollout held by the quorum guard", Duration::from_secs(15), || {
        let message = kubectl_ok(&lab, &["get", "etcd", "cluster", installer]);
        message.contains("quorum guard").then_some(message)
    });
    assert!(waiting.contains("etcd has 1 of 3 members"), "{waiting}");
    assert_eq!(member_names(&lab), Some(vec![recovery.clone()]));

    // Steps 16 and 18, as the runbook writes them.
    kubectl_ok(
        &lab,
        &[
            "patch",
            "etcd/cluster",
            "--type=merge",
            "-p",
            r#"{"spec": {"unsupportedConfigOverrides": {"useUnsupportedUnsafeNonHANonProductionUnstableEtcd": true}}}"#,
        ],
    );
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(r#"kubectl patch etcd cluster -p='{"spec": {"forceRedeploymentReason": "recovery-'"$( date --rfc-3339=ns )"'"}}' --type=merge"#)
        .env("KUBECONFIG", lab.kubeconfig.clone().unwrap())
        .env("KUBECACHEDIR", lab.dir.join("kube-cache"));
    let patched = run_with_limit(shell, Duration::from_secs(30));
    assert!(patched.status.success(), "{}", stderr(&patched));

    let mut all: Vec<String> = lab.members.iter().map(|m| m.name.clone()).collect();
    all.sort();
    eventually("three started members", Duration::from_secs(120), || {
        (member_names(&lab) == Some(all.clone())).then_some(())
    });
    eventually("three healthy members", Duration::from_secs(30), || (healthy_members(&lab).0 == 3).then_some(()));
    assert_eq!(keys(&lab, "/rehearsal/"), ["/rehearsal/old/1", "/rehearsal/old/2", "/rehearsal/old/3"]);
    assert_eq!(keys(&lab, "/rehearsal/new/"), Vec::<String>::new());
    for member in &lab.members[1..] {
        // Each added member's data is new; its old data is where the runbook put it.
        assert_eq!(on_host(&lab, &member.name, "test -d /tmp/etcd/member").exit_code, 0);
        assert_eq!(
            container_names(&on_host_ok(&lab, &member.name, ETCD_CONTAINERS)),
            ["etcd", "etcdctl", "etcd-metrics"]
        );
    }
    // Two forced redeployments: two new revisions.
    let latest = kubectl_ok(&lab, &["get", "etcd", "cluster", "-o=jsonpath={.status.latestAvailableRevision}"]);
    assert_eq!(latest, "9");
    eventually("the etcd rollout done", Duration::from_secs(30), || {
        (kubectl_ok(&lab, &["get", "etcd", "cluster", installer]) == "3 nodes are at revision 9").then_some(())
    });
    eventually("three etcd pods running, the restore pod replaced", Duration::from_secs(10), || {
        let pods = etcd_pods(&lab);
        (pods.len() == 3 && pods.iter().all(|p| p[1] == "3/3" && p[2] == "Running")).then_some(())
    });

    // Step 10: a restarted kubelet asks for a client certificate again.
    let before = kubectl_ok(&lab, &["get", "csr", "--no-headers"]).lines().filter(|l| l.ends_with("Pending")).count();
    on_host_ok(&lab, &recovery, "sudo systemctl restart kubelet.service");
    let csrs = eventually("a node-bootstrapper CSR", Duration::from_secs(10), || {
        let csrs = kubectl_ok(&lab, &["get", "csr", "--no-headers"]);
        (csrs.lines().filter(|l| l.ends_with("Pending")).count() == before + 1).then_some(csrs)
    });
    assert!(csrs.lines().any(|l| l.contains("node-bootstrapper") && l.ends_with("Pending")), "{csrs}");
}

fn manifests(lab: &Lab, node: &str) -> Vec<String> {
    on_host_ok(lab, node, "ls /etc/kubernetes/manifests").lines().map(str::to_string).collect()
}

#[tokio::test]
async fn hosts_refuse_what_ssh_and_the_scripts_would_refuse() {
    let mut lab = lab_scenario("healthy", 300.0).await;
    let node = lab.members[0].name.clone();

    let unknown = on_host(&lab, &node, "curl -k https://localhost:6443");
    assert_eq!(unknown.exit_code, 127);
    assert_eq!(unknown.stderr, "lab host: command not known to the lab: curl -k https://localhost:6443\n");
    assert_eq!(on_host(&lab, &node, "true; sudo rm -rf /").exit_code, 127);
    let cli = lab_host_cli(&lab, &node, &["sudo", "reboot"]);
    assert_eq!(cli.status.code(), Some(127), "{}", stderr(&cli));
    assert_eq!(on_host_ok(&lab, &node, "hostname"), format!("{node}\n"));
    let missing = on_host(&lab, &node, "sudo mv -v /etc/kubernetes/manifests/keepalived.yaml /tmp");
    assert_eq!(missing.exit_code, 1);
    assert_eq!(
        missing.stderr,
        "mv: cannot stat '/etc/kubernetes/manifests/keepalived.yaml': No such file or directory\n"
    );
    let header_only = on_host_ok(&lab, &node, "sudo crictl ps --name keepalived");
    assert_eq!(header_only.lines().count(), 1, "{header_only}");

    // OVN and kubelet files go by glob, in their directory only.
    on_host_ok(&lab, &node, "sudo rm -f /var/lib/ovn-ic/etc/*.db");
    assert_eq!(on_host_ok(&lab, &node, "ls /var/lib/ovn-ic/etc"), "");
    on_host_ok(&lab, &node, "sudo rm -f /var/lib/kubelet/pki/*.pem");
    assert_eq!(on_host_ok(&lab, &node, "ls /var/lib/kubelet/pki"), "");
    on_host_ok(&lab, &node, "sudo systemctl restart ovs-vswitchd ovsdb-server");
    on_host_ok(&lab, &node, "mkdir -p '/home/core/assets/backup'");
    assert_eq!(on_host(&lab, &node, "test -d /home/core/assets/backup").exit_code, 0);

    // A backup whose two files do not belong together is refused before anything changes.
    on_host_ok(&lab, &node, "sudo -E /usr/local/bin/cluster-backup.sh /home/core/backup");
    let dir = lab.members[0].host_root.join("home/core/backup");
    let archive = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .unwrap();
    std::fs::rename(&archive, dir.join("static_kuberesources_2020-01-01_000000.tar.gz")).unwrap();
    let pid = lab.members[0].pid();
    let before = manifests(&lab, &node);
    let refused = on_host(&lab, &node, "sudo -E /usr/local/bin/cluster-restore.sh /home/core/backup");
    assert_eq!(refused.exit_code, 1, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("the snapshot and the static-pod resources must come from the same backup"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("nothing was changed"), "{}", refused.stderr);
    assert_eq!(refused.stdout, "");
    assert_eq!(manifests(&lab, &node), before);
    assert_eq!(lab.members[0].pid(), pid, "etcd was not touched");
    assert_eq!(on_host(&lab, &node, "test -d /var/lib/etcd/member").exit_code, 0);
    assert_eq!(on_host(&lab, &node, "test -e /var/lib/etcd-backup").exit_code, 1);
    assert_eq!(on_host(&lab, &node, "test -e /home/core/assets/manifests-stopped").exit_code, 1);
    let empty = on_host(&lab, &node, "sudo -E /usr/local/bin/cluster-restore.sh /home/core/nowhere");
    assert_eq!(empty.exit_code, 1);
    assert_eq!(healthy_members(&lab).0, 3);

    // A host cut off, then a host crashed: ssh's own failure, exit 255.
    let cut = lab.members[2].name.clone();
    lab.set_host_reachable(2, false).unwrap();
    let refused = on_host(&lab, &cut, "true");
    assert_eq!(refused.exit_code, 255);
    assert_eq!(refused.stderr, format!("ssh: connect to host {} port 22: Connection refused\n", lab.members[2].ip));
    let cli = lab_host_cli(&lab, &cut, &["hostname"]);
    assert_eq!(cli.status.code(), Some(255));
    assert!(hosts::copy_to(&lab.dir, &cut, &dir, "/home/core/assets/backup")
        .unwrap_err()
        .contains("Connection refused"));
    assert!(lab.members[2].pid().is_some(), "its etcd still runs");
    lab.set_host_reachable(2, true).unwrap();
    assert_eq!(on_host(&lab, &cut, "true").exit_code, 0);

    let crashed = lab.members[1].name.clone();
    lab.kill_member(1).unwrap();
    assert_eq!(on_host(&lab, &crashed, "sudo crictl ps").exit_code, 255);
    std::thread::sleep(Duration::from_secs(1));
    assert!(lab.members[1].pid().is_none(), "the kubelet of a crashed host starts nothing");
    assert_eq!(on_host(&lab, "master-9", "true").exit_code, 255);
    assert_eq!(hosts::run(Path::new("/nonexistent-lab"), &node, "true").exit_code, 255);
}

/// The lab's CSRs filed for `node` by its kubelet with the node-bootstrapper (client) signer, and whether each is pending.
fn bootstrap_csrs(lab: &Lab, node: &str) -> Vec<bool> {
    let listed: serde_json::Value = serde_json::from_str(&kubectl_ok(lab, &["get", "csr", "-o", "json"])).unwrap();
    listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["metadata"]["annotations"]["lab.etcd-console/node"] == node)
        .filter(|c| c["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet")
        .map(|c| c["status"]["conditions"].as_array().is_none_or(Vec::is_empty))
        .collect()
}

#[tokio::test]
async fn a_worker_host_answers_the_restores_commands_for_it_and_its_restarted_kubelet_files_a_csr() {
    let lab = lab_scenario("restore", 300.0).await;
    // Its node's name and InternalIP, as the API has them.
    let ip = kubectl_ok(
        &lab,
        &["get", "node", "worker-1", "-o", r#"jsonpath={.status.addresses[?(@.type=="InternalIP")].address}"#],
    );
    assert_eq!(on_host_ok(&lab, "worker-1", "true"), "");
    assert_eq!(on_host_ok(&lab, "worker-1", "hostname"), "worker-1\n");
    let cli = lab_host_cli(&lab, "worker-0", &["hostname"]);
    assert_eq!((cli.status.code(), stdout(&cli)), (Some(0), "worker-0\n".to_string()), "{}", stderr(&cli));
    // Step 9a's command, then 10w's: the PEM files gone, and the kubelet asks for a client certificate again.
    assert_eq!(on_host_ok(&lab, "worker-1", "ls /var/lib/kubelet/pki").lines().count(), 4);
    let before = bootstrap_csrs(&lab, "worker-1");
    on_host_ok(&lab, "worker-1", "sudo sh -c 'rm -f /var/lib/kubelet/pki/*.pem'");
    assert_eq!(on_host_ok(&lab, "worker-1", "ls /var/lib/kubelet/pki"), "");
    on_host_ok(&lab, "worker-1", "sudo systemctl restart kubelet.service");
    let after = eventually("worker-1's node-bootstrapper CSR", Duration::from_secs(10), || {
        let now = bootstrap_csrs(&lab, "worker-1");
        (now.len() > before.len()).then_some(now)
    });
    assert!(after.iter().filter(|pending| **pending).count() == 1, "one pending: {after:?}");
    assert_eq!(on_host_ok(&lab, "worker-0", "ls /var/lib/kubelet/pki").lines().count(), 4, "worker-0 untouched");
    // A worker is no control-plane host: no restore script, no etcd.
    let script = on_host(&lab, "worker-1", "sudo -E /usr/local/bin/cluster-restore.sh /home/core/assets/backup");
    assert_eq!(script.exit_code, 1, "{}", script.stderr);
    assert_eq!(on_host(&lab, "worker-1", "test -d /var/lib/etcd").exit_code, 1);
    // Cut off, it refuses as ssh does; a node the lab has no host of is not resolved.
    hosts::set_unreachable(&lab.dir, "worker-1", true).unwrap();
    let refused = on_host(&lab, "worker-1", "true");
    assert_eq!(refused.exit_code, 255);
    assert_eq!(refused.stderr, format!("ssh: connect to host {} port 22: Connection refused\n", ip.trim()));
    let unknown = on_host(&lab, "worker-9", "true");
    assert_eq!(unknown.exit_code, 255);
    assert!(unknown.stderr.contains("Could not resolve hostname worker-9"), "{}", unknown.stderr);
}
