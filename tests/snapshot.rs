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
            let mut c = Command::new(common::etcdctl_bin());
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
    snapshot_save(&lab, &snapshot);
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

fn snapshot_save(lab: &etcd_console_lab::Lab, file: &Path) {
    let out = etcdctl_at(lab, &lab.members[0].client_url, &["snapshot", "save", &path_str(file)]);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn analyze(file: &Path) -> (Option<i32>, Value, String) {
    let out = ours(&["snapshot", "analyze", "-o", "json", file.to_str().unwrap()]);
    let value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code(), value, stderr(&out))
}

fn resource<'a>(analysis: &'a Value, name: &str) -> &'a Value {
    analysis["resources"].as_array().unwrap().iter().find(|r| r["resource"] == name).unwrap_or_else(|| {
        panic!("no resource {name} in {analysis}");
    })
}

/// What etcd itself says at the snapshot's revision: the count of keys under a prefix, and their values' bytes.
fn etcdctl_prefix(lab: &etcd_console_lab::Lab, prefix: &str, revision: i64) -> (u64, u64) {
    let rev = format!("--rev={revision}");
    let out = etcdctl(lab, &["get", "--prefix", prefix, &rev, "-w", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kvs = answer["kvs"].as_array().cloned().unwrap_or_default();
    // base64: four characters for three bytes, less the padding.
    let bytes = kvs
        .iter()
        .map(|kv| {
            let text = kv["value"].as_str().unwrap_or_default();
            (text.len() / 4 * 3 - text.bytes().rev().take_while(|b| *b == b'=').count()) as u64
        })
        .sum();
    (answer["count"].as_u64().unwrap_or(0), bytes)
}

#[tokio::test(flavor = "multi_thread")]
async fn analyze_agrees_with_etcdctl_on_the_bloat_lab_and_says_what_damage_it_met() {
    use etcd_console_lab::bloat;
    let lab = lab_scenario("bloat", 1.0).await;
    let dir = tempfile::tempdir().unwrap();
    let before = dir.path().join("before.db");
    snapshot_save(&lab, &before);

    let (code, analysis, err) = analyze(&before);
    assert_eq!(code, Some(0), "{err}");
    let revision = analysis["revision"].as_i64().unwrap();
    assert_eq!(revision, etcdctl_status(&before)["revision"].as_i64().unwrap());
    assert_eq!(analysis["skipped"]["records"], 0);
    assert!(analysis["partial"].is_null());
    let sum = |field: &str| analysis[field].as_u64().unwrap();
    assert_eq!(sum("live_bytes") + sum("history_bytes"), sum("key_bucket_bytes"));
    let (all, all_values) = etcdctl_prefix(&lab, "", revision);
    assert_eq!((sum("total_keys"), sum("value_bytes")), (all, all_values));
    let resources = analysis["resources"].as_array().unwrap();
    let of = |field: &str| resources.iter().map(|r| r[field].as_u64().unwrap()).sum::<u64>();
    assert_eq!((of("keys"), of("bytes"), of("history_bytes")), (all, sum("live_bytes"), sum("history_bytes")));
    for resource in resources.iter().filter(|r| r["prefix"] != "") {
        let (count, values) = etcdctl_prefix(&lab, resource["prefix"].as_str().unwrap(), revision);
        assert_eq!((resource["keys"].as_u64().unwrap(), resource["value_bytes"].as_u64().unwrap()), (count, values));
    }

    // What the scenario promises.
    let events = resource(&analysis, "events");
    assert_eq!(events["prefix"], "/kubernetes.io/events/");
    let namespaces = events["namespaces"].as_array().unwrap();
    assert_eq!(namespaces[0]["namespace"], bloat::EVENTS_NAMESPACE);
    assert_eq!(namespaces[0]["keys"], bloat::EVENTS as u64);
    assert!(namespaces.iter().any(|n| n["namespace"] == bloat::QUIET_NAMESPACE && n["keys"] == bloat::QUIET_EVENTS));
    let widgets = resource(&analysis, &format!("{}/{}", bloat::CR_GROUP, bloat::CR_PLURAL));
    assert_eq!(widgets["keys"], bloat::CRS as u64 + 1);
    assert_eq!(widgets["namespaces"][0]["namespace"], bloat::CR_NAMESPACE);
    assert_eq!(widgets["value_bytes"], (bloat::CRS * bloat::CR_BYTES + bloat::HUGE_CR_BYTES) as u64);
    let configmaps = resource(&analysis, "configmaps");
    assert!(
        configmaps["history_bytes"].as_u64().unwrap() > (bloat::CONFIGMAP_BYTES * (bloat::CONFIGMAP_WRITES - 1)) as u64
    );
    assert_eq!(analysis["largest"][0]["key"], bloat::HUGE_CR);
    assert_eq!(analysis["largest"][0]["value_bytes"], bloat::HUGE_CR_BYTES as u64);
    let lease = &analysis["leases"]["top"][0];
    assert_eq!(lease["keys"], (bloat::EVENTS + bloat::QUIET_EVENTS) as u64);
    assert_eq!(lease["ttl_seconds"], bloat::EVENT_TTL_SECONDS);
    // The two at the top of the ranking are the two the scenario made grow.
    let top: Vec<&str> = resources.iter().take(2).map(|r| r["resource"].as_str().unwrap()).collect();
    assert!(top.contains(&"events") && top.contains(&"widgets.example.com/widgets"), "{top:?}");

    let out = ours(&["snapshot", "analyze", before.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("events (/kubernetes.io/events/)"), "{}", stdout(&out));
    assert!(stdout(&out).contains(bloat::HUGE_CR), "{}", stdout(&out));

    // Compacted: the ConfigMap's old revisions are gone from the next snapshot.
    let out = etcdctl(&lab, &["compact", &revision.to_string(), "--physical"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = dir.path().join("after.db");
    snapshot_save(&lab, &after);
    let (code, compacted, err) = analyze(&after);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(resource(&compacted, "configmaps")["history_bytes"], 0);
    assert_eq!(compacted["compact_revision"], revision);
    assert_eq!(resource(&compacted, "events")["keys"], events["keys"]);

    // Damaged copies: a clear error, or the figures read before the damage and why the walk stopped.
    let bytes = std::fs::read(&before).unwrap();
    let mut pages_spoiled = bytes[..bytes.len() - 32].to_vec();
    let page = 4096;
    for at in (pages_spoiled.len() / 3 / page * page..pages_spoiled.len() * 2 / 3).step_by(page) {
        pages_spoiled[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    }
    let spoiled = dir.path().join("spoiled.db");
    std::fs::write(&spoiled, &pages_spoiled).unwrap();
    let (code, partial, err) = analyze(&spoiled);
    assert_eq!(code, Some(1), "{err}");
    assert!(partial["partial"].as_str().unwrap_or_default().contains("says it is page"), "{partial}");
    assert!(err.contains("partial analysis") && err.contains("snapshot verify"), "{err}");
    assert!(partial["total_keys"].as_u64().unwrap() < sum("total_keys"));

    let cases: [(&str, Vec<u8>, &str); 3] = [
        ("truncated.db", bytes[..bytes.len() / 3].to_vec(), "truncated"),
        ("empty.db", Vec::new(), "empty"),
        ("text.db", b"not a database\n".repeat(100), "not a bbolt database"),
    ];
    for (name, content, reason) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, content).unwrap();
        let (code, answer, err) = analyze(&file);
        assert_eq!(code, Some(1), "{name}: {err}");
        assert!(err.contains(reason) && !err.contains("panicked"), "{name}: {err}");
        assert_eq!(answer["ok"], false, "{name}");
    }
    let (code, _, err) = analyze(&dir.path().join("missing.db"));
    assert_eq!(code, Some(2), "{err}");
}
