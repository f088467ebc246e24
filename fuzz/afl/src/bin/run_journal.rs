//! The run journal (restore and member replacement), read to resume a run.
use etcd_console_core::journal::run;
use etcd_console_core::wizard::{member::MemberRun, restore};

fn main() {
    let dir = etcd_console_afl::scratch_dir("run_journal");
    let server = "https://api.cluster.example:6443";
    // The same bytes as each run's journal: the format is one.
    let paths = [dir.join("restore-api.cluster.example_6443.jsonl"), dir.join("member-api.cluster.example_6443.jsonl")];
    afl::fuzz!(|data: &[u8]| {
        if paths.iter().any(|path| std::fs::write(path, data).is_err()) {
            return;
        }
        if let Err(e) = restore::journal::unfinished(&dir, server) {
            assert!(!e.to_string().is_empty());
        }
        if let Err(e) = run::unfinished::<MemberRun>(&dir, server) {
            assert!(!e.to_string().is_empty());
        }
    });
}
