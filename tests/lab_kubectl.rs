//! The real kubectl against the lab's simulated OpenShift API, with the
//! commands of the runbooks: what an SRE would type and see on a cluster.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use common::*;
use etcd_console_lab::Lab;

const ENCRYPTED: &str = r#"{range .items[0].status.conditions[?(@.type=="Encrypted")]}{.reason}{"\n"}{.message}{"\n"}"#;
const INSTALLER: &str =
    r#"{range .items[0].status.conditions[?(@.type=="NodeInstallerProgressing")]}{.reason}{"\n"}{.message}{"\n"}"#;

/// `reason` and `message` of a runbook jsonpath query (the first two lines it prints).
fn reason_message(lab: &Lab, resource: &str, query: &str) -> (String, String) {
    let out = kubectl_ok(lab, &["get", resource, &format!("-o=jsonpath={query}")]);
    let mut lines = out.lines().filter(|l| !l.is_empty());
    (lines.next().unwrap_or_default().to_string(), lines.next().unwrap_or_default().to_string())
}

/// A `kubectl ... --watch` whose lines arrive on a channel; killed on drop.
struct Watch {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl Watch {
    fn start(lab: &Lab, args: &[&str]) -> Watch {
        let mut child = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", lab.kubeconfig.clone().unwrap())
            .env("KUBECACHEDIR", lab.dir.join("kube-cache"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run kubectl: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Watch { child, lines }
    }

    /// Lines up to and including the first that satisfies `check`.
    fn until(&self, what: &str, limit: Duration, check: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = std::time::Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = check(&line);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(_) => panic!("kubectl --watch never showed {what}; it printed:\n{}", seen.join("\n")),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn runbook_reads_show_what_an_sre_sees_on_a_cluster() {
    let lab = lab_scenario("healthy", 1.0).await;

    let pods = kubectl_ok(&lab, &["-n", "openshift-etcd", "get", "pods", "-l", "k8s-app=etcd", "-o", "wide"]);
    let header: Vec<&str> = pods.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"]
    );
    assert_eq!(names(&pods), ["etcd-master-0", "etcd-master-1", "etcd-master-2"]);
    for (line, member) in pods.lines().skip(1).zip(&lab.members) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&cells[1..3], ["3/3", "Running"], "{line}");
        assert_eq!(cells[5], member.ip.to_string(), "the pod IP is its member's address: {line}");
        assert_eq!(cells[6], member.name, "{line}");
    }

    let nodes = kubectl_ok(&lab, &["get", "nodes", "-l", "node-role.kubernetes.io/master"]);
    assert_eq!(names(&nodes), ["master-0", "master-1", "master-2"]);
    assert!(nodes.lines().skip(1).all(|l| l.split_whitespace().nth(1) == Some("Ready")), "{nodes}");
    let all_nodes = kubectl_ok(&lab, &["get", "nodes"]);
    assert_eq!(names(&all_nodes).len(), 5, "three masters and two workers: {all_nodes}");

    let no_csrs = kubectl(&lab, &["get", "csr"]);
    assert!(no_csrs.status.success());
    assert_eq!(stderr(&no_csrs).trim(), "No resources found");

    for resource in ["kubeapiserver", "openshiftapiserver", "authentication.operator.openshift.io"] {
        let (reason, message) = reason_message(&lab, resource, ENCRYPTED);
        assert_eq!(
            (reason.as_str(), message.as_str()),
            ("EncryptionDisabled", "Encryption is not enabled"),
            "{resource}"
        );
    }
    for resource in ["etcd", "kubeapiserver", "kubecontrollermanager", "kubescheduler"] {
        let (reason, message) = reason_message(&lab, resource, INSTALLER);
        assert_eq!(
            (reason.as_str(), message.as_str()),
            ("AllNodesAtLatestRevision", "3 nodes are at revision 7"),
            "{resource}"
        );
    }

    let machines = kubectl_ok(&lab, &["get", "machines", "-n", "openshift-machine-api", "-o", "wide"]);
    assert_eq!(names(&machines).len(), 5, "{machines}");
    assert!(machines.lines().skip(1).all(|l| l.contains("Running") && l.ends_with("running")), "{machines}");

    let operators = kubectl_ok(&lab, &["get", "clusteroperators"]);
    assert!(
        operators
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()[..5] == ["etcd", "4.14.8", "True", "False", "False"]),
        "{operators}"
    );
    let proxy = kubectl_ok(&lab, &["get", "proxy", "cluster", "-o", "jsonpath={.metadata.name}"]);
    assert_eq!(proxy, "cluster");
    let version = kubectl_ok(&lab, &["get", "clusterversion", "version", "-o", "jsonpath={.status.desired.version}"]);
    assert_eq!(version, "4.14.8");

    // The client certificate the console will use to reach the members, as the cluster stores it.
    let cert =
        kubectl_ok(&lab, &["get", "secret", "etcd-client", "-n", "openshift-etcd", r"-o=jsonpath={.data.tls\.crt}"]);
    let cert = base64::engine::general_purpose::STANDARD.decode(cert.trim()).unwrap();
    assert_eq!(cert, std::fs::read(&lab.pki.client.cert).unwrap());
    let ca = kubectl_ok(
        &lab,
        &["get", "configmap", "etcd-ca-bundle", "-n", "openshift-etcd", r"-o=jsonpath={.data.ca-bundle\.crt}"],
    );
    assert_eq!(ca, std::fs::read_to_string(&lab.pki.ca).unwrap());
}

#[tokio::test]
async fn encryption_migration_runs_as_the_runbook_describes() {
    // 600x: the "20 minutes or longer" migration takes two seconds.
    let lab = lab_scenario("healthy", 600.0).await;
    let patched = kubectl_ok(
        &lab,
        &["patch", "apiserver", "cluster", "--type=merge", "-p", r#"{"spec":{"encryption":{"type":"aescbc"}}}"#],
    );
    assert_eq!(patched.trim(), "apiserver.config.openshift.io/cluster patched");
    let (reason, _) = reason_message(&lab, "kubeapiserver", ENCRYPTED);
    assert_eq!(reason, "EncryptionInProgress", "the operators react at once");

    let expected = [
        ("openshiftapiserver", "All resources encrypted: routes.route.openshift.io"),
        ("kubeapiserver", "All resources encrypted: secrets, configmaps"),
        (
            "authentication.operator.openshift.io",
            "All resources encrypted: oauthaccesstokens.oauth.openshift.io, oauthauthorizetokens.oauth.openshift.io",
        ),
    ];
    for (resource, message) in expected {
        let done = eventually("EncryptionCompleted", Duration::from_secs(20), || {
            let (reason, text) = reason_message(&lab, resource, ENCRYPTED);
            (reason == "EncryptionCompleted").then_some(text)
        });
        assert_eq!(done, message, "{resource}");
    }
    let keys = kubectl_ok(&lab, &["get", "secrets", "-n", "openshift-config-managed", "-o", "name"]);
    for component in ["openshift-apiserver", "openshift-kube-apiserver", "openshift-oauth-apiserver"] {
        assert!(keys.contains(&format!("secret/encryption-key-{component}-1")), "{keys}");
    }
    // The new encryption configuration rolled kube-apiserver to a new revision.
    let rolled = eventually("kube-apiserver at revision 8", Duration::from_secs(20), || {
        let (reason, message) = reason_message(&lab, "kubeapiserver", INSTALLER);
        (reason == "AllNodesAtLatestRevision").then_some(message)
    });
    assert_eq!(rolled, "3 nodes are at revision 8");

    kubectl_ok(
        &lab,
        &["patch", "apiserver", "cluster", "--type=merge", "-p", r#"{"spec":{"encryption":{"type":"identity"}}}"#],
    );
    let (reason, _) = reason_message(&lab, "openshiftapiserver", ENCRYPTED);
    assert_eq!(reason, "DecryptionInProgress");
    let decrypted = eventually("DecryptionCompleted", Duration::from_secs(20), || {
        let (reason, message) = reason_message(&lab, "kubeapiserver", ENCRYPTED);
        (reason == "DecryptionCompleted").then_some(message)
    });
    assert_eq!(decrypted, "Encryption mode set to identity and everything is decrypted");

    let invalid = kubectl(
        &lab,
        &["patch", "apiserver", "cluster", "--type=merge", "-p", r#"{"spec":{"encryption":{"type":"rot13"}}}"#],
    );
    assert!(!invalid.status.success());
    assert!(
        stderr(&invalid)
            .contains(r#"The APIServer "cluster" is invalid: spec.encryption.type: Unsupported value: "rot13""#),
        "{}",
        stderr(&invalid)
    );
}

#[tokio::test]
async fn a_forced_redeployment_rolls_one_node_at_a_time_under_watch() {
    // 120x: each node takes one second.
    let lab = lab_scenario("healthy", 120.0).await;
    let watch = Watch::start(
        &lab,
        &[
            "get",
            "etcd",
            "cluster",
            "--watch",
            r#"-o=jsonpath={.status.conditions[?(@.type=="NodeInstallerProgressing")].message}{"\n"}"#,
        ],
    );
    watch.until("the current state", Duration::from_secs(10), |l| l == "3 nodes are at revision 7");
    // Exactly the runbook's command, through a shell.
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(r#"kubectl patch etcd cluster -p='{"spec": {"forceRedeploymentReason": "recovery-'"$( date --rfc-3339=ns )"'"}}' --type=merge"#)
        .env("KUBECONFIG", lab.kubeconfig.clone().unwrap())
        .env("KUBECACHEDIR", lab.dir.join("kube-cache"));
    let patched = run_with_limit(shell, Duration::from_secs(30));
    assert_eq!(stdout(&patched).trim(), "etcd.operator.openshift.io/cluster patched", "{}", stderr(&patched));
    let seen = watch.until("the rollout's end", Duration::from_secs(20), |l| l == "3 nodes are at revision 8");
    // The patch itself is an event (spec changed, status not yet); the rollout follows.
    let mut steps: Vec<&str> =
        seen.iter().map(String::as_str).skip_while(|l| *l == "3 nodes are at revision 7").collect();
    steps.dedup();
    assert_eq!(
        steps,
        [
            "3 nodes are at revision 7; 0 nodes have achieved new revision 8",
            "2 nodes are at revision 7; 1 nodes are at revision 8",
            "1 nodes are at revision 7; 2 nodes are at revision 8",
            "3 nodes are at revision 8",
        ]
    );
    let (reason, _) = reason_message(&lab, "etcd", INSTALLER);
    assert_eq!(reason, "AllNodesAtLatestRevision");
    let revisions = kubectl_ok(
        &lab,
        &[
            "get",
            "pods",
            "-n",
            "openshift-etcd",
            "-l",
            "k8s-app=etcd",
            "-o",
            "jsonpath={.items[*].metadata.labels.revision}",
        ],
    );
    assert_eq!(revisions, "8 8 8");

    // spec.unsupportedConfigOverrides is kept and visible (JSON patch, as an SRE might send it).
    kubectl_ok(
        &lab,
        &[
            "patch",
            "etcd",
            "cluster",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/spec/unsupportedConfigOverrides","value":{"useUnsupportedUnsafeNonHANonProductionUnstableEtcd":true}}]"#,
        ],
    );
    let override_value = kubectl_ok(
        &lab,
        &[
            "get",
            "etcd",
            "cluster",
            "-o",
            "jsonpath={.spec.unsupportedConfigOverrides.useUnsupportedUnsafeNonHANonProductionUnstableEtcd}",
        ],
    );
    assert_eq!(override_value, "true");
}

#[tokio::test]
async fn etcd_pods_follow_the_real_member_processes() {
    let mut lab = lab_scenario("healthy", 1.0).await;
    let watch = Watch::start(&lab, &["get", "pods", "-n", "openshift-etcd", "-l", "k8s-app=etcd", "--watch"]);
    watch.until("the pods", Duration::from_secs(10), |l| l.starts_with("etcd-master-2"));
    let frozen = lab.follower().await.unwrap();
    let frozen_pod = format!("etcd-{}", lab.members[frozen].name);
    lab.pause_member(frozen).unwrap();
    let line =
        watch.until("a frozen member's pod not ready", Duration::from_secs(10), |l| l.starts_with(&frozen_pod)).pop();
    let cells: Vec<String> = line.unwrap_or_default().split_whitespace().map(str::to_string).collect();
    assert_eq!(cells[1..3], ["2/3", "Running"]);
    lab.resume_member(frozen).unwrap();
    let line = watch.until("the pod ready again", Duration::from_secs(10), |l| l.starts_with(&frozen_pod)).pop();
    assert!(line.unwrap_or_default().contains("3/3"));

    let stopped = lab.follower().await.unwrap();
    let stopped_pod = format!("etcd-{}", lab.members[stopped].name);
    lab.kill_member(stopped).unwrap();
    let line = watch.until("a stopped member's pod", Duration::from_secs(10), |l| l.starts_with(&stopped_pod)).pop();
    let cells: Vec<String> = line.unwrap_or_default().split_whitespace().map(str::to_string).collect();
    assert_eq!(cells[1..4], ["2/3", "CrashLoopBackOff", "1"]);
    let degraded = eventually("etcd Degraded", Duration::from_secs(10), || {
        let out = kubectl_ok(
            &lab,
            &["get", "clusteroperator", "etcd", r#"-o=jsonpath={.status.conditions[?(@.type=="Degraded")].message}"#],
        );
        (!out.is_empty()).then_some(out)
    });
    assert_eq!(
        degraded,
        format!("EtcdMembersDegraded: 2 of 3 members are available, {} is unhealthy", lab.members[stopped].name)
    );
}

#[tokio::test]
async fn approving_csrs_issues_certificates_and_nodes_turn_ready() {
    let lab = lab_scenario("post-restore", 1.0).await;
    let csrs = kubectl_ok(&lab, &["get", "csr"]);
    let header: Vec<&str> = csrs.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"]);
    let rows: Vec<Vec<&str>> = csrs.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 4, "{csrs}");
    let bootstrapper = "system:serviceaccount:openshift-machine-config-operator:node-bootstrapper";
    assert_eq!(
        rows.iter().filter(|r| r[2] == "kubernetes.io/kube-apiserver-client-kubelet" && r[3] == bootstrapper).count(),
        3
    );
    assert_eq!(
        rows.iter().filter(|r| r[2] == "kubernetes.io/kubelet-serving" && r[3] == "system:node:worker-1").count(),
        1
    );
    assert!(rows.iter().all(|r| r[5] == "Pending"), "{csrs}");
    let nodes = kubectl_ok(&lab, &["get", "nodes"]);
    let not_ready: Vec<&str> =
        nodes.lines().filter(|l| l.contains("NotReady")).filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(not_ready, ["master-1", "master-2", "worker-0", "worker-1"]);

    // The human review step: describe shows who asks, from the request itself.
    let bootstrap = rows.iter().find(|r| r[3] == bootstrapper).map(|r| r[0]).unwrap();
    let described = kubectl_ok(&lab, &["describe", "csr", bootstrap]);
    assert!(described.contains("Signer:             kubernetes.io/kube-apiserver-client-kubelet"), "{described}");
    assert!(described.contains("Status:             Pending"), "{described}");
    assert!(described.contains("Common Name:    system:node:"), "{described}");
    assert!(described.contains("Organization:   system:nodes"), "{described}");

    // The runbook: approve what is pending; the kubelets then ask for serving certificates; approve those.
    let pending: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    let mut approve = vec!["certificate", "approve"];
    approve.extend(&pending);
    let approved = kubectl_ok(&lab, &approve);
    assert!(approved.lines().all(|l| l.ends_with(" approved")), "{approved}");
    let serving = eventually("new kubelet-serving CSRs", Duration::from_secs(10), || {
        let out = kubectl_ok(&lab, &["get", "csr"]);
        let pending: Vec<String> = out
            .lines()
            .filter(|l| l.ends_with("Pending") && l.contains("kubelet-serving"))
            .filter_map(|l| l.split_whitespace().nth(3).map(str::to_string))
            .collect();
        (pending.len() == 3).then_some(pending)
    });
    let mut requestors = serving.clone();
    requestors.sort();
    assert_eq!(requestors, ["system:node:master-1", "system:node:master-2", "system:node:worker-0"]);
    let all = kubectl_ok(&lab, &["get", "csr", "-o", "name"]);
    let names: Vec<&str> = all.lines().collect();
    let mut approve = vec!["certificate", "approve"];
    approve.extend(&names);
    kubectl_ok(&lab, &approve);
    eventually("every CSR Approved,Issued", Duration::from_secs(10), || {
        let out = kubectl_ok(&lab, &["get", "csr", "--no-headers"]);
        out.lines().all(|l| l.ends_with("Approved,Issued")).then_some(())
    });
    let nodes = kubectl_ok(&lab, &["get", "nodes", "--no-headers"]);
    assert!(nodes.lines().all(|l| l.split_whitespace().nth(1) == Some("Ready")), "{nodes}");

    // The certificate is real: issued by the lab's CA to the node that asked.
    let name = rows[0][0];
    let pem = kubectl_ok(&lab, &["get", "csr", name, "-o", "jsonpath={.status.certificate}"]);
    let pem = base64::engine::general_purpose::STANDARD.decode(pem.trim()).unwrap();
    let (_, parsed) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let cert = parsed.parse_x509().unwrap();
    assert_eq!(cert.issuer().to_string(), "CN=etcd-console lab CA");
    assert!(cert.subject().to_string().starts_with("CN=system:node:"), "{}", cert.subject());
}

#[tokio::test]
async fn read_only_tokens_and_errors_are_kubernetes_shaped() {
    let lab = lab_scenario("healthy", 1.0).await;
    let ro = |args: &[&str]| {
        let mut all = vec!["--context", "lab-readonly"];
        all.extend_from_slice(args);
        kubectl(&lab, &all)
    };
    assert!(ro(&["get", "pods", "-n", "openshift-etcd"]).status.success());
    let denied = ro(&["patch", "etcd", "cluster", "--type=merge", "-p", r#"{"spec":{"logLevel":"Debug"}}"#]);
    assert_eq!(denied.status.code(), Some(1));
    assert_eq!(
        stderr(&denied).trim(),
        r#"Error from server (Forbidden): etcds.operator.openshift.io "cluster" is forbidden: User "lab-viewer" cannot patch resource "etcds" in API group "operator.openshift.io" at the cluster scope"#
    );
    let denied = ro(&["certificate", "approve", "csr-none"]);
    assert!(!denied.status.success());

    let can = kubectl(&lab, &["auth", "can-i", "patch", "apiservers.config.openshift.io"]);
    assert_eq!((can.status.code(), stdout(&can).trim().to_string()), (Some(0), "yes".to_string()));
    let cannot = ro(&["auth", "can-i", "patch", "apiservers.config.openshift.io"]);
    assert_eq!((cannot.status.code(), stdout(&cannot).trim().to_string()), (Some(1), "no".to_string()));
    let can_list = ro(&["auth", "can-i", "list", "pods", "-n", "openshift-etcd"]);
    assert_eq!(stdout(&can_list).trim(), "yes");

    let unauthorized = kubectl(&lab, &["--token", "not-a-token", "get", "nodes"]);
    assert_eq!(stderr(&unauthorized).trim(), "error: You must be logged in to the server (Unauthorized)");
    let missing_group = kubectl(&lab, &["get", "routes.route.openshift.io"]);
    assert!(
        stderr(&missing_group).contains(r#"the server doesn't have a resource type "routes""#),
        "{}",
        stderr(&missing_group)
    );
    let missing = kubectl(&lab, &["get", "pod", "nope", "-n", "openshift-etcd"]);
    assert_eq!(stderr(&missing).trim(), r#"Error from server (NotFound): pods "nope" not found"#);
    let exists = kubectl(&lab, &["create", "namespace", "openshift-etcd"]);
    assert_eq!(
        stderr(&exists).trim(),
        r#"Error from server (AlreadyExists): namespaces "openshift-etcd" already exists"#
    );
    // kubectl's default strategic merge patch is refused for custom resources, as on a real server.
    let strategic = kubectl(&lab, &["patch", "etcd", "cluster", "-p", r#"{"spec":{"logLevel":"Debug"}}"#]);
    assert!(
        stderr(&strategic).contains(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json"
        ),
        "{}",
        stderr(&strategic)
    );
    let label = kubectl_ok(&lab, &["label", "node", "worker-0", "lab=yes"]);
    assert_eq!(label.trim(), "node/worker-0 labeled");
    assert_eq!(names(&kubectl_ok(&lab, &["get", "nodes", "-l", "lab=yes"])), ["worker-0"]);
    let gone = kubectl_ok(&lab, &["delete", "pod", "etcd-master-2", "-n", "openshift-etcd"]);
    assert_eq!(gone.trim(), r#"pod "etcd-master-2" deleted"#);
    // A static pod's mirror comes back, as the kubelet recreates it.
    eventually("the etcd pod recreated", Duration::from_secs(10), || {
        kubectl(&lab, &["get", "pod", "etcd-master-2", "-n", "openshift-etcd"]).status.success().then_some(())
    });
}
