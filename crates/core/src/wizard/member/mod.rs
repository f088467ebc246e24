//! The member-replacement wizard: one unhealthy etcd member replaced while
//! quorum holds, as OpenShift documents it ("Replacing an unhealthy etcd
//! member"). The console's `M` and `etcd-console member plan|replace` drive
//! the same engine ([`engine::MemberRun`]); what it may do is decided here and
//! in [`gates`], whatever the front end:
//!
//! - the member must really be unhealthy (or `--force` says why);
//! - the others must hold quorum without it, all of them healthy (else the
//!   restore is the way, with the dead hosts declared lost);
//! - a restorable backup younger than `--max-backup-age` is there, or one is
//!   taken first;
//! - no static-pod rollout or encryption migration is running;
//! - the user may do every step (SelfSubjectAccessReview).
//!
//! Which procedure applies is read from the cluster: the machine not running
//! or the node not Ready ([`Procedure::Machine`]), etcd crashlooping on a
//! healthy node ([`Procedure::Crashloop`]), a hosted control plane's etcd pod
//! ([`Procedure::Hosted`]), or OpenShift 4.3's scripts, which only a person can
//! run on the hosts ([`Procedure::Legacy43`]).

pub mod engine;
pub mod executor;
pub mod journal;
#[cfg(test)]
mod model;
pub mod steps;
#[cfg(test)]
mod tests;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::wizard::restore::{Gate, StepRecord, StepState};
pub use engine::{Action, MemberRun, Observed, Outcome, StepResult};
pub use steps::{Act, Step};

/// Where OpenShift documents this procedure, for the text a person reads.
pub const DOCUMENTED_AS: &str = "\"Replacing an unhealthy etcd member\", OpenShift 4.14";
/// The default of `--max-backup-age`.
pub const DEFAULT_MAX_BACKUP_AGE: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Procedure {
    /// The member's machine is not running or its node is not Ready: the Machine is replaced.
    Machine,
    /// etcd crashloops on a healthy node: its manifest and data are set aside and it is redeployed.
    Crashloop,
    /// A hosted control plane's etcd pod: its claim and pod are deleted and the StatefulSet makes them again.
    Hosted,
    /// OpenShift 4.3: the hosts' scripts (etcd-member-remove.sh, etcd-member-add.sh or
    /// etcd-member-recover.sh), run by a person; what can be seen is checked after each.
    Legacy43,
}

impl Procedure {
    pub fn as_str(self) -> &'static str {
        match self {
            Procedure::Machine => "machine",
            Procedure::Crashloop => "crashloop",
            Procedure::Hosted => "hosted",
            Procedure::Legacy43 => "openshift-4.3",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Procedure::Machine => "its machine is not running or its node is not Ready: replace the machine",
            Procedure::Crashloop => "its etcd crashloops on a healthy node: set its data aside and redeploy it",
            Procedure::Hosted => "a hosted etcd pod failing: delete its claim and pod, the StatefulSet makes new ones",
            Procedure::Legacy43 => "OpenShift 4.3: the hosts' member scripts, run by you, checked after each",
        }
    }

    /// Where OpenShift documents it, by section title and release.
    pub fn documented_as(self) -> &'static str {
        match self {
            Procedure::Machine | Procedure::Crashloop => DOCUMENTED_AS,
            Procedure::Hosted => {
                "\"Recovering a failing etcd pod\" (Recovering an unhealthy etcd cluster, Hosted control planes), OpenShift 4.14"
            }
            Procedure::Legacy43 => "\"Replacing a failed master host\", OpenShift 4.3",
        }
    }

    /// `--procedure machine|crashloop`, for a member whose state does not say (with `--force`).
    pub fn parse(text: &str) -> Result<Procedure, String> {
        match text {
            "machine" => Ok(Procedure::Machine),
            "crashloop" => Ok(Procedure::Crashloop),
            other => Err(format!("--procedure takes machine or crashloop, not {other:?}")),
        }
    }
}

/// What the person asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Options {
    /// The member, by name or by ID (hex, as etcdctl prints it).
    pub member: String,
    /// `--force REASON`: replace a member that does not look unhealthy (journalled).
    #[serde(default)]
    pub force: Option<String>,
    /// `--procedure`: which procedure, when the member's state does not say.
    #[serde(default)]
    pub procedure: Option<Procedure>,
    /// The oldest backup that counts (`--max-backup-age`, seconds).
    pub max_backup_age_seconds: u64,
    /// `--no-backup REASON`-less flag: go on without a fresh backup (said in the plan and journal).
    #[serde(default)]
    pub no_backup: bool,
    /// Where backups are looked for, and where the one taken first goes.
    pub backup_dir: String,
    pub read_only: bool,
    /// Only the plan and the gates; nothing is done.
    pub plan_only: bool,
    /// `NAMESPACE/NAME` of the HostedCluster (the hosted procedure).
    #[serde(default)]
    pub hosted_cluster: Option<String>,
    /// How host steps reach the node: "api" (a debug pod) or "ssh".
    #[serde(default)]
    pub via: String,
}

/// A member as etcd listed it, and how it answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberFacts {
    pub id: u64,
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
    /// Ok when it answered Status and (a voter) a linearizable read; else why not.
    pub answer: Result<(), String>,
    /// Its raft applied index (a learner's progress).
    #[serde(default)]
    pub applied_index: Option<u64>,
}

impl MemberFacts {
    pub fn started(&self) -> bool {
        !self.name.is_empty()
    }

    pub fn healthy(&self) -> bool {
        self.started() && self.answer.is_ok()
    }

    /// `name (id)` as a person reads it.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            format!("(unstarted) {:x}", self.id)
        } else {
            format!("{} ({:x})", self.name, self.id)
        }
    }
}

/// What the API says of the member's pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PodFacts {
    pub name: String,
    pub uid: String,
    pub phase: String,
    /// The etcd container's waiting reason (CrashLoopBackOff, Error ...).
    pub waiting: Option<String>,
    pub restarts: i64,
    /// The last termination: reason, exit code, when.
    pub last_termination: Option<String>,
    pub ready: bool,
}

impl PodFacts {
    /// Crashlooping or failed, as the runbooks recognise it.
    pub fn failing(&self) -> bool {
        matches!(self.waiting.as_deref(), Some("CrashLoopBackOff" | "Error" | "RunContainerError"))
            || self.phase == "Failed"
    }

    pub fn describe(&self) -> String {
        let mut text = format!("pod {} {}", self.name, if self.phase.is_empty() { "?" } else { &self.phase });
        if let Some(waiting) = &self.waiting {
            text.push_str(&format!(" ({waiting})"));
        }
        text.push_str(&format!(", {} restart(s)", self.restarts));
        if let Some(last) = &self.last_termination {
            text.push_str(&format!(", last ended {last}"));
        }
        text
    }
}

/// The member to replace and what the API says of its node, machine and pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TargetFacts {
    pub id: u64,
    pub name: String,
    /// Its node (standalone): the member's name.
    pub node: Option<String>,
    pub node_ip: Option<String>,
    /// The node's Ready condition: status and reason ("True", "Unknown NodeStatusUnknown").
    pub node_ready: Option<String>,
    pub machine: Option<String>,
    pub machine_phase: Option<String>,
    /// The machine's `status.providerStatus.instanceState` (running, stopped ...).
    pub instance_state: Option<String>,
    pub pod: Option<PodFacts>,
    /// Its claim (hosted): `data-<pod>`.
    pub claim: Option<String>,
    /// Without an Active ControlPlaneMachineSet to replace a deleted master Machine: the Machine to
    /// create in its place, made from its spec as the procedure does (None: the set replaces it).
    #[serde(default)]
    pub new_machine: Option<serde_json::Value>,
}

impl TargetFacts {
    pub fn node_is_ready(&self) -> bool {
        self.node_ready.as_deref().is_some_and(|r| r == "True" || r.starts_with("True "))
    }

    /// The machine is not running: its phase is not Running, or the cloud says the instance is not.
    pub fn machine_down(&self) -> bool {
        let phase_down = self.machine_phase.as_deref().is_some_and(|p| p != "Running");
        let instance_down = self.instance_state.as_deref().is_some_and(|s| !s.eq_ignore_ascii_case("running"));
        phase_down || instance_down
    }
}

/// A backup found in the backup directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BackupFound {
    pub dir: String,
    pub timestamp: Option<String>,
    /// How old it is (seconds), from its name's time stamp or its file's.
    pub age_seconds: Option<u64>,
    /// Snapshot and static resources (standalone), or a snapshot (hosted), read end to end.
    pub restorable: bool,
    /// What is wrong with it, or what it is.
    pub detail: String,
}

/// Everything the executor read before the plan is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Survey {
    pub api_url: String,
    /// What the person types (with the member's name) to confirm: the infrastructure name, else
    /// etcd's cluster ID.
    pub cluster_name: String,
    /// etcd's cluster ID (hex).
    pub cluster_id: String,
    pub version: Option<String>,
    pub members: Vec<MemberFacts>,
    pub leader: Option<u64>,
    /// The member asked for, when etcd lists it.
    pub target: Option<TargetFacts>,
    pub backup: BackupFound,
    /// Static-pod rollouts and encryption migrations under way.
    pub busy: Vec<String>,
    /// What each step needs, and whether this user may (Err: why not, or why it could not be asked).
    pub access: Vec<(String, Result<(), String>)>,
    pub quorum_guard_off: bool,
    /// The control-plane namespace of a hosted cluster.
    #[serde(default)]
    pub control_plane_namespace: Option<String>,
    /// Another healthy control-plane host (name, IP): where 4.3's scripts and the signer run.
    #[serde(default)]
    pub helper_host: Option<(String, String)>,
    /// When it was surveyed (`YYYY-MM-DD_HHMMSS`, UTC): names what is set aside.
    #[serde(default)]
    pub surveyed_at: String,
    /// What could not be read at all: no plan can be made.
    pub unreadable: Option<String>,
}

impl Survey {
    pub fn voters(&self) -> impl Iterator<Item = &MemberFacts> {
        self.members.iter().filter(|m| !m.is_learner)
    }

    pub fn quorum(&self) -> usize {
        self.voters().count() / 2 + 1
    }

    /// Which procedure the member's state calls for.
    pub fn procedure(&self, options: &Options) -> Procedure {
        if options.hosted_cluster.is_some() {
            return Procedure::Hosted;
        }
        if self.version.as_deref().is_some_and(|v| v == "4.3" || v.starts_with("4.3.")) {
            return Procedure::Legacy43;
        }
        if let Some(chosen) = options.procedure {
            return chosen;
        }
        match &self.target {
            Some(t) if t.machine_down() || (t.node_ready.is_some() && !t.node_is_ready()) => Procedure::Machine,
            _ => Procedure::Crashloop,
        }
    }
}

/// Why the member counts as unhealthy, or None when it looks healthy.
pub fn unhealthy_because(survey: &Survey) -> Option<String> {
    let target = survey.target.as_ref()?;
    let member = survey.members.iter().find(|m| m.id == target.id)?;
    let mut why = Vec::new();
    if !member.started() {
        why.push("etcd lists it unstarted".to_string());
    } else if let Err(e) = &member.answer {
        why.push(format!("it does not answer ({e})"));
    }
    if target.machine_down() {
        why.push(format!(
            "its machine {} is {}",
            target.machine.as_deref().unwrap_or("?"),
            target.instance_state.clone().or_else(|| target.machine_phase.clone()).unwrap_or_default()
        ));
    }
    if target.node_ready.is_some() && !target.node_is_ready() {
        why.push(format!("its node is not Ready ({})", target.node_ready.as_deref().unwrap_or_default()));
    }
    if let Some(pod) = target.pod.as_ref().filter(|p| p.failing()) {
        why.push(pod.describe());
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// The gates, judged on what was surveyed.
pub fn gates(procedure: Procedure, options: &Options, survey: &Survey) -> Vec<Gate> {
    let gate = |id: &str, title: &str, result: Result<String, String>| {
        let passed = result.is_ok();
        Gate { id: id.into(), title: title.into(), passed, detail: result.unwrap_or_else(|e| e) }
    };
    let mut list = Vec::new();
    let Some(target) = &survey.target else {
        let names: Vec<String> = survey.members.iter().map(MemberFacts::label).collect();
        list.push(gate(
            "member",
            "the member is in etcd's member list",
            Err(format!("etcd lists no member {} (the members: {})", options.member, names.join(", "))),
        ));
        return list;
    };
    list.push(gate(
        "member_unhealthy",
        "the member is really unhealthy (or --force says why)",
        match (unhealthy_because(survey), &options.force) {
            (Some(why), _) => Ok(format!("{}: {why}", target.name)),
            (None, Some(reason)) => Ok(format!("{} looks healthy; replaced anyway: --force {reason:?}", target.name)),
            (None, None) => Err(format!(
                "{} answers, its node is Ready and its pod is not failing: nothing to replace (give --force REASON to replace it all the same)",
                target.name
            )),
        },
    ));
    list.push(gate("quorum_holds", "the others hold quorum without it, all healthy", quorum_gate(survey, target)));
    list.push(gate(
        "backup",
        "a restorable backup younger than --max-backup-age, or one taken first",
        backup_gate(procedure, options, survey),
    ));
    list.push(gate(
        "no_rollout",
        "no static-pod rollout or encryption migration running",
        if survey.busy.is_empty() {
            Ok("none running".into())
        } else {
            Err(format!("{}: wait until it has finished", survey.busy.join("; ")))
        },
    ));
    if procedure != Procedure::Legacy43 {
        let refused: Vec<String> = survey
            .access
            .iter()
            .filter_map(|(what, allowed)| allowed.as_ref().err().map(|e| format!("{what}: {e}")))
            .collect();
        list.push(gate(
            "access",
            "this user may do every step (SelfSubjectAccessReview)",
            if survey.access.is_empty() {
                Err("what this user may do was not asked".into())
            } else if refused.is_empty() {
                Ok(survey.access.iter().map(|(what, _)| what.as_str()).collect::<Vec<_>>().join(", "))
            } else {
                Err(refused.join("; "))
            },
        ));
    }
    if procedure == Procedure::Machine {
        list.push(gate(
            "machine",
            "the node's Machine, for the machine API to replace",
            match (&target.machine, &target.node) {
                (Some(machine), _) => Ok(format!(
                    "{machine} ({}) of node {}; {}",
                    target.machine_phase.as_deref().unwrap_or("phase ?"),
                    target.node.as_deref().unwrap_or("?"),
                    match target.new_machine.as_ref().and_then(|m| m.pointer("/metadata/name")).and_then(|n| n.as_str()) {
                        Some(name) => format!("no Active ControlPlaneMachineSet: {name} is created from its spec"),
                        None => "the ControlPlaneMachineSet replaces it".into(),
                    }
                )),
                (None, node) => Err(format!(
                    "no Machine has status.nodeRef {}: without the machine API, make the host again as it was installed, then run with --procedure crashloop",
                    node.as_deref().unwrap_or("?")
                )),
            },
        ));
    }
    if procedure == Procedure::Crashloop {
        list.push(gate(
            "node_ready",
            "its node is Ready (its etcd manifest and data are set aside on it)",
            if target.node_is_ready() {
                Ok(format!("{} Ready", target.node.as_deref().unwrap_or("?")))
            } else {
                Err(format!(
                    "{} is not Ready ({}): the host cannot be reached to set its data aside; use --procedure machine",
                    target.node.as_deref().unwrap_or("?"),
                    target.node_ready.as_deref().unwrap_or("no Ready condition")
                ))
            },
        ));
        list.push(gate(
            "quorum_guard",
            "the quorum guard is on (no other procedure half done)",
            if survey.quorum_guard_off {
                Err("etcd/cluster has unsupportedConfigOverrides: an earlier procedure did not finish; resume it or turn the guard back on".into())
            } else {
                Ok("etcd/cluster has no unsupportedConfigOverrides".into())
            },
        ));
    }
    list
}

fn quorum_gate(survey: &Survey, target: &TargetFacts) -> Result<String, String> {
    let voters: Vec<&MemberFacts> = survey.voters().collect();
    let others: Vec<&MemberFacts> = voters.iter().copied().filter(|m| m.id != target.id).collect();
    let healthy = others.iter().filter(|m| m.healthy()).count();
    let quorum = survey.quorum();
    let sick: Vec<String> = survey
        .members
        .iter()
        .filter(|m| m.id != target.id && !m.healthy())
        .map(|m| {
            let why = m.answer.clone().err().unwrap_or_else(|| "unstarted".into());
            format!("{} ({why})", m.label())
        })
        .collect();
    let healthy_now = voters.iter().filter(|m| m.healthy()).count();
    if healthy_now < quorum {
        let lost: Vec<String> = voters
            .iter()
            .filter(|m| !m.healthy())
            .map(|m| if m.name.is_empty() { format!("{:x}", m.id) } else { m.name.clone() })
            .collect();
        let flags: Vec<String> = lost.iter().map(|n| format!("--lost-host {n}")).collect();
        return Err(format!(
            "only {healthy_now} of {} voting members are healthy and quorum is {quorum}: quorum is gone, so no member can be replaced; this is a restore: `etcd-console restore plan --backup DIR --recovery-host HOST {}` (\"Restoring to a previous cluster state\", OpenShift 4.14)",
            voters.len(),
            flags.join(" ")
        ));
    }
    if healthy < quorum {
        return Err(format!(
            "without {} only {healthy} healthy voting members are left and quorum is {quorum}: removing it would lose quorum; replace the unhealthy ones first",
            target.name
        ));
    }
    if !sick.is_empty() {
        return Err(format!(
            "another member is unhealthy too: {}. Replacing one while another fails can lose quorum; if they are lost for good, restore instead: `etcd-console restore plan --backup DIR --recovery-host HOST --lost-host NODE` (\"Restoring to a previous cluster state\", OpenShift 4.14)",
            sick.join(", ")
        ));
    }
    Ok(format!("{healthy} healthy of {} voting members without {}; quorum is {quorum}", voters.len(), target.name))
}

fn backup_gate(procedure: Procedure, options: &Options, survey: &Survey) -> Result<String, String> {
    let backup = &survey.backup;
    let limit = humantime::format_duration(Duration::from_secs(options.max_backup_age_seconds)).to_string();
    let fresh = backup.restorable && backup.age_seconds.is_some_and(|age| age <= options.max_backup_age_seconds);
    if fresh {
        let age = humantime::format_duration(Duration::from_secs(backup.age_seconds.unwrap_or(0))).to_string();
        return Ok(format!(
            "{} in {}, {age} old (at most {limit}): {}",
            backup.timestamp.as_deref().unwrap_or("?"),
            backup.dir,
            backup.detail
        ));
    }
    let found = if backup.timestamp.is_some() {
        format!(
            "the newest, {} in {}, {}",
            backup.timestamp.as_deref().unwrap_or("?"),
            backup.dir,
            if backup.restorable {
                format!(
                    "is {} old (more than {limit})",
                    humantime::format_duration(Duration::from_secs(backup.age_seconds.unwrap_or(0)))
                )
            } else {
                format!("is not restorable: {}", backup.detail)
            }
        )
    } else {
        format!("no backup in {}: {}", backup.dir, backup.detail)
    };
    if options.no_backup {
        return Ok(format!("{found}; going on without one (--no-backup)"));
    }
    if procedure == Procedure::Legacy43 {
        return Err(format!(
            "{found}: take one first (etcd-snapshot-backup.sh on a healthy master), or give --no-backup"
        ));
    }
    if options.read_only {
        return Err(format!("{found}; --read-only takes none"));
    }
    Ok(format!("{found}: one is taken first (step backup)"))
}

/// Whether a backup is to be taken before the first change.
pub fn needs_backup(options: &Options, survey: &Survey) -> bool {
    let backup = &survey.backup;
    let fresh = backup.restorable && backup.age_seconds.is_some_and(|age| age <= options.max_backup_age_seconds);
    !fresh && !options.no_backup
}

/// `single-master-recovery-<date --rfc-3339=ns>`, as the procedure makes it: unique, so the
/// operator sees a change.
pub fn redeployment_reason(at: std::time::SystemTime) -> String {
    crate::wizard::restore::redeployment_reason(at).replacen("recovery-", "single-master-recovery-", 1)
}

/// The Machine to create in place of `old` when no control plane machine set replaces it, as
/// the procedure makes it: the same labels and spec, no status, no provider ID, no annotations,
/// and the next name (`<prefix>-master-3` after master-0..2 and the old one).
pub fn new_machine_from(old: &serde_json::Value, existing: &[String]) -> Option<serde_json::Value> {
    let name = old.pointer("/metadata/name")?.as_str()?;
    let (prefix, number) = name.rsplit_once('-')?;
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let numbered = |n: &str| n.strip_prefix(prefix)?.strip_prefix('-')?.parse::<u64>().ok();
    let next = existing.iter().filter_map(|n| numbered(n)).chain(numbered(name)).max().unwrap_or(0) + 1;
    let mut spec = old.get("spec").cloned().unwrap_or_else(|| serde_json::json!({}));
    if let Some(spec) = spec.as_object_mut() {
        spec.remove("providerID");
    }
    let mut metadata = serde_json::json!({
        "name": format!("{prefix}-{next}"),
        "namespace": old.pointer("/metadata/namespace").cloned().unwrap_or_else(|| "openshift-machine-api".into()),
        "annotations": {"etcd-console.io/replaces": name},
    });
    if let Some(labels) = old.pointer("/metadata/labels") {
        metadata["labels"] = labels.clone();
    }
    Some(serde_json::json!({
        "apiVersion": "machine.openshift.io/v1beta1",
        "kind": "Machine",
        "metadata": metadata,
        "spec": spec,
    }))
}

/// `CLUSTER/MEMBER`: what the person types to confirm.
pub fn confirmation_text(cluster: &str, member: &str) -> String {
    format!("{cluster}/{member}")
}
