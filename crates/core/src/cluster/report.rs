//! The cluster as `status` prints it: a JSON document scripts rely on, and a table.

use std::fmt::Write as _;
use std::time::Instant;

use serde::Serialize;

use super::{alerts, Alert, ClusterState, QuotaSource, Severity};
use crate::openshift::diagnosis::{MemberDiagnosis, Surroundings};
use crate::units::{format_bytes, safe_text};

/// The JSON of `etcd-console status -o json`. Field names are a contract.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub cluster_id: Option<String>,
    pub leader_id: Option<String>,
    /// Voters healthy as the console means it everywhere (`MemberState::is_healthy`): they
    /// answer, a linearizable read goes through, and no alarm is active.
    pub healthy_voters: usize,
    /// Voters a linearizable read goes through, alarm or not: what quorum counts.
    pub serving_voters: usize,
    pub voters: usize,
    pub quorum: usize,
    /// The cluster's backend quota: the smallest a member was read to run with, else the
    /// etcd operator's, else the default (`quota_source` "assumed").
    pub quota_bytes: u64,
    /// Where `quota_bytes` was read: "flag", "etcd", "pod", "etcd-operator" or "assumed".
    pub quota_source: QuotaSource,
    /// NOSPACE is raised: the quota is reached, whatever the figures say (`quota_pct` is then null).
    pub quota_reached: bool,
    pub members: Vec<MemberReport>,
    pub alerts: Vec<Alert>,
    /// Voters that may still fail before quorum is lost (serving voters - quorum; 0 at or below it).
    pub can_lose: usize,
    /// What to do about voters down (None when none is).
    pub next_step: Option<String>,
    /// The etcd ClusterOperator's Degraded message while Degraded is True (None otherwise or unknown).
    pub etcd_operator_degraded: Option<String>,
    /// etcd/cluster runs with the quorum guard off (`unsupportedConfigOverrides`); false when the
    /// API is not read. `status` exits 1 while it is off.
    pub quorum_guard_off: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberReport {
    pub id: String,
    pub name: String,
    pub endpoint: String,
    pub version: Option<String>,
    pub is_leader: bool,
    pub is_learner: bool,
    pub healthy: bool,
    pub health_latency_ms: Option<f64>,
    pub db_size_bytes: Option<u64>,
    pub db_size_in_use_bytes: Option<u64>,
    pub db_size_free_bytes: Option<u64>,
    pub fragmentation_pct: Option<f64>,
    /// The quota this member runs with, and where it was read.
    pub quota_bytes: u64,
    pub quota_source: QuotaSource,
    /// Size against `quota_bytes`; null while NOSPACE is raised (the quota is reached then).
    pub quota_pct: Option<f64>,
    pub raft_term: Option<u64>,
    pub raft_index: Option<u64>,
    pub raft_applied_index: Option<u64>,
    pub raft_lag: Option<u64>,
    pub alarms: Vec<String>,
    pub error: Option<String>,
    /// A learner's catching up: its applied index against the leader's (None for a voter).
    pub learner: Option<LearnerReport>,
    /// Its pod, node and Machine, when the API says (None without one, or nothing found).
    pub diagnosis: Option<MemberDiagnosis>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LearnerReport {
    pub applied_index: u64,
    pub leader_index: u64,
    pub progress_pct: f64,
    /// Caught up enough for etcd to promote it (90 % of the leader's index).
    pub ready: bool,
}

/// `status` exit codes: scripts depend on them.
pub const EXIT_HEALTHY: i32 = 0;
pub const EXIT_DEGRADED: i32 = 1;
/// Bad input, or no member answered.
pub const EXIT_UNUSABLE: i32 = 2;

pub fn hex(id: u64) -> String {
    format!("{id:x}")
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

impl StatusReport {
    pub fn build(state: &ClusterState, now: Instant) -> Self {
        let leader = state.leader_id();
        let cluster_alarms = state.alarms();
        let quorum = state.quorum();
        let nospace = state.nospace();
        let members = state
            .members
            .iter()
            .map(|m| {
                let status = m.current_status();
                let health_error = match &m.health {
                    Some(Err(_)) if m.is_learner() && m.read_refused_as_learner() => None,
                    Some(Err(e)) => Some(format!("linearizable read failed: {e}")),
                    _ => None,
                };
                let learner = state.learner_progress(m).map(|p| LearnerReport {
                    applied_index: p.applied_index,
                    leader_index: p.leader_index,
                    progress_pct: round2(p.pct()),
                    ready: p.ready(),
                });
                let alarm_error = status.filter(|s| !s.alarms.is_empty()).map(|s| {
                    // Several members raise the same alarm: each kind is named once.
                    let kinds: std::collections::BTreeSet<&str> = s.alarms.iter().map(|a| a.kind.as_str()).collect();
                    let kinds: Vec<&str> = kinds.into_iter().collect();
                    format!("active alarm(s): {}", kinds.join(", "))
                });
                let status_errors = status.map(|s| s.errors.join("; ")).filter(|e| !e.is_empty());
                let quota = state.quota_of(m);
                MemberReport {
                    id: hex(m.identity.id),
                    name: m.identity.display_name(),
                    endpoint: m.identity.endpoint().to_string(),
                    version: status.map(|s| s.version.clone()),
                    is_leader: leader == Some(m.identity.id),
                    is_learner: m.is_learner(),
                    healthy: m.is_healthy(),
                    health_latency_ms: match &m.health {
                        Some(Ok(latency)) if m.is_up() => Some(round2(latency.as_secs_f64() * 1000.0)),
                        _ => None,
                    },
                    db_size_bytes: status.map(|s| s.db_size_bytes),
                    db_size_in_use_bytes: status.map(|s| s.db_size_in_use_bytes),
                    db_size_free_bytes: status.map(|s| s.free_bytes()),
                    fragmentation_pct: status.map(|s| round2(s.fragmentation_pct())),
                    quota_bytes: quota.bytes,
                    quota_source: quota.source,
                    quota_pct: status.filter(|_| !nospace).map(|s| round2(s.quota_pct(quota.bytes))),
                    raft_term: status.map(|s| s.raft_term),
                    raft_index: status.map(|s| s.raft_index),
                    raft_applied_index: status.map(|s| s.raft_applied_index),
                    raft_lag: status.map(|s| s.raft_lag()),
                    alarms: m.own_alarms(&cluster_alarms).iter().map(|k| k.as_str().to_string()).collect(),
                    error: m.error.clone().or(health_error).or(status_errors).or(alarm_error),
                    learner,
                    diagnosis: None,
                }
            })
            .collect();
        StatusReport {
            cluster_id: state.cluster_id().map(hex),
            leader_id: leader.map(hex),
            healthy_voters: quorum.healthy,
            serving_voters: quorum.serving,
            voters: quorum.voters,
            quorum: quorum.needed,
            quota_bytes: state.quota().bytes,
            quota_source: state.quota().source,
            quota_reached: nospace,
            members,
            alerts: alerts::evaluate(state, now),
            can_lose: quorum.can_lose(),
            next_step: state.next_step().map(|s| s.text()),
            etcd_operator_degraded: None,
            quorum_guard_off: state.quorum_guard_off,
        }
    }

    /// Adds what the API says around each member: its diagnosis, and the etcd operator's Degraded.
    pub fn with_surroundings(mut self, state: &ClusterState, surroundings: &Surroundings) -> Self {
        for (report, member) in self.members.iter_mut().zip(&state.members) {
            report.diagnosis = surroundings.diagnose(&member.identity);
        }
        self.etcd_operator_degraded = surroundings.etcd_degraded.clone();
        self
    }

    /// `quota 24.0 MiB (pod spec)`, the members that differ, and NOSPACE when it is raised.
    pub fn quota_line(&self) -> String {
        let mut line = format!("quota {} ({})", format_bytes(self.quota_bytes), self.quota_source.label());
        if self.quota_source == QuotaSource::Assumed {
            line.push_str(": not read from the cluster; give --quota-bytes or --kubeconfig");
        }
        let differ: Vec<String> = self
            .members
            .iter()
            .filter(|m| (m.quota_bytes, m.quota_source) != (self.quota_bytes, self.quota_source))
            .map(|m| format!("{} {} ({})", m.name, format_bytes(m.quota_bytes), m.quota_source.label()))
            .collect();
        if !differ.is_empty() {
            line.push_str(&format!("; {}", differ.join(", ")));
        }
        if self.quota_reached {
            line.push_str("; NOSPACE raised: the quota is reached");
        }
        line
    }

    /// 0: every member healthy (which means no alarm), a leader, no critical alert, the quorum
    /// guard on. 1: anything less.
    pub fn exit_code(&self) -> i32 {
        let all_healthy = !self.members.is_empty() && self.members.iter().all(|m| m.healthy && m.alarms.is_empty());
        let calm = self.alerts.iter().all(|a| a.severity < Severity::Critical);
        if all_healthy && self.leader_id.is_some() && calm && !self.quorum_guard_off {
            EXIT_HEALTHY
        } else {
            EXIT_DEGRADED
        }
    }

    pub fn to_table(&self) -> String {
        let header = [
            "ENDPOINT", "ID", "NAME", "VERSION", "DB SIZE", "IN USE", "FRAG %", "QUOTA %", "LEADER", "LEARNER", "TERM",
            "INDEX", "APPLIED", "HEALTH", "ALARMS", "ERROR",
        ];
        let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        let rows: Vec<Vec<String>> = self
            .members
            .iter()
            .map(|m| {
                vec![
                    safe_text(&m.endpoint),
                    m.id.clone(),
                    safe_text(&m.name),
                    opt(m.version.as_deref().map(safe_text)),
                    opt(m.db_size_bytes.map(format_bytes)),
                    opt(m.db_size_in_use_bytes.map(format_bytes)),
                    opt(m.fragmentation_pct.map(|p| format!("{p:.1}"))),
                    if self.quota_reached { "NOSPACE".into() } else { opt(m.quota_pct.map(|p| format!("{p:.1}"))) },
                    if m.is_leader { "leader".into() } else { "".into() },
                    if m.is_learner { "learner".into() } else { "".into() },
                    opt(m.raft_term.map(|v| v.to_string())),
                    opt(m.raft_index.map(|v| v.to_string())),
                    opt(m.raft_applied_index.map(|v| v.to_string())),
                    match (m.healthy, m.health_latency_ms, &m.learner) {
                        (true, _, Some(l)) => {
                            format!("learner {:.0}% ({}/{})", l.progress_pct.floor(), l.applied_index, l.leader_index)
                        }
                        (true, _, None) if m.is_learner => "learner".into(),
                        (true, Some(ms), None) => format!("ok {ms:.1}ms"),
                        _ => "unhealthy".into(),
                    },
                    safe_text(&m.alarms.join(",")),
                    m.error.as_deref().map(safe_text).unwrap_or_default(),
                ]
            })
            .collect();
        let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String]| {
            let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            let _ = writeln!(out, "{}", padded.join("  ").trim_end());
        };
        line(&mut out, &header.map(String::from));
        for row in &rows {
            line(&mut out, row);
        }
        let _ = writeln!(
            out,
            "\ncluster {}  leader {}  healthy voters {}/{}{} (quorum {})",
            opt(self.cluster_id.clone()),
            self.members
                .iter()
                .find(|m| m.is_leader)
                .map(|m| format!("{} ({})", safe_text(&m.name), m.id))
                .unwrap_or_else(|| "NONE".into()),
            self.healthy_voters,
            self.voters,
            if self.serving_voters > self.healthy_voters {
                format!(", {} serve reads under the alarm", self.serving_voters)
            } else {
                String::new()
            },
            self.quorum
        );
        let _ = writeln!(
            out,
            "{}",
            if self.serving_voters < self.quorum {
                "quorum lost".to_string()
            } else {
                format!("can lose {} more", self.can_lose)
            }
        );
        let _ = writeln!(out, "{}", self.quota_line());
        for m in &self.members {
            if let Some(d) = &m.diagnosis {
                if !m.healthy {
                    let _ = writeln!(out, "{}: {}", safe_text(&m.name), safe_text(&diagnosis_line(d)));
                }
            }
        }
        if let Some(degraded) = &self.etcd_operator_degraded {
            let _ = writeln!(out, "etcd operator Degraded: {}", safe_text(degraded));
        }
        if self.quorum_guard_off {
            let _ = writeln!(
                out,
                "QUORUM GUARD OFF: etcd/cluster has spec.unsupportedConfigOverrides; turn it back on once every member is back (exit 1 until then)"
            );
        }
        if let Some(step) = &self.next_step {
            let _ = writeln!(out, "next: {}", safe_text(step));
        }
        if self.alerts.is_empty() {
            let _ = writeln!(out, "no alerts");
        }
        for alert in &self.alerts {
            let _ = writeln!(out, "{} {}: {}", alert.severity.label(), alert.name, safe_text(&alert.message));
        }
        out
    }
}

/// A diagnosis in one line: pod, node, Machine, since when.
pub fn diagnosis_line(d: &MemberDiagnosis) -> String {
    let mut parts = Vec::new();
    if let Some(pod) = &d.pod {
        let mut text = format!("pod {pod} {}", d.pod_phase.as_deref().unwrap_or("?"));
        if let Some(reason) = &d.pod_reason {
            text.push_str(&format!(" ({reason})"));
        }
        if let Some(restarts) = d.restarts {
            text.push_str(&format!(", {restarts} restarts"));
        }
        if let Some(t) = &d.last_termination {
            text.push_str(&format!(
                ", last {} exit {} at {}",
                t.reason,
                t.exit_code,
                t.finished_at.as_deref().unwrap_or("?")
            ));
        }
        parts.push(text);
    }
    if let (Some(node), Some(ready)) = (&d.node, &d.node_ready) {
        let state = if ready.status == "True" { "Ready".to_string() } else { format!("NotReady ({})", ready.reason) };
        parts.push(format!("node {node} {state} since {}", ready.since.as_deref().unwrap_or("?")));
    }
    if let Some(machine) = &d.machine {
        let mut text = format!("machine {machine} {}", d.machine_phase.as_deref().unwrap_or("?"));
        if let Some(state) = &d.instance_state {
            text.push_str(&format!(" (instance {state})"));
        }
        parts.push(text);
    }
    if let Some(since) = &d.down_since {
        parts.push(format!("down since {since}"));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn json_names_the_contract_fields_with_hex_ids() {
        let t0 = Instant::now();
        let report = StatusReport::build(&healthy_cluster(3, t0), t0);
        let json = serde_json::to_value(&report).unwrap_or_default();
        assert_eq!(json["leader_id"], format!("{:x}", member_id(0)));
        let m = &json["members"][0];
        for field in [
            "id",
            "name",
            "endpoint",
            "version",
            "is_leader",
            "is_learner",
            "healthy",
            "health_latency_ms",
            "db_size_bytes",
            "db_size_in_use_bytes",
            "fragmentation_pct",
            "quota_bytes",
            "raft_term",
            "raft_index",
            "raft_applied_index",
            "alarms",
            "error",
        ] {
            assert!(m.get(field).is_some(), "missing {field} in {m}");
        }
        assert_eq!(m["id"], "8e9e05c52164694d");
        assert_eq!(m["is_leader"], true);
        assert_eq!(report.exit_code(), 0);
    }

    #[test]
    fn a_down_member_makes_the_exit_code_1() {
        let t0 = Instant::now();
        let mut state = healthy_cluster(3, t0);
        state.apply_sample(failed_sample(2, t0, "no answer within 5s"));
        let report = StatusReport::build(&state, t0);
        assert_eq!(report.exit_code(), 1);
        assert_eq!(report.members[2].error.as_deref(), Some("no answer within 5s"));
        assert!(report.to_table().contains("no answer within 5s"));
        assert_eq!(report.can_lose, 0);
        assert!(report
            .next_step
            .as_deref()
            .unwrap_or("")
            .starts_with("replace etcd-2: etcd-console member replace etcd-2 (M in the console)"));
        assert!(report.to_table().contains("can lose 0 more"));
        state.apply_sample(failed_sample(1, t0, "connection refused"));
        let report = StatusReport::build(&state, t0);
        let step = report.next_step.clone().unwrap_or_default();
        assert!(step.contains("--lost-host etcd-1 --lost-host etcd-2"), "{step}");
        assert!(report.to_table().contains("quorum lost"));
        // Five voters, all healthy: two may go.
        assert_eq!(StatusReport::build(&healthy_cluster(5, t0), t0).can_lose, 2);
    }
}
