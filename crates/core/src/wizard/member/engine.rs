//! The member replacement's state machine: survey, gates, a typed
//! confirmation naming the cluster and the member, then one step at a time,
//! each begun (journalled) before it acts and ended with what its check saw.
//! A resumed run acts again on the step it was in: every act is written so
//! that doing it twice changes nothing more than doing it once (a member
//! already removed counts as removed, a Machine already deleted is not
//! deleted again, a redeployment already forced keeps its reason).

use serde::{Deserialize, Serialize};

use super::steps::{self, Act, Step};
use super::{confirmation_text, gates, Gate, Options, Procedure, StepRecord, StepState, Survey};
use crate::wizard::restore::QUORUM_GUARD_ON;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// `member plan`: the steps and the gates, nothing done.
    Planned {
        gates_passed: bool,
    },
    Refused {
        reasons: Vec<String>,
    },
    NotAllowed {
        reason: String,
    },
    Cancelled,
    Stopped {
        step: String,
        reason: String,
        quorum_guard_off: bool,
    },
    Completed,
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Planned { gates_passed: true } | Outcome::Completed => 0,
            _ => 1,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Outcome::Planned { gates_passed: true } => "every gate passes: `member replace` may go ahead".into(),
            Outcome::Planned { gates_passed: false } => "a gate does not pass: `member replace` would refuse".into(),
            Outcome::Refused { reasons } => format!("refused, nothing changed: {}", reasons.join("; ")),
            Outcome::NotAllowed { reason } => format!("not applied: {reason}"),
            Outcome::Cancelled => "cancelled: nothing changed".into(),
            Outcome::Stopped { step, reason, quorum_guard_off } => {
                let mut text =
                    format!("stopped at step {step}: {reason}; run the same `member replace` again to resume there");
                if *quorum_guard_off {
                    text.push_str(&format!(
                        "; the QUORUM GUARD IS OFF until step quorum_guard_on runs (or: {QUORUM_GUARD_ON})"
                    ));
                }
                text
            }
            Outcome::Completed => "replaced: every step done and checked".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Survey,
    Confirm,
    Steps,
    Finished,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub cluster_name: String,
    pub api_url: String,
    pub member: String,
    pub member_id: String,
    pub procedure: Procedure,
    /// What must be typed: `CLUSTER/MEMBER`.
    pub expected: String,
    pub point_of_no_return: String,
}

/// What the executor is asked to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Survey,
    Confirm(Confirmation),
    /// Do the step's act, then poll its check; `reason` for a forced redeployment.
    Perform {
        index: usize,
        step: Step,
        reason: Option<String>,
    },
    /// Show the step's commands and wait for the person (OpenShift 4.3); its check follows.
    AskPerson {
        index: usize,
        step: Step,
    },
    Finished(Outcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepResult {
    Done {
        detail: String,
    },
    /// A forced redeployment patched, with the revision the operator was at before.
    Forced {
        detail: String,
        revision_before: Option<i64>,
    },
    /// The person stopped the run while the step's check was polled (its act was done).
    Interrupted {
        detail: String,
    },
    Failed {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    Surveyed(Box<Survey>),
    Typed(String),
    Performed { index: usize, result: StepResult },
    PersonAnswered { index: usize, done: bool },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRun {
    pub options: Options,
    pub stage: Stage,
    pub procedure: Option<Procedure>,
    pub survey: Option<Survey>,
    pub gates: Vec<Gate>,
    pub steps: Vec<Step>,
    pub records: Vec<StepRecord>,
    pub quorum_guard_off: bool,
    pub outcome: Option<Outcome>,
}

impl MemberRun {
    pub fn new(options: Options) -> MemberRun {
        MemberRun {
            options,
            stage: Stage::Survey,
            procedure: None,
            survey: None,
            gates: Vec::new(),
            steps: Vec::new(),
            records: Vec::new(),
            quorum_guard_off: false,
            outcome: None,
        }
    }

    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Ended, and nothing is left to resume.
    pub fn finished_for_good(&self) -> bool {
        match &self.outcome {
            Some(Outcome::Stopped { .. }) | None => false,
            Some(_) => true,
        }
    }

    /// Whether any step has begun (past it, a new survey would not see the member as it was).
    pub fn begun(&self) -> bool {
        self.records.iter().any(|r| r.state != StepState::Pending)
    }

    /// The member the run is about, as surveyed: `name (id)`.
    pub fn member_label(&self) -> String {
        match self.survey.as_ref().and_then(|s| s.target.as_ref()) {
            Some(t) => format!("{} ({:x})", t.name, t.id),
            None => self.options.member.clone(),
        }
    }

    /// Whether this run is of `member` (as asked: its name or hex ID; or as surveyed).
    pub fn is_of(&self, member: &str) -> bool {
        let member = member.trim();
        self.options.member == member
            || self.survey.as_ref().and_then(|s| s.target.as_ref()).is_some_and(|t| {
                t.name == member || format!("{:x}", t.id) == member.trim_start_matches("0x").to_lowercase()
            })
    }

    /// Where a resumed run goes on: `step ID: title`.
    pub fn resume_point(&self) -> String {
        self.records
            .iter()
            .zip(&self.steps)
            .find(|(r, _)| matches!(r.state, StepState::Pending | StepState::Running | StepState::Failed))
            .map(|(_, s)| format!("step {}: {}", s.id, s.title))
            .unwrap_or_else(|| "the start".into())
    }

    /// A stopped run taken up again: the step it was in is done again (its act is safe to repeat).
    /// Before any step began, it is surveyed and confirmed anew.
    pub fn resume(&mut self) {
        self.outcome = None;
        if !self.begun() {
            *self = MemberRun::new(self.options.clone());
            return;
        }
        self.stage = Stage::Steps;
        for record in &mut self.records {
            if record.state == StepState::Failed {
                record.state = StepState::Running;
            }
        }
    }

    fn finish(&mut self, outcome: Outcome) -> Action {
        self.stage = Stage::Finished;
        self.outcome = Some(outcome.clone());
        Action::Finished(outcome)
    }

    pub fn next_action(&mut self) -> Action {
        if let Some(outcome) = &self.outcome {
            return Action::Finished(outcome.clone());
        }
        match self.stage {
            Stage::Survey => Action::Survey,
            Stage::Confirm => {
                let Some(survey) = &self.survey else { return Action::Survey };
                let target = survey.target.clone().unwrap_or_default();
                let point = self
                    .steps
                    .iter()
                    .find(|s| s.point_of_no_return)
                    .map(|s| format!("step {} ({})", s.id, s.title))
                    .unwrap_or_else(|| "none".into());
                Action::Confirm(Confirmation {
                    cluster_name: survey.cluster_name.clone(),
                    api_url: survey.api_url.clone(),
                    member: target.name.clone(),
                    member_id: format!("{:x}", target.id),
                    procedure: self.procedure.unwrap_or(Procedure::Crashloop),
                    expected: confirmation_text(&survey.cluster_name, &target.name),
                    point_of_no_return: point,
                })
            }
            Stage::Steps => {
                let Some(index) =
                    self.records.iter().position(|r| matches!(r.state, StepState::Pending | StepState::Running))
                else {
                    return self.finish(Outcome::Completed);
                };
                let step = self.steps[index].clone();
                let record = &mut self.records[index];
                if let Act::Person { .. } = step.act {
                    if record.state == StepState::Pending {
                        return Action::AskPerson { index, step };
                    }
                }
                if matches!(step.act, Act::ForceRedeployment | Act::RedeployIfShort { .. }) && record.reason.is_none() {
                    // Chosen before the act and journalled with it: a resumed run does not force twice.
                    record.reason = Some(super::redeployment_reason(std::time::SystemTime::now()));
                }
                record.state = StepState::Running;
                Action::Perform { index, step, reason: record.reason.clone() }
            }
            Stage::Finished => Action::Finished(self.outcome.clone().unwrap_or(Outcome::Cancelled)),
        }
    }

    pub fn observe(&mut self, observed: Observed) {
        match observed {
            Observed::Surveyed(survey) => self.surveyed(*survey),
            Observed::Typed(text) => {
                let expected = self
                    .survey
                    .as_ref()
                    .map(|s| {
                        confirmation_text(
                            &s.cluster_name,
                            &s.target.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
                        )
                    })
                    .unwrap_or_default();
                if text.trim() == expected && !expected.is_empty() {
                    self.stage = Stage::Steps;
                } else {
                    self.finish(Outcome::Cancelled);
                }
            }
            Observed::PersonAnswered { index, done } => {
                if let Some(record) = self.records.get_mut(index) {
                    if done {
                        record.state = StepState::Running;
                    } else {
                        let id = self.steps.get(index).map(|s| s.id.clone()).unwrap_or_default();
                        self.finish(Outcome::Stopped {
                            step: id,
                            reason: "you stopped before it was done".into(),
                            quorum_guard_off: self.quorum_guard_off,
                        });
                    }
                }
            }
            Observed::Performed { index, result } => self.performed(index, result),
        }
    }

    fn surveyed(&mut self, survey: Survey) {
        if let Some(problem) = &survey.unreadable {
            let problem = problem.clone();
            self.survey = Some(survey);
            self.finish(Outcome::Refused { reasons: vec![problem] });
            return;
        }
        let procedure = survey.procedure(&self.options);
        self.gates = gates(procedure, &self.options, &survey);
        self.steps = steps::plan(procedure, &self.options, &survey);
        self.records = self.steps.iter().map(|_| StepRecord::new(StepState::Pending, "")).collect();
        self.procedure = Some(procedure);
        self.quorum_guard_off = survey.quorum_guard_off;
        self.survey = Some(survey);
        let failed: Vec<String> =
            self.gates.iter().filter(|g| !g.passed).map(|g| format!("{}: {}", g.id, g.detail)).collect();
        if self.options.plan_only {
            self.finish(Outcome::Planned { gates_passed: failed.is_empty() });
        } else if !failed.is_empty() {
            self.finish(Outcome::Refused { reasons: failed });
        } else if self.options.read_only {
            self.finish(Outcome::NotAllowed {
                reason: "--read-only: the plan was made and every gate passes, nothing was changed".into(),
            });
        } else {
            self.stage = Stage::Confirm;
        }
    }

    fn performed(&mut self, index: usize, result: StepResult) {
        let Some(step) = self.steps.get(index).cloned() else { return };
        let record = &mut self.records[index];
        match result {
            StepResult::Done { detail } => {
                record.state = StepState::Done;
                record.detail = detail;
                if let Act::QuorumGuard { off } = step.act {
                    self.quorum_guard_off = off;
                }
            }
            StepResult::Forced { detail, revision_before } => {
                record.state = StepState::Done;
                record.detail = detail;
                record.revision_before = revision_before;
            }
            StepResult::Interrupted { detail } => {
                record.state = StepState::Running;
                record.detail = detail.clone();
                // A guard patched off and interrupted in its check is off.
                if let Act::QuorumGuard { off: true } = step.act {
                    self.quorum_guard_off = true;
                }
                self.finish(Outcome::Stopped {
                    step: step.id,
                    reason: format!("stopped by you: {detail}"),
                    quorum_guard_off: self.quorum_guard_off,
                });
            }
            StepResult::Failed { reason } => {
                record.state = StepState::Failed;
                record.detail = reason.clone();
                if let Act::QuorumGuard { off: true } = step.act {
                    self.quorum_guard_off = true;
                }
                self.finish(Outcome::Stopped { step: step.id, reason, quorum_guard_off: self.quorum_guard_off });
            }
        }
    }
}
