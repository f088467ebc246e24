//! Bad input, all of it: each gets a clear message and the right exit code,
//! no panic, nothing half-written. A missing or garbled kubeconfig, an expired
//! client certificate, a "CA" that is a leaf, a snapshot that is a directory,
//! a FIFO or empty, another cluster's journal, a backup directory on a full
//! disk and one on a read-only filesystem (tmpfs mounts: the tests run as root,
//! as CI does).
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use etcd_console_lab::Lab;

/// The binary with the lab's ETCDCTL_* only (no kubeconfig unless given).
fn run(lab: &Lab, args: &[&str]) -> (Option<i32>, String) {
    let out = console(lab, args);
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    (out.status.code(), err)
}

/// A tmpfs mounted at `dir` with `options`, unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn new(dir: &Path, options: &str) -> Mount {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", options, "tmpfs"]).arg(dir).output().unwrap();
        assert!(out.status.success(), "mounting a tmpfs needs root (CI runs as root): {}", stderr(&out));
        Mount(dir.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kubeconfigs_certificates_and_snapshot_paths_that_are_wrong_are_named_for_what_they_are() {
    let lab = lab(3, 64 << 20).await;
    let dir = tempfile::tempdir().unwrap();

    // Kubeconfigs: missing, garbled.
    let (code, err) = run(&lab, &["csr", "list", "--kubeconfig", "/nonexistent/kubeconfig"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot read the kubeconfig /nonexistent/kubeconfig"), "{err}");
    let garbled = dir.path().join("garbled");
    std::fs::write(&garbled, "{{{ apiVersion: [").unwrap();
    let (code, err) = run(&lab, &["csr", "list", "--kubeconfig", &path_str(&garbled)]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot read the kubeconfig") && err.contains("garbled"), "{err}");

    // A client certificate signed by the right CA, but expired in 2020.
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "expired-sre");
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2020, 1, 2);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &*lab.pki.issuer).unwrap();
    let (cert_path, key_path) = (dir.path().join("expired.crt"), dir.path().join("expired.key"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let (code, err) = run(&lab, &["status", "--cert", &path_str(&cert_path), "--key", &path_str(&key_path)]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("CN=expired-sre) expired on") && err.contains("2020"), "{err}");

    // A "CA" that is the client's own leaf certificate.
    let leaf = path_str(&lab.pki.client.cert);
    for args in [vec!["status", "--cacert", &leaf], vec!["space", "--cacert", &leaf]] {
        let (code, err) = run(&lab, &args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains("holds no CA certificate") && err.contains("CA:FALSE"), "{args:?}: {err}");
    }

    // Snapshots that are a directory, a FIFO (never opened: it would wait for a writer) and empty.
    let fifo = dir.path().join("fifo.db");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    for verb in ["status", "verify", "analyze"] {
        for (file, code, says) in [
            (dir.path().to_path_buf(), 2, "it is a directory, not a snapshot file"),
            (fifo.clone(), 2, "it is a named pipe (FIFO), not a snapshot file"),
            (empty.clone(), 1, "the file is empty"),
        ] {
            let started = Instant::now();
            let (got, err) = run(&lab, &["snapshot", verb, &path_str(&file)]);
            assert_eq!(got, Some(code), "snapshot {verb} {}: {err}", file.display());
            assert!(err.contains(says), "snapshot {verb} {}: {err}", file.display());
            assert!(started.elapsed() < Duration::from_secs(30), "snapshot {verb} waited on {}", file.display());
        }
    }
    // The same FIFO given as a certificate file.
    let (code, err) = run(&lab, &["status", "--cacert", &path_str(&fifo)]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("named pipe (FIFO), not a PEM file"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_clusters_journal_is_refused_and_a_full_or_read_only_backup_directory_leaves_nothing() {
    let lab = lab_scenario("fragmented", 1.0).await;
    let journal = lab.dir.join("journal");
    let journal_s = path_str(&journal);
    // An unfinished defrag run of this cluster, killed during its wait...
    let mut defrag = Command::new(console_bin());
    defrag
        .args(["defrag", "--all", "--yes", "-o", "json", "--journal-dir", &journal_s, "--wait", "60s"])
        .arg("--i-know-wait-is-short")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .arg("--log-dir")
        .arg(lab.dir.join("console-logs"));
    for (name, value) in lab.env() {
        defrag.env(name, value);
    }
    let (mut child, lines) = spawn_with_lines(defrag);
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if lines.recv_timeout(Duration::from_secs(1)).is_ok_and(|l| l.contains("\"countdown\"")) {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = defrag_spans(&lab).len();
    assert_eq!(done, 1, "one member defragmented before the kill");
    // ... then made another cluster's: the same file, its cluster ID changed, under this cluster's name.
    let file = std::fs::read_dir(&journal)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let foreign: String = text
        .lines()
        .map(|line| {
            let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
            record["run"]["cluster_id"] = serde_json::json!(0x1234_5678_u64);
            format!("{record}\n")
        })
        .collect();
    std::fs::write(&file, foreign).unwrap();
    for extra in [vec![], vec!["--dry-run"]] {
        let mut args = vec!["defrag", "--all", "--yes", "--journal-dir", &journal_s, "--wait", "1s"];
        args.push("--i-know-wait-is-short");
        args.extend(extra);
        let (code, err) = run(&lab, &args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains("holds a run of cluster 12345678, not of cluster"), "{err}");
        assert!(err.contains("Nothing was done"), "{err}");
    }
    assert_eq!(defrag_spans(&lab).len(), done, "nothing more was defragmented");

    // Enough data that the snapshot is over 512 KiB.
    for i in 0..20 {
        assert!(etcdctl(&lab, &["put", &format!("/bulk/{i}"), &"x".repeat(64 * 1024)]).status.success());
    }
    let full_dir = lab.dir.join("full");
    let _full = Mount::new(&full_dir, "size=512k");
    let (code, err) = run(&lab, &["backup", "--snapshot-only", "--dir", &path_str(&full_dir)]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("No space left on device") && err.contains("nothing was left at the final name"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&full_dir).unwrap().filter_map(Result::ok).map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "a full disk keeps nothing, not even the part file: {left:?}");

    let ro_dir = lab.dir.join("read-only");
    let _ro = Mount::new(&ro_dir, "ro,size=1m");
    for dir in [ro_dir.clone(), ro_dir.join("sub")] {
        let (code, err) = run(&lab, &["backup", "--snapshot-only", "--dir", &path_str(&dir)]);
        assert_eq!(code, Some(2), "{}: {err}", dir.display());
        assert!(err.contains("Read-only file system"), "{err}");
    }
}
