//! Backups: reading etcd snapshot files without etcd (the bbolt reader, the
//! status etcdctl reports, the SHA-256 trailer), the static-pod resources
//! archive, and the backup directory as the restore reads it.

pub mod analyze;
pub mod archive;
pub mod bbolt;
pub mod directory;
pub mod error;
pub mod snapshot;

pub use error::SnapshotError;

/// SHA-256 of a whole file, hex, read in pieces (blocking).
pub fn sha256_file(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if read == 0 {
            break;
        }
        context.update(&buffer[..read]);
    }
    Ok(context.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect())
}
