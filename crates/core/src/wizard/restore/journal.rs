//! The restore run's journal: the whole run as one JSON line, written (and
//! flushed to disk) before each step and after it, so a console that died, a
//! lost ssh session or a closed laptop finds the run and resumes at the step
//! it was in. Keyed by the API server's URL: after the point of no return the
//! API may be gone, and the journal must still be found.

use std::path::{Path, PathBuf};

use crate::journal::run::{self, Journalled, RunJournal};
use crate::journal::JournalError;
use crate::wizard::restore::RestoreRun;

impl Journalled for RestoreRun {
    const PREFIX: &'static str = "restore";
    const WHAT: &'static str = "restore";

    fn finished_for_good(&self) -> bool {
        RestoreRun::finished_for_good(self)
    }
}

pub type RestoreJournal = RunJournal<RestoreRun>;

/// The unfinished restore of this API server in `dir`: its last whole record.
pub fn unfinished(dir: &Path, server: &str) -> Result<Option<(RestoreRun, PathBuf)>, JournalError> {
    run::unfinished(dir, server)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wizard::restore::{Options, Procedure};
    use std::fs;
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
