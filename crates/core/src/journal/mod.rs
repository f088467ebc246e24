//! The crash-safe journals' mechanics, for every wizard's journal (defrag's
//! and restore's are in their wizards): one JSON line per step, before and
//! after, each flushed to disk before the step goes on, so a console that died
//! (or a laptop that closed) finds the unfinished run and resumes it; a lock
//! for one run at a time; a torn last line cut; a finished run's journal kept
//! beside, under a name with its end time.
//!
//! Only the run's own state is written: member names, IDs, sizes and notes;
//! never a certificate or key.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

pub mod run;

/// Why a journal could not be read, written or locked; each says which file, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A file of the journal could not be read, written, renamed or made (`doing` says which).
    #[error("{doing} {}: {source}", path.display())]
    Io { doing: &'static str, path: PathBuf, source: std::io::Error },
    /// A line before the last is not a record: not a crash while writing, so not skipped.
    #[error("the journal {} cannot be read at line {line} ({detail}): move it away to start anew", path.display())]
    CorruptLine { path: PathBuf, line: usize, detail: String },
    /// Another run of the same cluster holds the lock.
    #[error("another {what} run of this cluster is going on (it holds {}): one run at a time", lock.display())]
    Locked { what: String, lock: PathBuf },
    #[error("cannot encode a journal record: {0}")]
    Encode(#[from] serde_json::Error),
    /// The file at this cluster's name holds another cluster's run (copied or renamed): never
    /// resumed against this one.
    #[error(
        "the journal {} holds a run of {found}, not of {expected}: it was copied or renamed from another \
         cluster's journal. Nothing was done; move it away to go on",
        path.display()
    )]
    OtherCluster { path: PathBuf, found: String, expected: String },
}

impl JournalError {
    pub(crate) fn io(doing: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> JournalError {
        let path = path.to_path_buf();
        move |source| JournalError::Io { doing, path, source }
    }
}

/// For the callers that still carry errors as text.
impl From<JournalError> for String {
    fn from(error: JournalError) -> String {
        error.to_string()
    }
}

pub(crate) const CANNOT_READ: &str = "cannot read the journal";

/// `<state dir>/journal` (usually ~/.local/state/etcd-console/journal).
pub fn default_dir() -> Option<PathBuf> {
    crate::paths::state_dir().map(|dir| dir.join("journal"))
}

pub(crate) fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// Takes `<dir>/<stem>.lock`, or says that another `what` run holds it.
pub(crate) fn lock_named(dir: &Path, stem: &str, what: &str) -> Result<File, JournalError> {
    let path = dir.join(format!("{stem}.lock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(JournalError::io("cannot open the lock", &path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(JournalError::Locked { what: what.to_string(), lock: path }),
        Err(std::fs::TryLockError::Error(e)) => Err(JournalError::io("cannot lock", &path)(e)),
    }
}

/// Appends one record as a JSON line and waits until it is on disk.
pub(crate) fn append_record(file: &mut File, path: &Path, record: &impl Serialize) -> Result<(), JournalError> {
    let mut line = serde_json::to_string(record)?;
    line.push('\n');
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(JournalError::io("cannot write the journal", path))
}

/// Keeps a finished journal under a name with the end time.
pub(crate) fn keep_dated(path: &Path) -> Result<PathBuf, JournalError> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("journal");
    let kept = path.with_file_name(format!("{stem}-{}.jsonl", stamp()));
    fs::rename(path, &kept).map_err(JournalError::io("cannot rename", path))?;
    Ok(kept)
}

/// Cuts a last line torn by a crash while it was written, so the next record starts a line.
pub(crate) fn cut_torn_line(path: &Path) -> Result<(), JournalError> {
    let text = match fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(JournalError::io(CANNOT_READ, path)(e)),
    };
    let whole = text.iter().rposition(|b| *b == b'\n').map_or(0, |at| at + 1);
    if whole < text.len() {
        OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(whole as u64).and_then(|()| f.sync_data()))
            .map_err(JournalError::io("cannot cut the torn line of", path))?;
    }
    Ok(())
}

/// Opens a journal file to append to (made private to its owner).
pub(crate) fn open_append(path: &Path) -> Result<File, JournalError> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(JournalError::io("cannot open the journal", path))
}

/// A file-name-safe UTC time stamp.
pub(crate) fn stamp() -> String {
    now().replace([':', '.'], "")
}
