//! The OpenShift objects captured from real clusters (`../shared/referee/openshift/`,
//! provenance in its SOURCES.md), served as they are by a read-only fixture API:
//! every field `status -o json` and the console show of them must be read right,
//! and where an object is absent or half-written nothing is invented.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::fixture_api::FixtureApi;
use common::*;
use etcd_console_lab::Lab;
use serde_json::Value;

fn referee(scenario: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/referee/openshift").join(scenario)
}

fn status(lab: &Lab, api: &FixtureApi) -> Value {
    let mut command = Command::new(console_bin());
    command.args(["status", "-o", "json", "--kubeconfig"]).arg(&api.kubeconfig);
    command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", &lab.dir);
    for (name, value) in lab.env() {
        command.env(name, value);
    }
    command.arg("--log-dir").arg(lab.dir.join("console-logs"));
    let out = run_with_limit(command, Duration::from_secs(60));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    json(&out)
}

/// The objects of a scenario directory: (file stem, object).
fn objects(scenario: &str) -> Vec<(String, Value)> {
    let mut all: Vec<(String, Value)> = std::fs::read_dir(referee(scenario))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            (stem, serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap())
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

fn of_kind<'a>(all: &'a [(String, Value)], kind: &str) -> Vec<&'a Value> {
    all.iter().map(|(_, v)| v).filter(|v| v["kind"] == kind).collect()
}

fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == kind)
}

/// A string field as the console reports it: the text, or "" where the object has none.
fn said(value: Option<&Value>, field: &str) -> Value {
    Value::String(value.and_then(|v| v[field].as_str()).unwrap_or_default().to_string())
}

const SCENARIOS: [&str; 4] =
    ["sno-2023-03-09T14-24-57Z", "sno-2023-03-09T14-31-10Z", "insights-4.7.16", "k8s-only-okd-csrs"];

#[tokio::test(flavor = "multi_thread")]
async fn every_field_of_the_real_objects_is_read_as_they_say_and_nothing_is_invented() {
    let lab = lab(3, 64 << 20).await;
    for scenario in SCENARIOS {
        let raw = objects(scenario);
        let api = FixtureApi::serve(&referee(scenario), &lab.dir.join(scenario));
        let report = status(&lab, &api);
        let os = &report["openshift"];
        let at = |what: &str| format!("{scenario}: {what}");

        // Static-pod rollouts: NodeInstallerProgressing, revisions, every node.
        for (operator, kind) in [
            ("etcd", "Etcd"),
            ("kubeapiserver", "KubeAPIServer"),
            ("kubecontrollermanager", "KubeControllerManager"),
            ("kubescheduler", "KubeScheduler"),
        ] {
            let Some(object) = of_kind(&raw, kind).first().copied() else {
                assert!(
                    os["rollouts"].as_array().unwrap().iter().all(|r| r["operator"] != operator),
                    "{}",
                    at(operator)
                );
                continue;
            };
            let ours = os["rollouts"].as_array().unwrap().iter().find(|r| r["operator"] == operator);
            let ours = ours.unwrap_or_else(|| panic!("{}", at(&format!("no rollout of {operator}"))));
            let reported = object["status"].as_object().is_some_and(|s| !s.is_empty());
            assert_eq!(ours["status_reported"], reported, "{}", at(operator));
            assert_eq!(
                ours["latest_revision"],
                object["status"]["latestAvailableRevision"].as_i64().unwrap_or(0),
                "{}",
                at(operator)
            );
            let c = condition(object, "NodeInstallerProgressing");
            assert_eq!(ours["progressing"], c.is_some_and(|c| c["status"] == "True"), "{}", at(operator));
            assert_eq!(ours["reason"], said(c, "reason"), "{}", at(operator));
            assert_eq!(ours["message"], said(c, "message"), "{}", at(operator));
            assert_eq!(
                ours["since"],
                c.map(|c| c["lastTransitionTime"].clone()).unwrap_or(Value::Null),
                "{}",
                at(operator)
            );
            let nodes: Vec<Value> = object["status"]["nodeStatuses"]
                .as_array()
                .map(|n| {
                    n.iter()
                        .map(|n| {
                            serde_json::json!({"name": n["nodeName"], "current_revision": n["currentRevision"].as_i64().unwrap_or(0),
                                               "target_revision": n["targetRevision"], "last_failed_revision": n["lastFailedRevision"]})
                        })
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(ours["nodes"], Value::Array(nodes), "{}", at(operator));
        }

        // Encrypted, per operator, as each wrote it (absent: not listed), and the type.
        let encryption = &os["encryption"];
        let apiserver = of_kind(&raw, "APIServer");
        if apiserver.is_empty() {
            assert!(
                encryption.is_null() || encryption["conditions"].as_array().is_some_and(|c| c.is_empty()),
                "{}",
                at("encryption")
            );
        } else {
            let kind =
                apiserver[0]["spec"]["encryption"]["type"].as_str().filter(|t| !t.is_empty()).unwrap_or("identity");
            assert_eq!(encryption["type"], kind, "{}", at("encryption type"));
            let mut expected: Vec<Value> = Vec::new();
            for kind in ["OpenShiftAPIServer", "KubeAPIServer", "Authentication"] {
                for object in of_kind(&raw, kind) {
                    if let Some(c) = condition(object, "Encrypted") {
                        expected.push(serde_json::json!([
                            c["status"],
                            said(Some(c), "reason"),
                            said(Some(c), "message"),
                            c["lastTransitionTime"]
                        ]));
                    }
                }
            }
            let mut ours: Vec<Value> = encryption["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| serde_json::json!([c["status"], c["reason"], c["message"], c["since"]]))
                .collect();
            expected.sort_by_key(|v| v.to_string());
            ours.sort_by_key(|v| v.to_string());
            assert_eq!(ours, expected, "{}", at("Encrypted conditions"));
        }

        // ClusterOperators: each one shown as its conditions say ("" where it has none).
        let operators = of_kind(&raw, "ClusterOperator");
        for ours in os["cluster_operators"].as_array().unwrap() {
            let object = operators.iter().find(|o| o["metadata"]["name"] == ours["name"]);
            let object = object.unwrap_or_else(|| panic!("{}", at(&format!("{} is not in the objects", ours["name"]))));
            for (field, kind) in [("available", "Available"), ("progressing", "Progressing"), ("degraded", "Degraded")]
            {
                assert_eq!(
                    ours[field],
                    said(condition(object, kind), "status"),
                    "{}",
                    at(&format!("{} {field}", ours["name"]))
                );
            }
        }
        if operators.iter().any(|o| o["metadata"]["name"] == "etcd") {
            assert!(os["cluster_operators"].as_array().unwrap().iter().any(|o| o["name"] == "etcd"), "{}", at("etcd"));
        }

        // Pending CSRs: exactly those without Approved or Denied, with their requestor and signer.
        let mut pending: Vec<&str> = of_kind(&raw, "CertificateSigningRequest")
            .into_iter()
            .filter(|c| condition(c, "Approved").is_none() && condition(c, "Denied").is_none())
            .map(|c| c["metadata"]["name"].as_str().unwrap())
            .collect();
        pending.sort_unstable();
        let mut listed: Vec<&str> =
            os["csrs_pending"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        listed.sort_unstable();
        assert_eq!(listed, pending, "{}", at("pending CSRs"));
        for ours in os["csrs_pending"].as_array().unwrap() {
            let object = of_kind(&raw, "CertificateSigningRequest")
                .into_iter()
                .find(|c| c["metadata"]["name"] == ours["name"])
                .unwrap();
            assert_eq!(ours["requestor"], object["spec"]["username"], "{}", at("requestor"));
            assert_eq!(ours["signer"], object["spec"]["signerName"], "{}", at("signer"));
        }
        for ours in os["csrs_pending"].as_array().unwrap().iter().filter(|c| c["name"] == "my-svc.my-namespace") {
            assert_eq!(ours["class"], "unexpected", "{}", at("kube:admin's CSR for CN=AA"));
        }

        // HostedClusters: the secret encryption of each type and its active key.
        for object in of_kind(&raw, "HostedCluster") {
            let ours = os["hosted_clusters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h["name"] == object["metadata"]["name"])
                .unwrap();
            let encryption = &object["spec"]["secretEncryption"];
            assert_eq!(ours["secret_encryption"], encryption["type"], "{}", at("secretEncryption"));
            match encryption["type"].as_str() {
                Some("aescbc") => {
                    assert_eq!(ours["active_key"], encryption["aescbc"]["activeKey"]["name"], "{}", at("aescbc key"))
                }
                Some("kms") => {
                    assert_eq!(ours["kms_provider"], encryption["kms"]["provider"], "{}", at("kms provider"));
                    assert_eq!(
                        ours["kms_active_key"],
                        encryption["kms"]["aws"]["activeKey"]["arn"],
                        "{}",
                        at("kms key")
                    );
                    assert!(ours["active_key"].is_null(), "{}", at("no secret for a KMS key"));
                }
                other => panic!("{}", at(&format!("a HostedCluster of type {other:?}"))),
            }
        }
        if scenario == "k8s-only-okd-csrs" {
            assert!(os["problems"][0].as_str().unwrap_or("").contains("not an OpenShift cluster"), "{os}");
        }
    }
}

/// The console on the same objects (its watches list them, then stay quiet): the OpenShift view
/// shows what they say, and the operator without a status says so.
#[tokio::test(flavor = "multi_thread")]
async fn the_openshift_view_shows_the_real_objects() {
    let lab = lab(3, 64 << 20).await;
    for (scenario, expected) in [
        (
            "sno-2023-03-09T14-24-57Z",
            vec!["no status yet: its operator has not reported", "etcd rolling to revision 3", "vrutkovs-sno"],
        ),
        (
            "sno-2023-03-09T14-31-10Z",
            vec![
                "HostedCluster clusters/cesar",
                "secretEncryption kms (AWS), key fakeKMSKeyARN",
                "key example-etcd-encryption-key",
            ],
        ),
    ] {
        let api = FixtureApi::serve(&referee(scenario), &lab.dir.join(scenario));
        let command = with_lab_env(
            &lab,
            &format!(
                "KUBECONFIG={} {} --view openshift --log-dir {}; echo CONSOLE-EXITED $?; sleep 30",
                api.kubeconfig.display(),
                console_bin().display(),
                lab.dir.join("tui-logs").display()
            ),
        );
        let tmux = Tmux::start(&format!("referee-{}", &scenario[scenario.len() - 9..]), 160, 50, &command);
        let screen = tmux.wait_for(scenario, Duration::from_secs(30), |s| expected.iter().all(|e| s.contains(e)));
        assert!(!screen.contains("panicked"), "{screen}");
        tmux.keys(&["q"]);
        tmux.wait_for("a clean exit", Duration::from_secs(30), |s| s.contains("CONSOLE-EXITED 0"));
    }
}

/// Real captured nodes read as the node pane shows them: their Ready and when it changed, the
/// roles of their `node-role.kubernetes.io/*` labels, the kubelet's version; the watch's cut of
/// a node reads the same.
#[test]
fn real_nodes_read_as_the_node_pane_shows_them() {
    use etcd_console_core::openshift::model::{node_row, slim_node};
    let mut read = 0;
    for scenario in ["insights-4.7.16", "sno-2023-03-09T14-31-10Z", "sno-2023-03-09T14-24-57Z"] {
        for node in of_kind(&objects(scenario), "Node") {
            let row = node_row(node).unwrap_or_else(|| panic!("{scenario}: a node not read"));
            let ready = condition(node, "Ready").unwrap();
            assert_eq!(row.ready, ready["status"].as_str().unwrap(), "{scenario} {}", row.name);
            assert_eq!(row.ready_since.as_deref(), ready["lastTransitionTime"].as_str());
            assert_eq!(row.kubelet_version.as_deref(), node["status"]["nodeInfo"]["kubeletVersion"].as_str());
            let mut roles: Vec<String> = node["metadata"]["labels"]
                .as_object()
                .unwrap()
                .keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                .map(str::to_string)
                .collect();
            roles.sort();
            assert!(!roles.is_empty(), "{scenario} {}: a real node has a role", row.name);
            assert_eq!(row.roles, roles);
            assert_eq!(node_row(&slim_node(node)), Some(row));
            read += 1;
        }
    }
    assert!(read >= 3, "{read} nodes read");
}
