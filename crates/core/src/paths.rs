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

/// What `path` is when it is there but not a regular file ("a directory", "a named pipe (FIFO)"
/// ...), told without opening it: opening a FIFO to read waits for a writer, for ever.
pub fn not_a_regular_file(path: &std::path::Path) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let kind = std::fs::metadata(path).ok()?.file_type();
    if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a directory")
    } else if kind.is_fifo() {
        Some("a named pipe (FIFO)")
    } else if kind.is_socket() {
        Some("a socket")
    } else if kind.is_block_device() || kind.is_char_device() {
        Some("a device")
    } else {
        Some("not a regular file")
    }
}

/// `$XDG_STATE_HOME/etcd-console/space`: the live space readings, per cluster.
pub fn space_dir() -> Option<PathBuf> {
    state_dir().map(|d| d.join("space"))
}
