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
    /// The API server the run is of (absent in journals written before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    pub run: R,
}

pub struct RunJournal<R> {
    server: String,
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
            Ok(Record { server: Some(found), .. }) if found != server => {
                return Err(JournalError::OtherCluster { path, found, expected: server.to_string() })
            }
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
        Ok(RunJournal { server: server.to_string(), file: open_append(&path)?, path, _lock: lock, _run: PhantomData })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the run and waits until it is on disk.
    pub fn record(&mut self, run: &R) -> Result<(), JournalError> {
        let record = Record { at: now(), server: Some(self.server.clone()), run: run.clone() };
        append_record(&mut self.file, &self.path, &record)
    }

    /// A run that will not be resumed (completed, or refused before anything changed) is kept
    /// under a dated name.
    pub fn finish(self) -> Result<PathBuf, JournalError> {
        keep_dated(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
    struct Run {
        step: u32,
    }

    impl Journalled for Run {
        const PREFIX: &'static str = "test";
        const WHAT: &'static str = "test";
        fn finished_for_good(&self) -> bool {
            false
        }
    }

    #[test]
    fn a_journal_copied_from_another_clusters_name_is_refused_and_an_old_one_without_a_server_is_read() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let ours = "https://api.ours.example:6443";
        {
            let mut journal = RunJournal::<Run>::open(dir.path(), "https://api.theirs.example:6443")
                .unwrap_or_else(|e| panic!("{e}"));
            journal.record(&Run { step: 3 }).unwrap_or_else(|e| panic!("{e}"));
        }
        let theirs = path_for("test", dir.path(), "https://api.theirs.example:6443");
        std::fs::rename(&theirs, path_for("test", dir.path(), ours)).unwrap_or_else(|e| panic!("{e}"));
        let refused = unfinished::<Run>(dir.path(), ours).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            refused.contains("holds a run of https://api.theirs.example:6443, not of https://api.ours"),
            "{refused}"
        );
        // A journal written before the server was kept is read as before.
        std::fs::write(path_for("test", dir.path(), ours), "{\"at\":\"2026-12-01T00:00:00Z\",\"run\":{\"step\":5}}\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let found = unfinished::<Run>(dir.path(), ours).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found.map(|(run, _)| run), Some(Run { step: 5 }));
    }
}
