//! `etcd-console space` against a real 3-member etcd cluster with TLS: the keys
//! it counts per resource are etcdctl's (`get --prefix --count-only`), the bytes
//! of what it read whole are `snapshot analyze`'s, the requests it reports are
//! the ones etcd's own /metrics counted on the follower it chose, and the leader
//! is spared. A second reading says what grew; bad input changes nothing.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use etcd_console_lab::Lab;
use serde_json::Value;

const GIB: u64 = 1 << 30;

async fn put_all(lab: &Lab, keys: &[(String, usize)]) {
    let mut client = match etcd_console_core::etcd::Connector::from_args(&lab.connection()) {
        Ok(c) => c.client(&lab.members[0].client_url).await.unwrap_or_else(|e| panic!("{e}")),
        Err(e) => panic!("{e}"),
    };
    for (key, size) in keys {
        client.put(key.as_str(), vec![b'v'; *size], None).await.unwrap_or_else(|e| panic!("put {key}: {e}"));
    }
}

/// `etcd-console space ARGS -o json`, readings kept in `space_dir`.
fn space(lab: &Lab, space_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["space", "-o", "json", "--space-dir", space_dir.to_str().unwrap()];
    all.extend_from_slice(args);
    console(lab, &all)
}

/// etcd's count of Range calls it handled, from its /metrics (over TLS, as etcdctl reaches it).
fn ranges_handled(lab: &Lab, url: &str) -> u64 {
    let env: std::collections::HashMap<_, _> = lab.env().into_iter().collect();
    let mut curl = Command::new("curl");
    curl.args(["-s", "--cacert", &env["ETCDCTL_CACERT"], "--cert", &env["ETCDCTL_CERT"], "--key", &env["ETCDCTL_KEY"]])
        .arg(format!("{url}/metrics"));
    let out = run_with_limit(curl, Duration::from_secs(20));
    assert!(out.status.success(), "curl: {}", stderr(&out));
    stdout(&out)
        .lines()
        .filter(|l| l.starts_with("grpc_server_handled_total{") && l.contains("grpc_method=\"Range\""))
        .filter_map(|l| l.rsplit(' ').next().and_then(|n| n.parse::<f64>().ok()))
        .sum::<f64>() as u64
}

fn count_only(lab: &Lab, prefix: &str) -> u64 {
    // etcd 3.4's etcdctl has no --count-only: the response's count is every key of the range.
    let out = etcdctl(lab, &["get", prefix, "--prefix", "--keys-only", "--limit", "1", "-w", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    value["count"].as_u64().unwrap_or(0)
}

fn group<'r>(reading: &'r Value, resource: &str) -> &'r Value {
    reading["resources"]
        .as_array()
        .and_then(|all| all.iter().find(|g| g["resource"] == resource))
        .unwrap_or_else(|| panic!("no {resource} in {reading}"))
}

fn known_keys() -> Vec<(String, usize)> {
    let mut keys = Vec::new();
    for ns in ["alpha", "beta", "gamma"] {
        for n in 0..(if ns == "alpha" { 150 } else { 20 }) {
            keys.push((format!("/kubernetes.io/events/{ns}/e-{n:04}"), 900));
        }
    }
    for n in 0..40 {
        keys.push((format!("/kubernetes.io/secrets/vault/s-{n:03}"), 3000));
    }
    for n in 0..5 {
        keys.push((format!("/kubernetes.io/example.com/widgets/ops/w-{n}"), 200));
        keys.push((format!("/kubernetes.io/namespaces/ns-{n}"), 100));
    }
    keys.push(("/lab/loose/1".into(), 50));
    keys
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_reading_counts_what_etcdctl_counts_on_a_follower_and_costs_what_etcd_counted() {
    let lab = lab(3, GIB).await;
    put_all(&lab, &known_keys()).await;
    let history = tempfile::tempdir().unwrap();

    let before: Vec<u64> = lab.members.iter().map(|m| ranges_handled(&lab, &m.client_url)).collect();
    let out = space(&lab, history.path(), &[]);
    let after: Vec<u64> = lab.members.iter().map(|m| ranges_handled(&lab, &m.client_url)).collect();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let reading = json(&out);

    // The counts are etcdctl's, whole and per resource, at one revision.
    assert_eq!(reading["total_keys"].as_u64(), Some(count_only(&lab, "/")), "{reading}");
    for (resource, prefix) in [
        ("events", "/kubernetes.io/events/"),
        ("secrets", "/kubernetes.io/secrets/"),
        ("example.com/widgets", "/kubernetes.io/example.com/widgets/"),
        ("namespaces", "/kubernetes.io/namespaces/"),
        ("lab", "/lab/"),
    ] {
        let g = group(&reading, resource);
        assert_eq!(g["prefix"], prefix);
        assert_eq!(g["keys"].as_u64(), Some(count_only(&lab, prefix)), "{resource}");
    }
    // The largest resource is broken down by namespace, with etcdctl's counts.
    let events = group(&reading, "events");
    for ns in ["alpha", "beta", "gamma"] {
        let found = events["namespaces"].as_array().unwrap().iter().find(|n| n["namespace"] == ns).unwrap();
        assert_eq!(found["keys"].as_u64(), Some(count_only(&lab, &format!("/kubernetes.io/events/{ns}/"))), "{ns}");
    }
    assert_eq!(events["namespaces"][0]["namespace"], "alpha", "the most bytes first");
    assert_eq!(reading["resources"][0]["resource"], "events", "ranked by bytes: 190 events before 40 secrets");
    assert_eq!(reading["estimated"], true);

    // Bytes: what was read whole is exact, as `snapshot analyze` counts the same records.
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("s.db");
    let saved = etcdctl_at(&lab, &lab.members[0].client_url, &["snapshot", "save", &path_str(&snapshot)]);
    assert!(saved.status.success(), "{}", stderr(&saved));
    let analysis = json(&console(&lab, &["snapshot", "analyze", "-o", "json", snapshot.to_str().unwrap()]));
    let whole: Vec<&Value> = reading["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["sampled"].as_u64() >= g["keys"].as_u64())
        .collect();
    assert!(whole.len() >= 2, "small resources are read whole: {reading}");
    for mine in whole {
        let resource = mine["resource"].as_str().unwrap();
        let theirs = group(&analysis, resource);
        assert_eq!(mine["bytes"], theirs["bytes"], "{resource}: bytes as the snapshot holds them");
    }
    // Estimated from a sample of same-sized objects: within a few per cent of the count.
    let (est, exact) =
        (group(&reading, "secrets")["bytes"].as_f64().unwrap(), group(&analysis, "secrets")["bytes"].as_f64().unwrap());
    assert!((est - exact).abs() / exact < 0.05, "secrets ~{est} against {exact}");

    // The load: on one follower, as many Range calls as the reading says (the status round
    // before it reads each member once), and the leader spared.
    let member = reading["source"]["member"].as_str().unwrap();
    assert_eq!(reading["source"]["kind"], "member");
    assert_eq!(reading["source"]["leader"], false, "a follower is read");
    let requests = reading["requests"].as_u64().unwrap();
    assert!(requests > 3 && requests < 30, "{requests} requests for {} keys", reading["total_keys"]);
    let at = lab.members.iter().position(|m| m.name == member).unwrap();
    let served = after[at] - before[at];
    assert!(
        served >= requests && served <= requests + 2,
        "{member} served {served} Range calls; the reading says {requests}"
    );
    for (i, m) in lab.members.iter().enumerate().filter(|(i, _)| *i != at) {
        assert!(
            after[i] - before[i] <= 2,
            "{} served {} Range calls: only the status round's",
            m.name,
            after[i] - before[i]
        );
    }

    // A second reading compares: events grew by 50 %.
    let more: Vec<(String, usize)> =
        (0..95).map(|n| (format!("/kubernetes.io/events/beta/more-{n:03}"), 900)).collect();
    put_all(&lab, &more).await;
    let out = space(&lab, history.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let second = json(&out);
    assert_eq!(second["previous"]["total_keys"], reading["total_keys"]);
    let change = &group(&second, "events")["change"];
    assert_eq!(change["keys_before"], 190);
    assert_eq!(change["keys_percent"].as_f64().map(f64::round), Some(50.0), "{change}");
    assert_eq!(group(&second, "secrets")["change"]["keys_percent"].as_f64(), Some(0.0));
    // The table says it in words: 285 events and 10 more.
    let more: Vec<(String, usize)> = (0..10).map(|n| (format!("/kubernetes.io/events/gamma/late-{n}"), 900)).collect();
    put_all(&lab, &more).await;
    let table = console(&lab, &["space", "--space-dir", history.path().to_str().unwrap()]);
    let text = stdout(&table);
    assert!(text.contains("since the reading") && text.contains(": events +3.5 % in "), "{text}");
    assert!(text.contains("(+10 keys, ~"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("1 ") && l.contains("events (/kubernetes.io/events/)")), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bounded_reading_says_it_is_partial_and_bad_input_changes_nothing() {
    let lab = lab(3, GIB).await;
    put_all(&lab, &known_keys()).await;
    let history = tempfile::tempdir().unwrap();

    // The request budget: exit 1, partial, what was read kept in the output, not in the history.
    let out = space(&lab, history.path(), &["--max-requests", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let reading = json(&out);
    assert!(reading["partial"].as_str().unwrap_or("").contains("--max-requests"), "{reading}");
    assert_eq!(reading["requests"], 2);
    assert!(stderr(&out).contains("partial reading"), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(history.path()).map(|d| d.count()).unwrap_or(0), 0, "a partial reading is not kept");

    // --max-qps is honoured: 12 requests at 4 a second take about 3 s.
    let started = std::time::Instant::now();
    let out = space(&lab, history.path(), &["--max-qps", "4"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let requests = json(&out)["requests"].as_u64().unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs_f64((requests - 1) as f64 / 4.0),
        "{requests} requests in {:?}",
        started.elapsed()
    );

    // Bad input: exit 2 and a clear word.
    for (args, says) in [
        (vec!["--max-qps", "0"], "not a rate"),
        (vec!["--member", "no-such"], "no member \"no-such\""),
        (vec!["--from-backup", "--backup-dir", "/nonexistent-backups"], "no verified backup"),
    ] {
        let out = space(&lab, history.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    let mut unreachable = Command::new(console_bin());
    unreachable.args(["space", "--endpoints", "https://127.0.0.1:1", "--dial-timeout", "500ms"]);
    let out = run_with_limit(unreachable, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // --from-backup counts every record of the newest verified backup.
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().to_str().unwrap();
    let taken = console(&lab, &["backup", "--dir", dir, "--snapshot-only"]);
    assert!(taken.status.success(), "{}", stderr(&taken));
    let out = space(&lab, history.path(), &["--from-backup", "--backup-dir", dir]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let counted = json(&out);
    assert_eq!(counted["estimated"], false);
    assert_eq!(counted["source"]["kind"], "snapshot");
    assert_eq!(group(&counted, "events")["keys"].as_u64(), Some(count_only(&lab, "/kubernetes.io/events/")));
}
