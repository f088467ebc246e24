use std::time::{Duration, SystemTime};

use super::fixtures::*;
use super::*;

fn options() -> Options {
    Options {
        recovery_host: Some("master-0".into()),
        remote_backup_dir: "/home/core/assets/backup".into(),
        ..Options::default()
    }
}

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000 + seconds) + Duration::from_nanos(123_456_789)
}

fn surveyed(options: Options, survey: Survey) -> RestoreRun {
    let mut run = RestoreRun::new(Procedure::Standalone, "/b".into(), options);
    assert_eq!(run.next_action(at(0)), Action::Survey);
    run.observe(Observed::Surveyed(Box::new(survey)));
    run
}

fn confirmed() -> RestoreRun {
    let mut run = surveyed(options(), survey());
    let Action::Confirm(confirmation) = run.next_action(at(0)) else { panic!("no confirmation: {:?}", run.outcome) };
    assert_eq!(confirmation.cluster_name, "lab-x8k2p");
    assert_eq!(confirmation.point_of_no_return, "step 4.1@master-1: stop etcd on master-1");
    run.observe(Observed::Typed("lab-x8k2p".into()));
    run
}

/// Answers every step as done; returns the ids in the order they were asked.
fn drive(run: &mut RestoreRun) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..500 {
        match run.next_action(at(n)) {
            Action::Perform { index, step, .. } => {
                ids.push(step.id.clone());
                run.observe(Observed::Performed { index, result: StepResult::Done { detail: "ok".into() } });
            }
            Action::AskPerson { index, step } => {
                ids.push(step.id.clone());
                run.observe(Observed::PersonAnswered { index, done: true });
            }
            Action::Finished(_) => return ids,
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("no end")
}

fn position(ids: &[String], id: &str) -> usize {
    ids.iter().position(|i| i == id).unwrap_or_else(|| panic!("{id} not in {ids:?}"))
}

#[test]
fn the_standalone_plan_follows_the_runbooks_order_and_never_touches_the_recovery_hosts_static_pods_by_hand() {
    let mut run = confirmed();
    let ids = drive(&mut run);
    assert_eq!(run.outcome, Some(Outcome::Completed));
    // The backup is on the recovery host before anything stops.
    assert!(position(&ids, "3") < position(&ids, "4.1@master-1"));
    // Every non-recovery host: four pods stopped and checked, then etcd's data moved aside.
    for node in ["master-1", "master-2"] {
        for (act, check) in [("4.1", "4.2"), ("4.3", "4.4"), ("4.5", "4.6"), ("4.7", "4.8")] {
            assert!(position(&ids, &format!("{act}@{node}")) < position(&ids, &format!("{check}@{node}")));
        }
        assert!(position(&ids, &format!("4.8@{node}")) < position(&ids, &format!("4.9@{node}")));
        assert!(position(&ids, &format!("4.9@{node}")) < position(&ids, "8"));
    }
    assert!(!ids.iter().any(|id| id.starts_with("4.") && id.ends_with("@master-0")), "{ids:?}");
    // Kubelet restarted on the recovery host first.
    assert!(position(&ids, "10@master-0") < position(&ids, "10@master-1"));
    // OVN: the recovery host, then the other control-plane hosts, then the workers, one at a time.
    let ovn: Vec<&String> = ids.iter().filter(|id| id.starts_with("14.3@")).collect();
    assert_eq!(ovn, ["14.3@master-0", "14.3@master-1", "14.3@master-2", "14.3@worker-0", "14.3@worker-1"]);
    assert!(!ids.iter().any(|id| id == "14.1@worker-0"), "OVN databases are deleted on control-plane hosts only");
    // Quorum guard off, etcd forced, guard back on, then the rollouts in order.
    let order = ["16", "18", "19", "18v", "21.1", "21.1v", "21.3", "21.3v", "21.5", "21.5v", "22", "24"];
    for pair in order.windows(2) {
        assert!(position(&ids, pair[0]) < position(&ids, pair[1]), "{pair:?} in {ids:?}");
    }
    // CSRs approved (there are workers); no Machine deleted (none lost).
    assert!(ids.contains(&"11".to_string()));
    assert!(!ids.iter().any(|id| id.starts_with("15@")));
    assert!(!run.quorum_guard_off);
    // The 9a step had no NotReady node to fix.
    let at_9a = run.steps.iter().position(|s| s.id == "9a").unwrap();
    assert_eq!(run.records[at_9a].state, StepState::Skipped);
}

#[test]
fn every_gate_passes_on_a_good_survey_and_each_refuses_on_its_own() {
    let good = surveyed(options(), survey());
    assert!(good.gates.iter().all(|g| g.passed), "{:?}", good.gates);
    assert_eq!(good.stage, Stage::Confirm);

    type Spoil = fn(&mut Survey, &mut Options);
    let cases: Vec<(&str, Spoil, &str)> = vec![
        (
            "backup_files",
            |s, _| s.backup.static_problem = Some("static_kuberesources_2026-12-02_010203.tar.gz is missing".into()),
            "missing",
        ),
        ("backup_files", |s, _| s.backup.files_problem = Some("/b holds 2 snapshots".into()), "2 snapshots"),
        (
            "snapshot_verified",
            |s, _| {
                s.backup.verified = Some(false);
                s.backup.verification = "page 7 is out of range".into();
            },
            "not sound",
        ),
        ("same_cluster", |s, _| s.backup.cluster_id = Some("9f00".into()), "cluster 9f00"),
        ("same_z_stream", |s, _| s.backup.version = Some("4.14.7".into()), "taken on 4.14.7"),
        ("recovery_host", |_, o| o.recovery_host = None, "--recovery-host"),
        ("recovery_host", |s, _| s.control_plane[0].ready = false, "not Ready"),
        ("recovery_host", |_, o| o.recovery_host = Some("worker-0".into()), "not a control-plane host"),
        (
            "recovery_host",
            |s, _| s.control_plane[0].recovery.as_mut().unwrap().sudo = Err("sudo: a password is required".into()),
            "sudo -n true: sudo: a password is required",
        ),
        (
            "recovery_host",
            |s, _| s.control_plane[0].recovery.as_mut().unwrap().restore_script = Err(String::new()),
            "/usr/local/bin/cluster-restore.sh is not there or not executable: is this an OpenShift control-plane host?",
        ),
        (
            "recovery_host",
            |s, _| s.control_plane[0].recovery.as_mut().unwrap().hostname = Ok("master-1".into()),
            "hostname says master-1, not master-0",
        ),
        ("recovery_host", |s, _| s.control_plane[0].recovery = None, "were not checked"),
        (
            "hosts_reachable",
            |s, _| s.control_plane[2].reachable = Some(Err("Connection refused".into())),
            "--lost-host master-2",
        ),
        ("certificate_kubeconfig", |s, _| s.certificate_kubeconfig = Some(Err("the user has a token".into())), "token"),
        ("quorum_guard", |s, _| s.quorum_guard_off = true, "unsupportedConfigOverrides"),
    ];
    for (gate, spoil, says) in cases {
        let mut s = survey();
        let mut o = options();
        spoil(&mut s, &mut o);
        let run = surveyed(o, s);
        let failing: Vec<&Gate> = run.gates.iter().filter(|g| !g.passed).collect();
        assert_eq!(failing.len(), 1, "{gate}: {failing:?}");
        assert_eq!(failing[0].id, gate);
        assert!(failing[0].detail.contains(says), "{gate}: {}", failing[0].detail);
        let Some(Outcome::Refused { reasons }) = &run.outcome else { panic!("{gate}: {:?}", run.outcome) };
        assert!(reasons[0].starts_with(gate));
        assert!(!run.began());
    }
}

#[test]
fn a_wrong_name_cancels_read_only_and_plan_only_do_nothing() {
    let mut run = surveyed(options(), survey());
    assert!(matches!(run.next_action(at(0)), Action::Confirm(_)));
    run.observe(Observed::Typed("lab".into()));
    assert_eq!(run.next_action(at(0)), Action::Finished(Outcome::Cancelled));

    let run = surveyed(Options { read_only: true, ..options() }, survey());
    assert!(matches!(run.outcome, Some(Outcome::NotAllowed { .. })));
    assert!(!run.steps.is_empty(), "the plan is shown");

    let mut s = survey();
    s.backup.version = Some("4.13.0".into());
    let run = surveyed(Options { plan_only: true, ..options() }, s);
    assert_eq!(run.outcome, Some(Outcome::Planned { gates_passed: false }));
    assert_eq!(run.outcome.as_ref().map(Outcome::exit_code), Some(1));
}

#[test]
fn redeployment_reasons_are_the_runbooks_format_and_unique() {
    assert_eq!(redeployment_reason(at(0)), "recovery-2026-11-30 00:53:20.123456789+00:00");
    let mut run = confirmed();
    let mut reasons = Vec::new();
    for _ in 0..500 {
        // The same instant for every step: the engine still makes each reason unique.
        match run.next_action(at(0)) {
            Action::Perform { index, reason, step, .. } => {
                if let Act::ForceRedeployment { .. } = step.act {
                    reasons.push(reason.clone().unwrap());
                }
                run.observe(Observed::Performed { index, result: StepResult::Done { detail: String::new() } });
            }
            Action::AskPerson { index, .. } => run.observe(Observed::PersonAnswered { index, done: true }),
            _ => break,
        }
    }
    assert_eq!(reasons.len(), 4);
    let mut unique = reasons.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 4, "{reasons:?}");
    // A nanosecond apart, each in `date --rfc-3339=ns` form.
    assert_eq!(reasons[0], "recovery-2026-11-30 00:53:20.123456789+00:00");
    assert_eq!(reasons[1], "recovery-2026-11-30 00:53:20.123456790+00:00");
    assert!(reasons.iter().all(|r| r.starts_with("recovery-2026-11-30 00:53:20.1234567") && r.ends_with("+00:00")));
}

#[test]
fn a_lost_host_gets_no_shell_steps_its_machine_is_made_again_and_the_recovery_host_may_not_be_lost() {
    let mut s = survey();
    s.control_plane[2].reachable = Some(Err("No route to host".into()));
    s.control_plane[2].ready = false;
    let mut run = surveyed(Options { lost: vec!["master-2".into()], ..options() }, s.clone());
    assert!(run.gates.iter().all(|g| g.passed), "{:?}", run.gates);
    run.observe(Observed::Typed("lab-x8k2p".into()));
    let ids = drive(&mut run);
    assert!(
        !ids.iter().any(|id| id.ends_with("@master-2") && !id.starts_with("15@") && !id.starts_with("14.3@")),
        "{ids:?}"
    );
    let machine = run.steps.iter().find(|s| s.id == "15@master-2").unwrap();
    assert_eq!(machine.act, Act::DeleteMachine { name: "lab-x8k2p-master-2".into(), node: "master-2".into() });
    assert!(position(&ids, "15@master-2") < position(&ids, "16"));

    let run = surveyed(Options { lost: vec!["master-0".into()], ..options() }, survey());
    assert!(run.gates.iter().any(|g| g.id == "recovery_host" && !g.passed && g.detail.contains("declared lost")));
}

#[test]
fn the_engine_refuses_to_delete_the_recovery_hosts_machine_even_if_the_plan_says_so() {
    let mut run = confirmed();
    let index = run.steps.iter().position(|s| s.id == "16").unwrap();
    run.steps[index].act = Act::DeleteMachine { name: "lab-x8k2p-master-0".into(), node: "master-0".into() };
    drive(&mut run);
    let Some(Outcome::Stopped { step, reason, .. }) = &run.outcome else { panic!("{:?}", run.outcome) };
    assert_eq!(step, "16");
    assert!(reason.contains("recovery host's Machine"), "{reason}");
}

#[test]
fn a_failure_after_the_guard_went_off_says_so_and_a_resumed_run_rechecks_before_acting() {
    let mut run = confirmed();
    loop {
        match run.next_action(at(1)) {
            Action::Perform { index, step, .. } if step.id == "18" => {
                run.observe(Observed::Performed {
                    index,
                    result: StepResult::Failed { reason: "the API did not answer".into() },
                });
                break;
            }
            Action::Perform { index, .. } => {
                run.observe(Observed::Performed { index, result: StepResult::Done { detail: String::new() } })
            }
            Action::AskPerson { index, .. } => run.observe(Observed::PersonAnswered { index, done: true }),
            other => panic!("{other:?}"),
        }
    }
    let outcome = run.outcome.clone().unwrap();
    assert_eq!(outcome.exit_code(), 1);
    assert!(outcome.describe().contains("QUORUM GUARD IS OFF"), "{}", outcome.describe());
    assert!(outcome.describe().contains(QUORUM_GUARD_ON));

    // Through the journal's JSON, as after a crash.
    let mut resumed: RestoreRun = serde_json::from_str(&serde_json::to_string(&run).unwrap()).unwrap();
    resumed.resume(&[]);
    let Action::Recheck { index, step } = resumed.next_action(at(2)) else { panic!() };
    assert_eq!(step.id, "18");
    resumed.observe(Observed::Rechecked {
        index,
        done: false,
        detail: "forceRedeploymentReason is the old one".into(),
    });
    let Action::Perform { step, reason, .. } = resumed.next_action(at(3)) else { panic!() };
    assert_eq!(step.id, "18");
    assert!(reason.unwrap().starts_with("recovery-"));
}

#[test]
fn a_crash_in_the_middle_of_a_step_is_rechecked_and_a_done_step_is_not_done_twice() {
    let mut run = confirmed();
    let Action::Perform { index, step, .. } = run.next_action(at(0)) else { panic!() };
    assert_eq!(step.id, "3");
    run.observe(Observed::Performed { index, result: StepResult::Done { detail: String::new() } });
    let Action::Perform { step, .. } = run.next_action(at(0)) else { panic!() };
    assert_eq!(step.id, "4.1@master-1");
    // The journal's "before" record; the process dies here.
    let journal = serde_json::to_string(&run).unwrap();
    let mut resumed: RestoreRun = serde_json::from_str(&journal).unwrap();
    let Action::Recheck { index, step } = resumed.next_action(at(5)) else { panic!() };
    assert_eq!(step.id, "4.1@master-1");
    resumed.observe(Observed::Rechecked { index, done: true, detail: "the manifest is in /tmp".into() });
    let Action::Perform { step, .. } = resumed.next_action(at(6)) else { panic!() };
    assert_eq!(step.id, "4.2@master-1");
}

#[test]
fn nodes_still_not_ready_get_their_kubelet_certificates_cleared_and_manual_hosts_ask_the_person() {
    let mut run = confirmed();
    loop {
        match run.next_action(at(0)) {
            Action::Perform { index, step, .. } if step.id == "9" => run.observe(Observed::Performed {
                index,
                result: StepResult::DoneWithNotReady {
                    detail: "worker-1 NotReady".into(),
                    not_ready: vec!["worker-1".into()],
                },
            }),
            Action::Perform { step, nodes, .. } if step.id == "9a" => {
                assert_eq!(nodes, ["worker-1"]);
                break;
            }
            Action::Perform { index, .. } => {
                run.observe(Observed::Performed { index, result: StepResult::Done { detail: String::new() } })
            }
            Action::AskPerson { index, .. } => run.observe(Observed::PersonAnswered { index, done: true }),
            other => panic!("{other:?}"),
        }
    }

    let mut manual = surveyed(Options { manual_hosts: true, ..options() }, survey());
    manual.observe(Observed::Typed("lab-x8k2p".into()));
    let Action::AskPerson { index, step } = manual.next_action(at(0)) else { panic!() };
    assert_eq!(step.id, "3");
    assert_eq!(step.shown, ["scp -r /b/* core@master-0:/home/core/assets/backup/"]);
    manual.observe(Observed::PersonAnswered { index, done: true });
    let Action::AskPerson { step: next, .. } = manual.next_action(at(0)) else { panic!() };
    assert_eq!(next.shown, ["sudo mv -v /etc/kubernetes/manifests/etcd-pod.yaml /tmp"]);
    assert_eq!(next.node.as_deref(), Some("master-1"));
}

#[test]
fn the_hosted_procedure_pauses_first_resumes_last_and_refuses_a_delete_retention_policy() {
    let mut s = survey();
    s.hosted = Some(HostedFacts {
        namespace: "clusters".into(),
        name: "hosted".into(),
        control_plane_namespace: "clusters-hosted".into(),
        etcd_replicas: 3,
        when_scaled: Some("Retain".into()),
        etcd_image: "quay.io/etcd@sha256:1".into(),
        ..HostedFacts::default()
    });
    let options = Options { hosted_cluster: Some("clusters/hosted".into()), ..Options::default() };
    let mut run = RestoreRun::new(Procedure::Hosted, "/b".into(), options.clone());
    run.observe(Observed::Surveyed(Box::new(s.clone())));
    assert!(run.gates.iter().all(|g| g.passed), "{:?}", run.gates);
    assert!(run.steps[0].point_of_no_return);
    assert_eq!(run.steps[0].act, Act::PauseReconciliation { paused: true });
    assert_eq!(run.steps.last().unwrap().act, Act::PauseReconciliation { paused: false });
    let ids: Vec<&str> = run.steps.iter().map(|s| s.id.as_str()).collect();
    // Every member's claim restored from the snapshot, through its own data pod, before etcd is scaled up.
    for claim in ["data-etcd-0", "data-etcd-1", "data-etcd-2"] {
        let restore = ids.iter().position(|i| *i == format!("3.4@{claim}")).unwrap();
        assert!(restore < ids.iter().position(|i| *i == "3.7").unwrap(), "{ids:?}");
    }
    assert!(ids.iter().position(|i| *i == "3.8").unwrap() < ids.iter().position(|i| i.starts_with("3.9@")).unwrap());
    assert!(run.steps.iter().all(|s| !matches!(s.act, Act::Person { .. })));
    assert!(run.steps.iter().all(|s| s.place != Place::Host), "the hosted procedure is all through the API");

    s.hosted.as_mut().unwrap().when_scaled = Some("Delete".into());
    let mut run = RestoreRun::new(Procedure::Hosted, "/b".into(), options);
    run.observe(Observed::Surveyed(Box::new(s)));
    assert!(run.gates.iter().any(|g| g.id == "retention_policy" && !g.passed && g.detail.contains("Retain")));
    assert!(matches!(run.outcome, Some(Outcome::Refused { .. })));
}

/// Drives a confirmed run until `id` is about to be performed.
fn run_until(run: &mut RestoreRun, id: &str) -> (usize, Step) {
    for _ in 0..500 {
        match run.next_action(at(0)) {
            Action::Perform { index, step, .. } if step.id == id => return (index, step),
            Action::Perform { index, .. } => {
                run.observe(Observed::Performed { index, result: StepResult::Done { detail: String::new() } })
            }
            Action::AskPerson { index, .. } => run.observe(Observed::PersonAnswered { index, done: true }),
            other => panic!("{other:?}"),
        }
    }
    panic!("{id} never came")
}

fn through_json(run: &RestoreRun) -> RestoreRun {
    serde_json::from_str(&serde_json::to_string(run).unwrap()).unwrap()
}

#[test]
fn the_restore_script_is_never_run_twice_by_itself_and_the_person_can_mark_it_done() {
    let mut run = confirmed();
    run_until(&mut run, "8");
    // Killed while the script ran; on resuming etcd does not answer with one member.
    let mut resumed = through_json(&run);
    resumed.resume(&[]);
    let Action::Recheck { index, step } = resumed.next_action(at(1)) else { panic!() };
    assert_eq!(step.id, "8");
    resumed.observe(Observed::Rechecked { index, done: false, detail: "3 members".into() });
    let Some(Outcome::Stopped { step, reason, .. }) = &resumed.outcome else { panic!("{:?}", resumed.outcome) };
    assert_eq!(step, "8");
    assert!(reason.contains("--mark-done 8"), "{reason}");
    // Finished by hand, then marked done: the run goes on at 8v, the script not run again.
    resumed.resume(&["8".to_string()]);
    let Action::Perform { step, .. } = resumed.next_action(at(2)) else { panic!() };
    assert_eq!(step.id, "8v");
}

#[test]
fn a_run_stopped_before_the_point_of_no_return_is_surveyed_and_confirmed_anew_and_read_only_holds_on_resume() {
    let mut run = confirmed();
    let (index, _) = run_until(&mut run, "4.1@master-1");
    // Stopped just before: the copy was made, nothing past the point of no return.
    run.records[index].state = StepState::Pending;
    run.abort();
    let mut resumed = through_json(&run);
    resumed.resume(&[]);
    assert_eq!(resumed.next_action(at(1)), Action::Survey, "old gates are not trusted");

    // Past it, a read-only console does nothing more.
    let mut run = confirmed();
    run_until(&mut run, "4.3@master-1");
    let mut resumed = through_json(&run);
    resumed.options.read_only = true;
    resumed.resume(&[]);
    assert!(matches!(resumed.next_action(at(1)), Action::Finished(Outcome::Stopped { .. })));
}

#[test]
fn the_quorum_guard_counts_as_off_from_the_moment_its_patch_may_go() {
    let mut run = confirmed();
    let (index, _) = run_until(&mut run, "16");
    assert!(run.quorum_guard_off, "off once step 16 began");
    run.observe(Observed::Performed { index, result: StepResult::Failed { reason: "no answer".into() } });
    let outcome = run.outcome.clone().unwrap();
    assert!(outcome.describe().contains("QUORUM GUARD IS OFF"), "{}", outcome.describe());
}

#[test]
fn a_hosted_run_restores_each_member_as_etcd_listed_it_and_says_the_cluster_stays_paused_if_stopped() {
    let mut s = survey();
    s.cluster_name = "hosted".into();
    s.hosted = Some(HostedFacts {
        namespace: "clusters".into(),
        name: "hosted".into(),
        control_plane_namespace: "clusters-hosted".into(),
        etcd_replicas: 3,
        etcd_image: "quay.io/etcd@sha256:1".into(),
        token: Some("tok".into()),
        members: vec![
            ("master-0".into(), "https://127.0.0.11:2380".into()),
            ("master-1".into(), "https://127.0.0.12:2380".into()),
            ("master-2".into(), "https://127.0.0.13:2380".into()),
        ],
        ..HostedFacts::default()
    });
    let mut run = RestoreRun::new(
        Procedure::Hosted,
        "/b".into(),
        Options { hosted_cluster: Some("clusters/hosted".into()), ..Options::default() },
    );
    run.observe(Observed::Surveyed(Box::new(s.clone())));
    let Action::Confirm(confirmation) = run.next_action(at(0)) else { panic!("{:?}", run.outcome) };
    assert_eq!(confirmation.cluster_name, "hosted");
    assert!(!run.began(), "nothing before the typed name");
    run.observe(Observed::Typed("hosted".into()));
    let (_, restore) = run_until(&mut run, "3.4@data-etcd-1");
    let Act::PodExec { deployment, commands } = &restore.act else { panic!("{restore:?}") };
    assert_eq!(deployment, "etcd-data-1");
    let etcdutl = commands.last().unwrap().join(" ");
    assert_eq!(
        etcdutl,
        "etcdutl snapshot restore /var/lib/restored.snap.db --data-dir=/var/lib/data --skip-hash-check --name master-1 \
         --initial-cluster-token=tok --initial-cluster master-0=https://127.0.0.11:2380,master-1=https://127.0.0.12:2380,master-2=https://127.0.0.13:2380 \
         --initial-advertise-peer-urls https://127.0.0.12:2380"
    );
    assert_eq!(commands[0], ["rm", "-rf", "/var/lib/data"]);
    let index = run.steps.iter().position(|s| s.id == "3.4@data-etcd-1").unwrap();
    run.observe(Observed::Performed { index, result: StepResult::Failed { reason: "exit 1".into() } });
    let outcome = run.outcome.clone().unwrap();
    assert!(outcome.describe().contains("clusters/hosted stays PAUSED"), "{}", outcome.describe());

    // etcd silent: the runbook's names, and the gate says so.
    s.hosted.as_mut().unwrap().members.clear();
    let layout = s.hosted.as_ref().unwrap().layout();
    assert_eq!(
        layout.members[2],
        ("etcd-2".to_string(), "https://etcd-2.etcd-discovery.clusters-hosted.svc:2380".to_string())
    );
    // Already paused: refused before anything.
    s.hosted.as_mut().unwrap().paused = true;
    let mut run = RestoreRun::new(
        Procedure::Hosted,
        "/b".into(),
        Options { hosted_cluster: Some("clusters/hosted".into()), ..Options::default() },
    );
    run.observe(Observed::Surveyed(Box::new(s)));
    assert!(run.gates.iter().any(|g| g.id == "reconciliation" && !g.passed));
    assert!(run
        .gates
        .iter()
        .any(|g| g.id == "etcd_members" && g.passed && g.detail.contains("names and discovery URLs of OpenShift's")));
    assert!(matches!(run.next_action(at(0)), Action::Finished(Outcome::Refused { .. })));
}

#[test]
fn read_only_on_a_begun_run_stops_it_resumably_and_a_person_step_not_safe_to_redo_is_rechecked() {
    let mut run = confirmed();
    run_until(&mut run, "4.3@master-1");
    let mut resumed = through_json(&run);
    resumed.options.read_only = true;
    resumed.resume(&[]);
    let Action::Finished(Outcome::Stopped { reason, .. }) = resumed.next_action(at(1)) else { panic!() };
    assert!(reason.contains("--read-only"), "{reason}");
    assert!(!resumed.finished_for_good(), "the journal keeps it");

    // With --manual-hosts the person is asked for step 8 and stops: resuming re-checks it, never redoes it.
    let mut manual = surveyed(Options { manual_hosts: true, ..options() }, survey());
    manual.observe(Observed::Typed("lab-x8k2p".into()));
    loop {
        match manual.next_action(at(0)) {
            Action::AskPerson { index, step } if step.id == "8" => {
                manual.observe(Observed::PersonAnswered { index, done: false });
                break;
            }
            Action::AskPerson { index, .. } => manual.observe(Observed::PersonAnswered { index, done: true }),
            Action::Perform { index, .. } => {
                manual.observe(Observed::Performed { index, result: StepResult::Done { detail: String::new() } })
            }
            other => panic!("{other:?}"),
        }
    }
    let mut resumed = through_json(&manual);
    resumed.options.manual_hosts = false;
    resumed.resume(&[]);
    let Action::Recheck { step, .. } = resumed.next_action(at(1)) else { panic!() };
    assert_eq!(step.id, "8");
}

#[test]
fn on_premises_the_recovery_host_must_hold_the_api_vip_and_a_proxy_is_read_on_the_host_for_the_restore_script() {
    let mut s = survey();
    s.api_vips = vec!["192.168.111.5".into()];
    s.proxy = true;
    let run = surveyed(options(), s);
    let ids: Vec<&str> = run.steps.iter().map(|s| s.id.as_str()).collect();
    let vip = run.steps.iter().find(|s| s.id == "6").unwrap();
    assert_eq!(vip.node.as_deref(), Some("master-0"));
    // Anchored: .5 is not .50.
    assert_eq!(
        vip.check,
        Check::HostPrintsSomething {
            node: "master-0".into(),
            command: "ip -o address | egrep 'inet6? (192\\.168\\.111\\.5)/'".into()
        }
    );
    let at = |id: &str| ids.iter().position(|i| *i == id).unwrap();
    assert!(at("6") < at("8"), "{ids:?}");
    // The proxy file is checked before the point of no return; no proxy value is in any command.
    assert!(at("7") < at("4.1@master-1"), "{ids:?}");
    let restore = run.steps.iter().find(|s| s.id == "8").unwrap();
    assert_eq!(
        restore.act,
        Act::Host {
            node: "master-0".into(),
            command: "sudo -E sh -c 'set -a; . /etc/mco/proxy.env; set +a; exec /usr/local/bin/cluster-restore.sh /home/core/assets/backup'".into()
        }
    );
    // Neither on a cloud platform without a proxy.
    let plain = surveyed(options(), survey());
    assert!(plain.steps.iter().all(|s| s.id != "6" && s.id != "7"));
    assert!(plain.steps.iter().any(|s| matches!(&s.act, Act::Host { command, .. } if command == "sudo -E /usr/local/bin/cluster-restore.sh /home/core/assets/backup")));
}

#[test]
fn the_backup_gate_says_which_backup_why_the_newer_were_passed_over_and_that_the_archive_is_secret() {
    let mut s = survey();
    s.backup.chosen_because = Some("the newest complete, clean backup of this cluster of the 2 in /b".into());
    s.backup.passed_over = vec![crate::backup::directory::PassedOver {
        timestamp: "2026-12-03_010203".into(),
        why: "marked possibly dirty".into(),
    }];
    s.backup.files =
        vec!["snapshot_2026-12-02_010203.db".into(), "static_kuberesources_2026-12-02_010203.tar.gz".into()];
    let run = surveyed(options(), s.clone());
    let gate = run.gates.iter().find(|g| g.id == "backup_files").unwrap();
    assert!(gate.passed, "{gate:?}");
    assert!(gate.detail.contains("newest complete, clean backup"), "{}", gate.detail);
    assert!(gate.detail.contains("passed over 2026-12-03_010203: marked possibly dirty"), "{}", gate.detail);
    assert!(gate.detail.contains("as secret as the encryption keys"), "{}", gate.detail);
    // The copy step names only the chosen backup's files.
    let copy = run.steps.iter().find(|s| s.id == "3").unwrap();
    assert_eq!(
        copy.shown,
        ["scp -p /b/snapshot_2026-12-02_010203.db /b/static_kuberesources_2026-12-02_010203.tar.gz core@master-0:/home/core/assets/backup/"]
    );

    for (spoil, says) in [
        (
            (|s: &mut Survey| s.backup.integrity_problem = Some("snapshot_x.db is 5 bytes".into())) as fn(&mut Survey),
            "not what was written",
        ),
        (
            |s: &mut Survey| s.backup.dirty_problem = Some("name it with --timestamp 2026-12-02_010203".into()),
            "--timestamp",
        ),
    ] {
        let mut spoilt = s.clone();
        spoil(&mut spoilt);
        let run = surveyed(options(), spoilt);
        let failing: Vec<&Gate> = run.gates.iter().filter(|g| !g.passed).collect();
        assert_eq!(failing.len(), 1, "{failing:?}");
        assert_eq!(failing[0].id, "backup_files");
        assert!(failing[0].detail.contains(says), "{}", failing[0].detail);
        assert!(matches!(run.outcome, Some(Outcome::Refused { .. })));
    }
}

fn hosted_run() -> RestoreRun {
    let mut s = survey();
    s.hosted = Some(HostedFacts {
        namespace: "clusters".into(),
        name: "hosted".into(),
        control_plane_namespace: "clusters-hosted".into(),
        etcd_replicas: 3,
        etcd_image: "quay.io/etcd@sha256:1".into(),
        surveyed_at: "2026-12-02_010203".into(),
        ..HostedFacts::default()
    });
    let options = Options { hosted_cluster: Some("clusters/hosted".into()), ..Options::default() };
    let mut run = RestoreRun::new(Procedure::Hosted, "/b".into(), options);
    run.observe(Observed::Surveyed(Box::new(s)));
    run.observe(Observed::Typed(run.survey.as_ref().unwrap().cluster_name.clone()));
    run
}

/// Performs the run's steps until step `id` is the next one.
fn done_until(run: &mut RestoreRun, id: &str) {
    loop {
        let Action::Perform { index, step, .. } = run.next_action(at(0)) else { panic!("{:?}", run.outcome) };
        if step.id == id {
            run.records[index].state = StepState::Pending;
            return;
        }
        run.observe(Observed::Performed { index, result: StepResult::Done { detail: String::new() } });
    }
}

#[test]
fn each_members_data_is_set_aside_on_its_claim_before_it_is_replaced() {
    let run = hosted_run();
    let ids: Vec<&str> = run.steps.iter().map(|s| s.id.as_str()).collect();
    for claim in ["data-etcd-0", "data-etcd-1", "data-etcd-2"] {
        let aside = ids.iter().position(|i| *i == format!("3.3a@{claim}")).unwrap();
        assert_eq!(ids[aside + 1], format!("3.4@{claim}"), "{ids:?}");
        assert_eq!(
            run.steps[aside].act,
            Act::SetAside {
                deployment: steps::data_deployment(claim.trim_start_matches("data-etcd-").parse().unwrap()),
                from: "/var/lib/data".into(),
                to: "/var/lib/data.before-restore-2026-12-02_010203".into(),
            }
        );
    }
}

#[test]
fn abort_brings_back_only_what_the_run_did_and_is_refused_once_a_members_data_is_touched() {
    // Stopped while the snapshot went into member 0's data pod.
    let mut run = hosted_run();
    done_until(&mut run, "3.3a@data-etcd-0");
    run.abort();
    assert!(matches!(run.outcome, Some(Outcome::Stopped { .. })));
    assert_eq!(run.abortable(), Ok(()));
    run.begin_abort().unwrap();
    let ids: Vec<&str> = run.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "a3.5@data-etcd-0",
            "a3.6@data-etcd-0",
            "a3.7",
            "a3.8",
            "a3.9@kube-apiserver",
            "a3.9@openshift-apiserver",
            "a3.9@openshift-oauth-apiserver",
            "a4"
        ]
    );
    assert_eq!(run.steps.last().unwrap().act, Act::PauseReconciliation { paused: false });
    assert!(run.began(), "a stopped abort keeps its journal");
    // The abort journalled and read back goes on with the same steps.
    let mut again = through_json(&run);
    again.abort();
    assert!(!again.finished_for_good());
    again.begin_abort().unwrap();
    assert_eq!(again.steps, run.steps);

    // Stopped once member 0's data was set aside: refused, and told to resume.
    let mut touched = hosted_run();
    done_until(&mut touched, "3.4@data-etcd-0");
    touched.abort();
    let refused = touched.begin_abort().unwrap_err();
    assert!(refused.contains("3.3a@data-etcd-0") && refused.contains("resume the restore instead"), "{refused}");
    assert!(refused.contains("/var/lib/data.before-restore-2026-12-02_010203"), "{refused}");
    assert!(!touched.aborting);
    assert!(matches!(touched.outcome, Some(Outcome::Stopped { .. })), "nothing changed");

    // A standalone run is not aborted.
    let mut standalone = confirmed();
    standalone.abort();
    assert!(standalone.abortable().unwrap_err().contains("hosted procedure"));
}

#[test]
fn a_host_declared_lost_whose_node_is_ready_or_whose_shell_answers_is_refused_unless_forced_with_a_reason() {
    let lost = || Options { lost: vec!["master-2".into()], ..options() };
    // Healthy in every way: refused, nothing begins.
    let run = surveyed(lost(), survey());
    let gate = run.gates.iter().find(|g| g.id == "hosts_reachable").unwrap();
    assert!(!gate.passed);
    assert!(
        gate.detail.starts_with("master-2 is declared lost but its node is Ready and a shell answers on it"),
        "{}",
        gate.detail
    );
    assert!(gate.detail.contains("--force-lost REASON"), "{}", gate.detail);
    assert!(matches!(run.outcome, Some(Outcome::Refused { .. })) && !run.began());
    // Either sign of life is enough to refuse.
    let mut s = survey();
    s.control_plane[2].ready = false;
    let run = surveyed(lost(), s.clone());
    let gate = run.gates.iter().find(|g| g.id == "hosts_reachable").unwrap();
    assert!(!gate.passed && gate.detail.contains("is declared lost but a shell answers on it"), "{}", gate.detail);
    // Forced with a reason: planned, the reason said, and kept with the run (the journal).
    let forced = Options { force_lost: Some("its disk fails; replaced on purpose".into()), ..lost() };
    let run = surveyed(forced, survey());
    assert!(run.gates.iter().all(|g| g.passed), "{:?}", run.gates);
    let gate = run.gates.iter().find(|g| g.id == "hosts_reachable").unwrap();
    assert!(gate.detail.contains("forced (its disk fails; replaced on purpose)"), "{}", gate.detail);
    assert!(run.steps.iter().any(|s| s.id == "15@master-2"));
    assert_eq!(through_json(&run).options.force_lost.as_deref(), Some("its disk fails; replaced on purpose"));
}

#[test]
fn webhooks_set_to_ignore_are_set_back_when_the_run_stops_before_the_point_of_no_return_and_kept_after_it() {
    let with_webhook = || {
        let mut s = survey();
        s.fail_webhooks = vec!["validatingwebhookconfiguration/lab-policy[0]".into()];
        s
    };
    let mut run = surveyed(options(), with_webhook());
    run.observe(Observed::Typed("lab-x8k2p".into()));
    let (index, _) = run_until(&mut run, "3");
    assert!(!run.webhooks_to_set_back(), "not while it runs");
    run.observe(Observed::Performed { index, result: StepResult::Failed { reason: "another backup is there".into() } });
    assert!(run.webhooks_to_set_back(), "stopped after step 0, before the point of no return");
    run.webhooks_were_set_back(Ok("validatingwebhookconfiguration/lab-policy[0]".into()));
    assert!(!run.webhooks_to_set_back(), "once");
    let said = run.outcome.as_ref().unwrap().describe();
    assert!(
        said.contains("were set back to failurePolicy Fail: validatingwebhookconfiguration/lab-policy[0]"),
        "{said}"
    );
    // The resumed run surveys anew (the webhook is Fail again: step 0 comes again).
    let mut resumed = through_json(&run);
    resumed.resume(&[]);
    assert_eq!(resumed.next_action(at(1)), Action::Survey);

    // Past the point of no return they stay Ignore: the run is resumed there, 12.3 and 0b to come.
    let mut run = surveyed(options(), with_webhook());
    run.observe(Observed::Typed("lab-x8k2p".into()));
    let (index, _) = run_until(&mut run, "4.3@master-1");
    run.observe(Observed::Performed { index, result: StepResult::Failed { reason: "no answer".into() } });
    assert!(!run.webhooks_to_set_back());
    // Nor when read-only, nor before step 0 began.
    let mut run = surveyed(options(), with_webhook());
    run.observe(Observed::Typed("lab-x8k2p".into()));
    run.abort();
    assert!(!run.webhooks_to_set_back());
}

#[test]
fn webhooks_left_at_ignore_by_an_earlier_run_are_planned_as_its_own_and_the_gate_says_so() {
    let mut s = survey();
    s.fail_webhooks = vec!["validatingwebhookconfiguration/lab-policy[0]".into()];
    s.ignored_webhooks = s.fail_webhooks.clone();
    let run = surveyed(options(), s);
    let gate = run.gates.iter().find(|g| g.id == "webhooks").unwrap();
    assert!(
        gate.detail.contains("left at Ignore by an earlier run that stopped: set back to Fail too"),
        "{}",
        gate.detail
    );
    let back = run.steps.iter().find(|s| s.id == "0b").unwrap();
    assert_eq!(
        back.check,
        Check::FailurePolicy {
            webhooks: vec!["validatingwebhookconfiguration/lab-policy[0]".into()],
            policy: "Fail".into()
        }
    );
}

#[test]
fn a_hostname_names_its_node_in_full_or_short_whatever_the_case() {
    assert!(same_host_name("master-0\n", "master-0"));
    assert!(same_host_name("master-0", "master-0.lab.example.com"));
    assert!(same_host_name("Master-0.lab.example.com", "master-0"));
    assert!(!same_host_name("master-1", "master-0"));
    assert!(!same_host_name("master-0.other.example.com", "master-0.lab.example.com"));
    assert!(!same_host_name("", "master-0"));
}

/// Drives a confirmed run to its end with step 9 finding `not_ready` NotReady, every other step done:
/// each step asked, with the nodes a per-node act was given.
fn drive_with_not_ready(run: &mut RestoreRun, not_ready: &[&str]) -> Vec<(String, Vec<String>)> {
    let mut asked = Vec::new();
    for n in 0..500 {
        match run.next_action(at(n)) {
            Action::Perform { index, step, nodes, .. } => {
                asked.push((step.id.clone(), nodes));
                let result = if step.id == "9" {
                    StepResult::DoneWithNotReady {
                        detail: "NotReady".into(),
                        not_ready: not_ready.iter().map(|n| n.to_string()).collect(),
                    }
                } else {
                    StepResult::Done { detail: "ok".into() }
                };
                run.observe(Observed::Performed { index, result });
            }
            Action::AskPerson { index, step } => {
                asked.push((step.id.clone(), Vec::new()));
                run.observe(Observed::PersonAnswered { index, done: true });
            }
            Action::Finished(_) => return asked,
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("no end")
}

#[test]
fn workers_whose_kubelet_pems_9a_deleted_get_their_kubelet_restarted_before_the_csrs_are_approved() {
    let mut run = confirmed();
    let asked = drive_with_not_ready(&mut run, &["worker-1", "master-2"]);
    assert_eq!(run.outcome, Some(Outcome::Completed));
    let ids: Vec<String> = asked.iter().map(|(id, _)| id.clone()).collect();
    let nodes_of = |id: &str| asked.iter().find(|(i, _)| i == id).map(|(_, n)| n.clone());
    assert_eq!(nodes_of("9a").unwrap(), ["worker-1", "master-2"]);
    let restarted = nodes_of("10w").unwrap_or_else(|| panic!("no step restarts the workers' kubelets: {ids:?}"));
    assert_eq!(restarted, ["worker-1"], "the workers 9a touched; control-plane hosts are step 10's");
    // After every control-plane kubelet, before the CSRs of them all are approved and waited for.
    assert!(position(&ids, "10@master-2") < position(&ids, "10w"), "{ids:?}");
    assert!(position(&ids, "10w") < position(&ids, "11"), "{ids:?}");
    let step = run.steps.iter().find(|s| s.id == "10w").unwrap();
    assert_eq!(step.shown, ["sudo systemctl restart kubelet.service"]);
    assert_eq!(step.place, Place::Host);
    // Checked by more than the command's exit: the kubelet is seen back.
    assert_ne!(step.check, Check::Answer);
    // A journalled run keeps what 9a touched.
    assert_eq!(through_json(&run).not_ready, ["worker-1", "master-2"]);

    // 9a touched only a control-plane host: nothing for the workers.
    let mut run = confirmed();
    let asked = drive_with_not_ready(&mut run, &["master-2"]);
    assert!(!asked.iter().any(|(id, _)| id == "10w"), "{asked:?}");
    let at_10w = run.steps.iter().position(|s| s.id == "10w").unwrap();
    assert_eq!(run.records[at_10w].state, StepState::Skipped);
    assert!(run.records[at_10w].detail.contains("no worker"), "{}", run.records[at_10w].detail);
    // Every node Ready: 9a and the workers' step are both skipped.
    let mut run = confirmed();
    let asked = drive_with_not_ready(&mut run, &[]);
    assert!(!asked.iter().any(|(id, _)| id == "9a" || id == "10w"), "{asked:?}");
    // A cluster without workers has no such step.
    let mut s = survey();
    s.workers.clear();
    let run = surveyed(options(), s);
    assert!(!run.steps.iter().any(|s| s.id == "10w"));
}

/// The fixture's survey with the workers' shells as given (`None`: not tried).
fn survey_with_workers(reached: [Option<Result<(), String>>; 2]) -> Survey {
    let mut value = serde_json::to_value(survey()).unwrap();
    let hosts: Vec<serde_json::Value> = ["worker-0", "worker-1"]
        .iter()
        .zip(reached)
        .enumerate()
        .map(|(i, (name, reachable))| {
            serde_json::json!({"name": name, "ip": format!("10.0.1.{}", 20 + i), "ready": i == 0,
                "machine": null, "reachable": reachable})
        })
        .collect();
    value["worker_hosts"] = serde_json::json!(hosts);
    serde_json::from_value(value).unwrap()
}

#[test]
fn every_workers_shell_must_answer_before_the_point_of_no_return_or_the_person_runs_the_host_commands() {
    let run = surveyed(options(), survey_with_workers([Some(Ok(())), Some(Ok(()))]));
    let gate = run.gates.iter().find(|g| g.id == "workers_reachable").unwrap_or_else(|| panic!("{:?}", run.gates));
    assert!(gate.passed && gate.detail.contains("worker-0, worker-1"), "{gate:?}");
    assert_eq!(run.stage, Stage::Confirm);

    let refused = "ssh: connect to host 10.0.1.21 port 22: Connection refused";
    for (reached, says) in
        [([Some(Ok(())), Some(Err(refused.to_string()))], refused), ([Some(Ok(())), None], "was not tried")]
    {
        let run = surveyed(options(), survey_with_workers(reached));
        let failing: Vec<&Gate> = run.gates.iter().filter(|g| !g.passed).collect();
        assert_eq!(failing.len(), 1, "{failing:?}");
        let gate = failing[0];
        assert_eq!(gate.id, "workers_reachable");
        assert!(gate.detail.contains("worker-1") && !gate.detail.contains("worker-0"), "{}", gate.detail);
        assert!(gate.detail.contains(says), "{}", gate.detail);
        // What to do about it: a shell (ssh) on it, or the host commands run by the person.
        for what in ["9a", "--ssh-", "--manual-hosts", "Restoring to a previous cluster state"] {
            assert!(gate.detail.contains(what), "{what}: {}", gate.detail);
        }
        assert!(
            matches!(&run.outcome, Some(Outcome::Refused { reasons }) if reasons[0].starts_with("workers_reachable"))
        );
        assert!(!run.began());
    }
    // With --manual-hosts no shell is tried: the person runs them.
    let run = surveyed(Options { manual_hosts: true, ..options() }, survey_with_workers([None, None]));
    let gate = run.gates.iter().find(|g| g.id == "workers_reachable").unwrap();
    assert!(gate.passed, "{gate:?}");
}

#[test]
fn with_manual_hosts_the_person_is_told_on_which_nodes_9a_and_10w_run() {
    let mut run = surveyed(Options { manual_hosts: true, ..options() }, survey());
    run.observe(Observed::Typed("lab-x8k2p".into()));
    let mut asked = Vec::new();
    for n in 0..500 {
        match run.next_action(at(n)) {
            Action::Perform { index, step, .. } => {
                let result = if step.id == "9" {
                    StepResult::DoneWithNotReady {
                        detail: "NotReady".into(),
                        not_ready: vec!["worker-1".into(), "master-2".into()],
                    }
                } else {
                    StepResult::Done { detail: "ok".into() }
                };
                run.observe(Observed::Performed { index, result });
            }
            Action::AskPerson { index, step } => {
                asked.push((step.id.clone(), step.title.clone()));
                run.observe(Observed::PersonAnswered { index, done: true });
            }
            Action::Finished(_) => break,
            other => panic!("{other:?}"),
        }
    }
    let title = |id: &str| asked.iter().find(|(i, _)| i == id).map(|(_, t)| t.clone()).unwrap();
    assert!(title("9a").ends_with(": on worker-1, master-2"), "{}", title("9a"));
    assert!(title("10w").ends_with(": on worker-1"), "{}", title("10w"));
    assert_eq!(run.outcome, Some(Outcome::Completed));
}
