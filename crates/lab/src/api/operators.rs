//! Simulated operators: they watch the store as the real ones watch the API
//! and answer the runbooks' actions the way a cluster does, at `speed` times
//! real time: encryption migrations, forced redeployments rolling node by
//! node, CSR signing, and etcd pods following the real member processes. A
//! hosted control plane's workloads have their own controllers ([`super::hosted_cp`]).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use serde_json::{json, Value};
use tokio::sync::{broadcast, watch as signal};

use super::catalog;
use super::seed::{self, EncryptingOperator, MemberView};
use super::store::{now_rfc3339, str_at, Change, EventKind, Store};
use super::HostsLink;
use crate::certs::LabIssuer;
use crate::hosts::scale_up::{self, ScaleUp};
use crate::hosts::{kubelet, manifest};
use crate::scenario::Scenario;

/// Cluster time each node's static pod takes to roll to a new revision.
pub const ROLLOUT_PER_NODE: Duration = Duration::from_secs(120);
/// Cluster time of an encryption or decryption migration ("20 minutes or longer"):
/// the last operator (KubeAPIServer) completes then, the others at their share of it.
pub const MIGRATION: Duration = Duration::from_secs(20 * 60);
/// When a faulty operator (a scenario's `encryption_degrades`) degrades, as a share of MIGRATION.
pub const DEGRADES_AT: f64 = 0.25;
/// Real time before a failed etcd scale-up is tried again.
pub const SCALE_UP_RETRY: Duration = Duration::from_secs(5);

struct Rollout {
    operator: &'static str,
    revision: i64,
    pending: VecDeque<String>,
    next_at: Instant,
}

struct Migration {
    mode: String,
    /// Operators still migrating, each with when it completes (the faulty one never does).
    finishing: Vec<(&'static EncryptingOperator, Instant)>,
    /// When the faulty operator degrades; None once it has, or when none is faulty.
    degrades_at: Option<Instant>,
}

pub struct Operators {
    store: Arc<Store>,
    members: Vec<MemberView>,
    issuer: Arc<LabIssuer>,
    speed: f64,
    hosted: bool,
    reasons: HashMap<&'static str, String>,
    rollouts: Vec<Rollout>,
    encryption_mode: String,
    /// The operators that report Encrypted on this cluster (three, or two on an older one).
    encrypting: &'static [EncryptingOperator],
    /// The one whose migrations fail (the scenario's `encryption_degrades`).
    faulty: Option<&'static EncryptingOperator>,
    /// The one degraded now, until the next migration starts.
    degraded: Option<&'static EncryptingOperator>,
    migration: Option<Migration>,
    member_up: Vec<Option<bool>>,
    /// The lab's hosts: their kubelets' processes and manifests (None: pids from `members`).
    hosts: Option<HostsLink>,
    /// The etcd operator's scale-up after a restore, done by a task of its own.
    etcd_scale: scale_up::Progress,
    /// What the etcd rollout's message says of the scale-up now.
    etcd_hold_note: String,
}

fn idx(group: &str, kind: &str) -> usize {
    catalog::by_kind(group, kind).unwrap_or(0)
}

/// Replaces (or adds) a condition, keeping lastTransitionTime when the status did not change.
pub fn set_condition(object: &mut Value, mut condition: Value) {
    let kind = condition["type"].clone();
    if !object["status"].is_object() {
        object["status"] = json!({});
    }
    if !object["status"]["conditions"].is_array() {
        object["status"]["conditions"] = json!([]);
    }
    let Some(conditions) = object["status"]["conditions"].as_array_mut() else { return };
    match conditions.iter_mut().find(|c| c["type"] == kind) {
        Some(existing) => {
            if existing["status"] == condition["status"] {
                condition["lastTransitionTime"] = existing["lastTransitionTime"].clone();
            }
            *existing = condition;
        }
        None => conditions.push(condition),
    }
}

pub(super) fn get_condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object.pointer("/status/conditions")?.as_array()?.iter().find(|c| c["type"] == kind)
}

/// A process's state letter from /proc (R, S, D, T, Z, ...); None once it is gone.
fn process_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the command name, which is in parentheses and may hold spaces.
    stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next())
}

/// Alive (not exited, not a zombie) and running (not stopped).
pub fn process_alive_running(pid: i32) -> (bool, bool) {
    match process_state(pid) {
        None | Some('Z' | 'X') => (false, false),
        Some('T' | 't') => (true, false),
        Some(_) => (true, true),
    }
}

/// etcd/cluster's quorum guard is off (spec.unsupportedConfigOverrides), as the restore sets it.
pub fn quorum_guard_off(etcd: &Value) -> bool {
    match etcd.pointer("/spec/unsupportedConfigOverrides/useUnsupportedUnsafeNonHANonProductionUnstableEtcd") {
        Some(Value::Bool(on)) => *on,
        Some(Value::String(text)) => text == "true",
        _ => false,
    }
}

impl Operators {
    pub fn new(
        store: Arc<Store>,
        members: Vec<MemberView>,
        issuer: Arc<LabIssuer>,
        speed: f64,
        scenario: &Scenario,
        hosts: Option<HostsLink>,
    ) -> Self {
        let member_up = vec![None; members.len()];
        let mut operators = Self {
            store,
            members,
            issuer,
            speed: if speed.is_finite() && speed > 0.0 { speed } else { 1.0 },
            hosted: scenario.hosted,
            reasons: HashMap::new(),
            rollouts: Vec::new(),
            encryption_mode: scenario.cluster.encryption.clone(),
            encrypting: seed::encrypting_operators(scenario.cluster.encryption_operators),
            faulty: seed::degrading_operator(&scenario.cluster),
            degraded: seed::degraded_at_start(&scenario.cluster),
            migration: None,
            member_up,
            hosts,
            etcd_scale: Arc::new(std::sync::Mutex::new(ScaleUp::Idle)),
            etcd_hold_note: String::new(),
        };
        let now = Instant::now();
        // The seed shows what a migration already running has done so far; the rest follows from here.
        if let Some(elapsed) = seed::migration_elapsed(&scenario.cluster) {
            operators.migration = Some(operators.migration(&scenario.cluster.encryption, elapsed, now));
        }
        for (short, kind) in seed::STATIC_POD_OPERATORS {
            let Ok(object) = operators.store.get(idx("operator.openshift.io", kind), "", "cluster") else { continue };
            operators.reasons.insert(short, str_at(&object, "/spec/forceRedeploymentReason").to_string());
            let latest = object.pointer("/status/latestAvailableRevision").and_then(Value::as_i64).unwrap_or(0);
            let behind: VecDeque<String> = object
                .pointer("/status/nodeStatuses")
                .and_then(Value::as_array)
                .map(|nodes| {
                    nodes
                        .iter()
                        .filter(|n| n["currentRevision"].as_i64().unwrap_or(0) < latest)
                        .map(|n| str_at(n, "/nodeName").to_string())
                        .collect()
                })
                .unwrap_or_default();
            if !behind.is_empty() {
                operators.rollouts.push(Rollout {
                    operator: short,
                    revision: latest,
                    pending: behind,
                    next_at: now + operators.scaled(ROLLOUT_PER_NODE),
                });
            }
        }
        operators
    }

    fn scaled(&self, cluster_time: Duration) -> Duration {
        cluster_time.div_f64(self.speed)
    }

    /// Runs until shutdown: reacts to changes, and moves time-driven work on.
    pub async fn run(mut self, mut shutdown: signal::Receiver<bool>) {
        let (_, mut changes) = match self.store.follow(self.store.revision()) {
            Ok(follow) => follow,
            Err(_) => return,
        };
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tick.tick() => self.on_tick(Instant::now()),
                change = changes.recv() => match change {
                    Ok(change) => self.on_change(&change, Instant::now()),
                    Err(broadcast::error::RecvError::Lagged(_)) => self.rescan(Instant::now()),
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }

    /// After falling behind the change feed: look at every object the operators react to.
    fn rescan(&mut self, now: Instant) {
        let mut kinds =
            vec![("certificates.k8s.io", "CertificateSigningRequest"), ("config.openshift.io", "APIServer")];
        kinds.extend(seed::STATIC_POD_OPERATORS.iter().map(|(_, kind)| ("operator.openshift.io", *kind)));
        for (group, kind) in kinds {
            let Some(type_index) = catalog::by_kind(group, kind) else { continue };
            for object in self.store.all_of(type_index) {
                let change = Change { revision: 0, type_index, kind: EventKind::Modified, object, previous: None };
                self.on_change(&change, now);
            }
        }
        self.on_tick(now);
    }

    pub fn on_change(&mut self, change: &Change, now: Instant) {
        let rt = catalog::get(change.type_index);
        if change.kind == EventKind::Deleted {
            match rt.kind {
                "Pod" => self.pod_deleted(&change.object),
                "Machine" => self.machine_deleted(&change.object),
                _ => {}
            }
            return;
        }
        match (rt.group, rt.kind) {
            ("certificates.k8s.io", "CertificateSigningRequest") => self.maybe_issue(&change.object),
            ("config.openshift.io", "APIServer") => self.encryption_changed(&change.object, now),
            ("operator.openshift.io", kind) => {
                if let Some((short, _)) = seed::STATIC_POD_OPERATORS.iter().find(|(_, k)| *k == kind) {
                    let reason = str_at(&change.object, "/spec/forceRedeploymentReason").to_string();
                    if self.reasons.get(short) != Some(&reason) {
                        self.reasons.insert(short, reason.clone());
                        tracing::info!(operator = short, reason = %reason, "lab: forced redeployment");
                        if *short == "etcd" {
                            // The etcd operator first makes sure every master has a member.
                            self.begin_scale_up(quorum_guard_off(&change.object));
                        }
                        self.start_rollout(short, now);
                    }
                }
            }
            _ => {}
        }
    }

    pub fn on_tick(&mut self, now: Instant) {
        self.follow_members();
        self.hear_kubelet_restarts();
        self.tend_scale_up(now);
        self.advance_rollouts(now);
        self.advance_migration(now);
        self.sync_cluster_operators();
        self.tend_ovn_and_machines();
    }

    // --- static-pod rollouts ----------------------------------------------------------------

    fn master_names(&self) -> Vec<String> {
        self.members.iter().map(|m| m.name.clone()).collect()
    }

    fn start_rollout(&mut self, operator: &'static str, now: Instant) {
        let Some((_, kind)) = seed::STATIC_POD_OPERATORS.iter().find(|(s, _)| *s == operator) else { return };
        let index = idx("operator.openshift.io", kind);
        let Ok(object) = self.store.get(index, "", "cluster") else { return };
        let revision = object.pointer("/status/latestAvailableRevision").and_then(Value::as_i64).unwrap_or(0) + 1;
        self.rollouts.retain(|r| r.operator != operator);
        let nodes = self.master_names();
        self.rollouts.push(Rollout {
            operator,
            revision,
            pending: nodes.iter().cloned().collect(),
            next_at: now + self.scaled(ROLLOUT_PER_NODE),
        });
        let _ = self.store.modify(index, "", "cluster", |o| {
            o["status"]["latestAvailableRevision"] = json!(revision);
            if let Some(statuses) = o["status"]["nodeStatuses"].as_array_mut() {
                for s in statuses {
                    s["targetRevision"] = json!(revision);
                }
            }
        });
        self.write_revision_conditions(kind, revision);
    }

    fn write_revision_conditions(&self, kind: &str, latest: i64) {
        let index = idx("operator.openshift.io", kind);
        let at = now_rfc3339();
        let note = self.etcd_hold_note.as_str();
        let _ = self.store.modify(index, "", "cluster", |o| {
            let revisions: Vec<i64> = o
                .pointer("/status/nodeStatuses")
                .and_then(Value::as_array)
                .map(|n| n.iter().map(|s| s["currentRevision"].as_i64().unwrap_or(0)).collect())
                .unwrap_or_default();
            let mut message = seed::rollout_message(&revisions, latest);
            if kind == "Etcd" {
                message.push_str(note);
            }
            let condition = if revisions.iter().all(|r| *r == latest) {
                seed::condition("NodeInstallerProgressing", "False", "AllNodesAtLatestRevision", &message, &at)
            } else {
                seed::condition("NodeInstallerProgressing", "True", "NodeInstaller", &message, &at)
            };
            set_condition(o, condition);
        });
    }

    fn advance_rollouts(&mut self, now: Instant) {
        let step = self.scaled(ROLLOUT_PER_NODE);
        let mut finished = Vec::new();
        let mut moved = Vec::new();
        let etcd_held = self.etcd_held();
        for rollout in &mut self.rollouts {
            if now < rollout.next_at || (rollout.operator == "etcd" && etcd_held) {
                continue;
            }
            if let Some(node) = rollout.pending.pop_front() {
                moved.push((rollout.operator, rollout.revision, node));
                rollout.next_at = now + step;
            }
            if rollout.pending.is_empty() {
                finished.push(rollout.operator);
            }
        }
        self.rollouts.retain(|r| !finished.contains(&r.operator));
        for (operator, revision, node) in moved {
            let Some((_, kind)) = seed::STATIC_POD_OPERATORS.iter().find(|(s, _)| *s == operator) else { continue };
            let index = idx("operator.openshift.io", kind);
            let _ = self.store.modify(index, "", "cluster", |o| {
                if let Some(statuses) = o["status"]["nodeStatuses"].as_array_mut() {
                    for s in statuses.iter_mut().filter(|s| s["nodeName"] == node.as_str()) {
                        s["currentRevision"] = json!(revision);
                        if let Some(m) = s.as_object_mut() {
                            m.remove("targetRevision");
                        }
                    }
                }
            });
            self.write_revision_conditions(kind, revision);
            self.reinstall_static_pod(operator, &node, revision);
            if operator == "etcd" && !self.hosted {
                let pods = idx("", "Pod");
                let _ = self.store.modify(pods, "openshift-etcd", &format!("etcd-{node}"), |p| {
                    p["metadata"]["labels"]["revision"] = json!(revision.to_string());
                });
                self.replace_restore_pod(&node, revision);
            }
        }
    }

    /// The rollout gives a restored member its regular etcd pod back: the restore pod's
    /// manifest (one container) becomes the full one, the member's command unchanged (so
    /// the kubelet does not restart it), and the mirror pod is made again from it.
    fn replace_restore_pod(&self, node: &str, revision: i64) {
        let Some(link) = &self.hosts else { return };
        let path = kubelet::etcd_manifest(&link.inventory.root(node));
        let Ok(text) = std::fs::read_to_string(&path) else { return };
        if manifest::containers(&text).len() != 1 {
            return;
        }
        let Some(command) = manifest::etcd_command_of(&text) else { return };
        let yaml = manifest::etcd_pod_yaml(node, revision, &command, false);
        if let Err(e) = crate::hosts::write_atomically(&path, &yaml) {
            tracing::warn!(%node, error = %e, "lab: cannot replace the restore-etcd pod");
            return;
        }
        tracing::info!(%node, "lab: the etcd rollout replaced the restore-etcd pod");
        // Made again from the new manifest (see pod_deleted and follow_manifest).
        let _ = self.store.delete(idx("", "Pod"), "openshift-etcd", &format!("etcd-{node}"), false);
    }

    // --- encryption ---------------------------------------------------------------------------

    fn encryption_changed(&mut self, apiserver: &Value, now: Instant) {
        let mode = str_at(apiserver, "/spec/encryption/type").to_string();
        let normalized = |m: &str| if m.is_empty() { "identity".to_string() } else { m.to_string() };
        if normalized(&mode) == normalized(&self.encryption_mode) {
            return;
        }
        tracing::info!(from = %self.encryption_mode, to = %mode, "lab: encryption type changed");
        self.encryption_mode = mode.clone();
        // A new migration starts clean; a persistent fault degrades it again later.
        if let Some(degraded) = self.degraded {
            self.set_migration_degraded(degraded, false);
        }
        if mode == "aescbc" || mode == "aesgcm" {
            let secrets = idx("", "Secret");
            for component in self.encrypting.iter().map(|o| o.component) {
                let existing = self
                    .store
                    .list(
                        secrets,
                        Some("openshift-config-managed"),
                        &|s| str_at(s, "/metadata/name").starts_with(&format!("encryption-key-{component}-")),
                        None,
                        None,
                    )
                    .items
                    .len();
                let key = seed::encryption_key(component, existing as u32 + 1, &mode);
                let _ = self.store.create(secrets, "openshift-config-managed", key, false);
            }
        }
        self.migration = Some(self.migration(&mode, Duration::ZERO, now));
        for operator in self.encrypting {
            self.set_encrypted(operator, &mode, true);
        }
        // A new encryption configuration is a new kube-apiserver revision.
        self.start_rollout("kubeapiserver", now);
    }

    /// A migration to `mode` that has run `elapsed` cluster time: who completes
    /// when (those past their share already have), and when the faulty one degrades.
    fn migration(&self, mode: &str, elapsed: Duration, now: Instant) -> Migration {
        let after = |share: f64| now + self.scaled(MIGRATION.mul_f64(share).saturating_sub(elapsed));
        let finishing = self
            .encrypting
            .iter()
            .filter(|o| self.faulty.is_none_or(|f| f.kind != o.kind))
            .filter(|o| elapsed < MIGRATION.mul_f64(o.finishes))
            .map(|o| (o, after(o.finishes)))
            .collect();
        let degrades_at = self.faulty.filter(|_| elapsed < MIGRATION.mul_f64(DEGRADES_AT)).map(|_| after(DEGRADES_AT));
        Migration { mode: mode.to_string(), finishing, degrades_at }
    }

    /// Each operator completes at its own time; the faulty one degrades at DEGRADES_AT.
    fn advance_migration(&mut self, now: Instant) {
        let Some(migration) = self.migration.as_mut() else { return };
        let mode = migration.mode.clone();
        let (done, going): (Vec<_>, Vec<_>) = migration.finishing.drain(..).partition(|(_, at)| now >= *at);
        migration.finishing = going;
        let degrades = migration.degrades_at.is_some_and(|at| now >= at);
        if degrades {
            migration.degrades_at = None;
        }
        if migration.finishing.is_empty() && migration.degrades_at.is_none() {
            self.migration = None;
        }
        for (operator, _) in done {
            tracing::info!(operator = operator.kind, mode = %mode, "lab: encryption migration completed");
            self.set_encrypted(operator, &mode, false);
        }
        if let Some(faulty) = self.faulty.filter(|_| degrades) {
            tracing::info!(operator = faulty.kind, "lab: encryption migration degraded");
            self.set_migration_degraded(faulty, true);
        }
    }

    fn set_encrypted(&self, operator: &EncryptingOperator, mode: &str, in_progress: bool) {
        let at = now_rfc3339();
        let mode = if mode.is_empty() { "identity" } else { mode };
        let index = idx("operator.openshift.io", operator.kind);
        let _ = self.store.modify(index, "", "cluster", |o| {
            set_condition(o, seed::encrypted_condition(operator.resources, mode, in_progress, &at));
        });
    }

    /// The operator's migration controller fails (or recovers), and its ClusterOperator says so.
    fn set_migration_degraded(&mut self, operator: &'static EncryptingOperator, degraded: bool) {
        self.degraded = degraded.then_some(operator);
        let at = now_rfc3339();
        let index = idx("operator.openshift.io", operator.kind);
        let _ = self.store.modify(index, "", "cluster", |o| {
            set_condition(o, seed::migration_degraded_condition(operator, degraded, &at));
        });
        let condition = if degraded {
            seed::migration_degraded_cluster_condition(operator, &at)
        } else {
            seed::condition("Degraded", "False", "AsExpected", "", &at)
        };
        let cos = idx("config.openshift.io", "ClusterOperator");
        let _ = self.store.modify(cos, "", operator.cluster_operator, |o| set_condition(o, condition));
    }

    // --- CSRs ---------------------------------------------------------------------------------

    fn maybe_issue(&mut self, csr: &Value) {
        let holds = |kind: &str| get_condition(csr, kind).is_some_and(|c| c["status"] == "True");
        let (approved, denied) = (holds("Approved"), holds("Denied"));
        if !approved || denied || !str_at(csr, "/status/certificate").is_empty() {
            return;
        }
        let name = str_at(csr, "/metadata/name").to_string();
        let signer = str_at(csr, "/spec/signerName").to_string();
        let request = base64::engine::general_purpose::STANDARD
            .decode(str_at(csr, "/spec/request"))
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        let index = idx("certificates.k8s.io", "CertificateSigningRequest");
        let signed =
            rcgen::CertificateSigningRequestParams::from_pem(&request).map_err(|e| e.to_string()).and_then(|params| {
                let node = match params.params.distinguished_name.get(&rcgen::DnType::CommonName) {
                    Some(rcgen::DnValue::Utf8String(cn)) => cn.clone(),
                    Some(rcgen::DnValue::PrintableString(cn)) => cn.as_str().to_string(),
                    _ => String::new(),
                };
                params.signed_by(&self.issuer).map(|c| (c.pem(), node)).map_err(|e| e.to_string())
            });
        match signed {
            Ok((pem, common_name)) => {
                let at = now_rfc3339();
                let _ = self.store.modify(index, "", &name, |o| {
                    o["status"]["certificate"] = json!(seed::b64(pem.as_bytes()));
                });
                tracing::info!(csr = %name, signer = %signer, "lab: certificate issued");
                if let Some(node) = common_name.strip_prefix("system:node:") {
                    self.node_ready(node, &at);
                    if signer == "kubernetes.io/kube-apiserver-client-kubelet" {
                        self.kubelet_asks_for_serving_cert(node);
                    }
                }
            }
            Err(reason) => {
                let at = now_rfc3339();
                let _ = self.store.modify(index, "", &name, |o| {
                    set_condition(
                        o,
                        seed::condition(
                            "Failed",
                            "True",
                            "SignerValidationFailure",
                            &format!("cannot sign: {reason}"),
                            &at,
                        ),
                    );
                });
            }
        }
    }

    fn node_ready(&self, node: &str, at: &str) {
        let nodes = idx("", "Node");
        let _ = self.store.modify(nodes, "", node, |o| {
            set_condition(o, seed::condition("Ready", "True", "KubeletReady", "kubelet is posting ready status", at));
        });
    }

    /// With its client certificate, a kubelet files a kubelet-serving CSR (unless one is pending).
    fn kubelet_asks_for_serving_cert(&self, node: &str) {
        let csrs = idx("certificates.k8s.io", "CertificateSigningRequest");
        let username = format!("system:node:{node}");
        let pending = self.store.list(
            csrs,
            None,
            &|c| str_at(c, "/spec/username") == username && get_condition(c, "Approved").is_none(),
            None,
            Some(1),
        );
        if !pending.items.is_empty() {
            return;
        }
        let Ok(pem) = seed::node_csr_pem(node) else { return };
        let mut csr = seed::csr("", node, true, &pem, &now_rfc3339());
        csr["metadata"]["generateName"] = json!("csr-");
        if let Some(m) = csr["metadata"].as_object_mut() {
            m.remove("name");
        }
        let _ = self.store.create(csrs, "", csr, false);
    }

    // --- etcd pods follow the member processes ---------------------------------------------

    /// The pid of member `i`'s etcd now (the kubelet's, when the lab has hosts).
    fn member_pid(&self, i: usize) -> Option<i32> {
        match &self.hosts {
            Some(link) => link.pids.get(i),
            None => self.members.get(i).and_then(|m| m.pid),
        }
    }

    /// The etcd manifest of member `i`'s host: Some(None) when it has none, None when the lab has no hosts.
    fn etcd_manifest(&self, i: usize) -> Option<Option<String>> {
        let link = self.hosts.as_ref()?;
        let member = self.members.get(i)?;
        let path = kubelet::etcd_manifest(&link.inventory.root(&member.name));
        Some(std::fs::read_to_string(path).ok())
    }

    /// The node's etcd revision, as the operator's status has it.
    fn etcd_revision(&self, node: &str) -> i64 {
        self.store
            .get(idx("operator.openshift.io", "Etcd"), "", "cluster")
            .ok()
            .and_then(|o| {
                o.pointer("/status/nodeStatuses")?
                    .as_array()?
                    .iter()
                    .find(|s| s["nodeName"] == node)
                    .and_then(|s| s["currentRevision"].as_i64())
            })
            .unwrap_or(seed::LATEST_REVISION)
    }

    /// The mirror pod of an etcd static pod: its containers those of the manifest.
    fn etcd_mirror_pod(&self, i: usize, manifest_text: &str, up: bool, at: &str) -> Option<Value> {
        let member = self.members.get(i)?;
        let mut pod = seed::etcd_pod(member, self.etcd_revision(&member.name), at);
        let names: Vec<String> = manifest::containers(manifest_text).into_iter().map(|c| c.name).collect();
        for list in ["/spec/containers", "/status/containerStatuses"] {
            if let Some(items) = pod.pointer_mut(list).and_then(Value::as_array_mut) {
                items.retain(|c| c["name"].as_str().is_some_and(|n| names.iter().any(|m| m == n)));
            }
        }
        if !up {
            set_condition(
                &mut pod,
                seed::condition("Ready", "False", "ContainersNotReady", "containers with unready status: [etcd]", at),
            );
            if let Some(statuses) = pod["status"]["containerStatuses"].as_array_mut() {
                for s in statuses.iter_mut().filter(|s| s["name"] == "etcd") {
                    s["ready"] = json!(false);
                    s["started"] = json!(false);
                    s["state"] = json!({"waiting": {"reason": "ContainerCreating"}});
                }
            }
        }
        Some(pod)
    }

    /// A static pod's mirror follows its manifest: gone with it, back with it.
    /// True when member `i`'s host has no etcd manifest (nothing more to follow).
    fn follow_manifest(&mut self, i: usize) -> bool {
        if self.hosted {
            return false;
        }
        let Some(manifest_text) = self.etcd_manifest(i) else { return false };
        let pods = idx("", "Pod");
        let name = format!("etcd-{}", self.members[i].name);
        let exists = self.store.exists(pods, "openshift-etcd", &name);
        match manifest_text {
            None => {
                if exists {
                    tracing::info!(pod = %name, "lab: the etcd manifest is gone, so is its mirror pod");
                    let _ = self.store.delete(pods, "openshift-etcd", &name, false);
                }
                // No member runs there: the etcd operator counts it unhealthy.
                self.member_up[i] = Some(false);
                true
            }
            Some(text) if !exists => {
                let up = self.member_pid(i).is_some_and(|pid| process_alive_running(pid).1);
                if let Some(pod) = self.etcd_mirror_pod(i, &text, up, &now_rfc3339()) {
                    tracing::info!(pod = %name, up, "lab: an etcd manifest appeared, so does its mirror pod");
                    let _ = self.store.create(pods, "openshift-etcd", pod, false);
                }
                self.member_up[i] = Some(up);
                true
            }
            Some(_) => false,
        }
    }

    fn follow_members(&mut self) {
        if self.hosted {
            // The StatefulSet's controller follows its replicas (super::hosted_cp).
            return;
        }
        for i in 0..self.members.len() {
            if self.follow_manifest(i) {
                continue;
            }
            let (alive, up) = self.member_pid(i).map(process_alive_running).unwrap_or((false, false));
            if self.member_up[i] == Some(up) {
                continue;
            }
            let first = self.member_up[i].is_none();
            self.member_up[i] = Some(up);
            if first && up {
                continue;
            }
            let (namespace, pod) = ("openshift-etcd", format!("etcd-{}", self.members[i].name));
            let at = now_rfc3339();
            tracing::info!(member = %self.members[i].name, up, "lab: etcd pod readiness follows its member");
            let _ = self.store.modify(idx("", "Pod"), namespace, &pod, |p| {
                set_condition(
                    p,
                    seed::condition(
                        "Ready",
                        if up { "True" } else { "False" },
                        if up { "" } else { "ContainersNotReady" },
                        if up { "" } else { "containers with unready status: [etcd]" },
                        &at,
                    ),
                );
                etcd_container_follows(p, up, alive, &at);
            });
        }
    }

    // --- the hosts: kubelets restarted, the etcd scale-up, static pods reinstalled ----------

    /// A restarted kubelet asks for a client certificate again (a node-bootstrapper CSR).
    fn hear_kubelet_restarts(&self) {
        let Some(link) = &self.hosts else { return };
        for node in link.kubelet_restarts.take() {
            if self.hosted {
                continue;
            }
            let csrs = idx("certificates.k8s.io", "CertificateSigningRequest");
            let pending = self.store.list(
                csrs,
                None,
                &|c| {
                    str_at(c, "/metadata/annotations/lab.etcd-console~1node") == node
                        && str_at(c, "/spec/signerName") == "kubernetes.io/kube-apiserver-client-kubelet"
                        && get_condition(c, "Approved").is_none()
                        && get_condition(c, "Denied").is_none()
                },
                None,
                Some(1),
            );
            if !pending.items.is_empty() {
                continue;
            }
            let Ok(pem) = seed::node_csr_pem(&node) else { continue };
            let mut csr = seed::csr("", &node, false, &pem, &now_rfc3339());
            csr["metadata"]["generateName"] = json!("csr-");
            if let Some(m) = csr["metadata"].as_object_mut() {
                m.remove("name");
            }
            tracing::info!(%node, "lab: a restarted kubelet filed a node-bootstrapper CSR");
            let _ = self.store.create(csrs, "", csr, false);
        }
    }

    /// Starts the etcd operator's scale-up (unless one is under way).
    fn begin_scale_up(&mut self, guard_off: bool) {
        let Some(link) = self.hosts.clone().filter(|_| !self.hosted) else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        {
            let mut state = self.etcd_scale.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if matches!(*state, ScaleUp::Checking | ScaleUp::Adding { .. }) {
                return;
            }
            *state = ScaleUp::Checking;
        }
        runtime.spawn(scale_up::run(link.inventory, link.pids, guard_off, self.etcd_scale.clone()));
    }

    fn scale_state(&self) -> ScaleUp {
        self.etcd_scale.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Whether the etcd rollout waits for the scale-up (or for the quorum guard).
    fn etcd_held(&self) -> bool {
        !matches!(self.scale_state(), ScaleUp::Idle | ScaleUp::Done)
    }

    /// Tries a blocked or failed scale-up again when it can go on, and says in the
    /// etcd rollout's message why it waits.
    fn tend_scale_up(&mut self, now: Instant) {
        let state = self.scale_state();
        let etcd = self.store.get(idx("operator.openshift.io", "Etcd"), "", "cluster").ok();
        let guard_off = etcd.as_ref().is_some_and(quorum_guard_off);
        let rolling = self.rollouts.iter().any(|r| r.operator == "etcd");
        match &state {
            ScaleUp::Blocked { .. } if guard_off => self.begin_scale_up(true),
            ScaleUp::Failed { at, .. } if rolling && now.duration_since(*at) >= SCALE_UP_RETRY => {
                self.begin_scale_up(guard_off)
            }
            _ => {}
        }
        let note = match &state {
            ScaleUp::Blocked { members, hosts } => format!(
                "; waiting: etcd has {members} of {hosts} members and the quorum guard holds the rollout \
                 (spec.unsupportedConfigOverrides.useUnsupportedUnsafeNonHANonProductionUnstableEtcd is not set)"
            ),
            ScaleUp::Adding { node, members, hosts } => {
                format!("; scaling etcd up: adding member {node} ({members} of {hosts} members started)")
            }
            ScaleUp::Failed { reason, .. } => format!("; scaling etcd up failed, trying again: {reason}"),
            ScaleUp::Idle | ScaleUp::Checking | ScaleUp::Done => String::new(),
        };
        if note != self.etcd_hold_note {
            self.etcd_hold_note = note;
            if let Some(rollout) = self.rollouts.iter().find(|r| r.operator == "etcd") {
                let revision = rollout.revision;
                self.write_revision_conditions("Etcd", revision);
            }
        }
    }

    /// A node's rollout installs its static pod again where the manifest was moved away
    /// (kube-apiserver, kube-controller-manager, kube-scheduler; etcd's comes with the scale-up).
    fn reinstall_static_pod(&self, operator: &str, node: &str, revision: i64) {
        let (Some(link), Some(pod)) = (&self.hosts, manifest::of_operator(operator)) else { return };
        if pod == manifest::ETCD || self.hosted || !link.inventory.reachable(node) {
            return;
        }
        let root = link.inventory.root(node);
        let Ok(path) = crate::hosts::map_path(&root, &format!("{}/{}", crate::hosts::MANIFESTS, pod.file)) else {
            return;
        };
        if path.exists() {
            return;
        }
        match crate::hosts::write_atomically(&path, &manifest::static_pod_yaml(&pod, node, revision)) {
            Ok(()) => tracing::info!(%node, pod = pod.component, "lab: the rollout installed the static pod again"),
            Err(e) => tracing::warn!(%node, pod = pod.component, error = %e, "lab: cannot install the static pod"),
        }
    }

    // --- ClusterOperators mirror their operators ------------------------------------------

    fn sync_cluster_operators(&self) {
        if self.hosted {
            return;
        }
        let cos = idx("config.openshift.io", "ClusterOperator");
        let at = now_rfc3339();
        let pairs = [
            ("etcd", "Etcd"),
            ("kube-apiserver", "KubeAPIServer"),
            ("kube-controller-manager", "KubeControllerManager"),
            ("kube-scheduler", "KubeScheduler"),
        ];
        for (co, kind) in pairs {
            let Ok(operator) = self.store.get(idx("operator.openshift.io", kind), "", "cluster") else { continue };
            let progressing = get_condition(&operator, "NodeInstallerProgressing");
            let (status, message) = match progressing {
                Some(c) if c["status"] == "True" => {
                    ("True", format!("NodeInstallerProgressing: {}", str_at(c, "/message")))
                }
                _ => ("False", String::new()),
            };
            let reason = if status == "True" { "NodeInstaller" } else { "AsExpected" };
            let down: Vec<&str> = if co == "etcd" {
                self.members
                    .iter()
                    .zip(&self.member_up)
                    .filter(|(_, up)| **up == Some(false))
                    .map(|(m, _)| m.name.as_str())
                    .collect()
            } else {
                Vec::new()
            };
            // A failing encryption migration holds the ClusterOperator Degraded.
            let degraded = if let Some(operator) = self.degraded.filter(|o| o.cluster_operator == co) {
                seed::migration_degraded_cluster_condition(operator, &at)
            } else if down.is_empty() {
                seed::condition("Degraded", "False", "AsExpected", "", &at)
            } else {
                let message = format!(
                    "EtcdMembersDegraded: {} of {} members are available, {} {} unhealthy",
                    self.members.len() - down.len(),
                    self.members.len(),
                    down.join(", "),
                    if down.len() == 1 { "is" } else { "are" }
                );
                seed::condition("Degraded", "True", "EtcdMembers_UnhealthyMembers", &message, &at)
            };
            let Ok(current) = self.store.get(cos, "", co) else { continue };
            let mut wanted = current.clone();
            set_condition(&mut wanted, seed::condition("Progressing", status, reason, &message, &at));
            set_condition(&mut wanted, degraded);
            // Only a real change is written (conditions carry their own times).
            let differs = ["Progressing", "Degraded"].iter().any(|k| {
                let (a, b) = (get_condition(&current, k), get_condition(&wanted, k));
                a.map(|c| (&c["status"], &c["message"])) != b.map(|c| (&c["status"], &c["message"]))
            });
            if differs {
                let _ = self.store.modify(cos, "", co, |o| *o = wanted.clone());
            }
        }
    }

    // --- etcd mirror pods --------------------------------------------------------------------

    /// A deleted etcd static pod's mirror comes back: the kubelet recreates it.
    fn pod_deleted(&self, pod: &Value) {
        let namespace = str_at(pod, "/metadata/namespace");
        let at = now_rfc3339();
        if namespace == "openshift-etcd" && !self.hosted {
            let name = str_at(pod, "/metadata/name");
            let Some(i) = self.members.iter().position(|m| format!("etcd-{}", m.name) == name) else { return };
            let revision = str_at(pod, "/metadata/labels/revision").parse().unwrap_or(seed::LATEST_REVISION);
            let mut recreated = seed::etcd_pod(&self.members[i], revision, &at);
            match self.etcd_manifest(i) {
                // Without a manifest there is no static pod to mirror.
                Some(None) => return,
                Some(Some(text)) => {
                    let up = self.member_pid(i).is_some_and(|pid| process_alive_running(pid).1);
                    if let Some(mut pod) = self.etcd_mirror_pod(i, &text, up, &at) {
                        pod["metadata"]["labels"]["revision"] = json!(revision.to_string());
                        recreated = pod;
                    }
                }
                None => {}
            }
            let _ = self.store.create(idx("", "Pod"), namespace, recreated, false);
        }
    }
}

// --- OVN-Kubernetes and the machine API --------------------------------------------------

/// Cluster time an OVN-Kubernetes pod takes from Pending to Running.
pub const OVN_POD_START: Duration = Duration::from_secs(8);
/// Cluster time a new Machine takes from Provisioning to Running (Provisioned for its last minute).
pub const MACHINE_PROVISIONING: Duration = Duration::from_secs(180);
const MACHINE_PROVISIONED_FOR: Duration = Duration::from_secs(60);
/// When a Pending pod or a Provisioning Machine is to be Running (RFC 3339, wall clock).
pub const READY_AT_ANNOTATION: &str = "lab.etcd-console/ready-at";
const MACHINE_NAMESPACE: &str = "openshift-machine-api";

pub(super) fn ready_at(object: &Value) -> Option<SystemTime> {
    let text = object.pointer("/metadata/annotations")?.get(READY_AT_ANNOTATION)?.as_str()?;
    humantime::parse_rfc3339(text).ok()
}

pub(super) fn with_ready_at(object: &mut Value, at: SystemTime) {
    if !object["metadata"]["annotations"].is_object() {
        object["metadata"]["annotations"] = json!({});
    }
    object["metadata"]["annotations"][READY_AT_ANNOTATION] = json!(humantime::format_rfc3339_millis(at).to_string());
}

pub(super) fn without_ready_at(object: &mut Value) {
    if let Some(annotations) = object["metadata"]["annotations"].as_object_mut() {
        annotations.remove(READY_AT_ANNOTATION);
    }
}

fn node_internal_ip(node: &Value) -> String {
    node.pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|a| a["type"] == "InternalIP"))
        .and_then(|a| a["address"].as_str())
        .unwrap_or("")
        .to_string()
}

/// The name the machine API gives the Machine that replaces `deleted`: the
/// next number after every `<prefix>-<N>` there is (`<infra>-master-3` after
/// master-0..2), or a fresh random suffix for a MachineSet's worker.
pub fn replacement_machine_name(deleted: &str, existing: &[String]) -> String {
    let Some((prefix, last)) = deleted.rsplit_once('-') else { return format!("{deleted}-{}", seed::pod_suffix()) };
    if last.is_empty() || !last.chars().all(|c| c.is_ascii_digit()) {
        return format!("{prefix}-{}", seed::pod_suffix());
    }
    let number = |name: &str| name.strip_prefix(prefix)?.strip_prefix('-')?.parse::<u64>().ok();
    let highest = existing.iter().filter_map(|n| number(n)).chain(number(deleted)).max().unwrap_or(0);
    format!("{prefix}-{}", highest + 1)
}

impl Operators {
    /// The controllers of OVN-Kubernetes and the machine API, once a tick.
    fn tend_ovn_and_machines(&self) {
        if self.hosted {
            return;
        }
        self.reconcile_ovn();
        self.advance_machines();
        self.nodes_of_powered_off_hosts();
    }

    /// A host powered off (its Machine deleted, or `lab lose`) posts no node status: its Node's
    /// Ready turns Unknown, as the node lifecycle controller has it.
    fn nodes_of_powered_off_hosts(&self) {
        let Some(link) = &self.hosts else { return };
        let nodes = idx("", "Node");
        for host in &link.inventory.hosts {
            if !crate::hosts::powered_off(&link.inventory, &host.name) {
                continue;
            }
            let Ok(node) = self.store.get(nodes, "", &host.name) else { continue };
            if get_condition(&node, "Ready").is_some_and(|c| c["status"] == "Unknown") {
                continue;
            }
            let at = now_rfc3339();
            let _ = self.store.modify(nodes, "", &host.name, |o| {
                set_condition(
                    o,
                    seed::condition(
                        "Ready",
                        "Unknown",
                        "NodeStatusUnknown",
                        "Kubelet stopped posting node status.",
                        &at,
                    ),
                );
            });
        }
    }

    /// The ovnkube-node DaemonSet keeps one pod on every node, the
    /// ovnkube-control-plane Deployment its replicas on the masters; a new pod
    /// is Pending for OVN_POD_START (cluster time), then Running.
    fn reconcile_ovn(&self) {
        let (pods, ns) = (idx("", "Pod"), seed::OVN_NAMESPACE);
        let Ok(daemonset) = self.store.get(idx("apps", "DaemonSet"), ns, seed::OVN_NODE) else { return };
        let nodes = self.store.all_of(idx("", "Node"));
        let app = |p: &Value| str_at(p, "/metadata/labels/app").to_string();
        let on_node = |p: &Value| str_at(p, "/spec/nodeName").to_string();
        let mut current = self.store.list(pods, Some(ns), &|_| true, None, None).items;
        let now = SystemTime::now();
        let at = now_rfc3339();
        let start = now + self.scaled(OVN_POD_START);
        let create = |mut pod: Value| {
            with_ready_at(&mut pod, start);
            tracing::info!(pod = %str_at(&pod, "/metadata/name"), node = %str_at(&pod, "/spec/nodeName"), "lab: OVN-Kubernetes starts a pod");
            self.store.create(pods, ns, pod, false).ok()
        };
        // DaemonSet: a pod per node, none on a node that is gone.
        for node in &nodes {
            let name = str_at(node, "/metadata/name");
            if !current.iter().any(|p| app(p) == seed::OVN_NODE && on_node(p) == name) {
                let pod = seed::ovnkube_node_pod(&daemonset, name, &node_internal_ip(node), false, &at);
                current.extend(create(pod));
            }
        }
        for pod in current.iter().filter(|p| app(p) == seed::OVN_NODE) {
            if !nodes.iter().any(|n| str_at(n, "/metadata/name") == on_node(pod)) {
                let _ = self.store.delete(pods, ns, str_at(pod, "/metadata/name"), false);
            }
        }
        // Deployment: its replicas, each on a master without one when there is such a master.
        if let Ok(deployment) = self.store.get(idx("apps", "Deployment"), ns, seed::OVN_CONTROL_PLANE) {
            let wanted = deployment.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0).max(0) as usize;
            let masters: Vec<&Value> = nodes
                .iter()
                .filter(|n| {
                    n.pointer("/metadata/labels").and_then(|l| l.get("node-role.kubernetes.io/master")).is_some()
                })
                .collect();
            let mut running: Vec<Value> =
                current.iter().filter(|p| app(p) == seed::OVN_CONTROL_PLANE).cloned().collect();
            while running.len() < wanted && !masters.is_empty() {
                let busy = |n: &&Value| running.iter().any(|p| on_node(p) == str_at(n, "/metadata/name"));
                let master = masters.iter().find(|n| !busy(n)).unwrap_or(&masters[running.len() % masters.len()]);
                let pod = seed::ovnkube_control_plane_pod(
                    &deployment,
                    str_at(master, "/metadata/name"),
                    &node_internal_ip(master),
                    false,
                    &at,
                );
                match create(pod) {
                    Some(pod) => running.push(pod),
                    None => break,
                }
            }
            running
                .sort_by(|a, b| str_at(a, "/metadata/creationTimestamp").cmp(str_at(b, "/metadata/creationTimestamp")));
            for extra in running.iter().skip(wanted) {
                let _ = self.store.delete(pods, ns, str_at(extra, "/metadata/name"), false);
            }
        }
        // Pods whose containers have had their time start.
        let due: Vec<String> = self
            .store
            .list(pods, Some(ns), &|p| ready_at(p).is_some_and(|at| at <= now), None, None)
            .items
            .iter()
            .map(|p| str_at(p, "/metadata/name").to_string())
            .collect();
        for name in due {
            let at = now_rfc3339();
            let _ = self.store.modify(pods, ns, &name, |p| {
                seed::pod_running(p, &at);
                without_ready_at(p);
            });
        }
        self.sync_ovn_status();
    }

    /// The DaemonSet's and the Deployment's status count their pods.
    fn sync_ovn_status(&self) {
        let ns = seed::OVN_NAMESPACE;
        let pods = self.store.list(idx("", "Pod"), Some(ns), &|_| true, None, None).items;
        let count = |app: &str, ready: bool| -> i64 {
            pods.iter()
                .filter(|p| str_at(p, "/metadata/labels/app") == app)
                .filter(|p| !ready || get_condition(p, "Ready").is_some_and(|c| c["status"] == "True"))
                .count() as i64
        };
        let desired = self.store.all_of(idx("", "Node")).len() as i64;
        let (current, ready) = (count(seed::OVN_NODE, false), count(seed::OVN_NODE, true));
        let daemonsets = idx("apps", "DaemonSet");
        if let Ok(ds) = self.store.get(daemonsets, ns, seed::OVN_NODE) {
            let wanted = json!({
                "desiredNumberScheduled": desired, "currentNumberScheduled": current, "numberReady": ready,
                "updatedNumberScheduled": current, "numberAvailable": ready,
                "numberUnavailable": (desired - ready).max(0), "numberMisscheduled": 0, "observedGeneration": 1,
            });
            let mut status = wanted.clone();
            if (desired - ready) <= 0 {
                if let Some(s) = status.as_object_mut() {
                    s.remove("numberUnavailable");
                }
            }
            if ds.get("status") != Some(&status) {
                let _ = self.store.modify(daemonsets, ns, seed::OVN_NODE, |o| o["status"] = status);
            }
        }
        let deployments = idx("apps", "Deployment");
        if let Ok(deployment) = self.store.get(deployments, ns, seed::OVN_CONTROL_PLANE) {
            let (current, ready) = (count(seed::OVN_CONTROL_PLANE, false), count(seed::OVN_CONTROL_PLANE, true));
            let now = (
                deployment.pointer("/status/replicas").and_then(Value::as_i64),
                deployment.pointer("/status/readyReplicas").and_then(Value::as_i64),
            );
            if now != (Some(current), Some(ready)) {
                let _ = self.store.modify(deployments, ns, seed::OVN_CONTROL_PLANE, |o| {
                    o["status"]["replicas"] = json!(current);
                    o["status"]["readyReplicas"] = json!(ready);
                    o["status"]["availableReplicas"] = json!(ready);
                    o["status"]["updatedReplicas"] = json!(current);
                });
            }
        }
    }

    /// The machine API replaces a deleted Machine (as a control plane machine
    /// set or MachineSet does): a new one, Provisioning, on the same node name.
    fn machine_deleted(&self, deleted: &Value) {
        if self.hosted || str_at(deleted, "/metadata/namespace") != MACHINE_NAMESPACE {
            return;
        }
        let machines = idx("machine.openshift.io", "Machine");
        let existing: Vec<String> = self
            .store
            .list(machines, Some(MACHINE_NAMESPACE), &|_| true, None, None)
            .items
            .iter()
            .map(|m| str_at(m, "/metadata/name").to_string())
            .collect();
        let old = str_at(deleted, "/metadata/name");
        let name = replacement_machine_name(old, &existing);
        let mut machine = seed::replacement_machine(deleted, &name, &now_rfc3339());
        with_ready_at(&mut machine, SystemTime::now() + self.scaled(MACHINE_PROVISIONING));
        tracing::info!(deleted = %old, machine = %name, "lab: the machine API provisions a replacement");
        let _ = self.store.create(machines, MACHINE_NAMESPACE, machine, false);
        // A lost host's Machine deleted: its instance is gone with it, the lab host is powered off
        // (and comes back new with the replacement). A healthy master's is left as it is: OpenShift's
        // etcd operator holds such a deletion (a deletion hook) until another member is in, which
        // the lab does not model.
        let node = str_at(deleted, "/status/nodeRef/name");
        let Some(link) =
            self.hosts.as_ref().filter(|l| l.inventory.host(node).is_some() && !l.inventory.reachable(node))
        else {
            return;
        };
        match crate::hosts::power_off(&link.inventory, node) {
            Ok(()) => tracing::info!(%node, "lab: the deleted Machine's host is powered off"),
            Err(e) => tracing::warn!(%node, error = %e, "lab: cannot power the deleted Machine's host off"),
        }
    }

    /// A replacement Machine's instance is up: where it stands for a lab host that
    /// was powered off, that host is installed afresh, and its node is Ready. Not
    /// before its kubelet has let the old member go (false: not yet, look again).
    fn install_replacement_host(&self, machine: &Value) -> bool {
        let node = str_at(machine, "/status/nodeRef/name");
        let Some(link) = self.hosts.as_ref().filter(|l| l.inventory.host(node).is_some()) else { return true };
        let inventory = &link.inventory;
        if inventory.reachable(node) {
            return true;
        }
        // Powered off first: once the kubelet has taken that, nothing starts the member again.
        if !crate::hosts::powered_off(inventory, node) {
            return false;
        }
        if inventory.index(node).and_then(|i| link.pids.get(i)).is_some() {
            return false;
        }
        match crate::hosts::reinstall(inventory, node) {
            Ok(()) => {
                tracing::info!(%node, "lab: a new host installed for the replacement Machine");
                self.node_ready(node, &now_rfc3339());
                true
            }
            Err(e) => {
                tracing::warn!(%node, error = %e, "lab: cannot install the replacement Machine's host");
                false
            }
        }
    }

    /// Provisioning Machines become Provisioned for their last minute, then Running.
    fn advance_machines(&self) {
        let machines = idx("machine.openshift.io", "Machine");
        let provisioning =
            self.store.list(machines, Some(MACHINE_NAMESPACE), &|m| ready_at(m).is_some(), None, None).items;
        let now = SystemTime::now();
        for machine in provisioning {
            let Some(at) = ready_at(&machine) else { continue };
            let phase = if now >= at {
                "Running"
            } else if now + self.scaled(MACHINE_PROVISIONED_FOR) >= at {
                "Provisioned"
            } else {
                continue;
            };
            if str_at(&machine, "/status/phase") == phase {
                continue;
            }
            if phase == "Running" && !self.install_replacement_host(&machine) {
                continue;
            }
            let name = str_at(&machine, "/metadata/name").to_string();
            tracing::info!(machine = %name, phase, "lab: machine phase");
            let _ = self.store.modify(machines, MACHINE_NAMESPACE, &name, |m| {
                m["status"]["phase"] = json!(phase);
                if phase == "Running" {
                    without_ready_at(m);
                }
            });
        }
    }
}

/// An etcd pod's `etcd` container status as its member is: up (Running, ready), frozen
/// (the process there but answering nothing: running, not ready), or gone (CrashLoopBackOff,
/// one more restart).
pub fn etcd_container_follows(pod: &mut Value, up: bool, alive: bool, at: &str) {
    let Some(statuses) = pod["status"]["containerStatuses"].as_array_mut() else { return };
    for s in statuses.iter_mut().filter(|s| s["name"] == "etcd") {
        s["ready"] = json!(up);
        s["started"] = json!(up || alive);
        if up {
            s["state"] = json!({"running": {"startedAt": at}});
        } else if alive {
            s["state"] = json!({"running": {"startedAt": s["state"]["running"]["startedAt"].clone()}});
        } else {
            let restarts = s["restartCount"].as_i64().unwrap_or(0) + 1;
            s["restartCount"] = json!(restarts);
            s["lastState"] = json!({"terminated": {"exitCode": 137, "reason": "Error", "finishedAt": at}});
            s["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=etcd"}});
        }
    }
}

#[cfg(test)]
mod machine_api_tests {
    use super::*;

    #[test]
    fn replacements_take_the_next_number_or_a_new_suffix() {
        let existing: Vec<String> = ["lab-7xk2p-master-1", "lab-7xk2p-master-2", "lab-7xk2p-worker-us-east-1a-bcdfg"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(replacement_machine_name("lab-7xk2p-master-0", &existing), "lab-7xk2p-master-3");
        let more = [existing.clone(), vec!["lab-7xk2p-master-3".to_string()]].concat();
        assert_eq!(replacement_machine_name("lab-7xk2p-master-1", &more), "lab-7xk2p-master-4");
        let worker = replacement_machine_name("lab-7xk2p-worker-us-east-1a-bcdfg", &existing);
        assert!(
            worker.starts_with("lab-7xk2p-worker-us-east-1a-")
                && worker.len() == "lab-7xk2p-worker-us-east-1a-bcdfg".len()
        );
        assert_ne!(worker, "lab-7xk2p-worker-us-east-1a-bcdfg");
    }
}
