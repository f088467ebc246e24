//! The member replacement's hands: the survey (etcd, the API, the backup
//! directory, what this user may do) and each step's act and check. The only
//! I/O of the wizard; every call has a time limit, and every change goes to
//! the audit log.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::engine::{Action, Confirmation, MemberRun, Observed, StepResult};
use super::steps::{node_secrets, Act, PersonCheck, Step, ASIDE_DIR, ETCD_DATA, ETCD_MANIFEST};
use super::{BackupFound, MemberFacts, Options, PodFacts, Procedure, Survey, TargetFacts};
use crate::etcd::connect::{describe, timed};
use crate::etcd::source::EtcdSource;
use crate::hosts::{shell_quote, HostOutput, HostShell};
use crate::openshift::{self, get_object, list_objects, Access, Connection};
use crate::settings::KubeSettings;
use crate::wizard::backup::Via;
use crate::wizard::restore::executor::{dynamic, ApiType};

const ETCD_OPERATOR: ApiType = ("operator.openshift.io", "v1", "Etcd", "etcds");
const MACHINE: ApiType = ("machine.openshift.io", "v1beta1", "Machine", "machines");
const CONTROL_PLANE_MACHINE_SET: ApiType =
    ("machine.openshift.io", "v1", "ControlPlaneMachineSet", "controlplanemachinesets");
const SECRET: ApiType = ("", "v1", "Secret", "secrets");
const CLUSTER_VERSION: ApiType = ("config.openshift.io", "v1", "ClusterVersion", "clusterversions");
const INFRASTRUCTURE: ApiType = ("config.openshift.io", "v1", "Infrastructure", "infrastructures");
const MACHINE_NAMESPACE: &str = "openshift-machine-api";
const ETCD_NAMESPACE: &str = "openshift-etcd";
/// How long one etcd call may take.
const ETCD_CALL: Duration = Duration::from_secs(5);
/// How long one quick command on a node may take.
const QUICK: Duration = Duration::from_secs(60);

fn text(value: &Value, pointer: &str) -> Option<String> {
    value.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

/// What the front ends hear while a replacement goes on.
#[derive(Debug, Clone)]
pub enum Progress {
    Began {
        index: usize,
        step: Step,
    },
    /// What a check sees while it waits (a learner's progress, a Machine's phase).
    Waiting {
        index: usize,
        detail: String,
    },
    Run(Box<MemberRun>),
}

/// What a check found.
enum Checked {
    Holds(String),
    NotYet(String),
}

pub struct MemberExecutor {
    pub connection: Connection,
    pub kube: KubeSettings,
    pub etcd: EtcdSource,
    /// How host steps and the backup reach a node over ssh (and the lab's hosts).
    pub hosts: Option<Arc<dyn HostShell>>,
    pub via: Via,
    /// The debug pod's image instead of the one `oc debug` would choose.
    pub debug_image: Option<String>,
    /// How often a check is asked again.
    pub poll: Duration,
    /// The quota the backup's reader assumes.
    pub quota_bytes: u64,
    /// The CSRs approved for the new machine so far, said when its node is Ready (they are approved
    /// over several polls). Start with `Default::default()`.
    pub approved_csrs: std::sync::Mutex<Vec<String>>,
}

/// A member's answer: Status, and (a voter) a linearizable read.
async fn ask(connector: &crate::etcd::Connector, member: &crate::cluster::MemberIdentity) -> MemberFacts {
    let mut facts = MemberFacts {
        id: member.id,
        name: member.name.clone(),
        peer_urls: member.peer_urls.clone(),
        client_urls: member.client_urls.clone(),
        is_learner: member.is_learner,
        answer: Err("not started".into()),
        applied_index: None,
    };
    if member.name.is_empty() || member.client_urls.is_empty() {
        return facts;
    }
    facts.answer = async {
        let mut client = connector.client(member.endpoint()).await?;
        let status = timed(ETCD_CALL, async { client.status().await.map_err(describe) }).await?;
        facts.applied_index = Some(status.raft_applied_index());
        if !status.errors().is_empty() {
            return Err(status.errors().join(", "));
        }
        if !member.is_learner {
            timed(ETCD_CALL, async { client.get("health", None).await.map(|_| ()).map_err(describe) }).await?;
        }
        Ok(())
    }
    .await;
    facts
}

impl MemberExecutor {
    /// Every member, each asked on its own (one hung member delays nothing else), and the leader.
    pub async fn members(&self) -> Result<(Vec<MemberFacts>, Option<u64>, u64), String> {
        let reached = self.etcd.reach().await?;
        let listed = crate::etcd::poller::discover(&reached.seeds, &reached.connector).await?;
        reached.route(&listed).await;
        let mut tasks = tokio::task::JoinSet::new();
        for (i, member) in listed.iter().enumerate() {
            let (connector, member) = (reached.connector.clone(), member.clone());
            tasks.spawn(async move { (i, ask(&connector, &member).await) });
        }
        let mut found: Vec<Option<MemberFacts>> = vec![None; listed.len()];
        while let Some(joined) = tasks.join_next().await {
            if let Ok((i, facts)) = joined {
                found[i] = Some(facts);
            }
        }
        let members: Vec<MemberFacts> = found.into_iter().flatten().collect();
        // The leader and the cluster ID, as the healthy members say.
        let mut leader = None;
        let mut cluster_id = 0;
        for member in members.iter().filter(|m| m.healthy()) {
            let Some(listed) = listed.iter().find(|l| l.id == member.id) else { continue };
            let Ok(mut client) = reached.connector.client(listed.endpoint()).await else { continue };
            if let Ok(status) = timed(ETCD_CALL, async { client.status().await.map_err(describe) }).await {
                leader = Some(status.leader()).filter(|l| *l != 0);
                cluster_id = status.header().map(|h| h.cluster_id()).unwrap_or(0);
                break;
            }
        }
        Ok((members, leader, cluster_id))
    }

    /// A client of a healthy voting member other than `not`.
    async fn healthy_client(&self, not: u64) -> Result<etcd_client::Client, String> {
        let reached = self.etcd.reach().await?;
        let listed = crate::etcd::poller::discover(&reached.seeds, &reached.connector).await?;
        reached.route(&listed).await;
        let mut last = "no other member answers".to_string();
        for member in listed.iter().filter(|m| m.id != not && !m.is_learner && !m.name.is_empty()) {
            match reached.connector.client(member.endpoint()).await {
                Ok(mut client) => {
                    match timed(ETCD_CALL, async { client.get("health", None).await.map_err(describe) }).await {
                        Ok(_) => return Ok(client),
                        Err(e) => last = format!("{}: {e}", member.name),
                    }
                }
                Err(e) => last = format!("{}: {e}", member.name),
            }
        }
        Err(format!("no healthy member to act through ({last})"))
    }

    pub async fn survey(&self, options: &Options) -> Survey {
        let c = &self.connection;
        let mut survey = Survey {
            api_url: c.server.clone(),
            surveyed_at: crate::wizard::backup::timestamp(SystemTime::now()),
            ..Survey::default()
        };
        let (members, leader, cluster_id) = match self.members().await {
            Ok(found) => found,
            Err(e) => {
                survey.unreadable = Some(format!("etcd's member list cannot be read: {e}"));
                return survey;
            }
        };
        survey.members = members;
        survey.leader = leader;
        survey.cluster_id = format!("{cluster_id:x}");
        let wanted = options.member.trim().trim_start_matches("0x").to_lowercase();
        let target = survey
            .members
            .iter()
            .find(|m| m.name == options.member.trim() || (!wanted.is_empty() && format!("{:x}", m.id) == wanted))
            .cloned();
        let infrastructure =
            get_object(c, dynamic(c, INFRASTRUCTURE, None), "infrastructure/cluster", "cluster").await.ok().flatten();
        survey.cluster_name = match &options.hosted_cluster {
            // A hosted cluster is named as the HostedCluster: NAMESPACE/NAME.
            Some(hosted) => hosted.clone(),
            None => infrastructure
                .as_ref()
                .and_then(|i| text(i, "/status/infrastructureName"))
                .unwrap_or_else(|| survey.cluster_id.clone()),
        };
        let hosted = options.hosted_cluster.as_deref().map(|h| h.replacen('/', "-", 1));
        survey.control_plane_namespace = hosted.clone();
        let (version, openshift_id) = if hosted.is_none() {
            match get_object(c, dynamic(c, CLUSTER_VERSION, None), "clusterversion/version", "version").await {
                Ok(Some(cv)) => {
                    let version =
                        text(&cv, "/status/desired/version").or_else(|| text(&cv, "/status/history/0/version"));
                    (version, text(&cv, "/spec/clusterID"))
                }
                Ok(None) => (None, None),
                Err(e) => {
                    survey.unreadable = Some(format!("the OpenShift API cannot be read: {e}"));
                    return survey;
                }
            }
        } else {
            (None, None)
        };
        survey.version = version;
        if let Some(member) = target {
            survey.target = Some(self.target_facts(&member, hosted.as_deref()).await);
        }
        survey.helper_host = self.helper_host(&survey).await;
        survey.quorum_guard_off = match get_object(c, dynamic(c, ETCD_OPERATOR, None), "etcd/cluster", "cluster").await
        {
            Ok(Some(etcd)) => crate::openshift::model::quorum_guard_off(&etcd),
            _ => false,
        };
        survey.busy = self.busy(&survey, hosted.as_deref()).await;
        let procedure = survey.procedure(options);
        survey.access = self.access(procedure).await;
        survey.backup = backup_found(options, openshift_id, procedure);
        survey
    }

    async fn target_facts(&self, member: &MemberFacts, hosted: Option<&str>) -> TargetFacts {
        let c = &self.connection;
        let mut facts = TargetFacts { id: member.id, name: member.name.clone(), ..TargetFacts::default() };
        if let Some(namespace) = hosted {
            // The member's pod: by its address or its URL's first label (etcd-N.etcd-discovery...).
            let pods = list_objects(
                c,
                dynamic(c, ("", "v1", "Pod", "pods"), Some(namespace)),
                "etcd pods",
                &ListParams::default().labels("app=etcd"),
            )
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
            let read: Vec<crate::openshift::diagnosis::PodFacts> =
                pods.iter().filter_map(crate::openshift::diagnosis::pod_facts).collect();
            let identity = crate::cluster::MemberIdentity {
                id: member.id,
                name: member.name.clone(),
                client_urls: member.client_urls.clone(),
                peer_urls: member.peer_urls.clone(),
                is_learner: member.is_learner,
            };
            let pod = crate::openshift::diagnosis::pod_of(&identity, &read).map(|p| p.name.clone());
            let pod = pod.unwrap_or_else(|| member.name.clone());
            facts.pod = self.pod(namespace, &pod).await;
            facts.claim = Some(format!("data-{pod}"));
            return facts;
        }
        let node_name = member.name.strip_prefix("etcd-member-").unwrap_or(&member.name).to_string();
        let nodes: Api<Node> = Api::all(c.client.clone());
        if let Ok(node) = openshift::within(c, "reading the node", nodes.get(&node_name)).await {
            let ready = node
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
                .map(|c| format!("{} {}", c.status, c.reason.clone().unwrap_or_default()).trim().to_string());
            facts.node_ready = ready;
            facts.node_ip = node
                .status
                .as_ref()
                .and_then(|s| s.addresses.as_ref())
                .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
                .map(|a| a.address.clone());
        }
        facts.node = Some(node_name.clone());
        if let Ok(Some(machines)) =
            list_objects(c, dynamic(c, MACHINE, Some(MACHINE_NAMESPACE)), "machines", &ListParams::default()).await
        {
            if let Some(machine) =
                machines.iter().find(|m| text(m, "/status/nodeRef/name").as_deref() == Some(node_name.as_str()))
            {
                facts.machine = text(machine, "/metadata/name");
                facts.machine_phase = text(machine, "/status/phase");
                facts.instance_state = text(machine, "/status/providerStatus/instanceState");
                if !self.control_plane_machine_set().await {
                    let names: Vec<String> = machines.iter().filter_map(|m| text(m, "/metadata/name")).collect();
                    facts.new_machine = super::new_machine_from(machine, &names);
                }
            }
        }
        facts.pod = self.pod(ETCD_NAMESPACE, &format!("etcd-{node_name}")).await;
        facts
    }

    /// Whether an Active ControlPlaneMachineSet replaces a deleted master Machine (4.12 and later
    /// installs); a release that does not serve the kind has none.
    async fn control_plane_machine_set(&self) -> bool {
        let c = &self.connection;
        let sets = dynamic(c, CONTROL_PLANE_MACHINE_SET, Some(MACHINE_NAMESPACE));
        match get_object(c, sets, "controlplanemachineset/cluster", "cluster").await {
            Ok(Some(set)) => text(&set, "/spec/state").as_deref() == Some("Active"),
            _ => false,
        }
    }

    async fn pod(&self, namespace: &str, name: &str) -> Option<PodFacts> {
        let pods: Api<Pod> = Api::namespaced(self.connection.client.clone(), namespace);
        let pod = openshift::within(&self.connection, &format!("reading pod {name}"), pods.get(name)).await.ok()?;
        Some(pod_facts(&pod))
    }

    /// Another healthy control-plane host: where 4.3's scripts and the signer run.
    async fn helper_host(&self, survey: &Survey) -> Option<(String, String)> {
        let target = survey.target.as_ref()?;
        let other = survey.members.iter().find(|m| m.id != target.id && m.healthy())?;
        let node = other.name.strip_prefix("etcd-member-").unwrap_or(&other.name).to_string();
        let ip = other
            .client_urls
            .first()
            .and_then(|u| u.split("://").nth(1))
            .and_then(|rest| rest.rsplit_once(':').map(|(host, _)| host.to_string()))
            .unwrap_or_default();
        Some((node, ip))
    }

    /// The rollouts and migrations under way (a rollout held only by the sick member's own node does not count).
    async fn busy(&self, survey: &Survey, hosted: Option<&str>) -> Vec<String> {
        if let Some(namespace) = hosted {
            // A hosted etcd rolls out as its StatefulSet: a pod deleted mid-rollout comes back at the new revision.
            let c = &self.connection;
            let set = dynamic(c, ("apps", "v1", "StatefulSet", "statefulsets"), Some(namespace));
            return match get_object(c, set, "statefulset/etcd", "etcd").await {
                Ok(Some(etcd)) => {
                    let (current, update) =
                        (text(&etcd, "/status/currentRevision"), text(&etcd, "/status/updateRevision"));
                    match (current, update) {
                        (Some(current), Some(update)) if current != update => {
                            vec![format!("the etcd StatefulSet in {namespace} is rolling out ({current} to {update})")]
                        }
                        _ => Vec::new(),
                    }
                }
                Ok(None) => vec![format!("no etcd StatefulSet in {namespace}")],
                Err(e) => vec![format!("whether the etcd StatefulSet rolls out cannot be read: {e}")],
            };
        }
        let report = crate::openshift::report::observe(&self.connection).await;
        let node = survey.target.as_ref().and_then(|t| t.node.clone()).unwrap_or_default();
        let mut busy = Vec::new();
        for rollout in report.rollouts.iter().filter(|r| r.progressing) {
            let behind: Vec<&str> = rollout
                .nodes
                .iter()
                .filter(|n| n.current_revision < rollout.latest_revision)
                .map(|n| n.name.as_str())
                .collect();
            if rollout.operator == "etcd" && !behind.is_empty() && behind.iter().all(|n| *n == node) {
                continue;
            }
            busy.push(format!(
                "the {} operator is rolling out revision {} ({})",
                rollout.operator, rollout.latest_revision, rollout.message
            ));
        }
        if let Some(encryption) = report.encryption.as_ref().filter(|e| e.in_progress()) {
            busy.push(format!("an encryption migration to {} is in progress", encryption.kind));
        }
        busy
    }

    /// What the procedure's steps need, each asked of SelfSubjectAccessReview.
    async fn access(&self, procedure: Procedure) -> Vec<(String, Result<(), String>)> {
        let mut wanted: Vec<(&str, &str, &str, Option<&str>)> = match procedure {
            Procedure::Hosted => vec![("delete", "", "pods", None), ("delete", "", "persistentvolumeclaims", None)],
            Procedure::Legacy43 => Vec::new(),
            Procedure::Machine | Procedure::Crashloop => {
                vec![("patch", "operator.openshift.io", "etcds", None), ("delete", "", "secrets", None)]
            }
        };
        match procedure {
            Procedure::Machine => {
                wanted.push(("delete", "machine.openshift.io", "machines", None));
                wanted.push(("update", "certificates.k8s.io", "certificatesigningrequests", Some("approval")));
            }
            Procedure::Crashloop if self.via == Via::Api => {
                wanted.push(("create", "", "namespaces", None));
                wanted.push(("create", "", "pods", None));
                wanted.push(("create", "", "pods", Some("exec")));
            }
            _ => {}
        }
        let mut answers = Vec::new();
        for (verb, group, resource, subresource) in wanted {
            let what = match subresource {
                Some(sub) => format!("{verb} {resource}/{sub}"),
                None if group.is_empty() => format!("{verb} {resource}"),
                None => format!("{verb} {resource}.{group}"),
            };
            let access = Access { verb, group, resource, subresource, name: None };
            let answer = match openshift::may(&self.connection, &access).await {
                Ok(true) => Ok(()),
                Ok(false) => Err("forbidden for this user".to_string()),
                Err(e) => Err(format!("could not be asked: {e}")),
            };
            answers.push((what, answer));
        }
        answers
    }

    /// The step's act, then its check polled until it holds or the step's limit passes.
    pub async fn perform(
        &self,
        run: &MemberRun,
        index: usize,
        step: &Step,
        reason: Option<&str>,
        abort: &CancellationToken,
        progress: &mpsc::UnboundedSender<Progress>,
    ) -> StepResult {
        let started = Instant::now();
        let limit = Duration::from_secs(step.limit_seconds.max(1));
        let acted = match &step.act {
            Act::TakeBackup => return self.take_backup(run, abort).await,
            Act::ForceRedeployment => return self.force(reason.unwrap_or_default(), limit, abort).await,
            Act::RedeployIfShort { old_id, voters, wait_seconds } => {
                return self
                    .redeploy_if_short(
                        *old_id,
                        *voters,
                        Duration::from_secs(*wait_seconds),
                        reason,
                        limit,
                        abort,
                        index,
                        progress,
                    )
                    .await
            }
            act => self.act(act).await,
        };
        let acted = match acted {
            Ok(detail) => detail,
            Err(reason) => return StepResult::Failed { reason },
        };
        let mut last = String::new();
        loop {
            match self.check(&step.act).await {
                Ok(Checked::Holds(detail)) => {
                    let detail = if acted.is_empty() { detail } else { format!("{acted}\n{detail}") };
                    return StepResult::Done { detail };
                }
                Ok(Checked::NotYet(detail)) | Err(detail) => {
                    if detail != last {
                        let _ = progress.send(Progress::Waiting { index, detail: detail.clone() });
                    }
                    last = detail;
                }
            }
            if abort.is_cancelled() {
                return StepResult::Interrupted { detail: format!("{acted}; its check was stopped: {last}") };
            }
            if started.elapsed() >= limit {
                return StepResult::Failed {
                    reason: format!("not so after {}: {last}", humantime::format_duration(limit)),
                };
            }
            tokio::select! {
                () = tokio::time::sleep(self.poll) => {}
                () = abort.cancelled() => {}
            }
        }
    }

    async fn act(&self, act: &Act) -> Result<String, String> {
        let c = &self.connection;
        match act {
            Act::TakeBackup | Act::ForceRedeployment | Act::RedeployIfShort { .. } => Ok(String::new()),
            Act::SetAside { node, ip, data_aside } => self.set_aside(node, ip, data_aside).await,
            Act::RemoveMember { id, name } => {
                let (members, _, _) = self.members().await?;
                if !members.iter().any(|m| m.id == *id) {
                    return Ok(format!("{name} ({id:x}) is not in the member list: already removed"));
                }
                // Checked again now, not only at the survey: the voters left must hold quorum without it.
                let left: Vec<&MemberFacts> = members.iter().filter(|m| m.id != *id && !m.is_learner).collect();
                let healthy = left.iter().filter(|m| m.healthy()).count();
                let quorum = left.len() / 2 + 1;
                if healthy < quorum {
                    return Err(format!(
                        "refused: without {name} only {healthy} of the {} voters left are healthy, below their quorum \
                         of {quorum}; nothing was removed",
                        left.len()
                    ));
                }
                let mut client = self.healthy_client(*id).await?;
                match timed(Duration::from_secs(10), async { client.member_remove(*id).await.map_err(describe) }).await
                {
                    Ok(_) => {}
                    // Removed between the list and the call (a run resumed, the operator): a success.
                    Err(e) if e.contains("member not found") => {}
                    Err(e) => return Err(format!("member remove {id:x}: {e}")),
                }
                tracing::info!(target: "audit", action = "etcd member removed", member = %name, id = %format!("{id:x}"), "done");
                Ok(format!("member {name} ({id:x}) removed"))
            }
            Act::QuorumGuard { off } => {
                let body = if *off {
                    json!({"spec": {"unsupportedConfigOverrides": {"useUnsupportedUnsafeNonHANonProductionUnstableEtcd": true}}})
                } else {
                    json!({"spec": {"unsupportedConfigOverrides": null}})
                };
                openshift::merge_patch(c, dynamic(c, ETCD_OPERATOR, None), "etcd/cluster", "cluster", &body)
                    .await
                    .map_err(|e| e.to_string())?;
                tracing::info!(target: "audit", action = if *off { "quorum guard off" } else { "quorum guard on" }, "done");
                Ok(String::new())
            }
            Act::DeleteSecrets { node } => {
                let mut said = Vec::new();
                for name in node_secrets(node) {
                    let api = dynamic(c, SECRET, Some(ETCD_NAMESPACE));
                    let existed = get_object(c, api.clone(), &format!("secret {name}"), &name)
                        .await
                        .map_err(|e| e.to_string())?
                        .is_some();
                    openshift::delete_object(c, api, &format!("secret {name}"), &name)
                        .await
                        .map_err(|e| e.to_string())?;
                    tracing::info!(target: "audit", action = "secret deleted", namespace = ETCD_NAMESPACE, secret = %name, "done");
                    said.push(if existed { format!("{name} deleted") } else { format!("{name} was not there") });
                }
                Ok(said.join(", "))
            }
            Act::ReplaceMachine { machine, create, .. } => {
                let api = dynamic(c, MACHINE, Some(MACHINE_NAMESPACE));
                let mut said = match get_object(c, api.clone(), &format!("machine {machine}"), machine)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    Some(found) if found.pointer("/metadata/deletionTimestamp").is_some() => {
                        format!("Machine {machine} is being deleted already")
                    }
                    Some(_) => {
                        openshift::delete_object(c, api.clone(), &format!("machine {machine}"), machine)
                            .await
                            .map_err(|e| e.to_string())?;
                        tracing::info!(target: "audit", action = "machine deleted", machine = %machine, "done");
                        format!("Machine {machine} deleted")
                    }
                    None => format!("Machine {machine} is gone already"),
                };
                // Without a control plane machine set, the new Machine is created from the old one's spec.
                if let Some(new) = create {
                    let name = text(new, "/metadata/name").unwrap_or_default();
                    let exists = get_object(c, api.clone(), &format!("machine {name}"), &name)
                        .await
                        .map_err(|e| e.to_string())?
                        .is_some();
                    if exists {
                        said.push_str(&format!("; Machine {name} was created already"));
                    } else {
                        let object: DynamicObject = serde_json::from_value(new.clone()).map_err(|e| e.to_string())?;
                        let params = kube::api::PostParams::default();
                        openshift::within(c, &format!("creating machine {name}"), api.create(&params, &object))
                            .await
                            .map_err(|e| e.to_string())?;
                        tracing::info!(target: "audit", action = "machine created", machine = %name, replaces = %machine, "done");
                        said.push_str(&format!("; Machine {name} created from its spec"));
                    }
                }
                Ok(said)
            }
            Act::DeleteClaimAndPod { namespace, pod, claim, old_uid } => {
                let pods: Api<Pod> = Api::namespaced(c.client.clone(), namespace);
                if let Ok(now) = openshift::within(c, &format!("reading pod {pod}"), pods.get(pod)).await {
                    let uid = now.metadata.uid.clone().unwrap_or_default();
                    if !old_uid.is_empty() && uid != *old_uid {
                        return Ok(format!("{pod} was made again already (a new pod {uid})"));
                    }
                }
                let claims: Api<PersistentVolumeClaim> = Api::namespaced(c.client.clone(), namespace);
                let background = DeleteParams::background();
                for (what, deleted) in [
                    (
                        format!("pvc/{claim}"),
                        openshift::within(c, &format!("deleting pvc {claim}"), claims.delete(claim, &background))
                            .await
                            .map(|_| ()),
                    ),
                    (
                        format!("pod/{pod}"),
                        openshift::within(c, &format!("deleting pod {pod}"), pods.delete(pod, &background))
                            .await
                            .map(|_| ()),
                    ),
                ] {
                    match deleted {
                        Ok(()) | Err(openshift::ApiError::NotFound { .. }) => {
                            tracing::info!(target: "audit", action = "deleted", namespace = %namespace, object = %what, "done");
                        }
                        Err(e) => return Err(format!("deleting {what}: {e}")),
                    }
                }
                Ok(format!("pvc/{claim} and pod/{pod} deleted (not waiting for them to go)"))
            }
            Act::MemberBack { .. } | Act::HostedMemberBack { .. } | Act::Person { .. } => Ok(String::new()),
        }
    }

    /// Runs `argv` as root on the node: in a debug pod (`chroot /host`), or over ssh with sudo.
    async fn set_aside(&self, node: &str, ip: &str, data_aside: &str) -> Result<String, String> {
        let commands: Vec<Vec<String>> = vec![
            vec!["mkdir".into(), "-p".into(), ASIDE_DIR.into()],
            vec!["test".into(), "-e".into(), ETCD_MANIFEST.into()],
            vec!["mv".into(), ETCD_MANIFEST.into(), format!("{ASIDE_DIR}/")],
            vec!["test".into(), "-e".into(), ETCD_DATA.into()],
            vec!["mv".into(), ETCD_DATA.into(), data_aside.into()],
        ];
        let mut session = None;
        if self.via == Via::Api {
            let image = match &self.debug_image {
                Some(image) => image.clone(),
                None => crate::openshift::debug_pod::tools_image(&self.connection).await?,
            };
            let namespace = crate::openshift::debug_pod::namespace_name("member");
            let pod = crate::openshift::debug_pod::DebugPod::start(
                &self.connection,
                &namespace,
                node,
                &image,
                "member",
                ASIDE_DIR,
                Duration::from_secs(300),
            )
            .await?;
            session = Some(pod);
        }
        let run = |argv: Vec<String>| {
            let session = session.clone();
            async move {
                match &session {
                    Some(pod) => pod.run(&[], &argv, QUICK).await,
                    None => {
                        let shell = self.hosts.as_ref().ok_or("--via ssh: no way to reach the hosts was given")?;
                        let line =
                            format!("sudo {}", argv.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" "));
                        shell.run(node, ip, &line, QUICK).await
                    }
                }
            }
        };
        let outcome = async {
            let mut said = Vec::new();
            let mkdir = run(commands[0].clone()).await?;
            ensure(&mkdir, &commands[0], node)?;
            for pair in [(1usize, 2usize), (3, 4)] {
                let test = run(commands[pair.0].clone()).await?;
                if test.exit_code != 0 {
                    said.push(format!("{} is not there (moved before)", commands[pair.0][2]));
                    continue;
                }
                let moved = run(commands[pair.1].clone()).await?;
                ensure(&moved, &commands[pair.1], node)?;
                tracing::info!(target: "audit", action = "moved aside", node = %node, command = %commands[pair.1].join(" "), "done");
                said.push(format!("`{}` on {node}", commands[pair.1].join(" ")));
            }
            Ok::<String, String>(said.join("; "))
        }
        .await;
        if let Some(pod) = &session {
            if let Err(e) = pod.remove().await {
                tracing::warn!("the debug namespace {} could not be removed: {e}", pod.namespace);
            }
        }
        outcome
    }

    async fn on_node_exists(&self, node: &str, ip: &str, path: &str) -> Result<bool, String> {
        if self.via == Via::Api {
            // The debug pod is gone with the act; a resumed check trusts the mirror pod instead.
            return Ok(false);
        }
        let shell = self.hosts.as_ref().ok_or("--via ssh: no way to reach the hosts was given")?;
        let out = shell.run(node, ip, &format!("sudo test -e {}", shell_quote(path)), QUICK).await?;
        Ok(out.exit_code == 0)
    }

    async fn check(&self, act: &Act) -> Result<Checked, String> {
        let c = &self.connection;
        match act {
            Act::SetAside { node, ip, .. } => {
                for path in [ETCD_MANIFEST, ETCD_DATA] {
                    if self.on_node_exists(node, ip, path).await? {
                        return Ok(Checked::NotYet(format!("{path} is still on {node}")));
                    }
                }
                match self.pod(ETCD_NAMESPACE, &format!("etcd-{node}")).await {
                    Some(pod) => {
                        Ok(Checked::NotYet(format!("the etcd pod of {node} is still there ({})", pod.describe())))
                    }
                    None => Ok(Checked::Holds(format!("no etcd manifest, data or pod left on {node}"))),
                }
            }
            Act::RemoveMember { id, name } => self.member_gone(*id, name).await,
            Act::QuorumGuard { off } => {
                let etcd = get_object(c, dynamic(c, ETCD_OPERATOR, None), "etcd/cluster", "cluster")
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or("etcd/cluster is not there")?;
                let now_off = crate::openshift::model::quorum_guard_off(&etcd);
                let overrides = etcd.pointer("/spec/unsupportedConfigOverrides").filter(|v| !v.is_null());
                Ok(match (off, now_off, overrides) {
                    (true, true, _) => Checked::Holds("the quorum guard is off".into()),
                    (false, _, None) => Checked::Holds("etcd/cluster has no unsupportedConfigOverrides".into()),
                    _ => Checked::NotYet(format!(
                        "unsupportedConfigOverrides: {}",
                        overrides.cloned().unwrap_or(Value::Null)
                    )),
                })
            }
            Act::DeleteSecrets { node } => {
                Ok(Checked::Holds(format!("the operator makes {} again", node_secrets(node).join(", "))))
            }
            Act::ReplaceMachine { machine, node, .. } => self.replacement(machine, node).await,
            Act::MemberBack { name, old_id, voters } => self.member_back(name.as_deref(), *old_id, *voters).await,
            Act::DeleteClaimAndPod { pod, .. } => Ok(Checked::Holds(format!("{pod} deleted"))),
            Act::HostedMemberBack { namespace, pod, name, old_id, old_uid, voters } => {
                self.hosted_member_back(namespace, pod, name, *old_id, old_uid, *voters).await
            }
            Act::Person { then, .. } => match then {
                PersonCheck::Nothing => Ok(Checked::Holds(String::new())),
                PersonCheck::MemberGone { id } => self.member_gone(*id, &format!("{id:x}")).await,
                PersonCheck::MemberBack { name, old_id, voters } => {
                    self.members_back(Some(name), *old_id, *voters).await
                }
            },
            Act::TakeBackup | Act::ForceRedeployment | Act::RedeployIfShort { .. } => Ok(Checked::Holds(String::new())),
        }
    }

    async fn member_gone(&self, id: u64, name: &str) -> Result<Checked, String> {
        let (members, _, _) = self.members().await?;
        Ok(if members.iter().any(|m| m.id == id) {
            Checked::NotYet(format!("{name} ({id:x}) is still listed"))
        } else {
            Checked::Holds(format!("{} members left: {}", members.len(), labels(&members)))
        })
    }

    /// The new control-plane Machine (not the deleted one, on no other member's node) Running and its
    /// node Ready; its own valid CSRs approved as they come.
    async fn replacement(&self, deleted: &str, old_node: &str) -> Result<Checked, String> {
        let c = &self.connection;
        let machines =
            list_objects(c, dynamic(c, MACHINE, Some(MACHINE_NAMESPACE)), "machines", &ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .unwrap_or_default();
        let (members, _, _) = self.members().await?;
        let member_nodes: Vec<String> = members
            .iter()
            .map(|m| m.name.strip_prefix("etcd-member-").unwrap_or(&m.name).to_string())
            .filter(|n| n != old_node)
            .collect();
        if let Some(old) = machines.iter().find(|m| text(m, "/metadata/name").as_deref() == Some(deleted)) {
            if old.pointer("/metadata/deletionTimestamp").is_none() {
                return Ok(Checked::NotYet(format!("Machine {deleted} is still there")));
            }
        }
        let new = machines.iter().find(|m| {
            let name = text(m, "/metadata/name").unwrap_or_default();
            let role = m
                .pointer("/metadata/labels/machine.openshift.io~1cluster-api-machine-role")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let node = text(m, "/status/nodeRef/name");
            name != deleted
                && (role == "master" || role.is_empty())
                && m.pointer("/metadata/deletionTimestamp").is_none()
                && node.as_ref().is_none_or(|n| !member_nodes.contains(n))
                && (role == "master" || node.as_deref() == Some(old_node))
        });
        let Some(new) = new else {
            return Ok(Checked::NotYet(format!("no replacement for Machine {deleted} yet")));
        };
        let name = text(new, "/metadata/name").unwrap_or_default();
        let phase = text(new, "/status/phase").unwrap_or_else(|| "Provisioning".into());
        let node = text(new, "/status/nodeRef/name");
        let mut names: Vec<String> = new
            .pointer("/status/addresses")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|a| text(a, "/address")).collect())
            .unwrap_or_default();
        names.extend(node.clone());
        names.push(old_node.to_string());
        let newly = self.approve_own_csrs(&names).await?;
        let approved = match self.approved_csrs.lock() {
            Ok(mut all) => {
                all.extend(newly);
                all.clone()
            }
            Err(_) => newly,
        };
        let approved = if approved.is_empty() { String::new() } else { format!("; approved {}", approved.join(", ")) };
        if phase != "Running" {
            return Ok(Checked::NotYet(format!("Machine {name} is {phase}{approved}")));
        }
        let Some(node) = node else {
            return Ok(Checked::NotYet(format!("Machine {name} is Running, its node not registered yet{approved}")));
        };
        let nodes: Api<Node> = Api::all(c.client.clone());
        let ready = match openshift::within(c, "reading the node", nodes.get(&node)).await {
            Ok(n) => n
                .status
                .and_then(|s| s.conditions)
                .and_then(|cs| cs.into_iter().find(|c| c.type_ == "Ready"))
                .is_some_and(|c| c.status == "True"),
            Err(_) => false,
        };
        Ok(if ready {
            Checked::Holds(format!("Machine {name} Running, node {node} Ready{approved}"))
        } else {
            Checked::NotYet(format!("Machine {name} Running, node {node} not Ready yet{approved}"))
        })
    }

    /// Approves the pending CSRs that are valid and whose node is one of `names` (the new machine's).
    async fn approve_own_csrs(&self, names: &[String]) -> Result<Vec<String>, String> {
        use crate::openshift::csr;
        let c = &self.connection;
        // The new machine's nodes are declared: on a cluster without Machines they are what vouches.
        let pending = csr::pending(c, names).await?;
        let mut approved = Vec::new();
        for one in pending.iter().filter(|p| p.class.is_valid()) {
            let node = one
                .request
                .as_ref()
                .and_then(|r| r.common_name.as_deref())
                .and_then(|cn| cn.strip_prefix("system:node:"))
                .unwrap_or_default();
            if node.is_empty() || !names.iter().any(|n| n == node) {
                continue;
            }
            csr::approve(c, &one.name).await?;
            tracing::info!(target: "audit", csr = %crate::units::safe_text(&one.name), requestor = %crate::units::safe_text(&one.requestor), node = %node, "member replacement: CSR approved");
            approved.push(format!("{} ({})", one.name, one.class.as_str()));
        }
        Ok(approved)
    }

    /// Voting members back to `voters`, the old ID gone, then etcd at its latest revision everywhere and its pods Running.
    async fn member_back(&self, name: Option<&str>, old_id: u64, voters: usize) -> Result<Checked, String> {
        let back = self.members_back(name, old_id, voters).await?;
        let Checked::Holds(said) = back else { return Ok(back) };
        let c = &self.connection;
        let etcd = get_object(c, dynamic(c, ETCD_OPERATOR, None), "etcd/cluster", "cluster")
            .await
            .map_err(|e| e.to_string())?
            .ok_or("etcd/cluster is not there")?;
        let rollout = crate::openshift::model::rollout("etcd", &etcd);
        if rollout.reason != "AllNodesAtLatestRevision" {
            return Ok(Checked::NotYet(format!(
                "{said}; etcd NodeInstallerProgressing: {} {}",
                rollout.reason, rollout.message
            )));
        }
        let pods: Api<Pod> = Api::namespaced(c.client.clone(), ETCD_NAMESPACE);
        let listed =
            openshift::within(c, "listing the etcd pods", pods.list(&ListParams::default().labels("k8s-app=etcd")))
                .await
                .map_err(|e| e.to_string())?;
        let running = listed.items.iter().map(pod_facts).filter(|p| p.phase == "Running" && p.ready).count();
        if running < voters {
            return Ok(Checked::NotYet(format!("{said}; {running} of {voters} etcd pods Running and ready")));
        }
        Ok(Checked::Holds(format!(
            "{said}; etcd AllNodesAtLatestRevision ({}); {running} etcd pods Running",
            rollout.message
        )))
    }

    async fn members_back(&self, name: Option<&str>, old_id: u64, voters: usize) -> Result<Checked, String> {
        let (members, leader, _) = self.members().await?;
        let leader_applied = members.iter().find(|m| Some(m.id) == leader).and_then(|m| m.applied_index);
        if members.iter().any(|m| m.id == old_id) {
            return Ok(Checked::NotYet(format!("{old_id:x} is still a member")));
        }
        let mut waiting = Vec::new();
        for m in &members {
            if m.is_learner {
                let progress = match (m.applied_index, leader_applied) {
                    (Some(own), Some(lead)) if lead > 0 => format!(" (applied {own} of the leader's {lead})"),
                    _ => String::new(),
                };
                waiting.push(format!("{} is a learner, catching up{progress}", m.label()));
            } else if !m.healthy() {
                waiting.push(format!(
                    "{} is not healthy yet ({})",
                    m.label(),
                    m.answer.clone().err().unwrap_or_else(|| "unstarted".into())
                ));
            }
        }
        let count = members.iter().filter(|m| !m.is_learner).count();
        if count < voters {
            waiting.push(format!("{count} of {voters} voting members"));
        }
        if let Some(name) = name {
            if !members.iter().any(|m| m.name == name && !m.is_learner) {
                waiting.push(format!("no voting member {name} yet"));
            }
        }
        if !waiting.is_empty() {
            return Ok(Checked::NotYet(waiting.join("; ")));
        }
        Ok(Checked::Holds(format!("{count} voting members started and healthy: {}", labels(&members))))
    }

    async fn hosted_member_back(
        &self,
        namespace: &str,
        pod: &str,
        name: &str,
        old_id: u64,
        old_uid: &str,
        voters: usize,
    ) -> Result<Checked, String> {
        let Some(facts) = self.pod(namespace, pod).await.filter(|p| old_uid.is_empty() || p.uid != old_uid) else {
            return Ok(Checked::NotYet(format!("{pod} is not made again yet")));
        };
        if !(facts.phase == "Running" && facts.ready) {
            return Ok(Checked::NotYet(facts.describe()));
        }
        let back = self.members_back(Some(name), old_id, voters).await?;
        let Checked::Holds(said) = back else { return Ok(back) };
        // One revision and one hash: the new member has all the others hold.
        let reached = self.etcd.reach().await?;
        let listed = crate::etcd::poller::discover(&reached.seeds, &reached.connector).await?;
        reached.route(&listed).await;
        let mut clients = Vec::new();
        let mut revisions = Vec::new();
        for member in &listed {
            let mut client = reached.connector.client(member.endpoint()).await?;
            let status = timed(ETCD_CALL, async { client.status().await.map_err(describe) })
                .await
                .map_err(|e| format!("{}: {e}", member.name))?;
            revisions.push(status.header().map(|h| h.revision()).unwrap_or(0));
            clients.push((member.name.clone(), client));
        }
        let at = revisions.iter().copied().min().unwrap_or(0);
        let mut hashes = BTreeMap::new();
        for (member, mut client) in clients {
            let hash = timed(Duration::from_secs(120), async { client.hash_kv(at).await.map_err(describe) })
                .await
                .map_err(|e| format!("{member}: hash at {at}: {e}"))?;
            hashes.insert(member, hash.hash());
        }
        let distinct: std::collections::BTreeSet<u32> = hashes.values().copied().collect();
        Ok(if distinct.len() == 1 {
            Checked::Holds(format!("{}; {said}; one key-value hash at revision {at} on every member", facts.describe()))
        } else {
            Checked::NotYet(format!("the members' hashes at revision {at} differ: {hashes:?}"))
        })
    }

    /// A forced redeployment with `reason` (not patched again when it already has it), followed until
    /// the operator's latest revision goes past the one before.
    async fn force(&self, reason: &str, limit: Duration, abort: &CancellationToken) -> StepResult {
        let c = &self.connection;
        let read = || async {
            get_object(c, dynamic(c, ETCD_OPERATOR, None), "etcd/cluster", "cluster")
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| "etcd/cluster is not there".to_string())
        };
        let etcd = match read().await {
            Ok(etcd) => etcd,
            Err(reason) => return StepResult::Failed { reason },
        };
        let latest = |o: &Value| o.pointer("/status/latestAvailableRevision").and_then(Value::as_i64);
        if text(&etcd, "/spec/forceRedeploymentReason").as_deref() == Some(reason) {
            return StepResult::Done {
                detail: format!("etcd's forceRedeploymentReason is {reason} already (not forced twice)"),
            };
        }
        let Some(before) = latest(&etcd) else {
            return StepResult::Failed {
                reason: "cannot read etcd/cluster's status.latestAvailableRevision: not forced (its rollout could not be followed)".into(),
            };
        };
        let body = json!({"spec": {"forceRedeploymentReason": reason}});
        if let Err(e) =
            openshift::merge_patch(c, dynamic(c, ETCD_OPERATOR, None), "etcd/cluster", "cluster", &body).await
        {
            return StepResult::Failed { reason: e.to_string() };
        }
        tracing::info!(target: "audit", action = "etcd forced redeployment", reason = %reason, "done");
        let started = Instant::now();
        loop {
            if let Ok(now) = read().await {
                if latest(&now).is_some_and(|l| l > before) {
                    return StepResult::Forced {
                        detail: format!(
                            "forceRedeploymentReason {reason}: revision {} after {before}",
                            latest(&now).unwrap_or(0)
                        ),
                        revision_before: Some(before),
                    };
                }
            }
            if abort.is_cancelled() || started.elapsed() >= limit {
                return StepResult::Failed {
                    reason: format!("forced with {reason}, but etcd's latestAvailableRevision is still {before}"),
                };
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Waits `wait` for the operator to add the member back by itself (a learner counts: it is on its
    /// way); forces a redeployment with `reason` when it has not (once: a redeployment already made
    /// with this reason is not made again).
    #[allow(clippy::too_many_arguments)]
    async fn redeploy_if_short(
        &self,
        old_id: u64,
        voters: usize,
        wait: Duration,
        reason: Option<&str>,
        limit: Duration,
        abort: &CancellationToken,
        index: usize,
        progress: &mpsc::UnboundedSender<Progress>,
    ) -> StepResult {
        let reason = reason.unwrap_or_default();
        let c = &self.connection;
        let already = get_object(c, dynamic(c, ETCD_OPERATOR, None), "etcd/cluster", "cluster")
            .await
            .ok()
            .flatten()
            .and_then(|etcd| text(&etcd, "/spec/forceRedeploymentReason"));
        if already.as_deref() == Some(reason) {
            return StepResult::Done { detail: format!("etcd was redeployed with {reason} already") };
        }
        let started = Instant::now();
        loop {
            if let Ok((members, _, _)) = self.members().await {
                let added = members.iter().filter(|m| m.id != old_id).count() >= voters;
                if added {
                    return StepResult::Done {
                        detail: format!(
                            "not needed: the etcd operator added the member by itself ({})",
                            labels(&members)
                        ),
                    };
                }
            }
            if abort.is_cancelled() {
                return StepResult::Interrupted { detail: "stopped while waiting for the etcd operator".into() };
            }
            if started.elapsed() >= wait {
                break;
            }
            let _ = progress.send(Progress::Waiting {
                index,
                detail: format!(
                    "the etcd operator has not added the member yet; etcd is redeployed in {}s if it does not",
                    wait.saturating_sub(started.elapsed()).as_secs()
                ),
            });
            tokio::select! {
                () = tokio::time::sleep(self.poll) => {}
                () = abort.cancelled() => {}
            }
        }
        match self.force(reason, limit.saturating_sub(wait), abort).await {
            StepResult::Forced { detail, revision_before } => StepResult::Forced {
                detail: format!("the member was not added within {}s: {detail}", wait.as_secs()),
                revision_before,
            },
            other => other,
        }
    }

    /// A restore-grade backup through the backup wizard, as `etcd-console backup` takes it.
    async fn take_backup(&self, run: &MemberRun, abort: &CancellationToken) -> StepResult {
        use crate::wizard::backup::{executor as backup, BackupOptions, BackupRun, Outcome as BackupOutcome};
        let dir = PathBuf::from(&run.options.backup_dir);
        let executor =
            match backup::BackupExecutor::for_source(&self.etcd, self.quota_bytes, Some(&self.kube), false).await {
                Ok(mut executor) => {
                    executor.shell = self.hosts.clone();
                    executor.debug_image = self.debug_image.clone();
                    executor
                }
                Err(reason) => return StepResult::Failed { reason: format!("the backup cannot begin: {reason}") },
            };
        let mut options = BackupOptions::into_dir(dir.clone(), crate::wizard::backup::DEFAULT_STALL_LIMIT);
        options.via = self.via;
        options.snapshot_only = run.options.hosted_cluster.is_some();
        let mut backup_run = match BackupRun::new(options) {
            Ok(r) => r,
            Err(reason) => return StepResult::Failed { reason: format!("the backup cannot begin: {reason}") },
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        backup::drive(&mut backup_run, &executor, abort.clone(), tx).await;
        match backup_run.outcome() {
            Some(BackupOutcome::Completed) => {
                let metadata = backup_run.metadata();
                StepResult::Done {
                    detail: format!(
                        "backup {} in {} ({})",
                        metadata.taken_at,
                        dir.display(),
                        if metadata.restore_grade { "restore-grade" } else { "snapshot only" }
                    ),
                }
            }
            Some(BackupOutcome::Refused { reason } | BackupOutcome::Failed { reason }) => {
                StepResult::Failed { reason: format!("the backup taken first did not succeed: {reason}") }
            }
            None => StepResult::Failed { reason: "the backup did not finish".into() },
        }
    }
}

fn ensure(out: &HostOutput, argv: &[String], node: &str) -> Result<(), String> {
    if out.exit_code == 0 {
        Ok(())
    } else {
        Err(format!("`{}` on {node} exited {}: {}", argv.join(" "), out.exit_code, out.text()))
    }
}

fn labels(members: &[MemberFacts]) -> String {
    members
        .iter()
        .map(|m| if m.is_learner { format!("{} learner", m.label()) } else { m.label() })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A pod as the procedure reads it: phase, the etcd container's state and restarts, all containers ready.
pub fn pod_facts(pod: &Pod) -> PodFacts {
    let status = pod.status.clone().unwrap_or_default();
    let statuses = status.container_statuses.clone().unwrap_or_default();
    let etcd = statuses.iter().find(|s| s.name == "etcd").or_else(|| statuses.first());
    let waiting = etcd.and_then(|s| s.state.as_ref()).and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.clone());
    let last = etcd.and_then(|s| s.last_state.as_ref()).and_then(|s| s.terminated.as_ref()).map(|t| {
        let at = t.finished_at.as_ref().map(|at| format!(" at {}", at.0)).unwrap_or_default();
        format!("{} (exit {}){at}", t.reason.clone().unwrap_or_else(|| "terminated".into()), t.exit_code)
    });
    PodFacts {
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        phase: status.phase.clone().unwrap_or_default(),
        waiting,
        restarts: etcd.map(|s| i64::from(s.restart_count)).unwrap_or(0),
        last_termination: last,
        ready: !statuses.is_empty() && statuses.iter().all(|s| s.ready),
    }
}

/// The newest backup of the directory and how old it is.
fn backup_found(options: &Options, cluster_id: Option<String>, procedure: Procedure) -> BackupFound {
    use crate::backup::directory::{inspect, Wanted};
    let dir = std::path::Path::new(&options.backup_dir);
    let mut found = BackupFound { dir: options.backup_dir.clone(), ..BackupFound::default() };
    if !dir.is_dir() {
        found.detail = "the directory does not exist".into();
        return found;
    }
    let needs_static = !matches!(procedure, Procedure::Hosted);
    let facts = inspect(dir, &Wanted { timestamp: None, cluster_id, needs_static });
    found.timestamp = facts.timestamp.clone();
    let problem = facts
        .files_problem
        .clone()
        .or_else(|| if needs_static { facts.static_problem.clone() } else { None })
        .or_else(|| facts.integrity_problem.clone())
        .or_else(|| facts.dirty_problem.clone())
        .or_else(|| {
            (facts.verified != Some(true)).then(|| format!("the snapshot does not read: {}", facts.verification))
        });
    found.restorable = problem.is_none() && facts.snapshot.is_some();
    found.detail = problem.unwrap_or_else(|| {
        let mut files = vec![facts.snapshot.clone().unwrap_or_default()];
        files.extend(facts.static_resources.clone());
        format!("{} ({})", files.join(" and "), facts.verification)
    });
    let taken = facts
        .timestamp
        .as_deref()
        .and_then(|ts| stamp_time(crate::backup::directory::plain_timestamp(ts)))
        .or_else(|| facts.snapshot.as_ref().and_then(|s| std::fs::metadata(dir.join(s)).ok()?.modified().ok()));
    found.age_seconds = taken.map(|t| SystemTime::now().duration_since(t).map(|d| d.as_secs()).unwrap_or(0));
    found
}

/// `YYYY-MM-DD_HHMMSS` (UTC, as the backups are named) as a time.
fn stamp_time(stamp: &str) -> Option<SystemTime> {
    let (date, time) = stamp.split_once('_')?;
    if time.len() != 6 {
        return None;
    }
    let text = format!("{date}T{}:{}:{}Z", &time[0..2], &time[2..4], &time[4..6]);
    humantime::parse_rfc3339(&text).ok()
}

/// What a person at a front end answers.
pub trait Person {
    /// The typed confirmation (`CLUSTER/MEMBER`), or None to cancel.
    fn confirm(&mut self, confirmation: &Confirmation) -> impl std::future::Future<Output = Option<String>> + Send;
    /// Whether the person has done a step only they can do (OpenShift 4.3).
    fn done(&mut self, step: &Step) -> impl std::future::Future<Output = bool> + Send;
}

/// Drives the run to its end: each step journalled before it acts and after it ends, each in the audit log.
pub async fn drive<P: Person + Send>(
    run: &mut MemberRun,
    executor: &MemberExecutor,
    person: &mut P,
    abort: CancellationToken,
    progress: &mpsc::UnboundedSender<Progress>,
    journal: &mut (dyn FnMut(&MemberRun) -> Result<(), String> + Send),
) {
    loop {
        let action = run.next_action();
        if let Err(e) = journal(run) {
            run.outcome = Some(super::Outcome::Stopped {
                step: "journal".into(),
                reason: format!("the journal cannot be written, so nothing more is done: {e}"),
                quorum_guard_off: run.quorum_guard_off,
            });
            let _ = progress.send(Progress::Run(Box::new(run.clone())));
            return;
        }
        let observed = match action {
            Action::Finished(outcome) => {
                tracing::info!(target: "audit", action = "member replacement finished", member = %run.member_label(), outcome = %outcome.describe(), "done");
                let _ = progress.send(Progress::Run(Box::new(run.clone())));
                return;
            }
            Action::Survey => Observed::Surveyed(Box::new(executor.survey(&run.options).await)),
            Action::Confirm(confirmation) => {
                let _ = progress.send(Progress::Run(Box::new(run.clone())));
                match person.confirm(&confirmation).await {
                    Some(typed) => {
                        tracing::info!(target: "audit", action = "member replacement confirmed", member = %confirmation.member, cluster = %confirmation.cluster_name, "done");
                        Observed::Typed(typed)
                    }
                    None => Observed::Typed(String::new()),
                }
            }
            Action::AskPerson { index, step } => {
                let _ = progress.send(Progress::Began { index, step: step.clone() });
                Observed::PersonAnswered { index, done: person.done(&step).await }
            }
            Action::Perform { index, step, reason } => {
                if abort.is_cancelled() {
                    run.outcome = Some(super::Outcome::Stopped {
                        step: step.id.clone(),
                        reason: "stopped by you before it began".into(),
                        quorum_guard_off: run.quorum_guard_off,
                    });
                    continue;
                }
                tracing::info!(target: "audit", action = "member replacement step", step = %step.id, title = %step.title, "begin");
                let _ = progress.send(Progress::Began { index, step: step.clone() });
                let result = executor.perform(run, index, &step, reason.as_deref(), &abort, progress).await;
                tracing::info!(target: "audit", action = "member replacement step", step = %step.id, result = ?result, "end");
                Observed::Performed { index, result }
            }
        };
        run.observe(observed);
        let _ = progress.send(Progress::Run(Box::new(run.clone())));
    }
}
