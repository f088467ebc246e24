//! Why a member is down, from the objects around it: its pod (phase, the `etcd`
//! container's waiting reason, restarts, last termination), its node's `Ready`
//! condition, its Machine (phase, instance state), and the etcd
//! ClusterOperator's `Degraded` message. Pure readers of the objects' JSON, so the
//! console (fed by watches), `status` (one reading) and the member wizard share them.
//! Every text taken from an object is made terminal-safe here.

use serde::Serialize;
use serde_json::Value;

use crate::cluster::MemberIdentity;
use crate::units::safe_text;

/// A container's termination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Termination {
    pub reason: String,
    pub exit_code: i64,
    /// RFC 3339, as the API gives it.
    pub finished_at: Option<String>,
}

/// An etcd pod as the diagnosis reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodFacts {
    pub name: String,
    pub node: String,
    pub ip: String,
    pub phase: String,
    /// The pod's `Ready` condition: status and since when.
    pub ready: Option<(String, Option<String>)>,
    /// The `etcd` container: running now, its waiting or terminated reason, restarts.
    pub running: bool,
    pub reason: Option<String>,
    pub restarts: i64,
    /// The termination now (state.terminated) or the last one (lastState.terminated).
    pub last_termination: Option<Termination>,
    /// The quota its etcd container is started with (`--quota-backend-bytes`, `ETCD_QUOTA_BACKEND_BYTES`).
    pub quota_bytes: Option<u64>,
}

/// A node's `Ready` condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeReady {
    #[serde(skip)]
    pub node: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    pub reason: String,
    /// lastTransitionTime, RFC 3339.
    pub since: Option<String>,
}

/// A Machine (machine.openshift.io/v1beta1) and the node it backs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineFacts {
    pub name: String,
    pub node: Option<String>,
    pub phase: String,
    /// `status.providerStatus.instanceState`, else the `machine.openshift.io/instance-state` annotation.
    pub instance_state: Option<String>,
}

fn text_at(object: &Value, pointer: &str) -> Option<String> {
    object.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty()).map(safe_text)
}

fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

fn termination(value: &Value) -> Option<Termination> {
    let terminated = value.get("terminated")?;
    Some(Termination {
        reason: text_at(terminated, "/reason").unwrap_or_else(|| "terminated".into()),
        exit_code: terminated.get("exitCode").and_then(Value::as_i64).unwrap_or(0),
        finished_at: text_at(terminated, "/finishedAt"),
    })
}

pub fn pod_facts(pod: &Value) -> Option<PodFacts> {
    let name = text_at(pod, "/metadata/name")?;
    let ready =
        condition(pod, "Ready").map(|c| (text_at(c, "/status").unwrap_or_default(), text_at(c, "/lastTransitionTime")));
    let etcd = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|all| all.iter().find(|c| c.get("name").and_then(Value::as_str) == Some("etcd")));
    let (running, reason, restarts, last_termination) = match etcd {
        Some(c) => {
            let state = c.get("state").cloned().unwrap_or(Value::Null);
            let now = termination(&state);
            let reason = text_at(&state, "/waiting/reason").or_else(|| now.as_ref().map(|t| t.reason.clone()));
            (
                state.get("running").is_some(),
                reason,
                c.get("restartCount").and_then(Value::as_i64).unwrap_or(0),
                now.or_else(|| c.get("lastState").and_then(termination)),
            )
        }
        None => (false, None, 0, None),
    };
    Some(PodFacts {
        name,
        node: text_at(pod, "/spec/nodeName").unwrap_or_default(),
        ip: text_at(pod, "/status/podIP").unwrap_or_default(),
        phase: text_at(pod, "/status/phase").unwrap_or_else(|| "Unknown".into()),
        ready,
        running,
        reason,
        restarts,
        last_termination,
        quota_bytes: super::quota::pod_quota(pod),
    })
}

pub fn node_ready(node: &Value) -> Option<NodeReady> {
    let name = text_at(node, "/metadata/name")?;
    let c = condition(node, "Ready")?;
    Some(NodeReady {
        node: name,
        status: text_at(c, "/status").unwrap_or_else(|| "Unknown".into()),
        reason: text_at(c, "/reason").unwrap_or_default(),
        since: text_at(c, "/lastTransitionTime"),
    })
}

/// A node cut down to what the diagnosis reads (its name and `Ready`), so a watch of
/// every node hands the console little.
pub fn slim_node(node: &Value) -> Value {
    let ready = condition(node, "Ready").cloned();
    serde_json::json!({
        "metadata": {"name": node.pointer("/metadata/name").cloned().unwrap_or(Value::Null)},
        "status": {"conditions": ready.into_iter().collect::<Vec<Value>>()},
    })
}

pub fn machine_facts(machine: &Value) -> Option<MachineFacts> {
    Some(MachineFacts {
        name: text_at(machine, "/metadata/name")?,
        node: text_at(machine, "/status/nodeRef/name"),
        phase: text_at(machine, "/status/phase").unwrap_or_else(|| "Unknown".into()),
        instance_state: text_at(machine, "/status/providerStatus/instanceState")
            .or_else(|| text_at(machine, "/metadata/annotations/machine.openshift.io~1instance-state")),
    })
}

/// The etcd ClusterOperator's `Degraded` message while it is `True` (its lines joined by `; `).
pub fn etcd_degraded(cluster_operator: &Value) -> Option<String> {
    let c = condition(cluster_operator, "Degraded")?;
    if c.get("status").and_then(Value::as_str) != Some("True") {
        return None;
    }
    let message = c.get("message").and_then(Value::as_str).unwrap_or("");
    let lines: Vec<&str> = message.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let joined = if lines.is_empty() { "(no message)".to_string() } else { lines.join("; ") };
    Some(safe_text(&joined))
}

/// What is known around one member: the `diagnosis` of `status -o json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct MemberDiagnosis {
    pub pod: Option<String>,
    pub pod_phase: Option<String>,
    /// The `etcd` container's waiting or terminated reason (`CrashLoopBackOff`), None while it runs.
    pub pod_reason: Option<String>,
    pub restarts: Option<i64>,
    pub last_termination: Option<Termination>,
    pub node: Option<String>,
    pub node_ready: Option<NodeReady>,
    pub machine: Option<String>,
    pub machine_phase: Option<String>,
    pub instance_state: Option<String>,
    /// Since when it has been down, by the cluster's objects (RFC 3339): the earliest of the
    /// pod's `Ready` turning false, the node's `Ready` leaving True, and the container's
    /// termination while it is not running. None when they say it is up.
    pub down_since: Option<String>,
}

impl MemberDiagnosis {
    /// `down_since` as a time.
    pub fn down_since_time(&self) -> Option<std::time::SystemTime> {
        self.down_since.as_deref().and_then(parse_time)
    }
}

fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or("");
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host.trim_matches(['[', ']']),
        _ => authority,
    }
}

/// The pod a member runs in: by address, by its URL's first DNS label (hosted
/// `etcd-0.etcd-discovery...`), by name (`etcd-<node>` or the pod's), or by node.
pub fn pod_of<'a>(member: &MemberIdentity, pods: &'a [PodFacts]) -> Option<&'a PodFacts> {
    let hosts: Vec<&str> = member.client_urls.iter().chain(&member.peer_urls).map(|u| url_host(u)).collect();
    let standalone_name = format!("etcd-{}", member.name);
    pods.iter()
        .find(|p| !p.ip.is_empty() && hosts.contains(&p.ip.as_str()))
        .or_else(|| pods.iter().find(|p| hosts.iter().any(|h| h.split('.').next() == Some(p.name.as_str()))))
        .or_else(|| {
            (!member.name.is_empty()).then_some(()).and_then(|_| {
                pods.iter().find(|p| p.name == member.name || p.name == standalone_name || p.node == member.name)
            })
        })
}

/// An API timestamp (RFC 3339).
pub fn parse_time(text: &str) -> Option<std::time::SystemTime> {
    humantime::parse_rfc3339(text).or_else(|_| humantime::parse_rfc3339_weak(text)).ok()
}

fn earliest(times: impl IntoIterator<Item = Option<String>>) -> Option<String> {
    times
        .into_iter()
        .flatten()
        .filter_map(|t| parse_time(&t).map(|at| (at, t)))
        .min_by_key(|(at, _)| *at)
        .map(|(_, t)| t)
}

/// Everything known around `member`; None when nothing is (no pod, node or Machine found).
/// `with_machines`: standalone clusters only (a hosted etcd's node is not its own).
pub fn diagnose(
    member: &MemberIdentity,
    pods: &[PodFacts],
    nodes: &[NodeReady],
    machines: &[MachineFacts],
    standalone: bool,
) -> Option<MemberDiagnosis> {
    let pod = pod_of(member, pods);
    let node_name = pod
        .map(|p| p.node.clone())
        .filter(|n| !n.is_empty())
        .or_else(|| (standalone && nodes.iter().any(|n| n.node == member.name)).then(|| member.name.clone()));
    let node = node_name.as_ref().and_then(|name| nodes.iter().find(|n| &n.node == name));
    let machine = if standalone {
        node_name.as_ref().and_then(|name| machines.iter().find(|m| m.node.as_ref() == Some(name)))
    } else {
        None
    };
    if pod.is_none() && node.is_none() && machine.is_none() {
        return None;
    }
    let pod_down_since = pod.and_then(|p| match &p.ready {
        Some((status, since)) if status != "True" => since.clone(),
        _ => None,
    });
    let node_down_since = node.filter(|n| n.status != "True").and_then(|n| n.since.clone());
    let crashed_at = pod.filter(|p| !p.running).and_then(|p| p.last_termination.as_ref()?.finished_at.clone());
    Some(MemberDiagnosis {
        pod: pod.map(|p| p.name.clone()),
        pod_phase: pod.map(|p| p.phase.clone()),
        pod_reason: pod.and_then(|p| p.reason.clone()),
        restarts: pod.map(|p| p.restarts),
        last_termination: pod.and_then(|p| p.last_termination.clone()),
        node: node_name.clone(),
        node_ready: node.cloned(),
        machine: machine.map(|m| m.name.clone()),
        machine_phase: machine.map(|m| m.phase.clone()),
        instance_state: machine.and_then(|m| m.instance_state.clone()),
        down_since: earliest([pod_down_since, node_down_since, crashed_at]),
    })
}

/// What the cluster around etcd said at one reading (for `status`), or holds (the console).
#[derive(Debug, Clone, Default)]
pub struct Surroundings {
    pub pods: Vec<PodFacts>,
    pub nodes: Vec<NodeReady>,
    pub machines: Vec<MachineFacts>,
    pub etcd_degraded: Option<String>,
    /// `spec.backendQuotaGiB` of the etcd operator, in bytes (standalone, OpenShift 4.16+).
    pub etcd_operator_quota: Option<u64>,
    pub standalone: bool,
    /// Parts that could not be read (403, unreachable), each in one line; a 404 is not one.
    pub problems: Vec<String>,
}

impl Surroundings {
    pub fn diagnose(&self, member: &MemberIdentity) -> Option<MemberDiagnosis> {
        diagnose(member, &self.pods, &self.nodes, &self.machines, self.standalone)
    }

    /// What the pods of `members` and the etcd operator say of the quota.
    pub fn spec_quotas(&self, members: &[MemberIdentity]) -> crate::cluster::SpecQuotas {
        crate::cluster::SpecQuotas {
            members: members.iter().filter_map(|m| Some((m.id, pod_of(m, &self.pods)?.quota_bytes?))).collect(),
            operator: self.etcd_operator_quota,
        }
    }
}

/// One reading of the pods, nodes, Machines and the etcd ClusterOperator, concurrently,
/// each under the request timeout.
pub async fn observe(connection: &super::Connection, scope: &crate::etcd::discovery::Scope) -> Surroundings {
    use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
    let standalone = matches!(scope, crate::etcd::discovery::Scope::Standalone);
    let resource = |group: &str, version: &str, kind: &str, plural: &str| {
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
    };
    let pods_api: Api<DynamicObject> =
        Api::namespaced_with(connection.client.clone(), &scope.namespace(), &resource("", "v1", "Pod", "pods"));
    let nodes_api: Api<DynamicObject> = Api::all_with(connection.client.clone(), &resource("", "v1", "Node", "nodes"));
    let machines_api: Api<DynamicObject> = Api::namespaced_with(
        connection.client.clone(),
        "openshift-machine-api",
        &resource("machine.openshift.io", "v1beta1", "Machine", "machines"),
    );
    let cos_api: Api<DynamicObject> = Api::all_with(
        connection.client.clone(),
        &resource("config.openshift.io", "v1", "ClusterOperator", "clusteroperators"),
    );
    let etcds_api: Api<DynamicObject> =
        Api::all_with(connection.client.clone(), &resource("operator.openshift.io", "v1", "Etcd", "etcds"));
    let by_label = ListParams::default().labels(scope.selector());
    let all = ListParams::default();
    let (pods, nodes, machines, co, etcd) = tokio::join!(
        super::list_objects(connection, pods_api, "etcd pods", &by_label),
        super::list_objects(connection, nodes_api, "nodes", &all),
        async {
            if standalone {
                super::list_objects(connection, machines_api, "machines.machine.openshift.io", &all).await
            } else {
                Ok(None)
            }
        },
        super::get_object(connection, cos_api, "clusteroperators.config.openshift.io/etcd", "etcd"),
        async {
            if standalone {
                super::get_object(connection, etcds_api, "etcds.operator.openshift.io/cluster", "cluster").await
            } else {
                Ok(None)
            }
        },
    );
    let mut problems = Vec::new();
    let mut keep = |result: Result<Option<Vec<Value>>, super::ApiError>| match result {
        Ok(found) => found.unwrap_or_default(),
        Err(e) => {
            problems.push(e.to_string());
            Vec::new()
        }
    };
    let pods = keep(pods).iter().filter_map(pod_facts).collect();
    let nodes = keep(nodes).iter().filter_map(node_ready).collect();
    let machines = keep(machines).iter().filter_map(machine_facts).collect();
    let etcd_degraded = match co {
        Ok(found) => found.as_ref().and_then(etcd_degraded),
        Err(e) => {
            problems.push(e.to_string());
            None
        }
    };
    let etcd_operator_quota = match etcd {
        Ok(found) => found.as_ref().and_then(super::quota::backend_quota_gib),
        Err(e) => {
            problems.push(e.to_string());
            None
        }
    };
    Surroundings { pods, nodes, machines, etcd_degraded, etcd_operator_quota, standalone, problems }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFEREE: &str = "/work/shared/referee/openshift";

    /// A real object of the referee's, when this machine has them.
    fn real(path: &str) -> Option<Value> {
        let text = std::fs::read_to_string(format!("{REFEREE}/{path}")).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// An etcd pod as the kubelet reports one whose etcd keeps crashing.
    fn crashing_pod() -> Value {
        serde_json::json!({
            "metadata": {"name": "etcd-master-1", "namespace": "openshift-etcd", "labels": {"k8s-app": "etcd"}},
            "spec": {"nodeName": "master-1"},
            "status": {
                "phase": "Running", "podIP": "10.0.0.11",
                "conditions": [
                    {"type": "Ready", "status": "False", "lastTransitionTime": "2026-11-22T01:02:03Z"},
                ],
                "containerStatuses": [
                    {"name": "etcdctl", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2026-11-20T00:00:00Z"}}},
                    {"name": "etcd", "ready": false, "restartCount": 7,
                     "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=etcd\u{1b}[31m"}},
                     "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2026-11-22T01:20:00Z"}}},
                ],
            },
        })
    }

    fn member(name: &str, ip: &str) -> MemberIdentity {
        MemberIdentity {
            id: 1,
            name: name.into(),
            client_urls: vec![format!("https://{ip}:2379")],
            peer_urls: vec![format!("https://{ip}:2380")],
            is_learner: false,
        }
    }

    #[test]
    fn a_crashing_pod_reads_as_its_container_says() {
        let pod = pod_facts(&crashing_pod()).unwrap();
        assert_eq!(pod.reason.as_deref(), Some("CrashLoopBackOff"));
        assert_eq!(pod.restarts, 7);
        assert!(!pod.running);
        assert_eq!(
            pod.last_termination,
            Some(Termination {
                reason: "Error".into(),
                exit_code: 1,
                finished_at: Some("2026-11-22T01:20:00Z".into())
            })
        );
    }

    #[test]
    fn real_nodes_and_the_real_etcd_operator_read_as_they_are() {
        let Some(node) = real("insights-4.7.16/node.core.master-0.imeixner20210707.lab.upshift.rdu2.redhat.com.json")
        else {
            return;
        };
        let ready = node_ready(&node).unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str(), ready.since.as_deref()),
            ("True", "KubeletReady", Some("2021-07-07T11:26:08Z"))
        );
        assert_eq!(node_ready(&slim_node(&node)), Some(ready.clone()), "the slim node keeps what is read");
        let Some(mut co) = real("insights-4.7.16/clusteroperator.config.openshift.io.etcd.json") else { return };
        assert_eq!(etcd_degraded(&co), None, "Degraded False says nothing");
        // The same object, degraded as the operator words it (its message has one line per controller).
        let conditions = co.pointer_mut("/status/conditions").and_then(Value::as_array_mut).unwrap();
        let degraded = conditions.iter_mut().find(|c| c["type"] == "Degraded").unwrap();
        degraded["status"] = "True".into();
        degraded["message"] =
            "NodeControllerDegraded: All master nodes are ready\nEtcdMembersDegraded: 2 of 3 members are available, master-1 is unhealthy\u{7}".into();
        assert_eq!(
            etcd_degraded(&co).as_deref(),
            Some("NodeControllerDegraded: All master nodes are ready; EtcdMembersDegraded: 2 of 3 members are available, master-1 is unhealthy\\x07")
        );
    }

    #[test]
    fn a_member_is_matched_to_its_pod_node_and_machine_and_down_since_is_the_earliest_sign() {
        let pods = vec![pod_facts(&crashing_pod()).unwrap()];
        let node = serde_json::json!({"metadata": {"name": "master-1"}, "status": {"conditions": [
            {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown", "lastTransitionTime": "2026-11-22T00:58:00Z"}]}});
        let nodes = vec![node_ready(&node).unwrap()];
        let machine = serde_json::json!({"metadata": {"name": "ocp-x7k2p-master-1", "namespace": "openshift-machine-api"},
            "status": {"phase": "Running", "nodeRef": {"kind": "Node", "name": "master-1"},
                       "providerStatus": {"instanceState": "stopped"}}});
        let machines = vec![machine_facts(&machine).unwrap()];
        // Matched by address, by pod name, by node.
        for m in [member("master-1", "10.0.0.11"), member("master-1", "192.0.2.1"), member("", "10.0.0.11")] {
            let d = diagnose(&m, &pods, &nodes, &machines, true).unwrap();
            assert_eq!(d.pod.as_deref(), Some("etcd-master-1"));
            assert_eq!(d.machine.as_deref(), Some("ocp-x7k2p-master-1"));
        }
        let d = diagnose(&member("master-1", "10.0.0.11"), &pods, &nodes, &machines, true).unwrap();
        assert_eq!(d.pod_reason.as_deref(), Some("CrashLoopBackOff"));
        assert_eq!(d.node_ready.as_ref().map(|n| n.reason.as_str()), Some("NodeStatusUnknown"));
        assert_eq!((d.machine_phase.as_deref(), d.instance_state.as_deref()), (Some("Running"), Some("stopped")));
        assert_eq!(d.down_since.as_deref(), Some("2026-11-22T00:58:00Z"), "the node went first");
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["last_termination"]["exit_code"], 1);
        assert_eq!(json["node_ready"]["status"], "Unknown");
        // Hosted: no Machine.
        assert_eq!(diagnose(&member("master-1", "10.0.0.11"), &pods, &nodes, &machines, false).unwrap().machine, None);
        assert_eq!(diagnose(&member("master-9", "10.9.9.9"), &pods, &[], &[], true), None);
    }
}
