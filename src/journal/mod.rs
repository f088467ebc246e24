//! The crash-safe wizard journal: one JSON line per step, before and after,
//! each flushed to disk before the step goes on, so a console that died (or a
//! laptop that closed) finds the unfinished run and resumes it. A finished
//! run's journal is kept beside, under a name with its end time.
//!
//! Only the run's own state is written: member names, IDs, sizes and notes;
//! never a certificate or key.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::wizard::defrag::{Action, DefragRun};

/// `<state dir>/journal` (usually ~/.local/state/etcd-console/journal).
pub fn default_dir() -> Option<PathBuf> {
    crate::logging::default_log_dir().map(|dir| dir.join("journal"))
}

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
}

fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

fn path_for(dir: &Path, cluster_id: u64) -> PathBuf {
    dir.join(format!("defrag-{cluster_id:016x}.jsonl"))
}

/// The unfinished defrag run of this cluster in `dir`, if there is one.
/// A torn last line (a crash while writing it) is skipped.
pub fn unfinished(dir: &Path, cluster_id: u64) -> Result<Option<Unfinished>, String> {
    let path = path_for(dir, cluster_id);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read the journal {}: {e}", path.display())),
    };
    let mut last: Option<Record> = None;
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| format!("cannot read the journal {}: {e}", path.display()))?;
        if let Ok(record) = serde_json::from_str::<Record>(&line) {
            last = Some(record);
        }
    }
    let Some(last) = last else {
        return Ok(None);
    };
    if last.event == Event::Finished || last.run.outcome().is_some() {
        return Ok(None);
    }
    let in_flight = if last.event == Event::Begin { last.action } else { None };
    Ok(Some(Unfinished { run: last.run, in_flight, last_written: last.at, path }))
}

impl Journal {
    /// Starts the journal of a new run (an unfinished one is set aside, named so).
    pub fn create(dir: &Path, cluster_id: u64) -> Result<Journal, String> {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create the journal directory {}: {e}", dir.display()))?;
        let path = path_for(dir, cluster_id);
        if path.exists() {
            let aside = dir.join(format!("defrag-{cluster_id:016x}-abandoned-{}.jsonl", stamp()));
            fs::rename(&path, &aside).map_err(|e| format!("cannot set aside {}: {e}", path.display()))?;
        }
        Self::open(path)
    }

    /// Goes on writing the journal of an unfinished run.
    pub fn reopen(unfinished: &Unfinished) -> Result<Journal, String> {
        Self::open(unfinished.path.clone())
    }

    fn open(path: PathBuf) -> Result<Journal, String> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path).map_err(|e| format!("cannot open the journal {}: {e}", path.display()))?;
        Ok(Journal { path, file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and waits until it is on disk.
    pub fn record(&mut self, event: Event, action: Option<&Action>, run: &DefragRun) -> Result<(), String> {
        let record = Record { at: now(), event, action: action.cloned(), run: run.clone() };
        let mut line = serde_json::to_string(&record).map_err(|e| format!("cannot encode a journal record: {e}"))?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| format!("cannot write the journal {}: {e}", self.path.display()))
    }

    /// Records the end and keeps the journal under a name with the end time.
    pub fn finish(mut self, run: &DefragRun) -> Result<PathBuf, String> {
        self.record(Event::Finished, None, run)?;
        let kept = self.path.with_file_name(format!(
            "{}-{}.jsonl",
            self.path.file_stem().and_then(|s| s.to_str()).unwrap_or("defrag"),
            stamp()
        ));
        fs::rename(&self.path, &kept).map_err(|e| format!("cannot rename {}: {e}", self.path.display()))?;
        Ok(kept)
    }
}

/// A file-name-safe UTC time stamp.
fn stamp() -> String {
    now().replace([':', '.'], "")
}
