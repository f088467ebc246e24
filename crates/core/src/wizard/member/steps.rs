//! The member-replacement procedures as lists of steps, in the order
//! OpenShift documents them, each with the commands a person would type for
//! it (shown in the plan and the journal) and what is checked before the next
//! one begins. The lists are made from what was surveyed, so every value is
//! filled in: the member's ID, its node, its Machine, the helper host.

use serde::{Deserialize, Serialize};

use super::{needs_backup, Options, Procedure, Survey, TargetFacts};
use crate::wizard::restore::QUORUM_GUARD_ON;

/// Where set-aside etcd data and manifests go on the node (the procedure's own directory); the
/// data is kept there, not in /tmp, so that it outlives a reboot.
pub const ASIDE_DIR: &str = "/var/lib/etcd-backup";
/// The etcd static pod's manifest on a control-plane node.
pub const ETCD_MANIFEST: &str = "/etc/kubernetes/manifests/etcd-pod.yaml";
pub const ETCD_DATA: &str = "/var/lib/etcd";
/// How long the etcd operator is given to add a member back on a new Machine before etcd is redeployed.
pub const REDEPLOY_AFTER: std::time::Duration = std::time::Duration::from_secs(600);
pub const QUORUM_GUARD_OFF: &str = "oc patch etcd/cluster --type=merge -p '{\"spec\": {\"unsupportedConfigOverrides\": {\"useUnsupportedUnsafeNonHANonProductionUnstableEtcd\": true}}}'";

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "act")]
pub enum Act {
    /// A restore-grade backup into the backup directory (as `etcd-console backup`).
    TakeBackup,
    /// On the node: the etcd manifest and data directory moved aside, so its etcd stops.
    SetAside {
        node: String,
        ip: String,
        data_aside: String,
    },
    /// MemberRemove through a healthy member (one already gone counts as removed).
    RemoveMember {
        id: u64,
        name: String,
    },
    QuorumGuard {
        off: bool,
    },
    /// `etcd-peer-<node>`, `etcd-serving-<node>`, `etcd-serving-metrics-<node>` deleted (the
    /// operator makes them again).
    DeleteSecrets {
        node: String,
    },
    /// The Machine deleted; its replacement followed to Running and its node to Ready, only its
    /// own valid CSRs approved.
    ReplaceMachine {
        machine: String,
        node: String,
        /// The Machine to create after the deletion (no ControlPlaneMachineSet does it).
        #[serde(default)]
        create: Option<serde_json::Value>,
    },
    /// etcd's forceRedeploymentReason set to a unique `single-master-recovery-<date>`.
    ForceRedeployment,
    /// After a Machine is replaced: the etcd operator is given `wait_seconds` to add the member by
    /// itself; if it has not, etcd is redeployed (`single-master-recovery-<date>`), as the
    /// procedure says to do when only two etcd pods come up.
    RedeployIfShort {
        old_id: u64,
        voters: usize,
        wait_seconds: u64,
    },
    /// The operator adds the member again (a learner first, then promoted): `voters` started
    /// voting members, all healthy, `old_id` not among them, every node at the latest revision
    /// and `voters` etcd pods Running.
    MemberBack {
        name: Option<String>,
        old_id: u64,
        voters: usize,
    },
    /// A hosted member's claim and pod deleted, not waiting for them to go (`--wait=false`).
    DeleteClaimAndPod {
        namespace: String,
        pod: String,
        claim: String,
        old_uid: String,
    },
    /// The StatefulSet's new pod all containers ready, the member back under its name with a new
    /// ID, every member at one revision and key-value hash.
    HostedMemberBack {
        namespace: String,
        pod: String,
        name: String,
        old_id: u64,
        /// The failing pod's UID: the one made again has another.
        #[serde(default)]
        old_uid: String,
        voters: usize,
    },
    /// A person runs the shown commands; then what can be seen is checked.
    Person {
        instruction: String,
        then: PersonCheck,
    },
}

/// What is checked after a person's step (OpenShift 4.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "check")]
pub enum PersonCheck {
    /// The member is not in the member list any more.
    MemberGone { id: u64 },
    /// A member of this name is back, started and healthy, with `voters` voting members in all.
    MemberBack { name: String, old_id: u64, voters: usize },
    /// Nothing can be seen of it.
    Nothing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub id: String,
    pub title: String,
    pub act: Act,
    /// What is checked before the next step, as a person reads it.
    pub check: String,
    /// The commands a person would type for it.
    pub shown: Vec<String>,
    pub limit_seconds: u64,
    /// After this step the member is gone from etcd: what is left is bringing it back.
    pub point_of_no_return: bool,
}

fn step(id: &str, title: &str, act: Act, check: &str, shown: Vec<String>, limit_seconds: u64) -> Step {
    Step {
        id: id.into(),
        title: title.into(),
        act,
        check: check.into(),
        shown,
        limit_seconds,
        point_of_no_return: false,
    }
}

/// The node's three secrets the operator makes again.
pub fn node_secrets(node: &str) -> [String; 3] {
    [format!("etcd-peer-{node}"), format!("etcd-serving-{node}"), format!("etcd-serving-metrics-{node}")]
}

fn healthy_pod(survey: &Survey, target: &TargetFacts) -> String {
    survey
        .members
        .iter()
        .find(|m| m.id != target.id && m.healthy())
        .map(|m| format!("etcd-{}", m.name))
        .unwrap_or_else(|| "etcd-<a healthy node>".into())
}

/// The steps of `procedure` for the surveyed member.
pub fn plan(procedure: Procedure, options: &Options, survey: &Survey) -> Vec<Step> {
    let Some(target) = &survey.target else { return Vec::new() };
    let voters = survey.voters().count();
    let node = target.node.clone().unwrap_or_else(|| target.name.clone());
    let mut steps = Vec::new();
    if needs_backup(options, survey) && procedure != Procedure::Legacy43 {
        steps.push(step(
            "backup",
            "take a restore-grade backup first",
            Act::TakeBackup,
            "the backup is written and verified",
            vec![format!("etcd-console backup --dir {}", options.backup_dir)],
            3600,
        ));
    }
    let remove = |survey: &Survey| {
        let mut s = step(
            "remove_member",
            &format!("remove member {} from etcd", target.name),
            Act::RemoveMember { id: target.id, name: target.name.clone() },
            "the member list no longer has it",
            vec![
                format!("oc rsh -n openshift-etcd {}", healthy_pod(survey, target)),
                "etcdctl member list -w table".into(),
                format!("etcdctl member remove {:x}", target.id),
            ],
            120,
        );
        s.point_of_no_return = true;
        s
    };
    let guard = |off: bool| {
        step(
            if off { "quorum_guard_off" } else { "quorum_guard_on" },
            if off { "turn the quorum guard off" } else { "turn the quorum guard back on" },
            Act::QuorumGuard { off },
            if off { "etcd/cluster has the override" } else { "etcd/cluster has no unsupportedConfigOverrides" },
            vec![if off { QUORUM_GUARD_OFF.to_string() } else { QUORUM_GUARD_ON.to_string() }],
            120,
        )
    };
    let secrets = step(
        "delete_secrets",
        &format!("delete the old secrets of {node}"),
        Act::DeleteSecrets { node: node.clone() },
        "each is gone or made again by the operator",
        vec![format!("oc delete secret -n openshift-etcd {}", node_secrets(&node).join(" "))],
        120,
    );
    let back = |name: Option<String>| {
        step(
            "member_back",
            "the etcd operator adds the member again (a learner first, then promoted)",
            Act::MemberBack { name, old_id: target.id, voters },
            &format!(
                "{voters} voting members started and healthy, {:x} not among them; etcd AllNodesAtLatestRevision; {voters} etcd pods Running",
                target.id
            ),
            vec![
                "etcdctl member list -w table".into(),
                "etcdctl endpoint health --cluster".into(),
                "oc get etcd -o=jsonpath='{range .items[0].status.conditions[?(@.type==\"NodeInstallerProgressing\")]}{.reason}{\"\\n\"}{.message}{\"\\n\"}'".into(),
                "oc -n openshift-etcd get pods -l k8s-app=etcd".into(),
            ],
            1800,
        )
    };
    match procedure {
        Procedure::Machine => {
            let machine = target.machine.clone().unwrap_or_else(|| "<its Machine>".into());
            steps.push(remove(survey));
            steps.push(guard(true));
            steps.push(secrets);
            steps.push(step(
                "replace_machine",
                &format!("delete Machine {machine}; the machine API makes its replacement"),
                Act::ReplaceMachine { machine: machine.clone(), node: node.clone(), create: target.new_machine.clone() },
                "a new control-plane Machine Running and its node Ready (only its own valid CSRs approved)",
                {
                    let mut shown = Vec::new();
                    let created = target.new_machine.as_ref().and_then(|m| m.pointer("/metadata/name")).and_then(|n| n.as_str());
                    if let Some(name) = created {
                        shown.push(format!("oc get machine -n openshift-machine-api {machine} -o yaml > {name}.yaml   # then: no status, no providerID, name {name}"));
                    }
                    shown.push(format!("oc delete machine -n openshift-machine-api {machine}"));
                    if let Some(name) = created {
                        shown.push(format!("oc apply -f {name}.yaml"));
                    }
                    shown.push("oc get machines -n openshift-machine-api -o wide".into());
                    shown.push("oc get csr".into());
                    shown.push("oc adm certificate approve <each CSR of the new node>".into());
                    shown
                },
                3600,
            ));
            steps.push(guard(false));
            steps.push(step(
                "redeploy_if_short",
                "if the etcd operator does not add the member by itself, force etcd's redeployment",
                Act::RedeployIfShort { old_id: target.id, voters, wait_seconds: REDEPLOY_AFTER.as_secs() },
                &format!(
                    "the member added within {}, else a forced redeployment's revision",
                    humantime::format_duration(REDEPLOY_AFTER)
                ),
                vec![
                    "oc -n openshift-etcd get pods -l k8s-app=etcd".into(),
                    "oc patch etcd cluster -p='{\"spec\": {\"forceRedeploymentReason\": \"single-master-recovery-'\"$( date --rfc-3339=ns )\"'\"}}' --type=merge".into(),
                ],
                REDEPLOY_AFTER.as_secs() + 300,
            ));
            steps.push(back(None));
        }
        Procedure::Crashloop => {
            let aside = format!("{ASIDE_DIR}/etcd-data-{}", survey.surveyed_at);
            steps.push(step(
                "set_aside",
                &format!("stop etcd on {node}: its manifest and data moved aside"),
                Act::SetAside {
                    node: node.clone(),
                    ip: target.node_ip.clone().unwrap_or_default(),
                    data_aside: aside.clone(),
                },
                "no etcd manifest and no data directory left on the node",
                vec![
                    format!("oc debug node/{node}"),
                    "chroot /host".into(),
                    format!("mkdir -p {ASIDE_DIR}"),
                    format!("mv {ETCD_MANIFEST} {ASIDE_DIR}/"),
                    format!("mv {ETCD_DATA} {aside}"),
                ],
                600,
            ));
            steps.push(remove(survey));
            steps.push(guard(true));
            steps.push(secrets);
            steps.push(step(
                "force_redeployment",
                "force etcd's redeployment (single-master-recovery)",
                Act::ForceRedeployment,
                "etcd's latestAvailableRevision goes past the one before",
                vec![
                    "oc patch etcd cluster -p='{\"spec\": {\"forceRedeploymentReason\": \"single-master-recovery-'\"$( date --rfc-3339=ns )\"'\"}}' --type=merge".into(),
                ],
                300,
            ));
            steps.push(guard(false));
            steps.push(back(Some(node.clone())));
        }
        Procedure::Hosted => {
            let namespace = survey.control_plane_namespace.clone().unwrap_or_default();
            let pod = target.pod.as_ref().map(|p| p.name.clone()).unwrap_or_else(|| target.name.clone());
            let claim = target.claim.clone().unwrap_or_else(|| format!("data-{pod}"));
            let mut delete = step(
                "delete_claim_and_pod",
                &format!("delete {pod}'s claim {claim} and the pod (not waiting)"),
                Act::DeleteClaimAndPod {
                    namespace: namespace.clone(),
                    pod: pod.clone(),
                    claim: claim.clone(),
                    old_uid: target.pod.as_ref().map(|p| p.uid.clone()).unwrap_or_default(),
                },
                "the pod is deleted or made again",
                vec![format!("oc delete -n {namespace} pvc/{claim} pod/{pod} --wait=false")],
                120,
            );
            delete.point_of_no_return = true;
            steps.push(delete);
            steps.push(step(
                "member_back",
                "the StatefulSet makes the pod again and its member rejoins",
                Act::HostedMemberBack {
                    namespace: namespace.clone(),
                    pod: pod.clone(),
                    name: target.name.clone(),
                    old_id: target.id,
                    old_uid: target.pod.as_ref().map(|p| p.uid.clone()).unwrap_or_default(),
                    voters,
                },
                &format!("{pod} Running with every container ready; {} back with a new ID; one revision and one key-value hash on every member", target.name),
                vec![
                    format!("oc get pods -n {namespace} -l app=etcd"),
                    format!("oc rsh -n {namespace} -c etcd {pod} etcdctl endpoint status --cluster -w table"),
                    format!("oc rsh -n {namespace} -c etcd {pod} etcdctl endpoint hashkv --cluster"),
                ],
                1800,
            ));
        }
        Procedure::Legacy43 => steps.extend(legacy_43(survey, target)),
    }
    steps
}

/// OpenShift 4.3's scripts (§"Replacing a failed master host", 4.3), every value filled in.
fn legacy_43(survey: &Survey, target: &TargetFacts) -> Vec<Step> {
    let voters = survey.voters().count();
    let node = target.name.strip_prefix("etcd-member-").unwrap_or(&target.name).to_string();
    let (helper, helper_ip) =
        survey.helper_host.clone().unwrap_or_else(|| ("<a healthy master>".into(), "<its IP>".into()));
    let member =
        if target.name.starts_with("etcd-member-") { target.name.clone() } else { format!("etcd-member-{node}") };
    vec![
        step(
            "remove_member",
            &format!("on {helper}: remove {member} with etcd-member-remove.sh"),
            Act::Person {
                instruction: format!("ssh to {helper} ({helper_ip}), an active master, and run:"),
                then: PersonCheck::MemberGone { id: target.id },
            },
            &format!("the member list no longer has {:x}", target.id),
            vec![format!("sudo -E /usr/local/bin/etcd-member-remove.sh {member}")],
            600,
        ),
        step(
            "add_member",
            &format!("on {node}: add the member back (etcd-member-add.sh, or the signer and etcd-member-recover.sh)"),
            Act::Person {
                instruction: format!(
                    "If {node}'s etcd certificates are valid, ssh to {node} and run the first command. If the host is new or its certificates are not valid: on {helper} start the signer (commands 2-5), then on {node} run commands 6-8, then delete the signer (command 9)."
                ),
                then: PersonCheck::MemberBack { name: member.clone(), old_id: target.id, voters },
            },
            &format!("{member} started and healthy, {voters} voting members (it may take up to 20 minutes)"),
            vec![
                format!("sudo -E /usr/local/bin/etcd-member-add.sh {helper_ip} {member}"),
                "sudo oc login https://localhost:6443".into(),
                "export KUBE_ETCD_SIGNER_SERVER=$(sudo oc adm release info --image-for kube-etcd-signer-server --registry-config=/var/lib/kubelet/config.json)".into(),
                format!("sudo -E /usr/local/bin/tokenize-signer.sh {helper}"),
                "sudo oc create -f assets/manifests/kube-etcd-cert-signer.yaml".into(),
                "export SETUP_ETCD_ENVIRONMENT=$(sudo oc adm release info --image-for machine-config-operator --registry-config=/var/lib/kubelet/config.json)".into(),
                "export KUBE_CLIENT_AGENT=$(sudo oc adm release info --image-for kube-client-agent --registry-config=/var/lib/kubelet/config.json)".into(),
                format!("sudo -E /usr/local/bin/etcd-member-recover.sh {helper_ip} {member}"),
                "oc delete pod -n openshift-config etcd-signer".into(),
            ],
            1800,
        ),
    ]
}
