//! ClusterOperators mirror their operators: Progressing while a rollout is,
//! Degraded while an encryption migration fails or etcd members are down.

use super::{get_condition, idx, set_condition, Operators};
use crate::api::seed;
use crate::api::store::{now_rfc3339, str_at};

impl Operators {
    pub(super) fn sync_cluster_operators(&self) {
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
            let down: Vec<&str> = if co == "etcd" { self.members_down() } else { Vec::new() };
            // A failing encryption migration holds the ClusterOperator Degraded.
            let degraded = if let Some(operator) = self.degraded.filter(|o| o.cluster_operator == co) {
                seed::migration_degraded_cluster_condition(operator, &at)
            } else if down.is_empty() {
                seed::condition("Degraded", "False", "AsExpected", "", &at)
            } else {
                let message =
                    format!("EtcdMembersDegraded: {}", super::etcd_members::members_message(self.members.len(), &down));
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
}
