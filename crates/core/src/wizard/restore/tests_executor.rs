//! The executor's pure parts (survey, act, check), on objects captured from real
//! clusters where the referee has them (`shared/referee/openshift`, see its
//! SOURCES.md). Objects it has no capture of (pods, Machines, Infrastructure,
//! Network, webhook configurations, workloads) are written here in the shape the
//! API gives them; the lab's seed is not used.

use std::collections::BTreeSet;
use std::path::PathBuf;

use k8s_openapi::api::admissionregistration::v1::{MutatingWebhookConfiguration, ValidatingWebhookConfiguration};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{json, Value};

use super::act::{
    csrs_approved, etcd_stopped, failure_policy_patch, foreign_backups, marked_failure_policy_patch,
    quorum_guard_patch, reboot_sent, webhook_entry,
};
use super::check::{
    failure_policies, host_prints, last_forced, machine_replaced, members_healthy, moved, moved_source, nodes_ready,
    not_ready, one_hash, one_revision, paused_verdict, pods_running, quorum_guard, replicas_verdict, rollout_settled,
    webhook_policy, Workload,
};
use super::executor::Checked;
use super::survey::{
    api_vips, etcd_set, hosted_paused, hosts_of, internal_ip, is_control_plane, members_of_pods, mutating_fail_closed,
    node_ready, observe_cluster, proxy_in_force, validating_fail_closed, validating_left_ignore, ClusterReads,
};
use super::{Act, Action, Observed, Operator, Options, Procedure, RestoreRun, Survey};
use crate::cluster::MemberIdentity;
use crate::hosts::HostOutput;
use crate::openshift::model;

/// Where the referee's captured OpenShift objects are (the one place to change if the crate moves).
fn referee(path: &str) -> PathBuf {
    crate::referee::dir().join(path)
}

fn captured(path: &str) -> Value {
    let file = referee(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn captured_as<K: serde::de::DeserializeOwned>(path: &str) -> K {
    serde_json::from_value(captured(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const SNO: &str = "sno-2023-03-09T14-31-10Z";
const SNO_ROLLING: &str = "sno-2023-03-09T14-24-57Z";
const SNO_NODE: &str = "sno-2023-03-09T14-31-10Z/node.core.vrutkovs-sno.json";
const OKD_NODE: &str = "sources/okd-lab-node.json";
const MASTER_4_7: &str = "insights-4.7.16/node.core.master-0.imeixner20210707.lab.upshift.rdu2.redhat.com.json";
const WORKER_4_7: &str = "insights-4.7.16/node.core.worker-0.imeixner20210707.lab.upshift.rdu2.redhat.com.json";

fn holds(checked: Checked) -> String {
    match checked {
        Checked::Holds(said) => said,
        Checked::NotYet(said) => panic!("expected it to hold; not yet: {said}"),
    }
}

fn not_yet(checked: Checked) -> String {
    match checked {
        Checked::NotYet(said) => said,
        Checked::Holds(said) => panic!("expected not yet; it holds: {said}"),
    }
}

/// A real node whose kubelet stopped posting: Ready turns Unknown, as the node controller sets it.
fn gone_silent(mut node: Value) -> Node {
    for condition in node["status"]["conditions"].as_array_mut().into_iter().flatten() {
        if condition["type"] == "Ready" {
            condition["status"] = json!("Unknown");
            condition["reason"] = json!("NodeStatusUnknown");
        }
    }
    serde_json::from_value(node).unwrap_or_else(|e| panic!("{e}"))
}

fn machine(name: &str, role: &str, node: Option<&str>, phase: Option<&str>) -> Value {
    let mut m = json!({
        "apiVersion": "machine.openshift.io/v1beta1",
        "kind": "Machine",
        "metadata": {
            "name": name,
            "namespace": "openshift-machine-api",
            "labels": {
                "machine.openshift.io/cluster-api-cluster": "lab-x8k2p",
                "machine.openshift.io/cluster-api-machine-role": role,
                "machine.openshift.io/cluster-api-machine-type": role,
            },
        },
        "spec": {},
        "status": {},
    });
    if let Some(node) = node {
        m["status"]["nodeRef"] = json!({"kind": "Node", "name": node});
    }
    if let Some(phase) = phase {
        m["status"]["phase"] = json!(phase);
    }
    m
}

/// A pod as the API lists it: `ready` None leaves out the Ready condition (a pod not yet scheduled).
fn pod(name: &str, node: &str, phase: &str, ready: Option<bool>) -> Pod {
    let mut conditions = vec![json!({"type": "PodScheduled", "status": "True"})];
    if let Some(ready) = ready {
        let status = if ready { "True" } else { "False" };
        conditions.push(json!({"type": "Ready", "status": status}));
        conditions.push(json!({"type": "ContainersReady", "status": status}));
    }
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "openshift-etcd", "labels": {"app": "etcd"}},
        "spec": {"nodeName": node, "containers": [{"name": "etcd", "image": "quay.io/openshift-release-dev/ocp-v4.0-art-dev"}]},
        "status": {"phase": phase, "conditions": conditions, "podIP": "10.0.0.1"},
    }))
    .unwrap_or_else(|e| panic!("{e}"))
}

fn output(exit_code: i32, stdout: &str, stderr: &str) -> HostOutput {
    HostOutput { exit_code, stdout: stdout.into(), stderr: stderr.into() }
}

fn reads(version: Value) -> ClusterReads {
    ClusterReads {
        version: Ok(Some(version)),
        infrastructure: Ok(None),
        proxy: Ok(None),
        nodes: Ok(Some(Vec::new())),
        machines: Ok(None),
        network: Ok(None),
        ovn_pods: Ok(None),
        etcd: Ok(None),
        fail_webhooks: Ok(Vec::new()),
        ignored_webhooks: Ok(Vec::new()),
    }
}

const SERVER: &str = "https://api.lab:6443";

// ---- survey ----

#[test]
fn a_real_single_node_clusters_node_is_a_ready_control_plane_host_at_its_internal_ip() {
    let node: Node = captured_as(SNO_NODE);
    // It carries the worker role too: still a control-plane host (its etcd member is restored).
    assert!(is_control_plane(&node));
    let (control_plane, workers) = hosts_of(&[node], &[]);
    assert!(workers.is_empty(), "{workers:?}");
    assert_eq!(control_plane.len(), 1);
    let host = &control_plane[0];
    assert_eq!((host.name.as_str(), host.ip.as_str(), host.ready), ("vrutkovs-sno", "10.0.130.93", true));
    assert_eq!(host.machine, None, "no Machine names it");
    assert_eq!(host.reachable, None, "not asked yet");
}

#[test]
fn a_4_7_master_with_only_the_master_label_is_control_plane_and_its_worker_is_a_worker() {
    let master: Node = captured_as(MASTER_4_7);
    let worker: Node = captured_as(WORKER_4_7);
    assert!(is_control_plane(&master), "4.7 masters have no control-plane label yet");
    assert!(!is_control_plane(&worker));
    let (control_plane, workers) = hosts_of(&[worker, master], &[]);
    assert_eq!(
        control_plane.iter().map(|h| (h.name.as_str(), h.ip.as_str())).collect::<Vec<_>>(),
        [("master-0.imeixner20210707.lab.upshift.rdu2.redhat.com", "10.0.88.27")]
    );
    assert_eq!(workers, ["worker-0.imeixner20210707.lab.upshift.rdu2.redhat.com"]);
}

#[test]
fn a_control_plane_host_gets_the_machine_whose_node_ref_names_it() {
    let node: Node = captured_as(OKD_NODE);
    let machines = [
        machine("okd4-x7k2p-master-0", "master", Some("okd4-control-plane-0.lab.okd.local"), Some("Running")),
        machine("okd4-x7k2p-master-1", "master", Some("okd4-control-plane-1.lab.okd.local"), Some("Running")),
        machine("okd4-x7k2p-master-2", "master", None, Some("Provisioning")),
    ];
    let (control_plane, _) = hosts_of(&[node], &machines);
    assert_eq!(control_plane[0].name, "okd4-control-plane-1.lab.okd.local");
    assert_eq!(control_plane[0].ip, "192.168.112.103");
    // The Machine a lost host's step deletes, and the one never deleted on the recovery host.
    assert_eq!(control_plane[0].machine.as_deref(), Some("okd4-x7k2p-master-1"));
}

#[test]
fn a_node_that_stopped_posting_is_not_ready_unless_its_host_is_declared_lost() {
    let silent = gone_silent(captured(OKD_NODE));
    let ready: Node = captured_as(SNO_NODE);
    assert!(node_ready(&ready));
    assert!(!node_ready(&silent), "Ready Unknown is not Ready");
    let (control_plane, _) = hosts_of(std::slice::from_ref(&silent), &[]);
    assert!(!control_plane[0].ready, "the survey shows it not Ready");

    let nodes = [ready, silent];
    let left = not_ready(&nodes, &[]);
    assert_eq!(left, ["okd4-control-plane-1.lab.okd.local"]);
    assert_eq!(not_yet(nodes_ready(&left)), "NotReady: okd4-control-plane-1.lab.okd.local");
    // Declared lost: its Machine is made again later; the step does not wait for it.
    let lost = ["okd4-control-plane-1.lab.okd.local".to_string()];
    assert!(not_ready(&nodes, &lost).is_empty());
    assert_eq!(holds(nodes_ready(&not_ready(&nodes, &lost))), "every node Ready");
}

#[test]
fn a_node_without_an_internal_ip_gives_no_ip_rather_than_its_host_name() {
    let mut node = captured(OKD_NODE);
    node["status"]["addresses"].as_array_mut().into_iter().flatten().for_each(|a| {
        if a["type"] == "InternalIP" {
            a["type"] = json!("ExternalIP");
        }
    });
    let node: Node = serde_json::from_value(node).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(internal_ip(&node), "");
}

#[test]
fn the_real_cluster_versions_give_the_cluster_id_and_only_a_completed_version() {
    // 4.7.16: installed (Completed).
    let mut survey = Survey::default();
    assert!(observe_cluster(
        &mut survey,
        Procedure::Standalone,
        SERVER,
        reads(captured("insights-4.7.16/clusterversion.config.openshift.io.version.json"))
    ));
    assert_eq!(survey.cluster_id.as_deref(), Some("84ef291d-8f1b-4d28-ab34-cfddff941b84"));
    assert_eq!(survey.version.as_deref(), Some("4.7.16"));
    // No Infrastructure read: the person confirms with the cluster ID.
    assert_eq!(survey.cluster_name, "84ef291d-8f1b-4d28-ab34-cfddff941b84");

    // Mid-install (Partial): no version to compare the backup's with.
    let mut survey = Survey::default();
    let mut read = reads(captured(&format!("{SNO}/clusterversion.config.openshift.io.version.json")));
    read.infrastructure = Ok(Some(json!({"status": {"infrastructureName": "vrutkovs-sno-4xk2p"}})));
    assert!(observe_cluster(&mut survey, Procedure::Standalone, SERVER, read));
    assert_eq!(survey.cluster_id.as_deref(), Some("f6f009e8-52a4-44f0-9da3-8f1555e3132b"));
    assert_eq!(survey.version, None);
    assert_eq!(survey.cluster_name, "vrutkovs-sno-4xk2p", "the infrastructure name comes first");
}

#[test]
fn an_api_without_cluster_version_is_not_openshift_unless_it_manages_a_hosted_cluster() {
    let mut read = reads(Value::Null);
    read.version = Ok(None);
    let mut survey = Survey::default();
    assert!(!observe_cluster(&mut survey, Procedure::Standalone, SERVER, read));
    assert_eq!(
        survey.unreadable.as_deref(),
        Some("https://api.lab:6443 serves no clusterversions.config.openshift.io/version: not an OpenShift cluster; the restore wizards need its API")
    );

    // A management cluster: read on, the HostedCluster gives the identity.
    let mut read = reads(Value::Null);
    read.version = Err("reading clusterversion/version: not allowed (403 Forbidden): no".into());
    let mut survey = Survey::default();
    assert!(observe_cluster(&mut survey, Procedure::Hosted, SERVER, read));
    assert_eq!(survey.unreadable, None);
    assert_eq!(survey.cluster_name, SERVER, "nothing else names it yet");

    // Standalone, the error is what the person sees.
    let mut read = reads(Value::Null);
    read.version = Err("reading clusterversion/version: the API did not answer: timeout".into());
    let mut survey = Survey::default();
    assert!(!observe_cluster(&mut survey, Procedure::Standalone, SERVER, read));
    assert_eq!(survey.unreadable.as_deref(), Some("reading clusterversion/version: the API did not answer: timeout"));
}

#[test]
fn nodes_that_cannot_be_listed_stop_the_survey_but_machines_that_cannot_do_not() {
    let version = captured("insights-4.7.16/clusterversion.config.openshift.io.version.json");
    let mut read = reads(version.clone());
    read.nodes = Err("listing nodes: not allowed (403 Forbidden): nodes is forbidden".into());
    let mut survey = Survey::default();
    assert!(!observe_cluster(&mut survey, Procedure::Standalone, SERVER, read));
    assert_eq!(survey.unreadable.as_deref(), Some("listing nodes: not allowed (403 Forbidden): nodes is forbidden"));

    let mut read = reads(version);
    read.nodes = Ok(Some(vec![captured_as(MASTER_4_7), captured_as(WORKER_4_7)]));
    read.machines = Err("listing machines: not allowed (403 Forbidden)".into());
    let mut survey = Survey::default();
    assert!(observe_cluster(&mut survey, Procedure::Standalone, SERVER, read));
    assert_eq!(survey.control_plane.len(), 1);
    assert_eq!(survey.control_plane[0].machine, None);
    assert_eq!(survey.workers.len(), 1);
}

#[test]
fn ovn_is_network_clusters_word_and_only_without_it_its_pods_tell() {
    let version = captured("insights-4.7.16/clusterversion.config.openshift.io.version.json");
    let ovn_pod = || Ok(Some(vec![pod("ovnkube-node-4xk2p", "master-0", "Running", Some(true))]));
    let ovn = |network: Result<Option<Value>, String>, ovn_pods| {
        let mut read = reads(version.clone());
        read.network = network;
        read.ovn_pods = ovn_pods;
        let mut survey = Survey::default();
        assert!(observe_cluster(&mut survey, Procedure::Standalone, SERVER, read));
        survey.ovn
    };
    assert!(ovn(Ok(Some(json!({"spec": {"networkType": "OVNKubernetes"}}))), Ok(None)));
    assert!(ovn(Ok(Some(json!({"spec": {}, "status": {"networkType": "OVNKubernetes"}}))), Ok(None)));
    // Network says OpenShiftSDN: a leftover pod does not make it OVN.
    assert!(!ovn(Ok(Some(json!({"spec": {"networkType": "OpenShiftSDN"}}))), ovn_pod()));
    // Network not readable: the OVN namespace's pods tell.
    assert!(ovn(Err("reading network/cluster: not allowed (403 Forbidden)".into()), ovn_pod()));
    assert!(!ovn(Ok(None), Ok(Some(Vec::new()))));
}

#[test]
fn the_quorum_guard_is_surveyed_off_on_the_real_single_node_4_7_etcd_and_on_elsewhere() {
    let version = captured("insights-4.7.16/clusterversion.config.openshift.io.version.json");
    let guard_off = |etcd: Value| {
        let mut read = reads(version.clone());
        read.etcd = Ok(Some(etcd));
        let mut survey = Survey::default();
        assert!(observe_cluster(&mut survey, Procedure::Standalone, SERVER, read));
        survey.quorum_guard_off
    };
    assert!(guard_off(captured("insights-4.7.16/etcd.operator.openshift.io.cluster.json")));
    assert!(!guard_off(captured(&format!("{SNO}/etcd.operator.openshift.io.cluster.json"))));
}

#[test]
fn api_vips_are_keepalived_s_only_and_a_proxy_counts_once_its_status_has_one() {
    let infrastructure = json!({"status": {"platformStatus": {
        "type": "BareMetal",
        "baremetal": {"apiServerInternalIP": "192.168.111.5", "apiServerInternalIPs": ["192.168.111.5", "fd2e:6f44:5dd8::5"], "ingressIPs": ["192.168.111.4"]},
    }}});
    assert_eq!(api_vips(&infrastructure), ["192.168.111.5", "fd2e:6f44:5dd8::5"]);
    let older =
        json!({"status": {"platformStatus": {"type": "VSphere", "vsphere": {"apiServerInternalIP": "10.0.0.5"}}}});
    assert_eq!(api_vips(&older), ["10.0.0.5"]);
    let user_managed = json!({"status": {"platformStatus": {"type": "BareMetal", "baremetal": {
        "apiServerInternalIPs": ["192.168.111.5"], "loadBalancer": {"type": "UserManaged"}}}}});
    assert!(api_vips(&user_managed).is_empty(), "the user's load balancer holds them, not keepalived");
    assert!(
        api_vips(&json!({"status": {"platformStatus": {"type": "AWS", "aws": {"region": "us-east-1"}}}})).is_empty()
    );

    assert!(proxy_in_force(&json!({"spec": {}, "status": {"httpsProxy": "http://proxy.lab:3128"}})));
    // Set in spec but not yet in force (status empty), or set to "": no proxy.
    assert!(!proxy_in_force(&json!({"spec": {"httpProxy": "http://proxy.lab:3128"}, "status": {}})));
    assert!(!proxy_in_force(&json!({"status": {"httpProxy": ""}})));
}

#[test]
fn a_webhook_without_failure_policy_fails_closed_as_admissionregistration_v1_defaults_it() {
    let hook = |name: &str, policy: Option<&str>| {
        let mut hook = json!({
            "name": name,
            "admissionReviewVersions": ["v1"],
            "clientConfig": {"service": {"namespace": "policy", "name": "policy-webhook", "path": "/validate", "port": 443}},
            "sideEffects": "None",
        });
        if let Some(policy) = policy {
            hook["failurePolicy"] = json!(policy);
        }
        hook
    };
    let hooks =
        json!([hook("a.policy.io", Some("Fail")), hook("b.policy.io", None), hook("c.policy.io", Some("Ignore"))]);
    let validating: ValidatingWebhookConfiguration = serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "policy"}, "webhooks": hooks,
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        validating_fail_closed(&validating),
        ["validatingwebhookconfiguration/policy[0]", "validatingwebhookconfiguration/policy[1]"]
    );
    let mutating: MutatingWebhookConfiguration = serde_json::from_value(json!({
        "metadata": {"name": "defaults"}, "webhooks": [hook("d.defaults.io", Some("Ignore")), hook("e.defaults.io", None)],
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mutating_fail_closed(&mutating), ["mutatingwebhookconfiguration/defaults[1]"]);
    let none: MutatingWebhookConfiguration =
        serde_json::from_value(json!({"metadata": {"name": "empty"}})).unwrap_or_else(|e| panic!("{e}"));
    assert!(mutating_fail_closed(&none).is_empty());
}

#[test]
fn the_hosted_etcd_statefulset_gives_its_replicas_image_and_cluster_token() {
    let set = |containers: Value, replicas: Option<i32>| -> StatefulSet {
        let mut spec = json!({
            "serviceName": "etcd-discovery",
            "selector": {"matchLabels": {"app": "etcd"}},
            "template": {"metadata": {"labels": {"app": "etcd"}}, "spec": {"containers": containers}},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        });
        if let Some(replicas) = replicas {
            spec["replicas"] = json!(replicas);
        }
        serde_json::from_value(json!({"metadata": {"name": "etcd"}, "spec": spec})).unwrap_or_else(|e| panic!("{e}"))
    };
    let etcd = |command: Value, args: Value, env: Value| json!({"name": "etcd", "image": "quay.io/openshift/etcd@sha256:4e1d", "command": command, "args": args, "env": env});
    let sidecar = json!({"name": "healthz", "image": "quay.io/openshift/healthz:1"});

    let from_script = etcd(
        json!([
            "/bin/sh",
            "-c",
            "exec etcd --name=${HOSTNAME} --initial-cluster-token=etcd-cluster-7f2a --data-dir=/var/lib/data"
        ]),
        json!([]),
        json!([]),
    );
    let found = etcd_set(&set(json!([sidecar.clone(), from_script]), Some(3)));
    assert_eq!(found.replicas, 3);
    assert_eq!(found.image, "quay.io/openshift/etcd@sha256:4e1d", "the etcd container's, not the first's");
    assert_eq!(found.token.as_deref(), Some("etcd-cluster-7f2a"));
    assert_eq!(found.when_scaled.as_deref(), Some("Retain"));

    let separate = etcd(json!(["etcd"]), json!(["--initial-cluster-token", "'tok-2'"]), json!([]));
    assert_eq!(etcd_set(&set(json!([separate]), None)).token.as_deref(), Some("tok-2"));
    let from_env =
        etcd(json!(["etcd"]), json!([]), json!([{"name": "ETCD_INITIAL_CLUSTER_TOKEN", "value": "tok-env"}]));
    let found = etcd_set(&set(json!([from_env]), None));
    assert_eq!(found.token.as_deref(), Some("tok-env"));
    assert_eq!(found.replicas, 3, "unset replicas are taken as the runbook's three");
    let none = etcd(json!(["etcd"]), json!([]), json!([{"name": "ETCD_INITIAL_CLUSTER_TOKEN", "value": ""}]));
    assert_eq!(etcd_set(&set(json!([none]), Some(1))).token, None, "the plan then uses etcd-cluster");
}

fn member(name: &str, peer: &str, client: &str) -> MemberIdentity {
    MemberIdentity {
        id: 1,
        name: name.into(),
        client_urls: vec![client.into()],
        peer_urls: vec![peer.into()],
        is_learner: false,
    }
}

#[test]
fn each_hosted_replica_gets_the_member_named_so_or_at_its_pod_ip_or_dns_name_or_none_do() {
    let mut pods: Vec<Pod> = (0..3).map(|i| pod(&format!("etcd-{i}"), "worker-0", "Running", Some(true))).collect();
    for (i, p) in pods.iter_mut().enumerate() {
        if let Some(status) = p.status.as_mut() {
            status.pod_ip = Some(format!("10.128.2.{}", 10 + i));
        }
    }
    let ns = "clusters-example";
    let members = [
        member("etcd-0", &format!("https://etcd-0.etcd-discovery.{ns}.svc:2380"), "https://10.128.2.10:2379"),
        // Renamed member, found by its pod's IP.
        member("3f2a9b", "https://10.128.2.11:2380", "https://10.128.2.11:2379"),
        // Found by its pod's DNS name.
        member("m2", &format!("https://etcd-2.etcd-discovery.{ns}.svc:2380"), "https://[fd01::2]:2379"),
    ];
    let found = members_of_pods(&members, &pods, 3);
    assert_eq!(
        found.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["etcd-0", "3f2a9b", "m2"],
        "replica 0 first, as the plan restores them"
    );
    assert_eq!(found[1].1, "https://10.128.2.11:2380");

    // Two members at one pod: which is which cannot be told; the runbook's names are used.
    let ambiguous = [members[0].clone(), member("etcd-x", "https://10.128.2.10:2380", "https://10.128.2.10:2379")];
    assert!(members_of_pods(&ambiguous, &pods, 1).is_empty());
    // A member added but not started (no name) is never one.
    let unstarted = [member("", "https://10.128.2.10:2380", "")];
    assert!(members_of_pods(&unstarted, &pods, 1).is_empty());
}

#[test]
fn a_rendered_hosted_cluster_is_paused_once_its_paused_until_is_set_and_resumed_by_an_empty_one() {
    let mut hc = captured(&format!("{SNO}/hostedcluster.hypershift.openshift.io.clusters.example.json"));
    assert!(!hosted_paused(&hc));
    assert_eq!(not_yet(paused_verdict(&hc, None, true)), "spec.pausedUntil \"\"");
    // The act's merge patches, as the API server applies them.
    json_patch::merge(&mut hc, &json!({"spec": {"pausedUntil": "true"}}));
    assert!(hosted_paused(&hc));
    assert_eq!(holds(paused_verdict(&hc, None, true)), "spec.pausedUntil \"true\"");
    // Paused only once the HyperShift operator has passed it on to the HostedControlPlane.
    let plane = json!({"spec": {}});
    assert_eq!(
        not_yet(paused_verdict(&hc, Some(&plane), true)),
        "HostedCluster spec.pausedUntil \"true\", HostedControlPlane \"\""
    );
    holds(paused_verdict(&hc, Some(&json!({"spec": {"pausedUntil": "true"}})), true));
    json_patch::merge(&mut hc, &json!({"spec": {"pausedUntil": ""}}));
    assert!(!hosted_paused(&hc), "an empty pausedUntil is resumed");
    holds(paused_verdict(&hc, Some(&plane), false));
}

// ---- act ----

#[test]
fn a_reboot_is_sent_when_the_connection_drops_under_it_and_fails_on_any_other_exit() {
    let sent = |answer| reboot_sent("master-1", "sudo systemctl reboot", answer);
    assert_eq!(sent(Ok(output(0, "", ""))), Ok(()));
    assert_eq!(sent(Ok(output(255, "", "Connection to 10.0.0.11 closed by remote host."))), Ok(()));
    assert_eq!(sent(Err("master-1: no answer within 60s".into())), Ok(()));
    assert_eq!(
        sent(Ok(output(1, "", "Failed to reboot: Access denied"))),
        Err("`sudo systemctl reboot` on master-1 exited 1: Failed to reboot: Access denied".into())
    );
    assert_eq!(
        sent(Err("ssh: Permission denied (publickey)".into())),
        Err("ssh: Permission denied (publickey)".into())
    );
}

#[test]
fn another_backup_on_the_host_is_refused_but_ours_and_other_files_are_not() {
    let ours = ["snapshot_2026-12-02_010203.db".to_string(), "static_kuberesources_2026-12-02_010203.tar.gz".into()];
    let listing = "snapshot_2026-12-02_010203.db\nstatic_kuberesources_2026-12-02_010203.tar.gz\nnotes.txt\n";
    assert!(foreign_backups(listing, &ours).is_empty());
    let listing = format!("{listing}snapshot_2026-11-30_220000.db static_kuberesources_2026-11-30_220000.tar.gz");
    assert_eq!(
        foreign_backups(&listing, &ours),
        ["snapshot_2026-11-30_220000.db", "static_kuberesources_2026-11-30_220000.tar.gz"]
    );
}

#[test]
fn the_quorum_guard_patches_turn_the_real_etcd_object_off_and_back_to_the_runbooks_state() {
    let back_on: Value = serde_json::from_str(
        super::QUORUM_GUARD_ON.split_once("-p '").and_then(|(_, p)| p.strip_suffix('\'')).unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(quorum_guard_patch(false), back_on, "the runbook's own patch");

    let mut etcd = captured(&format!("{SNO}/etcd.operator.openshift.io.cluster.json"));
    holds(quorum_guard(Some(&etcd), false));
    not_yet(quorum_guard(Some(&etcd), true));
    json_patch::merge(&mut etcd, &quorum_guard_patch(true));
    assert!(model::quorum_guard_off(&etcd));
    assert_eq!(holds(quorum_guard(Some(&etcd), true)), "unsupportedConfigOverrides set: quorum guard off");
    json_patch::merge(&mut etcd, &quorum_guard_patch(false));
    assert_eq!(holds(quorum_guard(Some(&etcd), false)), "no unsupportedConfigOverrides: quorum guard on");
    // As captured, but for its explicit `unsupportedConfigOverrides: null` (a merge patch drops nulls).
    let mut before = captured(&format!("{SNO}/etcd.operator.openshift.io.cluster.json"));
    assert_eq!(before["spec"].as_object_mut().and_then(|s| s.remove("unsupportedConfigOverrides")), Some(Value::Null));
    assert!(etcd == before, "the etcd object is not as it was");

    // The real single-node 4.7 etcd runs with the guard off.
    let sno_4_7 = captured("insights-4.7.16/etcd.operator.openshift.io.cluster.json");
    holds(quorum_guard(Some(&sno_4_7), true));
    // Another override left behind: not back on as the runbook leaves it.
    let other = json!({"spec": {"unsupportedConfigOverrides": {"experimental": true}}});
    assert_eq!(not_yet(quorum_guard(Some(&other), false)), "no unsupportedConfigOverrides: quorum guard on");
}

#[test]
fn a_webhook_entry_is_patched_whole_with_only_its_policy_changed() {
    let (t, name, index) = webhook_entry("validatingwebhookconfiguration/lab-policy[1]").unwrap_or_else(|| panic!());
    assert_eq!((t.2, name, index), ("ValidatingWebhookConfiguration", "lab-policy", 1));
    let (t, _, _) = webhook_entry("mutatingwebhookconfiguration/lab-defaults[0]").unwrap_or_else(|| panic!());
    assert_eq!(t.3, "mutatingwebhookconfigurations");
    assert!(webhook_entry("service/lab-policy[0]").is_none());
    assert!(webhook_entry("validatingwebhookconfiguration/lab-policy").is_none());

    let config = json!({
        "metadata": {"name": "lab-policy", "resourceVersion": "48213"},
        "webhooks": [
            {"name": "a.policy.io", "failurePolicy": "Ignore", "matchConditions": [{"name": "x", "expression": "true"}]},
            {"name": "b.policy.io", "failurePolicy": "Fail", "futureField": {"kept": true}},
        ],
    });
    assert_eq!(
        failure_policy_patch(&config, 1, "Ignore"),
        json!({
            "metadata": {"resourceVersion": "48213"},
            "webhooks": [
                {"name": "a.policy.io", "failurePolicy": "Ignore", "matchConditions": [{"name": "x", "expression": "true"}]},
                {"name": "b.policy.io", "failurePolicy": "Ignore", "futureField": {"kept": true}},
            ],
        })
    );
}

#[test]
fn the_csr_step_holds_only_once_nothing_was_approved_and_every_node_is_ready() {
    let refused = [("csr-7xk2p".to_string(), "requested by kube:admin, not a node".to_string())];
    let said = not_yet(csrs_approved(&["csr-c7mw4".into()], &[], &refused));
    assert_eq!(
        said,
        "approved csr-c7mw4; NotReady: none; left for you to review: csr-7xk2p (requested by kube:admin, not a node)"
    );
    not_yet(csrs_approved(&[], &["master-2".into()], &[]));
    assert_eq!(
        holds(csrs_approved(&[], &[], &refused)),
        "approved none now; NotReady: none; left for you to review: csr-7xk2p (requested by kube:admin, not a node)"
    );
}

#[test]
fn a_members_data_is_replaced_only_while_etcd_is_at_zero_with_no_pod_left() {
    let set = |replicas: Option<i32>| -> StatefulSet {
        let mut spec = json!({"selector": {"matchLabels": {"app": "etcd"}}, "template": {"spec": {"containers": [{"name": "etcd"}]}}});
        if let Some(r) = replicas {
            spec["replicas"] = json!(r);
        }
        serde_json::from_value(json!({"metadata": {"name": "etcd"}, "spec": spec})).unwrap_or_else(|e| panic!("{e}"))
    };
    assert_eq!(etcd_stopped(&set(Some(0)), &[]), Ok(()));
    let terminating = [pod("etcd-0", "worker-0", "Running", Some(false))];
    let refused = etcd_stopped(&set(Some(0)), &terminating).err().unwrap_or_default();
    assert!(refused.starts_with("refused: statefulset/etcd has spec.replicas 0 and 1 pod(s) (etcd-0)"), "{refused}");
    let refused = etcd_stopped(&set(Some(3)), &[]).err().unwrap_or_default();
    assert!(refused.contains("spec.replicas 3 and 0 pod(s) ()"), "{refused}");
    assert!(refused.ends_with("is the HostedCluster's reconciliation not paused?"), "{refused}");
    assert!(etcd_stopped(&set(None), &[]).is_err(), "unset replicas are 1, not 0");
}

// ---- check ----

#[test]
fn pods_are_counted_running_only_when_ready_and_a_lost_hosts_unready_pods_are_not_counted() {
    let lost = ["master-2".to_string()];
    let mut pods = vec![
        pod("etcd-master-0", "master-0", "Running", Some(true)),
        pod("etcd-master-1", "master-1", "Running", Some(true)),
        // The lost host's pod: still listed, its node posting nothing.
        pod("etcd-master-2", "master-2", "Running", Some(false)),
    ];
    assert_eq!(holds(pods_running(&pods, &lost, false, Some(2))), "2 of 2 Running: etcd-master-0, etcd-master-1");
    assert_eq!(holds(pods_running(&pods, &lost, false, None)), "2 of 2 Running: etcd-master-0, etcd-master-1");
    // Not lost: the NotReady pod is waited for.
    assert_eq!(not_yet(pods_running(&pods, &[], false, None)), "2 of 3 Running: etcd-master-0, etcd-master-1");
    // Listed on that one node, it counts whatever was declared.
    assert_eq!(not_yet(pods_running(&pods[2..], &lost, true, None)), "0 of 1 Running: ");

    // The replacement host kept the node's name: its Ready pod is counted.
    pods[2] = pod("etcd-master-2", "master-2", "Running", Some(true));
    assert_eq!(
        holds(pods_running(&pods, &lost, false, Some(3))),
        "3 of 3 Running: etcd-master-0, etcd-master-1, etcd-master-2"
    );
    not_yet(pods_running(&pods, &lost, false, Some(2)));
}

#[test]
fn a_pod_is_running_only_in_phase_running_and_ready_and_a_deleted_one_is_not_counted() {
    let mut pods = vec![
        pod("ovnkube-node-a", "master-0", "Running", Some(true)),
        pod("ovnkube-node-b", "master-1", "Pending", None),
        pod("ovnkube-node-c", "master-2", "Running", Some(false)),
    ];
    assert_eq!(not_yet(pods_running(&pods, &[], false, None)), "1 of 3 Running: ovnkube-node-a");
    // Being deleted: gone from the count (its replacement is what is waited for).
    for p in &mut pods[1..] {
        p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-12-02T01:02:03Z".parse().unwrap_or_else(|e| panic!("{e}")),
        ));
    }
    assert_eq!(holds(pods_running(&pods, &[], false, None)), "1 of 1 Running: ovnkube-node-a");
    // None listed is not "all Running".
    assert_eq!(not_yet(pods_running(&[], &[], false, None)), "0 of 0 Running: ");
}

#[test]
fn the_real_rollouts_settle_only_at_all_nodes_at_latest_revision_past_the_forced_one() {
    let rolling = captured(&format!("{SNO_ROLLING}/etcd.operator.openshift.io.cluster.json"));
    assert_eq!(
        not_yet(rollout_settled(Operator::Etcd, &rolling, None)),
        ": 1 nodes are at revision 2; 0 nodes have achieved new revision 3"
    );
    let settled = captured(&format!("{SNO}/etcd.operator.openshift.io.cluster.json"));
    assert_eq!(
        holds(rollout_settled(Operator::Etcd, &settled, None)),
        "AllNodesAtLatestRevision: 1 nodes are at revision 3"
    );
    // Another operator of the same moment is still rolling.
    let kcm = captured(&format!("{SNO}/kubecontrollermanager.operator.openshift.io.cluster.json"));
    not_yet(rollout_settled(Operator::KubeControllerManager, &kcm, None));

    let forced = |before: i64, reason: &str| super::StepRecord {
        state: super::StepState::Done,
        detail: String::new(),
        reason: Some(reason.into()),
        revision_before: Some(before),
    };
    let reason = "recovery-2026-12-02 01:02:03.123456789+00:00";
    // Forced at revision 3: the settled rollout at 3 is the one before, not the forced one.
    not_yet(rollout_settled(Operator::Etcd, &settled, Some(&forced(3, reason))));
    // Past it, but the patch's reason is not the operator's yet.
    not_yet(rollout_settled(Operator::Etcd, &settled, Some(&forced(2, reason))));
    let mut seen = settled.clone();
    json_patch::merge(&mut seen, &json!({"spec": {"forceRedeploymentReason": reason}}));
    holds(rollout_settled(Operator::Etcd, &seen, Some(&forced(2, reason))));
}

#[test]
fn a_rollout_is_checked_against_the_last_redeployment_forced_for_that_operator() {
    let mut run = RestoreRun::new(
        Procedure::Standalone,
        "/b".into(),
        Options {
            recovery_host: Some("master-0".into()),
            remote_backup_dir: "/home/core/assets/backup".into(),
            ..Options::default()
        },
    );
    assert_eq!(run.next_action(std::time::SystemTime::UNIX_EPOCH), Action::Survey);
    run.observe(Observed::Surveyed(Box::new(super::fixtures::survey())));
    let forced: Vec<(usize, Operator)> = run
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s.act {
            Act::ForceRedeployment { operator } => Some((i, operator)),
            _ => None,
        })
        .collect();
    assert!(forced.iter().any(|(_, o)| *o == Operator::Etcd) && forced.len() > 1, "{forced:?}");
    for (i, operator) in &forced {
        run.records[*i].reason = Some(format!("reason of {}", operator.short()));
        run.records[*i].revision_before = Some(*i as i64);
    }
    let etcd = last_forced(&run, Operator::Etcd).unwrap_or_else(|| panic!("no etcd record"));
    assert_eq!(etcd.reason.as_deref(), Some("reason of etcd"));
    let scheduler = last_forced(&run, Operator::KubeScheduler).unwrap_or_else(|| panic!("no scheduler record"));
    assert_eq!(scheduler.reason.as_deref(), Some("reason of kubescheduler"));
}

#[test]
fn a_replacement_master_machine_counts_once_running_and_a_worker_never_does() {
    let known: BTreeSet<String> =
        ["lab-x8k2p-master-0", "lab-x8k2p-master-1", "lab-x8k2p-master-2"].map(String::from).into();
    let mut machines = vec![
        machine("lab-x8k2p-master-0", "master", Some("master-0"), Some("Running")),
        machine("lab-x8k2p-master-1", "master", Some("master-1"), Some("Running")),
        machine("lab-x8k2p-master-2", "master", None, Some("Deleting")),
        machine("lab-x8k2p-worker-7", "worker", None, Some("Running")),
    ];
    assert_eq!(
        not_yet(machine_replaced(&machines, &known, "lab-x8k2p-master-2")),
        "no machine made yet to replace lab-x8k2p-master-2"
    );
    machines.push(machine("lab-x8k2p-master-3", "master", None, None));
    assert_eq!(not_yet(machine_replaced(&machines, &known, "lab-x8k2p-master-2")), "lab-x8k2p-master-3 (no phase)");
    machines[4]["status"]["phase"] = json!("Provisioned");
    assert_eq!(not_yet(machine_replaced(&machines, &known, "lab-x8k2p-master-2")), "lab-x8k2p-master-3 Provisioned");
    machines[4]["status"]["phase"] = json!("Running");
    assert_eq!(holds(machine_replaced(&machines, &known, "lab-x8k2p-master-2")), "lab-x8k2p-master-3 Running");
}

#[test]
fn a_workload_is_scaled_once_spec_status_and_pods_agree_and_scaled_to_zero_means_no_pod_left() {
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "kube-apiserver", "namespace": "clusters-example"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "kube-apiserver", "hypershift.openshift.io/control-plane-component": "kube-apiserver"}}, "template": {"spec": {"containers": [{"name": "kube-apiserver"}]}}},
        "status": {"replicas": 2, "readyReplicas": 2},
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let workload = Workload::of_deployment(&deployment);
    assert_eq!(workload.selector, "app=kube-apiserver,hypershift.openshift.io/control-plane-component=kube-apiserver");
    assert_eq!(
        not_yet(replicas_verdict("kube-apiserver", &workload, 2, 0)),
        "kube-apiserver: spec 0, status 2, ready 2, pods 2"
    );
    let stopped = Workload { now: 0, ready: 0, ..workload.clone() };
    // The status says 0 but a pod is still there: not yet.
    not_yet(replicas_verdict("kube-apiserver", &stopped, 1, 0));
    holds(replicas_verdict("kube-apiserver", &stopped, 0, 0));

    let set: StatefulSet = serde_json::from_value(json!({
        "metadata": {"name": "etcd"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "etcd"}}, "template": {"spec": {"containers": [{"name": "etcd"}]}}},
        "status": {"replicas": 3, "readyReplicas": 2},
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let workload = Workload::of_statefulset(&set);
    assert_eq!(workload.selector, "app=etcd");
    assert_eq!(not_yet(replicas_verdict("etcd", &workload, 3, 3)), "etcd: spec 3, status 3, ready 2, pods 3");
    holds(replicas_verdict("etcd", &Workload { ready: 3, ..workload }, 3, 3));
}

#[test]
fn etcd_holds_with_the_count_healthy_at_the_snapshots_revision_with_one_hash() {
    let healthy = ["master-0".to_string(), "master-1".into()];
    let problems = ["master-2: connection refused".to_string()];
    assert_eq!(
        not_yet(members_healthy(3, 3, 3, &healthy, &problems)),
        "3 member(s), 3 started, healthy: master-0, master-1; master-2: connection refused"
    );
    assert_eq!(holds(members_healthy(2, 2, 2, &healthy, &[])), "2 member(s), 2 started, healthy: master-0, master-1");
    // A fourth member listed (an unstarted learner): not the count asked for.
    not_yet(members_healthy(2, 3, 2, &healthy, &[]));

    let at = |r: [i64; 3]| r.iter().enumerate().map(|(i, r)| (format!("master-{i}"), *r)).collect::<Vec<_>>();
    assert_eq!(one_revision(&at([812, 812, 812]), Some(812)), Ok(812));
    assert_eq!(
        one_revision(&at([812, 812, 1]), Some(812)),
        Err(Checked::NotYet("revisions differ: master-0 at 812, master-1 at 812, master-2 at 1".into()))
    );
    assert_eq!(one_revision(&at([1812, 1812, 1812]), Some(812)), Ok(1812), "lease expiries and the like");
    let Err(Checked::NotYet(said)) = one_revision(&at([1813, 1813, 1813]), Some(812)) else { panic!("far past") };
    assert!(said.starts_with("the members are at revision 1813, the snapshot at 812: this is not the backup's data"));
    assert!(one_revision(&at([700, 700, 700]), Some(812)).is_err(), "older than the snapshot");
    assert_eq!(one_revision(&at([5, 5, 5]), None), Ok(5));

    let hashes = [("master-0".to_string(), 0x1a2b3c4d_u32), ("master-1".into(), 0x1a2b3c4d)];
    assert_eq!(
        holds(one_hash(2, 812, &hashes)),
        "2 members healthy, all at revision 812, one hash: master-0 1a2b3c4d, master-1 1a2b3c4d"
    );
    let differ = [hashes[0].clone(), ("master-1".into(), 0x0000beef)];
    assert_eq!(
        not_yet(one_hash(2, 812, &differ)),
        "hashes at revision 812 differ: master-0 1a2b3c4d, master-1 0000beef"
    );
}

#[test]
fn a_host_check_wants_nothing_or_something_printed_and_255_is_no_answer() {
    let command = "sudo crictl ps --label io.kubernetes.container.name=etcd -q";
    let nothing = output(0, "\n", "");
    let something = output(0, "4f1c2d3e\n", "");
    assert_eq!(host_prints("master-1", command, &nothing, true), Ok(Checked::Holds(format!("{command}: (nothing)"))));
    assert_eq!(
        host_prints("master-1", command, &something, true),
        Ok(Checked::NotYet(format!("{command} still prints: 4f1c2d3e")))
    );
    assert_eq!(host_prints("master-1", command, &something, false), Ok(Checked::Holds(format!("{command}: 4f1c2d3e"))));
    assert_eq!(
        host_prints(
            "master-1",
            command,
            &output(255, "", "ssh: connect to host 10.0.0.11 port 22: No route to host"),
            true
        ),
        Err("master-1 did not answer: ssh: connect to host 10.0.0.11 port 22: No route to host".into())
    );
}

#[test]
fn a_resumed_move_is_done_once_its_source_is_gone_and_undecided_when_the_host_cannot_tell() {
    let command = "sudo mv -v /etc/kubernetes/manifests/etcd-pod.yaml /tmp";
    assert_eq!(moved_source(command), Some("/etc/kubernetes/manifests/etcd-pod.yaml"));
    assert_eq!(moved_source("sudo systemctl stop kubelet"), None);
    let source = "/var/lib/etcd/";
    assert_eq!(moved(source, Ok(output(1, "", ""))), (true, "/var/lib/etcd/ is no longer there".into()));
    assert_eq!(moved(source, Ok(output(0, "", ""))), (false, "/var/lib/etcd/ is still there".into()));
    assert_eq!(
        moved(source, Ok(output(255, "", "Connection refused"))),
        (false, "cannot tell: Connection refused".into())
    );
    assert_eq!(
        moved(source, Err("master-1: no answer within 30s".into())),
        (false, "cannot tell: master-1: no answer within 30s".into())
    );
}

#[test]
fn the_webhook_step_checks_the_webhooks_it_patched_and_only_names_the_others() {
    let config = json!({"metadata": {"name": "lab-policy"}, "webhooks": [{"name": "a", "failurePolicy": "Ignore"}, {"name": "b"}]});
    assert_eq!(webhook_policy(&config, 0).as_deref(), Some("Ignore"));
    assert_eq!(webhook_policy(&config, 1).as_deref(), Some("Fail"), "unset is Fail in admissionregistration/v1");
    assert_eq!(webhook_policy(&config, 2), None);
    let ours = "validatingwebhookconfiguration/lab-policy[0]".to_string();
    let restored = ["validatingwebhookconfiguration/lab-restored[0]".to_string()];
    assert_eq!(
        holds(failure_policies("Ignore", &[(ours.clone(), Some(Some("Ignore".into())))], &restored)),
        "validatingwebhookconfiguration/lab-policy[0] Ignore; not surveyed by this run, left as they are (failurePolicy Fail): validatingwebhookconfiguration/lab-restored[0]"
    );
    assert_eq!(
        not_yet(failure_policies("Ignore", &[(ours.clone(), Some(Some("Fail".into())))], &[])),
        "validatingwebhookconfiguration/lab-policy[0] Fail"
    );
    assert_eq!(
        holds(failure_policies("Fail", &[(ours, None)], &[])),
        "validatingwebhookconfiguration/lab-policy[0] gone"
    );
}

#[test]
fn a_webhook_set_to_ignore_carries_the_runs_annotation_until_set_back_and_a_survey_finds_it_by_it() {
    let config = json!({
        "metadata": {"name": "lab-policy", "resourceVersion": "7"},
        "webhooks": [{"name": "a.policy.io", "failurePolicy": "Fail", "sideEffects": "None"}, {"name": "b.policy.io", "failurePolicy": "Fail", "sideEffects": "None"}],
    });
    let ignored = marked_failure_policy_patch(&config, 1, "Ignore");
    assert_eq!(ignored["metadata"]["annotations"]["etcd-console.io/restore-set-ignore"], "[\"b.policy.io\"]");
    assert_eq!(ignored["webhooks"][1]["failurePolicy"], "Ignore");
    // What a run that died then leaves: the next survey lists it as the run's own, to set back.
    let mut left = config.clone();
    json_patch::merge(&mut left, &ignored);
    let typed: ValidatingWebhookConfiguration = serde_json::from_value(left.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(validating_fail_closed(&typed), ["validatingwebhookconfiguration/lab-policy[0]"]);
    assert_eq!(validating_left_ignore(&typed), ["validatingwebhookconfiguration/lab-policy[1]"]);
    // Set back: the name comes off, and the annotation with its last name.
    let back = marked_failure_policy_patch(&left, 1, "Fail");
    assert_eq!(back["metadata"]["annotations"]["etcd-console.io/restore-set-ignore"], Value::Null);
    json_patch::merge(&mut left, &back);
    let typed: ValidatingWebhookConfiguration = serde_json::from_value(left).unwrap_or_else(|e| panic!("{e}"));
    assert!(validating_left_ignore(&typed).is_empty());
    // Ignore set by someone else (no annotation) is not the run's.
    let theirs: ValidatingWebhookConfiguration = serde_json::from_value(json!({
        "metadata": {"name": "theirs"}, "webhooks": [{"name": "x", "failurePolicy": "Ignore", "sideEffects": "None"}],
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(validating_left_ignore(&theirs).is_empty());
}

#[test]
fn a_worker_is_a_host_at_its_internal_ip_and_not_tried_until_the_survey_tries_it() {
    let master: Node = captured_as(MASTER_4_7);
    let worker: Node = captured_as(WORKER_4_7);
    let workers = super::survey::worker_hosts_of(&[master, worker]);
    assert_eq!(workers.len(), 1, "{workers:?}");
    assert_eq!(workers[0].name, "worker-0.imeixner20210707.lab.upshift.rdu2.redhat.com");
    assert!(!workers[0].ip.is_empty());
    assert_eq!((workers[0].reachable.clone(), workers[0].machine.clone()), (None, None));
}

#[test]
fn a_restarted_worker_counts_as_back_once_ready_or_once_its_kubelet_asks_for_a_client_certificate() {
    use crate::openshift::csr::{CsrClass, DecodedRequest, PendingCsr};
    let csr = |name: &str, node: &str, class: CsrClass| PendingCsr {
        name: name.into(),
        signer: "kubernetes.io/kube-apiserver-client-kubelet".into(),
        requestor: crate::openshift::csr::BOOTSTRAPPER.into(),
        class,
        reason: String::new(),
        usages: Vec::new(),
        request: Some(DecodedRequest {
            common_name: Some(format!("system:node:{node}")),
            organizations: vec!["system:nodes".into()],
            ..DecodedRequest::default()
        }),
        created: None,
        node: None,
        pending_limit: None,
    };
    let workers = ["worker-0".to_string(), "worker-1".to_string()];
    let not_ready = ["worker-1".to_string()];
    let verdict = super::check::workers_bootstrapping;
    // worker-1 NotReady and nothing asked yet (an unexpected CSR naming it does not count).
    let Checked::NotYet(said) = verdict(&workers, &not_ready, &[csr("csr-x", "worker-1", CsrClass::Unexpected)]) else {
        panic!()
    };
    assert!(said.contains("no node-bootstrapper CSR yet from worker-1") && said.contains("worker-0 Ready"), "{said}");
    // Another node's CSR is not worker-1's.
    assert!(matches!(
        verdict(&workers, &not_ready, &[csr("csr-a", "worker-10", CsrClass::NodeBootstrapper)]),
        Checked::NotYet(_)
    ));
    let Checked::Holds(said) = verdict(&workers, &not_ready, &[csr("csr-b", "worker-1", CsrClass::NodeBootstrapper)])
    else {
        panic!()
    };
    assert!(said.contains("worker-1 asks for a client certificate (csr-b pending)"), "{said}");
    assert!(matches!(verdict(&workers, &[], &[]), Checked::Holds(_)));
}
