//! Test fixtures from `../shared/referee/openshift/`: OpenShift objects captured
//! from real clusters (see its SOURCES.md), so the readers are checked against
//! what OpenShift writes, not against our simulator.

use std::path::PathBuf;

/// The referee's directory.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/referee/openshift")
}

/// One object, as `kubectl get -o json` gives it: `path` under the referee's directory.
pub fn object(path: &str) -> serde_json::Value {
    let file = dir().join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("referee {}: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("referee {}: {e}", file.display()))
}
