use std::time::{Duration, Instant, SystemTime};

use serde_json::json;

use super::*;
use crate::cluster::fixtures::*;
use crate::cluster::{Alarm, AlarmKind};

fn kinds(events: &[Event]) -> Vec<Kind> {
    events.iter().map(|e| e.kind).collect()
}

fn wall() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000)
}

#[test]
fn the_first_look_names_the_leader_and_nothing_else_on_a_healthy_cluster() {
    let t0 = Instant::now();
    let mut producer = Producer::new();
    let events = producer.on_cluster(&healthy_cluster(3, t0), wall());
    assert_eq!(kinds(&events), vec![Kind::LeaderChanged]);
    assert_eq!(events[0].message, "leader is etcd-0 (term 4)");
    assert_eq!(events[0].details(), json!({"from": null, "to": "etcd-0", "term": 4}));
    assert!(producer.on_cluster(&healthy_cluster(3, t0), wall()).is_empty(), "no change, no event");
}

#[test]
fn a_leader_change_says_from_to_and_term() {
    let t0 = Instant::now();
    let mut cluster = healthy_cluster(3, t0);
    let mut producer = Producer::new();
    producer.on_cluster(&cluster, wall());
    for i in 0..3 {
        let mut sample = ok_sample(i, t0, 40 << 20, 31 << 20);
        if let Ok(s) = sample.status.as_mut() {
            s.leader_id = member_id(2);
            s.raft_term = 5;
        }
        cluster.apply_sample(sample);
    }
    let events = producer.on_cluster(&cluster, wall());
    assert_eq!(kinds(&events), vec![Kind::LeaderChanged]);
    assert_eq!(events[0].message, "leader changed from etcd-0 to etcd-2 (term 5)");
    assert_eq!(events[0].member.as_deref(), Some("etcd-2"));
    assert_eq!(events[0].details()["from"], "etcd-0");
    assert_eq!(events[0].details()["term"], 5);
}

#[test]
fn a_member_goes_silent_then_comes_back_in_that_order() {
    let t0 = Instant::now();
    let mut cluster = healthy_cluster(3, t0);
    let mut producer = Producer::new();
    producer.on_cluster(&cluster, wall());
    cluster.apply_sample(failed_sample(1, t0 + Duration::from_secs(2), "no answer within 2s"));
    let silent = producer.on_cluster(&cluster, wall());
    assert_eq!(kinds(&silent), vec![Kind::MemberSilent]);
    assert_eq!(silent[0].message, "etcd-1 silent: no answer within 2s");
    assert!(producer.on_cluster(&cluster, wall()).is_empty(), "said once");
    cluster.apply_sample(ok_sample(1, t0 + Duration::from_secs(4), 40 << 20, 31 << 20));
    let back = producer.on_cluster(&cluster, wall());
    assert_eq!(kinds(&back), vec![Kind::MemberBack]);
    assert_eq!(back[0].member.as_deref(), Some("etcd-1"));
}

#[test]
fn an_alarm_is_said_once_per_member_when_raised_and_when_cleared() {
    let t0 = Instant::now();
    let mut cluster = healthy_cluster(3, t0);
    let mut producer = Producer::new();
    producer.on_cluster(&cluster, wall());
    // Every member reports the same NOSPACE alarm of etcd-1.
    for i in 0..3 {
        let mut sample = ok_sample(i, t0, 40 << 20, 31 << 20);
        if let Ok(s) = sample.status.as_mut() {
            s.alarms = vec![Alarm { member_id: member_id(1), kind: AlarmKind::NoSpace }];
        }
        cluster.apply_sample(sample);
    }
    let events = producer.on_cluster(&cluster, wall());
    let raised: Vec<&Event> = events.iter().filter(|e| e.kind == Kind::AlarmRaised).collect();
    assert_eq!(raised.len(), 1, "{events:?}");
    assert_eq!(raised[0].message, "alarm NOSPACE raised by etcd-1");
    // The alarm makes every member unhealthy: each says so once.
    assert_eq!(events.iter().filter(|e| e.kind == Kind::HealthChanged).count(), 3);
    for i in 0..3 {
        cluster.apply_sample(ok_sample(i, t0, 40 << 20, 31 << 20));
    }
    let events = producer.on_cluster(&cluster, wall());
    assert_eq!(events.iter().filter(|e| e.kind == Kind::AlarmCleared).count(), 1);
    assert!(events.iter().filter(|e| e.kind == Kind::HealthChanged).all(|e| e.message.ends_with("healthy")));
}

#[test]
fn the_db_crossing_a_quota_threshold_is_said_with_its_percent() {
    let t0 = Instant::now();
    let mut cluster = healthy_cluster(3, t0);
    let mut producer = Producer::new();
    producer.on_cluster(&cluster, wall());
    // 7 GiB of an 8 GiB quota: 87.5 %, critical.
    cluster.apply_sample(ok_sample(2, t0, 7 << 30, 6 << 30));
    let events = producer.on_cluster(&cluster, wall());
    assert_eq!(kinds(&events), vec![Kind::QuotaCrossed]);
    assert_eq!(events[0].message, "etcd-2 DB at 88 % of its quota (CRIT)");
    assert_eq!(events[0].details()["percent"], 87.5);
    cluster.apply_sample(ok_sample(2, t0, 1 << 30, 1 << 30));
    let events = producer.on_cluster(&cluster, wall());
    assert_eq!(events[0].message, "etcd-2 DB at 12 % of its quota (below 65 %)");
}

#[test]
fn members_added_and_removed_are_said() {
    let t0 = Instant::now();
    let mut cluster = healthy_cluster(3, t0);
    let mut producer = Producer::new();
    producer.on_cluster(&cluster, wall());
    cluster.set_members(vec![identity(0), identity(1), identity(3)], t0);
    cluster.apply_sample(ok_sample(3, t0, 40 << 20, 31 << 20));
    let events = producer.on_cluster(&cluster, wall());
    assert!(events.iter().any(|e| e.kind == Kind::MemberRemoved && e.member.as_deref() == Some("etcd-2")));
    assert!(events.iter().any(|e| e.kind == Kind::MemberAdded && e.member.as_deref() == Some("etcd-3")));
}

fn kas(latest: i64, nodes: &[(&str, i64, Option<i64>)]) -> OpenShiftEvent {
    let statuses: Vec<_> = nodes
        .iter()
        .map(|(n, current, failed)| json!({"nodeName": n, "currentRevision": current, "lastFailedRevision": failed}))
        .collect();
    OpenShiftEvent::Objects {
        what: Watched::KubeApiServer,
        objects: vec![json!({"status": {"latestAvailableRevision": latest, "nodeStatuses": statuses, "conditions": [
            {"type": "Encrypted", "status": "False", "reason": "EncryptionInProgress", "message": "m"}]}})],
        at: Instant::now(),
    }
}

#[test]
fn a_rollout_begins_a_node_is_done_and_it_finishes() {
    let mut producer = Producer::new();
    let events = producer.on_openshift(&kas(7, &[("m0", 7, None), ("m1", 7, None), ("m2", 7, None)]), wall());
    assert!(!events.iter().any(|e| e.kind == Kind::RolloutBegun), "settled at first: {events:?}");
    let events = producer.on_openshift(&kas(8, &[("m0", 7, None), ("m1", 7, None), ("m2", 7, None)]), wall());
    let begun: Vec<&Event> = events.iter().filter(|e| e.kind == Kind::RolloutBegun).collect();
    assert_eq!(begun[0].message, "kubeapiserver rolling out revision 8: 0 of 3 nodes");
    let events = producer.on_openshift(&kas(8, &[("m0", 8, None), ("m1", 7, Some(8)), ("m2", 7, None)]), wall());
    assert!(events.iter().any(|e| e.kind == Kind::RolloutNodeDone && e.member.as_deref() == Some("m0")));
    assert!(events
        .iter()
        .any(|e| e.kind == Kind::RolloutFailed && e.message == "kubeapiserver: revision 8 failed on m1"));
    let events = producer.on_openshift(&kas(8, &[("m0", 8, None), ("m1", 8, Some(8)), ("m2", 8, None)]), wall());
    assert_eq!(events.iter().filter(|e| e.kind == Kind::RolloutNodeDone).count(), 2);
    assert!(events.iter().any(|e| e.kind == Kind::RolloutFinished));
}

#[test]
fn encryption_phases_are_said_per_operator() {
    let mut producer = Producer::new();
    let apiserver = |kind: &str| OpenShiftEvent::Objects {
        what: Watched::ApiServer,
        objects: vec![json!({"spec": {"encryption": {"type": kind}}})],
        at: Instant::now(),
    };
    producer.on_openshift(&apiserver("identity"), wall());
    let events = producer.on_openshift(&apiserver("aescbc"), wall());
    assert!(events.iter().any(|e| e.message == "encryption type set to aescbc"), "{events:?}");
    let events = producer.on_openshift(&kas(8, &[("m0", 8, None)]), wall());
    let phase: Vec<&Event> = events.iter().filter(|e| e.kind == Kind::EncryptionPhase).collect();
    assert_eq!(
        phase[0].message,
        "kubeapiserver Encrypted=False EncryptionInProgress (0 of 1 operators done, type aescbc)"
    );
    assert!(producer.on_openshift(&kas(8, &[("m0", 8, None)]), wall()).is_empty(), "no change, no event");
}

#[test]
fn a_lost_watch_is_said_once_and_its_return_once() {
    let mut producer = Producer::new();
    let trouble = OpenShiftEvent::Trouble { what: Watched::Etcd, error: "503".into(), at: Instant::now() };
    assert_eq!(kinds(&producer.on_openshift(&trouble, wall())), vec![Kind::ApiLost]);
    assert!(producer.on_openshift(&trouble, wall()).is_empty());
    let back = OpenShiftEvent::Objects { what: Watched::Etcd, objects: vec![], at: Instant::now() };
    assert_eq!(kinds(&producer.on_openshift(&back, wall())), vec![Kind::ApiBack]);
}

fn pending(names: &[&str]) -> OpenShiftEvent {
    use crate::openshift::csr::CsrClass;
    OpenShiftEvent::Csrs {
        pending: names
            .iter()
            .map(|n| PendingCsr {
                name: n.to_string(),
                signer: "kubernetes.io/kube-apiserver-client-kubelet".into(),
                requestor: "system:serviceaccount:openshift-machine-config-operator:node-bootstrapper".into(),
                class: CsrClass::NodeBootstrapper,
                reason: String::new(),
                usages: Vec::new(),
                request: None,
                node: Some("worker-1".into()),
                created: None,
                pending_limit: None,
            })
            .collect(),
        at: Instant::now(),
    }
}

#[test]
fn csrs_filed_and_decided_are_said_and_a_flood_is_one_line() {
    let mut producer = Producer::new();
    let first = producer.on_openshift(&pending(&["csr-a", "csr-b"]), wall());
    assert_eq!(first[0].message, "2 CSR(s) pending (0 unexpected)");
    let filed = producer.on_openshift(&pending(&["csr-a", "csr-b", "csr-c"]), wall());
    assert_eq!(kinds(&filed), vec![Kind::CsrFiled]);
    assert!(filed[0].message.starts_with("CSR csr-c filed by system:serviceaccount"));
    assert_eq!(filed[0].member.as_deref(), Some("worker-1"));
    let names: Vec<String> = (0..100).map(|i| format!("csr-{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let flood = producer.on_openshift(&pending(&refs), wall());
    assert_eq!(flood.len(), 1);
    assert_eq!(flood[0].message, "100 CSRs filed");
    let decided = OpenShiftEvent::CsrsDecided { approved: vec!["csr-a".into()], denied: vec!["csr-b".into()] };
    let events = producer.on_openshift(&decided, wall());
    assert_eq!(kinds(&events), vec![Kind::CsrApproved, Kind::CsrDenied]);
}

#[test]
fn the_timeline_keeps_the_newest_ten_thousand() {
    let mut timeline = Timeline::default();
    for i in 0..10_050 {
        timeline.push(Event::new(wall(), Kind::Notice, Source::Console, None, format!("n{i}")));
    }
    assert_eq!(timeline.len(), 10_000);
    assert_eq!(timeline.dropped, 50);
    assert_eq!(timeline.newest_first().next().map(|e| e.message.as_str()), Some("n10049"));
    assert_eq!(timeline.newest_first().last().map(|e| e.message.as_str()), Some("n50"));
}

#[test]
fn outside_text_is_made_safe_and_json_lines_carry_the_contract_fields() {
    let event = Event::new(wall(), Kind::Notice, Source::Console, Some("m\u{1b}]0;x\u{7}"), "a\nb".into());
    assert_eq!(event.member.as_deref(), Some("m\\e]0;x\\x07"));
    assert_eq!(event.message, "a\\nb");
    let line = event.to_json();
    assert!(!line.contains('\n'));
    let value: serde_json::Value = serde_json::from_str(&line).unwrap();
    let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["details", "kind", "member", "message", "source", "time"]);
    assert_eq!(value["time"], "2026-11-30T00:53:20.000Z");
    assert_eq!(value["kind"], "notice");
    assert_eq!(value["source"], "console");
}

#[test]
fn markdown_is_a_table_in_utc_naming_the_cluster() {
    let mut timeline = Timeline::default();
    timeline.push(Event::new(wall(), Kind::LeaderChanged, Source::Etcd, Some("etcd-2"), "leader | changed".into()));
    let md = timeline.to_markdown("ocp-lab (api.lab:6443) · etcd cdf818194e3a8c32", wall());
    assert!(md.starts_with("# etcd-console timeline: ocp-lab (api.lab:6443) · etcd cdf818194e3a8c32\n"));
    assert!(md.contains("| Time (UTC) | Source | Kind | Member | What |"));
    assert!(md.contains("| 2026-11-30 00:53:20 | etcd | leader_changed | etcd-2 | leader \\| changed |"), "{md}");
}

#[test]
fn a_filter_matches_every_word_in_any_case() {
    let event = Event::new(wall(), Kind::MemberSilent, Source::Etcd, Some("etcd-1"), "etcd-1 silent: no answer".into());
    assert!(event.matches("SILENT etcd-1"));
    assert!(event.matches(""));
    assert!(!event.matches("leader"));
}
