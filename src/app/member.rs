//! The member-replacement wizard's screen state (`M` on the selected member):
//! the plan the engine made on the live cluster (a survey with `plan_only`),
//! then the run as the executor reports it, and the person's answers typed in
//! a prompt (`CLUSTER/MEMBER`; `done` for a step only a person can do). What
//! is done, when, and what is refused is the engine's (`wizard::member`).

use etcd_console_core::wizard::member::engine::Confirmation;
use etcd_console_core::wizard::member::executor::Progress;
use etcd_console_core::wizard::member::{MemberRun, Outcome, Step};

use super::input::{Input, Typed};
use super::keys::Action as Key;
use super::{Answer, App, Effect, Start, WizardKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The plan is being made or shown.
    Planning,
    Running,
    Finished,
}

/// What the engine waits for the person to type.
#[derive(Debug, Clone, PartialEq)]
pub enum Asked {
    Confirm(Confirmation),
    Done(Box<Step>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub asked: Asked,
    pub typed: Input,
}

#[derive(Debug, Clone)]
pub struct MemberWizard {
    /// The member asked for: its name, or its hex ID when etcd lists it unstarted.
    pub member: String,
    pub stage: Stage,
    /// The plan, then the run, as last reported.
    pub run: Option<MemberRun>,
    /// The step being done.
    pub current: Option<(usize, Step)>,
    /// What the step's check last saw while it waits (a learner's progress, a Machine's phase).
    pub waiting: Option<(usize, String)>,
    pub prompt: Option<Prompt>,
    /// A plan was asked for and has not come yet.
    pub planning: bool,
    pub abort_sent: bool,
    /// The journal holds an unfinished replacement of this member, begun: where it stopped.
    /// Enter resumes it there, whatever the new plan's gates say (its steps are past them).
    pub journalled: Option<String>,
}

impl MemberWizard {
    pub fn new(member: String) -> MemberWizard {
        MemberWizard {
            member,
            stage: Stage::Planning,
            run: None,
            current: None,
            waiting: None,
            prompt: None,
            planning: true,
            abort_sent: false,
            journalled: None,
        }
    }

    /// The plan shown lets the run go ahead: every gate passes.
    pub fn plan_passes(&self) -> bool {
        self.run.as_ref().is_some_and(|run| {
            matches!(run.outcome(), Some(Outcome::Planned { gates_passed: true }))
                && !run.gates.is_empty()
                && run.gates.iter().all(|g| g.passed)
        })
    }

    /// Why the plan shown does not let the run go ahead (None: it does, or none is shown yet).
    pub fn refused_because(&self) -> Option<String> {
        let run = self.run.as_ref()?;
        if self.plan_passes() || self.journalled.is_some() {
            return None;
        }
        if let Some(gate) = run.gates.iter().find(|g| !g.passed) {
            return Some(format!("gate {} does not pass: {}", gate.id, gate.detail));
        }
        Some(run.outcome().map(Outcome::describe).unwrap_or_else(|| "no plan yet".into()))
    }

    pub fn start(&mut self) {
        self.stage = Stage::Running;
        self.current = None;
        self.waiting = None;
        self.prompt = None;
        self.abort_sent = false;
    }

    pub fn on_progress(&mut self, progress: Progress) {
        match progress {
            Progress::Began { index, step } => {
                if self.stage == Stage::Running {
                    self.current = Some((index, step));
                    self.waiting = None;
                }
            }
            Progress::Waiting { index, detail } => {
                if self.stage == Stage::Running {
                    self.waiting = Some((index, detail));
                }
            }
            Progress::Run(run) => {
                // A plan that arrives late (for another member, or after the run began) is not this screen's.
                let plan = run.options.plan_only;
                if plan && (self.stage != Stage::Planning || run.options.member != self.member) {
                    return;
                }
                if !plan && self.stage == Stage::Planning {
                    return;
                }
                if plan {
                    self.planning = false;
                }
                if self.stage == Stage::Running && run.outcome().is_some() {
                    self.stage = Stage::Finished;
                    self.prompt = None;
                }
                self.run = Some(*run);
            }
        }
    }

    pub fn ask(&mut self, asked: Asked) {
        self.prompt = Some(Prompt { asked, typed: Input::new() });
    }
}

impl App {
    pub fn on_member(&mut self, progress: Progress) {
        let Some(wizard) = &mut self.member else { return };
        let was_running = wizard.stage == Stage::Running;
        wizard.on_progress(progress);
        if was_running && wizard.stage == Stage::Finished {
            if let Some(run) = &wizard.run {
                let outcome = run.outcome().map(Outcome::describe).unwrap_or_default();
                self.notice = Some(format!("member {}: {outcome}", run.member_label()));
            }
        }
    }

    /// The journal holds an unfinished run of this member, begun.
    pub fn member_journalled(&mut self, member: &str, at: String) {
        if let Some(wizard) = self.member.as_mut().filter(|w| w.stage == Stage::Planning && w.member == member) {
            wizard.journalled = Some(at);
        }
    }

    /// The engine waits for the person to type something: the wizard comes on the lower half.
    pub fn ask_member(&mut self, asked: Asked) {
        if let Some(wizard) = &mut self.member {
            wizard.ask(asked);
            self.show_wizard(WizardKind::Member);
        }
    }

    /// Whether keys go to the member wizard's prompt.
    pub fn member_prompt_up(&self) -> bool {
        self.member.as_ref().is_some_and(|w| w.prompt.is_some())
    }

    /// A key while the prompt is up, by EDIT_KEYS: Enter answers, Esc answers nothing (no:
    /// cancelled, or the step not done); the other keys edit what is typed, sent as it is.
    pub fn on_member_key(&mut self, key: crossterm::event::KeyEvent) -> Option<Effect> {
        let wizard = self.member.as_mut()?;
        let prompt = wizard.prompt.as_mut()?;
        match prompt.typed.key(key) {
            Typed::Keep => {
                let typed = prompt.typed.text().to_string();
                wizard.prompt = None;
                Some(Effect::Answer(Answer::Member(typed)))
            }
            Typed::Drop => {
                wizard.prompt = None;
                Some(Effect::Answer(Answer::Member(String::new())))
            }
            Typed::Edited => None,
        }
    }

    /// The selected member as the engine is asked for it: its name, or its hex ID when unstarted.
    fn selected_member_name(&self) -> Option<String> {
        self.cluster.members.get(self.selected).map(|m| m.identity.display_name())
    }

    /// `M`: the replacement wizard for the selected member, its plan asked for at once. A run
    /// going on is shown again, whatever is selected.
    pub(super) fn open_member(&mut self) -> Option<Effect> {
        let Some(member) = self.selected_member_name() else {
            self.notice = Some("no member to replace: none is listed yet".into());
            return None;
        };
        if let Some(wizard) = self.member.as_ref().filter(|w| w.stage == Stage::Running) {
            if wizard.member != member {
                self.notice = Some(format!(
                    "the replacement of {} is going on: x stops it after the step in flight",
                    wizard.member
                ));
            }
            self.show_wizard(WizardKind::Member);
            return None;
        }
        self.show_wizard(WizardKind::Member);
        if self.member.as_ref().is_some_and(|w| w.member == member && w.planning) {
            return None;
        }
        self.member = Some(MemberWizard::new(member.clone()));
        Some(Effect::PlanMember { member })
    }

    /// The wizard's keys while it is open; Some(effect) when the key was the wizard's.
    pub(super) fn on_member_action(&mut self, action: Key) -> Option<Option<Effect>> {
        let wizard = self.member.as_mut()?;
        match (action, wizard.stage) {
            (Key::Confirm, Stage::Planning) => {
                if wizard.planning {
                    self.notice = Some("the plan is being made: wait for its gates".into());
                    return Some(None);
                }
                if let Some(why) = wizard.refused_because() {
                    self.notice = Some(format!("not started: {why}"));
                    return Some(None);
                }
                let member = wizard.member.clone();
                wizard.start();
                self.quit_armed = false;
                return Some(Some(Effect::Start(Start::Member { member })));
            }
            (Key::Stop, Stage::Running) => {
                wizard.abort_sent = true;
                self.notice = Some(
                    "stopping once the step in flight has been checked; the journal keeps where (M, Enter resumes)"
                        .into(),
                );
                return Some(Some(Effect::Stop(WizardKind::Member)));
            }
            (Key::CloseOverlay, Stage::Running) => self.hide_wizard(WizardKind::Member),
            (Key::CloseOverlay, _) => self.close_wizard(WizardKind::Member),
            // M again plans again (for the member selected now); another wizard's key opens that one.
            _ => return None,
        }
        Some(None)
    }
}

/// Engine values for the tests: surveys made here, as the engine's own tests make them.
#[cfg(test)]
pub(crate) mod fixtures {
    use etcd_console_core::cluster::fixtures::member_id;
    use etcd_console_core::wizard::member::engine::Action;
    use etcd_console_core::wizard::member::{
        BackupFound, MemberFacts, MemberRun, Observed, Options, PodFacts, Survey, TargetFacts,
    };

    fn member(i: usize, healthy: bool) -> MemberFacts {
        MemberFacts {
            id: member_id(i),
            name: format!("etcd-{i}"),
            peer_urls: vec![format!("https://10.0.0.{}:2380", 10 + i)],
            client_urls: vec![format!("https://10.0.0.{}:2379", 10 + i)],
            is_learner: false,
            answer: if healthy { Ok(()) } else { Err("tcp connect error: Connection refused (os error 111)".into()) },
            applied_index: healthy.then_some(79_034),
        }
    }

    /// etcd-1's etcd crashlooping on its Ready node master-1; a backup 2 h old; everything allowed.
    /// `down` more members (etcd-2 ...) not answering either.
    pub(crate) fn crashlooping(down: usize) -> Survey {
        Survey {
            api_url: "https://api.ocp.example.com:6443".into(),
            cluster_name: "ocp-x7k2p".into(),
            cluster_id: "14e801d691eb24e".into(),
            version: Some("4.14.8".into()),
            members: (0..3).map(|i| member(i, i != 1 && !(2..2 + down).contains(&i))).collect(),
            leader: Some(member_id(0)),
            target: Some(TargetFacts {
                id: member_id(1),
                name: "etcd-1".into(),
                node: Some("master-1".into()),
                node_ip: Some("10.0.0.11".into()),
                node_ready: Some("True KubeletReady".into()),
                machine: Some("ocp-x7k2p-master-1".into()),
                machine_phase: Some("Running".into()),
                instance_state: Some("running".into()),
                pod: Some(PodFacts {
                    name: "etcd-master-1".into(),
                    uid: "4f1c".into(),
                    phase: "Running".into(),
                    waiting: Some("CrashLoopBackOff".into()),
                    restarts: 7,
                    last_termination: Some("Error exit 1 at 2026-11-22T02:56:10Z".into()),
                    ready: false,
                }),
                claim: None,
                new_machine: None,
            }),
            backup: BackupFound {
                dir: "/srv/etcd-backups".into(),
                timestamp: Some("2026-11-22_010000".into()),
                age_seconds: Some(7200),
                restorable: true,
                detail: "snapshot and static resources, read end to end".into(),
            },
            busy: Vec::new(),
            access: vec![
                ("delete etcd secrets".into(), Ok(())),
                ("patch etcd/cluster".into(), Ok(())),
                ("create debug pods".into(), Ok(())),
            ],
            quorum_guard_off: false,
            control_plane_namespace: None,
            helper_host: Some(("master-0".into(), "10.0.0.10".into())),
            surveyed_at: "2026-11-22_030000".into(),
            unreadable: None,
        }
    }

    pub(crate) fn options(plan_only: bool) -> Options {
        Options {
            member: "etcd-1".into(),
            max_backup_age_seconds: 24 * 3600,
            backup_dir: "/srv/etcd-backups".into(),
            plan_only,
            via: "api".into(),
            ..Options::default()
        }
    }

    /// The engine's run (a plan with `plan_only`) once it has seen `survey`.
    pub(crate) fn surveyed(survey: Survey, plan_only: bool) -> MemberRun {
        let mut run = MemberRun::new(options(plan_only));
        assert_eq!(run.next_action(), Action::Survey);
        run.observe(Observed::Surveyed(Box::new(survey)));
        run
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::fixtures::{crashlooping, surveyed};
    use super::*;
    use crate::app::keys::Action;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use etcd_console_core::cluster::fixtures::{failed_sample, healthy_cluster};
    use etcd_console_core::etcd::poller::PollEvent;
    use etcd_console_core::wizard::member::engine::Action as RunAction;

    /// Three members, etcd-1 not answering and selected.
    fn one_down() -> App {
        let t0 = Instant::now();
        let mut app = App::new("lab".into(), 8 << 30, Duration::from_secs(2), t0);
        app.cluster = healthy_cluster(3, t0);
        app.on_poll(PollEvent::Sample(failed_sample(1, t0, "no answer within 5s")));
        app.selected = 1;
        app
    }

    #[test]
    fn m_opens_the_wizard_for_the_selected_member_and_asks_for_its_plan() {
        let mut app = one_down();
        assert_eq!(app.on_action(Action::OpenMember), Some(Effect::PlanMember { member: "etcd-1".into() }));
        assert_eq!(app.open_wizard(), Some(WizardKind::Member));
        assert_eq!(app.on_action(Action::Confirm), None, "no plan yet: nothing starts");
        // A plan for another member (asked before) is not this one's.
        let mut other = surveyed(crashlooping(0), true);
        other.options.member = "etcd-2".into();
        app.on_member(Progress::Run(Box::new(other)));
        assert!(app.member.as_ref().is_some_and(|w| w.planning && w.run.is_none()));
        app.on_member(Progress::Run(Box::new(surveyed(crashlooping(0), true))));
        assert!(app.member.as_ref().is_some_and(|w| w.plan_passes()));
        assert_eq!(app.on_action(Action::Confirm), Some(Effect::Start(Start::Member { member: "etcd-1".into() })));
        // Running: M shows it again whatever is selected, and plans nothing.
        app.on_action(Action::CloseOverlay);
        assert_eq!(app.open_wizard(), None, "Esc hides the running wizard");
        app.selected = 0;
        assert_eq!(app.on_action(Action::OpenMember), None);
        assert_eq!(app.open_wizard(), Some(WizardKind::Member));
        assert!(app.notice.as_deref().unwrap_or("").contains("replacement of etcd-1 is going on"));
    }

    #[test]
    fn enter_with_a_gate_that_does_not_pass_starts_nothing_and_says_why() {
        let mut app = one_down();
        app.on_action(Action::OpenMember);
        app.on_member(Progress::Run(Box::new(surveyed(crashlooping(1), true))));
        assert_eq!(app.on_action(Action::Confirm), None);
        let notice = app.notice.clone().unwrap_or_default();
        assert!(notice.contains("quorum_holds") && notice.contains("restore plan"), "{notice}");
        assert_eq!(app.member.as_ref().map(|w| w.stage), Some(Stage::Planning));
        // M plans again.
        assert_eq!(app.on_action(Action::OpenMember), Some(Effect::PlanMember { member: "etcd-1".into() }));
    }

    #[test]
    fn an_unfinished_run_of_the_member_in_the_journal_is_resumed_whatever_the_new_gates_say() {
        let mut app = one_down();
        app.on_action(Action::OpenMember);
        app.on_member(Progress::Run(Box::new(surveyed(crashlooping(1), true))));
        // Said for another member, or for this one: only this one's counts.
        app.member_journalled("etcd-2", "step remove_member".into());
        assert_eq!(app.on_action(Action::Confirm), None);
        app.member_journalled("etcd-1", "step member_back".into());
        assert_eq!(app.on_action(Action::Confirm), Some(Effect::Start(Start::Member { member: "etcd-1".into() })));
    }

    #[test]
    fn keys_go_to_the_prompt_and_esc_cancels() {
        let mut app = one_down();
        app.on_action(Action::OpenMember);
        app.on_member(Progress::Run(Box::new(surveyed(crashlooping(0), true))));
        app.on_action(Action::Confirm);
        let RunAction::Confirm(confirmation) = surveyed(crashlooping(0), false).next_action() else {
            panic!("no confirmation")
        };
        assert_eq!(confirmation.expected, "ocp-x7k2p/etcd-1");
        app.on_action(Action::CloseOverlay);
        app.ask_member(Asked::Confirm(confirmation));
        assert_eq!(app.open_wizard(), Some(WizardKind::Member), "the question brings it up");
        // q and x are typed, not acted on.
        for c in ['q', 'x', 'M'] {
            assert_eq!(app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)), None);
        }
        assert_eq!(app.member.as_ref().and_then(|w| w.prompt.as_ref()).map(|p| p.typed.text()), Some("qxM"));
        assert_eq!(
            app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
            Some(Effect::Answer(Answer::Member(String::new())))
        );
        assert!(!app.member_prompt_up());
    }

    #[test]
    fn a_paste_into_the_prompt_is_its_first_line_and_enter_sends_it_exactly() {
        let mut app = one_down();
        app.on_action(Action::OpenMember);
        app.on_member(Progress::Run(Box::new(surveyed(crashlooping(0), true))));
        app.on_action(Action::Confirm);
        let RunAction::Confirm(confirmation) = surveyed(crashlooping(0), false).next_action() else {
            panic!("no confirmation")
        };
        app.ask_member(Asked::Confirm(confirmation));
        // The pasted line break is not an Enter: nothing is answered until Enter is pressed.
        app.on_paste("ocp-x7k2p/etcd-\u{1b}[2J1\ny");
        assert!(app.member_prompt_up());
        assert_eq!(
            app.member.as_ref().and_then(|w| w.prompt.as_ref()).map(|p| p.typed.text()),
            Some("ocp-x7k2p/etcd-[2J1")
        );
        // Ctrl-W takes back a word (then the punctuation before it); the rest is typed again.
        let ctrl_w = KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL);
        for _ in 0..2 {
            app.on_key(ctrl_w);
        }
        assert_eq!(app.member.as_ref().and_then(|w| w.prompt.as_ref()).map(|p| p.typed.text()), Some("ocp-x7k2p/etcd"));
        for c in ['-', '1'] {
            app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        assert_eq!(
            app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
            Some(Effect::Answer(Answer::Member("ocp-x7k2p/etcd-1".into())))
        );
    }

    #[test]
    fn x_while_running_stops_the_member_run_only() {
        let mut app = one_down();
        app.on_action(Action::OpenMember);
        app.on_member(Progress::Run(Box::new(surveyed(crashlooping(0), true))));
        app.on_action(Action::Confirm);
        assert_eq!(app.on_action(Action::Stop), Some(Effect::Stop(WizardKind::Member)));
        assert!(app.member.as_ref().is_some_and(|w| w.abort_sent));
        // q asks once more while it runs.
        assert_eq!(app.on_action(Action::Quit), None);
        assert_eq!(app.on_action(Action::Quit), Some(Effect::Quit));
    }
}
