//! `etcd-console encryption status | set` against the lab's simulated
//! OpenShift API (operators that migrate at `--speed` times real time) and
//! real etcd members, refereed by kubectl with the runbook's jsonpath queries.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::*;
use etcd_console_lab::scenario::Scenario;
use etcd_console_lab::{Lab, LabOptions};
use serde_json::Value;

/// The runbook's check (RUNBOOKS §2.2): reason, then message, one per line.
fn runbook_check(lab: &Lab, resource: &str) -> String {
    kubectl_ok(
        lab,
        &[
            "get",
            resource,
            r#"-o=jsonpath={range .items[0].status.conditions[?(@.type=="Encrypted")]}{.reason}{"\n"}{.message}{"\n"}"#,
        ],
    )
}

/// A one-member lab in `scenario` whose operators work `speed` times faster than real time.
async fn lab_of(scenario: &str, speed: f64) -> Lab {
    let scenario = Scenario::load(scenario).unwrap_or_else(|e| panic!("{e}"));
    let options = LabOptions { members: 1, scenario, speed, ..common::lab_options() };
    Lab::start(options).await.unwrap_or_else(|e| panic!("the lab did not start: {e}"))
}

/// `etcd-console ARGS` with the lab's ETCDCTL_* and KUBECONFIG.
fn encryption(lab: &Lab, args: &[&str]) -> Output {
    let mut command = Command::new(console_bin());
    command.args(args);
    command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", &lab.dir);
    for (name, value) in lab.env() {
        command.env(name, value);
    }
    command.env("KUBECONFIG", lab.kubeconfig.as_ref().unwrap());
    command.arg("--log-dir").arg(lab.dir.join("console-logs"));
    run_with_limit(command, Duration::from_secs(90))
}

fn lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{}", stderr(output))))
        .collect()
}

fn outcome(output: &Output) -> Value {
    lines(output)
        .into_iter()
        .find(|l| l["event"] == "outcome")
        .unwrap_or_else(|| panic!("no outcome line: {}\n{}", stdout(output), stderr(output)))
}

fn spec_type(lab: &Lab) -> String {
    kubectl_ok(lab, &["get", "apiserver", "cluster", "-o", "jsonpath={.spec.encryption.type}"])
}

fn resource_version(lab: &Lab) -> String {
    kubectl_ok(lab, &["get", "apiserver", "cluster", "-o", "jsonpath={.metadata.resourceVersion}"])
}

const RESOURCES: [&str; 3] = ["openshiftapiserver", "kubeapiserver", "authentication.operator.openshift.io"];

#[tokio::test]
async fn identity_aescbc_aesgcm_identity_each_followed_to_the_end() {
    // 300x: a 20-minute migration takes 4 s; the operators finish one after another.
    let lab = lab_of("healthy", 300.0).await;
    let backups = lab.dir.join("backups");
    let backups_arg = path_str(&backups);
    let mut keys_seen = 0;
    for (step, kind) in ["aescbc", "aesgcm", "identity"].iter().enumerate() {
        let mut args = vec!["encryption", "set", kind, "--wait", "--yes", "--poll", "300ms", "-o", "json"];
        if step == 0 {
            // The first one takes a verified backup before anything is patched.
            args.extend(["--backup", "--backup-dir", &backups_arg]);
        }
        let output = encryption(&lab, &args);
        let end = outcome(&output);
        assert_eq!(output.status.code(), Some(0), "{kind}: {end}\n{}", stderr(&output));
        assert_eq!(end["outcome"], "completed", "{kind}: {end}");
        let followed = end["followed"].as_array().unwrap();
        assert_eq!(followed.len(), 3, "{end}");
        assert!(followed.iter().all(|f| f["done_after_seconds"].is_u64()), "{end}");
        // The operators finish at 50 %, 75 % and 100 % of the migration (2, 3, 4 s): the old
        // completed condition of aescbc was not taken for aesgcm's.
        assert!(end["took_seconds"].as_u64().unwrap() >= 3, "{kind} ended too early: {end}");
        assert_eq!(spec_type(&lab), *kind);
        let (reason, message) = if *kind == "identity" {
            ("DecryptionCompleted", "Encryption mode set to identity and everything is decrypted")
        } else {
            ("EncryptionCompleted", "All resources encrypted: ")
        };
        for resource in RESOURCES {
            let check = runbook_check(&lab, resource);
            let mut answer = check.lines();
            assert_eq!(answer.next(), Some(reason), "{kind} {resource}: {check}");
            assert!(answer.next().unwrap_or_default().starts_with(message), "{kind} {resource}: {check}");
        }
        if *kind != "identity" {
            keys_seen += 3;
            let new_keys = end["new_keys"].as_array().unwrap();
            assert_eq!(new_keys.len(), 3, "{end}");
            assert!(new_keys.iter().all(|k| k["mode"] == *kind), "{end}");
            assert_eq!(end["next"].as_str().map(|n| n.contains("--encryption-keys")), Some(true), "{end}");
        }
        if step == 0 {
            let steps: Vec<String> = lines(&output)
                .iter()
                .filter(|l| l["event"] == "step")
                .map(|l| l["text"].as_str().unwrap().to_string())
                .collect();
            let backed = steps.iter().position(|s| s.starts_with("backup taken and verified")).expect("a backup step");
            let patched = steps.iter().position(|s| s.starts_with("APIServer cluster patched")).expect("a patch step");
            assert!(backed < patched, "{steps:?}");
            let metadata = std::fs::read_dir(&backups)
                .unwrap()
                .flatten()
                .find(|e| e.file_name().to_string_lossy().starts_with("backup_"))
                .map(|e| serde_json::from_slice::<Value>(&std::fs::read(e.path()).unwrap()).unwrap())
                .expect("the backup's metadata");
            assert_eq!(metadata["openshift"]["encryption_type"], "identity", "taken before the patch");
        }
        let status = encryption(&lab, &["encryption", "status", "-o", "json"]);
        assert_eq!(status.status.code(), Some(0), "{}", stdout(&status));
        let status = json(&status);
        assert_eq!(status["state"], "settled");
        assert_eq!(status["type"], *kind);
        assert_eq!(status["key_secrets"].as_array().map(Vec::len), Some(keys_seen), "{status}");
    }
    let audit = std::fs::read_dir(lab.dir.join("console-logs"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    assert_eq!(audit.matches("patch apiservers/cluster spec.encryption.type").count(), 3, "one audit line per patch");
}

#[tokio::test]
async fn a_second_migration_is_refused_while_one_runs() {
    // Real time: the first migration runs for 20 minutes.
    let lab = lab_of("healthy", 1.0).await;
    let first = encryption(&lab, &["encryption", "set", "aescbc", "--yes", "-o", "json"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(outcome(&first)["outcome"], "applied");
    let status = encryption(&lab, &["encryption", "status", "-o", "json"]);
    assert_eq!(status.status.code(), Some(1), "migrating: exit 1");
    assert_eq!(json(&status)["state"], "migrating");
    let version = resource_version(&lab);
    for kind in ["aesgcm", "identity", "aescbc"] {
        let second = encryption(&lab, &["encryption", "set", kind, "--yes", "--wait", "-o", "json"]);
        let end = outcome(&second);
        assert_eq!(second.status.code(), Some(1), "{end}");
        assert_eq!(end["outcome"], "refused", "{end}");
        assert!(end["reason"].as_str().unwrap().contains("already running"), "{end}");
        assert!(!lines(&second).iter().any(|l| l["action"] == "patch"), "nothing patched");
    }
    assert_eq!(spec_type(&lab), "aescbc");
    assert_eq!(resource_version(&lab), version, "APIServer untouched");
    // The backup engine refuses meanwhile.
    let backup = encryption(&lab, &["backup", "--dir", &path_str(&lab.dir.join("b")), "-o", "json"]);
    assert_eq!(backup.status.code(), Some(1), "{}", stdout(&backup));
    assert!(stdout(&backup).contains("encryption migration to aescbc is in progress"), "{}", stdout(&backup));
}

#[tokio::test]
async fn a_degraded_operator_stops_the_wait_with_exit_1() {
    let lab = lab_of("encryption-degraded", 300.0).await;
    let output = encryption(&lab, &["encryption", "set", "aescbc", "--wait", "--yes", "--poll", "300ms", "-o", "json"]);
    let end = outcome(&output);
    assert_eq!(output.status.code(), Some(1), "{end}");
    assert_eq!(end["outcome"], "degraded", "{end}");
    let reason = end["reason"].as_str().unwrap();
    assert!(reason.contains("clusteroperator/openshift-apiserver Degraded"), "{reason}");
    assert!(reason.contains("not completed: openshiftapiserver EncryptionInProgress"), "{reason}");
    // The text form says the same to a person.
    let status = encryption(&lab, &["encryption", "status"]);
    assert_eq!(status.status.code(), Some(1));
    assert!(stdout(&status).contains("DEGRADED: clusteroperator/openshift-apiserver Degraded"), "{}", stdout(&status));
    let again = encryption(&lab, &["encryption", "set", "identity", "--yes", "-o", "json"]);
    assert_eq!(outcome(&again)["outcome"], "refused");
}

#[tokio::test]
async fn the_read_only_token_and_read_only_flag_get_the_plan_and_nothing_is_patched() {
    let lab = lab_of("healthy", 300.0).await;
    let version = resource_version(&lab);
    let viewer = encryption(&lab, &["--context", "lab-readonly", "encryption", "set", "aescbc", "--yes", "-o", "json"]);
    let end = outcome(&viewer);
    assert_eq!(viewer.status.code(), Some(1), "{end}");
    assert_eq!(end["outcome"], "not_allowed");
    assert!(end["reason"].as_str().unwrap().contains("SelfSubjectAccessReview"), "{end}");
    let plan = lines(&viewer).into_iter().find(|l| l["event"] == "plan").expect("the plan is shown");
    assert_eq!((plan["plan"]["from"].as_str(), plan["plan"]["to"].as_str()), (Some("identity"), Some("aescbc")));
    let admin = encryption(&lab, &["--read-only", "encryption", "set", "aesgcm", "--yes"]);
    assert_eq!(admin.status.code(), Some(1));
    let text = stdout(&admin);
    assert!(text.contains("spec.encryption.type identity -> aesgcm") && text.contains("--read-only"), "{text}");
    // Without --yes and without a terminal nothing is asked, nothing done.
    let unasked = encryption(&lab, &["encryption", "set", "aescbc", "--no-backup"]);
    assert_eq!(unasked.status.code(), Some(2));
    assert!(stderr(&unasked).contains("give --yes"), "{}", stderr(&unasked));
    assert_eq!(resource_version(&lab), version, "APIServer untouched");
    assert_eq!(spec_type(&lab), "");
}

#[tokio::test]
async fn an_older_cluster_is_followed_on_two_operators() {
    let lab = lab_of("encryption-older", 300.0).await;
    let none = runbook_check(&lab, "authentication.operator.openshift.io");
    assert!(none.trim().is_empty(), "no Encrypted condition there: {none:?}");
    let output = encryption(&lab, &["encryption", "set", "aescbc", "--wait", "--yes", "--poll", "300ms", "-o", "json"]);
    let end = outcome(&output);
    assert_eq!(output.status.code(), Some(0), "{end}");
    let followed: Vec<&str> =
        end["followed"].as_array().unwrap().iter().map(|f| f["resource"].as_str().unwrap()).collect();
    assert_eq!(followed, ["openshiftapiserver", "kubeapiserver"]);
    let plan = lines(&output).into_iter().find(|l| l["event"] == "plan").unwrap();
    assert!(plan["plan"]["notes"].to_string().contains("4.5/4.6"), "{plan}");
    let check = runbook_check(&lab, "openshiftapiserver");
    assert_eq!(
        check.trim_end(),
        "EncryptionCompleted\nAll resources encrypted: routes.route.openshift.io, oauthaccesstokens.oauth.openshift.io, oauthauthorizetokens.oauth.openshift.io"
    );
}

#[tokio::test]
async fn a_hosted_cluster_shows_its_secret_encryption_and_is_not_migrated() {
    let lab = lab_of("hosted", 1.0).await;
    let status = encryption(&lab, &["encryption", "status"]);
    let text = stdout(&status);
    assert_eq!(status.status.code(), Some(0), "{text}");
    assert!(
        text.contains("HostedCluster clusters/hosted: secretEncryption aescbc, active key hosted-etcd-encryption-key (secret present)"),
        "{text}"
    );
    let set = encryption(
        &lab,
        &["--hosted-cluster", "clusters/hosted", "encryption", "set", "aesgcm", "--yes", "-o", "json"],
    );
    let end = outcome(&set);
    assert_eq!(set.status.code(), Some(1), "{end}");
    assert_eq!(end["outcome"], "not_allowed");
    assert!(end["reason"].as_str().unwrap().contains("this wizard does not migrate it"), "{end}");
}

/// `etcd-console encryption set ARGS` on a terminal (tmux), then how it exited.
fn on_a_terminal(lab: &Lab, name: &str, args: &str) -> Tmux {
    let command = with_lab_env(
        lab,
        &format!(
            "KUBECONFIG={} {} encryption set {args} --log-dir {}; echo EXITED $?; sleep 60",
            lab.kubeconfig.as_ref().unwrap().display(),
            console_bin().display(),
            lab.dir.join("tty-logs").display()
        ),
    );
    Tmux::start(name, 160, 50, &command)
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_terminal_the_plan_comes_first_then_the_backup_offer_then_the_typed_yes() {
    const WAIT: Duration = Duration::from_secs(30);
    let lab = lab_of("healthy", 300.0).await;
    let backups = lab.dir.join("offered");
    let args = format!("aescbc --backup-dir {}", backups.display());
    // A wrong word is a no: nothing changes.
    let tmux = on_a_terminal(&lab, "declined", &args);
    let offer = tmux.wait_for("the backup offer", WAIT, |s| s.contains("first? [Y/n]"));
    let plan = offer.find("Encryption plan for").expect("the plan is shown");
    assert!(plan < offer.find("first? [Y/n]").unwrap(), "the plan comes first: {offer}");
    tmux.keys(&["n", "Enter"]);
    tmux.wait_for("the typed question", WAIT, |s| {
        s.contains("Type 'aescbc' to set spec.encryption.type identity -> aescbc on https://")
    });
    tmux.keys(&["yes", "Enter"]);
    let end = tmux.wait_for("the exit", WAIT, |s| s.contains("EXITED"));
    assert!(end.contains("cancelled: nothing changed") && end.contains("EXITED 1"), "{end}");
    assert_eq!(spec_type(&lab), "");
    assert!(!backups.exists(), "no backup was asked for");
    drop(tmux);
    // The offer taken (Enter is yes), the type typed: the backup, then the patch.
    let tmux = on_a_terminal(&lab, "accepted", &args);
    tmux.wait_for("the backup offer", WAIT, |s| s.contains("first? [Y/n]"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("the typed question", WAIT, |s| s.contains("Type 'aescbc' to take a verified backup, then set"));
    tmux.keys(&["aescbc", "Enter"]);
    let end = tmux.wait_for("the exit", WAIT, |s| s.contains("EXITED"));
    assert!(end.contains("encryption aescbc: applied") && end.contains("EXITED 0"), "{end}");
    let backed = end.find("backup taken and verified").expect("the backup step");
    assert!(backed < end.find("APIServer cluster patched").expect("the patch step"), "{end}");
    assert_eq!(spec_type(&lab), "aescbc");
    let snapshots = std::fs::read_dir(&backups)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".db"))
        .count();
    assert_eq!(snapshots, 1);
}
