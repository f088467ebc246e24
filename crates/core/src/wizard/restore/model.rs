//! Model-based test of the restore engine: random recovery hosts and lost
//! hosts, hosts that do not answer, typed confirmations right and wrong, steps
//! that fail, are interrupted or are stopped by the person, crashes after the
//! journal line (the run read back and resumed), with the restore's safety
//! rules checked after every step.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::fixtures::survey;
use super::steps::Act;
use super::*;
use crate::wizard::model::{cases, Rng};

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000 + seconds)
}

fn one_run(seed: u64, trace: &mut Vec<String>) -> Result<Outcome, String> {
    let mut rng = Rng::new(seed);
    let mut surveyed = survey();
    let recovery = rng.pick(&["master-0", "master-1", "master-2"]).to_string();
    let lost: Vec<String> =
        surveyed.control_plane.iter().map(|h| h.name.clone()).filter(|n| *n != recovery && rng.chance(25)).collect();
    for host in &mut surveyed.control_plane {
        if lost.contains(&host.name) || rng.chance(5) {
            host.reachable = Some(Err("ssh: connect to host: No route to host".into()));
            host.ready = false;
        }
    }
    if rng.chance(5) {
        surveyed.backup.verified = Some(false);
    }
    let options = Options {
        recovery_host: Some(recovery.clone()),
        lost: lost.clone(),
        manual_hosts: rng.chance(15),
        read_only: rng.chance(5),
        plan_only: rng.chance(5),
        remote_backup_dir: "/home/core/assets/backup".into(),
        ..Options::default()
    };
    let mut run = RestoreRun::new(Procedure::Standalone, "/b".into(), options.clone());
    // The journal: the run as one line, written before each step acts.
    let mut journal: Vec<String> = Vec::new();
    let mut confirmed = false;
    let mut performed: BTreeMap<usize, u32> = BTreeMap::new();
    let mut clock = 0u64;
    for _ in 0..600 {
        clock += 1;
        let action = run.next_action(at(clock));
        journal.push(serde_json::to_string(&run).map_err(|e| e.to_string())?);
        trace.push(format!("{action:?}").chars().take(160).collect());
        let read_back = |journal: &Vec<String>| -> Result<RestoreRun, String> {
            serde_json::from_str(journal.last().ok_or("no journal line")?).map_err(|e| e.to_string())
        };
        let observed = match &action {
            Action::Finished(outcome) => {
                if let Outcome::Stopped { .. } = outcome {
                    if rng.chance(60) {
                        run = read_back(&journal)?;
                        run.resume(&[]);
                        if !run.began() {
                            confirmed = false;
                        }
                        trace.push("resumed".into());
                        continue;
                    }
                }
                return Ok(outcome.clone());
            }
            Action::Survey => Observed::Surveyed(Box::new(surveyed.clone())),
            Action::Confirm(confirmation) => {
                let typed = match rng.below(10) {
                    0 => "lab-other".to_string(),
                    _ => confirmation.cluster_name.clone(),
                };
                confirmed = typed == surveyed.cluster_name;
                Observed::Typed(typed)
            }
            Action::Recheck { index, .. } => {
                Observed::Rechecked { index: *index, done: rng.chance(50), detail: "looked".into() }
            }
            Action::Perform { index, step, .. } | Action::AskPerson { index, step } => {
                if !confirmed {
                    return Err(format!("step {} without the typed cluster name", step.id));
                }
                if options.read_only || options.plan_only {
                    return Err(format!("step {} under --read-only or plan only", step.id));
                }
                let failed: Vec<String> = run.gates.iter().filter(|g| !g.passed).map(|g| g.id.clone()).collect();
                if !failed.is_empty() {
                    return Err(format!("step {} though gates failed: {failed:?}", step.id));
                }
                // The journal line before the act says the step began.
                let line = read_back(&journal)?;
                if line.records.get(*index).map(|r| &r.state) != Some(&StepState::Running) {
                    return Err(format!("step {} acted before its journal line said it began", step.id));
                }
                for (earlier, record) in run.records.iter().enumerate().take(*index) {
                    if !matches!(record.state, StepState::Done | StepState::Skipped) {
                        return Err(format!("step {} before step {earlier} ended ({:?})", step.id, record.state));
                    }
                }
                if let Act::DeleteMachine { node, .. } = &step.act {
                    if *node == recovery {
                        return Err("the recovery host's Machine deleted".into());
                    }
                }
                let count = performed.entry(*index).or_default();
                *count += 1;
                if !step.redo_safe && *count > 1 {
                    return Err(format!("step {} is not safe to redo and was done twice", step.id));
                }
                if let Action::AskPerson { .. } = action {
                    Observed::PersonAnswered { index: *index, done: rng.chance(85) }
                } else {
                    let result = match rng.below(14) {
                        0 => StepResult::Failed { reason: "ssh: connection reset".into() },
                        1 => StepResult::Failed { reason: "403 Forbidden".into() },
                        2 => StepResult::Interrupted { detail: "stopped while waiting".into() },
                        3 => StepResult::DoneWithNotReady {
                            detail: "2 nodes NotReady".into(),
                            not_ready: vec!["worker-1".into()],
                        },
                        _ => StepResult::Done { detail: "ok".into() },
                    };
                    // A crash after the act, before its end was journalled.
                    if rng.chance(4) {
                        run = read_back(&journal)?;
                        trace.push("crash".into());
                        // The process starts again: the journalled run goes on where it was.
                        continue;
                    }
                    Observed::Performed { index: *index, result }
                }
            }
        };
        run.observe(observed);
    }
    Err("the run did not end in 600 steps".into())
}

#[test]
fn random_restores_keep_every_restore_rule() {
    let n = cases(300);
    let mut outcomes: BTreeMap<String, u64> = Default::default();
    for seed in 0..n {
        let mut trace = Vec::new();
        match one_run(seed, &mut trace) {
            Ok(outcome) => {
                let kind = format!("{outcome:?}").split([' ', '{', '(']).next().unwrap_or_default().to_string();
                *outcomes.entry(kind).or_default() += 1;
            }
            Err(broken) => panic!("seed {seed}: {broken}\n  after:\n    {}", trace.join("\n    ")),
        }
    }
    assert!(outcomes.get("Completed").copied().unwrap_or(0) > 0, "no run completed: {outcomes:?}");
    eprintln!("restore model: {n} runs: {outcomes:?}");
}
