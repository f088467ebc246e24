//! What the restore procedure needs of the lab's simulated OpenShift API, with
//! the real kubectl (and kube-rs for the certificate user): a cluster-admin
//! kubeconfig by client certificate, the Infrastructure and Network configs,
//! admission webhooks whose failurePolicy is set to Ignore and back,
//! OVN-Kubernetes pods deleted node by node and coming back, and master
//! Machines deleted and replaced.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use etcd_console_lab::Lab;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

const OVN: &str = "openshift-ovn-kubernetes";
const POLICY: &str = "pods.policy.lab.etcd-console.io";

fn jsonpath(lab: &Lab, args: &[&str], path: &str) -> String {
    let mut all = args.to_vec();
    let query = format!("-o=jsonpath={path}");
    all.push(&query);
    kubectl_ok(lab, &all)
}

/// The rows of a `kubectl get` table, split into cells (header skipped).
fn rows(table: &str) -> Vec<Vec<String>> {
    table.lines().skip(1).map(|l| l.split_whitespace().map(str::to_string).collect()).collect()
}

#[tokio::test]
async fn the_certificate_admin_and_the_cluster_config_answer_as_on_a_cluster() {
    let lab = lab_scenario("restore", 1.0).await;

    // The token context is still the current one; the certificate one is system:admin.
    let whoami = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"]);
        kubectl_ok(&lab, &all)
    };
    assert_eq!(whoami(&[]), r#"lab-admin ["system:masters","system:authenticated"]"#);
    assert_eq!(whoami(&["--context", "lab-admin-cert"]), r#"system:admin ["system:masters","system:authenticated"]"#);
    let nodes = kubectl_ok(&lab, &["--context", "lab-admin-cert", "get", "nodes"]);
    assert_eq!(names(&nodes), ["master-0", "master-1", "master-2", "worker-0", "worker-1"]);
    let can = kubectl(&lab, &["--context", "lab-admin-cert", "auth", "can-i", "patch", "etcds.operator.openshift.io"]);
    assert_eq!((can.status.code(), stdout(&can).trim()), (Some(0), "yes"));
    let patched = kubectl_ok(
        &lab,
        &[
            "--context",
            "lab-admin-cert",
            "patch",
            "etcd",
            "cluster",
            "--type=merge",
            "-p",
            r#"{"spec":{"logLevel":"Debug"}}"#,
        ],
    );
    assert_eq!(patched.trim(), "etcd.operator.openshift.io/cluster patched");

    // The installer's auth/kubeconfig: the certificate embedded, context admin.
    let installer = lab.dir.join("auth").join("kubeconfig");
    let installer = path_str(&installer);
    assert_eq!(whoami(&["--kubeconfig", &installer]), r#"system:admin ["system:masters","system:authenticated"]"#);
    let text = std::fs::read_to_string(&installer).unwrap();
    assert!(text.contains("client-certificate-data: ") && text.contains("current-context: admin"), "{text}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(lab.dir.join("auth").join("system-admin.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // Another certificate of the lab's CA is someone, but no admin: etcd's client may not list nodes.
    let client_cert = path_str(&lab.pki.client.cert);
    let client_key = path_str(&lab.pki.client.key);
    let etcd_client =
        ["--context", "lab-admin-cert", "--client-certificate", &client_cert, "--client-key", &client_key];
    assert_eq!(whoami(&etcd_client), r#"etcd-console ["system:authenticated"]"#);
    let mut list_nodes = etcd_client.to_vec();
    list_nodes.extend(["get", "nodes"]);
    let denied = kubectl(&lab, &list_nodes);
    assert_eq!(
        stderr(&denied).trim(),
        r#"Error from server (Forbidden): nodes is forbidden: User "etcd-console" cannot list resource "nodes" in API group "" at the cluster scope"#
    );

    // kube-rs (the console's client) with the certificate context.
    let kubeconfig = Kubeconfig::read_from(lab.kubeconfig.clone().unwrap()).unwrap();
    let options = KubeConfigOptions { context: Some("lab-admin-cert".into()), ..KubeConfigOptions::default() };
    let client = Client::try_from(Config::from_custom_kubeconfig(kubeconfig, &options).await.unwrap()).unwrap();
    let listed = Api::<Node>::all(client).list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 5);

    // Infrastructure and Network.
    let infrastructure = jsonpath(
        &lab,
        &["get", "infrastructure", "cluster"],
        "{.status.infrastructureName} {.status.platform} {.status.apiServerURL}",
    );
    let url = lab.api.as_ref().unwrap().url.clone();
    assert_eq!(infrastructure, format!("lab-7xk2p AWS {url}"));
    let network =
        jsonpath(&lab, &["get", "network.config.openshift.io", "cluster"], "{.spec.networkType} {.status.networkType}");
    assert_eq!(network, "OVNKubernetes OVNKubernetes");
    let network = jsonpath(&lab, &["get", "network", "cluster"], "{.spec.networkType}");
    assert_eq!(network, "OVNKubernetes");

    // Nodes: roles, addresses and readiness a console maps to hosts and Machines.
    let masters = jsonpath(
        &lab,
        &["get", "nodes", "-l", "node-role.kubernetes.io/master,node-role.kubernetes.io/control-plane"],
        r#"{range .items[*]}{.metadata.name} {.status.addresses[?(@.type=="InternalIP")].address} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#,
    );
    let expected: Vec<String> = lab.members.iter().map(|m| format!("{} {} True", m.name, m.ip)).collect();
    assert_eq!(masters.lines().collect::<Vec<_>>(), expected);
    let workers = kubectl_ok(&lab, &["get", "nodes", "-l", "node-role.kubernetes.io/worker"]);
    assert_eq!(names(&workers), ["worker-0", "worker-1"]);
    assert!(rows(&workers).iter().all(|r| r[1] == "Ready" && r[2] == "worker"), "{workers}");

    // Each master Machine names its node.
    let machines = jsonpath(
        &lab,
        &[
            "get",
            "machines",
            "-n",
            "openshift-machine-api",
            "-l",
            "machine.openshift.io/cluster-api-machine-role=master",
        ],
        r#"{range .items[*]}{.metadata.name}={.status.nodeRef.name}{"\n"}{end}"#,
    );
    assert_eq!(
        machines.lines().collect::<Vec<_>>(),
        ["lab-7xk2p-master-0=master-0", "lab-7xk2p-master-1=master-1", "lab-7xk2p-master-2=master-2"]
    );
}

#[tokio::test]
async fn a_fail_webhook_is_set_to_ignore_and_back_as_kubectl_patches_it() {
    let lab = lab_scenario("restore", 1.0).await;
    let listed = kubectl_ok(&lab, &["get", "validatingwebhookconfigurations"]);
    let header: Vec<&str> = listed.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "WEBHOOKS", "AGE"]);
    assert_eq!(rows(&listed).iter().map(|r| r[..2].join(" ")).collect::<Vec<_>>(), ["lab-policy 1"]);
    let none = kubectl(&lab, &["get", "mutatingwebhookconfigurations"]);
    assert_eq!(stderr(&none).trim(), "No resources found");

    let policies = || {
        jsonpath(
            &lab,
            &["get", "validatingwebhookconfiguration", "lab-policy"],
            "{range .webhooks[*]}{.name}={.failurePolicy},{.sideEffects}{end}",
        )
    };
    assert_eq!(policies(), format!("{POLICY}=Fail,None"));

    // The runbook's JSON patch.
    let ignore = r#"[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]"#;
    let patched =
        kubectl_ok(&lab, &["patch", "validatingwebhookconfiguration", "lab-policy", "--type=json", "-p", ignore]);
    assert_eq!(patched.trim(), "validatingwebhookconfiguration.admissionregistration.k8s.io/lab-policy patched");
    assert_eq!(policies(), format!("{POLICY}=Ignore,None"));

    // kubectl's default strategic merge patch merges the webhook by name: its other fields stay.
    let back = format!(r#"{{"webhooks":[{{"name":"{POLICY}","failurePolicy":"Fail"}}]}}"#);
    kubectl_ok(&lab, &["patch", "validatingwebhookconfiguration", "lab-policy", "-p", &back]);
    assert_eq!(policies(), format!("{POLICY}=Fail,None"));
    let rules =
        jsonpath(&lab, &["get", "validatingwebhookconfiguration", "lab-policy"], "{.webhooks[0].rules[0].resources}");
    assert_eq!(rules, r#"["pods"]"#);

    // A merge patch replaces the whole list, so the webhook loses its required fields: refused.
    let merge = format!(r#"{{"webhooks":[{{"name":"{POLICY}","failurePolicy":"Ignore"}}]}}"#);
    let refused =
        kubectl(&lab, &["patch", "validatingwebhookconfiguration", "lab-policy", "--type=merge", "-p", &merge]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("webhooks[0].sideEffects: Required value"), "{}", stderr(&refused));
    let bad = r#"[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Sometimes"}]"#;
    let refused = kubectl(&lab, &["patch", "validatingwebhookconfiguration", "lab-policy", "--type=json", "-p", bad]);
    assert!(
        stderr(&refused).contains(
            r#"webhooks[0].failurePolicy: Unsupported value: "Sometimes": supported values: "Fail", "Ignore""#
        ),
        "{}",
        stderr(&refused)
    );
    assert_eq!(policies(), format!("{POLICY}=Fail,None"));

    // The other way the runbook allows: save, delete, and create it again afterwards.
    let saved = kubectl_ok(&lab, &["get", "validatingwebhookconfiguration", "lab-policy", "-o", "json"]);
    let mut saved: serde_json::Value = serde_json::from_str(&saved).unwrap();
    for field in ["uid", "resourceVersion", "creationTimestamp", "generation"] {
        saved["metadata"].as_object_mut().unwrap().remove(field);
    }
    let file = lab.dir.join("lab-policy.json");
    std::fs::write(&file, saved.to_string()).unwrap();
    let deleted = kubectl_ok(&lab, &["delete", "validatingwebhookconfiguration", "lab-policy"]);
    assert_eq!(deleted.trim(), r#"validatingwebhookconfiguration.admissionregistration.k8s.io "lab-policy" deleted"#);
    // The lab serves no OpenAPI document for kubectl to validate against.
    let created = kubectl_ok(&lab, &["create", "--validate=false", "-f", &path_str(&file)]);
    assert_eq!(created.trim(), "validatingwebhookconfiguration.admissionregistration.k8s.io/lab-policy created");
    assert_eq!(policies(), format!("{POLICY}=Fail,None"));

    // A healthy cluster has none.
    let healthy = lab_scenario("healthy", 1.0).await;
    let none = kubectl(&healthy, &["get", "validatingwebhookconfigurations"]);
    assert_eq!(stderr(&none).trim(), "No resources found");
}

#[tokio::test]
async fn ovn_kubernetes_pods_deleted_node_by_node_come_back() {
    // 4x: a pod is Pending for two seconds.
    let lab = lab_scenario("restore", 4.0).await;
    let control_plane = kubectl_ok(&lab, &["-n", OVN, "get", "pods", "-l", "app=ovnkube-control-plane", "-o", "wide"]);
    let cells = rows(&control_plane);
    assert_eq!(cells.len(), 3, "{control_plane}");
    assert!(cells.iter().all(|r| r[0].starts_with("ovnkube-control-plane-") && r[1..3] == ["2/2", "Running"]));
    let mut on: Vec<&str> = cells.iter().map(|r| r[6].as_str()).collect();
    on.sort_unstable();
    assert_eq!(on, ["master-0", "master-1", "master-2"]);
    let per_node = kubectl_ok(&lab, &["-n", OVN, "get", "pods", "-l", "app=ovnkube-node", "-o", "wide"]);
    let mut on: Vec<String> = rows(&per_node).iter().map(|r| format!("{} {}", r[1], r[6])).collect();
    on.sort_unstable();
    assert_eq!(on, ["8/8 master-0", "8/8 master-1", "8/8 master-2", "8/8 worker-0", "8/8 worker-1"]);
    let daemonset = kubectl_ok(&lab, &["-n", OVN, "get", "daemonset", "ovnkube-node"]);
    assert_eq!(rows(&daemonset)[0][..6], ["ovnkube-node", "5", "5", "5", "5", "5"]);

    // The field selector picks the node's pod (and only pods may select on spec.nodeName).
    let on_master = ["-n", OVN, "get", "pod", "-l", "app=ovnkube-node", "--field-selector=spec.nodeName==master-0"];
    let before = names(&kubectl_ok(&lab, &on_master));
    assert_eq!(before.len(), 1);
    let everywhere = kubectl_ok(&lab, &["get", "pods", "-A", "--field-selector", "spec.nodeName=worker-1"]);
    assert_eq!(rows(&everywhere).iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), [OVN]);
    let wrong = kubectl(&lab, &["get", "secrets", "-A", "--field-selector", "spec.nodeName=master-0"]);
    assert!(stderr(&wrong).contains("field label not supported: spec.nodeName"), "{}", stderr(&wrong));

    // The runbook: delete the node's pod, watch it come back on the same node.
    let deleted = kubectl_ok(
        &lab,
        &["-n", OVN, "delete", "pod", "-l", "app=ovnkube-node", "--field-selector=spec.nodeName==master-0"],
    );
    assert_eq!(deleted.trim(), format!(r#"pod "{}" deleted"#, before[0]));
    let mut seen = Vec::new();
    let running = eventually("the ovnkube-node pod Running again", Duration::from_secs(20), || {
        let out = kubectl_ok(&lab, &on_master);
        let row = rows(&out).into_iter().next()?;
        if row[0] == before[0] {
            return None;
        }
        seen.push(row[1..3].join(" "));
        (row[2] == "Running").then_some(row)
    });
    assert_eq!(running[1], "8/8");
    assert_eq!(seen.first().map(String::as_str), Some("0/8 ContainerCreating"), "Pending first: {seen:?}");

    // The control plane's pods, all at once.
    let old: Vec<String> = cells.iter().map(|r| r[0].clone()).collect();
    let gone = kubectl_ok(&lab, &["-n", OVN, "delete", "pod", "-l", "app=ovnkube-control-plane"]);
    assert_eq!(gone.lines().count(), 3, "{gone}");
    let again = eventually("three new ovnkube-control-plane pods Running", Duration::from_secs(20), || {
        let out = kubectl_ok(&lab, &["-n", OVN, "get", "pods", "-l", "app=ovnkube-control-plane", "-o", "wide"]);
        let cells = rows(&out);
        (cells.len() == 3 && cells.iter().all(|r| r[2] == "Running" && !old.contains(&r[0]))).then_some(cells)
    });
    let mut on: Vec<&str> = again.iter().map(|r| r[6].as_str()).collect();
    on.sort_unstable();
    assert_eq!(on, ["master-0", "master-1", "master-2"]);
    let ready = jsonpath(&lab, &["-n", OVN, "get", "deployment", "ovnkube-control-plane"], "{.status.readyReplicas}");
    assert_eq!(ready, "3");
}

#[tokio::test]
async fn a_deleted_master_machine_is_replaced_by_the_next_number() {
    // 45x: the three minutes of provisioning take four seconds.
    let lab = lab_scenario("restore", 45.0).await;
    let wide = ["get", "machines", "-n", "openshift-machine-api", "-o", "wide"];
    let before = kubectl_ok(&lab, &wide);
    let old = rows(&before).into_iter().find(|r| r[0] == "lab-7xk2p-master-0").unwrap();
    let deleted = kubectl_ok(&lab, &["delete", "machine", "-n", "openshift-machine-api", "lab-7xk2p-master-0"]);
    assert_eq!(deleted.trim(), r#"machine.machine.openshift.io "lab-7xk2p-master-0" deleted"#);

    let new = eventually("the replacement Machine", Duration::from_secs(10), || {
        let out = kubectl_ok(&lab, &wide);
        rows(&out).into_iter().find(|r| r[0] == "lab-7xk2p-master-3")
    });
    // NAME PHASE TYPE REGION ZONE AGE NODE PROVIDERID STATE
    assert_eq!(new[1], "Provisioning");
    assert_eq!(new[2..5], old[2..5], "same type, region and zone");
    assert_eq!(new[6], "master-0", "the node it replaces");
    assert_ne!(new[7], old[7], "a new instance");
    let after = kubectl_ok(&lab, &wide);
    let mut names = names(&after);
    names.retain(|n| n.contains("-master-"));
    assert_eq!(names, ["lab-7xk2p-master-1", "lab-7xk2p-master-2", "lab-7xk2p-master-3"]);

    let mut phases = Vec::new();
    eventually("the replacement Running", Duration::from_secs(30), || {
        let phase =
            jsonpath(&lab, &["get", "machine", "-n", "openshift-machine-api", "lab-7xk2p-master-3"], "{.status.phase}");
        if phases.last() != Some(&phase) {
            phases.push(phase.clone());
        }
        (phase == "Running").then_some(())
    });
    assert_eq!(phases, ["Provisioning", "Provisioned", "Running"]);
    let node = jsonpath(
        &lab,
        &["get", "machine", "-n", "openshift-machine-api", "lab-7xk2p-master-3"],
        "{.status.nodeRef.name}",
    );
    assert_eq!(node, "master-0");

    // The next one after that is master-4.
    kubectl_ok(&lab, &["delete", "machine", "-n", "openshift-machine-api", "lab-7xk2p-master-1"]);
    eventually("lab-7xk2p-master-4", Duration::from_secs(10), || {
        kubectl(&lab, &["get", "machine", "-n", "openshift-machine-api", "lab-7xk2p-master-4"])
            .status
            .success()
            .then_some(())
    });
}
