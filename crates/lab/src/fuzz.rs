//! Structured fuzzing of what the lab reads from its clients and its files:
//! label and field selectors, merge, strategic-merge and JSON patches, SPDY
//! header blocks (kubectl's exec), port lists, and scenario TOML. Each target
//! mutates real samples and asserts no panic and a sane answer.
//!
//! `FUZZ_CASES` sets the cases per target (64 by default, which CI runs).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

use crate::api::selectors::{FieldSelector, LabelSelector};
use crate::api::spdy;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
}

fn runner() -> TestRunner {
    TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() })
}

/// Runs `test` on cases from `strategy`: `FUZZ_CASES` of them, again and
/// again for `FUZZ_SECONDS` when that is set (CI's bounded run and
/// `benches/fuzz.sh`), then prints the runs and the rate.
fn fuzz<S: Strategy>(name: &str, strategy: &S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let seconds: f64 = std::env::var("FUZZ_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let started = std::time::Instant::now();
    let mut runs = 0u64;
    loop {
        runner().run(strategy, &test).unwrap();
        runs += u64::from(cases());
        if started.elapsed().as_secs_f64() >= seconds {
            break;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!("fuzz {name}: {runs} runs in {elapsed:.1} s, {:.0} execs/s", runs as f64 / elapsed.max(1e-9));
}

/// A seed with up to `edits` bytes set, inserted or removed; now and then plain random bytes.
fn mutated(seeds: Vec<Vec<u8>>, edits: usize) -> impl Strategy<Value = Vec<u8>> {
    let count = seeds.len().max(1);
    let edit = (any::<usize>(), any::<u8>(), 0u8..3);
    prop_oneof![
        8 => (0..count, proptest::collection::vec(edit, 0..=edits)).prop_map(move |(i, edits)| {
            let mut bytes = seeds.get(i).cloned().unwrap_or_default();
            for (at, value, how) in edits {
                let at = at % (bytes.len() + 1);
                match how {
                    0 if at < bytes.len() => bytes[at] = value,
                    1 => bytes.insert(at, value),
                    _ if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => {}
                }
            }
            bytes
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..256),
    ]
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

fn pod() -> Value {
    json!({
        "metadata": {"name": "etcd-master-0", "namespace": "openshift-etcd",
                     "labels": {"app": "etcd", "k8s-app": "etcd", "etcd": "true", "revision": "3"}},
        "spec": {"nodeName": "master-0", "restartPolicy": "Always"},
        "status": {"phase": "Running", "podIP": "10.0.0.10"}
    })
}

/// What kubectl and client-go send (`-l`, `--field-selector`).
fn selector_seeds() -> Vec<Vec<u8>> {
    [
        "k8s-app=etcd",
        "app in (etcd, guard),!job",
        "etcd notin (false),revision!=2",
        "k8s-app==etcd,app",
        "metadata.name=etcd-master-0,status.phase!=Failed",
        "spec.nodeName=master-0",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

#[test]
fn fuzz_label_and_field_selectors_parse_or_refuse() {
    let object = pod();
    fuzz("label_and_field_selectors_parse_or_refuse", &mutated(selector_seeds(), 6), |bytes| {
        let text = text(bytes);
        match LabelSelector::parse(&text) {
            // A selector read says yes or no to any object, and the empty one selects everything.
            Ok(selector) => {
                let _ = selector.matches(&object);
                let _ = selector.matches(&Value::Null);
                if text.trim().is_empty() {
                    prop_assert!(selector.matches(&object));
                }
            }
            Err(e) => prop_assert!(e.starts_with("unable to parse requirement"), "{e}"),
        }
        for kind in ["Pod", "Node", "Secret", "CertificateSigningRequest", "Other"] {
            if let Ok(selector) = FieldSelector::parse(&text, kind) {
                let _ = selector.matches(&object);
                let _ = selector.matches(&json!([1, {"a": null}]));
            }
        }
        Ok(())
    });
}

#[test]
fn fuzz_port_lists_parse_or_refuse() {
    let seeds = vec![b"2379".to_vec(), b"2379,2380".to_vec(), b" 2379 , 9979".to_vec()];
    fuzz("port_lists_parse_or_refuse", &mutated(seeds, 4), |bytes| {
        let text = text(bytes);
        if let Ok(ports) = crate::api::portforward::requested_ports(&[&text]) {
            prop_assert!(!ports.is_empty() && ports.iter().all(|p| *p > 0));
        }
        Ok(())
    });
}

/// Patches as kubectl and the console send them.
fn patch_seeds() -> Vec<Vec<u8>> {
    [
        r#"{"metadata":{"labels":{"revision":"4"}}}"#,
        r#"{"status":{"conditions":[{"type":"Ready","status":"False"}]}}"#,
        r#"{"spec":{"containers":[{"name":"etcd","$patch":"delete"}]}}"#,
        r#"{"metadata":{"$retainKeys":["name"],"finalizers":null}}"#,
        r#"{"$patch":"replace","spec":{}}"#,
        r#"[{"op":"add","path":"/metadata/labels/x","value":"y"},{"op":"remove","path":"/spec/nodeName"}]"#,
        r#"[{"op":"test","path":"/status/phase","value":"Running"},{"op":"move","from":"/spec","path":"/s"}]"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

#[test]
fn fuzz_patches_apply_or_refuse() {
    let rt = crate::api::catalog::get(crate::api::catalog::find("", "v1", "pods").unwrap());
    let current = pod();
    let types =
        ["application/merge-patch+json", "application/strategic-merge-patch+json", "application/json-patch+json"];
    fuzz("patches_apply_or_refuse", &(mutated(patch_seeds(), 8), 0..3usize), |(bytes, which)| {
        let Ok(patch) = serde_json::from_slice::<Value>(&bytes) else { return Ok(()) };
        let mut target = current.clone();
        crate::api::server::strategic_merge(&mut target, &patch);
        match crate::api::server::apply_patch(types[which], rt, &current, patch, "etcd-master-0") {
            // A patch that applied gives JSON that writes out again.
            Ok(patched) => prop_assert!(serde_json::to_vec(&patched).is_ok()),
            Err(e) => prop_assert!(!e.status().to_string().is_empty()),
        }
        Ok(())
    });
}

/// Header blocks compressed as kubectl's SPDY client does (the lab's own deflater, SPDY's dictionary).
fn header_block_seeds() -> Vec<Vec<u8>> {
    let mut plain = Vec::new();
    let pairs = [("streamtype", "stdout"), ("port", "2379"), ("requestid", "0")];
    plain.extend((pairs.len() as u32).to_be_bytes());
    for (name, value) in pairs {
        plain.extend((name.len() as u32).to_be_bytes());
        plain.extend(name.as_bytes());
        plain.extend((value.len() as u32).to_be_bytes());
        plain.extend(value.as_bytes());
    }
    let mut deflater = spdy::HeaderDeflater::new(&spdy::dictionary()).unwrap();
    vec![deflater.deflate(&plain).unwrap(), plain]
}

#[test]
fn fuzz_spdy_header_blocks_read_or_refuse() {
    fuzz("spdy_header_blocks_read_or_refuse", &mutated(header_block_seeds(), 8), |bytes| {
        let mut inflater = spdy::HeaderInflater::new(spdy::dictionary());
        if let Ok(block) = inflater.inflate(&bytes) {
            if let Ok(pairs) = spdy::header_pairs(&block) {
                // Each pair takes its two lengths (8 bytes) from the block: never more pairs than fit.
                prop_assert!(pairs.len() <= block.len() / 8);
            }
            // The stream goes on: a second block after a bad one errs or reads, never panics.
            let _ = inflater.inflate(&bytes);
        }
        let _ = spdy::header_pairs(&bytes);
        Ok(())
    });
}

fn scenario_seeds() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/scenarios");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
                .filter_map(|e| std::fs::read(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    seeds.sort();
    seeds
}

#[test]
fn fuzz_scenarios_load_or_say_why_not() {
    let seeds = scenario_seeds();
    assert!(seeds.len() >= 10, "the scenarios in assets/scenarios are the seeds");
    fuzz("scenarios_load_or_say_why_not", &mutated(seeds, 12), |bytes| {
        let text = text(bytes);
        match crate::scenario::Scenario::parse("fuzzed", &text) {
            Ok(scenario) => {
                // What a scenario that loaded says of its sizes reads or says why not.
                let _ = scenario.quota_bytes();
                let _ = scenario.fragment_bytes();
            }
            Err(e) => prop_assert!(e.contains("fuzzed"), "{e}"),
        }
        Ok(())
    });
}

/// Found by AFL (`fuzz/afl`, target `patches`): a JSON patch whose `move`
/// failed after taking its source panicked in json-patch's undo of the
/// earlier operations (`unreachable!`), on any client's PATCH. Now refused
/// as the API server refuses it, the object untouched.
#[test]
fn a_json_patch_whose_move_fails_after_a_remove_is_refused_not_a_panic() {
    let rt = crate::api::catalog::get(crate::api::catalog::find("", "v1", "pods").unwrap());
    let patch = json!([{"op": "remove", "path": "/spec/nodeName"}, {"op": "move", "from": "/spec", "path": "/s/"}]);
    let refused = crate::api::server::apply_patch("application/json-patch+json", rt, &pod(), patch, "etcd-master-0");
    let status = refused.unwrap_err().status();
    assert_eq!(status["code"], 422, "{status}");
    assert!(status["message"].as_str().unwrap().contains("the JSON patch failed"), "{status}");
    // The same bytes as the fuzzer's entry point reads them.
    let body = br#"[{"op":"remove","path":"/spec/nodeName"},{"op":"move","from":"/spec","path":"/s/"}]"#;
    assert!(crate::api::server::fuzz_entry_patch(2, body));
}
