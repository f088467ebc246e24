//! The machine API: a deleted Machine is replaced by a new one that is
//! provisioned (a lab host powered off is installed afresh for it), and the
//! Node of a powered-off (or crashed) host turns Ready Unknown while its
//! Machine stays Running with its instance `stopped`.
//!
//! A replacement goes Provisioning (instance `pending`), Provisioned for the
//! last minute of [`MACHINE_PROVISIONING`] (instance `running`), then Running.
//! Where it stands for a lost lab host, that host is installed afresh and its
//! new kubelet files a node-bootstrapper CSR; once approved, its node is
//! registered but NotReady and files a kubelet-serving CSR; once that is
//! approved too, the node is Ready (see `csrs`), and the etcd operator adds its
//! member (see `etcd_scale_up`). With the scenario's `machine_approver` (the
//! default) the cluster-machine-approver approves both CSRs at once, as on a
//! cluster where it works; without, they wait for someone to approve them.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use super::{get_condition, idx, ready_at, set_condition, with_ready_at, without_ready_at, Operators};
use crate::api::seed;
use crate::api::store::{now_rfc3339, str_at};

/// Cluster time a new Machine takes from Provisioning to Running (Provisioned for its last minute).
pub const MACHINE_PROVISIONING: Duration = Duration::from_secs(180);
const MACHINE_PROVISIONED_FOR: Duration = Duration::from_secs(60);
const MACHINE_NAMESPACE: &str = "openshift-machine-api";

/// The name the machine API gives the Machine that replaces `deleted`: the
/// next number after every `<prefix>-<N>` there is (`<infra>-master-3` after
/// master-0..2), or a fresh random suffix for a MachineSet's worker.
pub fn replacement_machine_name(deleted: &str, existing: &[String]) -> String {
    let Some((prefix, last)) = deleted.rsplit_once('-') else { return format!("{deleted}-{}", seed::pod_suffix()) };
    if last.is_empty() || !last.chars().all(|c| c.is_ascii_digit()) {
        return format!("{prefix}-{}", seed::pod_suffix());
    }
    let number = |name: &str| name.strip_prefix(prefix)?.strip_prefix('-')?.parse::<u64>().ok();
    let highest = existing.iter().filter_map(|n| number(n)).chain(number(deleted)).max().unwrap_or(0);
    format!("{prefix}-{}", highest + 1)
}

impl Operators {
    /// A host powered off (its Machine deleted, or `lab lose`) posts no node status: its Node's
    /// Ready turns Unknown, as the node lifecycle controller has it.
    pub(super) fn nodes_of_powered_off_hosts(&self) {
        let Some(link) = &self.hosts else { return };
        let nodes = idx("", "Node");
        for host in &link.inventory.hosts {
            if !crate::hosts::powered_off(&link.inventory, &host.name) {
                continue;
            }
            self.instance_stopped(&host.name);
            let Ok(node) = self.store.get(nodes, "", &host.name) else { continue };
            if get_condition(&node, "Ready").is_some_and(|c| c["status"] == "Unknown") {
                continue;
            }
            let at = now_rfc3339();
            let _ = self.store.modify(nodes, "", &host.name, |o| {
                set_condition(
                    o,
                    seed::condition(
                        "Ready",
                        "Unknown",
                        "NodeStatusUnknown",
                        "Kubelet stopped posting node status.",
                        &at,
                    ),
                );
            });
        }
    }

    /// The Running Machines of `node` show their instance stopped (the cloud's word for a dead host).
    fn instance_stopped(&self, node: &str) {
        let machines = idx("machine.openshift.io", "Machine");
        let running = self
            .store
            .list(
                machines,
                Some(MACHINE_NAMESPACE),
                &|m| {
                    str_at(m, "/status/nodeRef/name") == node
                        && ready_at(m).is_none()
                        && str_at(m, "/status/providerStatus/instanceState") != "stopped"
                },
                None,
                None,
            )
            .items;
        for machine in running {
            let name = str_at(&machine, "/metadata/name").to_string();
            tracing::info!(machine = %name, %node, "lab: the machine API sees the instance stopped");
            let _ = self.store.modify(machines, MACHINE_NAMESPACE, &name, |m| set_instance_state(m, "stopped"));
        }
    }

    /// The machine API replaces a deleted Machine (as a control plane machine
    /// set or MachineSet does): a new one, Provisioning, on the same node name.
    pub(super) fn machine_deleted(&self, deleted: &Value) {
        if self.hosted || str_at(deleted, "/metadata/namespace") != MACHINE_NAMESPACE {
            return;
        }
        let machines = idx("machine.openshift.io", "Machine");
        let existing: Vec<String> = self
            .store
            .list(machines, Some(MACHINE_NAMESPACE), &|_| true, None, None)
            .items
            .iter()
            .map(|m| str_at(m, "/metadata/name").to_string())
            .collect();
        let old = str_at(deleted, "/metadata/name");
        let master = str_at(deleted, "/metadata/labels/machine.openshift.io~1cluster-api-machine-role") == "master";
        if master && !self.control_plane_machine_set() {
            // No control plane machine set: nothing replaces it; someone creates the new Machine.
            tracing::info!(deleted = %old, "lab: a master Machine deleted, and no ControlPlaneMachineSet replaces it");
        } else {
            let name = replacement_machine_name(old, &existing);
            let mut machine = seed::replacement_machine(deleted, &name, &now_rfc3339());
            with_ready_at(&mut machine, SystemTime::now() + self.scaled(MACHINE_PROVISIONING));
            tracing::info!(deleted = %old, machine = %name, "lab: the machine API provisions a replacement");
            let _ = self.store.create(machines, MACHINE_NAMESPACE, machine, false);
        }
        // A lost host's Machine deleted: its instance is gone with it, the lab host is powered off
        // (and comes back new with the replacement). A healthy master's is left as it is: OpenShift's
        // etcd operator holds such a deletion (a deletion hook) until another member is in, which
        // the lab does not model.
        let node = str_at(deleted, "/status/nodeRef/name");
        let Some(link) =
            self.hosts.as_ref().filter(|l| l.inventory.host(node).is_some() && !l.inventory.reachable(node))
        else {
            return;
        };
        match crate::hosts::power_off(&link.inventory, node) {
            Ok(()) => tracing::info!(%node, "lab: the deleted Machine's host is powered off"),
            Err(e) => tracing::warn!(%node, error = %e, "lab: cannot power the deleted Machine's host off"),
        }
    }

    /// Whether the ControlPlaneMachineSet `cluster` is there and Active.
    fn control_plane_machine_set(&self) -> bool {
        self.store
            .get(idx("machine.openshift.io", "ControlPlaneMachineSet"), MACHINE_NAMESPACE, "cluster")
            .is_ok_and(|set| str_at(&set, "/spec/state") == "Active")
    }

    /// A master Machine someone created (no status yet: made from a deleted one's spec, as the
    /// procedure does without a control plane machine set) is provisioned on the master host that
    /// no Machine backs any more (a lost one), as the cloud would start an instance for it.
    pub(super) fn machine_created(&self, created: &Value) {
        if self.hosted
            || str_at(created, "/metadata/namespace") != MACHINE_NAMESPACE
            || !str_at(created, "/status/phase").is_empty()
            || ready_at(created).is_some()
            || str_at(created, "/metadata/labels/machine.openshift.io~1cluster-api-machine-role") != "master"
        {
            return;
        }
        let Some(link) = &self.hosts else { return };
        let machines = idx("machine.openshift.io", "Machine");
        let backed: Vec<String> = self
            .store
            .list(
                machines,
                Some(MACHINE_NAMESPACE),
                &|m| m.pointer("/metadata/deletionTimestamp").is_none(),
                None,
                None,
            )
            .items
            .iter()
            .map(|m| str_at(m, "/status/nodeRef/name").to_string())
            .collect();
        let Some(host) = link.inventory.hosts.iter().find(|h| !backed.contains(&h.name)) else {
            tracing::info!("lab: a master Machine created, but every master host has a Machine");
            return;
        };
        let name = str_at(created, "/metadata/name").to_string();
        let mut pseudo = created.clone();
        pseudo["status"] = json!({"nodeRef": {"kind": "Node", "name": host.name}});
        let made = seed::replacement_machine(&pseudo, &name, &now_rfc3339());
        let at = SystemTime::now() + self.scaled(MACHINE_PROVISIONING);
        tracing::info!(machine = %name, node = %host.name, "lab: the machine API provisions a created Machine");
        let _ = self.store.modify(machines, MACHINE_NAMESPACE, &name, |m| {
            m["status"] = made["status"].clone();
            m["spec"]["providerID"] = made["spec"]["providerID"].clone();
            set_instance_state(m, "pending");
            with_ready_at(m, at);
        });
    }

    /// A replacement Machine's instance is up: where it stands for a lab host that
    /// was powered off, that host is installed afresh, and its node is Ready. Not
    /// before its kubelet has let the old member go (false: not yet, look again).
    fn install_replacement_host(&mut self, machine: &Value) -> bool {
        let node = str_at(machine, "/status/nodeRef/name");
        let Some(link) = self.hosts.as_ref().filter(|l| l.inventory.host(node).is_some()) else { return true };
        let inventory = &link.inventory;
        if inventory.reachable(node) {
            return true;
        }
        // Powered off first: once the kubelet has taken that, nothing starts the member again.
        if !crate::hosts::powered_off(inventory, node) {
            return false;
        }
        if inventory.index(node).and_then(|i| link.pids.get(i)).is_some() {
            return false;
        }
        match crate::hosts::reinstall(inventory, node) {
            Ok(()) => {
                tracing::info!(%node, "lab: a new host installed for the replacement Machine");
                // Its kubelet has no credentials yet: it asks for a client certificate first.
                self.new_nodes.insert(node.to_string());
                self.new_masters.insert(node.to_string(), None);
                self.file_bootstrap_csr(node, "a new host's kubelet filed a node-bootstrapper CSR");
                true
            }
            Err(e) => {
                tracing::warn!(%node, error = %e, "lab: cannot install the replacement Machine's host");
                false
            }
        }
    }

    /// Provisioning Machines become Provisioned for their last minute, then Running.
    pub(super) fn advance_machines(&mut self) {
        let machines = idx("machine.openshift.io", "Machine");
        let provisioning =
            self.store.list(machines, Some(MACHINE_NAMESPACE), &|m| ready_at(m).is_some(), None, None).items;
        let now = SystemTime::now();
        for machine in provisioning {
            let Some(at) = ready_at(&machine) else { continue };
            let phase = if now >= at {
                "Running"
            } else if now + self.scaled(MACHINE_PROVISIONED_FOR) >= at {
                "Provisioned"
            } else {
                continue;
            };
            if str_at(&machine, "/status/phase") == phase {
                continue;
            }
            if phase == "Running" && !self.install_replacement_host(&machine) {
                continue;
            }
            let name = str_at(&machine, "/metadata/name").to_string();
            tracing::info!(machine = %name, phase, "lab: machine phase");
            let _ = self.store.modify(machines, MACHINE_NAMESPACE, &name, |m| {
                m["status"]["phase"] = json!(phase);
                set_instance_state(m, "running");
                if phase == "Running" {
                    without_ready_at(m);
                }
            });
        }
    }
}

/// A Machine's instance state, in its provider status and the annotation `oc get machines` shows.
fn set_instance_state(machine: &mut Value, state: &str) {
    if !machine["status"]["providerStatus"].is_object() {
        machine["status"]["providerStatus"] = json!({});
    }
    machine["status"]["providerStatus"]["instanceState"] = json!(state);
    if !machine["metadata"]["annotations"].is_object() {
        machine["metadata"]["annotations"] = json!({});
    }
    machine["metadata"]["annotations"]["machine.openshift.io/instance-state"] = json!(state);
}

#[cfg(test)]
mod machine_api_tests {
    use super::*;

    #[test]
    fn replacements_take_the_next_number_or_a_new_suffix() {
        let existing: Vec<String> = ["lab-7xk2p-master-1", "lab-7xk2p-master-2", "lab-7xk2p-worker-us-east-1a-bcdfg"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(replacement_machine_name("lab-7xk2p-master-0", &existing), "lab-7xk2p-master-3");
        let more = [existing.clone(), vec!["lab-7xk2p-master-3".to_string()]].concat();
        assert_eq!(replacement_machine_name("lab-7xk2p-master-1", &more), "lab-7xk2p-master-4");
        let worker = replacement_machine_name("lab-7xk2p-worker-us-east-1a-bcdfg", &existing);
        assert!(
            worker.starts_with("lab-7xk2p-worker-us-east-1a-")
                && worker.len() == "lab-7xk2p-worker-us-east-1a-bcdfg".len()
        );
        assert_ne!(worker, "lab-7xk2p-worker-us-east-1a-bcdfg");
    }
}
