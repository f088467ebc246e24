//! What fills etcd, read from a snapshot without etcd: live keys and bytes per
//! Kubernetes resource and namespace, the largest objects, the bytes old
//! revisions hold until a compaction, and what each lease holds.
//!
//! etcd's `key` bucket holds every revision not yet compacted, ordered by
//! revision (not by key): a record's bbolt key is the main revision (8 bytes
//! big-endian), `_`, the sub revision (8 bytes), and `t` for a tombstone; its
//! value is a protobuf `mvccpb.KeyValue`. A key is live when its newest record
//! is not a tombstone. Deciding that needs to know, for each record, whether a
//! newer one of the same key follows; so the bucket is streamed twice: the
//! first pass keeps, per key, only a 64-bit hash of its name and the ordinal
//! of its newest record (tombstone bit on top); the second aggregates.
//!
//! Memory: one `u64 -> u64` entry per distinct key name in the bucket (live,
//! or deleted and not yet compacted), about 16-40 bytes each with the hash
//! table's slack, plus one counter per resource, per namespace and per lease,
//! and the largest objects; never the keys or values themselves (pages are
//! read one at a time by the bbolt reader). Two distinct names with the same
//! 64-bit hash (odds about n²/2⁶⁵: 3·10⁻⁸ for a million keys) would count the
//! older one's newest record as history.
//!
//! "Bytes" are what the record takes in the bucket: its bbolt key (the 17 or
//! 18 revision bytes) plus its bbolt value (the encoded `KeyValue`: key name,
//! value, revisions, lease). So `live_bytes + history_bytes (+ skipped.bytes)`
//! is the key bucket's total, and `value_bytes` is the values alone (what
//! `etcdctl get` returns).

use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use serde::Serialize;

use super::bbolt::{Db, Entry};
use super::snapshot::{KeyValue, SnapshotFile};
use super::SnapshotError;

/// How many of the largest live objects are reported.
pub const LARGEST: usize = 10;
/// How many leases (those holding the most bytes) are reported one by one.
pub const LEASES: usize = 10;
/// How many reasons for skipped records are kept (the count is always whole).
const REASONS: usize = 5;
const TOMBSTONE: u64 = 1 << 63;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Analysis {
    /// Live keys (what `etcdctl get "" --prefix --count-only` counts).
    pub total_keys: u64,
    pub live_bytes: u64,
    pub history_bytes: u64,
    /// Records in the key bucket: every revision not yet compacted, tombstones included.
    pub revisions: u64,
    /// The values of the live keys alone.
    pub value_bytes: u64,
    /// The key bucket's total (`live_bytes + history_bytes + skipped.bytes`).
    pub key_bucket_bytes: u64,
    /// The newest main revision in the key bucket.
    pub revision: i64,
    /// The revision the last finished compaction kept (etcd's `meta` bucket), if any.
    pub compact_revision: Option<i64>,
    /// Ranked by `bytes + history_bytes`, the most first.
    pub resources: Vec<ResourceUsage>,
    /// The largest live objects, the largest first.
    pub largest: Vec<LargeObject>,
    pub leases: LeaseUsage,
    pub skipped: Skipped,
    /// Why the walk stopped before the end (a damaged page): the figures cover what came before.
    pub partial: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceUsage {
    /// The key prefix that groups it, e.g. `/kubernetes.io/events/`.
    pub prefix: String,
    /// `events`, `example.com/widgets` for a custom resource, or the first path segment outside Kubernetes.
    pub resource: String,
    pub keys: u64,
    pub bytes: u64,
    pub value_bytes: u64,
    pub history_bytes: u64,
    pub history_revisions: u64,
    /// Empty for cluster-scoped resources and keys outside Kubernetes; ranked by bytes.
    pub namespaces: Vec<NamespaceUsage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceUsage {
    pub namespace: String,
    pub keys: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, PartialOrd, Ord)]
pub struct LargeObject {
    pub bytes: u64,
    pub key: String,
    pub value_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct LeaseUsage {
    /// Leases in the `lease` bucket.
    pub count: u64,
    /// Live keys attached to a lease, and their bytes.
    pub keys: u64,
    pub bytes: u64,
    /// The leases holding the most bytes.
    pub top: Vec<LeaseHold>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseHold {
    /// The lease ID in hex, as `etcdctl lease list` prints it.
    pub id: String,
    /// Its granted TTL; None when the lease is not in the lease bucket (revoked, not yet compacted).
    pub ttl_seconds: Option<i64>,
    pub keys: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Skipped {
    /// Records of the key bucket that could not be read (not a revision, not a `KeyValue`).
    pub records: u64,
    pub bytes: u64,
    /// The first few reasons.
    pub reasons: Vec<String>,
}

impl Analysis {
    /// Whether everything was read: nothing skipped, the walk reached the end.
    pub fn is_complete(&self) -> bool {
        self.skipped.records == 0 && self.partial.is_none()
    }
}

/// Where a key belongs: its resource, the prefix that groups it, its namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place<'k> {
    pub prefix: &'k [u8],
    pub resource: &'k [u8],
    pub namespace: Option<&'k [u8]>,
}

/// Kubernetes stores an object at `/kubernetes.io/<resource>/<namespace>/<name>`
/// when it is namespaced and `/kubernetes.io/<resource>/<name>` when it is
/// cluster-scoped (OpenShift's API servers use `/kubernetes.io/` and
/// `/openshift.io/` where upstream uses `/registry/`, which is read the same
/// way). Names hold no `/`, so a key with one segment after the resource is
/// cluster-scoped, and with two or more the namespace is the one before the
/// name (`services/specs/<ns>/<name>` too). A segment with a dot after the
/// root is an API group (custom resources: `/kubernetes.io/<group>/<plural>/`):
/// the resource is `<group>/<plural>`. Any other key goes by its first path
/// segment (`/lab/fill/1` -> `lab`, prefix `/lab/`); a key with no `/` after
/// its first character has resource and prefix "".
pub fn place(key: &[u8]) -> Place<'_> {
    const ROOTS: [&[u8]; 3] = [b"/kubernetes.io/", b"/openshift.io/", b"/registry/"];
    let none = Place { prefix: b"", resource: b"", namespace: None };
    if let Some(root) = ROOTS.iter().find(|root| key.starts_with(root)) {
        let rest = &key[root.len()..];
        let mut segments = rest.split(|b| *b == b'/');
        let first = segments.next().unwrap_or_default();
        let mut resource_len = first.len();
        if first.contains(&b'.') {
            if let Some(plural) = rest.get(first.len() + 1..).and_then(|r| r.split(|b| *b == b'/').next()) {
                resource_len = first.len() + 1 + plural.len();
            }
        }
        let resource = &rest[..resource_len];
        if resource.is_empty() {
            return none;
        }
        let prefix_len = (root.len() + resource_len + 1).min(key.len());
        // The segment before the name, when there is one (no allocation: this runs for every record).
        let after = rest.get(resource_len + 1..).unwrap_or_default();
        let namespace = after.iter().rposition(|b| *b == b'/').map(|last| {
            let before = &after[..last];
            before.iter().rposition(|b| *b == b'/').map_or(before, |at| &before[at + 1..])
        });
        return Place { prefix: &key[..prefix_len], resource, namespace };
    }
    let start = usize::from(key.first() == Some(&b'/'));
    match key.get(start..).and_then(|rest| rest.iter().position(|b| *b == b'/')) {
        Some(at) if at > 0 => {
            Place { prefix: &key[..start + at + 1], resource: &key[start..start + at], namespace: None }
        }
        _ => none,
    }
}

/// The hash of a key name that stands for it in the first pass.
fn name_hash(name: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut hasher);
    hasher.finish()
}

/// The map's keys are already hashes: they are used as they are.
#[derive(Default)]
struct AsIs(u64);

impl Hasher for AsIs {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 << 8) | u64::from(*byte);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type Newest = HashMap<u64, u64, BuildHasherDefault<AsIs>>;

/// A record of the key bucket, read: its user key, whether it is a tombstone, its main revision.
fn read_record<'v>(revision_key: &[u8], value: &'v [u8]) -> Result<(KeyValue<'v>, bool, i64), String> {
    if revision_key.len() < 17 || revision_key[8] != b'_' {
        return Err(format!("a record whose key is not a revision ({} bytes)", revision_key.len()));
    }
    let main = revision_key.get(..8).and_then(|b| b.try_into().ok()).map(i64::from_be_bytes).unwrap_or_default();
    let tombstone = revision_key.get(17) == Some(&b't');
    let record = KeyValue::decode(value).map_err(|e| format!("revision {main}: {e}"))?;
    Ok((record, tombstone, main))
}

/// The first pass: each key's newest record.
#[derive(Default)]
pub struct NewestRecords {
    newest: Newest,
    ordinal: u64,
}

impl NewestRecords {
    pub fn record(&mut self, revision_key: &[u8], value: &[u8]) {
        if let Ok((record, tombstone, _)) = read_record(revision_key, value) {
            let mark = if tombstone { TOMBSTONE } else { 0 };
            self.newest.insert(name_hash(record.key), self.ordinal | mark);
        }
        self.ordinal += 1;
    }
}

#[derive(Default)]
struct ResourceTotals {
    prefix: Vec<u8>,
    keys: u64,
    bytes: u64,
    value_bytes: u64,
    history_bytes: u64,
    history_revisions: u64,
    namespaces: HashMap<Vec<u8>, (u64, u64)>,
}

/// The second pass: every record counted where it belongs.
pub struct Tally {
    newest: Newest,
    ordinal: u64,
    analysis: Analysis,
    resources: HashMap<Vec<u8>, ResourceTotals>,
    largest: BinaryHeap<std::cmp::Reverse<LargeObject>>,
    lease_ttls: HashMap<i64, i64>,
    lease_holds: HashMap<i64, (u64, u64)>,
}

impl Tally {
    pub fn new(first: NewestRecords) -> Tally {
        Tally {
            newest: first.newest,
            ordinal: 0,
            analysis: Analysis {
                total_keys: 0,
                live_bytes: 0,
                history_bytes: 0,
                revisions: 0,
                value_bytes: 0,
                key_bucket_bytes: 0,
                revision: 0,
                compact_revision: None,
                resources: Vec::new(),
                largest: Vec::new(),
                leases: LeaseUsage::default(),
                skipped: Skipped::default(),
                partial: None,
            },
            resources: HashMap::new(),
            largest: BinaryHeap::new(),
            lease_ttls: HashMap::new(),
            lease_holds: HashMap::new(),
        }
    }

    /// A record of the `key` bucket, in the same order as the first pass saw it.
    pub fn record(&mut self, revision_key: &[u8], value: &[u8]) {
        let ordinal = self.ordinal;
        self.ordinal += 1;
        let bytes = (revision_key.len() + value.len()) as u64;
        let a = &mut self.analysis;
        a.key_bucket_bytes += bytes;
        let (record, main) = match read_record(revision_key, value) {
            Ok((record, _, main)) => (record, main),
            Err(reason) => {
                a.skipped.records += 1;
                a.skipped.bytes += bytes;
                if a.skipped.reasons.len() < REASONS {
                    a.skipped.reasons.push(reason);
                }
                return;
            }
        };
        a.revisions += 1;
        a.revision = a.revision.max(main);
        let live = self.newest.get(&name_hash(record.key)) == Some(&ordinal);
        let place = place(record.key);
        let totals = match self.resources.get_mut(place.resource) {
            Some(totals) => totals,
            None => self
                .resources
                .entry(place.resource.to_vec())
                .or_insert_with(|| ResourceTotals { prefix: place.prefix.to_vec(), ..ResourceTotals::default() }),
        };
        if !live {
            a.history_bytes += bytes;
            totals.history_bytes += bytes;
            totals.history_revisions += 1;
            return;
        }
        a.total_keys += 1;
        a.live_bytes += bytes;
        a.value_bytes += record.value.len() as u64;
        totals.keys += 1;
        totals.bytes += bytes;
        totals.value_bytes += record.value.len() as u64;
        if let Some(namespace) = place.namespace {
            let counts = match totals.namespaces.get_mut(namespace) {
                Some(counts) => counts,
                None => totals.namespaces.entry(namespace.to_vec()).or_default(),
            };
            counts.0 += 1;
            counts.1 += bytes;
        }
        if record.lease != 0 {
            let hold = self.lease_holds.entry(record.lease).or_default();
            hold.0 += 1;
            hold.1 += bytes;
            a.leases.keys += 1;
            a.leases.bytes += bytes;
        }
        let smallest_kept = self.largest.peek().map(|o| o.0.bytes).unwrap_or_default();
        if self.largest.len() < LARGEST || bytes > smallest_kept {
            let key = String::from_utf8_lossy(record.key).into_owned();
            self.largest.push(std::cmp::Reverse(LargeObject { bytes, key, value_bytes: record.value.len() as u64 }));
            if self.largest.len() > LARGEST {
                self.largest.pop();
            }
        }
    }

    /// A lease of the `lease` bucket (a protobuf `leasepb.Lease`: ID field 1, TTL field 2).
    pub fn lease(&mut self, id_key: &[u8], value: &[u8]) {
        self.analysis.leases.count += 1;
        let id = id_key.get(..8).and_then(|b| b.try_into().ok()).map(i64::from_be_bytes);
        if let (Some(id), Some(ttl)) = (id, lease_ttl(value)) {
            self.lease_ttls.insert(id, ttl);
        }
    }

    /// etcd's `meta` bucket: `finishedCompactRev` holds the revision the last compaction kept.
    pub fn meta(&mut self, key: &[u8], value: &[u8]) {
        if key == b"finishedCompactRev" {
            self.analysis.compact_revision = value.get(..8).and_then(|b| b.try_into().ok()).map(i64::from_be_bytes);
        }
    }

    pub fn finish(mut self, partial: Option<String>) -> Analysis {
        let mut resources: Vec<ResourceUsage> = self
            .resources
            .into_iter()
            .map(|(resource, totals)| {
                let mut namespaces: Vec<NamespaceUsage> = totals
                    .namespaces
                    .into_iter()
                    .map(|(namespace, (keys, bytes))| NamespaceUsage {
                        namespace: String::from_utf8_lossy(&namespace).into_owned(),
                        keys,
                        bytes,
                    })
                    .collect();
                namespaces.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.namespace.cmp(&b.namespace)));
                ResourceUsage {
                    prefix: String::from_utf8_lossy(&totals.prefix).into_owned(),
                    resource: String::from_utf8_lossy(&resource).into_owned(),
                    keys: totals.keys,
                    bytes: totals.bytes,
                    value_bytes: totals.value_bytes,
                    history_bytes: totals.history_bytes,
                    history_revisions: totals.history_revisions,
                    namespaces,
                }
            })
            .collect();
        resources.sort_by(|a, b| {
            (b.bytes + b.history_bytes).cmp(&(a.bytes + a.history_bytes)).then_with(|| a.prefix.cmp(&b.prefix))
        });
        self.analysis.resources = resources;
        let mut largest: Vec<LargeObject> = self.largest.into_iter().map(|o| o.0).collect();
        largest.sort_by(|a, b| b.cmp(a));
        self.analysis.largest = largest;
        let mut top: Vec<LeaseHold> = self
            .lease_holds
            .into_iter()
            .map(|(id, (keys, bytes))| LeaseHold {
                id: format!("{id:x}"),
                ttl_seconds: self.lease_ttls.get(&id).copied(),
                keys,
                bytes,
            })
            .collect();
        top.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.id.cmp(&b.id)));
        top.truncate(LEASES);
        self.analysis.leases.top = top;
        self.analysis.partial = partial;
        self.analysis
    }
}

/// The TTL (field 2) of a `leasepb.Lease`, when the record reads.
fn lease_ttl(mut bytes: &[u8]) -> Option<i64> {
    fn varint(bytes: &mut &[u8]) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = bytes.split_first()?;
            *bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    while !bytes.is_empty() {
        let tag = varint(&mut bytes)?;
        match tag & 7 {
            0 => {
                let number = varint(&mut bytes)?;
                if tag >> 3 == 2 {
                    return Some(number as i64);
                }
            }
            2 => {
                let len = usize::try_from(varint(&mut bytes)?).ok()?;
                bytes = bytes.get(len..)?;
            }
            _ => return None,
        }
    }
    None
}

/// Streams the snapshot's buckets twice (see the module's comment). A file
/// that is not a bbolt database is an error; a page that breaks the walk ends
/// it, and the analysis says so in `partial`; records that do not read are
/// counted in `skipped`.
pub fn analyze(snapshot: &SnapshotFile) -> Result<Analysis, SnapshotError> {
    if snapshot.is_empty() {
        return Err(SnapshotError::Empty);
    }
    let database = snapshot.database();
    let db = Db::open(&database)?;
    let mut first = NewestRecords::default();
    let stopped = db.for_each(&mut |entry| {
        if let Entry::Item { bucket: b"key", key, value } = entry {
            first.record(key, value);
        }
        Ok(())
    });
    let mut tally = Tally::new(first);
    let again = db.for_each(&mut |entry| {
        if let Entry::Item { bucket, key, value } = entry {
            match bucket {
                b"key" => tally.record(key, value),
                b"lease" => tally.lease(key, value),
                b"meta" => tally.meta(key, value),
                _ => {}
            }
        }
        Ok(())
    });
    Ok(tally.finish(stopped.or(again).err().map(|e| e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place_of(key: &str) -> (String, String, Option<String>) {
        let p = place(key.as_bytes());
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (text(p.prefix), text(p.resource), p.namespace.map(text))
    }

    #[test]
    fn a_key_belongs_to_its_resource_and_namespace() {
        let own = |a: &str, b: &str, c: Option<&str>| (a.to_string(), b.to_string(), c.map(str::to_string));
        assert_eq!(place_of("/kubernetes.io/events/ns/e1"), own("/kubernetes.io/events/", "events", Some("ns")));
        assert_eq!(place_of("/kubernetes.io/namespaces/ns"), own("/kubernetes.io/namespaces/", "namespaces", None));
        assert_eq!(
            place_of("/kubernetes.io/example.com/widgets/op/w1"),
            own("/kubernetes.io/example.com/widgets/", "example.com/widgets", Some("op"))
        );
        assert_eq!(
            place_of("/kubernetes.io/config.openshift.io/clusterversions/version"),
            own("/kubernetes.io/config.openshift.io/clusterversions/", "config.openshift.io/clusterversions", None)
        );
        assert_eq!(
            place_of("/kubernetes.io/services/specs/default/kubernetes"),
            own("/kubernetes.io/services/", "services", Some("default"))
        );
        assert_eq!(place_of("/openshift.io/routes/ns/r"), own("/openshift.io/routes/", "routes", Some("ns")));
        assert_eq!(place_of("/lab/fill/000001"), own("/lab/", "lab", None));
        assert_eq!(place_of("plain"), own("", "", None));
        assert_eq!(place_of("/"), own("", "", None));
        assert_eq!(place_of("/kubernetes.io/"), own("", "", None));
        assert_eq!(place_of("/kubernetes.io/events"), own("/kubernetes.io/events", "events", None));
    }

    fn encode(key: &str, value: &[u8], lease: i64) -> Vec<u8> {
        let mut out = vec![0x0a, key.len() as u8];
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&[0x2a, value.len() as u8]);
        out.extend_from_slice(value);
        if lease != 0 {
            out.extend_from_slice(&[0x30, lease as u8]);
        }
        out
    }

    fn revision(main: i64, tombstone: bool) -> Vec<u8> {
        let mut out = main.to_be_bytes().to_vec();
        out.push(b'_');
        out.extend_from_slice(&0i64.to_be_bytes());
        if tombstone {
            out.push(b't');
        }
        out
    }

    #[test]
    fn the_newest_record_is_live_the_rest_history_and_bad_records_are_skipped() {
        let records: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (revision(2, false), encode("/kubernetes.io/configmaps/ns/cm", b"one", 0)),
            (revision(3, false), encode("/kubernetes.io/configmaps/ns/cm", b"two!", 0)),
            (revision(4, false), encode("/kubernetes.io/events/ns/e", b"an event, longer than the configmap", 5)),
            (revision(5, false), encode("/kubernetes.io/events/ns/gone", b"x", 0)),
            (revision(6, true), encode("/kubernetes.io/events/ns/gone", b"", 0)),
            (b"junk".to_vec(), b"whatever".to_vec()),
            (revision(7, false), vec![0x0a, 0x7f, b'x']),
        ];
        let mut first = NewestRecords::default();
        for (key, value) in &records {
            first.record(key, value);
        }
        let mut tally = Tally::new(first);
        for (key, value) in &records {
            tally.record(key, value);
        }
        tally.lease(&5i64.to_be_bytes(), &[0x08, 0x05, 0x10, 0x3c]);
        let analysis = tally.finish(None);
        let total: u64 = records.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum();
        assert_eq!(analysis.key_bucket_bytes, total);
        assert_eq!(analysis.live_bytes + analysis.history_bytes + analysis.skipped.bytes, total);
        assert_eq!((analysis.total_keys, analysis.revisions, analysis.revision), (2, 5, 6));
        assert_eq!(analysis.value_bytes, 4 + 35);
        assert_eq!(analysis.skipped.records, 2);
        assert!(analysis.skipped.reasons[0].contains("not a revision"), "{:?}", analysis.skipped);
        assert!(analysis.skipped.reasons[1].contains("revision 7"), "{:?}", analysis.skipped);
        assert!(!analysis.is_complete());
        let configmaps = analysis.resources.iter().find(|r| r.resource == "configmaps").unwrap();
        assert_eq!((configmaps.keys, configmaps.history_revisions), (1, 1));
        let events = analysis.resources.iter().find(|r| r.resource == "events").unwrap();
        assert_eq!((events.keys, events.history_revisions, events.prefix.as_str()), (1, 2, "/kubernetes.io/events/"));
        assert_eq!(events.namespaces, vec![NamespaceUsage { namespace: "ns".into(), keys: 1, bytes: events.bytes }]);
        assert_eq!(analysis.largest[0].key, "/kubernetes.io/events/ns/e");
        assert_eq!(analysis.largest.len(), 2);
        assert_eq!(analysis.leases.count, 1);
        assert_eq!(
            analysis.leases.top,
            vec![LeaseHold { id: "5".into(), ttl_seconds: Some(60), keys: 1, bytes: events.bytes }]
        );
    }
}
