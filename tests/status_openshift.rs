//! `status` reads the OpenShift side beside the members when a kubeconfig is
//! there: the `openshift` object of `-o json` (a contract) against the lab.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::*;
use etcd_console_lab::Lab;

fn status(lab: &Lab, kubeconfig: Option<&std::path::Path>) -> Output {
    let mut command = Command::new(console_bin());
    command
        .args(["status", "-o", "json"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &lab.dir);
    for (name, value) in lab.env() {
        command.env(name, value);
    }
    if let Some(kubeconfig) = kubeconfig {
        command.env("KUBECONFIG", kubeconfig);
    }
    command.arg("--log-dir").arg(lab.dir.join("console-logs"));
    run_with_limit(command, Duration::from_secs(60))
}

#[tokio::test]
async fn status_json_gains_the_openshift_object_after_a_restore() {
    let lab = lab_scenario("post-restore", 1.0).await;
    let output = status(&lab, lab.kubeconfig.as_deref());
    // The scenario leaves the quorum guard off: degraded (exit 1) until it is back on.
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!((report["quorum_guard_off"].as_bool(), report["healthy_voters"].as_u64()), (Some(true), Some(3)));
    let openshift = &report["openshift"];
    assert_eq!(openshift["server"], lab.api.as_ref().unwrap().url.as_str());
    assert_eq!(openshift["problems"], serde_json::json!([]));
    assert_eq!(openshift["encryption"]["type"], "identity");
    let resources: Vec<&str> = openshift["encryption"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["resource"].as_str().unwrap())
        .collect();
    assert_eq!(resources, ["openshiftapiserver", "kubeapiserver", "authentication.operator.openshift.io"]);
    let rollouts = openshift["rollouts"].as_array().unwrap();
    let operators: Vec<&str> = rollouts.iter().map(|r| r["operator"].as_str().unwrap()).collect();
    assert_eq!(operators, ["etcd", "kubeapiserver", "kubecontrollermanager", "kubescheduler"]);
    let etcd = &rollouts[0];
    assert_eq!(etcd["progressing"], true);
    assert_eq!(etcd["reason"], "NodeInstaller");
    assert_eq!(etcd["message"], "2 nodes are at revision 6; 1 nodes are at revision 7");
    assert_eq!(etcd["latest_revision"], 7);
    assert_eq!(
        etcd["nodes"][1],
        serde_json::json!({"name": "master-1", "current_revision": 6, "target_revision": 7, "last_failed_revision": null})
    );
    let classes: Vec<&str> =
        openshift["csrs_pending"].as_array().unwrap().iter().map(|c| c["class"].as_str().unwrap()).collect();
    assert_eq!(classes.iter().filter(|c| **c == "node-bootstrapper").count(), 3);
    assert_eq!(classes.iter().filter(|c| **c == "kubelet-serving").count(), 1);
    for field in ["name", "signer", "requestor", "class"] {
        assert!(openshift["csrs_pending"][0][field].is_string(), "{field}");
    }
    let banners: Vec<&str> = openshift["banners"].as_array().unwrap().iter().map(|b| b.as_str().unwrap()).collect();
    assert!(banners[0].starts_with("quorum guard disabled"), "{banners:?}");
    assert!(banners.iter().any(|b| b.starts_with("etcd rolling to revision 7")), "{banners:?}");
    let degraded_free = openshift["cluster_operators"].as_array().unwrap().iter().all(|o| o["degraded"] == "False");
    assert!(degraded_free);
}

#[tokio::test]
async fn without_openshift_objects_or_an_api_the_members_are_still_reported() {
    let lab = lab_scenario("hosted", 1.0).await;
    // A management cluster serves no standalone configuration objects.
    let report = json(&status(&lab, lab.kubeconfig.as_deref()));
    assert_eq!(report["members"].as_array().unwrap().len(), 3);
    let problems = report["openshift"]["problems"].as_array().unwrap();
    assert!(problems[0].as_str().unwrap().contains("not an OpenShift cluster"), "{problems:?}");
    // What it does have: the HostedCluster, its encryption, and a banner while it is paused.
    let hosted = &report["openshift"]["hosted_clusters"][0];
    assert_eq!(hosted["namespace"], "clusters");
    assert_eq!(hosted["name"], "hosted");
    assert_eq!(hosted["secret_encryption"], "aescbc");
    assert!(hosted["paused_until"].is_null());
    set_hosted_paused(&lab, Some("true"));
    let paused = json(&status(&lab, lab.kubeconfig.as_deref()));
    assert_eq!(paused["openshift"]["hosted_clusters"][0]["paused_until"], "true");
    let banners = paused["openshift"]["banners"].to_string();
    assert!(banners.contains("HostedCluster clusters/hosted reconciliation paused (pausedUntil true)"), "{banners}");

    // No kubeconfig at all: no openshift object.
    let output = status(&lab, None);
    assert_eq!(output.status.code(), Some(0));
    assert!(json(&output)["openshift"].is_null());

    // An API that is not there: said, and etcd's verdict stands.
    let elsewhere = kubeconfig_pointing_nowhere(&lab);
    let output = status(&lab, Some(&elsewhere));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let problems = json(&output)["openshift"]["problems"].clone();
    assert!(problems.to_string().contains("the API did not answer"), "{problems}");
}

/// The lab's `member-down`: the member's diagnosis comes from the cluster around it (its pod,
/// node and Machine, the etcd operator), with a down_since older than the command itself.
#[tokio::test]
async fn a_member_down_is_diagnosed_from_its_pod_node_machine_and_operator() {
    let lab = lab_scenario("member-down", 1.0).await;
    // The lab's operator says Degraded within a few seconds; wait for it as kubectl sees it.
    eventually("etcd Degraded", Duration::from_secs(20), || {
        let out = kubectl_ok(&lab, &["get", "co", "etcd", "--no-headers"]);
        (out.split_whitespace().nth(4) == Some("True")).then_some(())
    });
    let started = std::time::SystemTime::now();
    let output = status(&lab, lab.kubeconfig.as_deref());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["can_lose"], 0, "{report}");
    let next = report["next_step"].as_str().unwrap_or_default();
    let down: Vec<&serde_json::Value> =
        report["members"].as_array().unwrap().iter().filter(|m| m["healthy"] == false).collect();
    assert_eq!(down.len(), 1, "{report}");
    let name = down[0]["name"].as_str().unwrap();
    assert!(
        next.starts_with(&format!("replace {name}: etcd-console member replace {name} (M in the console)")),
        "{next}"
    );
    let degraded = report["etcd_operator_degraded"].as_str().unwrap_or_default();
    assert!(degraded.contains("2 of 3 members are available"), "{degraded}");
    let diagnosis = &down[0]["diagnosis"];
    assert_eq!(diagnosis["pod"], format!("etcd-{name}"), "{diagnosis}");
    assert_eq!(diagnosis["node"], name, "{diagnosis}");
    assert!(diagnosis["node_ready"]["status"].is_string(), "{diagnosis}");
    assert_eq!(diagnosis["machine_phase"], "Running", "{diagnosis}");
    let since = diagnosis["down_since"].as_str().unwrap_or_else(|| panic!("no down_since: {diagnosis}"));
    let since = humantime::parse_rfc3339_weak(since).unwrap();
    assert!(since < started, "down since {since:?}, before this command began");
    // The healthy members have a diagnosis too, and none says they are down.
    let up: Vec<&serde_json::Value> =
        report["members"].as_array().unwrap().iter().filter(|m| m["healthy"] == true).collect();
    assert!(up.iter().all(|m| m["diagnosis"]["down_since"].is_null()), "{report}");
}
