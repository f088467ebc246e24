//! The one place the backup wizard touches etcd, the API and the disk: it
//! performs what the engine asks and reports progress by message. The stream
//! has a limit on silence, not on length (a large database takes its time).

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use kube::api::{Api, ListParams};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{files, Action, BackupRun, Checked, Observed, OpenShiftFacts, Streamed, Verified};
use crate::etcd::connect::{describe, timed};
use crate::openshift::{within, Connection};
use crate::settings::KubeSettings;
use crate::wizard::defrag::executor::Executor as EtcdReader;

/// Where the encryption key secrets live and how they are labelled.
pub const KEYS_NAMESPACE: &str = "openshift-config-managed";
pub const KEYS_LABEL: &str = "encryption.apiserver.operator.openshift.io/component";

/// What the front ends hear while a backup goes on.
#[derive(Debug, Clone)]
pub enum Progress {
    Began(Action),
    /// Bytes received of the stream, of about `total` (the member's DB size).
    Bytes {
        done: u64,
        total: u64,
        rate: f64,
        eta: Option<Duration>,
    },
    Run(Box<BackupRun>),
}

pub struct BackupExecutor {
    pub etcd: EtcdReader,
    /// None: no kubeconfig (nothing to check there).
    pub kube: Option<KubeSettings>,
    /// Read the encryption key secrets during the check.
    pub want_keys: bool,
    /// The key secrets read during the check; kept in memory only, never logged.
    secrets: Mutex<Vec<Value>>,
    /// How the nodes are reached (`--via ssh`, and the lab's hosts).
    pub shell: Option<std::sync::Arc<dyn crate::hosts::HostShell>>,
    /// `--debug-image`: the debug pod's image instead of the one `oc debug` would choose.
    pub debug_image: Option<String>,
    /// How long a debug pod may take to run (an image pull included).
    pub pod_start_limit: Duration,
    /// How long cluster-backup.sh may take.
    pub script_limit: Duration,
    /// The API connection of the check, kept for the debug pod.
    pub(super) connection: tokio::sync::Mutex<Option<Connection>>,
    /// The debug pod of this run, once made.
    pub(super) session: tokio::sync::Mutex<Option<crate::openshift::debug_pod::DebugPod>>,
    /// The debug namespace this run makes (named before it is made: an abort mid-way still finds it).
    pub(super) namespace: String,
}

impl BackupExecutor {
    pub fn new(etcd: EtcdReader, kube: Option<KubeSettings>, want_keys: bool) -> Self {
        Self {
            etcd,
            kube,
            want_keys,
            secrets: Mutex::new(Vec::new()),
            shell: None,
            debug_image: None,
            pod_start_limit: Duration::from_secs(300),
            script_limit: Duration::from_secs(600),
            connection: tokio::sync::Mutex::new(None),
            session: tokio::sync::Mutex::new(None),
            namespace: crate::openshift::debug_pod::namespace_name("backup"),
        }
    }

    /// The executor for a source: the members reached afresh, the API when there is a kubeconfig.
    pub async fn for_source(
        source: &crate::etcd::source::EtcdSource,
        quota_bytes: u64,
        kube: Option<&KubeSettings>,
        want_keys: bool,
    ) -> Result<BackupExecutor, String> {
        let reached = source.reach().await.map_err(|e| format!("etcd not found through the cluster: {e}"))?;
        let kube = kube.filter(|k| crate::openshift::configured(k) || k.hosted_cluster.is_some()).cloned();
        Ok(BackupExecutor::new(EtcdReader { reached, quota_bytes }, kube, want_keys))
    }

    pub async fn perform(
        &self,
        action: &Action,
        abort: &CancellationToken,
        progress: &mpsc::UnboundedSender<Progress>,
    ) -> Observed {
        match action {
            Action::Check { dir, keys_dir } => {
                let (view, (openshift, keys_problem)) = tokio::join!(self.etcd.observe(), self.openshift());
                let stale_parts_removed = tokio::task::block_in_place(|| files::remove_stale_parts(dir));
                let (dir_names, keys_dir_names) = (names_in(Some(dir)), names_in(keys_dir.as_deref()));
                Observed::Checked(Box::new(Checked {
                    view,
                    openshift,
                    keys_problem,
                    now: SystemTime::now(),
                    dir_names,
                    keys_dir_names,
                    stale_parts_removed,
                }))
            }
            Action::Prepare { remote } => {
                let prepared = self.prepare(remote);
                let result = tokio::select! {
                    result = prepared => result,
                    () = abort.cancelled() => Err("aborted by the user".into()),
                };
                Observed::Prepared(result)
            }
            // Not cut short by an abort: the script is left to finish, so what it writes is removed.
            Action::RunScript { remote, dir, keys_dir } => {
                Observed::ScriptRan(self.run_script(remote, dir, keys_dir.as_deref()).await)
            }
            Action::Fetch { remote, path, part, snapshot, expected, stall_limit } => {
                let fetching = self.fetch(remote, path, part, *snapshot, *expected, *stall_limit, progress);
                let result = tokio::select! {
                    result = fetching => result,
                    () = abort.cancelled() => Err("aborted by the user".into()),
                };
                Observed::Fetched(result)
            }
            Action::TearDown { remote } => Observed::TornDown(self.tear_down(remote).await),
            Action::VerifyArchive { part, bytes } => {
                let (part, bytes) = (part.clone(), *bytes);
                let checked = tokio::task::spawn_blocking(move || {
                    let len = std::fs::metadata(&part).map(|m| m.len()).map_err(|e| e.to_string())?;
                    if len != bytes {
                        return Err(format!("{} holds {len} bytes, the node sent {bytes}", part.display()));
                    }
                    crate::backup::archive::check(&part)
                })
                .await;
                Observed::ArchiveVerified(checked.unwrap_or_else(|e| Err(format!("the check stopped: {e}"))))
            }
            Action::Stream { member_id, part, expected, stall_limit, .. } => {
                let streaming = self.stream(*member_id, part, *expected, *stall_limit, progress);
                let result = tokio::select! {
                    result = streaming => result,
                    () = abort.cancelled() => Err("aborted by the user".into()),
                };
                Observed::Streamed(result)
            }
            Action::Verify { part, bytes } => {
                let (part, bytes) = (part.clone(), *bytes);
                let checked = tokio::task::spawn_blocking(move || verify(&part, bytes)).await;
                Observed::Verified(checked.unwrap_or_else(|e| Err(format!("the check stopped: {e}"))))
            }
            Action::SaveKeys { path } => tokio::task::block_in_place(|| {
                let items = self.secrets.lock().map(|s| s.clone()).unwrap_or_default();
                let count = items.len();
                let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
                let result = serde_json::to_vec_pretty(&list)
                    .map_err(|e| e.to_string())
                    .and_then(|bytes| {
                        if let Some(dir) = path.parent() {
                            files::prepare_dir(dir)?;
                        }
                        files::write_new(path, &bytes)?;
                        files::read_back_keys(path, count)
                    })
                    .map(|()| count);
                Observed::KeysSaved(result)
            }),
            // Disk work off the async workers (a sync of a large directory can take a while).
            Action::Publish { part, snapshot, archive, metadata_path, metadata } => tokio::task::block_in_place(|| {
                Observed::Published(files::publish(part, snapshot, archive.as_ref(), metadata_path, metadata))
            }),
            Action::List { dir } => tokio::task::block_in_place(|| Observed::Listed(files::list(dir))),
            Action::Remove { backups } => tokio::task::block_in_place(|| {
                Observed::Removed(backups.iter().map(|b| (b.metadata_path.clone(), files::remove(b))).collect())
            }),
            Action::CleanUp { paths } => tokio::task::block_in_place(|| {
                for path in paths {
                    files::remove_part(path);
                }
                Observed::CleanedUp
            }),
            Action::Finished(_) => Observed::CleanedUp,
        }
    }

    /// The OpenShift side: whether it is OpenShift, its encryption, rollouts,
    /// version, and (when asked) the encryption key secrets.
    async fn openshift(&self) -> (OpenShiftFacts, Option<String>) {
        let Some(kube) = &self.kube else {
            let problem = self.want_keys.then(|| "no kubeconfig to read them with".to_string());
            return (OpenShiftFacts::NotConfigured, problem);
        };
        if kube.hosted_cluster.is_some() {
            let why = "a hosted cluster's etcd: the management cluster's operators do not describe it".to_string();
            let problem = self.want_keys.then(|| "not read for a hosted cluster (see its HostedCluster)".to_string());
            return (OpenShiftFacts::NotOpenShift { why }, problem);
        }
        if !crate::openshift::configured(kube) {
            let problem = self.want_keys.then(|| "no kubeconfig to read them with".to_string());
            return (OpenShiftFacts::NotConfigured, problem);
        }
        let connection = match crate::openshift::connect(kube).await {
            Ok(connection) => connection,
            Err(e) => {
                let why = e.to_string();
                return (OpenShiftFacts::Unreachable { why: why.clone() }, self.want_keys.then_some(why));
            }
        };
        let version = match cluster_version(&connection).await {
            Ok(version) => version,
            Err(Unread::NotServed(why)) => {
                return (OpenShiftFacts::NotOpenShift { why: why.clone() }, self.want_keys.then_some(why))
            }
            Err(Unread::Failed(why)) => {
                return (OpenShiftFacts::Unreachable { why: why.clone() }, self.want_keys.then_some(why))
            }
        };
        let (report, secrets) = tokio::join!(crate::openshift::report::observe(&connection), async {
            if self.want_keys {
                Some(key_secrets(&connection).await)
            } else {
                None
            }
        });
        let (key_secrets, keys_problem) = match secrets {
            Some(Ok(items)) => {
                let names = items
                    .iter()
                    .filter_map(|s| s.pointer("/metadata/name").and_then(Value::as_str).map(str::to_string))
                    .collect();
                if let Ok(mut kept) = self.secrets.lock() {
                    *kept = items;
                }
                (names, None)
            }
            Some(Err(e)) => (Vec::new(), Some(e)),
            None => (Vec::new(), None),
        };
        // Without APIServer cluster the type would read as identity: say nothing rather than that.
        let apiserver_read = !report.problems.iter().any(|p| p.contains("apiservers.config.openshift.io/cluster"));
        let (control_plane, proxy) = tokio::join!(control_plane(&connection), proxy(&connection));
        let mut problems = report.problems;
        let control_plane = control_plane.unwrap_or_else(|e| {
            problems.push(format!("nodes: {e}"));
            Vec::new()
        });
        let proxy = proxy.unwrap_or_else(|e| {
            problems.push(format!("proxies.config.openshift.io/cluster: {e}"));
            Vec::new()
        });
        if let Ok(mut kept) = self.connection.try_lock() {
            *kept = Some(connection.clone());
        }
        let facts = OpenShiftFacts::Read {
            control_plane,
            proxy,
            encryption: report.encryption.filter(|_| apiserver_read),
            rollouts: report.rollouts,
            cluster_operators: report.cluster_operators,
            cluster_version: version.0,
            desired_version: version.1,
            key_secrets,
            problems,
        };
        (facts, keys_problem)
    }

    async fn stream(
        &self,
        member_id: u64,
        part: &Path,
        expected: u64,
        stall_limit: Duration,
        progress: &mpsc::UnboundedSender<Progress>,
    ) -> Result<Streamed, String> {
        let endpoint = self.etcd.endpoint_of(member_id).await?;
        let connector = &self.etcd.reached.connector;
        let client = connector.client(&endpoint).await.map_err(|e| connector.explain_at(&endpoint, &e))?;
        if let Some(dir) = part.parent() {
            files::prepare_dir(dir)?;
        }
        let file = files::create_part(part)?;
        // Whatever goes wrong from here — an error, a bad trailer, the user's abort dropping this
        // future — the part made here goes; one it did not make is never touched.
        let mut made = PartFile { path: part, keep: false };
        let streamed = self.stream_into(file, client, &endpoint, part, expected, stall_limit, progress).await;
        made.keep = streamed.as_ref().is_ok_and(|s| s.trailer_matches);
        streamed
    }

    #[allow(clippy::too_many_arguments)]
    async fn stream_into(
        &self,
        mut file: std::fs::File,
        mut client: etcd_client::Client,
        endpoint: &str,
        part: &Path,
        expected: u64,
        stall_limit: Duration,
        progress: &mpsc::UnboundedSender<Progress>,
    ) -> Result<Streamed, String> {
        let connector = &self.etcd.reached.connector;
        let started = Instant::now();
        let mut stream = timed(stall_limit, async { client.snapshot().await.map_err(describe) })
            .await
            .map_err(|e| connector.explain_at(endpoint, &e))?;
        let mut hashes = Hashes::new();
        let mut total = expected + 32;
        let mut last_report = Instant::now();
        loop {
            let message = timed(stall_limit, async { stream.message().await.map_err(describe) })
                .await
                .map_err(|e| format!("{e} (after {} bytes)", hashes.bytes))?;
            let Some(message) = message else { break };
            let blob = message.blob();
            file.write_all(blob).map_err(|e| format!("cannot write {}: {e}", part.display()))?;
            hashes.update(blob);
            // etcd says how much is left: the truest total once it speaks.
            if message.remaining_bytes() > 0 || hashes.bytes > 0 {
                total = total.max(hashes.bytes + message.remaining_bytes());
            }
            if last_report.elapsed() >= Duration::from_millis(200) {
                last_report = Instant::now();
                let _ = progress.send(bytes_progress(hashes.bytes, total, started.elapsed()));
            }
        }
        tokio::task::block_in_place(|| file.sync_all()).map_err(|e| format!("cannot sync {}: {e}", part.display()))?;
        let _ = progress.send(bytes_progress(hashes.bytes, hashes.bytes, started.elapsed()));
        if hashes.bytes == 0 {
            return Err("the member sent nothing".into());
        }
        Ok(hashes.finish(started.elapsed()))
    }
}

/// The names in a directory (none when it is absent or unreadable).
pub(super) fn names_in(dir: Option<&Path>) -> Vec<String> {
    let Some(entries) = dir.and_then(|d| std::fs::read_dir(d).ok()) else { return Vec::new() };
    entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()
}

/// The control-plane nodes: name, Ready, InternalIP.
async fn control_plane(connection: &Connection) -> Result<Vec<super::NodeFacts>, String> {
    use crate::wizard::restore::survey::{internal_ip, is_control_plane, node_ready};
    let api: Api<k8s_openapi::api::core::v1::Node> = Api::all(connection.client.clone());
    let nodes = crate::openshift::list_of(connection, api, "nodes", &ListParams::default())
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    Ok(nodes
        .iter()
        .filter(|n| is_control_plane(n))
        .map(|n| super::NodeFacts {
            name: n.metadata.name.clone().unwrap_or_default(),
            ready: node_ready(n),
            ip: internal_ip(n),
        })
        .collect())
}

/// The cluster-wide proxy's variables as the runbook exports them (none when it has none).
async fn proxy(connection: &Connection) -> Result<Vec<(String, String)>, String> {
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("config.openshift.io", "v1", "Proxy"), "proxies");
    let api: Api<DynamicObject> = Api::all_with(connection.client.clone(), &resource);
    let Some(proxy) =
        crate::openshift::get_object(connection, api, "proxy/cluster", "cluster").await.or_else(|e| match e {
            crate::openshift::ApiError::NotFound { .. } => Ok(None),
            e => Err(e.to_string()),
        })?
    else {
        return Ok(Vec::new());
    };
    let field = |name: &str| {
        proxy
            .pointer(&format!("/status/{name}"))
            .or_else(|| proxy.pointer(&format!("/spec/{name}")))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    Ok([("HTTP_PROXY", "httpProxy"), ("HTTPS_PROXY", "httpsProxy"), ("NO_PROXY", "noProxy")]
        .iter()
        .filter_map(|(variable, name)| field(name).map(|v| (variable.to_string(), v)))
        .collect())
}

/// The part file being written, removed when dropped unless kept.
pub(super) struct PartFile<'a> {
    pub(super) path: &'a Path,
    pub(super) keep: bool,
}

impl Drop for PartFile<'_> {
    fn drop(&mut self) {
        if !self.keep {
            files::remove_part(self.path);
        }
    }
}

pub(super) fn bytes_progress(done: u64, total: u64, took: Duration) -> Progress {
    let rate = if took.as_secs_f64() > 0.0 { done as f64 / took.as_secs_f64() } else { 0.0 };
    let eta = (rate > 0.0 && total > done).then(|| Duration::from_secs_f64((total - done) as f64 / rate));
    Progress::Bytes { done, total, rate, eta }
}

/// The SHA-256 of all but the last 32 bytes of the stream (etcd's trailer
/// covers those), computed as the bytes arrive; the whole file's follows from
/// it at the end (one pass over the bytes, not two).
pub(super) struct Hashes {
    body: ring::digest::Context,
    /// The last 32 bytes seen (the trailer, once the stream ends).
    tail: Vec<u8>,
    bytes: u64,
}

impl Hashes {
    pub(super) fn new() -> Self {
        Self { body: ring::digest::Context::new(&ring::digest::SHA256), tail: Vec::with_capacity(64), bytes: 0 }
    }

    pub(super) fn update(&mut self, blob: &[u8]) {
        self.bytes += blob.len() as u64;
        if blob.len() >= 32 {
            self.body.update(&self.tail);
            let (body, tail) = blob.split_at(blob.len() - 32);
            self.body.update(body);
            self.tail.clear();
            self.tail.extend_from_slice(tail);
        } else {
            self.tail.extend_from_slice(blob);
            let extra = self.tail.len().saturating_sub(32);
            if extra > 0 {
                self.body.update(&self.tail[..extra]);
                self.tail.drain(..extra);
            }
        }
    }

    pub(super) fn finish(self, took: Duration) -> Streamed {
        let hex = |d: ring::digest::Digest| d.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>();
        let mut whole = self.body.clone();
        whole.update(&self.tail);
        let body = self.body.finish();
        let trailer_matches = self.tail.len() == 32 && self.bytes % 512 == 32 && body.as_ref() == self.tail.as_slice();
        Streamed { bytes: self.bytes, took, sha256: hex(whole.finish()), trailer_matches }
    }
}

/// Reads the written file back: its length (the stream's, with etcd's trailer), the bbolt
/// structure, revision, keys. The SHA-256 trailer was checked as the bytes arrived.
fn verify(part: &Path, expected_len: u64) -> Result<Verified, String> {
    let file = crate::backup::snapshot::open(part)?;
    if file.len() != expected_len {
        return Err(format!("{} holds {} bytes, the stream brought {expected_len}", part.display(), file.len()));
    }
    let status = crate::backup::snapshot::structure(&file)?;
    Ok(Verified {
        revision: status.revision,
        hash: status.hash,
        total_keys: status.total_key,
        total_size: status.total_size,
    })
}

enum Unread {
    /// The API does not serve OpenShift's config group.
    NotServed(String),
    Failed(String),
}

/// The version the cluster runs (its newest completed update) and the one it is going to.
async fn cluster_version(connection: &Connection) -> Result<(Option<String>, Option<String>), Unread> {
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("config.openshift.io", "v1", "ClusterVersion"),
        "clusterversions",
    );
    let api: Api<DynamicObject> = Api::all_with(connection.client.clone(), &resource);
    let limit = connection.request_timeout;
    let what = "reading clusterversion/version";
    let object = match crate::openshift::within_limit(connection, limit, what, api.get("version")).await {
        Ok(object) => serde_json::to_value(object).unwrap_or_default(),
        Err(crate::openshift::ApiError::NotFound { .. }) => {
            return Err(Unread::NotServed(format!(
                "{} serves no clusterversions.config.openshift.io/version",
                connection.server
            )))
        }
        Err(e) => return Err(Unread::Failed(e.to_string())),
    };
    let completed = object.pointer("/status/history").and_then(Value::as_array).and_then(|h| {
        h.iter()
            .find(|e| e.get("state").and_then(Value::as_str) == Some("Completed"))
            .and_then(|e| e.get("version").and_then(Value::as_str))
            .map(str::to_string)
    });
    let desired = object.pointer("/status/desired/version").and_then(Value::as_str).map(str::to_string);
    Ok((completed, desired))
}

/// The encryption key secrets, stripped of what the API server sets, ready for `kubectl apply -f`.
async fn key_secrets(connection: &Connection) -> Result<Vec<Value>, String> {
    let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(connection.client.clone(), KEYS_NAMESPACE);
    let list = within(
        connection,
        &format!("listing secrets -l {KEYS_LABEL} in {KEYS_NAMESPACE}"),
        api.list(&ListParams::default().labels(KEYS_LABEL)),
    )
    .await?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|s| serde_json::to_value(s).ok())
        .map(|mut s| {
            if let Some(meta) = s.get_mut("metadata").and_then(Value::as_object_mut) {
                for field in ["uid", "resourceVersion", "creationTimestamp", "managedFields", "generation"] {
                    meta.remove(field);
                }
            }
            if let Some(object) = s.as_object_mut() {
                object.insert("apiVersion".into(), json!("v1"));
                object.insert("kind".into(), json!("Secret"));
            }
            s
        })
        .collect())
}

/// Drives the run to its end, reporting each step; every step is in the audit log.
pub async fn drive(
    run: &mut BackupRun,
    executor: &BackupExecutor,
    abort: CancellationToken,
    progress: mpsc::UnboundedSender<Progress>,
) {
    loop {
        if abort.is_cancelled() {
            run.abort();
        }
        let action = run.next_action();
        if let Action::Finished(outcome) = &action {
            tracing::info!(target: "audit", action = "backup finished", outcome = ?outcome,
                snapshot = ?run.decision.as_ref().map(|d| d.snapshot.clone()), "done");
            let _ = progress.send(Progress::Run(Box::new(run.clone())));
            return;
        }
        audit(&action);
        let _ = progress.send(Progress::Began(action.clone()));
        let observed = executor.perform(&action, &abort, &progress).await;
        run.observe(observed);
        let _ = progress.send(Progress::Run(Box::new(run.clone())));
    }
}

fn audit(action: &Action) {
    match action {
        Action::Stream { member, part, .. } => {
            tracing::info!(target: "audit", action = "snapshot", member = %member, part = %part.display(), "begin")
        }
        Action::SaveKeys { path } => {
            tracing::info!(target: "audit", action = "save encryption keys", path = %path.display(), "begin")
        }
        Action::Publish { snapshot, .. } => {
            tracing::info!(target: "audit", action = "publish backup", snapshot = %snapshot.display(), "begin")
        }
        Action::Remove { backups } => tracing::info!(target: "audit", action = "remove old backups (--keep)",
            backups = ?backups.iter().map(|b| b.metadata_path.display().to_string()).collect::<Vec<_>>(), "begin"),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot-like stream: 1000 body bytes padded to 512-multiple, then its SHA-256.
    fn stream() -> Vec<u8> {
        let mut body: Vec<u8> = (0..1024u32).map(|i| (i * 7 % 251) as u8).collect();
        let digest = ring::digest::digest(&ring::digest::SHA256, &body);
        body.extend_from_slice(digest.as_ref());
        body
    }

    #[test]
    fn the_trailer_is_checked_whatever_the_chunk_sizes() {
        let bytes = stream();
        for chunk in [1, 5, 31, 32, 33, 100, 4096] {
            let mut hashes = Hashes::new();
            for part in bytes.chunks(chunk) {
                hashes.update(part);
            }
            let streamed = hashes.finish(Duration::from_secs(1));
            assert!(streamed.trailer_matches, "chunks of {chunk}");
            assert_eq!(streamed.bytes, bytes.len() as u64);
            let whole = ring::digest::digest(&ring::digest::SHA256, &bytes);
            let hex: String = whole.as_ref().iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(streamed.sha256, hex);
        }
        let mut flipped = stream();
        flipped[100] ^= 1;
        let mut hashes = Hashes::new();
        for part in flipped.chunks(64) {
            hashes.update(part);
        }
        assert!(!hashes.finish(Duration::from_secs(1)).trailer_matches);
    }
}
