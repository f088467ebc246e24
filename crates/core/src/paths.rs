//! Where etcd-console keeps its files when no flag says: the XDG directories.

use std::path::PathBuf;

fn project() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "etcd-console")
}

/// `$XDG_STATE_HOME/etcd-console` (usually ~/.local/state/etcd-console): logs, journals.
pub fn state_dir() -> Option<PathBuf> {
    let dirs = project()?;
    Some(dirs.state_dir().unwrap_or_else(|| dirs.data_local_dir()).to_path_buf())
}

/// `<data dir>/backups` (usually ~/.local/share/etcd-console/backups).
pub fn backups_dir() -> Option<PathBuf> {
    project().map(|d| d.data_dir().join("backups"))
}

/// `<data dir>/encryption-keys`: the console's encryption key exports, apart from the backups.
pub fn keys_dir() -> Option<PathBuf> {
    project().map(|d| d.data_dir().join("encryption-keys"))
}

/// `$XDG_STATE_HOME/etcd-console/space`: the live space readings, per cluster.
pub fn space_dir() -> Option<PathBuf> {
    state_dir().map(|d| d.join("space"))
}
