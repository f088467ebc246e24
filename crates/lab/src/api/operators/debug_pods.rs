//! The kubelet of a node debug pod (`oc debug node/NAME`, and etcd-console's
//! backup): a pod bound to a lab host with the host's `/` mounted starts
//! Running on it at once — unless the host has the `debug-image-pull` fault,
//! where it stays Pending, its image failing to pull.

use serde_json::{json, Value};

use super::{idx, Operators};
use crate::api::seed;
use crate::api::store::{now_rfc3339, str_at};
use crate::hosts::faults::{self, Fault};

/// The node a pod mounts the root of (`hostPath: /`), when it is bound to one.
pub fn host_root_pod_node(pod: &Value) -> Option<String> {
    let node = str_at(pod, "/spec/nodeName");
    let mounts_root = pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .is_some_and(|volumes| volumes.iter().any(|v| str_at(v, "/hostPath/path") == "/"));
    (!node.is_empty() && mounts_root).then(|| node.to_string())
}

impl Operators {
    /// A new debug pod: its container started, or its image failing.
    pub(super) fn debug_pod_created(&self, pod: &Value) {
        let Some(node) = host_root_pod_node(pod) else { return };
        if !str_at(pod, "/status/phase").is_empty() && str_at(pod, "/status/phase") != "Pending" {
            return;
        }
        let Some(link) = &self.hosts else { return };
        let Some(host) = link.inventory.host(&node) else { return };
        let (namespace, name) =
            (str_at(pod, "/metadata/namespace").to_string(), str_at(pod, "/metadata/name").to_string());
        let container =
            pod.pointer("/spec/containers/0/name").and_then(Value::as_str).unwrap_or("container-00").to_string();
        let image = pod.pointer("/spec/containers/0/image").and_then(Value::as_str).unwrap_or("").to_string();
        let at = now_rfc3339();
        let pull_fails = faults::has(&link.inventory.lab_dir, Fault::DebugImagePull, Some(&node));
        let ip = host.ip.clone();
        let _ = self.store.modify(idx("", "Pod"), &namespace, &name, |p| {
            p["status"] = json!({
                "phase": "Pending",
                "hostIP": ip,
                "startTime": at,
                "containerStatuses": [{
                    "name": container,
                    "image": image,
                    "imageID": "",
                    "ready": false,
                    "restartCount": 0,
                    "started": false,
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                }],
            });
            if pull_fails {
                p["status"]["containerStatuses"][0]["state"] = json!({"waiting": {
                    "reason": "ImagePullBackOff",
                    "message": format!("Back-off pulling image \"{image}\""),
                }});
            } else {
                seed::pod_running(p, &at);
            }
        });
    }
}
