//! `etcd-console snapshot status|verify` on real snapshots taken by etcdctl
//! from a real cluster, refereed by `etcdctl snapshot status -w json`.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

fn ours(args: &[&str]) -> std::process::Output {
    let mut command = Command::new(console_bin());
    command.args(args).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command.arg("--log-dir").arg(std::env::temp_dir().join("ecl-snapshot-test-logs"));
    run_with_limit(command, Duration::from_secs(60))
}

fn etcdctl_status(file: &Path) -> Value {
    let out = run_with_limit(
        {
            let mut c = Command::new("etcdctl");
            c.args(["snapshot", "status", "-w", "json"]).arg(file);
            c
        },
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn status_equals_etcdctl_and_verify_catches_damage() {
    let lab = lab_scenario("fragmented", 1.0).await;
    for i in 0..40 {
        assert!(etcdctl(&lab, &["put", &format!("/known/{i}"), &format!("value-{i}")]).status.success());
    }
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snapshot.db");
    let mut save = Command::new("etcdctl");
    save.args(["--endpoints", &lab.members[0].client_url, "snapshot", "save"]).arg(&snapshot);
    for (name, value) in lab.env().into_iter().filter(|(name, _)| *name != "ETCDCTL_ENDPOINTS") {
        save.env(name, value);
    }
    assert!(run_with_limit(save, Duration::from_secs(60)).status.success());
    // A raw database: the snapshot without etcd's 32-byte SHA-256 trailer.
    let bytes = std::fs::read(&snapshot).unwrap();
    let raw = dir.path().join("db");
    std::fs::write(&raw, &bytes[..bytes.len() - 32]).unwrap();

    for file in [&snapshot, &raw] {
        let referee = etcdctl_status(file);
        let out = ours(&["snapshot", "status", "-o", "json", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let mine: Value = serde_json::from_slice(&out.stdout).unwrap();
        for field in ["hash", "revision", "totalKey", "totalSize"] {
            assert_eq!(mine[field], referee[field], "{field} of {}", file.display());
        }
    }
    let out = ours(&["snapshot", "verify", snapshot.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("SHA-256 matches"));
    let out = ours(&["snapshot", "verify", raw.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("raw copy of a member's database"), "{}", stdout(&out));

    // A raw database (no trailer to catch it) whose meta pages were damaged: the structure check says so.
    let mut damaged_raw = bytes[..bytes.len() - 32].to_vec();
    for meta in [0usize, 4096] {
        damaged_raw[meta + 32] ^= 0x01;
    }
    let file = dir.path().join("damaged-raw.db");
    std::fs::write(&file, damaged_raw).unwrap();
    let out = ours(&["snapshot", "verify", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("fails its checksum"), "{}", stderr(&out));

    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x01;
    let truncated = bytes[..bytes.len() / 3].to_vec();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("flipped.db", flipped, "SHA-256 at its end does not match"),
        ("truncated.db", truncated, "truncated"),
        ("empty.db", Vec::new(), "empty"),
        ("text.db", b"not a database\n".repeat(100), "not a bbolt database"),
    ];
    for (name, content, reason) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, content).unwrap();
        let out = ours(&["snapshot", "verify", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(reason), "{name}: {}", stderr(&out));
        // status never panics: it answers or says why not.
        let out = ours(&["snapshot", "status", file.to_str().unwrap()]);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{name}: {:?} {}", out.status, stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{name}: {}", stderr(&out));
    }
}
