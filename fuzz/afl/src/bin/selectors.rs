//! Label and field selectors as kubectl sends them (`-l`, `--field-selector`).
use etcd_console_lab::api::selectors::{FieldSelector, LabelSelector};
use serde_json::json;

fn main() {
    let pod = json!({
        "metadata": {"name": "etcd-master-0", "namespace": "openshift-etcd",
                     "labels": {"app": "etcd", "k8s-app": "etcd", "etcd": "true", "revision": "3"}},
        "spec": {"nodeName": "master-0", "restartPolicy": "Always"},
        "status": {"phase": "Running", "podIP": "10.0.0.10"}
    });
    let odd = json!([1, {"a": null}]);
    afl::fuzz!(|data: &[u8]| {
        let text = String::from_utf8_lossy(data);
        match LabelSelector::parse(&text) {
            Ok(selector) => {
                let matched = selector.matches(&pod);
                let _ = selector.matches(&serde_json::Value::Null);
                if text.trim().is_empty() {
                    assert!(matched);
                }
            }
            Err(e) => assert!(e.starts_with("unable to parse requirement"), "{e}"),
        }
        for kind in ["Pod", "Node", "Secret", "CertificateSigningRequest", "Other"] {
            if let Ok(selector) = FieldSelector::parse(&text, kind) {
                let _ = selector.matches(&pod);
                let _ = selector.matches(&odd);
            }
        }
    });
}
