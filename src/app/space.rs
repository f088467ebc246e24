//! The space view (`s`): what fills etcd, read live from a follower on a task,
//! shown as it comes in; `r` reads again, `b` counts the newest verified
//! backup instead, `x` stops a reading. Reading changes nothing, so it needs no
//! confirmation and is allowed under `--read-only`.

use std::time::Instant;

use super::keys::Action;
use super::{App, Effect, Start, WizardKind};
use etcd_console_core::space::Reading;

/// What a space reading reports.
#[derive(Debug, Clone)]
pub enum SpaceProgress {
    /// The reading so far.
    SoFar(Box<Reading>),
    /// The reading, whole or partial (it says why).
    Done(Box<Reading>),
    /// No reading: no member to read, no backup to count.
    Failed(String),
}

impl SpaceProgress {
    pub fn ends_run(&self) -> bool {
        !matches!(self, SpaceProgress::SoFar(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Reading,
    Done,
    Failed,
}

#[derive(Debug, Clone)]
pub struct SpaceView {
    pub stage: Stage,
    /// The reading shown: the last one, or the one coming in.
    pub reading: Option<Reading>,
    /// The reading under way counts a backup, not the live member.
    pub from_backup: bool,
    pub failed: Option<String>,
    /// The resource selected (its namespaces are shown), by rank.
    pub selected: usize,
    pub started: Instant,
}

impl App {
    /// `s`: the space view, as it was left; new (a reading started) the first time.
    pub(super) fn open_space(&mut self) -> Option<Effect> {
        self.show_wizard(WizardKind::Space);
        if self.space.is_some() {
            return None;
        }
        self.start_space(false)
    }

    fn start_space(&mut self, from_backup: bool) -> Option<Effect> {
        let view = self.space.get_or_insert_with(|| SpaceView {
            stage: Stage::Reading,
            reading: None,
            from_backup,
            failed: None,
            selected: 0,
            started: Instant::now(),
        });
        view.stage = Stage::Reading;
        view.from_backup = from_backup;
        view.failed = None;
        view.started = Instant::now();
        Some(Effect::Start(Start::Space { from_backup }))
    }

    pub fn on_space(&mut self, progress: SpaceProgress) {
        let Some(view) = &mut self.space else { return };
        match progress {
            SpaceProgress::SoFar(reading) => view.reading = Some(*reading),
            SpaceProgress::Done(reading) => {
                view.stage = Stage::Done;
                if let Some(why) = &reading.partial {
                    self.notice = Some(format!("space reading partial: {}", etcd_console_core::units::safe_text(why)));
                }
                view.selected = view.selected.min(reading.resources.len().saturating_sub(1));
                view.reading = Some(*reading);
            }
            SpaceProgress::Failed(why) => {
                view.stage = Stage::Failed;
                view.failed = Some(why);
            }
        }
    }

    /// The space view's keys while it is open; Some(effect) when the key was the view's.
    pub(super) fn on_space_action(&mut self, action: Action) -> Option<Option<Effect>> {
        let view = self.space.as_mut()?;
        let last = view.reading.as_ref().map_or(0, |r| r.resources.len().saturating_sub(1));
        let reading = view.stage == Stage::Reading;
        match action {
            Action::RefreshNow | Action::Confirm if !reading => return Some(self.start_space(false)),
            Action::OpenBackup if !reading => return Some(self.start_space(true)),
            Action::Stop if reading => {
                self.notice = Some("stopping the space reading: what was read stays".into());
                return Some(Some(Effect::Stop(WizardKind::Space)));
            }
            Action::SelectPrevious => view.selected = view.selected.saturating_sub(1),
            Action::SelectNext => view.selected = (view.selected + 1).min(last),
            Action::SelectFirst => view.selected = 0,
            Action::SelectLast => view.selected = last,
            // `s` again shows it; it does not start another reading.
            Action::OpenSpace => {}
            Action::CloseOverlay if reading => self.hide_wizard(WizardKind::Space),
            Action::CloseOverlay => self.close_wizard(WizardKind::Space),
            // While reading, r and b wait for it to end (x stops it).
            Action::RefreshNow | Action::OpenBackup | Action::Confirm => {
                self.notice = Some("a space reading is under way: x stops it".into());
            }
            _ => return None,
        }
        Some(None)
    }
}
