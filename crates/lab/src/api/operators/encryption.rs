//! Encryption migrations: a new `spec.encryption.type` on the APIServer gets
//! new keys, and each encrypting operator reports its migration under way,
//! then completed at its share of MIGRATION; a faulty one (a scenario's
//! `encryption_degrades`) degrades instead.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{idx, set_condition, Operators};
use crate::api::seed::{self, EncryptingOperator};
use crate::api::store::{now_rfc3339, str_at};

/// Cluster time of an encryption or decryption migration ("20 minutes or longer"):
/// the last operator (KubeAPIServer) completes then, the others at their share of it.
pub const MIGRATION: Duration = Duration::from_secs(20 * 60);
/// When a faulty operator (a scenario's `encryption_degrades`) degrades, as a share of MIGRATION.
pub const DEGRADES_AT: f64 = 0.25;

pub(super) struct Migration {
    mode: String,
    /// Operators still migrating, each with when it completes (the faulty one never does).
    finishing: Vec<(&'static EncryptingOperator, Instant)>,
    /// When the faulty operator degrades; None once it has, or when none is faulty.
    degrades_at: Option<Instant>,
}

impl Operators {
    pub(super) fn encryption_changed(&mut self, apiserver: &Value, now: Instant) {
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
    pub(super) fn migration(&self, mode: &str, elapsed: Duration, now: Instant) -> Migration {
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
    pub(super) fn advance_migration(&mut self, now: Instant) {
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
}
