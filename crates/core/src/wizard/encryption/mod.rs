//! The encryption migration wizard's engine: a plain state machine the
//! console and `etcd-console encryption set` both drive. It reads the
//! cluster, refuses the unsafe cases, asks for the yes, offers a backup first,
//! patches APIServer `cluster`, then follows the operators' `Encrypted`
//! conditions to the end. Every rule lives here; the executor only talks to
//! the API (and the backup engine).

pub mod executor;

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::openshift::model::OperatorStatus;

/// What `spec.encryption.type` may be set to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EncryptionType {
    Identity,
    Aescbc,
    Aesgcm,
}

impl EncryptionType {
    pub fn as_str(self) -> &'static str {
        match self {
            EncryptionType::Identity => "identity",
            EncryptionType::Aescbc => "aescbc",
            EncryptionType::Aesgcm => "aesgcm",
        }
    }

    /// The type as APIServer spells it ("" or missing is identity).
    pub fn parse(text: &str) -> Option<EncryptionType> {
        match text {
            "" | "identity" => Some(EncryptionType::Identity),
            "aescbc" => Some(EncryptionType::Aescbc),
            "aesgcm" => Some(EncryptionType::Aesgcm),
            _ => None,
        }
    }

    /// The `Encrypted` reason an operator reports once it has finished migrating to this type.
    pub fn done_reason(self) -> &'static str {
        match self {
            EncryptionType::Identity => "DecryptionCompleted",
            _ => "EncryptionCompleted",
        }
    }

    /// Whether `reason` says an operator is done with this type (identity: decrypted, or never encrypted).
    pub fn is_done(self, reason: &str) -> bool {
        reason == self.done_reason() || (self == EncryptionType::Identity && reason == "EncryptionDisabled")
    }

    pub const ALL: [EncryptionType; 3] = [EncryptionType::Identity, EncryptionType::Aescbc, EncryptionType::Aesgcm];
}

/// An `Encrypted` condition as an operator wrote it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    pub status: String,
    pub reason: String,
    pub message: String,
    /// lastTransitionTime.
    pub since: Option<String>,
}

impl Condition {
    /// The resources the message names (`All resources encrypted: routes.route.openshift.io, ...`).
    pub fn resources(&self) -> Vec<String> {
        match self.message.rsplit_once(": ") {
            Some((_, list)) if self.reason.starts_with("Encryption") || self.reason.starts_with("Decryption") => {
                list.split(',').map(|r| r.trim().to_string()).filter(|r| !r.is_empty() && !r.contains(' ')).collect()
            }
            _ => Vec::new(),
        }
    }

    fn same_state(&self, other: &Condition) -> bool {
        self.status == other.status && self.reason == other.reason && self.since == other.since
    }
}

/// One of the operators that report `Encrypted` (OpenShiftAPIServer, KubeAPIServer, Authentication).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperatorReading {
    /// As the runbook's `oc get` names it: `openshiftapiserver`, `kubeapiserver`, `authentication.operator.openshift.io`.
    pub resource: String,
    /// None: the operator reports no `Encrypted` condition (the Authentication operator of 4.5/4.6 clusters).
    pub encrypted: Option<Condition>,
    /// Its conditions named `...Degraded` that hold (`Type: message`).
    pub degraded: Vec<String>,
}

/// An encryption key secret in openshift-config-managed (its name and labels only; the key is never kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeySecret {
    pub name: String,
    pub component: String,
    pub mode: String,
    pub created: Option<String>,
}

/// A HostedCluster's secret encryption, as the management cluster holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostedEncryption {
    pub namespace: String,
    pub name: String,
    /// `spec.secretEncryption.type` (None: not set).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub active_key: Option<String>,
    /// Whether the active key's secret exists in the HostedCluster's namespace (None: not asked or unreadable).
    pub key_present: Option<bool>,
    /// `type: kms`: the provider and its active key (not a secret: it stays in the provider).
    pub kms_provider: Option<String>,
    pub kms_active_key: Option<String>,
}

/// One reading of everything the wizard decides on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    pub server: String,
    /// ClusterVersion `spec.clusterID`, when readable.
    pub cluster_id: Option<String>,
    pub version: Option<String>,
    /// APIServer `cluster` `spec.encryption.type` as written (None: APIServer could not be read).
    pub spec_type: Option<String>,
    #[serde(skip)]
    pub resource_version: Option<String>,
    pub operators: Vec<OperatorReading>,
    /// The ClusterOperators of the three API servers.
    pub cluster_operators: Vec<OperatorStatus>,
    #[serde(rename = "key_secrets")]
    pub keys: Vec<KeySecret>,
    pub hosted_clusters: Vec<HostedEncryption>,
    /// SelfSubjectAccessReview: may this user patch apiservers.config.openshift.io/cluster (None: not asked).
    pub may_patch: Option<bool>,
    /// APIServer is not served (404): not OpenShift, or a hosted cluster's management side.
    pub not_openshift: bool,
    /// Parts that could not be read, each saying why.
    pub problems: Vec<String>,
}

impl Reading {
    /// The type the cluster is configured with (None: unknown or a value this tool does not know).
    pub fn current_type(&self) -> Option<EncryptionType> {
        self.spec_type.as_deref().and_then(EncryptionType::parse)
    }

    fn reporting(&self) -> impl Iterator<Item = (&str, &Condition)> {
        self.operators.iter().filter_map(|o| o.encrypted.as_ref().map(|c| (o.resource.as_str(), c)))
    }

    /// Operators still migrating, or whose condition contradicts the configured type, or
    /// components whose newest key secret is of another mode (a migration asked for and not
    /// yet begun: between aescbc and aesgcm the conditions read EncryptionCompleted until then).
    pub fn migrating(&self) -> Vec<String> {
        let kind = self.current_type();
        let mut pending = Vec::new();
        if let Some(mode @ (EncryptionType::Aescbc | EncryptionType::Aesgcm)) = kind {
            let mut components: Vec<&str> = self.keys.iter().map(|k| k.component.as_str()).collect();
            components.sort_unstable();
            components.dedup();
            for component in components {
                let newest = self
                    .keys
                    .iter()
                    .filter(|k| k.component == component)
                    .max_by_key(|k| k.name.rsplit('-').next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0));
                if let Some(key) = newest.filter(|k| !k.mode.is_empty() && k.mode != mode.as_str()) {
                    pending.push(format!(
                        "{component} newest key {} is {} (no {} key yet)",
                        key.name,
                        key.mode,
                        mode.as_str()
                    ));
                }
            }
        }
        let conditions = self.reporting().filter_map(|(resource, c)| {
            let begun_elsewhere = match (kind, c.reason.as_str()) {
                (_, r) if r.ends_with("InProgress") => true,
                (Some(EncryptionType::Identity), "EncryptionCompleted") => true,
                (
                    Some(EncryptionType::Aescbc | EncryptionType::Aesgcm),
                    "DecryptionCompleted" | "EncryptionDisabled",
                ) => true,
                _ => false,
            };
            begun_elsewhere.then(|| format!("{resource} {}", c.reason))
        });
        conditions.chain(pending).collect()
    }

    /// Every Degraded that holds: the three ClusterOperators and the operators' own `...Degraded` conditions.
    pub fn degraded(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .cluster_operators
            .iter()
            .filter(|o| o.degraded == "True")
            .map(|o| format!("clusteroperator/{} Degraded: {}", o.name, o.message))
            .collect();
        for operator in &self.operators {
            out.extend(operator.degraded.iter().map(|d| format!("{} {d}", operator.resource)));
        }
        out
    }

    /// Every reporting operator has finished migrating to `kind`.
    pub fn settled_on(&self, kind: EncryptionType) -> bool {
        let mut reporting = self.reporting().peekable();
        reporting.peek().is_some() && reporting.all(|(_, c)| kind.is_done(&c.reason))
    }

    /// The operators without an `Encrypted` condition (older clusters' Authentication).
    fn silent(&self) -> Vec<&str> {
        self.operators.iter().filter(|o| o.encrypted.is_none()).map(|o| o.resource.as_str()).collect()
    }

    /// How the cluster is named to the user.
    pub fn cluster_name(&self) -> String {
        match &self.cluster_id {
            Some(id) => format!("{} (cluster ID {id})", self.server),
            None => self.server.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Follow the migration to its end after the patch.
    pub wait: bool,
    /// --read-only: show the plan, patch nothing.
    pub read_only: bool,
    /// Take a verified backup (the backup engine) before the patch.
    pub backup_first: bool,
    /// That backup also saves the encryption key secrets (apart).
    pub backup_keys: bool,
    /// Between readings while following.
    pub poll: Duration,
    /// Give up following after this long without any change (None: never; the console keeps following).
    pub stall_after: Option<Duration>,
    /// --hosted-cluster NS/NAME: the console looks at a hosted cluster, whose encryption is its HostedCluster's.
    pub hosted_cluster: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            wait: false,
            read_only: false,
            backup_first: false,
            backup_keys: false,
            poll: Duration::from_secs(10),
            stall_after: Some(Duration::from_secs(3600)),
            hosted_cluster: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Checking,
    AwaitingYes,
    BackingUp,
    Rechecking,
    Patching,
    Following,
    Finished,
}

/// What the front end shows before the yes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub cluster: String,
    pub from: EncryptionType,
    pub to: EncryptionType,
    /// The operators that will be followed.
    pub operators: Vec<String>,
    pub backup_first: bool,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Read the cluster (`rights`: also ask SelfSubjectAccessReview).
    Read {
        rights: bool,
    },
    /// The front end must ask the user, naming the cluster, the old and the new type.
    AskYes(Plan),
    Backup,
    /// Merge patch of APIServer cluster's spec.encryption.type, conditional on its resourceVersion.
    Patch {
        from: EncryptionType,
        to: EncryptionType,
        resource_version: Option<String>,
    },
    Wait(Duration),
    Finished(Outcome),
}

/// The front end's answer to `AskYes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub yes: bool,
    /// The user chose whether a backup comes first (None: as the options say).
    pub backup_first: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    Read(Box<Reading>),
    /// The backup's snapshot path, or why it was not taken.
    BackedUp(Result<String, String>),
    Patched(Result<(), String>),
    Waited,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Every followed operator reports the target's completed reason.
    Completed {
        took_seconds: u64,
    },
    /// Patched; not followed (no --wait).
    Applied,
    /// The cluster is already there.
    NothingToDo {
        reason: String,
    },
    Refused {
        reason: String,
    },
    /// The plan stands, but it may not be applied here (read-only, forbidden, hosted cluster).
    NotAllowed {
        reason: String,
    },
    Cancelled,
    Failed {
        reason: String,
    },
    Degraded {
        reason: String,
    },
    Stalled {
        reason: String,
    },
    /// The user stopped following; the migration goes on in the cluster.
    StoppedFollowing,
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Completed { .. } | Outcome::Applied | Outcome::NothingToDo { .. } => 0,
            _ => 1,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Outcome::Completed { took_seconds } => {
                format!("completed in {}", humantime::format_duration(Duration::from_secs(*took_seconds)))
            }
            Outcome::Applied => "applied; the operators migrate now (follow with --wait or `encryption status`)".into(),
            Outcome::NothingToDo { reason }
            | Outcome::Refused { reason }
            | Outcome::NotAllowed { reason }
            | Outcome::Failed { reason }
            | Outcome::Degraded { reason }
            | Outcome::Stalled { reason } => reason.clone(),
            Outcome::Cancelled => "cancelled: nothing changed".into(),
            Outcome::StoppedFollowing => {
                "stopped following; the migration goes on in the cluster (`etcd-console encryption status`)".into()
            }
        }
    }
}

/// One operator followed after the patch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Followed {
    pub resource: String,
    /// Its condition when the patch was made.
    pub baseline: Option<Condition>,
    pub current: Option<Condition>,
    /// Its condition left the baseline since the patch (so a completed reason is this migration's).
    pub moved: bool,
    /// When it reported the target's completed reason, counted from the patch.
    pub done_after_seconds: Option<u64>,
}

/// A line of what happened, with when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Seconds since the patch (None: before it).
    pub after_seconds: Option<u64>,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct EncryptionRun {
    pub target: EncryptionType,
    pub options: Options,
    pub stage: Stage,
    pub before: Option<Reading>,
    pub latest: Option<Reading>,
    pub notes: Vec<String>,
    pub backup: Option<String>,
    pub patched_at: Option<SystemTime>,
    pub followed: Vec<Followed>,
    pub new_keys: Vec<KeySecret>,
    pub events: Vec<Event>,
    /// The last time anything changed while following (a condition, a key).
    pub last_change: Option<SystemTime>,
    /// The next step while following is a reading (else a wait).
    read_due: bool,
    outcome: Option<Outcome>,
}

/// After completion: what the runbook asks next.
pub fn after_completion(target: EncryptionType) -> &'static str {
    match target {
        EncryptionType::Identity => {
            "take a fresh backup now: it holds no encrypted data; keep the keys of older, encrypted backups as long as \
             those backups (etcd-console backup)"
        }
        _ => {
            "take a fresh backup now, with its encryption keys stored apart from the snapshot: \
             etcd-console backup --encryption-keys DIR2 (a restore of this cluster needs them)"
        }
    }
}

impl EncryptionRun {
    pub fn new(target: EncryptionType, options: Options) -> EncryptionRun {
        EncryptionRun {
            target,
            options,
            stage: Stage::Checking,
            before: None,
            latest: None,
            notes: Vec::new(),
            backup: None,
            patched_at: None,
            followed: Vec::new(),
            new_keys: Vec::new(),
            events: Vec::new(),
            last_change: None,
            read_due: true,
            outcome: None,
        }
    }

    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    fn finish(&mut self, outcome: Outcome) {
        self.stage = Stage::Finished;
        self.outcome = Some(outcome);
    }

    /// Seconds since the patch.
    pub fn elapsed(&self, now: SystemTime) -> Option<Duration> {
        self.patched_at.map(|at| now.duration_since(at).unwrap_or_default())
    }

    pub fn next_action(&mut self) -> Action {
        match self.stage {
            Stage::Checking | Stage::Rechecking => Action::Read { rights: true },
            Stage::AwaitingYes => match self.plan() {
                Some(plan) => Action::AskYes(plan),
                None => {
                    self.finish(Outcome::Failed { reason: "no reading to plan from".into() });
                    self.next_action()
                }
            },
            Stage::BackingUp => Action::Backup,
            Stage::Patching => Action::Patch {
                from: self.old_type(),
                to: self.target,
                resource_version: self.latest.as_ref().and_then(|r| r.resource_version.clone()),
            },
            Stage::Following if self.read_due => Action::Read { rights: false },
            Stage::Following => Action::Wait(self.options.poll),
            Stage::Finished => {
                Action::Finished(self.outcome.clone().unwrap_or(Outcome::Failed { reason: "no outcome".into() }))
            }
        }
    }

    fn old_type(&self) -> EncryptionType {
        self.before.as_ref().and_then(Reading::current_type).unwrap_or(EncryptionType::Identity)
    }

    /// What will be done, once the cluster has been read.
    pub fn plan(&self) -> Option<Plan> {
        let reading = self.latest.as_ref().or(self.before.as_ref())?;
        // A hosted cluster's encryption is not APIServer's: there is no plan to show.
        if self.options.hosted_cluster.is_some() || reading.not_openshift {
            return None;
        }
        Some(Plan {
            cluster: reading.cluster_name(),
            from: self.old_type(),
            to: self.target,
            operators: reading.reporting().map(|(r, _)| r.to_string()).collect(),
            backup_first: self.options.backup_first,
            notes: self.notes.clone(),
        })
    }

    /// The run could not begin (no API to talk to): said, nothing done.
    pub fn cannot_start(&mut self, reason: String) {
        self.finish(Outcome::Failed { reason: format!("not started: {reason}") });
    }

    /// The user's answer to `AskYes`.
    pub fn answer(&mut self, yes: bool) {
        self.answer_with(Answer { yes, backup_first: None });
    }

    /// The answer, with the backup question answered at the same time (None: as the options say).
    pub fn answer_with(&mut self, answer: Answer) {
        if self.stage != Stage::AwaitingYes {
            return;
        }
        if let Some(backup_first) = answer.backup_first {
            self.options.backup_first = backup_first;
        }
        let yes = answer.yes;
        if !yes {
            self.finish(Outcome::Cancelled);
            return;
        }
        tracing::info!(target: "audit", action = "encryption migration confirmed", to = self.target.as_str(),
            from = self.old_type().as_str(), "yes");
        self.stage = if self.options.backup_first { Stage::BackingUp } else { Stage::Rechecking };
    }

    /// The user stops the run: before the patch nothing is changed; after it, following stops.
    pub fn abort(&mut self) {
        match self.stage {
            Stage::Finished => {}
            Stage::Following => self.finish(Outcome::StoppedFollowing),
            _ if self.patched_at.is_some() => self.finish(Outcome::StoppedFollowing),
            _ => self.finish(Outcome::Cancelled),
        }
    }

    pub fn observe(&mut self, observed: Observed, now: SystemTime) {
        match (self.stage, observed) {
            (Stage::Checking, Observed::Read(reading)) => self.checked(*reading, now),
            (Stage::Rechecking, Observed::Read(reading)) => self.rechecked(*reading),
            (Stage::BackingUp, Observed::BackedUp(result)) => match result {
                Ok(path) => {
                    self.event(now, format!("backup taken and verified: {path}"));
                    self.backup = Some(path);
                    self.stage = Stage::Rechecking;
                }
                Err(why) => self
                    .finish(Outcome::Failed { reason: format!("the backup first failed: {why}; nothing was patched") }),
            },
            (Stage::Patching, Observed::Patched(result)) => match result {
                Ok(()) => {
                    self.patched_at = Some(now);
                    self.last_change = Some(now);
                    self.event(
                        now,
                        format!(
                            "APIServer cluster patched: spec.encryption.type {} -> {}",
                            self.old_type().as_str(),
                            self.target.as_str()
                        ),
                    );
                    let baseline = self.latest.clone();
                    self.followed = baseline
                        .iter()
                        .flat_map(|r| r.operators.iter())
                        .filter(|o| o.encrypted.is_some())
                        .map(|o| Followed {
                            resource: o.resource.clone(),
                            baseline: o.encrypted.clone(),
                            current: o.encrypted.clone(),
                            moved: false,
                            done_after_seconds: None,
                        })
                        .collect();
                    if self.options.wait {
                        self.stage = Stage::Following;
                        self.read_due = true;
                    } else {
                        self.finish(Outcome::Applied);
                    }
                }
                Err(why) => self.finish(Outcome::Failed { reason: format!("the patch failed: {why}") }),
            },
            (Stage::Following, Observed::Waited) => self.read_due = true,
            (Stage::Following, Observed::Read(reading)) => {
                self.read_due = false;
                self.followed_reading(*reading, now);
            }
            _ => {}
        }
    }

    fn event(&mut self, now: SystemTime, text: String) {
        tracing::info!(target: "audit", action = "encryption", "{text}");
        let after_seconds = self.elapsed(now).map(|d| d.as_secs());
        self.events.push(Event { after_seconds, text });
    }

    /// Why the migration must not start now (empty: it may).
    fn refusals(&self, reading: &Reading) -> Vec<String> {
        let mut reasons = Vec::new();
        if reading.spec_type.is_none() {
            reasons.push(format!(
                "cannot read APIServer cluster: {}",
                reading
                    .problems
                    .iter()
                    .find(|p| p.contains("apiservers.config.openshift.io"))
                    .cloned()
                    .unwrap_or_else(|| "no answer".into())
            ));
        }
        if let Some(text) = reading.spec_type.as_deref().filter(|t| EncryptionType::parse(t).is_none()) {
            reasons
                .push(format!("APIServer cluster has spec.encryption.type {text:?}, a type this tool does not know"));
        }
        for problem in
            reading.problems.iter().filter(|p| p.contains("operator.openshift.io") || p.contains("clusteroperators"))
        {
            reasons.push(format!("cannot tell whether a migration runs or an operator is Degraded: {problem}"));
        }
        let migrating = reading.migrating();
        if !migrating.is_empty() {
            reasons.push(format!(
                "an encryption migration to {} is already running ({}): wait for it to complete",
                reading.spec_type.as_deref().filter(|t| !t.is_empty()).unwrap_or("identity"),
                migrating.join(", ")
            ));
        }
        let degraded = reading.degraded();
        if !degraded.is_empty() {
            reasons.push(format!("an API server operator is Degraded: {}", degraded.join("; ")));
        }
        if reading.spec_type.is_some() && reading.reporting().next().is_none() {
            reasons.push("no operator reports an Encrypted condition: the migration could not be followed".into());
        } else if reading.spec_type.is_some() && !reading.reporting().any(|(r, _)| r == "kubeapiserver") {
            reasons.push(
                "kubeapiserver reports no Encrypted condition: secrets and configmaps could not be followed".into(),
            );
        }
        reasons
    }

    fn checked(&mut self, reading: Reading, now: SystemTime) {
        self.before = Some(reading.clone());
        self.latest = Some(reading.clone());
        if let Some(hosted) = &self.options.hosted_cluster {
            let found = reading.hosted_clusters.iter().find(|h| format!("{}/{}", h.namespace, h.name) == *hosted);
            return self.finish(Outcome::NotAllowed { reason: hosted_explanation(hosted, found) });
        }
        if reading.not_openshift {
            return match reading.hosted_clusters.first() {
                Some(h) => {
                    let name = format!("{}/{}", h.namespace, h.name);
                    self.finish(Outcome::NotAllowed { reason: hosted_explanation(&name, Some(h)) })
                }
                None => self.finish(Outcome::Refused {
                    reason: format!(
                        "{} serves no APIServer config (not an OpenShift cluster): nothing to migrate",
                        reading.server
                    ),
                }),
            };
        }
        let reasons = self.refusals(&reading);
        if !reasons.is_empty() {
            return self.finish(Outcome::Refused { reason: reasons.join("; ") });
        }
        let from = self.old_type();
        if from == self.target && reading.settled_on(self.target) {
            return self.finish(Outcome::NothingToDo {
                reason: format!(
                    "already {}: every operator reports {}",
                    self.target.as_str(),
                    self.target.done_reason()
                ),
            });
        }
        if from == self.target {
            let odd: Vec<String> = reading
                .reporting()
                .filter(|(_, c)| !self.target.is_done(&c.reason))
                .map(|(r, c)| format!("{r} {}", c.reason))
                .collect();
            return self.finish(Outcome::Refused {
                reason: format!(
                    "APIServer is already {} but not every operator reports it done ({}): a patch would change nothing; look with `etcd-console encryption status`",
                    self.target.as_str(),
                    odd.join(", ")
                ),
            });
        }
        let silent = reading.silent();
        if !silent.is_empty() {
            self.notes.push(format!(
                "{} report(s) no Encrypted condition (the 4.5/4.6 layout, where the OpenShift API server covers the OAuth tokens): followed on {} operators",
                silent.join(", "),
                reading.reporting().count()
            ));
        }
        if self.options.backup_first && from != EncryptionType::Identity && !self.options.backup_keys {
            self.notes.push(format!(
                "the backup first saves no encryption keys: restoring it ({} data) needs the current keys; save them apart with `etcd-console backup --encryption-keys DIR2`",
                from.as_str()
            ));
        }
        if from == EncryptionType::Identity {
            self.notes.push("encryption keys are made: a restore of any backup taken after this needs them (backup --encryption-keys DIR2)".into());
        }
        if self.target == EncryptionType::Identity {
            self.notes.push("every encrypted resource is rewritten in plain text".into());
        }
        self.notes.push(
            "20 minutes or more (\"Enabling etcd encryption\", OpenShift 4.14); no backup until it is done".into(),
        );
        if self.options.read_only {
            return self.finish(Outcome::NotAllowed {
                reason: "read-only (--read-only): this is the plan; nothing was patched".into(),
            });
        }
        if reading.may_patch == Some(false) {
            return self.finish(Outcome::NotAllowed {
                reason: "this user may not patch apiservers.config.openshift.io/cluster (SelfSubjectAccessReview says no): this is the plan; nothing was patched".into(),
            });
        }
        if reading.may_patch.is_none() {
            self.notes.push(
                "SelfSubjectAccessReview did not answer: the patch itself will tell whether it is allowed".into(),
            );
        }
        self.event(now, format!("read: {} on {}", from.as_str(), reading.cluster_name()));
        self.stage = Stage::AwaitingYes;
    }

    /// Just before the patch: the cluster must still be as planned.
    fn rechecked(&mut self, reading: Reading) {
        let planned = self.before.as_ref().and_then(|b| b.spec_type.clone());
        self.latest = Some(reading.clone());
        let mut reasons = self.refusals(&reading);
        if reading.spec_type != planned {
            reasons.insert(
                0,
                format!(
                    "APIServer cluster's type changed since the plan ({} -> {})",
                    planned.as_deref().unwrap_or("?"),
                    reading.spec_type.as_deref().unwrap_or("?")
                ),
            );
        }
        if reading.may_patch == Some(false) {
            reasons.push("this user may no longer patch apiservers.config.openshift.io/cluster".into());
        }
        if reasons.is_empty() {
            self.stage = Stage::Patching;
        } else {
            self.finish(Outcome::Refused { reason: format!("{}; nothing was patched", reasons.join("; ")) });
        }
    }

    fn followed_reading(&mut self, reading: Reading, now: SystemTime) {
        let after = self.elapsed(now).unwrap_or_default();
        if reading.spec_type.is_none() && !reading.problems.is_empty() {
            // The API did not answer: keep following; a long silence ends as stalled.
            let problem = reading.problems.join("; ");
            if self.events.last().is_none_or(|e| e.text != format!("no answer: {problem}")) {
                self.event(now, format!("no answer: {problem}"));
            }
            self.latest = Some(reading);
            return self.check_stall(now);
        }
        if let Some(kind) = reading.spec_type.as_deref().filter(|k| EncryptionType::parse(k) != Some(self.target)) {
            self.latest = Some(reading.clone());
            return self.finish(Outcome::Failed {
                reason: format!("APIServer cluster's type was changed to {kind:?} by someone else while following"),
            });
        }
        // New key secrets.
        let known: Vec<String> = self.before.iter().flat_map(|b| b.keys.iter().map(|k| k.name.clone())).collect();
        let fresh: Vec<KeySecret> = reading
            .keys
            .iter()
            .filter(|k| !known.contains(&k.name) && !self.new_keys.iter().any(|n| n.name == k.name))
            .cloned()
            .collect();
        for key in fresh {
            self.event(now, format!("new key secret {} (mode {})", key.name, key.mode));
            self.last_change = Some(now);
            self.new_keys.push(key);
        }
        // Each operator's condition.
        let mut changes = Vec::new();
        for operator in &reading.operators {
            let Some(condition) = &operator.encrypted else { continue };
            let index = match self.followed.iter().position(|f| f.resource == operator.resource) {
                Some(i) => i,
                None => {
                    // An operator that starts reporting after the patch is followed too.
                    self.followed.push(Followed {
                        resource: operator.resource.clone(),
                        baseline: None,
                        current: None,
                        moved: true,
                        done_after_seconds: None,
                    });
                    self.followed.len() - 1
                }
            };
            let followed = &mut self.followed[index];
            let changed =
                followed.current.as_ref().is_none_or(|c| !c.same_state(condition) || c.message != condition.message);
            if followed.baseline.as_ref().is_none_or(|b| !b.same_state(condition)) {
                followed.moved = true;
            }
            if changed {
                changes.push(format!("{}: {} {}", operator.resource, condition.reason, condition.message));
            }
            followed.current = Some(condition.clone());
            if followed.moved && self.target.is_done(&condition.reason) && followed.done_after_seconds.is_none() {
                followed.done_after_seconds = Some(after.as_secs());
            }
            if followed.moved && !self.target.is_done(&condition.reason) {
                followed.done_after_seconds = None;
            }
        }
        for change in changes {
            self.last_change = Some(now);
            self.event(now, change);
        }
        self.latest = Some(reading.clone());
        let degraded = reading.degraded();
        if !degraded.is_empty() {
            let waiting = self.waiting_on();
            return self.finish(Outcome::Degraded {
                reason: format!(
                    "an operator is Degraded after {}: {}{}",
                    humantime::format_duration(Duration::from_secs(after.as_secs())),
                    degraded.join("; "),
                    if waiting.is_empty() { String::new() } else { format!("; not completed: {}", waiting.join(", ")) }
                ),
            });
        }
        if !self.followed.is_empty() && self.followed.iter().all(|f| f.done_after_seconds.is_some()) {
            self.event(now, format!("every operator reports {}", self.target.done_reason()));
            return self.finish(Outcome::Completed { took_seconds: after.as_secs() });
        }
        self.check_stall(now);
    }

    /// The operators not done yet, with their condition.
    pub fn waiting_on(&self) -> Vec<String> {
        self.followed
            .iter()
            .filter(|f| f.done_after_seconds.is_none())
            .map(|f| match &f.current {
                Some(c) => format!("{} {} since {}", f.resource, c.reason, c.since.as_deref().unwrap_or("?")),
                None => f.resource.clone(),
            })
            .collect()
    }

    fn check_stall(&mut self, now: SystemTime) {
        let (Some(limit), Some(last)) = (self.options.stall_after, self.last_change) else { return };
        let quiet = now.duration_since(last).unwrap_or_default();
        if quiet >= limit {
            self.finish(Outcome::Stalled {
                reason: format!(
                    "nothing changed for {}: still waiting on {}; the migration may still finish (etcd-console encryption status)",
                    humantime::format_duration(Duration::from_secs(quiet.as_secs())),
                    self.waiting_on().join(", ")
                ),
            });
        }
    }

    /// Quiet for how long (no condition or key changed), while following.
    pub fn quiet_for(&self, now: SystemTime) -> Option<Duration> {
        (self.stage == Stage::Following)
            .then(|| self.last_change.map(|l| now.duration_since(l).unwrap_or_default()))
            .flatten()
    }
}

fn hosted_explanation(name: &str, found: Option<&HostedEncryption>) -> String {
    let what = match found {
        Some(h) => format!(
            "spec.secretEncryption {} (active key {}{})",
            h.kind.as_deref().unwrap_or("not set"),
            h.active_key.as_deref().unwrap_or("none"),
            match h.key_present {
                Some(true) => ", its secret present",
                Some(false) => ", its secret MISSING",
                None => "",
            }
        ),
        None => "its spec.secretEncryption".into(),
    };
    format!(
        "HostedCluster {name} is a hosted cluster: its etcd encryption is {what}, set by the HyperShift operator; \
         this wizard does not migrate it (save the key: a restore into a new cluster needs the same AES key)"
    )
}

#[cfg(any(test, feature = "test-fixtures"))]
pub mod fixtures;
#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;
