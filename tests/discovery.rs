//! Finding etcd from a kubeconfig alone, against the lab's real members and its
//! simulated API (which serves pods/portforward over WebSocket as a real one
//! does): the members from the etcd pods, TLS from the cluster's secret, each
//! member at its pod IP or through a port-forward; figures refereed by etcdctl.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use etcd_console_lab::Lab;
use serde_json::Value;

fn kubeconfig(lab: &Lab) -> std::path::PathBuf {
    lab.kubeconfig.clone().unwrap_or_else(|| panic!("the lab runs no API"))
}

/// `status -o json` found through the cluster, compared with etcdctl's
/// `endpoint status --cluster` taken before and after it on a cluster standing still.
fn status_equal_to_etcdctl(lab: &Lab, extra: &[&str], via: &str) -> Value {
    let referee = || {
        let output = etcdctl(lab, &["endpoint", "status", "--cluster", "-w", "json"]);
        assert!(output.status.success(), "etcdctl: {}", stderr(&output));
        json(&output)
    };
    let mut args = vec!["status", "-o", "json"];
    args.extend_from_slice(extra);
    let (ours, theirs) = while_standing_still(referee, || {
        let ours = console_with_kubeconfig_only(lab, &kubeconfig(lab), &args);
        assert_eq!(ours.status.code(), Some(0), "{args:?}: {}", stderr(&ours));
        json(&ours)
    });
    let found = &ours["etcd_found"];
    let reached = found["members"].as_array().cloned().unwrap_or_default();
    assert_eq!(reached.len(), lab.members.len(), "{found}");
    for member in &reached {
        assert_eq!(member["via"], via, "{found}");
        assert!(member["pod"].is_string(), "every member matched to its pod: {found}");
    }
    let members = ours["members"].as_array().cloned().unwrap_or_default();
    let theirs = theirs.as_array().cloned().unwrap_or_default();
    assert_eq!(members.len(), theirs.len());
    for entry in &theirs {
        let endpoint = entry["Endpoint"].as_str().unwrap_or_default();
        let status = &entry["Status"];
        let member = members
            .iter()
            .find(|m| m["endpoint"] == endpoint)
            .unwrap_or_else(|| panic!("{endpoint} missing from {members:?}"));
        assert_member_equals_etcdctl(member, status, endpoint);
    }
    ours
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kubeconfig_alone_reaches_every_member_at_its_pod_ip_and_through_port_forwards() {
    let lab = lab_scenario("healthy", 1.0).await;
    // The pods' IPs answer here, so auto goes straight to them.
    let direct = status_equal_to_etcdctl(&lab, &[], "pod-ip");
    assert_eq!(direct["etcd_found"]["namespace"], "openshift-etcd");
    let pods = direct["etcd_found"]["pods"].as_array().cloned().unwrap_or_default();
    let pod_names: Vec<&str> = pods.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(pod_names, ["etcd-master-0", "etcd-master-1", "etcd-master-2"]);
    status_equal_to_etcdctl(&lab, &["--etcd-via", "pod-ip"], "pod-ip");
    // Every byte through the API: the same figures.
    status_equal_to_etcdctl(&lab, &["--etcd-via", "port-forward"], "port-forward");

    // The table says where etcd was found and how.
    let table = console_with_kubeconfig_only(&lab, &kubeconfig(&lab), &["status", "--etcd-via", "port-forward"]);
    assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(text.contains("3 pods in openshift-etcd, 3 member(s) reached, 3 through port-forwards"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hosted_clusters_etcd_is_found_on_its_management_cluster() {
    let lab = lab_scenario("hosted", 1.0).await;
    let hosted = ["--hosted-cluster", "clusters/hosted"];
    let found = status_equal_to_etcdctl(&lab, &[&hosted[..], &["--etcd-via", "port-forward"]].concat(), "port-forward");
    assert_eq!(found["etcd_found"]["namespace"], "clusters-hosted");
    let pods = found["etcd_found"]["pods"].as_array().cloned().unwrap_or_default();
    let pod_names: Vec<&str> = pods.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(pod_names, ["etcd-0", "etcd-1", "etcd-2"]);
    status_equal_to_etcdctl(&lab, &hosted, "pod-ip");

    // A hosted cluster that is not there, or a malformed name: exit 2, said plainly.
    let missing =
        console_with_kubeconfig_only(&lab, &kubeconfig(&lab), &["status", "--hosted-cluster", "clusters/nope"]);
    assert_eq!(missing.status.code(), Some(2));
    let message = stderr(&missing);
    assert!(message.contains("no etcd pod found with app=etcd in clusters-nope"), "{message}");
    let both = console_with_kubeconfig_only(
        &lab,
        &kubeconfig(&lab),
        &["status", "--hosted-cluster", "clusters/hosted", "--endpoints", "https://127.0.0.11:2379"],
    );
    assert_eq!(both.status.code(), Some(2));
    assert!(stderr(&both).contains("not both"), "{}", stderr(&both));
    let malformed = console_with_kubeconfig_only(&lab, &kubeconfig(&lab), &["status", "--hosted-cluster", "hosted"]);
    assert_eq!(malformed.status.code(), Some(2));
    assert!(stderr(&malformed).contains("--hosted-cluster wants NAMESPACE/NAME"), "{}", stderr(&malformed));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_right_to_port_forward_the_403_is_shown_and_pod_ips_still_work() {
    let lab = lab_scenario("healthy", 1.0).await;
    let readonly = ["--context", "lab-readonly"];
    let refused = console_with_kubeconfig_only(
        &lab,
        &kubeconfig(&lab),
        &[&["status"][..], &readonly, &["--etcd-via", "port-forward"]].concat(),
    );
    assert_eq!(refused.status.code(), Some(2));
    let message = stderr(&refused);
    assert!(
        message.contains("User \"lab-viewer\" cannot create resource \"pods/portforward\"")
            && message.contains("etcd-master-0"),
        "{message}"
    );
    // Reading the pods and the secret is allowed, and the pod IPs answer.
    let direct =
        console_with_kubeconfig_only(&lab, &kubeconfig(&lab), &[&["status", "-o", "json"][..], &readonly].concat());
    assert_eq!(direct.status.code(), Some(0), "{}", stderr(&direct));
    assert_eq!(json(&direct)["members"].as_array().map(Vec::len), Some(3));

    // kubectl's own port-forward tunnels SPDY, which the lab does not serve: said plainly.
    let spdy = kubectl(&lab, &["port-forward", "-n", "openshift-etcd", "pod/etcd-master-0", "0:2379"]);
    assert!(!spdy.status.success());
    assert!(stderr(&spdy).contains("the lab serves port-forward over WebSocket only"), "{}", stderr(&spdy));
    // kubectl agrees the viewer may not port-forward.
    let can = kubectl(
        &lab,
        &["auth", "can-i", "create", "pods/portforward", "-n", "openshift-etcd", "--context", "lab-readonly"],
    );
    assert_eq!(stdout(&can).trim(), "no");
}

#[tokio::test(flavor = "multi_thread")]
async fn explicit_endpoints_win_over_the_kubeconfig_and_no_etcd_pods_is_said_plainly() {
    let lab = lab_scenario("kubernetes", 1.0).await;
    // A plain Kubernetes cluster has no openshift-etcd pods.
    let output = console_with_kubeconfig_only(&lab, &kubeconfig(&lab), &["status"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("no etcd pod found with k8s-app=etcd in openshift-etcd"), "{message}");
    assert!(message.contains("give --endpoints"), "{message}");
    // With the lab's ETCDCTL_* environment the endpoints are used, kubeconfig or not.
    let output = console(&lab, &["status", "-o", "json", "--kubeconfig", &path_str(&kubeconfig(&lab))]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(json(&output)["etcd_found"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_pod_ips_cannot_be_reached_auto_goes_through_port_forwards() {
    // The members advertise, and their pods carry, addresses nothing answers on here.
    let options = etcd_console_lab::LabOptions { isolated_pods: true, ..common::lab_options() };
    let lab = Lab::start(options).await.unwrap_or_else(|e| panic!("the lab did not start: {e}"));
    // As from a bastion: etcdctl --cluster (the advertised URLs) gets nowhere.
    let cluster = etcdctl(&lab, &["endpoint", "status", "--cluster", "--command-timeout", "2s"]);
    assert!(!cluster.status.success());
    assert!(stderr(&cluster).contains("connection refused"), "{}", stderr(&cluster));

    let referee = || {
        // etcdctl at the members' real listening addresses (the lab's ETCDCTL_ENDPOINTS).
        let output = etcdctl(&lab, &["endpoint", "status", "-w", "json"]);
        assert!(output.status.success(), "etcdctl: {}", stderr(&output));
        json(&output)
    };
    let (ours, theirs) = while_standing_still(referee, || {
        let ours = console_with_kubeconfig_only(&lab, &kubeconfig(&lab), &["status", "-o", "json"]);
        assert_eq!(ours.status.code(), Some(0), "{}", stderr(&ours));
        json(&ours)
    });
    let reached = ours["etcd_found"]["members"].as_array().cloned().unwrap_or_default();
    assert_eq!(reached.len(), 3);
    for member in &reached {
        assert_eq!(member["via"], "port-forward", "{member}");
        assert!(member["url"].as_str().unwrap_or_default().starts_with("https://127.0.1."), "{member}");
    }
    let members = ours["members"].as_array().cloned().unwrap_or_default();
    for entry in theirs.as_array().cloned().unwrap_or_default() {
        let status = &entry["Status"];
        let id = format!("{:x}", status["header"]["member_id"].as_u64().unwrap_or_default());
        let member = members.iter().find(|m| m["id"] == id.as_str()).unwrap_or_else(|| panic!("{id} missing"));
        assert_member_equals_etcdctl(member, status, &id);
    }
    // --etcd-via pod-ip is refused by the network, said per member.
    let direct = console_with_kubeconfig_only(&lab, &kubeconfig(&lab), &["status", "--etcd-via", "pod-ip"]);
    assert_eq!(direct.status.code(), Some(2));
    assert!(stderr(&direct).contains("Connection refused"), "{}", stderr(&direct));
}
