//! The console's state and how messages and keys change it. No I/O here: the
//! event loop in `tui.rs` carries effects out.

pub mod keys;
pub mod openshift;

use std::time::{Duration, Instant};

use crate::cluster::{ClusterState, Discovery};
use crate::etcd::poller::PollEvent;
use crate::openshift::csr::{self, PendingCsr, Selection};
use keys::Action;

/// What the event loop must do after an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Quit,
    RefreshNow,
    Suspend,
    /// A confirmed change to the cluster, for the executor.
    Change(Change),
}

/// A change to the cluster the user confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    ApproveCsrs(Vec<String>),
    DenyCsr(String),
}

/// The one confirmation every change goes through: it names what it changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub title: String,
    pub lines: Vec<String>,
    pub change: Change,
}

/// What the lower half of the screen shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Member,
    OpenShift,
    Csrs,
}

#[derive(Debug, Clone)]
pub struct App {
    pub view: View,
    pub openshift: openshift::OpenShiftView,
    pub cluster: ClusterState,
    pub selected: usize,
    pub show_help: bool,
    /// The list of every alert with its message.
    pub show_alerts: bool,
    /// What the console is looking at: "lab" or the seed endpoints.
    pub context: String,
    /// How each member is reached when etcd was found through the cluster.
    pub reach: Vec<crate::openshift::etcd::Reach>,
    pub refresh: Duration,
    pub started: Instant,
    /// A problem worth one line at the bottom (e.g. logging unavailable).
    pub notice: Option<String>,
    /// The wall clock ages of API timestamps are counted from; None: the real one (tests fix it).
    pub wall_clock: Option<std::time::SystemTime>,
    /// --read-only: every change is refused here, before any request.
    pub read_only: bool,
    /// A change waiting for the user's yes.
    pub confirm: Option<Confirm>,
}

impl App {
    pub fn new(context: String, quota_bytes: u64, refresh: Duration, now: Instant) -> Self {
        Self {
            view: View::Member,
            openshift: openshift::OpenShiftView::new(),
            cluster: ClusterState::new(quota_bytes, now),
            selected: 0,
            show_help: false,
            show_alerts: false,
            context,
            reach: Vec::new(),
            refresh,
            started: now,
            notice: None,
            wall_clock: None,
            read_only: false,
            confirm: None,
        }
    }

    pub fn on_poll(&mut self, event: PollEvent) {
        match event {
            PollEvent::Discovering { attempt, .. } => {
                if let Some(since) = self.cluster.discovery.trying_since() {
                    let error_kept = match &self.cluster.discovery {
                        Discovery::Failed { error, retry_at, .. } => Some((error.clone(), *retry_at)),
                        _ => None,
                    };
                    self.cluster.discovery = match error_kept {
                        // Keep showing the last error while the next attempt runs.
                        Some((error, retry_at)) => Discovery::Failed { error, since, retry_at, attempt },
                        None => Discovery::Connecting { since, attempt },
                    };
                }
            }
            PollEvent::DiscoveryFailed { error, attempt, at, retry_at } => {
                let since = self.cluster.discovery.trying_since().unwrap_or(at);
                self.cluster.discovery = Discovery::Failed { error, since, retry_at, attempt };
            }
            PollEvent::Members { members, at } => {
                let selected_id = self.selected_member_id();
                self.cluster.set_members(members, at);
                self.selected = selected_id
                    .and_then(|id| self.cluster.members.iter().position(|m| m.identity.id == id))
                    .unwrap_or(0);
            }
            PollEvent::Reached { summary, reach } => {
                self.context = summary;
                self.reach = reach;
            }
            PollEvent::Sample(sample) => self.cluster.apply_sample(sample),
        }
    }

    pub fn selected_member_id(&self) -> Option<u64> {
        self.cluster.members.get(self.selected).map(|m| m.identity.id)
    }

    pub fn on_action(&mut self, action: Action) -> Option<Effect> {
        if let Some(confirm) = self.confirm.take() {
            return match action {
                Action::Confirm => Some(Effect::Change(confirm.change)),
                Action::CloseOverlay => {
                    self.notice = Some("cancelled: nothing changed".into());
                    None
                }
                Action::Quit => Some(Effect::Quit),
                _ => {
                    self.confirm = Some(confirm);
                    None
                }
            };
        }
        if self.view == View::Csrs {
            match action {
                Action::ApproveCsr => {
                    let name = self.openshift.selected_csr().map(|c| c.name.clone());
                    if let Some(name) = name {
                        self.ask_to_approve(&Selection::Named(vec![name]));
                    }
                    return None;
                }
                Action::ApproveAllValid => {
                    self.ask_to_approve(&Selection::AllValid);
                    return None;
                }
                Action::DenyCsr => {
                    self.ask_to_deny();
                    return None;
                }
                Action::FilterCsrs => {
                    self.openshift.editing_filter = true;
                    return None;
                }
                _ => {}
            }
            let last = self.openshift.visible_csrs().len().saturating_sub(1);
            let selected = &mut self.openshift.csr_selected;
            match action {
                Action::SelectPrevious => *selected = selected.saturating_sub(1),
                Action::SelectNext => *selected = (*selected + 1).min(last),
                Action::SelectFirst => *selected = 0,
                Action::SelectLast => *selected = last,
                _ => return self.on_common_action(action),
            }
            return None;
        }
        self.on_common_action(action)
    }

    /// Why no change may be made now, if so (checked before any confirmation).
    fn change_refused(&self) -> Option<String> {
        if self.read_only {
            return Some("read-only: changes are disabled (--read-only)".into());
        }
        if self.openshift.may_approve == Some(false) {
            return Some("this user may not approve or deny CSRs (SelfSubjectAccessReview says no)".into());
        }
        None
    }

    fn ask_to_approve(&mut self, selection: &Selection) {
        if let Some(why) = self.change_refused() {
            self.notice = Some(why);
            return;
        }
        let shown: Vec<PendingCsr> = self.openshift.visible_csrs().into_iter().cloned().collect();
        let plan = match csr::plan(&shown, selection, self.read_only) {
            Ok(plan) => plan,
            Err(why) => {
                self.notice = Some(why);
                return;
            }
        };
        if plan.approve.is_empty() {
            self.notice = Some(format!("nothing to approve ({} unexpected left out)", plan.refused.len()));
            return;
        }
        let mut lines: Vec<String> = plan
            .approve
            .iter()
            .take(12)
            .map(|c| format!("{}  {}  {}", c.name, c.class.as_str(), c.subject()))
            .collect();
        if plan.approve.len() > 12 {
            lines.push(format!("... and {} more", plan.approve.len() - 12));
        }
        for c in plan.approve.iter().filter(|c| !c.class.is_valid()) {
            lines.push(format!("! {} is unexpected: {}", c.name, c.reason));
        }
        if !plan.refused.is_empty() {
            lines.push(format!("left out: {} unexpected CSR(s), never approved in bulk", plan.refused.len()));
        }
        let names = plan.approve.iter().map(|c| c.name.clone()).collect();
        self.confirm = Some(Confirm {
            title: format!("Approve {} CSR(s)?", plan.approve.len()),
            lines,
            change: Change::ApproveCsrs(names),
        });
    }

    fn ask_to_deny(&mut self) {
        if let Some(why) = self.change_refused() {
            self.notice = Some(why);
            return;
        }
        let Some(c) = self.openshift.selected_csr().cloned() else { return };
        self.confirm = Some(Confirm {
            title: format!("Deny {}?", c.name),
            lines: vec![
                format!("{}  {}  {}", c.name, c.class.as_str(), c.subject()),
                format!("requestor {}", c.requestor),
            ],
            change: Change::DenyCsr(c.name),
        });
    }

    /// A key while the filter is typed: characters add, Backspace removes,
    /// Enter keeps it, Esc clears it.
    pub fn on_filter_key(&mut self, key: crossterm::event::KeyEvent) {
        use crossterm::event::KeyCode;
        let mut filter = self.openshift.filter.clone();
        match key.code {
            KeyCode::Char(c) => filter.push(c),
            KeyCode::Backspace => {
                filter.pop();
            }
            KeyCode::Enter => self.openshift.editing_filter = false,
            KeyCode::Esc => {
                filter.clear();
                self.openshift.editing_filter = false;
            }
            _ => {}
        }
        self.openshift.set_filter(filter);
    }

    fn on_common_action(&mut self, action: Action) -> Option<Effect> {
        let last = self.cluster.members.len().saturating_sub(1);
        match action {
            Action::NextView => {
                self.view = match self.view {
                    View::Member => View::OpenShift,
                    View::OpenShift => View::Csrs,
                    View::Csrs => View::Member,
                }
            }
            Action::Quit => return Some(Effect::Quit),
            Action::ToggleHelp => {
                self.show_help = !self.show_help;
                self.show_alerts = false;
            }
            Action::ToggleAlerts => {
                self.show_alerts = !self.show_alerts;
                self.show_help = false;
            }
            Action::CloseOverlay => {
                self.show_help = false;
                self.show_alerts = false;
            }
            Action::Suspend => return Some(Effect::Suspend),
            Action::SelectPrevious => self.selected = self.selected.saturating_sub(1),
            Action::SelectNext => self.selected = (self.selected + 1).min(last),
            Action::SelectFirst => self.selected = 0,
            Action::SelectLast => self.selected = last,
            Action::RefreshNow => return Some(Effect::RefreshNow),
            // CSR actions outside the CSR view, and a yes with nothing to confirm, do nothing.
            Action::ApproveCsr | Action::ApproveAllValid | Action::DenyCsr | Action::FilterCsrs | Action::Confirm => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::fixtures::*;
    use crate::openshift::csr::{CsrClass, PendingCsr};
    use crate::openshift::watch::OpenShiftEvent;

    fn csr(name: &str, class: CsrClass) -> PendingCsr {
        PendingCsr {
            name: name.into(),
            signer: "kubernetes.io/kubelet-serving".into(),
            requestor: format!("system:node:{name}"),
            class,
            reason: "test".into(),
            usages: Vec::new(),
            request: None,
            created: None,
        }
    }

    fn csr_view(t0: Instant) -> App {
        let mut app = App::new("lab".into(), 8 << 30, Duration::from_secs(2), t0);
        app.view = View::Csrs;
        let pending = vec![
            csr("csr-a", CsrClass::NodeBootstrapper),
            csr("csr-b", CsrClass::Unexpected),
            csr("csr-c", CsrClass::KubeletServing),
        ];
        app.openshift.on_event(OpenShiftEvent::Csrs { pending, at: t0 });
        app
    }

    #[test]
    fn approving_all_valid_asks_first_naming_them_and_leaves_the_unexpected_out() {
        let mut app = csr_view(Instant::now());
        assert_eq!(app.on_action(Action::ApproveAllValid), None, "nothing happens before the yes");
        let confirm = app.confirm.clone().unwrap();
        assert_eq!(confirm.title, "Approve 2 CSR(s)?");
        assert!(
            confirm.lines.iter().any(|l| l.starts_with("csr-a"))
                && confirm.lines.iter().any(|l| l.starts_with("csr-c"))
        );
        assert!(confirm.lines.iter().any(|l| l.contains("left out: 1 unexpected")));
        // Other keys do not slip past the question.
        assert_eq!(app.on_action(Action::SelectNext), None);
        assert!(app.confirm.is_some());
        let effect = app.on_action(Action::Confirm);
        assert_eq!(effect, Some(Effect::Change(Change::ApproveCsrs(vec!["csr-a".into(), "csr-c".into()]))));
        assert!(app.confirm.is_none());
        app.on_action(Action::ApproveAllValid);
        assert_eq!(app.on_action(Action::CloseOverlay), None);
        assert_eq!(app.notice.as_deref(), Some("cancelled: nothing changed"));
    }

    #[test]
    fn read_only_and_a_user_without_rights_are_refused_before_asking() {
        let mut app = csr_view(Instant::now());
        app.read_only = true;
        app.on_action(Action::ApproveCsr);
        assert!(app.confirm.is_none());
        assert!(app.notice.as_deref().unwrap_or("").contains("--read-only"));
        app.read_only = false;
        app.openshift.on_event(OpenShiftEvent::MayApprove(false));
        app.on_action(Action::DenyCsr);
        assert!(app.confirm.is_none());
        assert!(app.notice.as_deref().unwrap_or("").contains("SelfSubjectAccessReview"));
    }

    #[test]
    fn the_filter_narrows_the_list_and_an_explicit_approval_names_the_selected_csr() {
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let mut app = csr_view(Instant::now());
        app.on_action(Action::FilterCsrs);
        for c in "csr-b".chars() {
            app.on_filter_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        app.on_filter_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        assert!(!app.openshift.editing_filter);
        assert_eq!(app.openshift.visible_csrs().len(), 1);
        app.on_action(Action::ApproveCsr);
        let confirm = app.confirm.clone().unwrap();
        assert_eq!(confirm.change, Change::ApproveCsrs(vec!["csr-b".into()]));
        assert!(confirm.lines.iter().any(|l| l.starts_with("! csr-b is unexpected")), "{:?}", confirm.lines);
        app.on_action(Action::CloseOverlay);
        app.on_action(Action::FilterCsrs);
        app.on_filter_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
        assert_eq!(app.openshift.visible_csrs().len(), 3);
    }

    #[test]
    fn selection_follows_the_member_when_the_list_changes() {
        let t0 = Instant::now();
        let mut app = App::new("lab".into(), 8 << 30, Duration::from_secs(2), t0);
        app.on_poll(PollEvent::Members { members: (0..3).map(identity).collect(), at: t0 });
        app.on_action(Action::SelectNext);
        app.on_action(Action::SelectNext);
        app.on_action(Action::SelectNext);
        assert_eq!(app.selected, 2);
        app.on_poll(PollEvent::Members { members: vec![identity(2), identity(0)], at: t0 });
        assert_eq!(app.selected_member_id(), Some(member_id(2)));
        assert_eq!(app.on_action(Action::Quit), Some(Effect::Quit));
    }
}
