//! Writes the seeds that only the product can write (journals, SPDY frames)
//! into `seeds/`: `cargo afl build --release --example write_seeds`, then run
//! it from `fuzz/afl`. The other seeds are copies of real samples.
use std::path::Path;

use etcd_console_core::journal::run::RunJournal;
use etcd_console_core::wizard::defrag::{self, journal, DefragRun, Figures, MemberFacts, Rule};
use etcd_console_core::wizard::{member, restore};

type Failure = Box<dyn std::error::Error>;

fn take(dir: &Path, from: &Path, to: &str) -> Result<(), Failure> {
    std::fs::create_dir_all(dir)?;
    std::fs::copy(from, dir.join(to))?;
    std::fs::remove_file(from)?;
    Ok(())
}

fn main() -> Result<(), Failure> {
    let scratch = tempfile_dir()?;
    let seeds = Path::new("seeds");

    let figures = Figures { db_size: 1 << 20, db_size_in_use: 1 << 19, quota: 8 << 30 };
    let members: Vec<MemberFacts> = (1..=3)
        .map(|id| MemberFacts {
            id,
            name: format!("master-{id}"),
            is_learner: false,
            figures: Some(figures),
            serves_reads: true,
        })
        .collect();
    let made = defrag::plan(&members, Some(1), &Rule::All)?;
    let run = DefragRun::new(&made, 7, defrag::Options::default(), false)?;
    let mut defrag_journal = journal::Journal::create(&scratch, 7)?;
    defrag_journal.record(journal::Event::Begin, Some(&defrag::Action::Observe), &run)?;
    defrag_journal.record(journal::Event::End, Some(&defrag::Action::Observe), &run)?;
    let path = defrag_journal.path().to_path_buf();
    drop(defrag_journal);
    take(&seeds.join("defrag_journal"), &path, "begun.jsonl")?;

    let server = "https://api.cluster.example:6443";
    let mut restore_journal = RunJournal::<restore::RestoreRun>::open(&scratch, server)?;
    let mut run = restore::RestoreRun::new(
        restore::Procedure::Standalone,
        "/home/core/backup".into(),
        restore::Options::default(),
    );
    restore_journal.record(&run)?;
    run.not_ready = vec!["master-1".into()];
    restore_journal.record(&run)?;
    let path = restore_journal.path().to_path_buf();
    drop(restore_journal);
    take(&seeds.join("run_journal"), &path, "restore.jsonl")?;

    let mut member_journal = RunJournal::<member::MemberRun>::open(&scratch, server)?;
    member_journal.record(&member::MemberRun::new(member::Options::default()))?;
    let path = member_journal.path().to_path_buf();
    drop(member_journal);
    take(&seeds.join("run_journal"), &path, "member.jsonl")?;

    let spdy = seeds.join("spdy_frames");
    std::fs::create_dir_all(&spdy)?;
    use etcd_console_lab::api::spdy::fuzz_seed_syn_stream;
    let mut session = Vec::new();
    for (stream, kind) in [(1, "error"), (3, "stdout"), (5, "stderr")] {
        session.extend(fuzz_seed_syn_stream(stream, &[("streamtype", kind), ("requestid", "0")])?);
    }
    std::fs::write(spdy.join("three-streams.bin"), &session)?;
    std::fs::write(spdy.join("port.bin"), fuzz_seed_syn_stream(1, &[("streamtype", "data"), ("port", "2379")])?)?;
    std::fs::remove_dir_all(&scratch)?;
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf, Failure> {
    let dir = std::env::temp_dir().join(format!("etcd-console-afl-seeds-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
