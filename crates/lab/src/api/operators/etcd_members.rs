//! The etcd operator's member conditions on `etcd/cluster`, following the
//! members live as its etcd-members controller does: `EtcdMembersAvailable`
//! (`3 members are available`, or `2 of 3 members are available, master-1 is
//! unhealthy`), `EtcdMembersDegraded` (its ClusterOperator's `Degraded`
//! message is built from the same words, see `cluster_operators`) and
//! `EtcdMembersProgressing` (a member the scale-up added as a learner and has
//! not promoted yet).

use super::{get_condition, idx, set_condition, Operators};
use crate::api::seed;
use crate::api::store::now_rfc3339;
use crate::hosts::scale_up::ScaleUp;

/// How many members are available, and which are not, in the operator's words.
pub(super) fn members_message(total: usize, down: &[&str]) -> String {
    if down.is_empty() {
        format!("{total} members are available")
    } else {
        format!(
            "{} of {total} members are available, {} {} unhealthy",
            total - down.len(),
            down.join(", "),
            if down.len() == 1 { "is" } else { "are" }
        )
    }
}

impl Operators {
    /// The masters whose member is down, as the operator last saw them.
    pub(super) fn members_down(&self) -> Vec<&str> {
        self.members
            .iter()
            .zip(&self.member_up)
            .filter(|(_, up)| **up == Some(false))
            .map(|(m, _)| m.name.as_str())
            .collect()
    }

    pub(super) fn sync_etcd_members(&self) {
        if self.hosted {
            return;
        }
        let down = self.members_down();
        let total = self.members.len();
        let message = members_message(total, &down);
        let at = now_rfc3339();
        let quorum = total / 2 + 1;
        let available = if total - down.len() >= quorum {
            seed::condition("EtcdMembersAvailable", "True", "EtcdQuorate", &message, &at)
        } else {
            seed::condition("EtcdMembersAvailable", "False", "NoQuorum", &message, &at)
        };
        let degraded = if down.is_empty() {
            seed::condition("EtcdMembersDegraded", "False", "AsExpected", "No unhealthy members found", &at)
        } else {
            seed::condition("EtcdMembersDegraded", "True", "UnhealthyMembers", &message, &at)
        };
        let learner = match self.scale_state() {
            ScaleUp::Adding { node, learner: true, .. } => Some(node),
            _ => None,
        };
        let progressing = match learner {
            Some(node) => seed::condition(
                "EtcdMembersProgressing",
                "True",
                "UnstartedMembers",
                &format!("{node} is a learner member catching up with the leader"),
                &at,
            ),
            None => {
                seed::condition("EtcdMembersProgressing", "False", "AsExpected", "No unstarted etcd members found", &at)
            }
        };
        let etcds = idx("operator.openshift.io", "Etcd");
        let Ok(current) = self.store.get(etcds, "", "cluster") else { return };
        let wanted = [available, degraded, progressing];
        let differs = wanted.iter().any(|w| {
            let kind = w["type"].as_str().unwrap_or_default();
            get_condition(&current, kind).map(|c| (&c["status"], &c["message"])) != Some((&w["status"], &w["message"]))
        });
        if differs {
            let _ = self.store.modify(etcds, "", "cluster", |o| {
                for condition in &wanted {
                    set_condition(o, condition.clone());
                }
            });
        }
    }
}
