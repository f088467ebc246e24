//! A backup directory as a restore reads it: the snapshot and the static
//! resources of one backup (`snapshot_<ts>.db`, `static_kuberesources_<ts>.tar.gz`,
//! as cluster-backup.sh writes them), or several side by side as `backup --keep`
//! leaves them, of which one is chosen (`--timestamp`, else the newest complete,
//! clean one of this cluster whose files are what our metadata says was written);
//! the snapshot read end to end, and which cluster and version it is of: from our
//! `backup_<ts>.json` when it is there, else from the ClusterVersion stored in the
//! snapshot itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::snapshot;
use crate::wizard::backup::DIRTY_MARK;
use serde::{Deserialize, Serialize};

/// Where OpenShift keeps ClusterVersion `version` in etcd (custom resources are stored as JSON).
pub const CLUSTER_VERSION_KEY: &str = "/kubernetes.io/config.openshift.io/clusterversions/version";

#[derive(Default)]
struct Pair {
    snapshot: Option<String>,
    resources: Option<String>,
    metadata: Option<String>,
}

/// A newer backup the restore did not take, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PassedOver {
    pub timestamp: String,
    pub why: String,
}

/// What the person asked of a backup directory, and what the survey knows of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Wanted {
    /// `--timestamp TS`: that backup, whatever the others are.
    pub timestamp: Option<String>,
    /// The live cluster's ID, when known: a backup whose metadata names another is passed over.
    pub cluster_id: Option<String>,
    /// A complete backup has its static resources (the standalone procedure; a hosted one takes the snapshot alone).
    pub needs_static: bool,
}

/// The backup directory as the executor found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BackupFacts {
    pub dir: String,
    /// The `<ts>` the snapshot and the static resources share.
    pub timestamp: Option<String>,
    pub snapshot: Option<String>,
    pub static_resources: Option<String>,
    /// Why the files are not one backup (no snapshot, several).
    pub files_problem: Option<String>,
    /// Why the static resources are not the snapshot's (missing, of another backup): only §3.9 needs them.
    pub static_problem: Option<String>,
    /// Whether the snapshot read end to end (None: not read).
    pub verified: Option<bool>,
    /// The snapshot's revision (what a restored member answers at).
    #[serde(default)]
    pub revision: Option<i64>,
    /// What the reading found (hash, revision, keys), or what is wrong.
    pub verification: String,
    /// The OpenShift cluster ID and version the backup is of, and where they were read.
    pub cluster_id: Option<String>,
    pub version: Option<String>,
    pub identity_source: Option<String>,
    /// The chosen backup's files in the directory (snapshot, static resources, our metadata):
    /// the only ones copied to the recovery host.
    #[serde(default)]
    pub files: Vec<String>,
    /// Why this backup of the directory was taken.
    #[serde(default)]
    pub chosen_because: Option<String>,
    /// Newer backups in the directory that were not taken, newest first.
    #[serde(default)]
    pub passed_over: Vec<PassedOver>,
    /// The files are not what our metadata says was written (size, SHA-256).
    #[serde(default)]
    pub integrity_problem: Option<String>,
    /// The backup is marked possibly dirty and was not named with `--timestamp`.
    #[serde(default)]
    pub dirty_problem: Option<String>,
    /// What the person should know of the chosen backup (taken though possibly dirty, readable by others).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The backups of a directory by their `<ts>` (with the possibly-dirty mark, as the names carry it).
fn backups_in(dir: &Path) -> Result<BTreeMap<String, Pair>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read the backup directory {}: {e}", dir.display()))?;
    let mut by_stamp: BTreeMap<String, Pair> = BTreeMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stamp = |prefix: &str, suffix: &str| {
            name.strip_prefix(prefix).and_then(|n| n.strip_suffix(suffix)).map(str::to_string)
        };
        if let Some(ts) = stamp("snapshot_", ".db") {
            by_stamp.entry(ts).or_default().snapshot = Some(name);
        } else if let Some(ts) = stamp("static_kuberesources_", ".tar.gz") {
            by_stamp.entry(ts).or_default().resources = Some(name);
        } else if let Some(ts) = stamp("backup_", ".json") {
            by_stamp.entry(ts).or_default().metadata = Some(name);
        }
    }
    Ok(by_stamp)
}

/// A backup's `<ts>` without the possibly-dirty mark: what `--timestamp` takes and the order of the backups.
pub fn plain_timestamp(stamp: &str) -> &str {
    stamp.strip_suffix(DIRTY_MARK).unwrap_or(stamp)
}

/// Our `backup_<ts>.json`, when there and readable.
fn metadata_of(dir: &Path, pair: &Pair) -> Option<Value> {
    let name = pair.metadata.as_ref()?;
    serde_json::from_str(&std::fs::read_to_string(dir.join(name)).ok()?).ok()
}

/// Err when a file is not what our metadata says was written: its size first (cheap), then its SHA-256.
fn matches_written(dir: &Path, name: &str, bytes: Option<u64>, sha256: Option<&str>) -> Result<(), String> {
    let path = dir.join(name);
    let size = std::fs::metadata(&path).map_err(|e| format!("cannot read {name}: {e}"))?.len();
    if let Some(expected) = bytes.filter(|b| *b != size) {
        return Err(format!("{name} is {size} bytes, its metadata says {expected} were written"));
    }
    if let Some(expected) = sha256.filter(|s| !s.is_empty()) {
        let found = super::sha256_file(&path)?;
        if !found.eq_ignore_ascii_case(expected) {
            return Err(format!("{name} has SHA-256 {found}, its metadata says {expected} was written"));
        }
    }
    Ok(())
}

/// Err when the backup's files are not those its metadata describes (sizes and SHA-256 of both, when given).
fn integrity(dir: &Path, pair: &Pair, metadata: &Value, needs_static: bool) -> Result<(), String> {
    let number = |pointer: &str| metadata.pointer(pointer).and_then(Value::as_u64);
    let text = |pointer: &str| metadata.pointer(pointer).and_then(Value::as_str);
    if let Some(snapshot) = &pair.snapshot {
        matches_written(dir, snapshot, number("/db_size").filter(|n| *n > 0), text("/sha256"))?;
    }
    if let Some(named) = text("/static_resources").filter(|n| !n.is_empty()) {
        match &pair.resources {
            Some(resources) if resources == named => {
                matches_written(dir, resources, number("/static_resources_bytes"), text("/static_resources_sha256"))?
            }
            Some(_) | None if needs_static || pair.resources.is_some() => {
                return Err(format!("its metadata names {named}, which is not there"))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Why the backup is possibly dirty (its names, or its metadata, say so).
fn dirty(stamp: &str, metadata: Option<&Value>) -> Option<String> {
    let because = metadata
        .and_then(|m| m.get("dirty_because"))
        .and_then(Value::as_array)
        .map(|b| b.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "))
        .filter(|b| !b.is_empty());
    let marked = stamp.ends_with(DIRTY_MARK)
        || metadata.and_then(|m| m.get("possibly_dirty")).and_then(Value::as_bool) == Some(true);
    marked.then(|| match because {
        Some(because) => format!("marked possibly dirty ({because})"),
        None => format!("marked possibly dirty ({DIRTY_MARK}: taken with --force)"),
    })
}

/// Why a backup is not one to take when several are there; Ok when it is complete, clean and of this cluster.
fn judge(dir: &Path, stamp: &str, pair: &Pair, wanted: &Wanted) -> Result<(), String> {
    let Some(snapshot) = &pair.snapshot else {
        return Err(format!("incomplete: no snapshot_{stamp}.db"));
    };
    if wanted.needs_static && pair.resources.is_none() {
        return Err(format!("incomplete: {snapshot} has no static_kuberesources_{stamp}.tar.gz"));
    }
    let metadata = metadata_of(dir, pair);
    if let Some(why) = dirty(stamp, metadata.as_ref()) {
        return Err(why);
    }
    let Some(metadata) = metadata else { return Ok(()) };
    if metadata.get("verified").and_then(Value::as_bool) == Some(false) {
        return Err("its metadata says it was not verified".into());
    }
    let theirs = metadata.pointer("/openshift/cluster_id").and_then(Value::as_str);
    if let (Some(theirs), Some(ours)) = (theirs, wanted.cluster_id.as_deref()) {
        if theirs != ours {
            return Err(format!("of another cluster ({theirs}; this cluster is {ours})"));
        }
    }
    integrity(dir, pair, &metadata, wanted.needs_static)
}

/// Which backup of the directory to take: `--timestamp`'s, the only one, or the newest complete, clean one of
/// this cluster (the newer ones passed over, with why). Err: none to take, and why.
fn choose(
    dir: &Path,
    by_stamp: &BTreeMap<String, Pair>,
    wanted: &Wanted,
) -> Result<(String, String, Vec<PassedOver>), String> {
    let with_snapshot: Vec<&String> = by_stamp.iter().filter(|(_, p)| p.snapshot.is_some()).map(|(ts, _)| ts).collect();
    let listed = || with_snapshot.iter().map(|s| plain_timestamp(s)).collect::<Vec<_>>().join(", ");
    if with_snapshot.is_empty() {
        return Err(format!("no snapshot_<ts>.db in {}", dir.display()));
    }
    if let Some(ts) = &wanted.timestamp {
        let found = with_snapshot.iter().find(|s| s.as_str() == ts || plain_timestamp(s) == ts);
        return match found {
            Some(stamp) => Ok(((*stamp).clone(), format!("--timestamp {ts}"), Vec::new())),
            None => {
                Err(format!("--timestamp {ts}: no such backup in {}; the backups there: {}", dir.display(), listed()))
            }
        };
    }
    if let [only] = with_snapshot.as_slice() {
        return Ok(((*only).clone(), format!("the only backup in {}", dir.display()), Vec::new()));
    }
    let mut stamps: Vec<&String> = by_stamp.keys().collect();
    // Newest first; of one second, the clean one before the marked one.
    stamps.sort_by(|a, b| plain_timestamp(b).cmp(plain_timestamp(a)).then(a.len().cmp(&b.len())));
    let mut passed_over = Vec::new();
    for stamp in stamps {
        let Some(pair) = by_stamp.get(stamp) else { continue };
        match judge(dir, stamp, pair, wanted) {
            Ok(()) => {
                let because = if passed_over.is_empty() {
                    format!(
                        "the newest complete, clean backup of this cluster of the {} in {}",
                        with_snapshot.len(),
                        dir.display()
                    )
                } else {
                    format!(
                        "the newest complete, clean backup of this cluster of the {} in {} ({} newer passed over)",
                        with_snapshot.len(),
                        dir.display(),
                        passed_over.len()
                    )
                };
                return Ok((stamp.clone(), because, passed_over));
            }
            Err(why) => passed_over.push(PassedOver { timestamp: plain_timestamp(stamp).to_string(), why }),
        }
    }
    Err(format!(
        "none of the {} backups in {} is complete, clean and of this cluster ({}): name the one to take with --timestamp TS",
        with_snapshot.len(),
        dir.display(),
        passed_over.iter().map(|p| format!("{}: {}", p.timestamp, p.why)).collect::<Vec<_>>().join("; ")
    ))
}

/// The backup in `dir` (of one backup, or the one chosen of several); every problem is in the facts, for the
/// gates to judge.
pub fn inspect(dir: &Path, wanted: &Wanted) -> BackupFacts {
    let mut facts = BackupFacts { dir: dir.display().to_string(), ..BackupFacts::default() };
    let mut by_stamp = match backups_in(dir) {
        Ok(by_stamp) => by_stamp,
        Err(problem) => {
            facts.files_problem = Some(problem);
            return facts;
        }
    };
    let (ts, because, passed_over) = match choose(dir, &by_stamp, wanted) {
        Ok(chosen) => chosen,
        Err(problem) => {
            facts.files_problem = Some(problem);
            return facts;
        }
    };
    facts.chosen_because = Some(because);
    facts.passed_over = passed_over;
    let Some(pair) = by_stamp.remove(&ts) else { return facts };
    facts.files = [&pair.snapshot, &pair.resources, &pair.metadata].into_iter().flatten().cloned().collect();
    facts.timestamp = Some(ts.clone());
    facts.snapshot = pair.snapshot.clone();
    facts.static_resources = pair.resources.clone();
    if pair.resources.is_none() {
        let others: Vec<String> = by_stamp.values().filter_map(|p| p.resources.clone()).collect();
        facts.static_problem = Some(if others.is_empty() {
            format!(
                "static_kuberesources_{ts}.tar.gz is missing: cluster-restore.sh needs the static resources of the same backup (take backups with cluster-backup.sh on a control-plane host)"
            )
        } else {
            format!(
                "the static resources there ({}) are not from the backup of snapshot_{ts}.db: they must be from the same backup",
                others.join(", ")
            )
        });
    }
    let metadata = metadata_of(dir, &pair);
    if let Some(metadata) = &metadata {
        facts.integrity_problem = integrity(dir, &pair, metadata, wanted.needs_static).err();
    }
    if let Some(why) = dirty(&ts, metadata.as_ref()) {
        if wanted.timestamp.is_some() {
            facts.notes.push(format!("{why}: taken because --timestamp names it"));
        } else {
            facts.dirty_problem = Some(format!(
                "{} is {why}: a restore takes a clean backup; to take this one anyway, name it with --timestamp {}",
                pair.snapshot.clone().unwrap_or_default(),
                plain_timestamp(&ts)
            ));
        }
    }
    if let Some(resources) = &pair.resources {
        if let Some(mode) = readable_by_others(&dir.join(resources)) {
            facts.notes.push(format!(
                "{resources} is readable by others (mode {mode:04o}): it holds the encryption configuration, as secret as the keys; chmod 600 it (the copies made of it are 0600)"
            ));
        }
    }

    let snapshot_path = dir.join(format!("snapshot_{ts}.db"));
    let file = snapshot::open(&snapshot_path);
    let mut revision = None;
    let verified = file.as_ref().map_err(ToString::to_string).and_then(|file| {
        snapshot::verify(file).map_err(String::from).map(|(trailer, status)| {
            revision = Some(status.revision);
            format!(
                "revision {}, {} keys, hash {:08x}, {}",
                status.revision,
                status.total_key,
                status.hash,
                match trailer {
                    snapshot::Trailer::Matches => "SHA-256 matches",
                    snapshot::Trailer::Absent => "no SHA-256 (a copy of a data file)",
                }
            )
        })
    });
    facts.verified = Some(verified.is_ok());
    facts.revision = revision;
    facts.verification = verified.unwrap_or_else(|e| e);

    // Which cluster: our metadata first (it was written when the backup was taken), then the snapshot.
    if let Some(name) = &pair.metadata {
        if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
            if let Ok(metadata) = serde_json::from_str::<Value>(&text) {
                facts.cluster_id =
                    metadata.pointer("/openshift/cluster_id").and_then(Value::as_str).map(str::to_string);
                facts.version =
                    metadata.pointer("/openshift/cluster_version").and_then(Value::as_str).map(str::to_string);
                if facts.cluster_id.is_some() || facts.version.is_some() {
                    facts.identity_source = Some(name.clone());
                }
            }
        }
    }
    if facts.cluster_id.is_none() || facts.version.is_none() {
        if let Ok(file) = &file {
            if let Ok(Some(bytes)) = snapshot::latest_value(file, CLUSTER_VERSION_KEY.as_bytes()) {
                if let Ok(object) = serde_json::from_slice::<Value>(&bytes) {
                    let (id, version) = identity(&object);
                    facts.cluster_id = facts.cluster_id.take().or(id);
                    facts.version = facts.version.take().or(version);
                    facts.identity_source = Some(format!("the ClusterVersion inside snapshot_{ts}.db"));
                }
            }
        }
    }
    if facts.identity_source.is_none() {
        facts.identity_source = Some(format!("snapshot_{ts}.db (it holds no ClusterVersion)"));
    }
    facts
}

/// A directory holding only the chosen backup's files, removed when dropped: what is copied to the
/// recovery host, so that no other backup goes with it.
#[derive(Debug)]
pub struct Staged {
    pub path: PathBuf,
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Stages `files` of `dir`: in a new directory (0700) beside them when `dir` may be written, else in the
/// system's temporary directory. A file only its owner reads is linked (no second copy of a large
/// snapshot); any other is copied into a new file written 0600, so that every copy made of the static
/// resources (they hold the encryption configuration) is 0600, and the person's own file is left as it is.
pub fn stage(dir: &Path, files: &[String]) -> Result<Staged, String> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let unique = format!(
        ".etcd-console-copy-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
    );
    let made = |parent: &Path| {
        let path = parent.join(&unique);
        std::fs::DirBuilder::new().mode(0o700).create(&path).map(|()| Staged { path })
    };
    let staged = made(dir)
        .or_else(|_| made(&std::env::temp_dir()))
        .map_err(|e| format!("cannot make a directory to copy the backup's files from: {e}"))?;
    for name in files {
        let from = dir.join(name);
        let to = staged.path.join(name);
        let mode =
            std::fs::metadata(&from).map_err(|e| format!("cannot read {}: {e}", from.display()))?.permissions().mode();
        if mode & 0o077 == 0 && std::fs::hard_link(&from, &to).is_ok() {
            continue;
        }
        let mut source = std::fs::File::open(&from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
        let mut copy = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&to)
            .map_err(|e| format!("cannot write {}: {e}", to.display()))?;
        std::io::copy(&mut source, &mut copy)
            .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))?;
        copy.sync_all().map_err(|e| format!("cannot write {}: {e}", to.display()))?;
    }
    Ok(staged)
}

/// The file's mode when group or others may read it (the static resources archive must be 0600).
fn readable_by_others(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & 0o044 != 0).then_some(mode)
}

/// ClusterVersion's `spec.clusterID` and the newest Completed version of its history.
pub fn identity(cluster_version: &Value) -> (Option<String>, Option<String>) {
    let id = cluster_version.pointer("/spec/clusterID").and_then(Value::as_str).map(str::to_string);
    let version = cluster_version.pointer("/status/history").and_then(Value::as_array).and_then(|history| {
        history
            .iter()
            .find(|entry| entry.get("state").and_then(Value::as_str) == Some("Completed"))
            .and_then(|entry| entry.get("version").and_then(Value::as_str))
            .map(str::to_string)
    });
    (id, version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_must_be_one_backup() {
        let dir = tempfile::tempdir().unwrap();
        let facts = inspect(dir.path(), &standalone());
        assert!(facts.files_problem.unwrap().contains("no snapshot_<ts>.db"));

        std::fs::write(dir.path().join("snapshot_2026-12-02_010203.db"), b"not bbolt").unwrap();
        std::fs::write(dir.path().join("static_kuberesources_2026-12-01_230000.tar.gz"), b"").unwrap();
        let facts = inspect(dir.path(), &standalone());
        assert!(facts.static_problem.unwrap().contains("not from the backup"), "mismatched stamps");
        assert_eq!(facts.verified, Some(false), "a file that is not a database is not verified");

        std::fs::write(dir.path().join("static_kuberesources_2026-12-02_010203.tar.gz"), b"").unwrap();
        let facts = inspect(dir.path(), &standalone());
        assert_eq!(facts.static_problem, None);
        assert!(facts.chosen_because.unwrap().starts_with("the only backup"));
    }

    fn standalone() -> Wanted {
        Wanted { cluster_id: Some("5c1a".into()), needs_static: true, ..Wanted::default() }
    }

    fn hex_sha256(bytes: &[u8]) -> String {
        ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// One backup as `backup` writes it: the snapshot, the static resources and our metadata
    /// (of cluster `cluster`, with both files' sizes and SHA-256).
    fn backup(dir: &Path, stamp: &str, cluster: &str) {
        let snapshot = format!("snapshot data of {stamp}");
        let resources = format!("static resources of {stamp}");
        std::fs::write(dir.join(format!("snapshot_{stamp}.db")), &snapshot).unwrap();
        std::fs::write(dir.join(format!("static_kuberesources_{stamp}.tar.gz")), &resources).unwrap();
        let metadata = serde_json::json!({
            "snapshot": format!("snapshot_{stamp}.db"), "db_size": snapshot.len(), "sha256": hex_sha256(snapshot.as_bytes()),
            "verified": true, "possibly_dirty": stamp.ends_with(DIRTY_MARK), "restore_grade": true,
            "static_resources": format!("static_kuberesources_{stamp}.tar.gz"),
            "static_resources_bytes": resources.len(), "static_resources_sha256": hex_sha256(resources.as_bytes()),
            "openshift": {"cluster_id": cluster, "cluster_version": "4.14.8"}
        });
        std::fs::write(dir.join(format!("backup_{stamp}.json")), metadata.to_string()).unwrap();
    }

    fn passed(facts: &BackupFacts) -> Vec<(String, String)> {
        facts.passed_over.iter().map(|p| (p.timestamp.clone(), p.why.clone())).collect()
    }

    #[test]
    fn of_several_the_newest_complete_clean_backup_of_this_cluster_is_taken_and_the_newer_ones_are_said() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        backup(d, "2026-12-01_010000", "5c1a");
        backup(d, "2026-12-02_010000", "5c1a");
        // Newer, each wrong in its own way.
        backup(d, "2026-12-03_010000", "5c1a");
        std::fs::remove_file(d.join("static_kuberesources_2026-12-03_010000.tar.gz")).unwrap();
        backup(d, &format!("2026-12-04_010000{DIRTY_MARK}"), "5c1a");
        backup(d, "2026-12-05_010000", "00000000-other");
        backup(d, "2026-12-06_010000", "5c1a");
        std::fs::write(
            d.join("static_kuberesources_2026-12-06_010000.tar.gz"),
            b"static resources of 2026-12-06_010001",
        )
        .unwrap();
        backup(d, "2026-12-07_010000", "5c1a");
        let mut metadata: Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("backup_2026-12-07_010000.json")).unwrap()).unwrap();
        metadata["verified"] = Value::Bool(false);
        std::fs::write(d.join("backup_2026-12-07_010000.json"), metadata.to_string()).unwrap();
        // Only the metadata of a backup whose files are gone.
        std::fs::write(d.join("backup_2026-12-08_010000.json"), "{}").unwrap();

        let facts = inspect(d, &standalone());
        assert_eq!(facts.files_problem, None);
        assert_eq!(facts.timestamp.as_deref(), Some("2026-12-02_010000"));
        assert_eq!(
            facts.files,
            vec![
                "snapshot_2026-12-02_010000.db".to_string(),
                "static_kuberesources_2026-12-02_010000.tar.gz".into(),
                "backup_2026-12-02_010000.json".into()
            ],
            "only its files"
        );
        assert!(facts.chosen_because.as_deref().unwrap().contains("newest complete, clean backup of this cluster"));
        let passed = passed(&facts);
        let stamps: Vec<&str> = passed.iter().map(|(ts, _)| ts.as_str()).collect();
        assert_eq!(
            stamps,
            [
                "2026-12-08_010000",
                "2026-12-07_010000",
                "2026-12-06_010000",
                "2026-12-05_010000",
                "2026-12-04_010000",
                "2026-12-03_010000"
            ]
        );
        let why = |ts: &str| passed.iter().find(|(t, _)| t == ts).map(|(_, w)| w.clone()).unwrap();
        assert!(why("2026-12-08_010000").contains("no snapshot"), "{passed:?}");
        assert!(why("2026-12-07_010000").contains("not verified"), "{passed:?}");
        assert!(why("2026-12-06_010000").contains("SHA-256"), "a bad hash: {passed:?}");
        assert!(why("2026-12-05_010000").contains("another cluster (00000000-other"), "{passed:?}");
        assert!(why("2026-12-04_010000").contains("possibly dirty"), "{passed:?}");
        assert!(why("2026-12-03_010000").contains("no static_kuberesources_2026-12-03_010000.tar.gz"), "{passed:?}");
        assert_eq!(facts.integrity_problem, None);
        assert_eq!(facts.dirty_problem, None);

        // A hosted restore takes the snapshot alone: the incomplete one would do, if it were the newest good one.
        let hosted = inspect(d, &Wanted { needs_static: false, ..standalone() });
        assert_eq!(hosted.timestamp.as_deref(), Some("2026-12-03_010000"));

        // A size that differs is caught before any hashing.
        std::fs::write(d.join("snapshot_2026-12-02_010000.db"), b"short").unwrap();
        let facts = inspect(d, &standalone());
        assert_eq!(facts.timestamp.as_deref(), Some("2026-12-01_010000"));
        assert!(why_of(&facts, "2026-12-02_010000").contains("5 bytes, its metadata says"), "{:?}", facts.passed_over);
    }

    fn why_of(facts: &BackupFacts, ts: &str) -> String {
        facts.passed_over.iter().find(|p| p.timestamp == ts).map(|p| p.why.clone()).unwrap_or_default()
    }

    #[test]
    fn a_timestamp_takes_that_backup_and_one_that_is_not_there_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        backup(d, "2026-12-01_010000", "5c1a");
        backup(d, &format!("2026-12-02_010000{DIRTY_MARK}"), "5c1a");
        backup(d, "2026-12-03_010000", "5c1a");

        let older = inspect(d, &Wanted { timestamp: Some("2026-12-01_010000".into()), ..standalone() });
        assert_eq!(older.timestamp.as_deref(), Some("2026-12-01_010000"));
        assert_eq!(older.chosen_because.as_deref(), Some("--timestamp 2026-12-01_010000"));
        assert!(older.passed_over.is_empty());

        // A possibly dirty one is taken when named (without its mark), and said so.
        let dirty = inspect(d, &Wanted { timestamp: Some("2026-12-02_010000".into()), ..standalone() });
        assert_eq!(dirty.snapshot, Some(format!("snapshot_2026-12-02_010000{DIRTY_MARK}.db")));
        assert_eq!(dirty.dirty_problem, None);
        assert!(
            dirty.notes.iter().any(|n| n.contains("possibly dirty") && n.contains("--timestamp")),
            "{:?}",
            dirty.notes
        );

        let missing = inspect(d, &Wanted { timestamp: Some("2026-11-30_000000".into()), ..standalone() });
        let problem = missing.files_problem.unwrap();
        assert!(problem.starts_with("--timestamp 2026-11-30_000000: no such backup"), "{problem}");
        assert!(problem.contains("2026-12-01_010000, 2026-12-02_010000, 2026-12-03_010000"), "{problem}");
        assert!(missing.files.is_empty(), "nothing to copy");
    }

    #[test]
    fn a_single_backup_goes_to_the_gates_and_none_good_of_several_is_refused_with_why() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        backup(d, &format!("2026-12-02_010000{DIRTY_MARK}"), "5c1a");
        let only = inspect(d, &standalone());
        assert!(only.dirty_problem.unwrap().contains("--timestamp 2026-12-02_010000"), "the way to take it anyway");

        std::fs::write(d.join(format!("static_kuberesources_2026-12-02_010000{DIRTY_MARK}.tar.gz")), b"changed")
            .unwrap();
        let only = inspect(d, &Wanted { timestamp: Some("2026-12-02_010000".into()), ..standalone() });
        assert!(
            only.integrity_problem.unwrap().contains("bytes, its metadata says"),
            "a named backup is still checked"
        );

        backup(d, "2026-12-03_010000", "00000000-other");
        let none = inspect(d, &standalone());
        let problem = none.files_problem.unwrap();
        assert!(problem.starts_with("none of the 2 backups"), "{problem}");
        assert!(problem.contains("another cluster") && problem.contains("possibly dirty"), "{problem}");
        assert!(problem.contains("--timestamp TS"), "{problem}");
    }

    #[test]
    fn staged_are_only_the_chosen_files_and_every_copy_is_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        backup(d, "2026-12-01_010000", "5c1a");
        backup(d, "2026-12-02_010000", "5c1a");
        let archive = d.join("static_kuberesources_2026-12-02_010000.tar.gz");
        std::fs::set_permissions(&archive, std::fs::Permissions::from_mode(0o644)).unwrap();
        let facts = inspect(d, &standalone());
        assert!(facts.notes.iter().any(|n| n.contains("readable by others (mode 0644)")), "{:?}", facts.notes);
        let staged = stage(d, &facts.files).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&staged.path)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "backup_2026-12-02_010000.json",
                "snapshot_2026-12-02_010000.db",
                "static_kuberesources_2026-12-02_010000.tar.gz"
            ]
        );
        let mode = std::fs::metadata(staged.path.join("static_kuberesources_2026-12-02_010000.tar.gz"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(&archive).unwrap().permissions().mode() & 0o777,
            0o644,
            "the person's file is left as it is"
        );
        let path = staged.path.clone();
        drop(staged);
        assert!(!path.exists(), "the staging directory goes");
        assert_eq!(inspect(d, &standalone()).timestamp.as_deref(), Some("2026-12-02_010000"));
    }

    #[test]
    fn identity_is_the_cluster_id_and_the_newest_completed_version() {
        let object = serde_json::json!({
            "spec": {"clusterID": "5c1a"},
            "status": {"history": [
                {"state": "Partial", "version": "4.14.9"},
                {"state": "Completed", "version": "4.14.8"},
                {"state": "Completed", "version": "4.13.30"}
            ]}
        });
        assert_eq!(identity(&object), (Some("5c1a".into()), Some("4.14.8".into())));
    }
}
