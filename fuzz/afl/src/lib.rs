//! What the AFL++ targets in `src/bin/` share: a scratch directory for the
//! readers that take a path, and the OpenShift object readers all at once.
//! Each target feeds the fuzzer's bytes to the same public entry points as
//! the structured (proptest) targets in `crates/core/src/fuzz.rs` and
//! `crates/lab/src/fuzz.rs`; a panic is a crash, a loop a hang.

use std::path::PathBuf;

use serde_json::Value;

/// A directory of this process's own (AFL runs one target per process).
pub fn scratch_dir(target: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("etcd-console-afl-{target}-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot make {}: {e}", dir.display());
        std::process::exit(2);
    }
    dir
}

/// Every reader of OpenShift objects, on one object.
pub fn read_every_way(object: &Value) {
    use etcd_console_core::openshift::{diagnosis, model, quota};
    let encryption = model::encryption(Some(object), &[("kube-apiserver", Some(object)), ("authentication", None)]);
    let rollout = model::rollout("etcd", object);
    let _ = model::cluster_operator(object);
    let _ = model::quorum_guard_off(object);
    let _ = model::banners(Some(object), std::slice::from_ref(&rollout), &encryption);
    let hosted = model::hosted_cluster(object, std::time::SystemTime::now());
    let _ = model::hosted_banners(&[hosted]);
    let _ = diagnosis::pod_facts(object);
    let _ = diagnosis::node_ready(object);
    let _ = diagnosis::slim_node(object);
    let _ = diagnosis::machine_facts(object);
    let _ = diagnosis::etcd_degraded(object);
    let _ = quota::container_quota(object);
    let _ = quota::pod_quota(object);
    let _ = quota::backend_quota_gib(object);
    if let Some(text) = object.as_str() {
        let _ = diagnosis::parse_time(text);
        let parts: Vec<&str> = text.split(' ').collect();
        let _ = quota::quota_in_command(&parts);
    }
}
