//! The backup's files: created new (never over an existing one), mode 0600,
//! fsynced with their directory; older backups found by their metadata.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Existing, Metadata};

/// The part files this process made, each locked (flock) until it is published or removed, or
/// the process ends: a later run tells a part a killed run left (its lock gone with it) from one a
/// run still going is writing or about to publish.
static HELD_PARTS: Mutex<Vec<(PathBuf, File)>> = Mutex::new(Vec::new());

/// A new file, readable by its owner only; Err when one is already there.
pub fn create_new(path: &Path) -> Result<File, String> {
    OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!("{} already exists: it is never overwritten", path.display()),
        _ => format!("cannot create {}: {e}", path.display()),
    })
}

/// A new part file (0600), locked until [`remove_part`] (or the process ends).
pub fn create_part(path: &Path) -> Result<File, String> {
    let file = create_new(path)?;
    let lock = file.try_clone().and_then(|f| f.try_lock().map(|()| f).map_err(std::io::Error::from));
    match lock {
        Ok(lock) => {
            if let Ok(mut held) = HELD_PARTS.lock() {
                held.push((path.to_path_buf(), lock));
            }
            Ok(file)
        }
        Err(e) => {
            let _ = fs::remove_file(path);
            Err(format!("cannot lock {}: {e}", path.display()))
        }
    }
}

/// Removes a part file (its name; the data stays under a final name it was linked to) and lets go
/// of its lock, so that the space of a backup removed later is given back in a long session.
pub fn remove_part(path: &Path) {
    let _ = fs::remove_file(path);
    if let Ok(mut held) = HELD_PARTS.lock() {
        held.retain(|(part, _)| part != path);
    }
}

/// Removes the part files (`snapshot_*.db.part`, `static_kuberesources_*.tar.gz.part`) that runs
/// killed before their clean-up left in `dir`: those no living process holds locked; with a
/// snapshot's part, the metadata and archive of a publish it did not finish. Their paths.
pub fn remove_stale_parts(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with("snapshot_") || name.starts_with("static_kuberesources_");
        if !(ours && name.ends_with(".part")) {
            continue;
        }
        let path = entry.path();
        let Ok(file) = File::open(&path) else { continue };
        // Held while removed: a run cannot take it up in between.
        if !(file.try_lock().is_ok() && fs::remove_file(&path).is_ok()) {
            continue;
        }
        removed.push(path);
        // Killed while it published (the metadata and the archive go first, the snapshot last):
        // without the snapshot at its name, what went before is no verified backup.
        let Some(stem) = name.strip_prefix("snapshot_").and_then(|n| n.strip_suffix(".db.part")) else { continue };
        if !dir.join(format!("snapshot_{stem}.db")).exists() {
            for unfinished in [format!("backup_{stem}.json"), format!("static_kuberesources_{stem}.tar.gz")] {
                if fs::remove_file(dir.join(&unfinished)).is_ok() {
                    removed.push(dir.join(unfinished));
                }
            }
        }
    }
    removed
}

/// Makes the directory (0700 when new) and checks it can be written.
pub fn prepare_dir(dir: &Path) -> Result<(), String> {
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let probe = dir.join(format!(".etcd-console-probe-{}", std::process::id()));
    create_new(&probe).map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

pub fn sync_dir(dir: &Path) -> Result<(), String> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| format!("cannot sync {}: {e}", dir.display()))
}

/// Writes `bytes` to a new 0600 file and syncs it.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut file = create_new(path)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = fs::remove_file(path);
        return Err(format!("cannot write {}: {e}", path.display()));
    }
    Ok(())
}

/// Puts the snapshot (and a restore-grade backup's archive) at its final name without
/// overwriting (a hard link, then the part removed), after its metadata; nothing stays at any
/// final name on failure. Ok carries notes (a directory that could not be synced: the files
/// are in place and complete, only their names may not have reached the disk).
pub fn publish(
    part: &Path,
    snapshot: &Path,
    archive: Option<&(PathBuf, PathBuf)>,
    metadata_path: &Path,
    metadata: &Metadata,
) -> Result<Vec<String>, String> {
    let text = serde_json::to_string_pretty(metadata).map_err(|e| format!("cannot encode the metadata: {e}"))?;
    write_new(metadata_path, format!("{text}\n").as_bytes())?;
    let link = |from: &Path, to: &Path, what: &str| {
        fs::hard_link(from, to).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => format!("{} already exists: it is never overwritten", to.display()),
            _ => format!("cannot put the {what} at {}: {e}", to.display()),
        })
    };
    if let Some((archive_part, archive)) = archive {
        if let Err(e) = link(archive_part, archive, "static resources archive") {
            let _ = fs::remove_file(metadata_path);
            return Err(e);
        }
    }
    if let Err(e) = link(part, snapshot, "snapshot") {
        if let Some((_, archive)) = archive {
            let _ = fs::remove_file(archive);
        }
        let _ = fs::remove_file(metadata_path);
        return Err(e);
    }
    remove_part(part);
    if let Some((archive_part, _)) = archive {
        remove_part(archive_part);
    }
    let mut notes = Vec::new();
    if let Some(Err(e)) = snapshot.parent().map(sync_dir) {
        notes.push(format!("{e}: a crash in the next seconds could lose the new names"));
    }
    Ok(notes)
}

/// Reads a key file back: it is there and holds the `count` secrets written.
pub fn read_back_keys(path: &Path, count: usize) -> Result<(), String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{} cannot be read back: {e}", path.display()))?;
    let list: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{} does not read back as JSON: {e}", path.display()))?;
    let found = list.get("items").and_then(serde_json::Value::as_array).map(Vec::len);
    if found != Some(count) {
        return Err(format!("{} holds {found:?} secrets, {count} were written", path.display()));
    }
    Ok(())
}

/// The backups in `dir`, by their `backup_*.json` (files that do not parse are left out).
pub fn list(dir: &Path) -> Result<Vec<Existing>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !(name.starts_with("backup_") && name.ends_with(".json")) {
            continue;
        }
        let path = entry.path();
        let Ok(text) = fs::read_to_string(&path) else { continue };
        if let Ok(metadata) = serde_json::from_str::<Metadata>(&text) {
            found.push(Existing { metadata_path: path, metadata });
        }
    }
    Ok(found)
}

/// The snapshot file a metadata file names, when it is a plain name in the same directory.
pub fn snapshot_of(existing: &Existing) -> Option<PathBuf> {
    let name = &existing.metadata.snapshot;
    let plain = !name.is_empty() && !name.contains('/') && name.starts_with("snapshot_") && name.ends_with(".db");
    plain.then(|| existing.metadata_path.with_file_name(name))
}

/// The encryption key file a metadata file names, when it has the name the backup gives.
fn keys_of(existing: &Existing) -> Option<PathBuf> {
    let path = PathBuf::from(existing.metadata.encryption_keys.as_ref()?);
    let name = path.file_name()?.to_string_lossy().to_string();
    (name.starts_with("encryption_keys_") && name.ends_with(".json")).then_some(path)
}

/// Removes an older backup: its encryption key file, its snapshot, then its metadata.
pub fn remove(existing: &Existing) -> Result<(), String> {
    if let Some(keys) = keys_of(existing) {
        match fs::remove_file(&keys) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {}: {e}", keys.display())),
        }
    }
    if let Some(snapshot) = snapshot_of(existing) {
        match fs::remove_file(&snapshot) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {}: {e}", snapshot.display())),
        }
    }
    fs::remove_file(&existing.metadata_path)
        .map_err(|e| format!("cannot remove {}: {e}", existing.metadata_path.display()))
}

/// The newest verified backup of a cluster in `dir`: its metadata (for the members pane).
pub fn last_verified(dir: &Path, cluster_id: u64) -> Option<Existing> {
    let cluster = format!("{cluster_id:x}");
    list(dir)
        .ok()?
        .into_iter()
        .filter(|e| e.metadata.cluster_id == cluster && e.metadata.verified)
        .filter(|e| snapshot_of(e).is_some_and(|s| s.is_file()))
        .max_by(|a, b| a.metadata.taken_at.cmp(&b.metadata.taken_at))
}

/// The newest restore-grade backup of a cluster in `dir` (its archive there too).
pub fn last_restorable(dir: &Path, cluster_id: u64) -> Option<Existing> {
    let cluster = format!("{cluster_id:x}");
    list(dir)
        .ok()?
        .into_iter()
        .filter(|e| e.metadata.cluster_id == cluster && e.metadata.verified && e.metadata.restore_grade)
        .filter(|e| snapshot_of(e).is_some_and(|s| s.is_file()))
        .filter(|e| {
            let archive = e.metadata.static_resources.as_deref().unwrap_or("");
            !archive.is_empty() && !archive.contains('/') && e.metadata_path.with_file_name(archive).is_file()
        })
        .max_by(|a, b| a.metadata.taken_at.cmp(&b.metadata.taken_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(snapshot: &str) -> Metadata {
        serde_json::from_value(serde_json::json!({
            "cluster_id": "c1", "member": "m", "member_id": "1", "etcd_version": "3.4.23", "revision": 1,
            "db_size": 4, "sha256": "", "hash": "0", "total_keys": 0, "snapshot": snapshot,
            "taken_at": "2026-12-01T00:00:00Z", "verified": true, "possibly_dirty": false,
            "openshift": null, "encryption_keys": null
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_part_a_killed_run_left_is_removed_and_one_being_written_is_not() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let left = dir.path().join("snapshot_2026-12-01_000000.db.part");
        let archive = dir.path().join("static_kuberesources_2026-12-01_000000.tar.gz.part");
        let someone_elses = dir.path().join("notes.part");
        for path in [&left, &archive, &someone_elses] {
            fs::write(path, b"half").unwrap_or_else(|e| panic!("{e}"));
        }
        let writing = dir.path().join("snapshot_2026-12-01_000001.db.part");
        let file = create_part(&writing).unwrap_or_else(|e| panic!("{e}"));
        drop(file);
        let mut removed = remove_stale_parts(dir.path());
        removed.sort();
        assert_eq!(removed, [left.clone(), archive.clone()]);
        assert!(!left.exists() && !archive.exists());
        assert!(writing.exists(), "locked by this process until it ends, even once closed");
        assert!(someone_elses.exists(), "not a name of ours");
        let linked = dir.path().join("snapshot_2026-12-01_000001.db");
        fs::hard_link(&writing, &linked).unwrap_or_else(|e| panic!("{e}"));
        remove_part(&writing);
        let released = File::open(&linked).and_then(|f| f.try_lock().map_err(std::io::Error::from));
        assert!(released.is_ok(), "published: the lock is let go");
    }

    #[test]
    fn a_publish_killed_before_the_snapshot_was_linked_leaves_no_metadata_claiming_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let at = |name: &str| dir.path().join(name);
        // Killed between the metadata (and the archive) and the snapshot's link.
        for name in ["snapshot_a.db.part", "backup_a.json", "static_kuberesources_a.tar.gz"] {
            fs::write(at(name), b"x").unwrap_or_else(|e| panic!("{e}"));
        }
        // Killed after the snapshot's link, before its part was removed: the backup stands.
        for name in ["snapshot_b.db.part", "snapshot_b.db", "backup_b.json"] {
            fs::write(at(name), b"x").unwrap_or_else(|e| panic!("{e}"));
        }
        let mut removed = remove_stale_parts(dir.path());
        removed.sort();
        let mut expected =
            ["backup_a.json", "snapshot_a.db.part", "snapshot_b.db.part", "static_kuberesources_a.tar.gz"].map(at);
        expected.sort();
        assert_eq!(removed, expected);
        assert!(at("snapshot_b.db").exists() && at("backup_b.json").exists());
    }

    #[test]
    fn publish_never_overwrites_and_leaves_nothing_of_its_own_at_the_final_names() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let part = dir.path().join("snapshot_x.db.part");
        let snapshot = dir.path().join("snapshot_x.db");
        let meta = dir.path().join("backup_x.json");
        fs::write(&part, b"new!").unwrap_or_else(|e| panic!("{e}"));
        fs::write(&snapshot, b"old").unwrap_or_else(|e| panic!("{e}"));
        let refused = publish(&part, &snapshot, None, &meta, &metadata("snapshot_x.db"));
        assert!(refused.unwrap_err().contains("already exists"));
        assert_eq!(fs::read(&snapshot).ok(), Some(b"old".to_vec()), "the existing file is untouched");
        assert!(!meta.exists(), "its metadata went with it");

        fs::remove_file(&snapshot).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(publish(&part, &snapshot, None, &meta, &metadata("snapshot_x.db")), Ok(Vec::new()));
        assert_eq!(fs::read(&snapshot).ok(), Some(b"new!".to_vec()));
        assert!(!part.exists());
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&meta).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
        assert_eq!(mode, 0o600);
        let found = list(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found.len(), 1);
        assert_eq!(snapshot_of(&found[0]), Some(snapshot.clone()));
        remove(&found[0]).unwrap_or_else(|e| panic!("{e}"));
        assert!(!snapshot.exists() && !meta.exists());
    }
}
