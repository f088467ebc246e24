//! The NOSPACE form of the defrag wizard (RUNBOOKS §3.8): when a member has
//! raised NOSPACE, the way out is compact, defragment every member (leader
//! last), then disarm, and the disarm only once every member is below 90 % of
//! the quota. This says what such a run would do; [`DefragRun::for_nospace`]
//! is the run, on the same engine as `defrag --compact --disarm`.

use super::engine::{DefragRun, Options, DISARM_MAX_QUOTA_SHARE};
use super::plan::{plan, MemberFacts, Plan, Rule};
use crate::units::format_bytes;

/// One member's size against the quota, as the form shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MemberQuota {
    pub name: String,
    pub db_size: u64,
    pub db_size_in_use: u64,
    pub quota_pct: f64,
    pub raised_nospace: bool,
}

/// What clearing NOSPACE would do, step by step.
#[derive(Debug, Clone, PartialEq)]
pub struct NospacePlan {
    /// The members that raised NOSPACE (names).
    pub raised_by: Vec<String>,
    pub members: Vec<MemberQuota>,
    pub quota_bytes: u64,
    /// Compaction drops every revision before this one (None when not read yet).
    pub revision: Option<i64>,
    /// Every voting member, leader last.
    pub defrag: Plan,
}

impl NospacePlan {
    /// Below this size every member must be for the disarm.
    pub fn disarm_limit_bytes(&self) -> u64 {
        (self.quota_bytes as f64 * DISARM_MAX_QUOTA_SHARE) as u64
    }

    /// Members whose live data (in use now) is already at or above the limit:
    /// a defrag alone cannot bring them below it; only what compaction frees can.
    pub fn in_use_over_limit(&self) -> Vec<&MemberQuota> {
        self.members.iter().filter(|m| m.db_size_in_use >= self.disarm_limit_bytes()).collect()
    }

    /// The steps in words, the same for the console's form and `defrag --dry-run`
    /// (short: they fit the form at 80x24).
    pub fn step_lines(&self) -> Vec<String> {
        let compact = match self.revision {
            Some(revision) => format!(
                "1. compact to the current revision {revision}: the history before it goes for good (current \
                 values stay)"
            ),
            None => "1. compact to the current revision: older revisions go for good".to_string(),
        };
        let order: Vec<String> = self
            .defrag
            .steps
            .iter()
            .map(|s| if s.is_leader { format!("{} (leader, last)", s.name) } else { s.name.clone() })
            .collect();
        let mut disarm = format!(
            "3. disarm, only if every member is below 90 % of the {} quota ({}) after the defrag; else refused, \
             saying which member is too big",
            format_bytes(self.quota_bytes),
            format_bytes(self.disarm_limit_bytes())
        );
        let over: Vec<String> = self.in_use_over_limit().iter().map(|m| m.name.clone()).collect();
        if !over.is_empty() {
            disarm.push_str(&format!(
                " (now more than that is in use on {}: delete data first, or compaction must free it)",
                over.join(", ")
            ));
        }
        vec![compact, format!("2. defragment one at a time: {}", order.join(", ")), disarm]
    }
}

/// The NOSPACE plan, when a member has raised NOSPACE (None otherwise).
/// Refused (Err) when the defrag itself would be (no leader, a member down).
pub fn nospace_plan(
    members: &[MemberFacts],
    alarms: &[(u64, String)],
    leader_id: Option<u64>,
    quota_bytes: u64,
) -> Option<Result<NospacePlan, String>> {
    let raised: Vec<u64> = alarms.iter().filter(|(_, kind)| kind == "NOSPACE").map(|(id, _)| *id).collect();
    if raised.is_empty() {
        return None;
    }
    let name_of = |id: u64| members.iter().find(|m| m.id == id).map(|m| m.name.clone()).unwrap_or(format!("{id:x}"));
    let made = plan(members, leader_id, &Rule::All).map(|defrag| NospacePlan {
        raised_by: raised.iter().map(|id| name_of(*id)).collect(),
        members: members
            .iter()
            .filter_map(|m| {
                m.figures.map(|f| MemberQuota {
                    name: m.name.clone(),
                    db_size: f.db_size,
                    db_size_in_use: f.db_size_in_use,
                    quota_pct: if quota_bytes == 0 { 0.0 } else { f.db_size as f64 * 100.0 / quota_bytes as f64 },
                    raised_nospace: raised.contains(&m.id),
                })
            })
            .collect(),
        quota_bytes,
        revision: None,
        defrag,
    });
    Some(made)
}

impl DefragRun {
    /// The run that clears NOSPACE: compact, every member leader last, disarm
    /// behind the 90 % rule, whatever options the front end had toggled.
    pub fn for_nospace(
        nospace: &NospacePlan,
        cluster_id: u64,
        options: Options,
        read_only: bool,
    ) -> Result<DefragRun, String> {
        if read_only {
            return Err("refused: --read-only is set, and clearing NOSPACE compacts, defragments and disarms".into());
        }
        let options = Options { compact: true, disarm: true, quota_bytes: nospace.quota_bytes, ..options };
        DefragRun::new(&nospace.defrag, cluster_id, options, read_only)
    }
}
