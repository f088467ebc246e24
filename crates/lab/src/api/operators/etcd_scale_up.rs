//! The etcd operator's scale-up after a restore: every master gets a member
//! again (a task of its own, [`crate::hosts::scale_up`]) before the etcd
//! rollout goes on, and the rollout's message says why it waits.

use std::time::{Duration, Instant};

use super::{idx, quorum_guard_off, Operators};
use crate::hosts::scale_up::{self, ScaleUp};

/// Real time before a failed etcd scale-up is tried again.
pub const SCALE_UP_RETRY: Duration = Duration::from_secs(5);

impl Operators {
    /// Starts the etcd operator's scale-up (unless one is under way).
    pub(super) fn begin_scale_up(&mut self, guard_off: bool) {
        if !self.begin_scale_up_of(guard_off, None) {
            // One is under way (maybe a new master's alone): this one follows it.
            self.scale_up_pending = Some(guard_off || self.scale_up_pending.unwrap_or(false));
        }
    }

    /// Starts the scale-up of every master without a member, or of `only`; false when one is under way.
    pub(super) fn begin_scale_up_of(&mut self, guard_off: bool, only: Option<String>) -> bool {
        let Some(link) = self.hosts.clone().filter(|_| !self.hosted) else { return false };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return false };
        {
            let mut state = self.etcd_scale.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if matches!(*state, ScaleUp::Checking | ScaleUp::Adding { .. }) {
                return false;
            }
            *state = ScaleUp::Checking;
        }
        runtime.spawn(scale_up::run(link.inventory, link.pids, guard_off, only, self.etcd_scale.clone()));
        true
    }

    /// A master installed afresh for a replacement Machine gets its member once its Node is
    /// Ready (that node only, whatever the quorum guard says: see `hosts::scale_up`); tried
    /// again every [`SCALE_UP_RETRY`] until its host has an etcd manifest.
    pub(super) fn tend_new_masters(&mut self, now: Instant) {
        if self.new_masters.is_empty() {
            return;
        }
        let Some(link) = self.hosts.clone() else { return };
        let nodes = idx("", "Node");
        let waiting: Vec<(String, Option<Instant>)> = self.new_masters.iter().map(|(n, t)| (n.clone(), *t)).collect();
        for (node, tried) in waiting {
            let root = link.inventory.root(&node);
            if crate::hosts::kubelet::etcd_manifest(&root).exists() {
                tracing::info!(%node, "lab: the new master has its etcd member");
                self.new_masters.remove(&node);
                continue;
            }
            let ready = self
                .store
                .get(nodes, "", &node)
                .is_ok_and(|n| super::get_condition(&n, "Ready").is_some_and(|c| c["status"] == "True"));
            let due = tried.is_none_or(|at| now.duration_since(at) >= SCALE_UP_RETRY);
            if !ready || !due || !link.inventory.reachable(&node) {
                continue;
            }
            // A blocked scale-up of every master is not forgotten: it is looked at again after this one.
            let blocked = matches!(self.scale_state(), ScaleUp::Blocked { .. });
            if self.begin_scale_up_of(true, Some(node.clone())) {
                if blocked {
                    self.scale_up_pending.get_or_insert(false);
                }
                tracing::info!(%node, "lab: etcd operator: a new control-plane node is Ready, adding its member");
                self.new_masters.insert(node, Some(now));
            }
        }
    }

    pub(super) fn scale_state(&self) -> ScaleUp {
        self.etcd_scale.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Whether the etcd rollout waits for the scale-up (or for the quorum guard).
    pub(super) fn etcd_held(&self) -> bool {
        self.scale_up_pending.is_some() || !matches!(self.scale_state(), ScaleUp::Idle | ScaleUp::Done)
    }

    /// Tries a blocked or failed scale-up again when it can go on, and says in the
    /// etcd rollout's message why it waits.
    pub(super) fn tend_scale_up(&mut self, now: Instant) {
        let state = self.scale_state();
        let etcd = self.store.get(idx("operator.openshift.io", "Etcd"), "", "cluster").ok();
        let guard_off = etcd.as_ref().is_some_and(quorum_guard_off);
        let rolling = self.rollouts.iter().any(|r| r.operator == "etcd");
        if let Some(pending) = self.scale_up_pending {
            if !matches!(state, ScaleUp::Checking | ScaleUp::Adding { .. })
                && self.begin_scale_up_of(pending || guard_off, None)
            {
                self.scale_up_pending = None;
            }
        } else {
            match &state {
                ScaleUp::Blocked { .. } if guard_off => self.begin_scale_up(true),
                ScaleUp::Failed { at, .. } if rolling && now.duration_since(*at) >= SCALE_UP_RETRY => {
                    self.begin_scale_up(guard_off)
                }
                _ => {}
            }
        }
        let note = match &state {
            ScaleUp::Blocked { members, hosts } => format!(
                "; waiting: etcd has {members} of {hosts} members and the quorum guard holds the rollout \
                 (spec.unsupportedConfigOverrides.useUnsupportedUnsafeNonHANonProductionUnstableEtcd is not set)"
            ),
            ScaleUp::Adding { node, members, hosts, .. } => {
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
}
