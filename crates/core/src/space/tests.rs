//! The walk against a keyspace held in memory, answered as etcd answers a range:
//! the counts it gives must be the keyspace's, whatever its shape.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::walk::{prefix_end, record_bytes, Ask, PageAnswer, Seen, Walk, WalkOptions};
use super::{Reading, Source};
use crate::backup::analyze::place;

type Keyspace = BTreeMap<Vec<u8>, u64>;

/// etcd's answer to one ask: the range's count, and its first `limit` keys.
fn answer(keys: &Keyspace, walk: &mut Walk, ask: Ask) {
    match ask {
        Ask::Total => walk.answer_total(keys.len() as u64, 42),
        Ask::Page { from, end, limit, revision } => {
            assert_eq!(revision, 42, "every page is read at the pinned revision");
            let in_range: Vec<(&Vec<u8>, &u64)> =
                keys.range(from..).take_while(|(k, _)| end.is_empty() || k.as_slice() < end.as_slice()).collect();
            let kvs = in_range.iter().take(limit).map(|(k, b)| Seen { key: (*k).clone(), bytes: **b }).collect();
            walk.answer_page(PageAnswer { count: in_range.len() as u64, kvs });
        }
    }
}

fn run(keys: &Keyspace, options: WalkOptions) -> Walk {
    let mut walk = Walk::new(options);
    let mut asked = 0;
    while let Some(ask) = walk.next_ask() {
        answer(keys, &mut walk, ask);
        asked += 1;
        assert!(asked < 100_000, "the walk ends");
    }
    walk
}

fn reading(walk: &Walk) -> Reading {
    let source =
        Source::Member { member: "m".into(), member_id: "1".into(), leader: false, db_size: 0, db_size_in_use: 0 };
    Reading::from_walk(walk, 1, source, SystemTime::UNIX_EPOCH, Duration::ZERO)
}

/// Keys and bytes per prefix, counted the plain way.
fn truth(keys: &Keyspace) -> BTreeMap<String, (u64, u64)> {
    let mut by = BTreeMap::new();
    for (k, b) in keys {
        let prefix = String::from_utf8_lossy(place(k).prefix).into_owned();
        let e = by.entry(prefix).or_insert((0, 0));
        e.0 += 1;
        e.1 += b;
    }
    by
}

/// A small pseudo-random generator (the tests need no crate for it).
struct Rng(u64);
impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below.max(1)
    }
}

fn openshift_like(seed: u64) -> Keyspace {
    let mut rng = Rng(seed);
    let mut keys = Keyspace::new();
    let resources = ["events", "secrets", "configmaps", "pods", "example.com/widgets", "leases"];
    for resource in resources {
        let namespaces = 1 + rng.next(40);
        for ns in 0..namespaces {
            for name in 0..rng.next(30) {
                let key = format!("/kubernetes.io/{resource}/ns-{ns}/obj-{name}");
                keys.insert(key.into_bytes(), 100 + rng.next(3000));
            }
        }
    }
    for name in 0..rng.next(50) {
        keys.insert(format!("/kubernetes.io/namespaces/ns-{name}").into_bytes(), 400);
    }
    for name in 0..rng.next(20) {
        keys.insert(format!("/openshift.io/routes/ns-1/r-{name}").into_bytes(), 700);
    }
    for name in 0..rng.next(5) {
        keys.insert(format!("loose-{name}").into_bytes(), 50);
    }
    keys.insert(b"/lab/fill/1".to_vec(), 10_000);
    keys
}

#[test]
fn every_resources_count_is_the_keyspaces_whatever_the_page_size() {
    for seed in 0..30 {
        let keys = openshift_like(seed);
        let expected = truth(&keys);
        for page in [1, 2, 8, 50] {
            let walk = run(&keys, WalkOptions { page, ..WalkOptions::default() });
            let r = reading(&walk);
            assert_eq!(r.total_keys, keys.len() as u64);
            assert_eq!(r.resources.iter().map(|g| g.keys).sum::<u64>(), keys.len() as u64, "seed {seed} page {page}");
            for g in &r.resources {
                assert_eq!(expected.get(&g.prefix).map(|e| e.0), Some(g.keys), "{} seed {seed} page {page}", g.prefix);
                if g.sampled >= g.keys {
                    assert_eq!(expected[&g.prefix].1, g.bytes, "{}: every key read, the bytes are exact", g.prefix);
                }
            }
            assert_eq!(r.resources.len(), expected.len());
            assert!(r.partial.is_none());
        }
    }
}

#[test]
fn the_biggest_resources_are_broken_down_by_namespace_with_whole_counts() {
    for seed in 0..20 {
        let keys = openshift_like(seed);
        let walk = run(&keys, WalkOptions { page: 4, breakdown: 3, ..WalkOptions::default() });
        let r = reading(&walk);
        let mut broken_down = 0;
        for g in r.resources.iter().filter(|g| !g.namespaces.is_empty()) {
            broken_down += usize::from(g.sampled < g.keys);
            for ns in &g.namespaces {
                let prefix = format!("{}{}/", g.prefix, ns.namespace);
                let count = keys.keys().filter(|k| k.starts_with(prefix.as_bytes())).count() as u64;
                assert_eq!(ns.keys, count, "{prefix} seed {seed}");
            }
            assert_eq!(g.namespaces.iter().map(|n| n.keys).sum::<u64>(), g.keys, "{} seed {seed}", g.prefix);
        }
        assert!(broken_down <= 3, "only the top three are walked");
        // Ranked by bytes.
        assert!(r.resources.windows(2).all(|w| w[0].bytes >= w[1].bytes));
    }
}

#[test]
fn a_resource_with_more_namespaces_than_walked_counts_the_rest_together() {
    let mut keys = Keyspace::new();
    for ns in 0..50 {
        for name in 0..3 {
            keys.insert(format!("/kubernetes.io/events/ns-{ns:02}/e-{name}").into_bytes(), 1000);
        }
    }
    let walk = run(&keys, WalkOptions { page: 2, breakdown: 1, max_namespaces: 10, max_requests: 10_000 });
    let r = reading(&walk);
    let events = &r.resources[0];
    assert_eq!(events.keys, 150);
    let listed: u64 = events.namespaces.iter().map(|n| n.keys).sum();
    assert!(events.namespaces.len() >= 10 && events.namespaces.len() < 20, "{}", events.namespaces.len());
    assert_eq!(listed + events.other_namespaces_keys.unwrap_or(0), 150);
    assert_eq!(events.bytes, 150 * 1000, "the rest is estimated at the walked namespaces' mean");
}

#[test]
fn a_walk_stopped_by_its_request_budget_says_so_and_keeps_what_it_read() {
    let keys = openshift_like(3);
    let walk = run(&keys, WalkOptions { page: 1, max_requests: 5, ..WalkOptions::default() });
    assert_eq!(walk.requests(), 5);
    let r = reading(&walk);
    assert!(r.partial.as_deref().unwrap_or("").contains("--max-requests"), "{:?}", r.partial);
    assert!(!r.resources.is_empty());
}

#[test]
fn an_empty_keyspace_is_one_request() {
    let walk = run(&Keyspace::new(), WalkOptions::default());
    assert_eq!(walk.requests(), 1);
    assert!(reading(&walk).resources.is_empty());
}

#[test]
fn requests_grow_with_the_resources_not_the_keys() {
    let mut keys = Keyspace::new();
    for n in 0..20_000 {
        keys.insert(format!("/kubernetes.io/events/ns-{}/e-{n}", n % 7).into_bytes(), 500);
    }
    for n in 0..30 {
        keys.insert(format!("/kubernetes.io/example.com/crd{n}s/ns/x").into_bytes(), 800);
    }
    let walk = run(&keys, WalkOptions { page: 8, breakdown: 5, ..WalkOptions::default() });
    // 1 total + events (2) + 30 single-object resources in pages of 8 (4) + 7 namespaces (8).
    assert!(walk.requests() <= 20, "{} requests for 20,030 keys", walk.requests());
    let r = reading(&walk);
    assert_eq!(r.resources[0].resource, "events");
    assert_eq!(r.resources[0].namespaces.len(), 7);
}

#[test]
fn record_bytes_are_the_records_the_snapshot_analysis_counts() {
    // 17 revision bytes + key field (1+1+3) + create (1+1) + mod (1+1) + version (1+1) + value (1+1+5).
    assert_eq!(record_bytes(3, 5, 2, 2, 1, 0), 17 + 5 + 2 + 2 + 2 + 7);
    // A 300-byte value takes a two-byte length; a lease ID a long varint.
    assert_eq!(record_bytes(1, 300, 1, 1, 1, 0x7fff_ffff_ffff_ffff), 17 + 3 + 2 + 2 + 2 + 303 + 10);
    assert_eq!(prefix_end(b"/a/"), b"/a0".to_vec());
    assert_eq!(prefix_end(&[b'a', 0xff]), b"b".to_vec());
    assert_eq!(prefix_end(&[0xff]), Vec::<u8>::new());
}

#[test]
fn a_second_reading_says_what_grew_and_how_fast() {
    let mut keys = Keyspace::new();
    for n in 0..100 {
        keys.insert(format!("/kubernetes.io/events/ns/e-{n:03}").into_bytes(), 1000);
        keys.insert(format!("/kubernetes.io/secrets/ns/s-{n:03}").into_bytes(), 2000);
    }
    let mut before = reading(&run(&keys, WalkOptions::default()));
    before.taken_at = "2026-12-07T10:00:00Z".into();
    for n in 100..140 {
        keys.insert(format!("/kubernetes.io/events/ns/e-{n:03}").into_bytes(), 1000);
    }
    keys.insert(b"/kubernetes.io/example.com/widgets/ns/w".to_vec(), 500);
    let mut now = reading(&run(&keys, WalkOptions::default()));
    now.taken_at = "2026-12-07T10:10:00Z".into();
    now.compare(&before);
    assert_eq!(now.previous.as_ref().map(|p| p.since_seconds), Some(600));
    let events = now.resources.iter().find(|g| g.resource == "events").unwrap_or_else(|| panic!("events"));
    let change = events.change.as_ref().unwrap_or_else(|| panic!("a change"));
    assert_eq!((change.keys_before, events.keys), (100, 140));
    assert_eq!(change.keys_percent.map(|p| p.round()), Some(40.0));
    let growth = now.growth(3, true);
    assert_eq!(growth.first().map(String::as_str), Some("events +40 % in 10m00s (+40 keys, ~39.1 KiB)"), "{growth:?}");
    assert!(growth.iter().any(|g| g.starts_with("new: example.com/widgets 1 keys, ~500 B")), "{growth:?}");
    assert!(!growth.iter().any(|g| g.starts_with("secrets")), "what did not change is not said: {growth:?}");
}
