//! Model-based test of the backup engine (direct snapshots): members that
//! lead, fail or answer, streams that break or arrive corrupt, verifies that
//! fail, key files, a publish that fails, `--keep` listings, aborts at any
//! moment, against a pretend file system; checked after every step: nothing
//! at a backup's final name unless verified, nothing of this run removed once
//! in place, no part file left after a failure.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::*;
use crate::wizard::defrag::engine::{MemberReading, MemberView};
use crate::wizard::defrag::Figures;
use crate::wizard::model::{cases, Rng};

const CLUSTER: u64 = 0xc1;

fn view(rng: &mut Rng) -> ClusterView {
    let leader = 1 + rng.below(3);
    let members = (1..=3u64)
        .map(|id| MemberView {
            id,
            name: format!("master-{}", id - 1),
            is_learner: false,
            reading: if rng.chance(10) {
                Err("connection refused".into())
            } else {
                Ok(MemberReading {
                    figures: Figures { db_size: 100 << 20, db_size_in_use: 60 << 20, quota: 8 << 30 },
                    leader_id: leader,
                    raft_term: 3,
                    raft_index: 100,
                    raft_applied_index: 100,
                    health: if rng.chance(10) { Err("context deadline exceeded".into()) } else { Ok(()) },
                    alarms: Vec::new(),
                    cluster_id: CLUSTER,
                    version: "3.5.21".into(),
                })
            },
        })
        .collect();
    ClusterView { members, problem: rng.chance(3).then(|| "no member answered".to_string()) }
}

fn openshift(rng: &mut Rng) -> OpenShiftFacts {
    match rng.below(4) {
        0 => OpenShiftFacts::NotConfigured,
        1 => OpenShiftFacts::Unreachable { why: "503 Service Unavailable".into() },
        _ => OpenShiftFacts::Read {
            encryption: None,
            rollouts: Vec::new(),
            cluster_operators: vec![OperatorStatus {
                name: "etcd".into(),
                available: "True".into(),
                progressing: if rng.chance(20) { "True" } else { "False" }.into(),
                degraded: "False".into(),
                message: String::new(),
            }],
            cluster_version: Some("4.14.8".into()),
            desired_version: Some("4.14.8".into()),
            key_secrets: if rng.chance(50) { vec!["encryption-key-openshift-apiserver-1".into()] } else { Vec::new() },
            problems: if rng.chance(10) {
                vec!["etcds.operator.openshift.io: 403 Forbidden".into()]
            } else {
                Vec::new()
            },
            control_plane: Vec::new(),
            proxy: Vec::new(),
        },
    }
}

fn existing(dir: &str, taken_at: &str, metadata_path: PathBuf) -> Existing {
    let stem = taken_at.replace([':', '-'], "");
    Existing {
        metadata_path,
        metadata: Metadata {
            cluster_id: format!("{CLUSTER:x}"),
            member: "master-0".into(),
            member_id: "1".into(),
            etcd_version: "3.5.21".into(),
            revision: 1,
            db_size: 1,
            sha256: String::new(),
            hash: String::new(),
            total_keys: 1,
            snapshot: format!("{dir}/snapshot_{stem}.db"),
            taken_at: taken_at.into(),
            verified: true,
            possibly_dirty: false,
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

fn one_run(seed: u64, trace: &mut Vec<String>) -> Result<Outcome, String> {
    let mut rng = Rng::new(seed);
    let options = BackupOptions {
        dir: PathBuf::from("/b"),
        keys_dir: rng.chance(40).then(|| PathBuf::from("/k")),
        member: rng.chance(20).then(|| rng.pick(&["master-0", "master-1", "master-9"]).to_string()),
        force: rng.chance(20),
        keep: rng.chance(40).then(|| 1 + rng.below(3) as usize),
        stall_limit: Duration::from_secs(30),
        snapshot_only: true,
        via: Via::Api,
        node: None,
        read_only: rng.chance(10),
    };
    let mut run = BackupRun::new(options).map_err(|e| format!("options refused: {e}"))?;
    // The pretend file system: the paths that exist.
    let mut files: BTreeSet<PathBuf> = BTreeSet::new();
    let mut verified_part: Option<PathBuf> = None;
    let mut published: Vec<PathBuf> = Vec::new();
    let mut aborted_before_publish = false;
    for _ in 0..100 {
        if rng.chance(3) {
            if !matches!(run.stage, Stage::Publishing | Stage::Pruning | Stage::CleaningUp | Stage::Finished) {
                aborted_before_publish = true;
            }
            run.abort();
        }
        let action = run.next_action();
        trace.push(format!("{:?} -> {action:?}", run.stage).chars().take(200).collect());
        let observed = match &action {
            Action::Finished(outcome) => {
                let decision = run.decision.clone();
                match (outcome, decision) {
                    (Outcome::Completed, Some(d)) => {
                        if !files.contains(&d.snapshot) || !files.contains(&d.metadata) {
                            return Err("completed without the snapshot and its metadata in place".into());
                        }
                        if files.contains(&d.part) {
                            return Err("completed with the part file left".into());
                        }
                    }
                    (Outcome::Completed, None) => return Err("completed without a decision".into()),
                    (Outcome::Failed { .. } | Outcome::Refused { .. }, Some(d)) => {
                        if files.contains(&d.snapshot) || files.contains(&d.metadata) {
                            return Err(format!("{outcome:?} with something at the final name"));
                        }
                        if files.contains(&d.part) {
                            return Err(format!("{outcome:?} left the part file {}", d.part.display()));
                        }
                        if let Some(keys) = &d.keys {
                            if files.contains(keys) {
                                return Err(format!("{outcome:?} left the key file"));
                            }
                        }
                    }
                    _ => {}
                }
                if aborted_before_publish && matches!(outcome, Outcome::Completed) {
                    return Err("completed though aborted before the backup was in place".into());
                }
                return Ok(outcome.clone());
            }
            Action::Check { .. } => Observed::Checked(Box::new(Checked {
                view: view(&mut rng),
                openshift: openshift(&mut rng),
                keys_problem: rng.chance(5).then(|| "403 Forbidden".to_string()),
                now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_094_245),
                dir_names: if rng.chance(5) { vec!["snapshot_2026-12-01_030405.db".into()] } else { Vec::new() },
                keys_dir_names: Vec::new(),
                stale_parts_removed: Vec::new(),
            })),
            Action::Stream { part, .. } => {
                if files.contains(part) {
                    return Err("a stream over an existing part file".into());
                }
                match rng.below(8) {
                    // The executor removes a part it created and could not finish.
                    0 => Observed::Streamed(Err("stalled 30s".into())),
                    // A bad trailer: the executor's part guard removes the file it made.
                    1 => Observed::Streamed(Ok(Streamed {
                        bytes: 100,
                        took: Duration::from_millis(5),
                        sha256: "ab".repeat(32),
                        trailer_matches: false,
                    })),
                    _ => {
                        files.insert(part.clone());
                        Observed::Streamed(Ok(Streamed {
                            bytes: (100 << 20) + 32,
                            took: Duration::from_millis(300),
                            sha256: "ab".repeat(32),
                            trailer_matches: true,
                        }))
                    }
                }
            }
            Action::Verify { part, .. } => {
                if rng.chance(15) {
                    Observed::Verified(Err("bbolt: page 12 out of range".into()))
                } else {
                    verified_part = Some(part.clone());
                    Observed::Verified(Ok(Verified {
                        revision: 42,
                        hash: 0xbeef,
                        total_keys: 7,
                        total_size: 100 << 20,
                    }))
                }
            }
            Action::SaveKeys { path } => {
                if rng.chance(15) {
                    Observed::KeysSaved(Err("permission denied".into()))
                } else {
                    files.insert(path.clone());
                    Observed::KeysSaved(Ok(1))
                }
            }
            Action::Publish { part, snapshot, archive, metadata_path, metadata } => {
                if verified_part.as_ref() != Some(part) || !metadata.verified {
                    return Err(format!("{} published without its verify", snapshot.display()));
                }
                if archive.is_some() {
                    return Err("an archive in a snapshot-only run".into());
                }
                if !files.contains(part) {
                    return Err("published a part that is not there".into());
                }
                if files.contains(snapshot) || files.contains(metadata_path) {
                    return Err("publish over an existing name".into());
                }
                if rng.chance(10) {
                    // Put back as it was: the executor moves nothing when it fails.
                    Observed::Published(Err("rename: file exists".into()))
                } else {
                    files.remove(part);
                    files.insert(snapshot.clone());
                    files.insert(metadata_path.clone());
                    published = vec![snapshot.clone(), metadata_path.clone()];
                    Observed::Published(Ok(Vec::new()))
                }
            }
            Action::List { dir } => {
                let dir = dir.display().to_string();
                let mut found: Vec<Existing> = (0..rng.below(5))
                    .map(|i| {
                        let taken = format!("2026-11-2{i}T03:04:05Z");
                        let path = PathBuf::from(format!("{dir}/backup_old_{i}.json"));
                        existing(&dir, &taken, path)
                    })
                    .collect();
                if let Some(d) = &run.decision {
                    found.push(existing(&dir, &d.taken_at, d.metadata.clone()));
                }
                if rng.chance(5) {
                    Observed::Listed(Err("permission denied".into()))
                } else {
                    Observed::Listed(Ok(found))
                }
            }
            Action::Remove { backups } => {
                for backup in backups {
                    if published.contains(&backup.metadata_path) {
                        return Err("--keep removed the backup just taken".into());
                    }
                }
                Observed::Removed(backups.iter().map(|b| (b.metadata_path.clone(), Ok(()))).collect())
            }
            Action::CleanUp { paths } => {
                for path in paths {
                    if published.contains(path) {
                        return Err(format!("clean-up removes the published {}", path.display()));
                    }
                    files.remove(path);
                }
                Observed::CleanedUp
            }
            other => return Err(format!("a remote step in a snapshot-only run: {other:?}")),
        };
        run.observe(observed);
    }
    Err("the run did not end in 100 steps".into())
}

#[test]
fn random_backups_publish_only_what_was_verified() {
    let n = cases(5000);
    let outcomes = crate::wizard::model::run_seeds(n, one_run);
    for kind in ["Completed", "Failed", "Refused"] {
        assert!(outcomes.get(kind).copied().unwrap_or(0) > 0, "no run ended {kind}: {outcomes:?}");
    }
    eprintln!("backup model: {n} runs: {outcomes:?}");
}
