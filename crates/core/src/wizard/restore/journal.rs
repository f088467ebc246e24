//! The restore run's journal: the whole run as one JSON line, written (and
//! flushed to disk) before each step and after it, so a console that died, a
//! lost ssh session or a closed laptop finds the run and resumes at the step
//! it was in. Keyed by the API server's URL: after the point of no return the
//! API may be gone, and the journal must still be found.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::journal::{
    append_record, cut_torn_line, keep_dated, lock_named, now, open_append, JournalError, CANNOT_READ,
};
use crate::wizard::restore::RestoreRun;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub at: String,
    pub run: RestoreRun,
}

pub struct RestoreJournal {
    path: PathBuf,
    file: File,
    _lock: File,
}

/// `restore-<server>` with what a file name cannot hold replaced.
fn stem(server: &str) -> String {
    let plain: String = server
        .trim_start_matches("https://")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    format!("restore-{plain}")
}

fn path_for(dir: &Path, server: &str) -> PathBuf {
    dir.join(format!("{}.jsonl", stem(server)))
}

/// The unfinished restore of this API server in `dir`: its last whole record.
pub fn unfinished(dir: &Path, server: &str) -> Result<Option<(RestoreRun, PathBuf)>, JournalError> {
    let path = path_for(dir, server);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(JournalError::io(CANNOT_READ, &path)(e)),
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut last = None;
    for (n, line) in lines.iter().enumerate() {
        match serde_json::from_str::<Record>(line) {
            Ok(record) => last = Some(record.run),
            // Only the last line may be torn (a crash while writing it).
            Err(_) if n + 1 == lines.len() => {}
            Err(e) => return Err(JournalError::CorruptLine { path, line: n + 1, detail: e.to_string() }),
        }
    }
    Ok(last.filter(|run| !run.finished_for_good()).map(|run| (run, path)))
}

impl RestoreJournal {
    /// Opens (or goes on with) the journal of this API server's restore; one run at a time.
    pub fn open(dir: &Path, server: &str) -> Result<RestoreJournal, JournalError> {
        fs::create_dir_all(dir).map_err(JournalError::io("cannot create the journal directory", dir))?;
        let lock = lock_named(dir, &stem(server), "restore")?;
        let path = path_for(dir, server);
        // A torn last line is cut before appending after it.
        cut_torn_line(&path)?;
        Ok(RestoreJournal { file: open_append(&path)?, path, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the run and waits until it is on disk.
    pub fn record(&mut self, run: &RestoreRun) -> Result<(), JournalError> {
        append_record(&mut self.file, &self.path, &Record { at: now(), run: run.clone() })
    }

    /// A run that will not be resumed (completed, or refused before anything changed) is kept under a dated name.
    pub fn finish(self) -> Result<PathBuf, JournalError> {
        keep_dated(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wizard::restore::{Options, Procedure};
    use std::io::Write;

    #[test]
    fn the_last_whole_record_is_found_again_and_one_run_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let server = "https://api.lab:6443";
        let mut journal = RestoreJournal::open(dir.path(), server).unwrap();
        let mut run = RestoreRun::new(Procedure::Standalone, "/b".into(), Options::default());
        run.not_ready = vec!["first".into()];
        journal.record(&run).unwrap();
        run.not_ready = vec!["second".into()];
        journal.record(&run).unwrap();
        let locked = RestoreJournal::open(dir.path(), server).err().unwrap();
        assert!(matches!(&locked, JournalError::Locked { what, .. } if what == "restore"), "{locked:?}");
        assert!(locked.to_string().starts_with("another restore run of this cluster is going on (it holds "));
        let path = journal.path().to_path_buf();
        drop(journal);
        let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"at\":\"2026-").unwrap();
        let (found, _) = unfinished(dir.path(), server).unwrap().unwrap();
        assert_eq!(found.not_ready, ["second"]);
        let journal = RestoreJournal::open(dir.path(), server).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap().lines().count(), 2, "the torn line is cut");
        journal.finish().unwrap();
        assert!(unfinished(dir.path(), server).unwrap().is_none());
    }
}
