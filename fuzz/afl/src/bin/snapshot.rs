//! A snapshot file: status, verify, structure, analyze and a key's value.
use etcd_console_core::backup::{analyze, snapshot};

fn main() {
    let path = etcd_console_afl::scratch_dir("snapshot").join("fuzzed.db");
    afl::fuzz!(|data: &[u8]| {
        if std::fs::write(&path, data).is_err() {
            return;
        }
        let Ok(file) = snapshot::open(&path) else { return };
        let status = snapshot::status(&file);
        let verified = snapshot::verify(&file);
        let _ = snapshot::structure(&file);
        let _ = analyze::analyze(&file);
        let _ = snapshot::latest_value(&file, b"/kubernetes.io/pods/openshift-etcd/etcd-1");
        if let Ok((_, verified_status)) = &verified {
            // What verify vouches for, status reads the same.
            assert_eq!(status.as_ref().ok(), Some(verified_status));
        }
    });
}
