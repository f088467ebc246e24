//! Backups: reading etcd snapshot files without etcd (the bbolt reader, the
//! status etcdctl reports, the SHA-256 trailer). The backup wizard itself
//! (streamed snapshots, metadata, retention) is issue 6's next part.

pub mod bbolt;
pub mod directory;
pub mod error;
pub mod snapshot;

pub use error::SnapshotError;
