//! The backup wizard's engine: a plain state machine the TUI and `etcd-console
//! backup` both drive. It decides everything a backup's safety rests on —
//! whether now is a moment to take one (no encryption migration, no static-pod
//! rollout, as `cluster-backup.sh` checks), which member serves it (a healthy
//! follower unless told), the file names (never an existing one), whether the
//! stream and the file are sound, and which older backups `--keep` may remove
//! (only this cluster's, only once the new one is verified). The executor
//! (`executor.rs`) does the I/O it asks for.

pub mod executor;
pub mod files;
#[cfg(test)]
mod model;
mod remote;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::openshift::model::{Encryption, OperatorStatus, Rollout};
use crate::wizard::defrag::engine::ClusterView;

/// The mark `cluster-backup.sh --force` puts in the names of a backup taken
/// when it should not have been.
pub const DIRTY_MARK: &str = "__POSSIBLY_DIRTY__";

/// The operators whose rollouts make a backup unreliable (cluster-backup.sh's list),
/// as ClusterOperator names and as the static-pod operators' short names.
pub const ROLLOUT_OPERATORS: &[(&str, &str)] = &[
    ("etcd", "etcd"),
    ("kube-apiserver", "kubeapiserver"),
    ("kube-controller-manager", "kubecontrollermanager"),
    ("kube-scheduler", "kubescheduler"),
];

/// The objects the refusals are read from: one of them unreadable, and the backup cannot tell.
const CHECKED_OBJECTS: &[&str] = &[
    "apiservers.config",
    "openshiftapiservers",
    "kubeapiservers",
    "authentications",
    "etcds",
    "kubecontrollermanagers",
    "kubeschedulers",
    "clusteroperators",
];

/// What the user asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupOptions {
    pub dir: PathBuf,
    /// Where the encryption key secrets go (must not be `dir`).
    pub keys_dir: Option<PathBuf>,
    /// The member to take it from, by name (default: a healthy follower).
    pub member: Option<String>,
    /// Take it even while a migration or rollout runs; the names say so.
    pub force: bool,
    /// Keep this many backups of this cluster in `dir` (the new one included).
    pub keep: Option<usize>,
    /// The longest the stream may stay silent before it is given up.
    pub stall_limit: Duration,
    /// Only the direct snapshot, no static resources (`--snapshot-only`; always so without an
    /// OpenShift API).
    pub snapshot_only: bool,
    /// How the runbook's backup reaches the node (`--via`).
    pub via: Via,
    /// The control-plane node to run `cluster-backup.sh` on (default: a Ready one whose member
    /// is a healthy follower).
    pub node: Option<String>,
    /// `--read-only`: nothing is made in the cluster (no debug pod), so a direct snapshot only.
    pub read_only: bool,
}

/// How the runbook's backup reaches its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A debug pod through the API, as `oc debug node/NAME` (no ssh needed).
    #[default]
    Api,
    /// ssh to the node, as the restore reaches its hosts.
    Ssh,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Api => "api",
            Via::Ssh => "ssh",
        }
    }
}

/// A control-plane node as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeFacts {
    pub name: String,
    pub ready: bool,
    /// Its InternalIP (how ssh reaches it).
    pub ip: String,
}

/// Where and how `cluster-backup.sh` runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemotePlan {
    pub via: Via,
    pub node: String,
    pub ip: String,
    /// A fresh directory on the node, removed at the end.
    pub dir: String,
    /// The cluster-wide proxy's variables, exported for the script.
    pub proxy: Vec<(String, String)>,
    /// `cluster-backup.sh --force` (the run was forced past its refusals).
    pub force: bool,
}

/// What one run of `cluster-backup.sh` made, and which of the final names are taken here.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptRan {
    /// The file names in the remote directory.
    pub snapshot: String,
    pub archive: String,
    /// What the script said (its last line names the directory).
    pub output: String,
    /// The names in the backup directory and in the keys directory now.
    pub dir_names: Vec<String>,
    pub keys_dir_names: Vec<String>,
}

/// Where a backup made on the node is put by `--via`: the prefix of its remote directory.
pub const REMOTE_DIR_PREFIX: &str = "/home/core/assets/backup-etcd-console-";

/// The longest a snapshot stream may stay silent when no limit is given.
pub const DEFAULT_STALL_LIMIT: Duration = Duration::from_secs(30);

impl BackupOptions {
    /// A backup into `dir` from a healthy follower, keeping every earlier one.
    pub fn into_dir(dir: PathBuf, stall_limit: Duration) -> BackupOptions {
        BackupOptions {
            dir,
            keys_dir: None,
            member: None,
            force: false,
            keep: None,
            stall_limit,
            snapshot_only: false,
            via: Via::Api,
            node: None,
            read_only: false,
        }
    }
}

/// What the OpenShift API said before the backup.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // read once per run: boxing would only add noise
pub enum OpenShiftFacts {
    /// No kubeconfig: nothing to check (plain etcd, or the user gave only endpoints).
    NotConfigured,
    /// The API answered but serves no OpenShift operator objects.
    NotOpenShift { why: String },
    /// The API could not be asked at all.
    Unreachable { why: String },
    Read {
        encryption: Option<Encryption>,
        rollouts: Vec<Rollout>,
        cluster_operators: Vec<OperatorStatus>,
        /// The version the cluster runs (its last completed update) and the one it is going to.
        cluster_version: Option<String>,
        desired_version: Option<String>,
        /// The encryption key secrets found (names only; the secrets stay in the executor).
        key_secrets: Vec<String>,
        /// Parts that could not be read.
        problems: Vec<String>,
        /// The control-plane nodes (where `cluster-backup.sh` can run).
        control_plane: Vec<NodeFacts>,
        /// The cluster-wide proxy's variables (`HTTP_PROXY` ...), when it has one.
        proxy: Vec<(String, String)>,
    },
}

/// The first reading: the members and the OpenShift side.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub view: ClusterView,
    pub openshift: OpenShiftFacts,
    /// Reading the encryption keys failed (only asked with `keys_dir`).
    pub keys_problem: Option<String>,
    pub now: SystemTime,
    /// The names in the backup directory and in the keys directory (none when absent).
    pub dir_names: Vec<String>,
    pub keys_dir_names: Vec<String>,
    /// Part files that earlier runs, killed before their clean-up, left in the directory: removed.
    pub stale_parts_removed: Vec<PathBuf>,
}

/// The member chosen and the files the backup will make.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub cluster_id: u64,
    pub member_id: u64,
    pub member: String,
    pub was_leader: bool,
    pub etcd_version: String,
    /// The member's DB size when chosen: the stream's expected length.
    pub db_size: u64,
    pub timestamp: String,
    pub taken_at: String,
    /// Why the backup may be dirty (empty: clean).
    pub dirty_because: Vec<String>,
    pub part: PathBuf,
    pub snapshot: PathBuf,
    pub metadata: PathBuf,
    pub keys: Option<PathBuf>,
    pub cluster_version: Option<String>,
    pub encryption_type: Option<String>,
    /// The runbook's backup on a node (None: a direct snapshot).
    pub remote: Option<RemotePlan>,
    /// `static_kuberesources_<ts>.tar.gz` and its part file (restore-grade backups).
    pub archive: Option<PathBuf>,
    pub archive_part: Option<PathBuf>,
    /// The snapshot and archive's names on the node, once the script made them.
    pub remote_files: Option<(String, String)>,
}

/// What the stream delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct Streamed {
    pub bytes: u64,
    pub took: Duration,
    /// SHA-256 of the whole file, hex.
    pub sha256: String,
    /// The SHA-256 etcd appended matched the bytes before it.
    pub trailer_matches: bool,
}

/// What the check of the written file found.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub revision: i64,
    pub hash: u32,
    pub total_keys: u64,
    pub total_size: u64,
}

/// A backup found in the directory, by its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Existing {
    pub metadata_path: PathBuf,
    pub metadata: Metadata,
}

/// `backup_<timestamp>.json`, beside the snapshot. Field names are a contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub cluster_id: String,
    pub member: String,
    pub member_id: String,
    pub etcd_version: String,
    /// The snapshot's revision (the main revision of its last key).
    pub revision: i64,
    /// The snapshot's size in bytes (as the member's DB size, plus etcd's 32-byte SHA-256).
    pub db_size: u64,
    /// SHA-256 of the whole snapshot file, hex.
    pub sha256: String,
    /// etcd's hash of the contents (CRC-32C), as `etcdctl snapshot status` shows it.
    pub hash: String,
    pub total_keys: u64,
    /// The snapshot's file name, in the same directory.
    pub snapshot: String,
    pub taken_at: String,
    /// Its trailer and bbolt structure were checked after it was written.
    pub verified: bool,
    pub possibly_dirty: bool,
    #[serde(default)]
    pub dirty_because: Vec<String>,
    /// Present when the cluster is OpenShift.
    pub openshift: Option<OpenShiftMetadata>,
    /// Where the encryption keys were saved, when asked.
    pub encryption_keys: Option<String>,
    /// The backup holds what `cluster-restore.sh` takes: the snapshot and
    /// `static_kuberesources_<ts>.tar.gz` of one `cluster-backup.sh` run.
    /// False for a direct snapshot (`--snapshot-only`) and for older metadata.
    #[serde(default)]
    pub restore_grade: bool,
    /// The static-pod resources archive's file name, in the same directory.
    #[serde(default)]
    pub static_resources: Option<String>,
    #[serde(default)]
    pub static_resources_bytes: Option<u64>,
    /// SHA-256 of the whole archive, hex.
    #[serde(default)]
    pub static_resources_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenShiftMetadata {
    pub cluster_version: Option<String>,
    pub encryption_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The backup is at its final name, verified.
    Completed,
    /// Refused before anything was written (a check said no, or bad input).
    Refused { reason: String },
    /// Started and failed: nothing at the final name.
    Failed { reason: String },
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Completed => 0,
            Outcome::Refused { .. } | Outcome::Failed { .. } => 1,
        }
    }
}

/// What the engine wants done next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Read the members (Status, health), the OpenShift side, and the names in the directories.
    Check {
        dir: PathBuf,
        keys_dir: Option<PathBuf>,
    },
    /// Reach the node (a debug pod running on it, or its shell) and remove what earlier runs left.
    Prepare {
        remote: RemotePlan,
    },
    /// `cluster-backup.sh` into the plan's fresh directory on the node.
    RunScript {
        remote: RemotePlan,
        dir: PathBuf,
        keys_dir: Option<PathBuf>,
    },
    /// Read a file off the node into `part` (created new, 0600), hashing it as it comes.
    Fetch {
        remote: RemotePlan,
        /// Its path on the node.
        path: String,
        part: PathBuf,
        /// The snapshot (its SHA-256 trailer checked) or the archive.
        snapshot: bool,
        expected: u64,
        stall_limit: Duration,
    },
    /// Remove the remote directory, then the debug pod and its namespace.
    TearDown {
        remote: RemotePlan,
    },
    /// Read the archive back: gzip, tar, the static-pod resources cluster-restore.sh unpacks.
    VerifyArchive {
        part: PathBuf,
        bytes: u64,
    },
    /// Stream a snapshot from this member into `part` (created new, 0600).
    Stream {
        member_id: u64,
        member: String,
        part: PathBuf,
        expected: u64,
        stall_limit: Duration,
    },
    /// fsync done by the stream; read the file back: its length, bbolt structure, revision, keys.
    Verify {
        part: PathBuf,
        bytes: u64,
    },
    /// Write the encryption key secrets read during the check (0600, new file).
    SaveKeys {
        path: PathBuf,
    },
    /// Move `part` to `snapshot` (and the archive's part to its name) without overwriting,
    /// then write the metadata (0600, new file).
    Publish {
        part: PathBuf,
        snapshot: PathBuf,
        /// The archive's part and final name (restore-grade backups).
        archive: Option<(PathBuf, PathBuf)>,
        metadata_path: PathBuf,
        metadata: Box<Metadata>,
    },
    /// List the backups in the directory (for `--keep`).
    List {
        dir: PathBuf,
    },
    /// Remove these older backups (snapshot and metadata each).
    Remove {
        backups: Vec<Existing>,
    },
    /// Remove what a failed run left (the part file, a key file written for it).
    CleanUp {
        paths: Vec<PathBuf>,
    },
    Finished(Outcome),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    Checked(Box<Checked>),
    /// Ok with what is worth saying (leftovers of earlier runs removed).
    Prepared(Result<Vec<String>, String>),
    ScriptRan(Result<ScriptRan, String>),
    Fetched(Result<Streamed, String>),
    /// What could not be removed (empty: all gone).
    TornDown(Vec<String>),
    ArchiveVerified(Result<crate::backup::archive::ArchiveFacts, String>),
    Streamed(Result<Streamed, String>),
    Verified(Result<Verified, String>),
    KeysSaved(Result<usize, String>),
    /// Ok with what is worth saying (a directory that could not be synced).
    Published(Result<Vec<String>, String>),
    Listed(Result<Vec<Existing>, String>),
    Removed(Vec<(PathBuf, Result<(), String>)>),
    CleanedUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Checking,
    Preparing,
    RunningScript,
    Streaming,
    FetchingArchive,
    TearingDown,
    VerifyingArchive,
    Verifying,
    SavingKeys,
    Publishing,
    Pruning,
    CleaningUp,
    Finished,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BackupRun {
    pub options: BackupOptions,
    pub stage: Stage,
    pub decision: Option<Decision>,
    pub streamed: Option<Streamed>,
    pub verified: Option<Verified>,
    /// What was said along the way, in order.
    pub notes: Vec<String>,
    /// Older backups removed by `--keep`.
    pub removed: Vec<PathBuf>,
    /// The key file written, if any.
    pub keys_saved: Option<(PathBuf, usize)>,
    /// What the archive was fetched as and found to hold.
    pub archive_streamed: Option<Streamed>,
    pub archive_facts: Option<crate::backup::archive::ArchiveFacts>,
    /// The node was reached (something there may need removing).
    remote_touched: bool,
    torn_down: bool,
    cleaned_up: bool,
    /// Older backups `--keep` decided to remove.
    pending_removal: Option<Vec<Existing>>,
    failure: Option<String>,
    outcome: Option<Outcome>,
}

/// `YYYY-MM-DD_HHMMSS` in UTC, as cluster-backup.sh names its files.
pub fn timestamp(at: SystemTime) -> String {
    let text = humantime::format_rfc3339_seconds(at).to_string();
    // 2026-12-01T18:38:54Z
    let date = text.get(0..10).unwrap_or("0000-00-00");
    let time: String = text.get(11..19).unwrap_or("000000").chars().filter(|c| *c != ':').collect();
    format!("{date}_{time}")
}

/// The refusals the OpenShift side gives, each a reason (cluster-backup.sh's checks).
pub fn refusals(openshift: &OpenShiftFacts) -> Vec<String> {
    let OpenShiftFacts::Read { encryption, rollouts, cluster_operators, problems, .. } = openshift else {
        return match openshift {
            OpenShiftFacts::Unreachable { why } => vec![format!(
                "cannot tell whether an encryption migration or a control-plane rollout is running: {why}"
            )],
            _ => Vec::new(),
        };
    };
    let mut reasons: Vec<String> = problems
        .iter()
        .filter(|p| CHECKED_OBJECTS.iter().any(|name| p.contains(name)))
        .map(|p| format!("cannot tell whether a migration or rollout runs: {p}"))
        .collect();
    if encryption.is_none() {
        reasons.push("the encryption state (APIServer cluster, the operators' Encrypted) could not be read".into());
    }
    if cluster_operators.is_empty() && rollouts.is_empty() {
        reasons.push("the control-plane operators' rollouts could not be read".into());
    }
    if let Some(encryption) = encryption.as_ref().filter(|e| e.in_progress()) {
        let who: Vec<String> = encryption
            .conditions
            .iter()
            .filter(|c| c.reason.ends_with("InProgress"))
            .map(|c| format!("{} {}", c.resource, c.reason))
            .collect();
        reasons.push(format!(
            "an encryption migration to {} is in progress ({}): a backup now may be only partly encrypted",
            encryption.kind,
            who.join(", ")
        ));
    }
    for (cluster_operator, short) in ROLLOUT_OPERATORS {
        let by_condition = cluster_operators.iter().find(|o| o.name == *cluster_operator && o.progressing == "True");
        let by_rollout = rollouts.iter().find(|r| r.operator == *short && r.progressing);
        match (by_condition, by_rollout) {
            (_, Some(r)) => reasons.push(format!(
                "the {cluster_operator} operator is rolling out revision {} (NodeInstallerProgressing: {})",
                r.latest_revision, r.message
            )),
            (Some(o), None) => reasons.push(format!("the {cluster_operator} operator is Progressing: {}", o.message)),
            (None, None) => {}
        }
    }
    reasons
}

impl BackupRun {
    pub fn new(options: BackupOptions) -> Result<BackupRun, String> {
        if let Some(keys) = &options.keys_dir {
            if together(keys, &options.dir) {
                return Err(format!(
                    "--encryption-keys {} is the backup directory, or inside it or around it: the keys must be \
                     stored apart from the snapshot",
                    keys.display()
                ));
            }
        }
        if options.keep == Some(0) {
            return Err("--keep 0 would remove the backup just taken: give 1 or more".into());
        }
        Ok(BackupRun {
            options,
            stage: Stage::Checking,
            decision: None,
            streamed: None,
            verified: None,
            notes: Vec::new(),
            removed: Vec::new(),
            keys_saved: None,
            archive_streamed: None,
            archive_facts: None,
            remote_touched: false,
            torn_down: false,
            cleaned_up: false,
            pending_removal: None,
            failure: None,
            outcome: None,
        })
    }

    /// Ends the run before its first step (the members could not even be looked for).
    pub fn refuse(&mut self, reason: String) {
        if self.outcome.is_none() && self.decision.is_none() {
            self.finish(Outcome::Refused { reason });
        }
    }

    /// The user's abort: before the backup is put in place, the run fails and cleans up; after,
    /// it is too late to take back (the backup stands).
    pub fn abort(&mut self) {
        if self.outcome.is_some() {
            return;
        }
        match self.stage {
            Stage::Checking => self.finish(Outcome::Failed { reason: "aborted by the user before it began".into() }),
            Stage::Preparing
            | Stage::RunningScript
            | Stage::Streaming
            | Stage::FetchingArchive
            | Stage::VerifyingArchive
            | Stage::Verifying
            | Stage::SavingKeys => self.fail("aborted by the user".into()),
            // Removing what is on the node goes on; the failure is said once it is done.
            Stage::TearingDown => {
                if self.failure.is_none() {
                    self.failure = Some("aborted by the user".into());
                }
            }
            Stage::Publishing | Stage::Pruning | Stage::CleaningUp | Stage::Finished => {}
        }
    }

    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// The next thing to do; the same until `observe` is given its result.
    pub fn next_action(&self) -> Action {
        if let Some(outcome) = &self.outcome {
            return Action::Finished(outcome.clone());
        }
        let check = || Action::Check { dir: self.options.dir.clone(), keys_dir: self.options.keys_dir.clone() };
        let Some(decision) = &self.decision else { return check() };
        let publish = || Action::Publish {
            part: decision.part.clone(),
            snapshot: decision.snapshot.clone(),
            archive: decision.archive_part.clone().zip(decision.archive.clone()),
            metadata_path: decision.metadata.clone(),
            metadata: Box::new(self.metadata()),
        };
        let remote = decision.remote.clone();
        match (self.stage, remote) {
            (Stage::Checking, _) => check(),
            (Stage::Preparing, Some(remote)) => Action::Prepare { remote },
            (Stage::RunningScript, Some(remote)) => Action::RunScript {
                remote,
                dir: self.options.dir.clone(),
                keys_dir: decision.keys.as_ref().and_then(|k| k.parent()).map(PathBuf::from),
            },
            (Stage::Streaming, Some(remote)) => Action::Fetch {
                path: format!("{}/{}", remote.dir, decision.remote_files.as_ref().map(|f| f.0.as_str()).unwrap_or("")),
                remote,
                part: decision.part.clone(),
                snapshot: true,
                expected: decision.db_size + 32,
                stall_limit: self.options.stall_limit,
            },
            (Stage::Streaming, None) => Action::Stream {
                member_id: decision.member_id,
                member: decision.member.clone(),
                part: decision.part.clone(),
                expected: decision.db_size,
                stall_limit: self.options.stall_limit,
            },
            (Stage::FetchingArchive, Some(remote)) => Action::Fetch {
                path: format!("{}/{}", remote.dir, decision.remote_files.as_ref().map(|f| f.1.as_str()).unwrap_or("")),
                remote,
                part: decision.archive_part.clone().unwrap_or_default(),
                snapshot: false,
                expected: 0,
                stall_limit: self.options.stall_limit,
            },
            (Stage::TearingDown, Some(remote)) => Action::TearDown { remote },
            (Stage::Verifying, _) => Action::Verify {
                part: decision.part.clone(),
                bytes: self.streamed.as_ref().map(|s| s.bytes).unwrap_or(0),
            },
            (Stage::VerifyingArchive, _) => Action::VerifyArchive {
                part: decision.archive_part.clone().unwrap_or_default(),
                bytes: self.archive_streamed.as_ref().map(|s| s.bytes).unwrap_or(0),
            },
            (Stage::SavingKeys, _) => match &decision.keys {
                Some(path) => Action::SaveKeys { path: path.clone() },
                None => publish(),
            },
            (Stage::Publishing, _) => publish(),
            (Stage::Pruning, _) => match &self.pending_removal {
                Some(backups) => Action::Remove { backups: backups.clone() },
                None => Action::List { dir: self.options.dir.clone() },
            },
            (Stage::CleaningUp, _) => {
                // A failed stream removes its own part (and leaves one it did not create).
                let mut paths: Vec<PathBuf> = Vec::new();
                if self.streamed.is_some() {
                    paths.push(decision.part.clone());
                }
                if let (Some(_), Some(part)) = (&self.archive_streamed, &decision.archive_part) {
                    paths.push(part.clone());
                }
                paths.extend(self.keys_saved.as_ref().map(|(p, _)| p.clone()));
                Action::CleanUp { paths }
            }
            (Stage::Finished, _) => Action::Finished(self.outcome.clone().unwrap_or(Outcome::Completed)),
            // A remote stage without a remote plan cannot happen; end rather than loop.
            (Stage::Preparing | Stage::RunningScript | Stage::FetchingArchive | Stage::TearingDown, None) => {
                Action::Finished(Outcome::Failed { reason: "internal: a remote step without a node".into() })
            }
        }
    }

    /// The metadata of the backup as far as it is known.
    pub fn metadata(&self) -> Metadata {
        let d = self.decision.clone();
        let name = |p: &Option<PathBuf>| {
            p.as_ref().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
        };
        let verified = self.verified.clone();
        Metadata {
            cluster_id: d.as_ref().map(|d| format!("{:x}", d.cluster_id)).unwrap_or_default(),
            member: d.as_ref().map(|d| d.member.clone()).unwrap_or_default(),
            member_id: d.as_ref().map(|d| format!("{:x}", d.member_id)).unwrap_or_default(),
            etcd_version: d.as_ref().map(|d| d.etcd_version.clone()).unwrap_or_default(),
            revision: verified.as_ref().map(|v| v.revision).unwrap_or_default(),
            db_size: self.streamed.as_ref().map(|s| s.bytes).unwrap_or_default(),
            sha256: self.streamed.as_ref().map(|s| s.sha256.clone()).unwrap_or_default(),
            hash: verified.as_ref().map(|v| format!("{:x}", v.hash)).unwrap_or_default(),
            total_keys: verified.as_ref().map(|v| v.total_keys).unwrap_or_default(),
            snapshot: name(&d.as_ref().map(|d| d.snapshot.clone())),
            taken_at: d.as_ref().map(|d| d.taken_at.clone()).unwrap_or_default(),
            verified: verified.is_some(),
            possibly_dirty: d.as_ref().is_some_and(|d| !d.dirty_because.is_empty()),
            dirty_because: d.as_ref().map(|d| d.dirty_because.clone()).unwrap_or_default(),
            openshift: d.as_ref().and_then(|d| {
                (d.cluster_version.is_some() || d.encryption_type.is_some()).then(|| OpenShiftMetadata {
                    cluster_version: d.cluster_version.clone(),
                    encryption_type: d.encryption_type.clone(),
                })
            }),
            encryption_keys: self.keys_saved.as_ref().map(|(p, _)| p.display().to_string()),
            restore_grade: self.archive_facts.is_some() && verified.is_some(),
            static_resources: d
                .as_ref()
                .and_then(|d| d.archive.as_ref())
                .and_then(|a| a.file_name())
                .map(|n| n.to_string_lossy().to_string()),
            static_resources_bytes: self.archive_streamed.as_ref().map(|s| s.bytes),
            static_resources_sha256: self.archive_streamed.as_ref().map(|s| s.sha256.clone()),
        }
    }

    fn finish(&mut self, outcome: Outcome) {
        self.stage = Stage::Finished;
        self.outcome = Some(outcome);
    }

    fn fail(&mut self, reason: String) {
        self.failure = Some(reason);
        self.stage = Stage::CleaningUp;
    }

    pub fn observe(&mut self, observed: Observed) {
        match observed {
            Observed::Checked(checked) => self.decide(&checked),
            Observed::Prepared(Ok(notes)) => {
                self.remote_touched = true;
                self.notes.extend(notes);
                self.stage = Stage::RunningScript;
            }
            Observed::Prepared(Err(e)) => {
                self.remote_touched = true;
                let node = self.decision.as_ref().and_then(|d| d.remote.as_ref()).map(|r| r.node.clone());
                self.fail(format!("{} could not be reached: {e}", node.unwrap_or_default()));
            }
            Observed::ScriptRan(Ok(ran)) => self.adopt(ran),
            Observed::ScriptRan(Err(e)) => self.fail(format!("cluster-backup.sh failed: {e}")),
            Observed::Fetched(Ok(fetched)) if self.stage == Stage::FetchingArchive => {
                self.archive_streamed = Some(fetched);
                self.stage = Stage::TearingDown;
            }
            Observed::Fetched(Ok(fetched)) => {
                if !fetched.trailer_matches {
                    self.fail("the snapshot's SHA-256 trailer does not match the bytes received from the node".into());
                } else {
                    self.streamed = Some(fetched);
                    self.stage = Stage::FetchingArchive;
                }
            }
            Observed::Fetched(Err(e)) => {
                let what = if self.stage == Stage::FetchingArchive { "static resources archive" } else { "snapshot" };
                self.fail(format!("reading the {what} off the node failed: {e}"));
            }
            Observed::TornDown(problems) => {
                self.torn_down = true;
                for problem in &problems {
                    self.notes.push(format!("left behind, remove it by hand: {problem}"));
                }
                match self.failure.take() {
                    Some(reason) if self.cleaned_up => self.finish(Outcome::Failed { reason }),
                    // Aborted while the node was being cleaned: the parts here go too.
                    Some(reason) => self.fail(reason),
                    None => self.stage = Stage::Verifying,
                }
            }
            Observed::ArchiveVerified(Ok(facts)) => {
                self.archive_facts = Some(facts);
                let wants_keys = self.decision.as_ref().is_some_and(|d| d.keys.is_some());
                self.stage = if wants_keys { Stage::SavingKeys } else { Stage::Publishing };
            }
            Observed::ArchiveVerified(Err(e)) => self.fail(format!("the static resources archive is not sound: {e}")),
            Observed::Streamed(Ok(streamed)) => {
                let expected = self.decision.as_ref().map(|d| d.db_size).unwrap_or(0);
                if !streamed.trailer_matches {
                    self.fail(
                        "the SHA-256 etcd sent at the end of the stream does not match the bytes received".into(),
                    );
                } else {
                    if expected > 0 && streamed.bytes != expected + 32 {
                        self.notes.push(format!(
                            "the snapshot is {} bytes; the member reported a DB of {expected} bytes when asked \
                             (it may have grown or shrunk since)",
                            streamed.bytes
                        ));
                    }
                    self.streamed = Some(streamed);
                    self.stage = Stage::Verifying;
                }
            }
            Observed::Streamed(Err(e)) => self.fail(format!("the snapshot stream failed: {e}")),
            Observed::Verified(Ok(verified)) => {
                self.verified = Some(verified);
                if self.decision.as_ref().is_some_and(|d| d.remote.is_some()) {
                    self.stage = Stage::VerifyingArchive;
                    return;
                }
                let wants_keys = self.decision.as_ref().is_some_and(|d| d.keys.is_some());
                self.stage = if wants_keys { Stage::SavingKeys } else { Stage::Publishing };
            }
            Observed::Verified(Err(e)) => self.fail(format!("the written snapshot is not sound: {e}")),
            // Said once the backup is in place (a later failure removes the file again).
            Observed::KeysSaved(Ok(count)) => {
                if let Some(path) = self.decision.as_ref().and_then(|d| d.keys.clone()) {
                    self.keys_saved = Some((path, count));
                }
                self.stage = Stage::Publishing;
            }
            Observed::KeysSaved(Err(e)) => self.fail(format!("the encryption keys could not be saved: {e}")),
            Observed::Published(Ok(notes)) => {
                self.notes.extend(notes);
                if let Some((path, count)) = &self.keys_saved {
                    self.notes.push(format!(
                        "{count} encryption key secret(s) saved to {}: a restore of this encrypted cluster needs \
                         them; store them apart from the snapshot (whoever has both can read every secret)",
                        path.display()
                    ));
                }
                if self.options.keep.is_some() {
                    self.stage = Stage::Pruning;
                } else {
                    self.finish(Outcome::Completed);
                }
            }
            Observed::Published(Err(e)) => self.fail(format!("the backup could not be put in place: {e}")),
            Observed::Listed(Ok(existing)) => {
                let backups = self.to_remove(existing);
                if backups.is_empty() {
                    self.finish(Outcome::Completed);
                } else {
                    self.stage = Stage::Pruning;
                    self.pending_removal = Some(backups);
                }
            }
            Observed::Listed(Err(e)) => {
                self.notes.push(format!("--keep: the directory could not be listed, nothing removed: {e}"));
                self.finish(Outcome::Completed);
            }
            Observed::Removed(results) => {
                self.pending_removal = None;
                for (path, result) in results {
                    match result {
                        Ok(()) => self.removed.push(path),
                        Err(e) => self.notes.push(format!("--keep: could not remove {}: {e}", path.display())),
                    }
                }
                self.finish(Outcome::Completed);
            }
            Observed::CleanedUp => {
                self.cleaned_up = true;
                if self.remote_touched && !self.torn_down {
                    if self.failure.is_none() {
                        self.failure = Some("failed".into());
                    }
                    self.stage = Stage::TearingDown;
                    return;
                }
                let reason = self.failure.take().unwrap_or_else(|| "failed".into());
                self.finish(Outcome::Failed { reason });
            }
        }
    }

    /// Older backups of this cluster beyond `--keep`, newest kept (the new one counts).
    fn to_remove(&self, existing: Vec<Existing>) -> Vec<Existing> {
        let Some(keep) = self.options.keep else { return Vec::new() };
        let Some(decision) = &self.decision else { return Vec::new() };
        let cluster = format!("{:x}", decision.cluster_id);
        // Only clean, verified backups of this cluster whose snapshot is there count and may go: a
        // possibly dirty one never replaces a clean one, and one without its snapshot is left alone.
        let mut ours: Vec<Existing> = existing
            .into_iter()
            .filter(|e| {
                e.metadata.cluster_id == cluster
                    && e.metadata.verified
                    && !e.metadata.possibly_dirty
                    && e.metadata_path != decision.metadata
                    && files::snapshot_of(e).is_some_and(|s| s.is_file())
            })
            .collect();
        // Newest first by the time it was taken (RFC 3339 in UTC sorts as text).
        ours.sort_by(|a, b| b.metadata.taken_at.cmp(&a.metadata.taken_at));
        let new_one_counts = usize::from(decision.dirty_because.is_empty());
        ours.into_iter().skip(keep.saturating_sub(new_one_counts)).collect()
    }

    /// Takes the names `cluster-backup.sh` gave (its own timestamp) for the files here, unless
    /// one of them is taken: then nothing is overwritten and the run fails.
    fn adopt(&mut self, ran: ScriptRan) {
        let stem = ran.snapshot.strip_prefix("snapshot_").and_then(|r| r.strip_suffix(".db")).map(str::to_string);
        let Some(stem) = stem.filter(|stem| ran.archive == format!("static_kuberesources_{stem}.tar.gz")) else {
            return self.fail(format!(
                "cluster-backup.sh made {} and {}, not one backup's snapshot_<ts>.db and \
                 static_kuberesources_<ts>.tar.gz",
                ran.snapshot, ran.archive
            ));
        };
        let Some(decision) = self.decision.as_mut() else { return };
        let mark = if decision.dirty_because.is_empty() || stem.contains(DIRTY_MARK) { "" } else { DIRTY_MARK };
        let names =
            Names::of(&self.options.dir, decision.keys.as_ref().and_then(|k| k.parent()), &format!("{stem}{mark}"));
        decision.timestamp = stem.trim_end_matches(DIRTY_MARK).to_string();
        decision.remote_files = Some((ran.snapshot, ran.archive));
        names.apply(decision);
        if let Some(taken) = names.taken(&ran.dir_names, &ran.keys_dir_names) {
            return self.fail(format!(
                "{} already exists (two backups in the same second?): it is never overwritten",
                taken.display()
            ));
        }
        self.stage = Stage::Streaming;
    }

    /// Decides from the first reading: the member, the refusals, the names.
    fn decide(&mut self, checked: &Checked) {
        for part in &checked.stale_parts_removed {
            self.notes.push(format!("removed {}, left by an earlier backup that was killed", part.display()));
        }
        if let Some(problem) = &checked.view.problem {
            return self.finish(Outcome::Refused { reason: problem.clone() });
        }
        let Some(cluster_id) = checked.view.cluster_id() else {
            return self.finish(Outcome::Refused {
                reason: "the members that answered do not agree on one cluster ID (or none answered Status)".into(),
            });
        };
        let leader = checked.view.leader();
        let healthy = |m: &&crate::wizard::defrag::engine::MemberView| {
            !m.is_learner && m.reading.as_ref().is_ok_and(|r| r.health.is_ok())
        };
        // The runbook's backup (cluster-backup.sh on a control-plane node) wherever an OpenShift
        // API lists the nodes; a direct snapshot otherwise, or when asked.
        let control_plane = match &checked.openshift {
            OpenShiftFacts::Read { control_plane, .. } if !self.options.snapshot_only && !self.options.read_only => {
                Some(control_plane.clone())
            }
            _ => None,
        };
        let openshift = matches!(checked.openshift, OpenShiftFacts::Read { .. });
        if openshift && self.options.read_only && !self.options.snapshot_only {
            self.notes.push(
                "--read-only: no debug pod is made on a node, so a direct snapshot only: not restore-grade \
                 (cluster-restore.sh also needs the static-pod resources)"
                    .into(),
            );
        } else if control_plane.is_none() && !self.options.snapshot_only {
            if let Some(node) = &self.options.node {
                return self.finish(Outcome::Refused {
                    reason: format!(
                        "--node {node}: no OpenShift API lists the nodes, so cluster-backup.sh cannot be run there \
                         (--snapshot-only takes a direct snapshot)"
                    ),
                });
            }
            self.notes.push(
                "a direct snapshot only (no OpenShift API): cluster-restore.sh also needs the static-pod resources \
                 that cluster-backup.sh saves on a control-plane node, so this backup is not restore-grade"
                    .into(),
            );
        }
        let node_ready =
            |name: &str| control_plane.as_ref().is_none_or(|nodes| nodes.iter().any(|n| n.name == name && n.ready));
        let wanted = match (&self.options.node, &self.options.member) {
            (Some(node), Some(member)) if control_plane.is_some() && node != member => {
                return self.finish(Outcome::Refused {
                    reason: format!(
                        "--node {node} and --member {member} disagree: cluster-backup.sh snapshots the member of \
                         the node it runs on"
                    ),
                })
            }
            (Some(node), _) if control_plane.is_some() => Some(node.clone()),
            (_, member) => member.clone(),
        };
        if let (Some(name), Some(nodes)) = (&wanted, &control_plane) {
            match nodes.iter().find(|n| &n.name == name) {
                None => {
                    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
                    return self.finish(Outcome::Refused {
                        reason: format!("{name} is not a control-plane node (they are: {})", names.join(", ")),
                    });
                }
                Some(n) if !n.ready => {
                    return self.finish(Outcome::Refused {
                        reason: format!("the node {name} is not Ready: cluster-backup.sh needs a working node"),
                    })
                }
                Some(_) => {}
            }
        }
        let flag = if self.options.node.is_some() && control_plane.is_some() { "--node" } else { "--member" };
        let chosen = match &wanted {
            Some(name) => match checked.view.members.iter().find(|m| &m.name == name) {
                None => {
                    let names: Vec<&str> = checked.view.members.iter().map(|m| m.name.as_str()).collect();
                    return self.finish(Outcome::Refused {
                        reason: format!("{flag} {name}: no such member (members: {})", names.join(", ")),
                    });
                }
                Some(m) if !healthy(&m) => {
                    let why = match &m.reading {
                        Err(e) => e.clone(),
                        Ok(r) => r.health.clone().err().unwrap_or_else(|| "it is a learner".into()),
                    };
                    return self.finish(Outcome::Refused {
                        reason: format!("{flag} {name} is not a healthy voting member: {why}"),
                    });
                }
                Some(m) => m,
            },
            None => {
                let mut candidates: Vec<_> =
                    checked.view.members.iter().filter(healthy).filter(|m| node_ready(&m.name)).collect();
                candidates.sort_by_key(|m| (Some(m.id) == leader, m.name.clone()));
                match candidates.first() {
                    Some(m) => *m,
                    None => {
                        let reason = if control_plane.is_some() {
                            "no Ready control-plane node has a healthy etcd member to run cluster-backup.sh on"
                        } else {
                            "no member is healthy to take it from"
                        };
                        return self.finish(Outcome::Refused { reason: reason.into() });
                    }
                }
            }
        };
        let was_leader = Some(chosen.id) == leader;
        if was_leader {
            self.notes.push(format!(
                "{} is the leader: serving the snapshot adds to its load (a follower is the default)",
                chosen.name
            ));
        }
        let mut dirty_because = refusals(&checked.openshift);
        if let Some(problem) = &checked.keys_problem {
            return self.finish(Outcome::Refused {
                reason: format!("--encryption-keys: the encryption key secrets could not be read: {problem}"),
            });
        }
        match &checked.openshift {
            OpenShiftFacts::NotConfigured => self
                .notes
                .push("no kubeconfig: whether an encryption migration or a rollout runs was not checked".into()),
            OpenShiftFacts::NotOpenShift { why } => {
                self.notes.push(format!("not an OpenShift cluster ({why}): no migration or rollout to check"))
            }
            OpenShiftFacts::Unreachable { .. } => {}
            OpenShiftFacts::Read { problems, cluster_version, desired_version, .. } => {
                for problem in problems {
                    self.notes.push(format!("could not read: {problem}"));
                }
                if let (Some(have), Some(want)) = (cluster_version, desired_version) {
                    if have != want {
                        dirty_because.push(format!("the cluster is updating from {have} to {want}"));
                    }
                }
            }
        }
        if !dirty_because.is_empty() && !self.options.force {
            return self.finish(Outcome::Refused {
                reason: format!("{} (--force takes it anyway, marked {DIRTY_MARK})", dirty_because.join("; ")),
            });
        }
        if !dirty_because.is_empty() {
            self.notes.push(format!("taken anyway (--force), marked {DIRTY_MARK}: {}", dirty_because.join("; ")));
        }
        let no_keys = match &checked.openshift {
            OpenShiftFacts::Read { key_secrets, encryption, .. } => key_secrets
                .is_empty()
                .then(|| encryption.as_ref().map(|e| e.kind.clone()).unwrap_or_else(|| "unknown".into())),
            _ => None,
        };
        let keys_dir = match (&self.options.keys_dir, no_keys) {
            (Some(_), Some(kind)) => {
                self.notes.push(format!(
                    "--encryption-keys: the cluster has no encryption key secrets (encryption type {kind}): none saved"
                ));
                None
            }
            (keys_dir, _) => keys_dir.clone(),
        };
        let reading = chosen.reading.as_ref().ok();
        let stamp = timestamp(checked.now);
        let mark = if dirty_because.is_empty() { "" } else { DIRTY_MARK };
        let dir = &self.options.dir;
        let (cluster_version, encryption_type) = match &checked.openshift {
            OpenShiftFacts::Read { cluster_version, encryption, .. } => {
                (cluster_version.clone(), encryption.as_ref().map(|e| e.kind.clone()))
            }
            _ => (None, None),
        };
        if keys_dir.is_none() && encryption_type.as_deref().is_some_and(|t| t != "identity" && !t.is_empty()) {
            self.notes.push(format!(
                "the cluster is encrypted ({}) and its encryption keys are NOT saved with this backup: a restore \
                 needs them (--encryption-keys DIR saves them, apart from the snapshot)",
                encryption_type.clone().unwrap_or_default()
            ));
        }
        let remote = control_plane.as_ref().map(|nodes| RemotePlan {
            via: self.options.via,
            node: chosen.name.clone(),
            ip: nodes.iter().find(|n| n.name == chosen.name).map(|n| n.ip.clone()).unwrap_or_default(),
            dir: format!("{REMOTE_DIR_PREFIX}{stamp}"),
            proxy: match &checked.openshift {
                OpenShiftFacts::Read { proxy, .. } => proxy.clone(),
                _ => Vec::new(),
            },
            force: !dirty_because.is_empty(),
        });
        let names = Names::of(dir, keys_dir.as_deref(), &format!("{stamp}{mark}"));
        if let Some(taken) = names.taken(&checked.dir_names, &checked.keys_dir_names) {
            return self.finish(Outcome::Refused {
                reason: format!(
                    "{} already exists (a backup taken in this same second?): it is never overwritten; try again",
                    taken.display()
                ),
            });
        }
        self.decision = Some(Decision {
            cluster_id,
            member_id: chosen.id,
            member: chosen.name.clone(),
            was_leader,
            etcd_version: reading.map(|r| r.version.clone()).unwrap_or_default(),
            db_size: reading.map(|r| r.figures.db_size).unwrap_or(0),
            timestamp: stamp.clone(),
            taken_at: humantime::format_rfc3339_seconds(checked.now).to_string(),
            dirty_because,
            part: dir.join(format!("snapshot_{stamp}{mark}.db.part")),
            snapshot: dir.join(format!("snapshot_{stamp}{mark}.db")),
            metadata: dir.join(format!("backup_{stamp}{mark}.json")),
            keys: keys_dir.as_ref().map(|k| k.join(format!("encryption_keys_{stamp}{mark}.json"))),
            cluster_version,
            encryption_type,
            archive: remote.as_ref().map(|_| names.archive.clone()),
            archive_part: remote.as_ref().map(|_| names.archive_part.clone()),
            remote_files: None,
            remote: remote.clone(),
        });
        self.stage = if remote.is_some() { Stage::Preparing } else { Stage::Streaming };
    }
}

/// A backup's file names in the backup and keys directories, from its stem (`<ts>[mark]`).
struct Names {
    snapshot: PathBuf,
    part: PathBuf,
    archive: PathBuf,
    archive_part: PathBuf,
    metadata: PathBuf,
    keys: Option<PathBuf>,
}

impl Names {
    fn of(dir: &std::path::Path, keys_dir: Option<&std::path::Path>, stem: &str) -> Names {
        Names {
            snapshot: dir.join(format!("snapshot_{stem}.db")),
            part: dir.join(format!("snapshot_{stem}.db.part")),
            archive: dir.join(format!("static_kuberesources_{stem}.tar.gz")),
            archive_part: dir.join(format!("static_kuberesources_{stem}.tar.gz.part")),
            metadata: dir.join(format!("backup_{stem}.json")),
            keys: keys_dir.map(|k| k.join(format!("encryption_keys_{stem}.json"))),
        }
    }

    /// The first of these names already in use (the directories' names as listed).
    fn taken(&self, dir_names: &[String], keys_dir_names: &[String]) -> Option<PathBuf> {
        let listed = |path: &PathBuf, names: &[String]| {
            path.file_name().is_some_and(|n| names.iter().any(|listed| n.to_string_lossy() == listed.as_str()))
        };
        [&self.snapshot, &self.part, &self.archive, &self.archive_part, &self.metadata]
            .into_iter()
            .find(|p| listed(p, dir_names))
            .cloned()
            .or_else(|| self.keys.as_ref().filter(|k| listed(k, keys_dir_names)).cloned())
    }

    fn apply(&self, decision: &mut Decision) {
        decision.snapshot = self.snapshot.clone();
        decision.part = self.part.clone();
        decision.metadata = self.metadata.clone();
        decision.keys = self.keys.clone();
        if decision.remote.is_some() {
            decision.archive = Some(self.archive.clone());
            decision.archive_part = Some(self.archive_part.clone());
        }
    }
}

/// One directory is the other or holds it (compared as they resolve when they exist; the
/// front end makes them first).
fn together(a: &std::path::Path, b: &std::path::Path) -> bool {
    let resolve = |p: &std::path::Path| {
        p.canonicalize()
            .unwrap_or_else(|_| std::env::current_dir().map(|cwd| cwd.join(p)).unwrap_or_else(|_| p.to_path_buf()))
    };
    let (a, b) = (resolve(a), resolve(b));
    a.starts_with(&b) || b.starts_with(&a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openshift::model::EncryptedCondition;
    use crate::wizard::defrag::engine::{MemberReading, MemberView};
    use crate::wizard::defrag::Figures;

    const CLUSTER: u64 = 0xc1;

    fn member(id: u64, name: &str, leader: u64, healthy: bool) -> MemberView {
        MemberView {
            id,
            name: name.into(),
            is_learner: false,
            reading: Ok(MemberReading {
                figures: Figures { db_size: 100 << 20, db_size_in_use: 60 << 20, quota: 8 << 30 },
                leader_id: leader,
                raft_term: 3,
                raft_index: 100,
                raft_applied_index: 100,
                health: if healthy { Ok(()) } else { Err("context deadline exceeded".into()) },
                alarms: Vec::new(),
                cluster_id: CLUSTER,
                version: "3.4.23".into(),
            }),
        }
    }

    fn view(leader: u64, unhealthy: &[u64]) -> ClusterView {
        let members = [(1, "master-0"), (2, "master-1"), (3, "master-2")]
            .iter()
            .map(|(id, name)| member(*id, name, leader, !unhealthy.contains(id)))
            .collect();
        ClusterView { members, problem: None }
    }

    fn openshift(migrating: bool, etcd_progressing: bool) -> OpenShiftFacts {
        let reason = if migrating { "EncryptionInProgress" } else { "EncryptionCompleted" };
        OpenShiftFacts::Read {
            encryption: Some(Encryption {
                kind: "aescbc".into(),
                conditions: vec![EncryptedCondition {
                    resource: "kubeapiserver".into(),
                    status: "False".into(),
                    reason: reason.into(),
                    message: String::new(),
                    since: None,
                }],
            }),
            rollouts: Vec::new(),
            cluster_operators: ["etcd", "kube-apiserver"]
                .iter()
                .map(|name| OperatorStatus {
                    name: name.to_string(),
                    available: "True".into(),
                    progressing: if etcd_progressing && *name == "etcd" { "True" } else { "False" }.into(),
                    degraded: "False".into(),
                    message: "NodeInstallerProgressing: 1 node is at revision 7".into(),
                })
                .collect(),
            cluster_version: Some("4.14.8".into()),
            desired_version: Some("4.14.8".into()),
            key_secrets: vec!["encryption-key-openshift-apiserver-1".into()],
            problems: Vec::new(),
            control_plane: ["master-0", "master-1", "master-2"]
                .iter()
                .enumerate()
                .map(|(i, name)| NodeFacts { name: name.to_string(), ready: true, ip: format!("10.0.0.{}", i + 10) })
                .collect(),
            proxy: Vec::new(),
        }
    }

    fn options(dir: &str) -> BackupOptions {
        BackupOptions {
            dir: PathBuf::from(dir),
            keys_dir: None,
            member: None,
            force: false,
            keep: None,
            stall_limit: Duration::from_secs(30),
            snapshot_only: true,
            via: Via::Api,
            node: None,
            read_only: false,
        }
    }

    fn checked(view: ClusterView, openshift: OpenShiftFacts) -> Observed {
        // 2026-12-01T03:04:05Z
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_094_245);
        Observed::Checked(Box::new(Checked {
            view,
            openshift,
            keys_problem: None,
            now,
            dir_names: Vec::new(),
            keys_dir_names: Vec::new(),
            stale_parts_removed: Vec::new(),
        }))
    }

    fn streamed(bytes: u64) -> Observed {
        Observed::Streamed(Ok(Streamed {
            bytes,
            took: Duration::from_millis(300),
            sha256: "ab".repeat(32),
            trailer_matches: true,
        }))
    }

    fn verified() -> Observed {
        Observed::Verified(Ok(Verified { revision: 42, hash: 0xbeef, total_keys: 7, total_size: 100 << 20 }))
    }

    #[test]
    fn a_follower_by_name_serves_it_and_the_files_carry_the_runbook_timestamp() {
        let mut run = BackupRun::new(options("/b")).unwrap();
        assert!(matches!(run.next_action(), Action::Check { .. }));
        run.observe(checked(view(1, &[]), openshift(false, false)));
        let Action::Stream { member, part, expected, .. } = run.next_action() else { panic!("{run:?}") };
        assert_eq!(member, "master-1", "the first healthy follower by name; master-0 leads");
        assert_eq!(part, PathBuf::from("/b/snapshot_2026-12-01_030405.db.part"));
        assert_eq!(expected, 100 << 20);
        run.observe(streamed((100 << 20) + 32));
        assert_eq!(run.next_action(), Action::Verify { part: part.clone(), bytes: (100 << 20) + 32 });
        run.observe(verified());
        let Action::Publish { snapshot, metadata_path, metadata, .. } = run.next_action() else { panic!() };
        assert_eq!(snapshot, PathBuf::from("/b/snapshot_2026-12-01_030405.db"));
        assert_eq!(metadata_path, PathBuf::from("/b/backup_2026-12-01_030405.json"));
        assert_eq!(metadata.cluster_id, "c1");
        assert_eq!((metadata.member.as_str(), metadata.member_id.as_str()), ("master-1", "2"));
        assert_eq!((metadata.revision, metadata.total_keys, metadata.db_size), (42, 7, (100 << 20) + 32));
        assert_eq!(metadata.hash, "beef");
        assert!(metadata.verified && !metadata.possibly_dirty);
        assert_eq!(
            metadata.openshift,
            Some(OpenShiftMetadata { cluster_version: Some("4.14.8".into()), encryption_type: Some("aescbc".into()) })
        );
        run.observe(Observed::Published(Ok(Vec::new())));
        assert_eq!(run.outcome(), Some(&Outcome::Completed));
    }

    #[test]
    fn the_member_named_must_be_healthy_and_the_leader_is_taken_only_when_named_or_alone() {
        let mut named = BackupRun::new(BackupOptions { member: Some("master-2".into()), ..options("/b") }).unwrap();
        named.observe(checked(view(1, &[3]), openshift(false, false)));
        let Some(Outcome::Refused { reason }) = named.outcome() else { panic!("{named:?}") };
        assert!(reason.contains("master-2 is not a healthy voting member: context deadline"), "{reason}");

        let mut unknown = BackupRun::new(BackupOptions { member: Some("etcd-9".into()), ..options("/b") }).unwrap();
        unknown.observe(checked(view(1, &[]), openshift(false, false)));
        let Some(Outcome::Refused { reason }) = unknown.outcome() else { panic!() };
        assert!(reason.contains("no such member (members: master-0, master-1, master-2)"), "{reason}");

        let mut only_leader = BackupRun::new(options("/b")).unwrap();
        only_leader.observe(checked(view(1, &[2, 3]), openshift(false, false)));
        let Action::Stream { member, .. } = only_leader.next_action() else { panic!() };
        assert_eq!(member, "master-0");
        assert!(only_leader.notes[0].contains("master-0 is the leader"), "{:?}", only_leader.notes);

        let mut none = BackupRun::new(options("/b")).unwrap();
        none.observe(checked(view(1, &[1, 2, 3]), openshift(false, false)));
        assert!(matches!(none.outcome(), Some(Outcome::Refused { .. })));
    }

    #[test]
    fn a_migration_or_a_rollout_refuses_it_and_force_marks_every_name() {
        for facts in
            [openshift(true, false), openshift(false, true), OpenShiftFacts::Unreachable { why: "no answer".into() }]
        {
            let mut run = BackupRun::new(options("/b")).unwrap();
            run.observe(checked(view(1, &[]), facts.clone()));
            let Some(Outcome::Refused { reason }) = run.outcome() else { panic!("{facts:?}: {run:?}") };
            assert!(reason.contains("--force takes it anyway, marked __POSSIBLY_DIRTY__"), "{reason}");
        }
        let mut refused = BackupRun::new(options("/b")).unwrap();
        refused.observe(checked(view(1, &[]), openshift(true, true)));
        let Some(Outcome::Refused { reason }) = refused.outcome() else { panic!() };
        assert!(reason.contains("encryption migration to aescbc is in progress (kubeapiserver EncryptionInProgress)"));
        assert!(reason.contains("the etcd operator is Progressing"), "{reason}");

        let keys = BackupOptions { force: true, keys_dir: Some("/k".into()), ..options("/b") };
        let mut forced = BackupRun::new(keys).unwrap();
        forced.observe(checked(view(1, &[]), openshift(true, false)));
        let d = forced.decision.clone().unwrap();
        assert_eq!(d.snapshot, PathBuf::from("/b/snapshot_2026-12-01_030405__POSSIBLY_DIRTY__.db"));
        assert_eq!(d.metadata, PathBuf::from("/b/backup_2026-12-01_030405__POSSIBLY_DIRTY__.json"));
        assert_eq!(d.keys, Some(PathBuf::from("/k/encryption_keys_2026-12-01_030405__POSSIBLY_DIRTY__.json")));
        assert!(forced.metadata().possibly_dirty);
    }

    #[test]
    fn without_openshift_it_goes_on_and_says_what_was_not_checked() {
        let mut run = BackupRun::new(options("/b")).unwrap();
        run.observe(checked(view(1, &[]), OpenShiftFacts::NotConfigured));
        assert!(matches!(run.next_action(), Action::Stream { .. }));
        assert!(run.notes[0].contains("was not checked"));
        assert_eq!(run.metadata().openshift, None);
    }

    #[test]
    fn a_bad_stream_or_file_cleans_up_and_fails() {
        let mut bad_trailer = BackupRun::new(options("/b")).unwrap();
        bad_trailer.observe(checked(view(1, &[]), openshift(false, false)));
        bad_trailer.observe(Observed::Streamed(Ok(Streamed {
            bytes: 544,
            took: Duration::from_millis(1),
            sha256: String::new(),
            trailer_matches: false,
        })));
        assert_eq!(bad_trailer.next_action(), Action::CleanUp { paths: vec![] }, "the executor removed its part");
        bad_trailer.observe(Observed::CleanedUp);
        let Some(Outcome::Failed { reason }) = bad_trailer.outcome() else { panic!() };
        assert!(reason.contains("SHA-256"), "{reason}");

        let mut unsound = BackupRun::new(BackupOptions { keys_dir: Some("/k".into()), ..options("/b") }).unwrap();
        unsound.observe(checked(view(1, &[]), openshift(false, false)));
        unsound.observe(streamed(544));
        unsound.observe(verified());
        assert!(matches!(unsound.next_action(), Action::SaveKeys { .. }));
        unsound.observe(Observed::KeysSaved(Ok(3)));
        unsound.observe(Observed::Published(Err("/b/snapshot_x.db already exists".into())));
        let Action::CleanUp { paths } = unsound.next_action() else { panic!() };
        assert_eq!(paths.len(), 2, "the part and the key file written for it: {paths:?}");
    }

    fn existing(dir: &std::path::Path, cluster: &str, taken_at: &str, verified: bool, dirty: bool) -> Existing {
        let stamp = taken_at.replace(':', "");
        let snapshot = format!("snapshot_{stamp}.db");
        std::fs::write(dir.join(&snapshot), b"db").unwrap();
        Existing {
            metadata_path: dir.join(format!("backup_{stamp}.json")),
            metadata: Metadata {
                cluster_id: cluster.into(),
                member: "master-1".into(),
                member_id: "2".into(),
                etcd_version: "3.4.23".into(),
                revision: 1,
                db_size: 1,
                sha256: String::new(),
                hash: String::new(),
                total_keys: 1,
                snapshot,
                taken_at: taken_at.into(),
                verified,
                possibly_dirty: dirty,
                dirty_because: Vec::new(),
                openshift: None,
                encryption_keys: None,
                restore_grade: false,
                static_resources: None,
                static_resources_bytes: None,
                static_resources_sha256: None,
            },
        }
    }

    fn pruned(force: bool, keep: usize, existing: Vec<Existing>) -> Vec<String> {
        let facts = if force { openshift(true, false) } else { openshift(false, false) };
        let mut run = BackupRun::new(BackupOptions { keep: Some(keep), force, ..options("/b") }).unwrap();
        run.observe(checked(view(1, &[]), facts));
        run.observe(streamed(544));
        run.observe(verified());
        run.observe(Observed::Published(Ok(Vec::new())));
        assert_eq!(run.next_action(), Action::List { dir: PathBuf::from("/b") });
        run.observe(Observed::Listed(Ok(existing)));
        match run.next_action() {
            Action::Remove { backups } => backups.iter().map(|b| b.metadata.taken_at.clone()).collect(),
            Action::Finished(Outcome::Completed) => Vec::new(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keep_removes_only_this_clusters_older_clean_backups_after_the_new_one_is_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let orphan = existing(d, "c1", "2026-11-27T01:00:00Z", true, false);
        std::fs::remove_file(files::snapshot_of(&orphan).unwrap()).unwrap();
        let all = || {
            vec![
                existing(d, "c1", "2026-11-29T01:00:00Z", true, false),
                existing(d, "c1", "2026-11-30T01:00:00Z", true, false),
                existing(d, "c1", "2026-11-28T01:00:00Z", true, false),
                existing(d, "c1", "2026-11-30T02:00:00Z", true, true),
                existing(d, "c1", "2026-11-01T01:00:00Z", false, false),
                existing(d, "99", "2026-10-01T01:00:00Z", true, false),
                orphan.clone(),
            ]
        };
        assert_eq!(
            pruned(false, 2, all()),
            ["2026-11-29T01:00:00Z", "2026-11-28T01:00:00Z"],
            "the new one and the newest clean old one stay; dirty, unverified, foreign and orphaned are left"
        );
        assert_eq!(
            pruned(true, 2, all()),
            ["2026-11-28T01:00:00Z"],
            "a dirty new backup does not count: the two newest clean ones stay"
        );
        assert_eq!(pruned(false, 5, all()), Vec::<String>::new());
    }

    /// The settled cluster's facts with no key secrets and these problems.
    fn clean_facts_with(problems: Vec<String>) -> OpenShiftFacts {
        match openshift(false, false) {
            OpenShiftFacts::Read {
                encryption,
                rollouts,
                cluster_operators,
                cluster_version,
                desired_version,
                control_plane,
                proxy,
                ..
            } => OpenShiftFacts::Read {
                encryption,
                rollouts,
                cluster_operators,
                cluster_version,
                desired_version,
                key_secrets: Vec::new(),
                problems,
                control_plane,
                proxy,
            },
            other => other,
        }
    }

    #[test]
    fn an_operator_object_that_cannot_be_read_refuses_it() {
        let facts = clean_facts_with(vec![
            "reading kubeapiservers.operator.openshift.io/cluster: not allowed (403 Forbidden): no".into(),
            "listing CSRs: not allowed (403 Forbidden): no".into(),
        ]);
        let reasons = refusals(&facts);
        assert_eq!(reasons.len(), 1, "the CSRs do not matter, the kube-apiserver operator does: {reasons:?}");
        assert!(reasons[0].contains("cannot tell") && reasons[0].contains("kubeapiservers"), "{reasons:?}");
    }

    #[test]
    fn an_abort_before_the_backup_is_in_place_cleans_up_after_it_is_too_late() {
        let mut streaming = BackupRun::new(options("/b")).unwrap();
        streaming.observe(checked(view(1, &[]), openshift(false, false)));
        streaming.observe(streamed(544));
        streaming.abort();
        let Action::CleanUp { paths } = streaming.next_action() else { panic!("{streaming:?}") };
        assert_eq!(paths, [PathBuf::from("/b/snapshot_2026-12-01_030405.db.part")], "the verified part goes");
        streaming.observe(Observed::CleanedUp);
        assert_eq!(streaming.outcome(), Some(&Outcome::Failed { reason: "aborted by the user".into() }));

        let mut placed = BackupRun::new(BackupOptions { keep: Some(3), ..options("/b") }).unwrap();
        placed.observe(checked(view(1, &[]), openshift(false, false)));
        placed.observe(streamed(544));
        placed.observe(verified());
        placed.observe(Observed::Published(Ok(Vec::new())));
        placed.abort();
        assert!(matches!(placed.next_action(), Action::List { .. }), "in place: it stands");
    }

    #[test]
    fn bad_options_are_refused_before_anything() {
        assert!(BackupRun::new(BackupOptions { keep: Some(0), ..options("/b") }).is_err());
        let same = BackupRun::new(BackupOptions { keys_dir: Some("/b".into()), ..options("/b") });
        assert!(same.unwrap_err().contains("stored apart"));
        let inside = BackupRun::new(BackupOptions { keys_dir: Some("/b/keys".into()), ..options("/b") });
        assert!(inside.is_err());
        let apart = BackupRun::new(BackupOptions { keys_dir: Some("/k".into()), ..options("/b") });
        assert!(apart.is_ok());
    }

    #[test]
    fn no_key_secrets_means_no_key_file_and_a_note() {
        let facts = clean_facts_with(Vec::new());
        let mut run = BackupRun::new(BackupOptions { keys_dir: Some("/k".into()), ..options("/b") }).unwrap();
        run.observe(checked(view(1, &[]), facts));
        assert_eq!(run.decision.as_ref().unwrap().keys, None);
        assert!(run.notes.iter().any(|n| n.contains("no encryption key secrets")), "{:?}", run.notes);
    }

    fn restore_grade(dir: &str) -> BackupOptions {
        BackupOptions { snapshot_only: false, ..options(dir) }
    }

    fn script_ran(stem: &str) -> Observed {
        Observed::ScriptRan(Ok(ScriptRan {
            snapshot: format!("snapshot_{stem}.db"),
            archive: format!("static_kuberesources_{stem}.tar.gz"),
            output: "snapshot db and kube resources are successfully saved to /home/core/assets/x".into(),
            dir_names: Vec::new(),
            keys_dir_names: Vec::new(),
        }))
    }

    fn fetched(bytes: u64) -> Observed {
        let Observed::Streamed(result) = streamed(bytes) else { unreachable!() };
        Observed::Fetched(result)
    }

    fn archive_verified() -> Observed {
        Observed::ArchiveVerified(Ok(crate::backup::archive::ArchiveFacts { entries: 12, revisions: Vec::new() }))
    }

    #[test]
    fn restore_grade_runs_the_script_on_a_follower_node_and_cleans_the_node_before_the_files_are_checked() {
        let mut run = BackupRun::new(restore_grade("/b")).unwrap();
        run.observe(checked(view(1, &[]), openshift(false, false)));
        let Action::Prepare { remote } = run.next_action() else { panic!("{:?}", run.next_action()) };
        assert_eq!((remote.node.as_str(), remote.ip.as_str()), ("master-1", "10.0.0.11"), "a follower's node");
        assert_eq!(remote.dir, format!("{REMOTE_DIR_PREFIX}2026-12-01_030405"));
        run.observe(Observed::Prepared(Ok(vec!["removed namespace etcd-console-backup-old".into()])));
        assert!(matches!(run.next_action(), Action::RunScript { .. }));
        // The script's own timestamp names the files here.
        run.observe(script_ran("2026-12-01_030406"));
        let Action::Fetch { path, part, snapshot: true, .. } = run.next_action() else { panic!() };
        assert_eq!(path, format!("{REMOTE_DIR_PREFIX}2026-12-01_030405/snapshot_2026-12-01_030406.db"));
        assert_eq!(part, PathBuf::from("/b/snapshot_2026-12-01_030406.db.part"));
        run.observe(fetched(544));
        let Action::Fetch { snapshot: false, part, .. } = run.next_action() else { panic!() };
        assert_eq!(part, PathBuf::from("/b/static_kuberesources_2026-12-01_030406.tar.gz.part"));
        run.observe(Observed::Fetched(Ok(Streamed {
            bytes: 2399,
            took: Duration::from_millis(5),
            sha256: "cd".repeat(32),
            trailer_matches: false,
        })));
        assert!(matches!(run.next_action(), Action::TearDown { .. }), "the node is left as found first");
        run.observe(Observed::TornDown(Vec::new()));
        assert!(matches!(run.next_action(), Action::Verify { bytes: 544, .. }));
        run.observe(verified());
        assert!(matches!(run.next_action(), Action::VerifyArchive { bytes: 2399, .. }));
        run.observe(archive_verified());
        let Action::Publish { archive, metadata, metadata_path, .. } = run.next_action() else { panic!() };
        assert_eq!(
            archive,
            Some((
                PathBuf::from("/b/static_kuberesources_2026-12-01_030406.tar.gz.part"),
                PathBuf::from("/b/static_kuberesources_2026-12-01_030406.tar.gz")
            ))
        );
        assert_eq!(metadata_path, PathBuf::from("/b/backup_2026-12-01_030406.json"));
        assert!(metadata.restore_grade);
        assert_eq!(metadata.static_resources.as_deref(), Some("static_kuberesources_2026-12-01_030406.tar.gz"));
        assert_eq!(metadata.static_resources_bytes, Some(2399));
        run.observe(Observed::Published(Ok(Vec::new())));
        assert_eq!(run.outcome(), Some(&Outcome::Completed));
    }

    #[test]
    fn a_failure_or_an_abort_on_the_node_removes_the_parts_here_and_what_is_there() {
        let mut failed = BackupRun::new(restore_grade("/b")).unwrap();
        failed.observe(checked(view(1, &[]), openshift(false, false)));
        failed.observe(Observed::Prepared(Ok(Vec::new())));
        failed.observe(Observed::ScriptRan(Err("exit 1 on master-1: tar: Cannot open".into())));
        assert_eq!(failed.next_action(), Action::CleanUp { paths: vec![] });
        failed.observe(Observed::CleanedUp);
        assert!(matches!(failed.next_action(), Action::TearDown { .. }), "the node's directory and pod go");
        failed.observe(Observed::TornDown(Vec::new()));
        let Some(Outcome::Failed { reason }) = failed.outcome() else { panic!("{failed:?}") };
        assert!(reason.contains("cluster-backup.sh failed: exit 1"), "{reason}");

        // A debug pod that never ran: its namespace is still removed (it may exist).
        let mut unreached = BackupRun::new(restore_grade("/b")).unwrap();
        unreached.observe(checked(view(1, &[]), openshift(false, false)));
        unreached.observe(Observed::Prepared(Err("ImagePullBackOff".into())));
        unreached.observe(Observed::CleanedUp);
        assert!(matches!(unreached.next_action(), Action::TearDown { .. }));

        // Aborted while the archive comes: the snapshot's part here and the node both cleaned.
        let mut aborted = BackupRun::new(restore_grade("/b")).unwrap();
        aborted.observe(checked(view(1, &[]), openshift(false, false)));
        aborted.observe(Observed::Prepared(Ok(Vec::new())));
        aborted.observe(script_ran("2026-12-01_030406"));
        aborted.observe(fetched(544));
        aborted.abort();
        aborted.observe(Observed::Fetched(Err("aborted by the user".into())));
        let Action::CleanUp { paths } = aborted.next_action() else { panic!() };
        assert_eq!(paths, vec![PathBuf::from("/b/snapshot_2026-12-01_030406.db.part")]);
        aborted.observe(Observed::CleanedUp);
        aborted.observe(Observed::TornDown(vec!["namespace x: 500".into()]));
        let Some(Outcome::Failed { reason }) = aborted.outcome() else { panic!() };
        assert!(reason.contains("aborted"), "{reason}");
        assert!(
            aborted.notes.iter().any(|n| n.contains("left behind") && n.contains("namespace x")),
            "{:?}",
            aborted.notes
        );
    }

    #[test]
    fn names_already_taken_are_refused_before_any_work_and_keys_are_claimed_only_once_in_place() {
        let mut run = BackupRun::new(BackupOptions { keys_dir: Some("/k".into()), ..options("/b") }).unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_094_245);
        run.observe(Observed::Checked(Box::new(Checked {
            view: view(1, &[]),
            openshift: openshift(false, false),
            keys_problem: None,
            now,
            dir_names: vec!["backup_2026-12-01_030405.json".into()],
            keys_dir_names: Vec::new(),
            stale_parts_removed: Vec::new(),
        })));
        let Some(Outcome::Refused { reason }) = run.outcome() else { panic!("{run:?}") };
        assert!(reason.contains("backup_2026-12-01_030405.json already exists"), "{reason}");

        // The script's own timestamp taken here already: nothing fetched, the node cleaned, refused.
        let mut taken = BackupRun::new(restore_grade("/b")).unwrap();
        taken.observe(checked(view(1, &[]), openshift(false, false)));
        taken.observe(Observed::Prepared(Ok(Vec::new())));
        taken.observe(Observed::ScriptRan(Ok(ScriptRan {
            dir_names: vec!["static_kuberesources_2026-12-01_030406.tar.gz".into()],
            ..match script_ran("2026-12-01_030406") {
                Observed::ScriptRan(Ok(ran)) => ran,
                _ => unreachable!(),
            }
        })));
        assert_eq!(taken.next_action(), Action::CleanUp { paths: vec![] });
        taken.observe(Observed::CleanedUp);
        taken.observe(Observed::TornDown(Vec::new()));
        let Some(Outcome::Failed { reason }) = taken.outcome() else { panic!("{taken:?}") };
        assert!(reason.contains("static_kuberesources_2026-12-01_030406.tar.gz already exists"), "{reason}");

        // The key file is claimed once the backup is in place, never before.
        let mut keys = BackupRun::new(BackupOptions { keys_dir: Some("/k".into()), ..options("/b") }).unwrap();
        keys.observe(checked(view(1, &[]), openshift(false, false)));
        keys.observe(streamed(544));
        keys.observe(verified());
        keys.observe(Observed::KeysSaved(Ok(3)));
        assert!(!keys.notes.iter().any(|n| n.contains("saved to")), "{:?}", keys.notes);
        let mut failing = keys.clone();
        keys.observe(Observed::Published(Ok(Vec::new())));
        assert!(keys.notes.iter().any(|n| n.contains("3 encryption key secret(s) saved to /k/")), "{:?}", keys.notes);
        failing.observe(Observed::Published(Err("/b/snapshot_x.db already exists".into())));
        failing.observe(Observed::CleanedUp);
        assert!(!failing.notes.iter().any(|n| n.contains("saved to")), "a removed file is never claimed");
    }

    #[test]
    fn the_node_must_be_ready_and_without_an_api_it_is_a_direct_snapshot_said_so() {
        let mut facts = openshift(false, false);
        if let OpenShiftFacts::Read { control_plane, .. } = &mut facts {
            control_plane[1].ready = false;
        }
        let mut default = BackupRun::new(restore_grade("/b")).unwrap();
        default.observe(checked(view(1, &[]), facts.clone()));
        let Action::Prepare { remote } = default.next_action() else { panic!() };
        assert_eq!(remote.node, "master-2", "master-1's node is not Ready: the other follower's");

        let mut named = BackupRun::new(BackupOptions { node: Some("master-1".into()), ..restore_grade("/b") }).unwrap();
        named.observe(checked(view(1, &[]), facts));
        let Some(Outcome::Refused { reason }) = named.outcome() else { panic!() };
        assert!(reason.contains("master-1 is not Ready"), "{reason}");

        let mut read_only = BackupRun::new(BackupOptions { read_only: true, ..restore_grade("/b") }).unwrap();
        read_only.observe(checked(view(1, &[]), openshift(false, false)));
        assert!(matches!(read_only.next_action(), Action::Stream { .. }), "no debug pod under --read-only");
        assert!(read_only.notes.iter().any(|n| n.contains("--read-only")), "{:?}", read_only.notes);

        let mut plain = BackupRun::new(restore_grade("/b")).unwrap();
        plain.observe(checked(view(1, &[]), OpenShiftFacts::NotConfigured));
        assert!(matches!(plain.next_action(), Action::Stream { .. }));
        assert!(plain.notes.iter().any(|n| n.contains("not restore-grade")), "{:?}", plain.notes);

        // An encrypted cluster without --encryption-keys is told so.
        let mut unsaved = BackupRun::new(options("/b")).unwrap();
        unsaved.observe(checked(view(1, &[]), openshift(false, false)));
        assert!(unsaved.notes.iter().any(|n| n.contains("aescbc") && n.contains("NOT saved")), "{:?}", unsaved.notes);
    }
}
