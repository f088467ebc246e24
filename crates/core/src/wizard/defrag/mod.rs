//! The defrag wizard (RUNBOOKS §3.7, §3.8): the plan, the engine that walks it
//! member by member behind its gates, and the executor that does what the
//! engine asks against etcd. The TUI and `etcd-console defrag` both drive it.

pub mod engine;
pub mod executor;
pub mod journal;
pub mod nospace;
pub mod plan;

pub use engine::{Action, ClusterView, DefragRun, MemberReading, MemberView, Observed, Options, Outcome};
pub use nospace::{nospace_plan, MemberQuota, NospacePlan};
pub use plan::{plan, Figures, MemberFacts, Plan, Rule, Step};

#[cfg(test)]
mod model;
