//! The engine's rules, on surveys made here: which procedure a member's state
//! calls for, each gate's refusal, the typed confirmation, and a stopped run
//! taken up again at the step it was in.

use super::engine::{Action, Observed, Outcome, StepResult};
use super::steps::Act;
use super::*;

fn member(id: u64, name: &str, healthy: bool) -> MemberFacts {
    MemberFacts {
        id,
        name: name.into(),
        peer_urls: vec![format!("https://{name}:2380")],
        client_urls: vec![format!("https://{name}:2379")],
        is_learner: false,
        answer: if healthy { Ok(()) } else { Err("tcp connect error: Connection refused".into()) },
        applied_index: Some(100),
    }
}

/// master-1 down, its node NotReady, its Machine running; a fresh backup; everything allowed.
fn survey() -> Survey {
    Survey {
        api_url: "https://api.lab:6443".into(),
        cluster_name: "lab-x".into(),
        cluster_id: "abc".into(),
        version: Some("4.14.8".into()),
        members: vec![member(0xa, "master-0", true), member(0xb, "master-1", false), member(0xc, "master-2", true)],
        leader: Some(0xa),
        target: Some(TargetFacts {
            id: 0xb,
            name: "master-1".into(),
            node: Some("master-1".into()),
            node_ip: Some("10.0.0.2".into()),
            node_ready: Some("Unknown NodeStatusUnknown".into()),
            machine: Some("lab-x-master-1".into()),
            machine_phase: Some("Running".into()),
            instance_state: Some("stopped".into()),
            pod: None,
            claim: None,
            new_machine: None,
        }),
        backup: BackupFound {
            dir: "/b".into(),
            timestamp: Some("2026-12-07_010000".into()),
            age_seconds: Some(3600),
            restorable: true,
            detail: "snapshot and static resources".into(),
        },
        busy: Vec::new(),
        access: vec![("delete secrets".into(), Ok(()))],
        quorum_guard_off: false,
        control_plane_namespace: None,
        helper_host: Some(("master-0".into(), "10.0.0.1".into())),
        surveyed_at: "2026-12-07_020000".into(),
        unreadable: None,
    }
}

fn options() -> Options {
    Options {
        member: "master-1".into(),
        max_backup_age_seconds: 24 * 3600,
        backup_dir: "/b".into(),
        ..Options::default()
    }
}

fn surveyed(options: Options, survey: Survey) -> MemberRun {
    let mut run = MemberRun::new(options);
    assert_eq!(run.next_action(), Action::Survey);
    run.observe(Observed::Surveyed(Box::new(survey)));
    run
}

fn refused_by(run: &mut MemberRun, gate: &str) -> String {
    match run.next_action() {
        Action::Finished(Outcome::Refused { reasons }) => reasons
            .into_iter()
            .find(|r| r.starts_with(&format!("{gate}:")))
            .unwrap_or_else(|| panic!("{gate} did not refuse")),
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn a_dead_machine_is_replaced_in_the_documented_order() {
    let mut run = surveyed(options(), survey());
    assert_eq!(run.procedure, Some(Procedure::Machine));
    let ids: Vec<&str> = run.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "remove_member",
            "quorum_guard_off",
            "delete_secrets",
            "replace_machine",
            "quorum_guard_on",
            "redeploy_if_short",
            "member_back"
        ]
    );
    assert!(run.steps[0].point_of_no_return);
    assert!(run.steps[0].shown.iter().any(|c| c == "etcdctl member remove b"));
    assert!(run.steps[2].shown[0].contains("etcd-peer-master-1 etcd-serving-master-1 etcd-serving-metrics-master-1"));
    assert!(run.steps[3].shown[0].contains("oc delete machine -n openshift-machine-api lab-x-master-1"));
    match run.next_action() {
        Action::Confirm(c) => {
            assert_eq!(c.expected, "lab-x/master-1", "the cluster and the member are both named");
            assert!(c.point_of_no_return.contains("remove_member"));
        }
        other => panic!("{other:?}"),
    }
    run.observe(Observed::Typed("lab-x/master-2".into()));
    assert_eq!(run.next_action(), Action::Finished(Outcome::Cancelled), "another member's name cancels");
    assert!(run.records.iter().all(|r| r.state == StepState::Pending), "nothing was begun");
}

#[test]
fn etcd_crashlooping_on_a_ready_node_is_set_aside_and_redeployed() {
    let mut s = survey();
    let target = s.target.as_mut().unwrap();
    target.node_ready = Some("True KubeletReady".into());
    target.instance_state = Some("running".into());
    target.pod = Some(PodFacts {
        name: "etcd-master-1".into(),
        phase: "Running".into(),
        waiting: Some("CrashLoopBackOff".into()),
        restarts: 7,
        ..PodFacts::default()
    });
    let run = surveyed(options(), s);
    assert_eq!(run.procedure, Some(Procedure::Crashloop));
    let ids: Vec<&str> = run.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "set_aside",
            "remove_member",
            "quorum_guard_off",
            "delete_secrets",
            "force_redeployment",
            "quorum_guard_on",
            "member_back"
        ]
    );
    assert!(run.gates.iter().all(|g| g.passed), "{:?}", run.gates);
    let aside = &run.steps[0].shown;
    assert!(aside.contains(&"mv /etc/kubernetes/manifests/etcd-pod.yaml /var/lib/etcd-backup/".to_string()));
    assert!(aside.contains(&"mv /var/lib/etcd /var/lib/etcd-backup/etcd-data-2026-12-07_020000".to_string()));
}

#[test]
fn two_members_down_send_the_sre_to_the_restore_and_nothing_is_begun() {
    let mut s = survey();
    s.members[2].answer = Err("context deadline exceeded".into());
    let mut run = surveyed(options(), s);
    let reason = refused_by(&mut run, "quorum_holds");
    assert!(reason.contains("quorum is gone"), "{reason}");
    assert!(reason.contains("etcd-console restore plan"), "{reason}");
    assert!(reason.contains("--lost-host master-1 --lost-host master-2"), "{reason}");
    assert!(run.records.iter().all(|r| r.state == StepState::Pending));
}

#[test]
fn another_unhealthy_member_refuses_even_with_quorum() {
    let mut s = survey();
    s.members.push(member(0xd, "master-3", true));
    s.members.push(member(0xe, "master-4", false));
    let mut run = surveyed(options(), s);
    let reason = refused_by(&mut run, "quorum_holds");
    assert!(reason.contains("another member is unhealthy too: master-4 (e)"), "{reason}");
}

#[test]
fn a_healthy_member_needs_force_with_a_reason() {
    let mut s = survey();
    s.members[1].answer = Ok(());
    let target = s.target.as_mut().unwrap();
    target.node_ready = Some("True KubeletReady".into());
    target.instance_state = Some("running".into());
    let mut run = surveyed(options(), s.clone());
    let reason = refused_by(&mut run, "member_unhealthy");
    assert!(reason.contains("give --force REASON"), "{reason}");
    let forced = surveyed(Options { force: Some("disk swap".into()), ..options() }, s);
    let gate = forced.gates.iter().find(|g| g.id == "member_unhealthy").unwrap();
    assert!(gate.passed && gate.detail.contains("\"disk swap\""), "{gate:?}");
}

#[test]
fn without_a_fresh_backup_one_is_taken_first_unless_no_backup_or_read_only() {
    let mut s = survey();
    s.backup.age_seconds = Some(3 * 24 * 3600);
    let run = surveyed(options(), s.clone());
    assert_eq!(run.steps[0].act, Act::TakeBackup, "a backup first");
    assert!(run.gates.iter().find(|g| g.id == "backup").unwrap().detail.contains("one is taken first"));
    let skipped = surveyed(Options { no_backup: true, ..options() }, s.clone());
    assert_ne!(skipped.steps[0].act, Act::TakeBackup);
    assert!(skipped.gates.iter().find(|g| g.id == "backup").unwrap().detail.contains("--no-backup"));
    let mut read_only = surveyed(Options { read_only: true, ..options() }, s);
    let reason = refused_by(&mut read_only, "backup");
    assert!(reason.contains("--read-only takes none"), "{reason}");
}

#[test]
fn a_rollout_or_a_forbidden_step_refuses() {
    let mut s = survey();
    s.busy = vec!["the kubeapiserver operator is rolling out revision 9".into()];
    s.access = vec![("delete machines.machine.openshift.io".into(), Err("forbidden for this user".into()))];
    let mut run = surveyed(options(), s);
    assert!(refused_by(&mut run.clone(), "no_rollout").contains("revision 9"));
    assert!(refused_by(&mut run, "access").contains("delete machines.machine.openshift.io: forbidden"));
}

#[test]
fn read_only_plans_but_changes_nothing() {
    let mut run = surveyed(Options { read_only: true, ..options() }, survey());
    assert!(matches!(run.next_action(), Action::Finished(Outcome::NotAllowed { .. })));
    let planned = surveyed(Options { plan_only: true, ..options() }, survey());
    assert_eq!(planned.outcome, Some(Outcome::Planned { gates_passed: true }));
    assert_eq!(planned.outcome.as_ref().unwrap().exit_code(), 0);
}

/// Confirms and performs steps until `stop_at`, which fails.
fn run_until_failure(stop_at: &str) -> MemberRun {
    let mut s = survey();
    let target = s.target.as_mut().unwrap();
    target.node_ready = Some("True KubeletReady".into());
    target.instance_state = Some("running".into());
    let mut run = surveyed(options(), s);
    let Action::Confirm(c) = run.next_action() else { panic!() };
    run.observe(Observed::Typed(c.expected));
    loop {
        match run.next_action() {
            Action::Perform { index, step, .. } => {
                assert_eq!(run.records[index].state, StepState::Running, "journalled as begun before it acts");
                let result = if step.id == stop_at {
                    StepResult::Failed { reason: "the API timed out".into() }
                } else {
                    StepResult::Done { detail: "ok".into() }
                };
                run.observe(Observed::Performed { index, result });
            }
            Action::Finished(_) => return run,
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_stopped_run_resumes_at_its_step_and_forces_once() {
    let run = run_until_failure("delete_secrets");
    match run.outcome.clone() {
        Some(Outcome::Stopped { step, quorum_guard_off, .. }) => {
            assert_eq!(step, "delete_secrets");
            assert!(quorum_guard_off, "the guard was turned off before: said so");
            assert!(Outcome::Stopped { step, reason: String::new(), quorum_guard_off }
                .describe()
                .contains("QUORUM GUARD IS OFF"));
        }
        other => panic!("{other:?}"),
    }
    let json = serde_json::to_string(&run).unwrap();
    let mut resumed: MemberRun = serde_json::from_str(&json).unwrap();
    resumed.resume();
    match resumed.next_action() {
        Action::Perform { step, .. } => assert_eq!(step.id, "delete_secrets", "not removed again"),
        other => panic!("{other:?}"),
    }
    // The forced redeployment's reason is chosen once, kept across a crash.
    let Action::Perform { index, .. } = resumed.next_action() else { panic!() };
    resumed.observe(Observed::Performed { index, result: StepResult::Done { detail: String::new() } });
    let Action::Perform { step, reason: first, .. } = resumed.next_action() else { panic!() };
    assert_eq!(step.id, "force_redeployment");
    let first = first.unwrap();
    assert!(first.starts_with("single-master-recovery-"), "{first}");
    let mut crashed: MemberRun = serde_json::from_str(&serde_json::to_string(&resumed).unwrap()).unwrap();
    crashed.resume();
    let Action::Perform { reason: again, .. } = crashed.next_action() else { panic!() };
    assert_eq!(again.as_deref(), Some(first.as_str()));
}

#[test]
fn openshift_4_3_is_a_guided_plan_with_every_value_filled_in() {
    let mut s = survey();
    s.version = Some("4.3.40".into());
    s.members[1].name = "etcd-member-master-1".into();
    s.target.as_mut().unwrap().name = "etcd-member-master-1".into();
    let mut run = surveyed(Options { member: "etcd-member-master-1".into(), ..options() }, s);
    assert_eq!(run.procedure, Some(Procedure::Legacy43));
    assert!(run.steps[0].shown[0].contains("etcd-member-remove.sh etcd-member-master-1"));
    assert!(run.steps[1].shown[0].contains("etcd-member-add.sh 10.0.0.1 etcd-member-master-1"));
    assert!(run.steps[1].shown.iter().any(|c| c.contains("etcd-member-recover.sh 10.0.0.1 etcd-member-master-1")));
    assert!(run.steps[1].shown.iter().any(|c| c.contains("tokenize-signer.sh master-0")));
    let Action::Confirm(c) = run.next_action() else { panic!() };
    run.observe(Observed::Typed(c.expected));
    assert!(matches!(run.next_action(), Action::AskPerson { index: 0, .. }), "a person runs 4.3's scripts");
    run.observe(Observed::PersonAnswered { index: 0, done: true });
    assert!(matches!(run.next_action(), Action::Perform { index: 0, .. }), "then what can be seen is checked");
}

#[test]
fn a_hosted_member_gets_its_claim_and_pod_deleted() {
    let mut s = survey();
    s.control_plane_namespace = Some("clusters-hosted".into());
    s.members = vec![member(1, "etcd-0", true), member(2, "etcd-1", true), member(3, "etcd-2", false)];
    s.target = Some(TargetFacts {
        id: 3,
        name: "etcd-2".into(),
        pod: Some(PodFacts {
            name: "etcd-2".into(),
            uid: "u1".into(),
            phase: "Running".into(),
            waiting: Some("CrashLoopBackOff".into()),
            restarts: 3,
            ..PodFacts::default()
        }),
        claim: Some("data-etcd-2".into()),
        ..TargetFacts::default()
    });
    let run =
        surveyed(Options { member: "etcd-2".into(), hosted_cluster: Some("clusters/hosted".into()), ..options() }, s);
    assert_eq!(run.procedure, Some(Procedure::Hosted));
    assert!(run.gates.iter().all(|g| g.passed), "{:?}", run.gates);
    assert_eq!(run.steps[0].shown, ["oc delete -n clusters-hosted pvc/data-etcd-2 pod/etcd-2 --wait=false"]);
    assert_eq!(run.steps[1].id, "member_back");
}

#[test]
fn without_a_control_plane_machine_set_the_new_machine_is_made_from_the_old_ones_spec() {
    let old = serde_json::json!({
        "metadata": {"name": "ocp-x-master-1", "namespace": "openshift-machine-api", "uid": "u",
            "resourceVersion": "7", "labels": {"machine.openshift.io/cluster-api-machine-role": "master"},
            "annotations": {"machine.openshift.io/instance-state": "stopped"}},
        "spec": {"providerID": "aws:///us-east-1b/i-1", "providerSpec": {"value": {"instanceType": "m6i.xlarge"}}},
        "status": {"phase": "Running", "nodeRef": {"name": "master-1"}},
    });
    let existing = ["ocp-x-master-0", "ocp-x-master-1", "ocp-x-master-2", "ocp-x-worker-a-xyz"].map(String::from);
    let new = new_machine_from(&old, &existing).unwrap();
    assert_eq!(new["metadata"]["name"], "ocp-x-master-3");
    assert_eq!(new["metadata"]["labels"], old["metadata"]["labels"]);
    assert_eq!(new["metadata"]["annotations"]["etcd-console.io/replaces"], "ocp-x-master-1");
    assert!(new["metadata"].get("uid").is_none() && new["metadata"].get("resourceVersion").is_none());
    assert!(new.get("status").is_none() && new["spec"].get("providerID").is_none());
    assert_eq!(new["spec"]["providerSpec"], old["spec"]["providerSpec"]);
    let mut s = survey();
    s.target.as_mut().unwrap().new_machine = Some(new);
    let run = surveyed(options(), s);
    let replace = run.steps.iter().find(|s| s.id == "replace_machine").unwrap();
    assert!(replace.shown.iter().any(|c| c == "oc apply -f ocp-x-master-3.yaml"), "{:?}", replace.shown);
    let gate = run.gates.iter().find(|g| g.id == "machine").unwrap();
    assert!(
        gate.detail.contains("no Active ControlPlaneMachineSet: ocp-x-master-3 is created from its spec"),
        "{gate:?}"
    );
}
