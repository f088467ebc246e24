//! The console's state and how messages and keys change it. No I/O here: the
//! event loop in `tui.rs` carries effects out.

pub mod keys;
pub mod openshift;

use std::time::{Duration, Instant};

use crate::cluster::{ClusterState, Discovery};
use crate::etcd::poller::PollEvent;
use keys::Action;

/// What the event loop must do after an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Quit,
    RefreshNow,
    Suspend,
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
    pub refresh: Duration,
    pub started: Instant,
    /// A problem worth one line at the bottom (e.g. logging unavailable).
    pub notice: Option<String>,
    /// The wall clock ages of API timestamps are counted from; None: the real one (tests fix it).
    pub wall_clock: Option<std::time::SystemTime>,
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
            refresh,
            started: now,
            notice: None,
            wall_clock: None,
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
            PollEvent::Sample(sample) => self.cluster.apply_sample(sample),
        }
    }

    pub fn selected_member_id(&self) -> Option<u64> {
        self.cluster.members.get(self.selected).map(|m| m.identity.id)
    }

    pub fn on_action(&mut self, action: Action) -> Option<Effect> {
        if self.view == View::Csrs {
            let last = self.openshift.pending_csrs().len().saturating_sub(1);
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
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::fixtures::*;

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
