//! What a snapshot file holds, read without etcd: `status` gives what
//! `etcdctl snapshot status` gives (hash, revision, total keys, total size),
//! `verify` checks the SHA-256 etcd appends to a snapshot and the bbolt
//! structure. A raw `member/snap/db` copy has no trailer and is said so.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde::Serialize;

use super::bbolt::{Db, Entry, FileSource};
pub use super::SnapshotError;

/// What `etcdctl snapshot status -w json` reports, with the same numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotStatus {
    /// CRC-32C over every bucket name, key and value, in order (etcd's hash).
    pub hash: u32,
    /// The main revision of the last key in the `key` bucket.
    pub revision: i64,
    #[serde(rename = "totalKey")]
    pub total_key: u64,
    /// bbolt's size: its high-water page id times its page size.
    #[serde(rename = "totalSize")]
    pub total_size: u64,
}

/// The SHA-256 trailer etcd appends to a snapshot: present (and whether it
/// matches), or absent (a raw copy of a member's database).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trailer {
    Matches,
    Absent,
}

/// A snapshot file opened for reading (read page by page, never whole).
pub struct SnapshotFile {
    file: File,
    len: u64,
}

/// Opens a file; a clear error when it cannot be read.
pub fn open(path: &Path) -> Result<SnapshotFile, SnapshotError> {
    let unreadable = |source| SnapshotError::Open { path: path.to_path_buf(), source };
    // Told before opening: a FIFO would hold the open until someone writes to it.
    if let Some(what) = crate::paths::not_a_regular_file(path) {
        return Err(SnapshotError::NotAFile { path: path.to_path_buf(), what });
    }
    let file = File::open(path).map_err(unreadable)?;
    let metadata = file.metadata().map_err(unreadable)?;
    if !metadata.is_file() {
        return Err(SnapshotError::NotAFile { path: path.to_path_buf(), what: "not a regular file" });
    }
    Ok(SnapshotFile { file, len: metadata.len() })
}

impl SnapshotFile {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// etcd's rule: a snapshot is pages plus 32 bytes, so its length is 32 past a multiple of 512.
    fn has_trailer(&self) -> bool {
        self.len % 512 == 32
    }

    /// The database part of the file (without its trailer, if any).
    pub(crate) fn database(&self) -> FileSource<'_> {
        FileSource { file: &self.file, len: if self.has_trailer() { self.len - 32 } else { self.len } }
    }
}

pub fn status(snapshot: &SnapshotFile) -> Result<SnapshotStatus, SnapshotError> {
    if snapshot.is_empty() {
        return Err(SnapshotError::Empty);
    }
    let database = snapshot.database();
    let db = Db::open(&database)?;
    let mut hash = 0u32;
    let mut revision = 0i64;
    let mut total_key = 0u64;
    db.for_each(&mut |entry| {
        match entry {
            Entry::Bucket(name) => hash = crc32c::crc32c_append(hash, name),
            Entry::Item { bucket, key, value } => {
                hash = crc32c::crc32c_append(hash, key);
                hash = crc32c::crc32c_append(hash, value);
                if bucket == b"key" {
                    // A revision key: 8 bytes of main revision, big-endian, then '_' and the sub revision.
                    let main = key.get(..8).and_then(|b| b.try_into().ok()).map(i64::from_be_bytes);
                    revision =
                        main.ok_or_else(|| SnapshotError::Content("a key in the key bucket is not a revision".into()))?;
                }
                total_key += 1;
            }
        }
        Ok(())
    })?;
    Ok(SnapshotStatus { hash, revision, total_key, total_size: db.size() })
}

/// The SHA-256 trailer (when there is one) and the structure: every page
/// reached once, inside the file, of the kind expected. The file is hashed
/// in pieces, never held whole.
pub fn verify(snapshot: &SnapshotFile) -> Result<(Trailer, SnapshotStatus), SnapshotError> {
    let trailer = if snapshot.has_trailer() {
        let body = snapshot.len - 32;
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        let mut buffer = vec![0u8; 1 << 20];
        let mut at = 0u64;
        while at < body {
            let take = usize::try_from((body - at).min(buffer.len() as u64)).unwrap_or(buffer.len());
            let piece = &mut buffer[..take];
            snapshot.file.read_exact_at(piece, at).map_err(|source| SnapshotError::Read { at, source })?;
            context.update(piece);
            at += take as u64;
        }
        let mut stored = [0u8; 32];
        snapshot.file.read_exact_at(&mut stored, body).map_err(|source| SnapshotError::ReadTrailer { source })?;
        let computed = context.finish();
        if computed.as_ref() != stored {
            return Err(SnapshotError::Sha256Mismatch { stored: hex(&stored), computed: hex(computed.as_ref()) });
        }
        Trailer::Matches
    } else {
        Trailer::Absent
    };
    Ok((trailer, structure(snapshot)?))
}

/// The structure alone (every page reached once, inside the file, of the kind
/// expected) and the status, for a file whose SHA-256 was already checked as it
/// was written (the backup checks it while the stream arrives).
pub fn structure(snapshot: &SnapshotFile) -> Result<SnapshotStatus, SnapshotError> {
    let unsound = |e| SnapshotError::Unsound(Box::new(e));
    let status = status(snapshot).map_err(unsound)?;
    let database = snapshot.database();
    Db::open(&database).and_then(|db| db.check()).map_err(unsound)?;
    Ok(status)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The newest value of `key` in the snapshot's keyspace (None when it was
/// never written or its newest revision deletes it), read from etcd's `key`
/// bucket without etcd: revisions in order, each a protobuf `mvccpb.KeyValue`.
pub fn latest_value(snapshot: &SnapshotFile, key: &[u8]) -> Result<Option<Vec<u8>>, SnapshotError> {
    let database = snapshot.database();
    let db = Db::open(&database)?;
    let mut latest = None;
    db.for_each(&mut |entry| {
        if let Entry::Item { bucket: b"key", key: revision, value } = entry {
            let (name, data) = key_value(value)?;
            if name == key {
                // A tombstone's revision key ends with 't' after the 17 bytes of main_sub.
                latest = if revision.len() > 17 && revision[17] == b't' { None } else { Some(data.to_vec()) };
            }
        }
        Ok(())
    })?;
    Ok(latest)
}

/// The key (field 1) and value (field 5) of a protobuf `mvccpb.KeyValue`.
fn key_value(bytes: &[u8]) -> Result<(&[u8], &[u8]), SnapshotError> {
    let record = KeyValue::decode(bytes)?;
    Ok((record.key, record.value))
}

/// The fields of a protobuf `mvccpb.KeyValue` the analysis needs, borrowed from the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyValue<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    /// Field 6: the lease the key is attached to (0: none).
    pub lease: i64,
}

impl<'a> KeyValue<'a> {
    /// Decodes a record, or says what in it is not protobuf as etcd writes it.
    pub fn decode(mut bytes: &'a [u8]) -> Result<KeyValue<'a>, SnapshotError> {
        let content = |what: &str| SnapshotError::Content(what.to_string());
        fn varint(bytes: &mut &[u8]) -> Result<u64, SnapshotError> {
            let mut value = 0u64;
            for shift in (0..64).step_by(7) {
                let (&byte, rest) = bytes
                    .split_first()
                    .ok_or_else(|| SnapshotError::Content("a KeyValue ends inside a number".into()))?;
                *bytes = rest;
                value |= u64::from(byte & 0x7f) << shift;
                if byte & 0x80 == 0 {
                    return Ok(value);
                }
            }
            Err(SnapshotError::Content("a KeyValue holds a number longer than 64 bits".into()))
        }
        let mut record = KeyValue::default();
        while !bytes.is_empty() {
            let tag = varint(&mut bytes)?;
            match tag & 7 {
                0 => {
                    let number = varint(&mut bytes)?;
                    if tag >> 3 == 6 {
                        record.lease = number as i64;
                    }
                }
                2 => {
                    let len =
                        usize::try_from(varint(&mut bytes)?).map_err(|_| content("a KeyValue field is too long"))?;
                    if len > bytes.len() {
                        return Err(content("a KeyValue field runs past its end"));
                    }
                    let (field, rest) = bytes.split_at(len);
                    match tag >> 3 {
                        1 => record.key = field,
                        5 => record.value = field,
                        _ => {}
                    }
                    bytes = rest;
                }
                other => return Err(SnapshotError::Content(format!("a KeyValue holds a field of wire type {other}"))),
            }
        }
        Ok(record)
    }
}
