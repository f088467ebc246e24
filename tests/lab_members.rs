//! The lab rehearses replacing an unhealthy etcd member ("Replacing an
//! unhealthy etcd member", OpenShift 4.14), refereed by the real etcdctl and
//! kubectl: a member whose data is damaged crash-loops on a Ready node, a
//! member whose host is down leaves its node NotReady, and the runbook's fixes
//! done by hand bring a new member (a learner, then promoted) in its place; on
//! the hosted lab, the runbook's `delete pvc/pod --wait=false` does the same.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use etcd_console_lab::Lab;
use serde_json::Value;

const NS: &str = "openshift-etcd";
const GUARD_OFF: &str =
    r#"{"spec":{"unsupportedConfigOverrides":{"useUnsupportedUnsafeNonHANonProductionUnstableEtcd":true}}}"#;
const GUARD_ON: &str = r#"{"spec":{"unsupportedConfigOverrides":null}}"#;

fn etcdctl_json(lab: &Lab, args: &[&str]) -> Value {
    let output = etcdctl(lab, args);
    assert!(output.status.success(), "etcdctl {args:?}: {}", stderr(&output));
    json(&output)
}

/// (name, ID, is learner) of each member, as `etcdctl member list -w json` says.
fn member_list(lab: &Lab) -> Vec<(String, u64, bool)> {
    let list = etcdctl_json(lab, &["member", "list", "-w", "json"]);
    list["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let name = m["name"].as_str().unwrap_or_default().to_string();
            (name, m["ID"].as_u64().unwrap(), m["isLearner"].as_bool().unwrap_or(false))
        })
        .collect()
}

/// How many endpoints `etcdctl endpoint health` (with `extra` flags) calls healthy and unhealthy.
fn health(lab: &Lab, extra: &[&str]) -> (usize, usize, String) {
    let mut args = vec!["endpoint", "health"];
    args.extend(extra);
    let output = etcdctl(lab, &args);
    let text = format!("{}{}", stdout(&output), stderr(&output));
    (text.matches("is healthy").count(), text.matches("is unhealthy").count(), text)
}

fn jsonpath(lab: &Lab, args: &[&str], path: &str) -> String {
    let mut all = args.to_vec();
    let query = format!("-o=jsonpath={path}");
    all.push(&query);
    kubectl_ok(lab, &all)
}

fn condition(lab: &Lab, resource: &[&str], kind: &str, field: &str) -> String {
    jsonpath(lab, resource, &format!(r#"{{.status.conditions[?(@.type=="{kind}")].{field}}}"#))
}

fn node_ready(lab: &Lab, node: &str) -> String {
    condition(lab, &["get", "node", node], "Ready", "status")
}

fn secrets_of(lab: &Lab, node: &str) -> Vec<String> {
    let listed = kubectl_ok(lab, &["get", "secrets", "-n", NS, "-o", "name"]);
    let names = [format!("etcd-peer-{node}"), format!("etcd-serving-{node}"), format!("etcd-serving-metrics-{node}")];
    listed
        .lines()
        .filter_map(|l| l.strip_prefix("secret/"))
        .filter(|n| names.iter().any(|m| m == n))
        .map(str::to_string)
        .collect()
}

/// The runbook's common part: the member removed, the quorum guard off, the node's etcd secrets deleted.
fn remove_member_guard_off_delete_secrets(lab: &Lab, node: &str) -> u64 {
    let old = member_list(lab).into_iter().find(|(n, _, _)| n == node).unwrap_or_else(|| panic!("no member {node}"));
    let removed = etcdctl(lab, &["member", "remove", &format!("{:x}", old.1)]);
    assert!(stdout(&removed).contains("removed from cluster"), "{}{}", stdout(&removed), stderr(&removed));
    kubectl_ok(lab, &["patch", "etcd/cluster", "--type=merge", "-p", GUARD_OFF]);
    let secrets = secrets_of(lab, node);
    assert_eq!(secrets.len(), 3, "every master has its three etcd secrets: {secrets:?}");
    let mut delete = vec!["delete", "secret", "-n", NS];
    delete.extend(secrets.iter().map(String::as_str));
    let deleted = kubectl_ok(lab, &delete);
    assert_eq!(deleted.lines().count(), 3, "{deleted}");
    old.1
}

/// Waits for `node`'s member to come back (new ID, started, voting), watching for it as a learner
/// on the way; true when it was seen a learner.
fn member_comes_back(lab: &Lab, node: &str, old_id: u64, limit: Duration) -> (u64, bool) {
    let mut learner_seen = false;
    let id = eventually(&format!("{node}'s member back, promoted"), limit, || {
        let list = member_list(lab);
        let new = list.iter().find(|(n, id, _)| n == node && *id != old_id);
        let unstarted_learner = list.iter().any(|(n, id, learner)| n.is_empty() && *id != old_id && *learner);
        learner_seen |= new.is_some_and(|m| m.2) || unstarted_learner;
        new.filter(|m| !m.2 && list.len() == 3 && list.iter().all(|(n, _, l)| !n.is_empty() && !l)).map(|m| m.1)
    });
    (id, learner_seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_with_damaged_data_crash_loops_and_the_runbook_replaces_it() {
    // 60x: the forced redeployment rolls a node in two seconds; the kubelet's back-off is real time.
    let lab = lab_scenario("member-corrupt", 60.0).await;
    let pods = ["get", "pods", "-n", NS, "-l", "k8s-app=etcd"];
    let row = eventually("an etcd pod in CrashLoopBackOff after a restart", Duration::from_secs(40), || {
        let table = kubectl_ok(&lab, &pods);
        table.lines().skip(1).map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>()).find(|r| {
            r[2] == "CrashLoopBackOff" && r[3].split(' ').next().and_then(|n| n.parse::<u32>().ok()) >= Some(1)
        })
    });
    assert_eq!(row[1], "2/3", "{row:?}");
    let pod = row[0].clone();
    let node = pod.strip_prefix("etcd-").unwrap().to_string();
    let index = lab.members.iter().position(|m| m.name == node).unwrap();

    // What kubectl shows of the crash loop: the real exit code, the kubelet's back-off message.
    let status: Value = serde_json::from_str(&kubectl_ok(&lab, &["get", "pod", "-n", NS, &pod, "-o", "json"])).unwrap();
    assert_eq!(status["status"]["phase"], "Running");
    let etcd = status["status"]["containerStatuses"].as_array().unwrap().iter().find(|c| c["name"] == "etcd").unwrap();
    assert_eq!(etcd["ready"], false);
    let restarts = etcd["restartCount"].as_u64().unwrap();
    let waiting = &etcd["state"]["waiting"];
    assert_eq!(waiting["reason"], "CrashLoopBackOff", "{etcd}");
    let message = waiting["message"].as_str().unwrap();
    assert!(message.starts_with("back-off "), "{message}");
    assert!(message.contains(&format!("restarting failed container=etcd pod={pod}_{NS}(")), "{message}");
    let terminated = &etcd["lastState"]["terminated"];
    assert_eq!(terminated["exitCode"], 2, "bbolt's panic on a damaged database: {etcd}");
    assert_eq!(terminated["reason"], "Error");
    assert!(terminated["startedAt"].is_string() && terminated["finishedAt"].is_string(), "{terminated}");
    // Each real restart counts.
    eventually("another restart", Duration::from_secs(40), || {
        let count = jsonpath(
            &lab,
            &["get", "pod", "-n", NS, &pod],
            r#"{.status.containerStatuses[?(@.name=="etcd")].restartCount}"#,
        );
        (count.parse::<u64>().unwrap_or(0) > restarts).then_some(())
    });

    // The node and host are fine; etcd and its operator say the member is not.
    assert_eq!(node_ready(&lab, &node), "True");
    assert_eq!(lab.host(index, "hostname").stdout.trim(), node);
    let (healthy, unhealthy, text) = health(&lab, &[]);
    assert_eq!((healthy, unhealthy), (2, 1), "{text}");
    let unhealthy_line = text.lines().find(|l| l.contains("is unhealthy")).unwrap_or_default();
    assert!(unhealthy_line.contains(&lab.members[index].client_url), "{text}");
    let expected = format!("2 of 3 members are available, {node} is unhealthy");
    let degraded = eventually("etcd Degraded", Duration::from_secs(10), || {
        let message = condition(&lab, &["get", "clusteroperator", "etcd"], "Degraded", "message");
        (!message.is_empty()).then_some(message)
    });
    assert_eq!(degraded, format!("EtcdMembersDegraded: {expected}"));
    assert_eq!(condition(&lab, &["get", "etcd", "cluster"], "EtcdMembersAvailable", "message"), expected);

    // The runbook, by hand: manifest and data aside through the host's shell, the member removed,
    // the guard off, the node's secrets deleted, a forced redeployment.
    let moved = lab.host(index, "sudo mv -v /etc/kubernetes/manifests/etcd-pod.yaml /tmp");
    assert_eq!(moved.exit_code, 0, "{}", moved.stderr);
    let moved = lab.host(index, "sudo mv /var/lib/etcd/ /tmp");
    assert_eq!(moved.exit_code, 0, "{}", moved.stderr);
    let old_id = remove_member_guard_off_delete_secrets(&lab, &node);
    let reason = format!("single-master-recovery-{}", humantime::format_rfc3339_seconds(std::time::SystemTime::now()));
    let patch = format!(r#"{{"spec":{{"forceRedeploymentReason":"{reason}"}}}}"#);
    kubectl_ok(&lab, &["patch", "etcd", "cluster", "--type=merge", "-p", &patch]);

    let (new_id, learner_seen) = member_comes_back(&lab, &node, old_id, Duration::from_secs(120));
    assert_ne!(new_id, old_id);
    assert!(learner_seen, "the operator adds the member as a learner first");
    eventually("three healthy members", Duration::from_secs(30), || {
        let (healthy, unhealthy, _) = health(&lab, &["--cluster"]);
        (healthy == 3 && unhealthy == 0).then_some(())
    });
    eventually("the node's secrets issued again", Duration::from_secs(10), || {
        (secrets_of(&lab, &node).len() == 3).then_some(())
    });
    kubectl_ok(&lab, &["patch", "etcd/cluster", "--type=merge", "-p", GUARD_ON]);
    eventually("etcd AllNodesAtLatestRevision", Duration::from_secs(60), || {
        let reason = condition(&lab, &["get", "etcd", "cluster"], "NodeInstallerProgressing", "reason");
        (reason == "AllNodesAtLatestRevision").then_some(())
    });
    eventually("the pod Running and ready again", Duration::from_secs(20), || {
        let table = kubectl_ok(&lab, &pods);
        table
            .lines()
            .any(|l| l.starts_with(&format!("{pod} ")) && l.contains(" 3/3 ") && l.contains(" Running "))
            .then_some(())
    });
    eventually("etcd no longer Degraded", Duration::from_secs(10), || {
        let available = condition(&lab, &["get", "etcd", "cluster"], "EtcdMembersAvailable", "message");
        (condition(&lab, &["get", "clusteroperator", "etcd"], "Degraded", "status") == "False"
            && available == "3 members are available")
            .then_some(())
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_whose_host_is_down_is_replaced_with_a_new_machine() {
    // 60x: a Machine provisions in three seconds.
    let lab = lab_scenario("member-down", 60.0).await;
    let index = lab.members.iter().position(|m| m.pid().is_none()).unwrap();
    let node = lab.members[index].name.clone();
    let machine = format!("lab-7xk2p-{node}");
    let machines = ["get", "machine", "-n", "openshift-machine-api"];

    // The machine is not running and the node is NotReady, as the runbook's first case reads.
    eventually("the node's Ready Unknown", Duration::from_secs(10), || {
        (node_ready(&lab, &node) == "Unknown").then_some(())
    });
    assert_eq!(condition(&lab, &["get", "node", &node], "Ready", "reason"), "NodeStatusUnknown");
    let nodes = kubectl_ok(&lab, &["get", "nodes", &node, "--no-headers"]);
    assert!(nodes.contains(" NotReady "), "{nodes}");
    let mut of_machine = machines.to_vec();
    of_machine.push(&machine);
    eventually("the Machine's instance stopped", Duration::from_secs(10), || {
        let state = jsonpath(&lab, &of_machine, "{.status.phase} {.status.providerStatus.instanceState}");
        (state == "Running stopped").then_some(())
    });
    let degraded = eventually("etcd Degraded", Duration::from_secs(10), || {
        let message = condition(&lab, &["get", "clusteroperator", "etcd"], "Degraded", "message");
        (!message.is_empty()).then_some(message)
    });
    assert_eq!(degraded, format!("EtcdMembersDegraded: 2 of 3 members are available, {node} is unhealthy"));

    // The runbook: member removed, guard off, secrets deleted, the Machine deleted.
    let old_id = remove_member_guard_off_delete_secrets(&lab, &node);
    let deleted = kubectl_ok(&lab, &["delete", "machine", "-n", "openshift-machine-api", &machine]);
    assert_eq!(deleted.trim(), format!(r#"machine.machine.openshift.io "{machine}" deleted"#));
    let replacement = ["get", "machine", "-n", "openshift-machine-api", "lab-7xk2p-master-3"];
    let mut phases = Vec::new();
    eventually("the replacement Machine Running", Duration::from_secs(30), || {
        let phase = kubectl(&lab, &[&replacement[..], &["-o=jsonpath={.status.phase}"]].concat());
        let phase = stdout(&phase);
        if !phase.is_empty() && phases.last() != Some(&phase) {
            phases.push(phase.clone());
        }
        (phase == "Running").then_some(())
    });
    assert_eq!(phases, ["Provisioning", "Provisioned", "Running"]);
    kubectl_ok(&lab, &["patch", "etcd/cluster", "--type=merge", "-p", GUARD_ON]);

    // The new node's kubelet asks for a client certificate, then a serving one; Ready after both.
    let pending = |signer: &str, requestor: &str| -> Option<String> {
        let csrs: Value = serde_json::from_str(&kubectl_ok(&lab, &["get", "csr", "-o", "json"])).unwrap();
        csrs["items"].as_array()?.iter().find_map(|c| {
            let pending = c["status"]["conditions"].as_array().is_none_or(|c| c.is_empty());
            (pending && c["spec"]["signerName"] == signer && c["spec"]["username"] == requestor)
                .then(|| c["metadata"]["name"].as_str().unwrap_or_default().to_string())
        })
    };
    let bootstrapper = "system:serviceaccount:openshift-machine-config-operator:node-bootstrapper";
    let client = eventually("a node-bootstrapper CSR", Duration::from_secs(10), || {
        pending("kubernetes.io/kube-apiserver-client-kubelet", bootstrapper)
    });
    assert_ne!(node_ready(&lab, &node), "True", "not Ready before its CSRs are approved");
    kubectl_ok(&lab, &["certificate", "approve", &client]);
    let serving = eventually("a kubelet-serving CSR", Duration::from_secs(10), || {
        pending("kubernetes.io/kubelet-serving", &format!("system:node:{node}"))
    });
    assert_eq!(node_ready(&lab, &node), "False", "registered, not Ready before its serving CSR is approved");
    kubectl_ok(&lab, &["certificate", "approve", &serving]);
    eventually("the node Ready", Duration::from_secs(10), || (node_ready(&lab, &node) == "True").then_some(()));

    // The etcd operator adds the new node's member: a learner, then promoted.
    let (new_id, learner_seen) = member_comes_back(&lab, &node, old_id, Duration::from_secs(120));
    assert_ne!(new_id, old_id);
    assert!(learner_seen, "the operator adds the member as a learner first");
    eventually("three healthy members", Duration::from_secs(30), || {
        let (healthy, unhealthy, _) = health(&lab, &["--cluster"]);
        (healthy == 3 && unhealthy == 0).then_some(())
    });
    eventually("the node's secrets issued again", Duration::from_secs(10), || {
        (secrets_of(&lab, &node).len() == 3).then_some(())
    });
    assert_eq!(lab.host(index, "hostname").stdout.trim(), node, "the new host answers ssh");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hosted_replica_with_damaged_data_is_fixed_by_deleting_its_claim_and_pod() {
    let lab = lab_scenario("hosted-member-crashloop", 1.0).await;
    let cp = "clusters-hosted";
    let pods = ["get", "pods", "-n", cp, "-l", "app=etcd"];
    let row = eventually("a hosted etcd pod in CrashLoopBackOff", Duration::from_secs(40), || {
        let table = kubectl_ok(&lab, &pods);
        table
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .find(|r| r[2] == "CrashLoopBackOff" && r[3] != "0")
    });
    assert_eq!(row[1], "1/2", "{row:?}");
    let pod = row[0].clone();
    let replica: usize = pod.strip_prefix("etcd-").unwrap().parse().unwrap();
    let terminated = jsonpath(
        &lab,
        &["get", "pod", "-n", cp, &pod],
        r#"{.status.containerStatuses[?(@.name=="etcd")].lastState.terminated.exitCode}"#,
    );
    assert_eq!(terminated, "2");
    let member = lab.members[replica].name.clone();
    let old_id = member_list(&lab).into_iter().find(|(n, _, _)| *n == member).unwrap().1;

    // The runbook's fix.
    let claim = format!("pvc/data-{pod}");
    let deleted = kubectl_ok(&lab, &["delete", "-n", cp, &claim, &format!("pod/{pod}"), "--wait=false"]);
    assert_eq!(deleted.lines().count(), 2, "{deleted}");
    eventually("the replica 2/2 Running", Duration::from_secs(90), || {
        let table = kubectl_ok(&lab, &pods);
        table
            .lines()
            .any(|l| l.starts_with(&format!("{pod} ")) && l.contains(" 2/2 ") && l.contains(" Running "))
            .then_some(())
    });
    let new_id = eventually("the member back with a new ID", Duration::from_secs(60), || {
        let list = member_list(&lab);
        list.iter().find(|(n, id, _)| *n == member && *id != old_id).map(|m| m.1)
    });
    assert_ne!(new_id, old_id);
    etcdctl(&lab, &["put", "/lab/after-fix", "yes"]);
    eventually("every member at the same revision and hash", Duration::from_secs(30), || {
        let (healthy, _, _) = health(&lab, &["--cluster"]);
        let hashes = etcdctl_json(&lab, &["endpoint", "hashkv", "--cluster", "-w", "json"]);
        let hashes: Vec<u64> = hashes.as_array()?.iter().filter_map(|h| h["HashKV"]["hash"].as_u64()).collect();
        let status = etcdctl_json(&lab, &["endpoint", "status", "--cluster", "-w", "json"]);
        let revisions: Vec<u64> =
            status.as_array()?.iter().filter_map(|s| s["Status"]["header"]["revision"].as_u64()).collect();
        let same = |v: &[u64]| v.len() == 3 && v.iter().all(|x| *x == v[0]);
        (healthy == 3 && same(&hashes) && same(&revisions)).then_some(())
    });
}
