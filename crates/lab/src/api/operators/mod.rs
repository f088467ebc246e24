//! Simulated operators: they watch the store as the real ones watch the API
//! and answer the runbooks' actions the way a cluster does, at `speed` times
//! real time: encryption migrations, forced redeployments rolling node by
//! node, CSR signing, and etcd pods following the real member processes. A
//! hosted control plane's workloads have their own controllers ([`super::hosted_cp`]).
//!
//! One driver, [`Operators`], holds the state they share and hands each change
//! and tick to the controllers, one file each: `rollouts` (forced redeployments,
//! node by node), `encryption` (migrations), `csrs` (signing, and the kubelets
//! that file them), `etcd_pods` (mirror pods following the members and their
//! manifests), `etcd_scale_up` (the etcd operator's scale-up after a restore),
//! `cluster_operators` (ClusterOperators mirroring their operators), `ovn`
//! (OVN-Kubernetes) and `machines` (the machine API).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use tokio::sync::{broadcast, watch as signal};

use super::catalog;
use super::seed::{self, EncryptingOperator, MemberView};
use super::store::{str_at, Change, EventKind, Store};
use super::HostsLink;
use crate::certs::LabIssuer;
use crate::hosts::scale_up::{self, ScaleUp};
use crate::scenario::Scenario;

mod cluster_operators;
mod csrs;
mod debug_pods;
mod encryption;
mod etcd_members;
mod etcd_pods;
mod etcd_scale_up;
mod etcd_secrets;
mod machines;
mod ovn;
mod rollouts;

pub use debug_pods::host_root_pod_node;
pub use encryption::{DEGRADES_AT, MIGRATION};
pub use etcd_pods::{
    container_shows, etcd_container_follows, go_duration, ContainerSignature, EtcdContainer, READY_AFTER_RESTART,
};
pub use etcd_scale_up::SCALE_UP_RETRY;
pub use etcd_secrets::{etcd_node_secret_names, SECRET_REISSUE};
pub use machines::{replacement_machine_name, MACHINE_PROVISIONING};
pub use ovn::OVN_POD_START;
pub use rollouts::ROLLOUT_PER_NODE;

use encryption::Migration;
use rollouts::Rollout;

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
    /// What each etcd pod last showed of a container that restarted (see `etcd_pods`).
    member_seen: Vec<Option<etcd_pods::ContainerSignature>>,
    /// The lab's hosts: their kubelets' processes and manifests (None: pids from `members`).
    hosts: Option<HostsLink>,
    /// The etcd operator's scale-up after a restore, done by a task of its own.
    etcd_scale: scale_up::Progress,
    /// What the etcd rollout's message says of the scale-up now.
    etcd_hold_note: String,
    /// A scale-up of every master asked for while another ran (its guard_off): started after it.
    scale_up_pending: Option<bool>,
    /// The cluster-machine-approver approves a replacement Machine's node's CSRs (the scenario's `machine_approver`).
    machine_approver: bool,
    /// Masters installed afresh for a replacement Machine whose kubelet-serving CSR is not approved
    /// yet: Ready only once it is (see `machines`).
    new_nodes: std::collections::HashSet<String>,
    /// New masters, Ready, waiting for the etcd operator to add their member (see `etcd_scale_up`),
    /// and when it last tried.
    new_masters: HashMap<String, Option<Instant>>,
    /// Deleted etcd certificate secrets to make again, and when (see `etcd_secrets`).
    secrets_due: Vec<(String, Instant)>,
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

/// When a Pending pod or a Provisioning Machine is to be Running (RFC 3339, wall clock).
pub const READY_AT_ANNOTATION: &str = "lab.etcd-console/ready-at";

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
            member_seen: vec![None; member_up.len()],
            member_up,
            hosts,
            etcd_scale: Arc::new(std::sync::Mutex::new(ScaleUp::Idle)),
            etcd_hold_note: String::new(),
            scale_up_pending: None,
            machine_approver: scenario.cluster.machine_approver,
            new_nodes: Default::default(),
            new_masters: HashMap::new(),
            secrets_due: Vec::new(),
        };
        operators.seed_etcd_secrets();
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
                "Secret" => self.secret_deleted(&change.object, now),
                _ => {}
            }
            return;
        }
        match (rt.group, rt.kind) {
            ("certificates.k8s.io", "CertificateSigningRequest") => self.maybe_issue(&change.object),
            ("config.openshift.io", "APIServer") => self.encryption_changed(&change.object, now),
            ("", "Pod") if change.kind == EventKind::Added => self.debug_pod_created(&change.object),
            ("machine.openshift.io", "Machine") if change.kind == EventKind::Added => {
                self.machine_created(&change.object)
            }
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
        self.tend_new_masters(now);
        self.sync_etcd_members();
        self.sign_etcd_secrets(now);
        self.advance_rollouts(now);
        self.advance_migration(now);
        self.sync_cluster_operators();
        self.tend_ovn_and_machines();
    }

    /// The controllers of OVN-Kubernetes and the machine API, once a tick.
    fn tend_ovn_and_machines(&mut self) {
        if self.hosted {
            return;
        }
        self.reconcile_ovn();
        self.advance_machines();
        self.nodes_of_powered_off_hosts();
    }
}
