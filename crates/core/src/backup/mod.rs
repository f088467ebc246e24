//! Backups: reading etcd snapshot files without etcd (the bbolt reader, the
//! status etcdctl reports, the SHA-256 trailer), the static-pod resources
//! archive, and the backup directory as the restore reads it.

pub mod archive;
pub mod bbolt;
pub mod directory;
pub mod error;
pub mod snapshot;

pub use error::SnapshotError;
