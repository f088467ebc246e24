//! Alert badges mirroring OpenShift's etcd PrometheusRule, evaluated on what the
//! console observes (the rules' `for:` durations are not waited for: the SRE is
//! already looking).

use std::time::{Duration, Instant};

use serde::Serialize;

use super::{AlarmKind, ClusterState, Discovery};
use crate::units::{format_age, format_bytes};
use crate::wizard::defrag::plan::{Figures, Rule};

const MIB: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    /// etcdDatabaseQuotaLowSpace: above 65 % info, 75 % warning, 85 % critical.
    pub fn for_quota_pct(pct: f64) -> Option<Severity> {
        match pct {
            p if p > 85.0 => Some(Severity::Critical),
            p if p > 75.0 => Some(Severity::Warning),
            p if p > 65.0 => Some(Severity::Info),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARN",
            Severity::Critical => "CRIT",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// The OpenShift alert this mirrors, or one of ours: `etcdNOSPACEAlarm`,
    /// `etcdCORRUPTAlarm`, `etcdMembersDisagree`, `etcdLearnerStuck`, `etcdDefragRecommended`,
    /// `etcdQuorumGuardOff`.
    pub name: &'static str,
    pub severity: Severity,
    /// The member it is about, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    pub message: String,
}

/// Every alert that holds now, most severe first.
pub fn evaluate(state: &ClusterState, now: Instant) -> Vec<Alert> {
    let mut alerts = Vec::new();
    if let Discovery::Failed { error, .. } = &state.discovery {
        let first = error.lines().next().unwrap_or("").trim();
        alerts.push(Alert {
            name: "etcdMembersDown",
            severity: Severity::Critical,
            member: None,
            message: format!("no member answers: {first}"),
        });
    }
    if state.quorum_guard_off {
        alerts.push(Alert {
            name: QUORUM_GUARD_OFF,
            severity: Severity::Warning,
            member: None,
            message: "the quorum guard is off: etcd/cluster has \
                      spec.unsupportedConfigOverrides.useUnsupportedUnsafeNonHANonProductionUnstableEtcd; \
                      remove it once every member is back"
                .into(),
        });
    }
    if state.members.is_empty() {
        return alerts;
    }
    let quorum = state.quorum();
    let up = state.members.iter().filter(|m| m.is_up()).count();

    if up > 0 && state.leader_id().is_none() {
        alerts.push(Alert {
            name: "etcdNoLeader",
            severity: Severity::Critical,
            member: None,
            message: "no member has a leader".into(),
        });
    }
    if quorum.is_lost() {
        alerts.push(Alert {
            name: "etcdInsufficientMembers",
            severity: Severity::Critical,
            member: None,
            message: format!(
                "{} of {} voters serve reads; quorum needs {}",
                quorum.serving, quorum.voters, quorum.needed
            ),
        });
    }
    for m in state.members.iter().filter(|m| !m.is_up() && m.error.is_some()) {
        alerts.push(Alert {
            name: "etcdMembersDown",
            severity: Severity::Critical,
            member: Some(m.identity.display_name()),
            message: format!("{} does not answer: {}", m.identity.display_name(), m.error.as_deref().unwrap_or("")),
        });
    }
    for alarm in state.alarms() {
        alerts.push(Alert {
            name: match alarm.kind {
                AlarmKind::NoSpace => "etcdNOSPACEAlarm",
                AlarmKind::Corrupt => "etcdCORRUPTAlarm",
                AlarmKind::Other => "etcdUnknownAlarm",
            },
            severity: Severity::Critical,
            member: Some(state.name_of(alarm.member_id)),
            message: match alarm.kind {
                AlarmKind::NoSpace => {
                    format!("NOSPACE alarm raised by {}: the cluster refuses writes", state.name_of(alarm.member_id))
                }
                AlarmKind::Corrupt => {
                    format!("CORRUPT alarm raised by {}: data inconsistency detected", state.name_of(alarm.member_id))
                }
                AlarmKind::Other => {
                    format!("unknown alarm raised by {}", state.name_of(alarm.member_id))
                }
            },
        });
    }
    for text in state.disagreements() {
        alerts.push(Alert { name: "etcdMembersDisagree", severity: Severity::Warning, member: None, message: text });
    }
    let changes = state.leader_changes_within(Duration::from_secs(600), now);
    if changes > 5 {
        alerts.push(Alert {
            name: "etcdHighNumberOfLeaderChanges",
            severity: Severity::Warning,
            member: None,
            message: format!("{changes} leader changes in the last 10 minutes"),
        });
    }
    for m in &state.members {
        if let Some(message) = state.learner_stuck(m, now) {
            alerts.push(Alert {
                name: "etcdLearnerStuck",
                severity: Severity::Warning,
                member: Some(m.identity.display_name()),
                message,
            });
        }
    }
    for m in &state.members {
        let Some((_, status)) = m.last_status() else {
            continue;
        };
        let name = m.identity.display_name();
        let quota = state.quota_of(m);
        let pct = status.quota_pct(quota.bytes);
        if let Some(severity) = Severity::for_quota_pct(pct) {
            alerts.push(Alert {
                name: "etcdDatabaseQuotaLowSpace",
                severity,
                member: Some(name.clone()),
                message: format!(
                    "{name} DB is {pct:.0}% of its {} quota ({})",
                    format_bytes(quota.bytes),
                    quota.source.label()
                ),
            });
        }
        let in_use = status.db_size_in_use_bytes;
        if status.db_size_bytes > 0 && in_use > 100 * MIB && (in_use as f64) < 0.5 * status.db_size_bytes as f64 {
            alerts.push(Alert {
                name: "etcdDatabaseHighFragmentationRatio",
                severity: Severity::Warning,
                member: Some(name.clone()),
                message: format!(
                    "{name} uses {} of {}: defragment it",
                    format_bytes(in_use),
                    format_bytes(status.db_size_bytes)
                ),
            });
        }
        let four_hours = Duration::from_secs(4 * 3600);
        // A burst of writes is not a trend: the alert waits for 5 minutes of history
        // (the DB pane shows the projection sooner).
        let trend = m.history.span() >= Duration::from_secs(300);
        if let Some(predicted) = m.history.predict_size(four_hours).filter(|_| trend) {
            if predicted > quota.bytes as f64 {
                let eta = m.history.time_to_quota(quota.bytes).map(format_age).unwrap_or_else(|| "?".into());
                alerts.push(Alert {
                    name: "etcdExcessiveDatabaseGrowth",
                    severity: Severity::Warning,
                    member: Some(name.clone()),
                    message: format!("{name} DB grows fast enough to reach its quota in {eta}"),
                });
            }
        }
    }
    let to_defrag = defrag_recommended(state);
    if !to_defrag.is_empty() {
        alerts.push(Alert {
            name: DEFRAG_RECOMMENDED,
            severity: Severity::Warning,
            member: None,
            message: format!(
                "defrag recommended for {} ({}): d plans it",
                to_defrag.join(", "),
                Rule::OpenShift.describe()
            ),
        });
    }
    alerts.sort_by_key(|a| std::cmp::Reverse(a.severity));
    alerts
}

/// The badge for members OpenShift's defrag rule picks (the rule the defrag wizard plans with).
pub const DEFRAG_RECOMMENDED: &str = "etcdDefragRecommended";
/// The badge while etcd/cluster runs with the quorum guard off.
pub const QUORUM_GUARD_OFF: &str = "etcdQuorumGuardOff";

/// The voting members answering now that OpenShift's defrag rule picks, by name.
pub fn defrag_recommended(state: &ClusterState) -> Vec<String> {
    state
        .members
        .iter()
        .filter(|m| !m.is_learner())
        .filter_map(|m| {
            let status = m.current_status()?;
            let figures = Figures {
                db_size: status.db_size_bytes,
                db_size_in_use: status.db_size_in_use_bytes,
                quota: state.quota_of(m).bytes,
            };
            Rule::OpenShift.applies(&figures).ok()?.then(|| m.identity.display_name())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::{Alarm, ClusterState};
    use super::*;

    fn names(alerts: &[Alert]) -> Vec<&'static str> {
        alerts.iter().map(|a| a.name).collect()
    }

    #[test]
    fn a_healthy_cluster_raises_nothing() {
        let t0 = Instant::now();
        assert!(evaluate(&healthy_cluster(3, t0), t0).is_empty());
    }

    #[test]
    fn quota_thresholds_are_65_75_85_percent() {
        let t0 = Instant::now();
        let quota = 1000 << 20;
        let mut state = healthy_cluster(3, t0);
        state.quota_bytes = quota;
        state.apply_sample(ok_sample(0, t0, 660 << 20, 600 << 20));
        state.apply_sample(ok_sample(1, t0, 760 << 20, 700 << 20));
        state.apply_sample(ok_sample(2, t0, 860 << 20, 800 << 20));
        let severities: Vec<Severity> =
            evaluate(&state, t0).iter().filter(|a| a.name == "etcdDatabaseQuotaLowSpace").map(|a| a.severity).collect();
        assert_eq!(severities, vec![Severity::Critical, Severity::Warning, Severity::Info]);
        state.apply_sample(ok_sample(0, t0, 640 << 20, 600 << 20));
        assert_eq!(evaluate(&state, t0).iter().filter(|a| a.name == "etcdDatabaseQuotaLowSpace").count(), 2);
    }

    #[test]
    fn quota_boundaries_are_exclusive() {
        assert_eq!(Severity::for_quota_pct(65.0), None);
        assert_eq!(Severity::for_quota_pct(65.01), Some(Severity::Info));
        assert_eq!(Severity::for_quota_pct(75.0), Some(Severity::Info));
        assert_eq!(Severity::for_quota_pct(75.01), Some(Severity::Warning));
        assert_eq!(Severity::for_quota_pct(85.0), Some(Severity::Warning));
        assert_eq!(Severity::for_quota_pct(85.01), Some(Severity::Critical));
    }

    #[test]
    fn more_than_five_leader_changes_in_ten_minutes_is_flagged() {
        let t0 = Instant::now();
        let mut state = healthy_cluster(3, t0);
        let mut term = 4;
        let mut elect = |state: &mut ClusterState, at: Instant| {
            term += 1;
            let mut sample = ok_sample(0, at, 40 << 20, 31 << 20);
            if let Ok(s) = sample.status.as_mut() {
                s.raft_term = term;
            }
            state.apply_sample(sample);
        };
        for i in 1..=5 {
            elect(&mut state, t0 + Duration::from_secs(i * 60));
        }
        let now = t0 + Duration::from_secs(301);
        assert!(!names(&evaluate(&state, now)).contains(&"etcdHighNumberOfLeaderChanges"), "5 is not more than 5");
        elect(&mut state, t0 + Duration::from_secs(360));
        assert!(names(&evaluate(&state, t0 + Duration::from_secs(361))).contains(&"etcdHighNumberOfLeaderChanges"));
        // Ten minutes after the first, it has left the window.
        assert!(!names(&evaluate(&state, t0 + Duration::from_secs(661))).contains(&"etcdHighNumberOfLeaderChanges"));
    }

    #[test]
    fn a_leaderless_members_term_is_not_a_leader_change() {
        let t0 = Instant::now();
        let mut state = healthy_cluster(3, t0);
        let mut sample = ok_sample(2, t0 + Duration::from_secs(2), 40 << 20, 31 << 20);
        if let Ok(s) = sample.status.as_mut() {
            s.leader_id = 0;
            s.raft_term = 40;
        }
        state.apply_sample(sample);
        assert_eq!(state.leader_changes_within(Duration::from_secs(600), t0 + Duration::from_secs(3)), 0);
    }

    #[test]
    fn members_not_heard_from_yet_do_not_lose_quorum() {
        let t0 = Instant::now();
        let mut state = ClusterState::new(8 << 30, t0);
        state.set_members((0..3).map(identity).collect(), t0);
        state.apply_sample(ok_sample(0, t0, 40 << 20, 31 << 20));
        assert!(!names(&evaluate(&state, t0)).contains(&"etcdInsufficientMembers"));
        state.apply_sample(failed_sample(1, t0, "connection refused"));
        state.apply_sample(failed_sample(2, t0, "connection refused"));
        assert!(names(&evaluate(&state, t0)).contains(&"etcdInsufficientMembers"));
    }

    #[test]
    fn fragmentation_needs_half_free_and_more_than_100_mib_in_use() {
        let t0 = Instant::now();
        let mut state = healthy_cluster(3, t0);
        state.apply_sample(ok_sample(0, t0, 300 << 20, 101 << 20));
        state.apply_sample(ok_sample(1, t0, 150 << 20, 60 << 20));
        let frag: Vec<Option<String>> = evaluate(&state, t0)
            .into_iter()
            .filter(|a| a.name == "etcdDatabaseHighFragmentationRatio")
            .map(|a| a.member)
            .collect();
        assert_eq!(frag, vec![Some("etcd-0".to_string())]);
    }

    #[test]
    fn a_down_member_and_lost_quorum_are_critical() {
        let t0 = Instant::now();
        let mut state = healthy_cluster(3, t0);
        state.apply_sample(failed_sample(1, t0, "no answer within 5s"));
        assert_eq!(names(&evaluate(&state, t0)), vec!["etcdMembersDown"]);
        state.apply_sample(failed_sample(2, t0, "connection refused"));
        let alerts = evaluate(&state, t0);
        assert_eq!(names(&alerts), vec!["etcdInsufficientMembers", "etcdMembersDown", "etcdMembersDown"]);
    }

    #[test]
    fn no_leader_and_nospace_are_reported() {
        let t0 = Instant::now();
        let mut state = healthy_cluster(3, t0);
        for i in 0..3 {
            let mut sample = ok_sample(i, t0, 40 << 20, 30 << 20);
            if let Ok(s) = sample.status.as_mut() {
                s.leader_id = 0;
                s.alarms = vec![Alarm { member_id: member_id(2), kind: super::super::AlarmKind::NoSpace }];
            }
            state.apply_sample(sample);
        }
        let alerts = evaluate(&state, t0);
        assert_eq!(names(&alerts), vec!["etcdNoLeader", "etcdNOSPACEAlarm"]);
        assert!(alerts[1].message.contains("NOSPACE alarm raised by etcd-2"), "{:?}", alerts[1]);
    }

    #[test]
    fn growth_that_reaches_quota_within_four_hours_is_flagged() {
        let t0 = Instant::now();
        let mut state = healthy_cluster(1, t0);
        state.quota_bytes = 1 << 30;
        for i in 0..30u64 {
            // 100 MiB an hour from 700 MiB: the quota is hit in about 3 hours.
            state.apply_sample(ok_sample(
                0,
                t0 + Duration::from_secs(i * 120),
                (700 << 20) + i * (100 << 20) / 30,
                600 << 20,
            ));
        }
        let alerts = evaluate(&state, t0 + Duration::from_secs(3600));
        assert!(names(&alerts).contains(&"etcdExcessiveDatabaseGrowth"), "{alerts:?}");
    }

    #[test]
    fn a_one_minute_burst_is_not_a_trend() {
        let t0 = Instant::now();
        let mut state = healthy_cluster(1, t0);
        for i in 0..30u64 {
            // 10 MiB every 2 s for a minute: 18 GiB an hour if it went on.
            state.apply_sample(ok_sample(0, t0 + Duration::from_secs(i * 2), (40 + 10 * i) << 20, 30 << 20));
        }
        assert!(state.members[0].history.time_to_quota(state.quota_bytes).is_some(), "the pane still projects");
        assert!(!names(&evaluate(&state, t0 + Duration::from_secs(60))).contains(&"etcdExcessiveDatabaseGrowth"));
    }

    #[test]
    fn a_learner_catching_up_is_healthy_not_a_voter_and_not_an_alert() {
        let t0 = Instant::now();
        // The leader's index is 81_234 (fixtures): 74_000 is 91 %.
        let state = cluster_with_learner(3, t0, 74_000);
        let learner = &state.members[3];
        assert!(learner.is_learner() && learner.is_healthy() && !learner.serves_reads());
        assert_eq!(state.quorum(), super::super::Quorum { voters: 3, needed: 2, serving: 3, healthy: 3, unknown: 0 });
        assert_eq!(state.quorum().can_lose(), 1);
        let progress = state.learner_progress(learner).unwrap();
        assert_eq!((progress.short(), progress.ready()), ("learner 91%".to_string(), true));
        assert!(evaluate(&state, t0).is_empty(), "{:?}", evaluate(&state, t0));
        let report = super::super::report::StatusReport::build(&state, t0);
        assert_eq!(report.exit_code(), 0, "{:?}", report.members[3]);
        assert_eq!(report.members[3].error, None);
        assert!(report.to_table().contains("learner 91% (74000/81234)"), "{}", report.to_table());
    }

    #[test]
    fn a_learner_stuck_five_minutes_is_an_alert_one_catching_up_is_not() {
        let t0 = Instant::now();
        let mut state = cluster_with_learner(3, t0, 10_000);
        // Catching up: closer every minute, so never stuck.
        for minute in 1..=8u64 {
            state.apply_sample(learner_sample(3, t0 + Duration::from_secs(minute * 60), 10_000 + minute * 5_000));
        }
        assert!(!names(&evaluate(&state, t0 + Duration::from_secs(8 * 60))).contains(&"etcdLearnerStuck"));
        // No closer for more than five minutes: stuck.
        for minute in 9..=15u64 {
            state.apply_sample(learner_sample(3, t0 + Duration::from_secs(minute * 60), 50_000));
        }
        let alerts = evaluate(&state, t0 + Duration::from_secs(15 * 60));
        let stuck: Vec<&Alert> = alerts.iter().filter(|a| a.name == "etcdLearnerStuck").collect();
        assert_eq!(stuck.len(), 1, "{alerts:?}");
        assert!(stuck[0].message.contains("not catching up: applied 50000 of the leader's 81234"), "{stuck:?}");

        // Caught up and never promoted.
        let mut state = cluster_with_learner(3, t0, 81_234);
        state.apply_sample(learner_sample(3, t0 + Duration::from_secs(240), 81_234));
        assert!(!names(&evaluate(&state, t0 + Duration::from_secs(240))).contains(&"etcdLearnerStuck"));
        state.apply_sample(learner_sample(3, t0 + Duration::from_secs(301), 81_234));
        let alerts = evaluate(&state, t0 + Duration::from_secs(301));
        assert!(
            alerts.iter().any(|a| a.name == "etcdLearnerStuck" && a.message.contains("not been promoted")),
            "{alerts:?}"
        );
    }

    #[test]
    fn nospace_makes_every_member_unhealthy_once_and_the_counts_agree() {
        use super::super::report::StatusReport;
        use super::super::AlarmKind;
        let t0 = Instant::now();
        let mut state = healthy_cluster(3, t0);
        // Every member raised NOSPACE, and every Status lists all three alarms.
        let raised: Vec<Alarm> = (0..3).map(|i| Alarm { member_id: member_id(i), kind: AlarmKind::NoSpace }).collect();
        for i in 0..3 {
            let mut sample = ok_sample(i, t0, 40 << 20, 31 << 20);
            if let Ok(s) = sample.status.as_mut() {
                s.alarms = raised.clone();
            }
            state.apply_sample(sample);
        }
        let report = StatusReport::build(&state, t0);
        assert!(report.members.iter().all(|m| !m.healthy));
        assert_eq!((report.healthy_voters, report.serving_voters, report.voters), (0, 3, 3));
        assert_eq!(report.members[0].error.as_deref(), Some("active alarm(s): NOSPACE"), "each kind named once");
        assert_eq!(report.members[0].alarms, vec!["NOSPACE".to_string()], "its own alarm, once");
        let table = report.to_table();
        assert!(table.contains("healthy voters 0/3, 3 serve reads under the alarm (quorum 2)"), "{table}");
        assert!(table.contains("can lose 1 more"), "quorum is kept: {table}");
        assert_eq!(report.exit_code(), 1);
        let nospace: Vec<Option<String>> =
            evaluate(&state, t0).into_iter().filter(|a| a.name == "etcdNOSPACEAlarm").map(|a| a.member).collect();
        assert_eq!(nospace.len(), 3, "one badge per member that raised it: {nospace:?}");
    }

    #[test]
    fn openshifts_defrag_rule_raises_the_defrag_recommended_badge() {
        let t0 = Instant::now();
        let mut state = healthy_cluster(3, t0);
        // 117 MiB with 10 MiB in use (91 %): the rule holds; the ratio alert (100 MiB in use) does not.
        state.apply_sample(ok_sample(1, t0, 117 << 20, 10 << 20));
        // 90 MiB, 89 % fragmented: too small for the rule.
        state.apply_sample(ok_sample(2, t0, 90 << 20, 10 << 20));
        let found = evaluate(&state, t0);
        let badge: Vec<&Alert> = found.iter().filter(|a| a.name == DEFRAG_RECOMMENDED).collect();
        assert_eq!(badge.len(), 1, "{found:?}");
        assert!(badge[0].message.contains("etcd-1") && !badge[0].message.contains("etcd-2"), "{}", badge[0].message);
        assert!(!names(&found).contains(&"etcdDatabaseHighFragmentationRatio"));
        assert_eq!(defrag_recommended(&state), vec!["etcd-1".to_string()]);
        state.apply_sample(ok_sample(1, t0, 117 << 20, 100 << 20));
        assert!(!names(&evaluate(&state, t0)).contains(&DEFRAG_RECOMMENDED), "15 % fragmented: nothing to do");
    }

    #[test]
    fn the_quorum_guard_off_is_a_warning_and_makes_status_exit_1() {
        use super::super::report::StatusReport;
        let t0 = Instant::now();
        let mut state = healthy_cluster(3, t0);
        assert_eq!(StatusReport::build(&state, t0).exit_code(), 0);
        state.quorum_guard_off = true;
        let found = evaluate(&state, t0);
        assert_eq!(
            found.iter().map(|a| (a.name, a.severity)).collect::<Vec<_>>(),
            vec![(QUORUM_GUARD_OFF, Severity::Warning)]
        );
        let report = StatusReport::build(&state, t0);
        assert!(report.quorum_guard_off);
        assert_eq!(report.exit_code(), 1);
        assert!(report.to_table().contains("QUORUM GUARD OFF"), "{}", report.to_table());
        let json = serde_json::to_value(&report).unwrap_or_default();
        assert_eq!(json["quorum_guard_off"], true);
    }
}
