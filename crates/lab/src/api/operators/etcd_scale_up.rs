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
    pub(super) fn etcd_held(&self) -> bool {
        !matches!(self.scale_state(), ScaleUp::Idle | ScaleUp::Done)
    }

    /// Tries a blocked or failed scale-up again when it can go on, and says in the
    /// etcd rollout's message why it waits.
    pub(super) fn tend_scale_up(&mut self, now: Instant) {
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
}
