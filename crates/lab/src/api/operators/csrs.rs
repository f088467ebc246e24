//! CSRs: approved ones are signed with the lab's issuer (a node's client
//! certificate makes it Ready, and its kubelet files a serving CSR next), and a
//! restarted kubelet files a node-bootstrapper CSR. A replacement Machine's new
//! node is Ready only once both its CSRs are approved; the
//! cluster-machine-approver (the scenario's `machine_approver`) approves them
//! for it (see `machines`).

use base64::Engine;
use serde_json::{json, Value};

use super::{get_condition, idx, set_condition, Operators};
use crate::api::seed;
use crate::api::store::{now_rfc3339, str_at};

impl Operators {
    pub(super) fn maybe_issue(&mut self, csr: &Value) {
        let holds = |kind: &str| get_condition(csr, kind).is_some_and(|c| c["status"] == "True");
        let (approved, denied) = (holds("Approved"), holds("Denied"));
        if !approved && !denied {
            self.machine_approver_looks_at(csr);
            return;
        }
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
                    let client = signer == "kubernetes.io/kube-apiserver-client-kubelet";
                    if !self.new_nodes.contains(node) {
                        self.node_ready(node, &at);
                    } else if client {
                        self.node_registered_not_ready(node, &at);
                    } else {
                        tracing::info!(%node, "lab: the new node has its serving certificate: Ready");
                        self.new_nodes.remove(node);
                        self.node_ready(node, &at);
                    }
                    if client {
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

    /// The cluster-machine-approver approves a pending CSR of a replacement Machine's new node
    /// (node-bootstrapper, or kubelet-serving from the node itself), when the cluster has one.
    fn machine_approver_looks_at(&self, csr: &Value) {
        let node = str_at(csr, "/metadata/annotations/lab.etcd-console~1node");
        if !self.machine_approver || !self.new_nodes.contains(node) {
            return;
        }
        let name = str_at(csr, "/metadata/name").to_string();
        let at = now_rfc3339();
        let index = idx("certificates.k8s.io", "CertificateSigningRequest");
        tracing::info!(csr = %name, %node, "lab: the cluster-machine-approver approved a new node's CSR");
        let _ = self.store.modify(index, "", &name, |o| {
            set_condition(
                o,
                seed::condition(
                    "Approved",
                    "True",
                    "NodeCSRApprove",
                    "This CSR was approved by the Node CSR Approver (cluster-machine-approver)",
                    &at,
                ),
            );
        });
    }

    /// A new node's kubelet has its client certificate: the node is registered, not Ready until
    /// its kubelet-serving CSR is approved too.
    fn node_registered_not_ready(&self, node: &str, at: &str) {
        tracing::info!(%node, "lab: the new node registered; NotReady until its kubelet-serving CSR is approved");
        let _ = self.store.modify(idx("", "Node"), "", node, |o| {
            set_condition(
                o,
                seed::condition(
                    "Ready",
                    "False",
                    "KubeletNotReady",
                    "the kubelet has no serving certificate yet: its kubelet-serving CSR is Pending",
                    at,
                ),
            );
        });
    }

    /// The kubelet of `node` asks for a client certificate (unless such a request is pending).
    pub(super) fn file_bootstrap_csr(&self, node: &str, why: &str) {
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
            return;
        }
        let Ok(pem) = seed::node_csr_pem(node) else { return };
        let mut csr = seed::csr("", node, false, &pem, &now_rfc3339());
        csr["metadata"]["generateName"] = json!("csr-");
        if let Some(m) = csr["metadata"].as_object_mut() {
            m.remove("name");
        }
        tracing::info!(%node, "lab: {why}");
        let _ = self.store.create(csrs, "", csr, false);
    }

    pub(super) fn node_ready(&self, node: &str, at: &str) {
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

    /// A restarted kubelet asks for a client certificate again (a node-bootstrapper CSR).
    pub(super) fn hear_kubelet_restarts(&self) {
        let Some(link) = &self.hosts else { return };
        let mut restarted = link.kubelet_restarts.take();
        restarted.extend(crate::hosts::kubelet::worker_restarts(&link.inventory));
        for node in restarted {
            if self.hosted {
                continue;
            }
            self.file_bootstrap_csr(&node, "a restarted kubelet filed a node-bootstrapper CSR");
        }
    }
}
