//! Structured fuzzing of every parser core has of outside input: CSRs, snapshot
//! files, both journal readers, the OpenShift object readers and the defrag
//! rule. Each target mutates real samples (the referee's CSRs and operator
//! objects, a snapshot etcd wrote, journals the wizards wrote) and asserts what
//! a user relies on: no panic, no hang, and answers that make sense.
//!
//! `FUZZ_CASES` sets the cases per target (64 by default, which CI runs);
//! `benches/fuzz.sh` runs them longer.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

use crate::backup::snapshot;
use crate::openshift::csr::{self, CsrClass, DecodedRequest, KnownNode};

/// Cases per target: `FUZZ_CASES`, else 64.
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

/// The referee's real OpenShift objects (`shared/referee/openshift` beside the
/// repository), when they are there; the fuzzers fall back on their own seeds.
fn referee_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/referee/openshift");
    dir.is_dir().then_some(dir)
}

fn referee_objects(pattern: &str) -> Vec<Value> {
    let Some(dir) = referee_dir() else { return Vec::new() };
    let mut objects = Vec::new();
    let Ok(scenarios) = std::fs::read_dir(&dir) else { return objects };
    for scenario in scenarios.flatten() {
        let Ok(files) = std::fs::read_dir(scenario.path()) else { continue };
        for file in files.flatten() {
            let name = file.file_name().to_string_lossy().to_string();
            if name.contains(pattern) && name.ends_with(".json") {
                if let Some(object) = std::fs::read(file.path()).ok().and_then(|b| serde_json::from_slice(&b).ok()) {
                    objects.push(object);
                }
            }
        }
    }
    objects
}

/// One edit of a seed: where (taken modulo its length), what, and with which byte.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
    /// A copy of a stretch elsewhere (bbolt pages, JSON fields), as a mutator splices.
    Splice(usize, usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, bit)| Edit::Flip(at, 1 << (bit % 8))),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Set(at, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Insert(at, b)),
        any::<usize>().prop_map(Edit::Remove),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), any::<usize>(), 1usize..64).prop_map(|(from, to, n)| Edit::Splice(from, to, n)),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = bytes.len().max(1);
        match *edit {
            Edit::Flip(at, bit) => {
                if let Some(b) = bytes.get_mut(at % len) {
                    *b ^= bit;
                }
            }
            Edit::Set(at, value) => {
                if let Some(b) = bytes.get_mut(at % len) {
                    *b = value;
                }
            }
            Edit::Insert(at, value) => bytes.insert(at % (bytes.len() + 1), value),
            Edit::Remove(at) => {
                if !bytes.is_empty() {
                    bytes.remove(at % len);
                }
            }
            // Rarely: most seeds stay whole enough to get deep.
            Edit::Truncate(at) => {
                if at % 8 == 0 {
                    bytes.truncate(at % len);
                }
            }
            Edit::Splice(from, to, n) => {
                let from = from % len;
                let stretch: Vec<u8> = bytes.iter().skip(from).take(n).copied().collect();
                let to = to % len;
                for (i, b) in stretch.into_iter().enumerate() {
                    if let Some(slot) = bytes.get_mut(to + i) {
                        *slot = b;
                    }
                }
            }
        }
    }
    bytes
}

/// Seeds mutated by up to `edits` edits, or plain random bytes now and then.
fn mutated(seeds: Vec<Vec<u8>>, edits: usize) -> impl Strategy<Value = Vec<u8>> {
    let count = seeds.len().max(1);
    prop_oneof![
        8 => (0..count, proptest::collection::vec(edit(), 0..=edits))
            .prop_map(move |(i, e)| apply(seeds.get(i).cloned().unwrap_or_default(), &e)),
        1 => proptest::collection::vec(any::<u8>(), 0..512),
    ]
}

// ---------------------------------------------------------------- CSRs

/// PEM requests as `spec.request` carries them, base64 aside.
fn csr_objects() -> Vec<Value> {
    referee_objects("certificatesigningrequest")
}

fn csr_pems() -> Vec<Vec<u8>> {
    use base64::Engine;
    let mut pems: Vec<Vec<u8>> = csr_objects()
        .iter()
        .filter_map(|o| o.pointer("/spec/request").and_then(Value::as_str).map(str::to_string))
        .filter_map(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .collect();
    pems.push(own_csr("system:node:master-0", &["system:nodes"], &["master-0", "10.0.0.10"]));
    pems
}

/// A request we make, so the target has a seed without the referee.
fn own_csr(cn: &str, orgs: &[&str], sans: &[&str]) -> Vec<u8> {
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, cn);
    for org in orgs {
        params.distinguished_name.push(rcgen::DnType::OrganizationName, *org);
    }
    params.subject_alt_names = sans
        .iter()
        .map(|s| match s.parse::<std::net::IpAddr>() {
            Ok(ip) => rcgen::SanType::IpAddress(ip),
            Err(_) => rcgen::SanType::DnsName((*s).try_into().unwrap()),
        })
        .collect();
    let key = rcgen::KeyPair::generate().unwrap();
    params.serialize_request(&key).unwrap().pem().unwrap().into_bytes()
}

/// A node name as Kubernetes accepts one: a DNS-1123 subdomain.
fn is_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// The cluster as an empty one: no node, no Machine API.
fn no_context() -> csr::CsrContext {
    csr::CsrContext::nodes_only(Vec::new(), "no Machine API in this test")
}

#[test]
fn fuzz_csr_decoding_never_panics_and_reads_back_what_it_names() {
    let seeds = csr_pems();
    fuzz("csr_decoding_never_panics_and_reads_back_what_it_names", &mutated(seeds, 8), |pem| {
        if let Ok(request) = csr::decode_request(&pem) {
            // Whatever it read, every class it may get is explained.
            for signer in [csr::CLIENT_SIGNER, csr::SERVING_SIGNER] {
                let (class, reason) =
                    csr::classify(signer, csr::BOOTSTRAPPER, &[], Some(&request), None, &no_context());
                prop_assert!(!reason.is_empty());
                // No usages asked: never a kubelet's certificate.
                prop_assert_eq!(class, CsrClass::Unexpected);
            }
        }
        Ok(())
    });
}

#[test]
fn fuzz_csr_objects_from_json_never_panic() {
    let seeds: Vec<Vec<u8>> = csr_objects().iter().map(|o| serde_json::to_vec(o).unwrap()).collect();
    fuzz("csr_objects_from_json_never_panic", &mutated(seeds, 6), |json| {
        if let Ok(object) =
            serde_json::from_slice::<k8s_openapi::api::certificates::v1::CertificateSigningRequest>(&json)
        {
            let pending = csr::pending_from(std::slice::from_ref(&object), &no_context());
            for p in &pending {
                prop_assert!(!p.reason.is_empty());
                let _ = p.subject();
            }
        }
        Ok(())
    });
}

fn tricky_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("master-0".to_string()),
        Just("Master-0".to_string()),
        Just("master-0 ".to_string()),
        Just("master-0\n".to_string()),
        Just("master-0,O=system:masters".to_string()),
        Just("../master-0".to_string()),
        "[a-z0-9.-]{0,12}",
        ".{0,12}",
    ]
}

fn decoded_request() -> impl Strategy<Value = DecodedRequest> {
    (
        prop_oneof![Just(None), tricky_text().prop_map(|n| Some(format!("system:node:{n}"))), ".{0,20}".prop_map(Some)],
        prop_oneof![
            Just(vec!["system:nodes".to_string()]),
            proptest::collection::vec(prop_oneof![Just("system:nodes".to_string()), ".{0,12}"], 0..3),
        ],
        proptest::collection::vec(tricky_text(), 0..2),
        proptest::collection::vec(prop_oneof![Just("10.0.0.10".to_string()), "[0-9.]{0,15}"], 0..2),
    )
        .prop_map(|(common_name, organizations, dns_names, ip_addresses)| DecodedRequest {
            common_name,
            organizations,
            dns_names,
            ip_addresses,
        })
}

fn usages() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(
        prop_oneof![
            Just("digital signature".to_string()),
            Just("key encipherment".to_string()),
            Just("client auth".to_string()),
            Just("server auth".to_string()),
            ".{0,10}",
        ],
        0..4,
    )
}

/// Whatever the request, the signer and the requestor: a CSR classified
/// valid is a node's, with the organisation system:nodes, a kubelet's usages
/// and, for a serving certificate, filed by that node for its own addresses.
#[test]
fn fuzz_csr_classification_never_calls_a_foreign_request_valid() {
    let inputs = (
        prop_oneof![Just(csr::CLIENT_SIGNER.to_string()), Just(csr::SERVING_SIGNER.to_string()), ".{0,20}"],
        prop_oneof![Just(csr::BOOTSTRAPPER.to_string()), Just("system:node:master-0".to_string()), ".{0,20}"],
        usages(),
        proptest::option::weighted(0.95, decoded_request()),
        proptest::collection::vec((tricky_text(), proptest::collection::vec(tricky_text(), 0..2)), 0..3),
    );
    fuzz(
        "csr_classification_never_calls_a_foreign_request_valid",
        &inputs,
        |(signer, requestor, usages, request, nodes)| {
            let nodes: Vec<KnownNode> = nodes
                .into_iter()
                .map(|(name, addresses)| {
                    // Each address as a DNS name and as an IP: the typing is what is tested.
                    let typed = addresses
                        .into_iter()
                        .flat_map(|a| [("Hostname".to_string(), a.clone()), ("InternalIP".to_string(), a)])
                        .collect();
                    KnownNode { name, addresses: typed, ready: true }
                })
                .collect();
            let context = csr::CsrContext::nodes_only(nodes, "no Machine API in this test");
            let (class, reason) = csr::classify(&signer, &requestor, &usages, request.as_ref(), None, &context);
            prop_assert!(!reason.is_empty());
            if class.is_valid() {
                let request = request.as_ref().unwrap();
                let cn = request.common_name.as_deref().unwrap_or("");
                prop_assert!(cn.starts_with("system:node:"), "{cn:?} classified {class:?}");
                prop_assert_eq!(&request.organizations, &vec!["system:nodes".to_string()]);
                if class == CsrClass::KubeletServing {
                    prop_assert_eq!(&requestor, cn);
                    prop_assert!(usages.iter().any(|u| u == "server auth"));
                    let node = &cn["system:node:".len()..];
                    let known = context.nodes.iter().find(|n| n.name == node).unwrap();
                    // DNS names compare as DNS does: without case, without a trailing dot.
                    let plain = |n: &str| n.trim_end_matches('.').to_ascii_lowercase();
                    // An empty DNS name is skipped, as the machine-approver skips it.
                    let names = request.dns_names.iter().filter(|n| !n.is_empty()).chain(&request.ip_addresses);
                    for name in names {
                        let ours = plain(name);
                        prop_assert!(
                            known.addresses.iter().any(|(_, a)| plain(a) == ours) || plain(&known.name) == ours,
                            "{name:?}"
                        );
                    }
                } else if class == CsrClass::ClientRenewal {
                    // A registered node renewing for itself only.
                    prop_assert_eq!(&requestor, cn);
                    prop_assert!(context.nodes.iter().any(|n| n.name == cn["system:node:".len()..]));
                    prop_assert!(usages.iter().any(|u| u == "client auth"));
                    prop_assert!(request.dns_names.is_empty() && request.ip_addresses.is_empty());
                } else {
                    prop_assert_eq!(&requestor, csr::BOOTSTRAPPER);
                    prop_assert!(usages.iter().any(|u| u == "client auth"));
                    prop_assert!(request.dns_names.is_empty() && request.ip_addresses.is_empty());
                }
            }
            Ok(())
        },
    );
}

/// Found by the fuzzer: the classification took any text after `system:node:`
/// as a node's name, even none at all or one Kubernetes would refuse for a
/// node. Now judged as the machine-approver does (a DNS-1123 subdomain).
#[test]
fn a_client_csr_for_a_node_without_a_valid_name_is_not_valid() {
    let client = |cn: &str| {
        let request = DecodedRequest {
            common_name: Some(cn.to_string()),
            organizations: vec!["system:nodes".into()],
            ..DecodedRequest::default()
        };
        let usages = ["client auth".to_string()];
        csr::classify(csr::CLIENT_SIGNER, csr::BOOTSTRAPPER, &usages, Some(&request), None, &no_context()).0
    };
    for cn in ["system:node:", "system:node:Master-0", "system:node:master-0 ", "system:node:a\nb", "system:node:../x"]
    {
        assert!(!is_node_name(&cn["system:node:".len()..]));
        assert_eq!(client(cn), CsrClass::Unexpected, "{cn:?}");
    }
}

/// Found by AFL (`fuzz/afl`, target `csr_classification`): a serving CSR
/// whose DNS names include an empty one is valid when the others are the
/// node's, as the machine-approver judges it (it skips an empty name). The
/// product was right; the targets' check (here and in `fuzz/afl`) now skips
/// it too.
#[test]
fn a_serving_csr_with_an_empty_dns_name_is_judged_as_the_approver_does() {
    let request = DecodedRequest {
        common_name: Some("system:node:master-0".into()),
        organizations: vec!["system:nodes".into()],
        dns_names: vec!["master-0".into(), String::new(), "master-0.cluster.example".into()],
        ip_addresses: vec!["10.0.0.10".into()],
    };
    let node = KnownNode {
        name: "master-0".into(),
        addresses: vec![
            ("InternalIP".into(), "10.0.0.10".into()),
            ("Hostname".into(), "master-0.cluster.example".into()),
        ],
        ready: true,
    };
    let context = csr::CsrContext::nodes_only(vec![node], "no Machine API in this test");
    let usages = ["digital signature".to_string(), "server auth".to_string()];
    let (class, reason) =
        csr::classify(csr::SERVING_SIGNER, "system:node:master-0", &usages, Some(&request), None, &context);
    assert_eq!(class, CsrClass::KubeletServing, "{reason}");
    // A foreign name beside the empty one is still refused.
    let mut foreign = request.clone();
    foreign.dns_names.push("api.example.com".into());
    let (class, _) =
        csr::classify(csr::SERVING_SIGNER, "system:node:master-0", &usages, Some(&foreign), None, &context);
    assert_eq!(class, CsrClass::Unexpected);
}

// ---------------------------------------------------------------- snapshots

const SNAPSHOT_SEED: &[u8] = include_bytes!("../../../fuzz/corpus/snapshot/small.db");

/// A snapshot file of these bytes: status, verify, structure, analyze and a
/// key's value each give figures or an error, and agree with each other.
fn read_snapshot(dir: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    let path = dir.join("fuzzed.db");
    std::fs::write(&path, bytes).unwrap();
    let file = snapshot::open(&path).unwrap();
    let status = snapshot::status(&file);
    let verified = snapshot::verify(&file);
    let _ = snapshot::structure(&file);
    let _ = crate::backup::analyze::analyze(&file);
    let _ = snapshot::latest_value(&file, b"/kubernetes.io/pods/openshift-etcd/etcd-1");
    if let Ok((_, verified_status)) = &verified {
        // What verify vouches for, status reads the same.
        prop_assert_eq!(status.as_ref().ok(), Some(verified_status));
    }
    if let Ok(status) = status {
        prop_assert!(status.total_size <= (bytes.len() as u64).max(1) << 40);
    }
    Ok(())
}

#[test]
fn fuzz_snapshot_reader_gives_figures_or_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // Both with etcd's trailer (which a mutation spoils) and without (a raw db copy).
    let raw = SNAPSHOT_SEED[..SNAPSHOT_SEED.len() - 32].to_vec();
    let seeds = vec![SNAPSHOT_SEED.to_vec(), raw];
    fuzz("snapshot_reader_gives_figures_or_an_error", &mutated(seeds, 16), |bytes| read_snapshot(dir.path(), &bytes));
}

#[test]
fn the_snapshot_seed_reads_as_etcdctl_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.db");
    std::fs::write(&path, SNAPSHOT_SEED).unwrap();
    let file = snapshot::open(&path).unwrap();
    // etcdctl snapshot status -w json: {"hash":990791389,"revision":6,"totalKey":10,"totalSize":20480}
    let (_, status) = snapshot::verify(&file).unwrap();
    assert_eq!((status.hash, status.revision, status.total_key, status.total_size), (990791389, 6, 10, 20480));
}

// ---------------------------------------------------------------- journals

fn defrag_journal_seed(dir: &Path) -> Vec<u8> {
    use crate::wizard::defrag::{journal, plan, DefragRun, Figures, MemberFacts, Options, Rule};
    let figures = Figures { db_size: 1 << 20, db_size_in_use: 1 << 19, quota: 8 << 30 };
    let members: Vec<MemberFacts> = (1..=3)
        .map(|id| MemberFacts {
            id,
            name: format!("master-{id}"),
            is_learner: false,
            figures: Some(figures),
            serves_reads: true,
        })
        .collect();
    let made = plan(&members, Some(1), &Rule::All).unwrap();
    let run = DefragRun::new(&made, 7, Options::default(), false).unwrap();
    let mut journal = journal::Journal::create(dir, 7).unwrap();
    journal.record(journal::Event::Begin, None, &run).unwrap();
    journal.record(journal::Event::End, None, &run).unwrap();
    let path = journal.path().to_path_buf();
    drop(journal);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    bytes
}

fn restore_journal_seed(dir: &Path, server: &str) -> Vec<u8> {
    use crate::wizard::restore::journal::RestoreJournal;
    use crate::wizard::restore::{Options, Procedure, RestoreRun};
    let mut journal = RestoreJournal::open(dir, server).unwrap();
    let mut run = RestoreRun::new(Procedure::Standalone, "/home/core/backup".into(), Options::default());
    journal.record(&run).unwrap();
    run.not_ready = vec!["master-1".into()];
    journal.record(&run).unwrap();
    let path = journal.path().to_path_buf();
    drop(journal);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    bytes
}

/// Garbage before the last line is never read past: the reader says the
/// journal cannot be read rather than resume from a record it guessed.
fn journal_verdict<T>(
    bytes: &[u8],
    found: &Result<Option<T>, crate::journal::JournalError>,
) -> Result<(), TestCaseError> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    let garbage_before_last =
        lines.iter().take(lines.len().saturating_sub(1)).any(|l| serde_json::from_str::<Value>(l).is_err());
    if garbage_before_last {
        prop_assert!(found.is_err(), "a journal with a garbled line before its last was read");
    }
    if let Err(e) = found {
        prop_assert!(!e.to_string().is_empty());
    }
    Ok(())
}

#[test]
fn fuzz_defrag_journal_reader_resumes_or_says_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let seed = defrag_journal_seed(dir.path());
    let garbage_first = [b"not a journal\n".as_slice(), &seed].concat();
    fuzz(
        "defrag_journal_reader_resumes_or_says_it_cannot_read",
        &mutated(vec![seed.clone(), garbage_first], 8),
        |bytes| {
            std::fs::write(dir.path().join("defrag-0000000000000007.jsonl"), &bytes).unwrap();
            let found = crate::wizard::defrag::journal::unfinished(dir.path(), 7);
            journal_verdict(&bytes, &found)
        },
    );
}

#[test]
fn fuzz_run_journal_reader_resumes_or_says_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let server = "https://api.cluster.example:6443";
    let seed = restore_journal_seed(dir.path(), server);
    let path = dir.path().join("restore-api.cluster.example_6443.jsonl");
    let garbage_first = [b"{\"at\":\n".as_slice(), &seed].concat();
    fuzz(
        "run_journal_reader_resumes_or_says_it_cannot_read",
        &mutated(vec![seed.clone(), garbage_first], 8),
        |bytes| {
            std::fs::write(&path, &bytes).unwrap();
            let found = crate::wizard::restore::journal::unfinished(dir.path(), server);
            journal_verdict(&bytes, &found)?;
            // The member replacement reads the same format, with its own run.
            let member = crate::journal::run::unfinished::<crate::wizard::member::MemberRun>(dir.path(), server);
            prop_assert!(member.is_ok());
            Ok(())
        },
    );
}

// ---------------------------------------------------------------- OpenShift objects

/// Any JSON, shaped a little like an API object so readers go deep.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("status"),
        Just("spec"),
        Just("conditions"),
        Just("type"),
        Just("status"),
        Just("reason"),
        Just("message"),
        Just("lastTransitionTime"),
        Just("nodeStatuses"),
        Just("currentRevision"),
        Just("targetRevision"),
        Just("nodeName"),
        Just("encryption"),
        Just("containerStatuses"),
        Just("state"),
        Just("metadata"),
        Just("name"),
        Just("unsupportedConfigOverrides"),
        Just("command"),
        Just("containers"),
        Just("x"),
    ]
    .prop_map(str::to_string);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        prop_oneof![
            Just("True".to_string()),
            Just("False".to_string()),
            Just("2026-12-07T13:00:00Z".to_string()),
            Just("--quota-backend-bytes=8589934592".to_string()),
            ".{0,16}"
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the subtree at a random depth-first position of `object` with `graft`.
fn graft(object: &mut Value, at: &mut usize, with: &Value) -> bool {
    if *at == 0 {
        *object = with.clone();
        return true;
    }
    *at -= 1;
    match object {
        Value::Array(items) => items.iter_mut().any(|v| graft(v, at, with)),
        Value::Object(map) => map.values_mut().any(|v| graft(v, at, with)),
        _ => false,
    }
}

#[test]
fn fuzz_openshift_object_readers_never_panic() {
    let mut seeds = referee_objects(".json");
    seeds.push(serde_json::json!({"status": {"conditions": [{"type": "Encrypted", "status": "True"}]}}));
    let count = seeds.len();
    let inputs = (0..count, any::<usize>(), json_value(), any::<bool>());
    fuzz("openshift_object_readers_never_panic", &inputs, |(i, at, with, whole)| {
        let object = if whole {
            with
        } else {
            let mut object = seeds[i].clone();
            let mut at = at % 64;
            graft(&mut object, &mut at, &with);
            object
        };
        crate::openshift::read_every_way(&object);
        Ok(())
    });
}

// ---------------------------------------------------------------- defrag rules

fn rule_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("dbSize"),
        Just("dbSizeInUse"),
        Just("dbSizeFree"),
        Just("dbQuota"),
        Just("dbQuotaUsage"),
        Just("0"),
        Just("0.8"),
        Just("1024"),
        Just("9223372036854775807"),
        Just("-"),
        Just("+"),
        Just("*"),
        Just("/"),
        Just("%"),
        Just("^"),
        Just(">"),
        Just(">="),
        Just("<"),
        Just("=="),
        Just("!="),
        Just("&&"),
        Just("||"),
        Just("!"),
        Just("("),
        Just(")"),
        Just(","),
        Just(";"),
        Just("="),
        Just("\""),
        Just("true"),
        Just("min"),
        Just("max"),
        Just("if"),
        Just("len"),
        Just("str::regex_matches"),
        Just(" "),
    ];
    prop_oneof![
        4 => proptest::collection::vec(token, 0..24).prop_map(|t| t.concat()),
        1 => ".{0,40}",
        // Deep nesting: evalexpr recurses, and 10,000 parentheses once overflowed the stack.
        1 => (0usize..20_000, prop_oneof![Just("("), Just("!"), Just("-"), Just("(-")])
            .prop_map(|(depth, open)| format!("{}dbSize > 0{}", open.repeat(depth), ")".repeat(depth))),
    ]
}

#[test]
fn fuzz_defrag_rules_parse_or_refuse_and_always_answer() {
    use crate::wizard::defrag::{Figures, Rule};
    let inputs = (rule_text(), any::<u64>(), any::<u64>(), any::<u64>());
    fuzz("defrag_rules_parse_or_refuse_and_always_answer", &inputs, |(text, db_size, db_size_in_use, quota)| {
        match Rule::expression(&text) {
            Ok(rule) => {
                // A rule accepted once answers (or says why not) for any member's figures.
                let _ = rule.applies(&Figures { db_size, db_size_in_use, quota });
                prop_assert!(rule.describe().contains(&text));
            }
            Err(e) => prop_assert!(e.starts_with("--rule "), "{e}"),
        }
        Ok(())
    });
}
