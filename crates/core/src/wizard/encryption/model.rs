//! Model-based test of the encryption engine: a cluster whose APIServer type,
//! operator conditions, Degraded operators, rights and API answers change at
//! random between readings (403s, 409 on the patch, an API outage), a person
//! who says yes or no, backups that fail, aborts, with the migration's safety
//! rules checked after every step.

use std::time::Duration;

use super::fixtures::{at, co, condition, message, operator};
use super::*;
use crate::wizard::model::{cases, Rng};

const RESOURCES: [(&str, &str); 3] = [
    ("openshiftapiserver", "routes.route.openshift.io"),
    ("kubeapiserver", "secrets, configmaps"),
    ("authentication.operator.openshift.io", "oauthaccesstokens.oauth.openshift.io"),
];

const REASONS: [&str; 5] = [
    "EncryptionCompleted",
    "EncryptionInProgress",
    "DecryptionInProgress",
    "DecryptionCompleted",
    "EncryptionDisabled",
];

/// The cluster between readings.
struct Cluster {
    spec: String,
    reasons: [String; 3],
    degraded: bool,
    may_patch: Option<bool>,
    outage: bool,
    operators_forbidden: bool,
    resource_version: u64,
}

impl Cluster {
    fn settled(spec: &str) -> [String; 3] {
        let done = EncryptionType::parse(spec).map(EncryptionType::done_reason).unwrap_or("EncryptionDisabled");
        [done.to_string(), done.to_string(), done.to_string()]
    }

    fn reading(&self) -> Reading {
        let mut problems = Vec::new();
        if self.outage {
            problems.push("apiservers.config.openshift.io: connection refused".to_string());
        }
        if self.operators_forbidden {
            problems.push("kubeapiservers.operator.openshift.io: 403 Forbidden".to_string());
        }
        Reading {
            server: "https://api.lab:6443".into(),
            cluster_id: Some("5eed".into()),
            version: Some("4.14.8".into()),
            spec_type: (!self.outage).then(|| self.spec.clone()),
            resource_version: Some(self.resource_version.to_string()),
            operators: if self.outage {
                Vec::new()
            } else {
                RESOURCES
                    .iter()
                    .zip(&self.reasons)
                    .map(|((r, resources), reason)| {
                        operator(r, condition(reason, &message(reason, &self.spec, resources), "2026-12-07T01:00:00Z"))
                    })
                    .collect()
            },
            cluster_operators: ["kube-apiserver", "openshift-apiserver", "authentication"]
                .iter()
                .map(|n| co(n, if self.degraded && *n == "kube-apiserver" { "True" } else { "False" }))
                .collect(),
            keys: Vec::new(),
            hosted_clusters: Vec::new(),
            may_patch: self.may_patch,
            not_openshift: false,
            problems,
        }
    }

    fn fault(&mut self, rng: &mut Rng) {
        if !rng.chance(35) {
            return;
        }
        match rng.below(9) {
            0 => {
                // Someone else starts a migration.
                self.spec = rng.pick(&["identity", "aescbc", "aesgcm"]).to_string();
                self.resource_version += 1;
                self.reasons =
                    ["EncryptionInProgress".into(), "EncryptionInProgress".into(), "EncryptionInProgress".into()];
            }
            1 => {
                let i = rng.below(3) as usize;
                self.reasons[i] = rng.pick(&REASONS).to_string();
            }
            2 => self.degraded = !self.degraded,
            3 => self.may_patch = *rng.pick(&[Some(true), Some(false), None]),
            4 => self.outage = !self.outage,
            5 => self.operators_forbidden = !self.operators_forbidden,
            6 => self.resource_version += 1,
            _ => {
                // The operators finish what the spec asks.
                self.reasons = Cluster::settled(&self.spec);
                self.outage = false;
            }
        }
    }
}

/// A migration runs, by our own reading of the conditions: one in progress, or one that
/// contradicts the configured type ("Encrypting the etcd data", OpenShift 4.14).
fn migration_runs(reading: &Reading) -> bool {
    let kind = reading.spec_type.as_deref().and_then(EncryptionType::parse);
    reading.operators.iter().filter_map(|o| o.encrypted.as_ref()).any(|c| {
        c.reason.ends_with("InProgress")
            || match kind {
                Some(EncryptionType::Identity) => c.reason == "EncryptionCompleted",
                Some(_) => c.reason == "DecryptionCompleted" || c.reason == "EncryptionDisabled",
                None => false,
            }
    })
}

fn one_run(seed: u64, trace: &mut Vec<String>) -> Result<Outcome, String> {
    let mut rng = Rng::new(seed);
    let spec = rng.pick(&["identity", "aescbc", "aesgcm", ""]).to_string();
    let mut cluster = Cluster {
        reasons: Cluster::settled(&spec),
        spec,
        degraded: rng.chance(10),
        may_patch: *rng.pick(&[Some(true), Some(true), Some(false), None]),
        outage: rng.chance(5),
        operators_forbidden: rng.chance(5),
        resource_version: 40,
    };
    let target = *rng.pick(&EncryptionType::ALL);
    let options = Options {
        wait: rng.chance(60),
        read_only: rng.chance(8),
        backup_first: rng.chance(40),
        poll: Duration::from_secs(10),
        stall_after: Some(Duration::from_secs(600)),
        ..Options::default()
    };
    let mut run = EncryptionRun::new(target, options.clone());
    let mut now = 0u64;
    let mut said_yes = false;
    let mut backup_first = options.backup_first;
    let mut backed_up = false;
    let mut aborted = false;
    let mut patches = 0;
    let mut last_reading: Option<Reading> = None;
    let mut first_reading: Option<Reading> = None;
    for _ in 0..400 {
        if rng.chance(2) {
            run.abort();
            aborted = true;
        }
        let action = run.next_action();
        trace.push(format!("{:?} -> {action:?}", run.stage).chars().take(200).collect());
        let observed = match &action {
            Action::Finished(outcome) => {
                if let Outcome::Completed { .. } = outcome {
                    let reading = last_reading.as_ref().ok_or("completed without a reading")?;
                    let undone: Vec<&str> = reading
                        .operators
                        .iter()
                        .filter_map(|o| o.encrypted.as_ref())
                        .filter(|c| !target.is_done(&c.reason))
                        .map(|c| c.reason.as_str())
                        .collect();
                    if patches == 0 || !undone.is_empty() {
                        return Err(format!("completed with {patches} patches and {undone:?} not done"));
                    }
                }
                return Ok(outcome.clone());
            }
            Action::AskYes(plan) => {
                if plan.to != target {
                    return Err(format!("asked about {:?}, not {target:?}", plan.to));
                }
                let yes = rng.chance(80);
                let choice = rng.chance(30).then(|| rng.chance(50));
                if let Some(b) = choice {
                    backup_first = b;
                }
                said_yes = yes;
                run.answer_with(Answer { yes, backup_first: choice });
                continue;
            }
            Action::Read { .. } => {
                cluster.fault(&mut rng);
                let reading = cluster.reading();
                if first_reading.is_none() {
                    first_reading = Some(reading.clone());
                }
                last_reading = Some(reading.clone());
                Observed::Read(Box::new(reading))
            }
            Action::Backup => {
                let ok = rng.chance(80);
                backed_up = ok;
                Observed::BackedUp(if ok { Ok("/b/snapshot.db".into()) } else { Err("disk full".into()) })
            }
            Action::Patch { from, to, resource_version } => {
                let reading = last_reading.as_ref().ok_or("a patch before any reading")?;
                if !said_yes {
                    return Err("patched without the person's yes".into());
                }
                if aborted {
                    return Err("patched after the person stopped the run".into());
                }
                if options.read_only {
                    return Err("patched under --read-only".into());
                }
                if backup_first && !backed_up {
                    return Err("patched before the backup asked for was taken".into());
                }
                if patches > 0 {
                    return Err("patched twice".into());
                }
                if migration_runs(reading) {
                    return Err(format!("patched while a migration runs: {:?}", reading.operators));
                }
                if reading.cluster_operators.iter().any(|o| o.degraded == "True") {
                    return Err("patched while an operator is Degraded".into());
                }
                if reading.may_patch == Some(false) {
                    return Err("patched though SelfSubjectAccessReview says no".into());
                }
                if reading.spec_type != first_reading.as_ref().and_then(|r| r.spec_type.clone()) {
                    return Err("patched though the type changed since the plan".into());
                }
                if resource_version != &reading.resource_version {
                    return Err("the patch is not conditional on the resourceVersion just read".into());
                }
                if *to != target || Some(*from) != reading.current_type() {
                    return Err(format!("patched {from:?} -> {to:?} on a cluster at {:?}", reading.spec_type));
                }
                patches += 1;
                cluster.fault(&mut rng);
                match rng.below(10) {
                    0 => Observed::Patched(Err("409 Conflict: the object has been modified".into())),
                    1 => Observed::Patched(Err("403 Forbidden".into())),
                    _ => {
                        cluster.spec = to.as_str().into();
                        cluster.resource_version += 1;
                        let moving = if *to == EncryptionType::Identity {
                            "DecryptionInProgress"
                        } else {
                            "EncryptionInProgress"
                        };
                        cluster.reasons = [moving.into(), moving.into(), moving.into()];
                        Observed::Patched(Ok(()))
                    }
                }
            }
            Action::Wait(_) => {
                now += 10 + rng.below(120);
                Observed::Waited
            }
        };
        run.observe(observed, at(now));
        if aborted && run.outcome().is_none() {
            return Err(format!("the run goes on after the person stopped it: {:?}", run.stage));
        }
    }
    Err("the run did not end in 400 steps".into())
}

#[test]
fn random_migrations_keep_every_encryption_rule() {
    let n = cases(4000);
    let outcomes = crate::wizard::model::run_seeds(n, one_run);
    for kind in ["Completed", "Applied", "Refused", "Cancelled"] {
        assert!(outcomes.get(kind).copied().unwrap_or(0) > 0, "no run ended {kind}: {outcomes:?}");
    }
    eprintln!("encryption model: {n} runs: {outcomes:?}");
}
