//! Faults the lab can be told to have, to rehearse what goes wrong: marks in a
//! host's root (that host has it) or in the lab's directory (the API has it).
//! `etcd-console lab fault` sets and clears them while the lab runs.

use std::fs;
use std::path::{Path, PathBuf};

/// A fault to rehearse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Debug pods on the host never start: their image cannot be pulled (ErrImagePull).
    DebugImagePull,
    /// The host's cluster-backup.sh saves the snapshot, then fails before the static resources.
    BackupFailsHalfWay,
    /// The API refuses privileged pods (403, as no security context constraint allows them).
    DebugPodsForbidden,
}

impl Fault {
    pub const ALL: &'static [Fault] = &[Fault::DebugImagePull, Fault::BackupFailsHalfWay, Fault::DebugPodsForbidden];

    pub fn name(self) -> &'static str {
        match self {
            Fault::DebugImagePull => "debug-image-pull",
            Fault::BackupFailsHalfWay => "backup-fails-half-way",
            Fault::DebugPodsForbidden => "debug-pods-forbidden",
        }
    }

    pub fn parse(name: &str) -> Option<Fault> {
        Fault::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Whether the fault belongs to one host (else to the whole API).
    pub fn per_host(self) -> bool {
        !matches!(self, Fault::DebugPodsForbidden)
    }

    fn mark(self, lab_dir: &Path, node: Option<&str>) -> PathBuf {
        let file = format!(".lab-fault-{}", self.name());
        match node {
            Some(node) if self.per_host() => lab_dir.join("hosts").join(node).join(file),
            _ => lab_dir.join(file),
        }
    }
}

/// Whether the fault is set (for `node`, when it is a host's).
pub fn has(lab_dir: &Path, fault: Fault, node: Option<&str>) -> bool {
    fault.mark(lab_dir, node).exists()
}

/// Sets or clears a fault.
pub fn set(lab_dir: &Path, fault: Fault, node: Option<&str>, on: bool) -> Result<(), String> {
    if fault.per_host() && node.is_none() {
        return Err(format!("{} is a host's fault: name the host", fault.name()));
    }
    if let Some(node) = node.filter(|_| fault.per_host()) {
        if !lab_dir.join("hosts").join(node).is_dir() {
            return Err(format!("no lab host {node} in {}", lab_dir.display()));
        }
    }
    let mark = fault.mark(lab_dir, node);
    if on {
        fs::write(&mark, format!("{} (etcd-console lab fault)\n", fault.name()))
            .map_err(|e| format!("cannot write {}: {e}", mark.display()))
    } else {
        match fs::remove_file(&mark) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("cannot remove {}: {e}", mark.display())),
        }
    }
}
