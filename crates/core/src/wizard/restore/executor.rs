//! The restore wizards' hands, as the engine's actions reach them: [`drive`]
//! hands each action to the survey (`survey.rs`: the backup, the cluster, its
//! hosts), to a step's act (`act.rs`) and the polling of its check (`check.rs`),
//! or to the re-check of a step a resumed run finds begun. Only these files talk
//! to the API, etcd and the hosts; what to do, in which order, and what is
//! refused is the engine's. This file keeps the dispatch and what the three share.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::Value;

use super::{Act, Action, Check, Observed, Operator, RestoreRun, Step, StepResult};
use crate::etcd::source::EtcdSource;
use crate::hosts::HostShell;
use crate::openshift::Connection;
use crate::settings::KubeSettings;

pub struct RestoreExecutor {
    pub connection: Result<Connection, String>,
    pub kube: KubeSettings,
    pub etcd: EtcdSource,
    pub hosts: std::sync::Arc<dyn HostShell>,
    pub backup_dir: PathBuf,
    /// How often a check is asked again.
    pub poll: Duration,
}

/// An API type: group, version, kind, plural.
pub(crate) type ApiType = (&'static str, &'static str, &'static str, &'static str);

pub(crate) fn dynamic(
    connection: &Connection,
    (group, version, kind, plural): ApiType,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    match namespace {
        Some(ns) => Api::namespaced_with(connection.client.clone(), ns, &resource),
        None => Api::all_with(connection.client.clone(), &resource),
    }
}

pub(super) const CLUSTER_VERSION: ApiType = ("config.openshift.io", "v1", "ClusterVersion", "clusterversions");
pub(super) const INFRASTRUCTURE: ApiType = ("config.openshift.io", "v1", "Infrastructure", "infrastructures");
pub(super) const NETWORK: ApiType = ("config.openshift.io", "v1", "Network", "networks");
pub(super) const PROXY: ApiType = ("config.openshift.io", "v1", "Proxy", "proxies");
pub(super) const NODE: ApiType = ("", "v1", "Node", "nodes");
pub(super) const POD: ApiType = ("", "v1", "Pod", "pods");
pub(super) const MACHINE: ApiType = ("machine.openshift.io", "v1beta1", "Machine", "machines");
pub(super) const HOSTED_CLUSTER: ApiType = ("hypershift.openshift.io", "v1beta1", "HostedCluster", "hostedclusters");
pub(super) const HOSTED_CONTROL_PLANE: ApiType =
    ("hypershift.openshift.io", "v1beta1", "HostedControlPlane", "hostedcontrolplanes");
pub(super) const WEBHOOKS: &[ApiType] = &[
    ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations"),
];
pub(super) const MACHINE_NAMESPACE: &str = "openshift-machine-api";
/// How long no new CSR must come before the approval step counts as done.
const CSR_QUIET: Duration = Duration::from_secs(30);

pub(super) fn operator_type(operator: Operator) -> ApiType {
    ("operator.openshift.io", "v1", operator.kind(), operator.plural())
}

pub(super) fn workload_type(kind: &str) -> ApiType {
    if kind == "StatefulSet" {
        ("apps", "v1", "StatefulSet", "statefulsets")
    } else {
        ("apps", "v1", "Deployment", "deployments")
    }
}

/// Ok(None) when the API does not serve the type (404). Typed (`Api<Node>`, `Api<Pod>`...)
/// where Kubernetes has the type, `Api<DynamicObject>` (see [`json`]) for OpenShift's.
pub(super) async fn list<K>(
    connection: &Connection,
    api: Api<K>,
    what: &str,
    params: &ListParams,
) -> Result<Option<Vec<K>>, String>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    Ok(crate::openshift::list_of(connection, api, what, params).await?)
}

/// Listed OpenShift objects (no k8s-openapi type) as JSON.
pub(super) fn json(listed: Option<Vec<DynamicObject>>) -> Option<Vec<Value>> {
    listed.map(|items| items.into_iter().filter_map(|o| serde_json::to_value(o).ok()).collect())
}

/// An object read as JSON (`openshift::get_object`), as its k8s-openapi type.
pub(super) fn typed<K: serde::de::DeserializeOwned>(what: &str, read: Option<Value>) -> Result<Option<K>, String> {
    read.map(|object| serde_json::from_value(object).map_err(|e| format!("reading {what}: {e}"))).transpose()
}

/// A non-empty string at `pointer` (the JSON of OpenShift's kinds).
pub(super) fn text(value: &Value, pointer: &str) -> Option<String> {
    value.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

pub(super) fn name_of(value: &Value) -> String {
    text(value, "/metadata/name").unwrap_or_default()
}

/// A typed object's name ("" when it has none, as [`name_of`]).
pub(super) fn meta_name(metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    metadata.name.clone().unwrap_or_default()
}

/// The HostedCluster of a hosted run (namespace, name).
pub(super) fn hosted_cluster(run: &RestoreRun) -> Result<(String, String), String> {
    run.survey
        .as_ref()
        .and_then(|s| s.hosted.as_ref())
        .map(|h| (h.namespace.clone(), h.name.clone()))
        .ok_or_else(|| "no HostedCluster was surveyed".to_string())
}

pub(super) fn control_plane_namespace(run: &RestoreRun) -> Result<String, String> {
    run.survey
        .as_ref()
        .and_then(|s| s.hosted.as_ref())
        .map(|h| h.control_plane_namespace.clone())
        .ok_or_else(|| "no HostedCluster was surveyed".to_string())
}

/// What a check found: it holds, or not yet (with what was seen either way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Checked {
    Holds(String),
    NotYet(String),
}

impl RestoreExecutor {
    pub(super) fn api(&self) -> Result<&Connection, String> {
        self.connection.as_ref().map_err(Clone::clone)
    }

    /// The surveyed IP of a control-plane host or a worker ("" when not surveyed).
    pub(super) fn host_ip(&self, run: &RestoreRun, node: &str) -> String {
        run.survey
            .as_ref()
            .and_then(|s| s.control_plane.iter().chain(&s.worker_hosts).find(|h| h.name == node))
            .map(|h| h.ip.clone())
            .unwrap_or_default()
    }

    /// The step's act, then its check polled until it holds or the step's limit passes.
    pub async fn perform(
        &self,
        run: &RestoreRun,
        step: &Step,
        reason: Option<&str>,
        nodes: &[String],
        abort: &tokio_util::sync::CancellationToken,
    ) -> StepResult {
        let started = Instant::now();
        let limit = Duration::from_secs(step.limit_seconds.max(1));
        // The revision the operator is at before the patch: its check waits for a newer one.
        let revision_before = match step.act {
            Act::ForceRedeployment { operator } => match self.latest_revision(operator).await {
                Some(revision) => Some(revision),
                // Without it the rollout could not be told from the one before: nothing is patched.
                None => {
                    return StepResult::Failed {
                        reason: format!(
                            "cannot read {}/cluster's status.latestAvailableRevision: not forced (its rollout could not be followed)",
                            operator.short()
                        ),
                    }
                }
            },
            _ => None,
        };
        let act = match self.act(run, step, reason, nodes).await {
            Ok(detail) => detail,
            Err(reason) => return StepResult::Failed { reason },
        };
        if let Act::ForceRedeployment { .. } = step.act {
            return StepResult::Forced { detail: act, revision_before };
        }
        if step.check == Check::Answer {
            return StepResult::Done { detail: act };
        }
        let mut last;
        let mut quiet_since = Instant::now();
        loop {
            let checked = match step.check {
                // CSRs come in as the kubelets restart: approved as they come, done once none came for a while.
                Check::NoValidPendingCsrs => self.approve_csrs(run).await.map(|(checked, approved)| {
                    if approved > 0 {
                        quiet_since = Instant::now();
                    }
                    match checked {
                        Checked::Holds(said) if quiet_since.elapsed() < CSR_QUIET => Checked::NotYet(format!(
                            "{said}; waiting until no new CSR comes for {}s",
                            CSR_QUIET.as_secs()
                        )),
                        other => other,
                    }
                }),
                ref check => self.check(run, check).await,
            };
            match checked {
                Ok(Checked::Holds(detail)) => {
                    let detail = if act.is_empty() { detail } else { format!("{act}\n{detail}") };
                    return StepResult::Done { detail };
                }
                Ok(Checked::NotYet(detail)) | Err(detail) => last = detail,
            }
            if abort.is_cancelled() {
                return StepResult::Interrupted { detail: format!("done; its check was stopped: {last}") };
            }
            if started.elapsed() >= limit {
                if let Check::NodesReady = step.check {
                    return match self.not_ready_nodes(run.lost()).await {
                        Ok(not_ready) => StepResult::DoneWithNotReady { detail: last, not_ready },
                        Err(reason) => StepResult::Failed { reason },
                    };
                }
                return StepResult::Failed {
                    reason: format!("not so after {}: {last}", humantime::format_duration(limit)),
                };
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// A resumed run's question: is this begun step already done? Nothing is changed.
    pub async fn recheck(&self, run: &RestoreRun, step: &Step) -> (bool, String) {
        // A move's source gone says it was done.
        let probe = match &step.act {
            Act::Host { node, command } => self.moved_away(run, node, command).await,
            _ => None,
        };
        if let Some(found) = probe {
            return found;
        }
        match step.act {
            // Not safe to do twice: done only if etcd runs the one restored member.
            Act::Host { .. } if !step.redo_safe => {
                return match self.etcd_members(1).await {
                    Ok(Checked::Holds(detail)) => (true, detail),
                    Ok(Checked::NotYet(detail)) | Err(detail) => (false, detail),
                };
            }
            // Their checks would hold before they ran: done again (harmless).
            // A kubelet restart is harmless, and a CSR pending from before would make its check hold.
            Act::Reboot { .. } | Act::DeletePods { .. } | Act::HostOnTouchedWorkers { .. } => {
                return (false, "will be done again".into())
            }
            // Forced again with a new reason rather than "found done": the revision before the first
            // patch is not known, and without it the rollout's end could not be told.
            Act::ForceRedeployment { .. } => {
                return (false, "forced again with a new reason, so that its rollout can be followed".into())
            }
            _ => {}
        }
        match step.check {
            // Doing these again changes nothing that matters (a copy, a patch to the same value, kubelet restarts).
            Check::Answer | Check::PersonConfirms => (false, "will be done again".into()),
            ref check => match self.check(run, check).await {
                Ok(Checked::Holds(detail)) => (true, detail),
                Ok(Checked::NotYet(detail)) | Err(detail) => (false, detail),
            },
        }
    }
}

/// What the front end is told as the run goes.
#[derive(Debug, Clone)]
pub enum Progress {
    Began { index: usize, step: Box<Step> },
    Run(Box<RestoreRun>),
}

/// What only a person can give: the typed name, and a manual step's "done".
pub trait Person {
    fn confirm(
        &mut self,
        confirmation: &super::Confirmation,
    ) -> impl std::future::Future<Output = Option<String>> + Send;
    fn done(&mut self, step: &Step) -> impl std::future::Future<Output = bool> + Send;
}

/// Drives a run to its end: survey, confirmation, each step (journalled before
/// and after by `journal`). Returns when the run has an outcome or `abort` is set.
pub async fn drive<P: Person + Send>(
    run: &mut RestoreRun,
    executor: &RestoreExecutor,
    person: &mut P,
    abort: tokio_util::sync::CancellationToken,
    progress: &tokio::sync::mpsc::UnboundedSender<Progress>,
    journal: &mut (dyn FnMut(&RestoreRun) -> Result<(), String> + Send),
) {
    if run.stage == super::Stage::Survey {
        if let Some(reason) = &run.options.force_lost {
            tracing::info!(target: "audit", lost = ?run.options.lost, reason = %reason, "restore: hosts declared lost by force (--force-lost)");
        }
    }
    loop {
        if abort.is_cancelled() {
            run.abort();
        }
        let action = run.next_action(SystemTime::now());
        // Nothing is done that the journal could not record first.
        if let Err(e) = journal(run) {
            if !matches!(action, Action::Finished(_)) {
                run.halt(format!("the journal cannot be written ({e}): nothing more is done"));
                let _ = progress.send(Progress::Run(Box::new(run.clone())));
                return;
            }
        }
        let observed = match action {
            Action::Finished(_) => {
                // Stopped before the point of no return: no webhook is left at Ignore.
                if run.webhooks_to_set_back() {
                    let back =
                        run.steps.iter().find(|s| s.act == Act::WebhooksFailurePolicy { to_ignore: false }).cloned();
                    let result = match back {
                        Some(step) => executor
                            .act(run, &step, None, &[])
                            .await
                            .map(|_| run.survey.as_ref().map(|s| s.fail_webhooks.join(", ")).unwrap_or_default()),
                        None => Err("the plan has no step that sets them back".into()),
                    };
                    tracing::info!(target: "audit", result = ?result, "restore: stopped before the point of no return; webhooks set back to Fail");
                    run.webhooks_were_set_back(result);
                    let _ = journal(run);
                }
                let _ = progress.send(Progress::Run(Box::new(run.clone())));
                return;
            }
            Action::Survey => Observed::Surveyed(Box::new(executor.survey(run).await)),
            Action::Confirm(confirmation) => {
                let typed = tokio::select! {
                    typed = person.confirm(&confirmation) => typed,
                    _ = abort.cancelled() => None,
                };
                Observed::Typed(typed.unwrap_or_default())
            }
            Action::Perform { index, step, reason, nodes } => {
                let _ = progress.send(Progress::Began { index, step: Box::new(step.clone()) });
                tracing::info!(target: "audit", step = %step.id, title = %step.title, "restore: step begins");
                // Not raced with the stop: the act finishes; a stop ends the polling of its check.
                let result = executor.perform(run, &step, reason.as_deref(), &nodes, &abort).await;
                tracing::info!(target: "audit", step = %step.id, result = ?result, "restore: step ended");
                Observed::Performed { index, result }
            }
            Action::Recheck { index, step } => {
                let (done, detail) = executor.recheck(run, &step).await;
                tracing::info!(target: "audit", step = %step.id, done, detail = %detail, "restore: step re-checked");
                Observed::Rechecked { index, done, detail }
            }
            Action::AskPerson { index, step } => {
                let _ = progress.send(Progress::Began { index, step: Box::new(step.clone()) });
                let done = tokio::select! {
                    done = person.done(&step) => done,
                    _ = abort.cancelled() => false,
                };
                if done && step.check != Check::Answer && step.check != Check::PersonConfirms {
                    // What the console can see of a step the person did.
                    let seen = Step { act: Act::Nothing, ..step.clone() };
                    let result = executor.perform(run, &seen, None, &[], &abort).await;
                    Observed::Performed { index, result }
                } else {
                    Observed::PersonAnswered { index, done }
                }
            }
        };
        run.observe(observed);
        if let Err(e) = journal(run) {
            run.halt(format!("the journal cannot be written ({e}): nothing more is done"));
        }
        let _ = progress.send(Progress::Run(Box::new(run.clone())));
    }
}
