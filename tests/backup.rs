//! `etcd-console backup` against real etcd clusters (the lab's, with its
//! simulated OpenShift API), refereed by etcdctl: the snapshot restores with
//! `etcdctl snapshot restore` into a new member that serves the keys.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use etcd_console_lab::Lab;
use serde_json::Value;

/// `etcd-console backup ARGS -o json` with the lab's ETCDCTL_* and its kubeconfig (when it has one).
fn backup_command(lab: &Lab, args: &[&str]) -> Command {
    let mut command = lab_console(lab, &["backup"], "console-logs");
    command.args(args).args(["-o", "json"]);
    command
}

fn backup(lab: &Lab, args: &[&str]) -> Output {
    run_with_limit(backup_command(lab, args), Duration::from_secs(120))
}

fn lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{}", stderr(output))))
        .collect()
}

fn finished(output: &Output) -> Value {
    lines(output)
        .into_iter()
        .find(|l| l["event"] == "finished")
        .unwrap_or_else(|| panic!("no finished line: {}\n{}", stdout(output), stderr(output)))
}

/// The names in a directory that must exist (a missing one would pass every "nothing left" check).
fn names_in(dir: &Path) -> Vec<String> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut names: Vec<String> = entries.flatten().map(|e| e.file_name().to_string_lossy().to_string()).collect();
    names.sort();
    names
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn sha256_hex(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `etcdctl endpoint status --cluster -w json`: (cluster ID, leader ID, version, member ID per client URL).
fn cluster_facts(lab: &Lab) -> (u64, u64, String, Vec<(String, u64)>) {
    let out = etcdctl(lab, &["endpoint", "status", "--cluster", "-w", "json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let all = status.as_array().unwrap();
    let header = &all[0]["Status"]["header"];
    let members = all
        .iter()
        .map(|s| (s["Endpoint"].as_str().unwrap().to_string(), s["Status"]["header"]["member_id"].as_u64().unwrap()))
        .collect();
    (
        header["cluster_id"].as_u64().unwrap(),
        all[0]["Status"]["leader"].as_u64().unwrap(),
        all[0]["Status"]["version"].as_str().unwrap().to_string(),
        members,
    )
}

#[tokio::test(flavor = "multi_thread")]
/// The direct snapshot (`--snapshot-only`): the stream from a member, checked and restorable with etcdctl.
async fn a_backup_restores_with_etcdctl_into_a_new_member_serving_the_keys() {
    let lab = lab_scenario("healthy", 1.0).await;
    for i in 0..50 {
        assert!(etcdctl(&lab, &["put", &format!("/known/{i:02}"), &format!("value-{i}")]).status.success());
    }
    let dir = lab.dir.join("backups");
    let out = backup(&lab, &["--dir", dir.to_str().unwrap(), "--snapshot-only"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let done = finished(&out);
    assert_eq!(done["outcome"], "completed");
    let snapshot = PathBuf::from(done["snapshot"].as_str().unwrap());
    let metadata_path = PathBuf::from(done["metadata"].as_str().unwrap());
    let stamp = snapshot.file_name().unwrap().to_string_lossy().replace("snapshot_", "").replace(".db", "");
    assert_eq!(stamp.len(), "2026-12-01_184532".len(), "YYYY-MM-DD_HHMMSS: {stamp}");
    assert_eq!(names_in(&dir), [format!("backup_{stamp}.json"), format!("snapshot_{stamp}.db")], "no .part left");
    assert_eq!((mode(&snapshot), mode(&metadata_path)), (0o600, 0o600));

    // The metadata against etcdctl and the file itself.
    let metadata: Value = serde_json::from_slice(&std::fs::read(&metadata_path).unwrap()).unwrap();
    let (cluster_id, leader, version, members) = cluster_facts(&lab);
    assert_eq!(metadata["cluster_id"], format!("{cluster_id:x}"));
    assert_ne!(metadata["member_id"], format!("{leader:x}"), "a follower serves it by default");
    assert!(members.iter().any(|(_, id)| metadata["member_id"] == format!("{id:x}")));
    assert_eq!(metadata["etcd_version"], version.as_str());
    assert_eq!(metadata["sha256"], sha256_hex(&snapshot).as_str());
    assert_eq!(metadata["db_size"], std::fs::metadata(&snapshot).unwrap().len());
    let referee = run_with_limit(
        {
            let mut c = Command::new(common::etcdctl_bin());
            c.args(["snapshot", "status", "-w", "json"]).arg(&snapshot);
            c
        },
        Duration::from_secs(30),
    );
    let referee: Value = serde_json::from_slice(&referee.stdout).unwrap();
    assert_eq!(metadata["revision"], referee["revision"]);
    assert_eq!(metadata["total_keys"], referee["totalKey"]);
    assert_eq!(metadata["hash"], format!("{:x}", referee["hash"].as_u64().unwrap()));
    assert_eq!(metadata["verified"], true);
    assert_eq!(metadata["possibly_dirty"], false);
    assert_eq!(metadata["openshift"], serde_json::json!({"cluster_version": "4.14.8", "encryption_type": "identity"}));

    // Restored by etcdctl (which checks the SHA-256) into a new one-member cluster.
    let restored = lab.dir.join("restored");
    let (peer, client) = (free_port(), free_port());
    let restore = run_with_limit(
        {
            let mut c = Command::new(common::etcdctl_bin());
            c.env("ETCDCTL_API", "3").args(["snapshot", "restore"]).arg(&snapshot).arg("--data-dir").arg(&restored);
            c.args(["--name", "restored", "--initial-cluster", &format!("restored=http://127.0.0.1:{peer}")]);
            c.args(["--initial-advertise-peer-urls", &format!("http://127.0.0.1:{peer}")]);
            c
        },
        Duration::from_secs(60),
    );
    assert!(restore.status.success(), "{}", stderr(&restore));
    let mut etcd = Command::new(common::etcd_bin())
        .args(["--name", "restored", "--data-dir"])
        .arg(&restored)
        .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
        .args(["--initial-advertise-peer-urls", &format!("http://127.0.0.1:{peer}")])
        .args(["--initial-cluster", &format!("restored=http://127.0.0.1:{peer}")])
        .args(["--listen-client-urls", &format!("http://127.0.0.1:{client}")])
        .args(["--advertise-client-urls", &format!("http://127.0.0.1:{client}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let endpoint = format!("http://127.0.0.1:{client}");
    let got = eventually("the restored member to serve the keys", Duration::from_secs(30), || {
        let out = Command::new(common::etcdctl_bin())
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &endpoint, "get", "/known/", "--prefix", "-w", "json"])
            .output()
            .ok()?;
        let value: Value = serde_json::from_slice(&out.stdout).ok()?;
        value["kvs"].as_array().cloned()
    });
    let _ = etcd.kill();
    let _ = etcd.wait();
    assert_eq!(got.len(), 50);
    let decode = |v: &Value| {
        use base64::Engine;
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap()).unwrap()).unwrap()
    };
    assert_eq!((decode(&got[7]["key"]), decode(&got[7]["value"])), ("/known/07".into(), "value-7".into()));

    // --keep 2: two more backups; the oldest of this cluster goes, a backup of another cluster stays.
    let foreign = dir.join("backup_2020-01-01_000000.json");
    let mut other = metadata.clone();
    other["cluster_id"] = "1234".into();
    other["snapshot"] = "snapshot_2020-01-01_000000.db".into();
    other["taken_at"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&foreign, other.to_string()).unwrap();
    std::fs::write(dir.join("snapshot_2020-01-01_000000.db"), b"another cluster's").unwrap();
    let mut kept = Vec::new();
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(1100));
        let out = backup(&lab, &["--dir", dir.to_str().unwrap(), "--keep", "2", "--snapshot-only"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        kept.push(finished(&out));
    }
    assert_eq!(kept[0]["removed"], serde_json::json!([]), "two of this cluster: nothing to remove yet");
    assert_eq!(kept[1]["removed"], serde_json::json!([metadata_path]));
    let left = names_in(&dir);
    assert!(!left.contains(&format!("snapshot_{stamp}.db")) && !left.contains(&format!("backup_{stamp}.json")));
    assert!(left.contains(&"snapshot_2020-01-01_000000.db".to_string()), "{left:?}");
    assert_eq!(left.iter().filter(|n| n.starts_with("snapshot_")).count(), 3, "{left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_killed_or_ctrl_c_during_the_stream_leaves_nothing_at_the_final_name() {
    let mut lab = lab_scenario("fragmented", 1.0).await;
    let dir = lab.dir.join("backups");
    let name = lab.members[1].name.clone();
    let mut child = backup_command(&lab, &["--dir", dir.to_str().unwrap(), "--member", &name, "--snapshot-only"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the part file has its first bytes, the stream is flowing: freeze the backup, kill the member,
    // let it go on.
    let deadline = Instant::now() + Duration::from_secs(30);
    // (The directory may not be there yet.)
    let part_len = |dir: &Path| {
        let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
        entries
            .filter(|e| e.file_name().to_string_lossy().ends_with(".db.part"))
            .find_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .unwrap_or(0)
    };
    while part_len(&dir) == 0 {
        assert!(Instant::now() < deadline, "no part file appeared in {}", dir.display());
        std::thread::sleep(Duration::from_millis(2));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    lab.kill_member(1).unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the backup did not end after its member died");
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    let out = Output { status, ..out };
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    let done = finished(&out);
    assert_eq!(done["outcome"], "failed");
    let reason = done["reason"].as_str().unwrap();
    assert!(reason.contains("the snapshot stream failed"), "{done}");
    let received: u64 = reason.split("(after ").nth(1).and_then(|r| r.split(' ').next()).unwrap().parse().unwrap();
    let db_size = std::fs::metadata(lab.members[0].data_dir.join("member/snap/db")).unwrap().len();
    assert!(received > 0 && received < db_size, "killed mid-stream: {received} of about {db_size} bytes");
    assert_eq!(names_in(&dir), Vec::<String>::new(), "no snapshot, no metadata, no part left");

    // Ctrl-C mid-stream (the backup frozen while it arrives, then woken with it): the same. First the
    // two left must have a leader again (the killed member may have led).
    let survivor = lab.members[2].client_url.clone();
    eventually("a leader among the two left", Duration::from_secs(30), || {
        let mut read = Command::new(common::etcdctl_bin());
        read.args(["--endpoints", &survivor, "get", "/health-probe"]);
        for (name, value) in lab.env().into_iter().filter(|(name, _)| *name != "ETCDCTL_ENDPOINTS") {
            read.env(name, value);
        }
        read.output().ok().filter(|o| o.status.success()).map(|_| ())
    });
    let mut child =
        backup_command(&lab, &["--dir", dir.to_str().unwrap(), "--member", &lab.members[2].name, "--snapshot-only"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while part_len(&dir) == 0 {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("no part file appeared in {}: {}\n{}", dir.display(), stdout(&out), stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the backup did not stop on Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let done = finished(&out);
    assert_eq!(done["exit"], 1, "{done}");
    assert!(done["reason"].as_str().unwrap().contains("aborted by the user"), "{done}");
    assert_eq!(names_in(&dir), Vec::<String>::new(), "the part is removed on Ctrl-C");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_during_an_encryption_migration_and_forced_with_the_dirty_mark() {
    let lab = lab_scenario("encryption-in-progress", 1.0).await;
    let dir = lab.dir.join("backups");
    let keys = lab.dir.join("keys");
    let out = backup(&lab, &["--dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let done = finished(&out);
    assert_eq!(done["outcome"], "refused");
    let reason = done["reason"].as_str().unwrap();
    assert!(reason.contains("an encryption migration to aescbc is in progress"), "{reason}");
    assert!(reason.contains("EncryptionInProgress") && reason.contains("--force"), "{reason}");
    assert!(names_in(&dir).is_empty(), "a refusal writes nothing: {:?}", names_in(&dir));

    // The keys may not go beside the snapshot.
    let out = backup(&lab, &["--dir", dir.to_str().unwrap(), "--encryption-keys", dir.to_str().unwrap(), "--force"]);
    assert_eq!(out.status.code(), Some(2));

    let out = backup(&lab, &["--dir", dir.to_str().unwrap(), "--force", "--encryption-keys", keys.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let done = finished(&out);
    let snapshot = done["snapshot"].as_str().unwrap();
    assert!(snapshot.ends_with("__POSSIBLY_DIRTY__.db"), "{snapshot}");
    assert!(done["metadata"].as_str().unwrap().ends_with("__POSSIBLY_DIRTY__.json"));
    let backup = &done["backup"];
    assert_eq!(backup["possibly_dirty"], true);
    assert!(backup["dirty_because"][0].as_str().unwrap().contains("encryption migration"));
    assert_eq!(backup["openshift"]["encryption_type"], "aescbc");

    // The key secrets, apart, 0600, as a List kubectl can apply.
    let key_files = names_in(&keys);
    assert_eq!(key_files.len(), 1, "{key_files:?}");
    assert!(key_files[0].starts_with("encryption_keys_") && key_files[0].ends_with("__POSSIBLY_DIRTY__.json"));
    let key_file = keys.join(&key_files[0]);
    assert_eq!(mode(&key_file), 0o600);
    assert_eq!(backup["encryption_keys"], key_file.to_str().unwrap());
    let list: Value = serde_json::from_slice(&std::fs::read(&key_file).unwrap()).unwrap();
    assert_eq!(list["kind"], "List");
    let mut names: Vec<&str> =
        list["items"].as_array().unwrap().iter().map(|s| s["metadata"]["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "encryption-key-openshift-apiserver-1",
            "encryption-key-openshift-kube-apiserver-1",
            "encryption-key-openshift-oauth-apiserver-1"
        ]
    );
    let secret = &list["items"][0];
    assert_eq!(secret["kind"], "Secret");
    assert!(secret["data"]["encryption.apiserver.operator.openshift.io-key"].is_string());
    assert!(secret["metadata"].get("resourceVersion").is_none(), "ready for kubectl apply: {secret}");
    // The key material never reaches the logs.
    let key_b64 = secret["data"]["encryption.apiserver.operator.openshift.io-key"].as_str().unwrap();
    for entry in std::fs::read_dir(lab.dir.join("console-logs")).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        assert!(!text.contains(key_b64), "a key in {}", entry.path().display());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_during_a_static_pod_rollout_and_when_nothing_answers() {
    let lab = lab_scenario("post-restore", 1.0).await;
    let dir = lab.dir.join("backups");
    let out = backup(&lab, &["--dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let reason = finished(&out)["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("the etcd operator is rolling out revision 7"), "{reason}");
    assert!(names_in(&dir).is_empty());

    let mut nowhere = backup_command(&lab, &["--dir", dir.to_str().unwrap(), "--endpoints", "https://127.0.0.1:1"]);
    nowhere.env_remove("KUBECONFIG");
    let out = run_with_limit(nowhere, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(finished(&out)["outcome"], "refused");
    assert!(names_in(&dir).is_empty());

    let out = backup(&lab, &["--dir", dir.to_str().unwrap(), "--keep", "0"]);
    assert_eq!(out.status.code(), Some(2));
}
