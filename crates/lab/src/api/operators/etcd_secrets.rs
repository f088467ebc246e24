//! The etcd operator's certificate signer: each master has its etcd
//! certificates as secrets in `openshift-etcd` (`etcd-peer-<node>`,
//! `etcd-serving-<node>`, `etcd-serving-metrics-<node>`, type
//! `kubernetes.io/tls`), the lab's real certificate of its member. One
//! deleted (as the member-replacement runbook deletes them) is issued again
//! [`SECRET_REISSUE`] later while the node exists. Keys are never logged.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{idx, Operators};
use crate::api::seed;
use crate::api::store::str_at;

/// Cluster time before the signer issues a deleted node certificate secret again.
pub const SECRET_REISSUE: Duration = Duration::from_secs(3);
const NAMESPACE: &str = "openshift-etcd";

/// The etcd operator's certificate secrets of `node`.
pub fn etcd_node_secret_names(node: &str) -> [String; 3] {
    [format!("etcd-peer-{node}"), format!("etcd-serving-{node}"), format!("etcd-serving-metrics-{node}")]
}

impl Operators {
    /// The master a certificate secret name belongs to.
    fn secret_node(&self, name: &str) -> Option<String> {
        self.members.iter().find(|m| etcd_node_secret_names(&m.name).iter().any(|n| n == name)).map(|m| m.name.clone())
    }

    /// Secret `name` of `node`, with the member's certificate and key from the lab's PKI.
    fn etcd_secret(&self, name: &str, node: &str) -> Option<Value> {
        let link = self.hosts.as_ref()?;
        let pki = link.inventory.lab_dir.join("pki");
        let cert = std::fs::read_to_string(pki.join(format!("{node}.crt"))).ok()?;
        let key = std::fs::read_to_string(pki.join(format!("{node}.key"))).ok()?;
        let at = crate::api::store::now_rfc3339();
        Some(json!({
            "metadata": {
                "name": name,
                "creationTimestamp": at,
                "annotations": {"auth.openshift.io/certificate-hostnames": link.inventory.host(node).map(|h| h.ip.clone()).unwrap_or_default()},
                "labels": {"auth.openshift.io/managed-certificate-type": "target"},
            },
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": seed::b64(cert.as_bytes()), "tls.key": seed::b64(key.as_bytes())},
        }))
    }

    /// Issues `name` of `node` unless it exists or the node does not.
    fn issue_etcd_secret(&self, name: &str, node: &str) -> bool {
        let secrets = idx("", "Secret");
        if self.hosted || self.store.exists(secrets, NAMESPACE, name) || !self.store.exists(idx("", "Node"), "", node) {
            return false;
        }
        let Some(secret) = self.etcd_secret(name, node) else { return false };
        let made = self.store.create(secrets, NAMESPACE, secret, false).is_ok();
        if made {
            tracing::info!(secret = %name, %node, "lab: the etcd operator's cert signer issued a node certificate secret");
        }
        made
    }

    /// Every master's certificate secrets, as the installed cluster has them.
    pub(super) fn seed_etcd_secrets(&self) {
        for member in &self.members {
            for name in etcd_node_secret_names(&member.name) {
                self.issue_etcd_secret(&name, &member.name);
            }
        }
    }

    /// A node's certificate secret deleted: issued again a little later.
    pub(super) fn secret_deleted(&mut self, secret: &Value, now: Instant) {
        if self.hosted || str_at(secret, "/metadata/namespace") != NAMESPACE {
            return;
        }
        let name = str_at(secret, "/metadata/name").to_string();
        if self.secret_node(&name).is_some() && !self.secrets_due.iter().any(|(n, _)| *n == name) {
            self.secrets_due.push((name, now + self.scaled(SECRET_REISSUE)));
        }
    }

    /// Issues the deleted secrets whose time has come.
    pub(super) fn sign_etcd_secrets(&mut self, now: Instant) {
        let due: Vec<String> =
            self.secrets_due.iter().filter(|(_, at)| now >= *at).map(|(name, _)| name.clone()).collect();
        if due.is_empty() {
            return;
        }
        self.secrets_due.retain(|(_, at)| now < *at);
        for name in due {
            if let Some(node) = self.secret_node(&name) {
                self.issue_etcd_secret(&name, &node);
            }
        }
    }
}
