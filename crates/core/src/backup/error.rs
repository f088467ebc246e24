//! Why a snapshot file (or a member's bbolt database) cannot be read or is not
//! sound, by kind; each variant's text is what the user has always been told.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file cannot be opened.
    #[error("cannot read {}: {source}", path.display())]
    Open { path: PathBuf, source: std::io::Error },
    #[error("cannot read {}: it is {what}, not a snapshot file", path.display())]
    NotAFile { path: PathBuf, what: &'static str },
    #[error("the file is empty")]
    Empty,
    /// A read inside the file failed.
    #[error("cannot read at byte {at}: {source}")]
    Read { at: u64, source: std::io::Error },
    #[error("cannot read the trailer: {source}")]
    ReadTrailer { source: std::io::Error },
    /// The file (or a page) ends where more was to be read.
    #[error("cut short at byte {at}")]
    CutShort { at: u64 },
    #[error("{len} bytes: too small for a bbolt database")]
    TooSmall { len: u64 },
    /// Shorter than its meta page says the database is.
    #[error("truncated: the database needs {needed} bytes ({pages} pages of {page_size}), the file has {len}")]
    Truncated { needed: u64, pages: u64, page_size: usize, len: u64 },
    /// A page that ends past the end of the file.
    #[error("page {id}{} is cut short", overflow.map(|o| format!(" (+{o} overflow)")).unwrap_or_default())]
    PageCutShort { id: u64, overflow: Option<u64> },
    /// Not bbolt's magic number where the first meta page should be.
    #[error("no bbolt magic number: not a bbolt database (nor an etcd snapshot)")]
    BadMagic,
    /// A meta page whose FNV-1a checksum does not match.
    #[error("the meta page at byte {at} fails its checksum")]
    MetaChecksum { at: u64 },
    /// A page, or an element in one, that is not what bbolt writes (its words say which).
    #[error("{0}")]
    BadPage(String),
    /// etcd's SHA-256 trailer does not match the contents.
    #[error(
        "the SHA-256 at its end does not match its contents (stored {stored}, computed {computed}): the file was \
         changed or damaged after etcd wrote it"
    )]
    Sha256Mismatch { stored: String, computed: String },
    /// The keyspace holds what etcd does not write (a key that is not a revision, a broken KeyValue).
    #[error("{0}")]
    Content(String),
    /// The structure check failed.
    #[error("not a sound bbolt database: {0}")]
    Unsound(Box<SnapshotError>),
}

impl SnapshotError {
    /// Whether the file ends before its contents do (a copy or a download cut short).
    pub fn is_truncated(&self) -> bool {
        match self {
            SnapshotError::CutShort { .. }
            | SnapshotError::TooSmall { .. }
            | SnapshotError::Truncated { .. }
            | SnapshotError::PageCutShort { .. } => true,
            SnapshotError::Unsound(inner) => inner.is_truncated(),
            _ => false,
        }
    }
}

/// For the callers that still carry errors as text.
impl From<SnapshotError> for String {
    fn from(error: SnapshotError) -> String {
        error.to_string()
    }
}
