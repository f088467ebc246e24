//! The journal of a wizard whose whole run is one JSON line (the restore's and
//! the member replacement's): written, and flushed to disk, before each step
//! acts and after it ends, so a console that died, a lost ssh session or a
//! closed laptop finds the run and resumes at the step it was in. Keyed by the
//! API server's URL: after a point of no return the API may be gone, and the
//! journal must still be found. One run of a kind per cluster at a time.

use std::fs::{self, File};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{append_record, cut_torn_line, keep_dated, lock_named, now, open_append, JournalError, CANNOT_READ};

/// A run a [`RunJournal`] keeps.
pub trait Journalled: Serialize + DeserializeOwned + Clone {
    /// The journal file's prefix (`restore`, `member`).
    const PREFIX: &'static str;
    /// What the lock says is going on ("restore", "member replacement").
    const WHAT: &'static str;
    /// Ended, and nothing is left to resume.
    fn finished_for_good(&self) -> bool;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record<R> {
    pub at: String,
    pub run: R,
}

pub struct RunJournal<R> {
    path: PathBuf,
    file: File,
    _lock: File,
    _run: PhantomData<R>,
}

/// `<prefix>-<server>` with what a file name cannot hold replaced.
fn stem(prefix: &str, server: &str) -> String {
    let plain: String = server
        .trim_start_matches("https://")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    format!("{prefix}-{plain}")
}

fn path_for(prefix: &str, dir: &Path, server: &str) -> PathBuf {
    dir.join(format!("{}.jsonl", stem(prefix, server)))
}

/// The unfinished run of this API server in `dir`: its last whole record.
pub fn unfinished<R: Journalled>(dir: &Path, server: &str) -> Result<Option<(R, PathBuf)>, JournalError> {
    let path = path_for(R::PREFIX, dir, server);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(JournalError::io(CANNOT_READ, &path)(e)),
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut last = None;
    for (n, line) in lines.iter().enumerate() {
        match serde_json::from_str::<Record<R>>(line) {
            Ok(record) => last = Some(record.run),
            // Only the last line may be torn (a crash while writing it).
            Err(_) if n + 1 == lines.len() => {}
            Err(e) => return Err(JournalError::CorruptLine { path, line: n + 1, detail: e.to_string() }),
        }
    }
    Ok(last.filter(|run| !run.finished_for_good()).map(|run| (run, path)))
}

impl<R: Journalled> RunJournal<R> {
    /// Opens (or goes on with) the journal of this API server's run; one run at a time.
    pub fn open(dir: &Path, server: &str) -> Result<RunJournal<R>, JournalError> {
        fs::create_dir_all(dir).map_err(JournalError::io("cannot create the journal directory", dir))?;
        let lock = lock_named(dir, &stem(R::PREFIX, server), R::WHAT)?;
        let path = path_for(R::PREFIX, dir, server);
        // A torn last line is cut before appending after it.
        cut_torn_line(&path)?;
        Ok(RunJournal { file: open_append(&path)?, path, _lock: lock, _run: PhantomData })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the run and waits until it is on disk.
    pub fn record(&mut self, run: &R) -> Result<(), JournalError> {
        append_record(&mut self.file, &self.path, &Record { at: now(), run: run.clone() })
    }

    /// A run that will not be resumed (completed, or refused before anything changed) is kept
    /// under a dated name.
    pub fn finish(self) -> Result<PathBuf, JournalError> {
        keep_dated(&self.path)
    }
}
