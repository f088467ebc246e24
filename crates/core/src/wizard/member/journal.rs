//! The member replacement's journal: the whole run as one JSON line, written
//! (and flushed to disk) before each step acts and after it ends, so a run that
//! died finds where it was. Keyed by the API server's URL: one replacement of
//! a cluster at a time, whichever member.

use std::path::{Path, PathBuf};

use super::MemberRun;
use crate::journal::run::{self, Journalled, RunJournal};
use crate::journal::JournalError;

impl Journalled for MemberRun {
    const PREFIX: &'static str = "member";
    const WHAT: &'static str = "member replacement";

    fn finished_for_good(&self) -> bool {
        MemberRun::finished_for_good(self)
    }
}

pub type MemberJournal = RunJournal<MemberRun>;

/// The unfinished replacement of this API server in `dir`: its last whole record.
pub fn unfinished(dir: &Path, server: &str) -> Result<Option<(MemberRun, PathBuf)>, JournalError> {
    run::unfinished(dir, server)
}

/// Why a run could not be opened: the journal (locked, unreadable), or another member's run
/// half done (to be resumed first).
#[derive(Debug)]
pub enum NotOpened {
    Journal(JournalError),
    OtherMember(String),
}

impl std::fmt::Display for NotOpened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotOpened::Journal(e) => e.fmt(f),
            NotOpened::OtherMember(text) => f.write_str(text),
        }
    }
}

/// The run to drive for `wanted`, with its journal (locked): the unfinished run of the same member
/// resumed (with the path it was found in), or a new one. A run of another member that has begun
/// must be finished first; one that has not is given up for the new one.
pub fn open_run(
    dir: &Path,
    server: &str,
    wanted: &super::Options,
) -> Result<(MemberRun, MemberJournal, Option<PathBuf>), NotOpened> {
    // The lock first: a second run of this cluster is refused before anything is read.
    let journal = MemberJournal::open(dir, server).map_err(NotOpened::Journal)?;
    // A restore half done changes the members under a replacement: it is finished first.
    if let Some((_, path)) = crate::wizard::restore::journal::unfinished(dir, server).map_err(NotOpened::Journal)? {
        return Err(NotOpened::OtherMember(format!(
            "an unfinished restore of this cluster is in {}: finish it (or abort it) before replacing a member",
            path.display()
        )));
    }
    let found = unfinished(dir, server).map_err(NotOpened::Journal)?;
    match found {
        Some((mut found, path)) if found.is_of(&wanted.member) => {
            found.options.read_only = wanted.read_only;
            found.resume();
            Ok((found, journal, Some(path)))
        }
        Some((found, path)) if found.begun() => Err(NotOpened::OtherMember(format!(
            "an unfinished replacement of {} is in {}: resume it first (the same member), or move the journal away to start anew",
            found.member_label(),
            path.display()
        ))),
        _ => Ok((MemberRun::new(wanted.clone()), journal, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wizard::member::Options;

    #[test]
    fn a_replacement_is_found_again_under_its_own_name_and_one_runs_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let server = "https://api.lab:6443";
        let mut journal = MemberJournal::open(dir.path(), server).unwrap();
        let mut run = MemberRun::new(Options { member: "master-1".into(), ..Options::default() });
        run.quorum_guard_off = true;
        journal.record(&run).unwrap();
        assert!(journal.path().ends_with("member-api.lab_6443.jsonl"), "{}", journal.path().display());
        let locked = MemberJournal::open(dir.path(), server).err().unwrap();
        assert!(locked.to_string().starts_with("another member replacement run of this cluster is going on"));
        drop(journal);
        let (found, _) = unfinished(dir.path(), server).unwrap().unwrap();
        assert!(found.quorum_guard_off && found.options.member == "master-1");
        assert!(crate::wizard::restore::journal::unfinished(dir.path(), server).unwrap().is_none());
    }

    #[test]
    fn an_unfinished_restore_of_the_cluster_comes_first() {
        let dir = tempfile::tempdir().unwrap();
        let server = "https://api.lab:6443";
        let restore = crate::wizard::restore::RestoreRun::new(
            crate::wizard::restore::Procedure::Standalone,
            "/b".into(),
            crate::wizard::restore::Options::default(),
        );
        let mut journal = crate::wizard::restore::journal::RestoreJournal::open(dir.path(), server).unwrap();
        journal.record(&restore).unwrap();
        drop(journal);
        let wanted = Options { member: "master-1".into(), ..Options::default() };
        let refused = open_run(dir.path(), server, &wanted).err().unwrap();
        assert!(refused.to_string().starts_with("an unfinished restore of this cluster is in "), "{refused}");
    }
}
