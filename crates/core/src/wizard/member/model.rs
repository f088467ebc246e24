//! Model-based test of the member replacement engine: random surveys (members
//! up and down, the target healthy or not, rollouts, 403s, stale backups),
//! random confirmations, step results (done, failed, interrupted), people who
//! stop, and crashes after the journal line (the run read back from it and
//! resumed), with the replacement's safety rules checked after every step.

use super::engine::{Action, MemberRun, Observed, Outcome, StepResult};
use super::steps::Act;
use super::*;
use crate::wizard::model::{cases, Rng};

fn random_survey(rng: &mut Rng) -> Survey {
    let voters = *rng.pick(&[3u64, 3, 4, 5]);
    let members: Vec<MemberFacts> = (1..=voters)
        .map(|id| {
            let name = format!("master-{id}");
            MemberFacts {
                id,
                name: if rng.chance(5) { String::new() } else { name.clone() },
                peer_urls: vec![format!("https://{name}:2380")],
                client_urls: vec![format!("https://{name}:2379")],
                is_learner: false,
                answer: if rng.chance(25) { Err("connection refused".into()) } else { Ok(()) },
                applied_index: Some(100),
            }
        })
        .collect();
    let target_id = 1 + rng.below(voters);
    let node_ready = rng.pick(&["True", "Unknown NodeStatusUnknown", "False KubeletNotReady"]).to_string();
    let target = (!rng.chance(5)).then(|| TargetFacts {
        id: target_id,
        name: format!("master-{target_id}"),
        node: Some(format!("master-{target_id}")),
        node_ip: Some(format!("10.0.0.{target_id}")),
        node_ready: Some(node_ready),
        machine: (!rng.chance(15)).then(|| format!("lab-x-master-{target_id}")),
        machine_phase: Some("Running".into()),
        instance_state: Some(rng.pick(&["running", "stopped"]).to_string()),
        pod: None,
        claim: None,
        new_machine: None,
    });
    Survey {
        api_url: "https://api.lab:6443".into(),
        cluster_name: "lab-x".into(),
        cluster_id: "abc".into(),
        version: Some(rng.pick(&["4.14.8", "4.14.8", "4.16.2", "4.3.40"]).to_string()),
        members,
        leader: Some(1),
        target,
        backup: BackupFound {
            dir: "/b".into(),
            timestamp: Some("2026-12-07_010000".into()),
            age_seconds: Some(if rng.chance(80) { 3600 } else { 200_000 }),
            restorable: rng.chance(90),
            detail: "snapshot and static resources".into(),
        },
        busy: if rng.chance(10) { vec!["kube-apiserver encryption migration".into()] } else { Vec::new() },
        access: vec![("delete secrets".into(), if rng.chance(10) { Err("403 Forbidden".into()) } else { Ok(()) })],
        quorum_guard_off: rng.chance(5),
        control_plane_namespace: None,
        helper_host: Some(("master-9".into(), "10.0.0.9".into())),
        surveyed_at: "2026-12-07_020000".into(),
        unreadable: if rng.chance(3) { Some("the API answered 503".into()) } else { None },
    }
}

/// Removing `target` leaves the others in quorum, every one of them healthy: our own reading of
/// "Replacing an unhealthy etcd member" (OpenShift 4.14), written apart from the engine's gate.
fn removal_keeps_quorum(survey: &Survey, target: u64) -> bool {
    let others: Vec<&MemberFacts> = survey.members.iter().filter(|m| !m.is_learner && m.id != target).collect();
    let healthy = others.iter().filter(|m| !m.name.is_empty() && m.answer.is_ok()).count();
    let quorum_after = others.len() / 2 + 1;
    healthy == others.len() && healthy >= quorum_after && healthy >= survey.quorum()
}

fn one_run(seed: u64, trace: &mut Vec<String>) -> Result<Outcome, String> {
    let mut rng = Rng::new(seed);
    let survey = random_survey(&mut rng);
    let options = Options {
        member: "master-1".into(),
        max_backup_age_seconds: 24 * 3600,
        backup_dir: "/b".into(),
        force: rng.chance(15).then(|| "the disk is failing".into()),
        no_backup: rng.chance(10),
        read_only: rng.chance(5),
        plan_only: rng.chance(5),
        ..Options::default()
    };
    let mut run = MemberRun::new(options.clone());
    // The journal: the whole run as one line, written before each act.
    let mut journal: Vec<String> = Vec::new();
    let mut confirmed = false;
    let mut reasons: std::collections::BTreeMap<usize, String> = Default::default();
    let mut stopped_at: Option<usize> = None;
    let mut removed = false;
    for _ in 0..300 {
        let action = run.next_action();
        journal.push(serde_json::to_string(&run).map_err(|e| e.to_string())?);
        trace.push(format!("{action:?}").chars().take(160).collect());
        let observed = match &action {
            Action::Finished(outcome) => {
                if let Outcome::Stopped { .. } = outcome {
                    if rng.chance(50) {
                        // The person runs `member replace` again: the run from the journal, resumed.
                        let last = journal.last().ok_or("no journal line")?;
                        run = serde_json::from_str(last).map_err(|e| e.to_string())?;
                        run.resume();
                        if !run.begun() {
                            confirmed = false;
                        }
                        stopped_at = None;
                        trace.push("resumed".into());
                        continue;
                    }
                }
                if matches!(outcome, Outcome::Completed) && !removed {
                    let removes = run.steps.iter().any(|s| matches!(s.act, Act::RemoveMember { .. }));
                    if removes {
                        return Err("completed without removing the member".into());
                    }
                }
                return Ok(outcome.clone());
            }
            Action::Survey => Observed::Surveyed(Box::new(survey.clone())),
            Action::Confirm(confirmation) => {
                let typed = match rng.below(10) {
                    0 => String::new(),
                    1 => "lab-x/master-2".to_string(),
                    _ => confirmation.expected.clone(),
                };
                confirmed = typed == confirmation_text(&survey.cluster_name, &confirmation.member);
                Observed::Typed(typed)
            }
            Action::AskPerson { index, .. } => Observed::PersonAnswered { index: *index, done: rng.chance(85) },
            Action::Perform { index, step, reason } => {
                check_perform(&run, &survey, &options, confirmed, *index, stopped_at)?;
                // The journal line before the act says it began (with its reason).
                let line: MemberRun =
                    serde_json::from_str(journal.last().ok_or("no journal line")?).map_err(|e| e.to_string())?;
                if line.records.get(*index).map(|r| &r.state) != Some(&StepState::Running) {
                    return Err(format!("step {} acted before its journal line said it began", step.id));
                }
                if let Some(reason) = reason {
                    if line.records[*index].reason.as_ref() != Some(reason) {
                        return Err(format!("step {}'s reason is not the journalled one", step.id));
                    }
                    if let Some(before) = reasons.insert(*index, reason.clone()) {
                        if &before != reason {
                            return Err(format!(
                                "step {} forced a second redeployment: {before} then {reason}",
                                step.id
                            ));
                        }
                    }
                }
                if let Act::RemoveMember { id, .. } = step.act {
                    if !removal_keeps_quorum(&survey, id) {
                        return Err(format!("member {id:x} removed though the others would not hold quorum"));
                    }
                    if survey.target.as_ref().map(|t| t.id) != Some(id) {
                        return Err(format!("member {id:x} removed, not the one confirmed"));
                    }
                }
                let result = match rng.below(12) {
                    0 => StepResult::Failed { reason: "403 Forbidden".into() },
                    1 => StepResult::Failed { reason: "the API is unreachable".into() },
                    2 => StepResult::Interrupted { detail: "stopped while waiting".into() },
                    _ => StepResult::Done { detail: String::new() },
                };
                if matches!(result, StepResult::Failed { .. } | StepResult::Interrupted { .. }) {
                    stopped_at = Some(*index);
                }
                if matches!(step.act, Act::RemoveMember { .. }) && !matches!(result, StepResult::Failed { .. }) {
                    removed = true;
                }
                // A crash after the act, before its end was journalled: the run read back and resumed.
                if rng.chance(5) {
                    let last = journal.last().ok_or("no journal line")?;
                    run = serde_json::from_str(last).map_err(|e| e.to_string())?;
                    run.resume();
                    stopped_at = None;
                    trace.push("crash, resumed".into());
                    continue;
                }
                Observed::Performed { index: *index, result }
            }
        };
        run.observe(observed);
    }
    Err("the run did not end in 300 steps".into())
}

/// The rules at the moment a step acts.
fn check_perform(
    run: &MemberRun,
    survey: &Survey,
    options: &Options,
    confirmed: bool,
    index: usize,
    stopped_at: Option<usize>,
) -> Result<(), String> {
    if !confirmed {
        return Err("a step acted without the typed confirmation".into());
    }
    if options.read_only || options.plan_only {
        return Err("a step acted under --read-only or plan only".into());
    }
    if let Some(at) = stopped_at {
        return Err(format!("a step acted after step {at} failed, without a resume"));
    }
    let procedure = survey.procedure(options);
    let failed: Vec<String> =
        gates(procedure, options, survey).into_iter().filter(|g| !g.passed).map(|g| g.id).collect();
    if !failed.is_empty() {
        return Err(format!("a step acted though gates failed: {}", failed.join(", ")));
    }
    if survey.unreadable.is_some() {
        return Err("a step acted on a survey that could not be read".into());
    }
    for (earlier, record) in run.records.iter().enumerate().take(index) {
        if record.state != StepState::Done {
            return Err(format!("step {index} acted before step {earlier} was done ({:?})", record.state));
        }
    }
    Ok(())
}

#[test]
fn random_replacements_keep_every_member_rule() {
    let n = cases(3000);
    let outcomes = crate::wizard::model::run_seeds(n, one_run);
    assert!(outcomes.get("Completed").copied().unwrap_or(0) > n / 50, "too few completed: {outcomes:?}");
    eprintln!("member model: {n} runs: {outcomes:?}");
}
