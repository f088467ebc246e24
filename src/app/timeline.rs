//! The incident timeline in the console: what the sources report goes through core's one
//! producer into `App::timeline`; what is done here (a wizard's steps and outcome, a change
//! confirmed, a notice) is added with who did it. `t` shows it, `T` writes it as Markdown.
//! `etcd-console watch` drives the same methods without a screen.

use std::time::{Instant, SystemTime};

use etcd_console_core::etcd::poller::PollEvent;
use etcd_console_core::openshift::watch::OpenShiftEvent;
use etcd_console_core::timeline::{self, Event, Kind, Source};
use etcd_console_core::wizard;

use super::keys::Action;
use super::App;
use crate::runs::RunProgress;

/// How long a footer notice stays before it goes (it stays in the timeline).
pub const NOTICE_SECONDS: u64 = 10;

/// The timeline pane's state: where it is scrolled and what it is filtered by.
#[derive(Debug, Clone, Default)]
pub struct TimelineView {
    /// Rows scrolled past from the newest.
    pub scroll: usize,
    pub filter: String,
    pub editing_filter: bool,
    /// The filter as it is typed (its text is `filter`).
    pub filter_input: super::input::Input,
}

impl App {
    /// What the poller said: applied to the state, then what changed goes to the timeline.
    /// Returns the events added.
    pub fn take_polled(&mut self, events: Vec<PollEvent>, wall: SystemTime) -> Vec<Event> {
        let mut found = Vec::new();
        for event in events {
            found.extend(self.producer.on_poll(&event, wall));
            self.on_poll(event);
        }
        self.refresh_quotas();
        found.extend(self.producer.on_cluster(&self.cluster, wall));
        self.record(found)
    }

    /// What the OpenShift watches said: applied, recorded; the last line worth a notice comes back.
    pub fn take_openshift(&mut self, events: Vec<OpenShiftEvent>, wall: SystemTime) -> (Vec<Event>, Option<String>) {
        let mut found = Vec::new();
        let mut notice = None;
        for event in events {
            found.extend(self.producer.on_openshift(&event, wall));
            if let Some(line) = self.openshift.on_event(event) {
                notice = Some(line);
            }
        }
        self.refresh_quotas();
        (self.record(found), notice)
    }

    /// Adds events to the timeline; returns them (for `watch`, which prints them).
    pub fn record(&mut self, events: Vec<Event>) -> Vec<Event> {
        self.timeline.extend(events.iter().cloned());
        events
    }

    /// Something done here, by the kubeconfig's user.
    pub fn record_action(&mut self, what: &str, member: Option<&str>) {
        let event = timeline::action(self.wall(), &self.who, what, member);
        self.timeline.push(event);
    }

    fn wall(&self) -> SystemTime {
        self.wall_clock.unwrap_or_else(SystemTime::now)
    }

    /// A run's step or outcome, as one line of the timeline.
    pub fn record_run(&mut self, progress: &RunProgress) {
        if let Some((what, member)) = run_line(progress) {
            // A run's outcome comes with each report after it: said once.
            if self.last_run_line.as_deref() == Some(what.as_str()) {
                return;
            }
            self.record_action(&what, member.as_deref());
            self.last_run_line = Some(what);
        }
    }

    /// Called after every wake-up: a new footer notice goes to the timeline and starts its
    /// clock; an old one leaves the footer. Returns when the footer next changes by itself.
    pub fn age_notice(&mut self, now: Instant) -> Option<Instant> {
        let expiry = std::time::Duration::from_secs(NOTICE_SECONDS);
        if self.notice != self.notice_seen {
            self.notice_seen = self.notice.clone();
            self.notice_at = Some(now);
            if let Some(notice) = self.notice.clone() {
                let event = Event::new(self.wall(), Kind::Notice, Source::Console, None, notice);
                self.timeline.push(event);
            }
        }
        match (self.notice.is_some(), self.notice_at) {
            // A question waiting on a notice keeps it (q pressed once during a run).
            (true, Some(at)) if !self.quit_armed => {
                if now.saturating_duration_since(at) >= expiry {
                    self.notice = None;
                    self.notice_seen = None;
                    None
                } else {
                    Some(at + expiry)
                }
            }
            _ => None,
        }
    }

    /// The timeline rows the filter lets through, newest first.
    pub fn timeline_rows(&self) -> Vec<&Event> {
        let filter = self.timeline_view.filter.as_str();
        self.timeline.newest_first().filter(|e| e.matches(filter)).collect()
    }

    /// How the exported timeline names the cluster: as every confirmation does, and where the
    /// console looked (its endpoints or context).
    pub fn cluster_title(&self) -> String {
        format!("{} ({})", self.cluster_named(), etcd_console_core::units::safe_text(&self.context))
    }

    /// `t` and the keys while the timeline is shown; None: not a timeline key.
    pub(super) fn on_timeline_action(&mut self, action: Action) -> Option<()> {
        let rows = self.timeline_rows().len();
        let view = &mut self.timeline_view;
        match action {
            Action::SelectNext => view.scroll = (view.scroll + 1).min(rows.saturating_sub(1)),
            Action::SelectPrevious => view.scroll = view.scroll.saturating_sub(1),
            Action::SelectFirst => view.scroll = 0,
            Action::SelectLast => view.scroll = rows.saturating_sub(1),
            Action::FilterCsrs => view.editing_filter = true,
            Action::ToggleTimeline | Action::CloseOverlay => self.show_timeline = false,
            _ => return None,
        }
        Some(())
    }

    /// A key while the timeline's filter is typed, by EDIT_KEYS: Enter keeps it, Esc clears
    /// it, the others edit it.
    pub fn on_timeline_filter_key(&mut self, key: crossterm::event::KeyEvent) {
        use super::input::Typed;
        let view = &mut self.timeline_view;
        match view.filter_input.key(key) {
            Typed::Keep => view.editing_filter = false,
            Typed::Drop => {
                view.filter_input.clear();
                view.editing_filter = false;
            }
            Typed::Edited => {}
        }
        view.filter = view.filter_input.text().to_string();
        view.scroll = 0;
    }

    /// Pasted text while the timeline's filter is typed.
    pub fn on_timeline_filter_paste(&mut self, text: &str) {
        let view = &mut self.timeline_view;
        view.filter_input.paste(text);
        view.filter = view.filter_input.text().to_string();
        view.scroll = 0;
    }

    /// `T`: the Markdown of the whole timeline and a file name for it (the caller writes it).
    pub fn timeline_markdown(&self) -> (String, String) {
        let wall = self.wall();
        let stamp = humantime::format_rfc3339_seconds(wall).to_string().replace(':', "");
        let name = format!("etcd-console-timeline-{stamp}.md");
        (self.timeline.to_markdown(&self.cluster_title(), wall), name)
    }
}

/// One line for a run's progress worth keeping: each step begun, and the outcome.
fn run_line(progress: &RunProgress) -> Option<(String, Option<String>)> {
    use wizard::defrag::engine::Action as D;
    match progress {
        RunProgress::Defrag(wizard::defrag::executor::Progress::Began { action, .. }) => match action {
            D::Compact { .. } => Some(("defrag: compact the keyspace".into(), None)),
            D::MoveLeader { to_name, .. } => Some((format!("defrag: move the leadership to {to_name}"), None)),
            D::Defragment { name, .. } => Some((format!("defrag: defragment {name}"), Some(name.clone()))),
            D::Wait { duration } => {
                Some((format!("defrag: wait {} before the next member", humantime::format_duration(*duration)), None))
            }
            D::Disarm { members } => Some((format!("defrag: disarm NOSPACE on {} member(s)", members.len()), None)),
            D::Finished(outcome) => Some((format!("defrag finished: {outcome:?}"), None)),
            D::Observe | D::AwaitAnswer { .. } => None,
        },
        RunProgress::Defrag(wizard::defrag::executor::Progress::Run(run)) => {
            run.outcome().map(|o| (format!("defrag ended: {o:?}"), None))
        }
        RunProgress::Backup(wizard::backup::executor::Progress::Began(action)) => {
            use wizard::backup::Action as B;
            let what = match action {
                B::Check { .. } => "backup: check the cluster",
                B::Prepare { .. } => "backup: reach the node",
                B::RunScript { .. } => "backup: run cluster-backup.sh",
                B::Fetch { snapshot: true, .. } => "backup: fetch the snapshot",
                B::Fetch { .. } => "backup: fetch the static-pod resources",
                B::TearDown { .. } => "backup: clean up on the node",
                _ => return None,
            };
            Some((what.into(), None))
        }
        RunProgress::Backup(wizard::backup::executor::Progress::Run(run)) => {
            run.outcome().map(|o| (format!("backup ended: {o:?}"), None))
        }
        RunProgress::Encryption(wizard::encryption::executor::Progress::Began(action)) => {
            use wizard::encryption::Action as E;
            match action {
                E::Patch { from, to, .. } => {
                    Some((format!("encryption: patch APIServer cluster from {from:?} to {to:?}"), None))
                }
                E::Backup => Some(("encryption: backup first".into(), None)),
                _ => None,
            }
        }
        RunProgress::Encryption(wizard::encryption::executor::Progress::Run(run)) => {
            run.outcome().map(|o| (format!("encryption ended: {}", o.describe()), None))
        }
        RunProgress::Restore(wizard::restore::executor::Progress::Began { step, .. }) => {
            Some((format!("restore step {}: {}", step.id, step.title), step.node.clone()))
        }
        RunProgress::Restore(wizard::restore::executor::Progress::Run(run)) => {
            run.outcome().map(|o| (format!("restore: {}", o.describe()), None))
        }
        RunProgress::Member(wizard::member::executor::Progress::Began { step, .. }) => {
            Some((format!("member replacement step {}: {}", step.id, step.title), None))
        }
        RunProgress::Member(wizard::member::executor::Progress::Run(run)) => {
            run.outcome().map(|o| (format!("member replacement: {}", o.describe()), None))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant, SystemTime};

    use super::*;
    use etcd_console_core::cluster::fixtures::*;

    #[test]
    fn a_notice_goes_to_the_timeline_once_and_leaves_the_footer_after_ten_seconds() {
        let t0 = Instant::now();
        let mut app = App::new("lab".into(), 8 << 30, Duration::from_secs(2), t0);
        app.notice = Some("backup taken and verified".into());
        assert_eq!(app.age_notice(t0), Some(t0 + Duration::from_secs(NOTICE_SECONDS)));
        assert_eq!(app.age_notice(t0 + Duration::from_secs(3)), Some(t0 + Duration::from_secs(NOTICE_SECONDS)));
        assert_eq!(app.timeline.len(), 1, "recorded once");
        assert_eq!(app.timeline.newest_first().next().map(|e| e.message.as_str()), Some("backup taken and verified"));
        assert_eq!(app.age_notice(t0 + Duration::from_secs(NOTICE_SECONDS)), None);
        assert_eq!(app.notice, None, "gone from the footer");
        assert_eq!(app.timeline.len(), 1, "kept in the timeline");
        // A question (q pressed once during a run) stays until answered.
        app.notice = Some("a defrag run is going on: x stops it".into());
        app.quit_armed = true;
        app.age_notice(t0);
        app.age_notice(t0 + Duration::from_secs(60));
        assert!(app.notice.is_some());
    }

    #[test]
    fn what_the_poller_says_is_applied_and_recorded() {
        let t0 = Instant::now();
        let mut app = App::new("lab".into(), 8 << 30, Duration::from_secs(2), t0);
        let mut events = vec![PollEvent::Members { members: (0..3).map(identity).collect(), at: t0 }];
        events.extend((0..3).map(|i| PollEvent::Sample(ok_sample(i, t0, 40 << 20, 31 << 20))));
        let new = app.take_polled(events, SystemTime::now());
        assert_eq!(app.cluster.members.len(), 3);
        assert_eq!(new.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), ["leader is etcd-0 (term 4)"]);
        assert_eq!(app.timeline.len(), 1);
    }

    #[test]
    fn a_runs_step_is_recorded_with_who_and_its_outcome_once() {
        use etcd_console_core::wizard::defrag::engine::{Action as D, Outcome};
        use etcd_console_core::wizard::defrag::executor::Progress;
        let mut app = App::new("lab".into(), 8 << 30, Duration::from_secs(2), Instant::now());
        app.who = "system:admin".into();
        let began = |action| RunProgress::Defrag(Progress::Began { action, at: SystemTime::now() });
        let step = D::Defragment { id: 1, name: "master-1".into(), timeout: Duration::from_secs(30) };
        app.record_run(&began(step));
        app.record_run(&began(D::Finished(Outcome::Completed)));
        app.record_run(&began(D::Finished(Outcome::Completed)));
        let lines: Vec<String> = app.timeline.newest_first().map(|e| e.message.clone()).collect();
        assert_eq!(lines, ["system:admin: defrag finished: Completed", "system:admin: defrag: defragment master-1"]);
        assert_eq!(app.timeline.newest_first().last().and_then(|e| e.member.clone()).as_deref(), Some("master-1"));
    }

    #[test]
    fn the_timeline_scrolls_filters_and_closes() {
        let t0 = Instant::now();
        let mut app = App::new("lab".into(), 8 << 30, Duration::from_secs(2), t0);
        for i in 0..5 {
            app.record_action(&format!("step {i}"), None);
        }
        app.on_action(Action::ToggleTimeline);
        assert!(app.show_timeline);
        app.on_action(Action::SelectNext);
        app.on_action(Action::SelectNext);
        assert_eq!(app.timeline_view.scroll, 2);
        app.on_action(Action::SelectLast);
        assert_eq!(app.timeline_view.scroll, 4);
        app.on_action(Action::FilterCsrs);
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        for c in "step 3".chars() {
            app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        assert_eq!(app.timeline_rows().len(), 1);
        assert!(app.timeline_rows()[0].message.ends_with(": step 3"));
        assert!(matches!(app.on_action(Action::ExportTimeline), Some(crate::app::Effect::ExportTimeline { .. })));
        app.on_action(Action::CloseOverlay);
        assert!(!app.show_timeline);
    }
}
