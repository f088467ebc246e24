//! The defrag run's journal, keyed by the cluster's ID: the run before and
//! after every action, so an interrupted run is offered to resume.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{Action, DefragRun};
use crate::journal::{
    append_record, cut_torn_line, keep_dated, lock_named, now, open_append, stamp, JournalError, CANNOT_READ,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Begin,
    End,
    Finished,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub at: String,
    pub event: Event,
    pub action: Option<Action>,
    pub run: DefragRun,
}

/// A run found unfinished: its last state, the action begun and never ended,
/// and when the journal was last written.
#[derive(Debug, Clone, PartialEq)]
pub struct Unfinished {
    pub run: DefragRun,
    pub in_flight: Option<Action>,
    pub last_written: String,
    pub path: PathBuf,
}

pub struct Journal {
    path: PathBuf,
    file: File,
    /// Held for the run's life: a second run of the same cluster is refused.
    _lock: File,
}

fn path_for(dir: &Path, cluster_id: u64) -> PathBuf {
    dir.join(format!("defrag-{cluster_id:016x}.jsonl"))
}

/// The unfinished defrag run of this cluster in `dir`, if there is one.
/// A torn last line (a crash while writing it) is skipped.
pub fn unfinished(dir: &Path, cluster_id: u64) -> Result<Option<Unfinished>, JournalError> {
    let path = path_for(dir, cluster_id);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(JournalError::io(CANNOT_READ, &path)(e)),
    };
    let lines: Vec<String> =
        BufReader::new(file).lines().collect::<Result<_, _>>().map_err(JournalError::io(CANNOT_READ, &path))?;
    let mut last: Option<Record> = None;
    for (n, line) in lines.iter().enumerate() {
        match serde_json::from_str::<Record>(line) {
            Ok(record) => last = Some(record),
            // Only the last line may be torn (a crash while writing it).
            Err(_) if n + 1 == lines.len() => {}
            Err(e) => return Err(JournalError::CorruptLine { path, line: n + 1, detail: e.to_string() }),
        }
    }
    let Some(last) = last else {
        return Ok(None);
    };
    if last.run.cluster_id != cluster_id {
        return Err(JournalError::OtherCluster {
            path,
            found: format!("cluster {:x}", last.run.cluster_id),
            expected: format!("cluster {cluster_id:x}"),
        });
    }
    if last.event == Event::Finished || last.run.outcome().is_some() {
        return Ok(None);
    }
    let in_flight = if last.event == Event::Begin { last.action } else { None };
    Ok(Some(Unfinished { run: last.run, in_flight, last_written: last.at, path }))
}

/// The member an earlier run of this cluster defragmented last, and when its defrag was seen done:
/// from the journals kept in `dir` (finished or set aside). None when there is none to read.
pub fn last_defragmented(dir: &Path, cluster_id: u64) -> Option<(String, SystemTime)> {
    let prefix = format!("defrag-{cluster_id:016x}-");
    let mut last: Option<(String, SystemTime)> = None;
    for entry in fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with(&prefix) && name.ends_with(".jsonl")) {
            continue;
        }
        let Ok(text) = fs::read_to_string(entry.path()) else { continue };
        let mut done = 0;
        for record in text.lines().filter_map(|l| serde_json::from_str::<Record>(l).ok()) {
            if record.run.done.len() > done {
                done = record.run.done.len();
                let member = record.run.done.last().map(|d| d.name.clone()).unwrap_or_default();
                let Ok(at) = humantime::parse_rfc3339_weak(&record.at) else { continue };
                if last.as_ref().is_none_or(|(_, seen)| at > *seen) {
                    last = Some((member, at));
                }
            }
        }
    }
    last
}

impl Journal {
    /// Starts the journal of a new run (an unfinished one is set aside, named so).
    pub fn create(dir: &Path, cluster_id: u64) -> Result<Journal, JournalError> {
        fs::create_dir_all(dir).map_err(JournalError::io("cannot create the journal directory", dir))?;
        let lock = lock(dir, cluster_id)?;
        let path = path_for(dir, cluster_id);
        if path.exists() {
            let aside = dir.join(format!("defrag-{cluster_id:016x}-abandoned-{}.jsonl", stamp()));
            fs::rename(&path, &aside).map_err(JournalError::io("cannot set aside", &path))?;
        }
        Self::open(path, lock)
    }

    /// Goes on writing the journal of an unfinished run; a torn last line is cut off first.
    pub fn reopen(unfinished: &Unfinished) -> Result<Journal, JournalError> {
        let dir = unfinished.path.parent().unwrap_or(Path::new("."));
        let lock = lock(dir, unfinished.run.cluster_id)?;
        cut_torn_line(&unfinished.path)?;
        Self::open(unfinished.path.clone(), lock)
    }

    fn open(path: PathBuf, lock: File) -> Result<Journal, JournalError> {
        Ok(Journal { file: open_append(&path)?, path, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and waits until it is on disk.
    pub fn record(&mut self, event: Event, action: Option<&Action>, run: &DefragRun) -> Result<(), JournalError> {
        let record = Record { at: now(), event, action: action.cloned(), run: run.clone() };
        append_record(&mut self.file, &self.path, &record)
    }

    /// Records the end and keeps the journal under a name with the end time.
    pub fn finish(mut self, run: &DefragRun) -> Result<PathBuf, JournalError> {
        self.record(Event::Finished, None, run)?;
        keep_dated(&self.path)
    }
}

/// Takes the cluster's run lock, or says that another run holds it.
fn lock(dir: &Path, cluster_id: u64) -> Result<File, JournalError> {
    lock_named(dir, &format!("defrag-{cluster_id:016x}"), "defrag")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wizard::defrag::{plan, MemberFacts, Options, Rule};
    use std::fs::OpenOptions;
    use std::io::Write;

    fn run() -> DefragRun {
        let figures = crate::wizard::defrag::Figures { db_size: 1 << 20, db_size_in_use: 1 << 19, quota: 8 << 30 };
        let members = vec![MemberFacts {
            id: 1,
            name: "m1".into(),
            is_learner: false,
            figures: Some(figures),
            serves_reads: true,
        }];
        let made = plan(&members, Some(1), &Rule::All).unwrap();
        DefragRun::new(&made, 7, Options::default(), false).unwrap()
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_cut_a_bad_middle_line_is_an_error_and_one_run_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), 7).unwrap();
        journal.record(Event::Begin, Some(&Action::Observe), &run()).unwrap();
        // A second run of the same cluster is refused while this one holds the lock.
        let second = Journal::create(dir.path(), 7).err().unwrap();
        assert!(matches!(&second, JournalError::Locked { what, .. } if what == "defrag"), "{second:?}");
        assert_eq!(
            second.to_string(),
            format!(
                "another defrag run of this cluster is going on (it holds {}): one run at a time",
                dir.path().join("defrag-0000000000000007.lock").display()
            )
        );
        let path = journal.path().to_path_buf();
        drop(journal);
        // A crash in the middle of a line.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"at\":\"2026-").unwrap();
        let found = unfinished(dir.path(), 7).unwrap().unwrap();
        assert_eq!(found.in_flight, Some(Action::Observe));
        let mut reopened = Journal::reopen(&found).unwrap();
        reopened.record(Event::End, Some(&Action::Observe), &run()).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(unfinished(dir.path(), 7).unwrap().unwrap().in_flight.is_none());
        drop(reopened);
        // A bad line that is not the last: refused, not taken for "no run".
        let text = fs::read_to_string(&path).unwrap().replacen("{", "x", 1);
        fs::write(&path, text).unwrap();
        let corrupt = unfinished(dir.path(), 7).unwrap_err();
        assert!(matches!(&corrupt, JournalError::CorruptLine { line: 1, .. }), "{corrupt:?}");
        let said = corrupt.to_string();
        assert!(
            said.starts_with(&format!("the journal {} cannot be read at line 1 (", path.display()))
                && said.ends_with("): move it away to start anew"),
            "{said}"
        );
    }

    #[test]
    fn a_journal_that_cannot_be_read_is_an_io_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(dir.path(), 7);
        fs::create_dir(&path).unwrap();
        let error = unfinished(dir.path(), 7).unwrap_err();
        assert!(matches!(&error, JournalError::Io { doing: CANNOT_READ, path: p, .. } if *p == path), "{error:?}");
        assert!(error.to_string().starts_with(&format!("cannot read the journal {}: ", path.display())), "{error}");
        // A file where the directory should be.
        let file = dir.path().join("file");
        fs::write(&file, "").unwrap();
        let no_dir = Journal::create(&file.join("journal"), 7).err().unwrap();
        assert!(matches!(no_dir, JournalError::Io { doing: "cannot create the journal directory", .. }));
        assert!(String::from(no_dir)
            .starts_with(&format!("cannot create the journal directory {}: ", file.join("journal").display())));
    }
}
