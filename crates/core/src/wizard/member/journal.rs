//! The member replacement's journal: the whole run as one JSON line, written
//! (and flushed to disk) before each step acts and after it ends, so a run that
//! died finds where it was. Keyed by the API server's URL: one replacement of
//! a cluster at a time, whichever member.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::MemberRun;
use crate::journal::{
    append_record, cut_torn_line, keep_dated, lock_named, now, open_append, JournalError, CANNOT_READ,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub at: String,
    pub run: MemberRun,
}

pub struct MemberJournal {
    path: PathBuf,
    file: File,
    _lock: File,
}

/// `member-<server>` with what a file name cannot hold replaced.
fn stem(server: &str) -> String {
    let plain: String = server
        .trim_start_matches("https://")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    format!("member-{plain}")
}

fn path_for(dir: &Path, server: &str) -> PathBuf {
    dir.join(format!("{}.jsonl", stem(server)))
}

/// The unfinished replacement of this API server in `dir`: its last whole record.
pub fn unfinished(dir: &Path, server: &str) -> Result<Option<(MemberRun, PathBuf)>, JournalError> {
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

impl MemberJournal {
    /// Opens (or goes on with) the journal of this API server's replacement; one run at a time.
    pub fn open(dir: &Path, server: &str) -> Result<MemberJournal, JournalError> {
        fs::create_dir_all(dir).map_err(JournalError::io("cannot create the journal directory", dir))?;
        let lock = lock_named(dir, &stem(server), "member replacement")?;
        let path = path_for(dir, server);
        cut_torn_line(&path)?;
        Ok(MemberJournal { file: open_append(&path)?, path, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the run and waits until it is on disk.
    pub fn record(&mut self, run: &MemberRun) -> Result<(), JournalError> {
        append_record(&mut self.file, &self.path, &Record { at: now(), run: run.clone() })
    }

    /// A run that will not be resumed is kept under a dated name.
    pub fn finish(self) -> Result<PathBuf, JournalError> {
        keep_dated(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wizard::member::Options;
    use std::io::Write;

    #[test]
    fn the_last_whole_record_is_found_again_and_one_run_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let server = "https://api.lab:6443";
        let mut journal = MemberJournal::open(dir.path(), server).unwrap();
        let mut run = MemberRun::new(Options { member: "master-1".into(), ..Options::default() });
        journal.record(&run).unwrap();
        run.quorum_guard_off = true;
        journal.record(&run).unwrap();
        let locked = MemberJournal::open(dir.path(), server).err().unwrap();
        assert!(locked.to_string().starts_with("another member replacement run of this cluster is going on"));
        let path = journal.path().to_path_buf();
        drop(journal);
        let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"at\":\"2026-").unwrap();
        let (found, _) = unfinished(dir.path(), server).unwrap().unwrap();
        assert!(found.quorum_guard_off, "the last whole record is the one found");
        let journal = MemberJournal::open(dir.path(), server).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap().lines().count(), 2, "the torn line is cut");
        journal.finish().unwrap();
        assert!(unfinished(dir.path(), server).unwrap().is_none());
    }
}
