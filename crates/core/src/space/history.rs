//! The live readings of each cluster, kept so the next one can say what grew:
//! one JSON line per reading in `<dir>/space-<cluster id>.jsonl` (the state
//! directory by default), the newest last, at most `KEEP` of them. A file that
//! cannot be read or written costs the comparison, never the reading.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::Reading;

/// Readings kept per cluster.
pub const KEEP: usize = 100;

/// Where a cluster's readings are kept.
pub fn file(dir: &Path, cluster_id: &str) -> PathBuf {
    let safe: String = cluster_id.chars().filter(char::is_ascii_hexdigit).collect();
    dir.join(format!("space-{safe}.jsonl"))
}

/// The readings kept, oldest first; lines that do not parse (a crash mid-write) are skipped.
pub fn load(dir: &Path, cluster_id: &str) -> Vec<Reading> {
    let Ok(text) = std::fs::read_to_string(file(dir, cluster_id)) else { return Vec::new() };
    text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect()
}

/// The newest reading kept.
pub fn last(dir: &Path, cluster_id: &str) -> Option<Reading> {
    load(dir, cluster_id).pop()
}

/// Keeps `reading` (without its comparison), dropping the oldest past `KEEP`.
pub fn keep(dir: &Path, reading: &Reading) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = file(dir, &reading.cluster_id);
    let mut kept = reading.clone();
    kept.previous = None;
    for group in &mut kept.resources {
        group.change = None;
    }
    let line = serde_json::to_string(&kept).map_err(|e| e.to_string())?;
    let mut readings = load(dir, &reading.cluster_id);
    if readings.len() + 1 > KEEP {
        // Rewritten whole, through a temporary file, so a crash leaves the old one.
        readings.drain(..readings.len() + 1 - KEEP);
        let mut text = String::new();
        for r in &readings {
            if let Ok(l) = serde_json::to_string(r) {
                text.push_str(&l);
                text.push('\n');
            }
        }
        text.push_str(&line);
        text.push('\n');
        let part = path.with_extension("jsonl.part");
        std::fs::write(&part, text).map_err(|e| format!("cannot write {}: {e}", part.display()))?;
        return std::fs::rename(&part, &path).map_err(|e| format!("cannot write {}: {e}", path.display()));
    }
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    writeln!(out, "{line}").map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Compares a live reading with the cluster's last one kept in `dir`, then keeps it when it is
/// whole (a partial one would make the next comparison wrong). Err: it could not be kept.
pub fn compare_and_keep(dir: &Path, reading: &mut Reading) -> Result<(), String> {
    if let Some(before) = last(dir, &reading.cluster_id) {
        reading.compare(&before);
    }
    if reading.partial.is_some() {
        return Ok(());
    }
    keep(dir, reading)
}
