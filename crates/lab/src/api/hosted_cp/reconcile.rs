//! The HyperShift operator as §5.3 meets it: `spec.pausedUntil` on the
//! HostedCluster (`"true"`, or an RFC 3339 time still to come) pauses
//! reconciliation (condition `ReconciliationActive` False, reason
//! `ReconciliationPaused`, and the HostedControlPlane's own `pausedUntil`);
//! while it is not paused, a control plane scaled down is scaled back after
//! [`RECONCILE_AFTER`] (cluster time): etcd to its members, the API servers
//! to 3. Nothing is written when nothing differs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

use super::idx;
use crate::api::operators::{get_condition, set_condition};
use crate::api::seed::{self, HOSTED_CP_NAMESPACE, HOSTED_NAME, HOSTED_NAMESPACE};
use crate::api::store::{now_rfc3339, str_at, Store};

/// Cluster time the HyperShift operator takes to undo a scaled-down control plane when not paused.
pub const RECONCILE_AFTER: Duration = Duration::from_secs(20);

/// Paused, as HyperShift reads `pausedUntil`.
pub fn paused(until: &str) -> bool {
    until == "true" || humantime::parse_rfc3339(until).is_ok_and(|at| at > SystemTime::now())
}

pub struct Reconciler {
    store: Arc<Store>,
    etcd_replicas: i64,
    speed: f64,
    /// Since when each workload (`Kind/name`) has had other replicas than wanted.
    drift_since: HashMap<String, Instant>,
}

impl Reconciler {
    pub fn new(store: Arc<Store>, etcd_replicas: usize, speed: f64) -> Self {
        Self { store, etcd_replicas: etcd_replicas as i64, speed, drift_since: HashMap::new() }
    }

    pub fn sync(&mut self) {
        let hcs = idx("hypershift.openshift.io", "HostedCluster");
        let Ok(hc) = self.store.get(hcs, HOSTED_NAMESPACE, HOSTED_NAME) else { return };
        let until = str_at(&hc, "/spec/pausedUntil").to_string();
        self.show_pause(&hc, &until);
        if paused(&until) {
            self.drift_since.clear();
            return;
        }
        let mut desired: Vec<(&str, &str, i64)> =
            seed::HOSTED_DEPLOYMENTS.iter().map(|(n, c)| ("Deployment", *n, *c)).collect();
        desired.push(("StatefulSet", super::STATEFULSET, self.etcd_replicas));
        let after = RECONCILE_AFTER.div_f64(self.speed);
        let now = Instant::now();
        for (kind, name, replicas) in desired {
            let index = idx("apps", kind);
            let Ok(object) = self.store.get(index, HOSTED_CP_NAMESPACE, name) else { continue };
            let key = format!("{kind}/{name}");
            if object.pointer("/spec/replicas").and_then(Value::as_i64) == Some(replicas) {
                self.drift_since.remove(&key);
                continue;
            }
            let since = *self.drift_since.entry(key.clone()).or_insert(now);
            if now.duration_since(since) >= after {
                tracing::info!(workload = %key, replicas, "lab: hypershift operator restores replicas (reconciliation not paused)");
                let _ =
                    self.store.modify(index, HOSTED_CP_NAMESPACE, name, |o| o["spec"]["replicas"] = json!(replicas));
                self.drift_since.remove(&key);
            }
        }
    }

    /// The HostedCluster's ReconciliationActive condition and the HostedControlPlane's pausedUntil follow `until`.
    fn show_pause(&self, hc: &Value, until: &str) {
        let hcps = idx("hypershift.openshift.io", "HostedControlPlane");
        if let Ok(hcp) = self.store.get(hcps, HOSTED_CP_NAMESPACE, HOSTED_NAME) {
            if str_at(&hcp, "/spec/pausedUntil") != until {
                let _ = self.store.modify(hcps, HOSTED_CP_NAMESPACE, HOSTED_NAME, |o| {
                    if until.is_empty() {
                        if let Some(spec) = o["spec"].as_object_mut() {
                            spec.remove("pausedUntil");
                        }
                    } else {
                        o["spec"]["pausedUntil"] = json!(until);
                    }
                });
            }
        }
        let at = now_rfc3339();
        let condition = if paused(until) {
            seed::condition(
                "ReconciliationActive",
                "False",
                "ReconciliationPaused",
                &format!("Reconciliation paused until: {until}"),
                &at,
            )
        } else {
            seed::condition("ReconciliationActive", "True", "AsExpected", "Reconciliation active on resource", &at)
        };
        let differs = get_condition(hc, "ReconciliationActive").map(|c| (&c["status"], &c["message"]))
            != Some((&condition["status"], &condition["message"]));
        if differs {
            let index = idx("hypershift.openshift.io", "HostedCluster");
            let _ = self.store.modify(index, HOSTED_NAMESPACE, HOSTED_NAME, |o| set_condition(o, condition));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paused_until_reads_as_hypershift_reads_it() {
        assert!(paused("true"));
        assert!(!paused(""));
        assert!(!paused("false"));
        assert!(paused("2999-01-01T00:00:00Z"));
        assert!(!paused("2000-01-01T00:00:00Z"));
    }
}
