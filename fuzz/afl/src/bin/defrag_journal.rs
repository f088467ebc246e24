//! The defrag wizard's journal, read to resume an unfinished run.
fn main() {
    let dir = etcd_console_afl::scratch_dir("defrag_journal");
    let path = dir.join("defrag-0000000000000007.jsonl");
    afl::fuzz!(|data: &[u8]| {
        if std::fs::write(&path, data).is_err() {
            return;
        }
        if let Err(e) = etcd_console_core::wizard::defrag::journal::unfinished(&dir, 7) {
            assert!(!e.to_string().is_empty());
        }
    });
}
