//! Which backend quota a member runs with, and where that figure was read:
//! the user's `--quota-bytes`, etcd itself (3.6's `dbSizeQuota`), the etcd pod's
//! spec, the etcd operator's `backendQuotaGiB`, or the default, assumed.

use std::collections::BTreeMap;

use serde::Serialize;

/// Where a quota figure comes from, most trusted first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
pub enum QuotaSource {
    /// `--quota-bytes` given by the user.
    #[serde(rename = "flag")]
    Flag,
    /// etcd 3.6's StatusResponse `dbSizeQuota`.
    #[serde(rename = "etcd")]
    Etcd,
    /// `--quota-backend-bytes` or `ETCD_QUOTA_BACKEND_BYTES` in the etcd pod's spec.
    #[serde(rename = "pod")]
    Pod,
    /// `spec.backendQuotaGiB` of `etcd.operator.openshift.io/cluster`.
    #[serde(rename = "etcd-operator")]
    EtcdOperator,
    /// Nothing read: the OpenShift default, assumed.
    #[serde(rename = "assumed")]
    #[default]
    Assumed,
}

impl QuotaSource {
    /// As `status -o json` names it.
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaSource::Flag => "flag",
            QuotaSource::Etcd => "etcd",
            QuotaSource::Pod => "pod",
            QuotaSource::EtcdOperator => "etcd-operator",
            QuotaSource::Assumed => "assumed",
        }
    }

    /// As the screen and the table say it: `(pod spec)`.
    pub fn label(self) -> &'static str {
        match self {
            QuotaSource::Flag => "--quota-bytes",
            QuotaSource::Etcd => "from etcd",
            QuotaSource::Pod => "pod spec",
            QuotaSource::EtcdOperator => "etcd operator",
            QuotaSource::Assumed => "assumed",
        }
    }
}

/// A quota and where it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Quota {
    pub bytes: u64,
    pub source: QuotaSource,
}

/// What the cluster's objects say of the quota: each member's pod, and the etcd operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecQuotas {
    /// By member ID: the quota its pod's etcd container is started with.
    pub members: BTreeMap<u64, u64>,
    /// `spec.backendQuotaGiB` of the etcd operator, in bytes.
    pub operator: Option<u64>,
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::super::fixtures::*;
    use super::super::{Alarm, AlarmKind};
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn the_flag_then_etcd_then_the_pod_then_the_operator_then_assumed() {
        let t0 = Instant::now();
        let mut state = healthy_cluster(3, t0);
        let assumed = Quota { bytes: state.quota_bytes, source: QuotaSource::Assumed };
        assert_eq!(state.quota_of(&state.members[0]), assumed);
        assert_eq!(state.quota(), assumed);
        state.spec_quotas.operator = Some(16 << 30);
        assert_eq!(state.quota(), Quota { bytes: 16 << 30, source: QuotaSource::EtcdOperator });
        // Mid-rollout: one pod still carries the old figure.
        state.spec_quotas.members = [(member_id(0), 24 * MIB), (member_id(1), 32 * MIB)].into_iter().collect();
        assert_eq!(state.quota_of(&state.members[1]), Quota { bytes: 32 * MIB, source: QuotaSource::Pod });
        assert_eq!(state.quota_of(&state.members[2]).source, QuotaSource::EtcdOperator);
        assert_eq!(state.quota(), Quota { bytes: 24 * MIB, source: QuotaSource::Pod }, "the first to fill");
        // etcd 3.6 says its own.
        let mut sample = ok_sample(1, t0, 20 * MIB, 10 * MIB);
        if let Ok(s) = sample.status.as_mut() {
            s.quota_bytes = Some(40 * MIB);
        }
        state.apply_sample(sample);
        assert_eq!(state.quota_of(&state.members[1]), Quota { bytes: 40 * MIB, source: QuotaSource::Etcd });
        state.quota_given = true;
        state.quota_bytes = 1 << 30;
        assert_eq!(state.quota_of(&state.members[1]), Quota { bytes: 1 << 30, source: QuotaSource::Flag });
        assert_eq!(state.quota(), Quota { bytes: 1 << 30, source: QuotaSource::Flag });
    }

    #[test]
    fn alerts_measure_each_member_against_its_own_quota_and_nospace_hides_the_figure() {
        let t0 = Instant::now();
        let mut state = healthy_cluster(3, t0);
        state.apply_sample(ok_sample(0, t0, 22 * MIB, 20 * MIB));
        state.spec_quotas.members = [(member_id(0), 24 * MIB)].into_iter().collect();
        let alerts = super::super::alerts::evaluate(&state, t0);
        let low: Vec<&str> =
            alerts.iter().filter(|a| a.name == "etcdDatabaseQuotaLowSpace").map(|a| a.message.as_str()).collect();
        assert_eq!(low, ["etcd-0 DB is 92% of its 24.0 MiB quota (pod spec)"]);
        let report = super::super::report::StatusReport::build(&state, t0);
        assert_eq!((report.quota_bytes, report.quota_source), (24 * MIB, QuotaSource::Pod));
        assert_eq!(report.members[1].quota_source, QuotaSource::Assumed);
        assert!(report.quota_line().contains("etcd-1 8.0 GiB (assumed)"), "{}", report.quota_line());
        assert!(!report.quota_reached);
        let mut full = ok_sample(2, t0, 2 * MIB, MIB);
        if let Ok(s) = full.status.as_mut() {
            s.alarms = vec![Alarm { member_id: member_id(2), kind: AlarmKind::NoSpace }];
        }
        state.apply_sample(full);
        let report = super::super::report::StatusReport::build(&state, t0);
        assert!(report.quota_reached);
        assert!(report.members.iter().all(|m| m.quota_pct.is_none()), "no low figure beside NOSPACE");
        assert!(report.to_table().contains("NOSPACE raised: the quota is reached"));
        let json = serde_json::to_value(&report).unwrap_or_default();
        assert_eq!(json["quota_source"], "pod");
        assert_eq!(json["members"][1]["quota_source"], "assumed");
        assert_eq!(json["quota_reached"], true);
    }
}
