//! The restore wizards' engine: a plain state machine that the console and
//! `etcd-console restore plan|run` both drive. It takes what the executor
//! surveyed (the backup, the cluster, its hosts), decides the steps and the
//! gates, asks for the cluster's name, then hands out one step at a time and
//! records what each gave. Every safety rule lives here: the gates before the
//! point of no return, never the recovery host's Machine, unique redeployment
//! reasons, the quorum guard's state, and a resumed run re-checking the step it
//! was in before acting again.

mod act;
mod check;
pub mod executor;
pub mod journal;
pub mod pods;
pub mod steps;
pub(crate) mod survey;

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

pub use steps::{Act, Check, HostedLayout, Layout, Operator, Place, Step, RESTORE_SCRIPT};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Procedure {
    /// Standalone OpenShift 4.x (§3.9).
    Standalone,
    /// A hosted control plane's etcd on premises (§5.3).
    Hosted,
}

/// What the person asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Options {
    pub recovery_host: Option<String>,
    /// Control-plane hosts the person declares lost (unreachable; their Machine is made again).
    pub lost: Vec<String>,
    /// Show host commands to copy and wait for the person, instead of running them over ssh.
    pub manual_hosts: bool,
    pub read_only: bool,
    /// Only the plan and the gates; nothing is done.
    pub plan_only: bool,
    pub remote_backup_dir: String,
    /// `NAMESPACE/NAME` of the HostedCluster (the hosted procedure).
    pub hosted_cluster: Option<String>,
    /// Steps the person declares done (`--mark-done ID`) after finishing them by hand.
    #[serde(default)]
    pub mark_done: Vec<String>,
    /// `--timestamp TS`: the backup of the directory to take (else the newest complete, clean one).
    #[serde(default)]
    pub backup_timestamp: Option<String>,
    /// `--force-lost REASON`: hosts declared lost are taken as lost even though their node is Ready or a
    /// shell answers on them (their steps are skipped, their Machine deleted); the reason is journalled.
    #[serde(default)]
    pub force_lost: Option<String>,
    /// `--nodes-ready-wait`: how long step 9 waits for every node to be Ready before step 9a clears the
    /// kubelet's PEM files on those still NotReady (default: 10 minutes).
    #[serde(default)]
    pub nodes_ready_wait_seconds: Option<u64>,
}

pub use crate::backup::directory::BackupFacts;

/// A control-plane host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HostFacts {
    pub name: String,
    pub ip: String,
    pub ready: bool,
    pub machine: Option<String>,
    /// `Ok` when a shell answered on it (`true` over ssh), else why not.
    pub reachable: Option<Result<(), String>>,
    /// What the recovery host answered to the checks made before the point of no return (it alone).
    #[serde(default)]
    pub recovery: Option<RecoveryFacts>,
}

/// The recovery host's answers: what the restore script needs of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryFacts {
    /// `sudo -n true` exited 0, else what it said.
    pub sudo: Result<(), String>,
    /// `test -x /usr/local/bin/cluster-restore.sh` exited 0, else what it said.
    pub restore_script: Result<(), String>,
    /// What `hostname` printed, or why it could not be read.
    pub hostname: Result<String, String>,
}

/// Whether a host's `hostname` names this node: the same name, or one is the other's short form
/// (`master-0` and `master-0.lab.example.com`), whatever the case.
pub fn same_host_name(hostname: &str, node: &str) -> bool {
    let (a, b) = (hostname.trim().to_lowercase(), node.trim().to_lowercase());
    let short = |n: &str| n.split('.').next().unwrap_or_default().to_string();
    !a.is_empty() && (a == b || (a == short(&b) && !a.contains('.')) || (b == short(&a) && !b.contains('.')))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HostedFacts {
    pub namespace: String,
    pub name: String,
    pub control_plane_namespace: String,
    pub etcd_replicas: i32,
    /// The etcd StatefulSet's `spec.persistentVolumeClaimRetentionPolicy.whenScaled`.
    pub when_scaled: Option<String>,
    /// The etcd StatefulSet's image (the data pod runs it).
    #[serde(default)]
    pub etcd_image: String,
    /// The members' `--initial-cluster-token` as the StatefulSet gives it, if it does.
    #[serde(default)]
    pub token: Option<String>,
    /// Each replica's member (name, peer URL) as etcd listed them, replica 0 first; empty
    /// when etcd did not answer or a pod could not be matched to its member.
    #[serde(default)]
    pub members: Vec<(String, String)>,
    /// The HostedCluster's `spec.pausedUntil` is already set (someone else's work, or a restore not finished).
    #[serde(default)]
    pub paused: bool,
    /// The etcd-writers' replicas before the restore (each is brought back to its own count).
    #[serde(default)]
    pub writers: Vec<(String, i32)>,
    /// When it was surveyed (`YYYY-MM-DD_HHMMSS`): names where each member's data is set aside.
    #[serde(default)]
    pub surveyed_at: String,
}

impl HostedFacts {
    /// The plan's layout: the members as etcd listed them, or else the runbook's
    /// (`etcd-N` at `https://etcd-N.etcd-discovery.<namespace>.svc:2380`).
    pub fn layout(&self) -> HostedLayout {
        let ns = &self.control_plane_namespace;
        let members: Vec<(String, String)> = if self.members.is_empty() {
            (0..self.etcd_replicas.max(1))
                .map(|i| (format!("etcd-{i}"), format!("https://etcd-{i}.etcd-discovery.{ns}.svc:2380")))
                .collect()
        } else {
            self.members.clone()
        };
        HostedLayout {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            control_plane_namespace: ns.clone(),
            etcd_image: self.etcd_image.clone(),
            token: self.token.clone().unwrap_or_else(|| "etcd-cluster".into()),
            members,
            writers: self.writers.clone(),
            planned_at: self.surveyed_at.clone(),
        }
    }
}

/// Everything the executor read before the plan is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Survey {
    pub api_url: String,
    /// What the person types to confirm (the infrastructure name, else the cluster ID).
    pub cluster_name: String,
    pub cluster_id: Option<String>,
    pub version: Option<String>,
    pub backup: BackupFacts,
    pub control_plane: Vec<HostFacts>,
    pub workers: Vec<String>,
    /// The workers as hosts: their InternalIP, Ready, and whether a shell answered (steps 9a and 10w may
    /// need one after the point of no return).
    #[serde(default)]
    pub worker_hosts: Vec<HostFacts>,
    pub ovn: bool,
    pub fail_webhooks: Vec<String>,
    /// Of `fail_webhooks`, those an earlier run set to Ignore and did not set back (found by its annotation).
    #[serde(default)]
    pub ignored_webhooks: Vec<String>,
    /// `Ok` when the kubeconfig's user authenticates with a client certificate.
    pub certificate_kubeconfig: Option<Result<(), String>>,
    pub quorum_guard_off: bool,
    /// The API VIPs keepalived holds (on-premises platforms: Infrastructure's `apiServerInternalIPs`).
    #[serde(default)]
    pub api_vips: Vec<String>,
    /// A cluster-wide proxy is in force (Proxy `cluster`'s status): the restore script needs its variables.
    #[serde(default)]
    pub proxy: bool,
    pub hosted: Option<HostedFacts>,
    /// What could not be read at all (the API down, no OpenShift): the plan cannot be made.
    pub unreadable: Option<String>,
}

/// One of §7.3's hard gates, as judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gate {
    pub id: String,
    pub title: String,
    pub passed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Pending,
    /// Begun and not known to have ended (a resumed run re-checks it first).
    Running,
    Done,
    Skipped,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub state: StepState,
    /// What the step gave (output, what the check saw), or why it was skipped or failed.
    pub detail: String,
    /// The forceRedeploymentReason this step set, once chosen.
    pub reason: Option<String>,
    /// The operator's latestAvailableRevision before that patch: its rollout must go past it.
    #[serde(default)]
    pub revision_before: Option<i64>,
}

impl StepRecord {
    /// A step in this state, with what it gave or why.
    pub fn new(state: StepState, detail: impl Into<String>) -> StepRecord {
        StepRecord { state, detail: detail.into(), reason: None, revision_before: None }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// `restore plan`: the steps and the gates, nothing done.
    Planned {
        gates_passed: bool,
    },
    Refused {
        reasons: Vec<String>,
    },
    NotAllowed {
        reason: String,
    },
    Cancelled,
    Stopped {
        step: String,
        reason: String,
        quorum_guard_off: bool,
    },
    Completed,
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Planned { gates_passed: true } | Outcome::Completed => 0,
            _ => 1,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Outcome::Planned { gates_passed: true } => "every gate passes: `restore run` may go ahead".into(),
            Outcome::Planned { gates_passed: false } => "a gate does not pass: `restore run` would refuse".into(),
            Outcome::Refused { reasons } => format!("refused, nothing changed: {}", reasons.join("; ")),
            Outcome::NotAllowed { reason } => format!("not applied: {reason}"),
            Outcome::Cancelled => "cancelled: nothing changed".into(),
            Outcome::Stopped { step, reason, quorum_guard_off } => {
                let mut text =
                    format!("stopped at step {step}: {reason}; run the same `restore run` again to resume there");
                if *quorum_guard_off {
                    text.push_str(&format!("; the QUORUM GUARD IS OFF until step 19 runs (or: {QUORUM_GUARD_ON})"));
                }
                text
            }
            Outcome::Completed => "restored: every step done and checked".into(),
        }
    }
}

/// The runbook's command that turns the quorum guard back on (step 19).
pub const QUORUM_GUARD_ON: &str =
    "oc patch etcd/cluster --type=merge -p '{\"spec\": {\"unsupportedConfigOverrides\": null}}'";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Survey,
    Confirm,
    Steps,
    Finished,
}

/// What the executor is asked to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Read the backup, the cluster and its hosts.
    Survey,
    /// The person types the cluster's name.
    Confirm(Confirmation),
    /// Do the step's act, then poll its check; `reason` for a forced redeployment.
    Perform {
        index: usize,
        step: Step,
        reason: Option<String>,
        nodes: Vec<String>,
    },
    /// A resumed run: is this step, begun before, already done? Nothing is changed.
    Recheck {
        index: usize,
        step: Step,
    },
    /// Show the step's commands (or instruction) and wait for the person; then check what can be seen.
    AskPerson {
        index: usize,
        step: Step,
    },
    Finished(Outcome),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub cluster_name: String,
    pub api_url: String,
    pub recovery_host: String,
    pub backup: String,
    pub point_of_no_return: String,
}

/// What a step gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepResult {
    /// A forced redeployment patched, with the revision the operator was at before.
    Forced {
        detail: String,
        revision_before: Option<i64>,
    },
    /// The person stopped the run while the step's check was being polled (its act was done).
    Interrupted {
        detail: String,
    },
    Done {
        detail: String,
    },
    /// The check found nodes NotReady at its limit (step 9): the run goes on, step 9a fixes them.
    DoneWithNotReady {
        detail: String,
        not_ready: Vec<String>,
    },
    Failed {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    Surveyed(Box<Survey>),
    /// The text the person typed to confirm.
    Typed(String),
    Performed {
        index: usize,
        result: StepResult,
    },
    Rechecked {
        index: usize,
        done: bool,
        detail: String,
    },
    /// The person confirmed a manual step (`done`) or stopped.
    PersonAnswered {
        index: usize,
        done: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreRun {
    pub procedure: Procedure,
    pub options: Options,
    pub backup_dir: String,
    pub stage: Stage,
    pub survey: Option<Survey>,
    pub gates: Vec<Gate>,
    pub steps: Vec<Step>,
    pub records: Vec<StepRecord>,
    /// Nodes step 9 found NotReady.
    pub not_ready: Vec<String>,
    pub quorum_guard_off: bool,
    pub outcome: Option<Outcome>,
    /// `restore abort`: the steps are those that bring a stopped hosted run's cluster back as it was.
    #[serde(default)]
    pub aborting: bool,
    /// A run stopped before the point of no return sets the webhooks step 0 set to Ignore back to
    /// Fail: what came of it (Ok: the webhooks; Err: why not).
    #[serde(default)]
    pub webhooks_set_back: Option<Result<String, String>>,
}

/// `recovery-<date --rfc-3339=ns>`, as the runbook makes it.
pub fn redeployment_reason(at: SystemTime) -> String {
    let nanos = at.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let seconds = humantime::format_rfc3339_seconds(at).to_string();
    // 2026-12-02T01:02:03Z -> 2026-12-02 01:02:03.123456789+00:00
    let plain = seconds.trim_end_matches('Z').replacen('T', " ", 1);
    format!("recovery-{plain}.{nanos:09}+00:00")
}

/// §7.3's gates, judged on what was surveyed.
pub fn gates(procedure: Procedure, options: &Options, survey: &Survey) -> Vec<Gate> {
    let gate = |id: &str, title: &str, result: Result<String, String>| {
        let passed = result.is_ok();
        Gate { id: id.into(), title: title.into(), passed, detail: result.unwrap_or_else(|e| e) }
    };
    let backup = &survey.backup;
    let mut list = Vec::new();
    list.push(gate(
        "backup_files",
        if procedure == Procedure::Hosted {
            "one snapshot in the backup directory (a hosted cluster needs no static resources)"
        } else {
            "snapshot and static resources from the same backup"
        },
        match (&backup.files_problem, &backup.snapshot, &backup.timestamp) {
            (Some(problem), _, _) => Err(problem.clone()),
            (None, _, _) if procedure == Procedure::Standalone && backup.static_problem.is_some() => {
                Err(backup.static_problem.clone().unwrap_or_default())
            }
            (None, _, _) if backup.integrity_problem.is_some() => Err(format!(
                "the backup's files are not what was written: {}",
                backup.integrity_problem.clone().unwrap_or_default()
            )),
            (None, _, _) if backup.dirty_problem.is_some() => Err(backup.dirty_problem.clone().unwrap_or_default()),
            (None, Some(snapshot), Some(ts)) => Ok(backup_chosen(backup, snapshot, ts, procedure)),
            _ => Err(format!("no snapshot_<ts>.db in {}", backup.dir)),
        },
    ));
    list.push(gate(
        "snapshot_verified",
        "the snapshot reads end to end",
        match backup.verified {
            Some(true) => Ok(backup.verification.clone()),
            Some(false) => Err(format!("the snapshot is not sound: {}", backup.verification)),
            None => Err("the snapshot was not read".into()),
        },
    ));
    let source = backup.identity_source.clone().unwrap_or_else(|| "the backup".into());
    list.push(gate(
        "same_cluster",
        "the backup is of this cluster",
        match (&backup.cluster_id, &survey.cluster_id) {
            (Some(theirs), Some(ours)) if theirs == ours => Ok(format!("cluster ID {ours} (read from {source})")),
            (Some(theirs), Some(ours)) => {
                Err(format!("the backup is of cluster {theirs} (read from {source}), this cluster is {ours}"))
            }
            (None, _) => Err(format!("{source} does not say which cluster it is of: cannot check")),
            (_, None) => Err("this cluster's ID (ClusterVersion spec.clusterID) could not be read".into()),
        },
    ));
    list.push(gate(
        "same_z_stream",
        "the backup was taken on this cluster's z-stream",
        match (&backup.version, &survey.version) {
            (Some(theirs), Some(ours)) if theirs == ours => Ok(format!("both {ours}")),
            (Some(theirs), Some(ours)) => Err(format!(
                "the backup was taken on {theirs}, the cluster runs {ours}: a restore needs a backup of the same z-stream"
            )),
            (None, _) => Err(format!("{source} does not say which version it was taken on: cannot check")),
            (_, None) => Err("this cluster's version (ClusterVersion) could not be read".into()),
        },
    ));
    match procedure {
        Procedure::Standalone => {
            list.push(gate(
                "recovery_host",
                "a healthy control-plane host chosen to restore on",
                recovery_gate(options, survey),
            ));
            list.push(gate("hosts_reachable", "a shell on every control-plane host", reach_gate(options, survey)));
            list.push(gate(
                "workers_reachable",
                "a shell on every worker (steps 9a and 10w may need one after the point of no return)",
                workers_gate(options, survey),
            ));
            list.push(gate(
                "webhooks",
                "webhooks with failurePolicy Fail listed and handled",
                Ok(if survey.fail_webhooks.is_empty() {
                    "none with failurePolicy Fail".to_string()
                } else {
                    let mut said = format!(
                        "{}: set to Ignore before the point of no return, back to Fail at the end",
                        survey.fail_webhooks.join(", ")
                    );
                    if !survey.ignored_webhooks.is_empty() {
                        said.push_str(&format!(
                            " ({} left at Ignore by an earlier run that stopped: set back to Fail too)",
                            survey.ignored_webhooks.join(", ")
                        ));
                    }
                    said
                }),
            ));
            list.push(gate(
                "certificate_kubeconfig",
                "a certificate-based cluster-admin kubeconfig (OAuth logins stop working)",
                match &survey.certificate_kubeconfig {
                    Some(Ok(())) => Ok("the kubeconfig's user has a client certificate".into()),
                    Some(Err(e)) => Err(e.clone()),
                    None => Err("the kubeconfig was not read".into()),
                },
            ));
            list.push(gate(
                "quorum_guard",
                "the quorum guard is on (no restore already half done)",
                if survey.quorum_guard_off {
                    Err("etcd/cluster has unsupportedConfigOverrides: an earlier restore did not finish; resume it or turn the guard back on".into())
                } else {
                    Ok("etcd/cluster has no unsupportedConfigOverrides".into())
                },
            ));
        }
        Procedure::Hosted => {
            list.push(gate(
                "hosted_cluster",
                "the HostedCluster and its etcd StatefulSet",
                match &survey.hosted {
                    Some(h) => Ok(format!(
                        "{}/{}: {} etcd replicas in {}",
                        h.namespace, h.name, h.etcd_replicas, h.control_plane_namespace
                    )),
                    None => {
                        Err(format!("no HostedCluster {} found", options.hosted_cluster.clone().unwrap_or_default()))
                    }
                },
            ));
            list.push(gate(
                "retention_policy",
                "scaling etcd down keeps its volumes (whenScaled is not Delete)",
                match survey.hosted.as_ref().and_then(|h| h.when_scaled.as_deref()) {
                    Some("Delete") => Err("the etcd StatefulSet's persistentVolumeClaimRetentionPolicy.whenScaled is Delete: scaling to 0 would delete member 0's data; set it to Retain first".into()),
                    Some(policy) => Ok(format!("whenScaled: {policy}")),
                    None => Ok("whenScaled not set (Retain)".into()),
                },
            ));
            list.push(gate(
                "reconciliation",
                "the HostedCluster is not paused already (no restore or other work half done)",
                match &survey.hosted {
                    Some(h) if h.paused => Err(format!(
                        "{}/{} has spec.pausedUntil set: an earlier restore did not finish, or someone is at work on it; resume that, or clear pausedUntil first",
                        h.namespace, h.name
                    )),
                    _ => Ok("spec.pausedUntil not set".into()),
                },
            ));
            list.push(gate(
                "etcd_members",
                "each member's name and peer URL, and the image, for etcdutl snapshot restore",
                match &survey.hosted {
                    Some(h) if h.etcd_replicas < 1 => Err(format!(
                        "statefulset/etcd in {} is at {} replicas: how many members the cluster has cannot be told (a restore half done?); scale it back first",
                        h.control_plane_namespace, h.etcd_replicas
                    )),
                    Some(h) if h.etcd_image.is_empty() => {
                        Err("the etcd StatefulSet names no container image for the data pod".into())
                    }
                    Some(h) => {
                        let layout = h.layout();
                        let from = if h.members.is_empty() {
                            "etcd did not answer, or a pod was not matched to its member: the names and discovery URLs of OpenShift's hosted restore procedure are used"
                        } else {
                            "as etcd lists them, by pod"
                        };
                        Ok(format!("{} ({from}); token {}", layout.initial_cluster(), layout.token))
                    }
                    None => Err("no HostedCluster".into()),
                },
            ));
        }
    }
    list
}

/// The backup_files gate's word on the backup taken: its files, why it, which newer ones were passed over,
/// and that its static resources are a secret.
fn backup_chosen(backup: &BackupFacts, snapshot: &str, ts: &str, procedure: Procedure) -> String {
    let mut text = match &backup.static_resources {
        Some(resources) => format!("{snapshot} and {resources} (both {ts})"),
        None => format!("{snapshot} ({ts})"),
    };
    if let Some(because) = &backup.chosen_because {
        text.push_str(&format!(": {because}"));
    }
    for passed in &backup.passed_over {
        text.push_str(&format!("; passed over {}: {}", passed.timestamp, passed.why));
    }
    // Only the standalone procedure copies the archive (a hosted restore takes the snapshot alone).
    if backup.static_resources.is_some() && procedure == Procedure::Standalone {
        text.push_str(&format!("; {STATIC_RESOURCES_SECRET}"));
    }
    for note in &backup.notes {
        text.push_str(&format!("; {note}"));
    }
    text
}

/// What the person must know of the static resources archive.
pub const STATIC_RESOURCES_SECRET: &str = "the static resources archive holds the encryption configuration: it is as secret as the encryption keys (only the chosen backup's files are copied, 0600)";

fn recovery_gate(options: &Options, survey: &Survey) -> Result<String, String> {
    let Some(name) = &options.recovery_host else {
        let ready: Vec<&str> = survey.control_plane.iter().filter(|h| h.ready).map(|h| h.name.as_str()).collect();
        return Err(format!("choose one with --recovery-host (Ready control-plane hosts: {})", ready.join(", ")));
    };
    let Some(host) = survey.control_plane.iter().find(|h| &h.name == name) else {
        let all: Vec<&str> = survey.control_plane.iter().map(|h| h.name.as_str()).collect();
        return Err(format!("{name} is not a control-plane host (they are: {})", all.join(", ")));
    };
    if options.lost.contains(name) {
        return Err(format!("{name} is declared lost: the recovery host must be a healthy one"));
    }
    if !host.ready {
        return Err(format!("{name} is not Ready: restore on a healthy control-plane host"));
    }
    match &host.reachable {
        Some(Ok(())) => {}
        Some(Err(e)) => return Err(format!("{name} cannot be reached: {e}")),
        None if options.manual_hosts => return Ok(format!("{name} ({}), Ready; you run its commands", host.ip)),
        None => return Err(format!("{name} was not tried")),
    }
    // What the restore script needs of it, known before the point of no return rather than at step 8.
    let Some(facts) = &host.recovery else {
        return Err(format!("{name} answers, but sudo, {RESTORE_SCRIPT} and its hostname were not checked"));
    };
    let (mut fine, mut problems) = (vec![format!("{name} ({}), Ready, a shell answers", host.ip)], Vec::new());
    match &facts.sudo {
        Ok(()) => fine.push("sudo -n true answers".into()),
        Err(e) => problems.push(format!("sudo -n true: {e} (the restore runs as root without a prompt)")),
    }
    match &facts.restore_script {
        Ok(()) => fine.push(format!("{RESTORE_SCRIPT} is executable")),
        Err(e) => problems.push(format!(
            "{RESTORE_SCRIPT} is not there or not executable{}: is this an OpenShift control-plane host?",
            if e.is_empty() { String::new() } else { format!(" ({e})") }
        )),
    }
    match &facts.hostname {
        Ok(said) if same_host_name(said, name) => fine.push(format!("hostname says {}", said.trim())),
        Ok(said) => problems.push(format!(
            "hostname says {}, not {name}: {} is another host than the node's (check its InternalIP and the ssh options)",
            said.trim(),
            host.ip
        )),
        Err(e) => problems.push(format!("hostname: {e}")),
    }
    if problems.is_empty() {
        Ok(fine.join("; "))
    } else {
        Err(format!("{name}: {}", problems.join("; ")))
    }
}

fn reach_gate(options: &Options, survey: &Survey) -> Result<String, String> {
    let mut problems = Vec::new();
    let mut fine = Vec::new();
    for lost in &options.lost {
        if !survey.control_plane.iter().any(|h| &h.name == lost) {
            problems.push(format!("{lost} (declared lost) is not a control-plane host"));
        }
    }
    for host in &survey.control_plane {
        if options.lost.contains(&host.name) {
            // A host that is not lost must not lose its steps and its Machine by a slip of the hand.
            let mut alive = Vec::new();
            if host.ready {
                alive.push("its node is Ready");
            }
            if matches!(host.reachable, Some(Ok(()))) {
                alive.push("a shell answers on it");
            }
            let alive = alive.join(" and ");
            match &options.force_lost {
                _ if alive.is_empty() => fine.push(format!("{} lost (its Machine is made again)", host.name)),
                Some(reason) => fine.push(format!(
                    "{} declared lost although {alive}: forced ({reason}); its Machine is made again",
                    host.name
                )),
                None => problems.push(format!(
                    "{} is declared lost but {alive}: a lost host's steps are skipped and its Machine is deleted; if it must really be replaced, give --force-lost REASON (the console: --restore-force-lost)",
                    host.name
                )),
            }
            continue;
        }
        match &host.reachable {
            Some(Ok(())) => fine.push(host.name.clone()),
            Some(Err(e)) => problems.push(format!(
                "{} cannot be reached ({e}): without a shell on it the cluster cannot be recovered; fix it, or declare it lost with --lost-host {} (the console: --restore-lost-host)",
                host.name, host.name
            )),
            None if options.manual_hosts => fine.push(format!("{} (you keep a session open)", host.name)),
            None => problems.push(format!("{} was not tried", host.name)),
        }
    }
    if survey.control_plane.is_empty() {
        problems.push("no control-plane nodes found (node-role.kubernetes.io/master)".into());
    }
    if problems.is_empty() {
        Ok(fine.join(", "))
    } else {
        Err(problems.join("; "))
    }
}

/// Which workers must answer a shell before the point of no return: every one. Step 9a acts on the nodes
/// still NotReady after the restore, which cannot be known before it: a worker Ready now may not be then
/// (its kubelet's certificate newer than the restored data), and one NotReady now is the likeliest to be.
fn workers_gate(options: &Options, survey: &Survey) -> Result<String, String> {
    if survey.workers.is_empty() {
        return Ok("no workers".into());
    }
    if options.manual_hosts {
        return Ok(format!(
            "{}: you run the commands of steps 9a and 10w on those still NotReady after the restore",
            survey.workers.join(", ")
        ));
    }
    let (mut fine, mut problems) = (Vec::new(), Vec::new());
    for name in &survey.workers {
        match survey.worker_hosts.iter().find(|h| &h.name == name).and_then(|h| h.reachable.as_ref()) {
            Some(Ok(())) => fine.push(name.clone()),
            Some(Err(e)) => problems.push(format!("{name} cannot be reached ({e})")),
            None => problems.push(format!("{name} was not tried")),
        }
    }
    if problems.is_empty() {
        return Ok(fine.join(", "));
    }
    Err(format!(
        "{}: after the point of no return, step 9a deletes the kubelet's PEM files on every node still NotReady and step 10w restarts the kubelet of each worker among them (\"Restoring to a previous cluster state\", OpenShift 4.14); without a shell on a worker that needs it, the restore would stop there with nodes that cannot come back. Give the bastion ssh access to it as the other hosts have (--ssh-user, --ssh-key, --ssh-option), or restore with --manual-hosts and run the host commands yourself when asked",
        problems.join("; ")
    ))
}

impl RestoreRun {
    pub fn new(procedure: Procedure, backup_dir: String, options: Options) -> RestoreRun {
        RestoreRun {
            procedure,
            options,
            backup_dir,
            stage: Stage::Survey,
            survey: None,
            gates: Vec::new(),
            steps: Vec::new(),
            records: Vec::new(),
            not_ready: Vec::new(),
            quorum_guard_off: false,
            outcome: None,
            aborting: false,
            webhooks_set_back: None,
        }
    }

    /// The steps that replace a member's data (set aside, then restored): once one has begun, an abort could
    /// not give the cluster back its data.
    fn data_touched(&self) -> Vec<String> {
        self.steps
            .iter()
            .zip(&self.records)
            .filter(|(s, _)| matches!(s.act, Act::SetAside { .. }) || s.id.starts_with("3.4@"))
            .filter(|(_, r)| r.state != StepState::Pending)
            .map(|(s, _)| s.id.clone())
            .collect()
    }

    /// Whether `restore abort` may bring this stopped run's cluster back: a hosted run begun, and no member's
    /// data touched yet. Err says why not, and what to do instead.
    pub fn abortable(&self) -> Result<(), String> {
        if self.aborting {
            return Ok(());
        }
        if self.procedure != Procedure::Hosted {
            return Err("restore abort is for the hosted procedure; a standalone run is resumed (`restore run` again, with the same flags)".into());
        }
        if !self.began() {
            return Err("the restore changed nothing yet: there is nothing to bring back".into());
        }
        let touched = self.data_touched();
        if !touched.is_empty() {
            let aside = self.survey.as_ref().and_then(|s| s.hosted.as_ref()).map(|h| h.layout().set_aside_dir());
            return Err(format!(
                "not aborted, nothing changed: a member's data was already set aside or replaced (step {}): bringing the writers back now would start the cluster on data half restored; resume the restore instead (`restore run` with the same flags){}",
                touched.join(", "),
                aside.map(|a| format!("; each claim's data from before is kept at {a}")).unwrap_or_default()
            ));
        }
        Ok(())
    }

    /// Turns a stopped hosted run into its abort: delete the data pods made (their snapshot copy first),
    /// scale etcd and the writers back to what they were, resume reconciliation. Only what the run did is
    /// undone; every step is checked as the run's are. Err: see [`RestoreRun::abortable`].
    pub fn begin_abort(&mut self) -> Result<(), String> {
        self.abortable()?;
        if self.aborting {
            // An abort stopped half way: its steps go on (each is safe to do again).
            for record in &mut self.records {
                if matches!(record.state, StepState::Running | StepState::Failed) {
                    record.state = StepState::Pending;
                }
            }
            self.outcome = None;
            self.stage = Stage::Steps;
            return Ok(());
        }
        let layout = self
            .survey
            .as_ref()
            .and_then(|s| s.hosted.as_ref())
            .map(HostedFacts::layout)
            .ok_or("no HostedCluster was surveyed: nothing to bring back")?;
        let begun =
            |id: &str| self.steps.iter().zip(&self.records).any(|(s, r)| s.id == id && r.state != StepState::Pending);
        let done =
            |id: &str| self.steps.iter().zip(&self.records).any(|(s, r)| s.id == id && r.state == StepState::Done);
        let mut undo = Vec::new();
        for (index, _) in layout.members.iter().enumerate() {
            let claim = format!("data-etcd-{index}");
            if !begun(&format!("3.2@{claim}")) {
                continue;
            }
            let deployment = steps::data_deployment(index);
            if begun(&format!("3.3@{claim}")) && done(&format!("3.2@{claim}")) {
                undo.push(steps::abort_step(
                    &format!("a3.5@{claim}"),
                    &format!("remove the snapshot's copy from {claim}"),
                    Act::PodExec {
                        deployment: deployment.clone(),
                        commands: vec![vec!["rm".into(), "-f".into(), steps::POD_SNAPSHOT.into()]],
                    },
                    Check::Answer,
                ));
            }
            undo.push(steps::abort_step(
                &format!("a3.6@{claim}"),
                &format!("delete the {deployment} Deployment"),
                Act::DeleteDeployment { name: deployment.clone() },
                Check::NoPods {
                    namespace: layout.control_plane_namespace.clone(),
                    selector: format!("app={deployment}"),
                },
            ));
        }
        let replicas = layout.members.len().max(1);
        if begun("3.1") {
            undo.push(steps::abort_step(
                "a3.7",
                &format!("scale the etcd StatefulSet back to {replicas}"),
                Act::Scale { kind: "StatefulSet".into(), name: "etcd".into(), replicas: replicas as i32 },
                Check::PodsRunning {
                    namespace: layout.control_plane_namespace.clone(),
                    selector: "app=etcd".into(),
                    node: None,
                    count: Some(replicas),
                },
            ));
            undo.push(steps::abort_step(
                "a3.8",
                &format!("{replicas} etcd members healthy, with the data they had"),
                Act::Nothing,
                Check::EtcdMembers { count: replicas },
            ));
        }
        for writer in steps::WRITERS {
            if !begun(&format!("1@{writer}")) {
                continue;
            }
            let count =
                layout.writers.iter().find(|(w, _)| w == writer).map(|(_, n)| *n).filter(|n| *n > 0).unwrap_or(3);
            undo.push(steps::abort_step(
                &format!("a3.9@{writer}"),
                &format!("scale {writer} back to {count}"),
                Act::Scale { kind: "Deployment".into(), name: (*writer).into(), replicas: count },
                Check::Replicas { kind: "Deployment".into(), name: (*writer).into(), replicas: count },
            ));
        }
        undo.push(steps::abort_step(
            "a4",
            &format!("resume reconciliation of HostedCluster {}/{}", layout.namespace, layout.name),
            Act::PauseReconciliation { paused: false },
            Check::Paused { paused: false },
        ));
        self.records = undo.iter().map(|_| StepRecord::new(StepState::Pending, "")).collect();
        self.steps = undo;
        self.aborting = true;
        self.outcome = None;
        self.stage = Stage::Steps;
        Ok(())
    }

    /// Whether a step past the point of no return has begun (nothing of the run can be undone).
    pub fn past_no_return(&self) -> bool {
        self.records.len() == self.steps.len()
            && self
                .steps
                .iter()
                .zip(&self.records)
                .skip_while(|(s, _)| !s.point_of_no_return)
                .any(|(_, r)| r.state != StepState::Pending)
    }

    /// A run that stopped before the point of no return after step 0 began leaves no webhook at
    /// Ignore: the executor sets them back to Fail ([`Self::webhooks_were_set_back`] takes what came
    /// of it). Not with --read-only (nothing is written), and only once.
    pub fn webhooks_to_set_back(&self) -> bool {
        self.procedure == Procedure::Standalone
            && !self.options.read_only
            && self.webhooks_set_back.is_none()
            && matches!(self.outcome, Some(Outcome::Stopped { .. }))
            && !self.past_no_return()
            && self.steps.iter().zip(&self.records).any(|(s, r)| {
                s.act == (Act::WebhooksFailurePolicy { to_ignore: true }) && r.state != StepState::Pending
            })
    }

    /// What setting the webhooks back gave; the stop's reason says it.
    pub fn webhooks_were_set_back(&mut self, result: Result<String, String>) {
        let said = match &result {
            Ok(webhooks) => format!(
                "; nothing past the point of no return was done, and the webhooks step 0 set to Ignore were set back to failurePolicy Fail: {webhooks}"
            ),
            Err(e) => format!(
                "; the webhooks step 0 set to Ignore could NOT be set back to failurePolicy Fail ({e}): they stay Ignore until the next `restore plan` or `restore run` finds them (by their {} annotation) and sets them back, or you set them back by hand",
                survey::IGNORED_BY_US
            ),
        };
        if let Some(Outcome::Stopped { reason, .. }) = &mut self.outcome {
            reason.push_str(&said);
        }
        self.webhooks_set_back = Some(result);
    }

    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Ended in a way a new run does not resume (everything but a stop after something began).
    pub fn finished_for_good(&self) -> bool {
        match &self.outcome {
            None => false,
            Some(Outcome::Stopped { .. }) => !self.began(),
            Some(_) => true,
        }
    }

    fn finish(&mut self, outcome: Outcome) {
        self.stage = Stage::Finished;
        self.outcome = Some(outcome);
    }

    /// The point-of-no-return step, once the plan is made.
    pub fn point_of_no_return(&self) -> Option<&Step> {
        self.steps.iter().find(|s| s.point_of_no_return)
    }

    /// Whether any step that changes the cluster has begun.
    pub fn began(&self) -> bool {
        // An abort is of a run that began: stopping it keeps its journal.
        self.aborting || self.records.iter().any(|r| r.state != StepState::Pending)
    }

    fn layout(&self, survey: &Survey) -> Layout {
        let lost = self
            .options
            .lost
            .iter()
            .map(|name| {
                let machine = survey.control_plane.iter().find(|h| &h.name == name).and_then(|h| h.machine.clone());
                (name.clone(), machine)
            })
            .collect();
        Layout {
            recovery_host: self.options.recovery_host.clone().unwrap_or_default(),
            control_plane: survey.control_plane.iter().map(|h| h.name.clone()).collect(),
            lost,
            workers: survey.workers.clone(),
            ovn: survey.ovn,
            fail_webhooks: survey.fail_webhooks.clone(),
            remote_backup_dir: self.options.remote_backup_dir.clone(),
            backup_dir: self.backup_dir.clone(),
            backup_files: survey.backup.files.clone(),
            api_vips: survey.api_vips.clone(),
            proxy: survey.proxy,
        }
    }

    pub fn next_action(&mut self, now: SystemTime) -> Action {
        if let Some(outcome) = &self.outcome {
            return Action::Finished(outcome.clone());
        }
        // Whatever the journal says: --read-only never acts.
        if self.options.read_only && matches!(self.stage, Stage::Confirm | Stage::Steps) {
            if self.began() {
                // Stopped, not ended: the journal keeps the run for a console that may act.
                self.stop(self.current_id(), "--read-only: nothing more is done; run again without it to go on".into());
            } else {
                self.finish(Outcome::NotAllowed { reason: "--read-only: the plan is shown, nothing is done".into() });
            }
            return self.next_action(now);
        }
        match self.stage {
            Stage::Survey => Action::Survey,
            Stage::Confirm => match self.confirmation() {
                Some(confirmation) => Action::Confirm(confirmation),
                None => {
                    self.finish(Outcome::Refused { reasons: vec!["no plan was made".into()] });
                    self.next_action(now)
                }
            },
            Stage::Steps => self.next_step(now),
            Stage::Finished => {
                self.finish(Outcome::Completed);
                Action::Finished(Outcome::Completed)
            }
        }
    }

    pub fn confirmation(&self) -> Option<Confirmation> {
        let survey = self.survey.as_ref()?;
        let pnr = self.point_of_no_return()?;
        Some(Confirmation {
            cluster_name: survey.cluster_name.clone(),
            api_url: survey.api_url.clone(),
            recovery_host: self
                .options
                .recovery_host
                .clone()
                .or_else(|| self.options.hosted_cluster.clone())
                .unwrap_or_default(),
            backup: survey
                .backup
                .snapshot
                .clone()
                .map(|s| format!("{}/{s}", survey.backup.dir))
                .unwrap_or_else(|| survey.backup.dir.clone()),
            point_of_no_return: format!("step {}: {}", pnr.id, pnr.title),
        })
    }

    /// The nodes a check must not wait for: the hosts declared lost.
    pub fn lost(&self) -> &[String] {
        &self.options.lost
    }

    /// The nodes whose kubelets this restore bootstraps again, declared to the CSR rules (as the
    /// machine-approver is told nothing of a restore): every control-plane host, the hosts declared
    /// lost (their new Machines) and the workers step 9a touched. Their node-bootstrapper CSRs are
    /// the restore's own, even while the node still reads Ready.
    pub fn rebootstrapped(&self) -> Vec<String> {
        let mut nodes: Vec<String> =
            self.survey.as_ref().map(|s| s.control_plane.iter().map(|h| h.name.clone()).collect()).unwrap_or_default();
        nodes.extend(self.options.lost.iter().cloned());
        nodes.extend(self.touched_workers());
        nodes.sort();
        nodes.dedup();
        nodes
    }

    /// The workers step 9a was given (the nodes step 9 left NotReady that are not control-plane hosts).
    pub fn touched_workers(&self) -> Vec<String> {
        let workers = self.survey.as_ref().map(|s| s.workers.as_slice()).unwrap_or_default();
        self.not_ready.iter().filter(|n| workers.contains(n)).cloned().collect()
    }

    fn next_step(&mut self, now: SystemTime) -> Action {
        let Some(index) = self.records.iter().position(|r| matches!(r.state, StepState::Pending | StepState::Running))
        else {
            self.finish(Outcome::Completed);
            return Action::Finished(Outcome::Completed);
        };
        let step = self.steps[index].clone();
        // Never the recovery host's Machine, whatever the plan says.
        if let Act::DeleteMachine { node, name } = &step.act {
            let recovery = self.options.recovery_host.as_ref();
            let recovery_machine = self.survey.as_ref().and_then(|s| {
                s.control_plane.iter().find(|h| Some(&h.name) == recovery).and_then(|h| h.machine.clone())
            });
            if Some(node) == recovery || recovery_machine.as_ref() == Some(name) {
                let reason = format!("step {} would delete {name}, the recovery host's Machine: never", step.id);
                self.records[index] = StepRecord::new(StepState::Failed, reason.clone());
                self.finish(Outcome::Stopped {
                    step: step.id.clone(),
                    reason,
                    quorum_guard_off: self.quorum_guard_off,
                });
                return self.next_action(now);
            }
        }
        if self.records[index].state == StepState::Running {
            return Action::Recheck { index, step };
        }
        let skipped = match step.act {
            Act::HostOnNotReady { .. } if self.not_ready.is_empty() => Some("every node was Ready"),
            Act::HostOnTouchedWorkers { .. } if self.touched_workers().is_empty() => Some("step 9a touched no worker"),
            _ => None,
        };
        if let Some(why) = skipped {
            self.records[index] = StepRecord::new(StepState::Skipped, why);
            return self.next_step(now);
        }
        self.records[index].state = StepState::Running;
        // Off from the moment its patch may be sent: a crash or a failed check must not lose that.
        if step.act == (Act::QuorumGuard { off: true }) {
            self.quorum_guard_off = true;
        }
        if step.place == Place::Person || (self.options.manual_hosts && step.place == Place::Host) {
            // The person must know where: the nodes a per-node act would have been given.
            let nodes = match step.act {
                Act::HostOnNotReady { .. } => self.not_ready.clone(),
                Act::HostOnTouchedWorkers { .. } => self.touched_workers(),
                _ => Vec::new(),
            };
            let mut step = step;
            if !nodes.is_empty() {
                step.title = format!("{}: on {}", step.title, nodes.join(", "));
            }
            return Action::AskPerson { index, step };
        }
        let reason = match step.act {
            Act::ForceRedeployment { .. } => {
                let mut at = now;
                let mut reason = redeployment_reason(at);
                // Unique, even for two steps within the clock's resolution: a nanosecond later.
                while self.records.iter().any(|r| r.reason.as_ref() == Some(&reason)) {
                    at += std::time::Duration::from_nanos(1);
                    reason = redeployment_reason(at);
                }
                self.records[index].reason = Some(reason.clone());
                Some(reason)
            }
            _ => None,
        };
        let nodes = match step.act {
            Act::HostOnNotReady { .. } => self.not_ready.clone(),
            Act::HostOnTouchedWorkers { .. } => self.touched_workers(),
            _ => Vec::new(),
        };
        Action::Perform { index, step, reason, nodes }
    }

    pub fn observe(&mut self, observed: Observed) {
        if self.outcome.is_some() {
            return;
        }
        match observed {
            Observed::Surveyed(survey) => self.surveyed(*survey),
            Observed::Typed(text) => {
                let Some(survey) = &self.survey else { return };
                if self.stage == Stage::Confirm && text.trim() == survey.cluster_name {
                    self.stage = Stage::Steps;
                } else {
                    self.finish(Outcome::Cancelled);
                }
            }
            Observed::Performed { index, result } => self.performed(index, result),
            Observed::Rechecked { index, done, detail } => {
                let Some(step) = self.steps.get(index).cloned() else { return };
                let Some(record) = self.records.get_mut(index) else { return };
                if done {
                    record.state = StepState::Done;
                    record.detail = format!("found done on resuming: {detail}");
                    self.after_done(index);
                } else if !step.redo_safe {
                    // Never run twice by itself (cluster-restore.sh would move the restored data aside).
                    record.detail = format!("interrupted, not known to be done: {detail}");
                    let reason = format!(
                        "step {} was interrupted and is not safe to run again by itself ({detail}); look at {} and finish it by hand, then run again with --mark-done {}",
                        step.id,
                        step.node.as_deref().unwrap_or("the host"),
                        step.id
                    );
                    self.stop(step.id, reason);
                } else {
                    record.state = StepState::Pending;
                    record.detail = format!("not done yet on resuming: {detail}");
                }
            }
            Observed::PersonAnswered { index, done } => {
                if done {
                    self.performed(index, StepResult::Done { detail: "confirmed by the person".into() });
                } else {
                    let id = self.steps.get(index).map(|s| s.id.clone()).unwrap_or_default();
                    let redo_safe = self.steps.get(index).is_none_or(|s| s.redo_safe);
                    if let Some(record) = self.records.get_mut(index) {
                        // The person may have done part of it: one not safe to redo is re-checked on resuming.
                        record.state = if redo_safe { StepState::Pending } else { StepState::Running };
                    }
                    self.stop(id, "the person stopped here".into());
                }
            }
        }
    }

    fn surveyed(&mut self, survey: Survey) {
        if survey.unreadable.is_none() && survey.cluster_name.trim().is_empty() {
            let reasons = vec!["the cluster's name could not be read: nothing to confirm with".to_string()];
            self.finish(Outcome::Refused { reasons });
            self.survey = Some(survey);
            return;
        }
        if let Some(problem) = &survey.unreadable {
            self.finish(Outcome::Refused { reasons: vec![problem.clone()] });
            self.survey = Some(survey);
            return;
        }
        self.gates = gates(self.procedure, &self.options, &survey);
        self.steps = match (self.procedure, &survey.hosted) {
            (Procedure::Hosted, Some(hosted)) => steps::hosted(&hosted.layout()),
            (Procedure::Hosted, None) => Vec::new(),
            (Procedure::Standalone, _) => {
                let mut list = steps::standalone(&self.layout(&survey));
                if let Some(wait) = self.options.nodes_ready_wait_seconds {
                    if let Some(nodes) = list.iter_mut().find(|s| s.check == Check::NodesReady) {
                        nodes.limit_seconds = wait.max(1);
                    }
                }
                if !list.iter().any(|s| s.point_of_no_return) {
                    if let Some(restore) = list.iter_mut().find(|s| s.id == "8") {
                        restore.point_of_no_return = true;
                    }
                }
                list
            }
        };
        self.records = self.steps.iter().map(|_| StepRecord::new(StepState::Pending, "")).collect();
        self.survey = Some(survey);
        let failing: Vec<String> =
            self.gates.iter().filter(|g| !g.passed).map(|g| format!("{}: {}", g.id, g.detail)).collect();
        if self.options.plan_only {
            self.finish(Outcome::Planned { gates_passed: failing.is_empty() });
        } else if !failing.is_empty() {
            self.finish(Outcome::Refused { reasons: failing });
        } else if self.options.read_only {
            self.finish(Outcome::NotAllowed { reason: "--read-only: the plan is shown, nothing is done".into() });
        } else {
            self.stage = Stage::Confirm;
        }
    }

    fn performed(&mut self, index: usize, result: StepResult) {
        let Some(step) = self.steps.get(index).cloned() else { return };
        match result {
            StepResult::Done { detail } => {
                self.records[index].state = StepState::Done;
                self.records[index].detail = detail;
                self.after_done(index);
            }
            StepResult::DoneWithNotReady { detail, not_ready } => {
                self.records[index].state = StepState::Done;
                self.records[index].detail = detail;
                self.not_ready = not_ready;
                self.after_done(index);
            }
            StepResult::Forced { detail, revision_before } => {
                self.records[index].state = StepState::Done;
                self.records[index].detail = detail;
                self.records[index].revision_before = revision_before;
            }
            StepResult::Interrupted { detail } => {
                // Left Running: a resumed run re-checks it.
                self.records[index].detail = detail;
                self.stop(step.id, "stopped by the person".into());
            }
            StepResult::Failed { reason } => {
                self.records[index].state = StepState::Failed;
                self.records[index].detail = reason.clone();
                self.stop(step.id, reason);
            }
        }
    }

    fn after_done(&mut self, index: usize) {
        if let Some(Act::QuorumGuard { off }) = self.steps.get(index).map(|s| &s.act) {
            self.quorum_guard_off = *off;
        }
    }

    fn stop(&mut self, step: String, mut reason: String) {
        // A hosted run stopped after its pause leaves the hosted cluster without its API until resumed.
        if self.procedure == Procedure::Hosted && self.began() {
            let hosted = self.options.hosted_cluster.clone().unwrap_or_default();
            reason.push_str(&format!(
                "; HostedCluster {hosted} stays PAUSED and its API servers may be at 0 replicas until the run ends"
            ));
        }
        self.finish(Outcome::Stopped { step, reason, quorum_guard_off: self.quorum_guard_off });
    }

    /// The step the run is at (the first not done), by its id.
    fn current_id(&self) -> String {
        self.records
            .iter()
            .position(|r| matches!(r.state, StepState::Pending | StepState::Running))
            .and_then(|i| self.steps.get(i))
            .map(|s| s.id.clone())
            .unwrap_or_default()
    }

    /// Stops the run where it is (the journal cannot be written): resumable.
    pub fn halt(&mut self, reason: String) {
        if self.outcome.is_none() {
            self.stop(self.current_id(), reason);
        }
    }

    /// The person stops the run (Ctrl-C, `x`): the step in flight stays to be re-checked on resuming.
    pub fn abort(&mut self) {
        if self.outcome.is_some() {
            return;
        }
        if !self.began() {
            self.finish(Outcome::Cancelled);
            return;
        }
        self.stop(self.current_id(), "stopped by the person".into());
    }

    /// Makes a journalled run go on: the failed step and the one in flight are re-checked before anything is
    /// done again; steps the person marks done count as done.
    pub fn resume(&mut self, mark_done: &[String]) {
        let past_no_return = self.past_no_return();
        // Before the point of no return nothing is kept: surveyed, gated and confirmed anew.
        if !past_no_return {
            *self = RestoreRun::new(self.procedure, self.backup_dir.clone(), self.options.clone());
            return;
        }
        for (step, record) in self.steps.iter().zip(self.records.iter_mut()) {
            if mark_done.contains(&step.id) && record.state != StepState::Done {
                record.state = StepState::Done;
                record.detail = "marked done by the person (--mark-done)".into();
            } else if record.state == StepState::Failed {
                record.state = StepState::Running;
            }
        }
        for index in 0..self.steps.len() {
            if self.records[index].state == StepState::Done {
                self.after_done(index);
            }
        }
        self.outcome = None;
        self.stage = Stage::Steps;
    }
}

#[cfg(any(test, feature = "test-fixtures"))]
pub mod fixtures;
#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_executor;
