//! The defrag wizard's plan (RUNBOOKS §3.7): which members need it, by
//! OpenShift's rule, `--rule EXPR` as etcd-defrag accepts it, or `--all`;
//! voting members only, followers first, the leader last.
//!
//! The plan is pure: it takes what the console knows of the members and says
//! what would be done and why. Gates, waits and the journal come with the
//! executor (`engine`, `executor`).

use evalexpr::{build_operator_tree, ContextWithMutableVariables, DefaultNumericTypes, HashMapContext, Node, Value};

/// OpenShift's automatic defrag rule: fragmentation >= 45 % and size >= 100 MiB.
pub const OPENSHIFT_MIN_FRAGMENTATION_PCT: f64 = 45.0;
pub const OPENSHIFT_MIN_SIZE: u64 = 100 * 1024 * 1024;

/// The variables a `--rule` expression may use (etcd-defrag's names).
pub const RULE_VARIABLES: &[&str] = &["dbSize", "dbSizeInUse", "dbSizeFree", "dbQuota", "dbQuotaUsage"];

/// The longest `--rule` read. evalexpr parses and evaluates by recursion, so a
/// rule nested thousands deep overflowed the stack and killed the process;
/// a real rule is a line, far shorter.
pub const RULE_MAX_CHARS: usize = 1000;

/// Which members need defragmenting.
#[derive(Debug, Clone)]
pub enum Rule {
    /// OpenShift's: fragmentation >= 45 % and DB size >= 100 MiB.
    OpenShift,
    /// Every voting member.
    All,
    /// A boolean expression over [`RULE_VARIABLES`], e.g. `dbQuotaUsage > 0.8 || dbSizeFree > 200*1024*1024`.
    Expression { text: String, tree: Node<DefaultNumericTypes> },
}

impl Rule {
    /// Parses and checks an expression once, so a typo is refused before anything runs.
    pub fn expression(text: &str) -> Result<Rule, String> {
        let length = text.chars().count();
        if length > RULE_MAX_CHARS {
            return Err(format!(
                "--rule is {length} characters long: at most {RULE_MAX_CHARS} are read; write a shorter expression"
            ));
        }
        let tree = build_operator_tree::<DefaultNumericTypes>(text)
            .map_err(|e| format!("--rule {text:?} is not an expression: {e}"))?;
        let rule = Rule::Expression { text: text.to_string(), tree };
        // Evaluated once against plain figures: unknown names and non-boolean results show now.
        let probe = Figures { db_size: 200 << 20, db_size_in_use: 100 << 20, quota: 8 << 30 };
        rule.applies(&probe).map_err(|e| format!("--rule {text:?}: {e}"))?;
        Ok(rule)
    }

    /// Whether the rule asks for a member with these figures.
    pub fn applies(&self, figures: &Figures) -> Result<bool, String> {
        match self {
            Rule::All => Ok(true),
            Rule::OpenShift => {
                Ok(figures.fragmentation_pct() >= OPENSHIFT_MIN_FRAGMENTATION_PCT
                    && figures.db_size >= OPENSHIFT_MIN_SIZE)
            }
            Rule::Expression { tree, .. } => {
                let mut context = HashMapContext::<DefaultNumericTypes>::new();
                let int = |n: u64| Value::from_int(i64::try_from(n).unwrap_or(i64::MAX));
                let values = [
                    ("dbSize", int(figures.db_size)),
                    ("dbSizeInUse", int(figures.db_size_in_use)),
                    ("dbSizeFree", int(figures.free())),
                    ("dbQuota", int(figures.quota)),
                    ("dbQuotaUsage", Value::from_float(figures.quota_usage())),
                ];
                for (name, value) in values {
                    context.set_value(name.to_string(), value).map_err(|e| e.to_string())?;
                }
                tree.eval_boolean_with_context(&context).map_err(|e| match e {
                    evalexpr::EvalexprError::VariableIdentifierNotFound(name) => {
                        format!("unknown name {name:?} (use {})", RULE_VARIABLES.join(", "))
                    }
                    evalexpr::EvalexprError::ExpectedBoolean { actual } => {
                        format!("gives {actual}, not true or false")
                    }
                    other => other.to_string(),
                })
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Rule::OpenShift => "OpenShift's rule: fragmentation >= 45 % and size >= 100 MiB".into(),
            Rule::All => "--all: every voting member".into(),
            Rule::Expression { text, .. } => format!("--rule {text}"),
        }
    }
}

/// A member's DB figures, as its Status reports them.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Figures {
    pub db_size: u64,
    pub db_size_in_use: u64,
    pub quota: u64,
}

impl Figures {
    pub fn free(&self) -> u64 {
        self.db_size.saturating_sub(self.db_size_in_use)
    }

    pub fn fragmentation_pct(&self) -> f64 {
        if self.db_size == 0 {
            0.0
        } else {
            self.free() as f64 * 100.0 / self.db_size as f64
        }
    }

    /// dbSize / quota, as etcd-defrag's `dbQuotaUsage` (0.0 .. 1.0).
    pub fn quota_usage(&self) -> f64 {
        if self.quota == 0 {
            0.0
        } else {
            self.db_size as f64 / self.quota as f64
        }
    }
}

/// What the plan knows of one member.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberFacts {
    pub id: u64,
    pub name: String,
    pub is_learner: bool,
    /// None when the member did not answer (the plan cannot include it).
    pub figures: Option<Figures>,
    /// It answered a linearizable read (etcdctl endpoint health's check).
    pub serves_reads: bool,
}

/// One member the plan defragments, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: u64,
    pub name: String,
    pub is_leader: bool,
    /// What a defrag should give back: the free pages (size - in use).
    pub expected_reclaim: u64,
    pub size_before: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Members left out, and why (learners, the rule false, no figures).
    pub skipped: Vec<(String, String)>,
}

impl Plan {
    pub fn expected_reclaim(&self) -> u64 {
        self.steps.iter().map(|s| s.expected_reclaim).sum()
    }

    /// How long the run takes at least: the waits between members (none after the last).
    pub fn minimum_duration(&self, wait: std::time::Duration) -> std::time::Duration {
        wait * u32::try_from(self.steps.len().saturating_sub(1)).unwrap_or(u32::MAX)
    }
}

/// The plan: voting members the rule asks for, followers first (by name, for a
/// stable order), the leader last. Refused without a known leader, and at once
/// when a voting member is down or does not serve reads: the gates would stop
/// the run before its first member anyway, so nobody is asked to confirm it.
pub fn plan(members: &[MemberFacts], leader_id: Option<u64>, rule: &Rule) -> Result<Plan, String> {
    let Some(leader_id) = leader_id else {
        return Err("no leader is known: a cluster without a leader is not defragmented".into());
    };
    let unwell: Vec<String> = members
        .iter()
        .filter(|m| !m.is_learner && (m.figures.is_none() || !m.serves_reads))
        .map(|m| {
            if m.figures.is_none() {
                format!("{} is down", m.name)
            } else {
                format!("{} does not serve reads", m.name)
            }
        })
        .collect();
    if !unwell.is_empty() {
        return Err(format!(
            "refused: {}; a defrag blocks one member at a time and needs every voting member healthy. Bring it \
             back or replace it first (\"Replacing an unhealthy etcd member\", OpenShift 4.14)",
            unwell.join(", ")
        ));
    }
    if !members.iter().any(|m| m.id == leader_id) {
        return Err(format!("the leader {leader_id:x} is not in the member list"));
    }
    let mut steps = Vec::new();
    let mut skipped = Vec::new();
    for member in members {
        if member.is_learner {
            skipped.push((member.name.clone(), "a learner: not a voting member, skipped as etcd-defrag does".into()));
            continue;
        }
        let Some(figures) = member.figures else {
            // A learner is skipped above; a voter without figures was refused.
            continue;
        };
        if !rule.applies(&figures)? {
            let why = format!(
                "{} is false for it ({:.1} % free of {} bytes)",
                rule.describe(),
                figures.fragmentation_pct(),
                figures.db_size
            );
            skipped.push((member.name.clone(), why));
            continue;
        }
        steps.push(Step {
            id: member.id,
            name: member.name.clone(),
            is_leader: member.id == leader_id,
            expected_reclaim: figures.free(),
            size_before: figures.db_size,
        });
    }
    steps.sort_by(|a, b| a.is_leader.cmp(&b.is_leader).then_with(|| a.name.cmp(&b.name)));
    Ok(Plan { steps, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn member(id: u64, size_mib: u64, in_use_mib: u64) -> MemberFacts {
        MemberFacts {
            id,
            name: format!("master-{id}"),
            is_learner: false,
            figures: Some(Figures { db_size: size_mib * MIB, db_size_in_use: in_use_mib * MIB, quota: 8 << 30 }),
            serves_reads: true,
        }
    }

    fn order(plan: &Plan) -> Vec<&str> {
        plan.steps.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn the_leader_goes_last_with_one_three_and_five_members() {
        let one = plan(&[member(0, 200, 50)], Some(0), &Rule::All).unwrap();
        assert_eq!(order(&one), ["master-0"]);
        assert!(one.steps[0].is_leader);
        let three: Vec<MemberFacts> = (0..3).map(|i| member(i, 200, 50)).collect();
        assert_eq!(order(&plan(&three, Some(0), &Rule::All).unwrap()), ["master-1", "master-2", "master-0"]);
        let five: Vec<MemberFacts> = (0..5).map(|i| member(i, 200, 50)).collect();
        let five = plan(&five, Some(2), &Rule::All).unwrap();
        assert_eq!(order(&five), ["master-0", "master-1", "master-3", "master-4", "master-2"]);
        assert_eq!(five.expected_reclaim(), 5 * 150 * MIB);
        assert_eq!(five.minimum_duration(std::time::Duration::from_secs(60)), std::time::Duration::from_secs(240));
    }

    #[test]
    fn learners_are_skipped_and_no_leader_is_refused() {
        let mut members: Vec<MemberFacts> = (0..3).map(|i| member(i, 200, 50)).collect();
        members[1].is_learner = true;
        let plan_made = plan(&members, Some(0), &Rule::All).unwrap();
        assert_eq!(order(&plan_made), ["master-2", "master-0"]);
        assert!(plan_made.skipped[0].1.contains("learner"));
        assert!(plan(&members, None, &Rule::All).unwrap_err().contains("no leader"));
        assert!(plan(&members, Some(9), &Rule::All).is_err());
        // A learner that does not answer is no reason to refuse: it is not defragmented anyway.
        members[1].figures = None;
        assert!(plan(&members, Some(0), &Rule::All).is_ok());
    }

    #[test]
    fn a_voting_member_down_or_not_serving_reads_refuses_the_plan_at_once() {
        let mut members: Vec<MemberFacts> = (0..3).map(|i| member(i, 200, 50)).collect();
        members[2].figures = None;
        let refused = plan(&members, Some(0), &Rule::OpenShift).unwrap_err();
        assert!(refused.starts_with("refused: master-2 is down;"), "{refused}");
        assert!(refused.contains("Replacing an unhealthy etcd member"), "{refused}");
        members[2] = member(2, 200, 50);
        members[1].serves_reads = false;
        let refused = plan(&members, Some(0), &Rule::All).unwrap_err();
        assert!(refused.contains("master-1 does not serve reads"), "{refused}");
    }

    #[test]
    fn openshifts_rule_wants_45_percent_free_and_100_mib() {
        let members = [member(0, 200, 110), member(1, 200, 100), member(2, 90, 10)];
        // 45 % free of 200 MiB: yes; 50 %: yes; 89 % of 90 MiB: too small.
        let made = plan(&members, Some(1), &Rule::OpenShift).unwrap();
        assert_eq!(order(&made), ["master-0", "master-1"]);
        assert_eq!(made.skipped.len(), 1);
        assert!(made.skipped[0].1.contains("false"), "{:?}", made.skipped);
        let none = plan(&[member(0, 200, 190), member(1, 200, 199)], Some(0), &Rule::OpenShift).unwrap();
        assert!(none.steps.is_empty());
        assert_eq!(none.skipped.len(), 2);
    }

    #[test]
    fn expressions_read_as_etcd_defrag_reads_them_and_typos_are_refused() {
        let rule = Rule::expression("dbQuotaUsage > 0.8 || dbSizeFree > 200*1024*1024").unwrap();
        let big_free = Figures { db_size: 500 * MIB, db_size_in_use: 100 * MIB, quota: 8 << 30 };
        let full = Figures { db_size: 7 << 30, db_size_in_use: 7 << 30, quota: 8 << 30 };
        let small = Figures { db_size: 100 * MIB, db_size_in_use: 50 * MIB, quota: 8 << 30 };
        assert_eq!(rule.applies(&big_free), Ok(true));
        assert_eq!(rule.applies(&full), Ok(true));
        assert_eq!(rule.applies(&small), Ok(false));
        let unknown = Rule::expression("dbsize > 1").unwrap_err();
        assert!(unknown.contains("unknown name \"dbsize\"") && unknown.contains("dbSizeInUse"), "{unknown}");
        let not_boolean = Rule::expression("dbSize * 2").unwrap_err();
        assert!(not_boolean.contains("not true or false"), "{not_boolean}");
        assert!(Rule::expression("dbSize >").is_err());
        // Found by fuzzing: 10,000 nested parentheses overflowed the stack (the process aborted).
        let deep = format!("{}dbSize > 0{}", "(".repeat(10_000), ")".repeat(10_000));
        let refused = Rule::expression(&deep).unwrap_err();
        assert!(refused.starts_with("--rule is 20010 characters long: at most 1000 are read"), "{refused}");
        let nested = format!("{}dbSize > 0{}", "(".repeat(495), ")".repeat(495));
        assert!(Rule::expression(&nested).is_ok());
    }
}
