//! The console's view of the OpenShift side, fed by the watches
//! (`openshift::watch`); the model functions turn it into what the panes show.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde_json::Value;

use etcd_console_core::openshift::csr::PendingCsr;
use etcd_console_core::openshift::diagnosis::{self, Surroundings};
use etcd_console_core::openshift::model::{self, Encryption, OperatorStatus, Rollout};
use etcd_console_core::openshift::quota;
use etcd_console_core::openshift::report::{encryption_of, rollouts_of, RELATED_OPERATORS};
use etcd_console_core::openshift::watch::{OpenShiftEvent, Watched};

#[derive(Debug, Clone, PartialEq)]
pub enum ApiState {
    /// Watches not started (no kubeconfig, or it cannot be used): why.
    Unavailable(String),
    Connecting,
    Connected {
        server: String,
    },
}

#[derive(Debug, Clone)]
pub struct OpenShiftView {
    pub api: ApiState,
    pub objects: BTreeMap<Watched, (Vec<Value>, Instant)>,
    pub csrs: Option<(Vec<PendingCsr>, Instant)>,
    /// Watches failing now, since when, with the last error.
    pub trouble: BTreeMap<Watched, (String, Instant)>,
    /// Index into the filtered CSR list.
    pub csr_selected: usize,
    /// What SelfSubjectAccessReview says of approving CSRs (None: not asked yet).
    pub may_approve: Option<bool>,
    /// The CSR list shows only CSRs whose name, class, requestor or subject contain this.
    pub filter: String,
    /// Keys go to the filter while it is being typed.
    pub editing_filter: bool,
    /// The filter as it is typed (its text is `filter`).
    pub filter_input: super::input::Input,
    /// Each pending CSR's searchable text, lowercased once when the list arrives.
    haystacks: Vec<String>,
    /// Kinds the API answered 404 for (not an OpenShift cluster).
    pub not_served: BTreeSet<Watched>,
}

impl Default for OpenShiftView {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenShiftView {
    pub fn new() -> Self {
        Self {
            api: ApiState::Connecting,
            objects: BTreeMap::new(),
            csrs: None,
            trouble: BTreeMap::new(),
            csr_selected: 0,
            may_approve: None,
            filter: String::new(),
            editing_filter: false,
            filter_input: super::input::Input::new(),
            haystacks: Vec::new(),
            not_served: BTreeSet::new(),
        }
    }

    /// Handles an event; returns a line for the notice when there is one.
    pub fn on_event(&mut self, event: OpenShiftEvent) -> Option<String> {
        match event {
            OpenShiftEvent::MayApprove(allowed) => self.may_approve = Some(allowed),
            OpenShiftEvent::NotServed { what } => {
                self.trouble.remove(&what);
                self.not_served.insert(what);
            }
            OpenShiftEvent::Done { message } => return Some(message),
            // The timeline records decisions; the list follows with the Csrs event.
            OpenShiftEvent::CsrsDecided { .. } => {}
            OpenShiftEvent::Unavailable { error } => self.api = ApiState::Unavailable(error),
            OpenShiftEvent::Connected { server } => self.api = ApiState::Connected { server },
            OpenShiftEvent::Objects { what, objects, at } => {
                self.trouble.remove(&what);
                self.objects.insert(what, (objects, at));
            }
            OpenShiftEvent::Csrs { mut pending, at } => {
                self.trouble.remove(&Watched::Csrs);
                pending.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.name.cmp(&b.name)));
                let selected = self.selected_csr().map(|c| c.name.clone());
                self.haystacks = pending
                    .iter()
                    .map(|c| {
                        format!("{} {} {} {} {}", c.name, c.class.as_str(), c.requestor, c.signer, c.subject())
                            .to_lowercase()
                    })
                    .collect();
                self.csrs = Some((pending, at));
                self.reselect(selected);
            }
            OpenShiftEvent::Trouble { what, error, at } => {
                let since = self.trouble.get(&what).map(|(_, since)| *since).unwrap_or(at);
                self.trouble.insert(what, (error, since));
            }
        }
        None
    }

    /// Keeps the selection on the same CSR when the list changes, if it is still shown.
    fn reselect(&mut self, name: Option<String>) {
        let visible = self.visible_csrs();
        self.csr_selected = name
            .and_then(|name| visible.iter().position(|c| c.name == name))
            .unwrap_or(self.csr_selected)
            .min(visible.len().saturating_sub(1));
    }

    /// The pending CSRs the filter lets through.
    pub fn visible_csrs(&self) -> Vec<&PendingCsr> {
        let needle = self.filter.to_lowercase();
        self.pending_csrs()
            .iter()
            .zip(&self.haystacks)
            .filter(|(_, haystack)| needle.is_empty() || haystack.contains(&needle))
            .map(|(c, _)| c)
            .collect()
    }

    pub fn selected_csr(&self) -> Option<&PendingCsr> {
        self.visible_csrs().get(self.csr_selected).copied()
    }

    /// Edits the filter; the selection stays on its CSR when still shown.
    pub fn set_filter(&mut self, filter: String) {
        let selected = self.selected_csr().map(|c| c.name.clone());
        self.filter = filter;
        self.reselect(selected);
    }

    /// Every node the CSR watch holds, by name (None before the watch has listed them).
    pub fn nodes(&self) -> Option<Vec<model::NodeRow>> {
        let (objects, _) = self.objects.get(&Watched::Nodes)?;
        let mut rows: Vec<model::NodeRow> = objects.iter().filter_map(model::node_row).collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        Some(rows)
    }

    /// How many CSRs are pending for each node, by the node each is for.
    pub fn pending_by_node(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for c in self.pending_csrs() {
            if let Some(node) = c.node_name() {
                *counts.entry(node).or_insert(0) += 1;
            }
        }
        counts
    }

    /// The singleton object of a kind (`cluster`), when the watch holds it.
    pub fn one(&self, what: Watched) -> Option<&Value> {
        self.objects.get(&what).and_then(|(objects, _)| objects.first())
    }

    pub fn encryption(&self) -> Option<Encryption> {
        encryption_of(|what| self.one(what))
    }

    pub fn rollouts(&self) -> Vec<Rollout> {
        rollouts_of(|what| self.one(what))
    }

    pub fn operators(&self) -> Vec<OperatorStatus> {
        self.objects
            .get(&Watched::ClusterOperators)
            .map(|(objects, _)| {
                objects
                    .iter()
                    .map(model::cluster_operator)
                    .filter(|o| RELATED_OPERATORS.contains(&o.name.as_str()))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn banners(&self, now: std::time::SystemTime) -> Vec<String> {
        let encryption = self.encryption().unwrap_or_else(|| model::encryption(None, &[]));
        let mut banners = model::banners(self.one(Watched::Etcd), &self.rollouts(), &encryption);
        banners.extend(model::hosted_banners(&self.hosted_clusters(now)));
        banners
    }

    pub fn hosted_clusters(&self, now: std::time::SystemTime) -> Vec<model::HostedClusterState> {
        self.objects
            .get(&Watched::HostedClusters)
            .map(|(objects, _)| objects.iter().map(|o| model::hosted_cluster(o, now)).collect())
            .unwrap_or_default()
    }

    pub fn pending_csrs(&self) -> &[PendingCsr] {
        self.csrs.as_ref().map(|(list, _)| list.as_slice()).unwrap_or(&[])
    }

    /// The API serves none of OpenShift's configuration and operator objects.
    pub fn not_openshift(&self) -> bool {
        [Watched::ApiServer, Watched::KubeApiServer, Watched::Etcd].iter().all(|w| self.not_served.contains(w))
    }

    /// Since when some watch has been failing.
    pub fn troubled_since(&self) -> Option<Instant> {
        self.trouble.values().map(|(_, since)| *since).min()
    }

    /// What the watches hold around etcd: its pods, the nodes, the Machines, and the etcd
    /// operator's Degraded message (the diagnosis of a member is made from it).
    pub fn surroundings(&self) -> Surroundings {
        let of = |what: Watched| self.objects.get(&what).map(|(objects, _)| objects.as_slice()).unwrap_or(&[]);
        let etcd_operator = of(Watched::ClusterOperators)
            .iter()
            .find(|o| o.pointer("/metadata/name").and_then(Value::as_str) == Some("etcd"));
        let problems = [Watched::EtcdPods, Watched::Nodes, Watched::Machines]
            .iter()
            .filter_map(|w| self.trouble.get(w).map(|(error, _)| format!("{}: {error}", w.label())))
            .collect();
        Surroundings {
            pods: of(Watched::EtcdPods).iter().filter_map(diagnosis::pod_facts).collect(),
            nodes: of(Watched::Nodes).iter().filter_map(diagnosis::node_ready).collect(),
            machines: of(Watched::Machines).iter().filter_map(diagnosis::machine_facts).collect(),
            etcd_degraded: etcd_operator.and_then(diagnosis::etcd_degraded),
            etcd_operator_quota: self.one(Watched::Etcd).and_then(quota::backend_quota_gib),
            // The Machines are watched only for a standalone cluster; hosted, none match.
            standalone: true,
            problems,
        }
    }

    /// When the freshest OpenShift figure arrived.
    pub fn updated(&self) -> Option<Instant> {
        self.objects.values().map(|(_, at)| *at).chain(self.csrs.as_ref().map(|(_, at)| *at)).max()
    }
}
