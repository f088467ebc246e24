//! What the AFL++ targets in `src/bin/` share: a scratch directory for the
//! readers that take a path, and the OpenShift object readers all at once.
//! Each target feeds the fuzzer's bytes to the same public entry points as
//! the structured (proptest) targets in `crates/core/src/fuzz.rs` and
//! `crates/lab/src/fuzz.rs`; a panic is a crash, a loop a hang.

use std::path::PathBuf;


/// A directory of this process's own (AFL runs one target per process).
pub fn scratch_dir(target: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("etcd-console-afl-{target}-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot make {}: {e}", dir.display());
        std::process::exit(2);
    }
    dir
}

