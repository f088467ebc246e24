use std::time::Duration;

use super::fixtures::*;
use super::*;

const T0: &str = "2026-12-01T00:00:00Z";

fn waiting(backup_first: bool) -> Options {
    Options {
        wait: true,
        backup_first,
        poll: Duration::from_secs(5),
        stall_after: Some(Duration::from_secs(600)),
        ..Options::default()
    }
}

/// A run taken to the point just after the patch.
fn patched(from: &str, from_reason: &str, to: EncryptionType) -> EncryptionRun {
    let mut run = EncryptionRun::new(to, waiting(false));
    assert_eq!(run.next_action(), Action::Read { rights: true });
    run.observe(Observed::Read(Box::new(reading(from, from_reason, T0))), at(0));
    let Action::AskYes(plan) = run.next_action() else { panic!("expected the question: {:?}", run.outcome()) };
    assert_eq!((plan.from, plan.to), (EncryptionType::parse(from).unwrap(), to));
    run.answer(true);
    assert_eq!(run.next_action(), Action::Read { rights: true }, "read again just before the patch");
    run.observe(Observed::Read(Box::new(reading(from, from_reason, T0))), at(1));
    assert_eq!(
        run.next_action(),
        Action::Patch { from: EncryptionType::parse(from).unwrap(), to, resource_version: Some("41".into()) }
    );
    run.observe(Observed::Patched(Ok(())), at(2));
    run
}

#[test]
fn a_migration_is_followed_until_every_operator_has_moved_and_completed() {
    let mut run = patched("", "EncryptionDisabled", EncryptionType::Aescbc);
    assert_eq!(run.stage, Stage::Following);
    assert_eq!(run.next_action(), Action::Read { rights: false });
    // Right after the patch the conditions still say the old state: not done.
    run.observe(Observed::Read(Box::new(reading("aescbc", "EncryptionDisabled", T0))), at(3));
    assert_eq!(run.next_action(), Action::Wait(Duration::from_secs(5)));
    run.observe(Observed::Waited, at(8));
    let mut mid = reading("aescbc", "EncryptionInProgress", "2026-12-01T00:01:00Z");
    mid.operators[0].encrypted =
        condition("EncryptionCompleted", "All resources encrypted: routes.route.openshift.io", "2026-12-01T00:02:00Z");
    mid.keys.push(KeySecret {
        name: "encryption-key-openshift-apiserver-1".into(),
        component: "openshift-apiserver".into(),
        mode: "aescbc".into(),
        created: None,
    });
    run.observe(Observed::Read(Box::new(mid)), at(60));
    assert!(run.outcome().is_none());
    assert_eq!(run.followed[0].done_after_seconds, Some(58));
    assert_eq!(run.new_keys.len(), 1);
    assert!(run
        .events
        .iter()
        .any(|e| e.text.contains("new key secret encryption-key-openshift-apiserver-1 (mode aescbc)")));
    assert_eq!(run.waiting_on().len(), 2);
    run.observe(Observed::Waited, at(65));
    run.observe(Observed::Read(Box::new(reading("aescbc", "EncryptionCompleted", "2026-12-01T00:20:00Z"))), at(1202));
    assert_eq!(run.outcome(), Some(&Outcome::Completed { took_seconds: 1200 }));
    assert_eq!(run.outcome().map(Outcome::exit_code), Some(0));
}

#[test]
fn aescbc_to_aesgcm_is_not_taken_as_done_by_the_old_completed_condition() {
    let mut run = patched("aescbc", "EncryptionCompleted", EncryptionType::Aesgcm);
    // Same reason, same transition time as before the patch: the old migration's.
    run.observe(Observed::Read(Box::new(reading("aesgcm", "EncryptionCompleted", T0))), at(10));
    assert!(run.outcome().is_none(), "{:?}", run.outcome());
    // A new transition (even one missed in between) is this migration's.
    run.observe(Observed::Waited, at(15));
    run.observe(Observed::Read(Box::new(reading("aesgcm", "EncryptionCompleted", "2026-12-01T00:30:00Z"))), at(30));
    assert_eq!(run.outcome(), Some(&Outcome::Completed { took_seconds: 28 }));
}

#[test]
fn identity_waits_for_decryption_completed() {
    let mut run = patched("aesgcm", "EncryptionCompleted", EncryptionType::Identity);
    run.observe(Observed::Read(Box::new(reading("identity", "DecryptionInProgress", "2026-12-01T00:01:00Z"))), at(10));
    assert!(run.outcome().is_none());
    run.observe(Observed::Waited, at(15));
    run.observe(Observed::Read(Box::new(reading("identity", "DecryptionCompleted", "2026-12-01T00:09:00Z"))), at(20));
    assert_eq!(run.outcome(), Some(&Outcome::Completed { took_seconds: 18 }));
}

#[test]
fn a_running_migration_or_a_degraded_operator_refuses_before_anything_is_asked() {
    let mut run = EncryptionRun::new(EncryptionType::Aesgcm, waiting(false));
    run.observe(Observed::Read(Box::new(reading("aescbc", "EncryptionInProgress", T0))), at(0));
    match run.outcome() {
        Some(Outcome::Refused { reason }) => {
            assert!(
                reason.contains("already running") && reason.contains("kubeapiserver EncryptionInProgress"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    // Asked for but not begun: the conditions contradict the type.
    let mut run = EncryptionRun::new(EncryptionType::Aesgcm, waiting(false));
    run.observe(Observed::Read(Box::new(reading("aescbc", "EncryptionDisabled", T0))), at(0));
    assert!(matches!(run.outcome(), Some(Outcome::Refused { .. })));
    let mut degraded = reading("", "EncryptionDisabled", T0);
    degraded.cluster_operators[1] = co("openshift-apiserver", "True");
    let mut run = EncryptionRun::new(EncryptionType::Aescbc, waiting(false));
    run.observe(Observed::Read(Box::new(degraded)), at(0));
    match run.outcome() {
        Some(Outcome::Refused { reason }) => {
            assert!(reason.contains("clusteroperator/openshift-apiserver Degraded"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    // An unreadable operator: cannot tell.
    let mut unread = reading("", "EncryptionDisabled", T0);
    unread.operators.remove(1);
    unread.problems.push("reading kubeapiservers.operator.openshift.io/cluster: not allowed (403 Forbidden)".into());
    let mut run = EncryptionRun::new(EncryptionType::Aescbc, waiting(false));
    run.observe(Observed::Read(Box::new(unread)), at(0));
    match run.outcome() {
        Some(Outcome::Refused { reason }) => {
            assert!(reason.contains("cannot tell") && reason.contains("403"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn already_there_is_nothing_to_do_and_exits_zero() {
    let mut run = EncryptionRun::new(EncryptionType::Aescbc, waiting(false));
    run.observe(Observed::Read(Box::new(reading("aescbc", "EncryptionCompleted", T0))), at(0));
    assert!(matches!(run.outcome(), Some(Outcome::NothingToDo { .. })));
    assert_eq!(run.outcome().map(Outcome::exit_code), Some(0));
    let mut run = EncryptionRun::new(EncryptionType::Identity, waiting(false));
    run.observe(Observed::Read(Box::new(reading("", "EncryptionDisabled", T0))), at(0));
    assert!(matches!(run.outcome(), Some(Outcome::NothingToDo { .. })));
}

#[test]
fn read_only_and_a_user_without_rights_get_the_plan_and_no_patch() {
    let mut run = EncryptionRun::new(EncryptionType::Aescbc, Options { read_only: true, ..waiting(false) });
    run.observe(Observed::Read(Box::new(reading("", "EncryptionDisabled", T0))), at(0));
    match run.outcome() {
        Some(Outcome::NotAllowed { reason }) => assert!(reason.contains("--read-only"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let plan = run.plan().unwrap();
    assert_eq!((plan.from, plan.to, plan.operators.len()), (EncryptionType::Identity, EncryptionType::Aescbc, 3));
    assert!(!matches!(run.next_action(), Action::Patch { .. }));
    let mut viewer = reading("", "EncryptionDisabled", T0);
    viewer.may_patch = Some(false);
    let mut run = EncryptionRun::new(EncryptionType::Aescbc, waiting(false));
    run.observe(Observed::Read(Box::new(viewer)), at(0));
    match run.outcome() {
        Some(Outcome::NotAllowed { reason }) => assert!(reason.contains("SelfSubjectAccessReview"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(run.outcome().map(Outcome::exit_code), Some(1));
}

#[test]
fn a_change_between_the_yes_and_the_patch_refuses_and_no_is_a_cancel() {
    let mut run = EncryptionRun::new(EncryptionType::Aesgcm, waiting(false));
    run.observe(Observed::Read(Box::new(reading("aescbc", "EncryptionCompleted", T0))), at(0));
    run.answer(true);
    run.observe(Observed::Read(Box::new(reading("identity", "DecryptionInProgress", T0))), at(5));
    match run.outcome() {
        Some(Outcome::Refused { reason }) => {
            assert!(
                reason.contains("changed since the plan (aescbc -> identity)")
                    && reason.contains("nothing was patched"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    let mut run = EncryptionRun::new(EncryptionType::Aesgcm, waiting(false));
    run.observe(Observed::Read(Box::new(reading("aescbc", "EncryptionCompleted", T0))), at(0));
    run.answer(false);
    assert_eq!(run.outcome(), Some(&Outcome::Cancelled));
}

#[test]
fn the_backup_comes_first_and_its_failure_patches_nothing() {
    let mut run = EncryptionRun::new(EncryptionType::Aescbc, waiting(true));
    run.observe(Observed::Read(Box::new(reading("", "EncryptionDisabled", T0))), at(0));
    run.answer(true);
    assert_eq!(run.next_action(), Action::Backup);
    run.observe(Observed::BackedUp(Err("member down".into())), at(3));
    match run.outcome() {
        Some(Outcome::Failed { reason }) => {
            assert!(reason.contains("member down") && reason.contains("nothing was patched"))
        }
        other => panic!("{other:?}"),
    }
    let mut run = EncryptionRun::new(EncryptionType::Aescbc, waiting(true));
    run.observe(Observed::Read(Box::new(reading("", "EncryptionDisabled", T0))), at(0));
    run.answer(true);
    run.observe(Observed::BackedUp(Ok("/b/snapshot_x.db".into())), at(3));
    assert_eq!(run.next_action(), Action::Read { rights: true });
    assert_eq!(run.backup.as_deref(), Some("/b/snapshot_x.db"));
}

#[test]
fn a_degraded_operator_stops_the_wait_and_silence_ends_as_stalled() {
    let mut run = patched("", "EncryptionDisabled", EncryptionType::Aescbc);
    let mut broken = reading("aescbc", "EncryptionInProgress", "2026-12-01T00:01:00Z");
    broken.operators[0].degraded.push("EncryptionMigrationControllerDegraded: migrating routes failed".into());
    run.observe(Observed::Read(Box::new(broken)), at(302));
    match run.outcome() {
        Some(Outcome::Degraded { reason }) => {
            assert!(
                reason.contains("after 5m")
                    && reason.contains("openshiftapiserver EncryptionMigrationControllerDegraded"),
                "{reason}"
            );
            assert!(reason.contains("not completed: openshiftapiserver EncryptionInProgress"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let mut run = patched("", "EncryptionDisabled", EncryptionType::Aescbc);
    run.observe(Observed::Read(Box::new(reading("aescbc", "EncryptionInProgress", "2026-12-01T00:01:00Z"))), at(10));
    run.observe(Observed::Waited, at(15));
    run.observe(Observed::Read(Box::new(reading("aescbc", "EncryptionInProgress", "2026-12-01T00:01:00Z"))), at(500));
    assert!(run.outcome().is_none(), "not yet ten quiet minutes");
    run.observe(Observed::Waited, at(505));
    run.observe(Observed::Read(Box::new(reading("aescbc", "EncryptionInProgress", "2026-12-01T00:01:00Z"))), at(611));
    match run.outcome() {
        Some(Outcome::Stalled { reason }) => {
            assert!(
                reason.contains("nothing changed for 10m 1s")
                    && reason.contains("kubeapiserver EncryptionInProgress since"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_older_cluster_is_followed_on_the_two_operators_that_report() {
    let older = |reason: &str, since: &str| {
        let mut r = reading("", reason, since);
        r.operators[2].encrypted = None;
        r
    };
    let mut run = EncryptionRun::new(EncryptionType::Aescbc, waiting(false));
    run.observe(Observed::Read(Box::new(older("EncryptionDisabled", T0))), at(0));
    let plan = run.plan().unwrap();
    assert_eq!(plan.operators, ["openshiftapiserver", "kubeapiserver"]);
    assert!(
        plan.notes.iter().any(|n| n.contains("4.5/4.6") && n.contains("followed on 2 operators")),
        "{:?}",
        plan.notes
    );
    run.answer(true);
    run.observe(Observed::Read(Box::new(older("EncryptionDisabled", T0))), at(1));
    run.observe(Observed::Patched(Ok(())), at(2));
    let mut done = older("EncryptionCompleted", "2026-12-01T00:20:00Z");
    done.spec_type = Some("aescbc".into());
    run.observe(Observed::Read(Box::new(done)), at(100));
    assert_eq!(run.outcome(), Some(&Outcome::Completed { took_seconds: 98 }));
}

#[test]
fn a_hosted_cluster_is_explained_not_migrated() {
    let mut r = reading("", "EncryptionDisabled", T0);
    r.hosted_clusters.push(HostedEncryption {
        namespace: "clusters".into(),
        name: "hosted".into(),
        kind: Some("aescbc".into()),
        active_key: Some("hosted-etcd-encryption-key".into()),
        key_present: Some(true),
        kms_provider: None,
        kms_active_key: None,
    });
    let mut run = EncryptionRun::new(
        EncryptionType::Aescbc,
        Options { hosted_cluster: Some("clusters/hosted".into()), ..waiting(false) },
    );
    run.observe(Observed::Read(Box::new(r)), at(0));
    match run.outcome() {
        Some(Outcome::NotAllowed { reason }) => {
            assert!(
                reason.contains(
                    "spec.secretEncryption aescbc (active key hosted-etcd-encryption-key, its secret present)"
                ),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stopping_before_the_patch_changes_nothing_and_after_it_only_stops_following() {
    let mut run = EncryptionRun::new(EncryptionType::Aescbc, waiting(false));
    run.observe(Observed::Read(Box::new(reading("", "EncryptionDisabled", T0))), at(0));
    run.abort();
    assert_eq!(run.outcome(), Some(&Outcome::Cancelled));
    let mut run = patched("", "EncryptionDisabled", EncryptionType::Aescbc);
    run.abort();
    assert_eq!(run.outcome(), Some(&Outcome::StoppedFollowing));
}

#[test]
fn resources_are_read_from_the_message() {
    let c = condition(
        "EncryptionCompleted",
        "All resources encrypted: routes.route.openshift.io, oauthaccesstokens.oauth.openshift.io",
        T0,
    )
    .unwrap();
    assert_eq!(c.resources(), ["routes.route.openshift.io", "oauthaccesstokens.oauth.openshift.io"]);
    let d =
        condition("DecryptionCompleted", "Encryption mode set to identity and everything is decrypted", T0).unwrap();
    assert!(d.resources().is_empty());
}

#[test]
fn the_api_not_answering_while_following_is_said_and_retried() {
    let mut run = patched("", "EncryptionDisabled", EncryptionType::Aescbc);
    let mut silent = reading("", "", T0);
    silent.spec_type = None;
    silent.operators.clear();
    silent.problems.push("reading apiservers.config.openshift.io/cluster: no answer within 15s".into());
    run.observe(Observed::Read(Box::new(silent.clone())), at(30));
    run.observe(Observed::Waited, at(35));
    run.observe(Observed::Read(Box::new(silent)), at(40));
    assert!(run.outcome().is_none(), "a silent API does not end the run");
    assert_eq!(run.events.iter().filter(|e| e.text.starts_with("no answer: ")).count(), 1, "said once, not every poll");
    assert_eq!(run.next_action(), Action::Wait(Duration::from_secs(5)));
    run.observe(Observed::Waited, at(45));
    run.observe(Observed::Read(Box::new(reading("aescbc", "EncryptionCompleted", "2026-12-01T00:20:00Z"))), at(90));
    assert_eq!(run.outcome(), Some(&Outcome::Completed { took_seconds: 88 }));
    // Silent for longer than the stall limit: stalled, naming what it waits on.
    let mut run = patched("", "EncryptionDisabled", EncryptionType::Aescbc);
    let mut silent = reading("", "", T0);
    silent.spec_type = None;
    silent.problems.push("no answer".into());
    run.observe(Observed::Read(Box::new(silent)), at(700));
    assert!(matches!(run.outcome(), Some(Outcome::Stalled { .. })), "{:?}", run.outcome());
}

fn key(component: &str, number: u32, mode: &str) -> KeySecret {
    KeySecret {
        name: format!("encryption-key-{component}-{number}"),
        component: component.into(),
        mode: mode.into(),
        created: None,
    }
}

#[test]
fn a_switch_between_aescbc_and_aesgcm_not_yet_begun_is_seen_by_its_keys() {
    // Just patched to aesgcm: the conditions still read the old EncryptionCompleted.
    let mut r = reading("aesgcm", "EncryptionCompleted", T0);
    r.keys = vec![
        key("openshift-apiserver", 1, "aescbc"),
        key("openshift-kube-apiserver", 9, "aescbc"),
        key("openshift-kube-apiserver", 10, "aescbc"),
    ];
    let migrating = r.migrating();
    assert_eq!(migrating.len(), 2, "{migrating:?}");
    assert!(
        migrating[1]
            .contains("openshift-kube-apiserver newest key encryption-key-openshift-kube-apiserver-10 is aescbc"),
        "{migrating:?}"
    );
    let mut run = EncryptionRun::new(EncryptionType::Identity, waiting(false));
    run.observe(Observed::Read(Box::new(r.clone())), at(0));
    assert!(matches!(run.outcome(), Some(Outcome::Refused { reason }) if reason.contains("already running")));
    // Once the new keys exist (and weekly rotations of the same mode) nothing is pending.
    r.keys.push(key("openshift-apiserver", 2, "aesgcm"));
    r.keys.push(key("openshift-kube-apiserver", 11, "aesgcm"));
    assert!(r.migrating().is_empty(), "{:?}", r.migrating());
}

#[test]
fn the_recheck_refuses_when_the_right_to_patch_is_gone_or_only_the_type_changed() {
    let mut run = EncryptionRun::new(EncryptionType::Aesgcm, waiting(false));
    run.observe(Observed::Read(Box::new(reading("aescbc", "EncryptionCompleted", T0))), at(0));
    run.answer(true);
    let mut gone = reading("aescbc", "EncryptionCompleted", T0);
    gone.may_patch = Some(false);
    run.observe(Observed::Read(Box::new(gone)), at(5));
    assert!(matches!(run.outcome(), Some(Outcome::Refused { reason }) if reason.contains("may no longer patch")));
    // Someone else finished a change to identity in between: refused for that alone.
    let mut run = EncryptionRun::new(EncryptionType::Aesgcm, waiting(false));
    run.observe(Observed::Read(Box::new(reading("aescbc", "EncryptionCompleted", T0))), at(0));
    run.answer(true);
    run.observe(Observed::Read(Box::new(reading("identity", "DecryptionCompleted", "2026-12-01T01:00:00Z"))), at(5));
    match run.outcome() {
        Some(Outcome::Refused { reason }) => {
            assert!(
                reason.starts_with("APIServer cluster's type changed since the plan (aescbc -> identity); nothing"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_type_changed_by_someone_else_while_following_fails_the_run() {
    let mut run = patched("", "EncryptionDisabled", EncryptionType::Aescbc);
    run.observe(Observed::Read(Box::new(reading("aesgcm", "EncryptionInProgress", "2026-12-01T00:01:00Z"))), at(30));
    assert!(
        matches!(run.outcome(), Some(Outcome::Failed { reason }) if reason.contains("changed to \"aesgcm\" by someone else"))
    );
}

#[test]
fn identity_accepts_encryption_disabled_and_a_late_reporter_is_followed() {
    let mut run = patched("aescbc", "EncryptionCompleted", EncryptionType::Identity);
    let mut done = reading("identity", "DecryptionCompleted", "2026-12-01T00:09:00Z");
    done.operators[2].encrypted = condition("EncryptionDisabled", "Encryption is not enabled", "2026-12-01T00:09:00Z");
    run.observe(Observed::Read(Box::new(done)), at(20));
    assert_eq!(run.outcome(), Some(&Outcome::Completed { took_seconds: 18 }));
    // An operator that had no condition at the patch and then reports one is followed too.
    let older = |reason: &str, since: &str| {
        let mut r = reading("", reason, since);
        r.operators[2].encrypted = None;
        r
    };
    let mut run = EncryptionRun::new(EncryptionType::Aescbc, waiting(false));
    run.observe(Observed::Read(Box::new(older("EncryptionDisabled", T0))), at(0));
    run.answer(true);
    run.observe(Observed::Read(Box::new(older("EncryptionDisabled", T0))), at(1));
    run.observe(Observed::Patched(Ok(())), at(2));
    let mut late = reading("aescbc", "EncryptionCompleted", "2026-12-01T00:20:00Z");
    late.operators[2].encrypted = condition(
        "EncryptionInProgress",
        "Encryption (aescbc) in progress for: oauthaccesstokens",
        "2026-12-01T00:20:00Z",
    );
    run.observe(Observed::Read(Box::new(late)), at(50));
    assert!(run.outcome().is_none(), "the late reporter is still in progress");
    assert_eq!(run.followed.len(), 3);
}

#[test]
fn the_same_type_not_settled_is_refused_not_patched() {
    let mut odd = reading("aescbc", "EncryptionCompleted", T0);
    odd.operators[1].encrypted = condition("SomethingElse", "?", T0);
    let mut run = EncryptionRun::new(EncryptionType::Aescbc, waiting(false));
    run.observe(Observed::Read(Box::new(odd)), at(0));
    assert!(
        matches!(run.outcome(), Some(Outcome::Refused { reason }) if reason.contains("kubeapiserver SomethingElse"))
    );
}

#[test]
fn a_backup_first_of_an_encrypted_cluster_without_its_keys_is_said() {
    let mut run = EncryptionRun::new(EncryptionType::Aesgcm, waiting(true));
    run.observe(Observed::Read(Box::new(reading("aescbc", "EncryptionCompleted", T0))), at(0));
    assert!(run.plan().unwrap().notes.iter().any(|n| n.contains("saves no encryption keys")));
    let mut run = EncryptionRun::new(EncryptionType::Aesgcm, Options { backup_keys: true, ..waiting(true) });
    run.observe(Observed::Read(Box::new(reading("aescbc", "EncryptionCompleted", T0))), at(0));
    assert!(!run.plan().unwrap().notes.iter().any(|n| n.contains("saves no encryption keys")));
}

#[test]
fn only_the_encryption_controllers_degraded_conditions_count() {
    let object = serde_json::json!({"status": {"conditions": [
        {"type": "Encrypted", "status": "False", "reason": "EncryptionInProgress", "message": "m", "lastTransitionTime": T0},
        {"type": "NodeInstallerDegraded", "status": "True", "message": "1 nodes are failing on revision 8"},
        {"type": "EncryptionMigrationControllerDegraded", "status": "True", "message": "migration failed"},
        {"type": "EncryptionKeyControllerDegraded", "status": "False", "message": ""},
    ]}});
    let r = executor::operator_reading("kubeapiserver", &object);
    assert_eq!(r.degraded, ["EncryptionMigrationControllerDegraded: migration failed"]);
    assert_eq!(r.encrypted.unwrap().reason, "EncryptionInProgress");
}

#[test]
fn a_patch_answered_no_changed_nothing_and_a_lost_answer_is_not_known() {
    use crate::openshift::ApiError;
    use executor::{patch_failure, PatchFailure};
    let what = "patching apiservers.config.openshift.io/cluster";
    let status = |code: u16, reason: &str| {
        let status: kube::core::Status = serde_json::from_value(
            serde_json::json!({"code": code, "reason": reason, "message": "the object has been modified"}),
        )
        .unwrap();
        ApiError::from_kube(what, &kube::Error::Api(Box::new(status)))
    };
    assert!(
        matches!(patch_failure(&status(409, "Conflict")), PatchFailure::Answered(m) if m.contains("changed since it was read") && m.contains("nothing was changed"))
    );
    assert!(
        matches!(patch_failure(&status(403, "Forbidden")), PatchFailure::Answered(m) if m.contains("403") && m.contains("nothing was changed"))
    );
    assert!(matches!(patch_failure(&status(422, "Invalid")), PatchFailure::Answered(_)));
    assert!(matches!(patch_failure(&status(503, "ServiceUnavailable")), PatchFailure::Unknown(_)));
    assert!(matches!(
        patch_failure(&ApiError::from_kube(what, &kube::Error::Service("connection reset".into()))),
        PatchFailure::Unknown(m) if m == "patching apiservers.config.openshift.io/cluster: the API did not answer: ServiceError: connection reset"
    ));
    assert!(matches!(
        patch_failure(&ApiError::timeout(what, "https://api.lab:6443", std::time::Duration::from_secs(15))),
        PatchFailure::Unknown(_)
    ));
    assert_eq!(
        patch_failure(&status(403, "Forbidden")),
        PatchFailure::Answered(
            "patching apiservers.config.openshift.io/cluster: not allowed (403 Forbidden): the object has been modified: nothing was changed"
                .into()
        )
    );
}
