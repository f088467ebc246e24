//! `etcd-console csr list | approve` against the lab's API, refereed by the
//! real kubectl: what it approves kubectl sees approved, what it must not
//! approve stays pending.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::*;
use etcd_console_lab::Lab;

/// etcd-console with only the lab's kubeconfig (no etcd flags: the CSR commands need none).
fn console_kube(lab: &Lab, args: &[&str]) -> Output {
    let mut command = Command::new(console_bin());
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &lab.dir)
        .env("KUBECONFIG", lab.kubeconfig.clone().unwrap())
        .arg("--log-dir")
        .arg(lab.dir.join("console-logs"));
    run_with_limit(command, Duration::from_secs(60))
}

fn condition_of(lab: &Lab, name: &str) -> String {
    let out = kubectl_ok(lab, &["get", "csr", name, "--no-headers"]);
    out.split_whitespace().last().unwrap_or_default().to_string()
}

/// A CSR filed through the API by the lab's admin for a node: not a kubelet, so unexpected.
fn file_foreign_csr(lab: &Lab) -> String {
    // A real kubelet's serving request (OKD 4.18, see ../shared/referee/openshift/SOURCES.md).
    let real = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/referee/openshift/sno-2023-03-09T14-31-10Z/certificatesigningrequest.certificates.k8s.io.csr-c7mw4.json"
    ))
    .unwrap();
    let real: serde_json::Value = serde_json::from_str(&real).unwrap();
    let request = real["spec"]["request"].as_str().unwrap().to_string();
    let manifest = lab.dir.join("foreign-csr.json");
    let body = serde_json::json!({
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": "csr-foreign"},
        "spec": {"request": request, "signerName": "kubernetes.io/kubelet-serving", "usages": ["digital signature", "server auth"]}
    });
    std::fs::write(&manifest, body.to_string()).unwrap();
    kubectl_ok(lab, &["create", "--validate=false", "-f", manifest.to_str().unwrap()]);
    "csr-foreign".to_string()
}

#[tokio::test]
async fn approve_all_valid_takes_the_restores_csrs_and_never_an_unexpected_one() {
    let lab = lab_scenario("post-restore", 1.0).await;
    let foreign = file_foreign_csr(&lab);

    let listed = console_kube(&lab, &["csr", "list", "-o", "json"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    let report = json(&listed);
    let csrs = report["csrs_pending"].as_array().unwrap();
    let class_of =
        |name: &str| csrs.iter().find(|c| c["name"] == name).map(|c| c["class"].as_str().unwrap_or("").to_string());
    assert_eq!(csrs.len(), 5);
    assert_eq!(csrs.iter().filter(|c| c["class"] == "node-bootstrapper").count(), 3);
    assert_eq!(csrs.iter().filter(|c| c["class"] == "kubelet-serving").count(), 1);
    assert_eq!(class_of(&foreign).as_deref(), Some("unexpected"));
    let foreign_entry = csrs.iter().find(|c| c["name"] == foreign.as_str()).unwrap();
    assert!(foreign_entry["reason"].as_str().unwrap().contains("a node may only ask for itself"), "{foreign_entry}");
    assert_eq!(foreign_entry["requestor"], "lab-admin", "the API records who filed it");
    assert_eq!(foreign_entry["request"]["common_name"], "system:node:okd4-control-plane-1.lab.okd.local");

    let table = console_kube(&lab, &["csr", "list"]);
    let header: Vec<String> =
        stdout(&table).lines().next().unwrap_or_default().split_whitespace().map(String::from).collect();
    assert_eq!(header, ["NAME", "AGE", "CLASS", "SIGNER", "REQUESTOR", "SUBJECT"]);

    // Without --yes and without a terminal to ask on: refused, nothing approved.
    let unconfirmed = console_kube(&lab, &["csr", "approve", "--all-valid"]);
    assert_eq!(unconfirmed.status.code(), Some(2));
    assert!(stderr(&unconfirmed).contains("give --yes in scripts"), "{}", stderr(&unconfirmed));
    // --read-only refuses in the engine.
    let read_only = console_kube(&lab, &["csr", "approve", "--all-valid", "--yes", "--read-only"]);
    assert_eq!(read_only.status.code(), Some(2));
    assert!(stderr(&read_only).contains("--read-only"));
    // The read-only token: the API says no to each one.
    let viewer = console_kube(&lab, &["--context", "lab-readonly", "csr", "approve", "--all-valid", "--yes"]);
    assert_eq!(viewer.status.code(), Some(1));
    assert!(stderr(&viewer).contains("403 Forbidden"), "{}", stderr(&viewer));
    assert!(
        kubectl_ok(&lab, &["get", "csr", "--no-headers"]).lines().all(|l| l.ends_with("Pending")),
        "nothing approved yet"
    );

    let approved = console_kube(&lab, &["csr", "approve", "--all-valid", "--yes"]);
    assert_eq!(approved.status.code(), Some(1), "one CSR refused: {}", stderr(&approved));
    assert_eq!(stdout(&approved).lines().filter(|l| l.ends_with(" approved")).count(), 4, "{}", stdout(&approved));
    assert!(stderr(&approved).contains(&format!("not approving {foreign}: unexpected, never approved in bulk")));
    for entry in csrs.iter().filter(|c| c["class"] != "unexpected") {
        let name = entry["name"].as_str().unwrap();
        let condition = eventually("issued", Duration::from_secs(10), || {
            let c = condition_of(&lab, name);
            (c == "Approved,Issued").then_some(c)
        });
        assert_eq!(condition, "Approved,Issued");
    }
    assert_eq!(condition_of(&lab, &foreign), "Pending");

    // Named explicitly, after the plan flags it, an unexpected CSR can be approved.
    let explicit = console_kube(&lab, &["csr", "approve", &foreign, "--yes"]);
    assert_eq!(explicit.status.code(), Some(0), "{}", stderr(&explicit));
    assert!(stdout(&explicit).contains("! unexpected: filed by lab-admin"), "{}", stdout(&explicit));
    assert!(condition_of(&lab, &foreign).starts_with("Approved"));
    // Every approval is in the audit log, with no key material.
    let logs: String = std::fs::read_dir(lab.dir.join("console-logs"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert_eq!(logs.matches("action=\"csr approve\"").count(), 5, "{logs}");
    assert!(logs.contains(&format!("csr=\"{foreign}\"")) || logs.contains(&format!("csr={foreign}")), "{logs}");
    assert!(!logs.contains("PRIVATE KEY") && !logs.contains(lab.api.as_ref().unwrap().admin_token.as_str()));
    let again = console_kube(&lab, &["csr", "approve", &foreign, "--yes"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("not pending"));
}

#[tokio::test]
async fn a_bad_kubeconfig_or_an_unreachable_api_is_a_clear_error() {
    let lab = lab_scenario("healthy", 1.0).await;
    let missing = console_kube(&lab, &["--kubeconfig", "/nonexistent/kubeconfig", "csr", "list"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("cannot read the kubeconfig /nonexistent/kubeconfig"), "{}", stderr(&missing));

    // A kubeconfig whose server is a closed port.
    let elsewhere = kubeconfig_pointing_nowhere(&lab);
    let unreachable = console_kube(&lab, &["--kubeconfig", elsewhere.to_str().unwrap(), "csr", "list"]);
    assert_eq!(unreachable.status.code(), Some(2));
    assert!(stderr(&unreachable).contains("listing CSRs: the API did not answer"), "{}", stderr(&unreachable));
    let empty = console_kube(&lab, &["csr", "list"]);
    assert_eq!(empty.status.code(), Some(0));
    assert!(stderr(&empty).starts_with("no pending CSRs on https://127.0.0.1:"), "{}", stderr(&empty));
}

#[tokio::test]
async fn deny_takes_only_named_pending_csrs_after_confirmation_and_never_read_only() {
    let lab = lab_scenario("post-restore", 1.0).await;
    let foreign = file_foreign_csr(&lab);
    let read_only = console_kube(&lab, &["csr", "deny", &foreign, "--yes", "--read-only"]);
    assert_eq!(read_only.status.code(), Some(2));
    assert!(stderr(&read_only).contains("denying CSRs is disabled (--read-only)"), "{}", stderr(&read_only));
    let unconfirmed = console_kube(&lab, &["csr", "deny", &foreign]);
    assert_eq!(unconfirmed.status.code(), Some(2));
    assert!(stderr(&unconfirmed).contains("refusing to deny without a confirmation"), "{}", stderr(&unconfirmed));
    assert_eq!(condition_of(&lab, &foreign), "Pending");

    // One real name and one that is not there: the real one is denied, the exit says not all were.
    let denied = console_kube(&lab, &["csr", "deny", &foreign, "csr-nope", "--yes"]);
    assert_eq!(denied.status.code(), Some(1), "{}", stderr(&denied));
    assert!(stdout(&denied).contains(&format!("certificatesigningrequest/{foreign} denied")), "{}", stdout(&denied));
    assert!(stderr(&denied).contains("not denying csr-nope"), "{}", stderr(&denied));
    assert_eq!(condition_of(&lab, &foreign), "Denied");
    // The others are untouched.
    let pending = kubectl_ok(&lab, &["get", "csr", "--no-headers"]);
    assert_eq!(pending.lines().filter(|l| l.trim_end().ends_with("Pending")).count(), 4, "{pending}");
    let again = console_kube(&lab, &["csr", "deny", &foreign, "--yes"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already approved or denied"), "{}", stderr(&again));
}

/// A PKCS#10 request for `cn` (O=system:nodes) naming `dns` and `ips`, base64 as `spec.request` carries it.
fn request_for(cn: &str, dns: &[&str], ips: &[&str]) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut sans: Vec<String> = dns.iter().map(|d| d.to_string()).collect();
    sans.extend(ips.iter().map(|i| i.to_string()));
    let mut params = rcgen::CertificateParams::new(sans).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, cn);
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "system:nodes");
    let pem = params.serialize_request(&key).unwrap().pem().unwrap();
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(pem)
}

/// Files a CSR through the API as `requestor` (`kubectl --as`, the API records who filed it).
fn file_csr(lab: &Lab, name: &str, requestor: &str, serving: bool, request: String) {
    let (signer, usages) = if serving {
        ("kubernetes.io/kubelet-serving", ["digital signature", "server auth"])
    } else {
        ("kubernetes.io/kube-apiserver-client-kubelet", ["digital signature", "client auth"])
    };
    let body = serde_json::json!({
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {"request": request, "signerName": signer, "usages": usages}
    });
    let manifest = lab.dir.join(format!("{name}.json"));
    std::fs::write(&manifest, body.to_string()).unwrap();
    kubectl_ok(lab, &["create", "--validate=false", &format!("--as={requestor}"), "-f", manifest.to_str().unwrap()]);
}

const BOOTSTRAPPER: &str = "system:serviceaccount:openshift-machine-config-operator:node-bootstrapper";

#[tokio::test]
async fn hostile_csrs_are_shown_escaped_and_only_what_the_machine_approver_would_take_is_valid() {
    let lab = lab_scenario("post-restore", 1.0).await;
    // A Machine being provisioned: no nodeRef yet, its InternalDNS names the node to come.
    let machine = serde_json::json!({
        "apiVersion": "machine.openshift.io/v1beta1", "kind": "Machine",
        "metadata": {"name": "lab-worker-new", "namespace": "openshift-machine-api",
                     "labels": {"machine.openshift.io/cluster-api-machine-role": "worker"}},
        "spec": {},
        "status": {"phase": "Provisioned", "addresses": [
            {"type": "InternalDNS", "address": "worker-new"}, {"type": "InternalIP", "address": "10.0.0.77"}]}
    });
    let manifest = lab.dir.join("machine.json");
    std::fs::write(&manifest, machine.to_string()).unwrap();
    kubectl_ok(&lab, &["create", "--validate=false", "-f", manifest.to_str().unwrap()]);
    let addresses = kubectl_ok(
        &lab,
        &[
            "get",
            "machine",
            "-n",
            "openshift-machine-api",
            "lab-worker-new",
            "-o",
            "jsonpath={.status.addresses[0].address}",
        ],
    );
    assert_eq!(addresses.trim(), "worker-new", "the lab keeps the Machine's status as created");

    file_csr(&lab, "csr-escape", BOOTSTRAPPER, false, request_for("system:node:\u{1b}[2Jmaster-9", &[], &[]));
    file_csr(&lab, "csr-newline", BOOTSTRAPPER, false, request_for("system:node:worker\nO=system:masters", &[], &[]));
    let long = "a".repeat(10_000);
    file_csr(&lab, "csr-long", BOOTSTRAPPER, false, request_for(&format!("system:node:{long}"), &[], &[]));
    file_csr(&lab, "csr-nomachine", BOOTSTRAPPER, false, request_for("system:node:worker-ghost", &[], &[]));
    file_csr(&lab, "csr-newmachine", BOOTSTRAPPER, false, request_for("system:node:worker-new", &[], &[]));
    let worker1_ip = kubectl_ok(
        &lab,
        &["get", "node", "worker-1", "-o", "jsonpath={.status.addresses[?(@.type==\"InternalIP\")].address}"],
    );
    file_csr(
        &lab,
        "csr-extra-san",
        "system:node:worker-1",
        true,
        request_for("system:node:worker-1", &["worker-1", "api.evil.example.com"], &[worker1_ip.trim()]),
    );

    let listed = console_kube(&lab, &["csr", "list", "-o", "json"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    let report = json(&listed);
    let csrs = report["csrs_pending"].as_array().unwrap();
    let entry = |name: &str| csrs.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("{name} listed")).clone();
    for (name, words) in [
        ("csr-escape", "DNS-1123"),
        ("csr-newline", "DNS-1123"),
        ("csr-long", "DNS-1123"),
        ("csr-nomachine", "no Machine has it"),
        ("csr-extra-san", "api.evil.example.com"),
    ] {
        let csr = entry(name);
        assert_eq!(csr["class"], "unexpected", "{name}: {csr}");
        assert!(csr["reason"].as_str().unwrap().contains(words), "{name}: {}", csr["reason"]);
    }
    assert_eq!(entry("csr-newmachine")["class"], "node-bootstrapper", "{}", entry("csr-newmachine"));
    assert_eq!(entry("csr-newmachine")["node"], "worker-new");
    // JSON carries the subject whole (serde escapes it).
    assert_eq!(entry("csr-long")["request"]["common_name"].as_str().unwrap().len(), "system:node:".len() + 10_000);
    let count = |args: &[&str]| kubectl_ok(&lab, args).lines().filter(|l| !l.trim().is_empty()).count();
    let machines = count(&["get", "machines", "-n", "openshift-machine-api", "--no-headers"]);
    let nodes = count(&["get", "nodes", "--no-headers"]);
    assert_eq!(report["pending_limit"], machines.max(nodes) + 100, "the approver's bound: max(machines, nodes) + 100");

    let table = console_kube(&lab, &["csr", "list"]);
    let text = stdout(&table);
    assert!(!text.contains('\u{1b}'), "no raw ESC reaches the terminal");
    assert!(text.contains("CN=system:node:\\e[2Jmaster-9"), "{text}");
    assert!(text.contains("CN=system:node:worker\\nO=system:masters"), "{text}");
    assert!(text.contains("bytes cut]"), "the 10,000-byte name is cut with a marker");
    assert!(text.lines().all(|l| l.chars().count() < 500), "no line carries the 10,000-byte name");
    assert_eq!(text.lines().count(), 1 + csrs.len(), "one line per CSR: no newline got through");

    let approved = console_kube(&lab, &["csr", "approve", "--all-valid", "--yes"]);
    assert_eq!(approved.status.code(), Some(1), "unexpected ones left out: {}", stderr(&approved));
    let newmachine = condition_of(&lab, "csr-newmachine");
    assert!(newmachine.starts_with("Approved"), "kubectl sees the new Machine's node approved: {newmachine}");
    for name in ["csr-escape", "csr-newline", "csr-long", "csr-nomachine", "csr-extra-san"] {
        assert_eq!(condition_of(&lab, name), "Pending", "{name} left alone");
    }
    assert!(!stderr(&approved).contains('\u{1b}'));
}

#[tokio::test]
async fn past_the_approvers_pending_bound_bulk_approval_takes_nothing() {
    let lab = lab_scenario("csr-flood", 1.0).await;
    let listed = json(&console_kube(&lab, &["csr", "list", "-o", "json"]));
    let flagged = listed["over_pending_limit"].as_str().unwrap_or_default().to_string();
    assert!(flagged.contains("past the cluster-machine-approver's bound"), "{listed:.300}");
    let approved = console_kube(&lab, &["csr", "approve", "--all-valid", "--yes"]);
    assert_eq!(approved.status.code(), Some(1), "{}", stderr(&approved));
    assert!(stderr(&approved).contains("past the cluster-machine-approver's bound"), "{}", stderr(&approved));
    let still = kubectl_ok(&lab, &["get", "csr", "--no-headers"]);
    assert!(!still.contains("Approved"), "kubectl sees none approved");
}

#[tokio::test]
async fn a_node_declared_with_node_has_its_bootstrapper_csr_approved_as_the_restores_are() {
    let lab = lab_scenario("post-restore", 1.0).await;
    // A lost host's replacement asks for its client certificate: no node yet, no Machine names it.
    file_csr(&lab, "csr-lost-host", BOOTSTRAPPER, false, request_for("system:node:master-9", &[], &[]));
    let listed = json(&console_kube(&lab, &["csr", "list", "-o", "json"]));
    let entry = listed["csrs_pending"].as_array().unwrap().iter().find(|c| c["name"] == "csr-lost-host").cloned();
    let entry = entry.expect("csr-lost-host listed");
    assert_eq!(entry["class"], "unexpected", "{entry}");
    assert!(entry["reason"].as_str().unwrap().contains("no Machine has it"), "{entry}");

    // A name no node can have is bad input, refused before the API is asked.
    let bad = console_kube(&lab, &["csr", "approve", "--all-valid", "--node", "Master_9", "--yes"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("--node \"Master_9\": not a node's name"), "{}", stderr(&bad));
    // The confirmation and --read-only rules are unchanged.
    let unconfirmed = console_kube(&lab, &["csr", "approve", "--all-valid", "--node", "master-9"]);
    assert_eq!(unconfirmed.status.code(), Some(2), "{}", stderr(&unconfirmed));
    let read_only =
        console_kube(&lab, &["csr", "approve", "--all-valid", "--node", "master-9", "--yes", "--read-only"]);
    assert_eq!(read_only.status.code(), Some(2));
    assert!(stderr(&read_only).contains("--read-only"), "{}", stderr(&read_only));
    // Another node declared does not vouch for this one.
    let other = console_kube(&lab, &["csr", "approve", "--all-valid", "--node", "master-8", "--yes"]);
    assert_eq!(other.status.code(), Some(1), "{}", stderr(&other));
    assert!(stderr(&other).contains("not approving csr-lost-host: unexpected"), "{}", stderr(&other));
    assert_eq!(condition_of(&lab, "csr-lost-host"), "Pending");

    let declared =
        console_kube(&lab, &["csr", "approve", "--all-valid", "--node", "master-8", "--node", "master-9", "--yes"]);
    assert_eq!(declared.status.code(), Some(0), "{}", stderr(&declared));
    let plan = stdout(&declared);
    assert!(plan.contains("csr-lost-host  node-bootstrapper"), "{plan}");
    assert!(!plan.contains("! unexpected"), "{plan}");
    let condition = eventually("issued", Duration::from_secs(10), || {
        let c = condition_of(&lab, "csr-lost-host");
        (c == "Approved,Issued").then_some(c)
    });
    assert_eq!(condition, "Approved,Issued", "kubectl sees the declared node's CSR approved");

    let help = console_kube(&lab, &["csr", "approve", "--help"]);
    assert!(stdout(&help).contains("--node <NAME>"), "{}", stdout(&help));
}
