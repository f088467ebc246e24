//! Each lab scenario starts, shows what it promises (judged by etcdctl and
//! kubectl), listens on loopback only, and stops cleanly.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use common::*;
use etcd_console_lab::Lab;

/// (local address, socket inode) of each socket listening on `port`, from /proc/net/tcp and tcp6.
fn listeners(port: u16) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) = (fields.get(1), fields.get(3), fields.get(9)) else {
                continue;
            };
            let Some((ip_hex, port_hex)) = local.split_once(':') else { continue };
            if *state != "0A" || u16::from_str_radix(port_hex, 16).ok() != Some(port) {
                continue;
            }
            let address = if ip_hex.len() == 8 {
                let n = u32::from_str_radix(ip_hex, 16).unwrap_or(0);
                Ipv4Addr::from(n.swap_bytes()).to_string()
            } else {
                format!("ipv6:{ip_hex}")
            };
            found.push((address, inode.to_string()));
        }
    }
    found
}

/// Whether this test process itself holds a socket listening on `port` (the lab's API).
fn we_listen_on(port: u16) -> bool {
    let ours: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter_map(|l| {
                    l.to_str().and_then(|l| l.strip_prefix("socket:[")?.strip_suffix(']')).map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    listeners(port).iter().any(|(_, inode)| ours.contains(inode))
}

fn port(url: &str) -> u16 {
    url.rsplit(':').next().and_then(|p| p.trim_end_matches('/').parse().ok()).unwrap_or(0)
}

/// Drops the lab and checks nothing of it is left: no etcd process, no API
/// listener (ports freed here may be taken at once by a lab of another test).
fn stops_cleanly(lab: Lab) {
    let data: PathBuf = lab.dir.join("hosts");
    let api_port = lab.api.as_ref().map(|a| port(&a.url)).unwrap_or(0);
    let ports: Vec<u16> = lab
        .members
        .iter()
        .filter(|m| m.pid().is_some())
        .flat_map(|m| [port(&m.client_url), port(&m.peer_url)])
        .chain([api_port])
        .collect();
    for p in &ports {
        let addresses: Vec<String> = listeners(*p).into_iter().map(|(a, _)| a).collect();
        assert!(!addresses.is_empty(), "nothing listens on the lab's port {p}");
        assert!(addresses.iter().all(|a| a.starts_with("127.")), "port {p} listens beyond loopback: {addresses:?}");
    }
    assert!(we_listen_on(api_port), "the API's socket is this process's");
    drop(lab);
    let pattern = format!("--data-dir={}", data.display());
    let left = std::process::Command::new("pgrep").args(["-f", "--", &pattern]).output().unwrap();
    assert!(left.stdout.is_empty(), "etcd members left running: {}", stdout(&left));
    assert!(!we_listen_on(api_port), "the API still listens on {api_port} after the lab stopped");
}

fn etcdctl_ok(lab: &Lab, args: &[&str]) -> String {
    let output = etcdctl(lab, args);
    assert!(output.status.success(), "etcdctl {args:?}: {}", stderr(&output));
    stdout(&output)
}

const ENCRYPTED: &str = r#"-o=jsonpath={.items[0].status.conditions[?(@.type=="Encrypted")].reason}"#;

#[tokio::test]
async fn healthy() {
    let lab = lab_scenario("healthy", 1.0).await;
    let health = etcdctl(&lab, &["endpoint", "health", "--cluster"]);
    assert_eq!(format!("{}{}", stdout(&health), stderr(&health)).matches("is healthy").count(), 3);
    assert!(kubectl_ok(&lab, &["get", "nodes", "--no-headers"]).lines().all(|l| l.contains(" Ready ")));
    assert_eq!(stderr(&kubectl(&lab, &["get", "csr"])).trim(), "No resources found");
    stops_cleanly(lab);
}

#[tokio::test]
async fn restore() {
    let lab = lab_scenario("restore", 1.0).await;
    let health = etcdctl(&lab, &["endpoint", "health", "--cluster"]);
    assert_eq!(format!("{}{}", stdout(&health), stderr(&health)).matches("is healthy").count(), 3);
    let nodes = kubectl_ok(&lab, &["get", "nodes", "--no-headers"]);
    assert_eq!(nodes.lines().filter(|l| l.contains(" Ready ")).count(), 5, "{nodes}");
    let policy = kubectl_ok(
        &lab,
        &[
            "get",
            "validatingwebhookconfigurations",
            "-o",
            "jsonpath={.items[*].metadata.name}={.items[*].webhooks[*].failurePolicy}",
        ],
    );
    assert_eq!(policy, "lab-policy=Fail");
    let network =
        kubectl_ok(&lab, &["get", "network.config.openshift.io", "cluster", "-o", "jsonpath={.status.networkType}"]);
    assert_eq!(network, "OVNKubernetes");
    stops_cleanly(lab);
}

#[tokio::test]
async fn fragmented() {
    let lab = lab_scenario("fragmented", 1.0).await;
    let status: serde_json::Value =
        serde_json::from_str(&etcdctl_ok(&lab, &["endpoint", "status", "-w", "json"])).unwrap();
    for member in status.as_array().unwrap() {
        let size = member["Status"]["dbSize"].as_u64().unwrap();
        let in_use = member["Status"]["dbSizeInUse"].as_u64().unwrap();
        assert!(size > 64 << 20, "a large database: {size}");
        assert!(in_use * 100 < size * 50, "less than half of it in use: {in_use} of {size}");
    }
    stops_cleanly(lab);
}

#[tokio::test]
async fn nospace() {
    let lab = lab_scenario("nospace", 1.0).await;
    assert!(etcdctl_ok(&lab, &["alarm", "list"]).contains("alarm:NOSPACE"));
    let put = etcdctl(&lab, &["put", "after", "full"]);
    assert!(stderr(&put).contains("database space exceeded"), "{}", stderr(&put));
    stops_cleanly(lab);
}

#[tokio::test]
async fn member_down() {
    let lab = lab_scenario("member-down", 1.0).await;
    let health = etcdctl(&lab, &["endpoint", "health"]);
    let text = format!("{}{}", stdout(&health), stderr(&health));
    assert_eq!((text.matches("is healthy").count(), text.matches("is unhealthy").count()), (2, 1), "{text}");
    let pods = eventually("the stopped member's pod in CrashLoopBackOff", Duration::from_secs(10), || {
        let out = kubectl_ok(&lab, &["get", "pods", "-n", "openshift-etcd", "-l", "k8s-app=etcd"]);
        out.contains("CrashLoopBackOff").then_some(out)
    });
    assert_eq!(pods.lines().filter(|l| l.contains("3/3")).count(), 2, "{pods}");
    let degraded = eventually("etcd Degraded", Duration::from_secs(10), || {
        let out = kubectl_ok(&lab, &["get", "co", "etcd", "--no-headers"]);
        let cells: Vec<String> = out.split_whitespace().map(str::to_string).collect();
        (cells.get(4).map(String::as_str) == Some("True")).then_some(out)
    });
    assert!(degraded.contains("2 of 3 members are available"), "{degraded}");
    stops_cleanly(lab);
}

#[tokio::test]
async fn encryption_in_progress() {
    let lab = lab_scenario("encryption-in-progress", 1.0).await;
    for resource in ["openshiftapiserver", "kubeapiserver", "authentication.operator.openshift.io"] {
        assert_eq!(kubectl_ok(&lab, &["get", resource, ENCRYPTED]), "EncryptionInProgress", "{resource}");
    }
    assert_eq!(kubectl_ok(&lab, &["get", "apiserver", "cluster", "-o", "jsonpath={.spec.encryption.type}"]), "aescbc");
    let keys = kubectl_ok(&lab, &["get", "secrets", "-n", "openshift-config-managed", "--no-headers"]);
    assert_eq!(keys.lines().filter(|l| l.starts_with("encryption-key-")).count(), 3, "{keys}");
    stops_cleanly(lab);
}

#[tokio::test]
async fn post_restore() {
    let lab = lab_scenario("post-restore", 1.0).await;
    let csrs = kubectl_ok(&lab, &["get", "csr", "--no-headers"]);
    assert_eq!(csrs.lines().filter(|l| l.ends_with("Pending")).count(), 4, "{csrs}");
    assert!(csrs.contains("node-bootstrapper") && csrs.contains("kubernetes.io/kubelet-serving"), "{csrs}");
    let nodes = kubectl_ok(&lab, &["get", "nodes", "--no-headers"]);
    assert_eq!(nodes.lines().filter(|l| l.contains("NotReady")).count(), 4, "{nodes}");
    for resource in ["etcd", "kubeapiserver"] {
        let message = kubectl_ok(
            &lab,
            &[
                "get",
                resource,
                r#"-o=jsonpath={.items[0].status.conditions[?(@.type=="NodeInstallerProgressing")].message}"#,
            ],
        );
        assert_eq!(message, "2 nodes are at revision 6; 1 nodes are at revision 7", "{resource}");
    }
    let guard = kubectl_ok(&lab, &["get", "etcd", "cluster", "-o", "jsonpath={.spec.unsupportedConfigOverrides}"]);
    assert_eq!(guard, r#"{"useUnsupportedUnsafeNonHANonProductionUnstableEtcd":true}"#);
    stops_cleanly(lab);
}

#[tokio::test]
async fn csr_flood() {
    let lab = lab_scenario("csr-flood", 1.0).await;
    let csrs = kubectl_ok(&lab, &["get", "csr", "--no-headers"]);
    assert_eq!(csrs.lines().count(), 5000);
    assert!(csrs.lines().all(|l| l.ends_with("Pending")));
    stops_cleanly(lab);
}

#[tokio::test]
async fn hosted() {
    // 60x: the HyperShift operator undoes a scale-down after half a second when not paused.
    let lab = lab_scenario("hosted", 60.0).await;
    let cp = "clusters-hosted";
    let pods = kubectl_ok(&lab, &["get", "pods", "-l", "app=etcd", "-n", cp]);
    assert_eq!(names(&pods), ["etcd-0", "etcd-1", "etcd-2"]);
    assert!(pods.lines().skip(1).all(|l| l.contains("2/2") && l.contains("Running")), "{pods}");
    let hc = kubectl_ok(
        &lab,
        &["get", "hostedcluster", "-n", "clusters", "hosted", "-o=jsonpath={.spec.secretEncryption.aescbc}"],
    );
    assert_eq!(hc, r#"{"activeKey":{"name":"hosted-etcd-encryption-key"}}"#);
    assert_eq!(names(&kubectl_ok(&lab, &["get", "pvc", "-n", cp])), ["data-etcd-0", "data-etcd-1", "data-etcd-2"]);
    let when_scaled = kubectl_ok(
        &lab,
        &[
            "get",
            "statefulset",
            "etcd",
            "-n",
            cp,
            "-o",
            "jsonpath={.spec.persistentVolumeClaimRetentionPolicy.whenScaled}",
        ],
    );
    assert_eq!(when_scaled, "Retain");

    // A failed etcd pod is recovered as the runbook does it: delete the pod and its claim.
    let deleted = kubectl_ok(&lab, &["delete", "-n", cp, "pod/etcd-2", "pvc/data-etcd-2", "--wait=false"]);
    assert_eq!(deleted.lines().count(), 2, "{deleted}");
    let back = eventually("etcd-2 recreated", Duration::from_secs(10), || {
        // NotFound until the StatefulSet has made it again: asked again, not a failure.
        let got = kubectl(&lab, &["get", "pod", "etcd-2", "-n", cp, "--no-headers"]);
        let out = String::from_utf8_lossy(&got.stdout).into_owned();
        let age = out.split_whitespace().nth(4).map(str::to_string).unwrap_or_default();
        age.ends_with('s').then_some(age)
    });
    assert!(back.trim_end_matches('s').parse::<u64>().is_ok_and(|s| s < 60), "a new pod: {back}");
    assert!(kubectl(&lab, &["get", "pvc", "data-etcd-2", "-n", cp]).status.success(), "its claim is made again");

    // Not paused: a scale-down is undone by the operator.
    kubectl_ok(&lab, &["scale", "deployment", "-n", cp, "kube-apiserver", "--replicas=0"]);
    eventually("kube-apiserver restored to 3", Duration::from_secs(10), || {
        let ready = kubectl_ok(
            &lab,
            &["get", "deployment", "kube-apiserver", "-n", cp, "-o", "jsonpath={.status.readyReplicas}"],
        );
        (ready == "3").then_some(())
    });
    // Paused (the runbook's first step): the scale-down holds and the pods go.
    set_hosted_paused(&lab, Some("true"));
    let paused = eventually("ReconciliationActive False", Duration::from_secs(10), || {
        let out = kubectl_ok(
            &lab,
            &[
                "get",
                "hc",
                "hosted",
                "-n",
                "clusters",
                r#"-o=jsonpath={.status.conditions[?(@.type=="ReconciliationActive")].reason}"#,
            ],
        );
        (out == "ReconciliationPaused").then_some(out)
    });
    assert_eq!(paused, "ReconciliationPaused");
    assert_eq!(kubectl_ok(&lab, &["get", "hcp", "hosted", "-n", cp, "-o", "jsonpath={.spec.pausedUntil}"]), "true");
    kubectl_ok(
        &lab,
        &[
            "scale",
            "deployment",
            "-n",
            cp,
            "kube-apiserver",
            "openshift-apiserver",
            "openshift-oauth-apiserver",
            "--replicas=0",
        ],
    );
    kubectl_ok(&lab, &["scale", "statefulset", "-n", cp, "etcd", "--replicas=0"]);
    // The etcd pods go once their members have stopped (a second or two).
    let left = eventually("the etcd pods gone", Duration::from_secs(15), || {
        let left = kubectl_ok(&lab, &["get", "pods", "-n", cp, "--no-headers"]);
        (left.lines().count() == 1).then_some(left)
    });
    assert_eq!(names(&format!("header\n{left}")).len(), 1, "only control-plane-operator runs: {left}");
    assert!(left.starts_with("control-plane-operator-"), "{left}");
    // Resumed: everything comes back.
    set_hosted_paused(&lab, None);
    eventually("etcd pods back", Duration::from_secs(20), || {
        let out = kubectl_ok(&lab, &["get", "pods", "-l", "app=etcd", "-n", cp, "--no-headers"]);
        (out.lines().filter(|l| l.contains("2/2") && l.contains("Running")).count() == 3).then_some(())
    });
    stops_cleanly(lab);
}

#[tokio::test]
async fn kubernetes() {
    let lab = lab_scenario("kubernetes", 1.0).await;
    let missing = kubectl(&lab, &["get", "apiservers.config.openshift.io"]);
    assert!(
        stderr(&missing).contains(r#"the server doesn't have a resource type "apiservers""#),
        "{}",
        stderr(&missing)
    );
    assert!(!kubectl_ok(&lab, &["api-versions"]).contains("openshift.io"));
    assert_eq!(
        names(&kubectl_ok(&lab, &["get", "nodes", "-l", "node-role.kubernetes.io/master"])).len(),
        3,
        "core objects are served"
    );
    // Nor does it have OpenShift's namespaces and what is in them.
    let namespace = kubectl(&lab, &["get", "namespace", "openshift-etcd"]);
    assert!(stderr(&namespace).contains(r#"namespaces "openshift-etcd" not found"#), "{}", stderr(&namespace));
    assert!(kubectl_ok(&lab, &["get", "pods", "-A", "--no-headers"]).lines().all(|l| !l.starts_with("openshift")));
    stops_cleanly(lab);
}

/// A field of `resource`/`name`'s condition of type `kind` (empty when there is no such condition).
fn condition(lab: &Lab, resource: &str, name: &str, kind: &str, field: &str) -> String {
    let path = format!(r#"-o=jsonpath={{.status.conditions[?(@.type=="{kind}")].{field}}}"#);
    kubectl_ok(lab, &["get", resource, name, &path])
}

fn encrypted(lab: &Lab, resource: &str) -> String {
    condition(lab, resource, "cluster", "Encrypted", "reason")
}

fn set_encryption(lab: &Lab, mode: &str) {
    let patch = format!(r#"{{"spec":{{"encryption":{{"type":"{mode}"}}}}}}"#);
    kubectl_ok(lab, &["patch", "apiserver", "cluster", "--type=merge", "-p", &patch]);
}

fn key_secrets(lab: &Lab) -> Vec<String> {
    let secrets = kubectl_ok(lab, &["get", "secrets", "-n", "openshift-config-managed"]);
    names(&secrets).into_iter().filter(|n| n.starts_with("encryption-key-")).collect()
}

const AUTHENTICATION: &str = "authentication.operator.openshift.io";

#[tokio::test]
async fn encryption_operators_complete_one_after_another() {
    // 100x: the migration takes 12 s; OpenShiftAPIServer is done at 6 s, Authentication at 9 s, KubeAPIServer
    // at 12 s (seconds apart, so a loaded machine's slow kubectl still sees them one after another).
    let lab = lab_scenario("healthy", 100.0).await;
    assert_eq!(encrypted(&lab, "openshiftapiserver"), "EncryptionDisabled");
    set_encryption(&lab, "aescbc");
    eventually("openshiftapiserver EncryptionCompleted", Duration::from_secs(20), || {
        (encrypted(&lab, "openshiftapiserver") == "EncryptionCompleted").then_some(())
    });
    assert_eq!(encrypted(&lab, "kubeapiserver"), "EncryptionInProgress", "the Kubernetes API server finishes last");
    eventually("all three EncryptionCompleted", Duration::from_secs(20), || {
        ["openshiftapiserver", "kubeapiserver", AUTHENTICATION]
            .iter()
            .all(|r| encrypted(&lab, r) == "EncryptionCompleted")
            .then_some(())
    });
    let message = condition(&lab, "kubeapiserver", "cluster", "Encrypted", "message");
    assert_eq!(message, "All resources encrypted: secrets, configmaps");
    let keys = key_secrets(&lab);
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.contains(&"encryption-key-openshift-oauth-apiserver-1".to_string()), "{keys:?}");
    for resource in ["openshiftapiserver", "kubeapiserver", AUTHENTICATION] {
        let degraded = condition(&lab, resource, "cluster", "EncryptionMigrationControllerDegraded", "status");
        assert!(degraded.is_empty() || degraded == "False", "{resource}: {degraded}");
    }
    stops_cleanly(lab);
}

#[tokio::test]
async fn encryption_degraded() {
    // 300x: the OpenShift API server operator degrades 1 s into the 4 s migration.
    let lab = lab_scenario("encryption-degraded", 300.0).await;
    assert_eq!(encrypted(&lab, "openshiftapiserver"), "DecryptionCompleted");
    assert_eq!(condition(&lab, "co", "openshift-apiserver", "Degraded", "status"), "False");
    set_encryption(&lab, "aescbc");
    let message = "EncryptionMigrationControllerDegraded: migrating routes.route.openshift.io failed: etcdserver: request timed out";
    eventually("openshift-apiserver Degraded", Duration::from_secs(10), || {
        (condition(&lab, "co", "openshift-apiserver", "Degraded", "status") == "True").then_some(())
    });
    assert_eq!(
        condition(&lab, "co", "openshift-apiserver", "Degraded", "reason"),
        "EncryptionMigrationController_Error"
    );
    assert_eq!(condition(&lab, "co", "openshift-apiserver", "Degraded", "message"), message);
    let own = |field| condition(&lab, "openshiftapiserver", "cluster", "EncryptionMigrationControllerDegraded", field);
    assert_eq!((own("status"), own("reason"), own("message")), ("True".into(), "Error".into(), message.into()));
    eventually("kubeapiserver EncryptionCompleted", Duration::from_secs(10), || {
        (encrypted(&lab, "kubeapiserver") == "EncryptionCompleted").then_some(())
    });
    assert_eq!(encrypted(&lab, AUTHENTICATION), "EncryptionCompleted");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(encrypted(&lab, "openshiftapiserver"), "EncryptionInProgress", "the faulty operator never completes");
    assert_eq!(condition(&lab, "co", "openshift-apiserver", "Degraded", "status"), "True", "and stays Degraded");
    for resource in ["kubeapiserver", AUTHENTICATION] {
        let degraded = condition(&lab, resource, "cluster", "EncryptionMigrationControllerDegraded", "status");
        assert!(degraded.is_empty() || degraded == "False", "{resource}: {degraded}");
    }
    for co in ["kube-apiserver", "authentication"] {
        assert_eq!(condition(&lab, "co", co, "Degraded", "status"), "False", "{co}");
    }

    // A new migration clears the fault, which comes back a quarter of the way through.
    let first = condition(&lab, "co", "openshift-apiserver", "Degraded", "lastTransitionTime");
    set_encryption(&lab, "identity");
    eventually("openshift-apiserver Degraded again", Duration::from_secs(10), || {
        let again = condition(&lab, "co", "openshift-apiserver", "Degraded", "lastTransitionTime") != first
            && condition(&lab, "co", "openshift-apiserver", "Degraded", "status") == "True";
        again.then_some(())
    });
    assert_eq!(encrypted(&lab, "openshiftapiserver"), "DecryptionInProgress");
    stops_cleanly(lab);
}

#[tokio::test]
async fn encryption_older() {
    let lab = lab_scenario("encryption-older", 300.0).await;
    assert_eq!(encrypted(&lab, AUTHENTICATION), "", "no Encrypted condition on 4.5/4.6");
    assert_eq!(encrypted(&lab, "openshiftapiserver"), "EncryptionDisabled");
    set_encryption(&lab, "aescbc");
    eventually("both EncryptionCompleted", Duration::from_secs(10), || {
        ["openshiftapiserver", "kubeapiserver"]
            .iter()
            .all(|r| encrypted(&lab, r) == "EncryptionCompleted")
            .then_some(())
    });
    assert_eq!(
        condition(&lab, "openshiftapiserver", "cluster", "Encrypted", "message"),
        "All resources encrypted: routes.route.openshift.io, oauthaccesstokens.oauth.openshift.io, oauthauthorizetokens.oauth.openshift.io"
    );
    assert_eq!(encrypted(&lab, AUTHENTICATION), "", "nor after a migration");
    let keys = key_secrets(&lab);
    assert_eq!(keys, ["encryption-key-openshift-apiserver-1", "encryption-key-openshift-kube-apiserver-1"]);
    stops_cleanly(lab);
}

#[tokio::test]
async fn encryption_migration_caught_late() {
    // Twelve minutes into a migration: the OpenShift API server finished at ten, the
    // faulty Kubernetes API server degraded at five; Authentication finishes at fifteen.
    let file = std::env::temp_dir().join(format!("lab-caught-late-{}.toml", std::process::id()));
    let scenario = "description = \"caught late\"\n[cluster]\nencryption = \"aesgcm\"\n\
                    encryption_started_minutes_ago = 12\nencryption_degrades = \"kubeapiserver\"\n";
    std::fs::write(&file, scenario).unwrap();
    let lab = lab_scenario(&path_str(&file), 1.0).await;
    let _ = std::fs::remove_file(&file);
    assert_eq!(encrypted(&lab, "openshiftapiserver"), "EncryptionCompleted");
    assert_eq!(encrypted(&lab, AUTHENTICATION), "EncryptionInProgress");
    assert_eq!(encrypted(&lab, "kubeapiserver"), "EncryptionInProgress");
    let degraded = condition(&lab, "kubeapiserver", "cluster", "EncryptionMigrationControllerDegraded", "message");
    assert!(degraded.contains("migrating secrets, configmaps failed"), "{degraded}");
    // The ClusterOperator's Degraded is rewritten from etcd's health every tick; the fault holds it.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(condition(&lab, "co", "kube-apiserver", "Degraded", "reason"), "EncryptionMigrationController_Error");
    assert_eq!(condition(&lab, "co", "openshift-apiserver", "Degraded", "status"), "False");
    stops_cleanly(lab);
}
