//! The encryption wizard's hands: the readings, the SelfSubjectAccessReview,
//! the merge patch, the waits, and the backup first (driven through the
//! backup engine). Every request runs under the request timeout.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    Action, Answer, EncryptionRun, EncryptionType, HostedEncryption, KeySecret, Observed, OperatorReading, Reading,
};
use crate::etcd::source::EtcdSource;
use crate::openshift::report::{api as report_api, ENCRYPTING};
use crate::openshift::{get_object as get, model, within, within_limit, ApiError, Connection};
use crate::settings::KubeSettings;

/// What the three API servers' ClusterOperators are called.
const API_SERVER_OPERATORS: &[&str] = &["kube-apiserver", "openshift-apiserver", "authentication"];
use crate::wizard::backup::executor::{KEYS_LABEL, KEYS_NAMESPACE};
const MODE_ANNOTATION: &str = "encryption.apiserver.operator.openshift.io/mode";
/// The field manager our patch is recorded under.
pub use crate::openshift::FIELD_MANAGER;

/// Where the backup first goes, and what reaches etcd for it.
#[derive(Clone)]
pub struct BackupFirst {
    pub source: EtcdSource,
    /// What the DB sizes are measured against.
    pub quota_bytes: u64,
    /// The longest the snapshot stream may stay silent.
    pub stall_limit: Duration,
    pub kube: KubeSettings,
    pub dir: PathBuf,
    pub keys_dir: Option<PathBuf>,
}

pub struct EncryptionExecutor {
    pub connection: Connection,
    pub backup: Option<BackupFirst>,
}

#[derive(Debug, Clone)]
pub enum Progress {
    Began(Action),
    Backup(crate::wizard::backup::executor::Progress),
    Run(Box<EncryptionRun>),
}

fn text(value: &Value, pointer: &str) -> Option<String> {
    value.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

fn conditions(object: &Value) -> impl Iterator<Item = &Value> {
    object.pointer("/status/conditions").and_then(Value::as_array).into_iter().flatten()
}

/// One operator object: its `Encrypted` condition and the encryption controllers'
/// `Encryption...Degraded` conditions that hold (the installer's and others' come and go
/// during the kube-apiserver rollout every migration makes; the ClusterOperator's Degraded,
/// which has a grace period, speaks for them).
pub fn operator_reading(resource: &str, object: &Value) -> OperatorReading {
    let encrypted = conditions(object).find(|c| c["type"] == "Encrypted").map(|c| super::Condition {
        status: text(c, "/status").unwrap_or_default(),
        reason: text(c, "/reason").unwrap_or_default(),
        message: text(c, "/message").unwrap_or_default(),
        since: text(c, "/lastTransitionTime"),
    });
    let degraded = conditions(object)
        .filter(|c| {
            c["type"].as_str().is_some_and(|t| t.starts_with("Encryption") && t.ends_with("Degraded"))
                && c["status"] == "True"
        })
        .map(|c| format!("{}: {}", text(c, "/type").unwrap_or_default(), text(c, "/message").unwrap_or_default()))
        .collect();
    OperatorReading { resource: resource.to_string(), encrypted, degraded }
}

impl EncryptionExecutor {
    pub async fn connect(kube: &KubeSettings) -> Result<Connection, String> {
        Ok(crate::openshift::connect(kube).await?)
    }

    /// Everything the engine decides on, asked concurrently; a part that fails is named in `problems`.
    pub async fn read(&self, rights: bool) -> Reading {
        let c = &self.connection;
        let op = "operator.openshift.io";
        let all = ListParams::default();
        let cluster_operators_api = report_api(c, "config.openshift.io", "ClusterOperator", "clusteroperators");
        let (apiserver, oas, kas, auth, cos, version, keys, hosted, may_patch) = tokio::join!(
            get(
                c,
                report_api(c, "config.openshift.io", "APIServer", "apiservers"),
                "apiservers.config.openshift.io/cluster",
                "cluster"
            ),
            get(
                c,
                report_api(c, op, ENCRYPTING[0].1, ENCRYPTING[0].2),
                "openshiftapiservers.operator.openshift.io/cluster",
                "cluster"
            ),
            get(
                c,
                report_api(c, op, ENCRYPTING[1].1, ENCRYPTING[1].2),
                "kubeapiservers.operator.openshift.io/cluster",
                "cluster"
            ),
            get(
                c,
                report_api(c, op, ENCRYPTING[2].1, ENCRYPTING[2].2),
                "authentications.operator.openshift.io/cluster",
                "cluster"
            ),
            within(c, "listing clusteroperators", cluster_operators_api.list(&all)),
            get(
                c,
                report_api(c, "config.openshift.io", "ClusterVersion", "clusterversions"),
                "clusterversions.config.openshift.io/version",
                "version"
            ),
            key_secrets(c),
            // HostedClusters only on the full readings (not every poll while following).
            async {
                if rights {
                    hosted_clusters(c).await
                } else {
                    Ok(Vec::new())
                }
            },
            async {
                if rights {
                    may_patch_apiserver(c).await.ok()
                } else {
                    None
                }
            },
        );
        let mut problems = Vec::new();
        let mut not_openshift = false;
        let (spec_type, resource_version) = match apiserver {
            Ok(Some(object)) => (
                Some(text(&object, "/spec/encryption/type").unwrap_or_default()),
                text(&object, "/metadata/resourceVersion"),
            ),
            Ok(None) => {
                not_openshift = true;
                problems.push(format!("{} serves no apiservers.config.openshift.io/cluster", c.server));
                (None, None)
            }
            Err(e) => {
                problems.push(e.to_string());
                (None, None)
            }
        };
        let mut operators = Vec::new();
        for ((resource, _, plural), object) in ENCRYPTING.iter().zip([oas, kas, auth]) {
            match object {
                Ok(Some(object)) => operators.push(operator_reading(resource, &object)),
                Ok(None) if not_openshift => {}
                Ok(None) => problems.push(format!("{plural}.operator.openshift.io/cluster: not found (404)")),
                Err(e) => problems.push(e.to_string()),
            }
        }
        let cluster_operators = match cos {
            Ok(list) => crate::openshift::report::cluster_operators_named(&list, API_SERVER_OPERATORS),
            Err(_) if not_openshift => Vec::new(),
            Err(e) => {
                problems.push(e.to_string());
                Vec::new()
            }
        };
        let (cluster_id, version) = match version {
            Ok(Some(v)) => (
                text(&v, "/spec/clusterID"),
                v.pointer("/status/history")
                    .and_then(Value::as_array)
                    .and_then(|h| h.iter().find(|e| e["state"] == "Completed"))
                    .and_then(|e| text(e, "/version")),
            ),
            _ => (None, None),
        };
        let keys = match keys {
            Ok(keys) => keys,
            Err(e) => {
                if !not_openshift {
                    problems.push(e);
                }
                Vec::new()
            }
        };
        let hosted_clusters = match hosted {
            Ok(hosted) => hosted,
            Err(e) => {
                problems.push(e.to_string());
                Vec::new()
            }
        };
        Reading {
            server: c.server.clone(),
            cluster_id,
            version,
            spec_type,
            resource_version,
            operators,
            cluster_operators,
            keys,
            hosted_clusters,
            may_patch,
            not_openshift,
            problems,
        }
    }

    async fn patch(&self, to: EncryptionType, resource_version: Option<&str>) -> Result<(), String> {
        let c = &self.connection;
        let mut body = json!({"spec": {"encryption": {"type": to.as_str()}}});
        // The patch applies only to the object as read: a change in between is a 409, not a silent overwrite.
        if let Some(rv) = resource_version {
            body["metadata"] = json!({"resourceVersion": rv});
        }
        let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
        let apiservers = report_api(c, "config.openshift.io", "APIServer", "apiservers");
        let limit = c.limit();
        let answer = match tokio::time::timeout(limit, apiservers.patch("cluster", &params, &Patch::Merge(&body))).await
        {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => ApiError::from_kube(PATCHING_APISERVER, &e),
            // Said as it always was: the API did not answer.
            Err(_) => ApiError::Transport {
                what: PATCHING_APISERVER.into(),
                detail: format!("ServiceError: no answer within {}", humantime::format_duration(limit)),
            },
        };
        match patch_failure(&answer) {
            PatchFailure::Answered(why) => Err(why),
            // Sent, maybe applied: what APIServer holds now says which.
            PatchFailure::Unknown(why) => {
                let now = get(c, apiservers, "apiservers.config.openshift.io/cluster", "cluster").await;
                match now.map(|o| o.and_then(|o| text(&o, "/spec/encryption/type"))) {
                    Ok(Some(kind)) if kind == to.as_str() => {
                        tracing::info!(target: "audit", action = "patch apiservers/cluster", "the answer was lost; APIServer holds the new type");
                        Ok(())
                    }
                    Ok(kind) => Err(format!(
                        "{why}; APIServer cluster still holds {}: nothing was changed",
                        kind.as_deref().unwrap_or("identity")
                    )),
                    Err(again) => Err(format!(
                        "{why}; whether it was applied is not known ({again}): look with `etcd-console encryption status` before anything else"
                    )),
                }
            }
        }
    }

    async fn backup_first(
        &self,
        abort: &CancellationToken,
        progress: &mpsc::UnboundedSender<Progress>,
    ) -> Result<String, String> {
        use crate::wizard::backup::{BackupOptions, BackupRun, Outcome};
        let Some(first) = &self.backup else { return Err("no backup directory (give --backup-dir)".into()) };
        // A direct snapshot: what the migration could change is etcd's data, and it is quick.
        let options = BackupOptions {
            keys_dir: first.keys_dir.clone(),
            snapshot_only: true,
            ..BackupOptions::into_dir(first.dir.clone(), first.stall_limit)
        };
        let mut run = BackupRun::new(options)?;
        let executor = crate::wizard::backup::executor::BackupExecutor::for_source(
            &first.source,
            first.quota_bytes,
            Some(&first.kube),
            first.keys_dir.is_some(),
        )
        .await?;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let forward = progress.clone();
        let relay = tokio::spawn(async move {
            while let Some(p) = rx.recv().await {
                let _ = forward.send(Progress::Backup(p));
            }
        });
        crate::wizard::backup::executor::drive(&mut run, &executor, abort.clone(), tx).await;
        let _ = relay.await;
        match run.outcome() {
            Some(Outcome::Completed) => {
                Ok(run.decision.as_ref().map(|d| d.snapshot.display().to_string()).unwrap_or_else(|| "taken".into()))
            }
            Some(other) => Err(match other {
                Outcome::Refused { reason } | Outcome::Failed { reason } => reason.clone(),
                Outcome::Completed => String::new(),
            }),
            None => Err("the backup did not finish".into()),
        }
    }

    pub async fn perform(
        &self,
        action: &Action,
        abort: &CancellationToken,
        progress: &mpsc::UnboundedSender<Progress>,
    ) -> Observed {
        match action {
            Action::Read { rights } => Observed::Read(Box::new(self.read(*rights).await)),
            Action::Backup => Observed::BackedUp(self.backup_first(abort, progress).await),
            Action::Patch { to, resource_version, .. } => {
                Observed::Patched(self.patch(*to, resource_version.as_deref()).await)
            }
            Action::Wait(pause) => {
                tokio::select! {
                    _ = tokio::time::sleep(*pause) => {}
                    () = abort.cancelled() => {}
                }
                Observed::Waited
            }
            // Answered by the driver, never performed.
            Action::AskYes(_) | Action::Finished(_) => Observed::Waited,
        }
    }
}

/// How a patch failed: the API answered no (nothing changed), or the answer was lost.
#[derive(Debug, PartialEq)]
pub enum PatchFailure {
    Answered(String),
    Unknown(String),
}

const PATCHING_APISERVER: &str = "patching apiservers.config.openshift.io/cluster";

pub fn patch_failure(error: &ApiError) -> PatchFailure {
    match error {
        ApiError::Conflict { message, .. } => PatchFailure::Answered(format!(
            "APIServer cluster changed since it was read (409 Conflict: {message}): nothing was changed; read it again"
        )),
        // A server error may come after the write, and no answer says nothing: not known.
        error if !error.answered_no() => PatchFailure::Unknown(error.to_string()),
        error => PatchFailure::Answered(format!("{error}: nothing was changed")),
    }
}

/// The key secrets' names, components and modes: a metadata-only list, so no key crosses the wire.
async fn key_secrets(connection: &Connection) -> Result<Vec<KeySecret>, String> {
    let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(connection.client.clone(), KEYS_NAMESPACE);
    let list = within(
        connection,
        &format!("listing secrets -l {KEYS_LABEL} in {KEYS_NAMESPACE}"),
        api.list_metadata(&ListParams::default().labels(KEYS_LABEL)),
    )
    .await?;
    let mut keys: Vec<KeySecret> = list
        .items
        .into_iter()
        .map(|s| {
            let meta = s.metadata;
            KeySecret {
                name: meta.name.unwrap_or_default(),
                component: meta.labels.as_ref().and_then(|l| l.get(KEYS_LABEL)).cloned().unwrap_or_default(),
                mode: meta.annotations.as_ref().and_then(|a| a.get(MODE_ANNOTATION)).cloned().unwrap_or_default(),
                created: meta.creation_timestamp.map(|t| t.0.to_string()),
            }
        })
        .collect();
    keys.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(keys)
}

/// HostedClusters (none when the API does not serve them) with their encryption key's presence.
async fn hosted_clusters(connection: &Connection) -> Result<Vec<HostedEncryption>, ApiError> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("hypershift.openshift.io", "v1beta1", "HostedCluster"),
        "hostedclusters",
    );
    let hosted: Api<DynamicObject> = Api::all_with(connection.client.clone(), &resource);
    let what = "listing hostedclusters.hypershift.openshift.io";
    let list =
        match within_limit(connection, connection.request_timeout, what, hosted.list(&ListParams::default())).await {
            Ok(list) => list,
            Err(ApiError::NotFound { .. }) => return Ok(Vec::new()),
            // Said as it always was.
            Err(ApiError::Timeout { .. }) => {
                return Err(ApiError::Timeout {
                    what: "listing hostedclusters".into(),
                    server: Some(connection.server.clone()),
                    limit: None,
                })
            }
            Err(e) => return Err(e),
        };
    let mut out = Vec::new();
    for object in list.items.iter().filter_map(|o| serde_json::to_value(o).ok()) {
        let state = model::hosted_cluster(&object, SystemTime::now());
        let key_present = match &state.active_key {
            Some(name) => {
                let secrets: Api<k8s_openapi::api::core::v1::Secret> =
                    Api::namespaced(connection.client.clone(), &state.namespace);
                match tokio::time::timeout(connection.request_timeout, secrets.get_metadata_opt(name)).await {
                    Ok(Ok(found)) => Some(found.is_some()),
                    _ => None,
                }
            }
            None => None,
        };
        out.push(HostedEncryption {
            namespace: state.namespace,
            name: state.name,
            kind: state.secret_encryption,
            active_key: state.active_key,
            key_present,
            kms_provider: state.kms_provider,
            kms_active_key: state.kms_active_key,
        });
    }
    Ok(out)
}

/// SelfSubjectAccessReview for `patch apiservers.config.openshift.io/cluster`.
async fn may_patch_apiserver(connection: &Connection) -> Result<bool, ApiError> {
    let what = crate::openshift::Access {
        verb: "patch",
        group: "config.openshift.io",
        resource: "apiservers",
        subresource: None,
        name: Some("cluster"),
    };
    crate::openshift::may(connection, &what).await
}

/// Drives the run to its end. `AskYes` is answered through `answers` (the
/// front end asks the user); `abort` stops it (before the patch: nothing changed).
pub async fn drive(
    run: &mut EncryptionRun,
    executor: &EncryptionExecutor,
    answers: &mut mpsc::UnboundedReceiver<Answer>,
    abort: CancellationToken,
    progress: mpsc::UnboundedSender<Progress>,
) {
    loop {
        if abort.is_cancelled() {
            run.abort();
        }
        let action = run.next_action();
        match &action {
            Action::Finished(outcome) => {
                tracing::info!(target: "audit", action = "encryption migration finished", to = run.target.as_str(),
                    outcome = ?outcome, "done");
                let _ = progress.send(Progress::Run(Box::new(run.clone())));
                return;
            }
            Action::AskYes(_) => {
                let _ = progress.send(Progress::Run(Box::new(run.clone())));
                let no = Answer { yes: false, backup_first: None };
                let answer = tokio::select! {
                    answer = answers.recv() => answer.unwrap_or(no),
                    () = abort.cancelled() => no,
                };
                run.answer_with(answer);
                continue;
            }
            Action::Patch { from, to, resource_version } => {
                tracing::info!(target: "audit", action = "patch apiservers/cluster spec.encryption.type",
                    from = from.as_str(), to = to.as_str(), resource_version = ?resource_version, "sending");
            }
            Action::Backup => {
                tracing::info!(target: "audit", action = "backup before the encryption migration", "starting")
            }
            _ => {}
        }
        let _ = progress.send(Progress::Began(action.clone()));
        let observed = executor.perform(&action, &abort, &progress).await;
        if let Observed::Patched(result) = &observed {
            tracing::info!(target: "audit", action = "patch apiservers/cluster", result = ?result, "answered");
        }
        run.observe(observed, SystemTime::now());
        // An abort that came meanwhile is taken before the front end sees the new stage (no question after it).
        if abort.is_cancelled() {
            run.abort();
        }
        let _ = progress.send(Progress::Run(Box::new(run.clone())));
    }
}
