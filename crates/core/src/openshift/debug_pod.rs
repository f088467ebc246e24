//! What `oc debug node/NAME` does, through the API: a privileged pod on the
//! node with the host's root at `/host`, in a temporary namespace that allows
//! it, commands run with `chroot /host` through exec, files read back the same
//! way. Every namespace made here carries [`DEBUG_LABEL`], so what a crashed
//! run left is found and removed by the next one.

use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, AttachParams, DeleteParams, ListParams, PostParams};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{within, Connection};
use crate::hosts::{Fetch, HostOutput};

/// The label on every namespace etcd-console makes for a debug pod (value: what for).
pub const DEBUG_LABEL: &str = "etcd-console.io/debug";
/// The node and the remote directory a debug namespace was made for.
pub const NODE_ANNOTATION: &str = "etcd-console.io/node";
pub const REMOTE_DIR_ANNOTATION: &str = "etcd-console.io/remote-dir";
/// The run that made a debug namespace: `<host> <pid> <start>`, the process's start time in
/// clock ticks since boot (a pid taken again by another process does not pass for it).
pub const OWNER_ANNOTATION: &str = "etcd-console.io/owner";
/// `oc debug`'s image when the cluster has no `openshift/tools:latest` image stream tag.
pub const FALLBACK_IMAGE: &str = "registry.redhat.io/rhel8/support-tools";
/// The buffer between the exec stream and the file being fetched.
const FETCH_BUFFER: usize = 4 << 20;
/// How long the debug pod lives if nobody removes it (a crash of this program).
const POD_LIFETIME: Duration = Duration::from_secs(2 * 3600);
/// The container's waiting reasons that will not resolve by waiting.
const HOPELESS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// A debug pod running on a node.
#[derive(Clone)]
pub struct DebugPod {
    pub connection: Connection,
    pub namespace: String,
    pub pod: String,
    pub node: String,
    pub image: String,
}

/// A debug namespace found from an earlier run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub namespace: String,
    pub node: String,
    pub remote_dir: String,
    /// Its debug pod still runs: another run (someone else's backup) may be using it.
    pub in_use: bool,
    /// The run that made it was on this host and has ended (killed before its clean-up).
    pub owner_gone: bool,
}

/// This host's name.
fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    Some(name.trim().to_string()).filter(|n| !n.is_empty())
}

/// When process `pid` started (field 22 of /proc/PID/stat), if it lives.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after its end.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// This process, as [`OWNER_ANNOTATION`] says it.
pub fn this_run() -> String {
    let pid = std::process::id();
    format!("{} {pid} {}", host_name().unwrap_or_default(), start_ticks(pid).map(|t| t.to_string()).unwrap_or_default())
}

/// The run `owner` names was on this host and no longer lives. Unknown (another host, no
/// annotation, an unreadable one) is not gone: a run elsewhere may still use the namespace.
pub fn owner_gone(owner: &str) -> bool {
    let mut parts = owner.split(' ');
    let (Some(host), Some(pid), Some(started)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(pid), Ok(started)) = (pid.parse::<u32>(), started.parse::<u64>()) else { return false };
    if host.is_empty() || host_name().as_deref() != Some(host) {
        return false;
    }
    start_ticks(pid) != Some(started)
}

/// The image `oc debug node/NAME` runs: the release's `openshift/tools:latest` image stream
/// tag, else Red Hat's support-tools image. `Err` only when the API could not be asked.
pub async fn tools_image(connection: &Connection) -> Result<String, String> {
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("image.openshift.io", "v1", "ImageStreamTag"),
        "imagestreamtags",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(connection.client.clone(), "openshift", &resource);
    match super::get_object(connection, api, "imagestreamtag openshift/tools:latest", "tools:latest").await {
        Ok(Some(tag)) => Ok(tag
            .pointer("/image/dockerImageReference")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| FALLBACK_IMAGE.to_string())),
        Ok(None) => Ok(FALLBACK_IMAGE.to_string()),
        // Not served at all (no image API): oc falls back the same way.
        Err(super::ApiError::NotFound { .. }) => Ok(FALLBACK_IMAGE.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// `<node>-debug`, as oc names it, cut to a valid pod name.
fn pod_name(node: &str) -> String {
    let base: String = node
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '-' })
        .collect();
    let base = base.trim_matches('-');
    let base: String = base.chars().take(57).collect();
    format!("{}-debug", if base.is_empty() { "node" } else { &base })
}

/// The temporary namespace: privileged pods allowed (pod security admission and the
/// SCC label sync off), no project node selector, labelled to be found again.
pub fn namespace_object(name: &str, purpose: &str, node: &str, remote_dir: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                DEBUG_LABEL: purpose,
                "pod-security.kubernetes.io/enforce": "privileged",
                "pod-security.kubernetes.io/audit": "privileged",
                "pod-security.kubernetes.io/warn": "privileged",
                "security.openshift.io/scc.podSecurityLabelSync": "false",
            },
            "annotations": {
                "openshift.io/node-selector": "",
                NODE_ANNOTATION: node,
                REMOTE_DIR_ANNOTATION: remote_dir,
                OWNER_ANNOTATION: this_run(),
            },
        },
    })
}

/// The pod `oc debug node/NAME` makes: on the node, host network and PID namespace,
/// privileged as root, the host's `/` at `/host`.
pub fn pod_object(name: &str, node: &str, image: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "annotations": {"debug.openshift.io/source-resource": format!("/v1, Resource=nodes/{node}")},
            "labels": {"app.kubernetes.io/managed-by": "etcd-console"},
        },
        "spec": {
            "nodeName": node,
            "hostNetwork": true,
            "hostPID": true,
            "restartPolicy": "Never",
            "activeDeadlineSeconds": POD_LIFETIME.as_secs(),
            "tolerations": [{"operator": "Exists"}],
            "volumes": [{"name": "host", "hostPath": {"path": "/", "type": "Directory"}}],
            "containers": [{
                "name": "container-00",
                "image": image,
                "command": ["/bin/sh", "-c", format!("sleep {}", POD_LIFETIME.as_secs())],
                "securityContext": {"privileged": true, "runAsUser": 0},
                "volumeMounts": [{"name": "host", "mountPath": "/host"}],
            }],
        },
    })
}

/// Why the pod will not run, if it will not: a hopeless waiting reason, or a pod that ended.
fn stuck(pod: &Value) -> Option<String> {
    let phase = pod.pointer("/status/phase").and_then(Value::as_str).unwrap_or("");
    if phase == "Failed" || phase == "Succeeded" {
        let reason = pod.pointer("/status/reason").and_then(Value::as_str).unwrap_or("");
        return Some(format!(
            "it ended ({phase}{})",
            if reason.is_empty() { String::new() } else { format!(": {reason}") }
        ));
    }
    let statuses = pod.pointer("/status/containerStatuses").and_then(Value::as_array)?;
    statuses.iter().find_map(|s| {
        let waiting = s.pointer("/state/waiting")?;
        let reason = waiting.get("reason").and_then(Value::as_str)?;
        HOPELESS.contains(&reason).then(|| {
            let message = waiting.get("message").and_then(Value::as_str).unwrap_or("");
            format!("{reason}{}", if message.is_empty() { String::new() } else { format!(": {message}") })
        })
    })
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 4];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

/// A new debug namespace's name: `etcd-console-<purpose>-<random>`.
pub fn namespace_name(purpose: &str) -> String {
    format!("etcd-console-{purpose}-{}", random_suffix())
}

impl DebugPod {
    /// Makes the namespace `namespace` and the pod, and waits (within `limit`) until it runs. On
    /// any failure, what was made is removed again before the error is returned.
    pub async fn start(
        connection: &Connection,
        namespace: &str,
        node: &str,
        image: &str,
        purpose: &str,
        remote_dir: &str,
        limit: Duration,
    ) -> Result<DebugPod, String> {
        let namespace = namespace.to_string();
        let namespaces: Api<Namespace> = Api::all(connection.client.clone());
        let object: Namespace = serde_json::from_value(namespace_object(&namespace, purpose, node, remote_dir))
            .map_err(|e| e.to_string())?;
        within(
            connection,
            &format!("creating namespace {namespace}"),
            namespaces.create(&PostParams::default(), &object),
        )
        .await
        .map_err(|e| e.to_string())?;
        tracing::info!(target: "audit", action = "debug namespace created", namespace = %namespace, node = %node, "done");
        let pod = DebugPod {
            connection: connection.clone(),
            namespace: namespace.clone(),
            pod: pod_name(node),
            node: node.to_string(),
            image: image.to_string(),
        };
        match pod.create_and_wait(limit).await {
            Ok(()) => Ok(pod),
            Err(e) => {
                let removed =
                    pod.remove().await.err().map(|r| format!("; and removing it failed: {r}")).unwrap_or_default();
                Err(format!("{e}{removed}"))
            }
        }
    }

    async fn create_and_wait(&self, limit: Duration) -> Result<(), String> {
        let pods: Api<Pod> = Api::namespaced(self.connection.client.clone(), &self.namespace);
        let object: Pod =
            serde_json::from_value(pod_object(&self.pod, &self.node, &self.image)).map_err(|e| e.to_string())?;
        let what = format!("creating the debug pod {}/{} on {}", self.namespace, self.pod, self.node);
        within(&self.connection, &what, pods.create(&PostParams::default(), &object))
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(target: "audit", action = "debug pod created", namespace = %self.namespace, pod = %self.pod,
            node = %self.node, image = %self.image, "done");
        let started = Instant::now();
        loop {
            let read = within(&self.connection, &format!("reading pod {}", self.pod), pods.get(&self.pod)).await;
            match read.map(|p| serde_json::to_value(p).unwrap_or_default()) {
                Ok(pod) => {
                    if pod.pointer("/status/phase").and_then(Value::as_str) == Some("Running") {
                        return Ok(());
                    }
                    if let Some(why) = stuck(&pod) {
                        return Err(format!(
                            "the debug pod on {} (image {}) will not run: {why}{}",
                            self.node,
                            self.image,
                            if why.contains("Image") { " (--debug-image names another image)" } else { "" }
                        ));
                    }
                }
                Err(e) if started.elapsed() > limit => return Err(e.to_string()),
                Err(_) => {}
            }
            if started.elapsed() > limit {
                return Err(format!(
                    "the debug pod on {} (image {}) was not Running within {}",
                    self.node,
                    self.image,
                    humantime::format_duration(limit)
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// `chroot /host ARGV...` in the pod, within `limit`; `env` goes before the chroot.
    pub async fn run(&self, env: &[(String, String)], argv: &[String], limit: Duration) -> Result<HostOutput, String> {
        let mut full: Vec<String> = Vec::new();
        if !env.is_empty() {
            full.push("env".into());
            full.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
        }
        full.extend(["chroot".to_string(), "/host".to_string()]);
        full.extend(argv.iter().cloned());
        let out = crate::wizard::restore::pods::exec(&self.connection, &self.namespace, &self.pod, &full, None, limit)
            .await?;
        Ok(HostOutput { exit_code: out.exit_code, stdout: out.stdout, stderr: out.stderr })
    }

    /// `chroot /host cat PATH`, its stdout as a stream.
    pub async fn fetch(&self, path: &str) -> Result<Fetch, String> {
        let api: Api<Pod> = Api::namespaced(self.connection.client.clone(), &self.namespace);
        // kube's pipe between the socket and the reader holds 1 KiB unless told: a wake-up per KiB.
        let params = AttachParams::default().stdin(false).stdout(true).stderr(true).max_stdout_buf_size(FETCH_BUFFER);
        let argv = ["chroot", "/host", "cat", path];
        let mut process =
            within(&self.connection, &format!("exec `cat {path}` in {}", self.pod), api.exec(&self.pod, argv, &params))
                .await
                .map_err(|e| e.to_string())?;
        let stdout = process.stdout().ok_or("the exec gave no stdout stream")?;
        let stderr = process.stderr();
        let status = process.take_status().ok_or("the exec gave no status stream")?;
        let shown = path.to_string();
        let ended: BoxFuture<'static, Result<(), String>> = Box::pin(async move {
            let mut said = String::new();
            if let Some(mut stderr) = stderr {
                let _ = stderr.read_to_string(&mut said).await;
            }
            let status = status.await;
            drop(process);
            match status {
                Some(s) if s.status.as_deref() == Some("Success") => Ok(()),
                Some(s) => Err(format!("cat {shown} failed: {} {}", s.message.unwrap_or_default(), said.trim())),
                None => Err(format!("cat {shown}: the exec ended without a status (connection lost?)")),
            }
        });
        let reader: Pin<Box<dyn AsyncRead + Send>> = Box::pin(stdout);
        Ok(Fetch { reader, ended })
    }

    /// Deletes the namespace (and the pod with it).
    pub async fn remove(&self) -> Result<(), String> {
        remove_namespace(&self.connection, &self.namespace).await
    }
}

/// Deletes a debug namespace; one already gone counts as removed.
pub async fn remove_namespace(connection: &Connection, namespace: &str) -> Result<(), String> {
    let namespaces: Api<Namespace> = Api::all(connection.client.clone());
    let what = format!("deleting namespace {namespace}");
    match within(connection, &what, namespaces.delete(namespace, &DeleteParams::background())).await {
        Ok(_) | Err(super::ApiError::NotFound { .. }) => {
            tracing::info!(target: "audit", action = "debug namespace deleted", namespace = %namespace, "done");
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The debug namespaces of `purpose` that earlier runs left.
pub async fn leftovers(connection: &Connection, purpose: &str) -> Result<Vec<Leftover>, String> {
    let namespaces: Api<Namespace> = Api::all(connection.client.clone());
    let params = ListParams::default().labels(&format!("{DEBUG_LABEL}={purpose}"));
    let listed =
        within(connection, &format!("listing namespaces -l {DEBUG_LABEL}={purpose}"), namespaces.list(&params))
            .await
            .map_err(|e| e.to_string())?;
    let mut found = Vec::new();
    for n in listed.items.into_iter().filter(|n| n.metadata.deletion_timestamp.is_none()) {
        let annotation =
            |key: &str| n.metadata.annotations.as_ref().and_then(|a| a.get(key)).cloned().unwrap_or_default();
        let namespace = n.metadata.name.clone().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(connection.client.clone(), &namespace);
        let what = format!("listing pods in {namespace}");
        let in_use = match within(connection, &what, pods.list(&ListParams::default())).await {
            Ok(list) => list.items.iter().any(|p| {
                p.metadata.deletion_timestamp.is_none()
                    && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            }),
            // Not known: taken as in use, so nobody's running backup is cut short.
            Err(_) => true,
        };
        found.push(Leftover {
            namespace,
            node: annotation(NODE_ANNOTATION),
            remote_dir: annotation(REMOTE_DIR_ANNOTATION),
            in_use,
            owner_gone: owner_gone(&annotation(OWNER_ANNOTATION)),
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pod_is_oc_debugs_privileged_root_pod_on_the_node_with_the_host_at_slash_host() {
        let pod = pod_object("master-0-debug", "master-0", "quay.io/tools@sha256:1");
        assert_eq!(pod["spec"]["nodeName"], "master-0");
        assert_eq!(pod["spec"]["hostPID"], true);
        assert_eq!(pod["spec"]["volumes"][0]["hostPath"]["path"], "/");
        assert_eq!(pod["spec"]["containers"][0]["volumeMounts"][0]["mountPath"], "/host");
        assert_eq!(pod["spec"]["containers"][0]["securityContext"]["privileged"], true);
        let ns = namespace_object("etcd-console-backup-x", "backup", "master-0", "/home/core/assets/b");
        assert_eq!(ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "privileged");
        assert_eq!(ns["metadata"]["labels"][DEBUG_LABEL], "backup");
        assert_eq!(pod_name("ip-10-0-1-2.ec2.internal"), "ip-10-0-1-2-ec2-internal-debug");
    }

    #[test]
    fn a_namespace_whose_run_ended_on_this_host_is_gone_one_from_elsewhere_is_not_known() {
        let me = this_run();
        assert!(!owner_gone(&me), "this run lives: {me}");
        let mut parts = me.split(' ');
        let (host, pid, started) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let earlier: u64 = started.parse().unwrap_or(1);
        // The same pid since taken by another process (another start time), or a pid that ended.
        assert!(owner_gone(&format!("{host} {pid} {}", earlier.saturating_sub(1))));
        let ended = std::process::Command::new("true").spawn().and_then(|mut c| c.wait().map(|_| c.id()));
        let ended = ended.unwrap_or_else(|e| panic!("{e}"));
        assert!(owner_gone(&format!("{host} {ended} 1")));
        let namespace = namespace_object("etcd-console-backup-x", "backup", "master-0", "/b");
        assert_eq!(namespace["metadata"]["annotations"][OWNER_ANNOTATION], me.as_str());
        for unknown in ["", "bastion-2 1 1", &format!("{host} x 1"), &format!("other-host {pid} {started}")] {
            assert!(!owner_gone(unknown), "{unknown:?}");
        }
    }

    #[test]
    fn an_image_that_cannot_be_pulled_is_hopeless_a_pull_in_progress_is_not() {
        let waiting = |reason: &str| json!({"status": {"phase": "Pending", "containerStatuses": [{"state": {"waiting": {"reason": reason, "message": "m"}}}]}});
        assert!(stuck(&waiting("ImagePullBackOff")).is_some_and(|w| w.contains("ImagePullBackOff")));
        assert_eq!(stuck(&waiting("ContainerCreating")), None);
        assert!(stuck(&json!({"status": {"phase": "Failed", "reason": "DeadlineExceeded"}})).is_some());
    }
}
