//! The hosted procedure's hands inside pods: `oc exec` and `oc cp` done with
//! the API's exec subresource, and the runbook's `etcd-data` helper Deployment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, ListParams};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::openshift::{explain, Connection};

/// What a command run in a pod gave.
#[derive(Debug, Clone, Default)]
pub struct PodOutput {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl PodOutput {
    pub fn text(&self) -> String {
        let both = format!("{}{}", self.stdout, self.stderr);
        both.trim().to_string()
    }
}

/// The runbook's helper Deployment: the etcd image sleeping, `claim` mounted at `/var/lib`.
pub fn data_deployment(name: &str, claim: &str, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name, "app.kubernetes.io/managed-by": "etcd-console"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [{
                        "name": "access",
                        "image": image,
                        "volumeMounts": [{"name": "data", "mountPath": "/var/lib"}],
                        "command": ["/usr/bin/bash"],
                        "args": ["-c", "while true; do\n  sleep 1000\ndone"],
                    }],
                    "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}],
                },
            },
        },
    })
}

/// The claim a helper Deployment mounts (to tell ours from another one of the same name).
pub fn mounted_claim(deployment: &Value) -> Option<String> {
    deployment
        .pointer("/spec/template/spec/volumes")
        .and_then(Value::as_array)?
        .iter()
        .find_map(|v| v.pointer("/persistentVolumeClaim/claimName").and_then(Value::as_str))
        .map(str::to_string)
}

/// The one Running pod of a helper Deployment (label `app=<deployment>`).
pub async fn running_pod(c: &Connection, namespace: &str, deployment: &str) -> Result<String, String> {
    let api: Api<Pod> = Api::namespaced(c.client.clone(), namespace);
    let params = ListParams::default().labels(&format!("app={deployment}"));
    let pods = crate::openshift::within(c, &format!("listing the {deployment} pods"), api.list(&params)).await?;
    pods.items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .and_then(|p| p.metadata.name.clone())
        .ok_or_else(|| format!("no Running pod of deployment/{deployment} in {namespace}"))
}

/// The exit code a finished exec's status says (0 for Success).
fn exit_code(status: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>) -> Result<i32, String> {
    let Some(status) = status else { return Err("the exec ended without a status (connection lost?)".into()) };
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    let code = status
        .details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .and_then(|causes| causes.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
        .and_then(|c| c.message.as_deref())
        .and_then(|m| m.trim().parse::<i32>().ok());
    match code {
        Some(code) => Ok(code),
        None => Err(format!("the exec failed: {}", status.message.unwrap_or_default())),
    }
}

/// Runs `argv` in the pod's first container (`oc exec`), within `limit`. With `input`,
/// the file is sent on its stdin and stdin is left open: the command must stop
/// reading by itself (`head -c <size>`), as only the newest API servers (v5
/// streams) can be told that stdin ended without closing the whole stream.
pub async fn exec(
    c: &Connection,
    namespace: &str,
    pod: &str,
    argv: &[String],
    input: Option<&Path>,
    limit: Duration,
) -> Result<PodOutput, String> {
    let api: Api<Pod> = Api::namespaced(c.client.clone(), namespace);
    // kube's pipes between the socket and the process's streams hold 1 KiB unless told: a wake-up
    // per KiB of a snapshot sent in.
    let params = AttachParams::default()
        .stdin(input.is_some())
        .stdout(true)
        .stderr(true)
        .max_stdin_buf_size(4 << 20)
        .max_stdout_buf_size(1 << 20);
    let shown = argv.join(" ");
    let input: Option<PathBuf> = input.map(Path::to_path_buf);
    let work = async {
        let mut process = api
            .exec(pod, argv.iter().map(String::as_str), &params)
            .await
            .map_err(|e| explain(&e, &format!("exec `{shown}` in pod {pod}")))?;
        let Some(status) = process.take_status() else { return Err(format!("exec `{shown}`: no status stream")) };
        let stdin = process.stdin();
        let mut stdout = process.stdout();
        let mut stderr = process.stderr();
        // The file fed, then the end awaited; a command that ends first (the pod gone,
        // an error) ends the feeding instead of leaving it blocked on a full stream.
        let fed_and_ended = async move {
            tokio::pin!(status);
            let mut held = None;
            if let (Some(path), Some(mut stdin)) = (input, stdin) {
                let feed = async {
                    let mut file = tokio::fs::File::open(&path)
                        .await
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                    tokio::io::copy(&mut file, &mut stdin)
                        .await
                        .map_err(|e| format!("sending {} into pod {pod}: {e}", path.display()))?;
                    stdin.flush().await.map_err(|e| format!("sending {} into pod {pod}: {e}", path.display()))?;
                    Ok::<_, String>(())
                };
                tokio::select! {
                    fed = feed => fed?,
                    ended = &mut status => return Ok(ended),
                }
                held = Some(stdin);
            }
            let ended = status.await;
            drop(held);
            Ok::<_, String>(ended)
        };
        let read_out = async {
            let mut bytes = Vec::new();
            if let Some(out) = stdout.as_mut() {
                let _ = out.read_to_end(&mut bytes).await;
            }
            bytes
        };
        let read_err = async {
            let mut bytes = Vec::new();
            if let Some(err) = stderr.as_mut() {
                let _ = err.read_to_end(&mut bytes).await;
            }
            bytes
        };
        let (ended, out, err) = tokio::join!(fed_and_ended, read_out, read_err);
        let exit_code = exit_code(ended?)?;
        process.abort();
        Ok(PodOutput {
            exit_code,
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
        })
    };
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "`{}` in pod {pod}: no end within {} (it may still be running there)",
            argv.join(" "),
            humantime::format_duration(limit)
        )),
    }
}

/// The SHA-256 of a local file, as hex (read off the async threads).
pub async fn sha256_of(path: &Path) -> Result<String, String> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || crate::backup::sha256_file(&path))
        .await
        .map_err(|e| format!("hashing the snapshot: {e}"))?
}
